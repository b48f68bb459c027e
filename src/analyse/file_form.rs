//! The `file` edit form's answers: a sentence or two of root cause, then the whole corrected
//! file in one fenced code block, with no tool and no JSON; or `CANNOT FIX: <why>`. Read here
//! into a [`ReportFix`] whose one edit has an empty `search` (the whole current file, which
//! the healing fills in) and the new text as `replace`: heal computes the diff and holds it to
//! the same policy, proof and behaviour check as any other fix.
//!
//! Pure: text in, an [`Answer`] out. It never guesses: an answer it cannot read as exactly one
//! file is [`Answer::Unusable`] with a reason the model can act on.
//!
//! Understood:
//! - ```` ```python ````, ```` ```py ````, ```` ```python3 ```` or bare ```` ``` ```` fences,
//!   indented up to three spaces; the info string may name the target (```` ```python app.py ````).
//! - heal's line-number margin (`>  4 | code`) copied on at least half the lines: removed where
//!   it is (the model copies it with the lines it keeps, not the ones it writes).
//! - CRLF line ends: made LF (the healing gives the file the original's line ends and final
//!   newline, see [`fit`]).
//! - A last fence left open by an answer that was not cut off: the model stopped after the file.
//! - Several blocks, when the last is the longest: an answer that quotes the failing line
//!   before giving the file. The explanation says the last was taken.
//!
//! Not understood, refused:
//! - an answer over [`MAX_ANSWER_BYTES`], or cut off at the output limit (the file would be
//!   cut too);
//! - a block whose info string names another file (```` ```toml heal.toml ````): only the
//!   target can be changed, whatever the answer says, and a fence pointing elsewhere is not
//!   silently taken for it;
//! - several blocks whose last is not the longest (which one is the file?), or no python block;
//! - control characters, or heal's `[REDACTED]` marker in the file.
//!
//! Decisions:
//! - `CANNOT FIX:` at the start of a line outside the blocks wins over a block: declining is the
//!   safe reading of an answer that says both.
//! - The form has no room for a category or a confidence. The category comes from the
//!   exception type ([`category_of`]); the confidence is `medium`, the default of
//!   `AUTO_FIX_MIN_CONFIDENCE`: whether the fix is right is decided by the proof, not by the
//!   model's word (set `AUTO_FIX_MIN_CONFIDENCE=high` and no file-form fix is applied).

use super::Answer;
use super::answer::{Category, Confidence, Edit, ReportFix};
use super::prompt::FileTarget;
use crate::redact::REDACTED;

/// The longest answer read. A file within the form's bounds (12 KiB) and a few sentences take
/// a fraction of it; more is a model that lost its way, or a hostile server.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// What a `file`-form edit says about itself: its `search` is empty, which stands for the whole
/// current file. Other forms refuse an empty `search`.
pub const WHOLE_FILE: &str = "";

/// Longest root cause kept, in bytes.
const MAX_ROOT_CAUSE: usize = 1000;
/// Longest reason kept (the first sentence of the root cause, or the CANNOT FIX line).
const MAX_REASON: usize = 300;

/// Reads a `file`-form answer for `target`. `truncated` is the output limit the answer hit,
/// when it hit it.
pub fn read(text: &str, target: &FileTarget, truncated: Option<u32>) -> Answer {
    match read_fix(text, target, truncated) {
        Ok(fix) => Answer::Fix(fix),
        Err(reason) => Answer::Unusable { reason },
    }
}

fn read_fix(text: &str, target: &FileTarget, truncated: Option<u32>) -> Result<ReportFix, String> {
    let path = &target.path;
    if text.len() > MAX_ANSWER_BYTES {
        return Err(format!(
            "the answer is {} bytes, more than the {MAX_ANSWER_BYTES} heal reads; give only the \
             root cause and the corrected file `{path}`",
            text.len()
        ));
    }
    let text = text.replace("\r\n", "\n");
    let parts = split(&text);
    let category = category_of(&target.exc_type);
    if let Some(why) = cannot_fix(&parts.prose) {
        let why = if why.is_empty() {
            "the model gave no reason".to_string()
        } else {
            why
        };
        return Ok(ReportFix {
            fixable: false,
            reason: bounded(&why, MAX_REASON),
            error_category: category,
            root_cause: bounded(&why, MAX_ROOT_CAUSE),
            affected_file: path.clone(),
            confidence: Confidence::Medium,
            explanation: bounded(&parts.prose.join("\n"), MAX_ROOT_CAUSE),
            changes_summary: String::new(),
            edits: Vec::new(),
        });
    }
    if let Some(max) = truncated {
        return Err(format!(
            "the answer was cut off at the output limit ({max} tokens), so the file in it is \
             cut too; give the root cause in one sentence and the whole file `{path}`, nothing \
             else"
        ));
    }
    if let Some(other) = parts.blocks.iter().find_map(|b| other_file(b.info, path)) {
        return Err(format!(
            "the answer has a code block for `{other}`, but only `{path}` can be changed in \
             this answer"
        ));
    }
    let code: Vec<&Block> = parts.blocks.iter().filter(|b| is_python(b.info)).collect();
    let Some(last) = code.last() else {
        return Err(match parts.blocks.first() {
            Some(b) => format!(
                "the answer's code block is marked `{}`, not python; heal needs the whole \
                 corrected file `{path}`, not a diff or a part of it",
                first_word(b.info)
            ),
            None if text.trim().is_empty() => "the answer is empty".to_string(),
            None => format!("the answer has no code block with the corrected file `{path}`"),
        });
    };
    let longest = code.iter().map(|b| b.lines.len()).max().unwrap_or(0);
    if last.lines.len() < longest {
        return Err(format!(
            "the answer has {} code blocks and the last is not the longest, so heal cannot tell \
             which is the file; give the whole corrected file `{path}` in ONE block",
            code.len()
        ));
    }
    let new_text = file_text(&last.lines)?;
    let prose = bounded(last.before.trim(), MAX_ROOT_CAUSE);
    let root_cause = if prose.is_empty() {
        "the model gave no root cause".to_string()
    } else {
        prose
    };
    let mut explanation = root_cause.clone();
    if code.len() > 1 {
        explanation.push_str(&format!(
            " (the answer had {} code blocks; the last, the longest, was taken as the file)",
            code.len()
        ));
    }
    Ok(ReportFix {
        fixable: true,
        reason: bounded(first_sentence(&root_cause), MAX_REASON),
        error_category: category,
        root_cause,
        affected_file: path.clone(),
        confidence: Confidence::Medium,
        explanation,
        changes_summary: format!("the corrected {path}, as a diff computed by heal"),
        edits: vec![Edit {
            file: path.clone(),
            search: WHOLE_FILE.to_string(),
            replace: new_text,
        }],
    })
}

/// The category of an incident by its exception type (`json.decoder.JSONDecodeError` is read
/// by its last name). Subclasses Python raises for the same mistakes count as their base
/// (`UnboundLocalError` as a `NameError`).
pub fn category_of(exc_type: &str) -> Category {
    let name = exc_type.rsplit('.').next().unwrap_or(exc_type).trim();
    match name {
        "NameError" | "UnboundLocalError" => Category::Name,
        "TypeError" => Category::Type,
        "KeyError" | "IndexError" | "ValueError" | "ZeroDivisionError" => Category::Logic,
        "ImportError" | "ModuleNotFoundError" => Category::Import,
        "AttributeError" => Category::Attribute,
        "SyntaxError" | "IndentationError" | "TabError" => Category::Syntax,
        _ => Category::Other,
    }
}

/// The new text of a file, fitted to the file it replaces: its line ends (CRLF when its first
/// line ends so) and the newlines it ends with.
pub fn fit(current: &str, new: &str) -> String {
    let crlf = current
        .find('\n')
        .is_some_and(|i| current[..i].ends_with('\r'));
    let current = current.replace("\r\n", "\n");
    let newlines = current.len() - current.trim_end_matches('\n').len();
    let mut text = new.replace("\r\n", "\n").trim_end_matches('\n').to_string();
    text.push_str(&"\n".repeat(newlines));
    if crlf {
        text = text.replace('\n', "\r\n");
    }
    text
}

/// The model's whole file with its cosmetic changes undone: every changed region whose lines
/// differ from the current file's only by blank lines, trailing spaces, whole-line comments,
/// or a line's quotes flipped (`'a'` for `"a"`, on a line holding one kind) takes the current
/// file's lines back. A small model re-formats what it copies (the blank lines between
/// functions, a docstring's quotes) and drops the team's comments; those changes are not the
/// fix, would count against `policy.max_changed_lines`, and would land in the commit. A region
/// with any real change is kept whole, as written.
pub fn undo_cosmetic(current: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_lines(current, new);
    let old_lines: Vec<&str> = diff.iter_old_slices().collect();
    let new_lines: Vec<&str> = diff.iter_new_slices().collect();
    let mut out = String::with_capacity(new.len());
    // Adjacent changes are one region: judged together.
    let mut region: Option<(std::ops::Range<usize>, std::ops::Range<usize>)> = None;
    let flush = |region: &mut Option<(std::ops::Range<usize>, std::ops::Range<usize>)>,
                 out: &mut String| {
        if let Some((old, new)) = region.take() {
            out.extend(merged(&old_lines[old], &new_lines[new]));
        }
    };
    for op in diff.ops() {
        let (tag, old, new) = op.as_tag_tuple();
        if tag == similar::DiffTag::Equal {
            flush(&mut region, &mut out);
            out.extend(new_lines[new].iter().copied());
            continue;
        }
        region = Some(match region.take() {
            Some((o, n)) => (o.start..old.end, n.start..new.end),
            None => (old, new),
        });
    }
    flush(&mut region, &mut out);
    out
}

/// One changed region: the current lines when the change is only cosmetic; else the new
/// lines laid out as the current ones were (their blank lines), when the change is line for
/// line; else the new lines between the current region's own leading and trailing blanks.
fn merged<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<&'a str> {
    if same_but_cosmetic(old, new) {
        return old.to_vec();
    }
    let blank = |l: &&str| l.trim().is_empty();
    let new_code: Vec<&str> = new.iter().copied().filter(|l| !blank(l)).collect();
    if old.iter().filter(|l| !blank(l)).count() == new_code.len() {
        let mut code = new_code.into_iter();
        return old
            .iter()
            .map(|&l| {
                if blank(&l) {
                    return l;
                }
                let n = code.next().unwrap_or(l);
                if same_but_cosmetic(&[l], &[n]) { l } else { n }
            })
            .collect();
    }
    let lead = old.iter().take_while(|l| blank(l)).count();
    let trail = old[lead..].iter().rev().take_while(|l| blank(l)).count();
    let core_start = new.iter().take_while(|l| blank(l)).count();
    let core_end = new.len()
        - new[core_start..]
            .iter()
            .rev()
            .take_while(|l| blank(l))
            .count();
    let mut out = old[..lead].to_vec();
    out.extend_from_slice(&new[core_start..core_end]);
    out.extend_from_slice(&old[old.len() - trail..]);
    out
}

/// Whether two runs of lines are the same code once blank lines, trailing spaces, whole-line
/// comments and a flip of one line's quote kind are set aside. (A `#` line inside a multi-line
/// string is set aside too: the region then takes the current lines back, which is the program
/// as it was, never a change the proof did not see.)
fn same_but_cosmetic(old: &[&str], new: &[&str]) -> bool {
    let code = |lines: &[&str]| -> Vec<String> {
        lines
            .iter()
            .map(|l| l.trim_end().to_string())
            .filter(|l| !l.is_empty() && !l.trim_start().starts_with('#'))
            .collect()
    };
    let (old, new) = (code(old), code(new));
    old.len() == new.len()
        && old.iter().zip(&new).all(|(a, b)| {
            a == b || {
                // A flip is the same string only when the line holds one kind of quote.
                let one_kind = |l: &str| !(l.contains('\'') && l.contains('"'));
                let flipped: String = a
                    .chars()
                    .map(|c| match c {
                        '\'' => '"',
                        '"' => '\'',
                        c => c,
                    })
                    .collect();
                one_kind(a) && one_kind(b) && !a.contains('\\') && flipped == *b
            }
        })
}

/// A fenced block of an answer.
#[derive(Debug)]
struct Block<'a> {
    /// The info string after the opening fence (`python`), trimmed.
    info: &'a str,
    lines: Vec<&'a str>,
    /// The prose before this block (the blocks before it left out).
    before: String,
}

/// An answer cut into its blocks and the prose lines outside them.
#[derive(Debug)]
struct Parts<'a> {
    blocks: Vec<Block<'a>>,
    prose: Vec<&'a str>,
}

/// Cuts `text` into fenced blocks and prose, line by line. A fence is a line starting (after
/// at most three spaces) with three backticks; a block closes at a line of backticks only. A
/// block left open runs to the end.
fn split(text: &str) -> Parts<'_> {
    let mut parts = Parts {
        blocks: Vec::new(),
        prose: Vec::new(),
    };
    let mut open: Option<Block<'_>> = None;
    let mut before = String::new();
    for line in text.lines() {
        let fence = fence_info(line);
        if let Some(block) = open.as_mut() {
            if fence == Some("") {
                parts.blocks.extend(open.take());
            } else {
                block.lines.push(line);
            }
            continue;
        }
        match fence {
            Some(info) => {
                open = Some(Block {
                    info,
                    lines: Vec::new(),
                    before: before.clone(),
                });
            }
            None => {
                parts.prose.push(line);
                before.push_str(line);
                before.push('\n');
            }
        }
    }
    parts.blocks.extend(open);
    parts
}

/// The info string of a fence line, `None` when the line is not a fence.
fn fence_info(line: &str) -> Option<&str> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = line.trim_start_matches(' ').strip_prefix("```")?;
    Some(rest.trim_start_matches('`').trim())
}

/// The words of an info string: `python app.py`, `python:app.py`, `python {file="app.py"}`.
fn info_words(info: &str) -> impl Iterator<Item = &str> {
    info.split(|c: char| c.is_whitespace() || ":={},\"'".contains(c))
        .filter(|w| !w.is_empty())
}

fn first_word(info: &str) -> &str {
    info_words(info).next().unwrap_or("")
}

/// Whether a block with this info string holds Python (or the target, named).
fn is_python(info: &str) -> bool {
    let first = first_word(info).to_ascii_lowercase();
    matches!(first.as_str(), "" | "python" | "py" | "python3" | "py3") || looks_like_path(&first)
}

/// A file the info string names that is not the target.
fn other_file(info: &str, target: &str) -> Option<String> {
    info_words(info)
        .filter(|w| looks_like_path(w))
        .find(|w| !same_file(w, target))
        .map(str::to_string)
}

fn looks_like_path(word: &str) -> bool {
    let has_letter = word.chars().any(char::is_alphabetic);
    has_letter && (word.contains('/') || word.contains('.'))
}

/// `app.py`, `./app.py` and `pkg/app.py` name `pkg/app.py` when its last parts match.
fn same_file(word: &str, target: &str) -> bool {
    let word = word.trim_start_matches("./");
    word == target || target.ends_with(&format!("/{word}"))
}

/// The block's lines as the file's text, one newline at the end. heal's margin is removed
/// from the lines that have it when at least half do: a small model copies the margin with
/// the lines it keeps and writes the lines it changes without it (seen on the crash
/// benchmark, where refusing such answers lost a third of the file form's fixes). A file
/// wrongly read this way fails the syntax step or the proof, like any other fix.
fn file_text(lines: &[&str]) -> Result<String, String> {
    // A copy of heal's fence line (`=== BEGIN SOURCE app.py (whole file, 10 lines)
    // [97d77c0a] ===`, often as a comment) is never part of the file: a small model was seen
    // to write one at the top, and it would have landed in the commit.
    let lines: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !is_fence_line(l))
        .collect();
    let lines = lines.as_slice();
    let code: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.trim().is_empty())
        .collect();
    if code.is_empty() {
        return Err("the code block is empty".to_string());
    }
    let with_margin = code.iter().filter(|l| margin_len(l).is_some()).count();
    let strip = with_margin * 2 >= code.len();
    let mut text = String::new();
    for line in lines {
        let line = match margin_len(line) {
            Some(at) if strip => &line[at..],
            _ => line,
        };
        text.push_str(line.trim_end_matches('\r'));
        text.push('\n');
    }
    while text.ends_with("\n\n") {
        text.pop();
    }
    if let Some(c) = text
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\x0c'))
    {
        return Err(format!(
            "the code block holds the control character U+{:04X}, which no Python source has",
            u32::from(c)
        ));
    }
    if text.contains(REDACTED) {
        return Err(format!(
            "the code block holds `{REDACTED}`, heal's mark of a secret it removed from what you \
             were shown; it must never be written into a file"
        ));
    }
    Ok(text)
}

/// Whether `line` ends as heal's fence lines do: `[` eight hex digits `] ===`.
fn is_fence_line(line: &str) -> bool {
    let Some(rest) = line.trim_end().strip_suffix("] ===") else {
        return false;
    };
    let Some((_, nonce)) = rest.rsplit_once('[') else {
        return false;
    };
    nonce.len() == 8 && nonce.chars().all(|c| c.is_ascii_hexdigit())
}

/// Where the code starts after heal's margin (`>  4 | code`, `  10 |`), when the line has
/// one; lenient about the marker and padding models drop.
fn margin_len(line: &str) -> Option<usize> {
    let rest = line.trim_start_matches([' ', '>']);
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    let after = rest[digits..].trim_start_matches(' ').strip_prefix('|')?;
    let at = line.len() - after.len();
    match after.strip_prefix(' ') {
        Some(_) => Some(at + 1),
        None if after.is_empty() => Some(at),
        None => None,
    }
}

/// The reason of a `CANNOT FIX:` line outside the blocks, with the lines after it.
fn cannot_fix(prose: &[&str]) -> Option<String> {
    const MARK: &str = "CANNOT FIX";
    let at = prose.iter().position(|line| {
        let line = line.trim_start_matches([' ', '*', '#', '>', '`']);
        line.len() >= MARK.len()
            && line.is_char_boundary(MARK.len())
            && line[..MARK.len()].eq_ignore_ascii_case(MARK)
    })?;
    let first = prose[at].trim_start_matches([' ', '*', '#', '>', '`']);
    let mut why = first[MARK.len()..]
        .trim_start_matches([':', '*', '`', ' ', '-'])
        .to_string();
    for line in &prose[at + 1..] {
        why.push('\n');
        why.push_str(line);
    }
    Some(why.trim().to_string())
}

/// The first sentence (or line) of a text.
fn first_sentence(text: &str) -> &str {
    let line = text.lines().next().unwrap_or("");
    match line.find(". ") {
        Some(i) => &line[..=i],
        None => line,
    }
}

/// `text` in at most about `max` bytes, cut at a character boundary, `…` marking the cut.
fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod cosmetic_tests {
    use super::undo_cosmetic;

    #[test]
    fn blank_lines_and_requoted_lines_come_back_and_the_fix_stays() {
        let current = "\"\"\"Campaigns.\"\"\"\n\nX = {\"a\": 1}\n\n\ndef f(c):\n    return c[\"spent\"]\n\n\ndef main():\n    print(f(X))\n";
        // The model dropped the blank lines, re-quoted X's line and fixed the key.
        let answer = "\"\"\"Campaigns.\"\"\"\nX = {'a': 1}\n\ndef f(c):\n    return c[\"spend\"]\n\ndef main():\n    print(f(X))\n";
        let kept = undo_cosmetic(current, answer);
        assert_eq!(kept, current.replace("spent", "spend"));
    }

    /// The bench's recursion_self_parent: the model dropped the comment over PARENT with its fix.
    #[test]
    fn dropped_and_reworded_comments_come_back_and_the_fix_stays() {
        let current = "# Each category's parent.\nPARENT = {}\n\n\ndef f(c):\n    # the step\n    return f(PARENT[c])\n";
        let answer = "PARENT = {}\n\n\ndef f(c):\n    # recurse\n    return c if PARENT[c] == c else f(PARENT[c])\n";
        assert_eq!(
            undo_cosmetic(current, answer),
            "# Each category's parent.\nPARENT = {}\n\n\ndef f(c):\n    # the step\n    return c if PARENT[c] == c else f(PARENT[c])\n"
        );
        // A comment turned into code is a change.
        let current = "# x = 1\nprint(2)\n";
        let answer = "x = 1\nprint(2)\n";
        assert_eq!(undo_cosmetic(current, answer), answer);
    }

    #[test]
    fn real_changes_are_kept_in_the_current_layout_and_strings_are_not_equated() {
        // Line for line: the new line, the current blank lines.
        let current = "def f():\n    return 1\n";
        let answer = "def f():\n\n    return 2\n";
        assert_eq!(undo_cosmetic(current, answer), "def f():\n    return 2\n");
        // More lines than before: the new ones, between the current region's blank lines.
        let current = "def f(c):\n    return c[\"spent\"]\n\n\nprint(f({}))\n";
        let answer =
            "def f(c):\n    if not c:\n        return 0\n    return c[\"spend\"]\n\nprint(f({}))\n";
        assert_eq!(
            undo_cosmetic(current, answer),
            "def f(c):\n    if not c:\n        return 0\n    return c[\"spend\"]\n\n\nprint(f({}))\n"
        );
        // `'it"s'` flipped is another string: both kinds on the line, not cosmetic.
        let current = "s = 'it\"s'\n";
        let answer = "s = \"it's\"\n";
        assert_eq!(undo_cosmetic(current, answer), answer);
        // Indentation is code in Python.
        let current = "if x:\n    y()\n";
        let answer = "if x:\ny()\n";
        assert_eq!(undo_cosmetic(current, answer), answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL: &str =
        "import sys\n\n\ndef greet(name):\n    message = 'hello ' + name\n    return mesage\n";
    const FIXED: &str =
        "import sys\n\n\ndef greet(name):\n    message = 'hello ' + name\n    return message\n";

    fn target() -> FileTarget {
        FileTarget {
            path: "app.py".to_string(),
            exc_type: "NameError".to_string(),
        }
    }

    fn fix(text: &str) -> ReportFix {
        match read(text, &target(), None) {
            Answer::Fix(fix) => fix,
            Answer::Unusable { reason } => panic!("unusable: {reason}\n{text}"),
        }
    }

    fn unusable(text: &str) -> String {
        match read(text, &target(), None) {
            Answer::Unusable { reason } => reason,
            Answer::Fix(fix) => panic!("read as a fix: {fix:?}\n{text}"),
        }
    }

    /// The one edit of a fix: the target, the whole file.
    fn new_file(fix: &ReportFix) -> &str {
        assert_eq!(fix.edits.len(), 1, "{fix:?}");
        assert_eq!(fix.edits[0].file, "app.py");
        assert_eq!(fix.edits[0].search, WHOLE_FILE);
        &fix.edits[0].replace
    }

    #[test]
    fn a_root_cause_and_a_file_are_a_fix() {
        let got = fix(&format!(
            "`mesage` is a misspelling of `message`. The function returns a name that does not \
             exist.\n\n```python\n{FIXED}```\n"
        ));
        assert_eq!(new_file(&got), FIXED);
        assert!(got.fixable);
        assert_eq!(got.error_category, Category::Name);
        assert_eq!(got.confidence, Confidence::Medium);
        assert_eq!(got.affected_file, "app.py");
        assert_eq!(got.reason, "`mesage` is a misspelling of `message`.");
        assert!(got.root_cause.starts_with("`mesage` is a misspelling"));
        assert!(
            got.root_cause.ends_with("does not exist."),
            "{}",
            got.root_cause
        );
        assert_eq!(
            got.changes_summary,
            "the corrected app.py, as a diff computed by heal"
        );
    }

    #[test]
    fn fences_heal_understands() {
        for open in [
            "```python",
            "```py",
            "```Python3",
            "```",
            "  ```python app.py",
            "```python:app.py",
        ] {
            let got = fix(&format!("Cause.\n{open}\n{FIXED}```"));
            assert_eq!(new_file(&got), FIXED, "{open}");
        }
        // An answer that stops right after the file, its fence left open.
        assert_eq!(
            new_file(&fix(&format!("Cause.\n```python\n{FIXED}"))),
            FIXED
        );
        // No prose at all.
        let got = fix(&format!("```python\n{FIXED}```"));
        assert_eq!(got.root_cause, "the model gave no root cause");
    }

    #[test]
    fn cannot_fix_is_not_fixable_with_its_reason() {
        let got = fix("CANNOT FIX: ADS_API_TOKEN is not set in the environment.\nSet it.");
        assert!(!got.fixable);
        assert!(got.edits.is_empty());
        assert_eq!(
            got.reason,
            "ADS_API_TOKEN is not set in the environment.\nSet it."
        );
        assert_eq!(got.affected_file, "app.py");
        let got = fix("The service is down.\n\n**CANNOT FIX:** the database refuses connections");
        assert!(!got.fixable);
        assert_eq!(got.reason, "the database refuses connections");
        // Declining wins over a block given anyway.
        let got = fix(&format!("CANNOT FIX: not sure\n```python\n{FIXED}```"));
        assert!(!got.fixable);
        // A comment in the file saying so is code, not the answer.
        let got = fix(&format!(
            "Cause.\n```python\n# CANNOT FIX: legacy\n{FIXED}```"
        ));
        assert!(got.fixable);
    }

    #[test]
    fn no_block_is_unusable_with_what_to_do() {
        assert_eq!(
            unusable("Change line 6 to return message."),
            "the answer has no code block with the corrected file `app.py`"
        );
        assert_eq!(unusable("  \n"), "the answer is empty");
        assert!(
            unusable("Cause.\n```diff\n-    return mesage\n+    return message\n```")
                .contains("marked `diff`, not python"),
        );
        assert_eq!(
            unusable("Cause.\n```python\n\n```"),
            "the code block is empty"
        );
    }

    #[test]
    fn several_blocks_take_the_last_only_when_it_is_the_file() {
        // The failing line quoted, then the file: the file is taken, and the record says so.
        let got = fix(&format!(
            "The bug is in\n```python\n    return mesage\n```\nHere is the file:\n```python\n{FIXED}```"
        ));
        assert_eq!(new_file(&got), FIXED);
        assert_eq!(got.root_cause, "The bug is in\nHere is the file:");
        assert!(
            got.explanation.contains("2 code blocks"),
            "{}",
            got.explanation
        );
        // The file, then a fragment: which one is meant is a guess, so it is refused.
        let reason = unusable(&format!(
            "Fixed:\n```python\n{FIXED}```\nThe change:\n```python\n    return message\n```"
        ));
        assert!(
            reason.contains("2 code blocks and the last is not the longest"),
            "{reason}"
        );
        // A shell command after the file is not a python block.
        let got = fix(&format!(
            "Cause.\n```python\n{FIXED}```\nRun:\n```bash\npython3 app.py\n```"
        ));
        assert_eq!(new_file(&got), FIXED);
    }

    #[test]
    fn a_copied_fence_line_is_not_part_of_the_file() {
        let copied = "# pricing/tax.py (whole file, 10 lines) [97d77c0a] ===\nimport sys\n\n\ndef greet(name):\n    return 'hello ' + str(name)\n";
        assert_eq!(
            new_file(&fix(&format!("Cause.\n```python\n{copied}```"))),
            "import sys\n\n\ndef greet(name):\n    return 'hello ' + str(name)\n"
        );
        assert!(!is_fence_line("x = [1] ==="));
        assert!(is_fence_line("=== END SOURCE app.py [0a1b2c3d] ==="));
    }

    #[test]
    fn copied_margins_are_removed_when_on_every_line() {
        let margined = ">  1 | import sys\n   2 |\n   3 |\n   4 | def greet(name):\n   5 |     message = 'hello ' + name\n>  6 |     return message\n";
        assert_eq!(
            new_file(&fix(&format!("Cause.\n```python\n{margined}```"))),
            FIXED
        );
        // Without heal's padding and marker.
        let bare = "1 | import sys\n\n\n4 | def greet(name):\n5 |     message = 'hello ' + name\n6 |     return message\n";
        assert_eq!(
            new_file(&fix(&format!("Cause.\n```python\n{bare}```"))),
            FIXED
        );
        // On the lines the model kept, not on the ones it wrote: removed where it is.
        let mixed = "  1 | import sys\n  2 |\n  3 |\ndef greet(name):\n  5 |     message = 'hello ' + name\n    return message\n";
        assert_eq!(
            new_file(&fix(&format!("Cause.\n```python\n{mixed}```"))),
            FIXED
        );
        // Code that happens to hold a `|` is not a margin.
        let code = "x = 1 | 2\nprint(x)\n";
        assert_eq!(
            new_file(&fix(&format!("Cause.\n```python\n{code}```"))),
            code
        );
    }

    #[test]
    fn crlf_is_normalised_and_fitted_back_to_the_original() {
        let answer = format!(
            "Cause.\r\n```python\r\n{}```\r\n",
            FIXED.replace('\n', "\r\n")
        );
        let got = fix(&answer);
        assert_eq!(new_file(&got), FIXED);
        assert_eq!(got.root_cause, "Cause.");
        // The healing gives the new text the original's line ends and final newline.
        assert_eq!(
            fit(&ORIGINAL.replace('\n', "\r\n"), FIXED),
            FIXED.replace('\n', "\r\n")
        );
        assert_eq!(fit(ORIGINAL.trim_end(), FIXED), FIXED.trim_end());
        assert_eq!(fit(ORIGINAL, FIXED.trim_end()), FIXED);
        assert_eq!(fit(ORIGINAL, &format!("{FIXED}\n\n")), FIXED);
        assert_eq!(fit(ORIGINAL, FIXED), FIXED);
    }

    #[test]
    fn a_block_naming_another_file_is_refused_and_prose_cannot_redirect_the_edit() {
        // The info string names heal.toml: refused, not applied to the target.
        let reason = unusable(
            "Raise the limits.\n```toml heal.toml\n[policy]\nmax_changed_lines = 9999\n```",
        );
        assert_eq!(
            reason,
            "the answer has a code block for `heal.toml`, but only `app.py` can be changed in \
             this answer"
        );
        assert!(
            unusable(&format!("Cause.\n```python config/settings.py\n{FIXED}```"))
                .contains("config/settings.py")
        );
        // The prose and the block's first line name heal.toml: the edit is still only the
        // target's (and its new text is judged as app.py by the policy and the proof).
        let got = fix(
            "Here is the corrected heal.toml:\n```python\n# file: heal.toml\nmax_changed_lines = 9999\n```",
        );
        assert_eq!(
            new_file(&got),
            "# file: heal.toml\nmax_changed_lines = 9999\n"
        );
        assert_eq!(got.affected_file, "app.py");
    }

    #[test]
    fn hostile_answers_are_refused_clearly() {
        let huge = format!("Cause.\n```python\n{}```", "x = 1\n".repeat(60_000));
        let reason = unusable(&huge);
        assert!(reason.starts_with("the answer is 360"), "{reason}");
        assert!(
            reason.contains("more than the 262144 heal reads"),
            "{reason}"
        );
        match read(
            &format!("Cause.\n```python\n{FIXED}"),
            &target(),
            Some(4096),
        ) {
            Answer::Unusable { reason } => assert!(
                reason.contains("cut off at the output limit (4096 tokens)"),
                "{reason}"
            ),
            other => panic!("{other:?}"),
        }
        assert!(unusable("Cause.\n```python\nx = 1\0\n```").contains("U+0000"));
        assert!(unusable("Cause.\n```python\ntoken = '[REDACTED]'\n```").contains("[REDACTED]"));
        // Nothing is quadratic in a pathological answer.
        let fences = "```\n".repeat(50_000);
        assert!(matches!(
            read(&fences, &target(), None),
            Answer::Unusable { .. } | Answer::Fix(_)
        ));
    }

    #[test]
    fn long_prose_is_bounded() {
        let prose = "é".repeat(5000);
        let got = fix(&format!("{prose}\n```python\n{FIXED}```"));
        assert!(
            got.root_cause.len() <= MAX_ROOT_CAUSE + 4,
            "{}",
            got.root_cause.len()
        );
        assert!(got.reason.len() <= MAX_REASON + 4);
    }

    #[test]
    fn categories_come_from_the_exception_type() {
        let cases = [
            ("NameError", Category::Name),
            ("UnboundLocalError", Category::Name),
            ("TypeError", Category::Type),
            ("KeyError", Category::Logic),
            ("IndexError", Category::Logic),
            ("ValueError", Category::Logic),
            ("ImportError", Category::Import),
            ("ModuleNotFoundError", Category::Import),
            ("AttributeError", Category::Attribute),
            ("SyntaxError", Category::Syntax),
            ("IndentationError", Category::Syntax),
            ("json.decoder.JSONDecodeError", Category::Other),
            ("requests.exceptions.ConnectionError", Category::Other),
            ("", Category::Other),
        ];
        for (exc, category) in cases {
            assert_eq!(category_of(exc), category, "{exc}");
        }
    }
}
