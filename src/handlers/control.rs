//! The control API under `/__mock/`: health, the request journal, resets,
//! session bindings, scenarios at run time, keys and unmatched requests.
//! It never clashes with Persona's paths, and it is served only on a
//! loopback address unless a control token is set.

use crate::api::ApiError;
use crate::api::body::RequestBody;
use crate::api::response::{HttpResponse, json_value};
use crate::auth::scenario_window_key;
use crate::http::Call;
use crate::ids::{decode_segment, is_session_id, query_value, session_segment};
use crate::journal::JournalEntry;
use crate::keys::Namespace;
use crate::privacypass::hex;
use crate::scenario::{Scenario, Then};
use crate::state::{ControlAccess, State, UnmatchedRequest};
use hyper::header::{HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use serde::Serialize;
use std::borrow::Cow;

static TOKEN_HEADER: HeaderName = HeaderName::from_static("persona-mock-token");

#[derive(Serialize)]
struct Status<'a> {
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<&'a str>,
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    /// `ready`, or `generating` while issuer keys are still being made
    /// (requests that need one wait for it).
    keys: &'static str,
}

#[derive(Serialize)]
struct Requests<'a> {
    session: Option<&'a str>,
    count: usize,
    dropped: u64,
    requests: Vec<JournalEntry>,
    /// The cursor of the next page (`?after=`), or null on the last one.
    next: Option<String>,
}

/// Entries in a page of a listing (relays, the journal) when the request
/// gives no `limit`: a session's whole journal at the default limits.
pub(crate) const DEFAULT_PAGE: usize = 1_000;
/// The most entries in a page.
pub(crate) const MAX_PAGE: usize = 1_000;

/// `limit=N` (1 to [`MAX_PAGE`], default `default`) and `after=CURSOR` (an
/// earlier page's `next`; default: from the first) of a listing.
fn page_params(parts: &Parts, default: usize) -> Result<(u64, usize), ApiError> {
    let limit = match query_value(parts.uri.query(), "limit") {
        None => default,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "limit must be a number from 1 to {MAX_PAGE} (got {:?}).",
                    crate::api::conventions::truncate(&text)
                ))
            })?,
    };
    let after = match query_value(parts.uri.query(), "after") {
        None => 0,
        Some(text) => text.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "after must be the next cursor of an earlier page (got {:?}).",
                crate::api::conventions::truncate(&text)
            ))
        })?,
    };
    Ok((after, limit))
}

#[derive(Serialize)]
struct ScenarioSummary<'a> {
    name: &'a str,
    description: &'a str,
    origin: &'a str,
    steps: usize,
    then: &'a str,
    rate_limit: Option<RateLimitSummary>,
}

#[derive(Serialize)]
struct RateLimitSummary {
    limit: u32,
    window_s: u64,
}

#[derive(Serialize)]
struct Position {
    step: usize,
    answered: u32,
    finished: bool,
    steps: usize,
}

#[derive(Serialize)]
struct Window {
    limit: u32,
    remaining: u32,
    reset_s: u64,
}

#[derive(Serialize)]
struct SessionView<'a> {
    session: &'a str,
    scenario: Option<&'a str>,
    bound: bool,
    position: Option<Position>,
    rate_limit: Option<Window>,
}

#[derive(Serialize)]
struct KeyView<'a> {
    claim_type: &'a str,
    namespace: &'static str,
    token_type: u16,
    token_key: &'a str,
    token_key_id: &'a str,
}

#[derive(Serialize)]
struct Endpoints {
    endpoints: Vec<&'static str>,
}

#[derive(Serialize)]
struct ScenarioList<'a> {
    scenarios: Vec<ScenarioSummary<'a>>,
}

#[derive(Serialize)]
struct KeyList<'a> {
    keys: Vec<KeyView<'a>>,
}

#[derive(Serialize)]
struct UnmatchedView<'a> {
    strict: bool,
    dropped: u64,
    unmatched: &'a [UnmatchedRequest],
}

fn ok<T: Serialize>(status: StatusCode, value: &T) -> Result<HttpResponse, ApiError> {
    Ok(json_value(status, value))
}

fn summary(scenario: &Scenario) -> ScenarioSummary<'_> {
    ScenarioSummary {
        name: &scenario.name,
        description: &scenario.description,
        origin: &scenario.origin,
        steps: scenario.steps.len(),
        then: match scenario.then {
            Then::Real => "real",
            Then::RepeatLast => "repeat-last",
            Then::Loop => "loop",
        },
        rate_limit: scenario.rate_limit.map(|r| RateLimitSummary {
            limit: r.limit,
            window_s: r.window.as_secs(),
        }),
    }
}

/// The value of `session=` in a query, percent-decoded.
fn session_param(parts: &Parts) -> Result<Option<String>, ApiError> {
    match query_value(parts.uri.query(), "session") {
        Some(value) if !is_session_id(value.as_bytes()) => Err(ApiError::bad_request(
            "session must be 1 to 128 visible ASCII characters.",
        )),
        value => Ok(value),
    }
}

/// Refuses a control request the listening address does not allow: beyond
/// loopback the control API needs the token, and without one it is not
/// served. Health reveals nothing, so container health checks reach it on
/// any address without the token.
pub(crate) fn check_access(state: &State, parts: &Parts) -> Result<(), ApiError> {
    if crate::http::is_health(parts.uri.path()) {
        return Ok(());
    }
    match &state.control {
        ControlAccess::Loopback => Ok(()),
        ControlAccess::Token(token) => {
            let sent = parts
                .headers
                .get(&TOKEN_HEADER)
                .map_or(&[][..], HeaderValue::as_bytes);
            if hex::constant_time_eq(sent, token.as_bytes()) {
                Ok(())
            } else {
                Err(ApiError {
                    title: Cow::Borrowed("Must be authenticated to access this endpoint"),
                    ..ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "The control API needs the Persona-Mock-Token header with the token given to --control-token.",
                    )
                })
            }
        }
        ControlAccess::Off => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "The control API is served only when persona-mock listens on a loopback address; start it with --control-token TOKEN to serve it here, and send Persona-Mock-Token: TOKEN.",
        )),
    }
}

/// `GET /__mock`: the control endpoints, from the routing table.
pub(crate) fn index(_: &State, _: &Call<'_>) -> Result<HttpResponse, ApiError> {
    ok(
        StatusCode::OK,
        &Endpoints {
            endpoints: crate::http::control_listing(),
        },
    )
}

/// `GET /__mock/health`.
pub(crate) fn health(state: &State, _: &Call<'_>) -> Result<HttpResponse, ApiError> {
    ok(
        StatusCode::OK,
        &Health {
            status: "ok",
            keys: if state.keys.all_made() {
                "ready"
            } else {
                "generating"
            },
        },
    )
}

/// `GET` and `DELETE /__mock/requests`: the journal, or clearing it.
pub(crate) fn requests(state: &State, call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let parts = call.parts;
    let session = session_param(parts)?;
    let journal = state.journal_or_conflict()?;
    let name = session.as_deref().map(|s| state.journal_session(s));
    if parts.method == Method::DELETE {
        journal.clear(name.as_deref());
        return ok(
            StatusCode::OK,
            &Status {
                status: "cleared",
                session: session.as_deref(),
            },
        );
    }
    let (after, limit) = page_params(parts, DEFAULT_PAGE)?;
    let view = journal.page(name.as_deref(), after, limit);
    let requests = Requests {
        session: session.as_deref(),
        count: view.requests.len(),
        dropped: view.dropped,
        requests: view.requests,
        next: view.next.map(|seq| seq.to_string()),
    };
    ok(StatusCode::OK, &requests)
}

/// `POST /__mock/reset`.
pub(crate) fn reset(state: &State, call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let session = session_param(call.parts)?;
    state.reset(session.as_deref());
    ok(
        StatusCode::OK,
        &Status {
            status: "reset",
            session: session.as_deref(),
        },
    )
}

/// `GET` and `PUT /__mock/sessions/{id}`: a session, or binding its scenario.
pub(crate) fn session(state: &State, call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let id = session_segment(call.param.unwrap_or_default())?;
    if call.parts.method == Method::PUT {
        let name = scenario_field(state, call.body)?;
        state.bind_scenario(&id, name.as_deref())?;
    }
    session_view(state, &id)
}

/// `GET /__mock/sessions/{id}/report`: the session's contract report, as
/// JSON, JUnit XML (`?format=junit`) or text (`?format=text`).
pub(crate) fn report(state: &State, call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let id = session_segment(call.param.unwrap_or_default())?;
    let format = query_value(call.parts.uri.query(), "format");
    let (content_type, render): (_, fn(&crate::report::Report) -> String) =
        match format.as_deref().unwrap_or("json") {
            "json" => ("application/json", crate::report::Report::json),
            "junit" => (
                "application/xml; charset=utf-8",
                crate::report::Report::junit,
            ),
            "text" => ("text/plain; charset=utf-8", crate::report::Report::text),
            other => {
                return Err(ApiError::bad_request(format!(
                    "format must be json, junit or text (got {:?}).",
                    crate::api::conventions::truncate(other)
                )));
            }
        };
    let body = render(&state.report(&id)?);
    let mut response = hyper::Response::new(bytes::Bytes::from(body));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    Ok(response)
}

/// `POST /__mock/sessions/{id}/verify`: expectations checked against the
/// session's journal.
pub(crate) fn verify(state: &State, call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let id = session_segment(call.param.unwrap_or_default())?;
    let expectations = crate::report::Expectation::read_all(super::whole_body(state, call.body)?)?;
    ok(StatusCode::OK, &state.verify(&id, &expectations)?)
}

/// `GET /__mock/scenarios`.
pub(crate) fn scenarios(state: &State, _: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let set = state.scenarios.current();
    let scenarios = set.iter().map(|s| summary(s)).collect();
    ok(StatusCode::OK, &ScenarioList { scenarios })
}

/// `GET`, `POST`, `PUT` and `DELETE /__mock/scenarios/{name}`.
pub(crate) fn scenario(state: &State, call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let name = &*decode_segment(call.param.unwrap_or_default()).ok_or_else(|| {
        ApiError::bad_request("The scenario name in the path is not valid percent-encoded UTF-8.")
    })?;
    match call.parts.method {
        Method::POST | Method::PUT => upload_scenario(state, name, call.body),
        Method::DELETE => {
            state.delete_scenario(name)?;
            ok(
                StatusCode::OK,
                &Status {
                    status: "deleted",
                    session: None,
                },
            )
        }
        _ => {
            let set = state.scenarios.current();
            let scenario = set.get(name).ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!(
                        "There is no scenario {name:?}. Available scenarios: {}.",
                        set.names()
                    ),
                )
            })?;
            ok(StatusCode::OK, &summary(scenario))
        }
    }
}

/// `GET /__mock/keys`.
pub(crate) fn keys(state: &State, _: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let mut keys = Vec::new();
    for namespace in Namespace::ALL {
        for claim_type in state.keys.claim_types() {
            let (_, key) = state
                .keys
                .get(namespace, claim_type)
                .expect("configured claim type");
            keys.push(KeyView {
                claim_type,
                namespace: namespace.name(),
                token_type: key.token_type.code(),
                token_key: key.token_key_b64(),
                token_key_id: key.token_key_id_hex(),
            });
        }
    }
    ok(StatusCode::OK, &KeyList { keys })
}

/// `GET /__mock/unmatched`.
pub(crate) fn unmatched(state: &State, _: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let (list, dropped) = state.unmatched.list();
    ok(
        StatusCode::OK,
        &UnmatchedView {
            strict: state.strict,
            dropped,
            unmatched: &list,
        },
    )
}

/// `GET /__mock/relays`.
pub(crate) fn relays(state: &State, call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let (after, limit) = page_params(call.parts, super::control_flow::DEFAULT_PAGE)?;
    super::control_flow::list(state, session_param(call.parts)?.as_deref(), after, limit)
}

/// `GET /__mock/relays/{token}`.
pub(crate) fn relay(state: &State, call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    super::control_flow::show(state, call.param.unwrap_or_default())
}

/// `POST /__mock/relays/{token}/complete`.
pub(crate) fn complete_relay(state: &State, call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    super::control_flow::complete(state, call.param.unwrap_or_default(), call.body)
}

/// `GET /__mock/jwks`.
pub(crate) fn jwks(state: &State, _: &Call<'_>) -> Result<HttpResponse, ApiError> {
    Ok(json_value(StatusCode::OK, &state.session_tokens.jwks()))
}

fn session_view(state: &State, session: &str) -> Result<HttpResponse, ApiError> {
    let bound = state.sessions.bound(session);
    let scenario = match &bound {
        Some(name) => state.scenarios.current().get(name).cloned(),
        None => state.scenarios.default_scenario(),
    };
    let position = scenario.as_ref().map(|s| {
        let (step, answered, finished) = state.sessions.position(session, &s.name);
        Position {
            step: step + 1,
            answered,
            finished,
            steps: s.steps.len(),
        }
    });
    let window = match scenario.as_ref().and_then(|s| s.rate_limit.map(|l| (s, l))) {
        Some((scenario, limit)) => state
            .limiter
            .peek(&scenario_window_key(session, &scenario.name), limit.limit),
        None => {
            let limit = state
                .auth
                .keys
                .get(session)
                .and_then(|k| k.limit)
                .unwrap_or(state.auth.default_limit);
            state.limiter.peek(session, limit)
        }
    };
    let view = SessionView {
        session,
        scenario: scenario.as_ref().map(|s| s.name.as_str()),
        bound: bound.is_some(),
        position,
        rate_limit: window.map(|w| Window {
            limit: w.limit,
            remaining: w.remaining,
            reset_s: w.reset_s,
        }),
    };
    ok(StatusCode::OK, &view)
}

fn upload_scenario(
    state: &State,
    name: &str,
    body: &RequestBody,
) -> Result<HttpResponse, ApiError> {
    let bytes = super::whole_body(state, body)?;
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("The scenario must be UTF-8 TOML text."))?;
    let existed = state.scenarios.current().get(name).is_some();
    let scenario = state.upload_scenario(name, text)?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut response = ok(status, &summary(&scenario))?;
    if !existed {
        let location = HeaderValue::from_str(&format!("/__mock/scenarios/{name}"))
            .expect("scenario names are header-safe");
        response
            .headers_mut()
            .insert(hyper::header::LOCATION, location);
    }
    Ok(response)
}

/// `{"scenario": "NAME"}` or `{"scenario": null}` from a PUT body.
fn scenario_field(state: &State, body: &RequestBody) -> Result<Option<String>, ApiError> {
    const USAGE: &str =
        r#"Send {"scenario": "NAME"} to bind a scenario, or {"scenario": null} to unbind."#;
    let bytes = super::whole_body(state, body)?;
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(map)) if map.len() == 1 => match map.get("scenario") {
            Some(serde_json::Value::String(name)) => Ok(Some(name.clone())),
            Some(serde_json::Value::Null) => Ok(None),
            _ => Err(ApiError::bad_request(USAGE)),
        },
        _ => Err(ApiError::bad_request(USAGE)),
    }
}
