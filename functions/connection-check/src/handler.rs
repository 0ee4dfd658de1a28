//! Parse → one service call → respond.

use std::convert::Infallible;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::adapters::AwsPorts;
use shared::adapters::aws::AwsClients;
use shared::adapters::dynamo::DynamoSettingsStore;
use shared::adapters::hipchat::HipchatClient;
use shared::adapters::http::{
    Authenticator, finish, json_body, json_response, no_such_resource, optional_json_body, signed_partner_route,
};
use shared::adapters::secrets::{SecretsManagerSigningKeys, SecretsManagerTokens};
use shared::config::Config;
use shared::error::AppError;
use shared::ports::hipchat::Hipchat;
use shared::ports::{Clock, SettingsStore, SigningKeySource, SystemClock, TokenSecrets};
use shared::service::connection::check_connection;
use shared::service::hipchat::stored_access;
use shared::service::rooms;

/// Everything the handler needs, built once at cold start.
pub struct Deps<S, T, K, C, H> {
    pub store: S,
    pub secrets: T,
    pub auth: Authenticator<K>,
    pub clock: C,
    pub hipchat: H,
    /// Rooms per HipChat page when listing (HipChat's maximum, 1000; tests use less).
    pub room_page_size: u32,
}

impl Deps<DynamoSettingsStore, SecretsManagerTokens, SecretsManagerSigningKeys, SystemClock, HipchatClient> {
    pub fn on_aws(config: &Config, clients: &AwsClients, hipchat: HipchatClient) -> Self {
        let AwsPorts { store, secrets, auth } = AwsPorts::new(config, clients);
        Self { store, secrets, auth, clock: SystemClock, hipchat, room_page_size: rooms::HIPCHAT_PAGE_SIZE }
    }
}

#[tracing::instrument(skip_all, fields(method = %req.method(), partner_id = tracing::field::Empty))]
pub async fn handle<S, T, K, C, H>(deps: &Deps<S, T, K, C, H>, req: Request) -> Result<Response<Body>, Infallible>
where
    S: SettingsStore,
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
    S: SettingsStore,
    T: TokenSecrets,
    K: SigningKeySource,
    C: Clock,
    H: Hipchat,
{
    let now = deps.clock.now();
    let (partner, rest) = signed_partner_route(&deps.auth, req, now.as_second()).await?;
    match (rest, req.method()) {
        ("connection-check", &Method::POST) => {
            let body = optional_json_body(req)?;
            let report = check_connection(&deps.store, &deps.secrets, &deps.hipchat, &partner, &body, now).await?;
            tracing::info!(ok = report.ok, problems = report.problems.len(), "connection checked");
            Ok(json_response(StatusCode::OK, &report, &[]))
        }
        ("connection-check", _) => Err(AppError::MethodNotAllowed { allow: "POST" }),
        ("rooms", &Method::GET) => {
            let query = rooms::parse_room_query(req.uri().query())?;
            let ph = stored_access(&deps.store, &deps.secrets, &partner).await?;
            let list =
                rooms::list_rooms(&deps.store, &deps.hipchat, &partner, &ph, &query, deps.room_page_size, now).await?;
            Ok(json_response(StatusCode::OK, &list, &[]))
        }
        ("rooms", &Method::POST) => {
            let room = rooms::parse_new_room(&json_body(req)?)?;
            let ph = stored_access(&deps.store, &deps.secrets, &partner).await?;
            let created = rooms::create_room(&deps.store, &deps.hipchat, &partner, &ph, &room, now).await?;
            Ok(json_response(StatusCode::CREATED, &created, &[]))
        }
        ("rooms", _) => Err(AppError::MethodNotAllowed { allow: "GET, POST" }),
        _ => Err(no_such_resource()),
    }
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
