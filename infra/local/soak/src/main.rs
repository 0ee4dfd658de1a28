//! `make soak` (issue 17, part 4): for `SOAK_SECONDS` (default 300), `SOAK_CLIENTS` concurrent
//! clients (default 16) call the local gateway as a busy partner base would, while the HipChat
//! simulator injects faults; then it checks what arrived and how the function processes aged.
//!
//! Runs inside `stack.py soak` (the whole local stack on loopback, the functions' debug builds
//! under `cargo lambda watch`). In order:
//! 1. sets up `SOAK_PARTNERS` partners (own simulator token and staff room, chat always open,
//!    every notification on) and lifts the simulator's rate limits (faults stand in for them);
//! 2. warm-up: the same load without faults for `SOAK_WARMUP_SECONDS`, so every function
//!    instance `cargo lambda watch` starts is up; then the first sample of each function
//!    process's RSS and open file descriptors;
//! 3. the soak: the clients ([`load`]) until `SOAK_SECONDS` have passed or `SOAK_MAX_REQUESTS`
//!    requests were sent, faults queued by [`faults`]; a process sample every 10 s; then the
//!    clients finish what they started (retries included) and the last sample is taken;
//! 4. the checks ([`verify`]): every event answered 202 is in its staff room exactly once,
//!    one room per user, settings versions add up, no answer >= 500 but the documented 503s,
//!    no 401, flat RSS and file descriptors.
//!
//! Writes `target/soak/results.{md,json}`, prints the markdown, and fails when a check fails.
//! Every request goes to loopback: it refuses an API or simulator URL elsewhere.

mod client;
mod faults;
mod load;
mod procs;
mod report;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use reqwest::Method;
use serde_json::{Value, json};
use test_support::e2e::{sim, stack_var, unique_partner};

use crate::client::{Api, Outcome};
use crate::load::{Partner, SOAK, Soak, lock};

/// The HTTP functions (the processes sampled) and the gateway in front of them.
const PROCESSES: [&str; 5] = ["settings", "connection-check", "chat-request", "event-notification", "local-gateway"];
/// How long the clients may take to finish what they started after the soak's end.
const DRAIN: Duration = Duration::from_secs(150);
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

#[derive(Parser)]
#[command(about = "Concurrent clients through the local gateway with HipChat faults; exactly-once checks, RSS and fds")]
struct Args {
    /// How long the load runs (after the warm-up), seconds.
    #[arg(long, env = "SOAK_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,
    /// Concurrent clients.
    #[arg(long, env = "SOAK_CLIENTS", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=256))]
    clients: u64,
    /// At most this many requests in the soak phase (retries included); the load stops there.
    #[arg(long, env = "SOAK_MAX_REQUESTS", default_value_t = 200_000)]
    max_requests: u64,
    /// Partners, each with its own HipChat token and staff room.
    #[arg(long, env = "SOAK_PARTNERS", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=100))]
    partners: u64,
    /// The warm-up before the first sample, seconds (same load, no faults, not in the tables).
    #[arg(long, env = "SOAK_WARMUP_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    warmup_seconds: u64,
    /// One HipChat 500 per this many HipChat requests on average (429 bursts 5×, drops 10× rarer).
    #[arg(long, env = "SOAK_FAULT_EVERY", default_value_t = 100)]
    fault_every: u64,
    /// The random seed of the mix and the faults (printed; a fresh one by default).
    #[arg(long, env = "SOAK_SEED")]
    seed: Option<u64>,
    /// Where the function binaries that `cargo lambda watch` runs are (the processes sampled).
    #[arg(long, default_value = "target/debug")]
    bin_dir: PathBuf,
    /// Where the results go.
    #[arg(long, default_value = "target/soak")]
    out: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("[soak] a check failed (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("[soak] error: {e}");
            ExitCode::from(2)
        }
    }
}

fn loopback_only(name: &str, url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{name}: {e}"))?;
    let host = parsed.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
    let loopback = host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback { Ok(()) } else { Err(format!("{name} must be a loopback address, got {url}")) }
}

async fn run(args: Args) -> Result<bool, String> {
    let started_at = jiff::Timestamp::now();
    let wall = Instant::now();
    let (api_url, hipchat_url) = (stack_var("API_BASE_URL"), stack_var("HIPCHAT_URL"));
    loopback_only("API_BASE_URL", &api_url)?;
    loopback_only("HIPCHAT_URL", &hipchat_url)?;
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..1_000_000_000));
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    println!(
        "[soak] {} clients, {} partners, {} s after a {} s warm-up, at most {} requests, seed {seed}",
        args.clients, args.partners, args.seconds, args.warmup_seconds, args.max_requests
    );

    let api = Api::new(api_url, stack_var("SIGNING_KEY"));
    let (partners, start_versions) = set_up(&api, &hipchat_url, args.partners).await?;
    let soak = Arc::new(Soak::new(api, partners, start_versions, args.max_requests));

    // Warm-up: every function instance started, no faults.
    let until = Instant::now() + Duration::from_secs(args.warmup_seconds);
    let mut warm = tokio::task::JoinSet::new();
    for i in 0..args.clients {
        warm.spawn(soak.clone().client(seed ^ (0x9e37_79b9 * (i + 1)), until));
    }
    warm.join_all().await;
    let warmup_took = wall.elapsed();

    // The soak.
    soak.phase.store(SOAK, Ordering::Relaxed);
    let t0 = Instant::now();
    let mut samples = vec![(0.0, procs::scan(&args.bin_dir, &PROCESSES))];
    let stop = Arc::new(AtomicBool::new(false));
    let injector = {
        let (stop, sim_url, every) = (stop.clone(), hipchat_url.clone(), args.fault_every);
        tokio::spawn(async move { faults::Injector::new(sim_url).run(every, seed, stop).await })
    };
    let deadline = t0 + Duration::from_secs(args.seconds);
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..args.clients {
        clients.spawn(soak.clone().client(seed.wrapping_add(0x2545_f491 * (i + 1)), deadline));
    }
    let mut next_sample = t0 + SAMPLE_EVERY;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = Instant::now();
        if now >= deadline || !soak.budget_left() || clients.is_empty() {
            break;
        }
        while let Some(done) = clients.try_join_next() {
            done.map_err(|e| format!("a client failed: {e}"))?;
        }
        if now >= next_sample {
            samples.push((t0.elapsed().as_secs_f64(), procs::scan(&args.bin_dir, &PROCESSES)));
            next_sample += SAMPLE_EVERY;
        }
    }
    let soak_took = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    let injected = injector.await.map_err(|e| format!("the fault injector failed: {e}"))?;
    let drained = tokio::time::timeout(DRAIN, async {
        while let Some(done) = clients.join_next().await {
            if let Err(e) = done {
                return Err(format!("a client failed: {e}"));
            }
        }
        Ok(())
    })
    .await;
    match drained {
        Ok(r) => r?,
        Err(_) => {
            soak.finding("gave up", format!("clients still busy {} s after the end", DRAIN.as_secs()));
            clients.abort_all();
        }
    }
    let drain_took = t0.elapsed() - soak_took;
    samples.push((t0.elapsed().as_secs_f64(), procs::scan(&args.bin_dir, &PROCESSES)));

    // What arrived.
    let rooms = sim(Method::GET, "/_sim/rooms", Value::Null).await;
    let rooms = rooms.as_array().cloned().unwrap_or_default();
    let finals = verify::final_settings(&soak).await;
    let (mut checks, seen) = verify::verify(&soak, &rooms, finals);
    let stats = lock(&soak.stats).clone();
    let rows = report::rows(&stats);
    let findings = std::mem::take(&mut *lock(&soak.findings));
    checks.extend(answer_checks(&findings, &rows, &injected));
    let processes = report::proc_rows(&samples);
    let functions: Vec<&report::ProcRow> = processes.iter().filter(|p| p.name != "local-gateway").collect();
    checks.push(verify_check(
        "function processes: RSS and open files flat, none exited or started during the soak",
        !functions.is_empty() && functions.iter().all(|p| p.flat),
        format!(
            "{} processes; RSS {} → {} MiB in total; fds {} → {}; not flat: {}",
            functions.len(),
            sum_mib(functions.iter().filter_map(|p| p.rss_start_kib)),
            sum_mib(functions.iter().filter_map(|p| p.rss_end_kib)),
            functions.iter().filter_map(|p| p.fds_start).sum::<usize>(),
            functions.iter().filter_map(|p| p.fds_end).sum::<usize>(),
            functions
                .iter()
                .filter(|p| !p.flat)
                .map(|p| format!("{} {}", p.name, p.pid))
                .reduce(|a, b| format!("{a}, {b}"))
                .unwrap_or_else(|| "none".into())
        ),
    ));

    let requests = soak.requests.load(Ordering::Relaxed);
    let mut setup: Vec<(String, String)> = Vec::new();
    setup.push(("started".into(), started_at.round(jiff::Unit::Second).unwrap_or(started_at).to_string()));
    setup.push(("commit".into(), git_commit()));
    setup.push(("machine".into(), machine()));
    setup.push((
        "build".into(),
        "debug (`make build`): the functions under `cargo lambda watch --concurrency 4`, the local gateway and the \
         simulator as `make run` runs them; moto server"
            .into(),
    ));
    setup.push(("clients".into(), format!("{} (each sends its next request when the last is answered)", args.clients)));
    setup.push(("partners".into(), format!("{} (each its own HipChat token and staff room)", args.partners)));
    setup.push((
        "time".into(),
        format!(
            "warm-up {:.0} s, soak {:.1} s (asked {} s), finishing started requests {:.1} s; whole run {:.0} s",
            warmup_took.as_secs_f64(),
            soak_took.as_secs_f64(),
            args.seconds,
            drain_took.as_secs_f64(),
            wall.elapsed().as_secs_f64()
        ),
    ));
    setup.push((
        "requests".into(),
        format!(
            "{requests} in the soak phase (limit {}), {:.1}/s; {} operations",
            args.max_requests,
            requests as f64 / (soak_took + drain_took).as_secs_f64(),
            soak.operations.load(Ordering::Relaxed)
        ),
    ));
    setup.push(("mix".into(), load::mix_text()));
    setup.push((
        "HipChat limits".into(),
        "the simulator's rate limit and flood control lifted (one HipChat instance for every partner; the injected \
         429s stand in for them)"
            .into(),
    ));
    setup.push((
        "repeat".into(),
        format!(
            "SOAK_SECONDS={} SOAK_CLIENTS={} SOAK_PARTNERS={} SOAK_SEED={seed} make soak",
            args.seconds, args.clients, args.partners
        ),
    ));
    let results = report::Results { setup, checks, rows, faults: injected, seen, processes, samples, findings };
    let md = report::markdown(&results);
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    std::fs::write(args.out.join("results.json"), json).map_err(|e| e.to_string())?;
    std::fs::write(args.out.join("results.md"), &md).map_err(|e| e.to_string())?;
    println!("{md}");
    println!("[soak] wrote {0}/results.md and {0}/results.json", args.out.display());
    Ok(results.ok())
}

fn verify_check(name: &str, ok: bool, measured: String) -> verify::Check {
    verify::Check { name: name.to_owned(), measured, ok }
}

fn sum_mib(kib: impl Iterator<Item = u64>) -> String {
    format!("{:.1}", kib.sum::<u64>() as f64 / 1024.0)
}

/// The checks on the answers themselves.
fn answer_checks(findings: &load::Findings, rows: &[report::Row], injected: &faults::Injected) -> Vec<verify::Check> {
    let count = |category: &str| findings.counts.get(category).copied().unwrap_or(0);
    let bare: u64 = rows.iter().flat_map(|r| r.bare_503_types.values()).sum();
    let hipchat_faults = injected.applied_500() + injected.applied_drops();
    let ra: u64 = rows.iter().flat_map(|r| r.retry_after.values()).sum();
    let bad_5xx = count("answer >= 500 other than 503") + count("503 without Retry-After");
    vec![
        verify_check("no 401", count("401") == 0, format!("{} × 401", count("401"))),
        verify_check(
            "0 answers >= 500 but the documented 503s",
            bad_5xx == 0 && bare == 0,
            format!(
                "{ra} × 503 with Retry-After (after {hipchat_faults} injected HipChat 500s and drops, and the 429s); \
                 {bare} × 503 without Retry-After; {bad_5xx} answers >= 500 that are not a 503 with Retry-After"
            ),
        ),
        verify_check(
            "every request answered and every operation finished",
            count("no HTTP answer") == 0 && count("gave up") == 0,
            format!("{} without an HTTP answer; {} given up", count("no HTTP answer"), count("gave up")),
        ),
        verify_check(
            "every answer as the API documents it",
            ["unexpected status", "wrong answer", "resend not answered duplicate", "Retry-After > 60 s"]
                .iter()
                .all(|c| count(c) == 0),
            format!(
                "unexpected statuses {}, wrong bodies {}, resends not answered duplicate {}, Retry-After > 60 s {}",
                count("unexpected status"),
                count("wrong answer"),
                count("resend not answered duplicate"),
                count("Retry-After > 60 s")
            ),
        ),
    ]
}

/// Partners with a simulator token and staff room each; answers them and their settings
/// versions once set up.
async fn set_up(api: &Api, hipchat_url: &str, n: u64) -> Result<(Vec<Partner>, Vec<u64>), String> {
    sim(Method::PUT, "/_sim/limits", json!({"rate_limit": 1_000_000, "flood_limit": 1_000_000})).await;
    let mut partners = Vec::new();
    let mut versions = Vec::new();
    for i in 0..n {
        let id = unique_partner("soak");
        let token = format!("Soak{i}x{}", std::iter::repeat_with(fastrand::alphanumeric).take(24).collect::<String>());
        sim(Method::POST, "/_sim/tokens", json!({"token": token})).await;
        let staff = sim(Method::POST, "/_sim/rooms", json!({"name": format!("Soak staff {i}")})).await;
        let staff_room = staff["id"].as_u64().ok_or("the simulator did not name the staff room's id")?;
        let p = Partner { id, staff_room, hipchat_url: hipchat_url.to_owned() };
        let path = p.path("settings");
        expect(api.send(&Method::PUT, &path, &p.settings(None).to_string(), None).await.0, 200, "settings")?;
        let body = json!({"token": token}).to_string();
        expect(api.send(&Method::PUT, &p.path("token"), &body, None).await.0, 200, "token")?;
        let read = expect(api.send(&Method::GET, &path, "", None).await.0, 200, "settings read")?;
        versions.push(read["version"].as_u64().ok_or("GET /settings without version")?);
        partners.push(p);
    }
    Ok((partners, versions))
}

fn expect(outcome: Outcome, status: u16, what: &str) -> Result<Value, String> {
    match outcome {
        Outcome::Reply(r) if r.status == status => Ok(r.json()),
        Outcome::Reply(r) => Err(format!("setting up the {what}: {} {}", r.status, load::truncate(&r.body, 300))),
        Outcome::Transport(k) => Err(format!("setting up the {what}: no answer ({k})")),
    }
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("?".into(), |o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map_or("?".into(), |m| m.trim_start_matches([' ', '\t', ':']).to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "{cores} cores, {model}; load average at the end {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    )
}
