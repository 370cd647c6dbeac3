//! Scenarios as a client sees them: every shipped scenario in order, the
//! step mechanics, faults, delays, the scenario rate limiter, and session
//! isolation.

use crate::support::{CHALLENGE, Reply, TestServer, send, send_raw};
use persona_mock::clock::ManualClock;
use persona_mock::{MockServer, MockServerBuilder, Settings};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const AGE18: &str = r#"{"claim-type":"age_over18_verified"}"#;

fn test_scenarios() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios")
}

/// A builder whose settings know the test scenarios and use `default`.
fn with_scenario(default: Option<&str>) -> MockServerBuilder {
    let settings = Settings {
        scenario: default.map(str::to_string),
        scenarios_dirs: vec![test_scenarios()],
        ..Settings::default()
    };
    MockServer::builder().settings(settings)
}

async fn server(default: &str) -> TestServer {
    TestServer::with(with_scenario(Some(default))).await
}

fn error_body(title: &str, details: &str) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap();
    format!(
        r#"{{"errors":[{{"title":{},"details":{}}}]}}"#,
        quote(title),
        quote(details)
    )
}

fn assert_error(reply: &Reply, status: u16, title: &str, details: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.text(), error_body(title, details));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert!(
        reply
            .header("request-id")
            .is_some_and(|id| id.starts_with("req_"))
    );
}

fn assert_real(reply: &Reply) {
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert!(
        body["challenge"]
            .as_str()
            .is_some_and(|c| c.starts_with("AAEAE2FwaS53aXRocGVyc29uYS5jb20g"))
    );
    assert!(
        body["token-key-id"]
            .as_str()
            .is_some_and(|id| id.len() == 64)
    );
}

// ---- the shipped scenarios, each response in order ----

#[tokio::test]
async fn shipped_throttled_then_ok() {
    let server = server("throttled-then-ok").await;
    for reset in ["2", "1"] {
        let reply = server.challenge(AGE18, &[]).await;
        assert_error(
            &reply,
            429,
            "Rate limit exceeded",
            "You have hit your rate limit of 300 requests / min.",
        );
        assert_eq!(reply.header("ratelimit-limit"), Some("300"));
        assert_eq!(reply.header("ratelimit-remaining"), Some("0"));
        assert_eq!(reply.header("ratelimit-reset"), Some(reset));
    }
    for _ in 0..2 {
        let reply = server.challenge(AGE18, &[]).await;
        assert_real(&reply);
        assert!(reply.header("ratelimit-limit").is_none());
    }
}

#[tokio::test]
async fn shipped_invalid_api_key() {
    let server = server("invalid-api-key").await;
    for _ in 0..3 {
        let reply = server
            .challenge(AGE18, &[("Authorization", "Bearer persona_sandbox_fine")])
            .await;
        assert_error(&reply, 401, "Token is invalid", "The API key is not valid.");
    }
}

#[tokio::test]
async fn shipped_forbidden() {
    let server = server("forbidden").await;
    for _ in 0..2 {
        let reply = server.challenge(AGE18, &[]).await;
        assert_error(
            &reply,
            403,
            "Forbidden",
            "You do not have permission to access this resource.",
        );
    }
}

#[tokio::test]
async fn shipped_not_found() {
    let server = server("not-found").await;
    for _ in 0..2 {
        let reply = server.challenge(AGE18, &[]).await;
        assert_error(
            &reply,
            404,
            "Record not found",
            "The requested record was not found.",
        );
    }
}

#[tokio::test]
async fn shipped_conflict() {
    let server = server("conflict").await;
    let reply = server.challenge(AGE18, &[]).await;
    assert_error(
        &reply,
        409,
        "Record not unique",
        "A record with these parameters already exists.",
    );
    assert_real(&server.challenge(AGE18, &[]).await);
}

#[tokio::test]
async fn shipped_unknown_claim_type() {
    let server = server("unknown-claim-type").await;
    for _ in 0..2 {
        let reply = server.challenge(AGE18, &[]).await;
        assert_eq!(reply.status, 422);
        assert_eq!(
            reply.text(),
            r#"{"errors":[{"title":"Unprocessable entity","details":"The claim type is not supported.","source":{"pointer":"/claim-type"}}]}"#
        );
    }
}

#[tokio::test]
async fn shipped_rate_limit_countdown_ends_in_429_and_recovers() {
    let clock = ManualClock::new();
    let builder = with_scenario(Some("rate-limit-countdown")).clock(clock.clone());
    let server = TestServer::with(builder).await;
    for remaining in ["2", "1", "0"] {
        let reply = server.challenge(AGE18, &[]).await;
        assert_real(&reply);
        assert_eq!(reply.header("ratelimit-limit"), Some("3"));
        assert_eq!(reply.header("ratelimit-remaining"), Some(remaining));
        assert_eq!(reply.header("ratelimit-reset"), Some("10"));
    }
    clock.advance(Duration::from_secs(4));
    let refused = server.challenge(AGE18, &[]).await;
    assert_error(
        &refused,
        429,
        "Rate limit exceeded",
        "You have hit your rate limit of 3 requests / 10 s.",
    );
    assert_eq!(refused.header("ratelimit-remaining"), Some("0"));
    assert_eq!(refused.header("ratelimit-reset"), Some("6"));
    clock.advance(Duration::from_secs(6));
    let recovered = server.challenge(AGE18, &[]).await;
    assert_real(&recovered);
    assert_eq!(recovered.header("ratelimit-remaining"), Some("2"));
    assert_eq!(recovered.header("ratelimit-reset"), Some("10"));
}

#[tokio::test]
async fn shipped_server_errors_then_ok() {
    let server = server("server-errors-then-ok").await;
    assert_error(
        &server.challenge(AGE18, &[]).await,
        500,
        "Internal Server Error",
        "Something went wrong on our end. Please try again.",
    );
    assert_error(
        &server.challenge(AGE18, &[]).await,
        503,
        "Service unavailable",
        "The service is temporarily unavailable. Please try again later.",
    );
    assert_real(&server.challenge(AGE18, &[]).await);
}

#[tokio::test]
async fn shipped_slow_answers_after_its_delay() {
    let server = server("slow").await;
    let started = Instant::now();
    assert_real(&server.challenge(AGE18, &[]).await);
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn shipped_dropped_connection_closes_without_a_response_once() {
    let server = server("dropped-connection").await;
    let raw = request_bytes(AGE18);
    assert!(
        send_raw(server.addr(), &raw).await.is_none(),
        "no response on the first request"
    );
    assert_real(&server.challenge(AGE18, &[]).await);
}

#[tokio::test]
async fn shipped_hang_makes_the_client_time_out_once() {
    let server = server("hang").await;
    let raw = request_bytes(AGE18);
    let waited =
        tokio::time::timeout(Duration::from_millis(300), send_raw(server.addr(), &raw)).await;
    assert!(waited.is_err(), "the first request must not be answered");
    assert_real(&server.challenge(AGE18, &[]).await);
}

#[tokio::test]
async fn shipped_truncated_response_stops_halfway() {
    let server = server("truncated-response").await;
    let raw = request_bytes(AGE18);
    let reply = send_raw(server.addr(), &raw).await.expect("headers arrive");
    assert_eq!(reply.status, 200);
    let declared: usize = reply.header("content-length").unwrap().parse().unwrap();
    assert!(declared > 300);
    assert_eq!(reply.body.len(), declared / 2, "half the body arrives");
    assert!(serde_json::from_slice::<serde_json::Value>(&reply.body).is_err());
    assert_real(&server.challenge(AGE18, &[]).await);
}

#[tokio::test]
async fn shipped_malformed_body_is_a_200_with_cut_off_json() {
    let server = server("malformed-body").await;
    let reply = server.challenge(AGE18, &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        reply.text(),
        r#"{"challenge":"AAEAE2FwaS53aXRocGVyc29uYS5jb20g","token-key":"MHYwEAYHKoZIzj0CAQYFK4EE"#
    );
    assert_real(&server.challenge(AGE18, &[]).await);
}

fn request_bytes(body: &str) -> Vec<u8> {
    format!(
        "POST {CHALLENGE} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

// ---- step mechanics ----

#[tokio::test]
async fn header_lists_give_one_value_per_repetition_and_the_last_repeats() {
    let server = server("header-list").await;
    let expected = [("3", "a"), ("2", "b"), ("2", "c")];
    for (retry_after, attempt) in expected {
        let reply = server.challenge(AGE18, &[]).await;
        assert_eq!(reply.status, 503);
        assert_eq!(reply.header("retry-after"), Some(retry_after));
        assert_eq!(reply.header("x-attempt"), Some(attempt));
        assert_eq!(reply.header("x-fixed"), Some("same"));
    }
    let after = server.challenge(AGE18, &[]).await;
    assert_real(&after);
    assert!(after.header("retry-after").is_none());
}

#[tokio::test]
async fn when_endpoint_and_body_pointers_pick_requests() {
    let settings = Settings {
        scenario: Some("when-body".into()),
        scenarios_dirs: vec![test_scenarios()],
        allow_unknown_fields: true,
        ..Settings::default()
    };
    let server = TestServer::with(MockServer::builder().settings(settings)).await;
    let age21 = r#"{"claimType":"age_over21_verified"}"#;
    let age21_sandbox = r#"{"claim_type":"age_over21_verified","sandbox":true}"#;
    // Both pointers must hold; the first segment matches any inflection.
    assert_real(&server.challenge(age21, &[]).await);
    assert_eq!(server.challenge(age21_sandbox, &[]).await.status, 422);
    // Nested pointers and numbers.
    assert_real(
        &server
            .challenge(
                r#"{"claim-type":"age_over18_verified","meta":{"attempt":1}}"#,
                &[],
            )
            .await,
    );
    assert_eq!(
        server
            .challenge(
                r#"{"claim-type":"age_over18_verified","meta":{"attempt":2}}"#,
                &[]
            )
            .await
            .status,
        503
    );
}

#[test]
fn unknown_endpoints_and_pointers_are_placed_errors() {
    let text =
        "[[step]]\nstatus = 500\nwhen = { endpoint = \"relay\", body = { \"claim-type\" = 1 } }\n";
    let errors = persona_mock::testing::parse_scenario(
        "bad",
        text,
        std::path::Path::new("bad.toml"),
        "test",
    )
    .unwrap_err();
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "bad.toml:3:21: unknown endpoint \"relay\"; endpoints are challenge, create-relay, issue, generate-claim",
            "bad.toml:3:39: when.body keys are JSON pointers starting with '/', like \"/claim-type\" (got \"claim-type\")",
        ]
    );
}

#[tokio::test]
async fn when_conditions_pick_requests_and_others_fall_through() {
    let server = server("when-match").await;
    let age21 = r#"{"claimType":"age_over21_verified"}"#;
    let sandbox = r#"{"claim-type":"age_over18_verified","sandbox":true}"#;
    // Step 1 waits for an age_over21_verified request; others are real and do not advance.
    assert_real(&server.challenge(AGE18, &[]).await);
    assert_real(&server.challenge(sandbox, &[]).await);
    assert_eq!(server.challenge(age21, &[]).await.status, 429);
    // Step 2 waits for a sandbox request.
    assert_real(&server.challenge(age21, &[]).await);
    assert_eq!(server.challenge(sandbox, &[]).await.status, 500);
    // Step 3 waits for Persona-Version 2023-01-05.
    assert_real(
        &server
            .challenge(AGE18, &[("Persona-Version", "2025-12-08")])
            .await,
    );
    assert_eq!(
        server
            .challenge(AGE18, &[("Persona-Version", "2023-01-05")])
            .await
            .status,
        403
    );
    assert_real(
        &server
            .challenge(AGE18, &[("Persona-Version", "2023-01-05")])
            .await,
    );
}

#[tokio::test]
async fn then_repeat_last_answers_with_the_last_step_forever() {
    let server = server("repeat-last").await;
    assert_eq!(server.challenge(AGE18, &[]).await.status, 429);
    for count in ["1", "2", "3", "3", "3"] {
        let reply = server.challenge(AGE18, &[]).await;
        assert_eq!(reply.status, 503);
        assert_eq!(reply.header("x-count"), Some(count));
    }
}

#[tokio::test]
async fn then_loop_starts_over() {
    let server = server("loop").await;
    for _ in 0..3 {
        assert_eq!(server.challenge(AGE18, &[]).await.status, 429);
        assert_real(&server.challenge(AGE18, &[]).await);
    }
}

#[tokio::test]
async fn then_real_is_the_default() {
    let server = server("server-errors-then-ok").await;
    server.challenge(AGE18, &[]).await;
    server.challenge(AGE18, &[]).await;
    for _ in 0..3 {
        assert_real(&server.challenge(AGE18, &[]).await);
    }
}

#[tokio::test]
async fn real_steps_still_validate_the_request() {
    let server = server("loop").await;
    assert_eq!(server.challenge(AGE18, &[]).await.status, 429);
    let reply = server.challenge("{}", &[]).await;
    assert_eq!(
        reply.status, 400,
        "a 200 step is the real behaviour, errors included"
    );
}

#[tokio::test]
async fn error_members_can_be_overridden_and_bodies_sent_verbatim() {
    let server = server("custom-bodies").await;
    let teapot = server.challenge(AGE18, &[]).await;
    assert_eq!(teapot.status, 418);
    assert_eq!(
        teapot.text(),
        r#"{"errors":[{"title":"Teapot","details":"Short and stout.","source":{"pointer":"/sandbox"}}]}"#
    );
    assert_eq!(
        teapot.header("request-id"),
        Some("req_scripted"),
        "scripted headers win"
    );
    let empty = server.challenge(AGE18, &[]).await;
    assert_eq!(empty.status, 204);
    assert_eq!(empty.body, b"");
    let html = server.challenge(AGE18, &[]).await;
    assert_eq!(html.status, 502);
    assert_eq!(html.header("content-type"), Some("text/html"));
    assert_eq!(html.text(), "<html>Bad Gateway</html>");
}

#[tokio::test]
async fn a_delay_holds_the_response_at_least_that_long() {
    let server = server("delayed-error").await;
    let started = Instant::now();
    assert_eq!(server.challenge(AGE18, &[]).await.status, 503);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn requests_to_unknown_paths_do_not_advance_the_script() {
    let server = server("loop").await;
    assert_eq!(
        send(server.addr(), "POST", "/api/other", &[], b"{}")
            .await
            .status,
        404
    );
    assert_eq!(
        send(server.addr(), "GET", CHALLENGE, &[], b"").await.status,
        405
    );
    assert_eq!(server.challenge(AGE18, &[]).await.status, 429);
}

// ---- choosing a scenario, isolation ----

#[tokio::test]
async fn the_scenario_header_picks_a_scenario_per_request() {
    let server = TestServer::with(with_scenario(None)).await;
    assert_real(&server.challenge(AGE18, &[]).await);
    let header = [("Persona-Mock-Scenario", "forbidden")];
    assert_eq!(server.challenge(AGE18, &header).await.status, 403);
    assert_real(&server.challenge(AGE18, &[]).await);
}

#[tokio::test]
async fn an_unknown_scenario_gets_400_listing_the_available_ones() {
    let server = TestServer::with(with_scenario(None)).await;
    let reply = server
        .challenge(AGE18, &[("Persona-Mock-Scenario", "nope")])
        .await;
    assert_eq!(reply.status, 400);
    let details = reply.json()["errors"][0]["details"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        details.starts_with("Unknown scenario \"nope\" named by the Persona-Mock-Scenario header. Available scenarios: conflict, counted, custom-bodies,"),
        "{details}"
    );
    assert!(details.contains("throttled-then-ok"), "{details}");
}

#[tokio::test]
async fn a_scenario_file_path_can_be_the_default() {
    let settings = Settings {
        scenario: Some(test_scenarios().join("loop.toml").display().to_string()),
        ..Settings::default()
    };
    let server = TestServer::with(MockServer::builder().settings(settings)).await;
    assert_eq!(server.challenge(AGE18, &[]).await.status, 429);
}

#[tokio::test]
async fn sessions_keep_their_own_progress() {
    let server = server("server-errors-then-ok").await;
    let a = [("Persona-Mock-Session", "test-a")];
    let b = [("Persona-Mock-Session", "test-b")];
    assert_eq!(server.challenge(AGE18, &a).await.status, 500);
    assert_eq!(server.challenge(AGE18, &b).await.status, 500);
    assert_eq!(server.challenge(AGE18, &a).await.status, 503);
    assert_real(&server.challenge(AGE18, &a).await);
    assert_eq!(server.challenge(AGE18, &b).await.status, 503);
    // The API key is the session when no session header is sent.
    let key = [("Authorization", "Bearer persona_sandbox_k")];
    assert_eq!(server.challenge(AGE18, &key).await.status, 500);
    // Requests with neither share the default session.
    assert_eq!(server.challenge(AGE18, &[]).await.status, 500);
    assert_eq!(server.challenge(AGE18, &[]).await.status, 503);
}

#[tokio::test]
async fn interleaved_concurrent_sessions_each_see_their_own_sequence() {
    let server = server("throttled-then-ok").await;
    let addr = server.addr();
    let run = |session: String| async move {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            let headers = [
                ("Content-Type", "application/json"),
                ("Persona-Mock-Session", session.as_str()),
            ];
            statuses.push(
                send(addr, "POST", CHALLENGE, &headers, AGE18.as_bytes())
                    .await
                    .status,
            );
            tokio::task::yield_now().await;
        }
        statuses
    };
    let tasks: Vec<_> = (0..8)
        .map(|i| tokio::spawn(run(format!("parallel-{i}"))))
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), [429, 429, 200, 200]);
    }
}

#[tokio::test]
async fn concurrent_requests_of_one_session_never_skip_or_repeat_a_step() {
    let server = server("counted").await;
    let addr = server.addr();
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            tokio::spawn(async move {
                let headers = [
                    ("Content-Type", "application/json"),
                    ("Persona-Mock-Session", "shared"),
                ];
                send(addr, "POST", CHALLENGE, &headers, AGE18.as_bytes()).await
            })
        })
        .collect();
    let mut sequence = Vec::new();
    let mut real = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            429 => sequence.push(reply.header("x-seq").unwrap().parse::<u32>().unwrap()),
            200 => real += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    sequence.sort();
    assert_eq!(sequence, (1..=10).collect::<Vec<_>>());
    assert_eq!(real, 20);
}

#[tokio::test]
async fn a_path_prefix_selects_session_and_scenario() {
    let server = TestServer::with(with_scenario(None)).await;
    let base = "/__mock/sessions/sdk-run-1/scenario/server-errors-then-ok";
    let path = format!("{base}{CHALLENGE}");
    let json = [("Content-Type", "application/json")];
    assert_eq!(
        send(server.addr(), "POST", &path, &json, AGE18.as_bytes())
            .await
            .status,
        500
    );
    assert_eq!(
        send(server.addr(), "POST", &path, &json, AGE18.as_bytes())
            .await
            .status,
        503
    );
    assert_real(&send(server.addr(), "POST", &path, &json, AGE18.as_bytes()).await);
    // Another session through the same scenario starts at the beginning.
    let other = format!("/__mock/sessions/sdk-run-2/scenario/server-errors-then-ok{CHALLENGE}");
    assert_eq!(
        send(server.addr(), "POST", &other, &json, AGE18.as_bytes())
            .await
            .status,
        500
    );
    // Without a scenario segment, only the session is chosen.
    let session_only = format!("/__mock/sessions/sdk-run-3{CHALLENGE}");
    assert_real(
        &send(
            server.addr(),
            "POST",
            &session_only,
            &json,
            AGE18.as_bytes(),
        )
        .await,
    );
    // The prefix otherwise behaves like the API: errors, 404s and 405s included.
    assert_eq!(
        send(server.addr(), "POST", &session_only, &json, b"{}")
            .await
            .status,
        400
    );
    assert_eq!(
        send(server.addr(), "GET", &session_only, &[], b"")
            .await
            .status,
        405
    );
    let nowhere = "/__mock/sessions/sdk-run-3/api/nowhere";
    assert_eq!(
        send(server.addr(), "POST", nowhere, &json, b"{}")
            .await
            .status,
        404
    );
    let unknown = format!("/__mock/sessions/x/scenario/nope{CHALLENGE}");
    let reply = send(server.addr(), "POST", &unknown, &json, AGE18.as_bytes()).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply
            .text()
            .contains("Unknown scenario \\\"nope\\\" named by the request path."),
        "{}",
        reply.text()
    );
}

#[tokio::test]
async fn rate_limit_windows_are_per_session() {
    let clock = ManualClock::new();
    let settings = Settings {
        rate_limit: 1,
        ..Settings::default()
    };
    let server = TestServer::with(MockServer::builder().settings(settings).clock(clock)).await;
    let key = ("Authorization", "Bearer persona_sandbox_shared");
    assert_eq!(
        server
            .challenge(AGE18, &[key, ("Persona-Mock-Session", "one")])
            .await
            .status,
        200
    );
    assert_eq!(
        server
            .challenge(AGE18, &[key, ("Persona-Mock-Session", "one")])
            .await
            .status,
        429
    );
    assert_eq!(
        server
            .challenge(AGE18, &[key, ("Persona-Mock-Session", "two")])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_misspelt_scenario_header_gets_a_suggestion() {
    let server = TestServer::with(with_scenario(None)).await;
    let reply = server
        .challenge(AGE18, &[("Persona-Mock-Scenario", "slwo")])
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply
            .text()
            .contains(r#"Unknown scenario \"slwo\" (did you mean \"slow\"?) named by"#),
        "{}",
        reply.text()
    );
}
