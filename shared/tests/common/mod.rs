//! Helpers for the adapter tests against the local stack (moto on loopback).
//!
//! The tests are `#[ignore]`d so a plain `cargo test` without the stack skips them visibly;
//! `make test` starts the stack and runs them with `--include-ignored`.
#![allow(dead_code)]

use shared::adapters::aws::{AwsClients, load_sdk_config};
use shared::domain::partner::PartnerId;

pub use test_support::e2e::stack_var;

/// The caller name (SDK app name) of shared's own tests: no function's, so the local stack's
/// IAM policy check ignores their calls.
pub const SHARED_TESTS_APP: &str = "shared-tests";

pub async fn clients() -> AwsClients {
    // Fail loudly rather than talk to a real AWS account.
    stack_var("AWS_ENDPOINT_URL");
    AwsClients::new(&load_sdk_config(SHARED_TESTS_APP).await)
}

/// A partner id no other test (or run) uses.
pub fn unique_partner(tag: &str) -> PartnerId {
    PartnerId::parse(&test_support::e2e::unique_partner(&format!("t-{tag}"))).unwrap()
}

/// Every item stored under the partner's key.
pub async fn partner_items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    partner: &PartnerId,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    client
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(shared::adapters::dynamo::partner_pk(partner)),
        )
        .consistent_read(true)
        .send()
        .await
        .expect("query the partner's items")
        .items
        .unwrap_or_default()
}
