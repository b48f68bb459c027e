//! The form a docstring shows by example: `"""… e.g. 'avego: Total: 243.00 EUR'."""` says the
//! function returns a string whose amounts carry two decimals. A fix that makes
//! `"Total: " + str(total)` work returns `'avego: Total: 243.0 EUR'`: no crash, no example to
//! run (the example names no arguments), yet not what the docstring promised. A small model
//! was seen to do exactly this.
//!
//! Only the numbers are compared, by how they are written: the same count of numbers, each
//! with the same number of decimals (none for an integer). Words, names and spacing vary with
//! the data and are not judged; a value whose numbers cannot be paired with the example's (a
//! different count) is not judged either. Pure: text in, values out.

use tree_sitter::Node;

use crate::prove::behaviour::{Calls, FunctionId};

/// A return value's form, shown by example in a function's docstring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// The function whose docstring shows it (`daily_report`, `Report.line`).
    pub qualname: String,
    /// The example, unquoted.
    pub example: String,
    /// 1-based line of the docstring.
    pub line: u32,
}

/// Words that introduce an example of the value.
const MARKERS: [&str; 4] = ["e.g.", "for example", "for instance", "such as"];
/// Longer examples are not a form a person reads at a glance.
const MAX_EXAMPLE: usize = 200;

/// The forms `source`'s function docstrings show: a marker, then a quoted string that holds at
/// least one number.
pub fn forms(source: &str) -> Vec<Form> {
    docstrings(source)
        .into_iter()
        .flat_map(|doc| {
            examples_in(&doc.text).into_iter().map(move |example| Form {
                qualname: doc.qualname.clone(),
                example,
                line: doc.line,
            })
        })
        .collect()
}

/// A function's docstring, as written (quotes included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Docstring {
    /// The function (`daily_report`, `Report.line`).
    pub qualname: String,
    pub text: String,
    /// 1-based line of the docstring.
    pub line: u32,
}

/// The docstrings of `source`'s functions, methods included.
pub fn docstrings(source: &str) -> Vec<Docstring> {
    let Some(tree) = crate::prove::syntax::parse(source) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk(tree.root_node(), source.as_bytes(), "", &mut out);
    out
}

fn walk(body: Node<'_>, src: &[u8], prefix: &str, out: &mut Vec<Docstring>) {
    let mut cursor = body.walk();
    for child in body.named_children(&mut cursor) {
        let def = match child.kind() {
            "decorated_definition" => match child.child_by_field_name("definition") {
                Some(d) => d,
                None => continue,
            },
            _ => child,
        };
        let Some(name) = def
            .child_by_field_name("name")
            .and_then(|n| n.utf8_text(src).ok())
        else {
            continue;
        };
        let Some(inner) = def.child_by_field_name("body") else {
            continue;
        };
        let qualname = format!("{prefix}{name}");
        match def.kind() {
            "function_definition" => {
                if let Some((text, line)) = docstring(inner, src) {
                    out.push(Docstring {
                        qualname,
                        text,
                        line,
                    });
                }
            }
            "class_definition" => walk(inner, src, &format!("{qualname}."), out),
            _ => {}
        }
    }
}

fn docstring(body: Node<'_>, src: &[u8]) -> Option<(String, u32)> {
    let first = body.named_child(0)?;
    if first.kind() != "expression_statement" {
        return None;
    }
    let string = first.named_child(0).filter(|s| s.kind() == "string")?;
    let text = string.utf8_text(src).ok()?;
    let line = u32::try_from(string.start_position().row + 1).unwrap_or(u32::MAX);
    Some((text.to_string(), line))
}

/// The quoted examples after each marker in a docstring's text.
fn examples_in(doc: &str) -> Vec<String> {
    let lower = doc.to_lowercase();
    let mut out = Vec::new();
    for marker in MARKERS {
        let mut from = 0;
        while let Some(at) = lower.get(from..).and_then(|rest| rest.find(marker)) {
            let after = from + at + marker.len();
            from = after;
            let Some(rest) = doc.get(after..) else {
                break;
            };
            let rest = rest.trim_start_matches([',', ':', ' ']);
            let Some(quote) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') else {
                continue;
            };
            let body = &rest[quote.len_utf8()..];
            let Some(end) = body.find(quote) else {
                continue;
            };
            let example = &body[..end];
            if example.len() <= MAX_EXAMPLE
                && !example.contains('\n')
                && !numbers(example).is_empty()
                && !out.iter().any(|o| o == example)
            {
                out.push(example.to_string());
            }
        }
    }
    out
}

/// How each number of `text` is written, in order: its count of decimals.
pub fn numbers(text: &str) -> Vec<usize> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        // A digit that continues a word (`v2`, `x86`) is part of a name, not a number.
        let starts = chars[i].is_ascii_digit()
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'));
        if !starts {
            i += 1;
            continue;
        }
        // Digits, with thousands separators between groups.
        while i < chars.len()
            && (chars[i].is_ascii_digit()
                || (chars[i] == ',' && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
        {
            i += 1;
        }
        let mut decimals = 0;
        if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
            i += 1;
            while i < chars.len() && chars[i].is_ascii_digit() {
                decimals += 1;
                i += 1;
            }
        }
        out.push(decimals);
    }
    out
}

/// The string a Python `repr` of a `str` stands for; `None` for any other value, or one with
/// escapes (not judged rather than misread).
pub fn str_value(repr: &str) -> Option<&str> {
    let quote = repr.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = repr.strip_prefix(quote)?.strip_suffix(quote)?;
    (!inner.contains('\\')).then_some(inner)
}

/// Whether `value` writes its numbers as `example` does: each run of numbers and the marks
/// between them in the example (`243.00`, `12,500.00`, `2024-05-17T10:00:00+00:00`) must
/// appear in the value in the same shape (as many decimals, the same separators), whatever the
/// digits. `None` when the value has no digit at all: nothing to compare.
pub fn fits(example: &str, value: &str) -> Option<bool> {
    if !value.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(
        clusters(example)
            .iter()
            .all(|pattern| pattern.is_match(value)),
    )
}

/// The example's runs of numbers, each as a pattern of its shape. A run is digits and the
/// marks that join numbers (`.,:-/+`, and one letter between two digits, as ISO 8601's `T`);
/// it starts and ends with a digit.
fn clusters(example: &str) -> Vec<regex::Regex> {
    let chars: Vec<char> = example.chars().collect();
    let joins = |c: char| matches!(c, '.' | ',' | ':' | '-' | '/' | '+');
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit()
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'));
        if !starts {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        while i < chars.len() {
            let c = chars[i];
            let between_digits = i > 0
                && chars[i - 1].is_ascii_digit()
                && chars.get(i + 1).is_some_and(char::is_ascii_digit);
            if c.is_ascii_digit() {
                end = i;
            } else if !(between_digits && (joins(c) || c.is_ascii_alphabetic())) {
                break;
            }
            i += 1;
        }
        let run: String = chars[start..=end].iter().collect();
        if let Ok(pattern) = regex::Regex::new(&format!(r"(?:^|[^\d.,]){}(?:[^\d]|$)", shape(&run)))
        {
            out.push(pattern);
        }
    }
    out
}

/// A run's shape as a pattern: each number by its digits' grouping and its decimals, each
/// mark as itself.
fn shape(run: &str) -> String {
    let mut pattern = String::new();
    let mut number = String::new();
    let flush = |number: &mut String, pattern: &mut String| {
        if number.is_empty() {
            return;
        }
        // `12,500`: thousands grouped by commas. An example too small to show a comma says
        // nothing of grouping: a larger value may have one.
        if number.contains(',') {
            pattern.push_str(r"\d{1,3}(?:,\d{3})*");
        } else {
            pattern.push_str(r"(?:\d{1,3}(?:,\d{3})+|\d+)");
        }
        number.clear();
    };
    let chars: Vec<char> = run.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let grouping = c == ','
            && !number.is_empty()
            && chars
                .get(i + 1..i + 4)
                .is_some_and(|d| d.iter().all(char::is_ascii_digit))
            && chars.get(i + 4).is_none_or(|n| !n.is_ascii_digit());
        if c.is_ascii_digit() || grouping {
            number.push(c);
        } else if c == '.' && !number.is_empty() {
            flush(&mut number, &mut pattern);
            let decimals = chars[i + 1..]
                .iter()
                .take_while(|d| d.is_ascii_digit())
                .count();
            pattern.push_str(&format!(r"\.\d{{{decimals}}}"));
            i += decimals;
        } else {
            flush(&mut number, &mut pattern);
            pattern.push_str(&regex::escape(&c.to_string()));
        }
        i += 1;
    }
    flush(&mut number, &mut pattern);
    pattern
}

/// What the edited functions' documented forms said of the fix.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FormJudgement {
    /// One sentence per function whose value no longer has its documented form.
    pub failures: Vec<String>,
    /// Values of the fixed run that have their function's documented form.
    pub held: usize,
}

/// Judges the values `after` saw the edited functions return against the forms their
/// docstrings show, read from the files as they were (`forms`: file, form). A form the
/// unchanged program's own values did not have (`before`) is out of date, and says nothing of
/// this fix.
pub fn judge(
    forms: &[(String, Form)],
    edited: &[FunctionId],
    before: &[Calls],
    after: &Calls,
) -> FormJudgement {
    let mut out = FormJudgement::default();
    for (file, form) in forms {
        let id = FunctionId::new(file.clone(), form.qualname.clone());
        if !edited.iter().any(|e| e.matches(&id)) {
            continue;
        }
        // The unchanged program's own values: one off the form, or a None, says the docstring
        // was out of date before this fix.
        let out_of_date = before.iter().any(|run| {
            values(run, &id)
                .into_iter()
                .any(|(_, _, v)| fits(&form.example, v) == Some(false))
                || nones(run, &id).next().is_some()
        });
        if out_of_date {
            continue;
        }
        let mut misfit = None;
        for (args, repr, value) in values(after, &id) {
            match fits(&form.example, value) {
                Some(true) => out.held += 1,
                Some(false) if misfit.is_none() => misfit = Some((args, repr)),
                _ => {}
            }
        }
        // None where the docstring shows a string: the error turned into "no value".
        if misfit.is_none()
            && let Some(args) = nones(after, &id).next()
        {
            misfit = Some((args, "None"));
        }
        if let Some((args, repr)) = misfit {
            let short = form.qualname.rsplit('.').next().unwrap_or(&form.qualname);
            let how = if repr == "None" {
                "a string, not None".to_string()
            } else {
                format!(
                    "its numbers written as the example writes them ({})",
                    decimals(&numbers(&form.example))
                )
            };
            out.failures.push(format!(
                "{short}({args}) returns {repr} with the fix; the docstring of {} ({file}:{}) shows its form as '{}': {how}",
                form.qualname, form.line, form.example,
            ));
        }
    }
    out
}

/// Every value `calls` saw the function `id` return: (arguments, repr).
pub(super) fn returns<'c>(
    calls: &'c Calls,
    id: &FunctionId,
) -> impl Iterator<Item = (&'c str, &'c str)> {
    calls
        .functions()
        .iter()
        .filter(move |(f, _)| f.matches(id))
        .flat_map(|(_, c)| {
            c.results
                .iter()
                .flat_map(|(args, rets)| rets.iter().map(move |r| (args.as_str(), r.as_str())))
        })
}

/// The string values `calls` saw the function `id` return: (arguments, repr, value).
fn values<'c>(calls: &'c Calls, id: &FunctionId) -> Vec<(&'c str, &'c str, &'c str)> {
    returns(calls, id)
        .filter_map(|(args, repr)| Some((args, repr, str_value(repr)?)))
        .collect()
}

/// The arguments of the calls of `id` that returned None.
fn nones<'c>(calls: &'c Calls, id: &FunctionId) -> impl Iterator<Item = &'c str> {
    returns(calls, id)
        .filter(|(_, repr)| *repr == "None")
        .map(|(args, _)| args)
}

/// "2 decimals, then 1", "no decimals".
fn decimals(each: &[usize]) -> String {
    let one = |n: usize| match n {
        0 => "no decimals".to_string(),
        1 => "1 decimal".to_string(),
        n => format!("{n} decimals"),
    };
    let mut parts = each.iter().map(|n| one(*n));
    let first = parts.next().unwrap_or_default();
    parts.fold(first, |acc, p| format!("{acc}, then {p}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"
def daily_report(client, amounts):
    """'<client>: Total: <sum with two decimals> EUR', e.g. 'avego: Total: 243.00 EUR'."""
    total = sum(amounts)
    return f"{client}: Total: {total} EUR"


class Summary:
    def line(self):
        """The line, for example: "avego: 12,500.00 EUR (125.0% of target)"."""


def plain():
    """Returns a greeting, e.g. 'hello'."""
"#;

    #[test]
    fn forms_are_quoted_examples_with_numbers_after_a_marker() {
        let found = forms(REPORT);
        assert_eq!(
            found,
            [
                Form {
                    qualname: "daily_report".into(),
                    example: "avego: Total: 243.00 EUR".into(),
                    line: 3,
                },
                Form {
                    qualname: "Summary.line".into(),
                    example: "avego: 12,500.00 EUR (125.0% of target)".into(),
                    line: 10,
                },
            ]
        );
    }

    #[test]
    fn numbers_are_read_with_their_decimals_not_inside_words() {
        assert_eq!(numbers("avego: 12,500.00 EUR (125.0% of target)"), [2, 1]);
        assert_eq!(numbers("x86 v2 build 7."), [0]);
        assert_eq!(numbers("1,2"), [0]);
    }

    #[test]
    fn a_value_fits_when_its_numbers_carry_the_examples_decimals() {
        let example = "avego: Total: 243.00 EUR";
        assert_eq!(fits(example, "northwind: Total: 20.00 EUR"), Some(true));
        assert_eq!(fits(example, "north wind: Total: 1,020.00 EUR"), Some(true));
        assert_eq!(fits(example, "avego: Total: 243.0 EUR"), Some(false));
        assert_eq!(fits(example, "avego: Total: 243 EUR"), Some(false));
        // A client named with a number: the total is still written the example's way.
        assert_eq!(fits(example, "client 7: Total: 3.00 EUR"), Some(true));
        assert_eq!(fits(example, "no total"), None);
        let iso = "2024-05-17T10:00:00+00:00";
        assert_eq!(
            fits(iso, r#"{"at": "2024-05-17T10:05:30+00:00"}"#),
            Some(true)
        );
        assert_eq!(
            fits(iso, r#"{"at": "2024-05-17 10:05:30+00:00"}"#),
            Some(false)
        );
        let summary = "avego: 12,500.00 EUR (125.0% of target)";
        assert_eq!(
            fits(summary, "northwind: 800.00 EUR (80.0% of target)"),
            Some(true)
        );
        assert_eq!(fits(summary, "avego: 125.0% of target"), Some(false));
        assert_eq!(fits("A-1042", "B-7"), Some(true));
        assert_eq!(fits(example, "avego: Total: 243.001 EUR"), Some(false));
    }

    #[test]
    fn only_plain_str_reprs_are_read() {
        assert_eq!(str_value("'a: 1.00'"), Some("a: 1.00"));
        assert_eq!(str_value("\"it's 2.0\""), Some("it's 2.0"));
        assert_eq!(str_value("'a\\n1'"), None);
        assert_eq!(str_value("243.0"), None);
        assert_eq!(str_value("{'a': 1}"), None);
    }

    #[test]
    fn a_fixed_value_off_the_documented_form_fails_an_edited_function_only() {
        let forms: Vec<(String, Form)> = forms(REPORT)
            .into_iter()
            .map(|f| ("main.py".to_string(), f))
            .collect();
        let edited = [FunctionId::new("main.py", "daily_report")];
        let mut after = Calls::loaded_empty();
        after.record(
            FunctionId::new("main.py", "daily_report"),
            "'avego', [120.5, 80.25, 42.25]",
            "'avego: Total: 243.0 EUR'",
        );
        // Before the fix it raised: nothing returned.
        let before = [Calls::loaded_empty()];
        let j = judge(&forms, &edited, &before, &after);
        assert_eq!(j.held, 0);
        assert_eq!(
            j.failures,
            [
                "daily_report('avego', [120.5, 80.25, 42.25]) returns 'avego: Total: 243.0 EUR' with the fix; the docstring of daily_report (main.py:3) shows its form as 'avego: Total: 243.00 EUR': its numbers written as the example writes them (2 decimals)"
            ]
        );
        // Not edited: not the fix's.
        assert_eq!(
            judge(&forms, &[], &before, &after),
            FormJudgement::default()
        );

        // The right fix fits.
        let mut right = Calls::loaded_empty();
        right.record(
            FunctionId::new("main.py", "daily_report"),
            "'avego', [120.5, 80.25, 42.25]",
            "'avego: Total: 243.00 EUR'",
        );
        let j = judge(&forms, &edited, &before, &right);
        assert_eq!((j.held, j.failures.len()), (1, 0));

        // A docstring the program did not follow before the fix is out of date.
        let mut was = Calls::loaded_empty();
        was.record(
            FunctionId::new("main.py", "daily_report"),
            "'x', []",
            "'x: Total: 0 EUR'",
        );
        assert!(judge(&forms, &edited, &[was], &after).failures.is_empty());
    }

    #[test]
    fn none_where_the_docstring_shows_a_string_fails_an_edited_function() {
        let source = "def order_id(notice):\n    \"\"\"The order id in a notice, e.g. 'A-1042'.\"\"\"\n    return None\n";
        let forms: Vec<(String, Form)> = forms(source)
            .into_iter()
            .map(|f| ("main.py".to_string(), f))
            .collect();
        let id = FunctionId::new("main.py", "order_id");
        let mut after = Calls::loaded_empty();
        after.record(id.clone(), "'order A-1042 shipped'", "None");
        let j = judge(
            &forms,
            std::slice::from_ref(&id),
            &[Calls::loaded_empty()],
            &after,
        );
        assert_eq!(
            j.failures,
            [
                "order_id('order A-1042 shipped') returns None with the fix; the docstring of order_id (main.py:2) shows its form as 'A-1042': a string, not None"
            ]
        );
        // A program that returned None before the fix too: the docstring says nothing of it.
        let mut was = Calls::loaded_empty();
        was.record(id.clone(), "'x'", "None");
        assert!(judge(&forms, &[id], &[was], &after).failures.is_empty());
    }
}
