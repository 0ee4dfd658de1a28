//! Building blocks for the targets that read JSON documents (settings, event).
//!
//! Those targets take the fuzzer's bytes as a JSON body when they parse as JSON (the seed
//! corpora are plain bodies, and libFuzzer mutates them), and otherwise build a document from
//! the bytes with `arbitrary`: every member left out, `null`, of the right shape (valid or
//! nearly so) or any JSON value, and texts made of tricky pieces (HTML characters, blanks,
//! invisible format characters, joiners, combining marks) repeated up to far past every limit.

#![allow(dead_code)] // each target uses a part

use arbitrary::{Arbitrary, Result, Unstructured};
use serde_json::{Map, Number, Value};

/// Keys that appear in the documents, so that generated objects hit them.
const KEYS: &[&str] = &[
    "active",
    "hipchat_url",
    "notification_room_id",
    "language",
    "room_name_prefix",
    "chat",
    "show_button",
    "button_position",
    "service_hours",
    "timezone",
    "days",
    "monday",
    "sunday",
    "from",
    "to",
    "closed_dates",
    "notifications",
    "login_logout",
    "token",
    "version",
    "id",
    "type",
    "occurred_at",
    "actor",
    "issue",
    "comment",
    "approved",
    "title",
    "url",
    "excerpt",
    "first_name",
    "last_name",
    "email",
    "company",
    "role",
];

/// Pieces texts are made of: each is a way a value can be hard to clean, count, cut or escape.
const PIECES: &[&str] = &[
    "a",
    "Z",
    "0",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\u{0}",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "\u{3000}",
    "&",
    "<",
    ">",
    "\"",
    "'",
    "&amp;",
    "<b>",
    "é",
    "e\u{301}",
    "ß",
    "\u{200b}",
    "\u{200c}",
    "\u{200d}",
    "\u{200e}",
    "\u{202e}",
    "\u{2066}",
    "\u{feff}",
    "\u{ad}",
    "\u{fe0f}",
    "\u{e0001}",
    "\u{3164}",
    "👍",
    "👨\u{200d}👩\u{200d}👧",
    "🇦🇹",
    "中文",
    "…",
    "@",
    ":",
    "/",
    "?",
    "#",
    "%",
    "https://",
    "http://",
    "[::1]",
    "xn--",
];

/// At most this many bytes in one generated text (past every limit: the excerpt's is 100,000
/// characters).
const TEXT_BYTES_MAX: usize = 150_000;

/// A text built from pieces, some repeated many times.
#[derive(Debug, Clone)]
pub struct Text(pub String);

impl<'a> Arbitrary<'a> for Text {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut out = String::new();
        let pieces = u.int_in_range(0..=6)?;
        for _ in 0..pieces {
            let piece: String = if u.ratio(3, 4)? { (*u.choose(PIECES)?).to_owned() } else { String::arbitrary(u)? };
            let times: usize = match u.int_in_range(0..=9)? {
                0 => u.int_in_range(1..=120_000)?,
                1 => u.int_in_range(1..=300)?,
                _ => 1,
            };
            let times = times.min(TEXT_BYTES_MAX.saturating_sub(out.len()) / piece.len().max(1));
            out.push_str(&piece.repeat(times));
        }
        Ok(Text(out))
    }
}

/// A member of a generated object.
#[derive(Arbitrary, Debug)]
pub enum Member<T> {
    Absent,
    Null,
    Good(T),
    Junk(Junk),
}

impl<T: ToJson> Member<T> {
    pub fn put(&self, obj: &mut Map<String, Value>, name: &str) {
        let v = match self {
            Member::Absent => return,
            Member::Null => Value::Null,
            Member::Good(t) => t.to_json(),
            Member::Junk(j) => j.0.clone(),
        };
        obj.insert(name.to_owned(), v);
    }
}

pub trait ToJson {
    fn to_json(&self) -> Value;
}

impl ToJson for bool {
    fn to_json(&self) -> Value {
        Value::Bool(*self)
    }
}

impl ToJson for Text {
    fn to_json(&self) -> Value {
        Value::String(self.0.clone())
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn to_json(&self) -> Value {
        Value::Array(self.iter().map(ToJson::to_json).collect())
    }
}

/// A value from a list of likely ones (`choices`), or any text.
pub fn pick(u: &mut Unstructured<'_>, choices: &[&str]) -> Result<String> {
    if u.ratio(7, 8)? { Ok((*u.choose(choices)?).to_owned()) } else { Ok(Text::arbitrary(u)?.0) }
}

/// Any JSON value, nested at most a few levels.
#[derive(Debug, Clone)]
pub struct Junk(pub Value);

impl<'a> Arbitrary<'a> for Junk {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Junk(json_value(u, 3)?))
    }
}

pub fn json_value(u: &mut Unstructured<'_>, depth: u32) -> Result<Value> {
    let top = if depth == 0 { 6 } else { 8 };
    Ok(match u.int_in_range(0..=top)? {
        0 => Value::Null,
        1 => Value::Bool(bool::arbitrary(u)?),
        2 => Value::from(i64::arbitrary(u)?),
        3 => Value::from(u64::arbitrary(u)?),
        4 => Number::from_f64(f64::arbitrary(u)?).map_or(Value::Null, Value::Number),
        5 => Value::String(Text::arbitrary(u)?.0),
        6 => Value::String((*u.choose(KEYS)?).to_owned()),
        7 => {
            let n = u.int_in_range(0..=4)?;
            Value::Array((0..n).map(|_| json_value(u, depth - 1)).collect::<Result<_>>()?)
        }
        _ => {
            let n = u.int_in_range(0..=6)?;
            let mut m = Map::new();
            for _ in 0..n {
                let k = if u.ratio(3, 4)? { (*u.choose(KEYS)?).to_owned() } else { String::arbitrary(u)? };
                m.insert(k, json_value(u, depth - 1)?);
            }
            Value::Object(m)
        }
    })
}

/// Unknown members added to a generated object (or read-only ones a client may echo).
#[derive(Arbitrary, Debug)]
pub struct Extra(pub Vec<(ExtraName, Junk)>);

#[derive(Arbitrary, Debug)]
pub enum ExtraName {
    Known(u8),
    Other(String),
}

impl Extra {
    pub fn put(&self, obj: &mut Map<String, Value>) {
        for (name, v) in self.0.iter().take(3) {
            let name = match name {
                ExtraName::Known(i) => KEYS[usize::from(*i) % KEYS.len()].to_owned(),
                ExtraName::Other(s) => s.clone(),
            };
            obj.entry(name).or_insert_with(|| v.0.clone());
        }
    }
}

/// `fuzz_target!` bodies: JSON bytes as they are, else a document built from the bytes.
pub fn document<'a, D: Arbitrary<'a> + ToJson>(data: &'a [u8]) -> Option<Value> {
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        return Some(v);
    }
    D::arbitrary_take_rest(Unstructured::new(data)).ok().map(|d| d.to_json())
}

/// A newtype over a text from a list of likely values (or, now and then, any text), as a
/// JSON string: `picked!(Lang, ["en", "de"]);`.
macro_rules! picked {
    ($name:ident, [$($choice:expr),* $(,)?]) => {
        #[derive(Debug)]
        struct $name(String);
        impl<'a> ::arbitrary::Arbitrary<'a> for $name {
            fn arbitrary(u: &mut ::arbitrary::Unstructured<'a>) -> ::arbitrary::Result<Self> {
                Ok($name($crate::common::pick(u, &[$($choice),*])?))
            }
        }
        impl $crate::common::ToJson for $name {
            fn to_json(&self) -> ::serde_json::Value {
                ::serde_json::Value::String(self.0.clone())
            }
        }
    };
}
pub(crate) use picked;
