//! The notification settings: where Slack messages go and how hard to try before giving up on
//! one. Plain data read from the configuration; `notify` sends by them, and nothing here sends.

use std::time::Duration;

/// Where Slack messages go.
#[derive(Clone)]
pub enum SlackTarget {
    /// An incoming webhook: one POST per message, no threads, no updates.
    Webhook { url: String },
    /// The Web API with a bot token: the alert opens a thread, later stages reply in it,
    /// and the alert is updated in place with the incident's status.
    WebApi {
        token: String,
        channel: String,
        /// Base URL, `https://slack.com/api` unless overridden (SLACK_API_URL).
        api_url: String,
    },
    /// No Slack: each message is printed to heal's stdout as Slack would show it (`heal demo`).
    Terminal,
}

impl std::fmt::Debug for SlackTarget {
    // Hand-written so that the webhook URL and the token never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SlackTarget::Webhook { .. } => f.write_str("Webhook { url: <set> }"),
            SlackTarget::WebApi {
                channel, api_url, ..
            } => write!(
                f,
                "WebApi {{ token: <set>, channel: {channel:?}, api_url: {api_url:?} }}"
            ),
            SlackTarget::Terminal => f.write_str("Terminal"),
        }
    }
}

impl SlackTarget {
    /// The `channel` of a [`NotificationAttempt`](crate::record::model::NotificationAttempt): `slack_webhook` or `slack_api`.
    pub fn attempt_channel(&self) -> &'static str {
        match self {
            SlackTarget::Webhook { .. } => "slack_webhook",
            SlackTarget::WebApi { .. } => "slack_api",
            SlackTarget::Terminal => "terminal",
        }
    }
}

/// How hard to try before giving up on one message.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles each time after.
    pub initial_backoff: Duration,
    /// Cap on one wait.
    pub max_backoff: Duration,
    /// Cap on one HTTP request, connection included.
    pub request_timeout: Duration,
}
