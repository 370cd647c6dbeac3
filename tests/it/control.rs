//! The control API under /__mock/: each endpoint, the journal's bounds, the
//! loopback/token rule, runtime scenarios and hot reload, and a client's
//! calls verified through the journal.

use crate::support::{CHALLENGE, Reply, TestServer, send};
use persona_mock::JournalLimits;
use persona_mock::{MockServer, MockServerBuilder, Settings};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const AGE18: &str = r#"{"claim-type":"age_over18_verified"}"#;

async fn control(addr: SocketAddr, method: &str, path: &str, body: &str) -> Reply {
    send(addr, method, path, &[], body.as_bytes()).await
}

async fn get_json(addr: SocketAddr, path: &str) -> Value {
    let reply = control(addr, "GET", path, "").await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    reply.json()
}

async fn challenge_in(server: &TestServer, session: &str, body: &str) -> Reply {
    server
        .challenge(body, &[("Persona-Mock-Session", session)])
        .await
}

fn settings(edit: impl FnOnce(&mut Settings)) -> MockServerBuilder {
    let mut settings = Settings::default();
    edit(&mut settings);
    MockServer::builder().settings(settings)
}

#[tokio::test]
async fn health_answers_ok() {
    let server = TestServer::start().await;
    let reply = control(server.addr(), "GET", "/__mock/health", "").await;
    assert_eq!(reply.status, 200);
    let health = reply.json();
    assert_eq!(health["status"], "ok");
    assert!(
        ["ready", "generating"].contains(&health["keys"].as_str().unwrap_or_default()),
        "{health}"
    );
    assert_eq!(reply.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn the_journal_shows_what_a_client_sent_and_got() {
    let server = TestServer::start().await;
    let ok = challenge_in(&server, "e2e", AGE18).await;
    let bad = challenge_in(&server, "e2e", r#"{"claim-type":"age_over99"}"#).await;
    let scripted = server
        .challenge(
            AGE18,
            &[
                ("Persona-Mock-Session", "e2e"),
                ("Persona-Mock-Scenario", "forbidden"),
            ],
        )
        .await;
    challenge_in(&server, "someone-else", AGE18).await;
    send(server.addr(), "GET", "/__mock/health", &[], b"").await;

    let journal = get_json(server.addr(), "/__mock/requests?session=e2e").await;
    assert_eq!(journal["session"], "e2e");
    assert_eq!(journal["count"], 3);
    assert_eq!(journal["dropped"], 0);
    let requests = journal["requests"].as_array().unwrap();
    let first = &requests[0];
    assert_eq!(first["method"], "POST");
    assert_eq!(first["path"], CHALLENGE);
    assert_eq!(first["body"], AGE18);
    assert_eq!(first["body_truncated"], false);
    assert_eq!(first["session"], "e2e");
    assert_eq!(first["answered_by"], "real");
    assert_eq!(first["scenario"], Value::Null);
    assert_eq!(first["status"], 200);
    assert!(
        first["headers"]
            .as_array()
            .unwrap()
            .contains(&json!(["content-type", "application/json"]))
    );
    let request_id = ok.header("request-id").unwrap();
    assert!(
        first["response_headers"]
            .as_array()
            .unwrap()
            .contains(&json!(["request-id", request_id]))
    );
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(requests[1]["status"], 422);
    assert_eq!(bad.status, 422);
    assert_eq!(requests[2]["status"], 403);
    assert_eq!(scripted.status, 403);
    assert_eq!(requests[2]["scenario"], "forbidden");
    assert_eq!(
        requests[2]["answered_by"],
        json!({"scenario": "forbidden", "step": 1})
    );
    // The control request is not journalled; the other session's is.
    let all = get_json(server.addr(), "/__mock/requests").await;
    assert_eq!(all["count"], 4);
    assert!(
        all["requests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !r["path"].as_str().unwrap().starts_with("/__mock/health"))
    );
}

#[tokio::test]
async fn journal_bodies_are_cut_with_a_flag() {
    let limits = JournalLimits {
        body_bytes: 10,
        ..JournalLimits::default()
    };
    let server = TestServer::with(settings(|s| s.journal = Some(limits))).await;
    challenge_in(&server, "cut", AGE18).await;
    let journal = get_json(server.addr(), "/__mock/requests?session=cut").await;
    assert_eq!(journal["requests"][0]["body"], &AGE18[..10]);
    assert_eq!(journal["requests"][0]["body_truncated"], true);
}

#[tokio::test]
async fn the_journal_drops_the_oldest_and_counts_them() {
    let limits = JournalLimits {
        per_session: 3,
        total: 5,
        body_bytes: 100,
    };
    let server = TestServer::with(settings(|s| s.journal = Some(limits))).await;
    for i in 0..5 {
        challenge_in(
            &server,
            "a",
            &format!(r#"{{"claim-type":"age_over18_verified","n":{i}}}"#),
        )
        .await;
    }
    let a = get_json(server.addr(), "/__mock/requests?session=a").await;
    assert_eq!(a["count"], 3);
    assert_eq!(a["dropped"], 2);
    let bodies: Vec<&str> = a["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"].as_str().unwrap())
        .collect();
    assert!(
        bodies[0].contains("\"n\":2") && bodies[2].contains("\"n\":4"),
        "{bodies:?}"
    );
    for session in ["b", "c", "d"] {
        challenge_in(&server, session, AGE18).await;
    }
    let all = get_json(server.addr(), "/__mock/requests").await;
    assert_eq!(all["count"], 5);
    assert_eq!(
        all["dropped"], 3,
        "two for the session limit, one for the total"
    );
}

#[tokio::test]
async fn deleting_the_journal_keeps_scenario_progress() {
    let server = TestServer::start().await;
    let scenario = [
        ("Persona-Mock-Session", "s"),
        ("Persona-Mock-Scenario", "server-errors-then-ok"),
    ];
    assert_eq!(server.challenge(AGE18, &scenario).await.status, 500);
    let reply = control(server.addr(), "DELETE", "/__mock/requests?session=s", "").await;
    assert_eq!(reply.text(), r#"{"status":"cleared","session":"s"}"#);
    assert_eq!(
        get_json(server.addr(), "/__mock/requests?session=s").await["count"],
        0
    );
    assert_eq!(
        server.challenge(AGE18, &scenario).await.status,
        503,
        "progress kept"
    );
}

#[tokio::test]
async fn reset_clears_one_session_or_all() {
    let server = TestServer::with(settings(|s| s.rate_limit = 2)).await;
    let a = [
        ("Persona-Mock-Session", "a"),
        ("Persona-Mock-Scenario", "server-errors-then-ok"),
    ];
    let b = [
        ("Persona-Mock-Session", "b"),
        ("Persona-Mock-Scenario", "server-errors-then-ok"),
    ];
    let keyed = [
        ("Authorization", "Bearer persona_sandbox_a"),
        ("Persona-Mock-Session", "a"),
    ];
    assert_eq!(server.challenge(AGE18, &a).await.status, 500);
    assert_eq!(server.challenge(AGE18, &b).await.status, 500);
    assert_eq!(
        server
            .challenge(AGE18, &keyed)
            .await
            .header("ratelimit-remaining"),
        Some("1")
    );
    let reply = control(server.addr(), "POST", "/__mock/reset?session=a", "").await;
    assert_eq!(reply.text(), r#"{"status":"reset","session":"a"}"#);
    assert_eq!(
        server.challenge(AGE18, &a).await.status,
        500,
        "a starts over"
    );
    assert_eq!(
        server
            .challenge(AGE18, &keyed)
            .await
            .header("ratelimit-remaining"),
        Some("1"),
        "a's window reset"
    );
    assert_eq!(server.challenge(AGE18, &b).await.status, 503, "b untouched");
    assert_eq!(
        get_json(server.addr(), "/__mock/requests?session=a").await["count"],
        2
    );
    assert_eq!(
        get_json(server.addr(), "/__mock/requests?session=b").await["count"],
        2
    );
    control(server.addr(), "POST", "/__mock/reset", "").await;
    assert_eq!(
        get_json(server.addr(), "/__mock/requests").await["count"],
        0
    );
    assert_eq!(
        server.challenge(AGE18, &b).await.status,
        500,
        "b starts over too"
    );
}

#[tokio::test]
async fn sessions_can_be_bound_to_a_scenario_and_inspected() {
    let server = TestServer::start().await;
    let put = control(
        server.addr(),
        "PUT",
        "/__mock/sessions/sdk",
        r#"{"scenario":"rate-limit-countdown"}"#,
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(
        put.json(),
        json!({"session": "sdk", "scenario": "rate-limit-countdown", "bound": true,
               "position": {"step": 1, "answered": 0, "finished": false, "steps": 0}, "rate_limit": null})
    );
    // A client that sends only the session (here through the path) gets the bound scenario.
    let path = format!("/__mock/sessions/sdk{CHALLENGE}");
    let reply = send(server.addr(), "POST", &path, &[], AGE18.as_bytes()).await;
    assert_eq!(reply.header("ratelimit-limit"), Some("3"));
    let view = get_json(server.addr(), "/__mock/sessions/sdk").await;
    assert_eq!(view["rate_limit"]["limit"], 3);
    assert_eq!(view["rate_limit"]["remaining"], 2);
    assert!(view["rate_limit"]["reset_s"].as_u64().unwrap() <= 10);
    // Step positions count.
    control(
        server.addr(),
        "PUT",
        "/__mock/sessions/sdk",
        r#"{"scenario":"throttled-then-ok"}"#,
    )
    .await;
    challenge_in(&server, "sdk", AGE18).await;
    let view = get_json(server.addr(), "/__mock/sessions/sdk").await;
    assert_eq!(
        view["position"],
        json!({"step": 1, "answered": 1, "finished": false, "steps": 2})
    );
    // Unbinding returns the session to normal behaviour.
    control(
        server.addr(),
        "PUT",
        "/__mock/sessions/sdk",
        r#"{"scenario":null}"#,
    )
    .await;
    assert_eq!(challenge_in(&server, "sdk", AGE18).await.status, 200);
    assert_eq!(
        get_json(server.addr(), "/__mock/sessions/sdk").await["bound"],
        false
    );
}

#[tokio::test]
async fn bad_session_bindings_get_clear_errors() {
    let server = TestServer::start().await;
    let unknown = control(
        server.addr(),
        "PUT",
        "/__mock/sessions/x",
        r#"{"scenario":"nope"}"#,
    )
    .await;
    assert_eq!(unknown.status, 422);
    assert!(unknown.text().starts_with(r#"{"errors":[{"title":"Unprocessable entity","details":"Unknown scenario \"nope\". Available scenarios: conflict,"#), "{}", unknown.text());
    for body in ["", "[]", r#"{"scenario":5}"#, r#"{"scenario":"a","x":1}"#] {
        let reply = control(server.addr(), "PUT", "/__mock/sessions/x", body).await;
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(
            reply.text(),
            r#"{"errors":[{"title":"Bad Request","details":"Send {\"scenario\": \"NAME\"} to bind a scenario, or {\"scenario\": null} to unbind."}]}"#
        );
    }
    let wrong = control(server.addr(), "DELETE", "/__mock/sessions/x", "").await;
    assert_eq!(wrong.status, 405);
    let missing = control(server.addr(), "GET", "/__mock/nothing", "").await;
    assert_eq!(missing.status, 404);
    assert!(
        missing
            .text()
            .contains("No control endpoint matches GET /__mock/nothing.")
    );
}

#[tokio::test]
async fn scenarios_are_listed_with_descriptions() {
    let server = TestServer::start().await;
    let list = get_json(server.addr(), "/__mock/scenarios").await;
    let scenarios = list["scenarios"].as_array().unwrap();
    let throttled = scenarios
        .iter()
        .find(|s| s["name"] == "throttled-then-ok")
        .unwrap();
    assert_eq!(
        throttled,
        &json!({"name": "throttled-then-ok", "description": "Two 429s whose RateLimit-Reset counts down, then real challenges",
                "origin": "built-in", "steps": 2, "then": "real", "rate_limit": null})
    );
    assert!(
        scenarios
            .iter()
            .all(|s| !s["description"].as_str().unwrap().is_empty())
    );
}

#[tokio::test]
async fn scenarios_can_be_uploaded_and_invalid_ones_change_nothing() {
    let server = TestServer::start().await;
    let v1 = "description = \"teapot\"\n[[step]]\nstatus = 418\ntimes = \"always\"\n";
    let created = control(server.addr(), "POST", "/__mock/scenarios/teapot", v1).await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("location"), Some("/__mock/scenarios/teapot"));
    assert_eq!(created.json()["origin"], "uploaded");
    let header = [("Persona-Mock-Scenario", "teapot")];
    assert_eq!(server.challenge(AGE18, &header).await.status, 418);

    let invalid = "description = 1\n[[step]]\nstatus = 700\nfault = \"boom\"\n";
    let refused = control(server.addr(), "POST", "/__mock/scenarios/teapot", invalid).await;
    assert_eq!(refused.status, 422);
    assert_eq!(
        refused.text(),
        concat!(
            r#"{"errors":[{"title":"Unprocessable entity","details":"teapot.toml:1:15: description must be a string (got integer)"},"#,
            r#"{"title":"Unprocessable entity","details":"teapot.toml:3:10: status must be an HTTP status from 100 to 599 (got 700)"},"#,
            r#"{"title":"Unprocessable entity","details":"teapot.toml:4:9: unknown fault \"boom\"; faults are \"reset\", \"hang\" and \"truncated\""}]}"#
        )
    );
    assert_eq!(
        server.challenge(AGE18, &header).await.status,
        418,
        "the valid version stays"
    );

    let v2 = "description = \"teapot 2\"\n[[step]]\nstatus = 409\n";
    let replaced = control(server.addr(), "PUT", "/__mock/scenarios/teapot", v2).await;
    assert_eq!(replaced.status, 200);
    assert_eq!(
        get_json(server.addr(), "/__mock/scenarios/teapot").await["description"],
        "teapot 2"
    );
    assert_eq!(server.challenge(AGE18, &header).await.status, 409);
    let bad_name = control(server.addr(), "POST", "/__mock/scenarios/Bad%20Name", v1).await;
    assert_eq!(bad_name.status, 400);
}

#[tokio::test]
async fn changed_scenario_files_are_reloaded_and_invalid_edits_ignored() {
    let dir = std::env::temp_dir().join(format!("persona-mock-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("flaky.toml");
    std::fs::write(
        &file,
        "description = \"v1\"\n[[step]]\nstatus = 500\ntimes = \"always\"\n",
    )
    .unwrap();
    let watched: PathBuf = dir.clone();
    let server = TestServer::with(settings(move |s| s.scenarios_dirs = vec![watched])).await;
    let header = [("Persona-Mock-Scenario", "flaky")];
    assert_eq!(server.challenge(AGE18, &header).await.status, 500);

    std::fs::write(
        &file,
        "description = \"v2\"\n[[step]]\nstatus = 503\ntimes = \"always\"\n",
    )
    .unwrap();
    let status = wait_for_status(&server, &header, 503).await;
    assert_eq!(status, 503, "the edit was picked up");

    std::fs::write(
        &file,
        "description = \"broken\"\n[[step]]\nstatus = \"no\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("other.toml"),
        "description = \"new\"\n[[step]]\nstatus = 418\n",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        server.challenge(AGE18, &header).await.status,
        503,
        "an invalid edit keeps the previous version"
    );
    let other = server
        .challenge(AGE18, &[("Persona-Mock-Scenario", "other")])
        .await;
    assert_eq!(
        other.status, 400,
        "a set with an invalid file is not taken at all"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

async fn wait_for_status(server: &TestServer, headers: &[(&str, &str)], want: u16) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = server.challenge(AGE18, headers).await.status;
        if status == want || Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn keys_lists_every_claim_type_in_both_namespaces() {
    let server = TestServer::start().await;
    let keys = get_json(server.addr(), "/__mock/keys").await;
    let keys = keys["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 20);
    let sandbox21 = keys
        .iter()
        .find(|k| k["claim_type"] == "age_over21_verified" && k["namespace"] == "sandbox")
        .unwrap();
    assert_eq!(sandbox21["token_type"], 1);
    let served = server
        .challenge(
            r#"{"claim-type":"age_over21_verified","sandbox":true}"#,
            &[],
        )
        .await
        .json();
    assert_eq!(sandbox21["token_key"], served["token-key"]);
    assert_eq!(sandbox21["token_key_id"], served["token-key-id"]);
}

#[tokio::test]
async fn strict_mode_lists_requests_to_unknown_paths() {
    let strict = TestServer::with(settings(|s| s.strict = true)).await;
    let reply = send(
        strict.addr(),
        "GET",
        "/api/v1/inquiries?x=1",
        &[("Persona-Mock-Session", "t")],
        b"",
    )
    .await;
    assert_eq!(reply.status, 404);
    assert_eq!(strict.challenge(AGE18, &[]).await.status, 200);
    let unmatched = get_json(strict.addr(), "/__mock/unmatched").await;
    assert_eq!(unmatched["strict"], true);
    let list = unmatched["unmatched"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["method"], "GET");
    assert_eq!(list[0]["path"], "/api/v1/inquiries?x=1");
    assert_eq!(list[0]["session"], "t");

    let lenient = TestServer::start().await;
    send(lenient.addr(), "GET", "/api/v1/inquiries", &[], b"").await;
    let unmatched = get_json(lenient.addr(), "/__mock/unmatched").await;
    assert_eq!(
        unmatched,
        json!({"strict": false, "dropped": 0, "unmatched": []})
    );
}

#[tokio::test]
async fn the_journal_can_be_turned_off() {
    let server = TestServer::with(settings(|s| s.journal = None)).await;
    server.challenge(AGE18, &[]).await;
    let reply = control(server.addr(), "GET", "/__mock/requests", "").await;
    assert_eq!(reply.status, 409);
    assert!(server.server.received_requests(None).is_empty());
}

#[tokio::test]
async fn beyond_loopback_the_control_api_needs_a_token() {
    let open = TestServer::with(MockServer::builder().host("0.0.0.0")).await;
    let local: SocketAddr = ([127, 0, 0, 1], open.addr().port()).into();
    // Health answers on any address, without a token: it reveals nothing.
    assert_eq!(
        control(local, "GET", "/__mock/health", "").await.status,
        200
    );
    let reply = control(local, "GET", "/__mock/requests", "").await;
    assert_eq!(reply.status, 404);
    assert!(
        reply
            .text()
            .contains("served only when persona-mock listens on a loopback address")
    );
    assert_eq!(
        open.challenge_at(local, AGE18).await.status,
        200,
        "the API itself is served"
    );

    let token = "s3cret-token";
    let guarded = TestServer::with(MockServer::builder().host("0.0.0.0").settings(Settings {
        control_token: Some(token.into()),
        ..Settings::default()
    }))
    .await;
    let local: SocketAddr = ([127, 0, 0, 1], guarded.addr().port()).into();
    assert_eq!(
        control(local, "GET", "/__mock/health", "").await.status,
        200
    );
    let refused = control(local, "GET", "/__mock/requests", "").await;
    assert_eq!(refused.status, 401);
    let wrong = send(
        local,
        "GET",
        "/__mock/requests",
        &[("Persona-Mock-Token", "nope-nope")],
        b"",
    )
    .await;
    assert_eq!(wrong.status, 401);
    let allowed = send(
        local,
        "GET",
        "/__mock/requests",
        &[("Persona-Mock-Token", token)],
        b"",
    )
    .await;
    assert_eq!(allowed.status, 200);
}

#[tokio::test]
async fn the_library_handle_reads_resets_and_binds() {
    let server = TestServer::start().await;
    server
        .server
        .bind_scenario("lib", Some("server-errors-then-ok"))
        .unwrap();
    assert_eq!(challenge_in(&server, "lib", AGE18).await.status, 500);
    let received = server.server.received_requests(Some("lib"));
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].status, 500);
    server.server.reset(Some("lib"));
    assert!(server.server.received_requests(Some("lib")).is_empty());
    assert_eq!(
        challenge_in(&server, "lib", AGE18).await.status,
        500,
        "progress was reset"
    );
    assert!(server.server.bind_scenario("lib", Some("nope")).is_err());
}

#[tokio::test]
async fn wrong_methods_on_control_endpoints_get_405_with_allow() {
    let server = TestServer::start().await;
    for (method, path, allow) in [
        ("TRACE", "/__mock/health", "GET"),
        ("POST", "/__mock/keys", "GET"),
        ("PATCH", "/__mock/requests", "GET, DELETE"),
        ("GET", "/__mock/reset", "POST"),
        ("DELETE", "/__mock/sessions/x", "GET, PUT"),
    ] {
        let reply = control(server.addr(), method, path, "").await;
        assert_eq!(reply.status, 405, "{method} {path}");
        assert_eq!(reply.header("allow"), Some(allow), "{method} {path}");
        assert_eq!(reply.json()["errors"][0]["title"], "Method Not Allowed");
    }
}

#[tokio::test]
async fn session_ids_in_paths_are_percent_decoded_and_checked() {
    let server = TestServer::start().await;
    challenge_in(&server, "my-test", AGE18).await;
    let journal = get_json(server.addr(), "/__mock/requests?session=my%2Dtest").await;
    assert_eq!(journal["count"], 1);
    control(
        server.addr(),
        "PUT",
        "/__mock/sessions/my%2Dtest",
        r#"{"scenario":"forbidden"}"#,
    )
    .await;
    assert_eq!(
        challenge_in(&server, "my-test", AGE18).await.status,
        403,
        "the decoded id is the same session"
    );
    for bad in [
        "/__mock/sessions/a%20b",
        "/__mock/sessions/%E1%9A%9B",
        "/__mock/sessions/%zz",
    ] {
        let reply = control(server.addr(), "GET", bad, "").await;
        assert_eq!(reply.status, 400, "{bad}");
    }
    let prefixed = format!("/__mock/sessions/a%20b{CHALLENGE}");
    assert_eq!(
        send(server.addr(), "POST", &prefixed, &[], AGE18.as_bytes())
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn a_plus_in_a_session_path_stays_a_plus() {
    let server = TestServer::start().await;
    // An escape beside the '+' once made the '+' a space (and the id invalid).
    let path = format!("/__mock/sessions/ci+run%2D1{CHALLENGE}");
    let reply = send(server.addr(), "POST", &path, &[], AGE18.as_bytes()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let journal = get_json(server.addr(), "/__mock/requests?session=ci%2Brun-1").await;
    assert_eq!(journal["count"], 1, "{journal}");
    let view = get_json(server.addr(), "/__mock/sessions/ci+run%2D1").await;
    assert_eq!(view["session"], "ci+run-1");
}

#[tokio::test]
async fn uploads_name_the_decoded_scenario_name() {
    let server = TestServer::start().await;
    let reply = control(
        server.addr(),
        "PUT",
        "/__mock/scenarios/Bad%20Name",
        "[[step]]\nstatus = 500\n",
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply
            .text()
            .contains(r#"\"Bad Name\" cannot be a scenario name"#),
        "{}",
        reply.text()
    );
}

#[tokio::test]
async fn the_index_lists_every_control_endpoint() {
    let server = TestServer::start().await;
    let index = get_json(server.addr(), "/__mock").await;
    let listed: Vec<&str> = index["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    for endpoint in [
        "PUT /__mock/scenarios/{name} (TOML body)",
        "GET /__mock/relays[?session=ID][&limit=N][&after=CURSOR]",
        "GET /__mock/jwks",
    ] {
        assert!(
            listed.contains(&endpoint),
            "{endpoint} missing from {listed:?}"
        );
    }
}

#[tokio::test]
async fn uploaded_scenarios_can_be_deleted_and_files_cannot() {
    let server = TestServer::start().await;
    let path = "/__mock/scenarios/temporary";
    assert_eq!(
        control(server.addr(), "PUT", path, "[[step]]\nstatus = 500\n")
            .await
            .status,
        201
    );
    let reply = control(server.addr(), "DELETE", path, "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), serde_json::json!({"status": "deleted"}));
    assert_eq!(control(server.addr(), "GET", path, "").await.status, 404);
    assert_eq!(control(server.addr(), "DELETE", path, "").await.status, 404);
    let built_in = control(server.addr(), "DELETE", "/__mock/scenarios/slow", "").await;
    assert_eq!(built_in.status, 409, "{}", built_in.text());
    // In-process, the same.
    server
        .server
        .upload_scenario("again", "[[step]]\nstatus = 503\n")
        .unwrap();
    assert_eq!(
        control(server.addr(), "GET", "/__mock/scenarios/again", "")
            .await
            .status,
        200
    );
    server.server.delete_scenario("again").unwrap();
    assert!(server.server.delete_scenario("again").is_err());
}
