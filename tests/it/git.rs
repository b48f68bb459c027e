//! The commit stage with real git: a project that is a git repository with a real bare
//! repository as `origin`, the real `heal` binary, a fake Anthropic answering with the fix.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::heal::{APP, FIXED, Setup, good, setup};
use crate::support::anthropic::Reply;
use crate::support::git::git;

/// A project repository on `main` with one commit (app.py, notes.txt, staged.txt), pushed to
/// a bare `origin` in a sibling temp dir.
struct Repo {
    s: Setup,
    origin: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let s = setup();
        let origin = tempfile::tempdir().unwrap();
        git(origin.path(), &["init", "-q", "--bare", "-b", "main"]);
        let dir = s.p.path().to_path_buf();
        s.p.file(".gitignore", "storage/\n");
        s.p.file("notes.txt", "first notes\n");
        s.p.file("staged.txt", "staged v1\n");
        git(&dir, &["init", "-q", "-b", "main"]);
        git(&dir, &["add", "."]);
        git(&dir, &["commit", "-q", "-m", "initial"]);
        git(
            &dir,
            &["remote", "add", "origin", origin.path().to_str().unwrap()],
        );
        git(&dir, &["push", "-q", "-u", "origin", "main"]);
        Repo { s, origin }
    }

    fn dir(&self) -> PathBuf {
        self.s.p.path().to_path_buf()
    }

    fn origin(&self) -> &Path {
        self.origin.path()
    }

    fn live(&self) -> String {
        self.s.live()
    }

    /// Runs the crash under heal with the good fix scripted; returns the record.
    fn heal_crash(&mut self) -> Value {
        self.s.model.script([Reply::tool_use(good())]);
        let run = self.s.heal_run();
        assert_eq!(run.code, Some(1), "{run:?}");
        self.s.p.record()
    }

    fn slack_text(&self) -> String {
        self.s
            .slack
            .requests()
            .iter()
            .map(|r| r.raw.clone())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[test]
fn push_mode_puts_one_seed_commit_on_the_remote_and_leaves_other_work_alone() {
    let mut repo = Repo::new();
    let dir = repo.dir();
    let initial = git(&dir, &["rev-parse", "HEAD"]);
    // Work in progress on the live host: a modified file, a staged one, an untracked one.
    repo.s
        .p
        .file("notes.txt", "first notes\nunsaved thoughts\n");
    repo.s.p.file("staged.txt", "staged v2\n");
    git(&dir, &["add", "staged.txt"]);
    repo.s.p.file("scratch.py", "print('draft')\n");
    repo.s.p.env("GITHUB_REPO", "acme/ads-agent");

    let r = repo.heal_crash();
    assert_eq!(r["status"], "pushed", "{r:#}");
    let id = r["id"].as_str().unwrap();
    let commit = r["result"]["commit"].as_str().unwrap();
    assert_eq!(r["result"]["pushed"], true);
    assert_eq!(r["result"]["branch"], "main");
    assert_eq!(r["result"]["remote"], "origin");
    assert!(r["result"]["pr_url"].is_null());
    assert!(r["timings_ms"]["commit"].is_u64());

    // Exactly one new commit on the remote, the one recorded, on top of the initial one.
    let origin = repo.origin();
    assert_eq!(git(origin, &["rev-parse", "main"]), commit);
    assert_eq!(git(origin, &["rev-parse", "main^"]), initial);
    assert_eq!(
        git(origin, &["show", "--name-only", "--format=", "main"]),
        "app.py"
    );
    assert_eq!(git(origin, &["show", "main:app.py"]) + "\n", FIXED);
    let message = git(origin, &["log", "-1", "--format=%B", "main"]);
    let expected = format!(
        "🤖 Auto-fix: {id}\n\nError: NameError: name 'mesage' is not defined. Did you mean: 'message'?\nCategory: name\nFiles: app.py\n\nFix: mesage -> message in greet()\n\nConfidence: high\n\nHeal-Incident: {id}"
    );
    assert_eq!(message, expected);
    assert_eq!(
        git(
            origin,
            &["log", "-1", "--format=%an <%ae>|%cn <%ce>", "main"]
        ),
        "heal <heal@localhost>|heal <heal@localhost>"
    );

    // The live tree: the fix is committed (clean), everything else exactly as it was.
    assert_eq!(git(&dir, &["rev-parse", "HEAD"]), commit);
    assert_eq!(repo.live(), FIXED);
    let status = git(&dir, &["status", "--porcelain"]);
    let mut lines: Vec<&str> = status.lines().collect();
    lines.sort();
    assert_eq!(lines, [" M notes.txt", "?? scratch.py", "M  staged.txt"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "first notes\nunsaved thoughts\n"
    );
    assert_eq!(git(&dir, &["show", ":staged.txt"]), "staged v2");

    // The final report carries the short hash.
    let slack = repo.slack_text();
    assert!(slack.contains(&commit[..8]), "{slack}");
    assert!(slack.contains("Pushed to origin"), "{slack}");
    let link = format!("https://github.com/acme/ads-agent/commit/{commit}");
    assert!(slack.contains(&link), "{slack}");
    assert_eq!(r["result"]["commit_url"], link.as_str());

    // heal log lists it.
    let log = repo.s.p.run(&["log"]);
    assert_eq!(log.code, Some(0), "{log:?}");
    assert!(log.stdout.contains(&commit[..8]), "{log:?}");
    assert!(log.stdout.contains(id), "{log:?}");
    assert!(log.stdout.contains("NameError"), "{log:?}");
    assert!(log.stdout.contains("app.py"), "{log:?}");
    let none = repo.s.p.run(&["log", "--since", "2099-01-01"]);
    assert!(none.stdout.contains("no auto-fix commits"), "{none:?}");
}

#[test]
fn revert_of_a_pushed_fix_pushes_a_revert_commit_and_restores_the_file() {
    let mut repo = Repo::new();
    let r = repo.heal_crash();
    assert_eq!(r["status"], "pushed", "{r:#}");
    let id = r["id"].as_str().unwrap().to_string();
    let commit = r["result"]["commit"].as_str().unwrap().to_string();

    let out = repo.s.p.run(&["revert", &id]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(repo.live(), APP);
    let origin = repo.origin();
    assert_eq!(git(origin, &["rev-parse", "main^"]), commit);
    let message = git(origin, &["log", "-1", "--format=%B", "main"]);
    assert!(
        message.starts_with(&format!("Revert \"🤖 Auto-fix: {id}\"")),
        "{message}"
    );
    assert!(
        message.contains(&format!("This reverts commit {commit}")),
        "{message}"
    );
    assert_eq!(git(origin, &["show", "main:app.py"]) + "\n", APP);
    assert_eq!(git(&repo.dir(), &["status", "--porcelain"]), "");

    let r = repo.s.p.record();
    assert_eq!(r["status"], "reverted", "{r:#}");
    assert_eq!(
        r["result"]["revert_commit"],
        git(origin, &["rev-parse", "main"])
    );
    assert!(repo.slack_text().contains("reverted on request"));
}

#[test]
fn branch_mode_pushes_heal_branch_and_keeps_the_checkout() {
    let mut repo = Repo::new();
    repo.s.p.env("HEAL_GIT_MODE", "branch");
    let dir = repo.dir();
    let initial = git(&dir, &["rev-parse", "HEAD"]);
    let r = repo.heal_crash();
    assert_eq!(r["status"], "pushed", "{r:#}");
    let id = r["id"].as_str().unwrap();
    let branch = format!("heal/{id}");
    assert_eq!(r["result"]["branch"], branch.as_str());
    let commit = r["result"]["commit"].as_str().unwrap();

    let origin = repo.origin();
    assert_eq!(git(origin, &["rev-parse", &branch]), commit);
    assert_eq!(git(origin, &["rev-parse", &format!("{branch}^")]), initial);
    assert_eq!(git(origin, &["rev-parse", "main"]), initial);
    // The checkout did not move; the fix is live, uncommitted.
    assert_eq!(git(&dir, &["symbolic-ref", "--short", "HEAD"]), "main");
    assert_eq!(git(&dir, &["rev-parse", "HEAD"]), initial);
    assert_eq!(repo.live(), FIXED);
    assert_eq!(git(&dir, &["status", "--porcelain"]), " M app.py");

    // Reverting restores the live file and reverts the branch.
    let out = repo.s.p.run(&["revert", id]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(repo.live(), APP);
    assert_eq!(git(origin, &["rev-parse", &format!("{branch}^")]), commit);
}

#[test]
fn pr_mode_opens_a_pull_request_with_the_analysis_diff_and_proof() {
    let github = crate::support::github::FakeGitHub::start();
    let mut repo = Repo::new();
    let token = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
    repo.s.p.env("HEAL_GIT_MODE", "pr");
    repo.s.p.env("HEAL_GIT_DRAFT", "true");
    repo.s.p.env("GITHUB_REPO", "acme/ads-agent");
    repo.s.p.env("GITHUB_TOKEN", token);
    repo.s.p.env("GITHUB_API_URL", &github.api_url());
    let r = repo.heal_crash();
    assert_eq!(r["status"], "pushed", "{r:#}");
    let id = r["id"].as_str().unwrap();

    let reqs = github.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let req = &reqs[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/repos/acme/ads-agent/pulls");
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(req.body["base"], "main");
    assert_eq!(req.body["head"], format!("heal/{id}"));
    assert_eq!(req.body["draft"], true);
    let body = req.body["body"].as_str().unwrap();
    for needle in [
        id,
        "mesage",
        "+    return message",
        "syntax",
        "rerun",
        "Confidence",
    ] {
        assert!(body.contains(needle), "PR body lacks {needle}: {body}");
    }
    let pr_url = r["result"]["pr_url"].as_str().unwrap();
    assert!(
        pr_url.starts_with("https://github.com/acme/ads-agent/pull/"),
        "{pr_url}"
    );
    assert!(repo.slack_text().contains(pr_url));
    // The token went to GitHub's API only: not into records or Slack.
    assert!(!repo.slack_text().contains(token));
    assert!(!serde_json::to_string(&r).unwrap().contains(token));
}

#[test]
fn a_remote_that_moved_on_gets_the_fix_rebased_onto_it() {
    let mut repo = Repo::new();
    // Someone else pushes to main meanwhile, touching another file.
    let other = tempfile::tempdir().unwrap();
    let clone = other.path().join("clone");
    git(
        other.path(),
        &["clone", "-q", repo.origin().to_str().unwrap(), "clone"],
    );
    std::fs::write(clone.join("notes.txt"), "notes from a colleague\n").unwrap();
    git(&clone, &["commit", "-q", "-am", "colleague's change"]);
    git(&clone, &["push", "-q", "origin", "main"]);
    let theirs = git(&clone, &["rev-parse", "HEAD"]);

    let r = repo.heal_crash();
    assert_eq!(r["status"], "pushed", "{r:#}");
    let commit = r["result"]["commit"].as_str().unwrap();
    let origin = repo.origin();
    assert_eq!(git(origin, &["rev-parse", "main"]), commit);
    assert_eq!(git(origin, &["rev-parse", "main^"]), theirs);
    assert_eq!(git(origin, &["show", "main:app.py"]) + "\n", FIXED);
    assert_eq!(
        git(origin, &["show", "main:notes.txt"]),
        "notes from a colleague"
    );
    let reason = r["reason"].as_str().unwrap();
    assert!(reason.contains("rebased"), "{reason}");
    assert!(r["result"]["local_commit"].is_string());
}

#[test]
fn a_remote_that_refuses_keeps_the_commit_local_and_says_so() {
    let mut repo = Repo::new();
    let hook = repo.origin().join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho 'main is protected' >&2\nexit 1\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let initial = git(repo.origin(), &["rev-parse", "main"]);

    let r = repo.heal_crash();
    assert_eq!(r["status"], "committed", "{r:#}");
    assert_eq!(r["result"]["pushed"], false);
    let commit = r["result"]["commit"].as_str().unwrap();
    assert_eq!(git(&repo.dir(), &["rev-parse", "HEAD"]), commit);
    assert_eq!(git(repo.origin(), &["rev-parse", "main"]), initial);
    let reason = r["reason"].as_str().unwrap();
    assert!(reason.contains("not pushed"), "{reason}");
    assert!(reason.contains("refused"), "{reason}");
    assert!(repo.slack_text().contains("not pushed"));
}

#[test]
fn a_locked_index_is_not_forced_and_the_fix_stays_applied() {
    let mut repo = Repo::new();
    std::fs::write(repo.dir().join(".git/index.lock"), "").unwrap();
    let initial = git(repo.origin(), &["rev-parse", "main"]);
    let r = repo.heal_crash();
    assert_eq!(r["status"], "applied", "{r:#}");
    assert!(r["result"]["commit"].is_null());
    let reason = r["reason"].as_str().unwrap();
    assert!(reason.contains("index is locked"), "{reason}");
    assert!(repo.slack_text().contains("index is locked"));
    assert_eq!(repo.live(), FIXED);
    assert_eq!(git(repo.origin(), &["rev-parse", "main"]), initial);
    std::fs::remove_file(repo.dir().join(".git/index.lock")).unwrap();
    assert_eq!(git(&repo.dir(), &["rev-parse", "HEAD"]), initial);
}

#[test]
fn the_github_token_reaches_only_the_push() {
    let served = tempfile::tempdir().unwrap();
    let token = "ghp_TOKENabcdefghijklmnopqrstuvwxyz012345";
    crate::support::git_http::GitHttp::bare_repo(served.path(), "app");
    let http = crate::support::git_http::GitHttp::start(served.path(), Some(token));
    let mut repo = Repo::new();
    let dir = repo.dir();
    git(&dir, &["remote", "set-url", "origin", &http.url("app")]);
    // The initial push, by the developer with their own credentials.
    let helper =
        format!("credential.helper=!f() {{ echo username=dev; echo password={token}; }}; f");
    git(&dir, &["-c", &helper, "push", "-q", "origin", "main"]);
    let before = http.requests().len();
    repo.s.p.env("GITHUB_TOKEN", token);
    repo.s.p.env("GITHUB_API_URL", "http://127.0.0.1:9");

    let r = repo.heal_crash();
    assert_eq!(r["status"], "pushed", "{r:#}");
    assert!(
        http.authorized_pushes() >= 2,
        "the push did not authenticate"
    );
    // The token is in no request but the push's own (as Basic credentials), nowhere on disk
    // in the repository, and in no record or Slack message.
    for req in &http.requests()[before..] {
        assert!(!req.raw.contains(token), "token in a request body");
        assert!(!req.path.contains(token));
        if req.header("authorization").is_some() {
            assert!(
                req.path.ends_with("git-receive-pack") || req.path.ends_with("info/refs"),
                "{}",
                req.path
            );
        }
    }
    let config = std::fs::read_to_string(dir.join(".git/config")).unwrap();
    assert!(!config.contains(token), "{config}");
    assert!(!config.contains("x-access-token"), "{config}");
    assert!(!serde_json::to_string(&r).unwrap().contains(token));
    for entry in std::fs::read_dir(repo.s.p.storage()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!String::from_utf8_lossy(&bytes).contains(token), "{path:?}");
        }
    }
    assert!(!repo.slack_text().contains(token));
    for req in repo.s.model.requests() {
        assert!(!req.raw.contains(token));
    }
}

#[test]
fn a_folder_that_is_not_a_repository_gets_the_fix_without_a_commit() {
    let s = setup();
    s.model.script([Reply::tool_use(good())]);
    let run = s.heal_run();
    assert_eq!(run.code, Some(1), "{run:?}");
    let r = s.p.record();
    assert_eq!(r["status"], "applied", "{r:#}");
    assert_eq!(s.live(), FIXED);
    let reason = r["reason"].as_str().unwrap();
    assert!(reason.contains("no commit was made"), "{reason}");
    assert!(reason.contains("not in a git repository"), "{reason}");
}

#[test]
fn a_detached_head_is_not_committed_on() {
    let mut repo = Repo::new();
    git(&repo.dir(), &["checkout", "-q", "--detach"]);
    let r = repo.heal_crash();
    assert_eq!(r["status"], "applied", "{r:#}");
    let reason = r["reason"].as_str().unwrap();
    assert!(reason.contains("HEAD is detached"), "{reason}");
    assert_eq!(repo.live(), FIXED);
}

#[test]
fn an_unreachable_remote_is_retried_a_bounded_number_of_times_and_the_commit_stays() {
    let mut repo = Repo::new();
    let dir = repo.dir();
    let closed = crate::support::peer::closed_addr();
    git(
        &dir,
        &[
            "remote",
            "set-url",
            "origin",
            &format!("http://{closed}/app.git"),
        ],
    );
    repo.s.p.env("HEAL_GIT_PUSH_RETRIES", "2");
    repo.s.p.env("HEAL_GIT_RETRY_INITIAL_MS", "10");
    let run_and_record = repo.heal_crash();
    let r = run_and_record;
    assert_eq!(r["status"], "committed", "{r:#}");
    assert_eq!(r["result"]["pushed"], false);
    assert_eq!(
        git(&dir, &["rev-parse", "HEAD"]),
        r["result"]["commit"].as_str().unwrap()
    );
    let reason = r["reason"].as_str().unwrap();
    assert!(reason.contains("the push failed"), "{reason}");
}

#[test]
fn a_hanging_push_does_not_hold_up_the_restart() {
    // A remote that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    let mut repo = Repo::new();
    git(
        &repo.dir(),
        &[
            "remote",
            "set-url",
            "origin",
            &format!("http://{addr}/app.git"),
        ],
    );
    repo.s.p.env("HEAL_RESTART", "on-failure");
    repo.s.p.env("HEAL_GIT_PUSH_TIMEOUT_S", "600");
    repo.s.model.script([Reply::tool_use(good())]);
    let mut child = repo.s.p.spawn(&["run", "--", "python3", "app.py"]);
    let mut out = crate::support::Stream::new(child.stdout.take().unwrap());
    // The program restarted on the fixed code while the push was still waiting.
    out.wait_for("hello team", std::time::Duration::from_secs(60));
    let r = repo.s.p.record();
    assert_eq!(r["status"], "applied", "{r:#}");
    assert_eq!(repo.live(), FIXED);
    crate::support::kill(child.id(), libc::SIGKILL);
    let _ = child.wait();
}

#[test]
fn a_revert_that_conflicts_stops_cleanly_and_says_so() {
    let mut repo = Repo::new();
    let r = repo.heal_crash();
    assert_eq!(r["status"], "pushed", "{r:#}");
    let id = r["id"].as_str().unwrap().to_string();
    // A later commit changes the fixed line again.
    let dir = repo.dir();
    let later = FIXED.replace("return message", "return message.upper()");
    std::fs::write(dir.join("app.py"), &later).unwrap();
    git(&dir, &["commit", "-q", "-am", "shout"]);
    let head = git(&dir, &["rev-parse", "HEAD"]);

    let out = repo.s.p.run(&["revert", &id]);
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("conflicts"), "{out:?}");
    assert_eq!(repo.live(), later);
    assert_eq!(git(&dir, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");
    assert_eq!(repo.s.p.record()["status"], "pushed");
}

#[test]
fn the_repository_hooks_run_unless_no_verify() {
    for (no_verify, status) in [("false", "applied"), ("true", "pushed")] {
        let mut repo = Repo::new();
        let hook = repo.dir().join(".git/hooks/pre-commit");
        std::fs::write(&hook, "#!/bin/sh\necho 'lint says no' >&2\nexit 1\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
        repo.s.p.env("HEAL_GIT_NO_VERIFY", no_verify);
        let r = repo.heal_crash();
        assert_eq!(r["status"], status, "no_verify={no_verify}: {r:#}");
        assert_eq!(repo.live(), FIXED);
        if no_verify == "false" {
            let reason = r["reason"].as_str().unwrap();
            assert!(reason.contains("pre-commit hook refused"), "{reason}");
            assert!(reason.contains("lint says no"), "{reason}");
        }
    }
}

#[test]
fn a_merge_in_progress_is_not_committed_over() {
    let mut repo = Repo::new();
    let head = git(&repo.dir(), &["rev-parse", "HEAD"]);
    // What `git merge` leaves while it waits for conflicts to be resolved.
    std::fs::write(repo.dir().join(".git/MERGE_HEAD"), format!("{head}\n")).unwrap();
    let r = repo.heal_crash();
    assert_eq!(r["status"], "applied", "{r:#}");
    let reason = r["reason"].as_str().unwrap();
    assert!(reason.contains("a merge is in progress"), "{reason}");
    assert_eq!(git(&repo.dir(), &["rev-parse", "HEAD"]), head);
    assert_eq!(repo.live(), FIXED);
}
