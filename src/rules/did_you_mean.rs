//! `did-you-mean`: Python's own hint (`Did you mean: 'total'?`, 3.10 and later) for a
//! NameError, an AttributeError or an ImportError, applied to the failing line only.
//!
//! Only whole tokens of the syntax tree are replaced: the variable's identifiers, the attribute
//! node of `x.attr`, the imported name of `from m import name`. The same letters inside a longer
//! name, a string or a comment are never touched.
//!
//! Several occurrences on the failing line: for a NameError every use of the variable on the
//! line is replaced, since they all name the same missing variable and would all fail. The rule
//! declines when one of them binds the name some other way (a lambda parameter, a comprehension
//! variable), because then they are not the same variable. For an AttributeError, occurrences
//! are replaced only when they are all looked up on the same expression (`self.x ... self.x`);
//! on different objects they may be of different types, and the rule declines.

use tree_sitter::Node;

use super::names::{self, Hint, Missing};
use super::scope::{self, Use};
use super::tree::{self, is_identifier, text};
use super::{Proposal, RuleFix, RuleInput, checked};

pub(super) const NAME: &str = "did-you-mean";

pub(super) fn fix(input: &RuleInput) -> Option<RuleFix> {
    let Hint::Mean(hint) = names::hint(&input.error.message) else {
        return None;
    };
    let missing = names::missing(&input.error.exc_type, &input.error.message)?;
    let wrong = missing.name();
    if hint == wrong {
        return None;
    }
    let tree = tree::parse(input.source)?;
    let root = tree.root_node();
    let row = usize::try_from(input.line).ok()?.checked_sub(1)?;
    let targets = match &missing {
        Missing::Name(_) => name_targets(root, input.source, row, wrong, &hint)?,
        Missing::Attribute { .. } if is_identifier(&hint) => {
            attribute_targets(root, input.source, row, wrong)?
        }
        Missing::ImportName { .. } if is_identifier(&hint) => {
            import_targets(root, input.source, row, wrong)?
        }
        _ => return None,
    };
    if targets.is_empty() {
        return None;
    }
    let after = tree::apply(input.source, tree::replace_nodes(&targets, &hint))?;
    let summary = format!(
        "replace `{wrong}` with `{hint}` on line {} (Python's own hint)",
        input.line
    );
    let cause = format!(
        "{} (line {}): a typo for `{hint}`, the name Python suggests",
        missing.describe(),
        input.line
    );
    let category = missing.category();
    checked(
        NAME,
        input,
        Proposal {
            after,
            summary,
            cause,
            category,
        },
    )
}

/// The variable's uses on the line. `hint` may be `self.name` (3.12 and later, in methods).
fn name_targets<'t>(
    root: Node<'t>,
    source: &str,
    row: usize,
    wrong: &str,
    hint: &str,
) -> Option<Vec<Node<'t>>> {
    let plain = is_identifier(hint);
    let on_self = hint.strip_prefix("self.").is_some_and(is_identifier);
    if !plain && !on_self {
        return None;
    }
    // 3.10 and 3.11 do not look at `self`: for `return val` in a method of a class with
    // `self.val`, they suggest the builtin `eval`. When the file has `self.wrong`, the hint
    // is not trusted.
    if plain && self_attribute_exists(root, source, wrong) {
        return None;
    }
    scope::variable_uses(root, source, row, wrong)
}

/// True when the file reads or writes `self.name` anywhere.
fn self_attribute_exists(root: Node<'_>, source: &str, name: &str) -> bool {
    tree::nodes(root).into_iter().any(|n| {
        n.kind() == "attribute"
            && n.child_by_field_name("object")
                .is_some_and(|o| text(o, source) == "self")
            && n.child_by_field_name("attribute")
                .is_some_and(|a| text(a, source) == name)
    })
}

/// The attribute nodes `.wrong` on the line, when they are all on the same expression.
pub(super) fn attribute_targets<'t>(
    root: Node<'t>,
    source: &str,
    row: usize,
    wrong: &str,
) -> Option<Vec<Node<'t>>> {
    let mut objects = Vec::new();
    let mut targets = Vec::new();
    for id in scope::identifiers_on_row(root, source, row, wrong) {
        let Some(parent) = id.parent().filter(|p| p.kind() == "attribute") else {
            continue;
        };
        if !tree::field_is(id, "attribute") {
            continue;
        }
        let object = parent.child_by_field_name("object")?;
        objects.push(text(object, source));
        targets.push(id);
    }
    objects.sort_unstable();
    objects.dedup();
    (objects.len() <= 1).then_some(targets)
}

/// The imported name in `from m import wrong` (or `wrong as alias`) on the line. Without an
/// alias the import binds `wrong`: when the file uses `wrong` anywhere else, renaming it in the
/// import alone would break those uses, and the rule declines.
fn import_targets<'t>(
    root: Node<'t>,
    source: &str,
    row: usize,
    wrong: &str,
) -> Option<Vec<Node<'t>>> {
    let statement = tree::nodes(root).into_iter().find(|n| {
        n.kind() == "import_from_statement"
            && n.start_position().row <= row
            && row <= n.end_position().row
    })?;
    let mut cursor = statement.walk();
    let imported: Vec<Node<'t>> = statement
        .children_by_field_name("name", &mut cursor)
        .collect();
    for name in imported {
        let (dotted, aliased) = match name.kind() {
            "aliased_import" => (name.child_by_field_name("name")?, true),
            _ => (name, false),
        };
        if text(dotted, source) != wrong {
            continue;
        }
        if !aliased && used_outside(root, source, statement, wrong) {
            return None;
        }
        return Some(vec![dotted]);
    }
    None
}

/// True when an identifier spelled `name` outside `statement` names a variable.
fn used_outside(root: Node<'_>, source: &str, statement: Node<'_>, name: &str) -> bool {
    let inside = statement.byte_range();
    tree::nodes(root).into_iter().any(|n| {
        n.kind() == "identifier"
            && !inside.contains(&n.start_byte())
            && text(n, source) == name
            && scope::use_of(n) != Use::Other
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{error, input_for};
    use super::*;

    const TOTL: &str = "name 'totl' is not defined. Did you mean: 'total'?";

    fn fixed(exc: &str, message: &str, line: u32, source: &str) -> Option<String> {
        let e = error(exc, message);
        fix(&input_for(&e, line, source)).map(|f| f.after)
    }

    #[test]
    fn replaces_the_variable_only() {
        let src = "total = 1\ntotally = 2\nprint(\"totl\", totl, totally)  # totl\n";
        assert_eq!(
            fixed("NameError", TOTL, 3, src).as_deref(),
            Some("total = 1\ntotally = 2\nprint(\"totl\", total, totally)  # totl\n")
        );
    }

    #[test]
    fn replaces_every_use_on_the_line() {
        let src = "total = 1\nprint(totl + totl, f(totl=2))\n";
        assert_eq!(
            fixed("NameError", TOTL, 2, src).as_deref(),
            Some("total = 1\nprint(total + total, f(totl=2))\n")
        );
    }

    #[test]
    fn a_name_only_in_a_string_is_left_alone() {
        let src = "total = 1\nprint(\"totl\")\n";
        assert_eq!(fixed("NameError", TOTL, 2, src), None);
    }

    #[test]
    fn totl_inside_totally_is_not_a_match() {
        let src = "total = 1\nprint(totally)\n";
        assert_eq!(fixed("NameError", TOTL, 2, src), None);
    }

    #[test]
    fn a_lambda_parameter_of_the_same_name_declines() {
        let src = "total = 1\nf = (lambda totl: totl)(totl)\n";
        assert_eq!(fixed("NameError", TOTL, 2, src), None);
    }

    #[test]
    fn eval_for_a_self_attribute_is_not_trusted() {
        let src = "class A:\n    def __init__(self):\n        self.val = 1\n    def f(self):\n        return val\n";
        let msg_311 = "name 'val' is not defined. Did you mean: 'eval'?";
        assert_eq!(fixed("NameError", msg_311, 5, src), None);
        let msg_312 = "name 'val' is not defined. Did you mean: 'self.val'?";
        assert_eq!(
            fixed("NameError", msg_312, 5, src).as_deref(),
            Some(
                "class A:\n    def __init__(self):\n        self.val = 1\n    def f(self):\n        return self.val\n"
            )
        );
    }

    #[test]
    fn forget_to_import_is_not_a_typo() {
        let src = "import os\nx = sys.argv\n";
        assert_eq!(
            fixed(
                "NameError",
                "name 'sys' is not defined. Did you forget to import 'sys'?",
                2,
                src
            ),
            None
        );
    }

    #[test]
    fn attribute_hint() {
        let src = "def shout(s):\n    return s.uper() + uper\n";
        assert_eq!(
            fixed(
                "AttributeError",
                "'str' object has no attribute 'uper'. Did you mean: 'upper'?",
                2,
                src
            )
            .as_deref(),
            Some("def shout(s):\n    return s.upper() + uper\n")
        );
        let two_objects = "def f(a, b):\n    return a.uper() + b.uper()\n";
        assert_eq!(
            fixed(
                "AttributeError",
                "'str' object has no attribute 'uper'. Did you mean: 'upper'?",
                2,
                two_objects
            ),
            None
        );
    }

    #[test]
    fn import_hint_of_312() {
        let msg = "cannot import name 'namedtupel' from 'collections' (/x/collections/__init__.py). Did you mean: 'namedtuple'?";
        let src = "from collections import OrderedDict, namedtupel as nt\nP = nt('P', 'x')\n";
        assert_eq!(
            fixed("ImportError", msg, 1, src).as_deref(),
            Some("from collections import OrderedDict, namedtuple as nt\nP = nt('P', 'x')\n")
        );
        let unaliased = "from collections import namedtupel\nP = namedtuple('P', 'x')\n";
        assert_eq!(
            fixed("ImportError", msg, 1, unaliased).as_deref(),
            Some("from collections import namedtuple\nP = namedtuple('P', 'x')\n")
        );
        // The misspelt name is used below: renaming the import alone would break that use.
        let used = "from collections import namedtupel\nP = namedtupel('P', 'x')\n";
        assert_eq!(fixed("ImportError", msg, 1, used), None);
    }
}
