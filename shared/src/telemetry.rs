//! Tracing for Lambda: level from `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`, else INFO),
//! JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON` (the SAM template sets it), no timestamps
//! (CloudWatch adds them).
//!
//! Whatever level is asked for, the AWS SDK's HTTP layers are capped at INFO: at TRACE the
//! smithy orchestrator logs whole requests, and a `PutSecretValue` request carries the
//! partner's HipChat token; `reqwest` logs URLs, and `GET /v2/oauth/token/{token}` has one in its path. Secrets must never reach a log line.

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Targets that may log request or response bodies (and so secrets) below INFO.
pub const CAPPED_TARGETS: [&str; 9] = [
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_sdk_secretsmanager",
    "aws_sdk_dynamodb",
    "hyper",
    "hyper_util",
    "reqwest",
];

/// The filter for a requested level (`AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` syntax).
pub fn filter(requested: Option<&str>) -> EnvFilter {
    let requested = requested.unwrap_or("info");
    // A plain level ("debug") becomes the default; anything else is read as directives.
    let mut f = match requested.parse::<LevelFilter>() {
        Ok(level) => EnvFilter::builder().with_default_directive(level.into()).parse_lossy(""),
        Err(_) => EnvFilter::builder().with_default_directive(LevelFilter::INFO.into()).parse_lossy(requested),
    };
    for target in CAPPED_TARGETS {
        if let Ok(d) = format!("{target}=info").parse() {
            f = f.add_directive(d);
        }
    }
    f
}

/// The subscriber `init` installs, writing to `writer` (tests pass a buffer).
pub fn subscriber<W>(requested_level: Option<&str>, json: bool, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt().with_target(false).without_time().with_ansi(false).with_writer(writer);
    let builder = builder.with_env_filter(filter(requested_level));
    if json { Box::new(builder.json().finish()) } else { Box::new(builder.finish()) }
}

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).ok();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let _ = tracing::subscriber::set_global_default(subscriber(level.as_deref(), json, std::io::stdout));
}
