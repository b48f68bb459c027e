//! The examples a file's docstrings give, read from the file as it was before the fix (the
//! team's word, which a fix cannot rewrite): doctest lines (`>>> to_base36(36)` then `'10'`) in
//! any function's, class's or the module's docstring, and one-argument pairs (`0 -> '0',
//! 35 -> 'Z'`, or `'root > shoes' for 'shoes'`) in the docstring of a module-level function of
//! one parameter.
//!
//! Pure: text in, examples out. Whether a pair really is two Python literals is
//! left to the runner (`ast.literal_eval`), which drops the ones that are prose.

use tree_sitter::Node;

/// One example, as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The function or method whose docstring gives it (`Budget.share`); empty for the
    /// module's docstring.
    pub qualname: String,
    pub kind: Kind,
    /// For a doctest, the statement or expression (continuation lines joined); for a pair,
    /// the argument's text.
    pub source: String,
    /// What the docstring says comes out.
    pub want: String,
    /// 1-based line of the docstring in the file.
    pub line: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Doctest,
    /// One argument and what comes out for it (`0 -> '0'`, `'root' for 'root'`).
    Pair,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Doctest => "doctest",
            Kind::Pair => "pair",
        }
    }
}

/// At most this many examples per file: enough to judge, bounded for a hostile file.
const MAX_PER_FILE: usize = 40;
/// Longer sides are not examples a person reads.
const MAX_SIDE: usize = 200;

/// Every example in `source`'s docstrings.
pub fn examples(source: &str) -> Vec<Found> {
    let Some(tree) = crate::prove::syntax::parse(source) else {
        return Vec::new();
    };
    let src = source.as_bytes();
    let mut out = Vec::new();
    let root = tree.root_node();
    if let Some((text, line)) = docstring_of(root, src) {
        out.extend(doctests(&text, "", line));
    }
    walk(root, src, "", true, &mut out);
    out.truncate(MAX_PER_FILE);
    out
}

/// The definitions in `body` (a module or a class body), with `prefix` their qualname's
/// start; `top` when `body` is the module.
fn walk(body: Node<'_>, src: &[u8], prefix: &str, top: bool, out: &mut Vec<Found>) {
    let mut cursor = body.walk();
    for child in body.named_children(&mut cursor) {
        let def = if child.kind() == "decorated_definition" {
            match child.child_by_field_name("definition") {
                Some(d) => d,
                None => continue,
            }
        } else {
            child
        };
        let Some(name) = def
            .child_by_field_name("name")
            .and_then(|n| n.utf8_text(src).ok())
        else {
            continue;
        };
        let qualname = format!("{prefix}{name}");
        let Some(inner) = def.child_by_field_name("body") else {
            continue;
        };
        match def.kind() {
            "function_definition" => {
                if let Some((text, line)) = docstring_of(inner, src) {
                    out.extend(doctests(&text, &qualname, line));
                    if top && parameter_count(def) == Some(1) {
                        out.extend(pairs(&text, &qualname, line));
                    }
                }
            }
            "class_definition" => {
                if let Some((text, line)) = docstring_of(inner, src) {
                    out.extend(doctests(&text, &qualname, line));
                }
                walk(inner, src, &format!("{qualname}."), false, out);
            }
            _ => {}
        }
    }
}

/// The docstring of a module or a definition's body: its text between the quotes, and its
/// 1-based line.
fn docstring_of(body: Node<'_>, src: &[u8]) -> Option<(String, u32)> {
    let first = body.named_child(0)?;
    if first.kind() != "expression_statement" {
        return None;
    }
    let string = first.named_child(0).filter(|s| s.kind() == "string")?;
    let text = string.utf8_text(src).ok()?;
    let line = u32::try_from(string.start_position().row + 1).unwrap_or(u32::MAX);
    Some((unquote(text)?.to_string(), line))
}

/// The body of a string literal: prefixes and quotes removed. Byte strings and f-strings are
/// not docstrings.
fn unquote(text: &str) -> Option<&str> {
    let body = text.trim_start_matches(['r', 'R', 'u', 'U']);
    for quote in ["\"\"\"", "'''", "\"", "'"] {
        if let Some(inner) = body.strip_prefix(quote).and_then(|b| b.strip_suffix(quote)) {
            return Some(inner);
        }
    }
    None
}

/// The function's parameter count, `None` when it takes `*args` or `**kwargs`.
fn parameter_count(def: Node<'_>) -> Option<usize> {
    let params = def.child_by_field_name("parameters")?;
    let mut cursor = params.walk();
    let mut n = 0;
    for p in params.named_children(&mut cursor) {
        match p.kind() {
            "identifier" | "typed_parameter" | "default_parameter" | "typed_default_parameter" => {
                n += 1
            }
            "comment" => {}
            _ => return None,
        }
    }
    Some(n)
}

/// The doctest examples of a docstring: each `>>>` statement (with its `...` lines) and the
/// lines after it up to a blank line or the next `>>>`.
fn doctests(doc: &str, qualname: &str, line: u32) -> Vec<Found> {
    let mut out = Vec::new();
    let lines: Vec<&str> = doc.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let Some(first) = lines[i].trim_start().strip_prefix(">>>") else {
            i += 1;
            continue;
        };
        let mut source = first.strip_prefix(' ').unwrap_or(first).to_string();
        i += 1;
        while let Some(more) = lines
            .get(i)
            .and_then(|l| l.trim_start().strip_prefix("..."))
        {
            source.push('\n');
            source.push_str(more.strip_prefix(' ').unwrap_or(more));
            i += 1;
        }
        let mut want = Vec::new();
        while let Some(l) = lines.get(i) {
            let t = l.trim();
            if t.is_empty() || t.starts_with(">>>") {
                break;
            }
            want.push(t);
            i += 1;
        }
        if source.trim().is_empty() || source.len() > MAX_SIDE * 4 {
            continue;
        }
        out.push(Found {
            qualname: qualname.to_string(),
            kind: Kind::Doctest,
            source,
            want: want.join("\n"),
            line,
        });
    }
    out
}

/// The one-argument examples of a docstring, each side one literal-looking token (a quoted
/// string, a number, a bracketed value, `True`, `False` or `None`):
/// - `ARG -> RESULT` (`->`, `→` or `=>`): `0 -> '0', 35 -> 'Z'`;
/// - `RESULT for ARG`: `'root > shoes > running' for 'running'`, the way prose gives one.
fn pairs(doc: &str, qualname: &str, line: u32) -> Vec<Found> {
    /// A separator, and whether the argument comes first.
    const SEPARATORS: [(&str, bool); 4] =
        [("->", true), ("→", true), ("=>", true), (" for ", false)];
    let mut out = Vec::new();
    for text_line in doc.lines() {
        if text_line.trim_start().starts_with(">>>") {
            continue;
        }
        for (separator, argument_first) in SEPARATORS {
            let mut from = 0;
            while let Some(at) = text_line[from..].find(separator).map(|a| a + from) {
                from = at + separator.len();
                let (left, right) = (&text_line[..at], &text_line[from..]);
                let (Some(left), Some(right)) = (token_before(left), token_after(right)) else {
                    continue;
                };
                let (arg, result) = if argument_first {
                    (left, right)
                } else {
                    (right, left)
                };
                if out.len() >= MAX_PER_FILE {
                    return out;
                }
                out.push(Found {
                    qualname: qualname.to_string(),
                    kind: Kind::Pair,
                    source: arg.to_string(),
                    want: result.to_string(),
                    line,
                });
            }
        }
    }
    out
}

/// The literal-looking token that ends `text` (spaces before the separator skipped).
fn token_before(text: &str) -> Option<&str> {
    // Only the last few hundred bytes can hold a side: a hostile line costs no more.
    let t = tail(text.trim_end(), MAX_SIDE + 1);
    let last = t.chars().last()?;
    let start = match last {
        '\'' | '"' => t[..t.len() - 1].rfind(last)?,
        ')' | ']' | '}' => {
            let open = match last {
                ')' => '(',
                ']' => '[',
                _ => '{',
            };
            matching_backwards(t, open, last)?
        }
        c if c.is_ascii_digit() || c.is_ascii_alphabetic() || c == '_' => t
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .last()
            .map(|(i, _)| i)?,
        _ => return None,
    };
    let token = &t[start..];
    (token.len() <= MAX_SIDE && literal_looking(token)).then_some(token)
}

/// The literal-looking token that starts `text` (spaces after the separator skipped), up to a
/// separator (`,` `;` or a space) outside quotes and brackets.
fn token_after(text: &str) -> Option<&str> {
    let t = head(text.trim_start(), MAX_SIDE + 1);
    let first = t.chars().next()?;
    let end = match first {
        '\'' | '"' => t[1..].find(first)? + 2,
        '(' | '[' | '{' => {
            let close = match first {
                '(' => ')',
                '[' => ']',
                _ => '}',
            };
            matching_forwards(t, first, close)? + 1
        }
        c if c.is_ascii_digit() || c.is_ascii_alphabetic() || c == '-' => t
            .char_indices()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .last()
            .map(|(i, c)| i + c.len_utf8())?,
        _ => return None,
    };
    // `4.` at a sentence's end is the number 4.
    let token = t[..end].trim_end_matches('.');
    (!token.is_empty() && token.len() <= MAX_SIDE && literal_looking(token)).then_some(token)
}

/// Whether `token` could be a Python literal: quoted, bracketed, a number, or a constant.
/// A bare word (`x -> y` in prose) is not.
fn literal_looking(token: &str) -> bool {
    let first = token.chars().next().unwrap_or(' ');
    matches!(first, '\'' | '"' | '(' | '[' | '{')
        || token.parse::<f64>().is_ok()
        || matches!(token, "True" | "False" | "None")
}

/// The last `n` bytes of `t` or a little fewer, cut at a character boundary.
fn tail(t: &str, n: usize) -> &str {
    let mut start = t.len().saturating_sub(n);
    while !t.is_char_boundary(start) {
        start += 1;
    }
    &t[start..]
}

/// The first `n` bytes of `t` or a little fewer, cut at a character boundary.
fn head(t: &str, n: usize) -> &str {
    let mut end = n.min(t.len());
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    &t[..end]
}

fn matching_backwards(t: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in t.char_indices().rev() {
        if c == close {
            depth += 1;
        } else if c == open {
            depth = depth.checked_sub(1)?;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

fn matching_forwards(t: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in t.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth = depth.checked_sub(1)?;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triples(found: &[Found]) -> Vec<(&str, &str, &str)> {
        found
            .iter()
            .map(|f| (f.qualname.as_str(), f.source.as_str(), f.want.as_str()))
            .collect()
    }

    #[test]
    fn arrow_pairs_of_a_one_parameter_function_are_examples() {
        let src = r#"
def to_base36(n):
    """n >= 0 in base 36, upper case, no leading zeros: 0 -> '0', 35 -> 'Z', 36 -> '10'."""
    return n
"#;
        let found = examples(src);
        assert_eq!(
            triples(&found),
            vec![
                ("to_base36", "0", "'0'"),
                ("to_base36", "35", "'Z'"),
                ("to_base36", "36", "'10'")
            ]
        );
        assert!(found.iter().all(|f| f.kind == Kind::Pair && f.line == 3));
    }

    /// The bench's `recursion_self_parent`: a model's base case `return ""` for the root made
    /// every breadcrumb start with " > ", and nothing read the docstring's example.
    #[test]
    fn result_for_argument_pairs_are_read_the_other_way_round() {
        let src = r#"
def breadcrumb(category):
    """'root > shoes > running' for 'running'; 'root' for the root."""
    return breadcrumb(PARENT[category]) + " > " + category

def size(n):
    """Prints 'big' for each large one, 0 for none, and -1 for [1, 2]."""
"#;
        let found = examples(src);
        assert_eq!(
            triples(&found),
            vec![
                ("breadcrumb", "'running'", "'root > shoes > running'"),
                ("size", "[1, 2]", "-1"),
            ]
        );
        assert!(found.iter().all(|f| f.kind == Kind::Pair));
    }

    #[test]
    fn prose_arrows_and_functions_of_several_parameters_give_no_pairs() {
        let src = r#"
def share(total, parts):
    """1 -> 2 here means nothing: two parameters."""

def step(state):
    """Moves the state machine: idle -> running -> done; returns -> None."""

def grade(score):
    """Type hints say int -> str."""

def label(item):
    """A label for an item; 'n/a' for missing ones, used for display."""
"#;
        assert_eq!(triples(&examples(src)), vec![]);
    }

    #[test]
    fn doctests_in_functions_methods_and_the_module_are_examples() {
        let src = r#"""">>> 1 + 1
2
"""

class Budget:
    def share(self, n):
        """Splits it.

        >>> Budget().share(2)
        [0.5, 0.5]
        >>> total = sum(
        ...     [1, 2])
        >>> total
        3
        """

def shout(s):
    """>>> shout('a')
    Traceback (most recent call last):
    ValueError: too quiet
    """
"#;
        let found = examples(src);
        assert_eq!(
            triples(&found),
            vec![
                ("", "1 + 1", "2"),
                ("Budget.share", "Budget().share(2)", "[0.5, 0.5]"),
                ("Budget.share", "total = sum(\n    [1, 2])", ""),
                ("Budget.share", "total", "3"),
                (
                    "shout",
                    "shout('a')",
                    "Traceback (most recent call last):\nValueError: too quiet"
                ),
            ]
        );
        assert!(found.iter().all(|f| f.kind == Kind::Doctest));
    }

    #[test]
    fn bracketed_and_negative_sides_are_whole_tokens() {
        let src = r#"
def rank(xs):
    """[3, 1, 2] -> [1, 2, 3]; (2,) -> [2]; -4 -> 'neg'."""
"#;
        assert_eq!(
            triples(&examples(src)),
            vec![
                ("rank", "[3, 1, 2]", "[1, 2, 3]"),
                ("rank", "(2,)", "[2]"),
                ("rank", "-4", "'neg'")
            ]
        );
    }

    #[test]
    fn a_hostile_file_gives_a_bounded_list() {
        let mut src = String::from("def f(x):\n    \"\"\"");
        for i in 0..10_000 {
            src.push_str(&format!("{i} -> {i}, "));
        }
        src.push_str("\"\"\"\n");
        assert_eq!(examples(&src).len(), MAX_PER_FILE);
    }
}
