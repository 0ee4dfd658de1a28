//! Parse → one service call → answer.

use std::convert::Infallible;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::adapters::http::{Replays, finish, json_response, no_such_resource, request, signed_partner_route};
use shared::app::{Deps, Wiring};
use shared::error::AppError;
use shared::ports::Clock;
use shared::service::connection::check_connection;
use shared::service::rooms;

#[tracing::instrument(skip_all, fields(method = %req.method(), partner_id = tracing::field::Empty))]
pub async fn handle<W: Wiring>(deps: &Deps<W>, req: Request) -> Result<Response<Body>, Infallible> {
    let result = route(deps, &req).await;
    Ok(finish(&req, result))
}

async fn route<W: Wiring>(deps: &Deps<W>, req: &Request) -> Result<Response<Body>, AppError> {
    let (partner, rest) =
        signed_partner_route(&deps.auth, &deps.store, Replays::Refused, req, deps.clock.now()).await?;
    match (rest, req.method()) {
        ("connection-check", &Method::POST) => {
            let check = request::connection_check(req)?;
            let report = check_connection(deps, &partner, &check).await?;
            tracing::info!(ok = report.ok, problems = report.problems.len(), "connection checked");
            Ok(json_response(StatusCode::OK, &report, &[]))
        }
        ("connection-check", _) => Err(AppError::MethodNotAllowed { allow: "POST" }),
        ("rooms", &Method::GET) => {
            let query = request::room_query(req)?;
            let list = rooms::list_rooms(deps, &partner, &query).await?;
            Ok(json_response(StatusCode::OK, &list, &[]))
        }
        ("rooms", &Method::POST) => {
            let room = request::new_room(req)?;
            let created = rooms::create_room(deps, &partner, &room).await?;
            Ok(json_response(StatusCode::CREATED, &created, &[]))
        }
        ("rooms", _) => Err(AppError::MethodNotAllowed { allow: "GET, POST" }),
        _ => Err(no_such_resource()),
    }
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
