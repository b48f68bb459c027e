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
