//! Notification: tells the team on Slack, without ever holding up supervision.
//!
//! Messages are rendered on the caller's side ([`render`], pure), queued, and sent in order by
//! one background task with bounded retries; every attempt's outcome comes back as a
//! [`Delivery`] so the pipeline can keep it in the incident's record. The public methods only
//! enqueue: they never block and never await, and a full queue drops the message (reported as
//! a failed delivery) rather than grow without bound.
//!
//! Nothing here may log, return or record the webhook URL or a token: errors are built from
//! our own words and the deepest cause of a failure, then scrubbed of both secrets.

pub mod render;
pub mod slack;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use tokio::sync::{mpsc, watch};

use crate::config::{RetryPolicy, SlackTarget};
use crate::record::model::{NotificationAttempt, Record, SlackThread};
use render::Message;
use slack::{ApiResponse, ChatUpdate, PostMessage, WebhookMessage};

/// Messages waiting to be sent, beyond which new ones are dropped. A thousand messages is
/// hours of Slack's rate limit; past that, queueing more only delays the ones that matter.
pub const QUEUE_CAPACITY: usize = 1000;

/// The error of a message dropped because the queue was full.
pub const QUEUE_FULL: &str = "dropped: notification queue full";

/// How much of Slack's answer to read, and how much of it to quote in an error.
const ANSWER_MAX: usize = 64 * 1024;
const ERROR_BODY_MAX: usize = 200;

/// `ok: false` errors of the Web API that say "try again later" rather than "this cannot work".
/// Slack documents them as transient; the others (`channel_not_found`, `invalid_auth`, ...)
/// would fail again.
const TRANSIENT_API_ERRORS: &[&str] = &[
    "ratelimited",
    "service_unavailable",
    "internal_error",
    "request_timeout",
];

/// The outcome of one attempt to send one message, for the record of `incident_id`.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `None` for messages not tied to an incident (start limit reached).
    pub incident_id: Option<String>,
    pub attempt: NotificationAttempt,
    /// Set when a Web API alert opened a thread: where later messages go.
    pub thread: Option<crate::record::model::SlackThread>,
}

/// Why one attempt to send a message failed. The messages never contain the webhook URL or
/// the token, which is why causes are kept as text rather than chained with `#[source]`:
/// `reqwest::Error`'s Display names the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("no answer from slack within {}ms", .0.as_millis())]
    Timeout(Duration),
    #[error("cannot connect to slack: {0}")]
    Connect(String),
    #[error("request to slack failed: {0}")]
    Transport(String),
    #[error("slack answered http {status}{}", quote(body))]
    Http {
        status: u16,
        /// The start of Slack's answer (`invalid_payload`, `no_service`, ...).
        body: String,
        /// What Slack's `Retry-After` header asked for.
        retry_after: Option<Duration>,
    },
    #[error("slack answered `{error}`")]
    Api {
        /// The Web API's `error` (`channel_not_found`, `ratelimited`, ...).
        error: String,
        retry_after: Option<Duration>,
    },
    #[error("slack's answer cannot be read: {0}")]
    BadAnswer(String),
    #[error("cannot build the request: {0}")]
    Invalid(String),
}

fn quote(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

impl SendError {
    /// Whether trying again later may succeed: network trouble, rate limits and server errors.
    /// A 4xx or a refusal such as `channel_not_found` would fail the same way again.
    pub fn is_transient(&self) -> bool {
        match self {
            SendError::Timeout(_) | SendError::Connect(_) | SendError::Transport(_) => true,
            SendError::Http { status, .. } => *status == 429 || (500..600).contains(status),
            SendError::Api { error, .. } => TRANSIENT_API_ERRORS.contains(&error.as_str()),
            SendError::BadAnswer(_) | SendError::Invalid(_) => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            SendError::Http { retry_after, .. } | SendError::Api { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }
}

/// The alert as plain text, for the terminal.
pub fn render_alert_terminal(record: &Record) -> String {
    render::alert_terminal(record)
}

/// Which message of an incident's life a job is; also its `message` in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Alert,
    Stage,
    Update,
    Notice,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Alert => "alert",
            Kind::Stage => "stage",
            Kind::Update => "update",
            Kind::Notice => "notice",
        }
    }
}

/// One queued message.
struct Job {
    kind: Kind,
    incident_id: Option<String>,
    /// The incident's thread as its record knows it (perhaps from an earlier run of heal),
    /// used when this run has not opened one.
    known_thread: Option<SlackThread>,
    message: Message,
}

/// A handle on the background sender. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::Sender<Job>,
    /// Messages queued or in flight; `drain` waits for zero.
    pending: Arc<watch::Sender<usize>>,
    deliveries: mpsc::UnboundedSender<Delivery>,
    channel: &'static str,
    webhook: bool,
    /// Print instead of sending ([`SlackTarget::Terminal`]).
    terminal: bool,
    /// Every message goes through it: a stage's text may quote a model's answer, and a
    /// record read back from disk may predate a secret.
    redactor: crate::redact::Redactor,
}

impl Notifier {
    /// [`Notifier::start`] with heal's configuration: its Slack target, retry policy and
    /// redactor. `None` when Slack is not configured.
    pub fn for_config(
        config: &crate::config::Config,
        deliveries: mpsc::UnboundedSender<Delivery>,
    ) -> Option<Notifier> {
        config.slack.clone().map(|target| {
            Notifier::start(
                target,
                config.slack_retry.clone(),
                deliveries,
                config.redactor.clone(),
            )
        })
    }

    /// Starts the background sender on the current tokio runtime. Outcomes of every attempt go
    /// to `deliveries`. Outside a runtime nothing can be sent: every message is then reported
    /// as dropped.
    pub fn start(
        target: SlackTarget,
        retry: RetryPolicy,
        deliveries: mpsc::UnboundedSender<Delivery>,
        redactor: crate::redact::Redactor,
    ) -> Notifier {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let pending = Arc::new(watch::Sender::new(0));
        let notifier = Notifier {
            tx,
            pending: pending.clone(),
            deliveries: deliveries.clone(),
            channel: target.attempt_channel(),
            webhook: matches!(target, SlackTarget::Webhook { .. }),
            terminal: matches!(target, SlackTarget::Terminal),
            redactor,
        };
        if notifier.terminal {
            return notifier;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let sender = Sender::new(target, retry, deliveries);
                runtime.spawn(run(rx, sender, pending));
            }
            Err(_) => tracing::error!("slack notifications are off: no async runtime to send them"),
        }
        notifier
    }

    /// The first message about a new incident ("🚨 ERROR DETECTED - err_..."). In Web API mode
    /// it opens the incident's thread.
    pub fn alert(&self, record: &Record) {
        let record = &self.redacted(record);
        if self.terminal {
            return print_box("Slack: alert", &render::alert_terminal(record));
        }
        self.enqueue(Job {
            kind: Kind::Alert,
            incident_id: Some(record.id.clone()),
            known_thread: record.slack.clone(),
            message: render::alert(record),
        });
    }

    /// A later stage of the incident (a line of text): a reply in its thread (Web API), or a
    /// plain message (webhook).
    pub fn stage(&self, record: &Record, text: &str) {
        let record = &self.redacted(record);
        let text = &self.redactor.redact(text);
        if self.terminal {
            return print_box("Slack", text);
        }
        self.enqueue(Job {
            kind: Kind::Stage,
            incident_id: Some(record.id.clone()),
            known_thread: record.slack.clone(),
            message: render::stage(record, text),
        });
    }

    /// The incident's status changed: in Web API mode, `chat.update` its first message. A no-op
    /// for webhooks.
    pub fn update(&self, record: &Record) {
        if self.webhook || self.terminal {
            // A webhook cannot edit what it posted, and a new message per change would be noise.
            return;
        }
        let record = &self.redacted(record);
        self.enqueue(Job {
            kind: Kind::Update,
            incident_id: Some(record.id.clone()),
            known_thread: record.slack.clone(),
            message: render::update(record),
        });
    }

    /// A message about heal itself, not tied to an incident (start limit reached, heal stopping).
    pub fn notice(&self, text: &str) {
        let text = &self.redactor.redact(text);
        if self.terminal {
            return print_box("Slack: notice", text);
        }
        self.enqueue(Job {
            kind: Kind::Notice,
            incident_id: None,
            known_thread: None,
            message: render::notice(text),
        });
    }

    fn redacted(&self, record: &Record) -> Record {
        let mut record = record.clone();
        record.redact(&self.redactor);
        record
    }

    /// Waits until every queued message has been sent or given up, or until `deadline` passes.
    pub async fn drain(&self, deadline: Duration) {
        let mut pending = self.pending.subscribe();
        let drained = tokio::time::timeout(deadline, pending.wait_for(|n| *n == 0))
            .await
            .is_ok();
        if !drained {
            let left = *self.pending.borrow();
            tracing::warn!("{left} slack message(s) not sent before heal stopped waiting");
        }
    }

    /// Queues a job without waiting; a job that cannot be queued is reported as dropped.
    fn enqueue(&self, job: Job) {
        if self.terminal {
            return;
        }
        // Counted before it is queued, so that `drain` never sees zero while it waits.
        self.pending.send_modify(|n| *n += 1);
        let (job, why) = match self.tx.try_send(job) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(job)) => (job, QUEUE_FULL),
            Err(mpsc::error::TrySendError::Closed(job)) => (job, "dropped: notifier stopped"),
        };
        self.pending.send_modify(|n| *n = n.saturating_sub(1));
        // Attempt 0: the message never left.
        let _ = self.deliveries.send(Delivery {
            incident_id: job.incident_id,
            attempt: NotificationAttempt {
                channel: self.channel.to_string(),
                message: job.kind.as_str().to_string(),
                attempt: 0,
                at: now(),
                ok: false,
                http_status: None,
                error: Some(why.to_string()),
            },
            thread: None,
        });
    }
}

/// The background task: sends jobs one at a time, in the order they were queued, so that an
/// alert always opens its thread before the stages that reply in it.
async fn run(mut rx: mpsc::Receiver<Job>, sender: Sender, pending: Arc<watch::Sender<usize>>) {
    // Threads opened in this run, by incident id.
    let mut threads: HashMap<String, SlackThread> = HashMap::new();
    while let Some(job) = rx.recv().await {
        sender.process(job, &mut threads).await;
        pending.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// What a successful post tells us.
struct Posted {
    /// Where the posted message is (Web API only).
    thread: Option<SlackThread>,
}

/// One HTTP call, ready to be tried as many times as needed.
struct Call<'a> {
    url: String,
    token: Option<&'a str>,
    body: Vec<u8>,
    /// The Web API answers `{"ok": ...}` with HTTP 200; a webhook answers `ok` as text.
    web_api: bool,
}

struct Sender {
    /// Built once; building fails only when TLS cannot be set up, and then every message is
    /// reported as failed rather than heal stopping.
    client: Result<reqwest::Client, String>,
    target: SlackTarget,
    retry: RetryPolicy,
    deliveries: mpsc::UnboundedSender<Delivery>,
    secrets: Secrets,
}

impl Sender {
    fn new(
        target: SlackTarget,
        retry: RetryPolicy,
        deliveries: mpsc::UnboundedSender<Delivery>,
    ) -> Sender {
        let client = reqwest::Client::builder()
            .timeout(retry.request_timeout)
            .connect_timeout(retry.request_timeout)
            // Slack does not redirect these calls; following one would send the message (and
            // the token) somewhere we were not told to.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("heal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up https: {}", crate::http::deepest_cause(&e)));
        Sender {
            client,
            secrets: Secrets::of(&target),
            target,
            retry,
            deliveries,
        }
    }

    async fn process(&self, job: Job, threads: &mut HashMap<String, SlackThread>) {
        let Job {
            kind,
            incident_id,
            known_thread,
            message,
        } = job;
        let thread = incident_id
            .as_ref()
            .and_then(|id| threads.get(id).cloned())
            .or(known_thread);
        let call = match &self.target {
            // Printed by the notifier itself; never queued.
            SlackTarget::Terminal => return,
            SlackTarget::Webhook { url } => Call {
                url: url.clone(),
                token: None,
                body: encode(&WebhookMessage {
                    text: &message.text,
                    blocks: &message.blocks,
                }),
                web_api: false,
            },
            SlackTarget::WebApi {
                token,
                channel,
                api_url,
            } => {
                let base = api_url.trim_end_matches('/');
                let post = |channel: &str, thread_ts: Option<&str>| Call {
                    url: format!("{base}/chat.postMessage"),
                    token: Some(token.as_str()),
                    body: encode(&PostMessage {
                        channel,
                        text: &message.text,
                        blocks: &message.blocks,
                        thread_ts,
                    }),
                    web_api: true,
                };
                match (kind, &thread) {
                    (Kind::Alert | Kind::Notice, _) => post(channel, None),
                    (Kind::Stage, Some(t)) => post(&t.channel, Some(&t.ts)),
                    // The alert failed: the stage still deserves to be seen, unthreaded.
                    (Kind::Stage, None) => post(channel, None),
                    (Kind::Update, Some(t)) => Call {
                        url: format!("{base}/chat.update"),
                        token: Some(token.as_str()),
                        body: encode(&ChatUpdate {
                            channel: &t.channel,
                            ts: &t.ts,
                            text: &message.text,
                            blocks: &message.blocks,
                        }),
                        web_api: true,
                    },
                    (Kind::Update, None) => {
                        // No first message to rewrite: posting the status as a new message
                        // would be a second alert.
                        tracing::debug!("slack update skipped: the incident has no thread");
                        return;
                    }
                }
            }
        };
        let posted = self.deliver(kind, incident_id.as_deref(), &call).await;
        if kind == Kind::Alert
            && let (Some(id), Some(Posted { thread: Some(t) })) = (incident_id, posted)
        {
            threads.insert(id, t);
        }
    }

    /// Tries `call` until it succeeds, fails for good, or runs out of attempts, reporting
    /// every attempt.
    async fn deliver(
        &self,
        kind: Kind,
        incident_id: Option<&str>,
        call: &Call<'_>,
    ) -> Option<Posted> {
        let max = self.retry.max_attempts.max(1);
        for attempt in 1..=max {
            let (http_status, result) = self.attempt(call).await;
            let (error, thread) = match &result {
                Ok(posted) if kind == Kind::Alert => (None, posted.thread.clone()),
                Ok(_) => (None, None),
                Err(e) => (Some(self.secrets.scrub(&e.to_string())), None),
            };
            self.report(kind, incident_id, attempt, http_status, error, thread);
            match result {
                Ok(posted) => return Some(posted),
                Err(e) if !e.is_transient() || attempt == max => return None,
                Err(e) => {
                    let wait = crate::http::backoff(
                        self.retry.initial_backoff,
                        attempt,
                        e.retry_after(),
                        self.retry.max_backoff,
                    );
                    tokio::time::sleep(wait).await
                }
            }
        }
        None
    }

    /// One HTTP request and the reading of its answer; the HTTP status when there was one.
    async fn attempt(&self, call: &Call<'_>) -> (Option<u16>, Result<Posted, SendError>) {
        let client = match &self.client {
            Ok(client) => client,
            Err(e) => return (None, Err(SendError::Invalid(e.clone()))),
        };
        let mut request = client
            .post(&call.url)
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(call.body.clone());
        if let Some(token) = call.token {
            request = request.bearer_auth(token);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return (None, Err(self.transport_error(e))),
        };
        let status = response.status();
        let code = Some(status.as_u16());
        let retry_after = crate::http::retry_after(response.headers());
        let body = match crate::http::read_capped(response, ANSWER_MAX).await {
            Ok(body) => body,
            Err(e) => return (code, Err(self.transport_error(e))),
        };
        if !status.is_success() {
            return (
                code,
                Err(SendError::Http {
                    status: status.as_u16(),
                    body: self.secrets.scrub(&excerpt(&body)),
                    retry_after,
                }),
            );
        }
        if !call.web_api {
            // Slack answers `ok`; any 2xx means the message was taken.
            return (code, Ok(Posted { thread: None }));
        }
        let result = match serde_json::from_str::<ApiResponse>(&body) {
            Ok(answer) if answer.ok => Ok(Posted {
                thread: match (answer.channel, answer.ts) {
                    (Some(channel), Some(ts)) => Some(SlackThread { channel, ts }),
                    _ => None,
                },
            }),
            Ok(answer) => Err(SendError::Api {
                error: self
                    .secrets
                    .scrub(&excerpt(answer.error.as_deref().unwrap_or("unknown_error"))),
                retry_after,
            }),
            Err(e) => Err(SendError::BadAnswer(format!(
                "{e}: {}",
                self.secrets.scrub(&excerpt(&body))
            ))),
        };
        (code, result)
    }

    fn transport_error(&self, e: reqwest::Error) -> SendError {
        if e.is_timeout() {
            return SendError::Timeout(self.retry.request_timeout);
        }
        let (connect, builder) = (e.is_connect(), e.is_builder());
        // Our own words and the root cause (`Connection refused (os error 111)`), never
        // reqwest's Display, which names the URL.
        let reason = self
            .secrets
            .scrub(&crate::http::deepest_cause(&e.without_url()));
        if connect {
            SendError::Connect(reason)
        } else if builder {
            SendError::Invalid(reason)
        } else {
            SendError::Transport(reason)
        }
    }

    fn report(
        &self,
        kind: Kind,
        incident_id: Option<&str>,
        attempt: u32,
        http_status: Option<u16>,
        error: Option<String>,
        thread: Option<SlackThread>,
    ) {
        if let Some(e) = &error {
            tracing::debug!("slack {} attempt {attempt} failed: {e}", kind.as_str());
        }
        // The pipeline may have stopped listening at shutdown; the attempt is then lost with it.
        let _ = self.deliveries.send(Delivery {
            incident_id: incident_id.map(str::to_string),
            attempt: NotificationAttempt {
                channel: self.target.attempt_channel().to_string(),
                message: kind.as_str().to_string(),
                attempt,
                at: now(),
                ok: error.is_none(),
                http_status,
                error,
            },
            thread,
        });
    }
}

/// The start of an answer, on one line, for an error message.
fn excerpt(body: &str) -> String {
    let line = body.trim().replace(['\n', '\r'], " ");
    if line.chars().count() <= ERROR_BODY_MAX {
        line
    } else {
        let cut: String = line.chars().take(ERROR_BODY_MAX).collect();
        format!("{cut}…")
    }
}

fn encode<T: serde::Serialize>(body: &T) -> Vec<u8> {
    // Serializing these plain structs of strings cannot fail; an empty body would make Slack
    // answer a 4xx, reported like any refusal.
    serde_json::to_vec(body).unwrap_or_default()
}

fn now() -> String {
    crate::record::rfc3339(time::OffsetDateTime::now_utc())
}

/// A message framed apart from the program's output, on stdout: only `heal demo` prints
/// Slack's messages, and it tells its whole story there.
fn print_box(title: &str, text: &str) {
    use std::io::Write as _;
    let rule = "─".repeat(60);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "┌─ {title} {}",
        "─".repeat(56usize.saturating_sub(title.len()))
    );
    for line in crate::term::escape(text).lines() {
        let _ = writeln!(out, "│ {line}");
    }
    let _ = writeln!(out, "└{rule}");
}

/// The secrets of a target, to be cut out of any text that leaves this module: redacted by
/// the project's one [`Redactor`](crate::redact::Redactor), so with its marker, the quoted
/// and encoded forms of each secret, and the known credential shapes.
struct Secrets(crate::redact::Redactor);

impl Secrets {
    fn of(target: &SlackTarget) -> Secrets {
        let mut secrets = Vec::new();
        match target {
            SlackTarget::Webhook { url } => {
                secrets.push(url.clone());
                if let Ok(parsed) = reqwest::Url::parse(url) {
                    // The normalized form is what a library would print; the path alone is
                    // the secret part of a Slack webhook.
                    secrets.push(parsed.as_str().to_string());
                    if parsed.path().len() >= 8 {
                        secrets.push(parsed.path().to_string());
                    }
                }
            }
            SlackTarget::WebApi { token, .. } => secrets.push(token.clone()),
            SlackTarget::Terminal => {}
        }
        Secrets(crate::redact::Redactor::from_values(secrets))
    }

    fn scrub(&self, text: &str) -> String {
        self.0.redact(text).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
        }
    }

    /// The sender's wait after `attempt`, as it computes it.
    fn backoff(p: &RetryPolicy, attempt: u32, asked: Option<Duration>) -> Duration {
        crate::http::backoff(p.initial_backoff, attempt, asked, p.max_backoff)
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = policy();
        let waits: Vec<u128> = (1..=6).map(|a| backoff(&p, a, None).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff(&p, 200, None), Duration::from_secs(1));
    }

    #[test]
    fn retry_after_is_honoured_within_the_cap() {
        let p = policy();
        assert_eq!(
            backoff(&p, 1, Some(Duration::from_millis(700))),
            Duration::from_millis(700)
        );
        assert_eq!(
            backoff(&p, 1, Some(Duration::from_secs(60))),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn transient_errors() {
        let http = |status| SendError::Http {
            status,
            body: String::new(),
            retry_after: None,
        };
        let api = |error: &str| SendError::Api {
            error: error.into(),
            retry_after: None,
        };
        assert!(http(500).is_transient() && http(503).is_transient() && http(429).is_transient());
        assert!(
            !http(404).is_transient() && !http(400).is_transient() && !http(302).is_transient()
        );
        assert!(api("ratelimited").is_transient());
        assert!(!api("channel_not_found").is_transient() && !api("invalid_auth").is_transient());
        assert!(SendError::Connect("refused".into()).is_transient());
        assert!(!SendError::BadAnswer("x".into()).is_transient());
    }

    #[test]
    fn errors_read_well() {
        let e = SendError::Http {
            status: 404,
            body: "no_service".into(),
            retry_after: None,
        };
        assert_eq!(e.to_string(), "slack answered http 404: no_service");
        let e = SendError::Http {
            status: 500,
            body: String::new(),
            retry_after: None,
        };
        assert_eq!(e.to_string(), "slack answered http 500");
        assert_eq!(
            SendError::Timeout(Duration::from_millis(1500)).to_string(),
            "no answer from slack within 1500ms"
        );
    }

    #[test]
    fn secrets_are_scrubbed() {
        use crate::redact::REDACTED;
        let s = Secrets::of(&SlackTarget::Webhook {
            url: "https://hooks.slack.com/services/T0/B0/verysecret".into(),
        });
        assert_eq!(
            s.scrub("posting to https://hooks.slack.com/services/T0/B0/verysecret failed"),
            format!("posting to {REDACTED} failed")
        );
        assert_eq!(
            s.scrub("GET /services/T0/B0/verysecret"),
            format!("GET {REDACTED}")
        );
        // The path percent-encoded, as a proxy's error would quote it back.
        let encoded = s.scrub("no route for %2Fservices%2FT0%2FB0%2Fverysecret");
        assert!(!encoded.contains("verysecret"), "{encoded}");
        let s = Secrets::of(&SlackTarget::WebApi {
            token: "xoxb-1".into(),
            channel: "C1".into(),
            api_url: "https://slack.com/api".into(),
        });
        assert_eq!(s.scrub("bad token xoxb-1"), format!("bad token {REDACTED}"));
        // A token of a known shape the target does not hold is cut too.
        let other = s.scrub("echo xoxp-987654321098-abcdefghijkl");
        assert!(!other.contains("abcdefghijkl"), "{other}");
    }

    #[test]
    fn debug_hides_secrets() {
        let t = SlackTarget::WebApi {
            token: "xoxb-secret".into(),
            channel: "C1".into(),
            api_url: "https://slack.com/api".into(),
        };
        assert!(!format!("{t:?}").contains("xoxb-secret"));
    }
}
