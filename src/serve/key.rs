//! The project key `heal serve` checks every request against: `serve.key` when it is set, else
//! one generated at the first start and kept in `storage/serve.key`, so the DSN a program was
//! given stays valid across restarts.
//!
//! The file is written once, atomically and readable by its owner only (0600): a half-written
//! or world-readable key would let a stranger's events in, or lock the program's out. Two
//! `heal serve` starting at once agree on one key: the second finds the first's file (the
//! write never replaces an existing one) and reads it back.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// The file the generated key is kept in, under the storage folder.
pub const KEY_FILE: &str = "serve.key";

/// Random bytes in a generated key: 128 bits, written as 32 hex digits (Sentry's own keys have
/// the same form).
const KEY_BYTES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "cannot read the project key {path}: {source}; fix its permissions, or set serve.key in heal.toml (HEAL_SERVE_KEY)"
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the project key file {path} is empty or not one line of text; delete it for heal to write a new one (programs must then be given the new DSN), or set serve.key"
    )]
    Invalid { path: PathBuf },
    #[error(
        "cannot write the project key {path}: {source}; check that the storage folder is writable, or set serve.key in heal.toml (HEAL_SERVE_KEY)"
    )]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read random bytes for a new project key from /dev/urandom: {0}")]
    Random(#[source] std::io::Error),
}

/// Where the key came from, for what `heal serve` says at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    Configured,
    /// Read from `storage/serve.key`, written by an earlier start.
    Kept,
    /// Generated now and written to `storage/serve.key`.
    Generated,
}

/// The project's key: the configured one, else the kept one, else a new one (written).
pub fn project_key(
    configured: Option<&str>,
    storage_dir: &Path,
) -> Result<(String, KeySource), KeyError> {
    if let Some(key) = configured.filter(|k| !k.is_empty()) {
        return Ok((key.to_string(), KeySource::Configured));
    }
    let path = storage_dir.join(KEY_FILE);
    if let Some(key) = read_kept(&path)? {
        return Ok((key, KeySource::Kept));
    }
    let key = generate()?;
    match write_new(storage_dir, &path, &key) {
        Ok(()) => Ok((key, KeySource::Generated)),
        // Another heal serve wrote its key first: that one is the project's.
        Err(KeyError::Write { source, .. })
            if source.kind() == std::io::ErrorKind::AlreadyExists =>
        {
            let key = read_kept(&path)?.ok_or(KeyError::Invalid { path })?;
            Ok((key, KeySource::Kept))
        }
        Err(e) => Err(e),
    }
}

fn read_kept(path: &Path) -> Result<Option<String>, KeyError> {
    let mut text = String::new();
    match std::fs::File::open(path) {
        // A key file is 33 bytes; reading more than 1 KiB of one would be reading something else.
        Ok(file) => file.take(1024).read_to_string(&mut text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(KeyError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    .map_err(|source| KeyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let key = text.trim();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(KeyError::Invalid {
            path: path.to_path_buf(),
        });
    }
    Ok(Some(key.to_string()))
}

/// A key for one `heal run`'s ingest, kept nowhere: the child gets it in its DSN.
pub fn fresh_key() -> Result<String, KeyError> {
    generate()
}

fn generate() -> Result<String, KeyError> {
    let mut bytes = [0u8; KEY_BYTES];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(KeyError::Random)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `key` to a temporary file in the storage folder (0600 from its creation: tempfile
/// creates files that way), synced, then links it into place without replacing a file there.
fn write_new(storage_dir: &Path, path: &Path, key: &str) -> Result<(), KeyError> {
    let write = |source| KeyError::Write {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(storage_dir).map_err(write)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".serve.key.")
        .tempfile_in(storage_dir)
        .map_err(write)?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(write)?;
    }
    writeln!(tmp, "{key}").map_err(write)?;
    tmp.as_file().sync_all().map_err(write)?;
    tmp.persist_noclobber(path).map_err(|e| write(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn a_configured_key_wins_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (key, source) = project_key(Some("abc"), dir.path()).unwrap();
        assert_eq!((key.as_str(), source), ("abc", KeySource::Configured));
        assert!(!dir.path().join(KEY_FILE).exists());
    }

    #[test]
    fn a_generated_key_is_kept_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage");
        let (first, source) = project_key(None, &storage).unwrap();
        assert_eq!(source, KeySource::Generated);
        assert_eq!(first.len(), 2 * KEY_BYTES);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()), "{first}");
        let meta = std::fs::metadata(storage.join(KEY_FILE)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let (again, source) = project_key(Some(""), &storage).unwrap();
        assert_eq!((again, source), (first, KeySource::Kept));
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(&storage).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn an_empty_key_file_is_an_error_that_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), "\n").unwrap();
        let err = project_key(None, dir.path()).unwrap_err().to_string();
        assert!(err.contains("delete it"), "{err}");
    }
}
