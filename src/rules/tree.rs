//! Tree-sitter and text helpers shared by the rules: parsing, the "parses cleanly" check, walks,
//! lines, and applying byte-range edits.

use tree_sitter::Node;

pub(super) use crate::prove::syntax::parse;

/// True when tree-sitter reads `source` without any ERROR or MISSING node. False when it
/// cannot run: a rule that cannot check its result is not sure of it.
pub(super) fn parses_cleanly(source: &str) -> bool {
    let Some(tree) = parse(source) else {
        return false;
    };
    let root = tree.root_node();
    // `has_error` covers MISSING nodes too; the walk is a second look that costs little.
    !root.has_error() && !nodes(root).iter().any(|n| n.is_error() || n.is_missing())
}

/// Every node under `root` (itself included), in document order. Iterative: a deeply nested
/// file must not exhaust the stack.
pub(super) fn nodes(root: Node<'_>) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut cursor = root.walk();
    loop {
        out.push(cursor.node());
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return out;
            }
        }
    }
}

/// The source text of `node` ("" if it is not valid UTF-8, which a `&str` source rules out).
pub(super) fn text<'s>(node: Node<'_>, source: &'s str) -> &'s str {
    source.get(node.byte_range()).unwrap_or("")
}

/// True when `node` fills the field `name` of its parent (`left` of an assignment, ...).
pub(super) fn field_is(node: Node<'_>, name: &str) -> bool {
    let Some(parent) = node.parent() else {
        return false;
    };
    let mut cursor = parent.walk();
    let found = parent.children(&mut cursor).position(|child| child == node);
    found
        .and_then(|i| u32::try_from(i).ok())
        .and_then(|i| parent.field_name_for_child(i))
        == Some(name)
}

/// Byte range of 1-based `line`'s content, without its line ending.
pub(super) fn line_range(source: &str, line: u32) -> Option<(usize, usize)> {
    let index = usize::try_from(line).ok()?.checked_sub(1)?;
    let mut start = 0;
    for (i, l) in source.split_inclusive('\n').enumerate() {
        if i == index {
            let content = l.strip_suffix('\n').unwrap_or(l);
            let content = content.strip_suffix('\r').unwrap_or(content);
            return Some((start, start + content.len()));
        }
        start += l.len();
    }
    None
}

/// 1-based `line`'s content, without its line ending.
pub(super) fn line_text(source: &str, line: u32) -> Option<&str> {
    let (start, end) = line_range(source, line)?;
    source.get(start..end)
}

/// Length in bytes of the indentation (spaces, tabs, form feeds) that starts `line`.
pub(super) fn indent_len(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t', '\x0c']).len()
}

/// One replacement of a byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// `source` with `edits` applied; `None` when two edits overlap or one is out of range.
pub(super) fn apply(source: &str, mut edits: Vec<Edit>) -> Option<String> {
    edits.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(source.len() + 16);
    let mut at = 0;
    for edit in edits {
        if edit.start < at || edit.end < edit.start {
            return None;
        }
        out.push_str(source.get(at..edit.start)?);
        out.push_str(&edit.text);
        at = edit.end;
    }
    out.push_str(source.get(at..)?);
    Some(out)
}

/// Edits replacing each node with `text`.
pub(super) fn replace_nodes(nodes: &[Node<'_>], text: &str) -> Vec<Edit> {
    nodes
        .iter()
        .map(|n| Edit {
            start: n.start_byte(),
            end: n.end_byte(),
            text: text.to_string(),
        })
        .collect()
}

/// A Python identifier (Unicode letters allowed, as Python allows them).
pub(super) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_and_broken_sources() {
        assert!(parses_cleanly("def f(x):\n    return x\n"));
        assert!(!parses_cleanly("def f(x)\n    return x\n"));
        assert!(!parses_cleanly("print(1 2)\n"));
    }

    #[test]
    fn lines_and_edits() {
        let src = "a = 1\r\nbb = 2\nc";
        assert_eq!(line_text(src, 1), Some("a = 1"));
        assert_eq!(line_text(src, 2), Some("bb = 2"));
        assert_eq!(line_text(src, 3), Some("c"));
        assert_eq!(line_text(src, 4), None);
        assert_eq!(line_text(src, 0), None);
        let edits = vec![
            Edit {
                start: 7,
                end: 9,
                text: "b".into(),
            },
            Edit {
                start: 0,
                end: 1,
                text: "aa".into(),
            },
        ];
        assert_eq!(apply(src, edits).as_deref(), Some("aa = 1\r\nb = 2\nc"));
        let overlapping = vec![
            Edit {
                start: 0,
                end: 3,
                text: String::new(),
            },
            Edit {
                start: 2,
                end: 4,
                text: String::new(),
            },
        ];
        assert_eq!(apply(src, overlapping), None);
    }

    #[test]
    fn fields_of_children() {
        let src = "x.y = f(k=v)\n";
        let tree = parse(src).unwrap();
        let ids: Vec<_> = nodes(tree.root_node())
            .into_iter()
            .filter(|n| n.kind() == "identifier")
            .collect();
        let fields = ["object", "attribute", "function", "name", "value"];
        assert_eq!(ids.len(), fields.len());
        for (id, f) in ids.iter().zip(fields) {
            assert!(field_is(*id, f), "{} is not {f}", text(*id, src));
            assert!(!field_is(*id, "left"));
        }
    }
}
