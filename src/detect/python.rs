//! Parses one block of Python error output into a [`Traceback`].
//!
//! Understood:
//! - CPython's `Traceback (most recent call last):` format from 2.7 to 3.13: frames with or
//!   without source lines, `^^^`/`~~~^^^` marker lines (skipped, they are not code), 3.13's
//!   multi-line source excerpts (the first line is kept as the frame's code),
//!   `[Previous line repeated N more times]`, and heal's own `... N lines elided by heal ...`.
//! - Chains ("The above exception was the direct cause ...", "During handling of the above
//!   exception ..."): [`Traceback::chain`] holds the earlier exceptions, oldest first.
//! - SyntaxError and its subclasses, with or without a `Traceback` header (frames without `, in`
//!   get an empty function).
//! - Exception groups (`+ Exception Group Traceback`, `|` margins, `+-+---- 1 ----` boxes),
//!   nested to any depth: members go to [`Exception::group`], recursively. A member's own chain
//!   is not kept (the member is the exception the group holds, the last one printed in its box).
//! - A header line before the traceback (`Exception in thread Worker-1:`, `Process Process-1:`,
//!   `Task exception was never retrieved`, `Exception ignored in: ...`) becomes the origin.
//! - pytest's long and short formats, one failure section per block (starting at its
//!   `____ test_name ____` title): the exception type comes from the `E   Type: message` line
//!   or from the section's final `path.py:LINE: Type` location line, the frames from the
//!   `path.py:LINE: in func` lines and the location lines (the function of a long-format entry
//!   is read from the `def` line of its listing). An `E   assert ...` line with no type anywhere
//!   is an `AssertionError` (pytest only rewrites failed asserts that way).
//!
//! Not understood (no exception is produced, never a guessed one): pytest's `--tb=line` and
//! `--tb=no`, pytest-timeout's thread dumps, faulthandler dumps (`Thread 0x... (most recent call
//! first)`, `Fatal Python error`), other languages.
//!
//! Decisions:
//! - The lines printed after the exception line, up to the next blank line, stay in `message`
//!   (joined with `\n`). CPython prints `add_note` notes exactly like the later lines of a
//!   multi-line message, so the two cannot be told apart from text and [`Exception::notes`] is
//!   left empty. A lone `"""` line (the close of a `multiprocessing` `RemoteTraceback`) is dropped.
//! - The exception type is everything before the first `: ` when that is a dotted identifier;
//!   a line that is not shaped like that is reported as a problem, never turned into a type.
//!
//! Like every parser here it never fails hard: [`parse`] returns what it could read and a list
//! of what it could not. It must never panic on any input.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use super::{ChainLink, Exception, Frame, Traceback};

/// The line that opens a traceback.
pub(crate) const HEADER: &str = "Traceback (most recent call last):";
/// The line that opens an exception group's traceback (without its margin).
pub(crate) const GROUP_HEADER: &str = "Exception Group Traceback (most recent call last):";
/// A top-level exception group's header, margin included.
pub(crate) const TOP_GROUP_HEADER: &str = "  + Exception Group Traceback (most recent call last):";
pub(crate) const CAUSE_MESSAGE: &str =
    "The above exception was the direct cause of the following exception:";
pub(crate) const CONTEXT_MESSAGE: &str =
    "During handling of the above exception, another exception occurred:";

/// A message longer than this many lines is cut: the rest is most likely unrelated output.
const MAX_MESSAGE_LINES: usize = 200;

/// What [`parse`] could read, and what it could not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    /// `None` when the text holds no exception this parser understands.
    pub traceback: Option<Traceback>,
    /// Human-readable notes about the parts that were skipped.
    pub problems: Vec<String>,
}

/// Parses one block (as cut by the scanner, or any text holding one traceback).
pub fn parse(text: &str) -> Parsed {
    let clean: Vec<Cow<'_, str>> = text
        .lines()
        .map(|l| match strip_ansi(l) {
            Cow::Borrowed(b) => Cow::Borrowed(b.strip_suffix('\r').unwrap_or(b)),
            Cow::Owned(mut o) => {
                if o.ends_with('\r') {
                    o.pop();
                }
                Cow::Owned(o)
            }
        })
        .collect();
    let lines: Vec<&str> = clean.iter().map(|l| l.as_ref()).collect();
    let mut problems = Vec::new();
    let first = lines.iter().position(|l| !l.trim().is_empty());
    let traceback = match first.and_then(|i| pytest_section_title(lines[i]).map(|t| (i, t))) {
        Some((i, title)) => parse_pytest(&lines[i + 1..], title, &mut problems),
        None => parse_cpython(&lines, &mut problems),
    };
    let traceback = traceback.map(|mut tb| {
        tb.text = lines.join("\n").trim_end().to_string();
        tb
    });
    if traceback.is_none() && problems.is_empty() {
        problems.push("no Python exception found".to_string());
    }
    Parsed {
        traceback,
        problems,
    }
}

// ---------------------------------------------------------------------------------------------
// Line shapes, shared with the scanner. Each one rejects most lines on their first bytes before
// any regex runs: the scanner calls them for every stderr line.

/// Removes ANSI escape sequences (CSI colours, OSC titles/links, two-byte escapes).
pub(crate) fn strip_ansi(line: &str) -> Cow<'_, str> {
    if !line.contains('\x1b') {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameters and intermediates, then one final byte in 0x40..=0x7E.
            Some('[') => {
                for c in chars.by_ref() {
                    if ('\x40'..='\x7e').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ESC \.
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\x07' {
                        break;
                    }
                    if c == '\x1b' {
                        if chars.peek() == Some(&'\\') {
                            chars.next();
                        }
                        break;
                    }
                }
            }
            // Any other escape is two characters long.
            Some(_) | None => {}
        }
    }
    Cow::Owned(out)
}

/// `Some(text before the header)` when the line ends with the traceback header.
pub(crate) fn header_prefix(line: &str) -> Option<&str> {
    line.trim_end().strip_suffix(HEADER)
}

/// The frame line `  File "path", line N, in function` (or without `, in ...` for SyntaxError).
pub(crate) fn parse_frame_line(line: &str) -> Option<Frame> {
    static FRAME: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"^\s*File "(.*)", line (\d+)(?:, in (.+?))?\s*$"#).expect("frame regex")
    });
    if !line.trim_start().starts_with("File \"") {
        return None;
    }
    let caps = FRAME.captures(line)?;
    Some(Frame {
        file: caps[1].to_string(),
        line: caps[2].parse().unwrap_or(0),
        function: caps
            .get(3)
            .map_or(String::new(), |m| m.as_str().to_string()),
        code: None,
    })
}

/// The header-less SyntaxError frame: exactly `  File "path", line N`.
pub(crate) fn is_syntax_frame_line(line: &str) -> bool {
    line.starts_with("  File \"")
        && line.trim_end().ends_with(|c: char| c.is_ascii_digit())
        && parse_frame_line(line).is_some_and(|f| f.function.is_empty())
}

/// `Type: message` or `Type` alone, where `Type` is a dotted identifier.
pub(crate) fn parse_exception_line(line: &str) -> Option<(&str, &str)> {
    static EXC: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^((?:[^\W\d]\w*|<\w+>)(?:\.(?:[^\W\d]\w*|<\w+>))*)(?:: (.*)|:\s*)?$")
            .expect("exception regex")
    });
    let first = line.chars().next()?;
    if !(first.is_alphabetic() || first == '_' || first == '<') {
        return None;
    }
    let caps = EXC.captures(line)?;
    let ty = caps.get(1)?.as_str();
    let msg = caps.get(2).map_or("", |m| m.as_str());
    Some((ty, msg))
}

/// SyntaxError and the subclasses CPython prints without a traceback header.
pub(crate) fn is_syntax_error_type(ty: &str) -> bool {
    let last = ty.rsplit('.').next().unwrap_or(ty);
    matches!(
        last,
        "SyntaxError" | "IndentationError" | "TabError" | "_IncompleteInputError"
    )
}

/// `^^^^`, `~~~~^^^^`, `    ^` lines: they point into the code line above, they are not code.
pub(crate) fn is_marker_line(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && t.chars().all(|c| matches!(c, '^' | '~' | ' '))
}

/// A line the scanner inserted in place of the middle of an over-long block.
pub(crate) fn is_elision_marker(line: &str) -> bool {
    let t = line.trim();
    t.starts_with("... ") && t.ends_with(" lines elided by heal ...")
}

/// A header printed right before a traceback that says where it came from.
pub(crate) fn is_origin_header(line: &str) -> bool {
    static ORIGIN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^(?:Exception in thread .{1,200}:|Process .{1,200}:|Task exception was never retrieved|Exception ignored in: .*|Exception ignored in .{1,200}:|Error in atexit\._run_exitfuncs:|Unhandled exception in event loop:|Error in sys\.excepthook:|Original exception was:)\s*$",
        )
        .expect("origin regex")
    });
    matches!(
        line.as_bytes().first(),
        Some(b'E' | b'P' | b'T' | b'U' | b'O')
    ) && ORIGIN.is_match(line)
}

/// A line that starts a new log record (a timestamp or a level first): it ends a traceback's
/// message.
pub(crate) fn is_log_record(line: &str) -> bool {
    static RECORD: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^(?:\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\[?\d{2}:\d{2}:\d{2}|[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}|\[?(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL|TRACE|NOTICE)\b|[IWEF]\d{4} \d{2}:\d{2})",
        )
        .expect("log record regex")
    });
    match line.as_bytes().first() {
        Some(b) if b.is_ascii_digit() || *b == b'[' || b.is_ascii_uppercase() => {
            RECORD.is_match(line)
        }
        _ => false,
    }
}

/// A horizontal rule at column 0 (`====`, `----`, `____ name ____`, `!!!!`): test runners print
/// them between reports, so they end a traceback.
pub(crate) fn is_rule_line(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() >= 4
        && matches!(b[0], b'=' | b'_' | b'-' | b'!' | b'*' | b'#' | b'~' | b'+')
        && b[1..4].iter().all(|&c| c == b[0])
}

/// The title of a pytest report section: `_____ test_name _____`.
pub(crate) fn pytest_section_title(line: &str) -> Option<&str> {
    static SECTION: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^_{3,} (.+?) _{3,}\s*$").expect("pytest section regex"));
    if !line.starts_with("___") {
        return None;
    }
    SECTION
        .captures(line)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str())
}

/// A pytest `E   ...` line.
pub(crate) fn is_pytest_e_line(line: &str) -> bool {
    let b = line.as_bytes();
    b.first() == Some(&b'E') && (b.len() == 1 || b[1] == b' ')
}

// ---------------------------------------------------------------------------------------------
// CPython format.

fn parse_cpython(lines: &[&str], problems: &mut Vec<String>) -> Option<Traceback> {
    // Lines before the traceback proper: a header saying where it came from, or noise.
    let start = lines.iter().position(|l| {
        l.trim_end() == HEADER || l.trim_end() == TOP_GROUP_HEADER || is_syntax_frame_line(l)
    });
    let Some(start) = start else {
        // Some prefixed or indented header the scanner did not clean: take the header's column.
        let (i, before) = lines
            .iter()
            .enumerate()
            .find_map(|(i, l)| header_prefix(l).map(|b| (i, b)))?;
        let body: Vec<&str> = lines[i..]
            .iter()
            .map(|l| l.strip_prefix(before).unwrap_or(l))
            .collect();
        problems.push(format!(
            "traceback lines start with {before:?}; read them without it"
        ));
        return parse_cpython(&body, problems);
    };
    let origin = lines[..start]
        .iter()
        .find(|l| is_origin_header(l))
        .map(|l| l.trim_end().to_string());
    let mut seq = parse_box(&lines[start..], 0, problems);
    seq.finish(problems);
    let exception = seq.exceptions.pop()?;
    let chain = seq.exceptions.into_iter().zip(seq.links).collect();
    Some(Traceback {
        exception,
        chain,
        origin,
        text: String::new(),
    })
}

/// The exceptions of one box (the whole block at depth 0, a group member deeper), in the order
/// printed; `links[i]` says how `exceptions[i]` leads to `exceptions[i + 1]`.
#[derive(Debug, Default)]
struct Sequence {
    exceptions: Vec<Exception>,
    links: Vec<ChainLink>,
    mode: Mode,
    frames: Vec<Frame>,
    /// The exception whose message lines are being read.
    open: Option<Exception>,
    message_lines: usize,
    pending_link: Option<ChainLink>,
    ignored: usize,
    /// Inside a group member's box an exception may come without any traceback.
    bare_ok: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Before anything, or between two exceptions of a chain.
    #[default]
    Between,
    /// After a header: reading frames.
    Frames,
    /// After an exception line: reading the rest of its message.
    Message,
}

impl Sequence {
    fn line(&mut self, line: &str, problems: &mut Vec<String>) {
        let trimmed = line.trim_end();
        match self.mode {
            Mode::Frames => self.frame_line(line, problems),
            Mode::Message => {
                // Only a truly empty line ends the message: an indented blank line is part of
                // it (pytest's assertion diffs print "  ").
                if line.is_empty() {
                    self.close(problems);
                    self.mode = Mode::Between;
                } else if trimmed == HEADER || trimmed == GROUP_HEADER {
                    // A header at column 0 right after a message: the next traceback. (An
                    // indented one is part of the message, see py_multiline_exc_msg.)
                    self.close(problems);
                    self.mode = Mode::Frames;
                    self.frames.clear();
                } else if trimmed == "\"\"\"" {
                    // The close of a multiprocessing RemoteTraceback's quoted text.
                } else if let Some(open) = &mut self.open
                    && self.message_lines < MAX_MESSAGE_LINES
                {
                    self.message_lines += 1;
                    open.message.push('\n');
                    open.message.push_str(trimmed);
                }
            }
            Mode::Between => {
                if trimmed == HEADER || trimmed == GROUP_HEADER {
                    self.mode = Mode::Frames;
                    self.frames.clear();
                } else if trimmed == CAUSE_MESSAGE {
                    self.pending_link = Some(ChainLink::Cause);
                } else if trimmed == CONTEXT_MESSAGE {
                    self.pending_link = Some(ChainLink::Context);
                } else if trimmed.is_empty() {
                } else if let Some(frame) = parse_frame_line(line) {
                    // A SyntaxError's frame comes without a header.
                    self.mode = Mode::Frames;
                    self.frames.clear();
                    self.frames.push(frame);
                } else if (self.pending_link.is_some() || self.bare_ok)
                    && let Some((ty, msg)) = parse_exception_line(trimmed)
                {
                    // An exception that was never raised has no traceback: a link of a chain,
                    // or a member of a group built from exception objects.
                    self.open_exception(ty, msg);
                } else {
                    self.ignored += 1;
                }
            }
        }
    }

    fn frame_line(&mut self, line: &str, problems: &mut Vec<String>) {
        let trimmed = line.trim_end();
        if let Some(frame) = parse_frame_line(line) {
            self.frames.push(frame);
        } else if line.starts_with(' ') {
            let t = trimmed.trim_start();
            if t.is_empty()
                || is_marker_line(t)
                || is_elision_marker(t)
                || (t.starts_with("[Previous line repeated") && t.ends_with(']'))
            {
                return;
            }
            // The source line; 3.13 may show more lines of a multi-line call, or locals:
            // the first one is the line that ran.
            if let Some(frame) = self.frames.last_mut()
                && frame.code.is_none()
            {
                frame.code = Some(t.to_string());
            }
        } else if trimmed == HEADER || trimmed == GROUP_HEADER {
            problems.push("a traceback ended without its exception line".to_string());
            self.frames.clear();
        } else if trimmed.is_empty() {
        } else if let Some((ty, msg)) = parse_exception_line(trimmed) {
            self.open_exception(ty, msg);
        } else {
            problems.push(format!("not an exception line: {:?}", cut(trimmed, 200)));
            self.frames.clear();
            self.mode = Mode::Between;
        }
    }

    fn open_exception(&mut self, ty: &str, msg: &str) {
        self.open = Some(Exception {
            exc_type: ty.to_string(),
            message: msg.trim().to_string(),
            notes: Vec::new(),
            frames: std::mem::take(&mut self.frames),
            group: Vec::new(),
        });
        self.message_lines = 0;
        self.mode = Mode::Message;
    }

    /// Members of a group go to the exception just read (the group itself).
    fn members(&mut self, members: Vec<Exception>, problems: &mut Vec<String>) {
        match &mut self.open {
            Some(open) => open.group.extend(members),
            None => match self.exceptions.last_mut() {
                Some(last) if self.mode == Mode::Between && self.pending_link.is_none() => {
                    last.group.extend(members)
                }
                _ => problems.push("exception group members without their group".to_string()),
            },
        }
    }

    /// Files the exception whose message was being read.
    fn close(&mut self, problems: &mut Vec<String>) {
        let Some(exc) = self.open.take() else { return };
        if !self.exceptions.is_empty() {
            match self.pending_link.take() {
                Some(link) => self.links.push(link),
                None => {
                    // Two unrelated tracebacks in one block: the last one is the one reported.
                    problems.push(format!(
                        "several tracebacks in one block; kept the last ({})",
                        exc.exc_type
                    ));
                    self.exceptions.clear();
                    self.links.clear();
                }
            }
        }
        self.pending_link = None;
        self.exceptions.push(exc);
    }

    fn finish(&mut self, problems: &mut Vec<String>) {
        self.close(problems);
        if self.mode == Mode::Frames && !self.frames.is_empty() {
            problems.push("the traceback ends before its exception line".to_string());
        }
        if self.ignored > 0 {
            problems.push(format!(
                "{} lines outside the traceback were ignored",
                self.ignored
            ));
        }
    }
}

/// How a line sits in the box of depth `depth` (margins are 2 spaces per depth, then `|`).
enum Boxed<'a> {
    /// A line of this box, margin removed.
    Content(&'a str),
    /// A line of a member of a group printed in this box.
    Member,
    /// Not a line of this box.
    Outside,
}

fn classify_boxed(line: &str, depth: usize) -> Boxed<'_> {
    let indent = 2 * depth;
    let bytes = line.as_bytes();
    if bytes.len() <= indent || !bytes[..indent].iter().all(|&b| b == b' ') {
        return Boxed::Outside;
    }
    let rest = &line[indent..];
    if let Some(content) = rest.strip_prefix('|') {
        return Boxed::Content(content.strip_prefix(' ').unwrap_or(content));
    }
    if rest.starts_with("+-+") {
        return Boxed::Member;
    }
    let inner = rest.trim_start_matches(' ');
    if rest.len() > inner.len() && (inner.starts_with('|') || inner.starts_with('+')) {
        return Boxed::Member;
    }
    Boxed::Outside
}

/// Parses the lines of one box. At depth 0 a top-level group's box (depth 1) is read inline:
/// it holds exactly one exception, the group, while its chain is printed at depth 0.
fn parse_box(lines: &[&str], depth: usize, problems: &mut Vec<String>) -> Sequence {
    let mut seq = Sequence {
        bare_ok: depth > 0,
        ..Sequence::default()
    };
    let mut current = depth;
    let mut members: Vec<&str> = Vec::new();
    for &line in lines {
        if depth == 0 && current == 0 {
            if line.trim_end() == TOP_GROUP_HEADER {
                seq.line(GROUP_HEADER, problems);
                current = 1;
            } else {
                seq.line(line, problems);
            }
            continue;
        }
        match classify_boxed(line, current) {
            Boxed::Content(content) => {
                flush_members(&mut seq, &mut members, current, problems);
                seq.line(content, problems);
            }
            Boxed::Member => members.push(line),
            Boxed::Outside if depth == 0 => {
                flush_members(&mut seq, &mut members, current, problems);
                current = 0;
                seq.line(line, problems);
            }
            Boxed::Outside => seq.ignored += 1,
        }
    }
    flush_members(&mut seq, &mut members, current, problems);
    seq
}

/// Splits the member region of a group printed at `depth` into its members and parses each.
fn flush_members(
    seq: &mut Sequence,
    lines: &mut Vec<&str>,
    depth: usize,
    problems: &mut Vec<String>,
) {
    if lines.is_empty() {
        return;
    }
    // `{2d}+-+---- 1 ----` opens the first member, `{2d+2}+---- N ----` the next ones and
    // `{2d+2}+--------` closes the group (only once, by the innermost box at the end).
    let first = format!("{}+-+", " ".repeat(2 * depth));
    let next = format!("{}+--", " ".repeat(2 * depth + 2));
    let mut result = Vec::new();
    let mut member: Option<(bool, Vec<&str>)> = None;
    let mut finish = |member: Option<(bool, Vec<&str>)>, problems: &mut Vec<String>| {
        if let Some((truncated, body)) = member
            && !truncated
        {
            let mut sub = parse_box(&body, depth + 1, problems);
            sub.finish(problems);
            match sub.exceptions.pop() {
                Some(exc) => result.push(exc),
                None => problems.push("an exception group member could not be read".to_string()),
            }
        }
    };
    for &line in lines.iter() {
        let separator = line.starts_with(&first) || line.starts_with(&next);
        if !separator {
            match &mut member {
                Some((_, body)) => body.push(line),
                None => problems.push("exception group line outside any member".to_string()),
            }
            continue;
        }
        finish(member.take(), problems);
        // The title is the member's number, or `...` for those cut by max_group_width.
        let title = line.trim().trim_matches(|c| c == '+' || c == '-').trim();
        if !title.is_empty() {
            member = Some((title == "...", Vec::new()));
        }
    }
    finish(member.take(), problems);
    lines.clear();
    seq.members(result, problems);
}

// ---------------------------------------------------------------------------------------------
// pytest's own formats (long and short).

fn parse_pytest(lines: &[&str], title: &str, problems: &mut Vec<String>) -> Option<Traceback> {
    static SUB_SEPARATOR: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^_(?: _)+\s*$").expect("pytest separator regex"));
    static SHORT_FRAME: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(\S.*?):(\d+): in (\S.*?)\s*$").expect("short frame regex"));
    static LOCATION: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(\S.*?):(\d+):(?: (.*))?$").expect("location regex"));
    static DEF: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\s+(?:async\s+)?def\s+(\w+)\s*\(").expect("def regex"));

    let mut report = PytestReport::default();
    for &line in lines {
        let trimmed = line.trim_end();
        if trimmed == CAUSE_MESSAGE || trimmed == CONTEXT_MESSAGE {
            let link = if trimmed == CAUSE_MESSAGE {
                ChainLink::Cause
            } else {
                ChainLink::Context
            };
            report.close(Some(link), problems);
            continue;
        }
        if is_pytest_e_line(line) {
            report.e_lines.push(line[1..].to_string());
            report.code_target = false;
            continue;
        }
        if SUB_SEPARATOR.is_match(line) {
            report.entry_function = None;
            report.entry_code = None;
            report.code_target = false;
            continue;
        }
        if let Some(code) = trimmed.strip_prefix('>') {
            report.entry_code = Some(code.trim().to_string());
            report.code_target = false;
            continue;
        }
        if let Some(c) = SHORT_FRAME.captures(trimmed) {
            report.frames.push(Frame {
                file: c[1].to_string(),
                line: c[2].parse().unwrap_or(0),
                function: c[3].to_string(),
                code: None,
            });
            report.code_target = true;
            continue;
        }
        if let Some(c) = LOCATION.captures(trimmed) {
            // The end of a long-format entry: where it is, and for the innermost one the type.
            report.frames.push(Frame {
                file: c[1].to_string(),
                line: c[2].parse().unwrap_or(0),
                function: report.entry_function.take().unwrap_or_default(),
                code: report.entry_code.take(),
            });
            let ty = c.get(3).map_or("", |m| m.as_str()).trim();
            if !ty.is_empty()
                && parse_exception_line(ty).is_some_and(|(t, m)| m.is_empty() && t == ty)
            {
                report.location_type = Some(ty.to_string());
            }
            report.code_target = false;
            continue;
        }
        if report.entry_function.is_none()
            && let Some(c) = DEF.captures(line)
        {
            report.entry_function = Some(c[1].to_string());
        }
        if line.starts_with(' ') {
            if report.code_target && !is_marker_line(line) {
                if let Some(frame) = report.frames.last_mut()
                    && frame.code.is_none()
                {
                    frame.code = Some(trimmed.trim_start().to_string());
                }
                report.code_target = false;
            }
        } else {
            report.code_target = false;
        }
    }
    report.close(None, problems);
    let exception = report.exceptions.pop()?;
    let chain = report.exceptions.into_iter().zip(report.links).collect();
    Some(Traceback {
        exception,
        chain,
        origin: Some(title.to_string()),
        text: String::new(),
    })
}

#[derive(Debug, Default)]
struct PytestReport {
    exceptions: Vec<Exception>,
    links: Vec<ChainLink>,
    frames: Vec<Frame>,
    e_lines: Vec<String>,
    location_type: Option<String>,
    /// The `def` line and the `>` line of the long-format entry being read.
    entry_function: Option<String>,
    entry_code: Option<String>,
    /// The next indented line is the source line of the short-format frame just read.
    code_target: bool,
}

impl PytestReport {
    /// Ends the exception being read; `link` says how it leads to the next one.
    fn close(&mut self, link: Option<ChainLink>, problems: &mut Vec<String>) {
        let frames = std::mem::take(&mut self.frames);
        let location_type = self.location_type.take();
        let e_lines = std::mem::take(&mut self.e_lines);
        self.entry_function = None;
        self.entry_code = None;
        if e_lines.is_empty() {
            if location_type.is_some() {
                problems.push("a pytest report without its E lines".to_string());
            }
            return;
        }
        let Some((exc_type, message)) = pytest_exception(&e_lines, location_type.as_deref()) else {
            problems.push(format!(
                "no exception type in pytest's E lines: {:?}",
                cut(e_lines[0].trim(), 200)
            ));
            return;
        };
        if self.exceptions.len() > self.links.len() {
            // An earlier exception was filed without a link: it is unrelated, keep the last.
            self.exceptions.clear();
            self.links.clear();
        }
        self.exceptions.push(Exception {
            exc_type,
            message,
            notes: Vec::new(),
            frames,
            group: Vec::new(),
        });
        if let Some(link) = link {
            self.links.push(link);
        }
    }
}

/// The type and message from pytest's `E` lines and the location line's type.
fn pytest_exception(e_lines: &[String], location_type: Option<&str>) -> Option<(String, String)> {
    // The E lines keep pytest's indentation: the first line's is the message's left margin.
    let margin = e_lines[0].len() - e_lines[0].trim_start_matches(' ').len();
    let text: Vec<&str> = e_lines
        .iter()
        .map(|l| {
            let spaces = l.len() - l.trim_start_matches(' ').len();
            l[spaces.min(margin)..].trim_end()
        })
        .collect();
    let rest = text[1..].join("\n");
    let join = |first: &str| {
        if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}\n{rest}")
        }
        .trim_end()
        .to_string()
    };
    let last = |t: &str| t.rsplit('.').next().unwrap_or(t).to_string();
    if let Some((ty, msg)) = parse_exception_line(text[0])
        && plausible_type(ty)
        && location_type.is_none_or(|l| last(l) == last(ty))
    {
        return Some((ty.to_string(), join(msg)));
    }
    if let Some(ty) = location_type {
        return Some((ty.to_string(), join(text[0])));
    }
    if text[0].starts_with("assert ") {
        return Some(("AssertionError".to_string(), join(text[0])));
    }
    None
}

/// A name that reads as an exception class, so `E   note: something` is not taken for one.
fn plausible_type(ty: &str) -> bool {
    let last = ty.rsplit('.').next().unwrap_or(ty);
    last.starts_with(|c: char| c.is_ascii_uppercase())
        && ([
            "Error",
            "Exception",
            "Warning",
            "Interrupt",
            "Exit",
            "Group",
            "Failure",
        ]
        .iter()
        .any(|s| last.ends_with(s))
            || matches!(
                last,
                "Failed" | "Skipped" | "XFailed" | "StopIteration" | "StopAsyncIteration"
            ))
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ansi() {
        assert_eq!(
            strip_ansi("\x1b[1;35mValueError\x1b[0m: x"),
            "ValueError: x"
        );
        assert_eq!(strip_ansi("a\x1b]8;;http://x\x07b\x1b]8;;\x1b\\c"), "abc");
        assert_eq!(strip_ansi("tail\x1b"), "tail");
        assert!(matches!(strip_ansi("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn exception_lines() {
        assert_eq!(
            parse_exception_line("json.decoder.JSONDecodeError: Expecting value: line 1"),
            Some(("json.decoder.JSONDecodeError", "Expecting value: line 1"))
        );
        assert_eq!(
            parse_exception_line("KeyboardInterrupt"),
            Some(("KeyboardInterrupt", ""))
        );
        assert_eq!(
            parse_exception_line("f.<locals>.Err: x"),
            Some(("f.<locals>.Err", "x"))
        );
        assert_eq!(parse_exception_line("Ошибка: x"), Some(("Ошибка", "x")));
        assert_eq!(parse_exception_line("assert 1 == 2"), None);
        assert_eq!(parse_exception_line("ERROR:root:boom"), None);
        assert_eq!(parse_exception_line("  ValueError: x"), None);
        assert_eq!(parse_exception_line("1Error: x"), None);
    }

    #[test]
    fn frame_lines() {
        let f = parse_frame_line(r#"  File "/a b/x.py", line 12, in <module>"#);
        assert_eq!(
            f,
            Some(Frame {
                file: "/a b/x.py".into(),
                line: 12,
                function: "<module>".into(),
                code: None
            })
        );
        assert!(is_syntax_frame_line(r#"  File "x.py", line 2"#));
        assert!(!is_syntax_frame_line(r#"  File "x.py", line 2, in f"#));
        // faulthandler's format has no comma before "in".
        assert!(parse_frame_line(r#"  File "<string>", line 5 in spin"#).is_none());
    }

    #[test]
    fn shapes() {
        assert!(is_marker_line("    ~~~~~^^^^^"));
        assert!(!is_marker_line("    x ^ y"));
        assert!(is_log_record("2026-11-24 15:43:01,792 INFO [app] x"));
        assert!(is_log_record("INFO:root:x"));
        assert!(is_log_record("Nov 24 12:00:01 host app[1]: x"));
        assert!(!is_log_record("First differing element 1:"));
        assert!(is_rule_line("======"));
        assert!(is_rule_line("____ test_x ____"));
        assert!(!is_rule_line("_ _ _ _"));
        assert!(is_origin_header("Exception in thread Worker-1:"));
        assert!(!is_origin_header(
            "Exception in thread \"main\" java.lang.NoClassDefFoundError: x"
        ));
        assert_eq!(
            pytest_section_title("___ test_a[1-2] ___"),
            Some("test_a[1-2]")
        );
    }

    #[test]
    fn never_panics_on_odd_input() {
        for text in [
            "",
            "\n\n",
            "Traceback (most recent call last):",
            "  + Exception Group Traceback (most recent call last):\n  +-+\n    | \n",
            "  | ValueError: x\n  +-+---- 1 ----\n",
            "____ t ____\nE\nE   \n",
            "Traceback (most recent call last):\n  File \"x\", line 99999999999, in f\nE: x",
        ] {
            let _ = parse(text);
        }
    }

    #[test]
    fn chain_with_an_unraised_cause() {
        let p = parse(
            "Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\nKeyError: 'k'\n\n\
             The above exception was the direct cause of the following exception:\n\n\
             ValueError: v\n",
        );
        let tb = p.traceback.expect("traceback");
        assert_eq!(tb.exception.exc_type, "ValueError");
        assert_eq!(tb.chain.len(), 1);
    }
}
