//! Field-level validation results shared by every document parser.

use serde::Serialize;

/// One problem with one field of a request, e.g. `chat.service_hours.days.monday[0].from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// A stable code for the few errors a client may act on (e.g. `url_not_allowed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into(), code: None }
    }

    /// The error with a stable `code`.
    pub fn with_code(self, code: &'static str) -> Self {
        Self { code: Some(code), ..self }
    }
}

/// Something we changed or noticed in an accepted request (same shape as a [`FieldError`]).
pub type Warning = FieldError;

/// Joins a parent path and a member name: `join("chat", "show_button") == "chat.show_button"`.
pub fn join(parent: &str, member: &str) -> String {
    if parent.is_empty() { member.to_owned() } else { format!("{parent}.{member}") }
}

/// A short, human description of a JSON value's type, for "expected X, got Y" messages.
pub fn kind(v: &serde_json::Value) -> &'static str {
    use serde_json::Value::*;
    match v {
        Null => "null",
        Bool(_) => "a boolean",
        Number(_) => "a number",
        String(_) => "a string",
        Array(_) => "an array",
        Object(_) => "an object",
    }
}

/// Reads the members of one JSON object, recording a [`FieldError`] for every member that
/// is missing, of the wrong type, or unknown. Used by every hand-written document parser so
/// that a client sees *all* its mistakes at once, each naming its field.
pub struct ObjectReader<'a> {
    map: &'a serde_json::Map<String, serde_json::Value>,
    path: String,
    seen: Vec<&'static str>,
}

impl<'a> ObjectReader<'a> {
    /// `None` (with an error recorded) when `value` is not an object.
    pub fn new(value: &'a serde_json::Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Self> {
        match value.as_object() {
            Some(map) => Some(Self { map, path: path.to_owned(), seen: Vec::new() }),
            None => {
                let field = if path.is_empty() { "(body)" } else { path };
                errors.push(FieldError::new(field, format!("must be an object, got {}", kind(value))));
                None
            }
        }
    }

    /// The full path of a member.
    pub fn path(&self, member: &str) -> String {
        join(&self.path, member)
    }

    /// A member's value; `None` when absent or `null`.
    pub fn get(&mut self, member: &'static str) -> Option<&'a serde_json::Value> {
        self.seen.push(member);
        self.map.get(member).filter(|v| !v.is_null())
    }

    /// Marks members as known without reading them (read-only members a client may echo back).
    pub fn ignore(&mut self, members: &[&'static str]) {
        self.seen.extend_from_slice(members);
    }

    pub fn bool(&mut self, member: &'static str, default: Option<bool>, errors: &mut Vec<FieldError>) -> Option<bool> {
        match self.get(member) {
            None => {
                if default.is_none() {
                    errors.push(FieldError::new(self.path(member), "is required"));
                }
                default
            }
            Some(serde_json::Value::Bool(b)) => Some(*b),
            Some(other) => {
                errors.push(FieldError::new(self.path(member), format!("must be true or false, got {}", kind(other))));
                default
            }
        }
    }

    /// A string member; `Ok(None)` when absent or null.
    pub fn str(&mut self, member: &'static str, errors: &mut Vec<FieldError>) -> Option<&'a str> {
        match self.get(member) {
            None => None,
            Some(serde_json::Value::String(s)) => Some(s.as_str()),
            Some(other) => {
                errors.push(FieldError::new(self.path(member), format!("must be a string, got {}", kind(other))));
                None
            }
        }
    }

    /// A string member that must be present: "is required" when absent or null.
    pub fn required_str(&mut self, member: &'static str, errors: &mut Vec<FieldError>) -> Option<&'a str> {
        if self.map.get(member).is_none_or(serde_json::Value::is_null) {
            self.seen.push(member);
            errors.push(FieldError::new(self.path(member), "is required"));
            return None;
        }
        self.str(member, errors)
    }

    /// Records an error for every member that was neither read nor ignored.
    pub fn finish(self, errors: &mut Vec<FieldError>) {
        let mut unknown: Vec<&String> = self.map.keys().filter(|k| !self.seen.contains(&k.as_str())).collect();
        unknown.sort();
        for k in unknown {
            errors.push(FieldError::new(join(&self.path, k), "is not a known field"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reader_reports_missing_wrong_type_and_unknown_members() {
        let v = json!({"a": 1, "b": "x", "zz": true});
        let mut errors = Vec::new();
        let mut r = ObjectReader::new(&v, "top", &mut errors).unwrap();
        assert_eq!(r.bool("a", None, &mut errors), None);
        assert_eq!(r.str("b", &mut errors), Some("x"));
        assert_eq!(r.bool("c", Some(true), &mut errors), Some(true));
        assert_eq!(r.bool("d", None, &mut errors), None);
        r.finish(&mut errors);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["top.a", "top.d", "top.zz"]);
    }

    #[test]
    fn reader_rejects_non_objects() {
        let mut errors = Vec::new();
        assert!(ObjectReader::new(&json!([1]), "", &mut errors).is_none());
        assert_eq!(errors[0].field, "(body)");
        assert!(errors[0].message.contains("an array"));
    }
}
