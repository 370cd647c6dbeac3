//! The issuer's side of RFC 9578: evaluating blinded elements (type 1,
//! VOPRF P-384 with a DLEQ proof) or blind-signing messages (type 2, Blind
//! RSA 2048, RSABSSA-SHA384-PSS-Deterministic), and verifying the tokens
//! clients finalize from them. The VOPRF server and the RSA public key are
//! built once per key, never per request.

use super::TokenType;
use blind_rsa_signatures::{
    KeyPairSha384PSSDeterministic, PublicKeySha384PSSDeterministic,
    SecretKeySha384PSSDeterministic, Signature,
};
use p384::NistP384;
use p384::elliptic_curve::sec1::ToSec1Point;
use p384::pkcs8::EncodePublicKey;
use std::sync::OnceLock;
use voprf::{BlindedElement, VoprfServer};

/// The Blind RSA secret key of type 2.
pub type RsaSecret = SecretKeySha384PSSDeterministic;

/// The RSA modulus size of type 2 keys.
pub const RSA_BITS: usize = 2048;

/// The secret half of an issuer key; its kind fixes the token type.
#[derive(Clone)]
pub enum IssuerSecret {
    /// A P-384 scalar: VOPRF(P-384, SHA-384), token type 0x0001.
    P384 {
        /// The scalar.
        secret: p384::SecretKey,
        /// Its public key, computed at first use (a scalar
        /// multiplication: pinned key sets stay quick to load).
        public: OnceLock<p384::PublicKey>,
        /// The VOPRF server, made at the key's first issuance or
        /// verification (it multiplies the base point again).
        server: OnceLock<VoprfServer<NistP384>>,
    },
    /// An RSA-2048 key: Blind RSA, token type 0x0002.
    Rsa {
        /// The private key.
        secret: RsaSecret,
        /// Its public key.
        public: PublicKeySha384PSSDeterministic,
    },
}

/// A P-384 key's public key, computed once.
fn p384_public<'a>(
    secret: &p384::SecretKey,
    public: &'a OnceLock<p384::PublicKey>,
) -> &'a p384::PublicKey {
    public.get_or_init(|| secret.public_key())
}

/// Why a blinded input cannot be evaluated or signed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    /// The wrong number of bytes for the token type.
    #[error("it is {got} bytes; token type {token_type} takes {expected}")]
    Length {
        /// The token type.
        token_type: TokenType,
        /// The length it takes.
        expected: usize,
        /// The length received.
        got: usize,
    },
    /// Not a P-384 point (type 1), or not below the modulus (type 2).
    #[error("{0}")]
    Invalid(&'static str),
}

impl IssuerSecret {
    /// A type 1 key.
    pub fn p384(secret: p384::SecretKey) -> IssuerSecret {
        IssuerSecret::P384 {
            public: OnceLock::new(),
            secret,
            server: OnceLock::new(),
        }
    }

    /// The VOPRF server of a type 1 key.
    fn voprf<'a>(
        secret: &p384::SecretKey,
        server: &'a OnceLock<VoprfServer<NistP384>>,
    ) -> &'a VoprfServer<NistP384> {
        server.get_or_init(|| {
            VoprfServer::<NistP384>::new_with_key(&secret.to_bytes())
                .expect("a valid P-384 scalar is a valid VOPRF key")
        })
    }

    /// A type 2 key; `None` if the key is not one RFC 9474 can use.
    pub fn rsa(secret: RsaSecret) -> Option<IssuerSecret> {
        let public = secret.public_key().ok()?;
        Some(IssuerSecret::Rsa { secret, public })
    }

    /// A fresh RSA-2048 key from `rng` (50–150 ms: never on a request path
    /// that can avoid it).
    pub fn generate_rsa<R: rand::CryptoRng + ?Sized>(rng: &mut R) -> IssuerSecret {
        let pair = KeyPairSha384PSSDeterministic::generate(rng, RSA_BITS)
            .expect("2048-bit keys are supported");
        IssuerSecret::Rsa {
            secret: pair.sk,
            public: pair.pk,
        }
    }

    /// The token type this secret issues.
    pub fn token_type(&self) -> TokenType {
        match self {
            IssuerSecret::P384 { .. } => TokenType::VoprfP384,
            IssuerSecret::Rsa { .. } => TokenType::BlindRsa2048,
        }
    }

    /// The public key as RFC 9578 encodes it for the token type: the
    /// 49-byte compressed point (type 1), or the RSASSA-PSS
    /// SubjectPublicKeyInfo (type 2).
    pub fn rfc9578_key(&self) -> Vec<u8> {
        match self {
            IssuerSecret::P384 { secret, public, .. } => p384_public(secret, public)
                .to_sec1_point(true)
                .as_bytes()
                .to_vec(),
            IssuerSecret::Rsa { public, .. } => public
                .to_spki()
                .expect("a valid RSA key always encodes as SPKI"),
        }
    }

    /// The public key as a DER SubjectPublicKeyInfo: id-ecPublicKey for
    /// type 1, RSASSA-PSS (as RFC 9578 requires) for type 2.
    pub fn spki_der(&self) -> Vec<u8> {
        match self {
            IssuerSecret::P384 { secret, public, .. } => p384_public(secret, public)
                .to_public_key_der()
                .expect("a valid P-384 public key always encodes as SPKI")
                .into_vec(),
            IssuerSecret::Rsa { .. } => self.rfc9578_key(),
        }
    }

    /// An RSA key as a plain rsaEncryption SubjectPublicKeyInfo (what
    /// Go's x509 parses); `None` for a P-384 key.
    pub fn rsa_encryption_spki(&self) -> Option<Vec<u8>> {
        match self {
            IssuerSecret::Rsa { public, .. } => Some(
                public
                    .to_der()
                    .expect("a valid RSA key always encodes as SPKI"),
            ),
            IssuerSecret::P384 { .. } => None,
        }
    }

    /// The secret key as PKCS#8 PEM.
    pub fn to_pkcs8_pem(&self) -> String {
        match self {
            IssuerSecret::P384 { secret, .. } => {
                use p384::pkcs8::{EncodePrivateKey, LineEnding};
                secret
                    .to_pkcs8_pem(LineEnding::LF)
                    .expect("a valid P-384 key always encodes as PKCS#8")
                    .to_string()
            }
            IssuerSecret::Rsa { secret, .. } => secret
                .to_pem()
                .expect("a valid RSA key always encodes as PKCS#8"),
        }
    }

    /// The length of a blinded input for this key.
    pub fn blinded_len(&self) -> usize {
        self.token_type().blinded_len()
    }

    /// Evaluates (type 1: `evaluate_msg || proof`, 145 bytes) or blind-signs
    /// (type 2: 256 bytes) a blinded input.
    pub fn issue(&self, blinded: &[u8]) -> Result<Vec<u8>, IssueError> {
        let expected = self.blinded_len();
        if blinded.len() != expected {
            return Err(IssueError::Length {
                token_type: self.token_type(),
                expected,
                got: blinded.len(),
            });
        }
        match self {
            IssuerSecret::P384 { secret, server, .. } => {
                let server = IssuerSecret::voprf(secret, server);
                let element = BlindedElement::<NistP384>::deserialize(blinded)
                    .map_err(|_| IssueError::Invalid("it is not a compressed P-384 point"))?;
                let result = server
                    .blind_evaluate(&mut rand::rng(), &element)
                    .map_err(|_| IssueError::Invalid("it cannot be evaluated"))?;
                let mut out = result.message.serialize().to_vec();
                out.extend_from_slice(&result.proof.serialize());
                Ok(out)
            }
            IssuerSecret::Rsa { secret, .. } => secret
                .blind_sign_with_rng(&mut rand::rng(), blinded)
                .map(|s| s.0)
                .map_err(|_| IssueError::Invalid("it is not a number below the key's modulus")),
        }
    }

    /// Whether `authenticator` is this key's authenticator of the token
    /// input (type 1: the VOPRF output, compared in constant time; type 2:
    /// an RSASSA-PSS SHA-384 signature).
    pub fn verify(&self, input: &[u8], authenticator: &[u8]) -> bool {
        match self {
            IssuerSecret::P384 { secret, server, .. } => {
                match IssuerSecret::voprf(secret, server).evaluate(input) {
                    Ok(output) => super::hex::constant_time_eq(&output, authenticator),
                    Err(_) => false,
                }
            }
            IssuerSecret::Rsa { public, .. } => public
                .verify(&Signature(authenticator.to_vec()), None, input)
                .is_ok(),
        }
    }
}

impl TokenType {
    /// Length of the authenticator in a token.
    pub fn authenticator_len(self) -> usize {
        match self {
            TokenType::VoprfP384 => 48,
            TokenType::BlindRsa2048 => 256,
        }
    }

    /// Length of the blinded input of a TokenRequest.
    pub fn blinded_len(self) -> usize {
        match self {
            TokenType::VoprfP384 => 49,
            TokenType::BlindRsa2048 => 256,
        }
    }
}
