//! Handler tests: real `lambda_http` requests, the in-memory store and secrets (which count
//! their calls), and the real HipChat client talking HTTP to the HipChat v2 simulator.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hipchat_sim::endpoints as ep;
use hipchat_sim::{Fault, FaultAction, Limits, RoomSnapshot, RoomSpec, RunningSim, SimConfig, TokenSpec, start};
use jiff::Timestamp;
use lambda_http::Request;
use secrecy::SecretString;
use serde_json::{Value, json};
use shared::adapters::dynamo::DynamoStore;
use shared::adapters::secrets::SecretsManagerTokens;
use shared::domain::partner::PartnerId;
use shared::ports::chat::ChatService;
use shared::ports::chat::{ChatAccess, RoomUpdate};
use shared::ports::{RoomMapping, SettingsStore, Store, TokenSecrets};
use test_support::{
    KEY, MemorySecrets, MemoryStore, NOW, TOKEN, Test, signed_request, status_and_json, store_settings, store_token,
};

use super::*;

type TestDeps<S = MemoryStore, T = MemorySecrets> = Deps<Test<S, T>>;

/// One partner's world: the simulator with a staff room and a token, the handler's ports, and
/// the partner's settings. On the in-memory fakes, or (`on_moto`) on DynamoDB and Secrets
/// Manager in moto, so the same flows run on both.
struct World<S: Store + 'static = MemoryStore, T: TokenSecrets + 'static = MemorySecrets> {
    sim: RunningSim,
    d: TestDeps<S, T>,
    staff_room: u64,
    partner: PartnerId,
    /// On moto: the ports the test itself stores and inspects with, under a caller name that
    /// is no function's ([`test_support::e2e::SETUP_APP`]), so the local stack's IAM policy check
    /// counts only the handler's own calls (`d`'s) as the function's. On the fakes: `None`,
    /// the test uses `d`'s ports.
    arrange: Option<(S, T)>,
}

fn deps<S: Store + 'static, T: TokenSecrets + 'static>(store: S, secrets: T) -> TestDeps<S, T> {
    test_support::deps(store, secrets)
}

/// A partner `p1` with an active integration, the button on, Vienna office hours on weekdays
/// 08:00–17:00, a staff room and a token with every scope.
async fn world() -> World {
    world_with(json!({})).await
}

/// Like [`world`], with members of the settings document replaced by `patch`'s.
async fn world_with(patch: Value) -> World {
    let p = PartnerId::parse("p1").unwrap();
    World::set_up(deps(MemoryStore::default(), MemorySecrets::default()), None, p, patch).await
}

/// [`world`] on moto: the real DynamoDB and Secrets Manager adapters (needs the local stack).
async fn on_moto() -> World<DynamoStore, SecretsManagerTokens> {
    let (store, secrets) = test_support::e2e::moto_ports(env!("CARGO_PKG_NAME")).await;
    let arrange = test_support::e2e::moto_ports(test_support::e2e::SETUP_APP).await;
    let p = PartnerId::parse(&test_support::e2e::unique_partner("chat")).unwrap();
    World::set_up(deps(store, secrets), Some(arrange), p, json!({})).await
}

fn sim_token(sim: &RunningSim, token: &str) {
    sim.sim().create_token(TokenSpec { token: Some(token.into()), ..TokenSpec::default() });
}

fn weekdays(ranges: Value) -> Value {
    json!({"monday": ranges, "tuesday": ranges, "wednesday": ranges, "thursday": ranges, "friday": ranges})
}

fn always() -> Value {
    let all = json!([{"from": "00:00", "to": "24:00"}]);
    json!({"timezone": "UTC", "days": {"monday": all, "tuesday": all, "wednesday": all, "thursday": all,
        "friday": all, "saturday": all, "sunday": all}})
}

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn user(id: &str, first: &str, last: &str) -> Value {
    json!({"id": id, "first_name": first, "last_name": last, "email": format!("{id}@example.com"),
           "company": "Acme", "role": "customer"})
}

impl<S: Store + 'static, T: TokenSecrets + 'static> World<S, T> {
    async fn set_up(d: TestDeps<S, T>, arrange: Option<(S, T)>, partner: PartnerId, patch: Value) -> Self {
        let sim = start(SimConfig::default()).await.expect("simulator starts");
        let staff_room = sim.sim().add_room(RoomSpec { name: "Staff".into(), ..RoomSpec::default() });
        let w = World { sim, d, staff_room, partner, arrange };
        sim_token(&w.sim, TOKEN);
        let mut doc = json!({
            "active": true,
            "hipchat_url": w.base(),
            "notification_room_id": staff_room,
            "chat": {"show_button": true, "button_position": "top", "service_hours": {
                "timezone": "Europe/Vienna",
                "days": weekdays(json!([{"from": "08:00", "to": "17:00"}])),
                "closed_dates": ["2026-12-24"]
            }}
        });
        for (k, v) in patch.as_object().unwrap() {
            doc[k] = v.clone();
        }
        w.put_settings(doc).await;
        w.put_token(TOKEN).await;
        w
    }

    fn base(&self) -> &str {
        self.sim.base_url()
    }

    fn path(&self, rest: &str) -> String {
        format!("/v1/partners/{}/{rest}", self.partner)
    }

    /// The store the test arranges and inspects with (see `arrange`).
    fn store(&self) -> &S {
        self.arrange.as_ref().map_or(&self.d.store, |(s, _)| s)
    }

    /// The token secrets the test stores with (see `arrange`).
    fn secrets(&self) -> &T {
        self.arrange.as_ref().map_or(self.d.tokens.inner(), |(_, t)| t)
    }

    async fn put_settings(&self, doc: Value) {
        store_settings(self.store(), &self.partner, &doc, now()).await;
    }

    async fn put_token(&self, token: &str) {
        store_token(self.store(), self.secrets(), &self.partner, token, now()).await;
    }

    async fn send(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        send(&self.d, method, path, body).await
    }

    async fn chat(&self, user: Value) -> (u16, Value) {
        self.send("POST", &self.path("chat/requests"), &json!({ "user": user }).to_string()).await
    }

    async fn availability(&self, query: &str) -> (u16, Value) {
        self.send("GET", &format!("{}{query}", self.path("chat/availability")), "").await
    }

    fn hipchat_calls(&self) -> u64 {
        self.sim.sim().counters().total
    }

    fn count(&self, endpoint: &str) -> u64 {
        self.sim.sim().counters().count(endpoint)
    }

    fn user_rooms(&self) -> Vec<RoomSnapshot> {
        self.sim.sim().rooms().into_iter().filter(|r| r.id != self.staff_room).collect()
    }

    fn staff_notifications(&self) -> Vec<hipchat_sim::Notification> {
        self.sim.sim().room(self.staff_room).unwrap().notifications
    }

    fn access(&self) -> ChatAccess {
        ChatAccess::new(self.base(), SecretString::from(TOKEN)).unwrap()
    }

    async fn mapping(&self, user_id: &str) -> Option<RoomMapping> {
        self.store().room(&self.partner, user_id).await.unwrap()
    }
}

impl World {
    fn store_calls(&self) -> usize {
        self.d.store.calls.load(Ordering::SeqCst)
    }

    fn secret_reads(&self) -> usize {
        self.d.tokens.inner().reads.load(Ordering::SeqCst)
    }
}

async fn send<S, T>(d: &TestDeps<S, T>, method: &str, path: &str, body: &str) -> (u16, Value)
where
    S: Store + 'static,
    T: TokenSecrets + 'static,
{
    status_and_json(&handle(d, request(method, path, body)).await.unwrap())
}

fn request(method: &str, path: &str, body: &str) -> Request {
    signed_request(method, path, body, KEY, now().as_second())
}

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect()
}

// ---------- availability ----------

#[tokio::test]
async fn availability_inside_office_hours() {
    let w = world().await;
    let (status, body) = w.availability("").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"show_button": true, "button_position": "top", "available": true, "now": NOW,
               "timezone": "Europe/Vienna", "next_change_at": "2026-11-25T16:00:00Z"})
    );
    assert_eq!(w.hipchat_calls(), 0, "availability never calls HipChat");
}

#[tokio::test]
async fn availability_at_an_instant_and_its_errors() {
    let w = world().await;
    // Friday evening: closed until Monday 08:00 Vienna (07:00 UTC).
    let (status, body) = w.availability("?at=2026-11-27T18:30:00%2B01:00").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["available"].as_bool(), body["now"].as_str()), (Some(false), Some("2026-11-27T17:30:00Z")));
    assert_eq!(body["next_change_at"], "2026-11-30T07:00:00Z");
    // A `+` that arrived unencoded (read as a space) is accepted.
    let (_, plus) = w.availability("?at=2026-11-27T18:30:00+01:00").await;
    assert_eq!(plus["now"], "2026-11-27T17:30:00Z");
    // A closed date: opens the next working day.
    let (_, xmas) = w.availability("?at=2026-12-24T10:00:00Z").await;
    assert_eq!(
        (xmas["available"].as_bool(), xmas["next_change_at"].as_str()),
        (Some(false), Some("2026-12-25T07:00:00Z"))
    );
    for bad in ["?at=yesterday", "?at=2026-11-27T18:30:00", "?at="] {
        let (status, p) = w.availability(bad).await;
        assert_eq!((status, fields(&p)), (422, vec!["at"]), "{bad}: {p}");
    }
    let (status, p) = w.availability("?when=now").await;
    assert_eq!((status, fields(&p)), (422, vec!["when"]));
}

#[tokio::test]
async fn the_button_is_hidden_with_its_reason() {
    let w = world().await;
    async fn reason(w: &World) -> String {
        let (status, body) = w.availability("").await;
        assert_eq!(status, 200);
        assert_eq!((body["show_button"].as_bool(), body["available"].as_bool()), (Some(false), Some(false)), "{body}");
        assert_eq!(body["next_change_at"], Value::Null);
        body["reason"].as_str().unwrap().to_owned()
    }
    // Settings changes apply at once: every call reads them.
    w.put_settings(json!({"active": true, "hipchat_url": w.base(), "chat": {"show_button": false}})).await;
    assert_eq!(reason(&w).await, "button_off");
    w.put_settings(json!({"active": false})).await;
    assert_eq!(reason(&w).await, "inactive");
    w.put_settings(json!({"active": true, "hipchat_url": w.base(), "chat": {"show_button": true}})).await;
    w.store().clear_token(&w.partner, now()).await.unwrap();
    assert_eq!(reason(&w).await, "token_missing");
    w.store().delete_partner(&w.partner).await.unwrap();
    assert_eq!(reason(&w).await, "not_configured");
}

// ---------- chat requests: refusals ----------

#[tokio::test]
async fn refusals_make_no_hipchat_call() {
    let w = world().await;
    let ada = user("u1", "Ada", "Lovelace");
    // Outside the service hours (open on Saturdays only): next_open_at is the next opening.
    let saturdays = json!({"timezone": "Europe/Vienna", "days": {"saturday": [{"from": "08:00", "to": "17:00"}]}});
    w.put_settings(
        json!({"active": true, "hipchat_url": w.base(), "chat": {"show_button": true, "service_hours": saturdays}}),
    )
    .await;
    let (status, p) = w.chat(ada.clone()).await;
    assert_eq!((status, p["type"].as_str()), (409, Some("/problems/chat-closed")), "{p}");
    assert_eq!(p["next_open_at"], "2026-11-28T07:00:00Z");

    w.put_settings(json!({"active": true, "hipchat_url": w.base(), "chat": {"show_button": false}})).await;
    let (status, p) = w.chat(ada.clone()).await;
    assert_eq!((status, p["type"].as_str()), (409, Some("/problems/chat-disabled")), "{p}");
    w.put_settings(json!({"active": false})).await;
    let (status, p) = w.chat(ada.clone()).await;
    assert_eq!((status, p["type"].as_str()), (409, Some("/problems/chat-disabled")), "{p}");

    w.put_settings(
        json!({"active": true, "hipchat_url": w.base(), "chat": {"show_button": true, "service_hours": always()}}),
    )
    .await;
    w.store().clear_token(&w.partner, now()).await.unwrap();
    let (status, p) = w.chat(ada.clone()).await;
    assert_eq!((status, p["type"].as_str()), (409, Some("/problems/token-missing")), "{p}");
    assert_eq!(w.hipchat_calls(), 0);
    assert_eq!(w.secret_reads(), 0, "refused before the secret is read");
}

#[tokio::test]
async fn invalid_bodies_name_every_field() {
    let w = world().await;
    let (status, p) = w
        .send(
            "POST",
            &w.path("chat/requests"),
            r#"{"user": {"id": "", "first_name": " ", "email": "nope", "role": "guest", "nickname": "x"}, "extra": 1}"#,
        )
        .await;
    assert_eq!(status, 422, "{p}");
    let f = fields(&p);
    for field in ["user.id", "user.first_name", "user.email", "user.role", "user.nickname", "extra"] {
        assert!(f.contains(&field), "{field} missing in {f:?}");
    }
    let (status, p) = w.send("POST", &w.path("chat/requests"), "{}").await;
    assert_eq!((status, fields(&p)), (422, vec!["user"]));
    let (status, _) = w.send("POST", &w.path("chat/requests"), &"x".repeat(70_000)).await;
    assert_eq!(status, 413);
    let (status, p) = w.send("PUT", &w.path("chat/requests"), "{}").await;
    assert_eq!((status, p["type"].as_str()), (405, Some("/problems/method-not-allowed")));
    let (status, _) = w.send("GET", &w.path("chat/nothing"), "").await;
    assert_eq!(status, 404);
    let mut unsigned = request("GET", &w.path("chat/availability"), "");
    unsigned.headers_mut().remove("x-dynaboard-signature");
    let resp = handle(&w.d, unsigned).await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(w.hipchat_calls(), 0);
}

// ---------- chat requests: rooms ----------

async fn a_new_user_gets_a_room_with_guest_access_and_the_staff_a_notification<
    S: Store + 'static,
    T: TokenSecrets + 'static,
>(
    w: World<S, T>,
) {
    let (status, body) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!(status, 201, "{body}");
    let rooms = w.user_rooms();
    assert_eq!(rooms.len(), 1);
    let room = &rooms[0];
    assert_eq!(room.name, "dynaBOARD - Ada Lovelace");
    assert_eq!(room.topic, "Acme · u1@example.com");
    assert!(room.is_guest_accessible && room.privacy == "public", "{room:?}");
    assert_eq!(body["room"], json!({"id": room.id, "name": room.name, "created": true}));
    assert_eq!(body["guest_url"].as_str(), room.guest_access_url.as_deref());
    assert_eq!(body["guest_name"], "Ada Lovelace");
    assert_eq!((body["notification_sent"].as_bool(), body["warnings"].clone()), (Some(true), json!([])));

    let notes = w.staff_notifications();
    assert_eq!(notes.len(), 1);
    let n = &notes[0];
    assert_eq!((n.message_format.as_str(), n.notify, n.color.as_str()), ("html", true, "green"));
    assert!(n.message.contains(&format!("href=\"{}/chat/room/{}\"", w.base(), room.id)), "{}", n.message);
    assert!(n.message.contains("Ada Lovelace") && n.message.contains("u1@example.com"), "{}", n.message);

    // Upstream calls of a new user: POST room, GET room, POST notification; one read and
    // two writes (claim, store) in the store; the secret read once.
    assert_eq!((w.count(ep::ROOM_CREATE), w.count(ep::ROOM_GET), w.count(ep::ROOM_NOTIFICATION)), (1, 1, 1));
    assert_eq!(w.hipchat_calls(), 3);
}

async fn a_repeat_request_reuses_the_room_with_two_hipchat_calls_and_one_read<
    S: Store + 'static,
    T: TokenSecrets + 'static,
>(
    w: World<S, T>,
) {
    let (_, first) = w.chat(user("u1", "Ada", "Lovelace")).await;
    let hip = w.hipchat_calls();
    let (status, again) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["room"]["id"], first["room"]["id"]);
    assert_eq!(again["room"]["created"], false);
    assert_eq!(again["guest_url"], first["guest_url"], "guest access stayed on: same URL");
    assert_eq!(w.hipchat_calls() - hip, 2, "GET room + POST notification");
    assert_eq!((w.count(ep::ROOM_GET), w.count(ep::ROOM_NOTIFICATION)), (2, 2));
    assert_eq!(w.user_rooms().len(), 1);
    assert_eq!(w.staff_notifications().len(), 2, "each click tells the staff");
}

/// A chat request played again by someone who captured it is refused like a bad signature: the
/// staff are not told twice (docs/api.md "Replayed requests").
async fn a_replayed_chat_request_is_401_and_tells_the_staff_once<S: Store + 'static, T: TokenSecrets + 'static>(
    w: World<S, T>,
) {
    let captured =
        request("POST", &w.path("chat/requests"), &json!({ "user": user("u1", "Ada", "Lovelace") }).to_string());
    let replay = test_support::replay_of(&captured);
    assert_eq!(status_and_json(&handle(&w.d, captured).await.unwrap()).0, 201);
    let hip = w.hipchat_calls();
    let (status, body) = status_and_json(&handle(&w.d, replay).await.unwrap());
    assert_eq!((status, body["type"].as_str()), (401, Some("/problems/unauthorized")));
    assert_eq!(w.hipchat_calls(), hip, "nothing reached HipChat");
    assert_eq!(w.staff_notifications().len(), 1);
}

async fn a_room_deleted_in_hipchat_is_created_anew<S: Store + 'static, T: TokenSecrets + 'static>(w: World<S, T>) {
    let (_, first) = w.chat(user("u1", "Ada", "Lovelace")).await;
    let old = first["room"]["id"].as_u64().unwrap();
    w.d.chat.delete_room(&w.access(), shared::ports::chat::RoomRef::Id(old)).await.unwrap();
    let (status, again) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!(status, 201, "{again}");
    let new = again["room"]["id"].as_u64().unwrap();
    assert_ne!(new, old);
    assert_eq!(again["room"]["name"], "dynaBOARD - Ada Lovelace", "the old name is free again");
    assert!(matches!(w.mapping("u1").await, Some(RoomMapping::Ready(m)) if m.room_id == new));
    // And the new room is reused next time.
    let (status, third) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!((status, third["room"]["id"].as_u64()), (200, Some(new)));
}

async fn guest_access_turned_off_in_hipchat_is_turned_on_again<S: Store + 'static, T: TokenSecrets + 'static>(
    w: World<S, T>,
) {
    let (_, first) = w.chat(user("u1", "Ada", "Lovelace")).await;
    let id = first["room"]["id"].as_u64().unwrap();
    let room = w.sim.sim().room(id).unwrap();
    let off = RoomUpdate {
        name: room.name.clone(),
        privacy: room.privacy.clone(),
        is_archived: false,
        is_guest_accessible: false,
        topic: room.topic.clone(),
        owner_id: room.owner_id,
    };
    w.d.chat.update_room(&w.access(), id, &off).await.unwrap();
    assert!(w.sim.sim().room(id).unwrap().guest_access_url.is_none());
    let (status, again) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!(status, 200, "{again}");
    let now_room = w.sim.sim().room(id).unwrap();
    assert!(now_room.is_guest_accessible);
    assert_eq!(again["guest_url"].as_str(), now_room.guest_access_url.as_deref());
    assert_ne!(again["guest_url"], first["guest_url"], "HipChat makes a new URL on each enable");
    assert_eq!((now_room.name, now_room.topic), (room.name, room.topic), "the PUT kept the other fields");
    assert_eq!(w.count(ep::ROOM_UPDATE), 2, "ours and the test's");
}

async fn two_users_with_the_same_name_get_distinct_rooms<S: Store + 'static, T: TokenSecrets + 'static>(
    w: World<S, T>,
) {
    let (s1, a) = w.chat(user("u1", "Jane", "Doe")).await;
    let (s2, b) = w.chat(user("u2", "Jane", "Doe")).await;
    assert_eq!((s1, s2), (201, 201), "{a} {b}");
    assert_eq!(a["room"]["name"], "dynaBOARD - Jane Doe");
    assert_eq!(b["room"]["name"], "dynaBOARD - Jane Doe (2)");
    let (s3, c) = w.chat(user("u3", "Jane", "Doe")).await;
    assert_eq!((s3, c["room"]["name"].as_str()), (201, Some("dynaBOARD - Jane Doe (3)")));
    // Each is reused for its own user.
    let (_, b2) = w.chat(user("u2", "Jane", "Doe")).await;
    assert_eq!(b2["room"]["id"], b["room"]["id"]);
    assert_eq!(w.user_rooms().len(), 3);
}

#[tokio::test]
async fn names_are_cleaned_shortened_and_escaped_in_the_notification() {
    let w = world_with(json!({"room_name_prefix": "Support"})).await;
    let evil = json!({"id": "u9", "first_name": "  <script>alert(1)</script>\u{7}", "last_name": "O'Brien & \"Sons\"",
                      "email": "evil@example.com", "company": "<b>Evil</b> & Co", "role": "customer"});
    let (status, body) = w.chat(evil).await;
    assert_eq!(status, 201, "{body}");
    let name = body["room"]["name"].as_str().unwrap();
    assert!(name.starts_with("Support - <script>"), "{name}");
    assert!(name.chars().count() <= 50 && !name.contains('\u{7}'), "{name}");
    let n = &w.staff_notifications()[0].message;
    assert!(!n.contains("<script>") && !n.contains("<b>Evil"), "{n}");
    assert!(n.contains("&lt;script&gt;") && n.contains("&amp; Co"), "{n}");
    assert!(!n.contains("&amp;amp;") && !n.contains("&amp;lt;"), "escaped once: {n}");

    let long = json!({"id": "u10", "first_name": "Maximiliane", "last_name": "Wolfeschlegelsteinhausenbergerdorff-Schmidt",
                      "email": "max@example.com", "role": "partner"});
    let (_, body) = w.chat(long).await;
    let name = body["room"]["name"].as_str().unwrap();
    assert_eq!(name.chars().count(), 50, "{name}");
    assert!(name.starts_with("Support - Maximiliane") && name.ends_with('…'), "{name}");
    let room = w.sim.sim().room(body["room"]["id"].as_u64().unwrap()).unwrap();
    assert_eq!(room.topic, "max@example.com", "partners: only the email");

    let single = json!({"id": "u11", "first_name": "李", "last_name": "", "email": "li@example.com", "role": "admin"});
    let (status, body) = w.chat(single).await;
    assert_eq!((status, body["room"]["name"].as_str()), (201, Some("Support - 李")));
}

#[tokio::test]
async fn german_partners_get_german_notifications() {
    let w = world_with(json!({"language": "de"})).await;
    w.chat(user("u1", "Ada", "Lovelace")).await;
    let n = &w.staff_notifications()[0].message;
    assert!(n.contains("Zum Raum") || n.contains("zum Raum"), "{n}");
}

// ---------- chat requests: concurrency and crashes ----------

async fn fifty_concurrent_requests_for_one_user_make_exactly_one_room<S: Store + 'static, T: TokenSecrets + 'static>(
    w: World<S, T>,
) {
    let path = w.path("chat/requests");
    // Requests that start after the room is stored are repeat clicks (two HipChat calls
    // each): lift HipChat's limits so that timing cannot turn them into 429s here.
    w.sim.sim().set_limits(Limits { rate_limit: Some(1000), flood_limit: Some(1000), ..Limits::default() });
    let (sim, staff) = (w.sim, w.staff_room);
    let d = Arc::new(w.d);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (d, path) = (d.clone(), path.clone());
        let body = json!({"user": user("u1", "Ada", "Lovelace")}).to_string();
        tasks.spawn(async move { send(&d, "POST", &path, &body).await });
    }
    let mut ids = std::collections::BTreeSet::new();
    let (mut created, mut notified) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        let (status, body) = r.unwrap();
        assert!(status == 200 || status == 201, "{status} {body}");
        created += usize::from(status == 201);
        notified += usize::from(body["notification_sent"] == true);
        ids.insert(body["room"]["id"].as_u64().unwrap());
        assert!(body["guest_url"].as_str().is_some_and(|u| u.contains("/g")), "{body}");
    }
    assert_eq!(ids.len(), 1, "every answer names the same room");
    assert_eq!(created, 1, "one request created it");
    let rooms: Vec<_> = sim.sim().rooms().into_iter().filter(|r| r.id != staff).collect();
    assert_eq!(rooms.len(), 1, "exactly one room in HipChat");
    assert_eq!(sim.sim().counters().count(ep::ROOM_CREATE), 1);
    // Requests that waited for the creation answer without a notification of their own; one
    // that started after the room was stored is a repeat click and notifies (timing decides
    // how many do). Every notification is accounted for by an answer.
    let notes = sim.sim().room(staff).unwrap().notifications.len();
    assert_eq!(notes, notified, "one notification per answer that says it notified");
    assert!((1..50).contains(&notes), "the creator notified, the waiters did not: {notes}");
}

async fn a_claim_left_by_a_crash_is_taken_over_after_its_lease_and_the_room_adopted<
    S: Store + 'static,
    T: TokenSecrets + 'static,
>(
    w: World<S, T>,
) {
    // A request created the room and died before storing the mapping; its lease has ended.
    let orphan = w.sim.sim().add_room(RoomSpec {
        name: "dynaBOARD - Ada Lovelace".into(),
        topic: Some("Acme · u1@example.com".into()),
        ..RoomSpec::default()
    });
    let ended = now() - jiff::SignedDuration::from_secs(1);
    let past = now() - jiff::SignedDuration::from_secs(30);
    assert!(w.store().claim_room(&w.partner, "u1", "dead", ended, None, past).await.unwrap());
    let (status, body) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["room"]["id"].as_u64(), Some(orphan), "adopted by name and topic");
    assert!(w.sim.sim().room(orphan).unwrap().is_guest_accessible, "guest access turned on");
    assert_eq!(w.user_rooms().len(), 1);
    assert!(matches!(w.mapping("u1").await, Some(RoomMapping::Ready(m)) if m.room_id == orphan));
}

// ---------- chat requests: HipChat failures ----------

async fn a_500_on_create_is_a_503_and_the_retry_creates_one_room<S: Store + 'static, T: TokenSecrets + 'static>(
    w: World<S, T>,
) {
    w.sim.sim().inject_fault(
        Fault::new(FaultAction::Status { status: 500, message: Some("boom".into()), reset_in_seconds: None })
            .on(ep::ROOM_CREATE),
    );
    let (status, p) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!((status, p["type"].as_str()), (503, Some("/problems/hipchat-unavailable")), "{p}");
    assert!(!p["detail"].as_str().unwrap().contains("boom"), "HipChat's text is not echoed: {p}");
    assert_eq!(w.mapping("u1").await, None, "the claim was released");
    let (status, body) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(w.user_rooms().len(), 1);
}

async fn a_429_with_a_distant_reset_is_a_503_with_retry_after<S: Store + 'static, T: TokenSecrets + 'static>(
    w: World<S, T>,
) {
    w.chat(user("u1", "Ada", "Lovelace")).await;
    w.sim.sim().inject_fault(
        Fault::new(FaultAction::Status {
            status: 429,
            message: Some("Rate Limit exceeded".into()),
            reset_in_seconds: Some(40),
        })
        .on(ep::ROOM_GET),
    );
    let resp = handle(
        &w.d,
        request("POST", &w.path("chat/requests"), &json!({"user": user("u1", "Ada", "Lovelace")}).to_string()),
    )
    .await
    .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((30..=40).contains(&retry), "{retry}");
    let (status, body) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(w.user_rooms().len(), 1);
}

async fn a_timeout_on_create_is_a_503_and_the_retry_adopts_the_room_hipchat_made<
    S: Store + 'static,
    T: TokenSecrets + 'static,
>(
    w: World<S, T>,
) {
    // HipChat makes the room but answers after the client's 3 s budget.
    w.sim.sim().inject_fault(Fault::new(FaultAction::Delay { ms: 3_500 }).on(ep::ROOM_CREATE));
    let (status, p) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!((status, p["type"].as_str()), (503, Some("/problems/hipchat-unavailable")), "{p}");
    // Wait (on the simulator's state, not the clock) until the delayed create has happened.
    for _ in 0..100 {
        if !w.user_rooms().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert!(status == 200 || status == 201, "{status} {body}");
    assert_eq!(w.user_rooms().len(), 1, "no duplicate room");
    assert_eq!(body["room"]["id"].as_u64(), Some(w.user_rooms()[0].id));
}

async fn a_rejected_token_is_409_marks_the_token_and_hides_the_button<S: Store + 'static, T: TokenSecrets + 'static>(
    w: World<S, T>,
) {
    w.chat(user("u1", "Ada", "Lovelace")).await;
    assert!(w.sim.sim().revoke_token(TOKEN));
    let (status, p) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!((status, p["type"].as_str()), (409, Some("/problems/token-rejected")), "{p}");
    let meta = w.store().get(&w.partner).await.unwrap().unwrap().token.unwrap();
    assert!(meta.rejected);
    let (_, a) = w.availability("").await;
    assert_eq!((a["show_button"].as_bool(), a["reason"].as_str()), (Some(false), Some("token_rejected")));
    let calls = w.hipchat_calls();
    let (status, _) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!((status, w.hipchat_calls()), (409, calls), "no call with a known-dead token");

    // A new token: read from Secrets Manager at once (new metadata), and the chat works again.
    sim_token(&w.sim, "NewTokenValue123456");
    w.put_token("NewTokenValue123456").await;
    let (status, body) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!(status, 200, "{body}");
}

async fn a_failed_notification_still_answers_with_the_room<S: Store + 'static, T: TokenSecrets + 'static>(
    w: World<S, T>,
) {
    w.sim.sim().inject_fault(
        Fault::new(FaultAction::Status { status: 500, message: Some("down".into()), reset_in_seconds: None })
            .on(ep::ROOM_NOTIFICATION),
    );
    let (status, body) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["notification_sent"], false);
    assert_eq!(body["warnings"][0]["field"], "notification");

    // The notification room was deleted: the warning says to pick another.
    w.d.chat.delete_room(&w.access(), shared::ports::chat::RoomRef::Id(w.staff_room)).await.unwrap();
    let (status, body) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!(status, 200, "{body}");
    let msg = body["warnings"][0]["message"].as_str().unwrap();
    assert!(msg.contains("no longer exists") && msg.contains("another"), "{msg}");

    // No notification room set at all.
    w.put_settings(
        json!({"active": true, "hipchat_url": w.base(), "chat": {"show_button": true, "service_hours": always()}}),
    )
    .await;
    let (_, body) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!(
        (body["notification_sent"].as_bool(), body["warnings"][0]["field"].as_str()),
        (Some(false), Some("notification_room_id"))
    );
}

// ---------- events/ ----------

#[tokio::test]
async fn every_chat_request_event_runs_through_the_handler() {
    // The demo partner as `make run` seeds it: open around the clock in Vienna, closed at Christmas.
    let mut hours = always();
    hours["timezone"] = json!("Europe/Vienna");
    hours["closed_dates"] = json!(["2026-12-24", "2026-12-25"]);
    let demo = PartnerId::parse("demo").unwrap();
    let patch = json!({"chat": {"show_button": true, "service_hours": hours}});
    let w = World::set_up(deps(MemoryStore::default(), MemorySecrets::default()), None, demo, patch).await;

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let expect = [
        ("chat-request.availability.json", 200),
        ("chat-request.availability-closed.json", 200),
        ("chat-request.new-user.json", 201),
        ("chat-request.repeat.json", 200),
        ("chat-request.invalid.json", 422),
        ("chat-request.bad-signature.json", 401),
    ];
    let mut seen = 0;
    for (file, status) in expect {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let mut req = lambda_http::request::from_str(&text).unwrap();
        if !file.contains("bad-signature") {
            test_support::sign_request(&mut req, KEY, now().as_second());
        }
        let (got, v) = status_and_json(&handle(&w.d, req).await.unwrap());
        assert_eq!(got, status, "{file}: {v}");
        if file == "chat-request.availability-closed.json" {
            assert_eq!(
                (v["available"].as_bool(), v["next_change_at"].as_str()),
                (Some(false), Some("2026-12-25T23:00:00Z"))
            );
        }
        seen += 1;
    }
    let files = std::fs::read_dir(&root)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("chat-request."))
        .count();
    assert_eq!(seen, files, "every chat-request event is covered here");
}

/// The flows above, on the in-memory fakes and on moto's DynamoDB and Secrets Manager.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test] async fn $name() { super::$name(super::world().await).await } )*
        }
        mod moto {
            $(
                #[tokio::test]
                #[ignore = "needs the local stack (make test)"]
                async fn $name() { super::$name(super::on_moto().await).await }
            )*
        }
    };
}

on_both!(
    a_new_user_gets_a_room_with_guest_access_and_the_staff_a_notification,
    a_repeat_request_reuses_the_room_with_two_hipchat_calls_and_one_read,
    a_replayed_chat_request_is_401_and_tells_the_staff_once,
    a_room_deleted_in_hipchat_is_created_anew,
    guest_access_turned_off_in_hipchat_is_turned_on_again,
    two_users_with_the_same_name_get_distinct_rooms,
    fifty_concurrent_requests_for_one_user_make_exactly_one_room,
    a_claim_left_by_a_crash_is_taken_over_after_its_lease_and_the_room_adopted,
    a_500_on_create_is_a_503_and_the_retry_creates_one_room,
    a_429_with_a_distant_reset_is_a_503_with_retry_after,
    a_timeout_on_create_is_a_503_and_the_retry_adopts_the_room_hipchat_made,
    a_rejected_token_is_409_marks_the_token_and_hides_the_button,
    a_failed_notification_still_answers_with_the_room,
);

/// Upstream calls (counted by the fakes and the simulator): a new user costs the signature's
/// one-use record, one read and two writes, three HipChat calls and one secret read; a repeat
/// the signature's record, one read, two HipChat calls and no secret read (the token is cached).
#[tokio::test]
async fn upstream_calls_of_a_new_and_a_repeat_request() {
    let w = world().await;
    let setup = w.store_calls();
    let (status, _) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!(status, 201);
    assert_eq!((w.store_calls() - setup, w.hipchat_calls(), w.secret_reads()), (4, 3, 1));
    let (status, _) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!(status, 200);
    assert_eq!((w.store_calls() - setup, w.hipchat_calls(), w.secret_reads()), (6, 5, 1));
    // A new token is read at once (its metadata changed), not after the cache's TTL.
    sim_token(&w.sim, "NewTokenValue123456");
    w.put_token("NewTokenValue123456").await;
    let calls = w.store_calls();
    let (status, _) = w.chat(user("u1", "Ada", "Lovelace")).await;
    assert_eq!((status, w.store_calls() - calls, w.secret_reads()), (200, 2, 2));
}
