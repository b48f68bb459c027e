//! `missing-colon`: `SyntaxError: expected ':'` (3.10 and later) on a compound statement's
//! header.
//!
//! Accepted: the reported line starts with a compound keyword (`def`, `class`, `if`, `elif`,
//! `else`, `for`, `while`, `try`, `except`, `finally`, `with`, `async def/for/with`, `match`,
//! `case`), is complete on its own (brackets balanced, no continuation, no triple-quoted
//! string), and does not already end with `:`. The colon goes at the end of the code, before a
//! trailing comment. When Python printed a caret, it must point at or after that spot: a caret
//! inside the line means the colon is missing elsewhere (`for x in xs print(x)`).

use crate::analyse::answer::Category;

use super::location::syntax_site;
use super::tree::{self, indent_len};
use super::{Proposal, RuleFix, RuleInput, checked};

pub(super) const NAME: &str = "missing-colon";

const KEYWORDS: &[&str] = &[
    "def", "class", "if", "elif", "else", "for", "while", "try", "except", "finally", "with",
    "match", "case",
];

pub(super) fn fix(input: &RuleInput) -> Option<RuleFix> {
    if input.error.exc_type != "SyntaxError" || !input.error.message.starts_with("expected ':'") {
        return None;
    }
    let (line_start, _) = tree::line_range(input.source, input.line)?;
    let line = tree::line_text(input.source, input.line)?;
    let indent = indent_len(line);
    let code_end = code_end(line)?;
    let code = line[indent..code_end].trim_end();
    if code.is_empty() || code.ends_with(':') || !starts_with_compound_keyword(code) {
        return None;
    }
    let insert_at = indent + code.len();
    if let Some(site) = syntax_site(input.error).filter(|s| s.line == input.line)
        && let Some((caret, _)) = site.caret
    {
        let caret_byte = char_column_to_byte(&line[indent..], caret)? + indent;
        if caret_byte < insert_at {
            return None;
        }
    }
    let at = line_start + insert_at;
    let after = tree::apply(
        input.source,
        vec![tree::Edit {
            start: at,
            end: at,
            text: ":".to_string(),
        }],
    )?;
    let keyword = code
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or("");
    let summary = format!(
        "add the missing `:` at the end of the `{keyword}` line {}",
        input.line
    );
    let cause = format!(
        "the `{keyword}` statement on line {} does not end with the `:` Python expects",
        input.line
    );
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

fn starts_with_compound_keyword(code: &str) -> bool {
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let first = word(code);
    if first == "async" {
        let rest = code["async".len()..].trim_start();
        return matches!(word(rest).as_str(), "def" | "for" | "with");
    }
    KEYWORDS.contains(&first.as_str())
}

/// Where the code of `line` ends: before a trailing comment. `None` when the line does not
/// stand on its own: an unclosed bracket or string, a backslash continuation, or a
/// triple-quoted string (which this small scanner does not follow).
fn code_end(line: &str) -> Option<usize> {
    if line.contains("\"\"\"") || line.contains("'''") {
        return None;
    }
    let mut depth: i32 = 0;
    let mut quote: Option<char> = None;
    let mut chars = line.char_indices();
    let mut end = line.len();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) => {
                if c == '\\' {
                    chars.next();
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                '#' => {
                    end = i;
                    break;
                }
                _ => {}
            },
        }
    }
    let continued = line[..end].trim_end().ends_with('\\');
    (quote.is_none() && depth == 0 && !continued).then_some(end)
}

/// Byte offset in `text` of the 1-based character column `column` (the end of `text` when the
/// column is just past it).
pub(super) fn char_column_to_byte(text: &str, column: u32) -> Option<usize> {
    let index = usize::try_from(column).ok()?.checked_sub(1)?;
    text.char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .nth(index)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{error_with_traceback, input_for};
    use super::*;

    fn fixed(line: u32, source: &str, traceback: &str) -> Option<String> {
        let e = error_with_traceback("SyntaxError", "expected ':'", traceback);
        fix(&input_for(&e, line, source)).map(|f| f.after)
    }

    #[test]
    fn adds_the_colon_before_a_comment() {
        let src = "class A:\n    def f(self, x)  # c\n        return x\n";
        let tb = "  File \"b.py\", line 2\n    def f(self, x)  # c\n                    ^^^\nSyntaxError: expected ':'";
        assert_eq!(
            fixed(2, src, tb).as_deref(),
            Some("class A:\n    def f(self, x):  # c\n        return x\n")
        );
    }

    #[test]
    fn else_and_async() {
        let src = "if x:\n    pass\nelse\n    pass\n";
        assert_eq!(
            fixed(3, src, "").as_deref(),
            Some("if x:\n    pass\nelse:\n    pass\n")
        );
        let src = "async def f()\n    pass\n";
        assert_eq!(
            fixed(1, src, "").as_deref(),
            Some("async def f():\n    pass\n")
        );
    }

    #[test]
    fn not_a_header_or_already_colon() {
        assert_eq!(fixed(1, "x = {1 2}\n", ""), None);
        assert_eq!(fixed(1, "if x:\n    pass\n", ""), None);
        // A dict literal's colon is not the header's.
        assert_eq!(fixed(1, "for k in {\n    1: 2}\n    pass\n", ""), None);
    }

    #[test]
    fn a_caret_inside_the_line_declines() {
        let src = "for x in xs print(x)\n";
        let tb = "  File \"a.py\", line 1\n    for x in xs print(x)\n               ^^^^^\nSyntaxError: expected ':'";
        assert_eq!(fixed(1, src, tb), None);
    }

    #[test]
    fn columns() {
        assert_eq!(char_column_to_byte("aé b", 3), Some(3));
        assert_eq!(char_column_to_byte("ab", 3), Some(2));
        assert_eq!(char_column_to_byte("ab", 4), None);
        assert_eq!(char_column_to_byte("ab", 0), None);
    }
}
