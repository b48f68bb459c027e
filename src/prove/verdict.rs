//! The re-run's verdict: the fixed program judged against the program as it was (the
//! baseline), not against an ideal program that never errs.
//!
//! In order, for the errors the fixed run printed (raised or logged, either stream):
//! 1. the incident's own error (same type, raised in the same file and function) fails it;
//! 2. an error in a line the fix added or changed (any project frame of its traceback; only
//!    the innermost for an error the baseline printed too), or
//!    whose innermost project frame is inside a function the fix edited, or that names a
//!    module-level name the fix deleted (an import, a definition), or that is about a None
//!    raised on a line calling a function the fix edited, fails it: the fix caused it;
//! 3. an error the baseline also printed is tolerated: it is its own incident;
//! 4. any other error, in code the fix did not touch, is **progress** when the baseline
//!    reproduced the incident: the program now gets further than it did, and that error is
//!    the next link of a crash chain. When the baseline did not reproduce the incident, it
//!    cannot say what is new, and such errors are tolerated and named;
//! 5. with no new error, the run passes if it exited 0 or was still running at the time
//!    limit; any other end fails it.
//!
//! Pure: parsed tracebacks and facts in, verdict out.

use crate::detect::locate::{self, Location};

use super::ErrorSignature;
use super::edited::Edited;
use super::run::Printed;

/// An error a run printed, placed in the copy it ran in.
#[derive(Debug, Clone)]
pub struct Seen {
    pub printed: Printed,
    pub signature: ErrorSignature,
    /// The innermost project frame.
    pub location: Option<Location>,
    /// Every project frame of the error, innermost last: (relative file, line).
    pub frames: Vec<(String, u32)>,
}

impl Seen {
    /// Places `printed` in the project copied at `root` (spelt as the run saw it).
    pub fn new(printed: Printed, roots: &[&str]) -> Seen {
        let (root, extra) = roots.split_first().map_or(("", &[][..]), |(r, e)| (*r, e));
        let tb = &printed.traceback;
        let location = locate::locate_traceback(tb, root, extra);
        let frames = tb
            .primary()
            .frames
            .iter()
            .filter_map(|f| Some((locate::project_file(&f.file, root, extra)?, f.line)))
            .collect();
        Seen {
            signature: ErrorSignature::from_traceback(tb),
            location,
            frames,
            printed,
        }
    }

    /// `NameError: name 'x' is not defined (main.py:12, in report)`.
    pub fn summary(&self) -> String {
        let first = self.signature.message.lines().next().unwrap_or("");
        let mut out = self.signature.exc_type.clone();
        if !first.is_empty() {
            out.push_str(": ");
            out.push_str(first);
        }
        if let Some(l) = &self.location {
            out.push_str(&format!(" ({}:{}, in {})", l.file, l.line, l.function));
        }
        out
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ending {
    pub exit: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    /// The time limit, for the wording.
    pub limit_s: f32,
}

/// What the fixed run is judged against.
pub struct Against<'a> {
    /// The incident's error.
    pub original: &'a ErrorSignature,
    /// Errors the unchanged program printed.
    pub known: &'a [ErrorSignature],
    /// Whether the unchanged program showed the incident's error.
    pub reproduced: bool,
    pub edited: &'a Edited,
}

/// The re-run's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunVerdict {
    Clean {
        detail: String,
    },
    /// The fix holds and the program gets further, to the error at `next` (an index into the
    /// run's errors).
    Progress {
        next: usize,
        detail: String,
    },
    Failed {
        detail: String,
    },
}

impl RunVerdict {
    pub fn passed(&self) -> bool {
        !matches!(self, RunVerdict::Failed { .. })
    }

    pub fn detail(&self) -> &str {
        match self {
            RunVerdict::Clean { detail }
            | RunVerdict::Progress { detail, .. }
            | RunVerdict::Failed { detail } => detail,
        }
    }
}

/// Judges the fixed run: its errors, in order, and how it ended.
pub fn judge(errors: &[Seen], ending: Ending, against: &Against<'_>) -> RunVerdict {
    let mut tolerated: Vec<String> = Vec::new();
    let mut new: Option<usize> = None;
    for (i, seen) in errors.iter().enumerate() {
        if against.original.is_same_error(&seen.signature) {
            return RunVerdict::Failed {
                detail: format!("the same error again: {}", seen.summary()),
            };
        }
        let known = against
            .known
            .iter()
            .any(|k| k.is_same_error(&seen.signature));
        if let Some(why) = caused_by_the_fix(seen, against.edited, known) {
            return RunVerdict::Failed {
                detail: format!("a new error {why}: {}", seen.summary()),
            };
        }
        if known {
            push_once(&mut tolerated, seen.signature.summary());
        } else if against.reproduced {
            new.get_or_insert(i);
        } else {
            push_once(
                &mut tolerated,
                format!(
                    "{} (not judged: the baseline did not reproduce the incident)",
                    seen.signature.summary()
                ),
            );
        }
    }
    let tolerated_note = if tolerated.is_empty() {
        String::new()
    } else {
        format!(
            "; tolerated, the unchanged program has them too: {}",
            tolerated.join("; ")
        )
    };
    if let Some(next) = new {
        return RunVerdict::Progress {
            next,
            detail: format!(
                "the error is gone and the program gets further, to a new error in code the fix \
                 did not touch: {}{tolerated_note}",
                errors[next].summary()
            ),
        };
    }
    if ending.timed_out {
        return RunVerdict::Clean {
            detail: format!(
                "still running after {} s without the error; stopped{tolerated_note}",
                ending.limit_s
            ),
        };
    }
    match ending.exit {
        Some(0) => RunVerdict::Clean {
            detail: format!("exited with code 0 without the error{tolerated_note}"),
        },
        _ if tolerated.is_empty() => RunVerdict::Failed {
            detail: format!(
                "the program {} without a traceback; the original was {}",
                super::describe_exit(ending.exit, ending.signal),
                against.original.summary()
            ),
        },
        _ => RunVerdict::Failed {
            detail: format!(
                "the program {} after {}",
                super::describe_exit(ending.exit, ending.signal),
                tolerated.join("; ")
            ),
        },
    }
}

/// How the runs' timing reads, for the hang rule ([`no_longer_ends`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The longest run of the unchanged program, when every run ended by itself; `None` when
    /// one was still running at the limit (a service), or there was none.
    pub baseline_longest: Option<std::time::Duration>,
    pub limit: std::time::Duration,
    /// The fixed run was still running at the limit.
    pub timed_out: bool,
    /// When the fixed run last printed, after its start.
    pub last_output: Option<std::time::Duration>,
    /// The CPU time the fixed run had used at the limit.
    pub cpu: Option<std::time::Duration>,
}

/// The hang rule: a fix that turns a crash into a hang is no fix. When the unchanged program
/// ended by itself within half the limit, and the fixed one is still running at the limit
/// while burning CPU (more than half the limit's time) or having printed nothing at all, the
/// program no longer ends. A program that was running at the limit before the fix (a service)
/// may be running at the limit after it; so may one that prints, or waits without burning
/// CPU, as a service does once started.
pub fn no_longer_ends(t: Timing) -> Option<String> {
    let ended_within = t.baseline_longest?;
    if !t.timed_out || ended_within > t.limit / 2 {
        return None;
    }
    let burning = t.cpu.is_some_and(|c| c >= t.limit / 2);
    let silent = t.last_output.is_none();
    if !burning && !silent {
        return None;
    }
    let how = match (burning, t.cpu) {
        (true, Some(cpu)) => format!("burning {:.1} s of CPU", cpu.as_secs_f32()),
        _ => "printing nothing".to_string(),
    };
    Some(format!(
        "the program no longer ends: the unchanged program ended within {:.1} s, and the fixed one was still running after {:.0} s, {how}",
        ended_within.as_secs_f32(),
        t.limit.as_secs_f32()
    ))
}

/// Why the fix caused `seen`, if it did: a frame on a line it changed, the innermost
/// project frame in a function it edited, or a name it unbound (a deleted import makes its
/// ImportError go away and a NameError appear in code the fix did not touch).
///
/// For an error the unchanged program printed too (`known`), only its innermost frame
/// counts: a service's logged error raised in code the fix did not touch is still its own
/// incident when its traceback passes through a line the fix changed (the bench's
/// `service_loop_stdout`: `float(read_sensor(...))` around the call whose TimeoutError is
/// logged every cycle).
fn caused_by_the_fix(seen: &Seen, edited: &Edited, known: bool) -> Option<String> {
    if let Some(name) =
        super::bindings::missing_name(&seen.signature.exc_type, &seen.signature.message)
        && let Some(file) = edited.unbinding(&name)
    {
        return Some(format!(
            "naming `{name}`, which the fix deleted from {file}"
        ));
    }
    let frames = if known {
        &seen.frames[seen.frames.len().saturating_sub(1)..]
    } else {
        &seen.frames[..]
    };
    for (file, line) in frames.iter().rev() {
        if edited.changed_line(file, *line) {
            return Some(format!("in a line the fix changed ({file}:{line})"));
        }
    }
    let loc = seen.location.as_ref()?;
    if let Some(func) = edited.function_at(&loc.file, loc.line) {
        return Some(format!(
            "in a function the fix edited ({}, {}:{})",
            func.qualname, loc.file, loc.line
        ));
    }
    let callee = none_from_an_edited_call(seen, edited)?;
    Some(format!(
        "on a None that {callee}, which the fix edited, handed to its caller ({}:{})",
        loc.file, loc.line
    ))
}

/// For an error about a None raised on a line that calls a function the fix edited and gave
/// a way to return None it did not have ([`Edited::gave_none`]), that function's name. The
/// caller, which the fix did not touch, failed on the fix's None: `if conversions != 0: return spend /
/// conversions` (the bench's `zero_division_doc`) made `f"{cost_per_conversion(c):.2f}"`
/// fail, which without this passed as the program getting further. A function that could
/// return None before (a lookup that finds nothing) is not judged so: its None may be the
/// next bug of a crash chain, which the fix only reached.
fn none_from_an_edited_call(seen: &Seen, edited: &Edited) -> Option<String> {
    let exc = seen.printed.traceback.primary();
    let short = exc.exc_type.rsplit('.').next().unwrap_or(&exc.exc_type);
    // Python 3.12's `unsupported format string passed to NoneType.__format__` has no quotes.
    let about_none =
        matches!(short, "AttributeError" | "TypeError") && exc.message.contains("NoneType");
    if !about_none {
        return None;
    }
    let code = exc.frames.last()?.code.as_deref()?;
    edited
        .functions()
        .into_iter()
        .map(|(_, qualname)| qualname)
        .find(|qualname| {
            let leaf = qualname.rsplit('.').next().unwrap_or(qualname);
            edited.gave_none(qualname) && calls(code, leaf)
        })
}

/// Whether `code` calls `name` (`name(` not preceded by a letter, digit or `_`).
fn calls(code: &str, name: &str) -> bool {
    let pattern = format!("{name}(");
    code.match_indices(&pattern).any(|(at, _)| {
        !code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

fn push_once(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::{Plan, PlannedFile};
    use crate::prove::run::Stream;

    const ROOT: &str = "/tmp/copy";

    const BEFORE: &str = "import missing\n\n\ndef report(x):\n    curent = x\n    return current\n\n\ndef main():\n    print(report(1))\n\n\nmain()\n";

    fn seen(exc: &str, frames: &[(&str, u32, &str)]) -> Seen {
        let mut text = String::from("Traceback (most recent call last):\n");
        for (file, line, func) in frames {
            text.push_str(&format!(
                "  File \"{ROOT}/{file}\", line {line}, in {func}\n"
            ));
        }
        text.push_str(exc);
        text.push('\n');
        let tb = crate::detect::python::parse(&text).traceback.unwrap();
        Seen::new(
            Printed {
                traceback: tb,
                stream: Stream::Stderr,
                seq: 1,
            },
            &[ROOT],
        )
    }

    fn edited(after: &str) -> Edited {
        Edited::of(&Plan {
            files: vec![PlannedFile {
                rel: "main.py".into(),
                abs: "/x/main.py".into(),
                before: BEFORE.into(),
                after: after.into(),
            }],
        })
    }

    fn original() -> ErrorSignature {
        seen(
            "ModuleNotFoundError: No module named 'missing'",
            &[("main.py", 1, "<module>")],
        )
        .signature
    }

    fn ending(exit: i32) -> Ending {
        Ending {
            exit: Some(exit),
            signal: None,
            timed_out: false,
            limit_s: 10.0,
        }
    }

    /// The verdict on a fixed run that printed `errors` and exited with code 1, against a
    /// baseline that reproduced the incident and printed nothing else.
    fn crashed_with(errors: &[Seen], e: &Edited) -> RunVerdict {
        judge(
            errors,
            ending(1),
            &Against {
                original: &original(),
                known: &[],
                reproduced: true,
                edited: e,
            },
        )
    }

    /// The verdict on a fixed `after` whose run crashed with a NameError at `line` of
    /// `report`, against a baseline that reproduced the incident.
    fn judged_after_a_crash_in_report(after: &str, line: u32) -> RunVerdict {
        let e = edited(after);
        let errors = [seen(
            "NameError: name 'current' is not defined",
            &[
                ("main.py", 12, "<module>"),
                ("main.py", 9, "main"),
                ("main.py", line, "report"),
            ],
        )];
        crashed_with(&errors, &e)
    }

    #[test]
    fn a_new_error_in_a_method_the_fix_nested_a_def_in_is_the_fixs() {
        // BEFORE's `report` gets a nested def in place of its first line; the error that
        // follows, on the next line of `report`, is the fix's doing, not progress.
        let after = BEFORE.replacen("    curent = x\n", "    def curent(y): return y\n", 1);
        let v = judged_after_a_crash_in_report(&after, 6);
        match v {
            RunVerdict::Failed { detail } => {
                assert!(
                    detail.contains("a function the fix edited (report"),
                    "{detail}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_new_error_in_untouched_code_is_progress() {
        let after = BEFORE.replacen("import missing\n", "", 1);
        let v = judged_after_a_crash_in_report(&after, 5);
        assert!(matches!(v, RunVerdict::Progress { next: 0, .. }), "{v:?}");
        let e = edited(&after);
        let errors = [seen(
            "NameError: name 'current' is not defined",
            &[
                ("main.py", 12, "<module>"),
                ("main.py", 9, "main"),
                ("main.py", 5, "report"),
            ],
        )];
        let o = original();
        // Without a reproduced baseline, nothing is known to be new: the crash fails it.
        let v = judge(
            &errors,
            ending(1),
            &Against {
                original: &o,
                known: &[],
                reproduced: false,
                edited: &e,
            },
        );
        assert!(matches!(v, RunVerdict::Failed { .. }), "{v:?}");
    }

    /// The verdict on a run whose error `exc` was raised in `main` (line 10 of BEFORE-like
    /// text) on the source line `code`, after a fix that edited `report`.
    fn judged_with_code(after: &str, exc: &str, code: &str) -> RunVerdict {
        let e = edited(after);
        let text = format!(
            "Traceback (most recent call last):\n  File \"{ROOT}/main.py\", line 13, in <module>\n    main()\n  File \"{ROOT}/main.py\", line 10, in main\n    {code}\n{exc}\n"
        );
        let tb = crate::detect::python::parse(&text).traceback.unwrap();
        let errors = [Seen::new(
            Printed {
                traceback: tb,
                stream: Stream::Stderr,
                seq: 1,
            },
            &[ROOT],
        )];
        crashed_with(&errors, &e)
    }

    #[test]
    fn a_none_an_edited_function_hands_its_untouched_caller_is_the_fixs() {
        // bench/crashes/cases/zero_division_doc: the guard made the function return None,
        // and the caller's format failed (Python 3.12 spells it without quotes).
        // The fix gives report a way to return None (lines 5-6, the line count kept).
        let guarded = BEFORE.replacen(
            "    curent = x\n    return current\n",
            "    if x:\n        return x\n",
            1,
        );
        let v = judged_with_code(
            &guarded,
            "TypeError: unsupported format string passed to NoneType.__format__",
            "print(f\"{report(1):.2f}\")",
        );
        match v {
            RunVerdict::Failed { detail } => {
                assert!(detail.contains("a None that report"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
        let v = judged_with_code(
            &guarded,
            "AttributeError: 'NoneType' object has no attribute 'upper'",
            "print(report(1).upper())",
        );
        assert!(matches!(v, RunVerdict::Failed { .. }), "{v:?}");
        // A fix that leaves report always returning a value: the None came from elsewhere
        // on that line, and the error is the next link of a crash chain.
        let renamed = BEFORE.replacen("    curent = x\n", "    current = x\n", 1);
        let v = judged_with_code(
            &renamed,
            "AttributeError: 'NoneType' object has no attribute 'upper'",
            "print(report(1).upper())",
        );
        assert!(matches!(v, RunVerdict::Progress { .. }), "{v:?}");
        // One that could return None before the fix too (a lookup that finds nothing): its
        // None is the program's next bug, not the fix's.
        let lookup = "import missing\n\n\ndef report(x):\n    if x:\n        return x\n\n\ndef main():\n    print(report(1))\n\n\nmain()\n";
        let lookup_fixed = lookup
            .replacen("import missing\n", "import os\n", 1)
            .replacen("    if x:", "    if x > 0:", 1);
        let e = Edited::of(&Plan {
            files: vec![PlannedFile {
                rel: "main.py".into(),
                abs: "/x/main.py".into(),
                before: lookup.into(),
                after: lookup_fixed,
            }],
        });
        assert!(!e.gave_none("report"), "{e:?}");
        // Near misses are progress: a None on a line that calls no edited function, a call
        // of another function whose name ends the same, and another kind of error.
        for (exc, code) in [
            (
                "AttributeError: 'NoneType' object has no attribute 'upper'",
                "print(lookup(1).upper())",
            ),
            (
                "AttributeError: 'NoneType' object has no attribute 'upper'",
                "print(old_report(1).upper())",
            ),
            (
                "ValueError: could not convert string to float: 'x'",
                "print(float(report(1)))",
            ),
        ] {
            let v = judged_with_code(&guarded, exc, code);
            assert!(matches!(v, RunVerdict::Progress { .. }), "{code}: {v:?}");
        }
    }

    #[test]
    fn a_name_error_for_an_import_the_fix_deleted_is_the_fixs_not_progress() {
        // pkg_import_name_typo: the model deleted the failing import; the ImportError went
        // away, and the NameError in a function it did not touch passed as progress.
        let after = BEFORE.replacen("import missing\n", "", 1);
        let e = edited(&after);
        let errors = [seen(
            "NameError: name 'missing' is not defined",
            &[
                ("main.py", 12, "<module>"),
                ("main.py", 9, "main"),
                ("main.py", 5, "report"),
            ],
        )];
        let v = crashed_with(&errors, &e);
        match v {
            RunVerdict::Failed { detail } => assert!(
                detail.contains("naming `missing`, which the fix deleted from main.py"),
                "{detail}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_same_error_or_one_in_edited_code_fails() {
        let o = original();
        let after = BEFORE.replace("    return current\n", "    return curent + missing\n");
        let e = edited(&after);
        let again = [seen(
            "ModuleNotFoundError: No module named 'missing'",
            &[("main.py", 1, "<module>")],
        )];
        let against = Against {
            original: &o,
            known: &[],
            reproduced: true,
            edited: &e,
        };
        let v = judge(&again, ending(1), &against);
        assert!(v.detail().starts_with("the same error again"), "{v:?}");
        let inside = [seen(
            "TypeError: unsupported operand",
            &[
                ("main.py", 12, "<module>"),
                ("main.py", 9, "main"),
                ("main.py", 6, "report"),
            ],
        )];
        let v = judge(&inside, ending(1), &against);
        assert!(
            v.detail().contains("in a line the fix changed (main.py:6)"),
            "{v:?}"
        );
        // Deeper than the changed line, still inside the edited function.
        let after = BEFORE.replace("    curent = x\n", "    curent = x\n    x = x\n");
        let e = edited(&after);
        let deeper = [seen(
            "NameError: name 'current' is not defined",
            &[
                ("main.py", 12, "<module>"),
                ("main.py", 9, "main"),
                ("main.py", 7, "report"),
            ],
        )];
        let v = judge(
            &deeper,
            ending(1),
            &Against {
                original: &o,
                known: &[],
                reproduced: true,
                edited: &e,
            },
        );
        assert!(
            v.detail().contains("in a function the fix edited (report"),
            "{v:?}"
        );
    }

    #[test]
    fn errors_the_baseline_had_are_tolerated() {
        let o = original();
        let after = BEFORE.replacen("import missing\n", "", 1);
        let e = edited(&after);
        let logged = seen("ValueError: bad row", &[("main.py", 9, "main")]);
        let known = [logged.signature.clone()];
        let v = judge(
            &[logged],
            Ending {
                exit: None,
                signal: None,
                timed_out: true,
                limit_s: 10.0,
            },
            &Against {
                original: &o,
                known: &known,
                reproduced: true,
                edited: &e,
            },
        );
        assert!(matches!(v, RunVerdict::Clean { .. }), "{v:?}");
        assert!(v.detail().contains("tolerated"), "{v:?}");
    }

    #[test]
    fn a_known_error_through_a_changed_line_is_tolerated_a_new_one_is_not() {
        // bench/crashes/cases/service_loop_stdout: the logged TimeoutError raised in
        // `read_sensor`, which the fix did not touch, passes through the call line it
        // changed (line 10 of main here).
        let o = original();
        let after = BEFORE.replacen("    print(report(1))\n", "    print(float(report(1)))\n", 1);
        let e = edited(&after);
        let through = |exc: &str| {
            seen(
                exc,
                &[
                    ("main.py", 13, "<module>"),
                    ("main.py", 10, "main"),
                    ("main.py", 6, "report"),
                ],
            )
        };
        let logged = through("TimeoutError: sensor c did not answer");
        let known = [logged.signature.clone()];
        let against = Against {
            original: &o,
            known: &known,
            reproduced: true,
            edited: &e,
        };
        let v = judge(std::slice::from_ref(&logged), ending(0), &against);
        assert!(matches!(v, RunVerdict::Clean { .. }), "{v:?}");
        // A fix that lets the known error through, so that the program dies of it, is no
        // fix: the error is tolerated, the crash exit is not.
        let v = judge(&[logged.clone(), logged], ending(1), &against);
        match v {
            RunVerdict::Failed { detail } => assert!(
                detail.contains("exited with code 1 after TimeoutError"),
                "{detail}"
            ),
            other => panic!("{other:?}"),
        }
        // The same path with an error the baseline did not have is the fix's.
        let v = judge(
            &[through("ValueError: could not convert")],
            ending(1),
            &against,
        );
        match v {
            RunVerdict::Failed { detail } => {
                assert!(
                    detail.contains("a line the fix changed (main.py:10)"),
                    "{detail}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_crash_turned_into_a_busy_or_silent_hang_no_longer_ends() {
        use std::time::Duration as D;
        let t = |baseline: Option<u64>, cpu: Option<u64>, out: Option<u64>| Timing {
            baseline_longest: baseline.map(D::from_millis),
            limit: D::from_secs(10),
            timed_out: true,
            last_output: out.map(D::from_millis),
            cpu: cpu.map(D::from_millis),
        };
        // `while True: pass` in place of a crash.
        let why = no_longer_ends(t(Some(100), Some(9_800), Some(50))).unwrap();
        assert!(
            why.contains("no longer ends") && why.contains("burning"),
            "{why}"
        );
        // Silent from the start.
        assert!(no_longer_ends(t(Some(100), Some(10), None)).is_some());
        // A service once started: it printed, and waits.
        assert!(no_longer_ends(t(Some(100), Some(300), Some(200))).is_none());
        // A service before the fix too.
        assert!(no_longer_ends(t(None, Some(9_800), None)).is_none());
        // The unchanged program took most of the limit: no telling.
        assert!(no_longer_ends(t(Some(8_000), Some(9_800), None)).is_none());
    }

    #[test]
    fn a_bad_exit_without_a_traceback_fails() {
        let o = original();
        let e = edited(&BEFORE.replacen("import missing\n", "", 1));
        let against = Against {
            original: &o,
            known: &[],
            reproduced: true,
            edited: &e,
        };
        assert!(judge(&[], ending(0), &against).passed());
        let v = judge(&[], ending(3), &against);
        assert!(v.detail().contains("code 3"), "{v:?}");
    }
}
