//! What a function hands back, changed in kind. `handle` returned `payload["order"],
//! payload["amount"]` (its docstring: "returns (order, amount)"); a small model's fix of a
//! `json.loads` TypeError inside it made it return the payload dict instead (the bench's
//! `stdlib_json_loads_dict`). The program crashed before `handle` ever returned, so the proof
//! had no value of the baseline's to compare; the callers unpack two values and now get a dict.
//! A fix may change what is in a returned tuple; it may not stop returning the tuple.
//!
//! Pure: two texts in, findings out.

use std::collections::{BTreeMap, BTreeSet};

use super::definitions::definitions;
use crate::prove::syntax;

/// Why `after` makes a function stop returning the tuples of a length it returned before.
pub fn changes_returned_tuples(before: &str, after: &str) -> Vec<String> {
    // Text that does not parse is the syntax step's to refuse, with its own words.
    if syntax::parse(after).is_none_or(|t| t.root_node().has_error()) {
        return Vec::new();
    }
    let was = returns_by_function(before);
    let now = returns_by_function(after);
    let mut out = Vec::new();
    for (function, old) in &was {
        let Some(new) = now.get(function) else {
            continue; // renamed or deleted: other rules judge that
        };
        if new.values.is_empty() {
            continue; // no value returned at all: `drops_return`'s to say
        }
        for (len, example) in &old.tuples {
            if !new.tuples.contains_key(len) {
                out.push(format!(
                    "it changes what {function} returns: a tuple of {len} (`return {example}`) before, no tuple of {len} after (`return {}`): its callers take {len} values; keep returning them",
                    new.values.iter().next().map(String::as_str).unwrap_or("")
                ));
            }
        }
    }
    out
}

/// The values one function's own `return` statements give.
#[derive(Default)]
struct Returns {
    /// By length, the text of one returned tuple of that length.
    tuples: BTreeMap<usize, String>,
    /// Every returned expression's text, whitespace normalised.
    values: BTreeSet<String>,
}

/// Every function of `source` by its dotted path, with what its own body returns.
fn returns_by_function(source: &str) -> BTreeMap<String, Returns> {
    let Some(tree) = syntax::parse(source) else {
        return BTreeMap::new();
    };
    definitions(tree.root_node(), source.as_bytes())
        .into_iter()
        .filter_map(|d| {
            let returned = d.returns?;
            let mut returns = Returns::default();
            for r in returned {
                if let Some(len) = r.tuple_len {
                    returns.tuples.entry(len).or_insert_with(|| r.text.clone());
                }
                returns.values.insert(r.text);
            }
            Some((d.path, returns))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HANDLE: &str = r#"import json


def handle(raw):
    """The broker sends JSON text whose "payload" is a JSON object; returns (order, amount)."""
    envelope = json.loads(raw)
    payload = json.loads(envelope["payload"])
    return payload["order"], payload["amount"]
"#;

    #[test]
    fn the_bench_answer_that_returned_the_payload_dict_is_refused() {
        // The small model's answer, as the bench recorded it.
        let after = HANDLE.replace(
            "    payload = json.loads(envelope[\"payload\"])\n    return payload[\"order\"], payload[\"amount\"]\n",
            "    payload_str = json.dumps(envelope[\"payload\"])  # Convert payload to string\n    return json.loads(payload_str)  # Load as dictionary\n",
        );
        let why = changes_returned_tuples(HANDLE, &after);
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(why[0].contains("handle returns: a tuple of 2"), "{why:?}");
        assert!(
            why[0].contains("`return json.loads(payload_str)`"),
            "{why:?}"
        );
    }

    #[test]
    fn near_misses_keep_the_tuple_and_pass() {
        // The right fix: the payload is already a dict.
        let right = HANDLE.replace(
            "payload = json.loads(envelope[\"payload\"])",
            "payload = envelope[\"payload\"]",
        );
        assert!(changes_returned_tuples(HANDLE, &right).is_empty());
        // Parenthesised, reordered, or another early return added: still a tuple of 2.
        let parenthesised = HANDLE.replace(
            "return payload[\"order\"], payload[\"amount\"]",
            "return (payload[\"order\"], float(payload[\"amount\"]))",
        );
        assert!(changes_returned_tuples(HANDLE, &parenthesised).is_empty());
        let early = HANDLE.replace(
            "    envelope = json.loads(raw)\n",
            "    envelope = json.loads(raw)\n    if not envelope:\n        return None, 0\n",
        );
        assert!(changes_returned_tuples(HANDLE, &early).is_empty());
        // A nested function's tuple is its own, not handle's.
        let nested = "def f(x):\n    def g():\n        return 1, 2\n    return g\n";
        let nested_after = "def f(x):\n    def g():\n        return 1, 2\n    return g()\n";
        assert!(changes_returned_tuples(nested, nested_after).is_empty());
        // A function that returned no tuple may return one.
        let one = "def f(x):\n    return x\n";
        assert!(changes_returned_tuples(one, "def f(x):\n    return x, 1\n").is_empty());
    }

    #[test]
    fn a_tuple_of_another_length_is_refused_in_a_method_too() {
        let before = "class C:\n    def pair(self):\n        return self.a, self.b\n";
        let after = "class C:\n    def pair(self):\n        return self.a, self.b, None\n";
        let why = changes_returned_tuples(before, after);
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(why[0].contains("C.pair returns: a tuple of 2"), "{why:?}");
    }
}
