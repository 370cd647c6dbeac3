//! Privacy Pass on bytes, with no HTTP types: token types, the RFC 9577
//! TokenChallenge codec, and the base64url and hex encodings the wire uses.
//! Tokens, VOPRF and Blind RSA belong here too.

pub mod b64;
mod challenge;
pub(crate) mod hex;

pub use challenge::{ChallengeError, ChallengeFields, REDEMPTION_CONTEXT_LEN, TokenChallenge};

/// The Privacy Pass token types persona-mock can issue keys for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// 0x0001: VOPRF(P-384, SHA-384), privately verifiable (RFC 9578 §5).
    VoprfP384,
}

impl TokenType {
    /// The type's code point on the wire.
    pub fn code(self) -> u16 {
        match self {
            TokenType::VoprfP384 => 0x0001,
        }
    }

    /// The type for a code point, if persona-mock knows it.
    pub fn from_code(code: u16) -> Option<TokenType> {
        match code {
            0x0001 => Some(TokenType::VoprfP384),
            _ => None,
        }
    }
}
