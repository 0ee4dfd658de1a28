//! Concurrency, end to end through the local gateway (issue 7, point 4).
//!
//! - 50 concurrent `PUT /settings` with the same `If-Match`: exactly one 200, 49 × 412, and
//!   the stored document is the winner's.
//! - 50 concurrent chat requests for one user: exactly one room, every answer names it, and
//!   every notification in the staff room is accounted for by an answer.

mod common;

use std::collections::BTreeMap;

use common::{Checks, Partner, User, problem_type, write_summary};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use test_support::e2e::{Api, sim};
use tokio::sync::Mutex;

const N: usize = 50;

/// The tests of this binary write the summary one after the other.
static FIGURES: Mutex<BTreeMap<String, Value>> = Mutex::const_new(BTreeMap::new());

async fn record(section: &str, value: Value) {
    let mut figures = FIGURES.lock().await;
    figures.insert(section.to_owned(), value);
    write_summary("concurrency", json!(*figures));
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn fifty_concurrent_settings_puts_with_one_if_match_have_one_winner() {
    let api = Api::from_env();
    let mut checks = Checks::default();
    let p = Partner::new(&api, "hc-put").await;
    let current = api.call(Method::GET, &p.path("settings"), "").await;
    assert_eq!(current.status, 200, "{}", current.text);
    let etag = current.headers["etag"].to_str().expect("an ASCII ETag").to_owned();
    let version = current.json()["version"].as_u64().expect("a version");

    let bodies: Vec<String> = (0..N)
        .map(|i| {
            let mut doc = p.settings.clone();
            doc["room_name_prefix"] = json!(format!("Winner {i:02}"));
            doc.to_string()
        })
        .collect();
    let path = p.path("settings");
    let if_match = [("if-match", etag.as_str())];
    let answers = join_all(bodies.iter().map(|b| api.send(Method::PUT, &path, b, true, &if_match))).await;

    let winners: Vec<usize> = (0..N).filter(|&i| answers[i].status == 200).collect();
    let refused = answers.iter().filter(|a| a.status == 412).count();
    let others: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).filter(|s| *s != 200 && *s != 412).collect();
    checks.that(winners.len() == 1, || format!("{} answers 200 (expected exactly 1): {winners:?}", winners.len()));
    checks.that(refused == N - 1, || format!("{refused} answers 412 (expected {}); others {others:?}", N - 1));
    for a in answers.iter().filter(|a| a.status == 412) {
        match problem_type(a) {
            Ok(t) => checks.that(t == "/problems/precondition-failed", || format!("412 of type {t}")),
            Err(e) => checks.that(false, || e),
        };
    }
    let stored = api.call(Method::GET, &p.path("settings"), "").await;
    let stored_doc = stored.json();
    let mut winner_prefix = Value::Null;
    if let [w] = winners[..] {
        winner_prefix = json!(format!("Winner {w:02}"));
        let won = answers[w].json();
        checks.that(stored_doc == won, || format!("stored {stored_doc} differs from the winner's answer {won}"));
        checks.that(stored_doc["room_name_prefix"] == winner_prefix, || {
            format!("stored prefix {} is not the winner's {winner_prefix}", stored_doc["room_name_prefix"])
        });
        let sent: Value = serde_json::from_str(&bodies[w]).expect("JSON");
        for (k, v) in sent.as_object().expect("an object") {
            checks
                .that(&stored_doc[k] == v, || format!("stored {k} = {} differs from the winner's {v}", stored_doc[k]));
        }
        let new_etag = stored.headers["etag"].to_str().unwrap_or_default().to_owned();
        checks.that(stored_doc["version"].as_u64() == Some(version + 1), || {
            format!("version {} after one winning write on {version}", stored_doc["version"])
        });
        checks.that(answers[w].headers["etag"].to_str().ok() == Some(new_etag.as_str()), || {
            "winner's ETag differs".into()
        });
    }
    p.remove(&api).await;
    println!(
        "{N} concurrent PUT /settings with If-Match {etag}: {} × 200, {refused} × 412, other {others:?}; stored = winner's: {}",
        winners.len(),
        stored_doc["room_name_prefix"] == winner_prefix && !winner_prefix.is_null()
    );
    record(
        "settings_put_if_match",
        json!({"requests": N, "ok_200": winners.len(), "precondition_failed_412": refused, "other": others,
            "stored_equals_winner": checks.failures.is_empty(), "version_before": version,
            "version_after": stored_doc["version"]}),
    )
    .await;
    checks.assert_none("50 concurrent PUT /settings");
}

/// The simulator's limits, put back when dropped (they are global).
struct LiftedLimits {
    saved: Value,
}

impl LiftedLimits {
    async fn lift() -> Self {
        let saved = sim(Method::GET, "/_sim/limits", Value::Null).await;
        sim(Method::PUT, "/_sim/limits", json!({"rate_limit": 1000, "flood_limit": 1000})).await;
        Self { saved }
    }

    async fn restore(self) {
        sim(Method::PUT, "/_sim/limits", self.saved.clone()).await;
    }
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn fifty_concurrent_chat_requests_for_one_user_make_one_room() {
    let api = Api::from_env();
    let p = Partner::new(&api, "hc-chat").await;
    let user = User::new();
    let body = user.body.to_string();
    let path = p.path("chat/requests");
    // 49 repeat requests cost 2 HipChat calls each (a read and a notification): above the
    // default limits (100 requests / 5 min per token, 30 sends / min per room).
    let limits = LiftedLimits::lift().await;
    let run = tokio::spawn(async move {
        let api = Api::from_env();
        join_all((0..N).map(|_| api.call(Method::POST, &path, &body)))
            .await
            .into_iter()
            .map(|a| (a.status.as_u16(), serde_json::from_str::<Value>(&a.text).unwrap_or(Value::Null)))
            .collect::<Vec<_>>()
    })
    .await;
    limits.restore().await;
    let answers = run.expect("the requests ran");

    let mut checks = Checks::default();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for (s, _) in &answers {
        *statuses.entry(*s).or_default() += 1;
    }
    let created = statuses.get(&201).copied().unwrap_or(0);
    let ok = statuses.get(&200).copied().unwrap_or(0);
    checks.that(created == 1 && ok == N - 1, || format!("statuses {statuses:?}: expected one 201 and {} × 200", N - 1));
    let ids: std::collections::BTreeSet<String> = answers.iter().map(|(_, b)| b["room"]["id"].to_string()).collect();
    checks.that(ids.len() == 1, || format!("the answers name {} rooms: {ids:?}", ids.len()));
    let rooms = user.rooms().await;
    checks.that(rooms.len() == 1, || format!("{} rooms for the user in the simulator", rooms.len()));
    let sent = answers.iter().filter(|(_, b)| b["notification_sent"] == true).count();
    let coalesced = answers
        .iter()
        .filter(|(_, b)| {
            b["notification_sent"] == false
                && b["warnings"].as_array().is_some_and(|w| w.iter().any(|w| w["field"] == "notification"))
        })
        .count();
    let notes = p.staff_notifications().await.len();
    checks.that(notes == sent, || format!("{notes} notifications in the staff room, {sent} answers say one was sent"));
    let calls = p.hipchat_requests().await;
    p.remove(&api).await;
    println!(
        "{N} concurrent chat requests for one user: statuses {statuses:?}, rooms in HipChat {}, room ids answered {}, \
         notifications {notes} = answers with notification_sent {sent}, answered from the concurrent request {coalesced}; \
         HipChat calls {calls:?}",
        rooms.len(),
        ids.len()
    );
    record(
        "chat_requests_one_user",
        json!({"requests": N, "statuses": statuses, "rooms_in_hipchat": rooms.len(), "room_ids_answered": ids.len(),
            "notifications": notes, "notification_sent_answers": sent, "coalesced_answers": coalesced,
            "hipchat_requests": calls, "survived": checks.failures.is_empty()}),
    )
    .await;
    checks.assert_none("50 concurrent chat requests");
}
