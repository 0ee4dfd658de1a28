//! The bench's figures, the targets checked against them, and their markdown table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::lambda::Record;
use crate::proxy::{Span, Upstream};
use crate::{calls, upstream_wait};

/// DynamoDB operations that write.
const WRITES: [&str; 5] = ["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"];
/// 3 MB and 32 MB, in decimal megabytes.
const ZIP_TARGET_BYTES: u64 = 3_000_000;
const RSS_TARGET_BYTES: u64 = 32_000_000;
const INIT_RATIO_TARGET: f64 = 1.3;
const OVERHEAD_RATIO_TARGET: f64 = 0.10;

/// Median and tail of a sample, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Pct {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

impl Pct {
    /// Nearest-rank percentiles.
    pub fn of(sample: &[Duration]) -> Self {
        let mut ms: Vec<f64> = sample.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let at = |p: f64| {
            if ms.is_empty() {
                return 0.0;
            }
            let rank = ((p / 100.0) * ms.len() as f64).ceil() as usize;
            ms[rank.clamp(1, ms.len()) - 1]
        };
        Self { p50: at(50.0), p90: at(90.0), p99: at(99.0) }
    }
}

#[derive(Debug, Serialize)]
pub struct Cold {
    pub function: String,
    pub runs: usize,
    /// Process start to the first `GET /next`.
    pub init_ms: Pct,
    /// The first invocation, from the event handed out to the answer.
    pub first_invocation_ms: Pct,
    /// Median init over the hello-world's median init.
    pub init_ratio: f64,
    /// Median (init + first invocation) over the hello-world's.
    pub cold_total_ms_p50: f64,
}

impl Cold {
    pub fn new(function: &str, inits: &[Duration], firsts: &[Duration]) -> Self {
        let totals: Vec<Duration> = inits.iter().zip(firsts).map(|(a, b)| *a + *b).collect();
        Self {
            function: function.to_owned(),
            runs: inits.len(),
            init_ms: Pct::of(inits),
            first_invocation_ms: Pct::of(firsts),
            init_ratio: 0.0,
            cold_total_ms_p50: Pct::of(&totals).p50,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Warm {
    pub endpoint: String,
    pub function: String,
    pub runs: usize,
    pub latency_ms: Pct,
    pub upstream_wait_ms: Pct,
    /// Latency minus upstream wait, per request.
    pub overhead_ms: Pct,
    /// Median overhead over median upstream wait (none without upstream calls).
    pub overhead_ratio_p50: Option<f64>,
    /// Mean calls per request by `Upstream Operation`.
    pub calls: BTreeMap<String, f64>,
    /// Mean time of one call by `Upstream Operation`, ms.
    pub call_ms: BTreeMap<String, f64>,
    pub dynamodb: f64,
    pub dynamodb_writes: f64,
    pub secrets_manager: f64,
    pub hipchat: f64,
    /// HipChat requests per request by the simulator's own counters.
    pub hipchat_simulator: f64,
    /// CPU time of the function's process per request (all threads).
    pub cpu_ms_per_request: Option<f64>,
    /// Median overhead less the loopback transport of its upstream calls (calls × the
    /// measured proxy hop), over the median upstream wait.
    pub overhead_less_transport_ratio_p50: Option<f64>,
}

impl Warm {
    pub fn new(endpoint: &str, function: &str, samples: &[(Record, Vec<Span>)], hipchat_simulator: f64) -> Self {
        let n = samples.len().max(1) as f64;
        let mut latency = Vec::new();
        let mut upstream = Vec::new();
        let mut overhead = Vec::new();
        let mut per_op: BTreeMap<String, u64> = BTreeMap::new();
        let mut op_time: BTreeMap<String, Duration> = BTreeMap::new();
        let (mut ddb, mut writes, mut sm, mut hc) = (0u64, 0u64, 0u64, 0u64);
        for (record, spans) in samples {
            let wait = upstream_wait(record, spans);
            latency.push(record.latency());
            upstream.push(wait);
            overhead.push(record.latency().saturating_sub(wait));
            for span in spans {
                *op_time.entry(format!("{:?} {}", span.upstream, span.operation)).or_default() += span.end - span.start;
            }
            for ((up, op), c) in calls(spans) {
                *per_op.entry(format!("{up:?} {op}")).or_default() += c;
                match up {
                    Upstream::DynamoDb => {
                        ddb += c;
                        if WRITES.contains(&op.as_str()) {
                            writes += c;
                        }
                    }
                    Upstream::SecretsManager => sm += c,
                    Upstream::Hipchat => hc += c,
                }
            }
        }
        let (u, o) = (Pct::of(&upstream), Pct::of(&overhead));
        Self {
            endpoint: endpoint.to_owned(),
            function: function.to_owned(),
            runs: samples.len(),
            latency_ms: Pct::of(&latency),
            upstream_wait_ms: u,
            overhead_ms: o,
            overhead_ratio_p50: (u.p50 > 0.0).then(|| o.p50 / u.p50),
            call_ms: op_time
                .into_iter()
                .map(|(op, t)| {
                    let count = per_op.get(&op).copied().unwrap_or(1).max(1) as f64;
                    (op, t.as_secs_f64() * 1e3 / count)
                })
                .collect(),
            calls: per_op.into_iter().map(|(op, c)| (op, c as f64 / n)).collect(),
            dynamodb: ddb as f64 / n,
            dynamodb_writes: writes as f64 / n,
            secrets_manager: sm as f64 / n,
            hipchat: hc as f64 / n,
            hipchat_simulator,
            cpu_ms_per_request: None,
            overhead_less_transport_ratio_p50: None,
        }
    }

    fn upstream_calls(&self) -> f64 {
        self.dynamodb + self.secrets_manager + self.hipchat
    }
}

#[derive(Debug, Serialize)]
pub struct Target {
    pub target: String,
    pub measured: String,
    pub met: bool,
}

#[derive(Debug, Serialize)]
pub struct Results {
    pub machine: BTreeMap<String, String>,
    pub cold: Vec<Cold>,
    pub warm: Vec<Warm>,
    pub peak_rss_kib: BTreeMap<String, u64>,
    pub zip_bytes: BTreeMap<String, u64>,
    /// The loopback hop one upstream call costs outside the proxy's span, median ms.
    pub proxy_hop_ms: f64,
    pub targets: Vec<Target>,
}

impl Results {
    pub fn new(
        mut cold: Vec<Cold>,
        warm: Vec<Warm>,
        peak_rss_kib: BTreeMap<String, u64>,
        zip_bytes: BTreeMap<String, u64>,
        proxy_hop: Duration,
    ) -> Self {
        let proxy_hop_ms = proxy_hop.as_secs_f64() * 1e3;
        let mut warm = warm;
        for w in &mut warm {
            if w.upstream_wait_ms.p50 > 0.0 {
                let own = (w.overhead_ms.p50 - w.upstream_calls() * proxy_hop_ms).max(0.0);
                w.overhead_less_transport_ratio_p50 = Some(own / w.upstream_wait_ms.p50);
            }
        }
        let hello = cold.iter().find(|c| c.function == crate::HELLO).map_or(0.0, |c| c.init_ms.p50);
        for c in &mut cold {
            c.init_ratio = if hello > 0.0 { c.init_ms.p50 / hello } else { 0.0 };
        }
        let targets = targets(&cold, &warm, &peak_rss_kib, &zip_bytes);
        Self { machine: machine(), cold, warm, peak_rss_kib, zip_bytes, proxy_hop_ms, targets }
    }
}

fn targets(cold: &[Cold], warm: &[Warm], rss: &BTreeMap<String, u64>, zips: &BTreeMap<String, u64>) -> Vec<Target> {
    let mut out = Vec::new();
    let functions = cold.iter().filter(|c| c.function != crate::HELLO);
    let worst_init = functions.max_by(|a, b| a.init_ratio.total_cmp(&b.init_ratio));
    if let Some(w) = worst_init {
        out.push(Target {
            target: format!("init ≤ {INIT_RATIO_TARGET}× the hello-world (median)"),
            measured: format!("worst {:.2}× ({})", w.init_ratio, w.function),
            met: w.init_ratio <= INIT_RATIO_TARGET,
        });
    }
    let ratios = warm.iter().filter_map(|w| w.overhead_ratio_p50.map(|r| (r, w)));
    if let Some((r, w)) = ratios.max_by(|a, b| a.0.total_cmp(&b.0)) {
        out.push(Target {
            target: format!("handler overhead ≤ {:.0} % of upstream wait at p50", OVERHEAD_RATIO_TARGET * 100.0),
            measured: format!("worst {:.1} % ({})", r * 100.0, w.endpoint),
            met: r <= OVERHEAD_RATIO_TARGET,
        });
    }
    let find = |name: &str| warm.iter().find(|w| w.endpoint == name);
    if let Some(w) = find("POST chat/requests (repeat)") {
        out.push(Target {
            // The write is the signature's one-use record (docs/api.md "Replayed requests").
            target: "repeat chat request = 1 DynamoDB read + 1 write + 2 HipChat + 0 Secrets Manager".into(),
            measured: format!(
                "{} DynamoDB ({} writes) + {} HipChat + {} Secrets Manager",
                n(w.dynamodb),
                n(w.dynamodb_writes),
                n(w.hipchat),
                n(w.secrets_manager)
            ),
            met: w.dynamodb == 2.0 && w.dynamodb_writes == 1.0 && w.hipchat == 2.0 && w.secrets_manager == 0.0,
        });
    }
    if let Some(w) = find("POST chat/requests (new user)") {
        out.push(Target {
            target: "new user ≤ 2 DynamoDB writes + the signature's one + 3 HipChat".into(),
            measured: format!("{} DynamoDB writes + {} HipChat", n(w.dynamodb_writes), n(w.hipchat)),
            met: w.dynamodb_writes <= 3.0 && w.hipchat <= 3.0,
        });
    }
    if let Some(w) = find("POST events") {
        out.push(Target {
            target: "event ≤ 2 DynamoDB + 1 HipChat".into(),
            measured: format!("{} DynamoDB + {} HipChat", n(w.dynamodb), n(w.hipchat)),
            met: w.dynamodb <= 2.0 && w.hipchat <= 1.0,
        });
    }
    if let Some((f, b)) = zips.iter().max_by_key(|(_, b)| **b) {
        out.push(Target {
            target: "arm64 zip ≤ 3 MB".into(),
            measured: format!("largest {:.2} MB ({f})", *b as f64 / 1e6),
            met: zips.values().all(|b| *b > 0 && *b <= ZIP_TARGET_BYTES),
        });
    }
    let functions_rss = rss.iter().filter(|(f, _)| f.as_str() != crate::HELLO);
    if let Some((f, k)) = functions_rss.max_by_key(|(_, k)| **k) {
        out.push(Target {
            target: "peak RSS ≤ 32 MB".into(),
            measured: format!("largest {:.1} MB ({f})", *k as f64 * 1024.0 / 1e6),
            met: *k * 1024 <= RSS_TARGET_BYTES,
        });
    }
    out
}

fn pct(ratio: Option<f64>) -> String {
    ratio.map_or("–".into(), |r| format!("{:.1} %", r * 100.0))
}

/// A count per request: whole when it is whole.
fn n(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 { format!("{v:.0}") } else { format!("{v:.2}") }
}

fn machine() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if let Some(model) = cpuinfo.lines().find_map(|l| l.strip_prefix("model name")) {
        m.insert("cpu".into(), model.trim_start_matches([' ', '\t', ':']).to_owned());
    }
    m.insert("cores".into(), std::thread::available_parallelism().map_or(0, |n| n.get()).to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    if let Some(total) = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:")) {
        m.insert("memory".into(), total.trim().to_owned());
    }
    if let Ok(kernel) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        m.insert("kernel".into(), kernel.trim().to_owned());
    }
    if let Ok(out) = std::process::Command::new("rustc").arg("-V").output() {
        m.insert("rustc".into(), String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    m.insert("arch".into(), std::env::consts::ARCH.to_owned());
    m
}

/// The report's tables.
pub fn markdown(r: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "### Machine\n");
    for (k, v) in &r.machine {
        let _ = writeln!(s, "- {k}: {v}");
    }
    let _ = writeln!(s, "\n### Targets\n\n| target | measured | met |\n| --- | --- | --- |");
    for t in &r.targets {
        let _ = writeln!(s, "| {} | {} | {} |", t.target, t.measured, if t.met { "yes" } else { "**no**" });
    }
    let _ = writeln!(
        s,
        "\n### Cold start (x86_64 release binaries, {} runs each)\n\n\
         | function | init p50 ms | init p90 ms | × hello-world | first invocation p50 ms | p90 ms | init + first p50 ms |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        r.cold.first().map_or(0, |c| c.runs)
    );
    for c in &r.cold {
        let _ = writeln!(
            s,
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            c.function,
            c.init_ms.p50,
            c.init_ms.p90,
            c.init_ratio,
            c.first_invocation_ms.p50,
            c.first_invocation_ms.p90,
            c.cold_total_ms_p50
        );
    }
    let _ = writeln!(
        s,
        "\n### Warm requests ({} each)\n\n\
         | endpoint | p50 ms | p99 ms | upstream wait p50 ms | overhead p50 ms | overhead p99 ms | overhead / upstream (p50) | less loopback hops | CPU ms / request | DynamoDB (writes) | Secrets Manager | HipChat (simulator) |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        r.warm.first().map_or(0, |w| w.runs)
    );
    for w in &r.warm {
        let _ = writeln!(
            s,
            "| {} | {:.2} | {:.2} | {:.2} | {:.3} | {:.3} | {} | {} | {} | {} ({}) | {} | {} ({}) |",
            w.endpoint,
            w.latency_ms.p50,
            w.latency_ms.p99,
            w.upstream_wait_ms.p50,
            w.overhead_ms.p50,
            w.overhead_ms.p99,
            pct(w.overhead_ratio_p50),
            pct(w.overhead_less_transport_ratio_p50),
            w.cpu_ms_per_request.map_or("–".into(), |c| format!("{c:.3}")),
            n(w.dynamodb),
            n(w.dynamodb_writes),
            n(w.secrets_manager),
            n(w.hipchat),
            n(w.hipchat_simulator)
        );
    }
    let _ = writeln!(
        s,
        "\nOne loopback hop to the recording proxy and back (outside the upstream wait): {:.3} ms median.",
        r.proxy_hop_ms
    );
    let _ = writeln!(s, "\n### Calls per request, by operation\n");
    for w in &r.warm {
        let ops: Vec<String> = w
            .calls
            .iter()
            .map(|(op, c)| format!("{op} ×{} ({:.2} ms)", n(*c), w.call_ms.get(op).copied().unwrap_or(0.0)))
            .collect();
        let _ = writeln!(s, "- {}: {}", w.endpoint, if ops.is_empty() { "none".into() } else { ops.join(", ") });
    }
    let _ = writeln!(
        s,
        "\n### Size and memory\n\n| function | arm64 zip bytes | MB | peak RSS MB |\n| --- | ---: | ---: | ---: |"
    );
    for (f, kib) in &r.peak_rss_kib {
        let zip = r.zip_bytes.get(f).copied();
        let _ = writeln!(
            s,
            "| {f} | {} | {} | {:.1} |",
            zip.map_or("–".into(), |b| b.to_string()),
            zip.map_or("–".into(), |b| format!("{:.2}", b as f64 / 1e6)),
            *kib as f64 * 1024.0 / 1e6
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let sample: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Pct::of(&sample);
        assert_eq!((p.p50, p.p90, p.p99), (50.0, 90.0, 99.0));
        let one = Pct::of(&[Duration::from_millis(7)]);
        assert_eq!((one.p50, one.p99), (7.0, 7.0));
        assert_eq!(Pct::of(&[]).p50, 0.0);
    }
}
