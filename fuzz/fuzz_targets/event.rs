//! The portal-event parser (shared/src/domain/event.rs `parse_event`) and the notification
//! text of an accepted event (shared/src/domain/messages.rs `event_html`).
//!
//! Input: a JSON body (bytes that parse as JSON), else an event built with `arbitrary`
//! (common.rs), with texts up to far past every limit. `parse_event` never panics, and:
//! - a refusal names at least one field, each error with a field and a message;
//! - an accepted event keeps the documented bounds: ids not blank, at most `EVENT_ID_MAX`
//!   (actor: `ID_MAX`) characters, no control characters; names and company cleaned, at most
//!   `NAME_MAX`, a visible name; the email one `@` with text on both sides, at most
//!   `EMAIL_MAX`, no blanks; the issue present when the type needs it, its title cleaned,
//!   visible, at most `TITLE_MAX`; its URL trimmed, absolute http(s) with a host, at most
//!   `URL_MAX`, no blanks or control characters; the comment present for `comment.created`,
//!   its excerpt cleaned, visible, at most `EXCERPT_MAX`;
//! - re-serialised, the accepted event parses to the same event;
//! - `event_html` of it, in each language and with short, long and HTML-heavy prefixes, is at
//!   most `NOTIFICATION_MAX` characters.
#![no_main]

#[path = "common.rs"]
mod common;

use arbitrary::{Arbitrary, Result, Unstructured};
use common::{Extra, Member, Text, ToJson, document, pick, picked};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use shared::domain::event::{EVENT_ID_MAX, EXCERPT_MAX, Event, EventType, TITLE_MAX, URL_MAX, parse_event};
use shared::domain::messages::{NOTIFICATION_MAX, event_html};
use shared::domain::settings::Language;
use shared::domain::user::{EMAIL_MAX, ID_MAX, NAME_MAX};

fuzz_target!(|data: &[u8]| {
    if let Some(doc) = document::<Doc>(data) {
        check(&doc);
    }
});

fn check(doc: &Value) {
    let event = match parse_event(doc) {
        Err(errors) => {
            assert!(!errors.is_empty(), "refused without an error");
            for e in &errors {
                // A field is named by its path; only a member called "" has an empty one.
                assert!(!e.message.is_empty() && (!e.field.is_empty() || e.message == "is not a known field"), "{e:?}");
            }
            return;
        }
        Ok(e) => e,
    };
    check_bounds(&event);

    // Round trip: the event as we would send it on parses to itself.
    let out = serde_json::to_value(&event).expect("events serialise");
    match parse_event(&out) {
        Ok(again) => assert_eq!(again, event, "{out}"),
        Err(e) => panic!("re-serialised event refused: {e:?}"),
    }

    let long_prefix = "&\"<>'".repeat(20);
    for lang in [Language::En, Language::De] {
        for prefix in ["dynaBOARD", "", long_prefix.as_str()] {
            let html = event_html(lang, prefix, &event);
            let n = html.chars().count();
            assert!(n <= NOTIFICATION_MAX, "{lang:?} {prefix:?}: {n} characters");
        }
    }
}

fn check_bounds(e: &Event) {
    check_id(&e.id, EVENT_ID_MAX);
    let a = &e.actor;
    check_id(&a.id, ID_MAX);
    for name in [&a.first_name, &a.last_name] {
        assert!(cleaned(name) && name.chars().count() <= NAME_MAX, "{name:?}");
    }
    assert!(visible(&a.first_name) || visible(&a.last_name), "{a:?}");
    if let Some(c) = &a.company {
        assert!(cleaned(c) && visible(c) && c.chars().count() <= NAME_MAX, "{c:?}");
    }
    let email = &a.email;
    assert!(email.chars().count() <= EMAIL_MAX, "{email:?}");
    assert!(!email.chars().any(|c| c.is_whitespace() || c.is_control()), "{email:?}");
    let (local, domain) = email.split_once('@').expect("an @");
    assert!(!local.is_empty() && !domain.is_empty() && !domain.contains('@'), "{email:?}");

    let needs_issue = !matches!(e.kind, EventType::UserLogin | EventType::UserLogout);
    assert!(e.issue.is_some() || !needs_issue, "{:?} without an issue", e.kind);
    if let Some(i) = &e.issue {
        check_id(&i.id, EVENT_ID_MAX);
        assert!(cleaned(&i.title) && visible(&i.title) && i.title.chars().count() <= TITLE_MAX, "{:?}", i.title);
        if let Some(url) = &i.url {
            assert!(url.chars().count() <= URL_MAX && url.trim() == url, "{url:?}");
            assert!(!url.chars().any(|c| c.is_whitespace() || c.is_control()), "{url:?}");
            let u = url::Url::parse(url).expect("an accepted URL parses");
            assert!(matches!(u.scheme(), "http" | "https") && u.has_host(), "{url:?}");
        }
    }
    assert!(e.comment.is_some() || e.kind != EventType::CommentCreated);
    if let Some(c) = &e.comment {
        check_id(&c.id, EVENT_ID_MAX);
        if let Some(x) = &c.excerpt {
            assert!(cleaned(x) && visible(x) && x.chars().count() <= EXCERPT_MAX, "excerpt");
        }
    }
}

fn check_id(id: &str, max: usize) {
    assert!(!id.trim().is_empty() && id.chars().count() <= max && !id.chars().any(char::is_control), "{id:?}");
}

/// What `clean_text` leaves: trimmed, single spaces, no control characters.
fn cleaned(s: &str) -> bool {
    s.trim() == s
        && !s.contains("  ")
        && !s.chars().any(|c| c.is_control() || (c.is_whitespace() && c != ' '))
        && shared::domain::chat::clean_text(s) == s
}

/// Something other than blanks and the invisible joiners and selectors.
fn visible(s: &str) -> bool {
    s.chars().any(|c| {
        !c.is_whitespace()
            && !matches!(c, '\u{200C}' | '\u{200D}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0000}'..='\u{E007F}')
    })
}

// ---- the structured events ---------------------------------------------------------------

#[derive(Arbitrary, Debug)]
struct Doc {
    id: Member<Id>,
    kind: Member<Kind>,
    occurred_at: Member<Instant>,
    actor: Member<Actor>,
    issue: Member<Issue>,
    comment: Member<Comment>,
    approved: Member<bool>,
    extra: Extra,
}

impl ToJson for Doc {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        self.id.put(&mut m, "id");
        self.kind.put(&mut m, "type");
        self.occurred_at.put(&mut m, "occurred_at");
        self.actor.put(&mut m, "actor");
        self.issue.put(&mut m, "issue");
        self.comment.put(&mut m, "comment");
        self.approved.put(&mut m, "approved");
        self.extra.put(&mut m);
        Value::Object(m)
    }
}

picked!(
    Kind,
    [
        "user.login",
        "user.logout",
        "comment.created",
        "issue.created",
        "issue.approved",
        "issue.disapproved",
        "User.Login",
        "issue",
    ]
);
picked!(Role, ["customer", "partner", "admin", "Customer", "guest"]);
picked!(
    Email,
    [
        "jane.doe@acme.example",
        "a@b",
        "@b",
        "a@",
        "a@b@c",
        "jane doe@acme.example",
        "jane@acme.example ",
        "\"j&<>\"@acme.example",
        "ü@bücher.example",
    ]
);

/// An id: a text or any JSON number.
#[derive(Arbitrary, Debug)]
enum Id {
    Text(Text),
    Signed(i64),
    Unsigned(u64),
    Float(f64),
}

impl ToJson for Id {
    fn to_json(&self) -> Value {
        match self {
            Id::Text(t) => t.to_json(),
            Id::Signed(n) => Value::from(*n),
            Id::Unsigned(n) => Value::from(*n),
            Id::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        }
    }
}

/// An RFC 3339 instant (any second jiff can show, with an offset), or something close to one.
#[derive(Debug)]
struct Instant(String);

impl<'a> Arbitrary<'a> for Instant {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Instant(match u.int_in_range(0..=3)? {
            0 => pick(
                u,
                &[
                    "2025-03-14T09:26:53Z",
                    "2025-03-14T10:26:53+01:00",
                    "2025-03-14T09:26:53.123456789Z",
                    "2025-03-14t09:26:53z",
                    "2025-03-14 09:26:53Z",
                    "2025-03-14T09:26:53",
                    "2025-03-14T09:26:53-00:00",
                    "2025-03-14T09:26:53+25:00",
                    "-009999-01-01T00:00:00Z",
                    "9999-12-31T23:59:59Z",
                    "9999-12-31T23:59:59-23:59",
                    "2025-03-14T09:26:60Z",
                    "2025-03-14T09:26:53[Europe/Vienna]",
                ],
            )?,
            _ => {
                let secs = u.int_in_range(jiff::Timestamp::MIN.as_second()..=jiff::Timestamp::MAX.as_second())?;
                let t = jiff::Timestamp::from_second(secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
                let offset =
                    jiff::tz::Offset::from_seconds(u.int_in_range(-93_599..=93_599)?).unwrap_or(jiff::tz::Offset::UTC);
                format!("{}", t.display_with_offset(offset))
            }
        }))
    }
}

impl ToJson for Instant {
    fn to_json(&self) -> Value {
        Value::String(self.0.clone())
    }
}

#[derive(Arbitrary, Debug)]
struct Actor {
    id: Member<Id>,
    first_name: Member<Text>,
    last_name: Member<Text>,
    email: Member<EmailText>,
    company: Member<Text>,
    role: Member<Role>,
    extra: Extra,
}

impl ToJson for Actor {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        self.id.put(&mut m, "id");
        self.first_name.put(&mut m, "first_name");
        self.last_name.put(&mut m, "last_name");
        self.email.put(&mut m, "email");
        self.company.put(&mut m, "company");
        self.role.put(&mut m, "role");
        self.extra.put(&mut m);
        Value::Object(m)
    }
}

/// A likely address, or `<text>@<text>`.
#[derive(Arbitrary, Debug)]
enum EmailText {
    Likely(Email),
    Parts(Text, Text),
}

impl ToJson for EmailText {
    fn to_json(&self) -> Value {
        match self {
            EmailText::Likely(e) => e.to_json(),
            EmailText::Parts(a, b) => Value::String(format!("{}@{}", a.0, b.0)),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Issue {
    id: Member<Id>,
    title: Member<Text>,
    url: Member<UrlText>,
    extra: Extra,
}

impl ToJson for Issue {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        self.id.put(&mut m, "id");
        self.title.put(&mut m, "title");
        self.url.put(&mut m, "url");
        self.extra.put(&mut m);
        Value::Object(m)
    }
}

/// A likely URL, or a portal URL with a text after it.
#[derive(Debug)]
struct UrlText(String);

impl<'a> Arbitrary<'a> for UrlText {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let base = pick(
            u,
            &[
                "https://portal.example.com/issues/17",
                "http://portal.example.com",
                " https://portal.example.com/issues/17 ",
                "https://portal.example.com/issues/17?tab=comments&x=\"1\"#<top>",
                "javascript:alert(1)",
                "mailto:jane@acme.example",
                "https://",
                "https:portal.example.com",
                "//portal.example.com/x",
                "https://[::1]/x",
                "https://bücher.example/ü",
                "",
            ],
        )?;
        let tail = if u.ratio(1, 2)? { Text::arbitrary(u)?.0 } else { String::new() };
        Ok(UrlText(base + &tail))
    }
}

impl ToJson for UrlText {
    fn to_json(&self) -> Value {
        Value::String(self.0.clone())
    }
}

#[derive(Arbitrary, Debug)]
struct Comment {
    id: Member<Id>,
    excerpt: Member<Text>,
    extra: Extra,
}

impl ToJson for Comment {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        self.id.put(&mut m, "id");
        self.excerpt.put(&mut m, "excerpt");
        self.extra.put(&mut m);
        Value::Object(m)
    }
}
