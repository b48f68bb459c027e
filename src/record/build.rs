//! Building a new incident's record from what detection found: a traceback, or a crash that
//! printed none. Pure: no store, no clock (the caller passes the time).

use std::collections::BTreeMap;

use crate::detect::fingerprint::fingerprint;
use crate::detect::locate::Location;
use crate::detect::{Exception, Traceback};
use crate::ingest::Converted;
use crate::record::model::{
    Context, ErrorInfo, FrameInfo, Record, ResultInfo, SdkReport, Status, TestRef,
};

/// What every incident of one `heal run` shares.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub command: Vec<String>,
    pub tags: BTreeMap<String, String>,
    /// `None` when healing may act; otherwise why it may not (the record is `skipped`).
    pub skip_reason: Option<String>,
}

/// A detection ready to be stored, whatever its source (a traceback printed by the supervised
/// program, a failing test, a crash, an SDK's event): its fingerprint and a way to make the
/// record. Every stage after detection reads this, never the source.
#[derive(Debug, Clone)]
pub struct Finding {
    pub fingerprint: String,
    pub error: ErrorInfo,
    pub location: Option<Location>,
    /// Tags the source reported with the error (an SDK's `tags`), beside the run's own.
    pub tags: BTreeMap<String, String>,
    /// The failing test, for a test run.
    pub test: Option<TestRef>,
    /// Why it is recorded and reported but not for healing, when it is not (a failure that is
    /// not a code bug).
    pub not_for_healing: Option<String>,
}

impl Finding {
    pub fn from_traceback(tb: &Traceback, location: Option<Location>) -> Finding {
        let exc = &tb.exception;
        let (file, function) = match &location {
            Some(l) => (Some(l.file.as_str()), Some(l.function.as_str())),
            None => (None, None),
        };
        // The exception that locates the bug also names the error for "sameness": two groups
        // wrapping different failures are different errors.
        let primary = tb.primary();
        let fp = fingerprint(&primary.exc_type, file, function, &primary.message);
        let mut related = Vec::new();
        for (e, _) in &tb.chain {
            related.push(one_line(e));
        }
        collect_group(exc, &mut related);
        Finding {
            fingerprint: fp,
            error: ErrorInfo {
                exc_type: exc.exc_type.clone(),
                message: exc.message.clone(),
                traceback: tb.text.clone(),
                frames: exc
                    .frames
                    .iter()
                    .map(|f| FrameInfo {
                        file: f.file.clone(),
                        line: f.line,
                        function: f.function.clone(),
                        code: f.code.clone(),
                        vars: BTreeMap::new(),
                        in_app: None,
                    })
                    .collect(),
                related,
                origin: tb.origin.clone(),
                stream: None,
                sdk: None,
            },
            location,
            tags: BTreeMap::new(),
            test: None,
            not_for_healing: None,
        }
    }

    /// An error an SDK reported (`sentry_sdk`): the traceback as the SDK described it, and what
    /// a printed traceback does not say: each frame's locals (those whose names say they hold
    /// a secret replaced by `[REDACTED]`: the SDK's own scrubbing is not trusted), whether the
    /// frame is the application's, the tags, release, environment and (redacted) user. Its
    /// fingerprint is the printed traceback's, so the two are one error.
    pub fn from_sdk(converted: &Converted, location: Option<Location>) -> Finding {
        let mut finding = Finding::from_traceback(&converted.traceback, location);
        let frames = &mut finding.error.frames;
        // Aligned from the innermost frame: bounds may have cut the outer ones differently.
        let n = frames.len();
        for (i, frame) in frames.iter_mut().enumerate() {
            let from_end = n - 1 - i;
            let at = |len: usize| len.checked_sub(1 + from_end);
            if let Some(vars) = at(converted.locals.len()).and_then(|j| converted.locals.get(j)) {
                frame.vars = vars
                    .iter()
                    .map(|(name, value)| {
                        let value = if secret_name(name) {
                            crate::redact::REDACTED.to_string()
                        } else {
                            value.clone()
                        };
                        (name.clone(), value)
                    })
                    .collect();
            }
            frame.in_app =
                at(converted.in_app.len()).and_then(|j| converted.in_app.get(j).copied());
        }
        finding.tags = converted.tags.clone();
        finding.error.sdk = Some(SdkReport {
            event_id: converted.event_id.clone().unwrap_or_default(),
            handled: converted.handled,
            release: converted.release.clone(),
            environment: converted.environment.clone(),
            user: converted.user.clone(),
            level: None,
        });
        finding
    }

    /// Brings an SDK's report of this error (its frames' locals and `in_app`, the report, the
    /// tags) into `record`, the incident its printed traceback made: what the printout could
    /// not say, without another occurrence. Frames are matched from the innermost, by file
    /// name and line.
    pub fn merge_into(&self, record: &mut Record) {
        if record.error.sdk.is_none() {
            record.error.sdk = self.error.sdk.clone();
        }
        for (theirs, mine) in self
            .error
            .frames
            .iter()
            .rev()
            .zip(record.error.frames.iter_mut().rev())
        {
            let same = theirs.line == mine.line
                && theirs.file.rsplit('/').next() == mine.file.rsplit('/').next();
            if !same {
                break;
            }
            if mine.vars.is_empty() {
                mine.vars = theirs.vars.clone();
            }
            mine.in_app = mine.in_app.or(theirs.in_app);
        }
        for (k, v) in &self.tags {
            record
                .context
                .tags
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
    }

    /// A failing test's traceback: its fingerprint also names the test, so each failing test
    /// is its own incident.
    pub fn from_test_failure(tb: &Traceback, location: Option<Location>, test: TestRef) -> Finding {
        let mut finding = Finding::from_traceback(tb, location);
        let primary = tb.primary();
        finding.fingerprint = crate::detect::fingerprint::fingerprint_of_test(
            &primary.exc_type,
            finding.location.as_ref().map(|l| l.file.as_str()),
            finding.location.as_ref().map(|l| l.function.as_str()),
            &primary.message,
            &test.id,
        );
        finding.test = Some(test);
        finding
    }

    /// A crash that printed no traceback: named after how it ended, with stderr's tail.
    pub fn from_crash(how: &str, command: &[String], tail: &str) -> Finding {
        let command = command.join(" ");
        Finding {
            fingerprint: fingerprint("Crash", Some(&command), None, how),
            error: ErrorInfo {
                exc_type: "Crash".to_string(),
                message: format!("the program {how} without a Python traceback"),
                traceback: tail.to_string(),
                frames: Vec::new(),
                related: Vec::new(),
                origin: None,
                stream: None,
                sdk: None,
            },
            location: None,
            tags: BTreeMap::new(),
            test: None,
            not_for_healing: None,
        }
    }

    /// The record of a new incident with this finding.
    pub fn into_record(self, id: String, now: &str, run: &RunContext) -> Record {
        let (status, reason) = match run.skip_reason.as_ref().or(self.not_for_healing.as_ref()) {
            Some(reason) => (Status::Skipped, Some(reason.clone())),
            None => (Status::Detected, None),
        };
        let loc = self.location;
        // Kept in the result too, so that no later occurrence sends it to healing.
        let result = self.not_for_healing.as_ref().map(|why| ResultInfo {
            status: Some(Status::Skipped),
            reason: Some(why.clone()),
            not_a_code_bug: true,
            ..ResultInfo::default()
        });
        Record {
            id,
            status,
            reason,
            fingerprint: self.fingerprint,
            occurrences: 1,
            created_at: now.to_string(),
            last_seen_at: now.to_string(),
            error: self.error,
            context: Context {
                function: loc.as_ref().map(|l| l.function.clone()),
                module: loc.as_ref().map(|l| l.module.clone()),
                file: loc.as_ref().map(|l| l.file.clone()),
                line: loc.as_ref().map(|l| l.line),
                command: run.command.clone(),
                // The run's own tags (`--tag`) win over what a source reported.
                tags: self.tags.into_iter().chain(run.tags.clone()).collect(),
                exit: None,
                found_in_proof: None,
                test: self.test,
            },
            notifications: Vec::new(),
            slack: None,
            analysis: None,
            fix: None,
            result,
            timings_ms: BTreeMap::new(),
            llm: None,
            heal_failures: 0,
            hosts: Vec::new(),
            followed: Vec::new(),
        }
    }
}

/// Words in a variable's name that say its value is a secret (`db_password`, `api_key`,
/// `auth_token`), as error trackers scrub them.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "auth",
    "credential",
    "private_key",
    "session",
    "cookie",
    "csrf",
    "dsn",
];

fn secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| lower.contains(w))
}

fn one_line(e: &Exception) -> String {
    let first = e.message.lines().next().unwrap_or("");
    if first.is_empty() {
        e.exc_type.clone()
    } else {
        format!("{}: {}", e.exc_type, first)
    }
}

fn collect_group(e: &Exception, out: &mut Vec<String>) {
    for member in &e.group {
        out.push(one_line(member));
        collect_group(member, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crash_event() -> Converted {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/sentry/crash.event.json"
        ))
        .unwrap();
        let event = crate::ingest::parse_event(&bytes).unwrap();
        crate::ingest::to_traceback(&event).unwrap()
    }

    #[test]
    fn an_sdk_event_becomes_the_same_finding_as_its_printed_traceback_plus_what_it_knew() {
        let mut converted = crash_event();
        // A secret in a local: the SDK's own scrubbing is not trusted.
        converted
            .locals
            .last_mut()
            .unwrap()
            .push(("db_password".into(), "'hunter2-live'".into()));
        let finding = Finding::from_sdk(&converted, None);
        let printed = Finding::from_traceback(&converted.traceback, None);
        assert_eq!(finding.fingerprint, printed.fingerprint);
        let innermost = finding.error.frames.last().unwrap();
        assert_eq!(innermost.function, "cost_per_click");
        assert_eq!(innermost.vars["clicks"], "0");
        assert_eq!(innermost.vars["db_password"], crate::redact::REDACTED);
        assert_eq!(innermost.in_app, Some(true));
        let sdk = finding.error.sdk.as_ref().unwrap();
        assert_eq!(sdk.event_id, "e73cbe3e121a4fe5b4d43e122c526bd7");
        assert_eq!(sdk.user.as_deref(), Some("id=42"));
        let run = RunContext {
            command: vec!["python3".into(), "report.py".into()],
            tags: [("client".to_string(), "avego".to_string())].into(),
            skip_reason: None,
        };
        let record = finding.into_record("err_20261130_131459".into(), "now", &run);
        let json = serde_json::to_string(&record).unwrap();
        assert!(!json.contains("hunter2-live"), "{json}");
        assert!(!json.contains("ada@example.com"), "{json}");
        assert_eq!(record.context.tags["client"], "avego");
    }
}
