//! Persona's request conventions that are not specific to one endpoint:
//! `Key-Inflection` (response keys, and request keys in any inflection) and
//! `Persona-Version`.

use super::ApiError;
use hyper::header::{HeaderName, HeaderValue};
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

pub(crate) static KEY_INFLECTION: HeaderName = HeaderName::from_static("key-inflection");
pub(crate) static PERSONA_VERSION: HeaderName = HeaderName::from_static("persona-version");
/// The relay secret generate-claim must send.
pub(crate) static RELAY_SECRET: HeaderName = HeaderName::from_static("persona-relay-secret");
/// A rate-limit window's limit (IETF RateLimit fields, as Persona sends them).
pub(crate) static RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");

/// Checks `Persona-Version` and reads `Key-Inflection`.
pub fn check_headers(
    persona_version: Option<&HeaderValue>,
    key_inflection: Option<&HeaderValue>,
) -> Result<Inflection, ApiError> {
    if let Some(version) = persona_version {
        check_version(version.as_bytes())?;
    }
    match key_inflection {
        Some(value) => Inflection::parse(value.as_bytes()),
        None => Ok(Inflection::Kebab),
    }
}

/// A missing `Content-Type` is accepted; a present one must be JSON.
pub fn check_content_type(content_type: Option<&HeaderValue>) -> Result<(), ApiError> {
    let Some(value) = content_type else {
        return Ok(());
    };
    // Compared without copying: this runs on every API request.
    let bytes = value.as_bytes();
    let media_type = bytes
        .split(|b| *b == b';')
        .next()
        .unwrap_or(&[])
        .trim_ascii();
    let starts = |prefix: &[u8]| {
        media_type
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    let ends = |suffix: &[u8]| {
        media_type.len() >= suffix.len()
            && media_type[media_type.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    if media_type.eq_ignore_ascii_case(b"application/json")
        || (starts(b"application/") && ends(b"+json"))
    {
        return Ok(());
    }
    let text = String::from_utf8_lossy(bytes);
    Err(ApiError::bad_request(format!(
        "Content-Type must be application/json (got {text:?})."
    )))
}

/// Client input echoed in messages is cut to 100 characters.
pub fn truncate(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(100) {
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::StatusCode;

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
