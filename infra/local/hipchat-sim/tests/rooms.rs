//! Rooms: list and pagination, create, get, update, delete, topic, names in paths, guest access.

mod common;

use common::{client, ctx, ctx_with, error, header, invalid, json};
use hipchat_sim::{RoomSpec, SimConfig};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const FORM: &str = "application/x-www-form-urlencoded";

fn enc(name: &str) -> String {
    utf8_percent_encode(name, NON_ALPHANUMERIC).to_string()
}

fn ids(list: &Value) -> Vec<u64> {
    list["items"].as_array().map(|items| items.iter().filter_map(|i| i["id"].as_u64()).collect()).unwrap_or_default()
}

fn full_update(name: &str) -> Value {
    json!({"name": name, "privacy": "public", "is_archived": false, "is_guest_accessible": false,
        "topic": "", "owner": {"id": 1}})
}

#[tokio::test]
async fn empty_list() {
    let c = ctx().await;
    let response = c.get("/v2/room").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type").as_deref(), Some("application/json"));
    assert_eq!(
        header(&response, "access-control-expose-headers").as_deref(),
        Some("Date, ETag, Link, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Backoff")
    );
    let body = json(response).await;
    assert_eq!(body, json!({"items": [], "startIndex": 0, "maxResults": 100, "links": {"self": c.url("/v2/room")}}));
}

#[tokio::test]
async fn list_items_have_the_real_shape() {
    let c = ctx().await;
    let id = c.room("Ops");
    let body = json(c.get("/v2/room").await).await;
    let item = &body["items"][0];
    assert_eq!(item["id"], id);
    assert_eq!(item["name"], "Ops");
    assert_eq!(item["privacy"], "public");
    assert_eq!(item["is_archived"], false);
    let version = item["version"].as_str().unwrap_or_default();
    assert!(version.len() == 8 && version.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()), "{version}");
    assert_eq!(
        item["links"],
        json!({"self": c.url(&format!("/v2/room/{id}")), "webhooks": c.url(&format!("/v2/room/{id}/webhook")),
            "participants": c.url(&format!("/v2/room/{id}/participant"))})
    );
}

#[tokio::test]
async fn pagination_links_are_followable() {
    let c = ctx().await;
    for i in 1..=5 {
        c.room(&format!("room {i}"));
    }
    let first = json(c.get("/v2/room?max-results=2").await).await;
    assert_eq!(ids(&first), [1, 2]);
    assert_eq!((first["startIndex"].as_u64(), first["maxResults"].as_u64()), (Some(0), Some(2)));
    assert_eq!(first["links"]["self"], c.url("/v2/room?max-results=2"));
    assert!(first["links"].get("prev").is_none());
    let next = first["links"]["next"].as_str().unwrap_or_default().to_owned();
    assert_eq!(next, c.url("/v2/room?max-results=2&start-index=2"));

    let second = json(c.http.get(&next).bearer_auth(&c.token).send().await.expect("GET next")).await;
    assert_eq!(ids(&second), [3, 4]);
    assert_eq!(second["links"]["prev"], c.url("/v2/room?max-results=2&start-index=0"));
    let last_url = second["links"]["next"].as_str().unwrap_or_default().to_owned();
    let last = json(c.http.get(&last_url).bearer_auth(&c.token).send().await.expect("GET")).await;
    assert_eq!(ids(&last), [5]);
    assert!(last["links"].get("next").is_none());
    let prev_url = last["links"]["prev"].as_str().unwrap_or_default().to_owned();
    let back = json(c.http.get(&prev_url).bearer_auth(&c.token).send().await.expect("GET")).await;
    assert_eq!(ids(&back), [3, 4]);
}

#[tokio::test]
async fn pagination_edges() {
    let c = ctx().await;
    for i in 1..=3 {
        c.room(&format!("r{i}"));
    }
    let exact = json(c.get("/v2/room?max-results=3").await).await;
    assert_eq!(ids(&exact), [1, 2, 3]);
    assert!(exact["links"].get("next").is_none() && exact["links"].get("prev").is_none());

    let zero = json(c.get("/v2/room?max-results=0").await).await;
    assert_eq!(ids(&zero), Vec::<u64>::new());
    assert_eq!(zero["maxResults"], 0);
    assert!(zero["links"].get("next").is_none());

    let thousand = c.get("/v2/room?max-results=1000").await;
    assert_eq!(thousand.status(), StatusCode::OK);
    assert_eq!(ids(&json(thousand).await), [1, 2, 3]);

    let err = invalid(c.get("/v2/room?max-results=1001").await, "max-results", "range").await;
    assert_eq!(err["value"], 1001);
    invalid(c.get("/v2/room?max-results=-1").await, "max-results", "range").await;
    let err = invalid(c.get("/v2/room?max-results=ten").await, "max-results", "type").await;
    assert_eq!(err["expected_type"], "integer");
    invalid(c.get("/v2/room?start-index=x").await, "start-index", "type").await;
    invalid(c.get("/v2/room?include-private=maybe").await, "include-private", "type").await;

    let beyond = json(c.get("/v2/room?start-index=10").await).await;
    assert_eq!(ids(&beyond), Vec::<u64>::new());
    assert_eq!(beyond["startIndex"], 10);
    assert!(beyond["links"].get("next").is_none());
    assert_eq!(beyond["links"]["prev"], c.url("/v2/room?start-index=0&max-results=100"));

    let middle = json(c.get("/v2/room?start-index=1&max-results=1").await).await;
    assert_eq!(ids(&middle), [2]);
    assert_eq!(middle["links"]["prev"], c.url("/v2/room?start-index=0&max-results=1"));
    assert_eq!(middle["links"]["next"], c.url("/v2/room?start-index=2&max-results=1"));
}

#[tokio::test]
async fn list_filters_and_links_keep_params_but_not_the_token() {
    let c = ctx().await;
    let public = c.room("public");
    let private =
        c.room_spec(RoomSpec { name: "private".into(), privacy: Some("private".into()), ..RoomSpec::default() });
    let archived = c.room_spec(RoomSpec { name: "archived".into(), archived: Some(true), ..RoomSpec::default() });
    assert_eq!(ids(&json(c.get("/v2/room").await).await), [public, private]);
    assert_eq!(ids(&json(c.get("/v2/room?include-private=false").await).await), [public]);
    assert_eq!(ids(&json(c.get("/v2/room?include-archived=true").await).await), [public, private, archived]);
    assert_eq!(
        ids(&json(c.get("/v2/room?include-archived=true&include-private=false").await).await),
        [public, archived]
    );
    let url = c.url(&format!("/v2/room?include-archived=true&max-results=1&auth_token={}", c.token));
    let page = json(client().get(url).send().await.expect("GET")).await;
    assert_eq!(page["items"][0]["is_archived"], false);
    assert_eq!(page["links"]["self"], c.url("/v2/room?include-archived=true&max-results=1"));
    assert_eq!(page["links"]["next"], c.url("/v2/room?include-archived=true&max-results=1&start-index=1"));
}

#[tokio::test]
async fn create_then_get_room() {
    let c = ctx().await;
    let response = c.post("/v2/room", &json!({"name": "My Room", "topic": "Deploys"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = header(&response, "location");
    let body = json(response).await;
    let id = body["id"].as_u64().unwrap_or_default();
    assert_eq!(body, json!({"id": id, "links": {"self": c.url(&format!("/v2/room/{id}"))}}));
    assert_eq!(location, Some(c.url(&format!("/v2/room/{id}"))));

    let response = c.get(&format!("/v2/room/{id}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let etag = header(&response, "etag");
    let room = json(response).await;
    assert_eq!(etag, Some(format!("W/\"{}\"", room["version"].as_str().unwrap_or_default())));
    let mut keys: Vec<&str> = room.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "avatar_url",
            "created",
            "delegate_admin_visibility",
            "guest_access_url",
            "id",
            "is_archived",
            "is_guest_accessible",
            "last_active",
            "links",
            "name",
            "owner",
            "participants",
            "privacy",
            "statistics",
            "topic",
            "version",
            "xmpp_jid"
        ]
    );
    assert_eq!(room["avatar_url"], Value::Null);
    assert_eq!(room["guest_access_url"], Value::Null);
    assert_eq!(room["is_guest_accessible"], false);
    assert_eq!(room["name"], "My Room");
    assert_eq!(room["topic"], "Deploys");
    assert_eq!(room["privacy"], "public");
    assert_eq!(room["participants"], json!([]));
    assert_eq!(room["xmpp_jid"], "1_my_room@conf.hipchat.com");
    assert_eq!(room["statistics"]["links"]["self"], c.url(&format!("/v2/room/{id}/statistics")));
    let created = room["created"].as_str().unwrap_or_default();
    assert!(created.len() == 25 && created.ends_with("+00:00") && created.as_bytes()[10] == b'T', "{created}");
    assert_eq!(room["owner"]["id"], 1);
    assert_eq!(room["owner"]["mention_name"], "demo");
    assert_eq!(room["owner"]["name"], "Demo User");
    assert_eq!(room["owner"]["links"]["self"], c.url("/v2/user/1"));
    assert!(room["owner"]["version"].as_str().is_some());

    let sim_room = &c.running.sim().rooms()[0];
    assert_eq!((sim_room.id, sim_room.name.as_str(), sim_room.topic.as_str()), (id, "My Room", "Deploys"));

    // No topic: "".
    let response = c.post("/v2/room", &json!({"name": "Bare", "topic": null, "privacy": "private"})).await;
    let id = json(response).await["id"].as_u64().unwrap_or_default();
    let room = json(c.get(&format!("/v2/room/{id}")).await).await;
    assert_eq!((room["topic"].as_str(), room["privacy"].as_str()), (Some(""), Some("private")));
}

#[tokio::test]
async fn create_validates_fields() {
    let c = ctx().await;
    let fifty = "é".repeat(50);
    assert_eq!(c.post("/v2/room", &json!({"name": fifty})).await.status(), StatusCode::CREATED);
    let err = invalid(c.post("/v2/room", &json!({"name": "x".repeat(51)})).await, "name", "length").await;
    assert_eq!(err["value"], "x".repeat(51));
    invalid(c.post("/v2/room", &json!({"name": ""})).await, "name", "length").await;
    invalid(c.post("/v2/room", &json!({"topic": "t"})).await, "name", "required").await;
    let err = invalid(c.post("/v2/room", &json!({"name": 5})).await, "name", "type").await;
    assert_eq!(err["expected_type"], "string");
    invalid(c.post("/v2/room", &json!({"name": "a", "topic": "t".repeat(251)})).await, "topic", "length").await;
    assert_eq!(c.post("/v2/room", &json!({"name": "b", "topic": "t".repeat(250)})).await.status(), StatusCode::CREATED);
    let err = invalid(c.post("/v2/room", &json!({"name": "a", "privacy": "secret"})).await, "privacy", "choice").await;
    assert_eq!(err["message"], "Value u'secret' for field 'privacy' is not one of [u'public', u'private']");
    let err =
        invalid(c.post("/v2/room", &json!({"name": "a", "guest_access": "yes"})).await, "guest_access", "type").await;
    assert_eq!(err["expected_type"], "boolean");

    let response = c.req(Method::POST, "/v2/room").header("content-type", "application/json").body("{nope").send();
    let err = error(response.await.expect("POST"), StatusCode::BAD_REQUEST).await;
    assert_eq!(err["message"], "The request body cannot be parsed as JSON");
    let response = c.req(Method::POST, "/v2/room").header("content-type", "application/json").body("[1]").send();
    error(response.await.expect("POST"), StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn create_with_owner_and_guest_access() {
    let c = ctx().await;
    let response = c.post("/v2/room", &json!({"name": "A", "owner_user_id": 42, "guest_access": true})).await;
    let id = json(response).await["id"].as_u64().unwrap_or_default();
    let room = json(c.get(&format!("/v2/room/{id}")).await).await;
    assert_eq!(room["owner"]["id"], 42);
    assert_eq!(room["is_guest_accessible"], true);
    assert!(is_guest_url(&c, &room["guest_access_url"]));

    let response = c.post("/v2/room", &json!({"name": "B", "owner_user_id": "@demo"})).await;
    let id = json(response).await["id"].as_u64().unwrap_or_default();
    assert_eq!(json(c.get(&format!("/v2/room/{id}")).await).await["owner"]["id"], 1);
    let response = c.post("/v2/room", &json!({"name": "C", "owner_user_id": "@nobody"})).await;
    assert_eq!(error(response, StatusCode::BAD_REQUEST).await["message"], "User '@nobody' not found");
}

#[tokio::test]
async fn duplicate_names_ignore_case_by_default() {
    let c = ctx().await;
    assert_eq!(c.post("/v2/room", &json!({"name": "Ops"})).await.status(), StatusCode::CREATED);
    for name in ["Ops", "OPS", "ops"] {
        let err = error(c.post("/v2/room", &json!({"name": name})).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(err["message"], "Another room exists with that name.");
    }
    // Lookup stays case-sensitive.
    assert_eq!(c.get("/v2/room/ops").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(c.get("/v2/room/Ops").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn case_sensitive_uniqueness_is_configurable() {
    let c = ctx_with(SimConfig { unique_names_ignore_case: false, ..SimConfig::default() }).await;
    assert_eq!(c.post("/v2/room", &json!({"name": "Ops"})).await.status(), StatusCode::CREATED);
    assert_eq!(c.post("/v2/room", &json!({"name": "ops"})).await.status(), StatusCode::CREATED);
    let err = error(c.post("/v2/room", &json!({"name": "Ops"})).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(err["message"], "Another room exists with that name.");
    let ops = json(c.get("/v2/room/ops").await).await;
    assert_eq!(ops["id"], 2);
}

#[tokio::test]
async fn unknown_room_is_404_with_the_name() {
    let c = ctx().await;
    let response = c.get("/v2/room/banana_stand").await;
    assert!(header(&response, "x-ratelimit-limit").is_some());
    assert_eq!(error(response, StatusCode::NOT_FOUND).await["message"], "Room 'banana_stand' not found");
    assert_eq!(error(c.get("/v2/room/999").await, StatusCode::NOT_FOUND).await["message"], "Room '999' not found");
    assert_eq!(c.delete("/v2/room/999").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(c.put("/v2/room/999", &full_update("x")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(c.put("/v2/room/999/topic", &json!({"topic": "x"})).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn names_with_special_characters_work_percent_encoded() {
    let c = ctx().await;
    for name in ["a b", "c#d", "e/f", "Ümlaut ☃ room", "100% sure?", "x&y=z"] {
        let response = c.post("/v2/room", &json!({"name": name})).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{name}");
        let id = json(response).await["id"].as_u64().unwrap_or_default();
        let room = json(c.get(&format!("/v2/room/{}", enc(name))).await).await;
        assert_eq!((room["id"].as_u64(), room["name"].as_str()), (Some(id), Some(name)), "GET {name}");
        let mut update = full_update(name);
        update["topic"] = json!("renamed via name");
        assert_eq!(c.put(&format!("/v2/room/{}", enc(name)), &update).await.status(), StatusCode::NO_CONTENT, "{name}");
        let topic = c.put(&format!("/v2/room/{}/topic", enc(name)), &json!({"topic": "t"})).await;
        assert_eq!(topic.status(), StatusCode::NO_CONTENT, "topic {name}");
        let sent = c.post(&format!("/v2/room/{}/notification", enc(name)), &json!({"message": "m"})).await;
        assert_eq!(sent.status(), StatusCode::NO_CONTENT, "notify {name}");
        assert_eq!(c.delete(&format!("/v2/room/{}", enc(name))).await.status(), StatusCode::NO_CONTENT, "{name}");
        assert_eq!(c.get(&format!("/v2/room/{id}")).await.status(), StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn plus_is_a_literal_plus_not_a_space() {
    let c = ctx().await;
    c.room("a b");
    let response = c.get("/v2/room/a+b").await;
    assert_eq!(error(response, StatusCode::NOT_FOUND).await["message"], "Room 'a+b' not found");
    let plus = c.room("a+b");
    assert_eq!(json(c.get("/v2/room/a+b").await).await["id"], plus);
    assert_eq!(json(c.get("/v2/room/a%2Bb").await).await["id"], plus);
}

#[tokio::test]
async fn update_replaces_all_six_fields() {
    let c = ctx().await;
    let id = c.room("Ops");
    let before = json(c.get(&format!("/v2/room/{id}")).await).await;
    let body = json!({"name": "Ops 2", "privacy": "private", "is_archived": true, "is_guest_accessible": false,
        "topic": "New topic", "owner": {"id": "@demo"}});
    let response = c.put(&format!("/v2/room/{id}"), &body).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(header(&response, "x-ratelimit-remaining").is_some());
    let after = json(c.get(&format!("/v2/room/{id}")).await).await;
    assert_eq!(after["name"], "Ops 2");
    assert_eq!(after["privacy"], "private");
    assert_eq!(after["is_archived"], true);
    assert_eq!(after["topic"], "New topic");
    assert_ne!(after["version"], before["version"]);

    let owner = c
        .put(
            &format!("/v2/room/{id}"),
            &json!({"name": "Ops 2", "privacy": "private", "is_archived": false,
        "is_guest_accessible": false, "topic": "", "owner": {"id": "77"}}),
        )
        .await;
    assert_eq!(owner.status(), StatusCode::NO_CONTENT);
    assert_eq!(json(c.get(&format!("/v2/room/{id}")).await).await["owner"]["id"], 77);
}

#[tokio::test]
async fn update_requires_each_field() {
    let c = ctx().await;
    let id = c.room("Ops");
    for field in ["name", "privacy", "is_archived", "is_guest_accessible", "topic", "owner"] {
        let mut body = full_update("Ops");
        body.as_object_mut().map(|o| o.remove(field));
        let err = invalid(c.put(&format!("/v2/room/{id}"), &body).await, field, "required").await;
        assert!(err["message"].as_str().is_some_and(|m| m.contains(field)), "{err}");
    }
    let mut body = full_update("Ops");
    body["is_archived"] = json!("false");
    invalid(c.put(&format!("/v2/room/{id}"), &body).await, "is_archived", "type").await;
    let mut body = full_update("x".repeat(51).as_str());
    body["topic"] = json!("t");
    invalid(c.put(&format!("/v2/room/{id}"), &body).await, "name", "length").await;
    let mut body = full_update("Ops");
    body["owner"] = json!({});
    invalid(c.put(&format!("/v2/room/{id}"), &body).await, "owner.id", "required").await;
    let mut body = full_update("Ops");
    body["owner"] = json!(5);
    invalid(c.put(&format!("/v2/room/{id}"), &body).await, "owner", "type").await;
    let mut body = full_update("Ops");
    body["privacy"] = json!("hidden");
    invalid(c.put(&format!("/v2/room/{id}"), &body).await, "privacy", "choice").await;
}

#[tokio::test]
async fn update_keeps_names_unique_but_allows_renaming_itself() {
    let c = ctx().await;
    let ops = c.room("Ops");
    c.room("Dev");
    let err = error(c.put(&format!("/v2/room/{ops}"), &full_update("dev")).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(err["message"], "Another room exists with that name.");
    assert_eq!(c.put(&format!("/v2/room/{ops}"), &full_update("OPS")).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(json(c.get(&format!("/v2/room/{ops}")).await).await["name"], "OPS");
}

fn is_guest_url(c: &common::Ctx, url: &Value) -> bool {
    let prefix = format!("{}/g", c.base());
    url.as_str()
        .and_then(|u| u.strip_prefix(&prefix))
        .is_some_and(|code| code.len() == 8 && code.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[tokio::test]
async fn guest_access_url_is_new_on_each_enable_and_null_when_off() {
    let c = ctx().await;
    let id = c.room("Ops");
    let path = format!("/v2/room/{id}");
    let mut on = full_update("Ops");
    on["is_guest_accessible"] = json!(true);
    assert_eq!(c.put(&path, &on).await.status(), StatusCode::NO_CONTENT);
    let first = json(c.get(&path).await).await;
    assert!(is_guest_url(&c, &first["guest_access_url"]), "{}", first["guest_access_url"]);
    assert_eq!(first["is_guest_accessible"], true);
    // Staying on keeps the URL.
    assert_eq!(c.put(&path, &on).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(json(c.get(&path).await).await["guest_access_url"], first["guest_access_url"]);

    assert_eq!(c.put(&path, &full_update("Ops")).await.status(), StatusCode::NO_CONTENT);
    let off = json(c.get(&path).await).await;
    assert_eq!((off["guest_access_url"].clone(), off["is_guest_accessible"].clone()), (Value::Null, json!(false)));
    assert_eq!(c.running.sim().rooms()[0].guest_access_url, None);

    assert_eq!(c.put(&path, &on).await.status(), StatusCode::NO_CONTENT);
    let second = json(c.get(&path).await).await;
    assert!(is_guest_url(&c, &second["guest_access_url"]));
    assert_ne!(second["guest_access_url"], first["guest_access_url"]);
    assert_eq!(c.running.sim().rooms()[0].guest_access_url.as_deref(), second["guest_access_url"].as_str());
}

#[tokio::test]
async fn guest_page_asks_for_a_name_then_shows_the_room() {
    let c = ctx().await;
    let id = c.room_spec(RoomSpec {
        name: "Ops <team>".into(),
        topic: Some("Deploys & incidents".into()),
        guest_access: Some(true),
        ..RoomSpec::default()
    });
    let note = json!({"message": "<b>Build</b> passed", "from": "CI"});
    let sent = c.post(&format!("/v2/room/{id}/notification"), &note).await;
    assert_eq!(sent.status(), StatusCode::NO_CONTENT);
    let url = c.running.sim().rooms()[0].guest_access_url.clone().unwrap_or_default();
    let code = url.rsplit('/').next().unwrap_or_default().to_owned();

    let form = client().get(format!("{url}?name=%3Cscript%3E%22Bob%22")).send().await.expect("GET");
    assert_eq!(form.status(), StatusCode::OK);
    assert_eq!(header(&form, "content-type").as_deref(), Some("text/html; charset=utf-8"));
    let html = form.text().await.expect("text");
    assert!(html.contains("value=\"&lt;script&gt;&quot;Bob&quot;\""), "{html}");
    assert!(html.contains("Join room"));
    assert!(html.contains(&format!("action=\"/{code}\"")));
    assert!(html.contains("Ops &lt;team&gt;"));
    assert!(!html.contains("<script>"));

    let joined = client().post(&url).header("content-type", FORM).body("name=Bob+%3Cb%3E").send().await.expect("POST");
    assert_eq!(joined.status(), StatusCode::OK);
    let html = joined.text().await.expect("text");
    assert!(html.contains("Ops &lt;team&gt;"));
    assert!(html.contains("Deploys &amp; incidents"));
    assert!(html.contains("&lt;b&gt;Build&lt;/b&gt; passed"));
    assert!(html.contains("Bob &lt;b&gt; (guest)"));

    let by_get = client().get(format!("{url}?join=1&name=Eve")).send().await.expect("GET");
    assert!(by_get.text().await.expect("text").contains("Eve (guest)"));
    let no_name = client().post(&url).header("content-type", FORM).body("name=+").send().await.expect("POST");
    assert!(no_name.text().await.expect("text").contains("Please enter your name"));

    // Turning guest access off kills the link.
    assert_eq!(c.put(&format!("/v2/room/{id}"), &full_update("Ops <team>")).await.status(), StatusCode::NO_CONTENT);
    let gone = client().get(&url).send().await.expect("GET");
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert!(header(&gone, "content-type").is_some_and(|t| t.starts_with("text/html")));
    assert_eq!(client().get(c.url("/gZZZZZZZZ")).send().await.expect("GET").status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_web_client_room_page_shows_the_room_to_staff() {
    let c = ctx().await;
    let id = c.room_spec(RoomSpec { name: "Chat <Ann>".into(), guest_access: Some(true), ..RoomSpec::default() });
    let note = json!({"message": "<i>hello</i> & welcome", "message_format": "html"});
    assert_eq!(c.post(&format!("/v2/room/{id}/notification"), &note).await.status(), StatusCode::NO_CONTENT);
    let page = client().get(c.url(&format!("/chat/room/{id}"))).send().await.expect("GET");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("text");
    assert!(html.contains("<h1>Chat &lt;Ann&gt;</h1>"), "{html}");
    assert!(html.contains("&lt;i&gt;hello&lt;/i&gt; &amp; welcome"), "{html}");
    assert!(html.contains("guest access on: <a href=\""), "{html}");
    let missing = client().get(c.url("/chat/room/999")).send().await.expect("GET");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let post = client().post(c.url(&format!("/chat/room/{id}"))).send().await.expect("POST");
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn delete_and_topic() {
    let c = ctx().await;
    let id = c.room("Ops");
    let before = json(c.get(&format!("/v2/room/{id}")).await).await;
    assert_eq!(
        c.put(&format!("/v2/room/{id}/topic"), &json!({"topic": "t".repeat(250)})).await.status(),
        StatusCode::NO_CONTENT
    );
    let after = json(c.get(&format!("/v2/room/{id}")).await).await;
    assert_eq!(after["topic"], "t".repeat(250));
    assert_ne!(after["version"], before["version"]);
    invalid(c.put(&format!("/v2/room/{id}/topic"), &json!({"topic": "t".repeat(251)})).await, "topic", "length").await;
    invalid(c.put(&format!("/v2/room/{id}/topic"), &json!({})).await, "topic", "required").await;
    invalid(c.put(&format!("/v2/room/{id}/topic"), &json!({"topic": 1})).await, "topic", "type").await;

    let response = c.delete(&format!("/v2/room/{id}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(c.running.sim().rooms().is_empty());
    assert_eq!(c.get(&format!("/v2/room/{id}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(c.delete(&format!("/v2/room/{id}")).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let c = ctx().await;
    let err = error(c.get("/v2/nothing/here").await, StatusCode::NOT_FOUND).await;
    assert_eq!(err["message"], "Resource not found");
    let response = c.req(Method::PATCH, "/v2/room").send().await.expect("PATCH");
    assert_eq!(header(&response, "allow").as_deref(), Some("GET, POST"));
    error(response, StatusCode::METHOD_NOT_ALLOWED).await;
    let response = c.get("/v2/room/1/notification").await;
    error(response, StatusCode::METHOD_NOT_ALLOWED).await;
    error(client().get(c.url("/elsewhere")).send().await.expect("GET"), StatusCode::NOT_FOUND).await;
}
