//! One SDK configuration per process, built once in `main`.
//!
//! The endpoint comes from the standard `AWS_ENDPOINT_URL` (or
//! `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SECRETS_MANAGER`) variables, which is how
//! the local stack points the real SDK at moto.

use std::time::Duration;

use aws_config::environment::{EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider};
use aws_config::{AppName, BehaviorVersion, SdkConfig, timeout::TimeoutConfig};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::ports::PortError;

/// Behaviour pinned by name so an SDK upgrade cannot silently change retries or timeouts.
pub fn behavior_version() -> BehaviorVersion {
    BehaviorVersion::v2026_01_12()
}

/// Loads the shared SDK config: region and credentials from the environment, standard
/// retries (3 attempts), and explicit timeouts (the SDK has no operation timeout by default).
///
/// `app` is the caller's name: each function passes its package name (which is the
/// function's name, the template's `BuildProperties: Binary`). The SDK sends it as
/// `app/<name>` in its user agent, so CloudTrail's `userAgent` tells an operator which
/// function made a call, and the local stack checks every call a function makes against
/// that function's IAM policy (infra/local/check_policies.py). A name the SDK does not
/// accept is logged and left out.
pub async fn load_sdk_config(app: &str) -> SdkConfig {
    let loader = aws_config::defaults(behavior_version())
        .http_client(super::tls::sdk_http_client())
        // Lambda gives credentials and region in the environment: no provider chain to build
        // (profile files, IMDS, ECS, web identity) on the cold path.
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .region(EnvironmentVariableRegionProvider::new())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(8))
                .build(),
        );
    match app_name(app) {
        Some(name) => loader.app_name(name),
        None => loader,
    }
    .load()
    .await
}

/// `app` as the SDK's app name, or `None` (with a warning) when the SDK rejects it.
fn app_name(app: &str) -> Option<AppName> {
    match AppName::new(app.to_owned()) {
        Ok(name) => Some(name),
        Err(e) => {
            tracing::warn!(app, error = %e, "not a valid SDK app name; the AWS calls go without it");
            None
        }
    }
}

/// The AWS clients a function uses, built from one [`SdkConfig`].
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl AwsClients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self { dynamodb: aws_sdk_dynamodb::Client::new(sdk), secrets: aws_sdk_secretsmanager::Client::new(sdk) }
    }
}

/// Classifies an SDK error: transport failures, timeouts, throttling and 5xx answers are
/// `Unavailable` (a retry may succeed), everything else `Internal`. Service errors the caller
/// expects (conditional check failed, resource not found) are matched before this is called.
pub fn classify<E>(what: &'static str, e: SdkError<E, HttpResponse>) -> PortError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    let transient = match &e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => true,
        SdkError::ServiceError(se) => {
            se.raw().status().is_server_error()
                || se.err().code().is_some_and(|c| c.contains("Throttl") || c == "RequestLimitExceeded")
        }
        SdkError::ResponseError(r) => r.raw().status().is_server_error(),
        _ => false,
    };
    if transient {
        PortError::Unavailable { what, source: Box::new(e) }
    } else {
        PortError::Internal { what, source: Box::new(e) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_are_valid_app_names() {
        for name in ["settings", "connection-check", "chat-request", "event-notification", "token-expiry-reminder"] {
            assert_eq!(app_name(name).map(|n| n.to_string()).as_deref(), Some(name));
        }
    }

    #[test]
    fn an_invalid_app_name_is_left_out() {
        assert!(app_name("").is_none());
        assert!(app_name("with space").is_none());
        assert!(app_name("slash/inside").is_none());
    }
}
