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
fn claim_id() -> String {
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
struct Poll {
    started: Instant,
    next: Duration,
    max: Duration,
}

impl Poll {
    fn new(max: Duration) -> Self {
        Self { started: Instant::now(), next: FIRST, max }
    }

    /// Whether `max` has passed since the poll began.
    fn expired(&self) -> bool {
        self.started.elapsed() >= self.max
    }

    /// Sleeps the next interval; `false` (without sleeping) once `max` has passed.
    async fn wait(&mut self) -> bool {
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
fn busy(lease_until: Timestamp, now: Timestamp, lease: SignedDuration, detail: &str) -> AppError {
    let secs = lease_until.duration_since(now).as_secs().clamp(1, lease.as_secs().max(1));
    AppError::HipchatUnavailable { status: 503, retry_after: u64::try_from(secs).ok(), detail: detail.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The business clock, fixed: only tokio's (paused) clock moves in these tests.
    struct At(Timestamp);

    impl Clock for At {
        fn now(&self) -> Timestamp {
            self.0
        }
    }

    const T0: &str = "2026-11-25T10:00:00Z";

    fn lease(wait_max: Duration) -> Lease {
        Lease { duration: SignedDuration::from_secs(20), wait_max, busy_detail: "busy" }
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_claim_is_polled_for_the_waiting_time_then_reported_held() {
        let clock = At(T0.parse().unwrap());
        let held_until = clock.0 + SignedDuration::from_secs(7);
        let lease = lease(Duration::from_secs(1));
        let mut attempts = lease.attempts(&clock);
        let started = Instant::now();
        let mut tries = 0;
        let end = loop {
            tries += 1;
            if let Some(end) = attempts.next::<()>(Step::Held { lease_until: held_until }).await {
                break end;
            }
        };
        // Sleeps of 50, 100, 200, 400 and 400 ms, then the second is up.
        assert_eq!(tries, 6);
        assert_eq!(started.elapsed(), Duration::from_millis(1_150));
        assert!(matches!(end, Claim::Held { lease_until, now } if lease_until == held_until && now == clock.0));
        let AppError::HipchatUnavailable { status: 503, retry_after, .. } = lease.busy(held_until, clock.0) else {
            panic!("a 503")
        };
        assert_eq!(retry_after, Some(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_claim_is_tried_again_at_once_under_the_same_id() {
        let clock = At(T0.parse().unwrap());
        let lease = lease(Duration::from_secs(10));
        let mut attempts = lease.attempts(&clock);
        let started = Instant::now();
        let mut ids = Vec::new();
        let mut steps = vec![Step::Claimed, Step::Lost, Step::Lost];
        let end = loop {
            ids.push(attempts.claim_id().to_owned());
            assert_eq!(attempts.lease_until, clock.0 + SignedDuration::from_secs(20));
            if let Some(end) = attempts.next::<()>(steps.pop().unwrap()).await {
                break end;
            }
        };
        assert_eq!(started.elapsed(), Duration::ZERO, "no sleep after a lost claim");
        assert_eq!(ids.len(), 3);
        assert!(ids.iter().all(|id| *id == ids[0]));
        assert!(matches!(end, Claim::Ours(id) if id == ids[0]));
    }

    #[tokio::test(start_paused = true)]
    async fn done_work_ends_the_loop_and_no_waiting_time_means_no_wait() {
        let clock = At(T0.parse().unwrap());
        let lease = lease(Duration::ZERO);
        let mut attempts = lease.attempts(&clock);
        assert!(matches!(attempts.next(Step::Done(5)).await, Some(Claim::Done(5))));
        let started = Instant::now();
        let end = attempts.next::<()>(Step::Held { lease_until: clock.0 }).await;
        assert!(matches!(end, Some(Claim::Held { .. })), "the reminder's lease does not wait");
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

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
