//! Reading a challenge request body in one pass, without building a JSON
//! map: keys are borrowed from the body where they can be, and only the
//! fields the endpoint knows are kept.

use crate::api::to_kebab;
use serde::Deserializer;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A field's value, as far as the endpoint cares.
#[derive(Debug, PartialEq, Eq)]
pub enum Scalar {
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// Anything else, named for messages ("a number", "null", …).
    Other(&'static str),
}

impl Scalar {
    /// The value's kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Scalar::Str(_) => "a string",
            Scalar::Bool(_) => "a boolean",
            Scalar::Other(kind) => kind,
        }
    }
}

/// A known field as sent: the key's spelling and its value.
pub type Field = (String, Scalar);

/// What a request body holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Body {
    /// A JSON object.
    Object {
        /// `claim-type` in any inflection.
        claim_type: Option<Field>,
        /// `sandbox` in any inflection.
        sandbox: Option<Field>,
        /// The first field that is neither.
        unknown: Option<String>,
        /// The first known field given twice: both spellings.
        duplicate: Option<(String, String)>,
    },
    /// Valid JSON that is not an object, named for messages.
    NotObject(&'static str),
}

/// Parses a request body.
pub fn parse(body: &[u8]) -> Result<Body, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed = (&mut deserializer).deserialize_any(BodyVisitor)?;
    deserializer.end()?;
    Ok(parsed)
}

/// A key, borrowed from the body unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Reads any value as a [`Scalar`], skipping the contents of containers.
struct ScalarSeed;

impl<'de> DeserializeSeed<'de> for ScalarSeed {
    type Value = Scalar;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Scalar, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Scalar, E> {
        Ok(Scalar::Other("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Scalar, E> {
        Ok(Scalar::Other("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Scalar, E> {
        Ok(Scalar::Other("a number"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other("an object"))
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Body;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body, A::Error> {
        let mut claim_type: Option<Field> = None;
        let mut sandbox: Option<Field> = None;
        let mut unknown = None;
        let mut duplicate = None;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let slot = match to_kebab(&key).as_ref() {
                "claim-type" => &mut claim_type,
                "sandbox" => &mut sandbox,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    unknown.get_or_insert_with(|| key.into_owned());
                    continue;
                }
            };
            let value = map.next_value_seed(ScalarSeed)?;
            match slot {
                Some((first, _)) => {
                    duplicate.get_or_insert_with(|| (first.clone(), key.into_owned()));
                }
                None => *slot = Some((key.into_owned(), value)),
            }
        }
        Ok(Body::Object {
            claim_type,
            sandbox,
            unknown,
            duplicate,
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Body, A::Error> {
        ScalarVisitor
            .visit_seq(seq)
            .map(|_| Body::NotObject("an array"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Body, E> {
        Ok(Body::NotObject("a string"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Body, E> {
        Ok(Body::NotObject("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Body, E> {
        Ok(Body::NotObject("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Body, E> {
        Ok(Body::NotObject("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Body, E> {
        Ok(Body::NotObject("a number"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Body, E> {
        Ok(Body::NotObject("null"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parts = (
        Option<Field>,
        Option<Field>,
        Option<String>,
        Option<(String, String)>,
    );

    fn object(body: &str) -> Parts {
        match parse(body.as_bytes()).unwrap() {
            Body::Object {
                claim_type,
                sandbox,
                unknown,
                duplicate,
            } => (claim_type, sandbox, unknown, duplicate),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn known_fields_in_any_inflection() {
        let (claim, sandbox, unknown, duplicate) = object(r#"{"claimType":"a","sandbox":true}"#);
        assert_eq!(claim, Some(("claimType".into(), Scalar::Str("a".into()))));
        assert_eq!(sandbox, Some(("sandbox".into(), Scalar::Bool(true))));
        assert_eq!((unknown, duplicate), (None, None));
        let (claim, ..) = object(r#"{"claim_type":"b"}"#);
        assert_eq!(claim, Some(("claim_type".into(), Scalar::Str("b".into()))));
    }

    #[test]
    fn escaped_keys_and_values_are_read() {
        let (claim, ..) = object(r#"{"claim\u002dtype":"a\"b"}"#);
        assert_eq!(
            claim,
            Some(("claim-type".into(), Scalar::Str("a\"b".into())))
        );
    }

    #[test]
    fn types_unknown_fields_and_duplicates_are_reported() {
        let (claim, sandbox, unknown, duplicate) = object(
            r#"{"x":[1,{"y":2}],"claim-type":{"a":1},"sandbox":null,"claimType":"c","z":3}"#,
        );
        assert_eq!(
            claim,
            Some(("claim-type".into(), Scalar::Other("an object")))
        );
        assert_eq!(sandbox, Some(("sandbox".into(), Scalar::Other("null"))));
        assert_eq!(unknown.as_deref(), Some("x"));
        assert_eq!(duplicate, Some(("claim-type".into(), "claimType".into())));
    }

    #[test]
    fn non_objects_and_bad_json() {
        assert_eq!(parse(b"[1,2]").unwrap(), Body::NotObject("an array"));
        assert_eq!(parse(b" 5 ").unwrap(), Body::NotObject("a number"));
        assert_eq!(parse(b"\"s\"").unwrap(), Body::NotObject("a string"));
        assert!(parse(b"{").is_err());
        assert!(parse(b"{} x").is_err());
    }
}
