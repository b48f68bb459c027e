//! The name the error was about, made to go away with its uses. `from .formatting import
//! format_ammount` failed (the function is `format_amount`); a fix that drops the import and
//! the call that used it, `format_ammount(revenue)`, makes the program run and print less. The
//! right fix makes the name resolve: the right spelling, an import, a definition. A small model
//! was seen to do this (the bench's `pkg_import_name_typo`).
//!
//! Counted: the uses of the missing name outside import statements, before and after the fix,
//! and the uses of names close to it (its right spelling). Each use the fix removed must be
//! made up by a new use of a close name.
//!
//! Pure: two texts in, findings out.

use tree_sitter::Node;

/// How close a name must be to the missing one to be its right spelling.
const CLOSE: f64 = 0.6;
/// The same, by Jaro-Winkler's similarity.
const CLOSE_PREFIXED: f64 = 0.85;

/// Why `after` drops the uses of the name a `NameError` or `ImportError` said is missing, if
/// it does.
pub fn drops_missing_name(
    before: &str,
    after: &str,
    error_type: Option<&str>,
    message: Option<&str>,
) -> Vec<String> {
    let Some(name) = error_type
        .zip(message)
        .and_then(|(t, m)| crate::prove::bindings::missing_name(t, m))
    else {
        return Vec::new();
    };
    if crate::prove::syntax::parse_clean(after).is_none() {
        return Vec::new();
    }
    let (was, close_was) = uses(before, &name);
    let (now, close_now) = uses(after, &name);
    let removed = was.saturating_sub(now);
    if removed == 0 || close_now.saturating_sub(close_was) >= removed {
        return Vec::new();
    }
    vec![format!(
        "it removes {removed} use(s) of `{name}`, the name the error was about, instead of making it resolve (its right spelling, an import or a definition): what used it would no longer be done"
    )]
}

/// The uses of `name` outside import statements, and those of names close to it.
fn uses(source: &str, name: &str) -> (usize, usize) {
    let Some(tree) = crate::prove::syntax::parse(source) else {
        return (0, 0);
    };
    let src = source.as_bytes();
    let (mut exact, mut close) = (0, 0);
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if is_import(node) {
            continue;
        }
        if node.kind() == "identifier"
            && let Ok(text) = node.utf8_text(src)
        {
            if text == name {
                exact += 1;
            } else if is_close(text, name) {
                close += 1;
            }
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
    (exact, close)
}

/// Whether `text` may be the right spelling of `name`: few edits apart, or sharing its start
/// (Jaro-Winkler weighs a common prefix: `len` for `lenght`, 3 edits of 6).
fn is_close(text: &str, name: &str) -> bool {
    strsim::normalized_levenshtein(text, name) >= CLOSE
        || strsim::jaro_winkler(text, name) >= CLOSE_PREFIXED
}

fn is_import(node: Node<'_>) -> bool {
    matches!(
        node.kind(),
        "import_statement" | "import_from_statement" | "future_import_statement"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMARY: &str = "from .formatting import format_ammount, format_percent\n\n\ndef monthly_summary(client, revenue, target):\n    return f\"{client}: {format_ammount(revenue)} ({format_percent(revenue / target)} of target)\"\n";
    const ERROR: (&str, &str) = (
        "ImportError",
        "cannot import name 'format_ammount' from 'reports.formatting' (/x/formatting.py)",
    );

    fn found(after: &str) -> Vec<String> {
        drops_missing_name(SUMMARY, after, Some(ERROR.0), Some(ERROR.1))
    }

    #[test]
    fn the_missing_name_dropped_with_its_use_is_refused() {
        let dropped = "from .formatting import format_percent\n\n\ndef monthly_summary(client, revenue, target):\n    return f\"{client}: {format_percent(revenue / target)} of target\"\n";
        let why = found(dropped);
        assert_eq!(why.len(), 1);
        assert!(
            why[0].contains("removes 1 use(s) of `format_ammount`"),
            "{why:?}"
        );
    }

    #[test]
    fn the_right_spelling_an_alias_or_another_error_is_allowed() {
        let respelt = SUMMARY.replace("format_ammount", "format_amount");
        assert!(found(&respelt).is_empty());
        let aliased = SUMMARY.replace(
            "import format_ammount,",
            "import format_amount as format_ammount,",
        );
        assert!(found(&aliased).is_empty());
        // A NameError for a local typo: the right name used instead.
        let before = "def f(total):\n    return tot * 2\n";
        let after = "def f(total):\n    return total * 2\n";
        assert!(
            drops_missing_name(
                before,
                after,
                Some("NameError"),
                Some("name 'tot' is not defined")
            )
            .is_empty()
        );
        // A builtin misspelt past Python's hint, `lenght` for `len` (the bench's
        // `typo_builtin_nohint`): 3 edits of 6, but the same start.
        let before_len = "def pages(items, size):\n    return (lenght(items) + size - 1) // size\n";
        assert!(
            drops_missing_name(
                before_len,
                &before_len.replace("lenght", "len"),
                Some("NameError"),
                Some("name 'lenght' is not defined")
            )
            .is_empty()
        );
        let deleted = "def f(total):\n    return 2\n";
        assert_eq!(
            drops_missing_name(
                before,
                deleted,
                Some("NameError"),
                Some("name 'tot' is not defined")
            )
            .len(),
            1
        );
        assert!(drops_missing_name(SUMMARY, "x = 1\n", Some("KeyError"), Some("'a'")).is_empty());
    }
}
