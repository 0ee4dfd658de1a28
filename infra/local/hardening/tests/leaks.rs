//! Leaks, end to end (issue 7, point 5): a full scenario with a canary HipChat token and the
//! stack's signing key; every response (status line, headers, body) and every log line of the
//! stack (functions, gateway, simulator, moto) is searched for both secrets, raw and encoded.
//! 5xx bodies (forced with simulator faults) never echo request bodies, header values or
//! internal error text.
//!
//! One test: the faults it injects must not meet another test's requests.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use common::{Checks, Partner, User, clear_faults, inject, logs_dir, random_alnum, write_summary};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde_json::{Value, json};
use shared::domain::signature::{SIGNATURE_HEADER, SignedParts, TIMESTAMP_HEADER, sign};
use test_support::e2e::{Answer, Api, stack_var, unique_partner};

/// Every form a secret could leak in: raw, base64 (standard, unpadded, URL-safe), percent-
/// encoded, hex.
fn forms(secret: &str) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("raw", secret.to_owned()),
        ("base64", STANDARD.encode(secret)),
        ("base64-nopad", STANDARD_NO_PAD.encode(secret)),
        ("base64url", URL_SAFE_NO_PAD.encode(secret)),
        ("percent", utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string()),
        ("hex", secret.bytes().map(|b| format!("{b:02x}")).collect()),
    ];
    out.dedup_by(|a, b| a.1 == b.1);
    out
}

/// What a client saw of one answer: status line, headers and body.
fn transcript(a: &Answer) -> String {
    let mut t = format!("{}\n", a.status);
    for (k, v) in &a.headers {
        t.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
    }
    t.push_str(&a.text);
    t
}

/// A request signed here, so the test knows every header value it sent.
async fn send_signed(api: &Api, method: Method, path: &str, body: &str, probe: &str) -> (Answer, Vec<String>) {
    let ts = jiff::Timestamp::now().as_second();
    let sig = sign(
        api.key.as_bytes(),
        ts,
        &SignedParts { method: method.as_str(), path_and_query: path, body: body.as_bytes() },
    );
    let ts = ts.to_string();
    let a = api
        .send(method, path, body, false, &[(TIMESTAMP_HEADER, &ts), (SIGNATURE_HEADER, &sig), ("x-leak-probe", probe)])
        .await;
    (a, vec![ts, sig, probe.to_owned()])
}

#[tokio::test]
#[ignore = "needs the local stack (make test)"]
async fn secrets_never_leak_and_5xx_bodies_echo_nothing() {
    clear_faults().await;
    let api = Api::from_env();
    let mut checks = Checks::default();
    let canary = format!("LeakCanaryTok{}+=~", random_alnum(24));
    let key = stack_var("SIGNING_KEY");
    let hipchat = stack_var("HIPCHAT_URL");
    let mut seen: Vec<(String, Answer)> = Vec::new();

    // A token issued 350 days ago: the reminder warns about it (and probes it at HipChat).
    let issued = (shared::domain::token::today(jiff::Timestamp::now()) - jiff::Span::new().days(350)).to_string();
    let id = unique_partner("hl");
    let p = Partner::with_token(&api, id, canary.clone(), Some(&issued)).await;
    let user = User::new();
    let ev = |id: &str| {
        json!({"id": id, "type": "comment.created", "occurred_at": "2026-11-25T09:00:00Z",
            "actor": {"id": "u-leak", "first_name": "Lea", "last_name": "Kage", "email": "lea@hardening.example",
                "company": "Leaks & Co", "role": "customer"},
            "issue": {"id": 7, "title": "Leak check"}, "comment": {"id": "c-1", "excerpt": "no secrets here"}})
        .to_string()
    };
    let steps: Vec<(&str, Method, String, String)> = vec![
        ("settings PUT", Method::PUT, p.path("settings"), p.settings.to_string()),
        ("token PUT", Method::PUT, p.path("token"), json!({"token": canary, "issued_on": issued}).to_string()),
        ("settings GET", Method::GET, p.path("settings"), String::new()),
        ("connection check (stored)", Method::POST, p.path("connection-check"), String::new()),
        (
            "connection check (token in the body, with blanks)",
            Method::POST,
            p.path("connection-check"),
            json!({"hipchat_url": format!("{hipchat}/v2/"), "token": format!("  {canary} ")}).to_string(),
        ),
        ("rooms list", Method::GET, format!("{}?q=Staff&limit=5", p.path("rooms")), String::new()),
        ("chat availability", Method::GET, p.path("chat/availability"), String::new()),
        ("chat request", Method::POST, p.path("chat/requests"), user.body.to_string()),
        ("event", Method::POST, p.path("events"), ev("leak-1")),
        ("event again (duplicate)", Method::POST, p.path("events"), ev("leak-1")),
        (
            "422 token with a blank inside",
            Method::PUT,
            p.path("token"),
            json!({"token": format!("{canary} x")}).to_string(),
        ),
        (
            "422 settings with an unknown member",
            Method::PUT,
            p.path("settings"),
            json!({"active": true, "hipchat_token": canary, "signing_key": key}).to_string(),
        ),
        (
            "422 event",
            Method::POST,
            p.path("events"),
            json!({"id": "leak-422", "type": "nope", "token": canary}).to_string(),
        ),
    ];
    for (label, method, path, body) in steps {
        let a = api.call(method, &path, &body).await;
        seen.push((label.to_owned(), a));
    }
    let expected: [(&str, u16); 13] = [
        ("settings PUT", 200),
        ("token PUT", 200),
        ("settings GET", 200),
        ("connection check (stored)", 200),
        ("connection check (token in the body, with blanks)", 200),
        ("rooms list", 200),
        ("chat availability", 200),
        ("chat request", 201),
        ("event", 202),
        ("event again (duplicate)", 202),
        ("422 token with a blank inside", 422),
        ("422 settings with an unknown member", 422),
        ("422 event", 422),
    ];
    for ((label, a), (_, want)) in seen.iter().zip(expected) {
        checks.that(a.status == want, || format!("{label}: expected {want}, got {} {}", a.status, a.text));
    }

    // 401s: a wrong key, and no signature at all.
    let mut wrong = Api::from_env();
    wrong.key = format!("not-{}", random_alnum(20));
    let a = wrong.call(Method::GET, &p.path("settings"), "").await;
    checks.that(a.status == 401, || format!("wrong key: {}", a.status));
    seen.push(("401 wrong key".into(), a));
    let a = api.send(Method::POST, &p.path("chat/requests"), &user.body.to_string(), false, &[]).await;
    checks.that(a.status == 401, || format!("unsigned: {}", a.status));
    seen.push(("401 unsigned".into(), a));

    // 5xx bodies: forced with faults; they must not echo the request or internal errors.
    let moto_port = stack_var("AWS_ENDPOINT_URL").rsplit(':').next().unwrap_or_default().to_owned();
    let mut five_hundreds = Vec::new();
    let forced: [(&str, Value, &str); 3] = [
        ("event, connection dropped", json!({"endpoint": "POST /v2/room/{id}/notification", "drop": true}), "events"),
        (
            "event, HipChat 500 with an internal message",
            json!({"endpoint": "POST /v2/room/{id}/notification", "status": 500,
                "message": "InternalLeakProbe stack trace at /srv/hipchat/app.py:42"}),
            "events",
        ),
        (
            "chat request, connection dropped on create",
            json!({"endpoint": "POST /v2/room", "drop": true}),
            "chat/requests",
        ),
    ];
    for (label, fault, rest) in forced {
        let tag = random_alnum(12);
        let body = if rest == "events" {
            json!({"id": format!("leak-5xx-{tag}"), "type": "issue.created", "occurred_at": "2026-11-25T09:00:00Z",
                "actor": {"id": format!("u-{tag}"), "first_name": format!("BodyFirst{tag}"), "last_name": format!("BodyLast{tag}"),
                    "email": format!("body{tag}@hardening.example"), "company": format!("BodyCo{tag}"), "role": "customer"},
                "issue": {"id": format!("ISS-{tag}"), "title": format!("BodyTitle{tag}"), "url": format!("https://portal.example/{tag}")}})
        } else {
            json!({"user": {"id": format!("u-{tag}"), "first_name": format!("BodyFirst{tag}"), "last_name": format!("L{tag}"),
                "email": format!("body{tag}@hardening.example"), "company": format!("BodyCo{tag}"), "role": "customer"}})
        }
        .to_string();
        inject(fault).await;
        let probe = format!("HeaderProbe{tag}");
        let (a, header_values) = send_signed(&api, Method::POST, &p.path(rest), &body, &probe).await;
        clear_faults().await;
        checks.that(a.status == 503, || format!("{label}: expected 503, got {} {}", a.status, a.text));
        let mut forbidden: Vec<String> = vec![
            format!("BodyFirst{tag}"),
            format!("BodyLast{tag}"),
            format!("body{tag}@hardening.example"),
            format!("BodyCo{tag}"),
            format!("BodyTitle{tag}"),
            format!("portal.example/{tag}"),
            format!("u-{tag}"),
        ];
        forbidden.extend(header_values);
        forbidden.extend(
            [
                "InternalLeakProbe",
                "/srv/hipchat",
                "dispatch failure",
                "Connection refused",
                "connection closed before message completed",
                "IncompleteMessage",
                "error sending request",
                "hyper",
                "reqwest",
                "/home/",
                "/work/",
                "/root/",
                ".rs:",
                "src/",
                "panicked",
                "Bearer",
            ]
            .map(str::to_owned),
        );
        forbidden.push(format!("127.0.0.1:{moto_port}"));
        let echoed: Vec<&String> = forbidden.iter().filter(|f| a.text.contains(f.as_str())).collect();
        checks.that(echoed.is_empty(), || format!("{label}: the 5xx body echoes {echoed:?}: {}", a.text));
        println!("{label}: {} {}", a.status, a.text);
        five_hundreds.push(json!({"case": label, "status": a.status.as_u16(), "body": a.text,
            "checked_values": forbidden.len(), "echoed": echoed}));
        seen.push((format!("5xx: {label}"), a));
    }

    // The token-expiry reminder, invoked as the schedule would (Lambda invoke API of `cargo lambda watch`).
    let event = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../events/token-expiry-reminder.scheduled.json"),
    )
    .expect("the sample scheduled event");
    let url = format!("{}/2015-03-31/functions/token-expiry-reminder/invocations", stack_var("LAMBDA_INVOKE_URL"));
    shared::adapters::tls::install_crypto_provider();
    let resp = reqwest::Client::new().post(url).body(event).send().await.expect("cargo lambda watch answers");
    let reminder =
        Answer { status: resp.status(), headers: resp.headers().clone(), text: resp.text().await.unwrap_or_default() };
    println!("token-expiry reminder: {} {}", reminder.status, reminder.text);
    let summary: Value = serde_json::from_str(&reminder.text).unwrap_or(Value::Null);
    checks.that(reminder.status == 200 && summary["warned"].as_u64().is_some_and(|w| w >= 1), || {
        format!("the reminder: {} {}", reminder.status, reminder.text)
    });
    let warning =
        p.staff_notifications().await.iter().any(|n| n["message"].as_str().is_some_and(|m| m.contains("expires in")));
    checks.that(warning, || "no expiry warning in the staff room".into());
    seen.push(("token-expiry reminder invocation".into(), reminder));

    for (label, method, rest) in
        [("token DELETE", Method::DELETE, "token"), ("settings DELETE", Method::DELETE, "settings")]
    {
        let a = api.call(method, &p.path(rest), "").await;
        checks.that(a.status == 204, || format!("{label}: {}", a.status));
        seen.push((label.to_owned(), a));
    }

    // The logs: wait (bounded) until the functions wrote the last request's line.
    let marker = format!("/v1/partners/{}/settings", p.id);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(stack_var("FUNCTIONS_LOG"))
        .map(|l| !l.lines().any(|l| l.contains(&marker) && l.contains("DELETE")))
        .unwrap_or(true)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut logs: Vec<(String, String)> = Vec::new();
    for entry in std::fs::read_dir(logs_dir()).expect("the logs folder").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "log") {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()).into_owned();
            logs.push((path.file_name().unwrap_or_default().to_string_lossy().into_owned(), text));
        }
    }
    logs.sort();
    // The logs must hold this scenario, complete: one line per request in the functions' log
    // and in the gateway's (the setup's two requests, and every answer but the reminder's).
    let via_gateway = 2 + seen.len() - 1;
    let log_of = |name: &str| logs.iter().find(|(n, _)| n == name).map(|(_, t)| t.as_str()).unwrap_or("");
    let function_lines = log_of("functions.log")
        .lines()
        .filter(|l| l.contains(&format!("\"path\":\"/v1/partners/{}/", p.id)) && l.contains("\"status\":"))
        .count();
    let gateway_lines = log_of("gateway.log")
        .lines()
        .filter(|l| l.contains("forwarded") && l.contains(&format!("path=/v1/partners/{}/", p.id)))
        .count();
    checks.that(function_lines >= via_gateway && gateway_lines >= via_gateway, || {
        format!(
            "the logs miss requests of this scenario ({function_lines} function and {gateway_lines} gateway lines for \
             {via_gateway} requests): was the logs folder overwritten (another `stack.py test` in this checkout)?"
        )
    });

    // Count each secret in each form, in every answer and every log.
    let mut counts: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut leaks = Vec::new();
    for (secret_name, secret) in [("hipchat_token", canary.as_str()), ("signing_key", key.as_str())] {
        for (form, needle) in forms(secret) {
            let in_answers: usize = seen.iter().map(|(_, a)| transcript(a).matches(&needle).count()).sum();
            let entry = counts.entry(format!("{secret_name}/{form}")).or_default();
            entry.insert("responses".into(), in_answers);
            if in_answers > 0 {
                for (label, a) in &seen {
                    if transcript(a).contains(&needle) {
                        leaks.push(format!("{secret_name} ({form}) in the answer to {label}"));
                    }
                }
            }
            for (log, text) in &logs {
                let n = text.matches(&needle).count();
                entry.insert(log.clone(), n);
                if n > 0 {
                    leaks.push(format!("{secret_name} ({form}) {n} time(s) in {log}"));
                }
            }
        }
    }
    checks.that(leaks.is_empty(), || format!("leaks: {leaks:?}"));
    let log_lines: BTreeMap<&str, usize> = logs.iter().map(|(n, t)| (n.as_str(), t.lines().count())).collect();
    let response_count = seen.len();
    println!(
        "leak search: {response_count} responses and {log_lines:?} log lines searched; occurrences per secret/form and place:"
    );
    for (k, v) in &counts {
        println!("  {k}: {v:?}");
    }
    write_summary(
        "leaks",
        json!({"responses_searched": response_count, "scenario_log_lines": {"functions": function_lines, "gateway": gateway_lines}, "responses": seen.iter().map(|(l, a)| json!({"step": l, "status": a.status.as_u16()})).collect::<Vec<_>>(),
            "log_lines_searched": log_lines, "occurrences": counts, "leaks": leaks,
            "five_hundreds": five_hundreds, "passed": checks.failures.is_empty()}),
    );
    checks.assert_none("leaks");
}
