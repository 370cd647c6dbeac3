//! Persona's API conventions that are not specific to one endpoint: the error
//! envelope and its titles, `Key-Inflection` and `Persona-Version`.

use hyper::StatusCode;
use serde::Serialize;
use std::borrow::Cow;

/// The `Persona-Version` values Persona's API accepts, newest first.
pub const PERSONA_VERSIONS: [&str; 8] = [
    "2025-12-08",
    "2025-10-27",
    "2023-01-05",
    "2022-09-01",
    "2021-08-18",
    "2021-07-05",
    "2021-02-21",
    "2020-05-18",
];

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
    pub allow: Option<&'static str>,
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
        }
    }

    /// 405 Method Not Allowed, with the methods to send as `Allow`.
    pub fn method_not_allowed(allow: &'static str, details: impl Into<String>) -> ApiError {
        ApiError {
            allow: Some(allow),
            ..ApiError::new(StatusCode::METHOD_NOT_ALLOWED, details)
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(details: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, details)
    }

    /// 422 about the field at `pointer` (a JSON pointer such as `/claim-type`).
    pub fn unprocessable(pointer: &'static str, details: impl Into<String>) -> ApiError {
        ApiError {
            pointer: Some(Cow::Borrowed(pointer)),
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

/// The key style of response bodies, chosen with `Key-Inflection`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inflection {
    /// `token-key-id` (the default).
    Kebab,
    /// `tokenKeyId`.
    Camel,
    /// `token_key_id`.
    Snake,
}

impl Inflection {
    /// Parses a `Key-Inflection` header value (case-insensitive).
    pub fn parse(value: &[u8]) -> Result<Inflection, ApiError> {
        let value = std::str::from_utf8(value).unwrap_or("").trim();
        if value.eq_ignore_ascii_case("kebab") {
            Ok(Inflection::Kebab)
        } else if value.eq_ignore_ascii_case("camel") {
            Ok(Inflection::Camel)
        } else if value.eq_ignore_ascii_case("snake") {
            Ok(Inflection::Snake)
        } else {
            Err(ApiError::bad_request(format!(
                "Key-Inflection must be one of: kebab, camel, snake (got {value:?})"
            )))
        }
    }

    /// Writes a kebab-case key in this inflection.
    pub fn apply(self, kebab: &str) -> Cow<'_, str> {
        match self {
            Inflection::Kebab => Cow::Borrowed(kebab),
            Inflection::Snake => Cow::Owned(kebab.replace('-', "_")),
            Inflection::Camel => {
                let mut out = String::with_capacity(kebab.len());
                let mut upper = false;
                for c in kebab.chars() {
                    if c == '-' {
                        upper = true;
                    } else if upper {
                        out.push(c.to_ascii_uppercase());
                        upper = false;
                    } else {
                        out.push(c);
                    }
                }
                Cow::Owned(out)
            }
        }
    }
}

/// The kebab-case form of a request key written in any of the three
/// inflections (`claimType`, `claim_type` and `claim-type` all give
/// `claim-type`).
pub fn to_kebab(key: &str) -> Cow<'_, str> {
    if !key.bytes().any(|b| b == b'_' || b.is_ascii_uppercase()) {
        return Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c == '_' {
            out.push('-');
        } else if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Checks a `Persona-Version` header value.
pub fn check_version(value: &[u8]) -> Result<(), ApiError> {
    if PERSONA_VERSIONS.iter().any(|v| v.as_bytes() == value) {
        return Ok(());
    }
    let value = String::from_utf8_lossy(value);
    Err(ApiError::bad_request(format!(
        "Persona-Version must be one of: {} (got {value:?})",
        PERSONA_VERSIONS.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflections_round_trip_through_kebab() {
        for key in [
            "challenge",
            "token-key",
            "token-key-id",
            "claim-type",
            "sandbox",
        ] {
            for inflection in [Inflection::Kebab, Inflection::Camel, Inflection::Snake] {
                assert_eq!(to_kebab(&inflection.apply(key)), key, "{inflection:?}");
            }
        }
        assert_eq!(Inflection::Camel.apply("token-key-id"), "tokenKeyId");
        assert_eq!(Inflection::Snake.apply("token-key-id"), "token_key_id");
    }

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

    #[test]
    fn only_listed_versions_pass() {
        assert!(check_version(b"2023-01-05").is_ok());
        let error = check_version(b"2024-01-01").unwrap_err();
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert!(
            error.details.contains("2025-12-08, 2025-10-27"),
            "{}",
            error.details
        );
    }

    #[test]
    fn bad_inflections_name_the_allowed_values() {
        assert_eq!(Inflection::parse(b"Camel").unwrap(), Inflection::Camel);
        let error = Inflection::parse(b"pascal").unwrap_err();
        assert_eq!(
            error.details,
            r#"Key-Inflection must be one of: kebab, camel, snake (got "pascal")"#
        );
    }
}
