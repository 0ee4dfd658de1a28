//! `make bench`: the functions' release binaries measured side by side with a bare
//! `lambda_runtime` hello-world, on this machine, in one run (issue 9).
//!
//! Runs inside `stack.py bench` (moto, the table, the signing key and the HipChat simulator
//! up; no functions). It starts its own small Lambda service ([`lambda`]), the local gateway
//! in front of it, and recording proxies in front of moto and the simulator ([`proxy`]), then:
//! - **cold**: for each function, `--cold-runs` times: stop its process, send one request; the
//!   init (process start to the first `GET /next`) and the first invocation's latency;
//! - **warm**: per endpoint, `--warm-runs` requests to a running process: the latency, the
//!   time spent waiting on upstream calls, the difference (the handler's own overhead), and
//!   the upstream calls per request (the proxies; HipChat also from the simulator's counters);
//! - the peak RSS of each process and the size of each arm64 bootstrap zip (`make package`).
//!
//! Writes `target/bench/results.json` and `target/bench/results.md`.

mod lambda;
mod proxy;
mod report;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use reqwest::Method;
use serde_json::{Value, json};
use test_support::e2e::{Api, days_open_around_the_clock, sim, stack_var};

use crate::lambda::{Lambda, Record, Spec};
use crate::proxy::{Span, Spans, Upstream};
use crate::report::{Cold, Results, Warm};

/// The functions, in the order of the report.
const FUNCTIONS: [&str; 5] =
    ["settings", "connection-check", "chat-request", "event-notification", "token-expiry-reminder"];
const HELLO: &str = "hello";
/// The warm row of the hello-world.
const HELLO_FLOOR: &str = "hello-world (floor)";

#[derive(Parser)]
#[command(about = "Cold init, warm latency, upstream calls, zip size and peak RSS of the functions")]
struct Args {
    /// Cold starts per function (and for the hello-world).
    #[arg(long, default_value_t = 20)]
    cold_runs: usize,
    /// Measured requests per endpoint (after a few unmeasured ones).
    #[arg(long, default_value_t = 200)]
    warm_runs: usize,
    /// Where the release binaries are (functions, hello, local-gateway).
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Where `make package` put the arm64 zips (`<function>/bootstrap.zip`).
    #[arg(long, default_value = "target/lambda")]
    zip_dir: PathBuf,
    /// The functions' environment (written by `stack.py bench`).
    #[arg(long, env = "FUNCTIONS_ENV_FILE")]
    env_file: PathBuf,
    /// Where the results and the processes' logs go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
}

/// An operation the warm phase measures: which function serves it and how to send it.
struct Endpoint {
    name: &'static str,
    function: &'static str,
    method: Method,
    path: String,
    body: Box<dyn Fn(usize) -> String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    std::fs::create_dir_all(args.out.join("logs"))?;
    let spans = Arc::new(Spans::default());
    let aws_proxy = proxy::start(&stack_var("AWS_ENDPOINT_URL"), false, spans.clone()).await?;
    let hipchat_proxy = proxy::start(&stack_var("HIPCHAT_URL"), true, spans.clone()).await?;

    let env = function_env(&args.env_file, &aws_proxy)?;
    let mut specs: Vec<Spec> = FUNCTIONS
        .iter()
        .map(|f| Spec {
            name: (*f).to_owned(),
            bin: args.bin_dir.join(f),
            env: env.clone(),
            log: args.out.join("logs").join(format!("{f}.log")),
        })
        .collect();
    specs.push(Spec {
        name: HELLO.to_owned(),
        bin: args.bin_dir.join(HELLO),
        env: vec![],
        log: args.out.join("logs").join("hello.log"),
    });
    for s in &specs {
        if !s.bin.exists() {
            return Err(format!("{} is missing: run `make bench`, which builds it", s.bin.display()).into());
        }
    }
    let lambda = Lambda::start(specs).await?;
    let gateway = Gateway::start(&args.bin_dir.join("local-gateway"), &lambda.invoke_url, &args.out).await?;
    let api = Api::new(gateway.url.clone(), stack_var("SIGNING_KEY"));

    let outcome = run(&args, &lambda, &api, &spans, &hipchat_proxy).await;
    lambda.stop_all().await;
    drop(gateway);
    let results = outcome?;
    std::fs::write(args.out.join("results.json"), serde_json::to_string_pretty(&results)?)?;
    let md = report::markdown(&results);
    std::fs::write(args.out.join("results.md"), &md)?;
    println!("{md}");
    println!("[bench] wrote {0}/results.md and {0}/results.json", args.out.display());
    Ok(())
}

async fn run(
    args: &Args,
    lambda: &Lambda,
    api: &Api,
    spans: &Spans,
    hipchat_proxy: &str,
) -> Result<Results, Box<dyn std::error::Error>> {
    let partner = Partner::set_up(api, hipchat_proxy).await?;
    let repeat_user = user_body("repeat");
    expect(
        api.call(Method::POST, &partner.path("chat/requests"), &repeat_user).await,
        200..=201,
        "first chat request",
    )?;
    let reminder_event = std::fs::read("events/token-expiry-reminder.scheduled.json")?;

    // Cold starts.
    let mut cold = Vec::new();
    let mut first_event = 0usize;
    for function in FUNCTIONS.iter().copied().chain([HELLO]) {
        let mut inits = Vec::new();
        let mut firsts = Vec::new();
        for _ in 0..args.cold_runs {
            lambda.stop(function).await;
            let record = match function {
                HELLO => lambda.invoke(HELLO, r#"{"bench":"cold"}"#.into()).await?.1,
                "token-expiry-reminder" => lambda.invoke(function, reminder_event.clone().into()).await?.1,
                _ => {
                    let (method, path, body) = match function {
                        "settings" => (Method::GET, partner.path("settings"), String::new()),
                        "connection-check" => (Method::POST, partner.path("connection-check"), String::new()),
                        "chat-request" => (Method::POST, partner.path("chat/requests"), repeat_user.clone()),
                        _ => {
                            first_event += 1;
                            (Method::POST, partner.path("events"), event_body(&format!("cold-{first_event}")))
                        }
                    };
                    let answer = api.call(method, &path, &body).await;
                    expect(answer, 200..=202, function)?;
                    lambda.last(function).ok_or("no invocation recorded")?
                }
            };
            if !record.cold || record.error {
                return Err(format!("{function}: the cold invocation was not cold, or failed").into());
            }
            inits.push(record.init.unwrap_or_default());
            firsts.push(record.latency());
        }
        cold.push(Cold::new(function, &inits, &firsts));
        lambda.stop(function).await;
    }

    // Warm latency per endpoint.
    let mut warm = Vec::new();
    for ep in endpoints(&partner) {
        for i in 0..5 {
            send(api, &ep, usize::MAX - i).await?;
        }
        let before = partner.hipchat_counters().await;
        let cpu_before = lambda.cpu_ns(ep.function).await.ok_or("the warm process is gone")?;
        let mut samples = Vec::new();
        for i in 0..args.warm_runs {
            send(api, &ep, i).await?;
            let record = lambda.last(ep.function).ok_or("no invocation recorded")?;
            samples.push((record.clone(), spans.within(record.handed, record.done)));
        }
        let cpu = lambda.cpu_ns(ep.function).await.ok_or("the warm process is gone")? - cpu_before;
        let after = partner.hipchat_counters().await;
        let hipchat_sim: u64 = after.iter().map(|(k, v)| v - before.get(k).copied().unwrap_or(0)).sum();
        let mut row = Warm::new(ep.name, ep.function, &samples, hipchat_sim as f64 / args.warm_runs as f64);
        row.cpu_ms_per_request = Some(cpu as f64 / 1e6 / args.warm_runs as f64);
        warm.push(row);
    }

    // The floor: the hello-world's own round trip through the runtime API, no upstream.
    let mut samples = Vec::new();
    let mut cpu_before = 0;
    for i in 0..args.warm_runs + 5 {
        if i == 5 {
            cpu_before = lambda.cpu_ns(HELLO).await.ok_or("the hello-world is gone")?;
        }
        let (_, record) = lambda.invoke(HELLO, r#"{"bench":"warm"}"#.into()).await?;
        if i >= 5 {
            samples.push((record, Vec::new()));
        }
    }
    let cpu = lambda.cpu_ns(HELLO).await.ok_or("the hello-world is gone")? - cpu_before;
    let mut row = Warm::new(HELLO_FLOOR, HELLO, &samples, 0.0);
    row.cpu_ms_per_request = Some(cpu as f64 / 1e6 / args.warm_runs as f64);
    warm.push(row);

    // What one upstream call costs in transport alone on this machine: a request through the
    // recording proxy from here, minus the time the proxy records for it.
    let transport = proxy_hop(hipchat_proxy, spans, args.warm_runs).await?;

    let mut rss = BTreeMap::new();
    for function in FUNCTIONS.iter().copied().chain([HELLO]) {
        if lambda.peak_rss_kib(function).await.is_none() {
            // A function the warm phase did not use (the reminder, the hello-world): one call.
            let payload = if function == HELLO { r#"{}"#.into() } else { reminder_event.clone() };
            lambda.invoke(function, payload.into()).await?;
        }
        rss.insert(function.to_owned(), lambda.peak_rss_kib(function).await.unwrap_or(0));
    }
    let zips = FUNCTIONS
        .iter()
        .map(|f| (f.to_string(), std::fs::metadata(args.zip_dir.join(f).join("bootstrap.zip")).map_or(0, |m| m.len())))
        .collect();
    partner.remove(api).await;
    Ok(Results::new(cold, warm, rss, zips, transport))
}

/// The median time a call spends outside the recording proxy's span: the loopback hop
/// between a client and the proxy (both directions), measured with `runs` calls from here.
async fn proxy_hop(proxy_url: &str, spans: &Spans, runs: usize) -> Result<Duration, String> {
    let client = reqwest::Client::new();
    let mut hops = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let resp = client.get(format!("{proxy_url}/_sim/limits")).send().await.map_err(|e| e.to_string())?;
        resp.bytes().await.map_err(|e| e.to_string())?;
        let end = Instant::now();
        let inside: Duration = spans.within(start, end).iter().map(|s| s.end - s.start).sum();
        hops.push((end - start).saturating_sub(inside));
    }
    hops.sort();
    Ok(hops[hops.len() / 2])
}

fn endpoints(p: &Partner) -> Vec<Endpoint> {
    let settings = p.settings.to_string();
    let (tag, tag2) = (p.id.clone(), p.id.clone());
    let none = |_| String::new();
    vec![
        endpoint("GET settings", "settings", Method::GET, p.path("settings"), none),
        endpoint("PUT settings", "settings", Method::PUT, p.path("settings"), move |_| settings.clone()),
        endpoint("POST connection-check", "connection-check", Method::POST, p.path("connection-check"), none),
        endpoint("GET chat/availability", "chat-request", Method::GET, p.path("chat/availability"), none),
        endpoint("POST chat/requests (new user)", "chat-request", Method::POST, p.path("chat/requests"), move |i| {
            user_body(&format!("{tag}-{i}"))
        }),
        endpoint("POST chat/requests (repeat)", "chat-request", Method::POST, p.path("chat/requests"), |_| {
            user_body("repeat")
        }),
        endpoint("POST events", "event-notification", Method::POST, p.path("events"), move |i| {
            event_body(&format!("{tag2}-{i}"))
        }),
    ]
}

fn endpoint(
    name: &'static str,
    function: &'static str,
    method: Method,
    path: String,
    body: impl Fn(usize) -> String + 'static,
) -> Endpoint {
    Endpoint { name, function, method, path, body: Box::new(body) }
}

async fn send(api: &Api, ep: &Endpoint, i: usize) -> Result<(), String> {
    let answer = api.call(ep.method.clone(), &ep.path, &(ep.body)(i)).await;
    expect(answer, 200..=202, ep.name)
}

fn expect(answer: test_support::e2e::Answer, ok: impl StatusRange, what: &str) -> Result<(), String> {
    if ok.contains(answer.status.as_u16()) { Ok(()) } else { Err(format!("{what}: {} {}", answer.status, answer.text)) }
}

trait StatusRange {
    fn contains(&self, status: u16) -> bool;
}
impl StatusRange for u16 {
    fn contains(&self, status: u16) -> bool {
        *self == status
    }
}
impl StatusRange for std::ops::RangeInclusive<u16> {
    fn contains(&self, status: u16) -> bool {
        std::ops::RangeInclusive::contains(self, &status)
    }
}

fn user_body(tag: &str) -> String {
    json!({"user": {"id": format!("u-{tag}"), "first_name": "Bench", "last_name": tag,
        "email": format!("{}@bench.example", tag.to_lowercase()), "company": "Bench & Co", "role": "customer"}})
    .to_string()
}

fn event_body(id: &str) -> String {
    test_support::e2e::issue_created_event(id, "Bench")
}

/// The bench's partner: its own simulator token and staff room, the chat button always on,
/// every notification on, and HipChat reached through the recording proxy.
struct Partner {
    id: String,
    token: String,
    settings: Value,
}

impl Partner {
    async fn set_up(api: &Api, hipchat_url: &str) -> Result<Self, String> {
        let id = test_support::e2e::unique_partner("bench");
        let token = format!("Bench{}", std::iter::repeat_with(fastrand::alphanumeric).take(24).collect::<String>());
        // The rate limits are HipChat's per token; the bench makes thousands of calls with one.
        sim(Method::PUT, "/_sim/limits", json!({"rate_limit": 1_000_000, "flood_limit": 1_000_000})).await;
        sim(Method::POST, "/_sim/tokens", json!({"token": token})).await;
        let staff = sim(Method::POST, "/_sim/rooms", json!({"name": format!("Staff {id}")})).await;
        let settings = json!({"active": true, "hipchat_url": hipchat_url,
            "notification_room_id": staff["id"], "language": "en",
            "chat": {"show_button": true, "button_position": "both",
                "service_hours": {"timezone": "UTC", "days": days_open_around_the_clock(), "closed_dates": []}},
            "notifications": {"login_logout": "customers", "comment_created": true, "issue_created": true,
                "issue_approval": true}});
        let p = Self { id, token, settings };
        expect(api.call(Method::PUT, &p.path("settings"), &p.settings.to_string()).await, 200, "bench settings")?;
        let body = json!({"token": p.token}).to_string();
        expect(api.call(Method::PUT, &p.path("token"), &body).await, 200, "bench token")?;
        Ok(p)
    }

    fn path(&self, rest: &str) -> String {
        format!("/v1/partners/{}/{rest}", self.id)
    }

    /// The simulator's request counters for this partner's token, per endpoint.
    async fn hipchat_counters(&self) -> BTreeMap<String, u64> {
        test_support::e2e::hipchat_requests(&self.token).await
    }

    async fn remove(&self, api: &Api) {
        let _ = api.call(Method::DELETE, &self.path("settings"), "").await;
    }
}

/// The functions' environment from `stack.py bench`, with AWS reached through the proxy.
fn function_env(file: &PathBuf, aws_proxy: &str) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut env: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| *k != "AWS_ENDPOINT_URL" && !k.starts_with('#'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    env.push(("AWS_ENDPOINT_URL".to_owned(), aws_proxy.to_owned()));
    Ok(env)
}

/// The local gateway (release build) in front of the bench's Lambda service.
struct Gateway {
    url: String,
    _child: tokio::process::Child,
}

impl Gateway {
    async fn start(bin: &PathBuf, lambda: &str, out: &std::path::Path) -> Result<Self, Box<dyn std::error::Error>> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = std::fs::File::create(out.join("logs").join("gateway.log"))?;
        let child = tokio::process::Command::new(bin)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--lambda", lambda])
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if Instant::now() > deadline {
                return Err("the local gateway did not start (target/bench/logs/gateway.log)".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Self { url: format!("http://127.0.0.1:{port}"), _child: child })
    }
}

/// The upstream wait of one invocation: the union of its calls' intervals (calls that
/// overlap count once), so that concurrent calls are not counted twice.
pub fn upstream_wait(record: &Record, spans: &[Span]) -> Duration {
    let mut intervals: Vec<(Instant, Instant)> = spans.iter().map(|s| (s.start, s.end)).collect();
    intervals.sort();
    let mut total = Duration::ZERO;
    let mut current: Option<(Instant, Instant)> = None;
    for (s, e) in intervals {
        let (s, e) = (s.max(record.handed), e.min(record.done));
        match current {
            Some((cs, ce)) if s <= ce => current = Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                current = Some((s, e));
            }
            None => current = Some((s, e)),
        }
    }
    if let Some((cs, ce)) = current {
        total += ce - cs;
    }
    total
}

/// Calls per upstream and operation in one invocation.
pub fn calls(spans: &[Span]) -> BTreeMap<(Upstream, String), u64> {
    let mut out = BTreeMap::new();
    for s in spans {
        *out.entry((s.upstream, s.operation.clone())).or_default() += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(from_ms: u64, to_ms: u64, base: Instant) -> Span {
        Span {
            upstream: Upstream::DynamoDb,
            operation: "GetItem".into(),
            start: base + Duration::from_millis(from_ms),
            end: base + Duration::from_millis(to_ms),
        }
    }

    #[test]
    fn overlapping_calls_count_once_in_the_upstream_wait() {
        let base = Instant::now();
        let record =
            Record { cold: false, init: None, handed: base, done: base + Duration::from_millis(100), error: false };
        let spans = [span(10, 30, base), span(20, 40, base), span(50, 60, base)];
        assert_eq!(upstream_wait(&record, &spans), Duration::from_millis(40));
        assert_eq!(upstream_wait(&record, &[]), Duration::ZERO);
        assert_eq!(calls(&spans).values().sum::<u64>(), 3);
    }
}
