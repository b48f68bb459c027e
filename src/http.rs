//! What every HTTP peer of heal (Slack, the model providers, later GitHub) needs the same way:
//! answers read with a bound, error text that names no URL, and the wait before a retry.
//!
//! Wire formats stay with their peers; only these habits are shared.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Reads at most `max` bytes of an answer: a misbehaving peer must not make heal buffer an
/// unbounded body.
pub async fn read_capped_bytes(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = max - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= max {
            break;
        }
    }
    Ok(body)
}

/// [`read_capped_bytes`] as text, invalid UTF-8 replaced: for answers only read for their
/// status or shown in a message.
pub async fn read_capped(
    response: reqwest::Response,
    max: usize,
) -> Result<String, reqwest::Error> {
    let body = read_capped_bytes(response, max).await?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The innermost cause of an error ("Connection refused (os error 111)"): unlike reqwest's own
/// message, it never carries the URL, which may hold a secret (a Slack webhook).
pub fn deepest_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The wait after failed attempt number `attempt` (1 for the first): what the peer asked for,
/// else `initial` doubled per attempt; `cap` at most either way.
pub fn backoff(
    initial: Duration,
    attempt: u32,
    asked: Option<Duration>,
    cap: Duration,
) -> Duration {
    let wait = asked.unwrap_or_else(|| {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        initial.checked_mul(factor).unwrap_or(Duration::MAX)
    });
    wait.min(cap)
}

/// The wait a peer asked for: `retry-after-ms` (milliseconds, which Anthropic's and OpenAI's
/// SDKs read first) or `retry-after` (seconds, as Slack sends it); the HTTP-date form is not
/// used by these peers and is ignored.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let read = |name: &str| -> Option<f64> {
        let value = headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()?;
        (value.is_finite() && value >= 0.0).then_some(value)
    };
    // Kept as asked (the model clients fail a request that asks for more than
    // `llm.max_retry_after_s`, so its length must be known), bounded only so that the
    // conversion cannot overflow.
    const FAR: f64 = 1e12;
    if let Some(ms) = read("retry-after-ms") {
        return Some(Duration::from_secs_f64((ms / 1000.0).min(FAR)));
    }
    let secs = read(RETRY_AFTER.as_str())?;
    Some(Duration::from_secs_f64(secs.min(FAR)))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_honours_the_peer() {
        let s = Duration::from_secs;
        let cap = s(60);
        assert_eq!(backoff(s(2), 1, None, cap), s(2));
        assert_eq!(backoff(s(2), 3, None, cap), s(8));
        assert_eq!(backoff(s(2), 40, None, cap), cap);
        assert_eq!(backoff(s(2), 200, None, cap), cap);
        assert_eq!(backoff(s(2), 1, Some(s(7)), cap), s(7));
        assert_eq!(backoff(s(2), 1, Some(s(3600)), cap), cap);
    }

    #[test]
    fn retry_after_reads_milliseconds_first_then_seconds() {
        let s = Duration::from_secs;
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(s(3)));
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        headers.insert("retry-after-ms", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), Some(s(3)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("-1"));
        headers.remove("retry-after-ms");
        assert_eq!(retry_after(&headers), None);
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
