//! Helpers for the adapter tests against the local stack (moto on loopback).
//!
//! The tests are `#[ignore]`d so a plain `cargo test` without the stack skips them visibly;
//! `make test` starts the stack and runs them with `--include-ignored`.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use shared::adapters::aws::{AwsClients, load_sdk_config};
use shared::domain::partner::PartnerId;

/// A variable the local stack exports; a clear failure when the stack is not running.
pub fn stack_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these tests through `make test` (it starts the local stack)")
    })
}

pub async fn clients() -> AwsClients {
    // Fail loudly rather than talk to a real AWS account.
    stack_var("AWS_ENDPOINT_URL");
    AwsClients::new(&load_sdk_config().await)
}

/// A partner id no other test (or run) uses.
pub fn unique_partner(tag: &str) -> PartnerId {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    PartnerId::parse(&format!("t-{tag}-{nanos:x}-{}", N.fetch_add(1, Ordering::SeqCst))).unwrap()
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
