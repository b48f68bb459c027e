//! Writing a proved fix to the live tree: journaled first, backups before any write, under the
//! project lock, then put under watch and handed to the git lane through the verdict.

use std::time::Instant;

use super::super::notes::{ApplyNote, PublishNote};
use super::report::fix_backups;
use super::{Healer, Timings, Verdict, Watched};
use crate::apply::{self, Plan};
use crate::record::model::{Record, Status};
use crate::record::{journal, off_thread};

impl Healer {
    /// Applies `plan`, a proved fix of `record`.
    pub(super) async fn apply_proved(
        &self,
        record: &Record,
        plan: &Plan,
        timings: &mut Timings,
    ) -> Verdict {
        let id = record.id.clone();
        if let Some(n) = &self.notifier {
            n.stage(record, &format!("✏️ Applying the fix for {id}…"));
        }
        // The journal knows what the live files were before a single byte is written, so a
        // heal killed half-way is undone at its next start.
        let note = serde_json::to_value(ApplyNote::of(plan));
        let store = self.store.clone();
        let owned = id.clone();
        let journaled = match note {
            Ok(note) => {
                off_thread("journal the fix", move || {
                    store.journal_add(&owned, journal::step::APPLY, &note)
                })
                .await
            }
            Err(e) => {
                tracing::error!("cannot journal the fix of {id}: {e}");
                None
            }
        };
        if journaled.is_none() {
            return Verdict::new(
                Status::Failed,
                "the fix was not applied: heal cannot write its journal (see heal's log)",
                false,
            );
        }
        let t = Instant::now();
        let storage = self.config.storage_dir.clone();
        let errors_dir = self.store.errors_dir().to_path_buf();
        let owned_plan = plan.clone();
        let owned = id.clone();
        // One fix edits the tree at a time, across heal processes.
        let applied = tokio::task::spawn_blocking(move || {
            let _lock = apply::lock::lock(&storage).map_err(|source| apply::ApplyError::Lock {
                path: storage.join("heal.lock"),
                source,
            })?;
            apply::apply(&owned_plan, &errors_dir, &owned)
        })
        .await
        .unwrap_or_else(|e| {
            Err(apply::ApplyError::Lock {
                path: self.config.storage_dir.join("heal.lock"),
                source: std::io::Error::other(e.to_string()),
            })
        });
        if applied.is_ok() && self.git.is_some() {
            let note = PublishNote {
                changes: super::super::publish::changes(plan),
                landed: None,
            };
            let store = self.store.clone();
            let owned = id.clone();
            match serde_json::to_value(note) {
                Ok(note) => {
                    off_thread("journal the commit to come", move || {
                        store.journal_add(&owned, journal::step::PUBLISH, &note)
                    })
                    .await;
                }
                Err(e) => tracing::error!("cannot journal the commit to come of {id}: {e}"),
            }
        }
        self.journal_done(&id, journal::step::APPLY).await;
        timings.apply += t.elapsed();
        self.save_timings(&id, timings).await;
        match applied {
            Ok(applied) => {
                let backups = fix_backups(&applied.backups);
                self.save(&id, move |r| {
                    if let Some(fix) = r.fix.as_mut() {
                        fix.backups = backups;
                    }
                })
                .await;
                self.watch.add(Watched {
                    fingerprint: record.fingerprint.clone(),
                    incident: id.clone(),
                    backups: applied.backups,
                    applied_at: Instant::now(),
                });
                let files: Vec<&str> = plan.files.iter().map(|f| f.rel.as_str()).collect();
                let mut verdict = Verdict::new(
                    Status::Applied,
                    format!(
                        "a proved fix was applied to {} (backups in {})",
                        files.join(", "),
                        self.store.errors_dir().display()
                    ),
                    false,
                );
                verdict.applied = super::super::publish::changes(plan);
                verdict
            }
            Err(e) => Verdict::new(
                Status::Failed,
                format!("the fix could not be applied: {e}"),
                true,
            ),
        }
    }
}
