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

use crate::app::{Deps, Wiring};
use crate::domain::chat::{self, Hidden, button};
use crate::domain::messages;
use crate::domain::partner::PartnerId;
use crate::domain::service_hours;
use crate::domain::settings::{ButtonPosition, Settings};
use crate::domain::token::TokenMeta;
use crate::domain::user::PortalUser;
use crate::domain::validation::Warning;
use crate::error::AppError;
use crate::ports::chat::{
    ChatAccess, ChatError, ChatService, Color, MessageFormat, NewRoom, Notification, Privacy, Room, RoomRef, RoomUpdate,
};
use crate::ports::{Clock, MappedRoom, RoomMapping, RoomStore, SettingsStore, StoredSettings};
use crate::service::access::TokenRead;
use crate::service::lease::{Claim, Lease, Step};

/// How long a claim on a user's mapping holds: longer than creating a room can take with the
/// HipChat client's timeouts (6 s per call, a create and a read, one short 429 wait).
pub const LEASE: SignedDuration = SignedDuration::from_secs(20);
/// How long a request waits for a concurrent one to finish the user's room before it answers
/// 503 with `Retry-After` (below the function's timeout).
pub const WAIT_MAX: Duration = Duration::from_secs(12);
/// Room names tried for one user: `<name>`, `<name> (2)`, … `<name> (10)`.
pub const MAX_NAME_ATTEMPTS: u32 = 10;

const ROOM_LEASE: Lease = Lease {
    duration: LEASE,
    wait_max: WAIT_MAX,
    busy_detail: "Another request is still setting up this user's room; please retry shortly.",
};

/// The button's state for what the store holds (see [`button`]).
fn shown(stored: Option<&StoredSettings>) -> Result<(&Settings, &str, &TokenMeta), Hidden> {
    button(stored.map(|s| &s.settings), stored.and_then(|s| s.token.as_ref()))
}

/// The problem a click on a hidden button gets.
fn hidden_problem(hidden: Hidden) -> AppError {
    match hidden {
        Hidden::NotConfigured => {
            AppError::ChatDisabled("The HipChat integration is not set up for this partner.".into())
        }
        Hidden::Inactive => AppError::ChatDisabled("The HipChat integration is switched off.".into()),
        Hidden::ButtonOff => AppError::ChatDisabled("The chat button is switched off in the settings.".into()),
        Hidden::TokenMissing => AppError::TokenMissing,
        Hidden::TokenRejected => AppError::TokenRejected,
    }
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

/// Availability from the stored settings at `at`, computed on every call (changes apply at once).
pub async fn availability<W: Wiring>(
    deps: &Deps<W>,
    partner: &PartnerId,
    at: Timestamp,
) -> Result<AvailabilityView, AppError> {
    let stored = deps.store.get(partner).await?;
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
    match shown(stored.as_ref()) {
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
pub async fn request_chat<W: Wiring>(
    deps: &Deps<W>,
    partner: &PartnerId,
    user: &PortalUser,
) -> Result<ChatAnswer, AppError> {
    let now = deps.clock.now();
    let ctx = deps.store.chat_context(partner, &user.id).await?;
    let (settings, url, meta) = shown(ctx.settings.as_ref()).map_err(hidden_problem)?;
    let hours = service_hours::availability(&settings.chat.service_hours, now);
    if !hours.available {
        return Err(AppError::ChatClosed { next_open_at: hours.next_change_at });
    }
    let flow = RoomFlow {
        deps,
        partner,
        user,
        access: deps.chat_access(partner, url, meta, TokenRead::Cached).await?,
        prefix: settings.room_name_prefix.clone().unwrap_or_else(|| messages::room_prefix(settings.language)),
    };
    let resolved = match flow.resolve(ctx.room).await {
        Ok(r) => r,
        Err(FlowError::Chat(e)) => return Err(deps.chat_failure(partner, meta, e, url).await),
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
    Chat(ChatError),
    App(AppError),
}

impl From<ChatError> for FlowError {
    fn from(e: ChatError) -> Self {
        FlowError::Chat(e)
    }
}

impl From<crate::ports::PortError> for FlowError {
    fn from(e: crate::ports::PortError) -> Self {
        FlowError::App(e.into())
    }
}

struct RoomFlow<'a, W: Wiring> {
    deps: &'a Deps<W>,
    partner: &'a PartnerId,
    user: &'a PortalUser,
    access: ChatAccess,
    prefix: String,
}

impl<W: Wiring> RoomFlow<'_, W> {
    /// Reuses, waits for or creates the user's room (see the module documentation).
    async fn resolve(&self, mapping: Option<RoomMapping>) -> Result<Resolved, FlowError> {
        let store = &self.deps.store;
        let mut attempts = ROOM_LEASE.attempts(&self.deps.clock);
        // The mapping read with the settings; after that, each attempt reads it again.
        let mut known = Some(mapping);
        let mut waited = false;
        let claim = loop {
            let (now, lease_until) = (attempts.now, attempts.lease_until);
            let mapping = match known.take() {
                Some(m) => m,
                None => {
                    waited = true;
                    store.room(self.partner, &self.user.id).await?
                }
            };
            let mut replacing = None;
            let step = match mapping {
                Some(RoomMapping::Ready(m)) => {
                    // Made by the request we waited for: answer with its result.
                    if waited && let Some(guest_url) = m.guest_url {
                        let (id, name) = (m.room_id, m.room_name);
                        Some(Step::Done(Resolved { id, name, guest_url, created: false, coalesced: true }))
                    } else {
                        match self.reuse(m.room_id).await? {
                            Some(r) => Some(Step::Done(r)),
                            None => {
                                replacing = Some(m.room_id);
                                None
                            }
                        }
                    }
                }
                Some(RoomMapping::Pending { lease_until, .. }) if lease_until >= now => {
                    Some(Step::Held { lease_until })
                }
                Some(RoomMapping::Pending { .. }) | None => None,
            };
            let step = match step {
                Some(step) => step,
                None => {
                    let (partner, user, claim_id) = (self.partner, &self.user.id, attempts.claim_id());
                    if store.claim_room(partner, user, claim_id, lease_until, replacing, now).await? {
                        Step::Claimed
                    } else {
                        // Another request claimed or finished the mapping meanwhile: read it and go on.
                        Step::Lost
                    }
                }
            };
            if let Some(end) = attempts.next(step).await {
                break end;
            }
        };
        match claim {
            Claim::Ours(claim_id) => self.create(&claim_id).await,
            Claim::Done(r) => Ok(r),
            Claim::Held { lease_until, now } => Err(FlowError::App(ROOM_LEASE.busy(lease_until, now))),
        }
    }

    /// The mapped room, if it still exists, with guest access on.
    async fn reuse(&self, room_id: u64) -> Result<Option<Resolved>, FlowError> {
        let hipchat = &self.deps.chat;
        match hipchat.get_room(&self.access, RoomRef::Id(room_id)).await {
            Ok(room) => Ok(Some(self.ready(room, false).await?)),
            Err(ChatError::RoomNotFound) => {
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
                let stored = self.deps.store.store_room(self.partner, &self.user.id, claim_id, &mapped).await?;
                if !stored {
                    tracing::warn!(room_id = r.id, "the room claim's lease ended before the room was stored");
                }
            }
            Err(_) => {
                if let Err(e) = self.deps.store.release_room(self.partner, &self.user.id, claim_id).await {
                    tracing::warn!(error = %crate::error::chain(&e), "could not release the room claim; it ends with its lease");
                }
            }
        }
        result
    }

    async fn create_room(&self) -> Result<Resolved, FlowError> {
        let hipchat = &self.deps.chat;
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
                Err(ChatError::NameTaken) => match hipchat.get_room(&self.access, RoomRef::Name(&name)).await {
                    Ok(room) if chat::topic_belongs_to(&room.topic, self.user) => {
                        tracing::info!(room_id = room.id, "adopted the user's room found by its name and topic");
                        return self.ready(room, false).await;
                    }
                    // Another user's room (or one whose name differs only in case): next name.
                    Ok(_) | Err(ChatError::RoomNotFound) => continue,
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
        let hipchat = &self.deps.chat;
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
        let room_url = self.deps.chat.room_web_url(&self.access, room.id);
        let notification = Notification {
            message: messages::chat_request_html(settings.language, &self.prefix, self.user, &room.name, &room_url),
            message_format: MessageFormat::Html,
            color: Color::Green,
            notify: true,
            from: None,
        };
        match self.deps.chat.send_notification(&self.access, RoomRef::Id(target), &notification).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(notification_room_id = target, error = %e, "could not post the chat request notification");
                let why = match &e {
                    ChatError::RoomNotFound => format!(
                        "The notification room ({target}) no longer exists in HipChat; pick another one in Settings → HipChat."
                    ),
                    ChatError::RateLimited { .. } => {
                        "HipChat's rate limit or flood control held the notification back.".to_owned()
                    }
                    ChatError::TokenRejected => {
                        self.deps.token_rejected(self.partner, meta).await;
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
}

/// 502: HipChat's answer does not let us go on.
fn bad_answer(detail: impl Into<String>) -> FlowError {
    FlowError::App(AppError::HipchatUnavailable { status: 502, retry_after: None, detail: detail.into() })
}
