//! The record: every incident, kept in SQLite (`<storage>/heal.db`, WAL) and exported as
//! `<storage>/errors/{id}.json`, rewritten atomically at every change.
//!
//! The database is the source of truth; the JSON files are its export for people and scripts
//! (the seed promises them). Every change goes through one transaction that takes SQLite's write
//! lock first, so two heal processes on one project never hand out one id twice or open two
//! incidents for one fingerprint. Never leaves a half-written JSON file: each is written to a
//! temporary file in the same folder, synced, then renamed over the old one.

pub mod analysis;
pub mod build;
pub mod candidates;
pub mod fix;
pub mod index;
pub mod journal;
mod mirror;
pub mod model;
mod outbox;
pub mod postgres;
pub mod query;
pub mod result;
#[cfg(test)]
pub(crate) mod store_tests;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use model::Record;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot create the storage folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the store {path} cannot be used: {source} (a full disk, a read-only or damaged file?); heal goes on supervising, without this record"
    )]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot write {path}: {source}")]
    Export {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("record {id} in the store is not readable: {source}")]
    Corrupt {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("no incident {0}: `heal list` shows the ids")]
    NotFound(String),
    #[error("the store lock was poisoned by a panic")]
    Poisoned,
    #[error("{0}")]
    Postgres(#[from] postgres::PgError),
    #[error(
        "the incident's record could not be built a second time, after the fleet's store failed"
    )]
    Unmade,
    #[error("the store {path} cannot be opened: {source}")]
    Schema {
        path: PathBuf,
        #[source]
        source: index::SchemaError,
    },
}

/// The store of one project. Cheap to share behind an `Arc`; calls block (SQLite), so async
/// callers use `spawn_blocking`.
pub struct Store {
    conn: Mutex<Connection>,
    db_path: PathBuf,
    errors_dir: PathBuf,
    /// With `HEAL_DATABASE_URL`: the fleet's incidents, budget and leases live on
    /// PostgreSQL, and this host's SQLite keeps its journal.
    shared: Option<postgres::Postgres>,
    /// With `shared`: distinct errors kept on this host while the fleet's store is down.
    buffer_max: u64,
    /// Set while the fleet's store is down, so the outage is said once.
    outage: std::sync::atomic::AtomicBool,
    /// Whether the outbox may hold rows: cleared when it is seen empty, set when a row is
    /// added, so an upsert on a fleet's store reads the outbox only after an outage.
    outbox_pending: std::sync::atomic::AtomicBool,
    /// The errors this process has recorded in the fleet's store: one kept here during an
    /// outage is not new, and not alerted again.
    fleet_seen: Mutex<std::collections::HashSet<String>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS incidents (
    id           TEXT PRIMARY KEY,
    fingerprint  TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    occurrences  INTEGER NOT NULL,
    doc          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_fingerprint ON incidents (fingerprint);
CREATE INDEX IF NOT EXISTS incidents_created ON incidents (created_at);
CREATE TABLE IF NOT EXISTS llm_calls (
    at       INTEGER NOT NULL,
    incident TEXT NOT NULL,
    model    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS llm_calls_at ON llm_calls (at);
";

impl Store {
    /// Opens (creating if needed) `<storage>/heal.db` and `<storage>/errors/`.
    pub fn open(storage_dir: &Path) -> Result<Store, RecordError> {
        let errors_dir = storage_dir.join("errors");
        std::fs::create_dir_all(&errors_dir).map_err(|source| RecordError::CreateDir {
            path: errors_dir.clone(),
            source,
        })?;
        let db_path = storage_dir.join("heal.db");
        let sql = |source| RecordError::Sqlite {
            path: db_path.clone(),
            source,
        };
        let conn = Connection::open(&db_path).map_err(sql)?;
        // Another heal process may hold the write lock for a moment; wait rather than fail.
        conn.busy_timeout(Duration::from_secs(10)).map_err(sql)?;
        // Two heals starting at once on a new store race to set it up; SQLite answers "busy"
        // at once (without its busy wait) to the one whose read has to become a write, or
        // whose switch to WAL meets the other's. The setup is idempotent: the loser tries
        // again.
        let mut tries = 0;
        loop {
            match setup(&conn) {
                Ok(()) => break,
                Err(index::SchemaError::Sqlite(e)) if is_busy(&e) && tries < OPEN_TRIES => {
                    tries += 1;
                    std::thread::sleep(OPEN_RETRY_WAIT);
                }
                Err(index::SchemaError::Sqlite(e)) => return Err(sql(e)),
                Err(source) => {
                    return Err(RecordError::Schema {
                        path: db_path.clone(),
                        source,
                    });
                }
            }
        }
        Ok(Store {
            conn: Mutex::new(conn),
            db_path,
            errors_dir,
            shared: None,
            buffer_max: DEFAULT_BUFFER_MAX,
            outage: std::sync::atomic::AtomicBool::new(false),
            // Unknown at open: an earlier run may have left rows.
            outbox_pending: std::sync::atomic::AtomicBool::new(true),
            fleet_seen: Mutex::default(),
        })
    }

    /// Opens this host's store in `storage_dir` (its journal and JSON exports) with the
    /// fleet's incidents on the PostgreSQL server at `url`.
    pub fn open_shared(
        storage_dir: &Path,
        url: &str,
        who: postgres::Identity,
        lease: postgres::Lease,
    ) -> Result<Store, RecordError> {
        let mut store = Store::open(storage_dir)?;
        store.shared = Some(postgres::Postgres::open(
            url,
            who,
            lease,
            store.errors_dir.clone(),
        )?);
        Ok(store)
    }

    /// The store `config` names: this host's SQLite, with the fleet's PostgreSQL when
    /// `database_url` is set.
    pub fn open_for(config: &crate::config::Config) -> Result<Store, RecordError> {
        let fleet = &config.fleet;
        match &fleet.database_url {
            None => Store::open(&config.storage_dir),
            Some(url) => Store::open_shared(
                &config.storage_dir,
                url,
                postgres::Identity::of(fleet),
                postgres::Lease::of(fleet),
            )
            .map(|store| store.with_buffer(fleet.buffer_max)),
        }
    }

    /// The fleet's store, when this one is shared.
    pub fn shared(&self) -> Option<&postgres::Postgres> {
        self.shared.as_ref()
    }

    pub fn errors_dir(&self) -> &Path {
        &self.errors_dir
    }

    /// The path of an incident's JSON export.
    pub fn json_path(&self, id: &str) -> PathBuf {
        self.errors_dir.join(format!("{id}.json"))
    }

    fn sql(&self, source: rusqlite::Error) -> RecordError {
        RecordError::Sqlite {
            path: self.db_path.clone(),
            source,
        }
    }

    /// Records `count` occurrences of `fingerprint` seen at `now`: adds them to the open
    /// incident with that fingerprint, or creates one from `make` (given the new id). Returns
    /// the record as stored and whether it is new. The JSON export is rewritten at once.
    pub fn upsert(
        &self,
        fingerprint: &str,
        count: u64,
        now: time::OffsetDateTime,
        make: impl FnOnce(String) -> Record,
    ) -> Result<(Record, bool), RecordError> {
        self.upsert_with(fingerprint, count, now, Export::Always, make)
    }

    /// [`Store::upsert`], with a choice of when the export is rewritten: an error storm adds
    /// occurrences to the same records many times a second, and each export is a synced file.
    pub fn upsert_with(
        &self,
        fingerprint: &str,
        count: u64,
        now: time::OffsetDateTime,
        export: Export,
        make: impl FnOnce(String) -> Record,
    ) -> Result<(Record, bool), RecordError> {
        match &self.shared {
            Some(_) => self.fleet_upsert(fingerprint, count, now, export, make),
            None => self.local_upsert(fingerprint, count, now, export, |id| Some(make(id))),
        }
    }

    /// [`Store::upsert_with`] on this host's SQLite; `make` giving `None` fails it.
    fn local_upsert(
        &self,
        fingerprint: &str,
        count: u64,
        now: time::OffsetDateTime,
        export: Export,
        make: impl FnOnce(String) -> Option<Record>,
    ) -> Result<(Record, bool), RecordError> {
        let mut conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        let open: Vec<(String, String)> = {
            let mut stmt = tx
                .prepare(
                    "SELECT id, doc FROM incidents WHERE fingerprint = ?1 \
                     ORDER BY created_at DESC, id DESC",
                )
                .map_err(|e| self.sql(e))?;
            let rows = stmt
                .query_map(params![fingerprint], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| self.sql(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))?
        };
        let mut existing = None;
        for (id, doc) in open {
            let record: Record =
                serde_json::from_str(&doc).map_err(|source| RecordError::Corrupt { id, source })?;
            if record.status.is_open() {
                existing = Some(record);
                break;
            }
        }
        let (record, is_new) = match existing {
            Some(mut record) => {
                // A count of 0 looks an incident up without an occurrence (an error seen in a
                // proof copy, not in the program).
                if count > 0 {
                    record.occurrences = record.occurrences.saturating_add(count);
                    record.last_seen_at = rfc3339(now);
                }
                (record, false)
            }
            None => {
                let id = next_id(&tx, now).map_err(|e| self.sql(e))?;
                let mut record = make(id).ok_or(RecordError::Unmade)?;
                record.occurrences = count.max(1);
                (record, true)
            }
        };
        // A repeat only changes its counts: the tags, status and healing it indexes are as
        // the last write left them (the hot path of an error storm).
        let indexes = if is_new {
            Indexes::All
        } else {
            Indexes::CountsOnly
        };
        write_row(&tx, &record, indexes).map_err(|e| self.sql(e))?;
        index::count_occurrences(&tx, &record, if is_new { count.max(1) } else { count }, now)
            .map_err(|e| self.sql(e))?;
        // Exported inside the write transaction: the database's write lock orders exports
        // like commits, across heal processes too, so two writers of one record never leave
        // the older version on disk. A heal killed before the commit leaves an export ahead
        // of the database, which the next start rewrites.
        if is_new || export == Export::Always {
            self.export(&record)?;
        }
        tx.commit().map_err(|e| self.sql(e))?;
        Ok((record, is_new))
    }

    /// One occurrence (or `count`) of `finding`, recorded now: a new incident's record built
    /// from it with `run`'s context, changed by `finish` (a crash's exit), and redacted, since
    /// what a program printed or reported carries its secrets. The one path every source's
    /// findings take into the store.
    pub fn upsert_finding(
        &self,
        finding: build::Finding,
        count: u64,
        export: Export,
        run: &build::RunContext,
        redactor: &crate::redact::Redactor,
        finish: impl FnOnce(&mut Record),
    ) -> Result<(Record, bool), RecordError> {
        let now = time::OffsetDateTime::now_utc();
        let now_text = rfc3339(now);
        let fingerprint = finding.fingerprint.clone();
        self.upsert_with(&fingerprint, count, now, export, |id| {
            let mut record = finding.into_record(id, &now_text, run);
            finish(&mut record);
            record.redact(redactor);
            record
        })
    }

    /// Rewrites the JSON exports of `ids` from the database, as they are now (the exports an
    /// [`Export::NewOnly`] upsert left behind).
    pub fn export_current(&self, ids: &[String]) -> Result<(), RecordError> {
        if let Some(pg) = &self.shared {
            return pg.export_current(ids);
        }
        let mut conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        // A write transaction though nothing is written: it holds the write lock, so no
        // other writer's export can land between this read and this export.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        for id in ids {
            let Some(doc) = read_doc(&tx, id).map_err(|e| self.sql(e))? else {
                continue;
            };
            self.export(&parse_doc(id, &doc)?)?;
        }
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Applies `change` to the stored record `id` and saves it, in one transaction.
    pub fn update(
        &self,
        id: &str,
        change: impl FnOnce(&mut Record),
    ) -> Result<Record, RecordError> {
        if let Some(pg) = &self.shared
            && !self.is_buffered(id)?
        {
            return pg.update(id, change);
        }
        let mut conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        let doc = read_doc(&tx, id).map_err(|e| self.sql(e))?;
        let doc = doc.ok_or_else(|| RecordError::NotFound(id.to_string()))?;
        let mut record = parse_doc(id, &doc)?;
        change(&mut record);
        write_row(&tx, &record, Indexes::All).map_err(|e| self.sql(e))?;
        // Exported inside the write transaction, like an upsert's (ordered across processes).
        self.export(&record)?;
        // Between the JSON export and the database (the truth): a heal killed here leaves an
        // export ahead of the database, which the next start rewrites.
        crate::failpoint::hit("record-write");
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(record)
    }

    pub fn get(&self, id: &str) -> Result<Record, RecordError> {
        if let Some(pg) = &self.shared
            && !self.is_buffered(id)?
        {
            return pg.get(id);
        }
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let doc: Option<String> = conn
            .query_row(
                "SELECT doc FROM incidents WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        let doc = doc.ok_or_else(|| RecordError::NotFound(id.to_string()))?;
        serde_json::from_str(&doc).map_err(|source| RecordError::Corrupt {
            id: id.to_string(),
            source,
        })
    }

    /// The newest `limit` incidents, newest first.
    pub fn list(&self, limit: usize) -> Result<Vec<Record>, RecordError> {
        if let Some(pg) = &self.shared {
            match pg.list(limit) {
                // The fleet's store is down: what this host kept meanwhile.
                Err(RecordError::Postgres(e)) if e.is_unreachable() => {}
                other => return other,
            }
        }
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let mut stmt = conn
            .prepare("SELECT id, doc FROM incidents ORDER BY created_at DESC, id DESC LIMIT ?1")
            .map_err(|e| self.sql(e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![limit], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, doc) = row.map_err(|e| self.sql(e))?;
            out.push(
                serde_json::from_str(&doc).map_err(|source| RecordError::Corrupt { id, source })?,
            );
        }
        Ok(out)
    }

    /// Model calls made since `since` (unix seconds), by any heal process of this project:
    /// the hourly limit holds across restarts of heal.
    pub fn llm_calls_since(&self, since: i64) -> Result<u64, RecordError> {
        if let Some(pg) = &self.shared {
            return Ok(pg.llm_calls_since(since)?);
        }
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM llm_calls WHERE at >= ?1",
                params![since],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Counts one model call against the hourly limit.
    pub fn add_llm_call(&self, at: i64, incident: &str, model: &str) -> Result<(), RecordError> {
        if let Some(pg) = &self.shared {
            return Ok(pg.add_llm_call(at, incident, model)?);
        }
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        conn.execute(
            "INSERT INTO llm_calls (at, incident, model) VALUES (?1, ?2, ?3)",
            params![at, incident, model],
        )
        .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Rewrites the JSON export of `record` atomically.
    pub fn export(&self, record: &Record) -> Result<(), RecordError> {
        export_to(&self.errors_dir, record)
    }
}

/// Rewrites `errors_dir/{id}.json` atomically: the seed's export, on the host that wrote it.
pub(crate) fn export_to(errors_dir: &Path, record: &Record) -> Result<(), RecordError> {
    let path = errors_dir.join(format!("{}.json", record.id));
    let err = |source| RecordError::Export {
        path: path.clone(),
        source,
    };
    let json = serde_json::to_vec_pretty(record).map_err(|e| err(std::io::Error::other(e)))?;
    crate::apply::atomic::write(&path, &json, None).map_err(err)
}

fn read_doc(conn: &Connection, id: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT doc FROM incidents WHERE id = ?1",
        params![id],
        |r| r.get(0),
    )
    .optional()
}

fn parse_doc(id: &str, doc: &str) -> Result<Record, RecordError> {
    serde_json::from_str(doc).map_err(|source| RecordError::Corrupt {
        id: id.to_string(),
        source,
    })
}

/// Which of the dashboard's indexes a row write brings up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Indexes {
    /// Everything the record holds: its status in the daily rows, its tags, its healing.
    All,
    /// The row's own columns only: a repeat changed nothing else.
    CountsOnly,
}

fn write_row(
    tx: &rusqlite::Transaction<'_>,
    record: &Record,
    indexes: Indexes,
) -> rusqlite::Result<()> {
    let doc = serde_json::to_string(record)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let columns = index::Columns::of(record);
    // The first time the incident is seen fixed: the end of its time to resolve.
    let fixed_now = record
        .status
        .is_fixed()
        .then(|| rfc3339(time::OffsetDateTime::now_utc()));
    tx.execute(
        "INSERT INTO incidents (id, fingerprint, status, created_at, last_seen_at, occurrences, doc,
             exc_type, file, line, message, source, fixed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (id) DO UPDATE SET fingerprint = ?2, status = ?3, created_at = ?4,
             last_seen_at = ?5, occurrences = ?6, doc = ?7, exc_type = ?8, file = ?9,
             line = ?10, message = ?11, source = ?12, fixed_at = COALESCE(fixed_at, ?13)",
        params![
            record.id,
            record.fingerprint,
            record.status.as_str(),
            record.created_at,
            record.last_seen_at,
            i64::try_from(record.occurrences).unwrap_or(i64::MAX),
            doc,
            columns.exc_type,
            columns.file,
            columns.line,
            columns.message,
            columns.source,
            fixed_now,
        ],
    )?;
    if indexes == Indexes::All {
        index::restatus(tx, record)?;
        index::index_tags(tx, record)?;
        index::index_healing(tx, record)?;
    }
    Ok(())
}

/// `fleet.buffer_max`'s default, for a shared store opened without the configuration.
const DEFAULT_BUFFER_MAX: u64 = 10_000;

/// How many times opening a store that another heal is setting up is tried again, and the
/// wait between tries: 5 s in all.
const OPEN_TRIES: u32 = 100;
const OPEN_RETRY_WAIT: Duration = Duration::from_millis(50);

/// Sets a store up (WAL, its tables, the schema's version): idempotent.
fn setup(conn: &Connection) -> Result<(), index::SchemaError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL is durable across application crashes in WAL mode and avoids an fsync per
    // commit, which matters during an error storm.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // One write transaction from the start, so the tables' creation never has to turn a
    // read into a write, and two heals never both migrate one store.
    let done = conn
        .execute_batch(&format!("BEGIN IMMEDIATE;\n{SCHEMA}\n{}", journal::SCHEMA))
        .map_err(index::SchemaError::from)
        .and_then(|()| index::migrate(conn))
        .and_then(|()| Ok(conn.execute_batch("COMMIT")?));
    if done.is_err() {
        // A failed batch may leave its transaction open.
        let _ = conn.execute_batch("ROLLBACK");
    }
    done
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// When an upsert rewrites the record's JSON export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// Every time: the export is never behind the database.
    Always,
    /// Only for a new record; repeats are exported later with [`Store::export_current`]. A
    /// heal killed before then leaves an export behind the database, which the next start
    /// rewrites.
    NewOnly,
}

/// Runs a store call off the async threads (SQLite blocks). A failure is logged as
/// "cannot {what}: ..." and gives `None`: supervision goes on whatever the store does.
pub async fn off_thread<T: Send + 'static>(
    what: &str,
    call: impl FnOnce() -> Result<T, RecordError> + Send + 'static,
) -> Option<T> {
    match tokio::task::spawn_blocking(call).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(e)) => {
            tracing::error!("cannot {what}: {e}");
            None
        }
        Err(e) => {
            tracing::error!("cannot {what}: {e}");
            None
        }
    }
}

/// The seed's id form, `err_YYYYMMDD_HHMMSS` in UTC, with `_2`, `_3`, ... when incidents share
/// a second.
fn next_id(tx: &rusqlite::Transaction<'_>, now: time::OffsetDateTime) -> rusqlite::Result<String> {
    let base = base_id(now);
    let mut n = 1u32;
    loop {
        let id = if n == 1 {
            base.clone()
        } else {
            format!("{base}_{n}")
        };
        let taken: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM incidents WHERE id = ?1)",
            params![id],
            |r| r.get(0),
        )?;
        if !taken {
            return Ok(id);
        }
        n += 1;
    }
}

pub fn base_id(now: time::OffsetDateTime) -> String {
    let now = now.to_offset(time::UtcOffset::UTC);
    format!(
        "err_{:04}{:02}{:02}_{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// RFC 3339 in UTC with second precision, as records store times.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
