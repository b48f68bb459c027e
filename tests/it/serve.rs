//! `heal serve` driven over real HTTP on 127.0.0.1: the bodies sentry-sdk 2.75 sent, and
//! hostile ones. heal is started with `--listen 127.0.0.1:0`; the DSN it prints names the
//! port. The client is a plain `TcpStream` speaking HTTP/1.1 with `Connection: close`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::Project;
use crate::support::project::Stream;
use crate::support::sentry::*;
use crate::support::slack::FakeSlack;

#[test]
fn the_sdks_bodies_become_one_incident_with_its_locals_and_one_alert() {
    let slack = FakeSlack::start();
    let mut p = Project::new();
    p.env("SLACK_WEBHOOK_URL", &slack.webhook_url());
    // Recording and alerting only: healing's own messages are another test's.
    p.env("ENABLE_AUTO_HEALING", "false");
    let server = Server::start(&p);
    assert!(server.dsn.starts_with("http://"), "{}", server.dsn);
    assert_eq!(server.key.len(), 32, "{}", server.dsn);

    let gz = server.envelope(Some("gzip"), &fixture("uncaught.envelope.gz"));
    assert_eq!(gz.status, 200, "{gz:?}");
    assert_eq!(gz.json(), json!({ "id": UNCAUGHT_ID }));
    assert!(
        gz.header("content-type").unwrap().contains("json"),
        "{gz:?}"
    );

    let r = p.record();
    assert_eq!(r["occurrences"], 1);
    assert_eq!(r["error"]["type"], "ZeroDivisionError");
    assert_eq!(r["error"]["sdk"]["event_id"], UNCAUGHT_ID);
    assert_eq!(r["error"]["sdk"]["handled"], false);
    assert_eq!(r["context"]["tags"]["region"], "eu");
    let frames = r["error"]["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 3, "{frames:#?}");
    let innermost = &frames[2];
    assert_eq!(innermost["function"], "cost_per_click");
    assert_eq!(innermost["vars"]["clicks"], "0");
    assert_eq!(innermost["in_app"], true);
    // The user's email and address never reach the record.
    let text = r.to_string();
    assert!(!text.contains("ada@example.com"), "{text}");

    let alerts = slack.wait_requests(1, T);
    assert!(
        alerts[0].body.to_string().contains("ZeroDivisionError"),
        "{:?}",
        alerts[0].body
    );

    // The same envelope again: answered alike, counted once.
    let again = server.envelope(Some("gzip"), &fixture("uncaught.envelope.gz"));
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.json(), json!({ "id": UNCAUGHT_ID }));
    assert_eq!(stored(&p, &p.record())["occurrences"], 1);

    // The brotli body of the same program: the same error (its own event id, or the same).
    let br = server.envelope(Some("br"), &fixture("uncaught.envelope.br"));
    assert_eq!(br.status, 200, "{br:?}");
    let br_id = br.json()["id"].as_str().unwrap().to_string();
    let expected = if br_id == UNCAUGHT_ID { 1 } else { 2 };
    assert_eq!(stored(&p, &p.record())["occurrences"], expected);

    // The key in the query string, as browsers' SDKs send it; a chained, handled error.
    let path = format!(
        "/api/1/envelope/?sentry_key={}&sentry_version=7",
        server.key
    );
    let chained = post(
        &server.addr,
        &path,
        &[("Content-Encoding", "gzip")],
        &fixture("chained.envelope.gz"),
    );
    assert_eq!(chained.status, 200, "{chained:?}");
    assert_eq!(p.records().len(), 2);
    slack.wait_requests(2, T);

    let list = p.run(&["list"]);
    assert_eq!(list.code, Some(0), "{list:?}");
    assert!(list.stdout.contains("ZeroDivisionError"), "{list:?}");
    assert!(list.stdout.contains("KeyError"), "{list:?}");
    let log = server.stop();
    // Exactly one alert per incident, none for the repeats.
    assert_eq!(slack.requests().len(), 2, "{log}");
}

#[test]
fn hostile_requests_get_their_status_and_heal_stays_up() {
    let p = Project::new();
    let server = Server::start(&p);
    let body = event_envelope(&id(1));

    let missing = post(&server.addr, "/api/1/envelope/", &[], &body);
    assert_eq!(missing.status, 401, "{missing:?}");
    assert!(
        missing.body.contains("no sentry_key was given"),
        "{missing:?}"
    );
    let wrong = post(
        &server.addr,
        "/api/1/envelope/",
        &[("X-Sentry-Auth", "Sentry sentry_key=0123, sentry_version=7")],
        &body,
    );
    assert_eq!(wrong.status, 403, "{wrong:?}");
    assert!(
        wrong.body.contains("http://KEY@HOST:PORT/PROJECT"),
        "{wrong:?}"
    );
    assert!(!wrong.body.contains(&server.key), "{wrong:?}");

    let auth = format!("Sentry sentry_key={}", server.key);
    let other_project = post(
        &server.addr,
        "/api/7/envelope/",
        &[("X-Sentry-Auth", &auth)],
        &body,
    );
    assert_eq!(other_project.status, 404, "{other_project:?}");
    assert!(other_project.body.contains("/1"), "{other_project:?}");

    // A gzip body cut in half.
    let gz = fixture("uncaught.envelope.gz");
    let truncated = server.envelope(Some("gzip"), &gz[..gz.len() / 2]);
    assert_eq!(truncated.status, 400, "{truncated:?}");
    // An envelope cut inside its item: the length says more than the body holds.
    let cut = server.envelope(None, &body[..body.len() - 40]);
    assert_eq!(cut.status, 400, "{cut:?}");
    assert!(cut.body.contains("only"), "{cut:?}");
    let beyond = server.envelope(None, b"{}\n{\"type\":\"event\",\"length\":99999}\n{}\n");
    assert_eq!(beyond.status, 400, "{beyond:?}");
    assert!(beyond.body.contains("length 99999"), "{beyond:?}");

    // An unknown item type beside the event: skipped, the event recorded.
    let profile = br#"{"profile": "whatever heal does not read"}"#;
    let mixed = envelope_of(&id(2), &[("profile", profile), ("event", &event(&id(2)))]);
    let reply = server.envelope(None, &mixed);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), json!({ "id": id(2) }));
    assert_eq!(stored(&p, &p.record())["occurrences"], 1);

    // 30 MiB of zeros, 30 KiB on the wire.
    let bomb = gzip(&vec![0u8; 30 * 1024 * 1024]);
    assert!(bomb.len() < 100 * 1024, "{}", bomb.len());
    let reply = server.envelope(Some("gzip"), &bomb);
    assert_eq!(reply.status, 413, "{reply:?}");
    assert!(reply.body.contains("20 MiB"), "{reply:?}");

    // Invalid UTF-8 inside the event's JSON.
    let mut bad = event(&id(3));
    let at = bad.windows(5).position(|w| w == b"float").unwrap();
    bad[at] = 0xff;
    let reply = server.envelope(None, &envelope_of(&id(3), &[("event", &bad)]));
    assert_eq!(reply.status, 400, "{reply:?}");

    // JSON nested 10,000 deep, where the event's extra data goes.
    let deep = format!(
        "{{\"event_id\":\"{}\",\"extra\":{{\"x\":{}{}}}}}",
        id(4),
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let reply = server.envelope(None, &envelope_of(&id(4), &[("event", deep.as_bytes())]));
    assert_eq!(reply.status, 400, "{reply:?}");
    // The same through the legacy store route.
    let reply = post(
        &server.addr,
        "/api/1/store/",
        &[("X-Sentry-Auth", &auth)],
        deep.as_bytes(),
    );
    assert_eq!(reply.status, 400, "{reply:?}");

    // A message, not an exception: accepted, not recorded.
    let message = json!({ "event_id": id(5), "message": "hello", "level": "info" });
    let reply = post(
        &server.addr,
        "/api/1/store/",
        &[("X-Sentry-Auth", &auth)],
        message.to_string().as_bytes(),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), json!({ "id": id(5) }));

    // Still up, and the record is whole: a last good event counts.
    let reply = server.envelope(Some("gzip"), &gzip(&event_envelope(&id(6))));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(p.records().len(), 1);
    assert_eq!(stored(&p, &p.record())["occurrences"], 2);
    let list = p.run(&["list"]);
    assert_eq!(list.code, Some(0), "{list:?}");
    assert!(list.stdout.contains("ZeroDivisionError"), "{list:?}");
    server.stop();
}

#[test]
fn a_burst_of_one_error_is_limited_and_counted_as_accepted() {
    let p = Project::new();
    let server = Server::start(&p);
    let mut accepted = 0;
    let mut limited = None;
    for n in 0..1000 {
        let reply = server.envelope(None, &event_envelope(&id(100 + n)));
        match reply.status {
            200 => {
                assert!(limited.is_none(), "accepted after a 429: {reply:?}");
                accepted += 1;
            }
            429 => limited = Some(reply),
            _ => panic!("{reply:?}"),
        }
    }
    // The default budget of one error.
    assert_eq!(accepted, 100);
    let limited = limited.expect("no 429");
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{limited:?}");
    assert_eq!(
        limited.header("x-sentry-rate-limits"),
        Some(format!("{retry}:error:organization").as_str()),
        "{limited:?}"
    );
    assert!(
        limited.body.contains("serve.events_per_fingerprint_hour"),
        "{limited:?}"
    );
    assert_eq!(stored(&p, &p.record())["occurrences"], accepted);

    // Another error still gets through.
    let other = server.envelope(Some("gzip"), &fixture("chained.envelope.gz"));
    assert_eq!(other.status, 200, "{other:?}");
    assert_eq!(p.records().len(), 2);
    server.stop();
    // The exports a burst leaves behind the database are up to date once heal has stopped.
    let burst = p
        .records()
        .into_iter()
        .find(|r| r["error"]["type"] == "ZeroDivisionError")
        .unwrap();
    assert_eq!(burst["occurrences"], accepted, "{burst:#}");
}

#[test]
fn listening_beyond_loopback_needs_a_configured_key() {
    let mut p = Project::new();
    let run = p.run(&["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("not a loopback address"), "{run:?}");
    assert!(run.stderr.contains("serve.key"), "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");

    // With a key, it listens, and the DSN carries that key.
    p.env("HEAL_SERVE_KEY", "a-long-configured-project-key");
    let mut heal = p.spawn(&["serve", "--listen", "0.0.0.0:0"]);
    let mut out = Stream::new(heal.stdout.take().unwrap());
    let mut log = Stream::new(heal.stderr.take().unwrap());
    out.wait_for_or_show("http://a-long-configured-project-key@0.0.0.0:", T, &mut log);
    assert!(!p.storage().join("serve.key").exists());
}

#[test]
fn the_generated_key_is_kept_private_and_reused() {
    use std::os::unix::fs::PermissionsExt as _;
    let p = Project::new();
    let first = Server::start(&p);
    let key = first.key.clone();
    first.stop();
    let mode = std::fs::metadata(p.storage().join("serve.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let second = Server::start(&p);
    assert_eq!(second.key, key);
    // A program that prints its DSN in an error (an untrusted message, a local) must not put
    // the generated key, which no setting holds, into the record.
    let mut event: Value = serde_json::from_slice(&fixture("crash.event.json")).unwrap();
    event["event_id"] = json!(id(7));
    let values = event["exception"]["values"].as_array_mut().unwrap();
    let last = values.last_mut().unwrap();
    last["value"] = json!(format!("cannot report to {}", second.dsn));
    let frames = last["stacktrace"]["frames"].as_array_mut().unwrap();
    frames.last_mut().unwrap()["vars"]["endpoint"] = json!(second.dsn.clone());
    let body = envelope_of(&id(7), &[("event", &serde_json::to_vec(&event).unwrap())]);
    let reply = second.envelope(None, &body);
    assert_eq!(reply.status, 200, "{reply:?}");
    second.stop();
    let records = p.records();
    assert_eq!(records.len(), 1);
    let text = records[0].to_string();
    assert!(text.contains("cannot report to"), "{text}");
    assert!(
        !text.contains(&key),
        "the generated key is in the record: {text}"
    );
}

#[test]
fn a_store_failure_is_a_503_and_the_event_counts_when_sent_again() {
    let p = Project::new();
    let server = Server::start(&p);
    // The exports' folder replaced by a file: every write of a record fails.
    let errors = p.storage().join("errors");
    std::fs::remove_dir_all(&errors).unwrap();
    std::fs::write(&errors, "not a folder").unwrap();
    let body = event_envelope(&id(1));
    let reply = server.envelope(None, &body);
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(
        reply.body.contains("heal could not record the event"),
        "{reply:?}"
    );

    // Once the store works again, the same event is recorded: the refused one was not seen.
    std::fs::remove_file(&errors).unwrap();
    std::fs::create_dir(&errors).unwrap();
    let reply = server.envelope(None, &body);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(stored(&p, &p.record())["occurrences"], 1);
    server.stop();
}

/// The python of the test venv when it has the real sentry-sdk (`.ci/run` installs it); `None`
/// with a message saying how to get it, unless `HEAL_TEST_SENTRY_SDK=required` (set by
/// `.ci/run`), where a missing SDK fails the test.
fn sdk_python() -> Option<String> {
    venv_python("sentry_sdk, brotli")
}

/// A program that reports through the real SDK: a handled error sent with
/// `capture_exception()`, then an uncaught one in a nested module (the SDK's excepthook sends
/// it, and flushes at exit). `NO_BROTLI=1` hides the brotli module, so the SDK sends gzip.
const SDK_APP: &str = r#"import os
import sys

if os.environ.get("NO_BROTLI"):
    sys.modules["brotli"] = None

import sentry_sdk

from shop import report

sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], release="shop@1.2.0")
sentry_sdk.set_tag("region", "eu")
# What the SDK chose to compress with (a private attribute of the pinned version).
print("compression:", sentry_sdk.get_client().transport._compression_algo, flush=True)

try:
    report.price_of({"sku": "a1"})
except KeyError as e:
    sentry_sdk.capture_exception(e)

report.main()
"#;

const SDK_REPORT: &str = r#"def price_of(item):
    return item["price"]


def cost_per_click(clicks, spend):
    return spend / clicks


def main():
    clicks = 0
    spend = 10.0
    print(cost_per_click(clicks, spend))
"#;

#[test]
fn the_real_sentry_sdk_reports_to_heal_serve_with_brotli_and_gzip() {
    let Some(python) = sdk_python() else { return };
    let slack = FakeSlack::start();
    let mut p = Project::new();
    p.env("SLACK_WEBHOOK_URL", &slack.webhook_url());
    p.env("ENABLE_AUTO_HEALING", "false");
    p.file("app.py", SDK_APP)
        .file("shop/__init__.py", "")
        .file("shop/report.py", SDK_REPORT);
    let server = Server::start(&p);

    for (no_brotli, compression) in [("", "br"), ("1", "gzip")] {
        let out = std::process::Command::new(&python)
            .arg("app.py")
            .current_dir(p.path())
            .env_clear()
            .env("HOME", p.path())
            .env("SENTRY_DSN", &server.dsn)
            .env("NO_BROTLI", no_brotli)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("ZeroDivisionError"), "{stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("compression: {compression}")),
            "{stdout}"
        );
    }

    let records = p.records();
    assert_eq!(records.len(), 2, "{records:#?}");
    let by_type = |t: &str| {
        records
            .iter()
            .find(|r| r["error"]["type"] == t)
            .unwrap_or_else(|| panic!("no {t}: {records:#?}"))
    };
    let crash = by_type("ZeroDivisionError");
    let handled = by_type("KeyError");
    // Each program run sent each error once: brotli, then gzip.
    assert_eq!(stored(&p, crash)["occurrences"], 2, "{crash:#}");
    assert_eq!(stored(&p, handled)["occurrences"], 2, "{handled:#}");
    assert_eq!(crash["error"]["sdk"]["handled"], false);
    assert_eq!(handled["error"]["sdk"]["handled"], true);
    // Located in the project, as a printed traceback would be.
    assert_eq!(crash["context"]["file"], "shop/report.py", "{crash:#}");
    assert_eq!(crash["context"]["function"], "cost_per_click");
    assert_eq!(crash["context"]["tags"]["region"], "eu");
    let frames = crash["error"]["frames"].as_array().unwrap();
    let innermost = frames.last().unwrap();
    assert_eq!(innermost["vars"]["clicks"], "0", "{innermost:#}");
    assert_eq!(innermost["in_app"], true);
    assert_eq!(handled["context"]["function"], "price_of", "{handled:#}");
    // One alert per incident.
    slack.wait_requests(2, T);
    server.stop();
    assert_eq!(slack.requests().len(), 2);
}

#[test]
fn serve_help_names_the_dsn_the_key_and_the_budgets() {
    let run = Project::new().run(&["serve", "--help"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let text = run.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "report through a Sentry SDK",
        "http://KEY@127.0.0.1:8787/1",
        "serve.key in heal.toml (HEAL_SERVE_KEY)",
        "serve.events_per_fingerprint_hour",
        "[default: 127.0.0.1:8787]",
        "Anything but loopback needs serve.key",
        "serve.rerun_command (like `python3 main.py --once`)",
        "serve.restart_command",
    ] {
        assert!(text.contains(needle), "`{needle}` missing:\n{}", run.stdout);
    }
}

/// A program that calls `sentry_sdk.init()` with no DSN: the SDK reads `SENTRY_DSN`, which
/// `heal run` gives it.
const RUN_APP: &str = r#"import os

import sentry_sdk

from shop import report

sentry_sdk.init()
sentry_sdk.set_tag("region", "eu")
print("dsn:", os.environ.get("SENTRY_DSN"), flush=True)

# An error whose message holds the DSN, key included.
try:
    raise RuntimeError("cannot reach " + os.environ.get("SENTRY_DSN", ""))
except RuntimeError as e:
    sentry_sdk.capture_exception(e)

try:
    report.price_of({"sku": "a1"})
except KeyError as e:
    sentry_sdk.capture_exception(e)

report.main()
"#;

/// Under `heal run`, a program using the real SDK reports through the `SENTRY_DSN` heal gives
/// it, with no change to its code: the crash it both prints and sends is one occurrence, with
/// the locals only the SDK knew; the handled error, which it only sends, is an incident too.
#[test]
fn heal_run_gives_the_program_a_dsn_and_counts_a_printed_and_sent_crash_once() {
    let Some(python) = sdk_python() else { return };
    let mut p = Project::new();
    p.env("HEAL_PROVIDER", "none");
    p.env("HEAL_RESTART", "never");
    p.env("HEAL_INSTANT", "false");
    p.file("app.py", RUN_APP)
        .file("shop/__init__.py", "")
        .file("shop/report.py", SDK_REPORT);
    let run = p.run(&["run", "--", &python, "app.py"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let records = p.records();
    assert_eq!(records.len(), 3, "{records:#?} {run:?}");
    // The run's key, which the program printed, is redacted in what it reported.
    let dsn = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("dsn: "))
        .unwrap_or_else(|| panic!("{run:?}"));
    let key = dsn
        .strip_prefix("http://")
        .and_then(|r| r.split_once('@'))
        .map(|(k, _)| k)
        .unwrap_or_else(|| panic!("{dsn}"));
    let reached = records
        .iter()
        .find(|r| r["error"]["type"] == "RuntimeError")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert!(
        reached["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("cannot reach http://"),
        "{reached:#}"
    );
    for r in &records {
        assert!(!r.to_string().contains(key), "the run's key is in {r:#}");
    }
    let by_type = |t: &str| {
        records
            .iter()
            .find(|r| r["error"]["type"] == t)
            .unwrap_or_else(|| panic!("no {t}: {records:#?}"))
    };
    let crash = stored(&p, by_type("ZeroDivisionError"));
    assert_eq!(crash["occurrences"], 1, "{crash:#}");
    assert_eq!(crash["context"]["file"], "shop/report.py", "{crash:#}");
    let innermost = crash["error"]["frames"].as_array().unwrap().last().unwrap();
    assert_eq!(innermost["vars"]["clicks"], "0", "{crash:#}");
    assert_eq!(crash["error"]["sdk"]["handled"], false, "{crash:#}");
    let handled = stored(&p, by_type("KeyError"));
    assert_eq!(handled["occurrences"], 1, "{handled:#}");
    assert_eq!(handled["error"]["sdk"]["handled"], true, "{handled:#}");
    assert_eq!(handled["context"]["tags"]["region"], "eu", "{handled:#}");

    // The program's own SENTRY_DSN is left alone: nothing reaches heal's ingest.
    let q = {
        let mut q = Project::new();
        q.env("HEAL_PROVIDER", "none");
        q.env("HEAL_RESTART", "never");
        q.env("HEAL_INSTANT", "false");
        q.env("SENTRY_DSN", "http://0123456789abcdef@127.0.0.1:9/1");
        q
    };
    q.file("app.py", RUN_APP)
        .file("shop/__init__.py", "")
        .file("shop/report.py", SDK_REPORT);
    let run = q.run(&["run", "--", &python, "app.py"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let records = q.records();
    assert_eq!(records.len(), 1, "only the printed crash: {records:#?}");
    assert!(records[0]["error"].get("sdk").is_none(), "{records:#?}");
}

/// The app `heal serve` heals: its DSN comes from the environment, so the proof's runs of
/// `serve.rerun_command` (given none, and no network in the sandbox) send nothing.
const HEALED_APP: &str = r#"import os

import sentry_sdk

from shop import report

sentry_sdk.init(dsn=os.environ.get("SENTRY_DSN"), release="shop@1.2.0")
sentry_sdk.set_tag("client", "avego")

try:
    report.price_of({"sku": "a1"})
except KeyError as e:
    sentry_sdk.capture_exception(e)

report.main()
"#;

const FIXED_REPORT: &str = r#"def price_of(item):
    return item["price"]


def cost_per_click(clicks, spend):
    if clicks == 0:
        return 0.0
    return spend / clicks


def main():
    clicks = 0
    spend = 10.0
    print(cost_per_click(clicks, spend))
"#;

/// Issue 16: the crash the real SDK reported to `heal serve` is healed. The fix is proved by
/// re-running `serve.rerun_command` in the sandboxed copy, applied, committed, and
/// `serve.restart_command` runs after it, its output kept (redacted) in the record. The handled
/// error gets its alert; nothing re-running the program shows it, so no fix is applied for it.
#[test]
fn a_crash_the_sdk_reported_is_proved_by_the_rerun_command_applied_committed_and_restarted() {
    use crate::support::git::git;
    use crate::support::openai::{FakeOpenAI, Reply};
    let Some(python) = sdk_python() else { return };
    let slack = FakeSlack::start();
    let model = FakeOpenAI::start();
    // Every request gets the whole corrected report.py, whichever incident it is for.
    model.respond_always(Reply::content(&format!(
        "`cost_per_click` divides by `clicks`, which is 0.\n\n```python\n{FIXED_REPORT}```\n"
    )));
    let mut p = Project::new();
    p.env("SLACK_WEBHOOK_URL", &slack.webhook_url());
    p.env("HEAL_PROVIDER", "openai");
    p.env("OPENAI_BASE_URL", &model.base_url());
    p.env("HEAL_MODEL", "qwen2.5-coder-1.5b");
    p.env("HEAL_LLM_EDIT_FORM", "file");
    p.env("HEAL_LLM_CANDIDATES", "1");
    p.env("HEAL_INSTANT", "false");
    p.env("HEAL_GIT_MODE", "commit");
    p.env("HEAL_SERVE_RERUN_COMMAND", &format!("{python} app.py"));
    // The restart prints a secret of heal's environment: the record must not keep it.
    p.env(
        "HEAL_SERVE_RESTART_COMMAND",
        "echo \"restarting the shop (hook $SLACK_WEBHOOK_URL)\"",
    );
    p.file(".gitignore", "storage/\n")
        .file("app.py", HEALED_APP)
        .file("shop/__init__.py", "")
        .file("shop/report.py", SDK_REPORT);
    git(p.path(), &["init", "-q", "-b", "main"]);
    git(p.path(), &["add", "."]);
    git(p.path(), &["commit", "-q", "-m", "initial"]);
    let mut server = Server::start(&p);

    let out = std::process::Command::new(&python)
        .arg("app.py")
        .current_dir(p.path())
        .env_clear()
        .env("HOME", p.path())
        .env("SENTRY_DSN", &server.dsn)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    server
        .log
        .wait_for("restarted the program", Duration::from_secs(120));
    let log = server.stop();

    let live = std::fs::read_to_string(p.path().join("shop/report.py")).unwrap();
    assert_eq!(live, FIXED_REPORT, "{log}");
    let records = p.records();
    assert_eq!(records.len(), 2, "{records:#?}");
    let by_type = |t: &str| {
        records
            .iter()
            .find(|r| r["error"]["type"] == t)
            .unwrap_or_else(|| panic!("no {t}: {records:#?}"))
    };
    let crash = stored(&p, by_type("ZeroDivisionError"));
    assert_eq!(crash["status"], "committed", "{crash:#}\n{log}");
    // Proved by re-running serve.rerun_command in the copy, against the program as it was.
    let steps = crash["fix"]["validation"]
        .as_array()
        .unwrap_or_else(|| panic!("{crash:#}"));
    let rerun = steps
        .iter()
        .find(|s| s["step"] == "rerun")
        .unwrap_or_else(|| panic!("no rerun step: {crash:#}"));
    assert!(
        rerun["command"].as_str().unwrap().ends_with("app.py"),
        "{rerun:#}"
    );
    assert_eq!(rerun["passed"], true, "{rerun:#}");
    assert!(steps.iter().all(|s| s["passed"] == true), "{crash:#}");
    // Committed in the seed's form.
    let message = git(p.path(), &["log", "-1", "--format=%B"]);
    assert!(
        message.starts_with(&format!("🤖 Auto-fix: {}", crash["id"].as_str().unwrap()))
            && message.contains("Error: ZeroDivisionError"),
        "{message}"
    );
    assert_eq!(
        git(p.path(), &["show", "HEAD:shop/report.py"]).trim_end(),
        FIXED_REPORT.trim_end()
    );
    // The restart ran after the fix; its output is kept, the webhook's URL redacted.
    let restart = &crash["result"]["restart"];
    assert_eq!(restart["exit_code"], 0, "{crash:#}");
    let tail = restart["output_tail"].as_str().unwrap();
    assert!(tail.contains("restarting the shop"), "{restart:#}");
    assert!(!tail.contains("fake-webhook-secret"), "{restart:#}");
    // The model was shown the crash's locals, fenced as data.
    let prompt = model
        .requests()
        .iter()
        .map(|r| {
            r.messages()[1]["content"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .find(|u| u.contains("ZeroDivisionError"))
        .unwrap_or_else(|| panic!("no request for the crash"));
    assert!(
        prompt.contains("LOCALS") && prompt.contains("clicks"),
        "{prompt}"
    );

    // The handled error was alerted; no fix was applied for it.
    let handled = stored(&p, by_type("KeyError"));
    assert_eq!(handled["error"]["sdk"]["handled"], true, "{handled:#}");
    assert!(
        ["rejected", "failed", "skipped"].contains(&handled["status"].as_str().unwrap()),
        "{handled:#}"
    );
    // The rerun does not show an error the program caught: nothing proves a fix of it.
    assert!(
        handled["reason"]
            .as_str()
            .unwrap()
            .contains("did not show the error"),
        "{handled:#}"
    );
    let texts: Vec<String> = slack
        .requests()
        .iter()
        .map(|r| r.body.to_string())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("KeyError")),
        "no alert for the handled error: {texts:#?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("restarted with")),
        "no restart report: {texts:#?}"
    );
}

/// Without `serve.rerun_command` and `verify.commands`, nothing can prove a fix: the incident is
/// recorded and alerted, no model is asked, and the record says why and what to set.
#[test]
fn without_a_rerun_command_or_checks_an_sdk_error_is_not_fixed_and_the_record_says_why() {
    use crate::support::openai::FakeOpenAI;
    let model = FakeOpenAI::start();
    let mut p = Project::new();
    p.env("HEAL_PROVIDER", "openai");
    p.env("OPENAI_BASE_URL", &model.base_url());
    p.env("HEAL_INSTANT", "false");
    let server = Server::start(&p);
    let reply = server.envelope(Some("gzip"), &fixture("uncaught.envelope.gz"));
    assert_eq!(reply.status, 200, "{reply:?}");
    let r = {
        let deadline = std::time::Instant::now() + T;
        loop {
            let r = p.record();
            if r["status"] != "detected" && r["status"] != "healing" {
                break r;
            }
            assert!(std::time::Instant::now() < deadline, "{r:#}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    server.stop();
    assert_eq!(r["status"], "skipped", "{r:#}");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("serve.rerun_command") && reason.contains("verify.commands"),
        "{reason}"
    );
    assert!(model.requests().is_empty(), "no model call without a proof");
}

/// Under `heal run`, the crash the program prints and its SDK sends is healed with the locals
/// only the SDK knew in the prompt, whichever of the two halves came first.
#[test]
fn heal_run_shows_the_model_the_locals_the_sdk_sent_with_a_printed_crash() {
    use crate::support::openai::{FakeOpenAI, Reply};
    let Some(python) = sdk_python() else { return };
    let model = FakeOpenAI::start();
    model.respond_always(Reply::content(&format!(
        "`cost_per_click` divides by `clicks`, which is 0.\n\n```python\n{FIXED_REPORT}```\n"
    )));
    let mut p = Project::new();
    p.env("HEAL_PROVIDER", "openai");
    p.env("OPENAI_BASE_URL", &model.base_url());
    p.env("HEAL_MODEL", "qwen2.5-coder-1.5b");
    p.env("HEAL_LLM_EDIT_FORM", "file");
    p.env("HEAL_LLM_CANDIDATES", "1");
    p.env("HEAL_INSTANT", "false");
    p.env("HEAL_RESTART", "never");
    p.file(
        "app.py",
        "import sentry_sdk\n\nfrom shop import report\n\nsentry_sdk.init()\nreport.main()\n",
    )
    .file("shop/__init__.py", "")
    .file("shop/report.py", SDK_REPORT);
    let run = p.run(&["run", "--", &python, "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#} {run:?}");
    assert_eq!(r["error"]["sdk"]["handled"], false, "{r:#}");
    let user = model.requests()[0].messages()[1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(user.contains("LOCALS"), "{user}");
    assert!(user.contains("clicks = 0"), "{user}");
}
