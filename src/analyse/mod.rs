//! Analysis: asks an LLM for the root cause of an incident and a fix, in one request.
//!
//! - [`prompt`] gathers the incident's source files and renders the prompt (pure but for the
//!   reading of files).
//! - [`parse`] holds the `report_fix` schema and reads answers into [`ReportFix`] (pure);
//!   [`file_form`] reads the `file` form's plain answers (the whole corrected file) into one
//!   (pure).
//! - [`anthropic`] talks to the Anthropic Messages API, [`openai`] to OpenAI-compatible chat
//!   completions (OpenAI, and local servers such as llama.cpp, Ollama or vLLM); both implement
//!   the same [`Model`] trait and share their retries and error scrubbing (`retry`).
//! - [`Conversation`] is provider-neutral: the prompt, the model's answers and heal's
//!   follow-ups (an unusable answer, an edit that did not apply, a fix that failed validation),
//!   so one conversation carries an incident from analysis to a proven fix.
//!
//! An unusable answer is a value ([`Answer::Unusable`]), never a panic or a guess. Nothing sent
//! to a model may hold a secret: providers pass every request through a
//! [`Redactor`](crate::redact::Redactor) at the last moment, after everything else was built.

pub mod answer;
pub mod anthropic;
pub mod file_form;
pub mod module_doc;
pub mod openai;
pub mod parse;
pub mod prompt;
mod retry;

use std::future::Future;

pub use answer::{Category, Confidence, Edit, ReportFix};
pub use anthropic::{Anthropic, AnthropicConfig};
pub use openai::{OpenAi, OpenAiConfig};
pub use parse::report_fix_schema;
pub use prompt::{
    AnswerForm, EditForm, FileTarget, Prompt, PromptInput, gather, gather_over, render,
};

/// How many answers [`analyse`] asks for: the first, and one more when it was unusable.
pub const MAX_ANSWERS: u32 = 2;

/// Why an analysis failed. The messages never hold an API key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalyseError {
    #[error(
        "{provider} rejected the api key (http {status}: {message}): check {key_var} in .env, \
         or set HEAL_PROVIDER=none to turn analysis off"
    )]
    Unauthorized {
        provider: &'static str,
        status: u16,
        message: String,
        /// The setting that holds the key (`ANTHROPIC_API_KEY`).
        key_var: &'static str,
    },
    #[error(
        "{provider} does not know model `{model}` (http 404: {message}): check the model name \
         and the base url"
    )]
    UnknownModel {
        provider: &'static str,
        model: String,
        message: String,
    },
    #[error("{provider} refused the request (http {status} {kind}: {message})")]
    Refused {
        provider: &'static str,
        status: u16,
        /// The provider's error type (`invalid_request_error`).
        kind: String,
        message: String,
    },
    #[error("{provider} is unavailable after {attempts} attempts; the last: {last}")]
    Unavailable {
        provider: &'static str,
        attempts: u32,
        last: String,
    },
    #[error(
        "{provider} asked heal to wait {asked_s} s before trying again (retry-after), more than llm.max_retry_after_s ({max_s} s): not waited for; the incident is healed again on its next occurrence (raise HEAL_LLM_MAX_RETRY_AFTER_S to wait longer)"
    )]
    WaitTooLong {
        provider: &'static str,
        asked_s: u64,
        max_s: u64,
    },
    #[error("{provider}'s answer cannot be read: {detail}")]
    BadResponse {
        provider: &'static str,
        detail: String,
    },
    #[error("the model gave no usable answer in {answers} tries; the last: {reason}")]
    Unusable { answers: u32, reason: String },
    #[error("nothing to ask: the conversation ends with the model's answer")]
    NothingToAsk,
    #[error("cannot set up the {provider} client: {detail}")]
    Setup {
        provider: &'static str,
        detail: String,
    },
}

/// What one call to a model cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// The model that answered, as the provider named it.
    pub model: String,
    /// Input tokens billed, cache reads and writes included.
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// From the first attempt to the answer read, retries and their waits included.
    pub latency_ms: u64,
    /// HTTP requests made, the first included.
    pub attempts: u32,
}

/// The model's answer, read once and then trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Fix(ReportFix),
    /// The answer could not be read as a `report_fix`; `reason` says why, in words that can be
    /// sent back to the model.
    Unusable {
        reason: String,
    },
}

/// One answer and what it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub answer: Answer,
    pub usage: Usage,
}

/// A call of a tool by the model, as it made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// The provider's id, which a follow-up must refer to (`toolu_…`, `call_…`).
    pub id: String,
    pub name: String,
    pub input: serde_json::Value,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// heal speaks: the prompt, or feedback on the answer before.
    User {
        text: String,
        /// The tool calls of the answer before, which this message is the result of: providers
        /// require every tool call to be answered (Anthropic's `tool_result`, OpenAI's `tool`
        /// message). Follow-ups always report an error (the answer was not usable, an edit
        /// failed, validation failed).
        replies_to: Vec<String>,
    },
    /// The model speaks.
    Assistant {
        text: String,
        tool_calls: Vec<ToolCall>,
    },
}

/// A conversation with a model about one incident, provider-neutral. Turns alternate, the
/// first and the last one being heal's whenever the model is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    system: String,
    turns: Vec<Turn>,
    usage: Vec<Usage>,
    /// The sampling temperature asked for, in hundredths; `None` leaves the provider's own
    /// (heal asks its first candidate as it always did, further candidates higher).
    temperature: Option<u16>,
    /// How the model answers: it decides the request, the reading of answers and feedback.
    form: AnswerForm,
}

impl Conversation {
    pub fn new(prompt: Prompt) -> Conversation {
        Conversation {
            system: prompt.system,
            turns: vec![Turn::User {
                text: prompt.user,
                replies_to: Vec::new(),
            }],
            usage: Vec::new(),
            temperature: None,
            form: prompt.form,
        }
    }

    /// The same conversation asked at `temperature`: for candidates that should differ.
    pub fn with_temperature(mut self, temperature: f32) -> Conversation {
        let hundredths = (temperature.clamp(0.0, 2.0) * 100.0).round();
        self.temperature = Some(hundredths as u16);
        self
    }

    pub fn temperature(&self) -> Option<f64> {
        self.temperature.map(|t| f64::from(t) / 100.0)
    }

    pub fn system(&self) -> &str {
        &self.system
    }

    /// How the model answers in this conversation.
    pub fn form(&self) -> &AnswerForm {
        &self.form
    }

    /// Reads an answer of this conversation's form: a `report_fix` call (or its JSON in the
    /// text), or in the `file` form the text with the corrected file. `truncated` says the
    /// answer hit the output limit.
    pub fn read(&self, text: &str, tool_calls: &[ToolCall], truncated: Option<u32>) -> Answer {
        match &self.form {
            AnswerForm::Tool => read_answer(text, tool_calls, truncated),
            AnswerForm::File(target) => file_form::read(text, target, truncated),
        }
    }

    pub fn turns(&self) -> &[Turn] {
        &self.turns
    }

    /// What every answered call of this conversation cost, in order: the usage of calls made
    /// before an error, which the error cannot carry.
    pub fn usage(&self) -> &[Usage] {
        &self.usage
    }

    /// The last answer's call of a tool, when it made one.
    pub fn last_tool_call(&self) -> Option<&ToolCall> {
        match self.turns.last() {
            Some(Turn::Assistant { tool_calls, .. }) => tool_calls.first(),
            _ => None,
        }
    }

    /// Tells the model what was wrong with its last answer (see [`prompt::edit_failed`] and
    /// [`prompt::validation_failed`]); the next [`Model::ask`] sends it. Feedback given twice
    /// before asking is sent as one message.
    pub fn follow_up(&mut self, feedback: &str) {
        match self.turns.last_mut() {
            Some(Turn::Assistant { tool_calls, .. }) => {
                let replies_to = tool_calls.iter().map(|c| c.id.clone()).collect();
                self.turns.push(Turn::User {
                    text: feedback.to_string(),
                    replies_to,
                });
            }
            Some(Turn::User { text, .. }) => {
                text.push_str("\n\n");
                text.push_str(feedback);
            }
            None => self.turns.push(Turn::User {
                text: feedback.to_string(),
                replies_to: Vec::new(),
            }),
        }
    }

    /// Records the model's answer and its cost; providers call it from [`Model::ask`].
    pub fn push_answer(&mut self, text: String, tool_calls: Vec<ToolCall>, usage: Usage) {
        self.turns.push(Turn::Assistant { text, tool_calls });
        self.usage.push(usage);
    }

    /// Whether the model has something to answer.
    pub fn awaits_answer(&self) -> bool {
        matches!(self.turns.last(), Some(Turn::User { .. }))
    }
}

/// A model heal can ask for a fix.
pub trait Model {
    /// The model's id (`claude-sonnet-4-5`), for records and messages.
    fn name(&self) -> &str;

    /// Sends the conversation, retrying what is worth retrying; on an answer, appends it to
    /// the conversation (usable or not) and returns it with its cost.
    fn ask(
        &self,
        conv: &mut Conversation,
    ) -> impl Future<Output = Result<Reply, AnalyseError>> + Send;
}

/// The configured provider. An enum rather than `dyn Model`, as `ask` is async.
#[derive(Debug)]
pub enum Provider {
    Anthropic(Anthropic),
    OpenAi(OpenAi),
}

impl Model for Provider {
    fn name(&self) -> &str {
        match self {
            Provider::Anthropic(a) => a.name(),
            Provider::OpenAi(o) => o.name(),
        }
    }

    async fn ask(&self, conv: &mut Conversation) -> Result<Reply, AnalyseError> {
        match self {
            Provider::Anthropic(a) => a.ask(conv).await,
            Provider::OpenAi(o) => o.ask(conv).await,
        }
    }
}

/// Asks `model` for a fix: once, and once more with the reason when the answer was unusable.
/// Returns the fix and the cost of each call; after an error, the cost of the calls that were
/// answered is in [`Conversation::usage`]. The conversation is left ready for follow-ups.
pub async fn analyse<M: Model>(
    model: &M,
    conv: &mut Conversation,
) -> Result<(ReportFix, Vec<Usage>), AnalyseError> {
    let mut usage = Vec::new();
    let mut answers = 0;
    loop {
        let reply = model.ask(conv).await?;
        answers += 1;
        usage.push(reply.usage);
        match reply.answer {
            Answer::Fix(fix) => return Ok((fix, usage)),
            Answer::Unusable { reason } if answers >= MAX_ANSWERS => {
                return Err(AnalyseError::Unusable { answers, reason });
            }
            Answer::Unusable { reason } => {
                tracing::debug!("unusable answer from {}: {reason}", model.name());
                let feedback = prompt::unusable(conv.form(), &reason);
                conv.follow_up(&feedback);
            }
        }
    }
}

/// Reads an answer made of `text` and `tool_calls`: the first call of `report_fix`, else a
/// JSON object in the text (models that ignore tools answer that way). `truncated` says the
/// answer hit the output limit, which explains most broken answers.
pub fn read_answer(text: &str, tool_calls: &[ToolCall], truncated: Option<u32>) -> Answer {
    let result = match tool_calls.iter().find(|c| c.name == parse::TOOL_NAME) {
        Some(call) => parse::parse_report_fix(&call.input).map_err(|e| e.to_string()),
        None => match (tool_calls.first(), parse::extract_json(text)) {
            (_, Ok(value)) => parse::parse_report_fix(&value).map_err(|e| e.to_string()),
            (Some(other), Err(_)) => Err(format!(
                "the answer called `{}`, which does not exist; the tool is {}",
                other.name,
                parse::TOOL_NAME
            )),
            (None, Err(_)) if text.trim().is_empty() => Err(format!(
                "the answer is empty; it must call {}",
                parse::TOOL_NAME
            )),
            (None, Err(_)) => Err(format!(
                "the answer is text only; it must call {}",
                parse::TOOL_NAME
            )),
        },
    };
    match (result, truncated) {
        (Ok(fix), _) => Answer::Fix(fix),
        (Err(reason), Some(max)) => Answer::Unusable {
            reason: format!(
                "the answer was cut off at the output limit ({max} tokens), so be more \
                 concise; {reason}"
            ),
        },
        (Err(reason), None) => Answer::Unusable { reason },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn prompt() -> Prompt {
        Prompt {
            system: "sys".to_string(),
            user: "the error".to_string(),
            form: AnswerForm::Tool,
        }
    }

    fn good_input() -> serde_json::Value {
        json!({
            "fixable": false, "reason": "r", "error_category": "external", "root_cause": "c",
            "affected_file": "a.py", "confidence": "low", "explanation": "e",
            "changes_summary": "s", "edits": []
        })
    }

    fn usage() -> Usage {
        Usage {
            model: "m".to_string(),
            input_tokens: 10,
            output_tokens: 5,
            latency_ms: 1,
            attempts: 1,
        }
    }

    fn call(name: &str, input: serde_json::Value) -> ToolCall {
        ToolCall {
            id: "toolu_1".to_string(),
            name: name.to_string(),
            input,
        }
    }

    #[test]
    fn follow_ups_reply_to_the_last_tool_call() {
        let mut conv = Conversation::new(prompt());
        assert!(conv.awaits_answer());
        conv.push_answer(String::new(), vec![call("report_fix", json!({}))], usage());
        assert!(!conv.awaits_answer());
        assert_eq!(
            conv.last_tool_call().map(|c| c.id.as_str()),
            Some("toolu_1")
        );
        conv.follow_up("edit 1 failed");
        conv.follow_up("and more");
        assert_eq!(
            conv.turns().last(),
            Some(&Turn::User {
                text: "edit 1 failed\n\nand more".to_string(),
                replies_to: vec!["toolu_1".to_string()],
            })
        );
        assert_eq!(conv.usage().len(), 1);
    }

    #[test]
    fn follow_ups_after_text_reply_to_nothing() {
        let mut conv = Conversation::new(prompt());
        conv.push_answer("I think...".to_string(), Vec::new(), usage());
        conv.follow_up("call the tool");
        assert_eq!(
            conv.turns().last(),
            Some(&Turn::User {
                text: "call the tool".to_string(),
                replies_to: Vec::new(),
            })
        );
    }

    #[test]
    fn answers_are_read_once() {
        assert!(matches!(
            read_answer("", &[call("report_fix", good_input())], None),
            Answer::Fix(_)
        ));
        let text = format!("Here it is:\n```json\n{}\n```", good_input());
        assert!(matches!(read_answer(&text, &[], None), Answer::Fix(_)));
        let reason = |answer: Answer| match answer {
            Answer::Unusable { reason } => reason,
            Answer::Fix(fix) => panic!("unexpected fix {fix:?}"),
        };
        assert_eq!(
            reason(read_answer("I would change line 3.", &[], None)),
            "the answer is text only; it must call report_fix"
        );
        assert_eq!(
            reason(read_answer("", &[call("fix_it", good_input())], None)),
            "the answer called `fix_it`, which does not exist; the tool is report_fix"
        );
        assert_eq!(
            reason(read_answer("", &[call("report_fix", json!("x"))], None)),
            "the answer must be a JSON object, got a string"
        );
        assert_eq!(
            reason(read_answer(
                "",
                &[call("report_fix", json!({}))],
                Some(4096)
            ))
            .split("; ")
            .next(),
            Some("the answer was cut off at the output limit (4096 tokens), so be more concise")
        );
    }

    /// A model answering from a script, to drive [`analyse`] without HTTP.
    struct Scripted(std::sync::Mutex<Vec<Answer>>);

    impl Model for Scripted {
        fn name(&self) -> &str {
            "scripted"
        }

        async fn ask(&self, conv: &mut Conversation) -> Result<Reply, AnalyseError> {
            let answer = self.0.lock().unwrap().remove(0);
            conv.push_answer(String::new(), vec![call("report_fix", json!({}))], usage());
            Ok(Reply {
                answer,
                usage: usage(),
            })
        }
    }

    #[tokio::test]
    async fn analyse_asks_once_more_then_gives_up() {
        let unusable = || Answer::Unusable {
            reason: "field `x` is missing".to_string(),
        };
        let fix = parse::parse_report_fix(&good_input()).unwrap();
        let model = Scripted(std::sync::Mutex::new(vec![
            unusable(),
            Answer::Fix(fix.clone()),
        ]));
        let mut conv = Conversation::new(prompt());
        let (got, usage) = analyse(&model, &mut conv).await.unwrap();
        assert_eq!(got, fix);
        assert_eq!(usage.len(), 2);
        match &conv.turns()[2] {
            Turn::User { text, replies_to } => {
                assert!(text.contains("field `x` is missing"), "{text}");
                assert_eq!(replies_to, &["toolu_1".to_string()]);
            }
            other => panic!("{other:?}"),
        }

        let model = Scripted(std::sync::Mutex::new(vec![unusable(), unusable()]));
        let mut conv = Conversation::new(prompt());
        let err = analyse(&model, &mut conv).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "the model gave no usable answer in 2 tries; the last: field `x` is missing"
        );
        assert_eq!(conv.usage().len(), 2);
    }
}
