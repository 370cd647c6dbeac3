//! The request journal: what clients sent and what the mock answered, kept
//! per session and bounded (per session and overall, oldest dropped first)
//! so memory stays flat under load.

use crate::ids::FnvBuild;
use crate::scenario::Fault;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

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
    /// The session the request belonged to.
    pub session: String,
    /// The HTTP method.
    pub method: String,
    /// The path and query as sent.
    pub path: String,
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
}

/// What the journal stores per request: owned and compact (its text in
/// one allocation), formatted into a [`JournalEntry`] only when read.
#[derive(Clone, Debug)]
pub struct Record {
    /// Set by the journal.
    pub seq: u64,
    /// The session's number in the journal, set by the journal: evictions
    /// compare it instead of reading the (long untouched) text.
    session_id: u64,
    /// When the request was answered.
    pub time: SystemTime,
    /// The method.
    pub method: hyper::Method,
    /// Whether the body was cut (or not read at all).
    pub body_truncated: bool,
    /// The scenario in force.
    pub scenario: Option<String>,
    /// The step that answered, from 1.
    pub step: Option<usize>,
    /// The status answered.
    pub status: u16,
    /// A scripted fault.
    pub fault: Option<Fault>,
    /// The session, the path and query, the request headers, the body (cut
    /// to the limit) and the response headers, one after another; headers
    /// packed as `name:value\n` lines (names cannot hold ':' and values
    /// cannot hold '\n').
    text: Box<[u8]>,
    /// Where the session, path, request headers and body end in `text`.
    ends: [usize; 4],
}

/// The parts of a request and its answer a [`Record`] keeps as text.
pub struct RecordText<'a> {
    /// The session.
    pub session: &'a str,
    /// The path and query.
    pub path: &'a str,
    /// The request headers.
    pub headers: &'a hyper::HeaderMap,
    /// The request body, already cut to the limit.
    pub body: &'a [u8],
    /// The response headers.
    pub response_headers: &'a hyper::HeaderMap,
}

impl Record {
    /// A record of `text`, answered now with `status`; the journal sets
    /// `seq`, the caller the scenario fields.
    pub fn new(method: hyper::Method, status: u16, text: RecordText<'_>) -> Record {
        let packed = |headers: &hyper::HeaderMap| {
            headers
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len() + 2)
                .sum::<usize>()
        };
        let mut out = Vec::with_capacity(
            text.session.len()
                + text.path.len()
                + packed(text.headers)
                + text.body.len()
                + packed(text.response_headers),
        );
        out.extend_from_slice(text.session.as_bytes());
        let session_end = out.len();
        out.extend_from_slice(text.path.as_bytes());
        let path_end = out.len();
        Record::pack_into(text.headers, &mut out);
        let headers_end = out.len();
        out.extend_from_slice(text.body);
        let body_end = out.len();
        Record::pack_into(text.response_headers, &mut out);
        Record {
            seq: 0,
            session_id: 0,
            time: SystemTime::now(),
            method,
            body_truncated: false,
            scenario: None,
            step: None,
            status,
            fault: None,
            text: out.into_boxed_slice(),
            ends: [session_end, path_end, headers_end, body_end],
        }
    }

    /// The session.
    pub fn session(&self) -> &str {
        std::str::from_utf8(&self.text[..self.ends[0]]).unwrap_or_default()
    }

    fn path(&self) -> &str {
        std::str::from_utf8(&self.text[self.ends[0]..self.ends[1]]).unwrap_or_default()
    }

    /// Packs a header map as `name:value\n` lines.
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

    /// The entry as the control API shows it.
    pub fn entry(&self) -> JournalEntry {
        let since = self.time.duration_since(UNIX_EPOCH).unwrap_or_default();
        JournalEntry {
            seq: self.seq,
            time: rfc3339(since.as_secs(), since.subsec_millis()),
            session: self.session().to_string(),
            method: self.method.to_string(),
            path: self.path().to_string(),
            headers: Record::unpack(&self.text[self.ends[1]..self.ends[2]]),
            body: String::from_utf8_lossy(&self.text[self.ends[2]..self.ends[3]]).into_owned(),
            body_truncated: self.body_truncated,
            scenario: self.scenario.clone(),
            answered_by: match (&self.scenario, self.step) {
                (Some(scenario), Some(step)) => AnsweredBy::Step {
                    scenario: scenario.clone(),
                    step,
                },
                _ => AnsweredBy::Real,
            },
            status: self.status,
            fault: self.fault,
            response_headers: Record::unpack(&self.text[self.ends[3]..]),
        }
    }
}

/// Entries and the counters that explain what is missing.
#[derive(Default)]
struct Entries {
    /// Every kept entry, oldest first.
    list: VecDeque<Record>,
    /// Sessions with kept or dropped entries.
    sessions: HashMap<String, Session, FnvBuild>,
    /// The last session number given.
    last_session_id: u64,
    /// Entries dropped overall.
    dropped_total: u64,
    /// The last sequence number given.
    seq: u64,
}

/// One session's place in the journal.
struct Session {
    /// Its number, kept in each of its records.
    id: u64,
    /// Entries kept.
    kept: usize,
    /// Entries dropped to respect the limits.
    dropped: u64,
}

/// The counters of session `name`, made (with a new number) if it has
/// none. A known session is found without allocating its key: this runs on
/// the request path.
fn session<'a>(
    sessions: &'a mut HashMap<String, Session, FnvBuild>,
    last_id: &mut u64,
    name: &str,
) -> &'a mut Session {
    if !sessions.contains_key(name) {
        *last_id += 1;
        let fresh = Session {
            id: *last_id,
            kept: 0,
            dropped: 0,
        };
        sessions.insert(name.to_owned(), fresh);
    }
    sessions.get_mut(name).expect("inserted above")
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
    pub fn record(&self, mut entry: Record) {
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let Entries {
            list,
            sessions,
            last_session_id,
            dropped_total,
            seq,
        } = &mut *guard;
        *seq += 1;
        entry.seq = *seq;
        let owner = session(sessions, last_session_id, entry.session());
        owner.kept += 1;
        entry.session_id = owner.id;
        if owner.kept > self.limits.per_session
            && let Some(index) = list.iter().position(|x| x.session_id == owner.id)
        {
            list.remove(index);
            owner.kept -= 1;
            owner.dropped += 1;
            *dropped_total += 1;
        }
        list.push_back(entry);
        while list.len() > self.limits.total {
            let Some(oldest) = list.pop_front() else {
                break;
            };
            if let Some(owner) = sessions.get_mut(oldest.session()) {
                owner.kept -= 1;
                owner.dropped += 1;
            }
            *dropped_total += 1;
        }
    }

    /// The entries of one session, or of all, oldest first.
    pub fn view(&self, session: Option<&str>) -> JournalView {
        let e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let id = session.map(|s| e.sessions.get(s).map(|s| s.id));
        let requests = e
            .list
            .iter()
            .filter(|x| id.is_none_or(|id| id == Some(x.session_id)))
            .map(Record::entry)
            .collect();
        let dropped = match session {
            Some(s) => e.sessions.get(s).map_or(0, |s| s.dropped),
            None => e.dropped_total,
        };
        JournalView { requests, dropped }
    }

    /// Forgets the entries (and drop counts) of one session, or of all.
    pub fn clear(&self, session: Option<&str>) {
        let mut e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match session {
            Some(s) => {
                if let Some(session) = e.sessions.remove(s) {
                    e.list.retain(|x| x.session_id != session.id);
                    e.dropped_total -= session.dropped;
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

/// The current time as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(since.as_secs(), since.subsec_millis())
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339(seconds: u64, millis: u32) -> String {
    let rem = seconds % 86_400;
    let (year, month, day) = crate::clock::civil_from_days((seconds / 86_400) as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
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

    fn entry(session: &str) -> Record {
        let none = hyper::HeaderMap::new();
        Record::new(
            hyper::Method::POST,
            200,
            RecordText {
                session,
                path: "/",
                headers: &none,
                body: b"",
                response_headers: &none,
            },
        )
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
            hyper::Method::PUT,
            201,
            RecordText {
                session: "s1",
                path: "/a?b=c",
                headers: &headers,
                body: b"{\"x\":1}",
                response_headers: &response,
            },
        );
        let entry = record.entry();
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
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_795_796_645, 123), "2026-11-27T16:24:05.123Z");
    }

    #[test]
    fn each_session_keeps_its_newest_entries() {
        let journal = Journal::new(JournalLimits {
            per_session: 2,
            total: 100,
            body_bytes: 10,
        });
        for session in ["a", "b", "a", "a", "b"] {
            journal.record(entry(session));
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
            journal.record(entry(session));
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
            journal.record(entry(session));
        }
        journal.clear(Some("a"));
        assert_eq!(seqs(&journal.view(None)), [2]);
        journal.clear(None);
        assert!(journal.view(None).requests.is_empty());
        journal.record(entry("a"));
        assert_eq!(
            seqs(&journal.view(None)),
            [4],
            "sequence numbers keep counting"
        );
    }
}
