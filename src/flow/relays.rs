//! Relays: created with a claim type and namespace, read with
//! generate-claim. Each has a claim outcome (passed, failed or pending,
//! with the methodology that led there) and the redemptions made at it.

use super::{Bounded, lock};
use crate::api::ApiError;
use crate::flow::ClaimResult;
use crate::keys::Namespace;
use hyper::StatusCode;
use serde::Serialize;
use std::sync::{Arc, Mutex};

/// How many relays are kept.
pub const MAX_RELAYS: usize = 100_000;
/// How many redemptions each relay lists.
pub const MAX_REDEMPTIONS: usize = 100;

/// The verification methods Persona's claim payloads name.
pub const METHODS: [&str; 3] = ["facial_age_estimation", "document_selfie", "live_selfie"];

/// The claim types whose payloads leave out the methodology.
pub const HIDDEN_METHODOLOGY: [&str; 2] = ["age_over18_france", "age_over18_italy"];

/// One method and its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Method {
    /// One of [`METHODS`].
    pub method: String,
    /// `passed` or `failed`.
    pub result: ClaimResult,
}

/// What a relay's claim concluded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Passed, failed, or not finished.
    pub result: ClaimResult,
    /// How; `None` for the claim types that hide it.
    pub methodology: Option<Vec<Method>>,
}

impl Outcome {
    /// The outcome a claim type has by default: `result`, reached by the
    /// method Persona uses for such claims.
    pub fn default_for(claim_type: &str, result: ClaimResult) -> Outcome {
        if HIDDEN_METHODOLOGY.contains(&claim_type) {
            return Outcome {
                result,
                methodology: None,
            };
        }
        let method = if claim_type == "live_human_presence" {
            "live_selfie"
        } else if claim_type.ends_with("_verified") {
            "document_selfie"
        } else {
            "facial_age_estimation"
        };
        let methodology = match result {
            ClaimResult::Pending => Vec::new(),
            result => vec![Method {
                method: method.to_string(),
                result,
            }],
        };
        Outcome {
            result,
            methodology: Some(methodology),
        }
    }
}

/// One generate-claim that got past the token checks.
#[derive(Clone, Debug, Serialize)]
pub struct Redemption {
    /// When (RFC 3339 UTC).
    pub time: String,
    /// The token's nonce, hex.
    pub nonce: String,
    /// The claim's result then.
    pub claim_result: ClaimResult,
    /// Whether the token was consumed.
    pub token_consumed: bool,
}

/// A relay.
#[derive(Clone, Debug)]
pub(crate) struct Relay {
    /// `relay_…`.
    pub token: String,
    /// The secret generate-claim must send.
    pub secret: String,
    /// The claim type.
    pub claim_type: String,
    /// Sandbox or production.
    pub namespace: Namespace,
    /// The key claim payloads are encrypted to, and its PEM.
    pub encryption_key: Option<Arc<(rsa::RsaPublicKey, String)>>,
    /// When it was created (RFC 3339 UTC).
    pub created: String,
    /// How its claim turned out so far.
    pub outcome: Outcome,
    /// Redemptions, oldest first (the last [`MAX_REDEMPTIONS`]).
    pub redemptions: Vec<Redemption>,
    /// The session that created it.
    pub session: String,
}

/// How a relay's verification finished, by name, as the hosted page or the
/// control API reports it; [`RelayStore::complete`] checks it.
pub(crate) struct Completion {
    /// `passed`, `failed`, or (where `allow_pending`) `pending`.
    pub result: String,
    /// Each method and its result (`passed` or `failed`), by name; `None`
    /// keeps the claim type's default methodology.
    pub methodology: Option<Vec<(String, String)>>,
    /// Whether `pending` may be reported: the control API may set it, a
    /// person finishing the hosted flow passes or fails.
    pub allow_pending: bool,
    /// The request field the methodology came in, for error pointers.
    pub methodology_field: &'static str,
}

/// 404 for a relay the store does not hold.
pub(crate) fn no_relay(token: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "There is no relay {:?} (relays are kept until a reset, at most {}).",
            crate::api::conventions::truncate(token),
            MAX_RELAYS
        ),
    )
}

/// Every relay, the last [`MAX_RELAYS`].
pub(crate) struct RelayStore {
    inner: Mutex<Bounded<String, Relay>>,
}

impl RelayStore {
    pub fn new() -> RelayStore {
        RelayStore {
            inner: Mutex::new(Bounded::new(MAX_RELAYS)),
        }
    }

    /// Keeps a new relay.
    pub fn insert(&self, relay: Relay) {
        lock(&self.inner).insert(relay.token.clone(), relay);
    }

    /// A copy of the relay without its redemptions (what generate-claim
    /// needs, copied on every redemption).
    pub fn get(&self, token: &str) -> Option<Relay> {
        lock(&self.inner)
            .get(&token.to_string())
            .map(|relay| Relay {
                token: relay.token.clone(),
                secret: relay.secret.clone(),
                claim_type: relay.claim_type.clone(),
                namespace: relay.namespace,
                encryption_key: relay.encryption_key.clone(),
                created: relay.created.clone(),
                outcome: relay.outcome.clone(),
                redemptions: Vec::new(),
                session: relay.session.clone(),
            })
    }

    /// A copy of the relay with its redemptions.
    pub fn get_full(&self, token: &str) -> Option<Relay> {
        lock(&self.inner).get(&token.to_string()).cloned()
    }

    /// Changes a relay in place; `None` if there is no such relay.
    pub fn update<T>(&self, token: &str, change: impl FnOnce(&mut Relay) -> T) -> Option<T> {
        lock(&self.inner).get_mut(&token.to_string()).map(change)
    }

    /// Copies of at most `limit` relays of one session (or all) created
    /// after cursor `after` (0: from the first), oldest first, and the
    /// cursor of the next page if there are more.
    pub fn page(
        &self,
        session: Option<&str>,
        after: u64,
        limit: usize,
    ) -> (Vec<Relay>, Option<u64>) {
        let inner = lock(&self.inner);
        let mut matching = inner
            .iter_after(after)
            .filter(|(_, _, r)| session.is_none_or(|s| r.session == s));
        let mut page = Vec::new();
        let mut last = after;
        for (n, _, relay) in matching.by_ref().take(limit) {
            page.push(relay.clone());
            last = n;
        }
        let next = matching.next().is_some().then_some(last);
        (page, next)
    }

    /// Sets how a relay's verification turned out (what generate-claim
    /// answers from then on): the one place the rules are checked. A result
    /// or method it does not know is a 422; a sandbox relay only passes
    /// (409), as Persona's do. Returns the relay as it now is.
    pub fn complete(&self, token: &str, completion: Completion) -> Result<Relay, ApiError> {
        let results = if completion.allow_pending {
            "passed, failed or pending"
        } else {
            "passed or failed"
        };
        let result = ClaimResult::from_name(&completion.result)
            .filter(|r| completion.allow_pending || *r != ClaimResult::Pending)
            .ok_or_else(|| {
                ApiError::unprocessable(
                    "/result",
                    format!(
                        "{:?} is not a result: {results}.",
                        crate::api::conventions::truncate(&completion.result)
                    ),
                )
            })?;
        let relay = self.get(token).ok_or_else(|| no_relay(token))?;
        if relay.namespace == Namespace::Sandbox && result != ClaimResult::Passed {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "Sandbox relays always pass (as Persona's do); create a production relay to test other results.",
            ));
        }
        let mut outcome = Outcome::default_for(&relay.claim_type, result);
        if let Some(methods) = completion.methodology {
            let pointer = completion.methodology_field;
            let mut list = Vec::new();
            for (method, method_result) in methods {
                if !METHODS.contains(&method.as_str()) {
                    return Err(ApiError::unprocessable(
                        pointer,
                        format!(
                            "{:?} is not a method: {}.",
                            crate::api::conventions::truncate(&method),
                            METHODS.join(", ")
                        ),
                    ));
                }
                let result = ClaimResult::from_name(&method_result)
                    .filter(|r| *r != ClaimResult::Pending)
                    .ok_or_else(|| {
                        ApiError::unprocessable(
                            pointer,
                            format!(
                                "{:?} is not a method's result: passed or failed.",
                                crate::api::conventions::truncate(&method_result)
                            ),
                        )
                    })?;
                list.push(Method { method, result });
            }
            // Claim types that hide their methodology keep hiding it.
            if outcome.methodology.is_some() {
                outcome.methodology = Some(list);
            }
        }
        self.update(token, |relay| {
            relay.outcome = outcome;
            relay.clone()
        })
        .ok_or_else(|| no_relay(token))
    }

    /// How many relays are kept, and how many were dropped for the cap.
    pub fn counts(&self) -> (usize, u64) {
        lock(&self.inner).counts()
    }

    /// Forgets the relays of one session, or all.
    pub fn reset(&self, session: Option<&str>) {
        lock(&self.inner).reset(session, |relay, s| relay.session == *s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(token: &str, session: &str) -> Relay {
        Relay {
            token: token.into(),
            secret: String::new(),
            claim_type: "age_over18_verified".into(),
            namespace: Namespace::Production,
            encryption_key: None,
            created: String::new(),
            outcome: Outcome::default_for("age_over18_verified", ClaimResult::Passed),
            redemptions: Vec::new(),
            session: session.into(),
        }
    }

    #[test]
    fn pages_follow_their_cursor_through_every_relay_once() {
        let store = RelayStore::new();
        for i in 0..25 {
            store.insert(relay(
                &format!("r{i}"),
                if i % 2 == 0 { "even" } else { "odd" },
            ));
        }
        let mut seen = Vec::new();
        let mut after = 0;
        loop {
            let (page, next) = store.page(None, after, 10);
            seen.extend(page.into_iter().map(|r| r.token));
            match next {
                Some(cursor) => after = cursor,
                None => break,
            }
        }
        let all: Vec<String> = (0..25).map(|i| format!("r{i}")).collect();
        assert_eq!(seen, all);
        let (odd, next) = store.page(Some("odd"), 0, 12);
        assert_eq!((odd.len(), next), (12, None));
        // A relay removed by a reset does not shift a cursor.
        let (first, next) = store.page(None, 0, 5);
        store.reset(Some("even"));
        let (second, _) = store.page(None, next.unwrap(), 5);
        assert_eq!(first.last().unwrap().token, "r4");
        assert_eq!(second[0].token, "r5");
    }

    fn completion(result: &str, methods: &[(&str, &str)], allow_pending: bool) -> Completion {
        Completion {
            result: result.into(),
            methodology: (!methods.is_empty()).then(|| {
                methods
                    .iter()
                    .map(|(m, r)| (m.to_string(), r.to_string()))
                    .collect()
            }),
            allow_pending,
            methodology_field: "/methodology",
        }
    }

    #[test]
    fn completion_checks_its_rules_in_one_place() {
        let store = RelayStore::new();
        store.insert(relay("p", "s"));
        let mut sandbox = relay("sb", "s");
        sandbox.namespace = Namespace::Sandbox;
        store.insert(sandbox);
        let status = |token: &str, c: Completion| store.complete(token, c).map_err(|e| e.status);
        assert_eq!(
            status("p", completion("maybe", &[], true)).unwrap_err(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status("p", completion("pending", &[], false)).unwrap_err(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status("sb", completion("failed", &[], true)).unwrap_err(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status("none", completion("failed", &[], true)).unwrap_err(),
            StatusCode::NOT_FOUND
        );
        let unknown = store
            .complete(
                "p",
                completion("failed", &[("palm_reading", "failed")], true),
            )
            .unwrap_err();
        assert_eq!(unknown.pointer.as_deref(), Some("/methodology"));
        assert_eq!(
            status(
                "p",
                completion("failed", &[("live_selfie", "pending")], true)
            )
            .unwrap_err(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let done = store
            .complete(
                "p",
                completion("failed", &[("live_selfie", "failed")], false),
            )
            .unwrap();
        assert_eq!(done.outcome.result, ClaimResult::Failed);
        assert_eq!(done.outcome.methodology.unwrap()[0].method, "live_selfie");
        assert_eq!(
            store.get("p").unwrap().outcome.result,
            ClaimResult::Failed,
            "it is kept"
        );
    }

    #[test]
    fn default_methodology_follows_the_claim_type() {
        let m = |claim: &str| {
            Outcome::default_for(claim, ClaimResult::Passed)
                .methodology
                .map(|list| list[0].method.clone())
        };
        assert_eq!(m("live_human_presence").as_deref(), Some("live_selfie"));
        assert_eq!(m("age_over21_verified").as_deref(), Some("document_selfie"));
        assert_eq!(
            m("age_over18_germany").as_deref(),
            Some("facial_age_estimation")
        );
        assert_eq!(m("age_over18_france"), None);
    }
}
