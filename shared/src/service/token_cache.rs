//! The partners' HipChat tokens, cached in memory per warm container (docs/design.md, "Data").
//!
//! A chat request must not read Secrets Manager every time: the token is kept for [`TTL`]
//! once read. An entry is tied to the token *metadata* stored beside the settings (last four
//! characters and issue date), which every request reads anyway: when a partner stores a new
//! token, the metadata changes and the next request reads the new secret at once instead of
//! using the old token until the TTL ends. A HipChat 401 drops the entry ([`TokenCache::forget`]).

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;

use crate::domain::partner::PartnerId;
use crate::domain::token::TokenMeta;
use crate::ports::{PortError, TokenSecrets};

/// How long a token read from Secrets Manager is used without reading it again.
pub const TTL: SignedDuration = SignedDuration::from_secs(300);

struct Entry {
    last4: String,
    issued_on: jiff::civil::Date,
    token: SecretString,
    read_at: Timestamp,
}

/// A [`TokenSecrets`] port with an in-memory cache in front of it.
pub struct TokenCache<T> {
    secrets: T,
    entries: Mutex<HashMap<PartnerId, Entry>>,
}

impl<T: TokenSecrets> TokenCache<T> {
    pub fn new(secrets: T) -> Self {
        Self { secrets, entries: Mutex::new(HashMap::new()) }
    }

    /// The port behind the cache.
    pub fn inner(&self) -> &T {
        &self.secrets
    }

    /// The partner's token for the stored metadata `meta`: from memory when it was read for the
    /// same token less than [`TTL`] ago, else from the port (and remembered). `None` when the
    /// secret does not exist.
    pub async fn get(
        &self,
        partner: &PartnerId,
        meta: &TokenMeta,
        now: Timestamp,
    ) -> Result<Option<SecretString>, PortError> {
        if let Some(token) = self.cached(partner, meta, now) {
            return Ok(Some(token));
        }
        let token = self.secrets.get(partner).await?;
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match &token {
            Some(t) => {
                let entry =
                    Entry { last4: meta.last4.clone(), issued_on: meta.issued_on, token: t.clone(), read_at: now };
                entries.insert(partner.clone(), entry);
            }
            None => {
                entries.remove(partner);
            }
        }
        Ok(token)
    }

    /// Drops the partner's cached token (HipChat rejected it, or it was replaced).
    pub fn forget(&self, partner: &PartnerId) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).remove(partner);
    }

    fn cached(&self, partner: &PartnerId, meta: &TokenMeta, now: Timestamp) -> Option<SecretString> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let e = entries.get(partner)?;
        let fresh = now.duration_since(e.read_at) < TTL && now >= e.read_at;
        (fresh && e.last4 == meta.last4 && e.issued_on == meta.issued_on).then(|| e.token.clone())
    }
}
