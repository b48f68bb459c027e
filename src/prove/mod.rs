//! Proves a planned fix before it touches the live tree, by comparing the fixed program with
//! the program as it was.
//!
//! First the **baseline** ([`baseline`]): the incident is reproduced in isolated copies of the
//! unchanged code ([`sandbox`]), twice, under the same command and limits, keeping how each
//! run ended, every error it printed, what it printed before the incident's error, and (in
//! the copy) the results of the functions a fix may edit. It is run once per incident and
//! code state, and reused by every candidate fix.
//!
//! Then the fix is written into a fresh copy and climbs a ladder, stopping at the first rung
//! that fails:
//! 1. `syntax`: every edited Python file parses (tree-sitter, then `python3 -m py_compile`);
//! 2. `check`: each of the user's verify commands exits 0 (`sh -c`, in the copy);
//! 3. `rerun`: the supervised command, re-run in the copy, judged against the baseline
//!    ([`verdict`]): the incident's error gone, no error in what the fix touched, errors the
//!    baseline had tolerated, a new error further on is progress (the next link of a chain);
//! 4. `behaviour`: calls of the edited functions that returned in the baseline return the
//!    same values;
//! 5. `output`: what the baseline printed before its error is printed the same;
//! 6. `examples`: the edited files' docstring examples hold ([`examples`]), judged against the
//!    same examples run on the code as it was, and the values the re-run saw the edited
//!    functions return have the form their docstrings show by example (`e.g. '243.00 EUR'`);
//! 7. `tests`: the project's own tests ([`suite`]) that passed in the baseline still pass.
//!
//! It must never write to the live tree, never leave a copy or a process behind (copies are
//! removed on every path out, panics and cancellation included; every command's process
//! group is killed), and never report a pass it did not see.

pub mod baseline;
pub mod behaviour;
pub mod bindings;
pub mod edited;
pub mod examples;
pub mod jail;
mod ladder;
pub mod none_paths;
pub mod output;
mod rerun;
pub mod run;
pub mod sandbox;
pub mod signature;
pub mod state;
pub mod suite;
pub mod syntax;
pub mod verdict;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::apply::Plan;
use crate::detect::Traceback;

pub use baseline::{Baseline, BaselineReport};
pub(crate) use ladder::describe_exit;
use ladder::shell_words;
pub use sandbox::{Isolation, SKIPPED_DIRS, Sandbox, SandboxError};
pub use signature::{ErrorLocation, ErrorSignature, last_traceback};

/// Default time the re-run gets before a still-running program counts as healthy.
pub const DEFAULT_RERUN_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time limit of each verify command (and of `py_compile`).
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(300);
/// Default cap on what a plain copy may copy.
pub const DEFAULT_MAX_COPY_BYTES: u64 = 200 * 1_000_000;
/// Baselines kept for reuse; the oldest go first.
const BASELINE_CACHE: usize = 16;

/// What to prove a fix against.
#[derive(Debug, Clone)]
pub struct ProveConfig {
    /// The live project root.
    pub root: PathBuf,
    /// heal's storage folder, never copied.
    pub storage_dir: PathBuf,
    /// The supervised program and its arguments.
    pub command: Vec<String>,
    /// Shell commands (`sh -c`) that must exit 0 in the copy.
    pub verify_commands: Vec<String>,
    /// Whether to re-run `command` in the copy.
    pub rerun: bool,
    pub rerun_timeout: Duration,
    pub check_timeout: Duration,
    pub max_copy_bytes: u64,
    /// Where the copy is made; must be outside the project. `std::env::temp_dir()` by default.
    pub temp_dir: PathBuf,
    /// The error the fix is meant to remove.
    pub original: ErrorSignature,
    /// The incident's fingerprint: with the code state, it names the baseline to reuse.
    pub fingerprint: String,
    /// Project files of the incident's traceback: the baseline watches the functions they
    /// define, so a fix editing any of them can be judged on behaviour.
    pub probe_files: Vec<String>,
    /// The project's own tests, run in the baseline and after the fix; `None` for none.
    pub suite: Option<suite::Suite>,
    pub tests_timeout: Duration,
    /// The failing test a fix must make pass, when the incident is a test run's: then the proof
    /// runs that test and its neighbours, not the program.
    pub test: Option<TestTarget>,
    /// What confines every command of the proof.
    pub jail: Arc<jail::Jail>,
    /// Environment names heal treats as secret: removed from the `.env` of every copy.
    pub secret_names: Vec<String>,
    /// `command` is not what saw the error (an SDK reported it to `heal serve`, and `command`
    /// is `serve.rerun_command`): when the unchanged program does not show the error, nothing
    /// shows that a fix removes it, and without verify commands the fix fails.
    pub reproduction_required: bool,
}

/// A failing test of a test run, and how to run it.
#[derive(Debug, Clone)]
pub struct TestTarget {
    pub runner: crate::testrun::Runner,
    pub suite: suite::Suite,
    pub failure: crate::testrun::Failure,
}

impl ProveConfig {
    /// A config with the defaults: re-run on, no verify commands, 10 s re-run, 300 s checks,
    /// 200 MB copy cap.
    pub fn new(
        root: &Path,
        storage_dir: &Path,
        command: Vec<String>,
        original: ErrorSignature,
    ) -> ProveConfig {
        ProveConfig {
            root: root.to_path_buf(),
            storage_dir: storage_dir.to_path_buf(),
            command,
            verify_commands: Vec::new(),
            rerun: true,
            rerun_timeout: DEFAULT_RERUN_TIMEOUT,
            check_timeout: DEFAULT_CHECK_TIMEOUT,
            max_copy_bytes: DEFAULT_MAX_COPY_BYTES,
            temp_dir: std::env::temp_dir(),
            fingerprint: original.summary(),
            original,
            probe_files: Vec::new(),
            suite: None,
            tests_timeout: DEFAULT_CHECK_TIMEOUT,
            test: None,
            jail: Arc::new(jail::Jail::none()),
            secret_names: Vec::new(),
            reproduction_required: false,
        }
    }
}

/// Proved fixes not yet in the live tree (the earlier links of a crash chain): each copy is
/// made of the live tree with these files over it, and the next fix is planned against them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pending {
    /// Relative path → (the live file, its text once the earlier links are applied).
    files: BTreeMap<String, (PathBuf, String)>,
}

impl Pending {
    /// Adds a proved plan on top.
    pub fn add(&mut self, plan: &Plan) {
        for f in &plan.files {
            self.files
                .insert(f.rel.clone(), (f.abs.clone(), f.after.clone()));
        }
    }

    /// The text of `rel` once the earlier links are applied, if one of them changed it.
    pub fn text(&self, rel: &str) -> Option<&str> {
        self.files.get(rel).map(|(_, text)| text.as_str())
    }

    /// Every file, as (relative path, live path, text).
    pub fn files(&self) -> impl Iterator<Item = (&str, &Path, &str)> {
        self.files
            .iter()
            .map(|(rel, (abs, text))| (rel.as_str(), abs.as_path(), text.as_str()))
    }

    fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for (rel, (_, text)) in &self.files {
            h.update(rel.as_bytes());
            h.update([0]);
            h.update(text.as_bytes());
            h.update([0]);
        }
        h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepName {
    Syntax,
    Check,
    Rerun,
    Behaviour,
    Output,
    /// The edited files' docstring examples.
    Examples,
    Tests,
    /// The failing test of a test run, with its neighbours.
    Test,
}

impl StepName {
    pub fn as_str(self) -> &'static str {
        match self {
            StepName::Syntax => "syntax",
            StepName::Check => "check",
            StepName::Rerun => "rerun",
            StepName::Behaviour => "behaviour",
            StepName::Output => "output",
            StepName::Examples => "examples",
            StepName::Tests => "tests",
            StepName::Test => "test",
        }
    }
}

impl std::fmt::Display for StepName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rung of the ladder, as it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: StepName,
    /// The command as a person would type it; empty when the step ran no command.
    pub command: String,
    /// `None` when the command did not exit by itself (killed, timed out, or not started).
    pub exit: Option<i32>,
    /// The last lines of its output (stdout and stderr, in arrival order).
    pub output_tail: String,
    pub duration_ms: u64,
    pub passed: bool,
    /// What was judged, in words: for a failure, why.
    pub detail: String,
}

impl Step {
    fn judged(name: StepName, passed: bool, detail: String) -> Step {
        Step {
            name,
            command: String::new(),
            exit: None,
            output_tail: String::new(),
            duration_ms: 0,
            passed,
            detail,
        }
    }
}

/// The next error of a crash chain: where the fixed program now stops.
#[derive(Debug, Clone)]
pub struct Next {
    /// Its paths point into the live tree.
    pub traceback: Traceback,
    pub stream: run::Stream,
}

/// The proof's verdict.
#[derive(Debug, Clone)]
pub struct Validation {
    pub steps: Vec<Step>,
    pub passed: bool,
    /// What went wrong, worded to be sent back to the model; `None` when it passed.
    pub failure: Option<String>,
    /// How the copy was made; `None` when it could not be made.
    pub isolation: Option<Isolation>,
    /// The program now gets further than the baseline did, to this error.
    pub next: Option<Next>,
    /// What the unchanged program did; `None` when there was nothing to run.
    pub baseline: Option<BaselineReport>,
    /// Why this proof was weaker than a full one, if it was (the baseline did not reproduce
    /// the error).
    pub weaker: Option<String>,
    /// What confined it, in words.
    pub sandbox: String,
}

impl Validation {
    fn failed_to_start(reason: String) -> Validation {
        Validation {
            steps: Vec::new(),
            passed: false,
            failure: Some(format!("The fix could not be proved: {reason}")),
            isolation: None,
            next: None,
            baseline: None,
            weaker: None,
            sandbox: String::new(),
        }
    }
}

/// Baselines already run, by incident and code state; shared by the healings of one heal
/// process.
#[derive(Debug, Default)]
pub struct Baselines {
    entries: Mutex<Vec<(String, Arc<Baseline>)>>,
}

impl Baselines {
    fn get(&self, key: &str) -> Option<Arc<Baseline>> {
        let entries = self.entries.lock().ok()?;
        entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, b)| Arc::clone(b))
    }

    fn put(&self, key: String, baseline: Arc<Baseline>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|(k, _)| *k != key);
            if entries.len() >= BASELINE_CACHE {
                entries.remove(0);
            }
            entries.push((key, baseline));
        }
    }
}

/// Proves fixes for one incident, reusing its baseline.
pub struct Prover {
    config: ProveConfig,
    baselines: Arc<Baselines>,
}

impl Prover {
    pub fn new(config: ProveConfig, baselines: Arc<Baselines>) -> Prover {
        Prover { config, baselines }
    }

    pub fn config(&self) -> &ProveConfig {
        &self.config
    }

    /// Proves `plan` on top of `pending` in an isolated copy. Never fails: every problem,
    /// including one making a copy, is a failed [`Validation`] that says why.
    pub async fn prove(&self, plan: &Plan, pending: &Pending) -> Validation {
        let sandbox = match self.copy(pending, Some(plan)).await {
            Ok(sandbox) => sandbox,
            Err(e) => return Validation::failed_to_start(e),
        };
        // A healer killed here (its copy made, its proof under way) is what the fleet's
        // takeover test needs.
        crate::failpoint::hit("proving");
        let isolation = sandbox.isolation();
        let mut steps = Vec::new();
        let mut next = None;
        let mut report = None;
        let mut weaker = None;
        'ladder: {
            let syntax = ladder::syntax_step(plan, &self.config, &sandbox).await;
            let ok = syntax.passed;
            steps.push(syntax);
            if !ok {
                break 'ladder;
            }
            for command in &self.config.verify_commands {
                let step = ladder::check_step(command, &self.config, &sandbox).await;
                let ok = step.passed;
                steps.push(step);
                if !ok {
                    break 'ladder;
                }
            }
            if let Some(target) = &self.config.test {
                let selection = self.selection(target, plan).await;
                let baseline = self.test_baseline(target, &selection, pending).await;
                report = Some(baseline.report());
                weaker = baseline.weaker();
                steps.push(
                    rerun::test_step(&self.config, target, &baseline, &selection, &sandbox).await,
                );
                break 'ladder;
            }
            if !self.config.rerun && self.config.suite.is_none() {
                break 'ladder;
            }
            let (baseline, reused) = self.baseline(plan, pending).await;
            report = Some(BaselineReport {
                reused,
                ..baseline.report()
            });
            weaker = baseline.weaker();
            let mut fixed_calls = None;
            if let Some(step) = self.unreproduced(&baseline) {
                steps.push(step);
                break 'ladder;
            }
            if self.config.rerun {
                let judged = rerun::rerun(&self.config, &baseline, plan, &sandbox).await;
                next = judged.next;
                fixed_calls = Some(judged.calls);
                let passed = judged.steps.iter().all(|s| s.passed);
                steps.extend(judged.steps);
                if !passed {
                    next = None;
                    break 'ladder;
                }
            }
            let seen = fixed_calls.as_ref().map(|after| examples::Seen {
                before: &baseline.calls,
                after,
            });
            if let Some(step) = examples::step(&self.config, plan, &sandbox, seen).await {
                let ok = step.passed;
                steps.push(step);
                if !ok {
                    break 'ladder;
                }
            }
            if let Some(step) = rerun::tests(&self.config, &baseline, &sandbox).await {
                steps.push(step);
            }
        }
        if steps.iter().any(|s| !s.passed) {
            next = None;
        }
        // Tracebacks name the copy's paths, which are gone once this returns; the live paths
        // are the ones the user and the model know.
        let copy = sandbox.path().to_string_lossy().into_owned();
        let live = self.config.root.to_string_lossy().into_owned();
        for step in &mut steps {
            step.output_tail = step.output_tail.replace(&copy, &live);
            step.detail = step.detail.replace(&copy, &live);
        }
        // Removing a worktree runs git and deletes files: off the async threads.
        let _ = tokio::task::spawn_blocking(move || drop(sandbox)).await;
        let failure = steps.iter().find(|s| !s.passed).map(failure_text);
        if let Some(note) = self.config.jail.network_note() {
            weaker = Some(match weaker {
                Some(w) => format!("{w}; {note}"),
                None => note.to_string(),
            });
        }
        Validation {
            passed: failure.is_none(),
            steps,
            failure,
            isolation: Some(isolation),
            next,
            baseline: report,
            weaker,
            sandbox: self.config.jail.describe(),
        }
    }

    /// The failed step of a fix nothing can judge: the error was not seen by the command that
    /// reproduces it ([`ProveConfig::reproduction_required`]), and no verify command checks
    /// the fix.
    fn unreproduced(&self, baseline: &Baseline) -> Option<Step> {
        let c = &self.config;
        if !c.reproduction_required
            || !c.rerun
            || baseline.reproduced > 0
            || !c.verify_commands.is_empty()
        {
            return None;
        }
        Some(Step {
            command: shell_words(&c.command),
            ..Step::judged(
                StepName::Rerun,
                false,
                format!(
                    "the unchanged program did not show the error in {} run(s) of `{}` (serve.rerun_command): nothing shows that a fix removes it, and no verify.commands judge one. Set serve.rerun_command to a command that runs the code that failed, or add verify.commands",
                    baseline.runs.len(),
                    shell_words(&c.command)
                ),
            )
        })
    }

    /// What the calls of function `name` in `file` did in a run of the program as it is (the
    /// baseline, run now or reused by the proof after): sentences like
    /// `cost_per_click(5.0, 0) raised ZeroDivisionError`, for the model. Empty when the
    /// program does not re-run here, or the probe saw nothing.
    pub async fn observed_calls(
        &self,
        pending: &Pending,
        file: &str,
        name: &str,
        max: usize,
    ) -> Vec<String> {
        if !self.config.rerun || self.config.test.is_some() {
            return Vec::new();
        }
        let (baseline, _) = self
            .baseline_of(self.config.probe_files.clone(), pending)
            .await;
        baseline
            .calls
            .first()
            .map(|c| c.described(file, name, max))
            .unwrap_or_default()
    }

    /// The baseline of the code `plan` applies to, from the cache (then `true`) or run now.
    async fn baseline(&self, plan: &Plan, pending: &Pending) -> (Arc<Baseline>, bool) {
        let mut files = self.config.probe_files.clone();
        for f in &plan.files {
            if !files.contains(&f.rel) {
                files.push(f.rel.clone());
            }
        }
        self.baseline_of(files, pending).await
    }

    /// The baseline with the functions of `files` watched, from the cache (then `true`) or
    /// run now.
    async fn baseline_of(
        &self,
        mut files: Vec<String>,
        pending: &Pending,
    ) -> (Arc<Baseline>, bool) {
        files.sort();
        let root = self.config.root.clone();
        let storage = self.config.storage_dir.clone();
        let state = tokio::task::spawn_blocking(move || state::digest(&root, &storage))
            .await
            .ok()
            .flatten();
        let key = state.map(|s| {
            format!(
                "{}|{}|{}|{}",
                self.config.fingerprint,
                s,
                pending.digest(),
                files.join(",")
            )
        });
        if let Some(found) = key.as_deref().and_then(|k| self.baselines.get(k)) {
            return (found, true);
        }
        let made = Arc::new(Baseline::run(self, pending, &files).await);
        if let Some(key) = key
            && made.problem.is_none()
        {
            self.baselines.put(key, Arc::clone(&made));
        }
        (made, false)
    }

    /// The tests a fix of a failing test is proved with.
    async fn selection(&self, target: &TestTarget, plan: &Plan) -> Vec<String> {
        let root = self.config.root.clone();
        let runner = target.runner;
        let failure = target.failure.clone();
        let touched: Vec<String> = plan.files.iter().map(|f| f.rel.clone()).collect();
        let fallback = vec![failure.id.clone()];
        tokio::task::spawn_blocking(move || {
            crate::testrun::selection(&root, runner, &failure, &touched)
        })
        .await
        .unwrap_or(fallback)
    }

    /// The selection's results on the unchanged code, from the cache or run now.
    async fn test_baseline(
        &self,
        target: &TestTarget,
        selection: &[String],
        pending: &Pending,
    ) -> Arc<Baseline> {
        let root = self.config.root.clone();
        let storage = self.config.storage_dir.clone();
        let state = tokio::task::spawn_blocking(move || state::digest(&root, &storage))
            .await
            .ok()
            .flatten();
        let key = state.map(|s| {
            format!(
                "test|{}|{}|{}|{}",
                self.config.fingerprint,
                s,
                pending.digest(),
                selection.join(",")
            )
        });
        if let Some(found) = key.as_deref().and_then(|k| self.baselines.get(k)) {
            return found;
        }
        let made = Arc::new(Baseline::run_selection(self, pending, target, selection).await);
        if let Some(key) = key
            && made.problem.is_none()
        {
            self.baselines.put(key, Arc::clone(&made));
        }
        made
    }

    /// A fresh copy of the live tree with `pending` (and `plan`, when given) written over it.
    async fn copy(&self, pending: &Pending, plan: Option<&Plan>) -> Result<Sandbox, String> {
        let root = self.config.root.clone();
        let storage = self.config.storage_dir.clone();
        let max = self.config.max_copy_bytes;
        let temp = self.config.temp_dir.clone();
        let mut files: Vec<(String, PathBuf, String)> = pending
            .files()
            .map(|(rel, abs, text)| (rel.to_string(), abs.to_path_buf(), text.to_string()))
            .collect();
        if let Some(plan) = plan {
            files.extend(
                plan.files
                    .iter()
                    .map(|f| (f.rel.clone(), f.abs.clone(), f.after.clone())),
            );
        }
        // Copying may take a while: off the async threads. Should this future be dropped
        // while it runs, the sandbox is dropped (and removed) when the blocking task ends.
        let secrets = self.config.secret_names.clone();
        let made = tokio::task::spawn_blocking(move || {
            let sandbox = Sandbox::create(&root, &storage, &temp, max)?;
            for (rel, live, text) in &files {
                sandbox.write(rel, text, Some(live))?;
            }
            sandbox.forget_secrets(&secrets)?;
            Ok::<_, SandboxError>(sandbox)
        })
        .await;
        match made {
            Ok(Ok(sandbox)) => Ok(sandbox),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(format!("the copy could not be made: {e}")),
        }
    }
}

/// Proves `plan` for one incident with nothing cached and nothing pending.
pub async fn prove(plan: &Plan, config: &ProveConfig) -> Validation {
    Prover::new(config.clone(), Arc::default())
        .prove(plan, &Pending::default())
        .await
}

fn failure_text(s: &Step) -> String {
    let mut text = format!("The {} step failed: {}", s.name, s.detail);
    if !s.command.is_empty() {
        text.push_str(&format!("\nCommand: {}", s.command));
    }
    if !s.output_tail.trim().is_empty() {
        text.push_str(&format!("\nLast output:\n{}", s.output_tail.trim_end()));
    }
    text
}

/// `roots` spellings of one copy, as the program may print its paths.
fn roots_of(path: &Path) -> Vec<String> {
    let mut out = vec![path.to_string_lossy().into_owned()];
    if let Ok(c) = path.canonicalize() {
        let c = c.to_string_lossy().into_owned();
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// Points every path of `tb` under `from` at `to` instead.
fn relocate(tb: &mut Traceback, from: &str, to: &str) {
    fn exc(e: &mut crate::detect::Exception, from: &str, to: &str) {
        for f in &mut e.frames {
            if let Some(rest) = f.file.strip_prefix(from) {
                f.file = format!("{to}{rest}");
            }
        }
        for member in &mut e.group {
            exc(member, from, to);
        }
    }
    exc(&mut tb.exception, from, to);
    for (e, _) in &mut tb.chain {
        exc(e, from, to);
    }
    tb.text = tb.text.replace(from, to);
}
