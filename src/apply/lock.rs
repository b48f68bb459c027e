//! The project lock: one fix edits the live tree at a time, across every heal process of the
//! project (two workers of one app each run heal). An advisory `flock` on
//! `<storage>/heal.lock`: the kernel releases it when its holder dies, however it dies, so a
//! killed heal never leaves the project locked.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Held while the tree is edited; dropping it releases the lock.
#[derive(Debug)]
pub struct TreeLock {
    _file: File,
}

/// Waits for the project lock (blocking: call it off the async threads).
pub fn lock(storage_dir: &Path) -> std::io::Result<TreeLock> {
    std::fs::create_dir_all(storage_dir)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(storage_dir.join("heal.lock"))?;
    loop {
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if r == 0 {
            return Ok(TreeLock { _file: file });
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
