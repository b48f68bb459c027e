//! The part of Sentry's event JSON that heal reads, as its own wire types.
//!
//! An event (<https://develop.sentry.dev/sdk/data-model/event-payloads/>) is one JSON object;
//! sentry-python 2.x sends `exception.values[*].stacktrace.frames[*]` with `vars` (each local
//! variable's `repr`), `context_line`, `abs_path`, `in_app`, and a `mechanism` saying how the
//! SDK caught it (`{"type": "excepthook", "handled": false}` for a crash).
//!
//! Understood: the fields below; everything else is ignored. `exception` as an object with
//! `values` or directly as a list (the legacy store endpoint allows it); `message` as a string
//! or as an object like `logentry`; `tags` as an object or a list of `[key, value]` pairs;
//! `timestamp` as seconds or RFC 3339 text.
//!
//! Decisions:
//! - Every field may be missing, `null`, or of another type: such a field reads as absent (see
//!   [`super::lenient`]), so one odd field never loses the event. A list whose entries are not
//!   of the entry's type (a frame that is a number) refuses the event: no SDK sends one.
//! - Bounds are kept while reading: the last 11 exceptions (the raised one and 10 of its
//!   chain), 200 frames per stack trace (the first 50 and the last 150, where the error is),
//!   50 variables per frame (each value cut to 200 characters), 100 tags, 50 contexts and extras
//!   (1,024 characters each), 10 lines of context each side. A 1 MiB event of 100,000 frames
//!   costs the memory of 200.
//! - [`parse_event`] checks the [`EVENT_CAP`] itself, so no caller can forget it, and checks
//!   that the whole payload is UTF-8 (serde_json would skip invalid bytes inside ignored fields).
//! - Values nested deeper than serde_json's recursion limit (128) refuse the event (400): the
//!   SDKs cut their data at depth 10.

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, de};
use std::fmt;

use super::IngestError;
use super::body::EVENT_CAP;
use super::compact::Entries;
use super::lenient::{self, Bounded, Timestamp};

/// The raised exception and at most this many before it in its chain are kept.
pub const MAX_CHAIN: usize = 10;

/// Exceptions kept: the raised one and its chain.
type Exceptions = Bounded<ExceptionValue, 0, { MAX_CHAIN + 1 }>;

/// One event, as far as heal reads it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Event {
    #[serde(deserialize_with = "lenient::string")]
    pub event_id: Option<String>,
    #[serde(deserialize_with = "lenient::timestamp")]
    pub timestamp: Option<Timestamp>,
    #[serde(deserialize_with = "lenient::string")]
    pub platform: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub level: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub logger: Option<String>,
    /// `capture_message`'s text (a string), or the legacy object form of `logentry`.
    #[serde(deserialize_with = "message")]
    pub message: Option<LogEntry>,
    #[serde(deserialize_with = "lenient::object")]
    pub logentry: Option<LogEntry>,
    /// Oldest first: the last one is the exception that was raised.
    #[serde(deserialize_with = "exceptions")]
    pub exception: Exceptions,
    pub tags: Entries<100, 200>,
    #[serde(deserialize_with = "lenient::string")]
    pub release: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub environment: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub server_name: Option<String>,
    #[serde(deserialize_with = "lenient::object")]
    pub user: Option<User>,
    /// Each context (`runtime`, `os`, `trace`, ...) as compact JSON.
    pub contexts: Entries<50, 1024>,
    pub extra: Entries<50, 1024>,
}

/// A log message: its template and the text it was formatted into.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LogEntry {
    #[serde(deserialize_with = "lenient::string")]
    pub message: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub formatted: Option<String>,
}

/// Who the program was serving. heal keeps only a redacted display of it
/// ([`crate::ingest::Converted::user`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct User {
    #[serde(deserialize_with = "lenient::string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub email: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub username: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub ip_address: Option<String>,
}

/// One exception of the event.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ExceptionValue {
    /// The class name, unqualified (`JSONDecodeError`).
    #[serde(rename = "type", deserialize_with = "lenient::string")]
    pub ty: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub value: Option<String>,
    /// The class's module (`json.decoder`); sentry-python leaves it `null` for builtins.
    #[serde(deserialize_with = "lenient::string")]
    pub module: Option<String>,
    #[serde(deserialize_with = "lenient::object")]
    pub mechanism: Option<Mechanism>,
    #[serde(deserialize_with = "lenient::object")]
    pub stacktrace: Option<Stacktrace>,
}

/// How the SDK came to capture the exception.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Mechanism {
    /// `excepthook`, `threading`, `logging`, `generic` (a `capture_exception` call), ...
    #[serde(rename = "type", deserialize_with = "lenient::string")]
    pub kind: Option<String>,
    /// `false` when nothing caught it: the program crashed or the thread died.
    #[serde(deserialize_with = "lenient::boolean")]
    pub handled: Option<bool>,
    /// In a chain, the attribute that linked this exception to the next one: `__cause__`
    /// (`raise ... from`) or `__context__` (raised while handling it). Newer SDKs send it.
    #[serde(deserialize_with = "lenient::string")]
    pub source: Option<String>,
}

/// Frames, oldest call first, as Python prints them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Stacktrace {
    pub frames: Bounded<StackFrame, 50, 150>,
}

/// One frame.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct StackFrame {
    /// The path relative to its `sys.path` entry (`app.py`, `json/decoder.py`).
    #[serde(deserialize_with = "lenient::string")]
    pub filename: Option<String>,
    /// The absolute path, as Python printed it.
    #[serde(deserialize_with = "lenient::string")]
    pub abs_path: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub module: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub function: Option<String>,
    #[serde(deserialize_with = "lenient::uint")]
    pub lineno: Option<u32>,
    #[serde(deserialize_with = "lenient::uint")]
    pub colno: Option<u32>,
    /// The line that ran, untrimmed.
    #[serde(deserialize_with = "lenient::string")]
    pub context_line: Option<String>,
    /// The lines before it, nearest last.
    pub pre_context: Bounded<String, 0, 10>,
    pub post_context: Bounded<String, 10, 0>,
    /// Whether the frame is the program's own code, as the SDK judged it; absent for libraries.
    #[serde(deserialize_with = "lenient::boolean")]
    pub in_app: Option<bool>,
    /// Local variables in the order Python listed them, each value as the SDK rendered it.
    pub vars: Entries<50, 200>,
}

/// Reads one event item's payload (or a store endpoint's body).
///
/// Errors: larger than [`EVENT_CAP`] is 413; not UTF-8, not JSON, or not an object is 400.
pub fn parse_event(bytes: &[u8]) -> Result<Event, IngestError> {
    if bytes.len() > EVENT_CAP {
        return Err(IngestError::TooLarge {
            what: "event item",
            cap: EVENT_CAP,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|err| {
        IngestError::Event(de::Error::custom(format!(
            "invalid UTF-8 at byte {}",
            err.valid_up_to()
        )))
    })?;
    // A derived struct also accepts a JSON array (its fields by position): an event is an
    // object, so anything else is refused first.
    if !text.trim_start().starts_with('{') {
        return Err(IngestError::Event(de::Error::custom(
            "an event is a JSON object, and this is not one",
        )));
    }
    serde_json::from_str(text).map_err(IngestError::Event)
}

/// `message`: a string, or an object like `logentry`.
fn message<'de, D: Deserializer<'de>>(d: D) -> Result<Option<LogEntry>, D::Error> {
    struct MessageVisitor;

    impl<'de> Visitor<'de> for MessageVisitor {
        type Value = Option<LogEntry>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a message string or object")
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(LogEntry {
                message: Some(v.to_owned()),
                formatted: None,
            }))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            LogEntry::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            lenient::drain_seq(seq)?;
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    d.deserialize_any(MessageVisitor)
}

/// `exception`: `{"values": [...]}`, or the list itself.
fn exceptions<'de, D: Deserializer<'de>>(d: D) -> Result<Exceptions, D::Error> {
    struct ExceptionsVisitor;

    impl<'de> Visitor<'de> for ExceptionsVisitor {
        type Value = Exceptions;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an exception object or list")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Exceptions, A::Error> {
            Bounded::from_seq(seq)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Exceptions, A::Error> {
            let mut values = Exceptions::default();
            while let Some(key) = map.next_key::<String>()? {
                if key == "values" {
                    values = map.next_value()?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(values)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Exceptions, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_unit<E>(self) -> Result<Exceptions, E> {
            Ok(Exceptions::default())
        }
        fn visit_none<E>(self) -> Result<Exceptions, E> {
            Ok(Exceptions::default())
        }
        fn visit_bool<E>(self, _: bool) -> Result<Exceptions, E> {
            Ok(Exceptions::default())
        }
        fn visit_i64<E>(self, _: i64) -> Result<Exceptions, E> {
            Ok(Exceptions::default())
        }
        fn visit_u64<E>(self, _: u64) -> Result<Exceptions, E> {
            Ok(Exceptions::default())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Exceptions, E> {
            Ok(Exceptions::default())
        }
        fn visit_str<E>(self, _: &str) -> Result<Exceptions, E> {
            Ok(Exceptions::default())
        }
    }

    d.deserialize_any(ExceptionsVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{ENVELOPE_CAP, decode, parse_envelope};

    /// An uncaught error as sentry-sdk 2.x sends it, written by hand after the SDK's format
    /// (tests/fixtures/sentry/README.md).
    const CRASH: &str = include_str!("../../tests/fixtures/sentry/crash.event.json");

    fn event(json: &str) -> Event {
        parse_event(json.as_bytes()).unwrap()
    }

    #[test]
    fn an_sdk_crash_reads_whole() {
        let e = event(CRASH);
        assert_eq!(
            e.event_id.as_deref(),
            Some("e73cbe3e121a4fe5b4d43e122c526bd7")
        );
        assert_eq!(
            e.timestamp,
            Some(Timestamp::Text("2026-11-30T13:14:59.425421Z".into()))
        );
        assert_eq!(e.platform.as_deref(), Some("python"));
        assert_eq!(e.level.as_deref(), Some("error"));
        assert_eq!(e.release.as_deref(), Some("shop@1.2.0"));
        assert_eq!(e.environment.as_deref(), Some("production"));
        assert_eq!(e.server_name.as_deref(), Some("web-1"));
        assert_eq!(e.tags.entries, [("region".to_string(), "eu".to_string())]);
        assert_eq!(
            e.contexts.entries,
            [(
                "runtime".to_string(),
                r#"{"name":"CPython","version":"3.11.7"}"#.to_string()
            )]
        );
        assert_eq!(
            e.extra.entries,
            [("sys.argv".to_string(), r#"["report.py"]"#.to_string())]
        );
        assert_eq!(e.user.as_ref().and_then(|u| u.id.as_deref()), Some("42"));
        let values = &e.exception.items;
        assert_eq!(values.len(), 1);
        let exc = &values[0];
        assert_eq!(exc.ty.as_deref(), Some("ZeroDivisionError"));
        assert_eq!(exc.module, None);
        let mechanism = exc.mechanism.as_ref().unwrap();
        assert_eq!(mechanism.kind.as_deref(), Some("excepthook"));
        assert_eq!(mechanism.handled, Some(false));
        let frames = &exc.stacktrace.as_ref().unwrap().frames.items;
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[2].function.as_deref(), Some("cost_per_click"));
        assert_eq!(frames[2].lineno, Some(15));
        assert_eq!(frames[2].colno, Some(12));
        assert_eq!(frames[2].in_app, Some(true));
        assert_eq!(
            frames[2].vars.entries,
            [
                ("clicks".to_string(), "0".to_string()),
                ("spend".to_string(), "10.0".to_string())
            ]
        );
        assert_eq!(
            frames[0].vars.entries[1],
            ("__annotations__".to_string(), "{}".to_string())
        );
        assert_eq!(frames[0].pre_context.items, ["", ""]);
    }

    #[test]
    fn the_sdks_captured_events_read() {
        let body = include_bytes!("../../tests/fixtures/sentry/chained.envelope.gz");
        let text = decode(Some("gzip"), body, ENVELOPE_CAP).unwrap();
        let envelope = parse_envelope(&text).unwrap();
        let e = parse_event(envelope.items[0].payload).unwrap();
        let values = &e.exception.items;
        assert_eq!(values.len(), 2);
        assert_eq!(values[0].ty.as_deref(), Some("JSONDecodeError"));
        assert_eq!(values[0].module.as_deref(), Some("json.decoder"));
        assert_eq!(values[1].ty.as_deref(), Some("KeyError"));
        assert_eq!(values[1].value.as_deref(), Some("'cpc'"));
        let frames = &values[0].stacktrace.as_ref().unwrap().frames.items;
        assert_eq!(frames.len(), 5);
        // A library frame has no in_app, and its vars hold a dict rendered as JSON.
        assert_eq!(frames[2].in_app, None);
        assert!(
            frames[2]
                .vars
                .entries
                .contains(&("kw".to_string(), "{}".to_string()))
        );
    }

    #[test]
    fn a_message_reads_as_a_string_or_an_object() {
        let e =
            event(r#"{"message": "hello \u001b[31mred\u001b[0m\nsecond line", "level": "info"}"#);
        assert_eq!(
            e.message.and_then(|m| m.message).as_deref(),
            Some("hello \x1b[31mred\x1b[0m\nsecond line")
        );
        assert!(e.exception.items.is_empty());
        let e = event(
            r#"{"message": {"message": "%s failed", "formatted": "job failed"},
                          "logentry": {"message": "x %s", "params": ["y"], "formatted": "x y"}}"#,
        );
        assert_eq!(
            e.message.and_then(|m| m.formatted).as_deref(),
            Some("job failed")
        );
        assert_eq!(e.logentry.and_then(|m| m.formatted).as_deref(), Some("x y"));
    }

    #[test]
    fn exception_may_be_the_list_itself() {
        let e = event(
            r#"{"exception": [{"type": "ValueError", "value": "bad"}], "timestamp": 1764508499.4}"#,
        );
        assert_eq!(e.exception.items[0].ty.as_deref(), Some("ValueError"));
        assert_eq!(e.timestamp, Some(Timestamp::Seconds(1_764_508_499.4)));
    }

    #[test]
    fn tags_as_pairs() {
        let e = event(r#"{"tags": [["region", "eu"], ["level", 3], ["broken"]]}"#);
        assert_eq!(
            e.tags.entries,
            [
                ("region".to_string(), "eu".to_string()),
                ("level".to_string(), "3".to_string())
            ]
        );
    }

    #[test]
    fn odd_field_types_read_as_absent() {
        let e = event(
            r#"{"event_id": 7, "platform": ["python"], "user": "ada", "release": null,
                "exception": {"values": [{"type": 3, "mechanism": "x", "stacktrace": {"frames":
                  [{"lineno": "12", "in_app": "yes", "vars": ["a"], "function": null}]}}]},
                "contexts": 5, "tags": "region:eu"}"#,
        );
        assert_eq!(e.event_id.as_deref(), Some("7"));
        assert_eq!((e.platform, e.user, e.release), (None, None, None));
        let exc = &e.exception.items[0];
        assert_eq!(exc.ty.as_deref(), Some("3"));
        assert_eq!(exc.mechanism, None);
        let frame = &exc.stacktrace.as_ref().unwrap().frames.items[0];
        assert_eq!(
            (frame.lineno, frame.in_app, frame.function.as_deref()),
            (Some(12), None, None)
        );
        assert!(frame.vars.entries.is_empty());
        assert!(e.contexts.entries.is_empty() && e.tags.entries.is_empty());
    }

    #[test]
    fn r16_a_hundred_thousand_frames_keep_two_hundred() {
        // Empty frames, so that 100,000 of them fit in an event item.
        let mut frames =
            String::from(r#"{"filename": "loop.py", "function": "first", "lineno": 1}"#);
        frames.push_str(&",{}".repeat(100_000));
        frames.push_str(r#",{"filename": "loop.py", "function": "last", "lineno": 2}"#);
        let json = format!(
            r#"{{"exception": {{"values": [{{"type": "RecursionError", "stacktrace": {{"frames": [{frames}]}}}}]}}}}"#
        );
        assert!(json.len() < EVENT_CAP, "{} bytes", json.len());
        let e = event(&json);
        let kept = &e.exception.items[0].stacktrace.as_ref().unwrap().frames;
        assert_eq!(kept.items.len(), 200);
        assert_eq!(kept.omitted, 100_002 - 200);
        assert_eq!(kept.gap_at, 50);
        assert_eq!(kept.items[0].function.as_deref(), Some("first"));
        assert_eq!(kept.items[199].function.as_deref(), Some("last"));
    }

    #[test]
    fn a_long_chain_keeps_the_raised_exception_and_ten_before_it() {
        let values: Vec<String> = (0..50)
            .map(|i| format!(r#"{{"type": "E{i}", "value": "step {i}"}}"#))
            .collect();
        let e = event(&format!(
            r#"{{"exception": {{"values": [{}]}}}}"#,
            values.join(",")
        ));
        let kept = &e.exception;
        assert_eq!(kept.items.len(), MAX_CHAIN + 1);
        assert_eq!(kept.items.last().and_then(|v| v.ty.as_deref()), Some("E49"));
        assert_eq!(kept.items[0].ty.as_deref(), Some("E39"));
        assert_eq!(kept.omitted, 39);
    }

    #[test]
    fn a_megabyte_variable_is_cut_to_two_hundred_characters() {
        let big = "x".repeat(EVENT_CAP - 200);
        let json = format!(
            r#"{{"exception": [{{"stacktrace": {{"frames": [{{"vars": {{"blob": "{big}", "n": 1}}}}]}}}}]}}"#
        );
        let e = event(&json);
        let vars = &e.exception.items[0]
            .stacktrace
            .as_ref()
            .unwrap()
            .frames
            .items[0]
            .vars;
        assert_eq!(vars.entries[0].1.chars().count(), 200);
        assert!(vars.entries[0].1.ends_with('…'));
        assert_eq!(vars.entries[1], ("n".to_string(), "1".to_string()));
    }

    #[test]
    fn variables_past_fifty_are_counted_not_kept() {
        let vars: Vec<String> = (0..80).map(|i| format!(r#""v{i}": {i}"#)).collect();
        let json = format!(
            r#"{{"exception": [{{"stacktrace": {{"frames": [{{"vars": {{{}}}}}]}}}}]}}"#,
            vars.join(",")
        );
        let e = event(&json);
        let vars = &e.exception.items[0]
            .stacktrace
            .as_ref()
            .unwrap()
            .frames
            .items[0]
            .vars;
        assert_eq!(vars.entries.len(), 50);
        assert_eq!(vars.omitted, 30);
    }

    #[test]
    fn refusals_are_400_or_413() {
        for bad in [
            &b"not json"[..],
            b"[1, 2]",
            b"\"event\"",
            b"{\"a\": 1",
            b"",
            b"{} {}",
        ] {
            let err = parse_event(bad).unwrap_err();
            assert!(matches!(err, IngestError::Event(_)), "{bad:?}: {err}");
            assert_eq!(err.status(), 400);
        }
        let err = parse_event(b"{\"unknown\": \"caf\xc3\"}").unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(
            err.detail().contains("invalid UTF-8 at byte 16"),
            "{}",
            err.detail()
        );
        let big = format!("{{\"extra\": \"{}\"}}", "x".repeat(EVENT_CAP));
        assert_eq!(parse_event(big.as_bytes()).unwrap_err().status(), 413);
    }

    #[test]
    fn deep_nesting_is_a_clean_400() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        for json in [
            format!(r#"{{"extra": {{"x": {deep}}}}}"#),
            format!(
                r#"{{"exception": {{"values": [{{"stacktrace": {{"frames": [{{"vars": {{"a": {deep}}}}}]}}}}]}}}}"#
            ),
        ] {
            let err = parse_event(json.as_bytes()).unwrap_err();
            assert_eq!(err.status(), 400);
            assert!(
                err.detail().contains("recursion limit exceeded"),
                "{}",
                err.detail()
            );
        }
        // Nesting under a field heal does not read is skipped without recursion.
        let skipped = format!(r#"{{"breadcrumbs": {deep}, "level": "error"}}"#);
        assert_eq!(event(&skipped).level.as_deref(), Some("error"));
    }
}
