//! A fake Anthropic Messages API: an axum server on `127.0.0.1:0` that records every request
//! and answers from a script (a queue of replies, then a default).
//!
//! It runs on its own thread with its own runtime, so the same fake serves async tests that
//! drive `heal::analyse` in-process and sync tests that drive a separate `heal` process. Tests
//! wait on its signals (`wait_requests`, `wait_requests_async`), never on sleeps. It checks what
//! the real API would refuse (path, headers, JSON, roles alternating, a `tool_result` for each
//! `tool_use`): such a request is answered 400 as Anthropic would and fails the test when the
//! fake is dropped, as does a request nobody scripted an answer for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::{Value, json};

pub use super::peer::Request;
use super::peer::{self, Fake, Replies, respond};

pub const MESSAGES_PATH: &str = "/v1/messages";
/// The usage every scripted answer reports.
pub const INPUT_TOKENS: u64 = 1234;
pub const OUTPUT_TOKENS: u64 = 321;
/// The model scripted answers say answered.
pub const MODEL: &str = "claude-sonnet-4-5-20250929";

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
    /// Wait this long before answering, to play a slow or hung API.
    pub delay: Duration,
    /// Sent as is instead of `body` (not JSON, not UTF-8, ...), see [`Reply::raw`].
    pub raw: Option<Vec<u8>>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body,
            headers: Vec::new(),
            delay: Duration::ZERO,
            raw: None,
        }
    }

    /// An answer whose body is `bytes` exactly, JSON or not, UTF-8 or not (still labelled
    /// `application/json`, as a broken API or proxy would).
    pub fn raw(status: u16, bytes: impl Into<Vec<u8>>) -> Reply {
        Reply {
            raw: Some(bytes.into()),
            ..Reply::json(status, Value::Null)
        }
    }

    /// A successful answer calling `report_fix` with `input`.
    pub fn tool_use(input: Value) -> Reply {
        Reply::json(200, tool_use_response(input))
    }

    /// A successful answer with text only.
    pub fn text(text: &str) -> Reply {
        Reply::json(200, text_response(text))
    }

    /// An error as the API gives it (`overloaded_error`, `rate_limit_error`, ...).
    pub fn error(status: u16, kind: &str, message: &str) -> Reply {
        Reply::json(status, error_body(kind, message))
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

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// A realistic Messages API answer that calls `report_fix` with `input`.
pub fn tool_use_response(input: Value) -> Value {
    tool_use_response_named("report_fix", input)
}

/// The same, calling a tool of another name.
pub fn tool_use_response_named(name: &str, input: Value) -> Value {
    let n = next_id();
    json!({
        "id": format!("msg_01Fake{n:016}"),
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{
            "type": "tool_use",
            "id": format!("toolu_01Fake{n:016}"),
            "name": name,
            "input": input
        }],
        "stop_reason": "tool_use",
        "stop_sequence": null,
        "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS}
    })
}

/// A realistic answer with text only (`end_turn`).
pub fn text_response(text: &str) -> Value {
    let n = next_id();
    json!({
        "id": format!("msg_01Fake{n:016}"),
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS}
    })
}

/// The API's error body.
pub fn error_body(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// The `id` of the `tool_use` block of a response built here.
pub fn tool_use_id(response: &Value) -> String {
    response["content"][0]["id"].as_str().unwrap().to_string()
}

/// How the fake answers: an unscripted request is a failure.
type Script = Replies<Reply>;
type Shared = peer::Shared<Script>;

pub struct FakeAnthropic(Fake<Script>);

impl std::ops::Deref for FakeAnthropic {
    type Target = Fake<Script>;
    fn deref(&self) -> &Fake<Script> {
        &self.0
    }
}

impl FakeAnthropic {
    /// Starts the fake on a free port; it is listening when this returns.
    pub fn start() -> FakeAnthropic {
        FakeAnthropic(Fake::start("anthropic", handle))
    }

    /// The base URL, as `AnthropicConfig::base_url` (and ANTHROPIC_BASE_URL) takes it.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Answers the next requests with `replies`, in order, then the default.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.script_mut().queue.extend(replies);
    }

    /// Answers every request with `reply` once the script is used up.
    pub fn respond_always(&self, reply: Reply) {
        self.script_mut().always = Some(reply);
    }
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
    let header = |name: &str| request.header(name).map(str::to_string);
    let mut problem = None;
    if method != Method::POST || path != MESSAGES_PATH {
        problem = Some((404, "not_found_error", format!("{method} {path}")));
    } else if header("x-api-key").is_none_or(|k| k.is_empty()) {
        problem = Some((
            401,
            "authentication_error",
            "x-api-key header is required".into(),
        ));
    } else if header("anthropic-version").as_deref() != Some("2023-06-01") {
        problem = Some((
            400,
            "invalid_request_error",
            "anthropic-version is wrong".into(),
        ));
    } else if !header("content-type").is_some_and(|v| v.starts_with("application/json")) {
        problem = Some((
            400,
            "invalid_request_error",
            "content-type is not JSON".into(),
        ));
    } else if let Err(e) = check_body(&request.body) {
        problem = Some((400, "invalid_request_error", e));
    }
    let reply = match &problem {
        Some((status, kind, message)) => {
            shared
                .recorder
                .problem(format!("{method} {path}: {message}"));
            Reply::error(*status, kind, message)
        }
        None => {
            let next = shared.script().next();
            match next {
                Some(reply) => reply,
                None => {
                    shared
                        .recorder
                        .problem("a request arrived with no scripted reply".to_string());
                    Reply::error(500, "api_error", "fake anthropic: nothing scripted")
                }
            }
        }
    };
    shared.recorder.record(request);
    if problem.is_none() && !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    headers.extend(reply.headers.iter().cloned());
    match reply.raw {
        Some(bytes) => {
            let mut response = respond(reply.status, &headers, String::new());
            *response.body_mut() = axum::body::Body::from(bytes);
            response
        }
        None => respond(reply.status, &headers, reply.body.to_string()),
    }
}

/// What the real API checks of a body and heal could get wrong.
fn check_body(body: &Value) -> Result<(), String> {
    let obj = body.as_object().ok_or("the body is not a JSON object")?;
    for field in ["model", "max_tokens", "messages"] {
        if !obj.contains_key(field) {
            return Err(format!("{field}: Field required"));
        }
    }
    let messages = body["messages"]
        .as_array()
        .ok_or("messages: not an array")?;
    if messages.is_empty() {
        return Err("messages: at least one message is required".into());
    }
    let mut pending_tool_uses: Vec<String> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let role = message["role"].as_str().unwrap_or("");
        let expected = if i % 2 == 0 { "user" } else { "assistant" };
        if role != expected {
            return Err(format!("messages.{i}: roles must alternate, got {role}"));
        }
        let blocks = message["content"]
            .as_array()
            .ok_or(format!("messages.{i}.content: not an array"))?;
        if blocks.is_empty() {
            return Err(format!("messages.{i}.content: empty"));
        }
        let results: Vec<String> = blocks
            .iter()
            .filter(|b| b["type"] == "tool_result")
            .filter_map(|b| b["tool_use_id"].as_str().map(str::to_string))
            .collect();
        for id in &pending_tool_uses {
            if !results.contains(id) {
                return Err(format!(
                    "messages.{i}: `tool_use` ids were found without `tool_result` blocks \
                     immediately after: {id}"
                ));
            }
        }
        pending_tool_uses = blocks
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .filter_map(|b| b["id"].as_str().map(str::to_string))
            .collect();
        for block in blocks {
            if block["type"] == "text" && block["text"].as_str().is_none_or(str::is_empty) {
                return Err(format!(
                    "messages.{i}: text content blocks must be non-empty"
                ));
            }
        }
    }
    if messages.len() % 2 == 0 {
        return Err("the last message must be the user's".into());
    }
    Ok(())
}
