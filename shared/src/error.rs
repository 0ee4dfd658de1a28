//! The one application error type and its mapping to RFC 9457 problem details
//! (docs/api.md, "Problem types"). Adapters turn a [`Problem`] into an HTTP response.

use jiff::Timestamp;
use serde::Serialize;

use crate::domain::validation::FieldError;
use crate::ports::{BoxError, PortError};

/// Everything a request can end in other than success.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("unauthorized")]
    Unauthorized,
    #[error("not found: {0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("integration inactive")]
    IntegrationInactive,
    #[error("chat disabled: {0}")]
    ChatDisabled(String),
    #[error("chat closed")]
    ChatClosed { next_open_at: Option<Timestamp> },
    #[error("token missing")]
    TokenMissing,
    #[error("token rejected")]
    TokenRejected,
    /// The stored settings have no HipChat URL yet.
    #[error("hipchat url missing")]
    HipchatUrlMissing,
    /// The token lacks scopes the call needs (scope identifiers).
    #[error("missing scopes: {0:?}")]
    MissingScopes(Vec<String>),
    /// The settings name no notification room.
    #[error("notification room missing")]
    NotificationRoomMissing,
    /// The notification room (this id) does not exist in HipChat any more.
    #[error("notification room gone")]
    NotificationRoomGone(u64),
    /// HipChat has a room of that name already (the name, when the caller knows it).
    #[error("room name taken")]
    RoomNameTaken(Option<String>),
    /// The stored chat-server URL points where calls may not go (the detail says why).
    #[error("chat url not allowed")]
    ChatUrlNotAllowed(String),
    /// HipChat could not be used; `status` is 502 (bad answer) or 503 (unreachable, rate limited).
    #[error("hipchat unavailable: {detail}")]
    HipchatUnavailable { status: u16, retry_after: Option<u64>, detail: String },
    /// One of our own backing services (DynamoDB, Secrets Manager) is unreachable.
    #[error("backing service unavailable")]
    Unavailable(#[source] BoxError),
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl AppError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(e: impl Into<BoxError>) -> Self {
        Self::Internal(e.into())
    }
}

impl From<PortError> for AppError {
    fn from(e: PortError) -> Self {
        match e {
            PortError::Conflict => AppError::PreconditionFailed,
            e @ PortError::Unavailable { .. } => AppError::Unavailable(Box::new(e)),
            e @ PortError::Internal { .. } => AppError::Internal(Box::new(e)),
        }
    }
}

/// An RFC 9457 problem details body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_open_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// `Allow` header for 405.
    #[serde(skip)]
    pub allow: Option<&'static str>,
}

impl Problem {
    fn new(slug: &str, title: &'static str, status: u16, detail: impl Into<String>) -> Self {
        Self {
            type_uri: format!("/problems/{slug}"),
            title,
            status,
            detail: detail.into(),
            errors: None,
            next_open_at: None,
            retry_after: None,
            allow: None,
        }
    }
}

/// The full chain of an error's messages, for logs.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

impl From<&AppError> for Problem {
    /// The one mapping from errors to problems. Internal causes are logged here and never
    /// put in the body.
    fn from(e: &AppError) -> Self {
        use AppError::*;
        match e {
            Unauthorized => Problem::new(
                "unauthorized",
                "Unauthorized",
                401,
                "The request is not signed correctly: X-Dynaboard-Timestamp and X-Dynaboard-Signature are required.",
            ),
            NotFound(what) => Problem::new("not-found", "Not Found", 404, what.clone()),
            MethodNotAllowed { allow } => Problem {
                allow: Some(allow),
                ..Problem::new(
                    "method-not-allowed",
                    "Method Not Allowed",
                    405,
                    format!("This resource supports only: {allow}."),
                )
            },
            PreconditionFailed => Problem::new(
                "precondition-failed",
                "Precondition Failed",
                412,
                "The settings were changed since you read them (If-Match does not match the current version). GET them again and reapply your change.",
            ),
            PayloadTooLarge { limit } => Problem::new(
                "payload-too-large",
                "Payload Too Large",
                413,
                format!("The request body exceeds {} KiB.", limit / 1024),
            ),
            Validation(errors) => Problem {
                errors: Some(errors.clone()),
                ..Problem::new(
                    "validation",
                    "Validation Failed",
                    422,
                    match errors.as_slice() {
                        [one] => format!("{}: {}", one.field, one.message),
                        many => format!("{} fields are invalid; see errors.", many.len()),
                    },
                )
            },
            IntegrationInactive => Problem::new(
                "integration-inactive",
                "Integration Inactive",
                409,
                "The HipChat integration is not active for this partner.",
            ),
            ChatDisabled(why) => Problem::new("chat-disabled", "Chat Disabled", 409, why.clone()),
            ChatClosed { next_open_at } => Problem {
                next_open_at: *next_open_at,
                ..Problem::new("chat-closed", "Chat Closed", 409, "The chat is outside its service hours.")
            },
            TokenMissing => Problem::new(
                "token-missing",
                "Token Missing",
                409,
                "No HipChat token is configured for this partner: store one with PUT /token.",
            ),
            TokenRejected => Problem::new(
                "token-rejected",
                "Token Rejected",
                409,
                "HipChat rejected the stored token (expired or revoked): create a new token in HipChat and store it with PUT /token.",
            ),
            ChatUrlNotAllowed(detail) => Problem::new("url-not-allowed", "URL Not Allowed", 409, detail.clone()),
            HipchatUrlMissing => Problem::new(
                "hipchat-url-missing",
                "HipChat URL Missing",
                409,
                "No HipChat URL is stored for this partner: set hipchat_url with PUT /settings.",
            ),
            MissingScopes(scopes) => Problem::new(
                "missing-scopes",
                "Missing Scopes",
                409,
                format!(
                    "The HipChat token lacks a scope this needs: {}. Create a token with the scopes View Room, Send Message, Manage Rooms, Send Notification and View Group, and store it with PUT /token.",
                    if scopes.is_empty() { "unknown".to_owned() } else { crate::domain::scopes::describe(scopes) }
                ),
            ),
            NotificationRoomMissing => Problem::new(
                "notification-room-missing",
                "Notification Room Missing",
                409,
                "No notification room is set for this partner: pick one in Settings → HipChat (GET /rooms lists them) and save it as notification_room_id with PUT /settings.",
            ),
            NotificationRoomGone(id) => Problem::new(
                "notification-room-gone",
                "Notification Room Gone",
                409,
                format!(
                    "The notification room ({id}) no longer exists in HipChat: pick another room in Settings → HipChat (GET /rooms lists them) and save it as notification_room_id with PUT /settings."
                ),
            ),
            RoomNameTaken(name) => Problem::new(
                "room-name-taken",
                "Room Name Taken",
                409,
                match name {
                    Some(name) => format!(
                        "HipChat already has a room named '{name}': pick that room from the list, or choose another name."
                    ),
                    None => {
                        "HipChat already has a room of that name: pick that room, or choose another name.".to_owned()
                    }
                },
            ),
            HipchatUnavailable { status, retry_after, detail } => Problem {
                retry_after: *retry_after,
                ..Problem::new("hipchat-unavailable", "HipChat Unavailable", *status, detail.clone())
            },
            Unavailable(source) => {
                tracing::error!(error = %chain(source.as_ref()), "backing service unavailable");
                Problem {
                    retry_after: Some(1),
                    ..Problem::new(
                        "unavailable",
                        "Service Unavailable",
                        503,
                        "A backing service is unavailable; please retry.",
                    )
                }
            }
            Internal(source) => {
                tracing::error!(error = %chain(source.as_ref()), "internal error");
                Problem::new(
                    "internal",
                    "Internal Server Error",
                    500,
                    "An internal error occurred; it has been logged.",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_types_follow_the_design() {
        let cases: Vec<(AppError, u16, &str)> = vec![
            (AppError::Unauthorized, 401, "unauthorized"),
            (AppError::NotFound("x".into()), 404, "not-found"),
            (AppError::PreconditionFailed, 412, "precondition-failed"),
            (AppError::PayloadTooLarge { limit: 65536 }, 413, "payload-too-large"),
            (AppError::validation("a", "b"), 422, "validation"),
            (AppError::IntegrationInactive, 409, "integration-inactive"),
            (AppError::ChatDisabled("off".into()), 409, "chat-disabled"),
            (AppError::ChatClosed { next_open_at: None }, 409, "chat-closed"),
            (AppError::TokenMissing, 409, "token-missing"),
            (AppError::TokenRejected, 409, "token-rejected"),
            (AppError::HipchatUrlMissing, 409, "hipchat-url-missing"),
            (AppError::MissingScopes(vec!["manage_rooms".into()]), 409, "missing-scopes"),
            (AppError::RoomNameTaken(Some("Support".into())), 409, "room-name-taken"),
            (AppError::NotificationRoomMissing, 409, "notification-room-missing"),
            (AppError::NotificationRoomGone(7), 409, "notification-room-gone"),
            (
                AppError::HipchatUnavailable { status: 503, retry_after: Some(30), detail: "x".into() },
                503,
                "hipchat-unavailable",
            ),
            (AppError::internal("boom"), 500, "internal"),
        ];
        for (e, status, slug) in cases {
            let p = Problem::from(&e);
            assert_eq!(p.status, status);
            assert_eq!(p.type_uri, format!("/problems/{slug}"));
        }
    }

    #[test]
    fn internal_details_stay_out_of_the_body() {
        let e = AppError::internal("connection to secret-host:4566 refused (token abc123)");
        let body = serde_json::to_string(&Problem::from(&e)).unwrap();
        assert!(!body.contains("secret-host"), "{body}");
        assert!(!body.contains("abc123"), "{body}");
    }

    #[test]
    fn validation_lists_the_fields() {
        let p = Problem::from(&AppError::Validation(vec![FieldError::new("a", "x"), FieldError::new("b", "y")]));
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["errors"][1]["field"], "b");
        assert_eq!(v["status"], 422);
    }

    #[test]
    fn port_conflict_is_a_412() {
        assert!(matches!(AppError::from(PortError::Conflict), AppError::PreconditionFailed));
    }
}
