//! `unused-import`: `No module named 'x'` raised by an import the file does not need.
//!
//! Accepted: the failing line belongs to an `import` or `from ... import` statement of the
//! missing module (or of one of its submodules, or of a module inside it), the statement stands
//! alone on its lines, and none of the names it binds is used anywhere else in the file: no
//! identifier outside the statement spells it (attribute and keyword names count too, to stay
//! on the safe side), and no string is exactly it (`__all__`, `getattr(m, "x")`). The
//! statement's lines are removed; a statement that was the only one of its block becomes
//! `pass`.
//!
//! Declined: star imports (their names are unknown), relative imports (the message names the
//! package path, not what the file wrote), a statement sharing its line with another one.

use std::sync::LazyLock;

use regex::Regex;
use tree_sitter::Node;

use crate::analyse::answer::Category;

use super::tree::{self, Edit, text};
use super::{Proposal, RuleFix, RuleInput, checked};

pub(super) const NAME: &str = "unused-import";

pub(super) fn fix(input: &RuleInput) -> Option<RuleFix> {
    if !matches!(
        input.error.exc_type.as_str(),
        "ModuleNotFoundError" | "ImportError"
    ) {
        return None;
    }
    let missing = missing_module(&input.error.message)?;
    let tree = tree::parse(input.source)?;
    let root = tree.root_node();
    let row = usize::try_from(input.line).ok()?.checked_sub(1)?;
    let statement = tree::nodes(root).into_iter().find(|n| {
        matches!(n.kind(), "import_statement" | "import_from_statement")
            && n.start_position().row <= row
            && row <= n.end_position().row
    })?;
    let bound = imports_module(statement, input.source, &missing)?;
    if bound
        .iter()
        .any(|name| used_elsewhere(root, input.source, statement, name))
    {
        return None;
    }
    let edit = removal(statement, input.source)?;
    let after = tree::apply(input.source, vec![edit])?;
    let first = statement.start_position().row + 1;
    let last = statement.end_position().row + 1;
    let lines = if first == last {
        format!("line {first}")
    } else {
        format!("lines {first}-{last}")
    };
    let summary = format!("remove the unused import of missing module `{missing}` ({lines})");
    let cause = format!(
        "the module `{missing}` cannot be found, and its import ({lines}) binds nothing the file uses"
    );
    checked(
        NAME,
        input,
        Proposal {
            after,
            summary,
            cause,
            category: Category::Import,
        },
    )
}

/// The module of `No module named 'x'` (3.x) or `No module named x` (2.7).
fn missing_module(message: &str) -> Option<String> {
    static MODULE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^No module named (?:'([^']+)'|([\w.]+))").expect("module regex")
    });
    let caps = MODULE.captures(message.lines().next()?)?;
    let name = caps.get(1).or_else(|| caps.get(2))?.as_str();
    Some(name.to_string())
}

/// The names `statement` binds, when it imports `missing`; `None` otherwise.
fn imports_module(statement: Node<'_>, source: &str, missing: &str) -> Option<Vec<String>> {
    // `missing` is the module itself, one inside it, or the package it is in.
    let related = |module: &str| {
        module == missing
            || module.starts_with(&format!("{missing}."))
            || missing.starts_with(&format!("{module}."))
    };
    let mut cursor = statement.walk();
    let names: Vec<Node<'_>> = statement
        .children_by_field_name("name", &mut cursor)
        .collect();
    let mut bound = Vec::new();
    let mut imports_it = false;
    if statement.kind() == "import_from_statement" {
        let module = statement.child_by_field_name("module_name")?;
        if module.kind() != "dotted_name"
            || tree::nodes(statement)
                .iter()
                .any(|n| n.kind() == "wildcard_import")
        {
            return None;
        }
        let module = text(module, source);
        imports_it = related(module);
        for name in names {
            let (dotted, alias) = split_alias(name)?;
            let dotted = text(dotted, source);
            imports_it |= related(&format!("{module}.{dotted}"));
            bound.push(alias.map_or(dotted, |a| text(a, source)).to_string());
        }
    } else {
        for name in names {
            let (dotted, alias) = split_alias(name)?;
            let dotted = text(dotted, source);
            imports_it |= related(dotted);
            let binds = match alias {
                Some(a) => text(a, source),
                None => dotted.split('.').next().unwrap_or(dotted),
            };
            bound.push(binds.to_string());
        }
    }
    (imports_it && !bound.is_empty()).then_some(bound)
}

/// The dotted name of an imported name, and its alias.
fn split_alias(name: Node<'_>) -> Option<(Node<'_>, Option<Node<'_>>)> {
    match name.kind() {
        "aliased_import" => Some((
            name.child_by_field_name("name")?,
            Some(name.child_by_field_name("alias")?),
        )),
        "dotted_name" => Some((name, None)),
        _ => None,
    }
}

/// True when `name` appears outside `statement` as any identifier, or as a whole string.
fn used_elsewhere(root: Node<'_>, source: &str, statement: Node<'_>, name: &str) -> bool {
    let inside = statement.byte_range();
    tree::nodes(root).into_iter().any(|n| {
        if inside.contains(&n.start_byte()) {
            return false;
        }
        match n.kind() {
            "identifier" => text(n, source) == name,
            "string_content" => text(n, source) == name,
            _ => false,
        }
    })
}

/// The edit removing `statement`'s lines, or turning it into `pass` when its block would be
/// left empty; `None` when it shares a line with other code.
fn removal(statement: Node<'_>, source: &str) -> Option<Edit> {
    let start = statement.start_byte();
    let end = statement.end_byte();
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[end..]
        .find('\n')
        .map_or(source.len(), |i| end + i + 1);
    let before = &source[line_start..start];
    if !before.trim_matches([' ', '\t', '\x0c']).is_empty() {
        return None;
    }
    // After it, on its last line: nothing but blanks and a comment.
    let after = source[end..line_end].trim();
    if !after.is_empty() && !after.starts_with('#') {
        return None;
    }
    let alone_in_block = statement.parent().is_some_and(|block| {
        block.kind() == "block" && {
            let mut cursor = block.walk();
            block
                .named_children(&mut cursor)
                .filter(|c| c.kind() != "comment")
                .count()
                == 1
        }
    });
    let text = if alone_in_block {
        let newline = if source[end..line_end].ends_with('\n') {
            "\n"
        } else {
            ""
        };
        format!("{before}pass{newline}")
    } else {
        String::new()
    };
    Some(Edit {
        start: line_start,
        end: line_end,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{error, input_for};
    use super::*;

    fn fixed(message: &str, line: u32, source: &str) -> Option<String> {
        let e = error("ModuleNotFoundError", message);
        fix(&input_for(&e, line, source)).map(|f| f.after)
    }

    #[test]
    fn removes_an_unused_import() {
        let src = "import os\nimport numpyy  # fast maths\nprint(os.sep)\n";
        assert_eq!(
            fixed("No module named 'numpyy'", 2, src).as_deref(),
            Some("import os\nprint(os.sep)\n")
        );
    }

    #[test]
    fn an_import_used_elsewhere_declines() {
        let src = "import numpyy\nprint(numpyy.zeros(3))\n";
        assert_eq!(fixed("No module named 'numpyy'", 1, src), None);
        let aliased = "import numpyy as np\nprint(np.zeros(3))\n";
        assert_eq!(fixed("No module named 'numpyy'", 1, aliased), None);
        let from = "from yaml_x import load\nload('a')\n";
        assert_eq!(fixed("No module named 'yaml_x'", 1, from), None);
        let exported = "from yaml_x import load\n__all__ = ['load']\n";
        assert_eq!(fixed("No module named 'yaml_x'", 1, exported), None);
    }

    #[test]
    fn multi_line_from_import_and_submodules() {
        let src = "from pkg.sub import (\n    a,\n    b as c,\n)\nprint(1)\n";
        assert_eq!(
            fixed("No module named 'pkg'", 2, src).as_deref(),
            Some("print(1)\n")
        );
        let sub = "import pkg.sub.mod\nprint(1)\n";
        assert_eq!(
            fixed("No module named 'pkg.sub'", 1, sub).as_deref(),
            Some("print(1)\n")
        );
        let from_sub = "from pkg import mod\nprint(1)\n";
        assert_eq!(
            fixed("No module named 'pkg.mod'", 1, from_sub).as_deref(),
            Some("print(1)\n")
        );
    }

    #[test]
    fn the_only_statement_of_a_block_becomes_pass() {
        let src = "try:\n    import fancy\nexcept ValueError:\n    pass\n";
        assert_eq!(
            fixed("No module named 'fancy'", 2, src).as_deref(),
            Some("try:\n    pass\nexcept ValueError:\n    pass\n")
        );
    }

    #[test]
    fn another_module_or_a_shared_line_declines() {
        let src = "import requests\nprint(1)\n";
        assert_eq!(fixed("No module named 'numpyy'", 1, src), None);
        let shared = "import os; import numpyy\nprint(1)\n";
        assert_eq!(fixed("No module named 'numpyy'", 1, shared), None);
        let star = "from numpyy import *\nprint(1)\n";
        assert_eq!(fixed("No module named 'numpyy'", 1, star), None);
    }
}
