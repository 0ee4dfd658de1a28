//! Local stand-in for the HTTP API (API Gateway v2, payload format 2.0).
//!
//! Listens on one base URL, matches `METHOD /path` against the same routes the SAM
//! template declares, builds the payload-format-2.0 event API Gateway would send, invokes
//! the function through `cargo lambda watch`'s Invoke API, and turns the function's answer
//! back into an HTTP response. So a client sees the same URLs and the functions see the
//! same events locally as in the cloud.

mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Parser;
use serde_json::{Map, Value, json};

/// API Gateway's payload limit (10 MB); our functions refuse more than 64 KiB themselves.
const MAX_BODY: usize = 10 * 1024 * 1024;

#[derive(Parser, Debug)]
#[command(about = "Local HTTP API: routes /v1/... to the functions served by `cargo lambda watch`")]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "GATEWAY_LISTEN", default_value = "127.0.0.1:9100")]
    listen: SocketAddr,
    /// Base URL of `cargo lambda watch`'s Invoke API.
    #[arg(long, env = "LAMBDA_INVOKE_URL", default_value = "http://127.0.0.1:9000")]
    lambda: String,
    /// How long to wait for a function (the first call may start it).
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
}

struct AppState {
    client: reqwest::Client,
    lambda: String,
    next_id: AtomicU64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    // reqwest takes the process's rustls provider (the workspace builds it without one).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(args.timeout_secs)).build()?;
    let state =
        Arc::new(AppState { client, lambda: args.lambda.trim_end_matches('/').to_owned(), next_id: AtomicU64::new(1) });
    let app = Router::new().fallback(forward).with_state(state);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, "local gateway ready");
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn gateway_message(status: StatusCode, message: &str) -> Response {
    (status, [("content-type", "application/json")], json!({ "message": message }).to_string()).into_response()
}

async fn forward(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_owned();
    let raw_path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    let Some(route) = routes::match_route(&method, &raw_path) else {
        return gateway_message(StatusCode::NOT_FOUND, "Not Found");
    };
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return gateway_message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
        }
    };
    let id = state.next_id.fetch_add(1, Ordering::Relaxed);
    let event = build_event(&route, &method, &raw_path, &raw_query, &parts.headers, &body, id);
    let url = format!("{}/2015-03-31/functions/{}/invocations", state.lambda, route.function);
    let started = std::time::Instant::now();
    let answer = match state.client.post(&url).json(&event).send().await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(function = route.function, error = %e, "invoke failed");
            return gateway_message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
        }
    };
    let invoke_status = answer.status();
    let payload: Value = match answer.json().await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(function = route.function, error = %e, "function answer is not JSON");
            return gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    let resp = into_http_response(invoke_status, &payload);
    tracing::info!(%method, path = %raw_path, function = route.function, status = resp.status().as_u16(), ms = started.elapsed().as_millis() as u64, "forwarded");
    resp
}

/// Adds `value` under `key`, joining repeated keys with commas as API Gateway does.
fn append_joined(map: &mut Map<String, Value>, key: String, value: String) {
    match map.get_mut(&key) {
        Some(Value::String(existing)) => {
            existing.push(',');
            existing.push_str(&value);
        }
        _ => {
            map.insert(key, Value::String(value));
        }
    }
}

fn build_event(
    route: &routes::Matched,
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    body: &Bytes,
    id: u64,
) -> Value {
    // API Gateway lower-cases header names and joins repeated headers with commas.
    let mut hmap: Map<String, Value> = Map::new();
    for (name, value) in headers {
        append_joined(&mut hmap, name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    let mut query: Map<String, Value> = Map::new();
    for (k, v) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        append_joined(&mut query, k.into_owned(), v.into_owned());
    }
    let (body_value, is_b64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => (Value::String(B64.encode(body)), true),
    };
    let now = jiff::Timestamp::now();
    let route_key = format!("{method} {}", route.template);
    let user_agent = headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": hmap,
        "pathParameters": route.params,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("localhost"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": user_agent
            },
            "requestId": format!("local-{id}"),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.as_millisecond()
        },
        "isBase64Encoded": is_b64
    });
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !body_value.is_null() {
        event["body"] = body_value;
    }
    event
}

/// The function's payload-format-2.0 answer as an HTTP response; a function error is a
/// 500 "Internal Server Error", as API Gateway answers.
fn into_http_response(invoke_status: reqwest::StatusCode, payload: &Value) -> Response {
    let Some(status) = payload.get("statusCode").and_then(Value::as_u64) else {
        tracing::error!(%invoke_status, error_type = %payload.get("errorType").unwrap_or(&serde_json::Value::Null), "function failed");
        return gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let mut builder =
        Response::builder().status(StatusCode::from_u16(status as u16).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    if let Some(h) = builder.headers_mut() {
        for (name, value) in payload.get("headers").and_then(Value::as_object).into_iter().flatten() {
            if let (Ok(n), Some(Ok(v))) =
                (HeaderName::try_from(name.as_str()), value.as_str().map(HeaderValue::from_str))
            {
                h.append(n, v);
            }
        }
        for (name, values) in payload.get("multiValueHeaders").and_then(Value::as_object).into_iter().flatten() {
            let Ok(n) = HeaderName::try_from(name.as_str()) else {
                continue;
            };
            if h.contains_key(&n) {
                continue;
            }
            for v in values.as_array().into_iter().flatten().filter_map(Value::as_str) {
                if let Ok(v) = HeaderValue::from_str(v) {
                    h.append(n.clone(), v);
                }
            }
        }
        for c in payload.get("cookies").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if let Ok(v) = HeaderValue::from_str(c) {
                h.append("set-cookie", v);
            }
        }
    }
    let body = match payload.get("body").and_then(Value::as_str) {
        None => Body::empty(),
        Some(b) if payload.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) => {
            Body::from(B64.decode(b).unwrap_or_default())
        }
        Some(b) => Body::from(b.to_owned()),
    };
    builder.body(body).unwrap_or_else(|_| gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"))
}
