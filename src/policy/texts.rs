//! The words around a formatted value a fix must keep. `f"{name} ({country}):
//! {total:.2f}"` was the line a KeyError's fix only had to reach; a small model's fix also
//! appended ` (VAT: {vat * 100:.2f}%)` to it, and every printed line changed (the bench's
//! `pkg_key_error`). The program crashed before printing, so the proof had no output of the
//! baseline's to hold it to.
//!
//! An f-string's text is read with each `{…}` field as a hole (`{} ({}): {}`): a fix may
//! change what goes into the fields, not the words around them. One f-string whose text is
//! gone, with a new one close to it (by edit distance, or holding it), is that f-string's
//! text changed. An
//! f-string deleted or rewritten beyond recognition is other rules' to judge.
//!
//! Pure: two texts in, findings out.

use std::collections::BTreeMap;

use tree_sitter::Node;

/// How alike (0 to 1, by edit distance) an f-string's text that is gone and a new one must be
/// to count as the same f-string with its text changed.
const SAME_STRING: f64 = 0.6;

/// Why `after` changes the words of an f-string `before` had.
pub fn changes_formatted_text(before: &str, after: &str) -> Vec<String> {
    if crate::prove::syntax::parse_clean(after).is_none() {
        return Vec::new();
    }
    let was = skeletons(before);
    let now = skeletons(after);
    let gone: Vec<&String> = was
        .iter()
        .filter(|(s, n)| now.get(*s).copied().unwrap_or(0) < **n)
        .map(|(s, _)| s)
        .collect();
    let new: Vec<&String> = now
        .iter()
        .filter(|(s, n)| was.get(*s).copied().unwrap_or(0) < **n)
        .map(|(s, _)| s)
        .collect();
    let mut out = Vec::new();
    // An f-string that is only fields (`f"{x}"`) has no words to keep.
    for old in gone
        .into_iter()
        .filter(|s| !s.replace("{}", "").trim().is_empty())
    {
        let closest = new
            .iter()
            .map(|n| (likeness(old, n), n))
            .filter(|(similarity, _)| *similarity >= SAME_STRING)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((_, changed)) = closest {
            out.push(format!(
                "it changes the words of an f-string, `{old}` to `{changed}` (each {{}} a value): what the program prints or returns would read differently; change the values, keep the words"
            ));
        }
    }
    out
}

/// How alike two f-string texts are: 1 when one holds the other (words added before or after
/// the old ones), else by edit distance.
fn likeness(old: &str, new: &str) -> f64 {
    if new.contains(old) || old.contains(new) {
        1.0
    } else {
        strsim::normalized_levenshtein(old, new)
    }
}

/// The text of each f-string of `source` with a field in it, fields as `{}`, with how many
/// times each is written.
fn skeletons(source: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let Some(tree) = crate::prove::syntax::parse(source) else {
        return out;
    };
    let src = source.as_bytes();
    for node in crate::prove::syntax::named_nodes(tree.root_node()) {
        if node.kind() == "string"
            && let Some(text) = skeleton(node, src)
        {
            *out.entry(text).or_default() += 1;
        }
    }
    out
}

/// `node`'s text with its fields as `{}`; `None` for a string with no field.
fn skeleton(node: Node<'_>, src: &[u8]) -> Option<String> {
    let mut text = String::new();
    let mut fields = 0;
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        match child.kind() {
            "string_content" => text.push_str(child.utf8_text(src).ok()?),
            "interpolation" => {
                fields += 1;
                text.push_str("{}");
            }
            _ => {}
        }
    }
    (fields > 0).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVOICE: &str = "def invoice_line(customer, net):\n    return f\"{customer['name']} ({customer['country']}): {invoice_total(customer, net):.2f}\"\n";

    #[test]
    fn the_bench_answer_that_appended_to_the_printed_line_is_refused() {
        // bench/crashes/cases/pkg_key_error, the small model's answer as recorded.
        let after = "def invoice_line(customer, net):\n    vat = customer['vat_rate'] if 'vat_rate' in customer else 0\n    return f\"{customer['name']} ({customer['country']}): {invoice_total(customer, net):.2f} (VAT: {vat * 100:.2f}%)\"\n";
        let found = changes_formatted_text(INVOICE, after);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("`{} ({}): {}` to `{} ({}): {} (VAT: {}%)`"),
            "{found:?}"
        );
    }

    #[test]
    fn near_misses_keep_the_words_and_pass() {
        // New values in the same fields.
        let values = INVOICE.replace(
            "invoice_total(customer, net):.2f",
            "float(invoice_total(customer, net)):.2f",
        );
        assert!(changes_formatted_text(INVOICE, &values).is_empty());
        // A new f-string elsewhere, unlike the one kept.
        let added = format!("{INVOICE}\n\ndef log(x):\n    print(f\"debug: {{x}}\")\n");
        assert!(changes_formatted_text(INVOICE, &added).is_empty());
        // A plain string's text (a dict key) is not an f-string's.
        let key = "x = c[\"vat\"]\n";
        assert!(changes_formatted_text(key, "x = c[\"vat_rate\"]\n").is_empty());
        // The f-string deleted: not this rule's.
        assert!(
            changes_formatted_text(
                INVOICE,
                "def invoice_line(customer, net):\n    return str(net)\n"
            )
            .is_empty()
        );
        // An f-string of fields only has no words to keep.
        assert!(changes_formatted_text("print(f\"{x}\")\n", "print(f\"error: {x}\")\n").is_empty());
        // A concatenation turned into an f-string with the same words is new, not changed.
        let concat = "def f(n):\n    return \"Total: \" + n\n";
        assert!(
            changes_formatted_text(concat, "def f(n):\n    return f\"Total: {n}\"\n").is_empty()
        );
    }
}
