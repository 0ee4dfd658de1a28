//! `token-expiry-reminder` function: run once a day by an EventBridge schedule; warns partners
//! whose HipChat token expires soon, alerts on expired tokens, and probes tokens at HipChat.

mod handler;

use lambda_runtime::{Error, run, service_fn};
use shared::adapters::aws::{AwsClients, load_sdk_config};
use shared::adapters::hipchat::{HipchatClient, http_client};
use shared::config::Config;
use shared::service::reminder::ReminderConfig;

// One invocation at a time: one thread, no hand-offs between threads (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_env()?;
    let reminder = ReminderConfig::from_env()?;
    let clients = AwsClients::new(&load_sdk_config(env!("CARGO_PKG_NAME")).await);
    let deps = handler::Deps::on_aws(&config, &clients, HipchatClient::new(http_client()?), reminder);
    let deps = &deps;
    run(service_fn(move |event| handler::handle(deps, event))).await
}
