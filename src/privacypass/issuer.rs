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

    /// Every encoding of the public key a client might hash for a key id,
    /// named: type 1's compressed point, SubjectPublicKeyInfo and
    /// uncompressed point; type 2's RSASSA-PSS and rsaEncryption
    /// SubjectPublicKeyInfo and PKCS#1 key.
    pub fn key_encodings(&self) -> Vec<(&'static str, Vec<u8>)> {
        match self {
            IssuerSecret::P384 { secret, public, .. } => vec![
                (
                    "the 49-byte compressed point (RFC 9578's encoding)",
                    self.rfc9578_key(),
                ),
                ("the DER SubjectPublicKeyInfo", self.spki_der()),
                (
                    "the 97-byte uncompressed point",
                    p384_public(secret, public)
                        .to_sec1_point(false)
                        .as_bytes()
                        .to_vec(),
                ),
            ],
            IssuerSecret::Rsa { public, .. } => {
                use rsa::pkcs1::EncodeRsaPublicKey;
                let key: &rsa::RsaPublicKey = public.as_ref();
                let mut encodings = vec![(
                    "the RSASSA-PSS SubjectPublicKeyInfo (RFC 9578's encoding)",
                    self.rfc9578_key(),
                )];
                encodings.extend(
                    self.rsa_encryption_spki()
                        .map(|spki| ("the rsaEncryption SubjectPublicKeyInfo", spki)),
                );
                encodings.extend(
                    key.to_pkcs1_der()
                        .ok()
                        .map(|der| ("the PKCS#1 RSAPublicKey", der.as_bytes().to_vec())),
                );
                encodings
            }
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

    /// Whether `authenticator` is this RSA key's RSASSA-PSS signature
    /// (SHA-384, MGF1-SHA-384, 48-byte salt) of some message: the
    /// encoded message under the signature has PSS's structure. Forging
    /// that takes the private key, so a signature that has it but does not
    /// verify over the token input was made by this key over another
    /// message. `false` for P-384 keys.
    pub fn signs_some_message(&self, authenticator: &[u8]) -> bool {
        use rsa::BoxedUint;
        use rsa::traits::PublicKeyParts;
        use sha2::{Digest, Sha384};
        const HASH_LEN: usize = 48;
        const SALT_LEN: usize = 48;
        let IssuerSecret::Rsa { public, .. } = self else {
            return false;
        };
        let key: &rsa::RsaPublicKey = public.as_ref();
        let em_len = key.size();
        if authenticator.len() != em_len {
            return false;
        }
        let Ok(signature) = BoxedUint::from_be_slice(authenticator, key.n_bits_precision()) else {
            return false;
        };
        if signature >= *key.n().as_ref() {
            return false;
        }
        let Ok(message) = rsa::hazmat::rsa_encrypt(key, &signature) else {
            return false;
        };
        let em = message.to_be_bytes();
        // emBits = modBits − 1: one leading bit of EM is zero.
        if em.len() != em_len || em[em_len - 1] != 0xbc || em[0] & 0x80 != 0 {
            return false;
        }
        let db_len = em_len - HASH_LEN - 1;
        let (masked, h) = (&em[..db_len], &em[db_len..em_len - 1]);
        let mut mask = Vec::with_capacity(db_len + HASH_LEN);
        for counter in 0u32.. {
            if mask.len() >= db_len {
                break;
            }
            mask.extend_from_slice(
                &Sha384::new()
                    .chain_update(h)
                    .chain_update(counter.to_be_bytes())
                    .finalize(),
            );
        }
        let mut db: Vec<u8> = masked.iter().zip(&mask).map(|(a, b)| a ^ b).collect();
        db[0] &= 0x7f;
        let zeros = db_len - SALT_LEN - 1;
        db[..zeros].iter().all(|b| *b == 0) && db[zeros] == 0x01
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
