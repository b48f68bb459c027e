//! What the dashboard of a fleet reads: the project's incidents changed since a time, the
//! model calls of a window, and each host's last report.

use super::{PgError, Postgres};
use crate::record::RecordError;
use crate::record::model::Record;

/// One host of the fleet, as the dashboard shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HostReport {
    pub host: String,
    pub incidents: u64,
    pub occurrences: u64,
    /// RFC 3339, UTC: its latest occurrence.
    pub last_seen_at: String,
}

/// A page of changes: the records, and the database's clock when they were read.
pub struct Changes {
    pub records: Vec<Record>,
    /// Unix seconds (with fractions) on the database's clock.
    pub read_at: f64,
}

impl Postgres {
    /// The project's incidents written at or after `since` (unix seconds on the database's
    /// clock), oldest change first.
    pub fn changed_since(&self, since: f64) -> Result<Changes, RecordError> {
        let (docs, read_at) = self.call(move |conn| async move {
            let client = conn.client().await?;
            let read_at: f64 = client
                .query_one("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8", &[])
                .await
                .map_err(|e| conn.db(e))?
                .get(0);
            let rows = client
                .query(
                    "SELECT doc FROM incidents WHERE project = $1 \
                     AND updated_at >= to_timestamp($2) ORDER BY updated_at",
                    &[&conn.who.project, &since],
                )
                .await
                .map_err(|e| conn.db(e))?;
            let docs: Vec<serde_json::Value> = rows.into_iter().map(|r| r.get(0)).collect();
            Ok::<_, PgError>((docs, read_at))
        })?;
        let records = docs
            .into_iter()
            .map(super::record_of)
            .collect::<Result<_, _>>()?;
        Ok(Changes { records, read_at })
    }

    /// The project's model calls at or after `since` (unix seconds): (at, incident, model).
    pub fn llm_calls(&self, since: i64) -> Result<Vec<(i64, String, String)>, PgError> {
        self.call(move |conn| async move {
            let client = conn.client().await?;
            let rows = client
                .query(
                    "SELECT at, incident, model FROM llm_calls WHERE project = $1 AND at >= $2",
                    &[&conn.who.project, &since],
                )
                .await
                .map_err(|e| conn.db(e))?;
            Ok(rows
                .into_iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect())
        })
    }

    /// Each host that reported an error of the project: how many incidents and occurrences,
    /// and its latest.
    pub fn hosts(&self) -> Result<Vec<HostReport>, PgError> {
        self.call(move |conn| async move {
            let client = conn.client().await?;
            let rows = client
                .query(
                    "SELECT o.host, COUNT(*), SUM(o.occurrences)::bigint, MAX(o.last_seen_at) \
                     FROM occurrences_by_host o JOIN incidents i ON i.id = o.incident \
                     WHERE i.project = $1 GROUP BY o.host ORDER BY o.host",
                    &[&conn.who.project],
                )
                .await
                .map_err(|e| conn.db(e))?;
            Ok(rows
                .into_iter()
                .map(|r| HostReport {
                    host: r.get(0),
                    incidents: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
                    occurrences: u64::try_from(r.get::<_, i64>(2)).unwrap_or(0),
                    last_seen_at: r.get(3),
                })
                .collect())
        })
    }
}
