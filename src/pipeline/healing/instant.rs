//! The instant rules' path through healing: a deterministic fix, proved and judged by the
//! policy exactly like a model's, but with no model and nothing counted against the hourly call
//! limit.

use std::time::Instant;

use super::report::{add_proof, proof_steps};
use super::{Healer, Outcome, Proved, Refused, Timings};
use crate::analyse::Confidence;
use crate::apply::{self, Plan, Scope};
use crate::prove::{Pending, Prover};
use crate::record::model::{Analysis, Fix, Record, Status};
use crate::record::result::InstantNote;
use crate::rules;

/// What the instant rules did.
pub(super) enum RuleOutcome {
    /// No rule was sure (or rules are off): the model's turn.
    NotApplicable,
    /// A rule's fix was refused, or failed its proof: the model's turn, and this says why.
    Unproved(String),
    /// A rule's fix passed its proof.
    Proved(Box<Proved>),
}

impl Healer {
    /// Tries the instant rules on `record`, in the code as the pending links leave it.
    pub(super) async fn instant(
        &self,
        record: &Record,
        pending: &Pending,
        prover: &Prover,
    ) -> RuleOutcome {
        let h = &self.config.healing;
        let Ok(scope) = &self.scope else {
            return RuleOutcome::NotApplicable;
        };
        if !h.instant_enabled {
            return RuleOutcome::NotApplicable;
        }
        let Some((rel, line)) = error_site(record, scope) else {
            return RuleOutcome::NotApplicable;
        };
        let Ok(abs) = scope.check(&rel) else {
            return RuleOutcome::NotApplicable;
        };
        let Some(source) = Healer::read(pending, &rel, &abs)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        else {
            return RuleOutcome::NotApplicable;
        };
        let input = rules::RuleInput {
            error: &record.error,
            file: &rel,
            line,
            source: &source,
        };
        let Some(fix) = rules::instant_fix(&input, &h.instant_rules) else {
            return RuleOutcome::NotApplicable;
        };
        let id = record.id.clone();
        self.save(&id, |r| r.status = Status::Healing).await;
        let plan = Plan {
            files: vec![apply::PlannedFile {
                rel: rel.clone(),
                abs,
                before: source.clone(),
                after: fix.after.clone(),
            }],
        };
        if let Some(why) = self.policy_refusal(record, &plan) {
            return RuleOutcome::Unproved(format!(
                "the instant fix (rule `{}`) was refused by the scope policy: {why}",
                fix.rule
            ));
        }
        let key = Refused::key(&record.fingerprint, &plan);
        if let Some(before) = self.refused.get(&key) {
            return RuleOutcome::Unproved(format!(
                "the instant fix (rule `{}`) already failed its proof on this code, and was not \
                 proved again: {before}",
                fix.rule
            ));
        }
        if let Some(n) = &self.notifier {
            n.stage(
                record,
                &format!(
                    "⚡ Instant fix for {id} (rule `{}`, no model): {}. Proving it in an isolated copy…",
                    fix.rule, fix.summary
                ),
            );
        }
        let mut timings = Timings::default();
        let t = Instant::now();
        let validation = prover.prove(&plan, pending).await;
        timings.prove += t.elapsed();
        if !validation.passed {
            let failure = validation
                .failure
                .clone()
                .unwrap_or_else(|| "the proof failed".to_string());
            self.refused.put(key, failure.clone());
            let why = format!(
                "the instant fix (rule `{}`) did not pass its proof: {failure}",
                fix.rule
            );
            // The end of the healing says it on the terminal; this step is for HEAL_LOG=debug.
            tracing::debug!("incident {id}: {why}");
            let note = InstantNote {
                rule: fix.rule.to_string(),
                summary: fix.summary.clone(),
                passed: false,
                failure,
            };
            self.save(&id, move |r| r.result_mut().instant = Some(note))
                .await;
            return RuleOutcome::Unproved(why);
        }
        let source_name = format!("rule:{}", fix.rule);
        let analysis = Analysis {
            fixable: true,
            reason: format!("Python's own error names the cure (rule `{}`)", fix.rule),
            error_category: fix.category,
            root_cause: fix.cause.clone(),
            affected_file: rel,
            confidence: Confidence::High,
            explanation: fix.summary.clone(),
            changes_summary: fix.summary.clone(),
            source: Some(source_name.clone()),
            ..Analysis::default()
        };
        let mut recorded = Fix {
            source: source_name,
            rule: Some(fix.rule.to_string()),
            explanation: fix.summary.clone(),
            changes_summary: fix.summary.clone(),
            attempts: 1,
            validation: proof_steps(&validation),
            diff: Some(plan.diff()),
            ..Fix::default()
        };
        add_proof(&mut recorded, &validation);
        self.save(&id, move |r| {
            r.analysis = Some(analysis);
            r.fix = Some(recorded);
        })
        .await;
        RuleOutcome::Proved(Box::new(Proved {
            plan,
            next: validation.next,
            weaker: validation.weaker,
            timings,
        }))
    }

    /// Seeks a fix for one incident: the gates, the rules, then the model.
    pub(super) async fn fix_one(&self, record: &Record, pending: &Pending) -> Outcome {
        if let Some(verdict) = self.fix_gates(record) {
            return Outcome::Ended(verdict);
        }
        let prover = self.prover(record).await;
        match self.instant(record, pending, &prover).await {
            RuleOutcome::Proved(proved) => Outcome::Proved(proved),
            outcome => match self.model_gates(record).await {
                Some(mut verdict) => {
                    if let RuleOutcome::Unproved(why) = outcome {
                        verdict.reason = format!("{why}; {}", verdict.reason);
                    }
                    Outcome::Ended(verdict)
                }
                None => self.attempt(record, pending, &prover).await,
            },
        }
    }
}

/// `file` as printed in a traceback, relative to the project root; `None` outside it.
pub(super) fn project_relative(scope: &Scope, file: &str) -> Option<String> {
    let p = std::path::Path::new(file);
    if p.is_absolute() {
        scope.relative(&std::fs::canonicalize(p).ok()?)
    } else {
        let rel = file.trim_start_matches("./");
        scope.check(rel).ok().map(|_| rel.to_string())
    }
}

/// The project file and line where the error is: a SyntaxError's own location, else the
/// innermost project frame.
fn error_site(record: &Record, scope: &Scope) -> Option<(String, u32)> {
    if let Some((path, line, _)) = rules::syntax_location(&record.error) {
        return Some((project_relative(scope, &path)?, line));
    }
    Some((record.context.file.clone()?, record.context.line?))
}
