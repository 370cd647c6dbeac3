//! Persona's conventions: the error envelope for every failure, request
//! ids, inflection, versions, authentication and rate limiting.

use crate::support::{CHALLENGE, TestServer, send, send_raw};
use persona_mock::clock::ManualClock;
use persona_mock::{ApiKey, Environment};
use persona_mock::{MockServer, Settings};
use std::time::Duration;

const AGE18: &str = r#"{"claim-type":"age_over18_verified"}"#;

/// Asserts a reply's status and exact body.
macro_rules! assert_reply {
    ($reply:expr, $status:expr, $body:expr) => {{
        let reply = $reply;
        assert_eq!(reply.status, $status, "{}", reply.text());
        assert_eq!(reply.text(), $body);
        assert_eq!(reply.header("content-type"), Some("application/json"));
        reply
    }};
}

#[tokio::test]
async fn bad_bodies_get_400_naming_the_problem() {
    let server = TestServer::start().await;
    let cases = [
        (
            "",
            "The request body is empty; send a JSON object like {\\\"claim-type\\\": \\\"age_over18_verified\\\"}.",
        ),
        (
            "{",
            "The request body is not valid JSON: EOF while parsing an object at line 1 column 1.",
        ),
        (
            "[1]",
            "The request body must be a JSON object like {\\\"claim-type\\\": \\\"age_over18_verified\\\"} (got an array).",
        ),
        (
            "{}",
            "claim-type is required, as in {\\\"claim-type\\\": \\\"age_over18_verified\\\"}.",
        ),
        (
            r#"{"claim-type":5}"#,
            "claim-type must be a string (got a number).",
        ),
        (
            r#"{"claimType":null}"#,
            "claimType must be a string (got null).",
        ),
        (
            r#"{"claim-type":"age_over18_verified","sandbox":"yes"}"#,
            "sandbox must be true or false (got a string).",
        ),
        (
            r#"{"claim-type":"age_over18_verified","nonce":"x"}"#,
            "Unknown field \\\"nonce\\\": the allowed fields are claim-type and sandbox.",
        ),
        (
            r#"{"claim-type":"a","claimType":"b"}"#,
            "\\\"claim-type\\\" and \\\"claimType\\\" name the same field; send it once.",
        ),
    ];
    for (body, details) in cases {
        let expected = format!(r#"{{"errors":[{{"title":"Bad Request","details":"{details}"}}]}}"#);
        assert_reply!(server.challenge(body, &[]).await, 400, expected);
    }
}

#[tokio::test]
async fn an_unknown_claim_type_gets_422_with_a_pointer() {
    let server = TestServer::start().await;
    let reply = assert_reply!(
        server
            .challenge(r#"{"claim-type":"age_over99"}"#, &[])
            .await,
        422,
        concat!(
            r#"{"errors":[{"title":"Unprocessable entity","details":"\"age_over99\" is not a claim type persona-mock serves. "#,
            "Claim types: live_human_presence, age_over18_germany, age_over18_united_kingdom, age_over18_verified, ",
            "age_over18_france, age_over18_italy, age_over18_brazil, age_over18_australia, age_over16_australia, ",
            r#"age_over21_verified. Add more under [claim-types] in the config file.","source":{"pointer":"/claim-type"}}]}"#
        )
    );
    assert!(
        reply.header("ratelimit-limit").is_none(),
        "unauthenticated responses carry no rate-limit headers"
    );
}

#[tokio::test]
async fn a_non_json_content_type_gets_400() {
    let server = TestServer::start().await;
    let reply = send(
        server.addr(),
        "POST",
        CHALLENGE,
        &[("Content-Type", "text/plain")],
        AGE18.as_bytes(),
    )
    .await;
    assert_reply!(
        reply,
        400,
        r#"{"errors":[{"title":"Bad Request","details":"Content-Type must be application/json (got \"text/plain\")."}]}"#
    );
    for accepted in [
        "application/json; charset=utf-8",
        "application/vnd.api+json",
    ] {
        let reply = send(
            server.addr(),
            "POST",
            CHALLENGE,
            &[("Content-Type", accepted)],
            AGE18.as_bytes(),
        )
        .await;
        assert_eq!(reply.status, 200, "{accepted}");
    }
    let reply = send(server.addr(), "POST", CHALLENGE, &[], AGE18.as_bytes()).await;
    assert_eq!(reply.status, 200, "no Content-Type is accepted");
}

#[tokio::test]
async fn unknown_paths_get_404_and_wrong_methods_405() {
    let server = TestServer::start().await;
    let reply = send(server.addr(), "GET", "/nope", &[], b"").await;
    assert_reply!(
        reply,
        404,
        r#"{"errors":[{"title":"Record not found","details":"No route matches GET /nope. persona-mock serves POST /api/privacy/v1/relays/challenge, POST /api/privacy/v1/relays, POST /api/v1/privacy-passes, POST /api/privacy/v1/relays/{relay-token}/generate-claim."}]}"#
    );
    for method in ["GET", "PUT", "DELETE"] {
        let reply = send(server.addr(), method, CHALLENGE, &[], b"").await;
        let body = format!(
            r#"{{"errors":[{{"title":"Method Not Allowed","details":"/api/privacy/v1/relays/challenge only allows POST (got {method})."}}]}}"#
        );
        let reply = assert_reply!(reply, 405, body);
        assert_eq!(reply.header("allow"), Some("POST"));
    }
    let trailing = send(
        server.addr(),
        "POST",
        "/api/privacy/v1/relays/challenge/?x=1",
        &[],
        AGE18.as_bytes(),
    )
    .await;
    assert_eq!(
        trailing.status, 200,
        "a trailing slash and a query string are ignored"
    );
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_declared_or_streamed() {
    let settings = Settings {
        max_body_bytes: 1000,
        ..Settings::default()
    };
    let server = TestServer::with(MockServer::builder().settings(settings)).await;
    let expected = r#"{"errors":[{"title":"Payload Too Large","details":"The request body is larger than 1000 bytes."}]}"#;
    let big = format!(r#"{{"claim-type":"{}"}}"#, "a".repeat(1000));
    assert_reply!(server.challenge(&big, &[]).await, 413, expected);
    // Chunked, so only reading it shows it is too large.
    let chunk = "x".repeat(600);
    let raw = format!(
        "POST {CHALLENGE} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
    );
    let reply = send_raw(server.addr(), raw.as_bytes())
        .await
        .expect("a response");
    assert_reply!(reply, 413, expected);
}

#[tokio::test]
async fn a_declared_length_over_the_limit_gets_413_without_waiting_for_the_body() {
    let server = TestServer::start().await;
    let head = format!(
        "POST {CHALLENGE} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n"
    );
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        send_raw(server.addr(), head.as_bytes()),
    )
    .await
    .expect("answered before any body came")
    .expect("a response");
    assert_eq!(reply.status, 413);
}

#[tokio::test]
async fn the_default_body_limit_is_one_mebibyte() {
    let server = TestServer::start().await;
    let padding = " ".repeat(1024 * 1024);
    let reply = server.challenge(&format!("{AGE18}{padding}"), &[]).await;
    assert_eq!(reply.status, 413);
    let fits = " ".repeat(1024 * 1024 - AGE18.len());
    assert_eq!(
        server
            .challenge(&format!("{AGE18}{fits}"), &[])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn every_response_has_a_unique_request_id() {
    let server = TestServer::start().await;
    let mut seen = std::collections::HashSet::new();
    let replies = [
        server.challenge(AGE18, &[]).await,
        server.challenge("{", &[]).await,
        send(server.addr(), "GET", "/x", &[], b"").await,
        server
            .challenge(AGE18, &[("Authorization", "Basic x")])
            .await,
    ];
    for reply in replies {
        let id = reply.header("request-id").expect("Request-Id").to_string();
        assert!(id.starts_with("req_") && id.len() == 28, "{id}");
        assert!(id[4..].bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        assert!(seen.insert(id));
    }
}

#[tokio::test]
async fn persona_version_must_be_a_listed_version() {
    let server = TestServer::start().await;
    for version in ["2025-12-08", "2023-01-05", "2020-05-18"] {
        assert_eq!(
            server
                .challenge(AGE18, &[("Persona-Version", version)])
                .await
                .status,
            200,
            "{version}"
        );
    }
    let reply = server
        .challenge(AGE18, &[("Persona-Version", "2024-01-01")])
        .await;
    assert_reply!(
        reply,
        400,
        r#"{"errors":[{"title":"Bad Request","details":"Persona-Version must be one of: 2025-12-08, 2025-10-27, 2023-01-05, 2022-09-01, 2021-08-18, 2021-07-05, 2021-02-21, 2020-05-18 (got \"2024-01-01\")"}]}"#
    );
}

#[tokio::test]
async fn an_invalid_key_inflection_gets_400() {
    let server = TestServer::start().await;
    let reply = server
        .challenge(AGE18, &[("Key-Inflection", "pascal")])
        .await;
    assert_reply!(
        reply,
        400,
        r#"{"errors":[{"title":"Bad Request","details":"Key-Inflection must be one of: kebab, camel, snake (got \"pascal\")"}]}"#
    );
}

#[tokio::test]
async fn bad_credentials_get_persona_401s() {
    let server = TestServer::start().await;
    let reply = server
        .challenge(AGE18, &[("Authorization", "Basic dXNlcjpwYXNz")])
        .await;
    assert_reply!(
        reply,
        401,
        r#"{"errors":[{"title":"Must be authenticated to access this endpoint","details":"Send the API key as `Authorization: Bearer <API key>`, or send no Authorization header."}]}"#
    );
    let reply = server
        .challenge(AGE18, &[("Authorization", "Bearer sk_live_123")])
        .await;
    assert_reply!(
        reply,
        401,
        r#"{"errors":[{"title":"Token is invalid","details":"The API key is not valid: persona-mock accepts keys that start with persona_sandbox_ or persona_production_."}]}"#
    );
}

#[tokio::test]
async fn authenticated_responses_carry_environment_and_rate_limit_headers() {
    let server = TestServer::start().await;
    let sandbox = server
        .challenge(AGE18, &[("Authorization", "Bearer persona_sandbox_abc")])
        .await;
    let production = server
        .challenge(AGE18, &[("Authorization", "Bearer persona_production_abc")])
        .await;
    assert_eq!(sandbox.status, 200);
    let env_id =
        |r: &crate::support::Reply| r.header("persona-environment-id").unwrap().to_string();
    let org_id =
        |r: &crate::support::Reply| r.header("persona-organization-id").unwrap().to_string();
    assert!(env_id(&sandbox).starts_with("env_"));
    assert!(org_id(&sandbox).starts_with("org_"));
    assert_ne!(env_id(&sandbox), env_id(&production));
    assert_eq!(org_id(&sandbox), org_id(&production));
    let again = server
        .challenge(AGE18, &[("Authorization", "Bearer persona_sandbox_other")])
        .await;
    assert_eq!(env_id(&again), env_id(&sandbox), "stable per environment");
    assert_eq!(sandbox.header("ratelimit-limit"), Some("300"));
    assert_eq!(sandbox.header("ratelimit-remaining"), Some("299"));
    assert_eq!(sandbox.header("ratelimit-reset"), Some("60"));
    // Errors after authentication carry them too.
    let error = server
        .challenge("{", &[("Authorization", "Bearer persona_sandbox_abc")])
        .await;
    assert_eq!(error.status, 400);
    assert_eq!(error.header("ratelimit-remaining"), Some("298"));
    assert_eq!(env_id(&error), env_id(&sandbox));
}

#[tokio::test]
async fn the_rate_limit_counts_down_refuses_and_recovers() {
    let clock = ManualClock::new();
    let settings = Settings {
        rate_limit: 3,
        ..Settings::default()
    };
    let server = TestServer::with(
        MockServer::builder()
            .settings(settings)
            .clock(clock.clone()),
    )
    .await;
    let key = [("Authorization", "Bearer persona_production_k1")];
    for remaining in ["2", "1", "0"] {
        let reply = server.challenge(AGE18, &key).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("ratelimit-remaining"), Some(remaining));
        clock.advance(Duration::from_secs(5));
    }
    let refused = assert_reply!(
        server.challenge(AGE18, &key).await,
        429,
        r#"{"errors":[{"title":"Rate limit exceeded","details":"You have hit your rate limit of 3 requests / min."}]}"#
    );
    assert_eq!(refused.header("ratelimit-limit"), Some("3"));
    assert_eq!(refused.header("ratelimit-remaining"), Some("0"));
    assert_eq!(refused.header("ratelimit-reset"), Some("45"));
    assert!(refused.header("persona-environment-id").is_some());
    // Another key has its own window.
    let other = server
        .challenge(AGE18, &[("Authorization", "Bearer persona_production_k2")])
        .await;
    assert_eq!(other.header("ratelimit-remaining"), Some("2"));
    clock.advance(Duration::from_secs(45));
    let recovered = server.challenge(AGE18, &key).await;
    assert_eq!(recovered.status, 200);
    assert_eq!(recovered.header("ratelimit-remaining"), Some("2"));
    assert_eq!(recovered.header("ratelimit-reset"), Some("60"));
}

#[tokio::test]
async fn listed_keys_replace_the_prefix_rule() {
    let mut settings = Settings {
        accept_prefixed_keys: false,
        ..Settings::default()
    };
    settings.api_keys.insert(
        "team-key".into(),
        ApiKey {
            environment: Environment::Sandbox,
            limit: Some(2),
        },
    );
    let server = TestServer::with(MockServer::builder().settings(settings)).await;
    let listed = server
        .challenge(AGE18, &[("Authorization", "Bearer team-key")])
        .await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.header("ratelimit-limit"), Some("2"));
    let prefixed = server
        .challenge(AGE18, &[("Authorization", "Bearer persona_sandbox_abc")])
        .await;
    assert_reply!(
        prefixed,
        401,
        r#"{"errors":[{"title":"Token is invalid","details":"The API key is not valid: persona-mock accepts the keys listed under [[auth.keys]] in its config file."}]}"#
    );
}

#[tokio::test]
async fn one_connection_serves_many_requests() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start().await;
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let request = format!(
        "POST {CHALLENGE} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{AGE18}",
        AGE18.len()
    );
    let bad = format!("POST {CHALLENGE} HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\n{{");
    stream
        .write_all(format!("{request}{bad}{request}").as_bytes())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buffer = vec![0u8; 8192];
    while seen.windows(8).filter(|w| w == b"HTTP/1.1").count() < 3 || !seen.ends_with(b"}") {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(
            n > 0,
            "connection closed early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8_lossy(&seen);
    let statuses: Vec<&str> = text
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &text[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "400", "200"]);
}

#[tokio::test]
async fn error_pointers_and_field_names_follow_key_inflection() {
    let server = TestServer::start().await;
    let reply = server
        .challenge(
            r#"{"claimType":"age_over99"}"#,
            &[("Key-Inflection", "camel")],
        )
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.json()["errors"][0]["source"]["pointer"], "/claimType");
    let reply = server
        .challenge(r#"{"sandbox":true}"#, &[("Key-Inflection", "snake")])
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.json()["errors"][0]["details"]
            .as_str()
            .unwrap()
            .starts_with("claim_type is required"),
        "{}",
        reply.text()
    );
    let reply = server
        .challenge(r#"{"claimType":"a","x":1}"#, &[("Key-Inflection", "camel")])
        .await;
    assert_eq!(
        reply.json()["errors"][0]["details"],
        "Unknown field \"x\": the allowed fields are claimType and sandbox."
    );
    // Without the header, kebab-case as before.
    let reply = server.challenge(r#"{"claimType":"age_over99"}"#, &[]).await;
    assert_eq!(
        reply.json()["errors"][0]["source"]["pointer"],
        "/claim-type"
    );
}

#[tokio::test]
async fn browsers_get_cors_on_loopback_by_default() {
    let server = TestServer::start().await;
    let origin = ("Origin", "http://localhost:5173");
    let preflight = send(
        server.addr(),
        "OPTIONS",
        CHALLENGE,
        &[
            origin,
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "content-type, key-inflection",
            ),
        ],
        b"",
    )
    .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("POST, OPTIONS")
    );
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("content-type, key-inflection")
    );
    let reply = server.challenge(AGE18, &[origin]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert!(
        reply
            .header("access-control-expose-headers")
            .unwrap()
            .contains("Request-Id")
    );
    let plain = server.challenge(AGE18, &[]).await;
    assert_eq!(
        plain.header("access-control-allow-origin"),
        None,
        "no Origin, no CORS"
    );
}

#[tokio::test]
async fn configured_origins_are_the_only_ones_allowed() {
    let settings = Settings {
        cors_origins: vec!["https://app.example".into()],
        ..Settings::default()
    };
    let server = TestServer::with(MockServer::builder().settings(settings)).await;
    let allowed = server
        .challenge(AGE18, &[("Origin", "https://app.example")])
        .await;
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let other = server
        .challenge(AGE18, &[("Origin", "https://evil.example")])
        .await;
    assert_eq!(
        other.status, 200,
        "the request is served; the browser withholds it"
    );
    assert_eq!(other.header("access-control-allow-origin"), None);
    let bad = Settings {
        cors_origins: vec!["app.example/".into()],
        ..Settings::default()
    };
    let error = MockServer::builder()
        .settings(bad)
        .start()
        .await
        .err()
        .unwrap();
    assert!(
        error
            .to_string()
            .starts_with("cors-origins entry \"app.example/\" is not an origin"),
        "{error}"
    );
}

#[tokio::test]
async fn beyond_loopback_cors_is_off_unless_configured() {
    let server = TestServer::with(MockServer::builder().host("0.0.0.0")).await;
    let local: std::net::SocketAddr = ([127, 0, 0, 1], server.addr().port()).into();
    let reply = send(
        local,
        "POST",
        CHALLENGE,
        &[("Origin", "http://localhost:5173")],
        AGE18.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("access-control-allow-origin"), None);
}
