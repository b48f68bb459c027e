//! Fixes that step around the failing code instead of fixing it: a guard that skips the work
//! the error was in (`if len(parts) != 2: continue`, where every line of the program's data
//! has three fields, so every line is skipped), and a guard in a caller that no longer calls
//! the failing function for the case its docstring says how to handle (`if conversions > 0:
//! print(cost(c))`, where `cost`'s docstring says what a campaign with no conversion costs).
//! Either makes the crash go away and the bug stay, which a re-run cannot tell from a fix.
//!
//! The exceptions: a skip the failing function's docstring promises ("malformed lines are
//! skipped"), and a guard in a caller around a function whose docstring says nothing about
//! the case (a caller that must not pass such a value may be where the bug is).
//!
//! Pure: two texts in, findings out.

use tree_sitter::Node;

use super::added::{added_rows, touches};
use super::docstring::DEFAULT_WORDS;
use super::hiding::block_only_reports;
use crate::prove::syntax;

/// Words of a docstring that say the function skips or tolerates bad input on purpose.
const SKIP_WORDS: &[&str] = &["skip", "ignor", "invalid", "malformed", "discard", "drop"];

/// Errors whose own rules judge guards: a missing key (`hiding`), an index out of range
/// (`size_guard`), the end of an iterator.
const JUDGED_ELSEWHERE: &[&str] = &["KeyError", "IndexError", "StopIteration"];

/// Words that, in a sentence of a docstring, say it is about an absent or empty case.
const CASE_WORDS: &[&str] = &[
    "no", "not", "without", "zero", "empty", "missing", "absent", "none", "nothing", "unless",
];

/// Why `after` skips the failing statement at `line` (1-based, in `before`; the innermost
/// frame of the traceback) instead of fixing it, if it does.
pub fn skips_failing(
    before: &str,
    after: &str,
    line: Option<u32>,
    error_type: Option<&str>,
) -> Vec<String> {
    let mut out = Vec::new();
    let short = error_type.map(|t| t.rsplit('.').next().unwrap_or(t));
    let (Some(line), Some(short)) = (line, short) else {
        return out;
    };
    if JUDGED_ELSEWHERE.contains(&short) {
        return out;
    }
    let (Some(old), Some(new)) = (syntax::parse(before), syntax::parse(after)) else {
        return out;
    };
    let Some(function) = function_at(old.root_node(), line) else {
        return out;
    };
    let Some(name) = name_of(function, before.as_bytes()) else {
        return out;
    };
    let src = after.as_bytes();
    let Some(fixed) = only_function_named(new.root_node(), src, &name) else {
        return out;
    };
    let promised = docstring(function, before.as_bytes())
        .into_iter()
        .chain(docstring(fixed, src))
        .any(|d| {
            DEFAULT_WORDS
                .iter()
                .chain(SKIP_WORDS)
                .any(|w| d.contains(w))
        });
    if promised {
        return out;
    }
    // A constant returned for the failing case (`if clients == 0: return 0`) is a guess at
    // what the function means there when its docstring says what it does in that case.
    let failing = before.lines().nth(line as usize - 1).unwrap_or("");
    let documented = docstring(function, before.as_bytes())
        .is_some_and(|d| states_the_case(&d, failing).is_some());
    let added = added_rows(before, after);
    for node in syntax::named_nodes(fixed) {
        if node.kind() == "if_statement"
            && touches(node, &added)
            && in_own_body(node, fixed)
            && node.child_by_field_name("alternative").is_none()
            && has_a_next_statement(node)
            && let Some(how) = only_skips(node, src)
            && (how != Skip::Constant || documented)
        {
            let how = match how {
                Skip::Continue => "continue",
                Skip::Constant | Skip::Nothing => "return",
            };
            out.push(format!(
                "a guard at line {} that skips the work the {short} was in ({how}), in {name}(): the data must be handled, not stepped around (a skip is for a case the docstring documents)",
                node.start_position().row + 1
            ));
        }
    }
    out
}

/// Why `after` guards the calls of a failing function it leaves unchanged, when that
/// function's docstring says what it must do in the failing case (whatever the error's type:
/// the docstring decides).
pub fn guards_around_documented(before: &str, after: &str, line: Option<u32>) -> Vec<String> {
    let mut out = Vec::new();
    let Some(line) = line else {
        return out;
    };
    let (Some(old), Some(new)) = (syntax::parse(before), syntax::parse(after)) else {
        return out;
    };
    let Some(function) = function_at(old.root_node(), line) else {
        return out;
    };
    let (bsrc, src) = (before.as_bytes(), after.as_bytes());
    let Some(name) = name_of(function, bsrc) else {
        return out;
    };
    let Some(fixed) = only_function_named(new.root_node(), src, &name) else {
        return out;
    };
    if function.utf8_text(bsrc).ok() != fixed.utf8_text(src).ok() {
        return out; // the failing function itself was changed: not this shape
    }
    let Some(doc) = docstring(function, bsrc) else {
        return out;
    };
    let failing = before.lines().nth(line as usize - 1).unwrap_or("");
    let Some(sentence) = states_the_case(&doc, failing) else {
        return out;
    };
    let added = added_rows(before, after);
    let guard = syntax::named_nodes(new.root_node()).find(|n| {
        matches!(n.kind(), "if_statement" | "conditional_expression") && touches(*n, &added)
    });
    if let Some(guard) = guard {
        out.push(format!(
            "it leaves {name}() as it was and adds a guard at line {} around it, where {name}()'s docstring says what it must do in this case (\"{}\"): the fix belongs in {name}()",
            guard.start_position().row + 1,
            sentence
        ));
    }
    out
}

/// Why `after` raises an exception of its own and catches it again only to report it (the
/// error turned into another and swallowed: none_regex_group raised ValueError for a missing
/// match and its caller printed it), if it does.
pub fn catches_its_own_raise(before: &str, after: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Some(tree) = syntax::parse(after) else {
        return out;
    };
    let src = after.as_bytes();
    let added = added_rows(before, after);
    let raised: Vec<String> = syntax::named_nodes(tree.root_node())
        .filter(|n| n.kind() == "raise_statement" && touches(*n, &added))
        .filter_map(|n| {
            let what = n.named_child(0)?;
            let name = match what.kind() {
                "call" => what.child_by_field_name("function")?,
                _ => what,
            };
            let text = name.utf8_text(src).ok()?;
            Some(text.rsplit('.').next().unwrap_or(text).to_string())
        })
        .collect();
    if raised.is_empty() {
        return out;
    }
    for clause in syntax::named_nodes(tree.root_node())
        .filter(|n| n.kind() == "except_clause" && touches(*n, &added))
    {
        let mut cursor = clause.walk();
        let children: Vec<Node<'_>> = clause.named_children(&mut cursor).collect();
        let Some(body) = children.iter().find(|c| c.kind() == "block") else {
            continue;
        };
        let caught: Vec<String> = children
            .iter()
            .filter(|c| c.kind() != "block" && c.kind() != "comment")
            .filter_map(|c| c.utf8_text(src).ok())
            .flat_map(|t| {
                t.split(|c: char| c == ',' || c == '(' || c == ')' || c.is_whitespace())
                    .map(|w| w.rsplit('.').next().unwrap_or(w).to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        let catches = caught.is_empty()
            || caught
                .iter()
                .any(|c| c == "Exception" || c == "BaseException" || raised.contains(c));
        if catches && block_only_reports(*body, src) {
            out.push(format!(
                "it raises {} and catches it again at line {} only to report it: the error is turned into another and swallowed, not fixed",
                raised.join(", "),
                clause.start_position().row + 1
            ));
        }
    }
    out
}

/// The sentence of `doc` that speaks of an absent or empty case of something the failing
/// line names (`campaign["conversions"]` and "A campaign with no conversion yet costs …").
fn states_the_case(doc: &str, failing: &str) -> Option<String> {
    let stems: Vec<String> = words(failing)
        .into_iter()
        .filter(|w| w.len() >= 4 && !IGNORED.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect();
    if stems.is_empty() {
        return None;
    }
    doc.split(['.', ';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .find(|sentence| {
            let ws = words(sentence);
            ws.iter().any(|w| CASE_WORDS.contains(&w.as_str()))
                && ws.iter().any(|w| stems.iter().any(|s| stem(w) == *s))
        })
        .map(|s| {
            let s: String = s.chars().take(120).collect();
            s.replace('"', "'")
        })
}

/// Words of the failing line that say nothing about its data.
const IGNORED: &[&str] = &[
    "return", "self", "none", "true", "false", "print", "float", "round", "with", "from", "lambda",
];

/// Lower-case words of `text` (identifiers and the words inside strings alike).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .flat_map(|w| w.split('_'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A plural's singular, roughly: enough to match `conversions` with "no conversion".
fn stem(word: &str) -> String {
    word.strip_suffix("ies")
        .map(|w| format!("{w}y"))
        .or_else(|| word.strip_suffix('s').map(str::to_string))
        .unwrap_or_else(|| word.to_string())
}

/// The innermost function whose text spans `line` (1-based).
fn function_at(root: Node<'_>, line: u32) -> Option<Node<'_>> {
    let row = line.checked_sub(1)? as usize;
    syntax::named_nodes(root)
        .filter(|n| n.kind() == "function_definition")
        .filter(|n| n.start_position().row <= row && row <= n.end_position().row)
        .min_by_key(|n| n.end_byte() - n.start_byte())
}

fn name_of(function: Node<'_>, src: &[u8]) -> Option<String> {
    function
        .child_by_field_name("name")?
        .utf8_text(src)
        .ok()
        .map(str::to_string)
}

/// The one function named `name`; none when there are several (which one is meant is a
/// guess).
fn only_function_named<'t>(root: Node<'t>, src: &[u8], name: &str) -> Option<Node<'t>> {
    let mut found = syntax::named_nodes(root)
        .filter(|n| n.kind() == "function_definition")
        .filter(|n| name_of(*n, src).as_deref() == Some(name));
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// The function's docstring, lower case.
fn docstring(function: Node<'_>, src: &[u8]) -> Option<String> {
    let first = function.child_by_field_name("body")?.named_child(0)?;
    let is_doc = first.kind() == "expression_statement"
        && first.named_child(0).is_some_and(|s| s.kind() == "string");
    is_doc.then(|| first.utf8_text(src).unwrap_or("").to_lowercase())
}

/// Whether `node` belongs to `function`'s own body, not to a function nested in it.
fn in_own_body(node: Node<'_>, function: Node<'_>) -> bool {
    let mut current = node.parent();
    while let Some(n) = current {
        if n.id() == function.id() {
            return true;
        }
        if n.kind() == "function_definition" {
            return false;
        }
        current = n.parent();
    }
    false
}

/// Whether a statement follows `node` in its block: the guard stands before work it skips.
fn has_a_next_statement(node: Node<'_>) -> bool {
    let mut next = node.next_named_sibling();
    while let Some(n) = next {
        if n.kind() != "comment" {
            return true;
        }
        next = n.next_named_sibling();
    }
    false
}

/// How an `if`'s block skips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    /// `continue`: the item is dropped.
    Continue,
    /// `return`, `return None`, or an empty container: nothing comes out.
    Nothing,
    /// A number, a string or a boolean: a value stands in for the result.
    Constant,
}

/// How the `if`'s block skips, when all it does is say so (calls such as `print` or a log)
/// and leave with `continue`, or `return` with nothing, None, or an empty or constant value.
/// A `break` ends a loop, which an off-by-one fix may rightly do: not a skip.
fn only_skips(if_node: Node<'_>, src: &[u8]) -> Option<Skip> {
    let block = if_node.child_by_field_name("consequence")?;
    let mut cursor = block.walk();
    let statements: Vec<Node<'_>> = block
        .named_children(&mut cursor)
        .filter(|s| s.kind() != "comment")
        .collect();
    let (last, rest) = statements.split_last()?;
    let says_so = rest.iter().all(|s| {
        s.kind() == "expression_statement" && s.named_child(0).is_some_and(|c| c.kind() == "call")
    });
    if !says_so {
        return None;
    }
    match last.kind() {
        "continue_statement" => Some(Skip::Continue),
        "return_statement" => match last.named_child(0) {
            None => Some(Skip::Nothing),
            Some(v) if v.kind() == "none" || is_empty(v, src) => Some(Skip::Nothing),
            Some(v) if is_constant(v) => Some(Skip::Constant),
            Some(_) => None,
        },
        _ => None,
    }
}

fn is_constant(node: Node<'_>) -> bool {
    match node.kind() {
        "true" | "false" | "integer" | "float" | "string" => true,
        "unary_operator" => node.named_child(0).is_some_and(is_constant),
        _ => false,
    }
}

/// `{}`, `[]`, `()`, `set()`, `dict()`, `list()`, `tuple()`: empty all the same.
fn is_empty(node: Node<'_>, src: &[u8]) -> bool {
    match node.kind() {
        "list" | "dictionary" | "tuple" | "set" => node.named_child_count() == 0,
        "call" => {
            let no_arguments = node
                .child_by_field_name("arguments")
                .is_some_and(|a| a.named_child_count() == 0);
            let name = node
                .child_by_field_name("function")
                .and_then(|f| f.utf8_text(src).ok());
            no_arguments && matches!(name, Some("dict" | "list" | "set" | "tuple"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNPACK: &str = "LINES = ['ana,12.50,EUR']\n\n\ndef totals_by_currency(lines):\n    \"\"\"{currency: total amount}.\"\"\"\n    totals = {}\n    for line in lines:\n        payer, amount = line.split(\",\")\n        totals[amount] = 1\n    return totals\n";

    #[test]
    fn a_continue_before_the_failing_unpack_is_a_skip() {
        let after = UNPACK.replace(
            "        payer, amount = line.split(\",\")\n",
            "        parts = line.split(\",\")\n        if len(parts) != 2:\n            print(f\"Skipping invalid line: {line}\")\n            continue\n        payer, amount = parts\n",
        );
        let found = skips_failing(UNPACK, &after, Some(8), Some("ValueError"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("skips the work the ValueError was in (continue)"),
            "{found:?}"
        );
    }

    #[test]
    fn the_right_unpack_and_a_promised_skip_and_a_break_are_not() {
        let right = UNPACK.replace(
            "payer, amount = line.split(\",\")",
            "payer, amount, currency = line.split(\",\")",
        );
        assert!(skips_failing(UNPACK, &right, Some(8), Some("ValueError")).is_empty());
        let skip = "        if len(parts) != 2:\n            continue\n";
        let body = "        parts = line.split(\",\")\n";
        let after = UNPACK.replace(
            "        payer, amount = line.split(\",\")\n",
            &format!("{body}{skip}        payer, amount = parts\n"),
        );
        let promised = after.replace("{currency: total amount}.", "Malformed lines are skipped.");
        let before = UNPACK.replace("{currency: total amount}.", "Malformed lines are skipped.");
        assert!(skips_failing(&before, &promised, Some(8), Some("ValueError")).is_empty());
        let broken = after.replace("continue", "break");
        assert!(skips_failing(UNPACK, &broken, Some(8), Some("ValueError")).is_empty());
        // A KeyError's guards are judged by the hiding rules.
        assert!(skips_failing(UNPACK, &after, Some(8), Some("KeyError")).is_empty());
    }

    #[test]
    fn a_constant_for_a_zero_is_a_skip_only_where_the_docstring_says_what_it_is() {
        let before = "def share(total, clients):\n    return total / clients\n";
        let after = "def share(total, clients):\n    if clients == 0:\n        return 0\n    return total / clients\n";
        // Nothing says what a share of no clients is: 0 is as good a reading as any.
        assert!(skips_failing(before, after, Some(2), Some("ZeroDivisionError")).is_empty());
        // The docstring says it, and not that: the constant is a guess against it.
        let said = "    \"\"\"Each client's share. With no clients the total stays whole.\"\"\"\n";
        let (b, a) = (
            before.replace("):\n", &format!("):\n{said}")),
            after.replacen("):\n", &format!("):\n{said}"), 1),
        );
        let found = skips_failing(&b, &a, Some(3), Some("ZeroDivisionError"));
        assert!(found[0].contains("(return), in share()"), "{found:?}");
        // The docstring promises the default.
        let doc = "    \"\"\"Each client's share; 0 when there are no clients.\"\"\"\n";
        let (b, a) = (
            before.replace("):\n", &format!("):\n{doc}")),
            after.replacen("):\n", &format!("):\n{doc}"), 1),
        );
        assert!(skips_failing(&b, &a, Some(3), Some("ZeroDivisionError")).is_empty());
        // An empty result is a skip with or without a docstring.
        let empty = after.replace("return 0", "return []");
        assert!(!skips_failing(before, &empty, Some(2), Some("ZeroDivisionError")).is_empty());
    }

    #[test]
    fn a_raise_caught_again_only_to_print_is_swallowing_and_a_raise_left_to_callers_is_not() {
        let before = "def order_id(n):\n    return R.search(n).group(1)\n\n\ndef main():\n    for n in NS:\n        print(order_id(n))\n";
        let after = "def order_id(n):\n    m = R.search(n)\n    if m is None:\n        raise ValueError('no order id')\n    return m.group(1)\n\n\ndef main():\n    for n in NS:\n        try:\n            print(order_id(n))\n        except ValueError as e:\n            print(e)\n";
        let found = catches_its_own_raise(before, after);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("raises ValueError and catches it again"),
            "{found:?}"
        );
        // The raise alone: the caller sees a clear error, nothing is swallowed.
        let raised_only = "def order_id(n):\n    m = R.search(n)\n    if m is None:\n        raise ValueError('no order id')\n    return m.group(1)\n\n\ndef main():\n    for n in NS:\n        print(order_id(n))\n";
        assert!(catches_its_own_raise(before, raised_only).is_empty());
        // Caught and handled with work, not only reported.
        let handled = after.replace("            print(e)\n", "            retry_later(n)\n");
        assert!(catches_its_own_raise(before, &handled).is_empty());
    }

    const CAMPAIGNS: &str = "def cost_per_conversion(campaign):\n    \"\"\"Spend divided by conversions. A campaign with no conversion yet costs its whole\n    spend per conversion (counted as if it had one), so it still ranks by spend.\"\"\"\n    return campaign[\"spend\"] / campaign[\"conversions\"]\n\n\ndef main():\n    for campaign in CAMPAIGNS:\n        print(campaign[\"id\"], f\"{cost_per_conversion(campaign):.2f}\")\n";

    #[test]
    fn a_callers_guard_around_a_function_whose_docstring_covers_the_case_is_refused() {
        let after = CAMPAIGNS.replace(
            "        print(campaign[\"id\"], f\"{cost_per_conversion(campaign):.2f}\")\n",
            "        if campaign[\"conversions\"] > 0:\n            print(campaign[\"id\"], f\"{cost_per_conversion(campaign):.2f}\")\n",
        );
        let found = guards_around_documented(CAMPAIGNS, &after, Some(4));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("leaves cost_per_conversion() as it was")
                && found[0].contains("a campaign with no conversion yet"),
            "{found:?}"
        );
    }

    #[test]
    fn the_fix_in_the_function_and_a_guard_around_an_undocumented_one_are_not() {
        let right = CAMPAIGNS.replace(
            "    return campaign[\"spend\"] / campaign[\"conversions\"]\n",
            "    return campaign[\"spend\"] / max(campaign[\"conversions\"], 1)\n",
        );
        assert!(guards_around_documented(CAMPAIGNS, &right, Some(4)).is_empty());
        // No docstring on the failing function: the caller may be where the bug is.
        let before = "def send(row):\n    return row[\"email\"].lower()\n\n\ndef report(rows):\n    for row in rows:\n        send(row)\n";
        let after = before.replace(
            "        send(row)\n",
            "        if \"email\" in row:\n            send(row)\n",
        );
        assert!(guards_around_documented(before, &after, Some(2)).is_empty());
        // A docstring that does not speak of the case.
        let plain = CAMPAIGNS.replace(
            "A campaign with no conversion yet costs its whole\n    spend per conversion (counted as if it had one), so it still ranks by spend.",
            "Used for bidding.",
        );
        let after = plain.replace(
            "        print(campaign[\"id\"], f\"{cost_per_conversion(campaign):.2f}\")\n",
            "        if campaign[\"conversions\"] > 0:\n            print(campaign[\"id\"], f\"{cost_per_conversion(campaign):.2f}\")\n",
        );
        assert!(guards_around_documented(&plain, &after, Some(3)).is_empty());
    }
}
