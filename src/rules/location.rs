//! Where a SyntaxError (or IndentationError, TabError) is, read from its traceback text.
//!
//! CPython prints the error's own location after any frames, as a frame line without `, in`:
//!
//! ```text
//!   File "/srv/app/main.py", line 2
//!     print(1 2)
//!           ^^^
//! SyntaxError: invalid syntax. Perhaps you forgot a comma?
//! ```
//!
//! The source line is printed with its indentation removed, after a margin of four spaces, and
//! the caret line (3.10 and later underline a span, older versions point at one column; TabError
//! and IndentationError may have none) is aligned to it.

use crate::detect::python::parse_frame_line;
use crate::record::model::ErrorInfo;

/// The printed margin before the source line and the caret line.
const MARGIN: usize = 4;

/// A SyntaxError's location, as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SyntaxSite {
    /// The path as printed.
    pub path: String,
    /// 1-based.
    pub line: u32,
    /// The source line as printed: without its indentation.
    pub code: Option<String>,
    /// The underlined span, 1-based inclusive character columns of `code`.
    pub caret: Option<(u32, u32)>,
}

/// Reads a SyntaxError's `File "...", line N` and its caret line from `error.traceback`:
/// the path as printed, the 1-based line, and the 1-based column of the first caret.
///
/// The column counts characters of the source line *with its indentation removed*, because
/// that is how Python prints the line the caret points into: add the line's indentation to
/// find the column in the file. `None` when the traceback holds no such location.
pub fn syntax_location(error: &ErrorInfo) -> Option<(String, u32, Option<u32>)> {
    let site = syntax_site(error)?;
    Some((site.path, site.line, site.caret.map(|(start, _)| start)))
}

/// The last header-less frame line of the traceback, with the source and caret lines under it.
pub(super) fn syntax_site(error: &ErrorInfo) -> Option<SyntaxSite> {
    let lines: Vec<&str> = error.traceback.lines().collect();
    let at = lines
        .iter()
        .rposition(|l| parse_frame_line(l).is_some_and(|f| f.function.is_empty()))?;
    let frame = parse_frame_line(lines[at])?;
    let code = lines
        .get(at + 1)
        .and_then(|l| l.strip_prefix("    "))
        .filter(|l| !l.trim().is_empty());
    let caret = code
        .and_then(|_| lines.get(at + 2))
        .and_then(|l| caret_span(l));
    Some(SyntaxSite {
        path: frame.file,
        line: frame.line,
        code: code.map(str::to_string),
        caret,
    })
}

/// The span a caret line underlines, 1-based inclusive columns after the margin.
fn caret_span(line: &str) -> Option<(u32, u32)> {
    let body = line.trim_end();
    let marks = body.trim_start_matches(' ');
    if marks.is_empty() || !marks.chars().all(|c| c == '^' || c == '~') {
        return None;
    }
    let first = body.find('^')?;
    let last = body.rfind('^')?;
    let start = u32::try_from(first.checked_sub(MARGIN)? + 1).ok()?;
    let end = u32::try_from(last.checked_sub(MARGIN)? + 1).ok()?;
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(traceback: &str) -> ErrorInfo {
        ErrorInfo {
            exc_type: "SyntaxError".into(),
            message: String::new(),
            traceback: traceback.into(),
            frames: Vec::new(),
            related: Vec::new(),
            origin: None,
            stream: None,
            sdk: None,
        }
    }

    #[test]
    fn reads_file_line_and_caret() {
        let e = error(
            "  File \"/srv/app/main.py\", line 2\n    print(1 2)\n          ^^^\n\
             SyntaxError: invalid syntax. Perhaps you forgot a comma?",
        );
        assert_eq!(
            syntax_location(&e),
            Some(("/srv/app/main.py".to_string(), 2, Some(7)))
        );
        let site = syntax_site(&e).unwrap();
        assert_eq!(site.code.as_deref(), Some("print(1 2)"));
        assert_eq!(site.caret, Some((7, 9)));
    }

    #[test]
    fn the_syntax_frame_comes_after_the_import_frames() {
        // See: python3 main.py where main.py imports a module with a missing colon.
        let e = error(
            "Traceback (most recent call last):\n  File \"/t/main.py\", line 1, in <module>\n    \
             import helper\n  File \"/t/helper.py\", line 1\n    def f(x)\n            ^\n\
             SyntaxError: expected ':'",
        );
        assert_eq!(
            syntax_location(&e),
            Some(("/t/helper.py".to_string(), 1, Some(9)))
        );
    }

    #[test]
    fn tab_error_has_no_caret() {
        let e = error(
            "  File \"d.py\", line 3\n    y = 2\nTabError: inconsistent use of tabs and spaces in indentation",
        );
        assert_eq!(syntax_location(&e), Some(("d.py".to_string(), 3, None)));
    }

    #[test]
    fn a_runtime_traceback_has_no_syntax_location() {
        let e = error(
            "Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\n    x\n    ^\n\
             NameError: name 'x' is not defined",
        );
        assert_eq!(syntax_location(&e), None);
    }
}
