//! The request-signature check, with the signing keys cached in memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::Request;
use secrecy::SecretString;
use tokio::sync::RwLock;

use super::{body_bytes, signed_path};
use crate::domain::signature::{self, Rejection, SignedParts};
use crate::error::{AppError, chain};
use crate::ports::SigningKeySource;

/// After a mismatch, keys older than this are reloaded once (a key was just rotated in).
pub const REFRESH_ON_MISMATCH_AFTER: Duration = Duration::from_secs(30);

struct Cached {
    keys: Arc<Vec<SecretString>>,
    loaded: Instant,
}

/// Verifies request signatures against keys from a [`SigningKeySource`], cached for `ttl`.
///
/// If a reload fails (Secrets Manager briefly unreachable) while keys are cached, the cached
/// keys go on being used, with a warning: an outage of the key store does not lock everyone
/// out. Without any keys a load failure is the request's error (500/503).
pub struct Authenticator<K> {
    source: K,
    ttl: Duration,
    refresh_on_mismatch_after: Duration,
    cache: RwLock<Option<Cached>>,
}

impl<K: SigningKeySource> Authenticator<K> {
    pub fn new(source: K, ttl: Duration) -> Self {
        Self { source, ttl, refresh_on_mismatch_after: REFRESH_ON_MISMATCH_AFTER, cache: RwLock::new(None) }
    }

    /// Changes how old cached keys must be before a mismatch reloads them (tests use 0).
    pub fn with_refresh_on_mismatch_after(self, d: Duration) -> Self {
        Self { refresh_on_mismatch_after: d, ..self }
    }

    /// The key source (tests count its loads).
    pub fn source(&self) -> &K {
        &self.source
    }

    async fn keys(&self, force: bool) -> Result<(Arc<Vec<SecretString>>, Instant), AppError> {
        let fresh = |c: &Cached| {
            let age = c.loaded.elapsed();
            age < self.ttl && (!force || age < self.refresh_on_mismatch_after)
        };
        if let Some(c) = self.cache.read().await.as_ref().filter(|c| fresh(c)) {
            return Ok((c.keys.clone(), c.loaded));
        }
        let mut guard = self.cache.write().await;
        // Another request may have reloaded while we waited for the lock.
        if let Some(c) = guard.as_ref().filter(|c| fresh(c)) {
            return Ok((c.keys.clone(), c.loaded));
        }
        match self.source.load().await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                let loaded = Instant::now();
                *guard = Some(Cached { keys: keys.clone(), loaded });
                Ok((keys, loaded))
            }
            Err(e) => match guard.as_ref() {
                Some(c) => {
                    tracing::warn!(error = %chain(&e), "reloading the signing keys failed; using the cached keys");
                    Ok((c.keys.clone(), c.loaded))
                }
                None => Err(e.into()),
            },
        }
    }

    /// Checks the signature of `req` at `now` (unix seconds), before its body is parsed, and
    /// returns the MAC it carries (what the replay check records). Any failure is the same 401,
    /// with the reason only in the log.
    pub async fn verify(&self, req: &Request, now: i64) -> Result<[u8; 32], AppError> {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let path = signed_path(req);
        // The MAC covers the raw body; an over-long body is refused after authentication.
        let body: &[u8] = req.body().as_ref();
        let parts = SignedParts { method: req.method().as_str(), path_and_query: &path, body };
        let (ts, sig) = (header(signature::TIMESTAMP_HEADER), header(signature::SIGNATURE_HEADER));
        let (keys, loaded) = self.keys(false).await?;
        let mut result = signature::verify(&keys, ts, sig, &parts, now);
        if result == Err(Rejection::Mismatch) && loaded.elapsed() >= self.refresh_on_mismatch_after {
            let (keys, _) = self.keys(true).await?;
            result = signature::verify(&keys, ts, sig, &parts, now);
        }
        // A verified header parses; the decoded bytes name the request whatever the hex case.
        match result.and_then(|()| signature::parse_signature(sig.unwrap_or_default())) {
            Ok(tag) => {
                body_bytes(req)?;
                Ok(tag)
            }
            Err(reason) => Err(refused(reason)),
        }
    }
}

/// The one 401 every refused signature gets; the reason goes to the log only.
pub(super) fn refused(reason: impl std::fmt::Display) -> AppError {
    tracing::warn!(%reason, "request signature refused");
    AppError::Unauthorized
}
