//! The idempotency step: with an `Idempotency-Key`, the first final
//! response is stored and later requests with the key get it again. It runs
//! after the auth step, so 401 and 429 (never stored, as Persona documents)
//! are decided before it. Answers a retry can change are not stored either
//! (see [`is_final`]): Persona's Go SDK sends one key per `GenerateClaim`
//! call and retries 403, 429 and 5xx with it, expecting a pending claim to
//! pass on a later attempt.

use super::router::Endpoint;
use crate::api::body::Body;
use crate::api::response::{HttpResponse, error_response};
use crate::api::{ApiError, Refusal};
use crate::flow::idempotency::{self, Stored};
use crate::state::State;
use bytes::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Response, StatusCode};
use sha2::{Digest, Sha256};

pub(crate) static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
use crate::api::conventions::RELAY_SECRET;
static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// What the request does next.
pub(super) enum Begin {
    /// Send the first response again.
    Replay(HttpResponse),
    /// Answer it; with a key, hand the answer to [`Claim::finish`].
    Run(Option<Claim>),
}

/// A key this request answers first.
pub(super) struct Claim {
    scope: String,
    key: String,
}

/// Looks at the request's `Idempotency-Key`, if it has one.
pub(super) fn begin(
    state: &State,
    endpoint: &Endpoint,
    path: &str,
    parts: &Parts,
    idempotency_key: Option<&HeaderValue>,
    body: Option<&Body>,
    session: &str,
) -> Result<Begin, ApiError> {
    let Some(value) = idempotency_key else {
        return Ok(Begin::Run(None));
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| (1..=255).contains(&k.len()))
        .ok_or_else(|| {
            ApiError::bad_request("Idempotency-Key must be 1 to 255 visible ASCII characters.")
        })?;
    // What the request asks: the same key with another of these is refused.
    let mut hash = Sha256::new();
    for part in [
        path.as_bytes(),
        body.map_or(&[][..], |b| b.bytes()),
        header(parts, &AUTHORIZATION),
        header(parts, &RELAY_SECRET),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    let scope = format!("{session}\0{}", endpoint.route.name());
    let now = state.clock.now();
    match state
        .idempotency
        .begin(&scope, key, hash.finalize().into(), now, session)
    {
        idempotency::Begin::Run => Ok(Begin::Run(Some(Claim {
            scope,
            key: key.to_string(),
        }))),
        idempotency::Begin::Replay(stored) => Ok(Begin::Replay(replay(stored))),
        idempotency::Begin::InProgress => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "A request with Idempotency-Key {key:?} is still being answered; retry once it is done."
            ),
        )
        .because(Refusal::IdempotencyKeyInProgress)),
        idempotency::Begin::Mismatch => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "Idempotency-Key {key:?} was first used with other parameters; send a new key with a new request."
            ),
        )
        .because(Refusal::IdempotencyKeyReuse)),
    }
}

fn header<'a>(parts: &'a Parts, name: &HeaderName) -> &'a [u8] {
    parts
        .headers
        .get(name)
        .map_or(&[][..], HeaderValue::as_bytes)
}

impl Claim {
    /// Stores the answer if it is final (otherwise the key is freed for the
    /// retry) and returns it.
    pub(super) fn finish(
        self,
        state: &State,
        result: Result<HttpResponse, ApiError>,
    ) -> HttpResponse {
        let response = result.unwrap_or_else(|error| error_response(&error));
        let status = response.status();
        let stored = is_final(status).then(|| Stored {
            status,
            content_type: response.headers().get(CONTENT_TYPE).cloned(),
            body: response.body().clone(),
        });
        state.idempotency.finish(&self.scope, &self.key, stored);
        response
    }
}

/// Whether a response is the request's final answer, stored under its key.
/// Not stored: 401 (the credentials may be fixed), 403 (a claim whose
/// verification is pending: it passes once the person finishes), 408 (the
/// body did not arrive), 429 (the window resets) and every 5xx (the mock's
/// own failure). Each of these lets a retry with the same key run again.
pub(super) fn is_final(status: StatusCode) -> bool {
    !matches!(status.as_u16(), 401 | 403 | 408 | 429 | 500..=599)
}

/// The stored response, marked as a replay.
fn replay(stored: Stored) -> HttpResponse {
    let mut response = Response::new(Bytes::clone(&stored.body));
    *response.status_mut() = stored.status;
    let headers = response.headers_mut();
    if let Some(content_type) = stored.content_type {
        headers.insert(CONTENT_TYPE, content_type);
    }
    headers.insert(REPLAYED.clone(), HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_answers_a_retry_cannot_change_are_final() {
        for code in [200, 201, 400, 404, 409, 413, 422] {
            assert!(is_final(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [401, 403, 408, 429, 500, 502, 503, 504] {
            assert!(!is_final(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }
}
