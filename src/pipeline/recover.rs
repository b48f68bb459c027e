//! Recovery at start: what a heal that died (SIGKILL, power loss, OOM) left in flight, finished
//! or undone before the program is started again.
//!
//! The journal's notes of processes that are gone say exactly what was under way:
//! - `apply`: files were being written. They are put back as they were before the fix (the
//!   note holds their old text): undone, never half. The incident is `interrupted`, and healed
//!   again on its next occurrence.
//! - `publish`: the fix was in the tree, its commit or push to come. It is finished: committed
//!   and pushed now, or only pushed when the commit had landed.
//! - `heal`: the incident was being analysed or proved; nothing was written. `interrupted`.
//!
//! - `child`: the program the dead heal ran. Still running, it is stopped (SIGTERM to its
//!   group, SIGKILL after the stop grace) before a new copy starts.
//!
//! Then, when any process died (its `run` note is left), the proof copies of dead processes are
//! removed (and their worktrees unregistered), and every record's JSON export is rewritten from
//! the database.

use std::path::Path;
use std::sync::Arc;

use super::notes::{self, ApplyNote, PublishNote};
use super::publish::Publisher;
use crate::commit;
use crate::config::Config;
use crate::notify::Notifier;
use crate::record::journal::{self, Entry, step};
use crate::record::model::Status;
use crate::record::{RecordError, Store};

/// Finishes or undoes what dead heal processes left; returns one line per thing done, for the
/// log and Slack.
pub async fn recover(
    config: &Arc<Config>,
    store: &Arc<Store>,
    notifier: Option<&Notifier>,
) -> Vec<String> {
    let mut done = Vec::new();
    let entries = match store.journal() {
        Ok(entries) => entries,
        Err(e) => {
            tracing::error!("cannot read the journal: {e}");
            return done;
        }
    };
    let dead: Vec<Entry> = entries
        .into_iter()
        .filter(|e| !journal::alive(e.pid))
        .collect();
    // A clean exit leaves no note: with none, there is nothing to recover, and start-up stays
    // free of the sweep and the re-export below.
    if dead.is_empty() {
        return done;
    }
    // The programs of dead heals first: the files are put back or finished with nothing of
    // theirs running, and the program is never started twice.
    for entry in dead.iter().filter(|e| e.step == step::CHILD) {
        if let Some(line) = stop_orphan(config, entry).await {
            done.push(line);
        }
        let _ = store.journal_remove(entry.id);
    }
    // Undo first, then finish, then close: an incident may have several notes.
    for entry in dead.iter().filter(|e| e.step == step::APPLY) {
        done.push(undo_apply(config, store, entry));
    }
    for entry in dead.iter().filter(|e| e.step == step::PUBLISH) {
        done.push(finish_publish(config, store, notifier, entry).await);
    }
    for entry in dead.iter().filter(|e| e.step == step::HEAL) {
        if let Some(line) = close_healing(store, entry) {
            done.push(line);
        }
        let _ = store.journal_remove(entry.id);
    }
    for entry in dead.iter().filter(|e| e.step == step::RUN) {
        let _ = store.journal_remove(entry.id);
    }
    let swept = sweep_sandboxes(&config.root);
    if swept > 0 {
        done.push(format!(
            "removed {swept} proof cop{} left by a heal that was stopped",
            if swept == 1 { "y" } else { "ies" }
        ));
    }
    if let Err(e) = store.reexport_all() {
        tracing::error!("cannot rewrite the records' JSON files: {e}");
    }
    done
}

/// Puts the files of an interrupted apply back as they were.
fn undo_apply(config: &Config, store: &Store, entry: &Entry) -> String {
    let note: ApplyNote = notes::read(&entry.data);
    let mut restored = Vec::new();
    let mut failed = Vec::new();
    for f in &note.files {
        let (rel, before) = (f.file.as_str(), f.before.as_str());
        let path = config.root.join(rel);
        let live = std::fs::read(&path).ok();
        if live.as_deref() == Some(before.as_bytes()) {
            continue;
        }
        let like = std::fs::metadata(&path).ok();
        match crate::apply::atomic::write(&path, before.as_bytes(), like.as_ref()) {
            Ok(()) => restored.push(rel.to_string()),
            Err(e) => failed.push(format!("{rel} ({e})")),
        }
    }
    let what = if failed.is_empty() {
        if restored.is_empty() {
            "no file had been written yet".to_string()
        } else {
            format!("{} put back as it was", restored.join(", "))
        }
    } else {
        format!(
            "could not put back {}: restore them from storage/errors/{}_backup_*",
            failed.join(", "),
            entry.incident
        )
    };
    let reason = format!(
        "heal was stopped while writing this fix; undone at its next start: {what}; it will be healed again on its next occurrence"
    );
    mark_interrupted(store, &entry.incident, &reason);
    let _ = store.journal_remove(entry.id);
    format!("incident {}: {reason}", entry.incident)
}

/// Commits and pushes (or only pushes) a fix that was in the tree when heal stopped.
async fn finish_publish(
    config: &Arc<Config>,
    store: &Arc<Store>,
    notifier: Option<&Notifier>,
    entry: &Entry,
) -> String {
    let id = entry.incident.clone();
    let record = match store.get(&id) {
        Ok(r) => r,
        Err(e) => {
            let _ = store.journal_remove(entry.id);
            return format!("incident {id}: its commit could not be resumed: {e}");
        }
    };
    let PublishNote { changes, landed } = notes::read(&entry.data);
    let started = std::time::Instant::now();
    let mut outcome = match &landed {
        Some(landed) => commit::resume(&config.git, &config.root, &record, landed).await,
        None => {
            // The fix is in the tree only if every file still holds it.
            let in_tree = !changes.is_empty()
                && changes.iter().all(|c| {
                    std::fs::read(config.root.join(&c.rel)).ok().as_deref()
                        == Some(c.after.as_bytes())
                });
            if !in_tree {
                let _ = store.journal_remove(entry.id);
                return format!(
                    "incident {id}: heal was stopped before committing a fix the tree no longer holds; nothing was committed"
                );
            }
            commit::publish(&config.git, &config.root, &record, &changes, &|_| {}).await
        }
    };
    outcome.reason = format!("(resumed after heal was stopped) {}", outcome.reason);
    let line = format!("incident {id}: {}", outcome.reason);
    let publisher = Publisher {
        store: store.clone(),
        notifier: notifier.cloned(),
        config: config.clone(),
    };
    publisher
        .finish(&id, outcome, started.elapsed().as_millis() as u64)
        .await;
    let _ = store.journal_remove(entry.id);
    line
}

/// An incident left `healing` by a dead process: nothing was written.
fn close_healing(store: &Store, entry: &Entry) -> Option<String> {
    let record = store.get(&entry.incident).ok()?;
    if record.status != Status::Healing {
        return None;
    }
    let reason = "heal was stopped while healing this incident, before anything was written; it will be healed again on its next occurrence";
    mark_interrupted(store, &entry.incident, reason);
    Some(format!("incident {}: {reason}", entry.incident))
}

fn mark_interrupted(store: &Store, id: &str, reason: &str) {
    let result: Result<_, RecordError> = store.update(id, |r| {
        r.status = Status::Interrupted;
        r.reason = Some(reason.to_string());
        let result = r.result_mut();
        result.ended(Status::Interrupted, reason);
        // Kept when the incident is healed again, so the record still tells what happened.
        result.recovery = Some(reason.to_string());
    });
    if let Err(e) = result {
        tracing::error!("cannot record that incident {id} was interrupted: {e}");
    }
}

/// Removes the proof copies (`heal-prove-{pid}-*` in the temp dir) of processes that are gone,
/// and unregisters their worktrees from the project's repository.
fn sweep_sandboxes(root: &Path) -> usize {
    let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) else {
        return 0;
    };
    let mut removed = 0;
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(crate::prove::sandbox::SANDBOX_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if journal::alive(pid) {
            continue;
        }
        if std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        // Registrations whose folder is gone are dropped.
        let _ = std::process::Command::new("git")
            .args(["worktree", "prune"])
            .current_dir(root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
    removed
}

/// Stops the program a dead heal left running (see `supervise::orphan`); says what it did.
async fn stop_orphan(config: &Config, entry: &Entry) -> Option<String> {
    use crate::supervise::orphan::{self, ChildNote, Stopped};
    let note: ChildNote = serde_json::from_value(entry.data.clone()).ok()?;
    let command = note.command.join(" ");
    let how = match orphan::stop(&note, config.restart.stop_grace).await {
        Stopped::Gone => return None,
        Stopped::Terminated => "stopped it (SIGTERM)",
        Stopped::Killed => "killed it: it ignored SIGTERM for the stop grace",
        Stopped::Stuck => "could not stop it, even with SIGKILL: check it by hand",
    };
    Some(format!(
        "`{command}` (pid {}) was still running after the heal that started it was killed: {how}, before starting it again",
        note.pid
    ))
}
