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

/// What the challenge endpoint's `challenge` holds, and so what a token
/// looks like at generate-claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeFormat {
    /// The binary TokenChallenge of RFC 9577 §2.1.1; tokens are RFC 9577
    /// Tokens.
    Rfc9577,
    /// Persona's deployed dialect: base64url JSON with an HMAC `mac`;
    /// tokens are base64url JSON with a hashed token input.
    PersonaJson,
}

/// How an RSA (type 2) `token-key` is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsaKeyEncoding {
    /// The RSASSA-PSS SubjectPublicKeyInfo RFC 9578 requires (342 bytes).
    PssSpki,
    /// A plain rsaEncryption SubjectPublicKeyInfo (294 bytes): what Go's
    /// x509 and Persona's Go SDK can parse.
    RsaEncryptionSpki,
}

/// The settings a profile fixes; encodings can be overridden in the config
/// file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireFormat {
    /// What a challenge is.
    pub challenge: ChallengeFormat,
    /// The token type issued for every claim type.
    pub token_type: TokenType,
    /// Encoding of a P-384 `token-key` (and so the bytes `token-key-id`
    /// hashes).
    pub token_key: TokenKeyEncoding,
    /// Encoding of an RSA `token-key`.
    pub rsa_key: RsaKeyEncoding,
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
    /// Persona's deployed dialect, as Persona's Go SDK speaks it: JSON
    /// challenges and tokens, RSA-2048 keys as rsaEncryption SPKI, unpadded
    /// base64url.
    PersonaSdk,
}

impl Profile {
    /// The profile's name as written in flags and config files.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Reference => "reference",
            Profile::Rfc9578 => "rfc9578",
            Profile::PersonaSdk => "persona-sdk",
        }
    }

    /// The wire choices this profile stands for.
    pub fn wire_format(self) -> WireFormat {
        match self {
            Profile::Reference => WireFormat {
                challenge: ChallengeFormat::Rfc9577,
                token_type: TokenType::VoprfP384,
                token_key: TokenKeyEncoding::SpkiDer,
                rsa_key: RsaKeyEncoding::PssSpki,
                padding: Padding::Unpadded,
            },
            Profile::Rfc9578 => WireFormat {
                challenge: ChallengeFormat::Rfc9577,
                token_type: TokenType::VoprfP384,
                token_key: TokenKeyEncoding::Rfc9578,
                rsa_key: RsaKeyEncoding::PssSpki,
                padding: Padding::Padded,
            },
            Profile::PersonaSdk => WireFormat {
                challenge: ChallengeFormat::PersonaJson,
                token_type: TokenType::BlindRsa2048,
                token_key: TokenKeyEncoding::SpkiDer,
                rsa_key: RsaKeyEncoding::RsaEncryptionSpki,
                padding: Padding::Unpadded,
            },
        }
    }
}
