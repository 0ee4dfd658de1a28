//! Parse → one service call → answer.

use std::convert::Infallible;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::adapters::http::{Replays, finish, json_response, no_such_resource, request, signed_partner_route};
use shared::app::{Deps, Wiring};
use shared::error::AppError;
use shared::ports::Clock;
use shared::service::events;

#[tracing::instrument(skip_all, fields(method = %req.method(), partner_id = tracing::field::Empty))]
pub async fn handle<W: Wiring>(deps: &Deps<W>, req: Request) -> Result<Response<Body>, Infallible> {
    let result = route(deps, &req).await;
    Ok(finish(&req, result))
}

async fn route<W: Wiring>(deps: &Deps<W>, req: &Request) -> Result<Response<Body>, AppError> {
    let (partner, rest) =
        signed_partner_route(&deps.auth, &deps.store, Replays::Harmless, req, deps.clock.now()).await?;
    match (rest, req.method()) {
        ("events", &Method::POST) => {
            let event = request::event(req)?;
            let answer = events::notify_event(deps, &partner, &event).await?;
            tracing::info!(
                event_id = %answer.event_id,
                event_type = answer.kind.as_str(),
                status = ?answer.status,
                reason = ?answer.reason,
                "event answered"
            );
            Ok(json_response(StatusCode::ACCEPTED, &answer, &[]))
        }
        ("events", _) => Err(AppError::MethodNotAllowed { allow: "POST" }),
        _ => Err(no_such_resource()),
    }
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
