//! `heal doctor`'s checks: what heal needs from the machine and the project, each said as ok,
//! warning or error with what to do. The model endpoint is asked only with `--online`, since
//! it costs a request.
//!
//! The checks read and ask; the only thing written is a temporary file in the storage folder
//! (or the folder that would hold it), removed at once, to know that heal can write there.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::commit::git::{Cmd, Git};
use crate::config::{Config, GitMode, ProviderChoice, SlackTarget};

/// How long the online model check may take.
const ONLINE_TIMEOUT: Duration = Duration::from_secs(10);
/// The oldest CPython the instant rules read tracebacks of (its caret lines and hints).
const MIN_PYTHON: (u32, u32) = (3, 10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warning,
    Error,
}

/// One check's outcome.
#[derive(Debug, Clone)]
pub struct Check {
    pub level: Level,
    /// What was checked and what was found; for a warning or an error, what to do.
    pub text: String,
}

impl Check {
    fn ok(text: impl Into<String>) -> Check {
        Check {
            level: Level::Ok,
            text: text.into(),
        }
    }
    fn warning(text: impl Into<String>) -> Check {
        Check {
            level: Level::Warning,
            text: text.into(),
        }
    }
    fn error(text: impl Into<String>) -> Check {
        Check {
            level: Level::Error,
            text: text.into(),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.level {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Error => "error",
        };
        write!(f, "{label:8} {}", self.text)
    }
}

/// Every check, in the order a newcomer meets them.
pub async fn checks(config: &Config, online: bool) -> Vec<Check> {
    let repo = Git::open(&config.root).await.ok().flatten();
    let mut out = vec![python().await];
    out.extend(git(config, repo.as_ref()).await);
    out.push(storage(&config.storage_dir));
    if let Some(check) = fleet(config).await {
        out.push(check);
    }
    if let Some(repo) = &repo {
        out.extend(ignored(config, repo).await);
    }
    out.push(model(config, online).await);
    out.push(slack(config));
    out
}

async fn version_of(program: &str, args: &[&str]) -> Option<String> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

async fn python() -> Check {
    let script =
        "import platform; print(platform.python_implementation(), platform.python_version())";
    let Some(found) = version_of("python3", &["-c", script]).await else {
        return Check::error(
            "python3 is not found on PATH: install Python 3.10 or newer (heal runs Python programs and their proofs with it)",
        );
    };
    let (implementation, version) = found.split_once(' ').unwrap_or(("", found.as_str()));
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let (min_major, min_minor) = MIN_PYTHON;
    if implementation != "CPython" || (major, minor) < MIN_PYTHON {
        return Check::warning(format!(
            "python3 is {implementation} {version}: the instant rules need CPython {min_major}.{min_minor} or newer (heal still supervises and asks the model); install a newer python3"
        ));
    }
    Check::ok(format!("python3 is {implementation} {version}"))
}

async fn git(config: &Config, repo: Option<&Git>) -> Vec<Check> {
    let mode = config.git.mode;
    let Some(version) = version_of("git", &["--version"]).await else {
        return vec![if mode == GitMode::Off {
            Check::ok("git is not installed, and not needed (git.mode = off)")
        } else {
            Check::error(format!(
                "git is not found on PATH: install it, or set HEAL_GIT_MODE=off (git.mode = {}: fixes are committed with git)",
                mode.as_str()
            ))
        }];
    };
    let mut out = vec![Check::ok(version)];
    if mode == GitMode::Off {
        out.push(Check::ok(
            "git.mode = off: fixes are applied, never committed",
        ));
        return out;
    }
    let Some(repo) = repo else {
        out.push(Check::warning(format!(
            "{} is not in a git repository: fixes are applied but not committed; `git init` and a first commit, or set HEAL_GIT_MODE=off",
            config.root.display()
        )));
        return out;
    };
    out.push(Check::ok(format!(
        "git repository at {}",
        repo.top.display()
    )));
    let remotes = repo.git(["remote"]).await.unwrap_or_default();
    let pushes = matches!(mode, GitMode::Push | GitMode::Branch | GitMode::Pr);
    if remotes.trim().is_empty() {
        if pushes {
            out.push(Check::warning(format!(
                "the repository has no remote: fixes are committed but cannot be pushed (git.mode = {}); `git remote add origin URL`, or set HEAL_GIT_MODE=commit",
                mode.as_str()
            )));
        }
        return out;
    }
    let branch = repo
        .git(["symbolic-ref", "--quiet", "--short", "HEAD"])
        .await
        .unwrap_or_default();
    let upstream = repo
        .output(Cmd::new([
            "rev-parse",
            "--abbrev-ref",
            "--symbolic-full-name",
            "@{u}",
        ]))
        .await;
    match upstream {
        Ok(o) if o.ok => out.push(Check::ok(format!(
            "branch {branch} follows {}",
            o.text()
        ))),
        _ if branch.is_empty() => out.push(Check::warning(
            "HEAD is detached: heal commits only on a branch; `git switch BRANCH`",
        )),
        _ if mode == GitMode::Push => out.push(Check::warning(format!(
            "branch {branch} has no upstream: heal pushes to {} meanwhile; `git push -u origin {branch}` sets one",
            config.git.remote.as_deref().unwrap_or("origin")
        ))),
        _ => out.push(Check::ok(format!(
            "branch {branch} has no upstream (git.mode = {} pushes its own branches)",
            mode.as_str()
        ))),
    }
    out
}

/// Whether heal can create files where its records go: the storage folder, or the nearest
/// folder above it that exists (heal creates the rest).
fn storage(dir: &Path) -> Check {
    let mut probe = dir;
    while !probe.exists() {
        match probe.parent() {
            Some(parent) => probe = parent,
            None => break,
        }
    }
    match tempfile::Builder::new()
        .prefix(".heal-doctor-")
        .tempfile_in(probe)
    {
        Ok(_) => Check::ok(format!("storage folder {} is writable", dir.display())),
        Err(e) => Check::error(format!(
            "storage folder {} is not writable ({e}): heal would run without records; fix its permissions, or set HEAL_STORAGE_DIR",
            dir.display()
        )),
    }
}

/// `.env` and the storage folder: ignored by git, and not tracked.
async fn ignored(config: &Config, repo: &Git) -> Vec<Check> {
    let storage = match config.storage_dir.strip_prefix(&config.root) {
        Ok(rel) => rel.to_string_lossy().trim_end_matches('/').to_string(),
        // Outside the project: git never sees it.
        Err(_) => return vec![env_ignored(repo).await],
    };
    let mut out = vec![env_ignored(repo).await];
    let probe = repo.path_of(&format!("{storage}/heal.db"));
    out.push(if is_ignored(repo, &probe).await {
        Check::ok(format!("{storage}/ is ignored by git"))
    } else {
        Check::warning(format!(
            "{storage}/ is not in .gitignore: `git add -A` would stage heal's records and backups; add /{storage}/ to .gitignore (`heal init` does)"
        ))
    });
    use crate::commit::exposed::{Exposure, exposed_in};
    for exposure in exposed_in(repo, &config.root, &config.storage_dir).await {
        if let Exposure::Tracked { .. } = exposure {
            out.push(Check::error(exposure.to_string()));
        }
    }
    out
}

async fn env_ignored(repo: &Git) -> Check {
    if is_ignored(repo, &repo.path_of(".env")).await {
        Check::ok(".env is ignored by git")
    } else {
        Check::warning(
            ".env is not in .gitignore: `git add -A` would stage your secrets; add /.env to .gitignore (`heal init` does)",
        )
    }
}

async fn is_ignored(repo: &Git, path: &str) -> bool {
    repo.output(Cmd::new(["check-ignore", "-q", "--no-index", "--", path]))
        .await
        .is_ok_and(|o| o.ok)
}

/// With `database_url`: whether the fleet's store answers, and what this host is in it.
async fn fleet(config: &Config) -> Option<Check> {
    let url = config.fleet.database_url.clone()?;
    let fleet = config.fleet.clone();
    let errors_dir = config.storage_dir.join("errors");
    let checked = tokio::task::spawn_blocking(move || {
        let pg = crate::record::postgres::Postgres::open(
            &url,
            crate::record::postgres::Identity::of(&fleet),
            crate::record::postgres::Lease::of(&fleet),
            errors_dir,
        )?;
        let hosts = pg.hosts()?;
        Ok::<_, crate::record::postgres::PgError>((pg.at().to_string(), hosts.len()))
    })
    .await;
    let role = match config.fleet.role {
        crate::config::FleetRole::Healer => "healer",
        crate::config::FleetRole::Agent => "agent",
    };
    Some(match checked {
        Ok(Ok((at, hosts))) => Check::ok(format!(
            "the fleet's store at {at} answers: project {}, this host {} as {role}, {hosts} host(s) have reported",
            config.fleet.project, config.fleet.host
        )),
        Ok(Err(e)) => Check::error(format!(
            "{e}: heal runs, keeping incidents on this host until it answers"
        )),
        Err(e) => Check::error(e.to_string()),
    })
}

async fn model(config: &Config, online: bool) -> Check {
    let h = &config.healing;
    let (name, url, key, key_var) = match h.provider {
        ProviderChoice::None => {
            return Check::ok("model: none (HEAL_PROVIDER=none): instant rules only");
        }
        ProviderChoice::Anthropic => (
            "anthropic",
            format!("{}/v1/models", h.anthropic_base_url.trim_end_matches('/')),
            h.anthropic_api_key.clone(),
            "ANTHROPIC_API_KEY",
        ),
        ProviderChoice::OpenAi => (
            "openai",
            format!("{}/models", h.openai_base_url.trim_end_matches('/')),
            h.openai_api_key.clone(),
            "OPENAI_API_KEY",
        ),
    };
    if key.is_none() && h.provider == ProviderChoice::Anthropic {
        return Check::warning(format!(
            "model: {key_var} is not set, so no model is asked for fixes: set it in .env, or set HEAL_PROVIDER=none"
        ));
    }
    if !online {
        return Check::ok(format!(
            "model: {name}, {} (not asked: `heal doctor --online` sends it one request)",
            h.model
        ));
    }
    let client = match reqwest::Client::builder().timeout(ONLINE_TIMEOUT).build() {
        Ok(client) => client,
        Err(e) => return Check::error(format!("model: cannot set up an HTTP client: {e}")),
    };
    let mut request = client.get(&url);
    request = match (h.provider, &key) {
        (ProviderChoice::Anthropic, Some(key)) => request
            .header("x-api-key", key)
            .header("anthropic-version", "2023-06-01"),
        (_, Some(key)) => request.bearer_auth(key),
        (_, None) => request,
    };
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            return Check::error(format!(
                "model: {name} did not answer within {} s ({}): check the base URL and that the server runs",
                ONLINE_TIMEOUT.as_secs(),
                crate::http::deepest_cause(&e)
            ));
        }
    };
    let status = response.status();
    let body = crate::http::read_capped(response, 1 << 20)
        .await
        .unwrap_or_default();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Check::error(format!(
            "model: {name} rejected the key (http {}): check {key_var} in .env",
            status.as_u16()
        ));
    }
    if !status.is_success() {
        return Check::warning(format!(
            "model: {name} answered http {} to a list of its models: it may still take requests; check the base URL",
            status.as_u16()
        ));
    }
    // Servers that list their models (OpenAI, Anthropic, llama.cpp, Ollama) say whether the
    // configured one is among them.
    let listed: Vec<String> = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("data").and_then(|d| d.as_array().cloned()))
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.get("id").and_then(|i| i.as_str()).map(str::to_string))
        .collect();
    if !listed.is_empty()
        && !listed.iter().any(|m| m == &h.model)
        && h.provider != ProviderChoice::OpenAi
    {
        return Check::warning(format!(
            "model: {name} answers, but does not list model {} (it lists {}): check HEAL_MODEL",
            h.model,
            listed.join(", ")
        ));
    }
    Check::ok(format!(
        "model: {name} answers ({}), model {}",
        status.as_u16(),
        h.model
    ))
}

fn slack(config: &Config) -> Check {
    match &config.slack {
        None => Check::warning(
            "Slack: not configured, so alerts go to heal's log only: set SLACK_WEBHOOK_URL (or SLACK_BOT_TOKEN and SLACK_CHANNEL) in .env",
        ),
        Some(SlackTarget::Webhook { url }) => match webhook_shape(url) {
            Ok(()) => Check::ok("Slack: the webhook URL is well formed (not sent anything)"),
            Err(why) => Check::error(format!(
                "Slack: SLACK_WEBHOOK_URL {why}: copy it again from Slack's Incoming Webhooks page"
            )),
        },
        Some(SlackTarget::WebApi { token, .. }) => {
            if token.starts_with("xoxb-") || token.starts_with("xoxp-") {
                Check::ok("Slack: a bot token and a channel (not sent anything)")
            } else {
                Check::warning(
                    "Slack: SLACK_BOT_TOKEN does not start with xoxb- (a bot token): check it",
                )
            }
        }
        Some(SlackTarget::Terminal) => Check::ok("Slack: printed to the terminal"),
    }
}

/// Whether a webhook URL looks like Slack's: `https://hooks.slack.com/services/T…/B…/secret`.
/// A URL on another host is taken as a proxy or a test server, and only needs to be http(s).
fn webhook_shape(url: &str) -> Result<(), &'static str> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "is not a URL")?;
    if parsed.host_str() != Some("hooks.slack.com") {
        return Ok(());
    }
    if parsed.scheme() != "https" {
        return Err("must start with https://");
    }
    let parts: Vec<&str> = parsed
        .path()
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    match parts.as_slice() {
        ["services", team, channel, secret]
            if team.starts_with('T') && channel.starts_with('B') && secret.len() >= 8 =>
        {
            Ok(())
        }
        _ => Err("is not of the form https://hooks.slack.com/services/T…/B…/…"),
    }
}

#[cfg(test)]
mod tests {
    use super::webhook_shape;

    #[test]
    fn webhook_urls_are_judged_by_slacks_shape() {
        assert!(
            webhook_shape("https://hooks.slack.com/services/T024BE7LD/B01ABCDEF12/AbCdEfGhIjKl")
                .is_ok()
        );
        assert!(webhook_shape("http://127.0.0.1:9000/hook").is_ok());
        assert!(webhook_shape("https://hooks.slack.com/services/T024BE7LD").is_err());
        assert!(webhook_shape("http://hooks.slack.com/services/T0/B0/abcdefgh").is_err());
        assert!(webhook_shape("hooks.slack.com/services").is_err());
    }
}
