//! The baseline: the incident reproduced in isolated copies of the unchanged code.
//!
//! The unchanged program runs [`RUNS`] times, each in a fresh copy, under the same command,
//! environment and time limit as the fixed one will. Two runs, not one, so what varies by
//! itself is known: printed lines that differ between them are masked, and functions whose
//! results differ are not judged on behaviour. A baseline that never shows the incident's
//! error (flaky, or dependent on time or data) is kept as such: the fix is then judged only by
//! the checks and by the error not occurring, and the proof says it was weaker.
//!
//! It must never touch the live tree: everything runs in copies, removed after each run.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::behaviour::{self, Calls, ProbeSpec};
use super::output::Expectation;
use super::run::{self, Outcome};
use super::suite::{self, SuiteRun, TestOutcome};
use super::verdict::Seen;
use super::{ErrorSignature, Pending, ProveConfig, Prover, Sandbox, ladder};

/// Runs of the unchanged program.
pub const RUNS: usize = 2;

/// What the unchanged program did.
#[derive(Debug)]
pub struct Baseline {
    pub runs: Vec<RunFacts>,
    /// Runs that showed the incident's error.
    pub reproduced: usize,
    /// Every error the unchanged runs printed.
    pub known: Vec<ErrorSignature>,
    /// What the fixed program must print first; `None` when it cannot be judged.
    pub expectation: Option<Expectation>,
    /// What the functions of the probed files returned, per run.
    pub calls: Vec<Calls>,
    /// Why the baseline could not be run, if it could not.
    pub problem: Option<String>,
    /// The project's own tests on the unchanged code, when there are any.
    pub tests: Option<SuiteRun>,
    /// How they were run, as a person would type it.
    pub tests_command: String,
    pub duration: Duration,
}

/// One run of the unchanged program.
#[derive(Debug, Clone)]
pub struct RunFacts {
    pub exit: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    /// Each distinct error, summarised.
    pub errors: Vec<String>,
    pub reproduced: bool,
    pub duration: Duration,
}

/// The baseline as the record keeps it (`fix.baseline`). Its field names are a promise to
/// users, as the record's are. Reading is tolerant: a field an older record lacks takes its
/// default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BaselineReport {
    /// Runs of the unchanged program.
    pub runs: usize,
    /// How many of them showed the incident's error.
    pub reproduced: usize,
    /// How each ended.
    pub ends: Vec<String>,
    /// The distinct errors they printed.
    pub errors: Vec<String>,
    /// Lines of stdout the fixed program must print the same.
    pub output_lines: usize,
    /// Of those, lines that vary between runs and are masked.
    pub masked_lines: usize,
    pub duration_ms: u64,
    /// Run for an earlier candidate of this incident, on the same code, and reused.
    pub reused: bool,
    /// The project's own tests on the unchanged code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tests: Option<TestsReport>,
    /// What made the proof weaker, or why the baseline could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The project's tests in the baseline, as the record keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TestsReport {
    pub command: String,
    pub passed: usize,
    /// Tests not passing on the unchanged code: tolerated after the fix.
    pub failing: Vec<String>,
    /// Why the run has no complete results, if it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The environment both the baseline and the fixed program run with: the same, so they are
/// compared fairly. Unbuffered, so stdout and stderr lines keep their order.
pub(super) fn run_env() -> Vec<(String, OsString)> {
    vec![("PYTHONUNBUFFERED".to_string(), OsString::from("1"))]
}

impl Baseline {
    /// Runs the unchanged program (with `pending` over the live tree) [`RUNS`] times.
    pub(super) async fn run(
        prover: &Prover,
        pending: &Pending,
        probe_files: &[String],
    ) -> Baseline {
        let config = prover.config();
        let started = Instant::now();
        let mut baseline = Baseline {
            runs: Vec::new(),
            reproduced: 0,
            known: Vec::new(),
            expectation: None,
            calls: Vec::new(),
            problem: None,
            tests: None,
            tests_command: config
                .suite
                .as_ref()
                .map(suite::Suite::command_line)
                .unwrap_or_default(),
            duration: Duration::ZERO,
        };
        let mut printed: Vec<Vec<String>> = Vec::new();
        if !config.rerun {
            if let Some(suite) = &config.suite {
                match prover.copy(pending, None).await {
                    Ok(sandbox) => {
                        baseline.tests = Some(
                            suite
                                .run(sandbox.path(), None, config.tests_timeout, &config.jail)
                                .await,
                        );
                        let _ = tokio::task::spawn_blocking(move || drop(sandbox)).await;
                    }
                    Err(e) => {
                        baseline.problem = Some(format!(
                            "the unchanged program's tests could not be run: {e}"
                        ));
                    }
                }
            }
            baseline.duration = started.elapsed();
            return baseline;
        }
        for i in 0..RUNS {
            let sandbox = match prover.copy(pending, None).await {
                Ok(s) => s,
                Err(e) => {
                    baseline.problem = Some(format!("the unchanged program could not be run: {e}"));
                    break;
                }
            };
            // Every function of the files a fix may edit is watched: the baseline is shared by
            // candidates that edit different ones.
            let spec = ProbeSpec {
                root: sandbox.path().to_path_buf(),
                files: probe_files.to_vec(),
                functions: Vec::new(),
                limits: behaviour::Limits::default(),
            };
            let (outcome, calls) = match probed(config, &sandbox, &spec).await {
                Ok(o) => o,
                Err(e) => {
                    let _ = tokio::task::spawn_blocking(move || drop(sandbox)).await;
                    baseline.problem = Some(format!("the unchanged program could not be run: {e}"));
                    break;
                }
            };
            baseline.calls.push(calls);
            let seen = placed(&outcome, &sandbox);
            // The tests run once, after the first run, as they will after the fixed one.
            if i == 0
                && let Some(suite) = &config.suite
            {
                baseline.tests = Some(
                    suite
                        .run(sandbox.path(), None, config.tests_timeout, &config.jail)
                        .await,
                );
            }
            let _ = tokio::task::spawn_blocking(move || drop(sandbox)).await;

            let incident = seen
                .iter()
                .find(|s| config.original.is_same_error(&s.signature));
            let reproduced = if is_crash(&config.original) {
                !outcome.timed_out && outcome.exit != Some(0)
            } else {
                incident.is_some()
            };
            let cut = incident.map_or(u64::MAX, |s| s.printed.seq);
            printed.push(
                outcome
                    .stdout
                    .iter()
                    .take_while(|l| l.seq < cut)
                    .map(|l| l.text.clone())
                    .collect(),
            );
            let mut errors = Vec::new();
            for s in &seen {
                if !baseline.known.iter().any(|k| k.is_same_error(&s.signature)) {
                    baseline.known.push(s.signature.clone());
                }
                let summary = s.summary();
                if !errors.contains(&summary) {
                    errors.push(summary);
                }
            }
            if reproduced {
                baseline.reproduced += 1;
            }
            baseline.runs.push(RunFacts {
                exit: outcome.exit,
                signal: outcome.signal,
                timed_out: outcome.timed_out,
                errors,
                reproduced,
                duration: outcome.duration,
            });
        }
        if baseline.reproduced == RUNS
            && let [a, b] = printed.as_slice()
        {
            baseline.expectation = Some(Expectation::from_runs(a, b));
        }
        baseline.duration = started.elapsed();
        baseline
    }

    /// A test run's baseline: the failing test and its neighbours (`selection`) run once on
    /// the unchanged code. It reproduces when the failing test does not pass.
    pub(super) async fn run_selection(
        prover: &Prover,
        pending: &Pending,
        target: &super::TestTarget,
        selection: &[String],
    ) -> Baseline {
        let config = prover.config();
        let started = Instant::now();
        let mut baseline = Baseline {
            runs: Vec::new(),
            reproduced: 0,
            known: Vec::new(),
            expectation: None,
            calls: Vec::new(),
            problem: None,
            tests: None,
            tests_command: target.suite.command_line(),
            duration: Duration::ZERO,
        };
        let sandbox = match prover.copy(pending, None).await {
            Ok(s) => s,
            Err(e) => {
                baseline.problem = Some(format!("the unchanged tests could not be run: {e}"));
                return baseline;
            }
        };
        let run = target
            .suite
            .run(
                sandbox.path(),
                Some(selection),
                config.tests_timeout,
                &config.jail,
            )
            .await;
        let _ = tokio::task::spawn_blocking(move || drop(sandbox)).await;
        let outcome = run.results.get(&target.failure.id).copied();
        let reproduced = outcome.is_some_and(|o| o != TestOutcome::Passed);
        if let Some(problem) = &run.problem {
            baseline.problem = Some(format!("the unchanged tests did not complete: {problem}"));
        }
        baseline.reproduced = usize::from(reproduced);
        baseline.runs.push(RunFacts {
            exit: run.exit,
            signal: None,
            timed_out: false,
            errors: run
                .results
                .iter()
                .filter(|(_, o)| matches!(o, TestOutcome::Failed | TestOutcome::Error))
                .map(|(id, o)| format!("{id}: {o}"))
                .collect(),
            reproduced,
            duration: run.duration,
        });
        baseline.tests = Some(run);
        baseline.duration = started.elapsed();
        baseline
    }

    /// Why a proof against this baseline is weaker than a full one, if it is.
    pub fn weaker(&self) -> Option<String> {
        if let Some(problem) = &self.problem {
            return Some(problem.clone());
        }
        match self.reproduced {
            0 => Some(format!(
                "the unchanged program did not show the error in {} run(s) (flaky, or dependent \
                 on time or data): the fix was judged only by the checks and by the error not \
                 occurring",
                self.runs.len()
            )),
            n if n < self.runs.len() => Some(format!(
                "the unchanged program showed the error in {n} of {} runs: its output was not \
                 compared",
                self.runs.len()
            )),
            _ => None,
        }
    }

    pub fn report(&self) -> BaselineReport {
        let mut errors: Vec<String> = Vec::new();
        for run in &self.runs {
            for e in &run.errors {
                if !errors.contains(e) {
                    errors.push(e.clone());
                }
            }
        }
        BaselineReport {
            runs: self.runs.len(),
            reproduced: self.reproduced,
            ends: self
                .runs
                .iter()
                .map(|r| {
                    if r.timed_out {
                        "still running at the time limit".to_string()
                    } else {
                        ladder::describe_exit(r.exit, r.signal)
                    }
                })
                .collect(),
            errors,
            output_lines: self.expectation.as_ref().map_or(0, Expectation::len),
            masked_lines: self.expectation.as_ref().map_or(0, |e| e.masked),
            duration_ms: ladder::millis(self.duration),
            reused: false,
            tests: self.tests.as_ref().map(|t| TestsReport {
                command: self.tests_command.clone(),
                passed: t
                    .results
                    .values()
                    .filter(|o| **o == TestOutcome::Passed)
                    .count(),
                failing: t
                    .results
                    .iter()
                    .filter(|(_, o)| matches!(o, TestOutcome::Failed | TestOutcome::Error))
                    .map(|(id, _)| id.clone())
                    .collect(),
                problem: t.problem.as_ref().map(ToString::to_string),
            }),
            note: self.weaker(),
        }
    }
}

fn is_crash(original: &ErrorSignature) -> bool {
    original.exc_type == "Crash" && original.location.is_none()
}

/// Runs the supervised command in `sandbox` with the behaviour probe watching what `spec`
/// names; returns how it went and what the watched functions returned.
pub(super) async fn probed(
    config: &ProveConfig,
    sandbox: &Sandbox,
    spec: &ProbeSpec,
) -> Result<(Outcome, Calls), String> {
    let Some((program, args)) =
        ladder::command_in_copy(&config.command, &config.root, sandbox.path())
    else {
        return Err("there is no command to re-run".to_string());
    };
    let mut env = run_env();
    let installed = probe_dir(sandbox).and_then(|dir| {
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        behaviour::install(&dir, spec).map_err(|e| e.to_string())
    });
    let output = match installed {
        Ok(installed) => {
            env.extend(installed.env);
            Some(installed.output)
        }
        // Without the probe the run still judges errors and output; behaviour is "no data".
        Err(e) => {
            tracing::warn!("the behaviour probe could not be installed: {e}");
            None
        }
    };
    let scratch = sandbox.scratch().ok();
    let mut writable = vec![sandbox.path()];
    writable.extend(scratch.as_deref());
    let outcome = run::execute(&run::Spec {
        program: &program,
        args: &args,
        cwd: sandbox.path(),
        env: &env,
        timeout: config.rerun_timeout,
        jail: &config.jail,
        writable: &writable,
    })
    .await
    .map_err(|e| format!("cannot start the program: {e}"))?;
    let calls = output.map(|o| behaviour::read(&o)).unwrap_or_default();
    Ok((outcome, calls))
}

/// The folder the behaviour probe of a run in `sandbox` is written into: beside the copy, not
/// in it, where the program's own tools cannot see it. Absolute, as Python prints its frames.
/// Only named here: [`probed`] makes it, [`placed`] only reads the path.
fn probe_dir(sandbox: &Sandbox) -> Result<PathBuf, String> {
    let dir = sandbox.scratch_path().join("probe");
    std::path::absolute(&dir).map_err(|e| format!("{}: {e}", dir.display()))
}

/// The run's errors, placed in the copy it ran in. The probe's own frames are taken off their
/// inner end first: where they show, the program's error was raised through the probe (a
/// RecursionError before Python 3.11), and it belongs to the program's frame under them.
pub(super) fn placed(outcome: &Outcome, sandbox: &Sandbox) -> Vec<Seen> {
    let roots = super::roots_of(sandbox.path());
    let roots: Vec<&str> = roots.iter().map(String::as_str).collect();
    let probe = probe_dir(sandbox).ok();
    outcome
        .errors
        .iter()
        .map(|p| {
            let mut printed = p.clone();
            if let Some(dir) = &probe {
                behaviour::strip_probe_frames(&mut printed.traceback, dir);
            }
            Seen::new(printed, &roots)
        })
        .collect()
}
