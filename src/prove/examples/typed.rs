//! The type a docstring's summary line says a function returns: `"""The price including 20%
//! VAT, as a Decimal rounded half-up to the cent."""`. A fix that makes a `Decimal * float`
//! TypeError go away with `round(float(price) * 1.2, 2)` returns `23.99`, a float: no crash,
//! the same printout, yet not what the docstring promised, and a small model was seen to do
//! exactly this.
//!
//! Only the summary line is read (PEP 257: it says what the function returns), and only
//! `returns a T` or `as a T` with T one of a few types a repr shows. A value is judged by its
//! repr; one whose type the repr does not show is not judged. Pure: text in, sentences out.

use std::sync::OnceLock;

use super::form::{FormJudgement, docstrings, returns};
use crate::prove::behaviour::{Calls, FunctionId};

/// A function's return type, as its docstring's summary line names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typed {
    pub qualname: String,
    /// The type as Python names it (`Decimal`, `str`, `int`).
    pub type_name: &'static str,
    /// 1-based line of the docstring.
    pub line: u32,
}

/// The words a summary line may use for a type, and the type each names.
const TYPES: &[(&str, &str)] = &[
    ("Decimal", "Decimal"),
    ("str", "str"),
    ("string", "str"),
    ("int", "int"),
    ("integer", "int"),
    ("float", "float"),
    ("list", "list"),
    ("dict", "dict"),
    ("dictionary", "dict"),
    ("tuple", "tuple"),
    ("bool", "bool"),
    ("boolean", "bool"),
];

fn phrase() -> Option<&'static regex::Regex> {
    static PHRASE: OnceLock<Option<regex::Regex>> = OnceLock::new();
    PHRASE
        .get_or_init(|| {
            let words: Vec<&str> = TYPES.iter().map(|(w, _)| *w).collect();
            regex::Regex::new(&format!(
                r"(?i:\breturns?|\bas)\s+(?:a|an)\s+`?({})`?\b",
                words.join("|")
            ))
            .ok()
        })
        .as_ref()
}

/// The return types `source`'s docstrings name in their summary lines.
pub fn types(source: &str) -> Vec<Typed> {
    let Some(phrase) = phrase() else {
        return Vec::new();
    };
    docstrings(source)
        .into_iter()
        .filter_map(|doc| {
            let summary = doc
                .text
                .trim_start_matches(['r', 'R', 'u', 'U'])
                .trim_start_matches(['"', '\''])
                .trim_start()
                .lines()
                .next()?
                .to_string();
            let word = phrase.captures(&summary)?.get(1)?.as_str();
            let (_, type_name) = TYPES.iter().find(|(w, _)| *w == word)?;
            Some(Typed {
                qualname: doc.qualname,
                type_name,
                line: doc.line,
            })
        })
        .collect()
}

/// The type a Python repr shows; `None` when it does not show one of [`TYPES`]' (or is None).
pub fn type_of(repr: &str) -> Option<&'static str> {
    let r = repr.trim();
    let first = r.chars().next()?;
    Some(match first {
        '\'' | '"' => "str",
        '[' => "list",
        '(' => "tuple",
        '{' if r == "{}" || r.contains(':') => "dict",
        _ if r.starts_with("Decimal(") => "Decimal",
        _ if r == "True" || r == "False" => "bool",
        _ if r.parse::<i128>().is_ok() => "int",
        _ if r.parse::<f64>().is_ok() => "float",
        _ => return None,
    })
}

/// Judges the values `after` saw the edited functions return against the types their
/// docstrings name (`typed`: file, type). A type the unchanged program's own values did not
/// have (`before`) is out of date, and says nothing of this fix.
pub fn judge(
    typed: &[(String, Typed)],
    edited: &[FunctionId],
    before: &[Calls],
    after: &Calls,
) -> FormJudgement {
    let mut out = FormJudgement::default();
    for (file, t) in typed {
        let id = FunctionId::new(file.clone(), t.qualname.clone());
        if !edited.iter().any(|e| e.matches(&id)) {
            continue;
        }
        // An int where a float is promised is a number all the same (Python's numeric tower).
        let fits = |ty: &str| ty == t.type_name || (t.type_name == "float" && ty == "int");
        let off = |repr: &str| repr == "None" || type_of(repr).is_some_and(|ty| !fits(ty));
        if before
            .iter()
            .any(|run| returns(run, &id).any(|(_, repr)| off(repr)))
        {
            continue;
        }
        let mut misfit = None;
        for (args, repr) in returns(after, &id) {
            if off(repr) {
                misfit.get_or_insert((args, repr));
            } else if type_of(repr).is_some() {
                out.held += 1;
            }
        }
        if let Some((args, repr)) = misfit {
            let short = t.qualname.rsplit('.').next().unwrap_or(&t.qualname);
            let what = type_of(repr).map_or("None".to_string(), |ty| format!("a {ty}"));
            out.failures.push(format!(
                "{short}({args}) returns {repr} with the fix, {what}; the docstring of {} ({file}:{}) says it returns a {}",
                t.qualname, t.line, t.type_name,
            ));
        }
    }
    out
}

/// Judges the values `after` saw the edited functions return against the type their own
/// returns had in the unchanged program's runs (`before`): a function that returned only
/// floats there (`cost_per_conversion` for the campaigns it could price) and returns a str
/// with the fix, for the data that raised, hands its callers something they do not expect.
/// None is not judged here (the guards on a None are the policy's), and an int where floats
/// were returned is a number all the same.
pub fn judge_consistency(edited: &[FunctionId], before: &[Calls], after: &Calls) -> FormJudgement {
    let mut out = FormJudgement::default();
    for id in edited {
        let mut was: Vec<&'static str> = Vec::new();
        for run in before {
            for (_, repr) in returns(run, id) {
                if let Some(ty) = type_of(repr)
                    && !was.contains(&ty)
                {
                    was.push(ty);
                }
            }
        }
        let numeric = |ty: &str| ty == "int" || ty == "float";
        let one_kind = match was.as_slice() {
            [] => continue,
            [ty] => *ty,
            tys if tys.iter().all(|t| numeric(t)) => "float",
            _ => continue,
        };
        let fits = |ty: &str| ty == one_kind || (numeric(ty) && numeric(one_kind));
        let example = before
            .iter()
            .flat_map(|run| returns(run, id))
            .find(|(_, r)| type_of(r).is_some())
            .map(|(a, r)| format!("{a} → {r}"))
            .unwrap_or_default();
        if let Some((args, repr)) =
            returns(after, id).find(|(_, r)| type_of(r).is_some_and(|t| !fits(t)))
        {
            let short = id.qualname.rsplit('.').next().unwrap_or(&id.qualname);
            let ty = type_of(repr).unwrap_or("?");
            out.failures.push(format!(
                "{short}({args}) returns {repr} with the fix, a {ty}, where the unchanged program saw it return only {one_kind} values ({short}({example})): its callers get another kind of value for the data that raised"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAX: &str = r#"
def with_vat(price):
    """The price including 20% VAT, as a Decimal rounded half-up to the cent."""
    return price


def label(n):
    """Returns a string naming n.

    Takes n as an int.
    """


def parse(text):
    """Reads the text.

    Returns a list of words.
    """
"#;

    #[test]
    fn the_summary_line_names_the_type() {
        let found = types(TAX);
        assert_eq!(
            found,
            [
                Typed {
                    qualname: "with_vat".into(),
                    type_name: "Decimal",
                    line: 3,
                },
                Typed {
                    qualname: "label".into(),
                    type_name: "str",
                    line: 8,
                },
            ],
            "a type named below the summary line says nothing"
        );
    }

    #[test]
    fn a_fixed_value_of_another_type_than_the_summary_names_fails() {
        let typed: Vec<(String, Typed)> = types(TAX)
            .into_iter()
            .map(|t| ("pricing/tax.py".to_string(), t))
            .collect();
        let id = || FunctionId::new("pricing/tax.py", "with_vat");
        let edited = [id()];
        // Before the fix it raised: nothing returned.
        let before = [Calls::loaded_empty()];
        let mut float = Calls::loaded_empty();
        float.record(id(), "Decimal('19.99')", "23.99");
        let j = judge(&typed, &edited, &before, &float);
        assert_eq!(
            j.failures,
            [
                "with_vat(Decimal('19.99')) returns 23.99 with the fix, a float; the docstring of with_vat (pricing/tax.py:3) says it returns a Decimal"
            ]
        );
        // The right fix holds; a function the fix did not edit is not judged.
        let mut right = Calls::loaded_empty();
        right.record(id(), "Decimal('19.99')", "Decimal('23.99')");
        let j = judge(&typed, &edited, &before, &right);
        assert_eq!((j.held, j.failures.len()), (1, 0));
        assert!(judge(&typed, &[], &before, &float).failures.is_empty());
        // None where a Decimal is promised fails; a docstring the program did not follow
        // before the fix is out of date.
        let mut none = Calls::loaded_empty();
        none.record(id(), "Decimal('19.99')", "None");
        assert_eq!(judge(&typed, &edited, &before, &none).failures.len(), 1);
        let mut was = Calls::loaded_empty();
        was.record(id(), "Decimal('1')", "1.2");
        assert!(judge(&typed, &edited, &[was], &float).failures.is_empty());
    }

    #[test]
    fn an_int_where_a_float_is_promised_is_a_number_all_the_same() {
        let src = "def ratio(a, b):\n    \"\"\"Returns a float.\"\"\"\n    return a / b\n";
        let typed: Vec<(String, Typed)> = types(src)
            .into_iter()
            .map(|t| ("m.py".to_string(), t))
            .collect();
        let id = FunctionId::new("m.py", "ratio");
        let mut after = Calls::loaded_empty();
        after.record(id.clone(), "1, 0", "0");
        assert!(
            judge(&typed, &[id], &[Calls::loaded_empty()], &after)
                .failures
                .is_empty()
        );
    }

    #[test]
    fn a_str_where_the_function_returned_floats_fails() {
        let id = FunctionId::new("main.py", "cost_per_conversion");
        let mut was = Calls::loaded_empty();
        was.record(id.clone(), "{'id': 'c1', 'conversions': 4}", "20.0");
        let mut after = Calls::loaded_empty();
        after.record(id.clone(), "{'id': 'c1', 'conversions': 4}", "20.0");
        after.record(
            id.clone(),
            "{'id': 'c2', 'conversions': 0}",
            "'No conversions, defaulting to full spend'",
        );
        let j = judge_consistency(
            std::slice::from_ref(&id),
            std::slice::from_ref(&was),
            &after,
        );
        assert_eq!(j.failures.len(), 1, "{j:?}");
        assert!(
            j.failures[0]
                .contains("a str, where the unchanged program saw it return only float values"),
            "{j:?}"
        );
        // A number, or None (the policy's), is not judged here; nor a function never seen
        // returning.
        let mut right = Calls::loaded_empty();
        right.record(id.clone(), "{'id': 'c2', 'conversions': 0}", "65");
        right.record(id.clone(), "{'id': 'c3'}", "None");
        assert!(
            judge_consistency(std::slice::from_ref(&id), &[was], &right)
                .failures
                .is_empty()
        );
        assert!(
            judge_consistency(&[id], &[Calls::loaded_empty()], &after)
                .failures
                .is_empty()
        );
    }

    #[test]
    fn reprs_show_their_types() {
        assert_eq!(type_of("Decimal('23.99')"), Some("Decimal"));
        assert_eq!(type_of("23.99"), Some("float"));
        assert_eq!(type_of("-3"), Some("int"));
        assert_eq!(type_of("'x'"), Some("str"));
        assert_eq!(type_of("{'a': 1}"), Some("dict"));
        assert_eq!(type_of("{1, 2}"), None);
        assert_eq!(type_of("True"), Some("bool"));
        assert_eq!(type_of("<Price object at 0x7f>"), None);
        assert_eq!(type_of("None"), None);
    }
}
