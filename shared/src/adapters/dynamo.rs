//! The settings store on DynamoDB (docs/design.md, "Data").
//!
//! One table, keys `pk`/`sk`. This adapter owns the item layout:
//! - `PARTNER#<id>` / `SETTINGS`: `settings` (the document), `version`, `updated_at`,
//!   `token` (metadata only), and for the sparse token indexes `token_gsi_pk` (always
//!   `TOKEN`), `token_expires_on` and `token_checked_on` (`YYYY-MM-DD`: when HipChat last
//!   checked the token, or the day it was stored), present only while a token is stored;
//! - `PARTNER#<id>` / `ROOM#<user id>`, `EVENT#<event id>`, `REMINDER#<expires_on>#<days>`:
//!   written by the chat, event and reminder functions; removed with the partner.
//!
//! A room mapping is `state` (`pending` or `ready`); a pending one carries `claim_id` and
//! `lease_until` (Unix seconds, compared in conditions), a ready one `room_id` and `room_name`.
//!
//! An event record is `state` (`pending` or `delivered`), `claim_id`, `lease_until` while
//! pending, `delivered_at` once delivered, and `expires_at` (Unix seconds): the table's TTL
//! attribute, which removes it after the dedupe window.
//!
//! A request signature already served is `SIGNATURE#<hex of the MAC>` / `SIGNATURE` with
//! `expires_at` (TTL): its own partition, outside every partner, so that deleting a partner
//! does not forget the `DELETE` that deleted it.
//!
//! A chat request reads the settings and the user's room in one `BatchGetItem`: the two keys
//! are not adjacent under the partner key (`ROOM#…` items of other users sort between them),
//! so a `Query` would read every mapping in between.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, KeysAndAttributes, ReturnValue, ReturnValuesOnConditionCheckFailure, WriteRequest,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::aws::classify;
use crate::domain::partner::PartnerId;
use crate::domain::settings::Settings;
use crate::domain::token::{TokenCheck, TokenMeta};
use crate::ports::{
    ChatContext, DeliveryClaim, DeliveryKey, DeliveryStore, MappedRoom, PartnerSettings, PortError, Precondition,
    RoomMapping, RoomStore, SettingsStore, SignatureLedger, StoredSettings, TokenIndex,
};

pub const SETTINGS_SK: &str = "SETTINGS";
/// Sort-key prefix of a user's room mapping: `ROOM#<user id>`.
pub const ROOM_SK_PREFIX: &str = "ROOM#";
/// Partition-key prefix of a served request signature: `SIGNATURE#<hex>`.
pub const SIGNATURE_PK_PREFIX: &str = "SIGNATURE#";
/// Sort key of a served request signature.
pub const SIGNATURE_SK: &str = "SIGNATURE";
/// Name of the sparse global secondary index over token expiry.
pub const TOKEN_EXPIRY_INDEX: &str = "token-expiry";
/// Name of the sparse global secondary index over the day a token was last checked.
pub const TOKEN_CHECK_INDEX: &str = "token-check";
/// The one partition of the token indexes.
pub const TOKEN_GSI_PK_VALUE: &str = "TOKEN";

/// The partition key of everything that belongs to a partner.
pub fn partner_pk(partner: &PartnerId) -> String {
    format!("PARTNER#{partner}")
}

/// The settings item as stored.
#[derive(Debug, Serialize, Deserialize)]
struct SettingsItem {
    settings: Settings,
    version: u64,
    updated_at: Timestamp,
    #[serde(default)]
    token: Option<TokenMeta>,
}

impl From<SettingsItem> for StoredSettings {
    fn from(i: SettingsItem) -> Self {
        StoredSettings { settings: i.settings, version: i.version, updated_at: i.updated_at, token: i.token }
    }
}

/// A room mapping as stored.
#[derive(Debug, Serialize, Deserialize)]
struct RoomItem {
    state: RoomState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    room_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    room_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    guest_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease_until: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RoomState {
    Pending,
    Ready,
}

fn decode_room(item: HashMap<String, AttributeValue>) -> Result<RoomMapping, PortError> {
    let bad = |why: &'static str| PortError::Internal { what: "decoding a room mapping", source: why.into() };
    let i: RoomItem = serde_dynamo::from_item(item)
        .map_err(|e| PortError::Internal { what: "decoding a room mapping", source: Box::new(e) })?;
    match i.state {
        RoomState::Ready => Ok(RoomMapping::Ready(MappedRoom {
            room_id: i.room_id.ok_or_else(|| bad("a ready mapping without room_id"))?,
            room_name: i.room_name.unwrap_or_default(),
            guest_url: i.guest_url,
        })),
        RoomState::Pending => Ok(RoomMapping::Pending {
            claim_id: i.claim_id.ok_or_else(|| bad("a pending mapping without claim_id"))?,
            lease_until: i
                .lease_until
                .and_then(|s| Timestamp::from_second(s).ok())
                .ok_or_else(|| bad("a pending mapping without a valid lease_until"))?,
        }),
    }
}

/// An event record as stored.
#[derive(Debug, Serialize, Deserialize)]
struct EventItem {
    state: EventState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delivered_at: Option<String>,
    expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum EventState {
    Pending,
    Delivered,
}

/// What a record that refused a claim says.
fn decode_event_claim(item: HashMap<String, AttributeValue>) -> Result<DeliveryClaim, PortError> {
    let i: EventItem = serde_dynamo::from_item(item)
        .map_err(|e| PortError::Internal { what: "decoding an event record", source: Box::new(e) })?;
    match i.state {
        EventState::Delivered => Ok(DeliveryClaim::Delivered),
        EventState::Pending => Ok(DeliveryClaim::InFlight {
            lease_until: i.lease_until.and_then(|s| Timestamp::from_second(s).ok()).ok_or_else(|| {
                PortError::Internal {
                    what: "decoding an event record",
                    source: "a pending record without lease".into(),
                }
            })?,
        }),
    }
}

fn is_condition_failure<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error().and_then(|se| se.code()) == Some("ConditionalCheckFailedException")
}

/// The outcome of a conditional write: `true` when it was applied, `false` when its condition
/// did not hold, any other failure classified under `what`.
fn applied<T, E>(
    res: Result<T, aws_sdk_dynamodb::error::SdkError<E, HttpResponse>>,
    what: &'static str,
) -> Result<bool, PortError>
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
{
    match res {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failure(&e) => Ok(false),
        Err(e) => Err(classify(what, e)),
    }
}

/// Before attempt `attempt` (from 0) of a batch call that left work unprocessed: waits with
/// exponential backoff (none before the first), and gives up after six attempts.
async fn batch_pause(attempt: u32, what: &'static str) -> Result<(), PortError> {
    if attempt >= 6 {
        return Err(PortError::Unavailable { what, source: "work left unprocessed after retries".into() });
    }
    if attempt > 0 {
        tokio::time::sleep(Duration::from_millis(50 << attempt.min(5))).await;
    }
    Ok(())
}

/// [`SettingsStore`] and [`RoomStore`] on a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn to_av<T: Serialize>(what: &'static str, v: &T) -> Result<AttributeValue, PortError> {
    serde_dynamo::to_attribute_value(v).map_err(|e| PortError::Internal { what, source: Box::new(e) })
}

fn decode(item: HashMap<String, AttributeValue>) -> Result<StoredSettings, PortError> {
    serde_dynamo::from_item::<_, SettingsItem>(item)
        .map(Into::into)
        .map_err(|e| PortError::Internal { what: "decoding the settings item", source: Box::new(e) })
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn key(partner: &PartnerId) -> HashMap<String, AttributeValue> {
        Self::item_key(partner, SETTINGS_SK.into())
    }

    fn room_key(partner: &PartnerId, user_id: &str) -> HashMap<String, AttributeValue> {
        Self::item_key(partner, format!("{ROOM_SK_PREFIX}{user_id}"))
    }

    fn delivery_key(partner: &PartnerId, key: &DeliveryKey<'_>) -> HashMap<String, AttributeValue> {
        Self::item_key(partner, key.sort_key())
    }

    /// Removes a pending item (room mapping or event record) if it is still claimed by
    /// `claim_id`; one taken over after its lease, or finished (which drops `claim_id`), stays.
    async fn release_claim(
        &self,
        key: HashMap<String, AttributeValue>,
        claim_id: &str,
        what: &'static str,
    ) -> Result<(), PortError> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression("claim_id = :c")
            .expression_attribute_values(":c", AttributeValue::S(claim_id.to_owned()))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(classify(what, e)),
        }
    }

    /// The item at `key`, read strongly consistent; `what` names the call in errors.
    async fn get_consistent(
        &self,
        key: HashMap<String, AttributeValue>,
        what: &'static str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(what, e))?;
        Ok(out.item)
    }

    fn item_key(partner: &PartnerId, sk: String) -> HashMap<String, AttributeValue> {
        HashMap::from([("pk".into(), AttributeValue::S(partner_pk(partner))), ("sk".into(), AttributeValue::S(sk))])
    }
}

impl SettingsStore for DynamoStore {
    async fn get(&self, partner: &PartnerId) -> Result<Option<StoredSettings>, PortError> {
        self.get_consistent(Self::key(partner), "DynamoDB GetItem (settings)").await?.map(decode).transpose()
    }

    async fn put(
        &self,
        partner: &PartnerId,
        settings: &Settings,
        precondition: &Precondition,
        now: Timestamp,
    ) -> Result<StoredSettings, PortError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(partner)))
            .update_expression("SET #s = :s, #u = :u, #v = if_not_exists(#v, :zero) + :one")
            .expression_attribute_names("#s", "settings")
            .expression_attribute_names("#u", "updated_at")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":s", to_av("encoding settings", settings)?)
            .expression_attribute_values(":u", AttributeValue::S(now.to_string()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew);
        match precondition {
            Precondition::None => {}
            Precondition::Exists => req = req.condition_expression("attribute_exists(pk)"),
            Precondition::Versions(versions) => {
                let names: Vec<String> = (0..versions.len()).map(|i| format!(":v{i}")).collect();
                req = req.condition_expression(format!("#v IN ({})", names.join(", ")));
                for (name, v) in names.iter().zip(versions) {
                    req = req.expression_attribute_values(name, AttributeValue::N(v.to_string()));
                }
            }
        }
        match req.send().await {
            Ok(out) => decode(out.attributes.unwrap_or_default()),
            Err(e) if is_condition_failure(&e) => Err(PortError::Conflict),
            Err(e) => Err(classify("DynamoDB UpdateItem (settings)", e)),
        }
    }

    async fn set_token(
        &self,
        partner: &PartnerId,
        token: &TokenMeta,
        now: Timestamp,
    ) -> Result<StoredSettings, PortError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(partner)))
            .update_expression(
                "SET #t = :t, token_gsi_pk = :tp, token_expires_on = :e, token_checked_on = :d, \
                 #s = if_not_exists(#s, :default), #v = if_not_exists(#v, :zero) + :one, #u = :u",
            )
            .expression_attribute_names("#t", "token")
            .expression_attribute_names("#s", "settings")
            .expression_attribute_names("#v", "version")
            .expression_attribute_names("#u", "updated_at")
            .expression_attribute_values(":t", to_av("encoding token metadata", token)?)
            .expression_attribute_values(":tp", AttributeValue::S(TOKEN_GSI_PK_VALUE.into()))
            .expression_attribute_values(":e", AttributeValue::S(token.expires_on.to_string()))
            .expression_attribute_values(":d", AttributeValue::S(crate::domain::token::today(now).to_string()))
            .expression_attribute_values(":default", to_av("encoding settings", &Settings::inactive())?)
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":u", AttributeValue::S(now.to_string()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| classify("DynamoDB UpdateItem (token)", e))?;
        decode(out.attributes.unwrap_or_default())
    }

    async fn record_token_check(
        &self,
        partner: &PartnerId,
        checked: &TokenMeta,
        check: &TokenCheck,
    ) -> Result<bool, PortError> {
        let mut update = "SET #t.rejected = :r, #t.checked_at = :c, token_checked_on = :d".to_owned();
        let mut req = self.client.update_item();
        if check.missing_scopes.is_empty() {
            update.push_str(" REMOVE #t.missing_scopes");
        } else {
            update.push_str(", #t.missing_scopes = :m");
            req = req.expression_attribute_values(":m", to_av("encoding scopes", &check.missing_scopes)?);
        }
        let res = req
            .table_name(&self.table)
            .set_key(Some(Self::key(partner)))
            .update_expression(update)
            .condition_expression("#t.last4 = :l AND #t.issued_on = :i")
            .expression_attribute_names("#t", "token")
            .expression_attribute_values(":r", AttributeValue::Bool(check.rejected))
            .expression_attribute_values(":c", AttributeValue::S(check.checked_at.to_string()))
            .expression_attribute_values(
                ":d",
                AttributeValue::S(crate::domain::token::today(check.checked_at).to_string()),
            )
            .expression_attribute_values(":l", AttributeValue::S(checked.last4.clone()))
            .expression_attribute_values(":i", AttributeValue::S(checked.issued_on.to_string()))
            .send()
            .await;
        // `false`: the token was replaced or removed since it was read, its check result is stale.
        applied(res, "DynamoDB UpdateItem (token check)")
    }

    async fn clear_token(&self, partner: &PartnerId, now: Timestamp) -> Result<(), PortError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(partner)))
            .update_expression(
                "REMOVE #t, token_gsi_pk, token_expires_on, token_checked_on SET #v = #v + :one, #u = :u",
            )
            .expression_attribute_names("#t", "token")
            .expression_attribute_names("#v", "version")
            .expression_attribute_names("#u", "updated_at")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":u", AttributeValue::S(now.to_string()))
            .condition_expression("attribute_exists(#t)")
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            // No token stored (or no record at all): nothing to do.
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(classify("DynamoDB UpdateItem (clear token)", e)),
        }
    }

    async fn delete_partner(&self, partner: &PartnerId) -> Result<usize, PortError> {
        let mut keys: Vec<HashMap<String, AttributeValue>> = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(partner_pk(partner)))
                .projection_expression("pk, sk")
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("DynamoDB Query (partner items)", e))?;
            keys.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        let count = keys.len();
        for chunk in keys.chunks(25) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| {
                    DeleteRequest::builder()
                        .set_key(Some(k.clone()))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(|e| PortError::Internal { what: "building a delete request", source: Box::new(e) })
                })
                .collect::<Result<_, _>>()?;
            // BatchWriteItem may leave items unprocessed under load: retry those with backoff.
            let mut attempt = 0u32;
            while !pending.is_empty() {
                batch_pause(attempt, "DynamoDB BatchWriteItem (partner items)").await?;
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| classify("DynamoDB BatchWriteItem (partner items)", e))?;
                pending = out.unprocessed_items.and_then(|mut m| m.remove(&self.table)).unwrap_or_default();
                attempt += 1;
            }
        }
        Ok(count)
    }
}

impl RoomStore for DynamoStore {
    async fn chat_context(&self, partner: &PartnerId, user_id: &str) -> Result<ChatContext, PortError> {
        let room_sk = format!("{ROOM_SK_PREFIX}{user_id}");
        let mut pending = Some(
            KeysAndAttributes::builder()
                .keys(Self::key(partner))
                .keys(Self::room_key(partner, user_id))
                .consistent_read(true)
                .build()
                .map_err(|e| PortError::Internal { what: "building a batch read", source: Box::new(e) })?,
        );
        let mut ctx = ChatContext::default();
        // BatchGetItem may leave keys unprocessed under load: read those again with backoff.
        let mut attempt = 0u32;
        while let Some(keys) = pending.take() {
            batch_pause(attempt, "DynamoDB BatchGetItem (chat context)").await?;
            attempt += 1;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, keys)
                .send()
                .await
                .map_err(|e| classify("DynamoDB BatchGetItem (chat context)", e))?;
            for item in out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                match item.get("sk") {
                    Some(AttributeValue::S(sk)) if sk == SETTINGS_SK => ctx.settings = Some(decode(item)?),
                    Some(AttributeValue::S(sk)) if *sk == room_sk => ctx.room = Some(decode_room(item)?),
                    _ => {}
                }
            }
            pending = out.unprocessed_keys.and_then(|mut m| m.remove(&self.table)).filter(|k| !k.keys().is_empty());
        }
        Ok(ctx)
    }

    async fn room(&self, partner: &PartnerId, user_id: &str) -> Result<Option<RoomMapping>, PortError> {
        let item = self.get_consistent(Self::room_key(partner, user_id), "DynamoDB GetItem (room mapping)").await?;
        item.map(decode_room).transpose()
    }

    async fn claim_room(
        &self,
        partner: &PartnerId,
        user_id: &str,
        claim_id: &str,
        lease_until: Timestamp,
        replacing: Option<u64>,
        now: Timestamp,
    ) -> Result<bool, PortError> {
        let item = RoomItem {
            state: RoomState::Pending,
            room_id: None,
            room_name: None,
            guest_url: None,
            claim_id: Some(claim_id.to_owned()),
            lease_until: Some(lease_until.as_second()),
        };
        let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&item)
            .map_err(|e| PortError::Internal { what: "encoding a room claim", source: Box::new(e) })?;
        item.extend(Self::room_key(partner, user_id));
        let mut condition = "attribute_not_exists(pk) OR lease_until < :now".to_owned();
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .expression_attribute_values(":now", AttributeValue::N(now.as_second().to_string()));
        if let Some(old) = replacing {
            condition.push_str(" OR room_id = :old");
            req = req.expression_attribute_values(":old", AttributeValue::N(old.to_string()));
        }
        applied(req.condition_expression(condition).send().await, "DynamoDB PutItem (room claim)")
    }

    async fn store_room(
        &self,
        partner: &PartnerId,
        user_id: &str,
        claim_id: &str,
        room: &MappedRoom,
    ) -> Result<bool, PortError> {
        let mut req = self.client.update_item();
        let update = match &room.guest_url {
            Some(url) => {
                req = req.expression_attribute_values(":g", AttributeValue::S(url.clone()));
                "SET #st = :ready, room_id = :id, room_name = :name, guest_url = :g REMOVE claim_id, lease_until"
            }
            None => "SET #st = :ready, room_id = :id, room_name = :name REMOVE claim_id, lease_until, guest_url",
        };
        let res = req
            .table_name(&self.table)
            .set_key(Some(Self::room_key(partner, user_id)))
            .update_expression(update)
            .condition_expression("claim_id = :c")
            .expression_attribute_names("#st", "state")
            .expression_attribute_values(":ready", AttributeValue::S("ready".into()))
            .expression_attribute_values(":id", AttributeValue::N(room.room_id.to_string()))
            .expression_attribute_values(":name", AttributeValue::S(room.room_name.clone()))
            .expression_attribute_values(":c", AttributeValue::S(claim_id.to_owned()))
            .send()
            .await;
        applied(res, "DynamoDB UpdateItem (room mapping)")
    }

    async fn release_room(&self, partner: &PartnerId, user_id: &str, claim_id: &str) -> Result<(), PortError> {
        self.release_claim(Self::room_key(partner, user_id), claim_id, "DynamoDB DeleteItem (room claim)").await
    }
}

impl DeliveryStore for DynamoStore {
    async fn claim_delivery(
        &self,
        partner: &PartnerId,
        key: &DeliveryKey<'_>,
        claim_id: &str,
        lease_until: Timestamp,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<DeliveryClaim, PortError> {
        let item = EventItem {
            state: EventState::Pending,
            claim_id: Some(claim_id.to_owned()),
            lease_until: Some(lease_until.as_second()),
            delivered_at: None,
            expires_at: expires_at.as_second(),
        };
        let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&item)
            .map_err(|e| PortError::Internal { what: "encoding an event claim", source: Box::new(e) })?;
        item.extend(Self::delivery_key(partner, key));
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(pk) OR (#st = :pending AND lease_until < :now) OR expires_at < :now",
            )
            .expression_attribute_names("#st", "state")
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .expression_attribute_values(":now", AttributeValue::N(now.as_second().to_string()))
            // The refusing record comes back with the refusal: no second read.
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(_) => Ok(DeliveryClaim::Claimed),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(c)) => match c.item() {
                    Some(old) => decode_event_claim(old.clone()),
                    // Refused without the record (it was just removed): worth another try at once.
                    None => Ok(DeliveryClaim::InFlight { lease_until: now }),
                },
                _ => Err(classify("DynamoDB PutItem (delivery claim)", e)),
            },
        }
    }

    async fn mark_delivered(
        &self,
        partner: &PartnerId,
        key: &DeliveryKey<'_>,
        claim_id: &str,
        now: Timestamp,
    ) -> Result<bool, PortError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::delivery_key(partner, key)))
            .update_expression("SET #st = :delivered, delivered_at = :t REMOVE lease_until, claim_id")
            .condition_expression("claim_id = :c")
            .expression_attribute_names("#st", "state")
            .expression_attribute_values(":delivered", AttributeValue::S("delivered".into()))
            .expression_attribute_values(":t", AttributeValue::S(now.to_string()))
            .expression_attribute_values(":c", AttributeValue::S(claim_id.to_owned()))
            .send()
            .await;
        applied(res, "DynamoDB UpdateItem (delivered)")
    }

    async fn release_delivery(
        &self,
        partner: &PartnerId,
        key: &DeliveryKey<'_>,
        claim_id: &str,
    ) -> Result<(), PortError> {
        self.release_claim(Self::delivery_key(partner, key), claim_id, "DynamoDB DeleteItem (delivery claim)").await
    }
}

impl SignatureLedger for DynamoStore {
    async fn first_use(&self, tag: &[u8; 32], expires_at: Timestamp, now: Timestamp) -> Result<bool, PortError> {
        self.record_signature(tag, &format!("{:016x}", fastrand::u64(..)), expires_at, now).await
    }
}

impl DynamoStore {
    /// Records the signature `tag` under `claim`, a random id of this one call: the SDK retries
    /// an attempt whose answer was lost, and when the first attempt had written the record, the
    /// retry finds its own claim there and is still the first use, not a replay. UpdateItem
    /// creates the item like a PutItem would, under the one DynamoDB write action every
    /// function is allowed anyway.
    pub async fn record_signature(
        &self,
        tag: &[u8; 32],
        claim: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, PortError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("{SIGNATURE_PK_PREFIX}{}", hex::encode(tag))))
            .key("sk", AttributeValue::S(SIGNATURE_SK.into()))
            .update_expression("SET expires_at = :e, claim_id = :c")
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now OR claim_id = :c")
            .expression_attribute_values(":e", AttributeValue::N(expires_at.as_second().to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.as_second().to_string()))
            .expression_attribute_values(":c", AttributeValue::S(claim.to_owned()))
            .send()
            .await;
        applied(res, "DynamoDB UpdateItem (request signature)")
    }
}

impl DynamoStore {
    /// Every settings item of a query on a token index (all pages).
    async fn query_token_index(
        &self,
        index: &'static str,
        condition: &str,
        values: [(&str, String); 2],
    ) -> Result<Vec<PartnerSettings>, PortError> {
        let what = "DynamoDB Query (token index)";
        let mut found = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(format!("token_gsi_pk = :tp AND {condition}"))
                .expression_attribute_values(":tp", AttributeValue::S(TOKEN_GSI_PK_VALUE.into()))
                .set_exclusive_start_key(start.take());
            for (name, value) in &values {
                req = req.expression_attribute_values(*name, AttributeValue::S(value.clone()));
            }
            let out = req.send().await.map_err(|e| classify(what, e))?;
            for item in out.items.unwrap_or_default() {
                let partner = match item.get("pk") {
                    Some(AttributeValue::S(pk)) => pk.strip_prefix("PARTNER#").and_then(|id| PartnerId::parse(id).ok()),
                    _ => None,
                };
                let partner = partner
                    .ok_or(PortError::Internal { what, source: "an index item without a partner key".into() })?;
                found.push(PartnerSettings { partner, stored: decode(item)? });
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(found),
            }
        }
    }
}

impl TokenIndex for DynamoStore {
    async fn tokens_expiring(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<Vec<PartnerSettings>, PortError> {
        self.query_token_index(
            TOKEN_EXPIRY_INDEX,
            "token_expires_on BETWEEN :from AND :to",
            [(":from", from.to_string()), (":to", to.to_string())],
        )
        .await
    }

    async fn tokens_checked_before(&self, before: jiff::civil::Date) -> Result<Vec<PartnerSettings>, PortError> {
        // Dates sort as text; "0000-00-00" is before every real date.
        self.query_token_index(
            TOKEN_CHECK_INDEX,
            "token_checked_on BETWEEN :from AND :to",
            [(":from", "0000-00-00".to_owned()), (":to", before.yesterday().unwrap_or(before).to_string())],
        )
        .await
    }
}
