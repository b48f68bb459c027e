//! Incidents on PostgreSQL: the fold of a fleet's repeats into one open incident per error,
//! each host's occurrences, and the read-modify-write of a record under its row lock.
//!
//! A record is changed by the caller's own closures (`make`, `change`), which need not be
//! `Send`: the transaction runs on the backend's runtime and hands the record to the calling
//! thread and back through [`Postgres::with_turn`], holding the row lock meanwhile.

use std::future::Future;

use tokio_postgres::Transaction;
use tokio_postgres::error::SqlState;

use super::{CALL_TIMEOUT, Conn, PgError, Postgres, as_i64, record_of};
use crate::record::model::{HostSeen, Record};
use crate::record::{RecordError, base_id, export_to, rfc3339};

/// The statuses the open-incident index leaves out (as in the schema).
const CLOSED: &str = "('applied', 'committed', 'pushed', 'reverted')";
/// How many times an upsert starts over after another host created the incident or took the
/// id at the same moment.
const UPSERT_TRIES: u32 = 8;

/// A message from the backend's runtime to the calling thread.
enum Msg<A, T> {
    /// The caller's turn: answer this.
    Turn(A),
    Done(Result<T, RecordError>),
}

/// The runtime's side of a call that gives the caller one turn in the middle.
pub(super) struct Turn<A, B> {
    to_caller: std::sync::mpsc::SyncSender<Msg<A, ()>>,
    from_caller: tokio::sync::mpsc::Receiver<B>,
}

impl<A, B> Turn<A, B> {
    /// Hands `a` to the calling thread and waits for its answer.
    async fn ask(&mut self, a: A) -> Result<B, PgError> {
        self.to_caller
            .try_send(Msg::Turn(a))
            .map_err(|_| PgError::Gone)?;
        self.from_caller.recv().await.ok_or(PgError::Gone)
    }
}

impl Postgres {
    /// Runs `work` on the backend's runtime; when it asks (once), `on_turn` runs on this
    /// thread with what it was given, and its answer goes back.
    fn with_turn<A, B, T, W, Fut>(
        &self,
        work: W,
        on_turn: impl FnOnce(A) -> B,
    ) -> Result<T, RecordError>
    where
        A: Send + 'static,
        B: Send + 'static,
        T: Send + 'static,
        W: FnOnce(Conn, Turn<A, B>) -> Fut,
        Fut: Future<Output = Result<T, RecordError>> + Send + 'static,
    {
        let (to_caller, from_runtime) = std::sync::mpsc::sync_channel::<Msg<A, ()>>(1);
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<Result<T, RecordError>>(1);
        let (to_runtime, from_caller) = tokio::sync::mpsc::channel::<B>(1);
        let conn = self.conn();
        let at = self.at.clone();
        let turn_end = to_caller.clone();
        let ready = self.ready();
        let work = work(
            conn,
            Turn {
                to_caller,
                from_caller,
            },
        );
        let future = async move {
            ready.await?;
            work.await
        };
        self.handle.spawn(async move {
            let result = match tokio::time::timeout(CALL_TIMEOUT, future).await {
                Ok(result) => result,
                Err(_) => Err(RecordError::from(PgError::Timeout { at })),
            };
            let _ = done_tx.send(result);
            // Wakes a caller still waiting for a turn that will not come.
            let _ = turn_end.try_send(Msg::Done(Ok(())));
        });
        let mut on_turn = Some(on_turn);
        while let Ok(Msg::Turn(a)) = from_runtime.recv() {
            let Some(f) = on_turn.take() else {
                return Err(PgError::Gone.into());
            };
            // The runtime waits on this answer; capacity 1 and unused, so it fits.
            to_runtime.try_send(f(a)).map_err(|_| PgError::Gone)?;
        }
        done_rx.recv().map_err(|_| PgError::Gone)?
    }

    /// Records `count` occurrences of `fingerprint` from this host, folding into the
    /// project's open incident for it, whichever host opened it. `make` builds a new
    /// incident's record (given its id) only when there is none; `None` from it fails the
    /// upsert.
    pub fn upsert(
        &self,
        fingerprint: &str,
        count: u64,
        now: time::OffsetDateTime,
        make: impl FnOnce(String) -> Option<Record>,
    ) -> Result<(Record, bool), RecordError> {
        let fingerprint = fingerprint.to_string();
        let upserted = self.with_turn(
            move |conn, turn| async move { conn.upsert(&fingerprint, count, now, None, turn).await },
            make,
        )?;
        // Without a delivery key, every upsert counts.
        upserted.ok_or_else(|| PgError::Gone.into())
    }

    /// Delivers `count` occurrences a host kept while the database was down (`record`, as
    /// the host recorded it), once: `None` when the delivery `key` was already counted.
    pub fn deliver(
        &self,
        fingerprint: &str,
        count: u64,
        at: time::OffsetDateTime,
        key: &str,
        record: Record,
    ) -> Result<Option<(Record, bool)>, RecordError> {
        let (fingerprint, key) = (fingerprint.to_string(), key.to_string());
        self.with_turn(
            move |conn, turn| async move {
                conn.upsert(&fingerprint, count, at, Some(&key), turn).await
            },
            move |id| {
                let mut record = record;
                record.id = id;
                Some(record)
            },
        )
    }

    /// Applies `change` to record `id` under its row lock and saves it.
    pub fn update(
        &self,
        id: &str,
        change: impl FnOnce(&mut Record),
    ) -> Result<Record, RecordError> {
        let id = id.to_string();
        self.with_turn(
            move |conn, turn| async move { conn.update(&id, turn).await },
            |mut record: Record| {
                change(&mut record);
                record
            },
        )
    }

    pub fn get(&self, id: &str) -> Result<Record, RecordError> {
        let owned = id.to_string();
        let doc = self.call(move |conn| async move {
            let client = conn.client().await?;
            let row = client
                .query_opt(
                    "SELECT doc FROM incidents WHERE id = $1 AND project = $2",
                    &[&owned, &conn.who.project],
                )
                .await
                .map_err(|e| conn.db(e))?;
            Ok::<_, PgError>(row.map(|r| r.get::<_, serde_json::Value>(0)))
        })?;
        match doc {
            Some(doc) => record_of(doc),
            None => Err(RecordError::NotFound(id.to_string())),
        }
    }

    /// The project's newest `limit` incidents, newest first.
    pub fn list(&self, limit: usize) -> Result<Vec<Record>, RecordError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let docs = self.call(move |conn| async move {
            let client = conn.client().await?;
            let rows = client
                .query(
                    "SELECT doc FROM incidents WHERE project = $1 \
                     ORDER BY created_at DESC, id DESC LIMIT $2",
                    &[&conn.who.project, &limit],
                )
                .await
                .map_err(|e| conn.db(e))?;
            Ok::<_, PgError>(
                rows.into_iter()
                    .map(|r| r.get::<_, serde_json::Value>(0))
                    .collect::<Vec<_>>(),
            )
        })?;
        docs.into_iter().map(record_of).collect()
    }

    /// Rewrites this host's JSON exports of `ids` from the database.
    pub fn export_current(&self, ids: &[String]) -> Result<(), RecordError> {
        for id in ids {
            match self.get(id) {
                Ok(record) => export_to(&self.errors_dir, &record)?,
                Err(RecordError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Conn {
    async fn upsert(
        &self,
        fingerprint: &str,
        count: u64,
        now: time::OffsetDateTime,
        key: Option<&str>,
        mut turn: Turn<String, Option<Record>>,
    ) -> Result<Option<(Record, bool)>, RecordError> {
        let mut client = self.client().await?;
        let now_text = rfc3339(now);
        let mut made: Option<Record> = None;
        for _ in 0..UPSERT_TRIES {
            let tx = client.transaction().await.map_err(|e| self.db(e))?;
            if let Some(key) = key {
                let first = tx
                    .execute(
                        "INSERT INTO buffered_deliveries (key) VALUES ($1) ON CONFLICT DO NOTHING",
                        &[&key],
                    )
                    .await
                    .map_err(|e| self.db(e))?;
                if first == 0 {
                    return Ok(None);
                }
            }
            let open = tx
                .query_opt(
                    &format!(
                        "SELECT doc FROM incidents WHERE project = $1 AND fingerprint = $2 \
                         AND status NOT IN {CLOSED} FOR UPDATE"
                    ),
                    &[&self.who.project, &fingerprint],
                )
                .await
                .map_err(|e| self.db(e))?;
            let mut known = match open {
                Some(row) => Some(record_of(row.get(0))?),
                None => None,
            };
            if known.is_none() && self.who.follows {
                // This agent runs the code from before a fix it has not pulled yet: the
                // error is that incident's, not a new one (nor a regression).
                known = self.fixed_not_followed(&tx, fingerprint).await?;
            }
            if let Some(mut record) = known {
                // A count of 0 looks an incident up without an occurrence.
                if count > 0 {
                    record.occurrences = record.occurrences.saturating_add(count);
                    record.last_seen_at = now_text.clone();
                }
                record.hosts = self.count_host(&tx, &record.id, count, &now_text).await?;
                self.write(&tx, &record).await?;
                export_to(&self.errors_dir, &record)?;
                tx.commit().await.map_err(|e| self.db(e))?;
                return Ok(Some((record, false)));
            }
            let id = self.next_id(&tx, now).await?;
            let mut record = match made.take() {
                Some(mut record) => {
                    record.id = id;
                    record
                }
                None => turn.ask(id).await?.ok_or(PgError::Gone)?,
            };
            record.occurrences = count.max(1);
            let inserted = tx
                .execute(
                    "INSERT INTO incidents (id, project, fingerprint, status, created_at, \
                     last_seen_at, occurrences, doc, opened_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, clock_timestamp()) \
                     ON CONFLICT DO NOTHING",
                    &[
                        &record.id,
                        &self.who.project,
                        &fingerprint,
                        &record.status.as_str(),
                        &record.created_at,
                        &record.last_seen_at,
                        &as_i64(record.occurrences),
                        &to_doc(&record)?,
                    ],
                )
                .await
                .map_err(|e| self.db(e))?;
            if inserted == 0 {
                // Another host opened this incident, or took this id, a moment ago: look
                // again, in a new transaction that sees its commit.
                tx.rollback().await.map_err(|e| self.db(e))?;
                made = Some(record);
                continue;
            }
            record.hosts = self
                .count_host(&tx, &record.id, count.max(1), &now_text)
                .await?;
            self.write(&tx, &record).await?;
            export_to(&self.errors_dir, &record)?;
            tx.commit().await.map_err(|e| self.db(e))?;
            return Ok(Some((record, true)));
        }
        Err(PgError::Busy {
            at: self.at.clone(),
        }
        .into())
    }

    async fn update(
        &self,
        id: &str,
        mut turn: Turn<Record, Record>,
    ) -> Result<Record, RecordError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.db(e))?;
        let row = tx
            .query_opt(
                "SELECT doc FROM incidents WHERE id = $1 AND project = $2 FOR UPDATE",
                &[&id, &self.who.project],
            )
            .await
            .map_err(|e| self.db(e))?
            .ok_or_else(|| RecordError::NotFound(id.to_string()))?;
        let before = record_of(row.get(0))?;
        let mut record = turn.ask(before).await?;
        // The id and the fold are the store's, not the change's.
        record.id = id.to_string();
        self.write(&tx, &record).await?;
        export_to(&self.errors_dir, &record)?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(record)
    }

    /// The newest fixed incident of `fingerprint` whose fix this host has not followed yet.
    async fn fixed_not_followed(
        &self,
        tx: &Transaction<'_>,
        fingerprint: &str,
    ) -> Result<Option<Record>, RecordError> {
        let row = tx
            .query_opt(
                "SELECT doc FROM incidents WHERE project = $1 AND fingerprint = $2 \
                 AND status IN ('applied', 'committed', 'pushed') \
                 AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements( \
                     COALESCE(doc->'followed', '[]'::jsonb)) f WHERE f->>'host' = $3) \
                 ORDER BY created_at DESC, id DESC LIMIT 1 FOR UPDATE",
                &[&self.who.project, &fingerprint, &self.who.host],
            )
            .await
            .map_err(|e| self.db(e))?;
        row.map(|r| record_of(r.get(0))).transpose()
    }

    /// Saves `record`'s row; a status that leaves `healing` ends its lease.
    async fn write(&self, tx: &Transaction<'_>, record: &Record) -> Result<(), RecordError> {
        let columns = crate::record::index::Columns::of(record);
        let fixed_now = record
            .status
            .is_fixed()
            .then(|| rfc3339(time::OffsetDateTime::now_utc()));
        let written = tx
            .execute(
                "UPDATE incidents SET status = $2, last_seen_at = $3, occurrences = $4, doc = $5, \
                 exc_type = $6, file = $7, message = $8, fixed_at = COALESCE(fixed_at, $9), \
                 lease_holder = CASE WHEN $2 = 'healing' THEN lease_holder END, \
                 lease_until = CASE WHEN $2 = 'healing' THEN lease_until END, \
                 updated_at = clock_timestamp() WHERE id = $1",
                &[
                    &record.id,
                    &record.status.as_str(),
                    &record.last_seen_at,
                    &as_i64(record.occurrences),
                    &to_doc(record)?,
                    &columns.exc_type,
                    &columns.file,
                    &columns.message,
                    &fixed_now,
                ],
            )
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Err(PgError::Reopened {
                at: self.at.clone(),
                id: record.id.clone(),
            }
            .into()),
            Err(e) => Err(self.db(e).into()),
        }
    }

    /// Adds `count` occurrences from this host to incident `id`; returns every host's.
    async fn count_host(
        &self,
        tx: &Transaction<'_>,
        id: &str,
        count: u64,
        now: &str,
    ) -> Result<Vec<HostSeen>, RecordError> {
        if count > 0 {
            tx.execute(
                "INSERT INTO occurrences_by_host (incident, host, occurrences, first_seen_at, \
                 last_seen_at) VALUES ($1, $2, $3, $4, $4) \
                 ON CONFLICT (incident, host) DO UPDATE SET \
                 occurrences = occurrences_by_host.occurrences + EXCLUDED.occurrences, \
                 last_seen_at = EXCLUDED.last_seen_at",
                &[&id, &self.who.host, &as_i64(count), &now],
            )
            .await
            .map_err(|e| self.db(e))?;
        }
        let rows = tx
            .query(
                "SELECT host, occurrences, first_seen_at, last_seen_at FROM occurrences_by_host \
                 WHERE incident = $1 ORDER BY host",
                &[&id],
            )
            .await
            .map_err(|e| self.db(e))?;
        Ok(rows
            .into_iter()
            .map(|r| HostSeen {
                host: r.get(0),
                occurrences: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
                first_seen_at: r.get(2),
                last_seen_at: r.get(3),
            })
            .collect())
    }

    /// The seed's id form, unique across the fleet: `err_YYYYMMDD_HHMMSS`, then `_2`, `_3`…
    /// for incidents of one second. The insert's conflict check settles a race for one id.
    async fn next_id(
        &self,
        tx: &Transaction<'_>,
        now: time::OffsetDateTime,
    ) -> Result<String, RecordError> {
        let base = base_id(now);
        let rows = tx
            .query(
                "SELECT id FROM incidents WHERE id = $1 OR id LIKE $2",
                &[&base, &format!("{base}\\_%")],
            )
            .await
            .map_err(|e| self.db(e))?;
        let taken: Vec<String> = rows.into_iter().map(|r| r.get(0)).collect();
        let mut n = 1u32;
        loop {
            let id = if n == 1 {
                base.clone()
            } else {
                format!("{base}_{n}")
            };
            if !taken.contains(&id) {
                return Ok(id);
            }
            n += 1;
        }
    }
}

fn to_doc(record: &Record) -> Result<serde_json::Value, RecordError> {
    serde_json::to_value(record).map_err(|source| RecordError::Corrupt {
        id: record.id.clone(),
        source,
    })
}
