//! The portal user dynaBOARD sends with a chat request (`{"user": {...}}`) and as the actor
//! of an event (`{"actor": {...}}`), docs/api.md "Chat requests":
//! `{"id", "first_name", "last_name", "email", "company"?, "role"}`.
//!
//! Names and the company are stored cleaned ([`clean_text`]: trimmed, control and invisible
//! format characters removed, blanks collapsed); the id and the email are kept exactly as sent
//! (they identify the user), and refused when they carry blanks or control characters where
//! they cannot belong. Every problem is reported at once, each naming its field path.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::chat::clean_text;
use super::validation::{FieldError, ObjectReader, kind};

/// The longest user id (string or the decimal text of a number), in characters.
pub const ID_MAX: usize = 128;
/// The longest first name, last name or company, in characters after cleaning.
pub const NAME_MAX: usize = 200;
/// The longest email address, in characters (RFC 5321's path limit).
pub const EMAIL_MAX: usize = 254;

/// What a portal user is to the partner: a customer (stakeholder) of the partner, a user of
/// the partner itself, or an administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A customer / stakeholder user of the partner's portal.
    Customer,
    /// A user of the partner (the dynaBOARD tenant).
    Partner,
    /// An administrator.
    Admin,
}

impl Role {
    /// Every role, in the order error messages list them.
    pub const ALL: [Role; 3] = [Role::Customer, Role::Partner, Role::Admin];

    /// The role's wire name: `customer`, `partner` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Partner => "partner",
            Role::Admin => "admin",
        }
    }

    /// The role with this wire name (exact, lower case).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A validated portal user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortalUser {
    /// The portal's id for the user, as sent (a JSON number is kept as its decimal text).
    pub id: String,
    /// Cleaned; may be empty only when `last_name` is not.
    pub first_name: String,
    /// Cleaned; may be empty (absent in the request) when `first_name` is not.
    pub last_name: String,
    /// As sent: one `@`, no blanks or control characters, at most [`EMAIL_MAX`] characters.
    pub email: String,
    /// Cleaned; `None` when absent, `null` or blank.
    pub company: Option<String>,
    /// What the user is to the partner.
    pub role: Role,
}

/// Reads `{"id","first_name","last_name","email","company"?,"role"}` at `path` (e.g. "user" or
/// "actor"), recording a [`FieldError`] for every problem (field paths like "user.email").
/// `Some` only when the object had no problem at all.
pub fn parse_user(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<PortalUser> {
    let before = errors.len();
    let mut r = ObjectReader::new(v, path, errors)?;

    let id = read_id(&mut r, "id", ID_MAX, errors);

    let first_name = r.required_str("first_name", errors).and_then(|s| cleaned(s, &r.path("first_name"), errors));
    let last_name = match r.get("last_name") {
        None => Some(String::new()),
        Some(_) => r.str("last_name", errors).and_then(|s| cleaned(s, &r.path("last_name"), errors)),
    };
    if let (Some(first), Some(last)) = (&first_name, &last_name)
        && !has_visible(first)
        && !has_visible(last)
    {
        errors.push(FieldError::new(
            r.path("first_name"),
            "must not be blank when last_name is blank: the user needs a name",
        ));
    }

    let email = r
        .required_str("email", errors)
        .and_then(|s| check(errors, r.path("email"), check_email(s)).then(|| s.to_owned()));

    let company = match r.str("company", errors) {
        None => Some(None),
        Some(s) => cleaned(s, &r.path("company"), errors).map(|c| (!c.is_empty()).then_some(c)),
    };

    let role = r.required_str("role", errors).and_then(|s| {
        let role = Role::from_name(s);
        if role.is_none() {
            let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
            errors.push(FieldError::new(
                r.path("role"),
                format!("must be one of {}; got {:?}", names.join(", "), shorten_for_message(s)),
            ));
        }
        role
    });
    r.finish(errors);

    if errors.len() != before {
        return None;
    }
    Some(PortalUser {
        id: id?,
        first_name: first_name?,
        last_name: last_name?,
        email: email?,
        company: company?,
        role: role?,
    })
}

/// Records `result`'s error at `field`; whether it was fine.
fn check(errors: &mut Vec<FieldError>, field: String, result: Result<(), String>) -> bool {
    match result {
        Ok(()) => true,
        Err(m) => {
            errors.push(FieldError::new(field, m));
            false
        }
    }
}

/// A name or company cleaned and checked against [`NAME_MAX`]; one with nothing visible
/// (only blanks or joiners) becomes empty.
fn cleaned(s: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let c = clean_text(s);
    if !has_visible(&c) {
        return Some(String::new());
    }
    let n = c.chars().count();
    if n > NAME_MAX {
        errors.push(FieldError::new(field, format!("must be at most {NAME_MAX} characters, got {n}")));
        return None;
    }
    Some(c)
}

/// Whether a cleaned text shows something: a character that is neither a blank nor one of the
/// invisible joiners and selectors [`clean_text`] keeps (they matter only next to letters or
/// emoji).
pub(crate) fn has_visible(s: &str) -> bool {
    s.chars().any(|c| {
        !c.is_whitespace()
            && !matches!(c, '\u{200C}' | '\u{200D}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0000}'..='\u{E007F}')
    })
}

/// Reads a required id member (a user's, an event's, an issue's, ...): a string kept exactly as
/// sent (not empty or blank, at most `max` characters, no control characters), or an integer
/// kept as its decimal text. `None`, with an error at the member's path, when it is absent,
/// null, of another type (a fraction too) or breaks a rule.
pub(crate) fn read_id(
    r: &mut ObjectReader<'_>,
    member: &'static str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match r.get(member) {
        None => {
            errors.push(FieldError::new(r.path(member), "is required"));
            None
        }
        Some(Value::String(s)) => check(errors, r.path(member), check_id(s, max)).then(|| s.clone()),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        Some(other) => {
            let got = match other {
                Value::Number(n) => n.to_string(),
                other => kind(other).to_owned(),
            };
            errors.push(FieldError::new(r.path(member), format!("must be a string or an integer, got {got}")));
            None
        }
    }
}

fn check_id(s: &str, max: usize) -> Result<(), String> {
    let n = s.chars().count();
    if s.trim().is_empty() {
        return Err("must not be empty or blank".into());
    }
    if n > max {
        return Err(format!("must be at most {max} characters, got {n}"));
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

fn check_email(s: &str) -> Result<(), String> {
    let n = s.chars().count();
    if n > EMAIL_MAX {
        return Err(format!("must be at most {EMAIL_MAX} characters, got {n}"));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain blanks or control characters".into());
    }
    match s.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@') => Ok(()),
        _ => Err("must be an email address like name@example.com (one @ with text on both sides)".into()),
    }
}

/// A client's value quoted in an error message, cut so that a huge value does not come back whole.
fn shorten_for_message(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX { s.to_owned() } else { s.chars().take(MAX).chain(['…']).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn customer() -> Value {
        json!({
            "id": "u-17",
            "first_name": "Jane",
            "last_name": "Doe",
            "email": "jane.doe@acme.example",
            "company": "Acme Inc.",
            "role": "customer"
        })
    }

    fn parse(v: &Value) -> Result<PortalUser, Vec<FieldError>> {
        let mut errors = Vec::new();
        match parse_user(v, "user", &mut errors) {
            Some(u) if errors.is_empty() => Ok(u),
            Some(u) => panic!("a user {u:?} and errors {errors:?}"),
            None => {
                assert!(!errors.is_empty(), "None without an error");
                Err(errors)
            }
        }
    }

    /// The fields named by the errors for `customer()` with `member` set to `value`.
    fn errors_with(member: &str, value: Value) -> Vec<String> {
        let mut doc = customer();
        doc[member] = value;
        match parse(&doc) {
            Ok(u) => panic!("{member} accepted: {u:?}"),
            Err(errs) => errs.into_iter().map(|e| e.field).collect(),
        }
    }

    fn accepted_with(member: &str, value: Value) -> PortalUser {
        let mut doc = customer();
        doc[member] = value;
        parse(&doc).unwrap_or_else(|e| panic!("{member}: {e:?}"))
    }

    #[test]
    fn a_valid_customer() {
        let u = parse(&customer()).unwrap();
        assert_eq!(
            u,
            PortalUser {
                id: "u-17".into(),
                first_name: "Jane".into(),
                last_name: "Doe".into(),
                email: "jane.doe@acme.example".into(),
                company: Some("Acme Inc.".into()),
                role: Role::Customer,
            }
        );
    }

    #[test]
    fn a_valid_partner_and_admin_without_company() {
        let p = parse(&json!({"id": "p1", "first_name": "Pat", "last_name": "Lee", "email": "pat@partner.example", "role": "partner"}))
            .unwrap();
        assert_eq!((p.role, p.company), (Role::Partner, None));
        let a = parse(&json!({"id": "a1", "first_name": "Ada", "last_name": "", "email": "ada@x.example", "company": null, "role": "admin"}))
            .unwrap();
        assert_eq!((a.role, a.company, a.last_name.as_str()), (Role::Admin, None, ""));
        assert_eq!(serde_json::to_value(Role::Admin).unwrap(), json!("admin"));
    }

    #[test]
    fn a_numeric_id_keeps_its_decimal_text() {
        assert_eq!(accepted_with("id", json!(4711)).id, "4711");
        assert_eq!(accepted_with("id", json!(-3)).id, "-3");
        assert_eq!(accepted_with("id", json!(u64::MAX)).id, u64::MAX.to_string());
        assert_eq!(accepted_with("id", json!("x".repeat(ID_MAX))).id.len(), ID_MAX);
    }

    #[test]
    fn id_errors() {
        for bad in [
            json!(""),
            json!("  "),
            json!("x".repeat(ID_MAX + 1)),
            json!("a\u{0}b"),
            json!(1.5),
            json!(true),
            json!(null),
        ] {
            assert_eq!(errors_with("id", bad.clone()), ["user.id"], "{bad}");
        }
        let mut doc = customer();
        doc.as_object_mut().unwrap().remove("id");
        assert_eq!(parse(&doc).unwrap_err()[0], FieldError::new("user.id", "is required"));
    }

    #[test]
    fn names_are_cleaned_and_limited() {
        let u = accepted_with("first_name", json!("  Mary \t Ann\u{200B} "));
        assert_eq!(u.first_name, "Mary Ann");
        assert_eq!(accepted_with("first_name", json!("ä".repeat(NAME_MAX))).first_name.chars().count(), NAME_MAX);
        assert_eq!(errors_with("first_name", json!("ä".repeat(NAME_MAX + 1))), ["user.first_name"]);
        assert_eq!(errors_with("first_name", json!(null)), ["user.first_name"]);
        assert_eq!(errors_with("first_name", json!(7)), ["user.first_name"]);
        assert_eq!(errors_with("last_name", json!("x".repeat(NAME_MAX + 1))), ["user.last_name"]);
        assert_eq!(errors_with("last_name", json!(["Doe"])), ["user.last_name"]);
        // HTML characters are names like any other here; escaping is the renderer's job.
        assert_eq!(accepted_with("last_name", json!("<b>Doe</b> & Co")).last_name, "<b>Doe</b> & Co");
    }

    #[test]
    fn one_name_may_be_empty_or_absent() {
        assert_eq!(accepted_with("last_name", json!("")).last_name, "");
        assert_eq!(accepted_with("last_name", json!(null)).last_name, "");
        let mut doc = customer();
        doc.as_object_mut().unwrap().remove("last_name");
        assert_eq!(parse(&doc).unwrap().last_name, "");
        let u = accepted_with("first_name", json!(" "));
        assert_eq!((u.first_name.as_str(), u.last_name.as_str()), ("", "Doe"));
        assert_eq!(accepted_with("first_name", json!("\u{200D}")).first_name, "");
    }

    #[test]
    fn both_names_blank_is_an_error_on_first_name() {
        let mut doc = customer();
        doc["first_name"] = json!(" \u{200B}\t");
        doc["last_name"] = json!("\u{200D}");
        let e = parse(&doc).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].field, "user.first_name");
        assert!(e[0].message.contains("blank"), "{}", e[0].message);
        doc.as_object_mut().unwrap().remove("last_name");
        assert_eq!(parse(&doc).unwrap_err()[0].field, "user.first_name");
    }

    #[test]
    fn email_errors() {
        assert_eq!(
            accepted_with("email", json!("O'Brien+chat@mail.example.co.uk")).email,
            "O'Brien+chat@mail.example.co.uk"
        );
        let long_ok = format!("{}@example.com", "a".repeat(EMAIL_MAX - 12));
        assert_eq!(accepted_with("email", json!(long_ok)).email.len(), EMAIL_MAX);
        for bad in [
            json!("jane.example.com"),
            json!("@example.com"),
            json!("jane@"),
            json!("jane@x@example.com"),
            json!(" jane@example.com"),
            json!("jane doe@example.com"),
            json!("jane@exa\u{7}mple.com"),
            json!(format!("{}@example.com", "a".repeat(EMAIL_MAX - 11))),
            json!(""),
            json!(null),
            json!(42),
        ] {
            assert_eq!(errors_with("email", bad.clone()), ["user.email"], "{bad}");
        }
    }

    #[test]
    fn company_is_optional_and_cleaned() {
        assert_eq!(accepted_with("company", json!("")).company, None);
        assert_eq!(accepted_with("company", json!("  ")).company, None);
        assert_eq!(accepted_with("company", json!("\u{200D}\u{FE0F}")).company, None);
        assert_eq!(accepted_with("company", json!(null)).company, None);
        assert_eq!(accepted_with("company", json!(" Acme\n GmbH ")).company.as_deref(), Some("Acme GmbH"));
        assert_eq!(errors_with("company", json!("c".repeat(NAME_MAX + 1))), ["user.company"]);
        assert_eq!(errors_with("company", json!(false)), ["user.company"]);
    }

    #[test]
    fn role_errors_list_the_roles() {
        for bad in [json!("Customer"), json!("staff"), json!(""), json!(1), json!(null)] {
            assert_eq!(errors_with("role", bad.clone()), ["user.role"], "{bad}");
        }
        let mut doc = customer();
        doc["role"] = json!("staff");
        let e = parse(&doc).unwrap_err();
        assert!(e[0].message.contains("customer, partner, admin"), "{}", e[0].message);
    }

    #[test]
    fn unknown_members_are_rejected() {
        let mut doc = customer();
        doc["phone"] = json!("+43 1 234");
        assert_eq!(parse(&doc).unwrap_err(), [FieldError::new("user.phone", "is not a known field")]);
        let mut errors = Vec::new();
        assert_eq!(parse_user(&json!("jane"), "actor", &mut errors), None);
        assert_eq!(errors[0].field, "actor");
    }

    #[test]
    fn all_errors_are_reported_at_once() {
        let doc =
            json!({"id": "", "first_name": 3, "last_name": [], "email": "nope", "company": {}, "role": "boss", "x": 1});
        let mut errors = Vec::new();
        assert_eq!(parse_user(&doc, "actor", &mut errors), None);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "actor.id",
                "actor.first_name",
                "actor.last_name",
                "actor.email",
                "actor.company",
                "actor.role",
                "actor.x"
            ]
        );
        let mut errors = Vec::new();
        assert_eq!(parse_user(&json!({}), "user", &mut errors), None);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["user.id", "user.first_name", "user.email", "user.role"]);
    }

    #[test]
    fn errors_already_recorded_elsewhere_do_not_hide_a_valid_user() {
        let mut errors = vec![FieldError::new("type", "is required")];
        assert!(parse_user(&customer(), "actor", &mut errors).is_some());
        assert_eq!(errors.len(), 1);
    }
}
