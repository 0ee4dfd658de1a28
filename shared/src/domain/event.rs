//! A portal event dynaBOARD posts (`POST /v1/partners/{id}/events`, docs/api.md "Events"):
//! `{id, type, occurred_at, actor, issue?, comment?, approved?}`.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use super::chat::{clean_text, shorten};
use super::messages::Color;
use super::settings::{LoginLogout, Settings};
use super::user::Role;
use super::user::{PortalUser, has_visible, parse_user, read_id};
use super::validation::{FieldError, ObjectReader, kind};

/// The longest event id, comment id or issue id (a string, or the decimal text of an integer).
pub const EVENT_ID_MAX: usize = 128;
/// The longest issue title, in characters after cleaning.
pub const TITLE_MAX: usize = 1_000;
/// The longest issue URL, in characters (trimmed).
pub const URL_MAX: usize = 2_000;
/// The longest comment excerpt, in characters as sent (before cleaning).
pub const EXCERPT_MAX: usize = 100_000;

/// What happened in the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EventType {
    #[serde(rename = "user.login")]
    UserLogin,
    #[serde(rename = "user.logout")]
    UserLogout,
    #[serde(rename = "comment.created")]
    CommentCreated,
    #[serde(rename = "issue.created")]
    IssueCreated,
    #[serde(rename = "issue.approved")]
    IssueApproved,
    #[serde(rename = "issue.disapproved")]
    IssueDisapproved,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::UserLogin,
        EventType::UserLogout,
        EventType::CommentCreated,
        EventType::IssueCreated,
        EventType::IssueApproved,
        EventType::IssueDisapproved,
    ];

    /// The wire name, e.g. `comment.created`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserLogin => "user.login",
            EventType::UserLogout => "user.logout",
            EventType::CommentCreated => "comment.created",
            EventType::IssueCreated => "issue.created",
            EventType::IssueApproved => "issue.approved",
            EventType::IssueDisapproved => "issue.disapproved",
        }
    }

    /// The type with this wire name (exact, lower case).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether an event of this type must name its issue.
    fn needs_issue(self) -> bool {
        !matches!(self, EventType::UserLogin | EventType::UserLogout)
    }

    /// Whether an event of this type must carry its comment.
    fn needs_comment(self) -> bool {
        self == EventType::CommentCreated
    }
}

/// The issue an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub id: String,
    /// Cleaned, not blank.
    pub title: String,
    /// An absolute `http(s)` URL of the issue in the portal.
    pub url: Option<String>,
}

/// The comment of a `comment.created` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comment {
    pub id: String,
    /// Cleaned; `None` when absent, null or blank.
    pub excerpt: Option<String>,
}

/// A validated event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub occurred_at: Timestamp,
    pub actor: PortalUser,
    pub issue: Option<Issue>,
    pub comment: Option<Comment>,
}

/// Reads an event body, reporting every problem at once, each naming its field.
///
/// - `id`: required, a string or an integer (kept as its decimal text); not blank, at most
///   [`EVENT_ID_MAX`] characters, no control characters;
/// - `type`: required, one of the [`EventType`] wire names;
/// - `occurred_at`: required, an RFC 3339 instant with an offset (`Z` or `±hh:mm`);
/// - `actor`: required, a portal user ([`parse_user`]);
/// - `issue`: `{id, title, url?}`, required for every type but `user.login`/`user.logout` (which
///   may carry one; it is validated then too). `id` as the event's, `title` cleaned, not blank,
///   at most [`TITLE_MAX`] characters; `url` an absolute `http(s)` URL of at most [`URL_MAX`]
///   characters without blanks or control characters, kept as sent (trimmed; blank = absent);
/// - `comment`: `{id, excerpt?}`, required for `comment.created`, accepted with any type. The
///   excerpt is at most [`EXCERPT_MAX`] characters as sent, cleaned, `None` when blank;
/// - `approved`: optional, only with `issue.approved` (then `true`) and `issue.disapproved`
///   (then `false`): it repeats what the type says.
///
/// `null` counts as absent; unknown members are errors.
pub fn parse_event(body: &Value) -> Result<Event, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(mut r) = ObjectReader::new(body, "", &mut errors) else {
        return Err(errors);
    };

    let id = read_id(&mut r, "id", EVENT_ID_MAX, &mut errors);

    let kind = r.required_str("type", &mut errors).and_then(|s| {
        let kind = EventType::from_name(s);
        if kind.is_none() {
            let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            errors.push(FieldError::new(
                "type",
                format!("must be one of {}; got {:?}", names.join(", "), shorten(s, 40)),
            ));
        }
        kind
    });

    let occurred_at = r.required_str("occurred_at", &mut errors).and_then(|s| match s.parse::<Timestamp>() {
        Ok(t) => Some(t),
        Err(_) => {
            errors.push(FieldError::new(
                "occurred_at",
                format!(
                    "must be an RFC 3339 date and time with an offset, like \"2025-03-14T09:26:53Z\" or \
                     \"2025-03-14T10:26:53+01:00\"; got {:?}",
                    shorten(s, 40)
                ),
            ));
            None
        }
    });

    let actor = match r.get("actor") {
        None => {
            errors.push(FieldError::new("actor", "is required"));
            None
        }
        Some(v) => parse_user(v, "actor", &mut errors),
    };

    let issue = match r.get("issue") {
        None => {
            if let Some(k) = kind.filter(|k| k.needs_issue()) {
                errors.push(FieldError::new("issue", format!("is required for {} events", k.as_str())));
            }
            None
        }
        Some(v) => parse_issue(v, "issue", &mut errors),
    };

    let comment = match r.get("comment") {
        None => {
            if let Some(k) = kind.filter(|k| k.needs_comment()) {
                errors.push(FieldError::new("comment", format!("is required for {} events", k.as_str())));
            }
            None
        }
        Some(v) => parse_comment(v, "comment", &mut errors),
    };

    if let Some(v) = r.get("approved") {
        check_approved(v, kind, &mut errors);
    }
    r.finish(&mut errors);

    if !errors.is_empty() {
        return Err(errors);
    }
    match (id, kind, occurred_at, actor) {
        (Some(id), Some(kind), Some(occurred_at), Some(actor)) => {
            Ok(Event { id, kind, occurred_at, actor, issue, comment })
        }
        // Every `None` above comes with an error.
        _ => Err(vec![FieldError::new("(body)", "is not a valid event")]),
    }
}

/// `{id, title, url?}` at `path`; `Some` only when it had no problem.
fn parse_issue(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Issue> {
    let before = errors.len();
    let mut r = ObjectReader::new(v, path, errors)?;
    let id = read_id(&mut r, "id", EVENT_ID_MAX, errors);
    let title = r.required_str("title", errors).and_then(|s| {
        let title = clean_text(s);
        let n = title.chars().count();
        let problem = if !has_visible(&title) {
            "must not be empty or blank".to_owned()
        } else if n > TITLE_MAX {
            format!("must be at most {TITLE_MAX} characters, got {n}")
        } else {
            return Some(title);
        };
        errors.push(FieldError::new(r.path("title"), problem));
        None
    });
    let url = match r.str("url", errors).map(str::trim) {
        None | Some("") => Some(None),
        Some(s) => match check_url(s) {
            Ok(()) => Some(Some(s.to_owned())),
            Err(m) => {
                errors.push(FieldError::new(r.path("url"), m));
                None
            }
        },
    };
    r.finish(errors);
    if errors.len() != before {
        return None;
    }
    Some(Issue { id: id?, title: title?, url: url? })
}

/// An absolute `http(s)` URL of at most [`URL_MAX`] characters, without blanks or control
/// characters (which a parser would silently drop or encode, and we keep the URL as sent).
fn check_url(s: &str) -> Result<(), String> {
    const RULE: &str = "must be an absolute http or https URL, like \"https://portal.example.com/issues/17\"";
    let n = s.chars().count();
    if n > URL_MAX {
        return Err(format!("must be at most {URL_MAX} characters, got {n}"));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{RULE}, without blanks or control characters"));
    }
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(()),
        Ok(u) => Err(format!("{RULE}; got a {}: URL", shorten(u.scheme(), 20))),
        Err(e) => Err(format!("{RULE}; got {:?} ({e})", shorten(s, 40))),
    }
}

/// `{id, excerpt?}` at `path`; `Some` only when it had no problem.
fn parse_comment(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Comment> {
    let before = errors.len();
    let mut r = ObjectReader::new(v, path, errors)?;
    let id = read_id(&mut r, "id", EVENT_ID_MAX, errors);
    let excerpt = r.str("excerpt", errors).and_then(|s| {
        let n = s.chars().count();
        if n > EXCERPT_MAX {
            errors
                .push(FieldError::new(r.path("excerpt"), format!("must be at most {EXCERPT_MAX} characters, got {n}")));
            return None;
        }
        Some(clean_text(s)).filter(|e| has_visible(e))
    });
    r.finish(errors);
    if errors.len() != before {
        return None;
    }
    Some(Comment { id: id?, excerpt })
}

/// `approved` repeats what the type says: `true` with `issue.approved`, `false` with
/// `issue.disapproved`, and is not used with other types.
fn check_approved(v: &Value, event_type: Option<EventType>, errors: &mut Vec<FieldError>) {
    let expected = match event_type {
        Some(EventType::IssueApproved) => Some(true),
        Some(EventType::IssueDisapproved) => Some(false),
        Some(_) => {
            errors.push(FieldError::new("approved", "is only used with issue.approved and issue.disapproved events"));
            return;
        }
        // The type is missing or unknown: an error of its own.
        None => None,
    };
    let message = match (v, expected.zip(event_type)) {
        (Value::Bool(b), Some((expected, t))) if *b != expected => {
            format!("must be {expected} for {} events (or left out), got {b}", t.as_str())
        }
        (Value::Bool(_), _) => return,
        (other, _) => format!("must be true or false, got {}", kind(other)),
    };
    errors.push(FieldError::new("approved", message));
}

/// Why an event was not posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// No settings are stored for the partner.
    NotConfigured,
    /// The integration is switched off.
    Inactive,
    /// The notification for this event type is switched off.
    NotificationOff,
    /// The actor is not a user the setting notifies about (only customers, or customers and
    /// partners for login/logout).
    ActorNotNotified,
}

/// Whether the settings want this event posted.
pub fn skip_reason(settings: Option<&Settings>, event: &Event) -> Option<SkipReason> {
    let Some(s) = settings else { return Some(SkipReason::NotConfigured) };
    if !s.active || s.hipchat_url.is_none() {
        return Some(SkipReason::Inactive);
    }
    let n = &s.notifications;
    let customer = event.actor.role == Role::Customer;
    let (on, actor_wanted) = match event.kind {
        EventType::UserLogin | EventType::UserLogout => match n.login_logout {
            LoginLogout::Off => (false, false),
            LoginLogout::Customers => (true, customer),
            LoginLogout::CustomersAndPartners => (true, true),
        },
        EventType::CommentCreated => (n.comment_created, customer),
        EventType::IssueCreated => (n.issue_created, customer),
        EventType::IssueApproved | EventType::IssueDisapproved => (n.issue_approval, customer),
    };
    if !on {
        Some(SkipReason::NotificationOff)
    } else if !actor_wanted {
        Some(SkipReason::ActorNotNotified)
    } else {
        None
    }
}

/// The notification's colour and whether it alerts the room: approvals green, disapprovals
/// red, logins and logouts gray and silent, the rest yellow.
pub fn style(kind: EventType) -> (Color, bool) {
    match kind {
        EventType::UserLogin | EventType::UserLogout => (Color::Gray, false),
        EventType::IssueApproved => (Color::Green, true),
        EventType::IssueDisapproved => (Color::Red, true),
        EventType::CommentCreated | EventType::IssueCreated => (Color::Yellow, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn actor() -> Value {
        json!({
            "id": 42,
            "first_name": "Jane",
            "last_name": "Doe",
            "email": "jane.doe@acme.example",
            "company": "Acme Inc.",
            "role": "customer"
        })
    }

    /// A valid body of each type, with everything its type needs.
    fn body(kind: EventType) -> Value {
        let mut v = json!({
            "id": "evt-1",
            "type": kind.as_str(),
            "occurred_at": "2025-03-14T10:26:53+01:00",
            "actor": actor(),
        });
        if kind.needs_issue() {
            v["issue"] = json!({"id": 17, "title": "Printer broken", "url": "https://portal.example.com/issues/17"});
        }
        if kind.needs_comment() {
            v["comment"] = json!({"id": "c-9", "excerpt": "It  still\nprints nothing."});
        }
        v
    }

    fn fields(body: &Value) -> Vec<String> {
        match parse_event(body) {
            Ok(e) => panic!("accepted: {e:?}"),
            Err(errors) => errors.into_iter().map(|e| e.field).collect(),
        }
    }

    fn first_error(body: &Value) -> FieldError {
        parse_event(body).unwrap_err().remove(0)
    }

    fn with(kind: EventType, pointer: &str, value: Value) -> Value {
        let mut v = body(kind);
        *v.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer}")) = value;
        v
    }

    fn without(kind: EventType, path: &[&str]) -> Value {
        let mut v = body(kind);
        let (last, parents) = path.split_last().unwrap();
        let mut obj = &mut v;
        for p in parents {
            obj = &mut obj[*p];
        }
        obj.as_object_mut().unwrap().remove(*last);
        v
    }

    #[test]
    fn wire_names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::from_name(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
        }
        assert_eq!(EventType::from_name("User.Login"), None);
        assert_eq!(EventType::from_name(""), None);
    }

    #[test]
    fn a_valid_event_of_each_type() {
        for t in EventType::ALL {
            let e = parse_event(&body(t)).unwrap_or_else(|e| panic!("{t:?}: {e:?}"));
            assert_eq!(e.kind, t);
            assert_eq!(e.id, "evt-1");
            assert_eq!(e.occurred_at, "2025-03-14T09:26:53Z".parse::<Timestamp>().unwrap());
            assert_eq!(e.actor.id, "42");
            assert_eq!(e.actor.role, Role::Customer);
            assert_eq!(e.actor.company.as_deref(), Some("Acme Inc."));
            assert_eq!(e.issue.is_some(), t.needs_issue(), "{t:?}");
            assert_eq!(e.comment.is_some(), t.needs_comment(), "{t:?}");
        }
        let e = parse_event(&body(EventType::CommentCreated)).unwrap();
        assert_eq!(
            e.issue,
            Some(Issue {
                id: "17".into(),
                title: "Printer broken".into(),
                url: Some("https://portal.example.com/issues/17".into())
            })
        );
        assert_eq!(e.comment, Some(Comment { id: "c-9".into(), excerpt: Some("It still prints nothing.".into()) }));
    }

    #[test]
    fn login_and_logout_may_carry_an_issue_and_a_comment() {
        for t in [EventType::UserLogin, EventType::UserLogout] {
            let mut v = body(t);
            v["issue"] = json!({"id": "i1", "title": "T"});
            v["comment"] = json!({"id": "c1"});
            let e = parse_event(&v).unwrap();
            assert_eq!(e.issue, Some(Issue { id: "i1".into(), title: "T".into(), url: None }));
            assert_eq!(e.comment, Some(Comment { id: "c1".into(), excerpt: None }));
            // ... which are validated all the same.
            v["issue"] = json!({"id": "i1", "title": " "});
            assert_eq!(fields(&v), ["issue.title"]);
        }
        let mut v = body(EventType::IssueCreated);
        v["comment"] = json!({"id": "c1", "excerpt": null});
        assert_eq!(parse_event(&v).unwrap().comment, Some(Comment { id: "c1".into(), excerpt: None }));
    }

    #[test]
    fn the_issue_is_required_for_issue_and_comment_events() {
        for t in EventType::ALL {
            let v = without(t, &["issue"]);
            if t.needs_issue() {
                let e = parse_event(&v).unwrap_err();
                assert_eq!(e, [FieldError::new("issue", format!("is required for {} events", t.as_str()))], "{t:?}");
                let mut v = v;
                v["issue"] = Value::Null;
                assert_eq!(fields(&v), ["issue"], "{t:?}");
            } else {
                assert!(parse_event(&v).is_ok(), "{t:?}");
            }
        }
    }

    #[test]
    fn the_comment_is_required_for_comment_created() {
        let e = parse_event(&without(EventType::CommentCreated, &["comment"])).unwrap_err();
        assert_eq!(e, [FieldError::new("comment", "is required for comment.created events")]);
        let both = without(EventType::CommentCreated, &["issue"]);
        let mut both = both;
        both.as_object_mut().unwrap().remove("comment");
        assert_eq!(fields(&both), ["issue", "comment"]);
    }

    #[test]
    fn required_top_level_members() {
        for member in ["id", "type", "occurred_at", "actor"] {
            let e = parse_event(&without(EventType::UserLogin, &[member])).unwrap_err();
            assert_eq!(e, [FieldError::new(member, "is required")], "{member}");
            assert_eq!(fields(&with(EventType::UserLogin, &format!("/{member}"), Value::Null)), [member]);
        }
        assert_eq!(fields(&json!({})), ["id", "type", "occurred_at", "actor"]);
        for member in ["id", "title"] {
            assert_eq!(fields(&without(EventType::IssueCreated, &["issue", member])), [format!("issue.{member}")]);
        }
        assert_eq!(fields(&without(EventType::CommentCreated, &["comment", "id"])), ["comment.id"]);
        // The optional members may be left out or null.
        let e = parse_event(&without(EventType::CommentCreated, &["comment", "excerpt"])).unwrap();
        assert_eq!(e.comment.unwrap().excerpt, None);
        let e = parse_event(&with(EventType::IssueCreated, "/issue/url", Value::Null)).unwrap();
        assert_eq!(e.issue.unwrap().url, None);
    }

    #[test]
    fn wrong_types_for_each_member() {
        let t = EventType::CommentCreated;
        for (pointer, field, bad) in [
            ("/id", "id", json!(1.5)),
            ("/id", "id", json!(true)),
            ("/id", "id", json!(["x"])),
            ("/type", "type", json!(1)),
            ("/occurred_at", "occurred_at", json!(1_741_944_413)),
            ("/actor", "actor", json!("jane")),
            ("/actor/email", "actor.email", json!(7)),
            ("/actor/role", "actor.role", json!("boss")),
            ("/issue", "issue", json!("17")),
            ("/issue", "issue", json!([17])),
            ("/issue/id", "issue.id", json!({"id": 1})),
            ("/issue/title", "issue.title", json!(17)),
            ("/issue/url", "issue.url", json!({"href": "https://x.example"})),
            ("/comment", "comment", json!(true)),
            ("/comment/id", "comment.id", json!(null)),
            ("/comment/id", "comment.id", json!(-0.5)),
            ("/comment/excerpt", "comment.excerpt", json!(["text"])),
        ] {
            assert_eq!(fields(&with(t, pointer, bad.clone())), [field], "{pointer} = {bad}");
        }
        let e = first_error(&with(t, "/id", json!(1.5)));
        assert_eq!(e.message, "must be a string or an integer, got 1.5");
        let e = first_error(&with(t, "/issue", json!("17")));
        assert_eq!(e.message, "must be an object, got a string");
        assert_eq!(fields(&json!([1, 2])), ["(body)"]);
        assert_eq!(fields(&json!(null)), ["(body)"]);
    }

    #[test]
    fn the_type_must_be_a_known_name() {
        for bad in ["user.signup", "USER.LOGIN", "", " user.login"] {
            let e = first_error(&with(EventType::UserLogin, "/type", json!(bad)));
            assert_eq!(e.field, "type");
            assert!(
                e.message.contains(
                    "user.login, user.logout, comment.created, issue.created, issue.approved, issue.disapproved"
                ),
                "{}",
                e.message
            );
        }
        // An unknown type does not make issue or comment required, but they are still checked.
        let mut v = without(EventType::UserLogin, &["type"]);
        v["type"] = json!("nope");
        assert_eq!(fields(&v), ["type"]);
        v["issue"] = json!({"id": "", "title": "x"});
        assert_eq!(fields(&v), ["type", "issue.id"]);
    }

    #[test]
    fn occurred_at_is_an_rfc_3339_instant_with_an_offset() {
        for (ok, utc) in [
            ("2025-03-14T09:26:53Z", "2025-03-14T09:26:53Z"),
            ("2025-03-14T09:26:53.250z", "2025-03-14T09:26:53.25Z"),
            ("2025-03-14T04:26:53-05:00", "2025-03-14T09:26:53Z"),
        ] {
            let e = parse_event(&with(EventType::UserLogin, "/occurred_at", json!(ok))).unwrap();
            assert_eq!(e.occurred_at.to_string(), utc, "{ok}");
        }
        for bad in ["2025-03-14T09:26:53", "2025-03-14", "yesterday", "", "2025-02-30T00:00:00Z", "1741944413"] {
            let e = first_error(&with(EventType::UserLogin, "/occurred_at", json!(bad)));
            assert_eq!(e.field, "occurred_at", "{bad}");
            assert!(e.message.contains("2025-03-14T09:26:53Z"), "{}", e.message);
        }
    }

    #[test]
    fn id_rules_for_event_issue_and_comment_ids() {
        let t = EventType::CommentCreated;
        for (pointer, field) in [("/id", "id"), ("/issue/id", "issue.id"), ("/comment/id", "comment.id")] {
            let get = |e: &Event| match field {
                "id" => e.id.clone(),
                "issue.id" => e.issue.as_ref().unwrap().id.clone(),
                _ => e.comment.as_ref().unwrap().id.clone(),
            };
            for (value, kept) in [
                (json!(4711), "4711".to_owned()),
                (json!(-3), "-3".to_owned()),
                (json!(u64::MAX), u64::MAX.to_string()),
                (json!(" a b "), " a b ".to_owned()),
                (json!("é".repeat(EVENT_ID_MAX)), "é".repeat(EVENT_ID_MAX)),
            ] {
                let e =
                    parse_event(&with(t, pointer, value.clone())).unwrap_or_else(|e| panic!("{field} {value}: {e:?}"));
                assert_eq!(get(&e), kept, "{field}");
            }
            for bad in [json!(""), json!("   "), json!("x".repeat(EVENT_ID_MAX + 1)), json!("a\u{0}b"), json!("a\nb")] {
                assert_eq!(fields(&with(t, pointer, bad.clone())), [field], "{field} = {bad}");
            }
            let e = first_error(&with(t, pointer, json!("x".repeat(EVENT_ID_MAX + 1))));
            assert_eq!(e.message, format!("must be at most {EVENT_ID_MAX} characters, got {}", EVENT_ID_MAX + 1));
        }
    }

    #[test]
    fn titles_are_cleaned_not_blank_and_limited() {
        let t = EventType::IssueCreated;
        let e = parse_event(&with(t, "/issue/title", json!("  Printer\t\u{200B}broken \n"))).unwrap();
        assert_eq!(e.issue.unwrap().title, "Printer broken");
        let e = parse_event(&with(t, "/issue/title", json!("<b>x</b> & y"))).unwrap();
        assert_eq!(e.issue.unwrap().title, "<b>x</b> & y");
        let e = parse_event(&with(t, "/issue/title", json!(format!(" {} ", "ä".repeat(TITLE_MAX))))).unwrap();
        assert_eq!(e.issue.unwrap().title.chars().count(), TITLE_MAX);
        for bad in [json!(""), json!(" \t"), json!("\u{200D}\u{200B}"), json!("ä".repeat(TITLE_MAX + 1))] {
            assert_eq!(fields(&with(t, "/issue/title", bad.clone())), ["issue.title"], "{bad}");
        }
    }

    #[test]
    fn urls_are_absolute_http_and_kept_as_sent() {
        let t = EventType::IssueApproved;
        for (sent, kept) in [
            (
                "https://portal.example.com/issues/17?tab=comments&x=1#c9",
                "https://portal.example.com/issues/17?tab=comments&x=1#c9",
            ),
            ("  HTTP://Portal.Example.com:8080/Issues/17  ", "HTTP://Portal.Example.com:8080/Issues/17"),
            ("https://portal.example.com/ä/%20", "https://portal.example.com/ä/%20"),
        ] {
            let e = parse_event(&with(t, "/issue/url", json!(sent))).unwrap_or_else(|e| panic!("{sent}: {e:?}"));
            assert_eq!(e.issue.unwrap().url.as_deref(), Some(kept));
        }
        for blank in ["", "  "] {
            assert_eq!(parse_event(&with(t, "/issue/url", json!(blank))).unwrap().issue.unwrap().url, None);
        }
        let long_ok = format!("https://portal.example.com/{}", "a".repeat(URL_MAX - 27));
        assert_eq!(long_ok.len(), URL_MAX);
        assert!(parse_event(&with(t, "/issue/url", json!(long_ok))).is_ok());
        for bad in [
            "javascript:alert(1)".to_owned(),
            "JavaScript://portal.example.com/%0Aalert(1)".to_owned(),
            "/issues/17".to_owned(),
            "issues/17".to_owned(),
            "//portal.example.com/issues/17".to_owned(),
            "ftp://portal.example.com/issues/17".to_owned(),
            "mailto:jane@acme.example".to_owned(),
            "data:text/html,<script>alert(1)</script>".to_owned(),
            "https://".to_owned(),
            "https://portal.example.com/is sues".to_owned(),
            "https://portal.example.com/\nissues".to_owned(),
            "https://portal.example.com/\"onmouseover=\"x".replace('"', "\u{0}"),
            format!("https://portal.example.com/{}", "a".repeat(URL_MAX - 26)),
        ] {
            assert_eq!(fields(&with(t, "/issue/url", json!(bad))), ["issue.url"], "{bad}");
        }
        let e = first_error(&with(t, "/issue/url", json!("javascript:alert(1)")));
        assert!(e.message.contains("http or https") && e.message.contains("javascript"), "{}", e.message);
    }

    #[test]
    fn excerpts_are_cleaned_optional_and_limited() {
        let t = EventType::CommentCreated;
        let excerpt = |v: Value| parse_event(&with(t, "/comment/excerpt", v)).unwrap().comment.unwrap().excerpt;
        assert_eq!(excerpt(json!(" Line one\r\n\r\nline\u{0}\ttwo\u{202E} ")).as_deref(), Some("Line one line two"));
        for blank in [json!(""), json!(" \n "), json!("\u{200B}"), json!(null)] {
            assert_eq!(excerpt(blank.clone()), None, "{blank}");
        }
        assert_eq!(excerpt(json!("x".repeat(EXCERPT_MAX))).unwrap().len(), EXCERPT_MAX);
        let e = first_error(&with(t, "/comment/excerpt", json!("x".repeat(EXCERPT_MAX + 1))));
        assert_eq!(e.field, "comment.excerpt");
        assert_eq!(e.message, format!("must be at most {EXCERPT_MAX} characters, got {}", EXCERPT_MAX + 1));
    }

    #[test]
    fn unknown_members_at_every_level() {
        let t = EventType::CommentCreated;
        let mut v = body(t);
        v["extra"] = json!(1);
        v["actor"]["phone"] = json!("+43");
        v["issue"]["status"] = json!("open");
        v["comment"]["author"] = json!("x");
        v["comment"]["body"] = json!(null);
        let e = parse_event(&v).unwrap_err();
        assert!(e.iter().all(|e| e.message == "is not a known field"), "{e:?}");
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["actor.phone", "issue.status", "comment.author", "comment.body", "extra"]);
    }

    #[test]
    fn approved_repeats_the_type() {
        let ok = |t: EventType, v: Value| parse_event(&with_approved(t, v)).is_ok();
        fn with_approved(t: EventType, v: Value) -> Value {
            let mut b = body(t);
            b["approved"] = v;
            b
        }
        assert!(ok(EventType::IssueApproved, json!(true)));
        assert!(ok(EventType::IssueDisapproved, json!(false)));
        for t in EventType::ALL {
            assert!(ok(t, Value::Null), "{t:?}");
        }
        let e = parse_event(&with_approved(EventType::IssueApproved, json!(false))).unwrap_err();
        assert_eq!(e, [FieldError::new("approved", "must be true for issue.approved events (or left out), got false")]);
        let e = parse_event(&with_approved(EventType::IssueDisapproved, json!(true))).unwrap_err();
        assert_eq!(e[0].field, "approved");
        assert!(e[0].message.contains("must be false"), "{}", e[0].message);
        for t in [EventType::UserLogin, EventType::UserLogout, EventType::CommentCreated, EventType::IssueCreated] {
            for v in [json!(true), json!(false), json!("yes")] {
                let e = parse_event(&with_approved(t, v)).unwrap_err();
                assert_eq!(
                    e,
                    [FieldError::new("approved", "is only used with issue.approved and issue.disapproved events")],
                    "{t:?}"
                );
            }
        }
        for v in [json!("true"), json!(1), json!({})] {
            let e = parse_event(&with_approved(EventType::IssueApproved, v)).unwrap_err();
            assert_eq!(e[0].field, "approved");
            assert!(e[0].message.starts_with("must be true or false"), "{}", e[0].message);
        }
    }

    #[test]
    fn several_errors_are_reported_together() {
        let v = json!({
            "id": "",
            "type": "issue.approved",
            "occurred_at": "now",
            "actor": {"id": 1, "first_name": "J", "email": "nope", "role": "customer"},
            "issue": {"id": 17, "title": " ", "url": "javascript:alert(1)", "x": 1},
            "comment": {"excerpt": 5},
            "approved": false,
            "zz": true
        });
        assert_eq!(
            fields(&v),
            [
                "id",
                "occurred_at",
                "actor.email",
                "issue.title",
                "issue.url",
                "issue.x",
                "comment.id",
                "comment.excerpt",
                "approved",
                "zz"
            ]
        );
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
            prop::sample::select(vec!["issue.approved", "comment.created", "user.login", "2025-03-14T09:26:53Z"])
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            let key = prop::sample::select(vec![
                "id",
                "type",
                "occurred_at",
                "actor",
                "issue",
                "comment",
                "approved",
                "title",
                "url",
                "excerpt",
                "email",
                "role",
                "other",
            ]);
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key, inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn never_panics_on_arbitrary_json(v in arbitrary_json()) {
            match parse_event(&v) {
                Ok(e) => prop_assert!(!e.id.is_empty()),
                Err(errors) => prop_assert!(!errors.is_empty()),
            }
        }

        #[test]
        fn never_panics_when_one_member_of_a_valid_event_is_replaced(
            kind in prop::sample::select(EventType::ALL.to_vec()),
            pointer in prop::sample::select(vec![
                "/id", "/type", "/occurred_at", "/actor", "/actor/id", "/issue", "/issue/id", "/issue/title",
                "/issue/url", "/comment", "/comment/excerpt",
            ]),
            value in arbitrary_json(),
        ) {
            let mut v = body(EventType::CommentCreated);
            v["type"] = json!(kind.as_str());
            *v.pointer_mut(pointer).unwrap() = value;
            if let Err(errors) = parse_event(&v) {
                prop_assert!(!errors.is_empty());
                for e in errors {
                    prop_assert!(!e.field.is_empty() && !e.message.is_empty());
                }
            }
        }
    }
}

#[cfg(test)]
mod rule_tests {
    use super::*;
    use crate::domain::settings::LoginLogout;
    use serde_json::json;

    fn event(kind: &str, role: &str) -> Event {
        parse_event(&json!({
            "id": "e1",
            "type": kind,
            "occurred_at": "2026-11-25T10:00:00Z",
            "actor": {"id": "u1", "first_name": "Jane", "last_name": "Doe", "email": "jane@acme.example", "role": role},
            "issue": {"id": 17, "title": "Printer broken"},
            "comment": {"id": "c1", "excerpt": "It smokes."}
        }))
        .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn stored(f: impl FnOnce(&mut Settings)) -> Settings {
        let mut s = Settings::inactive();
        s.active = true;
        s.hipchat_url = Some("https://hipchat.example.com".into());
        s.notifications.login_logout = LoginLogout::CustomersAndPartners;
        s.notifications.comment_created = true;
        s.notifications.issue_created = true;
        s.notifications.issue_approval = true;
        f(&mut s);
        s
    }

    const TYPES: [&str; 6] =
        ["user.login", "user.logout", "comment.created", "issue.created", "issue.approved", "issue.disapproved"];

    #[test]
    fn everything_on_lets_customer_events_through() {
        for t in TYPES {
            assert_eq!(skip_reason(Some(&stored(|_| {})), &event(t, "customer")), None, "{t}");
        }
    }

    #[test]
    fn no_settings_or_inactive_skips_everything() {
        for t in TYPES {
            let e = event(t, "customer");
            assert_eq!(skip_reason(None, &e), Some(SkipReason::NotConfigured));
            assert_eq!(skip_reason(Some(&stored(|s| s.active = false)), &e), Some(SkipReason::Inactive));
            assert_eq!(skip_reason(Some(&stored(|s| s.hipchat_url = None)), &e), Some(SkipReason::Inactive));
        }
    }

    #[test]
    fn each_switch_turns_its_events_off() {
        let off = |t: &str, f: fn(&mut Settings)| skip_reason(Some(&stored(f)), &event(t, "customer"));
        for t in ["user.login", "user.logout"] {
            assert_eq!(off(t, |s| s.notifications.login_logout = LoginLogout::Off), Some(SkipReason::NotificationOff));
            assert_eq!(off(t, |s| s.notifications.comment_created = false), None);
        }
        assert_eq!(
            off("comment.created", |s| s.notifications.comment_created = false),
            Some(SkipReason::NotificationOff)
        );
        assert_eq!(off("issue.created", |s| s.notifications.issue_created = false), Some(SkipReason::NotificationOff));
        for t in ["issue.approved", "issue.disapproved"] {
            assert_eq!(off(t, |s| s.notifications.issue_approval = false), Some(SkipReason::NotificationOff));
            assert_eq!(off(t, |s| s.notifications.issue_created = false), None);
        }
    }

    #[test]
    fn login_logout_for_customers_only_skips_partners_and_admins() {
        let only_customers = stored(|s| s.notifications.login_logout = LoginLogout::Customers);
        for t in ["user.login", "user.logout"] {
            assert_eq!(skip_reason(Some(&only_customers), &event(t, "customer")), None);
            for role in ["partner", "admin"] {
                assert_eq!(skip_reason(Some(&only_customers), &event(t, role)), Some(SkipReason::ActorNotNotified));
                assert_eq!(skip_reason(Some(&stored(|_| {})), &event(t, role)), None, "customers_and_partners");
            }
        }
    }

    #[test]
    fn comment_issue_and_approval_events_notify_about_customers_only() {
        for t in ["comment.created", "issue.created", "issue.approved", "issue.disapproved"] {
            for role in ["partner", "admin"] {
                assert_eq!(skip_reason(Some(&stored(|_| {})), &event(t, role)), Some(SkipReason::ActorNotNotified));
            }
        }
    }

    #[test]
    fn colours_and_alerts() {
        assert_eq!(style(EventType::UserLogin), (Color::Gray, false));
        assert_eq!(style(EventType::UserLogout), (Color::Gray, false));
        assert_eq!(style(EventType::IssueApproved), (Color::Green, true));
        assert_eq!(style(EventType::IssueDisapproved), (Color::Red, true));
        assert_eq!(style(EventType::CommentCreated), (Color::Yellow, true));
        assert_eq!(style(EventType::IssueCreated), (Color::Yellow, true));
    }
}
