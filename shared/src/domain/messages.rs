//! Texts in the partner's language, from Project Fluent files: `shared/locales/en.ftl` and
//! `shared/locales/de.ftl`, compiled into the binary.
//!
//! **Convention:** a message may contain HTML markup (HipChat notifications are sent with
//! `message_format: html`); every *argument* is HTML-escaped here ([`escape_html`]) before it
//! is filled in, so callers pass raw user values and the files never escape them again. No
//! Unicode isolation marks (U+2068/U+2069) are put around arguments. A few messages are plain
//! text without markup or arguments ([`room_prefix`], [`role_label`]) and may be used outside
//! HTML as well.
//!
//! Each language's bundle is built once, on first use. A broken file or a missing message
//! never panics: the message id stands in for the text, and a warning is logged (with the
//! id and the language only, never an argument). A unit test checks that both files parse
//! cleanly and have the same message ids.

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use serde::Serialize;
use unic_langid::LanguageIdentifier;

use super::chat::{full_name, shorten};
use super::event::{EVENT_ID_MAX, Event, EventType};
use super::settings::{Language, ROOM_NAME_MAX};
use super::user::{EMAIL_MAX, NAME_MAX, PortalUser, Role};

/// A notification's colour in the room (HipChat's six).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Yellow,
    Green,
    Red,
    Purple,
    Gray,
    Random,
}

/// HipChat's limit for a notification's `message`, in characters.
pub const NOTIFICATION_MAX: usize = 10_000;

/// The longest comment excerpt an event notification shows, in characters (a longer one is
/// cut and ends with `…`).
pub const EXCERPT_MAX: usize = 500;

/// The longest issue title an event notification shows, in characters (a longer one is cut
/// and ends with `…`).
pub const ISSUE_TITLE_MAX: usize = 200;

/// The longest `room_url` (after escaping) linked from a chat request; a longer one, or one
/// that is not `http(s)://`, is replaced by `#` (our URLs are a HipChat origin plus
/// `/chat/room/<id>`, far shorter). The same limit holds for an issue's URL in an event
/// notification, which is left unlinked instead.
const URL_MAX: usize = 2_000;

const EN_FTL: &str = include_str!("../../locales/en.ftl");
const DE_FTL: &str = include_str!("../../locales/de.ftl");

type Bundle = FluentBundle<FluentResource>;

static EN: LazyLock<Bundle> = LazyLock::new(|| bundle(Language::En));
static DE: LazyLock<Bundle> = LazyLock::new(|| bundle(Language::De));

/// The language's tag and Fluent source.
fn source(lang: Language) -> (&'static str, &'static str) {
    match lang {
        Language::En => ("en", EN_FTL),
        Language::De => ("de", DE_FTL),
    }
}

/// Builds a language's bundle. Syntax errors keep the messages that did parse (and are
/// logged); the unit tests make sure our files have none.
fn bundle(lang: Language) -> Bundle {
    let (tag, ftl) = source(lang);
    let id: LanguageIdentifier = tag.parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    bundle.set_use_isolating(false);
    let resource = match FluentResource::try_new(ftl.to_owned()) {
        Ok(r) => r,
        Err((r, errors)) => {
            tracing::error!(language = tag, errors = errors.len(), "the language file has syntax errors");
            r
        }
    };
    if let Err(errors) = bundle.add_resource(resource) {
        tracing::error!(language = tag, errors = errors.len(), "the language file has duplicate message ids");
    }
    bundle
}

fn bundle_for(lang: Language) -> &'static Bundle {
    match lang {
        Language::En => &EN,
        Language::De => &DE,
    }
}

/// Escapes the five characters that matter in HTML text and quoted attribute values:
/// `&` `<` `>` `"` `'`.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// [`text`] with owned argument values.
fn text_with(lang: Language, id: &str, args: &[(&str, String)]) -> String {
    let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    text(lang, id, &args)
}

/// How many characters `s` takes once escaped by [`escape_html`].
fn escaped_len(s: &str) -> usize {
    s.chars().map(escaped_char_len).sum()
}

fn escaped_char_len(c: char) -> usize {
    match c {
        '&' => 5,       // &amp;
        '<' | '>' => 4, // &lt; &gt;
        '"' => 6,       // &quot;
        '\'' => 5,      // &#39;
        _ => 1,
    }
}

/// A message with its arguments filled in, and how many resolver errors (such as a missing
/// argument) Fluent reported; `None` when the language has no such message.
fn format(lang: Language, id: &str, args: &[(&str, &str)]) -> Option<(String, usize)> {
    let bundle = bundle_for(lang);
    let pattern = bundle.get_message(id)?.value()?;
    let mut fluent_args = FluentArgs::with_capacity(args.len());
    for (name, value) in args {
        fluent_args.set(*name, FluentValue::from(escape_html(value)));
    }
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors).into_owned();
    Some((text, errors.len()))
}

/// The message `id` in `lang`, with `args` (raw values, escaped here) filled in. A missing
/// message gives the id itself; that, and a message that does not resolve cleanly, is
/// logged with the language and the id only.
pub fn text(lang: Language, id: &str, args: &[(&str, &str)]) -> String {
    let (tag, _) = source(lang);
    match format(lang, id, args) {
        Some((text, 0)) => text,
        Some((text, errors)) => {
            tracing::warn!(language = tag, message_id = id, errors, "a message did not resolve cleanly");
            text
        }
        None => {
            tracing::warn!(language = tag, message_id = id, "no such message in the language file");
            id.to_owned()
        }
    }
}

/// The default room-name prefix of a language ("dynaBOARD" in both en and de), message id
/// `room-prefix`. Plain text.
pub fn room_prefix(lang: Language) -> String {
    text(lang, "room-prefix", &[])
}

/// A role as the staff read it: "customer"/"Kunde", "partner"/"Partner", "admin"/"Admin"
/// (message ids `role-customer`, `role-partner`, `role-admin`). Plain text.
pub fn role_label(lang: Language, role: Role) -> String {
    let id = match role {
        Role::Customer => "role-customer",
        Role::Partner => "role-partner",
        Role::Admin => "role-admin",
    };
    text(lang, id, &[])
}

/// The chat-request notification for the staff's notification room (HipChat
/// `message_format: html`, message id `chat-request`), e.g.
///
/// `[dynaBOARD] <b>Jane Doe</b> of Acme Inc. (customer, <a href="mailto:jane@acme.example">jane@acme.example</a>)
/// requests a chat.<br><a href="https://hipchat.example.com/chat/room/42">Go to room</a> “dynaBOARD - Jane Doe”`
///
/// `prefix` is the partner's effective room-name prefix (the lead-in), `room_url` the room in
/// HipChat's web app (`<base>/chat/room/<id>`). Every value is escaped once. The result is
/// at most [`NOTIFICATION_MAX`] characters: the values are cut (with `…`) to the limits a
/// valid user has ([`NAME_MAX`], [`EMAIL_MAX`]), the prefix and the room name to 50 and 100
/// characters, and a `room_url` that is not `http(s)://` or longer than 2,000 characters
/// after escaping is replaced by `#`.
pub fn chat_request_html(lang: Language, prefix: &str, user: &PortalUser, room_name: &str, room_url: &str) -> String {
    let url = if is_linkable(room_url) {
        room_url
    } else {
        tracing::warn!("the room URL of a chat request is not a short http(s) URL; the link is left out");
        "#"
    };
    let mut args = vec![("prefix", shorten(prefix, ROOM_NAME_MAX))];
    args.extend(actor_args(lang, user));
    args.push(("room_name", shorten(room_name, 2 * ROOM_NAME_MAX)));
    args.push(("room_url", url.to_owned()));
    text_with(lang, "chat-request", &args)
}

/// The arguments of the `actor` message (`name`, `has_company`, `company`, `email`, `role`)
/// for `user`, each value cut (with `…`) to the limit a valid user has: the full name to
/// 2 × [`NAME_MAX`] + 1, the company to [`NAME_MAX`], the email to [`EMAIL_MAX`] characters.
fn actor_args(lang: Language, user: &PortalUser) -> [(&'static str, String); 5] {
    let company = user.company.as_deref().map(str::trim).filter(|c| !c.is_empty());
    [
        ("name", shorten(&full_name(user), 2 * NAME_MAX + 1)),
        ("has_company", yes_no(company.is_some())),
        ("company", shorten(company.unwrap_or_default(), NAME_MAX)),
        ("email", shorten(&user.email, EMAIL_MAX)),
        ("role", role_label(lang, user.role)),
    ]
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// The notification for a portal event (HipChat `message_format: html`), one line in the
/// partner's language, e.g.
///
/// `[dynaBOARD] <b>Jane Doe</b> of Acme Inc. (customer, <a href="mailto:jane@acme.example">jane@acme.example</a>)
/// commented on <a href="https://portal.example.com/issues/17">issue #17 “Printer broken”</a>:<br><i>It still …</i>`
///
/// Message ids `event-user-login`, `event-user-logout`, `event-comment-created` (or
/// `event-comment-created-excerpt` when the comment has an excerpt), `event-issue-created`,
/// `event-issue-approved`, `event-issue-disapproved`; they show the user with `actor` and the
/// issue with `issue-ref` (login and logout do not show an issue even when the event has one).
/// `prefix` is the partner's effective room-name prefix (the lead-in).
///
/// Every value is escaped once. The prefix is cut to 50 characters, the user's values as in
/// [`chat_request_html`], the issue id to [`EVENT_ID_MAX`], the title to [`ISSUE_TITLE_MAX`]
/// and the excerpt to [`EXCERPT_MAX`] characters (with `…`). The issue is a link when its URL
/// is `http(s)://` and at most 2,000 characters after escaping. The result is at most
/// [`NOTIFICATION_MAX`] characters for any input: when too long, the excerpt is cut further to
/// what fits; when not even a character of it fits, the link is left out (and the excerpt fitted
/// again); last, both are left out: what remains is under 9,000 characters (every other
/// value cut as above and, in the worst case, escaped to six characters per character).
/// Values are cut before they are escaped, so a cut never falls inside an entity or a tag.
///
/// An event whose type needs an issue but that has none (which [`super::event::parse_event`]
/// refuses) shows `#?` for it.
pub fn event_html(lang: Language, prefix: &str, event: &Event) -> String {
    let message = match event.kind {
        EventType::UserLogin => "event-user-login",
        EventType::UserLogout => "event-user-logout",
        EventType::CommentCreated => "event-comment-created",
        EventType::IssueCreated => "event-issue-created",
        EventType::IssueApproved => "event-issue-approved",
        EventType::IssueDisapproved => "event-issue-disapproved",
    };
    let shows_issue = !matches!(event.kind, EventType::UserLogin | EventType::UserLogout);
    let issue = event.issue.as_ref().filter(|_| shows_issue);
    if shows_issue && issue.is_none() {
        tracing::warn!(event_type = event.kind.as_str(), "an event without its issue");
    }
    let mut args = vec![("prefix", shorten(prefix, ROOM_NAME_MAX))];
    args.extend(actor_args(lang, &event.actor));
    args.push(("issue_id", issue.map_or_else(|| "?".to_owned(), |i| shorten(&i.id, EVENT_ID_MAX))));
    args.push(("issue_title", issue.map_or_else(String::new, |i| shorten(&i.title, ISSUE_TITLE_MAX))));
    let url = issue.and_then(|i| i.url.as_deref()).filter(|u| is_linkable(u));
    let excerpt = match (event.kind, &event.comment) {
        (EventType::CommentCreated, Some(c)) => c.excerpt.as_deref().map(|e| shorten(e, EXCERPT_MAX)),
        _ => None,
    }
    .filter(|e| !e.is_empty());

    let render = |link: bool, excerpt: Option<&str>| {
        let mut args = args.clone();
        args.push(("has_issue_url", yes_no(link)));
        args.push(("issue_url", if link { url.unwrap_or_default() } else { "" }.to_owned()));
        args.push(("excerpt", excerpt.unwrap_or_default().to_owned()));
        let id = if excerpt.is_some() { "event-comment-created-excerpt" } else { message };
        text_with(lang, id, &args)
    };
    let fits = |html: &String| html.chars().count() <= NOTIFICATION_MAX;

    for link in [true, false] {
        if link && url.is_none() {
            continue;
        }
        let html = render(link, excerpt.as_deref());
        if fits(&html) {
            return html;
        }
        let Some(excerpt) = excerpt.as_deref() else { continue };
        // The text grows by exactly the excerpt's escaped length.
        let without = render(link, Some("")).chars().count();
        if let Some(cut) = NOTIFICATION_MAX.checked_sub(without).and_then(|budget| cut_escaped(excerpt, budget)) {
            let html = render(link, Some(&cut));
            if fits(&html) {
                return html;
            }
        }
    }
    render(false, None)
}

/// The token-expiry warning for the notification room (HipChat `message_format: html`,
/// message id `token-expiry`): when the token expires (`expires_on`, `days_left` days from
/// today), and the steps to make a new token in HipChat (the guide's: My Account → Edit
/// Profile → API access, label "dynaBOARD", the required scopes by their HipChat labels) and
/// to replace it in dynaBOARD (Settings → HipChat).
pub fn token_expiry_html(lang: Language, prefix: &str, expires_on: jiff::civil::Date, days_left: i64) -> String {
    let scopes: Vec<&str> = super::scopes::REQUIRED_SCOPES.iter().map(|(_, label)| *label).collect();
    text_with(
        lang,
        "token-expiry",
        &[
            ("prefix", shorten(prefix, ROOM_NAME_MAX)),
            ("expires_on", expires_on.to_string()),
            ("days", days_left.to_string()),
            ("tomorrow", yes_no(days_left == 1)),
            ("scopes", scopes.join(", ")),
        ],
    )
}

/// `s` cut so that it takes at most `budget` characters once escaped: `s` itself when it
/// fits, else its longest start that fits with `…` (without trailing blanks or joiners, as
/// [`shorten`] cuts); `None` when not even one character of it fits.
fn cut_escaped(s: &str, budget: usize) -> Option<String> {
    if escaped_len(s) <= budget {
        return Some(s.to_owned());
    }
    let room = budget.checked_sub(1)?; // for the `…`
    let mut used = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        used += escaped_char_len(c);
        if used > room {
            break;
        }
        end = i + c.len_utf8();
    }
    let kept = s[..end].trim_end_matches(|c: char| c.is_whitespace() || matches!(c, '\u{200C}' | '\u{200D}'));
    (!kept.is_empty()).then(|| format!("{kept}…"))
}

/// Whether `url` may be linked: `http(s)://` and at most [`URL_MAX`] characters once escaped.
fn is_linkable(url: &str) -> bool {
    is_http(url) && escaped_len(url) <= URL_MAX
}

fn is_http(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{Comment, Issue};
    use std::collections::BTreeSet;

    const URL: &str = "https://hipchat.example.com/chat/room/4711";

    /// Every message id our code uses.
    const IDS: [&str; 14] = [
        "room-prefix",
        "role-customer",
        "role-partner",
        "role-admin",
        "actor",
        "chat-request",
        "issue-ref",
        "event-user-login",
        "event-user-logout",
        "event-comment-created",
        "event-comment-created-excerpt",
        "event-issue-created",
        "event-issue-approved",
        "event-issue-disapproved",
    ];

    fn user(role: Role, company: Option<&str>) -> PortalUser {
        PortalUser {
            id: "u1".into(),
            first_name: "Jane".into(),
            last_name: "Doe".into(),
            email: "jane.doe@acme.example".into(),
            company: company.map(Into::into),
            role,
        }
    }

    /// Message and term ids defined in a Fluent source: entries start in the first column
    /// with an identifier (or `-` and one, for terms), followed by `=`.
    fn ids(ftl: &str) -> BTreeSet<String> {
        ftl.lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic() || c == '-'))
            .filter_map(|l| l.split_once('=').map(|(id, _)| id.trim().to_owned()))
            .collect()
    }

    #[test]
    fn both_files_parse_cleanly_and_have_the_same_ids() {
        for lang in [Language::En, Language::De] {
            let (tag, ftl) = source(lang);
            let resource = match FluentResource::try_new(ftl.to_owned()) {
                Ok(r) => r,
                Err((_, errors)) => panic!("{tag}.ftl: {errors:?}"),
            };
            let mut b = FluentBundle::new_concurrent(vec![LanguageIdentifier::default()]);
            if let Err(errors) = b.add_resource(resource) {
                panic!("{tag}.ftl: {errors:?}");
            }
            for id in ids(ftl) {
                if !id.starts_with('-') {
                    assert!(bundle_for(lang).has_message(&id), "{tag}.ftl: {id} did not load");
                }
            }
        }
        let (en, de) = (ids(EN_FTL), ids(DE_FTL));
        assert!(en.len() >= 5, "{en:?}");
        assert_eq!(en, de, "en.ftl and de.ftl must define the same message ids");
        for id in IDS {
            assert!(en.contains(id), "{id}");
        }
    }

    #[test]
    fn our_messages_resolve_without_errors() {
        let all = [
            ("prefix", "p"),
            ("name", "n"),
            ("has_company", "yes"),
            ("company", "c"),
            ("email", "e@x"),
            ("role", "r"),
            ("room_name", "rn"),
            ("room_url", URL),
            ("issue_id", "17"),
            ("issue_title", "t"),
            ("has_issue_url", "yes"),
            ("issue_url", URL),
            ("excerpt", "x"),
        ];
        for lang in [Language::En, Language::De] {
            for id in IDS {
                let (text, errors) = format(lang, id, &all).unwrap_or_else(|| panic!("{lang:?} {id}"));
                assert_eq!(errors, 0, "{lang:?} {id}: {text}");
                assert!(!text.contains('{'), "{lang:?} {id}: {text}");
            }
        }
    }

    #[test]
    fn plain_texts() {
        assert_eq!(room_prefix(Language::En), "dynaBOARD");
        assert_eq!(room_prefix(Language::De), "dynaBOARD");
        assert_eq!(role_label(Language::En, Role::Customer), "customer");
        assert_eq!(role_label(Language::De, Role::Customer), "Kunde");
        assert_eq!(role_label(Language::En, Role::Partner), "partner");
        assert_eq!(role_label(Language::De, Role::Partner), "Partner");
        assert_eq!(role_label(Language::En, Role::Admin), "admin");
        assert_eq!(role_label(Language::De, Role::Admin), "Admin");
    }

    #[test]
    fn a_missing_message_gives_its_id() {
        assert_eq!(text(Language::En, "no-such-message", &[]), "no-such-message");
        assert_eq!(text(Language::De, "no-such-message", &[("x", "<y>")]), "no-such-message");
    }

    #[test]
    fn escape_html_escapes_the_five() {
        assert_eq!(
            escape_html(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape_html("Zoë 张 😀"), "Zoë 张 😀");
    }

    #[test]
    fn english_chat_request_for_a_customer() {
        let html = chat_request_html(
            Language::En,
            "dynaBOARD",
            &user(Role::Customer, Some("Acme Inc.")),
            "dynaBOARD - Jane Doe",
            URL,
        );
        assert_eq!(
            html,
            "[dynaBOARD] <b>Jane Doe</b> of Acme Inc. (customer, <a href=\"mailto:jane.doe@acme.example\">\
             jane.doe@acme.example</a>) requests a chat.<br><a href=\"https://hipchat.example.com/chat/room/4711\">\
             Go to room</a> “dynaBOARD - Jane Doe”"
        );
    }

    #[test]
    fn german_chat_request_for_a_customer() {
        let html = chat_request_html(
            Language::De,
            "dynaBOARD",
            &user(Role::Customer, Some("Acme GmbH")),
            "dynaBOARD - Jane Doe",
            URL,
        );
        assert_eq!(
            html,
            "[dynaBOARD] <b>Jane Doe</b> von Acme GmbH (Kunde, <a href=\"mailto:jane.doe@acme.example\">\
             jane.doe@acme.example</a>) bittet um einen Chat.<br><a href=\"https://hipchat.example.com/chat/room/4711\">\
             Zum Raum</a> „dynaBOARD - Jane Doe“"
        );
    }

    #[test]
    fn chat_requests_for_an_admin_and_without_company() {
        let en = chat_request_html(Language::En, "Support", &user(Role::Admin, None), "Support - Jane Doe", URL);
        assert!(en.starts_with("[Support] <b>Jane Doe</b> (admin, <a href=\"mailto:"), "{en}");
        assert!(en.contains("requests a chat."), "{en}");
        let de = chat_request_html(Language::De, "Support", &user(Role::Admin, None), "Support - Jane Doe", URL);
        assert!(de.starts_with("[Support] <b>Jane Doe</b> (Admin, <a href=\"mailto:"), "{de}");
        assert!(de.contains("bittet um einen Chat."), "{de}");
        assert!(de.contains("Zum Raum</a>"), "{de}");
        for html in [&en, &de] {
            assert!(html.contains(&format!("<a href=\"{URL}\">")), "{html}");
            assert!(!html.contains('\n'), "{html:?}");
        }
    }

    #[test]
    fn values_are_escaped_exactly_once() {
        let mut u = user(Role::Customer, Some("Smith & \"Sons\" <Ltd>"));
        u.first_name = "<script>alert(1)</script>".into();
        u.last_name = "O'Neil &amp;".into();
        u.email = "o'neil&co@x.example".into();
        let url = "https://h.example/chat/room/1?a=1&b=2";
        for lang in [Language::En, Language::De] {
            let html = chat_request_html(lang, "<i>dyna</i>", &u, "<b>room</b> & co", url);
            assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
            assert!(!html.contains("<script>"), "{html}");
            assert!(html.contains("O&#39;Neil &amp;amp;"), "{html}"); // a literal "&amp;" in a name, escaped once
            assert!(html.contains("Smith &amp; &quot;Sons&quot; &lt;Ltd&gt;"), "{html}");
            assert!(html.contains("mailto:o&#39;neil&amp;co@x.example"), "{html}");
            assert!(html.contains("[&lt;i&gt;dyna&lt;/i&gt;]"), "{html}");
            assert!(html.contains("&lt;b&gt;room&lt;/b&gt; &amp; co"), "{html}");
            assert!(html.contains("href=\"https://h.example/chat/room/1?a=1&amp;b=2\""), "{html}");
            assert!(!html.contains("&amp;amp;amp;"), "{html}");
            assert!(!html.contains("<b>room"), "{html}");
            assert!(!html.contains(['\u{2068}', '\u{2069}']), "{html:?}");
        }
        // Without a literal entity in the input, nothing is escaped twice.
        let html = chat_request_html(Language::En, "dynaBOARD", &user(Role::Customer, Some("A & B")), "r & s", URL);
        assert!(html.contains("A &amp; B") && html.contains("r &amp; s"), "{html}");
        assert!(!html.contains("&amp;amp;"), "{html}");
    }

    #[test]
    fn no_isolation_marks() {
        for lang in [Language::En, Language::De] {
            for role in Role::ALL {
                let html = chat_request_html(lang, "dynaBOARD", &user(role, Some("Acme")), "dynaBOARD - Jane Doe", URL);
                assert!(!html.contains(['\u{2068}', '\u{2069}']), "{html:?}");
            }
        }
    }

    #[test]
    fn an_unsafe_room_url_is_not_linked() {
        for bad in ["javascript:alert(1)", "", "ftp://x", &format!("https://h.example/{}", "a".repeat(URL_MAX))] {
            let html = chat_request_html(Language::En, "dynaBOARD", &user(Role::Customer, None), "r", bad);
            assert!(html.contains("<a href=\"#\">Go to room</a>"), "{html}");
        }
        let html = chat_request_html(Language::En, "dynaBOARD", &user(Role::Customer, None), "r", "HTTP://H.example/x");
        assert!(html.contains("<a href=\"HTTP://H.example/x\">"), "{html}");
    }

    #[test]
    fn the_worst_case_stays_within_hipchats_limit() {
        let q = |n: usize| "\"".repeat(n);
        let u = PortalUser {
            id: "1".into(),
            first_name: q(NAME_MAX),
            last_name: q(NAME_MAX),
            email: format!("{}@{}", q(EMAIL_MAX / 2), q(EMAIL_MAX / 2)),
            company: Some(q(NAME_MAX)),
            role: Role::Customer,
        };
        let url = format!("https://{}", "h".repeat(URL_MAX - 8));
        for lang in [Language::En, Language::De] {
            let html = chat_request_html(lang, &q(500), &u, &q(500), &url);
            assert!(html.chars().count() <= NOTIFICATION_MAX, "{}", html.chars().count());
            assert!(html.contains(&url));
            // Even values longer than a valid user's are cut, not passed on whole.
            let mut long = u.clone();
            long.first_name = q(5_000);
            long.company = Some(q(5_000));
            long.email = q(5_000);
            let html = chat_request_html(lang, &q(5_000), &long, &q(5_000), &url);
            assert!(html.chars().count() <= NOTIFICATION_MAX, "{}", html.chars().count());
        }
    }

    const ISSUE_URL: &str = "https://portal.example.com/issues/17";

    /// An event of `kind` by Jane Doe of Acme Inc. about issue 17, "Printer broken", at
    /// [`ISSUE_URL`], with a comment without excerpt.
    fn event(kind: EventType) -> Event {
        Event {
            id: "evt-1".into(),
            kind,
            occurred_at: "2025-03-14T09:26:53Z".parse().unwrap(),
            actor: user(Role::Customer, Some("Acme Inc.")),
            issue: Some(Issue { id: "17".into(), title: "Printer broken".into(), url: Some(ISSUE_URL.into()) }),
            comment: Some(Comment { id: "c-9".into(), excerpt: None }),
        }
    }

    fn with_excerpt(mut e: Event, excerpt: &str) -> Event {
        e.comment = Some(Comment { id: "c-9".into(), excerpt: Some(excerpt.into()) });
        e
    }

    fn without_url(mut e: Event) -> Event {
        e.issue.as_mut().unwrap().url = None;
        e
    }

    fn without_company(mut e: Event) -> Event {
        e.actor.company = None;
        e
    }

    fn german(mut e: Event) -> Event {
        e.actor.company = e.actor.company.map(|_| "Acme GmbH".into());
        e.issue.as_mut().unwrap().title = "Drucker defekt".into();
        e
    }

    #[test]
    fn english_event_notifications() {
        const A: &str = "<b>Jane Doe</b> of Acme Inc. (customer, <a href=\"mailto:jane.doe@acme.example\">\
                         jane.doe@acme.example</a>)";
        const NO_COMPANY: &str =
            "<b>Jane Doe</b> (customer, <a href=\"mailto:jane.doe@acme.example\">jane.doe@acme.example</a>)";
        const LINK: &str = "<a href=\"https://portal.example.com/issues/17\">issue #17 “Printer broken”</a>";
        use EventType::*;
        let cases = [
            (event(UserLogin), format!("[dynaBOARD] {A} logged in.")),
            (without_company(event(UserLogin)), format!("[dynaBOARD] {NO_COMPANY} logged in.")),
            (event(UserLogout), format!("[dynaBOARD] {A} logged out.")),
            (without_company(event(UserLogout)), format!("[dynaBOARD] {NO_COMPANY} logged out.")),
            (
                with_excerpt(event(CommentCreated), "It still prints nothing."),
                format!("[dynaBOARD] {A} commented on {LINK}:<br><i>It still prints nothing.</i>"),
            ),
            (
                without_url(with_excerpt(event(CommentCreated), "It still prints nothing.")),
                format!("[dynaBOARD] {A} commented on issue #17 “Printer broken”:<br><i>It still prints nothing.</i>"),
            ),
            (event(CommentCreated), format!("[dynaBOARD] {A} commented on {LINK}.")),
            (
                without_company(without_url(event(CommentCreated))),
                format!("[dynaBOARD] {NO_COMPANY} commented on issue #17 “Printer broken”."),
            ),
            (event(IssueCreated), format!("[dynaBOARD] {A} created {LINK}.")),
            (without_url(event(IssueCreated)), format!("[dynaBOARD] {A} created issue #17 “Printer broken”.")),
            (event(IssueApproved), format!("[dynaBOARD] {A} approved {LINK}.")),
            (without_url(event(IssueApproved)), format!("[dynaBOARD] {A} approved issue #17 “Printer broken”.")),
            (without_company(event(IssueDisapproved)), format!("[dynaBOARD] {NO_COMPANY} disapproved {LINK}.")),
            (without_url(event(IssueDisapproved)), format!("[dynaBOARD] {A} disapproved issue #17 “Printer broken”.")),
        ];
        for (e, expected) in cases {
            assert_eq!(event_html(Language::En, "dynaBOARD", &e), expected);
        }
        // The whole of one, spelled out.
        assert_eq!(
            event_html(Language::En, "Support", &with_excerpt(event(CommentCreated), "Still broken.")),
            "[Support] <b>Jane Doe</b> of Acme Inc. (customer, <a href=\"mailto:jane.doe@acme.example\">\
             jane.doe@acme.example</a>) commented on <a href=\"https://portal.example.com/issues/17\">issue #17 \
             “Printer broken”</a>:<br><i>Still broken.</i>"
        );
    }

    #[test]
    fn german_event_notifications() {
        const A: &str = "<b>Jane Doe</b> von Acme GmbH (Kunde, <a href=\"mailto:jane.doe@acme.example\">\
                         jane.doe@acme.example</a>)";
        const NO_COMPANY: &str =
            "<b>Jane Doe</b> (Kunde, <a href=\"mailto:jane.doe@acme.example\">jane.doe@acme.example</a>)";
        const LINK: &str = "<a href=\"https://portal.example.com/issues/17\">Issue #17 „Drucker defekt“</a>";
        use EventType::*;
        let e = |kind| german(event(kind));
        let cases = [
            (e(UserLogin), format!("[dynaBOARD] {A} hat sich angemeldet.")),
            (without_company(e(UserLogin)), format!("[dynaBOARD] {NO_COMPANY} hat sich angemeldet.")),
            (e(UserLogout), format!("[dynaBOARD] {A} hat sich abgemeldet.")),
            (without_company(e(UserLogout)), format!("[dynaBOARD] {NO_COMPANY} hat sich abgemeldet.")),
            (
                with_excerpt(e(CommentCreated), "Druckt immer noch nichts."),
                format!("[dynaBOARD] {A} hat {LINK} kommentiert:<br><i>Druckt immer noch nichts.</i>"),
            ),
            (
                without_url(with_excerpt(e(CommentCreated), "Druckt immer noch nichts.")),
                format!(
                    "[dynaBOARD] {A} hat Issue #17 „Drucker defekt“ kommentiert:<br><i>Druckt immer noch nichts.</i>"
                ),
            ),
            (e(CommentCreated), format!("[dynaBOARD] {A} hat {LINK} kommentiert.")),
            (
                without_company(without_url(e(CommentCreated))),
                format!("[dynaBOARD] {NO_COMPANY} hat Issue #17 „Drucker defekt“ kommentiert."),
            ),
            (e(IssueCreated), format!("[dynaBOARD] {A} hat {LINK} erstellt.")),
            (without_url(e(IssueCreated)), format!("[dynaBOARD] {A} hat Issue #17 „Drucker defekt“ erstellt.")),
            (e(IssueApproved), format!("[dynaBOARD] {A} hat {LINK} freigegeben.")),
            (without_url(e(IssueApproved)), format!("[dynaBOARD] {A} hat Issue #17 „Drucker defekt“ freigegeben.")),
            (without_company(e(IssueDisapproved)), format!("[dynaBOARD] {NO_COMPANY} hat {LINK} abgelehnt.")),
            (without_url(e(IssueDisapproved)), format!("[dynaBOARD] {A} hat Issue #17 „Drucker defekt“ abgelehnt.")),
        ];
        for (e, expected) in cases {
            assert_eq!(event_html(Language::De, "dynaBOARD", &e), expected);
        }
    }

    #[test]
    fn login_and_logout_do_not_show_an_issue_and_only_comments_show_an_excerpt() {
        for kind in EventType::ALL {
            let e = with_excerpt(event(kind), "the excerpt");
            for lang in [Language::En, Language::De] {
                let html = event_html(lang, "dynaBOARD", &e);
                let shows_issue = !matches!(kind, EventType::UserLogin | EventType::UserLogout);
                assert_eq!(html.contains("#17"), shows_issue, "{html}");
                assert_eq!(html.contains(ISSUE_URL), shows_issue, "{html}");
                assert_eq!(html.contains("the excerpt"), kind == EventType::CommentCreated, "{html}");
                assert!(!html.contains('\n') && !html.contains(['\u{2068}', '\u{2069}']), "{html:?}");
            }
        }
    }

    #[test]
    fn an_event_without_its_issue_still_renders() {
        let mut e = event(EventType::IssueCreated);
        e.issue = None;
        let html = event_html(Language::En, "dynaBOARD", &e);
        assert!(html.ends_with(") created issue #? “”."), "{html}");
    }

    #[test]
    fn an_unsafe_issue_url_is_not_linked() {
        for bad in [
            "javascript:alert(1)",
            "/issues/17",
            "ftp://x.example/17",
            &format!("https://x.example/{}", "&".repeat(400)),
        ] {
            let mut e = event(EventType::IssueCreated);
            e.issue.as_mut().unwrap().url = Some(bad.to_owned());
            let html = event_html(Language::En, "dynaBOARD", &e);
            assert!(html.ends_with(") created issue #17 “Printer broken”."), "{html}");
        }
    }

    #[test]
    fn event_values_are_escaped_exactly_once() {
        let mut e = with_excerpt(event(EventType::CommentCreated), "<img src=x onerror=alert(1)> & \"q\" 'a' &lt;");
        e.actor.first_name = "<script>alert(1)</script>".into();
        e.actor.last_name = "O'Neil &amp;".into();
        e.actor.company = Some("Smith & \"Sons\" <Ltd>".into());
        e.actor.email = "o'neil&co@x.example".into();
        let issue = e.issue.as_mut().unwrap();
        issue.id = "<17>".into();
        issue.title = "<b>\"Quotes\" & 'apostrophes'</b>".into();
        issue.url = Some("https://portal.example.com/issues?id=17&tab=\"x\"".into());
        for lang in [Language::En, Language::De] {
            let html = event_html(lang, "<i>dyna</i>", &e);
            assert!(
                html.starts_with(
                    "[&lt;i&gt;dyna&lt;/i&gt;] <b>&lt;script&gt;alert(1)&lt;/script&gt; O&#39;Neil &amp;amp;</b>"
                ),
                "{html}"
            );
            assert!(html.contains("Smith &amp; &quot;Sons&quot; &lt;Ltd&gt; ("), "{html}");
            assert!(
                html.contains("<a href=\"mailto:o&#39;neil&amp;co@x.example\">o&#39;neil&amp;co@x.example</a>"),
                "{html}"
            );
            assert!(
                html.contains("<a href=\"https://portal.example.com/issues?id=17&amp;tab=&quot;x&quot;\">"),
                "{html}"
            );
            assert!(html.contains("#&lt;17&gt; "), "{html}");
            assert!(html.contains("&lt;b&gt;&quot;Quotes&quot; &amp; &#39;apostrophes&#39;&lt;/b&gt;"), "{html}");
            assert!(
                html.ends_with(
                    "<br><i>&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot; &#39;a&#39; &amp;lt;</i>"
                ),
                "{html}"
            );
            assert!(!html.contains("<script>") && !html.contains("<img") && !html.contains("&amp;amp;amp;"), "{html}");
            assert_entities_whole(&html);
        }
    }

    #[test]
    fn long_excerpts_and_titles_are_cut() {
        let mut e = with_excerpt(event(EventType::CommentCreated), &"x".repeat(EXCERPT_MAX + 1));
        e.issue.as_mut().unwrap().title = "t".repeat(1_000);
        let html = event_html(Language::En, "dynaBOARD", &e);
        assert!(html.ends_with(&format!("<br><i>{}…</i>", "x".repeat(EXCERPT_MAX - 1))), "{html}");
        assert!(html.contains(&format!("“{}…”</a>", "t".repeat(ISSUE_TITLE_MAX - 1))), "{html}");
        let e = with_excerpt(event(EventType::CommentCreated), &"x".repeat(EXCERPT_MAX));
        let html = event_html(Language::En, "dynaBOARD", &e);
        assert!(html.ends_with(&format!("<br><i>{}</i>", "x".repeat(EXCERPT_MAX))), "{html}");
    }

    /// Every `&` in `html` starts one of the entities [`escape_html`] writes.
    fn assert_entities_whole(html: &str) {
        for (i, _) in html.match_indices('&') {
            let rest = &html[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"].iter().any(|e| rest.starts_with(e)),
                "a cut entity at {i}: {}",
                &rest[..rest.len().min(12)]
            );
        }
    }

    /// A user whose every value escapes to six characters per character.
    fn quoted_user(n: usize) -> PortalUser {
        let q = "\"".repeat(n);
        PortalUser {
            id: q.clone(),
            first_name: q.clone(),
            last_name: q.clone(),
            email: q.clone(),
            company: Some(q),
            role: Role::Customer,
        }
    }

    #[test]
    fn a_long_excerpt_is_cut_to_fit_and_the_link_kept() {
        let mut e = with_excerpt(event(EventType::CommentCreated), &"\"".repeat(EXCERPT_MAX));
        e.actor = quoted_user(NAME_MAX);
        e.actor.email = "\"".repeat(EMAIL_MAX);
        e.issue.as_mut().unwrap().title = "\"".repeat(ISSUE_TITLE_MAX);
        for lang in [Language::En, Language::De] {
            let html = event_html(lang, "dynaBOARD", &e);
            let n = html.chars().count();
            assert!(n <= NOTIFICATION_MAX && n > NOTIFICATION_MAX - 6, "{lang:?}: {n}");
            assert!(html.contains(&format!("<a href=\"{ISSUE_URL}\">")), "{html}");
            assert!(html.ends_with("&quot;…</i>"), "{html}");
            assert_entities_whole(&html);
        }
    }

    #[test]
    fn the_worst_event_stays_within_hipchats_limit() {
        let q = |n: usize| "\"".repeat(n);
        let linkable = format!("https://{}", "h".repeat(URL_MAX - 8));
        for n in [NAME_MAX, 5_000] {
            for kind in EventType::ALL {
                let e = Event {
                    id: q(n),
                    kind,
                    occurred_at: "2025-03-14T09:26:53Z".parse().unwrap(),
                    actor: quoted_user(n),
                    issue: Some(Issue { id: q(n), title: q(n), url: Some(linkable.clone()) }),
                    comment: Some(Comment { id: q(n), excerpt: Some(q(100_000)) }),
                };
                for lang in [Language::En, Language::De] {
                    let html = event_html(lang, &q(n), &e);
                    let count = html.chars().count();
                    assert!(count <= NOTIFICATION_MAX, "{kind:?} {lang:?}: {count}");
                    assert_entities_whole(&html);
                    // Too long with the link: it is left out, and the excerpt fitted into what is left.
                    assert!(!html.contains(&linkable), "{kind:?} {lang:?}");
                    if kind == EventType::CommentCreated {
                        assert!(html.ends_with("&quot;…</i>"), "{kind:?} {lang:?}");
                        assert!(count > NOTIFICATION_MAX - 6, "{kind:?} {lang:?}: {count}");
                    }
                }
            }
        }
    }

    #[test]
    fn cut_escaped_counts_entities() {
        assert_eq!(cut_escaped("a&b", 7).as_deref(), Some("a&b"));
        assert_eq!(cut_escaped("a&bc", 7).as_deref(), Some("a&…"));
        assert_eq!(cut_escaped("a&b", 6).as_deref(), Some("a…"));
        assert_eq!(cut_escaped("a&b", 2).as_deref(), Some("a…"));
        assert_eq!(cut_escaped("a \"b", 6).as_deref(), Some("a…"));
        assert_eq!(cut_escaped("\"b", 6).as_deref(), None);
        assert_eq!(cut_escaped("ab", 1).as_deref(), None);
        assert_eq!(cut_escaped("ab", 0).as_deref(), None);
        assert_eq!(cut_escaped("", 0).as_deref(), Some(""));
        for s in ["<&\"'>", "Zoë 张 😀 & co", "a\u{200D}b c"] {
            for budget in 0..40 {
                if let Some(cut) = cut_escaped(s, budget) {
                    assert!(escaped_len(&cut) <= budget, "{s:?} {budget}: {cut:?}");
                    assert_eq!(escaped_len(&cut), escape_html(&cut).chars().count());
                }
            }
        }
    }

    #[test]
    fn token_expiry_warnings_in_both_languages() {
        let date = jiff::civil::date(2026, 12, 10);
        let en = token_expiry_html(Language::En, "dynaBOARD", date, 15);
        assert_eq!(
            en,
            "[dynaBOARD] <b>The HipChat token of the dynaBOARD integration expires in 15 days, on 2026-12-10.</b> \
             After that the chat button and the notifications stop working.<br>Make a new token: log in to HipChat \
             as the integration's user, open My Account → Edit Profile → API access, create a token labelled \
             “dynaBOARD” with the scopes View Room, Send Message, Manage Rooms, Send Notification, View Group, and \
             copy it.<br>Then replace it in dynaBOARD: Settings → HipChat → Token, paste it, save, and click Check \
             connection."
        );
        assert!(token_expiry_html(Language::En, "dynaBOARD", date, 1).contains("expires tomorrow, on 2026-12-10"));
        let de = token_expiry_html(Language::De, "<Support>", date, 1);
        assert!(
            de.starts_with("[&lt;Support&gt;] <b>Das HipChat-Token der dynaBOARD-Integration läuft morgen ab"),
            "{de}"
        );
        assert!(de.contains("Bezeichnung „dynaBOARD“") && de.contains("Einstellungen → HipChat"), "{de}");
        assert!(token_expiry_html(Language::De, "x", date, 7).contains("in 7 Tagen ab, am 2026-12-10"));
        for html in [&en, &de] {
            assert!(html.chars().count() <= NOTIFICATION_MAX);
            assert!(!html.contains(['\u{2068}', '\u{2069}', '{']), "{html:?}");
        }
    }
}
