//! The handler's own cost, without sockets or hyper: `cargo bench --bench handler`.
//! Calls the request pipeline (`respond`) in a loop for a real challenge and for a scripted
//! error, with the journal on and off, and prints the time per request.

use bytes::Bytes;
use persona_mock::testing::{RequestBody, State, respond};
use persona_mock::{Settings, SystemClock};
use std::sync::Arc;
use std::time::Instant;

mod support;

/// Prints a line of the report (see `support::publish`).
macro_rules! say {
    ($($t:tt)*) => {
        support::say(format!($($t)*))
    };
}

fn main() {
    say!("# The request pipeline alone, without sockets\n");
    say!(
        "Machine: {}. The pipeline (`respond`) called in a loop: 10,000 warm-up calls, then 200,000 timed, for a real challenge and a scripted 403, journal on and off.\n",
        support::machine()
    );
    say!("| configuration | time per request |");
    say!("|---|---|");
    for (label, settings) in [
        ("journal on", Settings::default()),
        (
            "journal off",
            Settings {
                journal: None,
                ..Settings::default()
            },
        ),
        (
            "scenario forbidden",
            Settings {
                scenario: Some("forbidden".into()),
                ..Settings::default()
            },
        ),
        (
            "scenario forbidden, no journal",
            Settings {
                scenario: Some("forbidden".into()),
                journal: None,
                ..Settings::default()
            },
        ),
    ] {
        let app = State::new(&settings, Arc::new(SystemClock::new())).unwrap();
        let parts = hyper::Request::builder()
            .method("POST")
            .uri("/api/privacy/v1/relays/challenge")
            .header("host", "127.0.0.1:9577")
            .header("content-type", "application/json")
            .header("content-length", "36")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let body = Bytes::from_static(br#"{"claim-type":"age_over18_verified"}"#);
        for _ in 0..10_000 {
            respond(&app, &parts, RequestBody::Complete(body.clone()));
        }
        let n = 200_000;
        let start = Instant::now();
        for _ in 0..n {
            std::hint::black_box(respond(&app, &parts, RequestBody::Complete(body.clone())));
        }
        say!(
            "| {label} | {:.2} µs |",
            start.elapsed().as_secs_f64() * 1e6 / n as f64
        );
    }
    support::publish("handler");
}
