//! In-memory fakes of the ports, for handler tests. They keep the same
//! contract as the adapters (conditional writes, cascade delete) and count calls.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use jiff::Timestamp;
use secrecy::SecretString;

use crate::domain::partner::PartnerId;
use crate::domain::settings::Settings;
use crate::domain::token::{TokenCheck, TokenMeta};
use crate::ports::{
    ChatContext, Clock, DeliveryClaim, DeliveryKey, DeliveryStore, MappedRoom, PortError, Precondition, RoomMapping,
    RoomStore, SettingsStore, SigningKeySource, StoredSettings, TokenSecrets,
};

/// A settings store in a `HashMap`; `fail_with_unavailable` makes every call fail.
#[derive(Default)]
pub struct MemoryStore {
    pub items: Mutex<HashMap<PartnerId, StoredSettings>>,
    /// Other items of a partner (room mappings etc.), counted for the cascade delete.
    pub other_items: Mutex<HashMap<PartnerId, usize>>,
    /// Room mappings by (partner, user id).
    pub rooms: Mutex<HashMap<(PartnerId, String), RoomMapping>>,
    /// Delivery records (events, reminders) by (partner, sort key).
    pub events: Mutex<HashMap<(PartnerId, String), MemoryEvent>>,
    pub unavailable: std::sync::atomic::AtomicBool,
    pub calls: AtomicUsize,
}

impl MemoryStore {
    fn enter(&self) -> Result<(), PortError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(PortError::Unavailable { what: "memory store", source: "switched off by the test".into() });
        }
        Ok(())
    }
}

impl SettingsStore for MemoryStore {
    async fn get(&self, partner: &PartnerId) -> Result<Option<StoredSettings>, PortError> {
        self.enter()?;
        Ok(self.items.lock().unwrap().get(partner).cloned())
    }

    async fn put(
        &self,
        partner: &PartnerId,
        settings: &Settings,
        pre: &Precondition,
        now: Timestamp,
    ) -> Result<StoredSettings, PortError> {
        self.enter()?;
        let mut items = self.items.lock().unwrap();
        let current = items.get(partner);
        let ok = match pre {
            Precondition::None => true,
            Precondition::Exists => current.is_some(),
            Precondition::Versions(vs) => current.is_some_and(|c| vs.contains(&c.version)),
        };
        if !ok {
            return Err(PortError::Conflict);
        }
        let next = StoredSettings {
            settings: settings.clone(),
            version: current.map_or(0, |c| c.version) + 1,
            updated_at: now,
            token: current.and_then(|c| c.token.clone()),
        };
        items.insert(partner.clone(), next.clone());
        Ok(next)
    }

    async fn set_token(
        &self,
        partner: &PartnerId,
        token: &TokenMeta,
        now: Timestamp,
    ) -> Result<StoredSettings, PortError> {
        self.enter()?;
        let mut items = self.items.lock().unwrap();
        let entry = items.entry(partner.clone()).or_insert_with(|| StoredSettings {
            settings: Settings::inactive(),
            version: 0,
            updated_at: now,
            token: None,
        });
        entry.token = Some(token.clone());
        entry.version += 1;
        entry.updated_at = now;
        Ok(entry.clone())
    }

    async fn record_token_check(
        &self,
        partner: &PartnerId,
        checked: &TokenMeta,
        check: &TokenCheck,
    ) -> Result<bool, PortError> {
        self.enter()?;
        let mut items = self.items.lock().unwrap();
        let Some(token) = items.get_mut(partner).and_then(|s| s.token.as_mut()).filter(|t| t.same_token(checked))
        else {
            return Ok(false);
        };
        *token = token.clone().with_check(check);
        Ok(true)
    }

    async fn clear_token(&self, partner: &PartnerId, now: Timestamp) -> Result<(), PortError> {
        self.enter()?;
        if let Some(s) = self.items.lock().unwrap().get_mut(partner).filter(|s| s.token.is_some()) {
            s.token = None;
            s.version += 1;
            s.updated_at = now;
        }
        Ok(())
    }

    async fn delete_partner(&self, partner: &PartnerId) -> Result<usize, PortError> {
        self.enter()?;
        let a = usize::from(self.items.lock().unwrap().remove(partner).is_some());
        let b = self.other_items.lock().unwrap().remove(partner).unwrap_or(0);
        let mut rooms = self.rooms.lock().unwrap();
        let before = rooms.len();
        rooms.retain(|(p, _), _| p != partner);
        let mut events = self.events.lock().unwrap();
        let events_before = events.len();
        events.retain(|(p, _), _| p != partner);
        Ok(a + b + before - rooms.len() + events_before - events.len())
    }
}

impl RoomStore for MemoryStore {
    async fn chat_context(&self, partner: &PartnerId, user_id: &str) -> Result<ChatContext, PortError> {
        self.enter()?;
        Ok(ChatContext {
            settings: self.items.lock().unwrap().get(partner).cloned(),
            room: self.rooms.lock().unwrap().get(&(partner.clone(), user_id.to_owned())).cloned(),
        })
    }

    async fn room(&self, partner: &PartnerId, user_id: &str) -> Result<Option<RoomMapping>, PortError> {
        self.enter()?;
        Ok(self.rooms.lock().unwrap().get(&(partner.clone(), user_id.to_owned())).cloned())
    }

    async fn claim_room(
        &self,
        partner: &PartnerId,
        user_id: &str,
        claim_id: &str,
        lease_until: Timestamp,
        replacing: Option<u64>,
        now: Timestamp,
    ) -> Result<bool, PortError> {
        self.enter()?;
        let mut rooms = self.rooms.lock().unwrap();
        let key = (partner.clone(), user_id.to_owned());
        let free = match rooms.get(&key) {
            None => true,
            Some(RoomMapping::Pending { lease_until, .. }) => lease_until.as_second() < now.as_second(),
            Some(RoomMapping::Ready(r)) => replacing == Some(r.room_id),
        };
        if free {
            rooms.insert(key, RoomMapping::Pending { claim_id: claim_id.to_owned(), lease_until });
        }
        Ok(free)
    }

    async fn store_room(
        &self,
        partner: &PartnerId,
        user_id: &str,
        claim_id: &str,
        room: &MappedRoom,
    ) -> Result<bool, PortError> {
        self.enter()?;
        let mut rooms = self.rooms.lock().unwrap();
        let key = (partner.clone(), user_id.to_owned());
        let ours = matches!(rooms.get(&key), Some(RoomMapping::Pending { claim_id: c, .. }) if c == claim_id);
        if ours {
            rooms.insert(key, RoomMapping::Ready(room.clone()));
        }
        Ok(ours)
    }

    async fn release_room(&self, partner: &PartnerId, user_id: &str, claim_id: &str) -> Result<(), PortError> {
        self.enter()?;
        let mut rooms = self.rooms.lock().unwrap();
        let key = (partner.clone(), user_id.to_owned());
        if matches!(rooms.get(&key), Some(RoomMapping::Pending { claim_id: c, .. }) if c == claim_id) {
            rooms.remove(&key);
        }
        Ok(())
    }
}

impl crate::ports::TokenIndex for MemoryStore {
    async fn tokens_expiring(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<Vec<crate::ports::PartnerSettings>, PortError> {
        self.token_index(|t, _| t.expires_on >= from && t.expires_on <= to)
    }

    async fn tokens_checked_before(
        &self,
        before: jiff::civil::Date,
    ) -> Result<Vec<crate::ports::PartnerSettings>, PortError> {
        self.token_index(|t, updated_at| crate::domain::token::today(t.checked_at.unwrap_or(updated_at)) < before)
    }
}

impl MemoryStore {
    /// The settings with a token that `keep` selects (by token and the record's last update).
    fn token_index(
        &self,
        keep: impl Fn(&TokenMeta, Timestamp) -> bool,
    ) -> Result<Vec<crate::ports::PartnerSettings>, PortError> {
        self.enter()?;
        let items = self.items.lock().unwrap();
        let mut found: Vec<_> = items
            .iter()
            .filter(|(_, s)| s.token.as_ref().is_some_and(|t| keep(t, s.updated_at)))
            .map(|(p, s)| crate::ports::PartnerSettings { partner: p.clone(), stored: s.clone() })
            .collect();
        found.sort_by(|a, b| a.partner.as_str().cmp(b.partner.as_str()));
        Ok(found)
    }
}

/// An event record of [`MemoryStore`]: `claim_id` and `lease_until` while pending, neither
/// once delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryEvent {
    pub claim_id: Option<String>,
    pub lease_until: Option<Timestamp>,
    pub expires_at: Timestamp,
}

impl DeliveryStore for MemoryStore {
    async fn claim_delivery(
        &self,
        partner: &PartnerId,
        key: &DeliveryKey<'_>,
        claim_id: &str,
        lease_until: Timestamp,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<DeliveryClaim, PortError> {
        self.enter()?;
        let mut events = self.events.lock().unwrap();
        let key = (partner.clone(), key.sort_key());
        let found = match events.get(&key) {
            Some(e) if e.expires_at.as_second() >= now.as_second() => match e.lease_until {
                None => Some(DeliveryClaim::Delivered),
                Some(l) if l.as_second() >= now.as_second() => Some(DeliveryClaim::InFlight { lease_until: l }),
                Some(_) => None,
            },
            _ => None,
        };
        if let Some(found) = found {
            return Ok(found);
        }
        let record = MemoryEvent { claim_id: Some(claim_id.to_owned()), lease_until: Some(lease_until), expires_at };
        events.insert(key, record);
        Ok(DeliveryClaim::Claimed)
    }

    async fn mark_delivered(
        &self,
        partner: &PartnerId,
        key: &DeliveryKey<'_>,
        claim_id: &str,
        _now: Timestamp,
    ) -> Result<bool, PortError> {
        self.enter()?;
        let mut events = self.events.lock().unwrap();
        match events.get_mut(&(partner.clone(), key.sort_key())) {
            Some(e) if e.claim_id.as_deref() == Some(claim_id) => {
                e.claim_id = None;
                e.lease_until = None;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release_delivery(
        &self,
        partner: &PartnerId,
        key: &DeliveryKey<'_>,
        claim_id: &str,
    ) -> Result<(), PortError> {
        self.enter()?;
        let mut events = self.events.lock().unwrap();
        let key = (partner.clone(), key.sort_key());
        if events.get(&key).is_some_and(|e| e.claim_id.as_deref() == Some(claim_id)) {
            events.remove(&key);
        }
        Ok(())
    }
}

/// Token secrets in a `HashMap`; counts reads.
#[derive(Default)]
pub struct MemorySecrets {
    pub secrets: Mutex<HashMap<PartnerId, SecretString>>,
    pub reads: AtomicUsize,
}

impl TokenSecrets for MemorySecrets {
    fn secret_name(&self, partner: &PartnerId) -> String {
        format!("memory/partners/{partner}/hipchat-token")
    }

    async fn put(&self, partner: &PartnerId, token: &SecretString) -> Result<(), PortError> {
        self.secrets.lock().unwrap().insert(partner.clone(), token.clone());
        Ok(())
    }

    async fn get(&self, partner: &PartnerId) -> Result<Option<SecretString>, PortError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(self.secrets.lock().unwrap().get(partner).cloned())
    }

    async fn delete(&self, partner: &PartnerId) -> Result<(), PortError> {
        self.secrets.lock().unwrap().remove(partner);
        Ok(())
    }
}

/// Signing keys a test can change (rotation) or make unavailable; counts loads.
pub struct StaticKeys {
    pub keys: Mutex<Vec<String>>,
    pub fail: std::sync::atomic::AtomicBool,
    pub loads: AtomicUsize,
}

impl StaticKeys {
    pub fn new(keys: &[&str]) -> Self {
        Self {
            keys: Mutex::new(keys.iter().map(|k| k.to_string()).collect()),
            fail: std::sync::atomic::AtomicBool::new(false),
            loads: AtomicUsize::new(0),
        }
    }

    pub fn set_keys(&self, keys: &[&str]) {
        *self.keys.lock().unwrap() = keys.iter().map(|k| k.to_string()).collect();
    }
}

impl SigningKeySource for StaticKeys {
    async fn load(&self) -> Result<Vec<SecretString>, PortError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(PortError::Unavailable { what: "static keys", source: "switched off by the test".into() });
        }
        Ok(self.keys.lock().unwrap().iter().cloned().map(SecretString::from).collect())
    }
}

/// A clock that says what the test wants.
pub struct FixedClock(pub Mutex<Timestamp>);

impl FixedClock {
    pub fn at(ts: &str) -> Self {
        Self(Mutex::new(ts.parse().expect("test timestamp")))
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

/// Signs `req` with `key` at `now` (unix seconds), as dynaBOARD does: the timestamp and
/// signature headers over its method, path and query as sent, and raw body.
pub fn sign_request(req: &mut lambda_http::Request, key: &str, now: i64) {
    use crate::domain::signature::{SIGNATURE_HEADER, SignedParts, TIMESTAMP_HEADER, sign};
    let path = crate::adapters::http::signed_path(req);
    let sig = sign(
        key.as_bytes(),
        now,
        &SignedParts { method: req.method().as_str(), path_and_query: &path, body: req.body().as_ref() },
    );
    let headers = req.headers_mut();
    headers.insert(TIMESTAMP_HEADER, lambda_http::http::HeaderValue::from(now));
    headers
        .insert(SIGNATURE_HEADER, lambda_http::http::HeaderValue::try_from(sig).expect("hex is a valid header value"));
}

/// A real `lambda_http` request (JSON content type), signed with `key` at `now`.
pub fn signed_request(method: &str, path_and_query: &str, body: &str, key: &str, now: i64) -> lambda_http::Request {
    let body = if body.is_empty() { lambda_http::Body::Empty } else { lambda_http::Body::Text(body.to_owned()) };
    let mut req = lambda_http::http::Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("content-type", "application/json")
        .body(body)
        .expect("a valid test request");
    sign_request(&mut req, key, now);
    req
}

/// A handler's answer as (status, JSON body); `null` for an empty body.
pub fn status_and_json(resp: &lambda_http::Response<lambda_http::Body>) -> (u16, serde_json::Value) {
    let body = match resp.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).expect("a JSON body"),
        lambda_http::Body::Binary(b) => serde_json::from_slice(b).expect("a JSON body"),
        _ => serde_json::Value::Null,
    };
    (resp.status().as_u16(), body)
}

/// [`HipchatDeps`](crate::adapters::HipchatDeps) for handler tests: `store` and `secrets` (fakes,
/// or the AWS adapters on moto), the signing key `key`, the clock at `now`, and the real HipChat
/// client with short timeouts (2 s to connect, 3 s in all).
pub fn hipchat_deps<S, T: crate::ports::TokenSecrets>(
    store: S,
    secrets: T,
    key: &str,
    now: &str,
) -> crate::adapters::HipchatDeps<S, T, StaticKeys, FixedClock, crate::adapters::hipchat::HipchatClient> {
    use std::time::Duration;
    let http = crate::adapters::hipchat::http_client_with(Duration::from_secs(2), Duration::from_secs(3))
        .expect("an HTTP client");
    crate::adapters::HipchatDeps {
        store,
        tokens: crate::service::token_cache::TokenCache::new(secrets),
        auth: crate::adapters::http::Authenticator::new(StaticKeys::new(&[key]), Duration::from_secs(300)),
        clock: FixedClock::at(now),
        hipchat: crate::adapters::hipchat::HipchatClient::new(http),
    }
}

/// Stores the settings document `doc` (which must be valid) for `partner`, unconditionally.
pub async fn store_settings(store: &impl SettingsStore, partner: &PartnerId, doc: &serde_json::Value, now: Timestamp) {
    let settings = crate::domain::settings::parse_settings(doc).expect("valid settings").settings;
    store.put(partner, &settings, &Precondition::None, now).await.expect("settings stored");
}

/// Stores `token` as `PUT /token` does: the secret, and its metadata with the settings.
pub async fn store_token(
    store: &impl SettingsStore,
    secrets: &impl TokenSecrets,
    partner: &PartnerId,
    token: &str,
    now: Timestamp,
) {
    let secret = SecretString::from(token);
    secrets.put(partner, &secret).await.expect("token stored");
    let meta = TokenMeta::new(&secret, crate::service::settings::today(now));
    store.set_token(partner, &meta, now).await.expect("token metadata stored");
}

/// Log lines captured in memory: a `MakeWriter` for [`crate::telemetry::subscriber`], e.g.
/// `let _guard = tracing::subscriber::set_default(subscriber(None, true, buf.clone()));`.
#[derive(Clone, Default)]
pub struct LogBuffer(std::sync::Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
