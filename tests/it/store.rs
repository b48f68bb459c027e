//! The store under stress: two heal processes on one project, a corrupt database, a full disk.
//! In every case the supervised program keeps running and its output passes through.

use std::os::unix::process::CommandExt;
use std::time::Duration;

use crate::heal::{APP, FIXED};
use crate::support::Project;
use crate::support::slack::FakeSlack;

#[test]
fn two_heal_processes_share_one_store_and_fix_one_error_once() {
    // Both programs wait for the same signal, then crash the same way at once.
    let app = format!(
        "import os, time\nwhile not os.path.exists('go'):\n    time.sleep(0.01)\n{}",
        APP.replacen("import sys\n", "", 1)
    );
    let fixed = format!(
        "import os, time\nwhile not os.path.exists('go'):\n    time.sleep(0.01)\n{}",
        FIXED.replacen("import sys\n", "", 1)
    );
    let mut p = Project::new();
    p.file("app.py", &app);
    p.env("HEAL_PROVIDER", "none");
    p.env("HEAL_VERIFY_RERUN_SECONDS", "5");
    let mut a = p.spawn(&["run", "--", "python3", "app.py"]);
    let mut b = p.spawn(&["run", "--", "python3", "app.py"]);
    // Both are up (each has started its program) before the crash.
    let mut a_err = crate::support::Stream::new(a.stderr.take().unwrap());
    let mut b_err = crate::support::Stream::new(b.stderr.take().unwrap());
    a_err.wait_for("started", Duration::from_secs(30));
    b_err.wait_for("started", Duration::from_secs(30));
    p.file("go", "");
    let sa = crate::support::wait_with_timeout(&mut a, Duration::from_secs(60));
    let sb = crate::support::wait_with_timeout(&mut b, Duration::from_secs(60));
    assert_eq!((sa.code(), sb.code()), (Some(1), Some(1)));

    let records = p.records();
    assert_eq!(records.len(), 1, "{records:#?}");
    let r = &records[0];
    assert_eq!(r["occurrences"], 2, "{r:#}");
    assert_eq!(r["status"], "applied", "{r:#}");
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        fixed
    );
    let backups: Vec<_> = std::fs::read_dir(p.storage().join("errors"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("_backup_"))
        .collect();
    assert_eq!(backups.len(), 1, "fixed twice: {backups:?}");
}

#[test]
fn a_corrupt_database_degrades_to_pass_through_with_an_alert() {
    let slack = FakeSlack::start();
    let mut p = Project::new();
    p.file(
        "app.py",
        "print('still serving', flush=True)\nraise ValueError('boom')\n",
    );
    p.env("SLACK_WEBHOOK_URL", &slack.webhook_url());
    std::fs::create_dir_all(p.storage()).unwrap();
    let garbage = vec![0xA5u8; 64 * 1024];
    std::fs::write(p.storage().join("heal.db"), &garbage).unwrap();
    let run = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("still serving"), "{run:?}");
    assert!(run.stderr.contains("ValueError: boom"), "{run:?}");
    assert!(run.stderr.contains("without records"), "{run:?}");
    assert!(!run.stderr.contains("panicked"), "{run:?}");
    // The damaged file is left as it was, for a person to look at.
    assert_eq!(std::fs::read(p.storage().join("heal.db")).unwrap(), garbage);
    let reqs = slack.wait_requests(2, Duration::from_secs(10));
    let text: String = reqs.iter().map(|r| r.raw.clone()).collect();
    assert!(text.contains("cannot write its records"), "{text}");
    assert!(text.contains("ValueError"), "{text}");
}

#[test]
fn a_full_disk_never_stops_the_program_nor_leaves_half_written_records() {
    // Fifty different errors, each a new incident, then a clean end.
    let app = "import sys, traceback\nfor i in range(50):\n    try:\n        raise type(f'Error{i}', (Exception,), {})('disk test')\n    except Exception:\n        traceback.print_exc()\n        sys.stderr.flush()\nprint('done', flush=True)\n";
    let slack = FakeSlack::start();
    let mut p = Project::new();
    p.file("app.py", app);
    p.env("HEAL_PROVIDER", "none");
    p.env("HEAL_DETECT_QUIET_MS", "20");
    p.env("SLACK_WEBHOOK_URL", &slack.webhook_url());
    let mut cmd = p.heal(&["run", "--", "python3", "app.py"]);
    // The disk is "full" past 96 KiB for heal (and its program): writes fail with EFBIG, as
    // they would with ENOSPC, instead of killing the process.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 96 * 1024,
                rlim_max: 96 * 1024,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("done"), "{stdout}");
    assert!(
        stderr.contains("Error49: disk test"),
        "output was held back"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("a full disk"),
        "heal does not say what went wrong: {stderr}"
    );
    // The team still hears of the errors heal could not record.
    let text: String = slack.requests().iter().map(|r| r.raw.clone()).collect();
    assert!(
        text.contains("Not recorded and not healed"),
        "no alert without a record: {}",
        &text[..text.len().min(2000)]
    );
    // Whatever was exported is whole: every JSON file parses.
    for entry in std::fs::read_dir(p.storage().join("errors")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".json") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                serde_json::from_str::<serde_json::Value>(&text).is_ok(),
                "{name} is half-written"
            );
        } else {
            assert!(!name.starts_with('.'), "a temporary file was left: {name}");
        }
    }
}

#[test]
fn a_read_only_storage_folder_degrades_to_pass_through_with_an_alert() {
    // /proc/self exists and nobody, root included, may create files in it: permission bits
    // alone would not stop root, which CI may be.
    let slack = FakeSlack::start();
    let mut p = Project::new();
    p.file(
        "app.py",
        "print('still serving', flush=True)\nraise ValueError('boom')\n",
    );
    p.env("SLACK_WEBHOOK_URL", &slack.webhook_url());
    p.env("HEAL_STORAGE_DIR", "/proc/self");
    let run = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("still serving"), "{run:?}");
    assert!(run.stderr.contains("ValueError: boom"), "{run:?}");
    assert!(run.stderr.contains("without records"), "{run:?}");
    let reqs = slack.wait_requests(2, Duration::from_secs(10));
    let text: String = reqs.iter().map(|r| r.raw.clone()).collect();
    assert!(text.contains("cannot write its records"), "{text}");
    assert!(text.contains("ValueError"), "{text}");
}

/// Heals started at once on a project without a store race to create it (WAL, tables):
/// SQLite answers "busy" at once, without its wait, to the loser of that race. Every heal
/// must still get the store and record its own incident.
#[test]
fn heals_started_at_once_on_a_new_store_all_record() {
    const HEALS: usize = 6;
    let mut p = Project::new();
    p.env("HEAL_PROVIDER", "none");
    p.env("HEAL_RESTART", "never");
    for i in 0..HEALS {
        p.file(
            &format!("app{i}.py"),
            "def parse():\n    return int(\"abc\")\n\n\nparse()\n",
        );
    }
    let scripts: Vec<String> = (0..HEALS).map(|i| format!("app{i}.py")).collect();
    let mut heals: Vec<_> = scripts
        .iter()
        .map(|s| p.spawn(&["run", "--", "python3", s]))
        .collect();
    let mut logs = Vec::new();
    for heal in &mut heals {
        let mut err = String::new();
        std::io::Read::read_to_string(&mut heal.stderr.take().unwrap(), &mut err).unwrap();
        let status = crate::support::wait_with_timeout(heal, Duration::from_secs(60));
        assert_eq!(status.code(), Some(1), "{err}");
        logs.push(err);
    }
    for log in &logs {
        assert!(
            !log.contains("cannot be used"),
            "a heal went without its store:\n{log}"
        );
    }
    let records = p.records();
    assert_eq!(records.len(), HEALS, "{records:#?}");
}
