//! `heal demo` end to end: the real binary running its examples in a temporary folder.

use crate::support::Project;

// See: issue 15 (`heal demo --root DIR` was accepted and ignored).
#[test]
fn r15_the_demo_refuses_root_since_it_runs_in_its_own_folder() {
    let p = Project::new();
    let run = p.run(&["--root", p.path().to_str().unwrap(), "demo"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr
            .contains("heal demo runs in its own temporary folder; --root does not apply"),
        "{run:?}"
    );
    assert!(run.stdout.is_empty(), "{run:?}");
    assert_eq!(
        std::fs::read_dir(p.path()).unwrap().count(),
        0,
        "the refused demo wrote into the folder"
    );
}
