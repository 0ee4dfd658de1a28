//! The one-use rule for signed writes (`adapters::http::signed_partner_route`), with the log
//! line it leaves. One test in its own binary: the log capture is per thread, and tracing's
//! callsite cache is shared by every test of a binary.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use shared::adapters::http::{Authenticator, Replays, signed_partner_route};
use shared::error::AppError;
use test_support::{KEY, LogBuffer, MemoryStore, StaticKeys, replay_of, signed_request};

#[tokio::test]
async fn a_signature_is_served_once_for_writes_and_the_log_says_replayed() {
    let logs = LogBuffer::default();
    let _guard = tracing::subscriber::set_default(shared::telemetry::subscriber(None, true, logs.clone()));
    let auth = Authenticator::new(StaticKeys::new(&[KEY]), Duration::from_secs(300));
    let store = MemoryStore::default();
    let now: Timestamp = "2026-11-25T10:00:00Z".parse().unwrap();
    let route = |req, replays, at| {
        let (auth, store) = (&auth, &store);
        async move {
            signed_partner_route(auth, store, replays, &req, at).await.map(|(p, rest)| (p.to_string(), rest.to_owned()))
        }
    };

    let put = signed_request("PUT", "/v1/partners/p1/settings", "{}", KEY, now.as_second());
    let (again, later) = (replay_of(&put), replay_of(&put));
    assert_eq!(route(put, Replays::Refused, now).await.unwrap(), ("p1".to_owned(), "settings".to_owned()));
    assert!(matches!(route(again, Replays::Refused, now).await, Err(AppError::Unauthorized)));
    assert!(logs.text().contains(r#""reason":"replayed""#), "{}", logs.text());
    // Still refused at the last second its timestamp is accepted.
    let last = now + SignedDuration::from_secs(300);
    assert!(matches!(route(later, Replays::Refused, last).await, Err(AppError::Unauthorized)));

    // A timestamp 300 s ahead is accepted until 600 s from now: the record outlives it.
    let ahead = signed_request("PUT", "/v1/partners/p1/settings", r#"{"ahead":1}"#, KEY, now.as_second() + 300);
    let ahead_again = replay_of(&ahead);
    assert!(route(ahead, Replays::Refused, now).await.is_ok());
    let edge = now + SignedDuration::from_secs(600);
    assert!(matches!(route(ahead_again, Replays::Refused, edge).await, Err(AppError::Unauthorized)));

    // GETs change nothing and are served again; so is a write whose endpoint is idempotent.
    let get = signed_request("GET", "/v1/partners/p1/settings", "", KEY, now.as_second());
    let get_again = replay_of(&get);
    assert!(route(get, Replays::Refused, now).await.is_ok());
    assert!(route(get_again, Replays::Refused, now).await.is_ok());
    let event = signed_request("POST", "/v1/partners/p1/events", "{}", KEY, now.as_second());
    let event_again = replay_of(&event);
    assert!(route(event, Replays::Harmless, now).await.is_ok());
    assert!(route(event_again, Replays::Harmless, now).await.is_ok());
    assert_eq!(store.signatures.lock().unwrap().len(), 2, "only the writes under the rule left a record");

    // A request whose signature fails leaves no record; the ledger failing is not a 401.
    let wrong = signed_request("PUT", "/v1/partners/p1/settings", "{}", "wrong-key", now.as_second());
    assert!(matches!(route(wrong, Replays::Refused, now).await, Err(AppError::Unauthorized)));
    assert_eq!(store.signatures.lock().unwrap().len(), 2);
    store.unavailable.store(true, std::sync::atomic::Ordering::SeqCst);
    let put = signed_request("PUT", "/v1/partners/p1/settings", r#"{"a":1}"#, KEY, now.as_second());
    assert!(matches!(route(put, Replays::Refused, now).await, Err(AppError::Unavailable(_))));
}
