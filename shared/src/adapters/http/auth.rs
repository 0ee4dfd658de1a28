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

    /// Checks the signature of `req` at `now` (unix seconds), before its body is parsed.
    /// Any failure is the same 401, with the reason only in the log.
    pub async fn verify(&self, req: &Request, now: i64) -> Result<(), AppError> {
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
        match result {
            Ok(()) => {
                body_bytes(req)?;
                Ok(())
            }
            Err(reason) => {
                tracing::warn!(%reason, "request signature refused");
                Err(AppError::Unauthorized)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{StaticKeys, signed_request};
    use std::sync::atomic::Ordering;

    const NOW: i64 = 1_790_000_000;

    fn request(key: &str) -> Request {
        signed_request("GET", "/v1/partners/p/settings", "", key, NOW)
    }

    #[tokio::test]
    async fn a_key_rotated_in_while_warm_is_picked_up_on_the_first_mismatch() {
        let auth = Authenticator::new(StaticKeys::new(&["old"]), Duration::from_secs(300))
            .with_refresh_on_mismatch_after(Duration::ZERO);
        auth.verify(&request("old"), NOW).await.unwrap();
        auth.source().set_keys(&["old", "new"]);
        auth.verify(&request("new"), NOW).await.unwrap();
        assert_eq!(auth.source().loads.load(Ordering::SeqCst), 2);
        // The reloaded set is cached: no reload for the next request with either key.
        auth.verify(&request("old"), NOW).await.unwrap();
        assert_eq!(auth.source().loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn recently_loaded_keys_are_not_reloaded_for_every_bad_signature() {
        let auth = Authenticator::new(StaticKeys::new(&["k"]), Duration::from_secs(300));
        for _ in 0..5 {
            assert!(matches!(auth.verify(&request("wrong"), NOW).await, Err(AppError::Unauthorized)));
        }
        assert_eq!(auth.source().loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn cached_keys_survive_a_failed_reload() {
        let auth = Authenticator::new(StaticKeys::new(&["k"]), Duration::ZERO);
        auth.verify(&request("k"), NOW).await.unwrap();
        auth.source().fail.store(true, Ordering::SeqCst);
        auth.verify(&request("k"), NOW).await.unwrap();
        assert!(matches!(auth.verify(&request("wrong"), NOW).await, Err(AppError::Unauthorized)));
    }

    #[tokio::test]
    async fn without_any_keys_a_load_failure_is_not_a_401() {
        let keys = StaticKeys::new(&["k"]);
        keys.fail.store(true, Ordering::SeqCst);
        let auth = Authenticator::new(keys, Duration::from_secs(300));
        assert!(matches!(auth.verify(&request("k"), NOW).await, Err(AppError::Unavailable(_))));
    }
}
