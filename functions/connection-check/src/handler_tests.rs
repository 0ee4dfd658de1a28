//! Handler tests: real `lambda_http` requests, in-memory store and secrets, and the real
//! HipChat client talking HTTP to the HipChat v2 simulator. Every problem code of the
//! connection check is produced for real.

use std::sync::atomic::Ordering;

use hipchat_sim::endpoints as ep;
use hipchat_sim::{Fault, FaultAction, Limits, RoomSpec, RunningSim, SimConfig, TokenSpec, start};
use jiff::Timestamp;
use lambda_http::Request;
use secrecy::SecretString;
use serde_json::{Value, json};
use shared::domain::destination::PrivateHosts;
use shared::domain::partner::PartnerId;
use shared::domain::settings::parse_settings;
use shared::domain::token::TokenMeta;
use shared::ports::chat::{ChatAccess, ChatService, RoomRef};
use shared::ports::{Precondition, SettingsStore, TokenSecrets};
use test_support::{KEY, MemorySecrets, MemoryStore, NOW, TOKEN, Test, signed_request, store_settings, store_token};

use super::*;

const GUIDE_SCOPES: [&str; 5] = ["view_room", "send_message", "manage_rooms", "send_notification", "view_group"];

type TestDeps = Deps<Test>;

struct World {
    sim: RunningSim,
    d: TestDeps,
}

async fn world() -> World {
    let sim = start(SimConfig::default()).await.expect("simulator starts");
    let mut d = test_support::deps(MemoryStore::default(), MemorySecrets::default());
    d.room_page_size = 3;
    World { sim, d }
}

impl World {
    fn base(&self) -> &str {
        self.sim.base_url()
    }

    fn token(&self, value: &str, scopes: &[&str]) -> String {
        self.sim.sim().create_token(TokenSpec {
            token: Some(value.into()),
            scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
            ..TokenSpec::default()
        })
    }

    /// Stores settings (URL, room) and the token for partner `p1`, as the settings function would.
    async fn configure(&self, url: &str, room: Option<u64>, token: Option<&str>) {
        let p = partner();
        let doc = json!({"active": true, "hipchat_url": url, "notification_room_id": room});
        let now: Timestamp = NOW.parse().unwrap();
        store_settings(&self.d.store, &p, &doc, now).await;
        if let Some(t) = token {
            store_token(&self.d.store, self.d.tokens.inner(), &p, t, now).await;
        }
    }

    async fn stored_token(&self) -> TokenMeta {
        self.d.store.get(&partner()).await.unwrap().unwrap().token.unwrap()
    }

    async fn send(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        test_support::status_and_json(&handle(&self.d, request(method, path, body)).await.unwrap())
    }

    async fn check(&self, body: Value) -> Value {
        let body = if body.is_null() { String::new() } else { body.to_string() };
        let (status, report) = self.send("POST", "/v1/partners/p1/connection-check", &body).await;
        assert_eq!(status, 200, "{report}");
        report
    }

    fn hipchat_calls(&self) -> u64 {
        self.sim.sim().counters().total
    }
}

fn partner() -> PartnerId {
    PartnerId::parse("p1").unwrap()
}

fn request(method: &str, path: &str, body: &str) -> Request {
    signed_request(method, path, body, KEY, NOW.parse::<Timestamp>().unwrap().as_second())
}

fn codes(report: &Value) -> Vec<&str> {
    report["problems"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap()).collect()
}

fn problem<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["problems"].as_array().unwrap().iter().find(|p| p["code"] == code).unwrap_or_else(|| panic!("{report}"))
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn a_good_stored_connection_is_ok_and_marks_the_token_checked() {
    let w = world().await;
    let room = w.sim.sim().add_room(RoomSpec { name: "Staff".into(), ..RoomSpec::default() });
    w.configure(w.base(), Some(room), Some(&w.token(TOKEN, &GUIDE_SCOPES))).await;
    let report = w.check(Value::Null).await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["problems"], json!([]));
    assert_eq!(report["missing_scopes"], json!([]));
    assert_eq!(report["scopes"].as_array().unwrap().len(), 5);
    assert_eq!(report["hipchat"]["base_url"], w.base());
    assert_eq!(report["hipchat"]["api_url"], format!("{}/v2", w.base()));
    assert_eq!(report["checked_at"], NOW);
    let c = w.sim.sim().counters();
    assert_eq!((c.count(ep::CAPABILITIES), c.count(ep::TOKEN_GET), c.count(ep::ROOM_GET)), (1, 1, 1));
    assert_eq!(c.total, 3, "three HipChat calls");
    let meta = w.stored_token().await;
    assert_eq!((meta.rejected, meta.checked_at), (false, Some(NOW.parse().unwrap())));
}

#[tokio::test]
async fn blanks_around_a_given_token_are_a_warning() {
    let w = world().await;
    w.token(TOKEN, &GUIDE_SCOPES);
    let report = w.check(json!({"hipchat_url": w.base(), "token": format!("  {TOKEN}\t\n")})).await;
    assert_eq!(codes(&report), ["token_whitespace"]);
    assert_eq!(problem(&report, "token_whitespace")["severity"], "warning");
    assert_eq!(report["ok"], true, "trimmed, the token works: {report}");
}

#[tokio::test]
async fn a_url_with_v2_and_a_trailing_slash_is_normalised_with_a_warning() {
    let w = world().await;
    w.token(TOKEN, &GUIDE_SCOPES);
    let report = w.check(json!({"hipchat_url": format!("{}/v2/", w.base()), "token": TOKEN})).await;
    assert_eq!(codes(&report), ["url_has_path"]);
    assert!(problem(&report, "url_has_path")["message"].as_str().unwrap().contains("/v2/"), "{report}");
    assert_eq!(report["hipchat"]["base_url"], w.base());
    assert_eq!(report["ok"], true);
}

#[tokio::test]
async fn an_invalid_url_stops_before_any_call() {
    let w = world().await;
    let report = w.check(json!({"hipchat_url": "hipchat.example.com", "token": TOKEN})).await;
    assert_eq!(codes(&report), ["url_invalid"]);
    assert_eq!(report["ok"], false);
    assert_eq!(w.hipchat_calls(), 0);
    // Nothing given and nothing stored: both are told.
    let report = w.check(Value::Null).await;
    assert_eq!(codes(&report), ["token_missing", "url_invalid"]);
}

#[tokio::test]
async fn a_closed_port_is_unreachable_with_the_firewall_hint() {
    let w = world().await;
    let report = w.check(json!({"hipchat_url": format!("http://127.0.0.1:{}", closed_port()), "token": TOKEN})).await;
    assert_eq!(codes(&report), ["unreachable"]);
    let p = problem(&report, "unreachable");
    assert!(p["message"].as_str().unwrap().contains("refused"), "{p}");
    assert!(p["hint"].as_str().unwrap().contains("firewall"), "{p}");
}

#[tokio::test]
async fn https_on_a_plain_http_port_is_a_tls_error() {
    let w = world().await;
    let https = w.base().replace("http://", "https://");
    let report = w.check(json!({"hipchat_url": https, "token": TOKEN})).await;
    assert_eq!(codes(&report), ["tls_error"]);
}

#[tokio::test]
async fn a_server_answering_other_json_is_not_hipchat() {
    let w = world().await;
    let app =
        axum::Router::new().fallback(|| async { ([("content-type", "application/json")], "{\"status\":\"UP\"}") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let report = w.check(json!({"hipchat_url": format!("http://{addr}"), "token": TOKEN})).await;
    assert_eq!(codes(&report), ["not_hipchat"]);
}

#[tokio::test]
async fn an_expired_stored_token_is_rejected_and_its_status_recorded() {
    let w = world().await;
    let expired = w.sim.sim().create_token(TokenSpec {
        token: Some(TOKEN.into()),
        created_at: Some(Timestamp::now() - jiff::SignedDuration::from_hours(366 * 24)),
        ..TokenSpec::default()
    });
    w.configure(w.base(), None, Some(&expired)).await;
    let report = w.check(Value::Null).await;
    assert_eq!(codes(&report), ["token_rejected"]);
    assert!(problem(&report, "token_rejected")["hint"].as_str().unwrap().contains("one year"), "{report}");
    assert!(w.stored_token().await.rejected);
    // A new good token and a new check: the status is ok again.
    w.sim.sim().reset();
    w.token(TOKEN, &GUIDE_SCOPES);
    let report = w.check(Value::Null).await;
    assert_eq!(report["ok"], true, "{report}");
    assert!(!w.stored_token().await.rejected);
}

#[tokio::test]
async fn a_token_without_manage_rooms_names_the_missing_scope_by_its_label() {
    let w = world().await;
    w.configure(
        w.base(),
        None,
        Some(&w.token(TOKEN, &["view_room", "send_message", "send_notification", "view_group"])),
    )
    .await;
    let report = w.check(Value::Null).await;
    assert_eq!(codes(&report), ["missing_scopes"]);
    assert_eq!(report["missing_scopes"], json!(["manage_rooms"]));
    assert!(problem(&report, "missing_scopes")["message"].as_str().unwrap().contains("Manage Rooms"), "{report}");
    assert_eq!(report["ok"], false);
    assert_eq!(w.stored_token().await.missing_scopes, ["manage_rooms"]);
}

#[tokio::test]
async fn admin_room_is_not_needed() {
    let w = world().await;
    let room = w.sim.sim().add_room(RoomSpec { name: "Staff".into(), ..RoomSpec::default() });
    w.configure(w.base(), Some(room), Some(&w.token(TOKEN, &GUIDE_SCOPES))).await;
    let report = w.check(Value::Null).await;
    assert!(!report["scopes"].as_array().unwrap().contains(&json!("admin_room")));
    assert_eq!(report["ok"], true, "{report}");
}

#[tokio::test]
async fn a_deleted_notification_room_is_reported() {
    let w = world().await;
    let room = w.sim.sim().add_room(RoomSpec { name: "Staff".into(), ..RoomSpec::default() });
    w.configure(w.base(), Some(room + 41), Some(&w.token(TOKEN, &GUIDE_SCOPES))).await;
    let report = w.check(Value::Null).await;
    assert_eq!(codes(&report), ["notification_room_missing"]);
    assert!(
        problem(&report, "notification_room_missing")["message"].as_str().unwrap().contains(&(room + 41).to_string())
    );
}

#[tokio::test]
async fn every_problem_is_reported_at_once_in_checklist_order() {
    let w = world().await;
    w.configure(w.base(), Some(999), None).await;
    w.token(TOKEN, &["view_room", "send_notification"]);
    let body = json!({"hipchat_url": format!("{}/v2", w.base()), "token": format!(" {TOKEN} ")});
    let report = w.check(body).await;
    assert_eq!(codes(&report), ["token_whitespace", "url_has_path", "missing_scopes", "notification_room_missing"]);
    assert_eq!(report["missing_scopes"], json!(["send_message", "manage_rooms", "view_group"]));
}

#[tokio::test]
async fn without_the_token_endpoint_scopes_are_probed_with_auth_test() {
    let w = world().await;
    w.configure(w.base(), None, Some(&w.token(TOKEN, &["view_room", "send_message", "send_notification"]))).await;
    let gone = FaultAction::Status { status: 404, message: Some("Not Found".into()), reset_in_seconds: None };
    w.sim.sim().inject_fault(Fault::new(gone).on(ep::TOKEN_GET));
    let report = w.check(Value::Null).await;
    assert_eq!(codes(&report), ["missing_scopes"], "{report}");
    // GET /v2/room accepts view_room or view_group, so the probe cannot tell them apart.
    assert_eq!(report["missing_scopes"], json!(["manage_rooms"]));
    let c = w.sim.sim().counters();
    assert_eq!((c.count(ep::ROOM_LIST), c.count(ep::ROOM_CREATE), c.count(ep::ROOM_MESSAGE)), (1, 1, 1));
    assert!(w.sim.sim().rooms().is_empty(), "auth_test runs nothing");
}

#[tokio::test]
async fn a_rate_limited_check_says_so_and_leaves_the_status_alone() {
    let w = world().await;
    w.configure(w.base(), None, Some(&w.token(TOKEN, &GUIDE_SCOPES))).await;
    w.sim.sim().set_limits(Limits { rate_limit: Some(0), ..Limits::default() });
    let report = w.check(Value::Null).await;
    assert_eq!(codes(&report), ["rate_limited"]);
    assert_eq!(w.stored_token().await.checked_at, None);
}

#[tokio::test]
async fn a_check_of_another_url_leaves_the_stored_status_alone() {
    let w = world().await;
    w.configure("https://hipchat.example.com", None, Some(TOKEN)).await;
    let report = w.check(json!({"hipchat_url": w.base()})).await;
    assert_eq!(codes(&report), ["token_rejected"], "the sim does not know the token");
    assert!(!w.stored_token().await.rejected);
}

#[tokio::test]
async fn bad_check_bodies_are_422_naming_the_field() {
    let w = world().await;
    for (body, field) in [
        (json!({"token": 5}), "token"),
        (json!({"token": "abc def ghi"}), "token"),
        (json!({"hipchat_url": "https://h", "extra": 1}), "extra"),
        (json!([1]), "(body)"),
    ] {
        let (status, p) = w.send("POST", "/v1/partners/p1/connection-check", &body.to_string()).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(p["errors"][0]["field"], field, "{p}");
    }
    let (status, _) = w.send("GET", "/v1/partners/p1/connection-check", "").await;
    assert_eq!(status, 405);
    assert_eq!(w.hipchat_calls(), 0);
}

#[tokio::test]
async fn rooms_are_listed_across_hipchat_pages_with_our_cursor() {
    let w = world().await;
    w.configure(w.base(), None, Some(&w.token(TOKEN, &GUIDE_SCOPES))).await;
    for i in 0..7 {
        w.sim.sim().add_room(RoomSpec { name: format!("Room {i}"), ..RoomSpec::default() });
        if i == 3 {
            w.sim.sim().add_room(RoomSpec { name: "Old".into(), archived: Some(true), ..RoomSpec::default() });
            w.sim.sim().add_room(RoomSpec {
                name: "Secret".into(),
                privacy: Some("private".into()),
                ..RoomSpec::default()
            });
        }
    }
    let (status, page) = w.send("GET", "/v1/partners/p1/rooms?limit=5", "").await;
    assert_eq!(status, 200, "{page}");
    let names: Vec<&str> = page["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Room 0", "Room 1", "Room 2", "Room 3", "Secret"]);
    assert_eq!(page["items"][4]["privacy"], "private");
    assert_eq!(w.sim.sim().counters().count(ep::ROOM_LIST), 2, "two HipChat pages of 3");
    let cursor = page["next_cursor"].as_str().expect("more rooms");
    let (status, page) = w.send("GET", &format!("/v1/partners/p1/rooms?limit=5&cursor={cursor}"), "").await;
    assert_eq!(status, 200, "{page}");
    let names: Vec<&str> = page["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Room 4", "Room 5", "Room 6"]);
    assert_eq!(page["next_cursor"], Value::Null);
}

#[tokio::test]
async fn room_search_is_a_case_insensitive_substring() {
    let w = world().await;
    w.configure(w.base(), None, Some(&w.token(TOKEN, &GUIDE_SCOPES))).await;
    for name in ["Support", "Sales", "SUPPLY chain", "Dev", "Customer support"] {
        w.sim.sim().add_room(RoomSpec { name: name.into(), ..RoomSpec::default() });
    }
    let (_, page) = w.send("GET", "/v1/partners/p1/rooms?q=sup", "").await;
    let names: Vec<&str> = page["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Support", "SUPPLY chain", "Customer support"]);
    let (status, p) = w.send("GET", "/v1/partners/p1/rooms?limit=abc", "").await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (422, Some("limit")));
}

/// The setup screen looks at what is stored now: the connection check and the room picker read
/// the token from Secrets Manager on every call (no cache), so a token replaced there is the
/// one checked at once.
#[tokio::test]
async fn the_check_and_the_picker_read_the_stored_token_every_time() {
    let w = world().await;
    w.configure(w.base(), None, Some(&w.token(TOKEN, &GUIDE_SCOPES))).await;
    let reads = || w.d.tokens.inner().reads.load(Ordering::SeqCst);
    let before = reads();
    assert_eq!(w.check(Value::Null).await["ok"], true);
    assert_eq!(w.check(Value::Null).await["ok"], true);
    assert_eq!(w.send("GET", "/v1/partners/p1/rooms", "").await.0, 200);
    assert_eq!(w.send("GET", "/v1/partners/p1/rooms", "").await.0, 200);
    assert_eq!(reads() - before, 4);
    // Replaced behind the settings' back (same metadata): the next check uses the new one.
    let other = w.token("AnotherTokenValue0000", &["view_room"]);
    w.d.tokens.inner().put(&partner(), &secrecy::SecretString::from(other)).await.unwrap();
    let report = w.check(Value::Null).await;
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["missing_scopes"].as_array().map(Vec::len), Some(4), "{report}");
}

#[tokio::test]
async fn more_than_a_thousand_rooms_take_two_full_hipchat_pages() {
    let mut w = world().await;
    w.d.room_page_size = shared::service::rooms::HIPCHAT_PAGE_SIZE;
    w.configure(w.base(), None, Some(&w.token(TOKEN, &GUIDE_SCOPES))).await;
    for i in 0..1005 {
        w.sim.sim().add_room(RoomSpec { name: format!("r{i:04}"), ..RoomSpec::default() });
    }
    let mut seen = Vec::new();
    let mut path = "/v1/partners/p1/rooms?limit=200".to_owned();
    let mut requests = 0;
    loop {
        requests += 1;
        let (status, page) = w.send("GET", &path, "").await;
        assert_eq!(status, 200, "{page}");
        seen.extend(page["items"].as_array().unwrap().iter().map(|r| r["id"].as_u64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/partners/p1/rooms?limit=200&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 1005);
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 1005, "no room twice");
    // Six picker pages of 200 (the last of 5), each from one HipChat page of up to 1000 read
    // at the picker's cursor: one HipChat call per picker page.
    assert_eq!(requests, 6);
    assert_eq!(w.sim.sim().counters().count(ep::ROOM_LIST), 6);
}

/// The check's own URL at a refused address is a 422 like `PUT /settings`; a stored one (saved
/// before the deployment refused it) is reported as `url_not_allowed` without a connection,
/// and the room picker answers the 409 (docs/design.md "Outbound calls only where they belong").
#[tokio::test]
async fn a_url_at_a_refused_address_is_never_called() {
    let mut w = world().await;
    let (status, body) =
        w.send("POST", "/v1/partners/p1/connection-check", r#"{"hipchat_url": "http://0251.0376.0251.0376/"}"#).await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("hipchat_url")), "{body}");
    assert_eq!(body["errors"][0]["code"], "url_not_allowed");

    // A deployment that does not allow loopback, with the simulator's loopback URL stored.
    w.d.chat_hosts = PrivateHosts::NONE;
    w.d.chat = shared::adapters::hipchat::HipchatClient::with_timeouts(
        std::time::Duration::from_secs(2),
        std::time::Duration::from_secs(3),
        PrivateHosts::NONE,
    )
    .unwrap();
    w.configure(w.base(), Some(1), Some(&w.token(TOKEN, &GUIDE_SCOPES))).await;
    let report = w.check(Value::Null).await;
    assert_eq!(codes(&report), ["url_not_allowed"], "{report}");
    assert!(problem(&report, "url_not_allowed")["message"].as_str().unwrap().contains("loopback"), "{report}");
    let (status, body) = w.send("GET", "/v1/partners/p1/rooms", "").await;
    assert_eq!((status, body["type"].as_str()), (409, Some("/problems/url-not-allowed")), "{body}");
    assert_eq!(w.hipchat_calls(), 0, "nothing reached the simulator");
}

/// A captured room creation played again is refused like a bad signature before HipChat is
/// called (docs/api.md "Replayed requests").
#[tokio::test]
async fn a_replayed_room_creation_is_401_and_calls_no_one() {
    let w = world().await;
    w.configure(w.base(), None, Some(&w.token(TOKEN, &GUIDE_SCOPES))).await;
    let captured = request("POST", "/v1/partners/p1/rooms", r#"{"name": "Staff (temporary)"}"#);
    let replay = test_support::replay_of(&captured);
    assert_eq!(test_support::status_and_json(&handle(&w.d, captured).await.unwrap()).0, 201);
    // The admin removes the room again; the replay must not bring it back.
    let id = w.sim.sim().rooms()[0].id;
    w.d.chat
        .delete_room(&ChatAccess::new(w.base(), SecretString::from(TOKEN)).unwrap(), RoomRef::Id(id))
        .await
        .unwrap();
    let calls = w.hipchat_calls();
    let (status, body) = test_support::status_and_json(&handle(&w.d, replay).await.unwrap());
    assert_eq!((status, body["type"].as_str()), (401, Some("/problems/unauthorized")));
    assert_eq!((w.hipchat_calls(), w.sim.sim().rooms().len()), (calls, 0));
}

#[tokio::test]
async fn a_notification_room_is_created_once() {
    let w = world().await;
    w.configure(w.base(), None, Some(&w.token(TOKEN, &GUIDE_SCOPES))).await;
    let (status, room) =
        w.send("POST", "/v1/partners/p1/rooms", r#"{"name": "dynaBOARD staff", "topic": "Chat requests"}"#).await;
    assert_eq!(status, 201, "{room}");
    let rooms = w.sim.sim().rooms();
    assert_eq!(rooms.len(), 1);
    assert_eq!((room["id"].as_u64(), room["name"].as_str()), (Some(rooms[0].id), Some("dynaBOARD staff")));
    assert_eq!(rooms[0].topic, "Chat requests");

    let (status, p) = w.send("POST", "/v1/partners/p1/rooms", r#"{"name": "dynaBOARD staff"}"#).await;
    assert_eq!((status, p["type"].as_str()), (409, Some("/problems/room-name-taken")));
    assert!(p["detail"].as_str().unwrap().contains("dynaBOARD staff"), "{p}");
    assert_eq!(w.sim.sim().rooms().len(), 1);

    let calls = w.hipchat_calls();
    let (status, p) = w.send("POST", "/v1/partners/p1/rooms", &json!({"name": "x".repeat(51)}).to_string()).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (422, Some("name")));
    assert_eq!(w.hipchat_calls(), calls, "refused before HipChat");
}

#[tokio::test]
async fn room_creation_without_manage_rooms_or_with_a_dead_token_is_a_clear_409() {
    let w = world().await;
    w.configure(w.base(), None, Some(&w.token(TOKEN, &["view_room", "view_group"]))).await;
    let (status, p) = w.send("POST", "/v1/partners/p1/rooms", r#"{"name": "Staff"}"#).await;
    assert_eq!((status, p["type"].as_str()), (409, Some("/problems/missing-scopes")));
    assert!(p["detail"].as_str().unwrap().contains("Manage Rooms"), "{p}");

    w.sim.sim().revoke_token(TOKEN);
    let (status, p) = w.send("POST", "/v1/partners/p1/rooms", r#"{"name": "Staff"}"#).await;
    assert_eq!((status, p["type"].as_str()), (409, Some("/problems/token-rejected")));
    assert!(w.stored_token().await.rejected);
    let (status, p) = w.send("GET", "/v1/partners/p1/rooms", "").await;
    assert_eq!((status, p["type"].as_str()), (409, Some("/problems/token-rejected")));
}

#[tokio::test]
async fn rooms_need_settings_a_url_and_a_token() {
    let w = world().await;
    let (status, _) = w.send("GET", "/v1/partners/p1/rooms", "").await;
    assert_eq!(status, 404);
    let p = partner();
    let settings = parse_settings(&json!({"active": false})).unwrap().settings;
    w.d.store.put(&p, &settings, &Precondition::None, NOW.parse().unwrap()).await.unwrap();
    let (status, body) = w.send("GET", "/v1/partners/p1/rooms", "").await;
    assert_eq!((status, body["type"].as_str()), (409, Some("/problems/hipchat-url-missing")));
    w.configure(w.base(), None, None).await;
    let (status, body) = w.send("POST", "/v1/partners/p1/rooms", r#"{"name": "Staff"}"#).await;
    assert_eq!((status, body["type"].as_str()), (409, Some("/problems/token-missing")));
    assert_eq!(w.hipchat_calls(), 0);
}

#[tokio::test]
async fn hipchat_outages_are_503_with_retry_after_when_known() {
    let w = world().await;
    w.configure(w.base(), None, Some(&w.token(TOKEN, &GUIDE_SCOPES))).await;
    w.sim.sim().inject_fault(
        Fault::new(FaultAction::Status { status: 429, message: None, reset_in_seconds: Some(120) }).on(ep::ROOM_LIST),
    );
    let (status, p) = w.send("GET", "/v1/partners/p1/rooms", "").await;
    assert_eq!((status, p["type"].as_str()), (503, Some("/problems/hipchat-unavailable")));
    let retry = p["retry_after"].as_u64().unwrap();
    assert!((100..=121).contains(&retry), "{p}");
    w.sim.sim().inject_fault(Fault::new(FaultAction::Drop).on(ep::ROOM_LIST));
    let (status, _) = w.send("GET", "/v1/partners/p1/rooms", "").await;
    assert_eq!(status, 503);
    let (status, _) = w.send("GET", "/v1/partners/p1/rooms", "").await;
    assert_eq!(status, 200, "recovers once the fault is gone");
    assert_eq!(w.d.store.calls.load(Ordering::SeqCst), 5, "one settings read per request (plus the setup)");
}

/// The sample events in events/ run through the handler as `cargo lambda invoke` would
/// deliver them (re-signed, except the bad-signature one), for a demo partner whose
/// settings point at the simulator.
#[tokio::test]
async fn sample_events_give_the_documented_statuses() {
    let w = world().await;
    let room = w.sim.sim().add_room(RoomSpec { name: "dynaBOARD notifications".into(), ..RoomSpec::default() });
    let p = PartnerId::parse("demo").unwrap();
    let doc = json!({"active": true, "hipchat_url": w.base(), "notification_room_id": room});
    let now: Timestamp = NOW.parse().unwrap();
    store_settings(&w.d.store, &p, &doc, now).await;
    store_token(&w.d.store, w.d.tokens.inner(), &p, &w.token(TOKEN, &GUIDE_SCOPES), now).await;
    let cases = [
        ("connection-check.stored.json", 200),
        ("connection-check.before-saving.json", 200),
        ("connection-check.rooms-list.json", 200),
        ("connection-check.rooms-create.json", 201),
        ("connection-check.rooms-create.json", 409),
        ("connection-check.rooms-invalid.json", 422),
        ("connection-check.bad-signature.json", 401),
    ];
    for (file, expected) in cases {
        let path = format!("{}/../../events/{file}", env!("CARGO_MANIFEST_DIR"));
        let mut req = lambda_http::request::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if !file.contains("bad-signature") {
            test_support::sign_request(&mut req, KEY, now.as_second());
        }
        let (status, body) = test_support::status_and_json(&handle(&w.d, req).await.unwrap());
        assert_eq!(status, expected, "{file}: {body}");
        match file {
            "connection-check.stored.json" => assert_eq!(body["ok"], true, "{body}"),
            "connection-check.before-saving.json" => {
                assert_eq!(codes(&body), ["token_whitespace", "url_has_path", "unreachable"], "{body}")
            }
            "connection-check.rooms-list.json" => assert_eq!(body["items"][0]["name"], "dynaBOARD notifications"),
            "connection-check.rooms-invalid.json" => {
                let fields: Vec<&str> =
                    body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
                assert_eq!(fields, ["name", "owner"]);
            }
            _ => {}
        }
    }
}
