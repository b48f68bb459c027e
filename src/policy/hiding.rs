//! Fixes that hide the error instead of fixing it: an `except` that catches it (or everything)
//! and only passes, continues or returns a default; a guard or default on the None the error
//! was about; a branch that substitutes a value for a missing key; the program's data renamed
//! to fit the code; and a required environment read (`os.environ["X"]`) turned into one with a
//! default. Each makes the crash go away and the bug stay, which a re-run cannot tell from a
//! fix. (A failing line deleted outright is `deleted`'s to find.)
//!
//! The exception: a default the function's docstring promises ("returns 0 when the client has
//! no budget") is the intended behaviour, not a hidden error.
//!
//! Pure: two texts in, findings out.

use tree_sitter::Node;

use super::added::{added_rows, touches};
use super::docstring::{enclosing_docstring, promises_a_default};
use super::literal::{quoted, same_value};
use crate::prove::none_paths;

/// Phrases of a docstring that say a function may return None: a caller's guard against that
/// None is then handling a documented case, not hiding an error.
const NONE_WORDS: &[&str] = &[
    "none if",
    "none when",
    "none otherwise",
    "or none",
    "returns none",
    "return none",
];

/// Why `after` hides an error of type `error_type` (its message `message`) that `before`
/// raised, if it does.
pub fn hides(
    before: &str,
    after: &str,
    error_type: Option<&str>,
    message: Option<&str>,
) -> Vec<String> {
    let mut out = Vec::new();
    let added = added_rows(before, after);
    if added.is_empty() {
        return out;
    }
    // An error on a None (`'NoneType' object has no attribute 'name'`): the bug is where the
    // None came from, unless the program documents that None.
    let none_error = error_type
        .zip(message)
        .is_some_and(|(t, m)| crate::prove::signature::is_about_none(t, m))
        && !NONE_WORDS.iter().any(|w| before.to_lowercase().contains(w));
    // `f() missing 1 required positional argument: 'currency'`: the parameter left out.
    let missing_argument = (error_type == Some("TypeError"))
        .then(|| {
            message
                .filter(|m| m.contains("missing") && m.contains("required"))
                .and_then(|m| m.rsplit(": ").next())
                .and_then(quoted)
        })
        .flatten();
    // A KeyError's message is the key's repr: `'spent'`.
    let missing_key = (error_type.is_some_and(|t| t.rsplit('.').next() == Some("KeyError")))
        .then(|| message.and_then(quoted))
        .flatten();
    // `format_amount() missing 1 required ...`, or `Budget.share() missing ...`: the callee.
    let missing_in = missing_argument
        .as_ref()
        .and(message)
        .and_then(|m| m.split("()").next())
        .map(|f| f.rsplit(['.', ' ']).next().unwrap_or(f).to_string())
        .filter(|f| !f.is_empty());
    let constants_before = missing_in
        .as_deref()
        .map(|f| constants_passed(before, f))
        .unwrap_or_default();
    let key_in_data = missing_key
        .as_ref()
        .is_some_and(|k| data_keys(before).contains(k));
    let before_lines = before
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let incident = Incident {
        before_lines,
        error_type,
        none_error,
        missing_argument,
        missing_in,
        constants_before,
        missing_key,
        key_in_data,
    };
    if let Some(tree) = crate::prove::syntax::parse(after) {
        let src = after.as_bytes();
        let mut stack = vec![tree.root_node()];
        while let Some(node) = stack.pop() {
            // Only what the fix added is judged; a default the docstring promises is meant.
            if touches(node, &added)
                && let Some(why) = hidden_by(node, src, &incident)
                && !promises_a_default(node, src)
            {
                let line = node.start_position().row + 1;
                out.push(format!("{} at line {line}{}", why.0, why.1));
            }
            // Even a default the docstring promises must be only that: the branch for the
            // missing key still reads everything else the data gives.
            if touches(node, &added)
                && let Some(key) = incident.missing_key.as_deref()
                && let Some(dropped) = drops_other_reads(node, src, key)
            {
                let line = node.start_position().row + 1;
                out.push(format!(
                    "the branch for a missing '{key}' at line {line} drops what the data gives for {}: only the missing key may take a default, the other values must still be read",
                    super::quoted_names(&dropped)
                ));
            }
            let mut cursor = node.walk();
            stack.extend(node.children(&mut cursor));
        }
    }
    for name in required_reads(before) {
        if defaulted(after, &name) && !required_reads(after).contains(&name) {
            out.push(format!(
                "it gives the required setting {name} a default (os.environ[\"{name}\"] became a read with a fallback): a missing setting must be set, not guessed"
            ));
        }
    }
    out
}

/// Why a default for a missing key hides a `KeyError`.
const KEY_REASON: &str = ": a KeyError on a key the code requires is a wrong key or missing data, not something to default (a default is for a key the docstring says is optional)";

/// What the incident's error says, for the rules that read it.
struct Incident<'a> {
    /// Every line of the text before the fix, trimmed.
    before_lines: std::collections::BTreeSet<String>,
    error_type: Option<&'a str>,
    /// The error was about a None the program does not document.
    none_error: bool,
    /// The parameter a call left out (`TypeError: ... missing ... argument: 'currency'`).
    missing_argument: Option<String>,
    /// The function it was left out of (`format_amount`).
    missing_in: Option<String>,
    /// The literal arguments calls of that function passed before the fix.
    constants_before: Vec<String>,
    /// The key of a `KeyError`.
    missing_key: Option<String>,
    /// Whether the program's own data (a dictionary literal) has that key somewhere: then some
    /// records have it and others do not, and skipping the ones without it may be meant.
    key_in_data: bool,
}

/// Why `node`, a construct of the fixed text, hides the incident's error, if it does: what
/// it is, and the reason (the caller puts the line between them).
fn hidden_by(node: Node<'_>, src: &[u8], incident: &Incident<'_>) -> Option<(String, String)> {
    let why = |what: &str, reason: String| Some((what.to_string(), reason));
    match node.kind() {
        "except_clause" if catches(node, src, incident.error_type) && only_hides(node, src) => why(
            "an except clause that only passes or returns a default",
            ": it hides the error instead of fixing it".to_string(),
        ),
        // `except ValueError: print(f"Error: invalid line {line}")` around the code as it was:
        // every record the code could not read is reported and dropped (the bench's
        // `unpack_too_many`, where every line was). Around code the fix changed (the unpack
        // made right), the clause only guards what the fix did not foresee.
        "except_clause"
            if catches(node, src, incident.error_type)
                && except_body(node).is_some_and(|b| block_only_reports(b, src))
                && wraps_only_old_code(node, src, &incident.before_lines)
                && !promises_a_skip(node, src) =>
        {
            why(
                "an except clause that only prints or logs the error",
                ": it reports the error and drops the work instead of fixing it".to_string(),
            )
        }
        "function_definition" => {
            let param = incident.missing_argument.as_deref()?;
            // The function's own docstring decides, not the one around it.
            if !gives_a_default(node, src, param) || docstring_promises_a_default_in(node, src) {
                return None;
            }
            why(
                &format!("it gives the parameter '{param}' a default"),
                ", where a caller left it out: the call must pass it (a guessed default is a silent wrong value)".to_string(),
            )
        }
        "dictionary" => {
            let key = incident.missing_key.as_deref()?;
            merges_a_default(node, src, key).then_some(())?;
            why(
                &format!("it merges a default for the missing key '{key}' into the data"),
                KEY_REASON.to_string(),
            )
        }
        "call" => {
            if let Some(key) = incident.missing_key.as_deref()
                && let Some(method) = reads_with_default(node, src, key)
            {
                return why(
                    &format!("it reads the missing key '{key}' with .{method}()"),
                    KEY_REASON.to_string(),
                );
            }
            let (function, param) = (
                incident.missing_in.as_deref()?,
                incident.missing_argument.as_deref()?,
            );
            let constant =
                passes_a_constant(node, src, function, param, &incident.constants_before)?;
            why(
                &format!(
                    "it passes the constant {constant} for the argument '{param}' that a call of {function}() left out"
                ),
                ": the value must come from the program's own data (a constant is a guess, right for one case at most)".to_string(),
            )
        }
        // A branch on whether the key is there hides the KeyError when it gives something
        // else without it (an `else`, a conditional expression) or writes a default into the
        // data (`if "vat" not in c: c["vat"] = 0.2`). One that only skips the work needing the
        // key hides it too when no record of the program's own data has that key: the key is
        // misspelt, and the skip drops every record (`if "zip" in a: out.append(...)`, where
        // the data says "postal_code"). Where some records have it, skipping the others may
        // be meant. A key the docstring calls optional is the exception.
        "if_statement" | "conditional_expression"
            if incident.missing_key.as_deref().is_some_and(|key| {
                branches_on_key(node, src, key)
                    && (has_alternative(node)
                        || assigns_key(node, src, key)
                        || !incident.key_in_data)
            }) =>
        {
            why(
                &format!(
                    "a branch on whether the missing key '{}' is there",
                    incident.missing_key.as_deref().unwrap_or_default()
                ),
                KEY_REASON.to_string(),
            )
        }
        // `"spent" in c and c["spent"] > ...`: a missing key read as False, where the
        // function's docstring says the key is required.
        "boolean_operator"
            if incident.missing_key.as_deref().is_some_and(|key| {
                tests_key_first(node, src, key) && docstring_requires(node, src)
            }) =>
        {
            why(
                &format!(
                    "a test that skips the missing key '{}' where the docstring says it is required",
                    incident.missing_key.as_deref().unwrap_or_default()
                ),
                KEY_REASON.to_string(),
            )
        }
        "conditional_expression" if incident.none_error && defaults_on_none(node, src) => why(
            "a conditional that gives a default when a value is None",
            ": the error was that value being None, and the fix must be where it came from (a default is for a None the program documents)".to_string(),
        ),
        "if_statement"
            if incident.none_error
                && ((tests_for_none(node, src)
                    && (only_leaves(node) || only_reports(node, src)))
                    || (tests_for_a_value(node, src)
                        && (else_only_leaves(node)
                            || else_only_reports(node, src)
                            || falls_off_the_end(node)))) =>
        {
            why(
                "a guard that leaves when a value is None",
                ": the error was that value being None, and the fix must be where it came from (a guard is for a None the program documents)".to_string(),
            )
        }
        _ => None,
    }
}

/// For a `KeyError`: keys of the program's own data (dictionary literals) that the fix renamed
/// or removed. The error said the code reads a key the data does not have; changing the data
/// to fit the code (`"postal_code"` to `"zipcode"` in a sample response) leaves the code wrong
/// for the real data, which a small model was seen to do with a whole-file rewrite.
pub fn renames_data_keys(before: &str, after: &str, error_type: Option<&str>) -> Vec<String> {
    if error_type.is_none_or(|t| t.rsplit('.').next() != Some("KeyError")) {
        return Vec::new();
    }
    if crate::prove::syntax::parse_clean(after).is_none() {
        return Vec::new();
    }
    let was = data_keys(before);
    let now = data_keys(after);
    let mut gone: Vec<String> = was.into_iter().filter(|k| !now.contains(k)).collect();
    gone.sort();
    gone.dedup();
    if gone.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "it changes the keys of the program's data ({}), where the error was the code reading a key the data does not have: the code must read the data as it is",
        super::quoted_names(&gone)
    )]
}

/// The string keys of every dictionary literal of `source`.
fn data_keys(source: &str) -> Vec<String> {
    let Some(tree) = crate::prove::syntax::parse(source) else {
        return Vec::new();
    };
    let src = source.as_bytes();
    let mut out = Vec::new();
    for node in crate::prove::syntax::named_nodes(tree.root_node()) {
        if node.kind() == "pair"
            && let Some(key) = node.child_by_field_name("key")
            && key.kind() == "string"
            && let Some(text) = key.utf8_text(src).ok().and_then(quoted)
        {
            out.push(text);
        }
    }
    out
}

/// Whether the clause catches `error_type`: bare, `Exception`, `BaseException`, or the type
/// itself (alone or in a tuple).
fn catches(clause: Node<'_>, src: &[u8], error_type: Option<&str>) -> bool {
    let mut cursor = clause.walk();
    let caught: Vec<String> = clause
        .named_children(&mut cursor)
        .filter(|c| c.kind() != "block" && c.kind() != "comment")
        .map(|c| c.utf8_text(src).unwrap_or("").to_string())
        .collect();
    let Some(spec) = caught.first() else {
        return true; // a bare `except:`
    };
    let short = error_type.map(|t| t.rsplit('.').next().unwrap_or(t));
    spec.split(|c: char| c == ',' || c == '(' || c == ')' || c.is_whitespace())
        .map(|w| w.rsplit('.').next().unwrap_or(w))
        .any(|w| w == "Exception" || w == "BaseException" || Some(w) == short)
}

/// Whether the handler's body only passes, continues, or returns nothing or a literal.
fn only_hides(clause: Node<'_>, src: &[u8]) -> bool {
    let Some(body) = except_body(clause) else {
        return false;
    };
    let statements = statements_of(body);
    !statements.is_empty()
        && statements.iter().all(|s| match s.kind() {
            "pass_statement" | "continue_statement" => true,
            "expression_statement" => s.utf8_text(src).is_ok_and(|t| t.trim() == "..."),
            "return_statement" => {
                let mut c = s.walk();
                let value: Vec<Node<'_>> = s.named_children(&mut c).collect();
                value.is_empty() || value.iter().all(|v| is_literal(*v))
            }
            _ => false,
        })
}

/// Whether the docstring of the function around `node` says bad input is skipped or logged
/// (`"malformed lines are logged and skipped"`): then reporting and dropping it is meant.
fn promises_a_skip(node: Node<'_>, src: &[u8]) -> bool {
    super::docstring::enclosing_docstring(node, src)
        .is_some_and(|d| ["skip", "ignore", "logged"].iter().any(|w| d.contains(w)))
}

/// Whether the `try` of the `except` clause `clause` holds only lines `before` had (its
/// statements re-indented, not changed): the fix's only change there is the clause.
fn wraps_only_old_code(
    clause: Node<'_>,
    src: &[u8],
    before_lines: &std::collections::BTreeSet<String>,
) -> bool {
    let Some(body) = clause
        .parent()
        .filter(|t| t.kind() == "try_statement")
        .and_then(|t| t.child_by_field_name("body"))
    else {
        return false;
    };
    body.utf8_text(src).is_ok_and(|text| {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .all(|l| before_lines.contains(l))
    })
}

/// The block of an `except` clause.
fn except_body(clause: Node<'_>) -> Option<Node<'_>> {
    clause.child_by_field_name("body").or_else(|| {
        let mut cursor = clause.walk();
        clause
            .named_children(&mut cursor)
            .find(|c| c.kind() == "block")
    })
}

/// The condition of an `if`, its parentheses taken off.
fn condition_of(if_node: Node<'_>) -> Option<Node<'_>> {
    let cond = if_node.child_by_field_name("condition")?;
    Some(if cond.kind() == "parenthesized_expression" {
        cond.named_child(0).unwrap_or(cond)
    } else {
        cond
    })
}

/// Whether `comparison` compares with None, and how: `Some(true)` for `is not None` or
/// `!= None`, `Some(false)` for `is None` or `== None`.
fn compares_with_none(comparison: Node<'_>, src: &[u8]) -> Option<bool> {
    let mut c = comparison.walk();
    let has_none = comparison
        .named_children(&mut c)
        .any(|n| n.kind() == "none");
    let text = comparison.utf8_text(src).unwrap_or("");
    has_none.then(|| text.contains("is not") || text.contains("!="))
}

/// Whether the condition of `if_node` holds when a value is missing: `if not x:`, `if x is
/// None:`, `if x == None:`.
fn tests_for_none(if_node: Node<'_>, src: &[u8]) -> bool {
    condition_of(if_node).is_some_and(|cond| match cond.kind() {
        "not_operator" => true,
        "comparison_operator" => compares_with_none(cond, src) == Some(false),
        _ => false,
    })
}

/// Whether the condition of `if_node` holds when a value is there: `if match:`, `if x is not
/// None:`, `if x != None:`, or the call that gave the None tested itself (`if
/// ORDER_RE.search(notice):`, a small model's answer in the bench's `none_regex_group`).
fn tests_for_a_value(if_node: Node<'_>, src: &[u8]) -> bool {
    condition_of(if_node).is_some_and(|cond| match cond.kind() {
        "identifier" | "attribute" | "call" => true,
        "comparison_operator" => compares_with_none(cond, src) == Some(true),
        _ => false,
    })
}

/// Whether the `else` of `if_node` only leaves (returns, passes, continues or breaks).
fn else_only_leaves(if_node: Node<'_>) -> bool {
    let mut cursor = if_node.walk();
    if_node
        .children(&mut cursor)
        .find(|c| c.kind() == "else_clause")
        .and_then(|alternative| alternative.child_by_field_name("body"))
        .is_some_and(block_only_leaves)
}

/// Whether the `if`'s own block only says something (`print`, a log call) and maybe leaves.
fn only_reports(if_node: Node<'_>, src: &[u8]) -> bool {
    if_node
        .child_by_field_name("consequence")
        .is_some_and(|b| block_only_reports(b, src))
}

/// Whether the `else` of `if_node` only says something (`print("No scores available")`) and
/// maybe leaves: the None case reported and dropped, the error hidden.
fn else_only_reports(if_node: Node<'_>, src: &[u8]) -> bool {
    let mut cursor = if_node.walk();
    if_node
        .children(&mut cursor)
        .find(|c| c.kind() == "else_clause")
        .and_then(|alternative| alternative.child_by_field_name("body"))
        .is_some_and(|b| block_only_reports(b, src))
}

/// Whether `block` holds only calls that print or log, then at most a statement that leaves.
pub(super) fn block_only_reports(block: Node<'_>, src: &[u8]) -> bool {
    let statements = statements_of(block);
    let (reports, leaves): (Vec<_>, Vec<_>) = statements
        .iter()
        .partition(|s| s.kind() == "expression_statement");
    let reporting = |s: &Node<'_>| {
        s.named_child(0)
            .filter(|c| c.kind() == "call")
            .and_then(|c| c.child_by_field_name("function"))
            .and_then(|f| f.utf8_text(src).ok())
            .is_some_and(|f| {
                let last = f.rsplit('.').next().unwrap_or(f);
                f == "print"
                    || matches!(
                        last,
                        "debug" | "info" | "warning" | "warn" | "error" | "exception" | "critical"
                    )
            })
    };
    !reports.is_empty()
        && reports.iter().all(reporting)
        && leaves.len() <= 1
        && leaves.iter().all(|s| {
            matches!(
                s.kind(),
                "pass_statement" | "continue_statement" | "break_statement" | "return_statement"
            )
        })
}

/// Whether `if_node` is the last statement of its function's body (comments aside) and a way
/// through it ends without a `return` or a `raise` (no `else`, an `else: pass`, an `elif`
/// with no `else`): when its tests fail, the function returns None without saying so.
fn falls_off_the_end(if_node: Node<'_>) -> bool {
    let Some(body) = if_node.parent().filter(|p| p.kind() == "block") else {
        return false;
    };
    let in_function = body
        .parent()
        .is_some_and(|p| p.kind() == "function_definition");
    in_function
        && none_paths::last_statement(body).is_some_and(|l| l.id() == if_node.id())
        && none_paths::may_return_none(if_node)
}

/// Whether the left side of `node`, an `and`, tests that `key` is in something.
fn tests_key_first(node: Node<'_>, src: &[u8], key: &str) -> bool {
    let is_and = node
        .child_by_field_name("operator")
        .is_some_and(|o| o.kind() == "and");
    is_and
        && node
            .child_by_field_name("left")
            .is_some_and(|left| tests_membership(left, src, key))
}

/// Whether `node` is `'key' in x` or `'key' not in x`, or `hasattr(x, 'key')` (always False
/// on a dict: a small model was seen to guard a missing key that way).
fn tests_membership(node: Node<'_>, src: &[u8], key: &str) -> bool {
    if node.kind() == "call" {
        let is_hasattr = node
            .child_by_field_name("function")
            .and_then(|f| f.utf8_text(src).ok())
            == Some("hasattr");
        let names_key = node
            .child_by_field_name("arguments")
            .and_then(|a| a.named_child(1))
            .filter(|a| a.kind() == "string")
            .and_then(|a| a.utf8_text(src).ok())
            .and_then(quoted)
            .as_deref()
            == Some(key);
        return is_hasattr && names_key;
    }
    if node.kind() != "comparison_operator" {
        return false;
    }
    let mut cursor = node.walk();
    let tests_in = node
        .children(&mut cursor)
        .any(|c| matches!(c.kind(), "in" | "not in"));
    let mut cursor = node.walk();
    let names_key = node.named_children(&mut cursor).any(|c| {
        c.kind() == "string" && c.utf8_text(src).ok().and_then(quoted).as_deref() == Some(key)
    });
    tests_in && names_key
}

/// Whether the docstring of the function around `node` says something is required.
fn docstring_requires(node: Node<'_>, src: &[u8]) -> bool {
    enclosing_docstring(node, src)
        .is_some_and(|text| text.contains("required") || text.contains("always has"))
}

/// Whether `node`, an `if` statement or a conditional expression, gives an alternative: an
/// `else` or `elif` branch (a conditional expression always has one).
fn has_alternative(node: Node<'_>) -> bool {
    if node.kind() == "conditional_expression" {
        return true;
    }
    let mut cursor = node.walk();
    node.children(&mut cursor)
        .any(|c| matches!(c.kind(), "else_clause" | "elif_clause"))
}

/// Whether the condition of `node` (an `if` statement or a conditional expression) tests whether
/// `key` is in something: `'zip' in address`, `"zip" not in address`.
fn branches_on_key(node: Node<'_>, src: &[u8], key: &str) -> bool {
    let condition = match node.kind() {
        // `a if cond else b`: the condition is the middle one.
        "conditional_expression" => node.named_child(1),
        _ => node.child_by_field_name("condition"),
    };
    let Some(condition) = condition else {
        return false;
    };
    let mut stack = vec![condition];
    while let Some(n) = stack.pop() {
        if tests_membership(n, src, key) {
            return true;
        }
        let mut cursor = n.walk();
        stack.extend(n.named_children(&mut cursor));
    }
    false
}

/// For a branch on whether `key` is there (`if "retries" in settings: ... else: ...`): the
/// other keys the branch with the key reads and the branch without it does not. A small
/// model's "default" has been seen to return a constant in its `else`, dropping the value
/// the data did give for another key.
fn drops_other_reads(node: Node<'_>, src: &[u8], key: &str) -> Option<Vec<String>> {
    if !matches!(node.kind(), "if_statement" | "conditional_expression")
        || !branches_on_key(node, src, key)
    {
        return None;
    }
    let (with, without): (Vec<Node<'_>>, Vec<Node<'_>>) = if node.kind() == "conditional_expression"
    {
        (vec![node.named_child(0)?], vec![node.named_child(2)?])
    } else {
        let mut cursor = node.walk();
        let alternatives: Vec<Node<'_>> = node
            .children(&mut cursor)
            .filter(|c| matches!(c.kind(), "else_clause" | "elif_clause"))
            .collect();
        if alternatives.is_empty() {
            return None;
        }
        (vec![node.child_by_field_name("consequence")?], alternatives)
    };
    // `if "k" not in x:` puts the branch without the key first.
    let condition = if node.kind() == "conditional_expression" {
        node.named_child(1)
    } else {
        condition_of(node)
    };
    let negated = condition
        .map(|c| c.utf8_text(src).unwrap_or(""))
        .is_some_and(|c| c.contains("not in"));
    let (with, without) = if negated {
        (without, with)
    } else {
        (with, without)
    };
    let read = |nodes: &[Node<'_>]| {
        let mut keys = Vec::new();
        for n in nodes {
            keys_read(*n, src, &mut keys);
        }
        keys
    };
    let kept = read(&without);
    let dropped: Vec<String> = read(&with)
        .into_iter()
        .filter(|k| k != key && !kept.contains(k))
        .collect();
    (!dropped.is_empty()).then_some(dropped)
}

/// The string keys `node` reads from data: `x["k"]` and `x.get("k", ...)`, once each.
fn keys_read(node: Node<'_>, src: &[u8], out: &mut Vec<String>) {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        let key = match n.kind() {
            "subscript" => n
                .child_by_field_name("subscript")
                .filter(|s| s.kind() == "string")
                .and_then(|s| s.utf8_text(src).ok())
                .and_then(quoted),
            "call" => {
                let is_get = n
                    .child_by_field_name("function")
                    .filter(|f| f.kind() == "attribute")
                    .and_then(|f| f.child_by_field_name("attribute"))
                    .and_then(|a| a.utf8_text(src).ok())
                    == Some("get");
                is_get
                    .then(|| {
                        n.child_by_field_name("arguments")
                            .and_then(|a| a.named_child(0))
                            .filter(|a| a.kind() == "string")
                            .and_then(|a| a.utf8_text(src).ok())
                            .and_then(quoted)
                    })
                    .flatten()
            }
            _ => None,
        };
        if let Some(k) = key
            && !out.contains(&k)
        {
            out.push(k);
        }
        let mut cursor = n.walk();
        stack.extend(n.named_children(&mut cursor));
    }
}

/// Whether the function's parameter `name` has a default.
fn gives_a_default(def: Node<'_>, src: &[u8], name: &str) -> bool {
    let Some(params) = def.child_by_field_name("parameters") else {
        return false;
    };
    let mut cursor = params.walk();
    params.named_children(&mut cursor).any(|p| {
        matches!(p.kind(), "default_parameter" | "typed_default_parameter")
            && p.child_by_field_name("name")
                .and_then(|n| n.utf8_text(src).ok())
                == Some(name)
    })
}

/// [`docstring_promises_a_default`] for a function itself (its own docstring).
fn docstring_promises_a_default_in(def: Node<'_>, src: &[u8]) -> bool {
    def.child_by_field_name("body")
        .and_then(|b| b.named_child(0))
        .is_some_and(|first| promises_a_default(first, src))
}

/// Whether `dict` gives `key` a literal value while merging into other data: `x | {"key": ""}`
/// or `{**x, "key": ""}`.
fn merges_a_default(dict: Node<'_>, src: &[u8], key: &str) -> bool {
    let mut cursor = dict.walk();
    let children: Vec<Node<'_>> = dict.named_children(&mut cursor).collect();
    let defaults_key = children.iter().any(|pair| {
        pair.kind() == "pair"
            && pair
                .child_by_field_name("key")
                .and_then(|k| k.utf8_text(src).ok())
                .and_then(quoted)
                .as_deref()
                == Some(key)
            && pair.child_by_field_name("value").is_some_and(is_literal)
    });
    let merged = children.iter().any(|c| c.kind() == "dictionary_splat")
        || dict.parent().is_some_and(|p| {
            p.kind() == "binary_operator"
                && p.child_by_field_name("operator")
                    .and_then(|o| o.utf8_text(src).ok())
                    == Some("|")
        });
    defaults_key && merged
}

/// Whether `call` is `x.get("key", ...)`, `x.get("key")` or `x.setdefault("key", ...)`: the
/// method's name when it is.
fn reads_with_default(call: Node<'_>, src: &[u8], key: &str) -> Option<&'static str> {
    let method = call
        .child_by_field_name("function")
        .filter(|f| f.kind() == "attribute")
        .and_then(|f| f.child_by_field_name("attribute"))
        .and_then(|a| a.utf8_text(src).ok())
        .and_then(|m| ["get", "setdefault"].into_iter().find(|k| *k == m))?;
    let first = call
        .child_by_field_name("arguments")
        .and_then(|a| a.named_child(0))
        .and_then(|a| a.utf8_text(src).ok())
        .and_then(quoted);
    (first.as_deref() == Some(key)).then_some(method)
}

/// Whether `node` assigns `x["key"] = ...` somewhere inside.
fn assigns_key(node: Node<'_>, src: &[u8], key: &str) -> bool {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if n.kind() == "assignment"
            && n.child_by_field_name("left")
                .filter(|l| l.kind() == "subscript")
                .and_then(|l| l.child_by_field_name("subscript"))
                .and_then(|k| k.utf8_text(src).ok())
                .and_then(quoted)
                .as_deref()
                == Some(key)
        {
            return true;
        }
        let mut cursor = n.walk();
        stack.extend(n.named_children(&mut cursor));
    }
    false
}

/// Whether `call` calls `function` (`format_amount(...)`, `self.format_amount(...)`).
fn calls(call: Node<'_>, src: &[u8], function: &str) -> bool {
    call.child_by_field_name("function")
        .and_then(|f| match f.kind() {
            "identifier" => f.utf8_text(src).ok(),
            "attribute" => f
                .child_by_field_name("attribute")
                .and_then(|a| a.utf8_text(src).ok()),
            _ => None,
        })
        == Some(function)
}

/// A literal `call` passes to `function` for `param`, that no call of it passed before: as
/// `param=...`, or as a positional argument.
fn passes_a_constant(
    call: Node<'_>,
    src: &[u8],
    function: &str,
    param: &str,
    before: &[String],
) -> Option<String> {
    if !calls(call, src, function) {
        return None;
    }
    arguments(call, src)
        .into_iter()
        .filter(|(name, _)| name.is_none_or(|n| n == param))
        .find_map(|(_, value)| {
            let text = value.utf8_text(src).ok()?;
            (is_literal(value) && !before.iter().any(|b| same_value(b, text)))
                .then(|| text.to_string())
        })
}

/// A call's arguments, each with its keyword when it has one: `f(1, rate=2)` gives
/// `(None, 1)` and `(Some("rate"), 2)`. The one reading of an argument list for the two
/// rules about constants passed.
fn arguments<'t>(call: Node<'t>, src: &'t [u8]) -> Vec<(Option<&'t str>, Node<'t>)> {
    let Some(args) = call.child_by_field_name("arguments") else {
        return Vec::new();
    };
    let mut cursor = args.walk();
    args.named_children(&mut cursor)
        .filter_map(|arg| {
            if arg.kind() == "keyword_argument" {
                let name = arg
                    .child_by_field_name("name")
                    .and_then(|n| n.utf8_text(src).ok());
                Some((name, arg.child_by_field_name("value")?))
            } else {
                Some((None, arg))
            }
        })
        .collect()
}

/// The literal arguments the calls of `function` in `source` pass.
fn constants_passed(source: &str, function: &str) -> Vec<String> {
    let Some(tree) = crate::prove::syntax::parse(source) else {
        return Vec::new();
    };
    let src = source.as_bytes();
    let mut out = Vec::new();
    for node in crate::prove::syntax::named_nodes(tree.root_node()) {
        if node.kind() == "call" && calls(node, src, function) {
            out.extend(
                arguments(node, src)
                    .into_iter()
                    .filter(|(_, value)| is_literal(*value))
                    .filter_map(|(_, value)| value.utf8_text(src).ok())
                    .map(str::to_string),
            );
        }
    }
    out
}

/// Whether a conditional expression (`a if cond else b`) tests for None or truthiness and
/// has a literal branch: `x.name if x is not None else 'nobody'`.
fn defaults_on_none(node: Node<'_>, src: &[u8]) -> bool {
    let mut cursor = node.walk();
    let parts: Vec<Node<'_>> = node.named_children(&mut cursor).collect();
    let [yes, cond, no] = parts.as_slice() else {
        return false;
    };
    let cond_text = cond.utf8_text(src).unwrap_or("");
    let tests = cond_text.contains("None")
        || matches!(
            cond.kind(),
            "not_operator" | "identifier" | "attribute" | "call"
        );
    tests && (is_literal(*yes) || is_literal(*no))
}

/// The statements of a block, comments aside.
fn statements_of(block: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = block.walk();
    block
        .named_children(&mut cursor)
        .filter(|s| s.kind() != "comment")
        .collect()
}

/// Whether the `if`'s own block only leaves: passes, continues, breaks or returns (whatever
/// value), never raising nor computing anything.
fn only_leaves(if_node: Node<'_>) -> bool {
    if_node
        .child_by_field_name("consequence")
        .is_some_and(block_only_leaves)
}

/// Whether `block` only leaves: passes, continues, breaks or returns (whatever value).
fn block_only_leaves(block: Node<'_>) -> bool {
    let statements = statements_of(block);
    !statements.is_empty()
        && statements.iter().all(|s| {
            matches!(
                s.kind(),
                "pass_statement" | "continue_statement" | "break_statement" | "return_statement"
            )
        })
}

fn is_literal(node: Node<'_>) -> bool {
    match node.kind() {
        "none" | "true" | "false" | "integer" | "float" | "string" => true,
        "list" | "dictionary" | "tuple" | "set" => node.named_child_count() == 0,
        "unary_operator" => node.named_child(0).is_some_and(is_literal),
        _ => false,
    }
}

/// The names read with `os.environ["NAME"]` (or `environ['NAME']`).
fn required_reads(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("environ[") {
        rest = &rest[at + "environ[".len()..];
        if let Some(name) = quoted(rest)
            && !out.contains(&name)
        {
            out.push(name);
        }
    }
    out
}

/// Whether `text` reads `name` with a fallback: `environ.get("NAME", ...)` or
/// `getenv("NAME", ...)`.
fn defaulted(text: &str, name: &str) -> bool {
    ["environ.get(", "getenv("].iter().any(|call| {
        let mut rest = text;
        while let Some(at) = rest.find(call) {
            rest = &rest[at + call.len()..];
            if quoted(rest).as_deref() == Some(name) {
                let args = rest.split(')').next().unwrap_or("");
                if args.contains(',') {
                    return true;
                }
            }
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_except_that_only_reports_the_error_is_hiding() {
        // bench/crashes/cases/unpack_too_many, the small model's answer as recorded.
        let before = "def totals(lines):\n    \"\"\"{currency: total amount}.\"\"\"\n    totals = {}\n    for line in lines:\n        payer, amount = line.split(\",\")\n        totals[payer] = float(amount)\n    return totals\n";
        let after = "def totals(lines):\n    \"\"\"{currency: total amount}.\"\"\"\n    totals = {}\n    for line in lines:\n        try:\n            payer, amount = line.split(\",\")\n            totals[payer] = float(amount)\n        except ValueError:\n            print(f\"Error: Invalid input format on line '{line}'\")\n    return totals\n";
        let message = Some("too many values to unpack (expected 2)");
        let found = hides(before, after, Some("ValueError"), message);
        assert!(
            found.iter().any(|w| w.contains("only prints or logs")),
            "{found:?}"
        );
        // Logged, then continue: the same.
        let logged = after.replace(
            "print(f\"Error: Invalid input format on line '{line}'\")",
            "log.warning(\"bad line %s\", line)\n            continue",
        );
        assert!(!hides(before, &logged, Some("ValueError"), message).is_empty());
        // Near misses: reported and raised again, another error caught, a docstring that
        // says bad lines are skipped.
        let reraised = after.replace(
            "print(f\"Error: Invalid input format on line '{line}'\")",
            "print(line)\n            raise",
        );
        assert!(hides(before, &reraised, Some("ValueError"), message).is_empty());
        let other = after.replace("except ValueError:", "except KeyError:");
        assert!(hides(before, &other, Some("ValueError"), message).is_empty());
        // The unpack made right inside the try: the clause only guards malformed lines
        // (a right fix of the 2026-11-30 14:01 run).
        let fixed_inside = after.replace(
            "payer, amount = line.split(\",\")",
            "payer, amount, currency = line.split(\",\")",
        );
        assert!(hides(before, &fixed_inside, Some("ValueError"), message).is_empty());
        let documented = after.replace(
            "{currency: total amount}.",
            "{currency: total amount}; malformed lines are logged and skipped.",
        );
        let documented_before = before.replace(
            "{currency: total amount}.",
            "{currency: total amount}; malformed lines are logged and skipped.",
        );
        assert!(hides(&documented_before, &documented, Some("ValueError"), message).is_empty());
    }

    #[test]
    fn from_the_crash_benchmark_a_value_guard_and_a_required_key_skipped_are_hiding() {
        // none_regex_group: `if match: return match.group(1) else: return None`.
        let before = "import re\n\ndef order_id(notice):\n    \"\"\"The order id in a notice.\"\"\"\n    return re.search('x', notice).group(1)\n";
        let after = "import re\n\ndef order_id(notice):\n    \"\"\"The order id in a notice.\"\"\"\n    match = re.search('x', notice)\n    if match:\n        return match.group(1)\n    else:\n        return None\n";
        let found = hides(
            before,
            after,
            Some("AttributeError"),
            Some("'NoneType' object has no attribute 'group'"),
        );
        assert!(found.iter().any(|w| w.contains("None")), "{found:?}");
        // The same guard with no else, last in the function: it returns None by falling off.
        let falls = "import re\n\ndef order_id(notice):\n    \"\"\"The order id in a notice.\"\"\"\n    match = re.search('x', notice)\n    if match:\n        return match.group(1)\n";
        let found = hides(
            before,
            falls,
            Some("AttributeError"),
            Some("'NoneType' object has no attribute 'group'"),
        );
        assert!(found.iter().any(|w| w.contains("None")), "{found:?}");
        // A guard followed by more code is not falling off.
        let more = "import re\n\ndef order_id(notice):\n    \"\"\"The order id in a notice.\"\"\"\n    match = re.search('x', notice)\n    if match:\n        return match.group(1)\n    raise ValueError(notice)\n";
        assert!(
            hides(
                before,
                more,
                Some("AttributeError"),
                Some("'NoneType' object has no attribute 'group'")
            )
            .is_empty()
        );
        // dict_key_required_typo: `"spent" in c and c["spent"] > ...` under "all required".
        let before = "def over(cs):\n    \"\"\"Every campaign has id, budget and spend (all required).\"\"\"\n    return [c['id'] for c in cs if c['spent'] > c['budget']]\n";
        let after = "def over(cs):\n    \"\"\"Every campaign has id, budget and spend (all required).\"\"\"\n    return [c['id'] for c in cs if 'spent' in c and c['spent'] > c['budget']]\n";
        let found = hides(before, after, Some("KeyError"), Some("'spent'"));
        assert!(found.iter().any(|w| w.contains("required")), "{found:?}");
        // The same guard written `hasattr(c, 'spent')`, always False on a dict.
        let hasattr = after.replace("'spent' in c", "hasattr(c, 'spent')");
        let found = hides(before, &hasattr, Some("KeyError"), Some("'spent'"));
        assert!(found.iter().any(|w| w.contains("required")), "{found:?}");
        // Without the docstring's word, skipping is the program's choice.
        let loose_before = before.replace(" (all required)", "");
        let loose_after = after.replace(" (all required)", "");
        assert!(
            hides(
                &loose_before,
                &loose_after,
                Some("KeyError"),
                Some("'spent'")
            )
            .is_empty()
        );
    }

    #[test]
    fn a_keyerror_fixed_by_renaming_the_datas_keys_is_refused() {
        // nested_key_error: the sample response's "postal_code" renamed to the "zipcode" read.
        let before =
            "DATA = {'street': 'x', 'postal_code': '1'}\n\ndef label(a):\n    return a['zip']\n";
        let after =
            "DATA = {'street': 'x', 'zipcode': '1'}\n\ndef label(a):\n    return a['zipcode']\n";
        let found = renames_data_keys(before, after, Some("KeyError"));
        assert!(
            found.len() == 1 && found[0].contains("'postal_code'"),
            "{found:?}"
        );
        // The right fix reads the key the data has: the data is untouched.
        let right = "DATA = {'street': 'x', 'postal_code': '1'}\n\ndef label(a):\n    return a['postal_code']\n";
        assert!(renames_data_keys(before, right, Some("KeyError")).is_empty());
        // Another error: not this rule.
        assert!(renames_data_keys(before, after, Some("TypeError")).is_empty());
    }

    #[test]
    fn a_get_for_a_key_the_docstring_calls_optional_is_meant() {
        // bench/crashes/cases/dict_key_default_doc: the right fix was refused before.
        let before = "def retry_policy(settings):\n    \"\"\"How a job is retried.\n\n    settings[\"retries\"] is optional: when absent, a job is retried 3 times.\n    \"\"\"\n    return {\"retries\": settings[\"retries\"]}\n";
        let after = before.replace("settings[\"retries\"]}", "settings.get(\"retries\", 3)}");
        assert!(hides(before, &after, Some("KeyError"), Some("'retries'")).is_empty());
    }

    #[test]
    fn a_constant_for_the_argument_a_call_left_out_is_a_guess() {
        // bench/crashes/cases/missing_argument: 'EUR' for every client.
        let before = "def fmt(amount, currency):\n    return f\"{amount:.2f} {currency}\"\n\ndef summary(c):\n    return fmt(c['balance'])\n";
        let message = "fmt() missing 1 required positional argument: 'currency'";
        for guess in [
            "fmt(c['balance'], 'EUR')",
            "fmt(c['balance'], currency='EUR')",
            "fmt(c['balance'], None)",
        ] {
            let after = before.replace("fmt(c['balance'])", guess);
            let found = hides(before, &after, Some("TypeError"), Some(message));
            assert!(
                found
                    .iter()
                    .any(|w| w.contains("passes the constant") && w.contains("'currency'")),
                "{guess}: {found:?}"
            );
        }
        // The call's own constants, re-quoted by the fix, are not guesses (the bench's
        // `pkg_missing_arg`: `render("shipped")` to `render('shipped', context)`).
        let quotes = "def render(name, context):\n    return name\n\ndef shipped(c):\n    context = {'n': c}\n    return render(\"shipped\")\n";
        let requoted = quotes.replace("render(\"shipped\")", "render('shipped', context)");
        let missing = "render() missing 1 required positional argument: 'context'";
        assert!(hides(quotes, &requoted, Some("TypeError"), Some(missing)).is_empty());
        let guessed = quotes.replace("render(\"shipped\")", "render('shipped', 'ctx')");
        assert!(!hides(quotes, &guessed, Some("TypeError"), Some(missing)).is_empty());
        // The value from the data is the fix; a method's qualified name reads the same.
        let right = before.replace("fmt(c['balance'])", "fmt(c['balance'], c['currency'])");
        assert!(hides(before, &right, Some("TypeError"), Some(message)).is_empty());
        // A constant given for another keyword is not a guess for the missing argument.
        let other = before.replace(
            "fmt(c['balance'])",
            "fmt(c['balance'], currency=c['currency'], places=2)",
        );
        assert!(hides(before, &other, Some("TypeError"), Some(message)).is_empty());
        let method = "Money.fmt() missing 1 required positional argument: 'currency'";
        let after = before.replace("fmt(c['balance'])", "fmt(c['balance'], 'EUR')");
        assert!(!hides(before, &after, Some("TypeError"), Some(method)).is_empty());
        // A constant other calls already pass for it is the program's own choice.
        let before_two = format!("{before}\ndef total(c):\n    return fmt(c['sum'], 'EUR')\n");
        let after_two = before_two.replace("fmt(c['balance'])", "fmt(c['balance'], 'EUR')");
        assert!(hides(&before_two, &after_two, Some("TypeError"), Some(message)).is_empty());
    }

    #[test]
    fn a_documented_default_for_a_missing_key_must_keep_the_other_values() {
        // bench/crashes/cases/dict_key_default_doc: the wrong fix the small model gave.
        let before = "def retry_policy(settings):\n    \"\"\"How a job is retried.\n\n    settings[\"retries\"] is optional: when absent, a job is retried 3 times.\n    settings[\"backoff_s\"] is optional: when absent, 1.5 seconds between tries.\n    \"\"\"\n    return {\"retries\": settings[\"retries\"], \"backoff_s\": settings.get(\"backoff_s\", 1.5)}\n";
        let dropping = before.replace(
            "    return {\"retries\": settings[\"retries\"], \"backoff_s\": settings.get(\"backoff_s\", 1.5)}\n",
            "    if \"retries\" in settings:\n        return {\"retries\": settings[\"retries\"], \"backoff_s\": settings.get(\"backoff_s\", 1.5)}\n    else:\n        return {\"retries\": 3, \"backoff_s\": 1.5}\n",
        );
        let found = hides(before, &dropping, Some("KeyError"), Some("'retries'"));
        assert!(
            found
                .iter()
                .any(|w| w.contains("drops what the data gives for 'backoff_s'")),
            "{found:?}"
        );
        // Negated, in a conditional expression: the same.
        let negated = before.replace(
            "    return {",
            "    return {\"retries\": 3, \"backoff_s\": 1.5} if \"retries\" not in settings else {",
        );
        let found = hides(before, &negated, Some("KeyError"), Some("'retries'"));
        assert!(found.iter().any(|w| w.contains("'backoff_s'")), "{found:?}");
        // The right fixes: only the missing key defaulted, in either shape.
        let get = before.replace("settings[\"retries\"]}", "settings.get(\"retries\", 3)}");
        assert!(hides(before, &get, Some("KeyError"), Some("'retries'")).is_empty());
        let branch = before.replace(
            "    return {\"retries\": settings[\"retries\"], \"backoff_s\": settings.get(\"backoff_s\", 1.5)}\n",
            "    if \"retries\" in settings:\n        return {\"retries\": settings[\"retries\"], \"backoff_s\": settings.get(\"backoff_s\", 1.5)}\n    return {\"retries\": 3, \"backoff_s\": settings.get(\"backoff_s\", 1.5)}\n",
        );
        assert!(hides(before, &branch, Some("KeyError"), Some("'retries'")).is_empty());
        let with_else = branch.replace(
            "\n    return {\"retries\": 3",
            "\n    else:\n        return {\"retries\": 3",
        );
        assert!(with_else.contains("else:"));
        assert!(hides(before, &with_else, Some("KeyError"), Some("'retries'")).is_empty());
    }

    #[test]
    fn a_branch_on_the_missing_key_is_hiding_and_other_branches_are_not() {
        let before = "def label(a):\n    return f\"{a['street']}, {a['zip']}\"\n";
        let guarded = "def label(a):\n    if 'zip' in a:\n        return f\"{a['street']}, {a['zip']}\"\n    else:\n        return a['street']\n";
        let found = hides(before, guarded, Some("KeyError"), Some("'zip'"));
        assert!(
            found.iter().any(|w| w.contains("missing key 'zip'")),
            "{found:?}"
        );
        let expr = "def label(a):\n    z = a['zip'] if 'zip' in a else ''\n    return f\"{a['street']}, {z}\"\n";
        let found = hides(before, expr, Some("KeyError"), Some("'zip'"));
        assert!(
            found.iter().any(|w| w.contains("missing key 'zip'")),
            "{found:?}"
        );
        // A guard that only skips the work needing the key drops every record without it:
        // hiding too (bench/crashes/cases/nested_key_error: an empty list of labels).
        let skip =
            "def label(a):\n    if 'zip' in a:\n        print(f\"{a['street']}, {a['zip']}\")\n";
        let before_print = "def label(a):\n    print(f\"{a['street']}, {a['zip']}\")\n";
        let found = hides(before_print, skip, Some("KeyError"), Some("'zip'"));
        assert!(
            found.iter().any(|w| w.contains("missing key 'zip'")),
            "{found:?}"
        );
        // The near miss: the program's data has records with the key and records without:
        // skipping those without may be meant.
        let data = "ROWS = [{'zip': '1', 'street': 's'}, {'street': 't'}]\n";
        let (before_data, skip_data) = (format!("{data}{before_print}"), format!("{data}{skip}"));
        assert!(hides(&before_data, &skip_data, Some("KeyError"), Some("'zip'")).is_empty());
        // So is writing a default into the data (bench/crashes/cases/pkg_key_error), and
        // setdefault.
        let before_vat = "def total(c, net):\n    return net * (1 + c['vat'])\n";
        let written = "def total(c, net):\n    if 'vat' not in c:\n        c['vat'] = 0.2\n    return net * (1 + c['vat'])\n";
        let found = hides(before_vat, written, Some("KeyError"), Some("'vat'"));
        assert!(
            found.iter().any(|w| w.contains("missing key 'vat'")),
            "{found:?}"
        );
        let set = "def total(c, net):\n    return net * (1 + c.setdefault('vat', 0.2))\n";
        let found = hides(before_vat, set, Some("KeyError"), Some("'vat'"));
        assert!(
            found.iter().any(|w| w.contains(".setdefault()")),
            "{found:?}"
        );
        // Another key, or another error: not this rule.
        let other = "def label(a):\n    if 'street' in a:\n        return f\"{a['street']}, {a['zip']}\"\n    return ''\n";
        assert!(hides(before, other, Some("KeyError"), Some("'zip'")).is_empty());
        assert!(hides(before, guarded, Some("ValueError"), Some("bad")).is_empty());
        // The docstring says the key is optional: meant.
        let documented = "def label(a):\n    \"\"\"The zip is optional: the default is none.\"\"\"\n    if 'zip' in a:\n        return f\"{a['street']}, {a['zip']}\"\n    return a['street']\n";
        assert!(hides(before, documented, Some("KeyError"), Some("'zip'")).is_empty());
    }

    const BEFORE: &str = "def share(total, n):\n    return total / n\n";

    #[test]
    fn an_except_that_only_passes_or_returns_a_default_hides_the_error() {
        for handler in [
            "pass",
            "return None",
            "return 0",
            "return []",
            "return",
            "...",
        ] {
            let after = format!(
                "def share(total, n):\n    try:\n        return total / n\n    except ZeroDivisionError:\n        {handler}\n"
            );
            let found = hides(BEFORE, &after, Some("ZeroDivisionError"), None);
            assert_eq!(found.len(), 1, "{handler}: {found:?}");
        }
        let broad = "def share(total, n):\n    try:\n        return total / n\n    except Exception:\n        return 0.0\n";
        assert_eq!(
            hides(BEFORE, broad, Some("ZeroDivisionError"), None).len(),
            1
        );
    }

    const LOOKUP: &str = "def find(people, email):\n    for p in people:\n        if p.email == email:\n            return p\n\n\ndef greeting(people, email):\n    return 'Hello ' + find(people, email).name\n";
    const NONE_MSG: Option<&str> = Some("'NoneType' object has no attribute 'name'");

    #[test]
    fn a_guard_that_leaves_on_none_hides_an_error_about_that_none() {
        for guard in [
            "    if person is None:\n        return 'Hello'\n",
            "    if not person:\n        return 'Hello ' + email\n",
            "    if person == None:\n        return None\n",
            "    if (person is None):\n        pass\n",
        ] {
            let after = LOOKUP.replace(
                "    return 'Hello ' + find(people, email).name\n",
                &format!(
                    "    person = find(people, email)\n{guard}    return 'Hello ' + person.name\n"
                ),
            );
            let found = hides(LOOKUP, &after, Some("AttributeError"), NONE_MSG);
            assert_eq!(found.len(), 1, "{guard}: {found:?}");
            assert!(found[0].contains("None"), "{found:?}");
        }
    }

    #[test]
    fn a_call_tested_for_its_value_with_an_else_returning_none_is_hiding() {
        // The bench's `none_regex_group` answer, as recorded.
        let before = "import re\n\nORDER_RE = re.compile(r'order (\\d+)')\n\n\ndef order_id(notice):\n    \"\"\"The order id in a shipping notice, e.g. 'A-1042'.\"\"\"\n    return ORDER_RE.search(notice).group(1)\n";
        let after = before.replace(
            "    return ORDER_RE.search(notice).group(1)\n",
            "    if ORDER_RE.search(notice):\n        return ORDER_RE.search(notice).group(1)\n    else:\n        # Handle the case where no match is found\n        return None  # or raise an exception, depending on your requirement\n",
        );
        let msg = Some("'NoneType' object has no attribute 'group'");
        assert_eq!(hides(before, &after, Some("AttributeError"), msg).len(), 1);
        // The same test whose else raises keeps the error.
        let raises = after.replace(
            "return None  # or raise",
            "raise ValueError(notice)  # or raise",
        );
        assert!(hides(before, &raises, Some("AttributeError"), msg).is_empty());
    }

    #[test]
    fn a_value_test_that_falls_off_the_function_s_end_is_hiding_in_every_shape() {
        let before = "import re\n\nORDER_RE = re.compile(r'order (\\d+)')\n\n\ndef order_id(notice):\n    return ORDER_RE.search(notice).group(1)\n";
        let msg = Some("'NoneType' object has no attribute 'group'");
        let test = "    m = ORDER_RE.search(notice)\n    if m:\n        return m.group(1)\n";
        for ending in [
            "",
            // A comment after it is not a statement.
            "    # no order id in this notice\n",
            "    else:\n        pass\n",
            "    elif notice:\n        return notice\n",
        ] {
            let after = before.replace(
                "    return ORDER_RE.search(notice).group(1)\n",
                &format!("{test}{ending}"),
            );
            let found = hides(before, &after, Some("AttributeError"), msg);
            assert_eq!(found.len(), 1, "{ending:?}: {found:?}");
        }
        // Every way through it leaves with a value or an error: not hiding.
        for ending in [
            "    else:\n        raise ValueError(notice)\n",
            "    raise ValueError(notice)\n",
        ] {
            let after = before.replace(
                "    return ORDER_RE.search(notice).group(1)\n",
                &format!("{test}{ending}"),
            );
            assert!(
                hides(before, &after, Some("AttributeError"), msg).is_empty(),
                "{ending:?}"
            );
        }
    }

    #[test]
    fn a_default_for_the_missing_argument_hides_the_type_error() {
        let before = "def fmt(amount, currency):\n    return f'{amount} {currency}'\n\n\ndef show(c):\n    return fmt(c['balance'])\n";
        let msg = Some("fmt() missing 1 required positional argument: 'currency'");
        let hidden = before.replace(
            "def fmt(amount, currency):",
            "def fmt(amount, currency='EUR'):",
        );
        assert_eq!(hides(before, &hidden, Some("TypeError"), msg).len(), 1);
        // Passing it is the fix.
        let right = before.replace("fmt(c['balance'])", "fmt(c['balance'], c['currency'])");
        assert!(hides(before, &right, Some("TypeError"), msg).is_empty());
        // A default the function's docstring promises.
        let promised = hidden.replace(
            "def fmt(amount, currency='EUR'):\n",
            "def fmt(amount, currency='EUR'):\n    \"\"\"EUR by default.\"\"\"\n",
        );
        assert!(hides(before, &promised, Some("TypeError"), msg).is_empty());
    }

    #[test]
    fn a_required_key_read_with_get_hides_the_key_error() {
        let before = "def over(cs):\n    \"\"\"Every campaign has 'spend' (required).\"\"\"\n    return [c['id'] for c in cs if c['spent'] > c['budget']]\n";
        let msg = Some("'spent'");
        let hidden = before.replace("c['spent']", "c.get('spent', 0)");
        assert_eq!(hides(before, &hidden, Some("KeyError"), msg).len(), 1);
        // The right key, read either way, is a fix.
        let right = before.replace("c['spent']", "c['spend']");
        assert!(hides(before, &right, Some("KeyError"), msg).is_empty());
        for merged in ["(c | {'spent': 0})['spent']", "{**c, 'spent': 0}['spent']"] {
            let after = before.replace("c['spent']", merged);
            assert_eq!(
                hides(before, &after, Some("KeyError"), msg).len(),
                1,
                "{merged}"
            );
        }
        let right_get = before.replace("c['spent']", "c.get('spend', 0)");
        assert!(hides(before, &right_get, Some("KeyError"), msg).is_empty());
        // A default the docstring promises.
        let optional = "def budget(c):\n    \"\"\"The budget; 0 when the client has none (default).\"\"\"\n    return c['budget']\n";
        let with_default = optional.replace("c['budget']", "c.get('budget', 0)");
        assert!(hides(optional, &with_default, Some("KeyError"), Some("'budget'")).is_empty());
    }

    #[test]
    fn a_conditional_default_on_none_hides_an_error_about_that_none() {
        let after = LOOKUP.replace(
            "    return 'Hello ' + find(people, email).name\n",
            "    return 'Hello ' + find(people, email).name if find(people, email) is not None else 'No customer found'\n",
        );
        let found = hides(LOOKUP, &after, Some("AttributeError"), NONE_MSG);
        assert_eq!(found.len(), 1, "{found:?}");
        // Not about a None: a conditional is the program's business.
        assert!(
            hides(
                LOOKUP,
                &after,
                Some("AttributeError"),
                Some("no attribute 'nam'")
            )
            .is_empty()
        );
    }

    #[test]
    fn near_misses_of_a_none_guard_are_not_hiding() {
        let guarded = |guard: &str| {
            LOOKUP.replace(
                "    return 'Hello ' + find(people, email).name\n",
                &format!(
                    "    person = find(people, email)\n{guard}    return 'Hello ' + person.name\n"
                ),
            )
        };
        // A guard that raises keeps the error, with a better message.
        let raises = guarded("    if person is None:\n        raise LookupError(email)\n");
        assert!(hides(LOOKUP, &raises, Some("AttributeError"), NONE_MSG).is_empty());
        // An error that is not about a None.
        let other = guarded("    if person is None:\n        return 'Hello'\n");
        assert!(
            hides(
                LOOKUP,
                &other,
                Some("AttributeError"),
                Some("'Person' object has no attribute 'nam'")
            )
            .is_empty()
        );
        // A None the program documents: the caller's guard handles it.
        let documented = LOOKUP.replace(
            "def find(people, email):\n",
            "def find(people, email):\n    \"\"\"The person with this email, or None if there is none.\"\"\"\n",
        );
        let after = documented.replace(
            "    return 'Hello ' + find(people, email).name\n",
            "    person = find(people, email)\n    if person is None:\n        return 'Hello stranger'\n    return 'Hello ' + person.name\n",
        );
        assert!(hides(&documented, &after, Some("AttributeError"), NONE_MSG).is_empty());
        // The fix where the None came from.
        let right = LOOKUP.replace(
            "if p.email == email:",
            "if p.email.lower() == email.lower():",
        );
        assert!(hides(LOOKUP, &right, Some("AttributeError"), NONE_MSG).is_empty());
        // A guard for "is not None" computes on.
        let not_none =
            guarded("    if person is not None:\n        return 'Hello ' + person.name\n");
        assert!(hides(LOOKUP, &not_none, Some("AttributeError"), NONE_MSG).is_empty());
    }

    #[test]
    fn near_misses_are_not_hiding() {
        // A guard that keeps the computation.
        let guard =
            "def share(total, n):\n    if n == 0:\n        return 0.0\n    return total / n\n";
        assert!(hides(BEFORE, guard, Some("ZeroDivisionError"), None).is_empty());
        // A handler that does something.
        let logs = "def share(total, n):\n    try:\n        return total / n\n    except ZeroDivisionError:\n        raise ValueError('no clients')\n";
        assert!(hides(BEFORE, logs, Some("ZeroDivisionError"), None).is_empty());
        // Another exception type.
        let other = "def share(total, n):\n    try:\n        return total / n\n    except KeyError:\n        return 0\n";
        assert!(hides(BEFORE, other, Some("ZeroDivisionError"), None).is_empty());
        // The docstring promises the default.
        let promised = "def share(total, n):\n    \"\"\"The share, 0 when there are no clients.\"\"\"\n    try:\n        return total / n\n    except ZeroDivisionError:\n        return 0\n";
        let before = "def share(total, n):\n    \"\"\"The share, 0 when there are no clients.\"\"\"\n    return total / n\n";
        assert!(hides(before, promised, Some("ZeroDivisionError"), None).is_empty());
    }

    #[test]
    fn a_required_setting_given_a_default_is_refused() {
        let before = "import os\nTOKEN = os.environ[\"ADS_API_TOKEN\"]\n";
        let after = "import os\nTOKEN = os.environ.get('ADS_API_TOKEN', 'default_token')\n";
        let found = hides(before, after, Some("KeyError"), None);
        assert!(
            found.iter().any(|f| f.contains("ADS_API_TOKEN")),
            "{found:?}"
        );
        let getenv = "import os\nTOKEN = os.getenv(\"ADS_API_TOKEN\", \"x\")\n";
        assert_eq!(hides(before, getenv, Some("KeyError"), None).len(), 1);
        // A read without a default still fails loudly: not hiding.
        let plain = "import os\nTOKEN = os.environ.get('ADS_API_TOKEN')\nassert TOKEN\n";
        assert!(hides(before, plain, Some("KeyError"), None).is_empty());
    }

    #[test]
    fn a_none_branch_that_only_prints_is_hiding_and_one_that_computes_is_not() {
        // none_sort_result: the caller prints "No scores available" when top() gives None.
        let before = "def top(s):\n    r = sorted(s)\n    return r\n\n\ndef main():\n    for x in top([1]):\n        print(x)\n";
        let after = "def top(s):\n    r = sorted(s)\n    return r\n\n\ndef main():\n    if top([1]) is not None:\n        for x in top([1]):\n            print(x)\n    else:\n        print(\"No scores available\")\n";
        let (t, m) = (Some("TypeError"), Some("'NoneType' object is not iterable"));
        let found = hides(before, after, t, m);
        assert!(found.iter().any(|w| w.contains("None")), "{found:?}");
        // `if x is None: logger.warning(...); return`.
        let logged = "def top(s):\n    r = sorted(s)\n    return r\n\n\ndef main():\n    t = top([1])\n    if t is None:\n        logger.warning('none')\n        return\n    for x in t:\n        print(x)\n";
        assert!(!hides(before, logged, t, m).is_empty());
        // The near miss: the None case computes something else.
        let computes = "def top(s):\n    r = sorted(s)\n    return r\n\n\ndef main():\n    t = top([1])\n    if t is None:\n        t = sorted([1])\n    for x in t:\n        print(x)\n";
        assert!(hides(before, computes, t, m).is_empty());
    }
}
