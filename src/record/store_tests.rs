//! The store's behaviour, on both backends: SQLite (one host) and PostgreSQL (a fleet).
//!
//! Each test runs on a fresh SQLite store, and on a fresh PostgreSQL database when
//! `HEAL_TEST_DATABASE_URL` names a server (`.ci/run` starts one and sets
//! `HEAL_TEST_POSTGRES=required`, so that a missing server fails instead of passing).

use std::sync::Arc;
use std::time::Duration;

use super::model::{Record, Status};
use super::postgres::{Identity, Lease};
use super::{RecordError, Store, rfc3339};

const TEMPLATE: &str = include_str!("../../tests/fixtures/records/rule-proved-by-its-test.json");

fn record(id: &str, fp: &str, now: time::OffsetDateTime) -> Record {
    let mut r: Record = serde_json::from_str(TEMPLATE).expect("the fixture reads");
    r.id = id.to_string();
    r.fingerprint = fp.to_string();
    r.status = Status::Detected;
    r.fix = None;
    r.result = None;
    r.created_at = rfc3339(now);
    r.last_seen_at = rfc3339(now);
    r
}

/// A store under test; its folders and database go with it.
struct Under {
    name: &'static str,
    store: Store,
    _dir: tempfile::TempDir,
    pg: Option<TestDb>,
}

/// A fresh PostgreSQL database for one test.
#[derive(Clone)]
pub(crate) struct TestDb {
    pub url: String,
}

impl TestDb {
    /// A new database on the test server, or `None` when there is no server to use.
    pub(crate) fn create() -> Option<TestDb> {
        let Ok(admin) = std::env::var("HEAL_TEST_DATABASE_URL") else {
            assert!(
                std::env::var("HEAL_TEST_POSTGRES").as_deref() != Ok("required"),
                "HEAL_TEST_POSTGRES=required but HEAL_TEST_DATABASE_URL is not set: \
                 start one with .ci/postgres.sh"
            );
            return None;
        };
        let name = format!(
            "heal_t_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                .await
                .expect("the test server answers at HEAL_TEST_DATABASE_URL");
            tokio::spawn(connection);
            client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .expect("a test database");
        });
        let (base, _) = admin.rsplit_once('/').expect("the URL names a database");
        Some(TestDb {
            url: format!("{base}/{name}"),
        })
    }

    pub(crate) fn open(&self, dir: &std::path::Path, host: &str, lease: Duration) -> Store {
        Store::open_shared(
            dir,
            &self.url,
            Identity {
                project: "shop".to_string(),
                host: host.to_string(),
                follows: host.starts_with("agent"),
            },
            Lease { length: lease },
        )
        .expect("the fleet store opens")
    }
}

static NEXT_DB: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn backends() -> Vec<Under> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut out = vec![Under {
        name: "sqlite",
        store: Store::open(dir.path()).expect("the store opens"),
        _dir: dir,
        pg: None,
    }];
    if let Some(db) = TestDb::create() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        out.push(Under {
            name: "postgres",
            store: db.open(dir.path(), "host-a", Duration::from_secs(30)),
            _dir: dir,
            pg: Some(db),
        });
    }
    out
}

#[test]
fn a_new_error_gets_the_seeds_id_and_json_and_its_repeats_fold_into_it() {
    for u in backends() {
        let now = time::OffsetDateTime::now_utc();
        let (first, new) = u
            .store
            .upsert("fp-1", 1, now, |id| record(&id, "fp-1", now))
            .unwrap();
        assert!(new, "{}", u.name);
        assert_eq!(first.id, super::base_id(now), "{}", u.name);
        let (again, new) = u
            .store
            .upsert("fp-1", 3, now, |_| panic!("fp-1 is open"))
            .unwrap();
        assert!(!new, "{}", u.name);
        assert_eq!(
            (again.id.as_str(), again.occurrences),
            (first.id.as_str(), 4)
        );
        let json = std::fs::read_to_string(u.store.json_path(&first.id)).unwrap();
        let exported: Record = serde_json::from_str(&json).unwrap();
        assert_eq!(exported.occurrences, 4, "{}", u.name);
        assert_eq!(u.store.get(&first.id).unwrap().occurrences, 4, "{}", u.name);
    }
}

#[test]
fn incidents_of_one_second_take_suffixes_and_list_newest_first() {
    for u in backends() {
        let now = time::OffsetDateTime::now_utc();
        let mut ids = Vec::new();
        for fp in ["a", "b", "c"] {
            let (r, _) = u
                .store
                .upsert(fp, 1, now, |id| record(&id, fp, now))
                .unwrap();
            ids.push(r.id);
        }
        let base = super::base_id(now);
        assert_eq!(
            ids,
            [base.clone(), format!("{base}_2"), format!("{base}_3")]
        );
        let listed: Vec<String> = u.store.list(2).unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(
            listed,
            [format!("{base}_3"), format!("{base}_2")],
            "{}",
            u.name
        );
    }
}

#[test]
fn a_fixed_incident_is_closed_and_the_error_after_it_opens_another() {
    for u in backends() {
        let now = time::OffsetDateTime::now_utc();
        let (r, _) = u
            .store
            .upsert("fp", 1, now, |id| record(&id, "fp", now))
            .unwrap();
        let saved = u
            .store
            .update(&r.id, |r| {
                r.status = Status::Pushed;
                r.reason = Some("fixed".into());
            })
            .unwrap();
        assert_eq!(saved.status, Status::Pushed);
        assert_eq!(u.store.get(&r.id).unwrap().reason.as_deref(), Some("fixed"));
        let (next, new) = u
            .store
            .upsert("fp", 1, now, |id| record(&id, "fp", now))
            .unwrap();
        assert!(new, "{}", u.name);
        assert_ne!(next.id, r.id);
    }
}

#[test]
fn an_unknown_id_is_not_found_and_says_how_to_find_ids() {
    for u in backends() {
        let e = u.store.get("err_19990101_000000").unwrap_err();
        assert!(matches!(e, RecordError::NotFound(_)), "{}: {e:?}", u.name);
        assert!(e.to_string().contains("heal list"));
        let e = u.store.update("err_19990101_000000", |_| {}).unwrap_err();
        assert!(matches!(e, RecordError::NotFound(_)), "{}: {e:?}", u.name);
        let e = u.store.claim("err_19990101_000000").unwrap_err();
        assert!(matches!(e, RecordError::NotFound(_)), "{}: {e:?}", u.name);
    }
}

#[test]
fn the_hourly_budget_counts_every_call_since_a_time() {
    for u in backends() {
        u.store.add_llm_call(100, "err_x", "m").unwrap();
        u.store.add_llm_call(200, "err_x", "m").unwrap();
        u.store.add_llm_call(300, "err_y", "m").unwrap();
        assert_eq!(u.store.llm_calls_since(200).unwrap(), 2, "{}", u.name);
        assert_eq!(u.store.llm_calls_since(301).unwrap(), 0, "{}", u.name);
    }
}

#[test]
fn a_claim_is_taken_once_and_again_only_after_the_healing_ends() {
    for u in backends() {
        let now = time::OffsetDateTime::now_utc();
        let (r, _) = u
            .store
            .upsert("fp", 1, now, |id| record(&id, "fp", now))
            .unwrap();
        let taken = u.store.claim(&r.id).unwrap().expect("the first claim");
        assert_eq!(taken.status, Status::Healing);
        assert!(u.store.claim(&r.id).unwrap().is_none(), "{}", u.name);
        u.store
            .update(&r.id, |r| r.status = Status::Failed)
            .unwrap();
        assert!(u.store.claim(&r.id).unwrap().is_some(), "{}", u.name);
        u.store
            .update(&r.id, |r| r.status = Status::Pushed)
            .unwrap();
        assert!(u.store.claim(&r.id).unwrap().is_none(), "{}", u.name);
    }
}

#[test]
fn many_writers_at_once_fold_into_one_incident_and_lose_no_occurrence() {
    for u in backends() {
        let now = time::OffsetDateTime::now_utc();
        // On PostgreSQL each writer is a host with its own store; on SQLite, a heal process
        // of one host with its own connection.
        let dirs: Vec<tempfile::TempDir> = (0..6).map(|_| tempfile::tempdir().unwrap()).collect();
        let stores: Vec<Arc<Store>> = match &u.pg {
            Some(db) => dirs
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    Arc::new(db.open(d.path(), &format!("host-{i}"), Duration::from_secs(30)))
                })
                .collect(),
            None => (0..6)
                .map(|_| Arc::new(Store::open(u._dir.path()).unwrap()))
                .collect(),
        };
        let threads: Vec<_> = stores
            .iter()
            .cloned()
            .map(|store| {
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        store
                            .upsert("storm", 1, now, |id| record(&id, "storm", now))
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let all = stores[0].list(100).unwrap();
        assert_eq!(all.len(), 1, "{}: {all:#?}", u.name);
        assert_eq!(all[0].occurrences, 120, "{}", u.name);
        if u.pg.is_some() {
            let hosts: Vec<(String, u64)> = all[0]
                .hosts
                .iter()
                .map(|h| (h.host.clone(), h.occurrences))
                .collect();
            let expected: Vec<(String, u64)> = (0..6).map(|i| (format!("host-{i}"), 20)).collect();
            assert_eq!(hosts, expected);
        }
    }
}

#[test]
fn a_fleet_folds_hosts_into_one_incident_and_says_which_hosts_saw_it() {
    let Some(db) = TestDb::create() else { return };
    let (da, db_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = db.open(da.path(), "web-1", Duration::from_secs(30));
    let b = db.open(db_dir.path(), "web-2", Duration::from_secs(30));
    let now = time::OffsetDateTime::now_utc();
    let (ra, new_a) = a.upsert("fp", 2, now, |id| record(&id, "fp", now)).unwrap();
    let (rb, new_b) = b
        .upsert("fp", 1, now, |_| panic!("web-1 opened it"))
        .unwrap();
    assert!(new_a && !new_b);
    assert_eq!(ra.id, rb.id);
    assert_eq!(rb.occurrences, 3);
    let hosts: Vec<(&str, u64)> = rb
        .hosts
        .iter()
        .map(|h| (h.host.as_str(), h.occurrences))
        .collect();
    assert_eq!(hosts, [("web-1", 2), ("web-2", 1)]);
    // Each host exports the records it writes, in its own storage folder.
    assert!(a.json_path(&ra.id).exists());
    let on_b: Record =
        serde_json::from_str(&std::fs::read_to_string(b.json_path(&rb.id)).unwrap()).unwrap();
    assert_eq!(on_b.hosts.len(), 2);
}

#[test]
fn a_dead_healers_lease_runs_out_and_another_healer_takes_the_incident() {
    let Some(db) = TestDb::create() else { return };
    let (da, dbd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lease = Duration::from_secs(2);
    let a = db.open(da.path(), "healer-1", lease);
    let b = db.open(dbd.path(), "healer-2", lease);
    let now = time::OffsetDateTime::now_utc();
    let (r, _) = a.upsert("fp", 1, now, |id| record(&id, "fp", now)).unwrap();
    assert!(a.claim(&r.id).unwrap().is_some());
    // healer-1 alive: its heartbeat keeps the lease past its length.
    std::thread::sleep(lease * 2);
    assert!(
        b.claim(&r.id).unwrap().is_none(),
        "taken while its healer lives"
    );
    assert!(b.shared().unwrap().claim_next().unwrap().is_none());
    // healer-1 dies: no more heartbeats.
    drop(a);
    let deadline = std::time::Instant::now() + lease * 10;
    let taken = loop {
        if let Some(r) = b.shared().unwrap().claim_next().unwrap() {
            break r;
        }
        assert!(std::time::Instant::now() < deadline, "never taken over");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(taken.id, r.id);
    let reason = taken.reason.unwrap();
    assert!(
        reason.contains("healer-1/") && reason.contains("stopped renewing its lease"),
        "{reason}"
    );
}

#[test]
fn an_agents_incident_waits_for_a_healer_and_is_claimed_once() {
    let Some(db) = TestDb::create() else { return };
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let agent = db.open(dirs[0].path(), "agent", Duration::from_secs(30));
    let h1 = Arc::new(db.open(dirs[1].path(), "h1", Duration::from_secs(30)));
    let h2 = Arc::new(db.open(dirs[2].path(), "h2", Duration::from_secs(30)));
    let now = time::OffsetDateTime::now_utc();
    agent
        .upsert("fp", 1, now, |id| record(&id, "fp", now))
        .unwrap();
    let racers: Vec<_> = [h1.clone(), h2.clone()]
        .into_iter()
        .map(|h| std::thread::spawn(move || h.shared().unwrap().claim_next().unwrap()))
        .collect();
    let won: Vec<Record> = racers
        .into_iter()
        .filter_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(won.len(), 1, "{won:#?}");
    assert!(h1.shared().unwrap().claim_next().unwrap().is_none());
}

#[test]
fn a_database_migrated_by_a_newer_heal_is_refused() {
    let Some(db) = TestDb::create() else { return };
    let dir = tempfile::tempdir().unwrap();
    drop(db.open(dir.path(), "h", Duration::from_secs(30)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .batch_execute("INSERT INTO heal_schema_migrations (version) VALUES (99)")
            .await
            .unwrap();
    });
    let e = Store::open_shared(
        dir.path(),
        &db.url,
        Identity {
            project: "shop".into(),
            host: "h".into(),
            follows: false,
        },
        Lease {
            length: Duration::from_secs(30),
        },
    )
    .err()
    .expect("a newer schema is refused");
    let text = e.to_string();
    assert!(
        text.contains("version 99") && text.contains("upgrade heal"),
        "{text}"
    );
    assert!(!text.contains("heal-pg-"), "the password leaked: {text}");
}

#[test]
fn an_agent_that_has_not_pulled_a_fix_counts_its_errors_there_and_a_healer_opens_anew() {
    let Some(db) = TestDb::create() else { return };
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let agent = db.open(dirs[0].path(), "agent-1", Duration::from_secs(30));
    let healer = db.open(dirs[1].path(), "healer", Duration::from_secs(30));
    let now = time::OffsetDateTime::now_utc();
    let (r, _) = agent
        .upsert("fp", 1, now, |id| record(&id, "fp", now))
        .unwrap();
    healer.update(&r.id, |r| r.status = Status::Pushed).unwrap();
    let (again, new) = agent
        .upsert("fp", 1, now, |_| panic!("the agent runs the old code"))
        .unwrap();
    assert!(!new);
    assert_eq!((again.id.as_str(), again.occurrences), (r.id.as_str(), 2));
    assert_eq!(again.status, Status::Pushed);
    assert_eq!(agent.shared().unwrap().to_follow().unwrap().len(), 1);
    agent
        .update(&r.id, |r| {
            r.followed.push(super::model::Followed {
                host: "agent-1".into(),
                at: rfc3339(now),
                commit: "abc".into(),
                restarted: true,
            })
        })
        .unwrap();
    assert!(agent.shared().unwrap().to_follow().unwrap().is_empty());
    // Once followed, the error again is a new incident (the fix did not hold here).
    let (after, new) = agent
        .upsert("fp", 1, now, |id| record(&id, "fp", now))
        .unwrap();
    assert!(new);
    assert_ne!(after.id, r.id);
    // A healer's own repeat after a fix is a new incident too.
    healer
        .update(&after.id, |r| r.status = Status::Pushed)
        .unwrap();
    let (h, new) = healer
        .upsert("fp", 1, now, |id| record(&id, "fp", now))
        .unwrap();
    assert!(new && h.id != after.id);
}

#[test]
fn the_fleets_git_lock_is_held_by_one_healer_at_a_time() {
    let Some(db) = TestDb::create() else { return };
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = db.open(dirs[0].path(), "h1", Duration::from_secs(30));
    let b = Arc::new(db.open(dirs[1].path(), "h2", Duration::from_secs(30)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let held = rt.block_on(a.shared().unwrap().git_lock()).unwrap();
    let (got_tx, got) = std::sync::mpsc::channel();
    let waiter = {
        let b = b.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let lock = rt.block_on(b.shared().unwrap().git_lock()).unwrap();
            got_tx.send(()).unwrap();
            drop(lock);
        })
    };
    // While h1 holds it, h2 waits (a window of the lock's own retry, several times over).
    assert!(got.recv_timeout(Duration::from_millis(1500)).is_err());
    drop(held);
    got.recv_timeout(Duration::from_secs(20))
        .expect("h2 takes the lock once h1 lets it go");
    waiter.join().unwrap();
}

#[test]
fn a_claim_waits_for_a_writer_holding_the_row_instead_of_skipping_it() {
    let Some(db) = TestDb::create() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(db.open(dir.path(), "h1", Duration::from_secs(30)));
    let now = time::OffsetDateTime::now_utc();
    let (r, _) = store
        .upsert("fp", 1, now, |id| record(&id, "fp", now))
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut client, conn) = rt
        .block_on(tokio_postgres::connect(&db.url, tokio_postgres::NoTls))
        .unwrap();
    rt.spawn(conn);
    // Another host counting a repeat holds the row's lock for a moment.
    let tx = rt.block_on(client.transaction()).unwrap();
    rt.block_on(tx.execute("SELECT 1 FROM incidents WHERE id = $1 FOR UPDATE", &[&r.id]))
        .unwrap();
    let (claimed_tx, claimed) = std::sync::mpsc::channel();
    let claimer = {
        let (store, id) = (store.clone(), r.id.clone());
        std::thread::spawn(move || claimed_tx.send(store.claim(&id).unwrap()).unwrap())
    };
    assert!(
        claimed.recv_timeout(Duration::from_millis(300)).is_err(),
        "it did not wait"
    );
    rt.block_on(tx.commit()).unwrap();
    let taken = claimed
        .recv_timeout(Duration::from_secs(10))
        .expect("claimed once the writer was done");
    assert_eq!(taken.map(|t| t.status), Some(Status::Healing));
    claimer.join().unwrap();
}

#[test]
fn the_hourly_budget_and_the_failure_count_hold_for_the_whole_fleet() {
    let Some(db) = TestDb::create() else { return };
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = db.open(dirs[0].path(), "h1", Duration::from_secs(30));
    let b = db.open(dirs[1].path(), "h2", Duration::from_secs(30));
    a.add_llm_call(1000, "err_x", "m").unwrap();
    b.add_llm_call(1001, "err_y", "m").unwrap();
    // Each host sees the other's calls against the one limit.
    assert_eq!(a.llm_calls_since(1000).unwrap(), 2);
    assert_eq!(b.llm_calls_since(1000).unwrap(), 2);
    // A failed healing counted by one host is the other's count too.
    let now = time::OffsetDateTime::now_utc();
    let (r, _) = a.upsert("fp", 1, now, |id| record(&id, "fp", now)).unwrap();
    a.update(&r.id, |r| r.heal_failures += 1).unwrap();
    b.update(&r.id, |r| r.heal_failures += 1).unwrap();
    assert_eq!(a.get(&r.id).unwrap().heal_failures, 2);
}
