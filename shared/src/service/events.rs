//! Event notifications (`POST /events`): a portal event becomes one message in the partner's
//! notification room, if the partner's settings want it.
//!
//! **Filtering** (answered `skipped`, without a HipChat call or a write): no settings, the
//! integration off, the event's switch off, a login/logout by a partner or admin when only
//! customers are wanted, and comment/issue/approval events by anyone but a customer (the
//! guide: these notify about customer users).
//!
//! **Exactly one message per event id.** Before sending, the request *claims* the event with
//! a conditional write of `EVENT#<id>` (a lease of [`LEASE`], kept for [`DEDUPE_WINDOW`] by the
//! table's TTL). A delivered event is answered `duplicate`; one another request is delivering
//! is waited for (at most [`WAIT_MAX`], then 503 with `Retry-After` until its lease ends). A
//! failed send releases the claim, so dynaBOARD's retry (after the 503's `Retry-After`) is
//! delivered; a request that dies holding the claim blocks the event for the lease only. The
//! one case that can post twice is a send HipChat accepted whose answer was lost (a timeout):
//! the event is released and the retry posts it again; at-least-once is the safer side.

use std::time::Duration;

use jiff::SignedDuration;
use serde::Serialize;

use crate::app::{Deps, Wiring};
use crate::domain::event::{Event, EventType, SkipReason, skip_reason, style};
use crate::domain::messages;
use crate::domain::partner::PartnerId;
use crate::error::AppError;
use crate::ports::chat::{ChatError, ChatService, MessageFormat, Notification, RoomRef};
use crate::ports::{Clock, DeliveryClaim, DeliveryKey, DeliveryStore, SettingsStore};
use crate::service::access::TokenRead;
use crate::service::lease::{Claim, Lease, Step};

/// How long a claim on an event holds: longer than a send can take (6 s per HipChat call,
/// one short 429 wait).
pub const LEASE: SignedDuration = SignedDuration::from_secs(20);
/// How long an event's record is kept: repeats within this window are recognised.
pub const DEDUPE_WINDOW: SignedDuration = SignedDuration::from_hours(7 * 24);
/// How long a request waits for a concurrent one delivering the same event.
pub const WAIT_MAX: Duration = Duration::from_secs(10);

const EVENT_LEASE: Lease = Lease {
    duration: LEASE,
    wait_max: WAIT_MAX,
    busy_detail: "Another request is delivering this event; please retry shortly.",
};

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Posted into the notification room by this request.
    Sent,
    /// Not wanted by the partner's settings (see `reason`).
    Skipped,
    /// Delivered before (or by a concurrent request): not posted again.
    Duplicate,
}

/// The answer to `POST /events` (always 202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventAnswer {
    pub status: EventStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<SkipReason>,
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The notification room the message went to (when `sent`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room_id: Option<u64>,
}

/// `POST /events`: skips what the settings do not want; else posts the event's message into
/// the notification room once (see the module documentation).
pub async fn notify_event<W: Wiring>(
    deps: &Deps<W>,
    partner: &PartnerId,
    event: &Event,
) -> Result<EventAnswer, AppError> {
    let answer =
        |status, reason, room_id| EventAnswer { status, reason, event_id: event.id.clone(), kind: event.kind, room_id };
    let stored = deps.store.get(partner).await?;
    if let Some(reason) = skip_reason(stored.as_ref().map(|s| &s.settings), event) {
        return Ok(answer(EventStatus::Skipped, Some(reason), None));
    }
    let Some(stored) = stored else { return Err(AppError::internal("settings vanished after the filter")) };
    let settings = &stored.settings;
    let url = settings.hipchat_url.as_deref().unwrap_or_default();
    let room_id = settings.notification_room_id.ok_or(AppError::NotificationRoomMissing)?;
    let meta = stored.token.as_ref().ok_or(AppError::TokenMissing)?;
    if meta.rejected {
        return Err(AppError::TokenRejected);
    }
    let access = deps.chat_access(partner, url, meta, TokenRead::Cached).await?;

    let key = DeliveryKey::Event(&event.id);
    let mut attempts = EVENT_LEASE.attempts(&deps.clock);
    let claim = loop {
        let (now, lease_until) = (attempts.now, attempts.lease_until);
        let found = deps
            .store
            .claim_delivery(partner, &key, attempts.claim_id(), lease_until, now + DEDUPE_WINDOW, now)
            .await?;
        let step = match found {
            DeliveryClaim::Claimed => Step::Claimed,
            DeliveryClaim::Delivered => Step::Done(()),
            DeliveryClaim::InFlight { lease_until } => Step::Held { lease_until },
        };
        if let Some(end) = attempts.next(step).await {
            break end;
        }
    };
    let claim_id = match claim {
        Claim::Ours(id) => id,
        Claim::Done(()) => return Ok(answer(EventStatus::Duplicate, None, None)),
        Claim::Held { lease_until, now } => return Err(EVENT_LEASE.busy(lease_until, now)),
    };

    let prefix = settings.room_name_prefix.clone().unwrap_or_else(|| messages::room_prefix(settings.language));
    let (color, notify) = style(event.kind);
    let notification = Notification {
        message: messages::event_html(settings.language, &prefix, event),
        message_format: MessageFormat::Html,
        color,
        notify,
        from: None,
    };
    match deps.chat.send_notification(&access, RoomRef::Id(room_id), &notification).await {
        Ok(()) => {
            match deps.store.mark_delivered(partner, &key, &claim_id, deps.clock.now()).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(event_id = %event.id, "the event's claim ended before it was marked delivered")
                }
                // Sent but not recorded: a repeat after the lease would post it again.
                Err(e) => {
                    tracing::error!(event_id = %event.id, error = %crate::error::chain(&e), "could not mark the event delivered")
                }
            }
            Ok(answer(EventStatus::Sent, None, Some(room_id)))
        }
        Err(e) => {
            if let Err(re) = deps.store.release_delivery(partner, &key, &claim_id).await {
                tracing::warn!(event_id = %event.id, error = %crate::error::chain(&re), "could not release the event claim; it ends with its lease");
            }
            tracing::warn!(event_id = %event.id, notification_room_id = room_id, error = %e, "could not post the event");
            Err(match e {
                ChatError::RoomNotFound => AppError::NotificationRoomGone(room_id),
                e => deps.chat_failure(partner, meta, e, url).await,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_answer_is_the_documented_json() {
        let a = EventAnswer {
            status: EventStatus::Skipped,
            reason: Some(SkipReason::ActorNotNotified),
            event_id: "e1".into(),
            kind: EventType::IssueApproved,
            room_id: None,
        };
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            json!({"status": "skipped", "reason": "actor_not_notified", "event_id": "e1", "type": "issue.approved"})
        );
    }
}
