//! The project key a Sentry SDK sends, and its check.
//!
//! An SDK given the DSN `http://KEY@HOST:PORT/PROJECT` sends `KEY` with every request, in
//! `X-Sentry-Auth: Sentry sentry_key=KEY, sentry_version=7, sentry_client=sentry.python/2.75.0`
//! (some send the same value in `Authorization:`), or as `?sentry_key=KEY` in the query string
//! (browsers' SDKs, which cannot set headers on every transport).
//!
//! The key is public in Sentry's model (it ships inside programs), but heal's ingest answers
//! only its own project: the key keeps strangers' and stray SDKs' events out of heal's
//! records. It is compared in constant time all the same, so its value cannot be guessed byte
//! by byte from response times.

use sha2::{Digest, Sha256};

use super::IngestError;

/// The `sentry_key` of a request: from the auth header (`X-Sentry-Auth`, or `Authorization`
/// in the same form, passed here as `header`) when it names one, else from the query string
/// (with or without its `?`). `None` when neither does or the key is empty.
pub fn sentry_key(header: Option<&str>, query: Option<&str>) -> Option<String> {
    header
        .and_then(key_in_header)
        .or_else(|| query.and_then(key_in_query))
        .filter(|key| !key.is_empty())
}

/// `Sentry sentry_key=abc, sentry_version=7, ...`: comma-separated `name=value` pairs after an
/// optional `Sentry` scheme; a value may be quoted.
fn key_in_header(header: &str) -> Option<String> {
    let header = header.trim();
    let pairs = match header.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("sentry") => rest,
        _ => header,
    };
    pairs.split(',').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        (name.trim() == "sentry_key").then(|| value.to_string())
    })
}

/// `sentry_key=abc&sentry_version=7`, percent-encoded.
fn key_in_query(query: &str) -> Option<String> {
    let query = query.strip_prefix('?').unwrap_or(query);
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (percent_decode(name) == "sentry_key").then(|| percent_decode(value))
    })
}

/// `%XX` escapes and `+` (a space in a form-encoded query) decoded; a malformed escape is kept
/// as it is, and bytes that are not UTF-8 become U+FFFD.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = match bytes[i] {
            b'+' => b' ',
            b'%' => match bytes.get(i + 1..i + 3).and_then(hex_byte) {
                Some(decoded) => {
                    i += 2;
                    decoded
                }
                None => b'%',
            },
            other => other,
        };
        out.push(byte);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Two hex digits as a byte (`from_str_radix` alone would take a sign: `%+1`).
fn hex_byte(pair: &[u8]) -> Option<u8> {
    if !pair.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()
}

/// Whether the request's key (`given`, from [`sentry_key`]) is the project's (`expected`).
///
/// Missing is 401, different is 403. The two are compared through their SHA-256 digests, byte
/// for byte without stopping early: the time taken says nothing about how much of `given`
/// matched, nor about the expected key's length. An empty `expected` matches nothing.
pub fn check(given: Option<&str>, expected: &str) -> Result<(), IngestError> {
    let given = given.ok_or(IngestError::MissingKey)?;
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold into an early-exit comparison.
    if std::hint::black_box(diff) == 0 && !expected.is_empty() {
        Ok(())
    } else {
        Err(IngestError::WrongKey)
    }
}

/// The DSN to give `sentry_sdk.init(dsn=...)`: `http://{key}@{host_port}/{project_id}`.
/// `host_port` is as a URL writes it (`127.0.0.1:9000`, `[::1]:9000`); the SDKs read the
/// project id as a number.
pub fn dsn(key: &str, host_port: &str, project_id: u64) -> String {
    format!("http://{key}@{host_port}/{project_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDK_HEADER: &str =
        "Sentry sentry_key=abc123, sentry_version=7, sentry_client=sentry.python/2.75.0";

    #[test]
    fn the_key_from_the_sdks_header() {
        assert_eq!(
            sentry_key(Some(SDK_HEADER), None).as_deref(),
            Some("abc123")
        );
        // The same form under Authorization, other orders, spacing, case and quoting.
        for header in [
            "Sentry sentry_version=7,sentry_key=abc123",
            "sentry  sentry_client=x/1, sentry_key = abc123 ",
            "sentry_key=abc123",
            "Sentry sentry_key=\"abc123\", sentry_version=7",
        ] {
            assert_eq!(
                sentry_key(Some(header), None).as_deref(),
                Some("abc123"),
                "{header}"
            );
        }
    }

    #[test]
    fn the_key_from_the_query_string() {
        for query in [
            "sentry_key=abc123&sentry_version=7",
            "?sentry_version=7&sentry_key=abc123",
            "sentry%5Fkey=abc%31%323",
        ] {
            assert_eq!(
                sentry_key(None, Some(query)).as_deref(),
                Some("abc123"),
                "{query}"
            );
        }
        let odd = sentry_key(None, Some("sentry_key=a%zzb+c%+1%4"));
        assert_eq!(odd.as_deref(), Some("a%zzb c% 1%4"));
    }

    #[test]
    fn the_header_comes_before_the_query() {
        let key = sentry_key(Some(SDK_HEADER), Some("sentry_key=other"));
        assert_eq!(key.as_deref(), Some("abc123"));
        let key = sentry_key(Some("Sentry sentry_version=7"), Some("sentry_key=other"));
        assert_eq!(key.as_deref(), Some("other"));
    }

    #[test]
    fn no_key_is_none() {
        for (header, query) in [
            (None, None),
            (Some("Bearer abc123"), Some("sentry_version=7")),
            (Some("Sentry sentry_key=, sentry_version=7"), None),
            (None, Some("sentry_key=")),
            (Some(""), Some("")),
            (Some("Sentry sentry_keyabc123"), Some("sentry_keys=abc123")),
        ] {
            assert_eq!(sentry_key(header, query), None, "{header:?} {query:?}");
        }
    }

    #[test]
    fn check_refuses_a_missing_or_wrong_key() {
        assert!(check(Some("abc123"), "abc123").is_ok());
        let missing = check(None, "abc123").unwrap_err();
        assert_eq!(missing.status(), 401);
        for wrong in ["abc124", "abc12", "abc1234", "", "ABC123"] {
            let err = check(Some(wrong), "abc123").unwrap_err();
            assert_eq!(err.status(), 403, "{wrong}");
            assert_eq!(
                err.to_string(),
                "the sentry_key does not match this project's key: use the DSN `heal serve` printed, http://KEY@HOST:PORT/PROJECT"
            );
        }
        assert_eq!(check(Some(""), "").unwrap_err().status(), 403);
    }

    #[test]
    fn the_dsn_carries_the_key_the_check_wants() {
        let dsn = dsn("abc123", "127.0.0.1:9000", 1);
        assert_eq!(dsn, "http://abc123@127.0.0.1:9000/1");
        // What the SDK sends for it is what the check accepts.
        let key = dsn
            .strip_prefix("http://")
            .and_then(|rest| rest.split_once('@'))
            .map(|(key, _)| key);
        let header = format!("Sentry sentry_key={}, sentry_version=7", key.unwrap());
        assert!(check(sentry_key(Some(&header), None).as_deref(), "abc123").is_ok());
    }
}
