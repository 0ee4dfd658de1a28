//! The small traits the services need. Adapters implement them for AWS (and the chat port for
//! HipChat); the dev-only `test-support` crate implements them in memory for handler tests.
//!
//! Everything kept under a partner's key is one table, so one store implements the four
//! storage ports; [`Store`] names them together.

use std::future::Future;

pub mod chat;

use jiff::Timestamp;
use jiff::civil::Date;
use secrecy::SecretString;

use crate::domain::partner::PartnerId;
use crate::domain::settings::Settings;
use crate::domain::token::{TokenCheck, TokenMeta};

/// A boxed error from an adapter, kept as the `source` of a [`PortError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong behind a port.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// A conditional write lost: the stored state is not what the caller expected.
    #[error("condition failed: the stored state changed")]
    Conflict,
    /// The backing service could not be reached or timed out; a retry may succeed.
    #[error("{what} is unavailable")]
    Unavailable {
        what: &'static str,
        #[source]
        source: BoxError,
    },
    /// Anything else (misconfiguration, an unexpected answer, a bug).
    #[error("{what} failed")]
    Internal {
        what: &'static str,
        #[source]
        source: BoxError,
    },
}

/// The stored settings of one partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSettings {
    pub settings: Settings,
    pub version: u64,
    pub updated_at: Timestamp,
    pub token: Option<TokenMeta>,
}

/// What a settings write expects of the stored version (from `If-Match`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No `If-Match`: write whatever is stored.
    None,
    /// `If-Match: *`: the settings must exist.
    Exists,
    /// `If-Match: "3"` (or a list): the stored version must be one of these.
    Versions(Vec<u64>),
}

/// The partner's settings record, its token metadata and everything else kept under the
/// partner's key (room mappings, event and reminder records).
pub trait SettingsStore: Send + Sync {
    fn get(&self, partner: &PartnerId) -> impl Future<Output = Result<Option<StoredSettings>, PortError>> + Send;

    /// Replaces the settings document, bumping the version, conditionally on `precondition`.
    /// Keeps the token metadata. `Err(Conflict)` when the precondition does not hold.
    fn put(
        &self,
        partner: &PartnerId,
        settings: &Settings,
        precondition: &Precondition,
        now: Timestamp,
    ) -> impl Future<Output = Result<StoredSettings, PortError>> + Send;

    /// Stores token metadata and bumps the version (the GET representation changed);
    /// creates a minimal inactive record (version 1) when none exists.
    fn set_token(
        &self,
        partner: &PartnerId,
        token: &TokenMeta,
        now: Timestamp,
    ) -> impl Future<Output = Result<StoredSettings, PortError>> + Send;

    /// Records what a check against HipChat found (rejected, missing scopes, when) on the
    /// stored token, if it is still `checked` (a token replaced meanwhile is left alone).
    /// Does not bump the version: the settings document did not change, and an admin who
    /// checks the connection between reading and saving the settings must not get a 412.
    /// Returns whether it was recorded.
    fn record_token_check(
        &self,
        partner: &PartnerId,
        checked: &TokenMeta,
        check: &TokenCheck,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// Removes the token metadata and bumps the version (no-op when there is no token).
    fn clear_token(&self, partner: &PartnerId, now: Timestamp) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Removes every item of the partner: settings, room mappings, event and reminder records.
    /// Returns how many items were removed.
    fn delete_partner(&self, partner: &PartnerId) -> impl Future<Output = Result<usize, PortError>> + Send;
}

/// A partner's settings as a token index lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerSettings {
    pub partner: PartnerId,
    pub stored: StoredSettings,
}

/// The sparse indexes over stored tokens (only settings with a token are in them), so the
/// daily reminder reads the partners it has work for and never scans the table.
pub trait TokenIndex: Send + Sync {
    /// Partners whose token's `expires_on` is between `from` and `to` (inclusive).
    fn tokens_expiring(
        &self,
        from: Date,
        to: Date,
    ) -> impl Future<Output = Result<Vec<PartnerSettings>, PortError>> + Send;

    /// Partners whose token HipChat last checked (or that was stored) before `before`.
    fn tokens_checked_before(
        &self,
        before: Date,
    ) -> impl Future<Output = Result<Vec<PartnerSettings>, PortError>> + Send;
}

/// A portal user's personal room as the store maps it (`PARTNER#<id>` / `ROOM#<user id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomMapping {
    /// The user's room.
    Ready(MappedRoom),
    /// A request is creating the room; others wait until it is ready or the lease ends.
    Pending { claim_id: String, lease_until: Timestamp },
}

/// The HipChat room a user's chat requests go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedRoom {
    pub room_id: u64,
    pub room_name: String,
    /// The guest URL when the room was made, so that requests that waited for its creation
    /// answer without calling HipChat again.
    pub guest_url: Option<String>,
}

/// What a chat request reads in one round trip: the settings and the user's room mapping.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChatContext {
    pub settings: Option<StoredSettings>,
    pub room: Option<RoomMapping>,
}

/// The room mappings of portal users: at most one room per (partner, user), made safe under
/// concurrent requests by a claim with a lease (a conditional write).
pub trait RoomStore: Send + Sync {
    /// The partner's settings and the user's mapping, in one round trip.
    fn chat_context(
        &self,
        partner: &PartnerId,
        user_id: &str,
    ) -> impl Future<Output = Result<ChatContext, PortError>> + Send;

    /// The user's mapping alone (what a request waiting for another one's claim polls).
    fn room(
        &self,
        partner: &PartnerId,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<RoomMapping>, PortError>> + Send;

    /// Claims the user's mapping for creating a room, until `lease_until`. Succeeds (`true`)
    /// when there is no mapping, when a pending claim's lease ended before `now`, or when the
    /// mapping still points at `replacing` (a room found deleted in HipChat); `false` when
    /// another request holds or has finished it.
    fn claim_room(
        &self,
        partner: &PartnerId,
        user_id: &str,
        claim_id: &str,
        lease_until: Timestamp,
        replacing: Option<u64>,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// Stores the room under the claim; `false` when the claim was lost meanwhile (its lease
    /// ended and another request took over).
    fn store_room(
        &self,
        partner: &PartnerId,
        user_id: &str,
        claim_id: &str,
        room: &MappedRoom,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// Gives a claim up: removes the mapping if it is still this claim.
    fn release_room(
        &self,
        partner: &PartnerId,
        user_id: &str,
        claim_id: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// What is delivered at most once: an event (`PARTNER#<id>` / `EVENT#<event id>`), or a
/// token-expiry warning (`REMINDER#<expires_on>#<days>`; `days` 0 is the expiry alert).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKey<'a> {
    Event(&'a str),
    Reminder { expires_on: jiff::civil::Date, days: u32 },
}

impl DeliveryKey<'_> {
    /// The record's sort key.
    pub fn sort_key(&self) -> String {
        match self {
            DeliveryKey::Event(id) => format!("EVENT#{id}"),
            DeliveryKey::Reminder { expires_on, days } => format!("REMINDER#{expires_on}#{days}"),
        }
    }
}

/// What claiming a delivery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryClaim {
    /// This request holds the event until its lease ends: it sends it, then marks it delivered
    /// or releases it.
    Claimed,
    /// An earlier request delivered it.
    Delivered,
    /// Another request is delivering it, until `lease_until` at the latest.
    InFlight { lease_until: Timestamp },
}

/// The records that make deliveries idempotent (events, token-expiry warnings): a key is
/// delivered at most once while its record lives (it expires, through the table's TTL, at
/// `expires_at`).
pub trait DeliveryStore: Send + Sync {
    /// Claims the delivery with a conditional write. Succeeds when there is no
    /// record, when a pending claim's lease ended before `now`, or when the record is past its
    /// `expires_at` (TTL deletion lags); otherwise tells what the record says.
    fn claim_delivery(
        &self,
        partner: &PartnerId,
        key: &DeliveryKey<'_>,
        claim_id: &str,
        lease_until: Timestamp,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> impl Future<Output = Result<DeliveryClaim, PortError>> + Send;

    /// Marks the claimed delivery done; `false` when the claim was lost meanwhile.
    fn mark_delivered(
        &self,
        partner: &PartnerId,
        key: &DeliveryKey<'_>,
        claim_id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// Gives the claim up (removes the record if it is still this claim), so that a retry
    /// delivers the event.
    fn release_delivery(
        &self,
        partner: &PartnerId,
        key: &DeliveryKey<'_>,
        claim_id: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// The signatures of the signed requests already served, so that a request that changes
/// something is served once (docs/api.md "Replayed requests").
pub trait SignatureLedger: Send + Sync {
    /// Records the first use of the request signature `tag`, kept until `expires_at` (after the
    /// time its timestamp is accepted). `false` when it was recorded before (a replay): a record
    /// past its `expires_at` counts as gone, since TTL deletion lags.
    fn first_use(
        &self,
        tag: &[u8; 32],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
}

/// Everything kept in the table: settings with token metadata, the token indexes, room
/// mappings and delivery records under the partner's key, and the signature ledger (one
/// DynamoDB table in production).
pub trait Store: SettingsStore + TokenIndex + RoomStore + DeliveryStore + SignatureLedger {}

impl<T: SettingsStore + TokenIndex + RoomStore + DeliveryStore + SignatureLedger> Store for T {}

/// Where the partner's HipChat token lives (Secrets Manager in production).
pub trait TokenSecrets: Send + Sync {
    /// The name under which the partner's token is (or would be) stored.
    fn secret_name(&self, partner: &PartnerId) -> String;
    fn put(&self, partner: &PartnerId, token: &SecretString) -> impl Future<Output = Result<(), PortError>> + Send;
    fn get(&self, partner: &PartnerId) -> impl Future<Output = Result<Option<SecretString>, PortError>> + Send;
    /// Deletes the token for good (no recovery window, so a new one can be stored at once).
    /// Succeeds when there is none.
    fn delete(&self, partner: &PartnerId) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// The request-signing keys (any of them is accepted).
pub trait SigningKeySource: Send + Sync {
    fn load(&self) -> impl Future<Output = Result<Vec<SecretString>, PortError>> + Send;
}

/// The current time. Tests set it.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}
