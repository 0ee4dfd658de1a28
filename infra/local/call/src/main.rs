//! `call`: signs and sends a request to the API, or re-signs an event file.
//!
//! ```text
//! call GET /v1/partners/demo/settings
//! call PUT /v1/partners/demo/settings @settings.json
//! call PUT /v1/partners/demo/token '{"token": "..."}'
//! call --sign-event events/settings.get.json > /tmp/event.json
//! ```
//! The base URL and key come from `--base-url`/`--key`, else `API_BASE_URL`/`SIGNING_KEY`,
//! else `.local/stack.env` (written by `make run`), searched upwards from the current folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Parser;
use serde_json::Value;
use shared::domain::signature::{SIGNATURE_HEADER, SignedParts, TIMESTAMP_HEADER, sign};

#[derive(Parser, Debug)]
#[command(about = "Sign and send a request to the dynaBOARD ↔ HipChat API (or re-sign an event file)")]
struct Args {
    /// HTTP method, e.g. GET, PUT, DELETE.
    method: Option<String>,
    /// Path with optional query, e.g. /v1/partners/demo/settings.
    path: Option<String>,
    /// Body: JSON text, or @file to read it from a file.
    body: Option<String>,
    /// Base URL of the API (default: API_BASE_URL, else .local/stack.env).
    #[arg(long)]
    base_url: Option<String>,
    /// Signing key (default: SIGNING_KEY, else .local/stack.env).
    #[arg(long)]
    key: Option<String>,
    /// Extra request header NAME:VALUE (repeatable), e.g. -H 'If-Match: "3"'.
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// Send without signature headers (to see the 401).
    #[arg(long)]
    unsigned: bool,
    /// Exit with status 1 when the answer is not 2xx.
    #[arg(long)]
    fail: bool,
    /// Print only the body.
    #[arg(short, long)]
    quiet: bool,
    /// Print this API Gateway v2 event file with a fresh timestamp and signature, instead of sending.
    #[arg(long, value_name = "FILE")]
    sign_event: Option<PathBuf>,
}

/// Prints a line; a closed pipe (`call ... | head`) just ends the output.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

fn stack_env() -> HashMap<String, String> {
    let mut dir = std::env::current_dir().ok();
    while let Some(d) = dir {
        let f = d.join(".local/stack.env");
        if let Ok(text) = std::fs::read_to_string(&f) {
            return text
                .lines()
                .filter_map(|l| l.trim().strip_prefix("export ").unwrap_or(l.trim()).split_once('='))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('\'').trim_matches('"').to_owned()))
                .collect();
        }
        dir = d.parent().map(Path::to_path_buf);
    }
    HashMap::new()
}

fn setting(flag: Option<String>, var: &str, file: &HashMap<String, String>) -> Option<String> {
    flag.or_else(|| std::env::var(var).ok().filter(|v| !v.is_empty())).or_else(|| file.get(var).cloned())
}

fn read_body(arg: Option<String>) -> Result<String, String> {
    match arg {
        None => Ok(String::new()),
        Some(a) => match a.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}")),
            None => Ok(a),
        },
    }
}

/// Sets `x-dynaboard-timestamp` and `x-dynaboard-signature` of a payload-format-2.0 event.
fn sign_event(event: &mut Value, key: &str, now: i64) -> Result<(), String> {
    let method = event
        .pointer("/requestContext/http/method")
        .and_then(Value::as_str)
        .ok_or("event has no requestContext.http.method")?
        .to_owned();
    let raw_path = event.get("rawPath").and_then(Value::as_str).ok_or("event has no rawPath")?.to_owned();
    let query = event.get("rawQueryString").and_then(Value::as_str).unwrap_or("");
    let path = if query.is_empty() { raw_path } else { format!("{raw_path}?{query}") };
    let body: Vec<u8> = match event.get("body").and_then(Value::as_str) {
        None => Vec::new(),
        Some(b) if event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) => {
            B64.decode(b).map_err(|e| format!("body is not base64: {e}"))?
        }
        Some(b) => b.as_bytes().to_vec(),
    };
    let sig = sign(key.as_bytes(), now, &SignedParts { method: &method, path_and_query: &path, body: &body });
    let headers = event
        .as_object_mut()
        .ok_or("event is not an object")?
        .entry("headers")
        .or_insert_with(|| Value::Object(Default::default()));
    let headers = headers.as_object_mut().ok_or("event headers are not an object")?;
    headers.insert(TIMESTAMP_HEADER.into(), Value::String(now.to_string()));
    headers.insert(SIGNATURE_HEADER.into(), Value::String(sig));
    Ok(())
}

async fn run(args: Args) -> Result<ExitCode, String> {
    let file = stack_env();
    let key = setting(args.key.clone(), "SIGNING_KEY", &file);
    let now = jiff::Timestamp::now().as_second();
    if let Some(path) = &args.sign_event {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut event: Value =
            serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        sign_event(&mut event, &key.ok_or("no signing key: pass --key, set SIGNING_KEY, or run `make run`")?, now)?;
        out!("{}", serde_json::to_string_pretty(&event).map_err(|e| e.to_string())?);
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(method), Some(path)) = (args.method.clone(), args.path.clone()) else {
        return Err("usage: call METHOD PATH [BODY|@file]   (see --help)".into());
    };
    let method = method.to_uppercase();
    let base = setting(args.base_url.clone(), "API_BASE_URL", &file)
        .ok_or("no base URL: pass --base-url, set API_BASE_URL, or run `make run`")?;
    let body = read_body(args.body.clone())?;
    let url = format!("{}{}", base.trim_end_matches('/'), path);
    shared::adapters::tls::install_crypto_provider();
    let client = reqwest::Client::new();
    let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = client.request(m, &url).header("content-type", "application/json");
    if !args.unsigned {
        let key = key.ok_or("no signing key: pass --key, set SIGNING_KEY, or run `make run`")?;
        // Sign what is sent: the path and query as reqwest will put them on the wire.
        let parsed = reqwest::Url::parse(&url).map_err(|e| format!("bad URL {url}: {e}"))?;
        let signed_path = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_owned(),
        };
        let sig = sign(
            key.as_bytes(),
            now,
            &SignedParts { method: &method, path_and_query: &signed_path, body: body.as_bytes() },
        );
        req = req.header(TIMESTAMP_HEADER, now.to_string()).header(SIGNATURE_HEADER, sig);
    }
    for h in &args.headers {
        let (n, v) = h.split_once(':').ok_or_else(|| format!("header {h:?} is not NAME:VALUE"))?;
        req = req.header(n.trim(), v.trim());
    }
    if !body.is_empty() {
        req = req.body(body);
    }
    let resp = req.send().await.map_err(|e| format!("request to {url} failed: {e}"))?;
    let status = resp.status();
    if !args.quiet {
        out!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
        for name in ["content-type", "etag", "location", "retry-after", "allow"] {
            if let Some(v) = resp.headers().get(name).and_then(|v| v.to_str().ok()) {
                out!("{name}: {v}");
            }
        }
    }
    let text = resp.text().await.map_err(|e| e.to_string())?;
    if !text.is_empty() {
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => out!("{}", serde_json::to_string_pretty(&v).unwrap_or(text)),
            Err(_) => out!("{text}"),
        }
    }
    Ok(if args.fail && !status.is_success() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("call: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signs_an_event_like_the_server_checks_it() {
        let mut event = json!({
            "rawPath": "/v1/partners/demo/rooms", "rawQueryString": "q=sup",
            "requestContext": {"http": {"method": "GET"}}, "headers": {}
        });
        sign_event(&mut event, "k", 1_790_000_000).unwrap();
        let expected = sign(
            b"k",
            1_790_000_000,
            &SignedParts { method: "GET", path_and_query: "/v1/partners/demo/rooms?q=sup", body: b"" },
        );
        assert_eq!(event["headers"][SIGNATURE_HEADER], expected);
        assert_eq!(event["headers"][TIMESTAMP_HEADER], "1790000000");
    }
}
