//! The DynamoDB settings store against moto (real SDK, real wire protocol).

mod common;

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use common::{clients, partner_items, stack_var, unique_partner};
use jiff::Timestamp;
use jiff::civil::date;
use secrecy::SecretString;
use serde_json::json;
use shared::adapters::dynamo::{DynamoStore, TOKEN_EXPIRY_INDEX, partner_pk};
use shared::domain::settings::{Settings, parse_settings};
use shared::domain::token::{TokenCheck, TokenMeta};
use shared::ports::{PortError, Precondition, SettingsStore};

async fn store() -> (DynamoStore, aws_sdk_dynamodb::Client, String) {
    let c = clients().await;
    let table = stack_var("TABLE_NAME");
    (DynamoStore::new(c.dynamodb.clone(), &table), c.dynamodb, table)
}

fn sample() -> Settings {
    parse_settings(&json!({
        "active": true,
        "hipchat_url": "https://hipchat.example.com",
        "notification_room_id": 4711,
        "chat": {"show_button": true, "service_hours": {"timezone": "Europe/Vienna",
                 "days": {"friday": [{"from": "22:00", "to": "02:00"}]}, "closed_dates": ["2026-12-24"]}},
        "notifications": {"login_logout": "customers_and_partners", "issue_created": true}
    }))
    .unwrap()
    .settings
}

fn now() -> Timestamp {
    "2026-11-25T10:00:00Z".parse().unwrap()
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn put_get_round_trip_with_versions() {
    let (s, _, _) = store().await;
    let p = unique_partner("rt");
    assert_eq!(s.get(&p).await.unwrap(), None);
    let first = s.put(&p, &sample(), &Precondition::None, now()).await.unwrap();
    assert_eq!(first.version, 1);
    assert_eq!(first.settings, sample());
    let got = s.get(&p).await.unwrap().unwrap();
    assert_eq!(got, first);
    let second = s.put(&p, &Settings::inactive(), &Precondition::Versions(vec![1]), now()).await.unwrap();
    assert_eq!(second.version, 2);
    assert_eq!(s.get(&p).await.unwrap().unwrap().settings, Settings::inactive());
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn conditional_version_conflicts() {
    let (s, _, _) = store().await;
    let p = unique_partner("cond");
    // If-Match on something that does not exist.
    assert!(matches!(s.put(&p, &sample(), &Precondition::Exists, now()).await, Err(PortError::Conflict)));
    assert!(matches!(s.put(&p, &sample(), &Precondition::Versions(vec![1]), now()).await, Err(PortError::Conflict)));
    s.put(&p, &sample(), &Precondition::None, now()).await.unwrap();
    assert!(matches!(s.put(&p, &sample(), &Precondition::Versions(vec![7]), now()).await, Err(PortError::Conflict)));
    assert_eq!(s.put(&p, &sample(), &Precondition::Versions(vec![7, 1]), now()).await.unwrap().version, 2);
    assert_eq!(s.put(&p, &sample(), &Precondition::Exists, now()).await.unwrap().version, 3);
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn concurrent_writers_on_one_version_one_wins() {
    let (s, _, _) = store().await;
    let s = Arc::new(s);
    let p = unique_partner("race");
    s.put(&p, &sample(), &Precondition::None, now()).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..10u64 {
        let (s, p) = (s.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            let mut doc = sample();
            doc.notification_room_id = Some(100 + i);
            s.put(&p, &doc, &Precondition::Versions(vec![1]), now()).await.map(|st| (st, i))
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(w) => winners.push(w),
            Err(PortError::Conflict) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one writer wins");
    let stored = s.get(&p).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.settings.notification_room_id, Some(100 + winners[0].1));
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn token_metadata_lives_beside_the_settings_and_in_the_sparse_index() {
    let (s, client, table) = store().await;
    let p = unique_partner("tok");
    let meta = TokenMeta::new(&SecretString::from("abcdefgh12345678".to_owned()), date(2026, 11, 25));
    // Token before settings: a minimal inactive record.
    let stored = s.set_token(&p, &meta, now()).await.unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(stored.settings, Settings::inactive());
    assert_eq!(stored.token.as_ref(), Some(&meta));
    // Settings writes keep the token.
    let after = s.put(&p, &sample(), &Precondition::Versions(vec![1]), now()).await.unwrap();
    assert_eq!(after.token.as_ref(), Some(&meta));
    assert_eq!(after.version, 2);
    // A token write changes what GET shows, so it bumps the version (and the ETag).
    assert_eq!(s.set_token(&p, &meta, now()).await.unwrap().version, 3);
    // The index finds it by expiry date.
    let found = client
        .query()
        .table_name(&table)
        .index_name(TOKEN_EXPIRY_INDEX)
        .key_condition_expression("token_gsi_pk = :t AND token_expires_on = :d")
        .expression_attribute_values(":t", AttributeValue::S("TOKEN".into()))
        .expression_attribute_values(":d", AttributeValue::S("2027-11-25".into()))
        .send()
        .await
        .unwrap();
    assert!(found.items().iter().any(|i| i.get("pk") == Some(&AttributeValue::S(partner_pk(&p)))));
    // Clearing the token removes the metadata and the index attributes.
    s.clear_token(&p, now()).await.unwrap();
    let raw = client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(partner_pk(&p)))
        .key("sk", AttributeValue::S("SETTINGS".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(!raw.contains_key("token") && !raw.contains_key("token_gsi_pk") && !raw.contains_key("token_expires_on"));
    let stored = s.get(&p).await.unwrap().unwrap();
    assert_eq!(stored.settings, sample());
    assert_eq!(stored.version, 4);
    // Clearing again (no bump), or for a partner without settings, is fine.
    s.clear_token(&p, now()).await.unwrap();
    assert_eq!(s.get(&p).await.unwrap().unwrap().version, 4);
    s.clear_token(&unique_partner("none"), now()).await.unwrap();
    assert!(s.get(&unique_partner("none2")).await.unwrap().is_none());
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn delete_partner_removes_settings_rooms_and_records_only_of_that_partner() {
    let (s, client, table) = store().await;
    let p = unique_partner("del");
    let other = unique_partner("keep");
    s.put(&p, &sample(), &Precondition::None, now()).await.unwrap();
    s.put(&other, &sample(), &Precondition::None, now()).await.unwrap();
    // 30 room mappings (more than one BatchWriteItem of 25) and an event record.
    let mut sks: Vec<String> = (0..30).map(|i| format!("ROOM#user-{i}")).collect();
    sks.push("EVENT#e-1".into());
    for sk in &sks {
        client
            .put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S(partner_pk(&p)))
            .item("sk", AttributeValue::S(sk.clone()))
            .item("room_id", AttributeValue::N("1".into()))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(s.delete_partner(&p).await.unwrap(), 32);
    let left = partner_items(&client, &table, &p).await;
    assert!(left.is_empty(), "{left:?}");
    assert!(s.get(&other).await.unwrap().is_some(), "other partners are untouched");
    assert_eq!(s.delete_partner(&p).await.unwrap(), 0);
}

/// A signature is recorded once; the SDK's retry of the same call (same claim) is still the
/// first use, another call is a replay until the record's time has passed.
#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn a_signature_is_recorded_once_and_a_retry_of_the_same_call_is_not_a_replay() {
    use shared::ports::SignatureLedger;
    let (store, _, _) = store().await;
    let mut tag = [0u8; 32];
    tag[..8].copy_from_slice(&fastrand::u64(..).to_be_bytes());
    let kept = now() + jiff::SignedDuration::from_secs(601);
    assert!(store.record_signature(&tag, "call-1", kept, now()).await.unwrap());
    assert!(store.record_signature(&tag, "call-1", kept, now()).await.unwrap(), "the SDK's retry of that call");
    assert!(!store.record_signature(&tag, "call-2", kept, now()).await.unwrap(), "another call: a replay");
    assert!(!store.first_use(&tag, kept, now() + jiff::SignedDuration::from_secs(601)).await.unwrap());
    // Past its time the record counts as gone (TTL deletion lags).
    let later = now() + jiff::SignedDuration::from_secs(602);
    assert!(store.first_use(&tag, later + jiff::SignedDuration::from_secs(601), later).await.unwrap());
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn an_unreachable_endpoint_is_unavailable() {
    let sdk = shared::adapters::aws::load_sdk_config(common::SHARED_TESTS_APP).await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url("http://127.0.0.1:9").build();
    let s = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), "nope");
    let err = s.get(&unique_partner("down")).await.unwrap_err();
    assert!(matches!(err, PortError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn token_check_results_land_on_the_checked_token_only() {
    let (s, _, _) = store().await;
    let p = unique_partner("check");
    s.put(&p, &sample(), &Precondition::None, now()).await.unwrap();
    let old = TokenMeta::new(&SecretString::from("OldTokenValue0001"), date(2026, 1, 10));
    let stored = s.set_token(&p, &old, now()).await.unwrap();
    let check = TokenCheck { rejected: true, missing_scopes: vec!["manage_rooms".into()], checked_at: now() };
    assert!(s.record_token_check(&p, &old, &check).await.unwrap());
    let got = s.get(&p).await.unwrap().unwrap();
    let token = got.token.unwrap();
    assert_eq!(
        (token.rejected, token.missing_scopes.clone(), token.checked_at),
        (true, check.missing_scopes.clone(), Some(now()))
    );
    assert_eq!(got.version, stored.version, "a check does not bump the version");
    // A clean check removes the missing scopes again.
    let clean = TokenCheck { rejected: false, missing_scopes: vec![], checked_at: now() };
    assert!(s.record_token_check(&p, &old, &clean).await.unwrap());
    let token = s.get(&p).await.unwrap().unwrap().token.unwrap();
    assert!(!token.rejected && token.missing_scopes.is_empty());

    // A token replaced meanwhile is not touched by the old token's result.
    let new = TokenMeta::new(&SecretString::from("NewTokenValue0002"), date(2026, 11, 20));
    s.set_token(&p, &new, now()).await.unwrap();
    assert!(!s.record_token_check(&p, &old, &check).await.unwrap());
    assert_eq!(s.get(&p).await.unwrap().unwrap().token.unwrap(), new);
    // No record at all: nothing to record on, and no item is made.
    let none = unique_partner("none");
    assert!(!s.record_token_check(&none, &old, &check).await.unwrap());
    let (_, client, table) = store().await;
    assert!(partner_items(&client, &table, &none).await.is_empty());
}

mod rooms {
    use super::*;
    use shared::ports::{ChatContext, MappedRoom, RoomMapping, RoomStore};

    fn room(id: u64) -> MappedRoom {
        MappedRoom {
            room_id: id,
            room_name: format!("dynaBOARD - User {id}"),
            guest_url: Some(format!("https://h/g{id}")),
        }
    }

    fn later(secs: i64) -> Timestamp {
        now() + jiff::SignedDuration::from_secs(secs)
    }

    #[tokio::test]
    #[ignore = "needs the local stack (make test)"]
    async fn chat_context_reads_settings_and_the_users_mapping_together() {
        let (s, _, _) = store().await;
        let p = unique_partner("ctx");
        assert_eq!(s.chat_context(&p, "u1").await.unwrap(), ChatContext::default());
        let stored = s.put(&p, &sample(), &Precondition::None, now()).await.unwrap();
        assert!(s.claim_room(&p, "u1", "c1", later(20), None, now()).await.unwrap());
        assert!(s.store_room(&p, "u1", "c1", &room(7)).await.unwrap());
        // Another user's mapping sorts between, and is not read.
        assert!(s.claim_room(&p, "u0", "c0", later(20), None, now()).await.unwrap());
        let ctx = s.chat_context(&p, "u1").await.unwrap();
        assert_eq!(ctx.settings, Some(stored));
        assert_eq!(ctx.room, Some(RoomMapping::Ready(room(7))));
        let other = s.chat_context(&p, "u0").await.unwrap();
        assert!(
            matches!(other.room, Some(RoomMapping::Pending { ref claim_id, lease_until }) if claim_id == "c0" && lease_until == later(20))
        );
        // A user id with key-like characters stays one user.
        assert_eq!(s.chat_context(&p, "u1#x").await.unwrap().room, None);
    }

    #[tokio::test]
    #[ignore = "needs the local stack (make test)"]
    async fn claims_are_exclusive_until_their_lease_ends() {
        let (s, _, _) = store().await;
        let p = unique_partner("claim");
        assert!(s.claim_room(&p, "u1", "a", later(20), None, now()).await.unwrap());
        assert!(!s.claim_room(&p, "u1", "b", later(40), None, now()).await.unwrap(), "held");
        assert!(!s.claim_room(&p, "u1", "b", later(40), None, later(20)).await.unwrap(), "lease ends after its second");
        // After the lease, another request takes over; the first one's store then fails.
        assert!(s.claim_room(&p, "u1", "b", later(60), None, later(21)).await.unwrap());
        assert!(!s.store_room(&p, "u1", "a", &room(1)).await.unwrap(), "claim a was lost");
        s.release_room(&p, "u1", "a").await.unwrap();
        assert!(
            matches!(s.room(&p, "u1").await.unwrap(), Some(RoomMapping::Pending { claim_id, .. }) if claim_id == "b")
        );
        assert!(s.store_room(&p, "u1", "b", &room(2)).await.unwrap());
        // A ready mapping is claimed only to replace its own room (found deleted in HipChat).
        assert!(!s.claim_room(&p, "u1", "c", later(20), None, later(999)).await.unwrap());
        assert!(!s.claim_room(&p, "u1", "c", later(20), Some(1), now()).await.unwrap());
        assert!(s.claim_room(&p, "u1", "c", later(20), Some(2), now()).await.unwrap());
        // Releasing removes the claim, so the next request can claim at once.
        s.release_room(&p, "u1", "c").await.unwrap();
        assert_eq!(s.room(&p, "u1").await.unwrap(), None);
        let without_url = MappedRoom { guest_url: None, ..room(3) };
        assert!(s.claim_room(&p, "u1", "d", later(20), None, now()).await.unwrap());
        assert!(s.store_room(&p, "u1", "d", &without_url).await.unwrap());
        assert_eq!(s.room(&p, "u1").await.unwrap(), Some(RoomMapping::Ready(without_url)));
    }

    #[tokio::test]
    #[ignore = "needs the local stack (make test)"]
    async fn ten_concurrent_claims_one_wins() {
        let (s, _, _) = store().await;
        let s = Arc::new(s);
        let p = unique_partner("race");
        let mut tasks = Vec::new();
        for i in 0..10 {
            let (s, p) = (s.clone(), p.clone());
            tasks.push(tokio::spawn(async move {
                s.claim_room(&p, "u1", &format!("c{i}"), later(20), None, now()).await.unwrap()
            }));
        }
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.unwrap());
        }
        assert_eq!(wins, 1);
    }
}
