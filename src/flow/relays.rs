//! Relays: created with a claim type and namespace, read with
//! generate-claim. Each has a claim outcome (passed, failed or pending,
//! with the methodology that led there) and the redemptions made at it.

use super::{Bounded, lock};
use crate::flow::ClaimResult;
use crate::keys::Namespace;
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
