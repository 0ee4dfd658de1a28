//! `settings` function: `GET/PUT/DELETE /v1/partners/{id}/settings`, `PUT/DELETE /v1/partners/{id}/token`.

mod handler;

use lambda_http::{Error, service_fn};
use shared::adapters::http::run;

// One invocation at a time: one thread, no hand-offs between threads (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = shared::app::bootstrap(env!("CARGO_PKG_NAME")).await?;
    let deps = &deps;
    run(service_fn(move |req| handler::handle(deps, req))).await
}
