//! Literals read from source text: strings, numbers, and whether two texts are one value.
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

/// The value of a Python number literal (`3`, `1.5`, `1_000`, `0x10`, `1e3`), if `text` is one.
pub(super) fn number(text: &str) -> Option<f64> {
    let t = text.trim().replace('_', "");
    let lower = t.to_ascii_lowercase();
    let radix = [("0x", 16), ("0o", 8), ("0b", 2)]
        .into_iter()
        .find_map(|(prefix, radix)| lower.strip_prefix(prefix).map(|digits| (digits, radix)));
    match radix {
        // Precision beyond 2^53 does not matter for the constants a fix writes.
        Some((digits, radix)) => i64::from_str_radix(digits, radix).ok().map(|n| n as f64),
        None => lower.parse().ok().filter(|n: &f64| n.is_finite()),
    }
}

/// Whether two literals' texts are the same value: `"shipped"` is `'shipped'` (a model that
/// rewrote a call changed its quotes, as the bench's `pkg_missing_arg` saw), `1_000` is
/// `1000`, `0x10` is `16`. Any other texts are compared as written.
pub(super) fn same_value(a: &str, b: &str) -> bool {
    a == b
        || quoted(a).is_some_and(|x| quoted(b).is_some_and(|y| x == y))
        || number(a).is_some_and(|x| number(b).is_some_and(|y| x == y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_in_every_python_spelling_and_nothing_else() {
        assert_eq!(number("3"), Some(3.0));
        assert_eq!(number("1_000"), Some(1000.0));
        assert_eq!(number("0x10"), Some(16.0));
        assert_eq!(number("0b101"), Some(5.0));
        assert_eq!(number("1e3"), Some(1000.0));
        assert_eq!(number("2.50"), Some(2.5));
        assert_eq!(number("'3'"), None);
        assert_eq!(number("inf"), None);
        assert_eq!(number("None"), None);
    }

    #[test]
    fn same_value_sees_through_quotes_and_spellings_not_through_types() {
        assert!(same_value("\"shipped\"", "'shipped'"));
        assert!(same_value("1_000", "1000"));
        assert!(same_value("0x10", "16"));
        assert!(same_value("1.0", "1"));
        assert!(!same_value("'1'", "1"));
        assert!(!same_value("'shipped'", "'ctx'"));
        assert!(!same_value("None", "0"));
    }
}
