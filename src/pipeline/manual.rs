//! What people ask for by hand: `heal retry ID` and `heal revert ID`.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::healing::Healer;
use super::publish;
use super::services::{Ending, Services};
use crate::config::Config;
use crate::record::Store;
use crate::record::model::{Record, Status};

/// `heal retry ID`: heals the incident again, as if new: its failure count starts over. A fix
/// applied is committed as `git.mode` says before this returns.
pub async fn retry(
    config: Arc<Config>,
    store: Arc<Store>,
    id: &str,
) -> Result<Record, crate::record::RecordError> {
    let mut services = Services::start(config.clone(), Some(store.clone()));
    let reset_id = id.to_string();
    let reset_store = store.clone();
    tokio::task::spawn_blocking(move || {
        reset_store.update(&reset_id, |r| {
            r.status = Status::Detected;
            r.heal_failures = 0;
            r.reason = Some("healing retried on request (heal retry)".to_string());
        })
    })
    .await
    .map_err(|_| crate::record::RecordError::Poisoned)??;
    let (restart_tx, _restart_rx) = mpsc::unbounded_channel();
    services.start_git_lane();
    // An error an SDK reported to heal serve is reproduced by serve.rerun_command.
    let command = match store.get(id)?.context.command {
        c if c.is_empty() => config.serve.rerun_command.clone(),
        c => c,
    };
    // Without a usable sandbox, retry proves as `heal run` would (and refuses model fixes);
    // a required one that cannot start leaves the incident as it was.
    let jail = match crate::prove::jail::Jail::start(
        &config.healing.jail,
        &config.root,
        &crate::config::secret_names(),
        &command,
    ) {
        Ok(jail) => std::sync::Arc::new(jail),
        Err(e) => {
            tracing::error!("{e}");
            return store.get(id);
        }
    };
    let healer = Healer::new(
        store.clone(),
        services.notifier.clone(),
        config,
        command,
        restart_tx,
        services.git.clone(),
    )
    .with_jail(jail);
    healer.heal(id).await;
    drop(healer);
    services.shutdown(Ending::Finished).await;
    store.get(id)
}

/// `heal revert ID`: undoes an incident's fix. A committed fix is reverted with a revert commit
/// (pushed where the fix was pushed) and the live files follow; a fix never committed, or
/// committed on its own `heal/{id}` branch, is restored from its backups in the live tree.
pub async fn revert(
    config: Arc<Config>,
    store: Arc<Store>,
    id: &str,
) -> Result<Record, RevertError> {
    let record = store.get(id)?;
    let backups = backups(&record);
    let fix = publish::committed(&record);
    if !record.status.is_fixed() || (fix.is_none() && backups.is_empty()) {
        return Err(RevertError::NothingToRevert {
            id: id.to_string(),
            status: record.status.as_str().to_string(),
        });
    }
    let mut notes = Vec::new();
    let mut revert_commit = None;
    if let Some(fix) = &fix {
        // The commit first: when it conflicts, nothing at all has changed.
        match publish::revert_commit(&config, fix).await {
            Ok(reverted) => {
                notes.push(reverted.note);
                revert_commit = Some(reverted.commit);
            }
            // On its own branch, the fix's commit is only a proposal: the live tree is what
            // matters, and it is restored below whatever git says.
            Err(e) if publish::needs_backups(Some(fix)) => {
                notes.push(format!(
                    "the commit on {} was not reverted: {e}",
                    fix.branch
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    if publish::needs_backups(fix.as_ref()) {
        crate::apply::restore(&config.root, &backups)?;
        let files: Vec<&str> = backups.iter().map(|b| b.file.as_str()).collect();
        notes.insert(0, format!("{} restored from backups", files.join(", ")));
    }
    let reason = format!("reverted on request: {}", notes.join("; "));
    let record = store.update(id, |r| {
        r.status = Status::Reverted;
        let result = r.result_mut();
        result.ended(Status::Reverted, &reason);
        result.revert_commit = Some(revert_commit);
        r.reason = Some(reason);
    })?;
    let services = Services::start(config, Some(store));
    if let Some(n) = &services.notifier {
        n.update(&record);
        n.stage(
            &record,
            &format!("↩️ {}", record.reason.as_deref().unwrap_or("reverted")),
        );
    }
    services.shutdown(Ending::Finished).await;
    Ok(record)
}

fn backups(record: &Record) -> Vec<crate::apply::Backup> {
    record
        .fix
        .iter()
        .flat_map(|f| &f.backups)
        .map(|b| crate::apply::Backup {
            file: b.file.clone(),
            backup: b.backup.clone().into(),
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum RevertError {
    #[error("{id} has no applied fix to revert (its status is {status})")]
    NothingToRevert { id: String, status: String },
    #[error(transparent)]
    Record(#[from] crate::record::RecordError),
    #[error(transparent)]
    Apply(#[from] crate::apply::ApplyError),
    #[error(transparent)]
    Git(#[from] crate::commit::CommitError),
}
