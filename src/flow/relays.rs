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

    /// Copies of the relays of one session (or all), oldest first.
    pub fn list(&self, session: Option<&str>) -> Vec<Relay> {
        lock(&self.inner)
            .iter()
            .map(|(_, r)| r)
            .filter(|r| session.is_none_or(|s| r.session == s))
            .cloned()
            .collect()
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
