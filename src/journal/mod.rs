//! The request journal: what clients sent and what the mock answered, kept
//! per session and bounded (per session and overall, oldest dropped first)
//! so memory stays flat under load.

use crate::api::Refusal;
use crate::api::route::Route;
use crate::scenario::Fault;
use hashbrown::HashMap;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::SystemTime;

/// Limits of the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalLimits {
    /// Entries kept per session.
    pub per_session: usize,
    /// Entries kept overall.
    pub total: usize,
    /// Request body bytes kept per entry; longer bodies are cut.
    pub body_bytes: usize,
}

impl Default for JournalLimits {
    fn default() -> Self {
        JournalLimits {
            per_session: 1_000,
            total: 10_000,
            body_bytes: 4 * 1024,
        }
    }
}

/// Which part of the mock answered a request. In JSON: `"real"`, or
/// `{"scenario": NAME, "step": N}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnsweredBy {
    /// The mock's real behaviour.
    Real,
    /// A scenario step.
    Step {
        /// The scenario's name.
        scenario: String,
        /// The step's number, from 1.
        step: usize,
    },
}

impl Serialize for AnsweredBy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            AnsweredBy::Real => serializer.serialize_str("real"),
            AnsweredBy::Step { scenario, step } => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("scenario", scenario)?;
                map.serialize_entry("step", step)?;
                map.end()
            }
        }
    }
}

/// One journalled request and its answer. `seq` counts every journalled
/// request of the process, across sessions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JournalEntry {
    /// Position in the journal's history, from 1 (gaps mean dropped or cleared entries).
    pub seq: u64,
    /// When the request was answered, RFC 3339 UTC with milliseconds.
    pub time: String,
    /// The same time, as the contract report reads it.
    #[serde(skip)]
    pub at: SystemTime,
    /// The session the request belonged to.
    pub session: String,
    /// The HTTP method.
    pub method: String,
    /// The path and query as sent.
    pub path: String,
    /// The endpoint of Persona's API it was for, by its scenario name
    /// (`challenge`, `create-relay`, `issue`, `generate-claim`), if any.
    pub endpoint: Option<&'static str>,
    /// Request headers in order, as `[name, value]` (values decoded lossily as UTF-8).
    pub headers: Vec<(String, String)>,
    /// The request body (decoded lossily as UTF-8), cut to the journal's limit.
    pub body: String,
    /// Whether `body` was cut.
    pub body_truncated: bool,
    /// The scenario in force, if any.
    pub scenario: Option<String>,
    /// The step that answered, or `"real"`.
    pub answered_by: AnsweredBy,
    /// The status answered (for a fault, the scripted one).
    pub status: u16,
    /// A scripted connection fault, if one was carried out (`"reset"`,
    /// `"hang"`, `"truncated"` in JSON).
    pub fault: Option<Fault>,
    /// Response headers in order, as `[name, value]`.
    pub response_headers: Vec<(String, String)>,
    /// The response body (decoded lossily as UTF-8), cut to the journal's
    /// body limit.
    pub response_body: String,
    /// What a refusal said the client did (`token-reuse`, …), if the mock
    /// refused the request for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
}

/// A request and its answer as the pipeline hands them to the journal:
/// borrowed, and packed straight into the journal's ring buffer, so
/// keeping a request allocates nothing. Formatted into a [`JournalEntry`]
/// only when read.
#[derive(Clone, Debug)]
pub struct Record<'a> {
    /// When the request was answered.
    pub time: SystemTime,
    /// The method.
    pub method: &'a hyper::Method,
    /// The endpoint of Persona's API, if the path named one.
    pub route: Option<Route>,
    /// What a refusal said the client did.
    pub refusal: Option<Refusal>,
    /// Whether the body was cut (or not read at all).
    pub body_truncated: bool,
    /// The scenario in force.
    pub scenario: Option<&'a str>,
    /// The step that answered, from 1.
    pub step: Option<usize>,
    /// The status answered.
    pub status: u16,
    /// A scripted fault.
    pub fault: Option<Fault>,
    /// The session, path, headers and body.
    pub text: RecordText<'a>,
}

/// The parts of a request and its answer a [`Record`] keeps as text.
#[derive(Clone, Copy, Debug)]
pub struct RecordText<'a> {
    /// The session.
    pub session: &'a str,
    /// The path and query.
    pub path: &'a str,
    /// The request headers.
    pub headers: &'a hyper::HeaderMap,
    /// The length of `headers` packed as `name:value\n` lines (the head
    /// check measures it in its pass over them).
    pub headers_len: usize,
    /// The request body, already cut to the limit.
    pub body: &'a [u8],
    /// The response headers.
    pub response_headers: &'a hyper::HeaderMap,
    /// The response body, already cut to the limit.
    pub response_body: &'a [u8],
}

impl<'a> Record<'a> {
    /// A record of `text`, answered at `time` with `status`; the caller
    /// sets the scenario fields.
    pub fn new(
        method: &'a hyper::Method,
        status: u16,
        time: SystemTime,
        text: RecordText<'a>,
    ) -> Record<'a> {
        Record {
            time,
            method,
            route: None,
            refusal: None,
            body_truncated: false,
            scenario: None,
            step: None,
            status,
            fault: None,
            text,
        }
    }

    /// The length of a header map packed as `name:value\n` lines.
    pub(crate) fn packed_len(headers: &hyper::HeaderMap) -> usize {
        headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 2)
            .sum()
    }

    /// Packs a header map as `name:value\n` lines (names cannot hold ':'
    /// and values cannot hold '\n').
    fn pack_into(headers: &hyper::HeaderMap, out: &mut Vec<u8>) {
        for (name, value) in headers {
            out.extend_from_slice(name.as_str().as_bytes());
            out.push(b':');
            out.extend_from_slice(value.as_bytes());
            out.push(b'\n');
        }
    }

    fn unpack(packed: &[u8]) -> Vec<(String, String)> {
        packed
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| {
                let colon = line.iter().position(|b| *b == b':').unwrap_or(line.len());
                let value = line.get(colon + 1..).unwrap_or_default();
                (
                    String::from_utf8_lossy(&line[..colon]).into_owned(),
                    String::from_utf8_lossy(value).into_owned(),
                )
            })
            .collect()
    }
}

/// A request as the journal keeps it: its fields, and its text (method,
/// session, path, headers, body, response headers, scenario) in one buffer.
struct Kept {
    seq: u64,
    /// The session's slot in [`Entries::counters`]: evictions and views
    /// compare it instead of reading text.
    session: usize,
    time: SystemTime,
    route: Option<Route>,
    refusal: Option<Refusal>,
    /// Its text.
    text: Box<[u8]>,
    /// Where the method, session, path, request headers, body, response
    /// headers and response body end in its text; the scenario's name, if
    /// any, follows.
    ends: [usize; 7],
    has_scenario: bool,
    step: Option<usize>,
    status: u16,
    fault: Option<Fault>,
    body_truncated: bool,
}

impl Kept {
    /// The response body, as kept.
    fn response_body(&self) -> &[u8] {
        &self.text[self.ends[5]..self.ends[6]]
    }

    /// The entry as the control API shows it.
    fn entry(&self) -> JournalEntry {
        let bytes = &self.text[..];
        let [
            method,
            session,
            path,
            headers,
            body,
            response,
            response_body,
        ] = self.ends;
        let text =
            |range: std::ops::Range<usize>| String::from_utf8_lossy(&bytes[range]).into_owned();
        let scenario = self.has_scenario.then(|| text(response_body..bytes.len()));
        JournalEntry {
            seq: self.seq,
            time: rfc3339(self.time),
            at: self.time,
            session: text(method..session),
            method: text(0..method),
            path: text(session..path),
            endpoint: self.route.map(Route::name),
            headers: Record::unpack(&bytes[path..headers]),
            body: text(headers..body),
            body_truncated: self.body_truncated,
            answered_by: match (&scenario, self.step) {
                (Some(scenario), Some(step)) => AnsweredBy::Step {
                    scenario: scenario.clone(),
                    step,
                },
                _ => AnsweredBy::Real,
            },
            scenario,
            status: self.status,
            fault: self.fault,
            response_headers: Record::unpack(&bytes[body..response]),
            response_body: String::from_utf8_lossy(self.response_body()).into_owned(),
            refusal: self.refusal,
        }
    }
}

/// Entries and the counters that explain what is missing.
#[derive(Default)]
struct Entries {
    /// Every kept entry, oldest first.
    list: VecDeque<Kept>,
    /// Sessions with kept or dropped entries, by name: their slot in
    /// `counters`.
    sessions: HashMap<String, usize>,
    /// Each session's counters, by slot.
    counters: Vec<Session>,
    /// Slots of cleared sessions, to give to new ones.
    free: Vec<usize>,
    /// Entries dropped overall.
    dropped_total: u64,
    /// The last sequence number given.
    seq: u64,
}

/// One session's counters.
#[derive(Default)]
struct Session {
    /// Entries kept.
    kept: usize,
    /// Entries dropped to respect the limits.
    dropped: u64,
}

impl Entries {
    /// The slot of session `name`, made if it has none. A known session is
    /// found with one look-up and without allocating its key: this runs on
    /// the request path.
    fn session(&mut self, name: &str) -> usize {
        if let Some(slot) = self.sessions.get(name) {
            return *slot;
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                self.counters[slot] = Session::default();
                slot
            }
            None => {
                self.counters.push(Session::default());
                self.counters.len() - 1
            }
        };
        self.sessions.insert(name.to_owned(), slot);
        slot
    }
}

/// The journal. The lock is held only to add, read or clear entries.
pub struct Journal {
    /// The limits.
    limits: JournalLimits,
    /// The entries.
    entries: Mutex<Entries>,
}

/// What `GET /__mock/requests` shows.
#[derive(Debug, Serialize)]
pub struct JournalView {
    /// Entries, oldest first.
    pub requests: Vec<JournalEntry>,
    /// Entries dropped to respect the limits (for the session asked, or overall).
    pub dropped: u64,
    /// With [`Journal::page`]: the `seq` to continue after, if there are more.
    pub next: Option<u64>,
}

impl Journal {
    /// An empty journal.
    pub fn new(limits: JournalLimits) -> Journal {
        Journal {
            limits,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// The limits.
    pub fn limits(&self) -> JournalLimits {
        self.limits
    }

    /// Adds an entry (its `seq` is set here), dropping the session's oldest
    /// entry past the per-session limit and the oldest overall past the
    /// total limit.
    pub fn record(&self, record: Record<'_>) {
        let text = record.text;
        let method = record.method.as_str().as_bytes();
        let scenario = record.scenario.unwrap_or_default().as_bytes();
        // Where the method, session, path, request headers, body and
        // response headers end; the scenario's name follows.
        let mut ends = [
            method.len(),
            text.session.len(),
            text.path.len(),
            text.headers_len,
            text.body.len(),
            Record::packed_len(text.response_headers),
            text.response_body.len(),
        ];
        for i in 1..ends.len() {
            ends[i] += ends[i - 1];
        }
        debug_assert_eq!(text.headers_len, Record::packed_len(text.headers));
        let len = ends[6] + scenario.len();
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let slot = guard.session(text.session);
        let Entries {
            list,
            counters,
            dropped_total,
            seq,
            ..
        } = &mut *guard;
        *seq += 1;
        let owner = &mut counters[slot];
        owner.kept += 1;
        if owner.kept > self.limits.per_session {
            // When every kept entry is the session's, its oldest is the
            // first, found without reading any.
            let index = if owner.kept - 1 == list.len() {
                Some(0)
            } else {
                list.iter().position(|x| x.session == slot)
            };
            if let Some(index) = index {
                if index == 0 {
                    list.pop_front();
                } else {
                    list.remove(index);
                }
                owner.kept -= 1;
                owner.dropped += 1;
                *dropped_total += 1;
            }
        }
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(method);
        out.extend_from_slice(text.session.as_bytes());
        out.extend_from_slice(text.path.as_bytes());
        Record::pack_into(text.headers, &mut out);
        out.extend_from_slice(text.body);
        Record::pack_into(text.response_headers, &mut out);
        out.extend_from_slice(text.response_body);
        out.extend_from_slice(scenario);
        debug_assert_eq!(out.len(), len);
        list.push_back(Kept {
            seq: *seq,
            session: slot,
            time: record.time,
            route: record.route,
            refusal: record.refusal,
            text: out.into_boxed_slice(),
            ends,
            has_scenario: record.scenario.is_some(),
            step: record.step,
            status: record.status,
            fault: record.fault,
            body_truncated: record.body_truncated,
        });
        while list.len() > self.limits.total {
            let Some(oldest) = list.pop_front() else {
                break;
            };
            let owner = &mut counters[oldest.session];
            owner.kept -= 1;
            owner.dropped += 1;
            *dropped_total += 1;
        }
    }

    /// Whether the journal has entries (kept or dropped) of `session`.
    pub fn has_session(&self, session: &str) -> bool {
        let e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        e.sessions.contains_key(session)
    }

    /// The entries of one session, or of all, oldest first.
    pub fn view(&self, session: Option<&str>) -> JournalView {
        self.page(session, 0, usize::MAX)
    }

    /// At most `limit` entries of one session, or of all, with a `seq`
    /// after `after`, oldest first; `next` says where the next page starts.
    pub fn page(&self, session: Option<&str>, after: u64, limit: usize) -> JournalView {
        let e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let slot = session.map(|s| e.sessions.get(s).copied());
        let mut matching = e
            .list
            .iter()
            .filter(|x| x.seq > after && slot.is_none_or(|slot| slot == Some(x.session)));
        let requests: Vec<JournalEntry> = matching.by_ref().take(limit).map(Kept::entry).collect();
        let next = match (requests.last(), matching.next()) {
            (Some(last), Some(_)) => Some(last.seq),
            _ => None,
        };
        let dropped = match session {
            Some(s) => e
                .sessions
                .get(s)
                .map_or(0, |slot| e.counters[*slot].dropped),
            None => e.dropped_total,
        };
        JournalView {
            requests,
            dropped,
            next,
        }
    }

    /// The bodies of the newest `limit` 200 answers to `route`, of any
    /// session, newest first (generate-claim's diagnoses read the
    /// challenges the mock gave out).
    pub fn recent_answers(&self, route: Route, limit: usize) -> Vec<Vec<u8>> {
        let e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        e.list
            .iter()
            .rev()
            .filter(|x| x.route == Some(route) && x.status == 200)
            .take(limit)
            .map(|x| x.response_body().to_vec())
            .collect()
    }

    /// Forgets the entries (and drop counts) of one session, or of all.
    pub fn clear(&self, session: Option<&str>) {
        let mut e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match session {
            Some(s) => {
                if let Some(slot) = e.sessions.remove(s) {
                    e.list.retain(|x| x.session != slot);
                    e.dropped_total -= e.counters[slot].dropped;
                    e.free.push(slot);
                }
            }
            None => {
                let seq = e.seq;
                *e = Entries {
                    seq,
                    ..Entries::default()
                };
            }
        }
    }
}

/// A time as RFC 3339 UTC with milliseconds (`2026-11-27T16:24:05.123Z`).
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answered_by_and_fault_have_their_documented_json() {
        fn json<T: Serialize>(value: &T) -> String {
            serde_json::to_string(value).unwrap()
        }
        assert_eq!(json(&AnsweredBy::Real), r#""real""#);
        let step = AnsweredBy::Step {
            scenario: "slow".into(),
            step: 2,
        };
        assert_eq!(json(&step), r#"{"scenario":"slow","step":2}"#);
        assert_eq!(json(&Some(Fault::Truncated)), r#""truncated""#);
        assert_eq!(json(&None::<Fault>), "null");
    }

    /// Records an empty POST of `session`.
    fn record(journal: &Journal, session: &str) {
        let none = hyper::HeaderMap::new();
        journal.record(Record::new(
            &hyper::Method::POST,
            200,
            SystemTime::now(),
            RecordText {
                session,
                path: "/",
                headers: &none,
                headers_len: 0,
                body: b"",
                response_headers: &none,
                response_body: b"",
            },
        ));
    }

    #[test]
    fn a_record_keeps_each_part_apart_and_headers_in_order() {
        let mut headers = hyper::HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.append("x-list", "a:b".parse().unwrap());
        headers.append("x-list", "c".parse().unwrap());
        let mut response = hyper::HeaderMap::new();
        response.insert("request-id", "req_1".parse().unwrap());
        let record = Record::new(
            &hyper::Method::PUT,
            201,
            SystemTime::now(),
            RecordText {
                session: "s1",
                path: "/a?b=c",
                headers: &headers,
                headers_len: Record::packed_len(&headers),
                body: b"{\"x\":1}",
                response_headers: &response,
                response_body: b"{}",
            },
        );
        let journal = Journal::new(JournalLimits::default());
        journal.record(record);
        let entry = journal.view(None).requests.remove(0);
        assert_eq!(
            (entry.session.as_str(), entry.path.as_str()),
            ("s1", "/a?b=c")
        );
        assert_eq!((entry.method.as_str(), entry.status), ("PUT", 201));
        assert_eq!(
            entry.headers,
            [
                ("content-type".to_string(), "application/json".to_string()),
                ("x-list".to_string(), "a:b".to_string()),
                ("x-list".to_string(), "c".to_string())
            ]
        );
        assert_eq!(entry.body, "{\"x\":1}");
        assert_eq!(
            entry.response_headers,
            [("request-id".to_string(), "req_1".to_string())]
        );
    }

    fn seqs(view: &JournalView) -> Vec<u64> {
        view.requests.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn formats_utc_timestamps() {
        let at = |secs: u64, millis: u64| {
            rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_millis(secs * 1000 + millis))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_795_796_645, 123), "2026-11-27T16:24:05.123Z");
    }

    #[test]
    fn each_session_keeps_its_newest_entries() {
        let journal = Journal::new(JournalLimits {
            per_session: 2,
            total: 100,
            body_bytes: 10,
        });
        for session in ["a", "b", "a", "a", "b"] {
            record(&journal, session);
        }
        let a = journal.view(Some("a"));
        assert_eq!(seqs(&a), [3, 4]);
        assert_eq!(a.dropped, 1);
        assert_eq!(seqs(&journal.view(Some("b"))), [2, 5]);
        assert_eq!(journal.view(None).dropped, 1);
    }

    #[test]
    fn the_total_limit_drops_the_oldest_overall() {
        let journal = Journal::new(JournalLimits {
            per_session: 100,
            total: 3,
            body_bytes: 10,
        });
        for session in ["a", "b", "c", "d", "a"] {
            record(&journal, session);
        }
        let all = journal.view(None);
        assert_eq!(seqs(&all), [3, 4, 5]);
        assert_eq!(all.dropped, 2);
        assert_eq!(journal.view(Some("a")).dropped, 1);
    }

    #[test]
    fn clearing_one_session_leaves_the_others() {
        let journal = Journal::new(JournalLimits::default());
        for session in ["a", "b", "a"] {
            record(&journal, session);
        }
        journal.clear(Some("a"));
        assert_eq!(seqs(&journal.view(None)), [2]);
        journal.clear(None);
        assert!(journal.view(None).requests.is_empty());
        record(&journal, "a");
        assert_eq!(
            seqs(&journal.view(None)),
            [4],
            "sequence numbers keep counting"
        );
    }

    #[test]
    fn a_session_made_after_another_is_cleared_counts_only_its_own() {
        let journal = Journal::new(JournalLimits {
            per_session: 3,
            total: 3,
            body_bytes: 10,
        });
        // The fourth entry drops a's first (the total limit).
        for session in ["a", "a", "a", "b"] {
            record(&journal, session);
        }
        assert_eq!(journal.view(Some("a")).dropped, 1);
        journal.clear(Some("a"));
        // "c" is new: none of a's entries or drops are its.
        record(&journal, "c");
        let c = journal.view(Some("c"));
        assert_eq!((seqs(&c), c.dropped), (vec![5], 0));
        assert!(journal.view(Some("a")).requests.is_empty());
        // Past the total limit, the oldest overall (b's) is dropped and
        // counted against b, not c.
        for _ in 0..2 {
            record(&journal, "c");
        }
        let b = journal.view(Some("b"));
        assert_eq!((seqs(&b), b.dropped), (vec![], 1));
        let c = journal.view(Some("c"));
        assert_eq!((seqs(&c), c.dropped), (vec![5, 6, 7], 0));
        assert_eq!(journal.view(None).dropped, 1);
    }

    /// Records a PUT of `session` whose body is `size` copies of a letter
    /// picked by `seq` (and, for every third `seq`, a scenario), and returns
    /// the body.
    fn record_sized(journal: &Journal, session: &str, seq: usize, size: usize) -> String {
        let none = hyper::HeaderMap::new();
        let body = char::from(b'a' + (seq % 26) as u8).to_string().repeat(size);
        let scenario = format!("scenario-{seq}");
        let mut record = Record::new(
            &hyper::Method::PUT,
            201,
            SystemTime::now(),
            RecordText {
                session,
                path: "/p",
                headers: &none,
                headers_len: 0,
                body: body.as_bytes(),
                response_headers: &none,
                response_body: b"",
            },
        );
        if seq.is_multiple_of(3) {
            record.scenario = Some(&scenario);
            record.step = Some(seq);
        }
        journal.record(record);
        body
    }

    /// Records `count` requests, the session of each picked by `session_of`,
    /// checking now and then that the journal holds each session's last
    /// `per_session` entries, every one whole.
    fn record_and_check(count: usize, per_session: usize, session_of: fn(usize) -> &'static str) {
        let journal = Journal::new(JournalLimits {
            per_session,
            total: 100_000,
            body_bytes: 100_000,
        });
        let mut expected: Vec<(&str, String)> = Vec::new();
        for seq in 1..=count {
            // Mostly small bodies, now and then one larger than the first ring.
            let size = if seq % 701 == 0 {
                70_000
            } else {
                seq * 37 % 900
            };
            let body = record_sized(&journal, session_of(seq), seq, size);
            expected.push((session_of(seq), body));
            if seq % 97 != 0 && seq < count - 10 {
                continue;
            }
            let mut want: Vec<u64> = Vec::new();
            for session in ["quiet", "busy"] {
                let all: Vec<u64> = (1..=seq as u64)
                    .filter(|s| expected[*s as usize - 1].0 == session)
                    .collect();
                want.extend(&all[all.len().saturating_sub(per_session)..]);
            }
            want.sort();
            let view = journal.view(None);
            assert_eq!(seqs(&view), want, "after {seq}");
            for entry in &view.requests {
                let (session, body) = &expected[entry.seq as usize - 1];
                assert_eq!((entry.session.as_str(), &entry.body), (*session, body));
                assert_eq!((entry.method.as_str(), entry.path.as_str()), ("PUT", "/p"));
                let scenario = entry
                    .seq
                    .is_multiple_of(3)
                    .then(|| format!("scenario-{}", entry.seq));
                assert_eq!(entry.scenario, scenario);
            }
        }
    }

    #[test]
    fn one_busy_session_drops_its_oldest_and_its_entries_read_back_whole() {
        record_and_check(3_000, 30, |_| "busy");
    }

    #[test]
    fn a_busy_session_dropping_from_the_middle_leaves_entries_whole() {
        // A quiet session keeps its first entries at the front while a busy
        // one drops its oldest from the middle.
        record_and_check(
            3_000,
            40,
            |seq| if seq % 500 == 1 { "quiet" } else { "busy" },
        );
    }
}
