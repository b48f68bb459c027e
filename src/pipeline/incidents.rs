//! The incidents task of `heal run`: turns what detection found into records and alerts, in
//! the order it was found, batching repeats so that an error storm costs one write per batch,
//! not per line; judges each exit of the program (a crash is an incident); sends new incidents
//! to the healer; rolls back a fix whose error came back.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::exports;
use super::healing::{self, Job, Watch};
use super::publish::GitJob;
use super::twins::{Half, Twins};
use super::{BATCH, CANCEL_CUT};
use crate::config::Config;
use crate::detect::locate::locate_traceback;
use crate::notify::Notifier;
use crate::record::build::{Finding, RunContext};
use crate::record::model::{ExitInfo, Status, TestRef};
use crate::record::{Export, Store, off_thread};
use crate::supervise::{Detected, Exit};
use crate::testrun::{self, TestRun};

/// A traceback printed this long before a crash is taken as the crash's cause.
const CRASH_CAUSE_WINDOW: Duration = Duration::from_secs(10);

/// One exit of the program, sent by the supervision loop for the incidents task to judge.
pub(super) struct ExitEvent {
    pub(super) exit: Exit,
    /// heal itself ended the program (asked to stop, to restart it on a fix, or past the
    /// stop grace): not an incident.
    pub(super) by_heal: bool,
    /// The incident the exit itself is (a crash), as soon as it is judged.
    pub(super) judged: oneshot::Sender<Option<String>>,
    /// The same, once healing is done with everything the run left.
    pub(super) ack: oneshot::Sender<Option<String>>,
}

/// Turns detections into incidents: records them, alerts on new ones.
pub(super) struct Incidents {
    pub(super) store: Option<Arc<Store>>,
    pub(super) notifier: Option<Notifier>,
    pub(super) config: Arc<Config>,
    /// The healer's queue; `None` when healing is off.
    pub(super) jobs: Option<mpsc::UnboundedSender<Job>>,
    /// Incidents sent to the healer since the last exit, so a crash does not heal twice.
    pub(super) queued: HashSet<String>,
    /// Fixes recently applied, rolled back when their error comes back.
    pub(super) watch: Arc<Watch>,
    /// Without a store: the fingerprints already alerted, so the team still hears of each
    /// error once.
    pub(super) alerted_unstored: HashSet<String>,
    /// The git lane, to revert the commit of a fix that regressed.
    pub(super) git: Option<mpsc::UnboundedSender<GitJob>>,
    /// Set while heal stops the program itself.
    pub(super) stopping: Arc<AtomicBool>,
    /// Cancelled when the healing is: the wait for it is then cut short, while detections
    /// are still recorded to the last one.
    pub(super) cancel: CancellationToken,
    /// The command is a test run: each failing test is its own incident.
    pub(super) test_run: Option<TestRun>,
    pub(super) run: RunContext,
    pub(super) roots: Vec<String>,
    /// The incident of the latest traceback of the current run, and when it was seen.
    pub(super) last_incident: Option<(String, Instant)>,
    /// What the run whose output just ended left: its latest incident and stderr's tail.
    pub(super) ended_run: Option<(Option<(String, Instant)>, String)>,
    /// Repeats counted in the database whose export waits (an error storm).
    pub(super) exports: exports::Deferred,
    /// Printed tracebacks and SDK events of one exception, counted once.
    pub(super) twins: Twins,
}

impl Incidents {
    pub(super) async fn run(
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
                    if self
                        .twins
                        .is_twin(Half::Printed, &finding.fingerprint, Instant::now())
                    {
                        // The SDK already reported this exception: one occurrence.
                        continue;
                    }
                    match pending
                        .iter_mut()
                        .find(|(f, _)| f.fingerprint == finding.fingerprint)
                    {
                        Some((_, count)) => *count += 1,
                        None => pending.push((finding, 1)),
                    }
                }
                Detected::Reported { finding } => {
                    let twin =
                        self.twins
                            .is_twin(Half::Reported, &finding.fingerprint, Instant::now());
                    if twin {
                        // Its printout was counted: bring the event's locals and report to
                        // that record, without another occurrence.
                        self.flush(std::mem::take(&mut pending)).await;
                        self.merge_report(*finding).await;
                        continue;
                    }
                    match pending
                        .iter_mut()
                        .find(|(f, _)| f.fingerprint == finding.fingerprint)
                    {
                        Some((_, count)) => *count += 1,
                        None => pending.push((*finding, 1)),
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

    /// Merges what an SDK reported into the open incident of its fingerprint (recorded from
    /// the printed traceback of the same exception), without an occurrence.
    async fn merge_report(&self, finding: Finding) {
        let Some(store) = self.store.clone() else {
            return;
        };
        let redactor = self.config.redactor.clone();
        let run = self.run.clone();
        off_thread("merge an SDK's report", move || {
            let reported = finding.clone();
            let (record, _) =
                store.upsert_finding(finding, 0, Export::NewOnly, &run, &redactor, |_| {})?;
            store.update(&record.id, |record| {
                reported.merge_into(record);
                // The locals and tags are the program's data, secrets included.
                record.redact(&redactor);
            })
        })
        .await;
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
        let Some(store) = &self.store else { return };
        healing::roll_back(
            store,
            &self.config,
            self.notifier.as_ref(),
            self.git.as_ref(),
            watched,
        )
        .await;
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
        // Kept to alert without a record if the store fails (a full disk).
        let unstored = (finding.clone(), exit.clone());
        // A crash is exported at once; a repeat seen in the output may wait (an error storm).
        let export = if exit.is_some() {
            Export::Always
        } else {
            Export::NewOnly
        };
        let stored = off_thread("record the incident", move || {
            store.upsert_finding(finding, count, export, &run, &redactor, |record| {
                record.context.exit = exit;
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
                record.place()
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

/// The project root as the child sees it, and its canonical form when that differs, so frames
/// printed either way are recognised as the project's.
pub(super) fn roots(root: &std::path::Path) -> Vec<String> {
    let mut out = vec![root.to_string_lossy().into_owned()];
    if let Ok(canonical) = std::fs::canonicalize(root) {
        let c = canonical.to_string_lossy().into_owned();
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
