//! Where a request goes: one table of every endpoint the mock serves,
//! Persona's API, the control API under `/__mock/` and the hosted page, each
//! row with its methods, path pattern, policy and handler. 404s, 405s (with
//! `Allow`), CORS's allowed methods and the `GET /__mock` listing come from
//! the table. A new endpoint is a row and a handler file.

use crate::api::ApiError;
use crate::api::body::RequestBody;
use crate::api::response::HttpResponse;
use crate::api::route::Route;
use crate::handlers::{self, Handler, control, hosted};
use crate::ids::SESSION_PREFIX;
use crate::state::State;
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};

/// Who may call an API endpoint.
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

/// What an API row runs: the pipeline's steps for Persona's API.
pub(crate) struct Endpoint {
    /// Which endpoint it is.
    pub route: Route,
    /// Who may call it.
    pub auth: AuthPolicy,
    /// Whether `Idempotency-Key` is honoured.
    pub idempotent: bool,
    /// What answers it.
    pub handler: Handler,
}

/// A control or hosted-page request as its handler sees it.
pub(crate) struct Call<'a> {
    /// The request head.
    pub parts: &'a Parts,
    /// The body, as read.
    pub body: &'a RequestBody,
    /// The value of the path's `{…}` segment, if it has one.
    pub param: Option<&'a str>,
}

/// A control or hosted-page handler.
pub(crate) type CallHandler = fn(&State, &Call<'_>) -> Result<HttpResponse, ApiError>;

/// A row's policy and handler.
pub(crate) enum Target {
    /// Persona's API: session, scenario step, auth, idempotency,
    /// conventions, body, handler and journal.
    Api(Endpoint),
    /// The control API: a site check, then loopback or the control token.
    Control(CallHandler),
    /// The hosted page: a site check (the session token is its gate).
    Hosted(CallHandler),
}

/// One row of the table.
pub(crate) struct Row {
    /// The methods it answers (the first is named in listings).
    pub methods: &'static [Method],
    /// Its path; a `{…}` segment matches any one segment.
    pub path: &'static str,
    /// Its policy and handler.
    pub target: Target,
    /// How `GET /__mock` lists it (control rows), one line per use.
    pub listing: &'static [&'static str],
}

const GET: &[Method] = &[Method::GET];
const POST: &[Method] = &[Method::POST];

/// Every endpoint persona-mock serves.
#[rustfmt::skip]
pub(crate) static ROUTES: [Row; 21] = [
    Row { methods: POST, path: "/api/privacy/v1/relays/challenge", target: Target::Api(Endpoint { route: Route::Challenge, auth: AuthPolicy::BearerIfSent, idempotent: false, handler: handlers::challenge::handle }), listing: &[] },
    Row { methods: POST, path: "/api/privacy/v1/relays", target: Target::Api(Endpoint { route: Route::CreateRelay, auth: AuthPolicy::BearerIfSent, idempotent: false, handler: handlers::relay::handle }), listing: &[] },
    Row { methods: POST, path: "/api/v1/privacy-passes", target: Target::Api(Endpoint { route: Route::Issue, auth: AuthPolicy::Bearer, idempotent: true, handler: handlers::issue::handle }), listing: &[] },
    Row { methods: POST, path: "/api/privacy/v1/relays/{relay-token}/generate-claim", target: Target::Api(Endpoint { route: Route::GenerateClaim, auth: AuthPolicy::PrivateToken, idempotent: true, handler: handlers::claim::handle }), listing: &[] },
    Row { methods: GET, path: "/__mock", target: Target::Control(control::index), listing: &[] },
    Row { methods: &[Method::GET, Method::HEAD], path: "/__mock/health", target: Target::Control(control::health), listing: &["GET /__mock/health"] },
    Row { methods: &[Method::GET, Method::DELETE], path: "/__mock/requests", target: Target::Control(control::requests), listing: &["GET /__mock/requests[?session=ID][&limit=N][&after=CURSOR]", "DELETE /__mock/requests[?session=ID]"] },
    Row { methods: POST, path: "/__mock/reset", target: Target::Control(control::reset), listing: &["POST /__mock/reset[?session=ID]"] },
    Row { methods: &[Method::GET, Method::PUT], path: "/__mock/sessions/{id}", target: Target::Control(control::session), listing: &["GET /__mock/sessions/{id}", "PUT /__mock/sessions/{id} {\"scenario\": NAME | null}"] },
    Row { methods: GET, path: "/__mock/sessions/{id}/report", target: Target::Control(control::report), listing: &["GET /__mock/sessions/{id}/report[?format=json|junit|text]"] },
    Row { methods: POST, path: "/__mock/sessions/{id}/verify", target: Target::Control(control::verify), listing: &["POST /__mock/sessions/{id}/verify {\"expect\": [{\"endpoint\": NAME, \"status\": N, \"count\": N | \"min\": N, \"max\": N}]}"] },
    Row { methods: GET, path: "/__mock/scenarios", target: Target::Control(control::scenarios), listing: &["GET /__mock/scenarios"] },
    Row { methods: &[Method::GET, Method::POST, Method::PUT, Method::DELETE], path: "/__mock/scenarios/{name}", target: Target::Control(control::scenario), listing: &["GET /__mock/scenarios/{name}", "POST /__mock/scenarios/{name} (TOML body)", "PUT /__mock/scenarios/{name} (TOML body)", "DELETE /__mock/scenarios/{name} (uploaded scenarios)"] },
    Row { methods: GET, path: "/__mock/keys", target: Target::Control(control::keys), listing: &["GET /__mock/keys"] },
    Row { methods: GET, path: "/__mock/unmatched", target: Target::Control(control::unmatched), listing: &["GET /__mock/unmatched"] },
    Row { methods: GET, path: "/__mock/relays", target: Target::Control(control::relays), listing: &["GET /__mock/relays[?session=ID][&limit=N][&after=CURSOR]"] },
    Row { methods: GET, path: "/__mock/relays/{token}", target: Target::Control(control::relay), listing: &["GET /__mock/relays/{token}"] },
    Row { methods: POST, path: "/__mock/relays/{token}/complete", target: Target::Control(control::complete_relay), listing: &["POST /__mock/relays/{token}/complete {\"result\": \"passed\" | \"failed\" | \"pending\", \"methodology\": [...]}"] },
    Row { methods: GET, path: "/__mock/jwks", target: Target::Control(control::jwks), listing: &["GET /__mock/jwks"] },
    Row { methods: GET, path: "/relay", target: Target::Hosted(hosted::page), listing: &[] },
    Row { methods: POST, path: "/relay/complete", target: Target::Hosted(hosted::complete), listing: &[] },
];

/// The API endpoints, in the table's order, with their rows.
pub(crate) fn api_rows() -> impl Iterator<Item = (&'static Row, &'static Endpoint)> {
    ROUTES.iter().filter_map(|row| match &row.target {
        Target::Api(endpoint) => Some((row, endpoint)),
        _ => None,
    })
}

/// Whether a path is the control API's: `/__mock` and below, except the
/// session prefix of API paths (`/__mock/sessions/{id}/api/…`).
pub(crate) fn is_control_path(path: &str) -> bool {
    if let Some(rest) = path.strip_prefix(SESSION_PREFIX) {
        return !rest.trim_end_matches('/').contains('/');
    }
    path == "/__mock" || path.starts_with("/__mock/")
}

/// Whether a path is `GET /__mock/health`'s, which reveals nothing and is
/// answered whatever the address, token, `Origin` or `Host`.
pub(crate) fn is_health(path: &str) -> bool {
    path.trim_end_matches('/') == "/__mock/health"
}

/// The control or hosted-page row for a path, with its `{…}` value.
pub(crate) fn site_row(path: &str) -> Option<(&'static Row, Option<&str>)> {
    // Every control and hosted path starts so; API paths are not looked up.
    if !(path.starts_with("/__mock") || path.starts_with("/relay")) {
        return None;
    }
    find(path, |row| !matches!(row.target, Target::Api(_)))
}

/// `GET /__mock`'s listing: every control row's lines, in order.
pub(crate) fn control_listing() -> Vec<&'static str> {
    ROUTES
        .iter()
        .filter(|row| matches!(row.target, Target::Control(_)))
        .flat_map(|row| row.listing.iter().copied())
        .collect()
}

/// 404 for a path under `/__mock/` that no control row serves.
pub(crate) fn control_not_found(method: &Method, path: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "No control endpoint matches {method} {path}. Control endpoints: {}.",
            control_listing().join("; ")
        ),
    )
}

/// The `{…}` rows' row for `path` among those `keep` says yes to (a
/// trailing `/` is ignored), with the value of its `{…}` segment.
fn find(path: &str, keep: impl Fn(&Row) -> bool) -> Option<(&'static Row, Option<&str>)> {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    // Paths without a `{…}` segment compare whole, before any splitting.
    if let Some(row) = ROUTES.iter().filter(|r| keep(r)).find(|r| r.path == path) {
        return Some((row, None));
    }
    ROUTES
        .iter()
        .filter(|r| keep(r) && r.path.contains('{'))
        .find_map(|r| matches(r.path, path).map(|param| (r, param)))
}

/// The API endpoint a path is for (a trailing `/` is ignored), with its
/// row and the value of its `{…}` segment if it has one.
pub(crate) fn endpoint(path: &str) -> Option<(&'static Row, &'static Endpoint, Option<&str>)> {
    let (row, param) = find(path, |row| matches!(row.target, Target::Api(_)))?;
    match &row.target {
        Target::Api(endpoint) => Some((row, endpoint, param)),
        _ => None,
    }
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

/// 404 for a path no API endpoint serves.
pub(crate) fn not_found(method: &Method, path: &str) -> ApiError {
    let served: Vec<String> = api_rows()
        .map(|(row, _)| format!("{} {}", row.methods[0], row.path))
        .collect();
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "No route matches {method} {path}. persona-mock serves {}.",
            served.join(", ")
        ),
    )
}

/// The methods CORS preflights allow: the API's, and `OPTIONS`.
pub(crate) fn cors_methods() -> hyper::header::HeaderValue {
    let mut methods: Vec<&str> = Vec::new();
    for (row, _) in api_rows() {
        for method in row.methods {
            if !methods.contains(&method.as_str()) {
                methods.push(method.as_str());
            }
        }
    }
    methods.push("OPTIONS");
    hyper::header::HeaderValue::from_str(&methods.join(", ")).expect("method names are tokens")
}

impl Row {
    /// `Allow`: the methods other than `HEAD` (answered where `GET` is).
    fn allow(&self) -> String {
        let methods: Vec<&str> = self
            .methods
            .iter()
            .filter(|m| **m != Method::HEAD)
            .map(Method::as_str)
            .collect();
        methods.join(", ")
    }

    /// 405 with `Allow` unless the row answers `method`; `path` is how the
    /// message names the endpoint.
    pub(crate) fn check_method(&self, method: &Method, path: &str) -> Result<(), ApiError> {
        if self.methods.contains(method) {
            return Ok(());
        }
        let allow = self.allow();
        let details = match self.target {
            Target::Api(_) => format!("{} only allows {allow} (got {method}).", self.path),
            Target::Control(_) => format!("{path} allows {allow} (got {method})."),
            Target::Hosted(_) => format!("{path} does not answer {method}."),
        };
        Err(ApiError::method_not_allowed(allow, details))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route_of(path: &str) -> Option<Route> {
        endpoint(path).map(|(_, e, _)| e.route)
    }

    #[test]
    fn every_route_has_one_endpoint_and_trailing_slashes_match() {
        for route in Route::ALL {
            assert_eq!(api_rows().filter(|(_, e)| e.route == route).count(), 1);
        }
        let challenge = "/api/privacy/v1/relays/challenge";
        assert_eq!(route_of(challenge), Some(Route::Challenge));
        assert_eq!(route_of(&format!("{challenge}/")), Some(Route::Challenge));
        assert_eq!(route_of("/api/privacy/v1/relays"), Some(Route::CreateRelay));
        assert!(endpoint("/").is_none());
        assert!(endpoint("/api/privacy/v1").is_none());
        assert!(
            endpoint("/__mock/health").is_none(),
            "control rows are not the API's"
        );
    }

    #[test]
    fn path_parameters_are_one_whole_segment() {
        let (_, e, param) = endpoint("/api/privacy/v1/relays/relay_abc/generate-claim").unwrap();
        assert_eq!((e.route, param), (Route::GenerateClaim, Some("relay_abc")));
        assert!(endpoint("/api/privacy/v1/relays//generate-claim").is_none());
        assert!(endpoint("/api/privacy/v1/relays/a/b/generate-claim").is_none());
        assert!(endpoint("/api/privacy/v1/relays/a/generate-claim/x").is_none());
        let (row, param) = site_row("/__mock/relays/relay_x/complete").unwrap();
        assert_eq!(
            (row.path, param),
            ("/__mock/relays/{token}/complete", Some("relay_x"))
        );
        assert!(site_row("/__mock/sessions/s1/api/privacy/v1/relays").is_none());
        assert!(
            is_control_path("/__mock/sessions/s1") && !is_control_path("/__mock/sessions/s1/api/x")
        );
    }

    /// The methods openapi.yaml documents for `path`.
    fn documented(path: &str) -> Vec<String> {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
            .expect("openapi.yaml");
        let spec: serde_json::Value = serde_yaml_ng::from_str(&text).expect("openapi.yaml is YAML");
        spec["paths"][path]
            .as_object()
            .map(|ops| ops.keys().map(|m| m.to_uppercase()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn every_row_is_in_openapi_yaml() {
        for row in ROUTES
            .iter()
            .filter(|r| !matches!(r.target, Target::Hosted(_)))
        {
            for method in row.methods.iter().filter(|m| **m != Method::HEAD) {
                assert!(
                    documented(row.path).contains(&method.to_string()),
                    "{method} {} is not in openapi.yaml",
                    row.path
                );
            }
        }
    }

    #[test]
    fn cors_allows_the_tables_methods() {
        assert_eq!(cors_methods(), "POST, OPTIONS");
    }

    #[test]
    fn wrong_methods_get_405_with_allow() {
        let error = ROUTES[0].check_method(&Method::GET, "/x").unwrap_err();
        assert_eq!(error.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(error.allow.as_deref(), Some("POST"));
        let (health, _) = site_row("/__mock/health").unwrap();
        assert!(health.check_method(&Method::HEAD, "/__mock/health").is_ok());
        let error = health
            .check_method(&Method::POST, "/__mock/health")
            .unwrap_err();
        assert_eq!(error.allow.as_deref(), Some("GET"), "HEAD goes unnamed");
    }

    #[test]
    fn every_site_row_starts_as_site_row_looks_for() {
        for row in ROUTES
            .iter()
            .filter(|r| !matches!(r.target, Target::Api(_)))
        {
            assert_eq!(site_row(row.path).map(|(r, _)| r.path), Some(row.path));
        }
    }

    #[test]
    fn the_control_listing_is_the_control_rows() {
        let listing = control_listing();
        assert_eq!(listing.len(), 19);
        assert_eq!(listing[0], "GET /__mock/health");
        // Each line names a method its row answers and the row's own path,
        // so the listing is as true to openapi.yaml as the rows are.
        for row in ROUTES
            .iter()
            .filter(|r| matches!(r.target, Target::Control(_)))
        {
            assert!(
                row.path == "/__mock" || !row.listing.is_empty(),
                "{}",
                row.path
            );
            for line in row.listing {
                let (method, rest) = line.split_once(' ').expect("METHOD /path");
                let path = rest.split(['[', ' ', '(']).next().expect("a path");
                assert!(row.methods.iter().any(|m| m.as_str() == method), "{line}");
                assert_eq!(path, row.path, "{line}");
            }
        }
    }
}
