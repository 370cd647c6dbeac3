//! Expectations: how many requests of a session reached an endpoint (with
//! a status), checked against the journal.

use crate::api::ApiError;
use crate::api::route::Route;
use crate::journal::JournalEntry;
use serde::Serialize;
use serde_json::Value;

/// The most expectations one request checks (each reads the session's
/// whole journal).
pub const MAX_EXPECTATIONS: usize = 100;

/// What a test expects of a session: requests to an endpoint, optionally
/// answered with one status, exactly `count` times or between `min` and
/// `max` (at least once when neither is given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    /// The endpoint, by its scenario name.
    pub endpoint: Route,
    /// Only requests answered with this status count.
    pub status: Option<u16>,
    /// At least this many.
    pub min: usize,
    /// At most this many.
    pub max: Option<usize>,
}

impl Expectation {
    /// Requests to `endpoint` (`challenge`, `create-relay`, `issue`,
    /// `generate-claim`), at least one; `None` for another name.
    pub fn endpoint(endpoint: &str) -> Option<Expectation> {
        Some(Expectation {
            endpoint: Route::from_name(endpoint)?,
            status: None,
            min: 1,
            max: None,
        })
    }

    /// Only requests answered with `status`.
    pub fn status(self, status: u16) -> Expectation {
        Expectation {
            status: Some(status),
            ..self
        }
    }

    /// Exactly `count`.
    pub fn count(self, count: usize) -> Expectation {
        Expectation {
            min: count,
            max: Some(count),
            ..self
        }
    }

    /// Between `min` and `max`.
    pub fn between(self, min: usize, max: Option<usize>) -> Expectation {
        Expectation { min, max, ..self }
    }

    /// Reads `{"expect": [{"endpoint": NAME, "status": N?, "count": N? |
    /// "min": N?, "max": N?}, …]}`; a malformed expectation is a 422
    /// pointing at it.
    pub(crate) fn read_all(body: &[u8]) -> Result<Vec<Expectation>, ApiError> {
        const USAGE: &str = r#"Send {"expect": [{"endpoint": "issue", "status": 200, "count": 1}, ...]}: endpoint is one of challenge, create-relay, issue, generate-claim; status, and count or min and max, are optional."#;
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("The request body is not valid JSON: {e}. {USAGE}"))
        })?;
        let list = match &value {
            Value::Object(map) if map.len() == 1 => map.get("expect").and_then(Value::as_array),
            _ => None,
        }
        .ok_or_else(|| ApiError::unprocessable("/expect", USAGE))?;
        if list.len() > MAX_EXPECTATIONS {
            return Err(ApiError::unprocessable(
                "/expect",
                format!(
                    "Send at most {MAX_EXPECTATIONS} expectations in one request (got {}).",
                    list.len()
                ),
            ));
        }
        list.iter()
            .enumerate()
            .map(|(i, item)| read_one(i, item))
            .collect()
    }

    /// Whether `matched` requests meet it.
    fn met_by(&self, matched: usize) -> bool {
        matched >= self.min && self.max.is_none_or(|max| matched <= max)
    }
}

fn read_one(index: usize, item: &Value) -> Result<Expectation, ApiError> {
    let wrong = |field: &str, details: String| {
        let pointer = if field.is_empty() {
            format!("/expect/{index}")
        } else {
            format!("/expect/{index}/{field}")
        };
        ApiError::unprocessable(pointer, format!("expect[{index}]: {details}"))
    };
    let Value::Object(map) = item else {
        return Err(wrong(
            "",
            "each expectation is an object such as {\"endpoint\": \"issue\", \"count\": 1}.".into(),
        ));
    };
    if let Some(field) = map
        .keys()
        .find(|k| !["endpoint", "status", "count", "min", "max"].contains(&k.as_str()))
    {
        return Err(wrong(
            field,
            format!(
                "{field:?} is not a field of an expectation (endpoint, status, count, min, max)."
            ),
        ));
    }
    let endpoint = match map.get("endpoint") {
        Some(Value::String(name)) => Route::from_name(name).ok_or_else(|| {
            wrong(
                "endpoint",
                format!(
                    "endpoint {:?} is not one of {}.",
                    crate::api::conventions::truncate(name),
                    Route::names()
                ),
            )
        })?,
        _ => {
            return Err(wrong(
                "endpoint",
                format!("endpoint is required: one of {}.", Route::names()),
            ));
        }
    };
    let number =
        |field: &str, range: std::ops::RangeInclusive<u64>| -> Result<Option<u64>, ApiError> {
            match map.get(field) {
                None => Ok(None),
                Some(value) => value
                    .as_u64()
                    .filter(|n| range.contains(n))
                    .map(Some)
                    .ok_or_else(|| {
                        wrong(
                            field,
                            format!(
                                "{field} must be a whole number from {} to {}.",
                                range.start(),
                                range.end()
                            ),
                        )
                    }),
            }
        };
    let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let status = number("status", 100..=599)?.map(|n| n as u16);
    let count = number("count", 0..=u64::from(u32::MAX))?;
    let min = number("min", 0..=u64::from(u32::MAX))?;
    let max = number("max", 0..=u64::from(u32::MAX))?;
    let (min, max) = match (count, min, max) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(wrong(
                "count",
                "give count, or min and max, not both.".into(),
            ));
        }
        (Some(count), None, None) => (size(count), Some(size(count))),
        (None, min, max) => (min.map_or(1, size), max.map(size)),
    };
    if max.is_some_and(|max| max < min) {
        return Err(wrong(
            "max",
            format!("max ({}) is below min ({min}).", max.unwrap_or(0)),
        ));
    }
    Ok(Expectation {
        endpoint,
        status,
        min,
        max,
    })
}

/// How one expectation fared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExpectationResult {
    /// Whether it was met.
    pub ok: bool,
    /// How many requests matched.
    pub matched: usize,
    /// The matching requests, by journal `seq`.
    pub requests: Vec<u64>,
}

/// The expectations' results, in the order given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Whether every expectation was met.
    pub ok: bool,
    /// One result per expectation.
    pub results: Vec<ExpectationResult>,
    /// The session's requests the journal had dropped: matches among them
    /// were not counted.
    pub dropped: u64,
}

impl Verification {
    /// Checks `expectations` against a session's journal entries.
    pub fn check(
        expectations: &[Expectation],
        entries: &[JournalEntry],
        dropped: u64,
    ) -> Verification {
        let results: Vec<ExpectationResult> = expectations
            .iter()
            .map(|expectation| {
                let requests: Vec<u64> = entries
                    .iter()
                    .filter(|e| {
                        e.endpoint == Some(expectation.endpoint.name())
                            && expectation.status.is_none_or(|s| s == e.status)
                    })
                    .map(|e| e.seq)
                    .collect();
                ExpectationResult {
                    ok: expectation.met_by(requests.len()),
                    matched: requests.len(),
                    requests,
                }
            })
            .collect();
        Verification {
            ok: results.iter().all(|r| r.ok),
            results,
            dropped,
        }
    }
}
