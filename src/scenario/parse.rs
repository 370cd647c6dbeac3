//! One scenario file: strict parsing where every problem is reported as
//! `path:line:column: what is wrong and what is allowed`.

use super::is_scenario_name;
use super::{Fault, Scenario, ScenarioRateLimit, Step, StepBody, Then, Times, When};
use crate::api::route::Route;
use crate::diag::{ConfigError, FileErrors};
use crate::flow::ClaimResult;
use hyper::StatusCode;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, TRANSFER_ENCODING};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The longest delay a step may ask for.
const MAX_DELAY_MS: i128 = 600_000;

/// An error about a whole file.
pub(super) fn file_error(path: &Path, message: String) -> ConfigError {
    ConfigError {
        path: path.to_path_buf(),
        position: None,
        message,
    }
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

pub(super) type Value<'i> = Spanned<DeValue<'i>>;

/// Validates values, collecting errors with their positions.
pub(super) struct Checker<'a> {
    pub(super) errors: FileErrors<'a>,
}

const STEP_KEYS: &str = "status, times, title, details, pointer, body, content-type, headers, delay-ms, fault, when, after-real, claim-result";

impl Checker<'_> {
    pub(super) fn at(&mut self, span: Option<Range<usize>>, message: String) {
        self.errors.push(span, message);
    }

    pub(super) fn at_value(&mut self, value: &Value<'_>, message: String) {
        self.errors.at(value, message);
    }

    pub(super) fn string<'v>(&mut self, value: &'v Value<'_>, key: &str) -> Option<&'v str> {
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

    fn rate_limit(&mut self, value: &Value<'_>) -> Option<ScenarioRateLimit> {
        let table = self.errors.table(value, "rate-limit")?;
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
        let table = self.errors.table(value, &format!("step {number}"))?;
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
        let mut after_real: Option<(bool, &Value<'_>)> = None;
        let mut claim_result: Option<(ClaimResult, &Value<'_>)> = None;
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
                "claim-result" => {
                    claim_result = match self.string(value, "claim-result") {
                        Some(name) if ClaimResult::from_name(name).is_some() => {
                            ClaimResult::from_name(name).map(|result| (result, value))
                        }
                        Some(other) => {
                            self.at_value(value, format!("claim-result must be \"passed\", \"failed\" or \"pending\" (got {other:?})"));
                            None
                        }
                        None => None,
                    }
                }
                "after-real" => match value.get_ref() {
                    DeValue::Boolean(b) => after_real = Some((*b, value)),
                    other => self.at_value(
                        value,
                        format!(
                            "after-real must be true or false (got {})",
                            other.type_str()
                        ),
                    ),
                },
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
        let step = Step {
            status,
            times,
            body,
            headers,
            delay,
            fault,
            when,
            after_real: after_real.is_some_and(|(b, _)| b),
            claim_result: claim_result.map(|(r, _)| r),
        };
        if let Some((_, value)) = claim_result
            && (!step.is_real() || step.when.endpoints != [Route::GenerateClaim])
        {
            self.at_value(value, "claim-result decides what generate-claim answers: use it in a 200 step without `body`, with when.endpoint = \"generate-claim\"".into());
            return None;
        }
        if let Some((true, value)) = after_real
            && step.is_real()
        {
            self.at_value(value, "after-real sends this step's response after the real one ran; a 200 step without `body` is the real response already".into());
            return None;
        }
        Some(step)
    }

    fn headers(&mut self, value: &Value<'_>) -> Vec<(HeaderName, Vec<HeaderValue>)> {
        let Some(table) = self.errors.table(value, "headers") else {
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
}

/// A value's type for messages, with the value for short scalars.
fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("the string {s:?}"),
        DeValue::Integer(i) => i.as_str().to_string(),
        other => other.type_str().to_string(),
    }
}
