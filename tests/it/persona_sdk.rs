//! The `persona-sdk` profile, driven exactly as Persona's Go SDK drives it
//! (its request shapes and headers, unpadded encodings, the JSON challenge
//! echoed into a JSON token, the hashed token input), with the RSA blinding
//! done by this test through the client half of `blind-rsa-signatures`,
//! never the mock's code; and each refusal a real Persona server makes.

use crate::support::{Reply, TestServer, send};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as RAW_URL;
use blind_rsa_signatures::{BlindSignature, PublicKeySha384PSSDeterministic};
use persona_mock::{ManualClock, MockServer, MockServerBuilder, Profile, Settings};
use rand::Rng;
use rsa::pkcs8::DecodePublicKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

const AGE18: &str = "age_over18_verified";

fn sdk_server() -> MockServerBuilder {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/keys-rsa.toml");
    let settings = Settings::from_file(path).expect("the fixture config loads");
    MockServer::builder()
        .settings(settings)
        .profile(Profile::PersonaSdk)
}

async fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    send(addr, "POST", path, &all, body.as_bytes()).await
}

struct Relay {
    token: String,
    secret: String,
}

/// `Relays.Create`: camelCase, `encryptionKeyPem: null`, no Authorization.
async fn create(addr: SocketAddr, body: &str) -> Relay {
    let reply = post(addr, "/api/privacy/v1/relays", &[], body).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let json = reply.json();
    Relay {
        token: json["relay-token"].as_str().unwrap().into(),
        secret: json["relay-secret"].as_str().unwrap().into(),
    }
}

/// What `IssuePrivacyPass` builds: the challenge bytes as received, and
/// the token JSON it sends.
struct Pass {
    challenge: Vec<u8>,
    token: String,
}

/// `Relays.IssuePrivacyPass`: challenge, blind, issue, finalize, token.
async fn issue(addr: SocketAddr, challenge_body: &str) -> Pass {
    let reply = post(
        addr,
        "/api/privacy/v1/relays/challenge",
        &[],
        challenge_body,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let json = reply.json();
    let challenge_text = json["challenge"].as_str().unwrap();
    let key_id = json["token-key-id"].as_str().unwrap().to_string();
    issue_for(
        addr,
        challenge_text,
        json["token-key"].as_str().unwrap(),
        key_id,
    )
    .await
}

/// Blinds, issues and finalizes a token for a challenge and token key as
/// the mock sent them (base64url text).
async fn issue_for(
    addr: SocketAddr,
    challenge_text: &str,
    token_key: &str,
    key_id: String,
) -> Pass {
    // RawURLEncoding: padding would be an error for the SDK.
    let challenge = RAW_URL.decode(challenge_text).expect("unpadded base64url");
    let parsed: Value = serde_json::from_slice(&challenge).expect("the challenge is JSON");
    assert!(parsed["token_type"].is_u64() && parsed["mac"].as_str().is_some_and(|m| !m.is_empty()));
    let key_der = RAW_URL.decode(token_key).unwrap();
    // What Go's x509.ParsePKIXPublicKey accepts: an rsaEncryption SPKI.
    let public = rsa::RsaPublicKey::from_public_key_der(&key_der).expect("an rsaEncryption SPKI");
    assert_eq!(key_der.len(), 294);
    assert_eq!(key_id, crate::client::hex(&Sha256::digest(&key_der)));

    let mut raw_nonce = [0u8; 32];
    rand::rng().fill_bytes(&mut raw_nonce);
    let nonce = crate::client::hex(&raw_nonce);
    let mac = parsed["mac"].as_str().unwrap();
    let mut input = vec![0u8, 2];
    input.extend_from_slice(&Sha256::digest(nonce.as_bytes()));
    input.extend_from_slice(&Sha256::digest(mac.as_bytes()));
    input.extend_from_slice(&Sha256::digest(key_id.as_bytes()));

    let pk = PublicKeySha384PSSDeterministic::new(public);
    let blinding = pk.blind(&mut rand::rng(), &input).unwrap();
    let body = json!({"blindedToken": RAW_URL.encode(&blinding.blind_message.0), "keyId": key_id});
    let reply = post(
        addr,
        "/api/v1/privacy-passes",
        &[("Authorization", "Bearer persona_sandbox_sdk")],
        &body.to_string(),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let blind_sig = reply.json()["blind-sig"].as_str().unwrap().to_string();
    let sig = RAW_URL.decode(&blind_sig).expect("unpadded base64url");
    assert_eq!(sig.len(), 256, "modulus length");
    let signature = pk
        .finalize(&BlindSignature(sig), &blinding, &input)
        .expect("the signature finalizes and verifies");
    let token = token_json(&nonce, &RAW_URL.encode(&signature.0), &key_id, &challenge);
    Pass { challenge, token }
}

/// The SDK's token: its struct's field order, the challenge bytes echoed.
fn token_json(nonce: &str, signature: &str, key_id: &str, challenge: &[u8]) -> String {
    format!(
        r#"{{"token_nonce":"{nonce}","signature":"{signature}","key_id":"{key_id}","challenge":{}}}"#,
        String::from_utf8(challenge.to_vec()).unwrap()
    )
}

/// `Relays.GenerateClaim`: `{}`, an unquoted token, the secret, a UUIDv4
/// Idempotency-Key.
async fn claim(addr: SocketAddr, relay: &Relay, token: &str, key: &str) -> Reply {
    let auth = format!("PrivateToken token={}", RAW_URL.encode(token));
    post(
        addr,
        &format!("/api/privacy/v1/relays/{}/generate-claim", relay.token),
        &[
            ("Authorization", &auth),
            ("Idempotency-Key", key),
            ("Persona-Relay-Secret", &relay.secret),
        ],
        "{}",
    )
    .await
}

fn uuid() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::client::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn details(reply: &Reply) -> String {
    reply.json()["errors"][0]["details"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

const SDK_CREATE: &str = r#"{"claimType":"age_over18_verified","encryptionKeyPem":null}"#;
const SDK_CHALLENGE: &str = r#"{"claimType":"age_over18_verified"}"#;

#[tokio::test]
async fn the_sdks_flow_completes_in_production() {
    let server = TestServer::with(sdk_server()).await;
    let addr = server.addr();
    let relay = create(addr, SDK_CREATE).await;
    let pass = issue(addr, SDK_CHALLENGE).await;
    let challenge: Value = serde_json::from_slice(&pass.challenge).unwrap();
    assert_eq!(challenge["token_type"], 2);
    assert_eq!(
        challenge["issuer_name"],
        "withpersona.com/api/v1/privacy-passes"
    );
    assert_eq!(challenge["origin_info"], "/api/privacy/v1/relays");
    let expires = challenge["expires_at"].as_str().unwrap();
    assert!(
        expires.ends_with(":00:00Z"),
        "rounded up to the hour: {expires}"
    );
    let reply = claim(addr, &relay, &pass.token, &uuid()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["token-consumed"], true);
    let payload: Value =
        serde_json::from_str(reply.json()["claim-payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["claim_type"], AGE18);
    assert_eq!(payload["claim_result"], "passed");
    // The same token again, with a new key: spent.
    let again = claim(addr, &relay, &pass.token, &uuid()).await;
    assert_eq!(again.status, 409, "{}", again.text());
}

#[tokio::test]
async fn the_flow_completes_for_sandbox_relays_too() {
    let server = TestServer::with(sdk_server()).await;
    let addr = server.addr();
    let relay = create(
        addr,
        r#"{"claimType":"age_over18_verified","encryptionKeyPem":null,"sandbox":true}"#,
    )
    .await;
    let pass = issue(
        addr,
        r#"{"claimType":"age_over18_verified","sandbox":true}"#,
    )
    .await;
    let reply = claim(addr, &relay, &pass.token, &uuid()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn an_idempotent_retry_gets_the_identical_200() {
    let server = TestServer::with(sdk_server()).await;
    let addr = server.addr();
    let relay = create(addr, SDK_CREATE).await;
    let pass = issue(addr, SDK_CHALLENGE).await;
    let key = uuid();
    let first = claim(addr, &relay, &pass.token, &key).await;
    let retry = claim(addr, &relay, &pass.token, &key).await;
    assert_eq!((first.status, retry.status), (200, 200), "{}", retry.text());
    assert_eq!(first.body, retry.body);
}

#[tokio::test]
async fn every_check_refuses_with_a_401_naming_it() {
    let clock = ManualClock::new();
    let server = TestServer::with(sdk_server().clock(clock.clone())).await;
    let addr = server.addr();
    let relay = create(addr, SDK_CREATE).await;
    let pass = issue(addr, SDK_CHALLENGE).await;
    let token: Value = serde_json::from_str(&pass.token).unwrap();
    let altered = |edit: &dyn Fn(&mut Value)| {
        let mut copy = token.clone();
        edit(&mut copy);
        copy.to_string()
    };

    let tampered_mac = altered(&|t| {
        let mac = t["challenge"]["mac"].as_str().unwrap();
        let flipped = if mac.starts_with('0') { "1" } else { "0" };
        t["challenge"]["mac"] = Value::from(format!("{flipped}{}", &mac[1..]));
    });
    let reply = claim(addr, &relay, &tampered_mac, &uuid()).await;
    assert_eq!(reply.status, 401);
    assert!(
        details(&reply).starts_with("The challenge's mac does not match its fields"),
        "{}",
        details(&reply)
    );

    let moved_expiry =
        altered(&|t| t["challenge"]["expires_at"] = Value::from("2099-01-01T00:00:00Z"));
    let reply = claim(addr, &relay, &moved_expiry, &uuid()).await;
    assert!(
        details(&reply).starts_with("The challenge's mac does not match"),
        "a forged expiry is caught by the MAC: {}",
        details(&reply)
    );

    let other_origin =
        altered(&|t| t["challenge"]["origin_info"] = Value::from("https://example.com"));
    let reply = claim(addr, &relay, &other_origin, &uuid()).await;
    assert_eq!(reply.status, 401);
    assert!(
        details(&reply).starts_with("The challenge's mac does not match origin_info"),
        "{}",
        details(&reply)
    );

    let other_key = altered(&|t| t["key_id"] = Value::from("abc123"));
    let reply = claim(addr, &relay, &other_key, &uuid()).await;
    assert_eq!(reply.status, 401);
    assert!(
        details(&reply).contains("key_id \"abc123\""),
        "{}",
        details(&reply)
    );

    let bad_signature = altered(&|t| {
        let sig = t["signature"].as_str().unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        t["signature"] = Value::from(format!("{flipped}{}", &sig[1..]));
    });
    let reply = claim(addr, &relay, &bad_signature, &uuid()).await;
    assert_eq!(reply.status, 401);
    assert!(
        details(&reply).starts_with("The token's signature does not verify"),
        "{}",
        details(&reply)
    );

    // A token of another claim type, and a sandbox token at a production relay.
    let other_claim = issue(addr, r#"{"claimType":"age_over21_verified"}"#).await;
    let reply = claim(addr, &relay, &other_claim.token, &uuid()).await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        details(&reply),
        "The token's challenge was issued for age_over21_verified (production), but this relay is for age_over18_verified (production)."
    );
    let sandbox = issue(
        addr,
        r#"{"claimType":"age_over18_verified","sandbox":true}"#,
    )
    .await;
    let reply = claim(addr, &relay, &sandbox.token, &uuid()).await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        details(&reply),
        "The token's challenge was issued for age_over18_verified (sandbox), but this relay is for age_over18_verified (production)."
    );

    // A wrong relay secret: 404.
    let wrong = Relay {
        token: relay.token.clone(),
        secret: "00000000-0000-4000-8000-000000000000".into(),
    };
    assert_eq!(claim(addr, &wrong, &pass.token, &uuid()).await.status, 404);

    // Expired: past expires_at (at most 2 h ahead).
    clock.advance(Duration::from_secs(2 * 3600 + 1));
    let reply = claim(addr, &relay, &pass.token, &uuid()).await;
    assert_eq!(reply.status, 401);
    assert!(
        details(&reply).starts_with("The token's challenge expired at"),
        "{}",
        details(&reply)
    );
}

#[tokio::test]
async fn the_profile_refuses_token_type_1() {
    let settings = Settings {
        profile: Profile::PersonaSdk,
        token_type: Some(persona_mock::TokenType::VoprfP384),
        ..Settings::default()
    };
    let error = MockServer::builder()
        .settings(settings)
        .start()
        .await
        .err()
        .expect("refused");
    assert!(
        error
            .to_string()
            .contains("persona-sdk profile every claim type issues token type 2"),
        "{error}"
    );
}

#[tokio::test]
async fn with_challenge_on_401_the_headers_json_challenge_backs_a_token_that_redeems() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/keys-rsa.toml");
    let settings = Settings {
        challenge_on_401: true,
        ..Settings::from_file(path).expect("the fixture config loads")
    };
    let server = TestServer::with(
        MockServer::builder()
            .settings(settings)
            .profile(Profile::PersonaSdk),
    )
    .await;
    let addr = server.addr();
    let relay = create(
        addr,
        r#"{"claimType":"age_over18_verified","encryptionKeyPem":null}"#,
    )
    .await;
    let asked = post(
        addr,
        &format!("/api/privacy/v1/relays/{}/generate-claim", relay.token),
        &[("Persona-Relay-Secret", &relay.secret)],
        "{}",
    )
    .await;
    assert_eq!(asked.status, 401);
    let header = asked.header("WWW-Authenticate").expect("a challenge");
    let params = crate::support::private_token_params(header);
    let key_der = RAW_URL.decode(&params["token-key"]).unwrap();
    let key_id = crate::client::hex(&Sha256::digest(&key_der));
    let pass = issue_for(addr, &params["challenge"], &params["token-key"], key_id).await;
    let reply = claim(addr, &relay, &pass.token, &uuid()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}
