//! Wire profiles: the explicit choices where Persona's reference and the
//! RFCs disagree, grouped under names selectable with `--profile`. A profile
//! chooses behaviour (the challenge format and the token type issued), not
//! only encodings.

use crate::privacypass::TokenType;
use crate::privacypass::b64::Padding;

/// How a P-384 `token-key` is encoded before base64url.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKeyEncoding {
    /// DER SubjectPublicKeyInfo (120 bytes for P-384), as Persona's reference says.
    SpkiDer,
    /// The RFC 9578 encoding: for type 0x0001 the 49-byte compressed point.
    Rfc9578,
}

/// What the challenge endpoint's `challenge` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeFormat {
    /// The binary TokenChallenge of RFC 9577 §2.1.1.
    Rfc9577,
}

/// The settings a profile fixes; encodings can be overridden in the config
/// file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireFormat {
    /// What a challenge is.
    pub challenge: ChallengeFormat,
    /// The token type issued for every claim type.
    pub token_type: TokenType,
    /// Encoding of `token-key` (and so the bytes `token-key-id` hashes).
    pub token_key: TokenKeyEncoding,
    /// Padding of every base64url value in responses.
    pub padding: Padding,
}

/// A named set of wire choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Profile {
    /// As Persona's API reference describes it: DER SPKI token-key, unpadded base64url.
    Reference,
    /// What RFC 9578 clients accept: compressed-point token-key, padded base64url.
    Rfc9578,
}

impl Profile {
    /// The profile's name as written in flags and config files.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Reference => "reference",
            Profile::Rfc9578 => "rfc9578",
        }
    }

    /// The wire choices this profile stands for.
    pub fn wire_format(self) -> WireFormat {
        match self {
            Profile::Reference => WireFormat {
                challenge: ChallengeFormat::Rfc9577,
                token_type: TokenType::VoprfP384,
                token_key: TokenKeyEncoding::SpkiDer,
                padding: Padding::Unpadded,
            },
            Profile::Rfc9578 => WireFormat {
                challenge: ChallengeFormat::Rfc9577,
                token_type: TokenType::VoprfP384,
                token_key: TokenKeyEncoding::Rfc9578,
                padding: Padding::Padded,
            },
        }
    }
}
