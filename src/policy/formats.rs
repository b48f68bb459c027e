//! The output formats a fix must keep. `f"{row['price']:.2f}"` raised on a price read as a
//! string; dropping `:.2f` makes the crash go away and prints `3.5` where the code asked for
//! `3.50`. The right fix converts the value and keeps the format. A small model was seen to
//! drop it (the bench's `float_format_str`).
//!
//! A format spec is counted where the code writes one: an f-string's `{value:spec}`, a
//! `{…:spec}` field of a plain string (a `str.format` template), and `format(value, 'spec')`.
//! A fix may change a spec (`:d` to `:.0f`), or move it; it may not leave fewer of one kind
//! than there were.
//!
//! Pure: two texts in, findings out.

use std::collections::BTreeMap;

use tree_sitter::Node;

/// Why `after` drops format specs `before` had, one sentence per spec.
pub fn drops_formats(before: &str, after: &str) -> Vec<String> {
    // Text that does not parse is the syntax step's to refuse, with its own words.
    if crate::prove::syntax::parse_clean(after).is_none() {
        return Vec::new();
    }
    let was = specs(before);
    let now = specs(after);
    let total = |m: &BTreeMap<String, usize>| m.values().sum::<usize>();
    if total(&now) >= total(&was) {
        // A spec changed into another (`d` into `.0f`) is a fix of the format, not a drop.
        return Vec::new();
    }
    was.iter()
        .filter(|(spec, n)| now.get(*spec).copied().unwrap_or(0) < **n)
        .map(|(spec, _)| {
            format!(
                "it drops the format `:{spec}` the code asked for: the value would print in another form; convert the value and keep the format"
            )
        })
        .collect()
}

/// Each format spec of `source`, with how many times it is written.
fn specs(source: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let Some(tree) = crate::prove::syntax::parse(source) else {
        return out;
    };
    let src = source.as_bytes();
    for node in crate::prove::syntax::named_nodes(tree.root_node()) {
        match node.kind() {
            "format_specifier" => {
                if let Some(spec) = text(node, src).map(|t| t.trim_start_matches(':').trim())
                    && !spec.is_empty()
                    && !spec.contains('{')
                {
                    *out.entry(spec.to_string()).or_default() += 1;
                }
            }
            "string" if !is_fstring(node, src) => {
                for spec in text(node, src).map(template_specs).unwrap_or_default() {
                    *out.entry(spec).or_default() += 1;
                }
            }
            "call" => {
                if let Some(spec) = format_call_spec(node, src) {
                    *out.entry(spec).or_default() += 1;
                }
            }
            _ => {}
        }
    }
    out
}

fn text<'s>(node: Node<'_>, src: &'s [u8]) -> Option<&'s str> {
    node.utf8_text(src).ok()
}

/// Whether a string literal is an f-string (its prefix holds `f`).
fn is_fstring(node: Node<'_>, src: &[u8]) -> bool {
    text(node, src).is_some_and(|t| {
        t.chars()
            .take_while(|c| *c != '\'' && *c != '"')
            .any(|c| c == 'f' || c == 'F')
    })
}

/// The specs of a `str.format` template's fields: `{:.2f}`, `{0:>8}`, `{name:,}`; `{{` is a
/// literal brace.
fn template_specs(literal: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = literal;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        if let Some(after) = rest.strip_prefix('{') {
            rest = after;
            continue;
        }
        let Some(close) = rest.find('}') else {
            break;
        };
        let field = &rest[..close];
        rest = &rest[close + 1..];
        // A field name is an identifier, an index or empty, maybe with `!r`; anything else
        // (a dict literal's text, a sentence) is not a template field.
        let Some((name, spec)) = field.split_once(':') else {
            continue;
        };
        let name = name.split('!').next().unwrap_or(name);
        let named = name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '[' || c == ']');
        if named && !spec.is_empty() && !spec.contains(char::is_whitespace) {
            out.push(spec.to_string());
        }
    }
    out
}

/// `format(value, '.2f')`'s spec.
fn format_call_spec(call: Node<'_>, src: &[u8]) -> Option<String> {
    let function = call.child_by_field_name("function")?;
    if text(function, src)? != "format" {
        return None;
    }
    let args = call.child_by_field_name("arguments")?;
    let spec = args.named_child(1).filter(|a| a.kind() == "string")?;
    let literal = text(spec, src)?;
    let inner = literal.trim_matches(|c| c == '\'' || c == '"');
    (!inner.is_empty()).then(|| inner.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRICES: &str = "def price_lines(rows):\n    return [f\"{row['sku']}: {row['price']:.2f}\" for row in rows]\n";

    #[test]
    fn a_dropped_fstring_spec_is_refused_and_a_converted_value_is_not() {
        let dropped = PRICES.replace(":.2f}", "}");
        assert_eq!(
            drops_formats(PRICES, &dropped),
            [
                "it drops the format `:.2f` the code asked for: the value would print in another form; convert the value and keep the format"
            ]
        );
        let converted = PRICES.replace("{row['price']:.2f}", "{float(row['price']):.2f}");
        assert!(drops_formats(PRICES, &converted).is_empty());
        // Formatted another way, but still formatted: the spec moved into a format call.
        let moved = PRICES.replace("{row['price']:.2f}", "{format(float(row['price']), '.2f')}");
        assert!(drops_formats(PRICES, &moved).is_empty());
    }

    #[test]
    fn a_changed_spec_is_a_fix_of_the_format_not_a_drop() {
        let before = "def f(x):\n    return f'{x:d} units'\n";
        let after = "def f(x):\n    return f'{x:.0f} units'\n";
        assert!(drops_formats(before, after).is_empty());
    }

    #[test]
    fn template_and_format_call_specs_count_too() {
        let before = "def f(x):\n    return '{:.2f} EUR'.format(x) + format(x, ',')\n";
        let after = "def f(x):\n    return '{} EUR'.format(x) + format(x, ',')\n";
        assert_eq!(drops_formats(before, after).len(), 1);
        let after = "def f(x):\n    return '{:.2f} EUR'.format(x) + str(x)\n";
        assert_eq!(drops_formats(before, after).len(), 1);
        // A dict's text in a string, or a brace in prose, is no template.
        assert!(template_specs("{'a': 1}").is_empty());
        assert!(template_specs("use {{x:y}} or {a b: c}").is_empty());
        assert_eq!(template_specs("{0:>8} {name!r:^10}"), [">8", "^10"]);
    }

    #[test]
    fn unparsable_text_is_left_to_the_syntax_step() {
        assert!(drops_formats(PRICES, "def price_lines(:\n").is_empty());
    }
}
