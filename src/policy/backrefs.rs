//! A regular expression's group reference, deleted from a substitution. `CARD.sub(r"****\2",
//! line)` failed (`invalid group reference 2`: the pattern has one group); a small model's fix
//! made the replacement `r"****2"`, a literal 2, so every card number became `****2` (the
//! bench's `stdlib_re_group_ref`). The reference says which part of the match to keep: the fix
//! names a group the pattern has (`\1`), or gives the pattern the group; it does not drop it.
//!
//! Pure: two texts in, findings out.

use crate::prove::syntax;

/// Why `after` has fewer group references in the arguments of `sub`/`subn` calls than
/// `before`, if it does.
pub fn drops_group_references(before: &str, after: &str) -> Vec<String> {
    if syntax::parse_clean(after).is_none() {
        return Vec::new();
    }
    let (was, example) = references(before);
    let (now, _) = references(after);
    if now >= was {
        return Vec::new();
    }
    vec![format!(
        "it removes a group reference (`{example}`) from a regular expression's substitution: the part of the match it kept would be lost; reference a group the pattern has, or give the pattern that group"
    )]
}

/// How many group references (`\1`, `\g<name>`) the string arguments of `sub`/`subn` calls
/// hold, and the first one seen.
fn references(source: &str) -> (usize, String) {
    let Some(tree) = syntax::parse(source) else {
        return (0, String::new());
    };
    let src = source.as_bytes();
    let mut count = 0;
    let mut first = String::new();
    for call in syntax::named_nodes(tree.root_node()).filter(|n| n.kind() == "call") {
        let is_sub = call
            .child_by_field_name("function")
            .and_then(|f| f.utf8_text(src).ok())
            .is_some_and(|f| matches!(f.rsplit('.').next(), Some("sub" | "subn")));
        let Some(args) = call.child_by_field_name("arguments").filter(|_| is_sub) else {
            continue;
        };
        let mut cursor = args.walk();
        for arg in args.named_children(&mut cursor) {
            if arg.kind() != "string" {
                continue;
            }
            let text = arg.utf8_text(src).unwrap_or("");
            for (i, _) in text.match_indices('\\') {
                let rest = &text[i + 1..];
                let reference = if rest.starts_with(|c: char| c.is_ascii_digit() && c != '0') {
                    Some(&text[i..i + 2])
                } else if rest.starts_with("g<") {
                    rest.find('>').map(|end| &text[i..i + 2 + end])
                } else {
                    None
                };
                if let Some(r) = reference {
                    count += 1;
                    if first.is_empty() {
                        first = r.to_string();
                    }
                }
            }
        }
    }
    (count, first)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASK: &str = "import re\n\nCARD = re.compile(r\"\\b\\d{12}(\\d{4})\\b\")\n\n\ndef mask(line):\n    return CARD.sub(r\"************\\2\", line)\n";

    #[test]
    fn the_bench_answer_that_dropped_the_reference_is_refused() {
        let after = MASK.replace(r"************\2", "************2");
        let why = drops_group_references(MASK, &after);
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(why[0].contains(r"`\2`"), "{why:?}");
    }

    #[test]
    fn another_group_or_a_named_one_is_kept() {
        for after in [
            MASK.replace(r"\2", r"\1"),
            MASK.replace(r"\2", r"\g<1>"),
            MASK.replace("(\\d{4})", "(\\d{8})(\\d{4})"),
        ] {
            assert!(drops_group_references(MASK, &after).is_empty(), "{after}");
        }
        let named = "re.sub(r\"(?P<x>a)\", r\"\\g<x>!\", s)\n";
        assert_eq!(
            drops_group_references(named, "re.sub(r\"(?P<x>a)\", r\"!\", s)\n").len(),
            1
        );
    }
}
