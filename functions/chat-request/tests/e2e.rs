//! End to end through the local gateway and `cargo lambda watch`, against moto and the
//! stack's HipChat simulator (seeded through its `/_sim/` control API). Run by `make test`.

use reqwest::Method;
use serde_json::{Value, json};
use test_support::e2e::{Api, days_open_around_the_clock, sim, stack_var, unique_partner};

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn the_chat_button_end_to_end() {
    let api = Api::from_env();
    let hipchat = stack_var("HIPCHAT_URL");
    let id = unique_partner("e2e-chat");
    let p = format!("/v1/partners/{id}");
    let token = format!("E2eChatTok{}", id.replace('-', ""));
    sim(Method::POST, "/_sim/tokens", json!({"token": token})).await;
    let staff = sim(Method::POST, "/_sim/rooms", json!({"name": format!("Staff {id}")})).await;
    let days = days_open_around_the_clock();
    let settings = json!({"active": true, "hipchat_url": hipchat, "notification_room_id": staff["id"],
        "language": "de", "chat": {"show_button": true, "button_position": "bottom",
        "service_hours": {"timezone": "America/New_York", "days": days, "closed_dates": ["2026-07-04"]}}});

    // Before the token is stored the button is hidden, and says why.
    assert_eq!(api.call(Method::PUT, &format!("{p}/settings"), &settings.to_string()).await.status, 200);
    let a = api.call(Method::GET, &format!("{p}/chat/availability"), "").await.json();
    assert_eq!((a["show_button"].as_bool(), a["reason"].as_str()), (Some(false), Some("token_missing")), "{a}");
    let put = api.call(Method::PUT, &format!("{p}/token"), &json!({"token": token}).to_string()).await;
    assert_eq!(put.status, 200, "{}", put.text);

    // Now shown and open; on a closed date (local time) it is not, and says when it opens.
    let a = api.call(Method::GET, &format!("{p}/chat/availability"), "").await;
    assert_eq!(a.status, 200, "{}", a.text);
    let a = a.json();
    assert_eq!(
        (a["show_button"].as_bool(), a["available"].as_bool(), a["button_position"].as_str()),
        (Some(true), Some(true), Some("bottom"))
    );
    let at = api.call(Method::GET, &format!("{p}/chat/availability?at=2026-07-04T12:00:00Z"), "").await.json();
    assert_eq!(
        (at["available"].as_bool(), at["next_change_at"].as_str()),
        (Some(false), Some("2026-07-05T04:00:00Z")),
        "{at}"
    );
    let bad = api.call(Method::GET, &format!("{p}/chat/availability?at=tomorrow"), "").await;
    assert_eq!(bad.status, 422);

    // A new user: 201, a room with guest access; the guest page opens.
    let user = json!({"user": {"id": 4711, "first_name": "Grace", "last_name": "Hopper <Navy>",
        "email": "grace@example.com", "company": "Eckert & Mauchly", "role": "customer"}})
    .to_string();
    let first = api.call(Method::POST, &format!("{p}/chat/requests"), &user).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let first = first.json();
    assert_eq!(first["room"]["name"], "dynaBOARD - Grace Hopper <Navy>");
    assert_eq!(first["notification_sent"], true, "{first}");
    let guest_url = first["guest_url"].as_str().unwrap();
    let page = reqwest::get(guest_url).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Join room"));

    // Again: the same room, 200.
    let again = api.call(Method::POST, &format!("{p}/chat/requests"), &user).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json()["room"]["id"], first["room"]["id"]);

    // The staff room shows two escaped German notifications with the "go to room" link.
    let rooms = sim(Method::GET, "/_sim/rooms", Value::Null).await;
    let staff_room = rooms.as_array().unwrap().iter().find(|r| r["id"] == staff["id"]).unwrap();
    let notes = staff_room["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 2);
    let msg = notes[0]["message"].as_str().unwrap();
    assert!(msg.contains(&format!("{hipchat}/chat/room/{}", first["room"]["id"])), "{msg}");
    assert!(msg.contains("Hopper &lt;Navy&gt;") && msg.contains("Eckert &amp; Mauchly"), "{msg}");
    assert!(msg.contains("Raum"), "German text: {msg}");

    // Unsigned: 401.
    let unsigned = api.send(Method::POST, &format!("{p}/chat/requests"), &user, false, &[]).await;
    assert_eq!(unsigned.status, 401);

    if let Ok(log_path) = std::env::var("FUNCTIONS_LOG") {
        let log = std::fs::read_to_string(log_path).unwrap();
        assert!(!log.contains(&token), "the HipChat token leaked into the function log");
        assert!(log.contains("chat request answered"), "the function logs its answers");
    }
    assert_eq!(api.call(Method::DELETE, &format!("{p}/settings"), "").await.status, 204);
}
