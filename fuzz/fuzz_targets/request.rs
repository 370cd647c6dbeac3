//! Arbitrary method, path, headers and body through the router, the
//! control API and every check, without sockets.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use persona_mock::testing::{RequestBody, State, respond};
use persona_mock::{JournalLimits, Settings, SystemClock};
use std::sync::{Arc, OnceLock};

fn app() -> &'static State {
    static APP: OnceLock<State> = OnceLock::new();
    APP.get_or_init(|| {
        // A small journal keeps journal reads (which format every entry) fast.
        let journal = JournalLimits { per_session: 20, total: 100, body_bytes: 256 };
        let settings = Settings {
            seed: Some(1),
            strict: true,
            journal: Some(journal),
            ..Settings::default()
        };
        State::new(&settings, Arc::new(SystemClock::new())).expect("the defaults load")
    })
}

fuzz_target!(|data: &[u8]| {
    // Layout: method line, path line, header lines ("name: value"), a blank
    // line, then the body; anything unparsable is dropped, as hyper would.
    let mut parts = data.splitn(2, |b| *b == 0);
    let head = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let mut lines = head.split(|b| *b == b'\n');
    let method = lines.next().unwrap_or_default();
    let path = lines.next().unwrap_or_default();
    let mut request = hyper::Request::builder()
        .method(hyper::Method::from_bytes(method).unwrap_or(hyper::Method::POST))
        .uri(
            std::str::from_utf8(path)
                .ok()
                .and_then(|p| p.parse::<hyper::Uri>().ok())
                .unwrap_or_else(|| "/api/privacy/v1/relays/challenge".parse().unwrap()),
        );
    for line in lines {
        if let Some(colon) = line.iter().position(|b| *b == b':') {
            let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
            if let (Ok(name), Ok(value)) = (
                hyper::header::HeaderName::from_bytes(name),
                hyper::header::HeaderValue::from_bytes(value),
            ) {
                request = request.header(name, value);
            }
        }
    }
    let Ok(request) = request.body(()) else {
        return;
    };
    let (parts, ()) = request.into_parts();
    let answer = respond(app(), &parts, RequestBody::Complete(Bytes::copy_from_slice(body)));
    let status = answer.response.status();
    assert!(status.as_u16() >= 200, "{status}");
    if !status.is_success() && status != hyper::StatusCode::NO_CONTENT {
        let body: serde_json_check::Envelope = serde_json_check::parse(answer.response.body());
        assert!(!body.0.is_empty(), "an error without an error object");
    }
});

/// Checks that an error body is Persona's envelope.
mod serde_json_check {
    pub struct Envelope(pub Vec<String>);

    pub fn parse(body: &[u8]) -> Envelope {
        let text = std::str::from_utf8(body).expect("error bodies are UTF-8");
        assert!(
            text.starts_with("{\"errors\":[{\"title\":\""),
            "not Persona's envelope: {text}"
        );
        Envelope(
            text.split("\"title\":")
                .skip(1)
                .map(str::to_string)
                .collect(),
        )
    }
}
