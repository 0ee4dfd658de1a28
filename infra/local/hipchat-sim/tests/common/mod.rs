//! Helpers shared by the integration tests: a simulator on a free port, a client, a token.

#![allow(dead_code)]

use hipchat_sim::{RoomSpec, RunningSim, SimConfig, TokenSpec};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

pub struct Ctx {
    pub running: RunningSim,
    pub http: Client,
    /// A personal token with all eight scopes, owned by the demo user.
    pub token: String,
}

pub fn client() -> Client {
    // reqwest takes the process's rustls provider (the workspace builds it without one).
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder().no_proxy().build().expect("http client")
}

pub async fn ctx() -> Ctx {
    ctx_with(SimConfig::default()).await
}

pub async fn ctx_with(config: SimConfig) -> Ctx {
    let running = hipchat_sim::start(config).await.expect("start simulator");
    let token = running.sim().create_token(TokenSpec::default());
    Ctx { running, http: client(), token }
}

impl Ctx {
    pub fn base(&self) -> &str {
        self.running.base_url()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// A request with the context's token as a bearer token.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(&self.token)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.req(Method::GET, path).send().await.expect("GET")
    }

    pub async fn send(&self, method: Method, path: &str, body: &Value) -> Response {
        self.req(method, path).json(body).send().await.expect("request")
    }

    pub async fn post_result(&self, path: &str, body: &Value) -> reqwest::Result<Response> {
        self.req(Method::POST, path).json(body).send().await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.send(Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.send(Method::PUT, path, body).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.req(Method::DELETE, path).send().await.expect("DELETE")
    }

    /// A token with just these scopes.
    pub fn token_with(&self, scopes: &[&str]) -> String {
        self.running.sim().create_token(TokenSpec {
            scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
            ..TokenSpec::default()
        })
    }

    pub fn room(&self, name: &str) -> u64 {
        self.running.sim().add_room(RoomSpec { name: name.to_owned(), ..RoomSpec::default() })
    }

    pub fn room_spec(&self, spec: RoomSpec) -> u64 {
        self.running.sim().add_room(spec)
    }
}

pub async fn json(response: Response) -> Value {
    response.json().await.expect("JSON body")
}

/// Assert the status and the HipChat error shape; return the `error` object.
pub async fn error(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "status");
    assert_eq!(header(&response, "content-type").as_deref(), Some("application/json"));
    let body = json(response).await;
    let error = body["error"].clone();
    assert_eq!(error["code"], status.as_u16(), "error.code in {body}");
    assert_eq!(error["type"], status.canonical_reason().unwrap_or_default(), "error.type in {body}");
    error
}

pub fn header(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

pub fn header_i64(response: &Response, name: &str) -> i64 {
    header(response, name).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("integer header {name}"))
}

pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Assert a 400 validation error; return it.
pub async fn invalid(response: Response, field: &str, validation: &str) -> Value {
    let error = error(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(error["field"], field, "field in {error}");
    assert_eq!(error["validation"], validation, "validation in {error}");
    error
}
