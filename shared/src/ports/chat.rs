//! The chat port: the calls the use cases make on the partner's chat service, typed, with
//! one typed error ([`ChatError`]).
//!
//! Today's one backend is HipChat v2 (`adapters::hipchat`, on `reqwest`); the vocabulary
//! (rooms by id or name, guest access, notifications with a colour, token scopes, the
//! connection probes) is what that API offers. Everything about its wire format (URL paths,
//! the `Authorization` header, error bodies, rate-limit headers) lives in the adapter; a
//! second backend implements [`ChatService`] the same way (docs/design.md, "Chat backends").
//! The facts the HipChat adapter relies on are in docs/hipchat-api.md.

use std::fmt;
use std::future::Future;

use jiff::Timestamp;
use secrecy::SecretString;
use serde::Serialize;
use url::Url;

pub use crate::domain::messages::Color;

/// Where and as whom to call the chat service: its base URL and the partner's token.
/// `Debug` never shows the token.
#[derive(Clone)]
pub struct ChatAccess {
    base: Url,
    token: SecretString,
}

impl ChatAccess {
    /// `base_url` is the normalised base (`https://host[:port]`, see `domain::hipchat_url`).
    pub fn new(base_url: &str, token: SecretString) -> Result<Self, url::ParseError> {
        let base = Url::parse(base_url)?;
        if base.cannot_be_a_base() {
            return Err(url::ParseError::RelativeUrlWithCannotBeABaseBase);
        }
        Ok(Self { base, token })
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// The base as a URL (for the adapter to build its request URLs on).
    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn token(&self) -> &SecretString {
        &self.token
    }
}

impl fmt::Debug for ChatAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatAccess").field("base", &self.base_url()).field("token", &"[REDACTED]").finish()
    }
}

/// A room by numeric id or by (case-sensitive) name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomRef<'a> {
    Id(u64),
    Name(&'a str),
}

impl fmt::Display for RoomRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoomRef::Id(id) => write!(f, "{id}"),
            RoomRef::Name(name) => f.write_str(name),
        }
    }
}

/// `GET /v2/room` paging and filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListRooms {
    pub start_index: u64,
    /// 0–1000 (HipChat's range).
    pub max_results: u32,
    pub include_private: bool,
    pub include_archived: bool,
}

/// One item of `GET /v2/room`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomSummary {
    pub id: u64,
    pub name: String,
    pub privacy: String,
    pub is_archived: bool,
}

/// One page of `GET /v2/room`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomPage {
    pub items: Vec<RoomSummary>,
    pub start_index: u64,
    pub max_results: u32,
    /// HipChat gave a `links.next`: more rooms follow.
    pub has_next: bool,
}

/// `GET /v2/room/{id_or_name}`, the members we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub id: u64,
    pub name: String,
    pub topic: String,
    pub privacy: String,
    pub is_archived: bool,
    pub is_guest_accessible: bool,
    pub guest_access_url: Option<String>,
    pub owner_id: Option<u64>,
}

/// `POST /v2/room`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewRoom {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    pub privacy: Privacy,
    pub guest_access: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Privacy {
    Public,
    Private,
}

/// `PUT /v2/room/{id}`: a full replacement (HipChat requires all six members).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomUpdate {
    pub name: String,
    pub privacy: String,
    pub is_archived: bool,
    pub is_guest_accessible: bool,
    pub topic: String,
    pub owner_id: u64,
}

/// `POST /v2/room/{id}/notification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub message: String,
    pub message_format: MessageFormat,
    pub color: Color,
    pub notify: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageFormat {
    Html,
    Text,
}

/// `GET /v2/oauth/token/{token}`, the members we use (HipChat documented only `scopes`,
/// `client` and `owner`; `expires_in` is read when a server gives it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub scopes: Vec<String>,
    pub owner_id: Option<u64>,
    pub expires_in: Option<i64>,
}

/// `GET /v2/capabilities`, the members we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub name: Option<String>,
    /// `links.api`, e.g. `https://api.hipchat.com/v2`.
    pub api_url: Option<String>,
}

/// A call checked with `auth_test=true` (HipChat answers 202 without running it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// `GET /v2/room`: `view_group` or `view_room`.
    ListRooms,
    /// `POST /v2/room`: `manage_rooms`.
    CreateRoom,
    /// `POST /v2/room/{id}/notification`: `send_notification`.
    SendNotification(u64),
    /// `POST /v2/room/{id}/message`: `send_message`.
    SendMessage(u64),
}

/// Which HipChat limit a 429 came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// 100 requests per 5 minutes per token (`X-Ratelimit-*`).
    RateLimit,
    /// 30 sends per minute per room (`X-Floodcontrol-*`).
    FloodControl,
}

/// Why HipChat could not be reached at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unreachable {
    /// The host name does not resolve.
    Dns,
    /// Nothing listens on that port (or a firewall rejects the connection).
    Refused,
    /// The TLS handshake failed (certificate, protocol, or a plain-HTTP port).
    Tls,
    /// No answer within the client's timeout.
    Timeout,
    /// The connection failed or was closed before an answer arrived.
    Connection,
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unreachable::Dns => "the host name does not resolve",
            Unreachable::Refused => "the connection was refused",
            Unreachable::Tls => "the TLS handshake failed",
            Unreachable::Timeout => "it did not answer in time",
            Unreachable::Connection => "the connection failed or was closed before an answer",
        })
    }
}

/// Everything a HipChat call can end in other than success. The messages never contain
/// the token or a URL that could hold one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// 401: the token is unknown, expired (one year after it was made) or revoked.
    #[error("HipChat rejected the token (401)")]
    TokenRejected,
    /// 403: the token lacks a scope; `scopes` are the ones the call would accept.
    #[error("the token lacks a scope this call needs (one of: {})", scopes.join(", "))]
    MissingScopes { scopes: Vec<String> },
    /// 404 "Room '<x>' not found".
    #[error("room not found")]
    RoomNotFound,
    /// 400 "Another room exists with that name."
    #[error("another room exists with that name")]
    NameTaken,
    /// 429 after the client's one retry (or with a reset too far away to wait for).
    #[error("HipChat {kind:?} reached; resets at {reset_at:?}")]
    RateLimited { kind: LimitKind, reset_at: Option<Timestamp> },
    /// 400 for a value HipChat refused.
    #[error("HipChat refused a value{}: {message}", field.as_deref().map(|f| format!(" of '{f}'")).unwrap_or_default())]
    Validation { field: Option<String>, message: String },
    /// Another HipChat error answer (4xx) we have no better name for.
    #[error("HipChat answered {status}: {message}")]
    Refused { status: u16, message: String },
    /// No answer: DNS, refused, TLS, timeout or a broken connection.
    #[error("HipChat is unreachable: {kind}")]
    Unreachable { kind: Unreachable, detail: String },
    /// Something answered, but not as the HipChat v2 API does.
    #[error("the server does not answer like the HipChat v2 API: {detail}")]
    NotHipchat { status: u16, detail: String },
    /// 5xx.
    #[error("HipChat answered with a server error ({status})")]
    Server { status: u16 },
    /// The URL's address (or what its host name resolves to) is one calls may not go to;
    /// nothing was sent (docs/design.md "Outbound calls only where they belong").
    #[error("the chat server's address is not allowed: it is {refusal}")]
    NotAllowed { refusal: crate::domain::destination::Refusal },
}

impl ChatError {
    /// HipChat could not answer this time (rate limited, unreachable, 5xx): a retry later may
    /// succeed, and nothing can be concluded about the token or the request.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Unreachable { .. } | Self::Server { .. })
    }

    /// HipChat gave no answer to judge the call by: a transient failure, or an address calls
    /// may not go to (nothing was sent). A check must not read such a call as a verdict on the
    /// token or its scopes.
    pub fn is_unanswered(&self) -> bool {
        self.is_transient() || matches!(self, Self::NotAllowed { .. })
    }
}

/// The calls the use cases make on the partner's chat service.
pub trait ChatService: Send + Sync {
    /// Where a staff member's browser opens `room_id` (the "go to room" link).
    fn room_web_url(&self, access: &ChatAccess, room_id: u64) -> String;

    /// `GET /v2/capabilities` (no token needed).
    fn capabilities(&self, access: &ChatAccess) -> impl Future<Output = Result<Capabilities, ChatError>> + Send;

    /// `GET /v2/oauth/token/{token}`: the token's scopes.
    fn token_info(&self, access: &ChatAccess) -> impl Future<Output = Result<TokenInfo, ChatError>> + Send;

    /// Checks a call with `auth_test=true`: `Ok` when the token may make it.
    fn auth_test(&self, access: &ChatAccess, probe: Probe) -> impl Future<Output = Result<(), ChatError>> + Send;

    fn list_rooms(
        &self,
        access: &ChatAccess,
        page: &ListRooms,
    ) -> impl Future<Output = Result<RoomPage, ChatError>> + Send;

    fn get_room(&self, access: &ChatAccess, room: RoomRef<'_>) -> impl Future<Output = Result<Room, ChatError>> + Send;

    /// `POST /v2/room` → the new room's id. Never retried on a transport error (it may
    /// have been created); a 429 (which HipChat answers before doing anything) is.
    fn create_room(&self, access: &ChatAccess, room: &NewRoom) -> impl Future<Output = Result<u64, ChatError>> + Send;

    fn update_room(
        &self,
        access: &ChatAccess,
        id: u64,
        update: &RoomUpdate,
    ) -> impl Future<Output = Result<(), ChatError>> + Send;

    fn delete_room(&self, access: &ChatAccess, room: RoomRef<'_>)
    -> impl Future<Output = Result<(), ChatError>> + Send;

    fn send_notification(
        &self,
        access: &ChatAccess,
        room: RoomRef<'_>,
        notification: &Notification,
    ) -> impl Future<Output = Result<(), ChatError>> + Send;
}
