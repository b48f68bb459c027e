//! A function made to change what its caller gave it. `json.dumps(event)` failed on a
//! datetime; converting `event[key] = event[key].isoformat()` in place makes it work, and
//! changes the caller's event: the program's other uses of it now see strings. The right fix
//! converts a copy. A small model was seen to do this (the bench's
//! `stdlib_json_dumps_datetime`).
//!
//! Counted per function and parameter (`self` and `cls` aside: a method changes its object):
//! item and attribute assignments (`p[k] = v`, `p.x = v`, augmented too), `del p[k]`, and the
//! mutating methods of lists, dicts and sets (`p.append(...)`, `p.update(...)`...). A fix may
//! not make a function change a parameter it did not change before.
//!
//! Pure: two texts in, findings out.

use std::collections::BTreeMap;

use tree_sitter::Node;

/// Methods of the built-in containers that change them.
const MUTATORS: &[&str] = &[
    "append",
    "extend",
    "insert",
    "remove",
    "pop",
    "popitem",
    "clear",
    "sort",
    "reverse",
    "update",
    "setdefault",
    "add",
    "discard",
];

/// Why `after` makes a function change a parameter it left alone in `before`.
pub fn mutates_arguments(before: &str, after: &str) -> Vec<String> {
    if crate::prove::syntax::parse_clean(after).is_none() {
        return Vec::new();
    }
    let was = mutations(before);
    let now = mutations(after);
    now.into_iter()
        .filter(|(key, _)| !was.contains_key(key))
        .map(|((function, parameter), example)| {
            format!(
                "it makes `{function}` change the `{parameter}` its caller gave it (`{example}`): the caller's data would change too; work on a copy"
            )
        })
        .collect()
}

/// (function, parameter) → the first statement that changes it.
fn mutations(source: &str) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    let Some(tree) = crate::prove::syntax::parse(source) else {
        return out;
    };
    let src = source.as_bytes();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.kind() == "function_definition"
            && let Some(name) = node
                .child_by_field_name("name")
                .and_then(|n| n.utf8_text(src).ok())
            && let Some(body) = node.child_by_field_name("body")
        {
            let parameters = parameters(node, src);
            let mut inner = vec![body];
            while let Some(n) = inner.pop() {
                // A nested function is judged on its own.
                if n.kind() == "function_definition" || n.kind() == "class_definition" {
                    continue;
                }
                if let Some(target) = changed(n, src)
                    && parameters.contains(&target)
                {
                    let text = n.utf8_text(src).unwrap_or("").lines().next().unwrap_or("");
                    out.entry((name.to_string(), target))
                        .or_insert_with(|| text.trim().chars().take(80).collect());
                }
                let mut cursor = n.walk();
                inner.extend(n.named_children(&mut cursor));
            }
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
    out
}

/// The plain parameter names of a function, `self` and `cls` aside.
fn parameters(function: Node<'_>, src: &[u8]) -> Vec<String> {
    let Some(list) = function.child_by_field_name("parameters") else {
        return Vec::new();
    };
    let mut cursor = list.walk();
    list.named_children(&mut cursor)
        .filter_map(|p| match p.kind() {
            "identifier" => Some(p),
            "default_parameter" | "typed_parameter" | "typed_default_parameter" => p
                .child_by_field_name("name")
                .or_else(|| p.named_child(0))
                .filter(|n| n.kind() == "identifier"),
            _ => None,
        })
        .filter_map(|n| n.utf8_text(src).ok())
        .filter(|n| *n != "self" && *n != "cls")
        .map(str::to_string)
        .collect()
}

/// The name whose object `node` changes, if it is a statement that changes one.
fn changed(node: Node<'_>, src: &[u8]) -> Option<String> {
    let base = |target: Node<'_>| -> Option<String> {
        match target.kind() {
            "subscript" => target.child_by_field_name("value"),
            "attribute" => target.child_by_field_name("object"),
            _ => None,
        }
        .filter(|b| b.kind() == "identifier")
        .and_then(|b| b.utf8_text(src).ok())
        .map(str::to_string)
    };
    match node.kind() {
        "assignment" | "augmented_assignment" => base(node.child_by_field_name("left")?),
        "delete_statement" => base(node.named_child(0)?),
        "call" => {
            let function = node.child_by_field_name("function")?;
            if function.kind() != "attribute" {
                return None;
            }
            let method = function
                .child_by_field_name("attribute")?
                .utf8_text(src)
                .ok()?;
            let object = function.child_by_field_name("object")?;
            (MUTATORS.contains(&method) && object.kind() == "identifier")
                .then(|| object.utf8_text(src).ok().map(str::to_string))
                .flatten()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TO_JSON: &str = "def to_json(event):\n    return json.dumps(event, sort_keys=True)\n";

    #[test]
    fn a_function_made_to_change_its_argument_is_refused() {
        let in_place = "def to_json(event):\n    for key in list(event.keys()):\n        if isinstance(event[key], datetime):\n            event[key] = event[key].isoformat()\n    return json.dumps(event, sort_keys=True)\n";
        let why = mutates_arguments(TO_JSON, in_place);
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(
            why[0].contains("`to_json` change the `event`")
                && why[0].contains("event[key] = event[key].isoformat()"),
            "{why:?}"
        );
        let appended = "def to_json(event):\n    event.update(at=str(event['at']))\n    return json.dumps(event)\n";
        assert_eq!(mutates_arguments(TO_JSON, appended).len(), 1);
    }

    #[test]
    fn a_copy_a_method_or_a_change_that_was_there_is_allowed() {
        let copy = "def to_json(event):\n    event = dict(event)\n    out = {}\n    out['at'] = 1\n    return json.dumps(event, default=str)\n";
        // Rebinding the name is not changing the caller's object; a local's items are free.
        assert!(mutates_arguments(TO_JSON, copy).is_empty());
        let method_before = "class A:\n    def f(self, x):\n        return x\n";
        let method_after =
            "class A:\n    def f(self, x):\n        self.seen = x\n        return x\n";
        assert!(mutates_arguments(method_before, method_after).is_empty());
        let was = "def add(items, x):\n    items.append(x)\n";
        let still = "def add(items, x):\n    items.append(x)\n    items.sort()\n";
        assert!(mutates_arguments(was, still).is_empty());
    }
}
