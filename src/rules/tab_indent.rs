//! `tab-indent`: `TabError: inconsistent use of tabs and spaces in indentation`.
//!
//! The file's leading tabs become spaces. How wide a tab was meant to be is a guess, so the
//! rule tries 4, 8 (Python's own tab stops) and 2 columns, keeps the widths whose result
//! Python's tokenizer would accept (each dedent lands on an enclosing level), and accepts only
//! when all of them give the same block structure, so the guess cannot change which block a
//! line belongs to. The first such width, in that order, is used.
//!
//! Only leading whitespace changes, and never on a line that starts inside a multi-line string
//! (that whitespace is part of the string's value). A form feed in an indentation declines:
//! Python resets the column there, which this rule does not model.

use crate::analyse::answer::Category;

use super::{Proposal, RuleFix, RuleInput, checked};

pub(super) const NAME: &str = "tab-indent";

const WIDTHS: [usize; 3] = [4, 8, 2];

pub(super) fn fix(input: &RuleInput) -> Option<RuleFix> {
    if input.error.exc_type != "TabError" {
        return None;
    }
    let lines = classify(input.source);
    let mut accepted: Vec<(usize, String, Vec<usize>)> = Vec::new();
    for width in WIDTHS {
        let (after, columns) = expand(input.source, &lines, width)?;
        if let Some(structure) = structure(&columns) {
            accepted.push((width, after, structure));
        }
    }
    let (width, after, structure) = accepted.first()?.clone();
    if accepted.iter().any(|(_, _, s)| *s != structure) {
        return None;
    }
    let changed = input
        .source
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .count();
    let summary = format!(
        "re-indent {changed} line{} with spaces instead of tabs ({width} columns per tab)",
        if changed == 1 { "" } else { "s" }
    );
    let cause = "the file's indentation mixes tabs and spaces in a way Python cannot read \
                 unambiguously"
        .to_string();
    checked(
        NAME,
        input,
        Proposal {
            after,
            summary,
            cause,
            category: Category::Syntax,
        },
    )
}

/// What a physical line is to the tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Starts a logical line: its indentation counts.
    Code,
    /// Blank or only a comment: its indentation does not count.
    Blank,
    /// Inside brackets or after a backslash: its indentation does not count.
    Continued,
    /// Starts inside a multi-line string: its leading whitespace is the string's.
    InString,
}

/// One physical line as the tokenizer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Line {
    kind: Kind,
    /// For a code line: its logical line ends with `:`, so the next code line must indent.
    opens_block: bool,
}

/// Each line of `source` (as `split_inclusive('\n')` cuts it).
fn classify(source: &str) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    let mut depth: usize = 0;
    // The open string's quote and whether it is triple.
    let mut string: Option<(char, bool)> = None;
    let mut continued = false;
    // The last character of code seen (outside strings and comments), and the code line whose
    // logical line it belongs to.
    let mut last: Option<char> = None;
    let mut open_line: Option<usize> = None;
    for line in source.split_inclusive('\n') {
        let body = line.trim_start_matches([' ', '\t', '\x0c']);
        let kind = if string.is_some() {
            Kind::InString
        } else if depth > 0 || continued {
            Kind::Continued
        } else if body.trim().is_empty() || body.starts_with('#') {
            Kind::Blank
        } else {
            Kind::Code
        };
        if kind == Kind::Code {
            if let Some(i) = open_line {
                lines[i].opens_block = last == Some(':');
            }
            open_line = Some(lines.len());
        }
        lines.push(Line {
            kind,
            opens_block: false,
        });
        continued = false;
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let tripled = |q: char| chars.get(i + 1) == Some(&q) && chars.get(i + 2) == Some(&q);
            match string {
                Some((q, triple)) => {
                    if c == '\\' {
                        i += 1;
                    } else if c == q && triple && tripled(q) {
                        string = None;
                        last = Some(q);
                        i += 2;
                    } else if c == q && !triple {
                        string = None;
                        last = Some(q);
                    }
                }
                None => {
                    match c {
                        '#' => break,
                        '\'' | '"' if tripled(c) => {
                            string = Some((c, true));
                            i += 2;
                        }
                        '\'' | '"' => string = Some((c, false)),
                        '(' | '[' | '{' => depth += 1,
                        ')' | ']' | '}' => depth = depth.saturating_sub(1),
                        '\\' if matches!(chars.get(i + 1), Some('\n' | '\r')) => continued = true,
                        _ => {}
                    }
                    if !c.is_whitespace() && c != '\\' {
                        last = Some(c);
                    }
                }
            }
            i += 1;
        }
        // A one-quote string ends with its line unless a backslash carried it over (then the
        // escape above consumed the newline and the string is still open on purpose).
        if let Some((_, false)) = string
            && !line.trim_end_matches(['\n', '\r']).ends_with('\\')
        {
            string = None;
        }
    }
    if let Some(i) = open_line {
        lines[i].opens_block = last == Some(':');
    }
    lines
}

/// `source` with tabs in the indentation of every line but string lines expanded to `width`
/// columns, and the indentation column of each code line. `None` on a form feed.
fn expand(source: &str, lines: &[Line], width: usize) -> Option<(String, Vec<(usize, bool)>)> {
    let mut out = String::with_capacity(source.len() + 64);
    let mut columns = Vec::new();
    for (line, info) in source.split_inclusive('\n').zip(lines) {
        if info.kind == Kind::InString {
            out.push_str(line);
            continue;
        }
        let rest = line.trim_start_matches([' ', '\t', '\x0c']);
        let lead = &line[..line.len() - rest.len()];
        if lead.contains('\x0c') {
            return None;
        }
        let mut column = 0;
        for c in lead.chars() {
            column = if c == '\t' {
                (column / width + 1) * width
            } else {
                column + 1
            };
        }
        if info.kind == Kind::Code {
            columns.push((column, info.opens_block));
        }
        if lead.contains('\t') {
            out.extend(std::iter::repeat_n(' ', column));
        } else {
            out.push_str(lead);
        }
        out.push_str(rest);
    }
    Some((out, columns))
}

/// The block depth of each code line, when the columns make blocks Python accepts: a line
/// indents exactly when the line before opened a block, and each dedent returns to an
/// enclosing level. `None` otherwise.
fn structure(columns: &[(usize, bool)]) -> Option<Vec<usize>> {
    let mut stack = vec![0];
    let mut depths = Vec::with_capacity(columns.len());
    let mut opened = false;
    for &(column, opens_block) in columns {
        let top = *stack.last()?;
        if column > top {
            if !opened {
                return None;
            }
            stack.push(column);
        } else {
            if opened {
                return None;
            }
            while stack.last().is_some_and(|&t| column < t) {
                stack.pop();
            }
            if stack.last() != Some(&column) {
                return None;
            }
        }
        depths.push(stack.len());
        opened = opens_block;
    }
    Some(depths)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{error, input_for};
    use super::*;

    fn fixed(source: &str) -> Option<String> {
        let e = error(
            "TabError",
            "inconsistent use of tabs and spaces in indentation",
        );
        fix(&input_for(&e, 1, source)).map(|f| f.after)
    }

    #[test]
    fn a_tab_next_to_eight_spaces() {
        // Python's TabError: the same column with tabs at 8, different with tabs at 1.
        assert_eq!(
            fixed("if True:\n\tx = 1\n        y = 2\n").as_deref(),
            Some("if True:\n        x = 1\n        y = 2\n")
        );
        let nested = "def f():\n\tif 1:\n\t\tx=1\n        \ty=2\n";
        assert_eq!(
            fixed(nested).as_deref(),
            Some("def f():\n        if 1:\n                x=1\n                y=2\n")
        );
    }

    #[test]
    fn four_columns_when_only_four_make_blocks() {
        let src = "def f():\n\tif 1:\n\t\tx = 1\n\treturn 3\n    z = 4\n";
        assert_eq!(
            fixed(src).as_deref(),
            Some("def f():\n    if 1:\n        x = 1\n    return 3\n    z = 4\n")
        );
    }

    #[test]
    fn widths_that_disagree_on_a_block_decline() {
        // 4: `return` (8 columns) sits inside the `if`; 8: it sits next to the `if`.
        let src = "def f():\n\tif 1:\n\t\tx = 1\n\t\ty = 2\n        return 3\n";
        assert_eq!(fixed(src), None);
    }

    #[test]
    fn strings_keep_their_tabs() {
        let src = "if True:\n\tx = \"\"\"\n\tkept\n\"\"\"\n        y = (1,\n\t\t2)\n";
        assert_eq!(
            fixed(src).as_deref(),
            Some(
                "if True:\n        x = \"\"\"\n\tkept\n\"\"\"\n        y = (1,\n                2)\n"
            )
        );
    }

    #[test]
    fn other_errors_are_not_touched() {
        let e = error("IndentationError", "unexpected indent");
        assert!(fix(&input_for(&e, 1, "if True:\n\tx = 1\n        y = 2\n")).is_none());
    }

    #[test]
    fn classify_lines() {
        let src = "a = '''\n\tx\n'''\nb = [\n1]\n# c\n\nd = \\\n  2\ne = 'q\\\n r'\n";
        let kinds: Vec<Kind> = classify(src).iter().map(|l| l.kind).collect();
        assert_eq!(
            kinds,
            [
                Kind::Code,
                Kind::InString,
                Kind::InString,
                Kind::Code,
                Kind::Continued,
                Kind::Blank,
                Kind::Blank,
                Kind::Code,
                Kind::Continued,
                Kind::Code,
                Kind::InString,
            ]
        );
    }
}
