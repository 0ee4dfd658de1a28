//! The in-memory token cache in front of the token secrets.

use jiff::Timestamp;
use secrecy::ExposeSecret;
use secrecy::SecretString;
use shared::domain::partner::PartnerId;
use shared::domain::token::TokenMeta;
use shared::ports::TokenSecrets;
use shared::service::token_cache::TokenCache;
use std::sync::atomic::Ordering;
use test_support::MemorySecrets;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

async fn setup(token: &str) -> (TokenCache<MemorySecrets>, PartnerId, TokenMeta) {
    let cache = TokenCache::new(MemorySecrets::default());
    let p = PartnerId::parse("p1").unwrap();
    let secret = SecretString::from(token);
    cache.inner().put(&p, &secret).await.unwrap();
    let meta = TokenMeta::new(&secret, jiff::civil::date(2026, 11, 1));
    (cache, p, meta)
}

#[tokio::test]
async fn reads_the_secret_once_within_the_ttl() {
    let (cache, p, meta) = setup("tokenAAAA1111").await;
    for s in ["2026-11-25T10:00:00Z", "2026-11-25T10:01:00Z", "2026-11-25T10:04:59Z"] {
        let t = cache.get(&p, &meta, at(s)).await.unwrap().unwrap();
        assert_eq!(t.expose_secret(), "tokenAAAA1111");
    }
    assert_eq!(cache.inner().reads.load(Ordering::SeqCst), 1);
    cache.get(&p, &meta, at("2026-11-25T10:05:01Z")).await.unwrap();
    assert_eq!(cache.inner().reads.load(Ordering::SeqCst), 2, "read again after the TTL");
}

#[tokio::test]
async fn forget_and_new_metadata_read_again() {
    let (cache, p, meta) = setup("tokenAAAA1111").await;
    let now = at("2026-11-25T10:00:00Z");
    cache.get(&p, &meta, now).await.unwrap();
    cache.forget(&p);
    cache.get(&p, &meta, now).await.unwrap();
    assert_eq!(cache.inner().reads.load(Ordering::SeqCst), 2);

    // The partner stores a new token: the metadata changes, the new token is used at once.
    let fresh = SecretString::from("tokenBBBB2222");
    cache.inner().put(&p, &fresh).await.unwrap();
    let meta2 = TokenMeta::new(&fresh, jiff::civil::date(2026, 11, 25));
    let t = cache.get(&p, &meta2, now).await.unwrap().unwrap();
    assert_eq!(t.expose_secret(), "tokenBBBB2222");
    assert_eq!(cache.inner().reads.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_missing_secret_is_not_cached() {
    let (cache, p, meta) = setup("tokenAAAA1111").await;
    cache.inner().delete(&p).await.unwrap();
    let now = at("2026-11-25T10:00:00Z");
    assert!(cache.get(&p, &meta, now).await.unwrap().is_none());
    assert!(cache.get(&p, &meta, now).await.unwrap().is_none());
    assert_eq!(cache.inner().reads.load(Ordering::SeqCst), 2);
}
