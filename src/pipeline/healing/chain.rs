//! Crash chains. A fix whose re-run shows progress (the incident's error is gone and the
//! program stops further on, at a new error in code the fix did not touch) is one link: the
//! next error becomes its own incident, found in the proof copy, and is healed on top of the
//! proved links (rules first, then the model, under the same gates), up to
//! `verify.max_chain` links. Then every proved link is applied, in order, under one restart
//! of the live program; each keeps its own record, commit and report, so `heal revert ID`
//! undoes one link without the others. A chain that stops at a link that cannot be fixed
//! still applies the links before it, and says so.

use std::time::Instant;

use super::{Healer, Outcome, Verdict};
use crate::detect::locate::locate_traceback;
use crate::prove::{Next, Pending};
use crate::record::build::{Finding, RunContext};
use crate::record::model::{Record, Status};
use crate::record::result::ChainNote;
use crate::record::{journal, off_thread};

/// One link: an incident and what seeking its fix came to.
pub(super) struct Link {
    record: Record,
    outcome: Outcome,
}

impl Healer {
    /// Seeks and proves the fixes of `first` and of the errors behind it. Cancellable: it
    /// writes nothing to the live tree.
    pub(super) async fn find_chain(&self, first: Record) -> Vec<Link> {
        let max = self.config.healing.max_chain.max(1);
        let mut pending = Pending::default();
        let mut links: Vec<Link> = Vec::new();
        let mut record = first;
        loop {
            let outcome = self.fix_one(&record, &pending).await;
            let next = match &outcome {
                Outcome::Proved(proved) => {
                    pending.add(&proved.plan);
                    proved.next.clone()
                }
                Outcome::Ended(_) => None,
            };
            let previous = record.clone();
            links.push(Link { record, outcome });
            let Some(next) = next else { break };
            if links.len() >= max {
                tracing::info!(
                    "incident {}: the fixed program gets further, to another error; the chain \
                     stops at verify.max_chain = {max} links",
                    previous.id
                );
                break;
            }
            match self.open_next(next, &previous).await {
                Some(r) => record = r,
                None => break,
            }
        }
        links
    }

    /// The incident of the error a proved fix's re-run stopped at, taken for healing; `None`
    /// when it is not for healing (another healing has it, or it is fixed).
    async fn open_next(&self, next: Next, previous: &Record) -> Option<Record> {
        let root = self.config.root.to_string_lossy().into_owned();
        let canonical = std::fs::canonicalize(&self.config.root)
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_else(|_| root.clone());
        let location = locate_traceback(&next.traceback, &root, &[canonical.as_str()]);
        let finding = Finding::from_traceback(&next.traceback, location);
        let run = RunContext {
            command: previous.context.command.clone(),
            tags: previous.context.tags.clone(),
            skip_reason: None,
        };
        let store = self.store.clone();
        let redactor = self.config.redactor.clone();
        let fingerprint = finding.fingerprint.clone();
        let from = previous.id.clone();
        let (record, is_new) = off_thread("record the next link of the chain", move || {
            let now = time::OffsetDateTime::now_utc();
            let now_text = crate::record::rfc3339(now);
            // No occurrence: the error was seen in a proof copy, not in the program.
            store.upsert(&fingerprint, 0, now, |id| {
                let mut record = finding.into_record(id, &now_text, &run);
                record.context.found_in_proof = Some(from);
                record.redact(&redactor);
                record
            })
        })
        .await?;
        tracing::info!(
            "incident {}: its fixed program gets further, to {} ({})",
            previous.id,
            record.error.exc_type,
            record.id
        );
        if let Some(n) = &self.notifier {
            n.stage(
                previous,
                &format!(
                    "🔗 With the fix for {}, the program gets further and stops at a new error, {} ({}): healing it in the same copy",
                    previous.id, record.error.exc_type, record.id
                ),
            );
            if is_new {
                n.alert(&record);
            }
        }
        self.take(&record.id).await
    }

    /// Applies the proved links in order, then records, commits and reports each. Returns
    /// whether any fix was applied.
    pub(super) async fn finish_chain(&self, links: Vec<Link>, started: Instant) -> bool {
        let ids: Vec<String> = links.iter().map(|l| l.record.id.clone()).collect();
        let chained = ids.len() > 1;
        let stopped = links.last().and_then(|l| match &l.outcome {
            Outcome::Ended(v) if chained => Some((l.record.id.clone(), v.reason.clone())),
            _ => None,
        });
        let mut broken: Option<String> = None;
        let mut any_applied = false;
        for (position, link) in links.into_iter().enumerate() {
            let Link { record, outcome } = link;
            let mut verdict = match outcome {
                Outcome::Ended(verdict) => verdict,
                Outcome::Proved(proved) => match &broken {
                    // A link is planned on the text the earlier ones leave: without them it
                    // cannot be applied.
                    Some(earlier) => Verdict::new(
                        Status::Failed,
                        format!(
                            "a proved fix was not applied: the earlier link {earlier} of its crash chain could not be applied"
                        ),
                        false,
                    ),
                    None => {
                        let mut timings = proved.timings;
                        let mut verdict =
                            self.apply_proved(&record, &proved.plan, &mut timings).await;
                        if verdict.status == Status::Applied {
                            if let Some(w) = &proved.weaker {
                                verdict.reason =
                                    format!("{}; the proof was weaker: {w}", verdict.reason);
                            }
                        } else {
                            broken = Some(record.id.clone());
                        }
                        verdict
                    }
                },
            };
            if chained {
                verdict.reason = format!(
                    "{} [link {} of {} of a crash chain: {}]",
                    verdict.reason,
                    position + 1,
                    ids.len(),
                    ids.join(" → ")
                );
                if verdict.status == Status::Applied
                    && let Some((at, why)) = &stopped
                {
                    verdict.reason = format!(
                        "{}; the chain stopped at {at}, which was not fixed: {why}",
                        verdict.reason
                    );
                }
            }
            let chain = chained.then(|| ChainNote {
                links: ids.clone(),
                position: position + 1,
                stopped_at: stopped.as_ref().map(|(at, _)| at.clone()),
            });
            any_applied |= verdict.status == Status::Applied;
            self.finish(&record, verdict, chain, started).await;
        }
        any_applied
    }

    /// Records how the healing of `record` ended, hands an applied fix to the git lane (which
    /// reports it once committed), or reports the end now.
    async fn finish(
        &self,
        record: &Record,
        mut verdict: Verdict,
        chain: Option<ChainNote>,
        started: Instant,
    ) {
        let id = record.id.clone();
        let status = verdict.status;
        let applied = std::mem::take(&mut verdict.applied);
        let total = started.elapsed();
        if let Some(record) = self
            .save(&id, move |r| {
                r.status = verdict.status;
                r.reason = Some(verdict.reason.clone());
                if verdict.failure {
                    r.heal_failures = r.heal_failures.saturating_add(1);
                }
                let result = r.result_mut();
                result.ended(verdict.status, &verdict.reason);
                if let Some(chain) = chain {
                    result.chain = Some(chain);
                }
                r.timings_ms
                    .insert("healing".to_string(), total.as_millis() as u64);
            })
            .await
        {
            // One line per incident's end; the detail is in the record (`heal show`).
            tracing::info!(
                "incident {id}: {}: {}",
                record.status.as_str(),
                crate::term::summary(record.reason.as_deref().unwrap_or(""), &id)
            );
            // An applied fix is committed, then reported, by the git lane; queued only now
            // that the record says `applied`, in chain order.
            let reported_later = status == Status::Applied
                && self.git.as_ref().is_some_and(|git| {
                    git.send(super::super::publish::GitJob::Publish {
                        id: id.clone(),
                        changes: applied,
                    })
                    .is_ok()
                });
            if let Some(n) = &self.notifier
                && !reported_later
            {
                n.update(&record);
                n.stage(&record, &crate::notify::render::report_text(&record));
            }
        }
        self.journal_done(&id, journal::step::HEAL).await;
    }
}
