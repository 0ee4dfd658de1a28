//! The service-hours evaluator (shared/src/domain/service_hours.rs `availability`, `is_open`).
//!
//! Input (built with `arbitrary`): a zone from a list of IANA names chosen for their odd
//! transitions (DST gaps and folds at midnight, half-hour and 45-minute offsets, whole skipped
//! days, negative DST, historic offsets with seconds, an unknown name), ranges for each weekday
//! (any `from`/`to` from 00:00 to 24:00: validated schedules and ones `parse_settings` would
//! refuse, since `ServiceHours` is a plain struct), closed dates near the instant, far away
//! and at the ends of the calendar, and an instant: near 2026, at or around a transition of the
//! zone, anywhere, or at the ends of jiff's range.
//!
//! `availability` and `is_open` never panic, and:
//! - `is_open(now)` is `availability(now).available`;
//! - when `next_change_at` is `Some(t)`: `t > now`, the state at `t` differs, the state just
//!   before `t` and at an instant chosen in `[now, t)` is still the current one;
//! - an empty week never opens: `{false, None}`.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp};
use libfuzzer_sys::fuzz_target;
use shared::domain::service_hours::{Availability, availability, is_open};
use shared::domain::settings::{ClockTime, MAX_CLOSED_DATES, MAX_RANGES_PER_DAY, ServiceHours, TimeRange, Weekday};

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Vienna",
    "America/New_York",
    // DST at midnight (the local midnight is skipped or repeated)
    "America/Santiago",
    "America/Havana",
    "America/Asuncion",
    "America/Sao_Paulo",
    "Asia/Beirut",
    "Asia/Gaza",
    "Africa/Cairo",
    // 30-minute DST; 45-minute offsets
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/St_Johns",
    // whole days skipped across the date line
    "Pacific/Apia",
    "Pacific/Kiritimati",
    "Pacific/Kwajalein",
    // DST suspended for Ramadan, negative DST, a two-hour DST
    "Africa/Casablanca",
    "Europe/Dublin",
    "Antarctica/Troll",
    // old offsets with seconds (LMT), many changes
    "Europe/Amsterdam",
    "Africa/Monrovia",
    "Asia/Tehran",
    "Europe/Moscow",
    "America/Caracas",
    "Etc/GMT+12",
    "Etc/GMT-14",
    // unknown: the evaluator falls back to UTC
    "Not/A_Zone",
];

/// The end of the tested "present": 2026-01-01 (the instant and dates cluster around it).
const BASE_SECS: i64 = 1_767_225_600;

#[derive(Arbitrary, Debug)]
struct Input {
    zone: u8,
    /// Ranges per weekday (Monday first) in minutes, each reduced to `0..=1440`.
    days: [Vec<(u16, u16)>; 7],
    /// Which weekdays are in the map at all (absent vs. present and empty).
    present: u8,
    closed: Vec<Closed>,
    now: Now,
    /// Where in `[now, next_change_at)` to look again, as a fraction of `u32::MAX`.
    probe: u32,
}

#[derive(Arbitrary, Debug)]
enum Closed {
    /// Days from the local date of `now`.
    Near(i8),
    /// Days from the local date of `now`, up to a few centuries.
    Far(i32),
    /// The first or the last days jiff knows.
    Edge(bool, u8),
}

#[derive(Arbitrary, Debug)]
enum Now {
    /// Minutes from 2026-01-01 (about ±4 years), and seconds within the minute.
    Near(i32, u8),
    /// The `n`-th transition of the zone after 2026-01-01 (or before, for a negative `n`),
    /// shifted by some seconds.
    Transition(i8, i16),
    /// Any second jiff can represent.
    Any(i64),
    /// Nanoseconds from either end of jiff's range.
    Edge(bool, u64),
}

fn now_of(n: &Now, tz: &TimeZone) -> Option<Timestamp> {
    let base = Timestamp::from_second(BASE_SECS).ok()?;
    match *n {
        Now::Near(minutes, secs) => {
            base.checked_add(SignedDuration::from_secs(i64::from(minutes) * 60 + i64::from(secs % 60))).ok()
        }
        Now::Transition(k, shift) => {
            let tr = if k >= 0 {
                tz.following(base).nth(usize::from(k.unsigned_abs()))
            } else {
                tz.preceding(base).nth(usize::from(k.unsigned_abs()) - 1)
            }?;
            tr.timestamp().checked_add(SignedDuration::from_secs(i64::from(shift))).ok()
        }
        Now::Any(s) => {
            let (lo, hi) = (Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
            Timestamp::from_second(lo + s.rem_euclid(hi - lo + 1)).ok()
        }
        Now::Edge(high, nanos) => {
            let nanos = i128::from(nanos % 1_000_000_000_000_000);
            let n = if high { Timestamp::MAX.as_nanosecond() - nanos } else { Timestamp::MIN.as_nanosecond() + nanos };
            Timestamp::from_nanosecond(n).ok()
        }
    }
}

fn add_days(d: Date, n: i64) -> Option<Date> {
    d.checked_add(Span::new().try_days(n).ok()?).ok()
}

fn closed_of(c: &Closed, today: Date) -> Option<Date> {
    match *c {
        Closed::Near(n) => add_days(today, i64::from(n)),
        Closed::Far(n) => add_days(today, i64::from(n % 200_000)),
        Closed::Edge(false, n) => add_days(Date::MIN, i64::from(n)),
        Closed::Edge(true, n) => add_days(Date::MAX, -i64::from(n)),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else { return };
    let name = ZONES[usize::from(input.zone) % ZONES.len()];
    let tz = TimeZone::get(name).unwrap_or(TimeZone::UTC);
    let Some(now) = now_of(&input.now, &tz) else { return };
    let today = tz.to_datetime(now).date();

    let mut hours = ServiceHours { timezone: name.to_owned(), ..ServiceHours::default() };
    for (i, (day, ranges)) in Weekday::ALL.into_iter().zip(&input.days).enumerate() {
        if input.present & (1 << i) == 0 && ranges.is_empty() {
            continue;
        }
        let ranges = ranges
            .iter()
            .take(MAX_RANGES_PER_DAY)
            .map(|&(f, t)| TimeRange {
                from: ClockTime::from_minutes(f % 1441).unwrap(),
                to: ClockTime::from_minutes(t % 1441).unwrap(),
            })
            .collect();
        hours.days.insert(day, ranges);
    }
    let mut closed: Vec<Date> =
        input.closed.iter().take(MAX_CLOSED_DATES).filter_map(|c| closed_of(c, today)).collect();
    closed.sort();
    closed.dedup();
    hours.closed_dates = closed;

    let a = availability(&hours, now);
    assert_eq!(is_open(&hours, now), a.available, "is_open disagrees at {now}: {hours:?}");
    if hours.days.values().all(|r| r.iter().all(|r| r.from == r.to)) {
        assert_eq!(a, Availability { available: false, next_change_at: None }, "{hours:?}");
    }
    let Some(next) = a.next_change_at else { return };
    assert!(next > now, "next_change_at {next} is not after {now}: {hours:?}");
    assert_ne!(is_open(&hours, next), a.available, "no change at {next} (from {now}): {hours:?}");
    let before = next.checked_sub(SignedDuration::from_nanos(1)).unwrap();
    assert_eq!(is_open(&hours, before), a.available, "a change before {next} (from {now}): {hours:?}");
    let gap = next.as_nanosecond() - now.as_nanosecond();
    let probe = Timestamp::from_nanosecond(now.as_nanosecond() + gap * i128::from(input.probe) / i128::from(u32::MAX))
        .unwrap_or(now);
    if probe < next {
        assert_eq!(is_open(&hours, probe), a.available, "a change at {probe} before {next} (from {now}): {hours:?}");
    }
});
