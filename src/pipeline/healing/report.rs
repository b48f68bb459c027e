//! What the record keeps of a healing: the analysis, the fix with its proof (each step, the
//! baseline it was judged against, and whether that proof was weaker than a full one), and the
//! backups, built from the stages' own values. The record's types, whose field names are a
//! promise to users, are `record::analysis`, `record::fix` and `record::candidates`.

use super::{Healer, Timings};
use crate::analyse::{Model, ReportFix};
use crate::apply::{Backup, Plan};
use crate::prove::Validation;
use crate::record::candidates::RefusedCandidate;
use crate::record::fix::{FixBackup, ProofStep};
use crate::record::model::{Analysis, Fix};

impl Healer {
    /// Records the model's fix of attempt `attempts`, with its proof when it ran. A fix that
    /// failed its proof is also kept in `fix.refused` (attempt, summary, diff, why), so the
    /// record shows every candidate, not only the last.
    pub(super) async fn record_fix(
        &self,
        id: &str,
        fix: &ReportFix,
        attempts: u32,
        validation: Option<&Validation>,
        plan: Option<&Plan>,
    ) {
        let refusal = validation.and_then(|v| v.failure.clone());
        self.record_candidate(id, fix, attempts, validation, plan, refusal)
            .await;
    }

    /// [`Healer::record_fix`], saying why the candidate was refused when no proof ran.
    pub(super) async fn record_candidate(
        &self,
        id: &str,
        fix: &ReportFix,
        attempts: u32,
        validation: Option<&Validation>,
        plan: Option<&Plan>,
        refusal: Option<String>,
    ) {
        let source = match &self.provider {
            Ok(p) => format!("llm:{}", p.name()),
            Err(_) => "llm".to_string(),
        };
        let diff = plan.map(Plan::diff);
        let mut value = Fix {
            source,
            edits: fix.edits.clone(),
            explanation: fix.explanation.clone(),
            changes_summary: fix.changes_summary.clone(),
            attempts,
            validation: validation.map(proof_steps).unwrap_or_default(),
            diff: diff.clone(),
            ..Fix::default()
        };
        if let Some(v) = validation {
            add_proof(&mut value, v);
        }
        let refused = refusal.map(|why| RefusedCandidate {
            attempt: attempts,
            changes_summary: fix.changes_summary.clone(),
            diff,
            failure: why,
        });
        self.save(id, move |r| {
            let old = r.fix.take().unwrap_or_default();
            value.refused = old.refused;
            value.refused.extend(refused);
            // The rounds of candidates stay in the record, whichever was recorded last.
            value.candidates = old.candidates;
            // A candidate refused without a proof was judged against the same baseline, in the
            // same sandbox, as the one before it: keep what the record said of them.
            if value.baseline.is_none() {
                value.baseline = old.baseline;
                value.proof_note = old.proof_note.or(value.proof_note);
                value.sandbox = old.sandbox.or(value.sandbox);
            }
            r.fix = Some(value);
        })
        .await;
    }

    pub(super) async fn save_timings(&self, id: &str, t: &Timings) {
        let t = *t;
        self.save(id, move |r| {
            r.timings_ms
                .insert("analyse".into(), t.analyse.as_millis() as u64);
            r.timings_ms
                .insert("prove".into(), t.prove.as_millis() as u64);
            r.timings_ms
                .insert("apply".into(), t.apply.as_millis() as u64);
        })
        .await;
    }
}

/// Adds what the proof was judged against to a fix: `baseline` (what the unchanged program
/// did) and `proof_note` (why the proof was weaker, when it was).
pub(super) fn add_proof(fix: &mut Fix, v: &Validation) {
    if let Some(b) = &v.baseline {
        fix.baseline = Some(b.clone());
    }
    if let Some(w) = &v.weaker {
        fix.proof_note = Some(w.clone());
    }
    if !v.sandbox.is_empty() {
        fix.sandbox = Some(v.sandbox.clone());
    }
}

/// The record's analysis of a model's answer.
pub(super) fn analysis_of(fix: &ReportFix) -> Analysis {
    Analysis {
        fixable: fix.fixable,
        reason: fix.reason.clone(),
        error_category: fix.error_category,
        root_cause: fix.root_cause.clone(),
        affected_file: fix.affected_file.clone(),
        confidence: fix.confidence,
        explanation: fix.explanation.clone(),
        changes_summary: fix.changes_summary.clone(),
        ..Analysis::default()
    }
}

/// The proof's steps as the record keeps them.
pub(super) fn proof_steps(v: &Validation) -> Vec<ProofStep> {
    v.steps
        .iter()
        .map(|s| ProofStep {
            step: s.name.as_str().to_string(),
            command: s.command.clone(),
            exit: s.exit,
            passed: s.passed,
            detail: s.detail.clone(),
            output_tail: s.output_tail.clone(),
            duration_ms: s.duration_ms,
        })
        .collect()
}

/// The backups of an applied fix as the record keeps them.
pub(super) fn fix_backups(backups: &[Backup]) -> Vec<FixBackup> {
    backups
        .iter()
        .map(|b| FixBackup {
            file: b.file.clone(),
            backup: b.backup.display().to_string(),
        })
        .collect()
}
