//! The journal: every step that changes the live tree (or claims an incident) is written here
//! before it happens and removed when it is done, so a heal that died half-way (SIGKILL, power
//! loss, OOM) leaves a note of exactly what was in flight. The next `heal run` reads the notes
//! of dead processes and finishes or undoes their steps (`pipeline::recover`).

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde_json::Value;

use super::model::Record;
use super::{RecordError, Store};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS fleet_outbox (
    seq       INTEGER PRIMARY KEY,
    incident  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    count     INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    sealed    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS journal (
    id       INTEGER PRIMARY KEY,
    incident TEXT NOT NULL,
    step     TEXT NOT NULL,
    pid      INTEGER NOT NULL,
    data     TEXT NOT NULL,
    at       INTEGER NOT NULL
);
";

/// What a journal note is about.
pub mod step {
    /// A `heal run` process is running (incident `""`): left behind, it says heal was killed.
    pub const RUN: &str = "run";
    /// The program a `heal run` supervises (incident `""`; `data`: its pid, process group,
    /// start time and command): left behind, a program that may outlive its heal.
    pub const CHILD: &str = "child";
    /// An incident taken for healing by a process (`data`: {}).
    pub const HEAL: &str = "heal";
    /// Files being written to the live tree (`data`: each file's text before the fix,
    /// `pipeline::notes::ApplyNote`).
    pub const APPLY: &str = "apply";
    /// An applied fix waiting for its commit and push (`data`: its changes, and once committed
    /// where it landed, `pipeline::notes::PublishNote`).
    pub const PUBLISH: &str = "publish";
}

/// One note.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: i64,
    pub incident: String,
    pub step: String,
    pub pid: u32,
    pub data: Value,
}

impl Store {
    /// Takes incident `id` for healing, atomically: `Some(record)` (now `healing`, with a
    /// journal note naming this process) when it may be healed, `None` when another healing
    /// has it or it needs none. Two heal processes on one project never heal one incident
    /// twice.
    pub fn claim(&self, id: &str) -> Result<Option<Record>, RecordError> {
        if let Some(pg) = &self.shared {
            // The fleet's claim (a lease on PostgreSQL), and this host's note of it: a heal
            // killed while healing is found by the next start here, the lease by the fleet.
            let Some(record) = pg.claim(id)? else {
                return Ok(None);
            };
            self.journal_add(id, step::HEAL, &Value::Object(Default::default()))?;
            return Ok(Some(record));
        }
        let mut conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        let mut record = match super::read_doc(&tx, id).map_err(|e| self.sql(e))? {
            Some(doc) => super::parse_doc(id, &doc)?,
            None => return Err(RecordError::NotFound(id.to_string())),
        };
        if !record.status.may_heal() {
            return Ok(None);
        }
        record.status = super::model::Status::Healing;
        super::write_row(&tx, &record, super::Indexes::All).map_err(|e| self.sql(e))?;
        insert(&tx, id, step::HEAL, &Value::Object(Default::default())).map_err(|e| self.sql(e))?;
        // Exported inside the write transaction, like every export (ordered across
        // processes).
        self.export(&record)?;
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(Some(record))
    }

    /// Writes a note before a step; returns its id for [`Store::journal_done`].
    pub fn journal_add(
        &self,
        incident: &str,
        step: &str,
        data: &Value,
    ) -> Result<i64, RecordError> {
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        insert(&conn, incident, step, data).map_err(|e| self.sql(e))
    }

    /// Replaces a note's data (a step that moved on: the commit was made, the push is next).
    pub fn journal_update(&self, note: i64, data: &Value) -> Result<(), RecordError> {
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        conn.execute(
            "UPDATE journal SET data = ?2 WHERE id = ?1",
            params![note, data.to_string()],
        )
        .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Removes the notes of `incident` for `step` written by this process: the step is done.
    pub fn journal_done(&self, incident: &str, step: &str) -> Result<(), RecordError> {
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        conn.execute(
            "DELETE FROM journal WHERE incident = ?1 AND step = ?2 AND pid = ?3",
            params![incident, step, std::process::id()],
        )
        .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Removes one note.
    pub fn journal_remove(&self, note: i64) -> Result<(), RecordError> {
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        conn.execute("DELETE FROM journal WHERE id = ?1", params![note])
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Every note, oldest first.
    pub fn journal(&self) -> Result<Vec<Entry>, RecordError> {
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let mut stmt = conn
            .prepare("SELECT id, incident, step, pid, data FROM journal ORDER BY id")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| {
                let data: String = r.get(4)?;
                Ok(Entry {
                    id: r.get(0)?,
                    incident: r.get(1)?,
                    step: r.get(2)?,
                    pid: r.get(3)?,
                    data: serde_json::from_str(&data).unwrap_or(Value::Null),
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// The note of `incident` for `step`, if one is open.
    pub fn journal_note(&self, incident: &str, step: &str) -> Result<Option<i64>, RecordError> {
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        conn.query_row(
            "SELECT id FROM journal WHERE incident = ?1 AND step = ?2 AND pid = ?3",
            params![incident, step, std::process::id()],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| self.sql(e))
    }

    /// Rewrites every record's JSON export from the database (the source of truth): a heal
    /// killed between an export and its commit leaves a file ahead of the database, and a
    /// storm's repeats may not have been exported yet.
    pub fn reexport_all(&self) -> Result<usize, RecordError> {
        let ids: Vec<String> = self.list(usize::MAX)?.into_iter().map(|r| r.id).collect();
        // Under the write lock: another heal of the project may be writing its exports.
        self.export_current(&ids)?;
        Ok(ids.len())
    }
}

fn insert(
    conn: &rusqlite::Connection,
    incident: &str,
    step: &str,
    data: &Value,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO journal (incident, step, pid, data, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            incident,
            step,
            std::process::id(),
            data.to_string(),
            time::OffsetDateTime::now_utc().unix_timestamp()
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Whether process `pid` is alive (it may be another program that reused the number: then its
/// notes wait for it to end, which is safe).
pub fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // Signal 0 checks existence and permission without sending anything.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
