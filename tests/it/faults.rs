//! Peers misbehaving: the model server, Slack and the git remote each slow (10 s and more),
//! resetting connections, or answering garbage. heal keeps supervising, retries a bounded number
//! of times, keeps its records, and the program's output passes through.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::heal::{APP, good};
use crate::support::Project;
use crate::support::anthropic::{FakeAnthropic, Reply};
use crate::support::git::git;
use crate::support::slack::FakeSlack;

/// How a rude peer treats each connection.
#[derive(Clone, Copy)]
enum Rude {
    /// Reads the request, then resets the connection (RST, not a clean close).
    Reset,
    /// Answers bytes that are not HTTP.
    Garbage,
}

/// A peer on 127.0.0.1 that misbehaves on every connection, for the life of the test.
fn rude(kind: Rude) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 4096];
            let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
            let _ = conn.read(&mut buf);
            match kind {
                Rude::Reset => {
                    // SO_LINGER 0: closing sends RST.
                    let linger = libc::linger {
                        l_onoff: 1,
                        l_linger: 0,
                    };
                    unsafe {
                        libc::setsockopt(
                            conn.as_raw_fd(),
                            libc::SOL_SOCKET,
                            libc::SO_LINGER,
                            (&linger as *const libc::linger).cast(),
                            std::mem::size_of::<libc::linger>() as libc::socklen_t,
                        );
                    }
                }
                Rude::Garbage => {
                    let _ = conn.write_all(b"\x00\xffthis is not http\r\n\r\n\x13\x37");
                }
            }
        }
    });
    addr
}

/// The crashing app with a model and Slack configured; the model's path (no instant rule).
fn project(model_url: &str, slack_url: &str) -> Project {
    let mut p = Project::new();
    p.file("app.py", APP);
    p.env("ANTHROPIC_API_KEY", "sk-ant-api03-test-key-0123456789");
    p.env("ANTHROPIC_BASE_URL", model_url);
    p.env("SLACK_WEBHOOK_URL", slack_url);
    p.env("HEAL_INSTANT", "false");
    p.env("HEAL_LLM_MAX_RETRIES", "2");
    p.env("HEAL_LLM_RETRY_INITIAL_MS", "10");
    p.env("HEAL_LLM_TIMEOUT_S", "2");
    p.env("HEAL_VERIFY_RERUN_SECONDS", "5");
    p
}

/// heal finished, passed the output through, and recorded the incident `status`, saying why.
fn survived(p: &Project, run: &crate::support::project::Run, status: &str, why: &str) {
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("NameError"),
        "output held back: {run:?}"
    );
    assert!(!run.stderr.contains("panicked"), "{run:?}");
    let r = p.record();
    assert_eq!(r["status"], status, "{r:#}");
    let reason = r["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(why), "reason `{reason}` lacks `{why}`");
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        APP
    );
}

#[test]
fn a_model_slower_than_its_timeout_is_retried_a_bounded_number_of_times() {
    let model = FakeAnthropic::start();
    model.respond_always(Reply::tool_use(good()).delay(Duration::from_secs(12)));
    let slack = FakeSlack::start();
    let p = project(&model.base_url(), &slack.webhook_url());
    let run = p.run(&["run", "--", "python3", "app.py"]);
    survived(&p, &run, "failed", "unavailable after 3 attempts");
    assert_eq!(model.requests().len(), 3);
}

#[test]
fn a_model_that_resets_or_answers_garbage_ends_failed_with_the_records_kept() {
    for (kind, why) in [(Rude::Reset, "unavailable"), (Rude::Garbage, "unavailable")] {
        let addr = rude(kind);
        let slack = FakeSlack::start();
        let p = project(&format!("http://{addr}"), &slack.webhook_url());
        let run = p.run(&["run", "--", "python3", "app.py"]);
        survived(&p, &run, "failed", why);
        // Slack still heard of it all.
        let texts: String = slack
            .wait_requests(2, Duration::from_secs(10))
            .iter()
            .map(|r| r.raw.clone())
            .collect();
        assert!(texts.contains("ERROR DETECTED"), "{texts}");
    }
}

#[test]
fn slack_slow_resetting_or_garbled_never_holds_up_the_program_or_the_records() {
    let model = FakeAnthropic::start();
    model.respond_always(Reply::tool_use(good()));
    // Slow: every answer takes 12 s, past the 2 s timeout; bounded attempts.
    let slow = FakeSlack::start();
    slow.slow_down(Duration::from_secs(12));
    let reset = rude(Rude::Reset);
    let garbage = rude(Rude::Garbage);
    for url in [
        slow.webhook_url(),
        format!("http://{reset}/services/T0/B0/x"),
        format!("http://{garbage}/services/T0/B0/x"),
    ] {
        let mut p = project(&model.base_url(), &url);
        p.env("HEAL_SLACK_TIMEOUT_MS", "2000");
        p.env("HEAL_SLACK_MAX_ATTEMPTS", "2");
        let run = p.run(&["run", "--", "python3", "app.py"]);
        assert_eq!(run.code, Some(1), "{run:?}");
        assert!(run.stderr.contains("NameError"), "{run:?}");
        let r = p.record();
        // The fix went through regardless of Slack.
        assert_eq!(r["status"], "applied", "{r:#}");
        // Every failed attempt is in the record, and no more than allowed.
        let attempts = r["notifications"].as_array().unwrap();
        assert!(!attempts.is_empty(), "{r:#}");
        assert!(
            attempts
                .iter()
                .all(|a| a["ok"] == false && a["attempt"].as_u64().unwrap() <= 2),
            "{r:#}"
        );
    }
}

#[test]
fn a_git_remote_that_resets_or_answers_garbage_keeps_the_commit_local() {
    for kind in [Rude::Reset, Rude::Garbage] {
        let addr = rude(kind);
        let model = FakeAnthropic::start();
        model.respond_always(Reply::tool_use(good()));
        let slack = FakeSlack::start();
        let mut p = project(&model.base_url(), &slack.webhook_url());
        p.env("HEAL_GIT_PUSH_RETRIES", "1");
        p.env("HEAL_GIT_RETRY_INITIAL_MS", "10");
        p.file(".gitignore", "storage/\n");
        let dir = p.path().to_path_buf();
        let git = |args: &[&str]| git(&dir, args);
        git(&["init", "-q", "-b", "main"]);
        git(&["add", "."]);
        git(&["commit", "-q", "-m", "initial"]);
        git(&["remote", "add", "origin", &format!("http://{addr}/app.git")]);
        git(&["config", "branch.main.remote", "origin"]);
        git(&["config", "branch.main.merge", "refs/heads/main"]);
        let run = p.run(&["run", "--", "python3", "app.py"]);
        assert_eq!(run.code, Some(1), "{run:?}");
        let r = p.record();
        assert_eq!(r["status"], "committed", "{r:#}");
        assert_eq!(r["result"]["pushed"], false);
        assert_eq!(
            git(&["rev-parse", "HEAD"]),
            r["result"]["commit"].as_str().unwrap()
        );
        assert!(
            r["reason"].as_str().unwrap().contains("not pushed"),
            "{r:#}"
        );
    }
}
