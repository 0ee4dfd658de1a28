//! The HipChat base URL a partner enters: `https://hipchat.example.com`.
//!
//! The guide asks for "just the base URL, do not include any path"; partners paste
//! `https://host/v2/`, `https://host/chat?x` and the like. We keep scheme, host and port,
//! drop path, trailing slash, query and fragment, and say what we dropped.

use url::Url;

/// The outcome of [`normalize`]: the base URL and what was dropped (for `warnings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedUrl {
    pub base: String,
    pub notes: Vec<String>,
}

/// The longest HipChat URL accepted, as sent and as stored (host in ASCII).
pub const MAX_LEN: usize = 2048;

/// Normalises a HipChat URL to its base, or says why it cannot be used.
pub fn normalize(input: &str) -> Result<NormalizedUrl, String> {
    let trimmed = input.trim();
    let mut notes = Vec::new();
    if trimmed.len() != input.len() {
        notes.push("blanks around the URL were removed".to_owned());
    }
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed.len() > MAX_LEN {
        return Err(format!("must be at most {MAX_LEN} characters"));
    }
    let url = Url::parse(trimmed)
        .map_err(|e| format!("must be an absolute http(s) URL such as https://hipchat.example.com ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("must use http or https, not '{}'", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password; the token goes in its own field".into());
    }
    let path = url.path();
    if path != "/" && !path.is_empty() {
        notes.push(format!("the path '{path}' was removed: enter only the base URL (the API lives under /v2 of it)"));
    } else if trimmed.trim_end_matches(['?', '#']).ends_with('/') {
        notes.push("the trailing slash was removed".to_owned());
    }
    if url.query().is_some() {
        notes.push("the query string was removed".to_owned());
    }
    if url.fragment().is_some() {
        notes.push("the fragment (#...) was removed".to_owned());
    }
    let base = url.origin().ascii_serialization();
    // The host is kept as ASCII: an international name grows when encoded (punycode).
    if base.len() > MAX_LEN {
        return Err(format!("must be at most {MAX_LEN} characters with its host name in ASCII (punycode)"));
    }
    Ok(NormalizedUrl { base, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_stay_as_they_are() {
        for u in ["https://hipchat.example.com", "http://127.0.0.1:8080", "https://chat.example.com:8443"] {
            let n = normalize(u).unwrap();
            assert_eq!(n.base, u);
            assert!(n.notes.is_empty(), "{u}: {:?}", n.notes);
        }
    }

    #[test]
    fn path_slash_query_fragment_and_blanks_are_dropped_with_notes() {
        let cases = [
            ("https://hipchat.example.com/", "trailing slash"),
            ("https://hipchat.example.com/v2", "'/v2'"),
            ("https://hipchat.example.com/v2/", "'/v2/'"),
            ("https://hipchat.example.com?a=1", "query"),
            ("https://hipchat.example.com#top", "fragment"),
            ("  https://hipchat.example.com ", "blanks"),
        ];
        for (input, note) in cases {
            let n = normalize(input).unwrap();
            assert_eq!(n.base, "https://hipchat.example.com", "{input}");
            assert!(n.notes.iter().any(|m| m.contains(note)), "{input}: {:?}", n.notes);
        }
    }

    #[test]
    fn host_is_lowercased_and_default_port_dropped() {
        assert_eq!(normalize("HTTPS://HipChat.Example.COM:443/").unwrap().base, "https://hipchat.example.com");
    }

    /// Found by fuzz/fuzz_targets/settings.rs: an international host name is stored as punycode,
    /// so a URL within the limit as sent could be stored longer than it, and the settings a
    /// client read back were then refused when sent again.
    #[test]
    fn a_url_too_long_once_its_host_is_ascii_is_refused() {
        let long = format!("https://{}example.com", "ü.".repeat(670));
        assert!(long.len() <= 2048);
        assert!(normalize(&long).unwrap_err().contains("2048"));
        let fits = format!("https://{}example.com", "ü.".repeat(200));
        let n = normalize(&fits).unwrap();
        assert!(n.base.len() <= 2048 && n.base.starts_with("https://xn--tda."), "{}", n.base);
        assert_eq!(normalize(&n.base).unwrap(), NormalizedUrl { base: n.base.clone(), notes: vec![] });
    }

    #[test]
    fn unusable_urls_are_rejected() {
        for bad in [
            "",
            "   ",
            "hipchat.example.com",
            "/v2",
            "ftp://h.example.com",
            "https://",
            "https://user:pw@h.example.com",
            "mailto:a@b.c",
            "file:///etc/passwd",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
    }
}
