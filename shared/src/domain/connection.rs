//! The connection check's input.

/// The optional body of `POST /connection-check`: `{"hipchat_url"?, "token"?}` to check
/// before saving.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckRequest {
    pub hipchat_url: Option<String>,
    pub token: Option<String>,
}
