//! Handler tests: the scheduled event through the handler, with the clock set day by day, the
//! in-memory store and secrets (or DynamoDB in moto), and the real HipChat client against the
//! simulator, whose notification room is checked.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use hipchat_sim::{RoomSpec, RunningSim, SimConfig, TokenSpec, start};
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use shared::domain::partner::PartnerId;
use shared::ports::{SettingsStore, Store, TokenSecrets};
use test_support::{LogBuffer, MemorySecrets, MemoryStore, TOKEN, Test, store_settings, store_token};

use super::*;

struct World<S: Store + 'static = MemoryStore, T: TokenSecrets + 'static = MemorySecrets> {
    sim: RunningSim,
    d: Deps<Test<S, T>>,
    staff_room: u64,
    partner: PartnerId,
    issued_on: Date,
}

/// Partner `p1`, active, with a staff room, its token issued on `issued_on` (the simulator
/// knows the token; its own clock is real time, ours is set per run).
async fn world(issued_on: Date, language: &str) -> World {
    let sim = start(SimConfig::default()).await.expect("simulator starts");
    let staff_room = sim.sim().add_room(RoomSpec { name: "Staff".into(), ..RoomSpec::default() });
    sim.sim().create_token(TokenSpec { token: Some(TOKEN.into()), ..TokenSpec::default() });
    let d = deps(MemoryStore::default(), MemorySecrets::default());
    let w = World { sim, d, staff_room, partner: PartnerId::parse("p1").unwrap(), issued_on };
    let doc = json!({"active": true, "hipchat_url": w.sim.base_url(), "notification_room_id": staff_room, "language": language});
    let at = w.at_day(issued_on);
    store_settings(&w.d.store, &w.partner, &doc, at).await;
    store_token(&w.d.store, w.d.tokens.inner(), &w.partner, TOKEN, at).await;
    w
}

/// Deps on `store` and `secrets` with the real HipChat client (short timeouts) and a clock the
/// test sets.
fn deps<S: Store + 'static, T: TokenSecrets + 'static>(store: S, secrets: T) -> Deps<Test<S, T>> {
    test_support::deps_at(store, secrets, "2026-11-25T06:00:00Z")
}

/// 06:00 UTC on `day`, when the schedule runs.
fn at_day(day: Date) -> Timestamp {
    day.at(6, 0, 0, 0).to_zoned_datetime(jiff::tz::TimeZone::UTC).unwrap().timestamp()
}

fn scheduled() -> LambdaEvent<EventBridgeEvent<Value>> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/token-expiry-reminder.scheduled.json"),
    )
    .unwrap();
    LambdaEvent::new(serde_json::from_str(&text).unwrap(), Context::default())
}

impl<S: Store + 'static, T: TokenSecrets + 'static> World<S, T> {
    fn at_day(&self, day: Date) -> Timestamp {
        at_day(day)
    }

    fn expires_on(&self) -> Date {
        shared::domain::token::expires_on(self.issued_on)
    }

    /// A run with the clock at 06:00 UTC, `days` days before the token's expiry.
    async fn run_days_before(&self, days: i64) -> Summary {
        let day = self.expires_on().checked_sub(days.days()).unwrap();
        *self.d.clock.0.lock().unwrap() = self.at_day(day);
        handle(&self.d, scheduled()).await.unwrap()
    }

    fn warnings(&self) -> Vec<hipchat_sim::Notification> {
        self.sim.sim().room(self.staff_room).unwrap().notifications
    }
}

#[tokio::test]
async fn warnings_at_30_14_7_3_and_1_days_and_one_alert_at_expiry() {
    let w = world(jiff::civil::date(2026, 11, 25), "en").await;
    let logs = LogBuffer::default();
    let _guard = tracing::subscriber::set_default(shared::telemetry::subscriber(None, true, logs.clone()));
    let mut sent = Vec::new();
    for days in [31, 30, 29, 14, 8, 7, 3, 1, 0, -1] {
        let s = w.run_days_before(days).await;
        sent.push((days, s.warned, s.expired));
    }
    assert_eq!(
        sent,
        [
            (31, 0, 0),
            (30, 1, 0),
            (29, 0, 0),
            (14, 1, 0),
            (8, 0, 0),
            (7, 1, 0),
            (3, 1, 0),
            (1, 1, 0),
            (0, 0, 1),
            (-1, 0, 0)
        ]
    );
    let notes = w.warnings();
    let texts: Vec<&str> = notes.iter().map(|n| n.message.as_str()).collect();
    assert_eq!(texts.len(), 5);
    for (text, when) in texts.iter().zip(["in 30 days", "in 14 days", "in 7 days", "in 3 days", "tomorrow"]) {
        assert!(text.contains(&format!("expires {when}, on 2027-11-25")), "{text}");
        assert!(text.contains("My Account → Edit Profile → API access") && text.contains("“dynaBOARD”"), "{text}");
        assert!(text.contains("View Room, Send Message, Manage Rooms, Send Notification, View Group"), "{text}");
        assert!(text.contains("Settings → HipChat"), "{text}");
    }
    let colours: Vec<&str> = notes.iter().map(|n| n.color.as_str()).collect();
    assert_eq!(colours, ["yellow", "yellow", "red", "red", "red"]);
    // The expiry alert: one structured line, naming the partner.
    let log = logs.text();
    let alerts: Vec<&str> = log.lines().filter(|l| l.contains("\"alert\":\"token_expired\"")).collect();
    assert_eq!(alerts.len(), 1, "{log}");
    assert!(alerts[0].contains("\"partner_id\":\"p1\""), "{}", alerts[0]);
    assert!(!log.contains(TOKEN), "the token is never logged");
    let status =
        w.d.store.get(&w.partner).await.unwrap().unwrap().token.unwrap().status(jiff::civil::date(2027, 11, 26));
    assert_eq!(status, shared::domain::token::TokenStatus::Expired);
}

#[tokio::test]
async fn german_partners_get_german_warnings() {
    let w = world(jiff::civil::date(2026, 11, 25), "de").await;
    assert_eq!(w.run_days_before(7).await.warned, 1);
    let text = &w.warnings()[0].message;
    assert!(text.contains("läuft in 7 Tagen ab, am 2027-11-25") && text.contains("Einstellungen → HipChat"), "{text}");
}

#[tokio::test]
async fn runs_on_the_same_day_and_overlapping_runs_send_once() {
    let w = world(jiff::civil::date(2026, 11, 25), "en").await;
    assert_eq!(w.run_days_before(14).await.warned, 1);
    assert_eq!(w.run_days_before(14).await.warned, 0);
    // Two runs at once (a retry overlapping the run): one warning between them.
    let (a, b) = tokio::join!(w.run_days_before(7), w.run_days_before(7));
    assert_eq!(a.warned + b.warned, 1);
    assert_eq!(w.warnings().len(), 2);
}

#[tokio::test]
async fn a_replaced_token_starts_a_fresh_series() {
    let w = world(jiff::civil::date(2026, 11, 25), "en").await;
    assert_eq!(w.run_days_before(3).await.warned, 1);
    // The partner stores a token made 340 days before that day: it expires in 25 days.
    let day = *w.d.clock.0.lock().unwrap();
    w.sim.sim().create_token(TokenSpec { token: Some("ReplacementToken0099".into()), ..TokenSpec::default() });
    let issued = shared::domain::token::today(day).checked_sub(340.days()).unwrap();
    w.d.tokens.inner().put(&w.partner, &secrecy::SecretString::from("ReplacementToken0099")).await.unwrap();
    let meta = shared::domain::token::TokenMeta::new(&secrecy::SecretString::from("ReplacementToken0099"), issued);
    w.d.store.set_token(&w.partner, &meta, day).await.unwrap();
    let s = handle(&w.d, scheduled()).await.unwrap();
    assert_eq!(s.warned, 1, "the new token's 30-day warning");
    let last = w.warnings().pop().unwrap().message;
    assert!(last.contains("in 25 days"), "{last}");
}

#[tokio::test]
async fn a_rejected_token_is_marked_alerted_and_left_alone() {
    let w = world(jiff::civil::date(2026, 11, 25), "en").await;
    assert!(w.sim.sim().revoke_token(TOKEN));
    let logs = LogBuffer::default();
    let _guard = tracing::subscriber::set_default(shared::telemetry::subscriber(None, true, logs.clone()));
    let s = w.run_days_before(20).await;
    assert_eq!((s.checked, s.rejected, s.warned), (1, 1, 0));
    assert!(w.d.store.get(&w.partner).await.unwrap().unwrap().token.unwrap().rejected);
    assert_eq!(logs.text().lines().filter(|l| l.contains("\"alert\":\"token_rejected\"")).count(), 1);
    // The next run leaves it alone: the partner must store a new token.
    let calls = w.sim.sim().counters().total;
    assert_eq!(w.run_days_before(14).await, Summary::default());
    assert_eq!(w.sim.sim().counters().total, calls);
}

#[tokio::test]
async fn missing_scopes_are_recorded_and_a_failed_send_is_retried_next_run() {
    let w = world(jiff::civil::date(2026, 11, 25), "en").await;
    w.sim.sim().create_token(TokenSpec {
        token: Some("NarrowTokenValue1234".into()),
        scopes: Some(vec!["send_notification".into()]),
        ..TokenSpec::default()
    });
    store_token(&w.d.store, w.d.tokens.inner(), &w.partner, "NarrowTokenValue1234", w.at_day(w.issued_on)).await;
    w.sim.sim().inject_fault(
        hipchat_sim::Fault::new(hipchat_sim::FaultAction::Status {
            status: 500,
            message: None,
            reset_in_seconds: None,
        })
        .on(hipchat_sim::endpoints::ROOM_NOTIFICATION),
    );
    let s = w.run_days_before(30).await;
    assert_eq!((s.checked, s.warned, s.failed), (1, 0, 1));
    let meta = w.d.store.get(&w.partner).await.unwrap().unwrap().token.unwrap();
    assert!(meta.missing_scopes.contains(&"manage_rooms".to_owned()), "{meta:?}");
    assert_eq!(w.run_days_before(30).await.warned, 1, "released, so the next run sends it");
}

#[tokio::test]
async fn inactive_partners_and_tokens_far_from_expiry_are_not_touched() {
    let w = world(jiff::civil::date(2026, 11, 25), "en").await;
    // Far from expiry, the weekly probe only (its last check is old), then nothing.
    assert_eq!(w.run_days_before(200).await, Summary { checked: 1, ..Summary::default() });
    assert_eq!(w.run_days_before(199).await, Summary::default());
    w.d.store
        .put(
            &w.partner,
            &shared::domain::settings::Settings::inactive(),
            &shared::ports::Precondition::None,
            w.at_day(w.issued_on),
        )
        .await
        .unwrap();
    assert_eq!(w.run_days_before(7).await, Summary::default());
    assert_eq!(w.sim.sim().counters().total, 1, "the one probe");
}

/// Counts DynamoDB operations by name and the items Query and Scan answers carried.
#[derive(Debug, Default)]
struct DynamoCounter {
    scans: AtomicUsize,
    queries: AtomicUsize,
    items_read: AtomicUsize,
}

#[derive(Debug)]
struct Counting(Arc<DynamoCounter>);

impl aws_sdk_dynamodb::config::Intercept for Counting {
    fn name(&self) -> &'static str {
        "DynamoCounter"
    }

    fn read_before_transmit(
        &self,
        ctx: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _rc: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        match ctx.request().headers().get("x-amz-target") {
            Some(t) if t.ends_with(".Scan") => self.0.scans.fetch_add(1, Ordering::SeqCst),
            Some(t) if t.ends_with(".Query") => self.0.queries.fetch_add(1, Ordering::SeqCst),
            _ => 0,
        };
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        ctx: &aws_sdk_dynamodb::config::interceptors::AfterDeserializationInterceptorContextRef<'_>,
        _rc: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if let Ok(out) = ctx.output_or_error()
            && let Some(q) = out.downcast_ref::<aws_sdk_dynamodb::operation::query::QueryOutput>()
        {
            self.0.items_read.fetch_add(usize::try_from(q.scanned_count).unwrap_or(0), Ordering::SeqCst);
        }
        Ok(())
    }
}

/// 2,000 partners with tokens, 10 of them near expiry: a run reads those 10 items from the
/// token indexes, never scans, and warns exactly those. (Dated 2001, before every other test's
/// tokens, so that the shared moto table's other partners are neither near expiry nor due a
/// check.)
#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn two_thousand_partners_ten_near_expiry_on_moto() {
    use shared::adapters::dynamo::DynamoStore;
    use test_support::e2e::{stack_var, unique_partner};
    let counter = Arc::new(DynamoCounter::default());
    let sdk = shared::adapters::aws::load_sdk_config(env!("CARGO_PKG_NAME")).await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(Counting(counter.clone())).build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), stack_var("TABLE_NAME"));
    let (_, secrets) = test_support::e2e::moto_ports(env!("CARGO_PKG_NAME")).await;
    // The partners are stored (and removed) under another caller name than the function's, so
    // that the local stack's IAM policy check counts only the run's calls as the function's.
    let (setup_store, setup_secrets) = test_support::e2e::moto_ports(test_support::e2e::SETUP_APP).await;

    let sim = start(SimConfig::default()).await.expect("simulator starts");
    let room = sim.sim().add_room(RoomSpec { name: "Staff".into(), ..RoomSpec::default() });
    sim.sim().create_token(TokenSpec { token: Some(TOKEN.into()), ..TokenSpec::default() });
    let day = jiff::civil::date(2001, 3, 1);
    let at = at_day;
    let doc = json!({"active": true, "hipchat_url": sim.base_url(), "notification_room_id": room});
    let tag = unique_partner("bulk");
    let mut near = Vec::new();
    for i in 0..2_000 {
        let p = PartnerId::parse(&format!("{tag}-{i:04}")).unwrap();
        // Ten tokens expire in 10 days; the rest were issued (and checked) that day.
        let issued = if i % 200 == 0 { day.checked_sub(355.days()).unwrap() } else { day };
        store_settings(&setup_store, &p, &doc, at(day)).await;
        let meta = shared::domain::token::TokenMeta::new(&secrecy::SecretString::from(TOKEN), issued);
        setup_store.set_token(&p, &meta, at(day)).await.unwrap();
        if i % 200 == 0 {
            setup_secrets.put(&p, &secrecy::SecretString::from(TOKEN)).await.unwrap();
            near.push(p);
        }
    }
    let d = deps(store, secrets);
    *d.clock.0.lock().unwrap() = at(day);
    counter.items_read.store(0, Ordering::SeqCst);
    counter.queries.store(0, Ordering::SeqCst);
    let s = handle(&d, scheduled()).await.unwrap();
    assert_eq!((s.checked, s.warned, s.failed), (10, 10, 0), "{s:?}");
    assert_eq!(counter.scans.load(Ordering::SeqCst), 0, "no Scan");
    assert_eq!(counter.items_read.load(Ordering::SeqCst), 10, "only the ten tokens near expiry were read");
    assert_eq!(counter.queries.load(Ordering::SeqCst), 2, "one query per index");
    assert_eq!(sim.sim().room(room).unwrap().notifications.len(), 10);
    // Again the same day: nothing new.
    assert_eq!(handle(&d, scheduled()).await.unwrap().warned, 0);
    for p in near {
        setup_store.delete_partner(&p).await.unwrap();
    }
}
