//! The simulator's in-memory state and the [`Simulator`] handle tests use.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;

use crate::model::{
    ALL_SCOPES, CounterRow, Counters, Fault, FaultAction, Limits, Message, Notification, OwnerSpec, RoomSnapshot,
    RoomSpec, SimConfig, TokenKind, TokenSpec,
};

/// Personal tokens live a year (reference §7); add-on tokens an hour (open question 12).
const PERSONAL_TOKEN_LIFE: Duration = Duration::from_secs(365 * 24 * 3600);
const ADDON_TOKEN_LIFE: Duration = Duration::from_secs(3600);
/// The demo user every default token and seeded room belongs to.
pub(crate) const DEMO_USER_ID: u64 = 1;
/// Room ids start here.
const FIRST_ROOM_ID: u64 = 1;

/// Handle to one simulated HipChat group. Cheap to clone; all clones share the state.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Clone)]
pub(crate) struct TokenRecord {
    pub token: String,
    pub scopes: Vec<String>,
    pub owner_id: u64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub kind: TokenKind,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub id: u64,
    pub name: String,
    pub mention_name: String,
    pub version: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Room {
    pub id: u64,
    pub name: String,
    pub topic: String,
    pub privacy: String,
    pub archived: bool,
    /// The 8-character code of the guest URL while guest access is on.
    pub guest_code: Option<String>,
    pub owner_id: u64,
    pub created: Timestamp,
    pub last_active: Timestamp,
    pub version: String,
    pub notifications: Vec<Notification>,
    pub messages: Vec<Message>,
}

/// Where a request carried a token: the `Authorization: Bearer` header, the `auth_token` query
/// parameter, both or neither.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TokenSources {
    pub header: bool,
    pub query: bool,
}

/// One counter: requests, and of them those with a token in the header and in the query.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    count: u64,
    header: u64,
    query: u64,
}

/// A fixed window: `count` hits since `start`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    start: Timestamp,
    count: u32,
}

/// The state of a window after a hit, for the `X-*-Limit/Remaining/Reset` headers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowStatus {
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds of the window's end (rounded up).
    pub reset: i64,
    pub exceeded: bool,
}

/// Effective limits (config, changed by [`Simulator::set_limits`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EffectiveLimits {
    pub rate_limit: u32,
    pub addon_rate_limit: u32,
    pub rate_window: Duration,
    pub flood_limit: u32,
    pub flood_window: Duration,
}

impl EffectiveLimits {
    fn from_config(config: &SimConfig) -> Self {
        Self {
            rate_limit: config.rate_limit,
            addon_rate_limit: config.addon_rate_limit,
            rate_window: config.rate_window,
            flood_limit: config.flood_limit,
            flood_window: config.flood_window,
        }
    }
}

pub(crate) struct State {
    pub config: SimConfig,
    /// Base for links when `config.public_url` is unset: the bound address (set by `start_on`).
    pub bound_base: Option<String>,
    pub limits: EffectiveLimits,
    pub tokens: HashMap<String, TokenRecord>,
    pub users: BTreeMap<u64, User>,
    pub rooms: BTreeMap<u64, Room>,
    pub next_room_id: u64,
    counters: BTreeMap<(String, Option<String>), Tally>,
    total: u64,
    faults: Vec<Fault>,
    rate: HashMap<String, Window>,
    flood: HashMap<u64, Window>,
}

impl State {
    fn new(config: SimConfig) -> Self {
        let limits = EffectiveLimits::from_config(&config);
        let mut state = Self {
            config,
            bound_base: None,
            limits,
            tokens: HashMap::new(),
            users: BTreeMap::new(),
            rooms: BTreeMap::new(),
            next_room_id: FIRST_ROOM_ID,
            counters: BTreeMap::new(),
            total: 0,
            faults: Vec::new(),
            rate: HashMap::new(),
            flood: HashMap::new(),
        };
        state.ensure_demo_user();
        state
    }

    fn reset(&mut self) {
        let bound_base = self.bound_base.take();
        *self = Self::new(self.config.clone());
        self.bound_base = bound_base;
    }

    fn ensure_demo_user(&mut self) {
        self.users.entry(DEMO_USER_ID).or_insert_with(|| User {
            id: DEMO_USER_ID,
            name: "Demo User".to_owned(),
            mention_name: "demo".to_owned(),
            version: random_version(),
        });
    }

    /// Base URL for links: the configured public URL, else the bound address, else `fallback`
    /// (derived from the request's `Host`).
    pub fn base(&self, fallback: Option<&str>) -> String {
        self.config
            .public_url
            .as_deref()
            .or(self.bound_base.as_deref())
            .or(fallback)
            .unwrap_or("")
            .trim_end_matches('/')
            .to_owned()
    }

    pub fn guest_url(&self, code: &str, fallback: Option<&str>) -> String {
        format!("{}/g{code}", self.base(fallback))
    }

    /// The user with this id, made up ("User <id>") if the simulator has not seen it.
    pub fn user_or_placeholder(&mut self, id: u64) -> &User {
        self.users.entry(id).or_insert_with(|| User {
            id,
            name: format!("User {id}"),
            mention_name: format!("user{id}"),
            version: random_version(),
        })
    }

    pub fn user_by_mention(&self, mention: &str) -> Option<u64> {
        self.users.values().find(|u| u.mention_name == mention).map(|u| u.id)
    }

    fn upsert_owner(&mut self, owner: &OwnerSpec) {
        let name = if owner.name.is_empty() { format!("User {}", owner.id) } else { owner.name.clone() };
        let mention_name =
            if owner.mention_name.is_empty() { format!("user{}", owner.id) } else { owner.mention_name.clone() };
        let user = self.users.entry(owner.id).or_insert_with(|| User {
            id: owner.id,
            name: name.clone(),
            mention_name: mention_name.clone(),
            version: random_version(),
        });
        if user.name != name || user.mention_name != mention_name {
            user.name = name;
            user.mention_name = mention_name;
            user.version = random_version();
        }
    }

    pub fn create_token(&mut self, spec: TokenSpec) -> TokenRecord {
        let token = spec.token.unwrap_or_else(|| random_alphanumeric(40));
        let scopes = spec.scopes.unwrap_or_else(|| ALL_SCOPES.iter().map(|s| (*s).to_owned()).collect());
        let owner_id = match &spec.owner {
            Some(owner) => {
                self.upsert_owner(owner);
                owner.id
            }
            None => {
                self.ensure_demo_user();
                DEMO_USER_ID
            }
        };
        let kind = spec.kind.unwrap_or_default();
        let created_at = spec.created_at.unwrap_or_else(Timestamp::now);
        let life = match kind {
            TokenKind::Personal => PERSONAL_TOKEN_LIFE,
            TokenKind::Addon => ADDON_TOKEN_LIFE,
        };
        let expires_at = spec.expires_at.unwrap_or_else(|| add(created_at, life));
        let record =
            TokenRecord { token: token.clone(), scopes, owner_id, created_at, expires_at, kind, revoked: false };
        self.rate.remove(&token);
        self.tokens.insert(token, record.clone());
        record
    }

    pub fn add_room(&mut self, spec: RoomSpec) -> u64 {
        let id = self.next_room_id;
        self.next_room_id += 1;
        let owner_id = spec.owner_id.unwrap_or(DEMO_USER_ID);
        self.user_or_placeholder(owner_id);
        let now = Timestamp::now();
        let privacy = if spec.privacy.as_deref() == Some("private") { "private" } else { "public" };
        self.rooms.insert(
            id,
            Room {
                id,
                name: spec.name,
                topic: spec.topic.unwrap_or_default(),
                privacy: privacy.to_owned(),
                archived: spec.archived.unwrap_or(false),
                guest_code: spec.guest_access.unwrap_or(false).then(|| random_alphanumeric(8)),
                owner_id,
                created: now,
                last_active: now,
                version: random_version(),
                notifications: Vec::new(),
                messages: Vec::new(),
            },
        );
        id
    }

    pub fn snapshot(&self, room: &Room) -> RoomSnapshot {
        RoomSnapshot {
            id: room.id,
            name: room.name.clone(),
            topic: room.topic.clone(),
            privacy: room.privacy.clone(),
            is_archived: room.archived,
            is_guest_accessible: room.guest_code.is_some(),
            guest_access_url: room.guest_code.as_deref().map(|c| self.guest_url(c, None)),
            owner_id: room.owner_id,
            created: room.created,
            notifications: room.notifications.clone(),
            messages: room.messages.clone(),
        }
    }

    pub fn room_by_guest_code(&self, code: &str) -> Option<&Room> {
        self.rooms.values().find(|r| r.guest_code.as_deref() == Some(code))
    }

    /// Is `name` free, ignoring the room `except`?
    pub fn name_taken(&self, name: &str, except: Option<u64>) -> bool {
        let ignore_case = self.config.unique_names_ignore_case;
        let lower = name.to_lowercase();
        self.rooms
            .values()
            .any(|r| Some(r.id) != except && if ignore_case { r.name.to_lowercase() == lower } else { r.name == name })
    }

    /// Count one `/v2` request, and where it carried its token.
    pub fn count(&mut self, endpoint: &str, token: Option<&str>, sources: TokenSources) {
        self.total += 1;
        let tally = self.counters.entry((endpoint.to_owned(), token.map(str::to_owned))).or_default();
        tally.count += 1;
        tally.header += u64::from(sources.header);
        tally.query += u64::from(sources.query);
    }

    /// Take one use of the first pending fault that matches `endpoint`.
    pub fn take_fault(&mut self, endpoint: &str) -> Option<FaultAction> {
        let index =
            self.faults.iter().position(|f| f.count > 0 && f.endpoint.as_deref().is_none_or(|e| e == endpoint))?;
        let fault = self.faults.get_mut(index)?;
        fault.count -= 1;
        let action = fault.action.clone();
        if fault.count == 0 {
            self.faults.remove(index);
        }
        Some(action)
    }

    /// Count a request against `token`'s rate-limit window.
    pub fn hit_rate(&mut self, token: &TokenRecord, now: Timestamp) -> WindowStatus {
        let limit = match token.kind {
            TokenKind::Personal => self.limits.rate_limit,
            TokenKind::Addon => self.limits.addon_rate_limit,
        };
        let window = self.rate.entry(token.token.clone()).or_insert(Window { start: now, count: 0 });
        hit(window, now, self.limits.rate_window, limit)
    }

    /// Count a send against `room`'s flood-control window.
    pub fn hit_flood(&mut self, room: u64, now: Timestamp) -> WindowStatus {
        let window = self.flood.entry(room).or_insert(Window { start: now, count: 0 });
        hit(window, now, self.limits.flood_window, self.limits.flood_limit)
    }

    pub fn forget_flood(&mut self, room: u64) {
        self.flood.remove(&room);
    }
}

fn hit(window: &mut Window, now: Timestamp, length: Duration, limit: u32) -> WindowStatus {
    if now >= add(window.start, length) {
        *window = Window { start: now, count: 0 };
    }
    window.count = window.count.saturating_add(1);
    let end = add(window.start, length);
    let reset = end.as_second() + i64::from(end.subsec_nanosecond() > 0);
    WindowStatus { limit, remaining: limit.saturating_sub(window.count), reset, exceeded: window.count > limit }
}

/// `ts + d`, saturating at the end of jiff's range.
pub(crate) fn add(ts: Timestamp, d: Duration) -> Timestamp {
    ts.saturating_add(d).unwrap_or(Timestamp::MAX)
}

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn random_from(alphabet: &[u8], len: usize) -> String {
    (0..len).map(|_| char::from(alphabet[fastrand::usize(..alphabet.len())])).collect()
}

/// `len` random ASCII letters and digits.
pub(crate) fn random_alphanumeric(len: usize) -> String {
    random_from(ALPHANUMERIC, len)
}

/// A HipChat object version: 8 uppercase letters and digits.
pub(crate) fn random_version() -> String {
    random_from(UPPER_ALPHANUMERIC, 8)
}

/// A random (version 4) UUID string.
pub(crate) fn random_uuid() -> String {
    let mut bytes: [u8; 16] = fastrand::u128(..).to_be_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

impl Simulator {
    /// A new, empty simulated group (only the demo user exists).
    pub fn new(config: SimConfig) -> Self {
        Self { inner: Arc::new(Mutex::new(State::new(config))) }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-written in a way that matters
        // for a test double; keep serving.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn set_bound_base(&self, base: String) {
        self.lock().bound_base = Some(base);
    }

    /// Create (or replace) a token and return its value.
    pub fn create_token(&self, spec: TokenSpec) -> String {
        self.lock().create_token(spec).token
    }

    /// Make the token expire now. `false` if unknown.
    pub fn expire_token(&self, token: &str) -> bool {
        let now = Timestamp::now();
        match self.lock().tokens.get_mut(token) {
            Some(record) => {
                record.expires_at = now;
                true
            }
            None => false,
        }
    }

    /// Revoke the token (as `DELETE /v2/oauth/token/{token}` does). `false` if unknown.
    pub fn revoke_token(&self, token: &str) -> bool {
        match self.lock().tokens.get_mut(token) {
            Some(record) => {
                record.revoked = true;
                true
            }
            None => false,
        }
    }

    /// Seed a room directly (no validation, no rate limit) and return its id.
    pub fn add_room(&self, spec: RoomSpec) -> u64 {
        self.lock().add_room(spec)
    }

    /// All rooms (archived and private included), by id, with what was posted to them.
    pub fn rooms(&self) -> Vec<RoomSnapshot> {
        let state = self.lock();
        state.rooms.values().map(|r| state.snapshot(r)).collect()
    }

    /// One room by id.
    pub fn room(&self, id: u64) -> Option<RoomSnapshot> {
        let state = self.lock();
        state.rooms.get(&id).map(|r| state.snapshot(r))
    }

    /// Request counters.
    pub fn counters(&self) -> Counters {
        let state = self.lock();
        Counters {
            total: state.total,
            requests: state
                .counters
                .iter()
                .map(|((endpoint, token), tally)| CounterRow {
                    endpoint: endpoint.clone(),
                    token: token.clone(),
                    count: tally.count,
                    token_in_header: tally.header,
                    token_in_query: tally.query,
                })
                .collect(),
        }
    }

    /// Queue a fault (faults apply in the order they were injected).
    pub fn inject_fault(&self, fault: Fault) {
        if fault.count > 0 {
            self.lock().faults.push(fault);
        }
    }

    /// Faults not yet used up.
    pub fn faults(&self) -> Vec<Fault> {
        self.lock().faults.clone()
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Change rate/flood limits; starts fresh windows for all tokens and rooms.
    pub fn set_limits(&self, limits: Limits) {
        let mut state = self.lock();
        if let Some(n) = limits.rate_limit {
            state.limits.rate_limit = n;
        }
        if let Some(s) = limits.rate_window_seconds {
            state.limits.rate_window = Duration::from_secs(s);
        }
        if let Some(n) = limits.flood_limit {
            state.limits.flood_limit = n;
        }
        if let Some(s) = limits.flood_window_seconds {
            state.limits.flood_window = Duration::from_secs(s);
        }
        state.rate.clear();
        state.flood.clear();
    }

    /// Current limits.
    pub fn limits(&self) -> Limits {
        let state = self.lock();
        Limits {
            rate_limit: Some(state.limits.rate_limit),
            rate_window_seconds: Some(state.limits.rate_window.as_secs()),
            flood_limit: Some(state.limits.flood_limit),
            flood_window_seconds: Some(state.limits.flood_window.as_secs()),
        }
    }

    /// Back to empty: no tokens, rooms, counters or faults; limits from the config; room ids restart.
    pub fn reset(&self) {
        self.lock().reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_has_the_canonical_shape() {
        let id = random_uuid();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert!(parts[2].starts_with('4'));
    }

    #[test]
    fn window_counts_then_rolls_over() {
        let start = Timestamp::from_second(1_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let mut w = Window { start, count: 0 };
        let len = Duration::from_secs(10);
        let first = hit(&mut w, start, len, 2);
        assert_eq!((first.remaining, first.exceeded, first.reset), (1, false, 1_010));
        let _ = hit(&mut w, start, len, 2);
        assert!(hit(&mut w, start, len, 2).exceeded);
        let later = hit(&mut w, add(start, len), len, 2);
        assert_eq!((later.remaining, later.exceeded, later.reset), (1, false, 1_020));
    }
}
