//! End to end through the local gateway and `cargo lambda watch`, against moto and the
//! stack's HipChat simulator (seeded through its `/_sim/` control API). Run by `make test`.

use reqwest::Method;
use serde_json::{Value, json};
use test_support::e2e::{Api, sim, stack_var, unique_partner};

fn codes(report: &Value) -> Vec<&str> {
    report["problems"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap()).collect()
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn connection_check_and_room_picker_end_to_end() {
    let api = Api::from_env();
    let hipchat = stack_var("HIPCHAT_URL");
    let id = unique_partner("e2e-cc");
    let p = format!("/v1/partners/{id}");
    let token = format!("E2eConnTok{}", id.replace('-', ""));
    let scopes = ["view_room", "send_message", "manage_rooms", "send_notification", "view_group"];
    sim(Method::POST, "/_sim/tokens", json!({"token": token, "scopes": scopes})).await;
    let room_name = format!("Staff {id}");
    let room = sim(Method::POST, "/_sim/rooms", json!({"name": room_name})).await;

    let settings = json!({"active": true, "hipchat_url": hipchat, "notification_room_id": room["id"]});
    assert_eq!(api.call(Method::PUT, &format!("{p}/settings"), &settings.to_string()).await.status, 200);
    let put = api.call(Method::PUT, &format!("{p}/token"), &json!({"token": token}).to_string()).await;
    assert_eq!(put.status, 200, "{}", put.text);

    // The stored connection is good, and the token status says when it was checked.
    let check = api.call(Method::POST, &format!("{p}/connection-check"), "").await;
    assert_eq!(check.status, 200, "{}", check.text);
    let report = check.json();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["hipchat"]["api_url"], format!("{hipchat}/v2"));
    let got = api.call(Method::GET, &format!("{p}/settings"), "").await.json();
    assert_eq!(got["token"]["status"], "ok");
    assert_eq!(got["token"]["checked_at"], report["checked_at"]);
    assert_eq!(got["version"], 2, "a check does not change the settings version");

    // Checking other values before saving: every problem at once.
    let body = json!({"hipchat_url": format!("{hipchat}/v2/"), "token": " NotAKnownToken123 "});
    let report = api.call(Method::POST, &format!("{p}/connection-check"), &body.to_string()).await.json();
    assert_eq!(codes(&report), ["token_whitespace", "url_has_path", "token_rejected"], "{report}");

    // The room picker finds the room; a new room is created once.
    let list = api.call(Method::GET, &format!("{p}/rooms?q={}&limit=5", id.to_uppercase()), "").await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json()["items"], json!([{"id": room["id"], "name": room_name, "privacy": "public"}]));
    let new = json!({"name": format!("Picked {id}")}).to_string();
    let created = api.call(Method::POST, &format!("{p}/rooms"), &new).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let again = api.call(Method::POST, &format!("{p}/rooms"), &new).await;
    assert_eq!((again.status.as_u16(), again.json()["type"].clone()), (409, json!("/problems/room-name-taken")));

    // A revoked token: the check says so and the stored status follows.
    sim(Method::POST, &format!("/_sim/tokens/{token}/revoke"), Value::Null).await;
    let report = api.call(Method::POST, &format!("{p}/connection-check"), "").await.json();
    assert_eq!(codes(&report), ["token_rejected"], "{report}");
    let got = api.call(Method::GET, &format!("{p}/settings"), "").await.json();
    assert_eq!(got["token"]["status"], "rejected");

    if let Ok(log_path) = std::env::var("FUNCTIONS_LOG") {
        let log = std::fs::read_to_string(log_path).unwrap();
        assert!(!log.contains(&token), "the HipChat token leaked into the function log");
        assert!(log.contains("connection checked"), "the function logs its checks");
    }
    assert_eq!(api.call(Method::DELETE, &format!("{p}/settings"), "").await.status, 204);
}
