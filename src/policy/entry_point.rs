//! The program's entry point, deleted. `if __name__ == "__main__": main()` is how a script runs
//! at all; a fix that drops it makes the program exit 0 at once, having done nothing, which a
//! re-run takes for a clean run. A small model's whole-file answer was seen to drop it (the
//! bench's `missing_argument`, whose fix was otherwise right).
//!
//! Pure: two texts in, findings out.

/// Why `after` deletes the `__main__` guard `before` had, if it does.
pub fn drops_entry_point(before: &str, after: &str) -> Vec<String> {
    if crate::prove::syntax::parse_clean(after).is_none() {
        return Vec::new();
    }
    if guards(before) > guards(after) {
        vec![
            "it deletes the program's entry point (`if __name__ == \"__main__\":`): the program would run nothing".to_string(),
        ]
    } else {
        Vec::new()
    }
}

/// How many module-level `if` statements test `__name__` against `"__main__"`.
fn guards(source: &str) -> usize {
    let Some(tree) = crate::prove::syntax::parse(source) else {
        return 0;
    };
    let src = source.as_bytes();
    let root = tree.root_node();
    let mut cursor = root.walk();
    root.named_children(&mut cursor)
        .filter(|n| n.kind() == "if_statement")
        .filter_map(|n| n.child_by_field_name("condition"))
        .filter_map(|c| c.utf8_text(src).ok())
        .filter(|c| c.contains("__name__") && c.contains("__main__"))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str =
        "def main():\n    print(1)\n\n\nif __name__ == \"__main__\":\n    main()\n";

    #[test]
    fn a_deleted_main_guard_is_refused_a_kept_or_rewritten_one_is_not() {
        let dropped = "def main():\n    print(1)\n";
        assert_eq!(drops_entry_point(SCRIPT, dropped).len(), 1);
        let quoted = SCRIPT.replace("\"__main__\"", "'__main__'");
        assert!(drops_entry_point(SCRIPT, &quoted).is_empty());
        let changed = SCRIPT.replace("    main()\n", "    main()\n    print(2)\n");
        assert!(drops_entry_point(SCRIPT, &changed).is_empty());
        // A module without one has nothing to lose.
        assert!(drops_entry_point("x = 1\n", "x = 2\n").is_empty());
    }
}
