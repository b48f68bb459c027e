//! Detection: turns what the child writes on stderr into parsed tracebacks.
//!
//! Everything here is pure: bytes and lines in, values out. No I/O, no clocks (the caller says
//! when output went quiet), no allocation that grows with the length of the output.
//!
//! - [`lines`] splits a byte stream into bounded lines (lossy UTF-8, capped length).
//! - [`scanner`] finds traceback blocks in a stream of lines.
//! - [`python`] parses one block into a [`Traceback`].
//! - [`locate`] finds the innermost frame in the project's own code.
//! - [`fingerprint`] says which tracebacks are "the same error".

pub mod fingerprint;
pub mod lines;
pub mod locate;
pub mod python;
pub mod scanner;

/// Which output stream a line came on. Each stream is scanned on its own: lines of the two are
/// never mixed into one traceback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One stack frame, as Python printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The path exactly as printed (absolute, relative, or a pseudo-file like `<string>`).
    pub file: String,
    pub line: u32,
    /// `<module>` for module level; empty when Python did not print one (SyntaxError).
    pub function: String,
    /// The source line Python showed under the frame, trimmed; `None` when it showed none.
    pub code: Option<String>,
}

/// One exception of a traceback: a link of a chain, or a member of an exception group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// The exception's type as printed, dotted when Python qualified it
    /// (`json.decoder.JSONDecodeError`).
    pub exc_type: String,
    /// The message, possibly several lines; empty when there is none (`KeyboardInterrupt`).
    pub message: String,
    /// Lines Python printed after the message that belong to it (`add_note`), if told apart.
    pub notes: Vec<String>,
    /// Outermost call first, innermost (where it was raised) last, as Python prints them.
    pub frames: Vec<Frame>,
    /// Members of an exception group, in printed order; empty for a plain exception.
    pub group: Vec<Exception>,
}

/// How the exception before this one in a chain is related to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainLink {
    /// "The above exception was the direct cause of the following exception:"
    Cause,
    /// "During handling of the above exception, another exception occurred:"
    Context,
}

/// A whole parsed traceback block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traceback {
    /// The exception Python reported last: the one that propagated (and, on a crash, killed the
    /// program). Its type and message are the incident's.
    pub exception: Exception,
    /// Earlier exceptions of the chain, oldest first, each with how it leads to the next one.
    pub chain: Vec<(Exception, ChainLink)>,
    /// A header line that said where the traceback came from, when there was one
    /// (`Exception in thread Worker-1:`, `Task exception was never retrieved`).
    pub origin: Option<String>,
    /// The block's text as printed (ANSI escapes and log prefixes removed), capped in size.
    pub text: String,
}

impl Traceback {
    /// The exception whose frames best locate the bug: for an exception group, its first leaf
    /// member (the group itself is raised by the framework); otherwise the reported exception.
    pub fn primary(&self) -> &Exception {
        let mut exc = &self.exception;
        while let Some(first) = exc.group.first() {
            exc = first;
        }
        exc
    }
}
