//! git when heal is not alone: two heal processes fixing different files of one project at
//! once, and a heal killed between moving the branch and syncing the index. See: issue 14.

use std::time::Duration;

use serde_json::json;

use crate::support::Project;
use crate::support::anthropic::{FakeAnthropic, Reply};
use crate::support::git::{commit_and_push_to, git};
use crate::support::project::wait_with_timeout;

const BOUND: Duration = Duration::from_secs(120);

fn fix(file: &str) -> Reply {
    Reply::tool_use(json!({
        "fixable": true, "reason": "r", "error_category": "logic",
        "root_cause": "a bad literal", "affected_file": file, "confidence": "high",
        "explanation": "e", "changes_summary": format!("parse a number in {file}"),
        "edits": [{"file": file, "search": "int(\"abc\")", "replace": "int(\"1\")"}]
    }))
}

/// A project in git, pushed to a bare origin; returns the origin.
fn repo(p: &Project) -> tempfile::TempDir {
    let origin = tempfile::tempdir().unwrap();
    commit_and_push_to(p.path(), origin.path());
    origin
}

/// Two heal processes, each supervising a program that crashes in its own file, both in push
/// mode. The race is made certain: the pre-commit hook holds a.py's commit until b.py's has
/// landed, so main moves under the first heal. Its fix's file was not touched by the move:
/// heal rebuilds its commit on the new tip, and both commits land and are pushed.
#[test]
fn r14_two_heals_fixing_different_files_at_once_both_land() {
    let model_a = FakeAnthropic::start();
    let model_b = FakeAnthropic::start();
    model_a.respond_always(fix("a.py"));
    model_b.respond_always(fix("b.py"));
    let mut p = Project::new();
    p.env("ANTHROPIC_API_KEY", "sk-ant-test");
    p.env("HEAL_LLM_RETRY_INITIAL_MS", "10");
    p.env("HEAL_VERIFY_RERUN_SECONDS", "3");
    p.env("HEAL_GIT_MODE", "push");
    p.file(".gitignore", "storage/\n");
    p.file(
        "a.py",
        "def parse():\n    return int(\"abc\")\n\n\nparse()\n",
    );
    p.file(
        "b.py",
        "def parse():\n    return int(\"abc\")\n\n\nparse()\n",
    );
    let origin = repo(&p);
    let hook = p.path().join(".git/hooks/pre-commit");
    std::fs::write(
        &hook,
        "#!/bin/sh\n\
         if git diff --cached --name-only | grep -qx a.py; then\n\
           i=0\n\
           until git log --format=%B main | grep -q 'Files: b.py'; do\n\
             i=$((i+1)); [ $i -gt 1200 ] && exit 0; sleep 0.05\n\
           done\n\
         fi\n\
         exit 0\n",
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let a_url = model_a.base_url();
    let b_url = model_b.base_url();
    let mut a = p.spawn_with(
        &["run", "--", "python3", "a.py"],
        &[("ANTHROPIC_BASE_URL", a_url.as_str())],
    );
    let mut b = p.spawn_with(
        &["run", "--", "python3", "b.py"],
        &[("ANTHROPIC_BASE_URL", b_url.as_str())],
    );
    wait_with_timeout(&mut a, BOUND);
    wait_with_timeout(&mut b, BOUND);
    let records = p.records();
    assert_eq!(records.len(), 2, "{records:#?}");
    for r in &records {
        assert_eq!(r["status"], "pushed", "{r:#}");
    }
    let log = git(origin.path(), &["log", "--format=%B", "main"]);
    assert!(log.contains("Files: a.py"), "{log}");
    assert!(log.contains("Files: b.py"), "{log}");
    let status = git(p.path(), &["status", "--porcelain", "--", "a.py", "b.py"]);
    assert_eq!(status.trim(), "", "the fixed files are not clean in git");
}

/// A fix of `file` whose summary marks it as host B's.
fn fix_by_b(file: &str, number: &str) -> Reply {
    Reply::tool_use(json!({
        "fixable": true, "reason": "r", "error_category": "logic",
        "root_cause": "a bad literal", "affected_file": file, "confidence": "high",
        "explanation": "e", "changes_summary": "fix-by-b",
        "edits": [{"file": file, "search": "int(\"abc\")", "replace": format!("int(\"{number}\")")}]
    }))
}

/// Makes `host` hold each commit (its pre-commit hook waits) until the bare `origin`'s main
/// has a commit whose message says `marker`: the other host's fix has landed first.
fn hold_commits_until(host: &Project, origin: &std::path::Path, marker: &str) {
    let hook = host.path().join(".git/hooks/pre-commit");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\n\
             i=0\n\
             until git --git-dir='{}' log --format=%B main | grep -q '{marker}'; do\n\
               i=$((i+1)); [ $i -gt 1200 ] && exit 0; sleep 0.05\n\
             done\n\
             exit 0\n",
            origin.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// One host of a fleet: its own clone of `origin`, its own model, push mode.
fn host(origin: &std::path::Path, model: &FakeAnthropic) -> Project {
    let mut p = Project::new();
    git(
        p.path(),
        &["clone", "-q", origin.to_str().expect("a UTF-8 path"), "."],
    );
    p.env("ANTHROPIC_API_KEY", "sk-ant-test");
    p.env("ANTHROPIC_BASE_URL", &model.base_url());
    p.env("HEAL_LLM_RETRY_INITIAL_MS", "10");
    p.env("HEAL_VERIFY_RERUN_SECONDS", "3");
    p.env("HEAL_GIT_MODE", "push");
    p
}

/// A program that crashes on a bad literal, fixed by `int("1")` (host A) or another number.
const BAD_LITERAL: &str = "def parse():\n    return int(\"abc\")\n\n\nparse()\n";

/// Two hosts race to one bare remote seeded with `files` (each a [`BAD_LITERAL`] program):
/// host A fixes `file_a`, host B fixes `file_b` to `int("{number_b}")`. The race is made
/// certain: A's pre-commit hook holds its commit until B's fix is on the remote, so A's push
/// always finds the remote moved on. Returns A's record, B's record and the remote.
fn race(
    files: &[&str],
    file_a: &str,
    file_b: &str,
    number_b: &str,
) -> (serde_json::Value, serde_json::Value, tempfile::TempDir) {
    let seed = Project::new();
    seed.file(".gitignore", "storage/\n");
    for file in files {
        seed.file(file, BAD_LITERAL);
    }
    let origin = repo(&seed);
    let model_a = FakeAnthropic::start();
    let model_b = FakeAnthropic::start();
    model_a.respond_always(fix(file_a));
    model_b.respond_always(fix_by_b(file_b, number_b));
    let host_a = host(origin.path(), &model_a);
    let host_b = host(origin.path(), &model_b);
    hold_commits_until(&host_a, origin.path(), "fix-by-b");
    let mut a = host_a.spawn(&["run", "--", "python3", file_a]);
    let mut b = host_b.spawn(&["run", "--", "python3", file_b]);
    wait_with_timeout(&mut a, BOUND);
    wait_with_timeout(&mut b, BOUND);
    (host_a.record(), host_b.record(), origin)
}

/// Two hosts, each with its own clone of one bare remote, fix different files at once. A's
/// push finds the remote moved on: A rebases its fix onto it and pushes again; both fixes
/// land, neither is forced over the other.
#[test]
fn r14_two_hosts_pushing_to_one_remote_at_once_both_land() {
    let (ra, rb, origin) = race(&["a.py", "b.py"], "a.py", "b.py", "1");
    assert_eq!(rb["status"], "pushed", "{rb:#}");
    assert_eq!(ra["status"], "pushed", "{ra:#}");
    let reason = ra["reason"].as_str().unwrap();
    assert!(reason.contains("rebased"), "{reason}");
    // The remote holds both fixes, A's on top of B's, and both files fixed.
    let tip = git(origin.path(), &["rev-parse", "main"]);
    assert_eq!(ra["result"]["commit"].as_str(), Some(tip.as_str()));
    assert_eq!(
        git(origin.path(), &["rev-parse", "main^"]),
        rb["result"]["commit"].as_str().unwrap()
    );
    for file in ["a.py", "b.py"] {
        let text = git(origin.path(), &["show", &format!("main:{file}")]);
        assert!(text.contains("int(\"1\")"), "{file}: {text}");
    }
}

/// The same race on the same line: host B's fix lands first, and host A's does not rebase
/// onto it. A never forces its push: the remote keeps B's fix, and A's record says why its
/// own stayed local.
#[test]
fn r14_two_hosts_fixing_the_same_line_at_once_the_second_is_not_forced() {
    let (ra, rb, origin) = race(&["a.py"], "a.py", "a.py", "2");
    assert_eq!(rb["status"], "pushed", "{rb:#}");
    assert_eq!(ra["status"], "committed", "{ra:#}");
    let reason = ra["reason"].as_str().unwrap();
    assert!(
        reason.contains("does not rebase cleanly onto it: pull, resolve the conflict"),
        "{reason}"
    );
    assert_eq!(
        git(origin.path(), &["rev-parse", "main"]),
        rb["result"]["commit"].as_str().unwrap()
    );
    let text = git(origin.path(), &["show", "main:a.py"]);
    assert!(text.contains("int(\"2\")"), "{text}");
}
