//! Parse → one service call → respond.

use std::convert::Infallible;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::adapters::AwsPorts;
use shared::adapters::aws::AwsClients;
use shared::adapters::dynamo::DynamoSettingsStore;
use shared::adapters::hipchat::HipchatClient;
use shared::adapters::http::{Authenticator, finish, json_body, json_response, no_such_resource, signed_partner_route};
use shared::adapters::secrets::{SecretsManagerSigningKeys, SecretsManagerTokens};
use shared::config::Config;
use shared::error::AppError;
use shared::ports::hipchat::Hipchat;
use shared::ports::{Clock, EventStore, SettingsStore, SigningKeySource, SystemClock, TokenSecrets};
use shared::service::events::{self, EventPorts};
use shared::service::token_cache::TokenCache;

/// Everything the handler needs, built once at cold start. The token cache lives as long as
/// the warm container.
pub struct Deps<S, T, K, C, H> {
    pub store: S,
    pub tokens: TokenCache<T>,
    pub auth: Authenticator<K>,
    pub clock: C,
    pub hipchat: H,
}

impl Deps<DynamoSettingsStore, SecretsManagerTokens, SecretsManagerSigningKeys, SystemClock, HipchatClient> {
    pub fn on_aws(config: &Config, clients: &AwsClients, hipchat: HipchatClient) -> Self {
        let AwsPorts { store, secrets, auth } = AwsPorts::new(config, clients);
        Self { store, tokens: TokenCache::new(secrets), auth, clock: SystemClock, hipchat }
    }
}

#[tracing::instrument(skip_all, fields(method = %req.method(), partner_id = tracing::field::Empty))]
pub async fn handle<S, T, K, C, H>(deps: &Deps<S, T, K, C, H>, req: Request) -> Result<Response<Body>, Infallible>
where
    S: SettingsStore + EventStore,
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
    S: SettingsStore + EventStore,
    T: TokenSecrets,
    K: SigningKeySource,
    C: Clock,
    H: Hipchat,
{
    let (partner, rest) = signed_partner_route(&deps.auth, req, deps.clock.now().as_second()).await?;
    match (rest, req.method()) {
        ("events", &Method::POST) => {
            let event = events::parse_event_request(&json_body(req)?)?;
            let ports =
                EventPorts { store: &deps.store, tokens: &deps.tokens, hipchat: &deps.hipchat, clock: &deps.clock };
            let answer = events::notify_event(&ports, &partner, &event).await?;
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
