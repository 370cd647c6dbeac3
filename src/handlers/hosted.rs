//! The hosted flow, as the mock plays it: Persona's client SDK opens
//! `relay.withpersona.com/relay?relay-session-access-token=…` for a person
//! to verify; the mock serves `/relay?relay-session-access-token=…` with a
//! small page (no external assets, works offline) that shows the relay's
//! claim type and namespace and lets a person or a browser test finish it
//! as passed or failed, with a methodology. That outcome is what
//! generate-claim answers from then on.

use crate::api::ApiError;
use crate::api::response::{HttpResponse, json_value};
use crate::flow::relays::{Completion, METHODS};
use crate::http::Call;
use crate::ids::query_value;
use crate::keys::Namespace;
use crate::state::State;
use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use serde::Deserialize;
use std::sync::OnceLock;

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

/// `GET /relay?relay-session-access-token=…`: the page.
pub(crate) fn page(state: &State, call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let token =
        query_value(call.parts.uri.query(), "relay-session-access-token").ok_or_else(|| {
            ApiError::bad_request(
                "Open /relay?relay-session-access-token=<the token create-relay returned>.",
            )
        })?;
    let (relay, claim_type, namespace) = relay_of(state, &token)?;
    let html = render(&claim_type, namespace, &relay, &token);
    let mut response = Response::new(Bytes::from(html));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    for (name, value) in page_headers() {
        headers.insert(name.clone(), value.clone());
    }
    Ok(response)
}

/// The page with its fields filled in.
fn render(claim_type: &str, namespace: Namespace, relay: &str, token: &str) -> String {
    let note = if namespace == Namespace::Sandbox {
        "A sandbox relay: its claims always pass."
    } else {
        ""
    };
    let methods: String = METHODS
        .iter()
        .map(|m| {
            let m = escape(m);
            format!(r#"<option value="{m}">{m}</option>"#)
        })
        .collect();
    fill(PAGE_HTML, |name| match name {
        "claim_type" => Some(escape(claim_type)),
        "namespace" => Some(escape(namespace.name())),
        "relay" => Some(escape(relay)),
        "token" => Some(escape(token)),
        "note" => Some(escape(note)),
        "methods" => Some(methods.clone()),
        "style" => Some(PAGE_STYLE.to_string()),
        "script" => Some(PAGE_SCRIPT.to_string()),
        _ => None,
    })
}

/// Fills `{{name}}` placeholders in one pass over the template: a value is
/// inserted as given (the caller escapes it for its place) and never read
/// again, so a value that contains `{{…}}` stays as it is. An unknown name
/// is left in place.
fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 512);
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        match after.find("}}") {
            Some(close) => {
                let name = &after[..close];
                match value(name) {
                    Some(text) => out.push_str(&text),
                    None => out.push_str(&rest[open..open + close + 4]),
                }
                rest = &after[close + 2..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The page's security headers: its script and style run only as shipped
/// (by hash), it fetches only its own origin, no site may frame it, and
/// its URL (which carries a session token) is neither cached nor sent as a
/// referrer.
fn page_headers() -> &'static [(HeaderName, HeaderValue)] {
    static HEADERS: OnceLock<Vec<(HeaderName, HeaderValue)>> = OnceLock::new();
    HEADERS.get_or_init(|| {
        let hash = |text: &str| {
            use base64::Engine;
            use sha2::{Digest, Sha256};
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
        };
        let policy = format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            hash(PAGE_SCRIPT),
            hash(PAGE_STYLE)
        );
        let header = |name: &'static str, value: &str| {
            (
                HeaderName::from_static(name),
                HeaderValue::from_str(value).expect("ASCII header values"),
            )
        };
        vec![
            header("content-security-policy", &policy),
            header("x-content-type-options", "nosniff"),
            header("x-frame-options", "DENY"),
            header("cache-control", "no-store"),
            header("referrer-policy", "no-referrer"),
        ]
    })
}

/// `POST /relay/complete`'s body.
#[derive(Deserialize)]
struct PageCompletion {
    token: String,
    result: String,
    method: Option<String>,
}

/// `POST /relay/complete`: the page's outcome.
pub(crate) fn complete(state: &State, call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let bytes = super::whole_body(state, call.body)?;
    let input: PageCompletion = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "Send {{\"token\": …, \"result\": \"passed\" | \"failed\", \"method\": …}} ({e})."
        ))
    })?;
    let (relay, _, _) = relay_of(state, &input.token)?;
    let methodology = input
        .method
        .map(|method| vec![(method, input.result.clone())]);
    let completed = state.relays.complete(
        &relay,
        Completion {
            result: input.result,
            methodology,
            allow_pending: false,
            methodology_field: "/method",
        },
    )?;
    let (result, outcome) = (completed.outcome.result, completed.outcome);
    tracing::info!(relay = %relay, result = result.name(), "hosted flow completed");
    Ok(json_value(
        StatusCode::OK,
        &serde_json::json!({"relay_token": relay, "claim_result": result, "methodology": outcome.methodology}),
    ))
}

/// Text escaped for HTML content and quoted attribute values (XML too).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page; `{{…}}` are filled by [`fill`].
const PAGE_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>persona-mock: verify {{claim_type}}</title>
<style>{{style}}</style>
</head>
<body>
<main data-token="{{token}}">
  <h1>Verify: <span id="claim-type">{{claim_type}}</span></h1>
  <p>persona-mock stands in for Persona's hosted verification. Finish it as the person would.</p>
  <dl>
    <dt>Claim type</dt><dd>{{claim_type}}</dd>
    <dt>Namespace</dt><dd id="namespace">{{namespace}}</dd>
    <dt>Relay</dt><dd><code>{{relay}}</code></dd>
  </dl>
  <p class="note">{{note}}</p>
  <p><label>Methodology <select id="method">{{methods}}</select></label></p>
  <p>
    <button id="pass" type="button">Pass</button>
    <button id="fail" type="button">Fail</button>
  </p>
  <p id="status" role="status"></p>
</main>
<script>{{script}}</script>
</body>
</html>
"#;

/// The page's style, allowed by its hash.
const PAGE_STYLE: &str = r#"
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  main { max-width: 32rem; margin: 3rem auto; padding: 0 1rem; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
  dt { font-weight: 600; }
  button { font-size: 1rem; padding: .5rem 1.25rem; margin-right: .5rem; cursor: pointer; }
  .note { color: #777; }
  #status { margin-top: 1.5rem; font-weight: 600; }
"#;

/// The page's script, allowed by its hash: the same for every relay (the
/// token is read from the page, never written into the script).
const PAGE_SCRIPT: &str = r#"
  const token = document.querySelector("main").dataset.token;
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
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::ClaimResult;
    use crate::flow::jwt::{self, SessionClaims};
    use crate::flow::relays::{Outcome, Relay};
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

    #[test]
    fn placeholders_are_filled_once_and_values_are_escaped() {
        let html = render(
            "age_over18_verified",
            Namespace::Production,
            "relay_{{token}}",
            "t\"<script>{{methods}}",
        );
        assert!(
            html.contains("<code>relay_{{token}}</code>"),
            "a value is not filled again"
        );
        assert!(html.contains(r#"data-token="t&quot;&lt;script&gt;{{methods}}""#));
        assert_eq!(html.matches("<script>").count(), 1);
        assert!(!fill(PAGE_HTML, |_| Some(String::new())).contains("{{"));
    }

    #[test]
    fn the_page_s_policy_allows_exactly_its_own_script_and_style() {
        use base64::Engine;
        use sha2::{Digest, Sha256};
        let html = render("c", Namespace::Sandbox, "r", "t");
        let inline = |open: &str, close: &str| {
            let start = html.find(open).unwrap() + open.len();
            html[start..start + html[start..].find(close).unwrap()].to_string()
        };
        let hash = |text: String| {
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
        };
        let policy = page_headers()
            .iter()
            .find(|(n, _)| n == "content-security-policy")
            .unwrap()
            .1
            .to_str()
            .unwrap();
        let script = format!(
            "script-src 'sha256-{}'",
            hash(inline("<script>", "</script>"))
        );
        let style = format!("style-src 'sha256-{}'", hash(inline("<style>", "</style>")));
        assert!(policy.contains(&script), "{policy}");
        assert!(policy.contains(&style), "{policy}");
        assert!(
            policy.starts_with("default-src 'none'") && policy.contains("frame-ancestors 'none'")
        );
    }
}
