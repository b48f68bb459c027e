//! The JSON exports an error storm leaves behind the database.
//!
//! Each export is a synced file; a program printing thousands of tracebacks a second would
//! have heal spend its time syncing the same records over and over, fall behind the
//! program's output, and pass tracebacks through unexamined. So a repeat of an open incident
//! is counted in the database at once and exported at most once per [`EXPORT_EVERY`]; a new
//! incident, a status change and the end of a run are exported at once. A heal killed in
//! between leaves an export a second behind the database, which the next start rewrites.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::record::{Store, off_thread};

/// How far behind the database an incident's export may fall during an error storm.
pub const EXPORT_EVERY: Duration = Duration::from_secs(1);

/// Incidents whose export is behind the database.
#[derive(Debug, Default)]
pub struct Deferred {
    ids: BTreeSet<String>,
    /// When the exports were last brought up to date.
    last: Option<Instant>,
}

impl Deferred {
    /// Notes that `id`'s export is behind.
    pub fn note(&mut self, id: &str) {
        self.ids.insert(id.to_string());
    }

    /// When the exports behind must be written: `None` when none is.
    pub fn due(&self) -> Option<Instant> {
        if self.ids.is_empty() {
            return None;
        }
        Some(
            self.last
                .map_or_else(Instant::now, |last| last + EXPORT_EVERY),
        )
    }

    /// Writes the exports behind if they are due.
    pub async fn write_if_due(&mut self, store: &Option<Arc<Store>>) {
        if self.due().is_some_and(|due| due <= Instant::now()) {
            self.write(store).await;
        }
    }

    /// Writes every export behind, now.
    pub async fn write(&mut self, store: &Option<Arc<Store>>) {
        self.last = Some(Instant::now());
        if self.ids.is_empty() {
            return;
        }
        let ids: Vec<String> = std::mem::take(&mut self.ids).into_iter().collect();
        if let Some(store) = store.clone() {
            off_thread("export the incidents", move || store.export_current(&ids)).await;
        }
    }
}
