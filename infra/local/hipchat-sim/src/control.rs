//! The `/_sim/` control API: seed tokens and rooms, read counters, inject faults, change limits, reset.
//! JSON in and out, no authentication. Errors use the HipChat error shape.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::model::{Fault, FaultAction, KNOWN_SCOPES, Limits, RoomSpec, TokenSpec};
use crate::state::Simulator;
use crate::v2::{error_response, json_response};

pub(crate) fn routes() -> Router<Simulator> {
    Router::new()
        .route("/_sim/tokens", post(create_token))
        .route("/_sim/tokens/{token}/expire", post(expire_token))
        .route("/_sim/tokens/{token}/revoke", post(revoke_token))
        .route("/_sim/rooms", get(list_rooms).post(add_room))
        .route("/_sim/counters", get(counters))
        .route("/_sim/faults", get(list_faults).post(add_fault).delete(clear_faults))
        .route("/_sim/limits", put(set_limits).get(get_limits))
        .route("/_sim/reset", post(reset))
}

fn bad_request(message: &str) -> Response {
    error_response(StatusCode::BAD_REQUEST, message)
}

/// Parse a JSON body; an empty body is `{}`.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
    serde_json::from_slice(bytes).map_err(|e| format!("Invalid JSON body: {e}"))
}

async fn create_token(State(sim): State<Simulator>, body: Bytes) -> Response {
    let spec: TokenSpec = match parse(&body) {
        Ok(spec) => spec,
        Err(message) => return bad_request(&message),
    };
    if let Some(unknown) = spec.scopes.iter().flatten().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return bad_request(&format!("Unknown scope '{unknown}'"));
    }
    if spec.token.as_deref().is_some_and(|t| t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic())) {
        return bad_request("A token must be non-empty printable ASCII without spaces");
    }
    let mut state = sim.lock();
    let record = state.create_token(spec);
    let owner = state.user_or_placeholder(record.owner_id).clone();
    json_response(
        StatusCode::CREATED,
        &json!({
            "token": record.token,
            "scopes": record.scopes,
            "owner": {"id": owner.id, "name": owner.name, "mention_name": owner.mention_name},
            "created_at": record.created_at,
            "expires_at": record.expires_at,
            "kind": record.kind,
        }),
    )
}

fn token_not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "Unknown token")
}

async fn expire_token(State(sim): State<Simulator>, Path(token): Path<String>) -> Response {
    if sim.expire_token(&token) { StatusCode::NO_CONTENT.into_response() } else { token_not_found() }
}

async fn revoke_token(State(sim): State<Simulator>, Path(token): Path<String>) -> Response {
    if sim.revoke_token(&token) { StatusCode::NO_CONTENT.into_response() } else { token_not_found() }
}

async fn list_rooms(State(sim): State<Simulator>) -> Response {
    json_response(StatusCode::OK, &json!(sim.rooms()))
}

async fn add_room(State(sim): State<Simulator>, body: Bytes) -> Response {
    let spec: RoomSpec = match parse(&body) {
        Ok(spec) => spec,
        Err(message) => return bad_request(&message),
    };
    let id = sim.add_room(spec);
    match sim.room(id) {
        Some(room) => json_response(StatusCode::CREATED, &json!(room)),
        None => error_response(StatusCode::INTERNAL_SERVER_ERROR, "Room vanished"),
    }
}

async fn counters(State(sim): State<Simulator>) -> Response {
    json_response(StatusCode::OK, &json!(sim.counters()))
}

/// `POST /_sim/faults` body: exactly one of `status` (+ `message`, `reset_in_seconds`), `delay_ms`,
/// `drop: true`, or `body` (+ `status`, `content_type`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultRequest {
    endpoint: Option<String>,
    count: Option<u32>,
    status: Option<u16>,
    message: Option<String>,
    reset_in_seconds: Option<u64>,
    delay_ms: Option<u64>,
    drop: Option<bool>,
    body: Option<String>,
    content_type: Option<String>,
}

fn fault_from_request(request: FaultRequest) -> Result<Fault, String> {
    let count = request.count.unwrap_or(1);
    if count == 0 {
        return Err("count must be at least 1".to_owned());
    }
    if let Some(endpoint) = &request.endpoint
        && !endpoint.split_once(' ').is_some_and(|(method, path)| !method.is_empty() && path.starts_with("/v2"))
    {
        return Err(format!("endpoint must look like 'POST /v2/room/{{id}}/notification', got '{endpoint}'"));
    }
    if let Some(status) = request.status
        && !(200..=599).contains(&status)
    {
        return Err(format!("status must be 200..=599, got {status}"));
    }
    let drop = request.drop.unwrap_or(false);
    let kinds = usize::from(drop)
        + usize::from(request.delay_ms.is_some())
        + usize::from(request.body.is_some() || request.status.is_some());
    if kinds != 1 {
        return Err("a fault needs exactly one of: status, delay_ms, drop: true, body".to_owned());
    }
    let action = if drop {
        FaultAction::Drop
    } else if let Some(ms) = request.delay_ms {
        FaultAction::Delay { ms }
    } else if let Some(body) = request.body {
        FaultAction::Body {
            status: request.status.unwrap_or(200),
            body,
            content_type: request.content_type.unwrap_or_else(|| "text/plain; charset=utf-8".to_owned()),
        }
    } else if let Some(status) = request.status {
        FaultAction::Status { status, message: request.message, reset_in_seconds: request.reset_in_seconds }
    } else {
        return Err("a fault needs exactly one of: status, delay_ms, drop: true, body".to_owned());
    };
    Ok(Fault { endpoint: request.endpoint, count, action })
}

async fn add_fault(State(sim): State<Simulator>, body: Bytes) -> Response {
    let request: FaultRequest = match parse(&body) {
        Ok(request) => request,
        Err(message) => return bad_request(&message),
    };
    match fault_from_request(request) {
        Ok(fault) => {
            sim.inject_fault(fault.clone());
            json_response(StatusCode::CREATED, &json!(fault))
        }
        Err(message) => bad_request(&message),
    }
}

async fn list_faults(State(sim): State<Simulator>) -> Response {
    json_response(StatusCode::OK, &json!(sim.faults()))
}

async fn clear_faults(State(sim): State<Simulator>) -> Response {
    sim.clear_faults();
    StatusCode::NO_CONTENT.into_response()
}

async fn set_limits(State(sim): State<Simulator>, body: Bytes) -> Response {
    match parse::<Limits>(&body) {
        Ok(limits) => {
            sim.set_limits(limits);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(message) => bad_request(&message),
    }
}

async fn get_limits(State(sim): State<Simulator>) -> Response {
    json_response(StatusCode::OK, &json!(sim.limits()))
}

async fn reset(State(sim): State<Simulator>) -> Response {
    sim.reset();
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: &str) -> Result<Fault, String> {
        let request: FaultRequest = serde_json::from_str(json).map_err(|e| e.to_string())?;
        fault_from_request(request)
    }

    #[test]
    fn fault_requests() {
        assert_eq!(
            request(r#"{"status": 500}"#),
            Ok(Fault::new(FaultAction::Status { status: 500, message: None, reset_in_seconds: None }))
        );
        assert_eq!(request(r#"{"drop": true, "count": 2}"#), Ok(Fault::new(FaultAction::Drop).times(2)));
        assert_eq!(
            request(r#"{"delay_ms": 5, "endpoint": "GET /v2/room"}"#),
            Ok(Fault::new(FaultAction::Delay { ms: 5 }).on("GET /v2/room"))
        );
        assert!(request(r#"{"drop": true, "status": 500}"#).is_err());
        assert!(request(r#"{}"#).is_err());
        assert!(request(r#"{"status": 99}"#).is_err());
        assert!(request(r#"{"status": 500, "count": 0}"#).is_err());
        assert!(request(r#"{"status": 500, "endpoint": "/v2/room"}"#).is_err());
    }
}
