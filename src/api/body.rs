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
use serde::de::DeserializeOwned;
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
    Ok(match read_top_level(body, AllFields)? {
        Ok(fields) => Json::Object(fields),
        Err(kind) => Json::NotObject(kind),
    })
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

/// The most fields a schema may list (the endpoints' list at most three;
/// what a check reads is kept in arrays of this size).
const MAX_FIELDS: usize = 4;

/// An endpoint's request body schema, as Persona's API reference gives it.
#[derive(Clone, Copy, Debug)]
pub struct Schema {
    /// The fields, in the order they are checked.
    pub fields: &'static [FieldSpec],
    /// A valid body, quoted in messages.
    pub example: &'static str,
}

/// A body that passed its schema: typed access to its fields.
struct Checked<'a> {
    /// The schema's fields, in order.
    specs: &'static [FieldSpec],
    /// Each field's value, where the body sent it.
    values: [Option<Scalar<'a>>; MAX_FIELDS],
}

impl<'a> Checked<'a> {
    /// The fields read into `T`, whose fields are the schema's (named in
    /// kebab-case): each endpoint's own request struct.
    fn into_struct<T: DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        let fields = self
            .specs
            .iter()
            .zip(self.values)
            .filter_map(|(spec, value)| {
                let value = match value? {
                    Scalar::Str(text) => serde_json::Value::String(text.into_owned()),
                    Scalar::Bool(b) => serde_json::Value::Bool(b),
                    Scalar::Null | Scalar::Other(_) => serde_json::Value::Null,
                };
                Some((spec.name, value))
            });
        T::deserialize(serde::de::value::MapDeserializer::new(fields))
    }
}

/// A top-level value as a schema reads it: a string is borrowed from the
/// body unless it has escapes; anything that is not a scalar is only named.
#[derive(Debug, PartialEq)]
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    Null,
    /// A number, an array or an object, named for messages.
    Other(&'static str),
}

impl Scalar<'_> {
    /// Its JSON type, for messages.
    fn kind(&self) -> &'static str {
        match self {
            Scalar::Str(_) => "a string",
            Scalar::Bool(_) => "a boolean",
            Scalar::Null => "null",
            Scalar::Other(kind) => kind,
        }
    }
}

/// A field the schema knows, as the body sent it.
#[derive(Debug, PartialEq)]
struct Sent<'a> {
    /// The key as the client spelled it.
    key: Cow<'a, str>,
    value: Scalar<'a>,
}

/// What one pass over a JSON object body finds, in document order.
#[derive(Debug, PartialEq)]
struct Reading<'a> {
    /// Each schema field's first occurrence.
    slots: [Option<Sent<'a>>; MAX_FIELDS],
    /// The first key the schema does not know.
    unknown: Option<Cow<'a, str>>,
    /// The first field sent twice (in any inflection): both spellings.
    repeated: Option<(Cow<'a, str>, Cow<'a, str>)>,
}

impl Schema {
    /// Checks a body: JSON, an object, no unknown fields (unless allowed),
    /// no field twice, required fields present and every field of its type.
    /// Each failure is a 400 naming the field as the client spelled it.
    ///
    /// This reads the body in one pass of its own, borrowing strings from
    /// it, rather than through [`Body::json`]: the endpoints' bodies are
    /// read on every request, and only scenarios and idempotency need the
    /// general reading.
    fn check<'a>(
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
        assert!(
            self.fields.len() <= MAX_FIELDS,
            "a schema lists at most {MAX_FIELDS} fields"
        );
        // Filled in place: a reading is large, and moving it out of each
        // reading function in turn showed up in profiles.
        let mut reading = Reading::new();
        match read_object(self.fields, body.bytes(), &mut reading) {
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "The request body is not valid JSON: {e}."
                )));
            }
            Ok(Err(kind)) => {
                return Err(ApiError::bad_request(format!(
                    "The request body must be a JSON object like {example} (got {kind})."
                )));
            }
            Ok(Ok(())) => {}
        }
        if let (false, Some(unknown)) = (allow_unknown, &reading.unknown) {
            return Err(ApiError::bad_request(format!(
                "Unknown field {:?}: the allowed fields are {}.",
                truncate(unknown),
                self.field_names(inflection)
            )));
        }
        if let Some((first, again)) = &reading.repeated {
            return Err(ApiError::bad_request(format!(
                "{first:?} and {again:?} name the same field; send it once."
            )));
        }
        for (spec, slot) in self.fields.iter().zip(&reading.slots) {
            let Some(field) = slot else {
                if spec.required {
                    return Err(ApiError::bad_request(format!(
                        "{} is required, as in {example}.",
                        inflection.apply(spec.name)
                    )));
                }
                continue;
            };
            let (fits, wanted) = match (spec.kind, &field.value) {
                (Kind::String, value) => (matches!(value, Scalar::Str(_)), "a string"),
                (Kind::Bool, value) => (matches!(value, Scalar::Bool(_)), "true or false"),
                (Kind::NullableString, value) => (
                    matches!(value, Scalar::Str(_) | Scalar::Null),
                    "a string or null",
                ),
            };
            if !fits {
                return Err(ApiError::bad_request(format!(
                    "{} must be {wanted} (got {}).",
                    field.key,
                    field.value.kind()
                )));
            }
        }
        Ok(Checked {
            specs: self.fields,
            values: reading.slots.map(|slot| slot.map(|sent| sent.value)),
        })
    }

    /// Reads a body into the endpoint's request struct `T`, whose fields are
    /// the schema's (kebab-case, unknown fields denied). A body `T` reads as
    /// it is is one the check accepts with the same values, so the check
    /// (see [`Schema::check`]) runs only for the others: to read another
    /// inflection's keys or unknown fields where allowed, or to say what is
    /// wrong.
    pub fn read<T: DeserializeOwned>(
        &self,
        body: &Body,
        allow_unknown: bool,
        inflection: Inflection,
    ) -> Result<T, ApiError> {
        if let Ok(read) = serde_json::from_slice(body.bytes()) {
            return Ok(read);
        }
        self.check(body, allow_unknown, inflection)?
            .into_struct()
            .map_err(|e| ApiError::bad_request(format!("The request body could not be read: {e}.")))
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

/// How the object of a body is read (see [`read_top_level`]).
trait ReadObject<'de> {
    type Object;
    fn read<A: MapAccess<'de>>(self, map: A) -> Result<Self::Object, A::Error>;
}

/// Reads a whole body: an object through `reader`, any other JSON value
/// named for messages (`Err("an array")` and so on).
fn read_top_level<'de, R: ReadObject<'de>>(
    body: &'de [u8],
    reader: R,
) -> Result<Result<R::Object, &'static str>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let read = (&mut deserializer).deserialize_any(TopLevel(reader))?;
    deserializer.end()?;
    Ok(read)
}

struct TopLevel<R>(R);

impl<'de, R: ReadObject<'de>> Visitor<'de> for TopLevel<R> {
    type Value = Result<R::Object, &'static str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.read(map).map(Ok)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Err("an array"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err("a string"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Err("null"))
    }
}

/// Every field, as [`parse`] keeps them.
struct AllFields;

impl<'de> ReadObject<'de> for AllFields {
    type Object = Vec<Field>;
    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Field>, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(2));
        while let Some(sent) = map.next_key::<String>()? {
            let value = map.next_value::<Value>()?;
            let kebab = match to_kebab(&sent) {
                Cow::Borrowed(_) => None,
                Cow::Owned(kebab) => Some(kebab),
            };
            fields.push(Field { sent, kebab, value });
        }
        Ok(fields)
    }
}

/// The fields a schema names, as [`Schema::check`] reads them into a
/// [`Reading`].
struct SchemaFields<'r, 'a> {
    specs: &'static [FieldSpec],
    reading: &'r mut Reading<'a>,
}

impl<'de> ReadObject<'de> for SchemaFields<'_, 'de> {
    type Object = ();
    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(KeyText(key)) = map.next_key()? {
            let value: Scalar<'de> = map.next_value_seed(ScalarSeed)?;
            self.reading.note(self.specs, key, value);
        }
        Ok(())
    }
}

/// Reads a body for a schema into `reading` (which starts empty):
/// `Ok(Err(kind))` if it is JSON but not an object. Syntax errors are
/// serde_json's, as [`parse`] reports them.
fn read_object<'a>(
    specs: &'static [FieldSpec],
    body: &'a [u8],
    reading: &mut Reading<'a>,
) -> Result<Result<(), &'static str>, serde_json::Error> {
    read_top_level(body, SchemaFields { specs, reading })
}

impl<'a> Reading<'a> {
    fn new() -> Reading<'a> {
        Reading {
            slots: [const { None }; MAX_FIELDS],
            unknown: None,
            repeated: None,
        }
    }

    /// Notes the next field of the body.
    fn note(&mut self, specs: &[FieldSpec], key: Cow<'a, str>, value: Scalar<'a>) {
        // Most keys are sent as the schema spells them: only the others are
        // inflected before they are looked for.
        let position = specs.iter().position(|spec| spec.name == key).or_else(|| {
            let kebab = to_kebab(&key);
            specs.iter().position(|spec| spec.name == kebab)
        });
        match position {
            Some(i) => match &self.slots[i] {
                Some(first) => {
                    if self.repeated.is_none() {
                        self.repeated = Some((first.key.clone(), key));
                    }
                }
                None => self.slots[i] = Some(Sent { key, value }),
            },
            None => {
                self.unknown.get_or_insert(key);
            }
        }
    }
}

/// A key, borrowed from the body unless it has escapes.
struct KeyText<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for KeyText<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor).map(KeyText)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(text))
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(text.to_owned()))
    }
    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(text))
    }
}

/// Reads a top-level value as a [`Scalar`].
struct ScalarSeed;

impl<'de> de::DeserializeSeed<'de> for ScalarSeed {
    type Value = Scalar<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Scalar<'de>, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        TextVisitor.visit_borrowed_str(text).map(Scalar::Str)
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        TextVisitor.visit_str(text).map(Scalar::Str)
    }
    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        TextVisitor.visit_string(text).map(Scalar::Str)
    }
    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(value))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Other("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Other("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Other("a number"))
    }
    // Nested values are read whole (not skipped), so a body is valid JSON
    // here exactly when [`parse`] accepts it (e.g. numbers out of range).
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<Value>()?.is_some() {}
        Ok(Scalar::Other("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<String, Value>()?.is_some() {}
        Ok(Scalar::Other("an object"))
    }
}

/// Panics unless `T` reads every field of `schema` and its example (an
/// endpoint's request struct and its schema name the same fields), and
/// unless every generated body (below) that `T` reads as it is, which is
/// what [`Schema::read`] tries first, is one the check accepts with the
/// same values, whether unknown fields are allowed or not.
#[cfg(test)]
pub(crate) fn assert_schema_reads<T: DeserializeOwned + PartialEq + fmt::Debug>(schema: &Schema) {
    let all: serde_json::Map<String, Value> = schema
        .fields
        .iter()
        .map(|spec| {
            let value = match spec.kind {
                Kind::Bool => Value::Bool(true),
                Kind::String | Kind::NullableString => Value::String("x".into()),
            };
            (spec.name.to_string(), value)
        })
        .collect();
    let body = Body::new(Bytes::from(Value::Object(all).to_string()));
    if let Err(e) = schema.read::<T>(&body, false, Inflection::Kebab) {
        panic!("every schema field: {}", e.details);
    }
    let example = Body::new(Bytes::from_static(schema.example.as_bytes()));
    if let Err(e) = schema.read::<T>(&example, false, Inflection::Kebab) {
        panic!("the example: {}", e.details);
    }
    // Each field absent, or sent under each inflection's key with each kind
    // of value; then an unknown field, a field sent twice, and other
    // top-level values.
    let values = [
        "\"x\"",
        "\"a\\\"b\"",
        "\"\"",
        "null",
        "true",
        "false",
        "1",
        "[]",
        "{}",
    ];
    let mut bodies: Vec<String> = vec![String::new()];
    for spec in schema.fields {
        let keys = [
            spec.name.to_string(),
            Inflection::Snake.apply(spec.name).into_owned(),
            Inflection::Camel.apply(spec.name).into_owned(),
        ];
        let mut next = Vec::new();
        for body in &bodies {
            next.push(body.clone());
            for key in keys.iter() {
                for value in values {
                    let comma = if body.is_empty() { "" } else { "," };
                    next.push(format!("{body}{comma}\"{key}\":{value}"));
                }
            }
        }
        bodies = next;
    }
    let mut all: Vec<String> = bodies.iter().map(|b| format!("{{{b}}}")).collect();
    for body in &bodies {
        let comma = if body.is_empty() { "" } else { "," };
        all.push(format!("{{{body}{comma}\"other\":1}}"));
        if let Some(first) = body.split(',').next().filter(|f| !f.is_empty()) {
            all.push(format!("{{{body},{first}}}"));
        }
    }
    all.extend(["", " ", "null", "[]", "\"x\"", "{", "{}}"].map(String::from));
    for text in &all {
        let Ok(direct) = serde_json::from_slice::<T>(text.as_bytes()) else {
            continue;
        };
        let body = Body::new(Bytes::from(text.clone()));
        for allow_unknown in [false, true] {
            let checked = schema
                .check(&body, allow_unknown, Inflection::Kebab)
                .map_err(|e| e.details.to_string())
                .and_then(|checked| checked.into_struct::<T>().map_err(|e| e.to_string()));
            assert_eq!(
                checked.as_ref(),
                Ok(&direct),
                "{text} (unknown fields allowed: {allow_unknown})"
            );
        }
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

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(rename_all = "kebab-case", deny_unknown_fields)]
    struct Request {
        claim_type: String,
        sandbox: Option<bool>,
    }

    fn read(text: &str) -> Request {
        SCHEMA.read(&body(text), false, Inflection::Kebab).unwrap()
    }

    #[test]
    fn known_fields_in_any_inflection() {
        assert_eq!(
            read(r#"{"claimType":"a","sandbox":true}"#),
            Request {
                claim_type: "a".into(),
                sandbox: Some(true)
            }
        );
        assert_eq!(read(r#"{"claim_type":"b"}"#).claim_type, "b");
    }

    #[test]
    fn escaped_keys_and_values_are_read() {
        assert_eq!(read(r#"{"claim\u002dtype":"a\"b"}"#).claim_type, "a\"b");
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
    fn the_schema_check_reads_json_exactly_as_the_general_parse() {
        // The check reads bodies in a pass of its own: it must call the same
        // bodies invalid, with the same message, as scenarios' reading does.
        let bodies = [
            r#"{"claim-type":"a","x":[1e999]}"#,
            r#"{"claim-type":"a","x":{"k":-1e400}}"#,
            r#"{"claim-type":"a","x":1e999}"#,
            r#"{"claim-type":"\ud800"}"#,
            r#"{"claim-type":"a","x":{"\udc00":1}}"#,
            r#"{"claim-type":"a"} x"#,
            r#"{"claim-type":"a",}"#,
            r#"{"claim-type":"a","x":[[[[]]]]}"#,
            r#"[1e999]"#,
            "{\"claim-type\":\"a\",\"x\":\"\u{7f}\"}",
        ];
        let deep = format!(
            r#"{{"claim-type":"a","x":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        for text in bodies.iter().copied().chain([deep.as_str()]) {
            let general = match parse(text.as_bytes()) {
                Err(e) => format!("The request body is not valid JSON: {e}."),
                Ok(_) => "valid".into(),
            };
            let checked = match SCHEMA.check(&body(text), true, Inflection::Kebab) {
                Err(e) if e.details.contains("not valid JSON") => e.details,
                _ => "valid".into(),
            };
            assert_eq!(checked, general, "{text}");
        }
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
