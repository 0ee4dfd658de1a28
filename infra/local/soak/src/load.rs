//! The clients: what a busy partner base sends (availability reads, new and repeat chat
//! requests, events with resent duplicates, settings writes with `If-Match`), each retried as
//! dynaBOARD would, and every answer recorded for the report and the checks.
//!
//! Bytes never repeat within a second except where the API allows it: every settings write
//! carries its own closed date (a marker), event and settings reads are exempt, and one user's
//! chat requests (their body is the user) are at least [`SAME_BYTES_GAP`] apart, because a
//! signed non-GET request is accepted once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use crate::client::{Api, Outcome, Reply};

/// Attempts per logical request before the client gives up (a finding).
const MAX_ATTEMPTS: u32 = 10;
/// Fresh reads and writes of one settings change before giving up (412s in a row).
const MAX_SETTINGS_ROUNDS: u32 = 20;
/// The longest `Retry-After` we wait for; anything longer is a finding.
const MAX_RETRY_AFTER: u64 = 60;
/// Between two sends of the same bytes (a user's chat requests): more than one second, so the
/// signature's timestamp differs.
pub const SAME_BYTES_GAP: Duration = Duration::from_millis(1100);
/// Share of event posts that resend an event already answered.
const RESEND_SHARE: f64 = 0.10;

/// What the clients call, as the report's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    Availability,
    ChatNew,
    ChatRepeat,
    EventNew,
    EventResend,
    SettingsGet,
    SettingsPut,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Availability,
        Kind::ChatNew,
        Kind::ChatRepeat,
        Kind::EventNew,
        Kind::EventResend,
        Kind::SettingsGet,
        Kind::SettingsPut,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Availability => "GET /chat/availability",
            Kind::ChatNew => "POST /chat/requests (new user)",
            Kind::ChatRepeat => "POST /chat/requests (repeat)",
            Kind::EventNew => "POST /events (new)",
            Kind::EventResend => "POST /events (resent duplicate)",
            Kind::SettingsGet => "GET /settings",
            Kind::SettingsPut => "PUT /settings (If-Match)",
        }
    }
}

/// The operations a client picks, with their weights (out of 100).
#[derive(Debug, Clone, Copy)]
enum Op {
    Availability,
    ChatNew,
    ChatRepeat,
    Event,
    SettingsWrite,
}

const MIX: [(Op, u32); 5] =
    [(Op::Availability, 40), (Op::ChatNew, 5), (Op::ChatRepeat, 15), (Op::Event, 30), (Op::SettingsWrite, 10)];

/// The mix as text, for the report.
pub fn mix_text() -> String {
    let names = |op: Op| match op {
        Op::Availability => "availability read",
        Op::ChatNew => "chat request of a new user",
        Op::ChatRepeat => "chat request of a known user",
        Op::Event => "event (10 % of them resends of an answered event)",
        Op::SettingsWrite => "settings change (GET, then PUT with If-Match; a 412 reads again)",
    };
    MIX.iter().map(|(op, w)| format!("{w} % {}", names(*op))).collect::<Vec<_>>().join(", ")
}

/// Status keys of the per-endpoint tables.
pub const RETRY_AFTER_503: &str = "503 (Retry-After)";
pub const BARE_503: &str = "503 (no Retry-After)";

/// Attempts of one endpoint: statuses and latencies (microseconds).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    pub statuses: BTreeMap<String, u64>,
    #[serde(skip)]
    pub latencies_us: Vec<u64>,
    /// 503s without `Retry-After` by problem type.
    pub bare_503_types: BTreeMap<String, u64>,
    /// Retry-After values seen, seconds -> count.
    pub retry_after: BTreeMap<u64, u64>,
}

/// What went wrong, by category, with the first few examples.
#[derive(Debug, Default, Serialize)]
pub struct Findings {
    pub counts: BTreeMap<String, u64>,
    pub examples: Vec<String>,
}

impl Findings {
    pub fn add(&mut self, category: &str, example: String) {
        *self.counts.entry(category.to_owned()).or_default() += 1;
        if self.examples.len() < 40 {
            self.examples.push(format!("{category}: {example}"));
        }
    }
}

/// A partner of the soak: its own HipChat token (never printed) and staff room.
pub struct Partner {
    pub id: String,
    pub staff_room: u64,
    pub hipchat_url: String,
}

impl Partner {
    pub fn path(&self, rest: &str) -> String {
        format!("/v1/partners/{}/{rest}", self.id)
    }

    /// The settings every write stores: active, the button always available, every
    /// notification on; `marker` (a closed date far in the future) makes each write unique.
    pub fn settings(&self, marker: Option<u64>) -> Value {
        let closed: Vec<String> = marker.map(marker_date).into_iter().collect();
        json!({"active": true, "hipchat_url": self.hipchat_url, "notification_room_id": self.staff_room,
            "language": "en",
            "chat": {"show_button": true, "button_position": "both",
                "service_hours": {"timezone": "UTC", "days": test_support::e2e::days_open_around_the_clock(),
                    "closed_dates": closed}},
            "notifications": {"login_logout": "customers", "comment_created": true, "issue_created": true,
                "issue_approval": true}})
    }
}

/// The closed date that marks settings write number `marker`: 2100-01-01 plus that many days.
pub fn marker_date(marker: u64) -> String {
    let base = jiff::civil::date(2100, 1, 1);
    let days = i64::try_from(marker).unwrap_or(i64::MAX).min(2_000_000);
    base.checked_add(jiff::Span::new().days(days)).map_or_else(|_| "9999-12-31".to_owned(), |d| d.to_string())
}

/// One event as posted.
pub struct EventRec {
    pub partner: usize,
    pub body: String,
    /// The `status` of each 202 answer to the first post and its retries.
    pub answers: Vec<String>,
    /// Answered 202 in the end.
    pub completed: bool,
    /// Resends (after completion) answered `duplicate` / anything else.
    pub resends_duplicate: u64,
    pub resends_other: Vec<String>,
}

#[derive(Default)]
pub struct Events {
    pub by_id: HashMap<String, EventRec>,
    /// Ids answered 202, to resend.
    pub completed: Vec<String>,
}

/// One portal user of a partner.
pub struct UserRec {
    pub partner: usize,
    pub email: String,
    pub body: String,
    /// A client is sending for this user (one at a time).
    pub busy: bool,
    pub last_sent: Option<Instant>,
    /// Room ids in the answers.
    pub rooms: BTreeSet<u64>,
    pub answers_201: u64,
    pub answers_200: u64,
    /// Answers that said the staff notification was sent.
    pub notified: u64,
}

#[derive(Default)]
pub struct Users {
    pub list: Vec<UserRec>,
}

/// The settings writes of one partner.
#[derive(Debug, Default, Serialize)]
pub struct SettingsLog {
    pub start_version: u64,
    /// (version answered, marker) of each 200.
    pub successes: Vec<(u64, u64)>,
    pub conflicts: u64,
    /// Markers of PUTs without an answer we can trust (transport error or 5xx): may have happened.
    pub uncertain: Vec<u64>,
}

/// The run's phase: warm-up attempts are not in the tables (their answers are still checked).
pub const WARMUP: u8 = 0;
pub const SOAK: u8 = 1;

pub struct Soak {
    pub api: Api,
    pub partners: Vec<Partner>,
    pub phase: AtomicU8,
    pub stats: Mutex<BTreeMap<Kind, Stats>>,
    pub findings: Mutex<Findings>,
    pub events: Mutex<Events>,
    pub users: Mutex<Users>,
    pub settings: Mutex<Vec<SettingsLog>>,
    /// Attempts in the soak phase (bounded by `max_requests`).
    pub requests: AtomicU64,
    pub max_requests: u64,
    /// Logical operations finished in the soak phase.
    pub operations: AtomicU64,
    seq: AtomicU64,
}

impl Soak {
    pub fn new(api: Api, partners: Vec<Partner>, start_versions: Vec<u64>, max_requests: u64) -> Self {
        let settings =
            start_versions.into_iter().map(|v| SettingsLog { start_version: v, ..Default::default() }).collect();
        Self {
            api,
            partners,
            phase: AtomicU8::new(WARMUP),
            stats: Mutex::default(),
            findings: Mutex::default(),
            events: Mutex::default(),
            users: Mutex::default(),
            settings: Mutex::new(settings),
            requests: AtomicU64::new(0),
            max_requests,
            operations: AtomicU64::new(0),
            seq: AtomicU64::new(1),
        }
    }

    fn next(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    fn soaking(&self) -> bool {
        self.phase.load(Ordering::Relaxed) == SOAK
    }

    pub fn budget_left(&self) -> bool {
        self.requests.load(Ordering::Relaxed) < self.max_requests
    }

    pub fn finding(&self, category: &str, example: String) {
        lock(&self.findings).add(category, example);
    }

    /// One attempt, recorded.
    async fn attempt(&self, kind: Kind, method: &Method, path: &str, body: &str, if_match: Option<&str>) -> Outcome {
        let (outcome, took) = self.api.send(method, path, body, if_match).await;
        let soaking = self.soaking();
        if soaking {
            self.requests.fetch_add(1, Ordering::Relaxed);
        }
        let key = match &outcome {
            Outcome::Reply(r) if r.status == 503 && r.retry_after.is_some() => RETRY_AFTER_503.to_owned(),
            Outcome::Reply(r) if r.status == 503 => BARE_503.to_owned(),
            Outcome::Reply(r) => r.status.to_string(),
            Outcome::Transport(k) => format!("no answer ({k})"),
        };
        if let Outcome::Reply(r) = &outcome {
            self.judge(kind, r);
        } else {
            self.finding("no HTTP answer", format!("{} {path}: {key}", method.as_str()));
        }
        if soaking {
            let mut stats = lock(&self.stats);
            let s = stats.entry(kind).or_default();
            *s.statuses.entry(key).or_default() += 1;
            s.latencies_us.push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
            if let Outcome::Reply(r) = &outcome {
                if let Some(ra) = r.retry_after {
                    *s.retry_after.entry(ra).or_default() += 1;
                } else if r.status == 503 {
                    *s.bare_503_types.entry(r.problem_type()).or_default() += 1;
                }
            }
        }
        outcome
    }

    /// Findings any answer can raise, whatever the endpoint.
    fn judge(&self, kind: Kind, r: &Reply) {
        let what = || format!("{}: {} {}", kind.label(), r.status, truncate(&r.body, 300));
        match r.status {
            401 => self.finding("401", what()),
            503 if r.retry_after.is_some() => {}
            // Every 503 carries Retry-After (docs/api.md "Retry-After").
            503 => self.finding("503 without Retry-After", what()),
            500.. => self.finding("answer >= 500 other than 503", what()),
            _ => {}
        }
        if r.retry_after.is_some_and(|s| s > MAX_RETRY_AFTER) {
            self.finding("Retry-After > 60 s", what());
        }
    }

    /// Sends until the answer is not a 503 (waiting `Retry-After`, else 1 s) and not a transport
    /// failure (1 s), up to [`MAX_ATTEMPTS`]. `last_sent`, for bytes that must not repeat within a
    /// second (a user's chat request): when they were last sent; each send waits until
    /// [`SAME_BYTES_GAP`] after it, and updates it.
    async fn retrying(
        &self,
        kind: Kind,
        method: Method,
        path: &str,
        body: &str,
        mut last_sent: Option<&mut Option<Instant>>,
    ) -> Option<Reply> {
        for _ in 0..MAX_ATTEMPTS {
            if let Some(Some(at)) = last_sent.as_deref() {
                let ready = *at + SAME_BYTES_GAP;
                tokio::time::sleep_until(ready.into()).await;
            }
            if let Some(slot) = last_sent.as_deref_mut() {
                *slot = Some(Instant::now());
            }
            let wait = match self.attempt(kind, &method, path, body, None).await {
                Outcome::Reply(r) if r.status == 503 => r.retry_after.unwrap_or(1).clamp(1, MAX_RETRY_AFTER),
                Outcome::Reply(r) => return Some(r),
                Outcome::Transport(_) => 1,
            };
            tokio::time::sleep(Duration::from_secs(wait)).await;
        }
        self.finding("gave up", format!("{} {path}: {MAX_ATTEMPTS} attempts", kind.label()));
        None
    }

    fn unexpected(&self, kind: Kind, r: &Reply) {
        if r.status != 401 && r.status < 500 {
            self.finding("unexpected status", format!("{}: {} {}", kind.label(), r.status, truncate(&r.body, 300)));
        }
    }

    /// One client: picks operations until `until` or the request budget is spent.
    pub async fn client(self: Arc<Self>, seed: u64, until: Instant) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let total: u32 = MIX.iter().map(|(_, w)| w).sum();
        while Instant::now() < until && self.budget_left() {
            let mut pick = rng.u32(0..total);
            let op = MIX
                .iter()
                .find(|(_, w)| {
                    if pick < *w {
                        return true;
                    }
                    pick -= w;
                    false
                })
                .map_or(Op::Availability, |(op, _)| *op);
            let partner = rng.usize(0..self.partners.len());
            match op {
                Op::Availability => self.availability(partner).await,
                Op::ChatNew => self.chat_new(partner).await,
                // No known user free (early on): an availability read instead.
                Op::ChatRepeat => match self.lease_user(&mut rng) {
                    Some(user) => self.chat(user, Kind::ChatRepeat).await,
                    None => self.availability(partner).await,
                },
                Op::Event if rng.f64() < RESEND_SHARE => self.event_resend(&mut rng).await,
                Op::Event => self.event_new(partner, &mut rng).await,
                Op::SettingsWrite => self.settings_write(partner).await,
            }
            if self.soaking() {
                self.operations.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    async fn availability(&self, partner: usize) {
        let path = self.partners[partner].path("chat/availability");
        let Some(r) = self.retrying(Kind::Availability, Method::GET, &path, "", None).await else { return };
        if r.status != 200 {
            return self.unexpected(Kind::Availability, &r);
        }
        let v = r.json();
        if v["show_button"] != json!(true) || v["available"] != json!(true) {
            self.finding("wrong answer", format!("availability: {}", truncate(&r.body, 300)));
        }
    }

    async fn chat_new(&self, partner: usize) {
        let n = self.next();
        let email = format!("u{n}.p{partner}@soak.example");
        let body = json!({"user": {"id": format!("u-{n}"), "first_name": "Soak",
            "last_name": format!("P{partner} U{n}"), "email": email, "company": "Soak & Co", "role": "customer"}})
        .to_string();
        let index = {
            let mut users = lock(&self.users);
            users.list.push(UserRec {
                partner,
                email,
                body,
                busy: true,
                last_sent: None,
                rooms: BTreeSet::new(),
                answers_201: 0,
                answers_200: 0,
                notified: 0,
            });
            users.list.len() - 1
        };
        self.chat(index, Kind::ChatNew).await;
    }

    /// A known user no client is sending for, preferably one whose last request is over a
    /// second old (else the client waits for the gap).
    fn lease_user(&self, rng: &mut fastrand::Rng) -> Option<usize> {
        let mut users = lock(&self.users);
        let n = users.list.len();
        if n == 0 {
            return None;
        }
        let now = Instant::now();
        for _ in 0..16 {
            let i = rng.usize(0..n);
            let u = &mut users.list[i];
            let rested = u.last_sent.is_none_or(|t| now.duration_since(t) >= SAME_BYTES_GAP);
            if !u.busy && rested && !u.rooms.is_empty() {
                u.busy = true;
                return Some(i);
            }
        }
        None
    }

    async fn chat(&self, index: usize, kind: Kind) {
        let (partner, body, mut last_sent) = {
            let users = lock(&self.users);
            let u = &users.list[index];
            (u.partner, u.body.clone(), u.last_sent)
        };
        let path = self.partners[partner].path("chat/requests");
        let reply = self.retrying(kind, Method::POST, &path, &body, Some(&mut last_sent)).await;
        let mut users = lock(&self.users);
        let u = &mut users.list[index];
        u.busy = false;
        u.last_sent = last_sent;
        let Some(r) = reply else { return };
        let expected: &[u16] = if kind == Kind::ChatNew { &[200, 201] } else { &[200] };
        if !expected.contains(&r.status) {
            drop(users);
            return self.unexpected(kind, &r);
        }
        let v = r.json();
        match v["room"]["id"].as_u64() {
            Some(id) => {
                u.rooms.insert(id);
            }
            None => {
                drop(users);
                return self.finding("wrong answer", format!("{}: {}", kind.label(), truncate(&r.body, 300)));
            }
        }
        if r.status == 201 {
            u.answers_201 += 1;
        } else {
            u.answers_200 += 1;
        }
        if v["notification_sent"] == json!(true) {
            u.notified += 1;
        }
    }

    async fn event_new(&self, partner: usize, rng: &mut fastrand::Rng) {
        let id = format!("soak-{}", self.next());
        let actor = json!({"id": "u-soak", "first_name": "Eve", "last_name": "Soak", "email": "eve@soak.example",
            "company": "Soak & Co", "role": "customer"});
        // The id in brackets in the title, so the posted message names it.
        let issue = json!({"id": "ISS-1", "title": format!("Soak [soak:{id}]")});
        let body = if rng.u8(0..3) == 0 {
            json!({"id": id, "type": "comment.created", "occurred_at": "2026-11-25T09:00:00Z", "actor": actor,
                "issue": issue, "comment": {"id": "c-1", "excerpt": "Still smoking."}})
        } else {
            json!({"id": id, "type": "issue.created", "occurred_at": "2026-11-25T09:00:00Z", "actor": actor,
                "issue": issue})
        }
        .to_string();
        lock(&self.events).by_id.insert(
            id.clone(),
            EventRec {
                partner,
                body: body.clone(),
                answers: vec![],
                completed: false,
                resends_duplicate: 0,
                resends_other: vec![],
            },
        );
        let path = self.partners[partner].path("events");
        let Some(r) = self.retrying(Kind::EventNew, Method::POST, &path, &body, None).await else { return };
        if r.status != 202 {
            return self.unexpected(Kind::EventNew, &r);
        }
        let status = r.json()["status"].as_str().unwrap_or("?").to_owned();
        let mut events = lock(&self.events);
        if let Some(e) = events.by_id.get_mut(&id) {
            e.answers.push(status.clone());
            e.completed = true;
        }
        events.completed.push(id.clone());
        drop(events);
        if status != "sent" && status != "duplicate" {
            self.finding("wrong answer", format!("event {id}: {}", truncate(&r.body, 300)));
        }
    }

    async fn event_resend(&self, rng: &mut fastrand::Rng) {
        let picked = {
            let events = lock(&self.events);
            if events.completed.is_empty() {
                None
            } else {
                let id = events.completed[rng.usize(0..events.completed.len())].clone();
                events.by_id.get(&id).map(|e| (id, e.partner, e.body.clone()))
            }
        };
        let Some((id, partner, body)) = picked else { return self.availability(0).await };
        let path = self.partners[partner].path("events");
        let Some(r) = self.retrying(Kind::EventResend, Method::POST, &path, &body, None).await else { return };
        if r.status != 202 {
            return self.unexpected(Kind::EventResend, &r);
        }
        let status = r.json()["status"].as_str().unwrap_or("?").to_owned();
        let mut events = lock(&self.events);
        if let Some(e) = events.by_id.get_mut(&id) {
            if status == "duplicate" {
                e.resends_duplicate += 1;
            } else {
                e.resends_other.push(status.clone());
            }
        }
        drop(events);
        if status != "duplicate" {
            self.finding("resend not answered duplicate", format!("event {id}: {}", truncate(&r.body, 300)));
        }
    }

    /// Read the settings, write them back changed with `If-Match`; a 412 reads again.
    async fn settings_write(&self, partner: usize) {
        let p = &self.partners[partner];
        let path = p.path("settings");
        for _ in 0..MAX_SETTINGS_ROUNDS {
            let Some(read) = self.retrying(Kind::SettingsGet, Method::GET, &path, "", None).await else {
                return;
            };
            if read.status != 200 {
                return self.unexpected(Kind::SettingsGet, &read);
            }
            let Some(etag) = read.etag.clone() else {
                return self.finding("wrong answer", "GET /settings without ETag".into());
            };
            let marker = self.next();
            let body = p.settings(Some(marker)).to_string();
            // Not retried as is: after a 503 or no answer the write may have happened, and the
            // next round reads the settings again anyway.
            match self.attempt(Kind::SettingsPut, &Method::PUT, &path, &body, Some(&etag)).await {
                Outcome::Reply(r) if r.status == 200 => {
                    let version = r.json()["version"].as_u64();
                    let mut logs = lock(&self.settings);
                    match version {
                        Some(v) => logs[partner].successes.push((v, marker)),
                        None => {
                            drop(logs);
                            self.finding("wrong answer", format!("PUT /settings: {}", truncate(&r.body, 300)));
                        }
                    }
                    return;
                }
                Outcome::Reply(r) if r.status == 412 => lock(&self.settings)[partner].conflicts += 1,
                Outcome::Reply(r) if r.status >= 500 => {
                    lock(&self.settings)[partner].uncertain.push(marker);
                    let wait = r.retry_after.unwrap_or(1).clamp(1, MAX_RETRY_AFTER);
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
                Outcome::Reply(r) => return self.unexpected(Kind::SettingsPut, &r),
                Outcome::Transport(_) => {
                    lock(&self.settings)[partner].uncertain.push(marker);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        self.finding("gave up", format!("settings of partner {partner}: {MAX_SETTINGS_ROUNDS} rounds"));
    }
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_owned() } else { format!("{}…", s.chars().take(max).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_distinct_dates() {
        assert_eq!(marker_date(0), "2100-01-01");
        assert_eq!(marker_date(366), "2101-01-02");
        assert_ne!(marker_date(1_000), marker_date(1_001));
    }

    #[test]
    fn the_mix_adds_up_to_100() {
        assert_eq!(MIX.iter().map(|(_, w)| w).sum::<u32>(), 100);
    }
}
