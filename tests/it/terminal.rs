//! Terminal safety: what heal prints about an incident never carries the control characters
//! of a crafted message raw. See: issue 14.

use crate::support::Project;
use crate::support::anthropic::{FakeAnthropic, Reply};

/// A message that would set the terminal's title, clear the screen, print over heal's own
/// line and hide behind a NUL and a right-to-left override.
const APP: &str = r#"raise ValueError("\x1b]0;pwned\x07 \x1b[2J\x1b[H \r overwritten \x00 \u202e gnp.exe \x9b31m")
"#;

fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t') || ('\u{202a}'..='\u{202e}').contains(&c)
        })
        .collect()
}

#[test]
fn r14_control_characters_are_escaped_in_heal_show_list_and_the_log() {
    let mut p = Project::new();
    p.file("app.py", APP);
    p.env("HEAL_PROVIDER", "none");
    let run = p.run(&["run", "--", "python3", "app.py"]);
    // The program's own output is passed through as it is; heal's lines are escaped.
    for line in run.stderr.lines().filter(|l| l.starts_with("heal:")) {
        assert!(
            raw_controls(line).is_empty(),
            "raw control in heal's log: {line:?}"
        );
    }
    let r = p.record();
    let id = r["id"].as_str().unwrap();
    // Detection already drops what a terminal would not show (escape sequences, the text
    // before a `\r`); what is left still holds controls.
    let message = r["error"]["message"].as_str().unwrap();
    assert!(!raw_controls(message).is_empty(), "{r:#}");
    let show = p.run(&["show", id]);
    assert_eq!(show.code, Some(0), "{show:?}");
    assert!(raw_controls(&show.stdout).is_empty(), "{:?}", show.stdout);
    assert!(show.stdout.contains("overwritten \\0"), "{}", show.stdout);
    assert!(show.stdout.contains("\\u{202e}"), "{}", show.stdout);
    let list = p.run(&["list"]);
    assert!(raw_controls(&list.stdout).is_empty(), "{:?}", list.stdout);
}

/// A garbage model answer that carries escape sequences: heal's log line about it, and
/// `heal show`, print them escaped.
#[test]
fn r14_a_hostile_model_answer_is_escaped_in_the_log() {
    let model = FakeAnthropic::start();
    model.respond_always(Reply::raw(
        500,
        "\u{1b}[2J\u{1b}]0;pwned\u{7}\r\u{0} overloaded"
            .as_bytes()
            .to_vec(),
    ));
    let mut p = Project::new();
    p.file("app.py", "raise ValueError('plain')\n");
    p.env("ANTHROPIC_API_KEY", "sk-ant-test");
    p.env("ANTHROPIC_BASE_URL", &model.base_url());
    p.env("HEAL_LLM_RETRY_INITIAL_MS", "1");
    p.env("HEAL_LLM_MAX_RETRIES", "0");
    p.env("HEAL_INSTANT", "false");
    let run = p.run(&["run", "--", "python3", "app.py"]);
    let heal_lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("heal:"))
        .collect();
    for line in &heal_lines {
        assert!(
            raw_controls(line).is_empty(),
            "raw control in heal's log: {line:?}"
        );
    }
    let r = p.record();
    let id = r["id"].as_str().unwrap();
    let show = p.run(&["show", id]);
    assert!(raw_controls(&show.stdout).is_empty(), "{:?}", show.stdout);
    assert!(
        heal_lines.iter().any(|l| l.contains("\\x1b")) || show.stdout.contains("\\x1b"),
        "the answer's escape sequence was not shown escaped anywhere: {heal_lines:#?}\n{}",
        show.stdout
    );
}
