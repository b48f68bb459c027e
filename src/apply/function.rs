//! The `function` edit form (`llm.edit_form = "function"`): the model names the function it
//! changes by its `def` line (`search`, one line, easy to copy exactly) and gives the whole new
//! function (`replace`); heal finds the function in the file, takes its current text as the
//! search, and re-indents the new text to where the function stands. Small models fail most
//! at reproducing the exact lines they change; a `def` line they rarely get wrong.
//!
//! A changed signature is refused unless the error is about the function's arguments: a fix
//! that changes how a function is called must change every caller, which one function cannot.
//!
//! Pure: texts in, edits out.

use super::Edit;

/// Why a function edit cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionEditError {
    #[error("no function `{0}` in the file")]
    NotFound(String),
    #[error(
        "`{name}` names {count} functions in the file: put more of the `def` line, or the class, in `search`"
    )]
    Ambiguous { name: String, count: usize },
    #[error(
        "the fix changes the signature of `{name}` (`{before}` became `{after}`), which its callers rely on; keep the signature, since the error is not about the function's arguments"
    )]
    Signature {
        name: String,
        before: String,
        after: String,
    },
}

/// Whether the error says a function was called with the wrong arguments: then a signature
/// change may be the fix.
pub fn error_is_about_arguments(exc_type: &str, message: &str) -> bool {
    let short = exc_type.rsplit('.').next().unwrap_or(exc_type);
    short == "TypeError"
        && [
            "positional argument",
            "keyword argument",
            "required argument",
            "takes no arguments",
            "unexpected keyword",
        ]
        .iter()
        .any(|w| message.contains(w))
}

/// The search/replace edit an edit of the function form stands for, given the file's current
/// `text`; `Ok(None)` when `edit` is an ordinary search/replace edit (its search is not a lone
/// `def` line).
pub fn expand(
    text: &str,
    edit: &Edit,
    signature_may_change: bool,
) -> Result<Option<Edit>, FunctionEditError> {
    let search = edit.search.trim();
    if search.contains('\n') || def_name(search).is_none() {
        return Ok(None);
    }
    let Some(name) = def_name(search) else {
        return Ok(None);
    };
    let functions = crate::prove::edited::functions(text);
    let candidates: Vec<_> = functions
        .iter()
        .filter(|f| f.qualname.rsplit('.').next() == Some(name.as_str()))
        .collect();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    // Several of that name (methods of different classes): the exact `def` line decides.
    let found = match candidates.as_slice() {
        [] => return Err(FunctionEditError::NotFound(name)),
        [one] => *one,
        many => {
            let exact: Vec<_> = many
                .iter()
                .filter(|f| def_line(&lines, f.start, f.end).is_some_and(|l| l.trim() == search))
                .collect();
            match exact.as_slice() {
                [one] => **one,
                _ => {
                    return Err(FunctionEditError::Ambiguous {
                        name,
                        count: many.len(),
                    });
                }
            }
        }
    };
    let start = found.start.saturating_sub(1) as usize;
    let end = (found.end as usize).min(lines.len());
    let current: String = lines[start..end].concat();
    let indent: String = lines
        .get(start)
        .map(|l| l.chars().take_while(|c| *c == ' ' || *c == '\t').collect())
        .unwrap_or_default();
    let mut replace = reindent(&edit.replace, &indent);
    if current.ends_with('\n') && !replace.ends_with('\n') {
        replace.push('\n');
    }
    if !signature_may_change {
        let before = def_line(&lines, found.start, found.end).unwrap_or_default();
        let new_lines: Vec<&str> = replace.split_inclusive('\n').collect();
        let after = new_lines
            .iter()
            .find(|l| def_name(l.trim()).is_some())
            .copied()
            .unwrap_or_default();
        if signature(before) != signature(after) {
            return Err(FunctionEditError::Signature {
                name: found.qualname.clone(),
                before: before.trim().to_string(),
                after: after.trim().to_string(),
            });
        }
    }
    Ok(Some(Edit {
        file: edit.file.clone(),
        search: current,
        replace,
    }))
}

/// The function's `def` line among lines `start..=end` (1-based), past its decorators.
fn def_line<'a>(lines: &[&'a str], start: u32, end: u32) -> Option<&'a str> {
    let from = start.saturating_sub(1) as usize;
    let to = (end as usize).min(lines.len());
    lines
        .get(from..to)?
        .iter()
        .find(|l| def_name(l.trim()).is_some())
        .copied()
}

/// The name a `def` line defines: `def f(`, `async def f(`.
fn def_name(line: &str) -> Option<String> {
    let rest = line
        .strip_prefix("async def ")
        .or_else(|| line.strip_prefix("def "))?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && rest[name.len()..].trim_start().starts_with('(')).then_some(name)
}

/// A `def` line with its whitespace dropped: signatures compare equal across formatting.
fn signature(def: &str) -> String {
    def.split('#')
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// `code` moved so that its first line starts at `indent`, every line keeping its place
/// relative to the first.
fn reindent(code: &str, indent: &str) -> String {
    let lines: Vec<&str> = code.split_inclusive('\n').collect();
    let first = lines
        .iter()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| {
            if l.trim().is_empty() {
                l.trim_start_matches([' ', '\t']).to_string()
            } else {
                let own = l.len() - l.trim_start().len();
                let keep = own.saturating_sub(first);
                format!("{indent}{}{}", " ".repeat(keep), l.trim_start())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
import os


class Budget:
    def share(self, total, n):
        return total / n


def share(total, n):
    return total / n
";

    fn edit(search: &str, replace: &str) -> Edit {
        Edit {
            file: "app.py".into(),
            search: search.into(),
            replace: replace.into(),
        }
    }

    #[test]
    fn the_def_line_names_the_function_and_the_new_text_is_reindented() {
        let e = edit(
            "def share(self, total, n):",
            "def share(self, total, n):\n    if n == 0:\n        return 0.0\n    return total / n\n",
        );
        let out = expand(FILE, &e, false).unwrap().unwrap();
        assert_eq!(
            out.search,
            "    def share(self, total, n):\n        return total / n\n"
        );
        assert_eq!(
            out.replace,
            "    def share(self, total, n):\n        if n == 0:\n            return 0.0\n        return total / n\n"
        );
        // The top-level one, by its own def line.
        let e = edit(
            "def share(total, n):",
            "def share(total, n):\n    return total / max(n, 1)\n",
        );
        let out = expand(FILE, &e, false).unwrap().unwrap();
        assert_eq!(out.search, "def share(total, n):\n    return total / n\n");
    }

    #[test]
    fn a_changed_signature_is_refused_unless_the_error_is_about_arguments() {
        let e = edit(
            "def share(total, n):",
            "def share(total, n=1):\n    return total / n\n",
        );
        let err = expand(FILE, &e, false).unwrap_err();
        assert!(matches!(err, FunctionEditError::Signature { .. }), "{err}");
        assert!(expand(FILE, &e, true).unwrap().is_some());
        assert!(error_is_about_arguments(
            "TypeError",
            "share() missing 1 required positional argument: 'n'"
        ));
        assert!(!error_is_about_arguments(
            "ZeroDivisionError",
            "division by zero"
        ));
    }

    #[test]
    fn ordinary_edits_and_unknown_names_are_told_apart() {
        assert_eq!(
            expand(FILE, &edit("    return total / n\n", "x"), false),
            Ok(None)
        );
        assert_eq!(
            expand(
                FILE,
                &edit("def nothing(x):", "def nothing(x):\n    pass\n"),
                false
            ),
            Err(FunctionEditError::NotFound("nothing".into()))
        );
        let e = edit("def share(a, b):", "def share(a, b):\n    pass\n");
        assert!(matches!(
            expand(FILE, &e, false),
            Err(FunctionEditError::Ambiguous { .. })
        ));
    }
}
