//! Parse → one service call → answer.

use std::convert::Infallible;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::adapters::http::{Replays, finish, json_response, no_such_resource, request, signed_partner_route};
use shared::app::{Deps, Wiring};
use shared::error::AppError;
use shared::ports::Clock;
use shared::service::chat;

#[tracing::instrument(skip_all, fields(method = %req.method(), partner_id = tracing::field::Empty))]
pub async fn handle<W: Wiring>(deps: &Deps<W>, req: Request) -> Result<Response<Body>, Infallible> {
    let result = route(deps, &req).await;
    Ok(finish(&req, result))
}

async fn route<W: Wiring>(deps: &Deps<W>, req: &Request) -> Result<Response<Body>, AppError> {
    let now = deps.clock.now();
    let (partner, rest) = signed_partner_route(&deps.auth, &deps.store, Replays::Refused, req, now).await?;
    match (rest, req.method()) {
        ("chat/availability", &Method::GET) => {
            let at = request::availability(req)?.unwrap_or(now);
            let view = chat::availability(deps, &partner, at).await?;
            Ok(json_response(StatusCode::OK, &view, &[]))
        }
        ("chat/availability", _) => Err(AppError::MethodNotAllowed { allow: "GET" }),
        ("chat/requests", &Method::POST) => {
            let user = request::chat_request(req)?;
            let answer = chat::request_chat(deps, &partner, &user).await?;
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
