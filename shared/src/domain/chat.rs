//! A user's personal chat room: its name, its topic, and the name prefilled on HipChat's guest
//! page (docs/api.md "Chat requests"; the vendor's integration guide's room naming conventions).
//!
//! - name: `<prefix> - <First> <Last>`, at most [`ROOM_NAME_MAX`] characters, with ` (n)` for
//!   the n-th attempt when the name is taken by another user's room;
//! - topic: `<company> · <email>` for customers, `<email>` otherwise, at most [`TOPIC_MAX`]
//!   characters; the email in it is how a room is recognised as a user's ([`topic_belongs_to`]).
//!
//! Lengths are counted in `char`s (Unicode scalar values), as HipChat counts them; a text is
//! never cut inside a `char`, and a cut text ends with `…` (U+2026). A cut can fall inside a
//! grapheme cluster of several chars (an emoji family, a letter with a combining accent), but
//! never right after a zero-width joiner. Texts are plain: HTML characters stay as they are
//! (HipChat shows room names and topics as text; escaping is the job of whoever renders HTML).

use super::settings::{ROOM_NAME_MAX, Settings};
use super::token::TokenMeta;
use super::user::{PortalUser, Role, parse_user, read_id};
use super::validation::{FieldError, ObjectReader};

/// HipChat room topics are 0–250 characters.
pub const TOPIC_MAX: usize = 250;
/// The longest name prefilled on the guest page.
pub const GUEST_NAME_MAX: usize = 50;
/// The fewest characters of the user's name a room name keeps (fewer only when the name is
/// shorter): a longer prefix is shortened instead.
pub const MIN_NAME_CHARS: usize = 4;

const ELLIPSIS: char = '…';
const NAME_SEPARATOR: &str = " - ";
const TOPIC_SEPARATOR: &str = " · ";

/// Cleans a text a user or a partner typed, for use in a room name, a topic or a message:
/// trims it, turns every run of whitespace (any `char::is_whitespace`, including tabs, line
/// breaks and no-break spaces) into one space, and removes
/// - control characters (`char::is_control`, Unicode category Cc), and
/// - invisible format characters that only hide or reorder text: the bidirectional marks,
///   embeddings, overrides and isolates (U+061C, U+200E–U+200F, U+202A–U+202E,
///   U+2066–U+2069), zero-width space U+200B, word joiner and invisible operators
///   U+2060–U+2064, deprecated format characters U+206A–U+206F, the byte-order mark /
///   zero-width no-break space U+FEFF, the soft hyphen U+00AD, U+180E, the interlinear
///   annotation characters U+FFF9–U+FFFB, and the blank Hangul fillers U+3164 and U+FFA0.
///
/// Kept on purpose: the zero-width non-joiner and joiner (U+200C, U+200D), the variation
/// selectors and the tag characters, which Persian and Indic spellings and emoji sequences
/// need. A control character between two words does not join them: `"a\u{0} b"` is `"a b"`.
pub fn clean_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = false;
    for c in s.chars() {
        if c.is_whitespace() {
            blank = !out.is_empty();
        } else if !c.is_control() && !is_hiding_format(c) {
            if blank {
                out.push(' ');
                blank = false;
            }
            out.push(c);
        }
    }
    out
}

/// The invisible format characters [`clean_text`] removes.
fn is_hiding_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// `s` if it has at most `max` chars; else its first chars, without trailing blanks or
/// joiners, and `…`, together at most `max` chars. Empty when `max` is 0.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    let kept = out.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, '\u{200C}' | '\u{200D}')).len();
    out.truncate(kept);
    out.push(ELLIPSIS);
    out
}

/// `<First> <Last>` cleaned (just one of them when the other is empty). A user whose names
/// are both blank (which [`super::user::parse_user`] refuses) gets the email, else the id.
pub(crate) fn full_name(user: &PortalUser) -> String {
    let name = clean_text(&format!("{} {}", user.first_name, user.last_name));
    if !name.is_empty() {
        return name;
    }
    let email = clean_text(&user.email);
    if !email.is_empty() { email } else { clean_text(&user.id) }
}

/// `<prefix> - <First> <Last>` (just `<First>` when the last name is empty, just `<Last>` when
/// the first is empty). `attempt` 1 (or 0) = no suffix; n ≥ 2 appends ` (n)`.
///
/// The result is at most [`ROOM_NAME_MAX`] (50) chars: when too long, the name part is
/// shortened and ends with `…`; the prefix and the suffix are kept whole. The prefix is
/// cleaned too; when prefix, ` - ` and suffix leave fewer than [`MIN_NAME_CHARS`] for the
/// name, the prefix is shortened (with `…`) instead. A prefix that is blank after cleaning is
/// left out together with its ` - `.
pub fn room_name(prefix: &str, user: &PortalUser, attempt: u32) -> String {
    let suffix = if attempt >= 2 { format!(" ({attempt})") } else { String::new() };
    let suffix_len = suffix.chars().count();
    let name = full_name(user);
    let prefix = clean_text(prefix);
    if prefix.is_empty() {
        return shorten(&name, ROOM_NAME_MAX.saturating_sub(suffix_len)) + &suffix;
    }
    let fixed = NAME_SEPARATOR.len() + suffix_len;
    let min_name = name.chars().count().min(MIN_NAME_CHARS);
    let prefix = shorten(&prefix, ROOM_NAME_MAX.saturating_sub(fixed + min_name));
    let name = shorten(&name, ROOM_NAME_MAX.saturating_sub(fixed + prefix.chars().count()));
    format!("{prefix}{NAME_SEPARATOR}{name}{suffix}")
}

/// The email as the topic carries it: cleaned, and cut to [`TOPIC_MAX`] chars with `…` in the
/// one case where it is longer (an address of 251–254 chars, which [`super::user::parse_user`]
/// accepts).
fn topic_email(user: &PortalUser) -> String {
    shorten(&clean_text(&user.email), TOPIC_MAX)
}

/// Customers: `<company> · <email>` (U+00B7 with spaces), just `<email>` without a company;
/// partners and admins: just `<email>`. At most [`TOPIC_MAX`] (250) chars: the company is
/// shortened with `…` (and left out when not even two of its chars fit); the email is
/// always whole, except that an email longer than 250 chars is itself cut with `…` (such a
/// room is still recognised by [`topic_belongs_to`], which compares the same cut address).
pub fn room_topic(user: &PortalUser) -> String {
    let email = topic_email(user);
    let company = match user.role {
        Role::Customer => user.company.as_deref().map(clean_text).filter(|c| !c.is_empty()),
        Role::Partner | Role::Admin => None,
    };
    let Some(company) = company else {
        return email;
    };
    let room = TOPIC_MAX.saturating_sub(email.chars().count() + TOPIC_SEPARATOR.chars().count());
    if room < 2 {
        return email;
    }
    format!("{}{TOPIC_SEPARATOR}{email}", shorten(&company, room))
}

/// Whether a room's topic shows it is this user's room: the topic contains the user's email
/// (as [`room_topic`] writes it), compared ASCII case-insensitively, as a whole address: the
/// characters around it must not be ones an address can contain (so `ann@x.example` is not
/// found in `jann@x.example`). Staff may add words around the address.
pub fn topic_belongs_to(topic: &str, user: &PortalUser) -> bool {
    let email = topic_email(user).to_ascii_lowercase();
    if email.is_empty() {
        return false;
    }
    // ASCII lower-casing keeps every byte offset, so the offsets below are valid in both.
    let topic = topic.to_ascii_lowercase();
    topic.match_indices(&email).any(|(at, m)| {
        let before = topic[..at].chars().next_back();
        let after = topic[at + m.len()..].chars().next();
        before.is_none_or(|c| !in_address(c)) && after.is_none_or(|c| !in_address(c))
    })
}

/// Characters that can be part of an email address (so cannot bound one).
fn in_address(c: char) -> bool {
    c.is_alphanumeric() || ".!#$%&'*+-/=?^_`{|}~@".contains(c)
}

/// The name to prefill on HipChat's guest page: `<First> <Last>` cleaned, at most
/// [`GUEST_NAME_MAX`] (50) chars (shortened with `…`).
pub fn guest_name(user: &PortalUser) -> String {
    shorten(&full_name(user), GUEST_NAME_MAX)
}

/// Why the chat button is hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hidden {
    /// No settings are stored for the partner.
    NotConfigured,
    Inactive,
    ButtonOff,
    TokenMissing,
    /// HipChat answered 401 for the stored token: a click could not work.
    TokenRejected,
}

/// What the button needs: active settings with the button on, a URL and a token HipChat has
/// not rejected; the settings, the URL and the token when it is shown. (A token past its
/// estimated `expires_on` is still tried: HipChat's answer is the truth, and a 401 marks it
/// rejected.)
pub fn button<'a>(
    settings: Option<&'a Settings>,
    token: Option<&'a TokenMeta>,
) -> Result<(&'a Settings, &'a str, &'a TokenMeta), Hidden> {
    let s = settings.ok_or(Hidden::NotConfigured)?;
    let url = s.hipchat_url.as_deref().filter(|_| s.active).ok_or(Hidden::Inactive)?;
    if !s.chat.show_button {
        return Err(Hidden::ButtonOff);
    }
    let token = token.ok_or(Hidden::TokenMissing)?;
    if token.rejected {
        return Err(Hidden::TokenRejected);
    }
    Ok((s, url, token))
}

/// `{"user": {...}}`, the body of a chat request.
/// The longest `request_id` of a chat request, in characters.
pub const REQUEST_ID_MAX: usize = 128;

pub fn parse_chat_request(body: &serde_json::Value) -> Result<PortalUser, Vec<FieldError>> {
    let mut errors = Vec::new();
    let user = ObjectReader::new(body, "", &mut errors).and_then(|mut r| {
        let user = match r.get("user") {
            Some(v) => parse_user(v, "user", &mut errors),
            None => {
                errors.push(FieldError::new("user", "is required"));
                None
            }
        };
        // Optional: the click's own id, so that two clicks of one user within a second are two
        // requests with two signatures (a signed write is served once). Checked, then unused.
        if r.get("request_id").is_some() {
            read_id(&mut r, "request_id", REQUEST_ID_MAX, &mut errors);
        }
        r.finish(&mut errors);
        user
    });
    match user {
        Some(u) if errors.is_empty() => Ok(u),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_request_may_carry_a_request_id() {
        let user = serde_json::json!({"id": "u1", "first_name": "Ada", "last_name": "Lovelace",
                                      "email": "ada@example.com", "role": "customer"});
        let with = |id: serde_json::Value| serde_json::json!({"user": user, "request_id": id});
        assert!(parse_chat_request(&serde_json::json!({"user": user})).is_ok());
        assert!(parse_chat_request(&with(serde_json::json!("click-7f3a"))).is_ok());
        assert!(parse_chat_request(&with(serde_json::json!(17))).is_ok());
        for bad in [serde_json::json!(""), serde_json::json!("x".repeat(129)), serde_json::json!(["a"])] {
            let errors = parse_chat_request(&with(bad)).unwrap_err();
            assert_eq!(errors[0].field, "request_id", "{errors:?}");
        }
    }

    fn user(first: &str, last: &str) -> PortalUser {
        PortalUser {
            id: "u1".into(),
            first_name: first.into(),
            last_name: last.into(),
            email: "jane.doe@acme.example".into(),
            company: Some("Acme Inc.".into()),
            role: Role::Customer,
        }
    }

    fn len(s: &str) -> usize {
        s.chars().count()
    }

    #[test]
    fn clean_text_trims_collapses_and_drops_controls() {
        assert_eq!(clean_text("  Jane \t\n  Doe  "), "Jane Doe");
        assert_eq!(clean_text("Jane\u{0}Doe"), "JaneDoe");
        assert_eq!(clean_text("Jane \u{7}\u{1b} Doe"), "Jane Doe");
        assert_eq!(clean_text("Jane\u{00A0}\u{3000}Doe"), "Jane Doe");
        assert_eq!(clean_text("\u{202E}eoD\u{202C} \u{200B}Jane\u{FEFF}\u{2066}"), "eoD Jane");
        assert_eq!(clean_text("\u{85}x\u{2028}y"), "x y");
        assert_eq!(clean_text(" \t\u{200B} "), "");
        // Joiners stay: they change how the letters and emoji around them look.
        assert_eq!(clean_text("می\u{200C}خواهم 👩\u{200D}💻"), "می\u{200C}خواهم 👩\u{200D}💻");
        // Idempotent.
        let once = clean_text(" a \u{200E} b\u{0}c ");
        assert_eq!(clean_text(&once), once);
    }

    #[test]
    fn the_guides_room_name() {
        assert_eq!(room_name("dynaBOARD", &user("Jane", "Doe"), 1), "dynaBOARD - Jane Doe");
        assert_eq!(room_name("dynaBOARD", &user("Jane", "Doe"), 0), "dynaBOARD - Jane Doe");
        assert_eq!(room_name("dynaBOARD", &user("Jane", ""), 1), "dynaBOARD - Jane");
        assert_eq!(room_name("dynaBOARD", &user("", "Doe"), 1), "dynaBOARD - Doe");
        assert_eq!(room_name("dynaBOARD", &user("Jane", "Doe"), 2), "dynaBOARD - Jane Doe (2)");
        assert_eq!(room_name("dynaBOARD", &user("Jane", "Doe"), 3), "dynaBOARD - Jane Doe (3)");
    }

    #[test]
    fn names_and_prefix_are_cleaned() {
        assert_eq!(room_name("  dyna\tBOARD ", &user(" Jane\u{200B} ", "\nDoe\u{0}"), 1), "dyna BOARD - Jane Doe");
        assert_eq!(room_name(" \u{7} ", &user("Jane", "Doe"), 1), "Jane Doe");
        assert_eq!(room_name("", &user("Jane", "Doe"), 2), "Jane Doe (2)");
    }

    #[test]
    fn html_characters_stay_literal() {
        let n = room_name("dynaBOARD", &user("<b>Jane</b>", "O'Neil & \"Co\""), 1);
        assert_eq!(n, "dynaBOARD - <b>Jane</b> O'Neil & \"Co\"");
        assert_eq!(guest_name(&user("<script>", "&amp;")), "<script> &amp;");
    }

    #[test]
    fn a_long_last_name_is_shortened_to_exactly_50() {
        let n = room_name("dynaBOARD", &user("Jane", &"x".repeat(80)), 1);
        assert_eq!(len(&n), ROOM_NAME_MAX);
        assert!(n.starts_with("dynaBOARD - Jane xxx"), "{n}");
        assert!(n.ends_with('…'), "{n}");
        // A name of exactly the room left is kept whole.
        let fits = "y".repeat(ROOM_NAME_MAX - "dynaBOARD - Jane ".len());
        assert_eq!(room_name("dynaBOARD", &user("Jane", &fits), 1), format!("dynaBOARD - Jane {fits}"));
    }

    #[test]
    fn a_suffix_on_a_long_name_stays_within_50() {
        let u = user(&"Maximiliane".repeat(3), &"Oberhuber-Wiesinger".repeat(3));
        for attempt in [2, 3, 10, u32::MAX] {
            let n = room_name("dynaBOARD", &u, attempt);
            assert_eq!(len(&n), ROOM_NAME_MAX, "{n}");
            assert!(n.starts_with("dynaBOARD - Maximiliane"), "{n}");
            assert!(n.ends_with(&format!("… ({attempt})")), "{n}");
        }
    }

    #[test]
    fn no_blank_before_the_ellipsis() {
        // The cut falls right after the first name: the blank is dropped, not kept before the `…`.
        let first = "A".repeat(37 - 1);
        let n = room_name("dynaBOARD", &user(&first, "Zimmermann"), 1);
        assert_eq!(n, format!("dynaBOARD - {first}…"));
        assert!(len(&n) <= ROOM_NAME_MAX);
    }

    #[test]
    fn non_latin_names_count_per_char() {
        let chinese = "张".repeat(60);
        let n = room_name("dynaBOARD", &user(&chinese, ""), 1);
        assert_eq!(len(&n), ROOM_NAME_MAX);
        assert_eq!(n, format!("dynaBOARD - {}…", "张".repeat(37)));

        let arabic = "محمد عبد الرحمن بن عبد العزيز آل سعود الفيصل القحطاني";
        let n = room_name("dynaBOARD", &user(arabic, "الشمري"), 1);
        assert_eq!(len(&n), ROOM_NAME_MAX);
        assert!(n.starts_with("dynaBOARD - محمد"), "{n}");

        let emoji = "😀".repeat(45);
        let n = room_name("dynaBOARD", &user("Jo", &emoji), 2);
        assert_eq!(len(&n), ROOM_NAME_MAX);
        assert_eq!(n, format!("dynaBOARD - Jo {}… (2)", "😀".repeat(30)));

        // Short non-Latin names are kept whole.
        assert_eq!(room_name("dynaBOARD", &user("李", "小龙"), 1), "dynaBOARD - 李 小龙");
    }

    #[test]
    fn a_cut_never_ends_on_a_joiner() {
        let family = "👩\u{200D}👩\u{200D}👧".repeat(20);
        for attempt in 1..=12 {
            let n = room_name("dynaBOARD", &user(&family, ""), attempt);
            assert!(len(&n) <= ROOM_NAME_MAX, "{n}");
            assert!(!n.contains("\u{200D}…"), "{n:?}");
        }
    }

    #[test]
    fn a_long_prefix_is_shortened_to_leave_room_for_the_name() {
        let prefix = "P".repeat(46); // settings::PREFIX_MAX
        let n = room_name(&prefix, &user("Jane", "Doe"), 1);
        assert_eq!(len(&n), ROOM_NAME_MAX);
        // The name keeps its MIN_NAME_CHARS (4) chars, the ellipsis included.
        assert_eq!(n, format!("{}… - Jan…", "P".repeat(42)));

        let n = room_name(&prefix, &user("Jane", "Doe"), 10);
        assert_eq!(n, format!("{}… - Jan… (10)", "P".repeat(37)));

        let n = room_name(&"Q".repeat(500), &user("Al", ""), 1);
        assert_eq!(n, format!("{}… - Al", "Q".repeat(44)));

        let n = room_name(&"Q".repeat(500), &user(&"N".repeat(100), ""), u32::MAX);
        assert_eq!(len(&n), ROOM_NAME_MAX);
        assert!(n.contains("… - NNN… ("), "{n}");

        // A prefix that fits with the name is kept whole.
        assert_eq!(room_name("Support Team Europe", &user("Jane", "Doe"), 1), "Support Team Europe - Jane Doe");
    }

    #[test]
    fn every_combination_stays_within_50_chars() {
        let texts = ["", "a", "Jane", "ä ö", "张伟", "😀", &"x".repeat(30), &"名".repeat(49), &"y".repeat(300)];
        for prefix in texts {
            for first in texts {
                for last in texts {
                    for attempt in [0, 1, 2, 99, u32::MAX] {
                        let n = room_name(prefix, &user(first, last), attempt);
                        assert!(len(&n) <= ROOM_NAME_MAX, "{n}");
                        assert!(!n.is_empty());
                    }
                }
            }
        }
    }

    #[test]
    fn topics() {
        let mut u = user("Jane", "Doe");
        assert_eq!(room_topic(&u), "Acme Inc. · jane.doe@acme.example");
        u.company = None;
        assert_eq!(room_topic(&u), "jane.doe@acme.example");
        u.company = Some("  ".into());
        assert_eq!(room_topic(&u), "jane.doe@acme.example");
        u.company = Some("Acme Inc.".into());
        u.role = Role::Partner;
        assert_eq!(room_topic(&u), "jane.doe@acme.example");
        u.role = Role::Admin;
        assert_eq!(room_topic(&u), "jane.doe@acme.example");
    }

    #[test]
    fn topics_stay_within_250_chars() {
        let mut u = user("Jane", "Doe");
        u.company = Some("C".repeat(200));
        u.email = format!("{}@example.com", "e".repeat(100));
        let t = room_topic(&u);
        assert_eq!(len(&t), TOPIC_MAX);
        assert!(t.ends_with(&format!("… · {}", u.email)), "{t}");

        // A whole-fitting company is kept whole.
        u.company = Some("C".repeat(TOPIC_MAX - 3 - len(&u.email)));
        assert_eq!(room_topic(&u), format!("{} · {}", u.company.as_deref().unwrap_or_default(), u.email));

        // No room for the company: just the email.
        u.email = format!("{}@example.com", "e".repeat(236));
        assert_eq!(len(&u.email), 248);
        assert_eq!(room_topic(&u), u.email);

        // An email longer than the topic is cut, and the room is still recognised.
        u.email = format!("{}@example.com", "e".repeat(242));
        let t = room_topic(&u);
        assert_eq!(len(&t), TOPIC_MAX);
        assert!(t.ends_with('…'));
        assert!(topic_belongs_to(&t, &u));
    }

    #[test]
    fn topic_belongs_to_matches_the_whole_email_case_insensitively() {
        let u = user("Jane", "Doe");
        assert!(topic_belongs_to("Acme Inc. · jane.doe@acme.example", &u));
        assert!(topic_belongs_to("ACME INC. · Jane.Doe@ACME.example", &u));
        assert!(topic_belongs_to("jane.doe@acme.example", &u));
        assert!(topic_belongs_to("VIP: jane.doe@acme.example (call back)", &u));
        assert!(!topic_belongs_to("Acme Inc. · john.roe@acme.example", &u));
        assert!(!topic_belongs_to("Acme Inc. · xjane.doe@acme.example", &u));
        assert!(!topic_belongs_to("Acme Inc. · jane.doe@acme.example.org", &u));
        assert!(!topic_belongs_to("", &u));
        let mut nobody = user("Jane", "Doe");
        nobody.email = String::new();
        assert!(!topic_belongs_to("anything", &nobody));
    }

    #[test]
    fn guest_names() {
        assert_eq!(guest_name(&user(" Jane ", " Doe ")), "Jane Doe");
        assert_eq!(guest_name(&user("", "Doe")), "Doe");
        let g = guest_name(&user(&"J".repeat(40), &"D".repeat(40)));
        assert_eq!(len(&g), GUEST_NAME_MAX);
        assert!(g.ends_with('…'));
        // No name at all (not from parse_user): the email stands in.
        assert_eq!(guest_name(&user("", "")), "jane.doe@acme.example");
    }
}
