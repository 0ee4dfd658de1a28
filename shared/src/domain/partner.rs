//! Partner ids: the `{partner_id}` path segment.

use std::fmt;

/// A validated partner id: `[A-Za-z0-9_-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartnerId(String);

impl PartnerId {
    pub const MAX_LEN: usize = 64;

    /// Checks the pattern; the error message is meant for a problem response.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err("must be 1 to 64 characters");
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err("may contain only letters A-Z and a-z, digits, '_' and '-'");
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PartnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_pattern() {
        for ok in ["p1", "demo", "A-b_9", &"x".repeat(64)] {
            assert_eq!(PartnerId::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in ["", &"x".repeat(65), "a b", "a/b", "ä", "p1#", "..", "a%2Fb"] {
            assert!(PartnerId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
