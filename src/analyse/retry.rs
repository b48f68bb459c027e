//! What every model provider does the same way when it talks to its API: the HTTP client
//! (no redirects, timeouts), bounded retries with a doubling backoff that honours the server's
//! `retry-after`, the words for a failed transport, and excerpts of the peer's texts scrubbed
//! of secrets.
//!
//! Wire formats and the meaning of each status stay with each provider. Nothing here may put
//! a URL or an API key into an error: reqwest's own messages name the URL, so only the
//! deepest cause of an error is quoted, and every quoted text is scrubbed.

use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::AnalyseError;
use crate::redact::Redactor;

/// Cap on one wait, `retry-after` included: a server asking for an hour is not waited for.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The longest `retry-after` waited for by default (`llm.max_retry_after_s`).
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// How much of an answer to read: a 4,096-token answer is under 32 KiB; a misbehaving peer
/// must not make heal buffer more.
pub(super) const ANSWER_MAX: usize = 4 * 1024 * 1024;
/// How much of an error body to quote.
const ERROR_EXCERPT_MAX: usize = 300;

/// Why one attempt failed.
pub(super) enum Failure {
    /// Worth another attempt: overloaded, rate-limited, timed out, connection lost.
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The provider changed how it asks (a server refused a feature): send again at once,
    /// without counting it as a retry. The provider makes sure this cannot repeat forever.
    Resend,
    /// Would fail again.
    Fatal(AnalyseError),
}

/// How often and how patiently to try.
#[derive(Debug, Clone, Copy)]
pub(super) struct Retries {
    pub provider: &'static str,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The wait before the first retry, doubling after each.
    pub backoff_initial: Duration,
    /// A server asking to wait longer is not waited for: heal would sit on the incident, and
    /// hold its own exit, for as long as the server likes.
    pub max_retry_after: Duration,
}

impl Retries {
    /// Runs `attempt` until it succeeds, fails for good, or the retries run out; returns what
    /// it gave and the number of attempts made, the first included.
    pub async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<(T, u32), AnalyseError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut attempts = 0u32;
        let mut retries = 0u32;
        loop {
            attempts += 1;
            match attempt().await {
                Ok(value) => return Ok((value, attempts)),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Resend) => {}
                Err(Failure::Transient {
                    retry_after: Some(asked),
                    ..
                }) if asked > self.max_retry_after => {
                    return Err(AnalyseError::WaitTooLong {
                        provider: self.provider,
                        asked_s: asked.as_secs(),
                        max_s: self.max_retry_after.as_secs(),
                    });
                }
                Err(Failure::Transient { reason, .. }) if retries >= self.max_retries => {
                    return Err(AnalyseError::Unavailable {
                        provider: self.provider,
                        attempts,
                        last: reason,
                    });
                }
                Err(Failure::Transient {
                    reason,
                    retry_after,
                }) => {
                    retries += 1;
                    let wait = crate::http::backoff(
                        self.backoff_initial,
                        retries,
                        retry_after,
                        MAX_BACKOFF,
                    );
                    tracing::debug!(
                        "{} attempt {attempts} failed ({reason}); retrying in {}ms",
                        self.provider,
                        wait.as_millis()
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// An HTTP client for a model API: `headers` on every request, `request_timeout` on each,
/// and no redirects (the APIs do not redirect; following one would send the key elsewhere).
pub(super) fn client(
    provider: &'static str,
    headers: reqwest::header::HeaderMap,
    request_timeout: Duration,
) -> Result<reqwest::Client, AnalyseError> {
    reqwest::Client::builder()
        .default_headers(headers)
        .timeout(request_timeout)
        .connect_timeout(request_timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("heal/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| AnalyseError::Setup {
            provider,
            detail: format!("cannot set up https: {}", crate::http::deepest_cause(&e)),
        })
}

/// Cleans texts from the peer and from reqwest before they go into an error: secrets the
/// redactor knows, and the API key, which the redactor may not know.
#[derive(Clone, Copy)]
pub(super) struct Scrub<'a> {
    pub redactor: &'a Redactor,
    /// The API key, when one is sent.
    pub key: Option<&'a str>,
}

impl Scrub<'_> {
    pub fn text(&self, text: &str) -> String {
        let text = self.redactor.redact(text);
        match self.key.map(str::trim) {
            // A key shorter than this is not a key anyone could mistake in a text; replacing
            // it would mangle the message.
            Some(key) if key.len() >= 8 && text.contains(key) => {
                text.replace(key, crate::redact::REDACTED)
            }
            _ => text.into_owned(),
        }
    }

    /// An excerpt of a text from the peer, on one line, without secrets.
    pub fn excerpt(&self, text: &str) -> String {
        let line = text.trim().replace(['\n', '\r'], " ");
        let line = if line.chars().count() <= ERROR_EXCERPT_MAX {
            line
        } else {
            let cut: String = line.chars().take(ERROR_EXCERPT_MAX).collect();
            format!("{cut}…")
        };
        self.text(&line)
    }

    /// Reads the body of a successful answer. What cannot be read is fatal, and described
    /// without the secrets the body or serde's message (which quotes values) may hold.
    pub fn answer<T: DeserializeOwned>(
        &self,
        provider: &'static str,
        text: &str,
    ) -> Result<T, Failure> {
        serde_json::from_str(text).map_err(|e| {
            Failure::Fatal(AnalyseError::BadResponse {
                provider,
                detail: format!("{}: {}", self.excerpt(&e.to_string()), self.excerpt(text)),
            })
        })
    }

    /// What a failed send means: a bad request that cannot be sent at all is fatal, anything
    /// else (timeout, refused connection, lost connection) is worth another attempt.
    pub fn transport(
        &self,
        provider: &'static str,
        request_timeout: Duration,
        e: reqwest::Error,
    ) -> Failure {
        let (timeout, builder, connect) = (e.is_timeout(), e.is_builder(), e.is_connect());
        // Our words and the root cause, never reqwest's Display, which names the URL.
        let cause = self.text(&crate::http::deepest_cause(&e.without_url()));
        let reason = if timeout {
            format!("no answer within {}s", request_timeout.as_secs_f64())
        } else if builder {
            return Failure::Fatal(AnalyseError::Setup {
                provider,
                detail: cause,
            });
        } else if connect {
            format!("cannot connect: {cause}")
        } else {
            format!("the request failed: {cause}")
        };
        Failure::Transient {
            reason,
            retry_after: None,
        }
    }
}

/// An answer that was not a success: what the provider's error mapping reads.
pub struct Refusal {
    pub status: u16,
    /// The wait the server asked for (`retry-after`, `retry-after-ms`).
    pub retry_after: Option<Duration>,
    /// The body, invalid UTF-8 replaced: it is only read for its error message.
    pub text: String,
}

/// Sends one request and reads its answer with a bound: the body of a success as text, or the
/// refusal. A success that is not UTF-8 is a bad response: a fix is code, and bytes a proxy
/// re-encoded would be changed by any repair, so the answer is refused whole.
pub async fn post(
    provider: &'static str,
    request: reqwest::RequestBuilder,
    transport: impl Fn(reqwest::Error) -> Failure,
) -> Result<Result<String, Refusal>, Failure> {
    let response = request.send().await.map_err(&transport)?;
    let status = response.status().as_u16();
    let retry_after = crate::http::retry_after(response.headers());
    let bytes = crate::http::read_capped_bytes(response, ANSWER_MAX)
        .await
        .map_err(&transport)?;
    if !(200..300).contains(&status) {
        return Ok(Err(Refusal {
            status,
            retry_after,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }));
    }
    String::from_utf8(bytes).map(Ok).map_err(|e| {
        Failure::Fatal(AnalyseError::BadResponse {
            provider,
            detail: format!(
                "the answer is not valid UTF-8 (at byte {}); nothing in it was used",
                e.utf8_error().valid_up_to()
            ),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_scrubbed_and_short() {
        let redactor = Redactor::default();
        let scrub = Scrub {
            redactor: &redactor,
            key: Some("sk-test-key-0123456789"),
        };
        assert_eq!(
            scrub.excerpt("bad key\nsk-test-key-0123456789"),
            "bad key [REDACTED]"
        );
        let long = "x".repeat(ERROR_EXCERPT_MAX + 10);
        assert_eq!(scrub.excerpt(&long).chars().count(), ERROR_EXCERPT_MAX + 1);
        let err = scrub
            .answer::<Vec<u32>>("p", "\"sk-test-key-0123456789\"")
            .err()
            .map(|f| match f {
                Failure::Fatal(e) => e.to_string(),
                _ => panic!("not fatal"),
            })
            .unwrap();
        assert!(!err.contains("sk-test-key-0123456789"), "{err}");
        let keyless = Scrub {
            redactor: &redactor,
            key: None,
        };
        assert_eq!(keyless.excerpt("fine"), "fine");
    }
}
