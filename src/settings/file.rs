//! The TOML config file: read as a spanned document and walked key by key,
//! so that every mistake in the file is reported in one run, each placed by
//! line and column. Types, names and the file's own structure are checked
//! here; the values are checked by [`Settings::validate`], and each of its
//! errors is placed at the value it is about.

use super::{Limit, OaepHash, RedemptionContext, Settings, TokenKeyEncoding};
use crate::auth::{ApiKey, Environment};
use crate::diag::{ConfigErrors, FileErrors};
use crate::flow::ClaimResult;
use crate::journal::JournalLimits;
use crate::privacypass::TokenType;
use crate::privacypass::b64::Padding;
use crate::profile::Profile;
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

pub(super) type Value<'i> = Spanned<DeValue<'i>>;

/// Parses config text over the defaults; see [`Settings::from_toml`].
pub(super) fn parse(text: &str, path: &Path) -> Result<Settings, ConfigErrors> {
    let mut reader = Reader {
        errors: FileErrors::new(path, text),
        spans: HashMap::new(),
        base_dir: path.parent().unwrap_or(Path::new("")),
    };
    let (document, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        for error in syntax {
            reader
                .errors
                .push(error.span(), error.message().trim_end().to_string());
        }
        return Err(reader.finish());
    }
    let mut settings = Settings::default();
    reader.top(document.get_ref(), &mut settings);
    if let Err(invalid) = settings.validate() {
        for error in invalid.0 {
            let span = reader
                .spans
                .get(&(error.key, error.item.clone()))
                .or_else(|| reader.spans.get(&(error.key, None)))
                .cloned();
            reader.errors.push(span, error.to_string());
        }
    }
    if reader.errors.list.is_empty() {
        Ok(settings)
    } else {
        Err(reader.finish())
    }
}

/// Walks the document, collecting errors and where each setting was written.
pub(super) struct Reader<'a> {
    pub(super) errors: FileErrors<'a>,
    /// Where each setting (and each entry of a list setting) was written.
    pub(super) spans: HashMap<(&'static str, Option<String>), Range<usize>>,
    /// The folder relative paths start from.
    pub(super) base_dir: &'a Path,
}

const TOP_KEYS: &[&str] = &[
    "profile",
    "seed",
    "issuer-name",
    "origin-info",
    "redemption-context",
    "allow-unknown-fields",
    "max-body-bytes",
    "organization-id",
    "wire",
    "claim-types",
    "auth",
    "rate-limit",
    "environments",
    "keys",
    "scenario",
    "scenarios-dirs",
    "strict",
    "challenge-on-401",
    "control-token",
    "journal",
    "limits",
    "token-type",
    "token-types",
    "challenge-lifetime-s",
    "idempotency-ttl-s",
    "relays",
    "cors-origins",
    "allowed-hosts",
];

impl<'a> Reader<'a> {
    fn finish(mut self) -> ConfigErrors {
        self.errors.list.sort_by_key(|e| e.position);
        ConfigErrors(self.errors.list)
    }

    fn top(&mut self, table: &DeTable<'_>, s: &mut Settings) {
        for (key, value) in table {
            match key.get_ref().as_ref() {
                "profile" => {
                    let profiles = [
                        ("reference", Profile::Reference),
                        ("rfc9578", Profile::Rfc9578),
                        ("persona-sdk", Profile::PersonaSdk),
                    ];
                    if let Some(p) = self.variant(value, &profiles) {
                        s.profile = p;
                    }
                }
                "seed" => s.seed = self.uint(value, "seed").or(s.seed),
                "issuer-name" => {
                    if let Some(name) = self.string(value, "issuer-name", "issuer-name") {
                        s.issuer_name = name;
                    }
                }
                "origin-info" => {
                    if let Some(list) = self.strings(value, "origin-info") {
                        s.origin_info = list;
                    }
                }
                "redemption-context" => {
                    let contexts = [
                        ("random", RedemptionContext::Random),
                        ("empty", RedemptionContext::Empty),
                    ];
                    if let Some(c) = self.variant(value, &contexts) {
                        s.redemption_context = c;
                    }
                }
                "allow-unknown-fields" => {
                    if let Some(b) = self.boolean(value, "allow-unknown-fields") {
                        s.allow_unknown_fields = b;
                    }
                }
                "max-body-bytes" => {
                    if let Some(n) = self.uint(value, "max-body-bytes") {
                        self.mark("max-body-bytes", None, value);
                        s.max_body_bytes = usize::try_from(n).unwrap_or(usize::MAX);
                    }
                }
                "organization-id" => {
                    if let Some(id) = self.string(value, "organization-id", "organization-id") {
                        s.sandbox.organization_id = id.clone();
                        s.production.organization_id = id;
                    }
                }
                "wire" => self.wire(value, s),
                "claim-types" => self.claim_types(value, s),
                "auth" => self.auth(value, s),
                "rate-limit" => self.rate_limit(value, s),
                "environments" => self.environments(value, s),
                "keys" => self.keys(value, s),
                "scenario" => {
                    if let Some(v) = self.string(value, "scenario", "scenario") {
                        s.scenario = Some(if crate::scenario::is_scenario_path(&v) {
                            self.base_dir.join(&v).display().to_string()
                        } else {
                            v
                        });
                    }
                }
                "scenarios-dirs" => self.scenarios_dirs(value, s),
                "strict" => s.strict = self.boolean(value, "strict").unwrap_or(s.strict),
                "challenge-on-401" => {
                    s.challenge_on_401 = self
                        .boolean(value, "challenge-on-401")
                        .unwrap_or(s.challenge_on_401)
                }
                "control-token" => {
                    s.control_token = self
                        .string(value, "control-token", "control-token")
                        .or(s.control_token.take());
                }
                "journal" => self.journal(value, s),
                "token-type" => s.token_type = self.token_type(value).or(s.token_type),
                "token-types" => {
                    let Some(table) = self.errors.table(value, "token-types") else {
                        continue;
                    };
                    for (name, value) in table {
                        if let Some(token_type) = self.token_type(value) {
                            let name = name.get_ref().to_string();
                            self.mark("token-types", Some(&name), value);
                            s.token_types.insert(name, token_type);
                        }
                    }
                }
                "challenge-lifetime-s" => {
                    if let Some(n) = self.uint(value, "challenge-lifetime-s") {
                        self.mark("challenge-lifetime-s", None, value);
                        s.challenge_lifetime = Duration::from_secs(n);
                    }
                }
                "idempotency-ttl-s" => {
                    if let Some(n) = self.uint(value, "idempotency-ttl-s") {
                        self.mark("idempotency-ttl-s", None, value);
                        s.idempotency_ttl = Duration::from_secs(n);
                    }
                }
                "relays" => self.relays(value, s),
                "cors-origins" => {
                    if let Some(list) = self.strings(value, "cors-origins") {
                        s.cors_origins = list;
                    }
                }
                "allowed-hosts" => {
                    if let Some(list) = self.strings(value, "allowed-hosts") {
                        s.allowed_hosts = list;
                    }
                }
                "limits" => self.limits(value, s),
                other => self.unknown(key, other, TOP_KEYS),
            }
        }
    }

    fn wire(&mut self, value: &Value<'_>, s: &mut Settings) {
        let Some(table) = self.errors.table(value, "wire") else {
            return;
        };
        for (key, value) in table {
            match key.get_ref().as_ref() {
                "token-key" => {
                    let encodings = [
                        ("spki-der", TokenKeyEncoding::SpkiDer),
                        ("rfc9578", TokenKeyEncoding::Rfc9578),
                    ];
                    s.token_key = self.variant(value, &encodings).or(s.token_key);
                }
                "base64" => {
                    let paddings = [("padded", Padding::Padded), ("unpadded", Padding::Unpadded)];
                    s.padding = self.variant(value, &paddings).or(s.padding);
                }
                other => self.unknown(key, other, &["token-key", "base64"]),
            }
        }
    }

    fn claim_types(&mut self, value: &Value<'_>, s: &mut Settings) {
        let Some(table) = self.errors.table(value, "claim-types") else {
            return;
        };
        let (mut add, mut only) = (None, None);
        for (key, value) in table {
            match key.get_ref().as_ref() {
                "add" => add = self.strings(value, "claim-types").map(|l| (l, value)),
                "only" => only = self.strings(value, "claim-types").map(|l| (l, value)),
                other => self.unknown(key, other, &["add", "only"]),
            }
        }
        match (add, only) {
            (Some(_), Some((_, value))) => self.errors.at(value, "claim-types: use `add` (to extend the default list) or `only` (to replace it), not both".into()),
            (Some((names, _)), None) => {
                for name in names {
                    if !s.claim_types.contains(&name) {
                        s.claim_types.push(name);
                    }
                }
            }
            (None, Some((names, value))) => {
                self.mark("claim-types", None, value);
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

    fn auth(&mut self, value: &Value<'_>, s: &mut Settings) {
        let Some(table) = self.errors.table(value, "auth") else {
            return;
        };
        let mut prefixed = None;
        let mut listed = false;
        for (key, value) in table {
            match key.get_ref().as_ref() {
                "prefixed-keys" => prefixed = self.boolean(value, "auth.prefixed-keys"),
                "keys" => {
                    let DeValue::Array(items) = value.get_ref() else {
                        self.errors.at(value, format!("auth.keys must be an array of tables (got {}): write each key under [[auth.keys]]", value.get_ref().type_str()));
                        continue;
                    };
                    listed = !items.is_empty();
                    for item in items {
                        self.api_key(item, s);
                    }
                }
                other => self.unknown(key, other, &["prefixed-keys", "keys"]),
            }
        }
        s.accept_prefixed_keys = prefixed.unwrap_or(!listed);
    }

    fn api_key(&mut self, value: &Value<'_>, s: &mut Settings) {
        let Some(table) = self.errors.table(value, "auth.keys entry") else {
            return;
        };
        let (mut name, mut environment, mut limit) = (None, None, None);
        for (key, value) in table {
            match key.get_ref().as_ref() {
                "key" => name = self.string(value, "auth.keys key", "").map(|k| (k, value)),
                "environment" => {
                    let environments = [
                        ("sandbox", Environment::Sandbox),
                        ("production", Environment::Production),
                    ];
                    environment = self.variant(value, &environments);
                }
                "rate-limit" => {
                    limit = self
                        .uint(value, "rate-limit")
                        .map(|n| (u32::try_from(n).unwrap_or(u32::MAX), value))
                }
                other => self.unknown(key, other, &["key", "environment", "rate-limit"]),
            }
        }
        let missing = [
            ("key", name.is_none()),
            ("environment", environment.is_none()),
        ];
        for (field, absent) in missing {
            if absent && !table.contains_key(field) {
                self.errors
                    .at(value, format!("missing field `{field}` in [[auth.keys]]"));
            }
        }
        let (Some((name, key_value)), Some(environment)) = (name, environment) else {
            return;
        };
        self.mark("auth.keys", Some(&name), key_value);
        if let Some((_, value)) = limit {
            self.mark("auth.keys.rate-limit", Some(&name), value);
        }
        let entry = ApiKey {
            environment,
            limit: limit.map(|(n, _)| n),
        };
        if s.api_keys.insert(name.clone(), entry).is_some() {
            self.errors
                .at(key_value, format!("API key {name:?} is listed twice"));
        }
    }

    fn rate_limit(&mut self, value: &Value<'_>, s: &mut Settings) {
        let Some(table) = self.errors.table(value, "rate-limit") else {
            return;
        };
        for (key, value) in table {
            match key.get_ref().as_ref() {
                "limit" => {
                    if let Some(n) = self.uint(value, "rate-limit.limit") {
                        self.mark("rate-limit.limit", None, value);
                        s.rate_limit = u32::try_from(n).unwrap_or(u32::MAX);
                    }
                }
                "window-s" => {
                    if let Some(n) = self.uint(value, "rate-limit.window-s") {
                        self.mark("rate-limit.window-s", None, value);
                        s.rate_limit_window = Duration::from_secs(n);
                    }
                }
                other => self.unknown(key, other, &["limit", "window-s"]),
            }
        }
    }

    fn environments(&mut self, value: &Value<'_>, s: &mut Settings) {
        let Some(table) = self.errors.table(value, "environments") else {
            return;
        };
        for (key, value) in table {
            let (slot, id_key) = match key.get_ref().as_ref() {
                "sandbox" => (&mut s.sandbox, super::ENVIRONMENT_KEYS[0]),
                "production" => (&mut s.production, super::ENVIRONMENT_KEYS[1]),
                other => {
                    self.unknown(key, other, &["sandbox", "production"]);
                    continue;
                }
            };
            let Some(inner) = self.errors.table(value, "environments entry") else {
                continue;
            };
            for (key, value) in inner {
                match key.get_ref().as_ref() {
                    "id" => {
                        if let Some(id) = self.string(value, "environment id", id_key) {
                            slot.environment_id = id;
                        }
                    }
                    other => self.unknown(key, other, &["id"]),
                }
            }
        }
    }

    fn keys(&mut self, value: &Value<'_>, s: &mut Settings) {
        let Some(table) = self.errors.table(value, "keys") else {
            return;
        };
        for (key, value) in table {
            match key.get_ref().as_ref() {
                "dir" => {
                    let Some(raw) = self.string(value, "keys.dir", "") else {
                        continue;
                    };
                    let dir = self.base_dir.join(&raw);
                    if dir.is_dir() {
                        s.key_dir = Some(dir);
                    } else {
                        self.errors.at(value, format!("keys.dir {raw:?} is not a folder (resolved to {}); `persona-mock keygen --out DIR` writes one", dir.display()));
                    }
                }
                other => self.unknown(key, other, &["dir"]),
            }
        }
    }

    fn scenarios_dirs(&mut self, value: &Value<'_>, s: &mut Settings) {
        let DeValue::Array(items) = value.get_ref() else {
            self.errors.at(
                value,
                format!(
                    "scenarios-dirs must be an array of strings (got {})",
                    value.get_ref().type_str()
                ),
            );
            return;
        };
        for item in items {
            let Some(raw) = self.string(item, "scenarios-dirs entry", "") else {
                continue;
            };
            let path = self.base_dir.join(&raw);
            if path.is_dir() {
                s.scenarios_dirs.push(path);
            } else {
                self.errors.at(
                    item,
                    format!(
                        "scenarios-dirs entry {raw:?} is not a folder (resolved to {})",
                        path.display()
                    ),
                );
            }
        }
    }

    fn journal(&mut self, value: &Value<'_>, s: &mut Settings) {
        let Some(table) = self.errors.table(value, "journal") else {
            return;
        };
        let mut limits = JournalLimits::default();
        let mut enabled = true;
        for (key, value) in table {
            let (slot, name) = match key.get_ref().as_ref() {
                "enabled" => {
                    enabled = self.boolean(value, "journal.enabled").unwrap_or(true);
                    continue;
                }
                "mask-api-keys" => {
                    s.mask_api_keys = self.boolean(value, "journal.mask-api-keys").unwrap_or(true);
                    continue;
                }
                "per-session" => (&mut limits.per_session, "journal.per-session"),
                "total" => (&mut limits.total, "journal.total"),
                "body-bytes" => (&mut limits.body_bytes, "journal.body-bytes"),
                other => {
                    self.unknown(
                        key,
                        other,
                        &[
                            "enabled",
                            "mask-api-keys",
                            "per-session",
                            "total",
                            "body-bytes",
                        ],
                    );
                    continue;
                }
            };
            if let Some(n) = self.uint(value, name) {
                *slot = usize::try_from(n).unwrap_or(usize::MAX);
                self.mark(name, None, value);
            }
        }
        s.journal = enabled.then_some(limits);
    }

    fn token_type(&mut self, value: &Value<'_>) -> Option<TokenType> {
        match value.get_ref() {
            DeValue::Integer(i) if i.as_str() == "1" => Some(TokenType::VoprfP384),
            DeValue::Integer(i) if i.as_str() == "2" => Some(TokenType::BlindRsa2048),
            other => {
                let got = match other {
                    DeValue::Integer(i) => i.as_str().to_string(),
                    other => other.type_str().to_string(),
                };
                self.errors.at(
                    value,
                    format!("a token type is 1 (VOPRF P-384) or 2 (Blind RSA 2048) (got {got})"),
                );
                None
            }
        }
    }

    fn relays(&mut self, value: &Value<'_>, s: &mut Settings) {
        let Some(table) = self.errors.table(value, "relays") else {
            return;
        };
        for (key, value) in table {
            match key.get_ref().as_ref() {
                "production-result" => {
                    let results = [
                        ClaimResult::Passed,
                        ClaimResult::Failed,
                        ClaimResult::Pending,
                    ]
                    .map(|result| (result.name(), result));
                    if let Some(r) = self.variant(value, &results) {
                        s.relays.production_result = r;
                    }
                }
                "oaep-hash" => {
                    let hashes = [("sha256", OaepHash::Sha256), ("sha1", OaepHash::Sha1)];
                    if let Some(h) = self.variant(value, &hashes) {
                        s.relays.oaep_hash = h;
                    }
                }
                other => self.unknown(key, other, &["production-result", "oaep-hash"]),
            }
        }
    }

    fn limits(&mut self, value: &Value<'_>, s: &mut Settings) {
        let Some(table) = self.errors.table(value, "limits") else {
            return;
        };
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            let Some(limit) = Limit::ALL.into_iter().find(|l| l.name() == name) else {
                self.unknown(key, name, &Limit::ALL.map(Limit::name));
                continue;
            };
            if let Some(n) = self.uint(value, limit.key()) {
                self.mark(limit.key(), None, value);
                s.limits.set(limit, n);
            }
        }
    }
}
