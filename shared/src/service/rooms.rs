//! The room picker: `GET /rooms` (search and page over HipChat's rooms) and `POST /rooms`
//! (create a notification room).
//!
//! HipChat pages by `start-index`; our cursor is that index, opaque to the client. A search
//! (`q`, case-insensitive substring of the name) filters HipChat's pages, reading at most
//! [`MAX_PAGES_PER_REQUEST`] of them per request so one picker call never eats the token's
//! rate limit (100 requests per 5 minutes); `next_cursor` continues where it stopped.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::domain::partner::PartnerId;
use crate::domain::validation::{FieldError, ObjectReader};
use crate::error::AppError;
use crate::ports::SettingsStore;
use crate::ports::hipchat::{Hipchat, HipchatError, ListRooms, NewRoom, Privacy, RoomSummary};
use crate::service::hipchat::{PartnerHipchat, failure, note_rejected};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;
pub const MAX_QUERY_CHARS: usize = 100;
/// HipChat's largest page.
pub const HIPCHAT_PAGE_SIZE: u32 = 1000;
pub const MAX_PAGES_PER_REQUEST: usize = 5;
pub const ROOM_NAME_MAX: usize = 50;
pub const TOPIC_MAX: usize = 250;

/// `GET /rooms` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomQuery {
    pub q: Option<String>,
    pub limit: usize,
    pub start: u64,
}

/// One room in the picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PickerRoom {
    pub id: u64,
    pub name: String,
    pub privacy: String,
}

/// The `GET /rooms` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomList {
    pub items: Vec<PickerRoom>,
    pub next_cursor: Option<String>,
}

/// The `POST /rooms` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreatedRoom {
    pub id: u64,
    pub name: String,
    pub privacy: Privacy,
    pub topic: Option<String>,
}

fn encode_cursor(start: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("hipchat:{start}"))
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    std::str::from_utf8(&bytes).ok()?.strip_prefix("hipchat:")?.parse().ok()
}

/// Reads `q`, `limit` and `cursor` from the query string; every mistake names its parameter.
pub fn parse_room_query(query: Option<&str>) -> Result<RoomQuery, AppError> {
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

/// Rooms for the picker: non-archived, public and private (those the token's user sees).
pub async fn list_rooms(
    store: &impl SettingsStore,
    hipchat: &impl Hipchat,
    partner: &PartnerId,
    ph: &PartnerHipchat,
    query: &RoomQuery,
    page_size: u32,
    now: Timestamp,
) -> Result<RoomList, AppError> {
    let needle = query.q.as_deref().map(str::to_lowercase);
    let matches = |r: &RoomSummary| needle.as_deref().is_none_or(|n| r.name.to_lowercase().contains(n));
    let mut items = Vec::new();
    let mut start = query.start;
    for _ in 0..MAX_PAGES_PER_REQUEST {
        let request =
            ListRooms { start_index: start, max_results: page_size, include_private: true, include_archived: false };
        let page = match hipchat.list_rooms(&ph.access, &request).await {
            Ok(page) => page,
            Err(e) => return Err(hipchat_failure(store, partner, ph, e, now).await),
        };
        for (i, room) in page.items.iter().enumerate() {
            if !matches(room) || room.is_archived {
                continue;
            }
            if items.len() == query.limit {
                return Ok(RoomList { items, next_cursor: Some(encode_cursor(start + i as u64)) });
            }
            items.push(PickerRoom { id: room.id, name: room.name.clone(), privacy: room.privacy.clone() });
        }
        if !page.has_next || page.items.is_empty() {
            return Ok(RoomList { items, next_cursor: None });
        }
        start += page.items.len() as u64;
    }
    Ok(RoomList { items, next_cursor: Some(encode_cursor(start)) })
}

/// `{name, topic?, privacy?}` for a new notification room.
pub fn parse_new_room(body: &Value) -> Result<NewRoom, AppError> {
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

/// Creates the room in HipChat (one call; never retried blindly).
pub async fn create_room(
    store: &impl SettingsStore,
    hipchat: &impl Hipchat,
    partner: &PartnerId,
    ph: &PartnerHipchat,
    room: &NewRoom,
    now: Timestamp,
) -> Result<CreatedRoom, AppError> {
    match hipchat.create_room(&ph.access, room).await {
        Ok(id) => {
            tracing::info!(partner_id = %partner, room_id = id, "notification room created");
            Ok(CreatedRoom { id, name: room.name.clone(), privacy: room.privacy, topic: room.topic.clone() })
        }
        Err(HipchatError::NameTaken) => Err(AppError::RoomNameTaken(Some(room.name.clone()))),
        Err(e) => Err(hipchat_failure(store, partner, ph, e, now).await),
    }
}

/// Maps a failure, recording a rejected token on the way.
async fn hipchat_failure(
    store: &impl SettingsStore,
    partner: &PartnerId,
    ph: &PartnerHipchat,
    e: HipchatError,
    now: Timestamp,
) -> AppError {
    if e == HipchatError::TokenRejected {
        note_rejected(store, partner, &ph.token, now).await;
    }
    failure(e, ph.access.base_url())
}

#[cfg(test)]
mod tests {
    use super::*;
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
