//! Persona's error envelope, `{"errors":[{"title":…,"details":…}]}`, and
//! the titles its schemas use.

use hyper::StatusCode;
use serde::Serialize;
use std::borrow::Cow;

/// Persona's error title for a status (what its schemas use), falling back
/// to the HTTP reason phrase.
pub fn persona_title(status: StatusCode) -> Cow<'static, str> {
    let title = match status.as_u16() {
        400 => "Bad Request",
        401 => "Must be authenticated to access this endpoint",
        403 => "Forbidden",
        404 => "Record not found",
        408 => "Request Timeout",
        409 => "Conflict",
        422 => "Unprocessable entity",
        429 => "Rate limit exceeded",
        503 => "Service unavailable",
        _ => return Cow::Borrowed(status.canonical_reason().unwrap_or("Error")),
    };
    Cow::Borrowed(title)
}

/// One API error, ready to become Persona's `{"errors":[…]}` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// `errors[0].title`.
    pub title: Cow<'static, str>,
    /// `errors[0].details`: what was wrong and how to fix it.
    pub details: String,
    /// `errors[0].source.pointer`, for 422s about one field.
    pub pointer: Option<Cow<'static, str>>,
    /// Details of further errors with the same title (`errors[1..]`).
    pub more: Vec<String>,
    /// For 405: the methods the resource allows, sent as `Allow`.
    pub allow: Option<Box<str>>,
    /// What the refusal says the client did, for the contract report (kept
    /// in the journal with the answer).
    pub refusal: Option<Refusal>,
}

/// What a refusal says the client did: the journal keeps it with the answer
/// and the contract report (`crate::report`) judges by it. In JSON, its
/// kebab-case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Refusal {
    /// A Privacy Pass token presented again after it was spent (409).
    TokenReuse,
    /// An `Idempotency-Key` sent again with other parameters (422).
    IdempotencyKeyReuse,
    /// An `Idempotency-Key` whose first request was still being answered
    /// (409; a retry is right).
    IdempotencyKeyInProgress,
    /// A token issued for another claim type or namespace (401).
    WrongClaimType,
    /// A token whose challenge had expired (401).
    ExpiredChallenge,
    /// A token that fails another check (401).
    InvalidToken,
}

#[derive(Serialize)]
struct Envelope<'a> {
    errors: Vec<ErrorObject<'a>>,
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    title: &'a str,
    details: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<Source<'a>>,
}

#[derive(Serialize)]
struct Source<'a> {
    pointer: &'a str,
}

impl ApiError {
    /// An error with Persona's title for `status`.
    pub fn new(status: StatusCode, details: impl Into<String>) -> ApiError {
        ApiError {
            status,
            title: persona_title(status),
            details: details.into(),
            pointer: None,
            more: Vec::new(),
            allow: None,
            refusal: None,
        }
    }

    /// The same error, saying what the client did.
    pub fn because(self, refusal: Refusal) -> ApiError {
        ApiError {
            refusal: Some(refusal),
            ..self
        }
    }

    /// 405 Method Not Allowed, with the methods to send as `Allow`.
    pub fn method_not_allowed(allow: impl Into<Box<str>>, details: impl Into<String>) -> ApiError {
        ApiError {
            allow: Some(allow.into()),
            ..ApiError::new(StatusCode::METHOD_NOT_ALLOWED, details)
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(details: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, details)
    }

    /// 422 about the field at `pointer` (a JSON pointer such as `/claim-type`).
    pub fn unprocessable(
        pointer: impl Into<Cow<'static, str>>,
        details: impl Into<String>,
    ) -> ApiError {
        ApiError {
            pointer: Some(pointer.into()),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, details)
        }
    }

    /// The JSON body: `{"errors":[{"title":…,"details":…}]}`.
    pub fn body(&self) -> Vec<u8> {
        let first = ErrorObject {
            title: &self.title,
            details: &self.details,
            source: self.pointer.as_deref().map(|pointer| Source { pointer }),
        };
        let rest = self.more.iter().map(|details| ErrorObject {
            title: &self.title,
            details,
            source: None,
        });
        let envelope = Envelope {
            errors: std::iter::once(first).chain(rest).collect(),
        };
        serde_json::to_vec(&envelope).expect("error envelopes always serialize")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.title,
            self.details
        )
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_have_persona_shape() {
        let body = ApiError::unprocessable("/claim-type", "nope").body();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"errors":[{"title":"Unprocessable entity","details":"nope","source":{"pointer":"/claim-type"}}]}"#
        );
        let body = ApiError::bad_request("x").body();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"errors":[{"title":"Bad Request","details":"x"}]}"#
        );
    }
}
