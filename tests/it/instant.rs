//! Instant rules through the real binary: fixed with no model, proved and recorded like a
//! model's fix, and bound by the same gates.

use crate::heal::{APP, FIXED};
use crate::support::Project;
use crate::support::anthropic::FakeAnthropic;

fn project() -> Project {
    let mut p = Project::new();
    p.file("app.py", APP);
    p.env("HEAL_VERIFY_RERUN_SECONDS", "5");
    p
}

#[test]
fn a_hinted_name_error_is_fixed_by_a_rule_with_no_model_and_no_call_counted() {
    let model = FakeAnthropic::start();
    let mut p = project();
    // A model is configured but the hourly limit is spent: rules do not count against it.
    p.env("ANTHROPIC_API_KEY", "sk-ant-api03-test-key-0123456789");
    p.env("ANTHROPIC_BASE_URL", &model.base_url());
    p.env("MAX_CLAUDE_CALLS_PER_HOUR", "0");
    let run = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        FIXED
    );
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#}");
    assert_eq!(r["fix"]["source"], "rule:did-you-mean");
    assert_eq!(r["analysis"]["confidence"], "high");
    let steps: Vec<&str> = r["fix"]["validation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["syntax", "rerun", "behaviour", "output"]);
    assert!(r["llm"].is_null(), "{r:#}");
    assert!(model.requests().is_empty());
}

#[test]
fn rules_obey_the_blacklist_and_can_be_turned_off() {
    for (key, value) in [("HEAL_BLACKLIST", "app.py"), ("HEAL_INSTANT", "false")] {
        let mut p = project();
        p.env("HEAL_PROVIDER", "none");
        p.env(key, value);
        let run = p.run(&["run", "--", "python3", "app.py"]);
        assert_eq!(run.code, Some(1), "{run:?}");
        assert_eq!(
            std::fs::read_to_string(p.path().join("app.py")).unwrap(),
            APP,
            "{key}={value}"
        );
        let r = p.record();
        assert_eq!(r["status"], "skipped", "{key}: {r:#}");
    }
}

#[test]
fn a_rule_whose_fix_fails_its_proof_leaves_the_file_and_says_why() {
    // The hint is right for the NameError, but the fixed program then fails another way: the
    // re-run catches it and nothing is written.
    let app = "def greet(name):\n    message = 'hello ' + name\n    return mesage + 1\n\n\nprint(greet('team'))\n";
    let mut p = Project::new();
    p.file("app.py", app);
    p.env("HEAL_PROVIDER", "none");
    p.env("HEAL_VERIFY_RERUN_SECONDS", "5");
    let run = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        app
    );
    let r = p.record();
    assert_eq!(r["status"], "skipped", "{r:#}");
    let reason = r["reason"].as_str().unwrap();
    assert!(reason.contains("did not pass its proof"), "{reason}");
    assert_eq!(r["result"]["instant"]["rule"], "did-you-mean");
}

#[test]
fn instant_rules_choose_which_rules_run_and_refuse_unknown_names() {
    // Only tab-indent: the hinted NameError is left to the (absent) model.
    let mut p = project();
    p.env("HEAL_PROVIDER", "none");
    p.env("HEAL_INSTANT_RULES", "tab-indent");
    let run = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        APP
    );
    assert_eq!(p.record()["status"], "skipped");

    let mut p = project();
    p.env("HEAL_INSTANT_RULES", "did-you-mean,guess-harder");
    let run = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("guess-harder"), "{run:?}");
    assert!(run.stderr.contains("did-you-mean, nearest-name"), "{run:?}");
}
