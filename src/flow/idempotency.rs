//! `Idempotency-Key`: the first response to a key is stored and replayed for
//! the same key (for the configured window, 24 h by default); the same key
//! with other parameters is refused; of concurrent requests with one key,
//! exactly one runs.

use super::{Bounded, lock};
use bytes::Bytes;
use hyper::StatusCode;
use hyper::header::HeaderValue;
use std::sync::Mutex;
use std::time::Duration;

/// How many keys are remembered.
pub const MAX_KEYS: usize = 100_000;

/// A stored first response.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    /// Its status.
    pub status: StatusCode,
    /// Its content type.
    pub content_type: Option<HeaderValue>,
    /// Its body.
    pub body: Bytes,
}

#[derive(Clone, Debug)]
enum Slot {
    /// The first request is being answered.
    Running,
    /// Its response.
    Done(Stored),
}

#[derive(Clone, Debug)]
struct Entry {
    /// SHA-256 of what the request asked (path, body, credentials).
    fingerprint: [u8; 32],
    /// When the first request came (the state's clock).
    at: Duration,
    slot: Slot,
    session: String,
}

/// What to do with a request that carries an `Idempotency-Key`.
#[derive(Debug)]
pub(crate) enum Begin {
    /// It is the first: answer it, then [`IdempotencyStore::finish`].
    Run,
    /// Send this stored response again.
    Replay(Stored),
    /// The first request with this key is still being answered.
    InProgress,
    /// The key was used with other parameters.
    Mismatch,
}

/// Keys by scope (session and endpoint) and value.
pub(crate) struct IdempotencyStore {
    inner: Mutex<Bounded<(String, String), Entry>>,
    ttl: Duration,
}

impl IdempotencyStore {
    pub fn new(ttl: Duration) -> IdempotencyStore {
        IdempotencyStore {
            inner: Mutex::new(Bounded::new(MAX_KEYS)),
            ttl,
        }
    }

    /// Looks the key up and, if it is new (or its window passed), claims it.
    pub fn begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: [u8; 32],
        now: Duration,
        session: &str,
    ) -> Begin {
        let id = (scope.to_string(), key.to_string());
        let mut inner = lock(&self.inner);
        if let Some(entry) = inner.get(&id)
            && now.saturating_sub(entry.at) < self.ttl
        {
            return if entry.fingerprint != fingerprint {
                Begin::Mismatch
            } else {
                match &entry.slot {
                    Slot::Running => Begin::InProgress,
                    Slot::Done(stored) => Begin::Replay(stored.clone()),
                }
            };
        }
        inner.insert(
            id,
            Entry {
                fingerprint,
                at: now,
                slot: Slot::Running,
                session: session.to_string(),
            },
        );
        Begin::Run
    }

    /// Stores the first response for the key, or (`None`: a 401 or 429,
    /// which are not stored) lets the key be used afresh.
    pub fn finish(&self, scope: &str, key: &str, response: Option<Stored>) {
        let id = (scope.to_string(), key.to_string());
        let mut inner = lock(&self.inner);
        match response {
            Some(stored) => {
                if let Some(entry) = inner.get_mut(&id) {
                    entry.slot = Slot::Done(stored);
                }
            }
            None => {
                inner.remove(&id);
            }
        }
    }

    /// How many keys are remembered, and how many were forgotten for the cap.
    pub fn counts(&self) -> (usize, u64) {
        lock(&self.inner).counts()
    }

    /// Forgets the keys of one session, or all.
    pub fn reset(&self, session: Option<&str>) {
        lock(&self.inner).reset(session, |entry, s| entry.session == *s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(status: u16) -> Stored {
        Stored {
            status: StatusCode::from_u16(status).unwrap(),
            content_type: None,
            body: Bytes::from_static(b"{}"),
        }
    }

    #[test]
    fn first_runs_then_replays_mismatches_and_expires() {
        let store = IdempotencyStore::new(Duration::from_secs(10));
        let t = Duration::from_secs;
        assert!(matches!(
            store.begin("s", "k", [1; 32], t(0), "s"),
            Begin::Run
        ));
        assert!(matches!(
            store.begin("s", "k", [1; 32], t(1), "s"),
            Begin::InProgress
        ));
        store.finish("s", "k", Some(stored(201)));
        match store.begin("s", "k", [1; 32], t(2), "s") {
            Begin::Replay(r) => assert_eq!(r.status, 201),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            store.begin("s", "k", [2; 32], t(3), "s"),
            Begin::Mismatch
        ));
        assert!(matches!(
            store.begin("other", "k", [2; 32], t(3), "s"),
            Begin::Run
        ));
        assert!(matches!(
            store.begin("s", "k", [2; 32], t(11), "s"),
            Begin::Run
        ));
    }

    #[test]
    fn unstored_answers_free_the_key() {
        let store = IdempotencyStore::new(Duration::from_secs(10));
        assert!(matches!(
            store.begin("s", "k", [1; 32], Duration::ZERO, "s"),
            Begin::Run
        ));
        store.finish("s", "k", None);
        assert!(matches!(
            store.begin("s", "k", [1; 32], Duration::ZERO, "s"),
            Begin::Run
        ));
    }
}
