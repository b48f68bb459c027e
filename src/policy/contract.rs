//! Fixes that break what a function promises its callers: a default for a missing key other
//! than the one the docstring states (`settings.get("retries", 0)` where the docstring says
//! "when absent, a job is retried 3 times"), and a parameter removed from a function the error
//! was not about (`def total(self, shipping=4.9)` became `def total(self)`: a caller passing
//! `shipping` now fails), and a parameter the function stops reading (`return ranked[:n]`
//! became `return ranked`: `top(scores, n=3)` now gives every score, whatever `n` asks).
//!
//! Pure: two texts in, findings out.

use std::collections::BTreeMap;

use tree_sitter::Node;

use super::added::{added_rows, touches};
use super::docstring::enclosing_docstring;
use super::literal::{number, quoted};
use crate::prove::syntax;

/// Why a default the fix gives a missing key contradicts the number the docstring states for
/// it, if it does.
pub fn contradicts_documented_default(
    before: &str,
    after: &str,
    error_type: Option<&str>,
    message: Option<&str>,
) -> Vec<String> {
    let mut out = Vec::new();
    let is_key_error = error_type.is_some_and(|t| t.rsplit('.').next() == Some("KeyError"));
    let Some(key) = message.filter(|_| is_key_error).and_then(quoted) else {
        return out;
    };
    let Some(tree) = syntax::parse(after) else {
        return out;
    };
    let src = after.as_bytes();
    let added = added_rows(before, after);
    for call in syntax::named_nodes(tree.root_node()).filter(|n| n.kind() == "call") {
        if !touches(call, &added) {
            continue;
        }
        let Some(default) = default_for(call, src, &key) else {
            continue;
        };
        let Some(doc) = enclosing_docstring(call, src) else {
            continue;
        };
        let Some((sentence, stated)) = stated_numbers(&doc, &key) else {
            continue;
        };
        if !stated.iter().any(|n| (n - default).abs() < 1e-9) {
            out.push(format!(
                "it gives the missing key '{key}' the default {default} at line {}, where the docstring says what a missing '{key}' gives (\"{sentence}\"): use the documented value",
                call.start_position().row + 1
            ));
        }
    }
    out
}

/// Why the fix removes parameters from functions the error did not name, if it does.
pub fn drops_parameters(before: &str, after: &str, message: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    let (Some(old), Some(new)) = (syntax::parse(before), syntax::parse(after)) else {
        return out;
    };
    let before_params = parameters(old.root_node(), before.as_bytes());
    let after_params = parameters(new.root_node(), after.as_bytes());
    // `total(` named in the message as a whole name: not the end of `subtotal(`.
    let named = |function: &str| {
        let short = function.rsplit('.').next().unwrap_or(function);
        let call = format!("{short}(");
        message.is_some_and(|m| {
            m.match_indices(&call).any(|(at, _)| {
                m[..at]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            })
        })
    };
    for (function, params) in &before_params {
        let Some(now) = after_params.get(function) else {
            continue; // renamed or deleted: other rules judge that
        };
        let dropped: Vec<&String> = params.iter().filter(|p| !now.contains(p)).collect();
        if dropped.is_empty() || named(function) {
            continue;
        }
        out.push(format!(
            "it removes the parameter {} of {function}(), which the error was not about: a caller passing it would now fail",
            super::quoted_names(&dropped)
        ));
    }
    out
}

/// Why the fix makes functions ignore parameters they read before, if it does. The caller's
/// argument still goes in and no longer does anything: what it asked for (`n` best, a
/// `currency`, a `limit`) is silently dropped, and nothing the proof compares may show it when
/// the function crashed before. A parameter the error message names (`'n'`) is the
/// exception: the error may be about that very value.
pub fn ignores_parameters(before: &str, after: &str, message: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    let (Some(old), Some(new)) = (syntax::parse(before), syntax::parse(after)) else {
        return out;
    };
    let was = bodies(old.root_node(), before.as_bytes());
    let now = bodies(new.root_node(), after.as_bytes());
    let named = |param: &str| message.is_some_and(|m| m.contains(&format!("'{param}'")));
    for (function, (params, body_was)) in &was {
        let Some((params_now, body_now)) = now.get(function) else {
            continue; // renamed or deleted: other rules judge that
        };
        let ignored: Vec<&String> = params
            .iter()
            .filter(|p| !matches!(p.as_str(), "self" | "cls") && !p.starts_with('_'))
            .filter(|p| params_now.contains(p) && !named(p))
            .filter(|p| body_was.contains(*p) && !body_now.contains(*p))
            .collect();
        if ignored.is_empty() {
            continue;
        }
        out.push(format!(
            "it makes {function}() ignore its parameter {}, which it read before: what a caller asks with it would silently no longer be done",
            super::quoted_names(&ignored)
        ));
    }
    out
}

/// Each function's parameters and the names its body reads, by its dotted name.
fn bodies(
    root: Node<'_>,
    src: &[u8],
) -> BTreeMap<String, (Vec<String>, std::collections::BTreeSet<String>)> {
    let params = parameters(root, src);
    let mut out = BTreeMap::new();
    for node in syntax::named_nodes(root).filter(|n| n.kind() == "function_definition") {
        let (Some(name), Some(body)) = (dotted_name(node, src), node.child_by_field_name("body"))
        else {
            continue;
        };
        let read = syntax::named_nodes(body)
            .filter(|n| n.kind() == "identifier" && is_read(*n))
            .filter_map(|n| n.utf8_text(src).ok())
            .map(str::to_string)
            .collect();
        out.insert(
            name.clone(),
            (params.get(&name).cloned().unwrap_or_default(), read),
        );
    }
    out
}

/// Whether an identifier names a value, not an attribute (`x.n`) or a keyword (`f(n=1)`).
fn is_read(identifier: Node<'_>) -> bool {
    let Some(parent) = identifier.parent() else {
        return true;
    };
    let is_field = |field: &str| {
        parent
            .child_by_field_name(field)
            .is_some_and(|f| f.id() == identifier.id())
    };
    match parent.kind() {
        "attribute" => !is_field("attribute"),
        "keyword_argument" => !is_field("name"),
        _ => true,
    }
}

/// Each function's parameter names, by its dotted name (`Basket.total`).
fn parameters(root: Node<'_>, src: &[u8]) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for node in syntax::named_nodes(root).filter(|n| n.kind() == "function_definition") {
        let Some(name) = dotted_name(node, src) else {
            continue;
        };
        let Some(list) = node.child_by_field_name("parameters") else {
            continue;
        };
        let mut cursor = list.walk();
        let names: Vec<String> = list
            .named_children(&mut cursor)
            .filter_map(|p| parameter_name(p, src))
            .collect();
        out.insert(name, names);
    }
    out
}

fn parameter_name(p: Node<'_>, src: &[u8]) -> Option<String> {
    let node = match p.kind() {
        "identifier" => p,
        "default_parameter" | "typed_default_parameter" => p.child_by_field_name("name")?,
        "typed_parameter" | "list_splat_pattern" | "dictionary_splat_pattern" => {
            let mut c = p.walk();
            p.named_children(&mut c)
                .find(|n| n.kind() == "identifier")?
        }
        _ => return None,
    };
    node.utf8_text(src).ok().map(str::to_string)
}

/// `Class.method` or `function`, nested functions by their enclosing ones.
fn dotted_name(function: Node<'_>, src: &[u8]) -> Option<String> {
    let mut parts = vec![
        function
            .child_by_field_name("name")?
            .utf8_text(src)
            .ok()?
            .to_string(),
    ];
    let mut current = function.parent();
    while let Some(n) = current {
        if matches!(n.kind(), "class_definition" | "function_definition")
            && let Some(name) = n
                .child_by_field_name("name")
                .and_then(|x| x.utf8_text(src).ok())
        {
            parts.push(name.to_string());
        }
        current = n.parent();
    }
    parts.reverse();
    Some(parts.join("."))
}

/// The numeric default of `x.get("key", N)` or `x.setdefault("key", N)`.
fn default_for(call: Node<'_>, src: &[u8], key: &str) -> Option<f64> {
    let method = call
        .child_by_field_name("function")
        .filter(|f| f.kind() == "attribute")?
        .child_by_field_name("attribute")?
        .utf8_text(src)
        .ok()?;
    if method != "get" && method != "setdefault" {
        return None;
    }
    let args = call.child_by_field_name("arguments")?;
    let first = args.named_child(0)?.utf8_text(src).ok().and_then(quoted)?;
    if first != key {
        return None;
    }
    let value = args.named_child(1)?;
    if !matches!(value.kind(), "integer" | "float") {
        return None;
    }
    number(value.utf8_text(src).ok()?)
}

/// The sentence of `doc` that names `key` and says what its absence gives, with its numbers.
fn stated_numbers(doc: &str, key: &str) -> Option<(String, Vec<f64>)> {
    let lower = doc.to_lowercase();
    let absent = [
        "absent",
        "missing",
        "not given",
        "not set",
        "default",
        "omitted",
    ];
    lower
        .split(['\n', ';'])
        .flat_map(|line| line.split(". "))
        .filter(|s| s.contains(&key.to_lowercase()) && absent.iter().any(|w| s.contains(w)))
        .find_map(|s| {
            // The key's own digits (`retries2`) are not a stated value.
            let rest = s.replace(&key.to_lowercase(), " ");
            let numbers: Vec<f64> = rest
                .split(|c: char| !(c.is_ascii_digit() || c == '.'))
                .map(|w| w.trim_matches('.'))
                .filter(|w| !w.is_empty())
                .filter_map(|w| w.parse().ok())
                .collect();
            let sentence: String = s.trim().chars().take(120).collect();
            (!numbers.is_empty()).then(|| (sentence.replace('"', "'"), numbers))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETRY: &str = "def retry_policy(settings):\n    \"\"\"How a job is retried.\n\n    settings[\"retries\"] is optional: when absent, a job is retried 3 times.\n    settings[\"backoff_s\"] is optional: when absent, 1.5 seconds between tries.\n    \"\"\"\n    return {\"retries\": settings[\"retries\"], \"backoff_s\": settings.get(\"backoff_s\", 1.5)}\n";

    #[test]
    fn a_default_other_than_the_documented_one_is_refused_and_the_documented_one_is_not() {
        let wrong = RETRY.replace("settings[\"retries\"],", "settings.get(\"retries\", 0),");
        let found =
            contradicts_documented_default(RETRY, &wrong, Some("KeyError"), Some("'retries'"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("the default 0") && found[0].contains("retried 3 times"));
        let right = RETRY.replace("settings[\"retries\"],", "settings.get(\"retries\", 3),");
        assert!(
            contradicts_documented_default(RETRY, &right, Some("KeyError"), Some("'retries'"))
                .is_empty()
        );
        // Nothing stated: the docstring decides nothing (other rules judge the default).
        let plain = RETRY.replace("when absent, a job is retried 3 times", "it is optional");
        let wrong = plain.replace("settings[\"retries\"],", "settings.get(\"retries\", 0),");
        assert!(
            contradicts_documented_default(&plain, &wrong, Some("KeyError"), Some("'retries'"))
                .is_empty()
        );
    }

    const TOP: &str = "def top(scores, n=3):\n    \"\"\"The n best (name, score) pairs, best first.\"\"\"\n    ranked = list(scores.items())\n    ranked = ranked.sort(key=lambda kv: kv[1], reverse=True)\n    return ranked[:n]\n";

    #[test]
    fn a_parameter_the_fix_stops_reading_is_refused() {
        // bench/crashes/cases/none_sort_result: the wrong fix main's binary made.
        let message = Some("'NoneType' object is not subscriptable");
        let wrong = TOP
            .replace("    ranked = ranked.sort(", "    ranked.sort(")
            .replace("return ranked[:n]", "return ranked");
        let found = ignores_parameters(TOP, &wrong, message);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("top() ignore its parameter 'n'"),
            "{found:?}"
        );
        // The right fixes read n still, in any shape.
        let right = TOP.replace("    ranked = ranked.sort(", "    ranked.sort(");
        assert!(ignores_parameters(TOP, &right, message).is_empty());
        let sorted = TOP.replace(
            "ranked.sort(key=lambda kv: kv[1], reverse=True)",
            "sorted(ranked, key=lambda kv: kv[1], reverse=True)",
        );
        assert!(ignores_parameters(TOP, &sorted, message).is_empty());
        // Near misses: n only as an attribute or a keyword's name is not read; the error
        // naming the parameter; self; a parameter also removed (drops_parameters judges it).
        for fake in ["return ranked[:self.n]", "return head(ranked, n=3)"] {
            let after = right.replace("return ranked[:n]", fake);
            assert_eq!(ignores_parameters(TOP, &after, message).len(), 1, "{fake}");
        }
        let about_n = Some("slice indices must be integers or None, not 'n'");
        assert!(ignores_parameters(TOP, &wrong, about_n).is_empty());
        let method = "class A:\n    def f(self, x):\n        return self.g(x)\n";
        let static_like = method.replace("return self.g(x)", "return x * 2");
        assert!(ignores_parameters(method, &static_like, None).is_empty());
        let removed = wrong.replace("def top(scores, n=3)", "def top(scores)");
        assert!(ignores_parameters(TOP, &removed, message).is_empty());
    }

    const BASKET: &str = "class Basket:\n    def subtotal(lines):\n        return sum(lines)\n\n    def total(self, shipping=4.9):\n        return self.subtotal(self.lines) + shipping\n";

    #[test]
    fn a_parameter_dropped_from_a_function_the_error_did_not_name_is_refused() {
        let message = Some("Basket.subtotal() takes 1 positional argument but 2 were given");
        let after = BASKET
            .replace("def subtotal(lines)", "def subtotal(self, lines)")
            .replace("def total(self, shipping=4.9)", "def total(self)")
            .replace("+ shipping", "+ 4.9");
        let found = drops_parameters(BASKET, &after, message);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("'shipping' of Basket.total()"),
            "{found:?}"
        );
        // The right fix adds self and drops nothing.
        let right = BASKET.replace("def subtotal(lines)", "def subtotal(self, lines)");
        assert!(drops_parameters(BASKET, &right, message).is_empty());
        // The function the error names may lose one (an extra parameter was the bug).
        let named = BASKET.replace("def subtotal(lines)", "def subtotal()");
        assert!(drops_parameters(BASKET, &named, message).is_empty());
    }
}
