//! Sessions: which test a request belongs to. A session comes from the
//! `Persona-Mock-Session` header, else the path prefix
//! `/__mock/sessions/{id}[/scenario/{name}]/api/…`, else the Bearer API key,
//! else the shared default.

use super::heads::Heads;
use crate::api::ApiError;
use crate::ids::{SESSION_PREFIX, is_session_id, session_segment};
use hyper::StatusCode;
use std::borrow::Cow;

/// The session of requests that name none and send no API key.
pub const DEFAULT_SESSION: &str = "default";

/// A request's path with any session prefix taken off.
pub(crate) struct Target<'a> {
    /// The API path.
    pub path: &'a str,
    /// The session named by the path prefix.
    pub session: Option<&'a str>,
    /// The scenario named by the path prefix.
    pub scenario: Option<&'a str>,
}

/// Takes a `/__mock/sessions/{id}[/scenario/{name}]` prefix off a path.
pub(crate) fn strip_prefix(path: &str) -> Result<Target<'_>, ApiError> {
    let Some(rest) = path.strip_prefix(SESSION_PREFIX) else {
        return Ok(Target {
            path,
            session: None,
            scenario: None,
        });
    };
    let malformed = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "No route matches {path}. Session paths look like {SESSION_PREFIX}{{session}}/api/… or {SESSION_PREFIX}{{session}}/scenario/{{name}}/api/…"
            ),
        )
    };
    let (session, after) = rest.split_once('/').ok_or_else(malformed)?;
    if session.is_empty() {
        return Err(malformed());
    }
    if let Some(named) = after.strip_prefix("scenario/") {
        let (name, _) = named.split_once('/').ok_or_else(malformed)?;
        if name.is_empty() {
            return Err(malformed());
        }
        return Ok(Target {
            path: &named[name.len()..],
            session: Some(session),
            scenario: Some(name),
        });
    }
    Ok(Target {
        path: &rest[session.len()..],
        session: Some(session),
        scenario: None,
    })
}

/// The session a request belongs to.
pub(crate) fn resolve<'a>(
    heads: &Heads<'a>,
    target: &Target<'a>,
) -> Result<Cow<'a, str>, ApiError> {
    if let Some(value) = heads.session {
        if !is_session_id(value.as_bytes()) {
            return Err(ApiError::bad_request(
                "Persona-Mock-Session must be 1 to 128 visible ASCII characters without spaces.",
            ));
        }
        return Ok(String::from_utf8_lossy(value.as_bytes()));
    }
    if let Some(session) = target.session {
        return session_segment(session);
    }
    let bearer = heads
        .authorization
        .and_then(|v| crate::auth::bearer_key(v.as_bytes()));
    Ok(Cow::Borrowed(bearer.unwrap_or(DEFAULT_SESSION)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_name_a_session_and_maybe_a_scenario() {
        let t = strip_prefix("/__mock/sessions/s1/scenario/slow/api/x").unwrap();
        assert_eq!(
            (t.path, t.session, t.scenario),
            ("/api/x", Some("s1"), Some("slow"))
        );
        let t = strip_prefix("/__mock/sessions/s1/api/x").unwrap();
        assert_eq!(
            (t.path, t.session, t.scenario),
            ("/api/x", Some("s1"), None)
        );
        assert!(strip_prefix("/__mock/sessions//api/x").is_err());
    }

    #[test]
    fn a_plus_in_a_session_path_is_not_a_space() {
        let heads = Heads::default();
        let target = strip_prefix("/__mock/sessions/ci+1/api/x").unwrap();
        assert_eq!(resolve(&heads, &target).unwrap(), "ci+1");
        let target = strip_prefix("/__mock/sessions/ci+1%2Da/api/x").unwrap();
        assert_eq!(resolve(&heads, &target).unwrap(), "ci+1-a");
    }
}
