//! The dashboard's copy of a fleet's incidents: `heal serve` on a fleet's store keeps the
//! project's records in a SQLite store of its own (`<storage>/fleet-view/`), so the dashboard's
//! indexed queries ([`super::query`]) serve the fleet's figures unchanged. Written only by
//! [`Store::mirror`]; a record written twice counts its occurrences once.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::model::Record;
use super::{Indexes, RecordError, Store, index, write_row};

impl Store {
    /// Brings `record` into this (mirror) store: its row and indexes, and the occurrences it
    /// gained since the mirror's last copy, counted on the day of its latest.
    pub fn mirror(&self, record: &Record) -> Result<(), RecordError> {
        let mut conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        let before: Option<i64> = tx
            .query_row(
                "SELECT occurrences FROM incidents WHERE id = ?1",
                params![record.id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        let before = before.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        write_row(&tx, record, Indexes::All).map_err(|e| self.sql(e))?;
        let seen = time::OffsetDateTime::parse(
            &record.last_seen_at,
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
        index::count_occurrences(&tx, record, record.occurrences.saturating_sub(before), seen)
            .map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))
    }

    /// Replaces the mirror's model calls at or after `since` with `calls`.
    pub fn mirror_llm_calls(
        &self,
        since: i64,
        calls: &[(i64, String, String)],
    ) -> Result<(), RecordError> {
        let mut conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        tx.execute("DELETE FROM llm_calls WHERE at >= ?1", params![since])
            .map_err(|e| self.sql(e))?;
        for (at, incident, model) in calls {
            tx.execute(
                "INSERT INTO llm_calls (at, incident, model) VALUES (?1, ?2, ?3)",
                params![at, incident, model],
            )
            .map_err(|e| self.sql(e))?;
        }
        tx.commit().map_err(|e| self.sql(e))
    }
}
