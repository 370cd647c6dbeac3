//! The challenge endpoint's 200 responses, checked with decoders that are
//! not the crate's own.

use crate::support::{Challenge, TestServer, b64url, decode_challenge, fixture};
use p384::pkcs8::DecodePublicKey;
use persona_mock::RedemptionContext;
use persona_mock::{MockServer, Profile, Settings};
use sha2::{Digest, Sha256};

const AGE18: &str = r#"{"claim-type":"age_over18_verified"}"#;

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn a_challenge_is_a_real_rfc9577_token_challenge() {
    let server = TestServer::start().await;
    let reply = server.challenge(AGE18, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    let fields: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(fields, ["challenge", "token-key", "token-key-id"]);
    let challenge = decode_challenge(&b64url(body["challenge"].as_str().unwrap(), false));
    assert_eq!(challenge.token_type, 0x0001);
    assert_eq!(challenge.issuer_name, "api.withpersona.com");
    assert_eq!(challenge.origin_info, "api.withpersona.com");
    assert_eq!(challenge.redemption_context.len(), 32);
}

#[tokio::test]
async fn the_token_key_is_unpadded_der_spki_that_p384_parses() {
    let server = TestServer::start().await;
    let body = server.challenge(AGE18, &[]).await.json();
    let token_key = body["token-key"].as_str().unwrap();
    assert!(!token_key.contains('='));
    assert_eq!(token_key.len(), 160);
    assert!(token_key.starts_with("MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE"));
    let der = b64url(token_key, false);
    assert_eq!(der.len(), 120);
    p384::PublicKey::from_public_key_der(&der).expect("a P-384 SPKI");
    assert_eq!(body["token-key-id"].as_str().unwrap(), sha256_hex(&der));
}

#[tokio::test]
async fn every_challenge_has_a_fresh_redemption_context() {
    let server = TestServer::start().await;
    let mut contexts = std::collections::HashSet::new();
    for _ in 0..5 {
        let body = server.challenge(AGE18, &[]).await.json();
        contexts.insert(
            decode_challenge(&b64url(body["challenge"].as_str().unwrap(), false))
                .redemption_context,
        );
    }
    assert_eq!(contexts.len(), 5);
}

#[tokio::test]
async fn keys_are_stable_per_claim_type_and_distinct_across_claim_types_and_namespaces() {
    let server = TestServer::start().await;
    let key_id =
        |reply: crate::support::Reply| reply.json()["token-key-id"].as_str().unwrap().to_string();
    let first = key_id(server.challenge(AGE18, &[]).await);
    let again = key_id(
        server
            .challenge(r#"{"claimType":"age_over18_verified"}"#, &[])
            .await,
    );
    let other = key_id(
        server
            .challenge(r#"{"claim_type":"age_over21_verified"}"#, &[])
            .await,
    );
    let sandbox = key_id(
        server
            .challenge(
                r#"{"claim-type":"age_over18_verified","sandbox":true}"#,
                &[],
            )
            .await,
    );
    let not_sandbox = key_id(
        server
            .challenge(
                r#"{"claim-type":"age_over18_verified","sandbox":false}"#,
                &[],
            )
            .await,
    );
    assert_eq!(first, again);
    assert_eq!(first, not_sandbox);
    assert_ne!(first, other);
    assert_ne!(first, sandbox);
}

#[tokio::test]
async fn key_inflection_renames_response_keys() {
    let server = TestServer::start().await;
    for (inflection, keys) in [
        ("camel", ["challenge", "tokenKey", "tokenKeyId"]),
        ("snake", ["challenge", "token_key", "token_key_id"]),
        ("kebab", ["challenge", "token-key", "token-key-id"]),
    ] {
        let body = server
            .challenge(AGE18, &[("Key-Inflection", inflection)])
            .await
            .json();
        let fields: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(fields, keys, "{inflection}");
    }
}

#[tokio::test]
async fn the_rfc9578_profile_sends_a_padded_compressed_point() {
    let server = TestServer::with(MockServer::builder().profile(Profile::Rfc9578)).await;
    let body = server.challenge(AGE18, &[]).await.json();
    let token_key = body["token-key"].as_str().unwrap();
    assert!(token_key.ends_with('='), "{token_key}");
    let point = b64url(token_key, true);
    assert_eq!(point.len(), 49);
    assert!(point[0] == 0x02 || point[0] == 0x03);
    p384::PublicKey::from_sec1_bytes(&point).expect("a compressed P-384 point");
    assert_eq!(body["token-key-id"].as_str().unwrap(), sha256_hex(&point));
    let challenge = body["challenge"].as_str().unwrap();
    assert_eq!(challenge.len() % 4, 0);
    assert_eq!(decode_challenge(&b64url(challenge, true)).token_type, 1);
}

#[tokio::test]
async fn challenge_fields_follow_the_settings() {
    let settings = Settings {
        issuer_name: "issuer.test:8443".into(),
        origin_info: vec!["a.test".into(), "b.test".into()],
        redemption_context: RedemptionContext::Empty,
        claim_types: vec!["age_over18_spain".into()],
        ..Settings::default()
    };
    let server = TestServer::with(MockServer::builder().settings(settings)).await;
    let body = server
        .challenge(r#"{"claim-type":"age_over18_spain"}"#, &[])
        .await
        .json();
    let challenge = decode_challenge(&b64url(body["challenge"].as_str().unwrap(), false));
    assert_eq!(
        challenge,
        Challenge {
            token_type: 1,
            issuer_name: "issuer.test:8443".into(),
            redemption_context: vec![],
            origin_info: "a.test,b.test".into(),
        }
    );
    assert_eq!(
        server.challenge(AGE18, &[]).await.status,
        422,
        "the default list was replaced"
    );
}

#[tokio::test]
async fn a_long_origin_list_is_carried_whole() {
    let origins: Vec<String> = (0..40).map(|i| format!("origin-{i:02}.test")).collect();
    let settings = Settings {
        origin_info: origins.clone(),
        ..Settings::default()
    };
    let server = TestServer::with(MockServer::builder().settings(settings)).await;
    let body = server.challenge(AGE18, &[]).await.json();
    let challenge = decode_challenge(&b64url(body["challenge"].as_str().unwrap(), false));
    assert_eq!(challenge.origin_info, origins.join(","));
    assert_eq!(challenge.issuer_name, "api.withpersona.com");
    assert_eq!(challenge.redemption_context.len(), 32);
}

#[tokio::test]
async fn unknown_fields_pass_when_the_config_allows_them() {
    let settings = Settings {
        allow_unknown_fields: true,
        ..Settings::default()
    };
    let server = TestServer::with(MockServer::builder().settings(settings)).await;
    let reply = server
        .challenge(r#"{"claim-type":"age_over18_verified","extra":1}"#, &[])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn seeded_servers_give_the_same_keys_and_contexts() {
    let a = TestServer::with(MockServer::builder().seed(42)).await;
    let b = TestServer::with(MockServer::builder().seed(42)).await;
    for _ in 0..2 {
        let (ra, rb) = (a.challenge(AGE18, &[]).await, b.challenge(AGE18, &[]).await);
        assert_eq!(ra.body, rb.body);
        assert_eq!(ra.header("request-id"), rb.header("request-id"));
    }
}

/// Golden files hold the exact bodies for seed 7. Regenerate them with
/// `PERSONA_MOCK_UPDATE_GOLDEN=1 cargo test golden` after a deliberate change.
async fn assert_golden(name: &str, profile: Profile, requests: &[(&str, &[(&str, &str)])]) {
    let server = TestServer::with(MockServer::builder().seed(7).profile(profile)).await;
    let mut actual = String::new();
    for (body, headers) in requests {
        let reply = server.challenge(body, headers).await;
        actual.push_str(reply.text());
        actual.push('\n');
    }
    let path = format!("{}/fixtures/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("PERSONA_MOCK_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = fixture(&format!("golden/{name}"));
    for (i, (want, got)) in expected.lines().zip(actual.lines()).enumerate() {
        assert_eq!(want, got, "{name}, response {}", i + 1);
    }
    assert_eq!(expected, actual, "{name}");
}

#[tokio::test]
async fn golden_reference_responses_for_seed_7() {
    assert_golden(
        "reference-seed7.jsonl",
        Profile::Reference,
        &[
            (AGE18, &[]),
            (AGE18, &[]),
            (
                r#"{"claimType":"live_human_presence","sandbox":true}"#,
                &[("Key-Inflection", "camel")],
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn golden_rfc9578_responses_for_seed_7() {
    assert_golden(
        "rfc9578-seed7.jsonl",
        Profile::Rfc9578,
        &[
            (AGE18, &[]),
            (
                r#"{"claim_type":"age_over16_australia"}"#,
                &[("Key-Inflection", "snake")],
            ),
        ],
    )
    .await;
}
