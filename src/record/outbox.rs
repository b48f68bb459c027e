//! A fleet host's incidents while PostgreSQL is down: recorded in this host's SQLite (so the
//! program's errors are still recorded, alerted and listed here), noted in an outbox, and
//! delivered to the fleet's store once it answers again, each once.
//!
//! The outbox holds one row per buffered incident with its occurrences since the last
//! delivery: a storm adds to a count, not rows, so the bound (`fleet.buffer_max`) is on
//! distinct errors, and no occurrence of an error already kept is ever dropped. A row is
//! sealed before its delivery, and delivered with a key the database keeps in the transaction
//! that counts it: a delivery tried again after a crash between the database's commit and the
//! row's removal here is not counted twice.

use std::sync::atomic::Ordering;

use rusqlite::{OptionalExtension, params};

use super::model::Record;
use super::{Export, RecordError, Store, parse_doc, read_doc, rfc3339};

/// One outbox row.
struct Row {
    seq: i64,
    incident: String,
    fingerprint: String,
    count: u64,
    at: i64,
}

impl Store {
    pub(super) fn with_buffer(mut self, buffer_max: u64) -> Store {
        self.buffer_max = buffer_max;
        self
    }

    /// [`Store::upsert_with`] with the fleet's store: delivered there, or kept here while it
    /// is down.
    pub(super) fn fleet_upsert(
        &self,
        fingerprint: &str,
        count: u64,
        now: time::OffsetDateTime,
        export: Export,
        make: impl FnOnce(String) -> Record,
    ) -> Result<(Record, bool), RecordError> {
        let Some(pg) = &self.shared else {
            return self.local_upsert(fingerprint, count, now, export, |id| Some(make(id)));
        };
        // Built only for a new incident, and kept: a fleet's upsert may fail after building
        // it, and the record is then kept here.
        let mut make = Some(make);
        let mut made: Option<Record> = None;
        let mut remake = |id: String| -> Option<Record> {
            let record = match (made.take(), make.take()) {
                (Some(mut record), _) => {
                    record.id = id;
                    record
                }
                (None, Some(make)) => make(id),
                (None, None) => return None,
            };
            made = Some(record.clone());
            Some(record)
        };
        // What an outage left goes first, so the fleet sees occurrences in order.
        if self.outbox_pending.load(Ordering::SeqCst) && self.buffered()? > 0 {
            match self.deliver_buffered() {
                Ok(_) => {}
                Err(RecordError::Postgres(e)) if e.is_unreachable() => {
                    return self.keep(fingerprint, count, now, export, remake, &e);
                }
                Err(e) => return Err(e),
            }
        }
        match pg.upsert(fingerprint, count, now, &mut remake) {
            Err(RecordError::Postgres(e)) if e.is_unreachable() => {
                self.keep(fingerprint, count, now, export, remake, &e)
            }
            other => {
                if other.is_ok() {
                    if self.outage.swap(false, Ordering::SeqCst) {
                        tracing::info!("the fleet's store at {} answers again", pg.at());
                    }
                    if let Ok(mut seen) = self.fleet_seen.lock() {
                        seen.insert(fingerprint.to_string());
                    }
                }
                other
            }
        }
    }

    /// Records an occurrence here while the fleet's store is down, and notes it for delivery.
    fn keep(
        &self,
        fingerprint: &str,
        count: u64,
        now: time::OffsetDateTime,
        export: Export,
        make: impl FnMut(String) -> Option<Record>,
        why: &super::postgres::PgError,
    ) -> Result<(Record, bool), RecordError> {
        if !self.outage.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                "{why}: this host records its incidents here and delivers them when it is back"
            );
        }
        let (record, is_new) = self.local_upsert(fingerprint, count, now, export, make)?;
        // New here, but already in the fleet's store (seen before the outage): not new.
        let is_new = is_new
            && !self
                .fleet_seen
                .lock()
                .map(|seen| seen.contains(fingerprint))
                .unwrap_or(false);
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let added = conn
            .execute(
                "UPDATE fleet_outbox SET count = count + ?2, at = ?3 \
                 WHERE incident = ?1 AND sealed = 0",
                params![
                    record.id,
                    super::postgres::as_i64(count),
                    now.unix_timestamp()
                ],
            )
            .map_err(|e| self.sql(e))?;
        if added == 0 {
            let rows: i64 = conn
                .query_row("SELECT COUNT(*) FROM fleet_outbox", [], |r| r.get(0))
                .map_err(|e| self.sql(e))?;
            if u64::try_from(rows).unwrap_or(u64::MAX) >= self.buffer_max {
                tracing::error!(
                    "incident {}: not kept for the fleet's store, {} distinct errors already wait for it (fleet.buffer_max): it stays in this host's records only",
                    record.id,
                    self.buffer_max
                );
                return Ok((record, is_new));
            }
            self.outbox_pending.store(true, Ordering::SeqCst);
            conn.execute(
                "INSERT INTO fleet_outbox (incident, fingerprint, count, at) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    record.id,
                    fingerprint,
                    super::postgres::as_i64(count),
                    now.unix_timestamp()
                ],
            )
            .map_err(|e| self.sql(e))?;
        }
        Ok((record, is_new))
    }

    /// How many buffered incidents wait for the fleet's store.
    pub fn buffered(&self) -> Result<u64, RecordError> {
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM fleet_outbox", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        let n = u64::try_from(n).unwrap_or(0);
        self.outbox_pending.store(n > 0, Ordering::SeqCst);
        Ok(n)
    }

    /// Whether `id` is a record this host kept while the fleet's store was down.
    pub(super) fn is_buffered(&self, id: &str) -> Result<bool, RecordError> {
        if self.shared.is_none() {
            return Ok(false);
        }
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        Ok(read_doc(&conn, id).map_err(|e| self.sql(e))?.is_some())
    }

    /// Delivers every buffered incident to the fleet's store, oldest first; returns how many
    /// went. Stops at the first failure (the server is down again), keeping the rest.
    pub fn deliver_buffered(&self) -> Result<usize, RecordError> {
        let Some(pg) = &self.shared else {
            return Ok(0);
        };
        let mut delivered = 0;
        while let Some(row) = self.seal_next()? {
            let local = {
                let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
                let doc = read_doc(&conn, &row.incident).map_err(|e| self.sql(e))?;
                doc.map(|doc| parse_doc(&row.incident, &doc)).transpose()?
            };
            let at = time::OffsetDateTime::from_unix_timestamp(row.at)
                .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
            let key = format!("{}/{}/{}", pg.identity().host, row.incident, row.seq);
            let fleet = match local {
                Some(mut record) => {
                    // Its occurrences are the row's; the fleet counts them where they land.
                    record.last_seen_at = rfc3339(at);
                    pg.deliver(&row.fingerprint, row.count, at, &key, record)?
                }
                None => None,
            };
            let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
            conn.execute("DELETE FROM fleet_outbox WHERE seq = ?1", params![row.seq])
                .map_err(|e| self.sql(e))?;
            // Delivered whole: the fleet's store holds the incident now, and this host's later
            // reads and updates of its id must go there, not to the copy kept here. (Its JSON
            // export stays; new occurrences meanwhile keep it until their own row is delivered.)
            conn.execute(
                "DELETE FROM incidents WHERE id = ?1 \
                 AND NOT EXISTS (SELECT 1 FROM fleet_outbox WHERE incident = ?1)",
                params![row.incident],
            )
            .map_err(|e| self.sql(e))?;
            drop(conn);
            if let Some((fleet, _)) = fleet {
                tracing::info!(
                    "incident {}: {} occurrence(s) kept on this host while the fleet's store was down, delivered{}",
                    row.incident,
                    row.count,
                    if fleet.id == row.incident {
                        String::new()
                    } else {
                        format!(" to incident {}", fleet.id)
                    }
                );
            }
            delivered += 1;
        }
        if delivered > 0 {
            self.outage.store(false, Ordering::SeqCst);
        }
        Ok(delivered)
    }

    /// Seals the oldest outbox row for its delivery (new occurrences then start a new row).
    fn seal_next(&self) -> Result<Option<Row>, RecordError> {
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let row = conn
            .query_row(
                "SELECT seq, incident, fingerprint, count, at FROM fleet_outbox \
                 ORDER BY seq LIMIT 1",
                [],
                |r| {
                    Ok(Row {
                        seq: r.get(0)?,
                        incident: r.get(1)?,
                        fingerprint: r.get(2)?,
                        count: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                        at: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        if let Some(row) = &row {
            conn.execute(
                "UPDATE fleet_outbox SET sealed = 1 WHERE seq = ?1",
                params![row.seq],
            )
            .map_err(|e| self.sql(e))?;
        }
        Ok(row)
    }
}
