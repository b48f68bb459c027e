//! `heal migrate --to postgres://…`: a project's SQLite history into the fleet's store, each
//! incident once, under its own id when it is free. Run again, it adds nothing twice.

use super::{PgError, Postgres, as_i64};
use crate::record::RecordError;
use crate::record::model::Record;

/// What became of one incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    /// Added under its own id.
    Added,
    /// Already there (an earlier migration).
    Present,
    /// Its id was another incident's in the fleet's store: added under this one.
    Renamed(String),
    /// The fleet's store has an open incident of the same error: its occurrences were added
    /// to that one.
    Folded(String),
}

impl Postgres {
    /// Adds `record` (from this host's SQLite store) to the fleet's store.
    pub fn import(&self, record: &Record) -> Result<Imported, RecordError> {
        let record = record.clone();
        self.call(move |conn| async move {
            let mut client = conn.client().await?;
            let tx = client.transaction().await.map_err(|e| conn.db(e))?;
            let existing = tx
                .query_opt(
                    "SELECT project, fingerprint FROM incidents WHERE id = $1",
                    &[&record.id],
                )
                .await
                .map_err(|e| conn.db(e))?;
            let mut id = record.id.clone();
            if let Some(row) = existing {
                let (project, fingerprint): (String, String) = (row.get(0), row.get(1));
                if project == conn.who.project && fingerprint == record.fingerprint {
                    return Ok(Imported::Present);
                }
                id = format!("{}_{}", record.id, conn.who.host.replace(['/', ' '], "-"));
            }
            if record.status.is_open() {
                let open = tx
                    .query_opt(
                        "SELECT id FROM incidents WHERE project = $1 AND fingerprint = $2 \
                         AND status NOT IN ('applied', 'committed', 'pushed', 'reverted') \
                         FOR UPDATE",
                        &[&conn.who.project, &record.fingerprint],
                    )
                    .await
                    .map_err(|e| conn.db(e))?;
                if let Some(row) = open {
                    let open_id: String = row.get(0);
                    conn.add_host_occurrences(&tx, &open_id, &record).await?;
                    tx.execute(
                        "UPDATE incidents SET occurrences = occurrences + $2, \
                         doc = jsonb_set(doc, '{occurrences}', to_jsonb(occurrences + $2)), \
                         updated_at = clock_timestamp() WHERE id = $1",
                        &[&open_id, &as_i64(record.occurrences)],
                    )
                    .await
                    .map_err(|e| conn.db(e))?;
                    tx.commit().await.map_err(|e| conn.db(e))?;
                    return Ok(Imported::Folded(open_id));
                }
            }
            let mut moved = record.clone();
            moved.id = id.clone();
            let doc = serde_json::to_value(&moved).map_err(|source| RecordError::Corrupt {
                id: moved.id.clone(),
                source,
            })?;
            let columns = crate::record::index::Columns::of(&moved);
            tx.execute(
                "INSERT INTO incidents (id, project, fingerprint, status, created_at, \
                 last_seen_at, occurrences, doc, exc_type, file, message) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[
                    &moved.id,
                    &conn.who.project,
                    &moved.fingerprint,
                    &moved.status.as_str(),
                    &moved.created_at,
                    &moved.last_seen_at,
                    &as_i64(moved.occurrences),
                    &doc,
                    &columns.exc_type,
                    &columns.file,
                    &columns.message,
                ],
            )
            .await
            .map_err(|e| conn.db(e))?;
            conn.add_host_occurrences(&tx, &moved.id, &moved).await?;
            tx.commit().await.map_err(|e| conn.db(e))?;
            Ok(if id == record.id {
                Imported::Added
            } else {
                Imported::Renamed(id)
            })
        })
    }
}

impl super::Conn {
    async fn add_host_occurrences(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        id: &str,
        record: &Record,
    ) -> Result<(), PgError> {
        tx.execute(
            "INSERT INTO occurrences_by_host (incident, host, occurrences, first_seen_at, \
             last_seen_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (incident, host) DO UPDATE \
             SET occurrences = occurrences_by_host.occurrences + EXCLUDED.occurrences, \
             last_seen_at = GREATEST(occurrences_by_host.last_seen_at, EXCLUDED.last_seen_at)",
            &[
                &id,
                &self.who.host,
                &as_i64(record.occurrences),
                &record.created_at,
                &record.last_seen_at,
            ],
        )
        .await
        .map_err(|e| self.db(e))?;
        Ok(())
    }
}

/// What `heal migrate` did.
#[derive(Debug, Default)]
pub struct Report {
    pub added: usize,
    pub present: usize,
    /// (the id here, the id in the fleet's store)
    pub renamed: Vec<(String, String)>,
    /// (the id here, the open incident its occurrences went to)
    pub folded: Vec<(String, String)>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} incident(s) added, {} already there",
            self.added, self.present
        )?;
        for (here, there) in &self.renamed {
            write!(
                f,
                "\n  {here}: its id was taken in the fleet's store, added as {there}"
            )?;
        }
        for (here, there) in &self.folded {
            write!(
                f,
                "\n  {here}: the fleet's store has this error open as {there}; its occurrences were added there"
            )?;
        }
        Ok(())
    }
}

/// Copies every incident of `local` (a host's SQLite store) into `pg`, oldest first.
pub fn migrate(local: &crate::record::Store, pg: &Postgres) -> Result<Report, RecordError> {
    let mut records = local.list(usize::MAX)?;
    records.reverse();
    let mut report = Report::default();
    for record in &records {
        match pg.import(record)? {
            Imported::Added => report.added += 1,
            Imported::Present => report.present += 1,
            Imported::Renamed(id) => report.renamed.push((record.id.clone(), id)),
            Imported::Folded(id) => report.folded.push((record.id.clone(), id)),
        }
    }
    Ok(report)
}
