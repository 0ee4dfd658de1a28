//! The HipChat v2 client on `reqwest` (`../shared/reference/hipchat-api-v2.md`).
//!
//! - One `reqwest::Client`, built once in `main` by [`http_client`], with connect and total
//!   timeouts and no redirects (a redirect is not how the v2 API answers).
//! - The token goes in `Authorization: Bearer` (marked sensitive), never in a query string;
//!   the one call with the token in its path (`GET /v2/oauth/token/{token}`) is sent with
//!   errors stripped of their URL, and nothing here logs a URL.
//! - A 429 is retried once when its reset is within a small budget (default 2 s); HipChat
//!   answers 429 before doing anything, so this is safe even for a create. Nothing else is
//!   retried: a create that timed out may have happened.
//! - Every failure becomes one [`HipchatError`].

use std::error::Error as _;
use std::time::Duration;

use jiff::Timestamp;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::domain::scopes::parse_scope_list;
use crate::ports::hipchat::{
    Capabilities, Hipchat, HipchatAccess, HipchatError, LimitKind, ListRooms, NewRoom, Notification, Probe, Room,
    RoomPage, RoomRef, RoomSummary, RoomUpdate, TokenInfo, Unreachable,
};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(6);
/// Wait for a 429's reset (and retry once) only when it is at most this far away.
pub const RETRY_BUDGET: Duration = Duration::from_secs(2);

/// The one HTTP client of a function, with the given timeouts.
pub fn http_client_with(connect: Duration, total: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(super::tls::hipchat_tls_config())
        .connect_timeout(connect)
        .timeout(total)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("dynaboard-hipchat/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The one HTTP client of a function: 3 s to connect, 6 s per call.
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    http_client_with(CONNECT_TIMEOUT, TOTAL_TIMEOUT)
}

/// [`Hipchat`] over HTTP.
#[derive(Debug, Clone)]
pub struct HipchatClient {
    http: reqwest::Client,
    retry_budget: Duration,
}

impl HipchatClient {
    pub fn new(http: reqwest::Client) -> Self {
        Self { http, retry_budget: RETRY_BUDGET }
    }

    pub fn with_retry_budget(self, retry_budget: Duration) -> Self {
        Self { retry_budget, ..self }
    }

    fn request(&self, access: &HipchatAccess, method: Method, segments: &[&str]) -> RequestBuilder {
        self.request_with_query(access, method, segments, &[])
    }

    fn request_with_query(
        &self,
        access: &HipchatAccess,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> RequestBuilder {
        let mut url = access.api_url(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        self.http
            .request(method, url)
            .bearer_auth(access.token().expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// Sends, retrying one 429 whose reset is within the budget; `Ok` only for 2xx.
    /// `call` names the endpoint in logs (never the URL: one holds the token).
    async fn send(&self, call: &'static str, req: RequestBuilder) -> Result<Response, HipchatError> {
        let retry = req.try_clone();
        let resp = req.send().await.map_err(|e| {
            let e = transport_error(e);
            tracing::debug!(call, error = %e, "HipChat call failed");
            e
        })?;
        tracing::debug!(call, status = resp.status().as_u16(), "HipChat answered");
        if resp.status() != StatusCode::TOO_MANY_REQUESTS {
            return check(resp).await;
        }
        let (kind, reset_at) = limit_of(&resp);
        let wait = reset_at.map(|r| r.duration_since(Timestamp::now()));
        match (retry, wait) {
            (Some(retry), Some(wait)) if wait.as_secs_f64() <= self.retry_budget.as_secs_f64() => {
                // The reset is a whole second; its window ends within that second.
                let wait = Duration::try_from(wait).unwrap_or_default() + Duration::from_millis(200);
                tracing::info!(
                    call,
                    ?kind,
                    wait_ms = wait.as_millis() as u64,
                    "HipChat 429; retrying once after the reset"
                );
                tokio::time::sleep(wait.min(self.retry_budget)).await;
                let resp = retry.send().await.map_err(transport_error)?;
                if resp.status() == StatusCode::TOO_MANY_REQUESTS {
                    let (kind, reset_at) = limit_of(&resp);
                    return Err(HipchatError::RateLimited { kind, reset_at });
                }
                check(resp).await
            }
            _ => Err(HipchatError::RateLimited { kind, reset_at }),
        }
    }

    async fn send_json<T: DeserializeOwned>(&self, call: &'static str, req: RequestBuilder) -> Result<T, HipchatError> {
        let resp = self.send(call, req).await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(transport_error)?;
        serde_json::from_slice(&bytes).map_err(|e| HipchatError::NotHipchat {
            status,
            detail: format!("the answer is not the JSON the HipChat v2 API sends ({e})"),
        })
    }
}

/// `X-Floodcontrol-*` when the flood limit is exhausted, else `X-Ratelimit-*`.
fn limit_of(resp: &Response) -> (LimitKind, Option<Timestamp>) {
    let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let unix =
        |name: &str| header(name).and_then(|v| v.parse::<i64>().ok()).and_then(|s| Timestamp::from_second(s).ok());
    let flood_exhausted = header("x-floodcontrol-remaining").is_some_and(|r| r == "0");
    let rate_exhausted = header("x-ratelimit-remaining").is_some_and(|r| r == "0");
    if flood_exhausted && !rate_exhausted {
        (LimitKind::FloodControl, unix("x-floodcontrol-reset"))
    } else {
        (LimitKind::RateLimit, unix("x-ratelimit-reset").or_else(|| unix("x-floodcontrol-reset")))
    }
}

/// HipChat's error body: `{"error": {"code", "message", "type", "field"?, ...}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    field: Option<String>,
}

/// `Ok(resp)` for 2xx; anything else read into a [`HipchatError`].
async fn check(resp: Response) -> Result<Response, HipchatError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    if status.is_redirection() {
        let to = resp.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("?");
        // Only scheme and host of the target: a redirect may carry a query.
        let to = url::Url::parse(to).map(|u| u.origin().ascii_serialization()).unwrap_or_else(|_| "elsewhere".into());
        return Err(HipchatError::NotHipchat {
            status: status.as_u16(),
            detail: format!("it redirects to {to}; use that address as the HipChat URL"),
        });
    }
    let bytes = resp.bytes().await.unwrap_or_default();
    let body = serde_json::from_slice::<ErrorBody>(&bytes).ok().map(|b| b.error);
    Err(classify_status(status.as_u16(), body))
}

fn classify_status(status: u16, body: Option<ErrorDetail>) -> HipchatError {
    let Some(err) = body else {
        return if status >= 500 {
            HipchatError::Server { status }
        } else {
            HipchatError::NotHipchat { status, detail: format!("it answered {status} without a HipChat error body") }
        };
    };
    let message = err.message;
    match status {
        401 => HipchatError::TokenRejected,
        403 => HipchatError::MissingScopes { scopes: parse_scope_list(&message) },
        404 if message.starts_with("Room ") && message.ends_with("not found") => HipchatError::RoomNotFound,
        400 if message.contains("Another room exists with that name") => HipchatError::NameTaken,
        400 => HipchatError::Validation { field: err.field, message },
        s if s >= 500 => HipchatError::Server { status },
        _ => HipchatError::Refused { status, message },
    }
}

/// A transport failure, classified, with the URL (which may hold a token) removed.
fn transport_error(e: reqwest::Error) -> HipchatError {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut refused = false;
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        source = s.source();
    }
    let lower = text.to_ascii_lowercase();
    let kind = if e.is_timeout() || lower.contains("timed out") {
        Unreachable::Timeout
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") || lower.contains("resolve") {
        Unreachable::Dns
    } else if refused || lower.contains("connection refused") {
        Unreachable::Refused
    } else if ["tls", "certificate", "handshake", "corrupt message", "invalidcontenttype", "alert"]
        .iter()
        .any(|k| lower.contains(k))
    {
        Unreachable::Tls
    } else {
        Unreachable::Connection
    };
    HipchatError::Unreachable { kind, detail: text }
}

#[derive(Deserialize)]
struct RawPage {
    items: Vec<RawSummary>,
    #[serde(rename = "startIndex", default)]
    start_index: u64,
    #[serde(rename = "maxResults", default)]
    max_results: u32,
    #[serde(default)]
    links: RawLinks,
}

#[derive(Deserialize, Default)]
struct RawLinks {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct RawSummary {
    id: u64,
    name: String,
    #[serde(default)]
    privacy: Option<String>,
    #[serde(default)]
    is_archived: bool,
}

#[derive(Deserialize)]
struct RawRoom {
    id: u64,
    name: String,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    privacy: Option<String>,
    #[serde(default)]
    is_archived: bool,
    #[serde(default)]
    is_guest_accessible: bool,
    #[serde(default)]
    guest_access_url: Option<String>,
    #[serde(default)]
    owner: Option<RawOwner>,
}

#[derive(Deserialize)]
struct RawOwner {
    id: u64,
}

#[derive(Deserialize)]
struct RawCreated {
    id: u64,
}

#[derive(Deserialize)]
struct RawTokenInfo {
    scopes: Vec<String>,
    #[serde(default)]
    owner: Option<RawOwner>,
    #[serde(default)]
    expires_in: Option<i64>,
}

#[derive(Deserialize)]
struct RawCapabilities {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    links: Option<RawCapLinks>,
    /// Required: this is what tells the HipChat v2 API from any other JSON.
    capabilities: Value,
}

#[derive(Deserialize)]
struct RawCapLinks {
    #[serde(default)]
    api: Option<String>,
}

fn public(privacy: Option<String>) -> String {
    privacy.unwrap_or_else(|| "public".into())
}

impl Hipchat for HipchatClient {
    async fn capabilities(&self, access: &HipchatAccess) -> Result<Capabilities, HipchatError> {
        let req = self.http.get(access.api_url(&["capabilities"])).header(reqwest::header::ACCEPT, "application/json");
        let raw: RawCapabilities = self.send_json("GET /v2/capabilities", req).await?;
        if !raw.capabilities.is_object() {
            return Err(HipchatError::NotHipchat {
                status: 200,
                detail: "/v2/capabilities has no capabilities object".into(),
            });
        }
        Ok(Capabilities { name: raw.name, api_url: raw.links.and_then(|l| l.api) })
    }

    async fn token_info(&self, access: &HipchatAccess) -> Result<TokenInfo, HipchatError> {
        let req = self.request(access, Method::GET, &["oauth", "token", access.token().expose_secret()]);
        let raw: RawTokenInfo = self.send_json("GET /v2/oauth/token/{token}", req).await?;
        Ok(TokenInfo { scopes: raw.scopes, owner_id: raw.owner.map(|o| o.id), expires_in: raw.expires_in })
    }

    async fn auth_test(&self, access: &HipchatAccess, probe: Probe) -> Result<(), HipchatError> {
        let (method, segments): (Method, Vec<String>) = match probe {
            Probe::ListRooms => (Method::GET, vec!["room".into()]),
            Probe::CreateRoom => (Method::POST, vec!["room".into()]),
            Probe::SendNotification(id) => (Method::POST, vec!["room".into(), id.to_string(), "notification".into()]),
            Probe::SendMessage(id) => (Method::POST, vec!["room".into(), id.to_string(), "message".into()]),
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let mut req = self.request_with_query(access, method.clone(), &segments, &[("auth_test", "true")]);
        if method == Method::POST {
            req = req.json(&json!({}));
        }
        self.send("auth_test", req).await.map(drop)
    }

    async fn list_rooms(&self, access: &HipchatAccess, page: &ListRooms) -> Result<RoomPage, HipchatError> {
        let (start, max) = (page.start_index.to_string(), page.max_results.min(1000).to_string());
        let query = [
            ("start-index", start.as_str()),
            ("max-results", max.as_str()),
            ("include-private", if page.include_private { "true" } else { "false" }),
            ("include-archived", if page.include_archived { "true" } else { "false" }),
        ];
        let req = self.request_with_query(access, Method::GET, &["room"], &query);
        let raw: RawPage = self.send_json("GET /v2/room", req).await?;
        Ok(RoomPage {
            items: raw
                .items
                .into_iter()
                .map(|r| RoomSummary { id: r.id, name: r.name, privacy: public(r.privacy), is_archived: r.is_archived })
                .collect(),
            start_index: raw.start_index,
            max_results: raw.max_results,
            has_next: raw.links.next.is_some(),
        })
    }

    async fn get_room(&self, access: &HipchatAccess, room: RoomRef<'_>) -> Result<Room, HipchatError> {
        let name = room.to_string();
        let raw: RawRoom =
            self.send_json("GET /v2/room/{id}", self.request(access, Method::GET, &["room", &name])).await?;
        Ok(Room {
            id: raw.id,
            name: raw.name,
            topic: raw.topic.unwrap_or_default(),
            privacy: public(raw.privacy),
            is_archived: raw.is_archived,
            is_guest_accessible: raw.is_guest_accessible,
            guest_access_url: raw.guest_access_url.filter(|u| !u.is_empty()),
            owner_id: raw.owner.map(|o| o.id),
        })
    }

    async fn create_room(&self, access: &HipchatAccess, room: &NewRoom) -> Result<u64, HipchatError> {
        let raw: RawCreated =
            self.send_json("POST /v2/room", self.request(access, Method::POST, &["room"]).json(room)).await?;
        Ok(raw.id)
    }

    async fn update_room(&self, access: &HipchatAccess, id: u64, update: &RoomUpdate) -> Result<(), HipchatError> {
        let body = json!({
            "name": update.name,
            "privacy": update.privacy,
            "is_archived": update.is_archived,
            "is_guest_accessible": update.is_guest_accessible,
            "topic": update.topic,
            "owner": {"id": update.owner_id},
        });
        let id = id.to_string();
        self.send("PUT /v2/room/{id}", self.request(access, Method::PUT, &["room", &id]).json(&body)).await.map(drop)
    }

    async fn delete_room(&self, access: &HipchatAccess, room: RoomRef<'_>) -> Result<(), HipchatError> {
        let name = room.to_string();
        self.send("DELETE /v2/room/{id}", self.request(access, Method::DELETE, &["room", &name])).await.map(drop)
    }

    async fn send_notification(
        &self,
        access: &HipchatAccess,
        room: RoomRef<'_>,
        notification: &Notification,
    ) -> Result<(), HipchatError> {
        let name = room.to_string();
        let req = self.request(access, Method::POST, &["room", &name, "notification"]).json(notification);
        self.send("POST /v2/room/{id}/notification", req).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(message: &str) -> Option<ErrorDetail> {
        Some(ErrorDetail { message: message.into(), field: None })
    }

    #[test]
    fn hipchat_error_bodies_are_classified() {
        assert_eq!(classify_status(401, detail("Invalid OAuth session")), HipchatError::TokenRejected);
        assert_eq!(
            classify_status(403, detail("This action requires one of the following scopes: [u'manage_rooms']")),
            HipchatError::MissingScopes { scopes: vec!["manage_rooms".into()] }
        );
        assert_eq!(classify_status(404, detail("Room 'banana stand' not found")), HipchatError::RoomNotFound);
        assert_eq!(classify_status(404, detail("Room not found")), HipchatError::RoomNotFound);
        assert_eq!(classify_status(400, detail("Another room exists with that name.")), HipchatError::NameTaken);
        assert!(matches!(classify_status(400, detail("bad")), HipchatError::Validation { .. }));
        assert_eq!(classify_status(503, detail("down")), HipchatError::Server { status: 503 });
        assert!(matches!(classify_status(405, detail("nope")), HipchatError::Refused { status: 405, .. }));
    }

    #[test]
    fn answers_without_a_hipchat_body_are_not_hipchat_unless_5xx() {
        assert!(matches!(classify_status(404, None), HipchatError::NotHipchat { status: 404, .. }));
        assert!(matches!(classify_status(401, None), HipchatError::NotHipchat { status: 401, .. }));
        assert_eq!(classify_status(502, None), HipchatError::Server { status: 502 });
    }
}
