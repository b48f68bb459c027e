//! One healing per error across the fleet: a healer claims an incident with
//! `SELECT … FOR UPDATE SKIP LOCKED` and holds a lease on it, renewed by a heartbeat while it
//! heals. A healer that dies stops renewing; once the lease has run out, another healer may
//! claim the incident and heal it from the start (nothing of the dead one's reached the tree
//! of another host: a fix is applied only by its own healer, after its proof).

use std::time::Duration;

use deadpool_postgres::Transaction;

use super::{Conn, PgError, Postgres, record_of};
use crate::record::model::{Record, Status};
use crate::record::{RecordError, export_to};

/// A claim's terms: how long a healing holds an incident without a heartbeat.
#[derive(Debug, Clone, Copy)]
pub struct Lease {
    pub length: Duration,
}

impl Lease {
    fn seconds(self) -> f64 {
        self.length.as_secs_f64().max(1.0)
    }

    /// How often a heartbeat renews it: three times per lease, so one late beat loses nothing.
    fn beat(self) -> Duration {
        (self.length / 3).max(Duration::from_millis(200))
    }
}

/// Which incident a claim is for.
enum Pick {
    /// This one, waiting for its row lock.
    Id(String),
    /// The queue's oldest that waits for a healer, skipping rows locked by other claims.
    Oldest,
}

impl Postgres {
    /// Claims incident `id` for a healing by this process: `Some(record)`, now `healing`,
    /// when it may be healed (or its healer's lease ran out), `None` when another healer holds
    /// it or it needs no healing. A heartbeat renews the lease until the record leaves
    /// `healing`. The row lock is waited for, not skipped: any writer holds it for moments
    /// (an agent counting a repeat), and a claim that skipped it would leave the incident
    /// waiting for the next offer; two healers claiming one incident are ordered by it, and
    /// the second finds it taken. ([`Postgres::claim_next`], which scans the queue, skips.)
    pub fn claim(&self, id: &str) -> Result<Option<Record>, RecordError> {
        self.claim_by(Pick::Id(id.to_string()))
    }

    /// Claims the project's oldest incident that waits for a healer: one no healing has taken
    /// yet (an agent's), or one whose healer's lease ran out. `None` when there is none, or
    /// each is being claimed by another healer at this moment.
    pub fn claim_next(&self) -> Result<Option<Record>, RecordError> {
        self.claim_by(Pick::Oldest)
    }

    /// Locks the row `pick` names, takes it for this process if it may be healed, and starts
    /// the heartbeat of a claim made.
    fn claim_by(&self, pick: Pick) -> Result<Option<Record>, RecordError> {
        let lease = self.lease;
        let claimed = self.call(move |conn| async move {
            let mut client = conn.client().await?;
            let tx = client.transaction().await.map_err(|e| conn.db(e))?;
            let row = match &pick {
                Pick::Id(id) => {
                    tx.query_opt(
                        "SELECT doc, lease_until IS NULL OR lease_until < now(), lease_holder \
                         FROM incidents WHERE id = $1 AND project = $2 FOR UPDATE",
                        &[id, &conn.who.project],
                    )
                    .await
                }
                Pick::Oldest => {
                    tx.query_opt(
                        "SELECT doc, lease_until IS NULL OR lease_until < now(), lease_holder \
                         FROM incidents WHERE project = $1 AND (status = 'detected' \
                             OR (status = 'healing' AND lease_until < now())) \
                         ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
                        &[&conn.who.project],
                    )
                    .await
                }
            }
            .map_err(|e| conn.db(e))?;
            let Some(row) = row else {
                return match pick {
                    Pick::Id(id) => Err(RecordError::NotFound(id)),
                    Pick::Oldest => Ok(None),
                };
            };
            let record = record_of(row.get(0))?;
            let (expired, holder) = (row.get(1), row.get(2));
            conn.take(tx, record, expired, holder, lease).await
        })?;
        if let Some(record) = &claimed {
            self.heartbeat(&record.id);
        }
        Ok(claimed)
    }

    /// Renews this process's lease on `id` until the record leaves `healing` (or the lease
    /// was lost). A server that does not answer is tried again at the next beat: a lease
    /// that runs out meanwhile goes to another healer, which is what a dead healer's does.
    fn heartbeat(&self, id: &str) {
        let id = id.to_string();
        let lease = self.lease;
        self.spawn(move |conn| async move {
            let holder = conn.holder();
            loop {
                tokio::time::sleep(lease.beat()).await;
                let Ok(client) = conn.client().await else {
                    continue;
                };
                let renewed = client
                    .execute(
                        "UPDATE incidents SET lease_until = now() + make_interval(secs => $3) \
                         WHERE id = $1 AND lease_holder = $2 AND status = 'healing'",
                        &[&id, &holder, &lease.seconds()],
                    )
                    .await;
                if let Ok(0) = renewed {
                    return;
                }
            }
        });
    }
}

impl Conn {
    /// Makes `record` this process's healing, if it may be healed, and commits `tx` (which
    /// holds its row).
    async fn take(
        &self,
        tx: Transaction<'_>,
        mut record: Record,
        expired: bool,
        holder: Option<String>,
        lease: Lease,
    ) -> Result<Option<Record>, RecordError> {
        let abandoned = record.status == Status::Healing && expired;
        if !record.status.may_heal() && !abandoned {
            return Ok(None);
        }
        if abandoned {
            let who = holder.unwrap_or_else(|| "its healer".to_string());
            let text = format!(
                "{who} stopped renewing its lease on this healing (it died or lost the database): \
                 {} heals it again from the start",
                self.holder()
            );
            tracing::warn!("incident {}: {text}", record.id);
            record.reason = Some(text);
        }
        record.status = Status::Healing;
        let doc = serde_json::to_value(&record).map_err(|source| RecordError::Corrupt {
            id: record.id.clone(),
            source,
        })?;
        tx.execute(
            "UPDATE incidents SET status = 'healing', doc = $2, lease_holder = $3, \
             lease_until = now() + make_interval(secs => $4), \
             claimed_at = COALESCE(claimed_at, clock_timestamp()), \
             updated_at = clock_timestamp() WHERE id = $1",
            &[&record.id, &doc, &self.holder(), &lease.seconds()],
        )
        .await
        .map_err(|e| self.db(e))?;
        export_to(&self.errors_dir, &record)?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(Some(record))
    }

    /// This process, as a lease names it.
    fn holder(&self) -> String {
        format!("{}/{}", self.who.host, std::process::id())
    }
}

impl Postgres {
    /// The project's incidents that wait for a healer, oldest first: not yet taken, or whose
    /// healer's lease ran out. Read without locks: the claim settles who heals each.
    pub fn waiting(&self, limit: i64) -> Result<Vec<String>, PgError> {
        self.call(move |conn| async move {
            let client = conn.client().await?;
            let rows = client
                .query(
                    "SELECT id FROM incidents WHERE project = $1 AND (status = 'detected' \
                         OR (status = 'healing' AND lease_until < now())) \
                     ORDER BY created_at, id LIMIT $2",
                    &[&conn.who.project, &limit],
                )
                .await
                .map_err(|e| conn.db(e))?;
            Ok(rows.into_iter().map(|r| r.get(0)).collect())
        })
    }

    /// The project's pushed fixes of errors this host saw, that this host has not followed.
    pub fn to_follow(&self) -> Result<Vec<Record>, RecordError> {
        let docs: Vec<serde_json::Value> = self.call(move |conn| async move {
            let client = conn.client().await?;
            let rows = client
                .query(
                    "SELECT i.doc FROM incidents i \
                     JOIN occurrences_by_host o ON o.incident = i.id AND o.host = $2 \
                     WHERE i.project = $1 AND i.status = 'pushed' \
                     AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements( \
                         COALESCE(i.doc->'followed', '[]'::jsonb)) f WHERE f->>'host' = $2) \
                     ORDER BY i.created_at, i.id",
                    &[&conn.who.project, &conn.who.host],
                )
                .await
                .map_err(|e| conn.db(e))?;
            Ok::<_, PgError>(rows.into_iter().map(|r| r.get(0)).collect())
        })?;
        docs.into_iter().map(record_of).collect()
    }
}
