//! Reading the two files of a project's configuration: `heal.toml` (flattened to dotted keys)
//! and `.env` (dotenvy's syntax). Pure but for the reading.

use std::collections::BTreeMap;
use std::path::Path;

use super::{ConfigError, KEYS, Kind};

pub(super) fn read_optional(path: &Path) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Flattens heal.toml into dotted keys with string values. Every key the table does not know
/// and every value of the wrong TOML type is reported, all at once, each with what to write
/// instead.
pub(super) fn parse_toml(path: &Path, text: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Toml {
        path: path.to_path_buf(),
        message: e.to_string().trim().to_string(),
    })?;
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    flatten(path, "", &table, &mut out, &mut problems);
    match problems.len() {
        0 => Ok(out),
        1 => Err(problems.remove(0)),
        _ => Err(ConfigError::Several(problems)),
    }
}

fn flatten(
    path: &Path,
    prefix: &str,
    table: &toml::Table,
    out: &mut BTreeMap<String, String>,
    problems: &mut Vec<ConfigError>,
) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        if let toml::Value::Table(inner) = value {
            // A table that is not a section of heal's ([slak]) is an unknown key itself.
            if KEYS.iter().any(|k| k.toml.starts_with(&format!("{key}."))) {
                flatten(path, &key, inner, out, problems);
            } else {
                problems.push(unknown(path, &key));
            }
            continue;
        }
        let Some(known) = KEYS.iter().find(|k| k.toml == key) else {
            problems.push(unknown(path, &key));
            continue;
        };
        match typed(known.kind, value) {
            Some(text) => {
                out.insert(key, text);
            }
            None => problems.push(ConfigError::WrongType {
                path: path.to_path_buf(),
                key: key.clone(),
                found: type_name(value),
                expected: known.kind.toml_form(name),
            }),
        }
    }
}

/// The value as heal's settings hold it (a list as a JSON array), when its TOML type is the
/// one `kind` takes.
fn typed(kind: Kind, value: &toml::Value) -> Option<String> {
    match (kind, value) {
        (Kind::Bool, toml::Value::Boolean(b)) => Some(b.to_string()),
        (Kind::U64 { .. }, toml::Value::Integer(i)) => Some(i.to_string()),
        (Kind::List, toml::Value::Array(items)) => {
            let strings: Option<Vec<&str>> = items.iter().map(toml::Value::as_str).collect();
            strings.map(|list| serde_json::to_string(&list).unwrap_or_default())
        }
        (
            Kind::Text
            | Kind::Url
            | Kind::PostgresUrl
            | Kind::OneOf(_)
            | Kind::Repo
            | Kind::Author
            | Kind::Command,
            toml::Value::String(s),
        ) => Some(s.clone()),
        _ => None,
    }
}

fn type_name(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("the text {}", toml::Value::String(s.clone())),
        toml::Value::Integer(i) => format!("the number {i}"),
        toml::Value::Float(f) => format!("the number {f}"),
        toml::Value::Boolean(b) => format!("the boolean {b}"),
        toml::Value::Datetime(d) => format!("the date {d}"),
        toml::Value::Array(_) => format!("the array {value}"),
        toml::Value::Table(_) => "a table".to_string(),
    }
}

fn unknown(path: &Path, key: &str) -> ConfigError {
    ConfigError::UnknownKey {
        path: path.to_path_buf(),
        key: key.to_string(),
        hint: suggest(key),
    }
}

/// What to say of an unknown key: the nearest known key when one is close (a typo, a missing
/// section, an environment name written in heal.toml), else where the keys are listed.
fn suggest(key: &str) -> String {
    // `HEAL_WATCH_SECONDS = 60` in heal.toml: the environment's name of a key.
    if let Some(k) = KEYS.iter().find(|k| k.env.eq_ignore_ascii_case(key)) {
        return format!(
            "did you mean `{}`? ({} is its name in .env and the environment)",
            k.toml, k.env
        );
    }
    let leaf = |k: &str| k.rsplit('.').next().unwrap_or(k).to_string();
    let best = KEYS
        .iter()
        .map(|k| {
            let whole = strsim::levenshtein(key, k.toml);
            // The right name in the wrong section (`webhook_url` at the top): judged on the
            // last part, one more step for the section.
            let by_leaf = strsim::levenshtein(&leaf(key), &leaf(k.toml)) + 1;
            (whole.min(by_leaf), k.toml)
        })
        .min_by_key(|(distance, _)| *distance);
    match best {
        Some((distance, name)) if distance <= 3.max(key.len() / 4) => {
            format!("did you mean `{name}`?")
        }
        _ => "every key is listed, commented, in the heal.toml `heal init` writes, and in the README's Configuration section".to_string(),
    }
}

/// Reads `.env` with dotenvy's syntax: every pair, as the file is the application's too (heal
/// uses the names it knows, and redacts the secrets of all).
pub(super) fn parse_dotenv(
    path: &Path,
    text: &str,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        let (name, value) = item.map_err(|e| {
            // dotenvy gives the line's text and a position within it, not the line's number.
            let (line_text, index) = match &e {
                dotenvy::Error::LineParse(line, index) => (line.clone(), *index),
                other => (other.to_string(), 0),
            };
            ConfigError::DotEnv {
                path: path.to_path_buf(),
                line: line_number(text, &line_text),
                column: index + 1,
                shown: masked(line_text.lines().next().unwrap_or_default()),
            }
        })?;
        out.insert(name, value);
    }
    Ok(out)
}

/// The 1-based number of the first line of `text` that is `line` (its first line, when it
/// spans several): parsing stops at the first bad line, and an identical line before it would
/// have failed first.
fn line_number(text: &str, line: &str) -> usize {
    let wanted = line.lines().next().unwrap_or_default().trim();
    text.lines()
        .position(|l| l.trim() == wanted)
        .map_or(1, |i| i + 1)
}

/// A line of `.env` as it can be shown: a value after `=` is cut to its first 3 characters,
/// and so is every word of 8 characters or more, since a line that does not parse may still
/// hold a secret.
fn masked(line: &str) -> String {
    let cut = |word: &str| -> String {
        if word.chars().count() >= 8 {
            format!("{}…", word.chars().take(3).collect::<String>())
        } else {
            word.to_string()
        }
    };
    let (head, value) = match line.split_once('=') {
        Some((name, value)) => (format!("{}=", name), Some(value)),
        None => (String::new(), None),
    };
    let words = |s: &str| s.split(' ').map(cut).collect::<Vec<_>>().join(" ");
    match value {
        Some(value) if value.chars().count() > 3 => format!(
            "{}{}…",
            words(&head),
            value.chars().take(3).collect::<String>()
        ),
        Some(value) => format!("{}{}", words(&head), value),
        None => words(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_line_of_dotenv_is_named_by_its_number_with_its_secrets_cut() {
        let path = Path::new(".env");
        let err = parse_dotenv(path, "# comment\nA=1\n\nthis is garbage\nB=2\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 4 is not KEY=VALUE"), "{text}");
        assert!(text.contains("this is garbage"), "{text}");
        assert!(text.contains("NAME=value"), "{text}");
        let err = parse_dotenv(path, "=novalue\n").unwrap_err().to_string();
        assert!(err.contains("line 1 "), "{err}");
        let err = parse_dotenv(path, "OK=1\nsk-ant-api03-realsecretvalue oops\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2 "), "{err}");
        assert!(!err.contains("realsecret"), "{err}");
        assert!(err.contains("sk-…"), "{err}");
    }

    #[test]
    fn heal_toml_problems_are_all_reported_with_the_nearest_key_and_the_form() {
        let path = Path::new("heal.toml");
        let text = "HEAL_WATCH_SECONDS = 60\nmax_heal_failure = 3\nstorage_dir = 5\n[verify]\ncommands = \"pytest -q\"\n[slak]\nwebhook_url = \"x\"\n";
        let err = parse_toml(path, text).unwrap_err().to_string();
        assert!(
            err.contains("unknown key `max_heal_failure`: did you mean `max_heal_failures`?"),
            "{err}"
        );
        assert!(
            err.contains("`storage_dir` is the number 5; expected text in quotes"),
            "{err}"
        );
        assert!(err.contains("`verify.commands` is the text \"pytest -q\"; expected a list of strings in brackets"), "{err}");
        assert!(err.contains("unknown key `slak`"), "{err}");
        assert!(
            err.contains("unknown key `HEAL_WATCH_SECONDS`: did you mean `watch_seconds`?"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 5, "{err}");
        // A key at the top that belongs in a section.
        let err = parse_toml(path, "webhook_url = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `slack.webhook_url`?"), "{err}");
    }
}
