//! Waiting for work another request holds under a lease (a user's room being created, an
//! event being delivered): poll with backoff for a bounded time, then answer 503 with
//! `Retry-After` until the lease ends.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

use crate::error::AppError;

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
