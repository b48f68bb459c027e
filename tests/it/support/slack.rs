//! A fake Slack: an axum server on `127.0.0.1:0` that records every request and answers from a
//! script, for the incoming webhook and the Web API (`chat.postMessage`, `chat.update`).
//!
//! It runs on its own thread with its own runtime, so the same fake serves async tests that
//! drive `heal::notify` in-process and sync tests that drive a separate `heal` process. Tests
//! wait on its signals (`wait_requests`, `wait_requests_async`), never on sleeps. It never
//! talks to the real Slack. A request it cannot make sense of (a body that is not JSON) is a
//! bug in heal: it fails the test when the fake is dropped.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};

/// The path of the webhook URL; its last segment plays the part of the secret.
pub const WEBHOOK_PATH: &str = "/services/T0FAKE/B0FAKE/fake-webhook-secret";
pub const POST_MESSAGE_PATH: &str = "/api/chat.postMessage";
pub const UPDATE_PATH: &str = "/api/chat.update";

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names in lowercase.
    pub headers: BTreeMap<String, String>,
    /// The parsed JSON body (`Null` when it was not JSON, which also fails the test).
    pub body: Value,
    pub raw: String,
    /// When it arrived.
    pub at: Instant,
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
    /// Wait this long before answering, to play a slow Slack.
    pub delay: Duration,
}

impl Reply {
    pub fn new(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.to_string(),
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            delay: Duration::ZERO,
        }
    }

    /// A JSON answer, as the Web API gives (it says `ok: false` with HTTP 200).
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: body.to_string(),
            headers: vec![(
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            )],
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct Inner {
    requests: Vec<Request>,
    /// Answers to give next, by path, before the defaults.
    scripts: HashMap<String, VecDeque<Reply>>,
    /// Replaces the defaults on every path once the script is used up.
    always: Option<Reply>,
    /// Added to every answer.
    slow: Duration,
    /// The last `ts` handed out by `chat.postMessage`.
    ts: u64,
    problems: Vec<String>,
}

struct Shared {
    inner: Mutex<Inner>,
    /// Signalled at every request, for sync waiters.
    arrived: Condvar,
    /// The number of requests so far, for async waiters.
    count: watch::Sender<usize>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking test thread must not hide the requests from the others.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct FakeSlack {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeSlack {
    /// Starts the fake on a free port; it is listening when this returns.
    pub fn start() -> FakeSlack {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner::default()),
            arrived: Condvar::new(),
            count: watch::Sender::new(0),
        });
        let (shutdown, stop) = oneshot::channel::<()>();
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let thread = std::thread::Builder::new()
            .name("fake-slack".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    // Not a graceful shutdown: heal's pooled keep-alive connections would
                    // hold it open. Dropping the runtime ends them.
                    tokio::select! {
                        served = axum::serve(listener, app) => served.unwrap(),
                        _ = stop => {}
                    }
                });
            })
            .unwrap();
        FakeSlack {
            addr,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The incoming-webhook URL (its path ends in a fake secret).
    pub fn webhook_url(&self) -> String {
        format!("http://{}{WEBHOOK_PATH}", self.addr)
    }

    /// The Web API base URL, as SLACK_API_URL takes it.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// Answers the next requests to `path` with `replies`, in order, then the defaults.
    pub fn script(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        self.shared
            .lock()
            .scripts
            .entry(path.to_string())
            .or_default()
            .extend(replies);
    }

    /// Answers every request on every path with `status` and `body` (after any script).
    pub fn respond_always(&self, status: u16, body: &str) {
        self.respond_always_with(Reply::new(status, body));
    }

    pub fn respond_always_with(&self, reply: Reply) {
        self.shared.lock().always = Some(reply);
    }

    /// Delays every answer by `delay`, on top of a reply's own delay.
    pub fn slow_down(&self, delay: Duration) {
        self.shared.lock().slow = delay;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    /// Waits until at least `n` requests have arrived and returns all of them; panics after
    /// `timeout`. Blocks the thread: from an async test, use `wait_requests_async`.
    pub fn wait_requests(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let deadline = Instant::now() + timeout;
        let mut inner = self.shared.lock();
        while inner.requests.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "fake slack: {n} request(s) expected within {timeout:?}, got {}: {:#?}",
                inner.requests.len(),
                inner.requests
            );
            inner = self
                .shared
                .arrived
                .wait_timeout(inner, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        inner.requests.clone()
    }

    /// `wait_requests` for async tests: waits without blocking the test's runtime.
    pub async fn wait_requests_async(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let mut count = self.shared.count.subscribe();
        let arrived = tokio::time::timeout(timeout, count.wait_for(|c| *c >= n)).await;
        let requests = self.requests();
        assert!(
            arrived.is_ok(),
            "fake slack: {n} request(s) expected within {timeout:?}, got {}: {requests:#?}",
            requests.len()
        );
        requests
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let problems = std::mem::take(&mut self.shared.lock().problems);
        if !problems.is_empty() && !std::thread::panicking() {
            panic!("fake slack received bad requests: {problems:#?}");
        }
    }
}

/// A webhook URL where nothing listens: bound, then closed, so connecting is refused.
pub fn closed_url() -> String {
    format!(
        "http://{}/services/T0CLOSED/B0CLOSED/closed-webhook-secret",
        closed_addr()
    )
}

/// A Web API base URL where nothing listens.
pub fn closed_api_url() -> String {
    format!("http://{}/api", closed_addr())
}

fn closed_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw = String::from_utf8_lossy(&body).into_owned();
    let path = uri.path().to_string();
    let (reply, delay) = {
        let mut inner = shared.lock();
        let parsed = match serde_json::from_str::<Value>(&raw) {
            Ok(value) => value,
            Err(e) => {
                inner
                    .problems
                    .push(format!("{method} {path}: body is not JSON ({e}): {raw}"));
                Value::Null
            }
        };
        let is_json = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            inner
                .problems
                .push(format!("{method} {path}: content-type is not JSON"));
        }
        let scripted = inner.scripts.get_mut(&path).and_then(VecDeque::pop_front);
        let reply = match scripted.or_else(|| inner.always.clone()) {
            Some(reply) => reply,
            None => default_reply(&mut inner, &path, &parsed),
        };
        inner.requests.push(Request {
            method: method.to_string(),
            path,
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: parsed,
            raw,
            at: Instant::now(),
        });
        let n = inner.requests.len();
        let delay = inner.slow + reply.delay;
        drop(inner);
        shared.arrived.notify_all();
        shared.count.send_replace(n);
        (reply, delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut response_headers = HeaderMap::new();
    for (name, value) in &reply.headers {
        response_headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    (
        StatusCode::from_u16(reply.status).unwrap(),
        response_headers,
        reply.body,
    )
        .into_response()
}

/// What Slack answers when all goes well.
fn default_reply(inner: &mut Inner, path: &str, body: &Value) -> Reply {
    if path.ends_with("/chat.postMessage") {
        inner.ts += 1;
        Reply::json(
            200,
            json!({"ok": true, "channel": "C1", "ts": format!("1700000000.{:06}", inner.ts * 100)}),
        )
    } else if path.ends_with("/chat.update") {
        Reply::json(
            200,
            json!({"ok": true, "channel": body["channel"], "ts": body["ts"]}),
        )
    } else {
        Reply::new(200, "ok")
    }
}
