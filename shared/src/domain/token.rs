//! The HipChat personal token: hygiene on entry and expiry arithmetic.
//!
//! HipChat personal tokens expire one year after they were made. We store the token in
//! Secrets Manager and keep only metadata beside the settings ([`TokenMeta`]).

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::validation::{FieldError, ObjectReader, Warning};

/// Within this many days of `expires_on` the status is `expiring`.
pub const EXPIRING_WITHIN_DAYS: i64 = 30;
pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 256;

/// A token as accepted from `PUT /token`.
pub struct TokenInput {
    pub token: SecretString,
    pub issued_on: Date,
}

impl std::fmt::Debug for TokenInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenInput").field("token", &"[REDACTED]").field("issued_on", &self.issued_on).finish()
    }
}

/// What we keep about a token beside the settings (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenMeta {
    pub last4: String,
    pub issued_on: Date,
    pub expires_on: Date,
    /// Set when HipChat answered 401 for this token; cleared when a new token is stored.
    #[serde(default)]
    pub rejected: bool,
    /// Where the token itself is stored (the Secrets Manager secret name), for operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// When HipChat last confirmed or rejected this token (connection check, health probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<Timestamp>,
    /// Required scopes the token lacked at `checked_at`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_scopes: Vec<String>,
}

/// What a check against HipChat found out about the stored token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCheck {
    pub rejected: bool,
    pub missing_scopes: Vec<String>,
    pub checked_at: Timestamp,
}

/// `ok`, `expiring` (within 30 days), `expired`, or `rejected` by HipChat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Ok,
    Expiring,
    Expired,
    Rejected,
}

/// The `token` member of `GET /settings` and the body of `PUT /token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenView {
    pub configured: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_on: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TokenStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_scopes: Vec<String>,
}

/// The day of `now` as token dates count it: calendar dates in UTC.
pub fn today(now: Timestamp) -> Date {
    now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date()
}

/// One year after `issued_on` (29 February maps to 28 February).
pub fn expires_on(issued_on: Date) -> Date {
    issued_on.checked_add(1.year()).unwrap_or(Date::MAX)
}

impl TokenMeta {
    pub fn new(token: &SecretString, issued_on: Date) -> Self {
        let t = token.expose_secret();
        let skip = t.chars().count().saturating_sub(4);
        Self {
            last4: t.chars().skip(skip).collect(),
            issued_on,
            expires_on: expires_on(issued_on),
            rejected: false,
            secret_name: None,
            checked_at: None,
            missing_scopes: Vec::new(),
        }
    }

    pub fn with_secret_name(self, name: impl Into<String>) -> Self {
        Self { secret_name: Some(name.into()), ..self }
    }

    /// The same token (a check result applies only to the token that was checked).
    pub fn same_token(&self, other: &TokenMeta) -> bool {
        self.last4 == other.last4 && self.issued_on == other.issued_on
    }

    pub fn with_check(self, check: &TokenCheck) -> Self {
        Self {
            rejected: check.rejected,
            missing_scopes: check.missing_scopes.clone(),
            checked_at: Some(check.checked_at),
            ..self
        }
    }

    /// Whole days from `today` until `expires_on` (0 on the day it expires, negative after).
    pub fn days_left(&self, today: Date) -> i64 {
        i64::from(self.expires_on.since(today).map(|s| s.get_days()).unwrap_or(0))
    }

    pub fn status(&self, today: Date) -> TokenStatus {
        let days = self.days_left(today);
        if self.rejected {
            TokenStatus::Rejected
        } else if days <= 0 {
            TokenStatus::Expired
        } else if days <= EXPIRING_WITHIN_DAYS {
            TokenStatus::Expiring
        } else {
            TokenStatus::Ok
        }
    }

    pub fn view(&self, today: Date) -> TokenView {
        TokenView {
            configured: true,
            last4: Some(self.last4.clone()),
            issued_on: Some(self.issued_on),
            expires_on: Some(self.expires_on),
            days_left: Some(self.days_left(today)),
            status: Some(self.status(today)),
            checked_at: self.checked_at,
            missing_scopes: self.missing_scopes.clone(),
        }
    }
}

impl TokenView {
    pub fn not_configured() -> Self {
        Self {
            configured: false,
            last4: None,
            issued_on: None,
            expires_on: None,
            days_left: None,
            status: None,
            checked_at: None,
            missing_scopes: Vec::new(),
        }
    }

    pub fn of(meta: Option<&TokenMeta>, today: Date) -> Self {
        meta.map_or_else(Self::not_configured, |m| m.view(today))
    }
}

/// Characters a copy from a web page may add around a token that `trim` does not remove.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
}

/// Checks a pasted token: blanks (and invisible characters) around it are trimmed, with a
/// warning; anything inside other than printable ASCII (HipChat tokens are letters and
/// digits), or a length outside 8–256, is refused.
pub fn clean_token(raw: &str) -> Result<(SecretString, Vec<Warning>), String> {
    let trimmed = raw.trim_matches(|c: char| c.is_whitespace() || is_invisible(c));
    let mut warnings = Vec::new();
    if trimmed.len() != raw.len() {
        warnings.push(Warning::new("token", "blanks around the token were removed"));
    }
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed.chars().any(|c| c.is_whitespace() || c.is_control() || is_invisible(c)) {
        return Err(
            "must not contain blanks or control characters; copy the token key again from HipChat (API access)".into(),
        );
    }
    if !trimmed.chars().all(|c| c.is_ascii_graphic()) {
        return Err(
            "may contain only ASCII letters, digits and punctuation; copy the token key again from HipChat".into()
        );
    }
    let n = trimmed.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&n) {
        return Err(format!("must be {MIN_LEN} to {MAX_LEN} characters long, got {n}"));
    }
    Ok((SecretString::from(trimmed.to_owned()), warnings))
}

/// Parses the `PUT /token` body `{"token": "...", "issued_on": "YYYY-MM-DD"?}`.
///
/// `issued_on` defaults to `today` (UTC); a date more than one day after `today` is refused
/// (one day of slack for partners east of UTC), a date more than a year ago is accepted (the
/// token is then `expired`) with a warning.
pub fn parse_token_request(
    body: &serde_json::Value,
    today: Date,
) -> Result<(TokenInput, Vec<Warning>), Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(mut r) = ObjectReader::new(body, "", &mut errors) else {
        return Err(errors);
    };
    let token = match r.required_str("token", &mut errors) {
        None => None,
        Some(raw) => match clean_token(raw) {
            Ok(ok) => Some(ok),
            Err(msg) => {
                errors.push(FieldError::new("token", msg));
                None
            }
        },
    };
    let issued_on = match r.str("issued_on", &mut errors) {
        None => Some(today),
        Some(s) => match parse_date(s) {
            Some(d) if d > today.tomorrow().unwrap_or(Date::MAX) => {
                errors.push(FieldError::new("issued_on", format!("must not be in the future (today is {today})")));
                None
            }
            Some(d) => Some(d),
            None => {
                errors.push(FieldError::new("issued_on", "must be a date YYYY-MM-DD"));
                None
            }
        },
    };
    r.finish(&mut errors);
    match (token, issued_on) {
        (Some((token, mut warnings)), Some(issued_on)) if errors.is_empty() => {
            if expires_on(issued_on) <= today {
                warnings.push(Warning::new(
                    "issued_on",
                    "a token issued on this date has already expired; create a new token in HipChat",
                ));
            }
            Ok((TokenInput { token, issued_on }, warnings))
        }
        _ => Err(errors),
    }
}

/// A strict ISO calendar date `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    s.parse::<Date>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use serde_json::json;

    const TODAY: Date = date(2026, 11, 25);

    #[test]
    fn trims_blanks_around_the_token_and_says_so() {
        let (t, w) = clean_token("  abcdef0123456789\t\n").unwrap();
        assert_eq!(t.expose_secret(), "abcdef0123456789");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].field, "token");
        let (_, w) = clean_token("abcdef0123456789").unwrap();
        assert!(w.is_empty());
        let (t, w) = clean_token("\u{feff}abcdef0123456789\u{200b} ").unwrap();
        assert_eq!(t.expose_secret(), "abcdef0123456789");
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn refuses_blanks_and_control_characters_inside() {
        for bad in [
            "abcd efgh1234",
            "abcd\u{7}efgh1234",
            "abcd\tefgh1234",
            "abcd\u{a0}efgh1234",
            "",
            "   ",
            "short",
            &"x".repeat(257),
        ] {
            assert!(clean_token(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let (input, _) = parse_token_request(&json!({"token": "VerySecretToken123"}), TODAY).unwrap();
        let printed = format!("{input:?}");
        assert!(!printed.contains("VerySecretToken123"), "{printed}");
    }

    #[test]
    fn issued_on_defaults_to_today_and_expires_a_year_later() {
        let (input, w) = parse_token_request(&json!({"token": "abcdefgh12345678"}), TODAY).unwrap();
        assert!(w.is_empty());
        assert_eq!(input.issued_on, TODAY);
        let meta = TokenMeta::new(&input.token, input.issued_on);
        assert_eq!(meta.last4, "5678");
        assert_eq!(meta.expires_on, date(2027, 11, 25));
        assert_eq!(meta.days_left(TODAY), 365);
        assert_eq!(meta.status(TODAY), TokenStatus::Ok);
    }

    #[test]
    fn leap_day_expires_on_28_february() {
        assert_eq!(expires_on(date(2028, 2, 29)), date(2029, 2, 28));
    }

    #[test]
    fn status_follows_the_days_left() {
        let meta = TokenMeta::new(&SecretString::from("abcdefgh1234".to_owned()), date(2026, 1, 1));
        assert_eq!(meta.expires_on, date(2027, 1, 1));
        assert_eq!(meta.status(date(2026, 12, 1)), TokenStatus::Ok); // 31 days left
        assert_eq!(meta.status(date(2026, 12, 2)), TokenStatus::Expiring); // 30
        assert_eq!(meta.status(date(2026, 12, 31)), TokenStatus::Expiring); // 1
        assert_eq!(meta.status(date(2027, 1, 1)), TokenStatus::Expired); // 0
        assert_eq!(meta.days_left(date(2027, 1, 3)), -2);
        let rejected = TokenMeta { rejected: true, ..meta };
        assert_eq!(rejected.status(date(2026, 6, 1)), TokenStatus::Rejected);
    }

    #[test]
    fn request_errors_name_their_fields() {
        let fields = |v: serde_json::Value| -> Vec<String> {
            parse_token_request(&v, TODAY).unwrap_err().into_iter().map(|e| e.field).collect()
        };
        assert_eq!(fields(json!({})), ["token"]);
        assert_eq!(fields(json!({"token": 42})), ["token"]);
        assert_eq!(fields(json!({"token": "abc def ghi"})), ["token"]);
        assert_eq!(fields(json!({"token": "abcdefgh1234", "issued_on": "2026-13-01"})), ["issued_on"]);
        assert_eq!(fields(json!({"token": "abcdefgh1234", "issued_on": "26-11-01"})), ["issued_on"]);
        assert_eq!(fields(json!({"token": "abcdefgh1234", "issued_on": "2026-11-27"})), ["issued_on"]);
        // One day of slack: it is already the 26th east of UTC.
        assert!(parse_token_request(&json!({"token": "abcdefgh1234", "issued_on": "2026-11-26"}), TODAY).is_ok());
        assert_eq!(fields(json!({"token": "abcdefgh1234", "scope": "x"})), ["scope"]);
        assert_eq!(fields(json!("abcdefgh1234")), ["(body)"]);
    }

    #[test]
    fn an_old_issue_date_is_accepted_with_a_warning() {
        let (input, w) =
            parse_token_request(&json!({"token": "abcdefgh1234", "issued_on": "2025-11-01"}), TODAY).unwrap();
        assert_eq!(TokenMeta::new(&input.token, input.issued_on).status(TODAY), TokenStatus::Expired);
        assert!(w.iter().any(|w| w.field == "issued_on"));
    }

    #[test]
    fn view_of_nothing_is_not_configured() {
        let v = serde_json::to_value(TokenView::of(None, TODAY)).unwrap();
        assert_eq!(v, json!({"configured": false}));
    }
}
