//! Secrets Manager adapters against moto.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{SHARED_TESTS_APP, clients, stack_var, unique_partner};
use secrecy::{ExposeSecret, SecretString};
use shared::adapters::http::Authenticator;
use shared::adapters::secrets::{SecretsManagerSigningKeys, SecretsManagerTokens};
use shared::domain::partner::PartnerId;
use shared::error::AppError;
use shared::ports::{SigningKeySource, TokenSecrets};
use test_support::signed_request;

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

/// The token secret's current string, read past the adapter.
async fn stored(c: &shared::adapters::aws::AwsClients, tokens: &SecretsManagerTokens, p: &PartnerId) -> Option<String> {
    let out = c.secrets.get_secret_value().secret_id(tokens.secret_name(p)).send().await.unwrap();
    out.secret_string().map(str::to_owned)
}

/// A Secrets Manager client for moto behind a loopback proxy that refuses `PutSecretValue` on a
/// secret scheduled for deletion as AWS does (`InvalidRequestException`); moto itself stores the
/// value and leaves the secret deleted, so it can never be read. Everything else is forwarded
/// as it is. The count is the number of writes refused.
async fn secrets_refusing_writes_to_deleted_secrets() -> (aws_sdk_secretsmanager::Client, Arc<AtomicUsize>) {
    use axum::body::{Body, Bytes, to_bytes};
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::{IntoResponse, Response};

    let moto = stack_var("AWS_ENDPOINT_URL");
    shared::adapters::tls::install_crypto_provider();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let refused = Arc::new(AtomicUsize::new(0));
    let counter = refused.clone();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let (http, moto, refused) = (http.clone(), moto.clone(), counter.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = to_bytes(body, 1 << 20).await.unwrap();
            let mut headers = parts.headers.clone();
            for h in [header::HOST, header::CONTENT_LENGTH] {
                headers.remove(h);
            }
            let url = format!("{moto}{}", parts.uri.path_and_query().map_or("/", |p| p.as_str()));
            let send = |target: HeaderValue, body: Bytes| {
                let mut headers = headers.clone();
                headers.insert("x-amz-target", target);
                http.request(parts.method.clone(), &url).headers(headers).body(body).send()
            };
            if parts.headers.get("x-amz-target").is_some_and(|t| t == "secretsmanager.PutSecretValue") {
                let id = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["SecretId"].clone();
                let describe = serde_json::json!({ "SecretId": id }).to_string();
                let described = send(HeaderValue::from_static("secretsmanager.DescribeSecret"), describe.into())
                    .await
                    .unwrap();
                if described.status().is_success()
                    && !described.json::<serde_json::Value>().await.unwrap()["DeletedDate"].is_null()
                {
                    refused.fetch_add(1, Ordering::SeqCst);
                    let error = serde_json::json!({"__type": "InvalidRequestException",
                        "message": "You can't perform this operation on the secret because it was marked for deletion."});
                    let json = [(header::CONTENT_TYPE, "application/x-amz-json-1.1")];
                    return (StatusCode::BAD_REQUEST, json, error.to_string()).into_response();
                }
            }
            let target = parts.headers.get("x-amz-target").cloned().unwrap_or(HeaderValue::from_static(""));
            let answer = send(target, body).await.unwrap();
            let mut response = Response::builder().status(answer.status().as_u16());
            for (name, value) in answer.headers() {
                if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING {
                    response = response.header(name, value);
                }
            }
            response.body(Body::from(answer.bytes().await.unwrap())).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let sdk = shared::adapters::aws::load_sdk_config(SHARED_TESTS_APP).await;
    let config = aws_sdk_secretsmanager::config::Builder::from(&sdk).endpoint_url(format!("http://{addr}")).build();
    (aws_sdk_secretsmanager::Client::from_conf(config), refused)
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
    assert_eq!(stored(&c, &tokens, &p).await.as_deref(), Some("second-token-5678"), "replaced in the same secret");
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
    // AWS refuses PutSecretValue on a secret marked deleted, and the adapter restores it first;
    // moto accepts the write without restoring (the value could never be read back), so the
    // adapter talks to moto through a proxy that refuses the write as AWS does.
    let (aws_like, refused) = secrets_refusing_writes_to_deleted_secrets().await;
    let tokens = SecretsManagerTokens::new(aws_like, stack_var("SECRET_PREFIX"));
    let p = unique_partner("rec");
    tokens.put(&p, &secret("old-token-0000")).await.unwrap();
    assert_eq!(tokens.get(&p).await.unwrap().unwrap().expose_secret(), "old-token-0000");
    // Someone deleted it in the console, with the default recovery window.
    c.secrets.delete_secret().secret_id(tokens.secret_name(&p)).send().await.unwrap();
    // No usable token (not an internal error).
    assert!(tokens.get(&p).await.unwrap().is_none());
    // Storing a new one restores the secret with the new value.
    tokens.put(&p, &secret("new-token-1111")).await.unwrap();
    assert_eq!(refused.load(Ordering::SeqCst), 1, "the first write was refused, as AWS would");
    assert_eq!(tokens.get(&p).await.unwrap().unwrap().expose_secret(), "new-token-1111");
    assert_eq!(stored(&c, &tokens, &p).await.as_deref(), Some("new-token-1111"));
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
    assert_eq!(tokens.get(&p).await.unwrap().unwrap().expose_secret(), "good-token-1234");
    let overwrite = |value: &'static str| {
        c.secrets.put_secret_value().secret_id(tokens.secret_name(&p)).secret_string(value).send()
    };
    // Someone edited it in the console: control characters, blanks only.
    for bad in ["Bad\nToken\u{7}Value", " \t "] {
        overwrite(bad).await.unwrap();
        assert_eq!(stored(&c, &tokens, &p).await.as_deref(), Some(bad), "the secret holds the edit");
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
    assert_eq!(stored(&c, &tokens, &p).await, None, "the secret holds the binary edit");
    assert!(tokens.get(&p).await.unwrap().is_none());
    tokens.delete(&p).await.unwrap();
}
