//! The conditions that select what a comprehension works on. `statistics.mean(r["ms"] for r
//! in requests if r["status"] == "OK")` failed on no OK requests; dropping `if r["status"] ==
//! "OK"` makes it run, over every request: another figure than the one the code computes. A
//! small model was seen to do this (the bench's `stdlib_statistics_empty`). A fix may change a
//! condition; it may not leave a comprehension with fewer.
//!
//! Pure: two texts in, findings out.

use std::collections::BTreeMap;

/// Why `after` drops a comprehension's condition that `before` had, one sentence each.
pub fn drops_filters(before: &str, after: &str) -> Vec<String> {
    if crate::prove::syntax::parse(after).is_none_or(|t| t.root_node().has_error()) {
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

/// The text of each comprehension's `if` clause, whitespace normalised.
fn conditions(source: &str) -> Vec<String> {
    let Some(tree) = crate::prove::syntax::parse(source) else {
        return Vec::new();
    };
    let src = source.as_bytes();
    let mut out = Vec::new();
    for node in crate::prove::syntax::named_nodes(tree.root_node()) {
        if node.kind() == "if_clause"
            && let Ok(text) = node.utf8_text(src)
        {
            out.push(text.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    out
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
}
