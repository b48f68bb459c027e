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
    server.stop();
}
