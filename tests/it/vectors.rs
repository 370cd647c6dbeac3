//! The crate's encoders checked against RFC 9577 / RFC 9578 test vectors.

use crate::support::{fixture, unhex};
use persona_mock::privacypass::TokenChallenge;
use persona_mock::privacypass::b64;
use persona_mock::testing::IssuerKey;
use persona_mock::testing::WireFormat;
use persona_mock::{Profile, TokenKeyEncoding};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn vectors(name: &str) -> Value {
    serde_json::from_str(&fixture(&format!("test-vectors/{name}"))).unwrap()
}

fn hex_field(v: &Value, name: &str) -> Vec<u8> {
    unhex(
        v[name]
            .as_str()
            .unwrap_or_else(|| panic!("vector has no {name}")),
    )
}

#[test]
fn challenge_encoding_matches_every_rfc9577_structure_vector() {
    let file = vectors("rfc9577-auth-scheme.json");
    let list = file["structure_vectors"].as_array().unwrap();
    assert!(list.len() >= 5);
    for v in list {
        let challenge = TokenChallenge {
            token_type: u16::from_str_radix(v["token_type"].as_str().unwrap(), 16).unwrap(),
            issuer_name: hex_field(v, "issuer_name"),
            redemption_context: hex_field(v, "redemption_context"),
            origin_info: hex_field(v, "origin_info"),
        };
        let encoded = challenge.encode().unwrap();
        assert_eq!(
            encoded,
            hex_field(v, "derived_token_challenge"),
            "{}",
            v["comment"]
        );
        // The RFC publishes the digest of the challenge inside the token input.
        let input = hex_field(v, "token_authenticator_input");
        assert_eq!(
            Sha256::digest(&encoded).as_slice(),
            &input[34..66],
            "{}",
            v["comment"]
        );
        assert_eq!(TokenChallenge::decode(&encoded).unwrap(), challenge);
    }
}

#[test]
fn challenges_in_rfc9577_headers_decode_from_padded_base64url() {
    let file = vectors("rfc9577-auth-scheme.json");
    for v in file["header_vectors"].as_array().unwrap() {
        let header = v["WWW-Authenticate"].as_str().unwrap();
        let mut index = 0;
        while let Some(expected) = v.get(format!("token-challenge-{index}")) {
            let quoted = header
                .split("challenge=\"")
                .nth(index + 1)
                .and_then(|rest| rest.split('"').next())
                .unwrap();
            let bytes = b64::decode(quoted).unwrap();
            assert_eq!(bytes, unhex(expected.as_str().unwrap()));
            let decoded = TokenChallenge::decode(&bytes).unwrap();
            assert_eq!(decoded.encode().unwrap(), bytes);
            index += 1;
        }
        assert!(index > 0);
    }
}

#[test]
fn type1_vector_challenges_round_trip_and_match_their_digest() {
    let file = vectors("token-type-0001-voprf-p384.json");
    for v in file["vectors"].as_array().unwrap() {
        let bytes = hex_field(v, "token_challenge");
        let decoded = TokenChallenge::decode(&bytes).unwrap();
        assert_eq!(decoded.token_type, 1);
        assert_eq!(decoded.encode().unwrap(), bytes);
        assert_eq!(
            Sha256::digest(&bytes).to_vec(),
            hex_field(v, "derived_challenge_digest")
        );
    }
}

fn vector_key(v: &Value, token_key: TokenKeyEncoding) -> IssuerKey {
    let secret = p384::SecretKey::from_slice(&hex_field(v, "skS")).unwrap();
    let wire = WireFormat {
        token_key,
        ..Profile::Reference.wire_format()
    };
    IssuerKey::from_p384(secret, wire)
}

#[test]
fn rfc9578_token_keys_and_ids_match_the_type1_vectors() {
    let file = vectors("token-type-0001-voprf-p384.json");
    for v in file["vectors"].as_array().unwrap() {
        let key = vector_key(v, TokenKeyEncoding::Rfc9578);
        assert_eq!(key.token_key(), hex_field(v, "pkS"));
        assert_eq!(
            key.token_key_id().to_vec(),
            hex_field(v, "derived_token_key_id")
        );
        // The token id inside the published token is the same key id.
        assert_eq!(&hex_field(v, "token")[66..98], key.token_key_id());
    }
}

#[test]
fn der_token_keys_match_the_spki_fixture_of_vector1() {
    let file = vectors("token-type-0001-voprf-p384.json");
    let key = vector_key(&file["vectors"][0], TokenKeyEncoding::SpkiDer);
    let expected = unhex(
        file["p384_spki_der_of_vector1_pkS"]["hex"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(key.token_key(), expected);
    assert_eq!(key.token_key().len(), 120);
    assert_eq!(
        key.token_key_id().to_vec(),
        Sha256::digest(&expected).to_vec()
    );
}

#[test]
fn type1_issuance_and_verification_match_the_rfc9578_vectors() {
    let file = vectors("token-type-0001-voprf-p384.json");
    for v in file["vectors"].as_array().unwrap() {
        let key = vector_key(v, TokenKeyEncoding::Rfc9578);
        let request = hex_field(v, "token_request");
        let response = key.secret().issue(&request[3..]).unwrap();
        assert_eq!(response.len(), 145);
        // The proof is randomized; the evaluated element is not.
        assert_eq!(response[..49], hex_field(v, "token_response")[..49]);
        let token = hex_field(v, "token");
        assert!(key.secret().verify(&token[..98], &token[98..]));
        let mut altered = token.clone();
        altered[5] ^= 1;
        assert!(!key.secret().verify(&altered[..98], &altered[98..]));
    }
}

#[test]
fn type2_keys_issuance_and_verification_match_the_rfc9578_vectors() {
    let file = vectors("token-type-0002-blind-rsa-2048.json");
    for v in file["vectors"].as_array().unwrap() {
        let pem = String::from_utf8(hex_field(v, "skS")).unwrap();
        let secret = persona_mock::privacypass::RsaSecret::from_pem(&pem).unwrap();
        let secret = persona_mock::privacypass::IssuerSecret::rsa(secret).unwrap();
        let key = IssuerKey::new(secret, Profile::Reference.wire_format());
        assert_eq!(key.token_key(), hex_field(v, "pkS"), "the RSASSA-PSS SPKI");
        assert_eq!(key.token_key().len(), 342);
        assert_eq!(
            key.token_key_id().to_vec(),
            hex_field(v, "derived_token_key_id")
        );
        let request = hex_field(v, "token_request");
        assert_eq!(request.len(), 259);
        let response = key.secret().issue(&request[3..]).unwrap();
        assert_eq!(response, hex_field(v, "token_response"), "deterministic");
        let token = hex_field(v, "token");
        assert!(key.secret().verify(&token[..98], &token[98..]));
        let mut altered = token.clone();
        altered[300] ^= 1;
        assert!(!key.secret().verify(&altered[..98], &altered[98..]));
    }
}
