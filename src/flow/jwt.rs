//! `relay-session-access-token`: a JWT signed with ES384 (ECDSA on P-384)
//! by a key made for this process: derived from `--seed` when one is given
//! (so seeded runs repeat, and anyone who knows the seed can sign), random
//! otherwise. Nothing in the repository can sign a token the mock accepts.
//! The control API publishes the public key as a JWKS so a test can verify
//! tokens. Making the key is one scalar multiplication: startup does not
//! wait on it.

use crate::privacypass::b64::{self, Padding};
use crate::privacypass::hex;
use p384::ecdsa::signature::{Signer, Verifier};
use p384::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha384};
use std::time::Duration;

/// `iss` of every session token.
pub(crate) const ISSUER: &str = "persona-mock";
/// `aud` of every session token: the hosted flow.
pub(crate) const AUDIENCE: &str = "relay";
/// How far in the future a token's `iat` may be (clock skew).
const SKEW_S: u64 = 60;

/// A session token's header.
#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

/// A session token's claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SessionClaims {
    /// Always [`ISSUER`].
    pub iss: String,
    /// The relay token.
    pub sub: String,
    /// Always [`AUDIENCE`].
    pub aud: String,
    /// The relay's claim type.
    pub claim_type: String,
    /// The relay's namespace: `production` or `sandbox`.
    pub namespace: String,
    /// Whether the relay is a sandbox one.
    pub sandbox: bool,
    /// Issued at, Unix seconds (the state's clock).
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
    /// A unique id.
    pub jti: String,
}

/// Why a session token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not three base64url parts of JSON with the expected fields.
    Malformed,
    /// `alg` is not ES384 or `kid` is not this process's key.
    WrongKey,
    /// The signature does not verify.
    BadSignature,
    /// `iss` or `aud` is not the mock's.
    WrongAudience,
    /// `iat` is in the future, or `exp` is further than a lifetime away.
    BadTimes,
    /// `exp` has passed.
    Expired,
}

/// Signs and checks relay session tokens.
pub(crate) struct SessionTokens {
    signing: SigningKey,
    verifying: VerifyingKey,
    kid: String,
    jwk: serde_json::Value,
}

impl SessionTokens {
    /// A key derived from `seed`, or a random one.
    pub fn new(seed: Option<u64>) -> SessionTokens {
        let signing = match seed {
            Some(seed) => (0u32..)
                .find_map(|attempt| {
                    let digest = Sha384::new()
                        .chain_update(b"persona-mock session token key v2\0")
                        .chain_update(seed.to_be_bytes())
                        .chain_update(attempt.to_be_bytes())
                        .finalize();
                    SigningKey::from_slice(&digest).ok()
                })
                .expect("some attempt yields a valid scalar"),
            None => loop {
                use rand::Rng;
                let mut bytes = [0u8; 48];
                rand::rng().fill_bytes(&mut bytes);
                if let Ok(key) = SigningKey::from_slice(&bytes) {
                    break key;
                }
            },
        };
        let verifying = *signing.verifying_key();
        let point = verifying.to_sec1_point(false);
        let kid = hex::encode(&Sha256::digest(point.as_bytes())[..8]);
        let coordinate = |c: Option<&[u8]>| Padding::Unpadded.encode(c.unwrap_or_default());
        let jwk = serde_json::json!({
            "kty": "EC",
            "crv": "P-384",
            "use": "sig",
            "alg": "ES384",
            "kid": kid,
            "x": coordinate(point.x().map(|x| &x[..])),
            "y": coordinate(point.y().map(|y| &y[..])),
        });
        SessionTokens {
            signing,
            verifying,
            kid,
            jwk,
        }
    }

    /// A signed JWT with these claims.
    pub fn sign(&self, claims: &SessionClaims) -> String {
        let header = Header {
            alg: "ES384".into(),
            typ: "JWT".into(),
            kid: self.kid.clone(),
        };
        let mut token = Padding::Unpadded.encode(json(&header).as_bytes());
        token.push('.');
        token.push_str(&Padding::Unpadded.encode(json(claims).as_bytes()));
        let signature: Signature = self.signing.sign(token.as_bytes());
        token.push('.');
        token.push_str(&Padding::Unpadded.encode(&signature.to_bytes()));
        token
    }

    /// The claims of a token this process signed, checked at `now` (Unix
    /// seconds): its header names this key and ES384, the signature
    /// verifies, `iss` and `aud` are the mock's, `iat` is not in the
    /// future and `exp` has not passed and is at most `lifetime` after
    /// both `iat` and `now`. The caller checks the relay it names.
    pub fn verify(
        &self,
        token: &str,
        now: u64,
        lifetime: Duration,
    ) -> Result<SessionClaims, Refusal> {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Refusal::Malformed);
        };
        // What the signature covers: the header and claims, as sent.
        let signed = &token[..token.len() - signature.len() - 1];
        let decode = |part: &str| b64::decode(part).map_err(|_| Refusal::Malformed);
        let header: Header =
            serde_json::from_slice(&decode(header)?).map_err(|_| Refusal::Malformed)?;
        if header.alg != "ES384" || header.kid != self.kid {
            return Err(Refusal::WrongKey);
        }
        let signature =
            Signature::from_slice(&decode(signature)?).map_err(|_| Refusal::BadSignature)?;
        self.verifying
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| Refusal::BadSignature)?;
        let claims: SessionClaims =
            serde_json::from_slice(&decode(claims)?).map_err(|_| Refusal::Malformed)?;
        if claims.iss != ISSUER || claims.aud != AUDIENCE {
            return Err(Refusal::WrongAudience);
        }
        let lifetime = lifetime.as_secs();
        if claims.iat > now.saturating_add(SKEW_S)
            || claims.exp > claims.iat.saturating_add(lifetime)
            || claims.exp > now.saturating_add(lifetime)
        {
            return Err(Refusal::BadTimes);
        }
        if claims.exp <= now {
            return Err(Refusal::Expired);
        }
        Ok(claims)
    }

    /// The JWKS that verifies the tokens.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.jwk] })
    }
}

/// One of the token's two JSON parts.
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain structs serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    const NOW: u64 = 1_800_000_000;

    fn claims() -> SessionClaims {
        SessionClaims {
            iss: ISSUER.into(),
            sub: "relay_abc".into(),
            aud: AUDIENCE.into(),
            claim_type: "age_over18_verified".into(),
            namespace: "production".into(),
            sandbox: false,
            iat: NOW,
            exp: NOW + 3600,
            jti: "j".into(),
        }
    }

    /// Signs `payload` as a token of `keys` would be, with any header.
    fn sign_raw(keys: &SessionTokens, header: &str, payload: &str) -> String {
        let mut token = Padding::Unpadded.encode(header.as_bytes());
        token.push('.');
        token.push_str(&Padding::Unpadded.encode(payload.as_bytes()));
        let signature: Signature = keys.signing.sign(token.as_bytes());
        token.push('.');
        token.push_str(&Padding::Unpadded.encode(&signature.to_bytes()));
        token
    }

    #[test]
    fn a_token_verifies_with_its_claims_and_only_within_its_lifetime() {
        let keys = SessionTokens::new(None);
        let token = keys.sign(&claims());
        assert_eq!(keys.verify(&token, NOW, HOUR), Ok(claims()));
        assert_eq!(keys.verify(&token, NOW + 3600, HOUR), Err(Refusal::Expired));
        let mut altered = token.clone();
        altered.push('A');
        assert!(keys.verify(&altered, NOW, HOUR).is_err());
    }

    #[test]
    fn another_process_key_does_not_verify_and_a_seed_repeats_its_key() {
        let token = SessionTokens::new(None).sign(&claims());
        assert_eq!(
            SessionTokens::new(None).verify(&token, NOW, HOUR),
            Err(Refusal::WrongKey)
        );
        let seeded = SessionTokens::new(Some(7)).sign(&claims());
        assert_eq!(
            SessionTokens::new(Some(7)).verify(&seeded, NOW, HOUR),
            Ok(claims())
        );
        assert!(
            SessionTokens::new(Some(8))
                .verify(&seeded, NOW, HOUR)
                .is_err()
        );
    }

    #[test]
    fn a_far_expiry_a_future_issue_time_and_foreign_claims_are_refused() {
        let keys = SessionTokens::new(None);
        let with = |change: fn(&mut SessionClaims)| {
            let mut c = claims();
            change(&mut c);
            keys.verify(&keys.sign(&c), NOW, HOUR)
        };
        assert_eq!(with(|c| c.exp = u64::MAX), Err(Refusal::BadTimes));
        assert_eq!(
            with(|c| {
                c.iat = NOW + 86_400;
                c.exp = NOW + 86_400 + 60;
            }),
            Err(Refusal::BadTimes)
        );
        assert_eq!(with(|c| c.aud = "api".into()), Err(Refusal::WrongAudience));
        assert_eq!(
            with(|c| c.iss = "someone".into()),
            Err(Refusal::WrongAudience)
        );
    }

    #[test]
    fn only_es384_with_this_kid_is_accepted() {
        let keys = SessionTokens::new(None);
        let payload = serde_json::to_string(&claims()).unwrap();
        let header =
            |alg: &str, kid: &str| format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{kid}"}}"#);
        let good = sign_raw(&keys, &header("ES384", &keys.kid), &payload);
        assert!(keys.verify(&good, NOW, HOUR).is_ok());
        for bad in [
            header("none", &keys.kid),
            header("ES384", "other"),
            header("RS256", &keys.kid),
        ] {
            let token = sign_raw(&keys, &bad, &payload);
            assert_eq!(
                keys.verify(&token, NOW, HOUR),
                Err(Refusal::WrongKey),
                "{bad}"
            );
        }
        let unsigned = format!("{}.", good.rsplit_once('.').unwrap().0);
        assert!(keys.verify(&unsigned, NOW, HOUR).is_err());
    }

    #[test]
    fn the_jwk_is_the_verifying_key() {
        let keys = SessionTokens::new(Some(1));
        let jwk = &keys.jwks()["keys"][0];
        let coordinate = |name: &str| b64::decode(jwk[name].as_str().unwrap()).unwrap();
        let mut sec1 = vec![4u8];
        sec1.extend(coordinate("x"));
        sec1.extend(coordinate("y"));
        let published = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        let token = keys.sign(&claims());
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let signature = Signature::from_slice(&b64::decode(signature).unwrap()).unwrap();
        assert!(published.verify(signed.as_bytes(), &signature).is_ok());
        assert_eq!(
            (jwk["kty"].as_str(), jwk["crv"].as_str()),
            (Some("EC"), Some("P-384"))
        );
    }
}
