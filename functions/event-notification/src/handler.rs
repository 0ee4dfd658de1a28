//! Parse → one service call → respond.

use std::convert::Infallible;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
pub use shared::adapters::HipchatDeps as Deps;
use shared::adapters::http::{finish, json_body, json_response, no_such_resource, signed_partner_route};
use shared::error::AppError;
use shared::ports::hipchat::Hipchat;
use shared::ports::{Clock, DeliveryStore, SettingsStore, SigningKeySource, TokenSecrets};
use shared::service::events;

#[tracing::instrument(skip_all, fields(method = %req.method(), partner_id = tracing::field::Empty))]
pub async fn handle<S, T, K, C, H>(deps: &Deps<S, T, K, C, H>, req: Request) -> Result<Response<Body>, Infallible>
where
    S: SettingsStore + DeliveryStore,
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
    S: SettingsStore + DeliveryStore,
    T: TokenSecrets,
    K: SigningKeySource,
    C: Clock,
    H: Hipchat,
{
    let (partner, rest) = signed_partner_route(&deps.auth, req, deps.clock.now().as_second()).await?;
    match (rest, req.method()) {
        ("events", &Method::POST) => {
            let event = events::parse_event_request(&json_body(req)?)?;
            let answer = events::notify_event(&deps.ports(), &partner, &event).await?;
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
