//! The services that `heal run`, `heal retry`, `heal revert` and `heal serve` share: the store, the Slack
//! notifier with the task that records its deliveries, and the git lane. One start and one
//! shutdown, so a command that heals or reports wires them the same way.
//!
//! Shutdown goes in the one order that loses nothing: the git lane first (it sends the final
//! reports), then Slack's queue, then the deliveries task, which ends once every sender of
//! Slack's outcomes is gone. Every wait is bounded, so heal's exit is.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::publish::{GitJob, Publisher};
use crate::config::Config;
use crate::notify::{Delivery, Notifier};
use crate::record::{Store, off_thread};

/// How long heal waits, when it stops, for Slack messages still being sent.
const NOTIFY_DRAIN: Duration = Duration::from_secs(15);
/// How long heal, asked to stop, waits for a commit or push in flight; what is left is
/// finished at its next start (the journal says what).
const GIT_GRACE_ON_STOP: Duration = Duration::from_secs(3);
/// How long heal, asked to stop, waits for Slack messages still being sent.
const NOTIFY_DRAIN_ON_STOP: Duration = Duration::from_secs(1);
/// How long heal waits, once Slack's queue is drained, for the last outcomes to be recorded.
const DELIVERIES_WAIT: Duration = Duration::from_secs(5);

/// The services a command runs with, started by [`Services::start`] and stopped by
/// [`Services::shutdown`].
pub(crate) struct Services {
    config: Arc<Config>,
    /// `None` when `heal run` could not open it: heal then supervises without records.
    pub(crate) store: Option<Arc<Store>>,
    /// `None` when Slack is not configured.
    pub(crate) notifier: Option<Notifier>,
    /// The git lane's queue: `None` until [`Services::start_git_lane`], without a store, and
    /// when `git.mode = off`.
    pub(crate) git: Option<mpsc::UnboundedSender<GitJob>>,
    lane: Option<JoinHandle<()>>,
    deliveries: JoinHandle<()>,
}

/// How the command's work ended, which bounds what shutdown waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Done: the git lane finishes what it was given (each push bounded by its timeout), and
    /// Slack gets `NOTIFY_DRAIN`.
    Finished,
    /// The healing was cancelled (a stop signal, or the shutdown grace ran out): git and Slack
    /// get a brief wait; an unfinished publish is in the journal and is finished at the next
    /// start.
    Cancelled,
}

impl Services {
    /// Starts the notifier (when Slack is configured) and the task that records each of its
    /// attempts in `store`. The git lane starts apart, with [`Services::start_git_lane`]: only
    /// a command that heals needs it.
    pub(crate) fn start(config: Arc<Config>, store: Option<Arc<Store>>) -> Services {
        let (deliveries_tx, deliveries_rx) = mpsc::unbounded_channel();
        let notifier = Notifier::for_config(&config, deliveries_tx);
        let deliveries = tokio::spawn(record_deliveries(store.clone(), deliveries_rx));
        Services {
            config,
            store,
            notifier,
            git: None,
            lane: None,
            deliveries,
        }
    }

    /// Starts the git lane, which commits what the healer applied and reverts what regressed.
    /// Without a store there is nothing to publish from, and with `git.mode = off` nothing to
    /// do: no lane then.
    pub(crate) fn start_git_lane(&mut self) {
        let Some(store) = &self.store else { return };
        (self.git, self.lane) = Publisher {
            store: store.clone(),
            notifier: self.notifier.clone(),
            config: self.config.clone(),
        }
        .start();
    }

    /// Waits for the git lane, then for Slack's queue, then for the deliveries to be recorded.
    /// Every other sender of the git lane's queue (the healer, the incidents task) must be
    /// gone: the lane ends when its queue closes.
    pub(crate) async fn shutdown(self, ending: Ending) {
        let Services {
            notifier,
            git,
            lane,
            deliveries,
            ..
        } = self;
        drop(git);
        // The commits and pushes of what was applied (bounded by the push timeouts). Asked to
        // stop, heal waits for them only briefly: an unfinished publish is in the journal and
        // is finished at the next start.
        if let Some(task) = lane {
            match ending {
                Ending::Cancelled => {
                    if tokio::time::timeout(GIT_GRACE_ON_STOP, task).await.is_err() {
                        tracing::warn!(
                            "heal stops with a commit or push in flight; it will be finished at its next start"
                        );
                    }
                }
                Ending::Finished => {
                    let _ = task.await;
                }
            }
        }
        if let Some(n) = &notifier {
            let grace = match ending {
                Ending::Cancelled => NOTIFY_DRAIN_ON_STOP,
                Ending::Finished => NOTIFY_DRAIN,
            };
            n.drain(grace).await;
        }
        // The deliveries task ends once the notifier (and its sender task) is gone.
        drop(notifier);
        let _ = tokio::time::timeout(DELIVERIES_WAIT, deliveries).await;
    }
}

/// The store for `heal run`, which goes on without one: a store that cannot be opened turns
/// heal into a plain supervisor that says so.
pub(super) fn open_store(config: &Config) -> Option<Arc<Store>> {
    match Store::open_for(config) {
        Ok(store) => Some(Arc::new(store)),
        Err(e) => {
            tracing::error!(
                "{e}; heal goes on supervising without records: fix the storage folder, or set HEAL_STORAGE_DIR"
            );
            None
        }
    }
}

/// Writes each Slack attempt into its incident's record.
async fn record_deliveries(
    store: Option<Arc<Store>>,
    mut deliveries: mpsc::UnboundedReceiver<Delivery>,
) {
    while let Some(delivery) = deliveries.recv().await {
        let attempt = &delivery.attempt;
        if !attempt.ok {
            tracing::warn!(
                "slack {} (attempt {}) failed: {}",
                attempt.message,
                attempt.attempt,
                attempt.error.as_deref().unwrap_or("unknown error")
            );
        }
        let (Some(store), Some(id)) = (store.clone(), delivery.incident_id.clone()) else {
            continue;
        };
        off_thread("record a Slack delivery", move || {
            store.update(&id, |r| {
                r.notifications.push(delivery.attempt);
                if let Some(thread) = delivery.thread {
                    r.slack = Some(thread);
                }
            })
        })
        .await;
    }
}
