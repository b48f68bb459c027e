use super::*;

fn example(qualname: &str, kind: Kind, source: &str, want: &str, edited: bool) -> Example {
    Example {
        file: "main.py".to_string(),
        found: Found {
            qualname: qualname.to_string(),
            kind,
            source: source.to_string(),
            want: want.to_string(),
            line: 8,
        },
        edited,
    }
}

fn ran(id: usize, side: Side, outcome: Outcome, got: &str, error: &str) -> Ran {
    Ran {
        id,
        side,
        outcome,
        got: got.to_string(),
        error: error.to_string(),
    }
}

#[test]
fn an_edited_function_that_raised_must_now_do_what_its_docstring_says() {
    let examples = vec![
        example("to_base36", Kind::Pair, "7", "'7'", true),
        example("to_base36", Kind::Pair, "0", "'0'", true),
    ];
    let runs = vec![
        ran(
            0,
            Side::Before,
            Outcome::Raised,
            "",
            "RecursionError: maximum recursion depth exceeded",
        ),
        ran(0, Side::After, Outcome::Differs, "'07'", ""),
        ran(
            1,
            Side::Before,
            Outcome::Raised,
            "",
            "RecursionError: maximum recursion depth exceeded",
        ),
        ran(1, Side::After, Outcome::Ok, "'0'", ""),
    ];
    let j = judge(&examples, &runs);
    assert_eq!(j.held, 1);
    assert_eq!(
        j.failures,
        vec![
            "to_base36(7) returns '07' with the fix; the docstring of to_base36 (main.py:8) says '7' (before the fix it raised RecursionError: maximum recursion depth exceeded)"
        ]
    );
}

#[test]
fn an_example_that_held_before_must_hold_after_wherever_it_is() {
    let examples = vec![example("fmt", Kind::Doctest, "fmt(2.5)", "'2.50'", false)];
    let runs = vec![
        ran(0, Side::Before, Outcome::Ok, "'2.50'", ""),
        ran(0, Side::After, Outcome::Raised, "", "TypeError: bad"),
    ];
    let j = judge(&examples, &runs);
    assert_eq!(j.failures.len(), 1, "{j:?}");
    assert!(j.failures[0].contains(">>> fmt(2.5) raises TypeError: bad with the fix"));
    assert!(j.failures[0].contains("it held before the fix"));
}

#[test]
fn out_of_date_docstrings_untouched_code_and_prose_say_nothing() {
    let examples = vec![
        // Gave another value before the fix too: the docstring was already out of date.
        example("f", Kind::Pair, "1", "2", true),
        // Raised before and after, in a function the fix did not edit.
        example("g", Kind::Pair, "1", "2", false),
        // Prose that looked like a pair.
        example("h", Kind::Pair, "1", "x", true),
        // Not reached before the time limit.
        example("k", Kind::Pair, "1", "2", true),
    ];
    let runs = vec![
        ran(0, Side::Before, Outcome::Differs, "3", ""),
        ran(0, Side::After, Outcome::Differs, "4", ""),
        ran(1, Side::Before, Outcome::Raised, "", "KeyError: 'a'"),
        ran(1, Side::After, Outcome::Raised, "", "KeyError: 'a'"),
        ran(2, Side::Before, Outcome::Unusable, "", ""),
        ran(2, Side::After, Outcome::Unusable, "", ""),
    ];
    let j = judge(&examples, &runs);
    assert!(j.failures.is_empty(), "{j:?}");
    assert_eq!(j.ignored, 4);
}

#[test]
fn a_module_the_fix_leaves_unimportable_is_said_not_failed() {
    let examples = vec![example("f", Kind::Pair, "1", "2", true)];
    let runs = vec![
        ran(0, Side::Before, Outcome::Unloaded, "", "SystemExit: 2"),
        ran(0, Side::After, Outcome::Unloaded, "", "SystemExit: 2"),
    ];
    let j = judge(&examples, &runs);
    assert!(j.failures.is_empty());
    assert_eq!(j.unloaded, vec!["main.py".to_string()]);
    assert!(describe(&j, 1).contains("not importable on their own: main.py"));
}

#[test]
fn packages_are_imported_by_their_dotted_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("app/pkg")).unwrap();
    std::fs::write(dir.path().join("app/pkg/__init__.py"), "").unwrap();
    let (root, name, package) = module_of(dir.path(), "app/pkg/codes.py");
    assert_eq!(root, dir.path().join("app"));
    assert_eq!(name, "pkg.codes");
    assert_eq!(package, "pkg");
    let (_, name, package) = module_of(dir.path(), "app/pkg/__init__.py");
    assert_eq!((name.as_str(), package.as_str()), ("pkg", "pkg"));
    let (root, name, package) = module_of(dir.path(), "main.py");
    assert_eq!(
        (root, name.as_str(), package.as_str()),
        (dir.path().to_path_buf(), "main", "")
    );
}

/// The runner itself, on real python3: before and after, a pair, a doctest, prose, prints at
/// import, a loop cut at its limit.
#[test]
fn the_runner_reports_each_example_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let before = r#"
DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
print("imported: this must not reach the results")

def to_base36(n):
    """0 -> '0', 7 -> '7', 36 -> '10'; also idle -> busy."""
    return to_base36(n // 36) + DIGITS[n % 36]

def add(a, b):
    """
    >>> add(1, 2)
    3
    >>> add('a', 1)
    Traceback (most recent call last):
    TypeError: can only concatenate str
    """
    return a + b
"#;
    let after = before.replace(
        "    return to_base36(n // 36)",
        "    if n == 0:\n        return '0'\n    return to_base36(n // 36)",
    );
    std::fs::write(dir.path().join("main.py"), &after).unwrap();
    std::fs::write(dir.path().join("before_0.py"), before).unwrap();
    let found = examples(before);
    assert_eq!(found.len(), 5, "{found:?}");
    let wire: Vec<Wire<'_>> = found
        .iter()
        .enumerate()
        .map(|(id, f)| Wire {
            id,
            function: &f.qualname,
            kind: f.kind.as_str(),
            source: &f.source,
            want: &f.want,
        })
        .collect();
    let spec = WireSpec {
        paths: vec![dir.path().to_path_buf()],
        modules: vec![WireModule {
            name: "main".to_string(),
            path: dir.path().join("main.py"),
            before: dir.path().join("before_0.py"),
            package: String::new(),
            examples: wire,
        }],
    };
    std::fs::write(dir.path().join("examples.py"), RUNNER).unwrap();
    std::fs::write(
        dir.path().join("spec.json"),
        serde_json::to_string(&spec).unwrap(),
    )
    .unwrap();
    let out = std::process::Command::new("python3")
        .args(["examples.py", "spec.json", "results.jsonl"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let ran = read_results(&dir.path().join("results.jsonl"));
    let outcome = |id: usize, side: Side| {
        ran.iter()
            .find(|r| r.id == id && r.side == side)
            .map(|r| (r.outcome, r.got.clone()))
            .unwrap()
    };
    assert_eq!(outcome(0, Side::Before).0, Outcome::Raised);
    assert_eq!(outcome(0, Side::After), (Outcome::Ok, "'0'".to_string()));
    assert_eq!(
        outcome(1, Side::After),
        (Outcome::Differs, "'07'".to_string())
    );
    assert_eq!(
        outcome(2, Side::After),
        (Outcome::Differs, "'010'".to_string())
    );
    assert_eq!(outcome(3, Side::After).0, Outcome::Ok, "{ran:?}");
    assert_eq!(outcome(4, Side::After).0, Outcome::Ok, "{ran:?}");
    assert!(ran.iter().all(|r| !r.got.contains("imported")));
    let examples: Vec<Example> = found
        .into_iter()
        .map(|f| Example {
            file: "main.py".to_string(),
            edited: f.qualname == "to_base36",
            found: f,
        })
        .collect();
    let j = judge(&examples, &ran);
    assert_eq!(j.failures.len(), 2, "{j:?}");
    assert!(j.failures[0].starts_with("to_base36(7) returns '07' with the fix"));
}
