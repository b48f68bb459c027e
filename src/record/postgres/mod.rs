//! The fleet's store: incidents on PostgreSQL (`HEAL_DATABASE_URL`), shared by every host of a
//! project.
//!
//! It holds what the fleet shares: the incidents (folded across hosts by a partial unique index
//! on `(project, fingerprint)` over the open statuses), each host's occurrences, the model-call
//! budget, and the healing leases. What belongs to one host stays in its SQLite store: the
//! journal (it names local processes and files of the local checkout) and the JSON exports
//! (`storage/errors/{id}.json`, written by the host that writes the record).
//!
//! heal's store is synchronous (SQLite blocks, async callers use `spawn_blocking`), so this
//! backend runs the async driver (tokio-postgres, pooled by deadpool) on a small runtime of
//! its own and waits for each call on a channel: a call made from any thread, inside a tokio
//! runtime or not, never panics, and a server that does not answer is given up after
//! [`CALL_TIMEOUT`].

mod budget;
mod gitlock;
mod import;
mod incidents;
mod lease;
mod schema;
mod view;

use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

pub use gitlock::GitLock;
pub use import::{Imported, Report, migrate};
pub use lease::Lease;
pub use schema::SchemaError;
pub use view::{Changes, HostReport};

/// How long one store call may take, connection included, before it fails: a server that is
/// stopped or unreachable must not hold up supervision.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections one heal process keeps: a handful of threads call the store at once.
const POOL_SIZE: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "HEAL_DATABASE_URL is not a PostgreSQL URL ({0}): write it as postgres://user:password@host:5432/database"
    )]
    Url(String),
    #[error("PostgreSQL at {at}: {source}")]
    Db {
        at: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(
        "PostgreSQL at {at} cannot be reached: {detail} (is it running? heal keeps the incidents of this host and delivers them when it is back)"
    )]
    Unreachable { at: String, detail: String },
    #[error("PostgreSQL at {at} did not answer within {secs} s", secs = CALL_TIMEOUT.as_secs())]
    Timeout { at: String },
    #[error("PostgreSQL at {at}: {source}")]
    Schema {
        at: String,
        #[source]
        source: SchemaError,
    },
    #[error("the store's worker stopped")]
    Gone,
    #[error(
        "PostgreSQL at {at}: hosts kept opening this incident at the same moment; it is counted at its next occurrence"
    )]
    Busy { at: String },
    #[error(
        "PostgreSQL at {at}: incident {id} cannot be opened again, another open incident has its error now: retry that one (`heal list`)"
    )]
    Reopened { at: String, id: String },
}

impl PgError {
    /// Whether the server could not be reached at all (down, refused, timed out), as against
    /// a query it refused: what is buffered and tried again later.
    pub fn is_unreachable(&self) -> bool {
        match self {
            PgError::Unreachable { .. } | PgError::Timeout { .. } | PgError::Gone => true,
            PgError::Db { source, .. } => {
                source.is_closed()
                    || source.as_db_error().is_none()
                    || source.code().is_some_and(|code| {
                        // The server shutting down or starting (57P01-57P03), or a
                        // connection exception (class 08).
                        let code = code.code();
                        code.starts_with("57P") || code.starts_with("08")
                    })
            }
            _ => false,
        }
    }
}

/// Who this process is in the fleet: the project it reports to and the host it runs on.
#[derive(Debug, Clone)]
pub struct Identity {
    pub project: String,
    pub host: String,
    /// This host takes fixes by following them (a fleet's agent): until it has pulled a fix,
    /// its program's errors of that fix's incident count there.
    pub follows: bool,
}

impl Identity {
    /// This host as its fleet settings name it.
    pub fn of(fleet: &crate::config::FleetConfig) -> Identity {
        Identity {
            project: fleet.project.clone(),
            host: fleet.host.clone(),
            follows: fleet.is_agent() && fleet.follow,
        }
    }
}

impl Lease {
    /// The lease of `fleet.lease_s`.
    pub fn of(fleet: &crate::config::FleetConfig) -> Lease {
        Lease {
            length: fleet.lease,
        }
    }
}

/// The PostgreSQL backend of one heal process.
pub struct Postgres {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    pool: deadpool_postgres::Pool,
    /// The server as errors name it: host, port and database, never the password.
    at: String,
    pub(crate) who: Identity,
    errors_dir: PathBuf,
    lease: Lease,
    /// Whether this process has brought the schema up to date: at open, or at its first
    /// call once the server answers (a host may start while it is down).
    migrated: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Postgres {
    /// Connects to `url`, applies the schema's migrations (refusing a database newer than this
    /// heal), and keeps a small pool.
    pub fn open(
        url: &str,
        who: Identity,
        lease: Lease,
        errors_dir: PathBuf,
    ) -> Result<Postgres, PgError> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| PgError::Url(without_password(&e.to_string())))?;
        config.connect_timeout(CONNECT_TIMEOUT);
        config.application_name(format!("heal {}", who.host));
        let at = describe(&config);
        let manager = deadpool_postgres::Manager::from_config(
            config,
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("heal-postgres")
            .enable_all()
            .build()
            .map_err(|_| PgError::Gone)?;
        let handle = runtime.handle().clone();
        let pool = {
            // The pool's timeouts need a runtime to be entered while it is built.
            let _entered = handle.enter();
            deadpool_postgres::Pool::builder(manager)
                .max_size(POOL_SIZE)
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .wait_timeout(Some(CALL_TIMEOUT))
                .create_timeout(Some(CONNECT_TIMEOUT))
                .recycle_timeout(Some(CONNECT_TIMEOUT))
                .build()
                .map_err(|e| PgError::Url(e.to_string()))?
        };
        let store = Postgres {
            runtime: Some(runtime),
            handle,
            pool,
            at,
            who,
            errors_dir,
            lease,
            migrated: Default::default(),
        };
        match store.call(|_| async { Ok::<_, PgError>(()) }) {
            Ok(()) => Ok(store),
            // Down at start: this host keeps its incidents until the server answers.
            Err(e) if e.is_unreachable() => {
                tracing::warn!("{e}");
                Ok(store)
            }
            Err(e) => Err(e),
        }
    }

    /// Where the server is, for messages: `127.0.0.1:5432/heal`.
    pub fn at(&self) -> &str {
        &self.at
    }

    pub fn identity(&self) -> &Identity {
        &self.who
    }

    pub(super) fn conn(&self) -> Conn {
        Conn {
            pool: self.pool.clone(),
            at: self.at.clone(),
            who: self.who.clone(),
            errors_dir: self.errors_dir.clone(),
        }
    }

    /// Runs `f` on this backend's runtime and waits for it, at most [`CALL_TIMEOUT`].
    fn call<T, E, F, Fut>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<PgError> + Send + 'static,
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let conn = self.conn();
        let at = self.at.clone();
        let ready = self.ready();
        let work = f(conn);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let work = async move {
                ready.await.map_err(E::from)?;
                work.await
            };
            let result = match tokio::time::timeout(CALL_TIMEOUT, work).await {
                Ok(result) => result,
                Err(_) => Err(E::from(PgError::Timeout { at })),
            };
            // The caller may have gone (its thread ended): nothing to tell.
            let _ = tx.send(result);
        });
        rx.recv().map_err(|_| E::from(PgError::Gone))?
    }

    /// Brings the schema up to date first, if this process has not yet.
    pub(super) fn ready(&self) -> impl Future<Output = Result<(), PgError>> + Send + 'static {
        let migrated = self.migrated.clone();
        let conn = self.conn();
        async move {
            if migrated.load(std::sync::atomic::Ordering::Acquire) {
                return Ok(());
            }
            conn.migrate().await?;
            migrated.store(true, std::sync::atomic::Ordering::Release);
            Ok(())
        }
    }

    /// Starts `f` on this backend's runtime without waiting (a lease's heartbeat).
    fn spawn<F, Fut>(&self, f: F)
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let conn = self.conn();
        self.handle.spawn(f(conn));
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Dropping a runtime waits for its tasks, which panics on an async thread: the store
        // may be dropped on one. Its tasks (heartbeats) end with it.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// What one call works with: the pool, and who is asking.
#[derive(Clone)]
pub(crate) struct Conn {
    pool: deadpool_postgres::Pool,
    pub(super) at: String,
    who: Identity,
    errors_dir: PathBuf,
}

impl Conn {
    async fn client(&self) -> Result<deadpool_postgres::Object, PgError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(source) if source.as_db_error().is_some() => {
                PgError::Db {
                    at: self.at.clone(),
                    source,
                }
            }
            deadpool_postgres::PoolError::Timeout(_) => PgError::Timeout {
                at: self.at.clone(),
            },
            other => PgError::Unreachable {
                at: self.at.clone(),
                detail: without_password(&other.to_string()),
            },
        })
    }

    fn db(&self, source: tokio_postgres::Error) -> PgError {
        if source.as_db_error().is_none() {
            return PgError::Unreachable {
                at: self.at.clone(),
                detail: without_password(&source.to_string()),
            };
        }
        PgError::Db {
            at: self.at.clone(),
            source,
        }
    }
}

/// A record as the database keeps it (`doc`), read back; a document that no longer reads is
/// named by its id.
pub(super) fn record_of(
    doc: serde_json::Value,
) -> Result<crate::record::model::Record, crate::record::RecordError> {
    let id = doc
        .get("id")
        .and_then(|v| v.as_str())
        .unwrap_or("?")
        .to_string();
    serde_json::from_value(doc).map_err(|source| crate::record::RecordError::Corrupt { id, source })
}

/// A count as PostgreSQL's BIGINT holds it.
pub(crate) fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `host:port/database` of a connection's settings.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".to_string());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

/// A driver's message, with anything after `password=` hidden (a URL it could not parse may be
/// quoted back).
fn without_password(message: &str) -> String {
    static PASSWORD: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)(password\s*=\s*|://[^:/@\s]*:)[^@\s]*").expect("password regex")
    });
    PASSWORD.replace_all(message, "${1}[REDACTED]").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Lease = Lease {
        length: Duration::from_secs(30),
    };

    #[test]
    fn a_url_that_does_not_parse_is_refused_without_its_password() {
        let who = Identity {
            project: "p".into(),
            host: "h".into(),
            follows: false,
        };
        let Err(e) = Postgres::open(
            "postgres://heal:s3cret@127.0.0.1:notaport/db",
            who,
            LEASE,
            PathBuf::from("/nonexistent"),
        ) else {
            panic!("a bad port opened")
        };
        let text = e.to_string();
        assert!(text.contains("postgres://user:password@host"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn a_server_that_is_down_is_unreachable_and_named_without_its_password() {
        // A port nothing listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let who = Identity {
            project: "p".into(),
            host: "h".into(),
            follows: false,
        };
        let url = format!("postgres://heal:s3cret@127.0.0.1:{port}/db");
        // A host may start while the server is down: it opens, and its calls fail.
        let pg = Postgres::open(&url, who, LEASE, PathBuf::from("/nonexistent"))
            .expect("a store that is down opens");
        let e = pg.llm_calls_since(0).expect_err("a closed port answered");
        assert!(e.is_unreachable(), "{e:?}");
        let text = e.to_string();
        assert!(text.contains(&format!("127.0.0.1:{port}/db")), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn passwords_are_hidden_in_driver_messages() {
        assert_eq!(
            without_password("bad url postgres://u:pw@h/db and password=xyz"),
            "bad url postgres://u:[REDACTED]@h/db and password=[REDACTED]"
        );
    }
}
