//! Memory and cost at scale: `cargo bench --bench scale`.
//!
//! In one run it measures:
//! - relays: `BENCH_RELAYS` (default 1,000,000) relays created over HTTP
//!   against a persona-mock process (2 keep-alive connections, journal on),
//!   with the server's RSS before and at checkpoints, and its CPU per
//!   creation (each relay signs an RS256 session token);
//! - spent tokens: a persona-mock state in this process (the request
//!   pipeline without sockets, pinned RSA keys, token type 2) whose
//!   spent-token store is filled to 10,000, 100,000 and 1,000,000 nonces;
//!   at each level, RSS, real redemptions through the pipeline (tokens
//!   minted by this benchmark, verified by the mock: p50 and p99), and the
//!   store's own cost per spend.
//!
//! The store is filled directly (`testing::spend_random_nonces`, the same
//! `spend` a redemption calls) because minting a million real tokens takes
//! about half an hour of RSA signing on a 2-vCPU machine.

use blind_rsa_signatures::{BlindSignature, PublicKeySha384PSSDeterministic};
use bytes::Bytes;
use persona_mock::privacypass::{IssuerSecret, RsaSecret};
use persona_mock::testing::{RequestBody, State, respond, spend_random_nonces, spent_count};
use persona_mock::{Settings, SystemClock};
use rand::Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod support;

/// Prints a line of the report (see `support::publish`).
macro_rules! say {
    ($($t:tt)*) => {
        support::say(format!($($t)*))
    };
}

use support::{Connection, Server, b64, cpu_time_precise, memory, percentile, request, unb64};

const CLAIM: &str = "age_over18_verified";

fn main() {
    let relays: usize = std::env::var("BENCH_RELAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    say!("# Scale: a million relays, a million spent tokens\n");
    say!("Machine: {}\n", support::machine());
    relays_over_http(relays);
    spent_tokens_in_process();
    support::publish("scale");
}

/// Creates `total` relays over two connections; RSS at checkpoints.
fn relays_over_http(total: usize) {
    let root = env!("CARGO_MANIFEST_DIR");
    let config = temp_config(&format!(
        "[keys]\ndir = \"{root}/fixtures/keys\"\n[rate-limit]\nlimit = 100000000\n"
    ));
    let server = Server::mock(&["--config", config.to_str().unwrap()]);
    let pid = server.child.id();
    say!("## Relays created over HTTP\n");
    say!("Relay store cap: 100,000 (the oldest dropped past it). 2 keep-alive connections.\n");
    say!(
        "| relays created | server RSS | server peak RSS | server CPU per creation | creations/s |"
    );
    say!("|---|---|---|---|---|");
    let (rss, peak) = memory(pid);
    say!("| 0 | {} | {} | – | – |", kib(rss), kib(peak));
    let body = json!({"claim-type": CLAIM, "encryption-key-pem": null}).to_string();
    let bytes = request("/api/privacy/v1/relays", &[], &body);
    let mut done = 0;
    for checkpoint in [10_000, 100_000, 250_000, 500_000, 1_000_000, total] {
        let checkpoint = checkpoint.min(total);
        if checkpoint <= done {
            continue;
        }
        let cpu = cpu_time_precise(pid);
        let start = Instant::now();
        send_many(&server, &bytes, checkpoint - done, 201);
        let elapsed = start.elapsed();
        let cpu = cpu_time_precise(pid).saturating_sub(cpu);
        let n = (checkpoint - done) as u32;
        done = checkpoint;
        let (rss, peak) = memory(pid);
        say!(
            "| {} | {} | {} | {:.0} µs | {:.0} |",
            thousands(done),
            kib(rss),
            kib(peak),
            (cpu / n).as_secs_f64() * 1e6,
            f64::from(n) / elapsed.as_secs_f64()
        );
    }
    say!("");
}

/// Sends the same request `n` times over two connections.
fn send_many(server: &Server, bytes: &[u8], n: usize, status: u16) {
    let left = Arc::new(AtomicUsize::new(n));
    std::thread::scope(|scope| {
        for _ in 0..2 {
            let left = left.clone();
            scope.spawn(move || {
                let mut connection = Connection::open(server.address);
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(1))
                    .is_ok()
                {
                    connection.expect(bytes, status);
                }
            });
        }
    });
}

/// Redemptions with the spent-token store at 10k, 100k and 1M nonces.
fn spent_tokens_in_process() {
    let root = env!("CARGO_MANIFEST_DIR");
    let config = temp_config(&format!(
        "token-type = 2\n[keys]\ndir = \"{root}/fixtures/keys-rsa\"\n[rate-limit]\nlimit = 100000000\n"
    ));
    let settings = Settings::from_file(&config).expect("the benchmark's config loads");
    let state = State::new(&settings, Arc::new(SystemClock::new())).unwrap();
    let pem = std::fs::read_to_string(format!("{root}/fixtures/keys-rsa/production/{CLAIM}.pem"))
        .unwrap();
    let secret = IssuerSecret::rsa(RsaSecret::from_pem(&pem).unwrap()).unwrap();
    let (_, relay) = call(
        &state,
        "/api/privacy/v1/relays",
        &[],
        &json!({"claim-type": CLAIM, "encryption-key-pem": null}).to_string(),
    );
    let path = format!(
        "/api/privacy/v1/relays/{}/generate-claim",
        relay["relay-token"].as_str().unwrap()
    );
    let relay_secret = relay["relay-secret"].as_str().unwrap().to_string();
    let per_level = 300;

    say!("## Redemptions as spent tokens pile up\n");
    say!(
        "In process: the request pipeline without sockets (journal on), token type 2 with pinned keys. Spent-token store: at least the last 1,000,000 kept, at most 2,000,000. {per_level} real redemptions per level (RSASSA-PSS verification included); the store's own cost is 100,000 spends of fresh nonces.\n"
    );
    say!("| spent tokens | process RSS | redemption p50 | redemption p99 | store cost per spend |");
    say!("|---|---|---|---|---|");
    let (rss, _) = memory(std::process::id());
    say!("| 0 | {} | – | – | – |", kib(rss));
    for level in [10_000usize, 100_000, 1_000_000] {
        let have = spent_count(&state);
        spend_random_nonces(&state, level.saturating_sub(have), "bench");
        let tokens = mint(&state, &secret, per_level);
        let (rss, _) = memory(std::process::id());
        let mut times: Vec<Duration> = tokens
            .iter()
            .map(|token| {
                let auth = format!("PrivateToken token={}", b64(token));
                let headers = [
                    ("authorization", auth.as_str()),
                    ("persona-relay-secret", relay_secret.as_str()),
                ];
                let start = Instant::now();
                let (status, reply) = call(&state, &path, &headers, "{}");
                let took = start.elapsed();
                assert_eq!(status, 200, "{reply}");
                took
            })
            .collect();
        times.sort();
        // The store alone: spends of fresh nonces at this level (then taken
        // back out of the count for the next level by filling to it).
        let n = 100_000;
        let start = Instant::now();
        spend_random_nonces(&state, n, "bench");
        let store = start.elapsed() / n as u32;
        say!(
            "| {} | {} | {:.0} µs | {:.0} µs | {:.0} ns |",
            thousands(level),
            kib(rss),
            percentile(&times, 50).as_secs_f64() * 1e6,
            percentile(&times, 99).as_secs_f64() * 1e6,
            store.as_secs_f64() * 1e9
        );
    }
    say!("");
}

/// Mints `n` type 2 tokens for a fresh challenge: blinded and finalized by
/// this benchmark, the blind signature made with the pinned secret key.
fn mint(state: &State, secret: &IssuerSecret, n: usize) -> Vec<Vec<u8>> {
    let (_, reply) = call(
        state,
        "/api/privacy/v1/relays/challenge",
        &[],
        &json!({"claim-type": CLAIM}).to_string(),
    );
    let challenge = unb64(reply["challenge"].as_str().unwrap());
    let token_key = unb64(reply["token-key"].as_str().unwrap());
    let pk = PublicKeySha384PSSDeterministic::from_spki(&token_key).unwrap();
    (0..n)
        .map(|_| {
            let mut input = 2u16.to_be_bytes().to_vec();
            let mut nonce = [0u8; 32];
            rand::rng().fill_bytes(&mut nonce);
            input.extend_from_slice(&nonce);
            input.extend_from_slice(&Sha256::digest(&challenge));
            input.extend_from_slice(&Sha256::digest(&token_key));
            let blinding = pk.blind(&mut rand::rng(), &input).unwrap();
            let sig = secret.issue(&blinding.blind_message.0).unwrap();
            let signature = pk
                .finalize(&BlindSignature(sig), &blinding, &input)
                .unwrap();
            input.extend_from_slice(&signature.0);
            input
        })
        .collect()
}

/// One POST through the pipeline; the status and the JSON body.
fn call(state: &State, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut builder = hyper::Request::builder()
        .method("POST")
        .uri(path)
        .header("host", "127.0.0.1:9577")
        .header("content-type", "application/json")
        .header("content-length", body.len());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let parts = builder.body(()).unwrap().into_parts().0;
    let answer = respond(
        state,
        &parts,
        RequestBody::Complete(Bytes::copy_from_slice(body.as_bytes())),
    );
    let status = answer.response.status().as_u16();
    let json = serde_json::from_slice(answer.response.body()).unwrap_or(Value::Null);
    (status, json)
}

fn temp_config(text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "persona-mock-scale-bench-{}-{}.toml",
        std::process::id(),
        text.len()
    ));
    std::fs::write(&path, text).unwrap();
    path
}

fn kib(k: u64) -> String {
    format!("{:.1} MiB", k as f64 / 1024.0)
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
