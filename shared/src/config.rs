//! Configuration, read from the environment once at cold start.

use std::time::Duration;

use crate::domain::destination::PrivateHosts;

/// Everything a function needs to know about its surroundings.
///
/// Built once in `main` with [`Config::from_env`]; tests build it directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// DynamoDB table holding settings, room mappings, dedupe and reminder records (`TABLE_NAME`).
    pub table_name: String,
    /// Prefix of per-partner secrets: `<prefix>/partners/<id>/hipchat-token` (`SECRET_PREFIX`).
    pub secret_prefix: String,
    /// Id or ARN of the secret holding the request-signing keys `{"keys": [...]}` (`SIGNING_SECRET_ID`).
    pub signing_secret_id: String,
    /// How long signing keys are cached in memory (`SIGNING_KEYS_TTL_SECONDS`, default 300).
    pub signing_keys_ttl: Duration,
    /// Which ranges refused by default the chat server may be in (`ALLOW_PRIVATE_CHAT_HOSTS`:
    /// `off` by default, `loopback`, `private`, or both).
    pub chat_hosts: PrivateHosts,
}

/// A variable is missing or has a value we cannot use. Names the variable.
#[derive(thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is not set (or empty)")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// `main` returns this error at cold start and the runtime prints it with `Debug`: show the
/// sentence that names the variable.
impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Config {
    /// Reads the process environment. Fails fast, naming the first missing variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment in production, a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(name))
        };
        let ttl_secs = match lookup("SIGNING_KEYS_TTL_SECONDS").filter(|v| !v.trim().is_empty()) {
            None => 300,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map_err(|e| ConfigError::Invalid { name: "SIGNING_KEYS_TTL_SECONDS", reason: e.to_string() })?,
        };
        let table_name = required("TABLE_NAME")?;
        let secret_prefix = required("SECRET_PREFIX")?.trim_end_matches('/').to_owned();
        if secret_prefix.is_empty() {
            return Err(ConfigError::Invalid { name: "SECRET_PREFIX", reason: "must not be only slashes".into() });
        }
        let chat_hosts = PrivateHosts::parse(&lookup("ALLOW_PRIVATE_CHAT_HOSTS").unwrap_or_default())
            .map_err(|reason| ConfigError::Invalid { name: "ALLOW_PRIVATE_CHAT_HOSTS", reason })?;
        Ok(Self {
            table_name,
            secret_prefix,
            signing_secret_id: required("SIGNING_SECRET_ID")?,
            signing_keys_ttl: Duration::from_secs(ttl_secs),
            chat_hosts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn reads_all_variables() {
        let c = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("SECRET_PREFIX", "dynaboard-hipchat/dev/"),
            ("SIGNING_SECRET_ID", "s"),
            ("SIGNING_KEYS_TTL_SECONDS", "60"),
        ]))
        .unwrap();
        assert_eq!(c.table_name, "t");
        assert_eq!(c.secret_prefix, "dynaboard-hipchat/dev");
        assert_eq!(c.signing_keys_ttl, Duration::from_secs(60));
    }

    #[test]
    fn names_the_missing_variable() {
        let e = Config::from_lookup(lookup(&[("TABLE_NAME", "t"), ("SECRET_PREFIX", "p")])).unwrap_err();
        assert_eq!(e, ConfigError::Missing("SIGNING_SECRET_ID"));
        assert!(e.to_string().contains("SIGNING_SECRET_ID"));
        let e = Config::from_lookup(lookup(&[("TABLE_NAME", " ")])).unwrap_err();
        assert_eq!(e, ConfigError::Missing("TABLE_NAME"));
    }

    #[test]
    fn rejects_a_bad_ttl() {
        let e = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("SECRET_PREFIX", "p"),
            ("SIGNING_SECRET_ID", "s"),
            ("SIGNING_KEYS_TTL_SECONDS", "soon"),
        ]))
        .unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { name: "SIGNING_KEYS_TTL_SECONDS", .. }));
    }
}
