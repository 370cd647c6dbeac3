//! The binary TokenChallenge of RFC 9577 §2.1.1.

use std::fmt;

/// Length of a non-empty redemption context (RFC 9577 §2.1.1).
pub const REDEMPTION_CONTEXT_LEN: usize = 32;

/// An RFC 9577 §2.1.1 TokenChallenge.
///
/// `token_type` is the raw code point so that challenges of types persona-mock
/// does not issue (including greased ones) still decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenChallenge {
    /// The token type code point.
    pub token_type: u16,
    /// The issuer's name, an authority (`host[:port]`), at least one byte.
    pub issuer_name: Vec<u8>,
    /// Empty, or exactly 32 bytes.
    pub redemption_context: Vec<u8>,
    /// Empty, or origin names joined by `,`.
    pub origin_info: Vec<u8>,
}

/// Why bytes are not a TokenChallenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChallengeError {
    /// The input ended inside the named field.
    Truncated(&'static str),
    /// `issuer_name` has length zero.
    EmptyIssuerName,
    /// `redemption_context` is neither 0 nor 32 bytes long.
    RedemptionContextLength(usize),
    /// A field is longer than its length prefix can express.
    TooLong(&'static str),
    /// Bytes remain after `origin_info`.
    TrailingBytes(usize),
}

impl fmt::Display for ChallengeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChallengeError::Truncated(field) => write!(f, "input ends inside {field}"),
            ChallengeError::EmptyIssuerName => write!(f, "issuer_name is empty"),
            ChallengeError::RedemptionContextLength(n) => {
                write!(f, "redemption_context is {n} bytes; it must be 0 or 32")
            }
            ChallengeError::TooLong(field) => {
                write!(f, "{field} is too long for its length prefix")
            }
            ChallengeError::TrailingBytes(n) => write!(f, "{n} bytes follow origin_info"),
        }
    }
}

impl std::error::Error for ChallengeError {}

/// A TokenChallenge's fields, borrowed: what [`TokenChallenge::encode`] and
/// the challenge endpoint serialize, without copying the fields first.
#[derive(Clone, Copy, Debug)]
pub struct ChallengeFields<'a> {
    /// The token type code point.
    pub token_type: u16,
    /// The issuer's name.
    pub issuer_name: &'a [u8],
    /// Empty, or exactly 32 bytes.
    pub redemption_context: &'a [u8],
    /// Empty, or origin names joined by `,`.
    pub origin_info: &'a [u8],
}

impl ChallengeFields<'_> {
    /// Where the redemption context starts in the serialized challenge
    /// (after the token type, the issuer name and their lengths, and the
    /// context's own length byte).
    pub fn context_at(&self) -> usize {
        2 + 2 + self.issuer_name.len() + 1
    }

    /// The length of the serialized challenge.
    pub fn encoded_len(&self) -> usize {
        self.context_at() + self.redemption_context.len() + 2 + self.origin_info.len()
    }

    /// Appends the serialized challenge to `out`: fields back to back,
    /// lengths big-endian.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), ChallengeError> {
        if self.issuer_name.is_empty() {
            return Err(ChallengeError::EmptyIssuerName);
        }
        let context_len = self.redemption_context.len();
        if context_len != 0 && context_len != REDEMPTION_CONTEXT_LEN {
            return Err(ChallengeError::RedemptionContextLength(context_len));
        }
        let issuer_len = u16::try_from(self.issuer_name.len())
            .map_err(|_| ChallengeError::TooLong("issuer_name"))?;
        let origin_len = u16::try_from(self.origin_info.len())
            .map_err(|_| ChallengeError::TooLong("origin_info"))?;
        out.reserve(self.encoded_len());
        out.extend_from_slice(&self.token_type.to_be_bytes());
        out.extend_from_slice(&issuer_len.to_be_bytes());
        out.extend_from_slice(self.issuer_name);
        out.push(context_len as u8);
        out.extend_from_slice(self.redemption_context);
        out.extend_from_slice(&origin_len.to_be_bytes());
        out.extend_from_slice(self.origin_info);
        Ok(())
    }
}

impl TokenChallenge {
    /// The fields, borrowed.
    pub fn fields(&self) -> ChallengeFields<'_> {
        ChallengeFields {
            token_type: self.token_type,
            issuer_name: &self.issuer_name,
            redemption_context: &self.redemption_context,
            origin_info: &self.origin_info,
        }
    }

    /// Serializes the challenge: fields back to back, lengths big-endian.
    pub fn encode(&self) -> Result<Vec<u8>, ChallengeError> {
        let mut out = Vec::new();
        self.fields().encode_into(&mut out)?;
        Ok(out)
    }

    /// Parses a serialized challenge, rejecting anything RFC 9577 forbids.
    pub fn decode(bytes: &[u8]) -> Result<TokenChallenge, ChallengeError> {
        let mut reader = Reader { rest: bytes };
        let token_type = u16::from_be_bytes(reader.take_array("token_type")?);
        let issuer_len = u16::from_be_bytes(reader.take_array("issuer_name")?) as usize;
        let issuer_name = reader.take(issuer_len, "issuer_name")?.to_vec();
        if issuer_name.is_empty() {
            return Err(ChallengeError::EmptyIssuerName);
        }
        let [context_len] = reader.take_array("redemption_context")?;
        let context_len = context_len as usize;
        if context_len != 0 && context_len != REDEMPTION_CONTEXT_LEN {
            return Err(ChallengeError::RedemptionContextLength(context_len));
        }
        let redemption_context = reader.take(context_len, "redemption_context")?.to_vec();
        let origin_len = u16::from_be_bytes(reader.take_array("origin_info")?) as usize;
        let origin_info = reader.take(origin_len, "origin_info")?.to_vec();
        if !reader.rest.is_empty() {
            return Err(ChallengeError::TrailingBytes(reader.rest.len()));
        }
        Ok(TokenChallenge {
            token_type,
            issuer_name,
            redemption_context,
            origin_info,
        })
    }
}

/// A cursor over the bytes still to parse.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], ChallengeError> {
        if self.rest.len() < n {
            return Err(ChallengeError::Truncated(field));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn take_array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], ChallengeError> {
        let head = self.take(N, field)?;
        Ok(head.try_into().expect("take returned N bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> TokenChallenge {
        TokenChallenge {
            token_type: 1,
            issuer_name: b"issuer.example".to_vec(),
            redemption_context: vec![],
            origin_info: vec![],
        }
    }

    #[test]
    fn encodes_the_rfc_layout_back_to_back() {
        let bytes = example().encode().unwrap();
        let mut expected = vec![0x00, 0x01, 0x00, 0x0e];
        expected.extend_from_slice(b"issuer.example");
        expected.extend_from_slice(&[0x00, 0x00, 0x00]);
        assert_eq!(bytes, expected);
        assert_eq!(bytes.len(), 21);
    }

    #[test]
    fn the_context_sits_where_context_at_says() {
        let challenge = TokenChallenge {
            redemption_context: vec![7; 32],
            origin_info: b"a.example".to_vec(),
            ..example()
        };
        let fields = challenge.fields();
        let bytes = challenge.encode().unwrap();
        let at = fields.context_at();
        assert_eq!(bytes[at - 1], 32, "the context's length byte comes first");
        assert_eq!(&bytes[at..at + 32], &[7; 32]);
        assert_eq!(bytes.len(), fields.encoded_len());
    }

    #[test]
    fn round_trips_with_a_context_and_origins() {
        let challenge = TokenChallenge {
            redemption_context: vec![7; 32],
            origin_info: b"a.example,b.example".to_vec(),
            ..example()
        };
        let bytes = challenge.encode().unwrap();
        assert_eq!(TokenChallenge::decode(&bytes).unwrap(), challenge);
    }

    #[test]
    fn refuses_to_encode_what_the_rfc_forbids() {
        let no_issuer = TokenChallenge {
            issuer_name: vec![],
            ..example()
        };
        assert_eq!(no_issuer.encode(), Err(ChallengeError::EmptyIssuerName));
        let short_context = TokenChallenge {
            redemption_context: vec![1; 16],
            ..example()
        };
        assert_eq!(
            short_context.encode(),
            Err(ChallengeError::RedemptionContextLength(16))
        );
    }

    #[test]
    fn decode_rejects_malformed_input() {
        let good = example().encode().unwrap();
        assert_eq!(
            TokenChallenge::decode(&good[..1]),
            Err(ChallengeError::Truncated("token_type"))
        );
        assert_eq!(
            TokenChallenge::decode(&good[..10]),
            Err(ChallengeError::Truncated("issuer_name"))
        );
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(
            TokenChallenge::decode(&trailing),
            Err(ChallengeError::TrailingBytes(1))
        );
        let mut bad_context = good.clone();
        bad_context[18] = 5;
        assert_eq!(
            TokenChallenge::decode(&bad_context),
            Err(ChallengeError::RedemptionContextLength(5))
        );
        assert_eq!(
            TokenChallenge::decode(&[0, 1, 0, 0, 0, 0, 0]),
            Err(ChallengeError::EmptyIssuerName)
        );
    }
}
