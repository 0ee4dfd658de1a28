//! The HipChat v2 client on `reqwest`: the chat port for HipChat (the API facts it relies on
//! are in docs/hipchat-api.md).
//!
//! - One `reqwest::Client` per function, built on first use by [`http_client`] (the settings
//!   function never builds it), with connect and total timeouts and no redirects (a redirect
//!   is not how the v2 API answers).
//! - The token goes in `Authorization: Bearer` (marked sensitive), never in a query string;
//!   the one call with the token in its path (`GET /v2/oauth/token/{token}`) is sent with
//!   errors stripped of their URL, and nothing here logs a URL.
//! - A 429 is retried once when its reset is within a small budget (default 2 s); HipChat
//!   answers 429 before doing anything, so this is safe even for a create. Nothing else is
//!   retried: a create that timed out may have happened.
//! - Every failure becomes one [`ChatError`].

use std::collections::HashMap;
use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use jiff::Timestamp;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::domain::destination::{self, PrivateHosts, Refusal};
use crate::domain::scopes::parse_scope_list;
use crate::ports::chat::{
    Capabilities, ChatAccess, ChatError, ChatService, LimitKind, ListRooms, NewRoom, Notification, Probe, Room,
    RoomPage, RoomRef, RoomSummary, RoomUpdate, TokenInfo, Unreachable,
};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(6);
/// Wait for a 429's reset (and retry once) only when it is at most this far away.
pub const RETRY_BUDGET: Duration = Duration::from_secs(2);

/// The one HTTP client of a function, with the given timeouts, resolving through `resolver`.
pub fn http_client_with(connect: Duration, total: Duration, resolver: Resolver) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(resolver))
        .tls_backend_preconfigured(super::tls::hipchat_tls_config())
        .connect_timeout(connect)
        .timeout(total)
        // Not followed, to this host or another: a redirect is not how the v2 API answers, and
        // following one would call an address nobody checked.
        .redirect(reqwest::redirect::Policy::none())
        // No proxy from the environment: a proxy would resolve and connect for us, past the
        // resolver's check.
        .no_proxy()
        .user_agent(concat!("dynaboard-hipchat/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The one HTTP client of a function: 3 s to connect, 6 s per call, connecting only where
/// `allowed` says (see [`Resolver`]).
pub fn http_client(allowed: PrivateHosts) -> reqwest::Result<reqwest::Client> {
    http_client_with(CONNECT_TIMEOUT, TOTAL_TIMEOUT, Resolver::new(allowed))
}

/// The resolver of the HipChat client: the system resolver (`getaddrinfo`, as reqwest's
/// default), then every address checked against the SSRF guard ([`destination::check`]) before
/// anything connects. Names under the reserved `.invalid` domain fail at once without a lookup
/// (RFC 6761 §6.4). reqwest tags resolver failures as DNS errors; [`transport_error`] finds
/// a refused address by its type first.
#[derive(Debug, Clone)]
pub struct Resolver {
    allowed: PrivateHosts,
    overrides: Arc<HashMap<String, Vec<IpAddr>>>,
}

/// A host name that did not resolve.
#[derive(Debug, thiserror::Error)]
#[error("the host name does not resolve")]
struct DnsFailure(#[source] Option<std::io::Error>);

/// A host name that resolved to an address calls may not go to.
#[derive(Debug, thiserror::Error)]
#[error("the host name resolves to {0}")]
pub struct AddressRefused(pub Refusal);

impl Resolver {
    pub fn new(allowed: PrivateHosts) -> Self {
        Self { allowed, overrides: Arc::default() }
    }

    /// Answers `name` with `ip` instead of asking DNS, and still checks it (tests point a name
    /// at an address to prove the check; nothing connects when it is refused).
    pub fn with_override(mut self, name: &str, ip: IpAddr) -> Self {
        Arc::make_mut(&mut self.overrides).entry(name.to_ascii_lowercase()).or_default().push(ip);
        self
    }

    /// The addresses a call to `host` may connect to, or why it may not.
    pub async fn addresses(&self, host: &str) -> Result<Vec<SocketAddr>, BoxError> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let addrs: Vec<SocketAddr> = if let Some(ips) = self.overrides.get(&host) {
            ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect()
        } else if host == "invalid" || host.ends_with(".invalid") {
            return Err(Box::new(DnsFailure(None)) as BoxError);
        } else {
            tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| Box::new(DnsFailure(Some(e))) as BoxError)?
                .collect()
        };
        // One refused address refuses the name: a server is not half in a private network.
        for addr in &addrs {
            destination::check(addr.ip(), self.allowed).map_err(|r| Box::new(AddressRefused(r)) as BoxError)?;
        }
        Ok(addrs)
    }
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            let addrs = resolver.addresses(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

type BoxError = Box<dyn StdError + Send + Sync>;

/// [`ChatService`] over HTTP.
#[derive(Debug, Clone, Default)]
pub struct HipchatClient {
    /// Built on first use (see [`HipchatClient::lazy`]) or given (tests pick timeouts).
    http: OnceLock<reqwest::Client>,
    retry_budget: Duration,
    /// Where calls may go (the HTTP client's [`Resolver`] checks names with the same).
    allowed: PrivateHosts,
}

impl HipchatClient {
    /// A client on `http`, which must resolve through a [`Resolver`] with the same `allowed`.
    pub fn new(http: reqwest::Client, allowed: PrivateHosts) -> Self {
        Self { http: OnceLock::from(http), retry_budget: RETRY_BUDGET, allowed }
    }

    /// A client with its own HTTP client with these timeouts (tests pick short ones).
    pub fn with_timeouts(connect: Duration, total: Duration, allowed: PrivateHosts) -> reqwest::Result<Self> {
        Ok(Self::new(http_client_with(connect, total, Resolver::new(allowed))?, allowed))
    }

    /// A client whose HTTP client (and TLS configuration) is built by the first call, so that
    /// a function that never calls HipChat never pays for it at cold start.
    pub fn lazy(allowed: PrivateHosts) -> Self {
        Self { http: OnceLock::new(), retry_budget: RETRY_BUDGET, allowed }
    }

    pub fn with_retry_budget(self, retry_budget: Duration) -> Self {
        Self { retry_budget, ..self }
    }

    /// The HTTP client, built now if it was not yet. Building fails only when the TLS
    /// configuration cannot be made, which is a bug, not HipChat's fault.
    fn http(&self) -> Result<&reqwest::Client, ChatError> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        let built = http_client(self.allowed).map_err(|e| {
            tracing::error!(error = %e, "the HTTP client for HipChat could not be built");
            ChatError::Unreachable { kind: Unreachable::Connection, detail: format!("no HTTP client: {e}") }
        })?;
        Ok(self.http.get_or_init(|| built))
    }

    fn request(&self, access: &ChatAccess, method: Method, segments: &[&str]) -> Result<RequestBuilder, ChatError> {
        self.request_with_query(access, method, segments, &[])
    }

    fn request_with_query(
        &self,
        access: &ChatAccess,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<RequestBuilder, ChatError> {
        let mut url = api_url(access, segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(self
            .http()?
            .request(method, url)
            .bearer_auth(access.token().expose_secret())
            .header(reqwest::header::ACCEPT, "application/json"))
    }

    /// Sends, retrying one 429 whose reset is within the budget; `Ok` only for 2xx.
    /// `call` names the endpoint in logs (never the URL: one holds the token).
    ///
    /// Every call passes here: a literal address in the URL (which never reaches the
    /// [`Resolver`]) is checked first, and a refused one is not connected to.
    async fn send(&self, call: &'static str, req: RequestBuilder) -> Result<Response, ChatError> {
        let (http, req) = req.build_split();
        let req = req.map_err(transport_error)?;
        destination::check_url(req.url(), self.allowed).map_err(|refusal| ChatError::NotAllowed { refusal })?;
        let retry = req.try_clone();
        let resp = http.execute(req).await.map_err(|e| {
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
                let resp = http.execute(retry).await.map_err(transport_error)?;
                if resp.status() == StatusCode::TOO_MANY_REQUESTS {
                    let (kind, reset_at) = limit_of(&resp);
                    return Err(ChatError::RateLimited { kind, reset_at });
                }
                check(resp).await
            }
            _ => Err(ChatError::RateLimited { kind, reset_at }),
        }
    }

    async fn send_json<T: DeserializeOwned>(&self, call: &'static str, req: RequestBuilder) -> Result<T, ChatError> {
        let resp = self.send(call, req).await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(transport_error)?;
        serde_json::from_slice(&bytes).map_err(|e| ChatError::NotHipchat {
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

/// `Ok(resp)` for 2xx; anything else read into a [`ChatError`].
async fn check(resp: Response) -> Result<Response, ChatError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    if status.is_redirection() {
        let to = resp.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("?");
        // Only scheme and host of the target: a redirect may carry a query.
        let to = url::Url::parse(to).map(|u| u.origin().ascii_serialization()).unwrap_or_else(|_| "elsewhere".into());
        return Err(ChatError::NotHipchat {
            status: status.as_u16(),
            detail: format!("it redirects to {to}; use that address as the HipChat URL"),
        });
    }
    let bytes = resp.bytes().await.unwrap_or_default();
    let body = serde_json::from_slice::<ErrorBody>(&bytes).ok().map(|b| b.error);
    Err(classify_status(status.as_u16(), body))
}

fn classify_status(status: u16, body: Option<ErrorDetail>) -> ChatError {
    let Some(err) = body else {
        return if status >= 500 {
            ChatError::Server { status }
        } else {
            ChatError::NotHipchat { status, detail: format!("it answered {status} without a HipChat error body") }
        };
    };
    let message = err.message;
    match status {
        401 => ChatError::TokenRejected,
        403 => ChatError::MissingScopes { scopes: parse_scope_list(&message) },
        404 if message.starts_with("Room ") && message.ends_with("not found") => ChatError::RoomNotFound,
        400 if message.contains("Another room exists with that name") => ChatError::NameTaken,
        400 => ChatError::Validation { field: err.field, message },
        s if s >= 500 => ChatError::Server { status },
        _ => ChatError::Refused { status, message },
    }
}

/// `<base>/v2/<segments…>`, each segment percent-encoded (a room name with a space becomes
/// `%20`, `#` becomes `%23`, `/` becomes `%2F`).
pub fn api_url(access: &ChatAccess, segments: &[&str]) -> url::Url {
    let mut url = access.base().clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().push("v2").extend(segments);
    }
    url
}

/// A transport failure, classified by the types in its source chain (not by its text, which
/// a reqwest, hyper or rustls upgrade may reword), with the URL (which may hold a token)
/// removed.
fn transport_error(e: reqwest::Error) -> ChatError {
    let e = e.without_url();
    if let Some(AddressRefused(refusal)) = std::iter::successors(e.source(), next_source).find_map(|s| s.downcast_ref())
    {
        return ChatError::NotAllowed { refusal: *refusal };
    }
    let mut detail = e.to_string();
    for s in std::iter::successors(e.source(), next_source) {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
    }
    ChatError::Unreachable { kind: transport_kind(&e), detail }
}

/// The next error of a source chain.
fn next_source<'a>(e: &&'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    (*e).source()
}

/// What an `io::Error` wraps (its `source` skips it).
fn io_inner<'a>(e: &&'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    Some(inner)
}

fn transport_kind(e: &reqwest::Error) -> Unreachable {
    // reqwest tags timeouts, and resolver failures (ours are `DnsFailure`s) as DNS errors.
    if e.is_timeout() {
        return Unreachable::Timeout;
    }
    if e.is_dns() {
        return Unreachable::Dns;
    }
    // Each error of the chain, and what an `io::Error` wraps (its `source` skips that; TLS
    // failures come as an `io::Error` in an `io::Error` around the `rustls::Error`).
    let chain: Vec<&(dyn StdError + 'static)> =
        std::iter::successors(e.source(), next_source).flat_map(|s| std::iter::successors(Some(s), io_inner)).collect();
    let io_kind = |k: std::io::ErrorKind| {
        chain.iter().any(|s| s.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == k))
    };
    if io_kind(std::io::ErrorKind::TimedOut) {
        Unreachable::Timeout
    } else if io_kind(std::io::ErrorKind::ConnectionRefused) {
        Unreachable::Refused
    } else if chain.iter().any(|s| s.is::<rustls::Error>()) {
        Unreachable::Tls
    } else {
        Unreachable::Connection
    }
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

impl ChatService for HipchatClient {
    /// The staff's web client page of the room (where HipChat's own "go to room" links lead).
    fn room_web_url(&self, access: &ChatAccess, room_id: u64) -> String {
        format!("{}/chat/room/{room_id}", access.base_url().trim_end_matches('/'))
    }

    async fn capabilities(&self, access: &ChatAccess) -> Result<Capabilities, ChatError> {
        let req =
            self.http()?.get(api_url(access, &["capabilities"])).header(reqwest::header::ACCEPT, "application/json");
        let raw: RawCapabilities = self.send_json("GET /v2/capabilities", req).await?;
        if !raw.capabilities.is_object() {
            return Err(ChatError::NotHipchat {
                status: 200,
                detail: "/v2/capabilities has no capabilities object".into(),
            });
        }
        Ok(Capabilities { name: raw.name, api_url: raw.links.and_then(|l| l.api) })
    }

    async fn token_info(&self, access: &ChatAccess) -> Result<TokenInfo, ChatError> {
        let req = self.request(access, Method::GET, &["oauth", "token", access.token().expose_secret()])?;
        let raw: RawTokenInfo = self.send_json("GET /v2/oauth/token/{token}", req).await?;
        Ok(TokenInfo { scopes: raw.scopes, owner_id: raw.owner.map(|o| o.id), expires_in: raw.expires_in })
    }

    async fn auth_test(&self, access: &ChatAccess, probe: Probe) -> Result<(), ChatError> {
        let (method, segments): (Method, Vec<String>) = match probe {
            Probe::ListRooms => (Method::GET, vec!["room".into()]),
            Probe::CreateRoom => (Method::POST, vec!["room".into()]),
            Probe::SendNotification(id) => (Method::POST, vec!["room".into(), id.to_string(), "notification".into()]),
            Probe::SendMessage(id) => (Method::POST, vec!["room".into(), id.to_string(), "message".into()]),
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let mut req = self.request_with_query(access, method.clone(), &segments, &[("auth_test", "true")])?;
        if method == Method::POST {
            req = req.json(&json!({}));
        }
        self.send("auth_test", req).await.map(drop)
    }

    async fn list_rooms(&self, access: &ChatAccess, page: &ListRooms) -> Result<RoomPage, ChatError> {
        let (start, max) = (page.start_index.to_string(), page.max_results.min(1000).to_string());
        let query = [
            ("start-index", start.as_str()),
            ("max-results", max.as_str()),
            ("include-private", if page.include_private { "true" } else { "false" }),
            ("include-archived", if page.include_archived { "true" } else { "false" }),
        ];
        let req = self.request_with_query(access, Method::GET, &["room"], &query)?;
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

    async fn get_room(&self, access: &ChatAccess, room: RoomRef<'_>) -> Result<Room, ChatError> {
        let name = room.to_string();
        let raw: RawRoom =
            self.send_json("GET /v2/room/{id}", self.request(access, Method::GET, &["room", &name])?).await?;
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

    async fn create_room(&self, access: &ChatAccess, room: &NewRoom) -> Result<u64, ChatError> {
        let raw: RawCreated =
            self.send_json("POST /v2/room", self.request(access, Method::POST, &["room"])?.json(room)).await?;
        Ok(raw.id)
    }

    async fn update_room(&self, access: &ChatAccess, id: u64, update: &RoomUpdate) -> Result<(), ChatError> {
        let body = json!({
            "name": update.name,
            "privacy": update.privacy,
            "is_archived": update.is_archived,
            "is_guest_accessible": update.is_guest_accessible,
            "topic": update.topic,
            "owner": {"id": update.owner_id},
        });
        let id = id.to_string();
        self.send("PUT /v2/room/{id}", self.request(access, Method::PUT, &["room", &id])?.json(&body)).await.map(drop)
    }

    async fn delete_room(&self, access: &ChatAccess, room: RoomRef<'_>) -> Result<(), ChatError> {
        let name = room.to_string();
        self.send("DELETE /v2/room/{id}", self.request(access, Method::DELETE, &["room", &name])?).await.map(drop)
    }

    async fn send_notification(
        &self,
        access: &ChatAccess,
        room: RoomRef<'_>,
        notification: &Notification,
    ) -> Result<(), ChatError> {
        let name = room.to_string();
        let req = self.request(access, Method::POST, &["room", &name, "notification"])?.json(notification);
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
        assert_eq!(classify_status(401, detail("Invalid OAuth session")), ChatError::TokenRejected);
        assert_eq!(
            classify_status(403, detail("This action requires one of the following scopes: [u'manage_rooms']")),
            ChatError::MissingScopes { scopes: vec!["manage_rooms".into()] }
        );
        assert_eq!(classify_status(404, detail("Room 'banana stand' not found")), ChatError::RoomNotFound);
        assert_eq!(classify_status(404, detail("Room not found")), ChatError::RoomNotFound);
        assert_eq!(classify_status(400, detail("Another room exists with that name.")), ChatError::NameTaken);
        assert!(matches!(classify_status(400, detail("bad")), ChatError::Validation { .. }));
        assert_eq!(classify_status(503, detail("down")), ChatError::Server { status: 503 });
        assert!(matches!(classify_status(405, detail("nope")), ChatError::Refused { status: 405, .. }));
    }

    #[test]
    fn answers_without_a_hipchat_body_are_not_hipchat_unless_5xx() {
        assert!(matches!(classify_status(404, None), ChatError::NotHipchat { status: 404, .. }));
        assert!(matches!(classify_status(401, None), ChatError::NotHipchat { status: 401, .. }));
        assert_eq!(classify_status(502, None), ChatError::Server { status: 502 });
    }
}
