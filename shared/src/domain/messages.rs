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
use unic_langid::LanguageIdentifier;

use super::chat::{full_name, shorten};
use super::settings::{Language, ROOM_NAME_MAX};
use super::user::{EMAIL_MAX, NAME_MAX, PortalUser, Role};

/// HipChat's limit for a notification's `message`, in characters.
pub const NOTIFICATION_MAX: usize = 10_000;

/// The longest `room_url` (after escaping) linked from a chat request; a longer one, or one
/// that is not `http(s)://`, is replaced by `#` (our URLs are a HipChat origin plus
/// `/chat/room/<id>`, far shorter).
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
    let company = user.company.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let role = role_label(lang, user.role);
    let url = if is_http(room_url) && escape_html(room_url).chars().count() <= URL_MAX {
        room_url
    } else {
        tracing::warn!("the room URL of a chat request is not a short http(s) URL; the link is left out");
        "#"
    };
    let args = [
        ("prefix", shorten(prefix, ROOM_NAME_MAX)),
        ("name", shorten(&full_name(user), 2 * NAME_MAX + 1)),
        ("has_company", if company.is_some() { "yes" } else { "no" }.to_owned()),
        ("company", shorten(company.unwrap_or_default(), NAME_MAX)),
        ("email", shorten(&user.email, EMAIL_MAX)),
        ("role", role),
        ("room_name", shorten(room_name, 2 * ROOM_NAME_MAX)),
        ("room_url", url.to_owned()),
    ];
    let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    text(lang, "chat-request", &args)
}

fn is_http(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const URL: &str = "https://hipchat.example.com/chat/room/4711";

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
        for id in ["room-prefix", "role-customer", "role-partner", "role-admin", "chat-request"] {
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
        ];
        for lang in [Language::En, Language::De] {
            for id in ["room-prefix", "role-customer", "role-partner", "role-admin", "chat-request"] {
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
}
