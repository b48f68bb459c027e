//! The load test: 100,000 logged tracebacks of 50 different kinds from the supervised program,
//! as fast as python prints them. Ignored in a plain `cargo test` (about a minute on 2 cores,
//! and it needs the machine to itself); `.ci/run` runs it after the other tests.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::Project;
use crate::support::anthropic::{FakeAnthropic, Reply};

const N: usize = 100_000;
const KINDS: usize = 50;

#[test]
#[ignore = "a minute of CPU: run by .ci/run on its own"]
fn a_storm_of_100k_tracebacks_stays_bounded_and_loses_nothing() {
    let model = FakeAnthropic::start();
    model.respond_always(Reply::tool_use(json!({
        "fixable": false, "reason": "load test", "error_category": "logic",
        "root_cause": "n/a", "affected_file": "kinds/k0.py", "confidence": "high",
        "explanation": "n/a", "changes_summary": "n/a", "edits": []
    })));
    let mut p = Project::new();
    for i in 0..KINDS {
        p.file(
            &format!("kinds/k{i}.py"),
            &format!("def handle(n):\n    raise ValueError(f\"kind {i} failed on item {{n}}\")\n"),
        );
    }
    p.file(
        "storm.py",
        &format!(
            "import importlib, traceback\nfns = [importlib.import_module(f'kinds.k{{i}}').handle for i in range({KINDS})]\nfor n in range({N}):\n    try:\n        fns[n % {KINDS}](n)\n    except ValueError:\n        traceback.print_exc()\nprint('storm over', flush=True)\n"
        ),
    );
    p.env("ANTHROPIC_API_KEY", "sk-ant-api03-test-key-0123456789");
    p.env("ANTHROPIC_BASE_URL", &model.base_url());
    p.env("MAX_CLAUDE_CALLS_PER_HOUR", "10");
    let started = Instant::now();
    let mut child = p
        .heal(&["run", "--", "python3", "storm.py"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Output must pass through whole: every traceback's last line is counted.
    let stderr = child.stderr.take().unwrap();
    let counter = std::thread::spawn(move || {
        BufReader::new(stderr)
            .split(b'\n')
            .filter(|l| {
                l.as_ref()
                    .is_ok_and(|l| l.starts_with(b"ValueError: kind "))
            })
            .count()
    });
    let stdout = child.stdout.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    // heal's peak memory, read while it runs (VmHWM only grows).
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(status_text) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(kib) = status_text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak_kib = peak_kib.max(kib);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "the storm never ended"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let passed = counter.join().unwrap();
    let stdout = out.join().unwrap();
    eprintln!(
        "load: {N} tracebacks of {KINDS} kinds in {:.1} s under heal; heal's peak RSS {:.1} MiB",
        started.elapsed().as_secs_f64(),
        peak_kib as f64 / 1024.0
    );
    assert_eq!(status.code(), Some(0));
    assert!(stdout.contains("storm over"));
    assert_eq!(passed, N, "output was lost");
    let records = p.records();
    assert_eq!(records.len(), KINDS);
    let total: u64 = records
        .iter()
        .map(|r| r["occurrences"].as_u64().unwrap())
        .sum();
    assert_eq!(total, N as u64, "occurrences were lost");
    assert!(model.requests().len() <= 10, "the hourly limit was passed");
    assert!(
        peak_kib < 128 * 1024,
        "heal's memory grew to {peak_kib} KiB"
    );
}
