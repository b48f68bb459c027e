//! An SDK's finding into the store and to the team: the same upsert, redaction and alert as
//! the incidents task of `heal run`, so a program's error is one incident whichever way heal
//! heard of it (the fingerprint is the printed traceback's).
//!
//! Unlike the incidents task, a store failure is an error here, not a log line: the SDK is
//! answered 503 and sends the event again later, so nothing is lost by refusing it.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    #[error("heal is stopping: the event was not taken, send it again later")]
    Closed,
}

/// Where the ingest's findings go: the source seam's second kind. `heal serve` records them
/// itself; under `heal run` they join the printed tracebacks in the incidents task, which
/// counts an event and the printed traceback of one exception once.
#[derive(Clone)]
pub enum Sink {
    Store(Box<Recorder>),
    Run(tokio::sync::mpsc::Sender<crate::supervise::Detected>),
}

impl Sink {
    pub async fn accept(&self, finding: Finding) -> Result<(), RecordingError> {
        match self {
            Sink::Store(recorder) => recorder.record(finding).await.map(|_| ()),
            Sink::Run(detected) => detected
                .send(crate::supervise::Detected::Reported {
                    finding: Box::new(finding),
                })
                .await
                .map_err(|_| RecordingError::Closed),
        }
    }
}

/// Incidents whose JSON export is behind the database. A repeat of an open incident is counted
/// in the database at once and exported at most once a second ([`EXPORT_EVERY`]), as `heal run`
/// does in an error storm: each export is a synced file, and one per event held the ingest to
/// about 160 events a second (bench/ingest_load.py). A new incident is exported at once.
#[derive(Debug, Default)]
pub struct Behind(Mutex<BTreeSet<String>>);

/// How far behind the database an incident's export may fall.
pub const EXPORT_EVERY: Duration = Duration::from_secs(1);

impl Behind {
    fn note(&self, id: &str) {
        self.lock().insert(id.to_string());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        // A panic while it was held leaves at worst an export a second late.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes every export behind, now.
    pub async fn write(&self, store: &Arc<Store>) {
        let ids: Vec<String> = std::mem::take(&mut *self.lock()).into_iter().collect();
        if ids.is_empty() {
            return;
        }
        let store = store.clone();
        crate::record::off_thread("export the incidents", move || store.export_current(&ids)).await;
    }
}

/// What recording needs: the store, the notifier, the redactor and the run's context.
#[derive(Clone)]
pub struct Recorder {
    pub store: Arc<Store>,
    pub behind: Arc<Behind>,
    pub notifier: Option<Notifier>,
    pub redactor: Redactor,
    /// No command and no tags: the program that sent the event runs apart from heal.
    pub run: RunContext,
    /// The healer's queue; `None` when healing is off.
    pub healing: Option<super::heal::Queue>,
}

impl Recorder {
    /// Records one occurrence of `finding`, redacted, and alerts the team when it is a new
    /// incident. Returns the record and whether it is new.
    pub async fn record(&self, finding: Finding) -> Result<(Record, bool), RecordingError> {
        if let Some(healing) = &self.healing {
            healing.came_back(&self.store, &finding.fingerprint).await;
        }
        let store = self.store.clone();
        let redactor = self.redactor.clone();
        let run = self.run.clone();
        // SQLite blocks: the write runs on the blocking pool, never on the server's threads.
        let (record, is_new) = tokio::task::spawn_blocking(move || {
            // Locals, tags and messages are the sender's data, secrets included.
            store.upsert_finding(finding, 1, Export::NewOnly, &run, &redactor, |_| {})
        })
        .await??;
        if !is_new {
            self.behind.note(&record.id);
        }
        if is_new {
            tracing::info!(
                "incident {}: {} at {} (reported by an SDK)",
                record.id,
                record.error.exc_type,
                record.place()
            );
            if let Some(n) = &self.notifier {
                n.alert(&record);
            }
            if let Some(healing) = &self.healing
                && record.status == crate::record::model::Status::Detected
            {
                healing.heal(&record.id);
            }
        }
        Ok((record, is_new))
    }
}
