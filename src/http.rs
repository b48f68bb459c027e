//! What every HTTP peer of heal (Slack, the model providers, later GitHub) needs the same way:
//! answers read with a bound, and error text that names no URL.
//!
//! Wire formats stay with their peers; only these two habits are shared.

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
