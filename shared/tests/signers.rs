//! The reference signers of docs/signers/ (shell, Python, PHP) against this crate's
//! `signature::sign`: the worked test vector of docs/signing.md, then generated cases (empty
//! body, bodies with newlines, binary bodies, queries with `%` escapes, a non-ASCII key), each
//! with the body from a file and from stdin, the default timestamp, and a missing key.
//!
//! bash + openssl and python3 must be installed: without them these tests fail. PHP is checked
//! when `php` is on PATH (`make test` installs php-cli); without it the PHP test says on stderr
//! that it did not run.

use std::io::{ErrorKind, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use shared::domain::signature::{SignedParts, sign};

// The worked example of docs/signing.md (also asserted in src/domain/signature.rs).
const VECTOR_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const VECTOR_TIMESTAMP: i64 = 1_793_612_467;
const VECTOR_PATH: &str = "/v1/partners/acme-01/settings?source=setup%20screen";
const VECTOR_BODY: &str = r#"{"active":true,"hipchat_url":"https://hipchat.example.com","language":"de","room_name_prefix":"Kundendienst Süd"}"#;
const VECTOR_SIGNED: &str = r#"v1:1793612467:PUT:/v1/partners/acme-01/settings?source=setup%20screen:{"active":true,"hipchat_url":"https://hipchat.example.com","language":"de","room_name_prefix":"Kundendienst Süd"}"#;
const VECTOR_SIGNATURE: &str = "v1=619a89ca17e3e715a3f4cbe5e9d26080eed2d744b856f23ef54e1122e1e8bcac";

const KEY_ENV: &str = "DYNABOARD_SIGNING_KEY";

struct Case {
    name: String,
    key: String,
    timestamp: i64,
    method: &'static str,
    path: String,
    body: Vec<u8>,
}

impl Case {
    fn new(name: &str, key: &str, timestamp: i64, method: &'static str, path: &str, body: &[u8]) -> Self {
        Case { name: name.into(), key: key.into(), timestamp, method, path: path.into(), body: body.into() }
    }

    fn expected(&self) -> String {
        let parts = SignedParts { method: self.method, path_and_query: &self.path, body: &self.body };
        sign(self.key.as_bytes(), self.timestamp, &parts)
    }
}

fn cases() -> Vec<Case> {
    let key = "5f0e7c1a9b3d4e6f8a2c0b1d3e5f7a9c4b6d8e0f1a3c5e7b9d2f4a6c8e0b1d3f";
    let ts = 1_796_000_000;
    let mut cases = vec![
        Case::new("the vector", VECTOR_KEY, VECTOR_TIMESTAMP, "PUT", VECTOR_PATH, VECTOR_BODY.as_bytes()),
        Case::new("empty body", key, ts, "GET", "/v1/partners/demo/settings", b""),
        Case::new("empty body, query", key, ts, "GET", "/v1/partners/demo/rooms?q=support%20desk&limit=10", b""),
        Case::new(
            "query with % escapes",
            key,
            ts,
            "GET",
            "/v1/partners/p_1/chat/availability?at=2026-12-24T10:00:00%2B01:00&x=100%25%25s%3D%0A",
            b"",
        ),
        Case::new(
            "body with newlines",
            key,
            ts,
            "POST",
            "/v1/partners/demo/events",
            b"{\n  \"id\": \"evt-1\",\r\n  \"type\": \"comment.created\"\n}\n\n",
        ),
        Case::new("body of one newline", key, ts, "POST", "/v1/partners/demo/connection-check", b"\n"),
        Case::new(
            "body with shell and printf specials",
            key,
            ts,
            "PUT",
            "/v1/partners/demo/token",
            br#"{"token": "%s%d\\n $HOME `id` '\"", "issued_on": "2026-11-01"}"#,
        ),
        Case::new(
            "non-ASCII key and body",
            "clé-de-test-ü-€-0123456789",
            ts,
            "POST",
            "/v1/partners/demo/chat/requests?lang=de",
            "{\"user\":{\"name\":\"Jürgen Groß\",\"company\":\"Zürich – Ω\"}}".as_bytes(),
        ),
    ];
    // Binary bodies (NUL, bytes that are not UTF-8) with random keys and timestamps; seeded so
    // that a failure can be repeated.
    let mut rng = fastrand::Rng::with_seed(17);
    for i in 0..4 {
        let key: String = (0..64).map(|_| char::from(b"0123456789abcdef"[rng.usize(..16)])).collect();
        let mut body: Vec<u8> = (0..rng.usize(1..300)).map(|_| rng.u8(..)).collect();
        body.extend_from_slice(b"\0\xff\n");
        let path = format!("/v1/partners/r{i}/events?n={}%20{}", rng.u32(..), rng.u32(..));
        cases.push(Case::new(&format!("binary body {i}"), &key, rng.i64(1..999_999_999_999), "POST", &path, &body));
    }
    cases
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `<interpreter> docs/signers/<script> args…` from the repo root, with the key (if any)
/// in the environment and `stdin` on standard input.
fn run(interpreter: &str, script: &str, key: Option<&str>, args: &[&str], stdin: &[u8]) -> std::io::Result<Output> {
    let mut cmd = Command::new(interpreter);
    cmd.arg(format!("docs/signers/{script}"))
        .args(args)
        .current_dir(repo_root())
        .env_remove(KEY_ENV)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(key) = key {
        cmd.env(KEY_ENV, key);
    }
    let mut child = cmd.spawn()?;
    let mut pipe = child.stdin.take().expect("stdin is piped");
    // A signer that does not read stdin may exit first: a broken pipe is then no error.
    match pipe.write_all(stdin) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => return Err(e),
        _ => drop(pipe),
    }
    child.wait_with_output()
}

fn headers(timestamp: &str, signature: &str) -> String {
    format!("X-Dynaboard-Timestamp: {timestamp}\nX-Dynaboard-Signature: {signature}\n")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What `what` printed: both header lines exactly, nothing on stderr, the key nowhere.
fn assert_signed(what: &str, out: &Output, key: &str, expected: &str) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{what}: {}\nstdout: {stdout}\nstderr: {stderr}", out.status);
    assert_eq!(stdout, expected, "{what}");
    assert_eq!(stderr, "", "{what}: stderr");
    assert!(!stdout.contains(key) && !stderr.contains(key), "{what}: the key was printed");
}

/// Every case with the body from a file and from stdin, then the default timestamp, then a
/// missing key. `interpreter` must be installed (a missing one panics).
fn check_signer(interpreter: &str, script: &str) {
    let dir = std::env::temp_dir();
    for (i, case) in cases().iter().enumerate() {
        let expected = headers(&case.timestamp.to_string(), &case.expected());
        let ts = case.timestamp.to_string();
        let file = dir.join(format!("dynaboard-signers-{}-{script}-{i}", std::process::id()));
        std::fs::write(&file, &case.body).unwrap();
        let from_file =
            run(interpreter, script, Some(&case.key), &[case.method, &case.path, file.to_str().unwrap(), &ts], b"");
        std::fs::remove_file(&file).unwrap();
        let from_file = from_file.unwrap_or_else(|e| panic!("{interpreter} {script}: cannot run: {e}"));
        assert_signed(&format!("{script}, {}, body file", case.name), &from_file, &case.key, &expected);

        let from_stdin = run(interpreter, script, Some(&case.key), &[case.method, &case.path, "-", &ts], &case.body);
        assert_signed(&format!("{script}, {}, stdin", case.name), &from_stdin.unwrap(), &case.key, &expected);
    }

    // METHOD and PATH only: the body from stdin, the timestamp now.
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let out = run(interpreter, script, Some(VECTOR_KEY), &["PUT", VECTOR_PATH], VECTOR_BODY.as_bytes()).unwrap();
    let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let stdout = text(&out.stdout);
    let ts: i64 = stdout
        .strip_prefix("X-Dynaboard-Timestamp: ")
        .and_then(|rest| rest.lines().next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{script} without a timestamp printed {stdout:?} ({})", text(&out.stderr)));
    assert!((before..=after).contains(&ts), "{script}: default timestamp {ts} not in {before}..={after}");
    let parts = SignedParts { method: "PUT", path_and_query: VECTOR_PATH, body: VECTOR_BODY.as_bytes() };
    assert_signed(
        &format!("{script}, default timestamp"),
        &out,
        VECTOR_KEY,
        &headers(&ts.to_string(), &sign(VECTOR_KEY.as_bytes(), ts, &parts)),
    );

    // No key: an error on stderr, nothing on stdout.
    let out = run(interpreter, script, None, &["GET", "/v1/partners/demo/settings", "-", "1"], b"").unwrap();
    assert!(!out.status.success(), "{script} without a key succeeded");
    assert!(out.stdout.is_empty(), "{script} without a key printed {:?}", text(&out.stdout));
    assert!(text(&out.stderr).contains(KEY_ENV), "{script} without a key: {:?}", text(&out.stderr));
}

#[test]
fn the_shown_string_and_the_crate_give_the_vector() {
    assert_eq!(VECTOR_SIGNED, format!("v1:{VECTOR_TIMESTAMP}:PUT:{VECTOR_PATH}:{VECTOR_BODY}"));
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(VECTOR_KEY.as_bytes()).unwrap();
    mac.update(VECTOR_SIGNED.as_bytes());
    assert_eq!(format!("v1={}", hex::encode(mac.finalize().into_bytes())), VECTOR_SIGNATURE);
    let parts = SignedParts { method: "PUT", path_and_query: VECTOR_PATH, body: VECTOR_BODY.as_bytes() };
    assert_eq!(sign(VECTOR_KEY.as_bytes(), VECTOR_TIMESTAMP, &parts), VECTOR_SIGNATURE);
}

#[test]
fn docs_signing_md_shows_the_vector() {
    let doc = include_str!("../../docs/signing.md");
    for (what, value) in [
        ("key", VECTOR_KEY.to_string()),
        ("timestamp", VECTOR_TIMESTAMP.to_string()),
        ("path", VECTOR_PATH.to_string()),
        ("body", VECTOR_BODY.to_string()),
        ("signature", VECTOR_SIGNATURE.to_string()),
    ] {
        assert!(doc.contains(&value), "docs/signing.md does not show the vector's {what} {value}");
    }
    assert!(
        doc.lines().any(|l| l == VECTOR_SIGNED),
        "docs/signing.md does not show the signed string on a line of its own"
    );
}

#[test]
fn shell_signer_matches() {
    let openssl = Command::new("openssl").arg("version").output();
    assert!(
        openssl.as_ref().is_ok_and(|o| o.status.success()),
        "openssl is required for docs/signers/sign.sh (apt-get install openssl): {openssl:?}"
    );
    check_signer("bash", "sign.sh");
}

#[test]
fn python_signer_matches() {
    check_signer("python3", "sign.py");
}

#[test]
fn php_signer_matches_when_php_is_installed() {
    if let Err(e) = Command::new("php").arg("--version").output() {
        // Straight to stderr, not eprintln!, so that the test harness does not swallow it.
        let _ = writeln!(
            std::io::stderr(),
            "NOTE: docs/signers/sign.php was NOT checked: cannot run php ({e}); apt-get install php-cli"
        );
        return;
    }
    check_signer("php", "sign.php");
}
