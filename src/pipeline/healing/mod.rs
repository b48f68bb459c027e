//! Healing one incident: gates → rules | model → prove → apply → report, and the crash chain
//! that follows when the fixed program gets further and stops at a new error.
//!
//! One healing at a time per heal process (jobs are taken in order from one queue), so two fixes
//! never edit the tree at once. Every way out of [`Healer::heal`] leaves each incident it took
//! in a final status with a reason, in the record and on Slack. Nothing touches the live tree
//! before the fix has been proved in an isolated copy; nothing is applied once heal was asked to
//! stop (the healing is cancelled, its incidents `interrupted`).
//!
//! - [`gates`]: the reasons to stop before a rule or a model is asked;
//! - [`instant`]: the instant rules' fix;
//! - [`model`]: the model's fixes, each failure fed back;
//! - [`chain`]: the links of a crash chain, proved in turn, then applied together;
//! - [`applying`]: a proved fix written to the live tree;
//! - [`report`]: what the record keeps of an analysis, a fix and its proof.

mod applying;
mod chain;
mod gates;
mod instant;
mod model;
mod report;
mod watch;

pub use watch::{Watch, Watched, roll_back};

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::publish::GitJob;
use crate::analyse::{self, AnthropicConfig, Provider};
use crate::apply::{Plan, Scope};
use crate::config::{Config, ProviderChoice};
use crate::notify::Notifier;
use crate::prove::suite::Suite;
use crate::prove::{Baselines, ErrorLocation, ErrorSignature, Pending, ProveConfig, Prover};
use crate::record::model::{Record, Status};
use crate::record::{Store, journal, off_thread};

/// Fixes that failed their proof, remembered so the same fix on the same code is not proved
/// again (a program that crashes the same way at each restart then costs no proof).
const REFUSED_KEPT: usize = 256;

/// What the healer is asked to do, in order.
pub enum Job {
    /// Try to heal this incident.
    Heal(String),
    /// Answer once every job queued before this one is done (a crash waits on it before the
    /// program is restarted, so the restart runs the fixed code).
    Barrier(oneshot::Sender<()>),
}

/// How a healing ended.
#[derive(Debug)]
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

/// A fix for one incident that passed its proof, not yet applied.
#[derive(Debug)]
struct Proved {
    plan: Plan,
    /// Where the fixed program now stops, when it gets further than before.
    next: Option<crate::prove::Next>,
    /// Why the proof was weaker than a full one, if it was.
    weaker: Option<String>,
    timings: Timings,
}

/// What trying to fix one incident came to.
#[derive(Debug)]
enum Outcome {
    Proved(Box<Proved>),
    /// No fix: how the healing ends.
    Ended(Verdict),
}

/// Fixes that failed their proof, by incident, fix and the text of the files it read.
#[derive(Debug, Default)]
struct Refused {
    entries: Mutex<VecDeque<(String, String)>>,
}

impl Refused {
    /// The key of `plan` as a fix of `fingerprint`: the files it read (their text, pending
    /// links included) and what it writes.
    fn key(fingerprint: &str, plan: &Plan) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(fingerprint.as_bytes());
        for f in &plan.files {
            for part in [&f.rel, &f.before, &f.after] {
                h.update(part.as_bytes());
                h.update([0]);
            }
        }
        h.finalize()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Why this fix was refused before, if it was.
    fn get(&self, key: &str) -> Option<String> {
        let entries = self.entries.lock().ok()?;
        entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, why)| why.clone())
    }

    fn put(&self, key: String, why: String) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= REFUSED_KEPT {
                entries.pop_front();
            }
            entries.push_back((key, why));
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
    /// Asks for the program to be restarted on a fix just applied, naming its incident: the
    /// supervision loop of `heal run` restarts its child, `heal serve` runs
    /// `serve.restart_command`.
    restart: mpsc::UnboundedSender<String>,
    /// The git lane, which commits applied fixes and sends their final report; `None` when
    /// git is off.
    git: Option<mpsc::UnboundedSender<GitJob>>,
    /// Baselines of the unchanged program, reused while the code stays the same.
    baselines: Arc<Baselines>,
    refused: Refused,
    /// Cancelled when heal is asked to stop, or stops waiting: a healing in progress is
    /// abandoned before anything is applied.
    cancel: CancellationToken,
    /// Why it was cancelled, for the interrupted incidents' reason.
    cancel_why: Arc<std::sync::OnceLock<String>>,
    /// Incidents this healing took (the links of a chain), for an interruption to close.
    taken: Mutex<Vec<String>>,
    /// The project's own tests, found once.
    suite: tokio::sync::OnceCell<Option<Suite>>,
    /// What confines the proof's commands.
    jail: Arc<crate::prove::jail::Jail>,
}

impl Healer {
    pub fn new(
        store: Arc<Store>,
        notifier: Option<Notifier>,
        config: Arc<Config>,
        command: Vec<String>,
        restart: mpsc::UnboundedSender<String>,
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
            baselines: Arc::default(),
            refused: Refused::default(),
            cancel: CancellationToken::new(),
            cancel_why: Arc::default(),
            taken: Mutex::new(Vec::new()),
            suite: tokio::sync::OnceCell::new(),
            jail: Arc::new(crate::prove::jail::Jail::none()),
        }
    }

    /// The proof's commands run confined by `jail`.
    pub fn with_jail(mut self, jail: Arc<crate::prove::jail::Jail>) -> Healer {
        self.jail = jail;
        self
    }

    /// Heal stops healing when `cancel` is cancelled.
    pub fn with_cancel(
        mut self,
        cancel: CancellationToken,
        why: Arc<std::sync::OnceLock<String>>,
    ) -> Healer {
        self.cancel = cancel;
        self.cancel_why = why;
        self
    }

    /// Takes jobs until the queue closes.
    pub async fn run(self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        while let Some(job) = jobs.recv().await {
            match job {
                Job::Heal(id) => {
                    // Once heal is stopping, nothing new is started: the incident stays
                    // `detected`, and is healed on its next occurrence.
                    if self.cancel.is_cancelled() {
                        continue;
                    }
                    if self.heal(&id).await == Some(true) {
                        let _ = self.restart.send(id);
                    }
                }
                Job::Barrier(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    /// Heals incident `id` (and the crash chain behind it) if it may be healed. Returns
    /// whether a fix was applied, or `None` when it was not for healing (already fixed, or
    /// being healed).
    pub async fn heal(&self, id: &str) -> Option<bool> {
        if !self.config.auto_healing {
            return None;
        }
        let record = self.take(id).await?;
        let started = Instant::now();
        // Finding and proving the fixes is abandoned when heal is asked to stop; applying
        // them is not (it takes milliseconds and must not stop half-way), so it only starts
        // if no stop came first.
        let links = tokio::select! {
            links = self.find_chain(record) => links,
            _ = self.cancel.cancelled() => {
                self.interrupted().await;
                return Some(false);
            }
        };
        if self.cancel.is_cancelled() {
            self.interrupted().await;
            return Some(false);
        }
        let applied = self.finish_chain(links, started).await;
        if let Ok(mut taken) = self.taken.lock() {
            taken.clear();
        }
        Some(applied)
    }

    /// Claims incident `id` for this healing: `None` when it is not for healing.
    async fn take(&self, id: &str) -> Option<Record> {
        // Taken atomically in the store: another heal process on the project may want it too.
        let store = self.store.clone();
        let owned = id.to_string();
        let record = off_thread("take the incident for healing", move || store.claim(&owned))
            .await
            .flatten()?;
        if let Ok(mut taken) = self.taken.lock() {
            taken.push(id.to_string());
        }
        Some(record)
    }

    /// heal was asked to stop while healing: every incident it took ends `interrupted`, and
    /// nothing was written.
    async fn interrupted(&self) {
        let taken = match self.taken.lock() {
            Ok(mut taken) => std::mem::take(&mut *taken),
            Err(_) => Vec::new(),
        };
        let why = self
            .cancel_why
            .get()
            .map_or("heal was asked to stop", String::as_str);
        let reason = format!(
            "{why} while healing this incident: the healing was cancelled before anything was \
             written; it will be healed again on its next occurrence"
        );
        for id in taken {
            let text = reason.clone();
            let saved = self
                .save(&id, move |r| {
                    if r.status == Status::Healing {
                        r.status = Status::Interrupted;
                        r.reason = Some(text.clone());
                        r.result_mut().ended(Status::Interrupted, &text);
                    }
                })
                .await;
            tracing::warn!("incident {id}: {}", crate::term::summary(&reason, &id));
            if let (Some(n), Some(record)) = (&self.notifier, saved) {
                n.update(&record);
                n.stage(&record, &format!("⏹️ {reason}"));
            }
            self.journal_done(&id, journal::step::HEAL).await;
        }
    }

    /// The project's own tests, when heal is to find and run them: `verify.commands` is
    /// empty and `verify.auto_tests` is on.
    async fn suite(&self, command: &[String]) -> Option<Suite> {
        let h = &self.config.healing;
        if !h.auto_tests || !h.verify_commands.is_empty() {
            return None;
        }
        let root = self.config.root.clone();
        let python = crate::prove::suite::python_of(command, &root);
        self.suite
            .get_or_init(|| async move { Suite::discover(&root, &python).await })
            .await
            .clone()
    }

    /// The command that reproduces `record`'s error: the one that was running when it was
    /// seen, else the healer's own (the supervised program, or `serve.rerun_command`). Empty
    /// when nothing does.
    fn reproduction(&self, record: &Record) -> Vec<String> {
        if record.context.command.is_empty() {
            self.command.clone()
        } else {
            record.context.command.clone()
        }
    }

    /// The prover of `record`'s fixes.
    async fn prover(&self, record: &Record) -> Prover {
        let h = &self.config.healing;
        let original = ErrorSignature {
            exc_type: record.error.exc_type.clone(),
            message: record.error.message.clone(),
            location: record.error.frames.last().map(|f| ErrorLocation {
                file: f.file.clone(),
                function: f.function.clone(),
            }),
        };
        let command = self.reproduction(record);
        let mut config = ProveConfig::new(
            &self.config.root,
            &self.config.storage_dir,
            command,
            original,
        );
        config.verify_commands = h.verify_commands.clone();
        // Nothing reproduces an error an SDK reported without serve.rerun_command: the
        // checks alone judge (the gates refuse when there are none).
        config.rerun = h.rerun && !config.command.is_empty();
        // The command does not reproduce what it did not see: an error reported by an SDK to
        // heal serve, or one the program caught and reported (nothing prints it).
        config.reproduction_required = record.context.command.is_empty()
            || record
                .error
                .sdk
                .as_ref()
                .is_some_and(|s| s.handled == Some(true));
        config.rerun_timeout = h.rerun_timeout;
        config.fingerprint = record.fingerprint.clone();
        config.probe_files = self.traceback_files(record);
        config.tests_timeout = h.tests_timeout;
        config.jail = self.jail.clone();
        config.secret_names = crate::config::secret_names();
        config.test = test_target(record, &config.command, &self.config.root);
        // A failing test is proved by its own test step, not by the whole suite.
        if config.test.is_none() {
            config.suite = self.suite(&config.command).await;
        }
        Prover::new(config, self.baselines.clone())
    }

    /// The project files of `record`'s traceback, relative to the root.
    fn traceback_files(&self, record: &Record) -> Vec<String> {
        let Ok(scope) = &self.scope else {
            return Vec::new();
        };
        let mut files: Vec<String> = Vec::new();
        for f in record
            .error
            .frames
            .iter()
            .filter_map(|f| instant::project_relative(scope, &f.file))
            .chain(record.context.file.clone())
        {
            if !files.contains(&f) {
                files.push(f);
            }
        }
        files
    }

    /// The traceback's lines in project files, as (relative path, line).
    fn traceback_lines(&self, record: &Record) -> Vec<(String, u32)> {
        let Ok(scope) = &self.scope else {
            return Vec::new();
        };
        record
            .error
            .frames
            .iter()
            .filter_map(|f| Some((instant::project_relative(scope, &f.file)?, f.line)))
            .collect()
    }

    /// The text of `rel` as the fix for this link sees it: the pending links' version, else
    /// the live file's.
    fn read(pending: &Pending, rel: &str, abs: &std::path::Path) -> std::io::Result<Vec<u8>> {
        match pending.text(rel) {
            Some(text) => Ok(text.as_bytes().to_vec()),
            None => std::fs::read(abs),
        }
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
                r.redact(&redactor);
            })
        })
        .await
    }
}

/// The failing test a fix must make pass, when `record` is a test run's failure.
fn test_target(
    record: &Record,
    command: &[String],
    root: &std::path::Path,
) -> Option<crate::prove::TestTarget> {
    use crate::prove::suite;
    use crate::testrun::{Failure, Phase, Runner, TestRun};
    let test = record.context.test.as_ref()?;
    let run = TestRun::of(command, root)?;
    let runner = match run.runner {
        Runner::Pytest => suite::Runner::Pytest,
        // Ids are dotted names from the project root: loaded by name, from the root.
        Runner::Unittest => suite::Runner::Unittest {
            start: ".".to_string(),
            top_level: false,
        },
    };
    Some(crate::prove::TestTarget {
        runner: run.runner,
        suite: Suite {
            python: run.python,
            runner,
        },
        failure: Failure {
            id: test.id.clone(),
            phase: Phase::parse(&test.phase).unwrap_or(Phase::Call),
            file: test.file.clone(),
        },
    })
}

#[derive(Debug, Default, Clone, Copy)]
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
                max_retry_after: h.llm_max_retry_after,
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
            c.max_retry_after = h.llm_max_retry_after;
            c.request_timeout = h.llm_timeout;
            analyse::Anthropic::new(c, config.redactor.clone())
                .map(Provider::Anthropic)
                .map_err(|e| e.to_string())
        }
    }
}
