//! Settings and token use cases (`functions/settings`).

use jiff::Timestamp;
use serde::Serialize;

use crate::app::{Deps, Wiring};
use crate::domain::destination;
use crate::domain::partner::PartnerId;
use crate::domain::settings::{ParsedSettings, Settings};
use crate::domain::token::{TokenInput, TokenMeta, TokenView};
use crate::domain::validation::Warning;
use crate::error::AppError;
use crate::ports::{Precondition, SettingsStore, StoredSettings, TokenSecrets};
use crate::service::access::not_configured;

/// The `GET /settings` (and `PUT /settings`) body: the document plus read-only members.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingsView {
    #[serde(flatten)]
    pub settings: Settings,
    pub token: TokenView,
    pub version: u64,
    pub updated_at: Timestamp,
    pub warnings: Vec<Warning>,
}

/// The `PUT /token` body: the token status (never the token) plus warnings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenStatusView {
    #[serde(flatten)]
    pub token: TokenView,
    pub warnings: Vec<Warning>,
}

pub use crate::domain::token::today;

fn view(stored: StoredSettings, mut warnings: Vec<Warning>, now: Timestamp) -> SettingsView {
    warnings.extend(stored.settings.completeness_warnings(stored.token.is_some()));
    SettingsView {
        token: TokenView::of(stored.token.as_ref(), today(now)),
        settings: stored.settings,
        version: stored.version,
        updated_at: stored.updated_at,
        warnings,
    }
}

pub async fn get_settings<W: Wiring>(
    deps: &Deps<W>,
    partner: &PartnerId,
    now: Timestamp,
) -> Result<SettingsView, AppError> {
    let stored = deps.store.get(partner).await?.ok_or_else(|| not_configured(partner))?;
    Ok(view(stored, Vec::new(), now))
}

/// Validates and stores a full settings document, conditionally on `precondition`.
pub async fn put_settings<W: Wiring>(
    deps: &Deps<W>,
    partner: &PartnerId,
    parsed: ParsedSettings,
    precondition: &Precondition,
    now: Timestamp,
) -> Result<SettingsView, AppError> {
    if let Some(url) = &parsed.settings.hipchat_url {
        destination::check_entered("hipchat_url", url, deps.chat_hosts).map_err(|e| AppError::Validation(vec![e]))?;
    }
    if matches!(precondition, Precondition::Versions(v) if v.is_empty()) {
        return Err(AppError::PreconditionFailed);
    }
    let stored = deps.store.put(partner, &parsed.settings, precondition, now).await?;
    Ok(view(stored, parsed.warnings, now))
}

/// Removes the token secret first, then every item of the partner, so that a failure half
/// way leaves something a retry of the same request finishes.
pub async fn delete_settings<W: Wiring>(deps: &Deps<W>, partner: &PartnerId) -> Result<(), AppError> {
    deps.tokens.inner().delete(partner).await?;
    deps.tokens.forget(partner);
    let removed = deps.store.delete_partner(partner).await?;
    tracing::info!(partner_id = %partner, removed, "partner settings deleted");
    Ok(())
}

/// Stores a new token: the secret first, then its metadata (a failure in between leaves
/// the old metadata, and the retry writes both).
pub async fn put_token<W: Wiring>(
    deps: &Deps<W>,
    partner: &PartnerId,
    input: TokenInput,
    warnings: Vec<Warning>,
    now: Timestamp,
) -> Result<TokenStatusView, AppError> {
    let today = today(now);
    let (store, secrets) = (&deps.store, deps.tokens.inner());
    secrets.put(partner, &input.token).await?;
    let meta = TokenMeta::new(&input.token, input.issued_on).with_secret_name(secrets.secret_name(partner));
    let stored = store.set_token(partner, &meta, now).await?;
    tracing::info!(partner_id = %partner, expires_on = %meta.expires_on, "token stored");
    Ok(TokenStatusView { token: TokenView::of(stored.token.as_ref(), today), warnings })
}

/// Removes the token: the secret first, then the metadata.
pub async fn delete_token<W: Wiring>(deps: &Deps<W>, partner: &PartnerId, now: Timestamp) -> Result<(), AppError> {
    deps.tokens.inner().delete(partner).await?;
    deps.tokens.forget(partner);
    deps.store.clear_token(partner, now).await?;
    tracing::info!(partner_id = %partner, "token deleted");
    Ok(())
}
