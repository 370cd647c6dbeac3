//! The Relay flow's state: challenges issued, relays and their claims,
//! spent token nonces, idempotency records, and the key that signs relay
//! session tokens. Every store is bounded (the oldest entries go first and
//! are counted) and can be cleared per session.

mod bounded;
pub(crate) mod idempotency;
pub(crate) mod jwt;
pub(crate) mod relays;

pub(crate) use bounded::Bounded;

use crate::keys::Namespace;
use std::sync::Mutex;
use std::time::Duration;

/// What a claim's verification concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimResult {
    /// The person passed.
    Passed,
    /// The person failed.
    Failed,
    /// The hosted flow is not finished.
    Pending,
}

impl ClaimResult {
    /// The result's name in config files and payloads.
    pub fn name(self) -> &'static str {
        match self {
            ClaimResult::Passed => "passed",
            ClaimResult::Failed => "failed",
            ClaimResult::Pending => "pending",
        }
    }
}

/// How many issued challenges are remembered.
pub const MAX_CHALLENGES: usize = 100_000;
/// How many spent nonces are remembered.
pub const MAX_SPENT: usize = 1_000_000;

/// A challenge the mock issued: what a token's `challenge_digest` must name.
/// Kept small (the log holds up to [`MAX_CHALLENGES`] of them).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Issued {
    /// The claim type it was issued for, as its index in the key ring's
    /// list of claim types.
    pub claim_type: u16,
    /// Its namespace.
    pub namespace: Namespace,
    /// When (the state's clock).
    pub at: Duration,
    /// A hash of the session that asked for it (for per-session resets).
    pub session: u64,
}

/// A session's hash, as stores that only reset by session keep it.
pub(crate) fn session_hash(session: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(session)
}

/// Challenges issued, by the SHA-256 of their bytes, the last
/// [`MAX_CHALLENGES`].
pub(crate) struct ChallengeLog {
    inner: Mutex<Bounded<[u8; 32], Issued>>,
}

impl ChallengeLog {
    pub fn new() -> ChallengeLog {
        ChallengeLog {
            inner: Mutex::new(Bounded::new(MAX_CHALLENGES)),
        }
    }

    /// Notes a challenge.
    pub fn record(&self, digest: [u8; 32], issued: Issued) {
        lock(&self.inner).insert(digest, issued);
    }

    /// The challenge with this digest, if it was issued and is remembered.
    pub fn get(&self, digest: &[u8; 32]) -> Option<Issued> {
        lock(&self.inner).get(digest).copied()
    }

    /// How many are remembered, and how many were forgotten for the cap.
    pub fn counts(&self) -> (usize, u64) {
        let inner = lock(&self.inner);
        (inner.len(), inner.dropped)
    }

    /// Forgets the challenges of one session, or all.
    pub fn reset(&self, session: Option<&str>) {
        let mut inner = lock(&self.inner);
        match session {
            Some(s) => {
                let hash = session_hash(s);
                inner.retain(|_, issued| issued.session != hash)
            }
            None => inner.clear(),
        }
    }
}

/// A spent token nonce (the relay's redemptions say where).
#[derive(Clone, Debug)]
pub(crate) struct Spent {
    /// The session that spent it.
    pub session: String,
}

/// Token nonces redeemed, the last [`MAX_SPENT`]. A nonce forgotten for the
/// cap belongs to a token whose challenge expired long ago, as long as
/// fewer than that many tokens are redeemed within a challenge lifetime.
pub(crate) struct SpentTokens {
    inner: Mutex<Bounded<[u8; 32], Spent>>,
}

impl SpentTokens {
    pub fn new() -> SpentTokens {
        SpentTokens {
            inner: Mutex::new(Bounded::new(MAX_SPENT)),
        }
    }

    /// Whether the nonce was spent.
    pub fn is_spent(&self, nonce: &[u8; 32]) -> bool {
        lock(&self.inner).get(nonce).is_some()
    }

    /// Spends the nonce, unless it was spent already (then `false`). Check
    /// and spend are one step, so of concurrent redemptions of one token
    /// exactly one spends it.
    pub fn spend(&self, nonce: [u8; 32], spent: Spent) -> bool {
        let mut inner = lock(&self.inner);
        if inner.get(&nonce).is_some() {
            return false;
        }
        inner.insert(nonce, spent);
        true
    }

    /// How many are remembered, and how many were forgotten for the cap.
    pub fn counts(&self) -> (usize, u64) {
        let inner = lock(&self.inner);
        (inner.len(), inner.dropped)
    }

    /// Forgets the nonces spent in one session, or all.
    pub fn reset(&self, session: Option<&str>) {
        let mut inner = lock(&self.inner);
        match session {
            Some(s) => inner.retain(|_, spent| spent.session != s),
            None => inner.clear(),
        }
    }
}

/// Locks a store; a panic elsewhere never poisons it for good.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
