//! Running a handler under `lambda_http` without its panics on odd requests.
//!
//! `lambda_http` 1.3 turns a payload-format-2.0 event into an `http::Request` with
//! `Url::parse(..).unwrap()` and `.expect("failed to build request")`
//! (`lambda_http::request::into_api_gateway_v2_request`). Three parts of the event can make
//! that panic, before any of our code runs, and the panic is the caller's 500:
//! - `rawQueryString` with a byte `http::Uri` refuses in a query: a blank or control
//!   character, `"`, `<`, `>` or DEL. API Gateway passes the query string on as the client
//!   sent it (a client that does not percent-encode, e.g. `?q="x"`);
//! - a `Host` header (or `requestContext.domainName`) that is not a plain `host[:port]`;
//! - an `X-Forwarded-Proto` header that is not `http` or `https` (the URI's scheme).
//!
//! [`run`] is `lambda_http::run` with [`make_safe`] applied to each event first: those query
//! bytes are percent-encoded (a query `http::Uri` accepts is left byte for byte as it was), and
//! the two headers are dropped when they cannot be part of a URL (our handlers read neither).
//! The signature covers the query as the function sees it, so a request that signed such
//! bytes raw gets a 401, as any signature over something else does; a client that encodes
//! its query, as HTTP clients do, sees no difference.

use lambda_http::http::header::HOST;
use lambda_http::lambda_runtime::{self, Diagnostic, LambdaEvent, Service};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, IntoResponse, Request};
use std::task::{Context, Poll};

const X_FORWARDED_PROTO: &str = "x-forwarded-proto";

/// `lambda_http::run`, with [`make_safe`] applied to every event.
pub async fn run<'a, R, S, E>(handler: S) -> Result<(), lambda_http::Error>
where
    S: Service<Request, Response = R, Error = E>,
    S::Future: Send + 'a,
    R: IntoResponse,
    E: std::fmt::Debug + Into<Diagnostic>,
{
    lambda_runtime::run(SafeEvents(Adapter::from(handler))).await
}

/// Applies [`make_safe`] before the inner service (`lambda_http`'s adapter) converts the event.
pub struct SafeEvents<S>(pub S);

impl<S> Service<LambdaEvent<LambdaRequest>> for SafeEvents<S>
where
    S: Service<LambdaEvent<LambdaRequest>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut event: LambdaEvent<LambdaRequest>) -> Self::Future {
        make_safe(&mut event.payload);
        self.0.call(event)
    }
}

/// Makes an HTTP API (payload format 2.0) event one `lambda_http` converts without panicking.
pub fn make_safe(payload: &mut LambdaRequest) {
    let LambdaRequest::ApiGatewayV2(event) = payload else {
        return;
    };
    if let Some(query) = event.raw_query_string.as_mut()
        && let Some(encoded) = encode_for_uri(query)
    {
        tracing::info!("the query string had characters that must be percent-encoded; they were");
        *query = encoded;
    }
    let proto_ok = match event.headers.get(X_FORWARDED_PROTO) {
        None => true,
        Some(v) => v.to_str().is_ok_and(|p| p.eq_ignore_ascii_case("http") || p.eq_ignore_ascii_case("https")),
    };
    if !proto_ok {
        event.headers.remove(X_FORWARDED_PROTO);
    }
    // lambda_http takes the Host header if it is text, else `requestContext.domainName`.
    if let Some(host) = event.headers.get(HOST)
        && host.to_str().is_ok_and(|h| !is_plain_authority(h))
    {
        event.headers.remove(HOST);
    }
    if event.request_context.domain_name.as_deref().is_some_and(|h| !is_plain_authority(h)) {
        event.request_context.domain_name = None;
    }
}

/// The query with every byte `http::Uri` refuses in a query percent-encoded, or `None` when
/// there is none (the query stays exactly as it was).
fn encode_for_uri(query: &str) -> Option<String> {
    let refused = |b: u8| b <= b' ' || matches!(b, b'"' | b'<' | b'>' | 0x7f);
    if !query.bytes().any(refused) {
        return None;
    }
    let mut out = String::with_capacity(query.len() + 16);
    for ch in query.chars() {
        match u8::try_from(ch) {
            Ok(b) if refused(b) => out.push_str(&format!("%{b:02X}")),
            _ => out.push(ch),
        }
    }
    Some(out)
}

/// `host` or `host:port` that `lambda_http` can put in front of a path: it parses as the
/// authority of an https URL, with nothing else (no user, path, query or fragment).
fn is_plain_authority(host: &str) -> bool {
    match url::Url::parse(&format!("https://{host}/")) {
        Ok(u) => {
            u.has_host()
                && u.username().is_empty()
                && u.password().is_none()
                && u.path() == "/"
                && u.query().is_none()
                && u.fragment().is_none()
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::{Body, RequestExt, Response};
    use serde_json::{Value, json};
    use std::convert::Infallible;

    fn event(raw_query: &str, headers: Value) -> LambdaRequest {
        let v = json!({
            "version": "2.0",
            "routeKey": "GET /v1/partners/{partner_id}/rooms",
            "rawPath": "/v1/partners/p1/rooms",
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": "000000000000", "apiId": "local", "domainName": "api.example.com",
                "domainPrefix": "api", "requestId": "r1", "routeKey": "GET /v1/partners/{partner_id}/rooms",
                "stage": "$default", "time": "25/Nov/2026:10:00:00 +0000", "timeEpoch": 1_795_600_800_000_i64,
                "http": {"method": "GET", "path": "/v1/partners/p1/rooms", "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": "t"}
            },
            "isBase64Encoded": false
        });
        serde_json::from_value(v).expect("a payload-format-2.0 event")
    }

    /// What the function's handler receives: the event through [`SafeEvents`] and
    /// `lambda_http`'s adapter (which panics on the events these tests send, without
    /// `make_safe`). Returns the request's URI query and the answer's status.
    async fn through_the_runtime_adapter(payload: LambdaRequest) -> (Option<String>, String) {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
        let seen_in = seen.clone();
        let handler = lambda_http::service_fn(move |req: Request| {
            let seen = seen_in.clone();
            async move {
                *seen.lock().unwrap() = Some(req.uri().query().map(str::to_owned));
                assert!(req.raw_http_path() == "/v1/partners/p1/rooms");
                Ok::<_, Infallible>(Response::builder().status(204).body(Body::Empty).unwrap())
            }
        });
        let mut service = SafeEvents(Adapter::from(handler));
        let answer = service
            .call(LambdaEvent::new(payload, lambda_runtime::Context::default()))
            .await
            .unwrap_or_else(|_| unreachable!("the handler is infallible"));
        let answer = serde_json::to_value(answer).unwrap();
        let query = seen.lock().unwrap().clone().expect("the handler ran");
        (query, answer["statusCode"].to_string())
    }

    #[tokio::test]
    async fn a_raw_quote_or_blank_in_the_query_reaches_the_handler_percent_encoded() {
        for (raw, expected) in [
            (r#"q="x""#, "q=%22x%22"),
            ("q=<b> c", "q=%3Cb%3E%20c"),
            ("at=2026-12-01T09:30:00+01:00&q=\u{7f}\t", "at=2026-12-01T09:30:00+01:00&q=%7F%09"),
            ("q=\u{e4}\"", "q=\u{e4}%22"),
        ] {
            let (query, status) = through_the_runtime_adapter(event(raw, json!({"host": "api.example.com"}))).await;
            assert_eq!(query.as_deref(), Some(expected), "{raw:?}");
            assert_eq!(status, "204");
        }
    }

    #[tokio::test]
    async fn a_query_http_accepts_is_passed_on_byte_for_byte() {
        // What is signed must not change: encoded, reserved and non-ASCII characters stay as sent.
        for raw in ["q=a%20b&limit=10", "q=%22x%22", "q={|}^`\\~!$'()*,;:@/?", "q=\u{e4}\u{df}", "q=a+b#frag"] {
            let mut payload = event(raw, json!({}));
            make_safe(&mut payload);
            let LambdaRequest::ApiGatewayV2(e) = &payload else { unreachable!() };
            assert_eq!(e.raw_query_string.as_deref(), Some(raw));
        }
    }

    #[tokio::test]
    async fn a_host_or_forwarded_proto_that_cannot_be_in_a_url_is_dropped() {
        for headers in [
            json!({"host": "a b"}),
            json!({"host": "["}),
            json!({"host": "%"}),
            json!({"host": "h:99999"}),
            json!({"host": "api.example.com", "x-forwarded-proto": "a b"}),
            json!({"host": "api.example.com", "x-forwarded-proto": "1:"}),
        ] {
            let (query, status) = through_the_runtime_adapter(event("q=x", headers.clone())).await;
            assert_eq!((query.as_deref(), status.as_str()), (Some("q=x"), "204"), "{headers}");
        }
        // A usable Host and scheme stay.
        let mut payload = event("", json!({"host": "api.example.com:8443", "x-forwarded-proto": "HTTPS"}));
        make_safe(&mut payload);
        let LambdaRequest::ApiGatewayV2(e) = &payload else { unreachable!() };
        assert_eq!(e.headers["host"], "api.example.com:8443");
        assert_eq!(e.headers["x-forwarded-proto"], "HTTPS");
        // Host with a path or user part is dropped too (it would move the query).
        for host in ["a?b", "a#b", "a/b", "u@a"] {
            let mut payload = event("q=x", json!({"host": host}));
            make_safe(&mut payload);
            let LambdaRequest::ApiGatewayV2(e) = &payload else { unreachable!() };
            assert!(!e.headers.contains_key("host"), "{host}");
        }
    }

    #[tokio::test]
    async fn a_bad_domain_name_with_no_host_header_is_dropped() {
        let mut payload = event("q=x", json!({}));
        if let LambdaRequest::ApiGatewayV2(e) = &mut payload {
            e.request_context.domain_name = Some("a b".into());
        }
        let (query, status) = through_the_runtime_adapter(payload).await;
        assert_eq!((query.as_deref(), status.as_str()), (Some("q=x"), "204"));
    }
}
