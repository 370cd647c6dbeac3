//! Settings: the built-in defaults, the one set of rules every source of
//! settings is checked by ([`Settings::validate`]), and (in `file`) the TOML
//! config file that changes them.

mod file;
mod limits;
mod values;

pub use limits::{Limit, Limits};

use crate::auth::{ApiKey, Environment};
use crate::diag::{ConfigError, ConfigErrors};
use crate::flow::ClaimResult;
use crate::ids;
use crate::journal::JournalLimits;
use crate::privacypass::TokenType;
use crate::privacypass::b64::Padding;
use crate::profile::{Profile, TokenKeyEncoding, WireFormat};
use crate::scenario::{is_scenario_name, is_scenario_path};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Persona's API host: the default `issuer_name` and `origin_info` of
/// challenges.
pub const PERSONA_API_HOST: &str = "api.withpersona.com";

/// The claim types Persona's API reference lists.
pub const DEFAULT_CLAIM_TYPES: [&str; 10] = [
    "live_human_presence",
    "age_over18_germany",
    "age_over18_united_kingdom",
    "age_over18_verified",
    "age_over18_france",
    "age_over18_italy",
    "age_over18_brazil",
    "age_over18_australia",
    "age_over16_australia",
    "age_over21_verified",
];

/// Where `redemption_context` comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedemptionContext {
    /// 32 fresh bytes per challenge (derived from the seed when one is set).
    Random,
    /// Zero-length: the challenge is not bound to a context.
    Empty,
}

/// The identifiers an environment's authenticated responses carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvironmentIds {
    /// `Persona-Environment-Id`.
    pub environment_id: String,
    /// `Persona-Organization-Id`.
    pub organization_id: String,
}

/// Everything that shapes the mock's behaviour.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The wire profile.
    pub profile: Profile,
    /// Overrides the profile's `token-key` encoding.
    pub token_key: Option<TokenKeyEncoding>,
    /// Overrides the profile's base64url padding.
    pub padding: Option<Padding>,
    /// Makes keys, redemption contexts and request ids deterministic.
    pub seed: Option<u64>,
    /// `issuer_name` of challenges.
    pub issuer_name: String,
    /// Origins joined with `,` into `origin_info`.
    pub origin_info: Vec<String>,
    /// Whether challenges carry a fresh redemption context.
    pub redemption_context: RedemptionContext,
    /// The claim types served, in order.
    pub claim_types: Vec<String>,
    /// Whether request fields other than the known ones are ignored instead
    /// of refused.
    pub allow_unknown_fields: bool,
    /// Largest request body accepted; larger ones get 413.
    pub max_body_bytes: usize,
    /// Header, timeout and connection limits.
    pub limits: Limits,
    /// API keys listed in the config file.
    pub api_keys: HashMap<String, ApiKey>,
    /// Whether any `persona_sandbox_…` / `persona_production_…` key is valid.
    pub accept_prefixed_keys: bool,
    /// Requests per window for each API key.
    pub rate_limit: u32,
    /// The rate-limit window.
    pub rate_limit_window: Duration,
    /// Identifiers of the sandbox environment.
    pub sandbox: EnvironmentIds,
    /// Identifiers of the production environment.
    pub production: EnvironmentIds,
    /// A folder of PEM keys to serve instead of generated ones.
    pub key_dir: Option<PathBuf>,
    /// The scenario of requests that name none: a scenario name, or the
    /// path of a scenario file.
    pub scenario: Option<String>,
    /// Folders of scenario files, besides the built-in ones.
    pub scenarios_dirs: Vec<PathBuf>,
    /// The request journal's limits; `None` turns the journal off.
    pub journal: Option<JournalLimits>,
    /// Whether requests to paths the mock does not implement are collected
    /// for `GET /__mock/unmatched`.
    pub strict: bool,
    /// Whether generate-claim without a token answers 401 with a real
    /// challenge for the relay in `WWW-Authenticate` (the dialect of
    /// Persona's older guides) instead of the current schema's bare 401.
    pub challenge_on_401: bool,
    /// When set, the control API is served on any address but requires
    /// `Persona-Mock-Token` with this value.
    pub control_token: Option<String>,
    /// Overrides the profile's token type for every claim type.
    pub token_type: Option<TokenType>,
    /// The token type of single claim types, over `token_type`.
    pub token_types: BTreeMap<String, TokenType>,
    /// How long after it was issued a challenge can back a token.
    pub challenge_lifetime: Duration,
    /// How long an `Idempotency-Key`'s first response is replayed.
    pub idempotency_ttl: Duration,
    /// How relays' claims turn out.
    pub relays: RelaySettings,
    /// Browser origins that may call the API (`"*"` for any); empty means
    /// any when listening on loopback, none elsewhere.
    pub cors_origins: Vec<String>,
    /// Host names, besides loopback names and addresses, under which the
    /// control API and hosted page are served on a loopback address (no
    /// control token); any other `Host` is refused there (DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// Whether the journal masks API keys (`Authorization: Bearer …` and
    /// sessions named by a key) to their environment prefix.
    pub mask_api_keys: bool,
}

/// The hash of RSA-OAEP for encrypted claim payloads (Persona does not
/// document it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OaepHash {
    /// SHA-256 (with MGF1-SHA-256), the default.
    Sha256,
    /// SHA-1 (with MGF1-SHA-1).
    Sha1,
}

/// How relays' claims turn out, and what they are encrypted with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelaySettings {
    /// The result of a production relay's claim until the control API sets
    /// another (sandbox relays always pass).
    pub production_result: ClaimResult,
    /// The OAEP hash of encrypted claim payloads.
    pub oaep_hash: OaepHash,
    /// How long a `relay-session-access-token` is valid.
    pub session_token_lifetime: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        RelaySettings {
            production_result: ClaimResult::Passed,
            oaep_hash: OaepHash::Sha256,
            session_token_lifetime: Duration::from_secs(3600),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        let organization_id = derived_id("org_", "organization");
        Settings {
            profile: Profile::Reference,
            token_key: None,
            padding: None,
            seed: None,
            issuer_name: PERSONA_API_HOST.into(),
            origin_info: vec![PERSONA_API_HOST.into()],
            redemption_context: RedemptionContext::Random,
            claim_types: DEFAULT_CLAIM_TYPES.iter().map(|s| s.to_string()).collect(),
            allow_unknown_fields: false,
            max_body_bytes: 1024 * 1024,
            limits: Limits::default(),
            api_keys: HashMap::new(),
            accept_prefixed_keys: true,
            rate_limit: 300,
            rate_limit_window: Duration::from_secs(60),
            sandbox: EnvironmentIds {
                environment_id: derived_id("env_", "sandbox"),
                organization_id: organization_id.clone(),
            },
            production: EnvironmentIds {
                environment_id: derived_id("env_", "production"),
                organization_id,
            },
            key_dir: None,
            scenario: None,
            scenarios_dirs: Vec::new(),
            journal: Some(JournalLimits::default()),
            strict: false,
            challenge_on_401: false,
            control_token: None,
            token_type: None,
            token_types: BTreeMap::new(),
            challenge_lifetime: Duration::from_secs(2 * 3600),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            relays: RelaySettings::default(),
            cors_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            mask_api_keys: true,
        }
    }
}

/// A stable identifier derived from a name, the same on every run.
fn derived_id(prefix: &str, name: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"persona-mock id\0")
        .chain_update(name)
        .finalize();
    ids::opaque(prefix, &digest)
}

impl Settings {
    /// The wire choices in force: the profile's, with the overrides applied.
    pub fn wire_format(&self) -> WireFormat {
        let base = self.profile.wire_format();
        WireFormat {
            token_key: self.token_key.unwrap_or(base.token_key),
            padding: self.padding.unwrap_or(base.padding),
            ..base
        }
    }

    /// Every claim type served, with the token type it issues.
    pub fn claim_token_types(&self) -> Vec<(String, TokenType)> {
        let default = self.token_type.unwrap_or(self.wire_format().token_type);
        self.claim_types
            .iter()
            .map(|name| {
                let token_type = self.token_types.get(name).copied().unwrap_or(default);
                (name.clone(), token_type)
            })
            .collect()
    }

    /// The identifiers of an environment.
    pub fn environment(&self, environment: Environment) -> &EnvironmentIds {
        match environment {
            Environment::Sandbox => &self.sandbox,
            Environment::Production => &self.production,
        }
    }

    /// Reads a config file over the defaults.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Settings, ConfigErrors> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                path: path.to_path_buf(),
                position: None,
                message: format!("cannot read the config file: {e}"),
            }])
        })?;
        Settings::from_toml(&text, path)
    }

    /// Parses config text over the defaults; `path` names it in errors and
    /// anchors relative paths. Every mistake is reported, each placed by
    /// line and column.
    pub fn from_toml(text: &str, path: &Path) -> Result<Settings, ConfigErrors> {
        file::parse(text, path)
    }

    /// Checks every setting; the one set of rules for the config file, the
    /// flags and settings built in code. Reports every mistake.
    pub fn validate(&self) -> Result<(), SettingErrors> {
        let mut errors = Vec::new();
        let mut fail = |key, item: Option<&str>, label: &str, problem: String| {
            errors.push(SettingError {
                key,
                item: item.map(str::to_string),
                label: label.to_string(),
                problem,
            })
        };
        if !is_authority(&self.issuer_name) {
            fail(
                "issuer-name",
                None,
                "issuer-name",
                format!(
                    "{:?} is not a host name: use host or host:port (letters, digits, '-', '.', ':'), at most 255 characters",
                    self.issuer_name
                ),
            );
        }
        for origin in &self.origin_info {
            if !is_authority(origin) {
                fail(
                    "origin-info",
                    Some(origin),
                    "origin-info entry",
                    format!(
                        "{origin:?} is not a host name: use host or host:port, one origin per list entry"
                    ),
                );
            }
        }
        if self.origin_info.iter().map(|o| o.len() + 1).sum::<usize>() > usize::from(u16::MAX) {
            fail(
                "origin-info",
                None,
                "origin-info",
                "is longer than a challenge can carry (65535 bytes)".into(),
            );
        }
        if self.claim_types.is_empty() {
            fail(
                "claim-types",
                None,
                "claim-types",
                "must list at least one claim type".into(),
            );
        }
        for name in &self.claim_types {
            if !is_claim_type(name) {
                fail(
                    "claim-types",
                    Some(name),
                    "claim type",
                    format!(
                        "{name:?} must be lowercase letters, digits and '_' (like \"age_over18_verified\"), at most 128 characters"
                    ),
                );
            }
        }
        if self.profile == Profile::PersonaSdk {
            let type1 = self
                .claim_token_types()
                .into_iter()
                .find(|(_, t)| *t != TokenType::BlindRsa2048);
            if let Some((claim_type, _)) = type1 {
                fail(
                    "token-type",
                    None,
                    "token-type",
                    format!(
                        "under the persona-sdk profile every claim type issues token type 2 (Persona's dialect is RSA), but {claim_type} is set to 1"
                    ),
                );
            }
        }
        for origin in &self.cors_origins {
            let ok = origin == "*"
                || ((origin.starts_with("http://") || origin.starts_with("https://"))
                    && !origin.ends_with('/')
                    && origin.bytes().all(|b| b.is_ascii_graphic()));
            if !ok {
                fail(
                    "cors-origins",
                    Some(origin),
                    "cors-origins entry",
                    format!(
                        "{origin:?} is not an origin: write scheme://host[:port] (no path, no trailing /), or \"*\""
                    ),
                );
            }
        }
        for host in &self.allowed_hosts {
            let ok = !host.is_empty()
                && host.len() <= 253
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
            if !ok {
                fail(
                    "allowed-hosts",
                    Some(host),
                    "allowed-hosts entry",
                    format!(
                        "{host:?} is not a host name: write a name or address without scheme or port, like \"persona-mock\""
                    ),
                );
            }
        }
        for name in self.token_types.keys() {
            if !self.claim_types.contains(name) {
                fail(
                    "token-types",
                    Some(name),
                    "token-types entry",
                    format!(
                        "{name:?} is not a claim type persona-mock serves; add it under [claim-types]"
                    ),
                );
            }
        }
        for (key, value, max) in [
            (
                "challenge-lifetime-s",
                self.challenge_lifetime,
                MAX_LIFETIME_S,
            ),
            ("idempotency-ttl-s", self.idempotency_ttl, MAX_LIFETIME_S),
        ] {
            if !(1..=max).contains(&value.as_secs()) {
                fail(
                    key,
                    None,
                    key,
                    format!("must be from 1 to {max} seconds (got {})", value.as_secs()),
                );
            }
        }
        if self.max_body_bytes < MIN_BODY_BYTES {
            fail(
                "max-body-bytes",
                None,
                "max-body-bytes",
                format!(
                    "must be at least {MIN_BODY_BYTES} (got {})",
                    self.max_body_bytes
                ),
            );
        }
        for limit in Limit::ALL {
            if let Err(error) = limit.check(self.limits.get(limit)) {
                fail(error.key, None, &error.label, error.problem);
            }
        }
        for (key, entry) in &self.api_keys {
            if key.trim().is_empty() || key.contains(char::is_whitespace) {
                fail(
                    "auth.keys",
                    Some(key),
                    "auth.keys key",
                    "must be non-empty and contain no spaces".into(),
                );
            }
            if entry.limit == Some(0) {
                fail(
                    "auth.keys.rate-limit",
                    Some(key),
                    "rate-limit",
                    "must be at least 1".into(),
                );
            }
        }
        if self.rate_limit == 0 {
            fail(
                "rate-limit.limit",
                None,
                "rate-limit.limit",
                "must be at least 1".into(),
            );
        }
        if self.rate_limit_window.is_zero() {
            fail(
                "rate-limit.window-s",
                None,
                "rate-limit.window-s",
                "must be at least 1".into(),
            );
        }
        let mut organizations = vec![&self.sandbox.organization_id];
        if self.production.organization_id != self.sandbox.organization_id {
            organizations.push(&self.production.organization_id);
        }
        for org in organizations {
            if !is_id(org, "org_") {
                fail(
                    "organization-id",
                    None,
                    "organization-id",
                    format!(
                        "{org:?} must start with \"org_\" followed by letters, digits, '-' or '_'"
                    ),
                );
            }
        }
        for (key, ids) in ENVIRONMENT_KEYS
            .into_iter()
            .zip([&self.sandbox, &self.production])
        {
            if !is_id(&ids.environment_id, "env_") {
                fail(
                    key,
                    None,
                    "environment id",
                    format!(
                        "{:?} must start with \"env_\" followed by letters, digits, '-' or '_'",
                        ids.environment_id
                    ),
                );
            }
        }
        if let Some(scenario) = &self.scenario
            && !(is_scenario_path(scenario) || is_scenario_name(scenario))
        {
            fail(
                "scenario",
                None,
                "scenario",
                format!(
                    "{scenario:?} is neither a scenario name (lowercase letters, digits, '-', '_', '.') nor the path of a .toml file"
                ),
            );
        }
        if let Some(token) = &self.control_token
            && !is_control_token(token)
        {
            fail(
                "control-token",
                None,
                "control-token",
                "must be 8 to 256 visible ASCII characters without spaces".into(),
            );
        }
        if let Some(journal) = &self.journal {
            for (key, value, min) in [
                ("journal.per-session", journal.per_session, 1),
                ("journal.total", journal.total, 1),
                ("journal.body-bytes", journal.body_bytes, 0),
            ] {
                if value < min || value > MAX_JOURNAL {
                    fail(
                        key,
                        None,
                        key,
                        format!("must be from {min} to {MAX_JOURNAL} (got {value})"),
                    );
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(SettingErrors(errors))
        }
    }
}

/// The longest challenge lifetime and idempotency window: a week.
const MAX_LIFETIME_S: u64 = 7 * 24 * 3600;
/// The smallest body limit.
const MIN_BODY_BYTES: usize = 64;
/// The largest journal bound.
const MAX_JOURNAL: usize = 10_000_000;
/// The config keys of the environment ids: sandbox, production.
const ENVIRONMENT_KEYS: [&str; 2] = ["environments.sandbox.id", "environments.production.id"];

/// A setting with a value it cannot have.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{label} {problem}")]
pub struct SettingError {
    /// The setting as the config file names it (`issuer-name`,
    /// `limits.max-headers`, `claim-types`).
    pub key: &'static str,
    /// For a list or map setting, the entry concerned.
    pub item: Option<String>,
    /// How messages name it (`claim type`, `origin-info entry`).
    pub label: String,
    /// What is wrong and what is allowed.
    pub problem: String,
}

/// Every setting with a value it cannot have.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct SettingErrors(pub Vec<SettingError>);

impl fmt::Display for SettingErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::diag::write_lines(f, &self.0)
    }
}

/// Whether `name` is an RFC 3986 authority persona-mock can put in a
/// challenge: `host[:port]`, printable ASCII, no path, userinfo or comma.
fn is_authority(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
}

/// Whether `name` can be a claim type: lowercase letters, digits, `_`.
fn is_claim_type(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether `token` can be sent as a header value and is not trivially short.
pub fn is_control_token(token: &str) -> bool {
    (8..=256).contains(&token.len()) && token.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// Whether `id` is `prefix` followed by letters, digits, `-` or `_`.
fn is_id(id: &str, prefix: &str) -> bool {
    id.len() > prefix.len()
        && id.starts_with(prefix)
        && id[prefix.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacypass::b64::Padding;

    fn parse(text: &str) -> Result<Settings, String> {
        Settings::from_toml(text, Path::new("mock.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        let s = parse("").unwrap();
        assert_eq!(s.claim_types.len(), 10);
        assert_eq!(s.rate_limit, 300);
        assert!(s.accept_prefixed_keys);
    }

    #[test]
    fn unknown_keys_are_named_with_their_position() {
        let error = parse("profile = \"reference\"\nport_number = 3\n").unwrap_err();
        assert!(
            error.starts_with("mock.toml:2:1: unknown field `port_number`"),
            "{error}"
        );
    }

    #[test]
    fn wrong_profile_names_the_allowed_ones() {
        let error = parse("profile = \"rfc\"\n").unwrap_err();
        assert!(
            error.starts_with(
                "mock.toml:1:11: unknown variant `rfc`, expected one of `reference`, `rfc9578`, `persona-sdk`"
            ),
            "{error}"
        );
    }

    #[test]
    fn every_validation_error_is_reported() {
        let text = "issuer-name = \"a/b\"\n[claim-types]\nadd = [\"ok_one\", \"Bad-One\"]\n[rate-limit]\nlimit = 0\n";
        let error = parse(text).unwrap_err();
        let lines: Vec<&str> = error.lines().collect();
        assert_eq!(lines.len(), 3, "{error}");
        assert!(
            lines[0].starts_with("mock.toml:1:15: issuer-name \"a/b\""),
            "{error}"
        );
        assert!(
            lines[1].starts_with("mock.toml:3:18: claim type \"Bad-One\""),
            "{error}"
        );
        assert!(
            lines[2].starts_with("mock.toml:5:9: rate-limit.limit must be at least 1"),
            "{error}"
        );
    }

    #[test]
    fn claim_types_can_be_added_or_replaced() {
        let added = parse("[claim-types]\nadd = [\"age_over18_spain\"]\n").unwrap();
        assert_eq!(added.claim_types.len(), 11);
        assert_eq!(added.claim_types[10], "age_over18_spain");
        let only = parse("[claim-types]\nonly = [\"a\", \"b\"]\n").unwrap();
        assert_eq!(only.claim_types, ["a", "b"]);
        let both = parse("[claim-types]\nadd = [\"a\"]\nonly = [\"b\"]\n").unwrap_err();
        assert!(
            both.starts_with("mock.toml:3:8: claim-types: use `add`"),
            "{both}"
        );
    }

    #[test]
    fn listed_keys_turn_prefixes_off_unless_asked() {
        let listed = parse("[[auth.keys]]\nkey = \"k1\"\nenvironment = \"sandbox\"\n").unwrap();
        assert!(!listed.accept_prefixed_keys);
        assert_eq!(listed.api_keys["k1"].environment, Environment::Sandbox);
        let both = parse("[auth]\nprefixed-keys = true\n[[auth.keys]]\nkey = \"k1\"\nenvironment = \"production\"\n").unwrap();
        assert!(both.accept_prefixed_keys);
    }

    #[test]
    fn wire_overrides_apply_over_the_profile() {
        let s = parse("profile = \"rfc9578\"\n[wire]\nbase64 = \"unpadded\"\n").unwrap();
        assert_eq!(s.wire_format().token_key, TokenKeyEncoding::Rfc9578);
        assert_eq!(s.wire_format().padding, Padding::Unpadded);
    }

    #[test]
    fn scenario_settings_resolve_relative_to_the_file() {
        let dir = std::env::temp_dir().join(format!("persona-mock-config-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("more")).unwrap();
        let path = dir.join("mock.toml");
        let text = "scenario = \"more/x.toml\"\nscenarios-dirs = [\"more\"]\n";
        let s = Settings::from_toml(text, &path).unwrap();
        assert_eq!(
            s.scenario,
            Some(dir.join("more/x.toml").display().to_string())
        );
        assert_eq!(s.scenarios_dirs, [dir.join("more")]);
        let named = Settings::from_toml("scenario = \"slow\"\n", &path).unwrap();
        assert_eq!(named.scenario.as_deref(), Some("slow"));
        let error = Settings::from_toml("scenarios-dirs = [\"missing\"]\n", &path)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("mock.toml:1:19: scenarios-dirs entry \"missing\" is not a folder"),
            "{error}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn limits_are_read_and_checked() {
        let s = parse("[limits]\nmax-headers = 10\nbody-read-timeout-ms = 500\n").unwrap();
        assert_eq!(s.limits.max_headers, 10);
        assert_eq!(s.limits.body_read_timeout, Duration::from_millis(500));
        assert_eq!(s.limits.max_connections, Limits::default().max_connections);
        let error = parse("[limits]\nmax-connections = 0\nmax-header-bytes = 10\n").unwrap_err();
        let lines: Vec<&str> = error.lines().collect();
        assert_eq!(
            lines,
            [
                "mock.toml:2:19: limits.max-connections must be from 1 to 100000 (got 0)",
                "mock.toml:3:20: limits.max-header-bytes must be from 1024 to 1048576 (got 10)",
            ]
        );
    }

    #[test]
    fn settings_built_in_code_are_checked_by_the_same_rules() {
        let empty_issuer = Settings {
            issuer_name: String::new(),
            ..Settings::default()
        };
        let errors = empty_issuer.validate().unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].key, "issuer-name");
        let mut bad_env = Settings::default();
        bad_env.sandbox.environment_id = "env_a\nb".into();
        bad_env.limits.max_headers = 0;
        let errors = bad_env.validate().unwrap_err().to_string();
        assert_eq!(
            errors,
            "limits.max-headers must be from 1 to 1000 (got 0)\nenvironment id \"env_a\\nb\" must start with \"env_\" followed by letters, digits, '-' or '_'"
        );
        assert!(Settings::default().validate().is_ok());
    }

    #[test]
    fn a_file_with_six_mistakes_reports_all_six_in_order() {
        let text = "profile = \"rfc\"\nseed = \"x\"\nissuer-name = \"a/b\"\nbogus = 1\n[limits]\nmax-headers = 0\n[rate-limit]\nwindow-s = 0\n";
        let error = parse(text).unwrap_err();
        let lines: Vec<&str> = error.lines().collect();
        assert_eq!(
            lines,
            [
                "mock.toml:1:11: unknown variant `rfc`, expected one of `reference`, `rfc9578`, `persona-sdk`",
                "mock.toml:2:8: seed must be a whole number (got string)",
                "mock.toml:3:15: issuer-name \"a/b\" is not a host name: use host or host:port (letters, digits, '-', '.', ':'), at most 255 characters",
                "mock.toml:4:1: unknown field `bogus`, expected one of `profile`, `seed`, `issuer-name`, `origin-info`, `redemption-context`, `allow-unknown-fields`, `max-body-bytes`, `organization-id`, `wire`, `claim-types`, `auth`, `rate-limit`, `environments`, `keys`, `scenario`, `scenarios-dirs`, `strict`, `challenge-on-401`, `control-token`, `journal`, `limits`, `token-type`, `token-types`, `challenge-lifetime-s`, `idempotency-ttl-s`, `relays`, `cors-origins`, `allowed-hosts`",
                "mock.toml:6:15: limits.max-headers must be from 1 to 1000 (got 0)",
                "mock.toml:8:12: rate-limit.window-s must be at least 1",
            ]
        );
    }
}
