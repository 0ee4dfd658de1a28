//! One place for what every chat-calling use case shares: loading a partner's chat access
//! (stored settings, the token from the cache or its secret, the URL), reacting to a rejected
//! token, and mapping a [`ChatError`] to a problem response.

use jiff::Timestamp;
use secrecy::SecretString;

use crate::app::{Deps, Wiring};
use crate::domain::partner::PartnerId;
use crate::domain::scopes;
use crate::domain::token::{TokenCheck, TokenMeta};
use crate::error::AppError;
use crate::ports::chat::{ChatAccess, ChatError, LimitKind};
use crate::ports::{Clock, PortError, SettingsStore, TokenSecrets};

/// A partner's chat access as the stored settings describe it, with the token's metadata.
pub struct PartnerChat {
    pub token: TokenMeta,
    pub access: ChatAccess,
}

/// Where a use case takes the partner's token from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRead {
    /// The warm container's cache, tied to the stored token metadata (chat requests and events:
    /// no Secrets Manager call on a warm request).
    Cached,
    /// Secrets Manager every time: the setup screen's calls (connection check, room picker) and
    /// the daily reminder look at what is stored now.
    Stored,
}

/// 404 for a partner without settings.
pub fn not_configured(partner: &PartnerId) -> AppError {
    AppError::NotFound(format!("No HipChat settings are stored for partner '{partner}'."))
}

/// [`ChatAccess`] for a stored (already normalised) URL.
pub fn access(url: &str, token: SecretString) -> Result<ChatAccess, AppError> {
    ChatAccess::new(url, token).map_err(|e| AppError::internal(format!("stored HipChat URL is unusable: {e}")))
}

impl<W: Wiring> Deps<W> {
    /// Loads the partner's settings, URL and token: 404 without settings, 409
    /// `hipchat-url-missing` without a URL, 409 `token-missing` without a token (metadata or
    /// secret).
    pub async fn partner_chat(&self, partner: &PartnerId, read: TokenRead) -> Result<PartnerChat, AppError> {
        let stored = self.store.get(partner).await?.ok_or_else(|| not_configured(partner))?;
        let url = stored.settings.hipchat_url.ok_or(AppError::HipchatUrlMissing)?;
        let token = stored.token.ok_or(AppError::TokenMissing)?;
        let access = self.chat_access(partner, &url, &token, read).await?;
        Ok(PartnerChat { token, access })
    }

    /// The access for settings already read: the token for `token`'s metadata, read as `read`
    /// says; 409 `token-missing` when the secret is gone.
    pub async fn chat_access(
        &self,
        partner: &PartnerId,
        url: &str,
        token: &TokenMeta,
        read: TokenRead,
    ) -> Result<ChatAccess, AppError> {
        let secret = self.token(partner, token, read).await?.ok_or(AppError::TokenMissing)?;
        access(url, secret)
    }

    /// The partner's token for the stored metadata `token`, read as `read` says; `None` when
    /// the secret does not exist (or holds nothing usable).
    pub async fn token(
        &self,
        partner: &PartnerId,
        token: &TokenMeta,
        read: TokenRead,
    ) -> Result<Option<SecretString>, PortError> {
        match read {
            TokenRead::Cached => self.tokens.get(partner, token, self.clock.now()).await,
            TokenRead::Stored => self.tokens.inner().get(partner).await,
        }
    }

    /// The chat service answered 401 for `token`: the cached token goes, and the stored one
    /// becomes `rejected` (a failure to record that is logged, not returned: the caller's
    /// answer does not depend on it).
    pub async fn token_rejected(&self, partner: &PartnerId, token: &TokenMeta) {
        self.tokens.forget(partner);
        let check =
            TokenCheck { rejected: true, missing_scopes: token.missing_scopes.clone(), checked_at: self.clock.now() };
        match self.store.record_token_check(partner, token, &check).await {
            Ok(_) => {
                tracing::warn!(partner_id = %partner, alert = "token_rejected", "HipChat rejected the stored token")
            }
            Err(e) => {
                tracing::warn!(partner_id = %partner, error = %crate::error::chain(&e), "could not record the token status")
            }
        }
    }

    /// The problem for a chat failure with the stored `token` at `base_url`; a rejected token
    /// is dropped and recorded first.
    pub async fn chat_failure(&self, partner: &PartnerId, token: &TokenMeta, e: ChatError, base_url: &str) -> AppError {
        if matches!(e, ChatError::TokenRejected) {
            self.token_rejected(partner, token).await;
        }
        problem_for(e, base_url)
    }
}

/// Seconds until HipChat's `reset_at` (at least 1), for `Retry-After`. Measured on the wall
/// clock, as HipChat's reset is, not on the injected business clock.
fn seconds_until(reset_at: Option<Timestamp>) -> Option<u64> {
    reset_at.map(|r| u64::try_from(r.duration_since(Timestamp::now()).as_secs()).unwrap_or(0).max(1))
}

/// The `Retry-After` of a 503 after a HipChat failure that gave no time of its own (5xx,
/// timeout, unreachable): a first step for the client's backoff, not a promise.
pub const HIPCHAT_FAILURE_RETRY_AFTER_SECS: u64 = 5;

/// The one mapping of a chat-service failure to a problem (a use case that answers some
/// failures its own way matches them before falling back to this). `base_url` is named in details so the
/// partner sees which server was meant (it is not secret; the token never appears).
pub fn problem_for(e: ChatError, base_url: &str) -> AppError {
    use ChatError::*;
    let unavailable = |status: u16, retry_after: Option<u64>, detail: String| AppError::HipchatUnavailable {
        status,
        retry_after,
        detail,
    };
    match e {
        TokenRejected => AppError::TokenRejected,
        MissingScopes { scopes } => AppError::MissingScopes(scopes),
        NameTaken => AppError::RoomNameTaken(None),
        RoomNotFound => AppError::NotFound("The HipChat room does not exist (any more).".into()),
        RateLimited { kind, reset_at } => {
            let what = match kind {
                LimitKind::RateLimit => "HipChat's rate limit for this token (100 requests per 5 minutes) is reached",
                LimitKind::FloodControl => "HipChat's flood control for this room (30 messages per minute) is reached",
            };
            let retry_after = seconds_until(reset_at).or(Some(HIPCHAT_FAILURE_RETRY_AFTER_SECS));
            let when = retry_after.map(|s| format!("; retry in {s} s")).unwrap_or_default();
            unavailable(503, retry_after, format!("{what}{when}."))
        }
        Unreachable { kind, .. } => unavailable(
            503,
            Some(HIPCHAT_FAILURE_RETRY_AFTER_SECS),
            format!("HipChat at {base_url} cannot be reached: {kind}. Please retry later."),
        ),
        Server { status } => unavailable(
            503,
            Some(HIPCHAT_FAILURE_RETRY_AFTER_SECS),
            format!("HipChat at {base_url} answered with a server error ({status}). Please retry later."),
        ),
        NotHipchat { detail, .. } => {
            unavailable(502, None, format!("{base_url} does not answer like the HipChat v2 API: {detail}."))
        }
        Validation { field, message } => {
            let field = field.map(|f| format!(" ({f})")).unwrap_or_default();
            unavailable(502, None, format!("HipChat refused the request{field}: {message}"))
        }
        Refused { status, message } => unavailable(502, None, format!("HipChat answered {status}: {message}")),
        NotAllowed { refusal } => AppError::ChatUrlNotAllowed(format!(
            "The HipChat URL {base_url} {}: set another one with PUT /settings.",
            crate::domain::destination::refusal_message(refusal)
        )),
    }
}

/// The required scopes, named for people: "View Room (view_room), …".
pub fn required_scopes_text() -> String {
    scopes::describe(&scopes::REQUIRED_SCOPES.map(|(id, _)| id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Problem;
    use crate::ports::chat::Unreachable as Kind;

    #[test]
    fn rate_limits_become_503_with_retry_after() {
        let reset_at = Some(Timestamp::now() + jiff::SignedDuration::from_secs(42));
        let e = ChatError::RateLimited { kind: LimitKind::RateLimit, reset_at };
        let p = Problem::from(&problem_for(e, "https://h"));
        assert_eq!(p.status, 503);
        assert!(matches!(p.retry_after, Some(41 | 42)), "{:?}", p.retry_after);
        assert!(p.detail.contains("100 requests per 5 minutes"), "{}", p.detail);
    }

    /// Every 503 says when to come back: HipChat failures that gave no time get the default.
    /// A refused address is no answer: the connection check stops there instead of reading
    /// it as a verdict on the token's scopes.
    #[test]
    fn a_refused_address_is_unanswered_but_not_transient() {
        let e = ChatError::NotAllowed { refusal: crate::domain::destination::Refusal::Private };
        assert!(e.is_unanswered() && !e.is_transient());
        assert!(!ChatError::TokenRejected.is_unanswered());
    }

    #[test]
    fn every_hipchat_503_has_a_retry_after() {
        let failures = [
            ChatError::Unreachable { kind: Kind::Timeout, detail: String::new() },
            ChatError::Server { status: 500 },
            ChatError::RateLimited { kind: LimitKind::FloodControl, reset_at: None },
        ];
        for e in failures {
            let p = Problem::from(&problem_for(e, "https://h"));
            assert_eq!((p.status, p.retry_after), (503, Some(HIPCHAT_FAILURE_RETRY_AFTER_SECS)));
        }
    }

    #[test]
    fn transport_failures_name_the_server_but_not_the_detail() {
        let e = ChatError::Unreachable { kind: Kind::Refused, detail: "tcp connect error 10.0.0.1".into() };
        let p = Problem::from(&problem_for(e, "https://chat.example.com"));
        assert_eq!(p.status, 503);
        assert!(p.detail.contains("https://chat.example.com") && p.detail.contains("refused"), "{}", p.detail);
        assert!(!p.detail.contains("10.0.0.1"));
    }

    #[test]
    fn token_and_scope_failures_are_409s() {
        assert_eq!(Problem::from(&problem_for(ChatError::TokenRejected, "h")).status, 409);
        let p = Problem::from(&problem_for(ChatError::MissingScopes { scopes: vec!["manage_rooms".into()] }, "h"));
        assert_eq!(p.type_uri, "/problems/missing-scopes");
        assert!(p.detail.contains("Manage Rooms (manage_rooms)"), "{}", p.detail);
    }
}
