//! The request pipeline, as named steps read top to bottom:
//! head limits → guard (a panic becomes a 500) → session → route →
//! scenario step → auth → idempotency → conventions → body → handler →
//! journal. Control API and hosted-page requests take a site check
//! (`site`) and their handler instead.
//! Nothing here touches sockets (`server` does), so tests and benches call
//! [`respond`] directly.

mod auth;
pub(crate) mod cors;
mod fault;
pub(crate) mod handle;
mod heads;
mod idempotent;
mod router;
mod script;
pub(crate) mod server;
mod session;
mod site;

pub use session::DEFAULT_SESSION;

pub(crate) use router::{Call, control_listing, is_health};

use crate::api::ApiError;
use crate::api::body::{Body, RequestBody};
use crate::api::conventions::Inflection;
use crate::api::conventions::{check_content_type, check_headers};
use crate::api::response::{HttpResponse, error_response};
use crate::handlers::{Ctx, control};
use crate::journal::{JournalLimits, Record, RecordText, rfc3339};
use crate::scenario::Fault;
use crate::state::State;
use heads::Heads;
use hyper::StatusCode;
use hyper::header::{HeaderMap, HeaderName};
use hyper::http::request::Parts;
use script::{Facts, Play, Script};

static REQUEST_ID: HeaderName = HeaderName::from_static("request-id");

/// What the connection layer must do with a request: wait, then send the
/// response or fail the connection as a scenario scripted.
#[derive(Debug)]
pub struct Answer {
    /// The response (for `Fault::Truncated`, the one to cut short).
    pub response: HttpResponse,
    /// Wait this long first.
    pub delay: Option<std::time::Duration>,
    /// Fail the connection instead of (or while) answering.
    pub fault: Option<Fault>,
}

impl Answer {
    fn now(response: HttpResponse) -> Answer {
        Answer {
            response,
            delay: None,
            fault: None,
        }
    }
}

/// Answers one request. Never panics: a bug becomes a Persona-shaped 500.
pub fn respond(state: &State, parts: &Parts, body: RequestBody) -> Answer {
    // One debug line per request; when debug is off this costs one check,
    // and the answer is returned as it is made, without a move.
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return answer(state, parts, body, &mut Script::default());
    }
    let started = std::time::Instant::now();
    let mut script = Script {
        log: true,
        ..Script::default()
    };
    let answer = answer(state, parts, body, &mut script);
    tracing::debug!(
        method = %parts.method,
        path = parts.uri.path(),
        session = &*state.shown_session(script.session.as_deref().unwrap_or(""), parts.headers.get(hyper::header::AUTHORIZATION)),
        scenario = script.scenario.as_deref().unwrap_or(""),
        step = script.step.unwrap_or(0),
        status = answer.response.status().as_u16(),
        duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    answer
}

fn answer<'a>(
    state: &State,
    parts: &'a Parts,
    body: RequestBody,
    script: &mut Script<'a>,
) -> Answer {
    let heads = match check_head(state, parts) {
        Ok(heads) => heads,
        Err(error) => return Answer::now(guard(state, parts, |_| Err(error))),
    };
    let path = parts.uri.path();
    if let Some((row, param)) = router::site_row(path) {
        let response = guard(state, parts, |_| {
            site::check(state, parts, &heads)?;
            if matches!(row.target, router::Target::Control(_)) {
                control::check_access(state, parts)?;
            }
            row.check_method(&parts.method, path)?;
            let call = Call {
                parts,
                body: &body,
                param,
            };
            match row.target {
                router::Target::Control(handler) | router::Target::Hosted(handler) => {
                    handler(state, &call)
                }
                router::Target::Api(_) => unreachable!("site rows are control or hosted"),
            }
        });
        if matches!(row.target, router::Target::Control(_))
            && parts.method != hyper::Method::GET
            && parts.method != hyper::Method::HEAD
        {
            tracing::info!(
                method = %parts.method,
                path,
                query = &*crate::auth::mask_keys_in(parts.uri.query().unwrap_or("")),
                status = response.status().as_u16(),
                "control action"
            );
        }
        return Answer::now(response);
    }
    if router::is_control_path(path) {
        return Answer::now(guard(state, parts, |_| {
            site::check(state, parts, &heads)?;
            control::check_access(state, parts)?;
            Err(router::control_not_found(&parts.method, path))
        }));
    }
    if let Some(response) = cors::preflight(state, parts) {
        return Answer::now(guard(state, parts, |_| Ok(response)));
    }
    let (body, unread) = match body {
        RequestBody::Complete(bytes) => (Some(Body::new(bytes)), None),
        other => (None, Some(other)),
    };
    script.now = state.clock.now();
    let mut response = guard(state, parts, |extra| {
        api(state, parts, &heads, body.as_ref(), unread, extra, script)
    });
    let headers = response.headers_mut();
    for (name, value) in std::mem::take(&mut script.headers) {
        headers.insert(name, value);
    }
    cors::decorate(state, heads.origin, headers);
    if let Some(journal) = &state.journal {
        // API keys are kept masked: in the Authorization header, and as the
        // name of a session the key names.
        let masked = heads
            .authorization
            .filter(|_| state.mask_api_keys)
            .and_then(|value| crate::auth::mask_authorization(value.as_bytes()))
            .map(|masked| {
                let mut headers = parts.headers.clone();
                headers.insert(
                    hyper::header::AUTHORIZATION,
                    hyper::header::HeaderValue::from_str(&masked)
                        .unwrap_or(hyper::header::HeaderValue::from_static("[masked]")),
                );
                let len = Record::packed_len(&headers);
                (headers, len)
            });
        let (headers, headers_len) = match &masked {
            Some((headers, len)) => (headers, *len),
            None => (&parts.headers, heads.packed_len),
        };
        let session = state.shown_session(
            script.session.as_deref().unwrap_or(DEFAULT_SESSION),
            heads.authorization,
        );
        journal.record(journal_record(
            journal.limits(),
            state.wall_time(script.now),
            parts,
            (headers, headers_len),
            &session,
            body.as_ref().map(|body| &body.bytes()[..]),
            script,
            &response,
        ));
    }
    Answer {
        response,
        delay: script.delay,
        fault: script.fault,
    }
}

/// 431 if the request head is over the limits; else the headers the
/// pipeline reads.
fn check_head<'a>(state: &State, parts: &'a Parts) -> Result<Heads<'a>, ApiError> {
    let limits = state.limits;
    let count = parts.headers.len();
    if count > limits.max_headers {
        return Err(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "The request has {count} header lines; at most {} are accepted.",
                limits.max_headers
            ),
        ));
    }
    let (heads, header_bytes) = Heads::scan(&parts.headers);
    let size = parts.method.as_str().len()
        + parts.uri.path_and_query().map_or(1, |p| p.as_str().len())
        + header_bytes;
    if size > limits.max_header_bytes {
        return Err(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "The request line and headers are {size} bytes; at most {} are accepted.",
                limits.max_header_bytes
            ),
        ));
    }
    Ok(heads)
}

/// The 500 for a request the mock failed to answer (a bug).
pub(crate) fn failed() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "persona-mock failed while answering this request; please report it with the request that caused it",
    )
}

/// Runs a step, turning its error or panic into Persona's envelope and
/// adding the headers every response carries.
fn guard(
    state: &State,
    parts: &Parts,
    step: impl FnOnce(&mut HeaderMap) -> Result<HttpResponse, ApiError>,
) -> HttpResponse {
    let mut extra = HeaderMap::new();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| step(&mut extra)));
    let mut response = match outcome {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => error_response(&error),
        Err(_) => {
            tracing::error!(method = %parts.method, path = parts.uri.path(), "handler panicked");
            extra.clear();
            error_response(&failed())
        }
    };
    let headers = response.headers_mut();
    if !extra.is_empty() {
        headers.extend(extra);
    }
    headers.insert(REQUEST_ID.clone(), state.fresh.request_id());
    response
}

/// The API request's steps after the guard.
fn api<'a>(
    state: &State,
    parts: &'a Parts,
    heads: &Heads<'a>,
    body: Option<&Body>,
    unread: Option<RequestBody>,
    extra: &mut HeaderMap,
    script: &mut Script<'a>,
) -> Result<HttpResponse, ApiError> {
    let target = session::strip_prefix(parts.uri.path())?;
    let session = session::resolve(heads, &target)?;
    if state.journal.is_some() || script.log {
        script.session = Some(session.clone());
    }
    let Some((row, endpoint, param)) = router::endpoint(target.path) else {
        if state.strict {
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            state.unmatched.record(
                rfc3339(state.wall_time(script.now)),
                &state.shown_session(&session, heads.authorization),
                parts.method.as_str(),
                path,
            );
        }
        return Err(router::not_found(&parts.method, parts.uri.path()));
    };
    row.check_method(&parts.method, target.path)?;
    script.route = Some(endpoint.route);
    let scenario = script::scenario_for(state, heads.scenario, target.scenario, &session)?;
    let mut scripted_after = None;
    if let Some(scenario) = &scenario {
        let facts = Facts {
            route: endpoint.route,
            headers: &parts.headers,
            body,
        };
        match script::play(state, scenario, &session, &facts, script) {
            Some(Play::Now(response)) => return Ok(response),
            Some(Play::AfterReal(response)) => scripted_after = Some(response),
            None => {}
        }
    }
    if state.challenge_on_401
        && endpoint.auth == router::AuthPolicy::PrivateToken
        && auth::lacks_private_token(heads.authorization)
        && let Some(value) =
            crate::handlers::claim::token_challenge(state, param, &session, script.now)
    {
        // The details Persona's older guides give with the challenge.
        extra.insert(hyper::header::WWW_AUTHENTICATE, value);
        return Err(auth::token_required(
            "Use the provided challenge to obtain a token",
        ));
    }
    let scenario_limit = scenario.as_ref().and_then(|s| s.rate_limit.map(|l| (s, l)));
    let private_token = auth::authorize(
        state,
        endpoint.auth,
        heads.authorization,
        extra,
        &session,
        scenario_limit,
    )?;
    let claim = if endpoint.idempotent {
        match idempotent::begin(
            state,
            endpoint,
            target.path,
            parts,
            heads.idempotency_key,
            body,
            &session,
        )? {
            idempotent::Begin::Replay(response) => return Ok(response),
            idempotent::Begin::Run(claim) => claim,
        }
    } else {
        None
    };
    let ctx = Ctx {
        inflection: Inflection::Kebab,
        session: &session,
        headers: &parts.headers,
        param,
        private_token,
        claim_result: script.claim_result,
        now: script.now,
    };
    // The usual request returns the handler's result as it is, without
    // moving it through the matches below (a response is 144 bytes).
    if claim.is_none() && scripted_after.is_none() {
        return handle(state, endpoint, heads, ctx, body, unread);
    }
    let result = handle(state, endpoint, heads, ctx, body, unread);
    let result = match claim {
        Some(claim) => Ok(claim.finish(state, result)),
        None => result,
    };
    match scripted_after {
        Some(response) => Ok(response),
        None => result,
    }
}

/// Conventions, body and handler: the part of a request an
/// `Idempotency-Key` replays.
fn handle(
    state: &State,
    endpoint: &router::Endpoint,
    heads: &Heads<'_>,
    mut ctx: Ctx<'_>,
    body: Option<&Body>,
    unread: Option<RequestBody>,
) -> Result<HttpResponse, ApiError> {
    ctx.inflection = check_headers(heads.persona_version, heads.key_inflection)?;
    check_content_type(heads.content_type)?;
    let body = match (body, unread) {
        (Some(body), _) => body,
        (None, unread) => return Err(unread_body(state, unread)),
    };
    let inflection = ctx.inflection;
    (endpoint.handler)(state, &ctx, body).map_err(|mut error| {
        // Pointers name fields as the response's keys do.
        if let Some(pointer) = &error.pointer {
            let inflected: Vec<String> = pointer
                .split('/')
                .map(|segment| inflection.apply(segment).into_owned())
                .collect();
            error.pointer = Some(inflected.join("/").into());
        }
        error
    })
}

/// The error for a body that was not read whole.
fn unread_body(state: &State, body: Option<RequestBody>) -> ApiError {
    let body = body.unwrap_or(RequestBody::TimedOut);
    match crate::handlers::whole_body(state, &body) {
        Err(error) => error,
        Ok(_) => ApiError::bad_request("The request body could not be read."),
    }
}

/// The journal's record of one request and its answer.
#[allow(clippy::too_many_arguments)]
fn journal_record<'a>(
    limits: JournalLimits,
    time: std::time::SystemTime,
    parts: &'a Parts,
    (headers, headers_len): (&'a hyper::HeaderMap, usize),
    session: &'a str,
    body: Option<&'a [u8]>,
    script: &'a Script<'_>,
    response: &'a HttpResponse,
) -> Record<'a> {
    // A body not read whole is recorded as empty and truncated.
    let (body, body_unread) = match body {
        Some(body) => (body, false),
        None => (&[][..], true),
    };
    let kept = body.len().min(limits.body_bytes);
    let answered = response.body();
    let answered = &answered[..answered.len().min(limits.body_bytes)];
    let mut record = Record::new(
        &parts.method,
        response.status().as_u16(),
        time,
        RecordText {
            session,
            path: parts.uri.path_and_query().map_or("/", |p| p.as_str()),
            headers,
            headers_len,
            body: &body[..kept],
            response_headers: response.headers(),
            response_body: answered,
        },
    );
    record.route = script.route;
    record.refusal = response.extensions().get::<crate::api::Refusal>().copied();
    record.body_truncated = body_unread || kept < body.len();
    record.scenario = script.scenario.as_deref();
    record.step = script.step;
    record.fault = script.fault;
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::settings::Settings;
    use bytes::Bytes;
    use hyper::header::{ALLOW, HeaderValue};
    use std::sync::Arc;

    const CHALLENGE_PATH: &str = "/api/privacy/v1/relays/challenge";

    fn state() -> State {
        State::new(&Settings::default(), Arc::new(SystemClock::new())).unwrap()
    }

    fn parts(method: &str, path: &str) -> Parts {
        hyper::Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    fn body_text(response: HttpResponse) -> String {
        String::from_utf8(response.into_body().to_vec()).unwrap()
    }

    #[test]
    fn a_panicking_handler_becomes_a_persona_500() {
        let state = state();
        let response = guard(&state, &parts("POST", CHALLENGE_PATH), |extra| {
            extra.insert(ALLOW, HeaderValue::from_static("POST"));
            panic!("a bug")
        });
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().contains_key(&REQUEST_ID));
        assert!(
            !response.headers().contains_key(ALLOW),
            "headers of the failed handler are dropped"
        );
        assert_eq!(
            body_text(response),
            r#"{"errors":[{"title":"Internal Server Error","details":"persona-mock failed while answering this request; please report it with the request that caused it"}]}"#
        );
    }

    #[test]
    fn requests_are_answered_without_a_socket() {
        let state = state();
        let body = br#"{"claim-type":"live_human_presence"}"#;
        let answer = respond(
            &state,
            &parts("POST", CHALLENGE_PATH),
            RequestBody::Complete(Bytes::from_static(body)),
        );
        assert_eq!(answer.response.status(), StatusCode::OK);
        assert!(
            body_text(answer.response)
                .starts_with(r#"{"challenge":"AAEAE2FwaS53aXRocGVyc29uYS5jb20g"#)
        );
        let unreadable = respond(
            &state,
            &parts("POST", CHALLENGE_PATH),
            RequestBody::Unreadable("reset".into()),
        );
        assert_eq!(
            body_text(unreadable.response),
            r#"{"errors":[{"title":"Bad Request","details":"The request body could not be read: reset"}]}"#
        );
    }

    #[test]
    fn the_journal_times_a_request_by_the_state_clock_the_handler_reads() {
        let clock = crate::clock::ManualClock::new();
        let state = State::new(&Settings::default(), Arc::new(clock.clone())).unwrap();
        let challenge = || {
            respond(
                &state,
                &parts("POST", CHALLENGE_PATH),
                RequestBody::Complete(Bytes::from_static(
                    br#"{"claim-type":"age_over18_verified"}"#,
                )),
            )
        };
        clock.advance(std::time::Duration::from_millis(1_500));
        challenge();
        clock.advance(std::time::Duration::from_secs(3_600));
        challenge();
        let expected = |since_start: std::time::Duration| {
            crate::journal::rfc3339(state.wall_time(since_start))
        };
        let times: Vec<String> = state
            .journal
            .as_ref()
            .unwrap()
            .view(None)
            .requests
            .into_iter()
            .map(|entry| entry.time)
            .collect();
        assert_eq!(
            times,
            [
                expected(std::time::Duration::from_millis(1_500)),
                expected(std::time::Duration::from_millis(3_601_500)),
            ]
        );
    }
}
