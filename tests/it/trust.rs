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
    let page = crate::support::hosted_page(server.addr(), &forged).await;
    assert_eq!(page.status, 404, "{}", page.text());
    let body = json!({"token": forged, "result": "failed"}).to_string();
    let complete = client.post("/relay/complete", &[], &body).await;
    assert_eq!(complete.status, 404, "{}", complete.text());
    // The forged completion changed nothing: the relay keeps the default
    // result of production relays.
    let view = crate::support::relay_view(server.addr(), &relay.token).await;
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
    let page = crate::support::hosted_page(server.addr(), &relay.session_token).await;
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

mod faults {
    use crate::support::{CHALLENGE, TestServer, send};
    use persona_mock::{Limits, MockServer, Settings};
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    const BODY: &str = r#"{"claim-type":"age_over18_verified"}"#;

    async fn with_limits(edit: impl FnOnce(&mut Limits)) -> TestServer {
        let mut settings = Settings::default();
        edit(&mut settings.limits);
        TestServer::with(MockServer::builder().settings(settings)).await
    }

    /// Opens a connection whose first request runs `scenario` in a session
    /// of its own.
    async fn scripted(server: &TestServer, scenario: &str, session: &str) -> TcpStream {
        let mut stream = TcpStream::connect(server.addr()).await.unwrap();
        let request = format!(
            "POST {CHALLENGE} HTTP/1.1\r\nHost: t\r\nPersona-Mock-Scenario: {scenario}\r\nPersona-Mock-Session: {session}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{BODY}",
            BODY.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        stream
    }

    /// A control request, which must be answered within 5 s.
    async fn prompt(server: &TestServer, path: &str) -> crate::support::Reply {
        tokio::time::timeout(
            Duration::from_secs(5),
            send(server.addr(), "GET", path, &[], b""),
        )
        .await
        .unwrap_or_else(|_| panic!("GET {path} was not answered: the mock is locked"))
    }

    /// Waits until the journal holds `count` requests.
    async fn until_journaled(server: &TestServer, count: usize) {
        for _ in 0..100 {
            let journal = prompt(server, "/__mock/requests").await.json();
            if journal["count"].as_u64() == Some(count as u64) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the journal never held {count} requests");
    }

    #[tokio::test]
    async fn as_many_hung_clients_as_connections_do_not_lock_out_health() {
        let server = with_limits(|l| l.max_connections = 3).await;
        let mut hung = Vec::new();
        for i in 0..3 {
            hung.push(scripted(&server, "hang", &format!("hung-{i}")).await);
            until_journaled(&server, i + 1).await;
        }
        let health = prompt(&server, "/__mock/health").await;
        assert_eq!(health.status, 200);
        // The hung ones still hang: nothing came back on them.
        let mut byte = [0u8; 1];
        let quiet = tokio::time::timeout(Duration::from_millis(100), hung[0].read(&mut byte)).await;
        assert!(quiet.is_err(), "a hung request is still hanging");
    }

    #[tokio::test]
    async fn past_the_waiting_places_a_hang_closes_at_once() {
        let server = with_limits(|l| l.max_connections = 2).await;
        let _first = scripted(&server, "hang", "a").await;
        until_journaled(&server, 1).await;
        let _second = scripted(&server, "hang", "b").await;
        until_journaled(&server, 2).await;
        let mut third = scripted(&server, "hang", "c").await;
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut rest)).await;
        assert!(
            matches!(closed, Ok(Ok(0))),
            "closed without an answer: {closed:?}"
        );
        assert_eq!(prompt(&server, "/__mock/health").await.status, 200);
    }

    #[tokio::test]
    async fn a_hang_ends_at_max_fault_s() {
        let server = with_limits(|l| l.max_fault = Duration::from_secs(1)).await;
        let started = Instant::now();
        let mut hung = scripted(&server, "hang", "s").await;
        let mut rest = Vec::new();
        let ended =
            tokio::time::timeout(Duration::from_secs(10), hung.read_to_end(&mut rest)).await;
        assert!(
            matches!(ended, Ok(Ok(0))),
            "the connection closed: {ended:?}"
        );
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "it hung until the limit"
        );
    }

    #[tokio::test]
    async fn a_delay_longer_than_max_fault_s_is_cut_to_it_and_the_connection_goes_on() {
        let server = with_limits(|l| l.max_fault = Duration::from_secs(1)).await;
        server
            .server
            .upload_scenario("very-slow", "[[step]]\nstatus = 200\ndelay-ms = 600000\n")
            .unwrap();
        let started = Instant::now();
        let mut stream = scripted(&server, "very-slow", "s").await;
        let mut bytes = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut bytes))
            .await
            .expect("answered within the limit")
            .unwrap();
        assert!(String::from_utf8_lossy(&bytes[..n]).starts_with("HTTP/1.1 200"));
        assert!(started.elapsed() >= Duration::from_secs(1));
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

#[tokio::test]
async fn relays_are_listed_in_pages_that_follow_their_cursor() {
    let server = TestServer::start().await;
    let client = Client::new(server.addr());
    let mut made = Vec::new();
    for _ in 0..130 {
        made.push(client.create_relay(AGE21, false, None).await.token);
    }
    let addr = server.addr();
    let get = |path: String| async move { send(addr, "GET", &path, &[], b"").await };
    let first = get("/__mock/relays".into()).await.json();
    assert_eq!(first["count"], 100, "the default page");
    assert_eq!(
        first["stores"]["relays"]["count"], 130,
        "the store's count stays"
    );
    let cursor = first["next"].as_str().expect("a next cursor").to_string();
    let second = get(format!("/__mock/relays?limit=1000&after={cursor}"))
        .await
        .json();
    assert_eq!(second["count"], 30);
    assert!(second["next"].is_null(), "the last page");
    let listed: Vec<&str> = first["relays"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["relays"].as_array().unwrap())
        .map(|r| r["relay_token"].as_str().unwrap())
        .collect();
    assert_eq!(listed, made, "every relay once, oldest first");
    let small = get("/__mock/relays?limit=7".into()).await.json();
    assert_eq!(small["relays"].as_array().unwrap().len(), 7);
    for bad in ["limit=0", "limit=1001", "limit=x", "after=soon"] {
        let reply = get(format!("/__mock/relays?{bad}")).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.text());
    }
}

#[tokio::test]
async fn the_journal_is_listed_in_pages_too() {
    let server = TestServer::start().await;
    for _ in 0..5 {
        server
            .challenge(r#"{"claim-type":"age_over18_verified"}"#, &[])
            .await;
    }
    let addr = server.addr();
    let get = |path: String| async move { send(addr, "GET", &path, &[], b"").await.json() };
    let first = get("/__mock/requests?limit=2".into()).await;
    assert_eq!(first["count"], 2);
    let mut seqs: Vec<u64> = first["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    let mut next = first["next"].as_str().map(str::to_string);
    while let Some(cursor) = next {
        let page = get(format!("/__mock/requests?limit=2&after={cursor}")).await;
        seqs.extend(
            page["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["seq"].as_u64().unwrap()),
        );
        next = page["next"].as_str().map(str::to_string);
    }
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let whole = get("/__mock/requests".into()).await;
    assert_eq!(
        (whole["count"].as_u64(), whole["next"].is_null()),
        (Some(5), true)
    );
}

mod sites {
    use crate::client::Client;
    use crate::support::{Reply, TestServer, send, send_raw};
    use persona_mock::{MockServer, Settings};
    use std::net::SocketAddr;

    /// A request as a browser sends it: with the `Host` it was addressed to.
    async fn send_as(
        addr: SocketAddr,
        method: &str,
        path: &str,
        host: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        send_raw(addr, head.as_bytes()).await.expect("a response")
    }

    async fn journal_count(addr: SocketAddr) -> u64 {
        send(addr, "GET", "/__mock/requests", &[], b"").await.json()["count"]
            .as_u64()
            .unwrap()
    }

    #[tokio::test]
    async fn a_page_of_another_site_cannot_reset_the_mock_or_complete_a_relay() {
        let server = TestServer::start().await;
        let addr = server.addr();
        server
            .challenge(r#"{"claim-type":"age_over18_verified"}"#, &[])
            .await;
        let evil = [
            ("Origin", "https://evil.example"),
            ("Content-Type", "text/plain"),
        ];
        let host = addr.to_string();
        let reset = send_as(addr, "POST", "/__mock/reset", &host, &evil, "").await;
        assert_eq!(reset.status, 403, "{}", reset.text());
        assert!(reset.text().contains("another site"), "{}", reset.text());
        assert_eq!(journal_count(addr).await, 1, "nothing was reset");
        let upload = send_as(
            addr,
            "PUT",
            "/__mock/scenarios/x",
            &host,
            &evil,
            "[[step]]\nstatus = 500\n",
        )
        .await;
        assert_eq!(upload.status, 403);
        let relay = Client::new(addr)
            .create_relay("age_over21_verified", false, None)
            .await;
        let body = format!(r#"{{"token":"{}","result":"failed"}}"#, relay.session_token);
        let complete = send_as(addr, "POST", "/relay/complete", &host, &evil, &body).await;
        assert_eq!(complete.status, 403);
        // The page's own origin, and curl without one, are served.
        let own = format!("http://{host}");
        let same = send_as(
            addr,
            "POST",
            "/relay/complete",
            &host,
            &[("Origin", &own)],
            &body,
        )
        .await;
        assert_eq!(same.status, 200, "{}", same.text());
        let plain = send_as(addr, "POST", "/__mock/reset", &host, &[], "").await;
        assert_eq!(plain.status, 200);
    }

    #[tokio::test]
    async fn a_configured_origin_may_use_the_control_api() {
        let server = TestServer::with(MockServer::builder().settings(Settings {
            cors_origins: vec!["http://localhost:3000".into()],
            ..Settings::default()
        }))
        .await;
        let addr = server.addr();
        let allowed = send_as(
            addr,
            "POST",
            "/__mock/reset",
            &addr.to_string(),
            &[("Origin", "http://localhost:3000")],
            "",
        )
        .await;
        assert_eq!(allowed.status, 200, "{}", allowed.text());
        let other = send_as(
            addr,
            "POST",
            "/__mock/reset",
            &addr.to_string(),
            &[("Origin", "http://localhost:3001")],
            "",
        )
        .await;
        assert_eq!(other.status, 403);
    }

    #[tokio::test]
    async fn on_loopback_a_foreign_host_is_refused_unless_allowed() {
        let server = TestServer::start().await;
        let addr = server.addr();
        let port = addr.port();
        let rebound = format!("attacker.example:{port}");
        let journal = send_as(addr, "GET", "/__mock/requests", &rebound, &[], "").await;
        assert_eq!(journal.status, 403, "{}", journal.text());
        assert!(
            journal.text().contains("allowed-hosts"),
            "{}",
            journal.text()
        );
        let relays = send_as(addr, "GET", "/__mock/relays", &rebound, &[], "").await;
        assert_eq!(relays.status, 403);
        let page = send_as(
            addr,
            "GET",
            "/relay?relay-session-access-token=x",
            &rebound,
            &[],
            "",
        )
        .await;
        assert_eq!(page.status, 403);
        assert_eq!(
            send_as(addr, "GET", "/__mock/health", &rebound, &[], "")
                .await
                .status,
            200
        );
        for host in [
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ] {
            let reply = send_as(addr, "GET", "/__mock/requests", &host, &[], "").await;
            assert_eq!(reply.status, 200, "{host}");
        }
        // The API itself answers any Host.
        let api = send_as(
            addr,
            "POST",
            "/api/privacy/v1/relays/challenge",
            &rebound,
            &[],
            r#"{"claim-type":"age_over18_verified"}"#,
        )
        .await;
        assert_eq!(api.status, 200);

        let named = TestServer::with(MockServer::builder().settings(Settings {
            allowed_hosts: vec!["persona-mock".into()],
            ..Settings::default()
        }))
        .await;
        let host = format!("persona-mock:{}", named.addr().port());
        let reply = send_as(named.addr(), "GET", "/__mock/requests", &host, &[], "").await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }

    #[tokio::test]
    async fn beyond_loopback_a_compose_service_name_works_with_the_token() {
        let token = "s3cret-token";
        let server = TestServer::with(MockServer::builder().host("0.0.0.0").settings(Settings {
            control_token: Some(token.into()),
            ..Settings::default()
        }))
        .await;
        let local: SocketAddr = ([127, 0, 0, 1], server.addr().port()).into();
        let host = format!("persona-mock:{}", local.port());
        let control = send_as(
            local,
            "GET",
            "/__mock/requests",
            &host,
            &[("Persona-Mock-Token", token)],
            "",
        )
        .await;
        assert_eq!(control.status, 200, "{}", control.text());
        let relay = send_as(
            local,
            "POST",
            "/api/privacy/v1/relays",
            &host,
            &[],
            r#"{"claim-type":"age_over21_verified","encryption-key-pem":null}"#,
        )
        .await;
        assert_eq!(relay.status, 201);
        let token = relay.json()["relay-session-access-token"]
            .as_str()
            .unwrap()
            .to_string();
        let page = send_as(
            local,
            "GET",
            &format!("/relay?relay-session-access-token={token}"),
            &host,
            &[],
            "",
        )
        .await;
        assert_eq!(page.status, 200, "{}", page.text());
        let body = format!(r#"{{"token":"{token}","result":"failed"}}"#);
        let origin = format!("http://{host}");
        let complete = send_as(
            local,
            "POST",
            "/relay/complete",
            &host,
            &[("Origin", &origin)],
            &body,
        )
        .await;
        assert_eq!(complete.status, 200, "{}", complete.text());
    }
}

mod masking {
    use crate::client::{Client, ISSUE};
    use crate::support::{TestServer, send};
    use persona_mock::{MockServer, Settings};

    const KEY: &str = "persona_sandbox_9d2f41c07be85a36e1d4";

    async fn issue_with_key(server: &TestServer) {
        let client = Client::new(server.addr());
        let issued = client.challenge("age_over18_verified", false).await;
        let body = format!(
            r#"{{"blinded-token":"AA","key-id":"{}"}}"#,
            issued.token_key_id
        );
        let auth = format!("Bearer {KEY}");
        // No Persona-Mock-Session: the key names the session.
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        send(server.addr(), "POST", ISSUE, &headers, body.as_bytes()).await;
    }

    #[tokio::test]
    async fn the_journal_keeps_api_keys_masked_to_their_environment() {
        let server = TestServer::start().await;
        issue_with_key(&server).await;
        let journal = send(server.addr(), "GET", "/__mock/requests", &[], b"").await;
        assert!(!journal.text().contains("9d2f41c0"), "{}", journal.text());
        let entry = journal.json()["requests"][1].clone();
        assert_eq!(entry["path"], ISSUE);
        let authorization = entry["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h[0] == "authorization")
            .map(|h| h[1].as_str().unwrap().to_string())
            .unwrap();
        assert!(
            authorization.starts_with("Bearer persona_sandbox_[masked:"),
            "{authorization}"
        );
        assert!(
            entry["session"]
                .as_str()
                .unwrap()
                .starts_with("persona_sandbox_[masked:")
        );
        // The key still names its session in the control API.
        let path = format!("/__mock/requests?session={KEY}");
        let by_key = send(server.addr(), "GET", &path, &[], b"").await.json();
        assert_eq!(by_key["count"], 1);
        send(
            server.addr(),
            "POST",
            &format!("/__mock/reset?session={KEY}"),
            &[],
            b"",
        )
        .await;
        let after = send(server.addr(), "GET", &path, &[], b"").await.json();
        assert_eq!(after["count"], 0, "the key's session was reset");
    }

    #[tokio::test]
    async fn masking_can_be_turned_off_for_local_debugging() {
        let server = TestServer::with(MockServer::builder().settings(Settings {
            mask_api_keys: false,
            ..Settings::default()
        }))
        .await;
        issue_with_key(&server).await;
        let journal = send(server.addr(), "GET", "/__mock/requests", &[], b"").await;
        assert!(journal.text().contains(&format!("Bearer {KEY}")));
    }
}
