//! The fixed program judged against the baseline, in the copy that holds the fix: the
//! `rerun` step (the verdict on its errors), then `behaviour` and `output` when it passed, and
//! the project's `tests`.
//!
//! It must never touch the live tree, and never pass a step it did not see pass: what cannot be
//! judged (no baseline reproduction, no data from the probe) is said in the step's detail.

use std::sync::Arc;

use super::baseline::{Baseline, placed, probed};
use super::behaviour::{self, Calls, FunctionId, ProbeSpec};
use super::edited::Edited;
use super::run::Outcome;
use super::suite;
use super::verdict::{self, Against, Ending, RunVerdict};
use super::{Next, ProveConfig, Sandbox, Step, StepName, ladder};
use crate::apply::Plan;

/// What the fixed program's re-run showed.
pub(super) struct Judged {
    pub steps: Vec<Step>,
    pub next: Option<Next>,
    /// What the probe saw the edited functions return in the fixed run.
    pub calls: Calls,
}

/// Re-runs the fixed program in `sandbox` and judges it against `baseline`: the `rerun` step,
/// then `behaviour` and `output` when it passed.
pub(super) async fn rerun(
    config: &ProveConfig,
    baseline: &Arc<Baseline>,
    plan: &Plan,
    sandbox: &Sandbox,
) -> Judged {
    let mut step = Step {
        name: StepName::Rerun,
        command: ladder::shell_words(&config.command),
        exit: None,
        output_tail: String::new(),
        duration_ms: 0,
        passed: false,
        detail: String::new(),
    };
    let edited = Edited::of(plan);
    let functions: Vec<FunctionId> = edited
        .functions()
        .into_iter()
        .map(|(file, qualname)| FunctionId::new(file, qualname))
        .collect();
    let spec = ProbeSpec {
        root: sandbox.path().to_path_buf(),
        files: Vec::new(),
        functions: functions.clone(),
        limits: behaviour::Limits::default(),
    };
    let (outcome, calls) = match probed(config, sandbox, &spec).await {
        Ok(o) => o,
        Err(e) => {
            step.detail = e;
            return Judged {
                steps: vec![step],
                next: None,
                calls: Calls::default(),
            };
        }
    };
    step.exit = outcome.exit;
    step.output_tail = outcome.output_tail.clone();
    step.duration_ms = ladder::millis(outcome.duration);
    let seen = placed(&outcome, sandbox);
    let verdict = verdict::judge(
        &seen,
        Ending {
            exit: outcome.exit,
            signal: outcome.signal,
            timed_out: outcome.timed_out,
            limit_s: config.rerun_timeout.as_secs_f32(),
        },
        &Against {
            original: &config.original,
            known: &baseline.known,
            reproduced: baseline.reproduced > 0,
            edited: &edited,
        },
    );
    step.passed = verdict.passed();
    step.detail = verdict.detail().to_string();
    let timing = verdict::Timing {
        baseline_longest: baseline
            .runs
            .iter()
            .all(|r| !r.timed_out)
            .then(|| baseline.runs.iter().map(|r| r.duration).max())
            .flatten(),
        limit: config.rerun_timeout,
        timed_out: outcome.timed_out,
        last_output: outcome.last_output,
        cpu: outcome.cpu_at_limit,
    };
    if step.passed
        && let Some(why) = verdict::no_longer_ends(timing)
    {
        step.passed = false;
        step.detail = why;
    }
    let mut next = None;
    if let RunVerdict::Progress { next: at, .. } = &verdict
        && let Some(seen) = seen.get(*at)
    {
        let mut traceback = seen.printed.traceback.clone();
        let live = config.root.to_string_lossy();
        for root in super::roots_of(sandbox.path()) {
            super::relocate(&mut traceback, &root, &live);
        }
        next = Some(Next {
            traceback,
            stream: seen.printed.stream,
        });
    }
    let passed = step.passed;
    let mut steps = vec![step];
    if !passed {
        return Judged {
            steps,
            next: None,
            calls,
        };
    }
    let none_was_the_error = config.original.is_about_none();
    let behaviour = behaviour_step(baseline, &calls, &functions, none_was_the_error);
    let kept = behaviour.passed;
    steps.push(behaviour);
    if !kept {
        return Judged {
            steps,
            next: None,
            calls,
        };
    }
    steps.push(output_step(baseline, &outcome));
    Judged { steps, next, calls }
}

/// The `behaviour` step: the calls of the edited functions that returned in the baseline
/// return the same values with the fix.
fn behaviour_step(
    baseline: &Baseline,
    fixed: &Calls,
    edited: &[FunctionId],
    none_was_the_error: bool,
) -> Step {
    if edited.is_empty() {
        return Step::judged(
            StepName::Behaviour,
            true,
            "no function edited (the fix is at module level): nothing to compare".to_string(),
        );
    }
    if baseline.reproduced == 0 {
        return Step::judged(
            StepName::Behaviour,
            true,
            "not judged: the unchanged program did not show the error".to_string(),
        );
    }
    let judgement = behaviour::compare_for(&baseline.calls, fixed, edited, none_was_the_error);
    Step::judged(
        StepName::Behaviour,
        !judgement.is_changed(),
        judgement.describe(),
    )
}

fn output_step(baseline: &Baseline, outcome: &Outcome) -> Step {
    let Some(expected) = &baseline.expectation else {
        return Step::judged(
            StepName::Output,
            true,
            "not judged: the unchanged program did not show the error in every run".to_string(),
        );
    };
    if expected.is_empty() {
        return Step::judged(
            StepName::Output,
            true,
            "the unchanged program printed nothing on stdout before its error".to_string(),
        );
    }
    let printed: Vec<String> = outcome.stdout.iter().map(|l| l.text.clone()).collect();
    match expected.check(&printed, !outcome.timed_out) {
        Ok(()) => Step::judged(
            StepName::Output,
            true,
            format!(
                "the {} line(s) printed before the error are printed the same{}",
                expected.len(),
                if expected.masked > 0 {
                    format!(" ({} masked: they vary between runs)", expected.masked)
                } else {
                    String::new()
                }
            ),
        ),
        Err(why) => Step::judged(StepName::Output, false, why),
    }
}

/// The `tests` step: the project's tests in the fixed copy, against the baseline's. A test
/// that passed before and not after is run once more on its own, to rule out a flaky test,
/// and fails the fix by name if it still does not pass. `None` when there are no tests.
pub(super) async fn tests(
    config: &ProveConfig,
    baseline: &Baseline,
    sandbox: &Sandbox,
) -> Option<Step> {
    let suite = config.suite.as_ref()?;
    let mut step = Step {
        name: StepName::Tests,
        command: suite.command_line(),
        exit: None,
        output_tail: String::new(),
        duration_ms: 0,
        passed: true,
        detail: String::new(),
    };
    let Some(before) = baseline.tests.as_ref().filter(|t| t.problem.is_none()) else {
        let why = baseline
            .tests
            .as_ref()
            .and_then(|t| t.problem.as_ref())
            .map(ToString::to_string)
            .unwrap_or_else(|| "they could not be run".to_string());
        step.detail = format!(
            "not judged: the project's tests did not complete on the unchanged code: {why}"
        );
        return Some(step);
    };
    let mut after = suite
        .run(sandbox.path(), None, config.tests_timeout, &config.jail)
        .await;
    step.exit = after.exit;
    step.output_tail = after.output_tail.clone();
    step.duration_ms = ladder::millis(after.duration);
    if let Some(problem) = &after.problem {
        step.passed = false;
        step.detail = format!("the project's tests did not complete with the fix: {problem}");
        return Some(step);
    }
    let mut verdict = suite::compare(before, &after);
    if !verdict.passed() {
        let ids = verdict.broken_ids();
        let again = suite
            .run(
                sandbox.path(),
                Some(&ids),
                config.tests_timeout,
                &config.jail,
            )
            .await;
        step.duration_ms += ladder::millis(again.duration);
        if again.problem.is_none() {
            for id in &ids {
                if let Some(outcome) = again.results.get(id) {
                    after.results.insert(id.clone(), *outcome);
                }
            }
            verdict = suite::compare(before, &after);
            if !verdict.passed() {
                step.output_tail = again.output_tail;
            }
        }
    }
    step.passed = verdict.passed();
    step.detail = verdict.describe();
    Some(step)
}

/// The `test` step of a test run's incident: the failing test and its neighbours
/// (`selection`) in the fixed copy. The failing test must pass now, and every test of the
/// selection that passed on the unchanged code must still pass (a test that does not is run
/// once more on its own, to rule out a flaky one).
pub(super) async fn test_step(
    config: &ProveConfig,
    target: &super::TestTarget,
    baseline: &Baseline,
    selection: &[String],
    sandbox: &Sandbox,
) -> Step {
    let suite = &target.suite;
    let id = &target.failure.id;
    let mut step = Step {
        name: StepName::Test,
        command: format!("{} {}", suite.command_line(), selection.join(" ")),
        exit: None,
        output_tail: String::new(),
        duration_ms: 0,
        passed: false,
        detail: String::new(),
    };
    let mut after = suite
        .run(
            sandbox.path(),
            Some(selection),
            config.tests_timeout,
            &config.jail,
        )
        .await;
    step.exit = after.exit;
    step.output_tail = after.output_tail.clone();
    step.duration_ms = ladder::millis(after.duration);
    if let Some(problem) = &after.problem {
        step.detail = format!("the tests did not complete with the fix: {problem}");
        return step;
    }
    match after.results.get(id) {
        Some(suite::TestOutcome::Passed) => {}
        Some(outcome) => {
            step.detail = format!("the failing test {id} still does not pass: {outcome}");
            return step;
        }
        None => {
            step.detail = format!("the failing test {id} did not run with the fix");
            return step;
        }
    }
    let Some(before) = baseline.tests.as_ref().filter(|t| t.problem.is_none()) else {
        step.passed = true;
        step.detail = format!(
            "the failing test {id} passes now; its neighbours were not judged (they did not complete on the unchanged code)"
        );
        return step;
    };
    let mut verdict = suite::compare(before, &after);
    if !verdict.passed() {
        let ids = verdict.broken_ids();
        let again = suite
            .run(
                sandbox.path(),
                Some(&ids),
                config.tests_timeout,
                &config.jail,
            )
            .await;
        step.duration_ms += ladder::millis(again.duration);
        if again.problem.is_none() {
            for broken in &ids {
                if let Some(outcome) = again.results.get(broken) {
                    after.results.insert(broken.clone(), *outcome);
                }
            }
            verdict = suite::compare(before, &after);
            if !verdict.passed() {
                step.output_tail = again.output_tail;
            }
        }
    }
    step.passed = verdict.passed();
    step.detail = if step.passed {
        format!(
            "the failing test {id} passes now; {} other test(s) of its file and of the modules the fix touched still pass{}",
            verdict.still_passing,
            if verdict.tolerated.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} already failing before: tolerated)",
                    verdict.tolerated.len()
                )
            }
        )
    } else {
        verdict.describe()
    };
    step
}
