//! The hourly model-call budget, counted for the whole fleet: every host's calls for the
//! project are rows of one table.

use super::{PgError, Postgres};

impl Postgres {
    /// Model calls made for this project since `since` (unix seconds), by any host.
    pub fn llm_calls_since(&self, since: i64) -> Result<u64, PgError> {
        self.call(move |conn| async move {
            let client = conn.client().await?;
            let n: i64 = client
                .query_one(
                    "SELECT COUNT(*) FROM llm_calls WHERE project = $1 AND at >= $2",
                    &[&conn.who.project, &since],
                )
                .await
                .map_err(|e| conn.db(e))?
                .get(0);
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// Counts one model call of this host against the fleet's hourly limit.
    pub fn add_llm_call(&self, at: i64, incident: &str, model: &str) -> Result<(), PgError> {
        let (incident, model) = (incident.to_string(), model.to_string());
        self.call(move |conn| async move {
            let client = conn.client().await?;
            client
                .execute(
                    "INSERT INTO llm_calls (project, at, incident, model, host) \
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&conn.who.project, &at, &incident, &model, &conn.who.host],
                )
                .await
                .map_err(|e| conn.db(e))?;
            Ok(())
        })
    }
}
