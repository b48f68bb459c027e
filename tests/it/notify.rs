//! `heal::notify` against a fake Slack: what the messages say, how failures are retried and
//! reported, and that sending never holds up the caller.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use heal::config::{RetryPolicy, SlackTarget};
use heal::notify::{Delivery, Notifier, QUEUE_CAPACITY, QUEUE_FULL};
use heal::record::model::{Context, ErrorInfo, ExitInfo, Record, SlackThread, Status};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::support::slack::{self, FakeSlack, POST_MESSAGE_PATH, Reply, UPDATE_PATH, WEBHOOK_PATH};

const T: Duration = Duration::from_secs(20);
const TOKEN: &str = "xoxb-test-token";

/// A record like the seed's example: an ImportError in engine/decision_engine.py.
fn record(id: &str) -> Record {
    Record {
        id: id.to_string(),
        status: Status::Detected,
        reason: None,
        fingerprint: "f00dfeedc0ffee0123456789".into(),
        occurrences: 1,
        created_at: "2026-01-28T14:30:22Z".into(),
        last_seen_at: "2026-01-28T14:30:22Z".into(),
        error: ErrorInfo {
            exc_type: "ImportError".into(),
            message: "No module named 'non_existent_module'".into(),
            traceback: "Traceback (most recent call last):\n  File \"engine/decision_engine.py\", line 15, in run_publish_cycle\n    from non_existent_module import something\nImportError: No module named 'non_existent_module'\n".into(),
            frames: vec![],
            related: vec![],
            origin: None,
            stream: None,
            sdk: None,
        },
        context: Context {
            function: Some("run_publish_cycle".into()),
            module: Some("engine.decision_engine".into()),
            file: Some("engine/decision_engine.py".into()),
            line: Some(15),
            command: vec!["python3".into(), "main.py".into()],
            tags: BTreeMap::from([("client".into(), "avego".into())]),
            exit: None,
            found_in_proof: None,
            test: None,
        },
        notifications: vec![],
        slack: None,
        analysis: None,
        fix: None,
        result: None,
        timings_ms: BTreeMap::new(),
        llm: None,
        heal_failures: 0,
        hosts: Vec::new(),
        followed: Vec::new(),
    }
}

/// Tiny backoffs, so retries cost milliseconds.
fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(2),
        max_backoff: Duration::from_millis(20),
        request_timeout: Duration::from_secs(10),
    }
}

fn webhook(slack: &FakeSlack) -> SlackTarget {
    SlackTarget::Webhook {
        url: slack.webhook_url(),
    }
}

fn web_api(slack: &FakeSlack) -> SlackTarget {
    SlackTarget::WebApi {
        token: TOKEN.into(),
        channel: "#incidents".into(),
        api_url: slack.api_url(),
    }
}

fn start(target: SlackTarget, retry: RetryPolicy) -> (Notifier, mpsc::UnboundedReceiver<Delivery>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        Notifier::start(target, retry, tx, heal::redact::Redactor::default()),
        rx,
    )
}

/// The next `n` deliveries, waiting for each.
async fn deliveries(rx: &mut mpsc::UnboundedReceiver<Delivery>, n: usize) -> Vec<Delivery> {
    let mut out = Vec::new();
    for _ in 0..n {
        match tokio::time::timeout(T, rx.recv()).await {
            Ok(Some(d)) => out.push(d),
            _ => panic!("{n} deliveries expected, got {}: {out:#?}", out.len()),
        }
    }
    out
}

/// Deliveries already reported, without waiting.
fn reported(rx: &mut mpsc::UnboundedReceiver<Delivery>) -> Vec<Delivery> {
    let mut out = Vec::new();
    while let Ok(d) = rx.try_recv() {
        out.push(d);
    }
    out
}

/// Every text of a Block Kit message, checking each block's shape on the way.
fn block_texts(blocks: &Value) -> Vec<String> {
    let blocks = blocks.as_array().expect("blocks is an array");
    assert!(
        !blocks.is_empty() && blocks.len() <= 50,
        "{} blocks",
        blocks.len()
    );
    let mut texts = Vec::new();
    for block in blocks {
        let text_of = |t: &Value| {
            let kind = t["type"].as_str().expect("a text object has a type");
            assert!(kind == "plain_text" || kind == "mrkdwn", "{t}");
            t["text"]
                .as_str()
                .expect("a text object has text")
                .to_string()
        };
        match block["type"].as_str() {
            Some("header") => {
                assert_eq!(block["text"]["type"], "plain_text", "{block}");
                let t = text_of(&block["text"]);
                assert!(t.chars().count() <= 150);
                texts.push(t);
            }
            Some("section") => {
                let t = text_of(&block["text"]);
                assert!(
                    t.encode_utf16().count() <= 3000,
                    "section of {} chars",
                    t.len()
                );
                texts.push(t);
            }
            Some("context") => {
                let elements = block["elements"].as_array().expect("context elements");
                assert!(!elements.is_empty() && elements.len() <= 10);
                texts.extend(elements.iter().map(text_of));
            }
            Some("divider") => {}
            other => panic!("unexpected block type {other:?}: {block}"),
        }
    }
    texts
}

fn is_rfc3339_utc(s: &str) -> bool {
    s.len() == 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T'
}

#[tokio::test]
async fn webhook_alert_has_the_seed_content_in_valid_blocks() {
    let slack = FakeSlack::start();
    let (notifier, mut rx) = start(webhook(&slack), policy(3));
    let mut r = record("err_20260128_143022");
    // A long traceback: only its end fits in a section, and the end is what matters.
    let mut tb = String::from("Traceback (most recent call last):\n");
    for i in 0..400 {
        tb.push_str(&format!(
            "  File \"engine/step{i}.py\", line {i}, in step{i}\n    step{}()\n",
            i + 1
        ));
    }
    tb.push_str("  File \"engine/decision_engine.py\", line 15, in run_publish_cycle\n    from non_existent_module import something\nImportError: No module named 'non_existent_module'\n");
    r.error.traceback = tb;
    // A message longer than one section, shown in full.
    r.error.message = format!(
        "No module named 'non_existent_module' {} <end of message>",
        "x".repeat(4000)
    );
    notifier.alert(&r);

    let reqs = slack.wait_requests_async(1, T).await;
    let req = &reqs[0];
    assert_eq!(req.path, WEBHOOK_PATH);
    assert_eq!(req.method, "POST");
    let text = req.body["text"].as_str().unwrap();
    assert!(
        text.starts_with("🚨 ERROR DETECTED - err_20260128_143022"),
        "{text}"
    );
    assert!(text.encode_utf16().count() <= 3000);
    let texts = block_texts(&req.body["blocks"]);
    let all = texts.join("\n");
    for needle in [
        "🚨 ERROR DETECTED - err_20260128_143022",
        "ImportError",
        "• Function: run_publish_cycle",
        "• Module: engine.decision_engine",
        "• File: engine/decision_engine.py:15",
        "• Client: avego",
        "python3 main.py",
        "ImportError: No module named 'non_existent_module'\n```",
        "lines trimmed)",
    ] {
        assert!(all.contains(needle), "{needle} missing from:\n{all}");
    }
    // The full message, escaped, split across consecutive sections.
    let full = format!(
        "*Message:* No module named 'non_existent_module' {} &lt;end of message&gt;",
        "x".repeat(4000)
    );
    assert!(texts.concat().contains(&full));
    assert!(
        !all.contains("Traceback (most recent call last)"),
        "the start was trimmed"
    );

    let d = deliveries(&mut rx, 1).await.remove(0);
    assert_eq!(d.incident_id.as_deref(), Some("err_20260128_143022"));
    assert!(d.attempt.ok, "{d:?}");
    assert_eq!(d.attempt.attempt, 1);
    assert_eq!(d.attempt.channel, "slack_webhook");
    assert_eq!(d.attempt.message, "alert");
    assert_eq!(d.attempt.http_status, Some(200));
    assert!(d.attempt.error.is_none());
    assert!(is_rfc3339_utc(&d.attempt.at), "{}", d.attempt.at);
    assert!(d.thread.is_none(), "a webhook opens no thread");
}

#[tokio::test]
async fn a_crash_says_so_and_a_skipped_incident_says_why() {
    let slack = FakeSlack::start();
    let (notifier, _rx) = start(webhook(&slack), policy(1));
    let mut r = record("err_20260128_143023");
    r.status = Status::Skipped;
    r.reason = Some("auto-healing is disabled (ENABLE_AUTO_HEALING=false)".into());
    r.context.exit = Some(ExitInfo {
        code: Some(1),
        signal: None,
    });
    notifier.alert(&r);
    let reqs = slack.wait_requests_async(1, T).await;
    let all = block_texts(&reqs[0].body["blocks"]).join("\n");
    assert!(all.contains("crashed with exit code 1"), "{all}");
    assert!(
        all.contains("Auto-healing is disabled (ENABLE_AUTO_HEALING=false)"),
        "{all}"
    );
}

#[tokio::test]
async fn server_errors_are_retried_until_slack_takes_the_message() {
    let slack = FakeSlack::start();
    slack.script(
        WEBHOOK_PATH,
        [Reply::new(500, "rollup_error"), Reply::new(500, "")],
    );
    let (notifier, mut rx) = start(webhook(&slack), policy(5));
    notifier.alert(&record("err_1"));
    let ds = deliveries(&mut rx, 3).await;
    let summary: Vec<_> = ds
        .iter()
        .map(|d| (d.attempt.attempt, d.attempt.ok, d.attempt.http_status))
        .collect();
    assert_eq!(
        summary,
        [
            (1, false, Some(500)),
            (2, false, Some(500)),
            (3, true, Some(200))
        ]
    );
    assert_eq!(
        ds[0].attempt.error.as_deref(),
        Some("slack answered http 500: rollup_error")
    );
    notifier.drain(T).await;
    assert_eq!(slack.requests().len(), 3);
    assert!(reported(&mut rx).is_empty());
}

#[tokio::test]
async fn attempts_are_bounded() {
    let slack = FakeSlack::start();
    slack.respond_always(503, "unavailable");
    let (notifier, mut rx) = start(webhook(&slack), policy(3));
    notifier.alert(&record("err_1"));
    notifier.drain(T).await;
    let ds = reported(&mut rx);
    assert_eq!(ds.len(), 3, "{ds:#?}");
    assert!(
        ds.iter()
            .all(|d| !d.attempt.ok && d.attempt.http_status == Some(503))
    );
    assert_eq!(slack.requests().len(), 3);
}

#[tokio::test]
async fn rate_limits_wait_as_long_as_slack_asks() {
    let slack = FakeSlack::start();
    slack.script(
        WEBHOOK_PATH,
        [Reply::new(429, "rate_limited").header("retry-after", "1")],
    );
    let retry = RetryPolicy {
        max_backoff: Duration::from_secs(10),
        ..policy(3)
    };
    let (notifier, mut rx) = start(webhook(&slack), retry);
    notifier.alert(&record("err_1"));
    let reqs = slack.wait_requests_async(2, T).await;
    let waited = reqs[1].at - reqs[0].at;
    assert!(
        waited >= Duration::from_millis(900),
        "waited only {waited:?}"
    );
    let ds = deliveries(&mut rx, 2).await;
    assert_eq!(ds[0].attempt.http_status, Some(429));
    assert!(ds[1].attempt.ok);
}

#[tokio::test]
async fn a_long_retry_after_is_capped_by_max_backoff() {
    let slack = FakeSlack::start();
    slack.script(
        WEBHOOK_PATH,
        [Reply::new(429, "rate_limited").header("retry-after", "600")],
    );
    let (notifier, mut rx) = start(webhook(&slack), policy(3));
    notifier.alert(&record("err_1"));
    let ds = deliveries(&mut rx, 2).await;
    assert!(!ds[0].attempt.ok && ds[1].attempt.ok);
}

#[tokio::test]
async fn a_permanent_refusal_is_not_retried() {
    let slack = FakeSlack::start();
    slack.script(WEBHOOK_PATH, [Reply::new(404, "no_service")]);
    let (notifier, mut rx) = start(webhook(&slack), policy(5));
    notifier.alert(&record("err_1"));
    // The queue moves on to the next message.
    notifier.notice("heal stopped restarting `python3 main.py`");
    notifier.drain(T).await;
    let ds = reported(&mut rx);
    assert_eq!(ds.len(), 2, "{ds:#?}");
    assert_eq!(ds[0].attempt.http_status, Some(404));
    assert_eq!(
        ds[0].attempt.error.as_deref(),
        Some("slack answered http 404: no_service")
    );
    assert!(ds[1].attempt.ok && ds[1].attempt.message == "notice" && ds[1].incident_id.is_none());
    let reqs = slack.requests();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs[1].body["text"]
            .as_str()
            .unwrap()
            .contains("stopped restarting")
    );
}

#[tokio::test]
async fn a_closed_port_fails_a_bounded_number_of_times_without_leaking_the_url() {
    let url = slack::closed_url();
    let (notifier, mut rx) = start(SlackTarget::Webhook { url: url.clone() }, policy(3));
    notifier.alert(&record("err_1"));
    notifier.drain(T).await;
    let ds = reported(&mut rx);
    assert_eq!(ds.len(), 3, "{ds:#?}");
    for d in &ds {
        assert!(!d.attempt.ok && d.attempt.http_status.is_none(), "{d:?}");
        let error = d.attempt.error.as_deref().unwrap();
        assert!(error.starts_with("cannot connect to slack: "), "{error}");
        let shown = format!("{d:?}");
        assert!(
            !shown.contains(&url) && !shown.contains("closed-webhook-secret"),
            "{shown}"
        );
    }
    // Same for the Web API's token.
    let api = SlackTarget::WebApi {
        token: TOKEN.into(),
        channel: "C1".into(),
        api_url: slack::closed_api_url(),
    };
    let (notifier, mut rx) = start(api, policy(2));
    notifier.notice("hello");
    notifier.drain(T).await;
    let ds = reported(&mut rx);
    assert_eq!(ds.len(), 2);
    assert!(ds.iter().all(|d| !format!("{d:?}").contains(TOKEN)));
}

#[tokio::test]
async fn a_timeout_is_retried_and_reported() {
    let slack = FakeSlack::start();
    slack.script(
        WEBHOOK_PATH,
        [Reply::new(200, "ok").delay(Duration::from_secs(5))],
    );
    let retry = RetryPolicy {
        request_timeout: Duration::from_millis(200),
        ..policy(2)
    };
    let (notifier, mut rx) = start(webhook(&slack), retry);
    notifier.alert(&record("err_1"));
    let ds = deliveries(&mut rx, 2).await;
    assert_eq!(
        ds[0].attempt.error.as_deref(),
        Some("no answer from slack within 200ms")
    );
    assert!(ds[1].attempt.ok);
}

#[tokio::test]
async fn webhook_updates_are_skipped_and_stages_name_the_incident() {
    let slack = FakeSlack::start();
    let (notifier, mut rx) = start(webhook(&slack), policy(3));
    let r = record("err_20260128_143022");
    notifier.update(&r);
    notifier.stage(&r, "🤖 Analysing the error");
    notifier.drain(T).await;
    let reqs = slack.requests();
    assert_eq!(reqs.len(), 1, "{reqs:#?}");
    let all = block_texts(&reqs[0].body["blocks"]).join("\n");
    assert_eq!(all, "🤖 Analysing the error (err_20260128_143022)");
    let ds = reported(&mut rx);
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].attempt.message, "stage");
}

#[tokio::test]
async fn web_api_alert_opens_a_thread_that_stages_reply_in_and_updates_rewrite() {
    let slack = FakeSlack::start();
    let (notifier, mut rx) = start(web_api(&slack), policy(3));
    let mut r = record("err_20260128_143022");
    notifier.alert(&r);
    notifier.stage(&r, "🤖 Analysing the error");
    r.status = Status::Skipped;
    r.occurrences = 12;
    r.last_seen_at = "2026-01-28T15:00:00Z".into();
    notifier.update(&r);

    let reqs = slack.wait_requests_async(3, T).await;
    for req in &reqs {
        assert_eq!(req.headers["authorization"], format!("Bearer {TOKEN}"));
        assert_eq!(
            req.headers["content-type"],
            "application/json; charset=utf-8"
        );
    }
    let (alert, stage, update) = (&reqs[0], &reqs[1], &reqs[2]);
    assert_eq!(alert.path, POST_MESSAGE_PATH);
    assert_eq!(alert.body["channel"], "#incidents");
    assert!(alert.body.get("thread_ts").is_none());
    assert!(
        block_texts(&alert.body["blocks"])
            .join("\n")
            .contains("⏳ Recorded: 1 occurrence.")
    );

    // The fake answered the alert with channel C1 and ts 1700000000.000100.
    assert_eq!(stage.path, POST_MESSAGE_PATH);
    assert_eq!(stage.body["thread_ts"], "1700000000.000100");
    assert_eq!(stage.body["channel"], "C1");
    assert!(
        stage.body["text"]
            .as_str()
            .unwrap()
            .contains("Analysing the error")
    );

    assert_eq!(update.path, UPDATE_PATH);
    assert_eq!(update.body["channel"], "C1");
    assert_eq!(update.body["ts"], "1700000000.000100");
    let all = block_texts(&update.body["blocks"]).join("\n");
    assert!(
        all.contains("skipped — 12 occurrences, last seen 2026-01-28T15:00:00Z"),
        "{all}"
    );
    assert!(
        update.body["text"]
            .as_str()
            .unwrap()
            .contains("12 occurrences")
    );

    let ds = deliveries(&mut rx, 3).await;
    assert!(
        ds.iter()
            .all(|d| d.attempt.ok && d.attempt.channel == "slack_api")
    );
    let kinds: Vec<_> = ds.iter().map(|d| d.attempt.message.as_str()).collect();
    assert_eq!(kinds, ["alert", "stage", "update"]);
    assert_eq!(
        ds[0].thread,
        Some(SlackThread {
            channel: "C1".into(),
            ts: "1700000000.000100".into()
        })
    );
    assert!(ds[1].thread.is_none() && ds[2].thread.is_none());
}

#[tokio::test]
async fn web_api_after_a_failed_alert_stages_go_unthreaded_and_updates_are_skipped() {
    let slack = FakeSlack::start();
    slack.script(
        POST_MESSAGE_PATH,
        [Reply::json(
            200,
            serde_json::json!({"ok": false, "error": "channel_not_found"}),
        )],
    );
    let (notifier, mut rx) = start(web_api(&slack), policy(5));
    let r = record("err_1");
    notifier.alert(&r);
    notifier.stage(&r, "🔧 Fixing");
    notifier.update(&r);
    notifier.notice("done");
    notifier.drain(T).await;

    let reqs = slack.requests();
    let paths: Vec<_> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths, [POST_MESSAGE_PATH; 3],
        "one alert try, the stage, the notice"
    );
    assert!(reqs[1].body.get("thread_ts").is_none());
    assert_eq!(reqs[1].body["channel"], "#incidents");
    let ds = reported(&mut rx);
    assert_eq!(ds.len(), 3, "{ds:#?}");
    assert!(!ds[0].attempt.ok);
    assert_eq!(ds[0].attempt.http_status, Some(200));
    assert_eq!(
        ds[0].attempt.error.as_deref(),
        Some("slack answered `channel_not_found`")
    );
    assert!(ds[0].thread.is_none());
}

#[tokio::test]
async fn web_api_ratelimited_is_retried() {
    let slack = FakeSlack::start();
    slack.script(
        POST_MESSAGE_PATH,
        [Reply::json(
            200,
            serde_json::json!({"ok": false, "error": "ratelimited"}),
        )],
    );
    let (notifier, mut rx) = start(web_api(&slack), policy(3));
    notifier.alert(&record("err_1"));
    let ds = deliveries(&mut rx, 2).await;
    assert_eq!(
        ds[0].attempt.error.as_deref(),
        Some("slack answered `ratelimited`")
    );
    assert!(ds[1].attempt.ok && ds[1].thread.is_some());
    // A refusal over HTTP (a bad token) is final.
    slack.script(
        POST_MESSAGE_PATH,
        [Reply::json(
            200,
            serde_json::json!({"ok": false, "error": "invalid_auth"}),
        )],
    );
    notifier.notice("x");
    notifier.drain(T).await;
    assert_eq!(reported(&mut rx).len(), 1);
    assert_eq!(slack.requests().len(), 3);
}

#[tokio::test]
async fn web_api_uses_the_thread_of_an_earlier_run() {
    let slack = FakeSlack::start();
    let (notifier, _rx) = start(web_api(&slack), policy(3));
    let mut r = record("err_1");
    r.slack = Some(SlackThread {
        channel: "C9".into(),
        ts: "1600000000.000001".into(),
    });
    notifier.stage(&r, "second run");
    notifier.update(&r);
    let reqs = slack.wait_requests_async(2, T).await;
    assert_eq!(reqs[0].body["thread_ts"], "1600000000.000001");
    assert_eq!(reqs[0].body["channel"], "C9");
    assert_eq!(reqs[1].path, UPDATE_PATH);
    assert_eq!(reqs[1].body["ts"], "1600000000.000001");
}

#[tokio::test]
async fn drain_returns_once_everything_is_delivered() {
    let slack = FakeSlack::start();
    slack.script(WEBHOOK_PATH, [Reply::new(500, "")]);
    let (notifier, mut rx) = start(webhook(&slack), policy(3));
    for i in 0..5 {
        notifier.notice(&format!("notice {i}"));
    }
    notifier.drain(T).await;
    // Nothing left in flight: every request made, every attempt reported.
    assert_eq!(slack.requests().len(), 6);
    let ds = reported(&mut rx);
    assert_eq!(ds.len(), 6);
    assert_eq!(ds.iter().filter(|d| d.attempt.ok).count(), 5);
}

#[tokio::test]
async fn drain_gives_up_at_its_deadline() {
    let slack = FakeSlack::start();
    slack.slow_down(Duration::from_secs(5));
    let (notifier, _rx) = start(webhook(&slack), policy(1));
    notifier.notice("slow");
    let started = Instant::now();
    notifier.drain(Duration::from_millis(100)).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_slow_slack_never_blocks_enqueuing_and_the_queue_is_capped() {
    let slack = FakeSlack::start();
    slack.script(
        WEBHOOK_PATH,
        [Reply::new(200, "ok").delay(Duration::from_secs(5))],
    );
    let (notifier, mut rx) = start(webhook(&slack), policy(1));
    let r = record("err_1");
    notifier.alert(&r);
    // The alert is in flight, out of the queue.
    slack.wait_requests_async(1, T).await;

    let started = Instant::now();
    for i in 0..QUEUE_CAPACITY {
        notifier.stage(&r, &format!("stage {i}"));
    }
    notifier.notice("one too many");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "enqueuing took {took:?}");

    let dropped = reported(&mut rx);
    assert_eq!(dropped.len(), 1, "{dropped:#?}");
    let d = &dropped[0];
    assert_eq!(d.attempt.error.as_deref(), Some(QUEUE_FULL));
    assert_eq!(d.attempt.message, "notice");
    assert_eq!(d.attempt.attempt, 0);
    assert!(!d.attempt.ok && d.incident_id.is_none());
}
