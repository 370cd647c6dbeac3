//! Request bodies: read once, normalised once, checked against the
//! endpoint's schema. Top-level keys are turned to kebab-case as they are
//! read (`claimType`, `claim_type` and `claim-type` are one field), in
//! document order and with the spelling the client sent kept for messages.
//! A body is parsed at most once per request, whether a scenario's `when`
//! or the handler reads it first.

use super::ApiError;
use super::conventions::{Inflection, to_kebab, truncate};
use bytes::Bytes;
use serde::Deserializer;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;

/// A request body as the connection layer read it.
#[derive(Clone, Debug)]
pub enum RequestBody {
    /// The whole body.
    Complete(Bytes),
    /// The body was longer than the configured limit.
    TooLarge,
    /// The body could not be read (the client went away or sent bad framing).
    Unreadable(String),
    /// The body did not arrive within the body read timeout.
    TimedOut,
}

/// One top-level field of a JSON object body.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The key as the client spelled it.
    pub sent: String,
    /// The key in kebab-case, when that differs from `sent`.
    kebab: Option<String>,
    /// The value.
    pub value: Value,
}

impl Field {
    /// The key in kebab-case.
    pub fn key(&self) -> &str {
        self.kebab.as_deref().unwrap_or(&self.sent)
    }
}

/// A JSON body.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// An object: its fields in document order (repeated keys kept).
    Object(Vec<Field>),
    /// Valid JSON that is not an object, named for messages.
    NotObject(&'static str),
}

/// Parses a JSON body, normalising top-level keys to kebab-case.
pub fn parse(body: &[u8]) -> Result<Json, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed = (&mut deserializer).deserialize_any(JsonVisitor)?;
    deserializer.end()?;
    Ok(parsed)
}

/// A complete body and its JSON reading, made on first use.
pub struct Body {
    /// The bytes as received.
    bytes: Bytes,
    /// The parse, once someone asked for it.
    json: OnceCell<Result<Json, serde_json::Error>>,
}

impl Body {
    /// Wraps the bytes of a complete body.
    pub fn new(bytes: Bytes) -> Body {
        Body {
            bytes,
            json: OnceCell::new(),
        }
    }

    /// The bytes as received.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The JSON reading of the body, parsed on the first call.
    pub fn json(&self) -> Result<&Json, &serde_json::Error> {
        self.json.get_or_init(|| parse(&self.bytes)).as_ref()
    }

    /// The value at an RFC 6901 JSON pointer; the first segment names a
    /// top-level field in any inflection. `None` if the body is not a JSON
    /// object or has nothing there.
    pub fn pointer(&self, pointer: &str) -> Option<&Value> {
        let Ok(Json::Object(fields)) = self.json() else {
            return None;
        };
        let rest = pointer.strip_prefix('/')?;
        let (first, rest) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let first = first.replace("~1", "/").replace("~0", "~");
        let key = to_kebab(&first);
        let value = &fields.iter().find(|f| f.key() == key)?.value;
        if rest.is_empty() {
            Some(value)
        } else {
            value.pointer(rest)
        }
    }
}

/// The JSON type of a field, as a schema requires it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    String,
    /// `true` or `false`.
    Bool,
    /// A string or `null` (absent counts as `null`).
    NullableString,
}

/// One field of an endpoint's request schema.
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    /// The name in kebab-case.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Whether it must be present.
    pub required: bool,
}

/// The most fields a schema may list.
const MAX_FIELDS: usize = 16;

/// An endpoint's request body schema, as Persona's API reference gives it.
#[derive(Clone, Copy, Debug)]
pub struct Schema {
    /// The fields, in the order they are checked.
    pub fields: &'static [FieldSpec],
    /// A valid body, quoted in messages.
    pub example: &'static str,
}

/// A body that passed its schema: typed access to its fields.
pub struct Checked<'a> {
    fields: &'a [Field],
}

impl<'a> Checked<'a> {
    /// A string field (its schema kind is [`Kind::String`]).
    pub fn str(&self, name: &str) -> Option<&'a str> {
        self.get(name).and_then(Value::as_str)
    }

    /// A boolean field (its schema kind is [`Kind::Bool`]).
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(Value::as_bool)
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.fields
            .iter()
            .find(|f| f.key() == name)
            .map(|f| &f.value)
    }
}

impl Schema {
    /// Checks a body: JSON, an object, no unknown fields (unless allowed),
    /// no field twice, required fields present and every field of its type.
    /// Each failure is a 400 naming the field as the client spelled it.
    pub fn check<'a>(
        &self,
        body: &'a Body,
        allow_unknown: bool,
        inflection: Inflection,
    ) -> Result<Checked<'a>, ApiError> {
        let example = self.example;
        if body.bytes().iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(format!(
                "The request body is empty; send a JSON object like {example}."
            )));
        }
        let fields = match body.json() {
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "The request body is not valid JSON: {e}."
                )));
            }
            Ok(Json::NotObject(kind)) => {
                return Err(ApiError::bad_request(format!(
                    "The request body must be a JSON object like {example} (got {kind})."
                )));
            }
            Ok(Json::Object(fields)) => fields,
        };
        // One pass: each field's place in the schema, the first unknown
        // field and the first repeated one.
        assert!(
            self.fields.len() <= MAX_FIELDS,
            "a schema lists at most {MAX_FIELDS} fields"
        );
        let mut slots: [Option<&Field>; MAX_FIELDS] = [None; MAX_FIELDS];
        let mut unknown = None;
        let mut repeated = None;
        for field in fields {
            let key = field.key();
            match self.fields.iter().position(|spec| spec.name == key) {
                Some(i) => match slots[i] {
                    Some(first) => {
                        repeated.get_or_insert((first, field));
                    }
                    None => slots[i] = Some(field),
                },
                None => {
                    unknown.get_or_insert(field);
                }
            }
        }
        if let (false, Some(unknown)) = (allow_unknown, unknown) {
            return Err(ApiError::bad_request(format!(
                "Unknown field {:?}: the allowed fields are {}.",
                truncate(&unknown.sent),
                self.field_names(inflection)
            )));
        }
        if let Some((first, again)) = repeated {
            return Err(ApiError::bad_request(format!(
                "{:?} and {:?} name the same field; send it once.",
                first.sent, again.sent
            )));
        }
        for (spec, slot) in self.fields.iter().zip(slots) {
            let Some(field) = slot else {
                if spec.required {
                    return Err(ApiError::bad_request(format!(
                        "{} is required, as in {example}.",
                        inflection.apply(spec.name)
                    )));
                }
                continue;
            };
            let (fits, wanted) = match spec.kind {
                Kind::String => (field.value.is_string(), "a string"),
                Kind::Bool => (field.value.is_boolean(), "true or false"),
                Kind::NullableString => (
                    field.value.is_string() || field.value.is_null(),
                    "a string or null",
                ),
            };
            if !fits {
                return Err(ApiError::bad_request(format!(
                    "{} must be {wanted} (got {}).",
                    field.sent,
                    kind_of(&field.value)
                )));
            }
        }
        Ok(Checked { fields })
    }

    /// `a, b and c`, in the request's inflection.
    fn field_names(&self, inflection: Inflection) -> String {
        let names: Vec<String> = self
            .fields
            .iter()
            .map(|f| inflection.apply(f.name).into_owned())
            .collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            Some((last, _)) => last.clone(),
            None => "none".into(),
        }
    }
}

/// A value's JSON type, for messages.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::Null => "null",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(2));
        while let Some(sent) = map.next_key::<String>()? {
            let value = map.next_value::<Value>()?;
            let kebab = match to_kebab(&sent) {
                Cow::Borrowed(_) => None,
                Cow::Owned(kebab) => Some(kebab),
            };
            fields.push(Field { sent, kebab, value });
        }
        Ok(Json::Object(fields))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Json::NotObject("an array"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Json, E> {
        Ok(Json::NotObject("a string"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Json, E> {
        Ok(Json::NotObject("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Json, E> {
        Ok(Json::NotObject("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Json, E> {
        Ok(Json::NotObject("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Json, E> {
        Ok(Json::NotObject("a number"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::NotObject("null"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: Schema = Schema {
        fields: &[
            FieldSpec {
                name: "claim-type",
                kind: Kind::String,
                required: true,
            },
            FieldSpec {
                name: "sandbox",
                kind: Kind::Bool,
                required: false,
            },
        ],
        example: "{}",
    };

    fn body(text: &str) -> Body {
        Body::new(Bytes::copy_from_slice(text.as_bytes()))
    }

    fn details(text: &str, allow_unknown: bool) -> String {
        match SCHEMA.check(&body(text), allow_unknown, Inflection::Kebab) {
            Ok(_) => "ok".into(),
            Err(e) => e.details,
        }
    }

    #[test]
    fn known_fields_in_any_inflection() {
        let b = body(r#"{"claimType":"a","sandbox":true}"#);
        let checked = SCHEMA.check(&b, false, Inflection::Kebab).unwrap();
        assert_eq!(checked.str("claim-type"), Some("a"));
        assert_eq!(checked.bool("sandbox"), Some(true));
        let b = body(r#"{"claim_type":"b"}"#);
        assert_eq!(
            SCHEMA
                .check(&b, false, Inflection::Kebab)
                .unwrap()
                .str("claim-type"),
            Some("b")
        );
    }

    #[test]
    fn escaped_keys_and_values_are_read() {
        let b = body(r#"{"claim\u002dtype":"a\"b"}"#);
        assert_eq!(
            SCHEMA
                .check(&b, false, Inflection::Kebab)
                .unwrap()
                .str("claim-type"),
            Some("a\"b")
        );
    }

    #[test]
    fn types_unknown_fields_and_duplicates_are_reported_in_order() {
        let text = r#"{"x":[1,{"y":2}],"claim-type":{"a":1},"sandbox":null,"claimType":"c"}"#;
        assert_eq!(
            details(text, false),
            r#"Unknown field "x": the allowed fields are claim-type and sandbox."#
        );
        assert_eq!(
            details(text, true),
            r#""claim-type" and "claimType" name the same field; send it once."#
        );
        assert_eq!(
            details(r#"{"claim-type":{"a":1},"sandbox":null}"#, false),
            "claim-type must be a string (got an object)."
        );
        assert_eq!(
            details(r#"{"claim-type":"a","sandbox":null}"#, false),
            "sandbox must be true or false (got null)."
        );
        assert_eq!(
            details(r#"{"sandbox":true}"#, false),
            "claim-type is required, as in {}."
        );
    }

    #[test]
    fn non_objects_and_bad_json() {
        assert_eq!(parse(b"[1,2]").unwrap(), Json::NotObject("an array"));
        assert_eq!(parse(b" 5 ").unwrap(), Json::NotObject("a number"));
        assert_eq!(parse(b"\"s\"").unwrap(), Json::NotObject("a string"));
        assert!(parse(b"{").is_err());
        assert!(parse(b"{} x").is_err());
    }

    #[test]
    fn pointers_find_fields_in_any_inflection() {
        let b = body(r#"{"claimType":"a","nested":{"x/y":[1,2]}}"#);
        assert_eq!(b.pointer("/claim-type"), Some(&Value::from("a")));
        assert_eq!(b.pointer("/claimType"), Some(&Value::from("a")));
        assert_eq!(b.pointer("/nested/x~1y/1"), Some(&Value::from(2)));
        assert_eq!(b.pointer("/missing"), None);
        assert_eq!(body("[1]").pointer("/0"), None);
    }

    #[test]
    fn the_body_is_parsed_once() {
        let b = body(r#"{"claim-type":"a"}"#);
        let first: *const Json = b.json().unwrap();
        let second: *const Json = b.json().unwrap();
        assert_eq!(first, second);
    }
}
