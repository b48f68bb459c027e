//! `heal demo`: the whole pipeline on a small crashing "ads agent", with nothing configured.
//!
//! The example is copied (its files are compiled into the binary) into a new temporary folder
//! with its own git repository and a bare repository as its `origin`, then run under heal with
//! Slack printed to the terminal: the crash, the alert, the instant fix, its proof, the backup,
//! the commit pushed, the restart and the program's clean output. It never writes into the heal
//! checkout. With a model configured (ANTHROPIC_API_KEY, or HEAL_PROVIDER), a second example
//! that no rule can fix shows a model's fix the same way.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::Context as _;

use crate::config::{Config, Overrides};
use crate::notify::SlackTarget;
use crate::pipeline::{self, RunOptions};
use crate::record::Store;

type Files = &'static [(&'static str, &'static str)];

const ADS_AGENT: Files = &[
    ("main.py", include_str!("../examples/ads_agent/main.py")),
    (
        "campaigns.json",
        include_str!("../examples/ads_agent/campaigns.json"),
    ),
    (
        "engine/__init__.py",
        include_str!("../examples/ads_agent/engine/__init__.py"),
    ),
    (
        "engine/decision_engine.py",
        include_str!("../examples/ads_agent/engine/decision_engine.py"),
    ),
];

const REPORT_AGENT: Files = &[
    ("main.py", include_str!("../examples/report_agent/main.py")),
    (
        "report.py",
        include_str!("../examples/report_agent/report.py"),
    ),
];

/// The environment the demo passes on: which model to use, if any. Nothing else from the
/// caller's environment reaches it, so it behaves the same everywhere and never posts to a
/// real Slack or pushes to a real remote.
const MODEL_VARS: &[&str] = &[
    "HEAL_PROVIDER",
    "HEAL_MODEL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "HEAL_OPENAI_STRUCTURED",
    "HEAL_LLM_TIMEOUT_S",
];

/// Runs the demo; returns heal's exit status for the first example.
pub async fn run() -> anyhow::Result<i32> {
    let base = tempfile::Builder::new()
        .prefix("heal-demo-")
        .tempdir()
        .context("cannot create a temporary folder for the demo")?
        .keep();
    let model_env: BTreeMap<String, String> = MODEL_VARS
        .iter()
        .filter_map(|k| Some((k.to_string(), std::env::var(k).ok()?)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let with_model =
        model_env.contains_key("ANTHROPIC_API_KEY") || model_env.contains_key("HEAL_PROVIDER");

    let code = example(
        &base,
        "ads_agent",
        ADS_AGENT,
        "a small ads agent with a typo (`update` for `updates`); an instant rule fixes it, no model",
        &BTreeMap::new(),
    )
    .await?;
    if with_model {
        example(
            &base,
            "report_agent",
            REPORT_AGENT,
            "a report that adds a float to a string: no rule can fix it, the model is asked",
            &model_env,
        )
        .await?;
    } else {
        say(
            "set ANTHROPIC_API_KEY (or HEAL_PROVIDER=openai with OPENAI_BASE_URL) to also see a model fix a crash no rule can",
        );
    }
    Ok(code)
}

async fn example(
    base: &Path,
    name: &str,
    files: Files,
    what: &str,
    model_env: &BTreeMap<String, String>,
) -> anyhow::Result<i32> {
    let root = base.join(name);
    let remote = base.join(format!("{name}-origin.git"));
    write_files(&root, files)?;
    make_repos(&root, &remote)?;
    say(&format!("{what}\n   copied to {}", root.display()));
    say(&format!(
        "a git repository, pushed to the bare repository {} as `origin`",
        remote.display()
    ));
    say(
        "running `heal run --tag client=avego -- python3 main.py` there; Slack messages are printed here\n",
    );

    let mut env = model_env.clone();
    env.insert("HEAL_RESTART".into(), "on-failure".into());
    env.insert("HEAL_START_LIMIT_BURST".into(), "2".into());
    env.insert("HEAL_RESTART_BACKOFF_INITIAL_MS".into(), "200".into());
    if !env.contains_key("HEAL_PROVIDER") && !env.contains_key("ANTHROPIC_API_KEY") {
        env.insert("HEAL_PROVIDER".into(), "none".into());
    }
    let mut config = Config::from_sources(&root, &env, &Overrides::default())?;
    config.slack = Some(SlackTarget::Terminal);
    let storage = config.storage_dir.clone();
    let options = RunOptions {
        command: vec!["python3".to_string(), "main.py".to_string()],
        tags: BTreeMap::from([("client".to_string(), "avego".to_string())]),
    };
    let code = pipeline::run(config, options).await?;
    show_outcome(&root, &remote, &storage)?;
    Ok(code)
}

fn say(text: &str) {
    println!("heal demo: {text}");
}

fn write_files(root: &Path, files: Files) -> anyhow::Result<()> {
    for (rel, content) in files {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, content)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    std::fs::write(root.join(".gitignore"), "storage/\n__pycache__/\n")
        .with_context(|| format!("cannot write {}", root.display()))?;
    Ok(())
}

/// `git init`, a first commit, and a bare `origin` it is pushed to. Without git, the demo goes
/// on without commits (heal says so).
fn make_repos(root: &Path, remote: &Path) -> anyhow::Result<()> {
    let git = |dir: &Path, args: &[&str]| -> anyhow::Result<()> {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "demo")
            .env("GIT_AUTHOR_EMAIL", "demo@localhost")
            .env("GIT_COMMITTER_NAME", "demo")
            .env("GIT_COMMITTER_EMAIL", "demo@localhost")
            .output()
            .with_context(|| format!("cannot run git {}", args.join(" ")))?;
        anyhow::ensure!(
            out.status.success(),
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(())
    };
    let remote_str = remote.to_string_lossy().into_owned();
    let made = git(root, &["init", "-q", "-b", "main"])
        .and_then(|_| git(root, &["add", "."]))
        .and_then(|_| git(root, &["commit", "-q", "-m", "the ads agent"]))
        .and_then(|_| git(root, &["init", "-q", "--bare", "-b", "main", &remote_str]))
        .and_then(|_| git(root, &["remote", "add", "origin", &remote_str]))
        .and_then(|_| git(root, &["push", "-q", "-u", "origin", "main"]));
    if let Err(e) = made {
        say(&format!("no git repository for this run ({e:#})"));
    }
    Ok(())
}

fn show_outcome(root: &Path, remote: &Path, storage: &Path) -> anyhow::Result<()> {
    let store = Store::open(storage)?;
    let Some(record) = store.list(1)?.into_iter().next() else {
        say("the program ran without an error; nothing was recorded");
        return Ok(());
    };
    println!();
    say(&format!(
        "incident {} ended `{}`",
        record.id,
        record.status.as_str()
    ));
    if let Some(reason) = &record.reason {
        say(&format!("   {reason}"));
    }
    let log = Command::new("git")
        .args(["log", "--oneline", "-3", "main"])
        .current_dir(remote)
        .output();
    if let Ok(out) = log
        && out.status.success()
    {
        say("the remote's history now:");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            println!("   {line}");
        }
    }
    say(&format!(
        "the record: {}",
        store.json_path(&record.id).display()
    ));
    say(&format!(
        "see it again: heal --root {} show {}",
        root.display(),
        record.id
    ));
    say(&format!(
        "the fix commits: heal --root {} log",
        root.display()
    ));
    println!();
    Ok(())
}
