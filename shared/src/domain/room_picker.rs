//! The room picker's parameters: what `GET /rooms` accepts and its opaque paging cursor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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

/// The cursor for HipChat's `start-index` (opaque to the client).
pub fn encode_cursor(start: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("hipchat:{start}"))
}

/// The `start-index` of a cursor this API returned.
pub fn decode_cursor(cursor: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    std::str::from_utf8(&bytes).ok()?.strip_prefix("hipchat:")?.parse().ok()
}
