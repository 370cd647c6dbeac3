//! Arbitrary input through the redemption and issuance parsers: Tokens,
//! TokenRequests, the PrivateToken authorization header, encryption-key
//! PEM, and issuance and verification with real keys. Nothing panics, and
//! what decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use persona_mock::privacypass::{
    IssuerSecret, RsaSecret, Token, TokenRequest, encryption_key, private_token_param,
};
use std::sync::OnceLock;

fn keys() -> &'static [IssuerSecret; 2] {
    static KEYS: OnceLock<[IssuerSecret; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let p384 = p384::SecretKey::from_slice(&[7u8; 48]).expect("a valid scalar");
        let rsa = RsaSecret::from_pem(include_str!(
            "../../fixtures/keys-rsa/production/age_over18_verified.pem"
        ))
        .expect("the fixture key loads");
        [
            IssuerSecret::p384(p384),
            IssuerSecret::rsa(rsa).expect("a usable RSA key"),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = Token::decode(data) {
        assert_eq!(token.encode(), data);
        for key in keys() {
            let _ = key.verify(&token.input(), &token.authenticator);
        }
    }
    if let Ok(request) = TokenRequest::decode(data) {
        assert_eq!(request.blinded_msg, &data[3..]);
    }
    for key in keys() {
        if data.len() == key.blinded_len() {
            let _ = key.issue(data);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = private_token_param(text);
        let _ = encryption_key(text);
    }
});
