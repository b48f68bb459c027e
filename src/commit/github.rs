//! Opening a pull request through GitHub's REST API (`POST /repos/{owner}/{repo}/pulls`).
//! The base URL comes from GITHUB_API_URL, so GitHub Enterprise works the same way.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// GitHub's answers are small; anything bigger is not GitHub.
const MAX_ANSWER: usize = 1 << 20;
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("cannot reach the GitHub API at {url}: {cause}")]
    Unreachable { url: String, cause: String },
    #[error("GitHub refused the pull request ({status}): {message}{hint}")]
    Refused {
        status: u16,
        message: String,
        hint: &'static str,
    },
    #[error("GitHub's answer is not a pull request: {0}")]
    Garbled(String),
}

/// The request body of "create a pull request".
#[derive(Debug, Serialize)]
pub struct NewPull<'a> {
    pub title: &'a str,
    /// The branch with the fix.
    pub head: &'a str,
    /// The branch the fix started from.
    pub base: &'a str,
    pub body: &'a str,
    pub draft: bool,
}

/// The part of GitHub's answer heal uses.
#[derive(Debug, Deserialize)]
pub struct Pull {
    pub html_url: String,
    pub number: u64,
}

/// GitHub's error body.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    message: String,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

/// Opens the pull request `pull` on `repo` (`owner/name`).
pub async fn open_pull(
    api_url: &str,
    repo: &str,
    token: &str,
    pull: &NewPull<'_>,
) -> Result<Pull, GitHubError> {
    let url = format!("{}/repos/{repo}/pulls", api_url.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| GitHubError::Unreachable {
            url: url.clone(),
            cause: e.to_string(),
        })?;
    let response = client
        .post(&url)
        .bearer_auth(token)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .header("User-Agent", concat!("heal/", env!("CARGO_PKG_VERSION")))
        .json(pull)
        .send()
        .await
        .map_err(|e| GitHubError::Unreachable {
            url: url.clone(),
            cause: crate::http::deepest_cause(&e),
        })?;
    let status = response.status().as_u16();
    let body = crate::http::read_capped(response, MAX_ANSWER)
        .await
        .map_err(|e| GitHubError::Unreachable {
            url: url.clone(),
            cause: e.to_string(),
        })?;
    if !(200..300).contains(&status) {
        let message = match serde_json::from_str::<ErrorBody>(&body) {
            Ok(e) if e.errors.is_empty() => e.message,
            Ok(e) => format!("{}: {}", e.message, serde_json::Value::Array(e.errors)),
            Err(_) => body.chars().take(300).collect(),
        };
        let hint = match status {
            401 => ": check GITHUB_TOKEN",
            403 | 404 => ": check GITHUB_REPO and that GITHUB_TOKEN may open pull requests there",
            _ => "",
        };
        return Err(GitHubError::Refused {
            status,
            message,
            hint,
        });
    }
    serde_json::from_str(&body).map_err(|e| GitHubError::Garbled(e.to_string()))
}

/// The pull request's description: the incident, the analysis, the diff and the proof.
pub fn pull_body(record: &crate::record::model::Record) -> String {
    let mut out = format!(
        "heal fixed incident `{}` and proved the fix in an isolated copy.\n\n**Error:** `{}: {}`",
        record.id, record.error.exc_type, record.error.message
    );
    if let Some(file) = &record.context.file {
        out.push_str(&format!(
            " in `{file}`{}",
            record
                .context
                .line
                .map(|l| format!(" line {l}"))
                .unwrap_or_default()
        ));
    }
    out.push_str("\n\n### Analysis\n");
    if let Some(a) = &record.analysis {
        for (label, v) in [
            ("Cause", a.root_cause.as_str()),
            ("Category", a.error_category.as_str()),
            ("Confidence", a.confidence.as_str()),
            ("Explanation", a.explanation.as_str()),
        ] {
            out.push_str(&format!("- **{label}:** {v}\n"));
        }
    }
    if let Some(fix) = &record.fix {
        out.push_str(&format!("- **Fix:** {}\n", fix.changes_summary));
        out.push_str(&format!("- **Fixed by:** {}\n", fix.source));
        if let Some(diff) = &fix.diff {
            out.push_str(&format!("\n### Diff\n```diff\n{}\n```\n", diff.trim_end()));
        }
        out.push_str("\n### Validation\n");
        for s in &fix.validation {
            out.push_str(&format!(
                "- {} {}: {}\n",
                if s.passed { "✅" } else { "❌" },
                s.step,
                s.detail
            ));
        }
    }
    out.push_str(&format!(
        "\nThe fix is applied, uncommitted, on the live host. Undo it there with `heal revert {id}`.\n\nHeal-Incident: {id}\n",
        id = record.id
    ));
    out
}
