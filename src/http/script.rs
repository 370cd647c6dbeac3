//! The scenario step of the pipeline: which scenario a request runs under,
//! which of its steps answers, and the response a scripted step makes.

use crate::api::body::{Body, Json};
use crate::api::conventions::truncate;
use crate::api::response::{HttpResponse, error_response};
use crate::api::route::Route;
use crate::api::{ApiError, persona_title};
use crate::auth::rate_limit_details;
use crate::flow::ClaimResult;
use crate::scenario::{Fault, RequestFacts, Scenario, Step, StepBody};
use crate::state::State;
use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;

pub(crate) static SCENARIO_HEADER: HeaderName = HeaderName::from_static("persona-mock-scenario");
use crate::api::conventions::RATELIMIT_LIMIT;

/// What a scenario step adds to the response, and what the journal notes.
#[derive(Default)]
pub(crate) struct Script<'a> {
    /// Headers that replace the response's own.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Wait before answering.
    pub delay: Option<std::time::Duration>,
    /// Connection failure.
    pub fault: Option<Fault>,
    /// The session (noted only when the journal or the request log is on).
    pub session: Option<Cow<'a, str>>,
    /// The scenario in force.
    pub scenario: Option<String>,
    /// The step that answered, from 1.
    pub step: Option<usize>,
    /// The endpoint of Persona's API the path named.
    pub route: Option<Route>,
    /// The claim result a real step asks generate-claim to answer with.
    pub claim_result: Option<ClaimResult>,
    /// Whether the request is logged (then the session is noted too).
    pub log: bool,
    /// When the request is answered, on the state's clock: read once, for
    /// the handler and the journal.
    pub now: std::time::Duration,
}

/// The scenario a request runs under: the `Persona-Mock-Scenario` header's,
/// else the path prefix's, else the session's bound one, else the default.
pub(crate) fn scenario_for(
    state: &State,
    header: Option<&HeaderValue>,
    prefixed: Option<&str>,
    session: &str,
) -> Result<Option<Arc<Scenario>>, ApiError> {
    let (name, from) = match (header, prefixed) {
        (Some(value), _) => (
            String::from_utf8_lossy(value.as_bytes()).trim().to_string(),
            "the Persona-Mock-Scenario header",
        ),
        (None, Some(name)) => (name.to_string(), "the request path"),
        (None, None) => match state.sessions.bound(session) {
            Some(name) => (name, "the session's binding"),
            None => return Ok(state.scenarios.default_scenario()),
        },
    };
    let scenarios = state.scenarios.current();
    match scenarios.get(&name) {
        Some(scenario) => Ok(Some(scenario.clone())),
        None => Err(ApiError::bad_request(format!(
            "Unknown scenario {:?}{} named by {from}. Available scenarios: {}.",
            truncate(&name),
            scenarios.suggestion(&name),
            scenarios.names()
        ))),
    }
}

/// What a scenario step does with a request.
pub(crate) enum Play {
    /// Send this instead of running the endpoint.
    Now(HttpResponse),
    /// Run the endpoint (its effects happen), then send this instead.
    AfterReal(HttpResponse),
}

/// Advances the session in the scenario; notes the step in `script` and
/// returns the scripted response unless the step stands for the real one.
pub(crate) fn play(
    state: &State,
    scenario: &Scenario,
    session: &str,
    facts: &Facts<'_>,
    script: &mut Script<'_>,
) -> Option<Play> {
    script.scenario = Some(scenario.name.clone());
    let pick = state.sessions.advance(session, scenario, facts)?;
    script.step = Some(pick.step + 1);
    let step = &scenario.steps[pick.step];
    script.delay = step.delay;
    script.fault = step.fault;
    script.headers = step
        .headers_for(pick.repetition)
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    if step.is_real() {
        script.claim_result = step.claim_result;
        return None;
    }
    let response = scripted(state, step, &script.headers);
    Some(if step.after_real {
        Play::AfterReal(response)
    } else {
        Play::Now(response)
    })
}

/// The request as a step's `when` sees it. The body is parsed only when a
/// condition looks at it, and then shared with the handler.
pub(crate) struct Facts<'a> {
    /// The endpoint.
    pub route: Route,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The body, if it was read whole.
    pub body: Option<&'a Body>,
}

impl RequestFacts for Facts<'_> {
    fn endpoint(&self) -> Route {
        self.route
    }

    fn body(&self, pointer: &str) -> Option<Option<&Value>> {
        let body = self.body?;
        match body.json() {
            Ok(Json::Object(_)) => Some(body.pointer(pointer)),
            _ => None,
        }
    }

    fn header(&self, name: &HeaderName) -> Option<&[u8]> {
        self.headers.get(name).map(HeaderValue::as_bytes)
    }
}

/// The response a non-real step scripts.
fn scripted(state: &State, step: &Step, headers: &[(HeaderName, HeaderValue)]) -> HttpResponse {
    let status = step.status;
    match &step.body {
        StepBody::Verbatim { body, content_type } => {
            let mut response = Response::new(Bytes::from(body.clone()));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(CONTENT_TYPE, content_type.clone());
            response
        }
        StepBody::Standard { .. } if !(status.is_client_error() || status.is_server_error()) => {
            let mut response = Response::new(Bytes::new());
            *response.status_mut() = status;
            response
        }
        StepBody::Standard {
            title,
            details,
            pointer,
        } => {
            let details = details.clone().unwrap_or_else(|| {
                let limit = headers
                    .iter()
                    .find(|(name, _)| *name == RATELIMIT_LIMIT)
                    .and_then(|(_, value)| value.to_str().ok()?.parse().ok());
                default_details(
                    status,
                    limit.unwrap_or(state.auth.default_limit),
                    state.rate_limit_window,
                )
            });
            let error = ApiError {
                status,
                title: title
                    .clone()
                    .map_or_else(|| persona_title(status), Cow::Owned),
                details,
                pointer: pointer.clone().map(Cow::Owned),
                more: Vec::new(),
                allow: None,
                refusal: None,
            };
            error_response(&error)
        }
    }
}

/// Details of a scripted error that does not give its own, in Persona's voice.
fn default_details(status: StatusCode, limit: u32, window: std::time::Duration) -> String {
    match status.as_u16() {
        400 => "The request could not be understood.".into(),
        401 => "The API key is missing or invalid.".into(),
        403 => "You do not have permission to access this resource.".into(),
        404 => "The requested record was not found.".into(),
        408 => "The request took too long.".into(),
        409 => "The request conflicts with the current state of the record.".into(),
        422 => "The request could not be processed.".into(),
        429 => rate_limit_details(limit, window),
        500 => "Something went wrong on our end. Please try again.".into(),
        502..=504 => "The service is temporarily unavailable. Please try again later.".into(),
        _ => status.canonical_reason().unwrap_or("Error").to_string() + ".",
    }
}
