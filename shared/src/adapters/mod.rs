//! Adapters: the ports implemented on AWS, and the HTTP glue for `lambda_http`.

pub mod aws;
pub mod dynamo;
pub mod hipchat;
pub mod http;
pub mod secrets;
