//! A fix that deletes the line the traceback points at, replaces it with `pass`, or comments
//! it out: the error goes, and so does the work the line did. A line counts as kept when an
//! added line keeps most of it, or keeps what it calls (builtins that only compute, like
//! `range` or `len`, aside) or, for a line that calls nothing, two of its names.
//!
//! Pure: two texts and the traceback's lines in, findings out.

/// Words that look like calls or names in a line of Python but are neither.
const KEYWORDS: &[&str] = &[
    "and", "as", "assert", "await", "def", "del", "elif", "else", "for", "from", "if", "import",
    "in", "is", "lambda", "not", "or", "raise", "return", "while", "with", "yield", "None", "True",
    "False", "self",
];

/// Builtins whose call computes a value and does nothing else.
const COMPUTING_BUILTINS: &[&str] = &[
    "abs",
    "all",
    "any",
    "bool",
    "dict",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "frozenset",
    "int",
    "isinstance",
    "len",
    "list",
    "map",
    "max",
    "min",
    "range",
    "reversed",
    "round",
    "set",
    "sorted",
    "str",
    "sum",
    "tuple",
    "zip",
];

/// How much of a deleted failing line (its characters, in order) an added line must keep to
/// be taken as that line rewritten: `return mesage` → `return message + x` keeps all of it;
/// `value = d["k"]` → `value = 0` keeps 8 of 15; `send(row)` → `pass`, 1 of 9.
const REWRITE_KEPT: f64 = 0.7;

/// Whether `added` keeps most of `failing`'s characters, in order.
fn covers(added: &str, failing: &str) -> bool {
    if failing.is_empty() {
        return true;
    }
    let kept: usize = similar::TextDiff::from_chars(failing, added)
        .iter_all_changes()
        .filter(|c| c.tag() == similar::ChangeTag::Equal)
        .map(|c| c.value().chars().count())
        .sum();
    kept as f64 / failing.chars().count() as f64 >= REWRITE_KEPT
}

/// Why `after` hides the error by deleting a line of the traceback (`lines`, 1-based, in
/// `before`): the line is gone and no line the fix adds keeps what it did. For a line that
/// calls something, the call must survive (moved, guarded, given other arguments); for one
/// that calls nothing (`x = d["k"]`, `assert ok`), its names must.
pub fn deletes_failing(before: &str, after: &str, lines: &[u32]) -> Vec<String> {
    let diff = similar::TextDiff::from_lines(before, after);
    let deleted: Vec<usize> = diff
        .iter_all_changes()
        .filter(|c| c.tag() == similar::ChangeTag::Delete)
        .filter_map(|c| c.old_index())
        .collect();
    let added: Vec<String> = diff
        .iter_all_changes()
        .filter(|c| c.tag() == similar::ChangeTag::Insert)
        .map(|c| code_of(c.value()).to_string())
        .collect();
    let old: Vec<&str> = before.lines().collect();
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for &line in lines {
        let Some(row) = (line as usize).checked_sub(1) else {
            continue;
        };
        if seen.contains(&row) || !deleted.contains(&row) {
            continue;
        }
        seen.push(row);
        let Some(text) = old.get(row).map(|l| code_of(l)) else {
            continue;
        };
        // An import that fails is removed when nothing uses it (the `unused-import` rule);
        // when something does, the proof's re-run meets the NameError.
        let statement = text.trim_start();
        if statement.starts_with("import ") || statement.starts_with("from ") {
            continue;
        }
        // The builtins that only compute (`range`, `len`…) are not what a line does: `return
        // [ranked[i] for i in range(n)]` rewritten as `return ranked[:n]` does what it did.
        let callees: Vec<String> = callees(text)
            .into_iter()
            .filter(|c| !COMPUTING_BUILTINS.contains(&c.as_str()))
            .collect();
        // A line rewritten rather than removed (a name's typo corrected) is kept.
        let rewritten = added.iter().any(|a| covers(a.trim(), text.trim()));
        let kept = if rewritten {
            true
        } else if callees.is_empty() {
            let names = names(text);
            let need = names.len().min(2);
            need == 0
                || added
                    .iter()
                    .any(|a| names.iter().filter(|n| has_word(a, n)).count() >= need)
        } else {
            added.iter().any(|a| callees.iter().any(|c| has_word(a, c)))
        };
        if !kept {
            out.push(format!(
                "it deletes line {line} of the traceback (`{}`) with nothing left of it: the error is hidden, not fixed",
                text.trim()
            ));
        }
    }
    out
}

/// A line without its comment (a `#` outside quotes, roughly: enough to see that a line was
/// commented out).
fn code_of(line: &str) -> &str {
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '#') => return &line[..i],
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    line
}

/// The names a line calls (`foo(`, `obj.method(`: `foo`, `method`).
fn callees(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    for (start, name) in identifiers(line) {
        let mut end = start + name.len();
        while bytes.get(end) == Some(&b' ') {
            end += 1;
        }
        if bytes.get(end) == Some(&b'(') && !KEYWORDS.contains(&name) {
            out.push(name.to_string());
        }
    }
    out
}

/// The names in a line, keywords and string contents aside (roughly: quoted text is skipped).
fn names(line: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, name) in identifiers(line) {
        if !KEYWORDS.contains(&name) && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// Identifiers outside string literals, with their byte offsets.
fn identifiers(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut start: Option<usize> = None;
    for (i, c) in line.char_indices() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        let ident = c == '_' || c.is_alphanumeric();
        match (start, ident) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                push_ident(&mut out, line, s, i);
                start = None;
            }
            _ => {}
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
        }
    }
    if let Some(s) = start {
        push_ident(&mut out, line, s, line.len());
    }
    out
}

fn push_ident<'a>(out: &mut Vec<(usize, &'a str)>, line: &'a str, s: usize, e: usize) {
    let word = &line[s..e];
    if word.chars().next().is_some_and(|c| !c.is_ascii_digit()) {
        out.push((s, word));
    }
}

/// Whether `word` appears in `text` as a whole identifier.
fn has_word(text: &str, word: &str) -> bool {
    identifiers(text).iter().any(|(_, w)| *w == word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleting_the_failing_line_is_hiding() {
        let before = "def run(items):\n    for item in items:\n        process(item)\n    return len(items)\n";
        // Deleted, replaced by `pass`, or commented out: refused.
        for after in [
            "def run(items):\n    for item in items:\n        pass\n    return len(items)\n",
            "def run(items):\n    for item in items:\n        # process(item)\n        pass\n    return len(items)\n",
            "def run(items):\n    return len(items)\n",
        ] {
            let found = deletes_failing(before, after, &[3]);
            assert_eq!(found.len(), 1, "{after}: {found:?}");
            assert!(found[0].contains("process(item)"), "{found:?}");
        }
        // A line that calls nothing: its names must survive.
        let lookup = "def price(d):\n    value = d[\"price\"]\n    return value\n";
        let constant = "def price(d):\n    value = 0\n    return value\n";
        assert_eq!(deletes_failing(lookup, constant, &[2]).len(), 1);
    }

    #[test]
    fn near_misses_of_deleting_the_failing_line_are_not_hiding() {
        let before = "def run(items):\n    for item in items:\n        process(item)\n    return len(items)\n";
        // The call changed, guarded or moved: kept.
        for after in [
            "def run(items):\n    for item in items:\n        process(item.strip())\n    return len(items)\n",
            "def run(items):\n    for item in items:\n        if item is not None:\n            process(item)\n    return len(items)\n",
            "def run(items):\n    for item in sorted(items):\n        process(item)\n    return len(items)\n",
        ] {
            assert!(deletes_failing(before, after, &[3]).is_empty(), "{after}");
        }
        // A lookup given another form keeps its names.
        let lookup = "def price(d):\n    value = d[\"price\"]\n    return value\n";
        let get = "def price(d):\n    value = d.get(\"price\", 0)\n    return value\n";
        assert!(deletes_failing(lookup, get, &[2]).is_empty());
        // A failing import removed: the proof judges it.
        let import = "import json\nimport missing_helpers\n\nprint(json.dumps(1))\n";
        let without = "import json\n\nprint(json.dumps(1))\n";
        assert!(deletes_failing(import, without, &[2]).is_empty());
        // A typo corrected in the failing line.
        let typo = "def greet(name):\n    message = 'hi ' + name\n    return mesage\n";
        let fixed = "def greet(name):\n    message = 'hi ' + name\n    return message\n";
        assert!(deletes_failing(typo, fixed, &[3]).is_empty());
        // A builtin that only computes may go when what the line works on stays (the bench's
        // reference fix of `output_then_crash`); `return []` keeps none of it.
        let top = "def top(ranked, n):\n    return [ranked[i] for i in range(n)]\n";
        let sliced = "def top(ranked, n):\n    return ranked[:n]\n";
        assert!(deletes_failing(top, sliced, &[2]).is_empty());
        let empty = "def top(ranked, n):\n    return []\n";
        assert_eq!(deletes_failing(top, empty, &[2]).len(), 1);
        // A line of the traceback the fix does not touch.
        assert!(deletes_failing(before, before, &[3]).is_empty());
        // A `#` inside a string is not a comment.
        assert_eq!(code_of("x = '#'  # note"), "x = '#'  ");
    }
}
