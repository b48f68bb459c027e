//! Redaction: cuts secrets out of text before it leaves the machine (to an LLM, to Slack, into
//! a record).
//!
//! A [`Redactor`] knows two kinds of secret: the values of the environment variables whose
//! names say they hold one (`*KEY*`, `*TOKEN*`, `*SECRET*`, `*PASSWORD*`, `*DSN*`, ...), and
//! strings shaped like well-known credentials (Anthropic, OpenAI, GitHub, Slack and AWS keys,
//! PEM private keys, Slack webhook URLs, passwords in URLs, bearer tokens, JWTs). Each kind is
//! compiled into one regex, so a text is scanned twice however many secrets there are. What
//! either finds is cut: where a literal secret and a credential shape overlap (a known value
//! that is the start of a longer token), the union of the two goes, never a tail.
//!
//! This module must never log, print or return a secret it found, and must never fail: a
//! redactor that cannot be built from the environment still redacts the known shapes.

use std::borrow::Cow;
use std::ops::Range;

use regex::{Captures, Regex, RegexBuilder};

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Parts of an environment variable's name (compared case-insensitively) that mark its value
/// as a secret. `PASSWD` and `CREDENTIAL` are spellings the required list would miss; `AUTH` is
/// left out on purpose because it also matches `GIT_AUTHOR_NAME`, whose value is not secret and
/// would then be cut out of every commit message heal writes.
pub const SECRET_NAME_PARTS: &[&str] = &[
    "KEY",
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "DSN",
    "CREDENTIAL",
];

/// Words of an environment variable's name (split at `_`) that mark its value as a secret,
/// besides [`SECRET_NAME_PARTS`] found anywhere: `MYSQL_PWD`, `SMTP_PASS`, `SESSION_SIGNING`,
/// `JWT_PRIVATE`, `OAUTH_AUTH_HEADER`, `SESSION_COOKIE`, `HASH_SALT`. Whole words, so that
/// `GIT_AUTHOR_NAME` (`AUTHOR`) and the shell's own `PWD` (the working folder) stay readable.
pub const SECRET_NAME_WORDS: &[&str] = &[
    "PWD",
    "PASS",
    "PRIVATE",
    "AUTH",
    "COOKIE",
    "COOKIES",
    "SALT",
    "SIGNING",
    "CREDENTIALS",
];

/// Names that hold a secret word but never a secret.
const NOT_SECRET_NAMES: &[&str] = &["PWD", "OLDPWD"];

/// Values shorter than this (in bytes, after trimming) are not redacted: `DEBUG_TOKENS=1` or
/// `USE_KEYRING=true` would otherwise replace every `1` or `true` in the text.
pub const MIN_SECRET_LEN: usize = 6;

/// The shapes of well-known credentials. Each is anchored on a prefix its issuer documents, so
/// ordinary identifiers do not match. Groups named `keep` are kept in the output (the words
/// around a secret help a reader), everything else of a match is replaced.
const SHAPES: &[&str] = &[
    // PEM private keys, terminated; a Python repr shows the newlines as `\n`, hence `[\s\S]`.
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----",
    // A PEM private key cut short (a capped traceback): its base64 body to the end of the run.
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[A-Za-z0-9+/=\s]|\\n|\\r)*",
    // Anthropic (`sk-ant-api03-...`) and OpenAI (`sk-...`, `sk-proj-...`) keys.
    r"\bsk-[A-Za-z0-9_-]{20,}",
    // Stripe secret and restricted keys.
    r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}",
    // GitHub tokens: personal, OAuth, user-to-server, server-to-server, refresh; fine-grained.
    r"\bgh[pousr]_[A-Za-z0-9]{30,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    // Slack tokens (bot, user, app-level, legacy) and webhook URLs.
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    r"\bxapp-[0-9]-[A-Za-z0-9-]{10,}",
    r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]+",
    // AWS access key ids (long-term and temporary).
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    // Google API keys.
    r"\bAIza[0-9A-Za-z_-]{35}",
    // JSON Web Tokens: header and payload are base64 of `{"...`.
    r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    // `Authorization: Bearer <token>`: the word is kept, the token cut.
    r"(?i:(?P<keep>\bbearer\s+))[A-Za-z0-9._~+/-]{16,}=*",
];

/// A password in a URL (`postgres://user:pw@host/db`): the scheme and user are kept. Kept out
/// of [`SHAPES`] because it needs its own group names.
const URL_PASSWORD: &str = r"(?P<url>\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@";

/// Why a redactor could not include the environment's values.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    #[error("the secrets of the environment do not fit in one regex")]
    TooBig(#[source] regex::Error),
}

/// Replaces secrets in text with [`REDACTED`]. Cheap to clone (the regexes are shared).
#[derive(Clone)]
pub struct Redactor {
    /// The literal secrets, longest first; `None` when there are none.
    values: Option<Regex>,
    /// The credential shapes; `None` only if the constants failed to compile, which a test
    /// rules out.
    shapes: Option<Regex>,
    /// How many environment values `values` holds, for `Debug` (never the values).
    env_values: usize,
    /// The literal secrets, to catch the start of one cut off at the end of a line (a line
    /// capped in size keeps its head): shared, never printed.
    literals: std::sync::Arc<Vec<String>>,
}

impl std::fmt::Debug for Redactor {
    // Hand-written: the regex's Debug would print every secret it looks for.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor {{ env_values: {} }}", self.env_values)
    }
}

impl Default for Redactor {
    /// Known credential shapes only.
    fn default() -> Redactor {
        Redactor::from_values(Vec::new())
    }
}

impl Redactor {
    /// A redactor for the secrets in `vars` (name, value pairs: `&BTreeMap<String, String>`,
    /// `std::env::vars()`, ...) and the known credential shapes.
    pub fn from_env<I, K, V>(vars: I) -> Redactor
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let values = vars
            .into_iter()
            .filter(|(name, _)| is_secret_name(name.as_ref()))
            .map(|(_, value)| value.as_ref().trim().to_string())
            .collect();
        Redactor::from_values(values)
    }

    /// A redactor for these literal secrets (values shorter than [`MIN_SECRET_LEN`] are
    /// ignored) and the known credential shapes.
    pub fn from_values(values: Vec<String>) -> Redactor {
        match Redactor::try_from_values(values) {
            Ok(redactor) => redactor,
            Err(e) => {
                // Thousands of huge values: redacting the known shapes beats not starting.
                tracing::warn!("{e}; only well-known credential shapes will be redacted");
                Redactor::shapes_only()
            }
        }
    }

    fn try_from_values(mut values: Vec<String>) -> Result<Redactor, RedactError> {
        values.retain(|v| v.len() >= MIN_SECRET_LEN);
        // A password inside a URL-shaped value (a DSN) also shows up alone, in a driver's
        // error for instance.
        let passwords: Vec<String> = values
            .iter()
            .filter_map(|v| url_password(v))
            .filter(|p| p.len() >= MIN_SECRET_LEN)
            .map(str::to_string)
            .collect();
        values.extend(passwords);
        // The forms a value takes when a program prints it quoted: Python's repr (`%r`
        // doubles backslashes), JSON, and percent-encoding in a URL.
        let forms: Vec<String> = values.iter().flat_map(|v| escaped_forms(v)).collect();
        values.extend(forms);
        // Longest first: the regex takes the first alternative that matches at a position,
        // and a value that is a prefix of another must not leave the other's tail behind.
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        let env_values = values.len();
        let alternatives: Vec<String> = values.iter().map(|v| regex::escape(v)).collect();
        let literal = if alternatives.is_empty() {
            None
        } else {
            Some(build(&alternatives).map_err(RedactError::TooBig)?)
        };
        Ok(Redactor {
            values: literal,
            shapes: build(&shapes()).ok(),
            env_values,
            literals: std::sync::Arc::new(values),
        })
    }

    /// This redactor, also redacting `secret`: one heal made itself and no setting holds
    /// (`heal serve`'s generated project key).
    pub fn with_secret(&self, secret: &str) -> Redactor {
        let mut values: Vec<String> = self.literals.as_ref().clone();
        values.push(secret.to_string());
        Redactor::from_values(values)
    }

    fn shapes_only() -> Redactor {
        // The shapes are constants that a unit test compiles, so `None` is not reached.
        Redactor {
            values: None,
            shapes: build(&shapes()).ok(),
            env_values: 0,
            literals: std::sync::Arc::new(Vec::new()),
        }
    }

    /// `text` with every secret replaced by [`REDACTED`]; borrowed when there was none. A
    /// line that ends with the first [`MIN_SECRET_LEN`] or more characters of a secret (a
    /// line cut at a size cap in the middle of one) has that start replaced too.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let whole = self.redact_whole(text);
        if self.literals.is_empty() {
            return whole;
        }
        match self.mask_cut_starts(&whole) {
            Some(masked) => Cow::Owned(masked),
            None => whole,
        }
    }

    /// Replaces, at the end of each line, the start of a secret cut off there.
    fn mask_cut_starts(&self, text: &str) -> Option<String> {
        let mut out: Option<String> = None;
        let mut start = 0;
        for line in text.split_inclusive('\n') {
            let body = line.trim_end_matches('\n');
            let cut = self.cut_start(body);
            if let Some(at) = cut {
                let o = out.get_or_insert_with(|| text[..start].to_string());
                o.push_str(&body[..at]);
                o.push_str(REDACTED);
                o.push_str(&line[body.len()..]);
            } else if let Some(o) = out.as_mut() {
                o.push_str(line);
            }
            start += line.len();
        }
        out
    }

    /// Where, in `line`, a secret's start runs to its end, if one does.
    fn cut_start(&self, line: &str) -> Option<usize> {
        let mut best: Option<usize> = None;
        for secret in self.literals.iter() {
            let longest = (secret.len().saturating_sub(1)).min(line.len());
            for k in (MIN_SECRET_LEN..=longest).rev() {
                if !secret.is_char_boundary(k) {
                    continue;
                }
                if line.ends_with(&secret[..k]) {
                    let at = line.len() - k;
                    best = Some(best.map_or(at, |b: usize| b.min(at)));
                    break;
                }
            }
        }
        best
    }

    fn redact_whole<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut cuts: Vec<Range<usize>> = Vec::new();
        if let Some(values) = &self.values {
            cuts.extend(values.find_iter(text).map(|m| m.range()));
        }
        if let Some(shapes) = &self.shapes {
            cuts.extend(shapes.captures_iter(text).filter_map(|caps| cut(&caps)));
        }
        if cuts.is_empty() {
            return Cow::Borrowed(text);
        }
        // Overlapping or touching cuts become one: a secret is never half kept.
        cuts.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(cuts.len());
        for next in cuts {
            match merged.last_mut() {
                Some(last) if next.start <= last.end => last.end = last.end.max(next.end),
                _ => merged.push(next),
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut done = 0;
        for cut in merged {
            out.push_str(&text[done..cut.start]);
            out.push_str(REDACTED);
            done = cut.end;
        }
        out.push_str(&text[done..]);
        Cow::Owned(out)
    }

    /// Whether `text` holds a secret this redactor knows.
    pub fn is_match(&self, text: &str) -> bool {
        [&self.values, &self.shapes]
            .into_iter()
            .flatten()
            .any(|r| r.is_match(text))
    }

    /// Redacts every string of `value` in place, object keys included.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(s) => {
                if let Cow::Owned(clean) = self.redact(s) {
                    *s = clean;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            Value::Object(map) => {
                if map.keys().any(|k| self.is_match(k)) {
                    // Keys cannot be changed in place; rebuilding keeps the order.
                    let old = std::mem::take(map);
                    for (k, mut v) in old {
                        self.redact_json(&mut v);
                        map.insert(self.redact(&k).into_owned(), v);
                    }
                } else {
                    map.values_mut().for_each(|v| self.redact_json(v));
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// Whether an environment variable of this name holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if NOT_SECRET_NAMES.contains(&upper.as_str()) {
        return false;
    }
    SECRET_NAME_PARTS.iter().any(|part| upper.contains(part))
        || upper
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| SECRET_NAME_WORDS.contains(&word))
}

/// The other spellings of `value` a program prints: Python's repr of it (backslashes
/// doubled, quotes escaped), its JSON string body, and its percent-encoding. Only the ones
/// that differ from `value`.
fn escaped_forms(value: &str) -> Vec<String> {
    let repr: String = value
        .chars()
        .flat_map(|c| match c {
            '\\' => vec!['\\', '\\'],
            '\'' => vec!['\\', '\''],
            '\n' => vec!['\\', 'n'],
            '\t' => vec!['\\', 't'],
            '\r' => vec!['\\', 'r'],
            c => vec![c],
        })
        .collect();
    let json = serde_json::to_string(value)
        .map(|q| q[1..q.len() - 1].to_string())
        .unwrap_or_default();
    let url: String = value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let mut out = Vec::new();
    for form in [repr, json, url] {
        if form != value && !form.is_empty() && !out.contains(&form) {
            out.push(form);
        }
    }
    out
}

/// The part of a shape's match that is cut: all of it, but the words a `keep` group holds
/// before a token, and the scheme and user (`url`) and the closing `@` around a URL's password.
fn cut(caps: &Captures<'_>) -> Option<Range<usize>> {
    let whole = caps.get(0)?;
    let range = if let Some(url) = caps.name("url") {
        url.end()..whole.end() - 1
    } else if let Some(keep) = caps.name("keep") {
        keep.end()..whole.end()
    } else {
        whole.range()
    };
    Some(range).filter(|r| !r.is_empty())
}

/// The password of `scheme://user:password@host...`, when there is one. A URL that carries a
/// password is a secret whatever its variable's name (`DATABASE_URL`).
pub fn url_password(value: &str) -> Option<&str> {
    let rest = &value[value.find("://")? + 3..];
    let authority = rest.split(['/', '?', '#']).next()?;
    let userinfo = &authority[..authority.rfind('@')?];
    let (_, password) = userinfo.split_once(':')?;
    Some(password).filter(|p| !p.is_empty())
}

/// The credential shapes as regex alternatives. Their word boundaries are made ASCII-only:
/// a Unicode `\b` makes the regex engine give up its fast DFA on any non-ASCII text, and the
/// shapes are ASCII anyway.
fn shapes() -> Vec<String> {
    SHAPES
        .iter()
        .chain([&URL_PASSWORD])
        .map(|s| s.replace(r"\b", r"(?-u:\b)"))
        .collect()
}

fn build(alternatives: &[String]) -> Result<Regex, regex::Error> {
    let pattern = alternatives
        .iter()
        .map(|a| format!("(?:{a})"))
        .collect::<Vec<_>>()
        .join("|");
    RegexBuilder::new(&pattern)
        // Environments hold a few dozen secrets, each a few hundred bytes at most; the default
        // 10 MiB limit is met only by pathological environments, which fall back to shapes.
        .size_limit(64 * 1024 * 1024)
        .dfa_size_limit(16 * 1024 * 1024)
        .build()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Redactor {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Redactor::from_env(&map)
    }

    /// `input` redacted by a shapes-only redactor must read `expected`.
    fn check(input: &str, expected: &str) {
        assert_eq!(
            Redactor::default().redact(input),
            expected,
            "input: {input}"
        );
    }

    #[test]
    fn env_values_of_secret_names_are_redacted() {
        let r = env(&[
            ("ANTHROPIC_API_KEY", "my-anthropic-key-123"),
            ("github_token", "tok_abcdef"),
            ("DB_PASSWORD", "hunter22"),
            ("SENTRY_DSN", "https://abc123@o1.ingest.sentry.io/42"),
            ("MY_SECRET_THING", "opensesame"),
            ("HOME", "/home/someone"),
        ]);
        let text = "key=my-anthropic-key-123 tok=tok_abcdef pw=hunter22 \
                    dsn=https://abc123@o1.ingest.sentry.io/42 s=opensesame home=/home/someone";
        assert_eq!(
            r.redact(text),
            "key=[REDACTED] tok=[REDACTED] pw=[REDACTED] dsn=[REDACTED] s=[REDACTED] \
             home=/home/someone"
        );
    }

    #[test]
    fn names_are_matched_case_insensitively() {
        for name in [
            "api_key",
            "Slack_Token",
            "aws_secret_access_key",
            "pg_passwd",
            "dsn",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["HOME", "PATH", "GIT_AUTHOR_NAME", "LANG"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn r14_names_that_mean_secret_are_known_and_others_are_not() {
        for name in [
            "MYSQL_PWD",
            "SESSION_SIGNING",
            "SMTP_PASS",
            "GOOGLE_CREDENTIALS",
            "JWT_PRIVATE",
            "OAUTH_AUTH_HEADER",
            "SESSION_COOKIE",
            "HASH_SALT",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "PWD",
            "OLDPWD",
            "GIT_AUTHOR_NAME",
            "PASSENGERS",
            "AUTHORS_FILE",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn r14_a_secret_is_caught_in_every_form_a_program_prints_it() {
        let r = env(&[
            ("DATABASE_URL_PASSWORD", "postgres://app:S3cr3t-pw@db/prod"),
            ("API_KEY", "back\\slash'quote/and space"),
        ]);
        // The URL's password alone.
        assert_eq!(
            r.redact("auth failed for S3cr3t-pw"),
            "auth failed for [REDACTED]"
        );
        // repr doubles the backslash and escapes the quote; JSON escapes the backslash; a
        // URL percent-encodes.
        for printed in [
            "key='back\\\\slash\\'quote/and space'",
            "{\"key\": \"back\\\\slash'quote/and space\"}",
            "GET /?key=back%5Cslash%27quote%2Fand%20space",
        ] {
            let out = r.redact(printed);
            assert!(!out.contains("slash"), "{printed} -> {out}");
        }
    }

    #[test]
    fn r14_a_secret_cut_at_the_end_of_a_line_loses_its_start_too() {
        let r = env(&[("API_TOKEN", "tok-0123456789abcdefghijklmnopqrstu")]);
        let cut = "x = call(token='tok-0123456789abcdefghij\nnext line";
        assert_eq!(r.redact(cut), "x = call(token='[REDACTED]\nnext line");
        // Fewer than six characters of it say nothing.
        assert_eq!(r.redact("ends with tok-0"), "ends with tok-0");
    }

    #[test]
    fn short_values_are_ignored() {
        let r = env(&[
            ("DEBUG_TOKENS", "1"),
            ("USE_KEYRING", "true"),
            ("KEY", "abcde"),
        ]);
        assert_eq!(r.redact("1 true abcde 12345"), "1 true abcde 12345");
    }

    #[test]
    fn values_are_matched_literally() {
        // Regex metacharacters in a password must not turn it into a pattern.
        let r = env(&[("PASSWORD", "a.b*c(d)+")]);
        assert_eq!(
            r.redact("x a.b*c(d)+ y aXbbc(d)"),
            "x [REDACTED] y aXbbc(d)"
        );
    }

    #[test]
    fn values_are_trimmed() {
        let r = env(&[("API_TOKEN", "  padded-token\n")]);
        assert_eq!(r.redact("t=padded-token."), "t=[REDACTED].");
    }

    #[test]
    fn a_value_that_prefixes_another_leaves_no_tail() {
        let r = env(&[("A_KEY", "secret-one"), ("B_KEY", "secret-one-and-more")]);
        assert_eq!(
            r.redact("secret-one-and-more secret-one"),
            "[REDACTED] [REDACTED]"
        );
    }

    #[test]
    fn a_value_that_starts_a_longer_token_leaves_no_tail_of_it() {
        // The known value is the head of a key-shaped string: the literal matches first at
        // that position, the shape runs further; both are cut, as one.
        let r = env(&[("OLD_API_KEY", "sk-proj-aaaaaaaaaaaa")]);
        let token = "sk-proj-aaaaaaaaaaaaBBBBBBBBBBBBBBBBBBBB";
        assert_eq!(r.redact(&format!("key={token} ok")), "key=[REDACTED] ok");
        // And the other way round: a shape inside a longer known value.
        let r = env(&[("WEIRD_TOKEN", "prefix-xoxb-1234567890-abcdef-suffix")]);
        assert_eq!(
            r.redact("t=prefix-xoxb-1234567890-abcdef-suffix."),
            "t=[REDACTED]."
        );
        // Two secrets side by side with nothing between them are one cut.
        let r = env(&[("A_KEY", "first-secret"), ("B_KEY", "second-secret")]);
        assert_eq!(r.redact("first-secretsecond-secret"), "[REDACTED]");
    }

    #[test]
    fn the_password_of_a_dsn_value_is_redacted_alone() {
        let r = env(&[("DATABASE_DSN", "postgres://app:pa55word-x@db:5432/app")]);
        assert_eq!(
            r.redact("auth failed for password pa55word-x"),
            "auth failed for password [REDACTED]"
        );
    }

    #[test]
    fn known_shapes_are_redacted() {
        check(
            "key sk-ant-api03-AbCdEf0123456789_-AbCdEf0123456789 end",
            "key [REDACTED] end",
        );
        check("openai=sk-proj-abcDEF1234567890ghijKL", "openai=[REDACTED]");
        check("sk-abcdefghijklmnopqrstuvwxyz012345", "[REDACTED]");
        check("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED]");
        check("gho_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!", "[REDACTED]!");
        check(
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "[REDACTED]",
        );
        check("xoxb-123456789012-1234567890123-AbCdEfGh", "[REDACTED]");
        check("xoxp-1234-5678-abcdefgh", "[REDACTED]");
        check("xoxa-2-abcdefghijkl", "[REDACTED]");
        check("id AKIAIOSFODNN7EXAMPLE.", "id [REDACTED].");
        check(
            "url https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX end",
            "url [REDACTED] end",
        );
        check("sk_live_0123456789abcdefABCD", "[REDACTED]");
        check("AIzaSyA-0123456789abcdefghijklmnopqrstu", "[REDACTED]");
        check(
            "Authorization: Bearer abcdefghijklmnop0123.xyz",
            "Authorization: Bearer [REDACTED]",
        );
        check(
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r",
            "jwt [REDACTED]",
        );
    }

    #[test]
    fn ordinary_text_is_untouched() {
        for text in [
            "task-0123456789abcdefghijklmn",
            "disk-usage-report-for-the-whole-cluster",
            "ghp_short",
            "AKIA123",
            "https://hooks.example.com/services/T000/B000",
            "ValueError: invalid literal for int() with base 10: '80x'",
            "https://example.com/path?q=1",
            "bearer of bad news",
        ] {
            check(text, text);
        }
        assert!(matches!(
            Redactor::default().redact("nothing here"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn passwords_in_urls_keep_scheme_and_user() {
        check(
            "cannot connect to postgres://app:s3cret@db:5432/app",
            "cannot connect to postgres://app:[REDACTED]@db:5432/app",
        );
        check("redis://:pw1234@cache/0", "redis://:[REDACTED]@cache/0");
        check("https://example.com:8080/x", "https://example.com:8080/x");
    }

    #[test]
    fn private_key_blocks_are_redacted_whole() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc+/=\n\
                   -----END RSA PRIVATE KEY-----";
        check(
            &format!("before\n{pem}\nafter"),
            "before\n[REDACTED]\nafter",
        );
        // As Python's repr prints it.
        check(
            "'-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----\\n'",
            "'[REDACTED]\\n'",
        );
        check(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA",
            "[REDACTED]",
        );
    }

    #[test]
    fn json_strings_and_keys_are_redacted() {
        let r = env(&[("SERVICE_TOKEN", "tok-1234567")]);
        let mut value = serde_json::json!({
            "messages": [{"content": "tok-1234567 in text", "n": 3, "ok": true}],
            "tok-1234567": ["ghp_abcdefghijklmnopqrstuvwxyz0123456789", null],
        });
        r.redact_json(&mut value);
        assert_eq!(
            value,
            serde_json::json!({
                "messages": [{"content": "[REDACTED] in text", "n": 3, "ok": true}],
                "[REDACTED]": ["[REDACTED]", null],
            })
        );
    }

    #[test]
    fn the_shapes_compile() {
        assert!(Redactor::shapes_only().shapes.is_some());
        assert!(Redactor::default().shapes.is_some());
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let r = env(&[("API_KEY", "very-secret-value")]);
        let shown = format!("{r:?}");
        assert!(!shown.contains("very-secret-value"), "{shown}");
        assert_eq!(shown, "Redactor { env_values: 1 }");
    }

    #[test]
    fn from_env_takes_process_style_iterators() {
        let vars = vec![("X_TOKEN".to_string(), "abcdefgh".to_string())];
        let r = Redactor::from_env(vars);
        assert_eq!(r.redact("abcdefgh"), "[REDACTED]");
    }

    #[test]
    fn large_texts_are_scanned_once() {
        // A megabyte of ordinary log with one secret at the end: linear time, not a hang.
        let r = env(&[("A_KEY", "needle-secret")]);
        let mut text =
            "2024-01-01 INFO request handled in 12ms path=/api/v1/items\n".repeat(16_000);
        text.push_str("needle-secret");
        let out = r.redact(&text);
        assert!(out.ends_with("[REDACTED]"));
        assert_eq!(
            out.len(),
            text.len() - "needle-secret".len() + REDACTED.len()
        );
    }
}
