//! `heal serve`'s JSON API and `/metrics`, read over real HTTP from a store the real SDK's
//! bodies filled. `/metrics` is read by a real Prometheus text-format parser. See: issue 17.

use std::collections::HashMap;
use std::io::Write as _;

use serde_json::{Value, json};

use crate::support::Project;
use crate::support::sentry::*;

/// `crash.event.json` with another id, and another exception type and message when given.
fn event_of(id: &str, exc_type: &str, message: &str) -> Vec<u8> {
    let mut event: Value = serde_json::from_slice(&fixture("crash.event.json")).unwrap();
    event["event_id"] = json!(id);
    event["exception"]["values"][0]["type"] = json!(exc_type);
    event["exception"]["values"][0]["value"] = json!(message);
    serde_json::to_vec(&event).unwrap()
}

fn send(server: &Server, n: usize, exc_type: &str, message: &str) {
    let id = id(n);
    let body = envelope_of(&id, &[("event", &event_of(&id, exc_type, message))]);
    let reply = server.envelope(None, &body);
    assert_eq!(reply.status, 200, "{reply:?}");
}

/// A sample: its name, labels and value.
type Sample = (String, HashMap<String, String>, f64);

/// The exposition's samples, as the Prometheus project's own parser (Python's
/// `prometheus_client`, in the test venv) reads them: (name, labels, value). The Rust crate
/// `prometheus-parse` 0.2 was tried first: it cuts a label value at an escaped quote, so it
/// cannot judge the escaping this test is about.
fn parse_metrics(text: &str) -> Option<Vec<Sample>> {
    let python = venv_python("prometheus_client")?;
    let script = "import json, sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\nprint(json.dumps([[s.name, s.labels, s.value] for f in p(sys.stdin.read()) for s in f.samples]))";
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused the exposition: {out:?}\n{text}"
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn family(samples: &[Sample], name: &str) -> Vec<(HashMap<String, String>, f64)> {
    samples
        .iter()
        .filter(|(n, _, _)| n == name)
        .map(|(_, l, v)| (l.clone(), *v))
        .collect()
}

#[test]
fn the_api_lists_filters_and_counts_what_the_sdk_sent_and_metrics_parse() {
    let mut p = Project::new();
    p.env("ENABLE_AUTO_HEALING", "false");
    p.env("MAX_CLAUDE_CALLS_PER_HOUR", "7");
    let server = Server::start(&p);
    // Three of one error, one of another, and one whose type tries to break the exposition.
    for n in 1..=3 {
        send(&server, n, "ZeroDivisionError", "float division by zero");
    }
    send(&server, 4, "KeyError", "'budget'");
    let hostile = "Evil\"} heal_injected 1\n# TYPE x counter\\";
    send(&server, 5, hostile, "100% <script>alert(1)</script>");

    let all = get(&server.addr, "/api/incidents").json();
    assert_eq!(all["total"], 3, "{all:#}");
    let rows = all["incidents"].as_array().unwrap();
    let zero = rows
        .iter()
        .find(|r| r["exc_type"] == "ZeroDivisionError")
        .expect("the ZeroDivisionError");
    assert_eq!(zero["occurrences"], 3, "{zero:#}");
    assert_eq!(zero["line"], 15);
    assert!(
        zero["file"].as_str().unwrap().ends_with("report.py"),
        "{zero:#}"
    );
    let daily = zero["daily"].as_array().unwrap();
    assert_eq!(
        (daily.len(), daily.last()),
        (14, Some(&json!(3))),
        "{zero:#}"
    );

    let keys = get(&server.addr, "/api/incidents?type=KeyError").json();
    assert_eq!(keys["total"], 1);
    let found = get(&server.addr, "/api/incidents?q=%25%20%3Cscript").json();
    assert_eq!(found["total"], 1, "{found:#}");
    // The ingest keeps a type on one line; the rest is kept as sent.
    let stored_type = found["incidents"][0]["exc_type"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(stored_type, hostile.replace('\n', " "));
    let paged = get(&server.addr, "/api/incidents?per_page=2&page=2").json();
    assert_eq!(
        (
            paged["total"].as_u64(),
            paged["incidents"].as_array().map(Vec::len)
        ),
        (Some(3), Some(1))
    );
    let bad = get(&server.addr, "/api/incidents?page=first");
    assert_eq!(bad.status, 400, "{bad:?}");

    let id = zero["id"].as_str().unwrap();
    let record = get(&server.addr, &format!("/api/incidents/{id}")).json();
    assert_eq!(record["id"], id);
    assert_eq!(record["error"]["type"], "ZeroDivisionError");
    let missing = get(&server.addr, "/api/incidents/err_19990101_000000");
    assert_eq!(missing.status, 404);
    assert!(
        missing.body.contains("/api/incidents lists them"),
        "{missing:?}"
    );

    let stats = get(&server.addr, "/api/stats").json();
    assert_eq!(stats["incidents_24h"], 3, "{stats:#}");
    assert_eq!(stats["open"], 3);
    assert_eq!(stats["model_calls_limit_hour"], 7);
    assert_eq!(stats["top_types_7d"][0]["exc_type"], "ZeroDivisionError");
    assert_eq!(stats["top_types_7d"][0]["count"], 3);
    let today = stats["per_day"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        today["open"].as_u64().unwrap() + today["skipped"].as_u64().unwrap(),
        5,
        "{today:#}"
    );

    let metrics = get(&server.addr, "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{metrics:?}"
    );
    let Some(scrape) = parse_metrics(&metrics.body) else {
        server.stop();
        return;
    };
    assert!(
        scrape.iter().all(|(name, _, _)| name.starts_with("heal_")),
        "a sample without the prefix, or one the hostile type injected: {scrape:?}"
    );
    let incidents = family(&scrape, "heal_incidents");
    let total: f64 = incidents.iter().map(|(_, v)| v).sum();
    assert_eq!(total, 3.0, "{incidents:?}");
    assert!(
        incidents.iter().any(|(l, _)| l["type"] == stored_type),
        "{incidents:?}"
    );
    let occurrences: f64 = family(&scrape, "heal_incident_occurrences")
        .iter()
        .map(|(_, v)| v)
        .sum();
    assert_eq!(occurrences, 5.0);
    let accepted = family(&scrape, "heal_ingest_requests_total")
        .into_iter()
        .find(|(l, _)| l["result"] == "accepted")
        .map(|(_, v)| v);
    assert_eq!(accepted, Some(5.0));
    assert_eq!(family(&scrape, "heal_model_calls_limit_per_hour")[0].1, 7.0);
    // Auto-healing is off here: every incident was skipped, none waits.
    assert_eq!(family(&scrape, "heal_incident_queue")[0].1, 0.0);
    server.stop();
}

/// A chromedriver on a free loopback port, driving Debian's chromium; killed when dropped.
struct Driver {
    child: std::process::Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The system's chromedriver, or a skip (a failure under CI, which installs it).
fn driver() -> Option<Driver> {
    let found = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(path) = found else {
        let how = "no chromedriver: `apt-get install chromium chromium-driver` (bash .ci/run does)";
        assert!(
            std::env::var("HEAL_TEST_BROWSER").as_deref() != Ok("required"),
            "{how}"
        );
        eprintln!("SKIPPED: {how}");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(path)
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = crate::support::project::Stream::new(child.stdout.take().unwrap());
    out.wait_for("started successfully", T);
    Some(Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    })
}

/// Chromium headless, with nothing of its own going out (its background services off) and
/// every host but loopback unresolvable, so a page that fetched anything else would fail.
async fn browser(driver: &Driver, profile: &std::path::Path) -> fantoccini::Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    fantoccini::ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("chromedriver starts a session")
}

async fn text(c: &fantoccini::Client, css: &str) -> String {
    c.find(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

/// Every resource the page loaded came from heal's own origin.
async fn only_heal_was_asked(c: &fantoccini::Client, origin: &str) {
    let urls = c
        .execute(
            "return [location.href, ...performance.getEntriesByType('resource').map(e => e.name)]",
            vec![],
        )
        .await
        .unwrap();
    for url in urls.as_array().unwrap() {
        let url = url.as_str().unwrap();
        assert!(url.starts_with(origin), "a request left for {url}");
    }
}

async fn screenshot(c: &fantoccini::Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

#[test]
fn every_page_renders_in_chromium_with_the_seeded_figures() {
    let Some(driver) = driver() else { return };
    // One incident fixed by a rule under heal run (a diff and a proof), then two the SDK sends
    // to heal serve on the same project.
    let mut p = Project::new();
    p.file("app.py", crate::heal::APP);
    p.env("HEAL_VERIFY_RERUN_SECONDS", "5");
    p.env("HEAL_PROVIDER", "none");
    p.env("MAX_CLAUDE_CALLS_PER_HOUR", "9");
    p.run(&["run", "--", "python3", "app.py"]);
    let fixed = p.record();
    assert_eq!(fixed["status"], "applied", "{fixed:#}");
    let fixed_id = fixed["id"].as_str().unwrap().to_string();
    p.env("ENABLE_AUTO_HEALING", "false");
    let server = Server::start(&p);
    send(&server, 1, "ZeroDivisionError", "float division by zero");
    send(&server, 2, "ZeroDivisionError", "float division by zero");
    send(&server, 3, "KeyError", "'<b>budget</b>'");
    let origin = format!("http://{}", server.addr);
    let profile = tempfile::tempdir().unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = browser(&driver, profile.path()).await;

        c.goto(&format!("{origin}/")).await.unwrap();
        assert_eq!(text(&c, "#incidents-24h .value").await, "3");
        assert_eq!(text(&c, "#open .value").await, "2");
        // One healing ended, with its fix in place.
        assert_eq!(text(&c, "#fix-rate .value").await, "100%");
        assert!(text(&c, "#fix-rate .label").await.contains("1 of 1"));
        assert_eq!(text(&c, "#model-calls .value").await, "0 / 9");
        assert_eq!(text(&c, "#top-types tbody tr:first-child td:first-child").await, "ZeroDivisionError");
        assert_eq!(text(&c, "#top-types tbody tr:first-child td.count").await, "2");
        let funnel = text(&c, "#funnel").await;
        assert!(funnel.contains("detected 3") && funnel.contains("held (not regressed, not reverted) 1"), "{funnel}");
        let bars = c
            .execute(
                "return [...document.querySelectorAll('#per-day rect')].map(r => [r.dataset.outcome, +r.dataset.count])",
                vec![],
            )
            .await
            .unwrap();
        // Today's bar: the fixed crash's occurrence, and the three the SDK sent (skipped:
        // auto-healing is off for heal serve here).
        assert_eq!(bars, json!([["fixed", 1], ["skipped", 3]]), "{bars}");
        only_heal_was_asked(&c, &origin).await;
        screenshot(&c, "overview").await;

        c.goto(&format!("{origin}/incidents")).await.unwrap();
        assert_eq!(text(&c, "#count").await, "3 incidents");
        screenshot(&c, "incidents").await;
        c.goto(&format!("{origin}/incidents?type=KeyError")).await.unwrap();
        assert_eq!(text(&c, "#count").await, "1 incident");
        // The message is shown as text, its markup escaped.
        assert!(text(&c, "#incidents tbody").await.contains("'<b>budget</b>'"));
        c.goto(&format!("{origin}/incidents?status=fixed")).await.unwrap();
        assert_eq!(text(&c, "#count").await, "1 incident");
        assert!(text(&c, "#incidents tbody").await.contains("NameError"));
        c.goto(&format!("{origin}/incidents?status=open&q=DIVISION")).await.unwrap();
        assert_eq!(text(&c, "#count").await, "1 incident");
        assert_eq!(text(&c, "#incidents tbody td.count").await, "2");
        // The SDK's tags (region: eu) filter the list; the rule's crash under heal run has none.
        c.goto(&format!("{origin}/incidents?tag=region%3Aeu")).await.unwrap();
        assert_eq!(text(&c, "#count").await, "2 incidents");
        c.goto(&format!("{origin}/incidents?q=no+such+message")).await.unwrap();
        assert_eq!(text(&c, "#count").await, "0 incidents");
        only_heal_was_asked(&c, &origin).await;

        c.goto(&format!("{origin}/incidents/{fixed_id}")).await.unwrap();
        let diff = text(&c, "#diff").await;
        assert!(diff.contains("-    return mesage") && diff.contains("+    return message"), "{diff}");
        assert!(text(&c, "#fix-source").await.contains("rule:did-you-mean"));
        let steps = c
            .execute(
                "return [...document.querySelectorAll('#proof tbody tr')].map(r => [r.dataset.step, r.cells[3].textContent.split(':')[0]])",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            steps,
            json!([["syntax", "passed"], ["rerun", "passed"], ["behaviour", "passed"], ["output", "passed"]])
        );
        assert!(text(&c, "#proof").await.contains("python3 app.py"));
        let events = c
            .execute(
                "return [...document.querySelectorAll('#timeline tr')].map(r => r.dataset.event)",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(events, json!(["detected", "healing", "applied", "now"]), "{events}");
        only_heal_was_asked(&c, &origin).await;
        screenshot(&c, "incident").await;
        c.close().await.unwrap();
    });
    server.stop();
}

/// The rule's fix of `heal::APP`, under heal run: an applied incident with backups.
fn project_with_a_fix() -> (Project, String) {
    let slack = crate::support::slack::FakeSlack::start();
    let mut p = Project::new();
    p.env("SLACK_WEBHOOK_URL", &slack.webhook_url());
    p.file("app.py", crate::heal::APP);
    p.env("HEAL_VERIFY_RERUN_SECONDS", "5");
    p.env("HEAL_PROVIDER", "none");
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#}");
    (p, r["id"].as_str().unwrap().to_string())
}

#[test]
fn without_a_token_the_pages_are_read_only_and_actions_refused() {
    let (p, id) = project_with_a_fix();
    let server = Server::start(&p);
    // The fix's proof steps and the Slack deliveries of its healing, as /metrics counts them.
    if let Some(scrape) = parse_metrics(&get(&server.addr, "/metrics").body) {
        let rerun = family(&scrape, "heal_proof_step_duration_seconds_count")
            .into_iter()
            .find(|(l, _)| l["step"] == "rerun")
            .map(|(_, v)| v);
        assert_eq!(rerun, Some(1.0), "{scrape:?}");
        let inf = family(&scrape, "heal_proof_step_duration_seconds_bucket")
            .into_iter()
            .find(|(l, _)| l["step"] == "rerun" && l["le"] == "+Inf")
            .map(|(_, v)| v);
        assert_eq!(inf, Some(1.0), "{scrape:?}");
        let alerts = family(&scrape, "heal_slack_deliveries")
            .into_iter()
            .find(|(l, _)| l["message"] == "alert" && l["result"] == "delivered")
            .map(|(_, v)| v);
        assert_eq!(alerts, Some(1.0), "{scrape:?}");
        assert!(
            family(&scrape, "heal_model_calls").is_empty(),
            "a rule's fix calls no model"
        );
    }
    let page = get(&server.addr, &format!("/incidents/{id}"));
    assert!(page.body.contains("id=\"read-only\""), "{page:?}");
    assert!(!page.body.contains("id=\"revert\""));
    let refused = post_form(
        &server.addr,
        &format!("/incidents/{id}/revert"),
        &[],
        "token=anything",
    );
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(refused.body.contains("set serve.token"), "{refused:?}");
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        crate::heal::FIXED
    );
    server.stop();
}

#[test]
fn revert_and_retry_from_the_page_in_chromium_need_the_token_and_this_origin() {
    let Some(driver) = driver() else { return };
    let (mut p, id) = project_with_a_fix();
    p.env("HEAL_SERVE_TOKEN", "dashboard-s3cret");
    let server = Server::start(&p);
    let path = format!("/incidents/{id}/revert");
    let wrong = post_form(&server.addr, &path, &[], "token=guess");
    assert_eq!(wrong.status, 403, "{wrong:?}");
    assert!(wrong.body.contains("wrong dashboard token"), "{wrong:?}");
    let elsewhere = post_form(
        &server.addr,
        &path,
        &[("Origin", "http://evil.example")],
        "token=dashboard-s3cret",
    );
    assert_eq!(elsewhere.status, 403, "{elsewhere:?}");
    assert!(elsewhere.body.contains("another site"), "{elsewhere:?}");
    let live = || std::fs::read_to_string(p.path().join("app.py")).unwrap();
    assert_eq!(
        live(),
        crate::heal::FIXED,
        "a refused request changed the file"
    );

    let origin = format!("http://{}", server.addr);
    let profile = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = browser(&driver, profile.path()).await;
        c.goto(&format!("{origin}/incidents/{id}")).await.unwrap();
        let form = c.form(fantoccini::Locator::Css("#revert")).await.unwrap();
        form.set_by_name("token", "dashboard-s3cret").await.unwrap();
        form.submit().await.unwrap();
        c.wait()
            .for_element(fantoccini::Locator::Css("[data-status=reverted]"))
            .await
            .expect("the page after the revert shows the incident reverted");
        assert_eq!(live(), crate::heal::APP, "the fix was not undone");

        // Retry: the same rule heals it again through heal serve's healer.
        let form = c.form(fantoccini::Locator::Css("#retry")).await.unwrap();
        form.set_by_name("token", "dashboard-s3cret").await.unwrap();
        form.submit().await.unwrap();
        // Wait for the page the retry answers with, not for an element the
        // page before it also had: closing the browser sooner can drop the POST.
        c.wait()
            .for_element(fantoccini::Locator::Css(
                "[data-status]:not([data-status=reverted])",
            ))
            .await
            .expect("the page after the retry shows the incident no longer reverted");
        c.close().await.unwrap();
    });
    // The healer works in the background: wait on the record, not on time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let r = get(&server.addr, &format!("/api/incidents/{id}")).json();
        if r["status"] == "applied" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never healed again: {r:#}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(live(), crate::heal::FIXED);
    server.stop();
}
