//! Detection end to end on real captured output: bytes → lines → blocks → parsed tracebacks,
//! plus the bounds (memory, block size) and the pure helpers (locate, fingerprint).

use std::path::{Path, PathBuf};

use heal::detect::fingerprint::{fingerprint, normalise_message};
use heal::detect::lines::LineSplitter;
use heal::detect::locate::{Location, locate, locate_traceback};
use heal::detect::python::{self, Parsed};
use heal::detect::scanner::{Block, Limits, Scanner};
use heal::detect::{ChainLink, Exception, Frame, Traceback};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tracebacks")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(name)).expect("fixture exists")
}

/// Feeds bytes the way the supervisor does, in chunks of `chunk` bytes.
fn blocks_of(bytes: &[u8], chunk: usize, limits: Limits) -> Vec<Block> {
    let mut splitter = LineSplitter::new(8 * 1024);
    let mut scanner = Scanner::new(limits);
    let mut blocks = Vec::new();
    for part in bytes.chunks(chunk.max(1)) {
        splitter.push(part, &mut |line: String| {
            blocks.extend(scanner.push_line(&line))
        });
    }
    if let Some(line) = splitter.finish() {
        blocks.extend(scanner.push_line(&line));
    }
    blocks.extend(scanner.finish());
    blocks
}

/// The tracebacks found in a fixture, with the block's origin filled in like the supervisor.
fn tracebacks_of(name: &str) -> Vec<Traceback> {
    let bytes = fixture(name);
    let blocks = blocks_of(&bytes, bytes.len(), Limits::default());
    // Chunking must not change anything.
    assert_eq!(
        blocks,
        blocks_of(&bytes, 7, Limits::default()),
        "{name}: chunked"
    );
    blocks
        .into_iter()
        .filter_map(|block| {
            assert!(!block.text.contains('\x1b'), "{name}: ANSI left in block");
            let Parsed { traceback, .. } = python::parse(&block.text);
            traceback.map(|mut tb| {
                if tb.origin.is_none() {
                    tb.origin = block.origin;
                }
                tb
            })
        })
        .collect()
}

/// What one detected traceback must look like.
#[derive(Debug, Clone, Default)]
struct Want {
    exc_type: &'static str,
    /// A prefix of the message.
    message: &'static str,
    frames: usize,
    /// The innermost frame: a suffix of its file, its line, its function.
    innermost: Option<(&'static str, u32, &'static str)>,
    /// Types of the chain's earlier exceptions, oldest first, with their link.
    chain: Vec<(&'static str, ChainLink)>,
    /// Types of the group's members.
    group: Vec<&'static str>,
    origin: Option<&'static str>,
}

fn exc(exc_type: &'static str, message: &'static str) -> Want {
    Want {
        exc_type,
        message,
        ..Want::default()
    }
}

impl Want {
    fn frames(mut self, n: usize, file: &'static str, line: u32, function: &'static str) -> Want {
        self.frames = n;
        self.innermost = Some((file, line, function));
        self
    }
    fn chain(mut self, chain: &[(&'static str, ChainLink)]) -> Want {
        self.chain = chain.to_vec();
        self
    }
    fn group(mut self, members: &[&'static str]) -> Want {
        self.group = members.to_vec();
        self
    }
    fn origin(mut self, origin: &'static str) -> Want {
        self.origin = Some(origin);
        self
    }
}

fn check(name: &str, want: &[Want]) {
    let got = tracebacks_of(name);
    assert_eq!(
        got.len(),
        want.len(),
        "{name}: number of tracebacks; got {:#?}",
        got.iter()
            .map(|t| &t.exception.exc_type)
            .collect::<Vec<_>>()
    );
    for (i, (tb, w)) in got.iter().zip(want).enumerate() {
        let e = &tb.exception;
        let at = format!("{name} #{i}");
        assert_eq!(e.exc_type, w.exc_type, "{at}: type");
        assert!(
            e.message.starts_with(w.message),
            "{at}: message {:?} does not start with {:?}",
            e.message,
            w.message
        );
        assert_eq!(e.frames.len(), w.frames, "{at}: frames {:#?}", e.frames);
        let innermost = e
            .frames
            .last()
            .map(|f| (f.file.as_str(), f.line, f.function.as_str()));
        match (innermost, w.innermost) {
            (Some((file, line, function)), Some((wfile, wline, wfunction))) => {
                assert!(file.ends_with(wfile), "{at}: innermost file {file}");
                assert_eq!(
                    (line, function),
                    (wline, wfunction),
                    "{at}: innermost frame"
                );
            }
            (got, want) => assert_eq!(got.is_some(), want.is_some(), "{at}: innermost {got:?}"),
        }
        let chain: Vec<(&str, ChainLink)> = tb
            .chain
            .iter()
            .map(|(e, l)| (e.exc_type.as_str(), *l))
            .collect();
        assert_eq!(chain, w.chain, "{at}: chain");
        let group: Vec<&str> = e.group.iter().map(|m| m.exc_type.as_str()).collect();
        assert_eq!(group, w.group, "{at}: group");
        assert_eq!(tb.origin.as_deref(), w.origin, "{at}: origin");
    }
}

/// Every fixture and what detection must find in it. A fixture missing here fails the test.
fn expected() -> Vec<(&'static str, Vec<Want>)> {
    use ChainLink::{Cause, Context};
    let chained_cause = |file: &'static str, ty: &'static str| {
        vec![
            exc(ty, "invalid port setting")
                .frames(2, file, 7, "read_port")
                .chain(&[("ValueError", Cause)]),
        ]
    };
    // The innermost frame's line moved between versions.
    let group = |aexit_line: u32| {
        vec![
            exc(
                "ExceptionGroup",
                "unhandled errors in a TaskGroup (2 sub-exceptions)",
            )
            .frames(6, "asyncio/taskgroups.py", aexit_line, "__aexit__")
            .group(&["ValueError", "TypeError"]),
        ]
    };
    let syntax =
        |file: &'static str| vec![exc("SyntaxError", "invalid syntax").frames(1, file, 2, "")];
    let import = |hint: &'static str| {
        vec![exc("ImportError", hint).frames(1, "importerror_hint.py", 1, "<module>")]
    };
    let name_hint = || {
        vec![
            exc(
                "NameError",
                "name 'mesage' is not defined. Did you mean: 'message'?",
            )
            .frames(2, "/srv/app/src/nameerror_hint.py", 3, "greet"),
        ]
    };
    let calc_failures = |paths: (&'static str, &'static str), frames: [usize; 4]| {
        let (test, calc) = paths;
        vec![
            exc(
                "AssertionError",
                "assert 2.3333333333333335 == 2\n +  where",
            )
            .frames(frames[0], test, 5, "test_average_wrong")
            .origin("test_average_wrong"),
            exc("ZeroDivisionError", "division by zero")
                .frames(frames[1], calc, 2, "average")
                .origin("test_average_empty"),
            exc("ValueError", "too many values to unpack (expected 2)")
                .frames(frames[2], calc, 4, "parse_pair")
                .origin("test_parse_pair"),
            exc(
                "AssertionError",
                "assert {'a': 1, 'b': [1, 2]} == {'a': 1, 'b': [1, 3]}\n\n  Omitting",
            )
            .frames(frames[3], test, 11, "test_dict_compare")
            .origin("test_dict_compare"),
        ]
    };
    let kth = |frames: usize, test: &'static str| {
        exc("IndexError", "list index out of range")
            .frames(frames, "python_programs/kth.py", 2, "kth")
            .origin(test)
    };

    vec![
        // Other languages come later: nothing must be read as a Python traceback.
        ("java_noclassdeffound_caused_by.txt", vec![]),
        ("node_cause.txt", vec![]),
        ("node_syntax.txt", vec![]),
        ("node_uncaught.txt", vec![]),
        ("node_unhandled_rejection.txt", vec![]),
        ("rust_panic_index_oob_backtrace1.txt", vec![]),
        ("rust_panic_unwrap_backtrace1.txt", vec![]),
        ("rust_panic_unwrap_backtrace_full.txt", vec![]),
        ("rust_panic_unwrap_nobacktrace.txt", vec![]),
        // faulthandler dumps carry no exception; the supervisor records the crash itself.
        ("py_faulthandler_timeout_dump.txt", vec![]),
        ("py_segfault_faulthandler.txt", vec![]),
        ("py_systemexit_in_handler.txt", vec![]),
        (
            "py27_context_lost.txt",
            vec![exc("ValueError", "bad").frames(1, "py2_exc.py", 6, "<module>")],
        ),
        (
            "py312_chained_cause.txt",
            chained_cause("/srv/app/src/chained_cause.py", "ConfigError"),
        ),
        (
            "py313_chained_cause.txt",
            chained_cause("/srv/app/src/chained_cause.py", "ConfigError"),
        ),
        (
            "py313_chained_cause_ansi_color.txt",
            chained_cause("/srv/app/src/chained_cause.py", "ConfigError"),
        ),
        (
            "py_chained_cause.txt",
            chained_cause("/srv/app/src/chained_cause.py", "ConfigError"),
        ),
        (
            "py38_chained_cause.txt",
            chained_cause("chained_cause.py", "__main__.ConfigError"),
        ),
        ("py312_exception_group.txt", group(145)),
        ("py313_exception_group.txt", group(154)),
        ("py_exception_group.txt", group(145)),
        (
            "py312_importerror_hint.txt",
            import("cannot import name 'namedtupel' from 'collections' (/usr/local/pyenv/versions/3.12.1/lib/python3.12/collections/__init__.py). Did you mean: 'namedtuple'?"),
        ),
        (
            "py313_importerror_hint.txt",
            import("cannot import name 'namedtupel' from 'collections' (/usr/local/pyenv/versions/3.13.0/lib/python3.13/collections/__init__.py). Did you mean: 'namedtuple'?"),
        ),
        (
            "py38_importerror_hint.txt",
            import("cannot import name 'namedtupel' from 'collections'"),
        ),
        (
            "py_importerror_hint.txt",
            import("cannot import name 'namedtupel' from 'collections'"),
        ),
        ("py312_nameerror_hint.txt", name_hint()),
        ("py313_nameerror_hint.txt", name_hint()),
        ("py313_nameerror_hint_ansi_color.txt", name_hint()),
        ("py_nameerror_hint.txt", name_hint()),
        (
            "py38_nameerror_hint.txt",
            vec![
                exc("NameError", "name 'mesage' is not defined")
                    .frames(2, "nameerror_hint.py", 3, "greet"),
            ],
        ),
        ("py312_syntax_error.txt", syntax("/srv/app/src/syntax_error.py")),
        ("py313_syntax_error.txt", syntax("/srv/app/src/syntax_error.py")),
        ("py_syntax_error.txt", syntax("/srv/app/src/syntax_error.py")),
        ("py38_syntax_error.txt", syntax("syntax_error.py")),
        (
            "py_indentation_error.txt",
            vec![exc("IndentationError", "unexpected indent").frames(1, "indentation_error.py", 3, "")],
        ),
        (
            "py38_attributeerror_relative_paths.txt",
            vec![
                exc("AttributeError", "module 'asyncio' has no attribute 'TaskGroup'")
                    .frames(4, "exception_group.py", 8, "main"),
            ],
        ),
        (
            "py_asyncio_run_exc.txt",
            vec![
                exc("ValueError", "invalid literal for int() with base 10: 'two'")
                    .frames(6, "asyncio_run_exc.py", 4, "parse"),
            ],
        ),
        (
            "py_asyncio_unretrieved.txt",
            vec![
                exc("KeyError", "'missing'")
                    .frames(1, "asyncio_unretrieved.py", 4, "fetch")
                    .origin("Task exception was never retrieved"),
            ],
        ),
        (
            "py_attributeerror_didyoumean.txt",
            vec![
                exc(
                    "AttributeError",
                    "'str' object has no attribute 'uper'. Did you mean: 'upper'?",
                )
                .frames(2, "attributeerror_didyoumean.py", 2, "shout"),
            ],
        ),
        (
            "py_attributeerror_hint.txt",
            vec![
                exc(
                    "AttributeError",
                    "'collections.OrderedDict' object has no attribute 'apend'",
                )
                .frames(1, "attributeerror_hint.py", 3, "<module>"),
            ],
        ),
        (
            "py_chained_context.txt",
            vec![
                exc("KeyError", "'fallback'")
                    .frames(2, "chained_context.py", 7, "load")
                    .chain(&[("json.decoder.JSONDecodeError", Context)]),
            ],
        ),
        (
            "py_exc_with_notes.txt",
            vec![
                exc("ValueError", "value out of range: 42\nhint: expected 0 <= v < 10")
                    .frames(2, "exc_with_notes.py", 4, "check"),
            ],
        ),
        (
            "py_exception_group_nested.txt",
            vec![
                exc("ExceptionGroup", "(2 sub-exceptions)")
                    .frames(1, "exception_group_nested.py", 8, "<module>")
                    .group(&["ExceptionGroup", "ExceptionGroup"]),
            ],
        ),
        (
            "py_exec_string.txt",
            vec![exc("NameError", "name 'undefined_var' is not defined").frames(3, "<generated>", 2, "g")],
        ),
        (
            "py_keyboardinterrupt_hang.txt",
            vec![exc("KeyboardInterrupt", "").frames(2, "hang_sigint.py", 3, "bitcount")],
        ),
        (
            "py_logging_exc.txt",
            vec![exc("KeyError", "'qty'").frames(3, "logging_exc.py", 5, "<genexpr>")],
        ),
        (
            "py_multiline_exc_msg.txt",
            vec![
                exc(
                    "RuntimeError",
                    "line one of message\nline two of message\n  Traceback (most recent call last):\n  fake embedded",
                )
                .frames(1, "multiline_exc_msg.py", 1, "<module>"),
            ],
        ),
        (
            "py_multiprocessing_exc.txt",
            vec![
                exc("ZeroDivisionError", "division by zero")
                    .frames(3, "multiprocessing/pool.py", 774, "get")
                    .chain(&[("ZeroDivisionError", Cause)]),
            ],
        ),
        (
            "py_multiprocessing_process.txt",
            vec![
                exc("FileNotFoundError", "[Errno 2] No such file or directory")
                    .frames(3, "multiprocessing_process.py", 3, "child")
                    .origin("Process Process-1:"),
            ],
        ),
        (
            "py_recursion_error.txt",
            vec![
                exc("RecursionError", "maximum recursion depth exceeded")
                    .frames(4, "recursion_error.py", 2, "fact"),
            ],
        ),
        (
            // 3001 lines: capped at 2000, the middle elided, the innermost frames kept.
            "py_recursion_mutual.txt",
            vec![
                exc("RecursionError", "maximum recursion depth exceeded")
                    .frames(666, "recursion_mutual.py", 2, "is_even"),
            ],
        ),
        (
            "py_suppress_context.txt",
            vec![exc("LookupError", "clean").frames(1, "suppress_context.py", 4, "<module>")],
        ),
        (
            "py_thread_exc.txt",
            vec![
                exc(
                    "TypeError",
                    "unsupported operand type(s) for +=: 'int' and 'str'",
                )
                .frames(3, "thread_exc.py", 5, "worker")
                .origin("Exception in thread Worker-1:"),
            ],
        ),
        (
            "py_unicode_path_dir_exc.txt",
            vec![
                exc("IndexError", "list index out of range")
                    .frames(2, "/srv/app/src/dír with space/módulo.py", 2, "f"),
            ],
        ),
        // pytest's own formats: one block per failure section.
        (
            "pytest_collection_importerror.txt",
            vec![
                exc("ImportError", "cannot import name 'median' from 'calc'")
                    .frames(2, "test_broken_import.py", 1, "<module>")
                    .origin("ERROR collecting test_broken_import.py"),
            ],
        ),
        (
            "pytest_default_long.txt",
            calc_failures(("test_calc.py", "calc.py"), [1, 2, 2, 1]),
        ),
        (
            "pytest_tb_short.txt",
            calc_failures(("test_calc.py", "calc.py"), [1, 2, 2, 1]),
        ),
        (
            "pytest_tb_native.txt",
            calc_failures(
                ("/srv/app/src/pyt/test_calc.py", "/srv/app/src/pyt/calc.py"),
                [24, 25, 25, 24],
            ),
        ),
        (
            "pytest_quixbugs_gcd_recursion.txt",
            vec![
                exc("RecursionError", "maximum recursion depth exceeded")
                    .frames(4, "python_programs/gcd.py", 5, "gcd")
                    .origin("test_gcd[input_data1-13]"),
            ],
        ),
        (
            "pytest_quixbugs_kth_indexerror.txt",
            vec![
                kth(9, "test_kth[input_data0-5]"),
                kth(7, "test_kth[input_data1-7]"),
                kth(7, "test_kth[input_data5-6]"),
                kth(5, "test_kth[input_data6-322]"),
            ],
        ),
        (
            "pytest_timeout_quixbugs_bitcount.txt",
            vec![
                exc("Failed", "Timeout (>2.0s) from pytest-timeout.")
                    .frames(2, "python_programs/bitcount.py", 4, "bitcount")
                    .origin("test_bitcount[input_data0-7]"),
            ],
        ),
        (
            "pytest_unittest_class.txt",
            vec![
                exc("AssertionError", "Tuples differ: (3, 4) != (3, 5)\n\nFirst differing")
                    .frames(1, "test_unittest_style.py", 5, "test_eq")
                    .origin("T.test_eq"),
                exc("ValueError", "invalid literal for int() with base 10: 'x'")
                    .frames(2, "calc.py", 5, "parse_pair")
                    .origin("T.test_err"),
            ],
        ),
        // Not understood (documented in python.rs): one-line reports and thread dumps.
        ("pytest_tb_line.txt", vec![]),
        ("pytest_timeout_thread_method_bitcount.txt", vec![]),
        (
            "unittest_runner.txt",
            vec![
                exc("ValueError", "invalid literal for int() with base 10: 'x'")
                    .frames(2, "/srv/app/src/pyt/calc.py", 5, "parse_pair")
                    .origin("ERROR: test_err (test_unittest_style.T.test_err)"),
                exc("AssertionError", "Tuples differ: (3, 4) != (3, 5)")
                    .frames(1, "/srv/app/src/pyt/test_unittest_style.py", 5, "test_eq")
                    .origin("FAIL: test_eq (test_unittest_style.T.test_eq)"),
            ],
        ),
    ]
}

#[test]
fn every_fixture_parses_as_expected() {
    let table = expected();
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures directory")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".txt") && n != "INDEX.txt")
        .collect();
    names.sort();
    assert!(names.len() >= 60, "fixtures not found: {names:?}");
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !table.iter().any(|(t, _)| t == n))
        .collect();
    assert!(
        missing.is_empty(),
        "fixtures without an expected entry: {missing:?}"
    );
    let unknown: Vec<&str> = table
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| !names.iter().any(|n| n == t))
        .collect();
    assert!(
        unknown.is_empty(),
        "expected entries without a fixture: {unknown:?}"
    );
    for (name, want) in &table {
        check(name, want);
    }
}

#[test]
fn chained_cause_and_context() {
    let cause = &tracebacks_of("py_chained_cause.txt")[0];
    let (first, link) = &cause.chain[0];
    assert_eq!(*link, ChainLink::Cause);
    assert_eq!(
        first.message,
        "invalid literal for int() with base 10: '80x'"
    );
    assert_eq!(
        first.frames[0].code.as_deref(),
        Some("return int(d[\"port\"])")
    );

    let context = &tracebacks_of("py_chained_context.txt")[0];
    let (first, link) = &context.chain[0];
    assert_eq!(*link, ChainLink::Context);
    assert_eq!(first.exc_type, "json.decoder.JSONDecodeError");
    assert_eq!(first.frames.len(), 4);
    assert_eq!(context.exception.exc_type, "KeyError");
    // Marker lines are not code.
    assert_eq!(
        context.exception.frames[1].code.as_deref(),
        Some("return cfg[\"fallback\"]")
    );
}

#[test]
fn nested_exception_group() {
    let tb = &tracebacks_of("py_exception_group_nested.txt")[0];
    let top = &tb.exception;
    assert_eq!(top.group.len(), 2);
    let outer = &top.group[0];
    assert_eq!(outer.message, "outer (2 sub-exceptions)");
    assert_eq!(outer.frames.len(), 1);
    assert_eq!(outer.frames[0].function, "outer");
    let leaves: Vec<(&str, &str)> = outer
        .group
        .iter()
        .map(|e| (e.exc_type.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(leaves, [("RuntimeError", "wrapped"), ("KeyError", "'k'")]);
    let inner = &top.group[1];
    assert_eq!(inner.message, "inner (1 sub-exception)");
    assert_eq!(inner.frames.len(), 2);
    assert_eq!(inner.group.len(), 1);
    assert_eq!(inner.group[0].exc_type, "ZeroDivisionError");
    assert_eq!(tb.primary().exc_type, "RuntimeError");

    let flat = &tracebacks_of("py_exception_group.txt")[0];
    assert_eq!(flat.primary().message, "bad value 1");
    assert_eq!(flat.primary().frames[0].function, "bad");
}

#[test]
fn recursion_keeps_the_innermost_frames_when_elided() {
    let bytes = fixture("py_recursion_mutual.txt");
    let blocks = blocks_of(&bytes, 4096, Limits::default());
    assert_eq!(blocks.len(), 1);
    let block = &blocks[0];
    assert!(block.elided_lines > 0);
    assert!(block.text.contains(&format!(
        "  ... {} lines elided by heal ...",
        block.elided_lines
    )));
    assert!(block.text.lines().count() <= Limits::default().max_block_lines);
    let parsed = python::parse(&block.text);
    let tb = parsed.traceback.expect("traceback");
    assert_eq!(tb.exception.exc_type, "RecursionError");
    let frames = &tb.exception.frames;
    assert_eq!(frames[0].function, "<module>");
    assert_eq!(frames[frames.len() - 1].function, "is_even");
    assert_eq!(frames[frames.len() - 2].function, "is_odd");

    let repeated = &tracebacks_of("py_recursion_error.txt")[0];
    assert_eq!(repeated.exception.frames.len(), 4);
}

#[test]
fn logging_exception_block_ends_at_the_next_log_line() {
    let text = String::from_utf8(fixture("py_logging_exc.txt")).expect("utf-8");
    let mut scanner = Scanner::new(Limits::default());
    let mut found = None;
    for line in text.lines() {
        if let Some(block) = scanner.push_line(line) {
            assert!(
                line.contains("INFO [app.orders] batch done"),
                "ended by {line:?}"
            );
            found = Some(block);
        }
    }
    assert!(scanner.finish().is_none());
    let block = found.expect("the log line after the traceback ends the block");
    assert!(
        block
            .text
            .starts_with("Traceback (most recent call last):\n")
    );
    assert!(block.text.ends_with("\nKeyError: 'qty'"));
    assert!(!block.text.contains("INFO"));
    assert!(!block.text.contains("ERROR [app.orders]"));
}

#[test]
fn multiline_message_keeps_its_fake_header() {
    let tbs = tracebacks_of("py_multiline_exc_msg.txt");
    assert_eq!(tbs.len(), 1);
    assert_eq!(tbs[0].exception.message.lines().count(), 4);
    assert!(tbs[0].exception.notes.is_empty());
}

#[test]
fn ansi_colours_are_removed() {
    for (plain, coloured) in [
        (
            "py313_chained_cause.txt",
            "py313_chained_cause_ansi_color.txt",
        ),
        (
            "py313_nameerror_hint.txt",
            "py313_nameerror_hint_ansi_color.txt",
        ),
    ] {
        assert_eq!(tracebacks_of(plain), tracebacks_of(coloured), "{coloured}");
    }
}

#[test]
fn syntax_error_without_header() {
    let tb = &tracebacks_of("py_syntax_error.txt")[0];
    assert_eq!(
        tb.exception.frames,
        [Frame {
            file: "/srv/app/src/syntax_error.py".into(),
            line: 2,
            function: String::new(),
            code: Some("return x +* 2".into()),
        }]
    );
    // The same frame shape with no SyntaxError after it is dropped.
    let blocks = blocks_of(
        b"  File \"notes.txt\", line 4\nsomething else\n",
        64,
        Limits::default(),
    );
    assert!(blocks.is_empty());
}

#[test]
fn syntax_error_in_an_imported_module() {
    let text = "Traceback (most recent call last):\n  File \"/srv/app/main.py\", line 1, in <module>\n    import bad\n  File \"/srv/app/bad.py\", line 2\n    return x +* 2\n              ^\nSyntaxError: invalid syntax\n";
    let blocks = blocks_of(text.as_bytes(), 100, Limits::default());
    assert_eq!(blocks.len(), 1);
    let tb = python::parse(&blocks[0].text).traceback.expect("traceback");
    assert_eq!(tb.exception.exc_type, "SyntaxError");
    assert_eq!(tb.exception.frames.len(), 2);
    assert_eq!(tb.exception.frames[1].function, "");
    assert_eq!(
        tb.exception.frames[1].code.as_deref(),
        Some("return x +* 2")
    );
}

#[test]
fn per_line_prefix_is_stripped() {
    let text = "Nov 24 12:00:01 host app[123]: Traceback (most recent call last):\n\
                Nov 24 12:00:01 host app[123]:   File \"/srv/app/x.py\", line 3, in f\n\
                Nov 24 12:00:01 host app[123]:     g()\n\
                Nov 24 12:00:02 host app[123]: ValueError: bad 7\n\
                Nov 24 12:00:09 host app[123]: INFO:app:next request\n";
    let blocks = blocks_of(text.as_bytes(), 13, Limits::default());
    assert_eq!(blocks.len(), 1);
    let tb = python::parse(&blocks[0].text).traceback.expect("traceback");
    assert_eq!(tb.exception.exc_type, "ValueError");
    assert_eq!(tb.exception.message, "bad 7");
    assert_eq!(tb.exception.frames[0].code.as_deref(), Some("g()"));

    // A prefix on the header line only (`log.error(traceback.format_exc())`).
    let text = "ERROR:root:Traceback (most recent call last):\n  File \"/srv/app/x.py\", line 3, in f\nKeyError: 'k'\nINFO:root:after\n";
    let blocks = blocks_of(text.as_bytes(), 5, Limits::default());
    assert_eq!(blocks.len(), 1);
    assert_eq!(
        blocks[0].text,
        "Traceback (most recent call last):\n  File \"/srv/app/x.py\", line 3, in f\nKeyError: 'k'"
    );
}

#[test]
fn quiet_hands_out_a_finished_block_only() {
    let mut scanner = Scanner::new(Limits::default());
    assert!(scanner.push_line("starting").is_none());
    assert!(!scanner.in_block());
    scanner.push_line("Exception in thread Worker-1:");
    scanner.push_line("Traceback (most recent call last):");
    scanner.push_line("  File \"/srv/app/w.py\", line 9, in run");
    assert!(scanner.in_block());
    assert!(scanner.quiet().is_none(), "mid-way after a File line");
    scanner.push_line("    work()");
    scanner.push_line("OSError: disk full");
    let block = scanner.quiet().expect("complete after the exception line");
    assert_eq!(
        block.origin.as_deref(),
        Some("Exception in thread Worker-1:")
    );
    assert!(
        block
            .text
            .starts_with("Exception in thread Worker-1:\nTraceback")
    );
    assert!(!scanner.in_block());
    assert!(scanner.quiet().is_none());
}

#[test]
fn back_to_back_tracebacks_are_two_blocks() {
    let one = "Traceback (most recent call last):\n  File \"/a.py\", line 1, in f\nKeyError: 'a'\n";
    let text = format!("{one}{}", one.replace("'a'", "'b'"));
    let blocks = blocks_of(text.as_bytes(), 3, Limits::default());
    assert_eq!(blocks.len(), 2);
    assert!(blocks[1].text.ends_with("KeyError: 'b'"));
}

#[test]
fn parse_reads_a_whole_fixture_with_its_header() {
    let text = String::from_utf8(fixture("py_thread_exc.txt")).expect("utf-8");
    let tb = python::parse(&text).traceback.expect("traceback");
    assert_eq!(tb.origin.as_deref(), Some("Exception in thread Worker-1:"));
    let parsed = python::parse("just some output\n");
    assert!(parsed.traceback.is_none());
    assert!(!parsed.problems.is_empty());
}

fn frame(file: &str, line: u32, function: &str) -> Frame {
    Frame {
        file: file.into(),
        line,
        function: function.into(),
        code: None,
    }
}

fn exception(frames: Vec<Frame>) -> Exception {
    Exception {
        exc_type: "NameError".into(),
        message: "x".into(),
        notes: vec![],
        frames,
        group: vec![],
    }
}

#[test]
fn locate_finds_the_innermost_project_frame() {
    let exc = exception(vec![
        frame("/srv/app/main.py", 3, "<module>"),
        frame("/srv/app/engine/decision_engine.py", 12, "decide"),
        frame("/srv/app/engine/__init__.py", 4, "helper"),
        frame("/usr/lib/python3.11/json/decoder.py", 353, "raw_decode"),
        frame(
            "/srv/app/.venv/lib/python3.11/site-packages/requests/api.py",
            59,
            "get",
        ),
        frame("/srv/app/venv/lib/python3.11/site-packages/x.py", 1, "x"),
        frame("/opt/py/lib/python3.11/dist-packages/y.py", 1, "y"),
        frame("<frozen importlib._bootstrap>", 1, "_call"),
        frame("<string>", 1, "<module>"),
    ]);
    assert_eq!(
        locate(&exc, "/srv/app", &[]),
        Some(Location {
            file: "engine/__init__.py".into(),
            module: "engine".into(),
            function: "helper".into(),
            line: 4,
        })
    );
    let nested = exception(vec![
        frame("/srv/app/main.py", 3, "<module>"),
        frame("/srv/app/engine/decision_engine.py", 12, "decide"),
        frame("/usr/lib/python3.11/json/decoder.py", 353, "raw_decode"),
    ]);
    assert_eq!(
        locate(&nested, "/srv/app", &[]),
        Some(Location {
            file: "engine/decision_engine.py".into(),
            module: "engine.decision_engine".into(),
            function: "decide".into(),
            line: 12,
        })
    );
    // The root as the caller spelled it and as the kernel resolved it.
    let real = exception(vec![frame(
        "/data/app/engine/decision_engine.py",
        12,
        "decide",
    )]);
    assert_eq!(locate(&real, "/srv/app", &[]), None);
    assert_eq!(
        locate(&real, "/srv/app", &["/data/app"]).map(|l| l.module),
        Some("engine.decision_engine".into())
    );
    let outside = exception(vec![frame(
        "/usr/lib/python3.11/json/decoder.py",
        353,
        "raw_decode",
    )]);
    assert_eq!(locate(&outside, "/srv/app", &[]), None);
}

#[test]
fn locate_relative_paths_from_python38() {
    let tb = &tracebacks_of("py38_attributeerror_relative_paths.txt")[0];
    let loc = locate_traceback(tb, "/srv/app/src", &[]).expect("located");
    assert_eq!(loc.file, "exception_group.py");
    assert_eq!(loc.module, "exception_group");
    assert_eq!((loc.function.as_str(), loc.line), ("main", 8));
}

#[test]
fn locate_traceback_prefers_the_group_member_then_the_chain() {
    let group = &tracebacks_of("py_exception_group.txt")[0];
    let loc = locate_traceback(group, "/srv/app", &[]).expect("located");
    assert_eq!(
        (loc.file.as_str(), loc.function.as_str()),
        ("src/exception_group.py", "bad")
    );
    assert_eq!(loc.module, "src.exception_group");

    // The reported exception comes before its cause, even when the cause is deeper.
    let mp = &tracebacks_of("py_multiprocessing_exc.txt")[0];
    let loc = locate_traceback(mp, "/srv/app/src", &[]).expect("located");
    assert_eq!((loc.function.as_str(), loc.line), ("<module>", 6));
    // With only foreign frames in the reported exception, the chain locates it, newest first.
    let mut chained = mp.clone();
    chained
        .exception
        .frames
        .retain(|f| f.file.starts_with("/usr/"));
    let loc = locate_traceback(&chained, "/srv/app/src", &[]).expect("located");
    assert_eq!((loc.function.as_str(), loc.line), ("work", 3));
    let thread = &tracebacks_of("py_thread_exc.txt")[0];
    let loc = locate_traceback(thread, "/srv/app/src", &[]).expect("located");
    assert_eq!(
        (loc.file.as_str(), loc.function.as_str()),
        ("thread_exc.py", "worker")
    );
    let native = &tracebacks_of("pytest_tb_native.txt")[1];
    let loc = locate_traceback(native, "/srv/app", &[]).expect("located");
    assert_eq!(loc.file, "src/pyt/calc.py");
}

#[test]
fn fingerprints() {
    let a = fingerprint("ValueError", Some("app/x.py"), Some("parse"), "bad value 1");
    let b = fingerprint("ValueError", Some("app/x.py"), Some("parse"), "bad value 2");
    assert_eq!(a, b);
    assert_eq!(a.len(), 16);
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(
        a,
        fingerprint("TypeError", Some("app/x.py"), Some("parse"), "bad value 1")
    );
    assert_ne!(
        a,
        fingerprint("ValueError", Some("app/x.py"), Some("load"), "bad value 1")
    );
    assert_ne!(
        a,
        fingerprint("ValueError", Some("app/y.py"), Some("parse"), "bad value 1")
    );
    assert_ne!(
        a,
        fingerprint(
            "ValueError",
            Some("app/x.py"),
            Some("parse"),
            "other error 1"
        )
    );
    assert_eq!(
        fingerprint("__main__.ConfigError", Some("c.py"), Some("f"), "m"),
        fingerprint("ConfigError", Some("c.py"), Some("f"), "m"),
    );
    assert_eq!(
        normalise_message("KeyError at 0x7f3a2b1c in 'user-42'"),
        "KeyError at <hex> in '<str>'"
    );
}

#[test]
fn line_splitter_memory_is_bounded_by_the_line_limit() {
    const MAX: usize = 8 * 1024;
    let mut splitter = LineSplitter::new(MAX);
    let chunk = vec![b'x'; 64 * 1024];
    let mut lines = Vec::new();
    // 50 MB without a newline.
    for _ in 0..800 {
        splitter.push(&chunk, &mut |l| lines.push(l));
        assert!(
            splitter.capacity() <= MAX,
            "capacity {}",
            splitter.capacity()
        );
        assert!(splitter.buffered() <= MAX);
    }
    assert!(lines.is_empty());
    splitter.push(b"tail\nnext\n", &mut |l| lines.push(l));
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].len(), MAX);
    assert_eq!(lines[1], "next");

    // Invalid UTF-8, split anywhere, never panics.
    let mut splitter = LineSplitter::new(5);
    let mut out = Vec::new();
    for b in b"\xff\xfe\xe2\x82\n\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\n\xc3" {
        splitter.push(&[*b], &mut |l| out.push(l));
    }
    out.extend(splitter.finish());
    assert_eq!(out.len(), 3);
    assert_eq!(out[1], "€"); // cut at a character boundary within 5 bytes
}

#[test]
fn scanner_memory_is_bounded_by_its_limits() {
    let limits = Limits::default();
    let mut scanner = Scanner::new(limits);
    assert!(
        scanner
            .push_line("Traceback (most recent call last):")
            .is_none()
    );
    for i in 0..100_000u32 {
        let file = format!("  File \"/srv/app/deep.py\", line {}, in f{i}", i % 50 + 1);
        assert!(scanner.push_line(&file).is_none());
        assert!(scanner.push_line("    return f(n + 1)").is_none());
        if i % 1000 == 0 {
            assert!(scanner.held_bytes() <= limits.max_block_bytes);
            assert!(scanner.held_lines() <= limits.max_block_lines);
        }
    }
    assert!(
        scanner
            .push_line("RecursionError: maximum recursion depth exceeded")
            .is_none()
    );
    let block = scanner.finish().expect("block");
    assert!(block.text.len() <= limits.max_block_bytes);
    assert!(block.text.lines().count() <= limits.max_block_lines);
    assert_eq!(block.elided_lines, 200_002 - block.text.lines().count() + 1);
    let tb = python::parse(&block.text).traceback.expect("traceback");
    assert_eq!(tb.exception.exc_type, "RecursionError");
    let last = tb.exception.frames.last().expect("frames");
    assert_eq!(last.function, "f99999");
    assert_eq!(tb.exception.frames[0].function, "f0");
}

/// All lines of all fixtures, for the robustness tests.
fn all_fixture_lines() -> Vec<String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    names.sort();
    names
        .iter()
        .flat_map(|p| {
            let bytes = std::fs::read(p).expect("fixture");
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn random_mixes_of_real_lines_stay_bounded_and_never_panic() {
    let lines = all_fixture_lines();
    // xorshift: deterministic, so a failure reproduces.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as usize
    };
    let mut stream = Vec::new();
    for _ in 0..20_000 {
        // Runs of consecutive real lines, so real structures appear cut at random places.
        let start = next() % lines.len();
        for line in lines.iter().skip(start).take(next() % 12 + 1) {
            stream.extend_from_slice(line.as_bytes());
            stream.push(b'\n');
        }
        if next() % 40 == 0 {
            stream.extend_from_slice(b"\xff\xc3 \x1b[31m");
        }
    }
    let limits = Limits {
        max_block_lines: 40,
        max_block_bytes: 4096,
    };
    let mut splitter = LineSplitter::new(300);
    let mut scanner = Scanner::new(limits);
    let mut blocks = Vec::new();
    let mut pos = 0;
    while pos < stream.len() {
        let n = (next() % 300 + 1).min(stream.len() - pos);
        splitter.push(&stream[pos..pos + n], &mut |line: String| {
            blocks.extend(scanner.push_line(&line))
        });
        if next() % 25 == 0 {
            blocks.extend(scanner.quiet());
        }
        assert!(scanner.held_bytes() <= limits.max_block_bytes);
        assert!(scanner.held_lines() <= limits.max_block_lines);
        pos += n;
    }
    blocks.extend(scanner.finish());
    assert!(blocks.len() > 100, "only {} blocks", blocks.len());
    let mut parsed = 0;
    for block in &blocks {
        assert!(block.text.lines().count() <= limits.max_block_lines);
        assert!(block.text.len() <= limits.max_block_bytes);
        if let Some(tb) = python::parse(&block.text).traceback {
            parsed += 1;
            assert!(!tb.exception.exc_type.is_empty());
            let _ = locate_traceback(&tb, "/srv/app", &["/srv/quixbugs"]);
        }
    }
    assert!(parsed > 50, "only {parsed} parsed");
}

#[test]
fn every_head_and_tail_of_every_fixture_parses_without_panicking() {
    for entry in std::fs::read_dir(fixtures_dir()).expect("fixtures directory") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("fixture");
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().collect();
        // Every head and every tail: a block can be cut anywhere by the limits or by EOF.
        // (Every 15th for the 3000-line recursion, to keep the test fast.)
        let step = lines.len() / 200 + 1;
        for cut in (0..=lines.len()).step_by(step) {
            let _ = python::parse(&lines[..cut].join("\n"));
            let _ = python::parse(&lines[cut..].join("\n"));
        }
    }
}
