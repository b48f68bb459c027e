//! The program after heal dies. A heal that is SIGKILLed (the OOM killer, `kill -9`) cannot
//! stop its program: the program would run on, unsupervised, its output going nowhere, and
//! the next `heal run` would start a second copy beside it.
//!
//! Two layers keep that from happening:
//! - the child is started with `PR_SET_PDEATHSIG = SIGTERM` ([`die_with_heal`]): the kernel
//!   sends it SIGTERM when heal dies. A program that ignores SIGTERM, or the children it
//!   started, survive that;
//! - heal journals the child it runs (pid, process group, start time). At its next start,
//!   recovery finds a child of a dead heal still running and stops it (SIGTERM to its group,
//!   SIGKILL after the stop grace) before a new one starts ([`stop`]). Adopting it instead is
//!   not possible: its output pipes died with the old heal, so nothing it prints could be
//!   watched.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The journal's note of the child a heal runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChildNote {
    pub pid: u32,
    /// The child leads its own process group (see [`super::start`]): its pid.
    pub pgid: u32,
    /// The kernel's start time of the process (clock ticks since boot, `/proc/PID/stat`
    /// field 22): a later process that reuses the pid has another.
    pub start: u64,
    pub command: Vec<String>,
}

impl ChildNote {
    /// The note of the running process `pid`; `None` when it is already gone.
    pub fn of(pid: u32, command: &[String]) -> Option<ChildNote> {
        let (start, _) = stat(pid)?;
        Some(ChildNote {
            pid,
            pgid: pid,
            start,
            command: command.to_vec(),
        })
    }

    /// Whether the process this note names still runs (a zombie does not).
    pub fn running(&self) -> bool {
        matches!(stat(self.pid), Some((start, state)) if start == self.start && state != 'Z' && state != 'X')
    }
}

/// How an orphan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It had already ended.
    Gone,
    /// SIGTERM ended it.
    Terminated,
    /// It outlived the grace and was killed.
    Killed,
    /// Even SIGKILL did not end it in time (a process stuck in the kernel).
    Stuck,
}

/// Stops the program `note` names, and the group it leads: SIGTERM, then SIGKILL when it
/// still runs after `grace`.
pub async fn stop(note: &ChildNote, grace: Duration) -> Stopped {
    if !note.running() {
        return Stopped::Gone;
    }
    super::send_signal(note.pgid, libc::SIGTERM);
    if ended_within(note, grace).await {
        return Stopped::Terminated;
    }
    super::send_signal(note.pgid, libc::SIGKILL);
    if ended_within(note, Duration::from_secs(5)).await {
        Stopped::Killed
    } else {
        Stopped::Stuck
    }
}

async fn ended_within(note: &ChildNote, bound: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        if !note.running() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The start time and state of process `pid`, from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(u64, char)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Reads `pid (comm) state ppid ... starttime ...`. The command name may hold spaces and
/// parentheses: the fields are counted after its last `)`.
fn parse_stat(text: &str) -> Option<(u64, char)> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // `state` is field 3; `starttime` is field 22: 19 further on.
    let start = fields.nth(18)?.parse().ok()?;
    Some((start, state))
}

/// Arranges for the child (between fork and exec) to get SIGTERM when heal dies. The signal
/// follows the death of the thread that started the child: heal starts it from the thread
/// that runs the supervision loop, which lives as long as heal.
pub fn die_with_heal(cmd: &mut tokio::process::Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec; it only calls prctl and
    // getppid, which are async-signal-safe, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // heal died between the fork and the prctl: the signal would never come.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                return Err(std::io::Error::other(
                    "heal ended before the program started",
                ));
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_is_read_after_the_last_parenthesis() {
        let line = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200";
        assert_eq!(parse_stat(line), Some((987654, 'S')));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_running_and_a_changed_start_time_is_another_process() {
        let me = ChildNote::of(std::process::id(), &[]).expect("own stat");
        assert!(me.running());
        let other = ChildNote {
            start: me.start + 1,
            ..me
        };
        assert!(!other.running());
    }
}
