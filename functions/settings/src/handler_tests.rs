//! Handler tests: real `lambda_http` requests, the in-memory store and secrets (which count
//! their calls).

use std::sync::atomic::Ordering;

use lambda_http::Request;
use serde_json::{Value, json};
use shared::domain::signature::SIGNATURE_HEADER;
use test_support::{
    KEY, MemorySecrets, MemoryStore, NOW, TOKEN, Test, now_secs, replay_of, sign_request, signed_request,
};

use super::*;

type TestDeps = Deps<Test>;

fn deps() -> TestDeps {
    let d = test_support::deps(MemoryStore::default(), MemorySecrets::default());
    d.auth.source().set_keys(&["old-key", KEY]);
    d
}

fn request(method: &str, path: &str, body: &str) -> Request {
    signed_request(method, path, body, KEY, now_secs())
}

async fn send(d: &TestDeps, req: Request) -> (u16, Value, lambda_http::http::HeaderMap) {
    let resp = handle(d, req).await.unwrap();
    let headers = resp.headers().clone();
    let (status, body) = test_support::status_and_json(&resp);
    (status, body, headers)
}

fn settings_doc() -> Value {
    json!({
        "active": true,
        "hipchat_url": "https://hipchat.example.com/v2/",
        "notification_room_id": 4711,
        "chat": {"show_button": true, "button_position": "top",
                 "service_hours": {"timezone": "Europe/Vienna", "days": {"monday": [{"from": "08:00", "to": "17:00"}]}}},
        "notifications": {"login_logout": "customers", "comment_created": true, "issue_created": false, "issue_approval": true}
    })
}

#[tokio::test]
async fn put_then_get_settings_with_version_and_etag() {
    let d = deps();
    let (status, body, headers) =
        send(&d, request("PUT", "/v1/partners/p1/settings", &settings_doc().to_string())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 1);
    assert_eq!(headers["etag"], "\"1\"");
    assert_eq!(body["hipchat_url"], "https://hipchat.example.com");
    assert!(body["warnings"].as_array().unwrap().iter().any(|w| w["field"] == "hipchat_url"));
    assert_eq!(body["token"], json!({"configured": false}));

    let (status, body, headers) = send(&d, request("GET", "/v1/partners/p1/settings", "")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["etag"], "\"1\"");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body["chat"]["button_position"], "top");
    assert_eq!(body["updated_at"], NOW);
    // What a GET returns can be sent back as is.
    let (status, body, _) = send(&d, request("PUT", "/v1/partners/p1/settings", &body.to_string())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 2);
}

#[tokio::test]
async fn get_unknown_partner_is_404() {
    let (status, body, headers) = send(&deps(), request("GET", "/v1/partners/nobody/settings", "")).await;
    assert_eq!(status, 404);
    assert_eq!(body["type"], "/problems/not-found");
    assert_eq!(headers["content-type"], "application/problem+json");
}

#[tokio::test]
async fn if_match_guards_the_version() {
    let d = deps();
    let doc = settings_doc().to_string();
    assert_eq!(send(&d, request("PUT", "/v1/partners/p1/settings", &doc)).await.0, 200);
    let with_if_match = |tag: &str| {
        let mut r = request("PUT", "/v1/partners/p1/settings", &doc);
        r.headers_mut().insert("if-match", tag.parse().unwrap());
        r
    };
    let (status, body, _) = send(&d, with_if_match("\"7\"")).await;
    assert_eq!(status, 412);
    assert_eq!(body["type"], "/problems/precondition-failed");
    let (status, body, headers) = send(&d, with_if_match("\"1\"")).await;
    assert_eq!(status, 200);
    assert_eq!(body["version"], 2);
    assert_eq!(headers["etag"], "\"2\"");
    // The old version does not match any more.
    assert_eq!(send(&d, with_if_match("\"1\"")).await.0, 412);
    // If-Match on settings that do not exist.
    let mut r = request("PUT", "/v1/partners/p2/settings", &doc);
    r.headers_mut().insert("if-match", "*".parse().unwrap());
    assert_eq!(send(&d, r).await.0, 412);
}

#[tokio::test]
async fn invalid_documents_are_422_naming_the_field() {
    let d = deps();
    let mut doc = settings_doc();
    doc["chat"]["service_hours"]["timezone"] = json!("Mars/Olympus");
    doc["language"] = json!("fr");
    let (status, body, _) = send(&d, request("PUT", "/v1/partners/p1/settings", &doc.to_string())).await;
    assert_eq!(status, 422);
    assert_eq!(body["type"], "/problems/validation");
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["language", "chat.service_hours.timezone"]);
    assert_eq!(
        (d.store.calls.load(Ordering::SeqCst), d.store.items.lock().unwrap().len()),
        (1, 0),
        "the signature's one-use record, and nothing stored"
    );

    let (status, body, _) = send(&d, request("PUT", "/v1/partners/p1/settings", "{\"active\": tru")).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "(body)");
    let (status, _, _) = send(&d, request("PUT", "/v1/partners/p1/settings", "")).await;
    assert_eq!(status, 422);
}

/// A chat-server URL at an address our functions may not call is refused when it is entered,
/// in any spelling (docs/design.md "Outbound calls only where they belong"). Handler tests
/// allow loopback, as the local stack does.
#[tokio::test]
async fn a_hipchat_url_at_a_refused_address_is_422_url_not_allowed() {
    let d = deps();
    for url in [
        "http://169.254.169.254",
        "http://2852039166/",
        "http://0251.0376.0251.0376/",
        "http://[::ffff:169.254.169.254]",
        "https://[fd00:ec2::254]/v2",
        "http://0.0.0.0:8080",
        "http://10.0.0.1",
        "https://192.168.1.20",
        "http://[fc00::1]",
    ] {
        let mut doc = settings_doc();
        doc["hipchat_url"] = json!(url);
        let (status, body, _) = send(&d, request("PUT", "/v1/partners/p1/settings", &doc.to_string())).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["errors"][0]["field"], "hipchat_url", "{url}");
        assert_eq!(body["errors"][0]["code"], "url_not_allowed", "{url}");
    }
    assert!(d.store.items.lock().unwrap().is_empty(), "nothing stored");
    let mut doc = settings_doc();
    doc["hipchat_url"] = json!("http://127.0.0.1:8080");
    assert_eq!(send(&d, request("PUT", "/v1/partners/p1/settings", &doc.to_string())).await.0, 200);
}

#[tokio::test]
async fn bodies_over_64_kib_are_413() {
    let big = format!("{{\"active\": false, \"pad\": \"{}\"}}", "x".repeat(64 * 1024));
    let (status, body, _) = send(&deps(), request("PUT", "/v1/partners/p1/settings", &big)).await;
    assert_eq!(status, 413);
    assert_eq!(body["type"], "/problems/payload-too-large");
}

#[tokio::test]
async fn bad_signatures_are_401_without_a_hint() {
    let d = deps();
    let ts = now_secs();
    let cases = vec![
        signed_request("GET", "/v1/partners/p1/settings", "", "wrong-key", ts),
        signed_request("GET", "/v1/partners/p1/settings", "", KEY, ts - 301),
        signed_request("GET", "/v1/partners/p1/settings", "", KEY, ts + 301),
        lambda_http::http::Request::builder().uri("/v1/partners/p1/settings").body(Body::Empty).unwrap(),
        {
            let mut r = request("GET", "/v1/partners/p1/settings", "");
            r.headers_mut().insert(SIGNATURE_HEADER, "v1=zz".parse().unwrap());
            r
        },
        {
            // signed for another partner
            let mut r = request("GET", "/v1/partners/p2/settings", "");
            *r.uri_mut() = "/v1/partners/p1/settings".parse().unwrap();
            r
        },
    ];
    let mut details = Vec::new();
    for r in cases {
        let (status, body, headers) = send(&d, r).await;
        assert_eq!(status, 401);
        assert_eq!(body["type"], "/problems/unauthorized");
        assert!(headers.contains_key("www-authenticate"));
        details.push(body["detail"].clone());
    }
    details.dedup();
    assert_eq!(details.len(), 1, "every refusal reads the same");
    // A body signed for one value and sent with another.
    let mut r = request("PUT", "/v1/partners/p1/settings", "{\"active\":false}");
    *r.body_mut() = Body::Text("{\"active\":true }".into());
    assert_eq!(send(&d, r).await.0, 401);
    assert_eq!(d.store.calls.load(Ordering::SeqCst), 0, "nothing reached the store");
}

/// A captured write played again within the window gets the 401 of a bad signature (the same
/// body) and changes nothing: what the partner admin saved since stays (docs/api.md
/// "Replayed requests"). A GET stays replayable.
#[tokio::test]
async fn a_replayed_write_is_the_bad_signature_401_and_changes_nothing() {
    let d = deps();
    let settings = "/v1/partners/p1/settings";
    let (_, bad_signature, _) = send(&d, signed_request("PUT", settings, "{}", "wrong-key", now_secs())).await;

    // PUT /settings: the old settings do not come back.
    let captured = request("PUT", settings, &settings_doc().to_string());
    let replay = replay_of(&captured);
    // The same MAC in upper-case hex is the same signature.
    let mut shouting = replay_of(&captured);
    let upper = captured.headers()[SIGNATURE_HEADER].to_str().unwrap().replacen("v1=", "", 1).to_uppercase();
    shouting.headers_mut().insert(SIGNATURE_HEADER, format!("v1={upper}").parse().unwrap());
    assert_eq!(send(&d, captured).await.0, 200);
    let mut changed = settings_doc();
    changed["notification_room_id"] = json!(99);
    assert_eq!(send(&d, request("PUT", settings, &changed.to_string())).await.0, 200);
    for again in [replay, shouting] {
        let (status, body, headers) = send(&d, again).await;
        assert_eq!((status, &body), (401, &bad_signature), "identical to any bad signature");
        assert!(headers.contains_key("www-authenticate"));
    }
    let (_, now_stored, _) = send(&d, request("GET", settings, "")).await;
    assert_eq!((now_stored["notification_room_id"].as_u64(), now_stored["version"].as_u64()), (Some(99), Some(2)));

    // PUT /token: a revoked token is not put back.
    let old_token = request("PUT", "/v1/partners/p1/token", &json!({"token": TOKEN}).to_string());
    let replay = replay_of(&old_token);
    assert_eq!(send(&d, old_token).await.0, 200);
    assert_eq!(send(&d, request("PUT", "/v1/partners/p1/token", r#"{"token": "NewToken4567890abcdef"}"#)).await.0, 200);
    assert_eq!(send(&d, replay).await.0, 401);
    assert_eq!(send(&d, request("GET", settings, "")).await.1["token"]["last4"], "cdef");

    // DELETE /token, then a new token: the replayed DELETE does not remove it.
    let delete_token = request("DELETE", "/v1/partners/p1/token", "");
    let replay = replay_of(&delete_token);
    assert_eq!(send(&d, delete_token).await.0, 204);
    assert_eq!(send(&d, request("PUT", "/v1/partners/p1/token", &json!({"token": TOKEN}).to_string())).await.0, 200);
    assert_eq!(send(&d, replay).await.0, 401);
    assert_eq!(send(&d, request("GET", settings, "")).await.1["token"]["configured"], true);

    // DELETE /settings, then set up again: the replayed DELETE does not wipe the partner.
    let delete = request("DELETE", settings, "");
    let replay = replay_of(&delete);
    assert_eq!(send(&d, delete).await.0, 204);
    assert_eq!(send(&d, request("PUT", settings, &changed.to_string())).await.0, 200);
    assert_eq!(send(&d, replay).await.0, 401);
    assert_eq!(send(&d, request("GET", settings, "")).await.0, 200);

    // A GET changes nothing and stays replayable.
    let get = request("GET", settings, "");
    let replay = replay_of(&get);
    assert_eq!((send(&d, get).await.0, send(&d, replay).await.0), (200, 200));
}

#[tokio::test]
async fn keys_are_loaded_once_and_cached() {
    let d = deps();
    for _ in 0..3 {
        send(&d, request("GET", "/v1/partners/p1/settings", "")).await;
    }
    assert_eq!(d.auth.source().loads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn token_is_stored_as_a_secret_and_never_returned() {
    let d = deps();
    let body = json!({"token": format!("  {TOKEN}\n")}).to_string();
    let (status, resp, _) = send(&d, request("PUT", "/v1/partners/p1/token", &body)).await;
    assert_eq!(status, 200, "{resp}");
    assert!(!resp.to_string().contains(TOKEN));
    assert_eq!(resp["last4"], "xy42");
    assert_eq!(resp["issued_on"], "2026-11-25");
    assert_eq!(resp["expires_on"], "2027-11-25");
    assert_eq!(resp["status"], "ok");
    assert_eq!(resp["warnings"][0]["field"], "token");
    use secrecy::ExposeSecret;
    let p = shared::domain::partner::PartnerId::parse("p1").unwrap();
    assert_eq!(d.tokens.inner().secrets.lock().unwrap()[&p].expose_secret(), TOKEN);

    // PUT /token before settings: a minimal inactive record exists now.
    let (status, got, _) = send(&d, request("GET", "/v1/partners/p1/settings", "")).await;
    assert_eq!(status, 200);
    assert_eq!(got["active"], false);
    assert_eq!(got["token"]["last4"], "xy42");
    assert_eq!(got["token"]["days_left"], 365);
    assert_eq!(got["version"], 1);
    assert!(!got.to_string().contains(TOKEN));

    let (status, resp, _) =
        send(&d, request("PUT", "/v1/partners/p1/token", "{\"token\": \"has blank inside\"}")).await;
    assert_eq!(status, 422);
    assert_eq!(resp["errors"][0]["field"], "token");

    let (status, _, _) = send(&d, request("DELETE", "/v1/partners/p1/token", "")).await;
    assert_eq!(status, 204);
    assert!(d.tokens.inner().secrets.lock().unwrap().is_empty());
    let (_, got, headers) = send(&d, request("GET", "/v1/partners/p1/settings", "")).await;
    assert_eq!(got["token"], json!({"configured": false}));
    assert_eq!(headers["etag"], "\"2\"", "deleting the token changed the representation");
}

#[tokio::test]
async fn delete_settings_removes_everything_and_is_204() {
    let d = deps();
    send(&d, request("PUT", "/v1/partners/p1/settings", &settings_doc().to_string())).await;
    send(&d, request("PUT", "/v1/partners/p1/token", &json!({"token": TOKEN}).to_string())).await;
    let p = shared::domain::partner::PartnerId::parse("p1").unwrap();
    d.store.other_items.lock().unwrap().insert(p.clone(), 3);
    let (status, body, _) = send(&d, request("DELETE", "/v1/partners/p1/settings", "")).await;
    assert_eq!(status, 204);
    assert_eq!(body, Value::Null);
    assert!(d.tokens.inner().secrets.lock().unwrap().is_empty());
    assert!(d.store.other_items.lock().unwrap().is_empty());
    assert_eq!(send(&d, request("GET", "/v1/partners/p1/settings", "")).await.0, 404);
    // Deleting again is fine.
    assert_eq!(send(&d, request("DELETE", "/v1/partners/p1/settings", "")).await.0, 204);
}

#[tokio::test]
async fn routing_errors() {
    let d = deps();
    let (status, _, headers) = send(&d, request("POST", "/v1/partners/p1/settings", "{}")).await;
    assert_eq!(status, 405);
    assert_eq!(headers["allow"], "GET, PUT, DELETE");
    assert_eq!(send(&d, request("GET", "/v1/partners/p1/token", "")).await.0, 405);
    assert_eq!(send(&d, request("GET", "/v1/partners/p1/nothing", "")).await.0, 404);
    assert_eq!(send(&d, request("GET", "/v2/anything", "")).await.0, 404);
    let (status, body, _) = send(&d, request("GET", "/v1/partners/bad.id/settings", "")).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "partner_id");
}

/// The sample events in events/ run through the handler as `cargo lambda invoke` would
/// deliver them (re-signed, except the bad-signature one).
#[tokio::test]
async fn sample_events_give_the_documented_statuses() {
    let d = deps();
    let cases = [
        ("settings.get.json", 404),
        ("settings.put.json", 200),
        ("settings.get.json", 200),
        ("settings.put-token.json", 200),
        ("settings.delete-token.json", 204),
        ("settings.invalid.json", 422),
        ("settings.bad-signature.json", 401),
        ("settings.delete.json", 204),
    ];
    for (file, expected) in cases {
        let path = format!("{}/../../events/{file}", env!("CARGO_MANIFEST_DIR"));
        let mut req = lambda_http::request::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if !file.contains("bad-signature") {
            sign_request(&mut req, KEY, now_secs());
        }
        let (status, body, _) = send(&d, req).await;
        assert_eq!(status, expected, "{file}: {body}");
        if file == "settings.invalid.json" {
            let fields: Vec<&str> =
                body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
            assert_eq!(
                fields,
                ["hipchat_url", "language", "chat.service_hours.timezone", "chat.service_hours.days.monday[0]"]
            );
        }
    }
}

#[tokio::test]
async fn store_outage_is_503_without_internals() {
    let d = deps();
    d.store.unavailable.store(true, Ordering::SeqCst);
    let (status, body, headers) = send(&d, request("GET", "/v1/partners/p1/settings", "")).await;
    assert_eq!(status, 503);
    assert_eq!(body["type"], "/problems/unavailable");
    assert!(headers.contains_key("retry-after"));
    assert!(!body.to_string().contains("memory store"));
}
