//! HipChat-style request validation: 400s with `field`, `validation`, `value`, `expected_type`, and
//! messages in the Python 2 `repr` form the real (Python) backend produced.

use serde_json::{Map, Value};

/// A failed field check.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Invalid {
    pub field: String,
    /// `required`, `type`, `length`, `choice`, `range`.
    pub validation: &'static str,
    pub value: Option<Value>,
    pub expected_type: Option<&'static str>,
    pub message: String,
}

impl Invalid {
    pub fn required(field: &str) -> Self {
        Self {
            field: field.to_owned(),
            validation: "required",
            value: None,
            expected_type: None,
            message: format!("Missing required field '{field}'"),
        }
    }

    pub fn wrong_type(field: &str, value: &Value, expected: &'static str) -> Self {
        Self {
            field: field.to_owned(),
            validation: "type",
            value: Some(value.clone()),
            expected_type: Some(expected),
            message: format!("Value {} for field '{field}' is not of type '{expected}'", py_repr(value)),
        }
    }

    pub fn length(field: &str, value: &str, min: usize, max: usize) -> Self {
        let too_short = value.chars().count() < min;
        let message = if too_short {
            format!("Value {} for field '{field}' is too short (minimum length is {min})", py_str(value))
        } else {
            format!("Value {} for field '{field}' is too long (maximum length is {max})", py_str(value))
        };
        Self {
            field: field.to_owned(),
            validation: "length",
            value: Some(Value::String(value.to_owned())),
            expected_type: None,
            message,
        }
    }

    pub fn choice(field: &str, value: &str, choices: &[&str]) -> Self {
        Self {
            field: field.to_owned(),
            validation: "choice",
            value: Some(Value::String(value.to_owned())),
            expected_type: None,
            message: format!("Value {} for field '{field}' is not one of {}", py_str(value), py_list(choices)),
        }
    }

    pub fn range(field: &str, value: i128, min: i128, max: Option<i128>) -> Self {
        let message = match max {
            Some(max) => format!("Value {value} for field '{field}' must be between {min} and {max}"),
            None => format!("Value {value} for field '{field}' must be at least {min}"),
        };
        let value = i64::try_from(value).map(Value::from).unwrap_or_else(|_| Value::String(value.to_string()));
        Self { field: field.to_owned(), validation: "range", value: Some(value), expected_type: None, message }
    }
}

/// Python 2 `repr` of a unicode string: `u'abc'`.
pub(crate) fn py_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 3);
    out.push('u');
    out.push(quote);
    for c in s.chars() {
        let code = u32::from(c);
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            _ if c == quote => {
                out.push('\\');
                out.push(c);
            }
            _ if code < 0x20 || (0x7f..=0xff).contains(&code) => out.push_str(&format!("\\x{code:02x}")),
            _ if code > 0xffff => out.push_str(&format!("\\U{code:08x}")),
            _ if code > 0xff => out.push_str(&format!("\\u{code:04x}")),
            _ => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python 2 `repr` of a list of unicode strings: `[u'view_group', u'view_room']`.
pub(crate) fn py_list(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|s| py_str(s)).collect();
    format!("[{}]", inner.join(", "))
}

/// Python 2 `repr` of a decoded JSON value.
pub(crate) fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_str(s),
        Value::Array(items) => format!("[{}]", items.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter().map(|(k, v)| format!("{}: {}", py_str(k), py_repr(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn check_length(field: &str, s: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let n = s.chars().count();
    if n < min || n > max { Err(Invalid::length(field, s, min, max)) } else { Ok(()) }
}

/// A required string of `min..=max` characters (`null` counts as missing).
pub(crate) fn required_string(
    body: &Map<String, Value>,
    field: &str,
    min: usize,
    max: usize,
) -> Result<String, Invalid> {
    match body.get(field) {
        None | Some(Value::Null) => Err(Invalid::required(field)),
        Some(Value::String(s)) => check_length(field, s, min, max).map(|()| s.clone()),
        Some(other) => Err(Invalid::wrong_type(field, other, "string")),
    }
}

/// An optional string of at most `max` characters (`null` = absent).
pub(crate) fn optional_string(body: &Map<String, Value>, field: &str, max: usize) -> Result<Option<String>, Invalid> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => check_length(field, s, 0, max).map(|()| Some(s.clone())),
        Some(other) => Err(Invalid::wrong_type(field, other, "string")),
    }
}

/// An optional JSON boolean (`null` = absent; the string `"true"` is a type error, as on HipChat).
pub(crate) fn optional_bool(body: &Map<String, Value>, field: &str) -> Result<Option<bool>, Invalid> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(Invalid::wrong_type(field, other, "boolean")),
    }
}

/// A required JSON boolean.
pub(crate) fn required_bool(body: &Map<String, Value>, field: &str) -> Result<bool, Invalid> {
    optional_bool(body, field)?.ok_or_else(|| Invalid::required(field))
}

/// An optional string from `choices` (`null` = absent).
pub(crate) fn optional_choice(
    body: &Map<String, Value>,
    field: &str,
    choices: &[&str],
) -> Result<Option<String>, Invalid> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if choices.contains(&s.as_str()) => Ok(Some(s.clone())),
        Some(Value::String(s)) => Err(Invalid::choice(field, s, choices)),
        Some(other) => Err(Invalid::wrong_type(field, other, "string")),
    }
}

/// A boolean query parameter (`true`/`false`/`1`/`0`, any case).
pub(crate) fn query_bool(field: &str, raw: Option<&str>, default: bool) -> Result<bool, Invalid> {
    match raw {
        None => Ok(default),
        Some(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(Invalid::wrong_type(field, &Value::String(s.to_owned()), "boolean")),
        },
    }
}

/// An integer query parameter within `min..=max`.
pub(crate) fn query_int(
    field: &str,
    raw: Option<&str>,
    default: u64,
    min: i128,
    max: Option<i128>,
) -> Result<u64, Invalid> {
    let Some(s) = raw else { return Ok(default) };
    let Ok(n) = s.trim().parse::<i128>() else {
        return Err(Invalid::wrong_type(field, &Value::String(s.to_owned()), "integer"));
    };
    if n < min || max.is_some_and(|max| n > max) {
        return Err(Invalid::range(field, n, min, max));
    }
    u64::try_from(n).map_err(|_| Invalid::range(field, n, min, max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_reprs() {
        assert_eq!(py_str("true"), "u'true'");
        assert_eq!(py_str("it's"), "u\"it's\"");
        assert_eq!(py_str("a'\"b"), "u'a\\'\"b'");
        assert_eq!(py_str("é€😀\n"), "u'\\xe9\\u20ac\\U0001f600\\n'");
        assert_eq!(py_list(&["view_group", "view_room"]), "[u'view_group', u'view_room']");
        assert_eq!(py_repr(&json!({"a": [1, null, true]})), "{u'a': [1, None, True]}");
    }

    #[test]
    fn notify_string_is_a_type_error() {
        let body = json!({"notify": "true"});
        let Some(map) = body.as_object() else { return };
        let err = optional_bool(map, "notify").err();
        assert_eq!(
            err.map(|e| e.message),
            Some("Value u'true' for field 'notify' is not of type 'boolean'".to_owned())
        );
    }

    #[test]
    fn query_ints() {
        assert_eq!(query_int("m", None, 100, 0, Some(1000)), Ok(100));
        assert_eq!(query_int("m", Some("1000"), 100, 0, Some(1000)), Ok(1000));
        assert_eq!(query_int("m", Some("1001"), 100, 0, Some(1000)).map_err(|e| e.validation), Err("range"));
        assert_eq!(query_int("m", Some("x"), 100, 0, Some(1000)).map_err(|e| e.validation), Err("type"));
        assert_eq!(query_int("s", Some("-1"), 0, 0, None).map_err(|e| e.validation), Err("range"));
    }
}
