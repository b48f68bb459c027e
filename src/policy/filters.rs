//! The conditions that select what a comprehension works on. `statistics.mean(r["ms"] for r
//! in requests if r["status"] == "OK")` failed on no OK requests; dropping `if r["status"] ==
//! "OK"` makes it run, over every request: another figure than the one the code computes. A
//! small model was seen to do this (the bench's `stdlib_statistics_empty`). A fix may change a
//! condition; it may not leave a comprehension with fewer. Nor may it swap one for a condition
//! on something else: the same model later replaced `if r["status"] == "OK"` with `if
//! r.get("ms") is not None`, which selects every request again. A changed condition must still
//! test what the old one tested (a key, an attribute, a name other than the loop's own).
//!
//! Pure: two texts in, findings out.

use std::collections::{BTreeMap, BTreeSet};

use tree_sitter::Node;

/// Why `after` drops a comprehension's condition that `before` had, one sentence each.
pub fn drops_filters(before: &str, after: &str) -> Vec<String> {
    if crate::prove::syntax::parse_clean(after).is_none() {
        return Vec::new();
    }
    let was = conditions(before);
    let now = conditions(after);
    if now.len() >= was.len() {
        // As many conditions as before: any change is a change of a condition, not a drop.
        return Vec::new();
    }
    let mut left: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &now {
        *left.entry(c.as_str()).or_default() += 1;
    }
    let mut out = Vec::new();
    for c in &was {
        match left.get_mut(c.as_str()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => out.push(format!(
                "it drops the condition `{c}` that selects the items a comprehension works on: the code would compute over other items; keep it and handle the case that failed"
            )),
        }
    }
    out
}

/// Why `after` replaces a comprehension's condition with one that tests none of what it
/// tested, one sentence each.
pub fn replaces_filters(before: &str, after: &str) -> Vec<String> {
    if crate::prove::syntax::parse_clean(after).is_none() {
        return Vec::new();
    }
    let was = tested(before);
    let now = tested(after);
    let now_texts: BTreeSet<&str> = now.iter().map(|(t, _)| t.as_str()).collect();
    let was_texts: BTreeSet<&str> = was.iter().map(|(t, _)| t.as_str()).collect();
    // What the conditions the fix wrote test, together: a condition split in two, or moved
    // into another comprehension, still counts as kept.
    let new_subjects: BTreeSet<&str> = now
        .iter()
        .filter(|(t, _)| !was_texts.contains(t.as_str()))
        .flat_map(|(_, s)| s.iter().map(String::as_str))
        .collect();
    let mut out = Vec::new();
    for (text, subjects) in &was {
        if now_texts.contains(text.as_str()) || subjects.is_empty() {
            continue;
        }
        if subjects.iter().all(|s| !new_subjects.contains(s.as_str())) {
            let old: Vec<&str> = subjects.iter().map(String::as_str).collect();
            out.push(format!(
                "it replaces the condition `{text}` that selects the items a comprehension works on with one that tests none of {}: the code would compute over other items; keep what it tests and handle the case that failed",
                old.join(", ")
            ));
        }
    }
    out
}

/// Why `after` makes a comprehension skip the items of the type a TypeError was about: an
/// `isinstance` test added to its condition (`if isinstance(s["age"], int) and s["age"] >=
/// min_age`). The items that failed are dropped without a word instead of read as what they
/// are (`int(s["age"])`); the bench's `type_str_compare`, where a sign-up whose age came as
/// `"19"` vanished from the list, and the proof saw a program that no longer crashed.
pub fn skips_by_type(before: &str, after: &str, error_type: Option<&str>) -> Vec<String> {
    let is_type_error = error_type.is_some_and(|t| t.rsplit('.').next() == Some("TypeError"));
    if !is_type_error {
        return Vec::new();
    }
    let Some(tree) = crate::prove::syntax::parse_clean(after) else {
        return Vec::new();
    };
    let was = type_tests(before);
    let src = after.as_bytes();
    let mut out = Vec::new();
    for clause in crate::prove::syntax::named_nodes(tree.root_node()) {
        if clause.kind() != "if_clause" {
            continue;
        }
        for test in calls_of_isinstance(clause, src) {
            if !was.contains(&test) && !out.iter().any(|o: &String| o.contains(&test)) {
                out.push(format!(
                    "it adds the type test `{test}` to the condition that selects a comprehension's items: the items of the type the TypeError was about would be dropped silently; convert them, or fix where they come from"
                ));
            }
        }
    }
    out
}

/// The `isinstance(...)` calls that filter in comprehension conditions, whitespace normalised.
fn type_tests(source: &str) -> BTreeSet<String> {
    let Some(tree) = crate::prove::syntax::parse(source) else {
        return BTreeSet::new();
    };
    let src = source.as_bytes();
    crate::prove::syntax::named_nodes(tree.root_node())
        .filter(|n| n.kind() == "if_clause")
        .flat_map(|clause| calls_of_isinstance(clause, src))
        .collect()
}

/// The `isinstance(...)` calls that decide whether an item is kept: not one that only chooses
/// between two values inside the condition (`(int(a) if isinstance(a, str) else a) >= 18`
/// keeps every item, converted).
fn calls_of_isinstance(clause: Node<'_>, src: &[u8]) -> Vec<String> {
    let in_a_choice = |node: Node<'_>| {
        let mut current = node.parent();
        while let Some(n) = current.filter(|n| n.id() != clause.id()) {
            if n.kind() == "conditional_expression" {
                return true;
            }
            current = n.parent();
        }
        false
    };
    crate::prove::syntax::named_nodes(clause)
        .filter(|n| n.kind() == "call" && !in_a_choice(*n))
        .filter(|call| {
            call.child_by_field_name("function")
                .and_then(|f| f.utf8_text(src).ok())
                == Some("isinstance")
        })
        .filter_map(|call| call.utf8_text(src).ok())
        .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The text of each comprehension's `if` clause, whitespace normalised.
fn conditions(source: &str) -> Vec<String> {
    tested(source).into_iter().map(|(text, _)| text).collect()
}

/// Each comprehension's `if` clause, whitespace normalised, with what it tests: the keys and
/// strings it reads, the attributes and names it uses, not the loop's own variables and not
/// the methods it calls (`r.get("ms")` tests "ms").
fn tested(source: &str) -> Vec<(String, BTreeSet<String>)> {
    let Some(tree) = crate::prove::syntax::parse(source) else {
        return Vec::new();
    };
    let src = source.as_bytes();
    let mut out = Vec::new();
    for node in crate::prove::syntax::named_nodes(tree.root_node()) {
        if node.kind() != "if_clause" {
            continue;
        }
        let Ok(text) = node.utf8_text(src) else {
            continue;
        };
        let loop_vars = node
            .parent()
            .map(|c| loop_variables(c, src))
            .unwrap_or_default();
        let mut subjects = BTreeSet::new();
        for n in crate::prove::syntax::named_nodes(node) {
            match n.kind() {
                "string_content" => {
                    if let Ok(t) = n.utf8_text(src) {
                        subjects.insert(t.to_string());
                    }
                }
                "identifier" if !is_called_method(n) => {
                    if let Ok(t) = n.utf8_text(src)
                        && !loop_vars.contains(t)
                    {
                        subjects.insert(t.to_string());
                    }
                }
                _ => {}
            }
        }
        out.push((
            text.split_whitespace().collect::<Vec<_>>().join(" "),
            subjects,
        ));
    }
    out
}

/// The names a comprehension's `for` clauses bind.
fn loop_variables(comprehension: Node<'_>, src: &[u8]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut cursor = comprehension.walk();
    for clause in comprehension.named_children(&mut cursor) {
        if clause.kind() != "for_in_clause" {
            continue;
        }
        if let Some(left) = clause.child_by_field_name("left") {
            for n in crate::prove::syntax::named_nodes(left) {
                if n.kind() == "identifier"
                    && let Ok(t) = n.utf8_text(src)
                {
                    out.insert(t.to_string());
                }
            }
        }
    }
    out
}

/// Whether `identifier` names the method of a call (`get` in `r.get("ms")`).
fn is_called_method(identifier: Node<'_>) -> bool {
    identifier.parent().is_some_and(|attr| {
        attr.kind() == "attribute"
            && attr
                .child_by_field_name("attribute")
                .is_some_and(|a| a.id() == identifier.id())
            && attr.parent().is_some_and(|call| {
                call.kind() == "call"
                    && call
                        .child_by_field_name("function")
                        .is_some_and(|f| f.id() == attr.id())
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_test_added_to_a_comprehension_condition_skips_the_bad_items() {
        // bench/crashes/cases/type_str_compare: the old binary's wrong fix.
        let before = "def eligible(signups, min_age=18):\n    return [s[\"name\"] for s in signups if s[\"age\"] >= min_age]\n";
        let wrong = before.replace(
            "if s[\"age\"] >= min_age",
            "if isinstance(s['age'], int) and s['age'] >= min_age",
        );
        let found = skips_by_type(before, &wrong, Some("TypeError"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("`isinstance(s['age'], int)`"),
            "{found:?}"
        );
        // Near misses: a conversion; a type test that was there before; another error; a
        // type test that chooses a conversion rather than a filter.
        let converts = before.replace("s[\"age\"] >= min_age", "int(s[\"age\"]) >= min_age");
        assert!(skips_by_type(before, &converts, Some("TypeError")).is_empty());
        assert!(skips_by_type(&wrong, &wrong.replace("18", "21"), Some("TypeError")).is_empty());
        assert!(skips_by_type(before, &wrong, Some("KeyError")).is_empty());
        let chooses = before.replace(
            "s[\"age\"] >= min_age",
            "(int(s[\"age\"]) if isinstance(s[\"age\"], str) else s[\"age\"]) >= min_age",
        );
        // Inside the condition, but only to choose a conversion: every item is kept.
        assert!(skips_by_type(before, &chooses, Some("TypeError")).is_empty());
    }

    const MEAN: &str = "def mean_ok(requests):\n    return statistics.mean(r['ms'] for r in requests if r['status'] == 'OK')\n";

    #[test]
    fn a_dropped_condition_is_refused_a_changed_or_kept_one_is_not() {
        let dropped = MEAN.replace(" if r['status'] == 'OK'", "");
        let why = drops_filters(MEAN, &dropped);
        assert_eq!(why.len(), 1);
        assert!(why[0].contains("`if r['status'] == 'OK'`"), "{why:?}");
        let changed = MEAN.replace("'OK'", "'ok'");
        assert!(drops_filters(MEAN, &changed).is_empty());
        let kept = MEAN.replace(
            "    return statistics.mean(",
            "    ok = [r['ms'] for r in requests if r['status'] == 'OK']\n    return statistics.mean(ok) if ok else 0.0\n    return statistics.mean(",
        );
        assert!(drops_filters(MEAN, &kept).is_empty());
    }

    #[test]
    fn a_condition_replaced_by_one_on_another_key_is_refused() {
        // The bench's answer, as recorded.
        let bench = "def mean_ok_latency(requests):\n    return statistics.mean(r[\"ms\"] for r in requests if r[\"status\"] == \"OK\")\n";
        let answer = "def mean_ok_latency(requests):\n    ms_list = [r[\"ms\"] for r in requests if r.get(\"ms\") is not None]\n    return statistics.mean(ms_list)\n";
        assert!(
            drops_filters(bench, answer).is_empty(),
            "one condition each"
        );
        let why = replaces_filters(bench, answer);
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(why[0].contains("tests none of OK, status"), "{why:?}");
    }

    #[test]
    fn a_condition_that_still_tests_its_key_passes() {
        for changed in [
            MEAN.replace("'OK'", "'ok'"),
            MEAN.replace("r['status'] == 'OK'", "r.get('status') == 'OK'"),
            MEAN.replace("r['status'] == 'OK'", "r['status'].upper() == 'OK'"),
            MEAN.replace(
                "r['status'] == 'OK'",
                "r['status'] == 'OK' and r['ms'] is not None",
            ),
        ] {
            assert!(replaces_filters(MEAN, &changed).is_empty(), "{changed}");
        }
        // The loop variable alone is no subject: `if r` may become `if r is not None`.
        let truthy = "xs = [r for r in rows if r]\n";
        assert!(replaces_filters(truthy, "xs = [r for r in rows if r is not None]\n").is_empty());
        // An attribute is a subject like a key.
        let attr = "xs = [u for u in users if u.active]\n";
        let why = replaces_filters(attr, "xs = [u for u in users if u.email]\n");
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(
            replaces_filters(
                attr,
                "xs = [u for u in users if getattr(u, 'active', False)]\n"
            )
            .is_empty()
        );
    }
}
