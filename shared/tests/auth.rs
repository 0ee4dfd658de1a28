//! The request-signature check with its key cache (`adapters::http::Authenticator`).

use std::time::Duration;

use lambda_http::Request;
use shared::adapters::http::Authenticator;
use shared::error::AppError;
use std::sync::atomic::Ordering;
use test_support::{StaticKeys, signed_request};

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
