//! A new user's first hour (issue 15): the mistakes a newcomer makes get messages that say
//! what is wrong, where, and what to write instead.

use crate::support::git::git;
use crate::support::project::Project;

#[test]
fn r15_every_bad_key_of_heal_toml_is_named_as_written_with_the_form_expected() {
    let p = Project::new();
    p.file(
        "heal.toml",
        "max_heal_failure = 3\nstorage_dir = 5\nwatch_seconds = \"sixty\"\n\
         auto_fix_min_confidence = \"sure\"\n[verify]\ncommands = \"pytest -q\"\n",
    );
    let run = p.run(&["doctor"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    let err = &run.stderr;
    // A typo'd key: the nearest key, not the list of every key.
    assert!(
        err.contains("unknown key `max_heal_failure`: did you mean `max_heal_failures`?"),
        "{err}"
    );
    assert!(!err.contains("known keys"), "{err}");
    // Wrong types, named by the key as written in heal.toml, with the form to write.
    assert!(
        err.contains("`storage_dir` is the number 5; expected text in quotes"),
        "{err}"
    );
    assert!(
        err.contains("`watch_seconds` is the text \"sixty\"; expected a whole number"),
        "{err}"
    );
    assert!(
        err.contains(
            "`verify.commands` is the text \"pytest -q\"; expected a list of strings in brackets"
        ),
        "{err}"
    );
    assert!(!err.contains("HEAL_WATCH_SECONDS"), "{err}");
    // All at once: the four problems of the file's syntax-level pass.
    assert!(err.contains("heal.toml"), "{err}");
    assert_eq!(err.matches("heal.toml: ").count(), 4, "{err}");

    // A rule name checked after the values is named as written too.
    p.file(
        "heal.toml",
        "[instant]\nrules = [\"did-you-mean\", \"guess-harder\"]\n",
    );
    let run = p.run(&["doctor"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains("instant.rules = \"guess-harder\"")
            && !run.stderr.contains("HEAL_INSTANT_RULES"),
        "{run:?}"
    );

    // Once the types are right, a bad value is named as written, where it was written.
    p.file("heal.toml", "auto_fix_min_confidence = \"sure\"\n");
    let run = p.run(&["doctor"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr
            .contains("auto_fix_min_confidence = \"sure\" in ")
            && run.stderr.contains("low, medium, high")
            && !run.stderr.contains("AUTO_FIX_MIN_CONFIDENCE"),
        "{run:?}"
    );
}

#[test]
fn r15_a_bad_line_of_dotenv_is_named_by_its_line_number_with_secrets_cut() {
    let p = Project::new();
    p.file(
        ".env",
        "# settings\nHEAL_PROVIDER=none\n\nsk-ant-api03-pastedalonebyaccident\n",
    );
    let run = p.run(&["doctor"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains(".env: line 4 is not KEY=VALUE"),
        "{run:?}"
    );
    assert!(run.stderr.contains("NAME=value"), "{run:?}");
    assert!(!run.stderr.contains("pastedalone"), "{run:?}");

    p.file(".env", "HEAL_PROVIDER=none\n=novalue\n");
    let run = p.run(&["doctor"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains(".env: line 2 is not KEY=VALUE"),
        "{run:?}"
    );
}

#[test]
fn r15_placeholders_copied_from_the_example_count_as_unset_and_are_named() {
    let p = Project::new();
    assert_eq!(p.run(&["init"]).code, Some(0));
    std::fs::copy(p.path().join(".env.example"), p.path().join(".env")).unwrap();
    let doctor = p.run(&["doctor"]);
    assert_eq!(doctor.code, Some(0), "{doctor:?}");
    for key in [
        "ANTHROPIC_API_KEY",
        "GITHUB_TOKEN",
        "GITHUB_REPO",
        "SLACK_WEBHOOK_URL",
    ] {
        let line = doctor
            .stdout
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key} missing: {}", doctor.stdout));
        assert!(line.contains("placeholder"), "{line}");
        assert!(!line.contains("(set)"), "{line}");
    }

    // heal run says which keys hold a placeholder, once each, and never tries the fake webhook.
    p.file("main.py", "print('hello')\n");
    let run = p.run(&["run", "--", "python3", "main.py"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    for key in ["ANTHROPIC_API_KEY", "SLACK_WEBHOOK_URL"] {
        assert_eq!(
            run.stderr.matches(&format!("{key} in ")).count(),
            1,
            "{run:?}"
        );
    }
    assert!(run.stderr.contains("example value"), "{run:?}");
    assert!(
        !run.stderr.to_lowercase().contains("slack failed"),
        "{run:?}"
    );
}

#[test]
fn r15_a_missing_double_dash_is_explained_with_the_line_to_type() {
    let p = Project::new();
    let run = p.run(&["run", "python3", "main.py"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains("put `--` before the program's command")
            && run.stderr.contains("heal run -- python3 main.py"),
        "{run:?}"
    );
    let run = p.run(&["run", "--tag", "client=demo", "python3", "main.py"]);
    assert!(
        run.stderr
            .contains("heal run --tag client=demo -- python3 main.py"),
        "{run:?}"
    );
}

#[test]
fn r15_a_command_that_cannot_start_says_why_once_with_the_advice_that_fits() {
    let p = Project::new();
    let run = p.run(&["run", "--", "pythn3", "main.py"]);
    assert_ne!(run.code, Some(0), "{run:?}");
    assert!(run.stderr.contains("cannot start `pythn3`"), "{run:?}");
    assert!(run.stderr.contains("on PATH"), "{run:?}");
    assert!(
        !run.stderr.contains("os error"),
        "the OS error twice: {run:?}"
    );

    p.file("start.sh", "echo hi\n");
    let run = p.run(&["run", "--", "./start.sh"]);
    assert!(run.stderr.contains("not executable"), "{run:?}");
    assert!(run.stderr.contains("chmod +x ./start.sh"), "{run:?}");
    assert!(!run.stderr.contains("PATH"), "wrong advice: {run:?}");
}

#[test]
fn r15_init_adds_heal_files_to_gitignore_once_and_says_so() {
    let p = Project::new();
    git(p.path(), &["init", "-q", "-b", "main"]);
    // A .gitignore of the user's, already covering .env, without a final newline.
    p.file(".gitignore", "node_modules/\n.env");
    let out = p.run(&["init"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains("added to .gitignore: /storage/"),
        "{out:?}"
    );
    let ignore = std::fs::read_to_string(p.path().join(".gitignore")).unwrap();
    let lines: Vec<&str> = ignore.lines().collect();
    assert_eq!(lines[..2], ["node_modules/", ".env"], "{ignore}");
    assert_eq!(
        lines.iter().filter(|l| l.contains("storage")).count(),
        1,
        "{ignore}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains(".env")).count(),
        1,
        "{ignore}"
    );
    // git agrees: heal's files are ignored.
    std::fs::create_dir_all(p.path().join("storage")).unwrap();
    p.file("storage/heal.db", "");
    p.file(".env", "HEAL_PROVIDER=none\n");
    let status = git(
        p.path(),
        &["status", "--porcelain", "--untracked-files=all"],
    );
    assert!(
        !status.contains(".env\n") && !status.contains("storage/"),
        "{status}"
    );

    // Again (the files moved away so init runs): nothing is added twice.
    std::fs::remove_file(p.path().join("heal.toml")).unwrap();
    std::fs::remove_file(p.path().join(".env.example")).unwrap();
    let again = p.run(&["init"]);
    assert_eq!(again.code, Some(0), "{again:?}");
    assert!(!again.stdout.contains("added to .gitignore"), "{again:?}");
    assert_eq!(
        std::fs::read_to_string(p.path().join(".gitignore")).unwrap(),
        ignore
    );
}

#[test]
fn r15_run_warns_once_when_secrets_or_records_would_be_staged_and_commits_never_hold_them() {
    let mut p = Project::new();
    p.file("app.py", crate::heal::APP);
    git(p.path(), &["init", "-q", "-b", "main"]);
    git(p.path(), &["add", "app.py"]);
    git(p.path(), &["commit", "-q", "-m", "initial"]);
    // Neither .env nor storage/ is ignored: `git add -A` would stage them.
    p.file(
        ".env",
        "HEAL_PROVIDER=none\nSOME_API_TOKEN=tok-0123456789abcdef\n",
    );
    p.env("HEAL_GIT_MODE", "commit");
    p.env("HEAL_VERIFY_RERUN_SECONDS", "5");
    let run = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(
        run.stderr.matches(".env is not in .gitignore").count(),
        1,
        "{run:?}"
    );
    assert_eq!(
        run.stderr.matches("storage/ is not in .gitignore").count(),
        1,
        "{run:?}"
    );
    let r = p.record();
    assert_eq!(r["status"], "committed", "{r:#}");
    // The fix's commit holds the fixed file, never heal's files.
    let files = git(p.path(), &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(files, "app.py", "{files}");

    // Tracked: said as such.
    git(p.path(), &["add", "-f", ".env"]);
    git(p.path(), &["commit", "-q", "-m", "oops"]);
    let run = p.run(&["run", "--", "python3", "app.py"]);
    assert!(run.stderr.contains(".env is tracked by git"), "{run:?}");
}

/// The line of `heal doctor`'s checks that mentions `what`.
fn check_line<'a>(stdout: &'a str, what: &str) -> &'a str {
    stdout
        .lines()
        .skip_while(|l| *l != "checks:")
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no check about {what}: {stdout}"))
}

#[test]
fn r15_doctor_checks_what_heal_needs_each_ok_warning_or_error_with_what_to_do() {
    let mut p = Project::new();
    p.file("app.py", "print('hi')\n");
    let origin = tempfile::tempdir().unwrap();
    crate::support::git::commit_and_push_to(p.path(), origin.path());
    p.env(
        "SLACK_WEBHOOK_URL",
        "https://hooks.slack.com/services/T024BE7LD",
    );
    let run = p.run(&["doctor"]);
    assert_eq!(run.code, Some(1), "an error check exits 1: {run:?}");
    let out = &run.stdout;
    assert!(check_line(out, "python3").starts_with("ok "), "{out}");
    assert!(check_line(out, "python3").contains("CPython 3."), "{out}");
    assert!(check_line(out, "git version").starts_with("ok "), "{out}");
    assert!(
        check_line(out, "git repository").starts_with("ok "),
        "{out}"
    );
    assert!(
        check_line(out, "branch main follows origin/main").starts_with("ok "),
        "{out}"
    );
    assert!(
        check_line(out, "storage folder").starts_with("ok "),
        "{out}"
    );
    let env = check_line(out, ".env is not in .gitignore");
    assert!(
        env.starts_with("warning ") && env.contains("heal init"),
        "{out}"
    );
    let slack = check_line(out, "Slack");
    assert!(
        slack.starts_with("error ") && slack.contains("hooks.slack.com/services/T"),
        "{out}"
    );
    assert!(!out.contains("T024BE7LD"), "the webhook is a secret: {out}");
    let model = check_line(out, "model:");
    assert!(
        model.starts_with("warning ") && model.contains("ANTHROPIC_API_KEY is not set"),
        "{out}"
    );

    // Fixed: a well-formed webhook, heal's files ignored, a branch without upstream.
    p.env(
        "SLACK_WEBHOOK_URL",
        "https://hooks.slack.com/services/T024BE7LD/B01ABCDEF12/AbCdEfGhIjKlMnOp",
    );
    assert_eq!(p.run(&["init"]).code, Some(0));
    git(p.path(), &["switch", "-q", "-c", "topic"]);
    let run = p.run(&["doctor"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let out = &run.stdout;
    assert!(check_line(out, "Slack").starts_with("ok "), "{out}");
    assert!(
        check_line(out, ".env is ignored").starts_with("ok "),
        "{out}"
    );
    assert!(
        check_line(out, "storage/ is ignored").starts_with("ok "),
        "{out}"
    );
    let upstream = check_line(out, "no upstream");
    assert!(
        upstream.starts_with("warning ") && upstream.contains("git push -u origin topic"),
        "{out}"
    );
}

#[test]
fn r15_doctor_asks_the_model_only_when_online_and_says_when_it_does_not_answer() {
    let model = crate::support::openai::FakeOpenAI::start();
    let mut p = Project::new();
    p.env("HEAL_PROVIDER", "openai");
    p.env("OPENAI_BASE_URL", &model.base_url());
    let run = p.run(&["doctor"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        check_line(&run.stdout, "model:").contains("--online"),
        "{run:?}"
    );
    assert!(model.requests().is_empty(), "doctor asked without --online");

    let run = p.run(&["doctor", "--online"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        check_line(&run.stdout, "model:").starts_with("ok "),
        "{run:?}"
    );
    let asked = model.requests();
    assert_eq!(asked.len(), 1, "one request");
    assert_eq!(
        (asked[0].method.as_str(), asked[0].path.as_str()),
        ("GET", "/v1/models")
    );

    let closed = crate::support::peer::closed_addr();
    p.env("OPENAI_BASE_URL", &format!("http://{closed}/v1"));
    let run = p.run(&["doctor", "--online"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let line = check_line(&run.stdout, "model:");
    assert!(
        line.starts_with("error ") && line.contains("did not answer"),
        "{run:?}"
    );
}

#[test]
fn r15_each_event_is_one_line_on_the_terminal_the_detail_is_in_the_record() {
    let mut p = Project::new();
    // The did-you-mean fix fails its proof (a new error in the line it changed), then the
    // program crashes the same way at each restart.
    p.file(
        "main.py",
        "def total(items):\n    count = len(items)\n    return cont + 'items'\n\n\nprint('starting', flush=True)\nprint(total([1, 2, 3]))\n",
    );
    p.env("HEAL_PROVIDER", "none");
    p.env("HEAL_RESTART", "on-failure");
    p.env("HEAL_START_LIMIT_BURST", "2");
    p.env("HEAL_VERIFY_RERUN_SECONDS", "5");
    let run = p.run(&["run", "--", "python3", "main.py"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let heal_lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("heal: "))
        .collect();
    // The proof's detail (its command and output tail) is not on the terminal...
    assert!(!run.stderr.contains("Last output:"), "{run:?}");
    assert!(!run.stderr.contains("Command: python3"), "{run:?}");
    // ...the failure is said once per crash, in the line that ends the incident's healing...
    let failures: Vec<&&str> = heal_lines
        .iter()
        .filter(|l| l.contains("did not pass its proof") || l.contains("already failed its proof"))
        .collect();
    assert_eq!(failures.len(), 2, "{run:?}");
    assert!(failures[0].contains("heal show err_"), "{run:?}");
    // ...and it is whole in the record.
    let r = p.record();
    let reason = r["reason"].as_str().unwrap();
    assert!(reason.contains("TypeError"), "{r:#}");
    let show = p.run(&["show", r["id"].as_str().unwrap()]);
    assert!(show.stdout.contains("TypeError"), "{show:?}");
    // At the start limit, heal says what to do next.
    let stop = heal_lines
        .iter()
        .find(|l| l.contains("stopped restarting"))
        .unwrap();
    assert!(
        stop.contains("heal show err_") && stop.contains("heal retry"),
        "{stop}"
    );
}

/// The systemd unit of `examples/systemd`, as the README shows it, is one systemd accepts:
/// `systemd-analyze verify` where it is installed, a parse check otherwise.
#[test]
fn r15_the_systemd_unit_in_the_readme_is_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(root.join("examples/systemd/heal-myapp.service")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains(&unit),
        "the README's unit differs from examples/systemd"
    );

    // Paths of this machine, and no User= (the example's user does not exist here).
    let project = tempfile::tempdir().unwrap();
    let local: String = unit
        .replace("/usr/local/bin/heal", env!("CARGO_BIN_EXE_heal"))
        .replace("/srv/myapp", project.path().to_str().unwrap())
        .lines()
        .filter(|l| !l.starts_with("User="))
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heal-myapp.service");
    std::fs::write(&path, &local).unwrap();

    let analyze = std::process::Command::new("systemd-analyze")
        .args(["verify", path.to_str().unwrap()])
        .output();
    match analyze {
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "systemd-analyze verify: {stderr}");
            for bad in [
                "Unknown",
                "Invalid",
                "Failed",
                "bad unit file",
                "not executable",
            ] {
                assert!(!stderr.contains(bad), "systemd-analyze verify: {stderr}");
            }
        }
        Err(_) => {
            // No systemd here: every line is a comment, a known section, or Key=Value.
            let mut section = "";
            for line in local
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            {
                if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                    assert!(["Unit", "Service", "Install"].contains(&name), "{line}");
                    section = name;
                    continue;
                }
                let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("{line}"));
                assert!(
                    !section.is_empty() && !key.is_empty() && !value.is_empty(),
                    "{line}"
                );
                if key == "ExecStart" {
                    let program = value.split_whitespace().next().unwrap();
                    assert!(std::path::Path::new(program).is_absolute(), "{line}");
                }
            }
        }
    }
}
