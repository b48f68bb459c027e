//! What a fix touched, in the fixed text: the lines it added or changed, and the functions it
//! edited with their line ranges and Python qualified names (`Budget.share`,
//! `main.<locals>.step`). The verdict uses it to tell an error the fix caused from one the
//! program only reached because it now gets further; the behaviour check uses the names.
//!
//! Pure: texts in, values out. A file tree-sitter cannot parse still gets its changed lines,
//! only no functions.

use std::collections::BTreeSet;

use crate::apply::Plan;

/// What one plan touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edited {
    pub files: Vec<EditedFile>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditedFile {
    /// Relative to the project root, as in the plan.
    pub rel: String,
    /// 1-based lines of the fixed text that the fix added or changed; a deletion marks the
    /// lines on either side of it.
    pub changed: BTreeSet<u32>,
    /// The innermost function around each changed line, once each.
    pub functions: Vec<EditedFunction>,
    /// The functions an error in is the fix's: the innermost around each changed line, and
    /// the one around that when the changed line is a `def` (a function the fix nested
    /// inside a method leaves the method edited too).
    pub enclosing: Vec<EditedFunction>,
    /// Module-level names the file bound before the fix and no longer binds: a deleted
    /// import, definition or assignment.
    pub unbound: BTreeSet<String>,
    /// Edited functions (qualnames) that may hand their caller None after the fix and could
    /// not before it: the fix gave them a None.
    pub none_added: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditedFunction {
    /// As Python's `__qualname__` spells it.
    pub qualname: String,
    /// 1-based, inclusive, in the fixed text: from the `def` (decorators included) to its
    /// last line.
    pub start: u32,
    pub end: u32,
    /// Whether the function may hand its caller None: a bare `return`, a `None` in a returned
    /// value (`x if c else None`), or a way through its body that falls off the end.
    pub may_return_none: bool,
}

impl Edited {
    /// The regions `plan` touched.
    pub fn of(plan: &Plan) -> Edited {
        Edited {
            files: plan
                .files
                .iter()
                .map(|f| edited_file(&f.rel, &f.before, &f.after))
                .collect(),
        }
    }

    fn file(&self, rel: &str) -> Option<&EditedFile> {
        self.files.iter().find(|f| f.rel == rel)
    }

    /// Whether `line` of `rel` is one the fix added or changed.
    pub fn changed_line(&self, rel: &str, line: u32) -> bool {
        self.file(rel).is_some_and(|f| f.changed.contains(&line))
    }

    /// The edited function `line` of `rel` is in, if any.
    pub fn function_at(&self, rel: &str, line: u32) -> Option<&EditedFunction> {
        self.file(rel)?
            .enclosing
            .iter()
            .filter(|f| f.start <= line && line <= f.end)
            // The innermost: nested functions start later and end sooner.
            .max_by_key(|f| f.start)
    }

    /// The file whose module-level `name` the fix deleted, if one did.
    pub fn unbinding(&self, name: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|f| f.unbound.contains(name))
            .map(|f| f.rel.as_str())
    }

    /// Whether the fix gave the function `qualname` of some edited file a None to return.
    pub fn gave_none(&self, qualname: &str) -> bool {
        self.files.iter().any(|f| f.none_added.contains(qualname))
    }

    /// Every edited function, as (file, qualname).
    pub fn functions(&self) -> Vec<(String, String)> {
        self.files
            .iter()
            .flat_map(|f| {
                f.functions
                    .iter()
                    .map(|func| (f.rel.clone(), func.qualname.clone()))
            })
            .collect()
    }
}

fn edited_file(rel: &str, before: &str, after: &str) -> EditedFile {
    let changed = changed_lines(before, after);
    let defs = functions(after);
    let mut functions: Vec<EditedFunction> = Vec::new();
    let mut enclosing: Vec<EditedFunction> = Vec::new();
    for &line in &changed {
        // Innermost first. A changed `def` line is a statement of the function around it
        // too: that one counts as edited for the errors that follow.
        let mut around: Vec<&EditedFunction> = defs
            .iter()
            .filter(|f| f.start <= line && line <= f.end)
            .collect();
        around.sort_by_key(|f| std::cmp::Reverse(f.start));
        let depth = if around.first().is_some_and(|f| f.start == line) {
            2
        } else {
            1
        };
        for f in around.into_iter().take(depth) {
            if !enclosing.contains(f) {
                enclosing.push(f.clone());
            }
        }
        let innermost = defs
            .iter()
            .filter(|f| f.start <= line && line <= f.end)
            .max_by_key(|f| f.start);
        if let Some(f) = innermost
            && !functions.contains(f)
        {
            functions.push(f.clone());
        }
    }
    let now = super::bindings::module_bindings(after);
    let unbound = super::bindings::module_bindings(before)
        .into_iter()
        .filter(|name| !now.contains(name))
        .collect();
    let could_before: BTreeSet<String> = self::functions(before)
        .into_iter()
        .filter(|f| f.may_return_none)
        .map(|f| f.qualname)
        .collect();
    let none_added = functions
        .iter()
        .filter(|f| f.may_return_none && !could_before.contains(&f.qualname))
        .map(|f| f.qualname.clone())
        .collect();
    EditedFile {
        rel: rel.to_string(),
        changed,
        functions,
        enclosing,
        unbound,
        none_added,
    }
}

/// The 1-based lines of `after` a line diff from `before` marks as new, and the neighbours
/// of each deletion.
fn changed_lines(before: &str, after: &str) -> BTreeSet<u32> {
    use similar::DiffOp;
    let diff = similar::TextDiff::from_lines(before, after);
    let mut out = BTreeSet::new();
    let line = |i: usize| u32::try_from(i + 1).unwrap_or(u32::MAX);
    for op in diff.ops() {
        match *op {
            DiffOp::Equal { .. } => {}
            DiffOp::Delete { new_index, .. } => {
                if new_index > 0 {
                    out.insert(line(new_index - 1));
                }
                out.insert(line(new_index));
            }
            DiffOp::Insert {
                new_index, new_len, ..
            }
            | DiffOp::Replace {
                new_index, new_len, ..
            } => {
                for i in new_index..new_index + new_len {
                    out.insert(line(i));
                }
            }
        }
    }
    out
}

/// Every function defined in `source`, with its qualified name and line range.
pub fn functions(source: &str) -> Vec<EditedFunction> {
    let Some(tree) = super::syntax::parse(source) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk(
        tree.root_node(),
        source.as_bytes(),
        &mut Vec::new(),
        &mut out,
    );
    out
}

/// One level of the name path: a class, or a function (whose inner names get `<locals>`).
enum Scope {
    Class(String),
    Function(String),
}

fn walk(
    node: tree_sitter::Node<'_>,
    src: &[u8],
    scopes: &mut Vec<Scope>,
    out: &mut Vec<EditedFunction>,
) {
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        // A decorated definition's range starts at its first decorator.
        let (def, range_node) = if child.kind() == "decorated_definition" {
            match child.child_by_field_name("definition") {
                Some(d) => (d, child),
                None => continue,
            }
        } else {
            (child, child)
        };
        let name = def
            .child_by_field_name("name")
            .and_then(|n| n.utf8_text(src).ok())
            .map(str::to_string);
        match (def.kind(), name) {
            ("function_definition", Some(name)) => {
                let qualname = qualify(scopes, &name);
                let body = def.child_by_field_name("body");
                out.push(EditedFunction {
                    qualname,
                    start: row(range_node.start_position().row),
                    end: row(range_node.end_position().row),
                    may_return_none: body.is_some_and(|b| super::none_paths::may_return_none(b)),
                });
                scopes.push(Scope::Function(name));
                if let Some(body) = def.child_by_field_name("body") {
                    walk(body, src, scopes, out);
                }
                scopes.pop();
            }
            ("class_definition", Some(name)) => {
                scopes.push(Scope::Class(name));
                if let Some(body) = def.child_by_field_name("body") {
                    walk(body, src, scopes, out);
                }
                scopes.pop();
            }
            // Definitions inside `if`, `try`, `with`... bodies keep the enclosing scope.
            _ => walk(child, src, scopes, out),
        }
    }
}

fn qualify(scopes: &[Scope], name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for scope in scopes {
        match scope {
            Scope::Class(n) => parts.push(n),
            Scope::Function(n) => {
                parts.push(n);
                parts.push("<locals>");
            }
        }
    }
    parts.push(name);
    parts.join(".")
}

fn row(r: usize) -> u32 {
    u32::try_from(r + 1).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::PlannedFile;

    const BEFORE: &str = "\
import os


class Budget:
    @property
    def total(self):
        return 1

    def share(self, n):
        return self.total / n


def main():
    def step(x):
        return x + 1
    return step(1)
";

    fn plan(after: &str) -> Plan {
        Plan {
            files: vec![PlannedFile {
                rel: "app.py".to_string(),
                abs: "/x/app.py".into(),
                before: BEFORE.to_string(),
                after: after.to_string(),
            }],
        }
    }

    #[test]
    fn qualified_names_and_ranges_follow_python() {
        let names: Vec<(String, u32, u32)> = functions(BEFORE)
            .into_iter()
            .map(|f| (f.qualname, f.start, f.end))
            .collect();
        assert_eq!(
            names,
            [
                ("Budget.total".to_string(), 5, 7),
                ("Budget.share".to_string(), 9, 10),
                ("main".to_string(), 13, 16),
                ("main.<locals>.step".to_string(), 14, 15),
            ]
        );
    }

    #[test]
    fn a_changed_line_names_its_innermost_function() {
        let after = BEFORE.replace("return x + 1", "return x + 2");
        let e = Edited::of(&plan(&after));
        assert_eq!(e.files[0].changed, BTreeSet::from([15]));
        assert_eq!(
            e.functions(),
            [("app.py".to_string(), "main.<locals>.step".to_string())]
        );
        assert!(e.changed_line("app.py", 15));
        assert!(!e.changed_line("app.py", 16));
        // `main` encloses the change but was not edited itself.
        assert!(e.function_at("app.py", 16).is_none());
        assert_eq!(
            e.function_at("app.py", 15).unwrap().qualname,
            "main.<locals>.step"
        );
        assert!(e.function_at("app.py", 10).is_none());
    }

    #[test]
    fn module_level_edits_name_no_function_and_deletions_mark_their_neighbours() {
        let after = BEFORE.replace("import os\n", "");
        let e = Edited::of(&plan(&after));
        assert_eq!(e.files[0].changed, BTreeSet::from([1]));
        assert!(e.functions().is_empty());

        let after = BEFORE.replace("        return self.total / n\n", "        pass\n");
        let e = Edited::of(&plan(&after));
        assert_eq!(
            e.functions(),
            [("app.py".to_string(), "Budget.share".to_string())]
        );
    }
}
