//! Finds the first syntax error in Python source with tree-sitter. Pure: text in, value out.
//!
//! It must never be the only judge when it cannot be sure: tree-sitter's grammar lags behind
//! Python's, so the caller only trusts a finding in the new text when the old text had none.

/// Where tree-sitter first failed to read the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxProblem {
    /// 1-based.
    pub line: usize,
    pub column: usize,
    /// "unexpected `...`" or "missing `)`".
    pub what: String,
}

/// The Python syntax tree of `source` (the instant rules and the scope policy read it too);
/// `None` when tree-sitter cannot run at all.
pub fn parse(source: &str) -> Option<tree_sitter::Tree> {
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .ok()?;
    parser.parse(source, None)
}

/// Every named node under `root`, `root` first, depth first (a node's later children before
/// its earlier ones): the walk the policy's rules and the verdict's bindings share.
pub fn named_nodes(root: tree_sitter::Node<'_>) -> NamedNodes<'_> {
    NamedNodes { stack: vec![root] }
}

/// The iterator of [`named_nodes`].
pub struct NamedNodes<'t> {
    stack: Vec<tree_sitter::Node<'t>>,
}

impl<'t> Iterator for NamedNodes<'t> {
    type Item = tree_sitter::Node<'t>;

    fn next(&mut self) -> Option<tree_sitter::Node<'t>> {
        let node = self.stack.pop()?;
        let mut cursor = node.walk();
        self.stack.extend(node.named_children(&mut cursor));
        Some(node)
    }
}

/// The first ERROR or MISSING node of `source`, in document order; `None` when it parses
/// cleanly, or when tree-sitter could not run at all (then it has nothing to say).
pub fn first_problem(source: &str) -> Option<SyntaxProblem> {
    let tree = parse(source)?;
    let root = tree.root_node();
    if !root.has_error() {
        return None;
    }
    let mut cursor = root.walk();
    // Pre-order walk, descending only into subtrees that hold an error.
    loop {
        let node = cursor.node();
        if node.is_error() || node.is_missing() {
            let at = node.start_position();
            let what = if node.is_missing() {
                format!("missing `{}`", node.kind())
            } else {
                let text = node.utf8_text(source.as_bytes()).unwrap_or("");
                let first = text.lines().next().unwrap_or("").trim();
                let shown: String = first.chars().take(40).collect();
                format!("unexpected `{shown}`")
            };
            return Some(SyntaxProblem {
                line: at.row + 1,
                column: at.column + 1,
                what,
            });
        }
        if node.has_error() && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_source_has_no_problem() {
        assert_eq!(first_problem("def f(x):\n    return x + 1\n"), None);
    }

    #[test]
    fn unclosed_paren_is_found_on_its_line() {
        let p = first_problem("a = 1\nprint((a\nb = 2\n").unwrap();
        assert!(p.line >= 2, "{p:?}");
    }

    #[test]
    fn garbage_is_reported_with_its_line() {
        let p = first_problem("x = 1\ndef f(:\n    pass\n").unwrap();
        assert_eq!(p.line, 2, "{p:?}");
    }
}
