//! Git is serialized per repository across the fleet: a healer commits and pushes holding a
//! PostgreSQL advisory lock, taken in a transaction (`pg_try_advisory_xact_lock`) that stays
//! open while the commit and push run. A healer that dies mid-push loses its connection, and
//! the lock with it.

use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use super::{PgError, Postgres};

/// How long a healer waits for another's commit and push before giving up the wait.
const WAIT: Duration = Duration::from_secs(600);
/// Between two tries of the lock.
const RETRY: Duration = Duration::from_millis(200);

/// Held while a healer commits and pushes; dropping it ends the transaction, and the lock.
pub struct GitLock {
    _release: oneshot::Sender<()>,
}

impl Postgres {
    /// Takes the project's git lock, waiting while another healer holds it.
    pub async fn git_lock(&self) -> Result<GitLock, PgError> {
        let key = lock_key(&self.who.project);
        let conn = self.conn();
        let ready = self.ready();
        let (locked_tx, locked) = oneshot::channel::<Result<(), PgError>>();
        let (release, released) = oneshot::channel::<()>();
        self.handle.spawn(async move {
            let mut locked_tx = Some(locked_tx);
            let held = async {
                ready.await?;
                let mut client = conn.client().await?;
                let tx = client.transaction().await.map_err(|e| conn.db(e))?;
                let deadline = tokio::time::Instant::now() + WAIT;
                loop {
                    let got: bool = tx
                        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&key])
                        .await
                        .map_err(|e| conn.db(e))?
                        .get(0);
                    if got {
                        break;
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return Err(PgError::Timeout {
                            at: conn.at.clone(),
                        });
                    }
                    tokio::time::sleep(RETRY).await;
                }
                if let Some(locked) = locked_tx.take() {
                    let _ = locked.send(Ok(()));
                }
                // Held until the guard is dropped (or its owner is gone).
                let _ = released.await;
                let _ = tx.rollback().await;
                Ok(())
            };
            if let Err(e) = held.await
                && let Some(locked) = locked_tx.take()
            {
                let _ = locked.send(Err(e));
            }
        });
        locked.await.map_err(|_| PgError::Gone)??;
        Ok(GitLock { _release: release })
    }
}

/// The advisory lock's key for a project: the first 8 bytes of a SHA-256 of its name.
fn lock_key(project: &str) -> i64 {
    let digest = Sha256::digest(format!("heal-git\n{project}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}
