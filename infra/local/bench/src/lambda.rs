//! A small Lambda service on loopback, enough to measure the functions as Lambda runs them:
//! the Invoke API the local gateway calls (`POST /2015-03-31/functions/{name}/invocations`)
//! and, per function, a Runtime API (`/2018-06-01/runtime/...`) that the function's own
//! release binary polls. A function's process is started on the first invocation after
//! [`Lambda::stop`] (a cold start), as Lambda does, and serves one invocation at a time.
//!
//! For each invocation it records what Lambda would bill and what the bench reports: whether
//! it was cold, the init time (process start to the first `GET /next`), and when the event
//! was handed out and the answer came back.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

/// How long an invocation may take before the bench gives up on it.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);

/// One finished invocation.
#[derive(Debug, Clone)]
pub struct Record {
    pub cold: bool,
    /// Process start to its first `GET /next` (cold invocations only).
    pub init: Option<Duration>,
    /// When the function received the event (its `GET /next` answered).
    pub handed: Instant,
    /// When the function posted its answer.
    pub done: Instant,
    /// The function posted to `/error` instead of `/response`.
    pub error: bool,
}

impl Record {
    pub fn latency(&self) -> Duration {
        self.done - self.handed
    }
}

struct Pending {
    id: String,
    payload: Bytes,
    reply: oneshot::Sender<Answer>,
}

struct Answer {
    body: Bytes,
    handed: Instant,
    done: Instant,
    error: bool,
}

/// What a function is started with.
pub struct Spec {
    pub name: String,
    pub bin: PathBuf,
    pub env: Vec<(String, String)>,
    pub log: PathBuf,
}

struct Func {
    spec: Spec,
    runtime_api: String,
    queue_tx: mpsc::UnboundedSender<Pending>,
    queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    in_flight: Mutex<HashMap<String, (oneshot::Sender<Answer>, Instant)>>,
    /// The running process; the lock also makes invocations of one function one at a time.
    process: tokio::sync::Mutex<Option<Child>>,
    first_next: Mutex<Option<Instant>>,
    records: Mutex<Vec<Record>>,
}

/// The service: its functions by name and the Invoke API's address.
pub struct Lambda {
    funcs: HashMap<String, Arc<Func>>,
    next_id: AtomicU64,
    pub invoke_url: String,
}

impl Lambda {
    /// Binds one Runtime API per function and the Invoke API, all on loopback.
    pub async fn start(specs: Vec<Spec>) -> std::io::Result<Arc<Self>> {
        let mut funcs = HashMap::new();
        for spec in specs {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let (queue_tx, queue_rx) = mpsc::unbounded_channel();
            let func = Arc::new(Func {
                runtime_api: listener.local_addr()?.to_string(),
                spec,
                queue_tx,
                queue_rx: tokio::sync::Mutex::new(queue_rx),
                in_flight: Mutex::new(HashMap::new()),
                process: tokio::sync::Mutex::new(None),
                first_next: Mutex::new(None),
                records: Mutex::new(Vec::new()),
            });
            let app = Router::new()
                .route("/2018-06-01/runtime/invocation/next", get(next))
                .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
                .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
                .route("/2018-06-01/runtime/init/error", post(init_error))
                .with_state(func.clone());
            tokio::spawn(async move { axum::serve(listener, app).await });
            funcs.insert(func.spec.name.clone(), func);
        }
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let lambda = Arc::new(Self {
            funcs,
            next_id: AtomicU64::new(1),
            invoke_url: format!("http://{}", listener.local_addr()?),
        });
        let app = Router::new()
            .route("/2015-03-31/functions/{name}/invocations", post(invoke_api))
            .with_state(lambda.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(lambda)
    }

    fn func(&self, name: &str) -> Result<&Arc<Func>, String> {
        self.funcs.get(name).ok_or_else(|| format!("no function {name}"))
    }

    /// Invokes `name` with `payload`; starts its process first when none runs.
    pub async fn invoke(&self, name: &str, payload: Bytes) -> Result<(Bytes, Record), String> {
        let func = self.func(name)?;
        let mut process = func.process.lock().await;
        let running = match process.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        };
        let started = if running { None } else { Some(spawn(func, &mut process)?) };
        let id = format!("bench-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let (reply, answer) = oneshot::channel();
        func.queue_tx.send(Pending { id, payload, reply }).map_err(|_| "the runtime API is gone".to_owned())?;
        let answer = tokio::time::timeout(INVOKE_TIMEOUT, answer)
            .await
            .map_err(|_| format!("{name}: no answer within {INVOKE_TIMEOUT:?} (see its log)"))?
            .map_err(|_| format!("{name}: the invocation was dropped"))?;
        let init = match started {
            Some(at) => {
                let first = func.first_next.lock().expect("lock").ok_or("no /next before the answer")?;
                Some(first - at)
            }
            None => None,
        };
        let record =
            Record { cold: started.is_some(), init, handed: answer.handed, done: answer.done, error: answer.error };
        func.records.lock().expect("lock").push(record.clone());
        Ok((answer.body, record))
    }

    /// The last invocation of `name`.
    pub fn last(&self, name: &str) -> Option<Record> {
        self.funcs.get(name)?.records.lock().expect("lock").last().cloned()
    }

    /// The running process's peak resident set (`VmHWM`), in KiB.
    pub async fn peak_rss_kib(&self, name: &str) -> Option<u64> {
        let process = self.func(name).ok()?.process.lock().await;
        let pid = process.as_ref()?.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// CPU time the running process has used so far, all its threads (`schedstat`), in ns.
    pub async fn cpu_ns(&self, name: &str) -> Option<u64> {
        let process = self.func(name).ok()?.process.lock().await;
        let pid = process.as_ref()?.id()?;
        let mut total = 0;
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            total += stat.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
        Some(total)
    }

    /// Ends the function's process, so the next invocation is a cold start.
    pub async fn stop(&self, name: &str) {
        if let Ok(func) = self.func(name) {
            let mut process = func.process.lock().await;
            if let Some(mut child) = process.take() {
                let _ = child.kill().await;
            }
        }
    }

    pub async fn stop_all(&self) {
        for name in self.funcs.keys() {
            self.stop(name).await;
        }
    }
}

fn spawn(func: &Func, process: &mut Option<Child>) -> Result<Instant, String> {
    let spec = &func.spec;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log)
        .map_err(|e| format!("{}: {e}", spec.log.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    *func.first_next.lock().expect("lock") = None;
    let mut cmd = Command::new(&spec.bin);
    cmd.env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", &func.runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", spec.name))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err))
        .kill_on_drop(true);
    let started = Instant::now();
    *process = Some(cmd.spawn().map_err(|e| format!("{}: {e}", spec.bin.display()))?);
    Ok(started)
}

async fn next(State(func): State<Arc<Func>>) -> Response {
    func.first_next.lock().expect("lock").get_or_insert_with(Instant::now);
    let pending = {
        let mut queue = func.queue_rx.lock().await;
        queue.recv().await
    };
    let Some(p) = pending else {
        return StatusCode::GONE.into_response();
    };
    let handed = Instant::now();
    func.in_flight.lock().expect("lock").insert(p.id.clone(), (p.reply, handed));
    let deadline = std::time::SystemTime::now() + INVOKE_TIMEOUT;
    let deadline_ms = deadline.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    (
        [
            ("lambda-runtime-aws-request-id", p.id),
            ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                format!("arn:aws:lambda:us-east-1:000000000000:function:{}", func.spec.name),
            ),
            ("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned()),
            ("content-type", "application/json".to_owned()),
        ],
        p.payload,
    )
        .into_response()
}

fn finish(func: &Func, id: &str, body: Bytes, error: bool) -> StatusCode {
    let done = Instant::now();
    match func.in_flight.lock().expect("lock").remove(id) {
        Some((reply, handed)) => {
            let _ = reply.send(Answer { body, handed, done, error });
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn response(State(func): State<Arc<Func>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    finish(&func, &id, body, false)
}

async fn error(State(func): State<Arc<Func>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    finish(&func, &id, body, true)
}

async fn init_error(State(func): State<Arc<Func>>, body: Bytes) -> StatusCode {
    eprintln!("[bench] {} failed its init: {}", func.spec.name, String::from_utf8_lossy(&body));
    StatusCode::ACCEPTED
}

async fn invoke_api(State(lambda): State<Arc<Lambda>>, Path(name): Path<String>, body: Bytes) -> Response {
    match lambda.invoke(&name, body).await {
        Ok((payload, record)) => {
            let mut headers = HeaderMap::new();
            headers.insert("content-type", "application/json".parse().expect("header"));
            if record.error {
                headers.insert("x-amz-function-error", "Unhandled".parse().expect("header"));
            }
            (StatusCode::OK, headers, payload).into_response()
        }
        Err(e) => {
            eprintln!("[bench] invoke {name}: {e}");
            (StatusCode::BAD_GATEWAY, e).into_response()
        }
    }
}
