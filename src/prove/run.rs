//! Runs one command of the proof: in the copy, stdin closed, in its own process group, with a
//! time limit, keeping what the proof judges: the exit, the tracebacks printed on either
//! stream (each with its place in the output), the first lines of stdout, and a tail of both.
//!
//! It must never leave a process behind: at the time limit, after the command exits on its
//! own, and when the future running it is dropped (heal was asked to stop), its whole process
//! group is killed, since the copy it runs in is about to be deleted. Memory stays bounded
//! however much the command prints.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};

use super::jail::Jail;
pub use crate::detect::Stream;
use crate::detect::Traceback;
use crate::detect::lines::LineSplitter;
use crate::detect::python;
use crate::detect::scanner::{Limits, Scanner};

/// Lines of combined output kept for the report and the model.
pub const TAIL_LINES: usize = 40;
/// Lines of stderr kept as text (reports of commands that are not the program).
const STDERR_LINES: usize = 1000;
/// Longest line kept; the rest of a longer line is dropped.
const MAX_LINE_BYTES: usize = 4096;
/// The first lines of stdout kept for the output comparison.
const MAX_STDOUT_LINES: usize = 2000;
const MAX_STDOUT_BYTES: usize = 512 * 1024;
/// Tracebacks kept per run; more are counted, not kept.
const MAX_ERRORS: usize = 200;
/// How long to wait for the output to end once the group is killed (a process that left the
/// group may hold the pipes open).
const LINGER: Duration = Duration::from_secs(2);

/// A traceback the command printed.
#[derive(Debug, Clone)]
pub struct Printed {
    pub traceback: Traceback,
    pub stream: Stream,
    /// Where its first line came in the output (both streams counted, in arrival order).
    pub seq: u64,
}

/// One line of stdout and where it came in the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub seq: u64,
    pub text: String,
}

/// What became of one command.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The exit code; `None` when killed by a signal (including at the time limit).
    pub exit: Option<i32>,
    pub signal: Option<i32>,
    /// Still running at the time limit (then killed).
    pub timed_out: bool,
    /// The last [`TAIL_LINES`] lines of stdout and stderr, in arrival order.
    pub output_tail: String,
    /// The last lines of stderr alone.
    pub stderr: String,
    /// The first lines of stdout (bounded).
    pub stdout: Vec<Line>,
    /// Tracebacks printed on either stream, in order (the first [`MAX_ERRORS`]).
    pub errors: Vec<Printed>,
    /// Tracebacks beyond [`MAX_ERRORS`], counted only.
    pub errors_dropped: usize,
    pub duration: Duration,
    /// When, after the start, the last line of output came; `None` for no output at all.
    pub last_output: Option<Duration>,
    /// CPU time its processes had used when the time limit stopped it (`None` when it ended
    /// by itself, or when it could not be read).
    pub cpu_at_limit: Option<Duration>,
}

/// A command to run.
#[derive(Debug, Clone)]
pub struct Spec<'a> {
    pub program: &'a OsStr,
    pub args: &'a [OsString],
    pub cwd: &'a Path,
    /// Added to the proof's environment (the jail's).
    pub env: &'a [(String, OsString)],
    pub timeout: Duration,
    /// What confines the command.
    pub jail: &'a Jail,
    /// The only places it may write (besides private temporary folders): the copy, and the
    /// folder beside it.
    pub writable: &'a [&'a Path],
}

#[derive(Default)]
struct Collected {
    seq: u64,
    combined: VecDeque<String>,
    stderr: VecDeque<String>,
    stdout: Vec<Line>,
    stdout_bytes: usize,
    errors: Vec<Printed>,
    errors_dropped: usize,
    /// When the last line came.
    last_line: Option<Instant>,
}

impl Collected {
    /// Takes one line; returns its place in the output.
    fn line(&mut self, line: &str, stream: Stream) -> u64 {
        self.seq += 1;
        self.last_line = Some(Instant::now());
        let seq = self.seq;
        if stream == Stream::Stderr {
            if self.stderr.len() == STDERR_LINES {
                self.stderr.pop_front();
            }
            self.stderr.push_back(line.to_string());
        } else if self.stdout.len() < MAX_STDOUT_LINES
            && self.stdout_bytes + line.len() <= MAX_STDOUT_BYTES
        {
            self.stdout_bytes += line.len();
            self.stdout.push(Line {
                seq,
                text: line.to_string(),
            });
        }
        if self.combined.len() == TAIL_LINES {
            self.combined.pop_front();
        }
        self.combined.push_back(line.to_string());
        seq
    }

    fn error(&mut self, printed: Printed) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(printed);
        } else {
            self.errors_dropped += 1;
        }
    }
}

/// Kills a process group when dropped: the command's, whatever way the run ends.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            crate::supervise::send_signal(pid, libc::SIGKILL);
        }
    }
}

/// Runs one command, confined by `spec.jail`, to its end or its time limit. Dropping the
/// future kills its process group (and, in the sandbox, its PID namespace with it).
pub async fn execute(spec: &Spec<'_>) -> std::io::Result<Outcome> {
    let mut cmd = spec
        .jail
        .command(spec.program, spec.args, spec.cwd, spec.writable);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for (key, value) in spec.env {
        cmd.env(key, value);
    }
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let guard = GroupGuard(child.id());
    let collected = Arc::new(Mutex::new(Collected::default()));
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(pump(
            out,
            Arc::clone(&collected),
            Stream::Stdout,
        )));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(pump(
            err,
            Arc::clone(&collected),
            Stream::Stderr,
        )));
    }
    // Aborted if this future is dropped, so no reader outlives the run.
    let readers = AbortOnDrop(readers);

    let waited = tokio::time::timeout(spec.timeout, child.wait()).await;
    let duration = started.elapsed();
    // Read before the kill: whether a run stopped at the limit was busy or waiting.
    let cpu_at_limit = match (&waited, child.id()) {
        (Err(_), Some(pid)) => descendants_cpu(pid),
        _ => None,
    };
    drop(guard);
    let (status, timed_out) = match waited {
        Ok(status) => (Some(status?), false),
        Err(_) => (child.wait().await.ok(), true),
    };
    let mut readers = readers;
    let drain = async {
        for reader in &mut readers.0 {
            let _ = reader.await;
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
    drop(readers);

    let mut c = match collected.lock() {
        Ok(mut c) => std::mem::take(&mut *c),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    c.errors.sort_by_key(|e| e.seq);
    let last_output = c.last_line.map(|at| at.saturating_duration_since(started));
    use std::os::unix::process::ExitStatusExt;
    Ok(Outcome {
        exit: if timed_out {
            None
        } else {
            status.and_then(|s| s.code())
        },
        signal: if timed_out {
            None
        } else {
            status.and_then(|s| s.signal())
        },
        timed_out,
        output_tail: join(&c.combined),
        stderr: join(&c.stderr),
        stdout: c.stdout,
        errors: c.errors,
        errors_dropped: c.errors_dropped,
        duration,
        last_output,
        cpu_at_limit,
    })
}

/// The CPU time (user and system, their reaped children's included) of `pid` and every
/// process below it, from `/proc`; `None` when `/proc` cannot be read.
fn descendants_cpu(pid: u32) -> Option<Duration> {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = u64::try_from(ticks).ok().filter(|t| *t > 0)?;
    let mut parents: Vec<(u32, u32, u64)> = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // The command name (field 2) may hold spaces and parentheses: fields count from the
        // last `)`.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        let num = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
        let ppid = u32::try_from(num(1)).unwrap_or(0);
        parents.push((p, ppid, num(11) + num(12) + num(13) + num(14)));
    }
    let mut total = 0u64;
    let mut frontier = vec![pid];
    let mut seen = std::collections::HashSet::new();
    while let Some(current) = frontier.pop() {
        if !seen.insert(current) {
            continue;
        }
        for (p, ppid, t) in &parents {
            if *p == current {
                total += t;
            }
            if *ppid == current {
                frontier.push(*p);
            }
        }
    }
    Some(Duration::from_millis(total.saturating_mul(1000) / ticks))
}

struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for reader in &self.0 {
            reader.abort();
        }
    }
}

fn join(lines: &VecDeque<String>) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Reads one stream to its end: every line is counted and kept within bounds, and looked at
/// by this stream's own scanner, so lines of the two streams never mix into one traceback.
async fn pump(mut from: impl AsyncRead + Unpin, collected: Arc<Mutex<Collected>>, stream: Stream) {
    let mut splitter = LineSplitter::new(MAX_LINE_BYTES);
    let mut scanner = Scanner::new(Limits::default());
    let mut block_start = 0u64;
    let mut buf = vec![0u8; 8192];
    let mut take = |line: String| {
        let seq = match collected.lock() {
            Ok(mut c) => c.line(&line, stream),
            Err(_) => return,
        };
        let was_in_block = scanner.in_block();
        let done = scanner.push_line(&line);
        let started_here = scanner.in_block() && (!was_in_block || done.is_some());
        if let Some(block) = done {
            found(&collected, &block, stream, block_start);
        }
        if started_here {
            block_start = seq;
        }
    };
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => splitter.push(&buf[..n], &mut |line| take(line)),
        }
    }
    if let Some(line) = splitter.finish() {
        take(line);
    }
    if let Some(block) = scanner.finish() {
        found(&collected, &block, stream, block_start);
    }
}

fn found(
    collected: &Mutex<Collected>,
    block: &crate::detect::scanner::Block,
    stream: Stream,
    seq: u64,
) {
    let Some(mut traceback) = python::parse(&block.text).traceback else {
        return;
    };
    if traceback.origin.is_none() {
        traceback.origin = block.origin.clone();
    }
    if let Ok(mut c) = collected.lock() {
        c.error(Printed {
            traceback,
            stream,
            seq,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jail() -> &'static Jail {
        static JAIL: std::sync::OnceLock<Jail> = std::sync::OnceLock::new();
        JAIL.get_or_init(Jail::none)
    }

    fn spec<'a>(args: &'a [OsString], cwd: &'a Path) -> Spec<'a> {
        Spec {
            program: OsStr::new("python3"),
            args,
            cwd,
            env: &[],
            timeout: Duration::from_secs(20),
            jail: jail(),
            writable: &[],
        }
    }

    #[tokio::test]
    async fn tracebacks_on_both_streams_are_found_in_order_and_stdout_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let script = "import sys, traceback\n\
print('one', flush=True)\n\
try:\n    {}['k']\nexcept KeyError:\n    traceback.print_exc(file=sys.stdout)\n    sys.stdout.flush()\n\
print('two', flush=True)\n\
def f():\n    return 1 / 0\n\
f()\n";
        let args = [OsString::from("-c"), OsString::from(script)];
        let out = execute(&spec(&args, dir.path())).await.unwrap();
        assert_eq!(out.exit, Some(1));
        let kinds: Vec<(&str, Stream)> = out
            .errors
            .iter()
            .map(|e| (e.traceback.exception.exc_type.as_str(), e.stream))
            .collect();
        assert_eq!(
            kinds,
            [
                ("KeyError", Stream::Stdout),
                ("ZeroDivisionError", Stream::Stderr)
            ]
        );
        let texts: Vec<&str> = out.stdout.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts.first(), Some(&"one"));
        assert_eq!(texts.last(), Some(&"two"));
        let two = out.stdout.last().unwrap().seq;
        assert!(out.errors[0].seq < two && two < out.errors[1].seq);
    }

    #[tokio::test]
    async fn a_dropped_run_kills_its_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        // A grandchild that would outlive its parent, in the same group.
        let script = format!(
            "import subprocess, time\np = subprocess.Popen(['sleep', '60'])\nopen({:?}, 'w').write(str(p.pid))\ntime.sleep(60)\n",
            pidfile.to_string_lossy()
        );
        let args = [OsString::from("-c"), OsString::from(script)];
        let cwd = dir.path().to_path_buf();
        let task = tokio::spawn(async move {
            let _ = execute(&Spec {
                program: OsStr::new("python3"),
                args: &args,
                cwd: &cwd,
                env: &[],
                timeout: Duration::from_secs(60),
                jail: jail(),
                writable: &[],
            })
            .await;
        });
        let pid = loop {
            if let Ok(text) = std::fs::read_to_string(&pidfile)
                && let Ok(pid) = text.trim().parse::<i32>()
            {
                break pid;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        task.abort();
        let _ = task.await;
        // The grandchild is gone (or a zombie reaped by nobody we know): signal 0 fails, or
        // its state is Z.
        let mut gone = false;
        for _ in 0..250 {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if state.is_empty() || state.split_whitespace().nth(2) == Some("Z") {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(gone, "the grandchild {pid} outlived the dropped run");
    }
}
