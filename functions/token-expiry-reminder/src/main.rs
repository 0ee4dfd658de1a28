//! `token-expiry-reminder` function: run once a day by an EventBridge schedule; warns partners
//! whose HipChat token expires soon, alerts on expired tokens, and probes tokens at HipChat.

mod handler;

use lambda_runtime::{Error, run, service_fn};

// One invocation at a time: one thread, no hand-offs between threads (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = shared::app::bootstrap(env!("CARGO_PKG_NAME")).await?;
    let deps = &deps;
    run(service_fn(move |event| handler::handle(deps, event))).await
}
