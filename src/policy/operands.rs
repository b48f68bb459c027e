//! The numbers of a computation, dropped to make its operands' types agree. `price * (1 +
//! VAT_RATE)` raised `unsupported operand type(s) for *: 'decimal.Decimal' and 'float'`; a fix
//! that writes `price * Decimal(VAT_RATE)` runs, and charges 20% of the price instead of 120%.
//! The right fix changes a type (`Decimal("0.2")`, `Decimal(str(VAT_RATE))`) and keeps every
//! number. A small model was seen to do this (the bench's `pkg_decimal_float`).
//!
//! Counted, for an operand TypeError only: the numbers of the file, in number literals and in
//! strings (`Decimal("0.2")` keeps `0.2`), before and after the fix. A number the fix removed
//! everywhere is one the computation no longer uses.
//!
//! Pure: two texts in, findings out.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Why `after` drops a number of the computation whose operand types the error was about.
pub fn drops_operands(
    before: &str,
    after: &str,
    error_type: Option<&str>,
    message: Option<&str>,
) -> Vec<String> {
    let operand_error = error_type.is_some_and(|t| t.rsplit('.').next() == Some("TypeError"))
        && message.is_some_and(|m| m.starts_with("unsupported operand type(s)"));
    if !operand_error {
        return Vec::new();
    }
    if crate::prove::syntax::parse_clean(after).is_none() {
        return Vec::new();
    }
    let (was, now) = (numbers(before), numbers(after));
    let gone: Vec<&str> = was
        .iter()
        .filter(|(n, c)| now.get(*n).copied().unwrap_or(0) < **c)
        .map(|(n, _)| n.as_str())
        .collect();
    if gone.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "it drops the number(s) {} from the code, where the error was about the types of a computation's operands: a fix converts a type and keeps the arithmetic",
        gone.join(", ")
    )]
}

/// A number as written in code or text: digits, and decimals after a point.
fn number() -> Option<&'static regex::Regex> {
    static NUMBER: OnceLock<Option<regex::Regex>> = OnceLock::new();
    NUMBER
        .get_or_init(|| regex::Regex::new(r"\d+(?:\.\d+)?").ok())
        .as_ref()
}

/// The numbers written in `source`'s number literals and strings, with how often each is.
fn numbers(source: &str) -> BTreeMap<String, usize> {
    let Some(tree) = crate::prove::syntax::parse(source) else {
        return BTreeMap::new();
    };
    // `1.0` and `1` are one number to a reader: a trailing `.0` is folded here.
    numbers_under(tree.root_node(), source.as_bytes(), true)
}

/// The numbers written in the number literals and strings under `root`, with how often each
/// is; `fold_whole` counts `3.0` as `3`.
pub(super) fn numbers_under(
    root: tree_sitter::Node<'_>,
    src: &[u8],
    fold_whole: bool,
) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let Some(number) = number() else {
        return out;
    };
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        match node.kind() {
            "integer" | "float" | "string" => {
                if let Ok(text) = node.utf8_text(src) {
                    for m in number.find_iter(text) {
                        let n = m.as_str();
                        let n = if fold_whole {
                            n.strip_suffix(".0").unwrap_or(n)
                        } else {
                            n
                        };
                        *out.entry(n.to_string()).or_insert(0) += 1;
                    }
                }
            }
            _ => {
                let mut cursor = node.walk();
                stack.extend(node.named_children(&mut cursor));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAX: &str = "from decimal import ROUND_HALF_UP, Decimal\n\nVAT_RATE = 0.2\n\n\ndef with_vat(price):\n    \"\"\"The price including 20% VAT, as a Decimal.\"\"\"\n    return (price * (1 + VAT_RATE)).quantize(Decimal(\"0.01\"), rounding=ROUND_HALF_UP)\n";
    const ERROR: (&str, &str) = (
        "TypeError",
        "unsupported operand type(s) for *: 'decimal.Decimal' and 'float'",
    );

    fn found(after: &str) -> Vec<String> {
        drops_operands(TAX, after, Some(ERROR.0), Some(ERROR.1))
    }

    #[test]
    fn a_number_of_the_computation_dropped_is_refused() {
        let why = found(&TAX.replace("(1 + VAT_RATE)", "Decimal(VAT_RATE)"));
        assert_eq!(why.len(), 1);
        assert!(why[0].contains("drops the number(s) 1 "), "{why:?}");
    }

    #[test]
    fn a_type_converted_with_its_numbers_kept_is_allowed() {
        assert!(found(&TAX.replace("VAT_RATE = 0.2", "VAT_RATE = Decimal(\"0.2\")")).is_empty());
        assert!(found(&TAX.replace("(1 + VAT_RATE)", "(1 + Decimal(str(VAT_RATE)))")).is_empty());
        assert!(
            found(&TAX.replace("(1 + VAT_RATE)", "(Decimal(1) + Decimal(str(VAT_RATE)))"))
                .is_empty()
        );
        // Another error: an off-by-one fix drops a number, rightly.
        let before = "def last(xs):\n    return xs[len(xs) - 1 + 1]\n";
        let after = "def last(xs):\n    return xs[len(xs) - 1]\n";
        assert!(
            drops_operands(
                before,
                after,
                Some("IndexError"),
                Some("list index out of range")
            )
            .is_empty()
        );
    }
}
