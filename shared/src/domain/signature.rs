//! Request signatures (docs/design.md "Authentication: signed requests").
//!
//! Every `/v1` request carries `X-Dynaboard-Timestamp: <unix seconds>` and
//! `X-Dynaboard-Signature: v1=<hex HMAC-SHA256>` over
//! `v1:<timestamp>:<METHOD>:<path and ?query as sent>:<raw body>`, keyed with the UTF-8
//! bytes of any of the configured keys (several at once, so keys can be rotated).
//! The MAC is compared in constant time; a timestamp more than [`MAX_SKEW_SECS`] away
//! from now (either way) is refused.

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub const TIMESTAMP_HEADER: &str = "x-dynaboard-timestamp";
pub const SIGNATURE_HEADER: &str = "x-dynaboard-signature";
/// Allowed clock skew between dynaBOARD and us, in seconds, either way.
pub const MAX_SKEW_SECS: i64 = 300;
const VERSION_PREFIX: &str = "v1=";

/// The parts of a request that are signed.
#[derive(Debug, Clone, Copy)]
pub struct SignedParts<'a> {
    pub method: &'a str,
    /// Path plus `?query` exactly as sent, e.g. `/v1/partners/p1/rooms?q=sup`.
    pub path_and_query: &'a str,
    pub body: &'a [u8],
}

/// Why a signature was refused. Only for logs: the client always gets the same 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("timestamp header missing")]
    MissingTimestamp,
    #[error("timestamp header malformed")]
    MalformedTimestamp,
    #[error("timestamp outside the allowed skew")]
    Stale,
    #[error("signature header missing")]
    MissingSignature,
    #[error("signature header malformed")]
    MalformedSignature,
    #[error("signature does not match any key")]
    Mismatch,
    #[error("no signing keys configured")]
    NoKeys,
}

fn mac_for(key: &[u8], timestamp: &str, parts: &SignedParts<'_>) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(b"v1:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(parts.method.as_bytes());
    mac.update(b":");
    mac.update(parts.path_and_query.as_bytes());
    mac.update(b":");
    mac.update(parts.body);
    mac
}

/// The `X-Dynaboard-Signature` value for a request signed at `timestamp` (unix seconds).
pub fn sign(key: &[u8], timestamp: i64, parts: &SignedParts<'_>) -> String {
    let tag = mac_for(key, &timestamp.to_string(), parts).finalize().into_bytes();
    format!("{VERSION_PREFIX}{}", hex::encode(tag))
}

/// Checks the two headers against `keys` at time `now` (unix seconds).
///
/// Every key is tried (no early exit), each comparison in constant time.
pub fn verify(
    keys: &[SecretString],
    timestamp_header: Option<&str>,
    signature_header: Option<&str>,
    parts: &SignedParts<'_>,
    now: i64,
) -> Result<(), Rejection> {
    let ts_raw = timestamp_header.ok_or(Rejection::MissingTimestamp)?.trim();
    let ts = parse_timestamp(ts_raw)?;
    if now.abs_diff(ts) > MAX_SKEW_SECS.unsigned_abs() {
        return Err(Rejection::Stale);
    }
    let tag = parse_signature(signature_header.ok_or(Rejection::MissingSignature)?)?;
    if keys.is_empty() {
        return Err(Rejection::NoKeys);
    }
    let mut matched = false;
    for key in keys {
        let ok = mac_for(key.expose_secret().as_bytes(), ts_raw, parts).verify_slice(&tag).is_ok();
        matched |= ok;
    }
    if matched { Ok(()) } else { Err(Rejection::Mismatch) }
}

/// Unix seconds: ASCII digits only (no sign, no blanks inside), at most 12 of them.
fn parse_timestamp(s: &str) -> Result<i64, Rejection> {
    if s.is_empty() || s.len() > 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Rejection::MalformedTimestamp);
    }
    s.parse().map_err(|_| Rejection::MalformedTimestamp)
}

/// `v1=` followed by exactly 64 hex digits (either case).
pub fn parse_signature(s: &str) -> Result<[u8; 32], Rejection> {
    let hex_part = s.trim().strip_prefix(VERSION_PREFIX).ok_or(Rejection::MalformedSignature)?;
    let mut out = [0u8; 32];
    if hex_part.len() != 64 {
        return Err(Rejection::MalformedSignature);
    }
    hex::decode_to_slice(hex_part, &mut out).map_err(|_| Rejection::MalformedSignature)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_790_000_000;

    fn keys(ks: &[&str]) -> Vec<SecretString> {
        ks.iter().map(|k| SecretString::from(k.to_string())).collect()
    }

    fn parts<'a>(body: &'a [u8]) -> SignedParts<'a> {
        SignedParts { method: "PUT", path_and_query: "/v1/partners/p1/settings", body }
    }

    fn check(ks: &[&str], ts: Option<String>, sig: Option<String>, body: &[u8]) -> Result<(), Rejection> {
        verify(&keys(ks), ts.as_deref(), sig.as_deref(), &parts(body), NOW)
    }

    #[test]
    fn known_vector() {
        // Independent check (Python): hmac.new(b"k", b"v1:1:GET:/x?a=1:", sha256).hexdigest()
        let sig = sign(b"k", 1, &SignedParts { method: "GET", path_and_query: "/x?a=1", body: b"" });
        assert_eq!(sig, "v1=34e184d308400794f4d38ff4efe00ecb07eb76989c96c9a41534545e7dc2eb82");
    }

    /// The worked example of docs/signing.md (the reference signers in docs/signers/ are
    /// checked against it by tests/signers.rs). The key is its 64 characters, not hex-decoded;
    /// the body's `ü` is signed as its two UTF-8 bytes.
    #[test]
    fn docs_signing_md_vector() {
        let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let body = r#"{"active":true,"hipchat_url":"https://hipchat.example.com","language":"de","room_name_prefix":"Kundendienst Süd"}"#;
        let parts = SignedParts {
            method: "PUT",
            path_and_query: "/v1/partners/acme-01/settings?source=setup%20screen",
            body: body.as_bytes(),
        };
        let sig = sign(key.as_bytes(), 1_793_612_467, &parts);
        assert_eq!(sig, "v1=619a89ca17e3e715a3f4cbe5e9d26080eed2d744b856f23ef54e1122e1e8bcac");
        assert_eq!(
            verify(&keys(&[key]), Some("1793612467"), Some(&sig), &parts, 1_793_612_467 + MAX_SKEW_SECS),
            Ok(())
        );
    }

    #[test]
    fn valid_signature_passes() {
        let sig = sign(b"key-1", NOW, &parts(b"{}"));
        assert_eq!(check(&["key-1"], Some(NOW.to_string()), Some(sig), b"{}"), Ok(()));
    }

    #[test]
    fn wrong_key_fails() {
        let sig = sign(b"other", NOW, &parts(b"{}"));
        assert_eq!(check(&["key-1"], Some(NOW.to_string()), Some(sig), b"{}"), Err(Rejection::Mismatch));
    }

    #[test]
    fn second_rotation_key_passes() {
        let sig = sign(b"new-key", NOW, &parts(b"{}"));
        assert_eq!(check(&["old-key", "new-key"], Some(NOW.to_string()), Some(sig), b"{}"), Ok(()));
    }

    #[test]
    fn stale_and_future_timestamps_fail() {
        for ts in [NOW - 301, NOW + 301, 0] {
            let sig = sign(b"k", ts, &parts(b""));
            assert_eq!(check(&["k"], Some(ts.to_string()), Some(sig), b""), Err(Rejection::Stale), "{ts}");
        }
        for ts in [NOW - 300, NOW + 300] {
            let sig = sign(b"k", ts, &parts(b""));
            assert_eq!(check(&["k"], Some(ts.to_string()), Some(sig), b""), Ok(()), "{ts}");
        }
    }

    #[test]
    fn malformed_headers_fail() {
        let good = sign(b"k", NOW, &parts(b""));
        let ts = Some(NOW.to_string());
        assert_eq!(check(&["k"], None, Some(good.clone()), b""), Err(Rejection::MissingTimestamp));
        assert_eq!(check(&["k"], ts.clone(), None, b""), Err(Rejection::MissingSignature));
        for bad_ts in ["", "-1", "+1790000000", "17900000.0", "abc", "1 2", "9999999999999"] {
            assert_eq!(
                check(&["k"], Some(bad_ts.into()), Some(good.clone()), b""),
                Err(Rejection::MalformedTimestamp),
                "{bad_ts}"
            );
        }
        let hexpart = &good[3..];
        for bad_sig in [
            hexpart.to_string(),
            format!("v2={hexpart}"),
            format!("v1={}", &hexpart[..63]),
            format!("v1={hexpart}00"),
            format!("v1={}g", &hexpart[..63]),
            "v1=".into(),
            format!("sha256={hexpart}"),
        ] {
            assert_eq!(
                check(&["k"], ts.clone(), Some(bad_sig.clone()), b""),
                Err(Rejection::MalformedSignature),
                "{bad_sig}"
            );
        }
    }

    #[test]
    fn uppercase_hex_is_accepted() {
        let sig = sign(b"k", NOW, &parts(b"x"));
        let upper = format!("v1={}", sig[3..].to_uppercase());
        assert_eq!(check(&["k"], Some(NOW.to_string()), Some(upper), b"x"), Ok(()));
    }

    #[test]
    fn tampered_body_method_path_or_timestamp_fail() {
        let sig = sign(b"k", NOW, &parts(b"{\"active\":true}"));
        assert_eq!(
            check(&["k"], Some(NOW.to_string()), Some(sig.clone()), b"{\"active\":false}"),
            Err(Rejection::Mismatch)
        );
        assert_eq!(
            check(&["k"], Some((NOW - 1).to_string()), Some(sig.clone()), b"{\"active\":true}"),
            Err(Rejection::Mismatch)
        );
        let other_path =
            SignedParts { method: "PUT", path_and_query: "/v1/partners/p2/settings", body: b"{\"active\":true}" };
        assert_eq!(
            verify(&keys(&["k"]), Some(&NOW.to_string()), Some(&sig), &other_path, NOW),
            Err(Rejection::Mismatch)
        );
        let other_method = SignedParts { method: "GET", ..other_path };
        assert!(verify(&keys(&["k"]), Some(&NOW.to_string()), Some(&sig), &other_method, NOW).is_err());
    }

    /// Found by fuzz/fuzz_targets/signature.rs: `now − ts` overflowed for a clock near
    /// `i64::MIN` (a panic with overflow checks; without them the skew wrapped to a negative
    /// number, so `i64::MIN` with timestamp 0 passed the freshness check).
    #[test]
    fn extreme_clocks_are_stale_not_an_overflow() {
        for (now, ts) in [(i64::MIN, 0), (i64::MIN, 1), (i64::MIN + 1, 999_999_999_999), (i64::MAX, 0)] {
            let sig = sign(b"k", ts, &parts(b""));
            assert_eq!(
                verify(&keys(&["k"]), Some(&ts.to_string()), Some(&sig), &parts(b""), now),
                Err(Rejection::Stale),
                "{now} {ts}"
            );
        }
    }

    #[test]
    fn no_keys_fails() {
        let sig = sign(b"k", NOW, &parts(b""));
        assert_eq!(check(&[], Some(NOW.to_string()), Some(sig), b""), Err(Rejection::NoKeys));
    }

    proptest! {
        #[test]
        fn any_one_byte_change_of_the_body_fails(body in proptest::collection::vec(any::<u8>(), 1..200), idx in any::<usize>(), flip in 1u8..=255) {
            let sig = sign(b"k", NOW, &parts(&body));
            prop_assert_eq!(check(&["k"], Some(NOW.to_string()), Some(sig.clone()), &body), Ok(()));
            let mut tampered = body.clone();
            let i = idx % tampered.len();
            tampered[i] ^= flip;
            prop_assert_eq!(check(&["k"], Some(NOW.to_string()), Some(sig), &tampered), Err(Rejection::Mismatch));
        }
    }
}
