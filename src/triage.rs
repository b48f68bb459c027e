//! Triage: errors that are not bugs in the code, told apart before any rule or model is asked.
//! The seed's "non corrigibles": what goes wrong outside the program (a setting it needs, a
//! service, a file, a permission) or what it does on purpose (an exit, an assertion asking for
//! a person). A model asked to fix them "fixes" them anyway (a missing `ADS_API_TOKEN` became
//! `os.environ.get('ADS_API_TOKEN', 'default_token')`), so they are recorded and alerted with
//! what to do, and never sent for a fix unless `triage.force` names their kind.
//!
//! Pure: the record's error in, a verdict out. It errs on the side of "a code bug": a kind is
//! only named when the error says so plainly.

use crate::record::model::ErrorInfo;

/// What kind of not-a-bug an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A required environment variable is missing (`KeyError` on `os.environ[...]`).
    MissingEnv,
    /// A service did not answer (connection refused, reset, timed out, name not resolved).
    Connection,
    /// A file the program reads is missing.
    MissingFile,
    /// A path it writes is read-only, or not permitted.
    ReadOnly,
    /// It exited on purpose, or died outside Python: no traceback to fix.
    Exit,
    /// An assertion whose message asks for a person.
    Assertion,
}

impl Kind {
    /// The name `triage.force` uses.
    pub fn name(self) -> &'static str {
        match self {
            Kind::MissingEnv => "missing-env",
            Kind::Connection => "connection",
            Kind::MissingFile => "missing-file",
            Kind::ReadOnly => "read-only",
            Kind::Exit => "exit",
            Kind::Assertion => "assertion",
        }
    }
}

/// Every kind's name, for configuration errors.
pub const KINDS: &[&str] = &[
    "missing-env",
    "connection",
    "missing-file",
    "read-only",
    "exit",
    "assertion",
];

/// An error that is not a code bug, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triaged {
    pub kind: Kind,
    /// What a person should do, in one sentence.
    pub advice: String,
}

/// Exception types a service that did not answer raises (their last dotted part).
const CONNECTION: &[&str] = &[
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "ConnectionAbortedError",
    "TimeoutError",
    "timeout",
    "gaierror",
    "NewConnectionError",
    "MaxRetryError",
    "ConnectTimeout",
    "ReadTimeout",
    "RemoteDisconnected",
    "URLError",
    "ServerSelectionTimeoutError",
];

/// Words an assertion uses when it asks for a person rather than states a fact.
const ASKS_FOR_A_PERSON: &[&str] = &[
    "ask ",
    "contact",
    "manual",
    "review",
    "human",
    "operator",
    "escalate",
    "check with",
    "someone",
    "support team",
];

/// The error's kind, when it is not a code bug.
pub fn triage(error: &ErrorInfo) -> Option<Triaged> {
    let short = error.exc_type.rsplit('.').next().unwrap_or(&error.exc_type);
    let message = error.message.lines().next().unwrap_or("").trim();
    // The innermost frame that shows its code: `os.environ[...]` raises inside `<frozen
    // os>`, whose frame has none.
    let failing_code = error
        .frames
        .iter()
        .rev()
        .find_map(|f| f.code.as_deref())
        .unwrap_or("");
    if error.exc_type == "Crash" && error.frames.is_empty() {
        return Some(Triaged {
            kind: Kind::Exit,
            advice: "the program ended without a Python traceback (a deliberate exit, or a crash outside Python): there is no code for heal to fix; read its last output".to_string(),
        });
    }
    if short == "SystemExit" {
        return Some(Triaged {
            kind: Kind::Exit,
            advice: format!(
                "the program exited on purpose ({}): its input or configuration was refused; correct them",
                if message.is_empty() {
                    "SystemExit"
                } else {
                    message
                }
            ),
        });
    }
    if short == "KeyError" && failing_code.contains("environ[") {
        let name = message.trim_matches(|c| c == '\'' || c == '"');
        return Some(Triaged {
            kind: Kind::MissingEnv,
            advice: format!(
                "the environment variable {name} is not set: set it in the program's environment (the deployment, or .env); heal never gives a required setting a default"
            ),
        });
    }
    if CONNECTION.contains(&short) {
        return Some(Triaged {
            kind: Kind::Connection,
            advice: format!(
                "a service the program needs did not answer ({short}: {message}): check that it runs and can be reached"
            ),
        });
    }
    if short == "FileNotFoundError" {
        return Some(Triaged {
            kind: Kind::MissingFile,
            advice: format!("a file the program reads is missing ({message}): put it in place"),
        });
    }
    if short == "PermissionError"
        || (short == "OSError"
            && (message.contains("Read-only file system") || message.contains("[Errno 30]")))
    {
        return Some(Triaged {
            kind: Kind::ReadOnly,
            advice: format!(
                "a path the program writes is read-only or not permitted ({message}): give it a writable place"
            ),
        });
    }
    if short == "AssertionError" {
        let lower = message.to_lowercase();
        if ASKS_FOR_A_PERSON.iter().any(|w| lower.contains(w)) {
            return Some(Triaged {
                kind: Kind::Assertion,
                advice: format!("the program asks for a person: \"{message}\""),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::model::FrameInfo;

    fn error(exc_type: &str, message: &str, code: &str) -> ErrorInfo {
        ErrorInfo {
            exc_type: exc_type.to_string(),
            message: message.to_string(),
            traceback: String::new(),
            frames: vec![FrameInfo {
                file: "/srv/app/main.py".into(),
                line: 3,
                function: "load".into(),
                code: Some(code.to_string()),
                vars: Default::default(),
                in_app: None,
            }],
            related: Vec::new(),
            origin: None,
            stream: None,
            sdk: None,
        }
    }

    #[test]
    fn what_the_seed_calls_non_corrigible_is_told_apart() {
        let cases = [
            (
                error(
                    "KeyError",
                    "'ADS_API_TOKEN'",
                    "token = os.environ[\"ADS_API_TOKEN\"]",
                ),
                Some(Kind::MissingEnv),
            ),
            (
                error(
                    "ConnectionRefusedError",
                    "[Errno 111] Connection refused",
                    "s.connect(addr)",
                ),
                Some(Kind::Connection),
            ),
            (
                error(
                    "requests.exceptions.ConnectionError",
                    "HTTPConnectionPool",
                    "get(url)",
                ),
                Some(Kind::Connection),
            ),
            (
                error(
                    "FileNotFoundError",
                    "[Errno 2] No such file or directory: 'in.csv'",
                    "open(p)",
                ),
                Some(Kind::MissingFile),
            ),
            (
                error(
                    "OSError",
                    "[Errno 30] Read-only file system: '/data/out'",
                    "open(p, 'w')",
                ),
                Some(Kind::ReadOnly),
            ),
            (
                error(
                    "AssertionError",
                    "totals differ: ask finance to review",
                    "assert a == b, msg",
                ),
                Some(Kind::Assertion),
            ),
            (
                error("SystemExit", "invalid --date", "sys.exit(msg)"),
                Some(Kind::Exit),
            ),
            // Near misses: code bugs.
            (
                error("KeyError", "'budget'", "return budgets[client]['budget']"),
                None,
            ),
            (error("AssertionError", "3 != 4", "assert total == 4"), None),
            (
                error("OSError", "[Errno 22] Invalid argument", "os.lseek(fd, -1)"),
                None,
            ),
            (
                error("ZeroDivisionError", "division by zero", "spend / clicks"),
                None,
            ),
        ];
        for (e, want) in cases {
            assert_eq!(
                triage(&e).map(|t| t.kind),
                want,
                "{} {}",
                e.exc_type,
                e.message
            );
        }
        let advice = triage(&cases_first()).unwrap().advice;
        assert!(
            advice.contains("set it in the program's environment"),
            "{advice}"
        );
    }

    fn cases_first() -> ErrorInfo {
        error(
            "KeyError",
            "'ADS_API_TOKEN'",
            "token = os.environ['ADS_API_TOKEN']",
        )
    }
}
