//! What a function hands back, changed in kind. `handle` returned `payload["order"],
//! payload["amount"]` (its docstring: "returns (order, amount)"); a small model's fix of a
//! `json.loads` TypeError inside it made it return the payload dict instead (the bench's
//! `stdlib_json_loads_dict`). The program crashed before `handle` ever returned, so the proof
//! had no value of the baseline's to compare; the callers unpack two values and now get a dict.
//! A fix may change what is in a returned tuple; it may not stop returning the tuple.
//!
//! The same for the keys of a returned dict: `retry_policy` returned `{"retries": ...,
//! "backoff_s": ...}`, and a fix of its KeyError on an optional setting added `if "retries" not
//! in settings: return {"retries": 3}` (the bench's `dict_key_default_doc`). The caller's
//! `policy['backoff_s']` then failed, in code the fix did not touch, which the proof took for the
//! program getting further. A dict the fix makes a function return must hold every key each
//! dict it returned before held, or a key close to it (a misspelt key corrected).
//!
//! Pure: two texts in, findings out.

use std::collections::{BTreeMap, BTreeSet};

use super::definitions::definitions;
use crate::prove::syntax;

/// Why `after` makes a function stop returning the tuples of a length it returned before.
pub fn changes_returned_tuples(before: &str, after: &str) -> Vec<String> {
    // Text that does not parse is the syntax step's to refuse, with its own words.
    if syntax::parse_clean(after).is_none() {
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

/// How alike (0 to 1, by edit distance) a key the fix left out and one it returns instead
/// must be to count as the same key corrected: `retires` and `retries` are (0.71).
const KEY_SIMILARITY: f64 = 0.6;

/// Why `after` makes a function return a dict literal without a key that every dict literal
/// it returned before had.
pub fn drops_returned_keys(before: &str, after: &str) -> Vec<String> {
    if syntax::parse_clean(after).is_none() {
        return Vec::new();
    }
    let was = returns_by_function(before);
    let now = returns_by_function(after);
    let mut out = Vec::new();
    for (function, old) in &was {
        let (Some(keys), Some(new)) = (old.common_keys(), now.get(function)) else {
            continue;
        };
        // Only the dicts the fix wrote: a return left as it was is not the fix's.
        let added = new
            .dicts
            .iter()
            .filter(|(text, _)| !old.values.contains(text));
        for (text, new_keys) in added {
            let corrected = |key: &str| {
                new_keys
                    .iter()
                    .any(|k| strsim::normalized_levenshtein(key, k) >= KEY_SIMILARITY)
            };
            let missing: Vec<String> = keys
                .iter()
                .filter(|k| !corrected(k))
                .map(|k| format!("'{k}'"))
                .collect();
            if !missing.is_empty() {
                out.push(format!(
                    "it changes what {function} returns: every dict it returned had the key {} (`return {}`), and `return {text}` has not: its callers read those keys; return them in every case",
                    missing.join(", "),
                    old.dicts.first().map(|(t, _)| t.as_str()).unwrap_or(""),
                ));
                break;
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
    /// Each returned dict literal with string keys: its text and its keys.
    dicts: Vec<(String, Vec<String>)>,
}

impl Returns {
    /// The keys every returned dict literal has; `None` when it returned none.
    fn common_keys(&self) -> Option<BTreeSet<&str>> {
        let mut dicts = self.dicts.iter();
        let (_, first) = dicts.next()?;
        let mut common: BTreeSet<&str> = first.iter().map(String::as_str).collect();
        for (_, keys) in dicts {
            common.retain(|k| keys.iter().any(|key| key == k));
        }
        Some(common)
    }
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
                if let Some(keys) = r.dict_keys {
                    returns.dicts.push((r.text.clone(), keys));
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

    const RETRY_POLICY: &str = r#"def retry_policy(settings):
    """How a job is retried.

    settings["retries"] is optional: when absent, a job is retried 3 times.
    settings["backoff_s"] is optional: when absent, 1.5 seconds between tries.
    """
    return {"retries": settings["retries"], "backoff_s": settings.get("backoff_s", 1.5)}
"#;

    #[test]
    fn the_bench_answer_that_returned_a_dict_without_backoff_is_refused() {
        // The small model's answer, as the bench recorded it (2026-12-01, 07:56).
        let after = RETRY_POLICY.replace(
            "    return {\"retries\"",
            "    if \"retries\" not in settings:\n        return {\"retries\": 3}\n    return {\"retries\"",
        );
        let why = drops_returned_keys(RETRY_POLICY, &after);
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(
            why[0].contains("retry_policy returns: every dict it returned had the key 'backoff_s'")
                && why[0].contains("`return {\"retries\": 3}`"),
            "{why:?}"
        );
    }

    #[test]
    fn near_misses_keep_the_keys_and_pass() {
        let right = RETRY_POLICY.replace("settings[\"retries\"]", "settings.get(\"retries\", 3)");
        assert!(drops_returned_keys(RETRY_POLICY, &right).is_empty());
        // An early return with every key, one more key, or a key in another order.
        let early = RETRY_POLICY.replace(
            "    return {\"retries\"",
            "    if \"retries\" not in settings:\n        return {\"backoff_s\": settings.get(\"backoff_s\", 1.5), \"retries\": 3, \"source\": \"default\"}\n    return {\"retries\"",
        );
        assert!(drops_returned_keys(RETRY_POLICY, &early).is_empty());
        // A misspelt key corrected.
        let typo = "def f(x):\n    return {\"retires\": x}\n";
        assert!(drops_returned_keys(typo, "def f(x):\n    return {\"retries\": x}\n").is_empty());
        // A dict with `**` or a computed key says nothing of its keys, before or after.
        let splat = "def f(x):\n    return {**x, \"a\": 1}\n";
        assert!(drops_returned_keys(splat, "def f(x):\n    return {\"b\": 1}\n").is_empty());
        let plain = "def f(x):\n    return {\"a\": 1, \"b\": 2}\n";
        assert!(drops_returned_keys(plain, "def f(x):\n    return {**x}\n").is_empty());
        // A function that returned no dict may start returning one.
        assert!(
            drops_returned_keys("def f(x):\n    return x\n", "def f(x):\n    return {}\n")
                .is_empty()
        );
        // Keys only some of the old dicts had may be left out.
        let two =
            "def f(x):\n    if x:\n        return {\"a\": 1, \"b\": 2}\n    return {\"a\": 0}\n";
        let two_after = "def f(x):\n    if x is None:\n        return {\"a\": None}\n    if x:\n        return {\"a\": 1, \"b\": 2}\n    return {\"a\": 0}\n";
        assert!(drops_returned_keys(two, two_after).is_empty());
    }

    #[test]
    fn a_nested_function_s_dict_is_its_own() {
        let before =
            "def f(x):\n    def g():\n        return {\"a\": 1, \"b\": 2}\n    return g()\n";
        let after = "def f(x):\n    def g():\n        return {\"a\": 1, \"b\": 2}\n    if x:\n        return {\"a\": 1}\n    return g()\n";
        assert!(drops_returned_keys(before, after).is_empty());
        let inner = before.replace(
            "        return {\"a\": 1, \"b\": 2}\n",
            "        return {\"a\": 1}\n",
        );
        let why = drops_returned_keys(before, &inner);
        assert!(why.len() == 1 && why[0].contains("f.g returns"), "{why:?}");
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
