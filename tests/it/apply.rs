//! `heal::apply` on real files: edits, scope, backups, atomic writes and rollback.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use heal::analyse::answer::Edit;
use heal::apply::{self, ApplyError, Backup, EditErrorKind, PlanError, Rejected, Scope};

/// A project in `<tmp>/proj`, with `<tmp>` free for things outside it.
struct Fixture {
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::Builder::new()
            .prefix("heal-apply-")
            .tempdir()
            .unwrap();
        std::fs::create_dir(tmp.path().join("proj")).unwrap();
        Fixture { tmp }
    }

    fn outside(&self) -> &Path {
        self.tmp.path()
    }

    fn root(&self) -> PathBuf {
        self.tmp.path().join("proj")
    }

    fn storage(&self) -> PathBuf {
        self.root().join("storage")
    }

    fn errors(&self) -> PathBuf {
        self.storage().join("errors")
    }

    fn file(&self, rel: &str, content: &str) -> &Fixture {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root().join(rel)).unwrap()
    }

    fn scope(&self) -> Scope {
        Scope::new(&self.root(), &self.storage(), &[]).unwrap()
    }

    /// Every file of the tree (outside the project too) and its bytes.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.tmp.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                if meta.is_dir() {
                    stack.push(path);
                } else if meta.is_file() {
                    out.insert(path.clone(), std::fs::read(&path).unwrap());
                }
            }
        }
        out
    }
}

fn edit(file: &str, search: &str, replace: &str) -> Edit {
    Edit {
        file: file.to_string(),
        search: search.to_string(),
        replace: replace.to_string(),
    }
}

#[test]
fn exact_edit_is_planned_and_applied() {
    let fx = Fixture::new();
    fx.file("app/main.py", "def f():\n    return nme\n");
    let plan = apply::plan(&fx.scope(), &[edit("app/main.py", "nme", "name")]).unwrap();
    assert_eq!(plan.files.len(), 1);
    assert_eq!(plan.files[0].rel, "app/main.py");
    assert!(
        plan.diff()
            .contains("--- a/app/main.py\n+++ b/app/main.py\n")
    );
    assert!(plan.diff().contains("-    return nme\n+    return name\n"));
    let applied = apply::apply(&plan, &fx.errors(), "err_20250101_000000").unwrap();
    assert_eq!(fx.read("app/main.py"), "def f():\n    return name\n");
    assert_eq!(
        applied.backups,
        [Backup {
            file: "app/main.py".to_string(),
            backup: fx.errors().join("err_20250101_000000_backup_main.py"),
        }]
    );
    assert_eq!(
        std::fs::read_to_string(&applied.backups[0].backup).unwrap(),
        "def f():\n    return nme\n"
    );
}

#[test]
fn missing_search_names_the_edit() {
    let fx = Fixture::new();
    fx.file("a.py", "x = 1\n");
    let err = apply::plan(
        &fx.scope(),
        &[
            edit("a.py", "x = 1", "x = 2"),
            edit("a.py", "y = 1", "y = 2"),
        ],
    )
    .unwrap_err();
    match &err {
        PlanError::Edit { file, source } => {
            assert_eq!(file, "a.py");
            assert_eq!(source.index, 1);
            assert_eq!(source.kind, EditErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("edit 1"), "{err}");
    assert!(err.to_string().contains("does not occur"), "{err}");
}

#[test]
fn ambiguous_search_is_refused_with_its_count() {
    let fx = Fixture::new();
    fx.file("a.py", "x = 1\nx = 1\n");
    let err = apply::plan(&fx.scope(), &[edit("a.py", "x = 1", "x = 2")]).unwrap_err();
    assert!(
        matches!(&err, PlanError::Edit { source, .. } if source.kind == EditErrorKind::Ambiguous { count: 2 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("2 times"), "{err}");
}

#[test]
fn indentation_width_fallback_is_accepted_when_unique() {
    let fx = Fixture::new();
    fx.file(
        "a.py",
        "class A:\n    def f(self):   \n        return nme\n",
    );
    let plan = apply::plan(
        &fx.scope(),
        &[edit(
            "a.py",
            "def f(self):\n    return nme\n",
            "def f(self):\n    return self.name\n",
        )],
    )
    .unwrap();
    assert_eq!(
        plan.files[0].after,
        "class A:\n    def f(self):\n        return self.name\n"
    );
}

#[test]
fn indentation_width_fallback_is_refused_when_ambiguous() {
    let fx = Fixture::new();
    fx.file(
        "a.py",
        "def f():\n    return nme\n\nclass A:\n    def g(self):\n        return nme\n",
    );
    let err = apply::plan(&fx.scope(), &[edit("a.py", "  return nme", "  return 1")]).unwrap_err();
    assert!(
        matches!(&err, PlanError::Edit { source, .. } if source.kind == EditErrorKind::Ambiguous { count: 2 }),
        "{err:?}"
    );
}

#[test]
fn multi_file_fix_is_all_or_none() {
    let fx = Fixture::new();
    fx.file("a.py", "a = 1\n").file("b.py", "b = 1\n");
    let before = fx.snapshot();
    let err = apply::plan(
        &fx.scope(),
        &[
            edit("a.py", "a = 1", "a = 2"),
            edit("b.py", "nope", "b = 2"),
        ],
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::Edit { ref file, .. } if file == "b.py"));
    assert_eq!(fx.snapshot(), before);

    // The same two files with good edits: both change, one backup each.
    let plan = apply::plan(
        &fx.scope(),
        &[
            edit("a.py", "a = 1", "a = 2"),
            edit("b.py", "b = 1", "b = 2"),
        ],
    )
    .unwrap();
    let applied = apply::apply(&plan, &fx.errors(), "err_1").unwrap();
    assert_eq!(
        (fx.read("a.py"), fx.read("b.py")),
        ("a = 2\n".into(), "b = 2\n".into())
    );
    assert_eq!(applied.backups.len(), 2);
}

#[test]
fn scope_rejections_write_nothing() {
    let fx = Fixture::new();
    fx.file("main.py", "x = 1\n")
        .file(".git/hooks/pre-commit", "#!/bin/sh\n")
        .file("storage/errors/x.json", "{}\n")
        .file(".env", "TOKEN=1\n")
        .file("config/.env.local", "TOKEN=1\n")
        .file("secrets/db.txt", "pw\n")
        .file("certs/server.pem", "pem\n")
        .file("keys.toml", "k\n");
    std::fs::write(fx.outside().join("outside.py"), "x = 1\n").unwrap();
    std::fs::create_dir(fx.outside().join("elsewhere")).unwrap();
    std::fs::write(fx.outside().join("elsewhere/x.py"), "x = 1\n").unwrap();
    std::os::unix::fs::symlink(fx.outside().join("outside.py"), fx.root().join("link.py")).unwrap();
    std::os::unix::fs::symlink(fx.outside().join("elsewhere"), fx.root().join("lib")).unwrap();
    std::os::unix::fs::symlink(fx.root().join(".env"), fx.root().join("settings.py")).unwrap();
    std::os::unix::fs::symlink(fx.outside().join("gone.py"), fx.root().join("dangling.py"))
        .unwrap();
    std::os::unix::fs::symlink("nothere.py", fx.root().join("dangling_in.py")).unwrap();
    let absolute = fx.root().join("main.py").to_string_lossy().into_owned();
    let user = ["keys.*".to_string()];
    let scope = Scope::new(&fx.root(), &fx.storage(), &user).unwrap();

    let cases: &[(&str, &str)] = &[
        ("../outside.py", "lies outside the project root"),
        (&absolute, "is an absolute path"),
        (
            "link.py",
            "resolves outside the project root through a symlink",
        ),
        (
            "lib/x.py",
            "resolves outside the project root through a symlink",
        ),
        (".git/hooks/pre-commit", "inside .git"),
        ("storage/errors/x.json", "inside heal's storage folder"),
        (".env", "blacklist"),
        ("config/.env.local", "blacklist"),
        ("settings.py", "blacklist"),
        ("secrets/db.txt", "blacklist"),
        ("certs/server.pem", "blacklist"),
        ("keys.toml", "blacklist glob \"keys.*\""),
        ("missing.py", "does not exist"),
        (
            "dangling.py",
            "resolves outside the project root through a symlink",
        ),
        ("dangling_in.py", "does not exist"),
        ("main.py/..", "not a regular file"),
    ];
    let before = fx.snapshot();
    for (file, why) in cases {
        // A good edit first: one refused path refuses the whole fix.
        let err = apply::plan(
            &scope,
            &[
                edit("main.py", "x = 1", "x = 2"),
                edit(file, "x = 1", "x = 2"),
            ],
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, PlanError::Rejected(_)), "{file}: {err:?}");
        assert!(text.contains(why), "{file}: {text}");
        assert_eq!(fx.snapshot(), before, "{file} changed something");
    }
    assert!(matches!(
        scope.check("../outside.py"),
        Err(Rejected::Outside { .. })
    ));
    assert!(matches!(
        scope.check("link.py"),
        Err(Rejected::Symlink { .. })
    ));
    assert_eq!(
        scope.check("./sub/../main.py").unwrap(),
        fx.root().canonicalize().unwrap().join("main.py")
    );
}

#[test]
fn binary_files_are_refused() {
    let fx = Fixture::new();
    std::fs::write(fx.root().join("blob.py"), b"x = 1\n\0\xff").unwrap();
    let err = apply::plan(&fx.scope(), &[edit("blob.py", "x = 1", "x = 2")]).unwrap_err();
    assert!(matches!(err, PlanError::NotText { .. }), "{err:?}");
}

#[test]
fn apply_keeps_the_file_mode() {
    let fx = Fixture::new();
    fx.file("run.py", "#!/usr/bin/env python3\nx = 1\n");
    let path = fx.root().join("run.py");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let plan = apply::plan(&fx.scope(), &[edit("run.py", "x = 1", "x = 2")]).unwrap();
    let applied = apply::apply(&plan, &fx.errors(), "err_7").unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o755);
    let backup_mode = std::fs::metadata(&applied.backups[0].backup)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(backup_mode, 0o755);
    assert_eq!(
        applied.backups[0].backup,
        fx.errors().join("err_7_backup_run.py")
    );
    // No temporary file is left next to the file or the backup.
    for dir in [fx.root(), fx.errors()] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.starts_with(".heal-tmp-"), "{name}");
        }
    }
}

#[test]
fn symlinked_file_is_edited_through_its_target_and_stays_a_symlink() {
    let fx = Fixture::new();
    fx.file("real.py", "x = 1\n");
    std::os::unix::fs::symlink("real.py", fx.root().join("alias.py")).unwrap();
    let plan = apply::plan(&fx.scope(), &[edit("alias.py", "x = 1", "x = 2")]).unwrap();
    assert_eq!(plan.files[0].rel, "real.py");
    apply::apply(&plan, &fx.errors(), "err_s").unwrap();
    assert!(
        std::fs::symlink_metadata(fx.root().join("alias.py"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fx.read("alias.py"), "x = 2\n");
}

#[test]
fn colliding_backup_names_get_their_folders() {
    let fx = Fixture::new();
    fx.file("engine/utils.py", "e = 1\n")
        .file("web/utils.py", "w = 1\n")
        .file("main.py", "m = 1\n");
    // A backup from an earlier attempt of the same incident is never overwritten.
    fx.file("storage/errors/err_2_backup_main.py", "earlier\n");
    let plan = apply::plan(
        &fx.scope(),
        &[
            edit("engine/utils.py", "e = 1", "e = 2"),
            edit("web/utils.py", "w = 1", "w = 2"),
            edit("main.py", "m = 1", "m = 2"),
        ],
    )
    .unwrap();
    let applied = apply::apply(&plan, &fx.errors(), "err_2").unwrap();
    let names: Vec<String> = applied
        .backups
        .iter()
        .map(|b| b.backup.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "err_2_backup_engine__utils.py",
            "err_2_backup_web__utils.py",
            "err_2_backup_2_main.py"
        ]
    );
    assert_eq!(fx.read("storage/errors/err_2_backup_main.py"), "earlier\n");
    assert_eq!(
        std::fs::read_to_string(&applied.backups[1].backup).unwrap(),
        "w = 1\n"
    );
}

#[test]
fn a_failing_write_half_way_restores_the_files_already_written() {
    let fx = Fixture::new();
    fx.file("a.py", "a = 1\n")
        .file("b.py", "b = 1\n")
        .file("c.py", "c = 1\n");
    let plan = apply::plan(
        &fx.scope(),
        &[
            edit("a.py", "a = 1", "a = 2"),
            edit("b.py", "b = 1", "b = 2"),
            edit("c.py", "c = 1", "c = 2"),
        ],
    )
    .unwrap();
    let mut calls = 0;
    let err = apply::apply_with(&plan, &fx.errors(), "err_3", |path, bytes| {
        calls += 1;
        if calls == 2 {
            // The first file is on disk with its new text: the moment a crash would hurt.
            assert_eq!(
                std::fs::read_to_string(fx.root().join("a.py")).unwrap(),
                "a = 2\n"
            );
            return Err(std::io::Error::other("disk full"));
        }
        apply::write_file(path, bytes)
    })
    .unwrap_err();
    assert_eq!(calls, 2);
    let text = err.to_string();
    assert!(
        matches!(err, ApplyError::Write { ref file, .. } if file == "b.py"),
        "{err:?}"
    );
    assert!(
        text.contains("disk full") && text.contains("restored a.py"),
        "{text}"
    );
    assert_eq!(fx.read("a.py"), "a = 1\n");
    assert_eq!(fx.read("b.py"), "b = 1\n");
    assert_eq!(fx.read("c.py"), "c = 1\n");
}

#[test]
fn a_file_changed_since_the_plan_aborts_before_any_write() {
    let fx = Fixture::new();
    fx.file("a.py", "a = 1\n").file("b.py", "b = 1\n");
    let plan = apply::plan(
        &fx.scope(),
        &[
            edit("a.py", "a = 1", "a = 2"),
            edit("b.py", "b = 1", "b = 2"),
        ],
    )
    .unwrap();
    fx.file("b.py", "b = 1\n# edited by a person\n");
    let err = apply::apply(&plan, &fx.errors(), "err_4").unwrap_err();
    assert!(
        matches!(err, ApplyError::Changed { ref file } if file == "b.py"),
        "{err:?}"
    );
    assert_eq!(fx.read("a.py"), "a = 1\n");
    assert!(!fx.errors().exists() || std::fs::read_dir(fx.errors()).unwrap().next().is_none());
}

#[test]
fn restore_puts_the_bytes_back() {
    let fx = Fixture::new();
    fx.file("pkg/a.py", "a = 1\r\n\tb = 'é'\n");
    let path = fx.root().join("pkg/a.py");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o750)).unwrap();
    let original = std::fs::read(&path).unwrap();
    let plan = apply::plan(&fx.scope(), &[edit("pkg/a.py", "a = 1", "a = 2")]).unwrap();
    let applied = apply::apply(&plan, &fx.errors(), "err_5").unwrap();
    assert_ne!(std::fs::read(&path).unwrap(), original);
    apply::restore(&fx.root(), &applied.backups).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), original);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
        0o750
    );

    // A backup whose file is not inside the project is refused, the others still restored.
    let err = apply::restore(
        &fx.root(),
        &[Backup {
            file: "../x.py".to_string(),
            backup: applied.backups[0].backup.clone(),
        }],
    )
    .unwrap_err();
    assert!(err.to_string().contains("../x.py"), "{err}");
}
