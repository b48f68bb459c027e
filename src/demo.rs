//! `heal demo`: runs heal on a small crashing "ads agent" in a temporary folder, with nothing
//! configured, and shows what heal caught and recorded.
//!
//! The example's files are compiled into the binary, so the demo works from anywhere and never
//! writes into the heal checkout.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::config::{Config, Overrides};
use crate::pipeline::{self, RunOptions};
use crate::record::Store;

const FILES: &[(&str, &str)] = &[
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

/// Writes the example project into a new folder under the system's temp dir.
fn write_example() -> anyhow::Result<PathBuf> {
    let dir = tempfile::Builder::new()
        .prefix("heal-demo-")
        .tempdir()
        .context("cannot create a temporary folder for the demo")?
        .keep();
    for (rel, content) in FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, content)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(dir)
}

/// Runs the demo; returns heal's exit status.
pub async fn run() -> anyhow::Result<i32> {
    let root = write_example()?;
    println!(
        "heal demo: a small ads agent with a typo, copied to {}",
        root.display()
    );
    println!("heal demo: running `heal run --tag client=avego -- python3 main.py` there\n");
    // Nothing from the caller's environment: the demo must behave the same everywhere and
    // must not post to a real Slack.
    let mut env = BTreeMap::new();
    env.insert("HEAL_RESTART".to_string(), "never".to_string());
    let config = Config::from_sources(&root, &env, &Overrides::default())?;
    let storage = config.storage_dir.clone();
    let options = RunOptions {
        command: vec!["python3".to_string(), "main.py".to_string()],
        tags: BTreeMap::from([("client".to_string(), "avego".to_string())]),
    };
    let code = pipeline::run(config, options).await?;
    show_outcome(&storage)?;
    Ok(code)
}

fn show_outcome(storage: &Path) -> anyhow::Result<()> {
    let store = Store::open(storage)?;
    let Some(record) = store.list(1)?.into_iter().next() else {
        println!("\nheal demo: the program ran without an error; nothing was recorded");
        return Ok(());
    };
    println!("\n── what Slack would receive (set SLACK_WEBHOOK_URL to send it) ──");
    println!("{}", crate::notify::render::alert_terminal(&record));
    println!("── the record ──");
    println!("{}", store.json_path(&record.id).display());
    println!(
        "\nSee it again with: heal --root {} show {}",
        storage.parent().unwrap_or(storage).display(),
        record.id
    );
    Ok(())
}
