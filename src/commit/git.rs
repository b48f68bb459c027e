//! The `git` command line, run with a clean, predictable environment.
//!
//! heal uses the git CLI rather than a library: it honours the user's credentials, hooks and
//! configuration as users expect, and it is the only way to push over every transport. Every
//! command gets a timeout, no terminal prompt, the C locale (so messages can be classified) and
//! none of the `GIT_*` variables heal itself may have inherited (heal can run inside a hook).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

/// Local git commands (no network) finish well within this.
const LOCAL_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git cannot be run ({0}): install git, or set HEAL_GIT_MODE=off")]
    Missing(std::io::Error),
    #[error("`git {args}` failed: {stderr}")]
    Failed { args: String, stderr: String },
    #[error("`git {args}` did not finish within {} s", .timeout.as_secs())]
    Timeout { args: String, timeout: Duration },
}

/// What a git command printed, and how it ended.
#[derive(Debug)]
pub struct Output {
    pub ok: bool,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim_end().to_string()
    }
}

/// One git command to run.
#[derive(Debug, Default)]
pub struct Cmd {
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    timeout: Option<Duration>,
    /// A failpoint hit once the command is running (the fault-injection tests kill heal
    /// there, with the command under way).
    failpoint: Option<&'static str>,
}

impl Cmd {
    pub fn new<S: AsRef<str>>(args: impl IntoIterator<Item = S>) -> Cmd {
        Cmd {
            args: args.into_iter().map(|a| a.as_ref().to_string()).collect(),
            ..Cmd::default()
        }
    }

    pub fn env(mut self, name: &str, value: impl Into<String>) -> Cmd {
        self.env.push((name.to_string(), value.into()));
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Cmd {
        self.timeout = Some(timeout);
        self
    }

    /// Names the failpoint hit right after the command started.
    pub fn failpoint(mut self, name: &'static str) -> Cmd {
        self.failpoint = Some(name);
        self
    }

    /// The arguments as shown in messages. Configuration given with `-c` is left out: it may
    /// name a credential helper.
    fn shown(&self) -> String {
        let mut out = Vec::new();
        let mut skip = false;
        for a in &self.args {
            if skip {
                skip = false;
                continue;
            }
            if a == "-c" {
                skip = true;
                continue;
            }
            out.push(a.as_str());
        }
        out.join(" ")
    }
}

/// A repository, seen from the project root.
#[derive(Debug, Clone)]
pub struct Git {
    /// The working tree's top level.
    pub top: PathBuf,
    /// The project root relative to `top`, `""` or ending in `/`.
    pub prefix: String,
}

impl Git {
    /// The repository holding `root`; `Ok(None)` when `root` is in none.
    pub async fn open(root: &Path) -> Result<Option<Git>, GitError> {
        let probe = Git {
            top: root.to_path_buf(),
            prefix: String::new(),
        };
        let out = probe
            .output(Cmd::new(["rev-parse", "--show-toplevel", "--show-prefix"]))
            .await?;
        if !out.ok {
            return Ok(None);
        }
        let text = out.text();
        let mut lines = text.lines();
        let top = lines.next().unwrap_or_default().to_string();
        let prefix = lines.next().unwrap_or_default().to_string();
        if top.is_empty() {
            // A bare repository or the inside of .git: nothing heal can commit to.
            return Ok(None);
        }
        Ok(Some(Git {
            top: PathBuf::from(top),
            prefix,
        }))
    }

    /// `rel` (relative to the project root) as a path in the repository.
    pub fn path_of(&self, rel: &str) -> String {
        format!("{}{}", self.prefix, rel)
    }

    /// Runs `cmd`; a non-zero exit is an error carrying git's message.
    pub async fn run(&self, cmd: Cmd) -> Result<String, GitError> {
        let args = cmd.shown();
        let out = self.output(cmd).await?;
        if out.ok {
            Ok(out.text())
        } else {
            Err(GitError::Failed {
                args,
                stderr: last_lines(&out.stderr),
            })
        }
    }

    /// Shorthand for [`Git::run`] with arguments only.
    pub async fn git<S: AsRef<str>>(
        &self,
        args: impl IntoIterator<Item = S>,
    ) -> Result<String, GitError> {
        self.run(Cmd::new(args)).await
    }

    /// Runs `cmd` and returns what it printed, whatever its exit status.
    pub async fn output(&self, cmd: Cmd) -> Result<Output, GitError> {
        let timeout = cmd.timeout.unwrap_or(LOCAL_TIMEOUT);
        let args = cmd.shown();
        let mut command = tokio::process::Command::new("git");
        command
            .args(&cmd.args)
            .current_dir(&self.top)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env("LC_ALL", "C")
            .env("LANGUAGE", "C")
            .stdin(if cmd.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for var in [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "GIT_PREFIX",
            "GIT_COMMON_DIR",
            "GIT_OBJECT_DIRECTORY",
        ] {
            command.env_remove(var);
        }
        for (k, v) in &cmd.env {
            command.env(k, v);
        }
        let mut child = command.spawn().map_err(GitError::Missing)?;
        if let Some(name) = cmd.failpoint {
            crate::failpoint::hit(name);
        }
        if let (Some(bytes), Some(mut stdin)) = (cmd.stdin, child.stdin.take()) {
            // A writer task, so a command that prints while reading cannot deadlock us.
            tokio::spawn(async move {
                let _ = stdin.write_all(&bytes).await;
            });
        }
        match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Ok(Ok(out)) => Ok(Output {
                ok: out.status.success(),
                stdout: out.stdout,
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }),
            Ok(Err(e)) => Err(GitError::Missing(e)),
            Err(_) => Err(GitError::Timeout { args, timeout }),
        }
    }

    /// The path git uses for `name` inside the git directory (`MERGE_HEAD`, `index.lock`...),
    /// right for linked worktrees too.
    pub async fn git_path(&self, name: &str) -> Result<PathBuf, GitError> {
        let p = self.git(["rev-parse", "--git-path", name]).await?;
        Ok(self.top.join(p))
    }

    /// The blob id of `path` in `commit`, if it is there.
    pub async fn blob(&self, commit: &str, path: &str) -> Result<Option<String>, GitError> {
        let out = self
            .output(Cmd::new([
                "rev-parse",
                "--verify",
                "-q",
                &format!("{commit}:{path}"),
            ]))
            .await?;
        Ok(out.ok.then(|| out.text()))
    }

    /// The content of a blob.
    pub async fn cat(&self, blob: &str) -> Result<Vec<u8>, GitError> {
        let out = self.output(Cmd::new(["cat-file", "blob", blob])).await?;
        if out.ok {
            Ok(out.stdout)
        } else {
            Err(GitError::Failed {
                args: format!("cat-file blob {blob}"),
                stderr: last_lines(&out.stderr),
            })
        }
    }

    /// Writes `bytes` as a blob (through the path's clean filters); returns its id.
    pub async fn hash_object(&self, path: &str, bytes: &[u8]) -> Result<String, GitError> {
        self.run(
            Cmd::new(["hash-object", "-w", "--stdin", &format!("--path={path}")])
                .stdin(bytes.to_vec()),
        )
        .await
    }
}

/// The end of git's stderr, enough to say what went wrong.
pub fn last_lines(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let start = lines.len().saturating_sub(4);
    let text = lines[start..].join(" / ");
    if text.is_empty() {
        "no message".to_string()
    } else {
        text
    }
}
