//! Privacy Pass on bytes, with no HTTP types: token types, the RFC 9577
//! TokenChallenge codec, and the base64url and hex encodings the wire uses.
//! Tokens, VOPRF and Blind RSA belong here too.

pub mod b64;
mod challenge;
pub(crate) mod hex;
mod issuer;
mod pem;
pub mod persona;
mod token;

pub use challenge::{ChallengeError, ChallengeFields, REDEMPTION_CONTEXT_LEN, TokenChallenge};
pub use issuer::{IssueError, IssuerSecret, RSA_BITS, RsaSecret};
pub use pem::{EncryptionKeyError, encryption_key};
pub use token::{
    AuthorizationError, NONCE_LEN, TOKEN_INPUT_LEN, Token, TokenError, TokenRequest,
    private_token_param,
};

/// The Privacy Pass token types persona-mock can issue keys for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// 0x0001: VOPRF(P-384, SHA-384), privately verifiable (RFC 9578 §5).
    VoprfP384,
    /// 0x0002: Blind RSA 2048 (RSABSSA-SHA384-PSS-Deterministic), publicly
    /// verifiable (RFC 9578 §6).
    BlindRsa2048,
}

impl TokenType {
    /// The type's code point on the wire.
    pub fn code(self) -> u16 {
        match self {
            TokenType::VoprfP384 => 0x0001,
            TokenType::BlindRsa2048 => 0x0002,
        }
    }

    /// The type's place in per-type tables.
    pub fn index(self) -> usize {
        match self {
            TokenType::VoprfP384 => 0,
            TokenType::BlindRsa2048 => 1,
        }
    }

    /// The type for a code point, if persona-mock knows it.
    pub fn from_code(code: u16) -> Option<TokenType> {
        match code {
            0x0001 => Some(TokenType::VoprfP384),
            0x0002 => Some(TokenType::BlindRsa2048),
            _ => None,
        }
    }
}
