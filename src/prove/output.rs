//! "The output is kept": what the unchanged program printed on stdout before its error must be
//! printed the same by the fixed program.
//!
//! Two runs of the unchanged program say which parts of a line vary by themselves (times, ids,
//! counters): a line is cut into words (runs of letters, digits, `_` and `.`) and single other
//! characters; words that differ between the two runs become wildcards. A line whose shape
//! differs (another number of words) is a wildcard whole. Only the lines both runs printed
//! are expected.
//!
//! A traceback the program prints as output (an error it logs and goes on from) is read for
//! what it says, not for where: its frame lines (`File "…", line N, in f`), the source lines
//! under them and their `^^^^` markers show the code, which a fix changes, so they are left out
//! of both sides. The `Traceback` header and the exception's line stay.
//!
//! Pure: lines in, verdict out.

use crate::detect::python;

/// One expected line: its words, `None` where the unchanged runs disagreed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expected {
    Any,
    Words(Vec<Option<String>>),
}

/// What the fixed program must print first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectation {
    lines: Vec<(String, Expected)>,
    /// Lines that vary between runs of the unchanged program.
    pub masked: usize,
}

impl Expectation {
    /// The expectation from two runs of the unchanged program, each cut at its error.
    pub fn from_runs(a: &[String], b: &[String]) -> Expectation {
        let (a, b) = (without_code(a), without_code(b));
        let mut masked = 0;
        let lines = a
            .iter()
            .zip(&b)
            .map(|(x, y)| {
                let expected = if x == y {
                    Expected::Words(words(x).into_iter().map(Some).collect())
                } else {
                    masked += 1;
                    let (wx, wy) = (words(x), words(y));
                    if wx.len() == wy.len() {
                        Expected::Words(
                            wx.into_iter()
                                .zip(wy)
                                .map(|(p, q)| (p == q).then_some(p))
                                .collect(),
                        )
                    } else {
                        Expected::Any
                    }
                };
                (x.clone(), expected)
            })
            .collect();
        Expectation { lines, masked }
    }

    /// Lines expected.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Checks what the fixed program printed: every expected line, in order, each the same but
    /// for its masked words. Lines may come between them: what the code that failed now prints
    /// (an error logged on stderr and a line on stdout are also read from two pipes, so which
    /// came first is not always knowable). `finished`: it ended by itself (a program stopped
    /// at the time limit may not have printed everything yet, unless it already printed as
    /// many lines as expected).
    pub fn check(&self, fixed: &[String], finished: bool) -> Result<(), String> {
        let fixed = without_code(fixed);
        let mut next = 0;
        for (i, (shown, expected)) in self.lines.iter().enumerate() {
            match fixed[next..]
                .iter()
                .position(|line| matches(expected, line))
            {
                Some(at) => next += at + 1,
                None if !finished && fixed.len() < self.lines.len() => return Ok(()),
                None => {
                    return Err(match fixed.get(next) {
                        Some(line) => format!(
                            "line {} of the output was `{}` before the fix and is `{}` after",
                            i + 1,
                            clip(shown),
                            clip(line)
                        ),
                        None => format!(
                            "the program printed {} line(s) before its error, and now ends after \
                             {} (line {} was `{}`)",
                            self.lines.len(),
                            fixed.len(),
                            i + 1,
                            clip(shown)
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

/// `lines` without the code that printed tracebacks show: each frame's `File "…", line N, in f`
/// line, and the lines under it (its source lines, `^^^^` or `~~~^^^` markers, and
/// `[Previous line repeated N more times]`). Read with the detector's own line shapes, so only
/// what has a traceback's shape is left out: a `Traceback` header the program prints that is
/// not followed by a frame line hides nothing after it.
fn without_code(lines: &[String]) -> Vec<String> {
    /// Where the reading is.
    enum At {
        Output,
        /// Right after a `Traceback (most recent call last):` line.
        Header,
        /// In the frames: after a frame line, or the lines under one.
        Frames,
    }
    let mut out = Vec::with_capacity(lines.len());
    let mut at = At::Output;
    for line in lines {
        let frame = python::parse_frame_line(line).is_some();
        let under_frame = line.starts_with("    ")
            || python::is_marker_line(line)
            || line.trim_start().starts_with("[Previous line repeated");
        at = match at {
            At::Header | At::Frames if frame => At::Frames,
            At::Frames if under_frame => At::Frames,
            // The exception's own line, or anything else, ends the frames.
            _ if python::header_prefix(line).is_some() => At::Header,
            _ => At::Output,
        };
        if !matches!(at, At::Frames) {
            out.push(line.clone());
        }
    }
    out
}

fn matches(expected: &Expected, line: &str) -> bool {
    match expected {
        Expected::Any => true,
        Expected::Words(want) => {
            let got = words(line);
            got.len() == want.len()
                && want
                    .iter()
                    .zip(&got)
                    .all(|(w, g)| w.as_ref().is_none_or(|w| w == g))
        }
    }
}

/// Cuts a line into words (letters, digits, `_`, `.`) and single other characters. A word
/// that starts with a digit runs on through `:`, `-`, `/`, `,` and `+` between digits and
/// letters, so a time (`01:02:03`), a date or `1,024` is one word, masked whole when it varies.
fn words(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !is_word(c) {
            out.push(c.to_string());
            i += 1;
            continue;
        }
        let numeric = c.is_ascii_digit();
        let mut word = String::new();
        while i < chars.len() {
            let c = chars[i];
            let joins = numeric
                && ":-/,+".contains(c)
                && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
            if is_word(c) || joins {
                word.push(c);
                i += 1;
            } else {
                break;
            }
        }
        out.push(word);
    }
    out
}

fn clip(line: &str) -> String {
    const MAX: usize = 120;
    if line.chars().count() <= MAX {
        line.to_string()
    } else {
        let cut: String = line.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn the_same_lines_pass_and_a_changed_value_fails_with_both() {
        let e = Expectation::from_runs(&lines("2.5\nok"), &lines("2.5\nok"));
        assert!(e.check(&lines("2.5\nok\n0.0"), true).is_ok());
        let err = e.check(&lines("None\nok"), true).unwrap_err();
        assert_eq!(
            err,
            "line 1 of the output was `2.5` before the fix and is `None` after"
        );
    }

    #[test]
    fn words_that_vary_between_unchanged_runs_are_masked() {
        let e = Expectation::from_runs(
            &lines("started at 01:02:03 pid 41\ntotal 10"),
            &lines("started at 01:02:04 pid 57\ntotal 10"),
        );
        assert_eq!(e.masked, 1);
        assert!(
            e.check(&lines("started at 09:09:09 pid 1\ntotal 10"), true)
                .is_ok()
        );
        assert!(
            e.check(&lines("stopped at 09:09:09 pid 1\ntotal 10"), true)
                .is_err()
        );
        assert!(
            e.check(&lines("started at 09:09:09 pid 1\ntotal 11"), true)
                .is_err()
        );
    }

    #[test]
    fn lines_printed_between_the_expected_ones_are_what_the_fixed_code_adds() {
        // A logged error no longer happens: the greeting it prevented is printed now, before
        // the line the unchanged program printed (or seemed to, across two pipes).
        let e = Expectation::from_runs(&lines("serving"), &lines("serving"));
        assert!(e.check(&lines("hello team\nserving"), false).is_ok());
        assert!(e.check(&lines("hello team\nserving"), true).is_ok());
        // The expected lines must still all be there, in order.
        let e = Expectation::from_runs(&lines("a\nb"), &lines("a\nb"));
        assert!(e.check(&lines("b\na"), true).is_err());
        // Still running, with as many lines as expected and one changed: a change, not yet.
        let e = Expectation::from_runs(&lines("2.5"), &lines("2.5"));
        assert_eq!(
            e.check(&lines("None"), false).unwrap_err(),
            "line 1 of the output was `2.5` before the fix and is `None` after"
        );
    }

    #[test]
    fn a_logged_tracebacks_code_may_change_its_error_may_not() {
        // bench/crashes/cases/service_loop_stdout: the service logs sensor c's TimeoutError,
        // with its traceback, on stdout each cycle; the fix changed the line of `main.py` the
        // traceback shows, and moved it down one.
        let logged = |line: u32, code: &str, marks: &str, error: &str| {
            lines(&format!(
                "INFO poller: cycle 0: mean 20.50\nERROR poller: sensor c offline\n\
                 Traceback (most recent call last):\n  File \"/app/main.py\", line {line}, in mean_temperature\n\
                 \x20   {code}\n\x20   {marks}\n  File \"/app/main.py\", line 23, in read_sensor\n\
                 \x20   raise TimeoutError(f\"sensor {{sensor}} did not answer\")\n{error}\nINFO poller: done"
            ))
        };
        let before = logged(
            33,
            "values.append(read_sensor(cycle, sensor))",
            "              ^^^^^^^^^^^^^^^^^^^^^^^^^^",
            "TimeoutError: sensor c did not answer",
        );
        let e = Expectation::from_runs(&before, &before);
        let fixed = logged(
            34,
            "value = float(read_sensor(cycle, sensor))",
            "              ^^^^^^^^^^^^^^^^^^^^^^^^^^",
            "TimeoutError: sensor c did not answer",
        );
        assert!(e.check(&fixed, true).is_ok(), "{:?}", e.check(&fixed, true));
        // Without markers (Python before 3.11, or a call that is its whole line).
        let mut bare = fixed.clone();
        bare.retain(|l| !l.trim_start().starts_with('^'));
        assert!(e.check(&bare, true).is_ok());
        // What the traceback says is output: another error logged is a change.
        let other = logged(
            34,
            "value = float(read_sensor(cycle, sensor))",
            "",
            "ValueError: could not convert string to float: 'c'",
        );
        let err = e.check(&other, true).unwrap_err();
        assert!(
            err.contains("TimeoutError: sensor c did not answer"),
            "{err}"
        );
        // Indented output outside a traceback is still output.
        let e = Expectation::from_runs(&lines("total:\n    42"), &lines("total:\n    42"));
        assert!(e.check(&lines("total:\n    41"), true).is_err());
    }

    #[test]
    fn a_printed_traceback_header_hides_only_what_has_a_frames_shape() {
        // A program (or a value it echoes) prints the header itself, and then its results
        // indented: they are output, not a traceback's code, and a fix may not change them.
        let printed = |total: &str| {
            lines(&format!(
                "report\nTraceback (most recent call last):\n    total: {total}\n    \
                 ^^^^\nend"
            ))
        };
        let e = Expectation::from_runs(&printed("42"), &printed("42"));
        let err = e.check(&printed("41"), true).unwrap_err();
        assert!(err.contains("total: 42"), "{err}");
        // A frame line, then what is under it, then the exception: only the frames go.
        let logged = |code: &str| {
            lines(&format!(
                "Traceback (most recent call last):\n  File \"/app/m.py\", line 3, in f\n    \
                 {code}\n    ^^^^\n  [Previous line repeated 2 more times]\nValueError: bad\n    \
                 after: 1"
            ))
        };
        let e = Expectation::from_runs(&logged("f(x)"), &logged("f(x)"));
        assert!(e.check(&logged("f(float(x))"), true).is_ok());
        // Indented lines after the exception's line are output again.
        let mut changed = logged("f(x)");
        changed[6] = "    after: 2".to_string();
        assert!(e.check(&changed, true).is_err());
    }

    #[test]
    fn fewer_lines_fail_only_when_the_program_ended() {
        let e = Expectation::from_runs(&lines("a\nb"), &lines("a\nb\nc"));
        assert_eq!(e.len(), 2);
        assert!(e.check(&lines("a"), false).is_ok());
        assert!(
            e.check(&lines("a"), true)
                .unwrap_err()
                .contains("printed 2 line(s)")
        );
    }
}
