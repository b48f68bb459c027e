//! git for the tests' own setup and checks: a test user, never the host's configuration or a
//! terminal prompt, nothing inherited that would point git elsewhere.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `git args` in `dir`, whatever its outcome.
pub fn git_output(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_ASKPASS")
        .env_remove("SSH_ASKPASS")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .expect("git runs")
}

/// Runs `git args` in `dir`; panics on failure; returns stdout without its trailing newline.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_output(dir, args);
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// Makes `dir` a git repository on `main` with everything in it committed, pushed to the bare
/// repository `origin` (set as its `origin` remote).
pub fn commit_and_push_to(dir: &Path, origin: &Path) {
    git(origin, &["init", "-q", "--bare", "-b", "main"]);
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "initial"]);
    git(
        dir,
        &[
            "remote",
            "add",
            "origin",
            origin.to_str().expect("a UTF-8 path"),
        ],
    );
    git(dir, &["push", "-q", "-u", "origin", "main"]);
}
