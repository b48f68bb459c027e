//! The functions and classes of a source, by dotted path (`Budget.share`), each function with
//! the values its own `return` statements give. One walk serves the rules that ask what a fix
//! did to a definition: deleted it (`dropped::drops_definitions`), left it without a returned
//! value (`dropped::drops_return`), or changed the kind of value it returns
//! (`returns::changes_returned_tuples`, `returns::drops_returned_keys`), or added one that does
//! nothing (`stand_in::adds_empty_function`).
//!
//! Pure: a parsed tree in, definitions out.

use tree_sitter::Node;

use super::literal::quoted;

/// A function or class.
pub(super) struct Definition {
    pub path: String,
    /// For a function, what its own `return` statements give (nested functions, classes and
    /// lambdas aside; a bare `return` gives nothing); `None` for a class.
    pub returns: Option<Vec<Returned>>,
    /// For a function, how its body ends; `None` for a class.
    pub ends: Option<Ending>,
    /// The docstring, lower case; `None` when there is none.
    pub docstring: Option<String>,
    /// A function whose body does nothing: only `pass`, `...`, strings (its docstring) and a
    /// bare `return` or `return None`. An abstract method or an `@overload` is empty by design
    /// and not counted; neither is a class.
    pub does_nothing: bool,
}

/// How the body of a function ends: what its last statement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// `return <value>`: the function always hands something back at its end.
    ReturnsAValue,
    /// An `if` through which the function may return None: no `else`, a branch that ends
    /// without a `return` or a `raise`, or a bare `return` or a `None` returned in it.
    OpenIf,
    /// Anything else.
    Other,
}

/// One value a `return` statement gives.
pub(super) struct Returned {
    /// The expression's text, whitespace normalised.
    pub text: String,
    /// For `return a, b` or `return (a, b)`, how many values.
    pub tuple_len: Option<usize>,
    /// For a dict literal whose keys are all string literals (`return {"a": 1, "b": x}`), its
    /// keys in order; `None` for any other value, or a dict with a `**` or a computed key.
    pub dict_keys: Option<Vec<String>>,
}

/// Every function and class under `root` (a module), outer ones first.
pub(super) fn definitions(root: Node<'_>, src: &[u8]) -> Vec<Definition> {
    let mut out = Vec::new();
    collect(root, src, "", &mut out);
    out
}

fn collect(node: Node<'_>, src: &[u8], path: &str, out: &mut Vec<Definition>) {
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        let (def, decorated) = if child.kind() == "decorated_definition" {
            (
                child.child_by_field_name("definition").unwrap_or(child),
                Some(child),
            )
        } else {
            (child, None)
        };
        match def.kind() {
            "function_definition" | "class_definition" => {
                let name = def
                    .child_by_field_name("name")
                    .and_then(|n| n.utf8_text(src).ok())
                    .unwrap_or("");
                let full = if path.is_empty() {
                    name.to_string()
                } else {
                    format!("{path}.{name}")
                };
                let body = def.child_by_field_name("body");
                let returns = (def.kind() == "function_definition").then(|| {
                    let mut returns = Vec::new();
                    if let Some(body) = body {
                        own_returns(body, src, &mut returns);
                    }
                    returns
                });
                let is_function = def.kind() == "function_definition";
                let ends = body.filter(|_| is_function).map(ending);
                let docstring = body.and_then(|b| super::docstring::of_body(b, src));
                let empty_by_design = decorated.is_some_and(|d| {
                    let mut cursor = d.walk();
                    d.named_children(&mut cursor)
                        .filter(|n| n.kind() == "decorator")
                        .filter_map(|n| n.utf8_text(src).ok())
                        .any(|t| t.contains("abstractmethod") || t.contains("overload"))
                });
                let does_nothing = is_function
                    && !empty_by_design
                    && body.is_some_and(|b| body_does_nothing(b, src));
                out.push(Definition {
                    path: full.clone(),
                    returns,
                    ends,
                    docstring,
                    does_nothing,
                });
                if let Some(body) = body {
                    collect(body, src, &full, out);
                }
            }
            _ => collect(child, src, path, out),
        }
    }
}

/// Whether a function's `body` holds only `pass`, `...`, strings and a bare `return` or
/// `return None`.
fn body_does_nothing(body: Node<'_>, src: &[u8]) -> bool {
    let mut cursor = body.walk();
    body.named_children(&mut cursor)
        .filter(|s| s.kind() != "comment")
        .all(|s| match s.kind() {
            "pass_statement" => true,
            "expression_statement" => {
                let mut c = s.walk();
                s.named_children(&mut c)
                    .all(|e| matches!(e.kind(), "string" | "ellipsis"))
            }
            "return_statement" => {
                let mut c = s.walk();
                s.named_children(&mut c)
                    .all(|e| e.kind() == "none" || e.utf8_text(src).ok() == Some("None"))
            }
            _ => false,
        })
}

/// How `body`, a function's block, ends.
fn ending(body: Node<'_>) -> Ending {
    let mut cursor = body.walk();
    let last = body
        .named_children(&mut cursor)
        .filter(|n| n.kind() != "comment")
        .last();
    match last {
        Some(n) if n.kind() == "return_statement" && n.named_child(0).is_some() => {
            Ending::ReturnsAValue
        }
        Some(n) if n.kind() == "if_statement" && crate::prove::none_paths::may_return_none(n) => {
            Ending::OpenIf
        }
        _ => Ending::Other,
    }
}

/// The values of the `return` statements in `node`, outside nested functions, classes and
/// lambdas.
fn own_returns(node: Node<'_>, src: &[u8], out: &mut Vec<Returned>) {
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        match child.kind() {
            "function_definition" | "class_definition" | "decorated_definition" | "lambda" => {}
            "return_statement" => {
                let Some(value) = child.named_child(0) else {
                    continue;
                };
                let text = value
                    .utf8_text(src)
                    .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
                    .unwrap_or_default();
                let tuple_len = matches!(value.kind(), "expression_list" | "tuple").then(|| {
                    let mut c = value.walk();
                    value
                        .named_children(&mut c)
                        .filter(|n| n.kind() != "comment")
                        .count()
                });
                let dict_keys = literal_keys(value, src);
                out.push(Returned {
                    text,
                    tuple_len,
                    dict_keys,
                });
            }
            _ => own_returns(child, src, out),
        }
    }
}

/// The keys of `value` when it is a dict literal whose keys are all string literals.
fn literal_keys(value: Node<'_>, src: &[u8]) -> Option<Vec<String>> {
    if value.kind() != "dictionary" {
        return None;
    }
    let mut keys = Vec::new();
    let mut cursor = value.walk();
    for item in value.named_children(&mut cursor) {
        match item.kind() {
            "comment" => {}
            "pair" => {
                let key = item.child_by_field_name("key")?;
                if key.kind() != "string" {
                    return None;
                }
                keys.push(quoted(key.utf8_text(src).ok()?)?);
            }
            _ => return None, // `**other`: keys not known here
        }
    }
    Some(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A definition's path, and each returned value's text and tuple length.
    type Summary<'a> = (&'a str, Option<Vec<(&'a str, Option<usize>)>>);

    #[test]
    fn functions_methods_and_nested_ones_each_have_their_own_returns() {
        let src = "\
@cache
def f(x):
    def g():
        return 1, 2
    if x:
        return
    return g

class C:
    def m(self):
        return (self.a,
                self.b)
";
        let tree = crate::prove::syntax::parse(src).unwrap();
        let found = definitions(tree.root_node(), src.as_bytes());
        let summary: Vec<Summary<'_>> = found
            .iter()
            .map(|d| {
                (
                    d.path.as_str(),
                    d.returns
                        .as_ref()
                        .map(|r| r.iter().map(|r| (r.text.as_str(), r.tuple_len)).collect()),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("f", Some(vec![("g", None)])),
                ("f.g", Some(vec![("1, 2", Some(2))])),
                ("C", None),
                ("C.m", Some(vec![("(self.a, self.b)", Some(2))])),
            ]
        );
    }
}
