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
        self.engine().encode(bytes)
    }

    /// How many characters `len` bytes encode to with this padding.
    pub fn encoded_len(self, len: usize) -> usize {
        base64::encoded_len(len, self == Padding::Padded).expect("lengths of values in memory fit")
    }

    /// Appends `bytes` as base64url with this padding to `out`, without a
    /// `String` of its own (a challenge's answer is written in one buffer).
    pub fn encode_into(self, bytes: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + self.encoded_len(bytes.len()), 0);
        let written = self
            .engine()
            .encode_slice(bytes, &mut out[start..])
            .expect("sized by encoded_len");
        out.truncate(start + written);
    }

    fn engine(self) -> &'static base64::engine::GeneralPurpose {
        match self {
            Padding::Unpadded => &URL_SAFE_NO_PAD,
            Padding::Padded => &URL_SAFE,
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
    fn encodes_with_and_without_padding() {
        assert_eq!(Padding::Unpadded.encode(b"ab"), "YWI");
        assert_eq!(Padding::Padded.encode(b"ab"), "YWI=");
        assert_eq!(Padding::Unpadded.encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn what_is_encoded_decodes_back() {
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 151 + 7) as u8).collect();
            for padding in [Padding::Unpadded, Padding::Padded] {
                let mut out = b"x".to_vec();
                padding.encode_into(&bytes, &mut out);
                assert_eq!(&out[1..], padding.encode(&bytes).as_bytes());
                assert_eq!(out.len() - 1, padding.encoded_len(len));
            }
            assert_eq!(decode(&Padding::Padded.encode(&bytes)).unwrap(), bytes);
            assert_eq!(decode(&Padding::Unpadded.encode(&bytes)).unwrap(), bytes);
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
