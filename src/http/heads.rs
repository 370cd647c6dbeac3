//! The request headers the pipeline reads, found in one pass over the
//! request's headers instead of one hashed look-up each.

use super::idempotent::IDEMPOTENCY_KEY;
use super::script::SCENARIO_HEADER;
use crate::api::conventions::{KEY_INFLECTION, PERSONA_VERSION};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, ORIGIN};

/// The header that names a request's session.
pub(crate) static SESSION_HEADER: HeaderName = HeaderName::from_static("persona-mock-session");

/// The first value of each header the pipeline reads (what
/// `HeaderMap::get` would give).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Heads<'a> {
    pub authorization: Option<&'a HeaderValue>,
    pub content_type: Option<&'a HeaderValue>,
    pub origin: Option<&'a HeaderValue>,
    pub session: Option<&'a HeaderValue>,
    pub scenario: Option<&'a HeaderValue>,
    pub idempotency_key: Option<&'a HeaderValue>,
    pub persona_version: Option<&'a HeaderValue>,
    pub key_inflection: Option<&'a HeaderValue>,
    /// The length of all the headers as the journal keeps them (name, `:`,
    /// value and a newline each), so it need not measure them again.
    pub packed_len: usize,
}

impl<'a> Heads<'a> {
    /// One pass over `headers`: the headers the pipeline reads, and the
    /// size of all of them as the head limit counts it (name, value and
    /// 4 bytes of separators each).
    pub fn scan(headers: &'a HeaderMap) -> (Heads<'a>, usize) {
        let mut heads = Heads::default();
        let mut size = 0;
        let mut lines = 0;
        for (name, value) in headers {
            size += name.as_str().len() + value.len() + 4;
            lines += 1;
            let slot = if name == AUTHORIZATION {
                &mut heads.authorization
            } else if name == CONTENT_TYPE {
                &mut heads.content_type
            } else if name == ORIGIN {
                &mut heads.origin
            } else if name == SESSION_HEADER {
                &mut heads.session
            } else if name == SCENARIO_HEADER {
                &mut heads.scenario
            } else if name == IDEMPOTENCY_KEY {
                &mut heads.idempotency_key
            } else if name == PERSONA_VERSION {
                &mut heads.persona_version
            } else if name == KEY_INFLECTION {
                &mut heads.key_inflection
            } else {
                continue;
            };
            slot.get_or_insert(value);
        }
        heads.packed_len = size - 2 * lines;
        (heads, size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_value_of_each_header_is_found_and_every_header_is_sized() {
        let mut headers = HeaderMap::new();
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        headers.append("Persona-Mock-Session", HeaderValue::from_static("s1"));
        headers.append("Persona-Mock-Scenario", HeaderValue::from_static("slow"));
        headers.append("Idempotency-Key", HeaderValue::from_static("k"));
        headers.append("Persona-Version", HeaderValue::from_static("2023-01-05"));
        headers.append("Key-Inflection", HeaderValue::from_static("camel"));
        headers.append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.append(ORIGIN, HeaderValue::from_static("http://localhost:3000"));
        headers.append("X-Other", HeaderValue::from_static("ignored"));
        let (heads, size) = Heads::scan(&headers);
        let text = |v: Option<&HeaderValue>| v.map(|v| v.to_str().unwrap().to_string());
        assert_eq!(text(heads.authorization).as_deref(), Some("Bearer a"));
        assert_eq!(text(heads.session).as_deref(), Some("s1"));
        assert_eq!(text(heads.scenario).as_deref(), Some("slow"));
        assert_eq!(text(heads.idempotency_key).as_deref(), Some("k"));
        assert_eq!(text(heads.persona_version).as_deref(), Some("2023-01-05"));
        assert_eq!(text(heads.key_inflection).as_deref(), Some("camel"));
        assert_eq!(
            text(heads.content_type).as_deref(),
            Some("application/json")
        );
        assert_eq!(text(heads.origin).as_deref(), Some("http://localhost:3000"));
        let expected: usize = headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum();
        assert_eq!(size, expected);
        let packed: String = headers
            .iter()
            .map(|(n, v)| format!("{n}:{}\n", v.to_str().unwrap()))
            .collect();
        assert_eq!(heads.packed_len, packed.len());
    }

    #[test]
    fn absent_headers_stay_absent() {
        let headers = HeaderMap::new();
        let (heads, size) = Heads::scan(&headers);
        assert!(heads.authorization.is_none() && heads.content_type.is_none());
        assert_eq!((size, heads.packed_len), (0, 0));
    }
}
