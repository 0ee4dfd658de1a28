//! A recording proxy in front of an upstream (moto, the HipChat simulator): the functions
//! are pointed at it, and it notes each call's operation and how long the function waited
//! for it (from the request's arrival here to the answer leaving: the upstream's own time
//! plus one loopback hop through this proxy).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

/// Which upstream a call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Upstream {
    DynamoDb,
    SecretsManager,
    Hipchat,
}

/// One upstream call.
#[derive(Debug, Clone)]
pub struct Span {
    pub upstream: Upstream,
    /// `GetItem`, `GetSecretValue`, `POST /v2/room/{id}/notification`, ...
    pub operation: String,
    pub start: Instant,
    pub end: Instant,
}

/// Every call through every proxy, in order of completion.
#[derive(Default)]
pub struct Spans(Mutex<Vec<Span>>);

impl Spans {
    /// The calls that started and ended within `[from, to]`.
    pub fn within(&self, from: Instant, to: Instant) -> Vec<Span> {
        self.0.lock().expect("lock").iter().filter(|s| s.start >= from && s.end <= to).cloned().collect()
    }
}

struct Proxy {
    target: String,
    client: reqwest::Client,
    spans: Arc<Spans>,
    hipchat: bool,
}

/// Starts a proxy to `target` on a loopback port; answers its base URL.
pub async fn start(target: &str, hipchat: bool, spans: Arc<Spans>) -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    shared::adapters::tls::install_crypto_provider();
    let proxy = Arc::new(Proxy {
        target: target.trim_end_matches('/').to_owned(),
        client: reqwest::Client::builder().build().map_err(std::io::Error::other)?,
        spans,
        hipchat,
    });
    let app = Router::new().fallback(forward).with_state(proxy);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

async fn forward(State(proxy): State<Arc<Proxy>>, req: Request) -> Response {
    let start = Instant::now();
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 16 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let (upstream, operation) = if proxy.hipchat {
        (Upstream::Hipchat, format!("{} {}", parts.method, hipchat_template(parts.uri.path())))
    } else {
        aws_operation(&parts.headers)
    };
    let mut headers = parts.headers.clone();
    headers.remove("host");
    let sent = proxy
        .client
        .request(parts.method.clone(), format!("{}{path_and_query}", proxy.target))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let response = match sent {
        Ok(r) => {
            let status = r.status();
            let mut headers = r.headers().clone();
            for h in ["content-length", "transfer-encoding", "connection"] {
                headers.remove(h);
            }
            match r.bytes().await {
                Ok(bytes) => (status, headers, Body::from(bytes)).into_response(),
                Err(_) => StatusCode::BAD_GATEWAY.into_response(),
            }
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    };
    proxy.spans.0.lock().expect("lock").push(Span { upstream, operation, start, end: Instant::now() });
    response
}

/// `DynamoDB_20120810.GetItem` → (DynamoDB, `GetItem`); `secretsmanager.GetSecretValue` → ...
fn aws_operation(headers: &HeaderMap) -> (Upstream, String) {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("?.?");
    let (service, op) = target.split_once('.').unwrap_or((target, "?"));
    let upstream = if service.to_ascii_lowercase().starts_with("secretsmanager") {
        Upstream::SecretsManager
    } else {
        Upstream::DynamoDb
    };
    (upstream, op.to_owned())
}

/// A HipChat path with its ids, emails and tokens replaced: `/v2/room/{id}/notification`.
fn hipchat_template(path: &str) -> String {
    let mut out = Vec::new();
    let mut after_token = false;
    for segment in path.split('/') {
        let s = if after_token || segment.chars().all(|c| c.is_ascii_digit()) && !segment.is_empty() {
            "{id}"
        } else if segment.contains('@') || segment.contains("%40") {
            "{email}"
        } else {
            segment
        };
        after_token = segment == "token";
        out.push(s);
    }
    out.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hipchat_paths_become_templates() {
        assert_eq!(hipchat_template("/v2/room/42/notification"), "/v2/room/{id}/notification");
        assert_eq!(hipchat_template("/v2/oauth/token/abc"), "/v2/oauth/token/{id}");
        assert_eq!(hipchat_template("/v2/user/a%40b.example"), "/v2/user/{email}");
        assert_eq!(hipchat_template("/v2/room"), "/v2/room");
    }

    #[test]
    fn aws_targets_name_service_and_operation() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-target", "DynamoDB_20120810.Query".parse().unwrap());
        assert_eq!(aws_operation(&h), (Upstream::DynamoDb, "Query".to_owned()));
        h.insert("x-amz-target", "secretsmanager.GetSecretValue".parse().unwrap());
        assert_eq!(aws_operation(&h), (Upstream::SecretsManager, "GetSecretValue".to_owned()));
    }
}
