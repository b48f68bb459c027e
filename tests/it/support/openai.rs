//! A fake OpenAI-compatible chat completions API: an axum server on `127.0.0.1:0` that records
//! every request and answers from a script (a queue of replies, then a default).
//!
//! Like the fake Anthropic, it runs on its own thread with its own runtime, serving async tests
//! that call the library and sync tests that drive a `heal` process; tests wait on its signals,
//! never on sleeps. It checks what OpenAI would refuse (path, JSON, the system message first,
//! a `tool` message for each of an assistant's `tool_calls`, a `tool_choice` naming a declared
//! function, a `response_format` it knows, the word JSON in the messages of a `json_object`
//! request): such a request is answered 400 as OpenAI would and fails the test when the fake
//! is dropped, as does a request nobody scripted an answer for. It asks for no key, as local
//! servers do; tests check the `authorization` header themselves.

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

const MODELS_PATH: &str = "/v1/models";
pub const COMPLETIONS_PATH: &str = "/v1/chat/completions";
/// The usage every scripted answer reports.
pub const PROMPT_TOKENS: u64 = 1234;
pub const COMPLETION_TOKENS: u64 = 321;
/// The model scripted answers say answered.
pub const MODEL: &str = "gpt-4o-mini-2024-07-18";

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
    /// Wait this long before answering, to play a slow or hung server.
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body,
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// A successful answer calling `report_fix` with `arguments` (sent as a JSON string, as
    /// OpenAI does).
    pub fn tool_call(arguments: Value) -> Reply {
        Reply::json(200, tool_call_response(arguments))
    }

    /// A successful answer with `text` as its content.
    pub fn content(text: &str) -> Reply {
        Reply::json(200, content_response(text))
    }

    /// A successful answer whose content is `value` as JSON text, as `response_format` gives.
    pub fn json_content(value: Value) -> Reply {
        Reply::content(&value.to_string())
    }

    /// An error as OpenAI gives it (`invalid_request_error`, `rate_limit_exceeded`, ...).
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

/// A realistic `chat.completion` holding `message`.
pub fn completion(message: Value, finish_reason: &str) -> Value {
    let n = next_id();
    json!({
        "id": format!("chatcmpl-Fake{n:016}"),
        "object": "chat.completion",
        "created": 1_735_689_600 + n,
        "model": MODEL,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason
        }],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS
        },
        "system_fingerprint": "fp_fake"
    })
}

/// An answer calling `report_fix` with `arguments`, as a JSON string.
pub fn tool_call_response(arguments: Value) -> Value {
    let n = next_id();
    completion(
        json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{
                "id": format!("call_Fake{n:016}"),
                "type": "function",
                "function": {"name": "report_fix", "arguments": arguments.to_string()}
            }],
            "refusal": null
        }),
        "tool_calls",
    )
}

/// An answer with `text` as its content.
pub fn content_response(text: &str) -> Value {
    completion(
        json!({"role": "assistant", "content": text, "refusal": null}),
        "stop",
    )
}

/// OpenAI's error body.
pub fn error_body(kind: &str, message: &str) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
}

/// The id of the first tool call of a response built here.
pub fn tool_call_id(response: &Value) -> String {
    response["choices"][0]["message"]["tool_calls"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// How the fake answers: an unscripted request is a failure.
type Script = Replies<Reply>;
type Shared = peer::Shared<Script>;

pub struct FakeOpenAI(Fake<Script>);

impl std::ops::Deref for FakeOpenAI {
    type Target = Fake<Script>;
    fn deref(&self) -> &Fake<Script> {
        &self.0
    }
}

impl FakeOpenAI {
    /// Starts the fake on a free port; it is listening when this returns.
    pub fn start() -> FakeOpenAI {
        FakeOpenAI(Fake::start("openai", handle))
    }

    /// The base URL, as `OpenAiConfig::base_url` (and OPENAI_BASE_URL) takes it: with `/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.server.addr)
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
    let mut problem = None;
    // The list of models (GET /v1/models), as OpenAI and llama.cpp answer it: what
    // `heal doctor --online` asks.
    if method == Method::GET && path == MODELS_PATH {
        shared.recorder.record(request);
        let list = serde_json::json!({
            "object": "list",
            "data": [{"id": "fake-model", "object": "model", "owned_by": "fake"}],
        });
        return respond(200, &[], list.to_string());
    }
    if method != Method::POST || path != COMPLETIONS_PATH {
        problem = Some((
            404,
            "invalid_request_error",
            format!("Invalid URL ({method} {path})"),
        ));
    } else if !request
        .header("content-type")
        .is_some_and(|v| v.starts_with("application/json"))
    {
        problem = Some((
            400,
            "invalid_request_error",
            "content-type is not JSON".into(),
        ));
    } else if request
        .header("authorization")
        .is_some_and(|v| !v.starts_with("Bearer ") || v.len() <= "Bearer ".len())
    {
        problem = Some((
            401,
            "invalid_request_error",
            "malformed authorization header".into(),
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
                    Reply::error(500, "server_error", "fake openai: nothing scripted")
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
    respond(reply.status, &headers, reply.body.to_string())
}

/// What the real API checks of a body and heal could get wrong.
fn check_body(body: &Value) -> Result<(), String> {
    let obj = body.as_object().ok_or("the body is not a JSON object")?;
    for field in ["model", "messages"] {
        if !obj.contains_key(field) {
            return Err(format!("Missing required parameter: '{field}'."));
        }
    }
    let messages = body["messages"]
        .as_array()
        .ok_or("Invalid type for 'messages': expected an array.")?;
    if messages.is_empty() {
        return Err("'messages' must contain at least one message.".into());
    }
    if messages[0]["role"] != "system" {
        return Err("heal sends its rules as the first, system, message".into());
    }
    let mut pending: Vec<String> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let role = message["role"].as_str().unwrap_or("");
        if role == "tool" {
            let id = message["tool_call_id"].as_str().unwrap_or("");
            if !pending.iter().any(|p| p == id) {
                return Err(format!(
                    "Invalid parameter: messages with role 'tool' must be a response to a \
                     preceeding message with 'tool_calls' (messages.[{i}], id {id:?})."
                ));
            }
            pending.retain(|p| p != id);
        } else if !pending.is_empty() {
            return Err(format!(
                "An assistant message with 'tool_calls' must be followed by tool messages \
                 responding to each 'tool_call_id'. The following tool_call_ids did not have \
                 response messages: {}",
                pending.join(", ")
            ));
        }
        match role {
            "system" | "user" | "tool" => {
                if !message["content"].is_string() {
                    return Err(format!("messages.[{i}].content: expected a string"));
                }
            }
            "assistant" => {
                let calls = message["tool_calls"].as_array();
                if calls.is_none() && !message["content"].is_string() {
                    return Err(format!(
                        "messages.[{i}]: an assistant message needs content or tool_calls"
                    ));
                }
                for call in calls.into_iter().flatten() {
                    if call["function"]["arguments"].as_str().is_none() {
                        return Err(format!("messages.[{i}]: arguments must be a string"));
                    }
                    if call["type"] != "function" || call["function"]["name"].as_str().is_none() {
                        return Err(format!("messages.[{i}]: malformed tool call {call}"));
                    }
                    pending.push(call["id"].as_str().unwrap_or("").to_string());
                }
            }
            other => return Err(format!("messages.[{i}].role: unknown role {other:?}")),
        }
    }
    if !pending.is_empty() {
        return Err("the last assistant message's tool calls are not answered".into());
    }
    let last = messages
        .last()
        .map(|m| m["role"].clone())
        .unwrap_or_default();
    if last != "user" && last != "tool" {
        return Err("the last message must be the user's or a tool's".into());
    }
    let declared: Vec<&str> = body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["function"]["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    if let Some(choice) = obj.get("tool_choice") {
        let name = choice["function"]["name"].as_str().unwrap_or("");
        if choice["type"] != "function" || !declared.contains(&name) {
            return Err(format!(
                "Invalid value for 'tool_choice': {choice} names no declared function"
            ));
        }
    }
    if let Some(format) = obj.get("response_format") {
        match format["type"].as_str() {
            Some("json_schema") => {
                let schema = &format["json_schema"];
                if schema["name"].as_str().is_none() || !schema["schema"].is_object() {
                    return Err("response_format.json_schema needs a name and a schema".into());
                }
            }
            Some("json_object") => {
                let says_json = messages.iter().any(|m| {
                    m["content"]
                        .as_str()
                        .is_some_and(|c| c.to_lowercase().contains("json"))
                });
                if !says_json {
                    return Err(
                        "'messages' must contain the word 'json' in some form, to use \
                                'response_format' of type 'json_object'."
                            .into(),
                    );
                }
            }
            Some("text") => {}
            _ => return Err(format!("Invalid value for 'response_format': {format}")),
        }
    }
    Ok(())
}
