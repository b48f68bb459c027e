//! Runs one command of the proof: in the copy, stdin closed, in its own process group, with a
//! time limit, keeping only the tail of its output.
//!
//! It must never leave a process behind: at the time limit, and also after the command exits
//! on its own, its whole process group is killed, since the copy it runs in is about to be
//! deleted. Memory stays bounded however much the command prints.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::detect::lines::LineSplitter;

/// Lines of combined output kept for the report and the model.
pub const TAIL_LINES: usize = 40;
/// Lines of stderr kept to look for a traceback in: enough for a long chained traceback.
const STDERR_LINES: usize = 1000;
/// Longest line kept; the rest of a longer line is dropped.
const MAX_LINE_BYTES: usize = 4096;
/// How long to wait for the output to end once the group is killed (a process that left the
/// group may hold the pipes open).
const LINGER: Duration = Duration::from_secs(2);

/// What became of one command.
#[derive(Debug)]
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
    pub duration: Duration,
}

#[derive(Default)]
struct Tails {
    combined: VecDeque<String>,
    stderr: VecDeque<String>,
}

impl Tails {
    fn push(&mut self, line: String, is_stderr: bool) {
        if is_stderr {
            if self.stderr.len() == STDERR_LINES {
                self.stderr.pop_front();
            }
            self.stderr.push_back(line.clone());
        }
        if self.combined.len() == TAIL_LINES {
            self.combined.pop_front();
        }
        self.combined.push_back(line);
    }
}

/// Runs `program args` in `cwd` with heal's environment plus `env`.
pub async fn run(
    program: &OsString,
    args: &[OsString],
    cwd: &Path,
    env: &[(&str, &Path)],
    timeout: Duration,
) -> std::io::Result<Outcome> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let tails = Arc::new(Mutex::new(Tails::default()));
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(pump(out, Arc::clone(&tails), false)));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(pump(err, Arc::clone(&tails), true)));
    }

    let waited = tokio::time::timeout(timeout, child.wait()).await;
    let duration = started.elapsed();
    if let Some(pid) = pid {
        crate::supervise::send_signal(pid, libc::SIGKILL);
    }
    let (status, timed_out) = match waited {
        Ok(status) => (Some(status?), false),
        Err(_) => (child.wait().await.ok(), true),
    };
    let drain = async {
        for reader in &mut readers {
            let _ = reader.await;
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
    for reader in &readers {
        reader.abort();
    }

    let tails = match tails.lock() {
        Ok(mut t) => std::mem::take(&mut *t),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
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
        output_tail: join(&tails.combined),
        stderr: join(&tails.stderr),
        duration,
    })
}

fn join(lines: &VecDeque<String>) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out
}

async fn pump(mut from: impl AsyncRead + Unpin, tails: Arc<Mutex<Tails>>, is_stderr: bool) {
    let mut splitter = LineSplitter::new(MAX_LINE_BYTES);
    let mut buf = vec![0u8; 8192];
    let push = |line: String| {
        if let Ok(mut t) = tails.lock() {
            t.push(line, is_stderr);
        }
    };
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => splitter.push(&buf[..n], &mut |line| push(line)),
        }
    }
    if let Some(line) = splitter.finish() {
        push(line);
    }
}
