//! The data the program reads, edited to fit the code. `EXPORT = """…lyon,3.0…"""` made
//! `int(row["units"])` raise; a fix that rewrites the export's numbers (`lyon,5`) runs, and
//! reports other totals than the data's. The right fix reads the data as it is
//! (`int(float(units))`). A small model was seen to do this (the bench's
//! `stdlib_int_float_string`).
//!
//! Judged: the module-level constants whose value is a literal string, or a list, dict, tuple
//! or set of literals (a bare number, `MAX_RETRIES = 3`, is a setting a fix may correct): the numbers written in them, in strings and as numbers. A number
//! the fix removed from one is data changed. Constants the code builds (`re.compile(...)`) and
//! strings inside functions are code, not data, and are not judged here.
//!
//! Pure: two texts in, findings out.

use std::collections::BTreeMap;
use tree_sitter::Node;

use super::operands::numbers_under;
use crate::prove::syntax::named_nodes;

/// Why `after` changes the numbers of a module-level data constant of `before`.
pub fn edits_data(before: &str, after: &str) -> Vec<String> {
    if crate::prove::syntax::parse_clean(after).is_none() {
        return Vec::new();
    }
    let (was, now) = (constants(before), constants(after));
    let mut out = Vec::new();
    for (name, numbers) in &was {
        let Some(later) = now.get(name) else {
            continue;
        };
        let gone: Vec<&str> = numbers
            .iter()
            .filter(|(n, c)| later.get(*n).copied().unwrap_or(0) < **c)
            .map(|(n, _)| n.as_str())
            .collect();
        if !gone.is_empty() {
            out.push(format!(
                "it changes the data of `{name}` ({} no longer in it): the program's data is what the code must read as it is, not what a fix may rewrite",
                gone.join(", ")
            ));
        }
    }
    out
}

/// Each module-level literal constant, with the numbers written in it and how often.
fn constants(source: &str) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut out = BTreeMap::new();
    let Some(tree) = crate::prove::syntax::parse(source) else {
        return out;
    };
    let src = source.as_bytes();
    let root = tree.root_node();
    let mut cursor = root.walk();
    for statement in root.named_children(&mut cursor) {
        let Some(assignment) = statement
            .named_child(0)
            .filter(|a| statement.kind() == "expression_statement" && a.kind() == "assignment")
        else {
            continue;
        };
        let (Some(left), Some(right)) = (
            assignment.child_by_field_name("left"),
            assignment.child_by_field_name("right"),
        ) else {
            continue;
        };
        // A bare number (`MAX_RETRIES = 3`) is a setting a fix may correct; a string or a
        // container of literals is data.
        let data = matches!(
            right.kind(),
            "string" | "concatenated_string" | "list" | "tuple" | "set" | "dictionary"
        );
        if left.kind() != "identifier" || !data || !is_literal(right) {
            continue;
        }
        let Ok(name) = left.utf8_text(src) else {
            continue;
        };
        // A literal holds no f-string, so no number is counted twice.
        let numbers: &mut BTreeMap<String, usize> = out.entry(name.to_string()).or_default();
        for (n, c) in numbers_under(right, src, false) {
            *numbers.entry(n).or_insert(0) += c;
        }
    }
    out
}

/// A literal all the way down: strings, numbers, and containers of them.
fn is_literal(node: Node<'_>) -> bool {
    match node.kind() {
        "string" | "concatenated_string" | "integer" | "float" | "true" | "false" | "none" => {
            // An f-string computes.
            !named_nodes(node).any(|n| n.kind() == "interpolation")
        }
        "list"
        | "tuple"
        | "set"
        | "dictionary"
        | "pair"
        | "parenthesized_expression"
        | "unary_operator" => {
            let mut cursor = node.walk();
            let children: Vec<Node<'_>> = node
                .named_children(&mut cursor)
                .filter(|c| c.kind() != "comment")
                .collect();
            children.into_iter().all(is_literal)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STOCK: &str = "import csv\nimport io\n\n# The ERP writes \"3.0\".\nEXPORT = \"\"\"warehouse,units\nlyon,3.0\nporto,12.0\n\"\"\"\nCAMPAIGNS = [{\"id\": \"c1\", \"conversions\": 0}]\nCARD = re.compile(r\"(\\d{4})\")\n\n\ndef totals():\n    return {r[\"warehouse\"]: int(r[\"units\"]) for r in csv.DictReader(io.StringIO(EXPORT))}\n";

    #[test]
    fn the_numbers_of_a_data_constant_rewritten_are_refused() {
        let why = edits_data(STOCK, &STOCK.replace("lyon,3.0", "lyon,5"));
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(
            why[0].contains("the data of `EXPORT` (3.0 no longer in it)"),
            "{why:?}"
        );
        let why = edits_data(
            STOCK,
            &STOCK.replace("\"conversions\": 0", "\"conversions\": 1"),
        );
        assert!(why[0].contains("`CAMPAIGNS`"), "{why:?}");
    }

    #[test]
    fn the_code_that_reads_the_data_and_computed_constants_are_free() {
        let read = STOCK.replace("int(r[\"units\"])", "int(float(r[\"units\"]))");
        assert!(edits_data(STOCK, &read).is_empty());
        // A pattern the code builds is code: a wrong group fixed in it is a fix.
        assert!(edits_data(STOCK, &STOCK.replace("\\d{4}", "\\d{3}")).is_empty());
        // A setting is not data; data added to is not data changed.
        let setting = "MAX = 3\n";
        assert!(edits_data(setting, "MAX = 4\n").is_empty());
        let more = STOCK.replace("porto,12.0\n", "porto,12.0\nnice,1.0\n");
        assert!(edits_data(STOCK, &more).is_empty());
    }
}
