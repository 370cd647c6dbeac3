//! The hosted flow, as the mock plays it: Persona's client SDK opens
//! `relay.withpersona.com/relay?relay-session-access-token=…` for a person
//! to verify; the mock serves `/relay?relay-session-access-token=…` with a
//! small page (no external assets, works offline) that shows the relay's
//! claim type and namespace and lets a person or a browser test finish it
//! as passed or failed, with a methodology. That outcome is what
//! generate-claim answers from then on.

use crate::api::ApiError;
use crate::api::body::RequestBody;
use crate::api::response::{HttpResponse, json_value};
use crate::flow::ClaimResult;
use crate::flow::relays::{METHODS, Method, Outcome};
use crate::ids::decode_query_value;
use crate::keys::Namespace;
use crate::state::State;
use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Response, StatusCode};
use serde::Deserialize;

/// The page's path.
pub(crate) const PAGE: &str = "/relay";
/// Where the page posts the outcome.
pub(crate) const COMPLETE: &str = "/relay/complete";

/// Whether a path is the hosted flow's.
pub(crate) fn is_hosted_path(path: &str) -> bool {
    path == PAGE || path == COMPLETE
}

/// Answers the page or its completion.
pub(crate) fn handle(
    state: &State,
    parts: &Parts,
    body: &RequestBody,
) -> Result<HttpResponse, ApiError> {
    match (parts.uri.path(), &parts.method) {
        (PAGE, &hyper::Method::GET) => page(state, parts),
        (COMPLETE, &hyper::Method::POST) => complete(state, body),
        (path, method) => Err(ApiError::method_not_allowed(
            if path == PAGE { "GET" } else { "POST" },
            format!("{path} does not answer {method}."),
        )),
    }
}

/// The relay a session token names, if the mock signed it and it is alive.
fn relay_of(state: &State, token: &str) -> Result<(String, String, Namespace), ApiError> {
    let invalid = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "This relay-session-access-token was not issued by persona-mock, has expired, or names no relay.",
        )
    };
    let claims = state
        .session_tokens
        .verify(
            token,
            state.unix_now(),
            state.relay_settings.session_token_lifetime,
        )
        .map_err(|_| invalid())?;
    let relay = state
        .relays
        .get(&claims.sub)
        .filter(|relay| {
            relay.claim_type == claims.claim_type
                && relay.namespace.name() == claims.namespace
                && (relay.namespace == Namespace::Sandbox) == claims.sandbox
        })
        .ok_or_else(invalid)?;
    Ok((relay.token, relay.claim_type, relay.namespace))
}

fn page(state: &State, parts: &Parts) -> Result<HttpResponse, ApiError> {
    let token = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("relay-session-access-token="))
        .and_then(decode_query_value)
        .ok_or_else(|| {
            ApiError::bad_request(
                "Open /relay?relay-session-access-token=<the token create-relay returned>.",
            )
        })?;
    let (relay, claim_type, namespace) = relay_of(state, &token)?;
    let methods: String = METHODS
        .iter()
        .map(|m| format!(r#"<option value="{m}">{m}</option>"#))
        .collect();
    let note = if namespace == Namespace::Sandbox {
        "<p class=note>A sandbox relay: its claims always pass.</p>"
    } else {
        ""
    };
    let html = PAGE_HTML
        .replace("{claim_type}", &escape(&claim_type))
        .replace("{namespace}", namespace.name())
        .replace("{relay}", &escape(&relay))
        .replace("{token}", &escape(&token))
        .replace("{methods}", &methods)
        .replace("{note}", note);
    let mut response = Response::new(Bytes::from(html));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(response)
}

#[derive(Deserialize)]
struct Completion {
    token: String,
    result: String,
    method: Option<String>,
}

fn complete(state: &State, body: &RequestBody) -> Result<HttpResponse, ApiError> {
    let bytes = super::whole_body(state, body)?;
    let input: Completion = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "Send {{\"token\": …, \"result\": \"passed\" | \"failed\", \"method\": …}} ({e})."
        ))
    })?;
    let (relay, claim_type, namespace) = relay_of(state, &input.token)?;
    let result = match input.result.as_str() {
        "passed" => ClaimResult::Passed,
        "failed" => ClaimResult::Failed,
        other => {
            return Err(ApiError::unprocessable(
                "/result",
                format!("{other:?} is not a result: passed or failed."),
            ));
        }
    };
    if namespace == Namespace::Sandbox && result != ClaimResult::Passed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Sandbox relays always pass.",
        ));
    }
    let mut outcome = Outcome::default_for(&claim_type, result);
    if let (Some(method), Some(list)) = (input.method, outcome.methodology.as_mut()) {
        if !METHODS.contains(&method.as_str()) {
            return Err(ApiError::unprocessable(
                "/method",
                format!("{method:?} is not a method: {}.", METHODS.join(", ")),
            ));
        }
        *list = vec![Method { method, result }];
    }
    state.relays.update(&relay, |r| r.outcome = outcome.clone());
    tracing::info!(relay = %relay, result = result.name(), "hosted flow completed");
    Ok(json_value(
        StatusCode::OK,
        &serde_json::json!({"relay_token": relay, "claim_result": result, "methodology": outcome.methodology}),
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const PAGE_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>persona-mock: verify {claim_type}</title>
<style>
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  main { max-width: 32rem; margin: 3rem auto; padding: 0 1rem; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
  dt { font-weight: 600; }
  button { font-size: 1rem; padding: .5rem 1.25rem; margin-right: .5rem; cursor: pointer; }
  .note { color: #777; }
  #status { margin-top: 1.5rem; font-weight: 600; }
</style>
</head>
<body>
<main>
  <h1>Verify: <span id="claim-type">{claim_type}</span></h1>
  <p>persona-mock stands in for Persona's hosted verification. Finish it as the person would.</p>
  <dl>
    <dt>Claim type</dt><dd>{claim_type}</dd>
    <dt>Namespace</dt><dd id="namespace">{namespace}</dd>
    <dt>Relay</dt><dd><code>{relay}</code></dd>
  </dl>
  {note}
  <p><label>Methodology <select id="method">{methods}</select></label></p>
  <p>
    <button id="pass" type="button">Pass</button>
    <button id="fail" type="button">Fail</button>
  </p>
  <p id="status" role="status"></p>
</main>
<script>
  const token = "{token}";
  async function finish(result) {
    const method = document.getElementById("method").value;
    const response = await fetch("/relay/complete", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token, result, method }),
    });
    const body = await response.json();
    document.getElementById("status").textContent = response.ok
      ? `Verification finished: ${body.claim_result}`
      : `Not finished: ${body.errors[0].details}`;
  }
  document.getElementById("pass").addEventListener("click", () => finish("passed"));
  document.getElementById("fail").addEventListener("click", () => finish("failed"));
</script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::jwt::{self, SessionClaims};
    use crate::flow::relays::Relay;
    use crate::settings::Settings;

    fn state_with_relay() -> State {
        let state = State::new(
            &Settings::default(),
            std::sync::Arc::new(crate::clock::SystemClock::new()),
        )
        .unwrap();
        state.relays.insert(Relay {
            token: "relay_a".into(),
            secret: "s".into(),
            claim_type: "age_over21_verified".into(),
            namespace: Namespace::Production,
            encryption_key: None,
            created: String::new(),
            outcome: Outcome::default_for("age_over21_verified", ClaimResult::Pending),
            redemptions: Vec::new(),
            session: "default".into(),
        });
        state
    }

    fn token(state: &State, claim_type: &str, namespace: Namespace) -> String {
        let now = state.unix_now();
        state.session_tokens.sign(&SessionClaims {
            iss: jwt::ISSUER.into(),
            sub: "relay_a".into(),
            aud: jwt::AUDIENCE.into(),
            claim_type: claim_type.into(),
            namespace: namespace.name().into(),
            sandbox: namespace == Namespace::Sandbox,
            iat: now,
            exp: now + 60,
            jti: "j".into(),
        })
    }

    #[test]
    fn a_token_names_its_relay_only_with_the_relay_s_claim_type_and_namespace() {
        let state = state_with_relay();
        let own = token(&state, "age_over21_verified", Namespace::Production);
        assert_eq!(relay_of(&state, &own).unwrap().0, "relay_a");
        for other in [
            token(&state, "age_over18_verified", Namespace::Production),
            token(&state, "age_over21_verified", Namespace::Sandbox),
        ] {
            assert_eq!(
                relay_of(&state, &other).unwrap_err().status,
                StatusCode::NOT_FOUND
            );
        }
    }
}
