//! The mocked API itself: routing, Persona's request checks and the
//! challenge endpoint, as plain functions over a buffered request. Nothing
//! here touches sockets, so tests can call it directly.

use crate::api::{ApiError, Inflection, check_version, to_kebab};
use crate::auth::{AuthError, Authenticator, RateLimiter};
use crate::clock::Clock;
use crate::config::{RedemptionContext, Settings};
use crate::ids;
use crate::keys::{KeyFileError, KeyRing, KeySource, Namespace};
use crate::profile::WireFormat;
use crate::token::{REDEMPTION_CONTEXT_LEN, TokenChallenge};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use rand::Rng;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The path of the challenge endpoint.
pub const CHALLENGE_PATH: &str = "/api/privacy/v1/relays/challenge";

/// The response type every handler produces.
pub type HttpResponse = Response<Full<Bytes>>;

static REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
static RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
static ENVIRONMENT_ID: HeaderName = HeaderName::from_static("persona-environment-id");
static ORGANIZATION_ID: HeaderName = HeaderName::from_static("persona-organization-id");
static KEY_INFLECTION: HeaderName = HeaderName::from_static("key-inflection");
static PERSONA_VERSION: HeaderName = HeaderName::from_static("persona-version");
static APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A request body as the connection layer read it.
#[derive(Clone, Debug)]
pub enum RequestBody {
    /// The whole body.
    Complete(Bytes),
    /// The body was longer than the configured limit.
    TooLarge,
    /// The body could not be read (the client went away or sent bad framing).
    Unreadable(String),
}

/// Why the mock could not start.
#[derive(Debug)]
pub enum StartError {
    /// Key files that could not be loaded.
    KeyFiles(Vec<KeyFileError>),
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
    auth: Authenticator,
    /// Counts requests per API key.
    limiter: RateLimiter,
    /// Headers of sandbox-key responses.
    sandbox: EnvironmentHeaders,
    /// Headers of production-key responses.
    production: EnvironmentHeaders,
    /// Response keys per inflection: kebab, camel, snake.
    response_keys: [[String; 3]; 3],
    /// Largest body accepted.
    max_body_bytes: usize,
}

impl App {
    /// Builds the state from settings, loading key files if configured.
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
            limiter: RateLimiter::new(settings.rate_limit_window, clock),
            sandbox: environment_headers(&settings.sandbox),
            production: environment_headers(&settings.production),
            response_keys,
            max_body_bytes: settings.max_body_bytes,
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

    /// Answers one request. Never panics: a bug becomes a Persona-shaped 500.
    pub fn respond(&self, parts: &Parts, body: RequestBody) -> HttpResponse {
        self.guarded(parts, |extra| self.dispatch(parts, body, extra))
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
    ) -> Result<HttpResponse, ApiError> {
        let path = parts.uri.path();
        if path != CHALLENGE_PATH && path.strip_suffix('/') != Some(CHALLENGE_PATH) {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "No route matches {} {path}. persona-mock serves POST {CHALLENGE_PATH}.",
                    parts.method
                ),
            ));
        }
        if parts.method != Method::POST {
            extra.insert(ALLOW, HeaderValue::from_static("POST"));
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{CHALLENGE_PATH} only allows POST (got {}).", parts.method),
            ));
        }
        self.authorize(&parts.headers, extra)?;
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
        };
        let request = self.parse_challenge_request(&body)?;
        self.challenge(&request, inflection)
    }

    /// Authenticates the caller if it sent `Authorization`, and counts the
    /// request against its key's rate limit.
    fn authorize(&self, headers: &HeaderMap, extra: &mut HeaderMap) -> Result<(), ApiError> {
        let header = headers.get(AUTHORIZATION).map(HeaderValue::as_bytes);
        let principal = match self.auth.authenticate(header) {
            Ok(Some(principal)) => principal,
            Ok(None) => return Ok(()),
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
        let environment = match principal.environment {
            crate::auth::Environment::Sandbox => &self.sandbox,
            crate::auth::Environment::Production => &self.production,
        };
        extra.insert(ENVIRONMENT_ID.clone(), environment.environment_id.clone());
        extra.insert(ORGANIZATION_ID.clone(), environment.organization_id.clone());
        let status = self.limiter.check(principal.api_key, principal.limit);
        extra.insert(RATELIMIT_LIMIT.clone(), HeaderValue::from(status.limit));
        extra.insert(
            RATELIMIT_REMAINING.clone(),
            HeaderValue::from(status.remaining),
        );
        extra.insert(RATELIMIT_RESET.clone(), HeaderValue::from(status.reset_s));
        if status.exceeded {
            let window = self.limiter.window().as_secs();
            let per = if window == 60 {
                "min".to_string()
            } else {
                format!("{window} s")
            };
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "You have hit your rate limit of {} requests / {per}.",
                    status.limit
                ),
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
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("The request body is not valid JSON: {e}."))
        })?;
        let Value::Object(fields) = value else {
            return Err(ApiError::bad_request(format!(
                "The request body must be a JSON object like {EXAMPLE} (got {}).",
                json_type(&value)
            )));
        };
        let mut claim_type: Option<(String, Value)> = None;
        let mut sandbox: Option<(String, Value)> = None;
        for (key, value) in fields {
            let slot = match to_kebab(&key).as_ref() {
                "claim-type" => &mut claim_type,
                "sandbox" => &mut sandbox,
                _ if self.allow_unknown_fields => continue,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "Unknown field {:?}: the allowed fields are claim-type and sandbox.",
                        truncate(&key)
                    )));
                }
            };
            if let Some((first, _)) = slot {
                return Err(ApiError::bad_request(format!(
                    "{first:?} and {key:?} name the same field; send it once."
                )));
            }
            *slot = Some((key, value));
        }
        let claim_type = match claim_type {
            None => {
                return Err(ApiError::bad_request(format!(
                    "claim-type is required, as in {EXAMPLE}."
                )));
            }
            Some((_, Value::String(s))) => s,
            Some((key, other)) => {
                return Err(ApiError::bad_request(format!(
                    "{key} must be a string (got {}).",
                    json_type(&other)
                )));
            }
        };
        let sandbox = match sandbox {
            None => false,
            Some((_, Value::Bool(b))) => b,
            Some((key, other)) => {
                return Err(ApiError::bad_request(format!(
                    "{key} must be true or false (got {}).",
                    json_type(&other)
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
        let challenge = TokenChallenge {
            token_type: key.token_type.code(),
            issuer_name: self.issuer_name.clone(),
            redemption_context: self.next_redemption_context(),
            origin_info: self.origin_info.clone(),
        };
        let challenge = challenge
            .encode()
            .expect("settings are validated to fit a challenge");
        let challenge = self.wire.padding.encode(&challenge);
        let [k_challenge, k_token_key, k_token_key_id] = &self.response_keys[inflection as usize];
        // Every value is base64url or hex, so none needs escaping.
        let body = format!(
            r#"{{"{k_challenge}":"{challenge}","{k_token_key}":"{}","{k_token_key_id}":"{}"}}"#,
            key.token_key_b64(),
            key.token_key_id_hex()
        );
        Ok(json_response(StatusCode::OK, body.into_bytes()))
    }

    fn next_redemption_context(&self) -> Vec<u8> {
        if self.redemption_context == RedemptionContext::Empty {
            return Vec::new();
        }
        match self.seed {
            Some(seed) => {
                let n = self.challenges.fetch_add(1, Ordering::Relaxed);
                seeded_bytes(b"persona-mock redemption context\0", seed, n).to_vec()
            }
            None => {
                let mut context = vec![0u8; REDEMPTION_CONTEXT_LEN];
                rand::rng().fill_bytes(&mut context);
                context
            }
        }
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
        HeaderValue::from_str(&ids::opaque("req_", &bytes)).expect("ids are alphanumeric")
    }
}

/// A parsed challenge request.
struct ChallengeRequest {
    claim_type: String,
    sandbox: bool,
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
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, APPLICATION_JSON.clone());
    response
}

/// Persona's error envelope for an API error.
pub fn error_response(error: &ApiError) -> HttpResponse {
    json_response(error.status, error.body())
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
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
    use http_body_util::BodyExt;

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

    async fn body_text(response: HttpResponse) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_persona_500() {
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
            body_text(response).await,
            r#"{"errors":[{"title":"Internal Server Error","details":"persona-mock failed while answering this request; please report it with the request that caused it"}]}"#
        );
    }

    #[tokio::test]
    async fn requests_are_answered_without_a_socket() {
        let app = app();
        let response = app.respond(
            &parts("POST", CHALLENGE_PATH),
            RequestBody::Complete(Bytes::from_static(
                br#"{"claim-type":"live_human_presence"}"#,
            )),
        );
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            body_text(response)
                .await
                .starts_with(r#"{"challenge":"AAEAE2FwaS53aXRocGVyc29uYS5jb20g"#)
        );
        let unreadable = app.respond(
            &parts("POST", CHALLENGE_PATH),
            RequestBody::Unreadable("reset".into()),
        );
        assert_eq!(
            body_text(unreadable).await,
            r#"{"errors":[{"title":"Bad Request","details":"The request body could not be read: reset"}]}"#
        );
    }
}
