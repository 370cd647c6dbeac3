//! The contract report: what a client did against Persona's contract,
//! judged from one session's journal in the order it happened. Each rule
//! has a stable id (CI pipelines grep for them), a severity and the Persona
//! material it comes from; [`RULES`] lists them, and the README documents
//! each. The report reads what the client saw: an answer a scenario
//! scripted counts as much as a real one.

mod format;
mod verify;

pub use verify::{Expectation, ExpectationResult, Verification};

use crate::api::Refusal;
use crate::journal::JournalEntry;
use serde::Serialize;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The client broke the contract: it loses tokens, double-spends or
    /// hammers Persona. A report with one fails a CI gate.
    Error,
    /// The client works, but one lost answer away from an error.
    Warning,
    /// Worth knowing; not wrong.
    Info,
}

impl Severity {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One rule the report applies.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// Its stable id.
    pub id: &'static str,
    /// The severity of its findings.
    pub severity: Severity,
    /// What it finds, in one line.
    pub summary: &'static str,
}

/// Every rule, in the order reports list them.
pub const RULES: [Rule; 10] = [
    Rule {
        id: "retry-before-reset",
        severity: Severity::Error,
        summary: "a request sent after a 429 and before that 429's RateLimit-Reset had passed",
    },
    Rule {
        id: "retried-non-retryable",
        severity: Severity::Error,
        summary: "a request repeated unchanged (method, path, body, credentials) after a 400, 401, 404, 409 or 422 answer to it",
    },
    Rule {
        id: "token-reuse",
        severity: Severity::Error,
        summary: "a Privacy Pass token presented again after it was spent (409)",
    },
    Rule {
        id: "idempotency-key-reuse",
        severity: Severity::Error,
        summary: "one Idempotency-Key sent with other parameters (422)",
    },
    Rule {
        id: "wrong-claim-type",
        severity: Severity::Error,
        summary: "a token issued for another claim type or namespace presented at a relay (401)",
    },
    Rule {
        id: "expired-challenge",
        severity: Severity::Error,
        summary: "a token whose challenge had expired (401)",
    },
    Rule {
        id: "invalid-token",
        severity: Severity::Error,
        summary: "a token that fails another of generate-claim's checks (401), with the likely mistake where the mock can tell",
    },
    Rule {
        id: "retry-without-idempotency-key",
        severity: Severity::Error,
        summary: "an issuance or generate-claim request retried after a 5xx, a 403 or a dropped connection without the first request's Idempotency-Key",
    },
    Rule {
        id: "missing-idempotency-key",
        severity: Severity::Warning,
        summary: "an issuance or generate-claim request without Idempotency-Key",
    },
    Rule {
        id: "no-persona-version",
        severity: Severity::Info,
        summary: "requests without Persona-Version",
    },
];

/// The rule with id `id`.
fn rule(id: &str) -> &'static Rule {
    RULES
        .iter()
        .find(|r| r.id == id)
        .expect("findings name listed rules")
}

/// One thing the client did, with the requests (journal `seq`s) that show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's id.
    pub rule: &'static str,
    /// The rule's severity.
    pub severity: Severity,
    /// The requests, by journal `seq`, in order.
    pub requests: Vec<u64>,
    /// What happened and what Persona's contract asks instead.
    pub message: String,
}

/// A session's contract report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The session judged.
    pub session: String,
    /// The requests of the session the journal still held.
    pub requests: usize,
    /// The session's requests the journal had dropped (not judged).
    pub dropped: u64,
    /// The findings, in the order their first request happened.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Judges a session's journal entries (oldest first).
    pub fn judge(session: &str, entries: &[JournalEntry], dropped: u64) -> Report {
        let mut findings = Vec::new();
        retry_before_reset(entries, &mut findings);
        retried_non_retryable(entries, &mut findings);
        refusals(entries, &mut findings);
        retry_without_idempotency_key(entries, &mut findings);
        missing(
            entries,
            "missing-idempotency-key",
            |e| idempotent(e) && header(e, "idempotency-key").is_none(),
            "sent without Idempotency-Key. Persona's API reference lists the header for issuance and generate-claim, and Persona's Go SDK sends one with every generate-claim call and reuses it across that call's retries; without it, an answer lost on the way turns the retry into a second issuance or a double spend",
            &mut findings,
        );
        missing(
            entries,
            "no-persona-version",
            |e| e.endpoint.is_some() && header(e, "persona-version").is_none(),
            &format!(
                "sent without Persona-Version. Persona then answers in the API key's configured version, so a version change in the dashboard changes what the client gets; pin one (Persona-Version: {})",
                crate::api::conventions::PERSONA_VERSIONS[0]
            ),
            &mut findings,
        );
        findings.sort_by_key(|f| f.requests.first().copied().unwrap_or(0));
        Report {
            session: session.to_string(),
            requests: entries.len(),
            dropped,
            findings,
        }
    }

    /// Whether the report has an error finding.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// Panics with the findings' text if the report has an error finding:
    /// the assertion a Rust test ends with.
    ///
    /// ```should_panic
    /// # use persona_mock::report::Report;
    /// # let entries = Vec::new();
    /// # let mut report = Report::judge("my-test", &entries, 0);
    /// # report.findings.push(persona_mock::report::Finding {
    /// #     rule: "token-reuse", severity: persona_mock::report::Severity::Error,
    /// #     requests: vec![4], message: "spent twice".into() });
    /// report.assert_clean();
    /// ```
    #[track_caller]
    pub fn assert_clean(&self) {
        if self.has_errors() {
            panic!("{}", self.text());
        }
    }

    /// The report as JSON.
    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("reports serialize")
    }

    /// The report as JUnit XML: one test case per rule, a `<failure>` per
    /// error finding.
    pub fn junit(&self) -> String {
        format::junit(self)
    }

    /// A short human summary.
    pub fn text(&self) -> String {
        format::text(self)
    }
}

/// The value of header `name` in a journal entry's header list.
fn value_of<'e>(headers: &'e [(String, String)], name: &str) -> Option<&'e str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A request header's value.
fn header<'e>(entry: &'e JournalEntry, name: &str) -> Option<&'e str> {
    value_of(&entry.headers, name)
}

/// A response header's value.
fn response_header<'e>(entry: &'e JournalEntry, name: &str) -> Option<&'e str> {
    value_of(&entry.response_headers, name)
}

/// Whether the entry is an issuance or generate-claim request, the
/// endpoints Persona's SDK sends `Idempotency-Key` to.
fn idempotent(entry: &JournalEntry) -> bool {
    matches!(entry.endpoint, Some("issue" | "generate-claim"))
}

/// `errors[0].details` of an answer, if it is Persona's envelope.
fn details(entry: &JournalEntry) -> Option<String> {
    let body: serde_json::Value = serde_json::from_str(&entry.response_body).ok()?;
    Some(body["errors"][0]["details"].as_str()?.to_string())
}

/// "request 3" or "requests 3, 4 and 7".
pub(crate) fn seqs(requests: &[u64]) -> String {
    let names: Vec<String> = requests.iter().map(u64::to_string).collect();
    match names.as_slice() {
        [] => "no request".to_string(),
        [one] => format!("request {one}"),
        [rest @ .., last] => format!("requests {} and {last}", rest.join(", ")),
    }
}

fn finding(rule_id: &'static str, requests: Vec<u64>, message: String) -> Finding {
    Finding {
        rule: rule_id,
        severity: rule(rule_id).severity,
        requests,
        message,
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn since(later: SystemTime, earlier: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or_default()
}

/// `retry-before-reset`: every request sent while a 429's window was still
/// closed, one finding per run of 429s.
fn retry_before_reset(entries: &[JournalEntry], findings: &mut Vec<Finding>) {
    // The open window: when it resets, the 429 that opened it, its reset,
    // and the requests sent inside it.
    let mut open: Option<(SystemTime, &JournalEntry, u64, Vec<&JournalEntry>)> = None;
    let close = |open: Option<(SystemTime, &JournalEntry, u64, Vec<&JournalEntry>)>,
                 findings: &mut Vec<Finding>| {
        let Some((_, first, reset, early)) = open else {
            return;
        };
        if early.is_empty() {
            return;
        }
        let mut requests = vec![first.seq];
        requests.extend(early.iter().map(|e| e.seq));
        let when: Vec<String> = early
            .iter()
            .map(|e| format!("{} ({} after)", e.seq, seconds(since(e.at, first.at))))
            .collect();
        findings.push(finding(
            "retry-before-reset",
            requests,
            format!(
                "Request {} was answered 429 with RateLimit-Reset: {reset}, and the client sent {} {} before those {reset} s had passed. Persona's 429 says how long the window stays closed; wait RateLimit-Reset seconds before the next request.",
                first.seq,
                if early.len() == 1 { "request" } else { "requests" },
                when.join(", ")
            ),
        ));
    };
    for entry in entries {
        let inside = open.as_ref().is_some_and(|(until, ..)| entry.at < *until);
        if inside {
            if let Some((_, _, _, early)) = open.as_mut() {
                early.push(entry);
            }
        } else {
            close(open.take(), findings);
        }
        if entry.status != 429 {
            continue;
        }
        let Some(reset) = response_header(entry, "ratelimit-reset")
            .or_else(|| response_header(entry, "retry-after"))
            .and_then(|v| v.trim().parse::<u64>().ok())
        else {
            continue;
        };
        let until = entry.at + Duration::from_secs(reset);
        match open.as_mut() {
            Some((open_until, ..)) => *open_until = (*open_until).max(until),
            None => open = Some((until, entry, reset, Vec::new())),
        }
    }
    close(open, findings);
}

/// Answers a retry cannot change: 400, 401, 404, 409 (but not the
/// "still being answered" 409 of an idempotency key) and 422.
fn non_retryable(entry: &JournalEntry) -> bool {
    matches!(entry.status, 400 | 401 | 404 | 409 | 422)
        && entry.refusal != Some(Refusal::IdempotencyKeyInProgress)
}

/// `retried-non-retryable`: a request sent again unchanged after an answer
/// a retry cannot change.
fn retried_non_retryable(entries: &[JournalEntry], findings: &mut Vec<Finding>) {
    // What identifies a request: method, path, body and credentials.
    type Same<'e> = (&'e str, &'e str, &'e str, Option<&'e str>, Option<&'e str>);
    let mut last: HashMap<Same<'_>, &JournalEntry> = HashMap::new();
    for entry in entries.iter().filter(|e| e.endpoint.is_some()) {
        let same = (
            entry.method.as_str(),
            entry.path.as_str(),
            entry.body.as_str(),
            header(entry, "authorization"),
            header(entry, "persona-relay-secret"),
        );
        if let Some(earlier) = last.get(&same).filter(|e| non_retryable(e)) {
            findings.push(finding(
                "retried-non-retryable",
                vec![earlier.seq, entry.seq],
                format!(
                    "Request {} repeated request {} unchanged (same method, path, body and credentials) after it was answered {}{}. Persona answers the same request the same way: retry only 429 (after RateLimit-Reset), 403 and 5xx, and fix the request otherwise.",
                    entry.seq,
                    earlier.seq,
                    earlier.status,
                    details(earlier)
                        .map(|d| format!(" (the mock said: {d})"))
                        .unwrap_or_default()
                ),
            ));
        }
        last.insert(same, entry);
    }
}

/// The rules a refusal names: `token-reuse`, `idempotency-key-reuse`,
/// `wrong-claim-type`, `expired-challenge` and `invalid-token`.
fn refusals(entries: &[JournalEntry], findings: &mut Vec<Finding>) {
    for (i, entry) in entries.iter().enumerate() {
        let Some(refusal) = entry.refusal else {
            continue;
        };
        let said = details(entry).unwrap_or_default();
        let earlier = &entries[..i];
        let (id, requests, message) = match refusal {
            Refusal::TokenReuse => {
                let token = header(entry, "authorization");
                let spent = earlier.iter().rev().find(|e| {
                    e.endpoint == Some("generate-claim")
                        && e.status == 200
                        && header(e, "authorization") == token
                });
                let mut requests: Vec<u64> = spent.iter().map(|e| e.seq).collect();
                requests.push(entry.seq);
                let by = spent
                    .map(|e| format!("request {} had already spent", e.seq))
                    .unwrap_or_else(|| "was already spent".to_string());
                (
                    "token-reuse",
                    requests,
                    format!(
                        "Request {} presented a Privacy Pass token that {by}, and was answered 409. Each token redeems once: issue a new token for each generate-claim, and on a lost answer retry with the same Idempotency-Key instead.",
                        entry.seq
                    ),
                )
            }
            Refusal::IdempotencyKeyReuse => {
                let key = header(entry, "idempotency-key");
                let first = earlier.iter().find(|e| {
                    e.endpoint == entry.endpoint
                        && key.is_some()
                        && header(e, "idempotency-key") == key
                });
                let mut requests: Vec<u64> = first.iter().map(|e| e.seq).collect();
                requests.push(entry.seq);
                let first = first
                    .map(|e| format!(" (first used by request {})", e.seq))
                    .unwrap_or_default();
                (
                    "idempotency-key-reuse",
                    requests,
                    format!(
                        "Request {} sent Idempotency-Key {:?}{first} with other parameters, and was answered 422. A key names one request: reuse it only to retry that request unchanged, and make a new key for a new request.",
                        entry.seq,
                        key.unwrap_or_default()
                    ),
                )
            }
            Refusal::WrongClaimType => (
                "wrong-claim-type",
                vec![entry.seq],
                format!(
                    "Request {} presented a token for another claim type or namespace: {said} Request the challenge with the relay's claim type, in the relay's environment.",
                    entry.seq
                ),
            ),
            Refusal::ExpiredChallenge => (
                "expired-challenge",
                vec![entry.seq],
                format!(
                    "Request {} presented a token whose challenge had expired: {said} Request a fresh challenge for each token, and redeem it promptly.",
                    entry.seq
                ),
            ),
            Refusal::InvalidToken => (
                "invalid-token",
                vec![entry.seq],
                format!(
                    "Request {} presented a token the mock refused: {said}",
                    entry.seq
                ),
            ),
            Refusal::IdempotencyKeyInProgress => continue,
        };
        findings.push(finding(id, requests, message));
    }
}

/// Whether the answer asks the client to retry: a 5xx, a 403 (a pending
/// claim) or a connection the mock dropped.
fn retry_asked(entry: &JournalEntry) -> bool {
    entry.status >= 500 || entry.status == 403 || entry.fault.is_some()
}

/// `retry-without-idempotency-key`: after an answer that asks for a retry,
/// the next request to the same endpoint and path (for issuance, with the
/// same API key) must carry the first request's `Idempotency-Key`.
fn retry_without_idempotency_key(entries: &[JournalEntry], findings: &mut Vec<Finding>) {
    for (i, first) in entries.iter().enumerate() {
        if !idempotent(first) || !retry_asked(first) {
            continue;
        }
        let Some(retry) = entries[i + 1..].iter().find(|e| {
            e.endpoint == first.endpoint
                && e.path == first.path
                && (first.endpoint != Some("issue")
                    || header(e, "authorization") == header(first, "authorization"))
        }) else {
            continue;
        };
        let key = header(first, "idempotency-key");
        if key.is_some() && header(retry, "idempotency-key") == key {
            continue;
        }
        let answer = match first.fault {
            Some(fault) => format!("its connection was dropped ({})", fault.name()),
            None => format!("it was answered {}", first.status),
        };
        let fix = match key {
            Some(key) => format!("send the first request's key ({key:?}) again"),
            None => {
                "send an Idempotency-Key with the first request and the same key with its retries"
                    .to_string()
            }
        };
        findings.push(finding(
            "retry-without-idempotency-key",
            vec![first.seq, retry.seq],
            format!(
                "Request {} ({}) was retried by request {} after {answer}, without the first request's Idempotency-Key. The first may have taken effect: {fix}, so Persona answers the retry once instead of issuing or redeeming twice.",
                first.seq,
                first.endpoint.unwrap_or_default(),
                retry.seq
            ),
        ));
    }
}

/// One finding for every request `matches` picks, if any.
fn missing(
    entries: &[JournalEntry],
    id: &'static str,
    matches: impl Fn(&JournalEntry) -> bool,
    what: &str,
    findings: &mut Vec<Finding>,
) {
    let requests: Vec<u64> = entries
        .iter()
        .filter(|e| matches(e))
        .map(|e| e.seq)
        .collect();
    if requests.is_empty() {
        return;
    }
    let message = format!(
        "{} {} {what}.",
        capitalised(&seqs(&requests)),
        if requests.len() == 1 { "was" } else { "were" }
    );
    findings.push(finding(id, requests, message));
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
