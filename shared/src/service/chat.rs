//! The chat button: availability (`GET /chat/availability`) and the chat request
//! (`POST /chat/requests`): find or create the user's personal room, make sure guests can
//! join it, and tell the staff in the notification room.
//!
//! **One room per (partner, user).** The user's mapping is read with the settings in one
//! round trip. A live mapping is reused (after a `GET` of the room in HipChat; a room deleted
//! in HipChat is created anew). Without one, the request *claims* the mapping with a
//! conditional write and a lease of [`LEASE`], creates the room, and stores it under its
//! claim. Concurrent requests for the same user lose the claim, wait for the mapping to
//! become ready, and answer with the same room without calling HipChat or notifying the
//! staff again (a double click posts one notification). A request that dies while holding
//! the claim blocks the user for at most the lease: then the next request takes over, and if
//! the room had already been made, HipChat answers "name taken" and the room is recognised as
//! this user's by its topic (which carries the user's email) and adopted.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde_json::Value;

use crate::domain::chat;
use crate::domain::messages;
use crate::domain::partner::PartnerId;
use crate::domain::service_hours;
use crate::domain::settings::{ButtonPosition, Settings};
use crate::domain::token::TokenMeta;
use crate::domain::user::{PortalUser, parse_user};
use crate::domain::validation::{FieldError, ObjectReader, Warning};
use crate::error::AppError;
use crate::ports::hipchat::{
    Color, Hipchat, HipchatAccess, HipchatError, MessageFormat, NewRoom, Notification, Privacy, Room, RoomRef,
    RoomUpdate,
};
use crate::ports::{Clock, MappedRoom, RoomMapping, RoomStore, SettingsStore, StoredSettings, TokenSecrets};
use crate::service::hipchat::{Ports, access, failure};
use crate::service::wait::{self, Poll};

/// How long a claim on a user's mapping holds: longer than creating a room can take with the
/// HipChat client's timeouts (6 s per call, a create and a read, one short 429 wait).
pub const LEASE: SignedDuration = SignedDuration::from_secs(20);
/// How long a request waits for a concurrent one to finish the user's room before it answers
/// 503 with `Retry-After` (below the function's timeout).
pub const WAIT_MAX: Duration = Duration::from_secs(12);
/// Room names tried for one user: `<name>`, `<name> (2)`, … `<name> (10)`.
pub const MAX_NAME_ATTEMPTS: u32 = 10;

/// Why the chat button is hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hidden {
    /// No settings are stored for the partner.
    NotConfigured,
    Inactive,
    ButtonOff,
    TokenMissing,
    /// HipChat answered 401 for the stored token: a click could not work.
    TokenRejected,
}

impl Hidden {
    fn into_error(self) -> AppError {
        match self {
            Hidden::NotConfigured => {
                AppError::ChatDisabled("The HipChat integration is not set up for this partner.".into())
            }
            Hidden::Inactive => AppError::ChatDisabled("The HipChat integration is switched off.".into()),
            Hidden::ButtonOff => AppError::ChatDisabled("The chat button is switched off in the settings.".into()),
            Hidden::TokenMissing => AppError::TokenMissing,
            Hidden::TokenRejected => AppError::TokenRejected,
        }
    }
}

/// What the button needs: active settings with the button on, a URL and a token HipChat has
/// not rejected. (A token past its estimated `expires_on` is still tried: HipChat's answer is
/// the truth, and a 401 marks it rejected.)
fn button(stored: Option<&StoredSettings>) -> Result<(&Settings, &str, &TokenMeta), Hidden> {
    let stored = stored.ok_or(Hidden::NotConfigured)?;
    let s = &stored.settings;
    let url = s.hipchat_url.as_deref().filter(|_| s.active).ok_or(Hidden::Inactive)?;
    if !s.chat.show_button {
        return Err(Hidden::ButtonOff);
    }
    let token = stored.token.as_ref().ok_or(Hidden::TokenMissing)?;
    if token.rejected {
        return Err(Hidden::TokenRejected);
    }
    Ok((s, url, token))
}

/// `GET /chat/availability`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AvailabilityView {
    pub show_button: bool,
    pub button_position: ButtonPosition,
    /// The button is shown and the time is inside the service hours: a click opens a chat.
    pub available: bool,
    /// The instant evaluated (now, or `?at=`).
    pub now: Timestamp,
    pub timezone: String,
    /// When `available` flips next; `null` when it never does (or the button is hidden).
    pub next_change_at: Option<Timestamp>,
    /// Why the button is hidden (only when `show_button` is false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Hidden>,
}

/// `?at=<RFC 3339 instant>`; a `+` in the offset that arrived as a space (form encoding) is
/// accepted. Any other parameter is refused.
pub fn parse_availability_query(query: Option<&str>) -> Result<Option<Timestamp>, AppError> {
    let mut errors = Vec::new();
    let mut at = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "at" => match value.parse::<Timestamp>().or_else(|e| value.replace(' ', "+").parse().map_err(|_| e)) {
                Ok(t) => at = Some(t),
                Err(_) => errors.push(FieldError::new(
                    "at",
                    "must be an RFC 3339 instant with an offset, e.g. 2026-12-01T09:30:00+01:00 or 2026-12-01T08:30:00Z",
                )),
            },
            other => errors.push(FieldError::new(other.to_owned(), "is not a known parameter (at)")),
        }
    }
    if errors.is_empty() { Ok(at) } else { Err(AppError::Validation(errors)) }
}

/// Availability from the stored settings at `at`, computed on every call (changes apply at once).
pub async fn availability(
    store: &impl SettingsStore,
    partner: &PartnerId,
    at: Timestamp,
) -> Result<AvailabilityView, AppError> {
    let stored = store.get(partner).await?;
    let chat = stored.as_ref().map(|s| s.settings.chat.clone()).unwrap_or_else(|| Settings::inactive().chat);
    let mut view = AvailabilityView {
        show_button: false,
        button_position: chat.button_position,
        available: false,
        now: at,
        timezone: chat.service_hours.timezone.clone(),
        next_change_at: None,
        reason: None,
    };
    match button(stored.as_ref()) {
        Ok(_) => {
            let a = service_hours::availability(&chat.service_hours, at);
            view.show_button = true;
            view.available = a.available;
            view.next_change_at = a.next_change_at;
        }
        Err(hidden) => view.reason = Some(hidden),
    }
    Ok(view)
}

/// `{"user": {...}}`.
pub fn parse_chat_request(body: &Value) -> Result<PortalUser, AppError> {
    let mut errors = Vec::new();
    let user = ObjectReader::new(body, "", &mut errors).and_then(|mut r| {
        let user = match r.get("user") {
            Some(v) => parse_user(v, "user", &mut errors),
            None => {
                errors.push(FieldError::new("user", "is required"));
                None
            }
        };
        r.finish(&mut errors);
        user
    });
    match user {
        Some(u) if errors.is_empty() => Ok(u),
        _ => Err(AppError::Validation(errors)),
    }
}

/// The answer to a chat request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatAnswer {
    pub room: RoomView,
    /// Where the user's browser goes: HipChat asks the guest for a name there.
    pub guest_url: String,
    /// The name to prefill on the guest page.
    pub guest_name: String,
    pub notification_sent: bool,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomView {
    pub id: u64,
    pub name: String,
    /// Whether this request created the room (the answer is then 201).
    pub created: bool,
}

/// `POST /chat/requests`: refuses without a HipChat call when the chat is disabled, has no
/// token or is closed; else finds or creates the user's room and notifies the staff.
pub async fn request_chat<R, T, H, C>(
    ports: &Ports<'_, R, T, H, C>,
    partner: &PartnerId,
    user: &PortalUser,
) -> Result<ChatAnswer, AppError>
where
    R: RoomStore + SettingsStore,
    T: TokenSecrets,
    H: Hipchat,
    C: Clock,
{
    let now = ports.clock.now();
    let ctx = ports.store.chat_context(partner, &user.id).await?;
    let (settings, url, meta) = button(ctx.settings.as_ref()).map_err(Hidden::into_error)?;
    let hours = service_hours::availability(&settings.chat.service_hours, now);
    if !hours.available {
        return Err(AppError::ChatClosed { next_open_at: hours.next_change_at });
    }
    let token = ports.tokens.get(partner, meta, now).await?.ok_or(AppError::TokenMissing)?;
    let flow = RoomFlow {
        ports,
        partner,
        user,
        access: access(url, token)?,
        prefix: settings.room_name_prefix.clone().unwrap_or_else(|| messages::room_prefix(settings.language)),
    };
    let fail = |e: HipchatError| flow.fail(e, meta, url);
    let resolved = match flow.resolve(ctx.room).await {
        Ok(r) => r,
        Err(FlowError::Hipchat(e)) => return Err(fail(e).await),
        Err(FlowError::App(e)) => return Err(e),
    };
    let mut warnings = Vec::new();
    let notification_sent = if resolved.coalesced {
        warnings.push(Warning::new(
            "notification",
            "A concurrent request for this user created the room and notified the staff; this request was answered \
             with the same room.",
        ));
        false
    } else {
        flow.notify(settings, &resolved, meta, &mut warnings).await
    };
    Ok(ChatAnswer {
        room: RoomView { id: resolved.id, name: resolved.name, created: resolved.created },
        guest_url: resolved.guest_url,
        guest_name: chat::guest_name(user),
        notification_sent,
        warnings,
    })
}

/// The user's room, ready for guests.
struct Resolved {
    id: u64,
    name: String,
    guest_url: String,
    created: bool,
    /// Answered from a concurrent request's result, without calling HipChat.
    coalesced: bool,
}

enum FlowError {
    Hipchat(HipchatError),
    App(AppError),
}

impl From<HipchatError> for FlowError {
    fn from(e: HipchatError) -> Self {
        FlowError::Hipchat(e)
    }
}

impl From<crate::ports::PortError> for FlowError {
    fn from(e: crate::ports::PortError) -> Self {
        FlowError::App(e.into())
    }
}

struct RoomFlow<'a, R, T, H, C> {
    ports: &'a Ports<'a, R, T, H, C>,
    partner: &'a PartnerId,
    user: &'a PortalUser,
    access: HipchatAccess,
    prefix: String,
}

impl<R, T, H, C> RoomFlow<'_, R, T, H, C>
where
    R: RoomStore + SettingsStore,
    T: TokenSecrets,
    H: Hipchat,
    C: Clock,
{
    /// Reuses, waits for or creates the user's room (see the module documentation).
    async fn resolve(&self, mut mapping: Option<RoomMapping>) -> Result<Resolved, FlowError> {
        let mut poll = Poll::new(WAIT_MAX);
        let mut waited = false;
        loop {
            let now = self.ports.clock.now();
            let mut replacing = None;
            match mapping {
                Some(RoomMapping::Ready(m)) => {
                    // Made by the request we waited for: answer with its result.
                    if waited && let Some(guest_url) = m.guest_url {
                        let (id, name) = (m.room_id, m.room_name);
                        return Ok(Resolved { id, name, guest_url, created: false, coalesced: true });
                    }
                    match self.reuse(m.room_id).await? {
                        Some(r) => return Ok(r),
                        None => replacing = Some(m.room_id),
                    }
                }
                Some(RoomMapping::Pending { lease_until, .. }) if lease_until >= now => {
                    if !poll.wait().await {
                        return Err(FlowError::App(busy(lease_until, now)));
                    }
                    waited = true;
                    mapping = self.ports.store.room(self.partner, &self.user.id).await?;
                    continue;
                }
                Some(RoomMapping::Pending { .. }) | None => {}
            }
            let claim_id = format!("{:016x}", fastrand::u64(..));
            let lease_until = now + LEASE;
            if self.ports.store.claim_room(self.partner, &self.user.id, &claim_id, lease_until, replacing, now).await? {
                return self.create(&claim_id).await;
            }
            // Another request claimed or finished the mapping meanwhile: read it and go on.
            if poll.expired() {
                return Err(FlowError::App(busy(lease_until, now)));
            }
            waited = true;
            mapping = self.ports.store.room(self.partner, &self.user.id).await?;
        }
    }

    /// The mapped room, if it still exists, with guest access on.
    async fn reuse(&self, room_id: u64) -> Result<Option<Resolved>, FlowError> {
        let hipchat = self.ports.hipchat;
        match hipchat.get_room(&self.access, RoomRef::Id(room_id)).await {
            Ok(room) => Ok(Some(self.ready(room, false).await?)),
            Err(HipchatError::RoomNotFound) => {
                tracing::info!(room_id, "the user's room was deleted in HipChat; creating it anew");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Creates the room under the claim `claim_id`, trying `… (2)`, `… (3)`, … while the name
    /// is taken by another user's room, and adopting a room with this name that is this user's.
    /// On failure the claim is released so that the next request can try again at once.
    async fn create(&self, claim_id: &str) -> Result<Resolved, FlowError> {
        let result = self.create_room().await;
        match &result {
            Ok(r) => {
                let mapped =
                    MappedRoom { room_id: r.id, room_name: r.name.clone(), guest_url: Some(r.guest_url.clone()) };
                let stored = self.ports.store.store_room(self.partner, &self.user.id, claim_id, &mapped).await?;
                if !stored {
                    tracing::warn!(room_id = r.id, "the room claim's lease ended before the room was stored");
                }
            }
            Err(_) => {
                if let Err(e) = self.ports.store.release_room(self.partner, &self.user.id, claim_id).await {
                    tracing::warn!(error = %crate::error::chain(&e), "could not release the room claim; it ends with its lease");
                }
            }
        }
        result
    }

    async fn create_room(&self) -> Result<Resolved, FlowError> {
        let hipchat = self.ports.hipchat;
        let topic = chat::room_topic(self.user);
        for attempt in 1..=MAX_NAME_ATTEMPTS {
            let name = chat::room_name(&self.prefix, self.user, attempt);
            let new = NewRoom {
                name: name.clone(),
                topic: Some(topic.clone()),
                privacy: Privacy::Public,
                guest_access: true,
            };
            match hipchat.create_room(&self.access, &new).await {
                Ok(id) => {
                    let room = hipchat.get_room(&self.access, RoomRef::Id(id)).await?;
                    tracing::info!(room_id = id, attempt, "created the user's room");
                    return self.ready(room, true).await;
                }
                Err(HipchatError::NameTaken) => match hipchat.get_room(&self.access, RoomRef::Name(&name)).await {
                    Ok(room) if chat::topic_belongs_to(&room.topic, self.user) => {
                        tracing::info!(room_id = room.id, "adopted the user's room found by its name and topic");
                        return self.ready(room, false).await;
                    }
                    // Another user's room (or one whose name differs only in case): next name.
                    Ok(_) | Err(HipchatError::RoomNotFound) => continue,
                    Err(e) => return Err(e.into()),
                },
                Err(e) => return Err(e.into()),
            }
        }
        Err(bad_answer(format!(
            "HipChat has rooms named like this user's room up to '({MAX_NAME_ATTEMPTS})'; rename or delete some of them."
        )))
    }

    /// The room ready for the user: its guest URL, after turning guest access on (and
    /// unarchiving) when it is not.
    async fn ready(&self, mut room: Room, created: bool) -> Result<Resolved, FlowError> {
        let resolved =
            |room: Room, guest_url| Resolved { id: room.id, name: room.name, guest_url, created, coalesced: false };
        if room.is_guest_accessible
            && !room.is_archived
            && let Some(url) = room.guest_access_url.take()
        {
            return Ok(resolved(room, url));
        }
        let hipchat = self.ports.hipchat;
        let owner_id = room
            .owner_id
            .ok_or_else(|| bad_answer("HipChat did not name the room's owner, so guest access cannot be turned on."))?;
        let update = RoomUpdate {
            name: room.name,
            privacy: room.privacy,
            is_archived: false,
            is_guest_accessible: true,
            topic: room.topic,
            owner_id,
        };
        hipchat.update_room(&self.access, room.id, &update).await?;
        tracing::info!(room_id = room.id, "turned guest access on for the user's room");
        let mut room = hipchat.get_room(&self.access, RoomRef::Id(room.id)).await?;
        let url = room
            .guest_access_url
            .take()
            .ok_or_else(|| bad_answer("HipChat gave no guest URL for the room after turning guest access on."))?;
        Ok(resolved(room, url))
    }

    /// Posts the chat request into the notification room. A failure does not fail the request
    /// (the user has a room); it is logged and answered as a warning.
    async fn notify(
        &self,
        settings: &Settings,
        room: &Resolved,
        meta: &TokenMeta,
        warnings: &mut Vec<Warning>,
    ) -> bool {
        let Some(target) = settings.notification_room_id else {
            warnings.push(Warning::new(
                "notification_room_id",
                "No notification room is set, so the staff were not told about this chat request; pick one in \
                 Settings → HipChat.",
            ));
            return false;
        };
        let room_url = format!("{}/chat/room/{}", self.access.base_url().trim_end_matches('/'), room.id);
        let notification = Notification {
            message: messages::chat_request_html(settings.language, &self.prefix, self.user, &room.name, &room_url),
            message_format: MessageFormat::Html,
            color: Color::Green,
            notify: true,
            from: None,
        };
        match self.ports.hipchat.send_notification(&self.access, RoomRef::Id(target), &notification).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(notification_room_id = target, error = %e, "could not post the chat request notification");
                let why = match &e {
                    HipchatError::RoomNotFound => format!(
                        "The notification room ({target}) no longer exists in HipChat; pick another one in Settings → HipChat."
                    ),
                    HipchatError::RateLimited { .. } => {
                        "HipChat's rate limit or flood control held the notification back.".to_owned()
                    }
                    HipchatError::TokenRejected => {
                        self.token_rejected(meta).await;
                        "HipChat rejected the token.".to_owned()
                    }
                    _ => "HipChat did not accept the notification.".to_owned(),
                };
                warnings.push(Warning::new(
                    "notification",
                    format!("The staff were not notified about this chat request: {why}"),
                ));
                false
            }
        }
    }

    /// The problem for a HipChat failure; a rejected token is dropped from the cache and
    /// recorded as rejected.
    async fn fail(&self, e: HipchatError, meta: &TokenMeta, url: &str) -> AppError {
        if matches!(e, HipchatError::TokenRejected) {
            self.token_rejected(meta).await;
        }
        failure(e, url)
    }

    async fn token_rejected(&self, meta: &TokenMeta) {
        self.ports.token_rejected(self.partner, meta).await;
    }
}

/// 502: HipChat's answer does not let us go on.
fn bad_answer(detail: impl Into<String>) -> FlowError {
    FlowError::App(AppError::HipchatUnavailable { status: 502, retry_after: None, detail: detail.into() })
}

/// 503 while another request holds the user's claim.
fn busy(lease_until: Timestamp, now: Timestamp) -> AppError {
    wait::busy(lease_until, now, LEASE, "Another request is still setting up this user's room; please retry shortly.")
}
