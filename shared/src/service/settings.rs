//! Settings and token use cases (`functions/settings`).

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::domain::partner::PartnerId;
use crate::domain::settings::{Settings, parse_settings};
use crate::domain::token::{TokenMeta, TokenView, parse_token_request};
use crate::domain::validation::Warning;
use crate::error::AppError;
use crate::ports::{Precondition, SettingsStore, StoredSettings, TokenSecrets};

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

fn not_found(partner: &PartnerId) -> AppError {
    AppError::NotFound(format!("No HipChat settings are stored for partner '{partner}'."))
}

pub async fn get_settings(
    store: &impl SettingsStore,
    partner: &PartnerId,
    now: Timestamp,
) -> Result<SettingsView, AppError> {
    let stored = store.get(partner).await?.ok_or_else(|| not_found(partner))?;
    Ok(view(stored, Vec::new(), now))
}

/// Validates and stores a full settings document, conditionally on `precondition`.
pub async fn put_settings(
    store: &impl SettingsStore,
    partner: &PartnerId,
    body: &Value,
    precondition: &Precondition,
    now: Timestamp,
) -> Result<SettingsView, AppError> {
    let parsed = parse_settings(body).map_err(AppError::Validation)?;
    if matches!(precondition, Precondition::Versions(v) if v.is_empty()) {
        return Err(AppError::PreconditionFailed);
    }
    let stored = store.put(partner, &parsed.settings, precondition, now).await?;
    Ok(view(stored, parsed.warnings, now))
}

/// Removes the token secret first, then every item of the partner, so that a failure half
/// way leaves something a retry of the same request finishes.
pub async fn delete_settings(
    store: &impl SettingsStore,
    secrets: &impl TokenSecrets,
    partner: &PartnerId,
) -> Result<(), AppError> {
    secrets.delete(partner).await?;
    let removed = store.delete_partner(partner).await?;
    tracing::info!(partner_id = %partner, removed, "partner settings deleted");
    Ok(())
}

/// Stores a new token: the secret first, then its metadata (a failure in between leaves
/// the old metadata, and the retry writes both).
pub async fn put_token(
    store: &impl SettingsStore,
    secrets: &impl TokenSecrets,
    partner: &PartnerId,
    body: &Value,
    now: Timestamp,
) -> Result<TokenStatusView, AppError> {
    let today = today(now);
    let (input, warnings) = parse_token_request(body, today).map_err(AppError::Validation)?;
    secrets.put(partner, &input.token).await?;
    let meta = TokenMeta::new(&input.token, input.issued_on).with_secret_name(secrets.secret_name(partner));
    let stored = store.set_token(partner, &meta, now).await?;
    tracing::info!(partner_id = %partner, expires_on = %meta.expires_on, "token stored");
    Ok(TokenStatusView { token: TokenView::of(stored.token.as_ref(), today), warnings })
}

/// Removes the token: the secret first, then the metadata.
pub async fn delete_token(
    store: &impl SettingsStore,
    secrets: &impl TokenSecrets,
    partner: &PartnerId,
    now: Timestamp,
) -> Result<(), AppError> {
    secrets.delete(partner).await?;
    store.clear_token(partner, now).await?;
    tracing::info!(partner_id = %partner, "token deleted");
    Ok(())
}
