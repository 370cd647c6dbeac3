//! The contract report and expectations: each rule triggered by the
//! mistake it names, none by a disciplined client doing the whole flow, the
//! JUnit output read by an XML parser, and expectations met and unmet.

use crate::client::{Client, ISSUE, b64, claim_path};
use crate::support::{CHALLENGE, Reply, TestServer, send};
use persona_mock::{ManualClock, MockServer};
use serde_json::{Value, json};
use std::time::Duration;

const AGE18: &str = "age_over18_verified";
const AGE21: &str = "age_over21_verified";

/// A client of its own session that sends what Persona's SDK sends plus
/// `Persona-Version`.
fn disciplined(server: &TestServer, session: &str) -> Client {
    let mut client = Client::new(server.addr());
    client.session = session.into();
    client.headers = vec![("Persona-Version", "2023-01-05".into())];
    client.idempotency = true;
    client
}

/// A client of its own session that sends neither.
fn careless(server: &TestServer, session: &str) -> Client {
    let mut client = Client::new(server.addr());
    client.session = session.into();
    client
}

async fn report_reply(server: &TestServer, session: &str, format: &str) -> Reply {
    let path = format!("/__mock/sessions/{session}/report?format={format}");
    send(server.addr(), "GET", &path, &[], b"").await
}

async fn report(server: &TestServer, session: &str) -> Value {
    let reply = report_reply(server, session, "json").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

/// The findings of one rule, as (requests, message).
fn findings(report: &Value, rule: &str) -> Vec<(Vec<u64>, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .map(|f| {
            let requests = f["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_u64().unwrap())
                .collect();
            (requests, f["message"].as_str().unwrap().to_string())
        })
        .collect()
}

/// The journal `seq`s of a session's requests, oldest first.
async fn seqs(server: &TestServer, session: &str) -> Vec<u64> {
    server
        .server
        .received_requests(Some(session))
        .iter()
        .map(|e| e.seq)
        .collect()
}

fn rules(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

/// The session's journal `seq`s, and the one finding of `rule` in its
/// report, which has no finding of another rule: (requests, message).
async fn sole_finding(
    server: &TestServer,
    session: &str,
    rule: &str,
) -> (Vec<u64>, Vec<u64>, String) {
    let seqs = seqs(server, session).await;
    let report = report(server, session).await;
    assert_eq!(rules(&report), [rule], "{report}");
    let (requests, message) = findings(&report, rule).remove(0);
    (seqs, requests, message)
}

/// The whole flow, twice (one claim type each), as a disciplined client.
async fn whole_flow(client: &Client) {
    for claim_type in [AGE18, AGE21] {
        let relay = client.create_relay(claim_type, false, None).await;
        let issued = client.challenge(claim_type, false).await;
        let token = client.token(&issued).await;
        let reply = client.redeem(&relay, &token).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
}

#[tokio::test]
async fn a_disciplined_client_doing_the_whole_flow_has_no_findings() {
    let server = TestServer::with(MockServer::builder().seed(7)).await;
    let client = disciplined(&server, "disciplined");
    whole_flow(&client).await;
    let report = report(&server, "disciplined").await;
    assert_eq!(report["requests"], 8, "{report}");
    assert_eq!(report["findings"], json!([]), "{report}");
    assert_eq!(report["session"], "disciplined");
}

#[tokio::test]
async fn a_client_without_version_or_keys_gets_the_warning_and_the_info() {
    let server = TestServer::with(MockServer::builder().seed(7)).await;
    let client = careless(&server, "careless");
    whole_flow(&client).await;
    let report = report(&server, "careless").await;
    let seqs = seqs(&server, "careless").await;
    // Issuance and generate-claim are the 3rd and 4th of each four.
    let keyed = vec![seqs[2], seqs[3], seqs[6], seqs[7]];
    let missing = findings(&report, "missing-idempotency-key");
    assert_eq!(missing.len(), 1, "{report}");
    assert_eq!(missing[0].0, keyed);
    let version = findings(&report, "no-persona-version");
    assert_eq!(version.len(), 1, "{report}");
    assert_eq!(version[0].0, seqs);
    assert!(version[0].1.contains("Persona-Version"), "{}", version[0].1);
    assert_eq!(
        rules(&report),
        ["no-persona-version", "missing-idempotency-key"],
        "ordered by their first request; nothing else: {report}"
    );
    let severities: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["severity"].as_str().unwrap())
        .collect();
    assert_eq!(severities, ["info", "warning"]);
}

#[tokio::test]
async fn retrying_before_rate_limit_reset_is_an_error_and_waiting_is_not() {
    let clock = ManualClock::new();
    let server = TestServer::with(MockServer::builder().seed(7).clock(clock.clone())).await;
    server
        .server
        .bind_scenario("eager", Some("throttled-then-ok"))
        .unwrap();
    server
        .server
        .bind_scenario("patient", Some("throttled-then-ok"))
        .unwrap();
    // The eager client retries at once: 429 (reset 2), 429 (reset 1), 200.
    let eager = disciplined(&server, "eager");
    for _ in 0..3 {
        eager
            .post(CHALLENGE, &[], r#"{"claim-type":"age_over18_verified"}"#)
            .await;
        clock.advance(Duration::from_millis(100));
    }
    let report_eager = report(&server, "eager").await;
    let seqs_eager = seqs(&server, "eager").await;
    let found = findings(&report_eager, "retry-before-reset");
    assert_eq!(
        found.len(),
        1,
        "one run of 429s is one finding: {report_eager}"
    );
    assert_eq!(found[0].0, seqs_eager);
    assert!(found[0].1.contains("RateLimit-Reset: 2"), "{}", found[0].1);
    assert_eq!(rules(&report_eager), ["retry-before-reset"]);

    // The patient client waits each RateLimit-Reset out.
    let patient = disciplined(&server, "patient");
    for wait in [2, 1, 0] {
        let reply = patient
            .post(CHALLENGE, &[], r#"{"claim-type":"age_over18_verified"}"#)
            .await;
        if wait > 0 {
            assert_eq!(reply.header("RateLimit-Reset"), Some(&*wait.to_string()));
        }
        clock.advance(Duration::from_secs(wait));
    }
    assert_eq!(report(&server, "patient").await["findings"], json!([]));
}

#[tokio::test]
async fn repeating_a_refused_request_unchanged_is_an_error() {
    let server = TestServer::with(MockServer::builder().seed(7)).await;
    let client = disciplined(&server, "repeats");
    let unknown = r#"{"claim-type":"no_such_claim"}"#;
    assert_eq!(client.post(CHALLENGE, &[], unknown).await.status, 422);
    assert_eq!(client.post(CHALLENGE, &[], unknown).await.status, 422);
    // Fixed, it is not a repeat.
    client.challenge(AGE18, false).await;
    let (seqs, requests, message) = sole_finding(&server, "repeats", "retried-non-retryable").await;
    assert_eq!(requests, [seqs[0], seqs[1]]);
    assert!(message.contains("answered 422"), "{}", message);
}

#[tokio::test]
async fn presenting_a_spent_token_is_token_reuse_naming_the_spending_request() {
    let server = TestServer::with(MockServer::builder().seed(7)).await;
    let client = disciplined(&server, "reuse");
    let relay = client.create_relay(AGE18, false, None).await;
    let issued = client.challenge(AGE18, false).await;
    let token = client.token(&issued).await;
    assert_eq!(client.redeem(&relay, &token).await.status, 200);
    assert_eq!(client.redeem(&relay, &token).await.status, 409);
    let (seqs, requests, message) = sole_finding(&server, "reuse", "token-reuse").await;
    assert_eq!(requests, [seqs[3], seqs[4]]);
    let spent_by = format!(
        "a Privacy Pass token that request {} had already spent",
        seqs[3]
    );
    assert!(message.contains(&spent_by), "{message}");
}

#[tokio::test]
async fn an_idempotency_key_sent_with_other_parameters_is_key_reuse() {
    let server = TestServer::with(MockServer::builder().seed(7)).await;
    let client = disciplined(&server, "keys");
    let relay = client.create_relay(AGE18, false, None).await;
    let issued = client.challenge(AGE18, false).await;
    let first = client.token(&issued).await;
    let second = client.token(&issued).await;
    let key = ("Idempotency-Key", "one-key");
    assert_eq!(client.redeem_with(&relay, &first, &[key]).await.status, 200);
    assert_eq!(
        client.redeem_with(&relay, &second, &[key]).await.status,
        422
    );
    let (seqs, requests, message) = sole_finding(&server, "keys", "idempotency-key-reuse").await;
    assert_eq!(requests, [seqs[4], seqs[5]]);
    assert!(message.contains("\"one-key\""), "{}", message);
}

#[tokio::test]
async fn a_token_for_another_claim_type_is_wrong_claim_type() {
    let server = TestServer::with(MockServer::builder().seed(7)).await;
    let client = disciplined(&server, "claims");
    let relay = client.create_relay(AGE21, false, None).await;
    let issued = client.challenge(AGE18, false).await;
    let token = client.token(&issued).await;
    let reply = client.redeem(&relay, &token).await;
    assert_eq!(reply.status, 401);
    let seqs = seqs(&server, "claims").await;
    let report = report(&server, "claims").await;
    let found = findings(&report, "wrong-claim-type");
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0].0, [seqs[3]]);
    let details = reply.json()["errors"][0]["details"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        found[0].1.contains(&details),
        "the refusal's text: {}",
        found[0].1
    );
    assert_eq!(rules(&report), ["wrong-claim-type"]);
}

#[tokio::test]
async fn a_token_whose_challenge_expired_is_expired_challenge() {
    let clock = ManualClock::new();
    let server = TestServer::with(MockServer::builder().seed(7).clock(clock.clone())).await;
    let client = disciplined(&server, "expired");
    let relay = client.create_relay(AGE18, false, None).await;
    let issued = client.challenge(AGE18, false).await;
    let token = client.token(&issued).await;
    clock.advance(Duration::from_secs(3 * 3600));
    assert_eq!(client.redeem(&relay, &token).await.status, 401);
    let (seqs, requests, message) = sole_finding(&server, "expired", "expired-challenge").await;
    assert_eq!(requests, [seqs[3]]);
    assert!(
        message.contains("challenges back tokens for 7200 s"),
        "{message}"
    );
}

#[tokio::test]
async fn an_altered_token_is_invalid_token_with_the_check_it_failed() {
    let server = TestServer::with(MockServer::builder().seed(7)).await;
    let client = disciplined(&server, "altered");
    let relay = client.create_relay(AGE18, false, None).await;
    let issued = client.challenge(AGE18, false).await;
    let mut token = client.token(&issued).await;
    let last = token.len() - 1;
    token[last] ^= 1;
    assert_eq!(client.redeem(&relay, &token).await.status, 401);
    let report = report(&server, "altered").await;
    let found = findings(&report, "invalid-token");
    assert_eq!(found.len(), 1, "{report}");
    assert!(found[0].1.contains("authenticator"), "{}", found[0].1);
    assert_eq!(rules(&report), ["invalid-token"]);
}

#[tokio::test]
async fn a_retry_after_a_5xx_without_the_first_key_is_an_error_and_with_it_is_not() {
    let server = TestServer::with(MockServer::builder().seed(7)).await;
    server
        .server
        .upload_scenario(
            "issue-503",
            "[[step]]\nwhen.endpoint = \"issue\"\nstatus = 503\n",
        )
        .unwrap();
    let blinded = b64(&[2u8; 49]);
    let body = json!({"blinded-token": blinded, "key-id": "k"}).to_string();
    let auth = ("Authorization", crate::client::API_KEY);
    for (session, keys) in [("keyless", ["a", "b"]), ("keyed", ["same", "same"])] {
        server
            .server
            .bind_scenario(session, Some("issue-503"))
            .unwrap();
        let client = disciplined(&server, session);
        for key in keys {
            client
                .post(ISSUE, &[auth, ("Idempotency-Key", key)], &body)
                .await;
        }
    }
    let seqs = seqs(&server, "keyless").await;
    let report_keyless = report(&server, "keyless").await;
    let found = findings(&report_keyless, "retry-without-idempotency-key");
    assert_eq!(found.len(), 1, "{report_keyless}");
    assert_eq!(found[0].0, seqs);
    assert!(found[0].1.contains("answered 503"), "{}", found[0].1);
    let report_keyed = report(&server, "keyed").await;
    assert!(
        findings(&report_keyed, "retry-without-idempotency-key").is_empty(),
        "{report_keyed}"
    );
}

#[tokio::test]
async fn a_retry_after_a_dropped_connection_without_a_key_is_an_error() {
    let server = TestServer::with(MockServer::builder().seed(7)).await;
    server
        .server
        .upload_scenario(
            "claim-reset",
            "[[step]]\nwhen.endpoint = \"generate-claim\"\nstatus = 200\nfault = \"reset\"\n",
        )
        .unwrap();
    server
        .server
        .bind_scenario("dropped", Some("claim-reset"))
        .unwrap();
    let client = careless(&server, "dropped");
    let relay = client.create_relay(AGE18, false, None).await;
    let issued = client.challenge(AGE18, false).await;
    let token = client.token(&issued).await;
    let auth = format!("PrivateToken token={}", b64(&token));
    let headers = [
        ("Authorization", auth.as_str()),
        ("Persona-Relay-Secret", relay.secret.as_str()),
    ];
    let raw = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nPersona-Mock-Session: dropped\r\nAuthorization: {auth}\r\nPersona-Relay-Secret: {}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}",
        claim_path(&relay.token),
        server.addr(),
        relay.secret
    );
    assert!(
        crate::support::send_raw(server.addr(), raw.as_bytes())
            .await
            .is_none()
    );
    // The first request spent the token before its connection dropped:
    // the keyless retry is a double spend.
    assert_eq!(
        client
            .post(&claim_path(&relay.token), &headers, "{}")
            .await
            .status,
        409
    );
    let seqs = seqs(&server, "dropped").await;
    let report = report(&server, "dropped").await;
    let found = findings(&report, "retry-without-idempotency-key");
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0].0, [seqs[3], seqs[4]]);
    assert!(found[0].1.contains("dropped (reset)"), "{}", found[0].1);
    assert_eq!(findings(&report, "token-reuse")[0].0, [seqs[3], seqs[4]]);
}

#[tokio::test]
async fn the_junit_report_parses_with_a_case_per_rule_and_a_failure_per_error() {
    let server = TestServer::with(MockServer::builder().seed(7)).await;
    let client = careless(&server, "junit<&>");
    let unknown = r#"{"claim-type":"no_such_claim"}"#;
    for _ in 0..3 {
        client.post(CHALLENGE, &[], unknown).await;
    }
    let reply = report_reply(&server, "junit%3C%26%3E", "junit").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/xml")
    );
    let xml = reply.text().to_string();
    let document = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let suite = document
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(
        suite.attribute("name"),
        Some("persona-mock contract: session junit<&>")
    );
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let names: Vec<&str> = cases.iter().map(|c| c.attribute("name").unwrap()).collect();
    assert_eq!(
        names,
        [
            "retry-before-reset",
            "retried-non-retryable",
            "token-reuse",
            "idempotency-key-reuse",
            "wrong-claim-type",
            "expired-challenge",
            "invalid-token",
            "retry-without-idempotency-key",
            "missing-idempotency-key",
            "no-persona-version"
        ]
    );
    let failures = |name: &str| -> Vec<String> {
        cases
            .iter()
            .find(|c| c.attribute("name") == Some(name))
            .unwrap()
            .children()
            .filter(|n| n.has_tag_name("failure"))
            .map(|n| n.text().unwrap_or_default().to_string())
            .collect()
    };
    // Two repeats of the refused request: two failures.
    assert_eq!(failures("retried-non-retryable").len(), 2);
    assert!(failures("token-reuse").is_empty());
    // The info is output, not a failure.
    assert!(failures("no-persona-version").is_empty());
    let info = cases
        .iter()
        .find(|c| c.attribute("name") == Some("no-persona-version"))
        .unwrap();
    assert!(info.children().any(|n| n.has_tag_name("system-out")));
    assert_eq!(suite.attribute("failures"), Some("1"), "one failing case");
}

#[tokio::test]
async fn the_text_report_summarises_and_unknown_sessions_and_formats_are_refused() {
    let server = TestServer::with(MockServer::builder().seed(7)).await;
    let client = disciplined(&server, "text");
    client.challenge(AGE18, false).await;
    let reply = report_reply(&server, "text", "text").await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        reply.text().starts_with("persona-mock contract report, session text: 1 request judged, 0 errors, 0 warnings, 0 infos\nno findings"),
        "{}",
        reply.text()
    );
    let unknown = report_reply(&server, "nobody", "json").await;
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    assert!(
        unknown.json()["errors"][0]["details"]
            .as_str()
            .unwrap()
            .contains("\"nobody\"")
    );
    let format = report_reply(&server, "text", "yaml").await;
    assert_eq!(format.status, 400);
    assert!(format.text().contains("json, junit or text"));
}

#[tokio::test]
async fn the_library_gives_the_report_and_its_assertion_panics_with_the_findings() {
    let server = TestServer::with(MockServer::builder().seed(7)).await;
    let client = disciplined(&server, "lib");
    let unknown = r#"{"claim-type":"no_such_claim"}"#;
    client.post(CHALLENGE, &[], unknown).await;
    server.server.report("lib").unwrap().assert_clean();
    client.post(CHALLENGE, &[], unknown).await;
    let report = server.server.report("lib").unwrap();
    assert!(report.has_errors());
    let panic = std::panic::catch_unwind(|| report.assert_clean()).unwrap_err();
    let text = panic.downcast_ref::<String>().unwrap();
    assert!(text.contains("error   retried-non-retryable"), "{text}");
    assert!(server.server.report("nobody").is_err());
}

async fn verify(server: &TestServer, session: &str, body: &str) -> Reply {
    let path = format!("/__mock/sessions/{session}/verify");
    send(
        server.addr(),
        "POST",
        &path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await
}

#[tokio::test]
async fn expectations_are_met_and_unmet_in_the_order_given() {
    let server = TestServer::with(MockServer::builder().seed(7)).await;
    let client = disciplined(&server, "expect");
    let relay = client.create_relay(AGE18, false, None).await;
    let issued = client.challenge(AGE18, false).await;
    let token = client.token(&issued).await;
    client.redeem(&relay, &token).await;
    client.redeem(&relay, &token).await;
    let seqs = seqs(&server, "expect").await;
    let body = json!({"expect": [
        {"endpoint": "issue", "status": 201, "count": 1},
        {"endpoint": "generate-claim", "min": 1, "max": 1},
        {"endpoint": "generate-claim", "status": 409},
        {"endpoint": "create-relay", "count": 0},
        {"endpoint": "challenge"},
    ]});
    let reply = verify(&server, "expect", &body.to_string()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"ok": false, "dropped": 0, "results": [
            {"ok": true, "matched": 1, "requests": [seqs[2]]},
            {"ok": false, "matched": 2, "requests": [seqs[3], seqs[4]]},
            {"ok": true, "matched": 1, "requests": [seqs[4]]},
            {"ok": false, "matched": 1, "requests": [seqs[0]]},
            {"ok": true, "matched": 1, "requests": [seqs[1]]},
        ]})
    );
    let met = json!({"expect": [{"endpoint": "generate-claim", "status": 200, "count": 1}]});
    let reply = verify(&server, "expect", &met.to_string()).await;
    assert_eq!(reply.json()["ok"], true);
}

#[tokio::test]
async fn a_malformed_expectation_is_a_422_naming_it() {
    let server = TestServer::with(MockServer::builder().seed(7)).await;
    disciplined(&server, "bad").challenge(AGE18, false).await;
    for (body, pointer, says) in [
        (
            r#"{"expect":[{"endpoint":"challenge"},{"endpoint":"issuance"}]}"#,
            "/expect/1/endpoint",
            "expect[1]: endpoint \"issuance\" is not one of challenge, create-relay, issue, generate-claim.",
        ),
        (
            r#"{"expect":[{"endpoint":"issue","count":1,"min":0}]}"#,
            "/expect/0/count",
            "expect[0]: give count, or min and max, not both.",
        ),
        (
            r#"{"expect":[{"endpoint":"issue","min":3,"max":2}]}"#,
            "/expect/0/max",
            "expect[0]: max (2) is below min (3).",
        ),
        (
            r#"{"expect":[{"endpoint":"issue","status":"200"}]}"#,
            "/expect/0/status",
            "expect[0]: status must be a whole number from 100 to 599.",
        ),
        (
            r#"{"expect":[{"endpoint":"issue","times":1}]}"#,
            "/expect/0/times",
            "expect[0]: \"times\" is not a field of an expectation (endpoint, status, count, min, max).",
        ),
        (
            r#"{"expect":["issue"]}"#,
            "/expect/0",
            "expect[0]: each expectation is an object such as {\"endpoint\": \"issue\", \"count\": 1}.",
        ),
    ] {
        let reply = verify(&server, "bad", body).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.text());
        let error = &reply.json()["errors"][0];
        assert_eq!(error["source"]["pointer"], pointer, "{body}");
        assert_eq!(error["details"], says, "{body}");
    }
    let many = json!({"expect": vec![json!({"endpoint": "issue"}); 101]});
    let reply = verify(&server, "bad", &many.to_string()).await;
    assert_eq!(reply.status, 422);
    assert_eq!(
        reply.json()["errors"][0]["details"],
        "Send at most 100 expectations in one request (got 101)."
    );
    let reply = verify(&server, "bad", r#"{"want":[]}"#).await;
    assert_eq!(reply.status, 422);
    let reply = verify(&server, "bad", "nope").await;
    assert_eq!(reply.status, 400);
}

#[tokio::test]
async fn expectations_say_when_the_journal_dropped_entries() {
    let settings = persona_mock::Settings {
        journal: Some(persona_mock::JournalLimits {
            per_session: 2,
            total: 100,
            body_bytes: 1024,
        }),
        ..persona_mock::Settings::default()
    };
    let server = TestServer::with(MockServer::builder().seed(7).settings(settings)).await;
    let client = disciplined(&server, "small");
    for _ in 0..3 {
        client.challenge(AGE18, false).await;
    }
    let body = json!({"expect": [{"endpoint": "challenge", "count": 3}]});
    let reply = verify(&server, "small", &body.to_string()).await;
    assert_eq!(
        reply.json(),
        json!({"ok": false, "dropped": 1, "results": [{"ok": false, "matched": 2, "requests": seqs(&server, "small").await}]})
    );
    assert_eq!(report(&server, "small").await["dropped"], 1);
}

#[tokio::test]
async fn reports_and_expectations_refuse_cross_site_pages() {
    let server = TestServer::with(MockServer::builder().seed(7)).await;
    disciplined(&server, "site").challenge(AGE18, false).await;
    let evil = [("Origin", "https://evil.example")];
    let reply = send(
        server.addr(),
        "GET",
        "/__mock/sessions/site/report",
        &evil,
        b"",
    )
    .await;
    assert_eq!(reply.status, 403);
    let expect = br#"{"expect":[{"endpoint":"challenge"}]}"#;
    let reply = send(
        server.addr(),
        "POST",
        "/__mock/sessions/site/verify",
        &evil,
        expect,
    )
    .await;
    assert_eq!(reply.status, 403);
}
