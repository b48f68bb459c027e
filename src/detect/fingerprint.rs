//! Says which tracebacks are "the same error": a short stable id over the exception type, where
//! it happened and its message with the varying parts (numbers, ids, quoted values, addresses,
//! paths) replaced by placeholders.
//!
//! The id is stored in the database and compared across runs, machines and heal versions, so
//! the canonical string and the normalisation must never change silently: a change needs a new
//! version tag in [`fingerprint`] (and a migration of stored ids, or accepting new incidents).
//! Pure functions, no I/O.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use sha2::{Digest, Sha256};

/// A message longer than this (after normalisation) is cut: its start names the error.
const MAX_NORMALISED_BYTES: usize = 2000;

/// The message with its varying values replaced, so `bad value 1` and `bad value 2` compare
/// equal. Words (including the exception's own, and identifiers with digits like `utf8`) are
/// kept; whitespace runs become one space.
pub fn normalise_message(msg: &str) -> String {
    static UUID: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
        )
        .expect("uuid regex")
    });
    // A quote opens a value only after a non-word character, so "can't" stays a word.
    static SINGLE_QUOTED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(^|[^\w'])'[^'\n]*'").expect("quoted regex"));
    static DOUBLE_QUOTED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"(^|[^\w"])"[^"\n]*""#).expect("quoted regex"));
    static HEX: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b0[xX][0-9a-fA-F]+\b").expect("hex regex"));
    // Hashes and ids: long runs of hex digits with at least one digit (checked below).
    static LONG_HEX: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b[0-9a-fA-F]{12,}\b").expect("long hex regex"));
    // Unquoted absolute paths: they differ between machines and Python versions.
    static PATH: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(^|[\s(\[{=,])(?:/[^\s/'"()\[\]{},:;]+)+/?"#).expect("path regex")
    });
    static NUMBER: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b\d+(?:\.\d+)*(?:[eE][-+]?\d+)?").expect("number regex"));
    static SPACES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+").expect("spaces regex"));

    let s = UUID.replace_all(msg, "<uuid>");
    let s = replace_cow(s, &SINGLE_QUOTED, "${1}'<str>'");
    let s = replace_cow(s, &DOUBLE_QUOTED, "${1}\"<str>\"");
    let s = replace_cow(s, &HEX, "<hex>");
    let s = match LONG_HEX.replace_all(&s, |c: &Captures<'_>| {
        if c[0].bytes().any(|b| b.is_ascii_digit()) {
            "<hex>".to_string()
        } else {
            c[0].to_string()
        }
    }) {
        Cow::Borrowed(_) => s,
        Cow::Owned(o) => Cow::Owned(o),
    };
    let s = replace_cow(s, &PATH, "${1}<path>");
    let s = replace_cow(s, &NUMBER, "<n>");
    let s = SPACES.replace_all(&s, " ");
    let s = s.trim();
    super::python::cut(s, MAX_NORMALISED_BYTES).to_string()
}

fn replace_cow<'a>(s: Cow<'a, str>, re: &Regex, with: &str) -> Cow<'a, str> {
    match re.replace_all(&s, with) {
        Cow::Borrowed(_) => s,
        Cow::Owned(o) => Cow::Owned(o),
    }
}

/// A stable 16-hex-digit id for an error: SHA-256 over a versioned canonical string of the
/// type, the project file and function where it happened (not the line: it moves as code is
/// edited) and the normalised message.
pub fn fingerprint(
    exc_type: &str,
    file: Option<&str>,
    function: Option<&str>,
    message: &str,
) -> String {
    // Python 3.8 prints `__main__.ConfigError` where later versions print `ConfigError`.
    let exc_type = exc_type.trim();
    let exc_type = exc_type.strip_prefix("__main__.").unwrap_or(exc_type);
    let canonical = format!(
        "heal-fingerprint-v1\n{}\n{}\n{}\n{}",
        exc_type,
        file.unwrap_or("").replace('\\', "/"),
        function.unwrap_or(""),
        normalise_message(message)
    );
    let digest = Sha256::digest(canonical.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The fingerprint of a failing test's error: as [`fingerprint`], and the test's id, so two
/// tests failing the same way are two incidents.
pub fn fingerprint_of_test(
    exc_type: &str,
    file: Option<&str>,
    function: Option<&str>,
    message: &str,
    test_id: &str,
) -> String {
    let base = fingerprint(exc_type, file, function, message);
    let digest = Sha256::digest(format!("heal-test-v1\n{base}\n{test_id}").as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        let cases = [
            ("bad value 1", "bad value <n>"),
            (
                "invalid literal for int() with base 10: '80x'",
                "invalid literal for int() with base <n>: '<str>'",
            ),
            ("can't open \"a.txt\"", "can't open \"<str>\""),
            ("<Foo object at 0x7f3a2b>", "<Foo object at <hex>>"),
            (
                "user 123e4567-e89b-12d3-a456-426614174000 missing",
                "user <uuid> missing",
            ),
            (
                "cannot import name 'x' from 'c' (/usr/lib/python3.11/c/__init__.py)",
                "cannot import name '<str>' from '<str>' (<path>)",
            ),
            ("sha deadbeef00112233 wrong", "sha <hex> wrong"),
            ("utf8 codec  can't\n decode", "utf8 codec can't decode"),
            ("Worker-3 took 2.5s", "Worker-<n> took <n>s"),
        ];
        for (input, want) in cases {
            assert_eq!(normalise_message(input), want, "{input:?}");
        }
    }

    #[test]
    fn fingerprint_is_stable() {
        // Stored in databases: this exact value must not change.
        assert_eq!(
            fingerprint("ValueError", Some("app/x.py"), Some("f"), "bad value 1"),
            fingerprint("ValueError", Some("app/x.py"), Some("f"), "bad value 2"),
        );
        let fp = fingerprint("ValueError", Some("app/x.py"), Some("f"), "bad value 1");
        assert_eq!(fp.len(), 16);
        assert!(fp.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(fp, "cb66b314d9fcbad0");
    }
}
