//! serde helpers for wire types that take what they can and keep a bounded part of it.
//!
//! The Sentry SDKs of many languages and versions write the same field in different types (an
//! id as a number or a string, a line number as `null`), and a hostile sender can write
//! anything. A field of an unexpected type is read as absent rather than refusing the whole
//! event: the event is still worth reading. Lists are bounded while they are read, so a list of
//! 100,000 frames costs the memory of the few kept, not of all.
//!
//! What these helpers never do is descend into nesting on their own: skipped values go through
//! [`IgnoredAny`], which serde_json reads without recursion, and everything else goes through
//! serde_json's own depth check (its recursion limit of 128 stays on).

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A value seen only as far as a scalar field needs: arrays and objects are skipped whole.
enum Scalar {
    Absent,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Absent)
    }
    fn visit_none<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Absent)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        Scalar::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::Uint(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Text(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Text(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar, A::Error> {
        drain_seq(seq)?;
        Ok(Scalar::Absent)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar, A::Error> {
        drain_map(map)?;
        Ok(Scalar::Absent)
    }
}

/// The rest of a list, read and dropped.
pub(crate) fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// The rest of an object, read and dropped.
pub(crate) fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// A string field; a number or a boolean is taken as its JSON text (ids are sent either way),
/// anything else as absent.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Scalar::deserialize(d)? {
        Scalar::Text(s) => Some(s),
        Scalar::Int(n) => Some(n.to_string()),
        Scalar::Uint(n) => Some(n.to_string()),
        Scalar::Float(x) => serde_json::Number::from_f64(x).map(|n| n.to_string()),
        Scalar::Bool(b) => Some(b.to_string()),
        Scalar::Absent => None,
    })
}

/// A line or column number: a non-negative integer that fits, or a string of one.
pub fn uint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(match Scalar::deserialize(d)? {
        Scalar::Uint(n) => u32::try_from(n).ok(),
        Scalar::Int(n) => u32::try_from(n).ok(),
        Scalar::Text(s) => s.trim().parse().ok(),
        Scalar::Float(_) | Scalar::Bool(_) | Scalar::Absent => None,
    })
}

/// A boolean; anything else is absent.
pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Scalar::deserialize(d)? {
        Scalar::Bool(b) => Some(b),
        _ => None,
    })
}

/// A point in time as the SDKs send it: seconds since the epoch, or an RFC 3339 string.
#[derive(Debug, Clone, PartialEq)]
pub enum Timestamp {
    Seconds(f64),
    Text(String),
}

pub fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    Ok(match Scalar::deserialize(d)? {
        Scalar::Text(s) => Some(Timestamp::Text(s)),
        // Seconds since 1970 are far below 2^53: the conversions are exact.
        Scalar::Uint(n) => Some(Timestamp::Seconds(n as f64)),
        Scalar::Int(n) => Some(Timestamp::Seconds(n as f64)),
        Scalar::Float(x) => Some(Timestamp::Seconds(x)),
        Scalar::Bool(_) | Scalar::Absent => None,
    })
}

/// An object field read as `T`; anything that is not an object is absent.
pub fn object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    d.deserialize_any(ObjectVisitor(PhantomData))
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<T>, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Some)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<T>, A::Error> {
        drain_seq(seq)?;
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        object(d)
    }
    fn visit_unit<E>(self) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_none<E>(self) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Option<T>, E> {
        Ok(None)
    }
}

/// A list of which at most `HEAD + TAIL` entries are kept while it is read: the first `HEAD`
/// and the last `TAIL`. Anything that is not a list reads as an empty one; an entry that is not
/// a `T` is an error (the SDKs never send one).
#[derive(Debug, Clone, PartialEq)]
pub struct Bounded<T, const HEAD: usize, const TAIL: usize> {
    /// The entries kept, in their order.
    pub items: Vec<T>,
    /// How many entries were left out; they stood between `items[..gap_at]` and `items[gap_at..]`.
    pub omitted: usize,
    pub gap_at: usize,
}

impl<T, const HEAD: usize, const TAIL: usize> Default for Bounded<T, HEAD, TAIL> {
    fn default() -> Self {
        Bounded {
            items: Vec::new(),
            omitted: 0,
            gap_at: 0,
        }
    }
}

impl<'de, T: Deserialize<'de>, const HEAD: usize, const TAIL: usize> Bounded<T, HEAD, TAIL> {
    /// Reads a list whose opening bracket was already read.
    pub(crate) fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut items = Vec::new();
        while items.len() < HEAD {
            match seq.next_element::<T>()? {
                Some(item) => items.push(item),
                None => {
                    let gap_at = items.len();
                    return Ok(Bounded {
                        items,
                        omitted: 0,
                        gap_at,
                    });
                }
            }
        }
        let mut tail = VecDeque::with_capacity(TAIL);
        let mut omitted = 0usize;
        while let Some(item) = seq.next_element::<T>()? {
            if TAIL == 0 {
                omitted += 1;
            } else {
                if tail.len() == TAIL {
                    tail.pop_front();
                    omitted += 1;
                }
                tail.push_back(item);
            }
        }
        let gap_at = items.len();
        items.extend(tail);
        Ok(Bounded {
            items,
            omitted,
            gap_at,
        })
    }
}

impl<'de, T: Deserialize<'de>, const HEAD: usize, const TAIL: usize> Deserialize<'de>
    for Bounded<T, HEAD, TAIL>
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BoundedVisitor(PhantomData))
    }
}

struct BoundedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>, const HEAD: usize, const TAIL: usize> Visitor<'de>
    for BoundedVisitor<Bounded<T, HEAD, TAIL>>
{
    type Value = Bounded<T, HEAD, TAIL>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Bounded::from_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map)?;
        Ok(Bounded::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Bounded::deserialize(d)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Bounded::default())
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Bounded::default())
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Bounded::default())
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Bounded::default())
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Bounded::default())
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Bounded::default())
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Bounded::default())
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Probe {
        #[serde(deserialize_with = "string")]
        s: Option<String>,
        #[serde(deserialize_with = "uint")]
        n: Option<u32>,
        #[serde(deserialize_with = "boolean")]
        b: Option<bool>,
        #[serde(deserialize_with = "timestamp")]
        t: Option<Timestamp>,
        #[serde(deserialize_with = "object")]
        o: Option<Inner>,
        list: Bounded<u32, 2, 3>,
        tail: Bounded<u32, 0, 2>,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default)]
    struct Inner {
        #[serde(deserialize_with = "string")]
        x: Option<String>,
    }

    fn probe(json: &str) -> Probe {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn scalars_of_another_type_read_as_text_or_absent() {
        let p = probe(r#"{"s": 42, "n": "17", "b": "yes", "t": 1700000000.5, "o": {"x": null}}"#);
        assert_eq!(p.s.as_deref(), Some("42"));
        assert_eq!(p.n, Some(17));
        assert_eq!(p.b, None);
        assert_eq!(p.t, Some(Timestamp::Seconds(1_700_000_000.5)));
        assert_eq!(p.o, Some(Inner { x: None }));
        let p =
            probe(r#"{"s": [1, [2]], "n": -3, "b": true, "t": "2026-11-30T13:14:46Z", "o": "no"}"#);
        assert_eq!(p.s, None);
        assert_eq!(p.n, None);
        assert_eq!(p.b, Some(true));
        assert_eq!(p.t, Some(Timestamp::Text("2026-11-30T13:14:46Z".into())));
        assert_eq!(p.o, None);
        let p = probe(r#"{"s": null, "n": 1e3, "o": [{"x": 1}], "list": {"a": 1}}"#);
        assert_eq!((p.s, p.n, p.o), (None, None, None));
        assert!(p.list.items.is_empty());
    }

    #[test]
    fn lists_keep_their_head_and_tail() {
        let p = probe(r#"{"list": [1, 2, 3, 4, 5, 6, 7, 8], "tail": [1, 2, 3, 4]}"#);
        assert_eq!(p.list.items, [1, 2, 6, 7, 8]);
        assert_eq!((p.list.omitted, p.list.gap_at), (3, 2));
        assert_eq!(p.tail.items, [3, 4]);
        assert_eq!((p.tail.omitted, p.tail.gap_at), (2, 0));
        let p = probe(r#"{"list": [1, 2, 3]}"#);
        assert_eq!(p.list.items, [1, 2, 3]);
        assert_eq!(p.list.omitted, 0);
        let p = probe(r#"{"list": [1]}"#);
        assert_eq!((p.list.items, p.list.gap_at), (vec![1], 1));
    }

    #[test]
    fn a_list_without_a_tail_drops_what_follows_its_head() {
        let b: Bounded<u32, 2, 0> = serde_json::from_str("[1, 2, 3, 4]").unwrap();
        assert_eq!((b.items, b.omitted, b.gap_at), (vec![1, 2], 2, 2));
    }

    #[test]
    fn skipped_values_of_any_depth_cost_no_recursion() {
        let deep = format!(r#"{{"s": {}{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(probe(&deep).s, None);
    }
}
