//! An event turned into heal's own values: the [`Traceback`] every later stage reads, and what
//! only an SDK can tell (local variables, which frames are the program's own, tags, release).
//!
//! Rules:
//! - The last of `exception.values` is the exception that was raised; the ones before it are
//!   its chain, oldest first, as in [`Traceback::chain`]. Each link is [`ChainLink::Cause`]
//!   unless the SDK said `mechanism.source: "__context__"`: sentry-python sends a plain chain
//!   without saying which link it was (`raise ... from` or raised while handling), so the
//!   link is a guess the text shows as "the direct cause".
//! - Frames stay oldest first, as Python prints them. A frame's file is its `abs_path` (what
//!   Python printed) or else its `filename`; its function `<module>` when the SDK gave none;
//!   its code the `context_line`, trimmed.
//! - The type is `module.Type` when the module is not a builtins module (as Python prints
//!   `json.decoder.JSONDecodeError`), else `Type`; `Error` when the event names none.
//! - An event without an exception (`capture_message`, a log record) gives `None`: heal has no
//!   traceback to heal from it yet.
//!
//! Bounds, whatever the event (also one built by hand rather than read by
//! [`super::parse_event`]): at most 10 exceptions in the chain, 200 frames per exception (the
//! first 50 and the last 150), 50 local variables per frame with values cut to 200 characters,
//! messages cut at 8 KiB, names and paths at 1 KiB, and the text at 64 KiB
//! ([`super::render`]).

use std::collections::BTreeMap;

use super::event::{Event, ExceptionValue, MAX_CHAIN, StackFrame};
use super::render::{self, Gap, one_line};
use crate::detect::python::cut;
use crate::detect::{ChainLink, Exception, Frame, Traceback};

/// The most frames kept per exception: the first 50, then the innermost.
pub const MAX_FRAMES: usize = 200;
const HEAD_FRAMES: usize = 50;
/// The longest message kept, in bytes.
pub const MAX_MESSAGE: usize = 8 * 1024;
/// The longest type, path, function name or code line kept, in bytes.
pub const MAX_FIELD: usize = 1024;
/// The most local variables kept per frame, and the longest value, in characters.
const MAX_LOCALS: usize = 50;
const MAX_LOCAL_CHARS: usize = 200;
/// The longest tag, release, environment, user id or event id kept, in bytes.
const MAX_SHORT: usize = 200;

/// Modules whose exception types Python prints unqualified.
const BUILTIN_MODULES: [&str; 3] = ["builtins", "exceptions", "__builtin__"];

/// What heal keeps of an event that holds an exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    /// The exception, its chain, and a printed-style text that `detect::python::parse` reads
    /// back as the same exception. `origin` is `None`: the SDK says how it caught the error
    /// (`handled`), not which thread printed it.
    pub traceback: Traceback,
    /// The local variables of each frame of the raised exception, in the order of its frames
    /// (outermost first, innermost last): `(name, value)`, a value as the SDK rendered it (a
    /// `repr` string kept as it is, anything else as compact JSON), cut to 200 characters; at
    /// most 50 per frame.
    pub locals: Vec<Vec<(String, String)>>,
    /// Whether each frame of the raised exception is the program's own code, as the SDK
    /// judged it (`false` when it did not say), in the order of its frames.
    pub in_app: Vec<bool>,
    pub tags: BTreeMap<String, String>,
    pub release: Option<String>,
    pub environment: Option<String>,
    /// Who the program was serving, redacted: `id=42` from the user's id alone. The email,
    /// user name and IP address the SDK may send are personal data heal has no use for: they
    /// are never kept, so they cannot reach a record, a model or Slack.
    pub user: Option<String>,
    /// `Some(false)` when nothing caught the exception (the SDK's excepthook saw the crash).
    pub handled: Option<bool>,
    pub event_id: Option<String>,
}

/// The event's exception as heal's values; `None` when it holds none.
pub fn to_traceback(event: &Event) -> Option<Converted> {
    let values = &event.exception.items;
    let (raised, before) = values.split_last()?;
    let before = &before[before.len().saturating_sub(MAX_CHAIN)..];
    let mut gaps = Vec::with_capacity(before.len() + 1);
    let chain: Vec<(Exception, ChainLink)> = before
        .iter()
        .map(|v| {
            let (frames, gap) = frames_of(v);
            gaps.push(gap);
            (exception(v, &frames), link(v))
        })
        .collect();
    let (frames, gap) = frames_of(raised);
    gaps.push(gap);
    let exception = exception(raised, &frames);
    let text = render::render(&chain, &exception, &gaps);
    let locals = frames.iter().map(|f| locals(f)).collect();
    let in_app = frames.iter().map(|f| f.in_app.unwrap_or(false)).collect();
    let mut tags = BTreeMap::new();
    for (key, value) in &event.tags.entries {
        // The first of a repeated key wins, as it would in a JSON object read in order.
        tags.entry(short(key)).or_insert_with(|| short(value));
    }
    Some(Converted {
        traceback: Traceback {
            exception,
            chain,
            origin: None,
            text,
        },
        locals,
        in_app,
        tags,
        release: event.release.as_deref().map(short),
        environment: event.environment.as_deref().map(short),
        user: event
            .user
            .as_ref()
            .and_then(|u| u.id.as_deref())
            .map(|id| format!("id={}", short(id))),
        handled: raised.mechanism.as_ref().and_then(|m| m.handled),
        event_id: event.event_id.as_deref().map(short),
    })
}

/// The frames of `v` kept, and where the left-out ones stood.
fn frames_of(v: &ExceptionValue) -> (Vec<&StackFrame>, Gap) {
    match &v.stacktrace {
        Some(st) => bounded_frames(&st.frames.items, st.frames.gap_at, st.frames.omitted),
        None => (Vec::new(), Gap::default()),
    }
}

/// At most [`MAX_FRAMES`] of `frames` (the reader's gap at `gap_at` counted), and where the
/// left-out ones stood.
fn bounded_frames(frames: &[StackFrame], gap_at: usize, omitted: usize) -> (Vec<&StackFrame>, Gap) {
    if frames.len() <= MAX_FRAMES {
        let gap = Gap {
            at: gap_at.min(frames.len()),
            count: omitted,
        };
        return (frames.iter().collect(), gap);
    }
    // Only an event built by hand gets here: the reader keeps 200 at most.
    let tail = MAX_FRAMES - HEAD_FRAMES;
    let kept = frames[..HEAD_FRAMES]
        .iter()
        .chain(&frames[frames.len() - tail..])
        .collect();
    let gap = Gap {
        at: HEAD_FRAMES,
        count: omitted.saturating_add(frames.len() - MAX_FRAMES),
    };
    (kept, gap)
}

fn exception(v: &ExceptionValue, frames: &[&StackFrame]) -> Exception {
    Exception {
        exc_type: exc_type(v),
        message: cut(v.value.as_deref().unwrap_or_default(), MAX_MESSAGE).to_string(),
        notes: Vec::new(),
        frames: frames.iter().map(|f| frame(f)).collect(),
        group: Vec::new(),
    }
}

/// `module.Type` as Python prints it; a builtin's type alone.
fn exc_type(v: &ExceptionValue) -> String {
    let ty = v.ty.as_deref().filter(|t| !t.is_empty()).unwrap_or("Error");
    let qualified = match v.module.as_deref() {
        Some(module) if !module.is_empty() && !BUILTIN_MODULES.contains(&module) => {
            format!("{module}.{ty}")
        }
        _ => ty.to_string(),
    };
    field(&qualified)
}

fn link(v: &ExceptionValue) -> ChainLink {
    match v.mechanism.as_ref().and_then(|m| m.source.as_deref()) {
        Some("__context__") => ChainLink::Context,
        _ => ChainLink::Cause,
    }
}

fn frame(f: &StackFrame) -> Frame {
    let nonempty = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    let file = nonempty(&f.abs_path)
        .or_else(|| nonempty(&f.filename))
        .unwrap_or_else(|| "<unknown>".to_string());
    let function = nonempty(&f.function).unwrap_or_else(|| "<module>".to_string());
    let code = f
        .context_line
        .as_deref()
        .map(|line| field(line).trim().to_string())
        .filter(|line| !line.is_empty());
    Frame {
        file: field(&file),
        line: f.lineno.unwrap_or(0),
        function: field(&function),
        code,
    }
}

fn locals(f: &StackFrame) -> Vec<(String, String)> {
    f.vars
        .entries
        .iter()
        .take(MAX_LOCALS)
        .map(|(name, value)| (chars(name, MAX_LOCAL_CHARS), chars(value, MAX_LOCAL_CHARS)))
        .collect()
}

/// A name, path or code line: one line, at most [`MAX_FIELD`] bytes.
fn field(text: &str) -> String {
    one_line(cut(text, MAX_FIELD))
}

/// A tag, release or id: one line, at most [`MAX_SHORT`] bytes.
fn short(text: &str) -> String {
    one_line(cut(text, MAX_SHORT))
}

/// At most `max` characters (the reader already cut them; this holds for events built by
/// hand).
fn chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::render::{MAX_TEXT, assert_reads_back};
    use crate::ingest::{ENVELOPE_CAP, decode, parse_envelope, parse_event};

    const CRASH: &str = include_str!("../../tests/fixtures/sentry/crash.event.json");

    fn convert(json: &str) -> Converted {
        to_traceback(&parse_event(json.as_bytes()).unwrap()).expect("an exception")
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_sdk_crash_becomes_a_traceback() {
        let c = convert(CRASH);
        let tb = &c.traceback;
        assert_eq!(tb.exception.exc_type, "ZeroDivisionError");
        assert_eq!(tb.exception.message, "float division by zero");
        assert!(tb.chain.is_empty());
        assert_eq!(
            tb.exception.frames,
            [
                Frame {
                    file: "/srv/shop/report.py".into(),
                    line: 24,
                    function: "<module>".into(),
                    code: Some("main()".into()),
                },
                Frame {
                    file: "/srv/shop/report.py".into(),
                    line: 21,
                    function: "main".into(),
                    code: Some("print(cost_per_click(clicks, spend))".into()),
                },
                Frame {
                    file: "/srv/shop/report.py".into(),
                    line: 15,
                    function: "cost_per_click".into(),
                    code: Some("return spend / clicks".into()),
                },
            ]
        );
        assert_eq!(
            tb.text,
            "Traceback (most recent call last):\n  File \"/srv/shop/report.py\", line 24, in <module>\n    main()\n  File \"/srv/shop/report.py\", line 21, in main\n    print(cost_per_click(clicks, spend))\n  File \"/srv/shop/report.py\", line 15, in cost_per_click\n    return spend / clicks\nZeroDivisionError: float division by zero"
        );
        assert_eq!(
            c.locals,
            [
                pairs(&[("__name__", "'__main__'"), ("__annotations__", "{}")]),
                pairs(&[("clicks", "0"), ("spend", "10.0")]),
                pairs(&[("clicks", "0"), ("spend", "10.0")]),
            ]
        );
        assert_eq!(c.in_app, [true, true, true]);
        assert_eq!(
            c.tags,
            BTreeMap::from([("region".to_string(), "eu".to_string())])
        );
        assert_eq!(c.release.as_deref(), Some("shop@1.2.0"));
        assert_eq!(c.environment.as_deref(), Some("production"));
        assert_eq!(c.user.as_deref(), Some("id=42"));
        assert_eq!(c.handled, Some(false));
        assert_eq!(
            c.event_id.as_deref(),
            Some("e73cbe3e121a4fe5b4d43e122c526bd7")
        );
    }

    #[test]
    fn r16_the_text_reads_back_as_the_same_traceback() {
        assert_reads_back(&convert(CRASH).traceback);
        for body in [
            &include_bytes!("../../tests/fixtures/sentry/uncaught.envelope.gz")[..],
            &include_bytes!("../../tests/fixtures/sentry/chained.envelope.gz")[..],
        ] {
            let text = decode(Some("gzip"), body, ENVELOPE_CAP).unwrap();
            let envelope = parse_envelope(&text).unwrap();
            let event = parse_event(envelope.items[0].payload).unwrap();
            assert_reads_back(&to_traceback(&event).unwrap().traceback);
        }
    }

    #[test]
    fn a_chain_is_oldest_first_with_the_raised_exception_last() {
        let body = include_bytes!("../../tests/fixtures/sentry/chained.envelope.gz");
        let text = decode(Some("gzip"), body, ENVELOPE_CAP).unwrap();
        let envelope = parse_envelope(&text).unwrap();
        let c = to_traceback(&parse_event(envelope.items[0].payload).unwrap()).unwrap();
        let tb = &c.traceback;
        assert_eq!(tb.exception.exc_type, "KeyError");
        assert_eq!(tb.exception.message, "'cpc'");
        assert_eq!(tb.chain.len(), 1);
        let (cause, link) = &tb.chain[0];
        assert_eq!(cause.exc_type, "json.decoder.JSONDecodeError");
        assert_eq!(*link, ChainLink::Cause);
        assert_eq!(cause.frames.len(), 5);
        assert_eq!(cause.frames[4].function, "raw_decode");
        assert_eq!(
            cause.frames[2].file,
            "/root/.pyenv/versions/3.11.7/lib/python3.11/json/__init__.py"
        );
        // The extras are the raised exception's, frame for frame.
        assert_eq!(c.in_app, [true, true, true]);
        assert_eq!(c.locals.len(), tb.exception.frames.len());
        assert_eq!(c.locals[2], pairs(&[("clicks", "0"), ("spend", "10.0")]));
        assert_eq!(c.handled, Some(true));
        assert!(tb.text.contains(
            "json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)\n\nThe above exception was the direct cause of the following exception:\n\nTraceback (most recent call last):\n"
        ));
    }

    #[test]
    fn a_context_link_is_kept_when_the_sdk_says_so() {
        let c = convert(
            r#"{"exception": {"values": [
                {"type": "OSError", "value": "disk", "mechanism": {"source": "__context__"}},
                {"type": "RuntimeError", "value": "failed"}]}}"#,
        );
        assert_eq!(c.traceback.chain[0].1, ChainLink::Context);
        assert_reads_back(&c.traceback);
    }

    #[test]
    fn types_are_qualified_as_python_prints_them() {
        let ty = |module: &str, ty: &str| {
            let json = format!(r#"{{"exception": [{{"type": {ty}, "module": {module}}}]}}"#);
            convert(&json).traceback.exception.exc_type
        };
        assert_eq!(
            ty(r#""json.decoder""#, r#""JSONDecodeError""#),
            "json.decoder.JSONDecodeError"
        );
        assert_eq!(ty(r#""builtins""#, r#""ValueError""#), "ValueError");
        assert_eq!(ty(r#""exceptions""#, r#""ValueError""#), "ValueError");
        assert_eq!(ty(r#""__builtin__""#, r#""ValueError""#), "ValueError");
        assert_eq!(ty("null", r#""KeyError""#), "KeyError");
        assert_eq!(ty(r#""""#, r#""KeyError""#), "KeyError");
        assert_eq!(ty(r#""app.errors""#, "null"), "app.errors.Error");
    }

    #[test]
    fn frames_fall_back_as_python_would_print_them() {
        let c = convert(
            r#"{"exception": [{"type": "ValueError", "stacktrace": {"frames": [
                {"filename": "app.py", "abs_path": "", "lineno": 3, "context_line": "   "},
                {"function": ""}]}}]}"#,
        );
        let frames = &c.traceback.exception.frames;
        assert_eq!(
            frames[0],
            Frame {
                file: "app.py".into(),
                line: 3,
                function: "<module>".into(),
                code: None
            }
        );
        assert_eq!((frames[1].file.as_str(), frames[1].line), ("<unknown>", 0));
        assert_eq!(c.in_app, [false, false]);
        assert_reads_back(&c.traceback);
    }

    #[test]
    fn tags_as_array_pairs() {
        let c = convert(
            r#"{"exception": [{"type": "E"}], "tags": [["region", "eu"], ["region", "us"], ["shard", 3]]}"#,
        );
        assert_eq!(
            c.tags,
            BTreeMap::from([
                ("region".to_string(), "eu".to_string()),
                ("shard".to_string(), "3".to_string())
            ])
        );
    }

    #[test]
    fn the_user_is_redacted_to_its_id() {
        let c = convert(
            r#"{"exception": [{"type": "E"}], "user": {"id": 42, "email": "ada@example.com",
                "username": "ada", "ip_address": "10.0.0.1"}}"#,
        );
        assert_eq!(c.user.as_deref(), Some("id=42"));
        let debug = format!("{c:?}");
        for personal in ["ada@example.com", "10.0.0.1", "\"ada\""] {
            assert!(!debug.contains(personal), "{personal} kept");
        }
        let c = convert(r#"{"exception": [{"type": "E"}], "user": {"email": "ada@example.com"}}"#);
        assert_eq!(c.user, None);
    }

    #[test]
    fn a_message_without_an_exception_is_none_for_now() {
        let event = parse_event(br#"{"message": "hello", "level": "info"}"#).unwrap();
        assert_eq!(to_traceback(&event), None);
    }

    #[test]
    fn r16_a_hundred_thousand_frames_are_bounded() {
        let mut frames =
            String::from(r#"{"abs_path": "/srv/a.py", "function": "first", "lineno": 1}"#);
        frames.push_str(&r#",{"lineno": 7}"#.repeat(60_000));
        frames.push_str(&",{}".repeat(40_000));
        frames.push_str(r#",{"abs_path": "/srv/a.py", "function": "last", "lineno": 2, "context_line": "boom()"}"#);
        let json = format!(
            r#"{{"exception": [{{"type": "RecursionError", "stacktrace": {{"frames": [{frames}]}}}}]}}"#
        );
        let c = convert(&json);
        let tb = &c.traceback;
        assert_eq!(tb.exception.frames.len(), MAX_FRAMES);
        assert_eq!((c.locals.len(), c.in_app.len()), (MAX_FRAMES, MAX_FRAMES));
        assert!(tb.text.len() <= MAX_TEXT);
        // 100,002 frames, 200 kept: two lines said for each of the others.
        assert!(
            tb.text.contains("  ... 199604 lines elided by heal ...\n"),
            "{}",
            tb.text
        );
        assert_reads_back(tb);
    }

    #[test]
    fn an_event_built_by_hand_is_bounded_too() {
        let mut event = parse_event(CRASH.as_bytes()).unwrap();
        let frames = &mut event.exception.items[0].stacktrace.as_mut().unwrap().frames;
        let many = frames.items[2].clone();
        frames.items = vec![many; 1_000];
        frames.items[0].vars.entries = (0..100)
            .map(|i| (format!("v{i}"), "x".repeat(300)))
            .collect();
        let values = (0..40).map(|_| event.exception.items[0].clone()).collect();
        event.exception.items = values;
        let c = to_traceback(&event).unwrap();
        assert_eq!(c.traceback.chain.len(), MAX_CHAIN);
        assert_eq!(c.traceback.exception.frames.len(), MAX_FRAMES);
        assert_eq!(c.locals[0].len(), 50);
        assert_eq!(c.locals[0][0].1.chars().count(), 200);
        assert!(c.traceback.text.len() <= MAX_TEXT);
    }

    #[test]
    fn a_megabyte_variable_is_cut() {
        let big = "x".repeat(1024 * 1024 - 300);
        let json = format!(
            r#"{{"exception": [{{"type": "E", "stacktrace": {{"frames": [{{"vars": {{"blob": "{big}"}}}}]}}}}]}}"#
        );
        let c = convert(&json);
        assert_eq!(c.locals[0][0].0, "blob");
        assert_eq!(c.locals[0][0].1.chars().count(), 200);
    }

    #[test]
    fn non_string_variables_are_compact_json() {
        let c = convert(
            r#"{"exception": [{"type": "E", "stacktrace": {"frames": [{"vars": {
                "n": 3, "x": 2.5, "ok": true, "none": null,
                "d": {"a": [1, 2], "b": {"c": "d"}}, "l": [ "s", 1 ]}}]}}]}"#,
        );
        assert_eq!(
            c.locals[0],
            pairs(&[
                ("n", "3"),
                ("x", "2.5"),
                ("ok", "true"),
                ("none", "null"),
                ("d", r#"{"a":[1,2],"b":{"c":"d"}}"#),
                ("l", r#"["s",1]"#),
            ])
        );
    }

    #[test]
    fn a_message_with_escapes_and_newlines_is_data() {
        let c = convert(
            r#"{"exception": [{"type": "ValueError", "value": "bad \u001b[31mred\u001b[0m\nsecond line\u0007",
                "stacktrace": {"frames": [{"abs_path": "/srv/a.py", "lineno": 1, "function": "f"}]}}]}"#,
        );
        let tb = &c.traceback;
        assert_eq!(
            tb.exception.message,
            "bad \x1b[31mred\x1b[0m\nsecond line\x07"
        );
        assert!(
            tb.text.ends_with("ValueError: bad red\nsecond line "),
            "{:?}",
            tb.text
        );
        assert!(!tb.text.contains('\x1b'));
    }

    #[test]
    fn messages_are_cut_at_8_kib() {
        let json = format!(
            r#"{{"exception": [{{"type": "E", "value": "{}"}}]}}"#,
            "é".repeat(10_000)
        );
        let c = convert(&json);
        assert!(c.traceback.exception.message.len() <= MAX_MESSAGE);
        assert!(c.traceback.exception.message.len() > MAX_MESSAGE - 2);
    }
}
