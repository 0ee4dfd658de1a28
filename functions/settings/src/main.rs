//! `settings` function: `GET/PUT/DELETE /v1/partners/{id}/settings`, `PUT/DELETE /v1/partners/{id}/token`.

mod handler;

use lambda_http::{Error, service_fn};
use shared::adapters::aws::{AwsClients, load_sdk_config};
use shared::adapters::http::run;
use shared::config::Config;

// One invocation at a time: one thread, no hand-offs between threads (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_env()?;
    let clients = AwsClients::new(&load_sdk_config(env!("CARGO_PKG_NAME")).await);
    let deps = handler::Deps::on_aws(&config, &clients);
    let deps = &deps;
    run(service_fn(move |req| handler::handle(deps, req))).await
}
