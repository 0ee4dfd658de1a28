//! The simulated HipChat REST API v2 (`/v2/...`).
//!
//! Order of work for every `/v2` request: route → count → fault → 404/405 → (capabilities: answer) →
//! token → rate limit → scope → `auth_test` → body → room lookup → validation → flood control → action.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use crate::model::{ALL_SCOPES, FaultAction, Message, Notification, RoomSpec, TokenKind, endpoints};
use crate::state::{Simulator, State, TokenRecord, TokenSources, WindowStatus, random_uuid, random_version};
use crate::validate::{
    Invalid, optional_bool, optional_choice, optional_string, py_list, query_bool, query_int, required_bool,
    required_string,
};

/// Largest request body read.
pub(crate) const MAX_BODY: usize = 1 << 20;

const EXPOSE_HEADERS: &str = "Date, ETag, Link, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Backoff";
const NO_TOKEN: &str = "Authenticated requests only. See https://www.hipchat.com/docs/apiv2/auth for more information.";
const INVALID_SESSION: &str = "Invalid OAuth session";
pub(crate) const NAME_TAKEN: &str = "Another room exists with that name.";
const RATE_LIMITED: &str = "Rate Limit exceeded";
const FLOOD_LIMITED: &str = "Flood control limit exceeded";
/// Group id used in `xmpp_jid`.
const GROUP_ID: u64 = 1;

const PRIVACY: [&str; 2] = ["public", "private"];
const FORMATS: [&str; 2] = ["html", "text"];
const COLORS: [&str; 6] = ["yellow", "green", "red", "purple", "gray", "random"];

const RATE_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const RATE_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RATE_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
const FLOOD_LIMIT: HeaderName = HeaderName::from_static("x-floodcontrol-limit");
const FLOOD_REMAINING: HeaderName = HeaderName::from_static("x-floodcontrol-remaining");
const FLOOD_RESET: HeaderName = HeaderName::from_static("x-floodcontrol-reset");

/// Marker in a response's extensions: close the connection instead of answering (see `server`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

#[derive(Debug)]
enum Endpoint {
    RoomList,
    RoomCreate,
    RoomGet(String),
    RoomUpdate(String),
    RoomDelete(String),
    RoomTopic(String),
    RoomNotification(String),
    RoomMessage(String),
    TokenGet(String),
    TokenDelete(String),
    Capabilities,
}

impl Endpoint {
    fn template(&self) -> &'static str {
        match self {
            Self::RoomList => endpoints::ROOM_LIST,
            Self::RoomCreate => endpoints::ROOM_CREATE,
            Self::RoomGet(_) => endpoints::ROOM_GET,
            Self::RoomUpdate(_) => endpoints::ROOM_UPDATE,
            Self::RoomDelete(_) => endpoints::ROOM_DELETE,
            Self::RoomTopic(_) => endpoints::ROOM_TOPIC,
            Self::RoomNotification(_) => endpoints::ROOM_NOTIFICATION,
            Self::RoomMessage(_) => endpoints::ROOM_MESSAGE,
            Self::TokenGet(_) => endpoints::TOKEN_GET,
            Self::TokenDelete(_) => endpoints::TOKEN_DELETE,
            Self::Capabilities => endpoints::CAPABILITIES,
        }
    }

    /// Scopes of which the token needs one; empty = any valid token.
    fn scopes(&self) -> &'static [&'static str] {
        match self {
            Self::RoomList | Self::RoomGet(_) => &["view_group", "view_room"],
            Self::RoomCreate | Self::RoomDelete(_) => &["manage_rooms"],
            Self::RoomUpdate(_) => &["admin_room", "manage_rooms"],
            Self::RoomTopic(_) => &["admin_room"],
            Self::RoomNotification(_) => &["send_notification"],
            Self::RoomMessage(_) => &["send_message"],
            Self::TokenGet(_) | Self::TokenDelete(_) | Self::Capabilities => &[],
        }
    }

    fn has_body(&self) -> bool {
        matches!(
            self,
            Self::RoomCreate
                | Self::RoomUpdate(_)
                | Self::RoomTopic(_)
                | Self::RoomNotification(_)
                | Self::RoomMessage(_)
        )
    }
}

enum Routed {
    Found(Endpoint),
    NotFound,
    MethodNotAllowed { template: &'static str, allow: &'static str },
}

fn decode(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// Match `METHOD path` (path still percent-encoded, so `%2F` stays inside one segment).
fn route(method: &Method, path: &str) -> Routed {
    let rest = path.strip_prefix("/v2").unwrap_or("");
    let rest = if rest.len() > 1 { rest.strip_suffix('/').unwrap_or(rest) } else { rest };
    let segments: Vec<&str> = rest.split('/').skip(1).collect();
    let not_allowed = |template, allow| Routed::MethodNotAllowed { template, allow };
    match segments.as_slice() {
        ["room"] => match *method {
            Method::GET => Routed::Found(Endpoint::RoomList),
            Method::POST => Routed::Found(Endpoint::RoomCreate),
            _ => not_allowed("/v2/room", "GET, POST"),
        },
        ["room", key] if !key.is_empty() => match *method {
            Method::GET => Routed::Found(Endpoint::RoomGet(decode(key))),
            Method::PUT => Routed::Found(Endpoint::RoomUpdate(decode(key))),
            Method::DELETE => Routed::Found(Endpoint::RoomDelete(decode(key))),
            _ => not_allowed("/v2/room/{id}", "GET, PUT, DELETE"),
        },
        ["room", key, "topic"] if !key.is_empty() => match *method {
            Method::PUT => Routed::Found(Endpoint::RoomTopic(decode(key))),
            _ => not_allowed("/v2/room/{id}/topic", "PUT"),
        },
        ["room", key, "notification"] if !key.is_empty() => match *method {
            Method::POST => Routed::Found(Endpoint::RoomNotification(decode(key))),
            _ => not_allowed("/v2/room/{id}/notification", "POST"),
        },
        ["room", key, "message"] if !key.is_empty() => match *method {
            Method::POST => Routed::Found(Endpoint::RoomMessage(decode(key))),
            _ => not_allowed("/v2/room/{id}/message", "POST"),
        },
        ["oauth", "token", token] if !token.is_empty() => match *method {
            Method::GET => Routed::Found(Endpoint::TokenGet(decode(token))),
            Method::DELETE => Routed::Found(Endpoint::TokenDelete(decode(token))),
            _ => not_allowed("/v2/oauth/token/{token}", "GET, DELETE"),
        },
        ["capabilities"] => match *method {
            Method::GET => Routed::Found(Endpoint::Capabilities),
            _ => not_allowed("/v2/capabilities", "GET"),
        },
        _ => Routed::NotFound,
    }
}

/// Decoded query parameters, in order.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Self(raw.map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default())
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }
}

/// The token a request carries: `Authorization: Bearer <t>`, else `?auth_token=<t>`; and which
/// of the two held one.
fn presented_token(headers: &HeaderMap, query: &Query) -> (Option<String>, TokenSources) {
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, rest) = v.trim().split_once(' ')?;
        let rest = rest.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty()).then(|| rest.to_owned())
    });
    let in_query = query.get("auth_token").filter(|t| !t.is_empty());
    let sources = TokenSources { header: bearer.is_some(), query: in_query.is_some() };
    (bearer.or_else(|| in_query.map(str::to_owned)), sources)
}

fn reason(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Unknown")
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// `{"error":{"code","message","type"}}`.
pub(crate) fn error_response(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({"error": {"code": status.as_u16(), "message": message, "type": reason(status)}}))
}

pub(crate) fn validation_response(invalid: &Invalid) -> Response {
    let mut error = Map::new();
    error.insert("code".into(), 400.into());
    error.insert("type".into(), reason(StatusCode::BAD_REQUEST).into());
    error.insert("message".into(), invalid.message.clone().into());
    error.insert("field".into(), invalid.field.clone().into());
    error.insert("validation".into(), invalid.validation.into());
    if let Some(value) = &invalid.value {
        error.insert("value".into(), value.clone());
    }
    if let Some(expected) = invalid.expected_type {
        error.insert("expected_type".into(), expected.into());
    }
    json_response(StatusCode::BAD_REQUEST, &json!({ "error": error }))
}

fn set_header(response: &mut Response, name: HeaderName, value: impl ToString) {
    if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
        response.headers_mut().insert(name, value);
    }
}

fn with_rate(mut response: Response, rate: &WindowStatus) -> Response {
    set_header(&mut response, RATE_LIMIT, rate.limit);
    set_header(&mut response, RATE_REMAINING, rate.remaining);
    set_header(&mut response, RATE_RESET, rate.reset);
    response
}

fn with_flood(mut response: Response, flood: &WindowStatus) -> Response {
    set_header(&mut response, FLOOD_LIMIT, flood.limit);
    set_header(&mut response, FLOOD_REMAINING, flood.remaining);
    set_header(&mut response, FLOOD_RESET, flood.reset);
    response
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// An expected failure of a `/v2` call.
enum ApiError {
    Plain(StatusCode, String),
    Invalid(Invalid),
    Ready(Box<Response>),
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        Self::Invalid(invalid)
    }
}

impl ApiError {
    fn bad_request(message: &str) -> Self {
        Self::Plain(StatusCode::BAD_REQUEST, message.to_owned())
    }

    fn into_response(self) -> Response {
        match self {
            Self::Plain(status, message) => error_response(status, &message),
            Self::Invalid(invalid) => validation_response(&invalid),
            Self::Ready(response) => *response,
        }
    }
}

/// A status code usable as a final answer (200–599), else 500.
pub(crate) fn final_status(code: u16) -> StatusCode {
    StatusCode::from_u16(code)
        .ok()
        .filter(|s| (200..=599).contains(&s.as_u16()))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn body_allowed(status: StatusCode) -> bool {
    status != StatusCode::NO_CONTENT && status != StatusCode::NOT_MODIFIED
}

/// The response for a fault that answers instead of the simulator.
fn fault_response(sim: &Simulator, action: FaultAction, token: Option<&str>) -> Response {
    match action {
        FaultAction::Status { status, message, reset_in_seconds } => {
            let status = final_status(status);
            let mut response = if body_allowed(status) {
                error_response(status, message.as_deref().unwrap_or(reason(status)))
            } else {
                status.into_response()
            };
            if status == StatusCode::TOO_MANY_REQUESTS {
                let state = sim.lock();
                let limit = match token.and_then(|t| state.tokens.get(t)).map(|t| t.kind) {
                    Some(TokenKind::Addon) => state.limits.addon_rate_limit,
                    _ => state.limits.rate_limit,
                };
                let wait = reset_in_seconds.unwrap_or(state.limits.rate_window.as_secs());
                let reset = Timestamp::now().as_second().saturating_add(i64::try_from(wait).unwrap_or(i64::MAX));
                response = with_rate(response, &WindowStatus { limit, remaining: 0, reset, exceeded: true });
            }
            response
        }
        FaultAction::Body { status, body, content_type } => {
            let status = final_status(status);
            let content_type =
                HeaderValue::from_str(&content_type).unwrap_or(HeaderValue::from_static("text/plain; charset=utf-8"));
            if body_allowed(status) {
                (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
            } else {
                status.into_response()
            }
        }
        FaultAction::Drop | FaultAction::Delay { .. } => {
            let mut response = StatusCode::BAD_GATEWAY.into_response();
            response.extensions_mut().insert(DropConnection);
            response
        }
    }
}

/// Entry point for every request under `/v2`.
pub(crate) async fn handle(sim: Simulator, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let query = Query::parse(parts.uri.query());
    let routed = route(&parts.method, &path);
    let template = match &routed {
        Routed::Found(endpoint) => endpoint.template().to_owned(),
        Routed::MethodNotAllowed { template, .. } => format!("{} {template}", parts.method),
        Routed::NotFound => format!("{} {path}", parts.method),
    };
    let (token, sources) = presented_token(&parts.headers, &query);
    let host_base = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(|h| format!("http://{h}"));

    let fault = {
        let mut state = sim.lock();
        state.count(&template, token.as_deref(), sources);
        state.take_fault(&template)
    };
    let response = match fault {
        Some(FaultAction::Delay { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            None
        }
        Some(action) => Some(fault_response(&sim, action, token.as_deref())),
        None => None,
    };
    let mut response = match (response, routed) {
        (Some(response), _) => response,
        (None, Routed::NotFound) => error_response(StatusCode::NOT_FOUND, "Resource not found"),
        (None, Routed::MethodNotAllowed { allow, .. }) => {
            let mut response = error_response(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
            response
        }
        (None, Routed::Found(Endpoint::Capabilities)) => {
            let base = sim.lock().base(host_base.as_deref());
            json_response(StatusCode::OK, &capabilities(&base))
        }
        (None, Routed::Found(endpoint)) => {
            authenticated(&sim, endpoint, &parts.headers, &query, token.as_deref(), body, host_base.as_deref()).await
        }
    };
    response.headers_mut().insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSE_HEADERS));
    // Like a careful access log: a token in the path is not written out.
    let path = if template.contains("{token}") { template.as_str() } else { path.as_str() };
    tracing::info!(method = %parts.method, %path, status = response.status().as_u16(), "v2 request");
    response
}

/// Who is calling, and their rate-limit window after this request.
struct Caller {
    token: TokenRecord,
    rate: WindowStatus,
}

/// Token → rate limit → scope.
fn check_access(
    state: &mut State,
    endpoint: &Endpoint,
    token: Option<&str>,
    now: Timestamp,
) -> Result<Caller, ApiError> {
    let Some(token) = token else {
        return Err(ApiError::Plain(StatusCode::UNAUTHORIZED, NO_TOKEN.to_owned()));
    };
    let record = match state.tokens.get(token) {
        Some(record) if !record.revoked && now < record.expires_at => record.clone(),
        _ => return Err(ApiError::Plain(StatusCode::UNAUTHORIZED, INVALID_SESSION.to_owned())),
    };
    let rate = state.hit_rate(&record, now);
    if rate.exceeded {
        let response = error_response(StatusCode::TOO_MANY_REQUESTS, RATE_LIMITED);
        return Err(ApiError::Ready(Box::new(with_rate(response, &rate))));
    }
    let accepted = endpoint.scopes();
    if !accepted.is_empty() && !accepted.iter().any(|s| record.scopes.iter().any(|have| have == s)) {
        let message = format!("This action requires one of the following scopes: {}", py_list(accepted));
        return Err(ApiError::Ready(Box::new(with_rate(error_response(StatusCode::FORBIDDEN, &message), &rate))));
    }
    Ok(Caller { token: record, rate })
}

async fn authenticated(
    sim: &Simulator,
    endpoint: Endpoint,
    headers: &HeaderMap,
    query: &Query,
    token: Option<&str>,
    body: Body,
    host_base: Option<&str>,
) -> Response {
    let now = Timestamp::now();
    let caller = match check_access(&mut sim.lock(), &endpoint, token, now) {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    if query.flag("auth_test") {
        let body = json!({"success": {"code": 202, "type": "Accepted",
            "message": "This auth_token has access to use this method."}});
        return with_rate(json_response(StatusCode::ACCEPTED, &body), &caller.rate);
    }
    let body = if endpoint.has_body() {
        match read_json(headers, body).await {
            Ok(map) => map,
            Err(error) => return with_rate(error.into_response(), &caller.rate),
        }
    } else {
        Map::new()
    };
    let result = {
        let mut state = sim.lock();
        let base = state.base(host_base);
        run(&mut state, endpoint, &caller, query, &body, &base, now)
    };
    with_rate(result.unwrap_or_else(ApiError::into_response), &caller.rate)
}

/// The body as a JSON object. Form-encoded and multipart bodies are refused (400).
async fn read_json(headers: &HeaderMap, body: Body) -> Result<Map<String, Value>, ApiError> {
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if content_type.starts_with("application/x-www-form-urlencoded") || content_type.starts_with("multipart/") {
        return Err(ApiError::bad_request("The request body must be JSON (Content-Type: application/json)"));
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::Plain(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large".to_owned()))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("The request body must be a JSON object")),
        Err(_) => Err(ApiError::bad_request("The request body cannot be parsed as JSON")),
    }
}

fn run(
    state: &mut State,
    endpoint: Endpoint,
    caller: &Caller,
    query: &Query,
    body: &Map<String, Value>,
    base: &str,
    now: Timestamp,
) -> Result<Response, ApiError> {
    match endpoint {
        Endpoint::RoomList => room_list(state, query, base),
        Endpoint::RoomCreate => room_create(state, caller, body, base),
        Endpoint::RoomGet(key) => room_get(state, &key, base),
        Endpoint::RoomUpdate(key) => room_update(state, &key, body),
        Endpoint::RoomDelete(key) => room_delete(state, &key),
        Endpoint::RoomTopic(key) => room_topic(state, &key, body),
        Endpoint::RoomNotification(key) => notification(state, &key, body, now),
        Endpoint::RoomMessage(key) => message(state, &key, body, now),
        Endpoint::TokenGet(token) => token_get(state, caller, &token, base, now),
        Endpoint::TokenDelete(token) => token_delete(state, caller, &token),
        Endpoint::Capabilities => Ok(json_response(StatusCode::OK, &capabilities(base))),
    }
}

/// `2026-11-25T10:00:00+00:00`, as in the 2016 captures.
fn hipchat_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// A numeric key is an id (falling back to a name lookup); otherwise an exact, case-sensitive name.
fn find_room(state: &State, key: &str) -> Result<u64, ApiError> {
    if let Ok(id) = key.parse::<u64>()
        && key.bytes().all(|b| b.is_ascii_digit())
        && state.rooms.contains_key(&id)
    {
        return Ok(id);
    }
    state
        .rooms
        .values()
        .find(|r| r.name == key)
        .map(|r| r.id)
        .ok_or_else(|| ApiError::Plain(StatusCode::NOT_FOUND, format!("Room '{key}' not found")))
}

fn room_links(base: &str, id: u64) -> Value {
    json!({
        "participants": format!("{base}/v2/room/{id}/participant"),
        "self": format!("{base}/v2/room/{id}"),
        "webhooks": format!("{base}/v2/room/{id}/webhook"),
    })
}

fn user_ref(state: &mut State, id: u64, base: &str) -> Value {
    let user = state.user_or_placeholder(id);
    json!({
        "id": user.id,
        "links": {"self": format!("{base}/v2/user/{}", user.id)},
        "mention_name": user.mention_name,
        "name": user.name,
        "version": user.version,
    })
}

/// `url` with the request's query (minus the token) and `overrides` applied.
fn page_url(url: &str, query: &Query, overrides: &[(&str, u64)]) -> String {
    let mut pairs: Vec<(String, String)> =
        query.0.iter().filter(|(k, _)| k != "auth_token" && k != "auth_test").cloned().collect();
    for (key, value) in overrides {
        let mut seen = false;
        pairs.retain_mut(|(k, v)| {
            if k != key {
                return true;
            }
            if seen {
                return false;
            }
            seen = true;
            *v = value.to_string();
            true
        });
        if !seen {
            pairs.push(((*key).to_owned(), value.to_string()));
        }
    }
    if pairs.is_empty() {
        return url.to_owned();
    }
    let encoded = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    format!("{url}?{encoded}")
}

fn room_list(state: &mut State, query: &Query, base: &str) -> Result<Response, ApiError> {
    let start = query_int("start-index", query.get("start-index"), 0, 0, None)?;
    let max = query_int("max-results", query.get("max-results"), 100, 0, Some(1000))?;
    let include_private = query_bool("include-private", query.get("include-private"), true)?;
    let include_archived = query_bool("include-archived", query.get("include-archived"), false)?;
    let matching: Vec<&crate::state::Room> = state
        .rooms
        .values()
        .filter(|r| (include_private || r.privacy != "private") && (include_archived || !r.archived))
        .collect();
    let start_usize = usize::try_from(start).unwrap_or(usize::MAX);
    let max_usize = usize::try_from(max).unwrap_or(usize::MAX);
    let items: Vec<Value> = matching
        .iter()
        .skip(start_usize)
        .take(max_usize)
        .map(|r| {
            json!({
                "id": r.id,
                "is_archived": r.archived,
                "links": room_links(base, r.id),
                "name": r.name,
                "privacy": r.privacy,
                "version": r.version,
            })
        })
        .collect();
    let list_url = format!("{base}/v2/room");
    let mut links = Map::new();
    links.insert("self".into(), page_url(&list_url, query, &[]).into());
    if max > 0 && start > 0 {
        let prev = start.saturating_sub(max);
        links.insert("prev".into(), page_url(&list_url, query, &[("start-index", prev), ("max-results", max)]).into());
    }
    if max > 0 && start_usize.saturating_add(max_usize) < matching.len() {
        let next = start.saturating_add(max);
        links.insert("next".into(), page_url(&list_url, query, &[("start-index", next), ("max-results", max)]).into());
    }
    Ok(json_response(StatusCode::OK, &json!({"items": items, "startIndex": start, "maxResults": max, "links": links})))
}

/// `owner_user_id` / `owner.id`: an id (number or digits), `@mention`, or email.
fn resolve_user(state: &mut State, field: &str, value: &Value) -> Result<u64, ApiError> {
    let not_found = |who: &str| ApiError::bad_request(&format!("User '{who}' not found"));
    match value {
        Value::Number(n) => match n.as_u64() {
            Some(id) => Ok(state.user_or_placeholder(id).id),
            None => Err(not_found(&n.to_string())),
        },
        Value::String(s) => {
            if let Ok(id) = s.parse::<u64>()
                && s.bytes().all(|b| b.is_ascii_digit())
            {
                return Ok(state.user_or_placeholder(id).id);
            }
            match s.strip_prefix('@').and_then(|mention| state.user_by_mention(mention)) {
                Some(id) => Ok(id),
                None => Err(not_found(s)),
            }
        }
        other => Err(Invalid::wrong_type(field, other, "string").into()),
    }
}

fn room_create(
    state: &mut State,
    caller: &Caller,
    body: &Map<String, Value>,
    base: &str,
) -> Result<Response, ApiError> {
    let name = required_string(body, "name", 1, 50)?;
    let topic = optional_string(body, "topic", 250)?;
    let privacy = optional_choice(body, "privacy", &PRIVACY)?;
    let guest_access = optional_bool(body, "guest_access")?;
    optional_bool(body, "delegate_admin_visibility")?;
    let owner_id = match body.get("owner_user_id") {
        None | Some(Value::Null) => caller.token.owner_id,
        Some(value) => resolve_user(state, "owner_user_id", value)?,
    };
    if state.name_taken(&name, None) {
        return Err(ApiError::bad_request(NAME_TAKEN));
    }
    let id = state.add_room(RoomSpec {
        name,
        topic,
        privacy,
        archived: Some(false),
        guest_access,
        owner_id: Some(owner_id),
    });
    let self_url = format!("{base}/v2/room/{id}");
    let mut response = json_response(StatusCode::CREATED, &json!({"id": id, "links": {"self": self_url}}));
    set_header(&mut response, header::LOCATION, self_url);
    Ok(response)
}

fn room_get(state: &mut State, key: &str, base: &str) -> Result<Response, ApiError> {
    let id = find_room(state, key)?;
    let Some(room) = state.rooms.get(&id).cloned() else {
        return Err(ApiError::Plain(StatusCode::NOT_FOUND, format!("Room '{key}' not found")));
    };
    let owner = user_ref(state, room.owner_id, base);
    let jid_name: String = room.name.to_lowercase().replace(' ', "_");
    let body = json!({
        "avatar_url": null,
        "created": hipchat_time(room.created),
        "delegate_admin_visibility": null,
        "guest_access_url": room.guest_code.as_deref().map(|c| format!("{base}/g{c}")),
        "id": room.id,
        "is_archived": room.archived,
        "is_guest_accessible": room.guest_code.is_some(),
        "last_active": hipchat_time(room.last_active),
        "links": room_links(base, room.id),
        "name": room.name,
        "owner": owner,
        "participants": [],
        "privacy": room.privacy,
        "statistics": {"links": {"self": format!("{base}/v2/room/{}/statistics", room.id)}},
        "topic": room.topic,
        "version": room.version,
        "xmpp_jid": format!("{GROUP_ID}_{jid_name}@conf.hipchat.com"),
    });
    let mut response = json_response(StatusCode::OK, &body);
    set_header(&mut response, header::ETAG, format!("W/\"{}\"", room.version));
    Ok(response)
}

const UPDATE_FIELDS: [&str; 6] = ["name", "privacy", "is_archived", "is_guest_accessible", "topic", "owner"];

fn room_update(state: &mut State, key: &str, body: &Map<String, Value>) -> Result<Response, ApiError> {
    let id = find_room(state, key)?;
    if let Some(missing) = UPDATE_FIELDS.iter().find(|f| !body.contains_key(**f)) {
        return Err(Invalid::required(missing).into());
    }
    let name = required_string(body, "name", 1, 50)?;
    let privacy = optional_choice(body, "privacy", &PRIVACY)?.ok_or_else(|| Invalid::required("privacy"))?;
    let archived = required_bool(body, "is_archived")?;
    let guest = required_bool(body, "is_guest_accessible")?;
    let topic = optional_string(body, "topic", 250)?.unwrap_or_default();
    let owner_id = match body.get("owner") {
        Some(Value::Object(owner)) => match owner.get("id") {
            None | Some(Value::Null) => return Err(Invalid::required("owner.id").into()),
            Some(value) => resolve_user(state, "owner.id", value)?,
        },
        Some(Value::Null) | None => return Err(Invalid::required("owner").into()),
        Some(other) => return Err(Invalid::wrong_type("owner", other, "object").into()),
    };
    optional_bool(body, "delegate_admin_visibility")?;
    if state.name_taken(&name, Some(id)) {
        return Err(ApiError::bad_request(NAME_TAKEN));
    }
    let Some(room) = state.rooms.get_mut(&id) else {
        return Err(ApiError::Plain(StatusCode::NOT_FOUND, format!("Room '{key}' not found")));
    };
    room.name = name;
    room.privacy = privacy;
    room.archived = archived;
    room.topic = topic;
    room.owner_id = owner_id;
    match (guest, room.guest_code.is_some()) {
        (true, false) => room.guest_code = Some(crate::state::random_alphanumeric(8)),
        (false, _) => room.guest_code = None,
        (true, true) => {}
    }
    room.version = random_version();
    Ok(no_content())
}

fn room_delete(state: &mut State, key: &str) -> Result<Response, ApiError> {
    let id = find_room(state, key)?;
    state.rooms.remove(&id);
    state.forget_flood(id);
    Ok(no_content())
}

fn room_topic(state: &mut State, key: &str, body: &Map<String, Value>) -> Result<Response, ApiError> {
    let id = find_room(state, key)?;
    if !body.contains_key("topic") {
        return Err(Invalid::required("topic").into());
    }
    let topic = optional_string(body, "topic", 250)?.unwrap_or_default();
    if let Some(room) = state.rooms.get_mut(&id) {
        room.topic = topic;
        room.version = random_version();
    }
    Ok(no_content())
}

/// Count a send against the room's flood window; 429 when over.
fn flood_check(state: &mut State, id: u64, now: Timestamp) -> Result<WindowStatus, ApiError> {
    let flood = state.hit_flood(id, now);
    if flood.exceeded {
        return Err(ApiError::Ready(Box::new(with_flood(
            error_response(StatusCode::TOO_MANY_REQUESTS, FLOOD_LIMITED),
            &flood,
        ))));
    }
    Ok(flood)
}

fn notification(state: &mut State, key: &str, body: &Map<String, Value>, now: Timestamp) -> Result<Response, ApiError> {
    let id = find_room(state, key)?;
    let message = required_string(body, "message", 1, 10_000)?;
    let message_format = optional_choice(body, "message_format", &FORMATS)?.unwrap_or_else(|| "html".to_owned());
    let color = optional_choice(body, "color", &COLORS)?.unwrap_or_else(|| "yellow".to_owned());
    let notify = optional_bool(body, "notify")?.unwrap_or(false);
    let from = optional_string(body, "from", 64)?;
    optional_string(body, "attach_to", 36)?;
    let flood = flood_check(state, id, now)?;
    if let Some(room) = state.rooms.get_mut(&id) {
        room.notifications.push(Notification { message, message_format, color, notify, from, at: now });
        room.last_active = now;
    }
    Ok(with_flood(no_content(), &flood))
}

fn message(state: &mut State, key: &str, body: &Map<String, Value>, now: Timestamp) -> Result<Response, ApiError> {
    let id = find_room(state, key)?;
    let text = required_string(body, "message", 1, 10_000)?;
    let flood = flood_check(state, id, now)?;
    let message_id = random_uuid();
    if let Some(room) = state.rooms.get_mut(&id) {
        room.messages.push(Message { id: message_id.clone(), message: text, at: now });
        room.last_active = now;
    }
    let timestamp = format!("{} {:06}", now.strftime("%Y-%m-%dT%H:%M:%SZ"), now.subsec_microsecond());
    let mut response = json_response(StatusCode::CREATED, &json!({"id": message_id, "timestamp": timestamp}));
    set_header(&mut response, header::LOCATION, format!("/v2/room/{id}/history/{message_id}"));
    Ok(with_flood(response, &flood))
}

/// A token may only inspect or revoke itself; any other path token is 404.
fn own_token<'a>(caller: &'a Caller, path_token: &str) -> Result<&'a TokenRecord, ApiError> {
    if caller.token.token == path_token {
        Ok(&caller.token)
    } else {
        Err(ApiError::Plain(StatusCode::NOT_FOUND, "OAuth session not found".to_owned()))
    }
}

fn token_get(
    state: &mut State,
    caller: &Caller,
    path_token: &str,
    base: &str,
    now: Timestamp,
) -> Result<Response, ApiError> {
    let token = own_token(caller, path_token)?;
    let expires_in = token.expires_at.duration_since(now).as_secs().max(0);
    let client_name = match token.kind {
        TokenKind::Personal => "Personal access token",
        TokenKind::Addon => "Add-on",
    };
    let owner = user_ref(state, token.owner_id, base);
    let body = json!({
        "access_token": token.token,
        "expires_in": expires_in,
        "scopes": token.scopes,
        "client": {"allowed_scopes": token.scopes, "name": client_name, "room": null},
        "owner": owner,
        "owner_type": "user",
    });
    Ok(json_response(StatusCode::OK, &body))
}

fn token_delete(state: &mut State, caller: &Caller, path_token: &str) -> Result<Response, ApiError> {
    let token = own_token(caller, path_token)?;
    if let Some(record) = state.tokens.get_mut(&token.token) {
        record.revoked = true;
    }
    Ok(no_content())
}

/// UI label and description of each scope (the labels are the personal-token page's).
pub(crate) fn scope_info(scope: &str) -> (&'static str, &'static str) {
    match scope {
        "admin_group" => ("Administer Group", "Perform group administrative tasks"),
        "admin_room" => ("Administer Room", "Perform room administrative tasks"),
        "manage_rooms" => ("Manage Rooms", "Create, update, and remove rooms"),
        "send_message" => ("Send Message", "Send private one-on-one messages"),
        "send_notification" => ("Send Notification", "Send room notifications"),
        "view_group" => ("View Group", "View users, rooms, and other group information"),
        "view_messages" => ("View Messages", "View messages from chat rooms and private chats you have access to"),
        "view_room" => ("View Room", "View room information and participants, but not history"),
        _ => ("Unknown", ""),
    }
}

fn capabilities(base: &str) -> Value {
    let scopes: Map<String, Value> = ALL_SCOPES
        .iter()
        .map(|id| {
            let (name, description) = scope_info(id);
            ((*id).to_owned(), json!({"id": id, "name": name, "description": description}))
        })
        .collect();
    json!({
        "name": "HipChat",
        "key": "hipchat",
        "description": "Group chat and IM built for teams (local simulator)",
        "vendor": {"name": "Atlassian", "url": "http://atlassian.com"},
        "links": {"self": format!("{base}/v2/capabilities"), "api": format!("{base}/v2"), "homepage": base},
        "capabilities": {
            "oauth2Provider": {
                "authorizationUrl": format!("{base}/users/authorize"),
                "tokenUrl": format!("{base}/v2/oauth/token"),
            },
            "hipchatApiProvider": {"url": format!("{base}/v2/"), "availableScopes": scopes},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(method: Method, path: &str) -> String {
        match route(&method, path) {
            Routed::Found(e) => e.template().to_owned(),
            Routed::MethodNotAllowed { template, .. } => format!("405 {template}"),
            Routed::NotFound => "404".to_owned(),
        }
    }

    #[test]
    fn routes() {
        assert_eq!(template(Method::GET, "/v2/room"), "GET /v2/room");
        assert_eq!(template(Method::GET, "/v2/room/"), "GET /v2/room");
        assert_eq!(template(Method::PUT, "/v2/room/a%2Fb"), "PUT /v2/room/{id}");
        assert_eq!(template(Method::POST, "/v2/room/a%2Fb/notification"), "POST /v2/room/{id}/notification");
        assert_eq!(template(Method::GET, "/v2/room/x/notification"), "405 /v2/room/{id}/notification");
        assert_eq!(template(Method::GET, "/v2/room/x/history"), "404");
        assert_eq!(template(Method::GET, "/v2"), "404");
        assert_eq!(template(Method::GET, "/v2/room//message"), "404");
    }

    #[test]
    fn room_keys_are_percent_decoded_and_plus_is_literal() {
        let Routed::Found(Endpoint::RoomGet(key)) = route(&Method::GET, "/v2/room/a%20b%23c%2Fd+e%C3%A9") else {
            panic!("not routed");
        };
        assert_eq!(key, "a b#c/d+eé");
    }

    #[test]
    fn page_urls_keep_other_params_and_drop_the_token() {
        let query = Query::parse(Some("include-archived=true&auth_token=secret&max-results=2"));
        assert_eq!(
            page_url("http://h/v2/room", &query, &[("start-index", 2), ("max-results", 2)]),
            "http://h/v2/room?include-archived=true&max-results=2&start-index=2"
        );
    }
}
