//! API keys, the environment each belongs to, and the fixed-window rate
//! limiter that counts each key's requests.

use crate::clock::Clock;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A Persona environment; each API key belongs to one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Environment {
    /// Keys starting `persona_sandbox_` by default.
    Sandbox,
    /// Keys starting `persona_production_` by default.
    Production,
}

impl Environment {
    /// The environment's name.
    pub fn name(self) -> &'static str {
        match self {
            Environment::Sandbox => "sandbox",
            Environment::Production => "production",
        }
    }
}

/// One configured API key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// The environment requests with this key act in.
    pub environment: Environment,
    /// The key's own request limit per window, instead of the default one.
    pub limit: Option<u32>,
}

/// An authenticated caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Principal<'a> {
    /// The API key as sent.
    pub api_key: &'a str,
    /// The key's environment.
    pub environment: Environment,
    /// Requests allowed per rate-limit window.
    pub limit: u32,
}

/// Why an `Authorization` header was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// Not `Bearer <key>`.
    NotBearer,
    /// A Bearer key that is not valid.
    InvalidKey,
}

/// Decides which API keys are valid and what environment they act in.
#[derive(Clone, Debug)]
pub struct Authenticator {
    /// Whether any `persona_sandbox_…` / `persona_production_…` key is valid.
    pub accept_prefixed: bool,
    /// Keys listed in the config file.
    pub keys: HashMap<String, ApiKey>,
    /// Requests per window for keys without a limit of their own.
    pub default_limit: u32,
}

impl Authenticator {
    /// Checks an `Authorization` header value; `None` means no header, which
    /// the challenge endpoint allows.
    pub fn authenticate<'a>(
        &self,
        header: Option<&'a [u8]>,
    ) -> Result<Option<Principal<'a>>, AuthError> {
        let Some(header) = header else {
            return Ok(None);
        };
        let api_key = bearer_key(header).ok_or(AuthError::NotBearer)?;
        if let Some(entry) = self.keys.get(api_key) {
            return Ok(Some(Principal {
                api_key,
                environment: entry.environment,
                limit: entry.limit.unwrap_or(self.default_limit),
            }));
        }
        let environment = if !self.accept_prefixed {
            None
        } else if prefixed(api_key, "persona_sandbox_") {
            Some(Environment::Sandbox)
        } else if prefixed(api_key, "persona_production_") {
            Some(Environment::Production)
        } else {
            None
        };
        let environment = environment.ok_or(AuthError::InvalidKey)?;
        Ok(Some(Principal {
            api_key,
            environment,
            limit: self.default_limit,
        }))
    }
}

/// The prefixes of the API keys that are valid by default, one per
/// environment.
const KEY_PREFIXES: [&str; 2] = ["persona_sandbox_", "persona_production_"];

/// The API key of an `Authorization: Bearer <key>` value, if it is one.
pub(crate) fn bearer_key(value: &[u8]) -> Option<&str> {
    let (scheme, key) = std::str::from_utf8(value).ok()?.trim().split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

/// An API key as logs and the journal show it: its environment prefix
/// (`persona_sandbox_`, `persona_production_`, or none) and, instead of the
/// rest, the first 8 hex digits of the key's SHA-256, so requests with one
/// key can be told from another's without the key being kept.
pub(crate) fn mask_api_key(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let prefix = KEY_PREFIXES
        .into_iter()
        .find(|p| key.starts_with(p))
        .unwrap_or("");
    let digest = Sha256::digest(key.as_bytes());
    format!(
        "{prefix}[masked:{}]",
        crate::privacypass::hex::encode(&digest[..4])
    )
}

/// An `Authorization` value with its credential masked
/// ([`mask_api_key`]), unless it is a Privacy Pass token (`PrivateToken`:
/// the mock's own, and what a test inspects); `None` if it needs no mask.
pub(crate) fn mask_authorization(value: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(value);
    let (scheme, credential) = text.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("privatetoken") || credential.trim().is_empty() {
        return None;
    }
    Some(format!("{scheme} {}", mask_api_key(credential.trim())))
}

/// `text` with every `persona_sandbox_…` or `persona_production_…` key in
/// it masked ([`mask_api_key`]): for log lines that quote a query.
pub(crate) fn mask_keys_in(text: &str) -> std::borrow::Cow<'_, str> {
    if !KEY_PREFIXES.iter().any(|p| text.contains(p)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = KEY_PREFIXES.iter().filter_map(|p| rest.find(p)).min() {
        out.push_str(&rest[..at]);
        let key_len = rest[at..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(rest.len() - at);
        out.push_str(&mask_api_key(&rest[at..at + key_len]));
        rest = &rest[at + key_len..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Whether `key` is `prefix` followed by at least one character.
fn prefixed(key: &str, prefix: &str) -> bool {
    key.len() > prefix.len() && key.starts_with(prefix)
}

/// What the rate limiter decided for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitStatus {
    /// The limit that applies (`RateLimit-Limit`).
    pub limit: u32,
    /// Requests left in this window after this one (`RateLimit-Remaining`).
    pub remaining: u32,
    /// Whole seconds until the window resets, rounded up (`RateLimit-Reset`).
    pub reset_s: u64,
    /// Whether this request is over the limit (429).
    pub exceeded: bool,
}

/// One key's current window.
#[derive(Clone, Copy, Debug)]
struct Window {
    /// When the window began (its first request).
    start: Duration,
    /// How long it lasts.
    length: Duration,
    /// Requests allowed in it so far.
    count: u32,
}

/// Above this many tracked keys, expired windows are dropped on insert.
const PRUNE_ABOVE: usize = 10_000;
/// The most windows kept open at once.
const MAX_WINDOWS: usize = 100_000;

/// A fixed-window limiter: a window opens with a key's first request and
/// lasts the window length given with each request; requests past the limit
/// are refused until it ends. Keys are session ids (or a session and a
/// scenario), so parallel tests never share a window.
pub struct RateLimiter {
    /// Where time comes from (a manual clock in tests).
    clock: Arc<dyn Clock>,
    /// Open windows by key; the lock is held only to update one entry.
    windows: Mutex<HashMap<String, Window>>,
}

impl RateLimiter {
    /// An empty limiter reading `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> RateLimiter {
        RateLimiter {
            clock,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request for `key` against `limit` requests per `window`.
    pub fn check(&self, key: &str, limit: u32, window: Duration) -> RateLimitStatus {
        let now = self.clock.now();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let entry = match windows.get_mut(key) {
            Some(entry) => entry,
            None => {
                if windows.len() >= PRUNE_ABOVE {
                    windows.retain(|_, w| now < w.start + w.length);
                }
                if windows.len() >= MAX_WINDOWS {
                    // A flood of distinct keys within one window: start over
                    // rather than grow without bound.
                    windows.clear();
                }
                windows.entry(key.to_owned()).or_insert(Window {
                    start: now,
                    length: window,
                    count: 0,
                })
            }
        };
        if now >= entry.start + entry.length {
            *entry = Window {
                start: now,
                length: window,
                count: 0,
            };
        }
        let exceeded = entry.count >= limit;
        if !exceeded {
            entry.count += 1;
        }
        let left = (entry.start + entry.length).saturating_sub(now);
        RateLimitStatus {
            limit,
            remaining: limit.saturating_sub(entry.count),
            reset_s: left.as_nanos().div_ceil(1_000_000_000) as u64,
            exceeded,
        }
    }
}

impl RateLimiter {
    /// The state of `key`'s window without counting a request; `None` if
    /// no window is open.
    pub fn peek(&self, key: &str, limit: u32) -> Option<RateLimitStatus> {
        let now = self.clock.now();
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let entry = windows.get(key).filter(|w| now < w.start + w.length)?;
        let left = (entry.start + entry.length).saturating_sub(now);
        Some(RateLimitStatus {
            limit,
            remaining: limit.saturating_sub(entry.count),
            reset_s: left.as_nanos().div_ceil(1_000_000_000) as u64,
            exceeded: entry.count >= limit,
        })
    }

    /// Closes the windows of one session (its own and its scenarios'), or
    /// all windows.
    pub fn reset(&self, session: Option<&str>) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match session {
            Some(session) => windows.retain(|key, _| {
                key.strip_prefix(session)
                    .is_none_or(|rest| !(rest.is_empty() || rest.starts_with('\0')))
            }),
            None => windows.clear(),
        }
    }
}

/// The key of a session's window for a scenario's own rate limit.
pub fn scenario_window_key(session: &str, scenario: &str) -> String {
    format!("{session}\0{scenario}")
}

/// The details of Persona's 429: "You have hit your rate limit of 300 requests / min."
pub fn rate_limit_details(limit: u32, window: Duration) -> String {
    let seconds = window.as_secs();
    let per = if seconds == 60 {
        "min".to_string()
    } else {
        format!("{seconds} s")
    };
    format!("You have hit your rate limit of {limit} requests / {per}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_keys_keep_their_environment_and_no_more() {
        let key = "persona_sandbox_4f1c2a9e8b7d6c5e4f3a2b1c";
        let masked = mask_api_key(key);
        assert!(masked.starts_with("persona_sandbox_[masked:"), "{masked}");
        assert!(!masked.contains("4f1c2a9e"), "{masked}");
        assert_eq!(masked, mask_api_key(key), "one key, one mask");
        assert_ne!(masked, mask_api_key("persona_sandbox_other"));
        assert!(mask_api_key("my-own-key").starts_with("[masked:"));
        assert_eq!(
            mask_authorization(format!("Bearer {key}").as_bytes()),
            Some(format!("Bearer {masked}"))
        );
        assert_eq!(mask_authorization(b"PrivateToken token=abc"), None);
        assert_eq!(
            mask_keys_in(&format!("session={key}&x=1")),
            format!("session={masked}&x=1")
        );
        assert_eq!(mask_keys_in("session=s1"), "session=s1");
    }
    use crate::clock::ManualClock;

    fn authenticator(keys: &[(&str, Environment)], accept_prefixed: bool) -> Authenticator {
        Authenticator {
            accept_prefixed,
            keys: keys
                .iter()
                .map(|(k, e)| {
                    (
                        k.to_string(),
                        ApiKey {
                            environment: *e,
                            limit: None,
                        },
                    )
                })
                .collect(),
            default_limit: 300,
        }
    }

    #[test]
    fn prefixed_keys_name_their_environment() {
        let auth = authenticator(&[], true);
        let sandbox = auth
            .authenticate(Some(b"Bearer persona_sandbox_abc"))
            .unwrap()
            .unwrap();
        assert_eq!(sandbox.environment, Environment::Sandbox);
        assert_eq!(sandbox.api_key, "persona_sandbox_abc");
        let production = auth
            .authenticate(Some(b"bearer persona_production_x"))
            .unwrap()
            .unwrap();
        assert_eq!(production.environment, Environment::Production);
    }

    #[test]
    fn no_header_is_anonymous() {
        assert_eq!(authenticator(&[], true).authenticate(None), Ok(None));
    }

    #[test]
    fn bad_headers_and_keys_are_refused() {
        let auth = authenticator(&[], true);
        assert_eq!(
            auth.authenticate(Some(b"Basic dXNlcjpwYXNz")),
            Err(AuthError::NotBearer)
        );
        assert_eq!(
            auth.authenticate(Some(b"Bearer")),
            Err(AuthError::NotBearer)
        );
        assert_eq!(
            auth.authenticate(Some(b"Bearer ")),
            Err(AuthError::NotBearer)
        );
        assert_eq!(
            auth.authenticate(Some(b"Bearer sk_live_1")),
            Err(AuthError::InvalidKey)
        );
        assert_eq!(
            auth.authenticate(Some(b"Bearer persona_sandbox_")),
            Err(AuthError::InvalidKey)
        );
    }

    #[test]
    fn listed_keys_replace_prefixes() {
        let auth = authenticator(&[("team-key", Environment::Production)], false);
        let principal = auth
            .authenticate(Some(b"Bearer team-key"))
            .unwrap()
            .unwrap();
        assert_eq!(principal.environment, Environment::Production);
        assert_eq!(
            auth.authenticate(Some(b"Bearer persona_sandbox_abc")),
            Err(AuthError::InvalidKey)
        );
    }

    #[test]
    fn the_window_counts_down_refuses_and_resets() {
        let clock = ManualClock::new();
        let limiter = RateLimiter::new(Arc::new(clock.clone()));
        let minute = Duration::from_secs(60);
        let first = limiter.check("k", 2, minute);
        assert_eq!(
            (first.remaining, first.reset_s, first.exceeded),
            (1, 60, false)
        );
        clock.advance(Duration::from_millis(10_500));
        let second = limiter.check("k", 2, minute);
        assert_eq!(
            (second.remaining, second.reset_s, second.exceeded),
            (0, 50, false)
        );
        let third = limiter.check("k", 2, minute);
        assert_eq!(
            (third.remaining, third.reset_s, third.exceeded),
            (0, 50, true)
        );
        // Other keys have their own windows.
        assert!(!limiter.check("other", 2, minute).exceeded);
        clock.advance(Duration::from_millis(49_500));
        let fresh = limiter.check("k", 2, minute);
        assert_eq!(
            (fresh.remaining, fresh.reset_s, fresh.exceeded),
            (1, 60, false)
        );
    }
}
