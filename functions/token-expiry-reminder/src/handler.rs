//! The scheduled event → one run → its summary.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use shared::adapters::aws::AwsClients;
use shared::adapters::dynamo::DynamoSettingsStore;
use shared::adapters::hipchat::HipchatClient;
use shared::adapters::secrets::SecretsManagerTokens;
use shared::config::Config;
use shared::error::chain;
use shared::ports::hipchat::Hipchat;
use shared::ports::{Clock, DeliveryStore, SettingsStore, SystemClock, TokenIndex, TokenSecrets};
use shared::service::reminder::{self, ReminderConfig, ReminderPorts, Summary};

/// Everything a run needs, built once at cold start.
pub struct Deps<S, T, C, H> {
    pub store: S,
    pub secrets: T,
    pub clock: C,
    pub hipchat: H,
    pub config: ReminderConfig,
}

impl Deps<DynamoSettingsStore, SecretsManagerTokens, SystemClock, HipchatClient> {
    pub fn on_aws(config: &Config, clients: &AwsClients, hipchat: HipchatClient, reminder: ReminderConfig) -> Self {
        Self {
            store: DynamoSettingsStore::new(clients.dynamodb.clone(), &config.table_name),
            secrets: SecretsManagerTokens::new(clients.secrets.clone(), &config.secret_prefix),
            clock: SystemClock,
            hipchat,
            config: reminder,
        }
    }
}

/// One daily run. The time is the clock's (the schedule's `time` only says when it was due);
/// an error (the partners could not be listed) fails the invocation, so that Lambda retries
/// it and finally sends it to the on-failure destination.
#[tracing::instrument(skip_all, fields(scheduled_at = ?event.payload.time))]
pub async fn handle<S, T, C, H>(
    deps: &Deps<S, T, C, H>,
    event: LambdaEvent<EventBridgeEvent<Value>>,
) -> Result<Summary, Error>
where
    S: SettingsStore + TokenIndex + DeliveryStore,
    T: TokenSecrets,
    C: Clock,
    H: Hipchat,
{
    let ports =
        ReminderPorts { store: &deps.store, secrets: &deps.secrets, hipchat: &deps.hipchat, clock: &deps.clock };
    reminder::run(&ports, &deps.config).await.map_err(|e| {
        tracing::error!(error = %chain(&e), "the token-expiry reminder could not list the partners");
        Error::from(format!("the token-expiry reminder could not run: {e}"))
    })
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
