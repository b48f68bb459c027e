//! Fault injection: heal is killed (SIGKILL, not a clean exit) at each stage boundary of a fix,
//! then started again; the tree, the git state, the records and the remote must be whole.
//! Needs the `failpoints` feature (`cargo test --features failpoints`, as `.ci/run` does).

#![cfg(feature = "failpoints")]

use serde_json::{Value, json};

use crate::heal::{APP, FIXED, answer};
use crate::support::Project;
use crate::support::anthropic::{FakeAnthropic, Reply};
use crate::support::git::{commit_and_push_to, git};

const OTHER: &str = "VERSION = 1\n";
const OTHER_FIXED: &str = "VERSION = 2\n";

/// A fix that writes two files, so there is a moment between the two writes.
fn two_file_fix() -> Value {
    answer(&[
        ("app.py", "    return mesage\n", "    return message\n"),
        ("other.py", OTHER, OTHER_FIXED),
    ])
}

/// Returns the project, for checks of its own.
fn killed_then_restarted(armed: &str, second_exit: i32) -> Project {
    let failpoint = armed.split('@').next().unwrap();
    let model = FakeAnthropic::start();
    model.respond_always(Reply::tool_use(two_file_fix()));
    let origin = tempfile::tempdir().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let mut p = Project::new();
    p.file("app.py", APP);
    p.file("other.py", OTHER);
    p.file(".gitignore", "storage/\n");
    p.env("ANTHROPIC_API_KEY", "sk-ant-api03-test-key-0123456789");
    p.env("ANTHROPIC_BASE_URL", &model.base_url());
    p.env("HEAL_INSTANT", "false");
    p.env("HEAL_VERIFY_RERUN_SECONDS", "5");
    // heal's proof copies go here, so the test can see that none is left behind.
    p.env("TMPDIR", temp.path().to_str().unwrap());
    let dir = p.path().to_path_buf();
    commit_and_push_to(&dir, origin.path());
    let initial = git(&dir, &["rev-parse", "HEAD"]);

    // 1. Killed at the failpoint.
    p.env("HEAL_FAILPOINT", armed);
    let first = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(
        first.code, None,
        "{failpoint}: heal was not killed: {first:?}"
    );
    assert!(
        first.stderr.contains(&format!("failpoint {failpoint}")),
        "{first:?}"
    );
    // Never half: each file entirely as before or entirely fixed, right after the kill.
    let app = std::fs::read_to_string(dir.join("app.py")).unwrap();
    let other = std::fs::read_to_string(dir.join("other.py")).unwrap();
    assert!(
        app == APP || app == FIXED,
        "{failpoint}: app.py is half-written"
    );
    assert!(
        other == OTHER || other == OTHER_FIXED,
        "{failpoint}: other.py is half-written"
    );

    // 2. Started again: recovery, then the program.
    p.env("HEAL_FAILPOINT", "");
    let second = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(second.code, Some(second_exit), "{failpoint}: {second:?}");

    // The tree: entirely fixed, committed, clean.
    assert_eq!(
        std::fs::read_to_string(dir.join("app.py")).unwrap(),
        FIXED,
        "{failpoint}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("other.py")).unwrap(),
        OTHER_FIXED,
        "{failpoint}"
    );
    assert_eq!(git(&dir, &["status", "--porcelain"]), "", "{failpoint}");
    // The remote: exactly one fix commit on top of the initial one, holding both files.
    let remote = origin.path();
    assert_eq!(git(remote, &["rev-parse", "main^"]), initial, "{failpoint}");
    assert_eq!(
        git(remote, &["show", "--name-only", "--format=", "main"]),
        "app.py\nother.py",
        "{failpoint}"
    );
    assert_eq!(
        git(&dir, &["rev-parse", "HEAD"]),
        git(remote, &["rev-parse", "main"])
    );
    // No proof copy or worktree left behind.
    assert_eq!(
        git(&dir, &["worktree", "list"]).lines().count(),
        1,
        "{failpoint}"
    );
    let left: Vec<_> = std::fs::read_dir(temp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with("heal-prove-"))
        .collect();
    assert!(left.is_empty(), "{failpoint}: proof copies left: {left:?}");
    // The records: one incident, pushed; every JSON export agrees with the database.
    let records = p.records();
    assert_eq!(records.len(), 1, "{failpoint}: {records:#?}");
    let r = &records[0];
    assert_eq!(r["status"], "pushed", "{failpoint}: {r:#}");
    let id = r["id"].as_str().unwrap();
    let shown = p.run(&["show", id, "--json"]);
    let db: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(&db, r, "{failpoint}: the JSON export is stale");
    // The record says what recovery did: finished (resumed) or undone, then healed again.
    let reason = r["reason"].as_str().unwrap();
    let recovery = r["result"]["recovery"].as_str().unwrap_or_default();
    assert!(
        reason.contains("resumed after heal was stopped")
            || (recovery.contains("heal was stopped") && r["occurrences"] == json!(2)),
        "{failpoint}: the record does not say what happened: {r:#}"
    );
    p
}

#[test]
fn killed_after_the_backup_the_fix_is_undone_then_made_again() {
    killed_then_restarted("after-backup", 1);
}

#[test]
fn killed_between_two_file_writes_the_fix_is_undone_then_made_again() {
    killed_then_restarted("between-writes", 1);
}

#[test]
fn killed_after_the_commit_the_push_is_resumed() {
    killed_then_restarted("after-commit", 0);
}

/// Killed after the branch moved to the fix's commit, before the index followed: recovery
/// finishes the sync, so `git status` is clean and the user's next commit keeps the fix.
#[test]
fn r14_killed_between_update_ref_and_the_index_sync_the_sync_is_finished() {
    let p = killed_then_restarted("before-index-sync", 0);
    let dir = p.path();
    git(
        dir,
        &[
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "the user's next commit",
        ],
    );
    assert_eq!(git(dir, &["show", "HEAD:app.py"]), FIXED.trim_end());
    assert_eq!(git(dir, &["show", "HEAD:other.py"]), OTHER_FIXED.trim_end());
}

#[test]
fn killed_during_the_push_the_push_is_resumed() {
    killed_then_restarted("during-push", 0);
}

#[test]
fn killed_during_a_record_write_the_records_stay_whole() {
    // The third record write is the healer's, once it has taken the incident.
    killed_then_restarted("record-write@3", 1);
}
