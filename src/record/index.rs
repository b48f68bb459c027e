//! What the dashboard reads without opening records: an incident's type, file, line, message
//! and fix source as columns (indexed for the list's filters), the time it was first fixed,
//! and occurrences counted per incident and per day (`occurrences_daily`), as Bugsink keeps
//! hourly counts, so a sparkline or a chart of errors per day never scans every record.
//!
//! The schema is versioned with SQLite's `user_version`: [`migrate`] brings an older store up
//! to [`VERSION`] in the transaction that opens it, and refuses a store a newer heal wrote
//! (its columns may mean something this binary does not know).

use rusqlite::{Connection, params};

use super::model::Record;

/// The schema version this binary writes. 0: the incidents table alone. 1: the columns and
/// the daily counts.
pub const VERSION: i64 = 1;

const V1: &str = "
ALTER TABLE incidents ADD COLUMN exc_type TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN file TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN line INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN message TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN fixed_at TEXT;
CREATE INDEX IF NOT EXISTS incidents_status_seen ON incidents (status, last_seen_at);
CREATE INDEX IF NOT EXISTS incidents_type_seen ON incidents (exc_type, last_seen_at);
CREATE INDEX IF NOT EXISTS incidents_file_seen ON incidents (file, last_seen_at);
-- Covering indexes: the columns above were added after the record's document, so reading one
-- from the table reads through the document's overflow pages. The overview and /metrics
-- count from these alone (measured: 1 s against a few ms on 100,000 incidents).
CREATE INDEX IF NOT EXISTS incidents_created_facts ON incidents (created_at, status, source);
CREATE INDEX IF NOT EXISTS incidents_status_facts ON incidents (status, exc_type, source, occurrences);
CREATE INDEX IF NOT EXISTS incidents_fixed ON incidents (fixed_at, created_at);
CREATE INDEX IF NOT EXISTS incidents_id_status ON incidents (id, status);
CREATE INDEX IF NOT EXISTS incidents_seen_message ON incidents (last_seen_at, message);
-- The incident's type and status are copied into its daily rows (the status kept current by
-- every write of the record), so a chart by day never joins 100,000 incidents.
CREATE TABLE IF NOT EXISTS occurrences_daily (
    incident TEXT NOT NULL,
    day      TEXT NOT NULL,
    exc_type TEXT NOT NULL,
    status   TEXT NOT NULL DEFAULT '',
    count    INTEGER NOT NULL,
    PRIMARY KEY (incident, day)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS occurrences_daily_day ON occurrences_daily (day, exc_type, count);
CREATE INDEX IF NOT EXISTS occurrences_daily_status ON occurrences_daily (day, status, count);
CREATE INDEX IF NOT EXISTS occurrences_daily_type ON occurrences_daily (exc_type, day, count);
-- The record's tags (`--tag client=acme`, an SDK's tags), for the list's tag filter.
CREATE TABLE IF NOT EXISTS incident_tags (
    incident TEXT NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (incident, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS incident_tags_value ON incident_tags (key, value);
-- What /metrics reports of healings: each proof step's duration (the fix kept), each Slack
-- delivery attempt, and the model calls of the latest healing.
CREATE TABLE IF NOT EXISTS proof_steps (
    incident    TEXT NOT NULL,
    step        TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    passed      INTEGER NOT NULL,
    PRIMARY KEY (incident, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
    incident TEXT NOT NULL,
    message  TEXT NOT NULL,
    attempt  INTEGER NOT NULL,
    at       TEXT NOT NULL,
    ok       INTEGER NOT NULL,
    PRIMARY KEY (incident, message, attempt, at)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS model_usage (
    incident      TEXT PRIMARY KEY,
    model         TEXT NOT NULL,
    calls         INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    latency_ms    INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO proof_steps (incident, step, duration_ms, passed)
    SELECT incidents.id, json_extract(s.value, '$.step'),
        COALESCE(json_extract(s.value, '$.duration_ms'), 0),
        COALESCE(json_extract(s.value, '$.passed'), 0)
    FROM incidents, json_each(incidents.doc, '$.fix.validation') AS s
    WHERE json_extract(s.value, '$.step') IS NOT NULL;
INSERT OR IGNORE INTO deliveries (incident, message, attempt, at, ok)
    SELECT incidents.id, COALESCE(json_extract(n.value, '$.message'), ''),
        COALESCE(json_extract(n.value, '$.attempt'), 1), COALESCE(json_extract(n.value, '$.at'), ''),
        COALESCE(json_extract(n.value, '$.ok'), 0)
    FROM incidents, json_each(incidents.doc, '$.notifications') AS n;
INSERT OR IGNORE INTO model_usage (incident, model, calls, input_tokens, output_tokens, latency_ms)
    SELECT id, COALESCE(json_extract(doc, '$.llm.model'), ''),
        COALESCE(json_array_length(doc, '$.llm.calls'), 0),
        COALESCE(json_extract(doc, '$.llm.input_tokens'), 0),
        COALESCE(json_extract(doc, '$.llm.output_tokens'), 0),
        COALESCE(json_extract(doc, '$.llm.latency_ms'), 0)
    FROM incidents WHERE json_extract(doc, '$.llm') IS NOT NULL;
INSERT OR IGNORE INTO incident_tags (incident, key, value)
    SELECT incidents.id, t.key, substr(CAST(t.value AS TEXT), 1, 200)
    FROM incidents, json_each(incidents.doc, '$.context.tags') AS t;
-- The records of a store written before: their columns from their documents, and their
-- occurrences counted on the day they were last seen (the days before are not known).
UPDATE incidents SET
    exc_type = COALESCE(json_extract(doc, '$.error.type'), ''),
    file = COALESCE(json_extract(doc, '$.error.frames[#-1].file'), ''),
    line = COALESCE(json_extract(doc, '$.error.frames[#-1].line'), 0),
    message = substr(COALESCE(json_extract(doc, '$.error.message'), ''), 1, 500),
    source = CASE
        WHEN json_extract(doc, '$.fix.source') LIKE 'llm%' THEN 'model'
        WHEN json_extract(doc, '$.fix.source') IS NOT NULL THEN 'rule'
        ELSE '' END,
    fixed_at = CASE WHEN status IN ('applied', 'committed', 'pushed') THEN last_seen_at END;
INSERT OR IGNORE INTO occurrences_daily (incident, day, exc_type, status, count)
    SELECT id, substr(last_seen_at, 1, 10), exc_type, status, occurrences FROM incidents;
";

/// Why a store cannot be opened by this binary.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "the store's schema is version {found}, newer than this heal knows ({VERSION}): a newer heal wrote it; run that heal, or upgrade this one"
    )]
    Newer { found: i64 },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// Brings the store up to [`VERSION`]. Called inside the write transaction that creates the
/// tables, so two heals opening one store never both migrate it.
pub fn migrate(conn: &Connection) -> Result<(), SchemaError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > VERSION {
        return Err(SchemaError::Newer { found });
    }
    if found < 1 {
        conn.execute_batch(V1)?;
    }
    conn.pragma_update(None, "user_version", VERSION)?;
    Ok(())
}

/// How long a message is kept in its column (the list's search and rows); the record keeps it
/// whole.
const MESSAGE_COLUMN: usize = 500;

/// The columns of `record`, written with its row.
pub struct Columns {
    pub exc_type: String,
    pub file: String,
    pub line: i64,
    pub message: String,
    /// `rule` or `model` once a fix was sought by either, else empty.
    pub source: String,
}

impl Columns {
    pub fn of(record: &Record) -> Columns {
        let last = record.error.frames.last();
        let source = record
            .fix
            .as_ref()
            .map(|f| {
                if f.source.starts_with("llm") {
                    "model"
                } else {
                    "rule"
                }
            })
            .unwrap_or("");
        Columns {
            exc_type: record.error.exc_type.clone(),
            file: last.map(|f| f.file.clone()).unwrap_or_default(),
            line: last.map(|f| i64::from(f.line)).unwrap_or(0),
            message: record.error.message.chars().take(MESSAGE_COLUMN).collect(),
            source: source.to_string(),
        }
    }
}

/// Adds `count` occurrences of `record` on the day of `now` (UTC).
pub fn count_occurrences(
    conn: &Connection,
    record: &Record,
    count: u64,
    now: time::OffsetDateTime,
) -> rusqlite::Result<()> {
    if count == 0 {
        return Ok(());
    }
    let day = super::rfc3339(now)[..10].to_string();
    conn.execute(
        "INSERT INTO occurrences_daily (incident, day, exc_type, status, count)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (incident, day) DO UPDATE SET count = count + ?5",
        params![
            record.id,
            day,
            record.error.exc_type,
            record.status.as_str(),
            i64::try_from(count).unwrap_or(i64::MAX)
        ],
    )?;
    Ok(())
}

/// How many of a record's tags are indexed, and how long a value may be: a program's tags are
/// its own to choose, the index stays bounded.
const MAX_TAGS: usize = 32;
const TAG_VALUE: usize = 200;

/// Indexes the record's tags (new ones only: a tag's value does not change once recorded).
pub fn index_tags(conn: &Connection, record: &Record) -> rusqlite::Result<()> {
    if record.context.tags.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO incident_tags (incident, key, value) VALUES (?1, ?2, ?3)",
    )?;
    for (key, value) in record.context.tags.iter().take(MAX_TAGS) {
        let value: String = value.chars().take(TAG_VALUE).collect();
        stmt.execute(params![record.id, key, value])?;
    }
    Ok(())
}

/// Indexes what /metrics reads of a healing: the kept fix's proof steps, the Slack attempts
/// and the latest healing's model usage.
pub fn index_healing(conn: &Connection, record: &Record) -> rusqlite::Result<()> {
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    if let Some(fix) = &record.fix {
        let mut stmt = conn.prepare_cached(
            "INSERT OR REPLACE INTO proof_steps (incident, step, duration_ms, passed)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for step in &fix.validation {
            stmt.execute(params![
                record.id,
                step.step,
                int(step.duration_ms),
                step.passed
            ])?;
        }
    }
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO deliveries (incident, message, attempt, at, ok)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for n in &record.notifications {
        stmt.execute(params![record.id, n.message, n.attempt, n.at, n.ok])?;
    }
    if let Some(llm) = &record.llm {
        conn.prepare_cached(
            "INSERT OR REPLACE INTO model_usage
             (incident, model, calls, input_tokens, output_tokens, latency_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            record.id,
            llm.model,
            llm.calls.len() as i64,
            int(llm.input_tokens),
            int(llm.output_tokens),
            int(llm.latency_ms)
        ])?;
    }
    Ok(())
}

/// Keeps the status copied into `record`'s daily rows current (a few rows: one per day it was
/// seen).
pub fn restatus(conn: &Connection, record: &Record) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE occurrences_daily SET status = ?2 WHERE incident = ?1 AND status != ?2",
        params![record.id, record.status.as_str()],
    )?;
    Ok(())
}
