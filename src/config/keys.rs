//! Every setting heal knows ([`KEYS`]): its heal.toml path, its environment name, whether it
//! is a secret, and the kind of value it takes, with the checks of those kinds.

use super::parse_author;

/// What kind of value a setting holds, and so how it is checked.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Bool,
    U64 {
        min: u64,
    },
    Text,
    Url,
    /// A PostgreSQL connection URL.
    PostgresUrl,
    OneOf(&'static [&'static str]),
    Repo,
    /// A list of strings: a TOML array, or in the environment a JSON array or a
    /// comma-separated list.
    List,
    /// `Name <email>`, as git writes authors.
    Author,
    /// A command line, split into words as a POSIX shell would (quotes kept together).
    Command,
}

impl Kind {
    pub(super) fn expected(self) -> String {
        match self {
            Kind::Bool => "true or false (also 1/0, yes/no, on/off)".to_string(),
            Kind::U64 { min } => format!("a whole number >= {min}"),
            Kind::Text => "text".to_string(),
            Kind::Url => "an http:// or https:// URL".to_string(),
            Kind::PostgresUrl => {
                "a postgres:// URL, like postgres://heal:password@db.internal:5432/heal".to_string()
            }
            Kind::OneOf(names) => format!("one of {}", names.join(", ")),
            Kind::Repo => "owner/name, like acme/ads-agent".to_string(),
            Kind::List => "a list: a TOML array of strings, or a JSON array or comma-separated list in the environment".to_string(),
            Kind::Author => "Name <email>, like heal <heal@example.com>".to_string(),
            Kind::Command => {
                "a command line with balanced quotes, like python3 main.py --once".to_string()
            }
        }
    }

    /// How a value of this kind is written in heal.toml, as `name = ...`.
    pub(super) fn toml_form(self, name: &str) -> String {
        match self {
            Kind::Bool => format!("true or false without quotes, like {name} = true"),
            Kind::U64 { min } => {
                format!(
                    "a whole number >= {min} without quotes, like {name} = {}",
                    min.max(1) * 10
                )
            }
            Kind::List => format!(
                "a list of strings in brackets, even for one item, like {name} = [\"first\", \"second\"]"
            ),
            Kind::OneOf(names) => format!(
                "one of {} in quotes, like {name} = \"{}\"",
                names.join(", "),
                names.first().copied().unwrap_or_default()
            ),
            Kind::Text
            | Kind::Url
            | Kind::PostgresUrl
            | Kind::Repo
            | Kind::Author
            | Kind::Command => {
                format!("{} in quotes, like {name} = \"…\"", self.expected())
            }
        }
    }

    pub(super) fn check(self, value: &str) -> bool {
        match self {
            Kind::Bool => parse_bool(value).is_some(),
            Kind::U64 { min } => value.parse::<u64>().is_ok_and(|n| n >= min),
            Kind::Text => true,
            Kind::Url => value.starts_with("http://") || value.starts_with("https://"),
            Kind::PostgresUrl => {
                value.starts_with("postgres://") || value.starts_with("postgresql://")
            }
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
            Kind::Command => command_words(value).is_some(),
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
    pub(super) kind: Kind,
    pub(super) default: Option<&'static str>,
    /// Shown only as set/unset, never logged.
    pub secret: bool,
    pub help: &'static str,
}

const CONFIDENCE: &[&str] = &["low", "medium", "high"];
const RESTART: &[&str] = &["never", "on-failure", "always"];
const RUN_SENTRY: &[&str] = &["true", "false", "replace"];
const PROVIDERS: &[&str] = &["anthropic", "openai", "none"];
const STRUCTURED: &[&str] = &["tools", "json_schema", "json"];
/// The model asked when HEAL_MODEL is unset, per provider.
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4o-mini";
pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
const FLEET_ROLES: &[&str] = &["healer", "agent"];
const GIT_MODES: &[&str] = &["push", "branch", "pr", "commit", "off"];
const SANDBOXES: &[&str] = &["auto", "required", "off"];
/// Values of .env this long or longer are secrets, whatever their names.
pub(super) const DOTENV_SECRET_LEN: usize = 8;
const EDIT_FORMS: &[&str] = &["search_replace", "function", "file"];

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
    Key { toml: "llm.edit_form", env: "HEAL_LLM_EDIT_FORM", kind: Kind::OneOf(EDIT_FORMS), default: None, secret: false, help: "how the model writes edits: search_replace (exact text to replace), function (the def line, and the whole new function) or file (the whole corrected file in a plain code block, no tool or JSON, for files of at most 400 lines and 12 KiB, else search_replace; its fixes have medium confidence). Default: file for a local model (an OpenAI-compatible server on loopback or a private address), search_replace otherwise" },
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
    Key { toml: "run.sentry", env: "HEAL_RUN_SENTRY", kind: Kind::OneOf(RUN_SENTRY), default: Some("true"), secret: false, help: "heal run: give the program a SENTRY_DSN naming an ingest heal opens on loopback, so a program using the Sentry SDK reports its errors (with their locals) to heal; true leaves a SENTRY_DSN the program already has alone, replace replaces it, false gives none" },
    Key { toml: "serve.key", env: "HEAL_SERVE_KEY", kind: Kind::Text, default: None, secret: true, help: "heal serve: the project key of the DSN SDKs send with every event (default: one generated at the first start, kept in storage/serve.key); required to listen beyond loopback" },
    Key { toml: "serve.token", env: "HEAL_SERVE_TOKEN", kind: Kind::Text, default: None, secret: true, help: "heal serve: the dashboard token that allows its retry and revert actions (unset: the pages are read-only)" },
    Key { toml: "serve.events_per_hour", env: "HEAL_SERVE_EVENTS_PER_HOUR", kind: Kind::U64 { min: 1 }, default: Some("1000"), secret: false, help: "heal serve: events recorded per hour for the project; past it the SDK is asked to wait (429)" },
    Key { toml: "serve.events_per_fingerprint_hour", env: "HEAL_SERVE_EVENTS_PER_FINGERPRINT_HOUR", kind: Kind::U64 { min: 1 }, default: Some("100"), secret: false, help: "heal serve: events of one error (one fingerprint) recorded per hour; past it the SDK is asked to wait (429)" },
    Key { toml: "serve.rerun_command", env: "HEAL_SERVE_RERUN_COMMAND", kind: Kind::Command, default: None, secret: false, help: "heal serve: the command that runs the code an SDK reported an error from, in a copy of the project, to prove a fix (like python3 main.py --once); without it only verify.commands can judge a fix, and with neither no fix is applied" },
    Key { toml: "serve.restart_command", env: "HEAL_SERVE_RESTART_COMMAND", kind: Kind::Text, default: None, secret: false, help: "heal serve: a shell command run in the project after a fix was applied, to restart the program on it (like systemctl restart ads-agent); its exit and output are kept in the record" },
    Key { toml: "serve.restart_timeout_s", env: "HEAL_SERVE_RESTART_TIMEOUT_S", kind: Kind::U64 { min: 1 }, default: Some("120"), secret: false, help: "heal serve: seconds serve.restart_command may take before it is killed" },
    Key { toml: "database_url", env: "HEAL_DATABASE_URL", kind: Kind::PostgresUrl, default: None, secret: true, help: "a fleet's shared store on PostgreSQL (unset: SQLite in the storage folder, for one host); the JSON exports stay on the host that writes them" },
    Key { toml: "fleet.role", env: "HEAL_FLEET_ROLE", kind: Kind::OneOf(FLEET_ROLES), default: Some("healer"), secret: false, help: "with database_url: healer (analyses, proves, applies, commits and pushes, for every host of the project) or agent (supervises and reports, never edits code, follows the healers' fixes)" },
    Key { toml: "fleet.follow", env: "HEAL_FLEET_FOLLOW", kind: Kind::Bool, default: Some("true"), secret: false, help: "agent: when a fix for an error its program hit is pushed, pull it (git pull --ff-only, never over local changes) and restart the program on it" },
    Key { toml: "fleet.host", env: "HEAL_HOST", kind: Kind::Text, default: None, secret: false, help: "this host's name in the fleet's records (default: the machine's hostname)" },
    Key { toml: "fleet.project", env: "HEAL_PROJECT", kind: Kind::Text, default: None, secret: false, help: "the project's name in the fleet's store: the hosts of one program share it (default: the project folder's name)" },
    Key { toml: "fleet.lease_s", env: "HEAL_FLEET_LEASE_S", kind: Kind::U64 { min: 2 }, default: Some("60"), secret: false, help: "seconds a healer holds an incident without renewing its lease; a healer that died loses it after this, and another takes over" },
    Key { toml: "fleet.poll_ms", env: "HEAL_FLEET_POLL_MS", kind: Kind::U64 { min: 50 }, default: Some("1000"), secret: false, help: "how often a healer looks in the fleet's store for incidents waiting for a healer, and an agent for fixes to follow" },
    Key { toml: "fleet.buffer_max", env: "HEAL_FLEET_BUFFER_MAX", kind: Kind::U64 { min: 1 }, default: Some("10000"), secret: false, help: "occurrences an agent keeps on disk while PostgreSQL is down, delivered when it is back; past it the oldest are dropped and counted" },
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
            Kind::PostgresUrl => "\"postgres://…\"".to_string(),
            // A number without a fixed default (it depends on another key): the least allowed.
            Kind::U64 { min } => min.to_string(),
            // A choice without a fixed default (it depends on another key): the first one.
            Kind::OneOf(names) => {
                toml::Value::String(names.first().copied().unwrap_or_default().to_string())
                    .to_string()
            }
            _ => "\"…\"".to_string(),
        }
    }
}

/// The words of a command line, split as a POSIX shell would; `None` for unbalanced quotes
/// or no words at all.
pub fn command_words(s: &str) -> Option<Vec<String>> {
    shlex::split(s).filter(|words| !words.is_empty())
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

/// The environment names of the settings heal treats as secret.
pub fn secret_names() -> Vec<String> {
    KEYS.iter()
        .filter(|k| k.secret)
        .map(|k| k.env.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_edit_form_named_here_is_known() {
        for name in EDIT_FORMS {
            let form = crate::analyse::EditForm::parse(name);
            assert_eq!(form.map(|f| f.as_str()), Some(*name));
        }
    }
}
