//! Authentication, scopes, `auth_test`, rate limits, token info and capabilities.

mod common;

use common::{client, ctx, ctx_with, error, header, header_i64, json, now};
use hipchat_sim::{Limits, OwnerSpec, SimConfig, TokenKind, TokenSpec, endpoints};
use reqwest::{Method, StatusCode};
use serde_json::json;

const NO_TOKEN: &str = "Authenticated requests only. See https://www.hipchat.com/docs/apiv2/auth for more information.";

#[tokio::test]
async fn bearer_header_and_query_parameter_both_authenticate() {
    let c = ctx().await;
    let by_header = c.get("/v2/room").await;
    assert_eq!(by_header.status(), StatusCode::OK);
    let by_query = client().get(c.url(&format!("/v2/room?auth_token={}", c.token))).send().await.expect("GET");
    assert_eq!(by_query.status(), StatusCode::OK);
    let counters = c.running.sim().counters();
    assert_eq!(counters.count_for(endpoints::ROOM_LIST, Some(&c.token)), 2);
}

#[tokio::test]
async fn counters_tell_a_header_token_from_a_query_token() {
    let c = ctx().await;
    let http = client();
    assert_eq!(c.get("/v2/room").await.status(), StatusCode::OK);
    let by_query = http.get(c.url(&format!("/v2/room?auth_token={}", c.token))).send().await.expect("GET");
    assert_eq!(by_query.status(), StatusCode::OK, "a token in the query is still accepted");
    let by_query = http.get(c.url(&format!("/v2/oauth/token/{0}?auth_token={0}", c.token))).send().await.expect("GET");
    assert_eq!(by_query.status(), StatusCode::OK);
    // Both: the header's token is used; the query still held one.
    let both = c.req(Method::GET, "/v2/room?auth_token=other").send().await.expect("GET");
    assert_eq!(both.status(), StatusCode::OK);
    // An empty auth_token is no token.
    assert_eq!(c.get("/v2/room?auth_token=").await.status(), StatusCode::OK);
    assert_eq!(http.get(c.url("/v2/room?auth_token=")).send().await.expect("GET").status(), StatusCode::UNAUTHORIZED);

    let counters = c.running.sim().counters();
    let row = |endpoint: &str, token: Option<&str>| {
        let row = counters.requests.iter().find(|r| r.endpoint == endpoint && r.token.as_deref() == token);
        row.map(|r| (r.count, r.token_in_header, r.token_in_query))
    };
    assert_eq!(row(endpoints::ROOM_LIST, Some(&c.token)), Some((4, 3, 2)));
    assert_eq!(row(endpoints::TOKEN_GET, Some(&c.token)), Some((1, 0, 1)));
    assert_eq!(row(endpoints::ROOM_LIST, None), Some((1, 0, 0)));
    // The same over the control API.
    let raw = json(http.get(c.url("/_sim/counters")).send().await.expect("GET")).await;
    let rows = raw["requests"].as_array().expect("rows");
    assert!(rows.contains(&json!({"endpoint": endpoints::TOKEN_GET, "token": c.token, "count": 1,
        "token_in_header": 0, "token_in_query": 1})));
}

#[tokio::test]
async fn missing_token_is_401_without_rate_headers() {
    let c = ctx().await;
    let response = client().get(c.url("/v2/room")).send().await.expect("GET");
    assert!(header(&response, "x-ratelimit-limit").is_none());
    let err = error(response, StatusCode::UNAUTHORIZED).await;
    assert_eq!(err["message"], NO_TOKEN);
    // A non-bearer Authorization header is no token either.
    let basic = client().get(c.url("/v2/room")).basic_auth("u", Some("p")).send().await.expect("GET");
    assert_eq!(error_message(basic, StatusCode::UNAUTHORIZED).await, NO_TOKEN);
}

async fn error_message(response: reqwest::Response, status: StatusCode) -> String {
    error(response, status).await["message"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn unknown_expired_and_revoked_tokens_are_invalid_sessions() {
    let c = ctx().await;
    let sim = c.running.sim();
    let unknown = client().get(c.url("/v2/room")).bearer_auth("nope").send().await.expect("GET");
    assert!(header(&unknown, "x-ratelimit-limit").is_none());
    assert_eq!(error_message(unknown, StatusCode::UNAUTHORIZED).await, "Invalid OAuth session");

    let past = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let expired = sim.create_token(TokenSpec { expires_at: Some(past), ..TokenSpec::default() });
    let response = client().get(c.url("/v2/room")).bearer_auth(&expired).send().await.expect("GET");
    assert_eq!(error_message(response, StatusCode::UNAUTHORIZED).await, "Invalid OAuth session");

    // Personal tokens live 365 days.
    let day = jiff::SignedDuration::from_hours(24);
    let old =
        sim.create_token(TokenSpec { created_at: Some(jiff::Timestamp::now() - day * 366), ..TokenSpec::default() });
    let young =
        sim.create_token(TokenSpec { created_at: Some(jiff::Timestamp::now() - day * 364), ..TokenSpec::default() });
    let response = client().get(c.url("/v2/room")).bearer_auth(&old).send().await.expect("GET");
    assert_eq!(error_message(response, StatusCode::UNAUTHORIZED).await, "Invalid OAuth session");
    let response = client().get(c.url("/v2/room")).bearer_auth(&young).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::OK);

    let expire_me = sim.create_token(TokenSpec::default());
    assert!(sim.expire_token(&expire_me));
    let response = client().get(c.url("/v2/room")).bearer_auth(&expire_me).send().await.expect("GET");
    assert_eq!(error_message(response, StatusCode::UNAUTHORIZED).await, "Invalid OAuth session");

    assert!(sim.revoke_token(&c.token));
    assert_eq!(error_message(c.get("/v2/room").await, StatusCode::UNAUTHORIZED).await, "Invalid OAuth session");
    assert!(!sim.revoke_token("unknown"));
    assert!(!sim.expire_token("unknown"));
}

#[tokio::test]
async fn missing_scope_is_403_naming_the_accepted_scopes() {
    let c = ctx().await;
    let room = c.room("Ops");
    let cases: [(&[&str], Method, String, &str); 5] = [
        (&["send_notification"], Method::GET, "/v2/room".into(), "[u'view_group', u'view_room']"),
        (&["view_group"], Method::POST, "/v2/room".into(), "[u'manage_rooms']"),
        (&["view_group"], Method::PUT, format!("/v2/room/{room}/topic"), "[u'admin_room']"),
        (&["view_group"], Method::POST, format!("/v2/room/{room}/notification"), "[u'send_notification']"),
        (&["send_notification"], Method::POST, format!("/v2/room/{room}/message"), "[u'send_message']"),
    ];
    for (scopes, method, path, expected) in cases {
        let token = c.token_with(scopes);
        let response = c
            .http
            .request(method.clone(), c.url(&path))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await
            .expect("send");
        assert_eq!(header(&response, "x-ratelimit-limit").as_deref(), Some("100"), "{method} {path}");
        let err = error(response, StatusCode::FORBIDDEN).await;
        assert_eq!(err["message"], format!("This action requires one of the following scopes: {expected}"));
    }
    let delete = c.token_with(&["view_group"]);
    let response = c.http.delete(c.url(&format!("/v2/room/{room}"))).bearer_auth(&delete).send().await.expect("DELETE");
    assert_eq!(
        error(response, StatusCode::FORBIDDEN).await["message"],
        "This action requires one of the following scopes: [u'manage_rooms']"
    );
    let update = c.token_with(&["view_room"]);
    let response = c.http.put(c.url(&format!("/v2/room/{room}"))).bearer_auth(&update).json(&json!({})).send().await;
    assert_eq!(
        error(response.expect("PUT"), StatusCode::FORBIDDEN).await["message"],
        "This action requires one of the following scopes: [u'admin_room', u'manage_rooms']"
    );
    // view_room alone is enough to read.
    let reader = c.token_with(&["view_room"]);
    let response = c.http.get(c.url(&format!("/v2/room/{room}"))).bearer_auth(&reader).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn put_room_accepts_admin_room_or_manage_rooms() {
    let c = ctx().await;
    let room = c.room("Ops");
    for scope in ["admin_room", "manage_rooms"] {
        let token = c.token_with(&[scope]);
        let body = json!({"name": "Ops", "privacy": "public", "is_archived": false, "is_guest_accessible": false,
            "topic": scope, "owner": {"id": 1}});
        let response =
            c.http.put(c.url(&format!("/v2/room/{room}"))).bearer_auth(&token).json(&body).send().await.expect("PUT");
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{scope}");
    }
}

#[tokio::test]
async fn auth_test_answers_202_without_running_the_method() {
    let c = ctx().await;
    let room = c.room("Ops");
    let path = format!("/v2/room/{room}/notification?auth_test=true");
    let response = c.post(&path, &json!({"message": "hi"})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(header(&response, "x-ratelimit-remaining").is_some());
    assert_eq!(
        json(response).await,
        json!({"success": {"code": 202, "type": "Accepted", "message": "This auth_token has access to use this method."}})
    );
    assert!(c.running.sim().rooms()[0].notifications.is_empty());

    let create = c.post("/v2/room?auth_test=true", &json!({"name": "New"})).await;
    assert_eq!(create.status(), StatusCode::ACCEPTED);
    assert_eq!(c.running.sim().rooms().len(), 1);

    let query_style =
        client().get(c.url(&format!("/v2/room?auth_test=true&auth_token={}", c.token))).send().await.expect("GET");
    assert_eq!(query_style.status(), StatusCode::ACCEPTED);

    let wrong_scope = c.token_with(&["view_group"]);
    let response = client()
        .post(c.url(&path))
        .bearer_auth(&wrong_scope)
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .expect("POST");
    error(response, StatusCode::FORBIDDEN).await;
    let response = client().post(c.url(&path)).bearer_auth("bogus").send().await.expect("POST");
    assert_eq!(error_message(response, StatusCode::UNAUTHORIZED).await, "Invalid OAuth session");
    let response = client().post(c.url(&path)).send().await.expect("POST");
    assert_eq!(error_message(response, StatusCode::UNAUTHORIZED).await, NO_TOKEN);
}

#[tokio::test]
async fn the_101st_request_in_the_window_is_rate_limited() {
    let c = ctx().await;
    for i in 1..=100_i64 {
        let response = c.get("/v2/room").await;
        assert_eq!(response.status(), StatusCode::OK, "request {i}");
        assert_eq!(header_i64(&response, "x-ratelimit-limit"), 100);
        assert_eq!(header_i64(&response, "x-ratelimit-remaining"), 100 - i);
        let reset = header_i64(&response, "x-ratelimit-reset");
        assert!(reset > now() - 1 && reset <= now() + 301, "reset {reset}");
    }
    let response = c.get("/v2/room").await;
    assert_eq!(header_i64(&response, "x-ratelimit-limit"), 100);
    assert_eq!(header_i64(&response, "x-ratelimit-remaining"), 0);
    let reset = header_i64(&response, "x-ratelimit-reset");
    assert!(reset >= now() && reset <= now() + 301);
    assert!(header(&response, "access-control-expose-headers").is_some_and(|h| h.contains("X-RateLimit-Reset")));
    assert_eq!(
        json(response).await,
        json!({"error": {"code": 429, "message": "Rate Limit exceeded", "type": "Too Many Requests"}})
    );
    // Still limited, and other tokens are not affected.
    assert_eq!(c.get("/v2/room").await.status(), StatusCode::TOO_MANY_REQUESTS);
    let other = c.token_with(&["view_group"]);
    let response = client().get(c.url("/v2/room")).bearer_auth(&other).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_i64(&response, "x-ratelimit-remaining"), 99);
    // Capabilities are never limited.
    assert_eq!(client().get(c.url("/v2/capabilities")).send().await.expect("GET").status(), StatusCode::OK);
}

#[tokio::test]
async fn limits_can_be_changed_over_http_and_every_authenticated_request_counts() {
    let c = ctx().await;
    let response = client().put(c.url("/_sim/limits")).json(&json!({"rate_limit": 3})).send().await.expect("PUT");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let limits: Limits = client().get(c.url("/_sim/limits")).send().await.expect("GET").json().await.expect("JSON");
    assert_eq!(limits.rate_limit, Some(3));
    assert_eq!(limits.rate_window_seconds, Some(300));

    // A 403 and a 404 count too.
    let viewer = c.token_with(&["view_group"]);
    let forbidden = client().post(c.url("/v2/room")).bearer_auth(&viewer).json(&json!({"name": "x"})).send().await;
    assert_eq!(forbidden.expect("POST").status(), StatusCode::FORBIDDEN);
    let missing = client().get(c.url("/v2/room/nope")).bearer_auth(&viewer).send().await.expect("GET");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(header_i64(&missing, "x-ratelimit-remaining"), 1);
    let third = client().get(c.url("/v2/room")).bearer_auth(&viewer).send().await.expect("GET");
    assert_eq!((third.status(), header_i64(&third, "x-ratelimit-limit")), (StatusCode::OK, 3));
    let fourth = client().get(c.url("/v2/room")).bearer_auth(&viewer).send().await.expect("GET");
    assert_eq!(fourth.status(), StatusCode::TOO_MANY_REQUESTS);

    c.running.sim().set_limits(Limits { rate_limit: Some(1), rate_window_seconds: Some(10), ..Limits::default() });
    let response = c.get("/v2/room").await;
    assert_eq!(response.status(), StatusCode::OK);
    let reset = header_i64(&response, "x-ratelimit-reset");
    assert!(reset <= now() + 11, "10 s window: {reset}");
    assert_eq!(c.get("/v2/room").await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn addon_tokens_get_500_requests_and_config_sets_the_personal_limit() {
    let c = ctx_with(SimConfig { rate_limit: 7, ..SimConfig::default() }).await;
    assert_eq!(header_i64(&c.get("/v2/room").await, "x-ratelimit-limit"), 7);
    let addon = c.running.sim().create_token(TokenSpec { kind: Some(TokenKind::Addon), ..TokenSpec::default() });
    let response = client().get(c.url("/v2/room")).bearer_auth(&addon).send().await.expect("GET");
    assert_eq!(header_i64(&response, "x-ratelimit-limit"), 500);
    // Add-on tokens live an hour.
    let info = client().get(c.url(&format!("/v2/oauth/token/{addon}"))).bearer_auth(&addon).send().await.expect("GET");
    let info = json(info).await;
    let expires_in = info["expires_in"].as_i64().unwrap_or_default();
    assert!((3590..=3600).contains(&expires_in), "{expires_in}");
    assert_eq!(info["client"]["name"], "Add-on");
}

#[tokio::test]
async fn token_info_describes_the_token_and_delete_revokes_it() {
    let c = ctx().await;
    let sim = c.running.sim();
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(100);
    let token = sim.create_token(TokenSpec {
        token: Some("my-token-1".into()),
        scopes: Some(vec!["send_notification".into(), "view_room".into()]),
        owner: Some(OwnerSpec { id: 42, name: "Ada Lovelace".into(), mention_name: "ada".into() }),
        expires_at: Some(expires),
        ..TokenSpec::default()
    });
    assert_eq!(token, "my-token-1");
    let response = client().get(c.url("/v2/oauth/token/my-token-1")).bearer_auth(&token).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, "x-ratelimit-limit").is_some());
    let body = json(response).await;
    assert_eq!(body["access_token"], "my-token-1");
    let expires_in = body["expires_in"].as_i64().unwrap_or_default();
    assert!((98..=100).contains(&expires_in), "expires_in {expires_in}");
    assert_eq!(body["scopes"], json!(["send_notification", "view_room"]));
    assert_eq!(
        body["client"],
        json!({"allowed_scopes": ["send_notification", "view_room"], "name": "Personal access token", "room": null})
    );
    assert_eq!(body["owner"]["id"], 42);
    assert_eq!(body["owner"]["name"], "Ada Lovelace");
    assert_eq!(body["owner"]["mention_name"], "ada");
    assert_eq!(body["owner"]["links"]["self"], c.url("/v2/user/42"));
    assert_eq!(body["owner_type"], "user");

    // The default token: a year, all scopes.
    let default = json(c.get(&format!("/v2/oauth/token/{}", c.token)).await).await;
    let expires_in = default["expires_in"].as_i64().unwrap_or_default();
    assert!((365 * 86400 - 10..=365 * 86400).contains(&expires_in));
    assert_eq!(default["scopes"].as_array().map(Vec::len), Some(8));

    // Another token's session is not visible.
    let response = c.get("/v2/oauth/token/my-token-1").await;
    assert_eq!(error(response, StatusCode::NOT_FOUND).await["message"], "OAuth session not found");

    let response = client().delete(c.url("/v2/oauth/token/my-token-1")).bearer_auth(&token).send().await.expect("DEL");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = client().get(c.url("/v2/oauth/token/my-token-1")).bearer_auth(&token).send().await.expect("GET");
    assert_eq!(error_message(response, StatusCode::UNAUTHORIZED).await, "Invalid OAuth session");
}

#[tokio::test]
async fn capabilities_need_no_token_and_point_at_the_simulator() {
    let c = ctx().await;
    let response = client().get(c.url("/v2/capabilities")).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type").as_deref(), Some("application/json"));
    assert!(header(&response, "x-ratelimit-limit").is_none());
    let body = json(response).await;
    assert_eq!(body["links"]["api"], c.url("/v2"));
    assert_eq!(body["links"]["self"], c.url("/v2/capabilities"));
    assert_eq!(body["capabilities"]["oauth2Provider"]["tokenUrl"], c.url("/v2/oauth/token"));
    assert_eq!(body["capabilities"]["oauth2Provider"]["authorizationUrl"], c.url("/users/authorize"));
    let provider = &body["capabilities"]["hipchatApiProvider"];
    assert_eq!(provider["url"], c.url("/v2/"));
    let scopes = provider["availableScopes"].as_object().cloned().unwrap_or_default();
    assert_eq!(scopes.len(), 8);
    assert_eq!(scopes["send_notification"]["name"], "Send Notification");
    assert_eq!(scopes["admin_group"]["name"], "Administer Group");
    assert_eq!(scopes["view_room"]["id"], "view_room");
    assert!(scopes.values().all(|s| s["description"].as_str().is_some_and(|d| !d.is_empty())));
}

#[tokio::test]
async fn public_url_is_used_in_links() {
    let c = ctx_with(SimConfig { public_url: Some("https://chat.example.test/".into()), ..SimConfig::default() }).await;
    let body = json(client().get(c.url("/v2/capabilities")).send().await.expect("GET")).await;
    assert_eq!(body["links"]["api"], "https://chat.example.test/v2");
    let list = json(c.get("/v2/room").await).await;
    assert_eq!(list["links"]["self"], "https://chat.example.test/v2/room");
}
