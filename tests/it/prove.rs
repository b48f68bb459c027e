//! `heal::prove` with real git, real python3 and real files: the ladder, the isolated copy and
//! its cleanup.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use heal::analyse::answer::Edit;
use heal::apply::{self, Plan, Scope};
use heal::prove::{
    self, ErrorSignature, Isolation, ProveConfig, StepName, Validation, last_traceback,
};

const BUGGY: &str = "\
import sys


def greet(name):
    return \"hello \" + nme


if __name__ == \"__main__\":
    print(greet(\"world\"))
";

/// A project (git or not) plus a private folder for the copies, so a test can see that its
/// copy is gone even while other tests run.
struct Case {
    project: tempfile::TempDir,
    temp: tempfile::TempDir,
    git: bool,
}

impl Case {
    fn new(files: &[(&str, &str)], git: bool) -> Case {
        let project = tempfile::Builder::new()
            .prefix("heal-prove-it-")
            .tempdir()
            .unwrap();
        let temp = tempfile::Builder::new()
            .prefix("heal-prove-tmp-")
            .tempdir()
            .unwrap();
        let case = Case { project, temp, git };
        for (rel, content) in files {
            case.write(rel, content);
        }
        if git {
            case.git(&["init", "--quiet", "--initial-branch=main"]);
            case.git(&["add", "--all"]);
            case.git(&["commit", "--quiet", "-m", "initial"]);
        }
        case
    }

    fn root(&self) -> &Path {
        self.project.path()
    }

    fn write(&self, rel: &str, content: &str) {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    fn git_command(&self) -> Command {
        let mut cmd = Command::new("git");
        cmd.current_dir(self.root())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.root())
            .env("GIT_AUTHOR_NAME", "heal test")
            .env("GIT_AUTHOR_EMAIL", "heal@example.com")
            .env("GIT_COMMITTER_NAME", "heal test")
            .env("GIT_COMMITTER_EMAIL", "heal@example.com");
        cmd
    }

    fn git(&self, args: &[&str]) -> String {
        let out = self
            .git_command()
            .args(args)
            .output()
            .expect("git must be installed");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The signature of the error the live program crashes with, read by heal's parser.
    fn original(&self, script: &str) -> ErrorSignature {
        let out = Command::new("python3")
            .arg(script)
            .current_dir(self.root())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .expect("python3 must be installed");
        assert!(!out.status.success(), "{script} was meant to crash");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tb = last_traceback(&stderr).unwrap_or_else(|| panic!("no traceback in {stderr}"));
        ErrorSignature::from_traceback(&tb)
    }

    fn config(&self, script: &str) -> ProveConfig {
        let mut config = ProveConfig::new(
            self.root(),
            &self.root().join("storage"),
            vec!["python3".to_string(), script.to_string()],
            self.original(script),
        );
        config.rerun_timeout = Duration::from_secs(5);
        config.temp_dir = self.temp.path().to_path_buf();
        config
    }

    fn plan(&self, edits: &[(&str, &str, &str)]) -> Plan {
        let scope = Scope::new(self.root(), &self.root().join("storage"), &[]).unwrap();
        let edits: Vec<Edit> = edits
            .iter()
            .map(|(file, search, replace)| Edit {
                file: file.to_string(),
                search: search.to_string(),
                replace: replace.to_string(),
            })
            .collect();
        apply::plan(&scope, &edits).unwrap()
    }

    /// Every file outside `.git` (which git itself maintains) and its bytes.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.root().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                if meta.is_dir() {
                    if !path.ends_with(".git") {
                        stack.push(path);
                    }
                } else {
                    out.insert(path.clone(), std::fs::read(&path).unwrap_or_default());
                }
            }
        }
        out
    }

    /// Runs the proof and checks what every proof must leave behind: an untouched live tree,
    /// no copy, and (in a repository) no extra worktree.
    async fn prove(&self, plan: &Plan, config: &ProveConfig) -> Validation {
        let before = self.snapshot();
        let validation = prove::prove(plan, config).await;
        assert_eq!(self.snapshot(), before, "prove() changed the live tree");
        let left: Vec<_> = std::fs::read_dir(self.temp.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(left.is_empty(), "the copy was not removed: {left:?}");
        if self.git {
            let list = self.git(&["worktree", "list", "--porcelain"]);
            let trees = list.lines().filter(|l| l.starts_with("worktree ")).count();
            assert_eq!(trees, 1, "worktrees left behind:\n{list}");
        }
        validation
    }
}

fn names(v: &Validation) -> Vec<(StepName, bool)> {
    v.steps.iter().map(|s| (s.name, s.passed)).collect()
}

#[tokio::test]
async fn a_correct_fix_passes_syntax_and_rerun_in_a_worktree() {
    let case = Case::new(&[("app.py", BUGGY)], true);
    let config = case.config("app.py");
    assert_eq!(config.original.exc_type, "NameError");
    let plan = case.plan(&[("app.py", "+ nme", "+ name")]);
    let v = case.prove(&plan, &config).await;
    assert!(v.passed, "{v:#?}");
    assert_eq!(v.isolation, Some(Isolation::GitSnapshot));
    assert_eq!(
        names(&v),
        [
            (StepName::Syntax, true),
            (StepName::Rerun, true),
            (StepName::Behaviour, true),
            (StepName::Output, true)
        ]
    );
    assert_eq!(v.failure, None);
    // Judged against the program as it was: two runs, both showing the error.
    let baseline = v.baseline.as_ref().unwrap();
    assert_eq!((baseline.runs, baseline.reproduced), (2, 2));
    assert_eq!(v.weaker, None);
    let rerun = &v.steps[1];
    assert_eq!(rerun.exit, Some(0));
    assert!(rerun.output_tail.contains("hello world"), "{rerun:#?}");
}

#[tokio::test]
async fn broken_syntax_fails_at_the_syntax_step_with_a_line() {
    let case = Case::new(&[("app.py", BUGGY)], true);
    let config = case.config("app.py");
    let plan = case.plan(&[("app.py", "+ nme", "+ (name")]);
    let v = case.prove(&plan, &config).await;
    assert!(!v.passed);
    assert_eq!(names(&v), [(StepName::Syntax, false)]);
    let step = &v.steps[0];
    assert!(step.detail.contains("app.py: line "), "{step:#?}");
    assert!(step.output_tail.contains("SyntaxError"), "{step:#?}");
    let failure = v.failure.unwrap();
    assert!(failure.starts_with("The syntax step failed"), "{failure}");
}

#[tokio::test]
async fn a_fix_that_turns_the_error_into_another_fails_the_rerun() {
    let case = Case::new(&[("app.py", BUGGY)], true);
    let config = case.config("app.py");
    let plan = case.plan(&[(
        "app.py",
        "    return \"hello \" + nme",
        "    import no_such_module_heal\n    return \"hello \" + name",
    )]);
    let v = case.prove(&plan, &config).await;
    assert_eq!(
        names(&v),
        [(StepName::Syntax, true), (StepName::Rerun, false)]
    );
    let detail = &v.steps[1].detail;
    assert!(
        detail.contains("a new error in a line the fix changed"),
        "{detail}"
    );
    assert!(detail.contains("ModuleNotFoundError"), "{detail}");
    // The traceback shows the live paths, not the copy's, which no longer exists.
    let tail = &v.steps[1].output_tail;
    let live = case.root().join("app.py");
    assert!(
        tail.contains(&format!("File \"{}\"", live.display())),
        "{tail}"
    );
    assert!(
        v.failure
            .unwrap()
            .contains("a new error in a line the fix changed")
    );
}

#[tokio::test]
async fn a_fix_that_does_not_stop_the_error_fails_the_rerun() {
    let case = Case::new(&[("app.py", BUGGY)], true);
    let config = case.config("app.py");
    let plan = case.plan(&[("app.py", "+ nme", "+ nme  # fixed?")]);
    let v = case.prove(&plan, &config).await;
    assert_eq!(
        names(&v),
        [(StepName::Syntax, true), (StepName::Rerun, false)]
    );
    let detail = &v.steps[1].detail;
    assert!(detail.contains("same error"), "{detail}");
    assert!(detail.contains("NameError"), "{detail}");
    assert_eq!(v.steps[1].exit, Some(1));
}

#[tokio::test]
async fn a_server_still_running_at_the_timeout_passes_and_is_killed() {
    let server = "\
import os, sys, time

with open(sys.argv[1], \"w\") as f:
    f.write(str(os.getpid()))
print(\"serving on \" + PORT, flush=True)
while True:
    time.sleep(0.1)
";
    let case = Case::new(&[("server.py", server)], true);
    let pids = tempfile::tempdir().unwrap();
    let pid_file = pids.path().join("pid");
    let mut config = case.config("server.py");
    config.command.push(pid_file.to_string_lossy().into_owned());
    // Long enough for a loaded machine to start python in the sandbox and print.
    config.rerun_timeout = Duration::from_secs(5);
    let plan = case.plan(&[("server.py", "print(", "PORT = \"8000\"\nprint(")]);
    let v = case.prove(&plan, &config).await;
    assert!(v.passed, "{v:#?}");
    let rerun = &v.steps[1];
    assert!(rerun.detail.contains("still running"), "{rerun:#?}");
    assert_eq!(rerun.exit, None);
    assert!(rerun.output_tail.contains("serving on 8000"), "{rerun:#?}");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the server {pid} outlived the proof"
    );
}

#[tokio::test]
async fn a_failing_verify_command_fails_the_check_step() {
    let case = Case::new(&[("app.py", BUGGY)], true);
    let mut config = case.config("app.py");
    config.verify_commands = vec![
        "true".to_string(),
        "python3 -c \"raise SystemExit(1)\"".to_string(),
        "echo never".to_string(),
    ];
    let plan = case.plan(&[("app.py", "+ nme", "+ name")]);
    let v = case.prove(&plan, &config).await;
    assert!(!v.passed);
    assert_eq!(
        names(&v),
        [
            (StepName::Syntax, true),
            (StepName::Check, true),
            (StepName::Check, false)
        ]
    );
    assert_eq!(v.steps[2].exit, Some(1));
    assert_eq!(v.steps[2].command, "python3 -c \"raise SystemExit(1)\"");
    assert!(
        v.failure
            .unwrap()
            .starts_with("The check step failed: exited with code 1")
    );
}

#[tokio::test]
async fn uncommitted_live_files_are_what_the_fix_is_proved_against() {
    let helper_committed = "def who():\n    raise RuntimeError(\"committed version\")\n";
    let app = BUGGY.replace("import sys", "import sys\nfrom helper import who");
    let case = Case::new(&[("app.py", &app), ("helper.py", helper_committed)], true);
    // Changed after the commit and never committed, like a developer's work in progress; and a
    // file git does not know yet.
    case.write(
        "helper.py",
        "from extra import WHO\n\ndef who():\n    return WHO\n",
    );
    case.write("extra.py", "WHO = \"world\"\n");
    let config = case.config("app.py");
    // The fix of the NameError, and a use of the uncommitted helper.
    let plan = case.plan(&[
        ("app.py", "+ nme", "+ name"),
        ("app.py", "greet(\"world\")", "greet(who())"),
    ]);
    let v = case.prove(&plan, &config).await;
    assert!(v.passed, "{v:#?}");
    assert!(v.steps[1].output_tail.contains("hello world"), "{v:#?}");
}

#[tokio::test]
async fn a_folder_outside_git_is_proved_in_a_copy_without_storage_or_caches() {
    let case = Case::new(
        &[
            ("app.py", BUGGY),
            ("storage/errors/err_1.json", "{}\n"),
            ("node_modules/pkg/index.js", "x\n"),
            ("data/input.txt", "kept\n"),
        ],
        false,
    );
    let mut config = case.config("app.py");
    config.verify_commands =
        vec!["test ! -e storage && test ! -e node_modules && test -f data/input.txt".to_string()];
    let plan = case.plan(&[("app.py", "+ nme", "+ name")]);
    let v = case.prove(&plan, &config).await;
    assert!(v.passed, "{v:#?}");
    assert_eq!(v.isolation, Some(Isolation::Copy));
    assert_eq!(
        names(&v),
        [
            (StepName::Syntax, true),
            (StepName::Check, true),
            (StepName::Rerun, true),
            (StepName::Behaviour, true),
            (StepName::Output, true)
        ]
    );
}

#[tokio::test]
async fn a_copy_over_the_size_cap_fails_with_a_reason() {
    let case = Case::new(&[("app.py", BUGGY), ("big.bin", &"x".repeat(4096))], false);
    let mut config = case.config("app.py");
    config.max_copy_bytes = 1000;
    let plan = case.plan(&[("app.py", "+ nme", "+ name")]);
    let v = case.prove(&plan, &config).await;
    assert!(!v.passed);
    assert!(v.steps.is_empty());
    assert_eq!(v.isolation, None);
    let failure = v.failure.unwrap();
    assert!(failure.contains("more than 1000 bytes"), "{failure}");
}

#[tokio::test]
async fn an_absolute_script_path_is_run_from_the_copy() {
    let case = Case::new(&[("app.py", BUGGY)], true);
    let script = case.root().join("app.py").to_string_lossy().into_owned();
    let config = case.config(&script);
    let plan = case.plan(&[("app.py", "+ nme", "+ name")]);
    let v = case.prove(&plan, &config).await;
    // Run against the live file, the re-run would still crash with the NameError.
    assert!(v.passed, "{v:#?}");
}
