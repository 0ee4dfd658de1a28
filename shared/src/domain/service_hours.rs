//! Whether a partner's chat is open at an instant, and when that next changes.
//!
//! Pure code: the caller passes the instant; no clock, no I/O.
//!
//! # Semantics
//!
//! - Service hours are evaluated in the partner's IANA `timezone` (an unresolvable name, which
//!   validation rules out, falls back to UTC).
//! - Each weekday has zero or more ranges; an absent or empty day is closed. A range whose `to`
//!   is earlier than its `from` runs overnight and belongs to the day it starts: Friday
//!   22:00–02:00 is open on Saturday at 01:00. `to` = `24:00` is the next day's midnight.
//! - A closed date closes every range that *starts* on that local date. A closed Friday therefore
//!   also closes the Saturday-morning part of Friday's overnight range; a closed Saturday leaves
//!   Friday's overnight range open on Saturday morning.
//! - Daylight saving time. Let `wall(t)` be the civil datetime the zone's clock shows at instant
//!   `t`. A range on local date D is open on the instants `[start, end)`:
//!   - `start` is the earliest instant at which the wall clock shows D+`from` or later. A `from`
//!     in a skipped (spring-forward) hour starts at the transition, i.e. the first instant after
//!     the gap (03:00 local in Vienna when 02:00–03:00 is skipped, not jiff's "compatible"
//!     03:30). A `from` in a repeated (fall-back) hour starts at its first occurrence.
//!   - `end` is the instant after which the wall clock never again shows a time before D+`to`:
//!     a `to` in a repeated hour ends at its *last* occurrence (a range never closes early or
//!     opens twice on the fall-back day); a `to` in a skipped hour ends at the transition. The
//!     one `to` of a repeated hour that ends at its first occurrence is the first repeated wall
//!     time itself (01:00 when 02:00 falls back to 01:00): once 01:00 is shown, the clock never
//!     shows a time before 01:00 again.
//!   - Equivalently: `t` is inside the range iff `max{wall(t') : t' ≤ t} ≥ D+from` and
//!     `min{wall(t') : t' ≥ t} < D+to`. A range lying entirely in a skipped hour is not open
//!     that day.
//!
//!   These are computed exactly from jiff's [`AmbiguousOffset`] (gap: the transition instant
//!   found with [`TimeZone::following`]; fold: the earlier offset for `start`, the later one for
//!   `end`), which equals the rule above whenever a wall time is shown at most twice and
//!   transitions are more than a day apart, as in the tz database's zones.
//! - Open intervals that touch or overlap are one open stretch: the state does not flip where
//!   08:00–12:00 meets 12:00–17:00, where Monday 22:00–24:00 meets Tuesday 00:00–06:00, or where
//!   a fall-back day makes one range's end later than the next range's start.
//!
//! # Search
//!
//! [`availability`] walks local dates from two days before the date of `now`, building each
//! date's intervals in order (days × ranges, no minute loops) and merging them, until the answer
//! is known. After the last closed date the weekly schedule repeats, so:
//! - a schedule without any range never opens: `{false, None}` at once;
//! - an open stretch that reaches `max(today, last closed date) + 9 days` while the weekly
//!   ranges (with their overnight spills) cover every minute of the week never closes:
//!   `{true, None}`, as every later instant lies in a range of a date that is not closed.
//!
//! That horizon alone would not be exact: a range swallowed by a spring-forward gap can hide the
//! only opening before it, and a fall-back fold can bridge the only closing before it (the tests
//! have one of each). So otherwise the walk goes on until the next change is found, which with
//! the tz database's zones is within a week or two of the horizon; it gives up (`None`) a year
//! past it. An open 24/7 stretch is carried to the next closed date by a jump, not a walk, so a
//! closed date centuries ahead costs nothing. At the ends of jiff's range (years −9999 and 9999)
//! the search ends without panicking: instants that cannot be represented count as "never".

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::{SignedDuration, Span, Timestamp};
use serde::Serialize;

use super::settings::ServiceHours;

/// The chat's state at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Availability {
    pub available: bool,
    /// The next instant the state flips; `None` when it never flips again (never opens, or
    /// always open). When `available` is false this is the next opening (the chat-closed
    /// problem's `next_open_at`).
    pub next_change_at: Option<Timestamp>,
}

/// Whether the chat is open at `now`, and the next instant that changes.
pub fn availability(hours: &ServiceHours, now: Timestamp) -> Availability {
    Schedule::new(hours).availability(now)
}

/// Whether the chat is open at `t` (the `available` of [`availability`], without the search
/// for the next change).
pub fn is_open(hours: &ServiceHours, t: Timestamp) -> bool {
    Schedule::new(hours).is_open(t)
}

/// Instants as nanoseconds since the Unix epoch, with the two ends standing for instants
/// jiff cannot represent.
type Nanos = i128;
const BEFORE_TIME: Nanos = i128::MIN;
const AFTER_TIME: Nanos = i128::MAX;
const WEEK_MINUTES: u32 = 7 * 1440;
/// Days after the horizon a non-empty schedule keeps searching (DST-swallowed ranges).
const EXTRA_DAYS: i64 = 371;

struct Schedule {
    tz: TimeZone,
    /// `span()`s per weekday (Monday first), sorted.
    week: [Vec<(u32, u32)>; 7],
    /// Sorted, without duplicates.
    closed: Vec<Date>,
    has_ranges: bool,
    /// The ranges (with their overnight spills) cover every minute of the week.
    covers_week: bool,
}

impl Schedule {
    fn new(hours: &ServiceHours) -> Self {
        let tz = TimeZone::get(&hours.timezone).unwrap_or(TimeZone::UTC);
        let mut week: [Vec<(u32, u32)>; 7] = Default::default();
        for (day, ranges) in &hours.days {
            let spans = &mut week[*day as usize];
            spans.extend(ranges.iter().map(|r| r.span()).filter(|(f, t)| f < t));
            spans.sort_unstable();
        }
        let mut closed = hours.closed_dates.clone();
        closed.sort_unstable();
        closed.dedup();
        let has_ranges = week.iter().any(|d| !d.is_empty());
        let covers_week = covers_week(&week);
        Self { tz, week, closed, has_ranges, covers_week }
    }

    fn is_closed(&self, d: Date) -> bool {
        self.closed.binary_search(&d).is_ok()
    }

    /// The first closed date after `d`.
    fn closed_after(&self, d: Date) -> Option<Date> {
        self.closed.get(self.closed.partition_point(|c| *c <= d)).copied()
    }

    /// The earliest instant at which the wall clock shows `dt` or later.
    fn first_at_or_after(&self, dt: DateTime) -> Option<Timestamp> {
        match self.tz.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).ok(),
            AmbiguousOffset::Fold { before, .. } => before.to_timestamp(dt).ok(),
            AmbiguousOffset::Gap { before, after } => self.gap_transition(dt, before, after),
        }
    }

    /// The instant after which the wall clock never again shows a time before `dt`.
    fn last_before(&self, dt: DateTime) -> Option<Timestamp> {
        match self.tz.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).ok(),
            AmbiguousOffset::Fold { before, after } => {
                // The last occurrence, unless `dt` is the first repeated wall time (01:00 when
                // 02:00 falls back to 01:00): after the transition the clock never shows a time
                // before it, so it ends at its first occurrence.
                let last = after.to_timestamp(dt).ok()?;
                let repeats_earlier =
                    last.checked_sub(SignedDuration::from_nanos(1)).is_ok_and(|t| self.tz.to_offset(t) == after);
                if repeats_earlier { Some(last) } else { before.to_timestamp(dt).ok() }
            }
            AmbiguousOffset::Gap { before, after } => self.gap_transition(dt, before, after),
        }
    }

    /// The transition instant `T` of the gap containing `dt`: `T + before ≤ dt < T + after`,
    /// so `dt − after < T ≤ dt − before`.
    fn gap_transition(&self, dt: DateTime, before: Offset, after: Offset) -> Option<Timestamp> {
        let latest = before.to_timestamp(dt).ok()?;
        if let Ok(earliest) = after.to_timestamp(dt) {
            let found = self
                .tz
                .following(earliest)
                .take_while(|tr| tr.timestamp() <= latest)
                .take(8)
                .find(|tr| tr.offset() == after);
            if let Some(tr) = found {
                return Some(tr.timestamp());
            }
        }
        // Not found (cannot happen with tz data): jiff's "compatible" reading.
        Some(latest)
    }

    /// `f` applied to `d` + `minutes`; instants beyond jiff's range become the matching end.
    fn instant(&self, d: Date, minutes: u32, f: fn(&Self, DateTime) -> Option<Timestamp>) -> Nanos {
        let Ok(dt) = d.to_datetime(Time::midnight()).checked_add(SignedDuration::from_mins(i64::from(minutes))) else {
            return AFTER_TIME;
        };
        match f(self, dt) {
            Some(ts) => ts.as_nanosecond(),
            None if dt.year() > 0 => AFTER_TIME,
            None => BEFORE_TIME,
        }
    }

    /// The earliest instant at which the wall clock shows `d` 00:00 or later: no range of `d`
    /// or of a later date starts before it.
    fn day_start(&self, d: Date) -> Nanos {
        self.instant(d, 0, Self::first_at_or_after)
    }

    /// The non-empty open intervals of the ranges starting on `d`, by start.
    fn intervals_on(&self, d: Date, out: &mut Vec<(Nanos, Nanos)>) {
        out.clear();
        if self.is_closed(d) {
            return;
        }
        let weekday = d.weekday().to_monday_zero_offset().rem_euclid(7) as usize;
        for &(from, to) in &self.week[weekday] {
            let start = self.instant(d, from, Self::first_at_or_after);
            let end = self.instant(d, to, Self::last_before);
            if start < end {
                out.push((start, end));
            }
        }
    }

    fn is_open(&self, t: Timestamp) -> bool {
        let at = t.as_nanosecond();
        let today = self.tz.to_datetime(t).date();
        // A range starts at or after its date's midnight and ends within two days of it.
        let last = add_days(today, 1).unwrap_or(Date::MAX);
        let mut date = add_days(today, -2).unwrap_or(Date::MIN);
        let mut intervals = Vec::new();
        loop {
            self.intervals_on(date, &mut intervals);
            if intervals.iter().any(|&(s, e)| s <= at && at < e) {
                return true;
            }
            match date.tomorrow() {
                Ok(next) if next <= last => date = next,
                _ => return false,
            }
        }
    }

    fn availability(&self, now: Timestamp) -> Availability {
        self.availability_counting(now, &mut 0)
    }

    /// [`Self::availability`], adding to `steps` one per local date the walk evaluates (a jump
    /// towards the next closed date skips the dates in between), so that tests can see how far
    /// the search went.
    fn availability_counting(&self, now: Timestamp, steps: &mut u64) -> Availability {
        let at = now.as_nanosecond();
        if !self.has_ranges {
            return Availability { available: false, next_change_at: None };
        }
        let today = self.tz.to_datetime(now).date();
        let base = self.closed.last().map_or(today, |&last| last.max(today));
        let horizon = add_days(base, 9).unwrap_or(Date::MAX);
        let give_up = add_days(horizon, EXTRA_DAYS).unwrap_or(Date::MAX);
        let contains = |(start, end): (Nanos, Nanos)| start <= at && at < end;
        let open_until = |end: Nanos| Availability { available: true, next_change_at: timestamp(end) };
        let closed_until = |start: Nanos| Availability { available: false, next_change_at: timestamp(start) };

        let mut date = add_days(today, -2).unwrap_or(Date::MIN);
        // The current merged stretch of open intervals.
        let mut run: Option<(Nanos, Nanos)> = None;
        let mut intervals = Vec::new();
        loop {
            *steps += 1;
            self.intervals_on(date, &mut intervals);
            for &(start, end) in &intervals {
                run = match run {
                    Some((s, e)) if start <= e => Some((s, e.max(end))),
                    Some(previous) if contains(previous) => return open_until(previous.1),
                    _ => Some((start, end)),
                };
                if let Some((s, _)) = run
                    && s > at
                {
                    return closed_until(s);
                }
            }
            let next = date.tomorrow().ok();
            // Ranges of later dates start at or after the next date's midnight.
            if let Some(current) = run
                && next.map_or(AFTER_TIME, |d| self.day_start(d)) > current.1
            {
                if contains(current) {
                    return open_until(current.1);
                }
                run = None;
            }
            let Some(next) = next else { break };
            let open_now = run.is_some_and(contains);
            if date >= horizon {
                if open_now && self.covers_week {
                    return Availability { available: true, next_change_at: None };
                }
                if date >= give_up {
                    break;
                }
            }
            // Open around the clock until the next closed date: jump to just before it. Every
            // instant up to the day start of `c − 2` is covered by ranges of the open dates
            // `date ..= c − 3`; the jump resumes at `c − 3` so that its spill is merged.
            if open_now
                && self.covers_week
                && !self.is_closed(date)
                && let Some(c) = self.closed_after(date)
                && let (Some(resume), Some(covered)) = (add_days(c, -3), add_days(c, -2))
                && resume > next
                && let Some((s, e)) = run
            {
                run = Some((s, e.max(self.day_start(covered))));
                date = resume;
                continue;
            }
            date = next;
        }
        // End of representable time, or a stretch beyond the search: it does not change.
        Availability { available: run.is_some_and(contains), next_change_at: None }
    }
}

fn timestamp(n: Nanos) -> Option<Timestamp> {
    Timestamp::from_nanosecond(n).ok()
}

fn add_days(d: Date, n: i64) -> Option<Date> {
    d.checked_add(Span::new().try_days(n).ok()?).ok()
}

/// Whether the ranges, with overnight spills (Sunday's into Monday), cover the whole week.
fn covers_week(week: &[Vec<(u32, u32)>; 7]) -> bool {
    let mut segments = Vec::new();
    for (day, spans) in (0u32..).zip(week) {
        for &(from, to) in spans {
            let (a, b) = (day * 1440 + from, day * 1440 + to);
            if b > WEEK_MINUTES {
                segments.push((a, WEEK_MINUTES));
                segments.push((0, b - WEEK_MINUTES));
            } else {
                segments.push((a, b));
            }
        }
    }
    segments.sort_unstable();
    let mut reach = 0;
    for (a, b) in segments {
        if a > reach {
            return false;
        }
        reach = reach.max(b);
    }
    reach >= WEEK_MINUTES
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::settings::{ClockTime, TimeRange, Weekday, parse_settings};
    use proptest::prelude::*;
    use serde_json::json;
    use std::collections::BTreeSet;

    use Weekday::{Friday, Monday, Saturday, Sunday, Tuesday};

    fn range(from: &str, to: &str) -> TimeRange {
        TimeRange { from: ClockTime::parse(from).unwrap(), to: ClockTime::parse(to).unwrap() }
    }

    fn hours(tz: &str, days: &[(Weekday, &[(&str, &str)])], closed: &[&str]) -> ServiceHours {
        ServiceHours {
            timezone: tz.into(),
            days: days.iter().map(|(d, rs)| (*d, rs.iter().map(|(f, t)| range(f, t)).collect())).collect(),
            closed_dates: closed.iter().map(|d| d.parse().unwrap()).collect(),
        }
    }

    fn every_day(tz: &str, ranges: &[(&str, &str)], closed: &[&str]) -> ServiceHours {
        let days: Vec<(Weekday, &[(&str, &str)])> = Weekday::ALL.iter().map(|d| (*d, ranges)).collect();
        hours(tz, &days, closed)
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn open_until(end: &str) -> Availability {
        Availability { available: true, next_change_at: Some(ts(end)) }
    }

    fn closed_until(start: &str) -> Availability {
        Availability { available: false, next_change_at: Some(ts(start)) }
    }

    /// Asserts `availability` at each instant, and that `is_open` agrees.
    fn check(h: &ServiceHours, cases: &[(&str, Availability)]) {
        for (at, want) in cases {
            let got = availability(h, ts(at));
            assert_eq!(got, *want, "at {at}");
            assert_eq!(is_open(h, ts(at)), want.available, "is_open at {at}");
        }
    }

    #[test]
    fn the_test_dates_fall_on_the_expected_weekdays() {
        use jiff::civil::Weekday as J;
        for (d, w) in [
            ("2026-03-01", J::Sunday),
            ("2026-03-02", J::Monday),
            ("2026-03-06", J::Friday),
            ("2026-03-08", J::Sunday),
            ("2026-03-29", J::Sunday),
            ("2026-08-17", J::Monday),
            ("2026-10-25", J::Sunday),
            ("2026-11-01", J::Sunday),
        ] {
            assert_eq!(d.parse::<Date>().unwrap().weekday(), w, "{d}");
        }
    }

    #[test]
    fn vienna_spring_forward_starts_a_range_in_the_skipped_hour_at_the_transition() {
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00Z.
        let h = hours("Europe/Vienna", &[(Sunday, &[("02:30", "05:00")])], &[]);
        check(
            &h,
            &[
                ("2026-03-28T12:00:00Z", closed_until("2026-03-29T01:00:00Z")),
                ("2026-03-29T00:59:00Z", closed_until("2026-03-29T01:00:00Z")),
                // jiff's "compatible" reading of 02:30 would be 03:30 CEST = 01:30Z
                ("2026-03-29T01:00:00Z", open_until("2026-03-29T03:00:00Z")),
                ("2026-03-29T01:29:00Z", open_until("2026-03-29T03:00:00Z")),
                ("2026-03-29T03:00:00Z", closed_until("2026-04-05T00:30:00Z")),
            ],
        );
    }

    #[test]
    fn vienna_spring_forward_ends_a_range_in_the_skipped_hour_at_the_transition() {
        let h = hours("Europe/Vienna", &[(Sunday, &[("00:00", "02:30")])], &[]);
        check(
            &h,
            &[
                ("2026-03-28T22:59:00Z", closed_until("2026-03-28T23:00:00Z")),
                ("2026-03-29T00:30:00Z", open_until("2026-03-29T01:00:00Z")),
                ("2026-03-29T01:00:00Z", closed_until("2026-04-04T22:00:00Z")),
            ],
        );
        // A range inside the skipped hour does not open that day: the next Sunday it does.
        let h = hours("Europe/Vienna", &[(Sunday, &[("02:00", "03:00")])], &[]);
        check(&h, &[("2026-03-28T12:00:00Z", closed_until("2026-04-05T00:00:00Z"))]);
    }

    #[test]
    fn vienna_fall_back_keeps_a_range_open_once_until_the_last_occurrence_of_to() {
        // 2026-10-25: 03:00 CEST falls back to 02:00 CET at 01:00Z; 02:00–03:00 is shown twice.
        let h = hours("Europe/Vienna", &[(Sunday, &[("02:15", "02:45")])], &[]);
        check(
            &h,
            &[
                ("2026-10-25T00:14:00Z", closed_until("2026-10-25T00:15:00Z")),
                ("2026-10-25T00:15:00Z", open_until("2026-10-25T01:45:00Z")),
                // 02:50 CEST: the wall clock is past `to`, but will show 02:15–02:45 again
                ("2026-10-25T00:50:00Z", open_until("2026-10-25T01:45:00Z")),
                // 02:05 CET: the wall clock is before `from`, but showed it already
                ("2026-10-25T01:05:00Z", open_until("2026-10-25T01:45:00Z")),
                ("2026-10-25T01:45:00Z", closed_until("2026-11-01T01:15:00Z")),
            ],
        );
        // Touching ranges across the repeated hour are one stretch.
        let h = hours("Europe/Vienna", &[(Sunday, &[("01:00", "02:30"), ("02:30", "04:00")])], &[]);
        check(
            &h,
            &[
                ("2026-10-24T22:59:00Z", closed_until("2026-10-24T23:00:00Z")),
                ("2026-10-24T23:30:00Z", open_until("2026-10-25T03:00:00Z")),
                ("2026-10-25T01:40:00Z", open_until("2026-10-25T03:00:00Z")),
            ],
        );
    }

    #[test]
    fn new_york_spring_forward() {
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT at 07:00Z.
        let h = hours("America/New_York", &[(Sunday, &[("02:15", "04:00")])], &[]);
        check(
            &h,
            &[
                ("2026-03-08T06:59:00Z", closed_until("2026-03-08T07:00:00Z")),
                ("2026-03-08T07:00:00Z", open_until("2026-03-08T08:00:00Z")),
                ("2026-03-08T08:00:00Z", closed_until("2026-03-15T06:15:00Z")),
            ],
        );
        let h = hours("America/New_York", &[(Sunday, &[("01:00", "02:30")])], &[]);
        check(
            &h,
            &[
                ("2026-03-08T05:59:00Z", closed_until("2026-03-08T06:00:00Z")),
                ("2026-03-08T06:30:00Z", open_until("2026-03-08T07:00:00Z")),
                ("2026-03-08T07:00:00Z", closed_until("2026-03-15T05:00:00Z")),
            ],
        );
    }

    #[test]
    fn new_york_fall_back() {
        // 2026-11-01: 02:00 EDT falls back to 01:00 EST at 06:00Z.
        let h = hours("America/New_York", &[(Sunday, &[("00:30", "01:30")])], &[]);
        check(
            &h,
            &[
                ("2026-11-01T04:29:00Z", closed_until("2026-11-01T04:30:00Z")),
                ("2026-11-01T04:30:00Z", open_until("2026-11-01T06:30:00Z")),
                ("2026-11-01T05:45:00Z", open_until("2026-11-01T06:30:00Z")),
                ("2026-11-01T06:10:00Z", open_until("2026-11-01T06:30:00Z")),
                ("2026-11-01T06:30:00Z", closed_until("2026-11-08T05:30:00Z")),
            ],
        );
        // `to` = 01:00, the first repeated wall time: once 01:00 EDT is shown the clock never
        // shows a time before 01:00 again, so the range closes at the first 01:00.
        let h = hours("America/New_York", &[(Sunday, &[("00:00", "01:00")])], &[]);
        check(
            &h,
            &[
                ("2026-11-01T04:30:00Z", open_until("2026-11-01T05:00:00Z")),
                ("2026-11-01T05:00:00Z", closed_until("2026-11-08T05:00:00Z")),
            ],
        );
        // `from` = 01:00 starts at the first 01:00, `to` = 02:00 (never shown in EDT) ends at
        // 02:00 EST: open for two hours.
        let h = hours("America/New_York", &[(Sunday, &[("01:00", "02:00")])], &[]);
        check(&h, &[("2026-11-01T05:00:00Z", open_until("2026-11-01T07:00:00Z"))]);
    }

    #[test]
    fn a_fall_back_fold_bridges_a_half_hour_closing() {
        // Open around the clock except Sunday 01:15–01:30; on the fall-back Sunday, 01:15 is
        // last shown (06:15Z) after 01:30 was first shown (05:30Z): no closing that day.
        let mut h = every_day("America/New_York", &[("00:00", "24:00")], &[]);
        h.days.insert(Sunday, vec![range("00:00", "01:15"), range("01:30", "24:00")]);
        check(
            &h,
            &[
                ("2026-10-24T12:00:00Z", open_until("2026-10-25T05:15:00Z")),
                ("2026-10-25T05:15:00Z", closed_until("2026-10-25T05:30:00Z")),
                ("2026-10-31T12:00:00Z", open_until("2026-11-08T06:15:00Z")),
                // Open through the horizon (Monday + 9 days), yet it closes the Sunday after.
                ("2026-10-26T12:00:00Z", open_until("2026-11-08T06:15:00Z")),
            ],
        );
    }

    #[test]
    fn a_range_swallowed_by_a_gap_does_not_end_the_search_at_the_horizon() {
        // Only Sunday 02:00–03:00; the first Sunday after the last closed date is the
        // spring-forward day, when 02:00–03:00 does not exist: it opens the Sunday after.
        let h = hours("America/New_York", &[(Sunday, &[("02:00", "03:00")])], &["2026-03-03"]);
        check(&h, &[("2026-03-02T12:00:00Z", closed_until("2026-03-15T06:00:00Z"))]);
    }

    #[test]
    fn overnight_range_across_the_end_of_the_week() {
        let h = hours("UTC", &[(Sunday, &[("22:00", "02:00")])], &[]);
        check(
            &h,
            &[
                ("2026-03-01T21:00:00Z", closed_until("2026-03-01T22:00:00Z")),
                ("2026-03-01T22:00:00Z", open_until("2026-03-02T02:00:00Z")),
                ("2026-03-02T01:00:00Z", open_until("2026-03-02T02:00:00Z")),
                ("2026-03-02T02:00:00Z", closed_until("2026-03-08T22:00:00Z")),
            ],
        );
    }

    #[test]
    fn to_24_00_is_the_next_midnight() {
        let h = hours("UTC", &[(Monday, &[("20:00", "24:00")])], &[]);
        check(
            &h,
            &[
                ("2026-03-02T23:59:00Z", open_until("2026-03-03T00:00:00Z")),
                ("2026-03-03T00:00:00Z", closed_until("2026-03-09T20:00:00Z")),
            ],
        );
        // `to` 00:00 after a later `from` is overnight to the same midnight.
        let h = hours("UTC", &[(Monday, &[("20:00", "00:00")])], &[]);
        check(&h, &[("2026-03-02T23:59:00Z", open_until("2026-03-03T00:00:00Z"))]);
    }

    #[test]
    fn touching_ranges_do_not_flip() {
        let h = hours("UTC", &[(Monday, &[("12:00", "17:00"), ("08:00", "12:00")])], &[]);
        check(
            &h,
            &[
                ("2026-03-02T07:00:00Z", closed_until("2026-03-02T08:00:00Z")),
                ("2026-03-02T10:00:00Z", open_until("2026-03-02T17:00:00Z")),
                ("2026-03-02T12:00:00Z", open_until("2026-03-02T17:00:00Z")),
            ],
        );
        let h = hours("Europe/Vienna", &[(Monday, &[("22:00", "24:00")]), (Tuesday, &[("00:00", "06:00")])], &[]);
        check(
            &h,
            &[
                ("2026-03-02T21:00:00Z", open_until("2026-03-03T05:00:00Z")),
                ("2026-03-02T23:00:00Z", open_until("2026-03-03T05:00:00Z")),
            ],
        );
        let h = hours("UTC", &[(Friday, &[("22:00", "02:00")]), (Saturday, &[("02:00", "05:00")])], &[]);
        check(&h, &[("2026-03-06T23:00:00Z", open_until("2026-03-07T05:00:00Z"))]);
    }

    #[test]
    fn a_closed_date_closes_the_ranges_starting_on_it() {
        let h = hours("UTC", &[(Monday, &[("08:00", "17:00")])], &["2026-03-02"]);
        check(
            &h,
            &[
                ("2026-02-27T12:00:00Z", closed_until("2026-03-09T08:00:00Z")),
                ("2026-03-02T10:00:00Z", closed_until("2026-03-09T08:00:00Z")),
                ("2026-03-09T10:00:00Z", open_until("2026-03-09T17:00:00Z")),
            ],
        );
    }

    #[test]
    fn a_closed_friday_closes_its_overnight_range_a_closed_saturday_does_not() {
        let week = [(Friday, &[("22:00", "02:00")][..])];
        let h = hours("UTC", &week, &["2026-03-06"]);
        check(
            &h,
            &[
                ("2026-03-06T21:00:00Z", closed_until("2026-03-13T22:00:00Z")),
                ("2026-03-07T01:00:00Z", closed_until("2026-03-13T22:00:00Z")),
            ],
        );
        let h = hours("UTC", &week, &["2026-03-07"]);
        check(&h, &[("2026-03-07T01:00:00Z", open_until("2026-03-07T02:00:00Z"))]);
    }

    #[test]
    fn a_run_of_45_closed_dates() {
        let closed: Vec<String> =
            (0..45).map(|n| add_days(jiff::civil::date(2026, 7, 1), n).unwrap().to_string()).collect();
        let closed: Vec<&str> = closed.iter().map(String::as_str).collect();
        assert_eq!(closed.last(), Some(&"2026-08-14"));
        let weekdays: Vec<(Weekday, &[(&str, &str)])> =
            Weekday::ALL[..5].iter().map(|d| (*d, &[("09:00", "17:00")][..])).collect();
        let h = hours("Europe/Vienna", &weekdays, &closed);
        check(
            &h,
            &[
                ("2026-06-30T10:00:00Z", open_until("2026-06-30T15:00:00Z")),
                ("2026-06-30T18:00:00Z", closed_until("2026-08-17T07:00:00Z")),
                ("2026-07-15T10:00:00Z", closed_until("2026-08-17T07:00:00Z")),
            ],
        );
    }

    #[test]
    fn empty_schedules_never_open() {
        let never = Availability { available: false, next_change_at: None };
        let mut h = ServiceHours::default();
        assert_eq!(availability(&h, ts("2026-03-02T10:00:00Z")), never);
        h.days = Weekday::ALL.iter().map(|d| (*d, Vec::new())).collect();
        h.closed_dates = vec![jiff::civil::date(2026, 3, 2)];
        h.timezone = "Europe/Vienna".into();
        assert_eq!(availability(&h, ts("2026-03-02T10:00:00Z")), never);
        assert!(!is_open(&h, ts("2026-03-02T10:00:00Z")));
    }

    #[test]
    fn always_open_never_closes() {
        let always = Availability { available: true, next_change_at: None };
        for tz in ["UTC", "Europe/Vienna", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham"] {
            let h = every_day(tz, &[("00:00", "24:00")], &[]);
            let halves = every_day(tz, &[("00:00", "12:00"), ("12:00", "00:00")], &[]);
            for at in ["2026-03-02T10:00:00Z", "2026-03-29T01:00:00Z", "2026-10-25T01:30:00Z", "2026-11-01T06:00:00Z"] {
                assert_eq!(availability(&h, ts(at)), always, "{tz} {at}");
                assert_eq!(availability(&halves, ts(at)), always, "{tz} {at}");
            }
        }
        // A schedule in the wrong time zone name falls back to UTC.
        let h = hours("Mars/Olympus", &[(Monday, &[("08:00", "17:00")])], &[]);
        check(&h, &[("2026-03-02T10:00:00Z", open_until("2026-03-02T17:00:00Z"))]);
    }

    #[test]
    fn always_open_until_a_closed_date() {
        let h = every_day("UTC", &[("00:00", "24:00")], &["2026-04-10"]);
        check(
            &h,
            &[
                ("2026-03-02T00:00:00Z", open_until("2026-04-10T00:00:00Z")),
                ("2026-04-10T12:00:00Z", closed_until("2026-04-11T00:00:00Z")),
                ("2026-04-11T00:00:00Z", Availability { available: true, next_change_at: None }),
            ],
        );
        // A closed date millennia ahead is reached by a jump, not a walk: a handful of dates
        // evaluated, where walking day by day would take over 2.5 million.
        let h = every_day("Europe/Vienna", &[("00:00", "12:00"), ("12:00", "00:00")], &["9000-01-01"]);
        check(&h, &[("2026-03-02T00:00:00Z", open_until("8999-12-31T23:00:00Z"))]);
        let mut steps = 0;
        let got = Schedule::new(&h).availability_counting(ts("2026-03-02T00:00:00Z"), &mut steps);
        assert_eq!(got, open_until("8999-12-31T23:00:00Z"));
        assert!(steps < 50, "{steps} dates evaluated to reach a closed date in year 9000");
    }

    #[test]
    fn availability_serializes_as_json() {
        let a = closed_until("2026-03-29T01:00:00Z");
        assert_eq!(
            serde_json::to_value(a).unwrap(),
            json!({"available": false, "next_change_at": "2026-03-29T01:00:00Z"})
        );
        let a = Availability { available: true, next_change_at: None };
        assert_eq!(serde_json::to_value(a).unwrap(), json!({"available": true, "next_change_at": null}));
    }

    #[test]
    fn settings_json_works_too() {
        let doc = json!({"active": false, "chat": {"service_hours": {
            "timezone": "Europe/Vienna",
            "days": {"friday": [{"from": "22:00", "to": "02:00"}], "saturday": [{"from": "02:00", "to": "05:00"}]},
            "closed_dates": ["2026-03-13"]
        }}});
        let h = parse_settings(&doc).unwrap().settings.chat.service_hours;
        check(
            &h,
            &[
                ("2026-03-07T01:00:00Z", open_until("2026-03-07T04:00:00Z")),
                ("2026-03-07T04:00:00Z", closed_until("2026-03-14T01:00:00Z")),
            ],
        );
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        let schedules = [
            ServiceHours::default(),
            every_day("UTC", &[("00:00", "24:00")], &[]),
            every_day("Pacific/Kiritimati", &[("00:00", "24:00")], &["-009999-01-01", "9999-12-31"]),
            every_day("America/New_York", &[("22:00", "02:00")], &["9999-12-30"]),
            hours("Pacific/Chatham", &[(Monday, &[("08:00", "17:00")]), (Sunday, &[("23:00", "01:00")])], &[]),
            hours("Etc/GMT+12", &[(Friday, &[("00:00", "00:15")])], &["-009999-01-01", "9999-12-31"]),
        ];
        let instants = [
            Timestamp::MIN,
            Timestamp::MAX,
            ts("-009999-01-03T00:00:00Z"),
            ts("9999-12-30T00:00:00Z"),
            ts("9999-12-30T21:59:59Z"),
            ts("1970-01-01T00:00:00Z"),
        ];
        for h in &schedules {
            for &at in &instants {
                let a = availability(h, at);
                assert_eq!(a.available, is_open(h, at), "{h:?} {at}");
                if let Some(next) = a.next_change_at {
                    assert!(next > at, "{h:?} {at}");
                }
            }
        }
        let h = every_day("UTC", &[("00:00", "24:00")], &[]);
        assert!(availability(&h, Timestamp::MIN).available);
        assert!(availability(&h, Timestamp::MAX).available);
    }

    // ---- property tests against a brute-force evaluation ----

    const ZONES: [&str; 7] = [
        "UTC",
        "Europe/Vienna",
        "America/New_York",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "America/Santiago",
        "Pacific/Chatham",
    ];
    /// Minutes of wall clock history either side of an instant the brute force looks at.
    const WINDOW: i64 = 180;
    const TWO_DAYS: i64 = 2 * 1440;

    /// The "equivalently" rule of the module docs, on integers: walls are local minutes since
    /// 1970-01-01 00:00 (so a date is `wall.div_euclid(1440)`, and 1970-01-01 was a Thursday).
    struct Brute {
        week: [Vec<(i64, i64)>; 7],
        closed: Vec<i64>,
    }

    impl Brute {
        fn new(h: &ServiceHours) -> Self {
            let mut week: [Vec<(i64, i64)>; 7] = Default::default();
            for (d, ranges) in &h.days {
                week[*d as usize] = ranges.iter().map(|r| (i64::from(r.span().0), i64::from(r.span().1))).collect();
            }
            let closed = h.closed_dates.iter().map(|d| day_number(*d)).collect();
            Self { week, closed }
        }

        fn open(&self, max_past: i64, min_future: i64) -> bool {
            (min_future.div_euclid(1440) - 1..=max_past.div_euclid(1440)).any(|d| {
                !self.closed.contains(&d)
                    && self.week[(d + 3).rem_euclid(7) as usize]
                        .iter()
                        .any(|&(from, to)| max_past >= d * 1440 + from && min_future < d * 1440 + to)
            })
        }
    }

    fn day_number(d: Date) -> i64 {
        Offset::UTC.to_timestamp(d.to_datetime(Time::midnight())).unwrap().as_second().div_euclid(86_400)
    }

    /// Local wall-clock minutes at each whole minute of `[first, first + count)` (Unix minutes).
    fn walls(tz: &TimeZone, first: i64, count: i64) -> Vec<i64> {
        (first..first + count)
            .map(|m| {
                let offset = tz.to_offset(Timestamp::from_second(m * 60).unwrap()).seconds();
                assert_eq!(offset % 60, 0, "whole-minute offsets in the tested years");
                m + i64::from(offset / 60)
            })
            .collect()
    }

    /// A schedule from raw random parts, validated by `parse_settings`.
    fn schedule(
        tz: &str,
        points: &[BTreeSet<u16>; 7],
        touch: &[bool; 7],
        overnight: &[(bool, u16, u16); 7],
        closed: &[Date],
    ) -> ServiceHours {
        // quarter hours: 0..=96, 96 being 24:00
        let mut days: [Vec<(u16, u16)>; 7] = Default::default();
        for (day, pts) in days.iter_mut().zip(points) {
            let pts: Vec<u16> = pts.iter().copied().collect();
            let mut i = 0;
            while i + 1 < pts.len() {
                day.push((pts[i], pts[i + 1]));
                i += if touch[i % 7] { 1 } else { 2 };
            }
        }
        // Overnight ranges after each day's last range: first their `from`s, then `to`s no later
        // than the next day's first `from`.
        let mut froms = [None; 7];
        for (i, &(wanted, f, _)) in overnight.iter().enumerate() {
            let last_end = days[i].last().map_or(0, |r| r.1);
            if wanted && last_end < 96 {
                froms[i] = Some(last_end.max(1) + f % (96 - last_end.max(1)));
            }
        }
        for i in 0..7 {
            let Some(from) = froms[i] else { continue };
            let next = (i + 1) % 7;
            let next_first = days[next].first().map(|r| r.0).into_iter().chain(froms[next]).min().unwrap_or(96);
            let limit = next_first.min(from - 1);
            days[i].push((from, overnight[i].2 % (limit + 1)));
        }
        let clock = |q: u16| ClockTime::from_minutes(q * 15).unwrap().to_string();
        let mut json_days = serde_json::Map::new();
        for (day, ranges) in Weekday::ALL.iter().zip(&days) {
            let list: Vec<_> = ranges.iter().map(|&(f, t)| json!({"from": clock(f), "to": clock(t)})).collect();
            json_days.insert(day.name().into(), json!(list));
        }
        let closed: Vec<String> = closed.iter().map(Date::to_string).collect();
        let doc = json!({"active": false, "chat": {"service_hours":
            {"timezone": tz, "days": json_days, "closed_dates": closed}}});
        match parse_settings(&doc) {
            Ok(p) => p.settings.chat.service_hours,
            Err(e) => panic!("generated an invalid schedule {doc}: {e:?}"),
        }
    }

    /// A random case: zone, instant (whole Unix minute), schedule.
    fn case() -> impl Strategy<Value = (TimeZone, i64, ServiceHours)> {
        let first = ts("2025-01-01T00:00:00Z").as_second() / 60;
        let last = ts("2030-12-31T00:00:00Z").as_second() / 60;
        (
            0..ZONES.len(),
            first..last,
            prop::bool::weighted(0.75),
            // close to the transition, or up to two days before it (so that the two days the
            // second property scans contain it), or either side
            prop_oneof![-WINDOW..=WINDOW, -TWO_DAYS..=0, -TWO_DAYS..=TWO_DAYS],
            // times between 00:00 and 05:00 and after 22:00, where the zones switch, are likelier
            prop::array::uniform7(prop::collection::btree_set(prop_oneof![0u16..=96, 0u16..=20, 88u16..=96], 0..=6)),
            prop::array::uniform7(any::<bool>()),
            prop::array::uniform7((prop::bool::weighted(0.3), any::<u16>(), any::<u16>())),
            prop::collection::vec(-3i64..12, 0..4),
        )
            .prop_map(|(zone, minute, near_transition, shift, points, touch, overnight, closed)| {
                let name = ZONES[zone];
                let tz = TimeZone::get(name).unwrap();
                let mut minute = minute;
                if near_transition && let Some(tr) = tz.following(Timestamp::from_second(minute * 60).unwrap()).next() {
                    minute = tr.timestamp().as_second().div_euclid(60) + shift;
                }
                let today = tz.to_datetime(Timestamp::from_second(minute * 60).unwrap()).date();
                let closed: Vec<Date> = closed.iter().map(|n| add_days(today, *n).unwrap()).collect();
                let h = schedule(name, &points, &touch, &overnight, &closed);
                (tz, minute, h)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn available_agrees_with_the_brute_force((tz, minute, h) in case()) {
            let brute = Brute::new(&h);
            let w = walls(&tz, minute - WINDOW, 2 * WINDOW + 1);
            let max_past = w[..=WINDOW as usize].iter().copied().max().unwrap();
            let min_future = w[WINDOW as usize..].iter().copied().min().unwrap();
            let want = brute.open(max_past, min_future);
            let at = Timestamp::from_second(minute * 60).unwrap();
            prop_assert_eq!(availability(&h, at).available, want, "{:?} at {}", h, at);
            prop_assert_eq!(is_open(&h, at), want);
        }

        #[test]
        fn nothing_changes_before_next_change_at((tz, minute, h) in case()) {
            let brute = Brute::new(&h);
            let w = walls(&tz, minute - WINDOW, WINDOW + TWO_DAYS + 1 + WINDOW);
            let mut max_past = w.clone();
            for i in 1..max_past.len() {
                max_past[i] = max_past[i].max(max_past[i - 1]);
            }
            let mut min_future = w;
            for i in (0..min_future.len() - 1).rev() {
                min_future[i] = min_future[i].min(min_future[i + 1]);
            }
            // the brute-force state k minutes after `minute`
            let state = |k: i64| brute.open(max_past[(WINDOW + k) as usize], min_future[(WINDOW + k) as usize]);
            let at = Timestamp::from_second(minute * 60).unwrap();
            let a = availability(&h, at);
            let change = a.next_change_at.map(|t| {
                let secs = t.as_second() - minute * 60;
                assert!(secs > 0 && secs % 60 == 0 && t.subsec_nanosecond() == 0, "{t}");
                secs / 60
            });
            let until = change.map_or(TWO_DAYS, |c| c.min(TWO_DAYS));
            for k in 0..until {
                prop_assert_eq!(state(k), a.available, "{:?} at {} + {} min: {:?}", h, at, k, a);
            }
            if let Some(c) = change.filter(|c| *c <= TWO_DAYS) {
                prop_assert_ne!(state(c), a.available, "{:?} at {}: {:?}", h, at, a);
            }
        }
    }
}
