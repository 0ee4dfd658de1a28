//! The one claim/lease loop: work that must happen once (creating a user's room, delivering
//! an event, sending a token-expiry warning) is claimed with a conditional write that holds
//! for a lease; a request that finds it held waits with backoff for a bounded time, then
//! answers 503 with `Retry-After` until the lease ends (or, for the reminder, leaves it).
//!
//! [`Lease::attempts`] runs the loop; each use case says, per attempt, what its store found.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

use crate::error::AppError;
use crate::ports::Clock;

/// A fresh claim id: what a conditional write records so that only its holder finishes or
/// releases the claim.
pub fn claim_id() -> String {
    format!("{:016x}", fastrand::u64(..))
}

/// What one attempt to claim found.
#[derive(Debug)]
pub enum Step<T> {
    /// This request holds the claim now.
    Claimed,
    /// The work is done (earlier, or by the request waited for): its result.
    Done(T),
    /// Another request holds the claim until `lease_until`: wait, then try again.
    Held { lease_until: Timestamp },
    /// The claim was lost to a concurrent request: look again at once.
    Lost,
}

/// How a claim loop ended.
#[derive(Debug)]
pub enum Claim<T> {
    /// This request holds the claim, under this id.
    Ours(String),
    Done(T),
    /// Another request still held it when the waiting time was up.
    Held {
        lease_until: Timestamp,
        now: Timestamp,
    },
}

/// A kind of claimed work: how long a claim holds, how long a request waits for another's,
/// and what the 503 says then.
#[derive(Debug, Clone, Copy)]
pub struct Lease {
    pub duration: SignedDuration,
    pub wait_max: Duration,
    pub busy_detail: &'static str,
}

impl Lease {
    /// Starts a claim loop: each turn the use case tries to claim with [`Attempts::claim_id`]
    /// at [`Attempts::now`] until [`Attempts::lease_until`], and hands what its store found to
    /// [`Attempts::next`], which ends the loop or says to try again. One claim id serves every
    /// attempt.
    pub fn attempts<'a, C: Clock>(&'a self, clock: &'a C) -> Attempts<'a, C> {
        let now = clock.now();
        Attempts {
            lease: self,
            clock,
            claim_id: claim_id(),
            poll: Poll::new(self.wait_max),
            now,
            lease_until: now + self.duration,
        }
    }

    /// 503 `hipchat-unavailable` while another request holds the work.
    pub fn busy(&self, lease_until: Timestamp, now: Timestamp) -> AppError {
        busy(lease_until, now, self.duration, self.busy_detail)
    }
}

/// One claim loop (see [`Lease::attempts`]).
pub struct Attempts<'a, C> {
    lease: &'a Lease,
    clock: &'a C,
    claim_id: String,
    poll: Poll,
    /// The time of this attempt.
    pub now: Timestamp,
    /// Where this attempt's lease would end.
    pub lease_until: Timestamp,
}

impl<C: Clock> Attempts<'_, C> {
    pub fn claim_id(&self) -> &str {
        &self.claim_id
    }

    /// `Some` end of the loop, or `None` to try again: after a sleep for [`Step::Held`], at
    /// once for [`Step::Lost`], until the waiting time is up.
    pub async fn next<T>(&mut self, step: Step<T>) -> Option<Claim<T>> {
        let end = match step {
            Step::Claimed => Some(Claim::Ours(self.claim_id.clone())),
            Step::Done(t) => Some(Claim::Done(t)),
            Step::Held { lease_until } => {
                (!self.poll.wait().await).then_some(Claim::Held { lease_until, now: self.now })
            }
            Step::Lost => self.poll.expired().then_some(Claim::Held { lease_until: self.lease_until, now: self.now }),
        };
        if end.is_none() {
            self.now = self.clock.now();
            self.lease_until = self.now + self.lease.duration;
        }
        end
    }
}

const FIRST: Duration = Duration::from_millis(50);
const LONGEST: Duration = Duration::from_millis(400);

/// Polling intervals of 50, 100, 200, 400, 400, … ms, for at most `max` in all.
#[derive(Debug)]
pub struct Poll {
    started: Instant,
    next: Duration,
    max: Duration,
}

impl Poll {
    pub fn new(max: Duration) -> Self {
        Self { started: Instant::now(), next: FIRST, max }
    }

    /// Whether `max` has passed since the poll began.
    pub fn expired(&self) -> bool {
        self.started.elapsed() >= self.max
    }

    /// Sleeps the next interval; `false` (without sleeping) once `max` has passed.
    pub async fn wait(&mut self) -> bool {
        if self.expired() {
            return false;
        }
        tokio::time::sleep(self.interval()).await;
        true
    }

    /// The next interval to sleep.
    fn interval(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(LONGEST);
        now
    }
}

/// 503 `hipchat-unavailable` with `Retry-After` until `lease_until` (at least 1 s, at most
/// `lease`): another request holds the work.
pub fn busy(lease_until: Timestamp, now: Timestamp, lease: SignedDuration, detail: &str) -> AppError {
    let secs = lease_until.duration_since(now).as_secs().clamp(1, lease.as_secs().max(1));
    AppError::HipchatUnavailable { status: 503, retry_after: u64::try_from(secs).ok(), detail: detail.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_double_up_to_the_longest() {
        let mut poll = Poll::new(Duration::from_secs(12));
        let slept: Vec<u128> = (0..6).map(|_| poll.interval().as_millis()).collect();
        assert_eq!(slept, [50, 100, 200, 400, 400, 400]);
    }

    #[tokio::test]
    async fn no_wait_once_max_has_passed() {
        let mut poll = Poll::new(Duration::ZERO);
        assert!(poll.expired());
        assert!(!poll.wait().await);
    }

    #[test]
    fn busy_says_when_the_lease_ends() {
        let now: Timestamp = "2026-11-25T10:00:00Z".parse().unwrap();
        let lease = SignedDuration::from_secs(20);
        let retry = |until: Timestamp| match busy(until, now, lease, "x") {
            AppError::HipchatUnavailable { status: 503, retry_after, .. } => retry_after,
            other => panic!("{other:?}"),
        };
        assert_eq!(retry(now + SignedDuration::from_secs(7)), Some(7));
        assert_eq!(retry(now), Some(1));
        assert_eq!(retry(now + SignedDuration::from_secs(3_600)), Some(20));
    }
}
