//! Adapters: the ports implemented on AWS, and the HTTP glue for `lambda_http`.

pub mod aws;
pub mod dynamo;
pub mod hipchat;
pub mod http;
pub mod secrets;
pub mod tls;

use crate::config::Config;
use crate::ports::SystemClock;
use crate::service::token_cache::TokenCache;

/// The ports every HTTP function uses, on AWS: settings store, token secrets and the request
/// authenticator. Built once in `main`.
pub struct AwsPorts {
    pub store: dynamo::DynamoSettingsStore,
    pub secrets: secrets::SecretsManagerTokens,
    pub auth: http::Authenticator<secrets::SecretsManagerSigningKeys>,
}

impl AwsPorts {
    pub fn new(config: &Config, clients: &aws::AwsClients) -> Self {
        Self {
            store: dynamo::DynamoSettingsStore::new(clients.dynamodb.clone(), &config.table_name),
            secrets: secrets::SecretsManagerTokens::new(clients.secrets.clone(), &config.secret_prefix),
            auth: http::Authenticator::new(
                secrets::SecretsManagerSigningKeys::new(clients.secrets.clone(), &config.signing_secret_id),
                config.signing_keys_ttl,
            ),
        }
    }
}

/// What a handler that calls HipChat with the partner's stored token needs (chat requests,
/// events), built once at cold start. The token cache lives as long as the warm container.
pub struct HipchatDeps<S, T, K, C, H> {
    pub store: S,
    pub tokens: TokenCache<T>,
    pub auth: http::Authenticator<K>,
    pub clock: C,
    pub hipchat: H,
}

impl<S, T, K, C, H> HipchatDeps<S, T, K, C, H> {
    /// The ports a use case needs, borrowed.
    pub fn ports(&self) -> crate::service::hipchat::Ports<'_, S, T, H, C> {
        crate::service::hipchat::Ports {
            store: &self.store,
            tokens: &self.tokens,
            hipchat: &self.hipchat,
            clock: &self.clock,
        }
    }
}

impl
    HipchatDeps<
        dynamo::DynamoSettingsStore,
        secrets::SecretsManagerTokens,
        secrets::SecretsManagerSigningKeys,
        SystemClock,
        hipchat::HipchatClient,
    >
{
    pub fn on_aws(config: &Config, clients: &aws::AwsClients, hipchat: hipchat::HipchatClient) -> Self {
        let AwsPorts { store, secrets, auth } = AwsPorts::new(config, clients);
        Self { store, tokens: TokenCache::new(secrets), auth, clock: SystemClock, hipchat }
    }
}
