//! OpenAI-compatible chat completions: one `POST {base_url}/chat/completions` per question,
//! for OpenAI and the servers that copy its API (llama.cpp, Ollama, vLLM, LM Studio), with the
//! same bounded retries as the Anthropic provider.
//!
//! Servers differ in how they constrain an answer, so [`Structured`] says how the `report_fix`
//! object is asked for: a forced tool call, a `json_schema` response format, or JSON mode with
//! the schema in the prompt. A server that refuses tools or response formats is asked in JSON
//! mode from then on. Answers are read wherever they come (a tool call or the content).
//!
//! The wire types here are OpenAI's shapes, kept apart from heal's (a [`Conversation`] is
//! converted at the last moment). Every request body passes through the [`Redactor`] right
//! before it is sent. Never log, return or record the API key: it travels in a sensitive
//! header only, and error texts are scrubbed of it.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::parse::{TOOL_DESCRIPTION, TOOL_NAME, extract_json, report_fix_schema};
use super::retry::{self, Failure, Retries, Scrub};
use super::{AnalyseError, AnswerForm, Conversation, Model, Reply, ToolCall, Turn, Usage};
use crate::redact::Redactor;

pub use super::retry::MAX_BACKOFF;

/// Where the API is, unless configured otherwise; a local server's is like
/// `http://127.0.0.1:8080/v1`.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The model asked by default: cheap, fast, and good at following a schema.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";
/// The environment variable users set the key in, named in errors.
pub const KEY_VAR: &str = "OPENAI_API_KEY";
/// Retries after the first attempt: with the default backoff, 2 + 4 + 8 + 16 s.
pub const DEFAULT_MAX_RETRIES: u32 = 4;
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_secs(2);
/// Cap on one request. Local models on a small machine are slow: set it higher for them.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Cap on the answer's length, in tokens: a fix with a few edits and its explanation.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

const PROVIDER: &str = "openai";

/// How the `report_fix` object is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structured {
    /// A forced call of the `report_fix` function (`tools` and `tool_choice`). The default,
    /// by measure: on five crash programs with Qwen2.5-Coder-1.5B on llama.cpp's server
    /// (`bench/llm_fix_rate.sh`), two fixes passed asked this way, one asked by schema. (The
    /// issue's single trial had pointed the other way; five are more than one.)
    Tools,
    /// `response_format: json_schema` with the schema: the answer is the object itself.
    JsonSchema,
    /// `response_format: json_object`, the schema in the system prompt: what every server
    /// that speaks JSON at all understands, and the fallback when the others are refused.
    Json,
}

impl Structured {
    /// Reads the configured name: `tools`, `json_schema` or `json`.
    pub fn parse(s: &str) -> Option<Structured> {
        match s {
            "tools" => Some(Structured::Tools),
            "json_schema" => Some(Structured::JsonSchema),
            "json" => Some(Structured::Json),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Structured::Tools => "tools",
            Structured::JsonSchema => "json_schema",
            Structured::Json => "json",
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Structured::Tools => 0,
            Structured::JsonSchema => 1,
            Structured::Json => 2,
        }
    }

    fn from_u8(n: u8) -> Structured {
        match n {
            0 => Structured::Tools,
            1 => Structured::JsonSchema,
            _ => Structured::Json,
        }
    }
}

/// How to reach an OpenAI-compatible server. Built by the caller (heal's config); nothing here
/// reads the environment.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// Sent as `Authorization: Bearer …` when set; local servers need none.
    pub api_key: Option<String>,
    /// Up to and including `/v1`, without `/chat/completions`.
    pub base_url: String,
    pub model: String,
    /// How the answer is asked for; see [`Structured`].
    pub structured: Structured,
    /// Retries after the first attempt, for 408, 409, 429, 5xx and transport errors.
    pub max_retries: u32,
    /// The wait before the first retry, doubling after each, unless the server says
    /// `retry-after`; never more than [`MAX_BACKOFF`].
    pub backoff_initial: Duration,
    /// The longest `retry-after` waited for: a server asking for more fails the request.
    pub max_retry_after: Duration,
    /// Cap on one request, connection included.
    pub request_timeout: Duration,
    /// Cap on the answer's length, in tokens.
    pub max_tokens: u32,
}

impl OpenAiConfig {
    /// The defaults: OpenAI's API, no key.
    pub fn new() -> OpenAiConfig {
        OpenAiConfig {
            api_key: None,
            base_url: DEFAULT_BASE_URL.to_string(),
            model: DEFAULT_MODEL.to_string(),
            structured: Structured::Tools,
            max_retries: DEFAULT_MAX_RETRIES,
            backoff_initial: DEFAULT_BACKOFF_INITIAL,
            max_retry_after: retry::DEFAULT_MAX_RETRY_AFTER,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_tokens: DEFAULT_MAX_TOKENS,
        }
    }
}

impl Default for OpenAiConfig {
    fn default() -> OpenAiConfig {
        OpenAiConfig::new()
    }
}

impl std::fmt::Debug for OpenAiConfig {
    // Hand-written so that the key never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("structured", &self.structured)
            .field("max_retries", &self.max_retries)
            .field("backoff_initial", &self.backoff_initial)
            .field("max_retry_after", &self.max_retry_after)
            .field("request_timeout", &self.request_timeout)
            .field("max_tokens", &self.max_tokens)
            .finish()
    }
}

/// A client of an OpenAI-compatible chat completions API for one model.
pub struct OpenAi {
    config: OpenAiConfig,
    /// The [`Structured`] in use: the configured one until the server refuses it, then
    /// [`Structured::Json`] for the rest of this client's life.
    structured: AtomicU8,
    client: reqwest::Client,
    redactor: Redactor,
}

impl std::fmt::Debug for OpenAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAi")
            .field("config", &self.config)
            .field("structured", &self.structured())
            .finish_non_exhaustive()
    }
}

impl OpenAi {
    /// A client that sends nothing `redactor` would cut.
    pub fn new(config: OpenAiConfig, redactor: Redactor) -> Result<OpenAi, AnalyseError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(key) = config.api_key.as_deref().map(str::trim) {
            let mut bearer = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                AnalyseError::Setup {
                    provider: PROVIDER,
                    detail: format!("{KEY_VAR} holds characters a header cannot carry"),
                }
            })?;
            bearer.set_sensitive(true);
            headers.insert(AUTHORIZATION, bearer);
        }
        let client = retry::client(PROVIDER, headers, config.request_timeout)?;
        Ok(OpenAi {
            structured: AtomicU8::new(config.structured.to_u8()),
            config,
            client,
            redactor,
        })
    }

    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    /// How answers are asked for now: the configured way, or [`Structured::Json`] once the
    /// server refused it.
    pub fn structured(&self) -> Structured {
        Structured::from_u8(self.structured.load(Ordering::Relaxed))
    }

    /// The request body for `conv`, redacted, as it will be sent now.
    pub fn request_body(&self, conv: &Conversation) -> Value {
        self.body_for(conv, self.structured())
    }

    fn body_for(&self, conv: &Conversation, structured: Structured) -> Value {
        // The `file` form asks for plain text: no tool, no response format, and the rules as
        // heal wrote them.
        let plain = matches!(conv.form(), AnswerForm::File(_));
        let system = if plain {
            Cow::Borrowed(conv.system())
        } else {
            system_prompt(conv.system(), structured)
        };
        let mut messages = vec![Message::System { content: system }];
        // Without tools, earlier turns are plain text (there are none to answer anyway).
        let turns_as = if plain { Structured::Json } else { structured };
        messages.extend(messages_of(conv, turns_as));
        let mut request = Request {
            model: &self.config.model,
            messages,
            max_tokens: self.config.max_tokens,
            temperature: match conv.temperature() {
                Some(t) if t > 0.0 => json!(t),
                _ => json!(0),
            },
            tools: None,
            tool_choice: None,
            response_format: None,
        };
        match structured {
            _ if plain => {}
            Structured::Tools => {
                request.tools = Some([Tool {
                    kind: "function",
                    function: Function {
                        name: TOOL_NAME,
                        description: TOOL_DESCRIPTION,
                        parameters: report_fix_schema(),
                    },
                }]);
                request.tool_choice = Some(json!({
                    "type": "function",
                    "function": {"name": TOOL_NAME}
                }));
            }
            Structured::JsonSchema => {
                request.response_format = Some(json!({
                    "type": "json_schema",
                    "json_schema": {
                        "name": TOOL_NAME,
                        "schema": report_fix_schema(),
                        // Strict mode refuses schemas with optional parts and some keywords on
                        // several servers; the parser checks the answer anyway.
                        "strict": false
                    }
                }));
            }
            Structured::Json => {
                // `schema` beside `json_object` is how llama.cpp's servers (and
                // llama-cpp-python's) take a JSON schema, compiled into a grammar; servers that
                // do not know it ignore it, and the schema is in the prompt too.
                request.response_format = Some(json!({
                    "type": "json_object",
                    "schema": report_fix_schema()
                }));
            }
        }
        // Serializing these structs of strings and values cannot fail.
        let mut body = serde_json::to_value(&request).unwrap_or(Value::Null);
        self.redactor.redact_json(&mut body);
        body
    }

    /// Sends `conv` until it is answered, refused for good, or the retries run out.
    async fn send(&self, conv: &Conversation) -> Result<(Response, u32), AnalyseError> {
        let url = endpoint(&self.config.base_url);
        let retries = Retries {
            provider: PROVIDER,
            max_retries: self.config.max_retries,
            backoff_initial: self.config.backoff_initial,
            max_retry_after: self.config.max_retry_after,
        };
        retries.run(|| self.attempt(&url, conv)).await
    }

    /// One request. The body is built for the way of asking in use at this attempt, so a
    /// retry sends the same bytes and a fallback sends the JSON-mode body.
    async fn attempt(&self, url: &str, conv: &Conversation) -> Result<Response, Failure> {
        let structured = self.structured();
        let body = serde_json::to_vec(&self.body_for(conv, structured)).unwrap_or_default();
        let request = self.client.post(url).body(body);
        let retry::Refusal {
            status,
            retry_after,
            text,
        } = match retry::post(PROVIDER, request, |e| self.transport(e)).await? {
            Ok(text) => return self.scrub().answer(PROVIDER, &text),
            Err(refusal) => refusal,
        };
        let error = ApiError::read(&text);
        let message = self.scrub().excerpt(&error.message);
        let kind = error.kind.clone();
        let asked_structured = !matches!(conv.form(), AnswerForm::File(_));
        if asked_structured && structured != Structured::Json && error.refuses_structure(status) {
            self.fall_back(structured, status, &message);
            return Err(Failure::Resend);
        }
        Err(match status {
            429 if error.is_quota() => Failure::Fatal(AnalyseError::Refused {
                provider: PROVIDER,
                status,
                kind,
                message,
            }),
            408 | 409 | 429 | 500..=599 => Failure::Transient {
                reason: format!("http {status} {kind}: {message}"),
                retry_after,
            },
            401 | 403 => Failure::Fatal(AnalyseError::Unauthorized {
                provider: PROVIDER,
                status,
                message,
                key_var: KEY_VAR,
            }),
            404 => Failure::Fatal(AnalyseError::UnknownModel {
                provider: PROVIDER,
                model: self.config.model.clone(),
                message,
            }),
            _ => Failure::Fatal(AnalyseError::Refused {
                provider: PROVIDER,
                status,
                kind,
                message,
            }),
        })
    }

    /// Asks in JSON mode from now on: the server refused `structured`.
    fn fall_back(&self, structured: Structured, status: u16, message: &str) {
        let switched = self
            .structured
            .compare_exchange(
                structured.to_u8(),
                Structured::Json.to_u8(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok();
        if switched {
            tracing::warn!(
                "the server of model {} refused structured answers by {} (http {status}: \
                 {message}); asking for plain JSON from now on",
                self.config.model,
                structured.as_str()
            );
        }
    }

    fn transport(&self, e: reqwest::Error) -> Failure {
        self.scrub()
            .transport(PROVIDER, self.config.request_timeout, e)
    }

    fn scrub(&self) -> Scrub<'_> {
        Scrub {
            redactor: &self.redactor,
            key: self.config.api_key.as_deref(),
        }
    }
}

impl Model for OpenAi {
    fn name(&self) -> &str {
        &self.config.model
    }

    async fn ask(&self, conv: &mut Conversation) -> Result<Reply, AnalyseError> {
        if !conv.awaits_answer() {
            return Err(AnalyseError::NothingToAsk);
        }
        let started = Instant::now();
        let (response, attempts) = self.send(conv).await?;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

        let Some(choice) = response.choices.into_iter().next() else {
            return Err(AnalyseError::BadResponse {
                provider: PROVIDER,
                detail: "the answer has no choices".to_string(),
            });
        };
        let message = choice.message;
        let mut text = message.content.map(content_text).unwrap_or_default();
        if text.trim().is_empty()
            && let Some(refusal) = message.refusal
        {
            text = refusal;
        }
        let tool_calls: Vec<ToolCall> = message
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, call)| call.into_tool_call(i))
            .collect();
        let truncated =
            (choice.finish_reason.as_deref() == Some("length")).then_some(self.config.max_tokens);
        let answer = conv.read(&text, &tool_calls, truncated);
        let u = response.usage.unwrap_or_default();
        let usage = Usage {
            model: response
                .model
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| self.config.model.clone()),
            input_tokens: u.prompt_tokens.unwrap_or(0),
            output_tokens: u.completion_tokens.unwrap_or(0),
            latency_ms,
            attempts,
        };
        conv.push_answer(text, tool_calls, usage.clone());
        Ok(Reply { answer, usage })
    }
}

/// `{base_url}/chat/completions`, a query of the base URL (Azure's `api-version`) kept after
/// the path.
fn endpoint(base_url: &str) -> String {
    let (base, query) = match base_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (base_url, None),
    };
    let mut url = format!("{}/chat/completions", base.trim_end_matches('/'));
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// The system prompt for a way of asking. heal's prompt speaks of calling `report_fix`;
/// without tools, the answer is the object itself, which the model must be told.
fn system_prompt(system: &str, structured: Structured) -> Cow<'_, str> {
    const AS_JSON: &str = "\n\nThis API takes your answer as a JSON object instead of a tool \
        call: wherever these instructions say to call report_fix, answer with exactly one JSON \
        object holding the arguments of report_fix, every field filled in, and nothing else.";
    match structured {
        Structured::Tools => Cow::Borrowed(system),
        Structured::JsonSchema => Cow::Owned(format!(
            "{system}{AS_JSON} The object follows the JSON schema of the response format."
        )),
        Structured::Json => {
            let schema = serde_json::to_string_pretty(&report_fix_schema()).unwrap_or_default();
            Cow::Owned(format!(
                "{system}{AS_JSON} The object follows this JSON schema:\n{schema}\n"
            ))
        }
    }
}

/// The conversation as OpenAI's messages, after the system message. With tools, a user turn
/// that replies to tool calls becomes one `tool` message per call (the feedback in the first),
/// as the API requires after an assistant's `tool_calls`. Without tools (JSON modes, or after
/// a fallback), earlier calls are shown as the JSON they carried and feedback as user text:
/// a server that refused tools may refuse their messages too.
fn messages_of(conv: &Conversation, structured: Structured) -> Vec<Message<'_>> {
    let tools = structured == Structured::Tools;
    let mut messages = Vec::new();
    for turn in conv.turns() {
        match turn {
            Turn::User { text, replies_to } if tools && !replies_to.is_empty() => {
                messages.extend(replies_to.iter().enumerate().map(|(i, id)| Message::Tool {
                    tool_call_id: id,
                    content: if i == 0 {
                        text
                    } else {
                        "Only one call of report_fix is read; see the first result."
                    },
                }));
            }
            Turn::User { text, .. } => messages.push(Message::User { content: text }),
            Turn::Assistant { text, tool_calls } if tools && !tool_calls.is_empty() => {
                messages.push(Message::Assistant {
                    content: (!text.trim().is_empty()).then_some(Cow::Borrowed(text.as_str())),
                    tool_calls: tool_calls
                        .iter()
                        .map(|c| WireToolCall {
                            id: &c.id,
                            kind: "function",
                            function: FunctionCall {
                                name: &c.name,
                                arguments: arguments(&c.input),
                            },
                        })
                        .collect(),
                });
            }
            Turn::Assistant { text, tool_calls } => {
                let mut content = if text.trim().is_empty() {
                    String::new()
                } else {
                    text.clone()
                };
                for call in tool_calls {
                    if !content.is_empty() {
                        content.push('\n');
                    }
                    content.push_str(&arguments(&call.input));
                }
                if content.is_empty() {
                    // An empty answer must still be a turn, or the roles stop alternating.
                    content.push_str("(no answer)");
                }
                messages.push(Message::Assistant {
                    content: Some(Cow::Owned(content)),
                    tool_calls: Vec::new(),
                });
            }
        }
    }
    messages
}

/// A call's arguments as the API carries them: a JSON string. Arguments that did not parse
/// were kept as the string the model sent, which is replayed as it was.
fn arguments(input: &Value) -> String {
    match input {
        Value::String(raw) => raw.clone(),
        other => other.to_string(),
    }
}

/// A message's `content`: a string, or (some servers) an array of text parts.
fn content_text(content: Value) -> String {
    match content {
        Value::String(text) => text,
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str().or(p.as_str()))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

// OpenAI's wire format (https://platform.openai.com/docs/api-reference/chat/create).

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    max_tokens: u32,
    /// 0 (an integer, as servers expect) unless the conversation asks for another.
    temperature: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<[Tool<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<Value>,
}

#[derive(Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
enum Message<'a> {
    System {
        content: Cow<'a, str>,
    },
    User {
        content: &'a str,
    },
    Assistant {
        /// `null` when the answer was only tool calls, as the API gives it.
        content: Option<Cow<'a, str>>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<WireToolCall<'a>>,
    },
    Tool {
        tool_call_id: &'a str,
        content: &'a str,
    },
}

#[derive(Serialize)]
struct WireToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionCall<'a>,
}

#[derive(Serialize)]
struct FunctionCall<'a> {
    name: &'a str,
    arguments: String,
}

#[derive(Serialize)]
struct Tool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: Function<'a>,
}

#[derive(Serialize)]
struct Function<'a> {
    name: &'a str,
    description: &'a str,
    parameters: Value,
}

#[derive(Debug, Deserialize)]
struct Response {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<ApiUsage>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: ResponseMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ResponseMessage {
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    tool_calls: Option<Vec<ResponseToolCall>>,
    /// What a model that declines to answer says instead (structured outputs).
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ResponseToolCall {
    #[serde(default)]
    id: Option<String>,
    function: ResponseFunction,
}

#[derive(Debug, Deserialize)]
struct ResponseFunction {
    #[serde(default)]
    name: String,
    /// A JSON string by the spec; some servers send the object itself.
    #[serde(default)]
    arguments: Value,
}

impl ResponseToolCall {
    /// heal's view of the call; `index` names calls the server gave no id (some local
    /// servers), so that a follow-up can still answer them.
    fn into_tool_call(self, index: usize) -> ToolCall {
        let input = match self.function.arguments {
            Value::String(raw) => parse_arguments(raw),
            other => other,
        };
        ToolCall {
            id: self
                .id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("call_heal_{index}")),
            name: self.function.name,
            input,
        }
    }
}

/// The arguments string as JSON: as is, else the object it holds (in a code fence, with
/// prose), else the string itself, which the parser reports as not an object. A string that
/// holds JSON twice encoded is decoded twice.
fn parse_arguments(raw: String) -> Value {
    match serde_json::from_str::<Value>(&raw) {
        Ok(Value::String(inner)) => match serde_json::from_str::<Value>(&inner) {
            Ok(value) => value,
            Err(_) => Value::String(inner),
        },
        Ok(value) => value,
        Err(_) => extract_json(&raw).unwrap_or(Value::String(raw)),
    }
}

#[derive(Debug, Default, Deserialize)]
struct ApiUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

/// An error answer, read from the shapes servers use: OpenAI's
/// `{"error": {"message", "type", "param", "code"}}`, the flat `{"message", "type"}` of some
/// servers, FastAPI's `{"detail": …}`, or any text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ApiError {
    kind: String,
    message: String,
    param: Option<String>,
    code: Option<String>,
}

impl ApiError {
    fn read(text: &str) -> ApiError {
        let Ok(body) = serde_json::from_str::<Value>(text) else {
            return ApiError {
                kind: "error".to_string(),
                message: text.to_string(),
                param: None,
                code: None,
            };
        };
        let error = match &body["error"] {
            Value::Object(_) => &body["error"],
            _ => &body,
        };
        let string = |v: &Value| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let message = string(&error["message"])
            .or_else(|| string(&body["error"]))
            .or_else(|| match &body["detail"] {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            })
            .unwrap_or_else(|| text.to_string());
        ApiError {
            kind: string(&error["type"]).unwrap_or_else(|| "error".to_string()),
            message,
            param: string(&error["param"]),
            code: string(&error["code"]),
        }
    }

    /// A spent quota also comes as 429, but waiting does not refill it.
    fn is_quota(&self) -> bool {
        self.kind == "insufficient_quota" || self.code.as_deref() == Some("insufficient_quota")
    }

    /// Whether this answer to a request with tools or a response format says the server does
    /// not support them. An error about another parameter (`temperature` unsupported by a
    /// model) is not one: JSON mode would be refused the same way.
    fn refuses_structure(&self, status: u16) -> bool {
        const STRUCTURE: [&str; 5] = [
            "tools",
            "tool_choice",
            "response_format",
            "json_schema",
            "functions",
        ];
        // 500 too: llama-cpp-python answers an unknown `response_format` type with a
        // validation error as a 500 that names the field.
        if !matches!(status, 400 | 422 | 500 | 501) {
            return false;
        }
        if let Some(param) = &self.param {
            return STRUCTURE.iter().any(|p| param.starts_with(p));
        }
        if status == 501 {
            return true;
        }
        let text = format!("{} {}", self.kind, self.message).to_lowercase();
        let names_structure = ["tool", "response_format", "json_schema", "function"]
            .iter()
            .any(|w| text.contains(w));
        let says_unsupported = ["not supported", "unsupported", "not implemented"]
            .iter()
            .any(|w| text.contains(w));
        names_structure || (says_unsupported && !text.contains("temperature"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyse::{Answer, Prompt, read_answer};

    const KEY: &str = "sk-proj-test-key-0123456789";

    fn client(structured: Structured) -> OpenAi {
        let config = OpenAiConfig {
            api_key: Some(KEY.to_string()),
            structured,
            ..OpenAiConfig::new()
        };
        OpenAi::new(config, Redactor::default()).unwrap()
    }

    fn conversation() -> Conversation {
        Conversation::new(Prompt {
            system: "the rules".to_string(),
            user: "the error".to_string(),
            form: AnswerForm::Tool,
        })
    }

    fn usage() -> Usage {
        Usage {
            model: DEFAULT_MODEL.to_string(),
            input_tokens: 1,
            output_tokens: 1,
            latency_ms: 1,
            attempts: 1,
        }
    }

    fn good_fix() -> Value {
        json!({
            "fixable": false, "reason": "r", "error_category": "external", "root_cause": "c",
            "affected_file": "a.py", "confidence": "low", "explanation": "e",
            "changes_summary": "s", "edits": []
        })
    }

    /// A chat.completion answer with `message`.
    fn response(message: Value, finish_reason: &str) -> Response {
        serde_json::from_value(json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}
        }))
        .unwrap()
    }

    /// What `ask` makes of an answer.
    fn read(response: Response) -> (Answer, String, Vec<ToolCall>) {
        let choice = response.choices.into_iter().next().unwrap();
        let text = choice.message.content.map(content_text).unwrap_or_default();
        let calls: Vec<ToolCall> = choice
            .message
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, c)| c.into_tool_call(i))
            .collect();
        (read_answer(&text, &calls, None), text, calls)
    }

    fn unusable(answer: Answer) -> String {
        match answer {
            Answer::Unusable { reason } => reason,
            Answer::Fix(fix) => panic!("unexpected fix {fix:?}"),
        }
    }

    #[test]
    fn structured_names_round_trip() {
        for s in [Structured::Tools, Structured::JsonSchema, Structured::Json] {
            assert_eq!(Structured::parse(s.as_str()), Some(s));
            assert_eq!(Structured::from_u8(s.to_u8()), s);
        }
        assert_eq!(Structured::parse("grammar"), None);
        assert_eq!(OpenAiConfig::new().structured, Structured::Tools);
    }

    #[test]
    fn the_first_request_asks_by_json_schema() {
        let body = client(Structured::JsonSchema).request_body(&conversation());
        assert_eq!(body["model"], DEFAULT_MODEL);
        assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(body["temperature"], 0);
        assert_eq!(body["messages"][0]["role"], "system");
        let system = body["messages"][0]["content"].as_str().unwrap();
        assert!(system.starts_with("the rules\n\n"), "{system}");
        assert!(system.contains("exactly one JSON object"), "{system}");
        assert_eq!(
            body["messages"][1],
            json!({"role": "user", "content": "the error"})
        );
        assert_eq!(
            body["response_format"],
            json!({"type": "json_schema", "json_schema": {
                "name": "report_fix", "schema": report_fix_schema(), "strict": false
            }})
        );
        assert!(body.get("tools").is_none());
        assert!(body.get("tool_choice").is_none());
    }

    #[test]
    fn the_first_request_asks_by_tools() {
        let body = client(Structured::Tools).request_body(&conversation());
        assert_eq!(
            body["messages"][0],
            json!({"role": "system", "content": "the rules"})
        );
        assert_eq!(
            body["tools"],
            json!([{"type": "function", "function": {
                "name": "report_fix", "description": TOOL_DESCRIPTION,
                "parameters": report_fix_schema()
            }}])
        );
        assert_eq!(
            body["tool_choice"],
            json!({"type": "function", "function": {"name": "report_fix"}})
        );
        assert!(body.get("response_format").is_none());
    }

    #[test]
    fn the_first_request_asks_by_json_mode() {
        let body = client(Structured::Json).request_body(&conversation());
        assert_eq!(body["response_format"]["type"], "json_object");
        assert_eq!(body["response_format"]["schema"], report_fix_schema());
        let system = body["messages"][0]["content"].as_str().unwrap();
        assert!(system.contains("JSON schema:\n{"), "{system}");
        assert!(system.contains("\"changes_summary\""), "{system}");
        assert!(body.get("tools").is_none());
    }

    /// A conversation with a tool-call answer, its feedback, an empty answer and more.
    fn follow_ups() -> Conversation {
        let mut conv = conversation();
        conv.push_answer(
            "thinking aloud".to_string(),
            vec![
                ToolCall {
                    id: "call_A".to_string(),
                    name: "report_fix".to_string(),
                    input: json!({"fixable": true}),
                },
                ToolCall {
                    id: "call_B".to_string(),
                    name: "report_fix".to_string(),
                    input: json!("{\"fixable\": tr"),
                },
            ],
            usage(),
        );
        conv.follow_up("field `reason` is missing");
        conv.push_answer(String::new(), Vec::new(), usage());
        conv.follow_up("call the tool");
        conv
    }

    #[test]
    fn follow_ups_answer_tool_calls_with_tool_messages() {
        let body = client(Structured::Tools).request_body(&follow_ups());
        assert_eq!(
            body["messages"],
            json!([
                {"role": "system", "content": "the rules"},
                {"role": "user", "content": "the error"},
                {"role": "assistant", "content": "thinking aloud", "tool_calls": [
                    {"id": "call_A", "type": "function",
                     "function": {"name": "report_fix", "arguments": "{\"fixable\":true}"}},
                    {"id": "call_B", "type": "function",
                     "function": {"name": "report_fix", "arguments": "{\"fixable\": tr"}}
                ]},
                {"role": "tool", "tool_call_id": "call_A",
                 "content": "field `reason` is missing"},
                {"role": "tool", "tool_call_id": "call_B",
                 "content": "Only one call of report_fix is read; see the first result."},
                {"role": "assistant", "content": "(no answer)"},
                {"role": "user", "content": "call the tool"}
            ])
        );
    }

    #[test]
    fn follow_ups_without_tools_are_plain_text() {
        let body = client(Structured::Json).request_body(&follow_ups());
        assert_eq!(
            Value::from(body["messages"].as_array().unwrap()[2..].to_vec()),
            json!([
                {"role": "assistant",
                 "content": "thinking aloud\n{\"fixable\":true}\n{\"fixable\": tr"},
                {"role": "user", "content": "field `reason` is missing"},
                {"role": "assistant", "content": "(no answer)"},
                {"role": "user", "content": "call the tool"}
            ])
        );
    }

    #[test]
    fn the_file_form_asks_for_plain_text_in_every_mode() {
        let mut conv = Conversation::new(Prompt {
            system: "the rules".to_string(),
            user: "the error".to_string(),
            form: AnswerForm::File(crate::analyse::FileTarget {
                path: "app.py".to_string(),
                exc_type: "NameError".to_string(),
            }),
        });
        conv.push_answer("no block here".to_string(), Vec::new(), usage());
        conv.follow_up("give the whole file again");
        for structured in [Structured::Tools, Structured::JsonSchema, Structured::Json] {
            let body = client(structured).request_body(&conv);
            assert!(body.get("tools").is_none(), "{body}");
            assert!(body.get("tool_choice").is_none(), "{body}");
            assert!(body.get("response_format").is_none(), "{body}");
            assert_eq!(
                body["messages"],
                json!([
                    {"role": "system", "content": "the rules"},
                    {"role": "user", "content": "the error"},
                    {"role": "assistant", "content": "no block here"},
                    {"role": "user", "content": "give the whole file again"}
                ])
            );
        }
    }

    #[test]
    fn request_bodies_are_redacted() {
        let redactor = Redactor::from_env([("SERVICE_TOKEN", "tok-secret-42")]);
        let conv = Conversation::new(Prompt {
            system: "s tok-secret-42".to_string(),
            user: "boom tok-secret-42 ghp_abcdefghijklmnopqrstuvwxyz0123456789".to_string(),
            form: AnswerForm::Tool,
        });
        let model = OpenAi::new(OpenAiConfig::new(), redactor).unwrap();
        let body = model.request_body(&conv);
        assert_eq!(body["messages"][1]["content"], "boom [REDACTED] [REDACTED]");
        assert!(!body.to_string().contains("tok-secret-42"));
    }

    #[test]
    fn a_tool_call_with_string_arguments_is_read() {
        let message = json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "report_fix", "arguments": good_fix().to_string()}
        }]});
        let (answer, text, calls) = read(response(message, "tool_calls"));
        assert!(matches!(answer, Answer::Fix(_)), "{answer:?}");
        assert_eq!(text, "");
        assert_eq!(calls[0].id, "call_1");
        assert_eq!(calls[0].input, good_fix());
    }

    #[test]
    fn a_tool_call_with_object_arguments_is_read() {
        let message = json!({"role": "assistant", "tool_calls": [{
            "type": "function", "function": {"name": "report_fix", "arguments": good_fix()}
        }]});
        let (answer, _, calls) = read(response(message, "stop"));
        assert!(matches!(answer, Answer::Fix(_)), "{answer:?}");
        assert_eq!(calls[0].id, "call_heal_0", "an id is made up when missing");
    }

    #[test]
    fn broken_arguments_are_unusable_and_replayed_as_sent() {
        let message = json!({"role": "assistant", "content": "", "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "report_fix", "arguments": "{\"fixable\": tr"}
        }]});
        let (answer, _, calls) = read(response(message, "length"));
        assert_eq!(
            unusable(answer),
            "the answer must be a JSON object, got a string"
        );
        assert_eq!(arguments(&calls[0].input), "{\"fixable\": tr");
        assert_eq!(
            parse_arguments(json!(good_fix().to_string()).to_string()),
            good_fix(),
            "twice-encoded arguments are decoded"
        );
    }

    #[test]
    fn json_content_is_read_from_fences_and_prose() {
        let text = format!(
            "Here is the fix:\n```json\n{}\n```\nHope it helps.",
            good_fix()
        );
        let message = json!({"role": "assistant", "content": text});
        let (answer, got, calls) = read(response(message, "stop"));
        assert!(matches!(answer, Answer::Fix(_)), "{answer:?}");
        assert_eq!(got, text);
        assert!(calls.is_empty());
        let parts = json!({"role": "assistant", "content": [
            {"type": "text", "text": good_fix().to_string()}
        ]});
        assert!(matches!(read(response(parts, "stop")).0, Answer::Fix(_)));
    }

    #[test]
    fn garbage_content_is_unusable() {
        let message = json!({"role": "assistant", "content": "I would add a check in divide()."});
        assert_eq!(
            unusable(read(response(message, "stop")).0),
            "the answer is text only; it must call report_fix"
        );
        let message = json!({"role": "assistant", "content": "{\"fixable\": true,"});
        assert_eq!(
            unusable(read(response(message, "stop")).0),
            "the answer is text only; it must call report_fix"
        );
    }

    #[test]
    fn usage_and_errors_are_read_from_every_shape() {
        let r = response(json!({"role": "assistant", "content": "x"}), "stop");
        let u = r.usage.unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens), (Some(10), Some(3)));
        let bare: Response = serde_json::from_value(json!({"choices": []})).unwrap();
        assert!(bare.usage.is_none() && bare.model.is_none());

        let openai = ApiError::read(
            &json!({"error": {"message": "Invalid 'tools': not supported",
                "type": "invalid_request_error", "param": "tools", "code": null}})
            .to_string(),
        );
        assert_eq!(openai.kind, "invalid_request_error");
        assert_eq!(openai.param.as_deref(), Some("tools"));
        assert!(openai.refuses_structure(400));
        let flat = ApiError::read(
            r#"{"object":"error","message":"bad","type":"BadRequestError","code":400}"#,
        );
        assert_eq!(
            (flat.kind.as_str(), flat.message.as_str()),
            ("BadRequestError", "bad")
        );
        let fastapi = ApiError::read(r#"{"detail":[{"loc":["body","tools"],"msg":"extra"}]}"#);
        assert!(fastapi.message.contains("extra"), "{fastapi:?}");
        assert!(fastapi.refuses_structure(422));
        let text = ApiError::read("Bad Gateway");
        assert_eq!(
            (text.kind.as_str(), text.message.as_str()),
            ("error", "Bad Gateway")
        );
        assert!(!text.refuses_structure(502));
        // llama-cpp-python's answer to `json_schema`, seen in a real run.
        let llama = ApiError::read(
            &json!({"error": {"message": "1 validation error: {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\"}",
                "type": "internal_server_error"}})
            .to_string(),
        );
        assert!(llama.refuses_structure(500));

        let temperature = ApiError::read(
            &json!({"error": {"message": "Unsupported value: 'temperature' does not support 0",
                "type": "invalid_request_error", "param": "temperature"}})
            .to_string(),
        );
        assert!(!temperature.refuses_structure(400));
        let unparamed = ApiError::read(
            &json!({"error": {"message": "temperature 0 is not supported"}}).to_string(),
        );
        assert!(!unparamed.refuses_structure(400));
        let quota = ApiError::read(
            &json!({"error": {"message": "You exceeded your current quota",
                "type": "insufficient_quota", "code": "insufficient_quota"}})
            .to_string(),
        );
        assert!(quota.is_quota());
    }

    #[test]
    fn endpoints_keep_the_query_after_the_path() {
        assert_eq!(
            endpoint("https://api.openai.com/v1/"),
            "https://api.openai.com/v1/chat/completions"
        );
        assert_eq!(
            endpoint("https://x.example/openai/v1?api-version=2024-10-21"),
            "https://x.example/openai/v1/chat/completions?api-version=2024-10-21"
        );
    }

    #[test]
    fn the_key_stays_out_of_debug_and_errors() {
        let model = client(Structured::Tools);
        let shown = format!("{model:?}");
        assert!(!shown.contains(KEY), "{shown}");
        assert!(shown.contains("<set>"), "{shown}");
        assert_eq!(
            model.scrub().excerpt(&format!("bad key {KEY}")),
            "bad key [REDACTED]"
        );
        let config = OpenAiConfig {
            api_key: Some("bad\nkey".to_string()),
            ..OpenAiConfig::new()
        };
        let err = OpenAi::new(config, Redactor::default())
            .unwrap_err()
            .to_string();
        assert!(!err.contains("bad\nkey"), "{err}");
    }
}
