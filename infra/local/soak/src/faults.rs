//! The fault injector: watches the simulator's request counter and, at random intervals,
//! queues a fault for the next HipChat request (whichever partner and call it is): about one
//! 500 per `every` requests, a burst of 2–5 429s per 5 × `every` (reset in 1 s or 5 s, in
//! turn), a dropped connection per 10 × `every`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

/// What was queued, and what was still pending (never applied) at the end.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Injected {
    /// HipChat requests while the injector ran (the simulator's counter).
    pub hipchat_requests: u64,
    pub status_500: u64,
    pub bursts_429: u64,
    /// Of those, the bursts whose reset was 1 s away (the others: 5 s).
    pub bursts_429_short: u64,
    /// 429 answers queued (the bursts' counts added up).
    pub status_429: u64,
    pub drops: u64,
    /// Faults still queued when the load stopped (cleared then), by kind.
    pub pending_500: u64,
    pub pending_429: u64,
    pub pending_drops: u64,
}

impl Injected {
    pub fn applied_500(&self) -> u64 {
        self.status_500 - self.pending_500
    }
    pub fn applied_429(&self) -> u64 {
        self.status_429 - self.pending_429
    }
    pub fn applied_drops(&self) -> u64 {
        self.drops - self.pending_drops
    }
}

pub struct Injector {
    http: reqwest::Client,
    sim: String,
}

impl Injector {
    pub fn new(sim: String) -> Self {
        Self { http: reqwest::Client::new(), sim }
    }

    async fn total(&self) -> Option<u64> {
        let resp = self.http.get(format!("{}/_sim/counters", self.sim)).send().await.ok()?;
        resp.json::<Value>().await.ok()?["total"].as_u64()
    }

    async fn queue(&self, fault: Value) -> bool {
        let resp = self.http.post(format!("{}/_sim/faults", self.sim)).json(&fault).send().await;
        resp.is_ok_and(|r| r.status().is_success())
    }

    /// Injects until `stop`, then clears what is still queued.
    pub async fn run(&self, every: u64, seed: u64, stop: Arc<AtomicBool>) -> Injected {
        let mut rng = fastrand::Rng::with_seed(seed);
        let every = every.max(2);
        let mut draw = |scale: u64| rng.u64(every * scale / 2..=every * scale * 3 / 2);
        let mut out = Injected::default();
        let start = loop {
            if let Some(t) = self.total().await {
                break t;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let (mut next_500, mut next_429, mut next_drop) = (start + draw(1), start + draw(5), start + draw(10));
        let mut pick = fastrand::Rng::with_seed(seed ^ 0x5eed);
        let mut last = start;
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let Some(total) = self.total().await else { continue };
            last = total;
            while total >= next_500 {
                if self.queue(json!({"status": 500, "message": "soak: injected server error"})).await {
                    out.status_500 += 1;
                }
                next_500 += draw(1);
            }
            while total >= next_429 {
                // Every other burst resets in 1 s: our HipChat client waits and retries once (the
                // burst may outlast it); the others in 5 s: a 503 with Retry-After at once.
                let count = pick.u64(2..=5);
                let short = out.bursts_429 % 2 == 0;
                let reset = if short { 1 } else { 5 };
                let fault = json!({"status": 429, "message": "Rate Limit exceeded", "reset_in_seconds": reset,
                    "count": count});
                if self.queue(fault).await {
                    out.bursts_429 += 1;
                    out.bursts_429_short += u64::from(short);
                    out.status_429 += count;
                }
                next_429 += draw(5);
            }
            while total >= next_drop {
                if self.queue(json!({"drop": true})).await {
                    out.drops += 1;
                }
                next_drop += draw(10);
            }
        }
        out.hipchat_requests = last - start;
        // What was never applied, then nothing more.
        if let Ok(resp) = self.http.get(format!("{}/_sim/faults", self.sim)).send().await
            && let Ok(Value::Array(pending)) = resp.json::<Value>().await
        {
            for f in pending {
                let count = f["count"].as_u64().unwrap_or(1);
                match (f["action"]["kind"].as_str(), f["action"]["status"].as_u64()) {
                    (Some("status"), Some(500)) => out.pending_500 += count,
                    (Some("status"), Some(429)) => out.pending_429 += count,
                    _ => out.pending_drops += count,
                }
            }
        }
        let _ = self.http.delete(format!("{}/_sim/faults", self.sim)).send().await;
        out
    }
}
