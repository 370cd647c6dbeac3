//! The mock's state: every store a request reads or changes, built once at
//! startup from validated settings. [`State::reset`] names every store, so
//! a store added later cannot be forgotten by a reset.

use crate::api::ApiError;
use crate::api::conventions::truncate;
use crate::auth::{Authenticator, Environment, RateLimiter};
use crate::clock::Clock;
use crate::error::StartError;
use crate::flow::idempotency::IdempotencyStore;
use crate::flow::jwt::SessionTokens;
use crate::flow::relays::RelayStore;
use crate::flow::{ChallengeLog, SpentTokens};
use crate::ids::Fresh;
use crate::journal::{Journal, rfc3339};
use crate::keys::{KeyRing, KeySource};
use crate::profile::WireFormat;
use crate::scenario::{
    DeleteError, MAX_UPLOADS, Scenario, ScenarioStore, Sessions, StoreError, UploadError,
    is_scenario_name,
};
use crate::settings::{Limits, PERSONA_API_HOST, RedemptionContext, RelaySettings, Settings};
use hyper::StatusCode;
use hyper::header::HeaderValue;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The identifiers an environment's responses carry, ready to send.
pub(crate) struct EnvironmentHeaders {
    /// `Persona-Environment-Id`.
    pub environment_id: HeaderValue,
    /// `Persona-Organization-Id`.
    pub organization_id: HeaderValue,
}

/// What every challenge carries besides its token type and context.
pub(crate) struct ChallengeSettings {
    /// `issuer_name`.
    pub issuer_name: Vec<u8>,
    /// `origin_info`: the origins joined with `,`.
    pub origin_info: Vec<u8>,
    /// Whether challenges carry a redemption context.
    pub redemption_context: RedemptionContext,
    /// `issuer_name` of JSON challenges (Persona's deployed dialect).
    pub json_issuer_name: String,
}

/// Which origins may call the API from a browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsOrigins {
    /// Any origin (the default on a loopback address).
    Any,
    /// These origins, exactly (scheme, host and port).
    List(Vec<String>),
}

impl CorsOrigins {
    /// Whether `origin` may call the API.
    pub(crate) fn allows(&self, origin: &[u8]) -> bool {
        match self {
            CorsOrigins::Any => true,
            CorsOrigins::List(list) => list.iter().any(|o| o.as_bytes() == origin),
        }
    }
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

/// Requests to paths the mock does not implement (with `--strict`), newest
/// last, at most [`UNMATCHED_LIMIT`].
#[derive(Default)]
pub(crate) struct UnmatchedLog {
    inner: Mutex<(VecDeque<UnmatchedRequest>, u64)>,
}

impl UnmatchedLog {
    /// Notes one request, made at `time` (RFC 3339).
    pub fn record(&self, time: String, session: &str, method: &str, path: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.0.len() >= UNMATCHED_LIMIT {
            inner.0.pop_front();
            inner.1 += 1;
        }
        inner.0.push_back(UnmatchedRequest {
            time,
            session: session.to_string(),
            method: method.to_string(),
            path: path.to_string(),
        });
    }

    /// The requests kept, and how many were dropped.
    pub fn list(&self) -> (Vec<UnmatchedRequest>, u64) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (inner.0.iter().cloned().collect(), inner.1)
    }

    /// Forgets everything.
    pub fn clear(&self) {
        *self.inner.lock().unwrap_or_else(|e| e.into_inner()) = Default::default();
    }
}

/// Every store and setting a request needs.
pub struct State {
    /// The wire choices in force.
    pub(crate) wire: WireFormat,
    /// Issuer keys by namespace and claim type.
    pub(crate) keys: KeyRing,
    /// What challenges carry.
    pub(crate) challenge: ChallengeSettings,
    /// Request ids and redemption contexts.
    pub(crate) fresh: Fresh,
    /// Whether unknown request fields are ignored.
    pub(crate) allow_unknown_fields: bool,
    /// Valid API keys.
    pub(crate) auth: Authenticator,
    /// The default rate-limit window.
    pub(crate) rate_limit_window: Duration,
    /// Counts requests per session (and per session and scenario).
    pub(crate) limiter: RateLimiter,
    /// Headers of sandbox-key responses.
    pub(crate) sandbox: EnvironmentHeaders,
    /// Headers of production-key responses.
    pub(crate) production: EnvironmentHeaders,
    /// Largest body accepted.
    pub(crate) max_body_bytes: usize,
    /// Header, timeout and connection limits.
    pub(crate) limits: Limits,
    /// The scenarios in force.
    pub(crate) scenarios: ScenarioStore,
    /// Each session's progress through scenarios, and its bound scenario.
    pub(crate) sessions: Sessions,
    /// What clients sent and what they got; `None` when turned off.
    pub(crate) journal: Option<Journal>,
    /// Whether requests to unknown paths are collected.
    pub(crate) strict: bool,
    /// Whether generate-claim without a token answers with a challenge.
    pub(crate) challenge_on_401: bool,
    /// Requests to unknown paths (with `--strict`).
    pub(crate) unmatched: UnmatchedLog,
    /// Who may use the control API.
    pub(crate) control: ControlAccess,
    /// Which browser origins may call the API; `None`: CORS is off.
    pub(crate) cors: Option<CorsOrigins>,
    /// The origins configured (empty: any on loopback, none elsewhere).
    cors_setting: Vec<String>,
    /// Whether the journal and logs mask API keys.
    pub(crate) mask_api_keys: bool,
    /// Host names the control API and hosted page answer to on loopback,
    /// besides loopback names and addresses.
    pub(crate) allowed_hosts: Vec<String>,
    /// Time for lifetimes and windows (a manual clock in tests).
    pub(crate) clock: Arc<dyn Clock>,
    /// How long a challenge can back tokens.
    pub(crate) challenge_lifetime: Duration,
    /// How relays' claims turn out.
    pub(crate) relay_settings: RelaySettings,
    /// Challenges issued.
    pub(crate) challenges: ChallengeLog,
    /// Relays and their claims.
    pub(crate) relays: RelayStore,
    /// Token nonces redeemed.
    pub(crate) spent: SpentTokens,
    /// First responses by `Idempotency-Key`.
    pub(crate) idempotency: IdempotencyStore,
    /// Signs relay session tokens.
    pub(crate) session_tokens: SessionTokens,
    /// The key of JSON challenges' MACs (from the seed, or random).
    pub(crate) mac_secret: [u8; 32],
    /// Wall time when the state's clock read zero.
    pub(crate) wall_start: std::time::SystemTime,
}

impl State {
    /// Validates the settings, then builds the state, loading key and
    /// scenario files.
    pub fn new(settings: &Settings, clock: Arc<dyn Clock>) -> Result<State, StartError> {
        settings.validate().map_err(StartError::Settings)?;
        let wire = settings.wire_format();
        let source = settings.seed.map_or(KeySource::Random, KeySource::Seeded);
        let mut keys = KeyRing::new(&settings.claim_token_types(), source, wire);
        if let Some(dir) = &settings.key_dir {
            let ignored = keys.load_dir(dir).map_err(StartError::KeyFiles)?;
            for path in ignored {
                tracing::warn!(path = %path.display(), "key file for a claim type that is not configured; ignored");
            }
        }
        let scenarios = ScenarioStore::load(&settings.scenarios_dirs, settings.scenario.as_deref())
            .map_err(|e| match e {
                StoreError::Files(errors) => StartError::Scenarios(errors),
                StoreError::UnknownDefault {
                    name,
                    available,
                    suggestion,
                } => StartError::UnknownScenario {
                    name,
                    available,
                    suggestion,
                },
            })?;
        let environment_headers = |environment| {
            let ids = settings.environment(environment);
            EnvironmentHeaders {
                environment_id: HeaderValue::from_str(&ids.environment_id)
                    .expect("validated: env_ and header-safe characters"),
                organization_id: HeaderValue::from_str(&ids.organization_id)
                    .expect("validated: org_ and header-safe characters"),
            }
        };
        let origin_info = settings.origin_info.join(",").into_bytes();
        Ok(State {
            wire,
            keys,
            challenge: ChallengeSettings {
                issuer_name: settings.issuer_name.as_bytes().to_vec(),
                origin_info,
                redemption_context: settings.redemption_context,
                json_issuer_name: if settings.issuer_name == PERSONA_API_HOST {
                    crate::privacypass::persona::ISSUER_NAME.to_string()
                } else {
                    settings.issuer_name.clone()
                },
            },
            fresh: Fresh::new(settings.seed),
            allow_unknown_fields: settings.allow_unknown_fields,
            auth: Authenticator {
                accept_prefixed: settings.accept_prefixed_keys,
                keys: settings.api_keys.clone(),
                default_limit: settings.rate_limit,
            },
            rate_limit_window: settings.rate_limit_window,
            limiter: RateLimiter::new(clock.clone()),
            sandbox: environment_headers(Environment::Sandbox),
            production: environment_headers(Environment::Production),
            max_body_bytes: settings.max_body_bytes,
            limits: settings.limits,
            scenarios,
            sessions: Sessions::default(),
            journal: settings.journal.map(Journal::new),
            strict: settings.strict,
            challenge_on_401: settings.challenge_on_401,
            unmatched: UnmatchedLog::default(),
            control: ControlAccess::for_address(
                settings.control_token.as_deref(),
                std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            ),
            cors: cors_for(&settings.cors_origins, true),
            cors_setting: settings.cors_origins.clone(),
            allowed_hosts: settings.allowed_hosts.clone(),
            mask_api_keys: settings.mask_api_keys,
            clock: clock.clone(),
            challenge_lifetime: settings.challenge_lifetime,
            relay_settings: settings.relays,
            challenges: ChallengeLog::new(),
            relays: RelayStore::new(),
            spent: SpentTokens::new(),
            idempotency: IdempotencyStore::new(settings.idempotency_ttl),
            session_tokens: SessionTokens::new(settings.seed),
            mac_secret: mac_secret(settings.seed),
            wall_start: std::time::SystemTime::now() - clock.now(),
        })
    }

    /// Header, timeout and connection limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Largest request body accepted.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The request journal, if it is on.
    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    /// Sets who may use the control API, once the listening address is known.
    pub fn set_control_access(&mut self, access: ControlAccess) {
        self.control = access;
    }

    /// Sets which origins may call the API from a browser, once the
    /// listening address is known: the configured ones, else any on a
    /// loopback address and none elsewhere.
    pub fn set_cors_for_address(&mut self, address: std::net::SocketAddr) {
        self.cors = cors_for(&self.cors_setting, address.ip().is_loopback());
    }

    /// How the journal and logs name a request's session: a session named
    /// by the request's API key is masked ([`crate::auth::mask_api_key`]).
    pub(crate) fn shown_session<'a>(
        &self,
        session: &'a str,
        authorization: Option<&HeaderValue>,
    ) -> std::borrow::Cow<'a, str> {
        let bearer = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .map(|(_, key)| key.trim());
        if self.mask_api_keys && bearer == Some(session) {
            std::borrow::Cow::Owned(crate::auth::mask_api_key(session))
        } else {
            std::borrow::Cow::Borrowed(session)
        }
    }

    /// The journal's name for a session a control request asks about: as
    /// given if the journal has it, else masked as a session named by an
    /// API key is kept.
    pub(crate) fn journal_session<'a>(&self, session: &'a str) -> std::borrow::Cow<'a, str> {
        match &self.journal {
            Some(journal) if self.mask_api_keys && !journal.has_session(session) => {
                std::borrow::Cow::Owned(crate::auth::mask_api_key(session))
            }
            _ => std::borrow::Cow::Borrowed(session),
        }
    }

    /// The journal, or the 409 for a control request that needs it when it
    /// is off.
    pub(crate) fn journal_or_conflict(&self) -> Result<&Journal, ApiError> {
        self.journal.as_ref().ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "The request journal is off (--no-journal or [journal] enabled = false).",
            )
        })
    }

    /// A session's journal entries (all of them) and how many were
    /// dropped, by the journal's name for it: 409 with the journal off, 404
    /// for a session the journal has no request of.
    pub(crate) fn session_journal(
        &self,
        session: &str,
    ) -> Result<(String, crate::journal::JournalView), ApiError> {
        let journal = self.journal_or_conflict()?;
        let name = self.journal_session(session).into_owned();
        if !journal.has_session(&name) {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "The journal has no request of session {:?}: send the API requests with Persona-Mock-Session: {0:?} (or with it as the API key), or check the session's name.",
                    truncate(session)
                ),
            ));
        }
        let view = journal.view(Some(&name));
        Ok((name, view))
    }

    /// A session's contract report, as `GET /__mock/sessions/{id}/report`
    /// gives it.
    pub(crate) fn report(&self, session: &str) -> Result<crate::report::Report, ApiError> {
        let (name, view) = self.session_journal(session)?;
        Ok(crate::report::Report::judge(
            &name,
            &view.requests,
            view.dropped,
        ))
    }

    /// Checks expectations against a session's journal, as
    /// `POST /__mock/sessions/{id}/verify` does.
    pub(crate) fn verify(
        &self,
        session: &str,
        expectations: &[crate::report::Expectation],
    ) -> Result<crate::report::Verification, ApiError> {
        let (_, view) = self.session_journal(session)?;
        Ok(crate::report::Verification::check(
            expectations,
            &view.requests,
            view.dropped,
        ))
    }

    /// The origins configured by name (not `"*"`): the only other sites
    /// whose pages may use the control API and the hosted page.
    pub(crate) fn cors_origins(&self) -> impl Iterator<Item = &String> {
        self.cors_setting.iter().filter(|o| *o != "*")
    }

    /// The state's clock's wall time now, as RFC 3339 with milliseconds:
    /// every time the mock shows comes from the one clock.
    pub(crate) fn now_rfc3339(&self) -> String {
        rfc3339(self.wall_time(self.clock.now()))
    }

    /// Wall time as Unix seconds, moved by the state's clock (a manual
    /// clock in tests moves it too).
    pub(crate) fn unix_now(&self) -> u64 {
        self.wall_time(self.clock.now())
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// The wall time of `now` on the state's clock.
    pub(crate) fn wall_time(&self, now: std::time::Duration) -> std::time::SystemTime {
        self.wall_start + now
    }

    /// The headers of an environment's responses.
    pub(crate) fn environment(&self, environment: Environment) -> &EnvironmentHeaders {
        match environment {
            Environment::Sandbox => &self.sandbox,
            Environment::Production => &self.production,
        }
    }

    /// Resets one session (or all): scenario progress, rate-limit windows,
    /// the journal, issued challenges, relays, spent tokens, idempotency
    /// keys, and (for all) the unmatched requests.
    pub fn reset(&self, session: Option<&str>) {
        // Every field is named: a new store does not compile until it says
        // here whether a reset clears it.
        let State {
            wire: _,
            keys: _,
            challenge: _,
            fresh: _,
            allow_unknown_fields: _,
            auth: _,
            rate_limit_window: _,
            limiter,
            sandbox: _,
            production: _,
            max_body_bytes: _,
            limits: _,
            scenarios: _,
            sessions,
            journal,
            strict: _,
            challenge_on_401: _,
            unmatched,
            control: _,
            cors: _,
            cors_setting: _,
            allowed_hosts: _,
            mask_api_keys: _,
            clock: _,
            challenge_lifetime: _,
            relay_settings: _,
            challenges,
            relays,
            spent,
            idempotency,
            session_tokens: _,
            mac_secret: _,
            wall_start: _,
        } = self;
        sessions.reset(session);
        limiter.reset(session);
        if let Some(journal) = journal {
            journal.clear(session.map(|s| self.journal_session(s)).as_deref());
        }
        if session.is_none() {
            unmatched.clear();
        }
        challenges.reset(session);
        relays.reset(session);
        spent.reset(session);
        idempotency.reset(session);
    }

    /// Makes the issuer keys that do not exist yet (RSA first), off the
    /// request path: the server runs this on a thread of its own at startup.
    pub fn warm(&self) {
        self.keys.warm();
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
                    "Unknown scenario {:?}{}. Available scenarios: {}.",
                    truncate(name),
                    self.scenarios.current().suggestion(name),
                    self.scenarios.current().names()
                ),
            ));
        }
        self.sessions.bind(session, scenario.map(str::to_string));
        Ok(())
    }

    /// Validates `text` as scenario `name` exactly like a file and adds it
    /// (replacing one of the same name); sessions start it over. Nothing
    /// changes when it is invalid: a 422 with one error per mistake.
    pub fn upload_scenario(&self, name: &str, text: &str) -> Result<Arc<Scenario>, ApiError> {
        if !is_scenario_name(name) {
            return Err(ApiError::bad_request(format!(
                "{:?} cannot be a scenario name: use lowercase letters, digits, '-', '_' and '.', starting with a letter or digit.",
                truncate(name)
            )));
        }
        let scenario = self.scenarios.upload(name, text).map_err(|error| match error {
            UploadError::Invalid(errors) => {
                let mut all = errors.into_iter().map(|e| e.to_string());
                let first = all.next().unwrap_or_default();
                ApiError {
                    more: all.collect(),
                    ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, first)
                }
            }
            UploadError::TooMany => ApiError::new(
                StatusCode::CONFLICT,
                format!("{MAX_UPLOADS} scenarios were uploaded already; delete or replace one of them."),
            ),
        })?;
        self.sessions.restart(name);
        Ok(scenario)
    }

    /// Deletes an uploaded scenario (a file or built-in one of the same name
    /// comes back); sessions start that scenario over.
    pub fn delete_scenario(&self, name: &str) -> Result<(), ApiError> {
        self.scenarios.delete(name).map_err(|error| match error {
            DeleteError::NotUploaded(origin) => ApiError::new(
                StatusCode::CONFLICT,
                format!("Scenario {:?} is not an uploaded one ({origin}); only uploaded scenarios can be deleted.", truncate(name)),
            ),
            DeleteError::Unknown => ApiError::new(
                StatusCode::NOT_FOUND,
                format!("There is no scenario {:?}.", truncate(name)),
            ),
        })?;
        self.sessions.restart(name);
        Ok(())
    }

    /// Whether scenario files are watched for changes.
    pub fn watches_scenario_files(&self) -> bool {
        self.scenarios.watches_files()
    }

    /// Reloads scenario files that changed; logs errors and keeps the set in
    /// force when a changed file is invalid. Reads files: call it off the
    /// async runtime.
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
}

/// The CORS origins for the settings and the kind of address.
fn cors_for(configured: &[String], loopback: bool) -> Option<CorsOrigins> {
    if configured.iter().any(|o| o == "*") {
        Some(CorsOrigins::Any)
    } else if !configured.is_empty() {
        Some(CorsOrigins::List(configured.to_vec()))
    } else if loopback {
        Some(CorsOrigins::Any)
    } else {
        None
    }
}

/// The MAC key of JSON challenges: derived from the seed, so a seeded run's
/// challenges repeat, or random.
fn mac_secret(seed: Option<u64>) -> [u8; 32] {
    use rand::Rng;
    use sha2::{Digest, Sha256};
    match seed {
        Some(seed) => Sha256::new()
            .chain_update(b"persona-mock challenge mac key v1\0")
            .chain_update(seed.to_be_bytes())
            .finalize()
            .into(),
        None => {
            let mut key = [0u8; 32];
            rand::rng().fill_bytes(&mut key);
            key
        }
    }
}
