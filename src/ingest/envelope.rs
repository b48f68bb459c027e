//! Sentry's envelope format, split into items.
//!
//! An envelope (<https://develop.sentry.dev/sdk/data-model/envelopes/>) is a header line of JSON
//! (`{"event_id":"...","sent_at":"...","dsn":"..."}`), then items. Each item is a header line of
//! JSON (`{"type":"event","length":6278}`) and a payload: exactly `length` bytes when the header
//! gives one (a newline may follow), or the bytes up to the next newline (or the end) when not.
//! sentry-python always writes `length` and ends every payload with a newline.
//!
//! Understood: any item type. `event` and `attachment` are named; every other type (`profile`,
//! `profile_chunk`, `client_report`, `session`, `transaction`, `log`, and types not yet
//! invented) is kept as [`ItemType::Other`] for the caller to skip. An unknown type never fails
//! the envelope: the `sentry-types` crate's parser does, and sentry-python sends such types
//! beside its events, which is why heal has its own parser.
//!
//! Decisions:
//! - Whitespace between items (empty lines, `\r\n`) is skipped; a header line may end in `\r`.
//! - An item header without a `type`, or with one that is not a string, is [`ItemType::Other`]
//!   with an empty name: skipped, not refused. A `length` that is not a non-negative integer is
//!   refused, since without it the rest of the envelope cannot be framed.
//! - Header lines are at most 64 KiB ([`MAX_HEADER_LINE`]; the SDKs' are a few hundred bytes)
//!   and are read as whole JSON values under serde_json's recursion limit, so a header nested
//!   10,000 deep is a 400, never a stack overflow.
//! - At most [`MAX_ITEMS`] items; an event item's payload at most [`EVENT_CAP`] bytes. Payloads
//!   are borrowed from the body, not copied.
//!
//! Pure: bytes in, values out; it never panics on any input.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::body::EVENT_CAP;
use super::{IngestError, lenient};
use crate::detect::python::cut;

/// The most items one envelope may hold (sentry-python sends one to three).
pub const MAX_ITEMS: usize = 100;

/// The longest header line, the envelope's or an item's.
pub const MAX_HEADER_LINE: usize = 64 * 1024;

/// The longest item type name kept in [`ItemType::Other`].
const MAX_TYPE_NAME: usize = 100;

/// A parsed envelope; its payloads borrow from the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<'a> {
    pub header: EnvelopeHeader,
    pub items: Vec<Item<'a>>,
}

impl<'a> Envelope<'a> {
    /// The event items, in order: the ones heal reads.
    pub fn events(&self) -> impl Iterator<Item = &Item<'a>> {
        self.items.iter().filter(|i| i.kind == ItemType::Event)
    }
}

/// The envelope's header line: the fields heal reads; others are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct EnvelopeHeader {
    #[serde(deserialize_with = "lenient::string")]
    pub event_id: Option<String>,
    /// The DSN the SDK was given, when it says (sentry-python does not).
    #[serde(deserialize_with = "lenient::string")]
    pub dsn: Option<String>,
    /// When the SDK sent the envelope, RFC 3339.
    #[serde(deserialize_with = "lenient::string")]
    pub sent_at: Option<String>,
}

/// What an item holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemType {
    /// An error or message event: JSON, read by [`crate::ingest::parse_event`].
    Event,
    /// A file attached to an event.
    Attachment,
    /// Any other type, by its name (cut to 100 bytes); empty when the header gave none.
    Other(String),
}

impl ItemType {
    fn from_name(name: &str) -> ItemType {
        match name {
            "event" => ItemType::Event,
            "attachment" => ItemType::Attachment,
            other => ItemType::Other(cut(other, MAX_TYPE_NAME).to_string()),
        }
    }
}

/// One item: its type, what its header says of the payload, and the payload's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item<'a> {
    pub kind: ItemType,
    pub content_type: Option<String>,
    /// An attachment's file name.
    pub filename: Option<String>,
    pub payload: &'a [u8],
}

/// The fields of an item header that frame and name the item.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ItemHeader {
    #[serde(rename = "type", deserialize_with = "lenient::string")]
    kind: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    content_type: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    filename: Option<String>,
}

/// Splits `body` (already decompressed) into its header and items.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope<'_>, IngestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::EmptyEnvelope);
    }
    let (line, mut rest) = split_line(body);
    let header = header_line(line)
        .and_then(|map| serde_json::from_value(Value::Object(map)).map_err(Bad::Json))
        .map_err(|bad| bad.into_error(0))?;
    let mut items = Vec::new();
    loop {
        rest = skip_whitespace(rest);
        if rest.is_empty() {
            break;
        }
        if items.len() == MAX_ITEMS {
            return Err(IngestError::TooManyItems { max: MAX_ITEMS });
        }
        let index = items.len() + 1;
        let (item, after) = item(rest, index)?;
        items.push(item);
        rest = after;
    }
    Ok(Envelope { header, items })
}

/// The item that starts `rest`, and what follows it. `index` counts items from 1.
fn item(rest: &[u8], index: usize) -> Result<(Item<'_>, &[u8]), IngestError> {
    let (line, after_header) = split_line(rest);
    let map = header_line(line).map_err(|bad| bad.into_error(index))?;
    let length = length(&map).map_err(|bad| bad.into_error(index))?;
    let header: ItemHeader = serde_json::from_value(Value::Object(map))
        .map_err(|source| IngestError::ItemHeader { index, source })?;
    let (payload, after) = match length {
        Some(length) => {
            if length > after_header.len() {
                return Err(IngestError::ItemLength {
                    index,
                    length,
                    remaining: after_header.len(),
                });
            }
            let (payload, after) = after_header.split_at(length);
            (payload, end_of_payload(after, index, length)?)
        }
        None => split_line(after_header),
    };
    let kind = ItemType::from_name(header.kind.as_deref().unwrap_or_default());
    if kind == ItemType::Event && payload.len() > EVENT_CAP {
        return Err(IngestError::TooLarge {
            what: "event item",
            cap: EVENT_CAP,
        });
    }
    let item = Item {
        kind,
        content_type: header.content_type,
        filename: header.filename,
        payload,
    };
    Ok((item, after))
}

/// What is wrong with a header line, before it is known whose it is.
enum Bad {
    TooLong,
    Json(serde_json::Error),
}

impl Bad {
    /// `index` 0 is the envelope's header, 1 and on the items'.
    fn into_error(self, index: usize) -> IngestError {
        match (self, index) {
            (Bad::TooLong, _) => IngestError::HeaderTooLong {
                line: if index == 0 {
                    "the envelope's header line".to_string()
                } else {
                    format!("item {index}'s header line")
                },
                cap: MAX_HEADER_LINE,
            },
            (Bad::Json(source), 0) => IngestError::EnvelopeHeader(source),
            (Bad::Json(source), index) => IngestError::ItemHeader { index, source },
        }
    }
}

/// A header line read as a JSON object. Reading the whole value (not only the fields heal
/// wants) puts every level of nesting under serde_json's recursion limit, and the line's cap
/// bounds what the value costs.
fn header_line(line: &[u8]) -> Result<Map<String, Value>, Bad> {
    if line.len() > MAX_HEADER_LINE {
        return Err(Bad::TooLong);
    }
    serde_json::from_slice(line).map_err(Bad::Json)
}

/// The item's `length`: absent (or `null`), or a non-negative integer.
fn length(map: &Map<String, Value>) -> Result<Option<usize>, Bad> {
    match map.get("length") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                Bad::Json(serde::de::Error::custom(format!(
                    "length must be a non-negative integer, not {}",
                    cut(&value.to_string(), 40)
                )))
            }),
    }
}

/// After a payload of known length: its newline (`\n` or `\r\n`), or the end of the body.
fn end_of_payload(after: &[u8], index: usize, length: usize) -> Result<&[u8], IngestError> {
    match after {
        [] => Ok(after),
        [b'\n', rest @ ..] | [b'\r', b'\n', rest @ ..] => Ok(rest),
        [found, ..] => Err(IngestError::MissingNewline {
            index,
            length,
            found: char::from(*found),
        }),
    }
}

/// The bytes before the first newline, and those after it (empty when there is none).
fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[]),
    }
}

fn skip_whitespace(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{ENVELOPE_CAP, decode};

    const HEADER: &str = r#"{"event_id":"3e4b69dbb2a840eb96e1eb84493cfd2c","sent_at":"2026-11-30T13:14:46.607146Z","trace":{"trace_id":"8315a24863f842a58941e37d02de5638","environment":"production","release":"shop@1.2.0","public_key":"abc123"}}"#;
    const EVENT: &str =
        r#"{"level":"error","event_id":"3e4b69dbb2a840eb96e1eb84493cfd2c","platform":"python"}"#;
    const CLIENT_REPORT: &str = r#"{"timestamp":1764508486.6,"discarded_events":[{"reason":"sample_rate","category":"error","quantity":1}]}"#;

    /// One item as sentry-python writes it: the header with its length, the payload, `\n`.
    fn item_bytes(header: &str, payload: &str) -> String {
        let mut header: Value = serde_json::from_str(header).unwrap();
        header["length"] = payload.len().into();
        format!("{header}\n{payload}\n")
    }

    fn kinds(envelope: &Envelope<'_>) -> Vec<ItemType> {
        envelope.items.iter().map(|i| i.kind.clone()).collect()
    }

    fn refusal(body: &[u8]) -> IngestError {
        parse_envelope(body).expect_err("expected a refusal")
    }

    #[test]
    fn the_sdks_envelope_with_an_event_and_a_client_report() {
        let body = format!(
            "{HEADER}\n{}{}",
            item_bytes(
                r#"{"type":"event","content_type":"application/json"}"#,
                EVENT
            ),
            item_bytes(r#"{"type":"client_report"}"#, CLIENT_REPORT),
        );
        let envelope = parse_envelope(body.as_bytes()).unwrap();
        assert_eq!(
            envelope.header,
            EnvelopeHeader {
                event_id: Some("3e4b69dbb2a840eb96e1eb84493cfd2c".into()),
                dsn: None,
                sent_at: Some("2026-11-30T13:14:46.607146Z".into()),
            }
        );
        assert_eq!(
            kinds(&envelope),
            [ItemType::Event, ItemType::Other("client_report".into())]
        );
        assert_eq!(envelope.items[0].payload, EVENT.as_bytes());
        assert_eq!(
            envelope.items[0].content_type.as_deref(),
            Some("application/json")
        );
        assert_eq!(envelope.items[1].payload, CLIENT_REPORT.as_bytes());
        assert_eq!(envelope.events().count(), 1);
    }

    #[test]
    fn the_sdks_captured_envelopes_parse() {
        for body in [
            &include_bytes!("../../tests/fixtures/sentry/uncaught.envelope.gz")[..],
            &include_bytes!("../../tests/fixtures/sentry/chained.envelope.gz")[..],
        ] {
            let text = decode(Some("gzip"), body, ENVELOPE_CAP).unwrap();
            let envelope = parse_envelope(&text).unwrap();
            assert_eq!(kinds(&envelope), [ItemType::Event]);
            let event = envelope.items[0].payload;
            assert!(event.starts_with(b"{\"level\":\"error\""));
            assert!(event.ends_with(b"\"platform\":\"python\"}"));
        }
    }

    #[test]
    fn items_without_length_run_to_the_newline() {
        let body = format!(
            "{{}}\n{{\"type\":\"event\"}}\n{EVENT}\n{{\"type\":\"session\"}}\n{{\"sid\":\"x\"}}"
        );
        let envelope = parse_envelope(body.as_bytes()).unwrap();
        assert_eq!(
            kinds(&envelope),
            [ItemType::Event, ItemType::Other("session".into())]
        );
        assert_eq!(envelope.items[0].payload, EVENT.as_bytes());
        assert_eq!(envelope.items[1].payload, b"{\"sid\":\"x\"}");
        assert_eq!(envelope.header, EnvelopeHeader::default());
    }

    #[test]
    fn the_last_item_may_end_without_a_newline() {
        let body = format!(
            "{HEADER}\n{{\"type\":\"event\",\"length\":{}}}\n{EVENT}",
            EVENT.len()
        );
        let envelope = parse_envelope(body.as_bytes()).unwrap();
        assert_eq!(envelope.items[0].payload, EVENT.as_bytes());
        let empty = parse_envelope(b"{}\n{\"type\":\"attachment\",\"length\":0}").unwrap();
        assert_eq!(empty.items[0].payload, b"");
    }

    #[test]
    fn empty_lines_between_items_are_skipped() {
        let body = format!(
            "{HEADER}\n\n{}\r\n\n{}\n\n",
            item_bytes(r#"{"type":"event"}"#, EVENT),
            item_bytes(
                r#"{"type":"attachment","filename":"log.txt"}"#,
                "line one\nline two"
            ),
        );
        let envelope = parse_envelope(body.as_bytes()).unwrap();
        assert_eq!(kinds(&envelope), [ItemType::Event, ItemType::Attachment]);
        assert_eq!(envelope.items[1].payload, b"line one\nline two");
        assert_eq!(envelope.items[1].filename.as_deref(), Some("log.txt"));
    }

    #[test]
    fn unknown_item_types_are_kept_for_the_caller_to_skip() {
        let mut body = format!("{HEADER}\n");
        for kind in [
            "profile",
            "profile_chunk",
            "client_report",
            "session",
            "transaction",
            "log",
            "replay_video",
        ] {
            body.push_str(&item_bytes(&format!(r#"{{"type":"{kind}"}}"#), "{}"));
        }
        body.push_str(&item_bytes(r#"{"length":0}"#, "{}"));
        body.push_str(&item_bytes(r#"{"type":7}"#, "{}"));
        body.push_str(&item_bytes(r#"{"type":"event"}"#, EVENT));
        let envelope = parse_envelope(body.as_bytes()).unwrap();
        assert_eq!(envelope.items.len(), 10);
        assert_eq!(envelope.items[7].kind, ItemType::Other(String::new()));
        assert_eq!(envelope.items[8].kind, ItemType::Other("7".into()));
        assert_eq!(envelope.events().count(), 1);
    }

    #[test]
    fn r16_length_beyond_the_body_says_what_remains() {
        let body = format!(
            "{HEADER}\n{}{{\"type\":\"event\",\"length\":5000}}\n{{\"a\":\"bcd\"}}\n",
            item_bytes(r#"{"type":"client_report"}"#, CLIENT_REPORT),
        );
        let err = refusal(body.as_bytes());
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.to_string(),
            "item 2 says length 5000 but only 12 bytes remain: the envelope was cut short or its length is wrong; send it whole"
        );
    }

    #[test]
    fn a_truncated_envelope_is_refused() {
        let body = format!("{HEADER}\n{}", item_bytes(r#"{"type":"event"}"#, EVENT));
        let cut_short = &body.as_bytes()[..body.len() - 20];
        let err = refusal(cut_short);
        assert!(
            matches!(err, IngestError::ItemLength { index: 1, .. }),
            "{err}"
        );
        assert_eq!(err.status(), 400);
        // Cut inside the item header: that line is not JSON.
        let in_header = &body.as_bytes()[..HEADER.len() + 8];
        assert!(matches!(
            refusal(in_header),
            IngestError::ItemHeader { index: 1, .. }
        ));
    }

    #[test]
    fn a_payload_longer_than_its_length_is_refused() {
        let body = format!("{{}}\n{{\"type\":\"event\",\"length\":3}}\n{EVENT}\n");
        let err = refusal(body.as_bytes());
        assert!(
            matches!(
                err,
                IngestError::MissingNewline {
                    index: 1,
                    length: 3,
                    found: 'e'
                }
            ),
            "{err}"
        );
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn bad_lengths_are_refused() {
        for length in ["-1", "1.5", "\"12\"", "true", "18446744073709551616"] {
            let body = format!("{{}}\n{{\"type\":\"event\",\"length\":{length}}}\n{{}}\n");
            let err = refusal(body.as_bytes());
            assert!(
                matches!(err, IngestError::ItemHeader { index: 1, .. }),
                "{length}: {err}"
            );
            assert!(
                err.detail().contains("non-negative integer"),
                "{}",
                err.detail()
            );
        }
        let null = parse_envelope(b"{}\n{\"type\":\"event\",\"length\":null}\n{}\n").unwrap();
        assert_eq!(null.items[0].payload, b"{}");
    }

    #[test]
    fn headers_that_are_not_json_objects_are_400() {
        for header in ["not json", "[1,2]", "\"event\"", "{\"event_id\":", ""] {
            let body = format!("{header}\n{}", item_bytes(r#"{"type":"event"}"#, EVENT));
            let err = refusal(body.as_bytes());
            assert!(
                matches!(err, IngestError::EnvelopeHeader(_)),
                "{header:?}: {err}"
            );
            assert_eq!(err.status(), 400);
        }
        let body = format!(
            "{HEADER}\n{}[\"type\"]\n{{}}\n",
            item_bytes(r#"{"type":"event"}"#, EVENT)
        );
        let err = refusal(body.as_bytes());
        assert!(
            matches!(err, IngestError::ItemHeader { index: 2, .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("item 2's header line is not a JSON object")
        );
    }

    #[test]
    fn invalid_utf8_in_an_item_header_is_400() {
        let mut body = format!("{HEADER}\n").into_bytes();
        body.extend_from_slice(b"{\"type\":\"ev\xffent\",\"length\":2}\n{}\n");
        let err = refusal(&body);
        assert!(
            matches!(err, IngestError::ItemHeader { index: 1, .. }),
            "{err}"
        );
        assert_eq!(err.status(), 400);
        // In a key as well: every string of a header line is read, none skipped unchecked.
        let body = b"{}\n{\"ty\xc3\x28pe\":\"event\"}\n{}\n";
        assert!(matches!(
            refusal(body),
            IngestError::ItemHeader { index: 1, .. }
        ));
    }

    #[test]
    fn r16_headers_nested_10000_deep_are_a_clean_400() {
        let arrays = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let objects = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
        let in_a_field = format!("{{\"event_id\":{arrays}}}");
        // An array is refused before its first bracket is entered; the objects reach
        // serde_json's recursion limit.
        for (deep, why) in [
            (&arrays, "expected a map"),
            (&objects, "recursion limit exceeded"),
            (&in_a_field, "recursion limit exceeded"),
        ] {
            let err = refusal(format!("{deep}\n").as_bytes());
            assert!(matches!(err, IngestError::EnvelopeHeader(_)), "{err}");
            assert_eq!(err.status(), 400);
            assert!(err.detail().contains(why), "{}", err.detail());
            let body = format!("{{}}\n{deep}\n{{}}\n");
            assert!(matches!(
                refusal(body.as_bytes()),
                IngestError::ItemHeader { index: 1, .. }
            ));
        }
    }

    #[test]
    fn over_long_header_lines_are_400() {
        let long = format!("{{\"event_id\":\"{}\"}}", "a".repeat(MAX_HEADER_LINE));
        let err = refusal(format!("{long}\n").as_bytes());
        assert_eq!(err.status(), 400);
        assert!(
            err.to_string()
                .starts_with("the envelope's header line is longer than 64 KiB"),
            "{err}"
        );
        let err = refusal(format!("{{}}\n{long}\n").as_bytes());
        assert!(err.to_string().starts_with("item 1's header line"), "{err}");
    }

    #[test]
    fn too_many_items_are_413() {
        let mut body = String::from("{}\n");
        for _ in 0..=MAX_ITEMS {
            body.push_str("{\"type\":\"log\",\"length\":2}\n{}\n");
        }
        let err = refusal(body.as_bytes());
        assert!(
            matches!(err, IngestError::TooManyItems { max: MAX_ITEMS }),
            "{err}"
        );
        assert_eq!(err.status(), 413);
        let exactly = body.replacen("{\"type\":\"log\",\"length\":2}\n{}\n", "", 1);
        assert_eq!(
            parse_envelope(exactly.as_bytes()).unwrap().items.len(),
            MAX_ITEMS
        );
    }

    #[test]
    fn an_event_item_over_its_cap_is_413_and_an_attachment_is_not() {
        let big = format!("\"{}\"", "x".repeat(EVENT_CAP));
        let event = format!("{{}}\n{}", item_bytes(r#"{"type":"event"}"#, &big));
        let err = refusal(event.as_bytes());
        assert_eq!(err.status(), 413);
        assert!(
            err.to_string()
                .starts_with("the event item is larger than 1 MiB"),
            "{err}"
        );
        let attachment = format!("{{}}\n{}", item_bytes(r#"{"type":"attachment"}"#, &big));
        assert_eq!(
            parse_envelope(attachment.as_bytes()).unwrap().items[0]
                .payload
                .len(),
            big.len()
        );
    }

    #[test]
    fn empty_bodies_are_400() {
        for body in [&b""[..], b"\n", b"  \r\n\n"] {
            let err = refusal(body);
            assert!(matches!(err, IngestError::EmptyEnvelope), "{err}");
            assert_eq!(err.status(), 400);
        }
        let header_only = parse_envelope(b"{\"dsn\":\"http://abc@127.0.0.1:9/1\"}").unwrap();
        assert!(header_only.items.is_empty());
        assert_eq!(
            header_only.header.dsn.as_deref(),
            Some("http://abc@127.0.0.1:9/1")
        );
    }

    #[test]
    fn hostile_bytes_never_panic() {
        // Every prefix of a real envelope, and every single-byte change of a small one.
        let text = decode(
            Some("gzip"),
            include_bytes!("../../tests/fixtures/sentry/chained.envelope.gz"),
            ENVELOPE_CAP,
        )
        .unwrap();
        for end in 0..text.len() {
            let _ = parse_envelope(&text[..end]);
        }
        let small = format!("{{}}\n{}", item_bytes(r#"{"type":"event"}"#, "{\"a\":1}"));
        for i in 0..small.len() {
            for byte in [b'\n', b'{', b'"', b'0', 0xff, b' '] {
                let mut bytes = small.clone().into_bytes();
                bytes[i] = byte;
                let _ = parse_envelope(&bytes);
            }
        }
    }
}
