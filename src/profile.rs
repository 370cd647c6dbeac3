//! Wire profiles: the explicit choices where Persona's reference and the
//! RFCs disagree, grouped under names selectable with `--profile`.

use crate::b64::Padding;
use serde::Deserialize;

/// How a P-384 `token-key` is encoded before base64url.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenKeyEncoding {
    /// DER SubjectPublicKeyInfo (120 bytes for P-384), as Persona's reference says.
    SpkiDer,
    /// The RFC 9578 encoding: for type 0x0001 the 49-byte compressed point.
    Rfc9578,
}

/// The settings a profile fixes; each can be overridden in the config file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireFormat {
    /// Encoding of `token-key` (and so the bytes `token-key-id` hashes).
    pub token_key: TokenKeyEncoding,
    /// Padding of every base64url value in responses.
    pub padding: Padding,
}

/// A named set of wire choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
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
                token_key: TokenKeyEncoding::SpkiDer,
                padding: Padding::Unpadded,
            },
            Profile::Rfc9578 => WireFormat {
                token_key: TokenKeyEncoding::Rfc9578,
                padding: Padding::Padded,
            },
        }
    }
}
