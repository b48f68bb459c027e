//! A temporary project and the real `heal` binary run inside it.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The folder of the real python3, so tests do not depend on shims or the caller's PATH order.
fn python_dir() -> &'static str {
    static DIR: OnceLock<String> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Command::new("python3")
            .args([
                "-c",
                "import sys, os; print(os.path.dirname(sys.executable))",
            ])
            .output()
            .expect("python3 must be installed to run heal's tests");
        assert!(out.status.success(), "python3 does not run");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

/// A project folder in a temp dir, with heal's environment under the test's control.
pub struct Project {
    dir: tempfile::TempDir,
    env: BTreeMap<String, String>,
}

impl Project {
    pub fn new() -> Project {
        let dir = tempfile::Builder::new()
            .prefix("heal-it-")
            .tempdir()
            .unwrap();
        let mut env = BTreeMap::new();
        env.insert(
            "PATH".to_string(),
            format!("{}:/usr/local/bin:/usr/bin:/bin", python_dir()),
        );
        env.insert(
            "HOME".to_string(),
            dir.path().to_string_lossy().into_owned(),
        );
        env.insert("LANG".to_string(), "C.UTF-8".to_string());
        env.insert("PYTHONDONTWRITEBYTECODE".to_string(), "1".to_string());
        env.insert("GIT_CONFIG_NOSYSTEM".to_string(), "1".to_string());
        // Quick restarts and Slack retries, so the tests wait on events, not on backoffs.
        env.insert("HEAL_RESTART".to_string(), "never".to_string());
        env.insert(
            "HEAL_RESTART_BACKOFF_INITIAL_MS".to_string(),
            "10".to_string(),
        );
        env.insert("HEAL_RESTART_BACKOFF_MAX_MS".to_string(), "40".to_string());
        env.insert("HEAL_SLACK_RETRY_INITIAL_MS".to_string(), "10".to_string());
        env.insert("HEAL_SLACK_MAX_ATTEMPTS".to_string(), "3".to_string());
        // The fake model servers answer as scripted, in report_fix tool calls: a model on
        // loopback would be asked for a whole file by default. The file form's tests set it.
        env.insert(
            "HEAL_LLM_EDIT_FORM".to_string(),
            "search_replace".to_string(),
        );
        env.insert("HEAL_SLACK_TIMEOUT_MS".to_string(), "5000".to_string());
        Project { dir, env }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating folders) relative to the project.
    pub fn file(&self, rel: &str, content: &str) -> &Project {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }

    pub fn env(&mut self, key: &str, value: &str) -> &mut Project {
        self.env.insert(key.to_string(), value.to_string());
        self
    }

    /// `heal ARGS` in the project, with only the project's environment.
    pub fn heal(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_heal"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `heal ARGS` to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.heal(args).output().unwrap();
        Run::from(out)
    }

    /// Starts `heal ARGS` with piped output, for tests that act while it runs. heal is
    /// stopped when the test ends, passed or failed, so it never outlives the test.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        Spawned(
            self.heal(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    }

    /// `spawn`, with `env` set on top of the project's (two heal processes on one project,
    /// each with its own model).
    pub fn spawn_with(&self, args: &[&str], env: &[(&str, &str)]) -> Spawned {
        let mut cmd = self.heal(args);
        cmd.envs(env.iter().copied());
        Spawned(
            cmd.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    }

    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Every JSON record in `storage/errors/`, oldest id first.
    pub fn records(&self) -> Vec<Value> {
        let dir = self.storage().join("errors");
        let mut paths: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    p.extension().is_some_and(|e| e == "json")
                        && !p.file_name().unwrap().to_string_lossy().starts_with('.')
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        paths.sort();
        paths
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    /// The only record; fails the test if there is not exactly one.
    pub fn record(&self) -> Value {
        let records = self.records();
        assert_eq!(records.len(), 1, "expected one record, got {records:#?}");
        records.into_iter().next().unwrap()
    }
}

/// A heal started by [`Project::spawn`]: asked to stop (SIGTERM, which it passes to the
/// program), then killed, when dropped while it still runs.
pub struct Spawned(Child);

impl std::ops::Deref for Spawned {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Spawned {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            kill(self.0.id(), libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A finished run of heal.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub stdout_bytes: Vec<u8>,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            stdout_bytes: out.stdout,
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A child's output stream read on a thread, so a test can wait for text with a bound.
pub struct Stream {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    pub seen: Vec<u8>,
}

impl Stream {
    pub fn new(mut stream: impl Read + Send + 'static) -> Stream {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 64 * 1024];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Stream {
            rx,
            seen: Vec::new(),
        }
    }

    /// Waits until `needle` has been read; fails the test after `timeout`.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if String::from_utf8_lossy(&self.seen).contains(needle) {
                return String::from_utf8_lossy(&self.seen).into_owned();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => self.seen.extend_from_slice(&chunk),
                Err(_) => panic!(
                    "`{needle}` did not show up within {timeout:?}; got:\n{}",
                    String::from_utf8_lossy(&self.seen)
                ),
            }
        }
    }

    /// [`Stream::wait_for`], showing `log` (heal's stderr) too when the wait fails.
    pub fn wait_for_or_show(&mut self, needle: &str, timeout: Duration, log: &mut Stream) {
        if let Err(why) = self.wait_for_or_explain(needle, timeout, log) {
            panic!("{why}");
        }
    }

    /// [`Stream::wait_for_or_show`], returning what it would show instead of failing the test,
    /// for a test that adds more of its own (the records).
    pub fn wait_for_or_explain(
        &mut self,
        needle: &str,
        timeout: Duration,
        log: &mut Stream,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while !String::from_utf8_lossy(&self.seen).contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => self.seen.extend_from_slice(&chunk),
                Err(_) => {
                    while let Ok(chunk) = log.rx.try_recv() {
                        log.seen.extend_from_slice(&chunk);
                    }
                    return Err(format!(
                        "`{needle}` did not show up within {timeout:?}; got:\n{}\nheal's log:\n{}",
                        String::from_utf8_lossy(&self.seen),
                        String::from_utf8_lossy(&log.seen)
                    ));
                }
            }
        }
        Ok(())
    }

    /// Everything until the stream ends (bounded by `timeout`).
    pub fn rest(&mut self, timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => self.seen.extend_from_slice(&chunk),
                Err(_) => return self.seen.clone(),
            }
        }
    }
}

/// Sends `sig` to a process.
pub fn kill(pid: u32, sig: i32) {
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

/// Waits for a child with a bound; kills it and fails the test when the bound passes.
pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let (tx, rx) = std::sync::mpsc::channel();
    let pid = child.id();
    let guard = std::thread::spawn(move || {
        if rx.recv_timeout(timeout).is_err() {
            kill(pid, libc::SIGKILL);
        }
    });
    let status = child.wait().unwrap();
    let _ = tx.send(());
    guard.join().unwrap();
    status
}
