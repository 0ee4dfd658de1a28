//! Adapters: the ports implemented on AWS (DynamoDB, Secrets Manager) and for HipChat, and
//! the HTTP glue for `lambda_http`. Adapters import ports and domain, never services; the
//! functions' dependencies are put together in [`crate::app`].

pub mod aws;
pub mod dynamo;
pub mod hipchat;
pub mod http;
pub mod secrets;
pub mod tls;
