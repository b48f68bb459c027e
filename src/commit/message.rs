//! The fix commit's message (the seed's form, plus a trailer) and the reading of it back for
//! `heal log`. Pure: no git here.

use crate::record::model::Record;

/// The subject every fix commit starts with; `heal log` looks for it.
pub const SUBJECT_PREFIX: &str = "🤖 Auto-fix: ";
/// The trailer naming the incident, so history leads back to the record.
pub const TRAILER: &str = "Heal-Incident";

/// The message of the commit of `record`'s fix to `files`:
///
/// ```text
/// 🤖 Auto-fix: err_20260128_143022
///
/// Error: NameError: name 'update' is not defined
/// Category: name
/// Files: engine/decision_engine.py
///
/// Fix: Use the loop's variable `updates`.
///
/// Confidence: high
///
/// Heal-Incident: err_20260128_143022
/// ```
///
/// The message is pushed to a remote: it goes through `redactor` like every other channel.
pub fn fix_message(
    record: &Record,
    files: &[String],
    redactor: &crate::redact::Redactor,
) -> String {
    let text = |s: &str| Some(one_line(s)).filter(|s| !s.is_empty());
    let analysis = record.analysis.as_ref();
    let error = one_line(&format!(
        "{}: {}",
        record.error.exc_type, record.error.message
    ));
    let category = analysis
        .and_then(|a| text(a.error_category.as_str()))
        .unwrap_or_else(|| "unknown".to_string());
    let fix = record
        .fix
        .as_ref()
        .and_then(|f| text(&f.changes_summary))
        .or_else(|| analysis.and_then(|a| text(&a.changes_summary)))
        .unwrap_or_else(|| "see the incident record".to_string());
    let confidence = analysis
        .and_then(|a| text(a.confidence.as_str()))
        .unwrap_or_else(|| "high".to_string());
    let message = format!(
        "{SUBJECT_PREFIX}{id}\n\nError: {error}\nCategory: {category}\nFiles: {files}\n\nFix: {fix}\n\nConfidence: {confidence}\n\n{TRAILER}: {id}\n",
        id = record.id,
        files = files.join(", "),
    );
    redactor.redact(&message).into_owned()
}

/// The message of the commit that reverts `commit`, the fix of incident `id`.
pub fn revert_message(id: &str, commit: &str, why: &str) -> String {
    format!(
        "Revert \"{SUBJECT_PREFIX}{id}\"\n\nThis reverts commit {commit}.\n{why}\n\n{TRAILER}: {id}\n"
    )
}

/// One line of `heal log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub hash: String,
    /// Committer date, ISO 8601.
    pub date: String,
    pub id: String,
    pub error_type: String,
    pub files: String,
}

/// The separator between fields of the `git log` format `heal log` asks for.
pub const FIELD: char = '\u{1f}';
/// The separator between commits.
pub const RECORD: char = '\u{1e}';
/// The `--format` that [`parse_log`] reads.
pub const LOG_FORMAT: &str = "%H%x1f%cI%x1f%B%x1e";

/// Reads `git log --format=LOG_FORMAT` output; commits that are not fix commits are left out.
pub fn parse_log(text: &str) -> Vec<LogEntry> {
    text.split(RECORD)
        .filter_map(|entry| {
            let mut fields = entry.trim_start_matches('\n').splitn(3, FIELD);
            let hash = fields.next()?.trim().to_string();
            let date = fields.next()?.trim().to_string();
            let body = fields.next()?;
            let subject = body.lines().next()?;
            let id = subject.strip_prefix(SUBJECT_PREFIX)?.trim().to_string();
            let line = |label: &str| {
                body.lines()
                    .find_map(|l| l.strip_prefix(label))
                    .map(|v| v.trim().to_string())
                    .unwrap_or_default()
            };
            let error = line("Error:");
            let error_type = error
                .split_once(':')
                .map(|(t, _)| t.trim().to_string())
                .unwrap_or(error);
            Some(LogEntry {
                hash,
                date,
                id,
                error_type,
                files: line("Files:"),
            })
        })
        .collect()
}

fn one_line(s: &str) -> String {
    let line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_reads_back_what_the_message_writes() {
        let mut record: Record = serde_json::from_value(serde_json::json!({
            "id": "err_20260128_143022", "status": "applied", "fingerprint": "f",
            "occurrences": 1, "created_at": "", "last_seen_at": "",
            "error": {"type": "NameError", "message": "name 'update' is not defined\nsecond line",
                      "traceback": "", "frames": []},
            "context": {"command": [], "tags": {}},
            "analysis": {"error_category": "name", "confidence": "high"},
            "fix": {"changes_summary": "Use `updates`."}
        }))
        .expect("record");
        record.status = crate::record::model::Status::Applied;
        let redactor = crate::redact::Redactor::default();
        let msg = fix_message(
            &record,
            &["engine/decision_engine.py".to_string()],
            &redactor,
        );
        assert!(msg.starts_with("🤖 Auto-fix: err_20260128_143022\n\nError: NameError: name 'update' is not defined second line\nCategory: name\nFiles: engine/decision_engine.py\n\nFix: Use `updates`.\n\nConfidence: high\n\nHeal-Incident: err_20260128_143022"));
        let log = format!(
            "abc\u{1f}2026-01-28T14:30:25+00:00\u{1f}{msg}\u{1e}\ndef\u{1f}2026-01-27T00:00:00+00:00\u{1f}Other commit\n\u{1e}"
        );
        assert_eq!(
            parse_log(&log),
            vec![LogEntry {
                hash: "abc".into(),
                date: "2026-01-28T14:30:25+00:00".into(),
                id: "err_20260128_143022".into(),
                error_type: "NameError".into(),
                files: "engine/decision_engine.py".into(),
            }]
        );
    }

    #[test]
    fn r14_the_message_goes_through_the_redactor() {
        let record: Record = serde_json::from_value(serde_json::json!({
            "id": "err_20260128_143022", "status": "applied", "fingerprint": "f",
            "occurrences": 1, "created_at": "", "last_seen_at": "",
            "error": {"type": "ValueError", "message": "cannot log in as mysql-pass-9876",
                      "traceback": "", "frames": []},
            "context": {"command": [], "tags": {}},
            "fix": {"changes_summary": "Stop printing mysql-pass-9876."}
        }))
        .expect("record");
        let redactor = crate::redact::Redactor::from_values(vec!["mysql-pass-9876".into()]);
        let msg = fix_message(&record, &["app.py".to_string()], &redactor);
        assert!(!msg.contains("mysql-pass-9876"), "{msg}");
        assert!(msg.contains("Fix: Stop printing [REDACTED]."), "{msg}");
    }
}
