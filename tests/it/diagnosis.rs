//! Refusals that say what the client likely got wrong: each real mistake
//! made by a client, refused with the failing check and the likely
//! mistake, and the contract report's finding carrying the same text.

use crate::client::{Client, Issued, b64, claim_path, is_rsa, token_input, unb64};
use crate::support::{Reply, TestServer, send};
use base64::Engine;
use blind_rsa_signatures::{BlindSignature, PublicKeySha384PSSRandomized};
use persona_mock::{MockServer, Settings};
use sha2::{Digest, Sha256};
use std::path::Path;

const AGE18: &str = "age_over18_verified";

async fn start(rsa: bool) -> TestServer {
    let builder = if rsa {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/keys-rsa.toml");
        MockServer::builder().settings(Settings::from_file(path).expect("the fixture config loads"))
    } else {
        MockServer::builder().seed(7)
    };
    TestServer::with(builder).await
}

/// Redeems `credential` (the Authorization token text) at a fresh relay of
/// the client's session; returns the refusal's details after checking the
/// report's finding carries them.
async fn refused(server: &TestServer, client: &Client, credential: &str) -> String {
    let relay = client.create_relay(AGE18, false, None).await;
    let auth = format!("PrivateToken token={credential}");
    let reply: Reply = client
        .post(
            &claim_path(&relay.token),
            &[
                ("Authorization", auth.as_str()),
                ("Persona-Relay-Secret", relay.secret.as_str()),
            ],
            "{}",
        )
        .await;
    assert_eq!(reply.status, 401, "{}", reply.text());
    let details = reply.json()["errors"][0]["details"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(details.contains(" Likely mistake: "), "{details}");
    let report = send(
        server.addr(),
        "GET",
        &format!("/__mock/sessions/{}/report", client.session),
        &[],
        b"",
    )
    .await
    .json();
    let messages: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "invalid-token")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains(&details)),
        "the report carries the refusal's text: {report}"
    );
    details
}

fn client_of(server: &TestServer, session: &str) -> Client {
    let mut client = Client::new(server.addr());
    client.session = session.into();
    client
}

#[tokio::test]
async fn a_signature_made_with_pss_randomized_is_named() {
    let server = start(true).await;
    let client = client_of(&server, "randomized");
    let issued = client.challenge(AGE18, false).await;
    assert!(is_rsa(&issued));
    let input = token_input(&issued);
    let pk = PublicKeySha384PSSRandomized::from_spki(&issued.token_key).unwrap();
    let blinding = pk.blind(&mut rand::rng(), &input).unwrap();
    assert!(
        blinding.msg_randomizer.is_some(),
        "the Randomized variant's prefix"
    );
    let reply = client
        .issue_reply(&blinding.blind_message.0, &issued.token_key_id)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let sig = unb64(reply.json()["blind-sig"].as_str().unwrap());
    let signature = pk
        .finalize(&BlindSignature(sig), &blinding, &input)
        .expect("a valid Randomized signature over prefix || input");
    let mut token = input;
    token.extend_from_slice(&signature.0);
    let details = refused(&server, &client, &b64(&token)).await;
    assert!(
        details.contains("RSABSSA-SHA384-PSS-Randomized"),
        "{details}"
    );
    assert!(details.contains("Deterministic variant"), "{details}");

    // A signature not by the key at all is not called a variant mistake.
    let mut forged = token.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let relay = client.create_relay(AGE18, false, None).await;
    let reply = client.redeem(&relay, &forged).await;
    assert!(!reply.text().contains("Likely mistake"), "{}", reply.text());
}

/// A good token for `issued`, issued by the mock.
async fn good_token(client: &Client) -> (Issued, Vec<u8>) {
    let issued = client.challenge(AGE18, false).await;
    let token = client.token(&issued).await;
    (issued, token)
}

#[tokio::test]
async fn a_key_id_over_the_other_key_encoding_is_named() {
    let server = start(true).await;
    let client = client_of(&server, "key-id");
    let (issued, mut token) = good_token(&client).await;
    // What Go's x509.MarshalPKIXPublicKey gives for the same key.
    let rsa_encryption = PublicKeySha384PSSRandomized::from_spki(&issued.token_key)
        .unwrap()
        .to_der()
        .unwrap();
    assert_ne!(rsa_encryption, issued.token_key);
    token[66..98].copy_from_slice(&Sha256::digest(&rsa_encryption));
    let details = refused(&server, &client, &b64(&token)).await;
    assert!(
        details.contains("SHA-256 of the rsaEncryption SubjectPublicKeyInfo"),
        "{details}"
    );
    assert!(
        details.contains(&format!("here are {} bytes", issued.token_key.len())),
        "{details}"
    );

    // Type 1: the uncompressed point instead of the key the mock sent.
    let p384_server = start(false).await;
    let client = client_of(&p384_server, "key-id-p384");
    let (issued, mut token) = good_token(&client).await;
    let point = p384::PublicKey::from_sec1_bytes(&issued.token_key[issued.token_key.len() - 97..])
        .expect("the SPKI ends with the uncompressed point");
    let uncompressed = p384::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&point, false);
    token[66..98].copy_from_slice(&Sha256::digest(uncompressed.as_bytes()));
    let details = refused(&p384_server, &client, &b64(&token)).await;
    assert!(
        details.contains("the 97-byte uncompressed point"),
        "{details}"
    );
}

#[tokio::test]
async fn a_challenge_digest_over_a_re_encoded_challenge_is_named() {
    let server = start(false).await;
    let client = client_of(&server, "digest");
    let body = r#"{"claim-type":"age_over18_verified"}"#;
    let reply = client.post(crate::support::CHALLENGE, &[], body).await;
    let text = reply.json()["challenge"].as_str().unwrap().to_string();
    let issued = Issued {
        challenge: unb64(&text),
        token_key: unb64(reply.json()["token-key"].as_str().unwrap()),
        token_key_id: reply.json()["token-key-id"].as_str().unwrap().to_string(),
    };
    let token = client.token(&issued).await;
    // Hashing the base64url text instead of the bytes.
    let mut over_text = token.clone();
    over_text[34..66].copy_from_slice(&Sha256::digest(text.as_bytes()));
    let details = refused(&server, &client, &b64(&over_text)).await;
    assert!(
        details.contains("SHA-256 of the challenge's base64url text instead of its bytes"),
        "{details}"
    );
    // Re-encoding without the 32-byte redemption context.
    let challenge = crate::support::decode_challenge(&issued.challenge);
    assert_eq!(challenge.redemption_context.len(), 32);
    let mut reencoded = challenge.token_type.to_be_bytes().to_vec();
    reencoded.extend_from_slice(&(challenge.issuer_name.len() as u16).to_be_bytes());
    reencoded.extend_from_slice(challenge.issuer_name.as_bytes());
    reencoded.push(0);
    reencoded.extend_from_slice(&(challenge.origin_info.len() as u16).to_be_bytes());
    reencoded.extend_from_slice(challenge.origin_info.as_bytes());
    let mut without_context = token.clone();
    without_context[34..66].copy_from_slice(&Sha256::digest(&reencoded));
    let details = refused(&server, &client, &b64(&without_context)).await;
    assert!(
        details.contains("without its redemption_context"),
        "{details}"
    );
}

#[tokio::test]
async fn a_token_with_the_wrong_token_type_is_named() {
    let server = start(false).await;
    let client = client_of(&server, "token-type");
    let (_, mut token) = good_token(&client).await;
    assert_eq!(token.len(), 146);
    token[..2].copy_from_slice(&2u16.to_be_bytes());
    let details = refused(&server, &client, &b64(&token)).await;
    assert!(
        details.contains(
            "146 bytes is the length of a type 0x0001 token: the token_type field says 0x0002"
        ),
        "{details}"
    );
}

#[tokio::test]
async fn standard_base64_where_base64url_is_required_is_named() {
    let server = start(false).await;
    let client = client_of(&server, "alphabet");
    let standard = loop {
        let (_, token) = good_token(&client).await;
        let text = base64::engine::general_purpose::STANDARD.encode(&token);
        if text.contains(['+', '/']) {
            break text;
        }
    };
    let details = refused(&server, &client, &standard).await;
    assert!(details.contains("it is standard base64"), "{details}");
    assert!(details.contains("base64url"), "{details}");
}
