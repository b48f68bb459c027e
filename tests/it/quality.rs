//! What makes a model's fix right, not just quiet: errors that are not code bugs are triaged
//! before any model; fixes that hide the error are refused. The real binary, real python3, a
//! fake model. See: issue 13.

use serde_json::{Value, json};

use crate::support::Project;
use crate::support::anthropic::{FakeAnthropic, Reply};

fn project(model: &FakeAnthropic) -> Project {
    let mut p = Project::new();
    p.env("ANTHROPIC_API_KEY", "sk-ant-api03-test-key-0123456789");
    p.env("ANTHROPIC_BASE_URL", &model.base_url());
    p.env("HEAL_LLM_RETRY_INITIAL_MS", "10");
    p.env("HEAL_VERIFY_RERUN_SECONDS", "5");
    p.env("HEAL_INSTANT", "false");
    p
}

fn answer(edits: &[(&str, &str, &str)]) -> Value {
    json!({
        "fixable": true,
        "reason": "a bug",
        "error_category": "logic",
        "root_cause": "see the edits",
        "affected_file": "app.py",
        "confidence": "high",
        "explanation": "see the edits",
        "changes_summary": "see the edits",
        "edits": edits.iter().map(|(f, s, r)| json!({"file": f, "search": s, "replace": r})).collect::<Vec<_>>(),
    })
}

const NEEDS_TOKEN: &str = "\
import os


def client():
    \"\"\"The ads client. ADS_API_TOKEN must be set: never default it.\"\"\"
    token = os.environ[\"ADS_API_TOKEN\"]
    return {\"token\": token}


print(client(), flush=True)
";

#[test]
fn r13_a_missing_environment_variable_is_triaged_with_no_model_call() {
    let model = FakeAnthropic::start();
    let p = project(&model);
    p.file("app.py", NEEDS_TOKEN);
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "skipped", "{r:#}");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("not a code bug (missing-env)")
            && reason.contains("ADS_API_TOKEN is not set: set it in the program's environment"),
        "{reason}"
    );
    assert!(model.requests().is_empty(), "a model was asked");
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        NEEDS_TOKEN
    );
}

#[test]
fn r13_a_models_default_for_a_required_setting_is_refused() {
    let model = FakeAnthropic::start();
    let mut p = project(&model);
    // Sent for a fix on purpose: the policy still refuses the default.
    p.env("HEAL_TRIAGE_FORCE", "missing-env");
    p.file("app.py", NEEDS_TOKEN);
    model.respond_always(Reply::tool_use(answer(&[(
        "app.py",
        "    token = os.environ[\"ADS_API_TOKEN\"]\n",
        "    token = os.environ.get('ADS_API_TOKEN', 'default_token')\n",
    )])));
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "rejected", "{r:#}");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("gives the required setting ADS_API_TOKEN a default"),
        "{reason}"
    );
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        NEEDS_TOKEN
    );
}

const SHARE: &str = "\
def share(total, clients):
    return total / clients


print(share(100.0, 0), flush=True)
";

#[test]
fn r13_error_swallowing_is_refused_and_a_guard_with_a_promised_default_is_not() {
    let model = FakeAnthropic::start();
    let p = project(&model);
    p.file("app.py", SHARE);
    model.respond_always(Reply::tool_use(answer(&[(
        "app.py",
        "    return total / clients\n",
        "    try:\n        return total / clients\n    except ZeroDivisionError:\n        pass\n",
    )])));
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "rejected", "{r:#}");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("hides the error in app.py instead of fixing it"),
        "{r:#}"
    );
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        SHARE
    );

    // The near miss: the docstring says what an empty share is.
    let model = FakeAnthropic::start();
    let p = project(&model);
    let promised = SHARE.replace(
        "def share(total, clients):\n",
        "def share(total, clients):\n    \"\"\"Each client's share; 0 when there are no clients.\"\"\"\n",
    );
    p.file("app.py", &promised);
    model.respond_always(Reply::tool_use(answer(&[(
        "app.py",
        "    return total / clients\n",
        "    try:\n        return total / clients\n    except ZeroDivisionError:\n        return 0\n",
    )])));
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#}");
}

const REPORT: &str = "\
def send(row):
    return row[\"email\"].lower()


def report(rows):
    sent = 0
    for row in rows:
        send(row)
        sent += 1
    return sent


print(report([{\"email\": \"A@x\"}, {\"name\": \"b\"}]), flush=True)
";

/// The failing call deleted (the crash goes away, nothing is sent) is refused; the near miss,
/// the call kept behind a guard, is not.
#[test]
fn r13_a_fix_that_deletes_the_failing_call_is_refused() {
    let model = FakeAnthropic::start();
    let p = project(&model);
    p.file("app.py", REPORT);
    model.respond_always(Reply::tool_use(answer(&[(
        "app.py",
        "        send(row)\n",
        "",
    )])));
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "rejected", "{r:#}");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("deletes line 8 of the traceback (`send(row)`)"),
        "{reason}"
    );
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        REPORT
    );

    let model = FakeAnthropic::start();
    let p = project(&model);
    p.file("app.py", REPORT);
    model.respond_always(Reply::tool_use(answer(&[(
        "app.py",
        "        send(row)\n        sent += 1\n",
        "        if \"email\" in row:\n            send(row)\n            sent += 1\n",
    )])));
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#}");
}

/// The customer lookup compares emails case-sensitively, so a signed-in `Ana@Example.com`
/// finds no one and `.name` is read on None.
const GREET: &str = "class Customer:\n    def __init__(self, name, email):\n        self.name = name\n        self.email = email\n\n\nCUSTOMERS = [Customer('Ana', 'ana@example.com')]\n\n\ndef find_customer(email):\n    for c in CUSTOMERS:\n        if c.email == email:\n            return c\n\n\ndef greeting(email):\n    return 'Hello ' + find_customer(email).name\n\n\nprint(greeting('Ana@Example.com'))\n";

#[test]
fn r13_a_guard_against_the_none_is_refused_and_the_fix_at_its_source_applied() {
    let model = FakeAnthropic::start();
    let p = project(&model);
    p.file("app.py", GREET);
    model.respond_always(Reply::tool_use(answer(&[(
        "app.py",
        "    return 'Hello ' + find_customer(email).name\n",
        "    customer = find_customer(email)\n    if customer is None:\n        return 'Hello'\n    return 'Hello ' + customer.name\n",
    )])));
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "rejected", "{r:#}");
    let reason = r["reason"].as_str().unwrap();
    assert!(reason.contains("leaves when a value is None"), "{reason}");
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        GREET
    );

    let model = FakeAnthropic::start();
    let p = project(&model);
    p.file("app.py", GREET);
    model.respond_always(Reply::tool_use(answer(&[(
        "app.py",
        "        if c.email == email:\n",
        "        if c.email.lower() == email.lower():\n",
    )])));
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#}");
}

#[test]
fn r13_a_second_candidate_passes_where_the_first_failed() {
    let model = FakeAnthropic::start();
    let mut p = project(&model);
    p.env("HEAL_LLM_CANDIDATES", "3");
    p.env("HEAL_MAX_ATTEMPTS", "1");
    p.file("app.py", SHARE);
    // The first candidate changes nothing that matters; two more are asked at once: both
    // pass, the smaller is applied.
    let useless = answer(&[(
        "app.py",
        "    return total / clients\n",
        "    return total / clients  # checked\n",
    )]);
    let guard = answer(&[(
        "app.py",
        "    return total / clients\n",
        "    if clients == 0:\n        return 0.0\n    return total / clients\n",
    )]);
    let bigger = answer(&[(
        "app.py",
        "    return total / clients\n",
        "    if clients == 0:\n        # no clients, no share\n        return 0.0\n    return total / clients\n",
    )]);
    model.script([
        Reply::tool_use(useless),
        Reply::tool_use(bigger),
        Reply::tool_use(guard),
    ]);
    let run = p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#} {run:?}");
    let live = std::fs::read_to_string(p.path().join("app.py")).unwrap();
    assert!(
        live.contains("    if clients == 0:\n        return 0.0\n"),
        "{live}"
    );
    assert!(!live.contains("no clients, no share"), "{live}");
    // Every candidate is in the record, with why it passed or failed.
    let round = &r["fix"]["candidates"][0];
    assert_eq!(round["tried"].as_array().unwrap().len(), 2, "{r:#}");
    assert_eq!(round["chosen"], 3);
    assert!(
        r["fix"]["refused"][0]["failure"]
            .as_str()
            .unwrap()
            .contains("the same error again")
    );
    // Three requests, each one call; the extra ones fresh and at a higher temperature.
    let reqs = model.requests();
    assert_eq!(reqs.len(), 3);
    for extra in &reqs[1..] {
        assert_eq!(extra.messages().len(), 1, "{}", extra.raw);
        assert_eq!(extra.body["temperature"], json!(0.8));
    }
    assert_eq!(r["llm"]["calls"].as_array().unwrap().len(), 3);
}

/// The record names the applied candidate by its number among all tried, also when one
/// before it failed.
#[test]
fn r13_the_record_names_the_applied_candidate_after_one_that_failed() {
    let model = FakeAnthropic::start();
    let mut p = project(&model);
    p.env("HEAL_LLM_CANDIDATES", "3");
    p.env("HEAL_MAX_ATTEMPTS", "1");
    p.file("app.py", SHARE);
    let useless = |note: &str| {
        answer(&[(
            "app.py",
            "    return total / clients\n",
            &format!("    return total / clients  # {note}\n"),
        )])
    };
    let guard = answer(&[(
        "app.py",
        "    return total / clients\n",
        "    if clients == 0:\n        return 0.0\n    return total / clients\n",
    )]);
    model.script([
        Reply::tool_use(useless("checked")),
        Reply::tool_use(useless("checked twice")),
        Reply::tool_use(guard),
    ]);
    let run = p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#} {run:?}");
    let round = &r["fix"]["candidates"][0];
    assert_eq!(round["tried"][0]["candidate"], 2);
    assert_eq!(round["tried"][0]["passed"], false, "{round:#}");
    assert_eq!(round["tried"][1]["candidate"], 3);
    assert_eq!(round["chosen"], 3, "{round:#}");
}

#[test]
fn r13_the_function_edit_form_takes_a_def_line_and_a_whole_function() {
    let model = FakeAnthropic::start();
    let mut p = project(&model);
    p.env("HEAL_LLM_EDIT_FORM", "function");
    p.env("HEAL_MAX_ATTEMPTS", "2");
    p.file("app.py", SHARE);
    // First a changed signature (refused: the error is not about arguments), then the same
    // function with its signature kept, written without the file's indentation.
    let resigned = answer(&[(
        "app.py",
        "def share(total, clients):",
        "def share(total, clients=1):\n    return total / clients\n",
    )]);
    let kept = answer(&[(
        "app.py",
        "def share(total, clients):",
        "def share(total, clients):\n    if clients == 0:\n        return 0.0\n    return total / clients",
    )]);
    model.script([Reply::tool_use(resigned), Reply::tool_use(kept)]);
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#}");
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        SHARE.replace(
            "    return total / clients\n",
            "    if clients == 0:\n        return 0.0\n    return total / clients\n"
        )
    );
    let reqs = model.requests();
    assert!(
        reqs[0].raw.contains("Change whole functions"),
        "{}",
        reqs[0].raw
    );
    assert!(
        reqs[1].raw.contains("changes the signature of `share`"),
        "{}",
        reqs[1].raw
    );
}

#[test]
fn r13_the_prompt_names_the_value_that_broke_the_function() {
    let model = FakeAnthropic::start();
    let p = project(&model);
    p.file(
        "app.py",
        "def cost_per_click(spend, clicks):\n    return spend / clicks\n\n\nfor spend, clicks in [(10.0, 4), (5.0, 0)]:\n    print(cost_per_click(spend, clicks), flush=True)\n",
    );
    model.respond_always(Reply::tool_use(json!({
        "fixable": false, "reason": "just looking", "error_category": "logic",
        "root_cause": "n/a", "affected_file": "app.py", "confidence": "high",
        "explanation": "n/a", "changes_summary": "n/a", "edits": []
    })));
    p.run(&["run", "--", "python3", "app.py"]);
    let reqs = model.requests();
    let prompt = reqs[0].prompt();
    assert!(
        prompt.contains("cost_per_click(5.0, 0) raised ZeroDivisionError")
            && prompt.contains("cost_per_click(10.0, 4) returned 2.5"),
        "{prompt}"
    );
}

/// `parse_line` forgot its `return`; a small model's answer nested `order_total`'s body in a
/// copy of itself, so `order_total` returns None and the crash moves to its caller, which a
/// chain of fixes would take for progress.
const ORDERS: &str = "def parse_line(line):\n    sku, qty = line.split(';')\n    item = {'sku': sku, 'qty': int(qty)}\n\n\ndef order_total(lines):\n    return sum(i['qty'] for i in map(parse_line, lines))\n\n\ndef main():\n    print('total: %d' % order_total(['a;2', 'b;3']))\n\n\nmain()\n";

#[test]
fn r13_a_fix_that_leaves_a_function_without_its_return_is_refused() {
    let model = FakeAnthropic::start();
    let p = project(&model);
    p.file("app.py", ORDERS);
    model.respond_always(Reply::tool_use(answer(&[(
        "app.py",
        "    return sum(i['qty'] for i in map(parse_line, lines))\n",
        "    def order_total(lines):\n        return sum(i['qty'] for i in map(parse_line, lines) if i)\n",
    )])));
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "rejected", "{r:#}");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("without the `return` of a value it had"),
        "{reason}"
    );
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        ORDERS
    );
}

const BASE36: &str = "\
DIGITS = \"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\"


def to_base36(n):
    \"\"\"n >= 0 in base 36, no leading zeros: 0 -> '0', 7 -> '7', 36 -> '10'.\"\"\"
    return to_base36(n // 36) + DIGITS[n % 36]


print(to_base36(123456), flush=True)
";

/// A program that never got past its error gives the behaviour step nothing to compare: the
/// docstring's examples do. A base case that makes 7 into '07' fails them, and the model is
/// told so in the proof's words; its next fix holds and is applied.
#[test]
fn r13_a_fix_that_breaks_the_docstrings_examples_is_refused_with_the_example() {
    let model = FakeAnthropic::start();
    let mut p = project(&model);
    p.env("HEAL_MAX_ATTEMPTS", "2");
    p.file("app.py", BASE36);
    let leading_zero = answer(&[(
        "app.py",
        "    return to_base36(n // 36)",
        "    if n == 0:\n        return '0'\n    return to_base36(n // 36)",
    )]);
    let right = answer(&[(
        "app.py",
        "    return to_base36(n // 36)",
        "    if n < 36:\n        return DIGITS[n]\n    return to_base36(n // 36)",
    )]);
    model.script([Reply::tool_use(leading_zero), Reply::tool_use(right)]);
    let run = p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#} {run:?}");
    let live = std::fs::read_to_string(p.path().join("app.py")).unwrap();
    assert!(live.contains("if n < 36:"), "{live}");
    // The first fix passed the re-run (it prints 2N9C) and failed on the docstring.
    let failure = r["fix"]["refused"][0]["failure"].as_str().unwrap();
    assert!(
        failure.contains("The examples step failed: to_base36(7) returns '07' with the fix")
            && failure.contains("says '7'")
            && failure.contains("before the fix it raised RecursionError"),
        "{failure}"
    );
    let reqs = model.requests();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs[1]
            .raw
            .contains("to_base36(7) returns '07' with the fix"),
        "the feedback did not carry the example: {}",
        reqs[1].raw
    );
    // The applied fix's proof names the step that held.
    let steps = r["fix"]["validation"].as_array().unwrap();
    let examples = steps.iter().find(|s| s["step"] == "examples").unwrap();
    assert_eq!(examples["passed"], true, "{examples:#}");
    assert!(
        examples["detail"]
            .as_str()
            .unwrap()
            .starts_with("3 of 3 docstring example(s) of the edited files hold"),
        "{examples:#}"
    );
}

/// The bench's recursion_self_parent, as it was.
const BREADCRUMBS: &str = "\
\"\"\"Breadcrumbs of the shop's categories.\"\"\"

# Each category's parent. The root category is its own parent.
PARENT = {\"root\": \"root\", \"shoes\": \"root\", \"running\": \"shoes\", \"trail\": \"running\", \"bags\": \"root\"}


def breadcrumb(category):
    \"\"\"'root > shoes > running' for 'running'; 'root' for the root.\"\"\"
    return breadcrumb(PARENT[category]) + \" > \" + category


def main():
    for category in [\"trail\", \"bags\"]:
        print(breadcrumb(category))


if __name__ == \"__main__\":
    main()
";

/// The small model's answer to it: a base case that gives the root "" makes every breadcrumb
/// start with " > ". Nothing ran before the fix to compare with; the docstring's "'X' for 'Y'"
/// example refuses it, and the base case that gives the root its own name is applied.
#[test]
fn r13_a_base_case_against_the_docstrings_for_example_is_refused() {
    let model = FakeAnthropic::start();
    let mut p = project(&model);
    p.env("HEAL_MAX_ATTEMPTS", "2");
    p.file("main.py", BREADCRUMBS);
    let search = "    return breadcrumb(PARENT[category]) + \" > \" + category";
    let empty_root = answer(&[(
        "main.py",
        search,
        "    if category == PARENT[category]:\n        return \"\"\n    else:\n        return breadcrumb(PARENT[category]) + \" > \" + category",
    )]);
    let named_root = answer(&[(
        "main.py",
        search,
        "    if PARENT[category] == category:\n        return category\n    return breadcrumb(PARENT[category]) + \" > \" + category",
    )]);
    model.script([Reply::tool_use(empty_root), Reply::tool_use(named_root)]);
    let run = p.run(&["run", "--", "python3", "main.py"]);
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#} {run:?}");
    let live = std::fs::read_to_string(p.path().join("main.py")).unwrap();
    assert!(live.contains("        return category\n"), "{live}");
    // The unchanged program showed its RecursionError in the sandbox (the probe once raised
    // it in its own frame, and the proof took the error as not reproduced).
    let baseline = &r["fix"]["baseline"];
    assert_eq!(baseline["reproduced"], 2, "{baseline:#}");
    let failure = r["fix"]["refused"][0]["failure"].as_str().unwrap();
    assert!(
        failure.contains("breadcrumb('running') returns ' > shoes > running' with the fix")
            && failure.contains("says 'root > shoes > running'"),
        "{failure}"
    );
}

/// A CPython older than 3.11 from pyenv, where the probe still re-raises a RecursionError at
/// the limit from its own frames; `None` on a machine without one.
fn python_before_3_11() -> Option<std::path::PathBuf> {
    let root = std::env::var_os("PYENV_ROOT")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".pyenv")))?;
    let mut found: Vec<_> = std::fs::read_dir(root.join("versions"))
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            ["3.8.", "3.9.", "3.10."]
                .iter()
                .any(|v| name.starts_with(v))
        })
        .map(|e| e.path().join("bin/python3"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop()
}

/// Before Python 3.11 the probe re-raises the program's RecursionError from its own frames;
/// the proof takes those frames off and places the error in the program's function, so the
/// baseline reproduces the incident there too (it did not: the proof was weaker on 3.8-3.10).
#[test]
fn r13_a_recursion_error_raised_through_the_probe_is_reproduced_before_python_3_11() {
    let Some(python) = python_before_3_11() else {
        eprintln!("no CPython 3.8-3.10 under pyenv here: the 3.11+ path is tested above");
        return;
    };
    let model = FakeAnthropic::start();
    let p = project(&model);
    p.file("main.py", BREADCRUMBS);
    let named_root = answer(&[(
        "main.py",
        "    return breadcrumb(PARENT[category]) + \" > \" + category",
        "    if PARENT[category] == category:\n        return category\n    return breadcrumb(PARENT[category]) + \" > \" + category",
    )]);
    model.script([Reply::tool_use(named_root)]);
    let python = python.to_string_lossy().to_string();
    let run = p.run(&["run", "--", &python, "main.py"]);
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#} {run:?}");
    let baseline = &r["fix"]["baseline"];
    assert_eq!(baseline["reproduced"], 2, "{python}: {baseline:#}");
    assert!(baseline["note"].is_null(), "{python}: {baseline:#}");
}

/// A misspelt import of a name the program uses (pkg_import_name_typo in the bench).
const IMPORTS_A_TYPO: &str = "\
from fmt import format_ammount


def report(x):
    return format_ammount(x)


print(report(3), flush=True)
";

/// Deleting the failing import makes the ImportError go away and a NameError appear in a
/// function the fix did not touch: that is the fix's own error, not the program getting
/// further, and the model is told so. The bench's small model was seen to do this.
#[test]
fn r13_a_deleted_import_whose_name_error_follows_fails_the_fix_not_a_chain_link() {
    let model = FakeAnthropic::start();
    let mut p = project(&model);
    p.env("HEAL_MAX_ATTEMPTS", "2");
    p.file(
        "fmt.py",
        "def format_amount(x):\n    return f'{x:.2f} EUR'\n",
    );
    p.file("app.py", IMPORTS_A_TYPO);
    model.script([
        Reply::tool_use(answer(&[(
            "app.py",
            "from fmt import format_ammount\n",
            "",
        )])),
        Reply::tool_use(answer(&[(
            "app.py",
            "from fmt import format_ammount\n",
            "from fmt import format_amount as format_ammount\n",
        )])),
    ]);
    let run = p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#} {run:?}");
    let reqs = model.requests();
    assert_eq!(reqs.len(), 2, "{r:#}");
    assert!(
        reqs[1]
            .raw
            .contains("naming `format_ammount`, which the fix deleted from app.py"),
        "{}",
        reqs[1].raw
    );
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        IMPORTS_A_TYPO.replace(
            "from fmt import format_ammount\n",
            "from fmt import format_amount as format_ammount\n"
        )
    );
    // One incident, healed in place: no chain link opened for the NameError.
    assert!(
        r["result"].get("chain").is_none_or(|c| c.is_null()),
        "{r:#}"
    );
}

/// A float concatenated to a str; the docstring shows the line's form by example
/// (str_concat_float in the bench).
const DAILY: &str = "\
AMOUNTS = {\"avego\": [120.5, 80.25, 42.25], \"northwind\": [19.9, 0.1]}


def daily_report(client, amounts):
    \"\"\"'<client>: Total: <sum with two decimals> EUR', e.g. 'avego: Total: 243.00 EUR'.\"\"\"
    total = sum(amounts)
    line = \"Total: \" + total + \" EUR\"
    return f\"{client}: {line}\"


for client, amounts in AMOUNTS.items():
    print(daily_report(client, amounts), flush=True)
";

/// `str(total)` makes the crash go away and prints `243.0`, where the docstring's example
/// shows two decimals: refused with the value and the form; the formatted total is applied.
#[test]
fn r13_a_value_off_the_form_its_docstring_shows_is_refused() {
    let model = FakeAnthropic::start();
    let mut p = project(&model);
    p.env("HEAL_MAX_ATTEMPTS", "2");
    p.file("app.py", DAILY);
    let bare = answer(&[(
        "app.py",
        "    line = \"Total: \" + total + \" EUR\"\n",
        "    line = \"Total: \" + str(total) + \" EUR\"\n",
    )]);
    let formatted = answer(&[(
        "app.py",
        "    line = \"Total: \" + total + \" EUR\"\n",
        "    line = f\"Total: {total:.2f} EUR\"\n",
    )]);
    model.script([Reply::tool_use(bare), Reply::tool_use(formatted)]);
    let run = p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "applied", "{r:#} {run:?}");
    let live = std::fs::read_to_string(p.path().join("app.py")).unwrap();
    assert!(live.contains("{total:.2f}"), "{live}");
    let failure = r["fix"]["refused"][0]["failure"].as_str().unwrap();
    assert!(
        failure.contains("returns 'avego: Total: 243.0 EUR' with the fix")
            && failure.contains("shows its form as 'avego: Total: 243.00 EUR'")
            && failure.contains("2 decimals"),
        "{failure}"
    );
    let reqs = model.requests();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs[1]
            .raw
            .contains("returns 'avego: Total: 243.0 EUR' with the fix"),
        "the feedback did not carry the form: {}",
        reqs[1].raw
    );
    let steps = r["fix"]["validation"].as_array().unwrap();
    let examples = steps.iter().find(|s| s["step"] == "examples").unwrap();
    assert_eq!(examples["passed"], true, "{examples:#}");
    assert!(
        examples["detail"]
            .as_str()
            .unwrap()
            .contains("have the form their docstrings show"),
        "{examples:#}"
    );
}

/// The examples step runs the fixed function itself, outside the program's own path: a fix
/// whose function, for the docstring's argument 7 only (the program never passes it), tries to
/// read the live project's `.env`, to write outside the copy and into the live project, and
/// to return what it read, runs contained. It runs (its answer is in the proof), reads no
/// secret, writes nothing, and no secret reaches a record or the model.
#[test]
fn r13_a_payload_the_examples_step_runs_is_contained_in_the_sandbox() {
    const KEY: &str = "sk-ant-api03-examples-secret-0123456789";
    const DB: &str = "pg-live-password-examples-0123456789";
    let model = FakeAnthropic::start();
    let mut p = project(&model);
    p.env("ANTHROPIC_API_KEY", KEY);
    p.file(".env", &format!("SHOP_DB_PASSWORD={DB}\n"));
    p.file("app.py", BASE36);
    p.file(
        "tools.py",
        "import os\n\n\ndef save(path, text):\n    try:\n        with open(path, 'a') as f:\n            f.write(text)\n    except OSError as e:\n        return str(e)\n\n\ndef read(path):\n    try:\n        with open(path) as f:\n            return 'READ ' + f.read()\n    except OSError as e:\n        return 'unreadable ' + type(e).__name__\n\n\ndef env(name):\n    return os.environ.get(name, 'absent')\n",
    );
    let outside = tempfile::tempdir().unwrap();
    let marker = outside.path().join("marker");
    let live_env = p.path().join(".env");
    let live_drop = p.path().join("pwned");
    let payload = answer(&[
        ("app.py", "DIGITS = ", "import tools\nDIGITS = "),
        (
            "app.py",
            "    return to_base36(n // 36)",
            &format!(
                "    if n == 7:\n        tools.save({marker:?}, tools.env('ANTHROPIC_API_KEY'))\n        tools.save({drop:?}, 'x')\n        return tools.read({live:?}) + ' KEY=' + tools.env('ANTHROPIC_API_KEY')\n    if n < 36:\n        return DIGITS[n]\n    return to_base36(n // 36)",
                marker = marker.to_str().unwrap(),
                drop = live_drop.to_str().unwrap(),
                live = live_env.to_str().unwrap(),
            ),
        ),
    ]);
    model.respond_always(Reply::tool_use(payload));
    let run = p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert!(
        r["fix"]["sandbox"]
            .as_str()
            .unwrap_or("")
            .contains("bubblewrap"),
        "{r:#}"
    );
    // It ran, in the examples step, and was refused there: 7 no longer gives '7'.
    let failure = r["fix"]["refused"][0]["failure"].as_str().unwrap_or("");
    assert!(
        failure.contains("The examples step failed: to_base36(7) returns 'unreadable")
            && failure.contains("KEY=absent"),
        "{r:#}"
    );
    assert_eq!(r["status"], "rejected", "{r:#}");
    assert!(!marker.exists(), "the examples step wrote outside the copy");
    assert!(
        !live_drop.exists(),
        "the examples step wrote into the live project"
    );
    for secret in [KEY, DB] {
        for request in model.requests() {
            assert!(!request.raw.contains(secret), "a secret reached the model");
        }
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{run:?}"
        );
        for record in p.records() {
            assert!(
                !record.to_string().contains(secret),
                "a secret is in a record"
            );
        }
    }
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        BASE36
    );
}

/// Every line has three fields; the fix skips the lines that do not have two, so it skips them
/// all and the totals come out empty.
const TOTALS: &str = "\
LINES = [\"ana,12.50,EUR\", \"ben,3.00,USD\"]


def totals_by_currency(lines):
    totals = {}
    for line in lines:
        payer, amount = line.split(\",\")
        totals[payer] = totals.get(payer, 0.0) + float(amount)
    return totals


print(totals_by_currency(LINES), flush=True)
";

/// A guard that skips the failing work (`continue`) is refused; the near miss, the unpacking
/// made to fit the data, is applied.
#[test]
fn r13_a_guard_that_skips_the_failing_line_is_refused_and_the_fitting_unpack_is_not() {
    refused_with(
        TOTALS,
        "        payer, amount = line.split(\",\")\n",
        "        parts = line.split(\",\")\n        if len(parts) != 2:\n            print(\"skipping\", line)\n            continue\n        payer, amount = parts\n",
        "a guard at line 8 that skips the work the ValueError was in (continue)",
    );

    let model = FakeAnthropic::start();
    let p = project(&model);
    p.file("app.py", TOTALS);
    model.respond_always(Reply::tool_use(answer(&[(
        "app.py",
        "        payer, amount = line.split(\",\")\n",
        "        payer, amount, _currency = line.split(\",\")\n",
    )])));
    p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(p.record()["status"], "applied", "{:#}", p.record());
}

const CAMPAIGNS: &str = "\
CAMPAIGNS = [{\"spend\": 80.0, \"conversions\": 4}, {\"spend\": 65.0, \"conversions\": 0}]


def cost_per_conversion(campaign):
    \"\"\"Spend divided by conversions. A campaign with no conversion yet costs its whole
    spend (counted as if it had one).\"\"\"
    return campaign[\"spend\"] / campaign[\"conversions\"]


for c in CAMPAIGNS:
    print(f\"{cost_per_conversion(c):.2f}\", flush=True)
";

/// A caller's guard that stops calling the failing function for the case its docstring
/// covers is refused; the fix in the function is applied.
#[test]
fn r13_a_callers_guard_around_a_documented_case_is_refused_and_the_fix_inside_is_not() {
    refused_with(
        CAMPAIGNS,
        "    print(f\"{cost_per_conversion(c):.2f}\", flush=True)\n",
        "    if c[\"conversions\"] > 0:\n        print(f\"{cost_per_conversion(c):.2f}\", flush=True)\n",
        "leaves cost_per_conversion() as it was and adds a guard",
    );

    let model = FakeAnthropic::start();
    let p = project(&model);
    p.file("app.py", CAMPAIGNS);
    model.respond_always(Reply::tool_use(answer(&[(
        "app.py",
        "    return campaign[\"spend\"] / campaign[\"conversions\"]\n",
        "    return campaign[\"spend\"] / max(campaign[\"conversions\"], 1)\n",
    )])));
    p.run(&["run", "--", "python3", "app.py"]);
    assert_eq!(p.record()["status"], "applied", "{:#}", p.record());
}

/// Runs `program` under heal with a model answering `search` → `replace` in app.py: the
/// incident must end rejected for `why`, with the file as it was.
fn refused_with(program: &str, search: &str, replace: &str, why: &str) {
    let model = FakeAnthropic::start();
    let p = project(&model);
    p.file("app.py", program);
    model.respond_always(Reply::tool_use(answer(&[("app.py", search, replace)])));
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "rejected", "{r:#}");
    let reason = r["reason"].as_str().unwrap();
    assert!(reason.contains(why), "{reason}");
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        program
    );
}

/// The four wrong fixes of the 19:22 benchmark, through the real binary (issue 13).
#[test]
fn r13_a_default_against_the_docstring_is_refused() {
    let program = "def retry_policy(settings):\n    \"\"\"How a job is retried.\n\n    settings[\"retries\"] is optional: when absent, a job is retried 3 times.\n    \"\"\"\n    return {\"retries\": settings[\"retries\"]}\n\n\nprint(retry_policy({}), flush=True)\n";
    refused_with(
        program,
        "settings[\"retries\"]}",
        "settings.get(\"retries\", 0)}",
        "gives the missing key 'retries' the default 0",
    );
}

#[test]
fn r13_a_parameter_dropped_from_another_function_is_refused() {
    let program = "class Basket:\n    def __init__(self, lines):\n        self.lines = lines\n\n    def subtotal(lines):\n        return sum(lines)\n\n    def total(self, shipping=4.9):\n        return self.subtotal(self.lines) + shipping\n\n\nprint(Basket([1.0]).total(), flush=True)\n";
    refused_with(
        program,
        "    def subtotal(lines):\n        return sum(lines)\n\n    def total(self, shipping=4.9):\n        return self.subtotal(self.lines) + shipping\n",
        "    def subtotal(self, lines):\n        return sum(lines)\n\n    def total(self):\n        return self.subtotal(self.lines) + 4.9\n",
        "removes the parameter 'shipping' of Basket.total()",
    );
}

#[test]
fn r13_a_raise_caught_again_only_to_print_is_refused() {
    let program = "import re\n\nR = re.compile(r'(A-\\d+)')\n\n\ndef order_id(n):\n    return R.search(n).group(1)\n\n\nfor n in ['A-1 ok', 'none here']:\n    print(order_id(n), flush=True)\n";
    refused_with(
        program,
        "    return R.search(n).group(1)\n\n\nfor n in ['A-1 ok', 'none here']:\n    print(order_id(n), flush=True)\n",
        "    m = R.search(n)\n    if m is None:\n        raise ValueError('no order id')\n    return m.group(1)\n\n\nfor n in ['A-1 ok', 'none here']:\n    try:\n        print(order_id(n), flush=True)\n    except ValueError as e:\n        print(e)\n",
        "raises ValueError and catches it again",
    );
}

#[test]
fn r13_a_none_branch_that_only_prints_is_refused() {
    let program = "def top(scores):\n    ranked = list(scores)\n    ranked = ranked.sort()\n    return ranked\n\n\nfor s in top([3, 1, 2]):\n    print(s, flush=True)\n";
    refused_with(
        program,
        "for s in top([3, 1, 2]):\n    print(s, flush=True)\n",
        "if top([3, 1, 2]) is not None:\n    for s in top([3, 1, 2]):\n        print(s, flush=True)\nelse:\n    print('No scores available')\n",
        "a guard that leaves when a value is None",
    );
}

const COST: &str = "\
CAMPAIGNS = [{\"spend\": 80.0, \"conversions\": 4}, {\"spend\": 65.0, \"conversions\": 0}]


def cost_per_conversion(campaign):
    \"\"\"Spend divided by conversions. A campaign with no conversion yet costs its whole
    spend per conversion (counted as if it had one).\"\"\"
    return campaign[\"spend\"] / campaign[\"conversions\"]


for c in CAMPAIGNS:
    print(f\"{cost_per_conversion(c):.2f}\", flush=True)
";

/// The bench's one wrong fix of the 08:20 run (`zero_division_doc`): a guard that makes the
/// function fall off its end and return None, refused by the policy before any run.
#[test]
fn r13_a_guard_that_makes_a_function_fall_off_its_end_is_refused() {
    refused_with(
        COST,
        "    return campaign[\"spend\"] / campaign[\"conversions\"]\n",
        "    if campaign[\"conversions\"] != 0:\n        return campaign[\"spend\"] / campaign[\"conversions\"]\n",
        "end in an `if` that does not return a value every way through",
    );
}

/// The same None by another road the policy does not judge: the fixed function returns None,
/// and its caller, which the fix did not touch, fails formatting it. The proof takes that
/// failure for the fix's, not for the program getting further to a next error.
#[test]
fn r13_a_none_the_fixed_function_hands_its_caller_fails_the_proof() {
    refused_with(
        COST,
        "    return campaign[\"spend\"] / campaign[\"conversions\"]\n",
        "    conversions = campaign[\"conversions\"]\n    return campaign[\"spend\"] / conversions if conversions else None\n",
        "a None that cost_per_conversion, which the fix edited, handed to its caller",
    );
}

/// A service that logs an offline sensor's TimeoutError (with its traceback, on stdout) and
/// crashes on a reading sent as text (`bench/crashes/cases/service_loop_stdout`, shortened).
const SENSORS: &str = "\
import logging
import sys

log = logging.getLogger(\"poller\")
READINGS = {\"a\": 20.0, \"b\": \"21.5\"}


def read_sensor(sensor):
    if sensor == \"c\":
        raise TimeoutError(f\"sensor {sensor} did not answer\")
    return READINGS[sensor]


def mean_temperature():
    values = []
    for sensor in (\"c\", \"a\", \"b\"):
        try:
            values.append(read_sensor(sensor))
        except TimeoutError:
            log.exception(\"sensor %s offline\", sensor)
    return sum(values) / len(values)


logging.basicConfig(stream=sys.stdout, level=logging.INFO)
print(f\"{mean_temperature():.2f}\", flush=True)
";

/// The proof tolerates an error the unchanged program printed too, judged by its innermost
/// frame, even when it passes through a line the fix changed: a fix that lets that logged
/// error through, so that the program now dies of it, must still fail the proof.
#[test]
fn r13_a_fix_that_lets_a_logged_error_kill_the_program_fails_the_proof() {
    let model = FakeAnthropic::start();
    let p = project(&model);
    p.file("app.py", SENSORS);
    model.respond_always(Reply::tool_use(answer(&[(
        "app.py",
        "            values.append(read_sensor(sensor))\n        except TimeoutError:\n            log.exception(\"sensor %s offline\", sensor)\n",
        "            values.append(float(read_sensor(sensor)))\n        except TimeoutError:\n            log.exception(\"sensor %s offline\", sensor)\n            raise\n",
    )])));
    p.run(&["run", "--", "python3", "app.py"]);
    let records = p.records();
    // The logged TimeoutError is its own incident, triaged as a service that did not answer.
    let logged = records
        .iter()
        .find(|r| r["error"]["type"] == "TimeoutError")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(logged["status"], "skipped", "{logged:#}");
    let crash = records
        .iter()
        .find(|r| r["error"]["type"] == "TypeError")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(crash["status"], "rejected", "{crash:#}");
    let reason = crash["reason"].as_str().unwrap();
    assert!(
        reason.contains("exited with code 1 after TimeoutError"),
        "{reason}"
    );
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        SENSORS
    );
}

/// The bench's `pkg_missing_arg` (2026-12-01 18:30), through the real binary: the call to
/// `render` left out its context, and the model's fix deleted the import and defined an empty
/// `render` in its place. Every message became `None` and the proof had nothing that worked
/// before to compare; the policy refuses the stand-in, and the file stays as it was.
#[test]
fn r13_a_stub_in_place_of_an_imported_function_is_refused() {
    let program = "from templates import render\n\n\ndef shipped_message(name, order):\n    context = {'name': name, 'order': order}\n    return render('shipped')\n\n\nprint(shipped_message('Ana', 'A-1'), flush=True)\n";
    let model = FakeAnthropic::start();
    let p = project(&model);
    p.file("app.py", program).file(
        "templates.py",
        "TEMPLATES = {'shipped': 'Hi {name}, your order {order} has shipped.'}\n\n\ndef render(template, context):\n    return TEMPLATES[template].format(**context)\n",
    );
    model.respond_always(Reply::tool_use(answer(&[
        (
            "app.py",
            "from templates import render\n",
            "def render(template, context):\n    \"\"\"Render a template with the given context.\"\"\"\n    pass  # Placeholder for the actual implementation\n",
        ),
        ("app.py", "render('shipped')", "render('shipped', context)"),
    ])));
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "rejected", "{r:#}");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason
            .contains("replaces `render`, imported from `templates`, with a definition of its own"),
        "{reason}"
    );
    assert!(reason.contains("a function that does nothing"), "{reason}");
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        program
    );
}

/// The bench's `none_sort_result` (main's binary, 2026-12-02 00:50), through the real binary:
/// `ranked = ranked.sort(...)` left `ranked` None, and the model's fix sorted in place but
/// also dropped the slice, `return ranked[:n]` becoming `return ranked`. The program crashed
/// before printing anything, so the proof had nothing to compare, and `top(scores, n=3)` gave
/// every score. The policy refuses a fix that makes a function stop reading a parameter.
#[test]
fn r13_a_fix_that_stops_reading_a_parameter_is_refused() {
    let program = "SCORES = {'ana': 42, 'ben': 57, 'chloe': 38, 'dan': 61}\n\n\ndef top(scores, n=3):\n    \"\"\"The n best (name, score) pairs, best first.\"\"\"\n    ranked = list(scores.items())\n    ranked = ranked.sort(key=lambda kv: kv[1], reverse=True)\n    return ranked[:n]\n\n\nfor place, (name, score) in enumerate(top(SCORES), 1):\n    print(f'{place}. {name} {score}', flush=True)\n";
    let model = FakeAnthropic::start();
    let p = project(&model);
    p.file("app.py", program);
    model.respond_always(Reply::tool_use(answer(&[(
        "app.py",
        "    ranked = ranked.sort(key=lambda kv: kv[1], reverse=True)\n    return ranked[:n]\n",
        "    ranked.sort(key=lambda kv: kv[1], reverse=True)\n    return ranked\n",
    )])));
    p.run(&["run", "--", "python3", "app.py"]);
    let r = p.record();
    assert_eq!(r["status"], "rejected", "{r:#}");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("makes top() ignore its parameter 'n'"),
        "{reason}"
    );
    assert_eq!(
        std::fs::read_to_string(p.path().join("app.py")).unwrap(),
        program
    );
}
