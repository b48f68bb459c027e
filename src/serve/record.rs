//! An SDK's finding into the store and to the team: the same upsert, redaction and alert as
//! the incidents task of `heal run`, so a program's error is one incident whichever way heal
//! heard of it (the fingerprint is the printed traceback's).
//!
//! Unlike the incidents task, a store failure is an error here, not a log line: the SDK is
//! answered 503 and sends the event again later, so nothing is lost by refusing it.

use std::sync::Arc;

use crate::notify::Notifier;
use crate::record::build::{Finding, RunContext};
use crate::record::model::Record;
use crate::record::{Export, RecordError, Store};
use crate::redact::Redactor;

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(transparent)]
    Store(#[from] RecordError),
    #[error("the store call stopped before it finished: {0}")]
    Stopped(#[from] tokio::task::JoinError),
}

/// What recording needs: the store, the notifier, the redactor and the run's context.
#[derive(Clone)]
pub struct Recorder {
    pub store: Arc<Store>,
    pub notifier: Option<Notifier>,
    pub redactor: Redactor,
    /// No command and no tags: the program that sent the event runs apart from heal.
    pub run: RunContext,
}

impl Recorder {
    /// Records one occurrence of `finding`, redacted, and alerts the team when it is a new
    /// incident. Returns the record and whether it is new.
    pub async fn record(&self, finding: Finding) -> Result<(Record, bool), RecordingError> {
        let store = self.store.clone();
        let redactor = self.redactor.clone();
        let run = self.run.clone();
        // SQLite blocks: the write runs on the blocking pool, never on the server's threads.
        let (record, is_new) = tokio::task::spawn_blocking(move || {
            let now = time::OffsetDateTime::now_utc();
            let now_text = crate::record::rfc3339(now);
            let fingerprint = finding.fingerprint.clone();
            // Each occurrence is exported at once: the budgets bound how many there are.
            store.upsert_with(&fingerprint, 1, now, Export::Always, |id| {
                let mut record = finding.into_record(id, &now_text, &run);
                // Locals, tags and messages are the sender's data, secrets included.
                record.redact(&redactor);
                record
            })
        })
        .await??;
        if is_new {
            tracing::info!(
                "incident {}: {} at {} (reported by an SDK)",
                record.id,
                record.error.exc_type,
                record
                    .context
                    .file
                    .as_ref()
                    .map(|f| format!("{f}:{}", record.context.line.unwrap_or(0)))
                    .unwrap_or_else(|| "an unknown place".to_string())
            );
            if let Some(n) = &self.notifier {
                n.alert(&record);
            }
        }
        Ok((record, is_new))
    }
}
