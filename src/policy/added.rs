//! The rows a fix added, and whether a node of the fixed file lies on one: most rules judge
//! only what the fix wrote, never what was already there.
//!
//! Pure.

use tree_sitter::Node;

/// The 0-based rows of `after` that the line diff from `before` marks as inserted.
pub(super) fn added_rows(before: &str, after: &str) -> Vec<usize> {
    similar::TextDiff::from_lines(before, after)
        .iter_all_changes()
        .filter(|c| c.tag() == similar::ChangeTag::Insert)
        .filter_map(|c| c.new_index())
        .collect()
}

/// Whether `node` spans one of the `added` rows.
pub(super) fn touches(node: Node<'_>, added: &[usize]) -> bool {
    let (start, end) = (node.start_position().row, node.end_position().row);
    added.iter().any(|r| (start..=end).contains(r))
}
