//! Which identifiers bind names, in which scope, and which names a line can see: a small
//! model of Python's scoping, read from the tree-sitter tree.
//!
//! It is deliberately approximate and errs towards "not sure": the callers decline when a name
//! could come from somewhere this model cannot see (a star import, a class whose bases are not
//! in the file).

use tree_sitter::Node;

use super::tree::{field_is, nodes, text};

/// How an identifier binds its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Assignment, augmented assignment, `for` target, `with ... as`, `except ... as`, `:=`.
    Assign,
    /// A function or lambda parameter.
    Param,
    /// A comprehension's loop variable.
    LoopVar,
    /// `def` or `class`.
    Def,
    /// A name bound by an import.
    Import,
}

/// Where an identifier binds its name.
#[derive(Debug, Clone, Copy)]
pub(super) struct Binding<'t> {
    pub kind: Kind,
    /// The scope node: `module`, `function_definition`, `class_definition`, `lambda`, or a
    /// comprehension.
    pub scope: Node<'t>,
}

/// Nodes that open a scope of their own.
fn is_scope(node: Node<'_>) -> bool {
    matches!(
        node.kind(),
        "module"
            | "function_definition"
            | "class_definition"
            | "lambda"
            | "list_comprehension"
            | "set_comprehension"
            | "dictionary_comprehension"
            | "generator_expression"
    )
}

/// The innermost scope holding `node` (not `node` itself).
pub(super) fn enclosing_scope(node: Node<'_>) -> Option<Node<'_>> {
    let mut at = node.parent()?;
    while !is_scope(at) {
        at = at.parent()?;
    }
    Some(at)
}

/// Scopes holding `node`, innermost first, the module last.
pub(super) fn scope_chain(node: Node<'_>) -> Vec<Node<'_>> {
    let mut chain = Vec::new();
    let mut at = enclosing_scope(node);
    while let Some(scope) = at {
        chain.push(scope);
        at = enclosing_scope(scope);
    }
    chain
}

/// How and where `id` (an identifier node) binds its name; `None` when it reads a name, or
/// is not a variable at all (an attribute, a keyword argument).
pub(super) fn binding(id: Node<'_>) -> Option<Binding<'_>> {
    // Targets sit inside patterns: `a, (b, *c) = ...`.
    let mut child = id;
    let mut parent = id.parent()?;
    while matches!(
        parent.kind(),
        "pattern_list"
            | "tuple_pattern"
            | "list_pattern"
            | "list_splat_pattern"
            | "dictionary_splat_pattern"
            | "as_pattern_target"
    ) {
        child = parent;
        parent = parent.parent()?;
    }
    let bind = |kind, scope| Some(Binding { kind, scope });
    match parent.kind() {
        "assignment" | "augmented_assignment" | "for_statement" if field_is(child, "left") => {
            bind(Kind::Assign, enclosing_scope(parent)?)
        }
        "as_pattern" | "except_clause" if field_is(child, "alias") => {
            bind(Kind::Assign, enclosing_scope(parent)?)
        }
        "named_expression" if field_is(child, "name") => {
            bind(Kind::Assign, enclosing_scope(parent)?)
        }
        "for_in_clause" if field_is(child, "left") => bind(Kind::LoopVar, parent.parent()?),
        "function_definition" | "class_definition" if field_is(child, "name") => {
            bind(Kind::Def, enclosing_scope(parent)?)
        }
        "parameters" | "lambda_parameters" => bind(Kind::Param, parent.parent()?),
        "default_parameter" | "typed_default_parameter" if field_is(child, "name") => {
            bind(Kind::Param, parent.parent()?.parent()?)
        }
        "typed_parameter" if !field_is(child, "type") => {
            bind(Kind::Param, parent.parent()?.parent()?)
        }
        "aliased_import" if field_is(child, "alias") => {
            bind(Kind::Import, enclosing_scope(parent)?)
        }
        // `import a.b` binds `a`; `from m import a` binds `a`; `from a.b import c` binds no `a`.
        "dotted_name" if parent.named_child(0) == Some(id) => {
            let statement = parent.parent()?;
            let binds = field_is(parent, "name")
                && matches!(
                    statement.kind(),
                    "import_statement" | "import_from_statement"
                );
            if binds {
                bind(Kind::Import, enclosing_scope(statement)?)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// How `id` (an identifier) uses its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Use {
    /// Reads the variable, or assigns it like a plain assignment does.
    Variable,
    /// Not the variable: an attribute name, a keyword argument's name.
    Other,
    /// Binds it in a way a rename on one line must not touch (a parameter, a def, an import,
    /// a loop variable), or declares it (`global`).
    Declares,
}

pub(super) fn use_of(id: Node<'_>) -> Use {
    let Some(parent) = id.parent() else {
        return Use::Other;
    };
    match parent.kind() {
        "attribute" if field_is(id, "attribute") => return Use::Other,
        "keyword_argument" if field_is(id, "name") => return Use::Other,
        "global_statement" | "nonlocal_statement" => return Use::Declares,
        "dotted_name" | "aliased_import" | "keyword_pattern" => return Use::Declares,
        _ => {}
    }
    match binding(id) {
        None => Use::Variable,
        Some(b) if b.kind == Kind::Assign => Use::Variable,
        Some(_) => Use::Declares,
    }
}

/// The identifiers on 0-based `row` spelled `name` that use the variable; `None` when one of
/// them binds or declares it differently (a lambda parameter, a comprehension variable): then
/// the occurrences on the line do not all mean the same variable.
pub(super) fn variable_uses<'t>(
    root: Node<'t>,
    source: &str,
    row: usize,
    name: &str,
) -> Option<Vec<Node<'t>>> {
    let mut found = Vec::new();
    for id in identifiers_on_row(root, source, row, name) {
        match use_of(id) {
            Use::Variable => found.push(id),
            Use::Other => {}
            Use::Declares => return None,
        }
    }
    Some(found)
}

/// The identifier nodes on 0-based `row` spelled `name`.
pub(super) fn identifiers_on_row<'t>(
    root: Node<'t>,
    source: &str,
    row: usize,
    name: &str,
) -> Vec<Node<'t>> {
    nodes(root)
        .into_iter()
        .filter(|n| {
            n.kind() == "identifier" && n.start_position().row == row && text(*n, source) == name
        })
        .collect()
}

/// The names visible from `at` when its line runs, as far as the file tells: each enclosing
/// scope's bindings, the class body's only from code directly in it (Python does not show
/// class names to methods). In a scope that runs top to bottom while `at` runs (the innermost
/// function, or the module when `at` is at module level), only bindings on earlier lines count,
/// except parameters and loop variables.
pub(super) fn visible_names(root: Node<'_>, source: &str, at: Node<'_>) -> Vec<String> {
    let chain = scope_chain(at);
    let row = at.start_position().row;
    let mut names = Vec::new();
    for id in nodes(root).into_iter().filter(|n| n.kind() == "identifier") {
        let Some(b) = binding(id) else { continue };
        let Some(depth) = chain.iter().position(|s| *s == b.scope) else {
            continue;
        };
        if b.scope.kind() == "class_definition" && depth > 0 {
            continue;
        }
        // The scope's code is running now when no function stands between it and `at`.
        let running = chain[..depth]
            .iter()
            .all(|s| !matches!(s.kind(), "function_definition" | "lambda"));
        let always = matches!(b.kind, Kind::Param | Kind::LoopVar);
        if running && !always && id.start_position().row >= row {
            continue;
        }
        names.push(text(id, source).to_string());
    }
    names.sort();
    names.dedup();
    names
}

/// True when the file has a `from m import *`: then names come from where this model cannot
/// see.
pub(super) fn has_star_import(root: Node<'_>) -> bool {
    nodes(root).iter().any(|n| n.kind() == "wildcard_import")
}

/// Attribute names assigned anywhere in the file (`x.name = ...`, `for x.name in`, ...).
pub(super) fn assigned_attributes<'t>(root: Node<'t>, source: &str) -> Vec<(Node<'t>, String)> {
    let mut out = Vec::new();
    for node in nodes(root).into_iter().filter(|n| n.kind() == "attribute") {
        let Some(attribute) = node.child_by_field_name("attribute") else {
            continue;
        };
        if is_target(node) {
            out.push((node, text(attribute, source).to_string()));
        }
    }
    out
}

/// True when `node` is (inside) the target of an assignment-like statement.
fn is_target(node: Node<'_>) -> bool {
    let mut child = node;
    let Some(mut parent) = node.parent() else {
        return false;
    };
    while matches!(
        parent.kind(),
        "pattern_list"
            | "tuple_pattern"
            | "list_pattern"
            | "list_splat_pattern"
            | "as_pattern_target"
    ) {
        child = parent;
        let Some(up) = parent.parent() else {
            return false;
        };
        parent = up;
    }
    match parent.kind() {
        "assignment" | "augmented_assignment" | "for_statement" | "for_in_clause" => {
            field_is(child, "left")
        }
        "as_pattern" => field_is(child, "alias"),
        _ => false,
    }
}

/// The attributes a class in this file is known to have: the names bound in its body (and its
/// bases' bodies), and, for instances, the attributes its methods assign on `self`. `None`
/// when the file cannot tell: no single class of that name, a base or decorator from elsewhere,
/// or a `__getattr__` that makes attributes up.
pub(super) fn class_members(
    root: Node<'_>,
    source: &str,
    class: &str,
    instance: bool,
) -> Option<Vec<String>> {
    let mut members = Vec::new();
    let mut pending = vec![class.to_string()];
    let mut seen: Vec<String> = Vec::new();
    while let Some(name) = pending.pop() {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name.clone());
        let node = single_class(root, source, &name)?;
        if !plain_decorators(node, source) {
            return None;
        }
        if let Some(bases) = node.child_by_field_name("superclasses") {
            let mut cursor = bases.walk();
            for base in bases.named_children(&mut cursor) {
                match (base.kind(), text(base, source)) {
                    ("comment", _) | ("identifier", "object") => {}
                    ("identifier", other) => pending.push(other.to_string()),
                    _ => return None,
                }
            }
        }
        for id in nodes(node).into_iter().filter(|n| n.kind() == "identifier") {
            if binding(id).is_some_and(|b| b.scope == node) {
                members.push(text(id, source).to_string());
            }
        }
        if instance {
            for (attr, attr_name) in assigned_attributes(node, source) {
                let on_self = attr
                    .child_by_field_name("object")
                    .is_some_and(|o| text(o, source) == "self");
                if on_self {
                    members.push(attr_name);
                }
            }
        }
    }
    if members
        .iter()
        .any(|m| m == "__getattr__" || m == "__getattribute__")
    {
        return None;
    }
    members.sort();
    members.dedup();
    Some(members)
}

/// The one class definition named `name` in the file.
fn single_class<'t>(root: Node<'t>, source: &str, name: &str) -> Option<Node<'t>> {
    let mut found = nodes(root).into_iter().filter(|n| {
        n.kind() == "class_definition"
            && n.child_by_field_name("name")
                .is_some_and(|id| text(id, source) == name)
    });
    let one = found.next()?;
    found.next().is_none().then_some(one)
}

/// True when the class has no decorator, or only ones known to add no attributes the
/// file does not show (`dataclass` makes attributes of the annotated fields, which are in the
/// body).
fn plain_decorators(class: Node<'_>, source: &str) -> bool {
    let Some(parent) = class
        .parent()
        .filter(|p| p.kind() == "decorated_definition")
    else {
        return true;
    };
    let mut cursor = parent.walk();
    let decorators: Vec<Node<'_>> = parent.named_children(&mut cursor).collect();
    decorators
        .into_iter()
        .filter(|d| d.kind() == "decorator")
        .all(|d| {
            let t = text(d, source).trim_start_matches('@').trim();
            let head = t.split('(').next().unwrap_or(t).trim();
            matches!(
                head,
                "dataclass"
                    | "dataclasses.dataclass"
                    | "total_ordering"
                    | "functools.total_ordering"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::super::tree::parse;
    use super::*;

    fn visible_at(src: &str, row: usize, name: &str) -> Vec<String> {
        let tree = parse(src).unwrap();
        let root = tree.root_node();
        let at = identifiers_on_row(root, src, row, name)[0];
        visible_names(root, src, at)
    }

    #[test]
    fn bindings_by_kind() {
        let src = "import a.b, c as d\nfrom m import (e, f as g)\ndef h(i, j=1, *k, l: int = 2, **n):\n    o, [p, *q] = 1\n    for r in s: pass\n    with t as u: pass\n    [v for w in x]\n    (y := 1)\n    return lambda z: z\n";
        let tree = parse(src).unwrap();
        let mut bound: Vec<(String, Kind)> = nodes(tree.root_node())
            .into_iter()
            .filter(|n| n.kind() == "identifier")
            .filter_map(|n| binding(n).map(|b| (text(n, src).to_string(), b.kind)))
            .collect();
        bound.sort_by(|a, b| a.0.cmp(&b.0));
        let names: Vec<&str> = bound.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "a", "d", "e", "g", "h", "i", "j", "k", "l", "n", "o", "p", "q", "r", "u", "w",
                "y", "z"
            ]
        );
        assert!(bound.contains(&("w".to_string(), Kind::LoopVar)));
        assert!(bound.contains(&("z".to_string(), Kind::Param)));
    }

    #[test]
    fn functions_see_their_own_and_module_names_but_not_siblings_or_classes() {
        let src = "top = 1\nclass C:\n    attr = 2\n    def m(self):\n        return totl\ndef other():\n    total = 3\nlater = 4\n";
        let names = visible_at(src, 4, "totl");
        assert_eq!(names, ["C", "later", "other", "self", "top"]);
    }

    #[test]
    fn module_level_code_sees_only_earlier_lines() {
        let src = "first = 1\nprint(totl)\ntotal = 2\n";
        assert_eq!(visible_at(src, 1, "totl"), ["first"]);
    }

    #[test]
    fn class_members_include_self_attributes_and_bases() {
        let src = "class Base:\n    def base_m(self): pass\nclass C(Base):\n    kind = 1\n    def __init__(self):\n        self.value = 2\n";
        let tree = parse(src).unwrap();
        let root = tree.root_node();
        assert_eq!(
            class_members(root, src, "C", true).unwrap(),
            ["__init__", "base_m", "kind", "value"]
        );
        assert_eq!(
            class_members(root, src, "C", false).unwrap(),
            ["__init__", "base_m", "kind"]
        );
        let foreign = "import enum\nclass C(enum.Enum):\n    A = 1\n";
        let tree = parse(foreign).unwrap();
        assert_eq!(class_members(tree.root_node(), foreign, "C", true), None);
        let dynamic = "class C:\n    def __getattr__(self, n): return 1\n";
        let tree = parse(dynamic).unwrap();
        assert_eq!(class_members(tree.root_node(), dynamic, "C", true), None);
    }
}
