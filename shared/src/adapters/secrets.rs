//! Secrets Manager: per-partner HipChat tokens and the request-signing keys.

use aws_sdk_secretsmanager::Client;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::aws::classify;
use crate::domain::partner::PartnerId;
use crate::ports::{PortError, SigningKeySource, TokenSecrets};

/// Tokens stored as `<prefix>/partners/<id>/hipchat-token` (plain string secrets).
#[derive(Debug, Clone)]
pub struct SecretsManagerTokens {
    client: Client,
    prefix: String,
}

impl SecretsManagerTokens {
    pub fn new(client: Client, prefix: impl Into<String>) -> Self {
        Self { client, prefix: prefix.into() }
    }
}

/// A secret that is in the middle of being deleted: retryable, so the client gets a 503.
fn being_deleted(what: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> PortError {
    PortError::Unavailable { what, source: Box::new(e) }
}

/// The stored value as a token we can send, or `None` when it cannot be one: blank, or with
/// characters other than printable ASCII inside (control characters, blanks, non-ASCII), which
/// only a write outside this service can store (`PUT /token` keeps clean tokens only, see
/// `domain::token::clean_token`). Blanks around it (a console paste with a newline) are
/// trimmed. Such a value answers like a missing token (409 `token-missing`: store it again)
/// instead of failing the HipChat call as "unreachable" or being sent as an empty token.
pub fn usable_token(value: String) -> Option<SecretString> {
    let trimmed = value.trim();
    if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    Some(SecretString::from(if trimmed.len() == value.len() { value } else { trimmed.to_owned() }))
}

/// `<prefix>/partners/<id>/hipchat-token`.
pub fn token_secret_name(prefix: &str, partner: &PartnerId) -> String {
    format!("{prefix}/partners/{partner}/hipchat-token")
}

impl TokenSecrets for SecretsManagerTokens {
    fn secret_name(&self, partner: &PartnerId) -> String {
        token_secret_name(&self.prefix, partner)
    }

    async fn put(&self, partner: &PartnerId, token: &SecretString) -> Result<(), PortError> {
        let name = self.secret_name(partner);
        let put = || self.client.put_secret_value().secret_id(&name).secret_string(token.expose_secret()).send();
        // Most writes replace an existing token.
        let err = match put().await {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        let Some(se) = err.as_service_error() else {
            return Err(classify("Secrets Manager PutSecretValue", err));
        };
        if se.is_resource_not_found_exception() {
            let created = self
                .client
                .create_secret()
                .name(&name)
                .description(format!("HipChat personal token of dynaBOARD partner {partner}"))
                .secret_string(token.expose_secret())
                .send()
                .await;
            return match created {
                Ok(_) => Ok(()),
                // Created by a concurrent request in between: store ours as the new version.
                Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_exists_exception()) => {
                    put().await.map(|_| ()).map_err(|e| classify("Secrets Manager PutSecretValue", e))
                }
                // A force-deleted secret of the same name is still being removed (AWS finishes
                // that asynchronously): a retry in a moment succeeds.
                Err(e) if e.as_service_error().is_some_and(|se| se.is_invalid_request_exception()) => {
                    Err(being_deleted("Secrets Manager CreateSecret", e))
                }
                Err(e) => Err(classify("Secrets Manager CreateSecret", e)),
            };
        }
        if se.is_invalid_request_exception() {
            // The secret is scheduled for deletion (deleted with a recovery window, outside
            // this service): restore it, then store the new value.
            match self.client.restore_secret().secret_id(&name).send().await {
                Ok(_) => {}
                // Force-deleted and not gone yet: it cannot be restored, but soon recreated.
                Err(e) if e.as_service_error().is_some_and(|se| se.is_invalid_request_exception()) => {
                    return Err(being_deleted("Secrets Manager RestoreSecret", e));
                }
                Err(e) => return Err(classify("Secrets Manager RestoreSecret", e)),
            }
            return put().await.map(|_| ()).map_err(|e| classify("Secrets Manager PutSecretValue", e));
        }
        Err(classify("Secrets Manager PutSecretValue", err))
    }

    async fn get(&self, partner: &PartnerId) -> Result<Option<SecretString>, PortError> {
        match self.client.get_secret_value().secret_id(self.secret_name(partner)).send().await {
            Ok(out) => {
                let token = out.secret_string.and_then(usable_token);
                if token.is_none() {
                    // Written behind our back (PUT /token stores only clean tokens); never log the value.
                    tracing::warn!(partner_id = %partner, "the token secret holds no usable token (binary, blank or with characters a token cannot have)");
                }
                Ok(token)
            }
            Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_not_found_exception()) => Ok(None),
            // Scheduled for deletion (deleted with a recovery window outside this service):
            // there is no usable token.
            Err(e) if e.as_service_error().is_some_and(|se| se.is_invalid_request_exception()) => {
                tracing::warn!(partner_id = %partner, "token secret is scheduled for deletion");
                Ok(None)
            }
            Err(e) => Err(classify("Secrets Manager GetSecretValue (token)", e)),
        }
    }

    async fn delete(&self, partner: &PartnerId) -> Result<(), PortError> {
        let res = self
            .client
            .delete_secret()
            .secret_id(self.secret_name(partner))
            .force_delete_without_recovery(true)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_not_found_exception()) => Ok(()),
            Err(e) => Err(classify("Secrets Manager DeleteSecret", e)),
        }
    }
}

/// The signing keys, from a secret whose value is `{"keys": ["<key>", ...]}`.
#[derive(Debug, Clone)]
pub struct SecretsManagerSigningKeys {
    client: Client,
    secret_id: String,
}

impl SecretsManagerSigningKeys {
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        Self { client, secret_id: secret_id.into() }
    }
}

#[derive(Deserialize)]
struct KeysDoc {
    keys: Vec<String>,
}

/// Parses `{"keys": [...]}`; blank keys are ignored; at least one key is required.
pub fn parse_signing_keys(raw: &str) -> Result<Vec<SecretString>, &'static str> {
    let doc: KeysDoc =
        serde_json::from_str(raw).map_err(|_| "the signing secret is not of the form {\"keys\": [\"...\"]}")?;
    let keys: Vec<SecretString> =
        doc.keys.into_iter().filter(|k| !k.trim().is_empty()).map(SecretString::from).collect();
    if keys.is_empty() {
        return Err("the signing secret lists no keys");
    }
    Ok(keys)
}

impl SigningKeySource for SecretsManagerSigningKeys {
    async fn load(&self) -> Result<Vec<SecretString>, PortError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| classify("Secrets Manager GetSecretValue (signing keys)", e))?;
        let raw = out.secret_string().ok_or(PortError::Internal {
            what: "reading the signing keys",
            source: "the signing secret has no string value".into(),
        })?;
        parse_signing_keys(raw).map_err(|m| PortError::Internal { what: "reading the signing keys", source: m.into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_keys_document() {
        let keys = parse_signing_keys(r#"{"keys": ["a", " ", "b"]}"#).unwrap();
        assert_eq!(keys.iter().map(|k| k.expose_secret()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(parse_signing_keys(r#"{"keys": []}"#).is_err());
        assert!(parse_signing_keys(r#"["a"]"#).is_err());
        assert!(parse_signing_keys("a").is_err());
    }

    #[test]
    fn only_values_a_token_can_be_are_usable() {
        let usable = |v: &str| usable_token(v.to_owned()).map(|t| t.expose_secret().to_owned());
        assert_eq!(usable("abcDEF123456+=~").as_deref(), Some("abcDEF123456+=~"));
        assert_eq!(usable("abcDEF123456\n").as_deref(), Some("abcDEF123456"), "a console paste's newline");
        for bad in ["", " \t\n", "Bad\nToken\u{7}Value", "two words", "t\u{f6}ken1234", "tok\u{0}en1234"] {
            assert_eq!(usable(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn token_secret_names_follow_the_design() {
        let p = PartnerId::parse("p-1").unwrap();
        assert_eq!(token_secret_name("dynaboard-hipchat/dev", &p), "dynaboard-hipchat/dev/partners/p-1/hipchat-token");
    }
}
