//! Secrets that slipped before, each printed by a real program in its error: none may leave
//! through the model request, Slack, the records or a pushed commit. See: issue 14.

use std::time::Duration;

use serde_json::json;

use crate::support::Project;
use crate::support::anthropic::{FakeAnthropic, Reply};
use crate::support::git::{commit_and_push_to, git};
use crate::support::slack::FakeSlack;

/// The program: it reads its secrets (from the environment and from .env) and raises an
/// error that prints each, in the forms programs print them, the last one straddling heal's
/// 8 KiB line cap.
const APP: &str = r#"import os


def dotenv(name):
    for line in open(".env"):
        if line.startswith(name + "="):
            return line.strip().split("=", 1)[1]
    return ""


def load():
    url = os.environ["DATABASE_URL"]
    password = url.split(":")[2].split("@")[0]
    text = " | ".join([
        "password alone: " + password,
        "repr: %r" % os.environ["API_KEY"],
        # heal hides its own settings from the sandbox: the live run has it.
        "webhook: " + os.environ.get("SLACK_WEBHOOK_URL", "none"),
        "mysql: " + os.environ["MYSQL_PWD"],
        "dotenv: " + dotenv("WEBHOOK_SEED"),
    ])
    prefix = "ValueError: "
    pad = 8192 - len(prefix) - len(text) - 10
    raise ValueError(text + "x" * pad + os.environ["LONG_TOKEN"])


print(load())
"#;

/// Distinctive pieces of every secret: none may appear anywhere heal sends or keeps.
const PIECES: &[&str] = &[
    "S3cr3t-pw",
    "slash-value",
    "mysql-pass-9876",
    "plain-seed-value",
    "tok-abcdefghijklmnopqrst",
    "tok-abcdefghij",
];

#[test]
fn r14_no_secret_leaves_through_the_model_slack_the_records_or_a_pushed_commit() {
    let model = FakeAnthropic::start();
    let slack = FakeSlack::start();
    let mut p = Project::new();
    p.file("app.py", APP);
    p.file(".env", "WEBHOOK_SEED=plain-seed-value\nAPP_MODE=live\n");
    p.file(".gitignore", "storage/\n.env\n");
    p.env("ANTHROPIC_API_KEY", "sk-ant-api03-test-key-0123456789");
    p.env("ANTHROPIC_BASE_URL", &model.base_url());
    p.env("SLACK_WEBHOOK_URL", &slack.webhook_url());
    p.env("HEAL_LLM_RETRY_INITIAL_MS", "10");
    p.env("HEAL_VERIFY_RERUN_SECONDS", "5");
    p.env("DATABASE_URL", "postgres://app:S3cr3t-pw@db/prod");
    p.env("API_KEY", "back\\slash-value-1");
    p.env("MYSQL_PWD", "mysql-pass-9876");
    p.env("LONG_TOKEN", "tok-abcdefghijklmnopqrstuvwxyz0123456789");
    let origin = tempfile::tempdir().unwrap();
    commit_and_push_to(p.path(), origin.path());
    model.respond_always(Reply::tool_use(json!({
        "fixable": true, "reason": "a bad raise", "error_category": "logic",
        "root_cause": "load raises where it should count", "affected_file": "app.py",
        "confidence": "high", "explanation": "count the parts",
        // A hostile answer that echoes a secret: the commit message must not carry it.
        "changes_summary": "return the length instead of raising mysql-pass-9876",
        "edits": [{"file": "app.py",
                   "search": "    raise ValueError(text + \"x\" * pad + os.environ[\"LONG_TOKEN\"])\n",
                   // A rewrite of the failing line: deleting it would be refused as hiding.
                   "replace": "    return len(text + \"x\" * pad + os.environ[\"LONG_TOKEN\"])\n"}]
    })));
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "pushed", "{r:#}");
    // Every channel, as it was sent or kept.
    let mut channels: Vec<(String, String)> = Vec::new();
    for req in model.requests() {
        channels.push(("the model request".into(), req.raw.clone()));
    }
    for req in slack.wait_requests(3, Duration::from_secs(30)) {
        channels.push(("a Slack message".into(), req.body.to_string()));
    }
    for entry in std::fs::read_dir(p.storage().join("errors")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            channels.push((
                format!("the record {}", path.display()),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
    channels.push((
        "the pushed commit".into(),
        git(origin.path(), &["log", "-1", "--format=%B", "main"]),
    ));
    let prompt = &channels[0].1;
    assert!(prompt.contains("password alone: [REDACTED]"), "{prompt}");
    for (channel, text) in &channels {
        for piece in PIECES {
            assert!(
                !text.contains(piece),
                "{piece} leaked through {channel}: {text}"
            );
        }
        assert!(
            !text.contains(&slack.webhook_url()),
            "the webhook leaked through {channel}"
        );
    }
}
