//! The proof judges a fix against the program as it was: a baseline run, behaviour kept, crash
//! chains healed, the project's own tests, and a stop that cancels it. The real binary, real
//! python3 programs, real git with a bare remote, a fake model on loopback.
//! See: issue 10.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::Project;
use crate::support::anthropic::{FakeAnthropic, Reply};
use crate::support::git::{commit_and_push_to, git};
use crate::support::slack::FakeSlack;

/// A git project with a bare `origin`, pushed, for tests that look at commits.
fn with_origin(p: &Project) -> tempfile::TempDir {
    let origin = tempfile::Builder::new()
        .prefix("heal-origin-")
        .tempdir()
        .unwrap();
    commit_and_push_to(p.path(), origin.path());
    origin
}

fn read(p: &Project, rel: &str) -> String {
    std::fs::read_to_string(p.path().join(rel)).unwrap()
}

fn steps(r: &Value) -> Vec<(String, bool)> {
    r["fix"]["validation"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["step"].as_str().unwrap_or_default().to_string(),
                        s["passed"].as_bool().unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn step<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["fix"]["validation"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["step"] == name))
        .unwrap_or_else(|| panic!("no {name} step: {r:#}"))
}

/// A model fix; `edits` as [(file, search, replace)].
fn answer(summary: &str, edits: &[(&str, &str, &str)]) -> Value {
    json!({
        "fixable": true,
        "reason": "a bug",
        "error_category": "logic",
        "root_cause": summary,
        "affected_file": edits.first().map(|e| e.0).unwrap_or("app.py"),
        "confidence": "high",
        "explanation": summary,
        "changes_summary": summary,
        "edits": edits.iter().map(|(f, s, r)| json!({"file": f, "search": s, "replace": r})).collect::<Vec<_>>(),
    })
}

/// A project healed by the fake model (no instant rules), with Slack.
fn model_project() -> (Project, FakeAnthropic, FakeSlack) {
    let model = FakeAnthropic::start();
    let slack = FakeSlack::start();
    let mut p = Project::new();
    p.env("ANTHROPIC_API_KEY", "sk-ant-api03-test-key-0123456789");
    p.env("ANTHROPIC_BASE_URL", &model.base_url());
    p.env("SLACK_WEBHOOK_URL", &slack.webhook_url());
    p.env("HEAL_LLM_RETRY_INITIAL_MS", "10");
    p.env("HEAL_VERIFY_RERUN_SECONDS", "5");
    p.env("HEAL_INSTANT", "false");
    (p, model, slack)
}

const TWO_BUGS: &str = "\
import json
import reporting_helpers_that_do_not_exist


def report(values):
    current = 0
    for v in values:
        current += v
    return curent


print(\"starting\", flush=True)
print(json.dumps({\"total\": report([1, 2, 3])}), flush=True)
";

#[test]
fn r10_two_bugs_are_fixed_as_a_chain_of_two_commits_and_one_restart() {
    let mut p = Project::new();
    p.file("main.py", TWO_BUGS);
    p.env("HEAL_PROVIDER", "none");
    p.env("HEAL_RESTART", "on-failure");
    // A restart after a fix is at once and not a failed start: with one failed start allowed
    // and a ten-minute backoff, a counted or delayed restart would stop heal or hang it.
    p.env("HEAL_START_LIMIT_BURST", "1");
    p.env("HEAL_RESTART_BACKOFF_INITIAL_MS", "600000");
    p.env("HEAL_RESTART_BACKOFF_MAX_MS", "600000");
    let origin = with_origin(&p);
    let mut child = p.spawn(&["run", "--", "python3", "main.py"]);
    let mut out = crate::support::Stream::new(child.stdout.take().unwrap());
    let mut err = crate::support::Stream::new(child.stderr.take().unwrap());
    let status = crate::support::wait_with_timeout(&mut child, Duration::from_secs(120));
    let run = crate::support::project::Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out.rest(Duration::from_secs(5))).into_owned(),
        stderr: String::from_utf8_lossy(&err.rest(Duration::from_secs(5))).into_owned(),
        stdout_bytes: Vec::new(),
    };
    // Crashed once on the first bug, restarted once on the code with both fixes, clean.
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout.matches("starting").count(), 1, "{run:?}");
    assert!(run.stdout.contains("{\"total\": 6}"), "{run:?}");
    let fixed = read(&p, "main.py");
    assert!(!fixed.contains("reporting_helpers"), "{fixed}");
    assert!(fixed.contains("return current\n"), "{fixed}");

    let records = p.records();
    assert_eq!(records.len(), 2, "{records:#?}");
    let first = records
        .iter()
        .find(|r| r["error"]["type"] == "ModuleNotFoundError")
        .unwrap();
    let second = records
        .iter()
        .find(|r| r["error"]["type"] == "NameError")
        .unwrap();
    for (r, rule) in [(first, "rule:unused-import"), (second, "rule:did-you-mean")] {
        assert_eq!(r["status"], "pushed", "{r:#}");
        assert_eq!(r["fix"]["source"], rule, "{r:#}");
        assert_eq!(r["result"]["chain"]["links"].as_array().unwrap().len(), 2);
    }
    assert_eq!(first["result"]["chain"]["position"], 1);
    assert_eq!(second["result"]["chain"]["position"], 2);
    // The second error was found in the proof copy of the first fix.
    assert_eq!(second["context"]["found_in_proof"], first["id"]);
    assert_eq!(
        steps(first)
            .iter()
            .find(|(s, _)| s == "rerun")
            .map(|(_, ok)| *ok),
        Some(true)
    );
    let rerun = step(first, "rerun")["detail"].as_str().unwrap();
    assert!(rerun.contains("gets further"), "{rerun}");
    assert_eq!(first["fix"]["baseline"]["reproduced"], 2, "{first:#}");

    // Two commits on the remote, in chain order, each holding its own link.
    let log = git(origin.path(), &["log", "--format=%s", "main"]);
    let subjects: Vec<&str> = log.lines().collect();
    assert_eq!(subjects.len(), 3, "{log}");
    assert!(subjects[1].contains(first["id"].as_str().unwrap()), "{log}");
    assert!(
        subjects[0].contains(second["id"].as_str().unwrap()),
        "{log}"
    );
    let first_diff = git(origin.path(), &["show", "--format=", "main~1"]);
    assert!(
        first_diff.contains("-import reporting_helpers"),
        "{first_diff}"
    );
    assert!(!first_diff.contains("curent"), "{first_diff}");

    // Undoing one link leaves the other.
    let revert = p.run(&["revert", first["id"].as_str().unwrap()]);
    assert_eq!(revert.code, Some(0), "{revert:?}");
    let now = read(&p, "main.py");
    assert!(now.contains("import reporting_helpers"), "{now}");
    assert!(now.contains("return current\n"), "{now}");
}

const LOGS_AND_CRASHES: &str = "\
import logging


def parse(text):
    return int(text)


def cycle(n):
    try:
        parse(\"not a number\")
    except ValueError:
        logging.exception(\"could not parse a row\")
    return n + 1


count = 0
for _ in range(3):
    count = cycle(count)
total = count * 10
print(\"done\", totl, flush=True)
";

#[test]
fn r10_a_program_that_logs_a_handled_error_gets_its_typo_fixed() {
    let mut p = Project::new();
    p.file("app.py", LOGS_AND_CRASHES);
    p.env("HEAL_PROVIDER", "none");
    p.env("HEAL_RESTART", "on-failure");
    let run = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("done 30"), "{run:?}");
    assert!(read(&p, "app.py").contains("print(\"done\", total, flush=True)"));
    let records = p.records();
    let typo = records
        .iter()
        .find(|r| r["error"]["type"] == "NameError")
        .unwrap();
    assert_eq!(typo["status"], "applied", "{typo:#}");
    let rerun = step(typo, "rerun")["detail"].as_str().unwrap();
    assert!(
        rerun.contains("tolerated") && rerun.contains("ValueError"),
        "{rerun}"
    );
    // The logged error is its own incident, still open.
    let logged = records
        .iter()
        .find(|r| r["error"]["type"] == "ValueError")
        .unwrap();
    assert_eq!(logged["status"], "skipped", "{logged:#}");
}

const COST: &str = "\
import os

if os.environ.get(\"RUNS_LOG\"):
    with open(os.environ[\"RUNS_LOG\"], \"a\") as log:
        log.write(\"run\\n\")


def cost_per_click(spend, clicks):
    return spend / clicks


def report(campaigns):
    for name, spend, clicks in campaigns:
        print(name, cost_per_click(spend, clicks), flush=True)


report([(\"search\", 10.0, 4), (\"display\", 5.0, 0)])
";

#[test]
fn r10_a_fix_that_drops_the_computation_is_refused_with_the_changed_call() {
    let (mut p, model, slack) = model_project();
    p.file("app.py", COST);
    p.env("HEAL_RESTART", "on-failure");
    let wrong = answer(
        "return 0.0 when there are no clicks",
        &[(
            "app.py",
            "    return spend / clicks\n",
            // The division is still there (the policy sees nothing deleted), its result no
            // longer returned: only the behaviour check sees that.
            "    if clicks == 0:\n        return 0.0\n    spend / clicks\n",
        )],
    );
    let right = answer(
        "guard zero clicks",
        &[(
            "app.py",
            "    return spend / clicks\n",
            "    if clicks == 0:\n        return 0.0\n    return spend / clicks\n",
        )],
    );
    model.script([Reply::tool_use(wrong), Reply::tool_use(right)]);
    let runs = tempfile::NamedTempFile::new().unwrap();
    p.env("RUNS_LOG", runs.path().to_str().unwrap());
    let run = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("search 2.5\ndisplay 0.0"), "{run:?}");
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#}");
    assert_eq!(r["fix"]["attempts"], 2);
    // The first answer's refusal is in the record, with the call it changed.
    let refused = r["fix"]["refused"][0]["failure"].as_str().unwrap();
    assert!(
        refused.contains("cost_per_click(10.0, 4) returned 2.5 before the fix and None after"),
        "{refused}"
    );
    // ... and the model was told.
    let reqs = model.requests();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs[1]
            .raw
            .contains("returned 2.5 before the fix and None after"),
        "{}",
        reqs[1].raw
    );
    // The applied fix kept the calls that worked.
    let behaviour = step(&r, "behaviour");
    assert_eq!(behaviour["passed"], true);
    assert!(
        behaviour["detail"].as_str().unwrap().contains("kept"),
        "{behaviour}"
    );
    assert!(slack.requests().len() >= 2);
    // The baseline ran once for both answers: the second answer's proof reused it.
    assert_eq!(r["fix"]["baseline"]["reused"], true, "{r:#}");
    assert_eq!(r["fix"]["baseline"]["runs"], 2);
    // The proof's runs wrote nowhere outside their copy: only the crash and the restart on
    // the fixed code reached the log.
    let count = std::fs::read_to_string(runs.path())
        .unwrap()
        .lines()
        .count();
    assert_eq!(
        count, 2,
        "the program ran {count} times outside the sandbox"
    );
}

#[test]
fn r10_a_fix_whose_rerun_raises_in_the_lines_it_changed_is_refused() {
    let (p, model, _slack) = model_project();
    p.file("app.py", COST);
    let raises = answer(
        "guard zero clicks",
        &[(
            "app.py",
            "    return spend / clicks\n",
            "    return spend / clicks if clicks else spend.missing_attribute\n",
        )],
    );
    model.script([Reply::tool_use(raises.clone()), Reply::tool_use(raises)]);
    p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(read(&p, "app.py"), COST, "the live tree was written");
    let r = p.record();
    assert_eq!(r["status"], "rejected", "{r:#}");
    let failure = r["fix"]["refused"][0]["failure"].as_str().unwrap();
    assert!(
        failure.contains("a new error in a line the fix changed (app.py:9)")
            && failure.contains("AttributeError"),
        "{failure}"
    );
}

const BUDGET: &str = "\
def even_share(total, clients):
    return total / clients


if __name__ == \"__main__\":
    clients = []
    print(\"share:\", even_share(100.0, len(clients)), flush=True)
";

const BUDGET_TEST: &str = "\
import unittest

from budget import even_share


class TestBudget(unittest.TestCase):
    def test_even_share(self):
        self.assertEqual(even_share(10.0, 2), 5.0)

    def test_already_red(self):
        self.assertEqual(1, 2)


if __name__ == \"__main__\":
    unittest.main()
";

#[test]
fn r10_a_fix_that_breaks_a_unit_test_that_passed_is_refused_with_its_name() {
    let (p, model, _slack) = model_project();
    p.file("budget.py", BUDGET);
    p.file("tests/test_budget.py", BUDGET_TEST);
    let zeroes = answer(
        "no clients, no share",
        &[(
            "budget.py",
            "    return total / clients\n",
            "    return total / (clients + 1)\n",
        )],
    );
    model.script([Reply::tool_use(zeroes.clone()), Reply::tool_use(zeroes)]);
    p.run(&["run", "--", "python3", "budget.py"]);
    let r = p.record();
    assert_eq!(
        read(&p, "budget.py"),
        BUDGET,
        "the live tree was written: {r:#}"
    );
    assert_eq!(r["status"], "rejected", "{r:#}");
    let failure = r["fix"]["refused"][0]["failure"].as_str().unwrap();
    assert!(failure.contains("The tests step failed"), "{failure}");
    assert!(failure.contains("test_even_share"), "{failure}");
    // The already-red test is tolerated, not blamed.
    assert!(!failure.contains("breaks 2"), "{failure}");
    assert_eq!(
        r["fix"]["baseline"]["tests"]["command"],
        "python3 -m unittest discover -s tests"
    );
    let failing = r["fix"]["baseline"]["tests"]["failing"].to_string();
    assert!(failing.contains("test_already_red"), "{failing}");
    // The model was shown the project's test of the failing function.
    let prompt = model.requests()[0].prompt();
    assert!(
        prompt.contains("def test_even_share(self):") && prompt.contains("=== BEGIN TEST"),
        "{prompt}"
    );
    // heal doctor says which tests it found.
    let doctor = p.run(&["doctor"]);
    assert!(
        doctor
            .stdout
            .contains("tests: `python3 -m unittest discover -s tests` found"),
        "{doctor:?}"
    );
}

const CHAINED: &str = "\
def load(rows):
    return [int(r) for r in rows]


def average(values):
    return sum(values) / len(values)


def main():
    values = load([\"1\", \"2\", \"x\"])
    print(\"loaded\", len(values), flush=True)
    print(\"average\", average([]), flush=True)


main()
";

#[test]
fn r10_a_fix_that_moves_the_crash_to_untouched_code_is_a_chain_link() {
    let (mut p, model, _slack) = model_project();
    p.file("app.py", CHAINED);
    p.env("HEAL_RESTART", "on-failure");
    let skip_bad_rows = answer(
        "skip rows that are not numbers",
        &[(
            "app.py",
            "    return [int(r) for r in rows]\n",
            "    return [int(r) for r in rows if r.isdigit()]\n",
        )],
    );
    let empty_average = answer(
        "the average of nothing is 0",
        &[(
            "app.py",
            "    return sum(values) / len(values)\n",
            "    if not values:\n        return 0.0\n    return sum(values) / len(values)\n",
        )],
    );
    model.script([
        Reply::tool_use(skip_bad_rows),
        Reply::tool_use(empty_average),
    ]);
    let run = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("average 0.0"), "{run:?}");
    let records = p.records();
    assert_eq!(records.len(), 2, "{records:#?}");
    for r in &records {
        assert_eq!(r["status"], "applied", "{r:#}");
    }
    let value_error = records
        .iter()
        .find(|r| r["error"]["type"] == "ValueError")
        .unwrap();
    assert_eq!(value_error["result"]["chain"]["position"], 1);
    let detail = step(value_error, "rerun")["detail"].as_str().unwrap();
    assert!(
        detail.contains("gets further") && detail.contains("ZeroDivisionError"),
        "{detail}"
    );
    // The second link's prompt held the code with the first link applied.
    let reqs = model.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].raw.contains("if r.isdigit()"), "{}", reqs[1].raw);
}

#[test]
fn r10_a_baseline_that_does_not_reproduce_is_recorded_and_the_proof_said_weaker() {
    let (mut p, model, slack) = model_project();
    // The crash depends on a file git ignores: the proof copies do not have it.
    p.file(".gitignore", "local.flag\nstorage/\n");
    p.file("local.flag", "on\n");
    p.file(
        "app.py",
        "import os\n\n\ndef check():\n    if os.path.exists(\"local.flag\"):\n        raise RuntimeError(\"the flag is set\")\n\n\ncheck()\nprint(\"ok\", flush=True)\n",
    );
    git(p.path(), &["init", "-q", "-b", "main"]);
    git(p.path(), &["add", "."]);
    git(p.path(), &["commit", "-q", "-m", "initial"]);
    model.script([Reply::tool_use(answer(
        "ignore the flag",
        &[(
            "app.py",
            "    if os.path.exists(\"local.flag\"):\n",
            "    if os.path.exists(\"local.flag\") and os.environ.get(\"STRICT\"):\n",
        )],
    ))]);
    p.env("HEAL_GIT_MODE", "off");
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#}");
    assert_eq!(r["fix"]["baseline"]["reproduced"], 0, "{r:#}");
    let note = r["fix"]["proof_note"].as_str().unwrap();
    assert!(note.contains("did not show the error"), "{note}");
    assert!(r["reason"].as_str().unwrap().contains("weaker"), "{r:#}");
    // The alert, three stages (analysing, proving, applying) and the final report.
    let all: String = slack
        .wait_requests(5, Duration::from_secs(30))
        .iter()
        .map(|r| r.body.to_string())
        .collect();
    assert!(all.contains("weaker"), "Slack never heard: {all}");
}

/// Processes whose command line is `needle`, among all processes.
fn processes(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim() == needle)
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn r10_sigint_during_a_long_check_ends_heal_at_once_with_nothing_written() {
    let (mut p, model, _slack) = model_project();
    let temp = tempfile::Builder::new()
        .prefix("heal-tmp-")
        .tempdir()
        .unwrap();
    p.env("TMPDIR", temp.path().to_str().unwrap());
    p.file("app.py", COST);
    // A check no other test runs, so this test finds its own process.
    let marker = format!("sleep 30.{}", std::process::id());
    p.env("HEAL_VERIFY_COMMANDS", &format!("[\"{marker}\"]"));
    model.script([Reply::tool_use(answer(
        "guard zero clicks",
        &[(
            "app.py",
            "    return spend / clicks\n",
            "    if clicks == 0:\n        return 0.0\n    return spend / clicks\n",
        )],
    ))]);
    let _origin = with_origin(&p);
    let head = git(p.path(), &["rev-parse", "HEAD"]);
    let mut child = p.spawn(&["run", "--", "python3", "app.py"]);
    let _out = crate::support::Stream::new(child.stdout.take().unwrap());
    let _err = crate::support::Stream::new(child.stderr.take().unwrap());
    // Wait until the check is running.
    let deadline = Instant::now() + Duration::from_secs(60);
    while processes(&marker).is_empty() {
        assert!(Instant::now() < deadline, "the check never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // heal must end by itself within 5 s: past that, the guard kills it and the status
    // says so.
    crate::support::kill(child.id(), libc::SIGINT);
    let status = crate::support::wait_with_timeout(&mut child, Duration::from_secs(5));
    assert!(
        status.code().is_some(),
        "heal did not stop within 5 s of SIGINT: {status:?}"
    );
    // Nothing written, nothing committed, nothing left behind.
    assert_eq!(read(&p, "app.py"), COST);
    assert_eq!(git(p.path(), &["rev-parse", "HEAD"]), head);
    assert_eq!(git(p.path(), &["worktree", "list"]).lines().count(), 1);
    let left: Vec<_> = std::fs::read_dir(temp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left in the temp dir: {left:?}");
    assert!(processes(&marker).is_empty(), "the check outlived heal");
    let r = p.record();
    assert_eq!(r["status"], "interrupted", "{r:#}");
    assert!(
        r["reason"].as_str().unwrap().contains("asked to stop"),
        "{r:#}"
    );
}

#[test]
fn r10_a_chain_that_stops_at_a_link_it_cannot_fix_still_applies_the_links_before() {
    let mut p = Project::new();
    // The second bug needs a model, and there is none.
    p.file(
        "main.py",
        &TWO_BUGS.replace("    return curent\n", "    return current / 0\n"),
    );
    p.env("HEAL_PROVIDER", "none");
    let run = p.run(&["run", "--", "python3", "main.py"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let fixed = read(&p, "main.py");
    assert!(!fixed.contains("reporting_helpers"), "{fixed}");
    let records = p.records();
    assert_eq!(records.len(), 2, "{records:#?}");
    let first = records
        .iter()
        .find(|r| r["error"]["type"] == "ModuleNotFoundError")
        .unwrap();
    let second = records
        .iter()
        .find(|r| r["error"]["type"] == "ZeroDivisionError")
        .unwrap();
    assert_eq!(first["status"], "applied", "{first:#}");
    let reason = first["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "the chain stopped at {}",
            second["id"].as_str().unwrap()
        )) && reason.contains("no model is configured"),
        "{reason}"
    );
    assert_eq!(first["result"]["chain"]["stopped_at"], second["id"]);
    assert_eq!(second["status"], "skipped", "{second:#}");
}

#[test]
fn r10_max_chain_bounds_the_links_healed_before_a_restart() {
    let mut p = Project::new();
    p.file("main.py", TWO_BUGS);
    p.env("HEAL_PROVIDER", "none");
    p.env("HEAL_RESTART", "on-failure");
    p.env("HEAL_VERIFY_MAX_CHAIN", "1");
    let run = p.run(&["run", "--", "python3", "main.py"]);
    // One link per restart: the second bug is met live after the first restart, then fixed.
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout.matches("starting").count(), 2, "{run:?}");
    let records = p.records();
    assert_eq!(records.len(), 2, "{records:#?}");
    for r in &records {
        assert_eq!(r["status"], "applied", "{r:#}");
        assert!(r["result"]["chain"].is_null(), "{r:#}");
        assert!(r["context"]["found_in_proof"].is_null(), "{r:#}");
    }
}
