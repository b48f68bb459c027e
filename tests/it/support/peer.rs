//! What every fake peer shares: an axum server on `127.0.0.1:0` on its own thread and runtime
//! (so it serves both async tests calling the library and sync tests driving a `heal`
//! process), a recorder of the requests it got that tests wait on (never a sleep), and a list
//! of problems (requests heal should never have sent) that fails the test when the fake is
//! dropped. Each fake keeps its own script of answers and its own checks.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::{oneshot, watch};

/// One request as a fake saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names in lowercase.
    pub headers: BTreeMap<String, String>,
    /// The parsed JSON body (`Null` when it was not JSON).
    pub body: Value,
    /// The body as sent, to assert that something never left heal.
    pub raw: String,
    /// When it arrived.
    pub at: Instant,
}

impl Request {
    pub fn new(method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Request {
        let raw = String::from_utf8_lossy(body).into_owned();
        Request {
            method: method.to_string(),
            path: uri.path().to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: serde_json::from_str(&raw).unwrap_or(Value::Null),
            raw,
            at: Instant::now(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The `messages` of a chat body (Anthropic's and OpenAI's alike).
    pub fn messages(&self) -> &[Value] {
        self.body["messages"].as_array().map_or(&[], Vec::as_slice)
    }

    /// The text of the first message: the prompt, whether its content is a string or blocks.
    pub fn prompt(&self) -> String {
        let Some(first) = self.messages().first() else {
            return String::new();
        };
        match &first["content"] {
            Value::String(text) => text.clone(),
            Value::Array(blocks) => blocks
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        }
    }
}

#[derive(Default)]
struct Log {
    requests: Vec<Request>,
    problems: Vec<String>,
}

/// The requests a fake got, and what was wrong with them.
pub struct Recorder {
    name: &'static str,
    log: Mutex<Log>,
    /// Signalled at every request, for sync waiters.
    arrived: Condvar,
    /// The number of requests so far, for async waiters.
    count: watch::Sender<usize>,
}

impl Recorder {
    pub fn new(name: &'static str) -> Arc<Recorder> {
        Arc::new(Recorder {
            name,
            log: Mutex::new(Log::default()),
            arrived: Condvar::new(),
            count: watch::Sender::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        // A panicking test thread must not hide the requests from the others.
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record(&self, request: Request) {
        let n = {
            let mut log = self.lock();
            log.requests.push(request);
            log.requests.len()
        };
        self.arrived.notify_all();
        self.count.send_replace(n);
    }

    /// Notes a request heal should never have sent; the test fails when the fake is dropped.
    pub fn problem(&self, problem: String) {
        self.lock().problems.push(problem);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    pub fn problems(&self) -> Vec<String> {
        self.lock().problems.clone()
    }

    /// Waits until at least `n` requests have arrived and returns all of them; panics after
    /// `timeout`. Blocks the thread: from an async test, use [`Recorder::wait_async`].
    pub fn wait(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let deadline = Instant::now() + timeout;
        let mut log = self.lock();
        while log.requests.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "fake {}: {n} request(s) expected within {timeout:?}, got {}: {:#?}",
                self.name,
                log.requests.len(),
                log.requests
            );
            log = self
                .arrived
                .wait_timeout(log, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        log.requests.clone()
    }

    /// [`Recorder::wait`] for async tests: waits without blocking the test's runtime.
    pub async fn wait_async(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let mut count = self.count.subscribe();
        let arrived = tokio::time::timeout(timeout, count.wait_for(|c| *c >= n)).await;
        let requests = self.requests();
        assert!(
            arrived.is_ok(),
            "fake {}: {n} request(s) expected within {timeout:?}, got {}: {requests:#?}",
            self.name,
            requests.len()
        );
        requests
    }
}

/// A running fake: stops its server and checks its problems when dropped.
pub struct Server {
    pub addr: SocketAddr,
    recorder: Arc<Recorder>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Serves `app` on a free port of 127.0.0.1; it is listening when this returns.
    pub fn start(recorder: Arc<Recorder>, app: Router) -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("fake-{}", recorder.name))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    // Not a graceful shutdown: heal's pooled keep-alive connections and
                    // delayed replies would hold it open. Dropping the runtime ends them.
                    tokio::select! {
                        served = axum::serve(listener, app) => served.unwrap(),
                        _ = stop => {}
                    }
                });
            })
            .unwrap();
        Server {
            addr,
            recorder,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let problems = std::mem::take(&mut self.recorder.lock().problems);
        if !problems.is_empty() && !std::thread::panicking() {
            panic!(
                "fake {} received bad requests: {problems:#?}",
                self.recorder.name
            );
        }
    }
}

/// An HTTP answer from a status, headers and a body.
pub fn respond(status: u16, headers: &[(String, String)], body: String) -> Response {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    (StatusCode::from_u16(status).unwrap(), map, body).into_response()
}

/// An address where nothing listens: bound, then closed, so connecting is refused.
pub fn closed_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// What a fake's handler gets: its own script of answers, and the recorder.
pub struct Shared<S> {
    script: Mutex<S>,
    pub recorder: Arc<Recorder>,
}

impl<S> Shared<S> {
    pub fn script(&self) -> MutexGuard<'_, S> {
        self.script.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fake with a script of type `S`: what every fake offers tests the same way (its
/// requests, waiting on them, its problems). Each fake derefs to one.
pub struct Fake<S> {
    pub shared: Arc<Shared<S>>,
    pub server: Server,
}

impl<S: Default + Send + 'static> Fake<S> {
    /// Serves every request with `handler` on a free port; listening when this returns.
    pub fn start<H, T>(name: &'static str, handler: H) -> Fake<S>
    where
        H: axum::handler::Handler<T, Arc<Shared<S>>>,
        T: 'static,
    {
        let recorder = Recorder::new(name);
        let shared = Arc::new(Shared {
            script: Mutex::new(S::default()),
            recorder: recorder.clone(),
        });
        let app = Router::new().fallback(handler).with_state(shared.clone());
        Fake {
            server: Server::start(recorder, app),
            shared,
        }
    }
}

impl<S> Fake<S> {
    pub fn script_mut(&self) -> MutexGuard<'_, S> {
        self.shared.script()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.recorder.requests()
    }

    /// Waits until at least `n` requests have arrived and returns all of them; panics after
    /// `timeout`. Blocks the thread: from an async test, use `wait_requests_async`.
    pub fn wait_requests(&self, n: usize, timeout: Duration) -> Vec<Request> {
        self.shared.recorder.wait(n, timeout)
    }

    /// `wait_requests` for async tests: waits without blocking the test's runtime.
    pub async fn wait_requests_async(&self, n: usize, timeout: Duration) -> Vec<Request> {
        self.shared.recorder.wait_async(n, timeout).await
    }

    /// What the fake found wrong so far (also checked when it is dropped).
    pub fn problems(&self) -> Vec<String> {
        self.shared.recorder.problems()
    }
}

/// Answers in order, then one answer for ever (or none: an unscripted request is a failure).
pub struct Replies<R> {
    pub queue: std::collections::VecDeque<R>,
    pub always: Option<R>,
}

impl<R> Default for Replies<R> {
    fn default() -> Self {
        Replies {
            queue: Default::default(),
            always: None,
        }
    }
}

impl<R: Clone> Replies<R> {
    /// The next scripted answer, else the standing one.
    pub fn next(&mut self) -> Option<R> {
        self.queue.pop_front().or_else(|| self.always.clone())
    }
}
