//! A module's docstring, kept when a whole-file answer drops it. The small local model leaves
//! out a file's first lines, its module docstring, in most of its `file`-form answers (31 of the
//! crash bench's recorded fixes, right ones included), or turns it into a comment. That is not
//! the fix: it would land in the commit as a deleted docstring, and a reviewer would read it as
//! part of the change. The docstring says what the module is for; no crash is fixed by removing
//! it.
//!
//! Pure: two texts in, one out.

use crate::prove::syntax;

/// `new` with `current`'s module docstring (and whatever precedes it: a shebang, an encoding
/// line, comments) in place of the lines `new` has before its first statement, when `new` no
/// longer holds that docstring word for word. A docstring the answer kept, or a file that had
/// none, leaves `new` as it is.
pub fn keep_module_docstring(current: &str, new: &str) -> String {
    let Some((doc_end, text)) = docstring(current) else {
        return new.to_string();
    };
    if docstring(new).is_some_and(|(_, kept)| kept == text) {
        return new.to_string();
    }
    let current_lines: Vec<&str> = current.split_inclusive('\n').collect();
    let head: String = current_lines[..=doc_end].concat();
    // The answer's own prelude: blank lines, comments (the docstring commented out), and a
    // docstring of its own, up to its first statement.
    let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
    let mut skip = new_lines
        .iter()
        .take_while(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        .count();
    if let Some((end, _)) = docstring(&new_lines[skip..].concat()) {
        skip += end + 1;
        skip += new_lines[skip..]
            .iter()
            .take_while(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
            .count();
    }
    // The current file's blank lines after its docstring, so the prelude reads as it did.
    let blanks = current_lines[doc_end + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty())
        .count();
    let mut out = head;
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.extend(
        current_lines[doc_end + 1..doc_end + 1 + blanks]
            .iter()
            .copied(),
    );
    out.extend(new_lines[skip..].iter().copied());
    out
}

/// `source`'s module docstring, if it has one (a string that is the module's first statement,
/// comments before it aside): the 0-based row it ends on, and its text.
fn docstring(source: &str) -> Option<(usize, String)> {
    let tree = syntax::parse(source)?;
    let root = tree.root_node();
    let mut cursor = root.walk();
    let first = root
        .named_children(&mut cursor)
        .find(|n| n.kind() != "comment")?;
    let string = (first.kind() == "expression_statement" && first.named_child_count() == 1)
        .then(|| first.named_child(0))
        .flatten()
        .filter(|s| s.kind() == "string")?;
    let text = string.utf8_text(source.as_bytes()).ok()?.to_string();
    Some((string.end_position().row, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURRENT: &str = "\"\"\"Mean latency of the successful requests, from the access log.\"\"\"\n\nimport statistics\n\n\ndef mean(xs):\n    return statistics.mean(xs)\n";

    #[test]
    fn a_dropped_or_commented_docstring_comes_back() {
        let body =
            "import statistics\n\n\ndef mean(xs):\n    return statistics.mean(xs) if xs else 0.0\n";
        let expected = CURRENT.replace(
            "return statistics.mean(xs)\n",
            "return statistics.mean(xs) if xs else 0.0\n",
        );
        // Dropped (the first line left blank or not at all), commented out, or rewritten.
        for answer in [
            body.to_string(),
            format!("\n{body}"),
            format!("# Mean latency of the successful requests, from the access log.\n\n{body}"),
            format!(
                "# \"\"\"Mean latency of the successful requests, from the access log.\"\"\"\n{body}"
            ),
            format!("\"\"\"Mean latency.\"\"\"\n\n{body}"),
        ] {
            assert_eq!(
                keep_module_docstring(CURRENT, &answer),
                expected,
                "{answer}"
            );
        }
    }

    #[test]
    fn a_kept_docstring_or_a_file_without_one_is_left_as_it_is() {
        let kept = CURRENT.replace("statistics.mean(xs)\n", "statistics.mean(xs or [0])\n");
        assert_eq!(keep_module_docstring(CURRENT, &kept), kept);
        let none = "import os\n\nprint(os.sep)\n";
        let answer = "# a comment the model added\nimport os\n\nprint(os.sep)\n";
        assert_eq!(keep_module_docstring(none, answer), answer);
        // A shebang and a multi-line docstring come back whole.
        let script = "#!/usr/bin/env python3\n\"\"\"Tool.\n\nLonger text.\n\"\"\"\nimport sys\nprint(sys.argv)\n";
        let answer = "import sys\nprint(sys.argv[1:])\n";
        assert_eq!(
            keep_module_docstring(script, answer),
            "#!/usr/bin/env python3\n\"\"\"Tool.\n\nLonger text.\n\"\"\"\nimport sys\nprint(sys.argv[1:])\n"
        );
    }
}
