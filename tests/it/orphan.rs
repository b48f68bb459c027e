//! The program after heal is killed: the next heal stops it before starting a new copy, so
//! it never runs twice. See: issue 14.

use std::time::{Duration, Instant};

use crate::support::Project;
use crate::support::project::{kill, wait_with_timeout};

/// A program that ignores SIGTERM (so the death signal heal arranges does not end it) and
/// runs until killed. Started again, it writes whether the first copy was still running.
const APP: &str = r#"import os
import signal
import sys
import time

signal.signal(signal.SIGTERM, signal.SIG_IGN)


def running(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


if os.path.exists("first.pid"):
    first = int(open("first.pid").read())
    with open("second.txt", "w") as f:
        f.write("doubled" if running(first) else "alone")
    sys.exit(0)
with open("first.pid.tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename("first.pid.tmp", "first.pid")
while True:
    time.sleep(0.1)
"#;

fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(text) => {
            let state = text
                .rsplit_once(')')
                .map(|(_, r)| r.trim_start().chars().next());
            !matches!(state, Some(Some('Z' | 'X')) | None)
        }
        Err(_) => false,
    }
}

#[test]
fn r14_an_orphaned_program_is_stopped_before_a_new_copy_starts() {
    let mut p = Project::new();
    p.file("app.py", APP);
    p.env("HEAL_PROVIDER", "none");
    p.env("HEAL_STOP_GRACE_S", "1");
    let mut first = p.spawn(&["run", "--", "python3", "app.py"]);
    let pid_file = p.path().join("first.pid");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pid_file.exists() {
        assert!(Instant::now() < deadline, "the program did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let orphan: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    kill(first.id(), libc::SIGKILL);
    wait_with_timeout(&mut first, Duration::from_secs(30));
    assert!(
        running(orphan),
        "the program should outlive a SIGKILLed heal here (it ignores SIGTERM)"
    );
    let second = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(second.code, Some(0), "{second:?}");
    assert_eq!(
        std::fs::read_to_string(p.path().join("second.txt")).unwrap(),
        "alone",
        "the new copy started while the orphan still ran"
    );
    assert!(!running(orphan), "the orphan still runs");
    assert!(
        second
            .stderr
            .contains("was still running after the heal that started it was killed"),
        "heal did not say what it did: {}",
        second.stderr
    );
}

/// heal is killed; the program, which does not ignore SIGTERM, ends with it: the kernel sends
/// it the death signal heal arranged.
#[test]
fn r14_a_program_ends_when_its_heal_is_killed() {
    let p = Project::new();
    p.file(
        "app.py",
        "import os\nimport time\nopen('pid.tmp', 'w').write(str(os.getpid()))\nos.rename('pid.tmp', 'pid')\nwhile True:\n    time.sleep(0.1)\n",
    );
    let mut heal = p.spawn(&["run", "--", "python3", "app.py"]);
    let pid_file = p.path().join("pid");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pid_file.exists() {
        assert!(Instant::now() < deadline, "the program did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    kill(heal.id(), libc::SIGKILL);
    wait_with_timeout(&mut heal, Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(30);
    while running(pid) {
        assert!(Instant::now() < deadline, "the program outlived its heal");
        std::thread::sleep(Duration::from_millis(20));
    }
}
