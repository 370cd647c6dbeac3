//! Where a request goes: the session prefix comes off its path, then the
//! endpoint table finds its endpoint. 404s and 405s (with `Allow`) come from
//! the table. A new endpoint is one line in [`ENDPOINTS`] and one handler
//! file.

use crate::api::ApiError;
use crate::api::route::Route;
use crate::handlers::{self, Handler};
use hyper::{Method, StatusCode};

/// Who may call an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthPolicy {
    /// Anyone; a Bearer API key, when sent, must be valid and sets the
    /// environment and the rate-limit window.
    BearerIfSent,
}

/// One endpoint of Persona's API.
pub(crate) struct Endpoint {
    /// Which endpoint it is.
    pub route: Route,
    /// Its path.
    pub path: &'static str,
    /// The method it answers.
    pub method: Method,
    /// `Allow` for a 405.
    pub allow: &'static str,
    /// Who may call it.
    pub auth: AuthPolicy,
    /// What answers it.
    pub handler: Handler,
}

/// The endpoints persona-mock serves.
pub(crate) static ENDPOINTS: [Endpoint; 1] = [Endpoint {
    route: Route::Challenge,
    path: "/api/privacy/v1/relays/challenge",
    method: Method::POST,
    allow: "POST",
    auth: AuthPolicy::BearerIfSent,
    handler: handlers::challenge::handle,
}];

/// The endpoint a path is for (a trailing `/` is ignored).
pub(crate) fn endpoint(path: &str) -> Option<&'static Endpoint> {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    ENDPOINTS.iter().find(|e| e.path == path)
}

/// 404 for a path no endpoint serves.
pub(crate) fn not_found(method: &Method, path: &str) -> ApiError {
    let served: Vec<String> = ENDPOINTS
        .iter()
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "No route matches {method} {path}. persona-mock serves {}.",
            served.join(", ")
        ),
    )
}

impl Endpoint {
    /// 405 unless the endpoint answers `method`.
    pub(crate) fn check_method(&self, method: &Method) -> Result<(), ApiError> {
        if *method == self.method {
            return Ok(());
        }
        Err(ApiError::method_not_allowed(
            self.allow,
            format!("{} only allows {} (got {method}).", self.path, self.allow),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_one_endpoint_and_trailing_slashes_match() {
        for route in Route::ALL {
            assert_eq!(ENDPOINTS.iter().filter(|e| e.route == route).count(), 1);
        }
        let challenge = "/api/privacy/v1/relays/challenge";
        assert_eq!(endpoint(challenge).unwrap().route, Route::Challenge);
        assert_eq!(
            endpoint(&format!("{challenge}/")).unwrap().route,
            Route::Challenge
        );
        assert!(endpoint("/api/privacy/v1/relays").is_none());
        assert!(endpoint("/").is_none());
    }

    #[test]
    fn wrong_methods_get_405_with_allow() {
        let error = ENDPOINTS[0].check_method(&Method::GET).unwrap_err();
        assert_eq!(error.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(error.allow, Some("POST"));
    }
}
