//! The Anthropic Messages API: one `POST {base_url}/v1/messages` per question, the answer
//! forced through the `report_fix` tool, with bounded retries of what is worth retrying.
//!
//! The wire types here are Anthropic's shapes, kept apart from heal's (a [`Conversation`] is
//! converted at the last moment). Every request body passes through the [`Redactor`] right
//! before it is sent, so nothing built anywhere else can carry a secret out. Never log, return
//! or record the API key: it travels in a sensitive header only, and error texts are scrubbed
//! of it.

use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::parse::{TOOL_DESCRIPTION, TOOL_NAME, report_fix_schema};
use super::retry::{self, Failure, Retries, Scrub};
use super::{AnalyseError, AnswerForm, Conversation, Model, Reply, ToolCall, Turn, Usage};
use crate::redact::Redactor;

pub use super::retry::MAX_BACKOFF;

/// Where the API is, unless configured otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The model asked by default: a current Claude Sonnet, the best value for code fixes.
pub const DEFAULT_MODEL: &str = "claude-sonnet-4-5";
/// The API version heal speaks (the `anthropic-version` header).
pub const API_VERSION: &str = "2023-06-01";
/// Retries after the first attempt: with the default backoff, 2 + 4 + 8 + 16 s, enough to
/// ride out a short `overloaded_error` spell without holding an incident for minutes.
pub const DEFAULT_MAX_RETRIES: u32 = 4;
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_secs(2);
/// Cap on one request. An answer of 4,096 tokens takes Sonnet about a minute at worst.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Cap on the answer's length, in tokens: a fix with a few edits and its explanation.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;
/// The environment variable users set the key in, named in errors.
pub const KEY_VAR: &str = "ANTHROPIC_API_KEY";

const PROVIDER: &str = "anthropic";

/// How to reach Anthropic. Built by the caller (heal's config); nothing here reads the
/// environment.
#[derive(Clone)]
pub struct AnthropicConfig {
    /// Without the `/v1/messages` path.
    pub base_url: String,
    pub api_key: String,
    pub model: String,
    /// Retries after the first attempt, for 408, 429, 5xx (529 included) and transport errors.
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

impl AnthropicConfig {
    /// The defaults, with this key.
    pub fn new(api_key: impl Into<String>) -> AnthropicConfig {
        AnthropicConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            api_key: api_key.into(),
            model: DEFAULT_MODEL.to_string(),
            max_retries: DEFAULT_MAX_RETRIES,
            backoff_initial: DEFAULT_BACKOFF_INITIAL,
            max_retry_after: retry::DEFAULT_MAX_RETRY_AFTER,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_tokens: DEFAULT_MAX_TOKENS,
        }
    }
}

impl std::fmt::Debug for AnthropicConfig {
    // Hand-written so that the key never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"<set>")
            .field("model", &self.model)
            .field("max_retries", &self.max_retries)
            .field("backoff_initial", &self.backoff_initial)
            .field("max_retry_after", &self.max_retry_after)
            .field("request_timeout", &self.request_timeout)
            .field("max_tokens", &self.max_tokens)
            .finish()
    }
}

/// A client of the Messages API for one model.
pub struct Anthropic {
    config: AnthropicConfig,
    client: reqwest::Client,
    redactor: Redactor,
}

impl std::fmt::Debug for Anthropic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anthropic")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Anthropic {
    /// A client that sends nothing `redactor` would cut.
    pub fn new(config: AnthropicConfig, redactor: Redactor) -> Result<Anthropic, AnalyseError> {
        let setup = |detail: String| AnalyseError::Setup {
            provider: PROVIDER,
            detail,
        };
        let mut key = HeaderValue::from_str(config.api_key.trim())
            .map_err(|_| setup(format!("{KEY_VAR} holds characters a header cannot carry")))?;
        key.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", key);
        headers.insert("anthropic-version", HeaderValue::from_static(API_VERSION));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let client = retry::client(PROVIDER, headers, config.request_timeout)?;
        Ok(Anthropic {
            config,
            client,
            redactor,
        })
    }

    pub fn config(&self) -> &AnthropicConfig {
        &self.config
    }

    /// The request body for `conv`, redacted, as it will be sent.
    pub fn request_body(&self, conv: &Conversation) -> Value {
        // The `file` form asks for plain text: no tool at all.
        let tool = matches!(conv.form(), AnswerForm::Tool);
        let request = Request {
            model: &self.config.model,
            max_tokens: self.config.max_tokens,
            system: conv.system(),
            messages: messages(conv),
            tools: tool.then(|| {
                [Tool {
                    name: TOOL_NAME,
                    description: TOOL_DESCRIPTION,
                    input_schema: report_fix_schema(),
                }]
            }),
            tool_choice: tool.then_some(ToolChoice {
                kind: "tool",
                name: TOOL_NAME,
                // One answer, one call: a second call would need a result of its own.
                disable_parallel_tool_use: true,
            }),
            temperature: conv.temperature(),
        };
        // Serializing these structs of strings and values cannot fail.
        let mut body = serde_json::to_value(&request).unwrap_or(Value::Null);
        self.redactor.redact_json(&mut body);
        body
    }

    /// Sends `body` until it is answered, refused for good, or the retries run out.
    async fn send(&self, body: &[u8]) -> Result<(Response, u32), AnalyseError> {
        let url = format!("{}/v1/messages", self.config.base_url.trim_end_matches('/'));
        let retries = Retries {
            provider: PROVIDER,
            max_retries: self.config.max_retries,
            backoff_initial: self.config.backoff_initial,
            max_retry_after: self.config.max_retry_after,
        };
        retries.run(|| self.attempt(&url, body)).await
    }

    async fn attempt(&self, url: &str, body: &[u8]) -> Result<Response, Failure> {
        let request = self.client.post(url).body(body.to_vec());
        let retry::Refusal {
            status,
            retry_after,
            text,
        } = match retry::post(PROVIDER, request, |e| self.transport(e)).await? {
            Ok(text) => return self.scrub().answer(PROVIDER, &text),
            Err(refusal) => refusal,
        };
        let (kind, message) = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => (body.error.kind, self.excerpt(&body.error.message)),
            Err(_) => ("error".to_string(), self.excerpt(&text)),
        };
        Err(match status {
            408 | 429 | 500..=599 => Failure::Transient {
                reason: format!("http {status} {kind}: {message}"),
                retry_after,
            },
            401 => Failure::Fatal(AnalyseError::Unauthorized {
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

    fn transport(&self, e: reqwest::Error) -> Failure {
        self.scrub()
            .transport(PROVIDER, self.config.request_timeout, e)
    }

    /// An excerpt of a text from the peer, on one line, without secrets.
    fn excerpt(&self, text: &str) -> String {
        self.scrub().excerpt(text)
    }

    fn scrub(&self) -> Scrub<'_> {
        Scrub {
            redactor: &self.redactor,
            key: Some(&self.config.api_key),
        }
    }
}

impl Model for Anthropic {
    fn name(&self) -> &str {
        &self.config.model
    }

    async fn ask(&self, conv: &mut Conversation) -> Result<Reply, AnalyseError> {
        if !conv.awaits_answer() {
            return Err(AnalyseError::NothingToAsk);
        }
        let body = serde_json::to_vec(&self.request_body(conv)).unwrap_or_default();
        let started = Instant::now();
        let (response, attempts) = self.send(&body).await?;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

        let mut text = String::new();
        let mut tool_calls = Vec::new();
        for block in response.content {
            match block {
                ResponseBlock::Text { text: t } => {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&t);
                }
                ResponseBlock::ToolUse { id, name, input } => {
                    tool_calls.push(ToolCall { id, name, input });
                }
                ResponseBlock::Other => {}
            }
        }
        let truncated = (response.stop_reason.as_deref() == Some("max_tokens"))
            .then_some(self.config.max_tokens);
        let answer = conv.read(&text, &tool_calls, truncated);
        let u = response.usage;
        let usage = Usage {
            model: response.model.unwrap_or_else(|| self.config.model.clone()),
            input_tokens: u.input_tokens
                + u.cache_creation_input_tokens.unwrap_or(0)
                + u.cache_read_input_tokens.unwrap_or(0),
            output_tokens: u.output_tokens,
            latency_ms,
            attempts,
        };
        conv.push_answer(text, tool_calls, usage.clone());
        Ok(Reply { answer, usage })
    }
}

/// The conversation as Anthropic's messages. A user turn that replies to tool calls carries a
/// `tool_result` (an error: follow-ups say what went wrong) for each, the feedback in the
/// first, as the API requires after a `tool_use`.
fn messages(conv: &Conversation) -> Vec<Message<'_>> {
    conv.turns()
        .iter()
        .map(|turn| match turn {
            Turn::User { text, replies_to } if replies_to.is_empty() => Message {
                role: "user",
                content: vec![Block::Text { text }],
            },
            Turn::User { text, replies_to } => Message {
                role: "user",
                content: replies_to
                    .iter()
                    .enumerate()
                    .map(|(i, id)| Block::ToolResult {
                        tool_use_id: id,
                        content: if i == 0 {
                            text
                        } else {
                            "Only one call of report_fix is read; see the first result."
                        },
                        is_error: true,
                    })
                    .collect(),
            },
            Turn::Assistant { text, tool_calls } => {
                let mut content = Vec::new();
                // The API refuses empty text blocks.
                if !text.trim().is_empty() {
                    content.push(Block::Text { text });
                }
                content.extend(tool_calls.iter().map(|c| Block::ToolUse {
                    id: &c.id,
                    name: &c.name,
                    input: &c.input,
                }));
                if content.is_empty() {
                    // An empty answer must still be a turn, or the roles stop alternating.
                    content.push(Block::Text {
                        text: "(no answer)",
                    });
                }
                Message {
                    role: "assistant",
                    content,
                }
            }
        })
        .collect()
}

// Anthropic's wire format (https://docs.anthropic.com/en/api/messages).

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    max_tokens: u32,
    system: &'a str,
    messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<[Tool<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<ToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: Vec<Block<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Text {
        text: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: &'a Value,
    },
    ToolResult {
        tool_use_id: &'a str,
        content: &'a str,
        is_error: bool,
    },
}

#[derive(Serialize)]
struct Tool<'a> {
    name: &'a str,
    description: &'a str,
    input_schema: Value,
}

#[derive(Serialize)]
struct ToolChoice<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    disable_parallel_tool_use: bool,
}

#[derive(Debug, Deserialize)]
struct Response {
    #[serde(default)]
    model: Option<String>,
    content: Vec<ResponseBlock>,
    #[serde(default)]
    stop_reason: Option<String>,
    usage: ApiUsage,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ResponseBlock {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// `thinking` and the blocks of server tools: nothing heal reads.
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct ApiUsage {
    input_tokens: u64,
    output_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

/// `{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}`
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type")]
    kind: String,
    message: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::analyse::Prompt;

    fn client(redactor: Redactor) -> Anthropic {
        Anthropic::new(AnthropicConfig::new("sk-ant-test-key-0123456789"), redactor).unwrap()
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

    #[test]
    fn the_first_request() {
        let body = client(Redactor::default()).request_body(&conversation());
        assert_eq!(body["model"], DEFAULT_MODEL);
        assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(body["system"], "the rules");
        assert_eq!(
            body["messages"],
            json!([{"role": "user", "content": [{"type": "text", "text": "the error"}]}])
        );
        assert_eq!(body["tools"][0]["name"], "report_fix");
        assert_eq!(body["tools"][0]["input_schema"], report_fix_schema());
        assert_eq!(
            body["tool_choice"],
            json!({"type": "tool", "name": "report_fix", "disable_parallel_tool_use": true})
        );
    }

    #[test]
    fn follow_ups_carry_tool_results() {
        let mut conv = conversation();
        conv.push_answer(
            "thinking aloud".to_string(),
            vec![ToolCall {
                id: "toolu_A".to_string(),
                name: "report_fix".to_string(),
                input: json!({"fixable": true}),
            }],
            usage(),
        );
        conv.follow_up("field `reason` is missing");
        conv.push_answer(String::new(), Vec::new(), usage());
        conv.follow_up("call the tool");
        let body = client(Redactor::default()).request_body(&conv);
        assert_eq!(
            body["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "the error"}]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "thinking aloud"},
                    {"type": "tool_use", "id": "toolu_A", "name": "report_fix",
                     "input": {"fixable": true}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_A",
                     "content": "field `reason` is missing", "is_error": true}
                ]},
                {"role": "assistant", "content": [{"type": "text", "text": "(no answer)"}]},
                {"role": "user", "content": [{"type": "text", "text": "call the tool"}]}
            ])
        );
    }

    #[test]
    fn the_file_form_sends_no_tool() {
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
        let body = client(Redactor::default()).request_body(&conv);
        assert!(body.get("tools").is_none(), "{body}");
        assert!(body.get("tool_choice").is_none(), "{body}");
        assert_eq!(
            body["messages"][2],
            json!({"role": "user", "content": [{"type": "text", "text": "give the whole file again"}]})
        );
    }

    #[test]
    fn request_bodies_are_redacted() {
        let redactor = Redactor::from_env([("SERVICE_TOKEN", "tok-secret-42")]);
        let conv = Conversation::new(Prompt {
            system: "s".to_string(),
            user: "boom tok-secret-42 ghp_abcdefghijklmnopqrstuvwxyz0123456789".to_string(),
            form: AnswerForm::Tool,
        });
        let body = client(redactor).request_body(&conv);
        assert_eq!(
            body["messages"][0]["content"][0]["text"],
            "boom [REDACTED] [REDACTED]"
        );
    }

    #[test]
    fn responses_are_read() {
        let response: Response = serde_json::from_value(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "s"},
                {"type": "text", "text": "ok"},
                {"type": "tool_use", "id": "toolu_1", "name": "report_fix", "input": {}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 2}
        }))
        .unwrap();
        assert_eq!(response.content.len(), 3);
        assert!(matches!(response.content[0], ResponseBlock::Other));
        assert_eq!(response.usage.cache_read_input_tokens, Some(2));
        let error: ErrorBody = serde_json::from_value(json!({
            "type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}
        }))
        .unwrap();
        assert_eq!(error.error.kind, "overloaded_error");
    }

    #[test]
    fn the_key_stays_out_of_debug_and_errors() {
        let anthropic = client(Redactor::default());
        let shown = format!("{anthropic:?}");
        assert!(!shown.contains("sk-ant-test-key"), "{shown}");
        assert_eq!(
            anthropic.excerpt("bad key sk-ant-test-key-0123456789"),
            "bad key [REDACTED]"
        );
        let err = Anthropic::new(AnthropicConfig::new("bad\nkey"), Redactor::default())
            .unwrap_err()
            .to_string();
        assert!(!err.contains("bad\nkey"), "{err}");
    }
}
