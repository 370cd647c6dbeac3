//! CORS, a convenience of the mock: Persona's Relay API is called from
//! servers (its SDK is a server library) and Persona documents no browser
//! access, but a browser-based client under test must be able to call the
//! mock. Preflights are answered, and API responses to a request with an
//! allowed `Origin` carry `Access-Control-Allow-*`.

use crate::api::response::HttpResponse;
use crate::state::State;
use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, ORIGIN, VARY};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};

static ALLOW_ORIGIN: HeaderName = HeaderName::from_static("access-control-allow-origin");
static ALLOW_METHODS: HeaderName = HeaderName::from_static("access-control-allow-methods");
static ALLOW_HEADERS: HeaderName = HeaderName::from_static("access-control-allow-headers");
static REQUEST_METHOD: HeaderName = HeaderName::from_static("access-control-request-method");
static REQUEST_HEADERS: HeaderName = HeaderName::from_static("access-control-request-headers");
static EXPOSE_HEADERS: HeaderName = HeaderName::from_static("access-control-expose-headers");
static MAX_AGE: HeaderName = HeaderName::from_static("access-control-max-age");

/// The response headers a browser script may read.
const EXPOSED: &str = "Request-Id, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Persona-Environment-Id, Persona-Organization-Id, Idempotent-Replayed";

/// The answer to a CORS preflight (`OPTIONS` with
/// `Access-Control-Request-Method`), if this is one.
pub(super) fn preflight(state: &State, parts: &Parts) -> Option<HttpResponse> {
    if parts.method != Method::OPTIONS || !parts.headers.contains_key(&REQUEST_METHOD) {
        return None;
    }
    let origin = parts.headers.get(ORIGIN)?;
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(VARY, HeaderValue::from_static("Origin"));
    if state
        .cors
        .as_ref()
        .is_some_and(|c| c.allows(origin.as_bytes()))
    {
        headers.insert(ALLOW_ORIGIN.clone(), origin.clone());
        headers.insert(ALLOW_METHODS.clone(), super::router::cors_methods());
        if let Some(asked) = parts.headers.get(&REQUEST_HEADERS) {
            headers.insert(ALLOW_HEADERS.clone(), asked.clone());
        }
        headers.insert(MAX_AGE.clone(), HeaderValue::from_static("600"));
    }
    Some(response)
}

/// Adds `Access-Control-Allow-Origin` (and what a script may read) to an
/// API response when the request's origin is allowed.
pub(super) fn decorate(state: &State, origin: Option<&HeaderValue>, response: &mut HeaderMap) {
    let Some(origin) = origin else {
        return;
    };
    if state
        .cors
        .as_ref()
        .is_some_and(|c| c.allows(origin.as_bytes()))
    {
        response.insert(ALLOW_ORIGIN.clone(), origin.clone());
        response.insert(VARY, HeaderValue::from_static("Origin"));
        response.insert(EXPOSE_HEADERS.clone(), HeaderValue::from_static(EXPOSED));
    }
}
