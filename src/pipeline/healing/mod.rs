//! Healing one incident: gates → analyse → prove → apply → report, in that order.
//!
//! One healing at a time per heal process (jobs are taken in order from one queue), so two fixes
//! never edit the tree at once. Every way out of [`Healer::heal`] leaves the incident in a final
//! status with a reason, in the record and on Slack. Nothing touches the live tree before the fix
//! has been proved in an isolated copy.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{mpsc, oneshot};

mod instant;

use super::publish::GitJob;
use crate::analyse::{self, AnthropicConfig, Conversation, Model, Provider, ReportFix};
use crate::apply::{self, Backup, Plan, PlanError, Scope};
use crate::config::{Config, ProviderChoice};
use crate::notify::Notifier;
use crate::prove::{self, ErrorLocation, ErrorSignature, ProveConfig, Validation};
use crate::record::model::{LlmCall, LlmUsage, Record, Status};
use crate::record::{Store, journal, off_thread};
use instant::{RuleOutcome, project_relative};

/// What the healer is asked to do, in order.
pub enum Job {
    /// Try to heal this incident.
    Heal(String),
    /// Answer once every job queued before this one is done (a crash waits on it before the
    /// program is restarted, so the restart runs the fixed code).
    Barrier(oneshot::Sender<()>),
}

/// A fix recently applied: if its error comes back within the watch window, it is rolled back.
#[derive(Debug, Clone)]
pub struct Watched {
    pub fingerprint: String,
    pub incident: String,
    pub backups: Vec<Backup>,
    pub applied_at: Instant,
}

/// The fixes under watch, shared with the incidents task that sees errors come back.
#[derive(Debug, Default)]
pub struct Watch {
    entries: Mutex<Vec<Watched>>,
}

impl Watch {
    fn add(&self, entry: Watched) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.push(entry);
        }
    }

    /// Takes the fix for `fingerprint` applied less than `window` ago, if any.
    pub fn take(&self, fingerprint: &str, window: Duration) -> Option<Watched> {
        let mut entries = self.entries.lock().ok()?;
        entries.retain(|e| e.applied_at.elapsed() <= window);
        let at = entries.iter().position(|e| e.fingerprint == fingerprint)?;
        Some(entries.remove(at))
    }
}

/// How a healing ended.
struct Verdict {
    status: Status,
    reason: String,
    /// Whether this counts against `max_heal_failures` (a model was asked and no fix came of
    /// it).
    failure: bool,
    /// The files an applied fix changed, for the commit stage.
    applied: Vec<crate::commit::Change>,
}

impl Verdict {
    fn new(status: Status, reason: impl Into<String>, failure: bool) -> Verdict {
        Verdict {
            status,
            reason: reason.into(),
            failure,
            applied: Vec::new(),
        }
    }
}

pub struct Healer {
    store: Arc<Store>,
    notifier: Option<Notifier>,
    config: Arc<Config>,
    command: Vec<String>,
    provider: Result<Provider, String>,
    scope: Result<Scope, String>,
    pub watch: Arc<Watch>,
    /// Asks the supervision loop to restart the program (after a fix for an error it logged
    /// while running).
    restart: mpsc::UnboundedSender<()>,
    /// The git lane, which commits applied fixes and sends their final report; `None` when
    /// git is off.
    git: Option<mpsc::UnboundedSender<GitJob>>,
}

impl Healer {
    pub fn new(
        store: Arc<Store>,
        notifier: Option<Notifier>,
        config: Arc<Config>,
        command: Vec<String>,
        restart: mpsc::UnboundedSender<()>,
        git: Option<mpsc::UnboundedSender<GitJob>>,
    ) -> Healer {
        let provider = provider(&config);
        let scope = Scope::new(&config.root, &config.storage_dir, &config.healing.blacklist)
            .map_err(|e| e.to_string());
        Healer {
            store,
            notifier,
            config,
            command,
            provider,
            scope,
            watch: Arc::new(Watch::default()),
            restart,
            git,
        }
    }

    /// Takes jobs until the queue closes.
    pub async fn run(self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        while let Some(job) = jobs.recv().await {
            match job {
                Job::Heal(id) => {
                    if self.heal(&id).await == Some(Status::Applied) {
                        let _ = self.restart.send(());
                    }
                }
                Job::Barrier(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    /// Heals incident `id` if it may be healed; returns its final status, or `None` when it was
    /// not for healing (already fixed, or being healed).
    pub async fn heal(&self, id: &str) -> Option<Status> {
        if !self.config.auto_healing {
            return None;
        }
        // Taken atomically in the store: another heal process on the project may want it too.
        let store = self.store.clone();
        let owned = id.to_string();
        let record = off_thread("take the incident for healing", move || store.claim(&owned))
            .await
            .flatten()?;
        let started = Instant::now();
        // Rules first (no model, no cost), then the model; the gates that bound any fix come
        // before both, the model's own gates before the model only.
        let mut verdict = match self.fix_gates(&record) {
            Some(verdict) => verdict,
            None => match self.instant(&record).await {
                RuleOutcome::Done(verdict) => verdict,
                outcome => match self.gates(&record).await {
                    Some(mut verdict) => {
                        if let RuleOutcome::Unproved(why) = outcome {
                            verdict.reason = format!("{why}; {}", verdict.reason);
                        }
                        verdict
                    }
                    None => self.attempt(record).await,
                },
            },
        };
        let status = verdict.status;
        let applied = std::mem::take(&mut verdict.applied);
        let total = started.elapsed();
        if let Some(record) = self
            .save(id, move |r| {
                r.status = verdict.status;
                r.reason = Some(verdict.reason.clone());
                if verdict.failure {
                    r.heal_failures = r.heal_failures.saturating_add(1);
                }
                let result = r.result.get_or_insert_with(|| json!({}));
                result["status"] = json!(verdict.status.as_str());
                result["reason"] = json!(verdict.reason);
                r.timings_ms
                    .insert("healing".to_string(), total.as_millis() as u64);
            })
            .await
        {
            tracing::info!(
                "incident {id}: {} ({})",
                record.status.as_str(),
                record.reason.as_deref().unwrap_or("")
            );
            // An applied fix is committed, then reported, by the git lane; queued only now
            // that the record says `applied`.
            let reported_later = status == Status::Applied
                && self.git.as_ref().is_some_and(|git| {
                    git.send(GitJob::Publish {
                        id: id.to_string(),
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
        self.journal_done(id, journal::step::HEAL).await;
        Some(status)
    }

    /// The gates that need no model: a reason to stop before asking one, if any.
    async fn gates(&self, record: &Record) -> Option<Verdict> {
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
        None
    }

    /// The gates every fix passes, a rule's or a model's: how often this error already failed
    /// to heal, and whether fixes can be scoped at all.
    fn fix_gates(&self, record: &Record) -> Option<Verdict> {
        let h = &self.config.healing;
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
        None
    }

    /// Asks the model, proves its fix, applies it: up to `max_attempts` fixes, each failure
    /// fed back to the model.
    async fn attempt(&self, record: Record) -> Verdict {
        let (Ok(provider), Ok(scope)) = (&self.provider, &self.scope) else {
            return Verdict::new(Status::Failed, "healing is not set up", false);
        };
        let id = record.id.clone();
        self.save(&id, |r| r.status = Status::Healing).await;
        if let Some(n) = &self.notifier {
            n.stage(
                &record,
                &format!("🤖 Analysing {id} with {}…", provider.name()),
            );
        }
        let root = self.config.root.clone();
        let input = {
            let allowed = |rel: &str| scope.check(rel).is_ok();
            analyse::gather(&record, &root, &allowed)
        };
        let mut conv = Conversation::new(analyse::render(&input));
        let max_attempts = self.config.healing.max_attempts.max(1);
        let mut attempts = 0;
        let mut counted = 0;
        let mut timings = Timings::default();
        loop {
            attempts += 1;
            let t = Instant::now();
            let asked = analyse::analyse(provider, &mut conv).await;
            timings.analyse += t.elapsed();
            counted = self.count_calls(&id, &conv, counted).await;
            let fix = match asked {
                Ok((fix, _)) => fix,
                Err(e) => return Verdict::new(Status::Failed, e.to_string(), true),
            };
            let analysis = analysis_json(&fix);
            self.save(&id, move |r| r.analysis = Some(analysis)).await;
            if !fix.fixable {
                return Verdict::new(
                    Status::Skipped,
                    format!(
                        "the model says this cannot be fixed automatically: {}",
                        fix.reason
                    ),
                    true,
                );
            }
            if fix.confidence < self.config.healing.min_confidence {
                return Verdict::new(
                    Status::Skipped,
                    format!(
                        "the model's confidence ({}) is below AUTO_FIX_MIN_CONFIDENCE ({})",
                        fix.confidence.as_str(),
                        self.config.healing.min_confidence.as_str()
                    ),
                    true,
                );
            }
            let plan = match apply::plan(scope, &fix.edits) {
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
                    return Verdict::new(
                        Status::Rejected,
                        format!("the fix was rejected, nothing was written: {e}"),
                        true,
                    );
                }
            };
            if let Some(why) = self.policy_refusal(&record, &plan) {
                self.record_fix(&id, &fix, attempts, None, Some(&plan))
                    .await;
                if attempts < max_attempts {
                    conv.follow_up(&analyse::prompt::policy_refused(&why));
                    continue;
                }
                return Verdict::new(
                    Status::Rejected,
                    format!("the fix was refused by the scope policy, nothing was written: {why}"),
                    true,
                );
            }
            if let Some(n) = &self.notifier {
                n.stage(
                    &record,
                    &format!(
                        "🔧 Fix proposed for {id}: {}. Proving it in an isolated copy…",
                        fix.changes_summary
                    ),
                );
            }
            let t = Instant::now();
            let validation = prove::prove(&plan, &self.prove_config(&record)).await;
            timings.prove += t.elapsed();
            self.record_fix(&id, &fix, attempts, Some(&validation), Some(&plan))
                .await;
            if !validation.passed {
                let failure = validation
                    .failure
                    .clone()
                    .unwrap_or_else(|| "the proof failed".to_string());
                if attempts < max_attempts {
                    let step = validation.steps.last();
                    conv.follow_up(&analyse::prompt::validation_failed(
                        step.map(|s| s.name.as_str()).unwrap_or("proof"),
                        &step.map(|s| s.output_tail.clone()).unwrap_or(failure),
                    ));
                    continue;
                }
                return Verdict::new(
                    Status::Rejected,
                    format!("the fix did not pass its proof, nothing was written: {failure}"),
                    true,
                );
            }
            return self.apply_proved(&record, &plan, &mut timings).await;
        }
    }

    /// Writes a proved fix to the live tree (backups first), puts it under watch, and hands it
    /// to the git lane through the verdict.
    async fn apply_proved(&self, record: &Record, plan: &Plan, timings: &mut Timings) -> Verdict {
        let id = record.id.clone();
        if let Some(n) = &self.notifier {
            n.stage(record, &format!("✏️ Applying the fix for {id}…"));
        }
        // The journal knows what the live files were before a single byte is written, so a
        // heal killed half-way is undone at its next start.
        let before: Vec<serde_json::Value> = plan
            .files
            .iter()
            .map(|f| json!({"file": f.rel, "before": f.before}))
            .collect();
        let store = self.store.clone();
        let note = json!({ "files": before });
        let owned = id.clone();
        if off_thread("journal the fix", move || {
            store.journal_add(&owned, journal::step::APPLY, &note)
        })
        .await
        .is_none()
        {
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
            let changes = serde_json::to_value(super::publish::changes(plan)).unwrap_or_default();
            let store = self.store.clone();
            let owned = id.clone();
            off_thread("journal the commit to come", move || {
                store.journal_add(
                    &owned,
                    journal::step::PUBLISH,
                    &json!({ "changes": changes }),
                )
            })
            .await;
        }
        self.journal_done(&id, journal::step::APPLY).await;
        timings.apply += t.elapsed();
        self.save_timings(&id, timings).await;
        match applied {
            Ok(applied) => {
                let backups = backups_json(&applied.backups);
                self.save(&id, move |r| {
                    if let Some(fix) = r.fix.as_mut() {
                        fix["backups"] = backups;
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
                verdict.applied = super::publish::changes(plan);
                verdict
            }
            Err(e) => Verdict::new(
                Status::Failed,
                format!("the fix could not be applied: {e}"),
                true,
            ),
        }
    }

    /// Why the scope policy refuses `plan`, if it does: every violation, in one sentence.
    fn policy_refusal(&self, record: &Record, plan: &Plan) -> Option<String> {
        let Ok(scope) = &self.scope else {
            return Some("fixes cannot be scoped here".to_string());
        };
        let traceback_files: Vec<String> = record
            .error
            .frames
            .iter()
            .filter_map(|f| project_relative(scope, &f.file))
            .chain(record.context.file.clone())
            .collect();
        let violations = crate::policy::check(plan, &traceback_files, &self.config.healing.policy);
        (!violations.is_empty()).then(|| {
            violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn prove_config(&self, record: &Record) -> ProveConfig {
        let h = &self.config.healing;
        let original = ErrorSignature {
            exc_type: record.error.exc_type.clone(),
            message: record.error.message.clone(),
            location: record.error.frames.last().map(|f| ErrorLocation {
                file: f.file.clone(),
                function: f.function.clone(),
            }),
        };
        let command = if record.context.command.is_empty() {
            self.command.clone()
        } else {
            record.context.command.clone()
        };
        let mut config = ProveConfig::new(
            &self.config.root,
            &self.config.storage_dir,
            command,
            original,
        );
        config.verify_commands = h.verify_commands.clone();
        config.rerun = h.rerun;
        config.rerun_timeout = h.rerun_timeout;
        config
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

    async fn record_fix(
        &self,
        id: &str,
        fix: &ReportFix,
        attempts: u32,
        validation: Option<&Validation>,
        plan: Option<&Plan>,
    ) {
        let source = match &self.provider {
            Ok(p) => format!("llm:{}", p.name()),
            Err(_) => "llm".to_string(),
        };
        let value = json!({
            "source": source,
            "edits": fix.edits,
            "explanation": fix.explanation,
            "changes_summary": fix.changes_summary,
            "attempts": attempts,
            "validation": validation.map(validation_json).unwrap_or_else(|| json!([])),
            "diff": plan.map(Plan::diff),
            "backups": [],
        });
        self.save(id, |r| r.fix = Some(value)).await;
    }

    async fn save_timings(&self, id: &str, t: &Timings) {
        let t = (t.analyse, t.prove, t.apply);
        self.save(id, move |r| {
            r.timings_ms
                .insert("analyse".into(), t.0.as_millis() as u64);
            r.timings_ms.insert("prove".into(), t.1.as_millis() as u64);
            r.timings_ms.insert("apply".into(), t.2.as_millis() as u64);
        })
        .await;
    }

    async fn journal_done(&self, id: &str, step: &'static str) {
        let store = self.store.clone();
        let id = id.to_string();
        off_thread("close a journal note", move || {
            store.journal_done(&id, step)
        })
        .await;
    }

    /// Applies `change` to the stored record; the record as saved, or `None` (logged) when
    /// the store failed.
    async fn save(
        &self,
        id: &str,
        change: impl FnOnce(&mut Record) + Send + 'static,
    ) -> Option<Record> {
        let store = self.store.clone();
        let redactor = self.config.redactor.clone();
        let id = id.to_string();
        off_thread("record the healing", move || {
            store.update(&id, |r| {
                change(r);
                redact_record(&redactor, r);
            })
        })
        .await
    }
}

#[derive(Default)]
struct Timings {
    analyse: Duration,
    prove: Duration,
    apply: Duration,
}

/// The configured model, or why there is none (said in the incident's reason).
fn provider(config: &Config) -> Result<Provider, String> {
    let h = &config.healing;
    match h.provider {
        ProviderChoice::OpenAi => {
            let structured = analyse::openai::Structured::parse(&h.openai_structured)
                .unwrap_or(analyse::openai::Structured::Tools);
            let c = analyse::OpenAiConfig {
                api_key: h.openai_api_key.clone(),
                base_url: h.openai_base_url.clone(),
                model: h.model.clone(),
                structured,
                max_retries: h.llm_max_retries,
                backoff_initial: h.llm_backoff_initial,
                request_timeout: h.llm_timeout,
                ..analyse::OpenAiConfig::new()
            };
            analyse::OpenAi::new(c, config.redactor.clone())
                .map(Provider::OpenAi)
                .map_err(|e| e.to_string())
        }
        ProviderChoice::None => Err(
            "no model is configured (HEAL_PROVIDER=none): recorded and reported, not fixed"
                .to_string(),
        ),
        ProviderChoice::Anthropic => {
            let Some(key) = &h.anthropic_api_key else {
                return Err(
                    "ANTHROPIC_API_KEY is not set: set it in .env, or set HEAL_PROVIDER=none"
                        .to_string(),
                );
            };
            let mut c = AnthropicConfig::new(key.clone());
            c.base_url = h.anthropic_base_url.clone();
            c.model = h.model.clone();
            c.max_retries = h.llm_max_retries;
            c.backoff_initial = h.llm_backoff_initial;
            c.request_timeout = h.llm_timeout;
            analyse::Anthropic::new(c, config.redactor.clone())
                .map(Provider::Anthropic)
                .map_err(|e| e.to_string())
        }
    }
}

/// Removes secrets from everything a record holds.
pub fn redact_record(redactor: &crate::redact::Redactor, record: &mut Record) {
    let Ok(mut value) = serde_json::to_value(&*record) else {
        return;
    };
    redactor.redact_json(&mut value);
    if let Ok(clean) = serde_json::from_value(value) {
        *record = clean;
    }
}

fn analysis_json(fix: &ReportFix) -> serde_json::Value {
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

fn validation_json(v: &Validation) -> serde_json::Value {
    serde_json::Value::Array(
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

fn backups_json(backups: &[Backup]) -> serde_json::Value {
    serde_json::Value::Array(
        backups
            .iter()
            .map(|b| json!({"file": b.file, "backup": b.backup.display().to_string()}))
            .collect(),
    )
}
