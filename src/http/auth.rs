//! The auth step: the endpoint's policy (a Bearer API key when sent or
//! required, or a `PrivateToken`), the environment headers, and the rate
//! limit.

use super::router::AuthPolicy;
use crate::api::ApiError;
use crate::auth::{AuthError, rate_limit_details, scenario_window_key};
use crate::privacypass::private_token_param;
use crate::scenario::{Scenario, ScenarioRateLimit};
use crate::state::State;
use hyper::StatusCode;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use std::borrow::Cow;
use std::sync::Arc;

use crate::api::conventions::RATELIMIT_LIMIT;
static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
static ENVIRONMENT_ID: HeaderName = HeaderName::from_static("persona-environment-id");
static ORGANIZATION_ID: HeaderName = HeaderName::from_static("persona-organization-id");

/// Checks the caller as the endpoint's policy says, and counts the request
/// against the rate limit: the scenario's, for every request, or else the
/// default one, for requests with an API key. Returns the `PrivateToken`
/// credential of endpoints that take one.
pub(super) fn authorize(
    state: &State,
    policy: AuthPolicy,
    authorization: Option<&HeaderValue>,
    extra: &mut HeaderMap,
    session: &str,
    scenario_limit: Option<(&Arc<Scenario>, ScenarioRateLimit)>,
) -> Result<Option<String>, ApiError> {
    let header = authorization.map(HeaderValue::as_bytes);
    let mut private_token = None;
    let principal = match policy {
        AuthPolicy::PrivateToken => {
            private_token = Some(private_token_credential(header)?);
            None
        }
        AuthPolicy::Bearer if header.is_none() => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "This endpoint needs an API key: send `Authorization: Bearer <API key>`.",
            ));
        }
        AuthPolicy::Bearer | AuthPolicy::BearerIfSent => bearer(state, header, policy)?,
    };
    if let Some(principal) = &principal {
        let environment = state.environment(principal.environment);
        extra.insert(ENVIRONMENT_ID.clone(), environment.environment_id.clone());
        extra.insert(ORGANIZATION_ID.clone(), environment.organization_id.clone());
    }
    let (status, window) = match (scenario_limit, &principal) {
        (Some((scenario, limit)), _) => {
            let key = scenario_window_key(session, &scenario.name);
            (
                state.limiter.check(&key, limit.limit, limit.window),
                limit.window,
            )
        }
        (None, Some(principal)) => (
            state
                .limiter
                .check(session, principal.limit, state.rate_limit_window),
            state.rate_limit_window,
        ),
        (None, None) => return Ok(private_token),
    };
    extra.insert(RATELIMIT_LIMIT.clone(), HeaderValue::from(status.limit));
    extra.insert(
        RATELIMIT_REMAINING.clone(),
        HeaderValue::from(status.remaining),
    );
    extra.insert(RATELIMIT_RESET.clone(), HeaderValue::from(status.reset_s));
    if status.exceeded {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            rate_limit_details(status.limit, window),
        ));
    }
    Ok(private_token)
}

/// The Bearer API key's principal, if one was sent.
fn bearer<'a>(
    state: &State,
    header: Option<&'a [u8]>,
    policy: AuthPolicy,
) -> Result<Option<crate::auth::Principal<'a>>, ApiError> {
    match state.auth.authenticate(header) {
        Ok(principal) => Ok(principal),
        Err(AuthError::NotBearer) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            if policy == AuthPolicy::Bearer {
                "Send the API key as `Authorization: Bearer <API key>`."
            } else {
                "Send the API key as `Authorization: Bearer <API key>`, or send no Authorization header."
            },
        )),
        Err(AuthError::InvalidKey) => {
            let hint = if state.auth.accept_prefixed {
                "persona-mock accepts keys that start with persona_sandbox_ or persona_production_"
            } else {
                "persona-mock accepts the keys listed under [[auth.keys]] in its config file"
            };
            Err(ApiError {
                title: Cow::Borrowed("Token is invalid"),
                ..ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    format!("The API key is not valid: {hint}."),
                )
            })
        }
    }
}

/// The request's `PrivateToken` credential, read; `None` when it sends
/// none at all (no Authorization, or another scheme): the 401 that asks
/// for one.
fn private_token(
    header: Option<&[u8]>,
) -> Option<Result<String, crate::privacypass::AuthorizationError>> {
    let text = std::str::from_utf8(header?).ok()?;
    match private_token_param(text) {
        Err(crate::privacypass::AuthorizationError::NotPrivateToken) => None,
        read => Some(read),
    }
}

/// Whether a request sends no `PrivateToken` credential at all.
pub(super) fn lacks_private_token(authorization: Option<&HeaderValue>) -> bool {
    private_token(authorization.map(HeaderValue::as_bytes)).is_none()
}

/// The 401 that asks for a Privacy Pass token, with Persona's title.
pub(super) fn token_required(details: &'static str) -> ApiError {
    ApiError {
        title: Cow::Borrowed("Privacy Pass token required"),
        ..ApiError::new(StatusCode::UNAUTHORIZED, details)
    }
}

/// The `token` of `Authorization: PrivateToken token=…`. Without one, the
/// 401 is exactly Persona's.
fn private_token_credential(header: Option<&[u8]>) -> Result<String, ApiError> {
    match private_token(header) {
        None => Err(token_required("Request a challenge to obtain a token")),
        Some(Ok(token)) => Ok(token),
        Some(Err(error)) => Err(ApiError {
            title: Cow::Borrowed("Token is invalid"),
            ..ApiError::new(
                StatusCode::UNAUTHORIZED,
                format!(
                    "The PrivateToken credential cannot be read: {error}. Send `Authorization: PrivateToken token=<base64url token>`."
                ),
            )
        }),
    }
}
