//! The partner settings document (docs/api.md "Settings") and its validation.
//!
//! `PUT /settings` is a full replace. Members a client leaves out take their defaults
//! (integration inactive, chat button off, every notification off, `en`, `UTC`); only
//! `active` is required, and `hipchat_url` when `active` is true. The read-only members a
//! `GET` adds (`token`, `version`, `updated_at`, `warnings`) are ignored, any other unknown
//! member is refused. Every problem is reported at once, each naming its field.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::hipchat_url;
use super::token::parse_date;
use super::validation::{FieldError, ObjectReader, Warning, join, kind};
use jiff::civil::Date;

/// HipChat room names are 1–50 characters; a personal room is `<prefix> - <First> <Last>`.
pub const ROOM_NAME_MAX: usize = 50;
/// The longest prefix that still leaves room for ` - X`.
pub const PREFIX_MAX: usize = ROOM_NAME_MAX - 4;
pub const MAX_RANGES_PER_DAY: usize = 12;
pub const MAX_CLOSED_DATES: usize = 500;
/// Members a `GET` adds; a client may send them back and we ignore them.
pub const READ_ONLY_MEMBERS: [&str; 4] = ["token", "version", "updated_at", "warnings"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub active: bool,
    pub hipchat_url: Option<String>,
    pub notification_room_id: Option<u64>,
    pub language: Language,
    pub room_name_prefix: Option<String>,
    pub chat: ChatSettings,
    pub notifications: Notifications,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    De,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSettings {
    pub show_button: bool,
    pub button_position: ButtonPosition,
    pub service_hours: ServiceHours,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ButtonPosition {
    Top,
    Bottom,
    #[default]
    Both,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceHours {
    /// An IANA time zone name; `UTC` is the guide's "server time".
    pub timezone: String,
    /// Ranges per weekday; a day that is absent or empty is closed.
    pub days: BTreeMap<Weekday, Vec<TimeRange>>,
    /// Local dates on which no range starts (holidays), sorted, without duplicates.
    pub closed_dates: Vec<Date>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Weekday::Monday => "monday",
            Weekday::Tuesday => "tuesday",
            Weekday::Wednesday => "wednesday",
            Weekday::Thursday => "thursday",
            Weekday::Friday => "friday",
            Weekday::Saturday => "saturday",
            Weekday::Sunday => "sunday",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == s)
    }

    pub fn next(self) -> Self {
        Self::ALL[(self as usize + 1) % 7]
    }

    pub fn to_jiff(self) -> jiff::civil::Weekday {
        use jiff::civil::Weekday as J;
        [J::Monday, J::Tuesday, J::Wednesday, J::Thursday, J::Friday, J::Saturday, J::Sunday][self as usize]
    }
}

/// One range of a day. `to` earlier than `from` runs past midnight and belongs to the day
/// it starts; `to` may be `24:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    pub from: ClockTime,
    pub to: ClockTime,
}

impl TimeRange {
    pub fn is_overnight(&self) -> bool {
        self.to.minutes() < self.from.minutes()
    }

    /// Minutes after the start day's midnight: `[start, end)`, `end` up to 2 × 1440.
    pub fn span(&self) -> (u32, u32) {
        let (f, t) = (u32::from(self.from.minutes()), u32::from(self.to.minutes()));
        if t < f { (f, t + 1440) } else { (f, t) }
    }
}

/// A wall-clock time `HH:MM` from `00:00` to `24:00`, stored as minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime(u16);

impl ClockTime {
    pub const MIDNIGHT_END: ClockTime = ClockTime(1440);

    /// `HH:MM` with two digits each; `24:00` is the only time past `23:59`.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 5 || b[2] != b':' || !b.iter().enumerate().all(|(i, c)| i == 2 || c.is_ascii_digit()) {
            return None;
        }
        let h = u16::from(b[0] - b'0') * 10 + u16::from(b[1] - b'0');
        let m = u16::from(b[3] - b'0') * 10 + u16::from(b[4] - b'0');
        match (h, m) {
            (24, 0) => Some(Self(1440)),
            (0..=23, 0..=59) => Some(Self(h * 60 + m)),
            _ => None,
        }
    }

    pub fn from_minutes(m: u16) -> Option<Self> {
        (m <= 1440).then_some(Self(m))
    }

    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid time {s:?}, expected HH:MM")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notifications {
    pub login_logout: LoginLogout,
    pub comment_created: bool,
    pub issue_created: bool,
    pub issue_approval: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LoginLogout {
    #[default]
    Off,
    Customers,
    CustomersAndPartners,
}

impl Default for ServiceHours {
    fn default() -> Self {
        Self { timezone: "UTC".into(), days: BTreeMap::new(), closed_dates: Vec::new() }
    }
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self { show_button: false, button_position: ButtonPosition::Both, service_hours: ServiceHours::default() }
    }
}

impl Default for Notifications {
    fn default() -> Self {
        Self { login_logout: LoginLogout::Off, comment_created: false, issue_created: false, issue_approval: false }
    }
}

impl Settings {
    /// The minimal record `PUT /token` creates when a partner has no settings yet.
    pub fn inactive() -> Self {
        Self {
            active: false,
            hipchat_url: None,
            notification_room_id: None,
            language: Language::En,
            room_name_prefix: None,
            chat: ChatSettings::default(),
            notifications: Notifications::default(),
        }
    }

    /// Hints about settings that are valid but not yet complete (shown in `warnings`).
    pub fn completeness_warnings(&self, token_configured: bool) -> Vec<Warning> {
        let mut w = Vec::new();
        if self.active && !token_configured {
            w.push(Warning::new("token", "no HipChat token is stored yet: PUT /token"));
        }
        if self.active && self.notification_room_id.is_none() {
            w.push(Warning::new(
                "notification_room_id",
                "no notification room is chosen: chat requests and events have nowhere to go",
            ));
        }
        w
    }
}

/// An accepted settings document and what was changed on the way in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSettings {
    pub settings: Settings,
    pub warnings: Vec<Warning>,
}

/// Validates a `PUT /settings` body.
pub fn parse_settings(body: &Value) -> Result<ParsedSettings, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let Some(mut r) = ObjectReader::new(body, "", &mut errors) else {
        return Err(errors);
    };
    r.ignore(&READ_ONLY_MEMBERS);

    let active = r.bool("active", None, &mut errors);
    let hipchat_url = match r.str("hipchat_url", &mut errors) {
        None => {
            if active == Some(true) && r.get("hipchat_url").is_none() {
                errors.push(FieldError::new("hipchat_url", "is required when active is true"));
            }
            None
        }
        Some(raw) => match hipchat_url::normalize(raw) {
            Ok(n) => {
                warnings.extend(n.notes.into_iter().map(|m| Warning::new("hipchat_url", m)));
                Some(n.base)
            }
            Err(m) => {
                errors.push(FieldError::new("hipchat_url", m));
                None
            }
        },
    };
    let notification_room_id = match r.get("notification_room_id") {
        None => None,
        Some(v) => match v.as_u64().filter(|n| (1..=i64::MAX as u64).contains(n)) {
            Some(n) => Some(n),
            None => {
                errors.push(FieldError::new(
                    "notification_room_id",
                    format!("must be a positive integer room id, got {}", describe(v)),
                ));
                None
            }
        },
    };
    let language = match r.str("language", &mut errors) {
        None => Language::En,
        Some("en") => Language::En,
        Some("de") => Language::De,
        Some(other) => {
            errors.push(FieldError::new("language", format!("must be one of en, de; got {other:?}")));
            Language::En
        }
    };
    let room_name_prefix = r.str("room_name_prefix", &mut errors).and_then(|p| match check_prefix(p) {
        Ok(()) => Some(p.to_owned()),
        Err(m) => {
            errors.push(FieldError::new("room_name_prefix", m));
            None
        }
    });
    let chat = match r.get("chat") {
        None => ChatSettings::default(),
        Some(v) => parse_chat(v, &mut errors, &mut warnings),
    };
    let notifications = match r.get("notifications") {
        None => Notifications::default(),
        Some(v) => parse_notifications(v, &mut errors),
    };
    r.finish(&mut errors);

    match active {
        Some(active) if errors.is_empty() => Ok(ParsedSettings {
            settings: Settings {
                active,
                hipchat_url,
                notification_room_id,
                language,
                room_name_prefix,
                chat,
                notifications,
            },
            warnings,
        }),
        _ => Err(errors),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        other => kind(other).to_owned(),
    }
}

fn check_prefix(p: &str) -> Result<(), String> {
    let n = p.chars().count();
    if p.trim().is_empty() {
        return Err("must not be blank; use null for the language file's prefix".into());
    }
    if p.trim() != p {
        return Err("must not start or end with blanks".into());
    }
    if p.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if n > PREFIX_MAX {
        return Err(format!(
            "must be at most {PREFIX_MAX} characters so that '<prefix> - <name>' fits HipChat's {ROOM_NAME_MAX}-character room names, got {n}"
        ));
    }
    Ok(())
}

fn parse_enum<T: Copy>(
    value: Option<&str>,
    field: String,
    options: &[(&str, T)],
    default: T,
    errors: &mut Vec<FieldError>,
) -> T {
    match value {
        None => default,
        Some(s) => options.iter().find(|(name, _)| *name == s).map(|(_, v)| *v).unwrap_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            errors.push(FieldError::new(field, format!("must be one of {}; got {s:?}", names.join(", "))));
            default
        }),
    }
}

fn parse_chat(v: &Value, errors: &mut Vec<FieldError>, warnings: &mut Vec<Warning>) -> ChatSettings {
    let mut out = ChatSettings::default();
    let Some(mut r) = ObjectReader::new(v, "chat", errors) else {
        return out;
    };
    out.show_button = r.bool("show_button", Some(false), errors).unwrap_or(false);
    let pos = r.str("button_position", errors);
    out.button_position = parse_enum(
        pos,
        r.path("button_position"),
        &[("top", ButtonPosition::Top), ("bottom", ButtonPosition::Bottom), ("both", ButtonPosition::Both)],
        ButtonPosition::Both,
        errors,
    );
    if let Some(sh) = r.get("service_hours") {
        out.service_hours = parse_service_hours(sh, errors, warnings);
    }
    r.finish(errors);
    out
}

fn parse_service_hours(v: &Value, errors: &mut Vec<FieldError>, warnings: &mut Vec<Warning>) -> ServiceHours {
    const PATH: &str = "chat.service_hours";
    let mut out = ServiceHours::default();
    let Some(mut r) = ObjectReader::new(v, PATH, errors) else {
        return out;
    };
    if let Some(tz) = r.str("timezone", errors) {
        match canonical_timezone(tz) {
            Ok(name) => {
                if name != tz {
                    warnings.push(Warning::new(r.path("timezone"), format!("stored as {name}")));
                }
                out.timezone = name;
            }
            Err(m) => errors.push(FieldError::new(r.path("timezone"), m)),
        }
    }
    if let Some(days) = r.get("days") {
        out.days = parse_days(days, &r.path("days"), errors);
    }
    if let Some(dates) = r.get("closed_dates") {
        out.closed_dates = parse_closed_dates(dates, &r.path("closed_dates"), errors);
    }
    r.finish(errors);
    out
}

/// The canonical IANA name of a time zone (`europe/vienna` → `Europe/Vienna`). Names that
/// are files of the tz database rather than zones (`localtime`, `posixrules`, `Factory`,
/// `posix/...`, `right/...`) are refused.
pub fn canonical_timezone(name: &str) -> Result<String, String> {
    let refuse = || format!("must be an IANA time zone name such as Europe/Vienna or UTC; got {name:?}");
    if name.is_empty() || name.len() > 64 {
        return Err(refuse());
    }
    let tz = jiff::tz::TimeZone::get(name).map_err(|_| refuse())?;
    let canonical = tz.iana_name().ok_or_else(refuse)?;
    let lower = canonical.to_ascii_lowercase();
    if matches!(lower.as_str(), "localtime" | "posixrules" | "factory")
        || lower.starts_with("posix/")
        || lower.starts_with("right/")
    {
        return Err(refuse());
    }
    Ok(canonical.to_owned())
}

fn parse_days(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> BTreeMap<Weekday, Vec<TimeRange>> {
    let mut days = BTreeMap::new();
    let Some(map) = v.as_object() else {
        errors.push(FieldError::new(path, format!("must be an object with weekday names as keys, got {}", kind(v))));
        return days;
    };
    for (name, ranges) in map {
        let day_path = join(path, name);
        let Some(day) = Weekday::from_name(name) else {
            errors.push(FieldError::new(
                day_path,
                "is not a weekday; use monday, tuesday, wednesday, thursday, friday, saturday or sunday",
            ));
            continue;
        };
        if ranges.is_null() {
            days.insert(day, Vec::new());
            continue;
        }
        let Some(items) = ranges.as_array() else {
            errors.push(FieldError::new(
                day_path,
                format!("must be an array of {{\"from\", \"to\"}} ranges, got {}", kind(ranges)),
            ));
            continue;
        };
        if items.len() > MAX_RANGES_PER_DAY {
            errors.push(FieldError::new(day_path, format!("must have at most {MAX_RANGES_PER_DAY} ranges")));
            continue;
        }
        let mut parsed = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(range) = parse_range(item, &format!("{day_path}[{i}]"), errors) {
                parsed.push((i, range));
            }
        }
        check_overlaps(&parsed, &day_path, errors);
        days.insert(day, parsed.into_iter().map(|(_, r)| r).collect());
    }
    check_overnight_spill(&days, path, errors);
    days
}

fn parse_range(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<TimeRange> {
    let mut r = ObjectReader::new(v, path, errors)?;
    let time = |member: &'static str, r: &mut ObjectReader<'_>, errors: &mut Vec<FieldError>| {
        let field = r.path(member);
        match r.required_str(member, errors) {
            None => None,
            Some(s) => match ClockTime::parse(s) {
                Some(t) if member == "from" && t == ClockTime::MIDNIGHT_END => {
                    errors.push(FieldError::new(field, "24:00 is allowed only as 'to'"));
                    None
                }
                Some(t) => Some(t),
                None => {
                    errors.push(FieldError::new(
                        field,
                        format!("must be a time HH:MM from 00:00 to 23:59 (or 24:00 as 'to'); got {s:?}"),
                    ));
                    None
                }
            },
        }
    };
    let from = time("from", &mut r, errors);
    let to = time("to", &mut r, errors);
    r.finish(errors);
    let (from, to) = (from?, to?);
    if from == to {
        errors.push(FieldError::new(path, "from and to must differ (for the whole day use 00:00 to 24:00)"));
        return None;
    }
    Some(TimeRange { from, to })
}

/// Ranges of one day must not overlap (overnight ranges count up to their end next day).
fn check_overlaps(ranges: &[(usize, TimeRange)], day_path: &str, errors: &mut Vec<FieldError>) {
    let mut sorted: Vec<&(usize, TimeRange)> = ranges.iter().collect();
    sorted.sort_by_key(|(_, r)| r.span());
    for pair in sorted.windows(2) {
        let ((i, a), (j, b)) = (pair[0], pair[1]);
        if b.span().0 < a.span().1 {
            let (first, second) = if i < j { (i, j) } else { (j, i) };
            errors.push(FieldError::new(
                format!("{day_path}[{second}]"),
                format!("overlaps range [{first}] ({}–{}) of the same day", a.from, a.to),
            ));
        }
    }
}

/// An overnight range must end before the next day's first range starts.
fn check_overnight_spill(days: &BTreeMap<Weekday, Vec<TimeRange>>, path: &str, errors: &mut Vec<FieldError>) {
    for (day, ranges) in days {
        let next = day.next();
        for r in ranges.iter().filter(|r| r.is_overnight()) {
            let spill_end = r.to.minutes();
            for (k, other) in days.get(&next).into_iter().flatten().enumerate() {
                if other.from.minutes() < spill_end {
                    errors.push(FieldError::new(
                        format!("{}[{k}]", join(path, next.name())),
                        format!("overlaps the overnight range {}–{} of {}", r.from, r.to, day.name()),
                    ));
                }
            }
        }
    }
}

fn parse_closed_dates(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Vec<Date> {
    let Some(items) = v.as_array() else {
        errors.push(FieldError::new(path, format!("must be an array of dates YYYY-MM-DD, got {}", kind(v))));
        return Vec::new();
    };
    if items.len() > MAX_CLOSED_DATES {
        errors.push(FieldError::new(path, format!("must have at most {MAX_CLOSED_DATES} dates")));
        return Vec::new();
    }
    let mut dates = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.as_str().and_then(parse_date) {
            Some(d) => dates.push(d),
            None => errors.push(FieldError::new(format!("{path}[{i}]"), "must be a date YYYY-MM-DD")),
        }
    }
    dates.sort();
    dates.dedup();
    dates
}

fn parse_notifications(v: &Value, errors: &mut Vec<FieldError>) -> Notifications {
    let mut out = Notifications::default();
    let Some(mut r) = ObjectReader::new(v, "notifications", errors) else {
        return out;
    };
    let ll = r.str("login_logout", errors);
    out.login_logout = parse_enum(
        ll,
        r.path("login_logout"),
        &[
            ("off", LoginLogout::Off),
            ("customers", LoginLogout::Customers),
            ("customers_and_partners", LoginLogout::CustomersAndPartners),
        ],
        LoginLogout::Off,
        errors,
    );
    out.comment_created = r.bool("comment_created", Some(false), errors).unwrap_or(false);
    out.issue_created = r.bool("issue_created", Some(false), errors).unwrap_or(false);
    out.issue_approval = r.bool("issue_approval", Some(false), errors).unwrap_or(false);
    r.finish(errors);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn full() -> Value {
        json!({
            "active": true,
            "hipchat_url": "https://hipchat.example.com",
            "notification_room_id": 4711,
            "language": "en",
            "room_name_prefix": null,
            "chat": {
                "show_button": true,
                "button_position": "both",
                "service_hours": {
                    "timezone": "Europe/Vienna",
                    "days": { "monday": [{"from": "08:00", "to": "17:00"}], "saturday": [], "sunday": [] },
                    "closed_dates": ["2026-12-24"]
                }
            },
            "notifications": {
                "login_logout": "customers",
                "comment_created": true,
                "issue_created": true,
                "issue_approval": true
            }
        })
    }

    /// The fields named by the errors for `full()` with `patch` applied at `pointer`.
    fn errors_with(pointer: &str, value: Value) -> Vec<String> {
        let mut doc = full();
        *doc.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer}")) = value;
        match parse_settings(&doc) {
            Ok(_) => Vec::new(),
            Err(errs) => errs.into_iter().map(|e| e.field).collect(),
        }
    }

    fn accepted(pointer: &str, value: Value) -> Settings {
        let mut doc = full();
        *doc.pointer_mut(pointer).unwrap() = value;
        parse_settings(&doc).unwrap_or_else(|e| panic!("{pointer}: {e:?}")).settings
    }

    #[test]
    fn the_design_example_is_accepted_and_round_trips() {
        let p = parse_settings(&full()).unwrap();
        assert!(p.warnings.is_empty());
        let s = p.settings;
        assert_eq!(s.notification_room_id, Some(4711));
        assert_eq!(s.chat.service_hours.days[&Weekday::Monday][0].span(), (480, 1020));
        let out = serde_json::to_value(&s).unwrap();
        assert_eq!(out, full());
    }

    #[test]
    fn minimal_document_gets_defaults() {
        let s = parse_settings(&json!({"active": false})).unwrap().settings;
        assert_eq!(s, Settings::inactive());
        assert_eq!(s.chat.service_hours.timezone, "UTC");
    }

    #[test]
    fn active_and_hipchat_url_are_required() {
        let e = parse_settings(&json!({})).unwrap_err();
        assert_eq!(e[0].field, "active");
        let e = parse_settings(&json!({"active": true})).unwrap_err();
        assert_eq!(e[0].field, "hipchat_url");
        assert!(parse_settings(&json!({"active": "yes"})).unwrap_err()[0].message.contains("true or false"));
    }

    #[test]
    fn hipchat_url_is_normalised_with_a_warning() {
        let mut doc = full();
        doc["hipchat_url"] = json!("https://hipchat.example.com/v2/");
        let p = parse_settings(&doc).unwrap();
        assert_eq!(p.settings.hipchat_url.as_deref(), Some("https://hipchat.example.com"));
        assert_eq!(p.warnings.len(), 1);
        assert_eq!(p.warnings[0].field, "hipchat_url");
        assert_eq!(errors_with("/hipchat_url", json!("hipchat.example.com")), ["hipchat_url"]);
        assert_eq!(errors_with("/hipchat_url", json!(12)), ["hipchat_url"]);
    }

    #[test]
    fn timezone_must_be_iana() {
        assert_eq!(
            accepted("/chat/service_hours/timezone", json!("America/New_York")).chat.service_hours.timezone,
            "America/New_York"
        );
        assert_eq!(accepted("/chat/service_hours/timezone", json!("UTC")).chat.service_hours.timezone, "UTC");
        let mut doc = full();
        doc["chat"]["service_hours"]["timezone"] = json!("europe/vienna");
        let p = parse_settings(&doc).unwrap();
        assert_eq!(p.settings.chat.service_hours.timezone, "Europe/Vienna");
        assert_eq!(p.warnings[0].field, "chat.service_hours.timezone");
        for bad in [
            json!("Europe/Atlantis"),
            json!("CEST+2"),
            json!(""),
            json!(1),
            json!("localtime"),
            json!("posixrules"),
            json!("Factory"),
            json!("posix/Europe/Vienna"),
        ] {
            assert_eq!(
                errors_with("/chat/service_hours/timezone", bad.clone()),
                ["chat.service_hours.timezone"],
                "{bad}"
            );
        }
    }

    #[test]
    fn times_are_hh_mm_with_24_00_only_as_to() {
        let p = "/chat/service_hours/days/monday/0";
        let s = accepted(p, json!({"from": "00:00", "to": "24:00"}));
        assert_eq!(s.chat.service_hours.days[&Weekday::Monday][0].to, ClockTime::MIDNIGHT_END);
        accepted(p, json!({"from": "23:59", "to": "00:01"}));
        for bad in ["8:00", "08:0", "24:01", "25:00", "12:60", "0800", "08-00", "", "０８:００"] {
            assert_eq!(
                errors_with(p, json!({"from": bad, "to": "17:00"})),
                ["chat.service_hours.days.monday[0].from"],
                "{bad}"
            );
        }
        assert_eq!(errors_with(p, json!({"from": "24:00", "to": "02:00"})), ["chat.service_hours.days.monday[0].from"]);
        assert_eq!(errors_with(p, json!({"from": "08:00"})), ["chat.service_hours.days.monday[0].to"]);
        assert_eq!(
            errors_with(p, json!({"from": "08:00", "to": "09:00", "till": "x"})),
            ["chat.service_hours.days.monday[0].till"]
        );
    }

    #[test]
    fn from_equal_to_is_rejected() {
        assert_eq!(
            errors_with("/chat/service_hours/days/monday/0", json!({"from": "09:00", "to": "09:00"})),
            ["chat.service_hours.days.monday[0]"]
        );
        assert_eq!(
            errors_with("/chat/service_hours/days/monday/0", json!({"from": "00:00", "to": "00:00"})),
            ["chat.service_hours.days.monday[0]"]
        );
    }

    #[test]
    fn overlapping_ranges_are_rejected() {
        let p = "/chat/service_hours/days/monday";
        assert_eq!(
            errors_with(p, json!([{"from": "08:00", "to": "12:00"}, {"from": "11:00", "to": "17:00"}])),
            ["chat.service_hours.days.monday[1]"]
        );
        assert_eq!(
            errors_with(p, json!([{"from": "13:00", "to": "17:00"}, {"from": "08:00", "to": "14:00"}])),
            ["chat.service_hours.days.monday[1]"]
        );
        // touching is fine, several ranges are fine
        let s = accepted(
            p,
            json!([{"from": "08:00", "to": "12:00"}, {"from": "12:00", "to": "17:00"}, {"from": "20:00", "to": "02:00"}]),
        );
        assert_eq!(s.chat.service_hours.days[&Weekday::Monday].len(), 3);
        // an overnight range overlapping a late range of the same day
        assert_eq!(
            errors_with(p, json!([{"from": "22:00", "to": "02:00"}, {"from": "23:00", "to": "23:30"}])),
            ["chat.service_hours.days.monday[1]"]
        );
    }

    #[test]
    fn an_overnight_range_must_not_run_into_the_next_days_ranges() {
        let mut doc = full();
        doc["chat"]["service_hours"]["days"] = json!({
            "sunday": [{"from": "22:00", "to": "02:00"}],
            "monday": [{"from": "01:00", "to": "05:00"}]
        });
        let e = parse_settings(&doc).unwrap_err();
        assert_eq!(e[0].field, "chat.service_hours.days.monday[0]");
        doc["chat"]["service_hours"]["days"]["monday"] = json!([{"from": "02:00", "to": "05:00"}]);
        assert!(parse_settings(&doc).is_ok());
    }

    #[test]
    fn weekday_names_are_checked() {
        let mut doc = full();
        doc["chat"]["service_hours"]["days"] = json!({"Monday": [], "funday": [], "tuesday": {"from": "08:00"}});
        let fields: Vec<String> = parse_settings(&doc).unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["chat.service_hours.days.Monday", "chat.service_hours.days.funday", "chat.service_hours.days.tuesday"]
        );
        assert_eq!(errors_with("/chat/service_hours/days", json!([])), ["chat.service_hours.days"]);
    }

    #[test]
    fn closed_dates_are_iso_dates() {
        let s = accepted("/chat/service_hours/closed_dates", json!(["2026-12-31", "2026-12-24", "2026-12-24"]));
        assert_eq!(
            s.chat.service_hours.closed_dates,
            [jiff::civil::date(2026, 12, 24), jiff::civil::date(2026, 12, 31)]
        );
        for bad in [json!(["2026-02-30"]), json!(["24.12.2026"]), json!([20261224]), json!(["2026-12-24T00:00:00"])] {
            assert_eq!(
                errors_with("/chat/service_hours/closed_dates", bad.clone()),
                ["chat.service_hours.closed_dates[0]"],
                "{bad}"
            );
        }
        assert_eq!(
            errors_with("/chat/service_hours/closed_dates", json!("2026-12-24")),
            ["chat.service_hours.closed_dates"]
        );
    }

    #[test]
    fn notification_room_id_is_a_positive_integer() {
        assert_eq!(accepted("/notification_room_id", json!(1)).notification_room_id, Some(1));
        assert_eq!(accepted("/notification_room_id", json!(null)).notification_room_id, None);
        for bad in [json!(0), json!(-5), json!(1.5), json!("4711"), json!(true), json!(1e30)] {
            assert_eq!(errors_with("/notification_room_id", bad.clone()), ["notification_room_id"], "{bad}");
        }
    }

    #[test]
    fn language_is_en_or_de() {
        assert_eq!(accepted("/language", json!("de")).language, Language::De);
        for bad in [json!("fr"), json!("EN"), json!(""), json!(7)] {
            assert_eq!(errors_with("/language", bad.clone()), ["language"], "{bad}");
        }
    }

    #[test]
    fn room_name_prefix_leaves_room_for_a_name() {
        assert_eq!(accepted("/room_name_prefix", json!("Support")).room_name_prefix.as_deref(), Some("Support"));
        let longest = "P".repeat(PREFIX_MAX);
        assert_eq!(format!("{longest} - X").chars().count(), ROOM_NAME_MAX);
        accepted("/room_name_prefix", json!(longest));
        for bad in
            [json!("P".repeat(PREFIX_MAX + 1)), json!(""), json!("  "), json!(" Support"), json!("Sup\nport"), json!(3)]
        {
            assert_eq!(errors_with("/room_name_prefix", bad.clone()), ["room_name_prefix"], "{bad}");
        }
    }

    #[test]
    fn button_position_and_login_logout_are_enums() {
        assert_eq!(accepted("/chat/button_position", json!("top")).chat.button_position, ButtonPosition::Top);
        assert_eq!(accepted("/chat/button_position", json!("bottom")).chat.button_position, ButtonPosition::Bottom);
        assert_eq!(errors_with("/chat/button_position", json!("left")), ["chat.button_position"]);
        assert_eq!(
            accepted("/notifications/login_logout", json!("customers_and_partners")).notifications.login_logout,
            LoginLogout::CustomersAndPartners
        );
        assert_eq!(accepted("/notifications/login_logout", json!("off")).notifications.login_logout, LoginLogout::Off);
        assert_eq!(errors_with("/notifications/login_logout", json!("all")), ["notifications.login_logout"]);
        assert_eq!(errors_with("/notifications/issue_created", json!("yes")), ["notifications.issue_created"]);
    }

    #[test]
    fn unknown_members_are_rejected_but_read_only_ones_ignored() {
        let mut doc = full();
        doc["color"] = json!("red");
        doc["chat"]["size"] = json!(3);
        let fields: Vec<String> = parse_settings(&doc).unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["chat.size", "color"]);
        let mut doc = full();
        doc["token"] = json!({"configured": true, "last4": "abcd"});
        doc["version"] = json!(7);
        doc["updated_at"] = json!("2026-11-25T10:00:00Z");
        doc["warnings"] = json!([]);
        assert!(parse_settings(&doc).is_ok());
    }

    #[test]
    fn all_errors_are_reported_at_once() {
        let e = parse_settings(&json!({"active": 1, "language": "fr", "chat": {"button_position": "x"}})).unwrap_err();
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["active", "language", "chat.button_position"]);
    }

    #[test]
    fn completeness_warnings() {
        let s = parse_settings(&json!({"active": true, "hipchat_url": "https://h.example.com"})).unwrap().settings;
        let w: Vec<String> = s.completeness_warnings(false).into_iter().map(|w| w.field).collect();
        assert_eq!(w, ["token", "notification_room_id"]);
        assert!(Settings::inactive().completeness_warnings(false).is_empty());
    }

    #[test]
    fn clock_time_round_trips() {
        for m in [0u16, 1, 59, 60, 719, 1439, 1440] {
            let t = ClockTime::from_minutes(m).unwrap();
            assert_eq!(ClockTime::parse(&t.to_string()), Some(t));
        }
        assert_eq!(ClockTime::from_minutes(1441), None);
    }
}
