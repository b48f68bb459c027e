//! What a NameError, AttributeError or ImportError says is missing, Python's hint if it gave
//! one, and the edit distance the name rules use.
//!
//! Message forms (CPython 2.7 to 3.13):
//! - `name 'x' is not defined` (`global name 'x' ...` in 2.7), then from 3.10
//!   `. Did you mean: 'y'?`, from 3.12 also `Did you mean: 'self.y'?` inside methods and
//!   `. Did you forget to import 'x'?` or `? Or did you forget to import 'x'?` for stdlib
//!   module names.
//! - `'T' object has no attribute 'x'`, `type object 'T' has no attribute 'x'`,
//!   `module 'm' has no attribute 'x'`, then from 3.10 `. Did you mean: 'y'?`.
//! - `cannot import name 'x' from 'm' (path)`, then from 3.12 `. Did you mean: 'y'?`.
//!
//! Some newer messages (3.13's keyword-argument TypeError) write `Did you mean 'y'?` without
//! the colon; both forms are read.

use std::sync::LazyLock;

use regex::Regex;

use crate::analyse::answer::Category;

/// The name an error says is missing, and what it was looked up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Missing {
    /// A NameError's variable.
    Name(String),
    /// An AttributeError's attribute.
    Attribute { owner: Owner, name: String },
    /// An ImportError's `cannot import name 'name' from 'module'`.
    ImportName { module: String, name: String },
}

/// What an attribute was looked up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Owner {
    /// `'T' object has no attribute`: an instance of `T`.
    Instance(String),
    /// `type object 'T' has no attribute`: the class `T` itself.
    Class(String),
    /// `module 'm' has no attribute`.
    Module(String),
}

impl Missing {
    pub(super) fn name(&self) -> &str {
        match self {
            Missing::Name(n) => n,
            Missing::Attribute { name, .. } => name,
            Missing::ImportName { name, .. } => name,
        }
    }

    /// What is missing, as a cause reads it: "`x` is not defined", "a `str` object has no
    /// attribute `x`", ...
    pub(super) fn describe(&self) -> String {
        match self {
            Missing::Name(n) => format!("`{n}` is not defined"),
            Missing::Attribute { owner, name } => match owner {
                Owner::Instance(t) => format!("a `{t}` object has no attribute `{name}`"),
                Owner::Class(t) => format!("the class `{t}` has no attribute `{name}`"),
                Owner::Module(m) => format!("the module `{m}` has no attribute `{name}`"),
            },
            Missing::ImportName { module, name } => {
                format!("the module `{module}` has no `{name}` to import")
            }
        }
    }

    pub(super) fn category(&self) -> Category {
        match self {
            Missing::Name(_) => Category::Name,
            Missing::Attribute { .. } => Category::Attribute,
            Missing::ImportName { .. } => Category::Import,
        }
    }
}

/// What the error says is missing; `None` for any other error or message shape.
pub(super) fn missing(exc_type: &str, message: &str) -> Option<Missing> {
    static NAME: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?:global )?name '([^']+)' is not defined").expect("name regex")
    });
    static ATTRIBUTE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(type object |module )?'([^']+)'(?: object)? has no attribute '([^']+)'")
            .expect("attribute regex")
    });
    static IMPORT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^cannot import name '([^']+)' from '([^']+)'").expect("import regex")
    });
    let first = message.lines().next().unwrap_or("");
    let found = match exc_type {
        "NameError" => Missing::Name(NAME.captures(first)?[1].to_string()),
        "AttributeError" => {
            let caps = ATTRIBUTE.captures(first)?;
            let of = caps[2].to_string();
            let owner = match caps.get(1).map(|m| m.as_str()) {
                Some("type object ") => Owner::Class(of),
                Some(_) => Owner::Module(of),
                None => Owner::Instance(of),
            };
            Missing::Attribute {
                owner,
                name: caps[3].to_string(),
            }
        }
        "ImportError" => {
            let caps = IMPORT.captures(first)?;
            Missing::ImportName {
                module: caps[2].to_string(),
                name: caps[1].to_string(),
            }
        }
        _ => return None,
    };
    // The rules look for identifiers in the tree: a `<lambda>` or a dotted path is not one.
    super::tree::is_identifier(found.name()).then_some(found)
}

/// Python's suggestion, as far as the rules trust it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Hint {
    /// No suggestion at all.
    None,
    /// `Did you mean: 'y'?` and nothing else.
    Mean(String),
    /// A suggestion the rules do not act on: `Did you forget to import`, or two suggestions.
    Other,
}

pub(super) fn hint(message: &str) -> Hint {
    static MEAN: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"Did you mean:? '([^']+)'\?").expect("hint regex"));
    let first = message.lines().next().unwrap_or("");
    if first.contains("did you forget to import") || first.contains("Did you forget to import") {
        return Hint::Other;
    }
    let mut found = MEAN.captures_iter(first);
    match (found.next(), found.next()) {
        (None, _) => {
            if first.contains("Did you mean") {
                Hint::Other
            } else {
                Hint::None
            }
        }
        (Some(one), None) => Hint::Mean(one[1].to_string()),
        (Some(_), Some(_)) => Hint::Other,
    }
}

/// Optimal string alignment distance (Damerau–Levenshtein with adjacent transpositions),
/// counted in characters.
pub(super) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// The largest distance at which a name is taken for a typo of `wrong`: 1 for names of up to 4
/// characters, 2 for longer ones. One-character names are never corrected: `x` is as likely a
/// variable someone forgot to define as a typo of `y`.
pub(super) fn max_distance(wrong: &str) -> Option<usize> {
    match wrong.chars().count() {
        0 | 1 => None,
        2..=4 => Some(1),
        _ => Some(2),
    }
}

/// Longer names are not corrected.
const MAX_NAME: usize = 80;

/// The one candidate nearest to `wrong` within [`max_distance`]; `None` when there is none, or
/// when two different names are equally near.
pub(super) fn nearest<'c>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let max = max_distance(wrong)?;
    let length = wrong.chars().count();
    // Python stops suggesting past 40 characters too; the cap keeps the distance table small.
    if length > MAX_NAME {
        return None;
    }
    let mut best: Option<(usize, &str)> = None;
    let mut tied = false;
    for candidate in candidates {
        // Names whose lengths differ by more than `max` cannot be within it.
        if candidate == wrong || candidate.chars().count().abs_diff(length) > max {
            continue;
        }
        let d = distance(wrong, candidate);
        if d > max {
            continue;
        }
        match best {
            Some((b, name)) if d == b && name != candidate => tied = true,
            Some((b, _)) if d >= b => {}
            _ => {
                best = Some((d, candidate));
                tied = false;
            }
        }
    }
    if tied {
        None
    } else {
        best.map(|(_, name)| name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_is_missing() {
        assert_eq!(
            missing(
                "NameError",
                "name 'totl' is not defined. Did you mean: 'total'?"
            ),
            Some(Missing::Name("totl".into()))
        );
        assert_eq!(
            missing("NameError", "global name 'totl' is not defined"),
            Some(Missing::Name("totl".into()))
        );
        assert_eq!(
            missing(
                "AttributeError",
                "'str' object has no attribute 'uper'. Did you mean: 'upper'?"
            ),
            Some(Missing::Attribute {
                owner: Owner::Instance("str".into()),
                name: "uper".into()
            })
        );
        assert_eq!(
            missing("AttributeError", "module 'os' has no attribute 'pth'"),
            Some(Missing::Attribute {
                owner: Owner::Module("os".into()),
                name: "pth".into()
            })
        );
        assert_eq!(
            missing("AttributeError", "type object 'A' has no attribute 'b'"),
            Some(Missing::Attribute {
                owner: Owner::Class("A".into()),
                name: "b".into()
            })
        );
        assert_eq!(
            missing(
                "ImportError",
                "cannot import name 'namedtupel' from 'collections' (/x/__init__.py). Did you mean: 'namedtuple'?"
            ),
            Some(Missing::ImportName {
                module: "collections".into(),
                name: "namedtupel".into()
            })
        );
        // A partially initialised module is a circular import, not a typo.
        assert_eq!(
            missing(
                "AttributeError",
                "partially initialized module 'a' has no attribute 'b' (most likely due to a circular import)"
            ),
            None
        );
        assert_eq!(
            missing("UnboundLocalError", "cannot access local variable 'x'"),
            None
        );
        assert_eq!(missing("KeyError", "'x'"), None);
    }

    #[test]
    fn reads_hints() {
        assert_eq!(
            hint("name 'mesage' is not defined. Did you mean: 'message'?"),
            Hint::Mean("message".into())
        );
        assert_eq!(
            hint("got an unexpected keyword argument 'x'. Did you mean 'y'?"),
            Hint::Mean("y".into())
        );
        assert_eq!(
            hint("name 'val' is not defined. Did you mean: 'self.val'?"),
            Hint::Mean("self.val".into())
        );
        assert_eq!(
            hint("name 'sys' is not defined. Did you forget to import 'sys'?"),
            Hint::Other
        );
        assert_eq!(
            hint("name 'io' is not defined. Did you mean: 'id'? Or did you forget to import 'io'?"),
            Hint::Other
        );
        assert_eq!(hint("name 'x' is not defined"), Hint::None);
    }

    #[test]
    fn distances() {
        assert_eq!(distance("totl", "total"), 1);
        assert_eq!(distance("lsit", "list"), 1);
        assert_eq!(distance("abc", "abc"), 0);
        assert_eq!(distance("", "ab"), 2);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("naïve", "naive"), 1);
    }

    #[test]
    fn nearest_needs_one_winner() {
        assert_eq!(nearest("lsit", ["list", "lost_and_found"]), Some("list"));
        // Two candidates at the same best distance: not sure.
        assert_eq!(nearest("data3", ["data1", "data2"]), None);
        // A nearer one wins over farther ones.
        assert_eq!(nearest("data1x", ["data1", "data2"]), Some("data1"));
        // The same name twice is one candidate.
        assert_eq!(nearest("totl", ["total", "total"]), Some("total"));
        assert_eq!(nearest("x", ["y"]), None);
        assert_eq!(nearest("abcd", ["abxy"]), None);
    }
}
