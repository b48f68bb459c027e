//! Slack's wire formats: Block Kit blocks, the bodies heal posts (incoming webhook,
//! `chat.postMessage`, `chat.update`) and the Web API's answer.
//!
//! These are Slack's shapes, kept apart from heal's own record types; nothing here knows about
//! incidents. Never put a webhook URL or a token in these types: the token travels in a header
//! and the URL is the request's target, both added by the sender.

use serde::{Deserialize, Serialize};

/// Slack rejects a section whose text is longer than this (in characters).
pub const SECTION_TEXT_MAX: usize = 3000;
/// Slack rejects a header whose text is longer than this.
pub const HEADER_TEXT_MAX: usize = 150;
/// Slack rejects a message with more blocks than this.
pub const MAX_BLOCKS: usize = 50;
/// Slack rejects a context block with more elements than this.
pub const CONTEXT_ELEMENTS_MAX: usize = 10;

/// One Block Kit layout block, serialized with its `type` field.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// Large bold text; only `plain_text` is allowed.
    Header { text: Text },
    /// A paragraph of text.
    Section { text: Text },
    /// Small grey text, for metadata.
    Context { elements: Vec<Text> },
    /// A horizontal rule.
    Divider,
}

/// A Block Kit text object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Text {
    #[serde(rename = "plain_text")]
    Plain { text: String, emoji: bool },
    /// Slack's markdown dialect: `&`, `<` and `>` in it must be escaped by the caller.
    #[serde(rename = "mrkdwn")]
    Mrkdwn { text: String },
}

impl Text {
    pub fn plain(text: impl Into<String>) -> Text {
        Text::Plain {
            text: text.into(),
            emoji: true,
        }
    }

    pub fn mrkdwn(text: impl Into<String>) -> Text {
        Text::Mrkdwn { text: text.into() }
    }
}

/// The body of an incoming-webhook POST.
#[derive(Debug, Serialize)]
pub struct WebhookMessage<'a> {
    /// Shown in notifications and by clients that cannot render blocks.
    pub text: &'a str,
    pub blocks: &'a [Block],
}

/// The body of `chat.postMessage`.
#[derive(Debug, Serialize)]
pub struct PostMessage<'a> {
    pub channel: &'a str,
    pub text: &'a str,
    pub blocks: &'a [Block],
    /// The `ts` of the thread's first message, to reply in that thread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<&'a str>,
}

/// The body of `chat.update`: replaces the text and blocks of the message at `channel`/`ts`.
#[derive(Debug, Serialize)]
pub struct ChatUpdate<'a> {
    pub channel: &'a str,
    pub ts: &'a str,
    pub text: &'a str,
    pub blocks: &'a [Block],
}

/// What the Web API answers, with HTTP 200 even when the call failed (`ok: false`).
#[derive(Debug, Deserialize)]
pub struct ApiResponse {
    pub ok: bool,
    /// Why the call failed, when `ok` is false (`channel_not_found`, `ratelimited`, ...).
    #[serde(default)]
    pub error: Option<String>,
    /// The channel's id (the request may have named it), for `chat.postMessage`.
    #[serde(default)]
    pub channel: Option<String>,
    /// The message's timestamp, its id within the channel.
    #[serde(default)]
    pub ts: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_carry_their_type() {
        let blocks = vec![
            Block::Header {
                text: Text::plain("🚨 hi"),
            },
            Block::Section {
                text: Text::mrkdwn("*b*"),
            },
            Block::Context {
                elements: vec![Text::mrkdwn("c")],
            },
            Block::Divider,
        ];
        let json = serde_json::to_value(&blocks).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"type": "header", "text": {"type": "plain_text", "text": "🚨 hi", "emoji": true}},
                {"type": "section", "text": {"type": "mrkdwn", "text": "*b*"}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}]},
                {"type": "divider"},
            ])
        );
    }

    #[test]
    fn post_message_omits_an_absent_thread() {
        let body = PostMessage {
            channel: "C1",
            text: "t",
            blocks: &[],
            thread_ts: None,
        };
        let json = serde_json::to_value(&body).unwrap();
        assert!(json.get("thread_ts").is_none(), "{json}");
    }

    #[test]
    fn api_errors_parse_without_channel_or_ts() {
        let r: ApiResponse =
            serde_json::from_str(r#"{"ok":false,"error":"channel_not_found"}"#).unwrap();
        assert!(!r.ok);
        assert_eq!(r.error.as_deref(), Some("channel_not_found"));
        assert!(r.ts.is_none());
    }
}
