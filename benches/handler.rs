//! The handler's own cost, without sockets or hyper: `cargo bench --bench handler`.
//! Calls the request pipeline (`respond`) in a loop for a real challenge and for a scripted
//! error, with the journal on and off, and prints the time per request. The
//! configurations take turns over several rounds and each figure is the median of its
//! rounds, so a burst of load on a shared machine moves one round, not the result.
//! 840,000 calls in all: what `valgrind --tool=callgrind` counts (see BENCHMARKS.md).
//! `BENCH_ONLY=TEXT` runs only the configurations whose label contains TEXT (to profile
//! one, e.g. `BENCH_ONLY="challenge, journal on"`).

use bytes::Bytes;
use persona_mock::testing::{RequestBody, State, respond};
use persona_mock::{Settings, SystemClock};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

/// Prints a line of the report (see `support::publish`).
macro_rules! say {
    ($($t:tt)*) => {
        support::say(format!($($t)*))
    };
}

/// Rounds per configuration, and timed calls per round.
const ROUNDS: usize = 5;
const CALLS: u32 = 40_000;

fn main() {
    say!("# The request pipeline alone, without sockets\n");
    say!(
        "Machine: {}. The pipeline (`respond`) called in a loop for a real challenge and a scripted 403, journal on and off: 10,000 warm-up calls each, then {ROUNDS} rounds of {CALLS} timed calls, the configurations taking turns; medians of the rounds.\n",
        support::machine()
    );
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let configurations = [
        ("real challenge, journal on", Settings::default()),
        (
            "real challenge, journal off",
            Settings {
                journal: None,
                ..Settings::default()
            },
        ),
        (
            "scripted 403, journal on",
            Settings {
                scenario: Some("forbidden".into()),
                ..Settings::default()
            },
        ),
        (
            "scripted 403, journal off",
            Settings {
                scenario: Some("forbidden".into()),
                journal: None,
                ..Settings::default()
            },
        ),
    ];
    let configurations: Vec<(&str, Settings)> = configurations
        .into_iter()
        .filter(|(label, _)| label.contains(only.as_str()))
        .collect();
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
    let states: Vec<State> = configurations
        .iter()
        .map(|(_, settings)| State::new(settings, Arc::new(SystemClock::new())).unwrap())
        .collect();
    for app in &states {
        for _ in 0..10_000 {
            respond(app, &parts, RequestBody::Complete(body.clone()));
        }
    }
    let mut rounds: Vec<Vec<Duration>> = vec![Vec::new(); states.len()];
    for _ in 0..ROUNDS {
        for (app, times) in states.iter().zip(&mut rounds) {
            let start = Instant::now();
            for _ in 0..CALLS {
                std::hint::black_box(respond(app, &parts, RequestBody::Complete(body.clone())));
            }
            times.push(start.elapsed() / CALLS);
        }
    }
    say!("| configuration | time per request (median) | fastest round | slowest round |");
    say!("|---|---|---|---|");
    for ((label, _), times) in configurations.iter().zip(&mut rounds) {
        times.sort();
        say!(
            "| {label} | {:.2} µs | {:.2} µs | {:.2} µs |",
            micros(times[times.len() / 2]),
            micros(times[0]),
            micros(times[times.len() - 1])
        );
    }
    support::publish("handler");
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
