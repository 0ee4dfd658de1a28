//! The hardening suite (issue 7, points 3–5): tests that go end to end through the local
//! gateway, `cargo lambda watch` and the function processes, against moto and the HipChat
//! simulator of the local stack, and prove the functions survive bad days.
//!
//! - `tests/faults.rs`: a 500, a short and a long 429, a delay beyond the HipChat client's
//!   timeout and a dropped connection on each HipChat call of a chat request and an event;
//!   moto stopped mid-run (an AWS outage); a token secret deleted or unusable.
//! - `tests/concurrency.rs`: 50 concurrent `PUT /settings` with one `If-Match`; 50
//!   concurrent chat requests for one user.
//! - `tests/leaks.rs`: a full scenario with a canary token, every response and every log
//!   line searched for the token and the signing key; 5xx bodies echo nothing.
//!
//! Every test is `#[ignore]`d (it needs the stack); `make test` runs them with
//! `--include-ignored`. Each prints its figures and merges them into
//! `target/hardening/summary.json`. There is no library code: this file only documents.
