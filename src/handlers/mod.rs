//! One file per endpoint. An API handler is a [`Handler`]: it gets the
//! state, what the pipeline learned about the request, and the body, and
//! returns a response or a Persona-shaped error. The control API is a set
//! of free functions over the same state.

pub(crate) mod challenge;
pub(crate) mod claim;
mod claim_json;
pub(crate) mod control;
mod control_flow;
mod diagnose;
pub(crate) mod hosted;
pub(crate) mod issue;
pub(crate) mod relay;

use crate::api::ApiError;
use crate::api::body::{Body, RequestBody};
use crate::api::conventions::Inflection;
use crate::api::response::HttpResponse;
use crate::state::State;
use hyper::header::HeaderMap;

/// What the pipeline learned about a request before its handler runs.
pub(crate) struct Ctx<'a> {
    /// The key style of the response (`Key-Inflection`).
    pub inflection: Inflection,
    /// The session the request belongs to.
    pub session: &'a str,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The value of the path's `{…}` segment (the relay token).
    pub param: Option<&'a str>,
    /// The `PrivateToken` credential, for endpoints that take one.
    pub private_token: Option<String>,
    /// A claim result a scenario step imposes on generate-claim.
    pub claim_result: Option<crate::flow::ClaimResult>,
    /// When the request is answered, on the state's clock (read once per
    /// request, for the handler and the journal).
    pub now: std::time::Duration,
}

/// An API endpoint's handler.
pub(crate) type Handler = fn(&State, &Ctx<'_>, &Body) -> Result<HttpResponse, ApiError>;

/// A JSON object response whose keys follow the request's inflection.
pub(crate) fn inflected(
    status: hyper::StatusCode,
    inflection: Inflection,
    fields: &[(&str, serde_json::Value)],
) -> HttpResponse {
    let mut out = String::from("{");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::from(inflection.apply(key).as_ref()).to_string());
        out.push(':');
        out.push_str(&value.to_string());
    }
    out.push('}');
    crate::api::response::json_response(status, out.into_bytes())
}

/// 422 for a claim type that is not served.
pub(crate) fn unknown_claim_type(state: &State, claim_type: &str) -> ApiError {
    ApiError::unprocessable(
        "/claim-type",
        format!(
            "{:?} is not a claim type persona-mock serves. Claim types: {}. Add more under [claim-types] in the config file.",
            crate::api::conventions::truncate(claim_type),
            state.keys.claim_types().join(", ")
        ),
    )
}

/// The whole body, or the error for one that was not read whole: 413 over
/// the size limit, 408 when it did not arrive in time, 400 when the client
/// broke it off. Every endpoint answers an unread body this way.
pub(crate) fn whole_body<'a>(
    state: &State,
    body: &'a RequestBody,
) -> Result<&'a bytes::Bytes, ApiError> {
    match body {
        RequestBody::Complete(bytes) => Ok(bytes),
        RequestBody::TooLarge => Err(ApiError::new(
            hyper::StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The request body is larger than {} bytes.",
                state.max_body_bytes
            ),
        )),
        RequestBody::Unreadable(reason) => Err(ApiError::bad_request(format!(
            "The request body could not be read: {reason}"
        ))),
        RequestBody::TimedOut => Err(ApiError::new(
            hyper::StatusCode::REQUEST_TIMEOUT,
            format!(
                "The request body did not arrive within {} ms.",
                state.limits.body_read_timeout.as_millis()
            ),
        )),
    }
}

/// 401 for a token that does not pass a check.
pub(crate) fn invalid(details: impl Into<String>) -> ApiError {
    ApiError {
        title: std::borrow::Cow::Borrowed("Token is invalid"),
        ..ApiError::new(hyper::StatusCode::UNAUTHORIZED, details)
    }
    .because(crate::api::Refusal::InvalidToken)
}
