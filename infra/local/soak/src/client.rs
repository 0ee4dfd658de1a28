//! The signed API client of the soak: every attempt is signed afresh at send time, and a
//! transport failure is an outcome (counted), not a panic.

use std::time::{Duration, Instant};

use reqwest::{Client, Method};
use shared::domain::signature::{SIGNATURE_HEADER, SignedParts, TIMESTAMP_HEADER, sign};

/// Longer than any function's timeout (29 s) plus the gateway's hop.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(45);

/// The local gateway, signing with the stack's key.
pub struct Api {
    base: String,
    key: String,
    http: Client,
}

/// What one attempt got.
#[derive(Debug)]
pub enum Outcome {
    Reply(Reply),
    /// No HTTP answer (connection refused or reset, timeout); the error's kind only.
    Transport(&'static str),
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// `Retry-After` in whole seconds, when sent.
    pub retry_after: Option<u64>,
    pub etag: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The problem's `type` (`/problems/...`), if the body is a problem.
    pub fn problem_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or("").to_owned()
    }
}

impl Api {
    pub fn new(base: String, key: String) -> Self {
        shared::adapters::tls::install_crypto_provider();
        let http = Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .build()
            .unwrap_or_else(|e| panic!("the HTTP client cannot be built: {e}"));
        Self { base: base.trim_end_matches('/').to_owned(), key, http }
    }

    /// One signed attempt; answers the outcome and how long it took.
    pub async fn send(&self, method: &Method, path: &str, body: &str, if_match: Option<&str>) -> (Outcome, Duration) {
        let started = Instant::now();
        // Signed at send time: a retry is a new signature (the timestamp is part of it).
        let now = jiff::Timestamp::now().as_second();
        let signature = sign(
            self.key.as_bytes(),
            now,
            &SignedParts { method: method.as_str(), path_and_query: path, body: body.as_bytes() },
        );
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header(TIMESTAMP_HEADER, now.to_string())
            .header(SIGNATURE_HEADER, signature);
        if let Some(tag) = if_match {
            req = req.header("if-match", tag);
        }
        let outcome = match req.body(body.to_owned()).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                let retry_after = header("retry-after").and_then(|v| v.trim().parse().ok());
                let etag = header("etag");
                match resp.text().await {
                    Ok(body) => Outcome::Reply(Reply { status, retry_after, etag, body }),
                    Err(e) => Outcome::Transport(kind(&e)),
                }
            }
            Err(e) => Outcome::Transport(kind(&e)),
        };
        (outcome, started.elapsed())
    }
}

fn kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    }
}
