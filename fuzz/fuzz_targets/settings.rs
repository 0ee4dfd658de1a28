//! The settings document parser and validator (shared/src/domain/settings.rs, validation.rs).
//!
//! Input: a JSON body (bytes that parse as JSON), else a document built with `arbitrary`
//! (common.rs). `parse_settings` never panics, and:
//! - a refusal names at least one field, each error with a field and a message;
//! - an accepted document keeps the documented rules: `hipchat_url` present when active and
//!   already normalised, a positive room id, a prefix that fits a room name, a canonical IANA
//!   zone, at most 12 ranges a day with `from` ≠ `to`, `from` before 24:00, no overlaps within
//!   a day or into the next day, closed dates sorted without duplicates (at most 500);
//! - re-serialised, the accepted settings parse to the same value without warnings, and
//!   deserialise (serde, as stored) to the same value;
//! - the service-hours evaluator answers for the accepted schedule (any tz database zone).
#![no_main]

#[path = "common.rs"]
mod common;

use arbitrary::{Arbitrary, Result, Unstructured};
use common::{Extra, Member, Text, ToJson, document, pick, picked};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use shared::domain::hipchat_url;
use shared::domain::service_hours::{availability, is_open};
use shared::domain::settings::{
    ClockTime, MAX_CLOSED_DATES, MAX_RANGES_PER_DAY, PREFIX_MAX, Settings, canonical_timezone, parse_settings,
};

fuzz_target!(|data: &[u8]| {
    if let Some(doc) = document::<Doc>(data) {
        check(&doc);
    }
});

fn check(doc: &Value) {
    let parsed = match parse_settings(doc) {
        Err(errors) => {
            assert!(!errors.is_empty(), "refused without an error: {doc}");
            for e in &errors {
                // A field is named by its path; only a member called "" has an empty one.
                assert!(!e.message.is_empty() && (!e.field.is_empty() || e.message == "is not a known field"), "{e:?}");
            }
            return;
        }
        Ok(p) => p,
    };
    let s = &parsed.settings;
    assert_eq!(doc.get("active").and_then(Value::as_bool), Some(s.active));
    if s.active {
        assert!(s.hipchat_url.is_some(), "{doc}");
    }
    if let Some(url) = &s.hipchat_url {
        let again = hipchat_url::normalize(url).unwrap_or_else(|e| panic!("{url:?} stored but refused: {e}"));
        assert_eq!(&again.base, url, "normalising is not idempotent");
        assert!(again.notes.is_empty(), "{url:?}: {:?}", again.notes);
    }
    if let Some(id) = s.notification_room_id {
        assert!((1..=i64::MAX as u64).contains(&id));
    }
    if let Some(p) = &s.room_name_prefix {
        assert!(p.chars().count() <= PREFIX_MAX && p.trim() == p && !p.is_empty(), "{p:?}");
        assert!(!p.chars().any(char::is_control), "{p:?}");
    }
    let sh = &s.chat.service_hours;
    assert_eq!(canonical_timezone(&sh.timezone).as_deref(), Ok(sh.timezone.as_str()));
    for (day, ranges) in &sh.days {
        assert!(ranges.len() <= MAX_RANGES_PER_DAY);
        let mut spans: Vec<(u32, u32)> = ranges.iter().map(|r| r.span()).collect();
        for r in ranges {
            assert!(r.from != r.to && r.from < ClockTime::MIDNIGHT_END, "{day:?} {r:?}");
        }
        spans.sort();
        for w in spans.windows(2) {
            assert!(w[1].0 >= w[0].1, "{day:?}: overlapping {w:?}");
        }
        for r in ranges.iter().filter(|r| r.is_overnight()) {
            for other in sh.days.get(&day.next()).into_iter().flatten() {
                assert!(other.from >= r.to, "{day:?} {r:?} runs into {other:?}");
            }
        }
    }
    assert!(sh.closed_dates.len() <= MAX_CLOSED_DATES);
    assert!(sh.closed_dates.windows(2).all(|w| w[0] < w[1]), "closed dates not sorted");
    let _ = s.completeness_warnings(false);

    // Round trip: what we store and send back parses to the same settings, with nothing to say.
    let out = serde_json::to_value(s).expect("settings serialise");
    let again = parse_settings(&out).unwrap_or_else(|e| panic!("re-serialised settings refused: {out} {e:?}"));
    assert_eq!(&again.settings, s, "{out}");
    assert!(again.warnings.is_empty(), "{out}: {:?}", again.warnings);
    let stored: Settings = serde_json::from_value(out.clone()).unwrap_or_else(|e| panic!("{out}: {e}"));
    assert_eq!(&stored, s);

    // The evaluator takes every zone the validator accepts.
    let now = jiff::Timestamp::from_second(1_790_000_000).unwrap();
    let a = availability(sh, now);
    assert_eq!(is_open(sh, now), a.available);
    if let Some(next) = a.next_change_at {
        assert!(next > now);
    }
}

// ---- the structured documents ------------------------------------------------------------

#[derive(Arbitrary, Debug)]
struct Doc {
    active: Member<bool>,
    hipchat_url: Member<Url>,
    notification_room_id: Member<RoomId>,
    language: Member<Lang>,
    room_name_prefix: Member<Text>,
    chat: Member<Chat>,
    notifications: Member<Notifications>,
    extra: Extra,
}

impl ToJson for Doc {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        self.active.put(&mut m, "active");
        self.hipchat_url.put(&mut m, "hipchat_url");
        self.notification_room_id.put(&mut m, "notification_room_id");
        self.language.put(&mut m, "language");
        self.room_name_prefix.put(&mut m, "room_name_prefix");
        self.chat.put(&mut m, "chat");
        self.notifications.put(&mut m, "notifications");
        self.extra.put(&mut m);
        Value::Object(m)
    }
}

picked!(
    Url,
    [
        "https://hipchat.example.com",
        "https://hipchat.example.com/",
        "https://hipchat.example.com/v2/",
        "http://hipchat.example.com:8080/chat?x=1#top",
        " https://HipChat.Example.COM ",
        "https://hipchat.example.com:443",
        "https://user:pw@hipchat.example.com",
        "ftp://hipchat.example.com",
        "https://bücher.example",
        "https://xn--bcher-kva.example",
        "http://[::1]:8080",
        "http://127.0.0.1",
        "http://0x7f.1",
        "https://",
        "https:///path",
        "hipchat.example.com",
        "http:hipchat.example.com",
        "https://hipchat.example.com?",
        "https://hipchat.example.com#",
        "https://hipchat.example.com/?#",
        "https://h.example.com./",
        "https://%68.example.com",
    ]
);
picked!(Lang, ["en", "de", "fr", "EN", ""]);
picked!(Position, ["top", "bottom", "both", "left", "Top"]);
picked!(LoginLogout, ["off", "customers", "customers_and_partners", "all"]);
picked!(
    Zone,
    [
        "UTC",
        "utc",
        "Europe/Vienna",
        "europe/vienna",
        "EUROPE/VIENNA",
        "America/New_York",
        "US/Pacific",
        "Europe/Kiev",
        "Europe/Kyiv",
        "Asia/Kathmandu",
        "Australia/Lord_Howe",
        "Pacific/Apia",
        "America/Santiago",
        "Etc/GMT+12",
        "Etc/GMT-14",
        "GMT",
        "EST5EDT",
        "Europe/Atlantis",
        "localtime",
        "posixrules",
        "Factory",
        "posix/Europe/Vienna",
        "right/UTC",
        "/etc/localtime",
        "../UTC",
        "Europe/Vienna ",
        "",
    ]
);
picked!(DayName, ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "Monday", "funday",]);

/// A room id: any JSON number.
#[derive(Arbitrary, Debug)]
enum RoomId {
    Small(u16),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
}

impl ToJson for RoomId {
    fn to_json(&self) -> Value {
        match *self {
            RoomId::Small(n) => Value::from(n),
            RoomId::Unsigned(n) => Value::from(n),
            RoomId::Signed(n) => Value::from(n),
            RoomId::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Chat {
    show_button: Member<bool>,
    button_position: Member<Position>,
    service_hours: Member<ServiceHours>,
    extra: Extra,
}

impl ToJson for Chat {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        self.show_button.put(&mut m, "show_button");
        self.button_position.put(&mut m, "button_position");
        self.service_hours.put(&mut m, "service_hours");
        self.extra.put(&mut m);
        Value::Object(m)
    }
}

#[derive(Arbitrary, Debug)]
struct ServiceHours {
    timezone: Member<Zone>,
    days: Member<Days>,
    closed_dates: Member<Vec<DateText>>,
    extra: Extra,
}

impl ToJson for ServiceHours {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        self.timezone.put(&mut m, "timezone");
        self.days.put(&mut m, "days");
        self.closed_dates.put(&mut m, "closed_dates");
        self.extra.put(&mut m);
        Value::Object(m)
    }
}

#[derive(Arbitrary, Debug)]
struct Days(Vec<(DayName, Member<Vec<Range>>)>);

impl ToJson for Days {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (name, ranges) in &self.0 {
            ranges.put(&mut m, &name.0);
        }
        Value::Object(m)
    }
}

#[derive(Arbitrary, Debug)]
struct Range {
    from: Member<TimeText>,
    to: Member<TimeText>,
    extra: Extra,
}

impl ToJson for Range {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        self.from.put(&mut m, "from");
        self.to.put(&mut m, "to");
        self.extra.put(&mut m);
        Value::Object(m)
    }
}

/// `HH:MM`, mostly on quarter hours and mostly valid.
#[derive(Debug)]
struct TimeText(String);

impl<'a> Arbitrary<'a> for TimeText {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(TimeText(match u.int_in_range(0..=9)? {
            0 => pick(u, &["24:00", "24:01", "25:00", "12:60", "8:00", "0800", "08:0", "０８:００", "-1:00"])?,
            1 => format!("{:02}:{:02}", u.int_in_range(0..=99)?, u.int_in_range(0..=99)?),
            _ => {
                let q: u16 = u.int_in_range(0..=96)?;
                format!("{:02}:{:02}", q / 4, q % 4 * 15)
            }
        }))
    }
}

impl ToJson for TimeText {
    fn to_json(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// `YYYY-MM-DD`, mostly valid and near today, sometimes at the ends of the calendar.
#[derive(Debug)]
struct DateText(String);

impl<'a> Arbitrary<'a> for DateText {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(DateText(match u.int_in_range(0..=9)? {
            0 => pick(u, &["0000-01-01", "9999-12-31", "-001-01-01", "2026-02-29", "2024-02-29", "2026-12-24T00:00"])?,
            1 => format!(
                "{:04}-{:02}-{:02}",
                u.int_in_range(0..=9999)?,
                u.int_in_range(0..=13)?,
                u.int_in_range(0..=32)?
            ),
            _ => format!(
                "{:04}-{:02}-{:02}",
                u.int_in_range(2020..=2035)?,
                u.int_in_range(1..=12)?,
                u.int_in_range(1..=28)?
            ),
        }))
    }
}

impl ToJson for DateText {
    fn to_json(&self) -> Value {
        Value::String(self.0.clone())
    }
}

#[derive(Arbitrary, Debug)]
struct Notifications {
    login_logout: Member<LoginLogout>,
    comment_created: Member<bool>,
    issue_created: Member<bool>,
    issue_approval: Member<bool>,
    extra: Extra,
}

impl ToJson for Notifications {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        self.login_logout.put(&mut m, "login_logout");
        self.comment_created.put(&mut m, "comment_created");
        self.issue_created.put(&mut m, "issue_created");
        self.issue_approval.put(&mut m, "issue_approval");
        self.extra.put(&mut m);
        Value::Object(m)
    }
}
