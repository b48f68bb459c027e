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
///
/// Each of the policy's ~20 rules reads the same two texts of a file (before and after the
/// fix), and so do the proof's edit readers: parsing each time cost 44 parses per file, and
/// the policy took 6.5 s on an 8,000-line file, 1.3 s with the trees kept (measured 2026-12-01
/// on this 2-core machine, both cores busy with model servers). The last few texts parsed on this thread are kept with their trees, so each text is parsed
/// once. A tree is found only for the exact same text, so the answer is the one a fresh parse
/// gives; cloning a tree is a reference count, not a copy.
pub fn parse(source: &str) -> Option<tree_sitter::Tree> {
    if let Some(tree) = RECENT.with(|recent| recent.borrow().find(source)) {
        return Some(tree);
    }
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .ok()?;
    let tree = parser.parse(source, None)?;
    RECENT.with(|recent| recent.borrow_mut().keep(source, &tree));
    Some(tree)
}

/// The tree of `source` when it parses with no error. The policy's rules read only such fixes
/// and pass the others, which the proof's syntax step refuses with the error named.
pub fn parse_clean(source: &str) -> Option<tree_sitter::Tree> {
    parse(source).filter(|tree| !tree.root_node().has_error())
}

/// How many texts [`parse`] keeps per thread: a fix's files, before and after, in turn.
const KEPT: usize = 4;

thread_local! {
    static RECENT: std::cell::RefCell<Recent> = const { std::cell::RefCell::new(Recent(Vec::new())) };
}

/// The last [`KEPT`] texts parsed and their trees, the newest last.
struct Recent(Vec<(String, tree_sitter::Tree)>);

impl Recent {
    fn find(&self, source: &str) -> Option<tree_sitter::Tree> {
        self.0
            .iter()
            .rev()
            .find(|(text, _)| text == source)
            .map(|(_, tree)| tree.clone())
    }

    fn keep(&mut self, source: &str, tree: &tree_sitter::Tree) {
        if self.0.len() == KEPT {
            self.0.remove(0);
        }
        self.0.push((source.to_string(), tree.clone()));
    }
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
    fn a_kept_tree_is_the_tree_of_that_exact_text() {
        let sexp = |t: &tree_sitter::Tree| t.root_node().to_sexp();
        let fresh = |source: &str| {
            let mut parser = tree_sitter::Parser::new();
            parser
                .set_language(&tree_sitter_python::LANGUAGE.into())
                .unwrap();
            parser.parse(source, None).unwrap()
        };
        let texts: Vec<String> = (0..KEPT + 2)
            .map(|i| format!("def f{i}(x):\n    return x + {i}\n"))
            .collect();
        // Each text twice, in an order that makes the oldest fall out of the kept ones.
        for text in texts.iter().chain(texts.iter().rev()).chain(texts.iter()) {
            let tree = parse(text).unwrap();
            assert_eq!(sexp(&tree), sexp(&fresh(text)));
            assert_eq!(tree.root_node().end_byte(), text.len());
        }
        // A text that differs by one byte from a kept one is parsed, not found.
        let near = texts[0].replace("x + 0", "x + 0)");
        let tree = parse(&near).unwrap();
        assert!(tree.root_node().has_error());
        assert!(!parse(&texts[0]).unwrap().root_node().has_error());
    }

    #[test]
    fn only_a_text_with_no_error_has_a_clean_tree() {
        assert!(parse_clean("def f(x):\n    return x + 1\n").is_some());
        // A missing colon and an unclosed call: trees with an error, which the rules pass.
        assert!(parse_clean("def f(x)\n    return x + 1\n").is_none());
        assert!(parse_clean("print((1\n").is_none());
    }

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
