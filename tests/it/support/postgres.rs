//! A fresh database per test on the PostgreSQL server `.ci/run` starts
//! (`HEAL_TEST_DATABASE_URL`), and reads of what heal wrote there.

use serde_json::Value;

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// One test's database.
pub struct TestDb {
    pub url: String,
}

impl TestDb {
    /// A new empty database; `None` (the test is skipped) when no server is configured,
    /// unless `HEAL_TEST_POSTGRES=required` (CI), where a missing one fails.
    pub fn create() -> Option<TestDb> {
        let Ok(admin) = std::env::var("HEAL_TEST_DATABASE_URL") else {
            assert!(
                std::env::var("HEAL_TEST_POSTGRES").as_deref() != Ok("required"),
                "HEAL_TEST_POSTGRES=required but HEAL_TEST_DATABASE_URL is not set"
            );
            eprintln!("skipped: no PostgreSQL (set HEAL_TEST_DATABASE_URL, see .ci/postgres.sh)");
            return None;
        };
        let name = format!(
            "heal_it_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        query(&admin, &format!("CREATE DATABASE {name}"));
        let (base, _) = admin.rsplit_once('/').expect("the URL names a database");
        Some(TestDb {
            url: format!("{base}/{name}"),
        })
    }

    /// The incidents' records, oldest first.
    pub fn records(&self) -> Vec<Value> {
        rows(
            &self.url,
            "SELECT doc FROM incidents ORDER BY created_at, id",
        )
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn query(url: &str, sql: &str) {
    runtime().block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("the test server answers");
        tokio::spawn(conn);
        client.batch_execute(sql).await.expect("the statement runs");
    });
}

/// The first column of each row of `sql`, a JSON document; empty when the tables do not
/// exist yet.
pub fn rows(url: &str, sql: &str) -> Vec<Value> {
    runtime().block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("the test server answers");
        tokio::spawn(conn);
        match client.query(sql, &[]).await {
            Ok(rows) => rows.into_iter().map(|r| r.get::<_, Value>(0)).collect(),
            Err(_) => Vec::new(),
        }
    })
}

/// A PostgreSQL server of one test's own, which the test may stop and start again (the
/// fleet's outage test), started by `.ci/postgres.sh`. Stopped when dropped.
pub struct OwnServer {
    dir: tempfile::TempDir,
    port: u16,
    pub url: String,
}

impl OwnServer {
    /// `None` (the test is skipped) where the tests have no PostgreSQL to use.
    pub fn start() -> Option<OwnServer> {
        TestDb::create()?;
        let dir = tempfile::Builder::new()
            .prefix("heal-it-pg-")
            .tempdir()
            .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let mut server = OwnServer {
            dir,
            port,
            url: String::new(),
        };
        server.url = server.up();
        Some(server)
    }

    fn script(&self, args: &[&str]) -> String {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/postgres.sh");
        let out = std::process::Command::new("bash")
            .arg(script)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "postgres.sh {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .to_string()
    }

    fn up(&self) -> String {
        let dir = self.dir.path().to_str().unwrap().to_string();
        let base = self.script(&["start", &dir, &self.port.to_string()]);
        let (root, _) = base.rsplit_once('/').unwrap();
        format!("{root}/postgres")
    }

    /// Stops the server (fast shutdown: its connections are cut, as in a crash or an upgrade).
    pub fn stop(&self) {
        self.script(&["stop", self.dir.path().to_str().unwrap()]);
    }

    /// Starts it again on the same data and port.
    pub fn start_again(&self) {
        self.up();
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/postgres.sh"))
            .args(["stop", self.dir.path().to_str().unwrap()])
            .output();
    }
}
