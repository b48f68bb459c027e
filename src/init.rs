//! `heal init`: a commented `heal.toml` with every key and its default, and a `.env.example`
//! with the seed's variables, written into a project without overwriting anything.

use std::path::{Path, PathBuf};

use crate::config::KEYS;

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0} already exists: heal init never overwrites; move it away to write a fresh one")]
    Exists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What `.gitignore` must hold so that `git add -A` never stages heal's secrets or records.
pub const IGNORED: [&str; 2] = ["/.env", "/storage/"];

/// What `heal init` did.
#[derive(Debug, Default)]
pub struct Initialized {
    pub written: Vec<PathBuf>,
    /// Lines added to `.gitignore` (none when it already covered them).
    pub ignored: Vec<String>,
}

/// Writes `heal.toml` and `.env.example` into `root`, then adds to `.gitignore` what keeps
/// heal's files out of git. Refuses, and writes nothing, when either file exists.
pub fn init(root: &Path) -> Result<Initialized, InitError> {
    let written = write_files(root)?;
    let ignored = ignore(root)?;
    Ok(Initialized { written, ignored })
}

/// Adds the lines of [`IGNORED`] that `.gitignore` does not cover yet; returns them. A line is
/// covered when git says the path is ignored (any rule, global ones included), or, outside a
/// repository, when the same pattern is already there. Never adds a line twice.
pub fn ignore(root: &Path) -> Result<Vec<String>, InitError> {
    let path = root.join(".gitignore");
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(InitError::Write { path, source }),
    };
    let normal = |line: &str| line.trim().trim_matches('/').to_string();
    let present: Vec<String> = existing.lines().map(normal).collect();
    let missing: Vec<String> = IGNORED
        .iter()
        .filter(|line| !present.contains(&normal(line)) && !git_ignores(root, line))
        .map(|line| line.to_string())
        .collect();
    if missing.is_empty() {
        return Ok(missing);
    }
    let mut text = existing.clone();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# heal: secrets and records stay out of git\n");
    for line in &missing {
        text.push_str(line);
        text.push('\n');
    }
    let like = std::fs::metadata(&path).ok();
    let result = match &like {
        Some(meta) => crate::apply::atomic::write(&path, text.as_bytes(), Some(meta)),
        None => std::fs::write(&path, text.as_bytes()),
    };
    result.map_err(|source| InitError::Write { path, source })?;
    Ok(missing)
}

/// Whether git already ignores the path of `pattern` in `root` (`false` outside a repository).
fn git_ignores(root: &Path, pattern: &str) -> bool {
    let probe = pattern.trim_start_matches('/');
    // A folder is asked about through a file inside it, as `storage/` matches only folders.
    let probe = match probe.strip_suffix('/') {
        Some(folder) => format!("{folder}/heal.db"),
        None => probe.to_string(),
    };
    std::process::Command::new("git")
        .args(["check-ignore", "-q", "--no-index", "--", &probe])
        .current_dir(root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn write_files(root: &Path) -> Result<Vec<PathBuf>, InitError> {
    let files = [
        (root.join("heal.toml"), heal_toml()),
        (root.join(".env.example"), env_example()),
    ];
    for (path, _) in &files {
        if path.exists() {
            return Err(InitError::Exists(path.clone()));
        }
    }
    let mut written = Vec::new();
    for (path, text) in files {
        // create_new: a file appearing meanwhile is still never overwritten.
        let result = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
        if let Err(source) = result {
            return Err(match source.kind() {
                std::io::ErrorKind::AlreadyExists => InitError::Exists(path),
                _ => InitError::Write { path, source },
            });
        }
        written.push(path);
    }
    Ok(written)
}

/// Every setting, commented out at its default, grouped by table. Secrets are not set here:
/// they belong in `.env`, which stays out of git.
pub fn heal_toml() -> String {
    let mut out = String::from(
        "# heal's configuration. Every key is shown at its default, commented out: uncomment\n\
         # what you change. Later sources override earlier: this file, then .env, then the\n\
         # environment. `heal doctor` prints the values in effect and where each came from.\n",
    );
    let mut table = "";
    let mut keys: Vec<_> = KEYS.iter().collect();
    // Top-level keys first: in TOML, a key after a [table] header belongs to that table.
    keys.sort_by_key(|k| k.toml.contains('.'));
    for key in keys {
        let (section, name) = key.toml.rsplit_once('.').unwrap_or(("", key.toml));
        if section != table {
            out.push_str(&format!("\n[{section}]\n"));
            table = section;
        } else if section.is_empty() && table.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("# {} (env {})\n", key.help, key.env));
        if key.secret {
            out.push_str(&format!("# secret: set {} in .env, not here\n", key.env));
            continue;
        }
        let value = key.default_toml().unwrap_or_else(|| key.example_toml());
        out.push_str(&format!("# {name} = {value}\n"));
    }
    out
}

/// The seed's variables, as `.env` takes them.
pub fn env_example() -> String {
    "# Copy to .env (never commit .env) and fill in.\n\
     \n\
     # Turn self-healing on or off\n\
     ENABLE_AUTO_HEALING=true\n\
     \n\
     # Anthropic API key (Claude)\n\
     ANTHROPIC_API_KEY=sk-ant-xxxxxxxxxxxxxxxxxxxxx\n\
     \n\
     # Or any OpenAI-compatible server, e.g. a local llama.cpp or Ollama:\n\
     # HEAL_PROVIDER=openai\n\
     # OPENAI_BASE_URL=http://127.0.0.1:8080/v1\n\
     # OPENAI_API_KEY=\n\
     \n\
     # GitHub (optional, recommended): pushes over HTTPS and pull requests\n\
     GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxx\n\
     GITHUB_REPO=your-username/ads-automation-agent\n\
     \n\
     # Slack: an incoming webhook, or a bot token and a channel\n\
     SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T000/B000/XXXX\n\
     # SLACK_BOT_TOKEN=xoxb-…\n\
     # SLACK_CHANNEL=#alerts\n\
     \n\
     # Limits\n\
     AUTO_FIX_MIN_CONFIDENCE=medium\n\
     MAX_CLAUDE_CALLS_PER_HOUR=10\n"
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn the_template_uncommented_is_a_valid_configuration_of_every_key() {
        let text = heal_toml();
        let uncommented: String = text
            .lines()
            .map(|l| {
                // `# name = value` lines are settings; other comments stay comments.
                match l.strip_prefix("# ") {
                    Some(rest) if rest.contains(" = ") && !rest.contains("(env ") => {
                        rest.to_string()
                    }
                    _ => l.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("heal.toml"), &uncommented).unwrap();
        let config =
            crate::config::Config::from_sources(dir.path(), &BTreeMap::new(), &Default::default());
        let config = match config {
            Ok(c) => c,
            Err(e) => panic!("{e}\n{uncommented}"),
        };
        for key in KEYS.iter().filter(|k| !k.secret) {
            assert!(
                uncommented.contains(&format!("{} = ", key.toml.rsplit('.').next().unwrap())),
                "{} missing",
                key.toml
            );
        }
        assert_eq!(config.git.mode, crate::config::GitMode::Push);
    }
}
