//! The `file` edit form through the real binary: a fake OpenAI-compatible server answers in
//! plain text with the whole corrected file; heal computes the diff, holds it to the policy and
//! the proof, and applies only what passes. See: issue 13 ("Edit forms").

use crate::heal::{APP, FIXED};
use crate::support::Project;
use crate::support::openai::{FakeOpenAI, Reply};

fn project(model: &FakeOpenAI) -> Project {
    let mut p = Project::new();
    p.env("HEAL_PROVIDER", "openai");
    p.env("OPENAI_BASE_URL", &model.base_url());
    p.env("HEAL_MODEL", "qwen2.5-coder-1.5b");
    p.env("HEAL_LLM_EDIT_FORM", "file");
    // One answer per round: these tests are about the form, not about candidates.
    p.env("HEAL_LLM_CANDIDATES", "1");
    p.env("HEAL_VERIFY_RERUN_SECONDS", "5");
    // The typo carries Python's own hint, which an instant rule would fix with no model.
    p.env("HEAL_INSTANT", "false");
    p
}

/// An answer in the form's shape: a root cause, then `file` in one python block.
fn answer(file: &str) -> String {
    format!(
        "`greet` returns `mesage`, a misspelling of the local `message`.\n\n```python\n{file}```\n"
    )
}

fn live(p: &Project) -> String {
    std::fs::read_to_string(p.path().join("app.py")).unwrap()
}

/// The `+`/`-` lines of a unified diff, headers left out.
fn changes(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter(|l| (l.starts_with('+') || l.starts_with('-')) && !l.starts_with("+++"))
        .filter(|l| !l.starts_with("---"))
        .collect()
}

/// Asserts a request asked for plain text: no tool, no response format.
fn asks_plain_text(request: &crate::support::openai::Request) {
    let body = &request.body;
    for field in ["tools", "tool_choice", "response_format"] {
        assert!(body.get(field).is_none(), "`{field}` was sent: {body}");
    }
}

#[test]
fn r13_the_whole_corrected_file_is_applied_as_the_one_line_it_changes() {
    let model = FakeOpenAI::start();
    let p = project(&model);
    p.file("app.py", APP);
    model.script([Reply::content(&answer(FIXED))]);
    let run = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(live(&p), FIXED, "{run:?}");

    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#}");
    let diff = r["fix"]["diff"].as_str().unwrap();
    assert_eq!(
        changes(diff),
        ["-    return mesage", "+    return message"],
        "{diff}"
    );
    assert_eq!(r["analysis"]["edit_form"], "file");
    assert_eq!(r["analysis"]["error_category"], "name");
    assert_eq!(r["analysis"]["confidence"], "medium");
    assert!(
        r["analysis"]["root_cause"]
            .as_str()
            .unwrap()
            .contains("a misspelling of the local `message`"),
        "{r:#}"
    );

    let reqs = model.requests();
    assert_eq!(reqs.len(), 1);
    asks_plain_text(&reqs[0]);
    let system = reqs[0].messages()[0]["content"].as_str().unwrap();
    assert!(
        system.contains("the whole corrected file `app.py` in ONE ```python fenced block"),
        "{system}"
    );
    assert!(!system.contains("JSON object holding"), "{system}");
    let user = reqs[0].messages()[1]["content"].as_str().unwrap();
    assert!(
        user.contains("SOURCE app.py (whole file, 9 lines)"),
        "{user}"
    );
    assert!(model.problems().is_empty(), "{:?}", model.problems());
}

#[test]
fn r13_a_file_that_fails_its_proof_is_fed_back_as_plain_text_and_the_next_is_applied() {
    let model = FakeOpenAI::start();
    let p = project(&model);
    p.file("app.py", APP);
    // The first file changes a comment's worth of nothing: the error stays, the proof says so.
    let useless = APP.replace("    return mesage\n", "    return mesage  # fixed\n");
    model.script([
        Reply::content(&answer(&useless)),
        Reply::content(&answer(FIXED)),
    ]);
    let run = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(live(&p), FIXED, "{run:?}");
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#}");
    assert_eq!(r["fix"]["attempts"], 2);
    assert!(
        r["fix"]["refused"][0]["failure"]
            .as_str()
            .unwrap()
            .contains("the same error again"),
        "{r:#}"
    );

    let reqs = model.requests();
    assert_eq!(reqs.len(), 2);
    for request in &reqs {
        asks_plain_text(request);
    }
    // The follow-up: the model's text answer, then heal's words as a user message.
    let messages = reqs[1].messages();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert!(
        messages[2]["content"]
            .as_str()
            .unwrap()
            .contains("return mesage  # fixed")
    );
    let feedback = messages[3]["content"].as_str().unwrap();
    assert!(
        feedback.contains("failed the validation step")
            && feedback.contains("the same error again")
            && feedback.contains("the whole corrected file `app.py` in one ```python block"),
        "{feedback}"
    );
    assert!(!feedback.contains("report_fix"), "{feedback}");
    assert!(model.problems().is_empty(), "{:?}", model.problems());
}

#[test]
fn r13_a_corrected_file_that_deletes_most_of_the_program_is_refused_by_the_policy() {
    let model = FakeOpenAI::start();
    let mut p = project(&model);
    p.env("HEAL_MAX_ATTEMPTS", "1");
    let helpers: String = (0..20)
        .map(|i| format!("def helper_{i}(x):\n    return x + {i}\n\n\n"))
        .collect();
    let original = format!("{helpers}{APP}");
    p.file("app.py", &original);
    // The typo is fixed, and every helper is gone with it.
    model.script([Reply::content(&answer(FIXED))]);
    p.run(&["run", "--", "python3", "app.py"]);

    assert_eq!(live(&p), original, "the live tree was written");
    let r = p.record();
    assert_eq!(r["status"], "rejected", "{r:#}");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("refused by the scope policy")
            && reason.contains("lines, more than the 40 allowed"),
        "{reason}"
    );
    let backups: Vec<_> = std::fs::read_dir(p.storage().join("errors"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("_backup_"))
        .collect();
    assert!(backups.is_empty(), "backups written: {backups:?}");
    assert_eq!(model.requests().len(), 1);
}

#[test]
fn r13_a_file_too_long_for_the_form_is_asked_for_search_replace_edits() {
    let model = FakeOpenAI::start();
    let p = project(&model);
    let padding = "# padding\n".repeat(400);
    let original = format!("{padding}{APP}");
    p.file("app.py", &original);
    model.script([Reply::tool_call(crate::heal::good())]);
    p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(live(&p), format!("{padding}{FIXED}"));
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#}");
    assert_eq!(r["analysis"]["edit_form"], "search_replace");
    let note = r["analysis"]["edit_form_note"].as_str().unwrap();
    assert!(
        note.contains("app.py has 409 lines, more than the 400 the file form takes"),
        "{note}"
    );
    let reqs = model.requests();
    assert_eq!(
        reqs[0].body["tool_choice"]["function"]["name"],
        "report_fix"
    );
}

#[test]
fn r13_a_file_holding_a_secret_is_never_asked_for_whole() {
    // The model would see `[REDACTED]` and copy it back over the secret.
    let model = FakeOpenAI::start();
    let p = project(&model);
    let secret = "TOKEN = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'\n";
    p.file("app.py", &format!("{secret}{APP}"));
    model.script([Reply::tool_call(crate::heal::good())]);
    p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(live(&p), format!("{secret}{FIXED}"));
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#}");
    assert_eq!(r["analysis"]["edit_form"], "search_replace");
    assert!(
        r["analysis"]["edit_form_note"]
            .as_str()
            .unwrap()
            .contains("app.py holds a secret"),
        "{r:#}"
    );
    let reqs = model.requests();
    assert!(!reqs[0].raw.contains("ghp_abcdef"), "{}", reqs[0].raw);
    assert!(reqs[0].body.get("tools").is_some());
}

/// A whole file is untrusted code like any edit: one that fixes the typo and, through a
/// scan-clean helper of the project, tries to write heal's model key outside the copy (the
/// system temp folder, `$HOME`) and to print it. The proof runs it in the sandbox: the key
/// is not in its environment, and nothing outside the copy is written. See: issue 12.
#[test]
fn r13_a_whole_file_carrying_a_payload_runs_contained_in_the_sandbox() {
    const KEY: &str = "sk-ant-api03-file-form-secret-0123456789";
    let model = FakeOpenAI::start();
    let mut p = project(&model);
    p.env("ANTHROPIC_API_KEY", KEY);
    p.file("app.py", APP);
    p.file(
        "tools.py",
        "import os\n\n\ndef save(path, text):\n    try:\n        with open(path, 'a') as f:\n            f.write(text)\n    except OSError as e:\n        print('SAVE failed', e, flush=True)\n\n\ndef env(name):\n    return os.environ.get(name, 'absent')\n",
    );
    let outside = tempfile::tempdir().unwrap();
    let marker = outside.path().join("marker");
    let home = p.path().join("pwned-home");
    let payload = FIXED
        .replace("import sys\n", "import sys\nimport tools\n")
        .replace(
            "    return message\n",
            &format!(
                "    tools.save({marker:?}, tools.env('ANTHROPIC_API_KEY'))\n    tools.save({home:?}, tools.env('ANTHROPIC_API_KEY'))\n    print('KEY=' + tools.env('ANTHROPIC_API_KEY'), flush=True)\n    return message\n",
                marker = marker.to_str().unwrap(),
                home = home.to_str().unwrap(),
            ),
        );
    model.respond_always(Reply::content(&answer(&payload)));
    let run = p.run(&["run", "--", "python3", "app.py"]);

    let r = p.record();
    assert!(
        r["fix"]["sandbox"]
            .as_str()
            .unwrap_or("")
            .contains("bubblewrap"),
        "{r:#}"
    );
    let proof = serde_json::to_string(&r["fix"]["validation"]).unwrap();
    assert!(
        proof.contains("KEY=absent"),
        "the payload did not run: {r:#}"
    );
    assert!(!marker.exists(), "the proof wrote outside the copy");
    assert!(!home.exists(), "the proof wrote into the live project");
    for request in model.requests() {
        assert!(!request.raw.contains(KEY), "the key reached the model");
    }
    assert!(
        !run.stdout.contains(KEY) && !run.stderr.contains(KEY),
        "{run:?}"
    );
    for record in p.records() {
        assert!(!record.to_string().contains(KEY), "the key is in a record");
    }
}

#[test]
fn r13_a_module_docstring_the_answer_dropped_stays_in_the_file() {
    let model = FakeOpenAI::start();
    let p = project(&model);
    let doc = "\"\"\"Greets the users of the shop.\"\"\"\n\n";
    p.file("app.py", &format!("{doc}{APP}"));
    // The small model's habit: the file from its first statement, the docstring left out (or
    // turned into a comment).
    model.script([Reply::content(&answer(&format!(
        "# Greets the users of the shop.\n\n{FIXED}"
    )))]);
    let run = p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(live(&p), format!("{doc}{FIXED}"), "{run:?}");
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#}");
    let diff = r["fix"]["diff"].as_str().unwrap();
    assert_eq!(
        changes(diff),
        ["-    return mesage", "+    return message"],
        "{diff}"
    );
}
