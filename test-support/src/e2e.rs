//! For end-to-end tests against the local stack (`make test`): a client that signs its
//! requests as dynaBOARD does and calls the local gateway. Not used by the functions.

use reqwest::header::HeaderMap;
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

use shared::domain::signature::{SIGNATURE_HEADER, SignedParts, TIMESTAMP_HEADER};

/// A variable the local stack exports; a clear failure when the stack is not running.
pub fn stack_var(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run through `make test` (it starts the local stack)"))
}

/// The signed API of the local stack (`API_BASE_URL`, `SIGNING_KEY`).
pub struct Api {
    pub base: String,
    pub key: String,
    client: Client,
}

/// What the API answered.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

impl Api {
    pub fn from_env() -> Self {
        Self::new(stack_var("API_BASE_URL"), stack_var("SIGNING_KEY"))
    }

    /// The API at `base`, signing with `key`.
    pub fn new(base: String, key: String) -> Self {
        shared::adapters::tls::install_crypto_provider();
        Self { base, key, client: Client::new() }
    }

    /// Sends `body` to `path` (with `?query`), signed unless `signed` is false, with extra headers.
    pub async fn send(&self, method: Method, path: &str, body: &str, signed: bool, extra: &[(&str, &str)]) -> Answer {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if signed {
            let (ts, sig) = crate::fresh_signature(
                &self.key,
                jiff::Timestamp::now().as_second(),
                &SignedParts { method: method.as_str(), path_and_query: path, body: body.as_bytes() },
            );
            req = req.header(TIMESTAMP_HEADER, ts.to_string()).header(SIGNATURE_HEADER, sig);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let resp = req.body(body.to_owned()).send().await.expect("the local gateway answers");
        Answer { status: resp.status(), headers: resp.headers().clone(), text: resp.text().await.unwrap_or_default() }
    }

    /// A signed call.
    pub async fn call(&self, method: Method, path: &str, body: &str) -> Answer {
        self.send(method, path, body, true, &[]).await
    }
}

/// A call to the stack's HipChat simulator control API (`HIPCHAT_URL` + `/_sim/...`);
/// fails the test unless it succeeds. Answers the JSON body (`null` when there is none).
pub async fn sim(method: Method, path: &str, body: Value) -> Value {
    let url = format!("{}{path}", stack_var("HIPCHAT_URL"));
    shared::adapters::tls::install_crypto_provider();
    let resp = Client::new().request(method, url).json(&body).send().await.expect("the simulator answers");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap_or(Value::Null)
}

/// The requests the simulator counted for `token`, per endpoint template (`GET /_sim/counters`).
pub async fn hipchat_requests(token: &str) -> std::collections::BTreeMap<String, u64> {
    let counters = sim(Method::GET, "/_sim/counters", Value::Null).await;
    let mut out = std::collections::BTreeMap::new();
    for row in counters["requests"].as_array().into_iter().flatten() {
        if row["token"].as_str() == Some(token) {
            *out.entry(row["endpoint"].as_str().unwrap_or("?").to_owned()).or_default() +=
                row["count"].as_u64().unwrap_or(0);
        }
    }
    out
}

/// An `issue.created` portal event with id `id` by a customer, `{tag}` in the actor's name, the
/// company and the issue title: the body of `POST /events`.
pub fn issue_created_event(id: &str, tag: &str) -> String {
    serde_json::json!({"id": id, "type": "issue.created", "occurred_at": "2026-11-25T09:00:00Z",
        "actor": {"id": "u-ev", "first_name": "Eve", "last_name": tag, "email": "eve@e2e.example",
            "company": format!("{tag} & Co"), "role": "customer"},
        "issue": {"id": "ISS-1", "title": format!("{tag} {id}")}})
    .to_string()
}

/// Service-hours `days` open around the clock on all seven weekdays.
pub fn days_open_around_the_clock() -> serde_json::Map<String, Value> {
    let all = serde_json::json!([{"from": "00:00", "to": "24:00"}]);
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        .iter()
        .map(|d| ((*d).to_owned(), all.clone()))
        .collect()
}

/// A partner id no other test (or run) uses.
pub fn unique_partner(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{tag}-{}-{}", jiff::Timestamp::now().as_nanosecond() % 1_000_000_000_000, N.fetch_add(1, Ordering::SeqCst))
}

/// The caller name (SDK app name) of the calls a function's tests make themselves to arrange
/// and inspect data on moto: no function's name, so the local stack's IAM policy check
/// (infra/local/check_policies.py) does not count them as a function's calls.
pub const SETUP_APP: &str = "test-setup";

/// The DynamoDB store and Secrets Manager tokens of the local stack (moto), for tests that run
/// the real adapters. `app` names the caller (see
/// [`load_sdk_config`](shared::adapters::aws::load_sdk_config)): a function's handler tests pass
/// the function's name, so the local stack checks their calls against its IAM policy.
pub async fn moto_ports(
    app: &str,
) -> (shared::adapters::dynamo::DynamoStore, shared::adapters::secrets::SecretsManagerTokens) {
    stack_var("AWS_ENDPOINT_URL");
    let clients = shared::adapters::aws::AwsClients::new(&shared::adapters::aws::load_sdk_config(app).await);
    (
        shared::adapters::dynamo::DynamoStore::new(clients.dynamodb.clone(), stack_var("TABLE_NAME")),
        shared::adapters::secrets::SecretsManagerTokens::new(clients.secrets.clone(), stack_var("SECRET_PREFIX")),
    )
}
