//! A fake Slack: an axum server on `127.0.0.1:0` that records every request and answers from a
//! script, for the incoming webhook and the Web API (`chat.postMessage`, `chat.update`).
//!
//! It runs on its own thread with its own runtime, so the same fake serves async tests that
//! drive `heal::notify` in-process and sync tests that drive a separate `heal` process. Tests
//! wait on its signals (`wait_requests`, `wait_requests_async`), never on sleeps. It never
//! talks to the real Slack. A request it cannot make sense of (a body that is not JSON) is a
//! bug in heal: it fails the test when the fake is dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::{Value, json};

pub use super::peer::Request;
use super::peer::{self, Fake, closed_addr, respond};

/// The path of the webhook URL; its last segment plays the part of the secret.
pub const WEBHOOK_PATH: &str = "/services/T0FAKE/B0FAKE/fake-webhook-secret";
pub const POST_MESSAGE_PATH: &str = "/api/chat.postMessage";
pub const UPDATE_PATH: &str = "/api/chat.update";

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

/// How the fake answers.
#[derive(Default)]
pub struct Script {
    /// Answers to give next, by path, before the defaults.
    by_path: HashMap<String, VecDeque<Reply>>,
    /// Replaces the defaults on every path once the script is used up.
    always: Option<Reply>,
    /// Added to every answer.
    slow: Duration,
    /// The last `ts` handed out by `chat.postMessage`.
    ts: u64,
}

type Shared = peer::Shared<Script>;

pub struct FakeSlack(Fake<Script>);

impl std::ops::Deref for FakeSlack {
    type Target = Fake<Script>;
    fn deref(&self) -> &Fake<Script> {
        &self.0
    }
}

impl FakeSlack {
    /// Starts the fake on a free port; it is listening when this returns.
    pub fn start() -> FakeSlack {
        FakeSlack(Fake::start("slack", handle))
    }

    /// The incoming-webhook URL (its path ends in a fake secret).
    pub fn webhook_url(&self) -> String {
        format!("http://{}{WEBHOOK_PATH}", self.server.addr)
    }

    /// The Web API base URL, as SLACK_API_URL takes it.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.server.addr)
    }

    /// Answers the next requests to `path` with `replies`, in order, then the defaults.
    pub fn script(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        self.script_mut()
            .by_path
            .entry(path.to_string())
            .or_default()
            .extend(replies);
    }

    /// Answers every request on every path with `status` and `body` (after any script).
    pub fn respond_always(&self, status: u16, body: &str) {
        self.respond_always_with(Reply::new(status, body));
    }

    pub fn respond_always_with(&self, reply: Reply) {
        self.script_mut().always = Some(reply);
    }

    /// Delays every answer by `delay`, on top of a reply's own delay.
    pub fn slow_down(&self, delay: Duration) {
        self.script_mut().slow = delay;
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

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Request::new(&method, &uri, &headers, &body);
    let path = request.path.clone();
    if request.body.is_null() {
        shared.recorder.problem(format!(
            "{method} {path}: body is not JSON: {}",
            request.raw
        ));
    }
    if !request
        .header("content-type")
        .is_some_and(|v| v.starts_with("application/json"))
    {
        shared
            .recorder
            .problem(format!("{method} {path}: content-type is not JSON"));
    }
    let (reply, delay) = {
        let mut script = shared.script();
        let scripted = script.by_path.get_mut(&path).and_then(VecDeque::pop_front);
        let reply = match scripted.or_else(|| script.always.clone()) {
            Some(reply) => reply,
            None => default_reply(&mut script, &path, &request.body),
        };
        let delay = script.slow + reply.delay;
        (reply, delay)
    };
    shared.recorder.record(request);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    respond(reply.status, &reply.headers, reply.body)
}

/// What Slack answers when all goes well.
fn default_reply(script: &mut Script, path: &str, body: &Value) -> Reply {
    if path.ends_with("/chat.postMessage") {
        script.ts += 1;
        Reply::json(
            200,
            json!({"ok": true, "channel": "C1", "ts": format!("1700000000.{:06}", script.ts * 100)}),
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
