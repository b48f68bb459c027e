//! Healing what `heal serve` hears of: the same healer as `heal run`'s (gates, rules, model,
//! proof, apply, commit, report), fed by the recorder with each new incident.
//!
//! What differs is what the source cannot give:
//! - **Reproduction** belongs to the proof: the healer's command is `serve.rerun_command`,
//!   run in the sandboxed copy like the supervised program under `heal run`. Without it,
//!   `verify.commands` alone judge a fix, and with neither no fix is applied (the gates say
//!   why in the record).
//! - **Restart** belongs to the supervisor: after a fix is applied, [`super::restart`] runs
//!   `serve.restart_command`.
//! - **Regression**: a fix whose error an SDK reports again within `watch_seconds` is rolled
//!   back, as `heal run` does.

use std::sync::{Arc, OnceLock};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::notify::Notifier;
use crate::pipeline::CANCEL_CUT;
use crate::pipeline::healing::{self, Healer, Job, Watch};
use crate::pipeline::publish::GitJob;
use crate::pipeline::services::Services;
use crate::prove::jail::{Jail, JailError};
use crate::record::Store;

/// What the recorder needs to hand incidents to the healer and to watch its fixes.
#[derive(Clone)]
pub struct Queue {
    jobs: mpsc::UnboundedSender<Job>,
    watch: Arc<Watch>,
    git: Option<mpsc::UnboundedSender<GitJob>>,
    config: Arc<Config>,
    notifier: Option<Notifier>,
}

impl Queue {
    /// A new incident, for healing.
    pub fn heal(&self, id: &str) {
        let _ = self.jobs.send(Job::Heal(id.to_string()));
    }

    /// The error of `fingerprint` came again: a fix applied for it within `watch_seconds` did
    /// not hold, and is rolled back.
    pub async fn came_back(&self, store: &Arc<Store>, fingerprint: &str) {
        if let Some(watched) = self.watch.take(fingerprint, self.config.healing.watch) {
            healing::roll_back(
                store,
                &self.config,
                self.notifier.as_ref(),
                self.git.as_ref(),
                watched,
            )
            .await;
        }
    }
}

/// The healer and the restarter of one `heal serve`.
pub struct Healing {
    pub queue: Queue,
    cancel: CancellationToken,
    why: Arc<OnceLock<String>>,
    healer: JoinHandle<()>,
    restarter: JoinHandle<()>,
}

impl Healing {
    /// Starts healing when `ENABLE_AUTO_HEALING` is on: finishes or undoes what a killed heal
    /// left half-done, starts the git lane, the healer and the restarter. A sandbox that is
    /// required and cannot start is an error: `heal serve` does not start.
    pub(crate) async fn start(
        config: &Arc<Config>,
        store: &Arc<Store>,
        services: &mut Services,
    ) -> Result<Option<Healing>, JailError> {
        if !config.auto_healing {
            return Ok(None);
        }
        let command = config.serve.rerun_command.clone();
        let jail = Arc::new(Jail::start(
            &config.healing.jail,
            &config.root,
            &crate::config::secret_names(),
            &command,
        )?);
        if let Some(why) = jail.missing() {
            tracing::warn!(
                "heal proves fixes without a sandbox: {why}. Instant rules still run; model fixes are refused until bubblewrap works here, or verify.sandbox = \"off\" is set"
            );
        }
        if command.is_empty() && config.healing.verify_commands.is_empty() {
            tracing::warn!(
                "neither serve.rerun_command nor verify.commands is set: errors are recorded and alerted, and no fix is applied (nothing could prove one)"
            );
        }
        crate::pipeline::recover_and_say(config, store, services.notifier.as_ref()).await;
        services.start_git_lane();
        let (restart_tx, restart_rx) = mpsc::unbounded_channel();
        let (jobs, jobs_rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let why: Arc<OnceLock<String>> = Arc::default();
        let healer = Healer::new(
            store.clone(),
            services.notifier.clone(),
            config.clone(),
            command,
            restart_tx,
            services.git.clone(),
        )
        .with_cancel(cancel.clone(), why.clone())
        .with_jail(jail);
        let queue = Queue {
            jobs,
            watch: healer.watch.clone(),
            git: services.git.clone(),
            config: config.clone(),
            notifier: services.notifier.clone(),
        };
        let healer = tokio::spawn(healer.run(jobs_rx));
        let restarter = tokio::spawn(super::restart::restarts(
            restart_rx,
            config.clone(),
            store.clone(),
            services.notifier.clone(),
        ));
        Ok(Some(Healing {
            queue,
            cancel,
            why,
            healer,
            restarter,
        }))
    }

    /// heal serve was asked to stop: a healing in progress is cancelled (its incidents end
    /// `interrupted`, nothing half-applied), and heal waits for that briefly. Every clone of
    /// the queue (the router's) must be gone, so the healer's queue closes.
    pub async fn stop(self) {
        let Healing {
            queue,
            cancel,
            why,
            mut healer,
            restarter,
        } = self;
        drop(queue);
        let _ = why.set("heal serve was asked to stop".to_string());
        cancel.cancel();
        if tokio::time::timeout(CANCEL_CUT * 2, &mut healer)
            .await
            .is_err()
        {
            tracing::warn!("heal serve stops with a healing that did not end when cancelled");
            // Dropping it closes the restarter's queue.
            healer.abort();
        }
        // A restart in flight is the user's command: it gets its own time limit.
        let _ = restarter.await;
    }
}
