//! Secrets Manager adapters against moto.

mod common;

use std::time::Duration;

use common::{clients, stack_var, unique_partner};
use secrecy::{ExposeSecret, SecretString};
use shared::adapters::http::Authenticator;
use shared::adapters::secrets::{SecretsManagerSigningKeys, SecretsManagerTokens};
use shared::error::AppError;
use shared::ports::{SigningKeySource, TokenSecrets};
use test_support::signed_request;

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn token_write_read_replace_delete() {
    let c = clients().await;
    let tokens = SecretsManagerTokens::new(c.secrets.clone(), stack_var("SECRET_PREFIX"));
    let p = unique_partner("sec");
    assert!(tokens.get(&p).await.unwrap().is_none());
    tokens.put(&p, &secret("first-token-1234")).await.unwrap();
    assert_eq!(tokens.get(&p).await.unwrap().unwrap().expose_secret(), "first-token-1234");
    // The secret has the documented name.
    let name = format!("{}/partners/{p}/hipchat-token", stack_var("SECRET_PREFIX"));
    let raw = c.secrets.get_secret_value().secret_id(&name).send().await.unwrap();
    assert_eq!(raw.secret_string(), Some("first-token-1234"));
    tokens.put(&p, &secret("second-token-5678")).await.unwrap();
    assert_eq!(tokens.get(&p).await.unwrap().unwrap().expose_secret(), "second-token-5678");
    tokens.delete(&p).await.unwrap();
    assert!(tokens.get(&p).await.unwrap().is_none());
    tokens.delete(&p).await.unwrap();
    // Deleted without a recovery window: a new token can be stored at once.
    tokens.put(&p, &secret("third-token-9012")).await.unwrap();
    assert_eq!(tokens.get(&p).await.unwrap().unwrap().expose_secret(), "third-token-9012");
    tokens.delete(&p).await.unwrap();
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn a_token_scheduled_for_deletion_reads_as_absent_and_can_be_replaced() {
    let c = clients().await;
    let tokens = SecretsManagerTokens::new(c.secrets.clone(), stack_var("SECRET_PREFIX"));
    let p = unique_partner("rec");
    tokens.put(&p, &secret("old-token-0000")).await.unwrap();
    // Someone deleted it in the console, with the default recovery window.
    c.secrets.delete_secret().secret_id(tokens.secret_name(&p)).send().await.unwrap();
    // No usable token (not an internal error).
    assert!(tokens.get(&p).await.unwrap().is_none());
    // Storing a new one succeeds. (AWS refuses PutSecretValue on a secret marked deleted,
    // and the adapter restores it first; moto accepts the write without restoring, so the
    // value is not readable here until the secret is recreated below.)
    tokens.put(&p, &secret("new-token-1111")).await.unwrap();
    // Our own delete has no recovery window, so a fresh secret can be created at once.
    tokens.delete(&p).await.unwrap();
    tokens.put(&p, &secret("new-token-2222")).await.unwrap();
    assert_eq!(tokens.get(&p).await.unwrap().unwrap().expose_secret(), "new-token-2222");
    tokens.delete(&p).await.unwrap();
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn signing_keys_come_from_the_secret_and_verify_requests() {
    let c = clients().await;
    let source = SecretsManagerSigningKeys::new(c.secrets.clone(), stack_var("SIGNING_SECRET_ID"));
    let keys = source.load().await.unwrap();
    let dev_key = stack_var("SIGNING_KEY");
    assert!(keys.iter().any(|k| k.expose_secret() == dev_key));

    let auth = Authenticator::new(source, Duration::from_secs(300));
    let now = jiff::Timestamp::now().as_second();
    let request = |key: &str| signed_request("GET", "/v1/partners/p/settings", "", key, now);
    auth.verify(&request(&dev_key), now).await.unwrap();
    assert!(matches!(auth.verify(&request("not-the-key"), now).await, Err(AppError::Unauthorized)));
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn a_missing_signing_secret_is_an_error_not_a_401() {
    let c = clients().await;
    let auth = Authenticator::new(
        SecretsManagerSigningKeys::new(c.secrets.clone(), "does/not/exist"),
        Duration::from_secs(300),
    );
    let req =
        lambda_http::http::Request::builder().uri("/v1/partners/p/settings").body(lambda_http::Body::Empty).unwrap();
    let err = auth.verify(&req, 0).await.unwrap_err();
    assert!(matches!(err, AppError::Internal(_)), "{err:?}");
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn a_token_secret_overwritten_with_an_unusable_value_reads_as_absent() {
    let c = clients().await;
    let tokens = SecretsManagerTokens::new(c.secrets.clone(), stack_var("SECRET_PREFIX"));
    let p = unique_partner("bad");
    tokens.put(&p, &secret("good-token-1234")).await.unwrap();
    let overwrite = |value: &'static str| {
        c.secrets.put_secret_value().secret_id(tokens.secret_name(&p)).secret_string(value).send()
    };
    // Someone edited it in the console: control characters, blanks only.
    for bad in ["Bad\nToken\u{7}Value", " \t "] {
        overwrite(bad).await.unwrap();
        assert!(tokens.get(&p).await.unwrap().is_none(), "{bad:?} reads as no token");
    }
    // A paste with a trailing newline is still the token.
    overwrite("pasted-token-5678\n").await.unwrap();
    assert_eq!(tokens.get(&p).await.unwrap().unwrap().expose_secret(), "pasted-token-5678");
    // A binary value has no string.
    c.secrets
        .put_secret_value()
        .secret_id(tokens.secret_name(&p))
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(vec![0u8, 0xff]))
        .send()
        .await
        .unwrap();
    assert!(tokens.get(&p).await.unwrap().is_none());
    tokens.delete(&p).await.unwrap();
}
