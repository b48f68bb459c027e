//! The model's path through healing: ask, plan, judge by the policy, prove; each failure is fed
//! back to the model, up to `max_attempts` rounds. With `llm.candidates` above 1, a round whose
//! first fix fails also asks for more, each in a fresh conversation at a higher temperature,
//! proves each against the same baseline, and applies the smallest that passes (agreement
//! between candidates breaks ties).

use std::time::Instant;

use super::report::analysis_of;
use super::{Healer, Outcome, Proved, Refused, Timings, Verdict};
use crate::analyse::{self, AnswerForm, Conversation, EditForm, Model, ReportFix, Usage};
use crate::apply::{self, Plan, PlanError};
use crate::prove::{Pending, Prover, Validation};
use crate::record::candidates::{CandidateRound, TriedCandidate};
use crate::record::model::{LlmCall, LlmUsage, Record, Status};

/// The temperature further candidates are asked at: enough to differ from the first.
const CANDIDATE_TEMPERATURE: f32 = 0.8;

/// Why a candidate was not applied.
struct Refusal {
    /// What the model is told next.
    feedback: String,
    /// What the record says, when it ends the healing.
    status: Status,
    reason: String,
    /// Whether another round may mend it.
    retry: bool,
}

/// A candidate that passed its proof.
struct Passed {
    plan: Plan,
    validation: Validation,
}

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
        // The record as it stands now: an SDK's report of the same crash (its locals) may have
        // joined it since the healing took it.
        let current = self.save(&id, |r| r.status = Status::Healing).await;
        if let Some(n) = &self.notifier {
            n.stage(
                record,
                &format!("🤖 Analysing {id} with {}…", provider.name()),
            );
        }
        let root = self.config.root.clone();
        let mut input = {
            let allowed = |rel: &str| scope.check(rel).is_ok();
            let over = |rel: &str| pending.text(rel).map(str::to_string);
            analyse::gather_over(current.as_ref().unwrap_or(record), &root, &allowed, &over)
        };
        input.edit_form = self.config.healing.edit_form;
        // The value that broke the failing function, and ones that worked, from the
        // baseline's run (which the proof reuses).
        if self.config.healing.context_calls
            && let (Some(file), Some(function)) = (&record.context.file, &record.context.function)
        {
            input.observed = prover.observed_calls(pending, file, function, 12).await;
        }
        if self.config.healing.context_tests
            && let Some(function) = record.context.function.clone()
            && function != "<module>"
        {
            let root = self.config.root.clone();
            input.tests = tokio::task::spawn_blocking(move || {
                crate::testrun::tests_calling(&root, &function, 3, 40)
            })
            .await
            .unwrap_or_default();
        }
        let form_note = self.file_form_fallback(&id, &mut input);
        let prompt = analyse::render(&input);
        let form = prompt.form.clone();
        let mut conv = Conversation::new(prompt.clone());
        let max_attempts = self.config.healing.max_attempts.max(1);
        let extra = self.config.healing.candidates.max(1) - 1;
        let mut attempts = 0;
        let mut usage: Vec<Usage> = Vec::new();
        let mut main_seen = 0;
        let mut counted = 0;
        let mut timings = Timings::default();
        loop {
            attempts += 1;
            let t = Instant::now();
            let asked = analyse::analyse(provider, &mut conv).await;
            timings.analyse += t.elapsed();
            usage.extend(conv.usage().iter().skip(main_seen).cloned());
            main_seen = conv.usage().len();
            counted = self.count_calls(&id, &usage, counted).await;
            let fix = match asked {
                Ok((fix, _)) => fix,
                Err(e) => return Outcome::Ended(Verdict::new(Status::Failed, e.to_string(), true)),
            };
            let mut analysis = analysis_of(&fix);
            analysis.edit_form = Some(
                match &form {
                    AnswerForm::File(_) => EditForm::File.as_str(),
                    AnswerForm::Tool => input.edit_form.as_str(),
                }
                .to_string(),
            );
            analysis.edit_form_note = form_note.clone();
            self.save(&id, move |r| r.analysis = Some(analysis)).await;
            if let Some(verdict) = self.model_declines(&fix) {
                return Outcome::Ended(verdict);
            }
            let first = self
                .candidate(record, pending, prover, &fix, &form, attempts, &mut timings)
                .await;
            let refusal = match first {
                Ok(passed) => return self.proved(passed, timings),
                Err(refusal) => refusal,
            };
            // More candidates, each from a fresh conversation, against the same baseline.
            let mut passing: Vec<(Passed, ReportFix)> = Vec::new();
            // The candidate number of each of `passing`, for the record.
            let mut numbers: Vec<usize> = Vec::new();
            let mut tried = Vec::new();
            for k in 0..extra {
                let mut side =
                    Conversation::new(prompt.clone()).with_temperature(CANDIDATE_TEMPERATURE);
                let t = Instant::now();
                let asked = analyse::analyse(provider, &mut side).await;
                timings.analyse += t.elapsed();
                usage.extend(side.usage().iter().cloned());
                counted = self.count_calls(&id, &usage, counted).await;
                let Ok((fix, _)) = asked else { continue };
                // The round's first answer is candidate 1.
                let number = k as usize + 2;
                if self.model_declines(&fix).is_some() {
                    tried.push(TriedCandidate::failed(number, "declined or not confident"));
                    continue;
                }
                match self
                    .candidate(record, pending, prover, &fix, &form, attempts, &mut timings)
                    .await
                {
                    Ok(passed) => {
                        tried.push(TriedCandidate::passed(number, passed.plan.diff()));
                        passing.push((passed, fix));
                        numbers.push(number);
                    }
                    Err(r) => tried.push(TriedCandidate::failed(number, r.reason)),
                }
            }
            if !tried.is_empty() {
                let chosen = choose(&passing);
                let note = CandidateRound {
                    round: attempts,
                    tried,
                    // The number among all tried, as `tried` numbers them.
                    chosen: chosen.and_then(|i| numbers.get(i).copied()),
                };
                self.save(&id, move |r| {
                    if let Some(fix) = r.fix.as_mut() {
                        fix.candidates.push(note);
                    }
                })
                .await;
                if let Some(i) = chosen {
                    let (passed, fix) = passing.swap_remove(i);
                    self.record_fix(
                        &id,
                        &fix,
                        attempts,
                        Some(&passed.validation),
                        Some(&passed.plan),
                    )
                    .await;
                    return self.proved(passed, timings);
                }
            }
            if attempts >= max_attempts || !refusal.retry {
                return Outcome::Ended(Verdict::new(refusal.status, refusal.reason, true));
            }
            conv.follow_up(&refusal.feedback);
        }
    }

    /// Turns a chosen `file` form into `search_replace` for this incident when its file cannot
    /// be asked for whole: too long, none shown (see [`analyse::prompt::answer_form`]), or
    /// holding a secret, which the model would see as `[REDACTED]` and copy back over the
    /// secret. Returns why, which the log and the record's analysis say.
    fn file_form_fallback(&self, id: &str, input: &mut analyse::PromptInput) -> Option<String> {
        if input.edit_form != EditForm::File {
            return None;
        }
        let why = match analyse::prompt::answer_form(input) {
            Err(why) => why,
            Ok(_) => {
                let first = input.sources.first()?;
                if !self.config.redactor.is_match(&first.text) {
                    return None;
                }
                format!(
                    "{} holds a secret, which the model would see as {} and copy back",
                    first.path,
                    crate::redact::REDACTED
                )
            }
        };
        tracing::info!(
            "{id}: the file edit form is not used ({why}); asking for search/replace edits"
        );
        input.edit_form = EditForm::SearchReplace;
        Some(format!(
            "file form not used: {why}; asked for search_replace edits"
        ))
    }

    /// The model's own reasons not to fix: not fixable, or not confident enough.
    fn model_declines(&self, fix: &ReportFix) -> Option<Verdict> {
        if !fix.fixable {
            return Some(Verdict::new(
                Status::Skipped,
                format!(
                    "the model says this cannot be fixed automatically: {}",
                    fix.reason
                ),
                true,
            ));
        }
        if fix.confidence < self.config.healing.min_confidence {
            return Some(Verdict::new(
                Status::Skipped,
                format!(
                    "the model's confidence ({}) is below AUTO_FIX_MIN_CONFIDENCE ({})",
                    fix.confidence.as_str(),
                    self.config.healing.min_confidence.as_str()
                ),
                true,
            ));
        }
        None
    }

    /// Plans, judges by the policy and proves one candidate fix, asked in `form`.
    #[expect(
        clippy::too_many_arguments,
        reason = "one candidate's inputs, each used once; a struct would only rename them"
    )]
    async fn candidate(
        &self,
        record: &Record,
        pending: &Pending,
        prover: &Prover,
        fix: &ReportFix,
        form: &AnswerForm,
        attempt: u32,
        timings: &mut Timings,
    ) -> Result<Passed, Refusal> {
        let id = record.id.clone();
        let Ok(scope) = &self.scope else {
            return Err(Refusal {
                feedback: String::new(),
                status: Status::Failed,
                reason: "healing is not set up".to_string(),
                retry: false,
            });
        };
        let read = |rel: &str, abs: &std::path::Path| Healer::read(pending, rel, abs);
        let edits = match self.expanded_edits(record, fix, form, pending) {
            Ok(edits) => edits,
            Err((number, file, why)) => {
                self.record_fix(&id, fix, attempt, None, None).await;
                return Err(Refusal {
                    feedback: analyse::prompt::edit_failed(form, number, &file, &why),
                    status: Status::Rejected,
                    reason: format!(
                        "the fix was rejected, nothing was written: edit {number} of {file}: {why}"
                    ),
                    retry: true,
                });
            }
        };
        let plan = match apply::plan_with(scope, &edits, &read) {
            Ok(plan) => plan,
            Err(PlanError::Edit { file, source }) => {
                self.record_fix(&id, fix, attempt, None, None).await;
                return Err(Refusal {
                    feedback: analyse::prompt::edit_failed(
                        form,
                        source.index + 1,
                        &file,
                        &source.kind.to_string(),
                    ),
                    status: Status::Rejected,
                    reason: format!(
                        "the fix was rejected, nothing was written: {}",
                        PlanError::Edit { file, source }
                    ),
                    retry: true,
                });
            }
            Err(e) => {
                self.record_fix(&id, fix, attempt, None, None).await;
                // A fix out of scope, or changing nothing, is not worth another round.
                return Err(Refusal {
                    feedback: String::new(),
                    status: Status::Rejected,
                    reason: format!("the fix was rejected, nothing was written: {e}"),
                    retry: false,
                });
            }
        };
        if plan.files.iter().all(|f| same_code(&f.before, &f.after)) {
            self.record_fix(&id, fix, attempt, None, Some(&plan)).await;
            let why = "the fix changes only quotes or spacing: the code Python runs is the same, so the error stays";
            return Err(Refusal {
                feedback: analyse::prompt::validation_failed(form, "proof", why),
                status: Status::Rejected,
                reason: format!("the fix was rejected, nothing was written: {why}"),
                retry: true,
            });
        }
        if let Some(why) = self.policy_refusal(record, &plan) {
            self.record_fix(&id, fix, attempt, None, Some(&plan)).await;
            return Err(Refusal {
                feedback: analyse::prompt::policy_refused(form, &why),
                status: Status::Rejected,
                reason: format!(
                    "the fix was refused by the scope policy, nothing was written: {why}"
                ),
                retry: true,
            });
        }
        let key = Refused::key(&record.fingerprint, &plan);
        if let Some(before) = self.refused.get(&key) {
            // The same fix on the same code fails the same way: no need to prove it again.
            let failure =
                format!("This exact fix was already proved on this code and failed: {before}");
            self.record_candidate(&id, fix, attempt, None, Some(&plan), Some(failure.clone()))
                .await;
            return Err(Refusal {
                feedback: analyse::prompt::validation_failed(form, "proof", &failure),
                status: Status::Rejected,
                reason: format!("the fix did not pass its proof, nothing was written: {failure}"),
                retry: true,
            });
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
        self.record_fix(&id, fix, attempt, Some(&validation), Some(&plan))
            .await;
        if validation.passed {
            return Ok(Passed { plan, validation });
        }
        let failure = validation
            .failure
            .clone()
            .unwrap_or_else(|| "the proof failed".to_string());
        self.refused.put(key, failure.clone());
        let step = validation.steps.iter().find(|s| !s.passed);
        Err(Refusal {
            feedback: analyse::prompt::validation_failed(
                form,
                step.map(|s| s.name.as_str()).unwrap_or("proof"),
                &failure,
            ),
            status: Status::Rejected,
            reason: format!("the fix did not pass its proof, nothing was written: {failure}"),
            retry: true,
        })
    }

    /// The edits as search/replace: edits of the function form (a lone `def` line as
    /// `search`) expanded to the function's current text, and the `file` form's edit (an empty
    /// `search`) to the whole current text of its file. `Err((edit number, file, why))`.
    fn expanded_edits(
        &self,
        record: &Record,
        fix: &ReportFix,
        form: &AnswerForm,
        pending: &Pending,
    ) -> Result<Vec<analyse::Edit>, (usize, String, String)> {
        if let AnswerForm::File(target) = form {
            return Ok(self.whole_file_edits(fix, target, pending));
        }
        if self.config.healing.edit_form != EditForm::Function {
            return Ok(fix.edits.clone());
        }
        let Ok(scope) = &self.scope else {
            return Ok(fix.edits.clone());
        };
        let signature_may_change = apply::function::error_is_about_arguments(
            &record.error.exc_type,
            &record.error.message,
        );
        let mut out = Vec::with_capacity(fix.edits.len());
        for (i, edit) in fix.edits.iter().enumerate() {
            // Paths are checked again by the plan; a file that cannot be read is the plan's to
            // report.
            let text = scope
                .check(&edit.file)
                .ok()
                .and_then(|abs| Healer::read(pending, &edit.file, &abs).ok())
                .and_then(|b| String::from_utf8(b).ok());
            let expanded = match text {
                Some(text) => apply::function::expand(&text, edit, signature_may_change)
                    .map_err(|e| (i + 1, edit.file.clone(), e.to_string()))?,
                None => None,
            };
            out.push(expanded.unwrap_or_else(|| edit.clone()));
        }
        Ok(out)
    }

    /// The `file` form's edit of `target` as a search/replace of its whole current text (read
    /// as the function form reads it), the new text given the current one's line ends and final
    /// newline. Only in this form, and only for the target, does an empty `search` mean the
    /// whole file: anywhere else it stays empty, and the plan refuses it.
    fn whole_file_edits(
        &self,
        fix: &ReportFix,
        target: &analyse::FileTarget,
        pending: &Pending,
    ) -> Vec<analyse::Edit> {
        let Ok(scope) = &self.scope else {
            return fix.edits.clone();
        };
        fix.edits
            .iter()
            .map(|edit| {
                if edit.search != analyse::file_form::WHOLE_FILE || edit.file != target.path {
                    return edit.clone();
                }
                let current = scope
                    .check(&edit.file)
                    .ok()
                    .and_then(|abs| Healer::read(pending, &edit.file, &abs).ok())
                    .and_then(|b| String::from_utf8(b).ok());
                match current {
                    // A file that cannot be read is the plan's to report.
                    Some(current) => analyse::Edit {
                        file: edit.file.clone(),
                        replace: analyse::file_form::fit(
                            &current,
                            &analyse::file_form::undo_cosmetic(
                                &current,
                                &analyse::module_doc::keep_module_docstring(
                                    &current,
                                    &edit.replace,
                                ),
                            ),
                        ),
                        search: current,
                    },
                    None => edit.clone(),
                }
            })
            .collect()
    }

    fn proved(&self, passed: Passed, timings: Timings) -> Outcome {
        Outcome::Proved(Box::new(Proved {
            next: passed.validation.next,
            weaker: passed.validation.weaker,
            plan: passed.plan,
            timings,
        }))
    }

    /// Counts the model calls in `usage` past the first `counted` against the hourly limit,
    /// and records the cost of all; returns how many are counted now.
    async fn count_calls(&self, id: &str, usage: &[Usage], counted: usize) -> usize {
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

/// Whether two texts are the same code but for quote style and spacing (a small model's
/// "fix" that re-quotes the line it copied).
fn same_code(before: &str, after: &str) -> bool {
    let normal = |t: &str| -> String {
        t.chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| if c == '\'' { '"' } else { c })
            .collect()
    };
    normal(before) == normal(after)
}

/// The candidate to apply among those that passed: the smallest change, then the one most
/// others agree with (the same diff once whitespace is ignored), then the first.
fn choose(passing: &[(Passed, ReportFix)]) -> Option<usize> {
    let normal = |p: &Passed| -> String {
        p.plan
            .diff()
            .lines()
            .filter(|l| l.starts_with('+') || l.starts_with('-'))
            .map(|l| l.split_whitespace().collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let size = |p: &Passed| {
        p.plan
            .diff()
            .lines()
            .filter(|l| {
                (l.starts_with('+') && !l.starts_with("+++"))
                    || (l.starts_with('-') && !l.starts_with("---"))
            })
            .count()
    };
    (0..passing.len()).min_by_key(|&i| {
        let agree = passing
            .iter()
            .filter(|(other, _)| normal(other) == normal(&passing[i].0))
            .count();
        (size(&passing[i].0), std::cmp::Reverse(agree), i)
    })
}
