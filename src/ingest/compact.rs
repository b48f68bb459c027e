//! JSON values rendered as short text while they are read: a frame's local variables, tags,
//! contexts.
//!
//! sentry-python sends a local variable as the `repr` it took (`"0"`, `"'{not json'"`), or as
//! JSON when the value was a container it walked (`{}`, `["app.py"]`). heal shows them to a
//! person and a model, so each becomes one string: a string as it is, anything else as compact
//! JSON. The text is built while the value is read and stops growing at its cap (the rest of the
//! value is still read, to find its end, but not kept), so a 1 MiB string costs 200 characters.

use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::lenient::{drain_map, drain_seq};

/// Text that keeps at most `max` characters; a cut one ends in `…` (counted in the `max`).
struct Clip {
    text: String,
    chars: usize,
    max: usize,
    cut: bool,
}

impl Clip {
    fn new(max: usize) -> Clip {
        Clip {
            text: String::new(),
            chars: 0,
            max,
            cut: false,
        }
    }

    fn full(&self) -> bool {
        self.cut
    }

    fn push(&mut self, c: char) {
        if self.cut {
            return;
        }
        if self.chars == self.max {
            self.cut = true;
            return;
        }
        self.text.push(c);
        self.chars += 1;
    }

    fn push_str(&mut self, s: &str) {
        for c in s.chars() {
            if self.cut {
                return;
            }
            self.push(c);
        }
    }

    /// A string as JSON writes it: quoted, with `"`, `\` and control characters escaped.
    fn push_quoted(&mut self, s: &str) {
        self.push('"');
        for c in s.chars() {
            if self.cut {
                return;
            }
            match c {
                '"' => self.push_str("\\\""),
                '\\' => self.push_str("\\\\"),
                '\n' => self.push_str("\\n"),
                '\r' => self.push_str("\\r"),
                '\t' => self.push_str("\\t"),
                c if u32::from(c) < 0x20 => self.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => self.push(c),
            }
        }
        self.push('"');
    }

    fn finish(mut self) -> String {
        if self.cut && self.max > 0 {
            // The last character kept gives way to the mark that says the text was cut.
            self.text.pop();
            self.text.push('…');
        }
        self.text
    }
}

/// Renders one value into a [`Clip`]; `top` is the value itself (a string goes in unquoted),
/// not a part of it.
struct Render<'c> {
    clip: &'c mut Clip,
    top: bool,
}

impl<'de> DeserializeSeed<'de> for Render<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        // serde_json checks its recursion limit on every array and object entered here.
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Render<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.clip.push_str("null");
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        self.clip.push_str("null");
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.clip.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.clip.push_str(&v.to_string());
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.clip.push_str(&v.to_string());
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        // As serde_json writes it (`10.0`, `1e300`); JSON has no NaN to meet here.
        match serde_json::Number::from_f64(v) {
            Some(n) => self.clip.push_str(&n.to_string()),
            None => self.clip.push_str("null"),
        }
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        if self.top {
            self.clip.push_str(v);
        } else {
            self.clip.push_quoted(v);
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.clip.push('[');
        let mut first = true;
        while !self.clip.full() {
            let comma = !first;
            first = false;
            // The comma goes in only once an element is known to follow.
            let mut element = Clip::new(self.clip.max);
            let seed = Render {
                clip: &mut element,
                top: false,
            };
            if seq.next_element_seed(seed)?.is_none() {
                self.clip.push(']');
                return Ok(());
            }
            if comma {
                self.clip.push(',');
            }
            self.clip.push_str(&element.text);
            if element.cut {
                self.clip.cut = true;
            }
        }
        drain_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.clip.push('{');
        let mut first = true;
        while !self.clip.full() {
            let mut entry = Clip::new(self.clip.max);
            let key = Render {
                clip: &mut entry,
                top: false,
            };
            if map.next_key_seed(key)?.is_none() {
                self.clip.push('}');
                return Ok(());
            }
            entry.push(':');
            let value = Render {
                clip: &mut entry,
                top: false,
            };
            map.next_value_seed(value)?;
            if !first {
                self.clip.push(',');
            }
            first = false;
            self.clip.push_str(&entry.text);
            if entry.cut {
                self.clip.cut = true;
            }
        }
        drain_map(map)
    }
}

/// One value rendered to at most `MAX` characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compact<const MAX: usize>(pub String);

impl<'de, const MAX: usize> Deserialize<'de> for Compact<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut clip = Clip::new(MAX);
        Render {
            clip: &mut clip,
            top: true,
        }
        .deserialize(d)?;
        Ok(Compact(clip.finish()))
    }
}

/// Named values, from an object (`{"region": "eu"}`) or a list of pairs (`[["region", "eu"]]`,
/// as older SDKs send tags): the first `N` entries kept in their order, each key and value
/// rendered to at most `MAX` characters. A pair that is not a list of two is skipped; anything
/// else that is not an object or a list reads as no entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entries<const N: usize, const MAX: usize> {
    pub entries: Vec<(String, String)>,
    /// How many entries past the first `N` were left out.
    pub omitted: usize,
}

impl<'de, const N: usize, const MAX: usize> Deserialize<'de> for Entries<N, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EntriesVisitor::<N, MAX>)
    }
}

struct EntriesVisitor<const N: usize, const MAX: usize>;

impl<'de, const N: usize, const MAX: usize> Visitor<'de> for EntriesVisitor<N, MAX> {
    type Value = Entries<N, MAX>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object or a list of pairs")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Entries::default();
        while out.entries.len() < N {
            let Some(key) = map.next_key::<Compact<MAX>>()? else {
                return Ok(out);
            };
            let value = map.next_value::<Compact<MAX>>()?;
            out.entries.push((key.0, value.0));
        }
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
            out.omitted += 1;
        }
        Ok(out)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Entries::default();
        while out.entries.len() < N {
            match seq.next_element::<Pair<MAX>>()? {
                None => return Ok(out),
                Some(Pair(Some(pair))) => out.entries.push(pair),
                Some(Pair(None)) => {}
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {
            out.omitted += 1;
        }
        Ok(out)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Entries::default())
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Entries::default())
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Entries::default())
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Entries::default())
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Entries::default())
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Entries::default())
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Entries::default())
    }
}

/// `[key, value]`; `None` for anything else (read whole and dropped).
struct Pair<const MAX: usize>(Option<(String, String)>);

impl<'de, const MAX: usize> Deserialize<'de> for Pair<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PairVisitor::<MAX>)
    }
}

struct PairVisitor<const MAX: usize>;

impl<'de, const MAX: usize> Visitor<'de> for PairVisitor<MAX> {
    type Value = Pair<MAX>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a [key, value] pair")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Pair<MAX>, A::Error> {
        let key = seq.next_element::<Compact<MAX>>()?;
        let value = match key {
            Some(_) => seq.next_element::<Compact<MAX>>()?,
            None => None,
        };
        let extra = match value {
            Some(_) => seq.next_element::<IgnoredAny>()?.is_some(),
            None => false,
        };
        if extra {
            drain_seq(seq)?;
        }
        Ok(Pair(match (key, value, extra) {
            (Some(k), Some(v), false) => Some((k.0, v.0)),
            _ => None,
        }))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Pair<MAX>, A::Error> {
        drain_map(map)?;
        Ok(Pair(None))
    }
    fn visit_unit<E>(self) -> Result<Pair<MAX>, E> {
        Ok(Pair(None))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Pair<MAX>, E> {
        Ok(Pair(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Pair<MAX>, E> {
        Ok(Pair(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Pair<MAX>, E> {
        Ok(Pair(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Pair<MAX>, E> {
        Ok(Pair(None))
    }
    fn visit_str<E>(self, _: &str) -> Result<Pair<MAX>, E> {
        Ok(Pair(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compact(json: &str) -> String {
        serde_json::from_str::<Compact<20>>(json).unwrap().0
    }

    #[test]
    fn strings_stay_as_they_are_and_the_rest_is_compact_json() {
        assert_eq!(compact(r#""'{not json'""#), "'{not json'");
        assert_eq!(compact("10.0"), "10.0");
        assert_eq!(compact("-3"), "-3");
        assert_eq!(compact("null"), "null");
        assert_eq!(compact("true"), "true");
        assert_eq!(compact("{}"), "{}");
        assert_eq!(compact("[ ]"), "[]");
        assert_eq!(compact(r#"{ "a" : [1, "x\n"] }"#), r#"{"a":[1,"x\n"]}"#);
        assert_eq!(
            compact(r#"["a.py", {"k": null}]"#),
            r#"["a.py",{"k":null}]"#
        );
    }

    #[test]
    fn long_values_are_cut_with_a_mark() {
        assert_eq!(
            compact(r#""abcdefghijklmnopqrstuvwxyz""#),
            "abcdefghijklmnopqrs…"
        );
        assert_eq!(compact(r#""abcdefghijklmnopqrst""#), "abcdefghijklmnopqrst");
        let list = compact("[1000, 2000, 3000, 4000, 5000, 6000, 7000]");
        assert_eq!(list, "[1000,2000,3000,400…");
        assert_eq!(list.chars().count(), 20);
        let nested = compact(r#"{"key": {"deeper": "a long string value"}}"#);
        assert_eq!(nested.chars().count(), 20);
        assert!(nested.ends_with('…'));
    }

    #[test]
    fn a_megabyte_string_costs_its_cap() {
        let big = format!("\"{}\"", "é".repeat(1024 * 1024));
        let value: Compact<200> = serde_json::from_str(&big).unwrap();
        assert_eq!(value.0.chars().count(), 200);
        let in_list = format!("[{big}, 1]");
        let value: Compact<200> = serde_json::from_str(&in_list).unwrap();
        assert_eq!(value.0.chars().count(), 200);
    }

    #[test]
    fn entries_from_an_object_or_pairs() {
        let obj: Entries<3, 50> =
            serde_json::from_str(r#"{"region": "eu", "n": 3, "deep": {"a": [1]}, "x": 1, "y": 2}"#)
                .unwrap();
        assert_eq!(
            obj.entries,
            [
                ("region".to_string(), "eu".to_string()),
                ("n".to_string(), "3".to_string()),
                ("deep".to_string(), r#"{"a":[1]}"#.to_string()),
            ]
        );
        assert_eq!(obj.omitted, 2);
        let pairs: Entries<3, 50> = serde_json::from_str(
            r#"[["region", "eu"], ["bad"], "bad", ["a", "b", "c"], {"k": "v"}, ["level", 2], ["x", "y"]]"#,
        )
        .unwrap();
        assert_eq!(
            pairs.entries,
            [
                ("region".to_string(), "eu".to_string()),
                ("level".to_string(), "2".to_string()),
                ("x".to_string(), "y".to_string()),
            ]
        );
        for nothing in ["null", "7", "\"tags\"", "true"] {
            let none: Entries<3, 50> = serde_json::from_str(nothing).unwrap();
            assert!(none.entries.is_empty(), "{nothing}");
        }
    }
}
