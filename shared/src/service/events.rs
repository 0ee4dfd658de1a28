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

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde_json::Value;

use crate::domain::event::{Event, EventType, parse_event};
use crate::domain::messages;
use crate::domain::partner::PartnerId;
use crate::domain::settings::LoginLogout;
use crate::domain::user::Role;
use crate::error::AppError;
use crate::ports::hipchat::{Color, Hipchat, HipchatError, MessageFormat, Notification, RoomRef};
use crate::ports::{Clock, DeliveryClaim, DeliveryKey, DeliveryStore, SettingsStore, StoredSettings, TokenSecrets};
use crate::service::hipchat::{Ports, access, failure};
use crate::service::wait::{self, Poll};

/// How long a claim on an event holds: longer than a send can take (6 s per HipChat call,
/// one short 429 wait).
pub const LEASE: SignedDuration = SignedDuration::from_secs(20);
/// How long an event's record is kept: repeats within this window are recognised.
pub const DEDUPE_WINDOW: SignedDuration = SignedDuration::from_hours(7 * 24);
/// How long a request waits for a concurrent one delivering the same event.
pub const WAIT_MAX: Duration = Duration::from_secs(10);

/// The body of `POST /events`.
pub fn parse_event_request(body: &Value) -> Result<Event, AppError> {
    parse_event(body).map_err(AppError::Validation)
}

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

/// Why an event was not posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// No settings are stored for the partner.
    NotConfigured,
    /// The integration is switched off.
    Inactive,
    /// The notification for this event type is switched off.
    NotificationOff,
    /// The actor is not a user the setting notifies about (only customers, or customers and
    /// partners for login/logout).
    ActorNotNotified,
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

/// Whether the settings want this event posted.
pub fn skip_reason(stored: Option<&StoredSettings>, event: &Event) -> Option<SkipReason> {
    let Some(stored) = stored else { return Some(SkipReason::NotConfigured) };
    let s = &stored.settings;
    if !s.active || s.hipchat_url.is_none() {
        return Some(SkipReason::Inactive);
    }
    let n = &s.notifications;
    let customer = event.actor.role == Role::Customer;
    let (on, actor_wanted) = match event.kind {
        EventType::UserLogin | EventType::UserLogout => match n.login_logout {
            LoginLogout::Off => (false, false),
            LoginLogout::Customers => (true, customer),
            LoginLogout::CustomersAndPartners => (true, true),
        },
        EventType::CommentCreated => (n.comment_created, customer),
        EventType::IssueCreated => (n.issue_created, customer),
        EventType::IssueApproved | EventType::IssueDisapproved => (n.issue_approval, customer),
    };
    if !on {
        Some(SkipReason::NotificationOff)
    } else if !actor_wanted {
        Some(SkipReason::ActorNotNotified)
    } else {
        None
    }
}

/// The notification's colour and whether it alerts the room: approvals green, disapprovals
/// red, logins and logouts gray and silent, the rest yellow.
pub fn style(kind: EventType) -> (Color, bool) {
    match kind {
        EventType::UserLogin | EventType::UserLogout => (Color::Gray, false),
        EventType::IssueApproved => (Color::Green, true),
        EventType::IssueDisapproved => (Color::Red, true),
        EventType::CommentCreated | EventType::IssueCreated => (Color::Yellow, true),
    }
}

/// `POST /events`: skips what the settings do not want; else posts the event's message into
/// the notification room once (see the module documentation).
pub async fn notify_event<S, T, H, C>(
    ports: &Ports<'_, S, T, H, C>,
    partner: &PartnerId,
    event: &Event,
) -> Result<EventAnswer, AppError>
where
    S: SettingsStore + DeliveryStore,
    T: TokenSecrets,
    H: Hipchat,
    C: Clock,
{
    let answer =
        |status, reason, room_id| EventAnswer { status, reason, event_id: event.id.clone(), kind: event.kind, room_id };
    let stored = ports.store.get(partner).await?;
    if let Some(reason) = skip_reason(stored.as_ref(), event) {
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
    let token = ports.tokens.get(partner, meta, ports.clock.now()).await?.ok_or(AppError::TokenMissing)?;
    let access = access(url, token)?;

    let claim_id = format!("{:016x}", fastrand::u64(..));
    let key = DeliveryKey::Event(&event.id);
    if let Some(done) = claim(ports, partner, &key, &claim_id).await? {
        return Ok(answer(done, None, None));
    }

    let prefix = settings.room_name_prefix.clone().unwrap_or_else(|| messages::room_prefix(settings.language));
    let (color, notify) = style(event.kind);
    let notification = Notification {
        message: messages::event_html(settings.language, &prefix, event),
        message_format: MessageFormat::Html,
        color,
        notify,
        from: None,
    };
    match ports.hipchat.send_notification(&access, RoomRef::Id(room_id), &notification).await {
        Ok(()) => {
            match ports.store.mark_delivered(partner, &key, &claim_id, ports.clock.now()).await {
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
            if let Err(re) = ports.store.release_delivery(partner, &key, &claim_id).await {
                tracing::warn!(event_id = %event.id, error = %crate::error::chain(&re), "could not release the event claim; it ends with its lease");
            }
            tracing::warn!(event_id = %event.id, notification_room_id = room_id, error = %e, "could not post the event");
            Err(match e {
                HipchatError::RoomNotFound => AppError::NotificationRoomGone(room_id),
                HipchatError::TokenRejected => {
                    ports.token_rejected(partner, meta).await;
                    AppError::TokenRejected
                }
                e => failure(e, url),
            })
        }
    }
}

/// Claims the event; `Some(Duplicate)` when it was delivered (before, or by the concurrent
/// request this one waited for), `None` when this request holds it now.
async fn claim<S, T, H, C>(
    ports: &Ports<'_, S, T, H, C>,
    partner: &PartnerId,
    key: &DeliveryKey<'_>,
    claim_id: &str,
) -> Result<Option<EventStatus>, AppError>
where
    S: DeliveryStore,
    C: Clock,
{
    let mut poll = Poll::new(WAIT_MAX);
    loop {
        let now = ports.clock.now();
        let expires_at = now + DEDUPE_WINDOW;
        match ports.store.claim_delivery(partner, key, claim_id, now + LEASE, expires_at, now).await? {
            DeliveryClaim::Claimed => return Ok(None),
            DeliveryClaim::Delivered => return Ok(Some(EventStatus::Duplicate)),
            DeliveryClaim::InFlight { lease_until } => {
                if !poll.wait().await {
                    return Err(busy(lease_until, now));
                }
            }
        }
    }
}

/// 503 while another request delivers the same event.
fn busy(lease_until: Timestamp, now: Timestamp) -> AppError {
    wait::busy(lease_until, now, LEASE, "Another request is delivering this event; please retry shortly.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::settings::Settings;
    use serde_json::json;

    fn event(kind: &str, role: &str) -> Event {
        parse_event(&json!({
            "id": "e1",
            "type": kind,
            "occurred_at": "2026-11-25T10:00:00Z",
            "actor": {"id": "u1", "first_name": "Jane", "last_name": "Doe", "email": "jane@acme.example", "role": role},
            "issue": {"id": 17, "title": "Printer broken"},
            "comment": {"id": "c1", "excerpt": "It smokes."}
        }))
        .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn stored(f: impl FnOnce(&mut Settings)) -> StoredSettings {
        let mut s = Settings::inactive();
        s.active = true;
        s.hipchat_url = Some("https://hipchat.example.com".into());
        s.notifications.login_logout = LoginLogout::CustomersAndPartners;
        s.notifications.comment_created = true;
        s.notifications.issue_created = true;
        s.notifications.issue_approval = true;
        f(&mut s);
        StoredSettings { settings: s, version: 1, updated_at: Timestamp::UNIX_EPOCH, token: None }
    }

    const TYPES: [&str; 6] =
        ["user.login", "user.logout", "comment.created", "issue.created", "issue.approved", "issue.disapproved"];

    #[test]
    fn everything_on_lets_customer_events_through() {
        for t in TYPES {
            assert_eq!(skip_reason(Some(&stored(|_| {})), &event(t, "customer")), None, "{t}");
        }
    }

    #[test]
    fn no_settings_or_inactive_skips_everything() {
        for t in TYPES {
            let e = event(t, "customer");
            assert_eq!(skip_reason(None, &e), Some(SkipReason::NotConfigured));
            assert_eq!(skip_reason(Some(&stored(|s| s.active = false)), &e), Some(SkipReason::Inactive));
            assert_eq!(skip_reason(Some(&stored(|s| s.hipchat_url = None)), &e), Some(SkipReason::Inactive));
        }
    }

    #[test]
    fn each_switch_turns_its_events_off() {
        let off = |t: &str, f: fn(&mut Settings)| skip_reason(Some(&stored(f)), &event(t, "customer"));
        for t in ["user.login", "user.logout"] {
            assert_eq!(off(t, |s| s.notifications.login_logout = LoginLogout::Off), Some(SkipReason::NotificationOff));
            assert_eq!(off(t, |s| s.notifications.comment_created = false), None);
        }
        assert_eq!(
            off("comment.created", |s| s.notifications.comment_created = false),
            Some(SkipReason::NotificationOff)
        );
        assert_eq!(off("issue.created", |s| s.notifications.issue_created = false), Some(SkipReason::NotificationOff));
        for t in ["issue.approved", "issue.disapproved"] {
            assert_eq!(off(t, |s| s.notifications.issue_approval = false), Some(SkipReason::NotificationOff));
            assert_eq!(off(t, |s| s.notifications.issue_created = false), None);
        }
    }

    #[test]
    fn login_logout_for_customers_only_skips_partners_and_admins() {
        let only_customers = stored(|s| s.notifications.login_logout = LoginLogout::Customers);
        for t in ["user.login", "user.logout"] {
            assert_eq!(skip_reason(Some(&only_customers), &event(t, "customer")), None);
            for role in ["partner", "admin"] {
                assert_eq!(skip_reason(Some(&only_customers), &event(t, role)), Some(SkipReason::ActorNotNotified));
                assert_eq!(skip_reason(Some(&stored(|_| {})), &event(t, role)), None, "customers_and_partners");
            }
        }
    }

    #[test]
    fn comment_issue_and_approval_events_notify_about_customers_only() {
        for t in ["comment.created", "issue.created", "issue.approved", "issue.disapproved"] {
            for role in ["partner", "admin"] {
                assert_eq!(skip_reason(Some(&stored(|_| {})), &event(t, role)), Some(SkipReason::ActorNotNotified));
            }
        }
    }

    #[test]
    fn colours_and_alerts() {
        assert_eq!(style(EventType::UserLogin), (Color::Gray, false));
        assert_eq!(style(EventType::UserLogout), (Color::Gray, false));
        assert_eq!(style(EventType::IssueApproved), (Color::Green, true));
        assert_eq!(style(EventType::IssueDisapproved), (Color::Red, true));
        assert_eq!(style(EventType::CommentCreated), (Color::Yellow, true));
        assert_eq!(style(EventType::IssueCreated), (Color::Yellow, true));
    }

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
