//! Tracing for Lambda: level from `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`, else
//! INFO), JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON` (the SAM template sets it).

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init() {
    lambda_http::tracing::init_default_subscriber();
}
