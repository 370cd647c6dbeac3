//! Scenario files: strict, all-at-once loading. Every problem in every file
//! is reported as `path:line:column: what is wrong and what is allowed`.

use super::{BodyCondition, Fault, Scenario, ScenarioRateLimit, Step, StepBody, Then, Times, When};
use crate::api::route::Route;
use crate::diag::{ConfigError, ConfigErrors, FileErrors};
use hyper::StatusCode;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, TRANSFER_ENCODING};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

// `BUILTIN: &[(&str, &str)]`: the name and text of every file in `scenarios/`.
include!(concat!(env!("OUT_DIR"), "/builtin_scenarios.rs"));

/// The longest delay a step may ask for.
const MAX_DELAY_MS: i128 = 600_000;

/// Every scenario available, by name.
#[derive(Debug, Clone, Default)]
pub struct ScenarioSet {
    /// Scenarios by name, sorted for listings.
    scenarios: BTreeMap<String, Arc<Scenario>>,
}

impl ScenarioSet {
    /// The built-in scenarios, then every `*.toml` of `dirs`, then `files`;
    /// a later scenario replaces an earlier one of the same name only if the
    /// earlier one is built in. All problems of all files are reported.
    pub fn load(dirs: &[PathBuf], files: &[PathBuf]) -> Result<ScenarioSet, ConfigErrors> {
        let mut set = ScenarioSet::default();
        let mut errors = Vec::new();
        for (name, text) in BUILTIN {
            let path = PathBuf::from(format!("scenarios/{name}.toml"));
            match parse_scenario(name, text, &path, "built-in") {
                Ok(scenario) => {
                    set.scenarios.insert(name.to_string(), Arc::new(scenario));
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        let mut paths = Vec::new();
        for dir in dirs {
            match std::fs::read_dir(dir) {
                Ok(entries) => {
                    let mut found: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                        .collect();
                    found.sort();
                    paths.extend(found);
                }
                Err(e) => errors.push(file_error(
                    dir,
                    format!("cannot read the scenarios folder: {e}"),
                )),
            }
        }
        paths.extend(files.iter().cloned());
        for path in paths {
            match load_file(&path) {
                Ok(scenario) => match set.scenarios.get(&scenario.name) {
                    Some(existing) if existing.origin != "built-in" => errors.push(file_error(
                        &path,
                        format!(
                            "scenario \"{}\" is also defined in {}; scenario names must be unique",
                            scenario.name, existing.origin
                        ),
                    )),
                    _ => {
                        set.scenarios
                            .insert(scenario.name.clone(), Arc::new(scenario));
                    }
                },
                Err(mut e) => errors.append(&mut e),
            }
        }
        if errors.is_empty() {
            Ok(set)
        } else {
            errors.sort_by(|a, b| (&a.path, a.position).cmp(&(&b.path, b.position)));
            Err(ConfigErrors(errors))
        }
    }

    /// This set with `scenario` added, replacing one of the same name.
    pub fn with(&self, scenario: Arc<Scenario>) -> ScenarioSet {
        let mut scenarios = self.scenarios.clone();
        scenarios.insert(scenario.name.clone(), scenario);
        ScenarioSet { scenarios }
    }

    /// The scenario called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Scenario>> {
        self.scenarios.get(name)
    }

    /// Every scenario, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Scenario>> {
        self.scenarios.values()
    }

    /// The names, sorted and joined with ", " (for error messages).
    pub fn names(&self) -> String {
        self.scenarios
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The scenario name a file stands for: its stem.
pub fn scenario_name(path: &Path) -> Option<&str> {
    path.file_stem().and_then(|s| s.to_str())
}

fn load_file(path: &Path) -> Result<Scenario, Vec<ConfigError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![file_error(
            path,
            format!("cannot read the scenario file: {e}"),
        )]
    })?;
    let name = scenario_name(path).unwrap_or("");
    parse_scenario(name, &text, path, &path.display().to_string())
}

fn file_error(path: &Path, message: String) -> ConfigError {
    ConfigError {
        path: path.to_path_buf(),
        position: None,
        message,
    }
}

/// Whether a scenario setting names a file rather than a scenario.
pub fn is_scenario_path(value: &str) -> bool {
    value.ends_with(".toml") || value.contains('/') || value.contains('\\')
}

/// Whether a scenario name can be used in headers, flags and paths.
pub fn is_scenario_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 100
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

/// Parses and validates one scenario. `path` names it in errors.
pub fn parse_scenario(
    name: &str,
    text: &str,
    path: &Path,
    origin: &str,
) -> Result<Scenario, Vec<ConfigError>> {
    let mut check = Checker {
        errors: FileErrors::new(path, text),
    };
    if !is_scenario_name(name) {
        check.errors.list.push(file_error(
            path,
            format!("{name:?} cannot be a scenario name: use lowercase letters, digits, '-', '_' and '.', starting with a letter or digit (rename the file)"),
        ));
    }
    let (document, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        for error in syntax {
            check.at(error.span(), error.message().trim_end().to_string());
        }
        check.errors.list.sort_by_key(|e| e.position);
        return Err(check.errors.list);
    }
    let mut scenario = Scenario {
        name: name.to_string(),
        description: String::new(),
        steps: Vec::new(),
        then: Then::Real,
        rate_limit: None,
        origin: origin.to_string(),
    };
    for (key, value) in document.get_ref() {
        match key.get_ref().as_ref() {
            "description" => {
                if let Some(text) = check.string(value, "description") {
                    scenario.description = text.to_string();
                }
            }
            "then" => {
                scenario.then = match check.string(value, "then") {
                    Some("real") => Then::Real,
                    Some("repeat-last") => Then::RepeatLast,
                    Some("loop") => Then::Loop,
                    Some(other) => {
                        check.at_value(value, format!("then must be \"real\", \"repeat-last\" or \"loop\" (got {other:?})"));
                        Then::Real
                    }
                    None => Then::Real,
                }
            }
            "rate-limit" => scenario.rate_limit = check.rate_limit(value),
            "step" => match value.get_ref() {
                DeValue::Array(steps) => {
                    let mut always: Option<usize> = None;
                    for (index, table) in steps.iter().enumerate() {
                        if let Some(first) = always {
                            check.at_value(
                                table,
                                format!("step {} is never reached: step {first} answers \"always\"", index + 1),
                            );
                        }
                        if let Some(step) = check.step(table, index + 1) {
                            if step.times == Times::Always && always.is_none() {
                                always = Some(index + 1);
                            }
                            scenario.steps.push(step);
                        }
                    }
                }
                _ => check.at_value(value, "step must be an array of tables: write each step under [[step]]".into()),
            },
            other => check.at(
                Some(key.span()),
                format!("unknown key `{other}`; a scenario has description, then, [rate-limit] and [[step]]"),
            ),
        }
    }
    if scenario.steps.is_empty() && scenario.rate_limit.is_none() && check.errors.list.is_empty() {
        check.errors.list.push(file_error(
            path,
            "a scenario needs at least one [[step]] or a [rate-limit] table".into(),
        ));
    }
    if check.errors.list.is_empty() {
        Ok(scenario)
    } else {
        check.errors.list.sort_by_key(|e| e.position);
        Err(check.errors.list)
    }
}

type Value<'i> = Spanned<DeValue<'i>>;

/// Validates values, collecting errors with their positions.
struct Checker<'a> {
    errors: FileErrors<'a>,
}

const STEP_KEYS: &str =
    "status, times, title, details, pointer, body, content-type, headers, delay-ms, fault, when";

impl Checker<'_> {
    fn at(&mut self, span: Option<Range<usize>>, message: String) {
        self.errors.push(span, message);
    }

    fn at_value(&mut self, value: &Value<'_>, message: String) {
        self.errors.at(value, message);
    }

    fn string<'v>(&mut self, value: &'v Value<'_>, key: &str) -> Option<&'v str> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            other => {
                self.at_value(
                    value,
                    format!("{key} must be a string (got {})", other.type_str()),
                );
                None
            }
        }
    }

    fn integer(&mut self, value: &Value<'_>, key: &str, what: &str) -> Option<i128> {
        match value.get_ref() {
            DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix()).ok(),
            other => {
                self.at_value(
                    value,
                    format!("{key} must be {what} (got {})", other.type_str()),
                );
                None
            }
        }
    }

    fn table<'v, 'i>(&mut self, value: &'v Value<'i>, key: &str) -> Option<&'v DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                self.at_value(
                    value,
                    format!("{key} must be a table (got {})", other.type_str()),
                );
                None
            }
        }
    }

    fn rate_limit(&mut self, value: &Value<'_>) -> Option<ScenarioRateLimit> {
        let table = self.table(value, "rate-limit")?;
        let mut limit = None;
        let mut window = None;
        for (key, value) in table {
            match key.get_ref().as_ref() {
                "limit" => match self.integer(
                    value,
                    "rate-limit.limit",
                    "a whole number of requests, at least 1",
                ) {
                    Some(n) if (1..=i128::from(u32::MAX)).contains(&n) => limit = Some(n as u32),
                    Some(n) => self.at_value(
                        value,
                        format!("rate-limit.limit must be at least 1 (got {n})"),
                    ),
                    None => {}
                },
                "window-s" => match self.integer(
                    value,
                    "rate-limit.window-s",
                    "a whole number of seconds, at least 1",
                ) {
                    Some(n) if (1..=86_400 * 366).contains(&n) => {
                        window = Some(Duration::from_secs(n as u64))
                    }
                    Some(n) => self.at_value(
                        value,
                        format!("rate-limit.window-s must be from 1 to 31622400 seconds (got {n})"),
                    ),
                    None => {}
                },
                other => self.at(
                    Some(key.span()),
                    format!("unknown key `{other}` in [rate-limit]; allowed: limit, window-s"),
                ),
            }
        }
        match (limit, window) {
            (Some(limit), Some(window)) => Some(ScenarioRateLimit { limit, window }),
            (None, _) if !table.contains_key("limit") => {
                self.at_value(
                    value,
                    "[rate-limit] needs `limit` (requests per window)".into(),
                );
                None
            }
            (_, None) if !table.contains_key("window-s") => {
                self.at_value(
                    value,
                    "[rate-limit] needs `window-s` (the window in seconds)".into(),
                );
                None
            }
            _ => None,
        }
    }

    fn step(&mut self, value: &Value<'_>, number: usize) -> Option<Step> {
        let table = self.table(value, &format!("step {number}"))?;
        let errors_before = self.errors.list.len();
        let mut status = None;
        let mut times = Times::Count(1);
        let (mut title, mut details, mut pointer) = (None, None, None);
        let mut body: Option<(String, &Value<'_>)> = None;
        let mut content_type: Option<(HeaderValue, &Value<'_>)> = None;
        let mut headers = Vec::new();
        let mut delay = None;
        let mut fault = None;
        let mut when = When::default();
        let mut envelope_key: Option<&Value<'_>> = None;
        for (key, value) in table {
            match key.get_ref().as_ref() {
                "status" => match self.integer(value, "status", "an HTTP status from 100 to 599") {
                    Some(n) if (100..=599).contains(&n) => {
                        status = StatusCode::from_u16(n as u16).ok()
                    }
                    Some(n) => self.at_value(
                        value,
                        format!("status must be an HTTP status from 100 to 599 (got {n})"),
                    ),
                    None => {}
                },
                "times" => match value.get_ref() {
                    DeValue::String(s) if s == "always" => times = Times::Always,
                    DeValue::Integer(_) => match self.integer(value, "times", "") {
                        Some(n) if (1..=i128::from(u32::MAX)).contains(&n) => {
                            times = Times::Count(n as u32)
                        }
                        Some(n) => self.at_value(
                            value,
                            format!("times must be at least 1, or \"always\" (got {n})"),
                        ),
                        None => {}
                    },
                    other => self.at_value(
                        value,
                        format!(
                            "times must be a whole number of at least 1, or \"always\" (got {})",
                            describe(other)
                        ),
                    ),
                },
                name @ ("title" | "details" | "pointer") => {
                    let Some(text) = self.string(value, name) else {
                        continue;
                    };
                    envelope_key.get_or_insert(value);
                    match name {
                        "title" => title = Some(text.to_string()),
                        "details" => details = Some(text.to_string()),
                        _ if !text.starts_with('/') => self.at_value(
                            value,
                            format!("pointer must be a JSON pointer starting with '/', like \"/claim-type\" (got {text:?})"),
                        ),
                        _ => pointer = Some(text.to_string()),
                    }
                }
                "body" => {
                    if let Some(text) = self.string(value, "body") {
                        body = Some((text.to_string(), value));
                    }
                }
                "content-type" => {
                    if let Some(text) = self.string(value, "content-type") {
                        match HeaderValue::from_str(text) {
                            Ok(v) => content_type = Some((v, value)),
                            Err(_) => self.at_value(
                                value,
                                format!("content-type {text:?} is not a valid header value"),
                            ),
                        }
                    }
                }
                "headers" => headers = self.headers(value),
                "delay-ms" => {
                    match self.integer(value, "delay-ms", "a whole number of milliseconds") {
                        Some(n) if (0..=MAX_DELAY_MS).contains(&n) => {
                            delay = Some(Duration::from_millis(n as u64))
                        }
                        Some(n) => self.at_value(
                            value,
                            format!("delay-ms must be from 0 to {MAX_DELAY_MS} (got {n})"),
                        ),
                        None => {}
                    }
                }
                "fault" => {
                    fault = match self.string(value, "fault") {
                        Some("reset") => Some(Fault::Reset),
                        Some("hang") => Some(Fault::Hang),
                        Some("truncated") => Some(Fault::Truncated),
                        Some(other) => {
                            self.at_value(value, format!("unknown fault {other:?}; faults are \"reset\", \"hang\" and \"truncated\""));
                            None
                        }
                        None => None,
                    }
                }
                "when" => when = self.when(value),
                other => self.at(
                    Some(key.span()),
                    format!("unknown key `{other}` in a step; allowed: {STEP_KEYS}"),
                ),
            }
        }
        let Some(status) = status else {
            if !table.contains_key("status") {
                self.at_value(
                    value,
                    format!("step {number} needs `status` (an HTTP status from 100 to 599)"),
                );
            }
            return None;
        };
        if let (Some((_, body_value)), Some(_)) = (&body, envelope_key) {
            self.at_value(body_value, "`body` sends a verbatim body; it cannot be combined with `title`, `details` or `pointer`".into());
        }
        if let (None, Some((_, value))) = (&body, &content_type) {
            self.at_value(
                value,
                "content-type goes with `body`; without `body` the response is JSON".into(),
            );
        }
        if let (Some((_, value)), true) = (
            &content_type,
            headers.iter().any(|(n, _)| n == CONTENT_TYPE),
        ) {
            self.at_value(
                value,
                "Content-Type is set both by `content-type` and in `headers`; keep one".into(),
            );
        }
        let bodiless = status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        if let (Some(value), false) = (
            envelope_key,
            status.is_client_error() || status.is_server_error(),
        ) {
            self.at_value(
                value,
                format!("title, details and pointer shape Persona's error body, which only error statuses (400-599) have; status {} {}", status.as_u16(), if status == StatusCode::OK { "is the mock's real response (use `body` to replace it)" } else { "has none" }),
            );
        }
        if let (Some((_, value)), true) = (&body, bodiless) {
            self.at_value(value, format!("status {} has no body", status.as_u16()));
        }
        if self.errors.list.len() > errors_before {
            return None;
        }
        let body = match body {
            Some((body, _)) => StepBody::Verbatim {
                body,
                content_type: content_type
                    .map_or(HeaderValue::from_static("application/json"), |(v, _)| v),
            },
            None => StepBody::Standard {
                title,
                details,
                pointer,
            },
        };
        Some(Step {
            status,
            times,
            body,
            headers,
            delay,
            fault,
            when,
        })
    }

    fn headers(&mut self, value: &Value<'_>) -> Vec<(HeaderName, Vec<HeaderValue>)> {
        let Some(table) = self.table(value, "headers") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in table {
            let name = match HeaderName::from_bytes(key.get_ref().as_bytes()) {
                Ok(name) if name == CONTENT_LENGTH || name == TRANSFER_ENCODING => {
                    self.at(
                        Some(key.span()),
                        format!(
                            "{} is set by persona-mock from the body; it cannot be scripted",
                            key.get_ref()
                        ),
                    );
                    continue;
                }
                Ok(name) => name,
                Err(_) => {
                    self.at(
                        Some(key.span()),
                        format!("{:?} is not a valid header name", key.get_ref()),
                    );
                    continue;
                }
            };
            let values: Vec<&Value<'_>> = match value.get_ref() {
                DeValue::Array(items) if items.is_empty() => {
                    self.at_value(
                        value,
                        format!(
                            "the value list of header {} is empty; give at least one value",
                            key.get_ref()
                        ),
                    );
                    continue;
                }
                DeValue::Array(items) => items.iter().collect(),
                _ => vec![value],
            };
            let mut parsed = Vec::new();
            for item in values {
                let text = match item.get_ref() {
                    DeValue::String(s) => s.to_string(),
                    DeValue::Integer(i) => match i128::from_str_radix(i.as_str(), i.radix()) {
                        Ok(n) => n.to_string(),
                        Err(_) => continue,
                    },
                    other => {
                        self.at_value(
                            item,
                            format!(
                                "header values are strings or whole numbers (got {})",
                                describe(other)
                            ),
                        );
                        continue;
                    }
                };
                match HeaderValue::from_str(&text) {
                    Ok(v) => parsed.push(v),
                    Err(_) => self.at_value(item, format!("{text:?} is not a valid header value")),
                }
            }
            if !parsed.is_empty() {
                out.push((name, parsed));
            }
        }
        out
    }

    fn endpoints(&mut self, value: &Value<'_>) -> Vec<Route> {
        let items: Vec<&Value<'_>> = match value.get_ref() {
            DeValue::Array(items) => items.iter().collect(),
            _ => vec![value],
        };
        let mut out = Vec::new();
        for item in items {
            let Some(name) = self.string(item, "when.endpoint") else {
                continue;
            };
            match Route::from_name(name) {
                Some(route) => out.push(route),
                None => self.at_value(
                    item,
                    format!(
                        "unknown endpoint {name:?}; endpoints are {}",
                        Route::names()
                    ),
                ),
            }
        }
        out
    }

    /// A TOML value as the JSON value a body must hold.
    fn json(&mut self, value: &Value<'_>) -> Option<Json> {
        Some(match value.get_ref() {
            DeValue::String(s) => Json::from(s.as_ref()),
            DeValue::Boolean(b) => Json::Bool(*b),
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Json::from(n),
                Err(_) => {
                    self.at_value(value, format!("{} is too large", i.as_str()));
                    return None;
                }
            },
            DeValue::Float(f) => match f
                .as_str()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                Some(n) => Json::Number(n),
                None => {
                    self.at_value(value, format!("{} is not a JSON number", f.as_str()));
                    return None;
                }
            },
            DeValue::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|item| self.json(item))
                    .collect::<Option<Vec<_>>>()?,
            ),
            DeValue::Table(table) => {
                let mut map = serde_json::Map::new();
                for (key, item) in table {
                    map.insert(key.get_ref().to_string(), self.json(item)?);
                }
                Json::Object(map)
            }
            other => {
                self.at_value(
                    value,
                    format!("a body value must be JSON: a string, number, boolean, array or table (got {})", other.type_str()),
                );
                return None;
            }
        })
    }

    fn when(&mut self, value: &Value<'_>) -> When {
        let mut when = When::default();
        let Some(table) = self.table(value, "when") else {
            return when;
        };
        for (key, value) in table {
            match key.get_ref().as_ref() {
                "claim-type" => {
                    if let Some(text) = self.string(value, "when.claim-type") {
                        when.body.push(BodyCondition {
                            pointer: "/claim-type".into(),
                            equals: Json::from(text),
                            absent: None,
                        });
                    }
                }
                "sandbox" => match value.get_ref() {
                    DeValue::Boolean(b) => when.body.push(BodyCondition {
                        pointer: "/sandbox".into(),
                        equals: Json::Bool(*b),
                        absent: Some(Json::Bool(false)),
                    }),
                    other => self.at_value(
                        value,
                        format!(
                            "when.sandbox must be true or false (got {})",
                            other.type_str()
                        ),
                    ),
                },
                "endpoint" => when.endpoints = self.endpoints(value),
                "body" => {
                    let Some(conditions) = self.table(value, "when.body") else {
                        continue;
                    };
                    for (pointer, value) in conditions {
                        if !pointer.get_ref().starts_with('/') {
                            self.at(
                                Some(pointer.span()),
                                format!("when.body keys are JSON pointers starting with '/', like \"/claim-type\" (got {:?})", pointer.get_ref()),
                            );
                            continue;
                        }
                        if let Some(equals) = self.json(value) {
                            when.body.push(BodyCondition {
                                pointer: pointer.get_ref().to_string(),
                                equals,
                                absent: None,
                            });
                        }
                    }
                }
                "header" => {
                    let Some(headers) = self.table(value, "when.header") else {
                        continue;
                    };
                    for (name, value) in headers {
                        let Ok(header) = HeaderName::from_bytes(name.get_ref().as_bytes()) else {
                            self.at(
                                Some(name.span()),
                                format!("{:?} is not a valid header name", name.get_ref()),
                            );
                            continue;
                        };
                        if let Some(text) =
                            self.string(value, &format!("when.header.{}", name.get_ref()))
                        {
                            when.headers.push((header, text.to_string()));
                        }
                    }
                }
                other => self.at(
                    Some(key.span()),
                    format!("unknown key `{other}` in when; allowed: endpoint, claim-type, sandbox, body, header"),
                ),
            }
        }
        when
    }
}

/// A value's type for messages, with the value for short scalars.
fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("the string {s:?}"),
        DeValue::Integer(i) => i.as_str().to_string(),
        other => other.type_str().to_string(),
    }
}
