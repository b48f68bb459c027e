//! The isolated copy a fix is proved in: a snapshot of HEAD (`git archive`) plus the live
//! tree's uncommitted files when the project is the top of a git work tree, otherwise a plain
//! copy of the project, always in a temporary folder outside the project.
//!
//! The copy has no git data of its own and nothing pointing back at the live repository (a
//! worktree's `.git` file would name it, and code run in the copy could reach the live `.git`
//! through it). The live tree and its `.git` are only ever read. The copy is always removed
//! when the [`Sandbox`] is dropped, on success, on failure and on panic.

/// Sandboxes are named `heal-prove-{pid}-XXXXXX` in the temp dir.
pub const SANDBOX_PREFIX: &str = "heal-prove-";
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Folders a plain copy leaves out: git's own data, caches and installed dependencies, which
/// are large, rebuilt by tools, and not what a fix changes.
pub const SKIPPED_DIRS: &[&str] = &[".git", "__pycache__", "node_modules", ".venv", "venv"];

/// How the copy was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// HEAD exported with `git archive`, plus the live tree's uncommitted files.
    GitSnapshot,
    /// A copy of the live tree, without [`SKIPPED_DIRS`] and heal's storage folder.
    Copy,
}

impl Isolation {
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::GitSnapshot => "git snapshot",
            Isolation::Copy => "copy",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot create a temporary folder for the copy: {0}")]
    TempDir(#[source] std::io::Error),
    #[error("the temporary folder {0} is inside the project; set TMPDIR to a folder outside it")]
    TempInsideProject(PathBuf),
    #[error(
        "the project holds more than {} of files to copy, more than heal copies to prove a \
         fix; in a git repository heal uses a worktree instead, which has no such limit",
        human_size(*.limit)
    )]
    TooBig { limit: u64 },
    #[error("cannot copy {path} into the isolated copy: {source}")]
    Copy {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot resolve the project root {path}: {source}")]
    Root {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// An isolated copy of the project; removed on drop.
pub struct Sandbox {
    /// The copy's root: the project's files are at the same relative paths under it.
    tree: PathBuf,
    isolation: Isolation,
    /// Owns the temporary folder; `None` once removed.
    temp: Option<tempfile::TempDir>,
}

impl Sandbox {
    /// Makes the copy in a new folder under `temp_dir`. Prefers a git snapshot when `root` is
    /// the top of a work tree; falls back to a plain copy (capped at `max_bytes`) when it is
    /// not, when git is missing, or when the snapshot cannot be made (a repository without any
    /// commit, for one).
    pub fn create(
        root: &Path,
        storage_dir: &Path,
        temp_dir: &Path,
        max_bytes: u64,
    ) -> Result<Sandbox, SandboxError> {
        let root = root.canonicalize().map_err(|source| SandboxError::Root {
            path: root.to_path_buf(),
            source,
        })?;
        let storage = storage_dir
            .canonicalize()
            .unwrap_or_else(|_| root.join(storage_dir));
        let temp = tempfile::Builder::new()
            // The pid in the name lets a later heal find the copies of a heal that was killed.
            .prefix(&format!("{SANDBOX_PREFIX}{}-", std::process::id()))
            .tempdir_in(temp_dir)
            .map_err(SandboxError::TempDir)?;
        let temp_real = temp.path().canonicalize().map_err(SandboxError::TempDir)?;
        // A copy inside the project would copy itself, and be seen by the program's tools.
        if temp_real.starts_with(&root) {
            return Err(SandboxError::TempInsideProject(temp_real));
        }
        let tree = temp_real.join("tree");
        let mut sandbox = Sandbox {
            tree,
            isolation: Isolation::Copy,
            temp: Some(temp),
        };
        let mut budget = Budget::new(max_bytes);
        if is_git_toplevel(&root) {
            match export_head(&root, &sandbox.tree) {
                Ok(()) => {
                    sandbox.isolation = Isolation::GitSnapshot;
                    copy_uncommitted(&root, &sandbox.tree, &storage, &mut budget)?;
                    return Ok(sandbox);
                }
                Err(reason) => {
                    tracing::warn!("cannot export HEAD ({reason}); proving in a copy");
                    // The export may have written part of it; start the copy from an empty
                    // folder.
                    let _ = std::fs::remove_dir_all(&sandbox.tree);
                }
            }
        }
        std::fs::create_dir_all(&sandbox.tree).map_err(|source| SandboxError::Copy {
            path: sandbox.tree.clone(),
            source,
        })?;
        copy_tree(&root, &sandbox.tree, &storage, &mut budget)?;
        Ok(sandbox)
    }

    pub fn path(&self) -> &Path {
        &self.tree
    }

    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// A folder beside the copy, outside it, removed with it: for what heal puts next to a
    /// run (the behaviour probe, the test runner and their results) where the program's own
    /// tools cannot see it.
    pub fn scratch(&self) -> Result<PathBuf, SandboxError> {
        let dir = self.scratch_path();
        std::fs::create_dir_all(&dir).map_err(|source| SandboxError::Copy {
            path: dir.clone(),
            source,
        })?;
        Ok(dir)
    }

    /// Where [`Sandbox::scratch`] is, without making it: for reading what a run left there.
    pub fn scratch_path(&self) -> PathBuf {
        self.tree
            .parent()
            .map(|p| p.join("scratch"))
            .unwrap_or_else(|| self.tree.with_extension("scratch"))
    }

    /// Takes heal's own secrets out of the copy: `heal.toml` (heal's, not the program's) is
    /// removed, and the lines of `.env` that set one of `names` are dropped. Code run in the
    /// copy may read any of its files.
    pub fn forget_secrets(&self, names: &[String]) -> Result<(), SandboxError> {
        let _ = std::fs::remove_file(self.tree.join("heal.toml"));
        let env = self.tree.join(".env");
        let Ok(text) = std::fs::read_to_string(&env) else {
            return Ok(());
        };
        let kept: Vec<&str> = text
            .lines()
            .filter(|line| {
                let line = line.trim_start();
                let line = line.strip_prefix("export ").unwrap_or(line);
                let name = line.split('=').next().unwrap_or("").trim();
                !names.iter().any(|n| n == name)
            })
            .collect();
        let mut out = kept.join("\n");
        out.push('\n');
        std::fs::write(&env, out).map_err(|source| SandboxError::Copy { path: env, source })
    }

    /// Writes `text` at `rel` in the copy, keeping the mode of the live file `like` (the
    /// worktree holds HEAD's version, which may differ from the live one).
    pub fn write(&self, rel: &str, text: &str, like: Option<&Path>) -> Result<(), SandboxError> {
        let target = self.tree.join(rel);
        let err = |source| SandboxError::Copy {
            path: target.clone(),
            source,
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        let _ = std::fs::remove_file(&target);
        if let Some(live) = like
            && live.exists()
        {
            std::fs::copy(live, &target).map_err(err)?;
        }
        std::fs::write(&target, text).map_err(err)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let path = temp.path().to_path_buf();
            if let Err(e) = temp.close() {
                tracing::warn!("cannot delete the copy {}: {e}", path.display());
            }
        }
    }
}

/// `git -C dir` with heal's environment minus the variables that would point git at another
/// repository than `dir`'s.
fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Whether `root` (canonical) is the top of a git work tree. False when git is missing.
fn is_git_toplevel(root: &Path) -> bool {
    let Ok(out) = git(root)
        .args(["rev-parse", "--show-toplevel"])
        .stdout(Stdio::piped())
        .output()
    else {
        return false;
    };
    if !out.status.success() {
        return false;
    }
    let top = String::from_utf8_lossy(&out.stdout).trim_end().to_string();
    Path::new(&top).canonicalize().is_ok_and(|top| top == root)
}

/// Writes HEAD's files into `tree` (a new folder): `git archive` piped into `tar`, so nothing
/// is written to the live repository (no worktree registration, no index).
fn export_head(root: &Path, tree: &Path) -> Result<(), String> {
    std::fs::create_dir_all(tree).map_err(|e| format!("cannot create {}: {e}", tree.display()))?;
    let mut archive = git(root)
        .args(["archive", "--format=tar", "HEAD"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run git: {e}"))?;
    let Some(tar_input) = archive.stdout.take() else {
        return Err("git archive gave no output".to_string());
    };
    let extracted = Command::new("tar")
        .arg("-x")
        .arg("-f")
        .arg("-")
        .arg("-C")
        .arg(tree)
        .stdin(tar_input)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    let archived = archive
        .wait_with_output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !archived.status.success() {
        return Err(String::from_utf8_lossy(&archived.stderr).trim().to_string());
    }
    if !extracted.status.success() {
        return Err(format!(
            "tar: {}",
            String::from_utf8_lossy(&extracted.stderr).trim()
        ));
    }
    Ok(())
}

/// Bytes left to copy.
struct Budget {
    limit: u64,
    used: u64,
}

impl Budget {
    fn new(limit: u64) -> Budget {
        Budget { limit, used: 0 }
    }

    fn spend(&mut self, bytes: u64) -> Result<(), SandboxError> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.limit {
            return Err(SandboxError::TooBig { limit: self.limit });
        }
        Ok(())
    }
}

/// Brings the worktree (at HEAD) level with the live tree: files git reports as modified,
/// added or untracked (not ignored) are copied over, deleted ones removed, and an ignored
/// `.env` is copied. The fix was planned
/// against the live files, so it must be proved against them too.
fn copy_uncommitted(
    root: &Path,
    tree: &Path,
    storage: &Path,
    budget: &mut Budget,
) -> Result<(), SandboxError> {
    let out = git(root)
        .args([
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--no-renames",
            "--ignore-submodules=all",
        ])
        .stdout(Stdio::piped())
        .output()
        .map_err(|source| SandboxError::Copy {
            path: root.to_path_buf(),
            source,
        })?;
    if !out.status.success() {
        return Err(SandboxError::Copy {
            path: root.to_path_buf(),
            source: std::io::Error::other("git status failed"),
        });
    }
    for entry in out.stdout.split(|&b| b == 0) {
        // Each entry is `XY path`; paths are raw bytes relative to the top of the tree.
        let Some(raw) = entry.get(3..) else { continue };
        if raw.is_empty() {
            continue;
        }
        let rel = Path::new(<OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(raw));
        let live = root.join(rel);
        if live.starts_with(storage) || rel.components().any(|c| is_skipped(c.as_os_str())) {
            continue;
        }
        let target = tree.join(rel);
        match std::fs::symlink_metadata(&live) {
            Ok(meta) if meta.is_file() || meta.file_type().is_symlink() => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|source| SandboxError::Copy {
                        path: parent.to_path_buf(),
                        source,
                    })?;
                }
                let _ = std::fs::remove_file(&target);
                copy_entry(root, tree, &live, &target, &meta, budget)?;
            }
            Ok(_) => {}
            Err(_) => {
                let _ = std::fs::remove_file(&target);
            }
        }
    }
    // `.env` is ignored in most projects, yet the program reads it at start: the copy needs
    // it too. `forget_secrets` then takes heal's own lines out.
    let env = root.join(".env");
    let target = tree.join(".env");
    if !target.exists()
        && let Ok(meta) = std::fs::metadata(&env)
        && meta.is_file()
    {
        copy_entry(root, tree, &env, &target, &meta, budget)?;
    }
    Ok(())
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1_000_000 {
        format!("{} MB", bytes / 1_000_000)
    } else {
        format!("{bytes} bytes")
    }
}

fn is_skipped(name: &OsStr) -> bool {
    SKIPPED_DIRS.iter().any(|d| name == OsStr::new(d))
}

/// Copies the live tree into `tree`, without [`SKIPPED_DIRS`] and the storage folder.
fn copy_tree(
    root: &Path,
    tree: &Path,
    storage: &Path,
    budget: &mut Budget,
) -> Result<(), SandboxError> {
    let copy_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SandboxError::Copy { path, source }
    };
    // An explicit stack rather than recursion: a deep tree cannot overflow it.
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let target_dir = tree.join(dir.strip_prefix(root).unwrap_or(Path::new("")));
        std::fs::create_dir_all(&target_dir).map_err(copy_err(&target_dir))?;
        for entry in std::fs::read_dir(&dir).map_err(copy_err(&dir))? {
            let entry = entry.map_err(copy_err(&dir))?;
            let path = entry.path();
            let name = entry.file_name();
            let meta = std::fs::symlink_metadata(&path).map_err(copy_err(&path))?;
            let target = target_dir.join(&name);
            if meta.is_dir() {
                if !is_skipped(&name) && !path.starts_with(storage) {
                    stack.push(path);
                }
            } else if meta.is_file() || meta.file_type().is_symlink() {
                copy_entry(root, tree, &path, &target, &meta, budget)?;
            }
            // Sockets, fifos and devices are not project files; a fifo would block the copy.
        }
    }
    Ok(())
}

/// Copies one file (mode kept) or recreates one symlink. A symlink's absolute target inside
/// the project is pointed at the copy instead, so the copy never writes into the live tree.
fn copy_entry(
    root: &Path,
    tree: &Path,
    live: &Path,
    target: &Path,
    meta: &std::fs::Metadata,
    budget: &mut Budget,
) -> Result<(), SandboxError> {
    let err = |source| SandboxError::Copy {
        path: live.to_path_buf(),
        source,
    };
    if meta.file_type().is_symlink() {
        let link = std::fs::read_link(live).map_err(err)?;
        let link = match link.strip_prefix(root) {
            Ok(inside) if link.is_absolute() => tree.join(inside),
            _ => link,
        };
        return std::os::unix::fs::symlink(&link, target).map_err(err);
    }
    budget.spend(meta.len())?;
    std::fs::copy(live, target).map_err(err)?;
    Ok(())
}
