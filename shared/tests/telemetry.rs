//! The log subscriber: levels, JSON lines, and SDK bodies kept out.

use shared::telemetry::subscriber;
use test_support::LogBuffer as Buffer;

fn logged(level: &str, json: bool) -> String {
    let buf = Buffer::default();
    tracing::subscriber::with_default(subscriber(Some(level), json, buf.clone()), || {
        tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", request = "PutSecretValue body SECRET-TOKEN", "transmitting request");
        tracing::debug!(target: "hyper_util::client", "SECRET-TOKEN on the wire");
        tracing::info!(target: "aws_smithy_runtime::client::retries", "retrying");
        tracing::trace!(target: "shared::service", "our own trace line");
    });
    buf.text()
}

#[test]
fn sdk_bodies_stay_out_of_the_log_even_at_trace() {
    for level in ["trace", "TRACE", "aws_smithy_runtime=trace,hyper_util=trace,trace"] {
        let out = logged(level, false);
        assert!(!out.contains("SECRET-TOKEN"), "{level}: {out}");
        assert!(out.contains("retrying"), "{level}: INFO from the SDK still shows");
        assert!(out.contains("our own trace line"), "{level}: our TRACE still shows");
    }
}

#[test]
fn json_format_gives_json_lines() {
    let out = logged("info", true);
    let line = out.lines().next().unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["fields"]["message"], "retrying");
    assert_eq!(v["level"], "INFO");
}

#[test]
fn info_is_the_default() {
    let out = logged("nonsense=", false);
    assert!(!out.contains("our own trace line"));
}
