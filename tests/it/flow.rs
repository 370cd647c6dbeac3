//! The whole Relay flow against the real server: create a relay, get a
//! challenge, have a token issued (blinded and finalized by the test's own
//! client), generate the claim; and every way each step refuses.

use crate::client::{API_KEY, Client, ISSUE, RELAYS, b64, claim_path, payload, unb64};
use crate::support::{TestServer, fixture};
use persona_mock::{ClaimResult, ManualClock, MockServer, MockServerBuilder, Settings};
use serde_json::{Value, json};
use sha2::Digest;
use std::path::Path;
use std::time::Duration;

const AGE18: &str = "age_over18_verified";
const AGE21: &str = "age_over21_verified";

fn type1() -> MockServerBuilder {
    MockServer::builder().seed(7)
}

/// Token type 2 with the pinned RSA keys (generating 20 would be slow).
fn type2() -> MockServerBuilder {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/keys-rsa.toml");
    MockServer::builder().settings(Settings::from_file(path).expect("the fixture config loads"))
}

async fn whole_flow(builder: MockServerBuilder, sandbox: bool, token_len: usize) {
    let server = TestServer::with(builder).await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE18, sandbox, None).await;
    assert!(relay.token.starts_with("relay_"), "{}", relay.token);
    let issued = client.challenge(AGE18, sandbox).await;
    let token = client.token(&issued).await;
    assert_eq!(token.len(), token_len);
    let reply = client.redeem(&relay, &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["token-consumed"], true);
    assert_eq!(
        payload(&reply),
        json!({"claim_type": AGE18, "claim_result": "passed", "methodology": [{"method": "document_selfie", "result": "passed"}]})
    );
    // The relay can be read again, with a new token; the old one is spent.
    let again = client.redeem(&relay, &token).await;
    assert_eq!(again.status, 409, "{}", again.text());
    let second = client.token(&client.challenge(AGE18, sandbox).await).await;
    assert_eq!(client.redeem(&relay, &second).await.status, 200);
}

#[tokio::test]
async fn the_whole_flow_with_token_type_1_in_production() {
    whole_flow(type1(), false, 146).await;
}

#[tokio::test]
async fn the_whole_flow_with_token_type_1_in_sandbox() {
    whole_flow(type1(), true, 146).await;
}

#[tokio::test]
async fn the_whole_flow_with_token_type_2_in_production() {
    whole_flow(type2(), false, 354).await;
}

#[tokio::test]
async fn the_whole_flow_with_token_type_2_in_sandbox() {
    whole_flow(type2(), true, 354).await;
}

#[tokio::test]
async fn the_whole_flow_under_the_rfc9578_profile() {
    whole_flow(type1().profile(persona_mock::Profile::Rfc9578), false, 146).await;
}

#[tokio::test]
async fn relays_need_a_served_claim_type_and_an_rsa_key_of_2048_to_4096_bits() {
    let server = TestServer::with(type1()).await;
    let client = Client::new(server.addr());
    let reply = client.create_relay_reply("age_over99", false, None).await;
    assert_eq!(reply.status, 422);
    assert_eq!(
        reply.json()["errors"][0]["source"]["pointer"],
        "/claim-type"
    );
    for pem in [
        "not a key".to_string(),
        fixture("keys/production/age_over18_verified.pem"),
        rsa_public_pem(1024),
    ] {
        let reply = client.create_relay_reply(AGE18, false, Some(&pem)).await;
        assert_eq!(reply.status, 422, "{}", reply.text());
        assert_eq!(
            reply.json()["errors"][0]["source"]["pointer"],
            "/encryption-key-pem"
        );
    }
    // Absent counts as null; camelCase as the Go SDK sends it.
    let reply = client
        .post(RELAYS, &[], r#"{"claimType":"age_over18_verified"}"#)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let secret = reply.json()["relay-secret"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 36);
    assert_eq!(&secret[14..15], "4", "a UUIDv4: {secret}");
}

fn rsa_public_pem(bits: usize) -> String {
    use rsa::pkcs8::EncodePublicKey;
    let key = rsa::RsaPrivateKey::new(&mut rand::rng(), bits).unwrap();
    rsa::RsaPublicKey::from(&key)
        .to_public_key_pem(Default::default())
        .unwrap()
}

#[tokio::test]
async fn the_session_token_is_an_es384_jwt_the_jwks_verifies() {
    use p384::ecdsa::signature::Verifier;
    use p384::ecdsa::{Signature, VerifyingKey};
    let server = TestServer::with(type1()).await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE21, true, None).await;
    let parts: Vec<&str> = relay.session_token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&unb64(parts[0])).unwrap();
    let claims: Value = serde_json::from_slice(&unb64(parts[1])).unwrap();
    assert_eq!(header["alg"], "ES384");
    assert_eq!(claims["sub"], relay.token);
    assert_eq!(claims["claim_type"], AGE21);
    assert_eq!(claims["namespace"], "sandbox");
    assert_eq!(claims["sandbox"], true);
    assert_eq!(
        (claims["iss"].as_str(), claims["aud"].as_str()),
        (Some("persona-mock"), Some("relay"))
    );
    assert!(claims["exp"].as_u64().unwrap() > claims["iat"].as_u64().unwrap());
    let jwks = crate::support::send(server.addr(), "GET", "/__mock/jwks", &[], b"")
        .await
        .json();
    let jwk = &jwks["keys"][0];
    assert_eq!(jwk["kid"], header["kid"]);
    let mut point = vec![4u8];
    point.extend(unb64(jwk["x"].as_str().unwrap()));
    point.extend(unb64(jwk["y"].as_str().unwrap()));
    let key = VerifyingKey::from_sec1_bytes(&point).unwrap();
    let signature = Signature::from_slice(&unb64(parts[2])).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    key.verify(signed.as_bytes(), &signature)
        .expect("the JWKS verifies the token");
}

#[tokio::test]
async fn issuance_refuses_what_it_cannot_issue() {
    let server = TestServer::with(type1()).await;
    let client = Client::new(server.addr());
    let issued = client.challenge(AGE18, false).await;
    let point = vec![2u8; 49];
    let body = json!({"blinded-token": b64(&point), "key-id": issued.token_key_id}).to_string();
    let reply = client.post(ISSUE, &[], &body).await;
    assert_eq!(reply.status, 401, "an API key is required");
    assert_eq!(
        reply.json()["errors"][0]["title"],
        "Must be authenticated to access this endpoint"
    );
    let cases: [(Vec<u8>, &str, &str); 4] = [
        (point.clone(), "nope", "/key-id"),
        (point.clone(), &"ab".repeat(32), "/key-id"),
        (vec![9u8; 49], &issued.token_key_id, "/blinded-token"),
        (vec![2u8; 48], &issued.token_key_id, "/blinded-token"),
    ];
    for (blinded, key_id, pointer) in cases {
        let reply = client.issue_reply(&blinded, key_id).await;
        assert_eq!(reply.status, 422, "{}", reply.text());
        assert_eq!(reply.json()["errors"][0]["source"]["pointer"], pointer);
    }
    let bad_b64 = json!({"blinded-token": "a+b/", "key-id": issued.token_key_id}).to_string();
    let reply = client
        .post(ISSUE, &[("Authorization", API_KEY)], &bad_b64)
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(
        reply.json()["errors"][0]["source"]["pointer"],
        "/blinded-token"
    );
}

#[tokio::test]
async fn issuance_takes_a_whole_token_request_with_a_matching_key_id() {
    use p384::NistP384;
    use voprf::VoprfClient;
    let server = TestServer::with(type1().profile(persona_mock::Profile::Rfc9578)).await;
    let client = Client::new(server.addr());
    let issued = client.challenge(AGE18, false).await;
    let blind = VoprfClient::<NistP384>::blind(b"input", &mut rand::rng()).unwrap();
    let key_id = crate::support::unhex(&issued.token_key_id);
    let mut request = vec![0, 1, key_id[31]];
    request.extend_from_slice(&blind.message.serialize());
    let padded = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE.encode(&request)
    };
    let body = json!({"blindedToken": padded, "keyId": issued.token_key_id}).to_string();
    let reply = client
        .post(ISSUE, &[("Authorization", API_KEY)], &body)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert!(
        reply.json()["blind-sig"].as_str().unwrap().ends_with('='),
        "rfc9578 pads its base64url"
    );
    request[2] ^= 0xff;
    let reply = client.issue_reply(&request, &issued.token_key_id).await;
    assert_eq!(reply.status, 422);
    assert!(
        reply.text().contains("truncated key id"),
        "{}",
        reply.text()
    );
}

fn assert_envelope(reply: &crate::support::Reply, status: u16, title: &str, details: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"errors": [{"title": title, "details": details}]}),
    );
}

#[tokio::test]
async fn generate_claim_refuses_each_failure_with_its_own_answer() {
    let clock = ManualClock::new();
    let server = TestServer::with(type1().clock(clock.clone())).await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE18, false, None).await;
    let issued = client.challenge(AGE18, false).await;
    let token = client.token(&issued).await;
    let path = claim_path(&relay.token);

    // No PrivateToken: Persona's exact 401.
    let reply = client
        .post(&path, &[("Persona-Relay-Secret", &relay.secret)], "{}")
        .await;
    assert_eq!(
        reply.text(),
        r#"{"errors":[{"title":"Privacy Pass token required","details":"Request a challenge to obtain a token"}]}"#
    );
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.header("WWW-Authenticate"),
        None,
        "the current schema's 401 has no challenge"
    );
    // No secret: 400 naming the header.
    let auth = format!("PrivateToken token=\"{}\"", b64(&token));
    let reply = client.post(&path, &[("Authorization", &auth)], "{}").await;
    assert_envelope(
        &reply,
        400,
        "Bad Request",
        "Persona-Relay-Secret is required: send the relay-secret that creating the relay returned.",
    );
    // Wrong secret and unknown relay: one identical 404.
    let wrong = client
        .post(
            &path,
            &[("Authorization", &auth), ("Persona-Relay-Secret", "nope")],
            "{}",
        )
        .await;
    let unknown = client
        .post(
            &claim_path("relay_unknown"),
            &[
                ("Authorization", &auth),
                ("Persona-Relay-Secret", &relay.secret),
            ],
            "{}",
        )
        .await;
    assert_envelope(
        &wrong,
        404,
        "Record not found",
        "No relay matches this relay token and Persona-Relay-Secret.",
    );
    assert_eq!(wrong.body, unknown.body);
    // A token that does not parse.
    let reply = client.redeem(&relay, &token[..100]).await;
    assert_envelope(
        &reply,
        401,
        "Token is invalid",
        "The token cannot be read: a token of type 0x0001 is 146 bytes long, not 100.",
    );
    // A tampered authenticator.
    let mut tampered = token.clone();
    tampered[140] ^= 1;
    let reply = client.redeem(&relay, &tampered).await;
    assert_envelope(
        &reply,
        401,
        "Token is invalid",
        "The token's authenticator does not verify with the issuer key: the token was altered, or finalized from another issuance.",
    );
    // A challenge the mock never issued.
    let mut foreign = token.clone();
    foreign[40] ^= 1;
    let reply = client.redeem(&relay, &foreign).await;
    assert_envelope(
        &reply,
        401,
        "Token is invalid",
        "The token's challenge_digest names no challenge persona-mock issued (it keeps the last 100,000): request a challenge from /api/privacy/v1/relays/challenge.",
    );
    // A token of another claim type, and a sandbox token at a production relay.
    let other = client.token(&client.challenge(AGE21, false).await).await;
    let reply = client.redeem(&relay, &other).await;
    assert_envelope(
        &reply,
        401,
        "Token is invalid",
        "The token was issued with the key of age_over21_verified (production), but this relay is for age_over18_verified (production).",
    );
    let sandbox = client.token(&client.challenge(AGE18, true).await).await;
    let reply = client.redeem(&relay, &sandbox).await;
    assert_envelope(
        &reply,
        401,
        "Token is invalid",
        "The token was issued with the key of age_over18_verified (sandbox), but this relay is for age_over18_verified (production).",
    );
    // The good token works once; then it is spent.
    assert_eq!(client.redeem(&relay, &token).await.status, 200);
    let reply = client.redeem(&relay, &token).await;
    assert_envelope(
        &reply,
        409,
        "Conflict",
        "This Privacy Pass was redeemed already; each token is spent once. Issue a new one.",
    );
    // A challenge past its lifetime (2 h by default).
    let late = client.token(&client.challenge(AGE18, false).await).await;
    clock.advance(Duration::from_secs(2 * 3600 + 1));
    let reply = client.redeem(&relay, &late).await;
    assert_envelope(
        &reply,
        401,
        "Token is invalid",
        "The token's challenge expired: challenges back tokens for 7200 s after they are issued.",
    );
}

#[tokio::test]
async fn tokens_with_the_rfc9578_key_id_of_a_der_key_are_accepted() {
    // Under `reference` the token key is DER; an RFC client converts it to
    // the 49-byte point and computes the token's key id over that.
    let server = TestServer::with(type1()).await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE18, false, None).await;
    let mut issued = client.challenge(AGE18, false).await;
    assert_eq!(issued.token_key.len(), 120, "DER under reference");
    let point = p384::PublicKey::from_sec1_bytes(&issued.token_key[23..]).unwrap();
    let compressed = p384::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&point, true);
    issued.token_key = compressed.as_bytes().to_vec();
    let token = client.token(&issued).await;
    let reply = client.redeem(&relay, &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn pending_and_failed_claims_do_not_consume_the_token() {
    let settings = Settings {
        relays: persona_mock::RelaySettings {
            production_result: ClaimResult::Pending,
            ..Default::default()
        },
        seed: Some(7),
        ..Settings::default()
    };
    let server = TestServer::with(MockServer::builder().settings(settings)).await;
    let client = Client::new(server.addr());
    let relay = client
        .create_relay("live_human_presence", false, None)
        .await;
    let token = client
        .token(&client.challenge("live_human_presence", false).await)
        .await;
    let reply = client.redeem(&relay, &token).await;
    assert_envelope(
        &reply,
        403,
        "Forbidden",
        "The relay's verification is not finished yet; retry later. The token was not consumed.",
    );
    let complete = |result: &'static str| {
        let path = format!("/__mock/relays/{}/complete", relay.token);
        let addr = server.addr();
        async move {
            let body = json!({"result": result, "methodology": [{"method": "live_selfie", "result": result}]});
            crate::support::send(addr, "POST", &path, &[], body.to_string().as_bytes()).await
        }
    };
    assert_eq!(complete("failed").await.status, 200);
    let reply = client.redeem(&relay, &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["token-consumed"], false);
    assert_eq!(
        payload(&reply),
        json!({"claim_type": "live_human_presence", "claim_result": "failed", "methodology": [{"method": "live_selfie", "result": "failed"}]})
    );
    assert_eq!(complete("passed").await.status, 200);
    let reply = client.redeem(&relay, &token).await;
    assert_eq!(
        reply.json()["token-consumed"],
        true,
        "the refunded token works again"
    );
    let view = crate::support::relay_view(server.addr(), &relay.token).await;
    assert_eq!(view["redemptions"].as_array().unwrap().len(), 2);
    assert_eq!(view["claim_result"], "passed");
}

#[tokio::test]
async fn hidden_methodology_is_left_out() {
    let server = TestServer::with(type1()).await;
    let client = Client::new(server.addr());
    let relay = client.create_relay("age_over18_france", true, None).await;
    let token = client
        .token(&client.challenge("age_over18_france", true).await)
        .await;
    let reply = client.redeem(&relay, &token).await;
    assert_eq!(
        payload(&reply),
        json!({"claim_type": "age_over18_france", "claim_result": "passed"})
    );
}

#[tokio::test]
async fn encrypted_payloads_decrypt_with_the_relays_key() {
    use base64::Engine;
    use rsa::pkcs8::EncodePublicKey;
    let private = rsa::RsaPrivateKey::new(&mut rand::rng(), 2048).unwrap();
    let pem = rsa::RsaPublicKey::from(&private)
        .to_public_key_pem(Default::default())
        .unwrap();
    let server = TestServer::with(type1()).await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE18, false, Some(&pem)).await;
    let token = client.token(&client.challenge(AGE18, false).await).await;
    let reply = client.redeem(&relay, &token).await;
    let text = reply.json()["claim-payload"].as_str().unwrap().to_string();
    let ciphertext = base64::engine::general_purpose::STANDARD
        .decode(&text)
        .unwrap();
    let plain = private
        .decrypt(rsa::Oaep::<sha2::Sha256>::new(), &ciphertext)
        .expect("RSA-OAEP SHA-256 decrypts it");
    let payload: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(payload["claim_result"], "passed");
}

#[tokio::test]
async fn an_idempotent_retry_gets_the_stored_response() {
    let server = TestServer::with(type1()).await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE18, false, None).await;
    let token = client.token(&client.challenge(AGE18, false).await).await;
    let key = [("Idempotency-Key", "5f2b3c1e-8a47-4d2c-9f1e-0b6a7c8d9e01")];
    let first = client.redeem_with(&relay, &token, &key).await;
    let retry = client.redeem_with(&relay, &token, &key).await;
    assert_eq!(first.status, 200);
    assert_eq!(retry.status, 200, "{}", retry.text());
    assert_eq!(
        retry.body, first.body,
        "the identical 200, not a double spend"
    );
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_ne!(retry.header("request-id"), first.header("request-id"));
    // The same key with another token is refused.
    let other = client.token(&client.challenge(AGE18, false).await).await;
    let reply = client.redeem_with(&relay, &other, &key).await;
    assert_eq!(reply.status, 422, "{}", reply.text());
    // Without the key, the spent token is a double spend.
    assert_eq!(client.redeem(&relay, &token).await.status, 409);
}

#[tokio::test]
async fn refusals_are_stored_under_an_idempotency_key_but_401_is_not() {
    let server = TestServer::with(type1()).await;
    let client = Client::new(server.addr());
    let issued = client.challenge(AGE18, false).await;
    let key = ("Idempotency-Key", "k-1");
    let bad = json!({"blinded-token": b64(&[9u8; 49]), "key-id": issued.token_key_id}).to_string();
    let first = client
        .post(ISSUE, &[("Authorization", API_KEY), key], &bad)
        .await;
    assert_eq!(first.status, 422);
    let again = client
        .post(ISSUE, &[("Authorization", API_KEY), key], &bad)
        .await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let unauthenticated = client
        .post(
            ISSUE,
            &[("Authorization", "Bearer nope"), ("Idempotency-Key", "k-2")],
            &bad,
        )
        .await;
    assert_eq!(unauthenticated.status, 401);
    let good = client
        .post(
            ISSUE,
            &[("Authorization", API_KEY), ("Idempotency-Key", "k-2")],
            &bad,
        )
        .await;
    assert_eq!(good.status, 422, "the 401 was not stored");
    assert_eq!(good.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn of_100_concurrent_redemptions_of_one_token_exactly_one_succeeds() {
    let server = TestServer::with(type1()).await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE18, false, None).await;
    let token = client.token(&client.challenge(AGE18, false).await).await;
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (addr, relay, token) = (server.addr(), relay.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            Client::new(addr).redeem(&relay, &token).await.status
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        99,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn relays_are_listed_and_cleared_by_a_reset() {
    let server = TestServer::with(type1()).await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE18, true, None).await;
    let get = |path: &'static str| crate::support::send(server.addr(), "GET", path, &[], b"");
    let list = get("/__mock/relays?session=flow").await.json();
    assert_eq!(list["count"], 1);
    assert_eq!(list["relays"][0]["relay_token"], relay.token);
    assert_eq!(list["relays"][0]["namespace"], "sandbox");
    let other = get("/__mock/relays?session=other").await.json();
    assert_eq!(other["count"], 0, "another session lists none");
    assert_eq!(
        other["stores"]["relays"]["count"], 1,
        "the store counts all"
    );
    assert_eq!(other["stores"]["relays"]["dropped"], 0);
    let sandbox_fail = crate::support::send(
        server.addr(),
        "POST",
        &format!("/__mock/relays/{}/complete", relay.token),
        &[],
        br#"{"result":"failed"}"#,
    )
    .await;
    assert_eq!(sandbox_fail.status, 409, "sandbox relays always pass");
    crate::support::send(
        server.addr(),
        "POST",
        "/__mock/reset?session=flow",
        &[],
        b"",
    )
    .await;
    let list = get("/__mock/relays").await.json();
    assert_eq!(list["count"], 0);
    assert_eq!(list["stores"]["relays"]["count"], 0);
    let token = client.token(&client.challenge(AGE18, true).await).await;
    assert_eq!(client.redeem(&relay, &token).await.status, 404);
}

async fn with_scenario(name: &str) -> TestServer {
    TestServer::with(type1().settings(Settings {
        seed: Some(7),
        scenario: Some(name.into()),
        ..Settings::default()
    }))
    .await
}

#[tokio::test]
async fn the_pending_scenario_keeps_the_token_until_the_claim_passes() {
    let server = with_scenario("relay-claim-pending").await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE18, false, None).await;
    let token = client.token(&client.challenge(AGE18, false).await).await;
    for _ in 0..2 {
        let reply = client.redeem(&relay, &token).await;
        assert_eq!(reply.status, 403, "{}", reply.text());
    }
    let reply = client.redeem(&relay, &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["token-consumed"], true);
}

/// The Go SDK's `GenerateClaim`: one Idempotency-Key made before its retry
/// loop and sent with every attempt.
const SDK_KEY: (&str, &str) = ("Idempotency-Key", "5f0c2b8e-1d4a-4c3b-9e7f-2a6b8c0d1e2f");

#[tokio::test]
async fn a_pending_claim_retried_with_one_idempotency_key_passes_then_replays() {
    let server = with_scenario("relay-claim-pending").await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE18, false, None).await;
    let token = client.token(&client.challenge(AGE18, false).await).await;
    for attempt in 1..=2 {
        let reply = client.redeem_with(&relay, &token, &[SDK_KEY]).await;
        assert_eq!(reply.status, 403, "attempt {attempt}: {}", reply.text());
        assert_eq!(
            reply.header("idempotent-replayed"),
            None,
            "attempt {attempt}"
        );
    }
    let passed = client.redeem_with(&relay, &token, &[SDK_KEY]).await;
    assert_eq!(passed.status, 200, "{}", passed.text());
    assert_eq!(passed.header("idempotent-replayed"), None);
    assert_eq!(passed.json()["token-consumed"], true);
    for _ in 0..2 {
        let replay = client.redeem_with(&relay, &token, &[SDK_KEY]).await;
        assert_eq!(replay.status, 200);
        assert_eq!(replay.header("idempotent-replayed"), Some("true"));
        assert_eq!(replay.body, passed.body, "a replay is the stored answer");
    }
}

#[tokio::test]
async fn a_relay_completed_during_the_retries_answers_the_same_key_with_its_claim() {
    let server = TestServer::with(type1().settings(Settings {
        seed: Some(7),
        relays: persona_mock::RelaySettings {
            production_result: ClaimResult::Pending,
            ..Default::default()
        },
        ..Settings::default()
    }))
    .await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE18, false, None).await;
    let token = client.token(&client.challenge(AGE18, false).await).await;
    let pending = client.redeem_with(&relay, &token, &[SDK_KEY]).await;
    assert_eq!(pending.status, 403, "{}", pending.text());
    let complete = client
        .post(
            &format!("/__mock/relays/{}/complete", relay.token),
            &[],
            r#"{"result": "passed"}"#,
        )
        .await;
    assert_eq!(complete.status, 200, "{}", complete.text());
    let passed = client.redeem_with(&relay, &token, &[SDK_KEY]).await;
    assert_eq!(passed.status, 200, "{}", passed.text());
    assert_eq!(payload(&passed)["claim_result"], "passed");
    let replay = client.redeem_with(&relay, &token, &[SDK_KEY]).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body, passed.body);
}

#[tokio::test]
async fn the_failed_scenario_refunds_the_token() {
    let server = with_scenario("relay-claim-failed").await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE18, false, None).await;
    let token = client.token(&client.challenge(AGE18, false).await).await;
    let reply = client.redeem(&relay, &token).await;
    assert_eq!(reply.json()["token-consumed"], false);
    assert_eq!(payload(&reply)["claim_result"], "failed");
    let reply = client.redeem(&relay, &token).await;
    assert_eq!(reply.json()["token-consumed"], true, "{}", reply.text());
}

#[tokio::test]
async fn the_double_spend_scenario_answers_409_then_real_claims() {
    let server = with_scenario("relay-double-spend").await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE18, false, None).await;
    let token = client.token(&client.challenge(AGE18, false).await).await;
    assert_eq!(client.redeem(&relay, &token).await.status, 409);
    assert_eq!(client.redeem(&relay, &token).await.status, 200);
}

#[tokio::test]
async fn after_a_5xx_that_consumed_the_token_the_idempotent_retry_gets_the_200() {
    let server = with_scenario("relay-error-after-claim").await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE18, false, None).await;
    let token = client.token(&client.challenge(AGE18, false).await).await;
    let key = [("Idempotency-Key", "retry-1")];
    let first = client.redeem_with(&relay, &token, &key).await;
    assert_eq!(first.status, 502, "{}", first.text());
    let retry = client.redeem_with(&relay, &token, &key).await;
    assert_eq!(retry.status, 200, "{}", retry.text());
    assert_eq!(retry.json()["token-consumed"], true);
    // Without the key, the token is spent: the real handler did run.
    let second = client.token(&client.challenge(AGE18, false).await).await;
    assert_eq!(client.redeem(&relay, &second).await.status, 200);
    assert_eq!(client.redeem(&relay, &token).await.status, 409);
}

#[test]
fn claim_result_steps_must_be_real_generate_claim_steps() {
    let text = "[[step]]\nstatus = 200\nclaim-result = \"failed\"\n";
    let errors =
        persona_mock::testing::parse_scenario("x", text, Path::new("x.toml"), "test").unwrap_err();
    assert!(
        errors[0]
            .to_string()
            .starts_with("x.toml:3:16: claim-result decides what generate-claim answers"),
        "{}",
        errors[0]
    );
}

#[tokio::test]
async fn the_claim_payload_keeps_personas_key_order() {
    let server = TestServer::with(type1()).await;
    let client = Client::new(server.addr());
    let relay = client.create_relay("live_human_presence", true, None).await;
    let token = client
        .token(&client.challenge("live_human_presence", true).await)
        .await;
    let reply = client.redeem(&relay, &token).await;
    assert_eq!(
        reply.json()["claim-payload"],
        r#"{"claim_type":"live_human_presence","claim_result":"passed","methodology":[{"method":"live_selfie","result":"passed"}]}"#
    );
}

#[tokio::test]
async fn concurrent_requests_with_one_idempotency_key_run_once() {
    let server = TestServer::with(type1()).await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE18, false, None).await;
    let token = client.token(&client.challenge(AGE18, false).await).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (addr, relay, token) = (server.addr(), relay.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            Client::new(addr)
                .redeem_with(&relay, &token, &[("Idempotency-Key", "same")])
                .await
        }));
    }
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    let ok: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
    assert!(!ok.is_empty());
    assert!(
        ok.iter().all(|r| r.body == ok[0].body),
        "every 200 is the one answer"
    );
    assert!(
        replies.iter().all(|r| r.status == 200 || r.status == 409),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let view = crate::support::relay_view(server.addr(), &relay.token).await;
    assert_eq!(
        view["redemptions"].as_array().unwrap().len(),
        1,
        "the handler ran once"
    );
}

#[tokio::test]
async fn payloads_can_be_encrypted_with_oaep_sha1() {
    use base64::Engine;
    use rsa::pkcs8::EncodePublicKey;
    let private = rsa::RsaPrivateKey::new(&mut rand::rng(), 2048).unwrap();
    let pem = rsa::RsaPublicKey::from(&private)
        .to_public_key_pem(Default::default())
        .unwrap();
    let settings = Settings {
        seed: Some(7),
        relays: persona_mock::RelaySettings {
            oaep_hash: persona_mock::OaepHash::Sha1,
            ..Default::default()
        },
        ..Settings::default()
    };
    let server = TestServer::with(MockServer::builder().settings(settings)).await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE18, true, Some(&pem)).await;
    let token = client.token(&client.challenge(AGE18, true).await).await;
    let reply = client.redeem(&relay, &token).await;
    let text = reply.json()["claim-payload"].as_str().unwrap().to_string();
    let ciphertext = base64::engine::general_purpose::STANDARD
        .decode(&text)
        .unwrap();
    assert!(
        private
            .decrypt(rsa::Oaep::<sha2::Sha256>::new(), &ciphertext)
            .is_err()
    );
    let plain = private
        .decrypt(rsa::Oaep::<sha1::Sha1>::new(), &ciphertext)
        .expect("RSA-OAEP SHA-1 decrypts it");
    assert!(plain.starts_with(br#"{"claim_type":"age_over18_verified""#));
}

#[tokio::test]
async fn the_hosted_flow_page_decides_the_claim() {
    let server = TestServer::with(type1()).await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE21, false, None).await;
    let page = crate::support::send(
        server.addr(),
        "GET",
        &format!(
            "/relay?relay-session-access-token={}&theme=auto",
            relay.session_token
        ),
        &[],
        b"",
    )
    .await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        page.text()
            .contains(r#"<span id="claim-type">age_over21_verified</span>"#)
    );
    assert!(
        page.text()
            .contains(r#"<dd id="namespace">production</dd>"#)
    );
    let forged = format!("{}x", relay.session_token);
    let refused = crate::support::hosted_page(server.addr(), &forged).await;
    assert_eq!(refused.status, 404);
    let body =
        json!({"token": relay.session_token, "result": "failed", "method": "document_selfie"});
    let done = client.post("/relay/complete", &[], &body.to_string()).await;
    assert_eq!(done.status, 200, "{}", done.text());
    let token = client.token(&client.challenge(AGE21, false).await).await;
    let reply = client.redeem(&relay, &token).await;
    assert_eq!(
        payload(&reply),
        json!({"claim_type": AGE21, "claim_result": "failed", "methodology": [{"method": "document_selfie", "result": "failed"}]})
    );
}

#[tokio::test]
async fn every_time_the_mock_shows_comes_from_its_clock() {
    let clock = ManualClock::new();
    let server = TestServer::with(type1().clock(clock.clone())).await;
    let client = Client::new(server.addr());
    let ten_days = Duration::from_secs(10 * 86_400);
    clock.advance(ten_days);
    let relay = client.create_relay(AGE18, false, None).await;
    let token = client.token(&client.challenge(AGE18, false).await).await;
    assert_eq!(client.redeem(&relay, &token).await.status, 200);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims: Value =
        serde_json::from_slice(&unb64(relay.session_token.split('.').nth(1).unwrap())).unwrap();
    let iat = claims["iat"].as_u64().unwrap();
    assert!(
        iat >= now + ten_days.as_secs() - 60,
        "iat {iat} is ten days ahead of {now}"
    );
    let view = crate::support::relay_view(server.addr(), &relay.token).await;
    let created = view["created"].as_str().unwrap();
    let redeemed = view["redemptions"][0]["time"].as_str().unwrap();
    let journal = crate::support::send(server.addr(), "GET", "/__mock/requests", &[], b"")
        .await
        .json();
    let journaled = journal["requests"][0]["time"].as_str().unwrap().to_string();
    // All three are ten days after the wall clock, on the same day as the token's iat.
    let day_of = |unix: u64| unix / 86_400;
    let parse = |text: &str| -> u64 {
        let days = |y: u64, m: u64, d: u64| {
            // Days from 1970-01-01 (civil), computed apart from the mock.
            let (y, m) = if m <= 2 { (y - 1, m + 12) } else { (y, m) };
            365 * y + y / 4 - y / 100 + y / 400 + (153 * (m - 3) + 2) / 5 + d - 719_469
        };
        let n = |r: std::ops::Range<usize>| text[r].parse::<u64>().unwrap();
        days(n(0..4), n(5..7), n(8..10)) * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
    };
    for (name, text) in [
        ("created", created),
        ("redemption", redeemed),
        ("journal", journaled.as_str()),
    ] {
        let at = parse(text);
        assert!(
            at.abs_diff(iat) < 60,
            "{name} {text} is not the token's time {iat}"
        );
        assert!(
            day_of(at) >= day_of(now) + 9,
            "{name} {text} is ten days ahead"
        );
    }
}

#[tokio::test]
async fn with_challenge_on_401_the_401_carries_a_challenge_whose_token_redeems() {
    let rsa = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/keys-rsa.toml");
    for settings in [
        Settings {
            seed: Some(7),
            ..Settings::default()
        },
        Settings::from_file(rsa).expect("the fixture config loads"),
    ] {
        let settings = Settings {
            challenge_on_401: true,
            ..settings
        };
        let server = TestServer::with(MockServer::builder().settings(settings)).await;
        let client = Client::new(server.addr());
        let relay = client.create_relay(AGE21, true, None).await;
        let path = claim_path(&relay.token);
        let reply = client
            .post(&path, &[("Persona-Relay-Secret", &relay.secret)], "{}")
            .await;
        assert_eq!(reply.status, 401);
        assert_eq!(
            reply.text(),
            r#"{"errors":[{"title":"Privacy Pass token required","details":"Use the provided challenge to obtain a token"}]}"#
        );
        let header = reply.header("WWW-Authenticate").expect("a challenge");
        let params = crate::support::private_token_params(header);
        let (challenge, token_key) = (unb64(&params["challenge"]), unb64(&params["token-key"]));
        let max_age: u64 = params["max-age"].parse().unwrap();
        assert_eq!(max_age, 7200);
        let decoded = crate::support::decode_challenge(&challenge);
        assert_eq!(decoded.origin_info, "api.withpersona.com");
        // The challenge endpoint's key for the relay's claim type and
        // namespace is the one the header names.
        let asked = client.challenge(AGE21, true).await;
        assert_eq!(token_key, asked.token_key);
        let issued = crate::client::Issued {
            challenge,
            token_key_id: crate::client::hex(&sha2::Sha256::digest(&asked.token_key)),
            token_key,
        };
        let token = client.token(&issued).await;
        let claim = client.redeem(&relay, &token).await;
        assert_eq!(claim.status, 200, "{}", claim.text());
        assert_eq!(payload(&claim)["claim_type"], AGE21);
        // A path naming no relay keeps the current 401.
        let unknown = client
            .post(
                &claim_path("relay_unknown"),
                &[("Persona-Relay-Secret", "x")],
                "{}",
            )
            .await;
        assert_eq!(unknown.status, 401);
        assert_eq!(unknown.header("WWW-Authenticate"), None);
    }
}
