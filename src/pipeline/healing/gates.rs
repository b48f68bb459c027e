//! The gates: reasons to stop before a fix is sought, each ending the incident with a reason
//! that says what to do next.

use super::{Healer, Verdict};
use crate::record::model::{Record, Status};

impl Healer {
    /// The gates before a model is asked: the hourly call limit, and whether a model is
    /// configured at all.
    pub(super) async fn model_gates(&self, record: &Record) -> Option<Verdict> {
        let h = &self.config.healing;
        let store = self.store.clone();
        let since = time::OffsetDateTime::now_utc().unix_timestamp() - 3600;
        let calls = tokio::task::spawn_blocking(move || store.llm_calls_since(since))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(u64::MAX);
        if self.provider.is_ok() && calls >= h.max_calls_per_hour {
            return Some(Verdict::new(
                Status::Skipped,
                format!(
                    "MAX_CLAUDE_CALLS_PER_HOUR reached ({} model calls in the last hour, limit {}): not analysed; it will be on a later occurrence, or run `heal retry {}`",
                    if calls == u64::MAX { 0 } else { calls },
                    h.max_calls_per_hour,
                    record.id
                ),
                false,
            ));
        }
        if let Err(why) = &self.provider {
            return Some(Verdict::new(Status::Skipped, why.clone(), false));
        }
        // A model's fix is untrusted code: it is proved in a sandbox, or not at all, unless
        // the user chose to prove without one.
        if let Some(why) = self.jail.missing() {
            return Some(Verdict::new(
                Status::Skipped,
                format!(
                    "no sandbox can start here ({why}): model fixes are not proved without one; install bubblewrap, or set verify.sandbox = \"off\" to prove them unsandboxed"
                ),
                false,
            ));
        }
        None
    }

    /// The gates every fix passes, a rule's or a model's: how often this error already failed
    /// to heal, and whether fixes can be scoped at all.
    pub(super) fn fix_gates(&self, record: &Record) -> Option<Verdict> {
        let h = &self.config.healing;
        // Not a code bug: what to do is said, and no rule or model is asked.
        if let Some(t) = crate::triage::triage(&record.error)
            && !h.triage_force.iter().any(|k| k == t.kind.name())
        {
            return Some(Verdict::new(
                Status::Skipped,
                format!(
                    "not a code bug ({}): {}; heal does not fix it (triage.force = [\"{}\"] would send it for a fix)",
                    t.kind.name(),
                    t.advice,
                    t.kind.name()
                ),
                false,
            ));
        }
        if let Some(result) = &record.result
            && result.not_a_code_bug
        {
            let why = result.reason.as_deref().unwrap_or("not a code bug");
            return Some(Verdict::new(Status::Skipped, why, false));
        }
        if record.heal_failures >= h.max_heal_failures {
            return Some(Verdict::new(
                Status::Skipped,
                format!(
                    "healing this error already failed {} times: not tried again until `heal retry {}`",
                    record.heal_failures, record.id
                ),
                false,
            ));
        }
        if let Err(why) = &self.scope {
            return Some(Verdict::new(Status::Failed, why.clone(), false));
        }
        // Reproduction belongs to the proof: with nothing to re-run and nothing to check, a
        // fix would be applied on the model's word alone.
        if self.reproduction(record).is_empty()
            && h.verify_commands.is_empty()
            && record.context.test.is_none()
        {
            return Some(Verdict::new(
                Status::Skipped,
                "no fix can be proved for this error: nothing reproduces it (it was reported by an SDK, and serve.rerun_command is not set) and no verify.commands judge a fix; set serve.rerun_command to a command that runs the code that failed (like `python3 main.py --once`), or verify.commands, then `heal retry` it".to_string(),
                false,
            ));
        }
        None
    }

    /// Why the scope policy refuses `plan`, if it does: every violation, in one sentence.
    pub(super) fn policy_refusal(
        &self,
        record: &Record,
        plan: &crate::apply::Plan,
    ) -> Option<String> {
        let Ok(_) = &self.scope else {
            return Some("fixes cannot be scoped here".to_string());
        };
        let traceback_files = self.traceback_files(record);
        let mut policy = self.config.healing.policy.clone();
        // A failing test is the evidence a fix is judged by: it is never edited to pass.
        policy.protect_tests |= record.context.test.is_some();
        policy.incident_error = Some(record.error.exc_type.clone());
        policy.incident_message = Some(record.error.message.clone());
        policy.incident_lines = self.traceback_lines(record);
        let violations = crate::policy::check(plan, &traceback_files, &policy);
        // Tests only: the scan of added lines off, so that what it refuses reaches the proof
        // and the tests show the sandbox, not the scan, contains it (issue 12).
        #[cfg(feature = "failpoints")]
        let violations: Vec<_> = if crate::failpoint::switched_on("skip-scan") {
            tracing::warn!("failpoint skip-scan: the scan of added lines is off");
            violations
                .into_iter()
                .filter(|v| !matches!(v, crate::policy::Violation::Dangerous { .. }))
                .collect()
        } else {
            violations
        };
        (!violations.is_empty()).then(|| {
            violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}
