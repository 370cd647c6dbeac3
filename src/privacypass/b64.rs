//! base64url as Persona and RFC 9577 use it: encoded with or without padding
//! (a profile setting), decoded leniently (padded and unpadded both accepted).

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD, URL_SAFE_NO_PAD_INDIFFERENT};

/// Whether encoded base64url values end in `=` padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// No `=` (Persona's examples).
    Unpadded,
    /// `=` padding to a multiple of four characters (RFC 9577 §2.1.2).
    Padded,
}

impl Padding {
    /// Encodes `bytes` as base64url with this padding.
    pub fn encode(self, bytes: &[u8]) -> String {
        let mut out = Vec::new();
        self.encode_into(bytes, &mut out);
        String::from_utf8(out).expect("base64 is ASCII")
    }

    /// How many characters `len` bytes encode to with this padding.
    pub fn encoded_len(self, len: usize) -> usize {
        base64::encoded_len(len, self == Padding::Padded).expect("lengths of values in memory fit")
    }

    /// Appends `bytes` as base64url with this padding to `out`, straight
    /// into its bytes: `encode_string` would zero a 1 KiB buffer per call,
    /// and a `String` would check the whole output as UTF-8 (a challenge is
    /// encoded on every request).
    pub fn encode_into(self, bytes: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + self.encoded_len(bytes.len()), 0);
        let engine = match self {
            Padding::Unpadded => &URL_SAFE_NO_PAD,
            Padding::Padded => &URL_SAFE,
        };
        let written = engine
            .encode_slice(bytes, &mut out[start..])
            .expect("sized by encoded_len");
        out.truncate(start + written);
    }
}

/// base64url of byte strings of one length that differ only inside a
/// window (a challenge's redemption context): the text of the bytes before
/// and after it, out to whole 3-byte groups, is made once, and each string
/// encodes only the groups the window touches.
#[derive(Clone, Debug)]
pub struct Framed {
    padding: Padding,
    /// The encoded bytes' length.
    len: usize,
    /// The bytes encoded per string: from a 3-byte group's start to the end
    /// of the window's last group (or the end).
    middle: std::ops::Range<usize>,
    /// The text of the bytes before and after `middle`.
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl Framed {
    /// The frame of strings like `sample` that differ only in `window`.
    pub fn new(padding: Padding, sample: &[u8], window: std::ops::Range<usize>) -> Framed {
        let len = sample.len();
        let start = window.start.min(len) / 3 * 3;
        let end = window.end.min(len).div_ceil(3) * 3;
        // A tail shorter than a group is encoded with the middle (its
        // padding depends on the whole length).
        let end = if end >= len { len } else { end };
        let mut head = Vec::new();
        Padding::Unpadded.encode_into(&sample[..start], &mut head);
        let mut tail = Vec::new();
        padding.encode_into(&sample[end..], &mut tail);
        Framed {
            padding,
            len,
            middle: start..end,
            head,
            tail,
        }
    }

    /// How many characters a string encodes to.
    pub fn encoded_len(&self) -> usize {
        self.padding.encoded_len(self.len)
    }

    /// Appends `bytes` as base64url to `out`. `bytes` must be as long as
    /// the sample and equal to it outside the window.
    pub fn encode_into(&self, bytes: &[u8], out: &mut Vec<u8>) {
        debug_assert_eq!(bytes.len(), self.len, "a string of the frame's length");
        out.extend_from_slice(&self.head);
        let middle = &bytes[self.middle.clone()];
        if middle.len().is_multiple_of(3) {
            encode_groups(middle, out);
        } else {
            // The last group is partial: its padding is the engine's.
            self.padding.encode_into(middle, out);
        }
        out.extend_from_slice(&self.tail);
    }
}

/// The base64url alphabet.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Appends whole 3-byte groups as base64url, four characters each (no
/// padding is ever needed). A frame's middle is a few groups, which this
/// encodes in a fraction of the engine's instructions (its setup is made
/// for long inputs); tests hold the two to the same output.
fn encode_groups(bytes: &[u8], out: &mut Vec<u8>) {
    debug_assert!(bytes.len().is_multiple_of(3), "whole groups");
    let start = out.len();
    out.resize(start + bytes.len() / 3 * 4, 0);
    for (chars, group) in out[start..].chunks_exact_mut(4).zip(bytes.chunks_exact(3)) {
        let n = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        for (i, c) in chars.iter_mut().enumerate() {
            *c = ALPHABET[(n >> (18 - 6 * i)) as usize & 63];
        }
    }
}

/// Decodes base64url, padded or not.
///
/// Standard-alphabet characters (`+`, `/`) are rejected: they are not
/// base64url, and accepting them would hide a client bug.
pub fn decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD_INDIFFERENT.decode(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_len_is_what_encoding_writes() {
        for padding in [Padding::Unpadded, Padding::Padded] {
            for len in 0..40 {
                let bytes = vec![0xa5u8; len];
                assert_eq!(
                    padding.encoded_len(len),
                    padding.encode(&bytes).len(),
                    "{len}"
                );
            }
        }
    }

    #[test]
    fn encodes_with_and_without_padding() {
        assert_eq!(Padding::Unpadded.encode(b"ab"), "YWI");
        assert_eq!(Padding::Padded.encode(b"ab"), "YWI=");
        assert_eq!(Padding::Unpadded.encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn encodes_as_the_base64_crate_does() {
        let mut out = b"{\"".to_vec();
        Padding::Padded.encode_into(b"xyzw", &mut out);
        assert_eq!(out, b"{\"eHl6dw==", "appended after what was there");
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 151 + 7) as u8).collect();
            assert_eq!(
                Padding::Unpadded.encode(&bytes),
                URL_SAFE_NO_PAD.encode(&bytes)
            );
            assert_eq!(Padding::Padded.encode(&bytes), URL_SAFE.encode(&bytes));
            assert_eq!(decode(&Padding::Padded.encode(&bytes)).unwrap(), bytes);
        }
    }

    #[test]
    fn a_frame_encodes_as_the_whole_string_would() {
        // Every window position and length, in strings short and long
        // enough that head, tail or both are empty.
        for len in 0..16usize {
            for start in 0..=len {
                for end in start..=len {
                    let sample: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
                    for padding in [Padding::Unpadded, Padding::Padded] {
                        let frame = Framed::new(padding, &sample, start..end);
                        let mut bytes = sample.clone();
                        for b in &mut bytes[start..end] {
                            *b ^= 0xff;
                        }
                        let mut out = b"x".to_vec();
                        frame.encode_into(&bytes, &mut out);
                        assert_eq!(
                            &out[1..],
                            padding.encode(&bytes).as_bytes(),
                            "{len} {start}..{end} {padding:?}"
                        );
                        assert_eq!(frame.encoded_len(), out.len() - 1);
                    }
                }
            }
        }
    }

    #[test]
    fn groups_encode_as_the_base64_crate_does() {
        // Every byte value in every position of a group.
        for position in 0..3 {
            let mut bytes = Vec::new();
            for value in 0..=255u8 {
                let mut group = [0x5a, 0xa5, 0x3c];
                group[position] = value;
                bytes.extend_from_slice(&group);
            }
            let mut out = b"x".to_vec();
            encode_groups(&bytes, &mut out);
            assert_eq!(&out[1..], URL_SAFE_NO_PAD.encode(&bytes).as_bytes());
        }
    }

    #[test]
    fn decodes_padded_and_unpadded() {
        assert_eq!(decode("YWI").unwrap(), b"ab");
        assert_eq!(decode("YWI=").unwrap(), b"ab");
        assert_eq!(decode("-_8").unwrap(), [0xfb, 0xff]);
    }

    #[test]
    fn rejects_the_standard_alphabet() {
        assert!(decode("+/8").is_err());
    }
}
