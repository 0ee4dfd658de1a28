//! What every function shares: its dependencies in one struct, [`Deps`], built once at cold
//! start by [`bootstrap`] (the one call each `main.rs` makes) and borrowed by every request.
//!
//! [`Wiring`] names the implementation behind each port. Production uses [`Aws`] (DynamoDB,
//! Secrets Manager, the system clock and the HipChat client); handler tests use the wiring of
//! the dev-only `test-support` crate (in-memory fakes, or the AWS adapters on moto, with a
//! fixed clock and static signing keys). Handlers and services are generic over one parameter,
//! `W: Wiring`, so a `where` clause never lists the ports one by one (docs/design.md, "One
//! dependency shape").
//!
//! This module is the composition root: the one place that knows both the adapters and the
//! services. Adapters never import services, and services see [`Deps`] only through the
//! port traits.

use crate::adapters::aws::{AwsClients, load_sdk_config};
use crate::adapters::dynamo::DynamoStore;
use crate::adapters::hipchat::HipchatClient;
use crate::adapters::http::Authenticator;
use crate::adapters::secrets::{SecretsManagerSigningKeys, SecretsManagerTokens};
use crate::config::{Config, ConfigError};
use crate::domain::destination::PrivateHosts;
use crate::ports::chat::ChatService;
use crate::ports::{Clock, SigningKeySource, Store, SystemClock, TokenSecrets};
use crate::service::reminder::ReminderConfig;
use crate::service::token_cache::TokenCache;

/// Which implementation serves each port.
pub trait Wiring: 'static {
    /// Settings, token indexes, room mappings and delivery records.
    type Store: Store;
    /// The partners' HipChat tokens (behind [`TokenCache`]).
    type Secrets: TokenSecrets;
    /// The request-signing keys.
    type Keys: SigningKeySource;
    type Clock: Clock;
    /// The partners' chat service.
    type Chat: ChatService;
}

/// The production wiring.
pub struct Aws;

impl Wiring for Aws {
    type Store = DynamoStore;
    type Secrets = SecretsManagerTokens;
    type Keys = SecretsManagerSigningKeys;
    type Clock = SystemClock;
    type Chat = HipchatClient;
}

/// Everything a function needs, built once at cold start. Each function uses the parts its
/// routes need (the settings function never calls the chat service, whose HTTP client is then
/// never built).
pub struct Deps<W: Wiring> {
    pub store: W::Store,
    /// The partners' tokens, cached per warm container.
    pub tokens: TokenCache<W::Secrets>,
    /// The request-signature check, with the keys cached.
    pub auth: Authenticator<W::Keys>,
    pub clock: W::Clock,
    pub chat: W::Chat,
    /// Rooms per chat-service page when listing (tests use small pages).
    pub room_page_size: u32,
    /// The daily reminder's thresholds and concurrency.
    pub reminder: ReminderConfig,
    /// Where the chat server may be (the chat client checks each call with the same).
    pub chat_hosts: PrivateHosts,
}

impl Deps<Aws> {
    /// The production dependencies from the configuration and the SDK clients.
    pub fn on_aws(config: &Config, reminder: ReminderConfig, clients: &AwsClients) -> Self {
        let keys = SecretsManagerSigningKeys::new(clients.secrets.clone(), &config.signing_secret_id);
        Self {
            store: DynamoStore::new(clients.dynamodb.clone(), &config.table_name),
            tokens: TokenCache::new(SecretsManagerTokens::new(clients.secrets.clone(), &config.secret_prefix)),
            auth: Authenticator::new(keys, config.signing_keys_ttl),
            clock: SystemClock,
            chat: HipchatClient::lazy(config.chat_hosts),
            room_page_size: crate::service::rooms::HIPCHAT_PAGE_SIZE,
            reminder,
            chat_hosts: config.chat_hosts,
        }
    }
}

/// Cold start of every function: logging, the configuration from the environment (failing
/// fast with the variable's name), the SDK clients (whose calls carry `function` as the app
/// name, see [`load_sdk_config`]) and the dependencies.
pub async fn bootstrap(function: &str) -> Result<Deps<Aws>, ConfigError> {
    crate::telemetry::init();
    let config = Config::from_env()?;
    let reminder = ReminderConfig::from_env()?;
    let clients = AwsClients::new(&load_sdk_config(function).await);
    Ok(Deps::on_aws(&config, reminder, &clients))
}
