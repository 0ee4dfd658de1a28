//! What the hardening tests share: a partner set up through the gateway, the simulator's
//! state read through its control API, problem checks, and the figures file.
#![allow(dead_code)] // each test binary uses a part of it

use std::collections::BTreeMap;
use std::path::PathBuf;

use reqwest::Method;
use serde_json::{Value, json};
use test_support::e2e::{Answer, Api, days_open_around_the_clock, sim, stack_var, unique_partner};

/// The seven weekdays, open around the clock (UTC): the chat button is always available.
pub fn always_open() -> Value {
    json!({"timezone": "UTC", "days": days_open_around_the_clock(), "closed_dates": []})
}

/// A fresh partner: its own simulator token and staff (notification) room, settings with the
/// chat button always on and every notification on, the token stored.
pub struct Partner {
    pub id: String,
    pub token: String,
    pub staff_room: u64,
    pub settings: Value,
}

impl Partner {
    pub async fn new(api: &Api, tag: &str) -> Self {
        let id = unique_partner(tag);
        let token = format!("Hard{}{}", tag.replace('-', ""), random_alnum(16));
        Self::with_token(api, id, token, None).await
    }

    /// A partner whose token is `token` (seeded in the simulator), stored with `issued_on`.
    pub async fn with_token(api: &Api, id: String, token: String, issued_on: Option<&str>) -> Self {
        sim(Method::POST, "/_sim/tokens", json!({"token": token})).await;
        let staff = sim(Method::POST, "/_sim/rooms", json!({"name": format!("Staff {id}")})).await;
        let staff_room = staff["id"].as_u64().expect("the simulator names the room's id");
        let settings = json!({"active": true, "hipchat_url": stack_var("HIPCHAT_URL"),
            "notification_room_id": staff_room, "language": "en",
            "chat": {"show_button": true, "button_position": "both", "service_hours": always_open()},
            "notifications": {"login_logout": "customers", "comment_created": true, "issue_created": true,
                "issue_approval": true}});
        let p = Self { id, token, staff_room, settings };
        let put = api.call(Method::PUT, &p.path("settings"), &p.settings.to_string()).await;
        assert_eq!(put.status, 200, "settings of {}: {}", p.id, put.text);
        let mut body = json!({"token": p.token});
        if let Some(d) = issued_on {
            body["issued_on"] = json!(d);
        }
        let put = api.call(Method::PUT, &p.path("token"), &body.to_string()).await;
        assert_eq!(put.status, 200, "token of {}: {}", p.id, put.text);
        p
    }

    pub fn path(&self, rest: &str) -> String {
        format!("/v1/partners/{}/{rest}", self.id)
    }

    /// Removes the partner's settings, token secret and room mappings (best effort).
    pub async fn remove(&self, api: &Api) {
        let _ = api.call(Method::DELETE, &self.path("settings"), "").await;
    }

    /// Notifications posted into the staff room.
    pub async fn staff_notifications(&self) -> Vec<Value> {
        room(self.staff_room)
            .await
            .map(|r| r["notifications"].as_array().cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Requests the simulator counted for this partner's token, per endpoint template.
    pub async fn hipchat_requests(&self) -> BTreeMap<String, u64> {
        test_support::e2e::hipchat_requests(&self.token).await
    }
}

/// A portal user no other test uses: the room is named `dynaBOARD - Hard <tag>` and its
/// topic carries `<tag>@hardening.example`.
pub struct User {
    pub tag: String,
    pub body: Value,
}

impl User {
    pub fn new() -> Self {
        let tag = format!("U{}", random_alnum(10));
        let body = json!({"user": {"id": format!("u-{tag}"), "first_name": "Hard", "last_name": tag,
            "email": format!("{}@hardening.example", tag.to_lowercase()), "company": "Faults & Co",
            "role": "customer"}});
        Self { tag, body }
    }

    pub fn email(&self) -> String {
        format!("{}@hardening.example", self.tag.to_lowercase())
    }

    /// Rooms in the simulator that are this user's: named for the user (also `… (2)`) or
    /// carrying the user's email in the topic.
    pub async fn rooms(&self) -> Vec<Value> {
        let name = format!("dynaBOARD - Hard {}", self.tag);
        let email = self.email();
        rooms()
            .await
            .into_iter()
            .filter(|r| {
                r["name"].as_str().is_some_and(|n| n.starts_with(&name))
                    || r["topic"].as_str().is_some_and(|t| t.to_lowercase().contains(&email))
            })
            .collect()
    }
}

pub fn random_alnum(n: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric).take(n).collect()
}

pub async fn rooms() -> Vec<Value> {
    sim(Method::GET, "/_sim/rooms", Value::Null).await.as_array().cloned().unwrap_or_default()
}

pub async fn room(id: u64) -> Option<Value> {
    rooms().await.into_iter().find(|r| r["id"].as_u64() == Some(id))
}

/// Injects a simulator fault (`POST /_sim/faults`).
pub async fn inject(fault: Value) {
    sim(Method::POST, "/_sim/faults", fault).await;
}

/// Removes every pending fault.
pub async fn clear_faults() {
    sim(Method::DELETE, "/_sim/faults", Value::Null).await;
}

pub async fn pending_faults() -> usize {
    sim(Method::GET, "/_sim/faults", Value::Null).await.as_array().map_or(0, Vec::len)
}

/// The `Retry-After` header in seconds, if any.
pub fn retry_after(a: &Answer) -> Option<u64> {
    a.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok())
}

pub fn content_type(a: &Answer) -> &str {
    a.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The problem's `type` when the answer is an RFC 9457 problem of the given status, else why not.
pub fn problem_type(a: &Answer) -> Result<String, String> {
    if !content_type(a).starts_with("application/problem+json") {
        return Err(format!("{} is not a problem ({}): {}", a.status, content_type(a), a.text));
    }
    let v: Value = serde_json::from_str(&a.text).map_err(|e| format!("problem is not JSON ({e}): {}", a.text))?;
    if v["status"].as_u64() != Some(u64::from(a.status.as_u16())) {
        return Err(format!("problem status {} differs from the HTTP status {}", v["status"], a.status));
    }
    for member in ["type", "title", "detail"] {
        if !v[member].is_string() {
            return Err(format!("problem without {member}: {}", a.text));
        }
    }
    Ok(v["type"].as_str().unwrap_or_default().to_owned())
}

/// Collects failed checks, so a run reports every scenario before it fails.
#[derive(Default)]
pub struct Checks {
    pub failures: Vec<String>,
}

impl Checks {
    /// Records `what` as failed unless `ok`; answers `ok`.
    pub fn that(&mut self, ok: bool, what: impl FnOnce() -> String) -> bool {
        if !ok {
            let what = what();
            println!("  FAILED: {what}");
            self.failures.push(what);
        }
        ok
    }

    pub fn assert_none(&self, name: &str) {
        assert!(
            self.failures.is_empty(),
            "{name}: {} check(s) failed:\n  {}",
            self.failures.len(),
            self.failures.join("\n  ")
        );
    }
}

/// `target/hardening/summary.json` (under `CARGO_TARGET_DIR` when set).
pub fn summary_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../target"));
    target.join("hardening").join("summary.json")
}

/// Merges `value` into the summary file under `section` (the test binaries run one after
/// another, and the tests of one binary that write here hold its lock).
pub fn write_summary(section: &str, value: Value) {
    let path = summary_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("target/hardening can be created");
    }
    let mut all = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    all[section] = json!({"recorded_at": jiff::Timestamp::now().to_string(), "figures": value});
    std::fs::write(&path, serde_json::to_string_pretty(&all).expect("JSON")).expect("the summary can be written");
    println!("figures of '{section}' written to {}", path.display());
}

/// The logs directory of the stack (`FUNCTIONS_LOG`'s folder: functions, gateway, simulator, moto).
pub fn logs_dir() -> PathBuf {
    PathBuf::from(stack_var("FUNCTIONS_LOG")).parent().expect("FUNCTIONS_LOG is a file in the logs folder").to_owned()
}
