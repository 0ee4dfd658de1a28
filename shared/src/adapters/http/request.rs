//! The parse step of a request: query strings and JSON bodies into the typed input of one
//! use case, every mistake a 422 naming its field (a too large body 413). Handlers go parse →
//! service → answer, and this is the only part of the way that reads the request.

use jiff::Timestamp;
use lambda_http::Request;
use serde_json::Value;

use super::{json_body, optional_json_body};
use crate::domain::chat::parse_chat_request;
use crate::domain::connection::CheckRequest;
use crate::domain::event::{Event, parse_event};
use crate::domain::room_picker::{
    DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_CHARS, ROOM_NAME_MAX, RoomQuery, TOPIC_MAX, decode_cursor,
};
use crate::domain::settings::{ParsedSettings, parse_settings};
use crate::domain::token::{TokenInput, parse_token_request};
use crate::domain::user::PortalUser;
use crate::domain::validation::{FieldError, ObjectReader, Warning};
use crate::error::AppError;
use crate::ports::chat::{NewRoom, Privacy};

/// `PUT /settings`: the settings document, with warnings about what was normalised.
pub fn settings(req: &Request) -> Result<ParsedSettings, AppError> {
    parse_settings(&json_body(req)?).map_err(AppError::Validation)
}

/// `PUT /token`: the token and its issue date (`today` when not given).
pub fn token(req: &Request, today: jiff::civil::Date) -> Result<(TokenInput, Vec<Warning>), AppError> {
    parse_token_request(&json_body(req)?, today).map_err(AppError::Validation)
}

/// `POST /connection-check`: the optional URL and token to check before saving.
pub fn connection_check(req: &Request) -> Result<CheckRequest, AppError> {
    parse_check_request(&optional_json_body(req)?)
}

/// `GET /rooms`: `q`, `limit` and `cursor`.
pub fn room_query(req: &Request) -> Result<RoomQuery, AppError> {
    parse_room_query(req.uri().query())
}

/// `POST /rooms`: the new notification room.
pub fn new_room(req: &Request) -> Result<NewRoom, AppError> {
    parse_new_room(&json_body(req)?)
}

/// `GET /chat/availability`: the instant to evaluate (`?at=`), if given.
pub fn availability(req: &Request) -> Result<Option<Timestamp>, AppError> {
    availability_at(req.uri().query())
}

/// `POST /chat/requests`: the portal user.
pub fn chat_request(req: &Request) -> Result<PortalUser, AppError> {
    parse_chat_request(&json_body(req)?).map_err(AppError::Validation)
}

/// `POST /events`: the event.
pub fn event(req: &Request) -> Result<Event, AppError> {
    parse_event(&json_body(req)?).map_err(AppError::Validation)
}

/// `?at=<RFC 3339 instant>`; a `+` in the offset that arrived as a space (form encoding) is
/// accepted. Any other parameter is refused.
fn availability_at(query: Option<&str>) -> Result<Option<Timestamp>, AppError> {
    let mut errors = Vec::new();
    let mut at = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "at" => match value.parse::<Timestamp>().or_else(|e| value.replace(' ', "+").parse().map_err(|_| e)) {
                Ok(t) => at = Some(t),
                Err(_) => errors.push(FieldError::new(
                    "at",
                    "must be an RFC 3339 instant with an offset, e.g. 2026-12-01T09:30:00+01:00 or 2026-12-01T08:30:00Z",
                )),
            },
            other => errors.push(FieldError::new(other.to_owned(), "is not a known parameter (at)")),
        }
    }
    if errors.is_empty() { Ok(at) } else { Err(AppError::Validation(errors)) }
}

fn parse_check_request(body: &Value) -> Result<CheckRequest, AppError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let Some(mut r) = ObjectReader::new(body, "", &mut errors) else {
        return Err(AppError::Validation(errors));
    };
    let hipchat_url = r.str("hipchat_url", &mut errors).map(str::to_owned);
    let token = r.str("token", &mut errors).map(str::to_owned);
    r.finish(&mut errors);
    if errors.is_empty() { Ok(CheckRequest { hipchat_url, token }) } else { Err(AppError::Validation(errors)) }
}

/// Reads `q`, `limit` and `cursor` from the query string; every mistake names its parameter.
fn parse_room_query(query: Option<&str>) -> Result<RoomQuery, AppError> {
    let mut errors = Vec::new();
    let mut out = RoomQuery { q: None, limit: DEFAULT_LIMIT, start: 0 };
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "q" if value.chars().count() > MAX_QUERY_CHARS => {
                errors.push(FieldError::new("q", format!("must be at most {MAX_QUERY_CHARS} characters")));
            }
            "q" => out.q = Some(value.trim().to_owned()).filter(|q| !q.is_empty()),
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => out.limit = n,
                _ => errors.push(FieldError::new("limit", format!("must be a whole number from 1 to {MAX_LIMIT}"))),
            },
            "cursor" => match decode_cursor(&value) {
                Some(start) => out.start = start,
                None => errors.push(FieldError::new("cursor", "is not a cursor this API returned")),
            },
            other => errors.push(FieldError::new(other.to_owned(), "is not a known parameter (q, limit, cursor)")),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(AppError::Validation(errors)) }
}

/// `{name, topic?, privacy?}` for a new notification room.
fn parse_new_room(body: &Value) -> Result<NewRoom, AppError> {
    let mut errors = Vec::new();
    let Some(mut r) = ObjectReader::new(body, "", &mut errors) else {
        return Err(AppError::Validation(errors));
    };
    let name = r.required_str("name", &mut errors).map(str::trim);
    if let Some(name) = name {
        let n = name.chars().count();
        if n == 0 || n > ROOM_NAME_MAX {
            errors.push(FieldError::new("name", format!("must be 1 to {ROOM_NAME_MAX} characters (HipChat's limit)")));
        } else if name.chars().any(char::is_control) {
            errors.push(FieldError::new("name", "must not contain control characters"));
        }
    }
    let topic = r.str("topic", &mut errors).map(str::trim);
    if topic.is_some_and(|t| t.chars().count() > TOPIC_MAX) {
        errors.push(FieldError::new("topic", format!("must be at most {TOPIC_MAX} characters (HipChat's limit)")));
    }
    let privacy = match r.str("privacy", &mut errors) {
        None | Some("public") => Privacy::Public,
        Some("private") => Privacy::Private,
        Some(_) => {
            errors.push(FieldError::new("privacy", "must be \"public\" or \"private\""));
            Privacy::Public
        }
    };
    r.finish(&mut errors);
    match name {
        Some(name) if errors.is_empty() => Ok(NewRoom {
            name: name.to_owned(),
            topic: topic.filter(|t| !t.is_empty()).map(str::to_owned),
            privacy,
            guest_access: false,
        }),
        _ => Err(AppError::Validation(errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::room_picker::encode_cursor;
    use serde_json::json;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor(1234)), Some(1234));
        assert_eq!(decode_cursor("1234"), None);
        let q = parse_room_query(Some(&format!("q=Sup&limit=10&cursor={}", encode_cursor(7)))).unwrap();
        assert_eq!(q, RoomQuery { q: Some("Sup".into()), limit: 10, start: 7 });
    }

    #[test]
    fn bad_parameters_are_named() {
        let Err(AppError::Validation(errors)) = parse_room_query(Some("limit=0&cursor=x&size=3")) else {
            panic!("expected a validation error")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["limit", "cursor", "size"]);
        assert!(parse_room_query(Some("limit=201")).is_err());
        assert!(parse_room_query(Some(&format!("q={}", "a".repeat(101)))).is_err());
        assert_eq!(parse_room_query(None).unwrap().limit, DEFAULT_LIMIT);
    }

    #[test]
    fn new_room_names_follow_hipchat_limits() {
        assert!(parse_new_room(&json!({"name": "a".repeat(50)})).is_ok());
        assert!(parse_new_room(&json!({"name": "ä".repeat(50)})).is_ok(), "characters, not bytes");
        for bad in [json!({"name": "a".repeat(51)}), json!({"name": "  "}), json!({}), json!({"name": "a\nb"})] {
            let Err(AppError::Validation(e)) = parse_new_room(&bad) else { panic!("{bad}") };
            assert_eq!(e[0].field, "name", "{bad}");
        }
        let Err(AppError::Validation(e)) = parse_new_room(&json!({"name": "x", "topic": "t".repeat(251), "owner": 1}))
        else {
            panic!()
        };
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["topic", "owner"]);
        let room = parse_new_room(&json!({"name": " Support ", "topic": "", "privacy": "private"})).unwrap();
        assert_eq!((room.name.as_str(), room.topic, room.privacy), ("Support", None, Privacy::Private));
    }
}
