//! The pipeline of `heal run`: supervise → detect → record → notify → heal (analyse → prove →
//! apply → report), and restart.
//!
//! Three tasks cooperate:
//! - the supervision loop (this module's [`run`]) starts the child, forwards signals and decides
//!   restarts;
//! - the incident task turns what detection found into records and alerts, in the order it was
//!   found, batching repeats so that an error storm costs one write per batch, not per line;
//! - the healer ([`healing`]) takes new incidents one at a time through the gates, the model,
//!   the proof and the application of a fix;
//! - the delivery task writes each Slack attempt's outcome into its incident's record.
//!
//! The supervised program never waits on the store or on Slack: a store that cannot be opened
//! turns heal into a plain pass-through supervisor that says so.

mod exports;
pub mod healing;
mod manual;
pub mod publish;
mod recover;

pub use manual::{RevertError, retry, revert};

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::detect::locate::locate_traceback;
use crate::notify::{Delivery, Notifier};
use crate::prove::jail::Jail;
use crate::record::build::{Finding, RunContext};
use crate::record::model::TestRef;
use crate::record::model::{ExitInfo, Status};
use crate::record::{Export, Store, journal, off_thread};
use crate::supervise::{self, ChildSpec, Decision, Detected, Exit, Restarts};
use crate::testrun::{self, TestRun};
use healing::{Healer, Job, Watch};
use publish::{GitJob, Publisher};

/// How long to wait for a child's output to end after the child itself has exited (a
/// grandchild may hold the pipe open).
const OUTPUT_LINGER: Duration = Duration::from_secs(2);
/// A traceback printed this long before a crash is taken as the crash's cause.
const CRASH_CAUSE_WINDOW: Duration = Duration::from_secs(10);
/// Events handled per batch: bounds the work between two store writes.
const BATCH: usize = 1024;
/// How long heal waits, when it stops, for Slack messages still being sent.
const NOTIFY_DRAIN: Duration = Duration::from_secs(15);
/// How long heal, asked to stop, waits for a commit or push in flight; what is left is
/// finished at its next start (the journal says what).
const GIT_GRACE_ON_STOP: Duration = Duration::from_secs(3);
/// How long heal, asked to stop, waits for Slack messages still being sent.
const NOTIFY_DRAIN_ON_STOP: Duration = Duration::from_secs(1);
/// How long heal, once a healing is cancelled (asked to stop, or past the shutdown grace),
/// waits for it to record its incidents `interrupted` before it exits anyway.
const CANCEL_CUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Supervise(#[from] supervise::SuperviseError),
    /// `verify.sandbox = "required"` and no sandbox starts: heal does not start the program.
    #[error(transparent)]
    Sandbox(#[from] crate::prove::jail::JailError),
}

/// What `heal run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub command: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub pass_through: supervise::PassThrough,
}

/// Supervises `options.command` until the restart policy says stop; returns the exit status
/// for heal (the child's last, 128 + signal when it was killed).
pub async fn run(config: Config, options: RunOptions) -> Result<i32, PipelineError> {
    let config = Arc::new(config);
    // The proof's sandbox, decided once: a required one that cannot start stops heal here,
    // before the program starts.
    let jail = Arc::new(if config.auto_healing {
        Jail::start(
            &config.healing.jail,
            &config.root,
            &crate::config::secret_names(),
            &options.command,
        )?
    } else {
        Jail::none()
    });
    let store = match Store::open(&config.storage_dir) {
        Ok(store) => Some(Arc::new(store)),
        Err(e) => {
            tracing::error!(
                "{e}; heal goes on supervising without records: fix the storage folder, or set HEAL_STORAGE_DIR"
            );
            None
        }
    };
    let (deliveries_tx, deliveries_rx) = mpsc::unbounded_channel();
    let notifier = Notifier::for_config(&config, deliveries_tx);
    if store.is_none()
        && let Some(n) = &notifier
    {
        n.notice(&format!(
            "⚠️ heal cannot write its records in {}: supervising `{}` without them",
            config.storage_dir.display(),
            options.command.join(" ")
        ));
    }
    let deliveries = tokio::spawn(record_deliveries(store.clone(), deliveries_rx));
    if config.auto_healing
        && let Some(why) = jail.missing()
    {
        let text = format!(
            "heal proves fixes without a sandbox: {why}. Instant rules still run; model fixes are refused until bubblewrap works here, or verify.sandbox = \"off\" is set"
        );
        tracing::warn!("{text}");
        if let Some(n) = &notifier {
            n.notice(&format!("⚠️ {text}"));
        }
    }
    // Secrets and records that git would carry away: said once, before the program starts.
    for warning in crate::commit::exposed::exposed(&config.root, &config.storage_dir).await {
        tracing::warn!("{warning}");
    }
    // Before the program starts: whatever a heal that was killed left half-done is finished
    // or undone, so the program runs on a tree that is entirely fixed or entirely as before.
    if let Some(store) = &store {
        for line in recover::recover(&config, store, notifier.as_ref()).await {
            tracing::warn!("{line}");
            if let Some(n) = &notifier {
                n.notice(&format!("♻️ {line}"));
            }
        }
    }
    // Cleared at a clean exit; left behind, it tells the next start that heal was killed.
    if let Some(store) = store.clone() {
        off_thread("note that heal runs", move || {
            store.journal_add("", journal::step::RUN, &serde_json::json!({}))
        })
        .await;
    }

    // A test run is treated as what it is: one incident per failing test, re-run only after
    // a fix.
    let test_run = TestRun::of(&options.command, &config.root);
    if let Some(why) = test_run.as_ref().and_then(|t| t.too_little.as_ref()) {
        tracing::warn!("{why}");
        if let Some(n) = &notifier {
            n.notice(&format!("⚠️ {why}"));
        }
    }
    // Cancelled when heal is asked to stop: healing is abandoned before anything is applied.
    let cancel = CancellationToken::new();
    let cancel_why: Arc<std::sync::OnceLock<String>> = Arc::default();
    // Set while heal stops the program itself, so what that stop makes the program print or
    // do is not taken for an error.
    let stopping = Arc::new(AtomicBool::new(false));
    // Healing needs the store (its gates and its records live there).
    let (restart_tx, restart_rx) = mpsc::unbounded_channel();
    let (jobs_tx, jobs_rx) = mpsc::unbounded_channel();
    let mut watch = Arc::new(Watch::default());
    // The git lane commits what the healer applied, and reverts what regressed.
    let (git_tx, publisher_task) = match &store {
        Some(store) if config.auto_healing => Publisher {
            store: store.clone(),
            notifier: notifier.clone(),
            config: config.clone(),
        }
        .start(),
        _ => (None, None),
    };
    let healer_task = match &store {
        Some(store) if config.auto_healing => {
            let healer = Healer::new(
                store.clone(),
                notifier.clone(),
                config.clone(),
                options.command.clone(),
                restart_tx,
                git_tx.clone(),
            )
            .with_cancel(cancel.clone(), cancel_why.clone())
            .with_jail(jail.clone());
            watch = healer.watch.clone();
            Some(tokio::spawn(healer.run(jobs_rx)))
        }
        _ => None,
    };

    let run_ctx = RunContext {
        command: options.command.clone(),
        tags: options.tags.clone(),
        skip_reason: (!config.auto_healing).then(|| {
            "auto-healing is disabled (ENABLE_AUTO_HEALING=false): detected, recorded and reported only"
                .to_string()
        }),
    };
    let (detected_tx, detected_rx) = mpsc::channel::<Detected>(BATCH);
    let (exits_tx, exits_rx) = mpsc::channel::<ExitEvent>(1);
    let incidents = Incidents {
        store: store.clone(),
        notifier: notifier.clone(),
        config: config.clone(),
        run: run_ctx,
        roots: roots(&config.root),
        last_incident: None,
        ended_run: None,
        exports: exports::Deferred::default(),
        jobs: healer_task.is_some().then_some(jobs_tx),
        queued: HashSet::new(),
        watch,
        alerted_unstored: HashSet::new(),
        git: git_tx,
        stopping: stopping.clone(),
        cancel: cancel.clone(),
        test_run: test_run.clone(),
    };
    let incident_task = tokio::spawn(incidents.run(detected_rx, exits_rx));

    let result = supervise_loop(
        &config,
        &options,
        notifier.as_ref(),
        Channels {
            detected: detected_tx,
            exits: exits_tx,
            restarts_asked: restart_rx,
        },
        Stop {
            cancel: cancel.clone(),
            why: cancel_why,
            stopping,
        },
        test_run.is_some(),
        store.clone(),
    )
    .await;

    // The incidents task records every detection to the last (bounded by the output, which
    // has ended) and owns the healer's queue: when it ends, the healer finishes what it has
    // and ends too. A cancelled healing only has its incidents to mark `interrupted`: heal
    // does not wait for more than that.
    let _ = incident_task.await;
    if let Some(task) = healer_task {
        if cancel.is_cancelled() {
            if tokio::time::timeout(CANCEL_CUT, task).await.is_err() {
                tracing::warn!("heal stops with a healing that did not end when cancelled");
            }
        } else {
            let _ = task.await;
        }
    }
    // Last, the commits and pushes of what was applied (bounded by the push timeouts). Asked
    // to stop, heal waits for them only briefly: an unfinished publish is in the journal and is
    // finished at the next start.
    if let Some(task) = publisher_task {
        if cancel.is_cancelled() {
            if tokio::time::timeout(GIT_GRACE_ON_STOP, task).await.is_err() {
                tracing::warn!(
                    "heal stops with a commit or push in flight; it will be finished at its next start"
                );
            }
        } else {
            let _ = task.await;
        }
    }
    if let Some(n) = &notifier {
        let grace = if cancel.is_cancelled() {
            NOTIFY_DRAIN_ON_STOP
        } else {
            NOTIFY_DRAIN
        };
        n.drain(grace).await;
    }
    drop(notifier);
    let _ = tokio::time::timeout(Duration::from_secs(5), deliveries).await;
    if let Some(store) = store {
        off_thread("note that heal stopped", move || {
            store.journal_done("", journal::step::RUN)
        })
        .await;
    }
    result
}

/// The project root as the child sees it, and its canonical form when that differs, so frames
/// printed either way are recognised as the project's.
fn roots(root: &std::path::Path) -> Vec<String> {
    let mut out = vec![root.to_string_lossy().into_owned()];
    if let Ok(canonical) = std::fs::canonicalize(root) {
        let c = canonical.to_string_lossy().into_owned();
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

struct ExitEvent {
    exit: Exit,
    /// heal itself ended the program (asked to stop, to restart it on a fix, or past the
    /// stop grace): not an incident.
    by_heal: bool,
    /// The incident the exit itself is (a crash), as soon as it is judged.
    judged: oneshot::Sender<Option<String>>,
    /// The same, once healing is done with everything the run left.
    ack: oneshot::Sender<Option<String>>,
}

/// The supervision loop's channels to the incidents task and from the healer.
struct Channels {
    detected: mpsc::Sender<Detected>,
    exits: mpsc::Sender<ExitEvent>,
    /// A fix was applied: restart the program on it.
    restarts_asked: mpsc::UnboundedReceiver<()>,
}

/// How a stop signal reaches the rest of heal.
struct Stop {
    /// Cancels a healing in progress.
    cancel: CancellationToken,
    /// Why, for the interrupted incidents (set once, before `cancel`).
    why: Arc<std::sync::OnceLock<String>>,
    /// Tells the incidents task that heal is stopping the program.
    stopping: Arc<AtomicBool>,
}

async fn supervise_loop(
    config: &Config,
    options: &RunOptions,
    notifier: Option<&Notifier>,
    channels: Channels,
    stop_signal: Stop,
    test_run: bool,
    store: Option<Arc<Store>>,
) -> Result<i32, PipelineError> {
    let Channels {
        detected,
        exits,
        mut restarts_asked,
    } = channels;
    let asked_to_stop = |sig: i32| {
        tracing::info!(
            "received {}: stopping (a healing in progress is cancelled)",
            crate::signal::name(sig).unwrap_or("a signal")
        );
        stop_signal.stopping.store(true, Ordering::SeqCst);
        let _ = stop_signal.why.set(format!(
            "heal was asked to stop ({})",
            crate::signal::name(sig).unwrap_or("a signal")
        ));
        stop_signal.cancel.cancel();
    };
    let spec = ChildSpec {
        command: options.command.clone(),
        cwd: config.root.clone(),
        pass_through: options.pass_through,
    };
    let mut sigint = signal(SignalKind::interrupt()).map_err(supervise::SuperviseError::Signal)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(supervise::SuperviseError::Signal)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(supervise::SuperviseError::Signal)?;
    let mut restarts = Restarts::new(config.restart.clone());
    loop {
        let running = supervise::start(&spec, config.quiet, detected.clone())?;
        let pid = running.pid;
        tracing::info!("started `{}` (pid {pid})", options.command.join(" "));
        note_child(store.as_ref(), pid, &options.command).await;
        let wait = running.wait(OUTPUT_LINGER);
        tokio::pin!(wait);
        let mut stopping: Option<tokio::time::Instant> = None;
        let mut killed = false;
        // Set when a fix was applied while the program ran: it is stopped and started again
        // at once, on the fixed code, and this does not count as a failure.
        let mut restarting = false;
        let (exit, ran_for) = loop {
            let kill_at = stopping.unwrap_or_else(tokio::time::Instant::now);
            tokio::select! {
                r = &mut wait => break r?,
                _ = sigint.recv() => {
                    asked_to_stop(libc::SIGINT);
                    stopping = Some(stop(pid, libc::SIGINT, stopping, config));
                }
                _ = sigterm.recv() => {
                    asked_to_stop(libc::SIGTERM);
                    stopping = Some(stop(pid, libc::SIGTERM, stopping, config));
                }
                _ = sighup.recv() => {
                    asked_to_stop(libc::SIGHUP);
                    stopping = Some(stop(pid, libc::SIGHUP, stopping, config));
                }
                Some(()) = restarts_asked.recv(), if stopping.is_none() && !restarting => {
                    tracing::info!("restarting the program on its fixed code");
                    restarting = true;
                    stop_signal.stopping.store(true, Ordering::SeqCst);
                    supervise::send_signal(pid, libc::SIGTERM);
                    stopping = Some(tokio::time::Instant::now() + config.restart.stop_grace);
                }
                _ = tokio::time::sleep_until(kill_at), if stopping.is_some() && !killed => {
                    tracing::warn!("the program did not stop within {:?}: sending SIGKILL", config.restart.stop_grace);
                    supervise::send_signal(pid, libc::SIGKILL);
                    killed = true;
                }
            }
        };
        tracing::info!("`{}` {}", options.command.join(" "), exit.describe());
        if let Some(store) = store.clone() {
            off_thread("note that the program ended", move || {
                store.journal_done("", journal::step::CHILD)
            })
            .await;
        }
        let (ack, acked) = oneshot::channel();
        let (judged, crash) = oneshot::channel();
        // heal stopped it (asked to, or to restart it on a fix): how it died is that stop's
        // doing. A traceback it printed on the way is still recorded by detection.
        let by_heal = killed || restarting || stopping.is_some();
        let event = ExitEvent {
            exit,
            by_heal,
            judged,
            ack,
        };
        let last_incident = if exits.send(event).await.is_ok() {
            // Healing what the run left may take a while. Its bounds: a stop signal cancels
            // it, and heal exits at most CANCEL_CUT later. Once the program has ended for
            // good, the healing of errors it logged along the way gets the shutdown grace;
            // the healing of the error that ended it (its crash, a failing test) is what heal
            // exits after, bounded by the model's and the proof's own timeouts.
            tokio::pin!(acked);
            tokio::pin!(crash);
            let mut judged = false;
            let mut cut: Option<tokio::time::Instant> = None;
            loop {
                let cut_at = cut.unwrap_or_else(tokio::time::Instant::now);
                tokio::select! {
                    id = &mut acked => break id.ok().flatten(),
                    id = &mut crash, if !judged => {
                        judged = true;
                        let ending = stopping.is_none()
                            && !test_run
                            && !restarts.restarts_after(exit)
                            && id.ok().flatten().is_none();
                        if ending {
                            cut = Some(tokio::time::Instant::now() + config.restart.shutdown_grace);
                        }
                        continue;
                    }
                    _ = sigint.recv() => asked_to_stop(libc::SIGINT),
                    _ = sigterm.recv() => asked_to_stop(libc::SIGTERM),
                    _ = sighup.recv() => asked_to_stop(libc::SIGHUP),
                    _ = tokio::time::sleep_until(cut_at), if cut.is_some() => {
                        if stop_signal.cancel.is_cancelled() {
                            tracing::warn!(
                                "the healing did not stop within {CANCEL_CUT:?} of being cancelled: heal exits without it"
                            );
                            break None;
                        }
                        tracing::warn!(
                            "the program has ended and is not restarted: the healing still in flight after {:?} (shutdown_grace_s) is cancelled",
                            config.restart.shutdown_grace
                        );
                        let _ = stop_signal.why.set(format!(
                            "the program had ended and heal stopped waiting after shutdown_grace_s ({} s)",
                            config.restart.shutdown_grace.as_secs()
                        ));
                        stop_signal.cancel.cancel();
                        stopping.get_or_insert_with(tokio::time::Instant::now);
                        cut = Some(tokio::time::Instant::now() + CANCEL_CUT);
                        continue;
                    }
                }
                // Asked to stop, or past the grace: the healing is cancelled, and heal waits
                // for it only briefly.
                let now = tokio::time::Instant::now();
                cut = Some(cut.map_or(now + CANCEL_CUT, |c| c.min(now + CANCEL_CUT)));
                stopping.get_or_insert(now);
            }
        } else {
            None
        };
        stop_signal.stopping.store(false, Ordering::SeqCst);
        // A fix applied while waiting is already on disk: the next start uses it.
        let mut fixed = false;
        while restarts_asked.try_recv().is_ok() {
            fixed = true;
        }
        if restarting {
            continue;
        }
        if stopping.is_some() || stop_signal.cancel.is_cancelled() {
            return Ok(exit.shell_status());
        }
        // A crash whose fix was just applied: the program starts again at once on the fixed
        // code, and that start is not counted as a failure. A test run is run again only then:
        // its failures are not crashes to restart from.
        let decision = match (fixed, test_run) {
            (true, true) => Decision::Restart(Duration::ZERO),
            (true, false) => restarts.after_fix(),
            (false, true) => Decision::Stop,
            (false, false) => restarts.after_exit(exit, ran_for, Instant::now()),
        };
        match decision {
            Decision::Stop => return Ok(exit.shell_status()),
            Decision::StartLimitHit => {
                let next = match &last_incident {
                    Some(id) => format!(
                        " Next: `heal show {id}` says why it was not fixed; fix it by hand (or `heal retry {id}` to heal it again), then start heal again"
                    ),
                    None => " Next: fix what stops the program, then start heal again".to_string(),
                };
                let text = format!(
                    "🛑 heal stopped restarting `{}`: {} failed starts within {} s. Last: {}{}.{next}.",
                    options.command.join(" "),
                    config.restart.start_limit_burst,
                    config.restart.start_limit_interval.as_secs(),
                    exit.describe(),
                    last_incident
                        .as_ref()
                        .map(|id| format!(" (incident {id})"))
                        .unwrap_or_default()
                );
                tracing::error!("{text}");
                if let Some(n) = notifier {
                    n.notice(&text);
                }
                return Ok(exit.shell_status());
            }
            Decision::Restart(delay) if delay.is_zero() => {
                tracing::info!("restarting at once on the fixed code");
            }
            Decision::Restart(delay) => {
                tracing::info!("restarting in {delay:?}");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = sigint.recv() => return Ok(exit.shell_status()),
                    _ = sigterm.recv() => return Ok(exit.shell_status()),
                    _ = sighup.recv() => return Ok(exit.shell_status()),
                }
            }
        }
    }
}

/// Journals the program heal just started, so that a heal started after this one was killed
/// can stop it rather than run a second copy beside it.
async fn note_child(store: Option<&Arc<Store>>, pid: u32, command: &[String]) {
    let Some(store) = store.cloned() else { return };
    let Some(note) = supervise::orphan::ChildNote::of(pid, command) else {
        return;
    };
    let Ok(data) = serde_json::to_value(&note) else {
        return;
    };
    off_thread("note the program heal runs", move || {
        store.journal_add("", journal::step::CHILD, &data)
    })
    .await;
}

/// Passes a stop signal to the child; returns when it gets SIGKILL if it has not exited.
fn stop(
    pid: u32,
    sig: i32,
    already: Option<tokio::time::Instant>,
    config: &Config,
) -> tokio::time::Instant {
    tracing::info!(
        "received {}: passing it to the program",
        crate::signal::name(sig).unwrap_or("a signal")
    );
    supervise::send_signal(pid, sig);
    already.unwrap_or_else(|| tokio::time::Instant::now() + config.restart.stop_grace)
}

/// Turns detections into incidents: records them, alerts on new ones.
struct Incidents {
    store: Option<Arc<Store>>,
    notifier: Option<Notifier>,
    config: Arc<Config>,
    /// The healer's queue; `None` when healing is off.
    jobs: Option<mpsc::UnboundedSender<Job>>,
    /// Incidents sent to the healer since the last exit, so a crash does not heal twice.
    queued: HashSet<String>,
    /// Fixes recently applied, rolled back when their error comes back.
    watch: Arc<Watch>,
    /// Without a store: the fingerprints already alerted, so the team still hears of each
    /// error once.
    alerted_unstored: HashSet<String>,
    /// The git lane, to revert the commit of a fix that regressed.
    git: Option<mpsc::UnboundedSender<GitJob>>,
    /// Set while heal stops the program itself.
    stopping: Arc<AtomicBool>,
    /// Cancelled when the healing is: the wait for it is then cut short, while detections
    /// are still recorded to the last one.
    cancel: CancellationToken,
    /// The command is a test run: each failing test is its own incident.
    test_run: Option<TestRun>,
    run: RunContext,
    roots: Vec<String>,
    /// The incident of the latest traceback of the current run, and when it was seen.
    last_incident: Option<(String, Instant)>,
    /// What the run whose output just ended left: its latest incident and stderr's tail.
    ended_run: Option<(Option<(String, Instant)>, String)>,
    /// Repeats counted in the database whose export waits (an error storm).
    exports: exports::Deferred,
}

impl Incidents {
    async fn run(
        mut self,
        mut detected: mpsc::Receiver<Detected>,
        mut exits: mpsc::Receiver<ExitEvent>,
    ) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let exports_due = self.exports.due();
            tokio::select! {
                // Detections first: the output of a run that ended is already queued when its
                // exit arrives, and must be recorded before the exit is judged.
                biased;
                n = detected.recv_many(&mut batch, BATCH) => {
                    if n == 0 {
                        break;
                    }
                    self.handle_detections(std::mem::take(&mut batch)).await;
                    self.exports.write_if_due(&self.store).await;
                }
                Some(event) = exits.recv() => {
                    self.exports.write(&self.store).await;
                    self.handle_exit(event).await;
                }
                _ = sleep_until_some(exports_due) => self.exports.write(&self.store).await,
            }
        }
        self.exports.write(&self.store).await;
        while let Some(event) = exits.recv().await {
            self.handle_exit(event).await;
        }
    }

    async fn handle_detections(&mut self, batch: Vec<Detected>) {
        // Repeats within a batch are counted, then stored once per fingerprint.
        let mut pending: Vec<(Finding, u64)> = Vec::new();
        for event in batch {
            match event {
                Detected::Traceback {
                    traceback: tb,
                    stream,
                } => {
                    // The KeyboardInterrupt a Python program prints when heal passes it Ctrl-C
                    // is the stop heal was asked for, not an error.
                    if self.stopping.load(Ordering::SeqCst)
                        && tb.exception.exc_type == "KeyboardInterrupt"
                    {
                        continue;
                    }
                    let mut finding = self.finding(&tb).await;
                    finding.error.stream = Some(stream.as_str().to_string());
                    match pending
                        .iter_mut()
                        .find(|(f, _)| f.fingerprint == finding.fingerprint)
                    {
                        Some((_, count)) => *count += 1,
                        None => pending.push((finding, 1)),
                    }
                }
                Detected::End {
                    tail,
                    skipped_bytes,
                } => {
                    self.flush(std::mem::take(&mut pending)).await;
                    // The run's output ended: its records are exported as they stand.
                    self.exports.write(&self.store).await;
                    if skipped_bytes > 0 {
                        tracing::warn!(
                            "{skipped_bytes} bytes of stderr were passed through without being examined: the program wrote faster than heal could read"
                        );
                    }
                    self.ended_run = Some((self.last_incident.take(), tail));
                }
            }
        }
        self.flush(pending).await;
    }

    async fn flush(&mut self, pending: Vec<(Finding, u64)>) {
        for (finding, count) in pending {
            if let Some(watched) = self
                .watch
                .take(&finding.fingerprint, self.config.healing.watch)
            {
                self.roll_back(watched).await;
            }
            if let Some(id) = self.record(finding, count, None).await {
                self.last_incident = Some((id, Instant::now()));
            }
        }
    }

    /// What a traceback is: an error of the program, or, in a test run, a failing test (its
    /// id in the fingerprint, the code under test as its context).
    async fn finding(&self, tb: &crate::detect::Traceback) -> Finding {
        let roots: Vec<&str> = self.roots.iter().map(String::as_str).collect();
        let (root, extra) = roots.split_first().map_or(("", &[][..]), |(r, e)| (*r, e));
        let failure = self
            .test_run
            .as_ref()
            .and_then(|run| testrun::failure(tb, run.runner, &roots));
        let (Some(run), Some(failure)) = (&self.test_run, failure) else {
            return Finding::from_traceback(tb, locate_traceback(tb, root, extra));
        };
        let mut located_by = None;
        let mut location = testrun::code_under_test(tb, &roots);
        if location.is_none() && failure.phase == testrun::Phase::Call {
            // Raised in the test itself: the code under test is what its failing line calls.
            let test_frame = tb.primary().frames.last().cloned();
            let root_dir = self.config.root.clone();
            let test_file = failure.file.clone().or_else(|| {
                test_frame
                    .as_ref()
                    .and_then(|f| crate::detect::locate::project_file(&f.file, root, extra))
            });
            if let (Some(frame), Some(file)) = (test_frame, test_file)
                && let Some(code) = frame.code.clone()
            {
                let called = tokio::task::spawn_blocking(move || {
                    testrun::call(&root_dir, &file, &code).map(|l| (l, code))
                })
                .await
                .ok()
                .flatten();
                if let Some((loc, code)) = called {
                    located_by = Some(format!(
                        "the failure is raised in the test itself; the context is the function its failing line calls: `{code}`"
                    ));
                    location = Some(loc);
                }
            }
        }
        let location = location.or_else(|| locate_traceback(tb, root, extra));
        let test = TestRef {
            id: failure.id.clone(),
            phase: failure.phase.as_str().to_string(),
            file: failure.file.clone(),
            located_by,
        };
        let mut finding = Finding::from_test_failure(tb, location, test);
        finding.not_for_healing = run
            .too_little
            .clone()
            .or_else(|| testrun::not_a_code_bug(tb, &failure));
        finding
    }

    /// The error a fix was meant to remove came back soon after it was applied: the fix did not
    /// work, so the live files go back to their backups.
    async fn roll_back(&self, watched: healing::Watched) {
        let Some(store) = self.store.clone() else {
            return;
        };
        let root = self.config.root.clone();
        let window = self.config.healing.watch.as_secs();
        let incident = watched.incident.clone();
        let rolled_back = off_thread("record the rollback", move || {
            let restored = crate::apply::restore(&root, &watched.backups);
            let reason = match &restored {
                Ok(()) => format!(
                    "the same error came back within {window} s of the fix: the fix was rolled back from its backups"
                ),
                Err(e) => format!(
                    "the same error came back within {window} s of the fix, and rolling it back failed: {e}"
                ),
            };
            store.update(&watched.incident, |r| {
                r.status = Status::Regressed;
                r.heal_failures = r.heal_failures.saturating_add(1);
                let result = r.result.get_or_insert_with(|| serde_json::json!({}));
                result["status"] = serde_json::json!("regressed");
                result["reason"] = serde_json::json!(reason);
                r.reason = Some(reason);
            })
        })
        .await;
        if let Some(git) = &self.git {
            // Queued after the fix's own commit job, so it sees whatever that committed.
            let _ = git.send(GitJob::Revert {
                id: incident.clone(),
            });
        }
        if let Some(record) = rolled_back {
            tracing::warn!(
                "incident {}: {}",
                record.id,
                record.reason.as_deref().unwrap_or("regressed")
            );
            if let Some(n) = &self.notifier {
                n.update(&record);
                n.stage(
                    &record,
                    &format!("↩️ {}", record.reason.as_deref().unwrap_or("regressed")),
                );
            }
        }
    }

    /// The store cannot be used: heal still tells the team of each new error, once, with an
    /// id that names no record.
    fn alert_unstored(&mut self, finding: Finding, exit: Option<ExitInfo>) {
        let Some(n) = &self.notifier else { return };
        if !self.alerted_unstored.insert(finding.fingerprint.clone()) {
            return;
        }
        let now = time::OffsetDateTime::now_utc();
        let id = crate::record::base_id(now);
        let mut record = finding.into_record(id, &crate::record::rfc3339(now), &self.run);
        record.context.exit = exit;
        record.status = Status::Skipped;
        record.reason = Some(
            "not recorded and not healed: heal cannot write its store (see heal's log)".to_string(),
        );
        record.redact(&self.config.redactor);
        n.alert(&record);
    }

    /// Sends an incident to the healer, once per run of the program.
    fn heal(&mut self, id: &str) {
        if let Some(jobs) = &self.jobs
            && self.queued.insert(id.to_string())
        {
            let _ = jobs.send(Job::Heal(id.to_string()));
        }
    }

    /// Stores `count` occurrences of `finding`; alerts when the incident is new. Returns the
    /// incident's id.
    async fn record(
        &mut self,
        finding: Finding,
        count: u64,
        exit: Option<ExitInfo>,
    ) -> Option<String> {
        let Some(store) = self.store.clone() else {
            self.alert_unstored(finding, exit);
            return None;
        };
        let run = self.run.clone();
        let redactor = self.config.redactor.clone();
        let fingerprint = finding.fingerprint.clone();
        // Kept to alert without a record if the store fails (a full disk).
        let unstored = (finding.clone(), exit.clone());
        // A crash is exported at once; a repeat seen in the output may wait (an error storm).
        let export = if exit.is_some() {
            Export::Always
        } else {
            Export::NewOnly
        };
        let stored = off_thread("record the incident", move || {
            let now = time::OffsetDateTime::now_utc();
            let now_text = crate::record::rfc3339(now);
            store.upsert_with(&fingerprint, count, now, export, |id| {
                let mut record = finding.into_record(id, &now_text, &run);
                record.context.exit = exit;
                // Tracebacks carry what the program printed, secrets included.
                record.redact(&redactor);
                record
            })
        })
        .await;
        let Some((record, is_new)) = stored else {
            self.alert_unstored(unstored.0, unstored.1);
            return None;
        };
        if !is_new && export == Export::NewOnly {
            self.exports.note(&record.id);
        }
        if is_new {
            tracing::info!(
                "incident {}: {} at {}",
                record.id,
                record.error.exc_type,
                record
                    .context
                    .file
                    .as_ref()
                    .map(|f| format!("{f}:{}", record.context.line.unwrap_or(0)))
                    .unwrap_or_else(|| "an unknown place".to_string())
            );
            if let Some(n) = &self.notifier {
                n.alert(&record);
            }
            if record.status == Status::Detected {
                self.heal(&record.id);
            }
        }
        Some(record.id)
    }

    /// Judges an exit: a crash is an incident, with the traceback that preceded it when there
    /// is one. Returns the incident's id.
    async fn handle_exit(&mut self, event: ExitEvent) {
        let id = self.judge_exit(event.exit, event.by_heal).await;
        let _ = event.judged.send(id.clone());
        if let Some(id) = &id {
            self.heal(id);
        }
        // The program restarts only once healing is done with what it had, so the restart
        // runs the fixed code.
        if let Some(jobs) = &self.jobs {
            let (done, finished) = oneshot::channel();
            if jobs.send(Job::Barrier(done)).is_ok() {
                let cut = async {
                    self.cancel.cancelled().await;
                    tokio::time::sleep(CANCEL_CUT).await;
                };
                tokio::select! {
                    _ = finished => {}
                    _ = cut => {}
                }
            }
        }
        self.queued.clear();
        let _ = event.ack.send(id);
    }

    async fn judge_exit(&mut self, exit: Exit, by_heal: bool) -> Option<String> {
        let (last, tail) = self
            .ended_run
            .take()
            .unwrap_or_else(|| (self.last_incident.take(), String::new()));
        if exit.success() {
            return None;
        }
        // heal ended the program itself (a restart on a fix, or the stop grace ran out): the
        // way it died is heal's doing, not an error of the program's.
        if by_heal {
            return None;
        }
        let exit_info = ExitInfo {
            code: exit.code,
            signal: exit.signal,
        };
        if let Some((id, seen)) = last
            && seen.elapsed() <= CRASH_CAUSE_WINDOW
        {
            let store = self.store.clone()?;
            let update_id = id.clone();
            let updated = off_thread("record the crash", move || {
                store.update(&update_id, |r| r.context.exit = Some(exit_info))
            })
            .await;
            if let (Some(record), Some(n)) = (updated, &self.notifier) {
                n.update(&record);
            }
            return Some(id);
        }
        let finding = Finding::from_crash(&exit.describe(), &self.run.command, &tail);
        self.record(finding, 1, Some(exit_info)).await
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

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
