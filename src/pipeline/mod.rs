//! The pipeline of `heal run`: supervise → detect → record → notify → heal (analyse → prove →
//! apply → report), and restart.
//!
//! Three tasks cooperate:
//! - the supervision loop (this module's [`run`]) starts the child, forwards signals and decides
//!   restarts;
//! - the incident task (`incidents`) turns what detection found into records and alerts, in
//!   the order it was found, batching repeats so that an error storm costs one write per batch,
//!   not per line;
//! - the healer ([`healing`]) takes new incidents one at a time through the gates, the model,
//!   the proof and the application of a fix;
//! - the delivery task writes each Slack attempt's outcome into its incident's record; it, the
//!   notifier and the git lane start and stop together (`services`), as for `retry` and `revert`.
//!
//! The supervised program never waits on the store or on Slack: a store that cannot be opened
//! turns heal into a plain pass-through supervisor that says so.

mod exports;
pub mod healing;
mod incidents;
mod manual;
mod notes;
pub mod publish;
mod recover;
pub(crate) mod services;
mod twins;

pub use manual::{RevertError, retry, revert};

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::notify::Notifier;
use crate::prove::jail::Jail;
use crate::record::build::RunContext;
use crate::record::{Store, journal, off_thread};
use crate::supervise::{self, ChildSpec, Decision, Detected, Restarts};
use crate::testrun::TestRun;
use healing::{Healer, Watch};
use incidents::{ExitEvent, Incidents, roots};
use services::{Ending, Services};

/// How long to wait for a child's output to end after the child itself has exited (a
/// grandchild may hold the pipe open).
const OUTPUT_LINGER: Duration = Duration::from_secs(2);
/// Events handled per batch: bounds the work between two store writes.
const BATCH: usize = 1024;
/// How long heal, once a healing is cancelled (asked to stop, or past the shutdown grace),
/// waits for it to record its incidents `interrupted` before it exits anyway.
pub(crate) const CANCEL_CUT: Duration = Duration::from_secs(2);

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
    // The ingest a program using the Sentry SDK reports to, opened first: its key is a secret
    // every stage's redactor must know (a program may print its DSN in an error).
    let (detected_tx, detected_rx) = mpsc::channel::<Detected>(BATCH);
    let ingest = start_ingest(&config, detected_tx.clone()).await;
    let config = match &ingest {
        Some(ingest) => Config {
            redactor: config.redactor.with_secret(&ingest.key),
            ..config
        },
        None => config,
    };
    let config = Arc::new(config);
    // The proof's sandbox, decided once: a required one that cannot start stops heal here,
    // before the program starts.
    // An agent of a fleet never edits code: it supervises, reports and follows the fixes
    // its fleet's healers push.
    let agent = config.fleet.is_agent();
    let heals = config.auto_healing && !agent;
    let jail = Arc::new(if heals {
        Jail::start(
            &config.healing.jail,
            &config.root,
            &crate::config::secret_names(),
            &options.command,
        )?
    } else {
        Jail::none()
    });
    let mut services = Services::start(config.clone(), services::open_store(&config));
    let store = services.store.clone();
    if store.is_none()
        && let Some(n) = &services.notifier
    {
        n.notice(&format!(
            "⚠️ heal cannot write its records in {}: supervising `{}` without them",
            config.storage_dir.display(),
            options.command.join(" ")
        ));
    }
    if heals && let Some(why) = jail.missing() {
        let text = no_sandbox(why);
        tracing::warn!("{text}");
        if let Some(n) = &services.notifier {
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
        recover_and_say(&config, store, services.notifier.as_ref()).await;
    }
    // Cleared at a clean exit; left behind, it tells the next start that heal was killed.
    if let Some(store) = store.clone() {
        off_thread("note that heal runs", move || {
            store.journal_add(
                "",
                journal::step::RUN,
                &serde_json::Value::Object(Default::default()),
            )
        })
        .await;
    }

    // A test run is treated as what it is: one incident per failing test, re-run only after
    // a fix.
    let test_run = TestRun::of(&options.command, &config.root);
    if let Some(why) = test_run.as_ref().and_then(|t| t.too_little.as_ref()) {
        tracing::warn!("{why}");
        if let Some(n) = &services.notifier {
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
    if heals {
        services.start_git_lane();
    }
    // A fleet's duties beside the program: a healer heals what the agents report (and what a
    // dead healer left), an agent follows the fixes. Both end with the program.
    let fleet_stop = CancellationToken::new();
    let starts = tokio::sync::watch::Sender::new(0u64);
    let mut fleet_tasks = Vec::new();
    if let Some(store) = store.as_ref().filter(|s| s.shared().is_some()) {
        fleet_tasks.push(tokio::spawn(crate::fleet::deliver(
            config.clone(),
            store.clone(),
            fleet_stop.clone(),
        )));
        if heals {
            let jobs = jobs_tx.clone();
            fleet_tasks.push(tokio::spawn(crate::fleet::offer_waiting(
                config.clone(),
                store.clone(),
                move |id| jobs.send(healing::Job::Heal(id)).is_ok(),
                fleet_stop.clone(),
            )));
        }
        if agent && config.fleet.follow {
            fleet_tasks.push(tokio::spawn(crate::fleet::follow(
                config.clone(),
                store.clone(),
                services.notifier.clone(),
                crate::fleet::Restarts {
                    ask: restart_tx.clone(),
                    starts: starts.subscribe(),
                },
                fleet_stop.clone(),
            )));
        }
    }
    let healer_task = match &store {
        Some(store) if heals => {
            let healer = Healer::new(
                store.clone(),
                services.notifier.clone(),
                config.clone(),
                options.command.clone(),
                restart_tx,
                services.git.clone(),
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
        // An agent's incidents wait for a healer of the fleet: not skipped.
        skip_reason: (!config.auto_healing && !agent).then(|| {
            "auto-healing is disabled (ENABLE_AUTO_HEALING=false): detected, recorded and reported only"
                .to_string()
        }),
    };
    let (exits_tx, exits_rx) = mpsc::channel::<ExitEvent>(1);
    let incidents = Incidents {
        store: store.clone(),
        notifier: services.notifier.clone(),
        config: config.clone(),
        run: run_ctx,
        roots: roots(&config.root),
        last_incident: None,
        ended_run: None,
        exports: exports::Deferred::default(),
        twins: twins::Twins::default(),
        jobs: healer_task.is_some().then_some(jobs_tx),
        queued: HashSet::new(),
        watch,
        alerted_unstored: HashSet::new(),
        git: services.git.clone(),
        stopping: stopping.clone(),
        cancel: cancel.clone(),
        test_run: test_run.clone(),
    };
    let incident_task = tokio::spawn(incidents.run(detected_rx, exits_rx));
    // The program's SDK reports to the ingest: its events join the printed tracebacks in the
    // incidents task.
    let child_env: Vec<(String, String)> = ingest
        .as_ref()
        .map(|i| vec![("SENTRY_DSN".to_string(), i.dsn.clone())])
        .unwrap_or_default();

    let result = supervise_loop(
        &config,
        &options,
        services.notifier.as_ref(),
        Channels {
            detected: detected_tx,
            exits: exits_tx,
            restarts_asked: restart_rx,
            starts,
        },
        Stop {
            cancel: cancel.clone(),
            why: cancel_why,
            stopping,
        },
        Child {
            test_run: test_run.is_some(),
            env: child_env,
        },
        store.clone(),
    )
    .await;
    // Its sender closes with it, so the incidents task sees the end of its input.
    if let Some(ingest) = ingest {
        ingest.stop().await;
    }

    // The incidents task records every detection to the last (bounded by the output, which
    // has ended) and owns the healer's queue: when it ends, the healer finishes what it has
    // and ends too. A cancelled healing only has its incidents to mark `interrupted`: heal
    // does not wait for more than that.
    let _ = incident_task.await;
    // The program has ended for good: nothing more to heal for the fleet or to follow.
    fleet_stop.cancel();
    for task in fleet_tasks {
        let _ = task.await;
    }
    if let Some(task) = healer_task {
        if cancel.is_cancelled() {
            if tokio::time::timeout(CANCEL_CUT, task).await.is_err() {
                tracing::warn!("heal stops with a healing that did not end when cancelled");
            }
        } else {
            let _ = task.await;
        }
    }
    // Last, the git lane and Slack, waited for briefly when the healing was cancelled.
    services
        .shutdown(if cancel.is_cancelled() {
            Ending::Cancelled
        } else {
            Ending::Finished
        })
        .await;
    if let Some(store) = store {
        off_thread("note that heal stopped", move || {
            store.journal_done("", journal::step::RUN)
        })
        .await;
    }
    result
}

/// What a missing sandbox means for healing, said once at start.
pub(crate) fn no_sandbox(why: &str) -> String {
    format!(
        "heal proves fixes without a sandbox: {why}. Instant rules still run; model fixes are refused until bubblewrap works here, or verify.sandbox = \"off\" is set"
    )
}

/// Finishes or undoes what a killed heal left half-done, and says each thing it did in the
/// log and on Slack.
pub(crate) async fn recover_and_say(
    config: &Arc<Config>,
    store: &Arc<Store>,
    notifier: Option<&Notifier>,
) {
    for line in recover::recover(config, store, notifier).await {
        tracing::warn!("{line}");
        if let Some(n) = notifier {
            n.notice(&format!("♻️ {line}"));
        }
    }
}

/// Opens the run's ingest when `run.sentry` asks for it and the program has no `SENTRY_DSN`
/// of its own (or `replace`). A failure to open it is logged: the program runs without it.
async fn start_ingest(
    config: &Config,
    detected: mpsc::Sender<Detected>,
) -> Option<crate::serve::RunIngest> {
    use crate::config::RunSentry;
    let own = std::env::var_os("SENTRY_DSN").is_some_and(|v| !v.is_empty());
    match config.serve.run_sentry {
        RunSentry::Off => return None,
        RunSentry::IfUnset if own => {
            tracing::info!(
                "the program's own SENTRY_DSN is left alone (run.sentry = \"replace\" gives it heal's)"
            );
            return None;
        }
        RunSentry::IfUnset | RunSentry::Replace => {}
    }
    match crate::serve::RunIngest::start(config, detected).await {
        Ok(ingest) => Some(ingest),
        Err(e) => {
            tracing::warn!("{e}: the program runs without heal's SENTRY_DSN");
            None
        }
    }
}

/// What the supervision loop starts the child with, beyond the command.
struct Child {
    /// The command is a test run.
    test_run: bool,
    /// Set in its environment (`SENTRY_DSN`).
    env: Vec<(String, String)>,
}

/// The supervision loop's channels to the incidents task and from the healer.
struct Channels {
    detected: mpsc::Sender<Detected>,
    exits: mpsc::Sender<ExitEvent>,
    /// A fix was applied: restart the program on it.
    restarts_asked: mpsc::UnboundedReceiver<String>,
    /// Counts the program's starts (an agent waits for the start on a fix it pulled).
    starts: tokio::sync::watch::Sender<u64>,
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
    child: Child,
    store: Option<Arc<Store>>,
) -> Result<i32, PipelineError> {
    let Child {
        test_run,
        env: child_env,
    } = child;
    let Channels {
        detected,
        exits,
        mut restarts_asked,
        starts,
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
        env: child_env,
    };
    let mut sigint = signal(SignalKind::interrupt()).map_err(supervise::SuperviseError::Signal)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(supervise::SuperviseError::Signal)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(supervise::SuperviseError::Signal)?;
    let mut restarts = Restarts::new(config.restart.clone());
    loop {
        let running = supervise::start(&spec, config.quiet, detected.clone())?;
        let pid = running.pid;
        starts.send_modify(|n| *n += 1);
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
                Some(_) = restarts_asked.recv(), if stopping.is_none() && !restarting => {
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
