//! The daily token-expiry reminder and token health probe (`token-expiry-reminder`).
//!
//! **Who is looked at** — never the whole table: the sparse `token-expiry` index gives the
//! tokens expiring from [`EXPIRED_WINDOW_DAYS`] ago to the largest threshold ahead, and the
//! sparse `token-check` index the tokens HipChat has not checked for [`CHECK_MAX_AGE_DAYS`].
//! A run costs reads proportional to those tokens, not to the number of partners.
//!
//! **Per partner**, with at most `probe_concurrency` at a time, and never stopping at one's
//! failure (it is logged and counted):
//! - a token HipChat already rejected is left alone (the partner was alerted then);
//! - an expired token (`expires_on` reached) gets one `alert=token_expired` log line, recorded
//!   like a warning (`REMINDER#<expires_on>#0`) so that later runs do not repeat it; its status
//!   reads `expired` from its date (`GET /settings`);
//! - for an active partner, the token is probed (`GET /v2/oauth/token/{token}`) when it is near
//!   expiry or its last check is old: a 401 marks it `rejected` (`alert=token_rejected`), and
//!   missing scopes are recorded;
//! - the warning due ([`due_threshold`]) is posted into the notification room once: claimed with
//!   a conditional write of `REMINDER#<expires_on>#<days>` before sending, released if the send
//!   fails (the next run retries), so re-runs, overlapping runs and retries never send it
//!   twice, and a replaced token (another `expires_on`) starts a fresh series.

use futures_util::StreamExt;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::Serialize;

use crate::app::{Deps, Wiring};
use crate::config::ConfigError;
use crate::domain::messages;
use crate::domain::partner::PartnerId;
use crate::domain::reminder::{DEFAULT_THRESHOLDS, due_threshold, parse_thresholds};
use crate::domain::scopes;
use crate::domain::token::{TokenCheck, TokenMeta, today};
use crate::error::chain;
use crate::ports::chat::{ChatError, ChatService, Color, MessageFormat, Notification, RoomRef};
use crate::ports::{
    Clock, DeliveryClaim, DeliveryKey, DeliveryStore, PartnerSettings, PortError, SettingsStore, TokenIndex,
};
use crate::service::access::{TokenRead, access};
use crate::service::lease::{Claim, Lease, Step};

/// Expired tokens are looked at for this many days after `expires_on` (so an alert missed on
/// the day, e.g. by a failed run, still goes out).
pub const EXPIRED_WINDOW_DAYS: i64 = 7;
/// A token not checked by HipChat for this many days is probed.
pub const CHECK_MAX_AGE_DAYS: i64 = 7;
/// How long a claim on a warning holds (one HipChat call with its timeouts fits easily).
pub const LEASE: SignedDuration = SignedDuration::from_secs(60);

/// A warning another run is sending is left to it: no waiting.
const WARNING_LEASE: Lease =
    Lease { duration: LEASE, wait_max: std::time::Duration::ZERO, busy_detail: "Another run is sending this warning." };
/// How long a warning's record is kept after the token's expiry date.
pub const RECORD_KEPT_DAYS: i64 = 60;

/// The reminder's settings (environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderConfig {
    /// Days before expiry at which warnings go out, largest first (`REMINDER_THRESHOLDS_DAYS`,
    /// default `30,14,7,3,1`).
    pub thresholds: Vec<u32>,
    /// Partners handled at once (`PROBE_CONCURRENCY`, default 4, 1–32).
    pub probe_concurrency: usize,
}

impl Default for ReminderConfig {
    fn default() -> Self {
        Self { thresholds: DEFAULT_THRESHOLDS.to_vec(), probe_concurrency: 4 }
    }
}

impl ReminderConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        if let Some(v) = lookup("REMINDER_THRESHOLDS_DAYS").filter(|v| !v.trim().is_empty()) {
            config.thresholds = parse_thresholds(&v)
                .map_err(|reason| ConfigError::Invalid { name: "REMINDER_THRESHOLDS_DAYS", reason })?;
        }
        if let Some(v) = lookup("PROBE_CONCURRENCY").filter(|v| !v.trim().is_empty()) {
            config.probe_concurrency =
                v.trim().parse::<usize>().ok().filter(|n| (1..=32).contains(n)).ok_or_else(|| {
                    ConfigError::Invalid {
                        name: "PROBE_CONCURRENCY",
                        reason: format!("{v:?} is not a number from 1 to 32"),
                    }
                })?;
        }
        Ok(config)
    }

    fn largest(&self) -> i64 {
        self.thresholds.iter().copied().max().map_or(0, i64::from)
    }
}

/// What a run did, in partners.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Tokens probed at HipChat.
    pub checked: u32,
    /// Warnings posted.
    pub warned: u32,
    /// Expired tokens alerted (once per token).
    pub expired: u32,
    /// Tokens HipChat rejected in this run.
    pub rejected: u32,
    /// Partners with a failure (logged): a failed probe, send or store call.
    pub failed: u32,
}

impl Summary {
    fn add(mut self, o: Summary) -> Self {
        self.checked += o.checked;
        self.warned += o.warned;
        self.expired += o.expired;
        self.rejected += o.rejected;
        self.failed += o.failed;
        self
    }
}

/// One daily run. Fails only when the partners cannot be listed; everything per partner is
/// logged and counted.
pub async fn run<W: Wiring>(deps: &Deps<W>) -> Result<Summary, PortError> {
    let config = &deps.reminder;
    let now = deps.clock.now();
    let day = today(now);
    let from = day.checked_sub(EXPIRED_WINDOW_DAYS.days()).unwrap_or(day);
    let to = day.checked_add(config.largest().days()).unwrap_or(day);
    let mut partners = deps.store.tokens_expiring(from, to).await?;
    let stale = day.checked_sub(CHECK_MAX_AGE_DAYS.days()).unwrap_or(day);
    for p in deps.store.tokens_checked_before(stale).await? {
        if !partners.iter().any(|q| q.partner == p.partner) {
            partners.push(p);
        }
    }
    let found = partners.len();
    let summary = futures_util::stream::iter(partners)
        .map(|p| partner_run(deps, p, now))
        .buffer_unordered(config.probe_concurrency.max(1))
        .fold(Summary::default(), |total, o| async move { total.add(o) })
        .await;
    tracing::info!(
        partners = found,
        checked = summary.checked,
        warned = summary.warned,
        expired = summary.expired,
        rejected = summary.rejected,
        failed = summary.failed,
        "token-expiry reminder run finished"
    );
    Ok(summary)
}

/// One partner's part of a run; failures are logged and counted, never returned.
async fn partner_run<W: Wiring>(deps: &Deps<W>, p: PartnerSettings, now: Timestamp) -> Summary {
    let partner = &p.partner;
    match partner_steps(deps, &p, now).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(partner_id = %partner, error = %chain(&e), "the reminder failed for a partner");
            Summary { failed: 1, ..Summary::default() }
        }
    }
}

async fn partner_steps<W: Wiring>(deps: &Deps<W>, p: &PartnerSettings, now: Timestamp) -> Result<Summary, PortError> {
    let config = &deps.reminder;
    let (partner, settings) = (&p.partner, &p.stored.settings);
    let mut o = Summary::default();
    let Some(meta) = p.stored.token.as_ref().filter(|t| !t.rejected) else { return Ok(o) };
    let days_left = meta.days_left(today(now));
    if days_left <= 0 {
        let key = DeliveryKey::Reminder { expires_on: meta.expires_on, days: 0 };
        if let Some(claim_id) = claim(deps, partner, &key, meta).await? {
            tracing::warn!(partner_id = %partner, alert = "token_expired", expires_on = %meta.expires_on,
                "the partner's HipChat token has expired: the partner must store a new one");
            deps.store.mark_delivered(partner, &key, &claim_id, now).await?;
            o.expired = 1;
        }
        return Ok(o);
    }
    let Some(url) = settings.hipchat_url.as_deref().filter(|_| settings.active) else { return Ok(o) };
    let Some(secret) = deps.token(partner, meta, TokenRead::Stored).await? else {
        tracing::warn!(partner_id = %partner, "token metadata without its secret: the partner must store the token again");
        o.failed = 1;
        return Ok(o);
    };
    let access = match access(url, secret) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(partner_id = %partner, error = %e, "the stored HipChat URL is unusable");
            o.failed = 1;
            return Ok(o);
        }
    };

    let stale =
        meta.checked_at.is_none_or(|c| now.duration_since(c) > SignedDuration::from_hours(24 * CHECK_MAX_AGE_DAYS));
    if days_left <= config.largest() || stale {
        o.checked = 1;
        match deps.chat.token_info(&access).await {
            Ok(info) => {
                let check =
                    TokenCheck { rejected: false, missing_scopes: scopes::missing(&info.scopes), checked_at: now };
                deps.store.record_token_check(partner, meta, &check).await?;
            }
            Err(ChatError::TokenRejected) => {
                deps.token_rejected(partner, meta).await;
                o.rejected = 1;
                return Ok(o);
            }
            Err(e) => {
                tracing::warn!(partner_id = %partner, error = %e, "the token probe failed");
                o.failed = 1;
            }
        }
    }

    let (Some(days), Some(room)) = (due_threshold(days_left, &config.thresholds), settings.notification_room_id) else {
        return Ok(o);
    };
    let key = DeliveryKey::Reminder { expires_on: meta.expires_on, days };
    let Some(claim_id) = claim(deps, partner, &key, meta).await? else { return Ok(o) };
    let prefix = settings.room_name_prefix.clone().unwrap_or_else(|| messages::room_prefix(settings.language));
    let notification = Notification {
        message: messages::token_expiry_html(settings.language, &prefix, meta.expires_on, days_left),
        message_format: MessageFormat::Html,
        color: if days_left <= 7 { Color::Red } else { Color::Yellow },
        notify: true,
        from: None,
    };
    match deps.chat.send_notification(&access, RoomRef::Id(room), &notification).await {
        Ok(()) => {
            deps.store.mark_delivered(partner, &key, &claim_id, now).await?;
            tracing::info!(partner_id = %partner, days, days_left, "posted the token-expiry warning");
            o.warned = 1;
        }
        Err(e) => {
            deps.store.release_delivery(partner, &key, &claim_id).await?;
            if matches!(e, ChatError::TokenRejected) {
                deps.token_rejected(partner, meta).await;
                o.rejected = 1;
            } else {
                tracing::warn!(partner_id = %partner, notification_room_id = room, error = %e,
                    "could not post the token-expiry warning; the next run tries again");
                o.failed = 1;
            }
        }
    }
    Ok(o)
}

/// Claims a reminder record for `meta`'s token; the claim id when this run holds it, `None`
/// when it was sent (or is being sent) already.
async fn claim<W: Wiring>(
    deps: &Deps<W>,
    partner: &PartnerId,
    key: &DeliveryKey<'_>,
    meta: &TokenMeta,
) -> Result<Option<String>, PortError> {
    let mut attempts = WARNING_LEASE.attempts(&deps.clock);
    let claim = loop {
        let (now, lease_until) = (attempts.now, attempts.lease_until);
        let kept_until =
            record_expiry(meta.expires_on).unwrap_or(now + SignedDuration::from_hours(24 * RECORD_KEPT_DAYS));
        let step =
            match deps.store.claim_delivery(partner, key, attempts.claim_id(), lease_until, kept_until, now).await? {
                DeliveryClaim::Claimed => Step::Claimed,
                DeliveryClaim::Delivered => Step::Done(()),
                DeliveryClaim::InFlight { lease_until } => Step::Held { lease_until },
            };
        if let Some(end) = attempts.next(step).await {
            break end;
        }
    };
    Ok(match claim {
        Claim::Ours(claim_id) => Some(claim_id),
        Claim::Done(()) | Claim::Held { .. } => None,
    })
}

/// When a token's reminder records may go: [`RECORD_KEPT_DAYS`] after its expiry.
fn record_expiry(expires_on: Date) -> Option<Timestamp> {
    let day = expires_on.checked_add(RECORD_KEPT_DAYS.days()).ok()?;
    day.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        };
        assert_eq!(ReminderConfig::from_lookup(env(&[])).unwrap(), ReminderConfig::default());
        let c = ReminderConfig::from_lookup(env(&[("REMINDER_THRESHOLDS_DAYS", "7, 60"), ("PROBE_CONCURRENCY", "8")]))
            .unwrap();
        assert_eq!((c.thresholds, c.probe_concurrency), (vec![60, 7], 8));
        for bad in [("REMINDER_THRESHOLDS_DAYS", "0"), ("PROBE_CONCURRENCY", "0"), ("PROBE_CONCURRENCY", "many")] {
            let e = ReminderConfig::from_lookup(env(Box::leak(Box::new([bad])))).unwrap_err();
            assert!(e.to_string().contains(bad.0), "{e}");
        }
    }

    #[test]
    fn records_are_kept_past_the_expiry() {
        let t = record_expiry(jiff::civil::date(2026, 12, 10)).unwrap();
        assert_eq!(t.to_string(), "2027-02-08T00:00:00Z");
    }
}
