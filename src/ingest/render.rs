//! A traceback's text as CPython would have printed it, rebuilt from an event's exceptions.
//!
//! heal's stages after detection read [`crate::detect::Traceback::text`] the way they read a
//! printed traceback (the record shows it, the prompt quotes it, `detect::python::parse` reads
//! it back), so an event's traceback gets the same shape: `Traceback (most recent call last):`,
//! a `  File "...", line N, in f` line and its source line per frame, then `Type: message`, and
//! the chain's exceptions before it joined by CPython's own sentences.
//!
//! Bounded: at most [`MAX_TEXT`] bytes. When the text would be longer, the oldest exceptions of
//! the chain are left out first, then the middle frames of the raised one (its first frame and
//! as many of its innermost as fit are kept), replaced by heal's own
//! `  ... N lines elided by heal ...` line, which the parser already skips. Frames the event
//! reader left out get that line too.
//!
//! The text holds no control characters but `\n` and `\t`: ANSI escapes are removed (as from a
//! printed traceback) and any other control character in a one-line field becomes a space, so
//! a file name cannot add lines. Messages keep their newlines.

use super::convert::{MAX_FIELD, MAX_MESSAGE};
use crate::detect::python::{CAUSE_MESSAGE, CONTEXT_MESSAGE, HEADER, cut, strip_ansi};
use crate::detect::{ChainLink, Exception};

/// The longest text rendered, in bytes.
pub const MAX_TEXT: usize = 64 * 1024;

/// Room kept for an elision line (`  ... 123456 lines elided by heal ...`).
const MARKER_ROOM: usize = 64;

/// Frames the event reader left out of one exception: `count` of them stood before
/// `frames[at]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gap {
    pub at: usize,
    pub count: usize,
}

/// The text of `exception` with its `chain` before it (oldest first, as in
/// [`crate::detect::Traceback::chain`]);
/// `gaps` has one entry per exception in the same order, the raised one last.
pub fn render(chain: &[(Exception, ChainLink)], exception: &Exception, gaps: &[Gap]) -> String {
    let gap = |i: usize| gaps.get(i).copied().unwrap_or_default();
    let raised = section(exception, gap(chain.len()), MAX_TEXT)
        .unwrap_or_else(|| one_line(&exception.exc_type));
    let mut parts = vec![raised];
    let mut used = parts[0].len();
    for (i, (exc, link)) in chain.iter().enumerate().rev() {
        let joint = joint(*link);
        let Some(room) = MAX_TEXT.checked_sub(used + joint.len()) else {
            break;
        };
        let Some(text) = section(exc, gap(i), room) else {
            break;
        };
        used += joint.len() + text.len();
        parts.push(joint);
        parts.push(text);
    }
    parts.reverse();
    parts.concat()
}

/// What CPython prints between an exception and the next one of its chain.
fn joint(link: ChainLink) -> String {
    let sentence = match link {
        ChainLink::Cause => CAUSE_MESSAGE,
        ChainLink::Context => CONTEXT_MESSAGE,
    };
    format!("\n\n{sentence}\n\n")
}

/// What stands between the header and the exception line.
enum Block {
    Frame(String),
    /// Lines left out.
    Elided(usize),
}

impl Block {
    fn text(&self) -> String {
        match self {
            Block::Frame(text) => text.clone(),
            Block::Elided(lines) => format!("  ... {lines} lines elided by heal ...\n"),
        }
    }

    fn lines(&self) -> usize {
        match self {
            Block::Frame(text) => text.matches('\n').count(),
            Block::Elided(lines) => *lines,
        }
    }
}

/// One exception's part of the text, at most `budget` bytes; `None` when even its header and
/// exception line (and, when frames must be left out, the line saying so) do not fit.
///
/// CPython prints the header only over frames; here every exception gets one, even without
/// frames, because `detect::python::parse` reads a bare exception line as a chain's link only
/// after a chain sentence, so a frameless first exception would otherwise be lost.
fn section(exc: &Exception, gap: Gap, budget: usize) -> Option<String> {
    let header = format!("{HEADER}\n");
    let last = exception_line(exc);
    let fixed = header.len() + last.len();
    if fixed > budget {
        return None;
    }
    let mut blocks: Vec<Block> = exc
        .frames
        .iter()
        .map(frame_block)
        .map(Block::Frame)
        .collect();
    if gap.count > 0 {
        // Python prints two lines for a frame with its source.
        blocks.insert(gap.at.min(blocks.len()), Block::Elided(2 * gap.count));
    }
    let texts: Vec<String> = blocks.iter().map(Block::text).collect();
    let total: usize = texts.iter().map(String::len).sum();
    let body = if fixed + total <= budget {
        texts.concat()
    } else if fixed + MARKER_ROOM <= budget {
        fit(&blocks, &texts, budget - fixed - MARKER_ROOM)
    } else {
        return None;
    };
    Some(format!("{header}{body}{last}"))
}

/// The first block and as many of the last as fit in `room`, the rest said in one line.
fn fit(blocks: &[Block], texts: &[String], room: usize) -> String {
    let mut used = 0;
    let first = match texts.first() {
        Some(text) if text.len() <= room => {
            used += text.len();
            1
        }
        _ => 0,
    };
    let mut from = blocks.len();
    while from > first && used + texts[from - 1].len() <= room {
        from -= 1;
        used += texts[from].len();
    }
    let elided: usize = blocks[first..from].iter().map(Block::lines).sum();
    let mut out = texts[..first].concat();
    out.push_str(&Block::Elided(elided).text());
    out.push_str(&texts[from..].concat());
    out
}

fn frame_block(frame: &crate::detect::Frame) -> String {
    let mut text = format!(
        "  File \"{}\", line {}, in {}\n",
        one_line(&frame.file),
        frame.line,
        one_line(&frame.function)
    );
    if let Some(code) = &frame.code {
        let code = one_line(code);
        let code = code.trim();
        if !code.is_empty() {
            text.push_str("    ");
            text.push_str(code);
            text.push('\n');
        }
    }
    text
}

/// `Type: message`, or `Type` alone when there is no message, as CPython prints them.
fn exception_line(exc: &Exception) -> String {
    // Cut again here: `render` may be given exceptions that did not come through `convert`,
    // and the raised exception's line must always fit in the text.
    let ty = one_line(cut(&exc.exc_type, MAX_FIELD));
    let message: Vec<String> = cut(&exc.message, MAX_MESSAGE)
        .split('\n')
        .map(one_line)
        .collect();
    let message = message.join("\n");
    if message.is_empty() {
        ty
    } else {
        format!("{ty}: {message}")
    }
}

/// `text` without ANSI escapes, its other control characters (but tabs) made spaces.
pub(crate) fn one_line(text: &str) -> String {
    strip_ansi(text)
        .chars()
        .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
        .collect()
}

/// Checks, for tests elsewhere in `ingest`, that `tb.text` reads back as `tb`.
#[cfg(test)]
pub(crate) fn assert_reads_back(tb: &crate::detect::Traceback) {
    let parsed = crate::detect::python::parse(&tb.text);
    let back = parsed
        .traceback
        .unwrap_or_else(|| panic!("no traceback in {:?}: {:?}", tb.text, parsed.problems));
    assert_eq!(back.exception.exc_type, tb.exception.exc_type);
    assert_eq!(back.exception.message, tb.exception.message);
    assert_eq!(back.exception.frames, tb.exception.frames);
    assert_eq!(back.chain, tb.chain, "{}", tb.text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Frame;

    fn frame(i: u32) -> Frame {
        Frame {
            file: format!("/srv/app/mod{i}.py"),
            line: i + 1,
            function: format!("f{i}"),
            code: Some(format!("return f{}(x)", i + 1)),
        }
    }

    fn exc(ty: &str, message: &str, frames: Vec<Frame>) -> Exception {
        Exception {
            exc_type: ty.to_string(),
            message: message.to_string(),
            notes: Vec::new(),
            frames,
            group: Vec::new(),
        }
    }

    #[test]
    fn a_chain_prints_as_cpython_prints_it() {
        let cause = exc("ValueError", "bad", vec![frame(0)]);
        let raised = exc("KeyError", "'cpc'", vec![frame(1), frame(2)]);
        let text = render(&[(cause, ChainLink::Cause)], &raised, &[]);
        assert_eq!(
            text,
            "Traceback (most recent call last):\n  File \"/srv/app/mod0.py\", line 1, in f0\n    return f1(x)\nValueError: bad\n\nThe above exception was the direct cause of the following exception:\n\nTraceback (most recent call last):\n  File \"/srv/app/mod1.py\", line 2, in f1\n    return f2(x)\n  File \"/srv/app/mod2.py\", line 3, in f2\n    return f3(x)\nKeyError: 'cpc'"
        );
    }

    #[test]
    fn exceptions_without_frames_still_get_a_header() {
        let context = exc("OSError", "", Vec::new());
        let raised = exc("RuntimeError", "failed", Vec::new());
        let text = render(&[(context, ChainLink::Context)], &raised, &[]);
        assert_eq!(
            text,
            "Traceback (most recent call last):\nOSError\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\nRuntimeError: failed"
        );
    }

    #[test]
    fn a_gap_in_the_frames_is_said() {
        let raised = exc("RecursionError", "too deep", vec![frame(0), frame(1)]);
        let text = render(&[], &raised, &[Gap { at: 1, count: 500 }]);
        assert!(
            text.contains("in f0\n    return f1(x)\n  ... 1000 lines elided by heal ...\n  File"),
            "{text}"
        );
    }

    #[test]
    fn long_texts_keep_the_raised_exception_and_its_innermost_frames() {
        let long_code = "x".repeat(900);
        let frames: Vec<Frame> = (0..200)
            .map(|i| Frame {
                code: Some(long_code.clone()),
                ..frame(i)
            })
            .collect();
        let cause = exc("ValueError", "cause", frames.clone());
        let raised = exc("KeyError", &"m".repeat(8 * 1024), frames);
        let text = render(&[(cause, ChainLink::Cause)], &raised, &[]);
        assert!(text.len() <= MAX_TEXT, "{}", text.len());
        assert!(!text.contains("ValueError"), "the cause is left out first");
        assert!(text.starts_with(
            "Traceback (most recent call last):\n  File \"/srv/app/mod0.py\", line 1, in f0\n"
        ));
        assert!(text.contains("lines elided by heal"));
        assert!(text.contains("  File \"/srv/app/mod199.py\", line 200, in f199\n"));
        assert!(text.ends_with(&format!("KeyError: {}", "m".repeat(8 * 1024))));
    }

    #[test]
    fn control_characters_cannot_add_lines() {
        let raised = exc(
            "ValueError",
            "\x1b[31mred\x1b[0m\nsecond line",
            vec![Frame {
                file: "a.py\nKeyError: forged".to_string(),
                line: 1,
                function: "f\r".to_string(),
                code: Some("\x1b[2Jx = 1".to_string()),
            }],
        );
        let text = render(&[], &raised, &[]);
        assert_eq!(
            text,
            "Traceback (most recent call last):\n  File \"a.py KeyError: forged\", line 1, in f \n    x = 1\nValueError: red\nsecond line"
        );
    }
}
