//! The `/_sim/` control API, faults, counters, reset, and the binary.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{client, ctx, error, header, header_i64, json, now};
use hipchat_sim::{Counters, Fault, FaultAction, Limits, RoomSnapshot, RoomSpec, SimConfig, TokenSpec, endpoints};
use reqwest::StatusCode;
use serde_json::{Value, json};

const NOTIFY: &str = endpoints::ROOM_NOTIFICATION;

#[tokio::test]
async fn status_fault_applies_count_times_to_its_endpoint_only() {
    let c = ctx().await;
    let id = c.room("Ops");
    let sim = c.running.sim();
    sim.inject_fault(
        Fault::new(FaultAction::Status {
            status: 503,
            message: Some("Down for maintenance".into()),
            reset_in_seconds: None,
        })
        .on(NOTIFY)
        .times(2),
    );
    // Other endpoints are unaffected.
    assert_eq!(c.get(&format!("/v2/room/{id}")).await.status(), StatusCode::OK);
    for _ in 0..2 {
        let response = c.post(&format!("/v2/room/{id}/notification"), &json!({"message": "m"})).await;
        assert_eq!(error(response, StatusCode::SERVICE_UNAVAILABLE).await["message"], "Down for maintenance");
    }
    assert!(sim.faults().is_empty());
    let response = c.post(&format!("/v2/room/{id}/notification"), &json!({"message": "m"})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(sim.rooms()[0].notifications.len(), 1);
    // Faulted requests are counted.
    assert_eq!(sim.counters().count(NOTIFY), 3);
}

#[tokio::test]
async fn fault_without_endpoint_hits_any_v2_request_before_auth() {
    let c = ctx().await;
    c.running.sim().inject_fault(Fault::new(FaultAction::Status {
        status: 500,
        message: None,
        reset_in_seconds: None,
    }));
    let response = client().get(c.url("/v2/capabilities")).send().await.expect("GET");
    assert_eq!(error(response, StatusCode::INTERNAL_SERVER_ERROR).await["message"], "Internal Server Error");
    c.running.sim().inject_fault(Fault::new(FaultAction::Status {
        status: 502,
        message: None,
        reset_in_seconds: None,
    }));
    let response = client().get(c.url("/v2/room")).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(client().get(c.url("/v2/room")).send().await.expect("GET").status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rate_limit_fault_sets_the_reset_header() {
    let c = ctx().await;
    c.running.sim().inject_fault(
        Fault::new(FaultAction::Status {
            status: 429,
            message: Some("Rate Limit exceeded".into()),
            reset_in_seconds: Some(30),
        })
        .on(endpoints::ROOM_LIST),
    );
    let response = c.get("/v2/room").await;
    assert_eq!(header_i64(&response, "x-ratelimit-limit"), 100);
    assert_eq!(header_i64(&response, "x-ratelimit-remaining"), 0);
    let reset = header_i64(&response, "x-ratelimit-reset");
    assert!((now() + 28..=now() + 31).contains(&reset), "{reset}");
    assert_eq!(error(response, StatusCode::TOO_MANY_REQUESTS).await["message"], "Rate Limit exceeded");
}

#[tokio::test]
async fn delay_fault_still_answers_normally() {
    let c = ctx().await;
    c.running.sim().inject_fault(Fault::new(FaultAction::Delay { ms: 50 }).on(endpoints::ROOM_LIST));
    let response = c.get("/v2/room").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await["items"], json!([]));
    assert!(c.running.sim().faults().is_empty());
}

#[tokio::test]
async fn drop_fault_closes_the_connection_without_an_answer() {
    let c = ctx().await;
    let id = c.room("Ops");
    c.running.sim().inject_fault(Fault::new(FaultAction::Drop).on(NOTIFY));
    let result = c.post_result(&format!("/v2/room/{id}/notification"), &json!({"message": "m"})).await;
    let err = result.expect_err("the connection should be dropped");
    assert!(err.status().is_none(), "no HTTP status: {err}");
    assert!(err.is_request() || err.is_connect() || err.is_body(), "{err:?}");
    assert!(c.running.sim().rooms()[0].notifications.is_empty());
    // The same client works again afterwards.
    let response = c.post(&format!("/v2/room/{id}/notification"), &json!({"message": "m"})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn body_fault_returns_a_raw_answer() {
    let c = ctx().await;
    c.running.sim().inject_fault(Fault::new(FaultAction::Body {
        status: 502,
        body: "<html>Bad Gateway</html>".into(),
        content_type: "text/html".into(),
    }));
    let response = c.get("/v2/room").await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(header(&response, "content-type").as_deref(), Some("text/html"));
    assert_eq!(response.text().await.expect("text"), "<html>Bad Gateway</html>");
}

#[tokio::test]
async fn faults_over_http() {
    let c = ctx().await;
    let id = c.room("Ops");
    let http = client();
    let response =
        http.post(c.url("/_sim/faults")).json(&json!({"endpoint": NOTIFY, "status": 500, "count": 2})).send();
    let response = response.await.expect("POST");
    assert_eq!(response.status(), StatusCode::CREATED);
    let fault: Fault = response.json().await.expect("fault JSON");
    assert_eq!(
        fault,
        Fault::new(FaultAction::Status { status: 500, message: None, reset_in_seconds: None }).on(NOTIFY).times(2)
    );
    for body in [
        json!({"delay_ms": 1}),
        json!({"drop": true}),
        json!({"body": "x", "status": 503, "content_type": "text/plain"}),
    ] {
        let response = http.post(c.url("/_sim/faults")).json(&body).send().await.expect("POST");
        assert_eq!(response.status(), StatusCode::CREATED, "{body}");
    }
    let listed: Vec<Fault> = http.get(c.url("/_sim/faults")).send().await.expect("GET").json().await.expect("JSON");
    assert_eq!(listed.len(), 4);
    assert_eq!(listed[1].action, FaultAction::Delay { ms: 1 });
    assert_eq!(listed[2].action, FaultAction::Drop);

    for bad in [
        json!({}),
        json!({"drop": true, "status": 500}),
        json!({"status": 700}),
        json!({"status": 500, "count": 0}),
        json!({"status": 500, "endpoint": "notification"}),
        json!({"status": 500, "bogus": 1}),
    ] {
        let response = http.post(c.url("/_sim/faults")).json(&bad).send().await.expect("POST");
        error(response, StatusCode::BAD_REQUEST).await;
    }

    let response = http.delete(c.url("/_sim/faults")).send().await.expect("DELETE");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(c.running.sim().faults().is_empty());
    let response = c.post(&format!("/v2/room/{id}/notification"), &json!({"message": "m"})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // A drop fault injected over HTTP drops the connection too.
    http.post(c.url("/_sim/faults"))
        .json(&json!({"drop": true, "endpoint": "GET /v2/room"}))
        .send()
        .await
        .expect("POST");
    assert!(http.get(c.url("/v2/room")).bearer_auth(&c.token).send().await.is_err());
}

#[tokio::test]
async fn counters_per_endpoint_and_token() {
    let c = ctx().await;
    let id = c.room("Ops");
    let http = client();
    c.get("/v2/room").await;
    c.get("/v2/room").await;
    c.post(&format!("/v2/room/{id}/notification"), &json!({"message": "m"})).await;
    http.get(c.url("/v2/room")).send().await.expect("GET");
    http.get(c.url("/v2/room")).bearer_auth("bogus").send().await.expect("GET");
    http.get(c.url("/v2/capabilities")).send().await.expect("GET");
    http.get(c.url("/v2/nothing")).send().await.expect("GET");
    http.get(c.url("/_sim/rooms")).send().await.expect("GET");

    let counters: Counters = http.get(c.url("/_sim/counters")).send().await.expect("GET").json().await.expect("JSON");
    assert_eq!(counters, c.running.sim().counters());
    assert_eq!(counters.total, 7);
    assert_eq!(counters.count(endpoints::ROOM_LIST), 4);
    assert_eq!(counters.count_for(endpoints::ROOM_LIST, Some(&c.token)), 2);
    assert_eq!(counters.count_for(endpoints::ROOM_LIST, None), 1);
    assert_eq!(counters.count_for(endpoints::ROOM_LIST, Some("bogus")), 1);
    assert_eq!(counters.count(NOTIFY), 1);
    assert_eq!(counters.count(endpoints::CAPABILITIES), 1);
    assert_eq!(counters.count("GET /v2/nothing"), 1);
    let raw: Value = http.get(c.url("/_sim/counters")).send().await.expect("GET").json().await.expect("JSON");
    assert!(raw["requests"].as_array().is_some_and(|rows| {
        rows.iter().any(|r| {
            r == &json!({"endpoint": NOTIFY, "token": c.token, "count": 1, "token_in_header": 1, "token_in_query": 0})
        })
    }));
}

#[tokio::test]
async fn reset_empties_everything() {
    let c = ctx_limited().await;
    let sim = c.running.sim();
    c.room("Ops");
    assert_eq!(c.get("/v2/room").await.status(), StatusCode::OK);
    sim.inject_fault(Fault::new(FaultAction::Drop));
    let response = client().post(c.url("/_sim/reset")).send().await.expect("POST");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(sim.rooms().is_empty());
    assert!(sim.faults().is_empty());
    assert_eq!(sim.counters(), Counters::default());
    assert_eq!(sim.limits().rate_limit, Some(100));
    assert_eq!(error(c.get("/v2/room").await, StatusCode::UNAUTHORIZED).await["message"], "Invalid OAuth session");
    assert_eq!(sim.add_room(RoomSpec { name: "again".into(), ..RoomSpec::default() }), 1);
    sim.reset();
    assert!(sim.rooms().is_empty());
}

async fn ctx_limited() -> common::Ctx {
    let c = ctx().await;
    c.running.sim().set_limits(Limits { rate_limit: Some(5), ..Limits::default() });
    c
}

#[tokio::test]
async fn tokens_over_http() {
    let c = ctx().await;
    let http = client();
    let response = http.post(c.url("/_sim/tokens")).json(&json!({})).send().await.expect("POST");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = json(response).await;
    let token = body["token"].as_str().unwrap_or_default().to_owned();
    assert!(token.len() == 40 && token.bytes().all(|b| b.is_ascii_alphanumeric()), "{token}");
    assert_eq!(body["scopes"].as_array().map(Vec::len), Some(8));
    assert_eq!(body["owner"], json!({"id": 1, "name": "Demo User", "mention_name": "demo"}));
    let created: jiff::Timestamp = body["created_at"].as_str().unwrap_or_default().parse().expect("created_at");
    let expires: jiff::Timestamp = body["expires_at"].as_str().unwrap_or_default().parse().expect("expires_at");
    assert_eq!(expires.duration_since(created), jiff::SignedDuration::from_hours(365 * 24));
    assert_eq!(http.get(c.url("/v2/room")).bearer_auth(&token).send().await.expect("GET").status(), StatusCode::OK);

    // An empty body is fine too; custom values are used.
    assert_eq!(http.post(c.url("/_sim/tokens")).send().await.expect("POST").status(), StatusCode::CREATED);
    let spec = json!({"token": "custom-1", "scopes": ["send_notification"], "owner": {"id": 9, "name": "Nine", "mention_name": "nine"},
        "created_at": "2020-01-01T00:00:00Z", "expires_at": "2099-01-01T00:00:00Z", "kind": "addon"});
    let body = json(http.post(c.url("/_sim/tokens")).json(&spec).send().await.expect("POST")).await;
    assert_eq!(body["token"], "custom-1");
    assert_eq!(body["expires_at"], "2099-01-01T00:00:00Z");
    assert_eq!(body["kind"], "addon");
    let response = http.get(c.url("/v2/room")).bearer_auth("custom-1").send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let past = json!({"token": "old", "expires_at": "2020-01-01T00:00:00Z"});
    http.post(c.url("/_sim/tokens")).json(&past).send().await.expect("POST");
    let response = http.get(c.url("/v2/room")).bearer_auth("old").send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    for bad in [
        json!({"scopes": ["view_everything"]}),
        json!({"tokn": "x"}),
        json!({"created_at": "yesterday"}),
        json!({"token": "a b"}),
    ] {
        error(http.post(c.url("/_sim/tokens")).json(&bad).send().await.expect("POST"), StatusCode::BAD_REQUEST).await;
    }

    for action in ["expire", "revoke"] {
        let response = http.post(c.url(&format!("/_sim/tokens/{token}/{action}"))).send().await.expect("POST");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let response = http.post(c.url(&format!("/_sim/tokens/nope/{action}"))).send().await.expect("POST");
        error(response, StatusCode::NOT_FOUND).await;
    }
    assert_eq!(
        http.get(c.url("/v2/room")).bearer_auth(&token).send().await.expect("GET").status(),
        StatusCode::UNAUTHORIZED
    );
    let response = http.post(c.url(&format!("/_sim/tokens/{}/revoke", c.token))).send().await.expect("POST");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(c.get("/v2/room").await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rooms_over_http() {
    let c = ctx().await;
    let http = client();
    let spec = json!({"name": "Seeded", "topic": "T", "privacy": "private", "archived": true, "guest_access": true, "owner_id": 5});
    let response = http.post(c.url("/_sim/rooms")).json(&spec).send().await.expect("POST");
    assert_eq!(response.status(), StatusCode::CREATED);
    let room: RoomSnapshot = response.json().await.expect("snapshot");
    assert_eq!((room.name.as_str(), room.topic.as_str(), room.privacy.as_str()), ("Seeded", "T", "private"));
    assert!(room.is_archived && room.is_guest_accessible);
    assert!(room.guest_access_url.as_deref().is_some_and(|u| u.starts_with(&format!("{}/g", c.base()))));
    assert_eq!(room.owner_id, 5);
    c.post(&format!("/v2/room/{}/message", room.id), &json!({"message": "hi"})).await;
    let rooms: Vec<RoomSnapshot> =
        http.get(c.url("/_sim/rooms")).send().await.expect("GET").json().await.expect("JSON");
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].messages.len(), 1);
    assert_eq!(rooms, c.running.sim().rooms());
    error(
        http.post(c.url("/_sim/rooms")).json(&json!({"topic": "no name"})).send().await.expect("POST"),
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn router_works_under_plain_axum_serve() {
    let sim = hipchat_sim::Simulator::new(SimConfig::default());
    let token = sim.create_token(TokenSpec::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, hipchat_sim::router(sim)).await;
    });
    let http = client();
    let response = http.post(format!("http://{addr}/v2/room")).bearer_auth(&token).json(&json!({"name": "x"})).send();
    let body = json(response.await.expect("POST")).await;
    // Links use the request's Host when no address is known.
    assert_eq!(body["links"]["self"], format!("http://{addr}/v2/room/1"));
    server.abort();
}

#[test]
fn binary_prints_its_address_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hipchat-sim"))
        .args(["--listen", "127.0.0.1:0", "--rate-limit", "7"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn hipchat-sim");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
    let base = line.trim().strip_prefix("hipchat-sim listening on ").map(str::to_owned);
    let checked = base.as_deref().map(|base| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let http = client();
            let caps = json(http.get(format!("{base}/v2/capabilities")).send().await.expect("GET")).await;
            let token = json(http.post(format!("{base}/_sim/tokens")).send().await.expect("POST")).await;
            let token = token["token"].as_str().unwrap_or_default().to_owned();
            let rooms = http.get(format!("{base}/v2/room")).bearer_auth(&token).send().await.expect("GET");
            (caps["links"]["api"].clone(), header(&rooms, "x-ratelimit-limit"))
        })
    });
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().map(|s| s.success()).unwrap_or(false);
    if !killed {
        let _ = child.kill();
    }
    let status = child.wait().expect("wait");
    let base = base.unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    assert!(base.starts_with("http://127.0.0.1:") && !base.ends_with(":0"), "{base}");
    assert_eq!(checked, Some((json!(format!("{base}/v2")), Some("7".to_owned()))));
    assert!(killed, "kill -TERM failed");
    assert!(status.success(), "exit status {status}");
}
