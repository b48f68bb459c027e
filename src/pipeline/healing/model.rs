//! The model's path through healing: ask, plan, judge by the policy, prove; each failure is fed
//! back to the model, up to `max_attempts` fixes in all.

use std::time::Instant;

use super::report::analysis_json;
use super::{Healer, Outcome, Proved, Refused, Timings, Verdict};
use crate::analyse::{self, Conversation, Model};
use crate::apply::{self, PlanError};
use crate::prove::{Pending, Prover};
use crate::record::model::{LlmCall, LlmUsage, Record, Status};

impl Healer {
    /// Asks the model for a fix of `record` (in the code as the pending links leave it) and
    /// proves it.
    pub(super) async fn attempt(
        &self,
        record: &Record,
        pending: &Pending,
        prover: &Prover,
    ) -> Outcome {
        let (Ok(provider), Ok(scope)) = (&self.provider, &self.scope) else {
            return Outcome::Ended(Verdict::new(Status::Failed, "healing is not set up", false));
        };
        let id = record.id.clone();
        self.save(&id, |r| r.status = Status::Healing).await;
        if let Some(n) = &self.notifier {
            n.stage(
                record,
                &format!("🤖 Analysing {id} with {}…", provider.name()),
            );
        }
        let root = self.config.root.clone();
        let input = {
            let allowed = |rel: &str| scope.check(rel).is_ok();
            let over = |rel: &str| pending.text(rel).map(str::to_string);
            analyse::gather_over(record, &root, &allowed, &over)
        };
        let mut conv = Conversation::new(analyse::render(&input));
        let max_attempts = self.config.healing.max_attempts.max(1);
        let mut attempts = 0;
        let mut counted = 0;
        let mut timings = Timings::default();
        let read = |rel: &str, abs: &std::path::Path| Healer::read(pending, rel, abs);
        loop {
            attempts += 1;
            let t = Instant::now();
            let asked = analyse::analyse(provider, &mut conv).await;
            timings.analyse += t.elapsed();
            counted = self.count_calls(&id, &conv, counted).await;
            let fix = match asked {
                Ok((fix, _)) => fix,
                Err(e) => return Outcome::Ended(Verdict::new(Status::Failed, e.to_string(), true)),
            };
            let analysis = analysis_json(&fix);
            self.save(&id, move |r| r.analysis = Some(analysis)).await;
            if !fix.fixable {
                return Outcome::Ended(Verdict::new(
                    Status::Skipped,
                    format!(
                        "the model says this cannot be fixed automatically: {}",
                        fix.reason
                    ),
                    true,
                ));
            }
            if fix.confidence < self.config.healing.min_confidence {
                return Outcome::Ended(Verdict::new(
                    Status::Skipped,
                    format!(
                        "the model's confidence ({}) is below AUTO_FIX_MIN_CONFIDENCE ({})",
                        fix.confidence.as_str(),
                        self.config.healing.min_confidence.as_str()
                    ),
                    true,
                ));
            }
            let plan = match apply::plan_with(scope, &fix.edits, &read) {
                Ok(plan) => plan,
                Err(PlanError::Edit { file, source }) if attempts < max_attempts => {
                    conv.follow_up(&analyse::prompt::edit_failed(
                        source.index + 1,
                        &file,
                        &source.kind.to_string(),
                    ));
                    self.record_fix(&id, &fix, attempts, None, None).await;
                    continue;
                }
                Err(e) => {
                    self.record_fix(&id, &fix, attempts, None, None).await;
                    return Outcome::Ended(Verdict::new(
                        Status::Rejected,
                        format!("the fix was rejected, nothing was written: {e}"),
                        true,
                    ));
                }
            };
            if let Some(why) = self.policy_refusal(record, &plan) {
                self.record_fix(&id, &fix, attempts, None, Some(&plan))
                    .await;
                if attempts < max_attempts {
                    conv.follow_up(&analyse::prompt::policy_refused(&why));
                    continue;
                }
                return Outcome::Ended(Verdict::new(
                    Status::Rejected,
                    format!("the fix was refused by the scope policy, nothing was written: {why}"),
                    true,
                ));
            }
            let key = Refused::key(&record.fingerprint, &plan);
            if let Some(before) = self.refused.get(&key) {
                // The same fix on the same code fails the same way: no need to prove it again.
                let failure =
                    format!("This exact fix was already proved on this code and failed: {before}");
                self.record_candidate(
                    &id,
                    &fix,
                    attempts,
                    None,
                    Some(&plan),
                    Some(failure.clone()),
                )
                .await;
                if attempts < max_attempts {
                    conv.follow_up(&analyse::prompt::validation_failed("proof", &failure));
                    continue;
                }
                return Outcome::Ended(Verdict::new(
                    Status::Rejected,
                    format!("the fix did not pass its proof, nothing was written: {failure}"),
                    true,
                ));
            }
            if let Some(n) = &self.notifier {
                n.stage(
                    record,
                    &format!(
                        "🔧 Fix proposed for {id}: {}. Proving it in an isolated copy…",
                        fix.changes_summary
                    ),
                );
            }
            let t = Instant::now();
            let validation = prover.prove(&plan, pending).await;
            timings.prove += t.elapsed();
            self.record_fix(&id, &fix, attempts, Some(&validation), Some(&plan))
                .await;
            if !validation.passed {
                let failure = validation
                    .failure
                    .clone()
                    .unwrap_or_else(|| "the proof failed".to_string());
                self.refused.put(key, failure.clone());
                if attempts < max_attempts {
                    let step = validation.steps.iter().find(|s| !s.passed);
                    conv.follow_up(&analyse::prompt::validation_failed(
                        step.map(|s| s.name.as_str()).unwrap_or("proof"),
                        &failure,
                    ));
                    continue;
                }
                return Outcome::Ended(Verdict::new(
                    Status::Rejected,
                    format!("the fix did not pass its proof, nothing was written: {failure}"),
                    true,
                ));
            }
            return Outcome::Proved(Box::new(Proved {
                plan,
                next: validation.next,
                weaker: validation.weaker,
                timings,
            }));
        }
    }

    /// Counts the model calls made since the last count against the hourly limit and records
    /// their cost; returns how many are counted now.
    async fn count_calls(&self, id: &str, conv: &Conversation, counted: usize) -> usize {
        let usage = conv.usage().to_vec();
        let new: Vec<_> = usage.iter().skip(counted).cloned().collect();
        let store = self.store.clone();
        let owned_id = id.to_string();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let _ = tokio::task::spawn_blocking(move || {
            for u in &new {
                if let Err(e) = store.add_llm_call(now, &owned_id, &u.model) {
                    tracing::error!("cannot count a model call: {e}");
                }
            }
        })
        .await;
        let calls: Vec<LlmCall> = usage
            .iter()
            .map(|u| LlmCall {
                model: u.model.clone(),
                input_tokens: u.input_tokens,
                output_tokens: u.output_tokens,
                latency_ms: u.latency_ms,
                attempts: u.attempts,
            })
            .collect();
        let total = LlmUsage {
            model: calls.last().map(|c| c.model.clone()).unwrap_or_default(),
            input_tokens: calls.iter().map(|c| c.input_tokens).sum(),
            output_tokens: calls.iter().map(|c| c.output_tokens).sum(),
            latency_ms: calls.iter().map(|c| c.latency_ms).sum(),
            calls,
        };
        self.save(id, |r| r.llm = Some(total)).await;
        usage.len()
    }
}
