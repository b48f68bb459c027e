//! What "the same error" means when a fix is re-run: the same exception type raised from the
//! same place (file name and function of the innermost frame).
//!
//! Messages and line numbers are left out of the comparison on purpose: a fix shifts line
//! numbers, and messages carry values (ids, keys) that change from run to run. Pure: no I/O.

use crate::detect::Traceback;
use crate::detect::python::{self, CAUSE_MESSAGE, CONTEXT_MESSAGE, HEADER, TOP_GROUP_HEADER};

/// The error a fix is meant to remove, as the incident recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorSignature {
    /// As Python printed it, possibly dotted (`json.decoder.JSONDecodeError`).
    pub exc_type: String,
    /// For reports only; not compared.
    pub message: String,
    /// The innermost frame, when the traceback had one (a SyntaxError may have none).
    pub location: Option<ErrorLocation>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorLocation {
    /// The path as printed; compared by file name only, since the copy lives elsewhere.
    pub file: String,
    /// Empty when Python printed none.
    pub function: String,
}

impl ErrorSignature {
    /// Whether the error is Python's own about a None: an `AttributeError` or `TypeError`
    /// naming `'NoneType'` (`'NoneType' object has no attribute 'name'`, `... not
    /// subscriptable`, `unsupported operand type(s) for +: 'NoneType' and 'int'`). The message
    /// is the program's to write, so a type that Python does not raise for this, or a message
    /// that only mentions the word, is not one: the proof loosens a check for this error.
    pub fn is_about_none(&self) -> bool {
        is_about_none(&self.exc_type, &self.message)
    }

    /// The signature of a parsed traceback: its primary exception (the first leaf of an
    /// exception group) and that exception's innermost frame.
    pub fn from_traceback(tb: &Traceback) -> ErrorSignature {
        let exc = tb.primary();
        ErrorSignature {
            exc_type: exc.exc_type.clone(),
            message: exc.message.clone(),
            location: exc.frames.last().map(|f| ErrorLocation {
                file: f.file.clone(),
                function: f.function.clone(),
            }),
        }
    }

    /// Whether `other` is this error again. A side without a location matches on type alone.
    pub fn is_same_error(&self, other: &ErrorSignature) -> bool {
        let short = |t: &str| t.rsplit('.').next().unwrap_or(t).to_string();
        if self.exc_type != other.exc_type && short(&self.exc_type) != short(&other.exc_type) {
            return false;
        }
        match (&self.location, &other.location) {
            (Some(a), Some(b)) => {
                file_name(&a.file) == file_name(&b.file) && a.function == b.function
            }
            _ => true,
        }
    }

    /// `NameError: name 'x' is not defined (in main.py, run)`, first message line only.
    pub fn summary(&self) -> String {
        let mut out = self.exc_type.clone();
        let first = self.message.lines().next().unwrap_or("");
        if !first.is_empty() {
            out.push_str(": ");
            out.push_str(first);
        }
        if let Some(loc) = &self.location {
            out.push_str(&format!(" (in {}", file_name(&loc.file)));
            if !loc.function.is_empty() {
                out.push_str(&format!(", {}", loc.function));
            }
            out.push(')');
        }
        out
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// The last traceback printed in `stderr`, with its whole chain: the text from the last
/// traceback header that is not the continuation of a chain ("The above exception was ...").
pub fn last_traceback(stderr: &str) -> Option<Traceback> {
    let lines: Vec<&str> = stderr.lines().collect();
    let is_header = |l: &str| {
        let l = l.trim_end();
        l == HEADER || l == TOP_GROUP_HEADER
    };
    let Some(mut start) = lines.iter().rposition(|l| is_header(l)) else {
        // A SyntaxError in the main script is printed without a header.
        return python::parse(stderr).traceback;
    };
    loop {
        let previous = lines[..start].iter().rposition(|l| !l.trim().is_empty());
        let Some(p) = previous else { break };
        let text = lines[p].trim();
        if text != CAUSE_MESSAGE && text != CONTEXT_MESSAGE {
            break;
        }
        match lines[..p].iter().rposition(|l| is_header(l)) {
            Some(earlier) => start = earlier,
            None => break,
        }
    }
    python::parse(&lines[start..].join("\n")).traceback
}

/// [`ErrorSignature::is_about_none`], from an error's type and message. Python names the type
/// quoted (`'NoneType' object is not subscriptable`), double-quoted (`can only concatenate
/// str (not "NoneType") to str`) or bare (`cannot unpack non-iterable NoneType object`), so
/// `NoneType` counts as a whole word, not inside `MyNoneType`.
pub fn is_about_none(exc_type: &str, message: &str) -> bool {
    let short = exc_type.rsplit('.').next().unwrap_or(exc_type);
    let word = |c: char| c.is_alphanumeric() || c == '_';
    matches!(short, "AttributeError" | "TypeError")
        && message.match_indices("NoneType").any(|(at, found)| {
            !message[..at].ends_with(word) && !message[at + found.len()..].starts_with(word)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_about_a_none_is_python_s_own() {
        let sig = |exc_type: &str, message: &str| ErrorSignature {
            exc_type: exc_type.to_string(),
            message: message.to_string(),
            location: None,
        };
        assert!(
            sig(
                "AttributeError",
                "'NoneType' object has no attribute 'name'"
            )
            .is_about_none()
        );
        assert!(sig("TypeError", "'NoneType' object is not subscriptable").is_about_none());
        // Python's other spellings of the type.
        assert!(sig("TypeError", "cannot unpack non-iterable NoneType object").is_about_none());
        assert!(
            sig(
                "TypeError",
                "can only concatenate str (not \"NoneType\") to str"
            )
            .is_about_none()
        );
        assert!(
            sig(
                "TypeError",
                "sequence item 0: expected str instance, NoneType found"
            )
            .is_about_none()
        );
        // A type of the program's whose name only contains it.
        assert!(!sig("TypeError", "'MyNoneType' object is not callable").is_about_none());
        assert!(!sig("TypeError", "'NoneTypes' object is not callable").is_about_none());
        // A message the program wrote to look like one.
        assert!(!sig("ValueError", "'NoneType' object has no attribute 'x'").is_about_none());
        assert!(!sig("AttributeError", "'Customer' object has no attribute 'nam'").is_about_none());
    }

    const NAME_ERROR: &str = "Traceback (most recent call last):\n  File \"/x/main.py\", line 3, in <module>\n    run()\n  File \"/x/main.py\", line 2, in run\n    print(y)\nNameError: name 'y' is not defined\n";

    fn sig(text: &str) -> ErrorSignature {
        ErrorSignature::from_traceback(&last_traceback(text).unwrap())
    }

    #[test]
    fn same_type_and_place_is_the_same_error_wherever_the_copy_is() {
        let original = sig(NAME_ERROR);
        let again = sig(&NAME_ERROR.replace("/x/", "/tmp/heal-prove-1/tree/"));
        assert!(original.is_same_error(&again));
        assert_eq!(
            original.summary(),
            "NameError: name 'y' is not defined (in main.py, run)"
        );
    }

    #[test]
    fn another_type_is_a_different_error() {
        let original = sig(NAME_ERROR);
        let other =
            sig(&NAME_ERROR.replace("NameError: name 'y' is not defined", "ImportError: no"));
        assert!(!original.is_same_error(&other));
    }

    #[test]
    fn the_last_traceback_wins_and_keeps_its_chain() {
        let text = format!(
            "noise\n{NAME_ERROR}\nmore noise\nTraceback (most recent call last):\n  File \"a.py\", line 1, in f\nKeyError: 'k'\n\n{CONTEXT_MESSAGE}\n\n{}",
            NAME_ERROR.replace("NameError", "ValueError")
        );
        let tb = last_traceback(&text).unwrap();
        assert_eq!(tb.exception.exc_type, "ValueError");
        assert_eq!(tb.chain.len(), 1);
        assert_eq!(tb.chain[0].0.exc_type, "KeyError");
    }

    #[test]
    fn no_traceback_is_none() {
        assert!(last_traceback("all good\n").is_none());
    }
}
