//! The attribute the error was about, made to go away with its use. `client.strip().uppercase()`
//! raised `AttributeError: 'str' object has no attribute 'uppercase'`; a fix that deletes
//! `.uppercase()` makes the program run and print the name uncapitalised. The right fix uses an
//! attribute that exists (`.upper()`). A small model was seen to do this (the bench's
//! `str_method_wrong`).
//!
//! Counted: the uses of the missing attribute (`x.NAME`), before and after the fix, and the
//! attribute names the fix added. Each use the fix removed must be made up by an attribute it
//! added (another method, a module's function).
//!
//! Pure: two texts in, findings out.

use std::collections::BTreeMap;

/// Why `after` drops the uses of the attribute an `AttributeError` said is missing, if it does.
pub fn drops_missing_attribute(
    before: &str,
    after: &str,
    error_type: Option<&str>,
    message: Option<&str>,
) -> Vec<String> {
    let Some(name) = error_type
        .zip(message)
        .and_then(|(t, m)| missing_attribute(t, m))
    else {
        return Vec::new();
    };
    if crate::prove::syntax::parse_clean(after).is_none() {
        return Vec::new();
    }
    let (was, now) = (attributes(before), attributes(after));
    let count = |m: &BTreeMap<String, usize>, n: &str| m.get(n).copied().unwrap_or(0);
    let removed = count(&was, &name).saturating_sub(count(&now, &name));
    let added: usize = now
        .iter()
        .filter(|(n, _)| **n != name)
        .map(|(n, c)| c.saturating_sub(count(&was, n)))
        .sum();
    // The attribute put in its place means the opposite (`.lower()` for `.uppercase()`).
    let opposite: Vec<&String> = now
        .iter()
        .filter(|(n, c)| **c > count(&was, n) && opposes(&name, n))
        .map(|(n, _)| n)
        .collect();
    if removed > 0
        && let Some(n) = opposite.first()
    {
        return vec![format!(
            "it replaces `.{name}`, the attribute the error was about, with `.{n}`, which means the opposite: use the one that exists for what `.{name}` meant"
        )];
    }
    if removed == 0 || added >= removed {
        return Vec::new();
    }
    vec![format!(
        "it removes {removed} use(s) of `.{name}`, the attribute the error was about, instead of using one that exists (`.upper()` for `.uppercase()`): what it was meant to do would no longer be done"
    )]
}

/// Words that mean each other's opposite in method names.
const OPPOSITES: &[(&str, &str)] = &[
    ("upper", "lower"),
    ("max", "min"),
    ("first", "last"),
    ("start", "end"),
    ("begin", "end"),
    ("head", "tail"),
    ("left", "right"),
    ("prev", "next"),
    ("encode", "decode"),
    ("open", "close"),
    ("add", "remove"),
    ("increase", "decrease"),
    ("enable", "disable"),
    ("ascending", "descending"),
    ("before", "after"),
];

/// Whether `replacement` holds the opposite of a word `missing` holds (`uppercase`, `lower`).
fn opposes(missing: &str, replacement: &str) -> bool {
    let (m, r) = (missing.to_lowercase(), replacement.to_lowercase());
    OPPOSITES.iter().any(|(a, b)| {
        (m.contains(a) && r.contains(b) && !r.contains(a))
            || (m.contains(b) && r.contains(a) && !r.contains(b))
    })
}

/// The attribute an `AttributeError` names: `'str' object has no attribute 'uppercase'`,
/// `module 'json' has no attribute 'loadz'`.
fn missing_attribute(exc_type: &str, message: &str) -> Option<String> {
    if exc_type.rsplit('.').next() != Some("AttributeError") {
        return None;
    }
    let (_, rest) = message.split_once("has no attribute '")?;
    let name = rest.split('\'').next()?;
    crate::prove::bindings::is_identifier(name).then(|| name.to_string())
}

/// How many times each attribute name is used (`x.NAME`).
fn attributes(source: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let Some(tree) = crate::prove::syntax::parse(source) else {
        return out;
    };
    let src = source.as_bytes();
    for node in crate::prove::syntax::named_nodes(tree.root_node()) {
        if node.kind() == "attribute"
            && let Some(attr) = node.child_by_field_name("attribute")
            && let Ok(text) = attr.utf8_text(src)
        {
            *out.entry(text.to_string()).or_insert(0) += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADLINE: &str =
        "def headline(client):\n    return client.strip().uppercase() + \" DAILY REPORT\"\n";
    const ERROR: (&str, &str) = (
        "AttributeError",
        "'str' object has no attribute 'uppercase'",
    );

    fn found(after: &str) -> Vec<String> {
        drops_missing_attribute(HEADLINE, after, Some(ERROR.0), Some(ERROR.1))
    }

    #[test]
    fn the_missing_attribute_dropped_with_its_use_is_refused() {
        let dropped = HEADLINE.replace(".uppercase()", "");
        let why = found(&dropped);
        assert_eq!(why.len(), 1);
        assert!(
            why[0].contains("removes 1 use(s) of `.uppercase`"),
            "{why:?}"
        );
    }

    #[test]
    fn an_attribute_that_exists_or_another_error_is_allowed() {
        assert!(found(&HEADLINE.replace("uppercase", "upper")).is_empty());
        assert!(
            found(&HEADLINE.replace("client.strip().uppercase()", "str.upper(client.strip())"))
                .is_empty()
        );
        // A None guard keeps the use.
        let before = "def g(m):\n    return m.group(1)\n";
        let guarded = "def g(m):\n    if m is None:\n        raise ValueError('no match')\n    return m.group(1)\n";
        let none = "'NoneType' object has no attribute 'group'";
        assert!(
            drops_missing_attribute(before, guarded, Some("AttributeError"), Some(none)).is_empty()
        );
        // Not an AttributeError: not this rule's.
        let dropped = HEADLINE.replace(".uppercase()", "");
        assert!(
            drops_missing_attribute(HEADLINE, &dropped, Some("TypeError"), Some(ERROR.1))
                .is_empty()
        );
    }

    #[test]
    fn the_opposite_method_in_its_place_is_refused_and_the_meant_one_is_not() {
        let lower = HEADLINE.replace(".uppercase()", ".lower()");
        let f = found(&lower);
        assert!(
            f.iter()
                .any(|w| w.contains("with `.lower()`") || w.contains("`.lower`")),
            "{f:?}"
        );
        assert!(found(&HEADLINE.replace(".uppercase()", ".upper()")).is_empty());
        // A method of another word altogether (`push` → `append`) is not an opposite.
        assert!(!opposes("push", "append"));
        assert!(opposes("uppercase", "lower") && opposes("max_value", "min"));
    }
}
