//! The request-signature headers and their verification (shared/src/domain/signature.rs).
//!
//! 1. Arbitrary header values, keys, request parts and clock: `parse_signature` and `verify`
//!    never panic; an accepted signature header re-encodes to itself; `verify` refuses for
//!    the first reason a model of the documented checks gives (missing, malformed, stale
//!    timestamp; missing, malformed signature; no keys), else with `Mismatch`.
//! 2. Round trip: a request signed with key K at a fresh timestamp verifies with K (also with
//!    upper-case hex, blanks around the headers, and K among other keys) and fails with
//!    `Mismatch` with any key K' that HMAC does not treat as K, and when one byte of the body,
//!    one character of the path, the method or the timestamp is changed; outside the allowed
//!    skew it fails with `Stale`.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use shared::domain::signature::{MAX_SKEW_SECS, Rejection, SignedParts, parse_signature, sign, verify};

/// The largest timestamp the header admits: 12 digits.
const TS_MAX: i64 = 999_999_999_999;

#[derive(Arbitrary, Debug)]
struct Input {
    key: String,
    other_key: String,
    extra_keys: Vec<String>,
    method: String,
    path: String,
    body: Vec<u8>,
    /// The signing time; reduced to `0..=TS_MAX`.
    ts: i64,
    /// `now − ts` in seconds; reduced to the allowed skew (the stale case adds to it).
    skew: i16,
    /// Header values and clock for the "anything goes" part.
    raw_timestamp: TimestampHeader,
    raw_signature: SignatureHeader,
    raw_now: Clock,
    /// Which byte of the body / char of the path to change, and how.
    index: usize,
    flip: u8,
    replacement: char,
}

/// A timestamp header: any text, or a number with blanks around it.
#[derive(Arbitrary, Debug)]
enum TimestampHeader {
    Missing,
    Text(String),
    Number(i64, u8),
}

impl TimestampHeader {
    fn value(&self) -> Option<String> {
        match self {
            TimestampHeader::Missing => None,
            TimestampHeader::Text(s) => Some(s.clone()),
            TimestampHeader::Number(n, pad) => {
                Some(format!("{}{n}{}", " ".repeat(usize::from(pad & 3)), "\t".repeat(usize::from(pad >> 6))))
            }
        }
    }
}

/// A signature header: any text, or a tag in the right format (either case, blanks around).
#[derive(Arbitrary, Debug)]
enum SignatureHeader {
    Missing,
    Text(String),
    Tag([u8; 32], bool, u8),
}

impl SignatureHeader {
    fn value(&self) -> Option<String> {
        match self {
            SignatureHeader::Missing => None,
            SignatureHeader::Text(s) => Some(s.clone()),
            SignatureHeader::Tag(tag, upper, pad) => {
                let h = if *upper { hex(tag).to_ascii_uppercase() } else { hex(tag) };
                Some(format!("{}v1={h}{}", " ".repeat(usize::from(pad & 3)), " ".repeat(usize::from(pad >> 6))))
            }
        }
    }
}

/// The verifier's clock: any value, or near the header's timestamp.
#[derive(Arbitrary, Debug)]
enum Clock {
    Any(i64),
    NearHeader(i16),
}

fuzz_target!(|input: Input| {
    anything_goes(&input);
    round_trip(&input);
});

fn secrets(keys: &[&str]) -> Vec<SecretString> {
    keys.iter().map(|k| SecretString::from(k.to_string())).collect()
}

/// Part 1: arbitrary header values.
fn anything_goes(input: &Input) {
    let raw_timestamp = input.raw_timestamp.value();
    let raw_signature = input.raw_signature.value();
    let raw_now = match input.raw_now {
        Clock::Any(n) => n,
        Clock::NearHeader(d) => raw_timestamp
            .as_deref()
            .and_then(|t| t.trim().parse::<i64>().ok())
            .unwrap_or(0)
            .saturating_add(i64::from(d)),
    };
    if let Some(raw) = &raw_signature
        && let Ok(tag) = parse_signature(raw)
    {
        let canonical = format!("v1={}", hex(&tag));
        assert_eq!(parse_signature(&canonical), Ok(tag), "{raw:?}");
        assert_eq!(canonical.len(), 67);
        // Accepted only as `v1=` + 64 hex digits, with blanks around at most.
        assert!(raw.trim().len() == 67 && raw.trim().to_ascii_lowercase() == canonical, "{raw:?}");
    }
    let mut keys = vec![input.key.as_str()];
    keys.extend(input.extra_keys.iter().map(String::as_str));
    let parts = SignedParts { method: &input.method, path_and_query: &input.path, body: &input.body };
    for keys in [secrets(&keys), Vec::new()] {
        let got = verify(&keys, raw_timestamp.as_deref(), raw_signature.as_deref(), &parts, raw_now);
        let want = expected(raw_timestamp.as_deref(), raw_signature.as_deref(), raw_now, keys.is_empty());
        match want {
            // A forged MAC is not expected from a fuzzer; either answer is consistent.
            Err(Rejection::Mismatch) => assert!(matches!(got, Ok(()) | Err(Rejection::Mismatch)), "{got:?} {input:?}"),
            want => assert_eq!(got, want, "{input:?}"),
        }
    }
}

/// The documented checks, in their order, written out independently of the code.
fn expected(ts: Option<&str>, sig: Option<&str>, now: i64, no_keys: bool) -> Result<(), Rejection> {
    let ts = ts.ok_or(Rejection::MissingTimestamp)?.trim();
    if ts.is_empty() || ts.len() > 12 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Rejection::MalformedTimestamp);
    }
    let ts: i64 = ts.parse().expect("at most 12 digits");
    if i128::from(now).abs_diff(i128::from(ts)) > u128::from(MAX_SKEW_SECS.unsigned_abs()) {
        return Err(Rejection::Stale);
    }
    let sig = sig.ok_or(Rejection::MissingSignature)?.trim();
    match sig.strip_prefix("v1=") {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {}
        _ => return Err(Rejection::MalformedSignature),
    }
    if no_keys {
        return Err(Rejection::NoKeys);
    }
    Err(Rejection::Mismatch)
}

/// Part 2: sign, then verify the request as sent and as tampered with.
fn round_trip(input: &Input) {
    let ts = input.ts.rem_euclid(TS_MAX + 1);
    let now = ts + i64::from(input.skew) % (MAX_SKEW_SECS + 1);
    let parts = SignedParts { method: &input.method, path_and_query: &input.path, body: &input.body };
    let sig = sign(input.key.as_bytes(), ts, &parts);
    let ts_header = ts.to_string();
    let check = |keys: &[&str], ts_header: &str, sig: &str, parts: &SignedParts<'_>, now: i64| {
        verify(&secrets(keys), Some(ts_header), Some(sig), parts, now)
    };

    // As sent.
    assert_eq!(check(&[&input.key], &ts_header, &sig, &parts, now), Ok(()), "{input:?}");
    let upper = format!("v1={}", sig[3..].to_ascii_uppercase());
    assert_eq!(check(&[&input.key], &format!(" {ts_header}\t"), &format!(" {upper} "), &parts, now), Ok(()));
    // Among other keys (rotation), in either place.
    let mut keys: Vec<&str> = input.extra_keys.iter().map(String::as_str).collect();
    keys.push(&input.key);
    assert_eq!(check(&keys, &ts_header, &sig, &parts, now), Ok(()));
    keys.rotate_right(1);
    assert_eq!(check(&keys, &ts_header, &sig, &parts, now), Ok(()));

    // Another key: a mismatch unless HMAC cannot tell the two keys apart.
    if !hmac_equivalent(input.key.as_bytes(), input.other_key.as_bytes()) {
        assert_eq!(check(&[&input.other_key], &ts_header, &sig, &parts, now), Err(Rejection::Mismatch), "{input:?}");
    }

    // One byte of the body changed.
    if !input.body.is_empty() {
        let mut body = input.body.clone();
        let i = input.index % body.len();
        body[i] ^= input.flip.max(1);
        let tampered = SignedParts { body: &body, ..parts };
        assert_eq!(check(&[&input.key], &ts_header, &sig, &tampered, now), Err(Rejection::Mismatch), "{input:?}");
    }
    // A byte appended to the body.
    let mut longer = input.body.clone();
    longer.push(input.flip);
    let tampered = SignedParts { body: &longer, ..parts };
    assert_eq!(check(&[&input.key], &ts_header, &sig, &tampered, now), Err(Rejection::Mismatch));

    // One character of the path replaced by another, or one added.
    let chars: Vec<char> = input.path.chars().collect();
    let mut path = chars.clone();
    if path.is_empty() {
        path.push(input.replacement);
    } else {
        let i = input.index % path.len();
        if path[i] == input.replacement {
            path.insert(i, input.replacement);
        } else {
            path[i] = input.replacement;
        }
    }
    let path: String = path.into_iter().collect();
    assert_ne!(path, input.path);
    let tampered = SignedParts { path_and_query: &path, ..parts };
    assert_eq!(check(&[&input.key], &ts_header, &sig, &tampered, now), Err(Rejection::Mismatch), "{path:?}");

    // Another method.
    let method = if input.method == "GET" { "POST" } else { "GET" };
    let tampered = SignedParts { method, ..parts };
    assert_eq!(check(&[&input.key], &ts_header, &sig, &tampered, now), Err(Rejection::Mismatch));

    // Another timestamp, still fresh: the MAC covers it; so the same instant written with a
    // leading zero is another timestamp too.
    let other_ts = if now > ts { ts + 1 } else { ts - 1 };
    let want = if (0..=TS_MAX).contains(&other_ts) { Rejection::Mismatch } else { Rejection::MalformedTimestamp };
    assert_eq!(check(&[&input.key], &other_ts.to_string(), &sig, &parts, now), Err(want), "{ts} {now}");
    if ts_header.len() < 12 {
        assert_eq!(check(&[&input.key], &format!("0{ts_header}"), &sig, &parts, now), Err(Rejection::Mismatch));
    }

    // Outside the allowed skew, either way: stale before the MAC is looked at.
    for stale_now in [ts + MAX_SKEW_SECS + 1 + i64::from(input.skew.unsigned_abs()), ts - MAX_SKEW_SECS - 1] {
        assert_eq!(check(&[&input.key], &ts_header, &sig, &parts, stale_now), Err(Rejection::Stale));
    }
}

/// Whether HMAC-SHA256 gives the same MAC for both keys for every message: a key longer than
/// the 64-byte block is replaced by its SHA-256, and the key is padded with zero bytes to the
/// block, so `"k"` and `"k\0"` are the same key (a property of HMAC, not of our code).
fn hmac_equivalent(a: &[u8], b: &[u8]) -> bool {
    fn block_key(k: &[u8]) -> Vec<u8> {
        let mut k = if k.len() > 64 { Sha256::digest(k).to_vec() } else { k.to_vec() };
        while k.last() == Some(&0) {
            k.pop();
        }
        k
    }
    block_key(a) == block_key(b)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
