//! A fleet through the real binary: three checkouts of one repository with one bare origin,
//! two agents and a healer on one PostgreSQL, all three programs crashing on one bug.

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use serde_json::Value;

use crate::heal::{APP, FIXED};
use crate::support::Project;
use crate::support::git::{commit_and_push_to, git};
use crate::support::postgres::TestDb;
use crate::support::project::{Stream, wait_with_timeout};
use crate::support::slack::FakeSlack;

const T: Duration = Duration::from_secs(120);

/// A bare origin holding the buggy program.
fn origin() -> (Project, tempfile::TempDir) {
    let seed = Project::new();
    seed.file("app.py", APP).file(".gitignore", "storage/\n");
    let origin = tempfile::tempdir().unwrap();
    commit_and_push_to(seed.path(), origin.path());
    (seed, origin)
}

/// A host: its own clone of `origin`, in the fleet as `name` with `role`.
fn host(origin: &Path, name: &str, role: &str, db: &TestDb, slack: &FakeSlack) -> Project {
    let mut p = Project::new();
    git(p.path(), &["clone", "-q", origin.to_str().unwrap(), "."]);
    p.env("HEAL_DATABASE_URL", &db.url)
        .env("HEAL_FLEET_ROLE", role)
        .env("HEAL_HOST", name)
        .env("HEAL_PROJECT", "shop")
        .env("HEAL_FLEET_POLL_MS", "100")
        .env("HEAL_PROVIDER", "none")
        .env("SLACK_WEBHOOK_URL", &slack.webhook_url())
        .env("HEAL_VERIFY_RERUN_SECONDS", "5")
        // The crashing program is started again until its host has the fix.
        .env("HEAL_RESTART", "on-failure")
        .env("HEAL_START_LIMIT_BURST", "100000")
        .env("HEAL_RESTART_BACKOFF_INITIAL_MS", "200")
        .env("HEAL_RESTART_BACKOFF_MAX_MS", "300");
    p
}

/// Waits for a host's heal to end well; returns its stdout and stderr.
fn finish(child: &mut Child, out: &mut Stream, err: &mut Stream, name: &str) -> (String, String) {
    let status = wait_with_timeout(child, T);
    let stdout = String::from_utf8_lossy(&out.rest(Duration::from_secs(5))).into_owned();
    let stderr = String::from_utf8_lossy(&err.rest(Duration::from_secs(5))).into_owned();
    assert!(
        status.success(),
        "{name} ended {status:?}\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

#[test]
fn three_hosts_one_bug_make_one_incident_one_alert_one_commit_and_both_agents_follow() {
    let Some(db) = TestDb::create() else { return };
    let slack = FakeSlack::start();
    let (_seed, origin) = origin();
    let healer = host(origin.path(), "healer-1", "healer", &db, &slack);
    let agents = [
        host(origin.path(), "agent-1", "agent", &db, &slack),
        host(origin.path(), "agent-2", "agent", &db, &slack),
    ];
    let mut running = Vec::new();
    for (p, name) in [
        (&healer, "healer-1"),
        (&agents[0], "agent-1"),
        (&agents[1], "agent-2"),
    ] {
        let mut child = p.spawn(&["run", "--", "python3", "app.py"]);
        let out = Stream::new(child.stdout.take().unwrap());
        let err = Stream::new(child.stderr.take().unwrap());
        running.push((child, out, err, name));
    }
    // Each heal ends once its program ran clean: the healer on its own fix, the agents on
    // the fix they pulled.
    for (child, out, err, name) in &mut running {
        let (stdout, _) = finish(child, out, err, name);
        assert!(stdout.contains("hello team"), "{name}: {stdout}");
    }

    let records = db.records();
    assert_eq!(records.len(), 1, "{records:#?}");
    let r = &records[0];
    assert_eq!(r["status"], "pushed", "{r:#}");
    assert_eq!(r["fix"]["source"], "rule:did-you-mean");
    let hosts: Vec<&str> = r["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["agent-1", "agent-2", "healer-1"], "{r:#}");
    let total: u64 = r["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["occurrences"].as_u64().unwrap())
        .sum();
    assert_eq!(r["occurrences"].as_u64(), Some(total));

    // One commit on the origin, which both agents followed.
    let log = git(origin.path(), &["log", "--format=%s", "main"]);
    assert_eq!(log.lines().count(), 2, "{log}");
    let head = git(origin.path(), &["rev-parse", "main"]);
    let mut followed: Vec<(&str, &str, bool)> = r["followed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["host"].as_str().unwrap(),
                f["commit"].as_str().unwrap(),
                f["restarted"].as_bool().unwrap(),
            )
        })
        .collect();
    followed.sort();
    assert_eq!(
        followed,
        [
            ("agent-1", head.as_str(), true),
            ("agent-2", head.as_str(), true)
        ]
    );
    for agent in &agents {
        assert_eq!(
            std::fs::read_to_string(agent.path().join("app.py")).unwrap(),
            FIXED
        );
        assert_eq!(git(agent.path(), &["rev-parse", "HEAD"]), head);
    }

    // One alert for the whole fleet, and one final report.
    let alerts = slack
        .requests()
        .iter()
        .filter(|q| q.body.to_string().contains("ERROR DETECTED"))
        .count();
    assert_eq!(alerts, 1, "{:#?}", slack_texts(&slack));
    let reports: Vec<Value> = slack
        .requests()
        .into_iter()
        .filter(|q| q.body.to_string().contains("AUTO-FIX APPLIED"))
        .map(|q| q.body)
        .collect();
    assert_eq!(reports.len(), 1, "{:#?}", slack_texts(&slack));
    assert!(
        reports[0].to_string().contains("on 3 hosts"),
        "{:#}",
        reports[0]
    );

    // heal serve on the fleet's store: the dashboard shows the fleet's figures and its hosts.
    let server = crate::support::sentry::Server::start(&healer);
    let deadline = std::time::Instant::now() + T;
    let stats = loop {
        let stats = crate::support::sentry::get(&server.addr, "/api/stats").json();
        if stats["open"] == 0 && stats["funnel_30d"]["applied"] == 1 {
            break stats;
        }
        assert!(std::time::Instant::now() < deadline, "{stats:#}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(stats["incidents_24h"], 1, "{stats:#}");
    let page = crate::support::sentry::get(&server.addr, "/").body;
    for host in ["agent-1", "agent-2", "healer-1"] {
        assert!(
            page.contains(&format!("<td class=\"host\">{host}</td>")),
            "{page}"
        );
    }
    let listed = crate::support::sentry::get(&server.addr, "/api/incidents").json();
    assert_eq!(listed["incidents"][0]["id"], r["id"], "{listed:#}");
    server.stop();
}

fn slack_texts(slack: &FakeSlack) -> Vec<Value> {
    slack.requests().into_iter().map(|q| q.body).collect()
}

#[cfg(feature = "failpoints")]
#[test]
fn a_healer_killed_during_its_proof_loses_its_lease_and_another_makes_the_one_commit() {
    use std::os::unix::process::ExitStatusExt;

    let Some(db) = TestDb::create() else { return };
    let slack = FakeSlack::start();
    let (_seed, origin) = origin();
    let mut first = host(origin.path(), "healer-1", "healer", &db, &slack);
    first
        .env("HEAL_FAILPOINT", "proving")
        .env("HEAL_FLEET_LEASE_S", "2");
    let mut second = host(origin.path(), "healer-2", "healer", &db, &slack);
    second.env("HEAL_FLEET_LEASE_S", "2");
    let agents = [
        host(origin.path(), "agent-1", "agent", &db, &slack),
        host(origin.path(), "agent-2", "agent", &db, &slack),
    ];
    let start = |p: &Project, name: &'static str| {
        let mut child = p.spawn(&["run", "--", "python3", "app.py"]);
        let out = Stream::new(child.stdout.take().unwrap());
        let err = Stream::new(child.stderr.take().unwrap());
        (child, out, err, name)
    };
    let mut running = vec![start(&agents[0], "agent-1"), start(&agents[1], "agent-2")];
    // healer-1 takes the incident and is killed (SIGKILL) once its proof has started.
    let (mut killed, _out, mut killed_err, _) = start(&first, "healer-1");
    let status = wait_with_timeout(&mut killed, T);
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "{}",
        String::from_utf8_lossy(&killed_err.rest(Duration::from_secs(5)))
    );
    let records = db.records();
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0]["status"], "healing");

    // healer-2 starts; its own crashes fold into the incident healer-1 held, which it takes
    // once healer-1's lease has run out.
    let (mut child, mut out, mut err, name) = start(&second, "healer-2");
    let (stdout, stderr) = finish(&mut child, &mut out, &mut err, name);
    assert!(stdout.contains("hello team"), "{stdout}");
    assert!(
        stderr.contains("healer-1/") && stderr.contains("stopped renewing its lease"),
        "{stderr}"
    );
    for (child, out, err, name) in &mut running {
        let (stdout, _) = finish(child, out, err, name);
        assert!(stdout.contains("hello team"), "{name}: {stdout}");
    }

    let records = db.records();
    assert_eq!(records.len(), 1, "{records:#?}");
    let r = &records[0];
    assert_eq!(r["status"], "pushed", "{r:#}");
    let log = git(origin.path(), &["log", "--format=%s", "main"]);
    assert_eq!(log.lines().count(), 2, "exactly one fix commit: {log}");
    // Nothing of healer-1's reached its tree: it died before applying.
    assert_eq!(
        std::fs::read_to_string(first.path().join("app.py")).unwrap(),
        APP
    );
    assert_eq!(
        std::fs::read_to_string(second.path().join("app.py")).unwrap(),
        FIXED
    );
    let followed: Vec<&str> = r["followed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["host"].as_str().unwrap())
        .collect();
    assert_eq!(followed.len(), 2, "{r:#}");
}

/// A program that runs until stopped, says it is alive, and logs (and survives) one error
/// each time the test drops a trigger file: `trigger-a` a ValueError, `trigger-b` a
/// RuntimeError.
const SERVICE: &str = r#"import os, sys, time, traceback


def alpha():
    raise ValueError("alpha broke")


def beta():
    raise RuntimeError("beta broke")


n = 0
while True:
    for name, fail in (("a", alpha), ("b", beta)):
        path = "trigger-" + name
        if os.path.exists(path):
            os.remove(path)
            try:
                fail()
            except Exception:
                traceback.print_exc()
                sys.stderr.flush()
    n += 1
    if n % 10 == 0:
        print("alive", n, flush=True)
    time.sleep(0.05)
"#;

/// Drops a trigger and waits until the program has taken it.
fn trigger(p: &Project, name: &str) {
    let path = p.path().join(format!("trigger-{name}"));
    std::fs::write(&path, "").unwrap();
    let deadline = std::time::Instant::now() + T;
    while path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the program never took {name}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `ok` holds for the incidents in the database.
fn wait_for_records(url: &str, what: &str, ok: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = std::time::Instant::now() + T;
    loop {
        let records = crate::support::postgres::rows(
            url,
            "SELECT doc FROM incidents ORDER BY created_at, id",
        );
        if ok(&records) {
            return records;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never {what}: {records:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn occurrences(records: &[Value], exc_type: &str) -> Option<u64> {
    records
        .iter()
        .find(|r| r["error"]["type"] == exc_type)
        .and_then(|r| r["occurrences"].as_u64())
}

fn alerts_for(slack: &FakeSlack, exc_type: &str) -> usize {
    slack
        .requests()
        .iter()
        .filter(|q| {
            let body = q.body.to_string();
            body.contains("ERROR DETECTED") && body.contains(exc_type)
        })
        .count()
}

#[test]
fn with_postgres_stopped_an_agent_keeps_its_program_alerts_new_errors_and_delivers_them_once_back()
{
    let Some(server) = crate::support::postgres::OwnServer::start() else {
        return;
    };
    let slack = FakeSlack::start();
    let seed = Project::new();
    seed.file("service.py", SERVICE)
        .file(".gitignore", "storage/\n");
    let origin = tempfile::tempdir().unwrap();
    commit_and_push_to(seed.path(), origin.path());
    let mut agent = Project::new();
    git(
        agent.path(),
        &["clone", "-q", origin.path().to_str().unwrap(), "."],
    );
    agent
        .env("HEAL_DATABASE_URL", &server.url)
        .env("HEAL_FLEET_ROLE", "agent")
        .env("HEAL_HOST", "agent-1")
        .env("HEAL_PROJECT", "shop")
        .env("HEAL_FLEET_POLL_MS", "100")
        .env("HEAL_PROVIDER", "none")
        .env("SLACK_WEBHOOK_URL", &slack.webhook_url());
    let mut child = agent.spawn(&["run", "--", "python3", "service.py"]);
    let mut out = Stream::new(child.stdout.take().unwrap());
    let _err = Stream::new(child.stderr.take().unwrap());
    out.wait_for("alive", T);

    // Up: the first error reaches the fleet's store.
    trigger(&agent, "a");
    wait_for_records(&server.url, "recorded ValueError", |r| {
        occurrences(r, "ValueError") == Some(1)
    });
    slack.wait_requests(1, T);

    // Down: the program goes on, a new error is alerted from the host, a repeat is not.
    server.stop();
    trigger(&agent, "b");
    trigger(&agent, "b");
    trigger(&agent, "a");
    let deadline = std::time::Instant::now() + T;
    while alerts_for(&slack, "RuntimeError") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no alert for the new error while down"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let alive = out.wait_for("alive", T);
    assert!(!alive.is_empty());
    assert!(matches!(child.try_wait(), Ok(None)), "the program stopped");
    // Kept on the host meanwhile, in its records.
    let kept: Vec<Value> = agent.records();
    assert!(
        kept.iter().any(|r| r["error"]["type"] == "RuntimeError"),
        "{kept:#?}"
    );

    // Back: what was kept is delivered, each occurrence once.
    server.start_again();
    let records = wait_for_records(&server.url, "delivered what was kept", |r| {
        occurrences(r, "RuntimeError") == Some(2) && occurrences(r, "ValueError") == Some(2)
    });
    assert_eq!(records.len(), 2, "{records:#?}");
    // A later error goes straight to the store again, and nothing is counted twice.
    trigger(&agent, "b");
    let records = wait_for_records(&server.url, "recorded the next one", |r| {
        occurrences(r, "RuntimeError") == Some(3)
    });
    assert_eq!(occurrences(&records, "ValueError"), Some(2), "{records:#?}");
    assert_eq!(records.len(), 2, "{records:#?}");
    assert_eq!(alerts_for(&slack, "ValueError"), 1);
    assert_eq!(alerts_for(&slack, "RuntimeError"), 1);
    assert!(matches!(child.try_wait(), Ok(None)), "the program stopped");
}

#[test]
fn heal_migrate_moves_a_projects_sqlite_history_once_and_heal_list_reads_it_from_the_fleet() {
    let Some(db) = TestDb::create() else { return };
    let mut p = Project::new();
    p.file("app.py", APP);
    p.env("HEAL_PROVIDER", "none")
        .env("HEAL_VERIFY_RERUN_SECONDS", "5")
        .env("HEAL_HOST", "web-1")
        .env("HEAL_PROJECT", "shop");
    let run = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let local = p.record();
    assert_eq!(local["status"], "applied", "{local:#}");

    let first = p.run(&["migrate", "--to", &db.url]);
    assert_eq!(first.code, Some(0), "{first:?}");
    assert!(
        first
            .stdout
            .contains("1 incident(s) added, 0 already there"),
        "{first:?}"
    );
    assert!(
        !first.stdout.contains("heal-pg-"),
        "the password leaked: {first:?}"
    );
    let again = p.run(&["migrate", "--to", &db.url]);
    assert!(
        again
            .stdout
            .contains("0 incident(s) added, 1 already there"),
        "{again:?}"
    );

    let records = db.records();
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0]["id"], local["id"]);
    assert_eq!(records[0]["status"], "applied");
    assert_eq!(records[0]["fix"], local["fix"]);
    // With database_url set, the project's commands read the fleet's store.
    p.env("HEAL_DATABASE_URL", &db.url);
    let list = p.run(&["list"]);
    assert!(
        list.stdout.contains(local["id"].as_str().unwrap()),
        "{list:?}"
    );
    let doctor = p.run(&["doctor"]);
    assert!(
        doctor
            .stdout
            .contains("answers: project shop, this host web-1 as healer, 1 host(s) have reported"),
        "{doctor:?}"
    );
    assert!(!doctor.stdout.contains("heal-pg-") && !doctor.stderr.contains("heal-pg-"));
}

#[test]
fn an_agent_with_local_changes_does_not_pull_the_fix_and_says_so() {
    let Some(db) = TestDb::create() else { return };
    let slack = FakeSlack::start();
    let seed = Project::new();
    seed.file("app.py", APP)
        .file("NOTES.txt", "notes\n")
        .file(".gitignore", "storage/\n");
    let origin = tempfile::tempdir().unwrap();
    commit_and_push_to(seed.path(), origin.path());
    let healer = host(origin.path(), "healer-1", "healer", &db, &slack);
    let agent = host(origin.path(), "agent-1", "agent", &db, &slack);
    // Work of someone's on the agent's checkout, not committed.
    agent.file("NOTES.txt", "notes, edited on the host\n");

    let mut h = healer.spawn(&["run", "--", "python3", "app.py"]);
    let (mut h_out, mut h_err) = (
        Stream::new(h.stdout.take().unwrap()),
        Stream::new(h.stderr.take().unwrap()),
    );
    let mut a = agent.spawn(&["run", "--", "python3", "app.py"]);
    let _a_out = Stream::new(a.stdout.take().unwrap());
    let mut a_err = Stream::new(a.stderr.take().unwrap());
    finish(&mut h, &mut h_out, &mut h_err, "healer-1");
    let said = a_err.wait_for("does not follow it", T);
    assert!(said.contains("local changes (NOTES.txt)"), "{said}");
    // Nothing pulled, nothing of the person's work touched, and the team told.
    assert_eq!(
        std::fs::read_to_string(agent.path().join("app.py")).unwrap(),
        APP
    );
    assert_eq!(
        std::fs::read_to_string(agent.path().join("NOTES.txt")).unwrap(),
        "notes, edited on the host\n"
    );
    let records = db.records();
    assert_eq!(records.len(), 1, "{records:#?}");
    assert!(records[0]["followed"].is_null(), "{:#}", records[0]);
    let deadline = std::time::Instant::now() + T;
    while !slack_texts(&slack)
        .iter()
        .any(|b| b.to_string().contains("does not follow it"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{:#?}",
            slack_texts(&slack)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_incident_kept_during_an_outage_is_the_fleets_once_delivered_and_its_updates_go_there() {
    use heal::record::Store;
    use heal::record::postgres::{Identity, Lease};

    let Some(server) = crate::support::postgres::OwnServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_shared(
        dir.path(),
        &server.url,
        Identity {
            project: "shop".into(),
            host: "agent-1".into(),
            follows: true,
        },
        Lease {
            length: Duration::from_secs(30),
        },
    )
    .unwrap();
    let template: heal::record::model::Record = serde_json::from_str(include_str!(
        "../fixtures/records/rule-proved-by-its-test.json"
    ))
    .unwrap();
    let make = |id: String| {
        let mut r = template.clone();
        r.id = id;
        r.status = heal::record::model::Status::Detected;
        r.fingerprint = "fp".into();
        r
    };
    server.stop();
    let now = time::OffsetDateTime::now_utc();
    let (kept, new) = store.upsert("fp", 1, now, make).unwrap();
    assert!(new);
    assert_eq!(store.buffered().unwrap(), 1);
    server.start_again();
    assert_eq!(store.deliver_buffered().unwrap(), 1);
    // An update of that id on this host (an agent noting it followed the fix) reaches the
    // fleet's record, not the copy this host kept.
    store
        .update(&kept.id, |r| r.reason = Some("followed on agent-1".into()))
        .unwrap();
    let docs = crate::support::postgres::rows(&server.url, "SELECT doc FROM incidents ORDER BY id");
    assert_eq!(docs.len(), 1, "{docs:#?}");
    assert_eq!(docs[0]["id"], kept.id.as_str());
    assert_eq!(docs[0]["reason"], "followed on agent-1", "{:#}", docs[0]);
}
