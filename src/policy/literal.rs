//! String literals read from source text.
//!
//! Pure.

/// The text of a string literal at the start of `s` (after spaces).
pub(super) fn quoted(s: &str) -> Option<String> {
    let s = s.trim_start();
    let quote = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let body = &s[1..];
    let end = body.find(quote)?;
    Some(body[..end].to_string())
}
