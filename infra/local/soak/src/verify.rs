//! After the load: what HipChat (the simulator) received and what the settings say, against
//! what the clients were answered.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::client::Outcome;
use crate::load::{Soak, lock, marker_date};

/// One check of the report.
#[derive(Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub measured: String,
    pub ok: bool,
}

fn check(name: &str, ok: bool, measured: String) -> Check {
    Check { name: name.to_owned(), measured, ok }
}

/// The event ids named in a message (`[soak:<id>]`).
pub fn event_ids(message: &str) -> Vec<&str> {
    message.split("[soak:").skip(1).filter_map(|rest| rest.split_once(']').map(|(id, _)| id)).collect()
}

/// Counts of what the verification looked at, for the report.
#[derive(Debug, Default, Serialize)]
pub struct Seen {
    pub events_posted: usize,
    pub events_delivered: usize,
    pub event_answers_sent: usize,
    pub event_answers_duplicate: usize,
    pub resends: u64,
    pub resends_duplicate: u64,
    pub users: usize,
    pub user_rooms: usize,
    pub chat_answers: u64,
    pub chat_notifications: u64,
    pub settings_writes: usize,
    pub settings_conflicts: u64,
    pub settings_uncertain: usize,
}

/// Each partner's settings as read after the load: (partner, version, closed dates), or why not.
pub type Finals = Vec<(usize, Result<(Option<u64>, Value), String>)>;

/// Reads every partner's settings once the load is over.
pub async fn final_settings(soak: &Soak) -> Finals {
    let mut finals = Vec::new();
    for (i, p) in soak.partners.iter().enumerate() {
        let (outcome, _) = soak.api.send(&Method::GET, &p.path("settings"), "", None).await;
        finals.push((
            i,
            match outcome {
                Outcome::Reply(r) if r.status == 200 => {
                    let v = r.json();
                    Ok((v["version"].as_u64(), v["chat"]["service_hours"]["closed_dates"].clone()))
                }
                Outcome::Reply(r) => Err(format!("final GET answered {}", r.status)),
                Outcome::Transport(k) => Err(format!("final GET unanswered ({k})")),
            },
        ));
    }
    finals
}

/// The checks of what arrived (`rooms`: the simulator's `/_sim/rooms`) and of the settings
/// (`finals`) against what the clients were answered.
pub fn verify(soak: &Soak, rooms: &[Value], finals: Finals) -> (Vec<Check>, Seen) {
    let mut checks = Vec::new();
    let mut seen = Seen::default();
    let by_id: BTreeMap<u64, &Value> = rooms.iter().filter_map(|r| Some((r["id"].as_u64()?, r))).collect();
    let notifications = |room: u64| -> Vec<String> {
        by_id
            .get(&room)
            .and_then(|r| r["notifications"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|n| n["message"].as_str().map(str::to_owned))
            .collect()
    };

    // Events: each one answered 202 is in its partner's staff room exactly once; none anywhere else.
    let mut delivered: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut chat_notes = vec![0u64; soak.partners.len()];
    for (i, p) in soak.partners.iter().enumerate() {
        for m in notifications(p.staff_room) {
            for id in event_ids(&m) {
                delivered.entry(id.to_owned()).or_default().push(i);
            }
            if m.contains("requests a chat") {
                chat_notes[i] += 1;
            }
        }
    }
    let other_rooms: usize = rooms
        .iter()
        .filter(|r| !soak.partners.iter().any(|p| Some(p.staff_room) == r["id"].as_u64()))
        .flat_map(|r| r["notifications"].as_array().into_iter().flatten())
        .filter(|n| n["message"].as_str().is_some_and(|m| !event_ids(m).is_empty()))
        .count();
    {
        let events = lock(&soak.events);
        seen.events_posted = events.by_id.len();
        let (mut lost, mut doubled, mut wrong_room, mut unfinished, mut twice_sent) = (vec![], vec![], 0, 0, 0);
        for (id, e) in &events.by_id {
            let rooms = delivered.get(id).map_or(&[][..], Vec::as_slice);
            seen.event_answers_sent += e.answers.iter().filter(|a| *a == "sent").count();
            seen.event_answers_duplicate += e.answers.iter().filter(|a| *a == "duplicate").count();
            seen.resends += e.resends_duplicate + e.resends_other.len() as u64;
            seen.resends_duplicate += e.resends_duplicate;
            let sent = e.answers.iter().chain(&e.resends_other).filter(|a| *a == "sent").count();
            if sent > 1 {
                twice_sent += 1;
            }
            if rooms.iter().any(|r| *r != e.partner) {
                wrong_room += 1;
            }
            match (e.completed, rooms.len()) {
                (true, 1) => seen.events_delivered += 1,
                (true, 0) => lost.push(id.clone()),
                (false, 0) => unfinished += 1,
                (false, 1) => {
                    unfinished += 1;
                    seen.events_delivered += 1;
                }
                (_, _) => doubled.push(format!("{id} ×{}", rooms.len())),
            }
        }
        let unknown = delivered.keys().filter(|id| !events.by_id.contains_key(*id)).count();
        lost.sort();
        doubled.sort();
        checks.push(check(
            "every event answered 202 is in its staff room exactly once",
            lost.is_empty() && doubled.is_empty() && wrong_room == 0 && unknown == 0 && other_rooms == 0,
            format!(
                "{} of {} posted events delivered once; lost {}{}; doubled {}{}; in a wrong room {}; unknown ids {}; \
                 event messages in other rooms {}; not answered 202 in the end {unfinished}",
                seen.events_delivered,
                seen.events_posted,
                lost.len(),
                sample(&lost),
                doubled.len(),
                sample(&doubled),
                wrong_room,
                unknown,
                other_rooms,
            ),
        ));
        checks.push(check(
            "each event answered `sent` once; every resend answered `duplicate`",
            twice_sent == 0 && seen.resends == seen.resends_duplicate,
            format!(
                "first posts: {} sent, {} duplicate (an earlier attempt had delivered it); events answered sent twice: \
                 {twice_sent}; resends: {} of {} duplicate",
                seen.event_answers_sent, seen.event_answers_duplicate, seen.resends_duplicate, seen.resends
            ),
        ));
    }

    // Rooms: one per (partner, user), the one every answer named; each notifying answer is one
    // staff notification.
    {
        let users = lock(&soak.users);
        let mut per_email: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for r in rooms {
            if let (Some(topic), Some(id)) = (r["topic"].as_str(), r["id"].as_u64())
                && let Some(email) = topic.split_whitespace().last()
            {
                per_email.entry(email).or_default().push(id);
            }
        }
        let (mut duplicate, mut missing, mut mismatched, mut several_201) = (vec![], 0, 0, 0);
        let mut answered = vec![0u64; soak.partners.len()];
        for u in &users.list {
            let found = per_email.get(u.email.as_str()).map_or(&[][..], Vec::as_slice);
            seen.chat_answers += u.answers_200 + u.answers_201;
            answered[u.partner] += u.notified;
            if u.answers_201 > 1 {
                several_201 += 1;
            }
            match found.len() {
                0 if !u.rooms.is_empty() => missing += 1,
                0 => {}
                1 => {
                    seen.user_rooms += 1;
                    if u.rooms.iter().any(|r| *r != found[0]) {
                        mismatched += 1;
                    }
                }
                n => duplicate.push(format!("{} ×{n}", u.email)),
            }
            if u.rooms.len() > 1 {
                mismatched += 1;
            }
        }
        seen.users = users.list.len();
        checks.push(check(
            "one room per user, the one every answer named",
            duplicate.is_empty() && missing == 0 && mismatched == 0 && several_201 == 0,
            format!(
                "{} users, {} with exactly one room; users with several rooms {}{}; answered room missing {missing}; \
                 answers naming another room {mismatched}; users answered 201 more than once {several_201}",
                seen.users,
                seen.user_rooms,
                duplicate.len(),
                sample(&duplicate),
            ),
        ));
        seen.chat_notifications = chat_notes.iter().sum();
        let off: Vec<String> = answered
            .iter()
            .zip(&chat_notes)
            .enumerate()
            .filter(|(_, (a, n))| a != n)
            .map(|(i, (a, n))| format!("partner {i}: {a} answers, {n} notifications"))
            .collect();
        checks.push(check(
            "staff chat notifications = answers with notification_sent",
            off.is_empty(),
            format!(
                "{} notifications, {} answers said sent (of {} chat answers){}",
                seen.chat_notifications,
                answered.iter().sum::<u64>(),
                seen.chat_answers,
                if off.is_empty() { String::new() } else { format!("; {}", off.join("; ")) }
            ),
        ));
    }

    // Settings: the final version is the start plus the successful writes, each success got
    // its own version, and the stored document is the last winner's.
    let mut problems = Vec::new();
    {
        let logs = lock(&soak.settings);
        for (i, read) in finals {
            let (version, closed) = match read {
                Ok(read) => read,
                Err(e) => {
                    problems.push(format!("partner {i}: {e}"));
                    continue;
                }
            };
            let log = &logs[i];
            seen.settings_writes += log.successes.len();
            seen.settings_conflicts += log.conflicts;
            seen.settings_uncertain += log.uncertain.len();
            let mut versions: Vec<u64> = log.successes.iter().map(|(v, _)| *v).collect();
            versions.sort_unstable();
            let n = versions.len() as u64;
            let expected: Vec<u64> = (log.start_version + 1..=log.start_version + n).collect();
            let Some(version) = version else {
                problems.push(format!("partner {i}: final GET without version"));
                continue;
            };
            let extra = version.saturating_sub(log.start_version + n);
            if version < log.start_version + n || extra > log.uncertain.len() as u64 {
                problems.push(format!(
                    "partner {i}: version {version} = start {} + {n} writes + {extra} (uncertain {})",
                    log.start_version,
                    log.uncertain.len()
                ));
            }
            if extra == 0 && versions != expected {
                problems.push(format!("partner {i}: the 200s' versions are not {expected:?}"));
            }
            if extra == 0
                && let Some((_, marker)) = log.successes.iter().max_by_key(|(v, _)| *v)
                && closed != serde_json::json!([marker_date(*marker)])
            {
                problems.push(format!("partner {i}: stored closed_dates {closed} are not the last winner's"));
            }
        }
    }
    checks.push(check(
        "settings: final version = start + successful writes; none lost or doubled",
        problems.is_empty(),
        format!(
            "{} partners, {} writes answered 200, {} answered 412 (read again, reapplied), {} without a trusted \
             answer{}",
            soak.partners.len(),
            seen.settings_writes,
            seen.settings_conflicts,
            seen.settings_uncertain,
            if problems.is_empty() { String::new() } else { format!("; {}", problems.join("; ")) }
        ),
    ));
    (checks, seen)
}

/// The first few items, for a measured text.
fn sample(items: &[String]) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!(
            " ({}{})",
            items.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
            if items.len() > 5 { ", …" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Api;
    use crate::load::{EventRec, Partner, UserRec};
    use serde_json::json;

    fn soak() -> Soak {
        let partner = Partner { id: "p0".into(), staff_room: 1, hipchat_url: "http://127.0.0.1:9".into() };
        Soak::new(Api::new("http://127.0.0.1:9".into(), "k".into()), vec![partner], vec![2], 10)
    }

    fn event(soak: &Soak, id: &str) {
        let rec = EventRec {
            partner: 0,
            body: String::new(),
            answers: vec!["sent".into()],
            completed: true,
            resends_duplicate: 1,
            resends_other: vec![],
        };
        lock(&soak.events).by_id.insert(id.into(), rec);
    }

    fn user(soak: &Soak, email: &str, room: u64) {
        lock(&soak.users).list.push(UserRec {
            partner: 0,
            email: email.into(),
            body: String::new(),
            busy: false,
            last_sent: None,
            rooms: [room].into(),
            answers_201: 1,
            answers_200: 0,
            notified: 1,
        });
    }

    fn staff(messages: &[&str]) -> Value {
        let notes: Vec<Value> = messages.iter().map(|m| json!({"message": m})).collect();
        json!({"id": 1, "topic": "", "notifications": notes})
    }

    fn finals(version: u64, marker: u64) -> Finals {
        vec![(0, Ok((Some(version), json!([marker_date(marker)]))))]
    }

    fn failed(checks: &[Check]) -> Vec<&str> {
        checks.iter().filter(|c| !c.ok).map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn a_clean_run_passes_every_check() {
        let s = soak();
        event(&s, "soak-1");
        user(&s, "u2.p0@soak.example", 7);
        lock(&s.settings)[0].successes = vec![(3, 10), (4, 11)];
        let rooms = [
            staff(&["created “Soak [soak:soak-1]”", "[dynaBOARD] Soak requests a chat"]),
            json!({"id": 7, "topic": "Soak & Co · u2.p0@soak.example", "notifications": []}),
        ];
        let (checks, seen) = verify(&s, &rooms, finals(4, 11));
        assert_eq!(failed(&checks), Vec::<&str>::new(), "{checks:?}");
        assert_eq!((seen.events_delivered, seen.user_rooms, seen.settings_writes), (1, 1, 2));
    }

    #[test]
    fn lost_and_doubled_events_fail() {
        let s = soak();
        event(&s, "soak-1");
        event(&s, "soak-2");
        let rooms = [staff(&["[soak:soak-2]", "[soak:soak-2]"])];
        let (checks, _) = verify(&s, &rooms, finals(2, 0));
        assert_eq!(failed(&checks), vec!["every event answered 202 is in its staff room exactly once"]);
        assert!(checks[0].measured.contains("lost 1 (soak-1)") && checks[0].measured.contains("doubled 1 (soak-2 ×2)"));
    }

    #[test]
    fn a_second_room_for_a_user_fails() {
        let s = soak();
        user(&s, "u2.p0@soak.example", 7);
        let rooms = [
            staff(&["requests a chat"]),
            json!({"id": 7, "topic": "Soak & Co · u2.p0@soak.example"}),
            json!({"id": 8, "topic": "Soak & Co · u2.p0@soak.example"}),
        ];
        let (checks, _) = verify(&s, &rooms, finals(2, 0));
        assert_eq!(failed(&checks), vec!["one room per user, the one every answer named"]);
    }

    #[test]
    fn settings_versions_must_add_up() {
        let s = soak();
        lock(&s.settings)[0].successes = vec![(3, 10), (4, 11)];
        let name = "settings: final version = start + successful writes; none lost or doubled";
        // A write lost (the stored version is behind), one more than answered, another document.
        for (version, marker) in [(3, 10), (5, 11), (4, 10)] {
            let (checks, _) = verify(&s, &[staff(&[])], finals(version, marker));
            assert_eq!(failed(&checks), vec![name], "{version} {marker}");
        }
        // One more than answered is fine when a write went unanswered (it may have happened).
        lock(&s.settings)[0].uncertain = vec![12];
        let (checks, _) = verify(&s, &[staff(&[])], finals(5, 12));
        assert_eq!(failed(&checks), Vec::<&str>::new());
    }

    #[test]
    fn event_ids_in_a_message() {
        let m = "[dynaBOARD] <b>Eve Soak</b> created <a>issue #ISS-1 “Soak [soak:soak-17]”</a>.";
        assert_eq!(event_ids(m), vec!["soak-17"]);
        assert!(event_ids("[dynaBOARD] requests a chat").is_empty());
        assert_eq!(event_ids("[soak:a] [soak:b]"), vec!["a", "b"]);
    }
}
