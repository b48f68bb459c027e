//! The names a module binds at its top level, and the name an error says is missing. The
//! verdict uses both: a fix that deletes `from .formatting import format_ammount` makes the
//! ImportError go away, and the NameError that follows in a function it did not touch is the
//! fix's own doing, not the program getting further.
//!
//! Pure: text in, names out.

use std::collections::BTreeSet;

/// How a module-level name is bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// By an import, from the module as written (`.templates`, `os.path`).
    Import { from: String },
    /// By a `def` or `class` statement.
    Definition,
    /// By an assignment.
    Assignment,
}

/// One name a module binds at its top level, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub name: String,
    pub bound: Bound,
}

/// The names `source` binds at module level: imports (`import a.b` binds `a`, `as` binds the
/// alias), `def` and `class`, and assignment targets, including those inside module-level
/// `if`, `try` and `with` blocks. Function and class bodies are their own scopes and are not
/// read. Empty when tree-sitter cannot run.
pub fn module_bindings(source: &str) -> BTreeSet<String> {
    match super::syntax::parse(source) {
        Some(tree) => bindings(tree.root_node(), source.as_bytes())
            .into_iter()
            .map(|b| b.name)
            .collect(),
        None => BTreeSet::new(),
    }
}

/// Every module-level binding under `root` (a parsed module), in no particular order, with how
/// each is bound: the one walk behind [`module_bindings`] and the policy's stand-in check.
pub fn bindings(root: tree_sitter::Node<'_>, src: &[u8]) -> Vec<Binding> {
    let mut out = Vec::new();
    let text = |n: tree_sitter::Node<'_>| n.utf8_text(src).ok().map(str::to_string);
    let mut bind = |name: Option<String>, bound: Bound| {
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            out.push(Binding { name, bound });
        }
    };
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        match node.kind() {
            "function_definition" | "class_definition" => {
                bind(
                    node.child_by_field_name("name").and_then(text),
                    Bound::Definition,
                );
                // Its body is another scope.
                continue;
            }
            "import_statement" | "import_from_statement" => {
                let module = node.child_by_field_name("module_name").and_then(text);
                let mut cursor = node.walk();
                for name in node.children_by_field_name("name", &mut cursor) {
                    let (bound, from) = match name.kind() {
                        "aliased_import" => (
                            name.child_by_field_name("alias").and_then(text),
                            // `from m import x as y` is from `m`; `import a.b as y`, from `a.b`.
                            module
                                .clone()
                                .or_else(|| name.child_by_field_name("name").and_then(text)),
                        ),
                        // `import a.b` binds `a`; `from m import x` binds `x`.
                        _ if node.kind() == "import_statement" => {
                            let full = text(name);
                            let first = full
                                .as_deref()
                                .and_then(|t| t.split('.').next())
                                .map(str::to_string);
                            (first, full)
                        }
                        _ => (text(name), module.clone()),
                    };
                    bind(
                        bound,
                        Bound::Import {
                            from: from.unwrap_or_default(),
                        },
                    );
                }
                continue;
            }
            "assignment" => {
                if let Some(left) = node.child_by_field_name("left") {
                    let mut names = vec![left];
                    while let Some(n) = names.pop() {
                        match n.kind() {
                            "identifier" => bind(text(n), Bound::Assignment),
                            "pattern_list" | "tuple_pattern" | "list_pattern" => {
                                let mut c = n.walk();
                                names.extend(n.named_children(&mut c));
                            }
                            _ => {}
                        }
                    }
                }
                // A chained `a = b = 1` nests its next target in `right`.
                if let Some(right) = node.child_by_field_name("right")
                    && right.kind() == "assignment"
                {
                    stack.push(right);
                }
                continue;
            }
            // Expressions hold no statements; their walrus targets are rare enough to skip.
            "call"
            | "lambda"
            | "list_comprehension"
            | "dictionary_comprehension"
            | "set_comprehension"
            | "generator_expression" => continue,
            _ => {}
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
    out
}

/// The name an error says is missing: `NameError: name 'x' is not defined` (with or without
/// Python's "Did you mean" hint), and `ImportError: cannot import name 'x' from 'm'`.
pub fn missing_name(exc_type: &str, message: &str) -> Option<String> {
    let short = exc_type.rsplit('.').next().unwrap_or(exc_type);
    let rest = match short {
        "NameError" => message.strip_prefix("name '")?,
        "ImportError" => message.strip_prefix("cannot import name '")?,
        _ => return None,
    };
    let name = rest.split('\'').next()?;
    is_identifier(name).then(|| name.to_string())
}

/// Whether `name` is a Python identifier (what an error message quotes may be anything).
pub fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c == '_' || c.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_bindings_cover_imports_definitions_and_assignments_not_inner_scopes() {
        let source = "\
import os.path
import json as j
from .formatting import format_amount, format_percent as pct
from m import *

LIMIT = 3
a, (b, c) = 1, (2, 3)
x = y = 0

try:
    import tomllib
except ImportError:
    tomllib = None


def main():
    inner = 1
    from z import hidden


class Report:
    field = 2
";
        let names: Vec<String> = module_bindings(source).into_iter().collect();
        assert_eq!(
            names,
            [
                "LIMIT",
                "Report",
                "a",
                "b",
                "c",
                "format_amount",
                "j",
                "main",
                "os",
                "pct",
                "tomllib",
                "x",
                "y",
            ]
        );
    }

    #[test]
    fn each_binding_says_how_it_is_bound_and_from_which_module() {
        let source = "import os.path\nimport json as j\nfrom .t import render, fmt as f\n\n@cache\ndef load():\n    pass\n\nif True:\n    LIMIT = 3\n";
        let tree = crate::prove::syntax::parse(source).expect("tree-sitter parses");
        let mut found: Vec<(String, Bound)> = bindings(tree.root_node(), source.as_bytes())
            .into_iter()
            .map(|b| (b.name, b.bound))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let import = |from: &str| Bound::Import {
            from: from.to_string(),
        };
        assert_eq!(
            found,
            [
                ("LIMIT".to_string(), Bound::Assignment),
                ("f".to_string(), import(".t")),
                ("j".to_string(), import("json")),
                ("load".to_string(), Bound::Definition),
                ("os".to_string(), import("os.path")),
                ("render".to_string(), import(".t")),
            ]
        );
    }

    #[test]
    fn the_missing_name_is_read_from_name_and_import_errors_only() {
        assert_eq!(
            missing_name("NameError", "name 'format_ammount' is not defined").as_deref(),
            Some("format_ammount")
        );
        assert_eq!(
            missing_name(
                "NameError",
                "name 'tot' is not defined. Did you mean: 'total'?"
            )
            .as_deref(),
            Some("tot")
        );
        assert_eq!(
            missing_name(
                "ImportError",
                "cannot import name 'format_ammount' from 'reports.formatting' (/x/f.py)"
            )
            .as_deref(),
            Some("format_ammount")
        );
        assert_eq!(missing_name("KeyError", "'name'"), None);
        assert_eq!(missing_name("NameError", "name '1; rm -rf' is not"), None);
        assert_eq!(missing_name("NameError", "something else"), None);
    }
}
