//! dynaBOARD ↔ HipChat: everything the Lambda functions share.
//!
//! Three layers, kept apart by folder (docs/design.md, "Code layout and one request's path"):
//! - [`domain`]: pure code, no I/O — settings model and validation, HipChat URL
//!   normalisation, token hygiene and expiry arithmetic, request signatures.
//! - [`ports`]: the small traits the services need (settings store, token secrets,
//!   signing keys, clock).
//! - [`adapters`]: DynamoDB, Secrets Manager and the HTTP glue (routing, problem
//!   responses, signature check).
//!
//! [`service`] holds the use cases a handler calls: each takes the function's
//! [`app::Deps`] and returns a value to answer with or an [`error::AppError`]. [`app`] puts
//! the dependencies together once per cold start (the composition root).
//!
//! Test support (fakes of the ports, the test wiring, the e2e client, log capture) is in the
//! dev-only `test-support` crate, never in a production build.

pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
pub mod error;
pub mod ports;
pub mod service;
pub mod telemetry;
