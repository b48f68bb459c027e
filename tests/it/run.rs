//! `heal run` end to end: the real binary supervising real python3 programs, with a fake Slack.

use std::time::Duration;

use serde_json::Value;

use crate::support::slack::FakeSlack;
use crate::support::{Project, Stream, kill, wait_with_timeout};

const T: Duration = Duration::from_secs(30);

/// A project whose crash happens in a nested module, like the seed's example.
fn nested_project() -> Project {
    let p = Project::new();
    p.file(
        "main.py",
        "import sys\nfrom engine.decision_engine import run_publish_cycle\n\nprint('agent starting', flush=True)\nrun_publish_cycle({'client': 'avego'})\n",
    );
    p.file("engine/__init__.py", "");
    p.file(
        "engine/decision_engine.py",
        "import json\n\n\ndef budget_for(campaign):\n    return campaign['budget']\n\n\ndef run_publish_cycle(client):\n    total = 0\n    for c in [{'budget': 3}]:\n        total += budget_for(c)\n    return totl\n",
    );
    p
}

#[test]
fn crash_in_nested_module_is_recorded_with_its_context_and_alerted() {
    let slack = FakeSlack::start();
    let mut p = nested_project();
    p.env("SLACK_WEBHOOK_URL", &slack.webhook_url());
    // `totl` carries Python's hint, which an instant rule would fix: this test is about what
    // is caught and told when nothing can fix it.
    p.env("HEAL_INSTANT", "false");
    let run = p.run(&["run", "--tag", "client=avego", "--", "python3", "main.py"]);

    // The child's output passed through, and heal exits with the child's status.
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("agent starting"), "{run:?}");
    assert!(
        run.stderr.contains("NameError: name 'totl' is not defined"),
        "{run:?}"
    );

    let r = p.record();
    let id = r["id"].as_str().unwrap();
    assert!(is_seed_id(id), "{id}");
    // No model is configured here: healing says so and stops.
    assert_eq!(r["status"], "skipped");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("ANTHROPIC_API_KEY is not set")
    );
    assert_eq!(r["occurrences"], 1);
    assert_eq!(r["error"]["type"], "NameError");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("name 'totl' is not defined")
    );
    assert!(
        r["error"]["traceback"]
            .as_str()
            .unwrap()
            .contains("Traceback (most recent call last):")
    );
    let frames = r["error"]["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 2, "{frames:#?}");
    assert_eq!(frames[1]["function"], "run_publish_cycle");
    assert_eq!(frames[1]["line"], 12);
    assert_eq!(frames[1]["code"], "return totl");
    let ctx = &r["context"];
    assert_eq!(ctx["function"], "run_publish_cycle");
    assert_eq!(ctx["module"], "engine.decision_engine");
    assert_eq!(ctx["file"], "engine/decision_engine.py");
    assert_eq!(ctx["line"], 12);
    assert_eq!(ctx["command"], serde_json::json!(["python3", "main.py"]));
    assert_eq!(ctx["tags"]["client"], "avego");
    assert_eq!(ctx["exit"]["code"], 1);
    for slot in ["analysis", "fix", "result"] {
        assert!(r.get(slot).is_some(), "slot {slot} missing");
    }
    assert!(r["timings_ms"].is_object());
    assert!(r["fingerprint"].as_str().unwrap().len() >= 12);

    // One alert, with the seed's content.
    let reqs = slack.wait_requests(1, T);
    let body = reqs[0].body.to_string();
    for needle in [
        id,
        "NameError",
        "name 'totl' is not defined",
        "run_publish_cycle",
        "engine.decision_engine",
        "Client",
        "avego",
        "return totl",
    ] {
        assert!(body.contains(needle), "alert lacks {needle}: {body}");
    }
    assert!(reqs[0].body["text"].is_string() && reqs[0].body["blocks"].is_array());

    // The record says the alert went out; the webhook URL is nowhere in it.
    let r = p.record();
    let sent = r["notifications"].as_array().unwrap();
    assert!(
        sent.iter()
            .any(|n| n["ok"] == true && n["message"] == "alert"),
        "{sent:#?}"
    );
    assert!(!r.to_string().contains(&slack.webhook_url()));

    // heal list and heal show read the store.
    let list = p.run(&["list"]);
    assert_eq!(list.code, Some(0), "{list:?}");
    let line = list.stdout.lines().nth(1).unwrap();
    for needle in [
        id,
        "NameError",
        "skipped",
        "engine/decision_engine.py:12",
        "1",
    ] {
        assert!(line.contains(needle), "{line}");
    }
    let show = p.run(&["show", id]);
    assert!(
        show.stdout.contains("run_publish_cycle") && show.stdout.contains("return totl"),
        "{show:?}"
    );
    let json = p.run(&["show", id, "--json"]);
    let shown: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(shown["id"], id);
    let missing = p.run(&["show", "err_19990101_000000"]);
    assert_eq!(missing.code, Some(1));
    assert!(missing.stderr.contains("heal list"), "{missing:?}");
}

fn is_seed_id(id: &str) -> bool {
    let re = regex::Regex::new(r"^err_\d{8}_\d{6}(_\d+)?$").unwrap();
    re.is_match(id)
}

#[test]
fn chained_exceptions_report_the_last_and_keep_the_chain() {
    let p = Project::new();
    p.file(
        "app.py",
        "import json\n\ndef load(s):\n    try:\n        return json.loads(s)\n    except ValueError as e:\n        raise KeyError('fallback') from e\n\nload('{bad')\n",
    );
    let run = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let r = p.record();
    assert_eq!(r["error"]["type"], "KeyError");
    assert_eq!(r["context"]["function"], "load");
    assert_eq!(r["context"]["line"], 7);
    let related = r["error"]["related"].as_array().unwrap();
    assert!(
        related[0].as_str().unwrap().contains("JSONDecodeError"),
        "{related:?}"
    );
    assert!(
        r["error"]["traceback"]
            .as_str()
            .unwrap()
            .contains("direct cause")
    );
}

#[test]
fn exception_groups_are_located_at_their_first_member() {
    let p = Project::new();
    p.file(
        "group.py",
        "import asyncio\n\nasync def bad(i):\n    raise ValueError(f'bad value {i}')\n\nasync def main():\n    async with asyncio.TaskGroup() as tg:\n        tg.create_task(bad(1))\n        tg.create_task(bad(2))\n\nasyncio.run(main())\n",
    );
    let run = p.run(&["run", "--", "python3", "group.py"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let r = p.record();
    assert_eq!(r["error"]["type"], "ExceptionGroup");
    assert_eq!(r["context"]["function"], "bad");
    assert_eq!(r["context"]["line"], 4);
    let related = r["error"]["related"].as_array().unwrap();
    assert_eq!(related.len(), 2, "{related:?}");
}

#[test]
fn a_traceback_logged_while_running_is_an_incident_and_the_child_keeps_running() {
    let slack = FakeSlack::start();
    let mut p = Project::new();
    p.env("SLACK_WEBHOOK_URL", &slack.webhook_url());
    p.file(
        "worker.py",
        r#"import logging, os, sys, time
logging.basicConfig(format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger("app.orders")
def total(order):
    return sum(i["price"] * i["qty"] for i in order["items"])
try:
    total({"items": [{"price": 2}]})
except Exception:
    log.exception("failed to compute total")
log.error("batch done")
print("waiting", flush=True)
# Keep running until the test has seen the alert.
while not os.path.exists("release"):
    time.sleep(0.02)
print("still alive", flush=True)
"#,
    );
    let mut child = p.spawn(&["run", "--", "python3", "worker.py"]);
    let mut out = Stream::new(child.stdout.take().unwrap());
    out.wait_for("waiting", T);
    let reqs = slack.wait_requests(1, T);
    assert!(reqs[0].body.to_string().contains("KeyError"));
    let r = p.record();
    assert_eq!(r["error"]["type"], "KeyError");
    assert_eq!(r["context"]["function"], "<genexpr>");
    assert!(r["context"].get("exit").is_none(), "not a crash: {r:#}");
    let tb = r["error"]["traceback"].as_str().unwrap();
    assert!(
        !tb.contains("batch done"),
        "the next log line is not part of it: {tb}"
    );

    std::fs::write(p.path().join("release"), "").unwrap();
    out.wait_for("still alive", T);
    let status = wait_with_timeout(&mut child, T);
    assert_eq!(status.code(), Some(0));
    assert_eq!(p.records().len(), 1);
}

#[test]
fn an_error_storm_is_one_incident_with_its_count_and_one_alert() {
    let slack = FakeSlack::start();
    let mut p = Project::new();
    p.env("SLACK_WEBHOOK_URL", &slack.webhook_url());
    p.file(
        "storm.py",
        r#"import traceback
def handle(n):
    return {"id": n}["missing"]
for n in range(10000):
    try:
        handle(n)
    except KeyError:
        traceback.print_exc()
print("storm over", flush=True)
"#,
    );
    let run = p.run(&["run", "--", "python3", "storm.py"]);
    assert_eq!(run.code, Some(0), "{}", &run.stdout);
    assert!(run.stdout.contains("storm over"));
    assert_eq!(run.stderr.matches("KeyError: 'missing'").count(), 10000);
    let r = p.record();
    assert_eq!(r["occurrences"], 10000);
    assert_eq!(r["error"]["type"], "KeyError");
    slack.wait_requests(1, T);
    let alerts = slack
        .requests()
        .iter()
        .filter(|r| r.body.to_string().contains("ERROR DETECTED"))
        .count();
    assert_eq!(alerts, 1, "one alert for the storm");
}

#[test]
fn slack_failing_never_loses_the_record_or_the_output() {
    // Slack answering 500 every time.
    let slack = FakeSlack::start();
    slack.respond_always(500, "internal_error");
    let mut p = nested_project();
    p.env("SLACK_WEBHOOK_URL", &slack.webhook_url());
    let run = p.run(&["run", "--", "python3", "main.py"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("agent starting"));
    let r = p.record();
    let attempts: Vec<&Value> = r["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["message"] == "alert")
        .collect();
    assert_eq!(attempts.len(), 3, "bounded retries: {attempts:#?}");
    assert!(
        attempts
            .iter()
            .all(|a| a["ok"] == false && a["http_status"] == 500)
    );
    let alerts = slack
        .requests()
        .iter()
        .filter(|r| r.body.to_string().contains("ERROR DETECTED"))
        .count();
    assert_eq!(alerts, 3);

    // Slack not listening at all.
    let closed = crate::support::slack::closed_url();
    let mut p = nested_project();
    p.env("SLACK_WEBHOOK_URL", &closed);
    let run = p.run(&["run", "--", "python3", "main.py"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("agent starting"));
    let r = p.record();
    assert_eq!(r["error"]["type"], "NameError");
    let attempts = r["notifications"].as_array().unwrap();
    assert!(!attempts.is_empty() && attempts.iter().all(|a| a["ok"] == false));
    assert!(
        !r.to_string().contains(&closed),
        "the webhook URL leaked into the record"
    );
    assert!(
        !run.stderr.contains(&closed),
        "the webhook URL leaked into the log"
    );
}

#[test]
fn auto_healing_off_records_skipped_with_the_reason() {
    let mut p = nested_project();
    p.env("ENABLE_AUTO_HEALING", "false");
    let run = p.run(&["run", "--", "python3", "main.py"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let r = p.record();
    assert_eq!(r["status"], "skipped");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("ENABLE_AUTO_HEALING")
    );
}

#[test]
fn bad_configuration_stops_heal_before_the_child_starts() {
    // (case, heal.toml, .env, what the error must name)
    type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [&'a str]);
    let cases: &[Case] = &[
        (
            "env",
            None,
            None,
            &[
                "ENABLE_AUTO_HEALING",
                "perhaps",
                "environment",
                "true or false",
            ],
        ),
        (
            "toml value",
            Some("auto_fix_min_confidence = \"certain\"\n"),
            None,
            // Named as written, in the file it was written in.
            &[
                "auto_fix_min_confidence",
                "certain",
                "heal.toml",
                "low, medium, high",
            ],
        ),
        (
            "toml syntax",
            Some("storage_dir = \n"),
            None,
            &["heal.toml", "not valid TOML"],
        ),
        (
            "dotenv",
            None,
            Some("MAX_CLAUDE_CALLS_PER_HOUR=lots\n"),
            &["MAX_CLAUDE_CALLS_PER_HOUR", "lots", ".env", "whole number"],
        ),
    ];
    for (name, toml, dotenv, needles) in cases {
        let mut p = Project::new();
        p.file("touch.py", "open('started', 'w').write('yes')\n");
        if let Some(t) = toml {
            p.file("heal.toml", t);
        }
        if let Some(t) = dotenv {
            p.file(".env", t);
        }
        if *name == "env" {
            p.env("ENABLE_AUTO_HEALING", "perhaps");
        }
        let run = p.run(&["run", "--", "python3", "touch.py"]);
        assert_eq!(run.code, Some(2), "{name}: {run:?}");
        for n in *needles {
            assert!(
                run.stderr.contains(n),
                "{name}: `{n}` missing from {}",
                run.stderr
            );
        }
        assert!(
            !p.path().join("started").exists(),
            "{name}: the child was started"
        );
    }
}

#[test]
fn doctor_shows_values_sources_and_hides_secrets() {
    let mut p = Project::new();
    p.file("heal.toml", "max_claude_calls_per_hour = 4\n");
    p.file(
        ".env",
        "AUTO_FIX_MIN_CONFIDENCE=high\nANTHROPIC_API_KEY=sk-ant-api03-supersecret\n",
    );
    p.env(
        "SLACK_WEBHOOK_URL",
        "https://hooks.slack.com/services/T0/B0/verysecret",
    );
    let run = p.run(&["doctor"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let line = |key: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key} missing: {}", run.stdout))
            .to_string()
    };
    assert!(
        line("MAX_CLAUDE_CALLS_PER_HOUR").contains("4")
            && line("MAX_CLAUDE_CALLS_PER_HOUR").contains("heal.toml")
    );
    assert!(
        line("AUTO_FIX_MIN_CONFIDENCE").contains("high")
            && line("AUTO_FIX_MIN_CONFIDENCE").contains(".env")
    );
    assert!(line("ANTHROPIC_API_KEY").contains("(set)"));
    assert!(
        line("SLACK_WEBHOOK_URL").contains("(set)")
            && line("SLACK_WEBHOOK_URL").contains("environment")
    );
    assert!(line("GITHUB_TOKEN").contains("(unset)"));
    assert!(line("ENABLE_AUTO_HEALING").contains("default"));
    assert!(!run.stdout.contains("supersecret") && !run.stdout.contains("verysecret"));
}

#[test]
fn on_failure_restarts_with_backoff_until_the_start_limit() {
    let slack = FakeSlack::start();
    let mut p = nested_project();
    p.env("SLACK_WEBHOOK_URL", &slack.webhook_url());
    p.file(
        "count.py",
        "open('runs', 'a').write('x')\nraise SystemExit(3)\n",
    );
    let run = p.run(&[
        "run",
        "--restart",
        "on-failure",
        "--",
        "python3",
        "count.py",
    ]);
    assert_eq!(run.code, Some(3), "{run:?}");
    assert_eq!(
        std::fs::read_to_string(p.path().join("runs")).unwrap(),
        "xxxxx"
    );
    // One incident (a crash without traceback), seen five times.
    let r = p.record();
    assert_eq!(r["error"]["type"], "Crash");
    assert_eq!(r["occurrences"], 5);
    assert_eq!(r["context"]["exit"]["code"], 3);
    let reqs = slack.wait_requests(2, T);
    let notice = reqs
        .iter()
        .map(|r| r.body.to_string())
        .find(|b| b.contains("stopped restarting"));
    assert!(notice.is_some(), "no start-limit notice: {reqs:#?}");
    assert!(run.stderr.contains("stopped restarting"), "{run:?}");
}

#[test]
fn restart_policies_never_and_always() {
    let p = Project::new();
    p.file(
        "count.py",
        "open('runs', 'a').write('x')\nraise SystemExit(4)\n",
    );
    let run = p.run(&["run", "--restart", "never", "--", "python3", "count.py"]);
    assert_eq!(run.code, Some(4), "{run:?}");
    assert_eq!(std::fs::read_to_string(p.path().join("runs")).unwrap(), "x");

    // always: clean exits are restarted too; failures still hit the start limit.
    let p = Project::new();
    p.file(
        "flaky.py",
        "import os\nn = os.path.getsize('runs') if os.path.exists('runs') else 0\nopen('runs', 'a').write('x')\nraise SystemExit(0 if n < 2 else 5)\n",
    );
    let run = p.run(&["run", "--restart", "always", "--", "python3", "flaky.py"]);
    assert_eq!(run.code, Some(5), "{run:?}");
    assert_eq!(
        std::fs::read_to_string(p.path().join("runs")).unwrap(),
        "xxxxxxx"
    );
}

#[test]
fn sigterm_is_passed_to_the_child_and_its_status_returned() {
    let p = Project::new();
    p.file(
        "serve.py",
        // The handler writes with os.write: a print() there could land inside the main
        // code's print('ready') and fail as a reentrant call on the buffered stdout.
        "import os, signal, time\ndef bye(*_):\n    os.write(1, b'got SIGTERM\\n')\n    os._exit(0)\nsignal.signal(signal.SIGTERM, bye)\nprint('ready', flush=True)\nwhile True:\n    time.sleep(0.05)\n",
    );
    let mut child = p.spawn(&["run", "--restart", "always", "--", "python3", "serve.py"]);
    let mut out = Stream::new(child.stdout.take().unwrap());
    let mut err = Stream::new(child.stderr.take().unwrap());
    out.wait_for("ready", T);
    kill(child.id(), libc::SIGTERM);
    err.wait_for("received SIGTERM", T);
    out.wait_for("got SIGTERM", T);
    let status = wait_with_timeout(&mut child, T);
    assert_eq!(status.code(), Some(0), "stopped on request, not restarted");
    assert!(p.records().is_empty());
}

#[test]
fn a_child_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let mut p = Project::new();
    p.env("HEAL_STOP_GRACE_S", "1");
    p.file(
        "stubborn.py",
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\nwhile True:\n    time.sleep(0.05)\n",
    );
    let mut child = p.spawn(&["run", "--", "python3", "stubborn.py"]);
    let mut out = Stream::new(child.stdout.take().unwrap());
    out.wait_for("ready", T);
    kill(child.id(), libc::SIGTERM);
    let status = wait_with_timeout(&mut child, T);
    assert_eq!(status.code(), Some(137), "128 + SIGKILL");
    // heal's own kill is not the program's error.
    assert!(p.records().is_empty(), "{:#?}", p.records());
}

#[test]
fn ctrl_c_passed_to_a_python_program_is_not_an_incident() {
    let p = Project::new();
    p.file(
        "serve.py",
        "import time
print('ready', flush=True)
while True:
    time.sleep(0.05)
",
    );
    let mut child = p.spawn(&["run", "--", "python3", "serve.py"]);
    let mut out = Stream::new(child.stdout.take().unwrap());
    let mut err = Stream::new(child.stderr.take().unwrap());
    out.wait_for("ready", T);
    kill(child.id(), libc::SIGINT);
    let status = wait_with_timeout(&mut child, T);
    // The program's KeyboardInterrupt still reaches the terminal, untouched.
    let printed = String::from_utf8_lossy(&err.rest(T)).into_owned();
    assert!(printed.contains("KeyboardInterrupt"), "{printed}");
    assert_eq!(status.code(), Some(130), "128 + SIGINT");
    assert!(p.records().is_empty(), "{:#?}", p.records());
}

#[test]
fn a_crash_without_traceback_is_an_incident_with_the_stderr_tail() {
    let p = Project::new();
    p.file(
        "die.py",
        "import os, sys\nsys.stderr.write('fatal: cannot reach the ads API\\n')\nsys.stderr.flush()\nos.kill(os.getpid(), 9)\n",
    );
    let run = p.run(&["run", "--", "python3", "die.py"]);
    assert_eq!(run.code, Some(137), "{run:?}");
    let r = p.record();
    assert_eq!(r["error"]["type"], "Crash");
    assert_eq!(r["context"]["exit"]["signal"], 9);
    assert!(
        r["error"]["traceback"]
            .as_str()
            .unwrap()
            .contains("cannot reach the ads API")
    );
}

#[test]
fn output_passes_through_byte_for_byte_even_when_not_utf8() {
    let p = Project::new();
    p.file(
        "bytes.py",
        "import sys\nsys.stdout.buffer.write(b'caf\\xe9 \\xff\\xfe ok\\n' + b'x' * 300000 + b'\\nend')\nsys.stderr.buffer.write(b'\\xff\\xfe not utf8\\n' + b'y' * 300000)\n",
    );
    let run = p.run(&["run", "--", "python3", "bytes.py"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let mut expected = b"caf\xe9 \xff\xfe ok\n".to_vec();
    expected.extend(std::iter::repeat_n(b'x', 300000));
    expected.extend(b"\nend");
    assert_eq!(run.stdout_bytes, expected);
    assert!(p.records().is_empty());
}

#[test]
fn web_api_mode_threads_stages_and_updates_the_first_message() {
    let slack = FakeSlack::start();
    let mut p = nested_project();
    p.env("SLACK_BOT_TOKEN", "xoxb-test-token");
    p.env("SLACK_CHANNEL", "C0INCIDENTS");
    p.env("SLACK_API_URL", &slack.api_url());
    let run = p.run(&["run", "--", "python3", "main.py"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    // The alert opens the thread; the crash updates the first message in place.
    let reqs = slack.wait_requests(2, T);
    assert!(reqs[0].path.ends_with("/chat.postMessage"), "{reqs:#?}");
    assert_eq!(reqs[0].body["channel"], "C0INCIDENTS");
    assert_eq!(
        reqs[0].headers.get("authorization").map(String::as_str),
        Some("Bearer xoxb-test-token")
    );
    let update = reqs
        .iter()
        .find(|r| r.path.ends_with("/chat.update"))
        .expect("an update");
    let r = p.record();
    assert_eq!(update.body["ts"], r["slack"]["ts"]);
    assert!(!r.to_string().contains("xoxb-test-token"));
}

/// heal's peak resident memory, read from /proc while it still runs.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn memory_stays_flat_under_a_flood_of_output() {
    let p = Project::new();
    // 64 MiB of stderr: short lines, tracebacks, and a 16 MiB line with no newline; then it
    // waits so the test can read heal's peak memory while heal is still alive.
    p.file(
        "flood.py",
        r#"import os, sys, time
err = sys.stderr.buffer
line = b"log line with some text in it, nothing to see here\n" * 1000
for _ in range(600):
    err.write(line)
tb = b'Traceback (most recent call last):\n  File "/x/app.py", line 3, in f\n    g()\nValueError: bad value 7\n'
for _ in range(2000):
    err.write(tb)
chunk = b"z" * (1 << 20)
for _ in range(16):
    err.write(chunk)
err.write(b"\n")
err.flush()
print("DONE", flush=True)
while not os.path.exists("release"):
    time.sleep(0.02)
"#,
    );
    let mut child = p.spawn(&["run", "--", "python3", "flood.py"]);
    let mut out = Stream::new(child.stdout.take().unwrap());
    let _err = Stream::new(child.stderr.take().unwrap());
    out.wait_for("DONE", Duration::from_secs(120));
    let peak = peak_rss_kib(child.id());
    std::fs::write(p.path().join("release"), "").unwrap();
    let status = wait_with_timeout(&mut child, T);
    assert_eq!(status.code(), Some(0));
    // Far below the 64 MiB written: output is streamed, not kept.
    assert!(peak < 48 * 1024, "heal's peak RSS was {peak} KiB");
}

#[test]
fn a_store_that_cannot_be_opened_degrades_to_pass_through_with_an_alert() {
    let slack = FakeSlack::start();
    let mut p = nested_project();
    p.env("SLACK_WEBHOOK_URL", &slack.webhook_url());
    // A regular file where the storage folder should be: it cannot be created.
    p.file("not-a-folder", "x");
    p.env("HEAL_STORAGE_DIR", "not-a-folder/storage");
    let run = p.run(&["run", "--", "python3", "main.py"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("agent starting"));
    assert!(run.stderr.contains("NameError"));
    assert!(run.stderr.contains("without records"), "{run:?}");
    let reqs = slack.wait_requests(1, T);
    assert!(
        reqs.iter()
            .any(|r| r.body.to_string().contains("cannot write its records")),
        "{reqs:#?}"
    );
}

#[test]
fn init_writes_a_commented_config_and_env_example_and_never_overwrites() {
    let p = Project::new();
    let out = p.run(&["init"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let toml = std::fs::read_to_string(p.path().join("heal.toml")).unwrap();
    for key in [
        "# mode = \"push\"",
        "[git]",
        "[instant]",
        "# policy = \"on-failure\"",
    ] {
        assert!(toml.contains(key), "heal.toml lacks {key}:\n{toml}");
    }
    let env = std::fs::read_to_string(p.path().join(".env.example")).unwrap();
    for var in [
        "ENABLE_AUTO_HEALING=",
        "ANTHROPIC_API_KEY=",
        "GITHUB_TOKEN=",
        "GITHUB_REPO=",
    ] {
        assert!(env.contains(var), ".env.example lacks {var}");
    }
    // The commented file is a valid configuration as it is.
    let doctor = p.run(&["doctor"]);
    assert_eq!(doctor.code, Some(0), "{doctor:?}");

    std::fs::write(p.path().join("heal.toml"), "# mine\n").unwrap();
    let again = p.run(&["init"]);
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(again.stderr.contains("already exists"), "{again:?}");
    assert_eq!(
        std::fs::read_to_string(p.path().join("heal.toml")).unwrap(),
        "# mine\n"
    );
}
