//! Whether a function may hand its caller None: a bare `return`, a `None` in a returned value
//! (`x if c else None`), or a way through its body that ends without a `return` or a `raise`
//! (an `if` with no `else`, a loop). A fix that gives a function such a way, where it had none,
//! makes the None its callers then fail on the fix's doing (`verdict`).
//!
//! Pure: a parsed function body in, a yes or no out (the tree's node kinds are enough). Judged on the text only: a function that
//! could return None may never do so, and the answer is "may".

use tree_sitter::Node;

/// Whether a function whose block is `body` may return None; or, for a statement, whether a
/// function ending with it may.
pub fn may_return_none(body: Node<'_>) -> bool {
    !always_leaves(body) || returns_a_none(body)
}

/// Whether every way through `node` ends in a `return` or a `raise`.
fn always_leaves(node: Node<'_>) -> bool {
    match node.kind() {
        "return_statement" | "raise_statement" => true,
        "block" => last_statement(node).is_some_and(always_leaves),
        "if_statement" => {
            let mut cursor = node.walk();
            let mut has_else = false;
            let all = node.children(&mut cursor).all(|child| match child.kind() {
                "block" => always_leaves(child),
                "elif_clause" | "else_clause" => {
                    has_else |= child.kind() == "else_clause";
                    child
                        .child_by_field_name("consequence")
                        .or_else(|| child.child_by_field_name("body"))
                        .is_some_and(always_leaves)
                }
                _ => true,
            });
            has_else && all
        }
        // `while True:` with no `break` never falls through; other loops, `try`, `with` and
        // `match` are taken as able to (a `with` body that returns is read through).
        "while_statement" => {
            node.child_by_field_name("condition")
                .is_some_and(|c| c.kind() == "true")
                && !has_break(node)
        }
        "with_statement" => node.child_by_field_name("body").is_some_and(always_leaves),
        "try_statement" => {
            let mut cursor = node.walk();
            node.children(&mut cursor).all(|child| match child.kind() {
                "block" => always_leaves(child),
                "except_clause" | "else_clause" | "finally_clause" | "except_group_clause" => {
                    let mut c = child.walk();
                    child
                        .named_children(&mut c)
                        .filter(|n| n.kind() == "block")
                        .last()
                        .is_some_and(always_leaves)
                }
                _ => true,
            })
        }
        _ => false,
    }
}

/// The last statement of a block, comments aside.
pub fn last_statement(block: Node<'_>) -> Option<Node<'_>> {
    let mut cursor = block.walk();
    block
        .named_children(&mut cursor)
        .filter(|n| n.kind() != "comment")
        .last()
}

/// Whether a `break` in `node` (outside nested loops and functions) ends it.
fn has_break(node: Node<'_>) -> bool {
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .any(|child| match child.kind() {
            "break_statement" => true,
            "for_statement"
            | "while_statement"
            | "function_definition"
            | "class_definition"
            | "lambda" => false,
            _ => has_break(child),
        })
}

/// Whether `node` holds a bare `return`, or a `return` whose value has a `None` in it, outside
/// nested functions, classes and lambdas.
fn returns_a_none(node: Node<'_>) -> bool {
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .any(|child| match child.kind() {
            "function_definition" | "class_definition" | "decorated_definition" | "lambda" => false,
            "return_statement" => match child.named_child(0) {
                None => true,
                Some(value) => holds_none(value),
            },
            _ => returns_a_none(child),
        })
}

/// Whether the expression `node` has the `None` literal in it, lambdas aside.
fn holds_none(node: Node<'_>) -> bool {
    if node.kind() == "none" {
        return true;
    }
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .any(|c| c.kind() != "lambda" && holds_none(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// may_return_none of the first function of `source`.
    fn may(source: &str) -> bool {
        let tree = crate::prove::syntax::parse(source).unwrap();
        let def = tree.root_node().named_child(0).unwrap();
        let body = def.child_by_field_name("body").unwrap();
        may_return_none(body)
    }

    #[test]
    fn ways_to_hand_back_none_are_seen() {
        assert!(may("def f(a, b):\n    if b:\n        return a / b\n"));
        assert!(may("def f(a, b):\n    return a / b if b else None\n"));
        assert!(may("def f(a):\n    if a:\n        return\n    return 1\n"));
        assert!(may("def f(a):\n    print(a)\n"));
        assert!(may(
            "def f(xs):\n    for x in xs:\n        if x:\n            return x\n"
        ));
        assert!(may(
            "def f(a):\n    try:\n        return 1 / a\n    except ZeroDivisionError:\n        pass\n"
        ));
        assert!(may(
            "def f(a):\n    if a:\n        return 1\n    else:\n        pass\n"
        ));
    }

    #[test]
    fn functions_that_always_return_a_value_or_raise_are_not() {
        assert!(!may("def f(a, b):\n    return a / b\n"));
        assert!(!may(
            "def f(a, b):\n    if not b:\n        return a\n    return a / b\n"
        ));
        assert!(!may(
            "def f(a):\n    if a > 0:\n        return 1\n    elif a < 0:\n        raise ValueError(a)\n    else:\n        return 0\n"
        ));
        assert!(!may(
            "def f(a):\n    try:\n        return 1 / a\n    except ZeroDivisionError:\n        return 0.0\n"
        ));
        assert!(!may(
            "def f(q):\n    while True:\n        x = q.get()\n        if x:\n            return x\n"
        ));
        assert!(!may(
            "def f(p):\n    with open(p) as fh:\n        return fh.read()\n"
        ));
        // A nested function's bare return is its own.
        assert!(!may(
            "def f(a):\n    def g():\n        return\n    return g\n"
        ));
        // A lambda's None is its own.
        assert!(!may(
            "def f(a):\n    return sorted(a, key=lambda x: None)\n"
        ));
    }
}
