//! Handler tests: real `lambda_http` requests, the in-memory store and secrets (which count
//! their calls) or (`on_moto`) DynamoDB and Secrets Manager in moto, and the real HipChat
//! client talking HTTP to the HipChat v2 simulator, whose stored notifications are checked.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hipchat_sim::endpoints as ep;
use hipchat_sim::{Fault, FaultAction, RoomSpec, RunningSim, SimConfig, TokenSpec, start};
use jiff::Timestamp;
use lambda_http::Request;
use secrecy::SecretString;
use serde_json::{Value, json};
use shared::adapters::dynamo::DynamoStore;
use shared::adapters::secrets::SecretsManagerTokens;
use shared::domain::partner::PartnerId;
use shared::ports::chat::ChatService;
use shared::ports::chat::{ChatAccess, RoomRef};
use shared::ports::{DeliveryClaim, DeliveryKey, DeliveryStore, SettingsStore, Store, TokenSecrets};
use test_support::{
    KEY, MemorySecrets, MemoryStore, NOW, TOKEN, Test, signed_request, status_and_json, store_settings, store_token,
};

use super::*;

type TestDeps<S = MemoryStore, T = MemorySecrets> = Deps<Test<S, T>>;

/// One partner's world: the simulator with a staff room and a token, the handler's ports, and
/// the partner's settings (every notification on, login/logout for customers and partners).
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
    let p = PartnerId::parse(&test_support::e2e::unique_partner("events")).unwrap();
    World::set_up(deps(store, secrets), Some(arrange), p, json!({})).await
}

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn actor(role: &str) -> Value {
    json!({"id": "u1", "first_name": "Jane", "last_name": "Doe", "email": "jane@acme.example",
           "company": "Acme Inc.", "role": role})
}

/// An event of `kind` by a customer, with an issue (and a comment for comments).
fn event(id: &str, kind: &str) -> Value {
    let mut e = json!({"id": id, "type": kind, "occurred_at": "2026-11-25T09:59:58Z", "actor": actor("customer")});
    if kind != "user.login" && kind != "user.logout" {
        e["issue"] = json!({"id": 17, "title": "Printer broken", "url": "https://portal.example.com/issues/17"});
    }
    if kind == "comment.created" {
        e["comment"] = json!({"id": "c9", "excerpt": "It smokes when printing."});
    }
    e
}

const TYPES: [&str; 6] =
    ["user.login", "user.logout", "comment.created", "issue.created", "issue.approved", "issue.disapproved"];

impl<S: Store + 'static, T: TokenSecrets + 'static> World<S, T> {
    async fn set_up(d: TestDeps<S, T>, arrange: Option<(S, T)>, partner: PartnerId, patch: Value) -> Self {
        let sim = start(SimConfig::default()).await.expect("simulator starts");
        let staff_room = sim.sim().add_room(RoomSpec { name: "Staff".into(), ..RoomSpec::default() });
        sim.sim().create_token(TokenSpec { token: Some(TOKEN.into()), ..TokenSpec::default() });
        let w = World { sim, d, staff_room, partner, arrange };
        let mut doc = json!({
            "active": true,
            "hipchat_url": w.sim.base_url(),
            "notification_room_id": staff_room,
            "notifications": {"login_logout": "customers_and_partners", "comment_created": true,
                              "issue_created": true, "issue_approval": true}
        });
        for (k, v) in patch.as_object().unwrap() {
            doc[k] = v.clone();
        }
        w.put_settings(doc).await;
        w.put_token(TOKEN).await;
        w
    }

    fn path(&self) -> String {
        format!("/v1/partners/{}/events", self.partner)
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

    /// Changes members of the stored settings.
    async fn patch_settings(&self, patch: Value) {
        let stored = self.store().get(&self.partner).await.unwrap().unwrap();
        let mut doc = serde_json::to_value(&stored.settings).unwrap();
        for (k, v) in patch.as_object().unwrap() {
            doc[k] = v.clone();
        }
        self.put_settings(doc).await;
    }

    async fn put_token(&self, token: &str) {
        store_token(self.store(), self.secrets(), &self.partner, token, now()).await;
    }

    async fn post(&self, event: &Value) -> (u16, Value) {
        send(&self.d, &self.path(), &event.to_string()).await
    }

    fn hipchat_calls(&self) -> u64 {
        self.sim.sim().counters().total
    }

    fn staff_notifications(&self) -> Vec<hipchat_sim::Notification> {
        self.sim.sim().room(self.staff_room).unwrap().notifications
    }

    fn access(&self) -> ChatAccess {
        ChatAccess::new(self.sim.base_url(), SecretString::from(TOKEN)).unwrap()
    }
}

impl World {
    fn store_calls(&self) -> usize {
        self.d.store.calls.load(Ordering::SeqCst)
    }
}

async fn send<S, T>(d: &TestDeps<S, T>, path: &str, body: &str) -> (u16, Value)
where
    S: Store + 'static,
    T: TokenSecrets + 'static,
{
    status_and_json(&handle(d, request("POST", path, body)).await.unwrap())
}

fn request(method: &str, path: &str, body: &str) -> Request {
    signed_request(method, path, body, KEY, now().as_second())
}

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect()
}

// ---------- messages ----------

async fn every_type_is_posted_with_its_text_colour_and_alert<S: Store + 'static, T: TokenSecrets + 'static>(
    w: World<S, T>,
) {
    for (i, kind) in TYPES.iter().enumerate() {
        let (status, body) = w.post(&event(&format!("e{i}"), kind)).await;
        assert_eq!(status, 202, "{kind}: {body}");
        assert_eq!(
            body,
            json!({"status": "sent", "event_id": format!("e{i}"), "type": kind, "room_id": w.staff_room}),
            "{kind}"
        );
    }
    let notes = w.staff_notifications();
    let got: Vec<(&str, &str, bool, &str)> =
        notes.iter().map(|n| (n.message.as_str(), n.color.as_str(), n.notify, n.message_format.as_str())).collect();
    let who = "[dynaBOARD] <b>Jane Doe</b> of Acme Inc. (customer, <a href=\"mailto:jane@acme.example\">\
               jane@acme.example</a>)";
    let issue = "<a href=\"https://portal.example.com/issues/17\">issue #17 “Printer broken”</a>";
    assert_eq!(
        got,
        vec![
            (format!("{who} logged in.").as_str(), "gray", false, "html"),
            (&format!("{who} logged out."), "gray", false, "html"),
            (&format!("{who} commented on {issue}:<br><i>It smokes when printing.</i>"), "yellow", true, "html"),
            (&format!("{who} created {issue}."), "yellow", true, "html"),
            (&format!("{who} approved {issue}."), "green", true, "html"),
            (&format!("{who} disapproved {issue}."), "red", true, "html"),
        ]
    );
}

#[tokio::test]
async fn german_partners_get_german_messages() {
    let w = world_with(json!({"language": "de"})).await;
    for (i, kind) in TYPES.iter().enumerate() {
        let mut e = event(&format!("e{i}"), kind);
        e["actor"]["company"] = json!("Acme GmbH");
        if let Some(issue) = e.get_mut("issue") {
            issue["title"] = json!("Drucker defekt");
            issue.as_object_mut().unwrap().remove("url");
        }
        assert_eq!(w.post(&e).await.0, 202, "{kind}");
    }
    let messages: Vec<String> = w.staff_notifications().into_iter().map(|n| n.message).collect();
    let who = "[dynaBOARD] <b>Jane Doe</b> von Acme GmbH (Kunde, <a href=\"mailto:jane@acme.example\">\
               jane@acme.example</a>)";
    assert_eq!(
        messages,
        [
            format!("{who} hat sich angemeldet."),
            format!("{who} hat sich abgemeldet."),
            format!("{who} hat Issue #17 „Drucker defekt“ kommentiert:<br><i>It smokes when printing.</i>"),
            format!("{who} hat Issue #17 „Drucker defekt“ erstellt."),
            format!("{who} hat Issue #17 „Drucker defekt“ freigegeben."),
            format!("{who} hat Issue #17 „Drucker defekt“ abgelehnt."),
        ]
    );
}

#[tokio::test]
async fn user_values_are_escaped_in_the_stored_message() {
    let w = world_with(json!({"room_name_prefix": "Help & <Support>"})).await;
    let mut e = event("x1", "comment.created");
    e["actor"]["first_name"] = json!("<script>alert(1)</script>");
    e["actor"]["last_name"] = json!("O'Neil \"The Hammer\"");
    e["actor"]["company"] = json!("Smith & Sons");
    e["issue"]["title"] = json!("<b>Bold</b> & \"quoted\" 'title'");
    e["issue"]["url"] = json!("https://portal.example.com/issues?id=17&tab=\"x\"");
    e["comment"]["excerpt"] = json!("<img src=x onerror=alert(1)> & \"so\" 'on'");
    let (status, body) = w.post(&e).await;
    assert_eq!(status, 202, "{body}");
    let html = &w.staff_notifications()[0].message;
    for escaped in [
        "[Help &amp; &lt;Support&gt;]",
        "<b>&lt;script&gt;alert(1)&lt;/script&gt; O&#39;Neil &quot;The Hammer&quot;</b>",
        "of Smith &amp; Sons",
        "&lt;b&gt;Bold&lt;/b&gt; &amp; &quot;quoted&quot; &#39;title&#39;",
        "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;so&quot; &#39;on&#39;",
        "id=17&amp;tab=",
    ] {
        assert!(html.contains(escaped), "{escaped} missing in {html}");
    }
    for raw in ["<script>", "<img", "<b>Bold", "& Sons", "\"The Hammer\""] {
        assert!(!html.contains(raw), "{raw} unescaped in {html}");
    }
    assert!(!html.contains("&amp;amp;"), "escaped twice: {html}");
}

#[tokio::test]
async fn a_huge_excerpt_is_cut_and_the_message_stays_within_hipchats_limit() {
    let w = world().await;
    let mut e = event("big", "comment.created");
    e["comment"]["excerpt"] = json!("\"".repeat(20_000));
    e["issue"]["title"] = json!("&".repeat(1_000));
    let (status, body) = w.post(&e).await;
    assert_eq!(status, 202, "{body}");
    let html = &w.staff_notifications()[0].message;
    assert!(html.chars().count() <= 10_000, "{}", html.chars().count());
    assert!(html.contains('…'), "cut with an ellipsis");
}

// ---------- filtering ----------

async fn each_filter_rule_skips_without_a_hipchat_call_or_a_record<S: Store + 'static, T: TokenSecrets + 'static>(
    w: World<S, T>,
) {
    async fn skipped<S: Store + 'static, T: TokenSecrets + 'static>(w: &World<S, T>, e: &Value, reason: &str) {
        let (status, body) = w.post(e).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!((body["status"].as_str(), body["reason"].as_str()), (Some("skipped"), Some(reason)), "{e}");
        assert_eq!(body.get("room_id"), None);
    }
    async fn sent<S: Store + 'static, T: TokenSecrets + 'static>(w: &World<S, T>, e: &Value) {
        let (status, body) = w.post(e).await;
        assert_eq!((status, body["status"].as_str()), (202, Some("sent")), "{e}: {body}");
    }
    let by = |id: &str, kind: &str, role: &str| {
        let mut e = event(id, kind);
        e["actor"] = actor(role);
        e
    };
    // Comment, issue and approval events notify about customers only.
    for kind in &TYPES[2..] {
        for role in ["partner", "admin"] {
            skipped(&w, &by(&format!("{kind}-{role}"), kind, role), "actor_not_notified").await;
        }
    }
    // Login/logout for customers and partners: everyone.
    for role in ["customer", "partner", "admin"] {
        sent(&w, &by(&format!("in-{role}"), "user.login", role)).await;
    }
    // ... for customers only: partners and admins are skipped.
    w.patch_settings(json!({"notifications": {"login_logout": "customers", "comment_created": true,
        "issue_created": true, "issue_approval": true}}))
        .await;
    skipped(&w, &by("out-partner", "user.logout", "partner"), "actor_not_notified").await;
    skipped(&w, &by("out-admin", "user.logout", "admin"), "actor_not_notified").await;
    sent(&w, &by("out-customer", "user.logout", "customer")).await;
    // Each switch off.
    w.patch_settings(json!({"notifications": {"login_logout": "off", "comment_created": false,
        "issue_created": false, "issue_approval": false}}))
        .await;
    for kind in TYPES {
        skipped(&w, &event(&format!("off-{kind}"), kind), "notification_off").await;
    }
    // The integration off.
    w.patch_settings(json!({"active": false})).await;
    skipped(&w, &event("inactive", "issue.created"), "inactive").await;

    let sent_count = 4;
    assert_eq!(w.staff_notifications().len(), sent_count);
    assert_eq!(w.hipchat_calls(), sent_count as u64, "no HipChat call for a skipped event");
    // A skipped event leaves no record: delivered later (settings on again), it is sent.
    w.patch_settings(json!({"active": true, "notifications": {"issue_created": true}})).await;
    sent(&w, &event("inactive", "issue.created")).await;
}

#[tokio::test]
async fn a_partner_without_settings_is_skipped() {
    let w = world().await;
    let d = &w.d;
    let (status, body) = send(d, "/v1/partners/nobody/events", &event("e1", "issue.created").to_string()).await;
    assert_eq!(
        (status, body["status"].as_str(), body["reason"].as_str()),
        (202, Some("skipped"), Some("not_configured"))
    );
    assert_eq!(w.hipchat_calls(), 0);
}

// ---------- idempotency ----------

async fn a_repeated_event_is_a_duplicate_with_one_message<S: Store + 'static, T: TokenSecrets + 'static>(
    w: World<S, T>,
) {
    let e = event("dup-1", "issue.created");
    assert_eq!(w.post(&e).await.1["status"], "sent");
    for _ in 0..3 {
        let (status, body) = w.post(&e).await;
        assert_eq!(status, 202);
        assert_eq!(body, json!({"status": "duplicate", "event_id": "dup-1", "type": "issue.created"}));
    }
    // The same id with other content is the same event.
    assert_eq!(w.post(&event("dup-1", "issue.approved")).await.1["status"], "duplicate");
    assert_eq!(w.staff_notifications().len(), 1);
    assert_eq!(w.hipchat_calls(), 1);
}

async fn twenty_concurrent_posts_of_one_event_send_one_message<S: Store + 'static, T: TokenSecrets + 'static>(
    w: World<S, T>,
) {
    let path = w.path();
    let (sim, staff) = (w.sim, w.staff_room);
    let d = Arc::new(w.d);
    let body = event("same", "comment.created").to_string();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (d, path, body) = (d.clone(), path.clone(), body.clone());
        tasks.spawn(async move { send(&d, &path, &body).await });
    }
    let mut statuses = BTreeMap::new();
    while let Some(r) = tasks.join_next().await {
        let (status, body) = r.unwrap();
        assert_eq!(status, 202, "{body}");
        *statuses.entry(body["status"].as_str().unwrap().to_owned()).or_insert(0) += 1;
    }
    assert_eq!(statuses, BTreeMap::from([("duplicate".to_owned(), 19), ("sent".to_owned(), 1)]));
    assert_eq!(sim.sim().room(staff).unwrap().notifications.len(), 1, "exactly one message");
    assert_eq!(sim.sim().counters().count(ep::ROOM_NOTIFICATION), 1);
}

async fn a_failed_send_releases_the_event_so_the_retry_delivers_it<S: Store + 'static, T: TokenSecrets + 'static>(
    w: World<S, T>,
) {
    w.sim.sim().inject_fault(
        Fault::new(FaultAction::Status { status: 500, message: Some("boom".into()), reset_in_seconds: None })
            .on(ep::ROOM_NOTIFICATION),
    );
    let e = event("retry-1", "issue.created");
    let (status, p) = w.post(&e).await;
    assert_eq!((status, p["type"].as_str()), (503, Some("/problems/hipchat-unavailable")), "{p}");
    assert!(!p["detail"].as_str().unwrap().contains("boom"), "HipChat's text is not echoed: {p}");
    assert!(w.staff_notifications().is_empty());
    let (status, body) = w.post(&e).await;
    assert_eq!((status, body["status"].as_str()), (202, Some("sent")), "{body}");
    assert_eq!(w.post(&e).await.1["status"], "duplicate");
    assert_eq!(w.staff_notifications().len(), 1);
}

/// An event is delivered once per id, so a captured event played again is answered as the
/// duplicate it is (docs/api.md "Replayed requests"); its signature costs no write (the count of
/// store calls per event is pinned below).
async fn a_replayed_event_is_answered_as_a_duplicate<S: Store + 'static, T: TokenSecrets + 'static>(w: World<S, T>) {
    let captured = request("POST", &w.path(), &event("replayed-1", "issue.created").to_string());
    let replay = test_support::replay_of(&captured);
    assert_eq!(status_and_json(&handle(&w.d, captured).await.unwrap()).1["status"], "sent");
    let (status, body) = status_and_json(&handle(&w.d, replay).await.unwrap());
    assert_eq!((status, body["status"].as_str()), (202, Some("duplicate")));
    assert_eq!(w.staff_notifications().len(), 1);
}

async fn a_claim_left_by_a_crash_is_taken_over_after_its_lease<S: Store + 'static, T: TokenSecrets + 'static>(
    w: World<S, T>,
) {
    let store = w.store();
    let lease = jiff::SignedDuration::from_secs(20);
    let week = jiff::SignedDuration::from_hours(168);
    // A request claimed the event 30 s ago and died: its lease has ended.
    let then = now() - jiff::SignedDuration::from_secs(30);
    let claimed = store
        .claim_delivery(&w.partner, &DeliveryKey::Event("crashed"), "dead", then + lease, then + week, then)
        .await
        .unwrap();
    assert_eq!(claimed, DeliveryClaim::Claimed);
    let (status, body) = w.post(&event("crashed", "issue.created")).await;
    assert_eq!((status, body["status"].as_str()), (202, Some("sent")), "{body}");
    // The dead request's late release does not remove the delivered record.
    store.release_delivery(&w.partner, &DeliveryKey::Event("crashed"), "dead").await.unwrap();
    assert_eq!(w.post(&event("crashed", "issue.created")).await.1["status"], "duplicate");
    // A live claim of another request: this one waits, then answers 503 with Retry-After.
    let live = store
        .claim_delivery(&w.partner, &DeliveryKey::Event("busy"), "other", now() + lease, now() + week, now())
        .await
        .unwrap();
    assert_eq!(live, DeliveryClaim::Claimed);
    assert_eq!(
        store
            .claim_delivery(&w.partner, &DeliveryKey::Event("busy"), "x", now() + lease, now() + week, now())
            .await
            .unwrap(),
        DeliveryClaim::InFlight { lease_until: now() + lease }
    );
    assert_eq!(w.staff_notifications().len(), 1);
}

/// An event another request is delivering (its claim's lease runs): this request polls the
/// record for the waiting time, then answers 503 with `Retry-After` until that lease ends,
/// without a HipChat call; once the other request has delivered it, a repeat is a duplicate.
/// On the fakes only: the waiting time passes on tokio's paused clock, which the AWS SDK's own
/// timers must not see.
#[tokio::test]
async fn an_event_in_flight_elsewhere_is_waited_for_then_503_with_retry_after() {
    let w = world().await;
    let lease = jiff::SignedDuration::from_secs(20);
    let week = jiff::SignedDuration::from_hours(168);
    let key = DeliveryKey::Event("busy");
    let live = w.d.store.claim_delivery(&w.partner, &key, "other", now() + lease, now() + week, now()).await.unwrap();
    assert_eq!(live, DeliveryClaim::Claimed);
    let (calls, hipchat) = (w.store_calls(), w.hipchat_calls());

    let e = event("busy", "issue.created");
    tokio::time::pause();
    let started = tokio::time::Instant::now();
    let resp = handle(&w.d, request("POST", &w.path(), &e.to_string())).await.unwrap();
    let waited = started.elapsed();
    tokio::time::resume();

    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["retry-after"], "20", "until the other request's lease ends");
    let (_, p) = status_and_json(&resp);
    assert_eq!(p["type"], "/problems/hipchat-unavailable", "{p}");
    // It waited the event's waiting time (on the paused clock), polling at 50, 100, 200 and
    // then every 400 ms: one settings read and 29 claim attempts.
    assert!(waited >= shared::service::events::WAIT_MAX, "{waited:?}");
    assert_eq!(w.store_calls() - calls, 1 + 29);
    assert_eq!(w.hipchat_calls(), hipchat, "no HipChat call");
    assert!(w.staff_notifications().is_empty());
    // The other request delivers it: the repeat is a duplicate, still without a send.
    assert!(w.d.store.mark_delivered(&w.partner, &key, "other", now()).await.unwrap());
    assert_eq!(w.post(&e).await.1["status"], "duplicate");
    assert!(w.staff_notifications().is_empty());
}

/// A record past its TTL that DynamoDB has not removed yet does not block a new delivery.
async fn an_expired_record_counts_as_gone<S: Store + 'static, T: TokenSecrets + 'static>(w: World<S, T>) {
    let store = w.store();
    let long_ago = now() - jiff::SignedDuration::from_hours(24 * 8);
    let lease = jiff::SignedDuration::from_secs(20);
    let week = jiff::SignedDuration::from_hours(168);
    assert_eq!(
        store
            .claim_delivery(&w.partner, &DeliveryKey::Event("old"), "c1", long_ago + lease, long_ago + week, long_ago)
            .await
            .unwrap(),
        DeliveryClaim::Claimed
    );
    assert!(store.mark_delivered(&w.partner, &DeliveryKey::Event("old"), "c1", long_ago).await.unwrap());
    let (status, body) = w.post(&event("old", "issue.created")).await;
    assert_eq!((status, body["status"].as_str()), (202, Some("sent")), "{body}");
}

// ---------- delivery failures ----------

async fn a_short_429_is_waited_for_and_retried_once<S: Store + 'static, T: TokenSecrets + 'static>(w: World<S, T>) {
    w.sim.sim().inject_fault(
        Fault::new(FaultAction::Status {
            status: 429,
            message: Some("Flood control".into()),
            reset_in_seconds: Some(1),
        })
        .on(ep::ROOM_NOTIFICATION),
    );
    let (status, body) = w.post(&event("short-429", "issue.created")).await;
    assert_eq!((status, body["status"].as_str()), (202, Some("sent")), "{body}");
    assert_eq!(w.sim.sim().counters().count(ep::ROOM_NOTIFICATION), 2, "one retry");
    assert_eq!(w.staff_notifications().len(), 1);
}

async fn a_429_with_a_distant_reset_is_a_503_with_retry_after<S: Store + 'static, T: TokenSecrets + 'static>(
    w: World<S, T>,
) {
    w.sim.sim().inject_fault(
        Fault::new(FaultAction::Status {
            status: 429,
            message: Some("Rate Limit exceeded".into()),
            reset_in_seconds: Some(40),
        })
        .on(ep::ROOM_NOTIFICATION),
    );
    let e = event("far-429", "issue.created");
    let resp = handle(&w.d, request("POST", &w.path(), &e.to_string())).await.unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((30..=40).contains(&retry), "{retry}");
    let (_, p) = status_and_json(&resp);
    assert_eq!(p["type"], "/problems/hipchat-unavailable");
    assert_eq!(w.sim.sim().counters().count(ep::ROOM_NOTIFICATION), 1, "no retry for a distant reset");
    // The fault was for one request: the retry is delivered.
    assert_eq!(w.post(&e).await.1["status"], "sent");
    assert_eq!(w.staff_notifications().len(), 1);
}

async fn a_dropped_connection_is_a_503_and_the_retry_delivers<S: Store + 'static, T: TokenSecrets + 'static>(
    w: World<S, T>,
) {
    w.sim.sim().inject_fault(Fault::new(FaultAction::Drop).on(ep::ROOM_NOTIFICATION));
    let e = event("drop-1", "issue.created");
    let (status, p) = w.post(&e).await;
    assert_eq!((status, p["type"].as_str()), (503, Some("/problems/hipchat-unavailable")), "{p}");
    assert_eq!(w.post(&e).await.1["status"], "sent");
    assert_eq!(w.staff_notifications().len(), 1);
}

async fn a_rejected_token_is_409_and_marks_the_token<S: Store + 'static, T: TokenSecrets + 'static>(w: World<S, T>) {
    assert!(w.sim.sim().revoke_token(TOKEN));
    let e = event("rej-1", "issue.created");
    let (status, p) = w.post(&e).await;
    assert_eq!((status, p["type"].as_str()), (409, Some("/problems/token-rejected")), "{p}");
    let meta = w.store().get(&w.partner).await.unwrap().unwrap().token.unwrap();
    assert!(meta.rejected, "the stored token is marked rejected");
    let calls = w.hipchat_calls();
    let (status, _) = w.post(&e).await;
    assert_eq!((status, w.hipchat_calls()), (409, calls), "no call with a known-dead token");
    // A new token: the event (released, not lost) is delivered.
    w.sim.sim().create_token(TokenSpec { token: Some("FreshTokenValue98765".into()), ..TokenSpec::default() });
    w.put_token("FreshTokenValue98765").await;
    assert_eq!(w.post(&e).await.1["status"], "sent");
}

async fn a_deleted_notification_room_is_409_telling_to_pick_another<S: Store + 'static, T: TokenSecrets + 'static>(
    w: World<S, T>,
) {
    w.d.chat.delete_room(&w.access(), RoomRef::Id(w.staff_room)).await.unwrap();
    let (status, p) = w.post(&event("gone-1", "issue.created")).await;
    assert_eq!((status, p["type"].as_str()), (409, Some("/problems/notification-room-gone")), "{p}");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains(&w.staff_room.to_string()) && detail.contains("pick another room"), "{detail}");
    // Another room picked: the same event is delivered there.
    let other = w.sim.sim().add_room(RoomSpec { name: "New staff".into(), ..RoomSpec::default() });
    w.patch_settings(json!({"notification_room_id": other})).await;
    let (status, body) = w.post(&event("gone-1", "issue.created")).await;
    assert_eq!((status, body["room_id"].as_u64()), (202, Some(other)), "{body}");
    assert_eq!(w.sim.sim().room(other).unwrap().notifications.len(), 1);
}

#[tokio::test]
async fn no_notification_room_or_token_is_a_409_before_any_hipchat_call() {
    let w = world().await;
    w.patch_settings(json!({"notification_room_id": null})).await;
    let (status, p) = w.post(&event("e1", "issue.created")).await;
    assert_eq!((status, p["type"].as_str()), (409, Some("/problems/notification-room-missing")), "{p}");

    let w = world().await;
    w.store().clear_token(&w.partner, now()).await.unwrap();
    let (status, p) = w.post(&event("e1", "issue.created")).await;
    assert_eq!((status, p["type"].as_str()), (409, Some("/problems/token-missing")), "{p}");
    assert_eq!(w.hipchat_calls(), 0);
    assert!(w.d.store.events.lock().unwrap().is_empty(), "nothing claimed");
}

/// The flood-control burst: 40 distinct events to one room at once against HipChat's 30 per
/// minute. Every event is delivered or answered 503 with `Retry-After`; re-posted after that
/// time, the rest are delivered: 40 messages, one per event.
async fn a_burst_of_forty_against_flood_control_loses_and_doubles_nothing<
    S: Store + 'static,
    T: TokenSecrets + 'static,
>(
    w: World<S, T>,
) {
    let path = w.path();
    let (sim, staff) = (w.sim, w.staff_room);
    let d = Arc::new(w.d);
    let post_all = |ids: Vec<String>| {
        let mut tasks = tokio::task::JoinSet::new();
        for id in ids {
            let (d, path) = (d.clone(), path.clone());
            tasks.spawn(async move {
                let mut e = event(&id, "comment.created");
                e["comment"]["excerpt"] = json!(format!("Comment {id}"));
                let body = e.to_string();
                let resp = handle(&d, request("POST", &path, &body)).await.unwrap();
                let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
                let (status, body) = status_and_json(&resp);
                (id, status, body, retry)
            });
        }
        tasks
    };
    let ids: Vec<String> = (0..40).map(|i| format!("burst-{i:02}")).collect();
    let mut tasks = post_all(ids.clone());
    let (mut delivered, mut held, mut wait) = (Vec::new(), Vec::new(), 0);
    while let Some(r) = tasks.join_next().await {
        let (id, status, body, retry) = r.unwrap();
        match (status, body["status"].as_str()) {
            (202, Some("sent")) => delivered.push(id),
            (503, _) => {
                let retry = retry.unwrap_or_else(|| panic!("503 without Retry-After: {body}"));
                assert!((1..=60).contains(&retry), "{retry}");
                assert_eq!(body["type"], "/problems/hipchat-unavailable");
                wait = wait.max(retry);
                held.push(id);
            }
            other => panic!("{id}: {other:?} {body}"),
        }
    }
    assert_eq!(delivered.len() + held.len(), 40);
    assert_eq!(delivered.len(), 30, "flood control lets 30 through per minute");
    // dynaBOARD retries after Retry-After: the held events are delivered.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let mut tasks = post_all(held.clone());
    while let Some(r) = tasks.join_next().await {
        let (id, status, body, _) = r.unwrap();
        assert_eq!((status, body["status"].as_str()), (202, Some("sent")), "{id}: {body}");
    }
    let notes = sim.sim().room(staff).unwrap().notifications;
    assert_eq!(notes.len(), 40, "zero lost, zero doubled");
    for id in &ids {
        let n = notes.iter().filter(|n| n.message.contains(&format!("Comment {id}<"))).count();
        assert_eq!(n, 1, "{id} posted once");
    }
    // A re-post of everything now: all duplicates, no new message.
    let mut tasks = post_all(ids);
    while let Some(r) = tasks.join_next().await {
        let (id, status, body, _) = r.unwrap();
        assert_eq!((status, body["status"].as_str()), (202, Some("duplicate")), "{id}: {body}");
    }
    assert_eq!(sim.sim().room(staff).unwrap().notifications.len(), 40);
}

// ---------- requests ----------

#[tokio::test]
async fn invalid_events_are_422s_naming_the_fields_before_any_call() {
    let w = world().await;
    let before = w.store_calls();
    let mut e = event("e1", "comment.created");
    e.as_object_mut().unwrap().remove("comment");
    e["actor"]["email"] = json!("nope");
    let (status, p) = w.post(&e).await;
    assert_eq!(status, 422, "{p}");
    assert_eq!(fields(&p), ["actor.email", "comment"]);
    let (status, p) = w.post(&json!({"id": "e2", "type": "issue.closed", "occurred_at": "yesterday"})).await;
    assert_eq!(status, 422, "{p}");
    let f = fields(&p);
    for field in ["type", "occurred_at", "actor"] {
        assert!(f.contains(&field), "{field} in {f:?}");
    }
    let (status, p) = send(&w.d, &w.path(), "{not json").await;
    assert_eq!((status, fields(&p)), (422, vec!["(body)"]));
    assert_eq!((w.store_calls(), w.hipchat_calls()), (before, 0));
}

#[tokio::test]
async fn other_methods_and_paths() {
    let w = world().await;
    let resp = handle(&w.d, request("GET", &w.path(), "")).await.unwrap();
    assert_eq!((resp.status().as_u16(), resp.headers()["allow"].to_str().unwrap()), (405, "POST"));
    let (status, _) = status_and_json(&handle(&w.d, request("POST", "/v1/partners/p1/eventz", "{}")).await.unwrap());
    assert_eq!(status, 404);
    let mut unsigned = request("POST", &w.path(), &event("e1", "user.login").to_string());
    unsigned.headers_mut().remove("x-dynaboard-signature");
    assert_eq!(handle(&w.d, unsigned).await.unwrap().status().as_u16(), 401);
}

/// Upstream calls: a delivered event costs one settings read, the claim and the delivered
/// mark (three DynamoDB calls), one HipChat call, and one secret read per warm container.
#[tokio::test]
async fn upstream_calls_of_an_event() {
    let w = world().await;
    let setup = w.store_calls();
    assert_eq!(w.post(&event("c1", "issue.created")).await.0, 202);
    let reads = || w.d.tokens.inner().reads.load(Ordering::SeqCst);
    assert_eq!((w.store_calls() - setup, w.hipchat_calls(), reads()), (3, 1, 1));
    assert_eq!(w.post(&event("c2", "issue.created")).await.0, 202);
    assert_eq!((w.store_calls() - setup, w.hipchat_calls(), reads()), (6, 2, 1), "the token is cached");
    // A duplicate: the settings read and the refused claim; no HipChat call.
    assert_eq!(w.post(&event("c2", "issue.created")).await.1["status"], "duplicate");
    assert_eq!((w.store_calls() - setup, w.hipchat_calls()), (8, 2));
    // A skipped event: the settings read only.
    assert_eq!(
        w.post(&json!({"id": "c3", "type": "issue.created", "occurred_at": NOW, "actor": actor("admin"),
        "issue": {"id": 1, "title": "t"}}))
            .await
            .1["status"],
        "skipped"
    );
    assert_eq!((w.store_calls() - setup, w.hipchat_calls()), (9, 2));
}

// ---------- events/ ----------

#[tokio::test]
async fn every_event_notification_sample_runs_through_the_handler() {
    let demo = PartnerId::parse("demo").unwrap();
    let patch = json!({"notifications": {"login_logout": "customers", "comment_created": true,
        "issue_created": true, "issue_approval": true}});
    let w = World::set_up(deps(MemoryStore::default(), MemorySecrets::default()), None, demo, patch).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let expect = [
        ("event-notification.user-login.json", 202, "sent"),
        ("event-notification.user-logout.json", 202, "sent"),
        ("event-notification.comment-created.json", 202, "sent"),
        ("event-notification.issue-created.json", 202, "sent"),
        ("event-notification.issue-approved.json", 202, "sent"),
        ("event-notification.issue-disapproved.json", 202, "sent"),
        ("event-notification.duplicate.json", 202, "duplicate"),
        ("event-notification.skipped.json", 202, "skipped"),
        ("event-notification.invalid.json", 422, ""),
        ("event-notification.bad-signature.json", 401, ""),
    ];
    for (file, status, outcome) in expect {
        let text = std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut req = lambda_http::request::from_str(&text).unwrap();
        if !file.contains("bad-signature") {
            test_support::sign_request(&mut req, KEY, now().as_second());
        }
        let (got, v) = status_and_json(&handle(&w.d, req).await.unwrap());
        assert_eq!(got, status, "{file}: {v}");
        if !outcome.is_empty() {
            assert_eq!(v["status"], outcome, "{file}: {v}");
        }
    }
    let files = std::fs::read_dir(&root)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("event-notification."))
        .count();
    assert_eq!(files, expect.len(), "every event-notification sample is covered here");
    assert_eq!(w.staff_notifications().len(), 6);
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
    every_type_is_posted_with_its_text_colour_and_alert,
    each_filter_rule_skips_without_a_hipchat_call_or_a_record,
    a_repeated_event_is_a_duplicate_with_one_message,
    a_replayed_event_is_answered_as_a_duplicate,
    twenty_concurrent_posts_of_one_event_send_one_message,
    a_failed_send_releases_the_event_so_the_retry_delivers_it,
    a_claim_left_by_a_crash_is_taken_over_after_its_lease,
    an_expired_record_counts_as_gone,
    a_short_429_is_waited_for_and_retried_once,
    a_429_with_a_distant_reset_is_a_503_with_retry_after,
    a_dropped_connection_is_a_503_and_the_retry_delivers,
    a_rejected_token_is_409_and_marks_the_token,
    a_deleted_notification_room_is_409_telling_to_pick_another,
);

/// The burst waits out HipChat's one-minute flood window, so it runs once: on moto.
#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn a_burst_of_forty_against_flood_control_on_moto() {
    a_burst_of_forty_against_flood_control_loses_and_doubles_nothing(on_moto().await).await
}
