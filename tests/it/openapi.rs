//! openapi.yaml stays true: real responses of the server, for every
//! operation and the errors it documents, are checked against it (status
//! documented, content type, required headers, body schema).

use crate::support::{CHALLENGE, Reply, TestServer, send};
use serde_json::Value;

fn spec() -> Value {
    let text =
        std::fs::read_to_string(format!("{}/openapi.yaml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_yaml_ng::from_str(&text).expect("openapi.yaml is YAML")
}

/// Follows a local `$ref`.
fn resolve<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => resolve(
            spec,
            spec.pointer(reference.trim_start_matches('#'))
                .expect(reference),
        ),
        None => value,
    }
}

/// Checks one real response against the operation `method path`.
fn conforms(spec: &Value, method: &str, path: &str, reply: &Reply) {
    let what = format!("{method} {path} -> {}", reply.status);
    let operation = &spec["paths"][path][method];
    assert!(
        operation.is_object(),
        "{what}: the operation is not documented"
    );
    let responses = &operation["responses"];
    let documented = responses
        .get(reply.status.to_string())
        .or_else(|| responses.get("default"));
    let response = resolve(
        spec,
        documented.unwrap_or_else(|| panic!("{what}: status not documented")),
    );
    for (name, header) in response["headers"].as_object().into_iter().flatten() {
        let header = resolve(spec, header);
        let value = reply.header(name);
        if header["required"] == Value::Bool(true) {
            assert!(value.is_some(), "{what}: required header {name} missing");
        }
        if let Some(value) = value {
            let schema = &header["schema"];
            let instance = if schema["type"] == "integer" {
                Value::from(
                    value
                        .parse::<i64>()
                        .unwrap_or_else(|_| panic!("{what}: {name} is not an integer")),
                )
            } else {
                Value::from(value)
            };
            validate(spec, schema, &instance, &format!("{what}: header {name}"));
        }
    }
    let Some(content) = response["content"].as_object() else {
        assert!(reply.body.is_empty(), "{what}: undocumented body");
        return;
    };
    let content_type = reply
        .header("content-type")
        .unwrap_or_else(|| panic!("{what}: no content type"));
    // Documented by media type; parameters such as charset are not keys.
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    let media = content
        .get(content_type)
        .or_else(|| content.get(media_type))
        .unwrap_or_else(|| panic!("{what}: content type {content_type} not documented"));
    if media_type == "application/json" {
        validate(spec, &media["schema"], &reply.json(), &what);
    } else {
        assert_eq!(media["schema"]["type"], "string", "{what}");
        assert!(!reply.body.is_empty(), "{what}: empty body");
    }
}

fn validate(spec: &Value, schema: &Value, instance: &Value, what: &str) {
    let root = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": spec["components"],
        "allOf": [schema],
    });
    let validator =
        jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("{what}: bad schema: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: {instance} violates the document: {errors:?}"
    );
}

#[tokio::test]
async fn challenge_responses_conform() {
    let spec = spec();
    let server = TestServer::start().await;
    let age18 = r#"{"claim-type":"age_over18_verified"}"#;
    let check = |reply: Reply| conforms(&spec, "post", CHALLENGE, &reply);
    check(server.challenge(age18, &[]).await);
    check(
        server
            .challenge(
                r#"{"claimType":"live_human_presence","sandbox":true}"#,
                &[("Key-Inflection", "camel")],
            )
            .await,
    );
    check(
        server
            .challenge(
                r#"{"claim_type":"age_over21_verified"}"#,
                &[("Key-Inflection", "snake")],
            )
            .await,
    );
    check(
        server
            .challenge(
                age18,
                &[
                    ("Authorization", "Bearer persona_sandbox_a"),
                    ("Persona-Version", "2023-01-05"),
                ],
            )
            .await,
    );
    for body in [
        "",
        "{",
        "[]",
        "{}",
        r#"{"claim-type":1}"#,
        r#"{"claim-type":"x"}"#,
        r#"{"claim-type":"age_over18_verified","x":1}"#,
    ] {
        check(server.challenge(body, &[]).await);
    }
    check(
        server
            .challenge(age18, &[("Authorization", "Basic x")])
            .await,
    );
    check(
        server
            .challenge(age18, &[("Authorization", "Bearer nope")])
            .await,
    );
    check(
        server
            .challenge(age18, &[("Key-Inflection", "pascal")])
            .await,
    );
    check(
        server
            .challenge(age18, &[("Persona-Version", "1999-01-01")])
            .await,
    );
    check(
        server
            .challenge(age18, &[("Persona-Mock-Scenario", "nope")])
            .await,
    );
    check(
        send(
            server.addr(),
            "POST",
            CHALLENGE,
            &[("Content-Type", "text/plain")],
            age18.as_bytes(),
        )
        .await,
    );
    check(
        server
            .challenge(&format!("{age18}{}", " ".repeat(2 << 20)), &[])
            .await,
    );
    for scenario in [
        "throttled-then-ok",
        "unknown-claim-type",
        "server-errors-then-ok",
        "invalid-api-key",
        "conflict",
    ] {
        check(
            server
                .challenge(age18, &[("Persona-Mock-Scenario", scenario)])
                .await,
        );
    }
}

#[tokio::test]
async fn control_responses_conform() {
    let spec = spec();
    let server = TestServer::start().await;
    let addr = server.addr();
    server
        .challenge(
            r#"{"claim-type":"age_over18_verified"}"#,
            &[("Persona-Mock-Session", "s")],
        )
        .await;
    server
        .challenge(
            "{",
            &[
                ("Persona-Mock-Session", "s"),
                ("Persona-Mock-Scenario", "forbidden"),
            ],
        )
        .await;
    let cases: Vec<(&str, &str, String, &str)> = vec![
        ("get", "/__mock", "/__mock".into(), ""),
        ("get", "/__mock/health", "/__mock/health".into(), ""),
        ("get", "/__mock/requests", "/__mock/requests".into(), ""),
        (
            "get",
            "/__mock/requests",
            "/__mock/requests?session=s".into(),
            "",
        ),
        (
            "get",
            "/__mock/requests",
            "/__mock/requests?session=%00".into(),
            "",
        ),
        (
            "put",
            "/__mock/sessions/{id}",
            "/__mock/sessions/s".into(),
            r#"{"scenario":"rate-limit-countdown"}"#,
        ),
        (
            "put",
            "/__mock/sessions/{id}",
            "/__mock/sessions/s".into(),
            r#"{"scenario":"nope"}"#,
        ),
        (
            "put",
            "/__mock/sessions/{id}",
            "/__mock/sessions/s".into(),
            "[]",
        ),
        (
            "get",
            "/__mock/sessions/{id}",
            "/__mock/sessions/s".into(),
            "",
        ),
        (
            "get",
            "/__mock/sessions/{id}",
            "/__mock/sessions/never-seen".into(),
            "",
        ),
        ("get", "/__mock/scenarios", "/__mock/scenarios".into(), ""),
        (
            "get",
            "/__mock/scenarios/{name}",
            "/__mock/scenarios/slow".into(),
            "",
        ),
        (
            "get",
            "/__mock/scenarios/{name}",
            "/__mock/scenarios/nope".into(),
            "",
        ),
        (
            "post",
            "/__mock/scenarios/{name}",
            "/__mock/scenarios/up".into(),
            "description = \"u\"\n[[step]]\nstatus = 418\n",
        ),
        (
            "post",
            "/__mock/scenarios/{name}",
            "/__mock/scenarios/up".into(),
            "description = \"u2\"\n[[step]]\nstatus = 409\n",
        ),
        (
            "post",
            "/__mock/scenarios/{name}",
            "/__mock/scenarios/up".into(),
            "status = \"x\"",
        ),
        ("get", "/__mock/keys", "/__mock/keys".into(), ""),
        ("get", "/__mock/unmatched", "/__mock/unmatched".into(), ""),
        (
            "get",
            "/__mock/sessions/{id}/report",
            "/__mock/sessions/s/report".into(),
            "",
        ),
        (
            "get",
            "/__mock/sessions/{id}/report",
            "/__mock/sessions/s/report?format=junit".into(),
            "",
        ),
        (
            "get",
            "/__mock/sessions/{id}/report",
            "/__mock/sessions/s/report?format=text".into(),
            "",
        ),
        (
            "get",
            "/__mock/sessions/{id}/report",
            "/__mock/sessions/s/report?format=yaml".into(),
            "",
        ),
        (
            "get",
            "/__mock/sessions/{id}/report",
            "/__mock/sessions/never-seen/report".into(),
            "",
        ),
        (
            "post",
            "/__mock/sessions/{id}/verify",
            "/__mock/sessions/s/verify".into(),
            r#"{"expect":[{"endpoint":"challenge","status":200,"count":1},{"endpoint":"issue","min":0,"max":2}]}"#,
        ),
        (
            "post",
            "/__mock/sessions/{id}/verify",
            "/__mock/sessions/s/verify".into(),
            r#"{"expect":[{"endpoint":"issuance"}]}"#,
        ),
        (
            "delete",
            "/__mock/requests",
            "/__mock/requests?session=s".into(),
            "",
        ),
        (
            "post",
            "/__mock/reset",
            "/__mock/reset?session=s".into(),
            "",
        ),
        ("post", "/__mock/reset", "/__mock/reset".into(), ""),
    ];
    let mut statuses = Vec::new();
    for (method, template, path, body) in cases {
        let reply = send(addr, &method.to_uppercase(), &path, &[], body.as_bytes()).await;
        conforms(&spec, method, template, &reply);
        if template.starts_with("/__mock/sessions/{id}/") {
            statuses.push(reply.status);
        }
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 400, 404, 200, 422],
        "the report and verify cases reach each answer"
    );
}

#[tokio::test]
async fn relay_flow_responses_conform() {
    use crate::client::{API_KEY, Client, ISSUE, RELAYS, b64, claim_path};
    let spec = spec();
    let server = TestServer::with(persona_mock::MockServer::builder().seed(3)).await;
    let client = Client::new(server.addr());
    let generate = "/api/privacy/v1/relays/{relay-token}/generate-claim";
    // Create relay: 201 in each inflection, 422, 400.
    conforms(
        &spec,
        "post",
        RELAYS,
        &client
            .create_relay_reply("age_over18_verified", false, None)
            .await,
    );
    for inflection in ["camel", "snake"] {
        let reply = client
            .post(
                RELAYS,
                &[("Key-Inflection", inflection)],
                r#"{"claim_type":"age_over18_verified"}"#,
            )
            .await;
        assert_eq!(reply.status, 201);
        conforms(&spec, "post", RELAYS, &reply);
    }
    conforms(
        &spec,
        "post",
        RELAYS,
        &client.create_relay_reply("nope", false, None).await,
    );
    conforms(&spec, "post", RELAYS, &client.post(RELAYS, &[], "[]").await);
    // Issuance: 201, 401, 422.
    let relay = client
        .create_relay("age_over18_verified", false, None)
        .await;
    let issued = client.challenge("age_over18_verified", false).await;
    let token = client.token(&issued).await;
    let reply = client.issue_reply(&[9; 49], &issued.token_key_id).await;
    assert_eq!(reply.status, 422);
    conforms(&spec, "post", ISSUE, &reply);
    conforms(&spec, "post", ISSUE, &client.post(ISSUE, &[], "{}").await);
    let blinded = {
        use p384::NistP384;
        voprf::VoprfClient::<NistP384>::blind(b"x", &mut rand::rng())
            .unwrap()
            .message
            .serialize()
    };
    let body = serde_json::json!({"blindedToken": b64(&blinded), "keyId": issued.token_key_id});
    let reply = client
        .post(
            ISSUE,
            &[("Authorization", API_KEY), ("Key-Inflection", "camel")],
            &body.to_string(),
        )
        .await;
    assert_eq!(reply.status, 201);
    conforms(&spec, "post", ISSUE, &reply);
    // Generate-claim: 200, 401, 404, 409, 400, 403.
    let check = |reply: Reply| conforms(&spec, "post", generate, &reply);
    check(client.redeem(&relay, &token[..10]).await);
    check(client.redeem(&relay, &token).await);
    check(client.redeem(&relay, &token).await);
    check(client.post(&claim_path(&relay.token), &[], "{}").await);
    check(
        client
            .post(
                &claim_path("relay_x"),
                &[
                    ("Authorization", "PrivateToken token=AAAA"),
                    ("Persona-Relay-Secret", "x"),
                ],
                "{}",
            )
            .await,
    );
    check(
        client
            .post(
                &claim_path(&relay.token),
                &[("Authorization", "PrivateToken token=AAAA")],
                "{}",
            )
            .await,
    );
    // Control: relays, one relay, complete, jwks.
    let get = |path: String| {
        send(
            server.addr(),
            "GET",
            Box::leak(path.into_boxed_str()),
            &[],
            b"",
        )
    };
    conforms(
        &spec,
        "get",
        "/__mock/relays",
        &get("/__mock/relays".into()).await,
    );
    conforms(
        &spec,
        "get",
        "/__mock/relays/{token}",
        &get(format!("/__mock/relays/{}", relay.token)).await,
    );
    conforms(
        &spec,
        "get",
        "/__mock/relays/{token}",
        &get("/__mock/relays/relay_none".into()).await,
    );
    conforms(
        &spec,
        "get",
        "/__mock/jwks",
        &get("/__mock/jwks".into()).await,
    );
    let complete = format!("/__mock/relays/{}/complete", relay.token);
    let reply = send(
        server.addr(),
        "POST",
        &complete,
        &[],
        br#"{"result":"pending"}"#,
    )
    .await;
    assert_eq!(reply.status, 200);
    conforms(&spec, "post", "/__mock/relays/{token}/complete", &reply);
    let reply = send(
        server.addr(),
        "POST",
        &complete,
        &[],
        br#"{"result":"maybe"}"#,
    )
    .await;
    conforms(&spec, "post", "/__mock/relays/{token}/complete", &reply);
    let fresh = client
        .token(&client.challenge("age_over18_verified", false).await)
        .await;
    let reply = client.redeem(&relay, &fresh).await;
    assert_eq!(reply.status, 403);
    check(reply);
}
