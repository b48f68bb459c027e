//! Finds traceback blocks in a stream of stderr lines.
//!
//! The scanner sees every line the child writes, so the common case (an ordinary line while no
//! block is open) is rejected on a few byte comparisons, without allocating and without regexes.
//! A block starts only at:
//! - a line ending with `Traceback (most recent call last):` (or the exception-group header).
//!   Text before the header on that line (a syslog/journald prefix, `ERROR:root:`, indentation)
//!   becomes the block's per-line prefix: it is removed from the following lines that start
//!   with it (digits match any digit, so changing timestamps still match);
//! - the header-less SyntaxError frame `  File "x.py", line N`: a tentative block, dropped unless
//!   a `SyntaxError`/`IndentationError`/`TabError` line follows within a few lines;
//! - a pytest section title `____ test_name ____`: a tentative block, kept only if it has `E`
//!   lines, ended by the next title or a `====` rule.
//!
//! A header line printed just before a traceback (`Exception in thread Worker-1:`,
//! `Process Process-1:`, `Task exception was never retrieved` and its `future:` line, ...) is
//! kept as the block's origin and stays at the top of its text; a pytest title or a unittest
//! `ERROR: test_x (...)` line before a traceback becomes the origin without being part of it.
//!
//! A block ends at the first line that cannot belong to it: after the exception line, a blank
//! line not followed by a chain message, a new log record (timestamp or level first), a rule
//! (`====`, `____`), another origin header or a new header at the block's own column. Lines in
//! between are the exception's message (multi-line messages, notes), up to a bound. An indented
//! `  Traceback (most recent call last):` after the exception line is part of the message.
//!
//! What it must never do: hold more than its [`Limits`] (a block that grows past them keeps its
//! head and its tail, the middle is counted and replaced by one marker line), read a clock (the
//! caller says when the stream went quiet), or fail.

use std::collections::VecDeque;

use super::python::{
    CAUSE_MESSAGE, CONTEXT_MESSAGE, HEADER, cut, header_prefix, is_log_record, is_origin_header,
    is_pytest_e_line, is_rule_line, is_syntax_error_type, is_syntax_frame_line,
    parse_exception_line, pytest_section_title, strip_ansi,
};

/// Lines after an exception line that may still belong to its message.
const MAX_MESSAGE_LINES: usize = 200;
/// How many quiet periods a block that is clearly unfinished (just after a `File` line) is
/// waited for before it is handed out as it is: about 2 s at the supervisor's 200 ms.
const MAX_QUIET_WAITS: u32 = 10;
/// A longer per-line prefix is not a log prefix; it is not stripped.
const MAX_PREFIX_BYTES: usize = 256;
/// Origin header lines are kept to this size.
const MAX_ORIGIN_BYTES: usize = 1024;

/// How much of one block the scanner holds. A longer block keeps its first quarter and its
/// last three quarters (the innermost frames and the exception line matter most).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Lines of one block's text, the elision marker included (at least 2).
    pub max_block_lines: usize,
    /// Bytes of one block's text (at least 1024).
    pub max_block_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_block_lines: 2000,
            max_block_bytes: 256 * 1024,
        }
    }
}

/// One traceback block, cleaned and capped, ready for [`super::python::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The block's lines: ANSI escapes and the per-line prefix removed, the middle of an
    /// over-long block replaced by `  ... N lines elided by heal ...`.
    pub text: String,
    /// The header that said where the traceback came from (`Exception in thread Worker-1:`).
    pub origin: Option<String>,
    /// Lines dropped from the middle of the block to respect the limits.
    pub elided_lines: usize,
}

/// Finds traceback blocks in a stream of lines. See the module documentation.
#[derive(Debug)]
pub struct Scanner {
    limits: Limits,
    mode: Mode,
    /// A tentative block (SyntaxError frame, pytest section) becomes a block once confirmed.
    confirmed: bool,
    store: Store,
    prefix: Option<String>,
    origin: Option<String>,
    /// A possible origin header seen just before, while no block was open.
    hint: Option<Hint>,
    message_lines: usize,
    quiet_waits: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Idle,
    /// After a header, a frame or a source line: the exception line is still to come.
    Frames,
    /// After a header-less SyntaxError frame, `lines` lines ago.
    Syntax {
        lines: u8,
    },
    /// After the exception line: its message may go on.
    Message,
    /// A blank line after the exception: a chain message may follow.
    AfterBlank,
    /// After "The above exception ..." / "During handling ...": a blank line must follow.
    ChainMessage,
    /// After the chain message and its blank line: the next traceback must follow.
    ChainBlank,
    /// Inside an exception group's box; `closed` after a `+-----` closing line.
    Group {
        closed: bool,
    },
    /// Inside a pytest report section.
    Pytest {
        title: String,
    },
}

#[derive(Debug)]
struct Hint {
    origin: String,
    /// Lines that go at the top of the block's text (empty for test-runner titles).
    lines: Vec<String>,
    stage: HintStage,
}

#[derive(Debug, PartialEq, Eq)]
enum HintStage {
    Ready,
    /// After "Task exception was never retrieved": asyncio prints a `future:` line next.
    AwaitFuture,
    /// After unittest's `ERROR: test (...)`: a `-----` rule comes before the traceback.
    AwaitRule,
}

enum Step {
    Continue,
    End,
}

impl Scanner {
    pub fn new(limits: Limits) -> Scanner {
        Scanner {
            limits: Limits {
                max_block_lines: limits.max_block_lines.max(2),
                max_block_bytes: limits.max_block_bytes.max(1024),
            },
            mode: Mode::Idle,
            confirmed: false,
            store: Store::default(),
            prefix: None,
            origin: None,
            hint: None,
            message_lines: 0,
            quiet_waits: 0,
        }
    }

    /// Feeds one line (without its newline). Returns the block this line proved complete.
    pub fn push_line(&mut self, line: &str) -> Option<Block> {
        self.quiet_waits = 0;
        let raw = strip_ansi(line);
        if matches!(self.mode, Mode::Idle) {
            self.idle_line(&raw);
            return None;
        }
        match self.block_line(&raw) {
            Step::Continue => None,
            Step::End => {
                let block = self.take_block();
                self.idle_line(&raw);
                block
            }
        }
    }

    /// The stream has been silent for a while: hands out a block whose exception line has been
    /// seen. A block stopped just after a frame is waited for a few more quiet periods; a
    /// tentative one that was never confirmed is dropped.
    pub fn quiet(&mut self) -> Option<Block> {
        match self.mode {
            Mode::Idle => None,
            Mode::Message
            | Mode::AfterBlank
            | Mode::Group { closed: true }
            | Mode::Syntax { .. }
            | Mode::Pytest { .. } => self.take_block(),
            Mode::Frames
            | Mode::ChainMessage
            | Mode::ChainBlank
            | Mode::Group { closed: false } => {
                self.quiet_waits += 1;
                if self.quiet_waits >= MAX_QUIET_WAITS {
                    self.take_block()
                } else {
                    None
                }
            }
        }
    }

    /// End of the stream: hands out whatever block is open, even unfinished (a tentative block
    /// that was never confirmed is dropped).
    pub fn finish(&mut self) -> Option<Block> {
        if matches!(self.mode, Mode::Idle) {
            return None;
        }
        self.take_block()
    }

    /// Whether a block is open (the caller then calls [`Scanner::quiet`] on silence).
    pub fn in_block(&self) -> bool {
        !matches!(self.mode, Mode::Idle)
    }

    /// Bytes of block text held right now; never more than `max_block_bytes`.
    pub fn held_bytes(&self) -> usize {
        self.store.head_bytes + self.store.tail_bytes
    }

    /// Lines of block text held right now; never more than `max_block_lines`.
    pub fn held_lines(&self) -> usize {
        self.store.head.len() + self.store.tail.len()
    }

    fn idle_line(&mut self, raw: &str) {
        if let Some(before) = header_prefix(raw) {
            self.start_traceback(raw, before);
            return;
        }
        if is_syntax_frame_line(raw) {
            self.hint = None;
            self.start(Mode::Syntax { lines: 0 }, false, None);
            self.push_stored(raw);
            return;
        }
        if let Some(title) = pytest_section_title(raw) {
            self.hint = None;
            let title = cut(title, MAX_ORIGIN_BYTES).to_string();
            self.start(
                Mode::Pytest {
                    title: title.clone(),
                },
                false,
                Some(title),
            );
            self.push_stored(raw);
            return;
        }
        self.update_hint(raw);
    }

    /// Remembers a line that may say where the next traceback comes from.
    fn update_hint(&mut self, raw: &str) {
        let line = cut(raw.trim_end(), MAX_ORIGIN_BYTES);
        if is_origin_header(raw) {
            let stage = if line == "Task exception was never retrieved" {
                HintStage::AwaitFuture
            } else {
                HintStage::Ready
            };
            self.hint = Some(Hint {
                origin: line.to_string(),
                lines: vec![line.to_string()],
                stage,
            });
            return;
        }
        if let Some(hint) = &mut self.hint {
            if hint.stage == HintStage::AwaitFuture && raw.starts_with("future: ") {
                hint.lines.push(line.to_string());
                hint.stage = HintStage::Ready;
                return;
            }
            if hint.stage == HintStage::AwaitRule
                && raw.len() >= 10
                && raw.trim_end().bytes().all(|b| b == b'-')
            {
                hint.stage = HintStage::Ready;
                return;
            }
        }
        self.hint = if raw.starts_with("ERROR: ") || raw.starts_with("FAIL: ") {
            Some(Hint {
                origin: line.to_string(),
                lines: Vec::new(),
                stage: HintStage::AwaitRule,
            })
        } else {
            None
        };
    }

    fn start_traceback(&mut self, raw: &str, before: &str) {
        let (group, prefix) = match before.strip_suffix("+ Exception Group ") {
            Some(p) => (true, p.strip_suffix("  ").unwrap_or(p)),
            None => (false, before),
        };
        let hint = self.hint.take();
        let mode = if group {
            Mode::Group { closed: false }
        } else {
            Mode::Frames
        };
        self.start(mode, true, hint.as_ref().map(|h| h.origin.clone()));
        self.prefix =
            (!prefix.is_empty() && prefix.len() <= MAX_PREFIX_BYTES).then(|| prefix.to_string());
        for line in hint.iter().flat_map(|h| &h.lines) {
            self.push_stored(line);
        }
        let content = self.strip_prefix(raw).trim_end();
        let content = content.to_string();
        self.push_stored(&content);
    }

    fn start(&mut self, mode: Mode, confirmed: bool, origin: Option<String>) {
        self.mode = mode;
        self.confirmed = confirmed;
        self.origin = origin;
        self.prefix = None;
        self.message_lines = 0;
        self.store = Store::default();
    }

    fn block_line(&mut self, raw: &str) -> Step {
        let content = self.strip_prefix(raw);
        match &mut self.mode {
            Mode::Idle => Step::End,
            Mode::Frames => {
                if self.is_block_header(raw, content) || content.is_empty() {
                    return Step::End;
                }
                if content.starts_with(' ') {
                    // A frame, its source and marker lines, "[Previous line repeated ...]".
                    return self.keep(content);
                }
                if parse_exception_line(content.trim_end()).is_some() {
                    self.mode = Mode::Message;
                    return self.keep(content);
                }
                Step::End
            }
            Mode::Syntax { lines } => {
                if let Some((ty, _)) = parse_exception_line(content.trim_end())
                    && is_syntax_error_type(ty)
                {
                    self.confirmed = true;
                    self.mode = Mode::Message;
                    return self.keep(content);
                }
                if content.starts_with(' ') && *lines < 4 {
                    *lines += 1;
                    return self.keep(content);
                }
                Step::End
            }
            Mode::Message => {
                if content.is_empty() {
                    // Not kept yet: only a chain message makes the blank line part of the block.
                    self.mode = Mode::AfterBlank;
                    return Step::Continue;
                }
                if self.is_block_header(raw, content)
                    || self.message_lines >= MAX_MESSAGE_LINES
                    || ends_a_message(content)
                {
                    return Step::End;
                }
                self.message_lines += 1;
                self.keep(content)
            }
            Mode::AfterBlank => {
                let t = content.trim_end();
                if t == CAUSE_MESSAGE || t == CONTEXT_MESSAGE {
                    self.mode = Mode::ChainMessage;
                    self.push_stored("");
                    return self.keep(content);
                }
                Step::End
            }
            Mode::ChainMessage => {
                if content.is_empty() {
                    self.mode = Mode::ChainBlank;
                    return self.keep(content);
                }
                Step::End
            }
            Mode::ChainBlank => {
                if let Some(before) = header_prefix(content) {
                    self.mode = if before.ends_with("+ Exception Group ") {
                        Mode::Group { closed: false }
                    } else {
                        Mode::Frames
                    };
                    return self.keep(content);
                }
                // An exception that was never raised is printed without a traceback.
                if parse_exception_line(content.trim_end()).is_some() {
                    self.mode = Mode::Message;
                    self.message_lines = 0;
                    return self.keep(content);
                }
                Step::End
            }
            Mode::Group { closed } => {
                let inner = content.trim_start_matches(' ');
                if content.starts_with(' ') && (inner.starts_with('|') || inner.starts_with('+')) {
                    *closed = inner.len() > 1
                        && inner.starts_with('+')
                        && inner[1..].trim_end().bytes().all(|b| b == b'-');
                    return self.keep(content);
                }
                if content.is_empty() && *closed {
                    self.mode = Mode::AfterBlank;
                    return Step::Continue;
                }
                Step::End
            }
            Mode::Pytest { title } => {
                if pytest_section_title(content).is_some() || content.starts_with("===") {
                    return Step::End;
                }
                if content.trim_end() == HEADER {
                    // pytest --tb=native: the section title names the failing test.
                    self.hint = Some(Hint {
                        origin: std::mem::take(title),
                        lines: Vec::new(),
                        stage: HintStage::Ready,
                    });
                    return Step::End;
                }
                if is_pytest_e_line(content) {
                    self.confirmed = true;
                }
                self.keep(content)
            }
        }
    }

    /// Whether a header line starts a new traceback rather than continuing this block: it is
    /// at the block's column, or has a prefix of its own. An indented one is message text.
    fn is_block_header(&self, raw: &str, content: &str) -> bool {
        if header_prefix(raw).is_none() {
            return false;
        }
        match header_prefix(content) {
            Some("") | Some("  + Exception Group ") => true,
            Some(before) => !before.trim().is_empty(),
            None => true,
        }
    }

    fn strip_prefix<'a>(&self, line: &'a str) -> &'a str {
        let Some(prefix) = &self.prefix else {
            return line;
        };
        let (p, l) = (prefix.as_bytes(), line.as_bytes());
        if l.len() < p.len() {
            return line;
        }
        // Digits match any digit: a syslog timestamp changes from line to line.
        let same = p
            .iter()
            .zip(l)
            .all(|(a, b)| a == b || (a.is_ascii_digit() && b.is_ascii_digit()));
        if !same {
            return line;
        }
        line.get(p.len()..).unwrap_or(line)
    }

    fn keep(&mut self, line: &str) -> Step {
        self.push_stored(line);
        Step::Continue
    }

    fn push_stored(&mut self, line: &str) {
        self.store.push(line, &self.limits);
    }

    fn take_block(&mut self) -> Option<Block> {
        let store = std::mem::take(&mut self.store);
        let origin = self.origin.take();
        let confirmed = std::mem::replace(&mut self.confirmed, false);
        self.mode = Mode::Idle;
        self.prefix = None;
        self.message_lines = 0;
        self.quiet_waits = 0;
        if !confirmed {
            return None;
        }
        let elided_lines = store.elided;
        Some(Block {
            text: store.into_text(),
            origin,
            elided_lines,
        })
    }
}

/// A line after an exception's message that is surely not part of it.
fn ends_a_message(line: &str) -> bool {
    is_log_record(line) || is_rule_line(line) || is_origin_header(line)
}

/// The held lines of one block: the first ones, and a ring of the last ones. The middle is only
/// counted, so memory stays bounded however long the block is.
#[derive(Debug, Default)]
struct Store {
    head: Vec<String>,
    head_bytes: usize,
    tail: VecDeque<String>,
    tail_bytes: usize,
    elided: usize,
}

impl Store {
    fn push(&mut self, line: &str, limits: &Limits) {
        // A quarter for the head (the outermost frames, the start of a chain), the rest for the
        // tail: the innermost frames and the exception line matter most.
        let head_lines = limits.max_block_lines / 4;
        let head_bytes = limits.max_block_bytes / 4;
        let tail_lines = limits.max_block_lines - head_lines - 1; // one for the marker line
        let tail_bytes = limits.max_block_bytes - head_bytes - 64;
        let line = cut(line, head_bytes.min(tail_bytes / 2));
        let cost = line.len() + 1;
        if self.tail.is_empty()
            && self.head.len() < head_lines
            && self.head_bytes + cost <= head_bytes
        {
            self.head.push(line.to_string());
            self.head_bytes += cost;
            return;
        }
        self.tail.push_back(line.to_string());
        self.tail_bytes += cost;
        while self.tail.len() > tail_lines || self.tail_bytes > tail_bytes {
            match self.tail.pop_front() {
                Some(dropped) => {
                    self.tail_bytes -= dropped.len() + 1;
                    self.elided += 1;
                }
                None => break,
            }
        }
    }

    fn into_text(self) -> String {
        let mut lines: Vec<String> = self.head;
        if self.elided > 0 {
            lines.push(format!("  ... {} lines elided by heal ...", self.elided));
        }
        lines.extend(self.tail);
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> Vec<Block> {
        let mut s = Scanner::new(Limits::default());
        let mut out: Vec<Block> = text.lines().filter_map(|l| s.push_line(l)).collect();
        out.extend(s.finish());
        out
    }

    #[test]
    fn ordinary_lines_open_nothing() {
        let mut s = Scanner::new(Limits::default());
        for l in [
            "hello",
            "ValueError: x",
            "  File \"x.py\", line 3, in f",
            "",
            "E   x",
        ] {
            assert!(s.push_line(l).is_none());
            assert!(!s.in_block(), "{l:?} opened a block");
        }
    }

    #[test]
    fn tentative_syntax_block_is_dropped() {
        assert!(scan("  File \"x.py\", line 2\n    x = \nnot an exception\n").is_empty());
        let blocks = scan("  File \"x.py\", line 2\n    x = \n        ^\nSyntaxError: bad\n");
        assert_eq!(blocks.len(), 1);
    }

    #[test]
    fn prefix_with_changing_digits_is_stripped() {
        let blocks = scan(
            "Nov 24 12:00:01 host app[123]: Traceback (most recent call last):\n\
             Nov 24 12:00:01 host app[123]:   File \"/srv/app/x.py\", line 3, in f\n\
             Nov 24 12:00:02 host app[123]:     g()\n\
             Nov 24 12:00:02 host app[123]: ValueError: bad\n\
             Nov 24 12:00:03 host app[123]: INFO next\n",
        );
        assert_eq!(blocks.len(), 1);
        assert_eq!(
            blocks[0].text,
            "Traceback (most recent call last):\n  File \"/srv/app/x.py\", line 3, in f\n    g()\nValueError: bad"
        );
    }

    #[test]
    fn quiet_flushes_complete_blocks_and_waits_for_unfinished_ones() {
        let mut s = Scanner::new(Limits::default());
        s.push_line("Traceback (most recent call last):");
        s.push_line("  File \"x.py\", line 1, in <module>");
        assert!(s.quiet().is_none());
        assert!(s.in_block());
        s.push_line("ValueError: x");
        let block = s.quiet().expect("block");
        assert!(block.text.ends_with("ValueError: x"));
        assert!(!s.in_block());

        s.push_line("Traceback (most recent call last):");
        let mut flushed = None;
        for _ in 0..MAX_QUIET_WAITS {
            flushed = flushed.or(s.quiet());
        }
        assert!(flushed.is_some(), "an unfinished block is not held forever");
    }

    #[test]
    fn store_keeps_head_and_tail() {
        let limits = Limits {
            max_block_lines: 20,
            max_block_bytes: 100_000,
        };
        let mut store = Store::default();
        for i in 0..100 {
            store.push(&format!("line {i}"), &limits);
        }
        assert_eq!(store.head.len(), 5);
        assert_eq!(store.tail.len(), 14);
        assert_eq!(store.elided, 81);
        let text = store.into_text();
        assert!(text.starts_with("line 0\n"));
        assert!(text.contains("\n  ... 81 lines elided by heal ...\nline 86\n"));
        assert!(text.ends_with("line 99"));
    }
}
