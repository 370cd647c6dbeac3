//! Per-session scenario progress. A session is what isolates one test from
//! another: each has its own cursor in each scenario.

use super::{Cursor, Pick, RequestFacts, Scenario};
use std::collections::HashMap;
use std::sync::Mutex;

/// Scenario progress of every session.
#[derive(Default)]
pub struct Sessions {
    /// Cursors by session id, then scenario name. The lock is held only to
    /// move one cursor, never across an await.
    cursors: Mutex<HashMap<String, HashMap<String, Cursor>>>,
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
        let mut sessions = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        let cursors = match sessions.get_mut(session) {
            Some(cursors) => cursors,
            None => sessions.entry(session.to_owned()).or_default(),
        };
        let cursor = match cursors.get_mut(&scenario.name) {
            Some(cursor) => cursor,
            None => cursors.entry(scenario.name.clone()).or_default(),
        };
        cursor.advance(scenario, request)
    }

    /// Where `session` is in `scenario`: step index, answers given by that
    /// step, and whether the script has run out.
    pub fn position(&self, session: &str, scenario: &str) -> (usize, u32, bool) {
        let sessions = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        sessions
            .get(session)
            .and_then(|c| c.get(scenario))
            .copied()
            .unwrap_or_default()
            .position()
    }
}
