//! Building a new incident's record from what detection found: a traceback, or a crash that
//! printed none. Pure: no store, no clock (the caller passes the time).

use std::collections::BTreeMap;

use crate::detect::fingerprint::fingerprint;
use crate::detect::locate::Location;
use crate::detect::{Exception, Traceback};
use crate::record::model::{Context, ErrorInfo, FrameInfo, Record, ResultInfo, Status, TestRef};

/// What every incident of one `heal run` shares.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub command: Vec<String>,
    pub tags: BTreeMap<String, String>,
    /// `None` when healing may act; otherwise why it may not (the record is `skipped`).
    pub skip_reason: Option<String>,
}

/// A detection ready to be stored: its fingerprint and a way to make the record.
#[derive(Debug, Clone)]
pub struct Finding {
    pub fingerprint: String,
    pub error: ErrorInfo,
    pub location: Option<Location>,
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
            test: None,
            not_for_healing: None,
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
                tags: run.tags.clone(),
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
        }
    }
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
