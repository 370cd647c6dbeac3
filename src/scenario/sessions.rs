//! Per-session scenario state: each session's cursor in each scenario and
//! the scenario bound to it. A session is what isolates one test from
//! another.

use super::{Cursor, Pick, RequestFacts, Scenario};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Maps keyed by session and scenario names.
type Names<V> = HashMap<String, V>;

/// One session's state.
#[derive(Default)]
struct SessionState {
    /// Cursors by scenario name.
    cursors: Names<Cursor>,
    /// The scenario bound with `PUT /__mock/sessions/{id}`.
    bound: Option<String>,
}

/// How many sessions are tracked before unbound ones are forgotten.
pub const MAX_SESSIONS: usize = 100_000;

/// Keeps the session map bounded: at the limit, sessions without a bound
/// scenario are forgotten (they start their scenarios over).
fn make_room(states: &mut Names<SessionState>) {
    if states.len() >= MAX_SESSIONS {
        tracing::warn!(
            "more than {MAX_SESSIONS} sessions; forgetting the progress of unbound ones"
        );
        states.retain(|_, s| s.bound.is_some());
    }
}

/// Scenario state of every session.
#[derive(Default)]
pub struct Sessions {
    /// State by session id. The lock is held only to read or move one
    /// cursor, never across an await.
    states: Mutex<Names<SessionState>>,
    /// How many sessions have a bound scenario; while zero, requests need
    /// not look for a binding.
    bound_count: AtomicUsize,
}

impl Sessions {
    /// Picks the step of `scenario` that answers this request for `session`
    /// and advances that session's cursor; `None` means normal behaviour.
    /// Concurrent requests of one session each get a different step
    /// repetition: none is skipped or repeated.
    pub fn advance(
        &self,
        session: &str,
        scenario: &Scenario,
        request: &dyn RequestFacts,
    ) -> Option<Pick> {
        let mut states = self.lock();
        if !states.contains_key(session) {
            make_room(&mut states);
        }
        let state = match states.get_mut(session) {
            Some(state) => state,
            None => states.entry(session.to_owned()).or_default(),
        };
        let cursor = match state.cursors.get_mut(&scenario.name) {
            Some(cursor) => cursor,
            None => state.cursors.entry(scenario.name.clone()).or_default(),
        };
        cursor.advance(scenario, request)
    }

    /// Where `session` is in `scenario`: step index, answers given by that
    /// step, and whether the script has run out.
    pub fn position(&self, session: &str, scenario: &str) -> (usize, u32, bool) {
        self.lock()
            .get(session)
            .and_then(|s| s.cursors.get(scenario))
            .copied()
            .unwrap_or_default()
            .position()
    }

    /// The scenario bound to `session`, if any.
    pub fn bound(&self, session: &str) -> Option<String> {
        if self.bound_count.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.lock().get(session).and_then(|s| s.bound.clone())
    }

    /// Binds a scenario to a session (or unbinds with `None`); the session
    /// starts that scenario from its first step.
    pub fn bind(&self, session: &str, scenario: Option<String>) {
        let mut states = self.lock();
        if !states.contains_key(session) {
            make_room(&mut states);
        }
        let state = states.entry(session.to_owned()).or_default();
        match (&state.bound, &scenario) {
            (None, Some(_)) => self.bound_count.fetch_add(1, Ordering::Relaxed),
            (Some(_), None) => self.bound_count.fetch_sub(1, Ordering::Relaxed),
            _ => 0,
        };
        if let Some(name) = &scenario {
            state.cursors.remove(name);
        }
        state.bound = scenario;
    }

    /// Sends one session (or all) back to the start of every scenario;
    /// bindings stay.
    pub fn reset(&self, session: Option<&str>) {
        let mut states = self.lock();
        match session {
            Some(session) => {
                if let Some(state) = states.get_mut(session) {
                    state.cursors.clear();
                }
            }
            None => states.values_mut().for_each(|s| s.cursors.clear()),
        }
        states.retain(|_, s| s.bound.is_some() || !s.cursors.is_empty());
    }

    /// Sends every session back to the start of `scenario` (it changed).
    pub fn restart(&self, scenario: &str) {
        for state in self.lock().values_mut() {
            state.cursors.remove(scenario);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Names<SessionState>> {
        self.states.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_map_stays_bounded_and_keeps_bindings() {
        let sessions = Sessions::default();
        sessions.bind("kept", Some("slow".into()));
        {
            let mut states = sessions.lock();
            for i in 0..MAX_SESSIONS {
                states.insert(format!("s{i}"), SessionState::default());
            }
        }
        sessions.bind("new", None);
        let states = sessions.lock();
        assert!(states.len() <= 2, "{}", states.len());
        assert_eq!(states["kept"].bound.as_deref(), Some("slow"));
    }
}
