//! End to end through the local gateway and `cargo lambda watch`, against moto and the
//! stack's HipChat simulator (seeded through its `/_sim/` control API). Run by `make test`.

use reqwest::Method;
use serde_json::{Value, json};
use test_support::e2e::{Api, sim, stack_var, unique_partner};

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn events_end_to_end() {
    let api = Api::from_env();
    let id = unique_partner("e2e-events");
    let p = format!("/v1/partners/{id}");
    let token = format!("E2eEventTok{}", id.replace('-', ""));
    sim(Method::POST, "/_sim/tokens", json!({"token": token})).await;
    let staff = sim(Method::POST, "/_sim/rooms", json!({"name": format!("Staff {id}")})).await;
    let settings = json!({"active": true, "hipchat_url": stack_var("HIPCHAT_URL"), "notification_room_id": staff["id"],
        "notifications": {"login_logout": "customers", "comment_created": true, "issue_created": true,
        "issue_approval": true}});
    assert_eq!(api.call(Method::PUT, &format!("{p}/settings"), &settings.to_string()).await.status, 200);
    assert_eq!(api.call(Method::PUT, &format!("{p}/token"), &json!({"token": token}).to_string()).await.status, 200);

    let actor = |role: &str| {
        json!({"id": "u-1", "first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com",
               "company": "Eckert & Mauchly", "role": role})
    };
    let post = |body: Value| {
        let api = &api;
        let path = format!("{p}/events");
        async move { api.call(Method::POST, &path, &body.to_string()).await }
    };

    let approved = json!({"id": "e2e-1", "type": "issue.approved", "occurred_at": "2026-11-25T09:00:00Z",
        "actor": actor("customer"), "issue": {"id": "ISS-9", "title": "Invoice <draft>",
        "url": "https://portal.example.com/issues/ISS-9"}});
    let sent = post(approved.clone()).await;
    assert_eq!(sent.status, 202, "{}", sent.text);
    assert_eq!(sent.json()["status"], "sent");
    let again = post(approved).await;
    assert_eq!((again.status.as_u16(), again.json()["status"].clone()), (202, json!("duplicate")));
    let skipped = post(json!({"id": "e2e-2", "type": "user.login", "occurred_at": "2026-11-25T09:00:00Z",
        "actor": actor("partner")}))
    .await;
    assert_eq!(
        skipped.json(),
        json!({"status": "skipped", "reason": "actor_not_notified", "event_id": "e2e-2",
        "type": "user.login"})
    );
    let invalid = post(json!({"id": "e2e-3", "type": "issue.created", "occurred_at": "2026-11-25T09:00:00Z",
        "actor": actor("customer")}))
    .await;
    assert_eq!(invalid.status, 422, "{}", invalid.text);
    assert_eq!(invalid.json()["errors"][0]["field"], "issue");

    // The staff room has exactly one green message, escaped, linking to the issue.
    let rooms = sim(Method::GET, "/_sim/rooms", Value::Null).await;
    let room = rooms.as_array().unwrap().iter().find(|r| r["id"] == staff["id"]).unwrap();
    let notes = room["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{room}");
    assert_eq!((notes[0]["color"].as_str(), notes[0]["notify"].as_bool()), (Some("green"), Some(true)));
    let msg = notes[0]["message"].as_str().unwrap();
    assert!(msg.contains("Eckert &amp; Mauchly") && msg.contains("Invoice &lt;draft&gt;"), "{msg}");
    assert!(msg.contains("<a href=\"https://portal.example.com/issues/ISS-9\">"), "{msg}");

    if let Ok(log_path) = std::env::var("FUNCTIONS_LOG") {
        let log = std::fs::read_to_string(log_path).unwrap();
        assert!(!log.contains(&token), "the HipChat token leaked into the function log");
        assert!(log.contains("event answered"), "the function logs its answers");
    }
    assert_eq!(api.call(Method::DELETE, &format!("{p}/settings"), "").await.status, 204);
}
