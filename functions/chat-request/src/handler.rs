//! Parse → one service call → respond.

use std::convert::Infallible;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
pub use shared::adapters::HipchatDeps as Deps;
use shared::adapters::http::{finish, json_body, json_response, no_such_resource, signed_partner_route};
use shared::error::AppError;
use shared::ports::hipchat::Hipchat;
use shared::ports::{Clock, RoomStore, SettingsStore, SigningKeySource, TokenSecrets};
use shared::service::chat;

#[tracing::instrument(skip_all, fields(method = %req.method(), partner_id = tracing::field::Empty))]
pub async fn handle<S, T, K, C, H>(deps: &Deps<S, T, K, C, H>, req: Request) -> Result<Response<Body>, Infallible>
where
    S: SettingsStore + RoomStore,
    T: TokenSecrets,
    K: SigningKeySource,
    C: Clock,
    H: Hipchat,
{
    let result = route(deps, &req).await;
    Ok(finish(&req, result))
}

async fn route<S, T, K, C, H>(deps: &Deps<S, T, K, C, H>, req: &Request) -> Result<Response<Body>, AppError>
where
    S: SettingsStore + RoomStore,
    T: TokenSecrets,
    K: SigningKeySource,
    C: Clock,
    H: Hipchat,
{
    let now = deps.clock.now();
    let (partner, rest) = signed_partner_route(&deps.auth, req, now.as_second()).await?;
    match (rest, req.method()) {
        ("chat/availability", &Method::GET) => {
            let at = chat::parse_availability_query(req.uri().query())?.unwrap_or(now);
            let view = chat::availability(&deps.store, &partner, at).await?;
            Ok(json_response(StatusCode::OK, &view, &[]))
        }
        ("chat/availability", _) => Err(AppError::MethodNotAllowed { allow: "GET" }),
        ("chat/requests", &Method::POST) => {
            let user = chat::parse_chat_request(&json_body(req)?)?;
            let answer = chat::request_chat(&deps.ports(), &partner, &user).await?;
            tracing::info!(
                room_id = answer.room.id,
                created = answer.room.created,
                notification_sent = answer.notification_sent,
                "chat request answered"
            );
            let status = if answer.room.created { StatusCode::CREATED } else { StatusCode::OK };
            Ok(json_response(status, &answer, &[]))
        }
        ("chat/requests", _) => Err(AppError::MethodNotAllowed { allow: "POST" }),
        _ => Err(no_such_resource()),
    }
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
