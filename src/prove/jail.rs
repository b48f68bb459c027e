//! The sandbox the proof's commands run in. A fix is untrusted code (so is the error text that
//! steered the model), and the proof runs it: every command of the proof (the baseline and
//! fixed runs, `verify.commands`, the project's tests, `py_compile`) goes through [`Jail`].
//!
//! With bubblewrap (`bwrap`, Debian's `bubblewrap`):
//! - **filesystem**: the whole system read-only; a private `/tmp` and `/var/tmp`; the live
//!   project and `$HOME` hidden behind empty folders; only the copy and the folder beside it
//!   writable. What the program needs to start is shown again, read-only: the live project's
//!   virtualenvs, and the folders of `$HOME` that hold a `PATH` entry or the program itself
//!   (`~/.pyenv`, `~/.local`), so the proof runs the interpreter the program runs;
//! - **network**: none but a private loopback, unless `verify.network = true`;
//! - **processes**: a PID namespace of their own and `--die-with-parent`, so everything the
//!   proof started (`setsid` and double forks included) dies with it, and with heal, even when
//!   heal is SIGKILLed; limits on CPU time, memory and (where the kernel enforces it for the
//!   user heal runs as) processes;
//! - **environment**, with or without bubblewrap: heal's own, minus heal's secrets (the model
//!   keys, `GITHUB_TOKEN`, the Slack webhook and token, every setting heal treats as secret) and
//!   whatever `verify.env_remove` names, plus `verify.env`.
//!
//! `verify.sandbox`: `auto` uses bubblewrap when it starts here and otherwise proves without it
//! (the healer then refuses model fixes, see `pipeline::healing`); `required` refuses to prove
//! without it; `off` never uses it. [`Jail::start`] probes once, at start.
//!
//! It must never let a proof command run with heal's secrets, nor claim a sandbox it did not
//! start.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// How long the start-up probe of bubblewrap may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Folders of the live project shown again, read-only, inside the sandbox: a program's
/// interpreter may live in its virtualenv, which copies leave out.
const VENVS: &[&str] = &[".venv", "venv"];

/// `verify.sandbox`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxMode {
    Auto,
    Required,
    Off,
}

impl SandboxMode {
    pub fn parse(text: &str) -> Option<SandboxMode> {
        match text {
            "auto" => Some(SandboxMode::Auto),
            "required" => Some(SandboxMode::Required),
            "off" => Some(SandboxMode::Off),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SandboxMode::Auto => "auto",
            SandboxMode::Required => "required",
            SandboxMode::Off => "off",
        }
    }
}

/// What the sandbox is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JailConfig {
    pub mode: SandboxMode,
    /// The bubblewrap program (`bwrap`, looked up on PATH, or a path).
    pub program: String,
    /// Allow the network (with a warning in the record).
    pub network: bool,
    /// Names removed from the proof's environment, on top of heal's secrets.
    pub env_remove: Vec<String>,
    /// Values set in the proof's environment.
    pub env: Vec<(String, String)>,
    /// CPU seconds per process; 0: no limit.
    pub cpu_seconds: u64,
    /// Address space per process, in MiB; 0: no limit.
    pub memory_mb: u64,
    /// Processes of the user; 0: no limit. (The kernel does not hold root to it.)
    pub max_processes: u64,
}

impl Default for JailConfig {
    fn default() -> JailConfig {
        JailConfig {
            mode: SandboxMode::Auto,
            program: "bwrap".to_string(),
            network: false,
            env_remove: Vec::new(),
            env: Vec::new(),
            cpu_seconds: 600,
            memory_mb: 4096,
            max_processes: 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JailError {
    #[error(
        "verify.sandbox = \"required\", and no sandbox can start here: {0}; install bubblewrap (Debian: apt-get install bubblewrap), or set verify.sandbox = \"auto\" or \"off\""
    )]
    Required(String),
}

/// What confines the proof's commands.
#[derive(Debug, Clone)]
enum Kind {
    Bwrap(OsString),
    /// No sandbox: why (said in records and on Slack), and whether it was chosen.
    Bare {
        why: String,
        chosen: bool,
    },
}

/// The proof's confinement: the sandbox (or why there is none) and the environment.
#[derive(Debug, Clone)]
pub struct Jail {
    kind: Kind,
    /// The proof's whole environment.
    env: Vec<(String, OsString)>,
    network: bool,
    /// The live project and `$HOME`, hidden.
    hidden: Vec<PathBuf>,
    /// The live project's virtualenvs, shown again read-only.
    readable: Vec<PathBuf>,
    cpu_seconds: u64,
    memory_mb: u64,
    max_processes: u64,
}

impl Jail {
    /// Decides the sandbox at start: probes bubblewrap unless `off`. `secret_names`: the
    /// environment names heal treats as secret (its own keys, and every secret setting).
    /// Fails only for `required` without a working sandbox.
    pub fn start(
        cfg: &JailConfig,
        live_root: &Path,
        secret_names: &[String],
        command: &[String],
    ) -> Result<Jail, JailError> {
        let kind = match cfg.mode {
            SandboxMode::Off => Kind::Bare {
                why: "verify.sandbox = \"off\"".to_string(),
                chosen: true,
            },
            mode => match probe(&cfg.program) {
                Ok(program) => Kind::Bwrap(program),
                Err(why) if mode == SandboxMode::Required => return Err(JailError::Required(why)),
                Err(why) => Kind::Bare { why, chosen: false },
            },
        };
        let mut hidden = vec![live_root.to_path_buf()];
        if let Ok(real) = live_root.canonicalize()
            && !hidden.contains(&real)
        {
            hidden.push(real);
        }
        if let Some(home) = std::env::var_os("HOME").map(PathBuf::from)
            && home.is_absolute()
            && home != Path::new("/")
        {
            hidden.push(home);
        }
        let env = environment(std::env::vars_os(), secret_names, cfg);
        let mut readable: Vec<PathBuf> = hidden
            .iter()
            .take(2)
            .flat_map(|root| VENVS.iter().map(move |v| root.join(v)))
            .filter(|p| p.is_dir())
            .collect();
        // The interpreter may live under a hidden folder: `~/.pyenv/shims` on PATH, or a
        // program given by its path.
        let path_entries = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| std::env::split_paths(v).collect::<Vec<_>>())
            .unwrap_or_default();
        let program = command
            .first()
            .map(PathBuf::from)
            .filter(|p| p.is_absolute());
        for needed in path_entries.iter().chain(program.iter()) {
            for hide in &hidden {
                if let Ok(rest) = needed.strip_prefix(hide)
                    && let Some(first) = rest.components().next()
                {
                    let top = hide.join(first);
                    if top.is_dir() && !readable.contains(&top) && !live_root.starts_with(&top) {
                        readable.push(top);
                    }
                }
            }
        }
        Ok(Jail {
            kind,
            env,
            network: cfg.network,
            hidden,
            readable,
            cpu_seconds: cfg.cpu_seconds,
            memory_mb: cfg.memory_mb,
            max_processes: cfg.max_processes,
        })
    }

    /// No sandbox and heal's environment minus nothing: for tests of the proof itself.
    pub fn none() -> Jail {
        Jail {
            kind: Kind::Bare {
                why: "no sandbox configured".to_string(),
                chosen: true,
            },
            env: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
                .collect(),
            network: true,
            hidden: Vec::new(),
            readable: Vec::new(),
            cpu_seconds: 0,
            memory_mb: 0,
            max_processes: 0,
        }
    }

    /// Whether a real sandbox confines the proof.
    pub fn is_sandboxed(&self) -> bool {
        matches!(self.kind, Kind::Bwrap(_))
    }

    /// No sandbox, and none was chosen: model fixes are refused then.
    pub fn missing(&self) -> Option<&str> {
        match &self.kind {
            Kind::Bare { why, chosen: false } => Some(why),
            _ => None,
        }
    }

    /// What confines the proof, in one sentence, for `heal doctor`, records and Slack.
    pub fn describe(&self) -> String {
        let network = if self.network {
            "network allowed (verify.network = true)"
        } else {
            "no network"
        };
        match &self.kind {
            Kind::Bwrap(program) => format!(
                "bubblewrap ({}): read-only system, private /tmp, the live project and $HOME hidden, {network}, own PID namespace, heal's secrets removed",
                program.to_string_lossy()
            ),
            Kind::Bare { why, .. } => format!(
                "no sandbox ({why}): the proof runs with write access to this machine; heal's secrets are still removed from its environment"
            ),
        }
    }

    /// A warning for the record when the network is open to the proof.
    pub fn network_note(&self) -> Option<&'static str> {
        (self.network && self.is_sandboxed())
            .then_some("the proof ran with network access (verify.network = true)")
    }

    /// The command that runs `program args` in `cwd`, confined, with only `writable` (and the
    /// private temporary folders) writable.
    pub fn command(
        &self,
        program: &OsStr,
        args: &[OsString],
        cwd: &Path,
        writable: &[&Path],
    ) -> tokio::process::Command {
        let mut cmd = match &self.kind {
            Kind::Bare { .. } => {
                let mut cmd = tokio::process::Command::new(program);
                cmd.args(args);
                cmd
            }
            Kind::Bwrap(bwrap) => {
                let mut cmd = tokio::process::Command::new(bwrap);
                cmd.args(self.bwrap_args(cwd, writable))
                    .arg(program)
                    .args(args);
                cmd
            }
        };
        cmd.current_dir(cwd)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        let limits = [
            (libc::RLIMIT_CPU, self.cpu_seconds),
            (libc::RLIMIT_AS, self.memory_mb.saturating_mul(1024 * 1024)),
            (libc::RLIMIT_NPROC, self.max_processes),
        ];
        // SAFETY: between fork and exec only async-signal-safe calls are allowed; setrlimit(2)
        // is one, and nothing here allocates.
        unsafe {
            cmd.pre_exec(move || {
                for (resource, value) in limits {
                    if value > 0 {
                        let limit = libc::rlimit {
                            rlim_cur: value as libc::rlim_t,
                            rlim_max: value as libc::rlim_t,
                        };
                        // A limit the kernel refuses is not a reason not to run the proof.
                        let _ = libc::setrlimit(resource, &limit);
                    }
                }
                Ok(())
            });
        }
        cmd
    }

    fn bwrap_args(&self, cwd: &Path, writable: &[&Path]) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        let mut push = |items: &[&OsStr]| a.extend(items.iter().map(|s| s.to_os_string()));
        push(&["--ro-bind".as_ref(), "/".as_ref(), "/".as_ref()]);
        push(&["--dev".as_ref(), "/dev".as_ref()]);
        push(&["--proc".as_ref(), "/proc".as_ref()]);
        push(&["--tmpfs".as_ref(), "/tmp".as_ref()]);
        push(&["--tmpfs".as_ref(), "/var/tmp".as_ref()]);
        for hide in &self.hidden {
            push(&["--tmpfs".as_ref(), hide.as_os_str()]);
        }
        for show in &self.readable {
            push(&["--ro-bind".as_ref(), show.as_os_str(), show.as_os_str()]);
        }
        for w in writable {
            push(&["--bind".as_ref(), w.as_os_str(), w.as_os_str()]);
        }
        push(&["--unshare-all".as_ref()]);
        if self.network {
            push(&["--share-net".as_ref()]);
        }
        push(&[
            "--die-with-parent".as_ref(),
            "--new-session".as_ref(),
            "--chdir".as_ref(),
            cwd.as_os_str(),
            "--".as_ref(),
        ]);
        a
    }
}

/// The proof's environment: heal's, without its secrets and `verify.env_remove`, with
/// `verify.env`. Names that are not UTF-8 are left out.
fn environment(
    vars: impl Iterator<Item = (OsString, OsString)>,
    secret_names: &[String],
    cfg: &JailConfig,
) -> Vec<(String, OsString)> {
    let removed = |name: &str| {
        secret_names.iter().any(|s| s == name) || cfg.env_remove.iter().any(|s| s == name)
    };
    let mut env: Vec<(String, OsString)> = vars
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
        .filter(|(k, _)| !removed(k))
        .collect();
    for (k, v) in &cfg.env {
        env.retain(|(name, _)| name != k);
        env.push((k.clone(), OsString::from(v)));
    }
    env
}

/// Starts bubblewrap once, as the proof will; its path when it works, else why not.
fn probe(program: &str) -> Result<OsString, String> {
    let mut child = std::process::Command::new(program)
        .args([
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--tmpfs",
            "/tmp",
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--",
            "true",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let started = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(OsString::from(program)),
            Ok(Some(status)) => {
                let mut text = String::new();
                if let Some(mut err) = child.stderr.take() {
                    use std::io::Read;
                    let _ = err.read_to_string(&mut text);
                }
                let first = text.lines().next().unwrap_or("").trim().to_string();
                return Err(format!(
                    "{program} cannot start a sandbox here ({status}{}{first})",
                    if first.is_empty() { "" } else { ": " }
                ));
            }
            Ok(None) if started.elapsed() < PROBE_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program} did not answer within {PROBE_TIMEOUT:?}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_loses_heals_secrets_and_gains_verify_env() {
        let vars = [
            ("PATH", "/usr/bin"),
            ("ANTHROPIC_API_KEY", "sk-ant-x"),
            ("APP_TOKEN", "keep: the app's own"),
            ("DROP_ME", "x"),
            ("MODE", "live"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let cfg = JailConfig {
            env_remove: vec!["DROP_ME".into()],
            env: vec![("MODE".into(), "proof".into())],
            ..JailConfig::default()
        };
        let env = environment(vars.into_iter(), &["ANTHROPIC_API_KEY".to_string()], &cfg);
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["PATH", "APP_TOKEN", "MODE"]);
        assert_eq!(env[2].1, OsString::from("proof"));
    }

    #[test]
    fn required_without_a_sandbox_is_an_error_and_auto_says_why() {
        let root = tempfile::tempdir().unwrap();
        let missing = JailConfig {
            mode: SandboxMode::Required,
            program: "/nonexistent/bwrap".into(),
            ..JailConfig::default()
        };
        let err = Jail::start(&missing, root.path(), &[], &[]).unwrap_err();
        assert!(
            err.to_string().contains("apt-get install bubblewrap"),
            "{err}"
        );
        let auto = JailConfig {
            mode: SandboxMode::Auto,
            ..missing
        };
        let jail = Jail::start(&auto, root.path(), &[], &[]).unwrap();
        assert!(!jail.is_sandboxed());
        assert!(jail.missing().unwrap().contains("/nonexistent/bwrap"));
        assert!(jail.describe().starts_with("no sandbox"));
    }
}
