//! How heal ends when a healing would hold it: a model that hangs, a stop signal while it
//! hangs, a server that asks to wait for a day. See: issue 14.

use std::time::Duration;

use serde_json::json;

use crate::support::Project;
use crate::support::anthropic::{FakeAnthropic, Reply};
use crate::support::project::{kill, wait_with_timeout};

/// Far longer than any test waits: a model "hangs" when it answers after this.
const HANG: Duration = Duration::from_secs(300);
/// How long a test waits for heal to exit before it fails (heal is then killed).
const EXIT_BOUND: Duration = Duration::from_secs(60);

fn project(model: &FakeAnthropic) -> Project {
    let mut p = Project::new();
    p.env("ANTHROPIC_API_KEY", "sk-ant-test");
    p.env("ANTHROPIC_BASE_URL", &model.base_url());
    p.env("HEAL_LLM_RETRY_INITIAL_MS", "10");
    p.env("HEAL_LLM_TIMEOUT_S", "600");
    p.env("HEAL_GIT_MODE", "off");
    p.env("HEAL_VERIFY_RERUN_SECONDS", "3");
    p
}

fn fix(search: &str, replace: &str) -> Reply {
    Reply::tool_use(json!({
        "fixable": true, "reason": "r", "error_category": "logic",
        "root_cause": "a bad literal", "affected_file": "app.py", "confidence": "high",
        "explanation": "e", "changes_summary": "parse a number",
        "edits": [{"file": "app.py", "search": search, "replace": replace}]
    }))
}

/// A program that logs an error (it goes on after it), waits until heal has asked the model
/// about it, and ends well. The model hangs: past `shutdown_grace_s`, heal cancels the
/// healing, records the incident `interrupted`, and exits.
#[test]
fn r14_a_hanging_model_is_cut_after_the_shutdown_grace_once_the_program_has_ended() {
    let model = FakeAnthropic::start();
    model.respond_always(fix("int(\"abc\")", "int(\"1\")").delay(HANG));
    let mut p = project(&model);
    p.env("HEAL_SHUTDOWN_GRACE_S", "1");
    p.file(
        "app.py",
        r#"import logging
import os
import time

logging.basicConfig()


def parse():
    return int("abc")


try:
    parse()
except ValueError:
    logging.exception("could not parse")
while not os.path.exists("model-asked"):
    time.sleep(0.05)
print("done")
"#,
    );
    let mut heal = p.spawn(&["run", "--", "python3", "app.py"]);
    model.wait_requests(1, EXIT_BOUND);
    std::fs::write(p.path().join("model-asked"), "").unwrap();
    let status = wait_with_timeout(&mut heal, EXIT_BOUND);
    assert_eq!(
        status.code(),
        Some(0),
        "heal did not exit while the model hung: {status:?}"
    );
    let r = p.record();
    assert_eq!(r["status"], "interrupted", "{r:#}");
    assert_eq!(model.requests().len(), 1);
}

/// The program crashed and heal waits on a model that hangs: SIGTERM cuts the wait. The
/// incident is `interrupted` and heal exits without waiting for the model.
#[test]
fn r14_sigterm_cuts_the_wait_on_a_hanging_model() {
    let model = FakeAnthropic::start();
    model.respond_always(fix("int(\"abc\")", "int(\"1\")").delay(HANG));
    let p = project(&model);
    p.file(
        "app.py",
        "def parse():\n    return int(\"abc\")\n\n\nparse()\n",
    );
    let mut heal = p.spawn(&["run", "--", "python3", "app.py"]);
    model.wait_requests(1, EXIT_BOUND);
    kill(heal.id(), libc::SIGTERM);
    let status = wait_with_timeout(&mut heal, EXIT_BOUND);
    assert!(
        status.code().is_some(),
        "heal did not exit after SIGTERM while the model hung: {status:?}"
    );
    let r = p.record();
    assert_eq!(r["status"], "interrupted", "{r:#}");
}

/// The healing of the crash that ended the program is what heal exits after: the grace does
/// not cut it. A model slower than the grace still lands its fix.
#[test]
fn the_shutdown_grace_does_not_cut_the_healing_of_the_crash_that_ended_the_program() {
    let model = FakeAnthropic::start();
    model.respond_always(fix("int(\"abc\")", "int(\"1\")").delay(Duration::from_secs(3)));
    let mut p = project(&model);
    p.env("HEAL_SHUTDOWN_GRACE_S", "0");
    p.file(
        "app.py",
        "def parse():\n    return int(\"abc\")\n\n\nparse()\n",
    );
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#}");
    assert!(
        std::fs::read_to_string(p.path().join("app.py"))
            .unwrap()
            .contains("int(\"1\")")
    );
}

/// A 429 asking to wait a day is not waited for: the incident fails at once, saying why and
/// what to change.
#[test]
fn r14_a_retry_after_beyond_the_maximum_fails_the_incident_at_once() {
    let model = FakeAnthropic::start();
    model.respond_always(
        Reply::error(429, "rate_limit_error", "slow down").header("retry-after", "100000"),
    );
    let p = project(&model);
    p.file(
        "app.py",
        "def parse():\n    return int(\"abc\")\n\n\nparse()\n",
    );
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "failed", "{r:#}");
    let reason = r["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("retry-after") && reason.contains("llm.max_retry_after_s"),
        "{reason}"
    );
    assert_eq!(
        model.requests().len(),
        1,
        "heal retried a request it was told to hold"
    );
}
