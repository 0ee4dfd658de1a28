//! Notifications, messages and flood control.

mod common;

use common::{ctx, error, header, header_i64, invalid, json, now};
use hipchat_sim::{Message, Notification};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn notification_defaults_are_stored() {
    let c = ctx().await;
    let id = c.room("Ops");
    let response = c.post(&format!("/v2/room/{id}/notification"), &json!({"message": "Build <b>passed</b>"})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(header_i64(&response, "x-floodcontrol-limit"), 30);
    assert_eq!(header_i64(&response, "x-floodcontrol-remaining"), 29);
    assert_eq!(header_i64(&response, "x-ratelimit-limit"), 100);
    let rooms = c.running.sim().rooms();
    let notes: &[Notification] = &rooms[0].notifications;
    assert_eq!(notes.len(), 1);
    let n = &notes[0];
    assert_eq!(
        (n.message.as_str(), n.message_format.as_str(), n.color.as_str(), n.notify, n.from.as_deref()),
        ("Build <b>passed</b>", "html", "yellow", false, None)
    );
    assert!((n.at.as_second() - now()).abs() <= 2);
}

#[tokio::test]
async fn notification_with_every_field() {
    let c = ctx().await;
    let id = c.room("Ops");
    for color in ["yellow", "green", "red", "purple", "gray", "random"] {
        let body =
            json!({"message": color, "message_format": "text", "color": color, "notify": true, "from": "f".repeat(64)});
        assert_eq!(c.post(&format!("/v2/room/{id}/notification"), &body).await.status(), StatusCode::NO_CONTENT);
    }
    let rooms = c.running.sim().rooms();
    let colors: Vec<&str> = rooms[0].notifications.iter().map(|n| n.color.as_str()).collect();
    assert_eq!(colors, ["yellow", "green", "red", "purple", "gray", "random"]);
    assert!(
        rooms[0]
            .notifications
            .iter()
            .all(|n| n.notify && n.message_format == "text" && n.from.as_deref().map(str::len) == Some(64))
    );
    // By name too.
    assert_eq!(c.post("/v2/room/Ops/notification", &json!({"message": "x"})).await.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn notification_validation() {
    let c = ctx().await;
    let id = c.room("Ops");
    let path = format!("/v2/room/{id}/notification");
    invalid(c.post(&path, &json!({})).await, "message", "required").await;
    invalid(c.post(&path, &json!({"message": ""})).await, "message", "length").await;
    assert_eq!(c.post(&path, &json!({"message": "m".repeat(10_000)})).await.status(), StatusCode::NO_CONTENT);
    invalid(c.post(&path, &json!({"message": "m".repeat(10_001)})).await, "message", "length").await;
    let err = invalid(c.post(&path, &json!({"message": "m", "color": "blue"})).await, "color", "choice").await;
    assert_eq!(err["value"], "blue");
    invalid(c.post(&path, &json!({"message": "m", "message_format": "markdown"})).await, "message_format", "choice")
        .await;
    invalid(c.post(&path, &json!({"message": "m", "from": "f".repeat(65)})).await, "from", "length").await;
    let notify_error = invalid(c.post(&path, &json!({"message": "m", "notify": "true"})).await, "notify", "type").await;
    assert_eq!(
        notify_error,
        json!({"code": 400, "type": "Bad Request", "field": "notify", "validation": "type", "value": "true",
            "expected_type": "boolean", "message": "Value u'true' for field 'notify' is not of type 'boolean'"})
    );
    // Only the one valid notification was stored.
    assert_eq!(c.running.sim().rooms()[0].notifications.len(), 1);
    // Form-encoded bodies are refused.
    let form = c
        .req(Method::POST, &path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("message=hi")
        .send()
        .await
        .expect("POST");
    let err = error(form, StatusCode::BAD_REQUEST).await;
    assert!(err["message"].as_str().is_some_and(|m| m.contains("JSON")));
    assert_eq!(
        error(c.post("/v2/room/nope/notification", &json!({"message": "m"})).await, StatusCode::NOT_FOUND).await["message"],
        "Room 'nope' not found"
    );
}

#[tokio::test]
async fn message_returns_201_with_id_timestamp_and_location() {
    let c = ctx().await;
    let id = c.room("Ops");
    let response = c.post(&format!("/v2/room/{id}/message"), &json!({"message": "hello"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(header(&response, "x-floodcontrol-remaining").is_some());
    let location = header(&response, "location").unwrap_or_default();
    let body = json(response).await;
    let msg_id = body["id"].as_str().unwrap_or_default().to_owned();
    let parts: Vec<usize> = msg_id.split('-').map(str::len).collect();
    assert_eq!(parts, [8, 4, 4, 4, 12], "{msg_id}");
    assert!(msg_id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
    assert_eq!(location, format!("/v2/room/{id}/history/{msg_id}"));
    // "2016-04-18T21:31:18Z 717567"
    let ts = body["timestamp"].as_str().unwrap_or_default();
    let (time, micros) = ts.split_once(' ').unwrap_or_default();
    assert!(time.len() == 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T', "{ts}");
    assert!(micros.len() == 6 && micros.bytes().all(|b| b.is_ascii_digit()), "{ts}");
    assert!(jiff::Timestamp::strptime("%Y-%m-%dT%H:%M:%SZ", time).is_ok() || time.parse::<jiff::Timestamp>().is_ok());

    let rooms = c.running.sim().rooms();
    let messages: &[Message] = &rooms[0].messages;
    assert_eq!(messages.len(), 1);
    assert_eq!((messages[0].id.as_str(), messages[0].message.as_str()), (msg_id.as_str(), "hello"));
}

#[tokio::test]
async fn message_validation() {
    let c = ctx().await;
    let id = c.room("Ops");
    let path = format!("/v2/room/{id}/message");
    invalid(c.post(&path, &json!({})).await, "message", "required").await;
    invalid(c.post(&path, &json!({"message": ""})).await, "message", "length").await;
    invalid(c.post(&path, &json!({"message": "m".repeat(10_001)})).await, "message", "length").await;
    assert_eq!(c.post(&path, &json!({"message": "m".repeat(10_000)})).await.status(), StatusCode::CREATED);
    invalid(c.post(&path, &json!({"message": false})).await, "message", "type").await;
}

#[tokio::test]
async fn the_31st_send_to_a_room_is_flood_limited() {
    let c = ctx().await;
    let busy = c.room("Busy");
    let quiet = c.room("Quiet");
    for i in 1..=30_i64 {
        let response = if i % 2 == 0 {
            c.post(&format!("/v2/room/{busy}/notification"), &json!({"message": "n"})).await
        } else {
            c.post(&format!("/v2/room/{busy}/message"), &json!({"message": "m"})).await
        };
        assert!(response.status().is_success(), "send {i}: {}", response.status());
        assert_eq!(header_i64(&response, "x-floodcontrol-limit"), 30);
        assert_eq!(header_i64(&response, "x-floodcontrol-remaining"), 30 - i);
    }
    let response = c.post(&format!("/v2/room/{busy}/notification"), &json!({"message": "n"})).await;
    assert_eq!(header_i64(&response, "x-floodcontrol-limit"), 30);
    assert_eq!(header_i64(&response, "x-floodcontrol-remaining"), 0);
    let reset = header_i64(&response, "x-floodcontrol-reset");
    assert!(reset >= now() && reset <= now() + 61, "{reset}");
    assert_eq!(header_i64(&response, "x-ratelimit-remaining"), 100 - 31);
    let err = error(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(err["message"], "Flood control limit exceeded");
    let message = c.post(&format!("/v2/room/{busy}/message"), &json!({"message": "m"})).await;
    assert_eq!(message.status(), StatusCode::TOO_MANY_REQUESTS);

    let other = c.post(&format!("/v2/room/{quiet}/notification"), &json!({"message": "n"})).await;
    assert_eq!(other.status(), StatusCode::NO_CONTENT);
    assert_eq!(header_i64(&other, "x-floodcontrol-remaining"), 29);
    // Only send calls carry flood headers.
    assert!(header(&c.get(&format!("/v2/room/{busy}")).await, "x-floodcontrol-limit").is_none());
    let rooms = c.running.sim().rooms();
    assert_eq!(rooms[0].notifications.len() + rooms[0].messages.len(), 30);
}
