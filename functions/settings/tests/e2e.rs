//! End to end through the local gateway and `cargo lambda watch` (the real Lambda runtime
//! API emulator), with signed requests, against moto. Run by `make test`.

use reqwest::Method;
use serde_json::json;
use test_support::e2e::{Api, unique_partner};

fn partner() -> String {
    unique_partner("e2e")
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn settings_and_token_end_to_end() {
    let api = Api::from_env();
    let p = format!("/v1/partners/{}", partner());
    const TOKEN: &str = "E2eDistinctiveTokenValue4242";
    let mut responses = Vec::new();

    let none = api.call(Method::GET, &format!("{p}/settings"), "").await;
    assert_eq!(none.status, 404, "{}", none.text);
    assert_eq!(none.headers["content-type"], "application/problem+json");

    let doc = json!({
        "active": true,
        "hipchat_url": "https://hipchat.example.com/v2/",
        "notification_room_id": 4711,
        "language": "de",
        "chat": {"show_button": true, "button_position": "bottom",
                 "service_hours": {"timezone": "Europe/Vienna",
                                   "days": {"monday": [{"from": "08:00", "to": "12:00"}, {"from": "13:00", "to": "17:00"}],
                                            "friday": [{"from": "22:00", "to": "02:00"}]},
                                   "closed_dates": ["2026-12-24"]}},
        "notifications": {"login_logout": "customers", "comment_created": true, "issue_created": true, "issue_approval": false}
    });
    let put = api.call(Method::PUT, &format!("{p}/settings"), &doc.to_string()).await;
    assert_eq!(put.status, 200, "{}", put.text);
    let body = put.json();
    assert_eq!(body["version"], 1);
    assert_eq!(body["hipchat_url"], "https://hipchat.example.com");
    assert_eq!(body["warnings"][0]["field"], "hipchat_url");
    assert_eq!(put.headers["etag"], "\"1\"");
    responses.push(put.text);

    let got = api.call(Method::GET, &format!("{p}/settings"), "").await;
    assert_eq!(got.status, 200);
    let body = got.json();
    assert_eq!(body["version"], 1);
    assert_eq!(body["language"], "de");
    assert_eq!(body["chat"]["service_hours"]["days"]["friday"][0], json!({"from": "22:00", "to": "02:00"}));
    assert_eq!(body["token"], json!({"configured": false}));
    responses.push(got.text.clone());

    // A stale If-Match loses; the current one wins.
    let stale = api.send(Method::PUT, &format!("{p}/settings"), &got.text, true, &[("if-match", "\"0\"")]).await;
    assert_eq!(stale.status, 412, "{}", stale.text);
    let fresh = api.send(Method::PUT, &format!("{p}/settings"), &got.text, true, &[("if-match", "\"1\"")]).await;
    assert_eq!(fresh.status, 200, "{}", fresh.text);
    assert_eq!(fresh.json()["version"], 2);

    let tok = api.call(Method::PUT, &format!("{p}/token"), &json!({"token": format!(" {TOKEN} ")}).to_string()).await;
    assert_eq!(tok.status, 200, "{}", tok.text);
    assert_eq!(tok.json()["last4"], "4242");
    assert_eq!(tok.json()["warnings"][0]["field"], "token");
    responses.push(tok.text);

    let got = api.call(Method::GET, &format!("{p}/settings"), "").await;
    let body = got.json();
    assert_eq!(body["token"]["configured"], true);
    assert_eq!(body["token"]["last4"], "4242");
    let today = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    assert_eq!(body["token"]["issued_on"], today.to_string());
    assert_eq!(body["token"]["expires_on"], shared::domain::token::expires_on(today).to_string());
    assert_eq!(body["token"]["status"], "ok");
    assert_eq!(body["version"], 3, "a token change bumps the version: the representation changed");
    assert_eq!(got.headers["etag"], "\"3\"");
    responses.push(got.text);

    let invalid = api
        .call(Method::PUT, &format!("{p}/settings"), r#"{"active": true, "hipchat_url": "ftp://x", "colour": 1}"#)
        .await;
    assert_eq!(invalid.status, 422);
    let fields: Vec<String> =
        invalid.json()["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect();
    assert_eq!(fields, ["hipchat_url", "colour"]);

    let big = format!("{{\"active\": false, \"x\": \"{}\"}}", "y".repeat(70 * 1024));
    assert_eq!(api.call(Method::PUT, &format!("{p}/settings"), &big).await.status, 413);

    let unsigned = api.send(Method::GET, &format!("{p}/settings"), "", false, &[]).await;
    assert_eq!(unsigned.status, 401);
    assert_eq!(unsigned.json()["type"], "/problems/unauthorized");

    assert_eq!(api.call(Method::DELETE, &format!("{p}/token"), "").await.status, 204);
    assert_eq!(api.call(Method::GET, &format!("{p}/settings"), "").await.json()["token"], json!({"configured": false}));
    assert_eq!(api.call(Method::DELETE, &format!("{p}/settings"), "").await.status, 204);
    assert_eq!(api.call(Method::GET, &format!("{p}/settings"), "").await.status, 404);

    for r in &responses {
        assert!(!r.contains(TOKEN), "the token leaked into a response: {r}");
    }

    // The functions log JSON lines (AWS_LAMBDA_LOG_FORMAT=JSON, as in the cloud), one per
    // request with method, path and status, and never the token or the signing key.
    if let Ok(log_path) = std::env::var("FUNCTIONS_LOG") {
        let log = std::fs::read_to_string(&log_path).unwrap();
        assert!(!log.contains(TOKEN), "the token leaked into the function log");
        assert!(!log.contains(&api.key), "the signing key leaked into the function log");
        let request_lines: Vec<serde_json::Value> = log
            .lines()
            .filter(|l| l.starts_with('{'))
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|v: &serde_json::Value| v["fields"]["message"] == "request")
            .collect();
        assert!(
            request_lines.iter().any(|v| v["fields"]["status"] == 412 && v["fields"]["method"] == "PUT"),
            "no JSON request line for the 412 in {log_path}"
        );
    }
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn unknown_routes_get_the_gateways_404() {
    let api = Api::from_env();
    let r = api.call(Method::GET, "/v1/partners/p1/nothing", "").await;
    assert_eq!(r.status, 404);
}

/// The local stack allows loopback only (ALLOW_PRIVATE_CHAT_HOSTS=loopback, as stack.py sets
/// it): the simulator's loopback URL is accepted, a private or metadata address is not.
#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn the_local_stack_allows_loopback_and_nothing_else_private() {
    let api = Api::from_env();
    let p = format!("/v1/partners/{}/settings", partner());
    for (url, status) in [
        ("http://10.1.2.3:8080", 422),
        ("http://169.254.169.254", 422),
        ("http://[::ffff:192.168.0.1]", 422),
        ("http://127.0.0.1:9", 200),
    ] {
        let a = api.call(Method::PUT, &p, &json!({"active": true, "hipchat_url": url}).to_string()).await;
        assert_eq!(a.status, status, "{url}: {}", a.text);
        if status == 422 {
            assert_eq!(a.json()["errors"][0]["code"], "url_not_allowed", "{url}");
        }
    }
}
