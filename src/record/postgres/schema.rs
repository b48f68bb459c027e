//! The PostgreSQL schema, as numbered migrations applied at start in one transaction.
//!
//! Every heal of a fleet migrates at start; an advisory lock taken in the transaction lets one
//! do it while the others wait, then find nothing left to do. A database migrated by a newer
//! heal is refused: this binary would not know its columns' meaning.

use super::{Conn, PgError};

/// The migrations, in order; a migration is never edited once released, only added after.
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        "
CREATE TABLE incidents (
    id            TEXT PRIMARY KEY,
    project       TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    occurrences   BIGINT NOT NULL,
    doc           JSONB NOT NULL,
    exc_type      TEXT,
    file          TEXT,
    message       TEXT,
    fixed_at      TEXT,
    lease_holder  TEXT,
    lease_until   TIMESTAMPTZ,
    -- The database's clock: when the incident was opened, and first claimed by a healer
    -- (the fleet's claim latency, bench/fleet).
    opened_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    claimed_at    TIMESTAMPTZ,
    -- When the row was last written (the dashboard's mirror reads what changed since).
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX incidents_project_updated ON incidents (project, updated_at);
-- One open incident per error and project, whichever host reports it: N hosts hitting one
-- bug fold into one incident. Closed ones (fixed, reverted) leave room for the next.
CREATE UNIQUE INDEX incidents_open_fingerprint ON incidents (project, fingerprint)
    WHERE status NOT IN ('applied', 'committed', 'pushed', 'reverted');
CREATE INDEX incidents_project_created ON incidents (project, created_at DESC, id DESC);
-- What a healer looks for: incidents waiting for a healing, or whose healer's lease ran out.
CREATE INDEX incidents_waiting ON incidents (project, status, lease_until)
    WHERE status IN ('detected', 'healing');
CREATE TABLE occurrences_by_host (
    incident       TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    host           TEXT NOT NULL,
    occurrences    BIGINT NOT NULL,
    first_seen_at  TEXT NOT NULL,
    last_seen_at   TEXT NOT NULL,
    PRIMARY KEY (incident, host)
);
CREATE TABLE llm_calls (
    project   TEXT NOT NULL,
    at        BIGINT NOT NULL,
    incident  TEXT NOT NULL,
    model     TEXT NOT NULL,
    host      TEXT NOT NULL
);
CREATE INDEX llm_calls_project_at ON llm_calls (project, at);
",
    ),
    (
        2,
        "
-- Occurrences a host kept while the database was down, delivered once each: the key of a
-- delivery is written in the transaction that counts it, so a delivery tried again after a
-- crash between the database's commit and the host's note of it is not counted twice.
CREATE TABLE buffered_deliveries (
    key           TEXT PRIMARY KEY,
    delivered_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
",
    ),
];

/// The newest schema this heal knows.
pub const VERSION: i32 = 2;

/// An advisory lock key of heal's migrations (any fixed number no other program uses).
const MIGRATION_LOCK: i64 = 0x6865_616c_0001;

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "the database's heal schema is version {found}, newer than this heal knows ({known}): upgrade heal on this host, or point it at another database"
    )]
    Newer { found: i32, known: i32 },
}

impl Conn {
    pub(super) async fn migrate(&self) -> Result<(), PgError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.db(e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| self.db(e))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS heal_schema_migrations (
                 version     INTEGER PRIMARY KEY,
                 applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(|e| self.db(e))?;
        let found: i32 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM heal_schema_migrations",
                &[],
            )
            .await
            .map_err(|e| self.db(e))?
            .get(0);
        if found > VERSION {
            return Err(PgError::Schema {
                at: self.at.clone(),
                source: SchemaError::Newer {
                    found,
                    known: VERSION,
                },
            });
        }
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
            tx.batch_execute(sql).await.map_err(|e| self.db(e))?;
            tx.execute(
                "INSERT INTO heal_schema_migrations (version) VALUES ($1)",
                &[version],
            )
            .await
            .map_err(|e| self.db(e))?;
        }
        tx.commit().await.map_err(|e| self.db(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_up_to_the_version() {
        let numbers: Vec<i32> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
        let expected: Vec<i32> = (1..=VERSION).collect();
        assert_eq!(numbers, expected);
    }

    #[test]
    fn the_open_index_names_every_closed_status() {
        use crate::record::model::Status;
        let sql = MIGRATIONS[0].1;
        for status in Status::ALL {
            let listed = sql.contains(&format!("'{}'", status.as_str()));
            assert_eq!(
                listed,
                !status.is_open() || matches!(status, Status::Detected | Status::Healing),
                "{status:?}"
            );
        }
    }
}
