//! Test support for every crate of the workspace, never linked into a function: in-memory
//! fakes of the ports ([`fakes`]), the [`Test`] wiring and [`deps`] for handler tests, signed
//! `lambda_http` requests, the end-to-end client of the local stack ([`e2e`]) and log capture
//! ([`LogBuffer`]). A dev-dependency only, so no production build compiles it.

pub mod e2e;
pub mod fakes;
mod logs;

use std::marker::PhantomData;
use std::time::Duration;

use jiff::Timestamp;
use secrecy::SecretString;
use shared::adapters::hipchat::HipchatClient;
use shared::adapters::http::Authenticator;
use shared::app::{Deps, Wiring};
use shared::domain::destination::PrivateHosts;
use shared::domain::partner::PartnerId;
use shared::domain::token::TokenMeta;
use shared::ports::{Precondition, SettingsStore, Store, TokenSecrets};
use shared::service::reminder::ReminderConfig;
use shared::service::token_cache::TokenCache;

pub use fakes::{FixedClock, MemorySecrets, MemoryStore, StaticKeys};
pub use logs::LogBuffer;

/// The request-signing key of handler tests.
pub const KEY: &str = "test-signing-key";
/// The time of handler tests (a Wednesday).
pub const NOW: &str = "2026-11-25T10:00:00Z";
/// A HipChat token for handler tests.
pub const TOKEN: &str = "Zq8vLk3TtokenSECRETxy42";

/// The wiring of handler tests: the store and the token secrets are `S` and `T` (the fakes,
/// or the AWS adapters on moto), the signing keys static, the clock fixed, and the chat service
/// the real HipChat client (talking to the simulator).
pub struct Test<S = MemoryStore, T = MemorySecrets>(PhantomData<(S, T)>);

impl<S: Store + 'static, T: TokenSecrets + 'static> Wiring for Test<S, T> {
    type Store = S;
    type Secrets = T;
    type Keys = StaticKeys;
    type Clock = FixedClock;
    type Chat = HipchatClient;
}

/// Handler-test dependencies: `store` and `secrets`, the signing key [`KEY`], the clock at
/// [`NOW`], and the real HipChat client with short timeouts (2 s to connect, 3 s in all).
pub fn deps<S: Store + 'static, T: TokenSecrets + 'static>(store: S, secrets: T) -> Deps<Test<S, T>> {
    deps_at(store, secrets, NOW)
}

/// [`deps`] with the clock at `now`.
pub fn deps_at<S: Store + 'static, T: TokenSecrets + 'static>(store: S, secrets: T, now: &str) -> Deps<Test<S, T>> {
    // The simulator listens on loopback, as in the local stack (ALLOW_PRIVATE_CHAT_HOSTS=loopback).
    let chat_hosts = PrivateHosts::LOOPBACK;

    Deps {
        store,
        tokens: TokenCache::new(secrets),
        auth: Authenticator::new(StaticKeys::new(&[KEY]), Duration::from_secs(300)),
        clock: FixedClock::at(now),
        chat: HipchatClient::with_timeouts(Duration::from_secs(2), Duration::from_secs(3), chat_hosts)
            .expect("an HTTP client"),
        room_page_size: shared::service::rooms::HIPCHAT_PAGE_SIZE,
        reminder: ReminderConfig::default(),
        chat_hosts,
    }
}

/// [`NOW`] in unix seconds.
pub fn now_secs() -> i64 {
    NOW.parse::<Timestamp>().expect("NOW is an instant").as_second()
}

/// Signs `req` with `key` at `now` (unix seconds), as dynaBOARD does: the timestamp and
/// signature headers over its method, path and query as sent, and raw body (through
/// [`fresh_signature`], so sending the same request twice is two requests, not a replay).
pub fn sign_request(req: &mut lambda_http::Request, key: &str, now: i64) {
    use shared::domain::signature::{SIGNATURE_HEADER, SignedParts, TIMESTAMP_HEADER};
    let path = shared::adapters::http::signed_path(req);
    let (ts, sig) = fresh_signature(
        key,
        now,
        &SignedParts { method: req.method().as_str(), path_and_query: &path, body: req.body().as_ref() },
    );
    let headers = req.headers_mut();
    headers.insert(TIMESTAMP_HEADER, lambda_http::http::HeaderValue::from(ts));
    headers
        .insert(SIGNATURE_HEADER, lambda_http::http::HeaderValue::try_from(sig).expect("hex is a valid header value"));
}

/// How far back [`fresh_signature`] moves a timestamp at most (inside the accepted skew).
const FRESH_SIGNATURE_MAX_BACKDATE: i64 = 280;

/// The timestamp and signature for a request signed at `now`, unless this process has signed
/// the same request at that second before: then a second earlier, and so on.
///
/// A signed write is served once (docs/api.md "Replayed requests"), and a test that sends the
/// same write twice means two requests, which dynaBOARD would sign at two different seconds
/// (the fixed clock of handler tests and fast loops would otherwise sign them alike). Tests of
/// the replay refusal send one signed request twice instead.
pub fn fresh_signature(key: &str, now: i64, parts: &shared::domain::signature::SignedParts<'_>) -> (i64, String) {
    static SIGNED: std::sync::Mutex<std::collections::BTreeSet<String>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut signed = SIGNED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut ts = now;
    loop {
        let sig = shared::domain::signature::sign(key.as_bytes(), ts, parts);
        if parts.method == "GET" || ts <= now - FRESH_SIGNATURE_MAX_BACKDATE || signed.insert(sig.clone()) {
            return (ts, sig);
        }
        ts -= 1;
    }
}

/// The same request again, byte for byte with its signature headers: what an attacker who
/// captured `req` would send.
pub fn replay_of(req: &lambda_http::Request) -> lambda_http::Request {
    let mut copy = lambda_http::http::Request::builder().method(req.method()).uri(req.uri());
    for (name, value) in req.headers() {
        copy = copy.header(name, value);
    }
    copy.body(req.body().clone()).expect("a copy of a valid request")
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

/// Stores the settings document `doc` (which must be valid) for `partner`, unconditionally.
pub async fn store_settings(store: &impl SettingsStore, partner: &PartnerId, doc: &serde_json::Value, now: Timestamp) {
    let settings = shared::domain::settings::parse_settings(doc).expect("valid settings").settings;
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
    let meta = TokenMeta::new(&secret, shared::service::settings::today(now));
    store.set_token(partner, &meta, now).await.expect("token metadata stored");
}

/// A listener on `at` (a loopback address) that counts the connections it accepts, and answers
/// each with `reply` (after reading the request) or closes it at once. Tests of where a client
/// may connect use it: a count shows a connection that must not have happened.
pub async fn counting_listener(
    at: std::net::Ipv4Addr,
    reply: Option<String>,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    assert!(at.is_loopback(), "tests listen on loopback only");
    let listener = tokio::net::TcpListener::bind((at, 0)).await.expect("a loopback port");
    let port = listener.local_addr().expect("a bound listener").port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if let Some(reply) = &reply {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(reply.as_bytes()).await;
            }
        }
    });
    (port, accepted)
}
