//! The mocked API itself: routing, Persona's request checks and the
//! challenge endpoint, as plain functions over a buffered request. Nothing
//! here touches sockets, so tests can call it directly.

use crate::api::{ApiError, Inflection, check_version, persona_title};
use crate::auth::{AuthError, Authenticator, RateLimiter, rate_limit_details};
use crate::clock::Clock;
use crate::config::{ConfigErrors, RedemptionContext, Settings};
use crate::ids;
use crate::journal::{Journal, JournalLimits, Record, now_rfc3339};
use crate::keys::{KeyFileError, KeyRing, KeySource, Namespace};
use crate::profile::WireFormat;
use crate::request::{Body, Scalar};
use crate::scenario::{
    Fault, RequestFacts, Scenario, ScenarioSet, ScenarioStore, Sessions, Step, StepBody, StoreError,
};
use crate::token::{ChallengeFields, REDEMPTION_CONTEXT_LEN};
use bytes::Bytes;
use hyper::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The path of the challenge endpoint.
pub const CHALLENGE_PATH: &str = "/api/privacy/v1/relays/challenge";

/// The response type every handler produces.
pub type HttpResponse = Response<Bytes>;

/// What the connection layer must do with a request: wait, then send the
/// response or fail the connection as a scenario scripted.
#[derive(Debug)]
pub struct Answer {
    /// The response (for `Fault::Truncated`, the one to cut short).
    pub response: HttpResponse,
    /// Wait this long first.
    pub delay: Option<std::time::Duration>,
    /// Fail the connection instead of (or while) answering.
    pub fault: Option<Fault>,
}

static REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
static RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
static ENVIRONMENT_ID: HeaderName = HeaderName::from_static("persona-environment-id");
static ORGANIZATION_ID: HeaderName = HeaderName::from_static("persona-organization-id");
static KEY_INFLECTION: HeaderName = HeaderName::from_static("key-inflection");
static PERSONA_VERSION: HeaderName = HeaderName::from_static("persona-version");
static SCENARIO_HEADER: HeaderName = HeaderName::from_static("persona-mock-scenario");
static SESSION_HEADER: HeaderName = HeaderName::from_static("persona-mock-session");
static APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The session of requests that name none and send no API key.
pub const DEFAULT_SESSION: &str = "default";
/// The path prefix that selects a session (and optionally a scenario) for
/// clients that cannot send headers: `/__mock/sessions/{id}[/scenario/{name}]/api/…`.
pub const SESSION_PREFIX: &str = "/__mock/sessions/";

/// A request body as the connection layer read it.
#[derive(Clone, Debug)]
pub enum RequestBody {
    /// The whole body.
    Complete(Bytes),
    /// The body was longer than the configured limit.
    TooLarge,
    /// The body could not be read (the client went away or sent bad framing).
    Unreadable(String),
    /// The body did not arrive within the body read timeout.
    TimedOut,
}

/// Why the mock could not start.
#[derive(Debug)]
pub enum StartError {
    /// Key files that could not be loaded.
    KeyFiles(Vec<KeyFileError>),
    /// Scenario files with errors.
    Scenarios(ConfigErrors),
    /// The default scenario does not exist.
    UnknownScenario {
        /// The name asked for.
        name: String,
        /// The scenarios there are.
        available: String,
    },
    /// The listening socket could not be set up.
    Bind {
        /// The address asked for, as `host:port`.
        address: String,
        /// Why binding failed.
        source: std::io::Error,
    },
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::KeyFiles(errors) => {
                for (i, error) in errors.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{error}")?;
                }
                Ok(())
            }
            StartError::Scenarios(errors) => write!(f, "{errors}"),
            StartError::UnknownScenario { name, available } => write!(
                f,
                "unknown scenario {name:?}: give the name of a scenario ({available}) or the path of a .toml file"
            ),
            StartError::Bind { address, source }
                if source.kind() == std::io::ErrorKind::AddrInUse =>
            {
                write!(
                    f,
                    "cannot listen on {address}: {source}; stop what is using it, or pass --port 0 to pick a free port"
                )
            }
            StartError::Bind { address, source } => {
                write!(f, "cannot listen on {address}: {source}")
            }
        }
    }
}

impl std::error::Error for StartError {}

/// The identifiers an environment's responses carry, ready to send.
struct EnvironmentHeaders {
    environment_id: HeaderValue,
    organization_id: HeaderValue,
}

/// The mock's shared state: built once at startup, read by every request.
pub struct App {
    /// The encodings responses use.
    wire: WireFormat,
    /// Issuer keys by namespace and claim type.
    keys: KeyRing,
    /// `issuer_name` of every challenge.
    issuer_name: Vec<u8>,
    /// `origin_info` of every challenge.
    origin_info: Vec<u8>,
    /// Whether challenges carry a redemption context.
    redemption_context: RedemptionContext,
    /// Set when `--seed` makes contexts and request ids deterministic.
    seed: Option<u64>,
    /// Counts challenges, for seeded redemption contexts.
    challenges: AtomicU64,
    /// Counts requests, for seeded request ids.
    requests: AtomicU64,
    /// Whether unknown request fields are ignored.
    allow_unknown_fields: bool,
    /// Valid API keys.
    pub(crate) auth: Authenticator,
    /// The default rate-limit window.
    rate_limit_window: std::time::Duration,
    /// Counts requests per session (and per session and scenario).
    pub(crate) limiter: RateLimiter,
    /// Headers of sandbox-key responses.
    sandbox: EnvironmentHeaders,
    /// Headers of production-key responses.
    production: EnvironmentHeaders,
    /// Response keys per inflection: kebab, camel, snake.
    response_keys: [[String; 3]; 3],
    /// Largest body accepted.
    max_body_bytes: usize,
    /// Header, timeout and connection limits.
    limits: crate::config::Limits,
    /// The scenarios in force.
    pub(crate) scenarios: ScenarioStore,
    /// Each session's progress through scenarios, and its bound scenario.
    pub(crate) sessions: Sessions,
    /// What clients sent and what they got; `None` when turned off.
    pub(crate) journal: Option<Journal>,
    /// Whether requests to unknown paths are collected.
    pub(crate) strict: bool,
    /// Requests to unknown paths (with `--strict`).
    pub(crate) unmatched: Mutex<Unmatched>,
    /// Who may use the control API.
    pub(crate) control: ControlAccess,
}

/// Who may use the control API under `/__mock/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlAccess {
    /// Anyone who can connect: the mock listens on a loopback address.
    Loopback,
    /// Requests with `Persona-Mock-Token` equal to this.
    Token(String),
    /// Nobody: the mock listens beyond loopback and no token was given.
    Off,
}

impl ControlAccess {
    /// The access for a server bound to `address`.
    pub fn for_address(token: Option<&str>, address: std::net::SocketAddr) -> ControlAccess {
        match token {
            Some(token) => ControlAccess::Token(token.to_string()),
            None if address.ip().is_loopback() => ControlAccess::Loopback,
            None => ControlAccess::Off,
        }
    }
}

/// Requests to paths the mock does not implement, newest last.
#[derive(Default)]
pub struct Unmatched {
    /// The requests kept.
    pub list: std::collections::VecDeque<UnmatchedRequest>,
    /// How many were dropped to stay within [`UNMATCHED_LIMIT`].
    pub dropped: u64,
}

/// How many unmatched requests are kept.
pub const UNMATCHED_LIMIT: usize = 1_000;

/// A request to a path the mock does not implement.
#[derive(Clone, Debug, serde::Serialize)]
pub struct UnmatchedRequest {
    /// When it arrived (RFC 3339 UTC).
    pub time: String,
    /// Its session.
    pub session: String,
    /// The method.
    pub method: String,
    /// The path and query.
    pub path: String,
}

/// Where a request is going once a session prefix is taken off its path.
struct Route<'a> {
    /// The API path.
    path: &'a str,
    /// The session named by the path prefix.
    session: Option<&'a str>,
    /// The scenario named by the path prefix.
    scenario: Option<&'a str>,
}

impl App {
    /// Builds the state from settings, loading key and scenario files.
    pub fn new(settings: &Settings, clock: Arc<dyn Clock>) -> Result<App, StartError> {
        let wire = settings.wire_format();
        let source = settings.seed.map_or(KeySource::Random, KeySource::Seeded);
        let mut keys = KeyRing::new(&settings.claim_types, source, wire);
        if let Some(dir) = &settings.key_dir {
            let ignored = keys.load_dir(dir).map_err(StartError::KeyFiles)?;
            for path in ignored {
                tracing::warn!(path = %path.display(), "key file for a claim type that is not configured; ignored");
            }
        }
        let scenarios = ScenarioStore::load(&settings.scenarios_dirs, settings.scenario.as_deref())
            .map_err(|e| match e {
                StoreError::Files(errors) => StartError::Scenarios(errors),
                StoreError::UnknownDefault { name, available } => {
                    StartError::UnknownScenario { name, available }
                }
            })?;
        let environment_headers = |env: &crate::config::EnvironmentIds| EnvironmentHeaders {
            environment_id: HeaderValue::from_str(&env.environment_id).expect("validated id"),
            organization_id: HeaderValue::from_str(&env.organization_id).expect("validated id"),
        };
        let response_keys =
            [Inflection::Kebab, Inflection::Camel, Inflection::Snake].map(|inflection| {
                ["challenge", "token-key", "token-key-id"].map(|k| inflection.apply(k).into_owned())
            });
        Ok(App {
            wire,
            keys,
            issuer_name: settings.issuer_name.as_bytes().to_vec(),
            origin_info: settings.origin_info.join(",").into_bytes(),
            redemption_context: settings.redemption_context,
            seed: settings.seed,
            challenges: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            allow_unknown_fields: settings.allow_unknown_fields,
            auth: Authenticator {
                accept_prefixed: settings.accept_prefixed_keys,
                keys: settings.api_keys.clone(),
                default_limit: settings.rate_limit,
            },
            rate_limit_window: settings.rate_limit_window,
            limiter: RateLimiter::new(clock),
            sandbox: environment_headers(&settings.sandbox),
            production: environment_headers(&settings.production),
            response_keys,
            max_body_bytes: settings.max_body_bytes,
            limits: settings.limits,
            scenarios,
            sessions: Sessions::default(),
            journal: settings.journal.map(Journal::new),
            strict: settings.strict,
            unmatched: Mutex::new(Unmatched::default()),
            control: ControlAccess::for_address(
                settings.control_token.as_deref(),
                std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            ),
        })
    }

    /// The issuer keys.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The wire format in force.
    pub fn wire_format(&self) -> WireFormat {
        self.wire
    }

    /// Largest request body accepted.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Header, timeout and connection limits.
    pub fn limits(&self) -> crate::config::Limits {
        self.limits
    }

    /// 431 if the request head is over the limits.
    fn check_head(&self, parts: &Parts) -> Result<(), ApiError> {
        let count = parts.headers.len();
        if count > self.limits.max_headers {
            return Err(ApiError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                format!(
                    "The request has {count} header lines; at most {} are accepted.",
                    self.limits.max_headers
                ),
            ));
        }
        let size = parts.method.as_str().len()
            + parts.uri.path_and_query().map_or(1, |p| p.as_str().len())
            + parts
                .headers
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len() + 4)
                .sum::<usize>();
        if size > self.limits.max_header_bytes {
            return Err(ApiError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                format!(
                    "The request line and headers are {size} bytes; at most {} are accepted.",
                    self.limits.max_header_bytes
                ),
            ));
        }
        Ok(())
    }

    /// The scenarios in force.
    pub fn scenarios(&self) -> Arc<ScenarioSet> {
        self.scenarios.current()
    }

    /// Sets who may use the control API, once the listening address is known.
    pub fn set_control_access(&mut self, access: ControlAccess) {
        self.control = access;
    }

    /// The request journal, if it is on.
    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    /// Reloads scenario files that changed; logs errors and keeps the set in
    /// force when a changed file is invalid.
    pub fn reload_scenarios(&self) {
        match self.scenarios.reload_if_changed() {
            Ok(changed) => {
                for name in changed {
                    tracing::info!(scenario = %name, "scenario reloaded");
                    self.sessions.restart(&name);
                }
            }
            Err(errors) => {
                tracing::warn!(
                    "scenario files changed but have errors; the previous scenarios stay in force:\n{errors}"
                );
            }
        }
    }

    /// Whether scenario files are watched for changes.
    pub fn watches_scenario_files(&self) -> bool {
        self.scenarios.watches_files()
    }

    /// Resets one session (or all): scenario progress, rate-limit windows,
    /// the journal, and (for all) the unmatched requests.
    pub fn reset(&self, session: Option<&str>) {
        self.sessions.reset(session);
        self.limiter.reset(session);
        if let Some(journal) = &self.journal {
            journal.clear(session);
        }
        if session.is_none() {
            *self.unmatched.lock().unwrap_or_else(|e| e.into_inner()) = Unmatched::default();
        }
    }

    /// Binds a scenario to a session (`None` unbinds); the session starts it
    /// from its first step.
    pub fn bind_scenario(&self, session: &str, scenario: Option<&str>) -> Result<(), ApiError> {
        if let Some(name) = scenario
            && self.scenarios.current().get(name).is_none()
        {
            return Err(ApiError::unprocessable(
                "/scenario",
                format!(
                    "Unknown scenario {:?}. Available scenarios: {}.",
                    truncate(name),
                    self.scenarios.current().names()
                ),
            ));
        }
        self.sessions.bind(session, scenario.map(str::to_string));
        Ok(())
    }

    /// Answers one request. Never panics: a bug becomes a Persona-shaped 500.
    pub fn respond(&self, parts: &Parts, body: RequestBody) -> Answer {
        if let Err(error) = self.check_head(parts) {
            let response = self.guarded(parts, |_| Err(error));
            return Answer {
                response,
                delay: None,
                fault: None,
            };
        }
        if is_control_path(parts.uri.path()) {
            let response = self.guarded(parts, |_| self.control(parts, &body));
            return Answer {
                response,
                delay: None,
                fault: None,
            };
        }
        let journalled = self.journal.as_ref().map(|_| match &body {
            RequestBody::Complete(bytes) => (bytes.clone(), false),
            _ => (Bytes::new(), true),
        });
        let mut script = Script::default();
        let mut response = self.guarded(parts, |extra| {
            self.dispatch(parts, body, extra, &mut script)
        });
        let headers = response.headers_mut();
        for (name, value) in std::mem::take(&mut script.headers) {
            headers.insert(name, value);
        }
        if let (Some(journal), Some((body, cut))) = (&self.journal, journalled) {
            journal.record(journal_record(
                journal.limits(),
                parts,
                &body,
                cut,
                &script,
                &response,
            ));
        }
        Answer {
            response,
            delay: script.delay,
            fault: script.fault,
        }
    }

    /// Runs a handler, turning its error or panic into Persona's envelope and
    /// adding the headers every response carries.
    fn guarded(
        &self,
        parts: &Parts,
        handler: impl FnOnce(&mut HeaderMap) -> Result<HttpResponse, ApiError>,
    ) -> HttpResponse {
        let mut extra = HeaderMap::new();
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&mut extra)));
        let mut response = match outcome {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => error_response(&error),
            Err(_) => {
                tracing::error!(method = %parts.method, path = parts.uri.path(), "handler panicked");
                extra.clear();
                error_response(&ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "persona-mock failed while answering this request; please report it with the request that caused it",
                ))
            }
        };
        let headers = response.headers_mut();
        headers.extend(extra);
        headers.insert(REQUEST_ID.clone(), self.next_request_id());
        response
    }

    fn dispatch(
        &self,
        parts: &Parts,
        body: RequestBody,
        extra: &mut HeaderMap,
        script: &mut Script,
    ) -> Result<HttpResponse, ApiError> {
        let route = parse_route(parts.uri.path())?;
        let session = session_id(&parts.headers, &route)?;
        if self.journal.is_some() {
            script.session = Some(session.to_string());
        }
        let path = route.path;
        if path != CHALLENGE_PATH && path.strip_suffix('/') != Some(CHALLENGE_PATH) {
            if self.strict {
                self.record_unmatched(parts, &session);
            }
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "No route matches {} {}. persona-mock serves POST {CHALLENGE_PATH}.",
                    parts.method,
                    parts.uri.path()
                ),
            ));
        }
        if parts.method != Method::POST {
            return Err(ApiError::method_not_allowed(
                "POST",
                format!("{CHALLENGE_PATH} only allows POST (got {}).", parts.method),
            ));
        }
        let scenario = self.scenario_for(&parts.headers, &route, &session)?;
        if let Some(scenario) = &scenario {
            script.scenario = Some(scenario.name.clone());
            let facts = Facts::new(&parts.headers, &body, scenario);
            if let Some(pick) = self.sessions.advance(&session, scenario, &facts) {
                script.step = Some(pick.step + 1);
                let step = &scenario.steps[pick.step];
                script.delay = step.delay;
                script.fault = step.fault;
                script.headers = step
                    .headers_for(pick.repetition)
                    .map(|(n, v)| (n.clone(), v.clone()))
                    .collect();
                if !step.is_real() {
                    return Ok(self.scripted(step, &script.headers));
                }
            }
        }
        let scenario_limit = scenario.as_ref().and_then(|s| s.rate_limit.map(|l| (s, l)));
        self.authorize(&parts.headers, extra, &session, scenario_limit)?;
        let inflection = check_conventions(&parts.headers)?;
        check_content_type(&parts.headers)?;
        let body = match body {
            RequestBody::Complete(bytes) => bytes,
            RequestBody::TooLarge => {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "The request body is larger than {} bytes.",
                        self.max_body_bytes
                    ),
                ));
            }
            RequestBody::Unreadable(reason) => {
                return Err(ApiError::bad_request(format!(
                    "The request body could not be read: {reason}"
                )));
            }
            RequestBody::TimedOut => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "The request body did not arrive within {} ms.",
                        self.limits.body_read_timeout.as_millis()
                    ),
                ));
            }
        };
        let request = self.parse_challenge_request(&body)?;
        self.challenge(&request, inflection)
    }

    /// The scenario a request runs under: the `Persona-Mock-Scenario`
    /// header's, else the path prefix's, else the session's bound one, else
    /// the default.
    fn scenario_for(
        &self,
        headers: &HeaderMap,
        route: &Route<'_>,
        session: &str,
    ) -> Result<Option<Arc<Scenario>>, ApiError> {
        let (name, from) = match (headers.get(&SCENARIO_HEADER), route.scenario) {
            (Some(value), _) => (
                String::from_utf8_lossy(value.as_bytes()).trim().to_string(),
                "the Persona-Mock-Scenario header",
            ),
            (None, Some(name)) => (name.to_string(), "the request path"),
            (None, None) => match self.sessions.bound(session) {
                Some(name) => (name, "the session's binding"),
                None => return Ok(self.scenarios.default_scenario()),
            },
        };
        let scenarios = self.scenarios.current();
        match scenarios.get(&name) {
            Some(scenario) => Ok(Some(scenario.clone())),
            None => Err(ApiError::bad_request(format!(
                "Unknown scenario {:?} named by {from}. Available scenarios: {}.",
                truncate(&name),
                scenarios.names()
            ))),
        }
    }

    /// Notes a request to a path the mock does not implement.
    fn record_unmatched(&self, parts: &Parts, session: &str) {
        let mut unmatched = self.unmatched.lock().unwrap_or_else(|e| e.into_inner());
        if unmatched.list.len() >= UNMATCHED_LIMIT {
            unmatched.list.pop_front();
            unmatched.dropped += 1;
        }
        unmatched.list.push_back(UnmatchedRequest {
            time: now_rfc3339(),
            session: session.to_string(),
            method: parts.method.to_string(),
            path: parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string(),
        });
    }

    /// The response a non-real step scripts.
    fn scripted(&self, step: &Step, headers: &[(HeaderName, HeaderValue)]) -> HttpResponse {
        let status = step.status;
        match &step.body {
            StepBody::Verbatim { body, content_type } => {
                let mut response = Response::new(Bytes::from(body.clone()));
                *response.status_mut() = status;
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, content_type.clone());
                response
            }
            StepBody::Standard { .. }
                if !(status.is_client_error() || status.is_server_error()) =>
            {
                let mut response = Response::new(Bytes::new());
                *response.status_mut() = status;
                response
            }
            StepBody::Standard {
                title,
                details,
                pointer,
            } => {
                let details = details.clone().unwrap_or_else(|| {
                    let limit = headers
                        .iter()
                        .find(|(name, _)| *name == RATELIMIT_LIMIT)
                        .and_then(|(_, value)| value.to_str().ok()?.parse().ok());
                    default_details(
                        status,
                        limit.unwrap_or(self.auth.default_limit),
                        self.rate_limit_window,
                    )
                });
                let error = ApiError {
                    status,
                    title: title
                        .clone()
                        .map_or_else(|| persona_title(status), Cow::Owned),
                    details,
                    pointer: pointer.clone().map(Cow::Owned),
                    more: Vec::new(),
                    allow: None,
                };
                error_response(&error)
            }
        }
    }

    /// Authenticates the caller if it sent `Authorization`, and counts the
    /// request against the rate limit: the scenario's, for every request, or
    /// else the default one, for authenticated requests.
    fn authorize(
        &self,
        headers: &HeaderMap,
        extra: &mut HeaderMap,
        session: &str,
        scenario_limit: Option<(&Arc<Scenario>, crate::scenario::ScenarioRateLimit)>,
    ) -> Result<(), ApiError> {
        let header = headers.get(AUTHORIZATION).map(HeaderValue::as_bytes);
        let principal = match self.auth.authenticate(header) {
            Ok(principal) => principal,
            Err(AuthError::NotBearer) => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "Send the API key as `Authorization: Bearer <API key>`, or send no Authorization header.",
                ));
            }
            Err(AuthError::InvalidKey) => {
                let hint = if self.auth.accept_prefixed {
                    "persona-mock accepts keys that start with persona_sandbox_ or persona_production_"
                } else {
                    "persona-mock accepts the keys listed under [[auth.keys]] in its config file"
                };
                return Err(ApiError {
                    title: Cow::Borrowed("Token is invalid"),
                    ..ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        format!("The API key is not valid: {hint}."),
                    )
                });
            }
        };
        if let Some(principal) = &principal {
            let environment = match principal.environment {
                crate::auth::Environment::Sandbox => &self.sandbox,
                crate::auth::Environment::Production => &self.production,
            };
            extra.insert(ENVIRONMENT_ID.clone(), environment.environment_id.clone());
            extra.insert(ORGANIZATION_ID.clone(), environment.organization_id.clone());
        }
        let (status, window) = match (scenario_limit, &principal) {
            (Some((scenario, limit)), _) => {
                let key = crate::auth::scenario_window_key(session, &scenario.name);
                (
                    self.limiter.check(&key, limit.limit, limit.window),
                    limit.window,
                )
            }
            (None, Some(principal)) => (
                self.limiter
                    .check(session, principal.limit, self.rate_limit_window),
                self.rate_limit_window,
            ),
            (None, None) => return Ok(()),
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
        Ok(())
    }

    fn parse_challenge_request(&self, body: &[u8]) -> Result<ChallengeRequest, ApiError> {
        const EXAMPLE: &str = r#"{"claim-type": "age_over18_verified"}"#;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(format!(
                "The request body is empty; send a JSON object like {EXAMPLE}."
            )));
        }
        let parsed = crate::request::parse(body).map_err(|e| {
            ApiError::bad_request(format!("The request body is not valid JSON: {e}."))
        })?;
        let (claim_type, sandbox) = match parsed {
            Body::NotObject(kind) => {
                return Err(ApiError::bad_request(format!(
                    "The request body must be a JSON object like {EXAMPLE} (got {kind})."
                )));
            }
            Body::Object {
                unknown: Some(key), ..
            } if !self.allow_unknown_fields => {
                return Err(ApiError::bad_request(format!(
                    "Unknown field {:?}: the allowed fields are claim-type and sandbox.",
                    truncate(&key)
                )));
            }
            Body::Object {
                duplicate: Some((first, key)),
                ..
            } => {
                return Err(ApiError::bad_request(format!(
                    "{first:?} and {key:?} name the same field; send it once."
                )));
            }
            Body::Object {
                claim_type,
                sandbox,
                ..
            } => (claim_type, sandbox),
        };
        let claim_type = match claim_type {
            None => {
                return Err(ApiError::bad_request(format!(
                    "claim-type is required, as in {EXAMPLE}."
                )));
            }
            Some((_, Scalar::Str(s))) => s,
            Some((key, other)) => {
                return Err(ApiError::bad_request(format!(
                    "{key} must be a string (got {}).",
                    other.kind()
                )));
            }
        };
        let sandbox = match sandbox {
            None => false,
            Some((_, Scalar::Bool(b))) => b,
            Some((key, other)) => {
                return Err(ApiError::bad_request(format!(
                    "{key} must be true or false (got {}).",
                    other.kind()
                )));
            }
        };
        Ok(ChallengeRequest {
            claim_type,
            sandbox,
        })
    }

    fn challenge(
        &self,
        request: &ChallengeRequest,
        inflection: Inflection,
    ) -> Result<HttpResponse, ApiError> {
        let namespace = if request.sandbox {
            Namespace::Sandbox
        } else {
            Namespace::Production
        };
        let Some(key) = self.keys.get(namespace, &request.claim_type) else {
            return Err(ApiError::unprocessable(
                "/claim-type",
                format!(
                    "{:?} is not a claim type persona-mock serves. Claim types: {}. Add more under [claim-types] in the config file.",
                    truncate(&request.claim_type),
                    self.keys.claim_types().join(", ")
                ),
            ));
        };
        let context = self.next_redemption_context();
        let fields = ChallengeFields {
            token_type: key.token_type.code(),
            issuer_name: &self.issuer_name,
            redemption_context: context.as_ref().map_or(&[][..], |c| &c[..]),
            origin_info: &self.origin_info,
        };
        let mut challenge = Vec::with_capacity(fields.encoded_len());
        fields
            .encode_into(&mut challenge)
            .expect("settings are validated to fit a challenge");
        let [k_challenge, k_token_key, k_token_key_id] = &self.response_keys[inflection as usize];
        let token_key = key.token_key_b64();
        let token_key_id = key.token_key_id_hex();
        let mut body = String::with_capacity(
            32 + k_challenge.len()
                + k_token_key.len()
                + k_token_key_id.len()
                + challenge.len() * 4 / 3
                + token_key.len()
                + token_key_id.len(),
        );
        // Every value is base64url or hex, so none needs escaping.
        body.push_str("{\"");
        body.push_str(k_challenge);
        body.push_str("\":\"");
        self.wire.padding.encode_into(&challenge, &mut body);
        for (name, value) in [(k_token_key, token_key), (k_token_key_id, token_key_id)] {
            body.push_str("\",\"");
            body.push_str(name);
            body.push_str("\":\"");
            body.push_str(value);
        }
        body.push_str("\"}");
        Ok(json_response(StatusCode::OK, body.into_bytes()))
    }

    fn next_redemption_context(&self) -> Option<[u8; REDEMPTION_CONTEXT_LEN]> {
        if self.redemption_context == RedemptionContext::Empty {
            return None;
        }
        Some(match self.seed {
            Some(seed) => {
                let n = self.challenges.fetch_add(1, Ordering::Relaxed);
                seeded_bytes(b"persona-mock redemption context\0", seed, n)
            }
            None => {
                let mut context = [0u8; REDEMPTION_CONTEXT_LEN];
                rand::rng().fill_bytes(&mut context);
                context
            }
        })
    }

    fn next_request_id(&self) -> HeaderValue {
        let bytes = match self.seed {
            Some(seed) => seeded_bytes(
                b"persona-mock request id\0",
                seed,
                self.requests.fetch_add(1, Ordering::Relaxed),
            ),
            None => {
                let mut bytes = [0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                bytes
            }
        };
        HeaderValue::from_maybe_shared(Bytes::from(ids::opaque("req_", &bytes)))
            .expect("ids are alphanumeric")
    }
}

/// A parsed challenge request.
struct ChallengeRequest {
    claim_type: String,
    sandbox: bool,
}

/// What a scenario step adds to the response.
#[derive(Default)]
struct Script {
    /// Headers that replace the response's own.
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Wait before answering.
    delay: Option<std::time::Duration>,
    /// Connection failure.
    fault: Option<Fault>,
    /// The session (recorded only when the journal is on).
    session: Option<String>,
    /// The scenario in force.
    scenario: Option<String>,
    /// The step that answered, from 1.
    step: Option<usize>,
}

/// Whether a path is the control API's (under `/__mock/`, but not a
/// session-prefixed API path).
pub fn is_control_path(path: &str) -> bool {
    if let Some(rest) = path.strip_prefix(SESSION_PREFIX) {
        return !rest.contains('/');
    }
    path == "/__mock" || path.starts_with("/__mock/")
}

/// The journal's record of one request and its answer.
fn journal_record(
    limits: JournalLimits,
    parts: &Parts,
    body: &[u8],
    body_unread: bool,
    script: &Script,
    response: &HttpResponse,
) -> Record {
    let kept = body.len().min(limits.body_bytes);
    Record {
        seq: 0,
        time: std::time::SystemTime::now(),
        session: script
            .session
            .clone()
            .unwrap_or_else(|| DEFAULT_SESSION.to_string()),
        method: parts.method.clone(),
        path: parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string(),
        headers: Record::pack(&parts.headers),
        body: body[..kept].into(),
        body_truncated: body_unread || kept < body.len(),
        scenario: script.scenario.clone(),
        step: script.step,
        status: response.status().as_u16(),
        fault: script.fault.map(|f| match f {
            Fault::Reset => "reset",
            Fault::Hang => "hang",
            Fault::Truncated => "truncated",
        }),
        response_headers: Record::pack(response.headers()),
    }
}

/// Takes a `/__mock/sessions/{id}[/scenario/{name}]` prefix off a path.
fn parse_route(path: &str) -> Result<Route<'_>, ApiError> {
    let Some(rest) = path.strip_prefix(SESSION_PREFIX) else {
        return Ok(Route {
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
        return Ok(Route {
            path: &named[name.len()..],
            session: Some(session),
            scenario: Some(name),
        });
    }
    Ok(Route {
        path: &rest[session.len()..],
        session: Some(session),
        scenario: None,
    })
}

/// The session a request belongs to: the `Persona-Mock-Session` header,
/// else the path prefix's, else the Bearer API key, else the shared default.
fn session_id<'a>(headers: &'a HeaderMap, route: &Route<'a>) -> Result<Cow<'a, str>, ApiError> {
    if let Some(value) = headers.get(&SESSION_HEADER) {
        if !is_session_id(value.as_bytes()) {
            return Err(ApiError::bad_request(
                "Persona-Mock-Session must be 1 to 128 visible ASCII characters without spaces.",
            ));
        }
        return Ok(String::from_utf8_lossy(value.as_bytes()));
    }
    if let Some(session) = route.session {
        return session_segment(session);
    }
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, key)| scheme.eq_ignore_ascii_case("bearer") && !key.trim().is_empty())
        .map(|(_, key)| key.trim());
    Ok(Cow::Borrowed(bearer.unwrap_or(DEFAULT_SESSION)))
}

/// The request as a step's `when` sees it. The body is parsed only when a
/// step of the scenario looks at it.
struct Facts<'a> {
    headers: &'a HeaderMap,
    claim_type: Option<String>,
    sandbox: Option<bool>,
}

impl<'a> Facts<'a> {
    fn new(headers: &'a HeaderMap, body: &RequestBody, scenario: &Scenario) -> Facts<'a> {
        let mut facts = Facts {
            headers,
            claim_type: None,
            sandbox: None,
        };
        let inspects_body = scenario
            .steps
            .iter()
            .any(|s| s.when.claim_type.is_some() || s.when.sandbox.is_some());
        let RequestBody::Complete(bytes) = body else {
            return facts;
        };
        if !inspects_body {
            return facts;
        }
        // The same reading of the body as the endpoint's own.
        let Ok(Body::Object {
            claim_type,
            sandbox,
            ..
        }) = crate::request::parse(bytes)
        else {
            return facts;
        };
        facts.claim_type = match claim_type {
            Some((_, Scalar::Str(s))) => Some(s),
            _ => None,
        };
        facts.sandbox = match sandbox {
            None => Some(false),
            Some((_, Scalar::Bool(b))) => Some(b),
            Some(_) => None,
        };
        facts
    }
}

impl RequestFacts for Facts<'_> {
    fn claim_type(&self) -> Option<&str> {
        self.claim_type.as_deref()
    }

    fn sandbox(&self) -> Option<bool> {
        self.sandbox
    }

    fn header(&self, name: &HeaderName) -> Option<&[u8]> {
        self.headers.get(name).map(HeaderValue::as_bytes)
    }
}

/// Details of a scripted error that does not give its own, in Persona's voice.
fn default_details(status: StatusCode, limit: u32, window: std::time::Duration) -> String {
    match status.as_u16() {
        400 => "The request could not be understood.".into(),
        401 => "The API key is missing or invalid.".into(),
        403 => "You do not have permission to access this resource.".into(),
        404 => "The requested record was not found.".into(),
        408 => "The request took too long.".into(),
        409 => "The request conflicts with the current state of the record.".into(),
        422 => "The request could not be processed.".into(),
        429 => rate_limit_details(limit, window),
        500 => "Something went wrong on our end. Please try again.".into(),
        502..=504 => "The service is temporarily unavailable. Please try again later.".into(),
        _ => status.canonical_reason().unwrap_or("Error").to_string() + ".",
    }
}

/// 32 bytes that depend only on the label, the seed and the counter.
fn seeded_bytes(label: &[u8], seed: u64, n: u64) -> [u8; 32] {
    Sha256::new()
        .chain_update(label)
        .chain_update(seed.to_be_bytes())
        .chain_update(n.to_be_bytes())
        .finalize()
        .into()
}

/// Checks `Persona-Version` and reads `Key-Inflection`.
fn check_conventions(headers: &HeaderMap) -> Result<Inflection, ApiError> {
    if let Some(version) = headers.get(&PERSONA_VERSION) {
        check_version(version.as_bytes())?;
    }
    match headers.get(&KEY_INFLECTION) {
        Some(value) => Inflection::parse(value.as_bytes()),
        None => Ok(Inflection::Kebab),
    }
}

/// A missing `Content-Type` is accepted; a present one must be JSON.
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let media_type = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media_type == "application/json"
        || (media_type.starts_with("application/") && media_type.ends_with("+json"))
    {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "Content-Type must be application/json (got {text:?})."
    )))
}

/// A JSON response with Persona's content type.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, APPLICATION_JSON.clone());
    response
}

/// Persona's error envelope for an API error.
pub fn error_response(error: &ApiError) -> HttpResponse {
    let mut response = json_response(error.status, error.body());
    if let Some(allow) = error.allow {
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
    }
    response
}

/// Decodes `%XX` escapes (and `+` as a space, in queries).
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Whether a session id is 1 to 128 visible ASCII characters.
pub(crate) fn is_session_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= 128 && id.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// A session id from a path segment, percent-decoded and checked.
pub(crate) fn session_segment(raw: &str) -> Result<Cow<'_, str>, ApiError> {
    let decoded = if raw.contains('%') {
        percent_decode(raw).map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(raw))
    };
    decoded.filter(|id| is_session_id(id.as_bytes())).ok_or_else(|| {
        ApiError::bad_request(
            "The session in the path must be 1 to 128 visible ASCII characters (percent-encoded where needed).",
        )
    })
}

/// Client input echoed in messages is cut to 100 characters.
fn truncate(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(100) {
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    fn app() -> App {
        App::new(&Settings::default(), Arc::new(SystemClock::new())).unwrap()
    }

    fn parts(method: &str, path: &str) -> Parts {
        hyper::Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    fn body_text(response: HttpResponse) -> String {
        String::from_utf8(response.into_body().to_vec()).unwrap()
    }

    #[test]
    fn a_panicking_handler_becomes_a_persona_500() {
        let app = app();
        let response = app.guarded(&parts("POST", CHALLENGE_PATH), |extra| {
            extra.insert(ALLOW, HeaderValue::from_static("POST"));
            panic!("a bug")
        });
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().contains_key(&REQUEST_ID));
        assert!(
            !response.headers().contains_key(ALLOW),
            "headers of the failed handler are dropped"
        );
        assert_eq!(
            body_text(response),
            r#"{"errors":[{"title":"Internal Server Error","details":"persona-mock failed while answering this request; please report it with the request that caused it"}]}"#
        );
    }

    #[test]
    fn requests_are_answered_without_a_socket() {
        let app = app();
        let body = br#"{"claim-type":"live_human_presence"}"#;
        let answer = app.respond(
            &parts("POST", CHALLENGE_PATH),
            RequestBody::Complete(Bytes::from_static(body)),
        );
        assert_eq!(answer.response.status(), StatusCode::OK);
        assert!(
            body_text(answer.response)
                .starts_with(r#"{"challenge":"AAEAE2FwaS53aXRocGVyc29uYS5jb20g"#)
        );
        let unreadable = app.respond(
            &parts("POST", CHALLENGE_PATH),
            RequestBody::Unreadable("reset".into()),
        );
        assert_eq!(
            body_text(unreadable.response),
            r#"{"errors":[{"title":"Bad Request","details":"The request body could not be read: reset"}]}"#
        );
    }
}
