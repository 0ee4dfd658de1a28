//! The function processes `cargo lambda watch` runs (and the local gateway), found in /proc by
//! their executable, with their RSS, open file descriptors and CPU time.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// One process at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Proc {
    pub name: String,
    pub pid: u32,
    pub rss_kib: u64,
    pub fds: usize,
    pub threads: u64,
    /// User + system CPU time so far, in clock ticks converted to seconds.
    pub cpu_s: f64,
}

/// The processes whose executable is `bin_dir/<name>` for one of `names`, sorted by name, pid.
pub fn scan(bin_dir: &Path, names: &[&str]) -> Vec<Proc> {
    let dir = bin_dir.canonicalize().unwrap_or_else(|_| bin_dir.to_path_buf());
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return out };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(exe) = std::fs::read_link(entry.path().join("exe")) else { continue };
        // A binary rebuilt while it runs reads "<path> (deleted)".
        let exe = PathBuf::from(exe.to_string_lossy().trim_end_matches(" (deleted)"));
        let Some(name) = names.iter().find(|n| exe == dir.join(n)) else { continue };
        if let Some(p) = read(pid, name) {
            out.push(p);
        }
    }
    out.sort_by(|a, b| (&a.name, a.pid).cmp(&(&b.name, b.pid)));
    out
}

fn read(pid: u32, name: &str) -> Option<Proc> {
    let base = PathBuf::from(format!("/proc/{pid}"));
    let status = std::fs::read_to_string(base.join("status")).ok()?;
    let field = |key: &str| {
        status.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    };
    let fds = std::fs::read_dir(base.join("fd")).ok()?.count();
    Some(Proc {
        name: name.to_owned(),
        pid,
        rss_kib: field("VmRSS:")?,
        fds,
        threads: field("Threads:").unwrap_or(0),
        cpu_s: cpu_seconds(&std::fs::read_to_string(base.join("stat")).ok()?).unwrap_or(0.0),
    })
}

/// utime + stime of a /proc/<pid>/stat line, at the usual 100 ticks per second.
fn cpu_seconds(stat: &str) -> Option<f64> {
    // The command name may contain blanks and parentheses: the fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3; utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_from_a_stat_line() {
        let line = "4242 (chat (req)) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 5 0 100 0 0";
        assert_eq!(cpu_seconds(line), Some(3.0));
    }

    #[test]
    fn this_process_is_found_by_its_executable() {
        let exe = std::env::current_exe().expect("exe");
        let name = exe.file_name().and_then(|n| n.to_str()).expect("name").to_owned();
        let found = scan(exe.parent().expect("dir"), &[&name]);
        let me = found.iter().find(|p| p.pid == std::process::id()).expect("this process");
        assert!(me.rss_kib > 0 && me.fds > 0 && me.threads > 0);
    }
}
