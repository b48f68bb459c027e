//! `heal --help` and the commands' help: what a newcomer reads first.

use crate::support::Project;
use crate::support::project::Run;

fn help(args: &[&str]) -> Run {
    let run = Project::new().run(args);
    assert_eq!(run.code, Some(0), "{run:?}");
    run
}

/// The help text with its lines joined and its spaces collapsed, so a needle is found however
/// clap wraps and aligns it.
fn joined(out: &str) -> String {
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

// See: issue 15 (`heal --help` did not say that heal fixes anything).
#[test]
fn r15_heal_help_says_heal_fixes_proves_commits_and_restarts() {
    let out = joined(&help(&["--help"]).stdout);
    for needle in [
        "catches its errors",
        "fixes them (instant rules, or a model)",
        "proves each fix in a sandboxed copy",
        "applies and commits it",
        "restarts the program",
    ] {
        assert!(out.contains(needle), "`{needle}` missing:\n{out}");
    }
}

// See: issue 15 (`<ID>` had no description).
#[test]
fn r15_show_retry_and_revert_describe_the_id() {
    for command in ["show", "retry", "revert"] {
        let out = joined(&help(&[command, "--help"]).stdout);
        assert!(
            out.contains("<ID> The incident's id, like err_20261130_031500, as `heal list` shows"),
            "{command}:\n{out}"
        );
    }
}

// See: issue 15 (`heal run --help` said nothing of the settings, the exit status or Ctrl-C).
#[test]
fn r15_run_help_names_the_settings_files_the_exit_status_and_ctrl_c() {
    let out = help(&["run", "--help"]).stdout;
    let text = joined(&out);
    for needle in [
        "heal.toml and .env, read from the project root",
        "Exit status: the program's last exit status",
        "Ctrl-C (SIGINT; SIGTERM and SIGHUP alike): heal passes the signal to the program",
        "A healing in progress is cancelled",
        "no fix is ever left half-applied",
    ] {
        assert!(text.contains(needle), "`{needle}` missing:\n{out}");
    }
    // The short help stays short.
    let short = help(&["run", "-h"]).stdout;
    assert!(!short.contains("Ctrl-C"), "{short}");
}
