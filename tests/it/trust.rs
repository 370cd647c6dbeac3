//! What a hostile or buggy client cannot do: forge a session token from
//! what the repository publishes, lock the mock with scripted faults, stall
//! it while keys are made, reach the control API across sites or through
//! DNS rebinding, or read an API key back from the journal.

use crate::client::{Client, b64};
use crate::support::{TestServer, fixture, send};
use persona_mock::MockServer;
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

const AGE21: &str = "age_over21_verified";

/// A token signed by the RS256 key that earlier builds shipped in the
/// repository, with claims as those builds wrote them.
fn signed_with_the_shipped_key(claims: &Value) -> String {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    let pem = fixture("forged/shipped-session-token-key.pem");
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap();
    let signing = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key);
    let header = json!({"alg": "RS256", "typ": "JWT"});
    let mut token = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = signing.sign(token.as_bytes());
    token.push('.');
    token.push_str(&b64(&signature.to_bytes()));
    token
}

#[tokio::test]
async fn a_session_token_signed_with_the_key_the_repository_shipped_is_refused() {
    let server = TestServer::start().await;
    let client = Client::new(server.addr());
    let relay = client.create_relay(AGE21, false, None).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let forged = signed_with_the_shipped_key(&json!({
        "iss": "persona-mock", "sub": relay.token, "aud": "relay",
        "claim_type": AGE21, "namespace": "production", "sandbox": false,
        "iat": now, "exp": u64::MAX, "jti": "forged",
    }));
    let page = send(
        server.addr(),
        "GET",
        &format!("/relay?relay-session-access-token={forged}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(page.status, 404, "{}", page.text());
    let body = json!({"token": forged, "result": "failed"}).to_string();
    let complete = client.post("/relay/complete", &[], &body).await;
    assert_eq!(complete.status, 404, "{}", complete.text());
    // The forged completion changed nothing: the relay keeps the default
    // result of production relays.
    let view = send(
        server.addr(),
        "GET",
        &format!("/__mock/relays/{}", relay.token),
        &[],
        b"",
    )
    .await
    .json();
    assert_eq!(view["claim_result"], "passed");
    let done = client
        .post(
            "/relay/complete",
            &[],
            &json!({"token": relay.session_token, "result": "failed"}).to_string(),
        )
        .await;
    assert_eq!(
        done.status,
        200,
        "the relay's own token still completes it: {}",
        done.text()
    );
}

#[tokio::test]
async fn a_session_token_from_another_process_is_refused_even_with_the_same_relay_token() {
    // Two seeded servers make the same relay tokens; a third without the
    // seed makes its own key.
    let seeded = || MockServer::builder().seed(11);
    let first = TestServer::with(seeded()).await;
    let relay = Client::new(first.addr())
        .create_relay(AGE21, false, None)
        .await;
    let other = TestServer::with(MockServer::builder()).await;
    let _ = Client::new(other.addr())
        .create_relay(AGE21, false, None)
        .await;
    let body = json!({"token": relay.session_token, "result": "failed"}).to_string();
    let refused = Client::new(other.addr())
        .post("/relay/complete", &[], &body)
        .await;
    assert_eq!(refused.status, 404, "{}", refused.text());
    // The same seed is the same key: documented as predictable.
    let again = TestServer::with(seeded()).await;
    let twin = Client::new(again.addr())
        .create_relay(AGE21, false, None)
        .await;
    assert_eq!(twin.token, relay.token);
    let accepted = Client::new(again.addr())
        .post("/relay/complete", &[], &body)
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text());
}

#[tokio::test]
async fn the_hosted_page_is_sent_with_its_security_headers() {
    let server = TestServer::start().await;
    let relay = Client::new(server.addr())
        .create_relay(AGE21, false, None)
        .await;
    let page = send(
        server.addr(),
        "GET",
        &format!("/relay?relay-session-access-token={}", relay.session_token),
        &[],
        b"",
    )
    .await;
    assert_eq!(page.status, 200);
    let policy = page.header("content-security-policy").unwrap_or_default();
    assert!(policy.contains("script-src 'sha256-"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    let text = page.text();
    let script = &text[text.find("<script>").unwrap()..text.find("</script>").unwrap()];
    assert!(
        !script.contains(&relay.session_token),
        "the token is not written into the script"
    );
    assert!(text.contains(&format!(r#"data-token="{}""#, relay.session_token)));
}
