//! The scheduled event → one run → its summary.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use shared::app::{Deps, Wiring};
use shared::error::chain;
use shared::service::reminder::{self, Summary};

/// One daily run. The time is the clock's (the schedule's `time` only says when it was due);
/// an error (the partners could not be listed) fails the invocation, so that Lambda retries
/// it and finally sends it to the on-failure destination.
#[tracing::instrument(skip_all, fields(scheduled_at = ?event.payload.time))]
pub async fn handle<W: Wiring>(deps: &Deps<W>, event: LambdaEvent<EventBridgeEvent<Value>>) -> Result<Summary, Error> {
    reminder::run(deps).await.map_err(|e| {
        tracing::error!(error = %chain(&e), "the token-expiry reminder could not list the partners");
        Error::from(format!("the token-expiry reminder could not run: {e}"))
    })
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
