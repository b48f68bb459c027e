//! Stand-ins for the real code: a fix that replaces an imported name with a definition of its
//! own, or that adds a function whose body does nothing. Either makes the error go away by
//! cutting the program off from the code that would have run.
//!
//! Seen on the bench's `pkg_missing_arg` (2026-12-01): `render("shipped")` left out its
//! context; the model's fix deleted `from .templates import render`, defined
//! `def render(template, context): pass` in its place and passed the context to that. Every
//! call then returned None and the program printed `None`; nothing the proof compares had
//! worked before the crash, so only the policy can say no.
//!
//! Pure: two texts in, findings out.

use std::collections::{BTreeMap, BTreeSet};

use tree_sitter::Node;

use super::definitions::definitions;
use crate::prove::bindings::{Binding, Bound, bindings};
use crate::prove::syntax;

/// Why `after` replaces a name `before` imported with a definition of its own, if it does:
/// the import is gone and a `def` or `class` of that name is new.
pub fn replaces_import(before: &str, after: &str) -> Vec<String> {
    let (Some(old), Some(new)) = (syntax::parse(before), syntax::parse(after)) else {
        return Vec::new();
    };
    if new.root_node().has_error() {
        return Vec::new();
    }
    let (was, now) = (
        module_names(old.root_node(), before.as_bytes()),
        module_names(new.root_node(), after.as_bytes()),
    );
    was.imported
        .iter()
        .filter(|(name, _)| !now.imported.contains_key(*name))
        .filter(|(name, _)| now.defined.contains(*name) && !was.defined.contains(*name))
        .map(|(name, from)| {
            format!(
                "it replaces `{name}`, imported from `{from}`, with a definition of its own: the \
                 program would no longer run the real `{name}`; fix the call to it instead"
            )
        })
        .collect()
}

/// Why `after` adds a function whose body does nothing (only `pass`, `...`, a docstring or a
/// bare `return`/`return None`), if it does. A function `before` already had is not judged.
pub fn adds_empty_function(before: &str, after: &str) -> Vec<String> {
    let (Some(old), Some(new)) = (syntax::parse(before), syntax::parse(after)) else {
        return Vec::new();
    };
    if new.root_node().has_error() {
        return Vec::new();
    }
    let had: BTreeSet<String> = definitions(old.root_node(), before.as_bytes())
        .into_iter()
        .map(|d| d.path)
        .collect();
    definitions(new.root_node(), after.as_bytes())
        .into_iter()
        .filter(|d| d.does_nothing && !had.contains(&d.path))
        .map(|d| {
            format!(
                "it adds `{}`, a function that does nothing: every call to it returns None \
                 and hides what the real code would do",
                d.path
            )
        })
        .collect()
}

/// What a module binds at its top level (and in its top-level `if`, `try` and `with` blocks).
#[derive(Default)]
struct ModuleNames {
    /// Each imported name, with the module it comes from as written.
    imported: BTreeMap<String, String>,
    /// Names of `def` and `class` statements.
    defined: BTreeSet<String>,
}

fn module_names(root: Node<'_>, src: &[u8]) -> ModuleNames {
    let mut out = ModuleNames::default();
    for Binding { name, bound } in bindings(root, src) {
        match bound {
            Bound::Import { from } => {
                out.imported.insert(name, from);
            }
            Bound::Definition => {
                out.defined.insert(name);
            }
            Bound::Assignment => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bench's `pkg_missing_arg`, `notify/messages.py`.
    const MESSAGES: &str = "\"\"\"Customer notifications.\"\"\"\n\nfrom .templates import render\n\n\ndef shipped_message(customer, order):\n    \"\"\"The 'shipped' message.\"\"\"\n    context = {\"name\": customer[\"name\"], \"order\": order}\n    return render(\"shipped\")\n";

    #[test]
    fn the_benchs_stub_in_place_of_the_import_is_refused_twice() {
        // The model's answer, as the bench recorded it.
        let stub = MESSAGES
            .replace(
                "from .templates import render\n",
                "def render(template, context):\n    \"\"\"Render a template with the given context.\"\"\"\n    # Implementation of the render function goes here\n    pass  # Placeholder for the actual implementation\n",
            )
            .replace("render(\"shipped\")", "render(\"shipped\", context)");
        let replaced = replaces_import(MESSAGES, &stub);
        assert_eq!(replaced.len(), 1, "{replaced:?}");
        assert!(replaced[0].contains("`render`, imported from `.templates`"));
        let empty = adds_empty_function(MESSAGES, &stub);
        assert_eq!(empty.len(), 1, "{empty:?}");
        assert!(empty[0].contains("`render`, a function that does nothing"));
        // The right fix: the context passed, the import kept.
        let right = MESSAGES.replace("render(\"shipped\")", "render(\"shipped\", context)");
        assert!(replaces_import(MESSAGES, &right).is_empty());
        assert!(adds_empty_function(MESSAGES, &right).is_empty());
    }

    #[test]
    fn near_misses_are_not_stand_ins() {
        // The name imported from elsewhere, or under its module: still the real code.
        let moved = MESSAGES.replace("from .templates import", "from .render import");
        assert!(replaces_import(MESSAGES, &moved).is_empty());
        let module = MESSAGES
            .replace("from .templates import render", "from . import templates")
            .replace("return render(", "return templates.render(");
        assert!(replaces_import(MESSAGES, &module).is_empty());
        // A definition of its own with a working body, the import kept beside it: not a
        // replacement (and not empty).
        let helper = MESSAGES.replace(
            "\n\ndef shipped_message",
            "\n\ndef context_of(customer, order):\n    return {\"name\": customer[\"name\"], \"order\": order}\n\n\ndef shipped_message",
        );
        assert!(replaces_import(MESSAGES, &helper).is_empty());
        assert!(adds_empty_function(MESSAGES, &helper).is_empty());
        // An import that was gone already is nobody's: `import os as o` aliased, dropped, and
        // `o` defined would be; a plain unused import dropped is not.
        let aliased = "import os.path as o\n\nprint(o)\n";
        let own = "def o():\n    return 1\n\nprint(o)\n";
        assert_eq!(replaces_import(aliased, own).len(), 1);
        assert!(replaces_import(aliased, "print(1)\n").is_empty());
        // An empty function the program already had, an abstract method, an overload.
        let had = "def hook():\n    pass\n\nx = 1\n";
        assert!(adds_empty_function(had, &had.replace("x = 1", "x = 2")).is_empty());
        let abstract_method = "import abc\n\nclass Base(abc.ABC):\n    @abc.abstractmethod\n    def run(self):\n        ...\n";
        assert!(adds_empty_function("import abc\n", abstract_method).is_empty());
        // A new method that only returns None is empty; one that returns a value is not.
        let class = "class Sink:\n    def write(self, data):\n        return len(data)\n";
        let with_close = format!("{class}\n    def close(self):\n        return None\n");
        assert_eq!(
            adds_empty_function(class, &with_close),
            vec!["it adds `Sink.close`, a function that does nothing: every call to it returns None and hides what the real code would do".to_string()]
        );
        let with_size = format!("{class}\n    def size(self):\n        return 0\n");
        assert!(adds_empty_function(class, &with_size).is_empty());
    }
}
