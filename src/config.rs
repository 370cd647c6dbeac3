//! Settings: the built-in defaults, and the TOML config file that changes
//! them, parsed to a raw form first and validated second so that every
//! mistake is reported as `path:line:column: message`.

use crate::auth::{ApiKey, Environment};
use crate::b64::Padding;
use crate::ids;
use crate::journal::JournalLimits;
use crate::profile::{Profile, TokenKeyEncoding, WireFormat};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

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

/// Protective limits on what a client may send and hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request head (request line and headers), bytes; larger gets 431.
    pub max_header_bytes: usize,
    /// Most header lines in a request; more gets 431.
    pub max_headers: usize,
    /// How long a client may take to send a request head before the
    /// connection is closed (slow clients are dropped, not served forever).
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request body; slower gets 408.
    pub body_read_timeout: Duration,
    /// Connections served at once; further ones wait in the listen queue
    /// until one closes, without affecting those being served.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
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
    /// When set, the control API is served on any address but requires
    /// `Persona-Mock-Token` with this value.
    pub control_token: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        let organization_id = derived_id("org_", "organization");
        Settings {
            profile: Profile::Reference,
            token_key: None,
            padding: None,
            seed: None,
            issuer_name: "api.withpersona.com".into(),
            origin_info: vec!["api.withpersona.com".into()],
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
            control_token: None,
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
        }
    }

    /// Sets the body limit if it is at least 64 bytes; otherwise says so.
    pub fn set_max_body_bytes(&mut self, bytes: u64) -> Result<(), String> {
        match usize::try_from(bytes) {
            Ok(n) if n >= 64 => {
                self.max_body_bytes = n;
                Ok(())
            }
            _ => Err(format!("max-body-bytes must be at least 64 (got {bytes})")),
        }
    }

    /// The identifiers of an environment.
    pub fn environment(&self, environment: Environment) -> &EnvironmentIds {
        match environment {
            Environment::Sandbox => &self.sandbox,
            Environment::Production => &self.production,
        }
    }

    /// Reads a config file over the defaults.
    pub fn from_file(path: &Path) -> Result<Settings, ConfigErrors> {
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
    /// anchors relative paths.
    pub fn from_toml(text: &str, path: &Path) -> Result<Settings, ConfigErrors> {
        let mut errors = FileErrors::new(path, text);
        let raw: RawConfig = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                errors.push(e.span(), e.message().trim_end().to_string());
                return Err(ConfigErrors(errors.list));
            }
        };
        let settings = raw.validate(&mut errors, path.parent().unwrap_or(Path::new("")));
        if errors.list.is_empty() {
            Ok(settings)
        } else {
            errors.list.sort_by_key(|e| e.position);
            Err(ConfigErrors(errors.list))
        }
    }
}

/// One mistake in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line and column, when the mistake has a place.
    pub position: Option<(usize, usize)>,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => {
                write!(
                    f,
                    "{}:{line}:{column}: {}",
                    self.path.display(),
                    self.message
                )
            }
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// Every mistake found in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Collects the errors of one file, placing each by its byte span.
pub(crate) struct FileErrors<'a> {
    /// The file, as errors name it.
    pub path: &'a Path,
    /// Its text, to turn spans into lines and columns.
    pub text: &'a str,
    /// The errors so far.
    pub list: Vec<ConfigError>,
}

impl<'a> FileErrors<'a> {
    pub fn new(path: &'a Path, text: &'a str) -> FileErrors<'a> {
        FileErrors {
            path,
            text,
            list: Vec::new(),
        }
    }

    /// An error at a span, or about the whole file.
    pub fn push(&mut self, span: Option<Range<usize>>, message: String) {
        self.list.push(ConfigError {
            path: self.path.to_path_buf(),
            position: span.map(|span| line_column(self.text, span.start)),
            message,
        });
    }

    /// An error at a value.
    pub fn at<T>(&mut self, value: &Spanned<T>, message: String) {
        self.push(Some(value.span()), message);
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    profile: Option<Profile>,
    seed: Option<u64>,
    issuer_name: Option<Spanned<String>>,
    origin_info: Option<Vec<Spanned<String>>>,
    redemption_context: Option<RedemptionContext>,
    allow_unknown_fields: Option<bool>,
    max_body_bytes: Option<Spanned<u64>>,
    organization_id: Option<Spanned<String>>,
    wire: Option<RawWire>,
    claim_types: Option<RawClaimTypes>,
    auth: Option<RawAuth>,
    rate_limit: Option<RawRateLimit>,
    environments: Option<RawEnvironments>,
    keys: Option<RawKeys>,
    scenario: Option<Spanned<String>>,
    scenarios_dirs: Option<Vec<Spanned<String>>>,
    strict: Option<bool>,
    control_token: Option<Spanned<String>>,
    journal: Option<RawJournal>,
    limits: Option<RawLimits>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawLimits {
    max_header_bytes: Option<Spanned<u64>>,
    max_headers: Option<Spanned<u64>>,
    header_read_timeout_ms: Option<Spanned<u64>>,
    body_read_timeout_ms: Option<Spanned<u64>>,
    max_connections: Option<Spanned<u64>>,
}

/// The allowed range of each limit, shared by the config file and the flags.
pub const LIMIT_RANGES: [(&str, u64, u64); 5] = [
    ("max-header-bytes", 1024, 1024 * 1024),
    ("max-headers", 1, 1000),
    ("header-read-timeout-ms", 100, 600_000),
    ("body-read-timeout-ms", 100, 600_000),
    ("max-connections", 1, 100_000),
];

impl Limits {
    /// Sets the limit called `name` (as in [`LIMIT_RANGES`]) if `value` is in
    /// its range; otherwise says what is allowed.
    pub fn set(&mut self, name: &str, value: u64) -> Result<(), String> {
        let (_, min, max) = LIMIT_RANGES
            .iter()
            .find(|(n, ..)| *n == name)
            .ok_or_else(|| format!("unknown limit {name}"))?;
        if !(*min..=*max).contains(&value) {
            return Err(format!("{name} must be from {min} to {max} (got {value})"));
        }
        match name {
            "max-header-bytes" => self.max_header_bytes = value as usize,
            "max-headers" => self.max_headers = value as usize,
            "header-read-timeout-ms" => self.header_read_timeout = Duration::from_millis(value),
            "body-read-timeout-ms" => self.body_read_timeout = Duration::from_millis(value),
            _ => self.max_connections = value as usize,
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawJournal {
    enabled: Option<bool>,
    per_session: Option<Spanned<u64>>,
    total: Option<Spanned<u64>>,
    body_bytes: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawWire {
    token_key: Option<TokenKeyEncoding>,
    base64: Option<RawPadding>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RawPadding {
    Padded,
    Unpadded,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawClaimTypes {
    add: Option<Vec<Spanned<String>>>,
    only: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawAuth {
    prefixed_keys: Option<bool>,
    #[serde(default)]
    keys: Vec<RawApiKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawApiKey {
    key: Spanned<String>,
    environment: Environment,
    rate_limit: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRateLimit {
    limit: Option<Spanned<u32>>,
    window_s: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironments {
    sandbox: Option<RawEnvironment>,
    production: Option<RawEnvironment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    id: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    dir: Spanned<String>,
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

impl RawConfig {
    fn validate(self, errors: &mut FileErrors<'_>, base_dir: &Path) -> Settings {
        let mut s = Settings::default();
        if let Some(profile) = self.profile {
            s.profile = profile;
        }
        s.seed = self.seed;
        if let Some(wire) = self.wire {
            s.token_key = wire.token_key;
            s.padding = wire.base64.map(|p| match p {
                RawPadding::Padded => Padding::Padded,
                RawPadding::Unpadded => Padding::Unpadded,
            });
        }
        if let Some(name) = self.issuer_name {
            if is_authority(name.get_ref()) {
                s.issuer_name = name.into_inner();
            } else {
                errors.at(&name, format!("issuer-name {:?} is not a host name: use host or host:port (letters, digits, '-', '.', ':'), at most 255 characters", name.get_ref()));
            }
        }
        if let Some(origins) = self.origin_info {
            let mut list = Vec::new();
            for origin in origins {
                if is_authority(origin.get_ref()) {
                    list.push(origin.into_inner());
                } else {
                    errors.at(&origin, format!("origin-info entry {:?} is not a host name: use host or host:port, one origin per list entry", origin.get_ref()));
                }
            }
            if list.iter().map(|o| o.len() + 1).sum::<usize>() > usize::from(u16::MAX) {
                errors.push(
                    None,
                    "origin-info is longer than a challenge can carry (65535 bytes)".into(),
                );
            }
            s.origin_info = list;
        }
        if let Some(context) = self.redemption_context {
            s.redemption_context = context;
        }
        if let Some(allow) = self.allow_unknown_fields {
            s.allow_unknown_fields = allow;
        }
        if let Some(max) = self.max_body_bytes
            && let Err(message) = s.set_max_body_bytes(*max.get_ref())
        {
            errors.at(&max, message);
        }
        if let Some(claim_types) = self.claim_types {
            validate_claim_types(claim_types, &mut s, errors);
        }
        if let Some(auth) = self.auth {
            s.accept_prefixed_keys = auth.prefixed_keys.unwrap_or(auth.keys.is_empty());
            for key in auth.keys {
                if key.key.get_ref().trim().is_empty()
                    || key.key.get_ref().contains(char::is_whitespace)
                {
                    errors.at(
                        &key.key,
                        "auth.keys key must be non-empty and contain no spaces".into(),
                    );
                    continue;
                }
                let limit = key.rate_limit.map(|limit| {
                    if *limit.get_ref() == 0 {
                        errors.at(&limit, "rate-limit must be at least 1".into());
                    }
                    *limit.get_ref()
                });
                let name = key.key.get_ref().clone();
                if s.api_keys
                    .insert(
                        name,
                        ApiKey {
                            environment: key.environment,
                            limit,
                        },
                    )
                    .is_some()
                {
                    errors.at(
                        &key.key,
                        format!("API key {:?} is listed twice", key.key.get_ref()),
                    );
                }
            }
        }
        if let Some(rate_limit) = self.rate_limit {
            if let Some(limit) = rate_limit.limit {
                if *limit.get_ref() == 0 {
                    errors.at(&limit, "rate-limit.limit must be at least 1".into());
                }
                s.rate_limit = *limit.get_ref();
            }
            if let Some(window) = rate_limit.window_s {
                if *window.get_ref() == 0 {
                    errors.at(&window, "rate-limit.window-s must be at least 1".into());
                }
                s.rate_limit_window = Duration::from_secs(*window.get_ref());
            }
        }
        if let Some(org) = self.organization_id {
            if is_id(org.get_ref(), "org_") {
                s.sandbox.organization_id = org.get_ref().clone();
                s.production.organization_id = org.into_inner();
            } else {
                errors.at(&org, format!("organization-id {:?} must start with \"org_\" followed by letters, digits, '-' or '_'", org.get_ref()));
            }
        }
        if let Some(environments) = self.environments {
            for (slot, raw) in [
                (&mut s.sandbox, environments.sandbox),
                (&mut s.production, environments.production),
            ] {
                let Some(raw) = raw else { continue };
                if is_id(raw.id.get_ref(), "env_") {
                    slot.environment_id = raw.id.into_inner();
                } else {
                    errors.at(&raw.id, format!("environment id {:?} must start with \"env_\" followed by letters, digits, '-' or '_'", raw.id.get_ref()));
                }
            }
        }
        if let Some(scenario) = self.scenario {
            let value = scenario.get_ref();
            if value.ends_with(".toml") || value.contains('/') {
                s.scenario = Some(base_dir.join(value).display().to_string());
            } else if crate::scenario::is_scenario_name(value) {
                s.scenario = Some(value.clone());
            } else {
                errors.at(&scenario, format!("scenario {value:?} is neither a scenario name (lowercase letters, digits, '-', '_', '.') nor the path of a .toml file"));
            }
        }
        for dir in self.scenarios_dirs.into_iter().flatten() {
            let path = base_dir.join(dir.get_ref());
            if path.is_dir() {
                s.scenarios_dirs.push(path);
            } else {
                errors.at(
                    &dir,
                    format!(
                        "scenarios-dirs entry {:?} is not a folder (resolved to {})",
                        dir.get_ref(),
                        path.display()
                    ),
                );
            }
        }
        if let Some(strict) = self.strict {
            s.strict = strict;
        }
        if let Some(token) = self.control_token {
            if is_control_token(token.get_ref()) {
                s.control_token = Some(token.into_inner());
            } else {
                errors.at(
                    &token,
                    "control-token must be 8 to 256 visible ASCII characters without spaces".into(),
                );
            }
        }
        if let Some(limits) = self.limits {
            for (name, value) in [
                ("max-header-bytes", limits.max_header_bytes),
                ("max-headers", limits.max_headers),
                ("header-read-timeout-ms", limits.header_read_timeout_ms),
                ("body-read-timeout-ms", limits.body_read_timeout_ms),
                ("max-connections", limits.max_connections),
            ] {
                if let Some(value) = value
                    && let Err(message) = s.limits.set(name, *value.get_ref())
                {
                    errors.at(&value, format!("limits.{message}"));
                }
            }
        }
        if let Some(journal) = self.journal {
            let mut limits = JournalLimits::default();
            let mut bound = |value: Option<Spanned<u64>>, slot: &mut usize, key: &str, min: u64| {
                if let Some(value) = value {
                    match usize::try_from(*value.get_ref()) {
                        Ok(n) if *value.get_ref() >= min && n <= 10_000_000 => *slot = n,
                        _ => errors.at(
                            &value,
                            format!(
                                "journal.{key} must be from {min} to 10000000 (got {})",
                                value.get_ref()
                            ),
                        ),
                    }
                }
            };
            bound(
                journal.per_session,
                &mut limits.per_session,
                "per-session",
                1,
            );
            bound(journal.total, &mut limits.total, "total", 1);
            bound(journal.body_bytes, &mut limits.body_bytes, "body-bytes", 0);
            s.journal = if journal.enabled == Some(false) {
                None
            } else {
                Some(limits)
            };
        }
        if let Some(keys) = self.keys {
            let dir = base_dir.join(keys.dir.get_ref());
            if dir.is_dir() {
                s.key_dir = Some(dir);
            } else {
                errors.at(&keys.dir, format!("keys.dir {:?} is not a folder (resolved to {}); `persona-mock keygen --out DIR` writes one", keys.dir.get_ref(), dir.display()));
            }
        }
        s
    }
}

fn validate_claim_types(raw: RawClaimTypes, s: &mut Settings, errors: &mut FileErrors<'_>) {
    let valid = |names: Vec<Spanned<String>>, errors: &mut FileErrors<'_>| -> Vec<String> {
        let mut out = Vec::new();
        for name in names {
            if is_claim_type(name.get_ref()) {
                out.push(name.into_inner());
            } else {
                errors.at(&name, format!("claim type {:?} must be lowercase letters, digits and '_' (like \"age_over18_verified\"), at most 128 characters", name.get_ref()));
            }
        }
        out
    };
    match (raw.add, raw.only) {
        (Some(_), Some(only)) => {
            errors.at(&only, "claim-types: use `add` (to extend the default list) or `only` (to replace it), not both".into());
        }
        (Some(add), None) => {
            for name in valid(add, errors) {
                if !s.claim_types.contains(&name) {
                    s.claim_types.push(name);
                }
            }
        }
        (None, Some(only)) => {
            let span = only.span();
            let names = valid(only.into_inner(), errors);
            if names.is_empty() {
                errors.push(
                    Some(span),
                    "claim-types.only must list at least one claim type".into(),
                );
            }
            s.claim_types.clear();
            for name in names {
                if !s.claim_types.contains(&name) {
                    s.claim_types.push(name);
                }
            }
        }
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, String> {
        Settings::from_toml(text, Path::new("mock.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn line_and_column_count_from_one() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("é\nx", 3), (2, 1));
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
                "mock.toml:1:11: unknown variant `rfc`, expected `reference` or `rfc9578`"
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
}
