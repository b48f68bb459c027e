//! Supervision: runs the program as a child, passes its output through, feeds both its stdout
//! and its stderr to detection (each stream on its own), forwards signals, and decides restarts
//! like systemd's `Restart=`.
//!
//! Output is passed through first and examined second: a slow or stuck detector can lose
//! detection of a burst (counted and reported) but never holds up the program's output. Memory
//! stays bounded however much the child writes.

pub mod orphan;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use std::io::{Read, Write};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

use crate::config::{RestartConfig, RestartPolicy};
use crate::detect::lines::LineSplitter;
use crate::detect::python;
use crate::detect::scanner::{Limits, Scanner};
use crate::detect::{Stream, Traceback};
use crate::record::build::Finding;

/// Longest line the detector looks at; the rest of a longer line is passed through but not
/// examined.
const MAX_LINE_BYTES: usize = 8 * 1024;
/// Bytes of one stream waiting for its detector. Past this, output skips detection (never the
/// terminal) until the detector catches up.
const DETECT_QUEUE_BYTES: usize = 16 * 1024 * 1024;
/// Lines of each stream kept for a crash that printed no traceback.
const TAIL_LINES: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    /// The OS error is said once, in the advice that fits it (not also as a source, which
    /// `{:#}` would print a second time).
    #[error("cannot start `{program}`: {}", spawn_advice(program, error))]
    Spawn {
        program: String,
        error: std::io::Error,
    },
    #[error("cannot wait for the program: {0}")]
    Wait(#[source] std::io::Error),
    #[error("cannot install a signal handler: {0}")]
    Signal(#[source] std::io::Error),
}

/// Why a program could not start, and what to do, for the error the OS gave.
fn spawn_advice(program: &str, error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let is_path = program.contains('/');
    match error.kind() {
        ErrorKind::InvalidInput if program.is_empty() => {
            "no command was given: put the program's command after `--`, like `heal run -- python3 main.py`".to_string()
        }
        ErrorKind::NotFound if is_path => {
            "there is no such file: check the path (relative paths start from the project root)".to_string()
        }
        ErrorKind::NotFound => format!(
            "no program of that name is on PATH: check the spelling, and that it is installed (`command -v {program}`)"
        ),
        ErrorKind::PermissionDenied => {
            let interpreter = if program.ends_with(".py") {
                "python3"
            } else if program.ends_with(".sh") {
                "sh"
            } else {
                "INTERPRETER"
            };
            format!(
                "it is not executable: make it so (`chmod +x {program}`), or run it through its interpreter (`heal run -- {interpreter} {program}`)"
            )
        }
        _ => format!("{error}"),
    }
}

/// What to run and where.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    pub command: Vec<String>,
    pub cwd: PathBuf,
    pub pass_through: PassThrough,
    /// Set in the child's environment on top of heal's (`SENTRY_DSN`, naming heal's ingest).
    pub env: Vec<(String, String)>,
}

/// Where the child's output is passed through to. Either way it is passed through untouched,
/// and each stream is examined on its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PassThrough {
    /// Its stdout to heal's stdout, its stderr to heal's stderr (`heal run`).
    #[default]
    AsWritten,
    /// Both to heal's stdout, as they come (`heal demo`, which tells its whole story there).
    AllToStdout,
}

/// How a run of the child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl Exit {
    pub fn success(self) -> bool {
        self.code == Some(0)
    }

    /// The shell's convention: the code, or 128 + the signal number.
    pub fn shell_status(self) -> i32 {
        match (self.code, self.signal) {
            (Some(code), _) => code,
            (None, Some(sig)) => 128 + sig,
            (None, None) => 1,
        }
    }

    pub fn describe(self) -> String {
        match (self.code, self.signal) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(sig)) => format!(
                "killed by signal {sig} ({})",
                crate::signal::name(sig).unwrap_or("signal")
            ),
            (None, None) => "ended for an unknown reason".to_string(),
        }
    }

    fn from_status(status: std::process::ExitStatus) -> Exit {
        use std::os::unix::process::ExitStatusExt;
        Exit {
            code: status.code(),
            signal: status.signal(),
        }
    }
}

/// What detection tells the pipeline, in the order it happened on each stream.
#[derive(Debug)]
pub enum Detected {
    /// A traceback, complete (or cut by the end of output), and the stream it was printed on.
    Traceback {
        traceback: Box<Traceback>,
        stream: Stream,
    },
    /// An error the program reported through an SDK (`sentry_sdk`) to heal's ingest.
    Reported { finding: Box<Finding> },
    /// Both streams reached their end: the run's output is over. Carries the last lines of
    /// stderr (of stdout when stderr had none), for a crash that printed no traceback, and how
    /// many bytes skipped detection under load.
    End { tail: String, skipped_bytes: u64 },
}

/// A started child whose output is being passed through and examined.
pub struct Running {
    child: Child,
    pub pid: u32,
    pub started: Instant,
    detector: tokio::task::JoinHandle<()>,
}

/// Starts the child. Its stdout and stderr pass through to heal's (see [`PassThrough`]); both
/// are also examined, each on its own, and what is found goes to `detected`, ending with
/// [`Detected::End`].
pub fn start(
    spec: &ChildSpec,
    quiet: Duration,
    detected: mpsc::Sender<Detected>,
) -> Result<Running, SuperviseError> {
    let (program, args) = match spec.command.split_first() {
        Some(split) => split,
        None => {
            return Err(SuperviseError::Spawn {
                program: String::new(),
                error: std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"),
            });
        }
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own, so that heal alone receives the terminal's Ctrl-C and decides
        // what the child gets, and so that signals reach the child's own children too.
        .process_group(0)
        .kill_on_drop(false);
    orphan::die_with_heal(&mut cmd);
    // A child in a background process group that reads the terminal would be stopped by
    // SIGTTIN; supervised programs do not read a terminal, so give them none. Piped input is
    // passed on as it is.
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        cmd.stdin(Stdio::null());
    } else {
        cmd.stdin(Stdio::inherit());
    }
    let mut child = cmd.spawn().map_err(|error| SuperviseError::Spawn {
        program: program.clone(),
        error,
    })?;
    let pid = child.id().unwrap_or(0);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();

    // The pumps are plain threads doing blocking reads and writes: output reaches the
    // terminal as soon as the child writes it, with no async buffering in between. Each stream
    // has its own detector and budget, so the lines of the two never mix into one block.
    let out = watch(
        stdout.and_then(|o| o.into_owned_fd().ok()),
        std::io::stdout,
        Stream::Stdout,
        quiet,
        detected.clone(),
    );
    let stderr = stderr.and_then(|e| e.into_owned_fd().ok());
    let err = match spec.pass_through {
        PassThrough::AsWritten => watch(
            stderr,
            std::io::stderr,
            Stream::Stderr,
            quiet,
            detected.clone(),
        ),
        PassThrough::AllToStdout => watch(
            stderr,
            std::io::stdout,
            Stream::Stderr,
            quiet,
            detected.clone(),
        ),
    };
    let detector = tokio::spawn(async move {
        let (out_tail, out_skipped) = out.await.unwrap_or_default();
        let (err_tail, err_skipped) = err.await.unwrap_or_default();
        let tail = if err_tail.trim().is_empty() {
            out_tail
        } else {
            err_tail
        };
        let _ = detected
            .send(Detected::End {
                tail,
                skipped_bytes: out_skipped + err_skipped,
            })
            .await;
    });
    Ok(Running {
        child,
        pid,
        started: Instant::now(),
        detector,
    })
}

/// Passes one stream through and examines it; resolves, once every byte has been passed
/// through and examined, to the stream's last lines and the bytes that skipped detection.
fn watch<W: Write + 'static>(
    from: Option<std::os::fd::OwnedFd>,
    out: fn() -> W,
    stream: Stream,
    quiet: Duration,
    detected: mpsc::Sender<Detected>,
) -> tokio::task::JoinHandle<(String, u64)> {
    let (chunks_tx, chunks_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let queue = Arc::new(DetectQueue::default());
    let pump = spawn_pump(from, out, Some((chunks_tx, queue.clone())));
    tokio::spawn(async move {
        let tail = detect_loop(chunks_rx, &queue, quiet, stream, &detected).await;
        // The pump has finished when the chunk channel closed; join it so the End event
        // comes after every byte has been passed through.
        let _ = pump.await;
        (tail, queue.skipped.load(Ordering::Relaxed))
    })
}

impl Running {
    /// Waits for the child to exit, then for its output to be passed through and examined.
    /// A grandchild that keeps the pipes open does not hold this up for more than `linger`.
    pub async fn wait(mut self, linger: Duration) -> Result<(Exit, Duration), SuperviseError> {
        let status = self.child.wait().await.map_err(SuperviseError::Wait)?;
        let ran_for = self.started.elapsed();
        let _ = tokio::time::timeout(linger, &mut self.detector).await;
        Ok((Exit::from_status(status), ran_for))
    }

    /// Sends `sig` to the child's process group.
    pub fn signal(&self, sig: i32) {
        send_signal(self.pid, sig);
    }
}

/// Sends `sig` to the process group led by `pid` (the child's, see [`start`]).
pub fn send_signal(pid: u32, sig: i32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    if pid <= 0 {
        return;
    }
    // SAFETY: kill(2) has no memory-safety preconditions; a stale pid only fails with ESRCH.
    unsafe {
        libc::kill(-pid, sig);
    }
}

/// The detector's backlog, in bytes, shared by the pump (adds) and the detector (removes).
#[derive(Default)]
struct DetectQueue {
    queued: AtomicUsize,
    skipped: AtomicU64,
    /// Set when bytes were skipped: the detector must not join text across the gap.
    gap: AtomicBool,
}

/// Starts a thread that copies `from` to `out()` as it comes and offers each chunk to the
/// detector without waiting. The receiver resolves when `from` reaches its end.
fn spawn_pump<W: Write + 'static>(
    from: Option<std::os::fd::OwnedFd>,
    out: fn() -> W,
    detect: Option<(mpsc::UnboundedSender<Vec<u8>>, Arc<DetectQueue>)>,
) -> oneshot::Receiver<()> {
    let (done, finished) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("heal-pump".to_string())
        .spawn(move || {
            if let Some(fd) = from {
                pump(std::fs::File::from(fd), out, detect);
            }
            let _ = done.send(());
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start an output thread: {e}");
    }
    finished
}

fn pump<W: Write>(
    mut from: std::fs::File,
    out: fn() -> W,
    detect: Option<(mpsc::UnboundedSender<Vec<u8>>, Arc<DetectQueue>)>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut out_ok = true;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        // A closed terminal must not stop heal from draining the child, or the child would
        // block on a full pipe.
        if out_ok {
            let mut to = out();
            if to.write_all(&buf[..n]).is_err() || to.flush().is_err() {
                out_ok = false;
            }
        }
        if let Some((tx, queue)) = &detect {
            if queue.queued.load(Ordering::Acquire) + n > DETECT_QUEUE_BYTES {
                queue.skipped.fetch_add(n as u64, Ordering::Relaxed);
                queue.gap.store(true, Ordering::Release);
            } else {
                if queue.gap.swap(false, Ordering::AcqRel) {
                    // An empty chunk marks the gap for the detector.
                    let _ = tx.send(Vec::new());
                }
                queue.queued.fetch_add(n, Ordering::AcqRel);
                let _ = tx.send(buf[..n].to_vec());
            }
        }
    }
}

/// Splits one stream into lines, finds tracebacks, and sends each one parsed. Returns the
/// stream's last lines.
async fn detect_loop(
    mut chunks: mpsc::UnboundedReceiver<Vec<u8>>,
    queue: &DetectQueue,
    quiet: Duration,
    stream: Stream,
    detected: &mpsc::Sender<Detected>,
) -> String {
    let mut tail = Tail::default();
    let mut splitter = LineSplitter::new(MAX_LINE_BYTES);
    let mut scanner = Scanner::new(Limits::default());
    let mut blocks = Vec::new();
    loop {
        let chunk = if scanner.in_block() {
            match tokio::time::timeout(quiet, chunks.recv()).await {
                Ok(chunk) => chunk,
                Err(_) => {
                    if let Some(block) = scanner.quiet() {
                        send_block(block, stream, detected).await;
                    }
                    continue;
                }
            }
        } else {
            chunks.recv().await
        };
        let Some(chunk) = chunk else { break };
        queue.queued.fetch_sub(chunk.len(), Ordering::AcqRel);
        if chunk.is_empty() {
            // Bytes were skipped here: whatever was in progress cannot be completed.
            splitter = LineSplitter::new(MAX_LINE_BYTES);
            if let Some(block) = scanner.finish() {
                send_block(block, stream, detected).await;
            }
            continue;
        }
        splitter.push(&chunk, &mut |line: String| {
            if let Some(block) = scanner.push_line(&line) {
                blocks.push(block);
            }
            tail.push(line);
        });
        for block in blocks.drain(..) {
            send_block(block, stream, detected).await;
        }
    }
    if let Some(line) = splitter.finish() {
        if let Some(block) = scanner.push_line(&line) {
            send_block(block, stream, detected).await;
        }
        tail.push(line);
    }
    if let Some(block) = scanner.finish() {
        send_block(block, stream, detected).await;
    }
    tail.text()
}

async fn send_block(
    block: crate::detect::scanner::Block,
    stream: Stream,
    detected: &mpsc::Sender<Detected>,
) {
    let parsed = python::parse(&block.text);
    if let Some(mut tb) = parsed.traceback {
        if tb.origin.is_none() {
            tb.origin = block.origin;
        }
        let _ = detected
            .send(Detected::Traceback {
                traceback: Box::new(tb),
                stream,
            })
            .await;
    }
}

/// Keeps the last lines of stderr for crashes that print no traceback.
#[derive(Debug, Default)]
struct Tail {
    lines: VecDeque<String>,
}

impl Tail {
    fn push(&mut self, line: String) {
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    fn text(&self) -> String {
        self.lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// What to do after the child exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start it again after this delay.
    Restart(Duration),
    /// The policy says stop.
    Stop,
    /// Too many failed starts within the interval: stop and tell the team.
    StartLimitHit,
}

/// The restart policy's state across runs: backoff and the start limit.
#[derive(Debug)]
pub struct Restarts {
    config: RestartConfig,
    next_delay: Duration,
    failures: VecDeque<Instant>,
}

impl Restarts {
    pub fn new(config: RestartConfig) -> Restarts {
        Restarts {
            next_delay: config.backoff_initial,
            config,
            failures: VecDeque::new(),
        }
    }

    /// Decides after a run whose crash a fix was just applied for: restart at once (unless
    /// the policy is `never`), not counted as a failed start, with the backoff started over.
    /// Whether an exit like `exit` would be followed by a restart even without a fix (the
    /// start limit aside): when it would not, heal is ending.
    pub fn restarts_after(&self, exit: Exit) -> bool {
        match self.config.policy {
            RestartPolicy::Never => false,
            RestartPolicy::OnFailure => !exit.success(),
            RestartPolicy::Always => true,
        }
    }

    pub fn after_fix(&mut self) -> Decision {
        if self.config.policy == RestartPolicy::Never {
            return Decision::Stop;
        }
        self.next_delay = self.config.backoff_initial;
        Decision::Restart(Duration::ZERO)
    }

    /// Decides after a run that lasted `ran_for` and ended with `exit`, at `now`.
    pub fn after_exit(&mut self, exit: Exit, ran_for: Duration, now: Instant) -> Decision {
        let failed = !exit.success();
        let restart = match self.config.policy {
            RestartPolicy::Never => false,
            RestartPolicy::OnFailure => failed,
            RestartPolicy::Always => true,
        };
        if !restart {
            return Decision::Stop;
        }
        // A run that stayed up for a whole start-limit window was healthy: start the backoff
        // over, as a fresh failure deserves a quick restart.
        if ran_for >= self.config.start_limit_interval {
            self.next_delay = self.config.backoff_initial;
        }
        if failed {
            self.failures.push_back(now);
            while let Some(first) = self.failures.front() {
                if now.duration_since(*first) > self.config.start_limit_interval {
                    self.failures.pop_front();
                } else {
                    break;
                }
            }
            if self.failures.len() >= self.config.start_limit_burst as usize {
                return Decision::StartLimitHit;
            }
        }
        let delay = self.next_delay;
        self.next_delay = (self.next_delay * 2).min(self.config.backoff_max);
        Decision::Restart(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(policy: RestartPolicy) -> RestartConfig {
        RestartConfig {
            policy,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            start_limit_burst: 5,
            start_limit_interval: Duration::from_secs(60),
            stop_grace: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
        }
    }

    const FAIL: Exit = Exit {
        code: Some(1),
        signal: None,
    };
    const OK: Exit = Exit {
        code: Some(0),
        signal: None,
    };

    #[test]
    fn backoff_doubles_to_the_cap_and_start_limit_stops() {
        let mut r = Restarts::new(RestartConfig {
            start_limit_burst: 100,
            ..config(RestartPolicy::OnFailure)
        });
        let t0 = Instant::now();
        let delays: Vec<_> = (0..8)
            .map(|i| {
                r.after_exit(
                    FAIL,
                    Duration::from_millis(10),
                    t0 + Duration::from_secs(i * 61),
                )
            })
            .collect();
        let secs: Vec<u64> = delays
            .iter()
            .map(|d| match d {
                Decision::Restart(d) => d.as_secs(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60]);

        let mut r = Restarts::new(config(RestartPolicy::OnFailure));
        for _ in 0..4 {
            assert!(matches!(
                r.after_exit(FAIL, Duration::ZERO, t0),
                Decision::Restart(_)
            ));
        }
        assert_eq!(
            r.after_exit(FAIL, Duration::ZERO, t0),
            Decision::StartLimitHit
        );
    }

    #[test]
    fn policies() {
        let t0 = Instant::now();
        assert_eq!(
            Restarts::new(config(RestartPolicy::Never)).after_exit(FAIL, Duration::ZERO, t0),
            Decision::Stop
        );
        assert_eq!(
            Restarts::new(config(RestartPolicy::OnFailure)).after_exit(OK, Duration::ZERO, t0),
            Decision::Stop
        );
        assert!(matches!(
            Restarts::new(config(RestartPolicy::Always)).after_exit(OK, Duration::ZERO, t0),
            Decision::Restart(_)
        ));
        // Failures older than the window do not count towards the limit.
        let mut r = Restarts::new(config(RestartPolicy::OnFailure));
        for i in 0..10 {
            assert!(matches!(
                r.after_exit(FAIL, Duration::ZERO, t0 + Duration::from_secs(i * 20)),
                Decision::Restart(_)
            ));
        }
    }

    #[test]
    fn exit_status_like_a_shell() {
        assert_eq!(
            Exit {
                code: None,
                signal: Some(9)
            }
            .shell_status(),
            137
        );
        assert_eq!(FAIL.shell_status(), 1);
    }
}
