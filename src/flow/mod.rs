//! The Relay flow's state: challenges issued, relays and their claims,
//! spent token nonces, idempotency records, and the key that signs relay
//! session tokens. Every store is bounded (the oldest entries go first and
//! are counted) and can be cleared per session.

mod bounded;
pub(crate) mod idempotency;
pub(crate) mod jwt;
pub(crate) mod relays;

pub(crate) use bounded::{Bounded, Generations};

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

    /// The result called `name` (`passed`, `failed` or `pending`): the one
    /// place results are read by name.
    pub fn from_name(name: &str) -> Option<ClaimResult> {
        [
            ClaimResult::Passed,
            ClaimResult::Failed,
            ClaimResult::Pending,
        ]
        .into_iter()
        .find(|result| result.name() == name)
    }
}

/// How many issued challenges are remembered at least (the log holds up to
/// twice as many: see [`Generations`]).
pub const MAX_CHALLENGES: usize = 100_000;
/// How many spent nonces are remembered at least (up to twice as many).
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
    /// When (the state's clock), in nanoseconds: 8 bytes rather than a
    /// `Duration`'s 16, so that an entry and its key fill half a cache line.
    at_nanos: u64,
    /// A hash of the session that asked for it (for per-session resets).
    pub session: u64,
}

impl Issued {
    /// A challenge issued at `at` (the state's clock).
    pub fn new(claim_type: u16, namespace: Namespace, at: Duration, session: u64) -> Issued {
        Issued {
            claim_type,
            namespace,
            at_nanos: u64::try_from(at.as_nanos()).unwrap_or(u64::MAX),
            session,
        }
    }

    /// When it was issued (the state's clock).
    pub fn at(&self) -> Duration {
        Duration::from_nanos(self.at_nanos)
    }
}

/// A session's hash, as stores that only reset by session keep it.
pub(crate) fn session_hash(session: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    session.hash(&mut hasher);
    hasher.finish()
}

/// The first 8 bytes of a 32-byte digest or nonce: how the stores key them.
/// Two of up to two million values share a prefix with a probability under
/// 10⁻⁶, and forging one takes 2⁶⁴ hashes; the memory saved is most of the
/// stores'.
pub(crate) fn prefix(bytes: &[u8; 32]) -> u64 {
    u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"))
}

/// Challenges issued, by the SHA-256 of their bytes: at least the last
/// [`MAX_CHALLENGES`].
pub(crate) struct ChallengeLog {
    inner: Mutex<Generations<Issued>>,
}

impl ChallengeLog {
    pub fn new() -> ChallengeLog {
        ChallengeLog {
            inner: Mutex::new(Generations::new(MAX_CHALLENGES)),
        }
    }

    /// Notes a challenge.
    pub fn record(&self, digest: &[u8; 32], issued: Issued) {
        lock(&self.inner).insert(prefix(digest), issued);
    }

    /// The challenge with this digest, if it was issued and is remembered.
    pub fn get(&self, digest: &[u8; 32]) -> Option<Issued> {
        lock(&self.inner).get(&prefix(digest)).copied()
    }

    /// How many are remembered, and how many were forgotten for the cap.
    pub fn counts(&self) -> (usize, u64) {
        lock(&self.inner).counts()
    }

    /// Forgets the challenges of one session, or all.
    pub fn reset(&self, session: Option<&str>) {
        lock(&self.inner).reset(session.map(session_hash), |issued, hash| {
            issued.session == *hash
        });
    }
}

/// Token nonces redeemed: at least the last [`MAX_SPENT`]. A nonce
/// forgotten for the cap belongs to a token whose challenge expired long
/// ago, as long as fewer than that many tokens are redeemed within a
/// challenge lifetime.
pub(crate) struct SpentTokens {
    /// Nonce prefixes, with the hash of the session that spent each.
    inner: Mutex<Generations<u64>>,
}

impl SpentTokens {
    pub fn new() -> SpentTokens {
        SpentTokens {
            inner: Mutex::new(Generations::new(MAX_SPENT)),
        }
    }

    /// Whether the nonce was spent.
    pub fn is_spent(&self, nonce: &[u8; 32]) -> bool {
        lock(&self.inner).get(&prefix(nonce)).is_some()
    }

    /// Spends the nonce, unless it was spent already (then `false`). Check
    /// and spend are one step, so of concurrent redemptions of one token
    /// exactly one spends it.
    pub fn spend(&self, nonce: &[u8; 32], session: &str) -> bool {
        let mut inner = lock(&self.inner);
        let key = prefix(nonce);
        if inner.get(&key).is_some() {
            return false;
        }
        inner.insert(key, session_hash(session));
        true
    }

    /// How many are remembered, and how many were forgotten for the cap.
    pub fn counts(&self) -> (usize, u64) {
        lock(&self.inner).counts()
    }

    /// Forgets the nonces spent in one session, or all.
    pub fn reset(&self, session: Option<&str>) {
        lock(&self.inner).reset(session.map(session_hash), |spent, hash| *spent == *hash);
    }
}

/// Locks a store; a panic elsewhere never poisons it for good.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// Memory of the stores at their peak, both generations full (run by hand:
    /// `cargo test --release --lib store_memory -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn store_memory_at_the_caps() {
        let before = rss_kib();
        let log = ChallengeLog::new();
        for i in 0..2 * MAX_CHALLENGES as u64 {
            let mut digest = [0u8; 32];
            digest[..8].copy_from_slice(&i.to_be_bytes());
            let issued = Issued::new(0, Namespace::Production, Duration::ZERO, 0);
            log.record(&digest, issued);
        }
        let after_log = rss_kib();
        let spent = SpentTokens::new();
        for i in 0..2 * MAX_SPENT as u64 {
            let mut nonce = [0u8; 32];
            nonce[..8].copy_from_slice(&i.to_be_bytes());
            spent.spend(&nonce, "s");
        }
        let after_spent = rss_kib();
        println!(
            "challenge log at its peak: {} KiB; spent nonces at their peak: {} KiB",
            after_log - before,
            after_spent - after_log
        );
        // Both generations full: the most either store ever holds.
        assert_eq!(spent.counts(), (2 * MAX_SPENT, 0));
        assert_eq!(log.counts(), (2 * MAX_CHALLENGES, 0));
    }
}
