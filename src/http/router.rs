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
    /// A valid Bearer API key is required.
    Bearer,
    /// `Authorization: PrivateToken token=…` is required.
    PrivateToken,
}

/// One endpoint of Persona's API.
pub(crate) struct Endpoint {
    /// Which endpoint it is.
    pub route: Route,
    /// Its path; a `{…}` segment matches any one segment.
    pub path: &'static str,
    /// The method it answers.
    pub method: Method,
    /// Who may call it.
    pub auth: AuthPolicy,
    /// Whether `Idempotency-Key` is honoured.
    pub idempotent: bool,
    /// What answers it.
    pub handler: Handler,
}

/// The endpoints persona-mock serves.
#[rustfmt::skip]
pub(crate) static ENDPOINTS: [Endpoint; 4] = [
    Endpoint { route: Route::Challenge, path: "/api/privacy/v1/relays/challenge", method: Method::POST, auth: AuthPolicy::BearerIfSent, idempotent: false, handler: handlers::challenge::handle },
    Endpoint { route: Route::CreateRelay, path: "/api/privacy/v1/relays", method: Method::POST, auth: AuthPolicy::BearerIfSent, idempotent: false, handler: handlers::relay::handle },
    Endpoint { route: Route::Issue, path: "/api/v1/privacy-passes", method: Method::POST, auth: AuthPolicy::Bearer, idempotent: true, handler: handlers::issue::handle },
    Endpoint { route: Route::GenerateClaim, path: "/api/privacy/v1/relays/{relay-token}/generate-claim", method: Method::POST, auth: AuthPolicy::PrivateToken, idempotent: true, handler: handlers::claim::handle },
];

/// The endpoint a path is for (a trailing `/` is ignored), with the value
/// of its `{…}` segment if it has one.
pub(crate) fn endpoint(path: &str) -> Option<(&'static Endpoint, Option<&str>)> {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    // Paths without a `{…}` segment compare whole, before any splitting.
    if let Some(e) = ENDPOINTS.iter().find(|e| e.path == path) {
        return Some((e, None));
    }
    ENDPOINTS
        .iter()
        .filter(|e| e.path.contains('{'))
        .find_map(|e| matches(e.path, path).map(|param| (e, param)))
}

/// Whether `path` fits `pattern`; the `{…}` segment's value if so.
fn matches<'p>(pattern: &str, path: &'p str) -> Option<Option<&'p str>> {
    let mut param = None;
    let mut segments = path.split('/');
    for want in pattern.split('/') {
        let got = segments.next()?;
        if want.starts_with('{') {
            if got.is_empty() {
                return None;
            }
            param = Some(got);
        } else if want != got {
            return None;
        }
    }
    segments.next().is_none().then_some(param)
}

/// The methods the API answers, and `OPTIONS`, for CORS preflights: taken
/// from the table, so a new endpoint's method is allowed with it.
pub(crate) fn cors_methods() -> hyper::header::HeaderValue {
    let mut methods: Vec<&str> = Vec::new();
    for endpoint in &ENDPOINTS {
        if !methods.contains(&endpoint.method.as_str()) {
            methods.push(endpoint.method.as_str());
        }
    }
    methods.push("OPTIONS");
    hyper::header::HeaderValue::from_str(&methods.join(", ")).expect("method names are tokens")
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
    pub(crate) fn check_method(&'static self, method: &Method) -> Result<(), ApiError> {
        if *method == self.method {
            return Ok(());
        }
        let allow = self.method.as_str();
        Err(ApiError::method_not_allowed(
            allow,
            format!("{} only allows {allow} (got {method}).", self.path),
        ))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn every_route_has_one_endpoint_and_trailing_slashes_match() {
        for route in Route::ALL {
            assert_eq!(ENDPOINTS.iter().filter(|e| e.route == route).count(), 1);
        }
        let challenge = "/api/privacy/v1/relays/challenge";
        assert_eq!(endpoint(challenge).unwrap().0.route, Route::Challenge);
        assert_eq!(
            endpoint(&format!("{challenge}/")).unwrap().0.route,
            Route::Challenge
        );
        assert_eq!(
            endpoint("/api/privacy/v1/relays").unwrap().0.route,
            Route::CreateRelay
        );
        assert!(endpoint("/").is_none());
        assert!(endpoint("/api/privacy/v1").is_none());
    }

    #[test]
    fn path_parameters_are_one_whole_segment() {
        let (e, param) = endpoint("/api/privacy/v1/relays/relay_abc/generate-claim").unwrap();
        assert_eq!((e.route, param), (Route::GenerateClaim, Some("relay_abc")));
        assert!(endpoint("/api/privacy/v1/relays//generate-claim").is_none());
        assert!(endpoint("/api/privacy/v1/relays/a/b/generate-claim").is_none());
        assert!(endpoint("/api/privacy/v1/relays/a/generate-claim/x").is_none());
    }

    /// The methods openapi.yaml documents for `path`.
    pub(crate) fn documented(path: &str) -> Vec<String> {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
            .expect("openapi.yaml");
        let spec: serde_json::Value = serde_yaml_ng::from_str(&text).expect("openapi.yaml is YAML");
        spec["paths"][path]
            .as_object()
            .map(|ops| ops.keys().map(|m| m.to_uppercase()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn every_endpoint_is_in_openapi_yaml() {
        for endpoint in &ENDPOINTS {
            assert!(
                documented(endpoint.path).contains(&endpoint.method.to_string()),
                "{} {} is not in openapi.yaml",
                endpoint.method,
                endpoint.path
            );
        }
    }

    #[test]
    fn cors_allows_the_tables_methods() {
        assert_eq!(cors_methods(), "POST, OPTIONS");
    }

    #[test]
    fn wrong_methods_get_405_with_allow() {
        let error = ENDPOINTS[0].check_method(&Method::GET).unwrap_err();
        assert_eq!(error.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(error.allow, Some("POST"));
    }
}
