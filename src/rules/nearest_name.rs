//! `nearest-name`: a NameError or AttributeError without Python's hint (Python before 3.10, or
//! a typo Python's own measure finds too far, like the transposed `lsit`), when exactly one
//! known name is a small edit away (see [`names::max_distance`]).
//!
//! Known names:
//! - for a variable: the names bound in the scopes that can see the failing line (assignments,
//!   parameters, defs, classes, imports, loop targets) and Python's builtins. A file with a star
//!   import declines: the name may come from there.
//! - for an attribute of a builtin type (`'str' object`): that type's attributes.
//! - for an attribute of a class defined in the file (`'Cart' object`, `type object 'Cart'`):
//!   its body's names, its bases' (when they are in the file too), and for instances what its
//!   methods assign on `self`. Every attribute the file assigns anywhere also competes, so a
//!   tie with one of them declines.
//! - a module's attributes cannot be known without importing it, and an ImportError's module
//!   neither: those decline.
//!
//! Occurrences on the failing line are replaced as `did-you-mean` replaces them.

use tree_sitter::Node;

use super::builtins;
use super::did_you_mean::attribute_targets;
use super::names::{self, Hint, Missing, Owner};
use super::scope;
use super::tree;
use super::{Proposal, RuleFix, RuleInput, checked};

pub(super) const NAME: &str = "nearest-name";

pub(super) fn fix(input: &RuleInput) -> Option<RuleFix> {
    if names::hint(&input.error.message) != Hint::None {
        return None;
    }
    let missing = names::missing(&input.error.exc_type, &input.error.message)?;
    let wrong = missing.name();
    let tree = tree::parse(input.source)?;
    let root = tree.root_node();
    let row = usize::try_from(input.line).ok()?.checked_sub(1)?;
    let (targets, right) = match &missing {
        Missing::Name(_) => variable(root, input.source, row, wrong)?,
        Missing::Attribute { owner, .. } => attribute(root, input.source, row, wrong, owner)?,
        Missing::ImportName { .. } => return None,
    };
    if targets.is_empty() {
        return None;
    }
    let after = tree::apply(input.source, tree::replace_nodes(&targets, &right))?;
    let distance = names::distance(wrong, &right);
    let summary = format!(
        "replace `{wrong}` with `{right}` on line {} (the only known name {distance} {} away)",
        input.line,
        if distance == 1 { "edit" } else { "edits" }
    );
    let cause = format!(
        "{} (line {}): a typo for `{right}`, the only known name that close",
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

fn variable<'t>(
    root: Node<'t>,
    source: &str,
    row: usize,
    wrong: &str,
) -> Option<(Vec<Node<'t>>, String)> {
    if scope::has_star_import(root) {
        return None;
    }
    let uses = scope::variable_uses(root, source, row, wrong)?;
    let mut right: Option<String> = None;
    // Each use is looked up from where it stands (a use inside a lambda also sees the
    // lambda's parameters); they must all agree.
    for use_ in &uses {
        let mut candidates = scope::visible_names(root, source, *use_);
        candidates.extend(builtins::builtins().map(str::to_string));
        let near = names::nearest(wrong, candidates.iter().map(String::as_str))?;
        match &right {
            Some(r) if r != near => return None,
            _ => right = Some(near.to_string()),
        }
    }
    Some((uses, right?))
}

fn attribute<'t>(
    root: Node<'t>,
    source: &str,
    row: usize,
    wrong: &str,
    owner: &Owner,
) -> Option<(Vec<Node<'t>>, String)> {
    let targets = attribute_targets(root, source, row, wrong)?;
    let (known, builtin) = match owner {
        Owner::Instance(t) => match builtins::type_attributes(t) {
            Some(list) => (list.map(str::to_string).collect(), true),
            None => (scope::class_members(root, source, t, true)?, false),
        },
        Owner::Class(t) => (scope::class_members(root, source, t, false)?, false),
        Owner::Module(_) => return None,
    };
    let mut rivals = known.clone();
    if !builtin {
        rivals.extend(
            scope::assigned_attributes(root, source)
                .into_iter()
                .map(|(_, a)| a),
        );
    }
    let right = names::nearest(wrong, rivals.iter().map(String::as_str))?;
    if !known.iter().any(|k| k == right) {
        return None;
    }
    Some((targets, right.to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{error, input_for};
    use super::*;

    fn fixed(exc: &str, message: &str, line: u32, source: &str) -> Option<String> {
        let e = error(exc, message);
        fix(&input_for(&e, line, source)).map(|f| f.after)
    }

    #[test]
    fn a_transposed_builtin() {
        let src = "xs = lsit(range(3))\n";
        assert_eq!(
            fixed("NameError", "name 'lsit' is not defined", 1, src).as_deref(),
            Some("xs = list(range(3))\n")
        );
    }

    #[test]
    fn a_local_of_the_function() {
        let src = "def f(items):\n    count = len(items)\n    return cuont + 1\n";
        assert_eq!(
            fixed("NameError", "name 'cuont' is not defined", 3, src).as_deref(),
            Some("def f(items):\n    count = len(items)\n    return count + 1\n")
        );
    }

    #[test]
    fn two_candidates_at_the_same_distance_decline() {
        let src = "data1 = 1\ndata2 = 2\nprint(data3)\n";
        assert_eq!(
            fixed("NameError", "name 'data3' is not defined", 3, src),
            None
        );
    }

    #[test]
    fn a_name_of_another_function_is_out_of_reach() {
        let src = "def f():\n    total = 1\ndef g():\n    return totl\n";
        assert_eq!(
            fixed("NameError", "name 'totl' is not defined", 4, src),
            None
        );
    }

    #[test]
    fn a_hint_is_left_to_did_you_mean() {
        let src = "total = 1\nprint(totl)\n";
        assert_eq!(
            fixed(
                "NameError",
                "name 'totl' is not defined. Did you mean: 'total'?",
                2,
                src
            ),
            None
        );
    }

    #[test]
    fn a_star_import_declines() {
        let src = "from helpers import *\ntotal = 1\nprint(totl)\n";
        assert_eq!(
            fixed("NameError", "name 'totl' is not defined", 3, src),
            None
        );
    }

    #[test]
    fn attribute_of_a_class_in_the_file() {
        let src = "class Cart:\n    def __init__(self):\n        self.items = []\n    def size(self):\n        return len(self.itmes)\n";
        assert_eq!(
            fixed(
                "AttributeError",
                "'Cart' object has no attribute 'itmes'",
                5,
                src
            )
            .as_deref(),
            Some(
                "class Cart:\n    def __init__(self):\n        self.items = []\n    def size(self):\n        return len(self.items)\n"
            )
        );
    }

    #[test]
    fn attribute_of_a_str() {
        let src = "print('a'.uper())\n";
        assert_eq!(
            fixed(
                "AttributeError",
                "'str' object has no attribute 'uper'",
                1,
                src
            )
            .as_deref(),
            Some("print('a'.upper())\n")
        );
    }

    #[test]
    fn attribute_of_a_module_declines() {
        let src = "import os\nos.pth\n";
        assert_eq!(
            fixed(
                "AttributeError",
                "module 'os' has no attribute 'pth'",
                2,
                src
            ),
            None
        );
    }

    #[test]
    fn attribute_of_a_class_from_elsewhere_declines() {
        let src = "from models import Base\nclass Cart(Base):\n    def __init__(self):\n        self.items = []\n    def size(self):\n        return len(self.itmes)\n";
        assert_eq!(
            fixed(
                "AttributeError",
                "'Cart' object has no attribute 'itmes'",
                6,
                src
            ),
            None
        );
    }
}
