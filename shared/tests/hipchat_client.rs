//! The HipChat client against the HipChat v2 simulator over HTTP: every call we make and
//! every error kind, produced for real.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hipchat_sim::endpoints as ep;
use hipchat_sim::{Fault, FaultAction, Limits, RoomSpec, RunningSim, SimConfig, TokenSpec, start};
use jiff::Timestamp;
use secrecy::SecretString;
use shared::adapters::hipchat::{HipchatClient, http_client};
use shared::domain::destination::PrivateHosts;
use shared::ports::chat::{
    ChatAccess, ChatError, ChatService, Color, LimitKind, ListRooms, MessageFormat, NewRoom, Notification, Privacy,
    Probe, RoomRef, RoomUpdate, Unreachable,
};

const SECRET: &str = "Tok3nThatMustNeverBeLoggedQ9";

async fn sim() -> Sim {
    Sim(start(SimConfig::default()).await.expect("simulator starts"))
}

/// The simulator of one test. When the test ends without failing, every request it counted
/// must have carried the token in the `Authorization` header and none in the query string
/// ([`assert_token_in_header_only`]).
struct Sim(RunningSim);

impl std::ops::Deref for Sim {
    type Target = RunningSim;

    fn deref(&self) -> &RunningSim {
        &self.0
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_token_in_header_only(&self.0);
        }
    }
}

fn token(sim: &RunningSim, value: &str, scopes: Option<&[&str]>) -> String {
    sim.sim().create_token(TokenSpec {
        token: Some(value.to_owned()),
        scopes: scopes.map(|s| s.iter().map(|x| (*x).to_owned()).collect()),
        ..TokenSpec::default()
    })
}

fn access(base: &str, token: &str) -> ChatAccess {
    ChatAccess::new(base, SecretString::from(token)).unwrap()
}

fn client() -> HipchatClient {
    HipchatClient::new(http_client(PrivateHosts::LOOPBACK).unwrap(), PrivateHosts::LOOPBACK)
}

fn all_rooms() -> ListRooms {
    ListRooms { start_index: 0, max_results: 100, include_private: true, include_archived: false }
}

fn note(message: &str) -> Notification {
    Notification {
        message: message.into(),
        message_format: MessageFormat::Html,
        color: Color::Green,
        notify: true,
        from: Some("dynaBOARD".into()),
    }
}

/// Every request the simulator counted carried the token in the `Authorization` header and none
/// carried one in the query string (`auth_token`, which HipChat accepted too); the public
/// `/v2/capabilities` is asked without a token.
fn assert_token_in_header_only(s: &RunningSim) {
    let counters = s.sim().counters();
    for row in &counters.requests {
        assert_eq!(row.token_in_query, 0, "a token in the query string: {row:?}");
        if row.endpoint == ep::CAPABILITIES {
            assert_eq!((row.token.as_deref(), row.token_in_header), (None, 0), "a token sent to capabilities: {row:?}");
        } else {
            assert!(row.token.is_some(), "a request without a token: {row:?}");
            assert_eq!(row.token_in_header, row.count, "a request without the token in the header: {row:?}");
        }
    }
}

#[tokio::test]
async fn capabilities_and_token_info() {
    let s = sim().await;
    let t = token(&s, SECRET, Some(&["view_room", "send_notification"]));
    let a = access(s.base_url(), &t);
    let caps = client().capabilities(&a).await.unwrap();
    assert_eq!(caps.api_url, Some(format!("{}/v2", s.base_url())));
    let info = client().token_info(&a).await.unwrap();
    assert_eq!(info.scopes, ["view_room", "send_notification"]);
    let left = info.expires_in.expect("the simulator tells the remaining life");
    assert!((364 * 86_400..=365 * 86_400).contains(&left), "{left}");
    assert_eq!(s.sim().counters().count_for(ep::TOKEN_GET, Some(SECRET)), 1);
    assert_eq!(s.sim().counters().count(ep::CAPABILITIES), 1);
    // The token goes in the Authorization header, never in a query string (checked here and,
    // for every test, when its simulator is dropped).
    assert_token_in_header_only(&s);
}

#[tokio::test]
async fn rooms_are_created_read_listed_updated_and_deleted() {
    let s = sim().await;
    let a = access(s.base_url(), &token(&s, SECRET, None));
    let c = client();
    let name = "dynaBOARD - Anna #1 / Müller";
    let id = c
        .create_room(
            &a,
            &NewRoom { name: name.into(), topic: Some("Anna".into()), privacy: Privacy::Public, guest_access: true },
        )
        .await
        .unwrap();
    // By name: percent-encoded (space, '#', '/', non-ASCII) and case-sensitive.
    let room = c.get_room(&a, RoomRef::Name(name)).await.unwrap();
    assert_eq!((room.id, room.topic.as_str(), room.is_guest_accessible), (id, "Anna", true));
    let guest = room.guest_access_url.clone().expect("guest access on");
    assert!(guest.starts_with(&format!("{}/g", s.base_url())), "{guest}");
    assert_eq!(c.get_room(&a, RoomRef::Name(&name.to_lowercase())).await, Err(ChatError::RoomNotFound));

    let update = RoomUpdate {
        name: room.name.clone(),
        privacy: room.privacy.clone(),
        is_archived: false,
        is_guest_accessible: false,
        topic: "new topic".into(),
        owner_id: room.owner_id.unwrap(),
    };
    c.update_room(&a, id, &update).await.unwrap();
    let room = c.get_room(&a, RoomRef::Id(id)).await.unwrap();
    assert_eq!((room.topic.as_str(), room.guest_access_url), ("new topic", None));

    let page = c.list_rooms(&a, &all_rooms()).await.unwrap();
    assert_eq!(page.items.iter().map(|r| r.id).collect::<Vec<_>>(), [id]);
    assert!(!page.has_next);

    c.delete_room(&a, RoomRef::Name(name)).await.unwrap();
    assert_eq!(c.get_room(&a, RoomRef::Id(id)).await, Err(ChatError::RoomNotFound));
    assert_eq!(c.delete_room(&a, RoomRef::Id(id)).await, Err(ChatError::RoomNotFound));
}

#[tokio::test]
async fn room_pages_follow_hipchat_paging() {
    let s = sim().await;
    let a = access(s.base_url(), &token(&s, SECRET, None));
    for i in 0..5 {
        s.sim().add_room(RoomSpec { name: format!("room {i}"), ..RoomSpec::default() });
    }
    s.sim().add_room(RoomSpec { name: "archived".into(), archived: Some(true), ..RoomSpec::default() });
    let c = client();
    let mut seen = Vec::new();
    let mut start = 0;
    loop {
        let page = c.list_rooms(&a, &ListRooms { start_index: start, max_results: 2, ..all_rooms() }).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|r| r.name.clone()));
        if !page.has_next {
            break;
        }
        start += page.items.len() as u64;
    }
    assert_eq!(seen, ["room 0", "room 1", "room 2", "room 3", "room 4"]);
    let with_archived = c.list_rooms(&a, &ListRooms { include_archived: true, ..all_rooms() }).await.unwrap();
    assert_eq!(with_archived.items.len(), 6);
    assert!(with_archived.items.iter().any(|r| r.is_archived));
}

#[tokio::test]
async fn notifications_arrive_in_the_room() {
    let s = sim().await;
    let a = access(s.base_url(), &token(&s, SECRET, None));
    let id = s.sim().add_room(RoomSpec { name: "Staff".into(), ..RoomSpec::default() });
    client().send_notification(&a, RoomRef::Id(id), &note("<b>Anna</b> wants to chat")).await.unwrap();
    let room = s.sim().rooms().into_iter().find(|r| r.id == id).unwrap();
    let n = &room.notifications[0];
    assert_eq!((n.message.as_str(), n.color.as_str(), n.notify), ("<b>Anna</b> wants to chat", "green", true));
    assert_eq!((n.message_format.as_str(), n.from.as_deref()), ("html", Some("dynaBOARD")));
    // HipChat's own validation comes back naming the field.
    let err = client().send_notification(&a, RoomRef::Id(id), &note("")).await.unwrap_err();
    assert!(matches!(&err, ChatError::Validation { field: Some(f), .. } if f == "message"), "{err:?}");
    let err = client().send_notification(&a, RoomRef::Id(id + 100), &note("x")).await.unwrap_err();
    assert_eq!(err, ChatError::RoomNotFound);
}

#[tokio::test]
async fn unknown_expired_and_revoked_tokens_are_rejected() {
    let s = sim().await;
    let c = client();
    assert_eq!(c.token_info(&access(s.base_url(), "no-such-token")).await, Err(ChatError::TokenRejected));

    let expired = s.sim().create_token(TokenSpec {
        created_at: Some(Timestamp::now() - jiff::SignedDuration::from_hours(400 * 24)),
        ..TokenSpec::default()
    });
    assert_eq!(c.list_rooms(&access(s.base_url(), &expired), &all_rooms()).await, Err(ChatError::TokenRejected));

    let revoked = token(&s, "revoked-token-123", None);
    assert!(s.sim().revoke_token(&revoked));
    assert_eq!(c.token_info(&access(s.base_url(), &revoked)).await, Err(ChatError::TokenRejected));
}

#[tokio::test]
async fn missing_scopes_are_named() {
    let s = sim().await;
    let a = access(s.base_url(), &token(&s, SECRET, Some(&["view_room", "send_notification"])));
    let err = client()
        .create_room(&a, &NewRoom { name: "x".into(), topic: None, privacy: Privacy::Public, guest_access: false })
        .await
        .unwrap_err();
    assert_eq!(err, ChatError::MissingScopes { scopes: vec!["manage_rooms".into()] });
    assert!(s.sim().rooms().is_empty(), "nothing was created");
    // auth_test answers without running the call.
    let c = client();
    assert_eq!(c.auth_test(&a, Probe::ListRooms).await, Ok(()));
    assert!(matches!(c.auth_test(&a, Probe::CreateRoom).await, Err(ChatError::MissingScopes { .. })));
    assert!(matches!(c.auth_test(&a, Probe::SendMessage(1)).await, Err(ChatError::MissingScopes { .. })));
    assert!(s.sim().rooms().is_empty());
}

#[tokio::test]
async fn a_taken_name_is_name_taken() {
    let s = sim().await;
    let a = access(s.base_url(), &token(&s, SECRET, None));
    s.sim().add_room(RoomSpec { name: "Support".into(), ..RoomSpec::default() });
    let new = NewRoom { name: "Support".into(), topic: None, privacy: Privacy::Private, guest_access: false };
    assert_eq!(client().create_room(&a, &new).await, Err(ChatError::NameTaken));
}

#[tokio::test]
async fn rate_limit_beyond_the_budget_is_returned_without_a_retry() {
    let s = sim().await;
    let t = token(&s, SECRET, None);
    let a = access(s.base_url(), &t);
    s.sim().set_limits(Limits { rate_limit: Some(2), ..Limits::default() });
    let c = client();
    c.list_rooms(&a, &all_rooms()).await.unwrap();
    c.list_rooms(&a, &all_rooms()).await.unwrap();
    let err = c.list_rooms(&a, &all_rooms()).await.unwrap_err();
    let ChatError::RateLimited { kind, reset_at: Some(reset_at) } = err else { panic!("{err:?}") };
    assert_eq!(kind, LimitKind::RateLimit);
    let ahead = reset_at.duration_since(Timestamp::now()).as_secs();
    assert!((250..=301).contains(&ahead), "reset {ahead} s ahead");
    assert_eq!(s.sim().counters().count(ep::ROOM_LIST), 3, "no retry for a far reset");
}

#[tokio::test]
async fn a_429_with_a_near_reset_is_retried_once() {
    let s = sim().await;
    let a = access(s.base_url(), &token(&s, SECRET, None));
    let id = s.sim().add_room(RoomSpec { name: "Staff".into(), ..RoomSpec::default() });
    let too_many = FaultAction::Status { status: 429, message: None, reset_in_seconds: Some(1) };
    s.sim().inject_fault(Fault::new(too_many.clone()).on(ep::ROOM_NOTIFICATION));
    client().send_notification(&a, RoomRef::Id(id), &note("after the wait")).await.unwrap();
    assert_eq!(s.sim().counters().count(ep::ROOM_NOTIFICATION), 2);
    assert_eq!(s.sim().rooms()[0].notifications.len(), 1, "sent exactly once");

    // Twice in a row: one retry only, then the error.
    s.sim().inject_fault(Fault::new(too_many).on(ep::ROOM_NOTIFICATION).times(2));
    let err = client().send_notification(&a, RoomRef::Id(id), &note("x")).await.unwrap_err();
    assert!(matches!(err, ChatError::RateLimited { .. }), "{err:?}");
    assert_eq!(s.sim().counters().count(ep::ROOM_NOTIFICATION), 4);
}

#[tokio::test]
async fn flood_control_is_told_apart() {
    let s = sim().await;
    let a = access(s.base_url(), &token(&s, SECRET, None));
    let id = s.sim().add_room(RoomSpec { name: "Staff".into(), ..RoomSpec::default() });
    s.sim().set_limits(Limits { flood_limit: Some(1), ..Limits::default() });
    let c = client().with_retry_budget(Duration::ZERO);
    c.send_notification(&a, RoomRef::Id(id), &note("one")).await.unwrap();
    let err = c.send_notification(&a, RoomRef::Id(id), &note("two")).await.unwrap_err();
    assert!(matches!(err, ChatError::RateLimited { kind: LimitKind::FloodControl, reset_at: Some(_) }), "{err:?}");
}

#[tokio::test]
async fn unreachable_servers_are_classified() {
    let c = client();
    // Refused: a port that was just free.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = c.capabilities(&access(&format!("http://127.0.0.1:{port}"), SECRET)).await.unwrap_err();
    assert!(matches!(err, ChatError::Unreachable { kind: Unreachable::Refused, .. }), "{err:?}");
    // DNS: a name that cannot resolve (.invalid is reserved).
    let err = c.capabilities(&access("https://hipchat.example.invalid", SECRET)).await.unwrap_err();
    assert!(matches!(err, ChatError::Unreachable { kind: Unreachable::Dns, .. }), "{err:?}");
    // TLS: https to a plain-HTTP port.
    let s = sim().await;
    let https = s.base_url().replace("http://", "https://");
    let err = c.capabilities(&access(&https, SECRET)).await.unwrap_err();
    assert!(matches!(err, ChatError::Unreachable { kind: Unreachable::Tls, .. }), "{err:?}");
}

#[tokio::test]
async fn timeouts_dropped_connections_and_server_errors() {
    let s = sim().await;
    let a = access(s.base_url(), &token(&s, SECRET, None));
    let quick =
        HipchatClient::with_timeouts(Duration::from_secs(1), Duration::from_millis(300), PrivateHosts::LOOPBACK)
            .unwrap();
    s.sim().inject_fault(Fault::new(FaultAction::Delay { ms: 3_000 }).on(ep::ROOM_LIST));
    let err = quick.list_rooms(&a, &all_rooms()).await.unwrap_err();
    assert!(matches!(err, ChatError::Unreachable { kind: Unreachable::Timeout, .. }), "{err:?}");

    s.sim().inject_fault(Fault::new(FaultAction::Drop).on(ep::ROOM_LIST));
    let err = client().list_rooms(&a, &all_rooms()).await.unwrap_err();
    assert!(matches!(err, ChatError::Unreachable { kind: Unreachable::Connection, .. }), "{err:?}");

    s.sim().inject_fault(
        Fault::new(FaultAction::Status { status: 500, message: None, reset_in_seconds: None }).on(ep::ROOM_LIST),
    );
    assert_eq!(client().list_rooms(&a, &all_rooms()).await, Err(ChatError::Server { status: 500 }));
    // The faults are used up: the next call works.
    client().list_rooms(&a, &all_rooms()).await.unwrap();
}

/// A web server that is not HipChat.
async fn not_hipchat() -> String {
    use axum::Router;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let app = Router::new().fallback(|uri: axum::http::Uri| async move {
        if uri.path() == "/v2/capabilities" {
            ([("content-type", "application/json")], "{\"hello\":\"world\"}").into_response()
        } else {
            (StatusCode::NOT_FOUND, "<html>Not found</html>").into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn other_servers_are_not_hipchat() {
    let base = not_hipchat().await;
    let a = access(&base, SECRET);
    let err = client().capabilities(&a).await.unwrap_err();
    assert!(matches!(err, ChatError::NotHipchat { status: 200, .. }), "{err:?}");
    let err = client().token_info(&a).await.unwrap_err();
    assert!(matches!(err, ChatError::NotHipchat { status: 404, .. }), "{err:?}");
    // A proxy's HTML error page in front of HipChat.
    let s = sim().await;
    s.sim().inject_fault(Fault::new(FaultAction::Body {
        status: 502,
        body: "<html>Bad gateway</html>".into(),
        content_type: "text/html".into(),
    }));
    let err = client().capabilities(&access(s.base_url(), SECRET)).await.unwrap_err();
    assert_eq!(err, ChatError::Server { status: 502 });
}

/// Captures every log line of the current thread at TRACE.
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_token_never_reaches_logs_errors_or_debug_output() {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let sink = buf.clone();
    // Everything but the simulator itself (it stands in for HipChat's own server logs).
    let subscriber = shared::telemetry::subscriber(Some("trace,hipchat_sim=off"), true, move || Capture(sink.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);

    let s = sim().await;
    let a = access(s.base_url(), &token(&s, SECRET, None));
    let c = client();
    let mut texts = vec![format!("{a:?}")];
    c.token_info(&a).await.unwrap();
    c.list_rooms(&a, &all_rooms()).await.unwrap();
    s.sim().inject_fault(Fault::new(FaultAction::Drop).on(ep::TOKEN_GET));
    let err = c.token_info(&a).await.unwrap_err();
    texts.push(format!("{err} {err:?}"));
    let quick =
        HipchatClient::with_timeouts(Duration::from_secs(1), Duration::from_millis(200), PrivateHosts::LOOPBACK)
            .unwrap();
    s.sim().inject_fault(Fault::new(FaultAction::Delay { ms: 2_000 }).on(ep::TOKEN_GET));
    let err = quick.token_info(&a).await.unwrap_err();
    texts.push(format!("{err} {err:?}"));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = c.token_info(&access(&format!("http://127.0.0.1:{port}"), SECRET)).await.unwrap_err();
    texts.push(format!("{err} {err:?}"));

    let logs = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    assert!(!logs.is_empty(), "the capture works");
    assert!(!logs.contains(SECRET), "token in logs:\n{logs}");
    for t in texts {
        assert!(!t.contains(SECRET), "token in {t}");
    }
}
