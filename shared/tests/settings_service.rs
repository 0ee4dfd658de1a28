//! The settings use cases on the real adapters (DynamoDB and Secrets Manager on moto):
//! the token goes to Secrets Manager and only its metadata to the table; deleting the
//! settings removes the secret and every item of the partner.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use common::{clients, partner_items, stack_var, unique_partner};
use secrecy::ExposeSecret;
use serde_json::json;
use shared::adapters::dynamo::{DynamoStore, partner_pk};
use shared::adapters::secrets::SecretsManagerTokens;
use shared::domain::settings::parse_settings;
use shared::domain::token::parse_token_request;
use shared::ports::{Precondition, TokenSecrets};
use shared::service::settings as svc;

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn token_and_delete_cascade_on_real_adapters() {
    let c = clients().await;
    let table = stack_var("TABLE_NAME");
    let deps = test_support::deps(
        DynamoStore::new(c.dynamodb.clone(), &table),
        SecretsManagerTokens::new(c.secrets.clone(), stack_var("SECRET_PREFIX")),
    );
    let (store, secrets) = (&deps.store, deps.tokens.inner());
    let p = unique_partner("svc");
    let now = jiff::Timestamp::now();
    const TOKEN: &str = "ServiceLevelToken7777";

    let doc = json!({"active": true, "hipchat_url": "https://hipchat.example.com", "notification_room_id": 12});
    let settings = parse_settings(&doc).unwrap();
    svc::put_settings(&deps, &p, settings, &Precondition::None, now).await.unwrap();
    let (token, warnings) = parse_token_request(&json!({"token": TOKEN}), svc::today(now)).unwrap();
    let status = svc::put_token(&deps, &p, token, warnings, now).await.unwrap();
    assert_eq!(status.token.last4.as_deref(), Some("7777"));
    assert_eq!(secrets.get(&p).await.unwrap().unwrap().expose_secret(), TOKEN);

    // The table holds metadata only: the token string is nowhere in the partner's items.
    let items = partner_items(&c.dynamodb, &table, &p).await;
    assert!(!format!("{items:?}").contains(TOKEN));
    let stored = svc::get_settings(&deps, &p, now).await.unwrap();
    assert_eq!(stored.version, 2);
    let meta = shared::ports::SettingsStore::get(store, &p).await.unwrap().unwrap().token.unwrap();
    assert_eq!(meta.secret_name.as_deref(), Some(secrets.secret_name(&p).as_str()));

    // A room mapping, as the chat function will write it.
    c.dynamodb
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S(partner_pk(&p)))
        .item("sk", AttributeValue::S("ROOM#u1".into()))
        .send()
        .await
        .unwrap();

    svc::delete_settings(&deps, &p).await.unwrap();
    assert!(secrets.get(&p).await.unwrap().is_none());
    let left = partner_items(&c.dynamodb, &table, &p).await;
    assert!(left.is_empty(), "{left:?}");
    assert!(matches!(svc::get_settings(&deps, &p, now).await, Err(shared::error::AppError::NotFound(_))));
}
