//! Replaces a file's content so that a reader sees the old file or the new one, never a part,
//! keeping the file's mode and owner.
//!
//! It must never write in place: the bytes go to a temporary file in the same folder (so the
//! rename cannot cross file systems), which is synced and then renamed over the target.

use std::fs::{File, Metadata};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Writes `bytes` to `path` atomically. With `like`, the new file gets that file's mode and,
/// when heal may set it, its owner; without, the temporary file's private mode (0600).
pub fn write(path: &Path, bytes: &[u8], like: Option<&Metadata>) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".heal-tmp-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    if let Some(meta) = like {
        // Owner first: changing the owner clears setuid/setgid bits, which the mode then
        // restores. Only root may give a file away; anyone else keeps their own files, so a
        // refusal here changes nothing and is not an error.
        let _ = std::os::unix::fs::fchown(tmp.as_file(), Some(meta.uid()), Some(meta.gid()));
        tmp.as_file().set_permissions(meta.permissions())?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename lives in the folder: sync it too, or a power cut may bring the old name back.
    if let Ok(folder) = File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}
