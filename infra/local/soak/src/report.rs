//! The soak's figures and checks, as JSON and as the markdown docs/reliability.md quotes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::faults::Injected;
use crate::load::{BARE_503, Findings, Kind, RETRY_AFTER_503, Stats};
use crate::procs::Proc;
use crate::verify::{Check, Seen};

/// A function process may grow by this much (KiB) or this share, whichever is larger, between
/// the first and the last sample and still count as flat (allocator and connection-pool noise).
pub const RSS_NOISE_KIB: u64 = 2 * 1024;
pub const RSS_NOISE_SHARE: f64 = 0.10;
/// Open file descriptors a process may gain (pooled keep-alive connections come and go).
pub const FD_NOISE: usize = 8;

/// Nearest-rank percentile of microseconds, in milliseconds.
pub fn percentile(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    sorted_us[rank.clamp(1, sorted_us.len()) - 1] as f64 / 1e3
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub endpoint: String,
    pub requests: u64,
    pub statuses: BTreeMap<String, u64>,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub bare_503_types: BTreeMap<String, u64>,
    pub retry_after: BTreeMap<u64, u64>,
}

pub fn rows(stats: &BTreeMap<Kind, Stats>) -> Vec<Row> {
    Kind::ALL
        .iter()
        .filter_map(|k| {
            let s = stats.get(k)?;
            let mut l = s.latencies_us.clone();
            l.sort_unstable();
            Some(Row {
                endpoint: k.label().to_owned(),
                requests: l.len() as u64,
                statuses: s.statuses.clone(),
                p50_ms: percentile(&l, 50.0),
                p99_ms: percentile(&l, 99.0),
                max_ms: l.last().map_or(0.0, |v| *v as f64 / 1e3),
                bare_503_types: s.bare_503_types.clone(),
                retry_after: s.retry_after.clone(),
            })
        })
        .collect()
}

/// One process from the first to the last sample.
#[derive(Debug, Serialize)]
pub struct ProcRow {
    pub name: String,
    pub pid: u32,
    pub rss_start_kib: Option<u64>,
    pub rss_end_kib: Option<u64>,
    pub rss_max_kib: u64,
    pub fds_start: Option<usize>,
    pub fds_end: Option<usize>,
    pub threads_end: Option<u64>,
    /// CPU seconds between the samples.
    pub cpu_s: f64,
    pub flat: bool,
}

pub fn proc_rows(samples: &[(f64, Vec<Proc>)]) -> Vec<ProcRow> {
    let (Some((_, first)), Some((_, last))) = (samples.first(), samples.last()) else { return vec![] };
    let mut pids: Vec<(String, u32)> =
        samples.iter().flat_map(|(_, ps)| ps.iter().map(|p| (p.name.clone(), p.pid))).collect();
    pids.sort();
    pids.dedup();
    pids.into_iter()
        .map(|(name, pid)| {
            let a = first.iter().find(|p| p.pid == pid);
            let b = last.iter().find(|p| p.pid == pid);
            let max = samples.iter().flat_map(|(_, ps)| ps.iter().filter(|p| p.pid == pid).map(|p| p.rss_kib)).max();
            let flat = match (a, b) {
                (Some(a), Some(b)) => {
                    let allowed = RSS_NOISE_KIB.max((a.rss_kib as f64 * RSS_NOISE_SHARE) as u64);
                    b.rss_kib <= a.rss_kib + allowed && b.fds <= a.fds + FD_NOISE
                }
                _ => false,
            };
            ProcRow {
                name,
                pid,
                rss_start_kib: a.map(|p| p.rss_kib),
                rss_end_kib: b.map(|p| p.rss_kib),
                rss_max_kib: max.unwrap_or(0),
                fds_start: a.map(|p| p.fds),
                fds_end: b.map(|p| p.fds),
                threads_end: b.map(|p| p.threads),
                cpu_s: b.map_or(0.0, |b| b.cpu_s) - a.map_or(0.0, |a| a.cpu_s),
                flat,
            }
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct Results {
    pub setup: Vec<(String, String)>,
    pub checks: Vec<Check>,
    pub rows: Vec<Row>,
    pub faults: Injected,
    pub seen: Seen,
    pub processes: Vec<ProcRow>,
    /// Seconds into the soak -> the processes then (functions and the gateway).
    pub samples: Vec<(f64, Vec<Proc>)>,
    pub findings: Findings,
}

impl Results {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("–".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("–".into(), |v| v.to_string())
}

pub fn markdown(r: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "### Setup\n");
    for (k, v) in &r.setup {
        let _ = writeln!(s, "- {k}: {v}");
    }
    let f = &r.faults;
    let pct = |n: u64| if f.hipchat_requests == 0 { 0.0 } else { n as f64 * 100.0 / f.hipchat_requests as f64 };
    let _ = writeln!(
        s,
        "- HipChat faults (simulator, on the next /v2 request of any partner): {} HipChat requests during the soak; \
         {} × 500 applied ({:.2} %); {} bursts of 429 ({} with the reset in 1 s, {} in 5 s; {} × 429 applied, \
         {:.2} %); {} dropped connections ({:.2} %); still queued at the end and cleared: {} × 500, {} × 429, {} drops",
        f.hipchat_requests,
        f.applied_500(),
        pct(f.applied_500()),
        f.bursts_429,
        f.bursts_429_short,
        f.bursts_429 - f.bursts_429_short,
        f.applied_429(),
        pct(f.applied_429()),
        f.applied_drops(),
        pct(f.applied_drops()),
        f.pending_500,
        f.pending_429,
        f.pending_drops
    );
    let _ = writeln!(
        s,
        "\n### Checks (every request, the warm-up's included)\n\n| check | measured | ok |\n| --- | --- | --- |"
    );
    for c in &r.checks {
        let _ = writeln!(s, "| {} | {} | {} |", c.name, c.measured, if c.ok { "yes" } else { "**no**" });
    }
    let _ = writeln!(
        s,
        "\n### Requests per endpoint (soak phase; every attempt, retries included)\n\n\
         | endpoint | requests | statuses | p50 ms | p99 ms | max ms |\n| --- | ---: | --- | ---: | ---: | ---: |"
    );
    let mut total = 0;
    for row in &r.rows {
        total += row.requests;
        let statuses: Vec<String> = row.statuses.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} |",
            row.endpoint,
            row.requests,
            statuses.join(", "),
            row.p50_ms,
            row.p99_ms,
            row.max_ms
        );
    }
    let _ = writeln!(s, "| all | {total} | | | | |");
    let mut ra: BTreeMap<u64, u64> = BTreeMap::new();
    let mut bare: BTreeMap<String, u64> = BTreeMap::new();
    for row in &r.rows {
        for (k, v) in &row.retry_after {
            *ra.entry(*k).or_default() += v;
        }
        for (k, v) in &row.bare_503_types {
            *bare.entry(k.clone()).or_default() += v;
        }
    }
    let list = |m: &BTreeMap<String, u64>| m.iter().map(|(k, v)| format!("{k} × {v}")).collect::<Vec<_>>().join(", ");
    let _ = writeln!(
        s,
        "\n`{RETRY_AFTER_503}`: Retry-After seconds seen → count: {}. `{BARE_503}`: {} (every 503 must carry \
         Retry-After, docs/api.md \"Retry-After\").",
        if ra.is_empty() {
            "none".into()
        } else {
            ra.iter().map(|(k, v)| format!("{k} s × {v}")).collect::<Vec<_>>().join(", ")
        },
        if bare.is_empty() { "none".into() } else { list(&bare) }
    );
    let _ = writeln!(
        s,
        "\n### Processes (first sample after the warm-up, last when the load stopped)\n\n\
         | process | pid | RSS start MiB | RSS end MiB | RSS max MiB | fds start | fds end | threads | CPU s | flat |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    );
    for p in &r.processes {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} |",
            p.name,
            p.pid,
            mib(p.rss_start_kib),
            mib(p.rss_end_kib),
            mib(Some(p.rss_max_kib)),
            opt(p.fds_start),
            opt(p.fds_end),
            opt(p.threads_end),
            p.cpu_s,
            if p.flat { "yes" } else { "**no**" }
        );
    }
    let _ = writeln!(
        s,
        "\nFlat: RSS at the end within max({} MiB, {:.0} %) of the start, and at most {FD_NOISE} more open file \
         descriptors; a process missing from either sample is not flat.",
        RSS_NOISE_KIB / 1024,
        RSS_NOISE_SHARE * 100.0
    );
    let mut series: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (_, procs) in &r.samples {
        let mut sum: BTreeMap<&str, u64> = BTreeMap::new();
        for p in procs {
            *sum.entry(p.name.as_str()).or_default() += p.rss_kib;
        }
        for (name, kib) in sum {
            series.entry(name).or_default().push(format!("{:.1}", kib as f64 / 1024.0));
        }
    }
    let times: Vec<String> = r.samples.iter().map(|(t, _)| format!("{t:.0}")).collect();
    let _ = writeln!(s, "\nRSS of all of a function's processes together, MiB, at {} s:\n", times.join(", "));
    for (name, values) in series {
        let _ = writeln!(s, "- {name}: {}", values.join(" → "));
    }
    if !r.findings.examples.is_empty() {
        let _ = writeln!(s, "\n### Findings\n");
        for (k, v) in &r.findings.counts {
            let _ = writeln!(s, "- {k}: {v}");
        }
        let _ = writeln!(s, "\nFirst examples:\n");
        for e in &r.findings.examples {
            let _ = writeln!(s, "- {e}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let us: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!((percentile(&us, 50.0), percentile(&us, 99.0)), (50.0, 99.0));
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    fn p(pid: u32, rss_kib: u64, fds: usize) -> Proc {
        Proc { name: "settings".into(), pid, rss_kib, fds, threads: 2, cpu_s: 0.0 }
    }

    #[test]
    fn flat_within_the_noise_only() {
        let rows = proc_rows(&[
            (0.0, vec![p(1, 10_000, 10), p(2, 10_000, 10)]),
            (60.0, vec![p(1, 11_000, 12), p(3, 9_000, 9)]),
        ]);
        let flat: Vec<(u32, bool)> = rows.iter().map(|r| (r.pid, r.flat)).collect();
        assert_eq!(flat, vec![(1, true), (2, false), (3, false)]);
        let grown = proc_rows(&[(0.0, vec![p(1, 10_000, 10)]), (60.0, vec![p(1, 13_000, 10)])]);
        assert!(!grown[0].flat);
    }
}
