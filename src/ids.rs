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

/// The alphanumeric of each byte value (`ALPHANUMERIC[b % 62]`), looked up
/// instead of divided for each character of each id.
const ALPHANUMERIC_OF: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = ALPHANUMERIC[b % 62];
        b += 1;
    }
    table
};

/// Length of the opaque part of an identifier.
pub const OPAQUE_LEN: usize = 24;

/// `prefix` followed by 24 alphanumerics taken from `bytes` (at least 24).
pub fn opaque(prefix: &str, bytes: &[u8]) -> String {
    let mut out = String::with_capacity(prefix.len() + OPAQUE_LEN);
    out.push_str(prefix);
    out.extend(
        bytes[..OPAQUE_LEN]
            .iter()
            .map(|b| ALPHANUMERIC_OF[usize::from(*b)] as char),
    );
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
            None => random_32(),
        }
    }

    /// A fresh `Request-Id` header value.
    ///
    /// Unseeded, ids are made a batch at a time on each thread, and each
    /// header value is a slice of its batch's buffer: a response's id then
    /// costs no allocation of its own. Seeded ids follow their stream one
    /// by one, so a seeded run repeats itself.
    pub fn request_id(&self) -> HeaderValue {
        if self.seed.is_some() {
            let mut id = [0u8; REQUEST_ID_LEN];
            write_request_id(&self.next(Stream::RequestId), &mut id);
            return HeaderValue::from_bytes(&id).expect("ids are alphanumeric");
        }
        REQUEST_IDS.with(|ids| {
            let mut ids = ids.borrow_mut();
            if ids.is_empty() {
                *ids = request_id_batch();
            }
            let id = ids.split_to(REQUEST_ID_LEN);
            HeaderValue::from_maybe_shared(id).expect("ids are alphanumeric")
        })
    }
}

/// How many random bytes a thread makes at a time for [`Fresh::next`].
const RANDOM_POOL: usize = 2048;

/// Random bytes a thread made ahead, and how many of them are handed out.
struct RandomPool {
    bytes: [u8; RANDOM_POOL],
    used: usize,
}

thread_local! {
    static RANDOM: std::cell::RefCell<RandomPool> = const {
        std::cell::RefCell::new(RandomPool {
            bytes: [0; RANDOM_POOL],
            used: RANDOM_POOL,
        })
    };
}

/// 32 random bytes from this thread's pool, refilled from the thread's
/// CSPRNG 2 KiB at a time: a challenge's redemption context costs a copy
/// rather than a call into the generator.
fn random_32() -> [u8; 32] {
    RANDOM.with_borrow_mut(|pool| {
        if pool.used + 32 > RANDOM_POOL {
            rand::rng().fill_bytes(&mut pool.bytes);
            pool.used = 0;
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(&pool.bytes[pool.used..pool.used + 32]);
        pool.used += 32;
        out
    })
}

/// The length of a request id: `req_` and the opaque part.
const REQUEST_ID_LEN: usize = 4 + OPAQUE_LEN;

/// How many request ids a thread makes at a time.
const REQUEST_ID_BATCH: usize = 256;

thread_local! {
    /// The request ids this thread has made and not handed out yet.
    static REQUEST_IDS: std::cell::RefCell<bytes::Bytes> = const {
        std::cell::RefCell::new(bytes::Bytes::new())
    };
}

/// Writes `req_` and the opaque id of `bytes` into `out`.
fn write_request_id(bytes: &[u8], out: &mut [u8; REQUEST_ID_LEN]) {
    out[..4].copy_from_slice(b"req_");
    for (slot, b) in out[4..].iter_mut().zip(&bytes[..OPAQUE_LEN]) {
        *slot = ALPHANUMERIC_OF[usize::from(*b)];
    }
}

/// [`REQUEST_ID_BATCH`] random request ids, one after another.
fn request_id_batch() -> bytes::Bytes {
    let mut random = [0u8; OPAQUE_LEN * REQUEST_ID_BATCH];
    rand::rng().fill_bytes(&mut random);
    let mut out = vec![0u8; REQUEST_ID_LEN * REQUEST_ID_BATCH];
    for (id, bytes) in out
        .chunks_exact_mut(REQUEST_ID_LEN)
        .zip(random.chunks_exact(OPAQUE_LEN))
    {
        write_request_id(bytes, id.try_into().expect("chunks are id-sized"));
    }
    bytes::Bytes::from(out)
}

/// A UUIDv4 (RFC 9562) made from 16 of `bytes`, lowercase and hyphenated.
pub fn uuid_v4(bytes: &[u8; 32]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&bytes[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = crate::privacypass::hex::encode(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A fast hash for the short keys of fixed maps (claim types) and for
/// session hashes, where SipHash's protection against chosen collisions buys
/// nothing (the maps do not grow with what clients send). It takes eight
/// bytes per step (a rotate, an xor and a multiply, as rustc's FxHash does),
/// where a byte-wise hash such as FNV-1a waits on one multiply per byte: a
/// claim type is 3 steps instead of 20.
#[derive(Clone, Copy, Default)]
pub struct ShortHash(u64);

impl ShortHash {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
}

impl std::hash::Hasher for ShortHash {
    fn finish(&self) -> u64 {
        // The multiply leaves its best bits at the top; hash tables index by
        // the bottom ones.
        self.0.rotate_left(26)
    }

    fn write(&mut self, bytes: &[u8]) {
        // The length first, so that a zero-padded last word is not taken
        // for the shorter string's.
        self.add(bytes.len() as u64);
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.add(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }
}

/// Maps keyed by short strings from the configuration.
pub type ShortKeys = std::hash::BuildHasherDefault<ShortHash>;

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

/// A query value decoded as HTML forms encode it: `+` is a space, then
/// `%XX` escapes.
pub fn decode_query_value(raw: &str) -> Option<String> {
    let spaced = raw.replace('+', " ");
    decode_segment(&spaced).map(Cow::into_owned)
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
        assert_eq!(decode_query_value("a+b").unwrap(), "a b");
        assert_eq!(decode_query_value("a%2Bb+c").unwrap(), "a+b c");
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
    fn unseeded_request_ids_are_opaque_ids_and_do_not_repeat_across_batches() {
        let fresh = Fresh::new(None);
        let ids: Vec<String> = (0..3 * REQUEST_ID_BATCH)
            .map(|_| fresh.request_id().to_str().unwrap().to_string())
            .collect();
        for id in &ids {
            let opaque = id.strip_prefix("req_").unwrap();
            assert_eq!(opaque.len(), OPAQUE_LEN, "{id}");
            assert!(opaque.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }

    #[test]
    fn each_byte_maps_to_the_alphanumeric_of_its_value_mod_62() {
        for b in 0..=255u8 {
            assert_eq!(
                ALPHANUMERIC_OF[usize::from(b)],
                ALPHANUMERIC[usize::from(b % 62)]
            );
        }
        let bytes: Vec<u8> = (0..24).map(|i| i * 11).collect();
        // Worked out independently: the alphabet at (11 i mod 256) mod 62.
        assert_eq!(opaque("x_", &bytes), "x_0BMXit4FQbmx8JUfq1CNYju5");
    }

    #[test]
    fn unseeded_bytes_do_not_repeat_across_refills_of_the_pool() {
        let fresh = Fresh::new(None);
        let draws = 3 * RANDOM_POOL / 32 + 1;
        let seen: std::collections::HashSet<[u8; 32]> = (0..draws)
            .map(|_| fresh.next(Stream::RedemptionContext))
            .collect();
        assert_eq!(seen.len(), draws);
    }

    #[test]
    fn short_hashes_read_every_byte_and_the_length() {
        use std::hash::BuildHasher;
        let hash = |bytes: &[u8]| ShortKeys::default().hash_one(bytes);
        let text: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for len in 0..=text.len() {
            let whole = hash(&text[..len]);
            for i in 0..len {
                let mut changed = text[..len].to_vec();
                changed[i] ^= 1;
                assert_ne!(hash(&changed), whole, "byte {i} of {len}");
            }
            let mut padded = text[..len].to_vec();
            padded.push(0);
            assert_ne!(hash(&padded), whole, "a zero byte more at length {len}");
        }
        assert_ne!(hash(b""), hash(b"\0"));
    }

    #[test]
    fn short_hashes_spread_short_keys_over_the_low_bits() {
        use std::hash::BuildHasher;
        // Tables index by the low bits. 1,000 random values take about 640
        // of 1,024 values of the low 10 bits; a hash that left them alike
        // would take far fewer.
        let low: std::collections::HashSet<u64> = (0..1000)
            .map(|i| ShortKeys::default().hash_one(format!("session-{i}")) & 1023)
            .collect();
        assert!(low.len() > 550, "{} distinct", low.len());
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
