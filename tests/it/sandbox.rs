//! The proof's sandbox through the real binary: what it contains when heal itself dies, and
//! what heal does where it cannot start. The hostile answers it contains are in the corpus
//! (`tests/fixtures/answers/5*-sandbox-*`, `6*-sandbox-*`). See: issue 12.

use std::time::{Duration, Instant};

use crate::heal::{APP, FIXED, good, setup};
use crate::support::anthropic::Reply;
use crate::support::slack::FakeSlack;
use crate::support::{Project, Stream, kill, wait_with_timeout};

/// Processes whose command line holds `needle`.
fn processes_holding(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

/// Waits, polling the process table, until `check` holds; fails the test after `limit`.
fn wait_until(what: &str, limit: Duration, check: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn r12_a_setsid_process_of_the_proof_dies_when_heal_is_sigkilled() {
    let s = setup();
    let token = format!("4322.{}", std::process::id());
    s.p.file(
        "tools.py",
        "import subprocess\n\n\ndef start(argv):\n    subprocess.Popen(argv, start_new_session=True)\n",
    );
    s.p.file("app.py", APP);
    // The fix starts a sleeper in a new session, then keeps the proof busy.
    s.model.respond_always(Reply::tool_use(crate::heal::answer(&[
        ("app.py", "import sys\n", "import sys\nimport time\nimport tools\n"),
        (
            "app.py",
            "    return mesage\n",
            &format!("    tools.start(['sleep', '{token}'])\n    time.sleep(60)\n    return message\n"),
        ),
    ])));
    let mut child = s.p.spawn(&["run", "--", "python3", "app.py"]);
    let _out = Stream::new(child.stdout.take().unwrap());
    let _err = Stream::new(child.stderr.take().unwrap());
    wait_until(
        "the proof's sleeper starts",
        Duration::from_secs(60),
        || !processes_holding(&token).is_empty(),
    );
    kill(child.id(), libc::SIGKILL);
    let _ = wait_with_timeout(&mut child, Duration::from_secs(10));
    // Its PID namespace dies with heal: the sleeper, setsid and all, is gone.
    wait_until(
        "the sleeper dies with heal",
        Duration::from_secs(10),
        || processes_holding(&token).is_empty(),
    );
    assert_eq!(s.live(), APP);
}

#[test]
fn r12_required_without_a_sandbox_refuses_to_start() {
    let mut p = Project::new();
    p.file("app.py", "print('started', flush=True)\n");
    p.env("HEAL_PROVIDER", "none");
    p.env("HEAL_VERIFY_SANDBOX", "required");
    // A host where bubblewrap cannot start, simulated by a program that does not exist.
    p.env("HEAL_VERIFY_SANDBOX_PROGRAM", "/nonexistent/bwrap");
    let run = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        !run.stdout.contains("started"),
        "the program started: {run:?}"
    );
    assert!(
        run.stderr
            .contains("verify.sandbox = \"required\", and no sandbox can start here")
            && run.stderr.contains("apt-get install bubblewrap"),
        "{run:?}"
    );
    let doctor = p.run(&["doctor"]);
    assert!(doctor.stdout.contains("sandbox: ERROR"), "{doctor:?}");
}

#[test]
fn r12_auto_without_a_sandbox_says_so_once_refuses_model_fixes_and_keeps_the_rules() {
    // A model fix: refused without a sandbox.
    let mut s = setup();
    let slack = FakeSlack::start();
    s.p.env("SLACK_WEBHOOK_URL", &slack.webhook_url());
    s.p.env("HEAL_VERIFY_SANDBOX_PROGRAM", "/nonexistent/bwrap");
    s.model.script([Reply::tool_use(good())]);
    let run = s.heal_run();
    assert_eq!(
        run.stderr.matches("proves fixes without a sandbox").count(),
        1,
        "{run:?}"
    );
    assert_eq!(s.live(), APP);
    let r = s.p.record();
    assert_eq!(r["status"], "skipped", "{r:#}");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("model fixes are not proved without one"),
        "{r:#}"
    );
    assert!(s.model.requests().is_empty());
    let notices: String = slack
        .wait_requests(1, Duration::from_secs(30))
        .iter()
        .map(|r| r.body.to_string())
        .collect();
    assert!(notices.contains("without a sandbox"), "{notices}");

    // An instant rule: still proved (heal's own edit) and applied, the record saying how.
    let mut p = Project::new();
    p.file("app.py", APP);
    p.env("HEAL_PROVIDER", "none");
    p.env("HEAL_VERIFY_SANDBOX_PROGRAM", "/nonexistent/bwrap");
    p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        FIXED
    );
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#}");
    assert!(
        r["fix"]["sandbox"]
            .as_str()
            .unwrap()
            .starts_with("no sandbox"),
        "{r:#}"
    );
    // With the sandbox that works here, the record says so.
    let mut p = Project::new();
    p.file("app.py", APP);
    p.env("HEAL_PROVIDER", "none");
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert!(
        r["fix"]["sandbox"]
            .as_str()
            .unwrap()
            .starts_with("bubblewrap"),
        "{r:#}"
    );
    let doctor = p.run(&["doctor"]);
    assert!(doctor.stdout.contains("sandbox: bubblewrap"), "{doctor:?}");
}
