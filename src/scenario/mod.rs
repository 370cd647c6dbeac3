//! Scenarios: scripted answers, loaded from TOML files, that replace or
//! decorate the mock's real behaviour so a client's error handling can be
//! tested deterministically. This module owns the model and the cursor that
//! walks a scenario's steps; `load` parses files; `sessions` keeps each
//! session's progress apart.

mod load;
mod parse;
mod sessions;
mod store;
mod when;

pub use load::{ScenarioSet, built_in, is_scenario_path, scenario_name};
pub use parse::parse_scenario;
pub use sessions::Sessions;
pub use store::{DeleteError, MAX_UPLOADS, ScenarioStore, StoreError, UploadError};

use crate::api::route::Route;
use crate::flow::ClaimResult;
use hyper::StatusCode;
use hyper::header::{HeaderName, HeaderValue};
use serde_json::Value;
use std::time::Duration;

/// One scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The file stem; what headers, flags and paths name it by.
    pub name: String,
    /// What the scenario does, for listings.
    pub description: String,
    /// The script, in order.
    pub steps: Vec<Step>,
    /// What happens after the last step.
    pub then: Then,
    /// Runs the real rate limiter with these numbers while this scenario is in force.
    pub rate_limit: Option<ScenarioRateLimit>,
    /// Where the scenario came from (a path, or `built-in`).
    pub origin: String,
}

/// How many matching requests a step answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// This many, then the next step.
    Count(u32),
    /// Every matching request from now on.
    Always,
}

/// After the last step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// The mock's normal behaviour.
    Real,
    /// The last step answers again, forever.
    RepeatLast,
    /// Back to the first step.
    Loop,
}

/// A connection-level failure instead of (or during) a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// Close the connection without a response.
    Reset,
    /// Never answer; the client's timeout must fire.
    Hang,
    /// Send the headers and part of the body, then close.
    Truncated,
}

impl Fault {
    /// Its name in scenario files and the journal.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Reset => "reset",
            Fault::Hang => "hang",
            Fault::Truncated => "truncated",
        }
    }
}

/// What a step's body is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepBody {
    /// Persona's error envelope (for error statuses), or the real response
    /// (for 200), with optional overrides of the envelope's members.
    Standard {
        title: Option<String>,
        details: Option<String>,
        pointer: Option<String>,
    },
    /// Exactly these bytes, with this content type.
    Verbatim {
        body: String,
        content_type: HeaderValue,
    },
}

/// The conditions a request must meet for a step to answer it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct When {
    /// The endpoints the step applies to; empty means every API endpoint.
    pub endpoints: Vec<Route>,
    /// Values the JSON body must hold (`when.claim-type` and `when.sandbox`
    /// are written as conditions on `/claim-type` and `/sandbox`).
    pub body: Vec<BodyCondition>,
    /// Request headers that must have exactly these values.
    pub headers: Vec<(HeaderName, String)>,
}

/// A value the request body must hold at a JSON pointer.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyCondition {
    /// An RFC 6901 pointer; its first segment names a top-level field in
    /// any inflection (`/claim-type` also finds `claimType`).
    pub pointer: String,
    /// The value required there.
    pub equals: Value,
    /// The value an absent field counts as (`sandbox` absent is `false`).
    pub absent: Option<Value>,
}

/// One scripted answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The response status.
    pub status: StatusCode,
    /// How many matching requests it answers.
    pub times: Times,
    /// The body.
    pub body: StepBody,
    /// Extra headers: one value per repetition, the last repeating.
    pub headers: Vec<(HeaderName, Vec<HeaderValue>)>,
    /// Wait before answering.
    pub delay: Option<Duration>,
    /// A connection failure.
    pub fault: Option<Fault>,
    /// Conditions on the request.
    pub when: When,
    /// Run the real handler first (its effects happen), then send this
    /// step's response instead of the real one.
    pub after_real: bool,
    /// For generate-claim: answer as if the relay's claim had this result
    /// (every token check still runs).
    pub claim_result: Option<ClaimResult>,
}

impl Step {
    /// Whether the step stands for the mock's real response (a 200 without
    /// a verbatim body).
    pub fn is_real(&self) -> bool {
        self.status == StatusCode::OK && matches!(self.body, StepBody::Standard { .. })
    }

    /// The header values for the `repetition`-th answer of this step.
    pub fn headers_for(
        &self,
        repetition: u32,
    ) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.headers.iter().map(move |(name, values)| {
            let index = (repetition as usize).min(values.len() - 1);
            (name, &values[index])
        })
    }
}

/// A scenario's own rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScenarioRateLimit {
    /// Requests per window.
    pub limit: u32,
    /// Window length.
    pub window: Duration,
}

/// What a `when` is checked against.
pub trait RequestFacts {
    /// The endpoint the request is for.
    fn endpoint(&self) -> Route;
    /// The body's value at a JSON pointer: `None` if the body is not a JSON
    /// object, `Some(None)` if nothing is there.
    fn body(&self, pointer: &str) -> Option<Option<&Value>>;
    /// A request header's value.
    fn header(&self, name: &HeaderName) -> Option<&[u8]>;
}

impl When {
    /// Whether a request meets every condition.
    pub fn matches(&self, request: &dyn RequestFacts) -> bool {
        if !self.endpoints.is_empty() && !self.endpoints.contains(&request.endpoint()) {
            return false;
        }
        let body_holds = |condition: &BodyCondition| match request.body(&condition.pointer) {
            None => false,
            Some(Some(value)) => *value == condition.equals,
            Some(None) => condition.absent.as_ref() == Some(&condition.equals),
        };
        self.body.iter().all(body_holds)
            && self
                .headers
                .iter()
                .all(|(name, value)| request.header(name) == Some(value.as_bytes()))
    }
}

/// Where one session is in one scenario.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Index of the current step.
    step: usize,
    /// How many times the current step has answered.
    used: u32,
    /// Set when the script has run out (`then = "real"` or `"repeat-last"`).
    finished: bool,
}

/// The step that answers a request, and which repetition of it this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    /// Index into the scenario's steps.
    pub step: usize,
    /// 0 for the step's first answer, 1 for its second, and so on.
    pub repetition: u32,
}

impl Cursor {
    /// Picks the step for a request and advances, or returns `None` (normal
    /// behaviour, the cursor unchanged) when the current step does not match.
    pub fn advance(&mut self, scenario: &Scenario, request: &dyn RequestFacts) -> Option<Pick> {
        if scenario.steps.is_empty() || (self.finished && scenario.then == Then::Real) {
            return None;
        }
        if self.step >= scenario.steps.len() {
            // The scenario was replaced by a shorter one: start over.
            *self = Cursor::default();
        }
        let step = &scenario.steps[self.step];
        if !step.when.matches(request) {
            return None;
        }
        let pick = Pick {
            step: self.step,
            repetition: self.used,
        };
        self.used = self.used.saturating_add(1);
        if self.finished {
            return Some(pick);
        }
        if let Times::Count(n) = step.times
            && self.used >= n
        {
            if self.step + 1 < scenario.steps.len() {
                self.step += 1;
                self.used = 0;
            } else {
                match scenario.then {
                    Then::Loop => *self = Cursor::default(),
                    Then::Real | Then::RepeatLast => self.finished = true,
                }
            }
        }
        Some(pick)
    }

    /// The index of the current step (for status displays).
    pub fn position(&self) -> (usize, u32, bool) {
        (self.step, self.used, self.finished)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    struct Facts(Option<Value>);

    impl RequestFacts for Facts {
        fn endpoint(&self) -> Route {
            Route::Challenge
        }
        fn body(&self, pointer: &str) -> Option<Option<&Value>> {
            Some(self.0.as_ref().filter(|_| pointer == "/claim-type"))
        }
        fn header(&self, _: &HeaderName) -> Option<&[u8]> {
            None
        }
    }

    fn step(status: u16, times: Times, claim_type: Option<&str>) -> Step {
        Step {
            status: StatusCode::from_u16(status).unwrap(),
            times,
            body: StepBody::Standard {
                title: None,
                details: None,
                pointer: None,
            },
            headers: vec![],
            delay: None,
            fault: None,
            after_real: false,
            claim_result: None,
            when: When {
                body: claim_type
                    .map(|c| BodyCondition {
                        pointer: "/claim-type".into(),
                        equals: Value::from(c),
                        absent: None,
                    })
                    .into_iter()
                    .collect(),
                ..When::default()
            },
        }
    }

    fn scenario(steps: Vec<Step>, then: Then) -> Scenario {
        Scenario {
            name: "t".into(),
            description: String::new(),
            steps,
            then,
            rate_limit: None,
            origin: "test".into(),
        }
    }

    fn run(scenario: &Scenario, requests: &[Option<&'static str>]) -> Vec<Option<(usize, u32)>> {
        let mut cursor = Cursor::default();
        requests
            .iter()
            .map(|claim| {
                cursor
                    .advance(scenario, &Facts(claim.map(Value::from)))
                    .map(|p| (p.step, p.repetition))
            })
            .collect()
    }

    #[test]
    fn steps_answer_their_times_then_real_behaviour_follows() {
        let s = scenario(
            vec![
                step(429, Times::Count(2), None),
                step(500, Times::Count(1), None),
            ],
            Then::Real,
        );
        assert_eq!(
            run(&s, &[None; 5]),
            [Some((0, 0)), Some((0, 1)), Some((1, 0)), None, None]
        );
    }

    #[test]
    fn repeat_last_keeps_answering_with_growing_repetitions() {
        let s = scenario(
            vec![
                step(429, Times::Count(1), None),
                step(503, Times::Count(2), None),
            ],
            Then::RepeatLast,
        );
        assert_eq!(
            run(&s, &[None; 5]),
            [
                Some((0, 0)),
                Some((1, 0)),
                Some((1, 1)),
                Some((1, 2)),
                Some((1, 3))
            ]
        );
    }

    #[test]
    fn loop_starts_over() {
        let s = scenario(
            vec![
                step(429, Times::Count(1), None),
                step(200, Times::Count(1), None),
            ],
            Then::Loop,
        );
        assert_eq!(
            run(&s, &[None; 5]),
            [
                Some((0, 0)),
                Some((1, 0)),
                Some((0, 0)),
                Some((1, 0)),
                Some((0, 0))
            ]
        );
    }

    #[test]
    fn unmatched_requests_fall_through_without_advancing() {
        let s = scenario(
            vec![
                step(429, Times::Count(1), Some("a")),
                step(500, Times::Count(1), None),
            ],
            Then::Real,
        );
        assert_eq!(
            run(&s, &[Some("b"), None, Some("a"), Some("b"), None]),
            [None, None, Some((0, 0)), Some((1, 0)), None]
        );
    }

    #[test]
    fn always_never_moves_on() {
        let s = scenario(vec![step(401, Times::Always, None)], Then::Real);
        assert_eq!(
            run(&s, &[None; 3]),
            [Some((0, 0)), Some((0, 1)), Some((0, 2))]
        );
    }
}
