//! `relay-session-access-token`: a JWT signed with RS256 by a key built
//! into the mock (`session-token-key.pem`, public by design: this is a mock),
//! published as a JWKS by the control API so a test can verify tokens. A
//! built-in key costs nothing at startup and is the same on every run.

use crate::privacypass::b64::Padding;
use crate::privacypass::hex;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The signing key and what is published of it.
struct Key {
    signing: SigningKey<Sha256>,
    kid: String,
    jwk: serde_json::Value,
}

/// The built-in signing key (PKCS#8 PEM).
const KEY_PEM: &str = include_str!("session-token-key.pem");

/// Signs relay session tokens.
pub(crate) struct SessionTokens {
    key: OnceLock<Key>,
}

impl SessionTokens {
    pub fn new() -> SessionTokens {
        SessionTokens {
            key: OnceLock::new(),
        }
    }

    fn key(&self) -> &Key {
        self.key.get_or_init(|| {
            let private = rsa::RsaPrivateKey::from_pkcs8_pem(KEY_PEM)
                .expect("the built-in session token key is a PKCS#8 RSA key");
            let n = private.n_bytes();
            let e = private.e_bytes();
            let kid = hex::encode(&Sha256::digest(&n)[..8]);
            let b64 = |bytes: &[u8]| Padding::Unpadded.encode(bytes);
            let jwk = serde_json::json!({
                "kty": "RSA",
                "use": "sig",
                "alg": "RS256",
                "kid": kid,
                "n": b64(&n),
                "e": b64(&e),
            });
            Key {
                signing: SigningKey::<Sha256>::new(private),
                kid,
                jwk,
            }
        })
    }

    /// A signed JWT with these claims.
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        let key = self.key();
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": key.kid});
        let b64 = |bytes: &[u8]| Padding::Unpadded.encode(bytes);
        let mut token = b64(header.to_string().as_bytes());
        token.push('.');
        token.push_str(&b64(claims.to_string().as_bytes()));
        let signature = key.signing.sign(token.as_bytes());
        token.push('.');
        token.push_str(&b64(&signature.to_bytes()));
        token
    }

    /// The claims of a token this mock signed; `None` if the signature or
    /// the shape is wrong, or it expired at `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: u64) -> Option<serde_json::Value> {
        use rsa::signature::{Keypair, Verifier};
        let key = self.key();
        let (signed, signature) = token.rsplit_once('.')?;
        let (_, claims) = signed.split_once('.')?;
        let signature = crate::privacypass::b64::decode(signature).ok()?;
        let signature = rsa::pkcs1v15::Signature::try_from(signature.as_slice()).ok()?;
        key.signing
            .verifying_key()
            .verify(signed.as_bytes(), &signature)
            .ok()?;
        let claims: serde_json::Value =
            serde_json::from_slice(&crate::privacypass::b64::decode(claims).ok()?).ok()?;
        (claims["exp"].as_u64()? > now).then_some(claims)
    }

    /// The JWKS that verifies the tokens.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.key().jwk] })
    }
}
