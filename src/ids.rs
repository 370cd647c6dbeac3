//! Identifiers: opaque ids in Persona's style (a prefix and alphanumerics),
//! the random or seeded bytes they are made from, and the session ids that
//! tests choose.

use crate::api::ApiError;
use hyper::header::HeaderValue;
use percent_encoding::percent_decode_str;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

const ALPHANUMERIC: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Length of the opaque part of an identifier.
pub const OPAQUE_LEN: usize = 24;

/// `prefix` followed by 24 alphanumerics taken from `bytes` (at least 24).
pub fn opaque(prefix: &str, bytes: &[u8]) -> String {
    let chars: [u8; OPAQUE_LEN] =
        std::array::from_fn(|i| ALPHANUMERIC[usize::from(bytes[i]) % ALPHANUMERIC.len()]);
    let mut out = String::with_capacity(prefix.len() + OPAQUE_LEN);
    out.push_str(prefix);
    out.push_str(std::str::from_utf8(&chars).expect("alphanumerics"));
    out
}

/// What a stream of fresh bytes is for; each has its own seeded sequence.
#[derive(Clone, Copy, Debug)]
pub enum Stream {
    /// `Request-Id` values.
    RequestId,
    /// Redemption contexts of challenges.
    RedemptionContext,
    /// Relay tokens.
    RelayToken,
    /// Relay secrets.
    RelaySecret,
    /// Session token ids (`jti`).
    SessionToken,
}

/// Fresh bytes: random, or (with `--seed`) derived from the seed and a
/// counter per stream, so a seeded run repeats itself exactly.
pub struct Fresh {
    seed: Option<u64>,
    counters: [AtomicU64; 5],
}

impl Fresh {
    /// Random bytes, or seeded ones when `seed` is set.
    pub fn new(seed: Option<u64>) -> Fresh {
        Fresh {
            seed,
            counters: Default::default(),
        }
    }

    /// The next 32 bytes of a stream.
    pub fn next(&self, stream: Stream) -> [u8; 32] {
        let (label, counter): (&[u8], _) = match stream {
            Stream::RequestId => (b"persona-mock request id\0", &self.counters[0]),
            Stream::RedemptionContext => (b"persona-mock redemption context\0", &self.counters[1]),
            Stream::RelayToken => (b"persona-mock relay token\0", &self.counters[2]),
            Stream::RelaySecret => (b"persona-mock relay secret\0", &self.counters[3]),
            Stream::SessionToken => (b"persona-mock session token\0", &self.counters[4]),
        };
        match self.seed {
            Some(seed) => Sha256::new()
                .chain_update(label)
                .chain_update(seed.to_be_bytes())
                .chain_update(counter.fetch_add(1, Ordering::Relaxed).to_be_bytes())
                .finalize()
                .into(),
            None => {
                let mut bytes = [0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                bytes
            }
        }
    }

    /// A fresh `Request-Id` header value.
    pub fn request_id(&self) -> HeaderValue {
        HeaderValue::try_from(opaque("req_", &self.next(Stream::RequestId)))
            .expect("ids are alphanumeric")
    }
}

/// A UUIDv4 (RFC 9562) made from 16 of `bytes`, lowercase and hyphenated.
pub fn uuid_v4(bytes: &[u8; 32]) -> String {
    let mut random = [0u8; 16];
    random.copy_from_slice(&bytes[..16]);
    uuid::Builder::from_random_bytes(random)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// The path prefix that selects a session (and optionally a scenario), and
/// under which the control API shows and binds sessions.
pub const SESSION_PREFIX: &str = "/__mock/sessions/";

/// Whether a session id is 1 to 128 visible ASCII characters.
pub fn is_session_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= 128 && id.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// A path segment with its `%XX` escapes decoded (`+` stays `+`); `None`
/// if a `%` is not followed by two hex digits or the result is not UTF-8.
pub fn decode_segment(raw: &str) -> Option<Cow<'_, str>> {
    let bytes = raw.as_bytes();
    let well_formed = bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_decode_str(raw).decode_utf8().ok()
}

/// The first value of `name` in a query string, decoded as HTML forms
/// encode it (`+` is a space, then `%XX` escapes; bytes that are not UTF-8
/// become U+FFFD).
pub fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// A session id from a path segment, percent-decoded and checked.
pub fn session_segment(raw: &str) -> Result<Cow<'_, str>, ApiError> {
    decode_segment(raw)
        .filter(|id| is_session_id(id.as_bytes()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "The session in the path must be 1 to 128 visible ASCII characters (percent-encoded where needed).",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_prefix_and_24_alphanumerics() {
        let id = opaque("req_", &[255u8; 32]);
        assert_eq!(id.len(), 28);
        assert!(id.starts_with("req_"));
        assert!(id[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn path_segments_keep_plus_and_queries_make_it_a_space() {
        assert_eq!(decode_segment("a+b").unwrap(), "a+b");
        assert_eq!(decode_segment("a+b%2Fc").unwrap(), "a+b/c");
        assert_eq!(decode_segment("Bad%20Name").unwrap(), "Bad Name");
        assert_eq!(query_value(Some("x=1&s=a+b"), "s").unwrap(), "a b");
        assert_eq!(query_value(Some("s=a%2Bb+c&s=2"), "s").unwrap(), "a+b c");
        assert_eq!(query_value(Some("t=1"), "s"), None);
        assert!(decode_segment("%ff").is_none());
        assert!(decode_segment("%zz").is_none());
        assert!(decode_segment("a%2").is_none());
    }

    #[test]
    fn a_plus_in_a_session_segment_is_kept() {
        assert_eq!(session_segment("ci+run%2D1").unwrap(), "ci+run-1");
        assert!(session_segment("a%20b").is_err());
    }

    #[test]
    fn request_ids_are_the_opaque_ids_of_their_bytes() {
        let seeded = Fresh::new(Some(7));
        let again = Fresh::new(Some(7));
        let id = seeded.request_id();
        assert_eq!(
            id.to_str().unwrap(),
            opaque("req_", &again.next(Stream::RequestId))
        );
    }

    #[test]
    fn ids_map_each_byte_to_the_alphanumeric_of_its_value_mod_62() {
        let bytes: Vec<u8> = (0..24).map(|i| i * 11).collect();
        // Worked out independently: the alphabet at (11 i mod 256) mod 62.
        assert_eq!(opaque("x_", &bytes), "x_0BMXit4FQbmx8JUfq1CNYju5");
    }

    #[test]
    fn unseeded_ids_do_not_repeat() {
        let fresh = Fresh::new(None);
        let ids: std::collections::HashSet<String> = (0..1000)
            .map(|_| fresh.request_id().to_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), 1000);
    }

    #[test]
    fn uuids_have_the_version_and_variant_bits() {
        let id = uuid_v4(&[0xff; 32]);
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let id = uuid_v4(&[0; 32]);
        assert_eq!(id, "00000000-0000-4000-8000-000000000000");
    }

    #[test]
    fn seeded_streams_repeat_and_differ() {
        let one = Fresh::new(Some(7));
        let two = Fresh::new(Some(7));
        assert_eq!(one.next(Stream::RequestId), two.next(Stream::RequestId));
        assert_ne!(
            one.next(Stream::RequestId),
            one.next(Stream::RedemptionContext)
        );
    }
}
