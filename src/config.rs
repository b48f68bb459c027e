//! Configuration: `heal.toml`, then `.env`, then the real environment, later overriding
//! earlier, validated once into a [`Config`].
//!
//! Every setting is a row of [`KEYS`]: its heal.toml path, its environment name, whether it is a
//! secret, and how its value is checked. Each value remembers where it came from, so errors and
//! `heal doctor` can say so. This module reads files but never starts anything, and never
//! prints a secret's value.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::notify::{RetryPolicy, SlackTarget};

/// Where one setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    DotEnv(PathBuf),
    Env,
    Flag,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "{}", p.display()),
            Source::DotEnv(p) => write!(f, "{}", p.display()),
            Source::Env => f.write_str("environment"),
            Source::Flag => f.write_str("command line"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not valid TOML: {message}\nfix the file, or move it away to use the defaults"
    )]
    Toml { path: PathBuf, message: String },
    #[error("{path}: unknown key `{key}`; known keys: {known}")]
    UnknownKey {
        path: PathBuf,
        key: String,
        known: String,
    },
    #[error("{path}: line {line} is not KEY=VALUE: {message}")]
    DotEnv {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{key} = {value:?} (from {source_}) is not valid: expected {expected}")]
    Invalid {
        key: String,
        value: String,
        source_: Source,
        expected: String,
    },
}

/// What kind of value a setting holds, and so how it is checked.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Bool,
    U64 {
        min: u64,
    },
    Text,
    Url,
    OneOf(&'static [&'static str]),
    Repo,
    /// A list of strings: a TOML array, or in the environment a JSON array or a
    /// comma-separated list.
    List,
    /// `Name <email>`, as git writes authors.
    Author,
}

impl Kind {
    fn expected(self) -> String {
        match self {
            Kind::Bool => "true or false (also 1/0, yes/no, on/off)".to_string(),
            Kind::U64 { min } => format!("a whole number >= {min}"),
            Kind::Text => "text".to_string(),
            Kind::Url => "an http:// or https:// URL".to_string(),
            Kind::OneOf(names) => format!("one of {}", names.join(", ")),
            Kind::Repo => "owner/name, like acme/ads-agent".to_string(),
            Kind::List => "a list: a TOML array of strings, or a JSON array or comma-separated list in the environment".to_string(),
            Kind::Author => "Name <email>, like heal <heal@example.com>".to_string(),
        }
    }

    fn check(self, value: &str) -> bool {
        match self {
            Kind::Bool => parse_bool(value).is_some(),
            Kind::U64 { min } => value.parse::<u64>().is_ok_and(|n| n >= min),
            Kind::Text => true,
            Kind::Url => value.starts_with("http://") || value.starts_with("https://"),
            Kind::OneOf(names) => names.contains(&value),
            Kind::Repo => {
                let mut parts = value.split('/');
                let ok = |p: Option<&str>| {
                    p.is_some_and(|p| {
                        !p.is_empty()
                            && p.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                    })
                };
                ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
            }
            Kind::List => parse_list(value).is_some(),
            Kind::Author => parse_author(value).is_some(),
        }
    }
}

/// One setting: where it lives in heal.toml and in the environment.
#[derive(Debug)]
pub struct Key {
    /// Dotted path in heal.toml (`slack.webhook_url`).
    pub toml: &'static str,
    /// Name in `.env` and the environment (`SLACK_WEBHOOK_URL`).
    pub env: &'static str,
    kind: Kind,
    default: Option<&'static str>,
    /// Shown only as set/unset, never logged.
    pub secret: bool,
    pub help: &'static str,
}

const CONFIDENCE: &[&str] = &["low", "medium", "high"];
const RESTART: &[&str] = &["never", "on-failure", "always"];
const PROVIDERS: &[&str] = &["anthropic", "openai", "none"];
const STRUCTURED: &[&str] = &["tools", "json_schema", "json"];
/// The model asked when HEAL_MODEL is unset, per provider.
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4o-mini";
pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
const GIT_MODES: &[&str] = &["push", "branch", "pr", "commit", "off"];
const SANDBOXES: &[&str] = &["auto", "required", "off"];
/// Values of .env this long or longer are secrets, whatever their names.
const DOTENV_SECRET_LEN: usize = 8;
const EDIT_FORMS: &[&str] = &["search_replace", "function"];

/// Every setting heal knows. heal.toml keys outside this table are an error (a typo would
/// otherwise silently do nothing).
#[rustfmt::skip]
pub static KEYS: &[Key] = &[
    Key { toml: "storage_dir", env: "HEAL_STORAGE_DIR", kind: Kind::Text, default: Some("storage"), secret: false, help: "where records live, relative to the project root" },
    Key { toml: "enable_auto_healing", env: "ENABLE_AUTO_HEALING", kind: Kind::Bool, default: Some("true"), secret: false, help: "false: detect, record and notify, never fix" },
    Key { toml: "auto_fix_min_confidence", env: "AUTO_FIX_MIN_CONFIDENCE", kind: Kind::OneOf(CONFIDENCE), default: Some("medium"), secret: false, help: "lowest model confidence a fix may have" },
    Key { toml: "max_claude_calls_per_hour", env: "MAX_CLAUDE_CALLS_PER_HOUR", kind: Kind::U64 { min: 0 }, default: Some("10"), secret: false, help: "LLM calls allowed per hour" },
    Key { toml: "max_heal_failures", env: "HEAL_MAX_HEAL_FAILURES", kind: Kind::U64 { min: 1 }, default: Some("2"), secret: false, help: "failed healings of one error before heal stops trying (until heal retry)" },
    Key { toml: "max_attempts", env: "HEAL_MAX_ATTEMPTS", kind: Kind::U64 { min: 1 }, default: Some("2"), secret: false, help: "fixes asked of the model per healing, retries after a failed edit or proof included" },
    Key { toml: "watch_seconds", env: "HEAL_WATCH_SECONDS", kind: Kind::U64 { min: 0 }, default: Some("60"), secret: false, help: "after a fix, how long the same error coming back rolls the fix back" },
    Key { toml: "blacklist", env: "HEAL_BLACKLIST", kind: Kind::List, default: Some("[]"), secret: false, help: "globs of files no fix may touch, on top of the built-in ones" },
    Key { toml: "policy.extra_files", env: "HEAL_POLICY_EXTRA_FILES", kind: Kind::U64 { min: 0 }, default: Some("1"), secret: false, help: "project files a fix may touch beyond those in the traceback" },
    Key { toml: "policy.max_files", env: "HEAL_POLICY_MAX_FILES", kind: Kind::U64 { min: 1 }, default: Some("3"), secret: false, help: "files one fix may touch" },
    Key { toml: "policy.max_changed_lines", env: "HEAL_POLICY_MAX_CHANGED_LINES", kind: Kind::U64 { min: 1 }, default: Some("40"), secret: false, help: "added plus removed lines one fix may have" },
    Key { toml: "policy.max_file_bytes", env: "HEAL_POLICY_MAX_FILE_BYTES", kind: Kind::U64 { min: 1 }, default: Some("1048576"), secret: false, help: "larger files are never edited" },
    Key { toml: "policy.other_files", env: "HEAL_POLICY_OTHER_FILES", kind: Kind::List, default: Some("[]"), secret: false, help: "globs of files that are not Python a fix may edit (shell scripts, Dockerfiles, requirements, configuration are refused otherwise)" },
    Key { toml: "policy.test_files", env: "HEAL_POLICY_TEST_FILES", kind: Kind::List, default: Some(r#"["tests/**", "test/**", "**/test_*.py", "**/*_test.py", "**/conftest.py"]"#), secret: false, help: "globs of test files no fix may edit (the files verify.commands names are guarded too)" },
    Key { toml: "verify.commands", env: "HEAL_VERIFY_COMMANDS", kind: Kind::List, default: Some("[]"), secret: false, help: "checks a fix must pass in the isolated copy (sh -c, exit 0)" },
    Key { toml: "verify.rerun", env: "HEAL_VERIFY_RERUN", kind: Kind::Bool, default: Some("true"), secret: false, help: "re-run the program in the isolated copy to prove a fix" },
    Key { toml: "verify.rerun_seconds", env: "HEAL_VERIFY_RERUN_SECONDS", kind: Kind::U64 { min: 1 }, default: Some("10"), secret: false, help: "how long the re-run (and each baseline run) may last; still running then, without the error, is a pass" },
    Key { toml: "verify.auto_tests", env: "HEAL_VERIFY_AUTO_TESTS", kind: Kind::Bool, default: Some("true"), secret: false, help: "with no verify.commands, find the project's tests (pytest, or unittest in tests/) and refuse a fix that breaks one that passed" },
    Key { toml: "verify.tests_timeout_s", env: "HEAL_VERIFY_TESTS_TIMEOUT_S", kind: Kind::U64 { min: 1 }, default: Some("300"), secret: false, help: "how long one run of the project's tests may last" },
    Key { toml: "verify.sandbox", env: "HEAL_VERIFY_SANDBOX", kind: Kind::OneOf(SANDBOXES), default: Some("auto"), secret: false, help: "the proof's sandbox: auto (bubblewrap when it starts; without it, model fixes are refused), required (never prove without it), off" },
    Key { toml: "verify.sandbox_program", env: "HEAL_VERIFY_SANDBOX_PROGRAM", kind: Kind::Text, default: Some("bwrap"), secret: false, help: "the bubblewrap program, on PATH or a path" },
    Key { toml: "verify.network", env: "HEAL_VERIFY_NETWORK", kind: Kind::Bool, default: Some("false"), secret: false, help: "let the proof reach the network (noted in the record)" },
    Key { toml: "verify.env", env: "HEAL_VERIFY_ENV", kind: Kind::List, default: Some("[]"), secret: false, help: "NAME=VALUE pairs set in the proof's environment" },
    Key { toml: "verify.env_remove", env: "HEAL_VERIFY_ENV_REMOVE", kind: Kind::List, default: Some("[]"), secret: false, help: "names removed from the proof's environment, on top of heal's own secrets" },
    Key { toml: "verify.cpu_seconds", env: "HEAL_VERIFY_CPU_SECONDS", kind: Kind::U64 { min: 0 }, default: Some("600"), secret: false, help: "CPU seconds a process of the proof may use (0: no limit)" },
    Key { toml: "verify.memory_mb", env: "HEAL_VERIFY_MEMORY_MB", kind: Kind::U64 { min: 0 }, default: Some("4096"), secret: false, help: "address space a process of the proof may use, in MiB (0: no limit)" },
    Key { toml: "verify.max_processes", env: "HEAL_VERIFY_MAX_PROCESSES", kind: Kind::U64 { min: 0 }, default: Some("1024"), secret: false, help: "processes the proof may have (0: no limit; not enforced by the kernel for root)" },
    Key { toml: "verify.max_chain", env: "HEAL_VERIFY_MAX_CHAIN", kind: Kind::U64 { min: 1 }, default: Some("3"), secret: false, help: "links of a crash chain healed before one restart (a fix that lets the program reach the next error)" },
    Key { toml: "instant.enabled", env: "HEAL_INSTANT", kind: Kind::Bool, default: Some("true"), secret: false, help: "try the instant rules (no model, no cost) before any model" },
    Key { toml: "instant.rules", env: "HEAL_INSTANT_RULES", kind: Kind::List, default: Some(r#"["did-you-mean", "nearest-name", "unused-import", "missing-colon", "missing-comma", "tab-indent"]"#), secret: false, help: "the instant rules to use, in this order" },
    Key { toml: "redact.allow", env: "HEAL_REDACT_ALLOW", kind: Kind::List, default: Some("[]"), secret: false, help: "names whose values are not secrets: every .env value of 8 characters or more is redacted otherwise" },
    Key { toml: "triage.force", env: "HEAL_TRIAGE_FORCE", kind: Kind::List, default: Some("[]"), secret: false, help: "kinds of errors that are not code bugs to send for a fix anyway: missing-env, connection, missing-file, read-only, exit, assertion" },
    Key { toml: "provider", env: "HEAL_PROVIDER", kind: Kind::OneOf(PROVIDERS), default: Some("anthropic"), secret: false, help: "the model provider: anthropic, openai (any OpenAI-compatible server), or none (instant rules only)" },
    Key { toml: "model", env: "HEAL_MODEL", kind: Kind::Text, default: None, secret: false, help: "the model asked for fixes (default: claude-sonnet-4-5 for anthropic, gpt-4o-mini for openai)" },
    Key { toml: "anthropic_api_key", env: "ANTHROPIC_API_KEY", kind: Kind::Text, default: None, secret: true, help: "Anthropic API key" },
    Key { toml: "anthropic_base_url", env: "ANTHROPIC_BASE_URL", kind: Kind::Url, default: Some(crate::analyse::anthropic::DEFAULT_BASE_URL), secret: false, help: "Anthropic API base URL" },
    Key { toml: "openai_api_key", env: "OPENAI_API_KEY", kind: Kind::Text, default: None, secret: true, help: "OpenAI API key (optional for local servers)" },
    Key { toml: "openai_base_url", env: "OPENAI_BASE_URL", kind: Kind::Url, default: Some(DEFAULT_OPENAI_BASE_URL), secret: false, help: "OpenAI-compatible base URL: llama.cpp http://127.0.0.1:8080/v1, Ollama http://127.0.0.1:11434/v1" },
    Key { toml: "openai.structured", env: "HEAL_OPENAI_STRUCTURED", kind: Kind::OneOf(STRUCTURED), default: Some("tools"), secret: false, help: "how the openai provider asks for the report_fix answer: tools, json_schema or json" },
    Key { toml: "llm.edit_form", env: "HEAL_LLM_EDIT_FORM", kind: Kind::OneOf(EDIT_FORMS), default: Some("search_replace"), secret: false, help: "how the model writes edits: search_replace (exact text to replace) or function (the def line, and the whole new function)" },
    Key { toml: "llm.context_calls", env: "HEAL_LLM_CONTEXT_CALLS", kind: Kind::Bool, default: Some("true"), secret: false, help: "show the model what the failing function was called with and gave in a run of the program (the baseline's calls)" },
    Key { toml: "llm.context_tests", env: "HEAL_LLM_CONTEXT_TESTS", kind: Kind::Bool, default: Some("true"), secret: false, help: "show the model the project's tests that call the failing function" },
    Key { toml: "llm.candidates", env: "HEAL_LLM_CANDIDATES", kind: Kind::U64 { min: 1 }, default: None, secret: false, help: "fixes asked for at once when the first fails its proof: each is proved against the same baseline, the smallest that passes is applied; each counts as a model call (default: 3 for a local model, an OpenAI-compatible server on loopback or a private address; 1 for a paid API)" },
    Key { toml: "llm.max_retries", env: "HEAL_LLM_MAX_RETRIES", kind: Kind::U64 { min: 0 }, default: Some("4"), secret: false, help: "retries of a model request after 429, 5xx or a timeout" },
    Key { toml: "llm.retry_initial_ms", env: "HEAL_LLM_RETRY_INITIAL_MS", kind: Kind::U64 { min: 0 }, default: Some("2000"), secret: false, help: "first wait between model retries, doubling (retry-after wins)" },
    Key { toml: "llm.max_retry_after_s", env: "HEAL_LLM_MAX_RETRY_AFTER_S", kind: Kind::U64 { min: 0 }, default: Some("60"), secret: false, help: "a model asking to wait longer than this (retry-after) is not waited for: the incident fails" },
    Key { toml: "llm.timeout_s", env: "HEAL_LLM_TIMEOUT_S", kind: Kind::U64 { min: 1 }, default: Some("120"), secret: false, help: "timeout of one model request" },
    Key { toml: "github_token", env: "GITHUB_TOKEN", kind: Kind::Text, default: None, secret: true, help: "token for pushes and pull requests" },
    Key { toml: "github_repo", env: "GITHUB_REPO", kind: Kind::Repo, default: None, secret: false, help: "owner/name of the GitHub repository" },
    Key { toml: "github_api_url", env: "GITHUB_API_URL", kind: Kind::Url, default: Some("https://api.github.com"), secret: false, help: "GitHub REST API base URL (GitHub Enterprise: https://HOST/api/v3)" },
    Key { toml: "git.mode", env: "HEAL_GIT_MODE", kind: Kind::OneOf(GIT_MODES), default: Some("push"), secret: false, help: "what happens to an applied fix: push, branch, pr, commit (local only) or off" },
    Key { toml: "git.remote", env: "HEAL_GIT_REMOTE", kind: Kind::Text, default: None, secret: false, help: "remote to push to (default: the branch's upstream, else origin)" },
    Key { toml: "git.author", env: "HEAL_GIT_AUTHOR", kind: Kind::Author, default: Some("heal <heal@localhost>"), secret: false, help: "author and committer of fix commits" },
    Key { toml: "git.no_verify", env: "HEAL_GIT_NO_VERIFY", kind: Kind::Bool, default: Some("false"), secret: false, help: "true: skip the repository's pre-commit and commit-msg hooks" },
    Key { toml: "git.draft", env: "HEAL_GIT_DRAFT", kind: Kind::Bool, default: Some("false"), secret: false, help: "pr mode: open pull requests as drafts" },
    Key { toml: "git.push_timeout_s", env: "HEAL_GIT_PUSH_TIMEOUT_S", kind: Kind::U64 { min: 1 }, default: Some("60"), secret: false, help: "timeout of one push or fetch" },
    Key { toml: "git.push_retries", env: "HEAL_GIT_PUSH_RETRIES", kind: Kind::U64 { min: 0 }, default: Some("2"), secret: false, help: "retries of a push after a network, timeout or server failure" },
    Key { toml: "git.retry_initial_ms", env: "HEAL_GIT_RETRY_INITIAL_MS", kind: Kind::U64 { min: 0 }, default: Some("2000"), secret: false, help: "first wait between push retries, doubling" },
    Key { toml: "slack.webhook_url", env: "SLACK_WEBHOOK_URL", kind: Kind::Url, default: None, secret: true, help: "Slack incoming webhook" },
    Key { toml: "slack.bot_token", env: "SLACK_BOT_TOKEN", kind: Kind::Text, default: None, secret: true, help: "Slack bot token (Web API: threads and updates)" },
    Key { toml: "slack.channel", env: "SLACK_CHANNEL", kind: Kind::Text, default: None, secret: false, help: "Slack channel for the Web API" },
    Key { toml: "slack.api_url", env: "SLACK_API_URL", kind: Kind::Url, default: Some("https://slack.com/api"), secret: false, help: "Slack Web API base URL" },
    Key { toml: "slack.max_attempts", env: "HEAL_SLACK_MAX_ATTEMPTS", kind: Kind::U64 { min: 1 }, default: Some("5"), secret: false, help: "attempts per Slack message" },
    Key { toml: "slack.retry_initial_ms", env: "HEAL_SLACK_RETRY_INITIAL_MS", kind: Kind::U64 { min: 0 }, default: Some("1000"), secret: false, help: "first wait between Slack attempts, doubling" },
    Key { toml: "slack.timeout_ms", env: "HEAL_SLACK_TIMEOUT_MS", kind: Kind::U64 { min: 1 }, default: Some("10000"), secret: false, help: "timeout of one Slack request" },
    Key { toml: "restart.policy", env: "HEAL_RESTART", kind: Kind::OneOf(RESTART), default: Some("on-failure"), secret: false, help: "when to restart the program (like systemd's Restart=)" },
    Key { toml: "restart.backoff_initial_ms", env: "HEAL_RESTART_BACKOFF_INITIAL_MS", kind: Kind::U64 { min: 0 }, default: Some("1000"), secret: false, help: "first wait before a restart, doubling" },
    Key { toml: "restart.backoff_max_ms", env: "HEAL_RESTART_BACKOFF_MAX_MS", kind: Kind::U64 { min: 0 }, default: Some("60000"), secret: false, help: "longest wait before a restart" },
    Key { toml: "restart.start_limit_burst", env: "HEAL_START_LIMIT_BURST", kind: Kind::U64 { min: 1 }, default: Some("5"), secret: false, help: "failed starts allowed within the interval" },
    Key { toml: "restart.start_limit_interval_s", env: "HEAL_START_LIMIT_INTERVAL_S", kind: Kind::U64 { min: 1 }, default: Some("60"), secret: false, help: "window of the start limit, seconds" },
    Key { toml: "shutdown_grace_s", env: "HEAL_SHUTDOWN_GRACE_S", kind: Kind::U64 { min: 0 }, default: Some("10"), secret: false, help: "once the program has ended for good, how long heal lets the healing of errors it logged go on before cancelling it and exiting" },
    Key { toml: "restart.stop_grace_s", env: "HEAL_STOP_GRACE_S", kind: Kind::U64 { min: 0 }, default: Some("10"), secret: false, help: "seconds between SIGTERM and SIGKILL when stopping" },
    Key { toml: "detect.quiet_ms", env: "HEAL_DETECT_QUIET_MS", kind: Kind::U64 { min: 1 }, default: Some("200"), secret: false, help: "stderr silence that ends a logged traceback" },
];

impl Key {
    /// The default as a TOML value (`true`, `10`, `"push"`, `[]`), for `heal init`.
    pub fn default_toml(&self) -> Option<String> {
        let value = self.default?;
        Some(match self.kind {
            Kind::Bool | Kind::U64 { .. } => value.to_string(),
            Kind::List => {
                let items = parse_list(value).unwrap_or_default();
                toml::Value::Array(items.into_iter().map(toml::Value::String).collect()).to_string()
            }
            _ => toml::Value::String(value.to_string()).to_string(),
        })
    }

    /// An example value for a key without a default, for `heal init`.
    pub fn example_toml(&self) -> String {
        match self.kind {
            Kind::Repo => "\"acme/ads-agent\"".to_string(),
            Kind::Url => "\"https://…\"".to_string(),
            // A number without a fixed default (it depends on another key): the least allowed.
            Kind::U64 { min } => min.to_string(),
            _ => "\"…\"".to_string(),
        }
    }
}

/// A setting's value and where it came from.
#[derive(Debug, Clone)]
pub struct Setting {
    pub key: &'static Key,
    pub value: Option<String>,
    pub source: Source,
}

/// When to start the program again after it exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    Never,
    OnFailure,
    Always,
}

impl RestartPolicy {
    pub fn parse(s: &str) -> Option<RestartPolicy> {
        match s {
            "never" => Some(RestartPolicy::Never),
            "on-failure" => Some(RestartPolicy::OnFailure),
            "always" => Some(RestartPolicy::Always),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RestartConfig {
    pub policy: RestartPolicy,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub start_limit_burst: u32,
    pub start_limit_interval: Duration,
    pub stop_grace: Duration,
    /// Once the program has ended and will not be restarted, how long the healing of errors
    /// it logged may go on before it is cancelled and heal exits.
    pub shutdown_grace: Duration,
}

/// Which model heal asks for fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderChoice {
    Anthropic,
    /// Any OpenAI-compatible chat completions server.
    OpenAi,
    /// No model: healing stops after the record and the alert.
    None,
}

/// Everything the healing stages (analyse, prove, apply) need.
#[derive(Debug, Clone)]
pub struct HealingConfig {
    pub provider: ProviderChoice,
    pub model: String,
    /// `None` when unset: healing then skips with a reason saying how to set it.
    pub anthropic_api_key: Option<String>,
    pub anthropic_base_url: String,
    /// `None`: no key (local servers need none).
    pub openai_api_key: Option<String>,
    pub openai_base_url: String,
    /// `tools`, `json_schema` or `json`.
    pub openai_structured: String,
    /// Whether instant rules run before any model, and which.
    pub instant_enabled: bool,
    pub instant_rules: Vec<String>,
    /// Kinds of errors that are not code bugs that are sent for a fix anyway.
    pub triage_force: Vec<String>,
    pub llm_max_retries: u32,
    /// Candidate fixes asked for when the first one fails.
    pub candidates: u32,
    /// How the model writes its edits.
    pub edit_form: crate::analyse::EditForm,
    /// Whether the prompt shows the failing function's calls from a run of the program.
    pub context_calls: bool,
    /// Whether the prompt shows the project's tests that call the failing function.
    pub context_tests: bool,
    pub llm_backoff_initial: Duration,
    /// The longest `retry-after` heal waits for; a longer one fails the incident.
    pub llm_max_retry_after: Duration,
    pub llm_timeout: Duration,
    pub min_confidence: crate::analyse::Confidence,
    pub max_calls_per_hour: u64,
    pub max_heal_failures: u32,
    pub max_attempts: u32,
    pub watch: Duration,
    /// The user's globs; the built-in ones are added by the scope check.
    pub blacklist: Vec<String>,
    pub verify_commands: Vec<String>,
    pub rerun: bool,
    pub rerun_timeout: Duration,
    /// Find and run the project's own tests when `verify_commands` is empty.
    pub auto_tests: bool,
    pub tests_timeout: Duration,
    /// Links of a crash chain healed before one restart.
    pub max_chain: usize,
    /// The proof's sandbox and environment.
    pub jail: crate::prove::jail::JailConfig,
    /// What any fix may touch, and how much.
    pub policy: crate::policy::PolicyConfig,
}

/// What happens to an applied fix in git.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitMode {
    /// Commit on the current branch and push it (the seed's behaviour).
    Push,
    /// Commit on a new branch `heal/{id}` and push that branch; the checkout is not switched.
    Branch,
    /// As `Branch`, then open a pull request.
    Pr,
    /// Commit on the current branch, never push.
    Commit,
    /// No git at all.
    Off,
}

impl GitMode {
    pub fn parse(s: &str) -> Option<GitMode> {
        match s {
            "push" => Some(GitMode::Push),
            "branch" => Some(GitMode::Branch),
            "pr" => Some(GitMode::Pr),
            "commit" => Some(GitMode::Commit),
            "off" => Some(GitMode::Off),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GitMode::Push => "push",
            GitMode::Branch => "branch",
            GitMode::Pr => "pr",
            GitMode::Commit => "commit",
            GitMode::Off => "off",
        }
    }
}

/// Everything the commit stage needs.
#[derive(Debug, Clone)]
pub struct GitConfig {
    pub mode: GitMode,
    /// `None`: the branch's upstream remote, else `origin`.
    pub remote: Option<String>,
    pub author_name: String,
    pub author_email: String,
    pub no_verify: bool,
    pub draft: bool,
    pub push_timeout: Duration,
    pub push_retries: u32,
    pub retry_initial: Duration,
    pub github_token: Option<String>,
    /// `owner/name`.
    pub github_repo: Option<String>,
    pub github_api_url: String,
    /// Commit messages and pull requests leave for a remote: they go through the same
    /// redactor as every other channel.
    pub redactor: crate::redact::Redactor,
}

/// The validated configuration of one `heal` invocation.
#[derive(Debug, Clone)]
pub struct Config {
    /// The project root: the child's working directory, and what paths are relative to.
    pub root: PathBuf,
    /// Absolute storage folder (`<root>/storage` by default).
    pub storage_dir: PathBuf,
    pub auto_healing: bool,
    pub slack: Option<SlackTarget>,
    pub slack_retry: RetryPolicy,
    pub restart: RestartConfig,
    pub quiet: Duration,
    pub healing: HealingConfig,
    pub git: GitConfig,
    /// Replaces secrets (from the environment, .env and known credential shapes) by
    /// `[REDACTED]` in whatever leaves heal: model requests, Slack, records.
    pub redactor: crate::redact::Redactor,
    /// Every setting with its source, for `heal doctor`.
    pub settings: Vec<Setting>,
}

/// What the command line adds on top of files and environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub root: Option<PathBuf>,
    pub restart: Option<String>,
}

impl Config {
    /// Loads heal.toml and .env from the project root, then the process environment.
    pub fn load(overrides: &Overrides) -> Result<Config, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let root = match &overrides.root {
            Some(root) => root.clone(),
            None => project_root(
                &std::env::current_dir().map_err(|source| ConfigError::Read {
                    path: PathBuf::from("."),
                    source,
                })?,
            ),
        };
        let root = std::path::absolute(&root).map_err(|source| ConfigError::Read {
            path: root.clone(),
            source,
        })?;
        Config::from_sources(&root, &env, overrides)
    }

    /// Builds the configuration from the files under `root` and the given environment.
    pub fn from_sources(
        root: &Path,
        env: &BTreeMap<String, String>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut layers: Vec<(Source, BTreeMap<String, String>)> = Vec::new();
        let toml_path = root.join("heal.toml");
        if let Some(text) = read_optional(&toml_path)? {
            layers.push((
                Source::File(toml_path.clone()),
                parse_toml(&toml_path, &text)?,
            ));
        }
        let env_path = root.join(".env");
        let mut dotenv_all = BTreeMap::new();
        if let Some(text) = read_optional(&env_path)? {
            dotenv_all = parse_dotenv(&env_path, &text)?;
            let known = dotenv_all
                .iter()
                .filter_map(|(name, value)| {
                    KEYS.iter()
                        .find(|k| k.env == name)
                        .map(|k| (k.toml.to_string(), value.clone()))
                })
                .collect();
            layers.push((Source::DotEnv(env_path.clone()), known));
        }
        let real_env: BTreeMap<String, String> = KEYS
            .iter()
            .filter_map(|k| env.get(k.env).map(|v| (k.toml.to_string(), v.clone())))
            .collect();
        layers.push((Source::Env, real_env));
        let mut flags = BTreeMap::new();
        if let Some(policy) = &overrides.restart {
            flags.insert("restart.policy".to_string(), policy.clone());
        }
        layers.push((Source::Flag, flags));

        let mut settings = Vec::with_capacity(KEYS.len());
        for key in KEYS {
            let mut setting = Setting {
                key,
                value: key.default.map(str::to_string),
                source: Source::Default,
            };
            for (source, values) in &layers {
                if let Some(v) = values.get(key.toml) {
                    setting.value = Some(v.clone());
                    setting.source = source.clone();
                }
            }
            if let Some(value) = &setting.value {
                // An empty value means "unset", as in most .env conventions.
                if value.is_empty() && key.default.is_none() {
                    setting.value = None;
                } else if !key.kind.check(value) {
                    return Err(ConfigError::Invalid {
                        key: key.env.to_string(),
                        value: if key.secret {
                            "<secret>".to_string()
                        } else {
                            value.clone()
                        },
                        source_: setting.source.clone(),
                        expected: key.kind.expected(),
                    });
                }
            }
            settings.push(setting);
        }
        // Every secret heal can see is redacted: values of the process environment and of
        // .env whose names say secret; every setting heal itself treats as secret, whatever its
        // name or shape (a webhook off Slack's domain); and every value of .env of 8
        // characters or more, since .env is where secrets live, unless redact.allow names it.
        let allowed: Vec<String> = settings
            .iter()
            .find(|s| s.key.toml == "redact.allow")
            .and_then(|s| s.value.as_deref())
            .and_then(parse_list)
            .unwrap_or_default();
        let mut values: Vec<String> = env
            .iter()
            .chain(dotenv_all.iter())
            .filter(|(k, _)| crate::redact::is_secret_name(k) && !allowed.contains(k))
            .map(|(_, v)| v.trim().to_string())
            .collect();
        values.extend(
            settings
                .iter()
                .filter(|s| s.key.secret)
                .filter_map(|s| s.value.as_deref().map(|v| v.trim().to_string())),
        );
        values.extend(
            dotenv_all
                .iter()
                .filter(|(k, v)| {
                    v.trim().len() >= DOTENV_SECRET_LEN
                        && !allowed.contains(k)
                        // heal's own settings that are not secret (HEAL_PROVIDER, a base URL).
                        && !KEYS.iter().any(|key| !key.secret && key.env == k.as_str())
                })
                .map(|(_, v)| v.trim().to_string()),
        );
        // The password of a URL (a DSN), whatever its variable's name: the URL shape is
        // redacted anyway, but a driver's error prints the password alone.
        values.extend(
            env.iter()
                .chain(dotenv_all.iter())
                .filter(|(k, _)| !allowed.contains(k))
                .filter_map(|(_, v)| crate::redact::url_password(v.trim()))
                .map(str::to_string),
        );
        let redactor = crate::redact::Redactor::from_values(values);
        Config::from_settings(root, settings, redactor)
    }

    fn from_settings(
        root: &Path,
        settings: Vec<Setting>,
        redactor: crate::redact::Redactor,
    ) -> Result<Config, ConfigError> {
        let get = |name: &str| -> Option<&str> {
            settings
                .iter()
                .find(|s| s.key.toml == name)
                .and_then(|s| s.value.as_deref())
        };
        // Values were checked against their kind above, so these parses only fall back to the
        // defaults when a key has none.
        let num = |name: &str| get(name).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let storage = PathBuf::from(get("storage_dir").unwrap_or("storage"));
        let storage_dir = if storage.is_absolute() {
            storage
        } else {
            root.join(storage)
        };
        let slack = match (
            get("slack.bot_token"),
            get("slack.channel"),
            get("slack.webhook_url"),
        ) {
            (Some(token), Some(channel), _) => Some(SlackTarget::WebApi {
                token: token.to_string(),
                channel: channel.to_string(),
                api_url: get("slack.api_url")
                    .unwrap_or("https://slack.com/api")
                    .trim_end_matches('/')
                    .to_string(),
            }),
            (Some(_), None, _) => {
                return Err(ConfigError::Invalid {
                    key: "SLACK_CHANNEL".to_string(),
                    value: String::new(),
                    source_: Source::Default,
                    expected: "a channel id or name when SLACK_BOT_TOKEN is set".to_string(),
                });
            }
            (None, _, Some(url)) => Some(SlackTarget::Webhook {
                url: url.to_string(),
            }),
            (None, _, None) => None,
        };
        let backoff_initial = Duration::from_millis(num("restart.backoff_initial_ms"));
        let list = |name: &str| get(name).and_then(parse_list).unwrap_or_default();
        let small = |name: &str| u32::try_from(num(name)).unwrap_or(u32::MAX);
        let healing = HealingConfig {
            provider: match get("provider") {
                Some("none") => ProviderChoice::None,
                Some("openai") => ProviderChoice::OpenAi,
                _ => ProviderChoice::Anthropic,
            },
            model: get("model")
                .unwrap_or(match get("provider") {
                    Some("openai") => DEFAULT_OPENAI_MODEL,
                    _ => crate::analyse::anthropic::DEFAULT_MODEL,
                })
                .to_string(),
            openai_api_key: get("openai_api_key").map(str::to_string),
            openai_base_url: get("openai_base_url")
                .unwrap_or(DEFAULT_OPENAI_BASE_URL)
                .trim_end_matches('/')
                .to_string(),
            openai_structured: get("openai.structured").unwrap_or("tools").to_string(),
            instant_enabled: get("instant.enabled").and_then(parse_bool).unwrap_or(true),
            instant_rules: list("instant.rules"),
            triage_force: list("triage.force"),
            anthropic_api_key: get("anthropic_api_key").map(str::to_string),
            anthropic_base_url: get("anthropic_base_url")
                .unwrap_or(crate::analyse::anthropic::DEFAULT_BASE_URL)
                .trim_end_matches('/')
                .to_string(),
            llm_max_retries: small("llm.max_retries"),
            // A local model's answers cost only time, and a small model's first answer is
            // often wrong: more candidates are worth it there. A paid API is asked once.
            candidates: match get("llm.candidates") {
                Some(_) => small("llm.candidates"),
                None if get("provider") == Some("openai")
                    && is_local_url(get("openai_base_url").unwrap_or(DEFAULT_OPENAI_BASE_URL)) =>
                {
                    LOCAL_CANDIDATES
                }
                None => 1,
            },
            context_tests: get("llm.context_tests")
                .and_then(parse_bool)
                .unwrap_or(true),
            context_calls: get("llm.context_calls")
                .and_then(parse_bool)
                .unwrap_or(true),
            edit_form: get("llm.edit_form")
                .and_then(crate::analyse::EditForm::parse)
                .unwrap_or_default(),
            llm_backoff_initial: Duration::from_millis(num("llm.retry_initial_ms")),
            llm_max_retry_after: Duration::from_secs(num("llm.max_retry_after_s")),
            llm_timeout: Duration::from_secs(num("llm.timeout_s")),
            min_confidence: get("auto_fix_min_confidence")
                .and_then(crate::analyse::Confidence::parse)
                .unwrap_or(crate::analyse::Confidence::Medium),
            max_calls_per_hour: num("max_claude_calls_per_hour"),
            max_heal_failures: small("max_heal_failures"),
            max_attempts: small("max_attempts"),
            watch: Duration::from_secs(num("watch_seconds")),
            blacklist: list("blacklist"),
            verify_commands: list("verify.commands"),
            rerun: get("verify.rerun").and_then(parse_bool).unwrap_or(true),
            rerun_timeout: Duration::from_secs(num("verify.rerun_seconds")),
            auto_tests: get("verify.auto_tests")
                .and_then(parse_bool)
                .unwrap_or(true),
            tests_timeout: Duration::from_secs(num("verify.tests_timeout_s")),
            max_chain: usize::try_from(num("verify.max_chain")).unwrap_or(usize::MAX),
            jail: crate::prove::jail::JailConfig {
                mode: get("verify.sandbox")
                    .and_then(crate::prove::jail::SandboxMode::parse)
                    .unwrap_or(crate::prove::jail::SandboxMode::Auto),
                program: get("verify.sandbox_program").unwrap_or("bwrap").to_string(),
                network: get("verify.network").and_then(parse_bool).unwrap_or(false),
                env_remove: list("verify.env_remove"),
                env: list("verify.env")
                    .into_iter()
                    .filter_map(|pair| {
                        let (k, v) = pair.split_once('=')?;
                        Some((k.trim().to_string(), v.to_string()))
                    })
                    .collect(),
                cpu_seconds: num("verify.cpu_seconds"),
                memory_mb: num("verify.memory_mb"),
                max_processes: num("verify.max_processes"),
            },
            policy: crate::policy::PolicyConfig {
                extra_files: usize::try_from(num("policy.extra_files")).unwrap_or(usize::MAX),
                max_files: usize::try_from(num("policy.max_files")).unwrap_or(usize::MAX),
                max_changed_lines: usize::try_from(num("policy.max_changed_lines"))
                    .unwrap_or(usize::MAX),
                max_file_bytes: num("policy.max_file_bytes"),
                // Turned on per incident, for the failures of a test run.
                protect_tests: false,
                other_files: list("policy.other_files"),
                test_files: list("policy.test_files"),
                guarded: guarded_by_checks(&list("verify.commands")),
                incident_error: None,
                incident_message: None,
                incident_lines: Vec::new(),
            },
        };
        let git_mode = get("git.mode")
            .and_then(GitMode::parse)
            .unwrap_or(GitMode::Push);
        let (author_name, author_email) = get("git.author")
            .and_then(parse_author)
            .unwrap_or_else(|| ("heal".to_string(), "heal@localhost".to_string()));
        let git = GitConfig {
            mode: git_mode,
            remote: get("git.remote").map(str::to_string),
            author_name,
            author_email,
            no_verify: get("git.no_verify").and_then(parse_bool).unwrap_or(false),
            draft: get("git.draft").and_then(parse_bool).unwrap_or(false),
            push_timeout: Duration::from_secs(num("git.push_timeout_s")),
            push_retries: small("git.push_retries"),
            retry_initial: Duration::from_millis(num("git.retry_initial_ms")),
            github_token: get("github_token").map(str::to_string),
            github_repo: get("github_repo").map(str::to_string),
            github_api_url: get("github_api_url")
                .unwrap_or("https://api.github.com")
                .trim_end_matches('/')
                .to_string(),
            redactor: redactor.clone(),
        };
        if let Some(unknown) = healing
            .instant_rules
            .iter()
            .find(|r| !crate::rules::RULES.contains(&r.as_str()))
        {
            return Err(ConfigError::Invalid {
                key: "HEAL_INSTANT_RULES".to_string(),
                value: unknown.clone(),
                source_: settings
                    .iter()
                    .find(|s| s.key.toml == "instant.rules")
                    .map(|s| s.source.clone())
                    .unwrap_or(Source::Default),
                expected: format!("rule names among {}", crate::rules::RULES.join(", ")),
            });
        }
        if let Some(unknown) = healing
            .triage_force
            .iter()
            .find(|k| !crate::triage::KINDS.contains(&k.as_str()))
        {
            return Err(ConfigError::Invalid {
                key: "HEAL_TRIAGE_FORCE".to_string(),
                value: unknown.clone(),
                source_: settings
                    .iter()
                    .find(|s| s.key.toml == "triage.force")
                    .map(|s| s.source.clone())
                    .unwrap_or(Source::Default),
                expected: format!("kinds among {}", crate::triage::KINDS.join(", ")),
            });
        }
        // pr mode cannot do its job without these: say so at start, not at the first fix.
        if git_mode == GitMode::Pr {
            for (key, value) in [
                ("GITHUB_REPO", &git.github_repo),
                ("GITHUB_TOKEN", &git.github_token),
            ] {
                if value.is_none() {
                    return Err(ConfigError::Invalid {
                        key: key.to_string(),
                        value: String::new(),
                        source_: Source::Default,
                        expected: "a value when HEAL_GIT_MODE=pr (pull requests are opened on GITHUB_REPO with GITHUB_TOKEN); or choose HEAL_GIT_MODE=branch".to_string(),
                    });
                }
            }
        }
        Ok(Config {
            root: root.to_path_buf(),
            storage_dir,
            auto_healing: get("enable_auto_healing")
                .and_then(parse_bool)
                .unwrap_or(true),
            slack,
            slack_retry: RetryPolicy {
                max_attempts: u32::try_from(num("slack.max_attempts")).unwrap_or(u32::MAX),
                initial_backoff: Duration::from_millis(num("slack.retry_initial_ms")),
                max_backoff: Duration::from_secs(30),
                request_timeout: Duration::from_millis(num("slack.timeout_ms")),
            },
            restart: RestartConfig {
                policy: get("restart.policy")
                    .and_then(RestartPolicy::parse)
                    .unwrap_or(RestartPolicy::OnFailure),
                backoff_initial,
                backoff_max: Duration::from_millis(num("restart.backoff_max_ms"))
                    .max(backoff_initial),
                start_limit_burst: u32::try_from(num("restart.start_limit_burst"))
                    .unwrap_or(u32::MAX),
                start_limit_interval: Duration::from_secs(num("restart.start_limit_interval_s")),
                stop_grace: Duration::from_secs(num("restart.stop_grace_s")),
                shutdown_grace: Duration::from_secs(num("shutdown_grace_s")),
            },
            quiet: Duration::from_millis(num("detect.quiet_ms")),
            healing,
            git,
            redactor,
            settings,
        })
    }

    /// The effective configuration as `heal doctor` prints it: one line per setting, secrets
    /// shown only as set or unset.
    pub fn describe(&self) -> String {
        let mut out = format!("project root: {}\n", self.root.display());
        out.push_str(&format!("storage: {}\n", self.storage_dir.display()));
        let width = KEYS.iter().map(|k| k.env.len()).max().unwrap_or(0);
        for s in &self.settings {
            let shown = match (&s.value, s.key.secret) {
                (None, _) => "(unset)".to_string(),
                (Some(_), true) => "(set)".to_string(),
                (Some(v), false) => v.clone(),
            };
            out.push_str(&format!(
                "{:width$}  {}  [{}]\n",
                s.key.env, shown, s.source
            ));
        }
        out
    }
}

/// `Name <email>` → (name, email).
fn parse_author(value: &str) -> Option<(String, String)> {
    let (name, rest) = value.split_once('<')?;
    let email = rest.strip_suffix('>')?;
    let name = name.trim();
    if name.is_empty() || email.is_empty() || email.contains(['<', '>']) {
        return None;
    }
    Some((name.to_string(), email.trim().to_string()))
}

/// The git top-level of `dir`, else `dir` itself.
pub fn project_root(dir: &Path) -> PathBuf {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .output();
    match output {
        Ok(out) if out.status.success() => {
            let top = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if top.is_empty() {
                dir.to_path_buf()
            } else {
                PathBuf::from(top)
            }
        }
        _ => dir.to_path_buf(),
    }
}

/// Reads a list value: a JSON array of strings (what heal.toml arrays become), or a
/// comma-separated list.
pub fn parse_list(s: &str) -> Option<Vec<String>> {
    let t = s.trim();
    if t.starts_with('[') {
        return serde_json::from_str::<Vec<String>>(t).ok();
    }
    Some(
        t.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Flattens heal.toml into dotted keys with string values, rejecting unknown keys.
fn parse_toml(path: &Path, text: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Toml {
        path: path.to_path_buf(),
        message: e.to_string().trim().to_string(),
    })?;
    let mut out = BTreeMap::new();
    flatten(path, "", &table, &mut out)?;
    Ok(out)
}

fn flatten(
    path: &Path,
    prefix: &str,
    table: &toml::Table,
    out: &mut BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let text = match value {
            toml::Value::Table(inner) => {
                flatten(path, &key, inner, out)?;
                continue;
            }
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Array(items) => {
                let strings: Option<Vec<&str>> = items.iter().map(toml::Value::as_str).collect();
                match strings {
                    Some(list) => serde_json::to_string(&list).unwrap_or_default(),
                    // Not a list of strings: keep the TOML text, which the kind check refuses
                    // with a message naming the key.
                    None => value.to_string(),
                }
            }
            other => other.to_string(),
        };
        if !KEYS.iter().any(|k| k.toml == key) {
            return Err(ConfigError::UnknownKey {
                path: path.to_path_buf(),
                key,
                known: KEYS.iter().map(|k| k.toml).collect::<Vec<_>>().join(", "),
            });
        }
        out.insert(key, text);
    }
    Ok(())
}

/// The project files `verify.commands` names (`python3 tests/test_app.py`, `pytest
/// tests/test_x.py`): a fix may not edit the checks it is judged by.
fn guarded_by_checks(commands: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for command in commands {
        for word in command.split_whitespace() {
            let word = word.trim_matches(|c| c == '"' || c == '\'');
            let word = word.split("::").next().unwrap_or(word);
            let word = word.trim_start_matches("./");
            let names_a_file = word.ends_with(".py")
                || word.ends_with(".sh")
                || (word.contains('/') && !word.starts_with('-') && !word.starts_with('/'));
            if names_a_file && !word.is_empty() && !out.iter().any(|w| w == word) {
                out.push(word.to_string());
            }
        }
    }
    out
}

/// The environment names of the settings heal treats as secret.
pub fn secret_names() -> Vec<String> {
    KEYS.iter()
        .filter(|k| k.secret)
        .map(|k| k.env.to_string())
        .collect()
}

/// Reads `.env` with dotenvy's syntax: every pair, as the file is the application's too (heal
/// uses the names it knows, and redacts the secrets of all).
fn parse_dotenv(path: &Path, text: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        let (name, value) = item.map_err(|e| ConfigError::DotEnv {
            path: path.to_path_buf(),
            line: match &e {
                dotenvy::Error::LineParse(_, idx) => *idx,
                _ => 0,
            },
            message: e.to_string(),
        })?;
        out.insert(name, value);
    }
    Ok(out)
}

/// Candidates asked of a local model by default.
const LOCAL_CANDIDATES: u32 = 3;

/// Whether a model server's URL is on this machine or a private network (a local model):
/// loopback, private and link-local addresses, `localhost` and `*.local` names.
fn is_local_url(url: &str) -> bool {
    use std::net::IpAddr;
    let Some(host) = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
    else {
        return false;
    };
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(IpAddr::V4(ip)) => ip.is_loopback() || ip.is_private() || ip.is_link_local(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback()
                || ip.is_unique_local()
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_loopback() || v4.is_private())
        }
        Err(_) => host == "localhost" || host.ends_with(".localhost") || host.ends_with(".local"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(
        toml: Option<&str>,
        dotenv: Option<&str>,
        env: &[(&str, &str)],
    ) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        if let Some(t) = toml {
            std::fs::write(dir.path().join("heal.toml"), t).unwrap();
        }
        if let Some(t) = dotenv {
            std::fs::write(dir.path().join(".env"), t).unwrap();
        }
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_sources(dir.path(), &env, &Overrides::default())
    }

    #[test]
    fn candidates_default_to_three_for_a_local_model_and_one_for_a_paid_api() {
        let candidates = |env: &[(&str, &str)]| load(None, None, env).unwrap().healing.candidates;
        assert_eq!(candidates(&[("ANTHROPIC_API_KEY", "sk-ant-x")]), 1);
        assert_eq!(
            candidates(&[("HEAL_PROVIDER", "openai"), ("OPENAI_API_KEY", "sk-x")]),
            1
        );
        for local in [
            "http://127.0.0.1:8090/v1",
            "http://localhost:11434/v1",
            "http://[::1]:8080/v1",
            "http://192.168.1.20:8000/v1",
            "http://10.0.0.5/v1",
            "http://gpu.local:8000/v1",
        ] {
            assert_eq!(
                candidates(&[("HEAL_PROVIDER", "openai"), ("OPENAI_BASE_URL", local)]),
                3,
                "{local}"
            );
        }
        for remote in ["https://api.example.com/v1", "http://8.8.8.8/v1"] {
            assert_eq!(
                candidates(&[("HEAL_PROVIDER", "openai"), ("OPENAI_BASE_URL", remote)]),
                1,
                "{remote}"
            );
        }
        // Set, it wins.
        assert_eq!(
            candidates(&[
                ("HEAL_PROVIDER", "openai"),
                ("OPENAI_BASE_URL", "http://127.0.0.1:8090/v1"),
                ("HEAL_LLM_CANDIDATES", "1"),
            ]),
            1
        );
    }

    #[test]
    fn later_layers_override_earlier() {
        let c = load(
            Some("enable_auto_healing = true\nmax_claude_calls_per_hour = 3"),
            Some("ENABLE_AUTO_HEALING=false\n"),
            &[("MAX_CLAUDE_CALLS_PER_HOUR", "7")],
        )
        .unwrap();
        assert!(!c.auto_healing);
        let s = c
            .settings
            .iter()
            .find(|s| s.key.env == "MAX_CLAUDE_CALLS_PER_HOUR")
            .unwrap();
        assert_eq!(s.value.as_deref(), Some("7"));
        assert_eq!(s.source, Source::Env);
    }

    #[test]
    fn bad_values_name_key_value_source_and_forms() {
        let err = load(None, None, &[("ENABLE_AUTO_HEALING", "perhaps")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ENABLE_AUTO_HEALING")
                && err.contains("perhaps")
                && err.contains("environment")
                && err.contains("true or false"),
            "{err}"
        );
        let err = load(Some("auto_fix_min_confidence = \"sure\""), None, &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("AUTO_FIX_MIN_CONFIDENCE")
                && err.contains("heal.toml")
                && err.contains("low, medium, high"),
            "{err}"
        );
        let err = load(Some("enable_auto_healing = "), None, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not valid TOML"), "{err}");
        let err = load(Some("[slack]\nwebhok_url = \"x\""), None, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown key `slack.webhok_url`"), "{err}");
    }

    #[test]
    fn secrets_are_not_echoed_in_errors_or_doctor() {
        let err = load(
            None,
            None,
            &[("SLACK_WEBHOOK_URL", "ftp://hooks/T000/secret")],
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("T000"), "{err}");
        let c = load(
            None,
            None,
            &[("SLACK_WEBHOOK_URL", "https://hooks.example/T000/secret")],
        )
        .unwrap();
        let d = c.describe();
        assert!(
            d.contains("SLACK_WEBHOOK_URL") && d.contains("(set)") && !d.contains("T000"),
            "{d}"
        );
    }
}
