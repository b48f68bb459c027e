//! What the record keeps of a healing: the analysis, the fix with its proof (each step, the
//! baseline it was judged against, and whether that proof was weaker than a full one), and the
//! backups. The JSON field names are a promise to users (the seed's record files).

use serde_json::{Value, json};

use super::{Healer, Timings};
use crate::analyse::{Model, ReportFix};
use crate::apply::{Backup, Plan};
use crate::prove::Validation;

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
        let mut value = json!({
            "source": source,
            "edits": fix.edits,
            "explanation": fix.explanation,
            "changes_summary": fix.changes_summary,
            "attempts": attempts,
            "validation": validation.map(validation_json).unwrap_or_else(|| json!([])),
            "diff": plan.map(Plan::diff),
            "backups": [],
        });
        if let Some(v) = validation {
            add_proof(&mut value, v);
        }
        let refused = refusal.map(|why| {
            json!({
                "attempt": attempts,
                "changes_summary": fix.changes_summary,
                "diff": plan.map(Plan::diff),
                "failure": why,
            })
        });
        self.save(id, move |r| {
            let mut history = r
                .fix
                .as_ref()
                .and_then(|f| f.get("refused"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            history.extend(refused);
            if !history.is_empty() {
                value["refused"] = Value::Array(history);
            }
            // The rounds of candidates stay in the record, whichever was recorded last.
            if let Some(candidates) = r.fix.as_ref().and_then(|f| f.get("candidates")) {
                value["candidates"] = candidates.clone();
            }
            // A candidate refused without a proof was judged against the same baseline, in the
            // same sandbox, as the one before it: keep what the record said of them.
            if value.get("baseline").is_none()
                && let Some(old) = r.fix.as_ref()
            {
                for key in ["baseline", "proof_note", "sandbox"] {
                    if let Some(v) = old.get(key) {
                        value[key] = v.clone();
                    }
                }
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

/// Adds what the proof was judged against to a fix's JSON: `baseline` (what the unchanged
/// program did) and `proof_note` (why the proof was weaker, when it was).
pub(super) fn add_proof(fix: &mut Value, v: &Validation) {
    if let Some(b) = &v.baseline {
        fix["baseline"] = serde_json::to_value(b).unwrap_or(Value::Null);
    }
    if let Some(w) = &v.weaker {
        fix["proof_note"] = json!(w);
    }
    if !v.sandbox.is_empty() {
        fix["sandbox"] = json!(v.sandbox);
    }
}

pub(super) fn analysis_json(fix: &ReportFix) -> Value {
    json!({
        "fixable": fix.fixable,
        "reason": fix.reason,
        "error_category": fix.error_category,
        "root_cause": fix.root_cause,
        "affected_file": fix.affected_file,
        "confidence": fix.confidence,
        "explanation": fix.explanation,
        "changes_summary": fix.changes_summary,
    })
}

pub(super) fn validation_json(v: &Validation) -> Value {
    Value::Array(
        v.steps
            .iter()
            .map(|s| {
                json!({
                    "step": s.name.as_str(),
                    "command": s.command,
                    "exit": s.exit,
                    "passed": s.passed,
                    "detail": s.detail,
                    "output_tail": s.output_tail,
                    "duration_ms": s.duration_ms,
                })
            })
            .collect(),
    )
}

pub(super) fn backups_json(backups: &[Backup]) -> Value {
    Value::Array(
        backups
            .iter()
            .map(|b| json!({"file": b.file, "backup": b.backup.display().to_string()}))
            .collect(),
    )
}
