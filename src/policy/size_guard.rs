//! A size guard that returns nothing, for an `IndexError`. `[ranked[i] for i in range(n)]`
//! read past the end of a short list; `if len(ranked) < n: return []` makes the crash go away
//! and drops the items the list does have. The right fix reads within the list's bounds. A
//! small model was seen to write this guard twice (the bench's `output_then_crash` and
//! `off_by_one_pairs`).
//!
//! Allowed: a guard for the empty or one-item case (`if not values`, `if len(values) < 2`),
//! which a function over pairs of neighbours means; and any guard whose branch does more than
//! return an empty value.
//!
//! Pure: two texts in, findings out.

use tree_sitter::Node;

use super::added::{added_rows, touches};

/// Why `after` hides an `IndexError` behind a size guard, if it does.
pub fn returns_nothing_when_short(
    before: &str,
    after: &str,
    error_type: Option<&str>,
) -> Vec<String> {
    if error_type.is_none_or(|t| t.rsplit('.').next() != Some("IndexError")) {
        return Vec::new();
    }
    let Some(tree) = crate::prove::syntax::parse(after) else {
        return Vec::new();
    };
    let added = added_rows(before, after);
    let src = after.as_bytes();
    let mut out = Vec::new();
    for node in crate::prove::syntax::named_nodes(tree.root_node()) {
        if node.kind() == "if_statement"
            && touches(node, &added)
            && let Some(condition) = node.child_by_field_name("condition")
            && let Some(bound) = short_bound(condition, src)
            && node.child_by_field_name("alternative").is_none()
            && node
                .child_by_field_name("consequence")
                .is_some_and(|body| returns_only_empty(body, src))
        {
            out.push(format!(
                "it returns nothing when there are fewer than {bound} items (line {}): the IndexError is hidden and the items there are dropped; read within the sequence's bounds instead",
                node.start_position().row + 1
            ));
        }
        // The same guard turned around: `if len(ranked) >= n: return [...]`, last in its
        // function with no else, so a shorter list falls off the end and gets None.
        if node.kind() == "if_statement"
            && touches(node, &added)
            && node.child_by_field_name("alternative").is_none()
            && node.next_named_sibling().is_none()
            && node
                .parent()
                .and_then(|b| b.parent())
                .is_some_and(|f| f.kind() == "function_definition")
            && let Some(condition) = node.child_by_field_name("condition")
            && let Some(bound) = long_bound(condition, src)
        {
            out.push(format!(
                "it returns None when there are fewer than {bound} items (line {}: the guarded code is the function's last, with no else): the IndexError is hidden and the items there are dropped; read within the sequence's bounds instead",
                node.start_position().row + 1
            ));
        }
    }
    out
}

/// For `len(x) >= B` or `len(x) > B`: `B` as written, unless it only sets aside the empty or
/// one-item case (`>= 2`, `> 1`, `> 0`...).
fn long_bound(condition: Node<'_>, src: &[u8]) -> Option<String> {
    let (operator, bound) = len_comparison(condition, src)?;
    let small = bound.parse::<i64>().ok().map(|b| match operator.as_str() {
        ">=" => b <= 2,
        ">" => b <= 1,
        _ => true,
    });
    match (operator.as_str(), small) {
        (">=" | ">", Some(false) | None) => Some(bound),
        _ => None,
    }
}

/// `len(x) OP B`: the operator and `B` as written.
fn len_comparison(condition: Node<'_>, src: &[u8]) -> Option<(String, String)> {
    if condition.kind() != "comparison_operator" {
        return None;
    }
    let left = condition.named_child(0)?;
    let right = condition.named_child(1)?;
    let is_len = left.kind() == "call"
        && left
            .child_by_field_name("function")
            .and_then(|f| f.utf8_text(src).ok())
            == Some("len");
    if !is_len {
        return None;
    }
    let mut cursor = condition.walk();
    let operator = condition
        .children(&mut cursor)
        .find(|c| !c.is_named())
        .and_then(|c| c.utf8_text(src).ok())?
        .to_string();
    Some((operator, right.utf8_text(src).ok()?.trim().to_string()))
}

/// For `len(x) < B` or `len(x) <= B`: `B` as written, unless it only singles out the empty
/// or one-item case (`< 2`, `<= 1`, `< 1`, `== 0`...).
fn short_bound(condition: Node<'_>, src: &[u8]) -> Option<String> {
    let (operator, bound) = len_comparison(condition, src)?;
    let small = bound.parse::<i64>().ok().map(|b| match operator.as_str() {
        "<" => b <= 2,
        "<=" => b <= 1,
        _ => true,
    });
    match (operator.as_str(), small) {
        ("<" | "<=", Some(false) | None) => Some(bound),
        _ => None,
    }
}

/// Whether a block only returns an empty value: `[]`, `()`, `{}`, `""`, `None`, `0`, or
/// nothing (comments aside).
fn returns_only_empty(body: Node<'_>, src: &[u8]) -> bool {
    let mut cursor = body.walk();
    let statements: Vec<Node<'_>> = body
        .named_children(&mut cursor)
        .filter(|n| n.kind() != "comment")
        .collect();
    let [only] = statements.as_slice() else {
        return false;
    };
    if only.kind() != "return_statement" {
        return false;
    }
    let Some(value) = only.named_child(0) else {
        return true;
    };
    let text: String = value
        .utf8_text(src)
        .unwrap_or("x")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    matches!(
        text.as_str(),
        "[]" | "()" | "{}" | "\"\"" | "''" | "None" | "0" | "0.0" | "list()" | "dict()"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOP: &str = "def top_regions(by_region, n=3):\n    ranked = sorted(by_region.items())\n    return [ranked[i] for i in range(n)]\n";

    #[test]
    fn a_guard_returning_nothing_below_a_bound_is_refused_for_an_index_error() {
        let guarded = TOP.replace(
            "    return [ranked",
            "    # not enough regions\n    if len(ranked) < n:\n        return []\n    return [ranked",
        );
        let found = returns_only_found(&guarded);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("fewer than n items (line 4)"),
            "{found:?}"
        );
        let three = TOP.replace(
            "    return [ranked",
            "    if len(ranked) < 3:\n        return []\n    return [ranked",
        );
        assert_eq!(returns_only_found(&three).len(), 1);
    }

    fn returns_only_found(after: &str) -> Vec<String> {
        returns_nothing_when_short(TOP, after, Some("IndexError"))
    }

    #[test]
    fn the_guard_turned_around_falling_off_the_end_is_refused_too() {
        let around = TOP.replace(
            "    return [ranked[i] for i in range(n)]\n",
            "    if len(ranked) >= n:\n        return [ranked[i] for i in range(n)]\n",
        );
        let found = returns_only_found(&around);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("returns None when there are fewer than n items"),
            "{found:?}"
        );
        // With code after it, or an else, it does not fall off.
        let with_else = around.replace(
            "        return [ranked[i] for i in range(n)]\n",
            "        return [ranked[i] for i in range(n)]\n    else:\n        return ranked\n",
        );
        assert!(returns_only_found(&with_else).is_empty());
        let followed = format!("{around}    return ranked\n");
        assert!(returns_only_found(&followed).is_empty());
        let two = TOP.replace(
            "    return [ranked[i] for i in range(n)]\n",
            "    if len(ranked) >= 2:\n        return [ranked[i] for i in range(n)]\n",
        );
        assert!(returns_only_found(&two).is_empty());
    }

    #[test]
    fn near_misses_are_allowed() {
        // The empty and one-item cases; a right fix; a branch that does more; another error.
        for after in [
            TOP.replace(
                "    return [ranked",
                "    if len(ranked) < 2:\n        return []\n    return [ranked",
            ),
            TOP.replace(
                "    return [ranked",
                "    if not ranked:\n        return []\n    return [ranked",
            ),
            TOP.replace("range(n)", "range(min(n, len(ranked)))"),
            TOP.replace(
                "    return [ranked",
                "    if len(ranked) < n:\n        n = len(ranked)\n    return [ranked",
            ),
        ] {
            assert!(returns_only_found(&after).is_empty(), "{after}");
        }
        let guarded = TOP.replace(
            "    return [ranked",
            "    if len(ranked) < n:\n        return []\n    return [ranked",
        );
        assert!(returns_nothing_when_short(TOP, &guarded, Some("KeyError")).is_empty());
    }
}
