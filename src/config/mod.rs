//! Configuration: `heal.toml`, then `.env`, then the real environment, later overriding
//! earlier, validated once into a [`Config`].
//!
//! Every setting is a row of [`KEYS`]: its heal.toml path, its environment name, whether it is a
//! secret, and how its value is checked. Each value remembers where it came from, so errors and
//! `heal doctor` can say so. This module reads files but never starts anything, and never
//! prints a secret's value.

mod files;
mod keys;
mod notify;
mod placeholder;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use files::{parse_dotenv, parse_toml, read_optional};
use keys::{DEFAULT_OPENAI_BASE_URL, DEFAULT_OPENAI_MODEL, DOTENV_SECRET_LEN, Kind};
pub use keys::{KEYS, Key, parse_bool, parse_list, secret_names};
pub use notify::{RetryPolicy, SlackTarget};

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
            Source::Env => f.write_str("the environment"),
            Source::Flag => f.write_str("the command line"),
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
    #[error("{path}: unknown key `{key}`: {hint}")]
    UnknownKey {
        path: PathBuf,
        key: String,
        /// The nearest known key, or where the keys are listed.
        hint: String,
    },
    #[error("{path}: `{key}` is {found}; expected {expected}")]
    WrongType {
        path: PathBuf,
        key: String,
        /// The value's TOML type and the value (`the number 5`).
        found: String,
        /// How to write it (`text in quotes, like storage_dir = "…"`).
        expected: String,
    },
    #[error(
        "{path}: line {line} is not KEY=VALUE (at column {column}): {shown}\nwrite one \
         setting per line as NAME=value (like HEAL_PROVIDER=none); a line starting with # is a \
         comment"
    )]
    DotEnv {
        path: PathBuf,
        /// 1-based, in the file.
        line: usize,
        /// 1-based, in the line.
        column: usize,
        /// The line as written, its long words cut (they may be secrets).
        shown: String,
    },
    #[error("{key} = {value:?} in {source_} is not valid: expected {expected}")]
    Invalid {
        /// The key as the user wrote it: its heal.toml path when it came from heal.toml, its
        /// environment name otherwise.
        key: String,
        value: String,
        source_: Source,
        expected: String,
    },
    /// Every problem found, when there are several: one per line.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ConfigError>),
}

/// A setting's value and where it came from.
#[derive(Debug, Clone)]
pub struct Setting {
    pub key: &'static Key,
    pub value: Option<String>,
    pub source: Source,
    /// The value at `source` was a placeholder (`sk-ant-xxxx…`), so `value` is unset.
    pub placeholder: bool,
}

impl Setting {
    /// `value` of this setting refused, the key named as the user wrote it: its heal.toml path
    /// when it came from heal.toml, its environment name otherwise; a secret never shown.
    fn invalid(&self, value: &str, expected: String) -> ConfigError {
        ConfigError::Invalid {
            key: match self.source {
                Source::File(_) => self.key.toml.to_string(),
                _ => self.key.env.to_string(),
            },
            value: if self.key.secret {
                "<secret>".to_string()
            } else {
                value.to_string()
            },
            source_: self.source.clone(),
            expected,
        }
    }
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
    pub serve: ServeConfig,
    pub fleet: FleetConfig,
    /// Replaces secrets (from the environment, .env and known credential shapes) by
    /// `[REDACTED]` in whatever leaves heal: model requests, Slack, records.
    pub redactor: crate::redact::Redactor,
    /// Every setting with its source, for `heal doctor`.
    pub settings: Vec<Setting>,
}

/// `heal serve`'s settings: the project key and the hourly event budgets.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// `serve.key`: `None` lets `heal serve` generate one and keep it in the storage folder.
    pub key: Option<String>,
    /// `run.sentry`: whether `heal run` gives its child a `SENTRY_DSN` naming its own ingest.
    pub run_sentry: RunSentry,
    pub events_per_hour: u64,
    pub events_per_fingerprint_hour: u64,
    /// `serve.rerun_command`, in words: how the proof reproduces an error an SDK reported.
    /// Empty: nothing reproduces it, and only `verify.commands` can judge a fix.
    pub rerun_command: Vec<String>,
    /// `serve.restart_command`: run with `sh -c` after a fix was applied.
    pub restart_command: Option<String>,
    pub restart_timeout: Duration,
    /// `serve.token`: the dashboard's retry and revert need it; `None` leaves the pages
    /// read-only.
    pub token: Option<String>,
}

/// A fleet's settings: where the shared store is, and this host's part in it.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// `database_url` (`HEAL_DATABASE_URL`): `None` keeps the store in SQLite, on this host.
    pub database_url: Option<String>,
    pub role: FleetRole,
    pub follow: bool,
    /// This host's name in the records.
    pub host: String,
    /// The project's name in the shared store.
    pub project: String,
    pub lease: Duration,
    pub poll: Duration,
    pub buffer_max: u64,
}

impl FleetConfig {
    /// An agent of a fleet: it reports and follows, and never edits code.
    pub fn is_agent(&self) -> bool {
        self.database_url.is_some() && self.role == FleetRole::Agent
    }
}

/// `fleet.role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetRole {
    Healer,
    Agent,
}

/// `run.sentry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunSentry {
    /// No `SENTRY_DSN` from heal.
    Off,
    /// heal's `SENTRY_DSN`, unless the program's environment already has one.
    IfUnset,
    /// heal's `SENTRY_DSN`, replacing the program's own.
    Replace,
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
        let mut problems = Vec::new();
        for key in KEYS {
            let mut setting = Setting {
                key,
                value: key.default.map(str::to_string),
                source: Source::Default,
                placeholder: false,
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
                } else if (key.secret || key.toml == "github_repo")
                    && placeholder::is_placeholder(value)
                {
                    // Still the example of .env.example: unset, and said so by doctor and run.
                    setting.value = None;
                    setting.placeholder = true;
                } else if !key.kind.check(value) {
                    problems.push(setting.invalid(value, key.kind.expected()));
                }
            }
            settings.push(setting);
        }
        match problems.len() {
            0 => {}
            1 => return Err(problems.remove(0)),
            _ => return Err(ConfigError::Several(problems)),
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
        // A model on this machine or its network: its answers cost time, not money.
        let local_model = get("provider") == Some("openai")
            && is_local_url(get("openai_base_url").unwrap_or(DEFAULT_OPENAI_BASE_URL));
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
                None if local_model => LOCAL_CANDIDATES,
                None => 1,
            },
            context_tests: get("llm.context_tests")
                .and_then(parse_bool)
                .unwrap_or(true),
            context_calls: get("llm.context_calls")
                .and_then(parse_bool)
                .unwrap_or(true),
            // Measured on the crash benchmark with a small local model: the whole corrected
            // file in a code block got 7 of 20 right against 4 for search/replace (README,
            // Benchmarks). A paid API's model copies exact text and writes JSON well, and is
            // paid by the output token: search/replace there.
            edit_form: match get("llm.edit_form").and_then(crate::analyse::EditForm::parse) {
                Some(form) => form,
                None if local_model => crate::analyse::EditForm::File,
                None => crate::analyse::EditForm::SearchReplace,
            },
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
        unknown_name(
            &settings,
            ("instant.rules", "HEAL_INSTANT_RULES"),
            &healing.instant_rules,
            crate::rules::RULES,
            "rule names",
        )?;
        unknown_name(
            &settings,
            ("triage.force", "HEAL_TRIAGE_FORCE"),
            &healing.triage_force,
            crate::triage::KINDS,
            "kinds",
        )?;
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
            serve: ServeConfig {
                key: get("serve.key").map(|k| k.trim().to_string()),
                token: get("serve.token")
                    .map(|k| k.trim().to_string())
                    .filter(|k| !k.is_empty()),
                run_sentry: match get("run.sentry") {
                    Some("false") => RunSentry::Off,
                    Some("replace") => RunSentry::Replace,
                    _ => RunSentry::IfUnset,
                },
                events_per_hour: num("serve.events_per_hour"),
                events_per_fingerprint_hour: num("serve.events_per_fingerprint_hour"),
                rerun_command: get("serve.rerun_command")
                    .and_then(keys::command_words)
                    .unwrap_or_default(),
                restart_command: get("serve.restart_command")
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string),
                restart_timeout: Duration::from_secs(num("serve.restart_timeout_s")),
            },
            fleet: FleetConfig {
                database_url: get("database_url")
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_string),
                role: match get("fleet.role") {
                    Some("agent") => FleetRole::Agent,
                    _ => FleetRole::Healer,
                },
                follow: get("fleet.follow").and_then(parse_bool).unwrap_or(true),
                host: get("fleet.host")
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .map(str::to_string)
                    .unwrap_or_else(hostname),
                project: get("fleet.project")
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        root.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_else(|| "project".to_string())
                    }),
                lease: Duration::from_secs(num("fleet.lease_s")),
                poll: Duration::from_millis(num("fleet.poll_ms")),
                buffer_max: num("fleet.buffer_max"),
            },
            redactor,
            settings,
        })
    }

    /// The effective configuration as `heal doctor` prints it: one line per setting, secrets
    /// shown only as set or unset.
    /// The settings that still hold a placeholder, and where it was written.
    pub fn placeholders(&self) -> impl Iterator<Item = &Setting> {
        self.settings.iter().filter(|s| s.placeholder)
    }

    pub fn describe(&self) -> String {
        let mut out = format!("project root: {}\n", self.root.display());
        out.push_str(&format!("storage: {}\n", self.storage_dir.display()));
        let width = KEYS.iter().map(|k| k.env.len()).max().unwrap_or(0);
        for s in &self.settings {
            let shown = match (&s.value, s.key.secret) {
                (None, _) if s.placeholder => {
                    "(placeholder: still the example value, treated as unset; put the real value there)".to_string()
                }
                (None, _) => "(unset)".to_string(),
                (Some(_), true) => "(set)".to_string(),
                // A list as a list, so one can see how it was split.
                (Some(v), false) if matches!(s.key.kind, Kind::List) => {
                    serde_json::to_string(&parse_list(v).unwrap_or_default()).unwrap_or_default()
                }
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
/// A list setting's first name that is not among `known`, refused with the key as the user
/// wrote it (`key`: its heal.toml path and environment name) and the names it may hold.
fn unknown_name(
    settings: &[Setting],
    key: (&str, &str),
    names: &[String],
    known: &[&str],
    what: &str,
) -> Result<(), ConfigError> {
    let Some(unknown) = names.iter().find(|n| !known.contains(&n.as_str())) else {
        return Ok(());
    };
    let expected = format!("{what} among {}", known.join(", "));
    Err(match settings.iter().find(|s| s.key.toml == key.0) {
        Some(setting) => setting.invalid(unknown, expected),
        None => ConfigError::Invalid {
            key: key.1.to_string(),
            value: unknown.clone(),
            source_: Source::Default,
            expected,
        },
    })
}

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

/// The machine's name, as the fleet's records name a host that did not set `fleet.host`.
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(name) if r == 0 && !name.is_empty() => name.to_string(),
        _ => "localhost".to_string(),
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
    fn the_edit_form_defaults_to_file_for_a_local_model_and_search_replace_otherwise() {
        use crate::analyse::EditForm;
        let form = |env: &[(&str, &str)]| load(None, None, env).unwrap().healing.edit_form;
        assert_eq!(
            form(&[("ANTHROPIC_API_KEY", "sk-ant-x")]),
            EditForm::SearchReplace
        );
        assert_eq!(
            form(&[("HEAL_PROVIDER", "openai"), ("OPENAI_API_KEY", "sk-x")]),
            EditForm::SearchReplace
        );
        let local = [
            ("HEAL_PROVIDER", "openai"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:8090/v1"),
        ];
        assert_eq!(form(&local), EditForm::File);
        let mut set = local.to_vec();
        set.push(("HEAL_LLM_EDIT_FORM", "search_replace"));
        assert_eq!(form(&set), EditForm::SearchReplace);
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
            err.contains("auto_fix_min_confidence = \"sure\"")
                && !err.contains("AUTO_FIX_MIN_CONFIDENCE")
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
        assert!(
            err.contains("unknown key `slack.webhok_url`: did you mean `slack.webhook_url`?"),
            "{err}"
        );
        // Every bad value at once, each named as written where it was written.
        let err = load(
            Some("watch_seconds = 60\nauto_fix_min_confidence = \"sure\""),
            Some("HEAL_GIT_MODE=sometimes\n"),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("auto_fix_min_confidence = \"sure\""), "{err}");
        assert!(err.contains("HEAL_GIT_MODE = \"sometimes\" in "), "{err}");
        assert_eq!(err.lines().count(), 2, "{err}");
    }

    #[test]
    fn placeholders_count_as_unset_and_doctor_says_which() {
        let config = load(None, Some(&crate::init::env_example()), &[]).unwrap();
        let held: Vec<&str> = config.placeholders().map(|s| s.key.env).collect();
        for name in [
            "ANTHROPIC_API_KEY",
            "GITHUB_TOKEN",
            "SLACK_WEBHOOK_URL",
            "GITHUB_REPO",
        ] {
            assert!(
                held.contains(&name),
                "{name} not seen as a placeholder: {held:?}"
            );
        }
        assert!(config.slack.is_none());
        assert!(config.healing.anthropic_api_key.is_none());
        let doctor = config.describe();
        let line = doctor
            .lines()
            .find(|l| l.starts_with("ANTHROPIC_API_KEY"))
            .unwrap();
        assert!(line.contains("placeholder"), "{line}");
    }

    #[test]
    fn doctor_prints_lists_as_lists() {
        let config = load(
            Some("[verify]\ncommands = [\"pytest -q\", \"ruff check, strict\"]"),
            None,
            &[],
        )
        .unwrap();
        let doctor = config.describe();
        assert!(
            doctor.contains(r#"["pytest -q","ruff check, strict"]"#),
            "{doctor}"
        );
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
