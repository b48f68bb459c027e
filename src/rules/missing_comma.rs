//! `missing-comma`: `SyntaxError: invalid syntax. Perhaps you forgot a comma?` (3.10 and
//! later).
//!
//! Python underlines the two expressions that stand side by side (`print(1 2)` → `1 2`); when
//! the second one is on a later line the underline runs to the end of the first line. The rule
//! tries a comma at the end of each token inside that span (where a token is followed by a
//! blank or by the end of the line), and accepts only when exactly one of those single commas
//! makes the whole file parse with tree-sitter. None (two commas are missing, as in
//! `[1 2 3]`) or several: not sure.
//!
//! Declined: a printed line that is not the file's line (3.11 prints only the inside of an
//! f-string's braces for an error there), no caret, a different line.

use crate::analyse::answer::Category;

use super::location::syntax_site;
use super::missing_colon::char_column_to_byte;
use super::tree::{self, indent_len};
use super::{Proposal, RuleFix, RuleInput, checked};

pub(super) const NAME: &str = "missing-comma";

pub(super) fn fix(input: &RuleInput) -> Option<RuleFix> {
    let message = &input.error.message;
    if input.error.exc_type != "SyntaxError"
        || !message.contains("Perhaps you forgot a comma?")
        || message.starts_with("f-string")
    {
        return None;
    }
    let site = syntax_site(input.error).filter(|s| s.line == input.line)?;
    let (first, last) = site.caret?;
    let (line_start, _) = tree::line_range(input.source, input.line)?;
    let line = tree::line_text(input.source, input.line)?;
    let indent = indent_len(line);
    let code = &line[indent..];
    if code.trim_end() != site.code?.trim_end() {
        return None;
    }
    let content_end = code.trim_end().len();
    let span_start = char_column_to_byte(code, first)?;
    let span_end = char_column_to_byte(code, last.checked_add(1)?)
        .unwrap_or(content_end)
        .min(content_end);
    let fixes: Vec<(usize, String)> = token_ends(code, span_start, span_end, content_end)
        .into_iter()
        .filter_map(|at| {
            let absolute = line_start + indent + at;
            let after = tree::apply(
                input.source,
                vec![tree::Edit {
                    start: absolute,
                    end: absolute,
                    text: ",".to_string(),
                }],
            )?;
            tree::parses_cleanly(&after).then_some((at, after))
        })
        .collect();
    let [(at, after)] = <[(usize, String); 1]>::try_from(fixes).ok()?;
    // The expressions before the comma, as Python underlined them.
    let before = code.get(span_start..at).unwrap_or("").trim();
    let shown: String = before.chars().take(40).collect();
    let summary = format!(
        "insert the missing comma after `{shown}` on line {}",
        input.line
    );
    let cause = format!(
        "a comma is missing after `{shown}` on line {}: two expressions stand side by side",
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

/// Byte offsets in `code` within `(start, end]` where a token ends: the character before is
/// not blank, and a blank or the end of the code follows.
fn token_ends(code: &str, start: usize, end: usize, content_end: usize) -> Vec<usize> {
    (start + 1..=end)
        .filter(|&at| code.is_char_boundary(at))
        .filter(|&at| {
            let before = code[..at].chars().next_back();
            let next = code[at..].chars().next();
            before.is_some_and(|c| !c.is_whitespace())
                && (at == content_end || next.is_some_and(char::is_whitespace))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{error_with_traceback, input_for};
    use super::*;

    const MESSAGE: &str = "invalid syntax. Perhaps you forgot a comma?";

    fn fixed(line: u32, source: &str, printed: &str, caret: &str) -> Option<String> {
        let tb = format!(
            "  File \"a.py\", line {line}\n    {printed}\n    {caret}\nSyntaxError: {MESSAGE}"
        );
        let e = error_with_traceback("SyntaxError", MESSAGE, &tb);
        fix(&input_for(&e, line, source)).map(|f| f.after)
    }

    #[test]
    fn between_two_arguments() {
        let src = "def g():\n    print(1 2)\n";
        assert_eq!(
            fixed(2, src, "print(1 2)", "      ^^^").as_deref(),
            Some("def g():\n    print(1, 2)\n")
        );
    }

    #[test]
    fn after_the_right_expression_of_three() {
        let src = "x = f(a + b c, \"s\" \"t\")\n";
        assert_eq!(
            fixed(1, src, "x = f(a + b c, \"s\" \"t\")", "      ^^^^^^^").as_deref(),
            Some("x = f(a + b, c, \"s\" \"t\")\n")
        );
    }

    #[test]
    fn at_the_end_of_a_line_of_a_list() {
        let src = "x = [\n    1\n    2\n]\n";
        assert_eq!(
            fixed(2, src, "1", "^").as_deref(),
            Some("x = [\n    1,\n    2\n]\n")
        );
    }

    #[test]
    fn two_missing_commas_decline() {
        let src = "x = [1 2 3]\n";
        assert_eq!(fixed(1, src, "x = [1 2 3]", "     ^^^"), None);
    }

    #[test]
    fn a_printed_line_that_is_not_the_file_line_declines() {
        let src = "print(f\"{a b}\")\n";
        assert_eq!(fixed(1, src, "(a b)", " ^^^"), None);
    }
}
