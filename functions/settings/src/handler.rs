//! Parse → one service call → answer.

use std::convert::Infallible;

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use shared::adapters::http::{
    Replays, etag, finish, if_match, json_response, no_content, no_such_resource, request, signed_partner_route,
};
use shared::app::{Deps, Wiring};
use shared::error::AppError;
use shared::ports::Clock;
use shared::service::settings::{self as svc, today};

#[tracing::instrument(skip_all, fields(method = %req.method(), partner_id = tracing::field::Empty))]
pub async fn handle<W: Wiring>(deps: &Deps<W>, req: Request) -> Result<Response<Body>, Infallible> {
    let result = route(deps, &req).await;
    Ok(finish(&req, result))
}

async fn route<W: Wiring>(deps: &Deps<W>, req: &Request) -> Result<Response<Body>, AppError> {
    let now = deps.clock.now();
    let (partner, rest) = signed_partner_route(&deps.auth, &deps.store, Replays::Refused, req, now).await?;
    let method = req.method();
    match rest {
        "settings" => match *method {
            Method::GET => {
                let view = svc::get_settings(deps, &partner, now).await?;
                Ok(json_response(StatusCode::OK, &view, &[(header::ETAG, etag(view.version))]))
            }
            Method::PUT => {
                let settings = request::settings(req)?;
                let view = svc::put_settings(deps, &partner, settings, &if_match(req), now).await?;
                Ok(json_response(StatusCode::OK, &view, &[(header::ETAG, etag(view.version))]))
            }
            Method::DELETE => {
                svc::delete_settings(deps, &partner).await?;
                Ok(no_content())
            }
            _ => Err(AppError::MethodNotAllowed { allow: "GET, PUT, DELETE" }),
        },
        "token" => match *method {
            Method::PUT => {
                let (token, warnings) = request::token(req, today(now))?;
                let view = svc::put_token(deps, &partner, token, warnings, now).await?;
                Ok(json_response(StatusCode::OK, &view, &[]))
            }
            Method::DELETE => {
                svc::delete_token(deps, &partner, now).await?;
                Ok(no_content())
            }
            _ => Err(AppError::MethodNotAllowed { allow: "PUT, DELETE" }),
        },
        _ => Err(no_such_resource()),
    }
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
