//! In-memory fakes of the ports, for handler tests. They keep the same
//! contract as the adapters (conditional writes, cascade delete) and count calls.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use jiff::Timestamp;
use secrecy::SecretString;

use shared::domain::partner::PartnerId;
use shared::domain::settings::Settings;
use shared::domain::token::{TokenCheck, TokenMeta};
use shared::ports::{
    ChatContext, Clock, DeliveryClaim, DeliveryKey, DeliveryStore, MappedRoom, PortError, Precondition, RoomMapping,
    RoomStore, SettingsStore, SignatureLedger, SigningKeySource, StoredSettings, TokenSecrets,
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
    /// Served request signatures, until when they are kept.
    pub signatures: Mutex<HashMap<[u8; 32], Timestamp>>,
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

impl shared::ports::TokenIndex for MemoryStore {
    async fn tokens_expiring(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<Vec<shared::ports::PartnerSettings>, PortError> {
        self.token_index(|t, _| t.expires_on >= from && t.expires_on <= to)
    }

    async fn tokens_checked_before(
        &self,
        before: jiff::civil::Date,
    ) -> Result<Vec<shared::ports::PartnerSettings>, PortError> {
        self.token_index(|t, updated_at| shared::domain::token::today(t.checked_at.unwrap_or(updated_at)) < before)
    }
}

impl MemoryStore {
    /// The settings with a token that `keep` selects (by token and the record's last update).
    fn token_index(
        &self,
        keep: impl Fn(&TokenMeta, Timestamp) -> bool,
    ) -> Result<Vec<shared::ports::PartnerSettings>, PortError> {
        self.enter()?;
        let items = self.items.lock().unwrap();
        let mut found: Vec<_> = items
            .iter()
            .filter(|(_, s)| s.token.as_ref().is_some_and(|t| keep(t, s.updated_at)))
            .map(|(p, s)| shared::ports::PartnerSettings { partner: p.clone(), stored: s.clone() })
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

impl SignatureLedger for MemoryStore {
    async fn first_use(&self, tag: &[u8; 32], expires_at: Timestamp, now: Timestamp) -> Result<bool, PortError> {
        self.enter()?;
        let mut signatures = self.signatures.lock().unwrap();
        if signatures.get(tag).is_some_and(|kept| kept.as_second() >= now.as_second()) {
            return Ok(false);
        }
        signatures.insert(*tag, expires_at);
        Ok(true)
    }
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
