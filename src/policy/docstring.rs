//! What the docstring of the function around a node says: whether a default is meant.
//!
//! Pure.

use tree_sitter::Node;

/// Words of a docstring that say a default is meant.
pub(super) const DEFAULT_WORDS: &[&str] = &[
    "default",
    "none if",
    "none when",
    "returns none",
    "return none",
    "0 if",
    "0 when",
    "zero if",
    "zero when",
    "empty if",
    "empty when",
    "optional",
    "when absent",
    "if absent",
    "when missing",
    "if missing",
    "when not given",
    "if not given",
];

/// Whether the function around `node` says in its docstring that a default is meant.
pub(super) fn promises_a_default(node: Node<'_>, src: &[u8]) -> bool {
    enclosing_docstring(node, src)
        .is_some_and(|text| DEFAULT_WORDS.iter().any(|w| text.contains(w)))
}

/// The docstring of the function around `node`, lower case; `None` when it has none.
pub(super) fn enclosing_docstring(node: Node<'_>, src: &[u8]) -> Option<String> {
    let mut current = node.parent();
    while let Some(n) = current {
        if n.kind() == "function_definition" {
            return of_body(n.child_by_field_name("body")?, src);
        }
        current = n.parent();
    }
    None
}

/// The docstring of the definition whose body is `body`, lower case: its first statement when
/// that is a lone string.
pub(super) fn of_body(body: Node<'_>, src: &[u8]) -> Option<String> {
    let first = body.named_child(0)?;
    let is_doc = first.kind() == "expression_statement"
        && first.named_child(0).is_some_and(|s| s.kind() == "string");
    is_doc.then(|| first.utf8_text(src).unwrap_or("").to_lowercase())
}
