//! Ingest: the wire layer for events sent by the official Sentry SDKs (issue 16).
//!
//! A program that calls `sentry_sdk.init(dsn=...)` with a DSN that points at heal posts its
//! errors as HTTP requests: a body, compressed or not, holding an envelope of items, one of
//! which is the event's JSON. This module turns such a request's parts into heal's own values,
//! stage by stage, each a pure function:
//!
//! 1. [`auth`]: the `sentry_key` from `X-Sentry-Auth` (or the query string), checked in
//!    constant time against the project's key.
//! 2. [`body`]: the body decompressed (`gzip`, `deflate`, `br`) through a capped reader.
//! 3. [`envelope`]: the envelope split into items; unknown item types are kept for the caller
//!    to skip, never an error.
//! 4. [`event`]: an event item's JSON read into wire types that bound what they keep.
//! 5. [`convert`]: the event turned into a [`crate::detect::Traceback`] (with a printed-style
//!    text from [`render`]), so the rest of heal treats it like a traceback read from stderr.
//!
//! [`lenient`] holds the serde helpers the wire types share: a field of an unexpected type reads
//! as absent, and lists keep a bounded number of entries while they are read; [`compact`]
//! renders a JSON value (a local variable, a tag) into short text while it is read.
//!
//! Invariants:
//! - **Pure.** No I/O, no clock, no network: bytes and strings in, values out. The HTTP server
//!   that calls this layer owns the sockets and the time.
//! - **Bounded.** No input makes memory grow past a fixed multiple of the caps: a decompressed
//!   body is read at most `cap + 1` bytes ([`body::ENVELOPE_CAP`]), an event item is at most
//!   [`body::EVENT_CAP`], and every list an event holds (exceptions, frames, variables, tags)
//!   keeps a bounded number of entries while it is read, not after.
//! - **Never panics on hostile input.** Every refusal is an [`IngestError`] that says what
//!   happened, what the sender can do next, and which HTTP status answers it
//!   ([`IngestError::status`]). serde_json's recursion limit (128) is kept on, so a deeply
//!   nested document is an error, not a stack overflow.

pub mod auth;
pub mod body;
pub mod compact;
pub mod convert;
pub mod envelope;
pub mod event;
pub mod lenient;
pub mod render;

use std::fmt::Write as _;

pub use auth::{check, dsn, sentry_key};
pub use body::{ENVELOPE_CAP, EVENT_CAP, decode};
pub use convert::{Converted, to_traceback};
pub use envelope::{Envelope, EnvelopeHeader, Item, ItemType, MAX_ITEMS, parse_envelope};
pub use event::{Event, parse_event};

/// Why a request was refused. Each variant answers with one HTTP status ([`Self::status`]);
/// its message is written for the person whose program sent the event.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// 401.
    #[error(
        "no sentry_key was given: send it in the X-Sentry-Auth header or as ?sentry_key=, as the Sentry SDK does with the DSN `heal serve` printed, http://KEY@HOST:PORT/PROJECT"
    )]
    MissingKey,
    /// 403.
    #[error(
        "the sentry_key does not match this project's key: use the DSN `heal serve` printed, http://KEY@HOST:PORT/PROJECT"
    )]
    WrongKey,
    /// 415.
    #[error(
        "the Content-Encoding {encoding:?} is not supported: send the body as gzip, deflate or br, or uncompressed"
    )]
    UnsupportedEncoding { encoding: String },
    /// 400.
    #[error(
        "the body is not valid {encoding} data: send it compressed as its Content-Encoding says, or uncompressed without one"
    )]
    Decompress {
        encoding: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// 413.
    #[error(
        "the {what} is larger than {}: heal refuses it; send smaller events (the SDK's `max_value_length`, or `include_local_variables=False`, keeps them small)",
        size(*.cap)
    )]
    TooLarge { what: &'static str, cap: usize },
    /// 413: a bound on the work one request may cause, like the size caps.
    #[error("the envelope holds more than {max} items: send at most {max} items in one envelope")]
    TooManyItems { max: usize },
    /// 400.
    #[error(
        "the envelope is empty: send a JSON header line, then each item's header line and payload"
    )]
    EmptyEnvelope,
    /// 400. `line` names it: "the envelope's header line", "item 2's header line".
    #[error(
        "{line} is longer than {}: send the envelope as the Sentry SDK writes it",
        size(*.cap)
    )]
    HeaderTooLong { line: String, cap: usize },
    /// 400.
    #[error(
        "the envelope's header line is not a JSON object: send the envelope as the Sentry SDK writes it"
    )]
    EnvelopeHeader(#[source] serde_json::Error),
    /// 400. Items are counted from 1.
    #[error(
        "item {index}'s header line is not a JSON object: send the envelope as the Sentry SDK writes it"
    )]
    ItemHeader {
        index: usize,
        #[source]
        source: serde_json::Error,
    },
    /// 400. Items are counted from 1.
    #[error(
        "item {index} says length {length} but only {remaining} bytes remain: the envelope was cut short or its length is wrong; send it whole"
    )]
    ItemLength {
        index: usize,
        length: usize,
        remaining: usize,
    },
    /// 400. Items are counted from 1.
    #[error(
        "item {index}'s payload of {length} bytes is followed by {found:?} instead of a newline: the item's length is wrong; send the envelope as the Sentry SDK writes it"
    )]
    MissingNewline {
        index: usize,
        length: usize,
        found: char,
    },
    /// 400.
    #[error(
        "the event is not a valid JSON object: send the event as the Sentry SDK writes it (UTF-8 JSON)"
    )]
    Event(#[source] serde_json::Error),
}

impl IngestError {
    /// The HTTP status that answers this refusal.
    pub fn status(&self) -> u16 {
        match self {
            IngestError::MissingKey => 401,
            IngestError::WrongKey => 403,
            IngestError::TooLarge { .. } | IngestError::TooManyItems { .. } => 413,
            IngestError::UnsupportedEncoding { .. } => 415,
            IngestError::Decompress { .. }
            | IngestError::EmptyEnvelope
            | IngestError::HeaderTooLong { .. }
            | IngestError::EnvelopeHeader(_)
            | IngestError::ItemHeader { .. }
            | IngestError::ItemLength { .. }
            | IngestError::MissingNewline { .. }
            | IngestError::Event(_) => 400,
        }
    }

    /// The message followed by its causes (`...: expected value at line 1 column 2`): the
    /// body of the HTTP answer, where a sender reads why without heal's log.
    pub fn detail(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(err) = cause {
            let _ = write!(text, ": {err}");
            cause = err.source();
        }
        text
    }
}

/// `20 MiB`, `512 KiB` or `100 bytes`: a cap as a person reads it.
fn size(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes % KIB == 0 {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(IngestError::MissingKey.status(), 401);
        assert_eq!(IngestError::WrongKey.status(), 403);
        let big = IngestError::TooLarge {
            what: "event item",
            cap: EVENT_CAP,
        };
        assert_eq!(big.status(), 413);
        assert!(big.to_string().contains("larger than 1 MiB"), "{big}");
        let enc = IngestError::UnsupportedEncoding {
            encoding: "zstd".into(),
        };
        assert_eq!(enc.status(), 415);
        assert_eq!(IngestError::EmptyEnvelope.status(), 400);
    }

    #[test]
    fn detail_names_the_cause() {
        let source = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let err = IngestError::Event(source);
        let detail = err.detail();
        assert!(detail.starts_with("the event is not a valid JSON object"));
        assert!(detail.contains("EOF while parsing"), "{detail}");
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(ENVELOPE_CAP), "20 MiB");
        assert_eq!(size(2048), "2 KiB");
        assert_eq!(size(100), "100 bytes");
    }
}
