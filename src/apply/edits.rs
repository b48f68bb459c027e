//! Applies a fix's search/replace edits to the text of one file. Pure: text in, text out.
//!
//! Each edit's `search` must locate exactly one place in the file as it is after the edits
//! before it. An exact match is tried first. Only when it finds nothing, a forgiving match is
//! tried, line by line: trailing whitespace is ignored and the indentation may be shifted by the
//! same width on every line (models often drop or add a level of indentation when they quote
//! code); the replacement is then shifted by that width too. Single and double quotes are taken
//! as the same character (small models re-quote the code they copy; to Python `'a'` and `"a"`
//! are one string). Either match must be unique.
//!
//! It must never guess: a search that matches nowhere or in several places is an error naming
//! the edit (the caller sends it back to the model), and one failing edit fails them all, so a
//! file is never left with half a fix.

use crate::analyse::answer::Edit;

/// Why an edit could not be applied; `index` is the edit's position in the slice given to
/// [`apply_edits`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("edit {index} cannot be applied: {kind}")]
pub struct EditError {
    pub index: usize,
    pub kind: EditErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditErrorKind {
    #[error("its search text does not occur in the file")]
    NotFound,
    #[error("its search text occurs {count} times in the file; it must occur exactly once")]
    Ambiguous { count: usize },
    #[error("its search text is empty")]
    EmptySearch,
}

/// Applies `edits` to `original` in order, all or none.
pub fn apply_edits(original: &str, edits: &[&Edit]) -> Result<String, EditError> {
    let mut text = original.to_string();
    for (index, edit) in edits.iter().enumerate() {
        let fail = |kind| EditError { index, kind };
        // A whitespace-only search would match blank lines anywhere: it locates nothing.
        if edit.search.trim().is_empty() {
            return Err(fail(EditErrorKind::EmptySearch));
        }
        text = match count_exact(&text, &edit.search) {
            (1, Some(at)) => {
                let mut out = String::with_capacity(text.len() + edit.replace.len());
                out.push_str(&text[..at]);
                out.push_str(&edit.replace);
                out.push_str(&text[at + edit.search.len()..]);
                out
            }
            (0, _) => match fuzzy_match(&text, &edit.search) {
                Fuzzy::One(m) => m.splice(&text, &edit.replace),
                Fuzzy::None => return Err(fail(EditErrorKind::NotFound)),
                Fuzzy::Many(count) => return Err(fail(EditErrorKind::Ambiguous { count })),
            },
            (count, _) => return Err(fail(EditErrorKind::Ambiguous { count })),
        };
    }
    Ok(text)
}

/// How many times `needle` occurs in `hay`, overlaps included (two overlapping matches are as
/// ambiguous as two apart), and where the first one starts.
fn count_exact(hay: &str, needle: &str) -> (usize, Option<usize>) {
    let mut count = 0;
    let mut first = None;
    let mut from = 0;
    while let Some(pos) = hay[from..].find(needle) {
        let at = from + pos;
        first.get_or_insert(at);
        count += 1;
        // Step past the first character of this match so overlapping matches are counted.
        let step = hay[at..].chars().next().map_or(1, char::len_utf8);
        from = at + step;
    }
    (count, first)
}

/// One line of the file: where its content starts and ends, and where its line ending ends.
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    content_end: usize,
    end: usize,
}

fn split_lines(text: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            let content_end = if i > start && text.as_bytes()[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            lines.push(Line {
                start,
                content_end,
                end: i + 1,
            });
            start = i + 1;
        }
    }
    if start < text.len() {
        lines.push(Line {
            start,
            content_end: text.len(),
            end: text.len(),
        });
    }
    lines
}

/// Python's rule: a tab advances to the next multiple of 8 columns.
const TAB_WIDTH: usize = 8;

/// The width in columns of a line's leading whitespace, and the rest of the line without its
/// trailing whitespace.
fn indent_and_body(line: &str) -> (usize, &str) {
    let mut width = 0;
    let mut body_at = line.len();
    for (i, c) in line.char_indices() {
        match c {
            ' ' => width += 1,
            '\t' => width = (width / TAB_WIDTH + 1) * TAB_WIDTH,
            _ => {
                body_at = i;
                break;
            }
        }
    }
    (width, line[body_at..].trim_end())
}

enum Fuzzy {
    None,
    One(FuzzyMatch),
    Many(usize),
}

/// A unique line-wise match: the byte range it covers and the indentation shift to apply to
/// the replacement.
struct FuzzyMatch {
    start: usize,
    end: usize,
    /// File indentation minus search indentation, in columns.
    shift: isize,
    /// The matched lines use tabs for indentation, so the replacement should too.
    tabs: bool,
    crlf: bool,
}

fn fuzzy_match(text: &str, search: &str) -> Fuzzy {
    // A trailing newline in the search means "to the end of the line, line ending included".
    let (search_body, takes_eol) = match search.strip_suffix('\n') {
        Some(s) => (s.strip_suffix('\r').unwrap_or(s), true),
        None => (search, false),
    };
    let wanted: Vec<(usize, &str)> = search_body.split('\n').map(indent_and_body).collect();
    let lines = split_lines(text);
    if wanted.len() > lines.len() {
        return Fuzzy::None;
    }
    let mut found: Option<FuzzyMatch> = None;
    let mut count = 0;
    for first in 0..=lines.len() - wanted.len() {
        let window = &lines[first..first + wanted.len()];
        let Some(shift) = same_lines(text, window, &wanted) else {
            continue;
        };
        count += 1;
        if found.is_none() {
            let last = window[window.len() - 1];
            let first_line = &text[window[0].start..window[0].content_end];
            found = Some(FuzzyMatch {
                start: window[0].start,
                end: if takes_eol {
                    last.end
                } else {
                    last.content_end
                },
                shift,
                tabs: window
                    .iter()
                    .map(|l| &text[l.start..l.content_end])
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or(first_line)
                    .starts_with('\t'),
                crlf: text[window[0].content_end..window[0].end].starts_with('\r'),
            });
        }
    }
    match (count, found) {
        (1, Some(m)) => Fuzzy::One(m),
        (0, _) | (_, None) => Fuzzy::None,
        (n, _) => Fuzzy::Many(n),
    }
}

/// Whether `window` holds the `wanted` lines with one common indentation shift; the shift.
fn same_lines(text: &str, window: &[Line], wanted: &[(usize, &str)]) -> Option<isize> {
    let mut shift: Option<isize> = None;
    for (line, &(want_indent, want_body)) in window.iter().zip(wanted) {
        let (indent, body) = indent_and_body(&text[line.start..line.content_end]);
        if !same_code(body, want_body) {
            return None;
        }
        // Blank lines carry no indentation worth comparing.
        if body.is_empty() {
            continue;
        }
        let delta = isize::try_from(indent).ok()? - isize::try_from(want_indent).ok()?;
        match shift {
            None => shift = Some(delta),
            Some(s) if s == delta => {}
            Some(_) => return None,
        }
    }
    // A search of only blank lines is refused earlier; treat it as no shift anyway.
    Some(shift.unwrap_or(0))
}

/// Equal, counting `'` and `"` as one character.
fn same_code(a: &str, b: &str) -> bool {
    let norm = |c: char| if c == '\'' { '"' } else { c };
    a.len() == b.len() && a.chars().map(norm).eq(b.chars().map(norm))
}

impl FuzzyMatch {
    fn splice(&self, text: &str, replace: &str) -> String {
        let eol = if self.crlf { "\r\n" } else { "\n" };
        let mut new = String::with_capacity(replace.len() + 64);
        let mut parts = replace.split('\n').peekable();
        while let Some(part) = parts.next() {
            let part = part.strip_suffix('\r').unwrap_or(part);
            new.push_str(&self.reindent(part));
            if parts.peek().is_some() {
                new.push_str(eol);
            }
        }
        let mut out = String::with_capacity(text.len() + new.len());
        out.push_str(&text[..self.start]);
        out.push_str(&new);
        out.push_str(&text[self.end..]);
        out
    }

    fn reindent(&self, line: &str) -> String {
        // Rebuilt also without a shift in a tab-indented file: replacement lines quoted with
        // spaces would otherwise mix tabs and spaces, which Python rejects.
        if (self.shift == 0 && !self.tabs) || line.trim().is_empty() {
            return line.to_string();
        }
        let (indent, _) = indent_and_body(line);
        let body = line.trim_start_matches([' ', '\t']);
        let width = usize::try_from(isize::try_from(indent).unwrap_or(0) + self.shift).unwrap_or(0);
        let prefix = if self.tabs {
            format!(
                "{}{}",
                "\t".repeat(width / TAB_WIDTH),
                " ".repeat(width % TAB_WIDTH)
            )
        } else {
            " ".repeat(width)
        };
        format!("{prefix}{body}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(search: &str, replace: &str) -> Edit {
        Edit {
            file: "x.py".to_string(),
            search: search.to_string(),
            replace: replace.to_string(),
        }
    }

    fn check(original: &str, edits: &[Edit], expected: Result<&str, (usize, EditErrorKind)>) {
        let refs: Vec<&Edit> = edits.iter().collect();
        let got = apply_edits(original, &refs);
        let expected = expected
            .map(str::to_string)
            .map_err(|(index, kind)| EditError { index, kind });
        assert_eq!(got, expected);
    }

    #[test]
    fn exact_match_is_replaced() {
        check(
            "a = 1\nb = 2\n",
            &[edit("b = 2", "b = 3")],
            Ok("a = 1\nb = 3\n"),
        );
    }

    #[test]
    fn edits_apply_in_order_on_the_result_of_the_previous_ones() {
        check(
            "x = 1\n",
            &[edit("x = 1", "x = 2"), edit("x = 2", "x = 3")],
            Ok("x = 3\n"),
        );
    }

    #[test]
    fn missing_and_ambiguous_and_empty_name_the_edit() {
        check(
            "a\n",
            &[edit("a", "b"), edit("zzz", "y")],
            Err((1, EditErrorKind::NotFound)),
        );
        check(
            "a\na\n",
            &[edit("a", "b")],
            Err((0, EditErrorKind::Ambiguous { count: 2 })),
        );
        check(
            "a\n",
            &[edit("  \n", "b")],
            Err((0, EditErrorKind::EmptySearch)),
        );
    }

    #[test]
    fn overlapping_matches_are_ambiguous() {
        check(
            "aaa",
            &[edit("aa", "b")],
            Err((0, EditErrorKind::Ambiguous { count: 2 })),
        );
    }

    #[test]
    fn trailing_whitespace_is_ignored_when_unique() {
        check(
            "def f():   \n    return 1\n",
            &[edit("def f():\n    return 1\n", "def f():\n    return 2\n")],
            Ok("def f():\n    return 2\n"),
        );
    }

    #[test]
    fn indentation_shift_reindents_the_replacement() {
        let file = "class A:\n    def f(self):\n        return x\n";
        check(
            file,
            &[edit(
                "def f(self):\n    return x",
                "def f(self):\n    if x:\n        return x\n    return 0",
            )],
            Ok(
                "class A:\n    def f(self):\n        if x:\n            return x\n        return 0\n",
            ),
        );
    }

    #[test]
    fn negative_shift_and_tabs() {
        check(
            "if a:\n\tb()\n",
            &[edit("        b()", "        c()\n        d()")],
            Ok("if a:\n\tc()\n\td()\n"),
        );
        check("x\n", &[edit("    x", "    y")], Ok("y\n"));
    }

    #[test]
    fn inconsistent_shift_is_not_a_match() {
        check(
            "if a:\n    b()\n",
            &[edit("if a:\nb()", "z")],
            Err((0, EditErrorKind::NotFound)),
        );
    }

    #[test]
    fn fuzzy_match_must_be_unique() {
        check(
            "def f():\n    pass\ndef g():\n        pass\n",
            &[edit("  pass", "  return")],
            Err((0, EditErrorKind::Ambiguous { count: 2 })),
        );
    }

    #[test]
    fn crlf_files_keep_their_line_endings() {
        check(
            "a = 1\r\nb = 2\r\n",
            &[edit("a = 1\nb = 2\n", "a = 1\nb = 3\n")],
            Ok("a = 1\r\nb = 3\r\n"),
        );
    }

    #[test]
    fn failing_edit_leaves_nothing_applied() {
        let refs = [&edit("a", "b"), &edit("nope", "c")];
        assert!(apply_edits("a\n", &refs).is_err());
    }

    #[test]
    fn a_search_with_the_other_quotes_matches_once() {
        let text = "def f(c):\n    return c[\"spend\"] > c[\"budjet\"]\n";
        let edit = Edit {
            file: "m.py".into(),
            search: "return c['spend'] > c['budjet']".into(),
            replace: "return c['spend'] > c['budget']".into(),
        };
        assert_eq!(
            apply_edits(text, &[&edit]).unwrap(),
            "def f(c):\n    return c['spend'] > c['budget']\n"
        );
    }
}
