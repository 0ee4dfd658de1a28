//! dynaBOARD ↔ HipChat: everything the Lambda functions share.
//!
//! Three layers, kept apart by folder (see `../shared/DESIGN.md`):
//! - [`domain`]: pure code, no I/O — settings model and validation, HipChat URL
//!   normalisation, token hygiene and expiry arithmetic, request signatures.
//! - [`ports`]: the small traits the services need (settings store, token secrets,
//!   signing keys, clock).
//! - [`adapters`]: DynamoDB, Secrets Manager and the HTTP glue (routing, problem
//!   responses, signature check).
//!
//! [`service`] holds the use cases a handler calls: each takes its ports by
//! reference and returns a domain value or an [`error::AppError`].

pub mod adapters;
pub mod config;
pub mod domain;
pub mod error;
pub mod ports;
pub mod service;
pub mod telemetry;

/// In-memory fakes of the ports for handler tests. Always compiled (not behind a feature),
/// so test and non-test builds of the workspace share one build of this crate and
/// `cargo lambda watch` never rebuilds what `make test` built; unused, it is not linked in.
pub mod fakes;

/// A signed client of the local stack for end-to-end tests.
pub mod e2e;
