//! HTTP glue for `lambda_http`: request signature check, routing of the partner path,
//! body limits, JSON parsing, and responses (JSON and RFC 9457 problems).

mod auth;
mod lambda;
pub mod request;

pub use auth::Authenticator;
pub use lambda::{SafeEvents, make_safe, run};

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::Value;

use jiff::{SignedDuration, Timestamp};

use crate::domain::partner::PartnerId;
use crate::domain::signature::MAX_SKEW_SECS;
use crate::error::{AppError, Problem};
use crate::ports::{Precondition, SignatureLedger, SigningKeySource};

/// Bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const PROBLEM_JSON: &str = "application/problem+json";
pub const JSON: &str = "application/json";

/// The path and `?query` of a request exactly as the client sent it (what is signed).
pub fn signed_path(req: &Request) -> String {
    let path = route_path(req);
    match req.uri().query() {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    }
}

/// The request path without query (what we route on).
pub fn route_path(req: &Request) -> &str {
    let raw = req.raw_http_path();
    if raw.is_empty() { req.uri().path() } else { raw }
}

/// Splits `/v1/partners/{partner_id}/<rest>` into the validated partner id and `<rest>`
/// (without leading slash). `None` when the path is not under `/v1/partners/`.
pub fn partner_route(path: &str) -> Option<Result<(PartnerId, &str), AppError>> {
    let tail = path.strip_prefix("/v1/partners/")?;
    let (id, rest) = tail.split_once('/').unwrap_or((tail, ""));
    Some(match PartnerId::parse(id) {
        Ok(p) => Ok((p, rest)),
        Err(m) => Err(AppError::validation("partner_id", m)),
    })
}

/// 404 for a path no handler serves.
pub fn no_such_resource() -> AppError {
    AppError::NotFound("There is no such resource.".into())
}

/// Whether an endpoint refuses a second use of a request signature (docs/api.md "Replayed
/// requests").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replays {
    /// A signed request whose method is not safe (GET, HEAD) is served once; a replay within
    /// the signature's window gets the same 401 as a bad signature.
    Refused,
    /// The endpoint makes a repeat harmless by itself (an event is delivered once per id), so a
    /// replay is answered like the first request and costs no extra write.
    Harmless,
}

/// What every handler does first: checks the signature (401 before anything is parsed) and,
/// under [`Replays::Refused`], that it is its first use; then splits the partner route (404
/// outside `/v1/partners/`, 422 for a bad id) and records the partner id in the current span.
pub async fn signed_partner_route<'r, K: SigningKeySource, L: SignatureLedger>(
    auth: &Authenticator<K>,
    ledger: &L,
    replays: Replays,
    req: &'r Request,
    now: Timestamp,
) -> Result<(PartnerId, &'r str), AppError> {
    let tag = auth.verify(req, now.as_second()).await?;
    if replays == Replays::Refused && !req.method().is_safe() {
        // Kept while the timestamp can still be accepted: it is at most MAX_SKEW_SECS ahead of
        // now, and accepted until MAX_SKEW_SECS after itself.
        let keep_until = now + SignedDuration::from_secs(2 * MAX_SKEW_SECS + 1);
        if !ledger.first_use(&tag, keep_until, now).await? {
            return Err(auth::refused("replayed"));
        }
    }
    let (partner, rest) = partner_route(route_path(req)).ok_or_else(no_such_resource)??;
    tracing::Span::current().record("partner_id", partner.as_str());
    Ok((partner, rest))
}

/// The body as bytes, refused with 413 above [`MAX_BODY_BYTES`].
pub fn body_bytes(req: &Request) -> Result<&[u8], AppError> {
    let b: &[u8] = req.body().as_ref();
    if b.len() > MAX_BODY_BYTES {
        return Err(AppError::PayloadTooLarge { limit: MAX_BODY_BYTES });
    }
    Ok(b)
}

/// Parses the body as JSON (size-checked first). Malformed JSON is a 422 naming `(body)`.
pub fn json_body(req: &Request) -> Result<Value, AppError> {
    let bytes = body_bytes(req)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::validation("(body)", "a JSON body is required"));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Eof => "ends too early",
            serde_json::error::Category::Syntax => "is not valid JSON",
            serde_json::error::Category::Data => "is not valid JSON",
            serde_json::error::Category::Io => "could not be read",
        };
        AppError::validation("(body)", format!("the body {what} (line {}, column {})", e.line(), e.column()))
    })
}

/// Like [`json_body`], but an empty body reads as `{}` (for endpoints whose body is optional).
pub fn optional_json_body(req: &Request) -> Result<Value, AppError> {
    if body_bytes(req)?.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    json_body(req)
}

/// Reads `If-Match`: absent → no precondition; `*` → must exist; otherwise the listed
/// strong entity tags `"<version>"` (weak or non-numeric tags can never match).
pub fn if_match(req: &Request) -> Precondition {
    let Some(raw) = req.headers().get(header::IF_MATCH) else {
        return Precondition::None;
    };
    let Ok(raw) = raw.to_str() else {
        return Precondition::Versions(Vec::new());
    };
    if raw.trim() == "*" {
        return Precondition::Exists;
    }
    let versions = raw
        .split(',')
        .take(10)
        .filter_map(|tag| tag.trim().strip_prefix('"')?.strip_suffix('"')?.parse::<u64>().ok())
        .collect();
    Precondition::Versions(versions)
}

/// The `ETag` value of a settings version.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

fn base(status: StatusCode, content_type: &'static str) -> lambda_http::http::response::Builder {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store")
}

/// A JSON response, with extra headers.
pub fn json_response<T: Serialize>(
    status: StatusCode,
    body: &T,
    headers: &[(header::HeaderName, String)],
) -> Response<Body> {
    match serde_json::to_string(body) {
        Ok(text) => {
            let mut b = base(status, JSON);
            for (name, value) in headers {
                if let Ok(v) = HeaderValue::from_str(value) {
                    b = b.header(name, v);
                }
            }
            b.body(Body::Text(text)).unwrap_or_else(|_| fallback_500())
        }
        Err(e) => problem_response(&AppError::internal(e)),
    }
}

/// 204 No Content.
pub fn no_content() -> Response<Body> {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Empty)
        .unwrap_or_else(|_| fallback_500())
}

/// The problem response for an error (the one mapping lives in [`Problem::from`]).
pub fn problem_response(e: &AppError) -> Response<Body> {
    let p = Problem::from(e);
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut b = base(status, PROBLEM_JSON);
    if let Some(allow) = p.allow {
        b = b.header(header::ALLOW, allow);
    }
    if let Some(secs) = p.retry_after {
        b = b.header(header::RETRY_AFTER, secs.to_string());
    }
    if status == StatusCode::UNAUTHORIZED {
        b = b.header(header::WWW_AUTHENTICATE, "Dynaboard-HMAC-SHA256");
    }
    let text = serde_json::to_string(&p).unwrap_or_else(|_| String::from("{}"));
    b.body(Body::Text(text)).unwrap_or_else(|_| fallback_500())
}

fn fallback_500() -> Response<Body> {
    let mut r = Response::new(Body::Text(r#"{"type":"/problems/internal","title":"Internal Server Error","status":500,"detail":"An internal error occurred; it has been logged."}"#.into()));
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    r
}

/// Turns a handler's result into the response and logs one line per request (method, path,
/// status; never headers, query or body).
pub fn finish(req: &Request, result: Result<Response<Body>, AppError>) -> Response<Body> {
    let resp = match result {
        Ok(r) => r,
        Err(e) => problem_response(&e),
    };
    let status = resp.status().as_u16();
    let path = route_path(req);
    if status >= 500 {
        tracing::error!(method = %req.method(), path, status, "request failed");
    } else {
        tracing::info!(method = %req.method(), path, status, "request");
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req_with(if_match: &str) -> Request {
        let mut r = Request::default();
        r.headers_mut().insert(header::IF_MATCH, HeaderValue::from_str(if_match).unwrap());
        r
    }

    #[test]
    fn partner_routes() {
        let (p, rest) = partner_route("/v1/partners/p1/settings").unwrap().unwrap();
        assert_eq!((p.as_str(), rest), ("p1", "settings"));
        let (_, rest) = partner_route("/v1/partners/p1").unwrap().unwrap();
        assert_eq!(rest, "");
        assert!(partner_route("/v2/partners/p1/settings").is_none());
        assert!(matches!(partner_route("/v1/partners/a%20b/settings"), Some(Err(AppError::Validation(_)))));
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(if_match(&Request::default()), Precondition::None);
        assert_eq!(if_match(&req_with("*")), Precondition::Exists);
        assert_eq!(if_match(&req_with("\"3\"")), Precondition::Versions(vec![3]));
        assert_eq!(if_match(&req_with("\"3\", \"4\"")), Precondition::Versions(vec![3, 4]));
        assert_eq!(if_match(&req_with("W/\"3\"")), Precondition::Versions(vec![]));
        assert_eq!(if_match(&req_with("3")), Precondition::Versions(vec![]));
    }

    #[test]
    fn problems_have_the_problem_content_type() {
        let r = problem_response(&AppError::MethodNotAllowed { allow: "GET, PUT" });
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(r.headers()[header::ALLOW], "GET, PUT");
    }
}
