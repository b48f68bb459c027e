//! The commit stage's task: applied fixes are committed, pushed or proposed one at a time, off
//! the healer's path, so a slow or unreachable remote never holds up the restart of the
//! program. The final report of a fix goes out from here, once git is done with it.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use super::notes::PublishNote;
use crate::commit::revert::{Committed, Reverted};
use crate::commit::{self, Change, CommitError};
use crate::config::{Config, GitMode};
use crate::notify::Notifier;
use crate::record::model::{Record, Status};
use crate::record::result::non_empty;
use crate::record::{Store, journal, off_thread};

/// What the git lane is asked to do, in order.
pub enum GitJob {
    /// Commit (and push, or propose) the fix just applied to incident `id`.
    Publish { id: String, changes: Vec<Change> },
    /// The fix of `id` was rolled back in the live tree (it regressed): revert its commit.
    Revert { id: String },
}

pub struct Publisher {
    pub store: Arc<Store>,
    pub notifier: Option<Notifier>,
    pub config: Arc<Config>,
}

/// The git lane's queue and task, or neither when git is off.
pub type Lane = (
    Option<mpsc::UnboundedSender<GitJob>>,
    Option<tokio::task::JoinHandle<()>>,
);

impl Publisher {
    /// Starts the git lane, unless `git.mode = off`.
    pub fn start(self) -> Lane {
        if self.config.git.mode == GitMode::Off {
            return (None, None);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        (Some(tx), Some(tokio::spawn(self.run(rx))))
    }

    async fn run(self, mut jobs: mpsc::UnboundedReceiver<GitJob>) {
        while let Some(job) = jobs.recv().await {
            match job {
                GitJob::Publish { id, changes } => self.publish(&id, &changes).await,
                GitJob::Revert { id } => self.revert_regressed(&id).await,
            }
        }
    }

    async fn publish(&self, id: &str, changes: &[Change]) {
        let store = self.store.clone();
        let owned = id.to_string();
        let Some(record) = off_thread("read the fixed incident", move || store.get(&owned)).await
        else {
            return;
        };
        // Rolled back before its turn came: there is nothing to commit any more.
        if record.status != Status::Applied {
            self.journal_done(id).await;
            return;
        }
        if let Some(n) = &self.notifier
            && self.config.git.mode != GitMode::Off
        {
            n.stage(&record, &format!("📤 Committing the fix for {id}…"));
        }
        let started = Instant::now();
        // The journal learns of the commit before the push starts: a heal killed during the
        // push resumes it at its next start instead of committing again. (A small write to
        // the store, made in place: the push waits for it anyway.)
        let store = self.store.clone();
        let owned = id.to_string();
        let note = off_thread("find the commit's journal note", move || {
            store.journal_note(&owned, journal::step::PUBLISH)
        })
        .await
        .flatten();
        let store = self.store.clone();
        let on_commit = |landed: &commit::Landed| {
            if let Some(note) = note {
                let data = serde_json::to_value(PublishNote {
                    changes: changes.to_vec(),
                    landed: Some(landed.clone()),
                });
                let journaled = match data {
                    Ok(data) => store.journal_update(note, &data).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = journaled {
                    tracing::error!("cannot journal the commit of {}: {e}", landed.commit);
                }
            }
        };
        // One healer of a fleet commits and pushes at a time: the others wait their turn.
        let _git_lock = match self.store.shared() {
            Some(pg) => match pg.git_lock().await {
                Ok(lock) => Some(lock),
                Err(e) => {
                    tracing::warn!(
                        "{e}: committing without the fleet's git lock (a push that races another is refused by the remote and retried)"
                    );
                    None
                }
            },
            None => None,
        };
        let outcome = commit::publish(
            &self.config.git,
            &self.config.root,
            &record,
            changes,
            &on_commit,
        )
        .await;
        let took = started.elapsed().as_millis() as u64;
        self.finish(id, outcome, took).await;
        // Closed only once the record says how it ended: a heal killed in between resumes
        // the push, which finds it done.
        self.journal_done(id).await;
    }

    /// Records what the commit stage did and sends the final report.
    pub async fn finish(&self, id: &str, outcome: commit::Outcome, took: u64) {
        let url = outcome
            .commit
            .as_deref()
            .and_then(|c| commit::commit_url(&self.config.git, c));
        tracing::info!(
            "incident {id}: {}",
            crate::term::summary(&outcome.reason, id)
        );
        let redactor = self.config.redactor.clone();
        let store = self.store.clone();
        let owned = id.to_string();
        let saved = off_thread("record the commit", move || {
            store.update(&owned, |r| {
                if matches!(r.status, Status::Applied | Status::Interrupted) {
                    r.status = outcome.status;
                }
                let reason = r.reason.take().unwrap_or_default();
                let reason = if reason.is_empty() {
                    outcome.reason.clone()
                } else {
                    format!("{reason}; {}", outcome.reason)
                };
                let status = r.status;
                let result = r.result_mut();
                result.git = Some(outcome.git_result(url));
                result.ended(status, &reason);
                r.reason = Some(reason);
                r.timings_ms.insert("commit".into(), took);
                r.redact(&redactor);
            })
        })
        .await;
        if let (Some(record), Some(n)) = (saved, &self.notifier) {
            n.update(&record);
            n.stage(&record, &crate::notify::render::report_text(&record));
        }
    }

    async fn journal_done(&self, id: &str) {
        let store = self.store.clone();
        let id = id.to_string();
        off_thread("close the commit's journal note", move || {
            store.journal_done(&id, journal::step::PUBLISH)
        })
        .await;
    }

    /// A regressed fix's files are already back from their backups; its commit is reverted
    /// too, so the history says what the tree holds.
    async fn revert_regressed(&self, id: &str) {
        let store = self.store.clone();
        let owned = id.to_string();
        let Some(record) =
            off_thread("read the regressed incident", move || store.get(&owned)).await
        else {
            return;
        };
        let Some(fix) = committed(&record) else {
            return;
        };
        let outcome = revert_commit(&self.config, &fix).await;
        let note = match &outcome {
            Ok(r) => r.note.clone(),
            Err(e) => format!("its commit was not reverted: {e}"),
        };
        tracing::info!("incident {id}: {}", crate::term::summary(&note, id));
        let revert_commit = outcome.ok().map(|r| r.commit);
        let store = self.store.clone();
        let owned = id.to_string();
        let saved = off_thread("record the revert", move || {
            store.update(&owned, |r| {
                let reason = format!("{}; {note}", r.reason.take().unwrap_or_default());
                let result = r.result_mut();
                result.revert_commit = Some(revert_commit);
                result.reason = Some(reason.clone());
                r.reason = Some(reason);
            })
        })
        .await;
        if let (Some(record), Some(n)) = (saved, &self.notifier) {
            n.update(&record);
        }
    }
}

/// The committed fix of `record`, if its fix was committed.
pub fn committed(record: &Record) -> Option<Committed> {
    let git = record.result.as_ref()?.git.as_ref()?;
    let text = |field: &Option<String>| non_empty(field).map(str::to_string);
    Some(Committed {
        id: record.id.clone(),
        commit: text(&git.commit)?,
        local_commit: text(&git.local_commit),
        branch: text(&git.branch)?,
        remote: text(&git.remote),
        pushed: git.pushed,
    })
}

/// Whether the fix was committed on a `heal/{id}` branch (its live copy is uncommitted).
fn on_own_branch(fix: &Committed) -> bool {
    fix.branch == format!("heal/{}", fix.id)
}

/// Reverts the commit of a fix whose live files are (or are about to be) restored by the
/// caller when it was on its own branch.
pub async fn revert_commit(config: &Config, fix: &Committed) -> Result<Reverted, CommitError> {
    if on_own_branch(fix) {
        commit::revert::revert_branch(&config.git, &config.root, fix).await
    } else {
        commit::revert::revert_on_branch(&config.git, &config.root, fix).await
    }
}

/// Whether undoing `fix` needs the live files restored from backups: its live copy is not in
/// the branch's history (branch and pr modes), or there is no commit at all.
pub fn needs_backups(fix: Option<&Committed>) -> bool {
    fix.is_none_or(on_own_branch)
}

/// The changes of a plan, for the commit.
pub fn changes(plan: &crate::apply::Plan) -> Vec<Change> {
    plan.files
        .iter()
        .map(|f| Change {
            rel: f.rel.clone(),
            before: f.before.clone(),
            after: f.after.clone(),
        })
        .collect()
}
