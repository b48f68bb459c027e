//! Fixes that break what worked by taking something away: a function left without the
//! `return` of a value it had (its callers would get None), or a function, class or
//! module-level name deleted (whatever uses it would fail). A small model's whole-file rewrite
//! has been seen to do both.
//!
//! Pure: two texts in, findings out.

/// How alike (0 to 1, by edit distance) a deleted definition's name and the name an error asked
/// for must be for the change to count as a rename: `format_amount` and `format_ammount` are
/// (0.93); `monthly_summary` and `format_ammount` are not (0.2).
const RENAME_SIMILARITY: f64 = 0.6;

/// Functions that returned a value before the fix and, with it, can no longer return one
/// (no `return` with a value left in their own body): every caller now gets None. A small
/// model's rewrite has been seen to move a function's body into a nested copy of itself.
pub fn drops_return(before: &str, after: &str) -> Vec<String> {
    // Text that does not parse is the syntax step's to refuse, with its own words.
    if crate::prove::syntax::parse_clean(after).is_none() {
        return Vec::new();
    }
    let was = returning_functions(before);
    let now = returning_functions(after);
    was.into_iter()
        .filter(|(name, returns)| {
            *returns
                && now
                    .iter()
                    .any(|(other, returns_now)| other == name && !returns_now)
        })
        .map(|(name, _)| {
            format!("it leaves {name} without the `return` of a value it had: its callers would get None")
        })
        .collect()
}

/// Functions that ended with the `return` of a value before the fix and end, with it, in an
/// `if` one way through which ends without one (no `else`, or `else: pass`): that way the
/// function falls off its end and hands its caller None. A small model's fix of `return spend / conversions` was `if conversions
/// != 0: return spend / conversions` (the bench's `zero_division_doc`); the caller's
/// `f"{x:.2f}"` then failed in code the fix had not touched, which the proof took for the
/// program getting further. The exception is a docstring that already said None may come back.
pub fn falls_off_the_end(before: &str, after: &str) -> Vec<String> {
    use super::definitions::Ending;
    let Some(now) = crate::prove::syntax::parse_clean(after) else {
        return Vec::new();
    };
    let Some(was) = crate::prove::syntax::parse(before) else {
        return Vec::new();
    };
    let was = super::definitions::definitions(was.root_node(), before.as_bytes());
    let now = super::definitions::definitions(now.root_node(), after.as_bytes());
    was.iter()
        .filter(|d| d.ends == Some(Ending::ReturnsAValue))
        .filter(|d| !d.docstring.as_deref().is_some_and(says_none_may_come_back))
        .filter(|d| {
            now.iter()
                .any(|n| n.path == d.path && n.ends == Some(Ending::OpenIf))
        })
        .map(|d| {
            format!(
                "it makes {} end in an `if` that does not return a value every way through (no `else`, or a branch that ends without a `return`), where it ended with the `return` of a value: that way its callers get None; return a value in every case",
                d.path
            )
        })
        .collect()
}

/// Whether a docstring (lower case) says the function may return None: any mention of None
/// (`| None` included), or an `Optional[...]` type.
fn says_none_may_come_back(doc: &str) -> bool {
    doc.contains("none") || doc.contains("optional[")
}

/// Functions and classes defined before the fix and gone after it (by their dotted path),
/// unless the fix defines the name the error asked for (a misspelt `def` renamed): every use
/// of what was deleted would now fail. A small model's whole-file rewrite has been seen to
/// replace a module's function with another, and the import that then failed passed as the
/// program getting further.
pub fn drops_definitions(before: &str, after: &str, message: Option<&str>) -> Vec<String> {
    // Text that does not parse is the syntax step's to refuse, with its own words.
    if crate::prove::syntax::parse_clean(after).is_none() {
        return Vec::new();
    }
    let was = definitions(before);
    let now = definitions(after);
    let asked_for = |name: &str| {
        let leaf = name.rsplit('.').next().unwrap_or(name);
        message.is_some_and(|m| m.contains(&format!("'{leaf}'")))
    };
    // A rename to the name the error asked for is the fix of a misspelt definition: the one
    // deleted name that is close to it is excused, no other (a small model has been seen to
    // replace a whole module with another's definitions, one of them the name asked for).
    let renamed_to: Vec<&String> = now
        .iter()
        .filter(|n| !was.contains(n) && asked_for(n))
        .collect();
    let renamed = |name: &str| {
        renamed_to
            .iter()
            .any(|n| strsim::normalized_levenshtein(name, n) >= RENAME_SIMILARITY)
    };
    was.into_iter()
        .filter(|name| !now.contains(name) && !renamed(name))
        .map(|name| {
            format!("it deletes `{name}`, which the program defined: whatever uses it would fail")
        })
        .collect()
}

/// The dotted paths of every function and class of `source`.
fn definitions(source: &str) -> Vec<String> {
    let Some(tree) = crate::prove::syntax::parse(source) else {
        return Vec::new();
    };
    let src = source.as_bytes();
    let mut out: Vec<String> = super::definitions::definitions(tree.root_node(), src)
        .into_iter()
        .map(|d| d.path)
        .collect();
    // The module's own names (`LINES = [...]`, `processed = 0`) are definitions too: a small
    // model's rewrite has been seen to drop them, or move them into a function.
    let root = tree.root_node();
    let mut cursor = root.walk();
    for statement in root.named_children(&mut cursor) {
        let Some(assignment) = statement
            .named_child(0)
            .filter(|_| statement.kind() == "expression_statement")
            .filter(|a| a.kind() == "assignment")
        else {
            continue;
        };
        let Some(left) = assignment.child_by_field_name("left") else {
            continue;
        };
        let mut names = vec![left];
        while let Some(n) = names.pop() {
            match n.kind() {
                "identifier" => {
                    if let Ok(name) = n.utf8_text(src)
                        && !out.iter().any(|o| o == name)
                    {
                        out.push(name.to_string());
                    }
                }
                "pattern_list" | "tuple_pattern" => {
                    let mut c = n.walk();
                    names.extend(n.named_children(&mut c));
                }
                _ => {}
            }
        }
    }
    out
}

/// Every function of `source` (its dotted path), and whether its own body (nested functions
/// and classes aside) returns a value somewhere.
fn returning_functions(source: &str) -> Vec<(String, bool)> {
    let Some(tree) = crate::prove::syntax::parse(source) else {
        return Vec::new();
    };
    super::definitions::definitions(tree.root_node(), source.as_bytes())
        .into_iter()
        .filter_map(|d| d.returns.map(|returns| (d.path, !returns.is_empty())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const COST: &str = r#"def cost_per_conversion(campaign):
    """Spend divided by conversions. A campaign with no conversion yet costs its whole
    spend per conversion (counted as if it had one), so it still ranks by spend."""
    return campaign["spend"] / campaign["conversions"]


def main():
    print(f"{cost_per_conversion({'spend': 1.0, 'conversions': 0}):.2f}")
"#;

    #[test]
    fn the_bench_guard_that_falls_off_the_end_is_refused() {
        // bench/crashes/cases/zero_division_doc, the small model's answer as recorded.
        let after = COST.replace(
            "    return campaign[\"spend\"] / campaign[\"conversions\"]\n",
            "    if campaign[\"conversions\"] != 0:\n        return campaign[\"spend\"] / campaign[\"conversions\"]\n",
        );
        let found = falls_off_the_end(COST, &after);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("cost_per_conversion"), "{found:?}");
        // An `elif` with no `else` falls through the same way.
        let elif = COST.replace(
            "    return campaign[\"spend\"] / campaign[\"conversions\"]\n",
            "    if campaign[\"conversions\"] > 0:\n        return 1.0\n    elif campaign[\"conversions\"] < 0:\n        return 2.0\n",
        );
        assert_eq!(falls_off_the_end(COST, &elif).len(), 1);
        // So does an `else` that returns nothing.
        let else_pass = COST.replace(
            "    return campaign[\"spend\"] / campaign[\"conversions\"]\n",
            "    if campaign[\"conversions\"]:\n        return 1.0\n    else:\n        pass\n",
        );
        assert_eq!(falls_off_the_end(COST, &else_pass).len(), 1);
    }

    #[test]
    fn near_misses_of_a_guard_that_falls_off_the_end_pass() {
        let guard = "    if campaign[\"conversions\"] == 0:\n        return campaign[\"spend\"]\n";
        let line = "    return campaign[\"spend\"] / campaign[\"conversions\"]\n";
        // The right fix: the guard, then the return that was there.
        let right = COST.replace(line, &format!("{guard}{line}"));
        assert!(falls_off_the_end(COST, &right).is_empty());
        // The guard with an `else`.
        let with_else = COST.replace(line, &format!("{guard}    else:\n    {line}"));
        assert!(falls_off_the_end(COST, &with_else).is_empty());
        // Every branch returning or raising, nested ifs included.
        let nested = COST.replace(
            line,
            "    if campaign[\"conversions\"]:\n        if campaign[\"spend\"] < 0:\n            raise ValueError(\"spend\")\n        else:\n            return 2.0\n    elif campaign[\"spend\"]:\n        return 1.0\n    else:\n        return 0.0\n",
        );
        assert!(falls_off_the_end(COST, &nested).is_empty());
        // A function that already ended in an open `if` was not changed by the fix.
        let open = "def f(x):\n    if x:\n        return 1\n";
        let open_after = "def f(x):\n    if x > 0:\n        return 1\n";
        assert!(falls_off_the_end(open, open_after).is_empty());
        // A docstring that says None may come back.
        let documented =
            "def f(x):\n    \"\"\"The ratio, or None when x is 0.\"\"\"\n    return 1 / x\n";
        let documented_after = "def f(x):\n    \"\"\"The ratio, or None when x is 0.\"\"\"\n    if x:\n        return 1 / x\n";
        assert!(falls_off_the_end(documented, documented_after).is_empty());
        // A function ending in a bare `return` or no return did not hand back a value.
        let bare = "def f(x):\n    print(x)\n";
        let bare_after = "def f(x):\n    if x:\n        print(x)\n";
        assert!(falls_off_the_end(bare, bare_after).is_empty());
    }

    #[test]
    fn a_module_replaced_by_anothers_definitions_is_not_a_rename() {
        // bench/crashes/cases/pkg_import_name_typo: summary.py became formatting.py's
        // definitions, one of them the name the ImportError asked for.
        let before = "from .formatting import format_ammount\n\ndef monthly_summary(c, r):\n    return f\"{c}: {format_ammount(r)}\"\n";
        let after = "def format_ammount(amount):\n    return f\"${amount:,.2f}\"\n";
        let message = "cannot import name 'format_ammount' from 'reports.formatting'";
        let found = drops_definitions(before, after, Some(message));
        assert!(
            found.iter().any(|w| w.contains("`monthly_summary`")),
            "{found:?}"
        );
        // The near miss: the misspelt definition renamed to the name asked for.
        let before = "def format_amount(a):\n    return str(a)\n";
        let after = "def format_ammount(a):\n    return str(a)\n";
        let message = "cannot import name 'format_ammount' from 'reports.formatting'";
        assert!(drops_definitions(before, after, Some(message)).is_empty());
    }

    #[test]
    fn module_level_names_dropped_or_moved_into_a_function_are_deleted_definitions() {
        // bench/crashes/cases/unpack_too_many: LINES moved into main(), with other data.
        let before = "LINES = ['a,1,EUR']\ncount = 0\n\ndef main():\n    print(LINES)\n";
        let moved = "count = 0\n\ndef main():\n    LINES = ['EUR,1']\n    print(LINES)\n";
        let found = drops_definitions(before, moved, None);
        assert!(found.iter().any(|w| w.contains("`LINES`")), "{found:?}");
        // Changing the value keeps the name; a tuple target counts each name.
        let changed = before.replace("count = 0", "count = 1");
        assert!(drops_definitions(before, &changed, None).is_empty());
        let pair = "a, b = 1, 2\n";
        assert!(
            drops_definitions(pair, "a = 1\n", None)
                .iter()
                .any(|w| w.contains("`b`"))
        );
    }

    #[test]
    fn deleting_a_definition_breaks_its_users_unless_it_is_renamed_to_the_name_asked_for() {
        let before = "def render(t):\n    return t\n\n\ndef shipped(c):\n    return render('x')\n\n\nclass Box:\n    def size(self):\n        return 1\n";
        let gone = "def render(t, context):\n    return t\n\n\nclass Box:\n    def size(self):\n        return 1\n";
        let found = drops_definitions(
            before,
            gone,
            Some("render() missing 1 required positional argument: 'context'"),
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("`shipped`"), "{found:?}");
        let method_gone = "def render(t):\n    return t\n\n\ndef shipped(c):\n    return render('x')\n\n\nclass Box:\n    pass\n";
        let found = drops_definitions(before, method_gone, None);
        assert!(found.iter().any(|w| w.contains("`Box.size`")), "{found:?}");
        // `def procss` renamed to the `process` a NameError asked for: a fix.
        let misspelt = "def procss(x):\n    return x\n\n\nprint(process(1))\n";
        let renamed = "def process(x):\n    return x\n\n\nprint(process(1))\n";
        assert!(
            drops_definitions(misspelt, renamed, Some("name 'process' is not defined")).is_empty()
        );
        // Nothing deleted: nothing said.
        assert!(drops_definitions(before, before, None).is_empty());
    }

    #[test]
    fn a_function_left_without_its_return_is_found() {
        let before = "def parse(line):\n    return line.split(';')\n\n\ndef total(lines):\n    return sum(len(parse(l)) for l in lines)\n";
        // The body moved into a nested copy of the function: `total` returns nothing.
        let nested = before.replace(
            "def total(lines):\n    return sum(len(parse(l)) for l in lines)\n",
            "def total(lines):\n    def total(lines):\n        return sum(len(parse(l)) for l in lines)\n",
        );
        let found = drops_return(before, &nested);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("total"), "{found:?}");
        // Near misses: the return rewritten, or moved under an `if`.
        let rewritten = before.replace(
            "return sum(len(parse(l)) for l in lines)",
            "return len(lines)",
        );
        assert!(drops_return(before, &rewritten).is_empty());
        let guarded = before.replace(
            "    return sum(len(parse(l)) for l in lines)\n",
            "    if lines:\n        return sum(len(parse(l)) for l in lines)\n    return 0\n",
        );
        assert!(drops_return(before, &guarded).is_empty());
        // A function that returned nothing before is not concerned.
        let proc_before = "def show(x):\n    print(x)\n";
        let proc_after = "def show(x):\n    print(x, flush=True)\n";
        assert!(drops_return(proc_before, proc_after).is_empty());
    }
}
