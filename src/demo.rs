//! `heal demo`: the whole pipeline on a small crashing "ads agent", with nothing configured.
//!
//! The example is copied (its files are compiled into the binary) into a new temporary folder
//! with its own git repository and a bare repository as its `origin`, then run under heal with
//! Slack printed to the terminal: the crash, the alert, the instant fix, its proof, the backup,
//! the commit pushed, the restart and the program's clean output. With a model configured
//! (ANTHROPIC_API_KEY, or HEAL_PROVIDER), a second example that no rule can fix shows a
//! model's fix the same way.
//!
//! The demo tells one story, in the order it happens, on stdout: its narration, heal's own
//! messages, the Slack messages and the program's output (its stdout and its stderr, passed
//! through untouched). So `heal demo | less` and `heal demo > file` hold all of it, and stderr
//! only carries an error that stops the demo.
//!
//! It never writes into the heal checkout. It removes its folder at the end however it ends
//! (done, an error, a stop signal) unless asked to keep it (`--keep`), and it removes nothing
//! it did not make.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::Context as _;
use tokio::sync::watch;

use crate::config::{Config, Overrides, SlackTarget};
use crate::pipeline::{self, RunOptions};
use crate::record::Store;
use crate::supervise::PassThrough;

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

/// What `heal demo` was asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct DemoOptions {
    /// Keep the temporary folder at the end, and say where it is.
    pub keep: bool,
}

/// Runs the demo; returns heal's exit status for the first example. The temporary folder is
/// removed at the end, however the demo ends (unless `options.keep`).
pub async fn run(options: DemoOptions) -> anyhow::Result<i32> {
    // Listened for before the folder exists: a stop signal now ends the demo after the step
    // under way, and the folder is still removed, where the default action would kill heal
    // and leave it behind.
    let stop = stop_signals()?;
    let folder = tempfile::Builder::new()
        .prefix("heal-demo-")
        .tempdir()
        .context("cannot create a temporary folder for the demo")?;
    let shown = examples(folder.path(), options, &stop).await;
    leave(folder, options);
    shown
}

/// The examples, one after the other, in `base`.
async fn examples(
    base: &Path,
    options: DemoOptions,
    stop: &watch::Receiver<Option<i32>>,
) -> anyhow::Result<i32> {
    let model_env: BTreeMap<String, String> = MODEL_VARS
        .iter()
        .filter_map(|k| Some((k.to_string(), std::env::var(k).ok()?)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let with_model =
        model_env.contains_key("ANTHROPIC_API_KEY") || model_env.contains_key("HEAL_PROVIDER");

    let code = example(
        base,
        Example {
            name: "ads_agent",
            files: ADS_AGENT,
            what: "a small ads agent with a typo (`update` for `updates`); an instant rule fixes it, no model",
        },
        &BTreeMap::new(),
        options,
        stop,
    )
    .await?;
    if let Some(status) = stopped(stop) {
        return Ok(code.max(status));
    }
    if with_model {
        example(
            base,
            Example {
                name: "report_agent",
                files: REPORT_AGENT,
                what: "a report that adds a float to a string: no rule can fix it, the model is asked",
            },
            &model_env,
            options,
            stop,
        )
        .await?;
    } else {
        say(
            "set ANTHROPIC_API_KEY (or HEAL_PROVIDER=openai with OPENAI_BASE_URL) to also see a model fix a crash no rule can",
        );
    }
    Ok(code)
}

/// Starts listening for SIGINT, SIGTERM and SIGHUP; the receiver holds the first one's
/// number once it came. heal run's own handlers pass the signal on to the program, this one
/// tells the demo not to go on to its next step.
fn stop_signals() -> anyhow::Result<watch::Receiver<Option<i32>>> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind: SignalKind| signal(kind).context("cannot install a signal handler");
    let mut int = listen(SignalKind::interrupt())?;
    let mut term = listen(SignalKind::terminate())?;
    let mut hup = listen(SignalKind::hangup())?;
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        let sig = tokio::select! {
            _ = int.recv() => libc::SIGINT,
            _ = term.recv() => libc::SIGTERM,
            _ = hup.recv() => libc::SIGHUP,
        };
        let _ = tx.send(Some(sig));
    });
    Ok(rx)
}

/// When a stop signal came: says so, and returns the status a shell gives for it.
fn stopped(stop: &watch::Receiver<Option<i32>>) -> Option<i32> {
    let sig = (*stop.borrow())?;
    say(&format!(
        "stopped: heal received {}",
        crate::signal::name(sig).unwrap_or("a stop signal")
    ));
    Some(128 + sig)
}

/// Removes the demo's folder, or keeps it when asked to; says which.
fn leave(folder: tempfile::TempDir, options: DemoOptions) {
    if options.keep {
        let path = folder.keep();
        say(&format!(
            "the demo's folder is kept: {} (remove it when done)",
            path.display()
        ));
        return;
    }
    let path = folder.path().to_path_buf();
    match folder.close() {
        Ok(()) => say(&format!(
            "removed the demo's folder {} (`heal demo --keep` keeps it, with heal's records and the git history)",
            path.display()
        )),
        Err(e) => say(&format!(
            "warning: cannot remove the demo's folder {}: {e}; remove it by hand",
            path.display()
        )),
    }
}

/// One example program: its folder's name, its files, and what it shows.
struct Example {
    name: &'static str,
    files: Files,
    what: &'static str,
}

async fn example(
    base: &Path,
    Example { name, files, what }: Example,
    model_env: &BTreeMap<String, String>,
    demo: DemoOptions,
    stop: &watch::Receiver<Option<i32>>,
) -> anyhow::Result<i32> {
    let root = base.join(name);
    let remote = base.join(format!("{name}-origin.git"));
    write_files(&root, files)?;
    make_repos(&root, &remote)?;
    if let Some(status) = stopped(stop) {
        return Ok(status);
    }
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
        pass_through: PassThrough::AllToStdout,
    };
    let code = pipeline::run(config, options).await?;
    show_outcome(&root, &remote, &storage, demo)?;
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

fn show_outcome(
    root: &Path,
    remote: &Path,
    storage: &Path,
    options: DemoOptions,
) -> anyhow::Result<()> {
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
    if options.keep {
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
        say(&format!(
            "the dashboard of these records: heal --root {} serve, then open the address it logs",
            root.display()
        ));
    } else {
        say(
            "to open the dashboard on the demo's records: heal demo --keep, then heal --root <the folder it names> serve, and open the address it logs",
        );
    }
    println!();
    Ok(())
}
