//! Fixes under watch after they were applied: when the error a fix was meant to remove comes
//! back within `watch_seconds`, the fix did not work, and the live files go back to their
//! backups (and its commit is reverted). Whatever source saw the error come back (the
//! incidents task of `heal run`, or the recorder of `heal serve`) calls [`roll_back`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::apply::Backup;
use crate::config::Config;
use crate::notify::Notifier;
use crate::pipeline::publish::GitJob;
use crate::record::model::Status;
use crate::record::{Store, off_thread};

/// A fix recently applied: if its error comes back within the watch window, it is rolled back.
#[derive(Debug, Clone)]
pub struct Watched {
    pub fingerprint: String,
    pub incident: String,
    pub backups: Vec<Backup>,
    pub applied_at: Instant,
}

/// The fixes under watch, shared with the incidents task that sees errors come back.
#[derive(Debug, Default)]
pub struct Watch {
    entries: Mutex<Vec<Watched>>,
}

impl Watch {
    pub(super) fn add(&self, entry: Watched) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.push(entry);
        }
    }

    /// Takes the fix for `fingerprint` applied less than `window` ago, if any.
    pub fn take(&self, fingerprint: &str, window: Duration) -> Option<Watched> {
        let mut entries = self.entries.lock().ok()?;
        entries.retain(|e| e.applied_at.elapsed() <= window);
        let at = entries.iter().position(|e| e.fingerprint == fingerprint)?;
        Some(entries.remove(at))
    }
}

/// Rolls back the fix `watched`: its error came back soon after it was applied. The live files
/// return to their backups, the incident is `regressed`, its commit is queued for revert on
/// `git`, and the team is told.
pub async fn roll_back(
    store: &Arc<Store>,
    config: &Config,
    notifier: Option<&Notifier>,
    git: Option<&mpsc::UnboundedSender<GitJob>>,
    watched: Watched,
) {
    let store = store.clone();
    let root = config.root.clone();
    let window = config.healing.watch.as_secs();
    let incident = watched.incident.clone();
    let rolled_back = off_thread("record the rollback", move || {
        let restored = crate::apply::restore(&root, &watched.backups);
        let reason = match &restored {
            Ok(()) => format!(
                "the same error came back within {window} s of the fix: the fix was rolled back from its backups"
            ),
            Err(e) => format!(
                "the same error came back within {window} s of the fix, and rolling it back failed: {e}"
            ),
        };
        store.update(&watched.incident, |r| {
            r.status = Status::Regressed;
            r.heal_failures = r.heal_failures.saturating_add(1);
            r.result_mut().ended(Status::Regressed, &reason);
            r.reason = Some(reason);
        })
    })
    .await;
    if let Some(git) = git {
        // Queued after the fix's own commit job, so it sees whatever that committed.
        let _ = git.send(GitJob::Revert {
            id: incident.clone(),
        });
    }
    if let Some(record) = rolled_back {
        tracing::warn!(
            "incident {}: {}",
            record.id,
            record.reason.as_deref().unwrap_or("regressed")
        );
        if let Some(n) = notifier {
            n.update(&record);
            n.stage(
                &record,
                &format!("↩️ {}", record.reason.as_deref().unwrap_or("regressed")),
            );
        }
    }
}
