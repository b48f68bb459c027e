//! Reading the two files of a project's configuration: `heal.toml` (flattened to dotted keys)
//! and `.env` (dotenvy's syntax). Pure but for the reading.

use std::collections::BTreeMap;
use std::path::Path;

use super::{ConfigError, KEYS};

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

/// Flattens heal.toml into dotted keys with string values, rejecting unknown keys.
pub(super) fn parse_toml(path: &Path, text: &str) -> Result<BTreeMap<String, String>, ConfigError> {
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

/// Reads `.env` with dotenvy's syntax: every pair, as the file is the application's too (heal
/// uses the names it knows, and redacts the secrets of all).
pub(super) fn parse_dotenv(
    path: &Path,
    text: &str,
) -> Result<BTreeMap<String, String>, ConfigError> {
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
