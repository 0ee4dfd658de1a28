//! Adapters: the ports implemented on AWS, and the HTTP glue for `lambda_http`.

pub mod aws;
pub mod dynamo;
pub mod hipchat;
pub mod http;
pub mod secrets;

use crate::config::Config;

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
