//! Public data types: configuration, seeds, snapshots, counters, faults and limits.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The eight scopes a personal token can be given (reference §2), in the order of the scopes table.
pub const ALL_SCOPES: [&str; 8] = [
    "admin_group",
    "admin_room",
    "manage_rooms",
    "send_message",
    "send_notification",
    "view_group",
    "view_messages",
    "view_room",
];

/// Scopes the simulator accepts in a [`TokenSpec`]: the eight above plus `import_data` (add-ons only).
pub const KNOWN_SCOPES: [&str; 9] = [
    "admin_group",
    "admin_room",
    "manage_rooms",
    "send_message",
    "send_notification",
    "view_group",
    "view_messages",
    "view_room",
    "import_data",
];

/// Endpoint templates, as used in [`Counters`] and [`Fault::endpoint`].
pub mod endpoints {
    pub const ROOM_LIST: &str = "GET /v2/room";
    pub const ROOM_CREATE: &str = "POST /v2/room";
    pub const ROOM_GET: &str = "GET /v2/room/{id}";
    pub const ROOM_UPDATE: &str = "PUT /v2/room/{id}";
    pub const ROOM_DELETE: &str = "DELETE /v2/room/{id}";
    pub const ROOM_TOPIC: &str = "PUT /v2/room/{id}/topic";
    pub const ROOM_NOTIFICATION: &str = "POST /v2/room/{id}/notification";
    pub const ROOM_MESSAGE: &str = "POST /v2/room/{id}/message";
    pub const TOKEN_GET: &str = "GET /v2/oauth/token/{token}";
    pub const TOKEN_DELETE: &str = "DELETE /v2/oauth/token/{token}";
    pub const CAPABILITIES: &str = "GET /v2/capabilities";
}

/// Simulator settings. `Default` gives HipChat Cloud's numbers.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Requests per window for a personal token (HipChat: 100).
    pub rate_limit: u32,
    /// Rate-limit window (HipChat: 5 minutes).
    pub rate_window: Duration,
    /// Requests per window for an add-on token (HipChat: 500).
    pub addon_rate_limit: u32,
    /// Sends (notifications + messages) per room per flood window (HipChat: 30).
    pub flood_limit: u32,
    /// Flood-control window (HipChat: 1 minute).
    pub flood_window: Duration,
    /// Whether "Ops" and "ops" count as the same name when checking uniqueness. Lookup by name is
    /// always case-sensitive.
    pub unique_names_ignore_case: bool,
    /// Base URL used in links, `Location` headers, capabilities and guest URLs (no trailing slash).
    /// `None`: the bound `http://127.0.0.1:PORT` (or, when only [`crate::router`] is used, the request's
    /// `Host`).
    pub public_url: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            rate_limit: 100,
            rate_window: Duration::from_secs(300),
            addon_rate_limit: 500,
            flood_limit: 30,
            flood_window: Duration::from_secs(60),
            unique_names_ignore_case: true,
            public_url: None,
        }
    }
}

/// Kind of token: decides the rate limit and the default lifetime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// A user's personal access token: 100 requests / 5 min, 365-day life.
    #[default]
    Personal,
    /// An add-on token: 500 requests / 5 min, 1-hour life.
    Addon,
}

/// The user a token acts as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerSpec {
    pub id: u64,
    /// Empty: `"User <id>"`.
    #[serde(default)]
    pub name: String,
    /// Empty: `"user<id>"`.
    #[serde(default)]
    pub mention_name: String,
}

/// What [`crate::Simulator::create_token`] and `POST /_sim/tokens` make. Every field is optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    /// Token value; default 40 random ASCII alphanumerics.
    pub token: Option<String>,
    /// Default: all eight scopes ([`ALL_SCOPES`]).
    pub scopes: Option<Vec<String>>,
    /// Default: the demo user (id 1, "Demo User", `demo`).
    pub owner: Option<OwnerSpec>,
    /// Default: now.
    pub created_at: Option<Timestamp>,
    /// Default: `created_at` + 365 days (personal) or + 1 hour (add-on).
    pub expires_at: Option<Timestamp>,
    /// Default: personal.
    pub kind: Option<TokenKind>,
}

/// A room seeded directly by [`crate::Simulator::add_room`] / `POST /_sim/rooms` (no validation, no rate limit).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomSpec {
    pub name: String,
    pub topic: Option<String>,
    /// `"private"` makes a private room; anything else (or none) a public one.
    pub privacy: Option<String>,
    pub archived: Option<bool>,
    /// `true` gives the room a guest access URL.
    pub guest_access: Option<bool>,
    /// Default: the demo user (id 1).
    pub owner_id: Option<u64>,
}

/// A room notification as stored by `POST /v2/room/{id}/notification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub message: String,
    /// `html` or `text`.
    pub message_format: String,
    /// As requested (`random` is kept as `random`).
    pub color: String,
    pub notify: bool,
    pub from: Option<String>,
    pub at: Timestamp,
}

/// A message as stored by `POST /v2/room/{id}/message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The id returned to the client (UUID form).
    pub id: String,
    pub message: String,
    pub at: Timestamp,
}

/// A room as the simulator holds it, with everything posted to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSnapshot {
    pub id: u64,
    pub name: String,
    /// `""` when none.
    pub topic: String,
    /// `public` or `private`.
    pub privacy: String,
    pub is_archived: bool,
    pub is_guest_accessible: bool,
    pub guest_access_url: Option<String>,
    pub owner_id: u64,
    pub created: Timestamp,
    pub notifications: Vec<Notification>,
    pub messages: Vec<Message>,
}

/// How many `/v2` requests arrived, per endpoint template and token as sent (rejected ones included).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub total: u64,
    /// Sorted by endpoint, then token.
    pub requests: Vec<CounterRow>,
}

/// One line of [`Counters`]. `endpoint` is a template such as `POST /v2/room/{id}/notification`;
/// unknown paths are counted as `"<METHOD> <path>"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterRow {
    pub endpoint: String,
    /// The token the request carried (header or `auth_token`), valid or not; `None` without one.
    pub token: Option<String>,
    pub count: u64,
    /// Of `count`, the requests whose token came in the `Authorization: Bearer` header.
    #[serde(default)]
    pub token_in_header: u64,
    /// Of `count`, the requests with a non-empty `auth_token` query parameter. HipChat accepted
    /// both ways; when a request has both, the header's token is the one used (and `token`),
    /// and the request counts here and in `token_in_header`.
    #[serde(default)]
    pub token_in_query: u64,
}

impl Counters {
    /// Requests to `endpoint`, summed over tokens.
    pub fn count(&self, endpoint: &str) -> u64 {
        self.requests.iter().filter(|r| r.endpoint == endpoint).map(|r| r.count).sum()
    }

    /// Requests to `endpoint` carrying `token` (`None`: no token).
    pub fn count_for(&self, endpoint: &str, token: Option<&str>) -> u64 {
        self.requests.iter().filter(|r| r.endpoint == endpoint && r.token.as_deref() == token).map(|r| r.count).sum()
    }
}

/// A fault applied to the next `count` `/v2` requests that match `endpoint`, before normal handling
/// (and before authentication and rate limiting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// An endpoint template such as `POST /v2/room/{id}/notification`; `None` matches any `/v2` request.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// How many matching requests it applies to (default 1; 0 does nothing).
    #[serde(default = "one")]
    pub count: u32,
    pub action: FaultAction,
}

fn one() -> u32 {
    1
}

impl Fault {
    /// A fault for the next matching request (`endpoint` `None`, `count` 1).
    pub fn new(action: FaultAction) -> Self {
        Self { endpoint: None, count: 1, action }
    }

    /// Limit it to one endpoint template.
    pub fn on(mut self, endpoint: &str) -> Self {
        self.endpoint = Some(endpoint.to_owned());
        self
    }

    /// Apply it to `count` matching requests.
    pub fn times(mut self, count: u32) -> Self {
        self.count = count;
        self
    }
}

/// What a [`Fault`] does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer `status` with the HipChat error body (`message` default: the reason phrase). For 429 the
    /// `X-Ratelimit-*` headers are added, with `X-Ratelimit-Reset` = now + `reset_in_seconds`
    /// (default: the rate window).
    Status { status: u16, message: Option<String>, reset_in_seconds: Option<u64> },
    /// Wait, then handle the request normally.
    Delay { ms: u64 },
    /// Close the TCP connection without any response (needs [`crate::start`] / [`crate::start_on`]; under
    /// a plain `axum::serve` of [`crate::router`] it degrades to an empty 502).
    Drop,
    /// Answer with an arbitrary (non-HipChat) body, e.g. a proxy's HTML error page.
    Body { status: u16, body: String, content_type: String },
}

/// Limit changes for [`crate::Simulator::set_limits`] / `PUT /_sim/limits`; `None` keeps the current value.
/// `rate_limit` is the personal-token limit (the add-on limit stays as configured). Any change starts
/// fresh windows for every token and room.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub rate_limit: Option<u32>,
    pub rate_window_seconds: Option<u64>,
    pub flood_limit: Option<u32>,
    pub flood_window_seconds: Option<u64>,
}
