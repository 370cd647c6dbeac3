//! Issuance and redemption against the crypto they do: `cargo bench --bench flow`.
//!
//! In one run on one machine it measures:
//! - the bare cryptographic operations, in this process, on as many threads
//!   as the server gets connections, with the keys the server serves: VOPRF
//!   blind evaluation with its DLEQ proof and the VOPRF output a redemption
//!   recomputes (token type 1), Blind RSA signing and RSASSA-PSS
//!   verification (token type 2 and the `persona-sdk` profile);
//! - the same operations through persona-mock (`POST /api/v1/privacy-passes`
//!   and `POST …/generate-claim`, journal on), over 2 keep-alive connections
//!   (`BENCH_CONNECTIONS`): requests/s and server CPU per request, from
//!   `/proc/PID/task/*/schedstat` (nanosecond resolution);
//! - complete Relay flows (create, challenge, blind, issue, finalize,
//!   redeem) per second for each kind of token, with each server step's
//!   p50 and p99;
//! - challenge latency alone and while type 1 issuance keeps the server's
//!   cores busy (crypto runs inline on the runtime's workers).
//!
//! The overhead of HTTP and bookkeeping is server CPU per request minus the
//! bare operation. Blinding and finalizing are done by this client before
//! each measurement, never while the server is timed (except in the full
//! flows, where the client's work is part of a flow). `BENCH_REQUESTS`
//! (default 600) sets the requests per measurement (a quarter as many full
//! flows); `PERSONA_MOCK_BIN` measures another build.

use blind_rsa_signatures::{BlindSignature, PublicKeySha384PSSDeterministic};
use p384::NistP384;
use persona_mock::privacypass::{IssuerSecret, RsaSecret};
use rand::Rng;
use rsa::pkcs8::DecodePublicKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use voprf::{EvaluationElement, Group, Proof, VoprfClient};

mod support;

/// Prints a line of the report (see `support::publish`).
macro_rules! say {
    ($($t:tt)*) => {
        support::say(format!($($t)*))
    };
}

use support::{
    Connection, Server, b64, cpu_time_precise, machine, percentile, post_once, request, unb64,
};

const CLAIM: &str = "age_over18_verified";
/// Keep-alive connections (`BENCH_CONNECTIONS`, default 2).
fn connections() -> usize {
    std::env::var("BENCH_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

fn main() {
    let n: usize = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    say!("# Issuance, redemption and full Relay flows\n");
    say!(
        "Machine: {}. {n} requests per measurement over {} keep-alive connections; bare operations in the benchmark process on as many threads.\n",
        machine(),
        connections()
    );
    say!("| operation | bare crypto | server CPU per request | overhead | requests/s |");
    say!("|---|---|---|---|---|");
    {
        // The cost of a request that does no crypto, as a floor for the rest.
        let server = Server::mock(&[]);
        let body = json!({"claim-type": CLAIM}).to_string();
        let bodies = vec![body; n.max(2000)];
        let (rate, cpu, _) = through_server(
            &server,
            "/api/privacy/v1/relays/challenge",
            &[],
            &bodies,
            200,
        );
        say!(
            "| challenge (no crypto: the HTTP floor) | – | {:.0} µs | – | {rate:.0} |",
            cpu.as_secs_f64() * 1e6
        );
    }
    for kind in [Kind::Voprf, Kind::Rsa, Kind::Sdk] {
        let server = kind.server("flow");
        let secret = kind.secret();
        let issued = challenge(server.address);
        let mut clients: Vec<Blinded> = (0..n).map(|_| blind(&issued)).collect();

        // Issuance: bare, then through the server.
        let bare_issue = per_op(n, |i| {
            secret.issue(&clients[i].blinded).unwrap();
        });
        let bodies: Vec<String> = clients.iter().map(|c| issue_body(&issued, c)).collect();
        let (issue_rate, issue_cpu, replies) = through_server(
            &server,
            "/api/v1/privacy-passes",
            &[("Authorization", "Bearer persona_sandbox_bench")],
            &bodies,
            201,
        );
        row(
            &format!("issue, {}", kind.name()),
            bare_issue,
            issue_cpu,
            issue_rate,
        );

        // Redemption: finalize the tokens, then bare verification and the server.
        let tokens: Vec<Token> = clients
            .iter_mut()
            .zip(&replies)
            .map(|(client, reply)| finalize(&issued, client, reply))
            .collect();
        let bare_verify = per_op(n, |i| {
            assert!(secret.verify(&tokens[i].input, &tokens[i].authenticator));
        });
        let relay = create_relay(server.address);
        let path = format!("/api/privacy/v1/relays/{}/generate-claim", relay.token);
        let auths: Vec<String> = tokens
            .iter()
            .map(|t| format!("PrivateToken token={}", b64(&t.wire)))
            .collect();
        let (redeem_rate, redeem_cpu, _) =
            through_server_each(&server, &path, &auths, &relay.secret, 200);
        row(
            &format!("redeem, {}", kind.name()),
            bare_verify,
            redeem_cpu,
            redeem_rate,
        );
    }
    say!("");
    full_flows(n / 4);
    crypto_beside_challenges();
    support::publish("flow");
}

/// The three ways a token is made: what the server is started with, the
/// secret key it serves (pinned, from `fixtures/`), and how a client
/// blinds and finalizes.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Token type 1, `reference` profile.
    Voprf,
    /// Token type 2, `reference` profile.
    Rsa,
    /// Token type 2 in Persona's deployed JSON dialect (`persona-sdk`).
    Sdk,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Voprf => "type 1 (VOPRF P-384)",
            Kind::Rsa => "type 2 (Blind RSA 2048)",
            Kind::Sdk => "persona-sdk (Blind RSA 2048, JSON token)",
        }
    }

    fn keys(self) -> &'static str {
        match self {
            Kind::Voprf => "fixtures/keys",
            _ => "fixtures/keys-rsa",
        }
    }

    /// A server with this kind's pinned keys and a rate limit no
    /// measurement reaches.
    fn server(self, tag: &str) -> Server {
        let root = env!("CARGO_MANIFEST_DIR");
        let token_type = if self == Kind::Voprf { 1 } else { 2 };
        let config = std::env::temp_dir().join(format!(
            "persona-mock-flow-bench-{}-{tag}-{token_type}.toml",
            std::process::id()
        ));
        std::fs::write(
            &config,
            format!(
                "token-type = {token_type}\n[keys]\ndir = \"{root}/{}\"\n[rate-limit]\nlimit = 100000000\n",
                self.keys()
            ),
        )
        .unwrap();
        let config = config.to_str().unwrap();
        match self {
            Kind::Sdk => Server::mock(&["--config", config, "--profile", "persona-sdk"]),
            _ => Server::mock(&["--config", config]),
        }
    }

    /// The secret key the server serves for [`CLAIM`] in production.
    fn secret(self) -> IssuerSecret {
        let root = env!("CARGO_MANIFEST_DIR");
        let pem = std::fs::read_to_string(format!("{root}/{}/production/{CLAIM}.pem", self.keys()))
            .unwrap();
        match self {
            Kind::Voprf => IssuerSecret::p384(
                p384::SecretKey::from_sec1_pem(&pem)
                    .or_else(|_| {
                        use p384::pkcs8::DecodePrivateKey;
                        p384::SecretKey::from_pkcs8_pem(&pem)
                    })
                    .unwrap(),
            ),
            _ => IssuerSecret::rsa(RsaSecret::from_pem(&pem).unwrap()).unwrap(),
        }
    }
}

struct Relay {
    token: String,
    secret: String,
}

fn create_relay(address: SocketAddr) -> Relay {
    let relay: Value = serde_json::from_slice(body_of(&post_once(
        address,
        "/api/privacy/v1/relays",
        &json!({"claim-type": CLAIM, "encryption-key-pem": null}).to_string(),
    )))
    .unwrap();
    Relay {
        token: relay["relay-token"].as_str().unwrap().to_string(),
        secret: relay["relay-secret"].as_str().unwrap().to_string(),
    }
}

/// Complete Relay flows, each as a client runs it: create a relay, get a
/// challenge, blind, issue, finalize, redeem. Flows per second and each
/// server step's latency (the client's blinding and finalizing run between
/// steps, on the same cores as the server).
fn full_flows(flows: usize) {
    say!("## Full Relay flows\n");
    say!(
        "{flows} flows per kind from {} client threads, each running flows one after another, each flow on its own keep-alive connection.\n",
        connections()
    );
    say!(
        "| token | flows/s | create p50 / p99 | challenge p50 / p99 | issue p50 / p99 | redeem p50 / p99 |"
    );
    say!("|---|---|---|---|---|---|");
    for kind in [Kind::Voprf, Kind::Rsa, Kind::Sdk] {
        let server = kind.server("full");
        let address = server.address;
        let per = flows.div_ceil(connections());
        let start = Instant::now();
        let steps: Vec<[Duration; 4]> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..connections())
                .map(|_| {
                    scope.spawn(move || (0..per).map(|_| one_flow(address)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let rate = steps.len() as f64 / start.elapsed().as_secs_f64();
        let cell = |i: usize| {
            let mut times: Vec<Duration> = steps.iter().map(|s| s[i]).collect();
            times.sort();
            format!(
                "{} / {}",
                millis(percentile(&times, 50)),
                millis(percentile(&times, 99))
            )
        };
        say!(
            "| {} | {rate:.0} | {} | {} | {} | {} |",
            kind.name(),
            cell(0),
            cell(1),
            cell(2),
            cell(3)
        );
    }
    say!("");
}

/// One flow on one keep-alive connection; each step's latency.
fn one_flow(address: SocketAddr) -> [Duration; 4] {
    let mut connection = Connection::open(address);
    let mut step = |path: &str, headers: &[(&str, &str)], body: &str, status: u16| {
        let bytes = request(path, headers, body);
        let start = Instant::now();
        let reply = connection.expect(&bytes, status);
        (start.elapsed(), reply)
    };
    let create_body = json!({"claim-type": CLAIM, "encryption-key-pem": null}).to_string();
    let (create, reply) = step("/api/privacy/v1/relays", &[], &create_body, 201);
    let relay: Value = serde_json::from_slice(&reply).unwrap();
    let challenge_body = json!({"claim-type": CLAIM}).to_string();
    let (challenge_took, reply) = step(
        "/api/privacy/v1/relays/challenge",
        &[],
        &challenge_body,
        200,
    );
    let issued = Issued::from_reply(&reply);
    let mut client = blind(&issued);
    let (issue, reply) = step(
        "/api/v1/privacy-passes",
        &[("Authorization", "Bearer persona_sandbox_bench")],
        &issue_body(&issued, &client),
        201,
    );
    let token = finalize(&issued, &mut client, &reply);
    let auth = format!("PrivateToken token={}", b64(&token.wire));
    let path = format!(
        "/api/privacy/v1/relays/{}/generate-claim",
        relay["relay-token"].as_str().unwrap()
    );
    let (redeem, _) = step(
        &path,
        &[
            ("Authorization", &auth),
            (
                "Persona-Relay-Secret",
                relay["relay-secret"].as_str().unwrap(),
            ),
        ],
        "{}",
        200,
    );
    [create, challenge_took, issue, redeem]
}

/// What inline crypto costs other requests: challenge latency on one
/// connection alone, then while two connections keep type 1 issuance busy
/// (crypto runs on the runtime's worker threads; see BENCHMARKS.md).
fn crypto_beside_challenges() {
    say!("## Challenges beside issuance\n");
    let server = Kind::Voprf.server("beside");
    let issued = challenge(server.address);
    let body = issue_body(&issued, &blind(&issued));
    let address = server.address;
    let challenges = |seconds: f64| {
        let mut connection = Connection::open(address);
        let bytes = request(
            "/api/privacy/v1/relays/challenge",
            &[],
            &json!({"claim-type": CLAIM}).to_string(),
        );
        let mut times = Vec::new();
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < seconds {
            let t = Instant::now();
            connection.expect(&bytes, 200);
            times.push(t.elapsed());
        }
        times.sort();
        (percentile(&times, 50), percentile(&times, 99))
    };
    let alone = challenges(2.0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let beside = std::thread::scope(|scope| {
        for _ in 0..2 {
            let stop = &stop;
            let body = &body;
            scope.spawn(move || {
                let mut connection = Connection::open(address);
                let bytes = request(
                    "/api/v1/privacy-passes",
                    &[("Authorization", "Bearer persona_sandbox_bench")],
                    body,
                );
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    connection.expect(&bytes, 201);
                }
            });
        }
        std::thread::sleep(Duration::from_millis(200));
        let measured = challenges(3.0);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        measured
    });
    say!("| challenge latency | p50 | p99 |");
    say!("|---|---|---|");
    say!(
        "| alone, 1 connection | {} | {} |",
        millis(alone.0),
        millis(alone.1)
    );
    say!(
        "| while 2 connections keep type 1 issuance busy | {} | {} |\n",
        millis(beside.0),
        millis(beside.1)
    );
}

fn millis(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.0} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }
}

fn row(name: &str, bare: Duration, cpu: Duration, rate: f64) {
    let overhead = cpu.as_secs_f64() / bare.as_secs_f64() - 1.0;
    say!(
        "| {name} | {:.0} µs | {:.0} µs | {:+.0}% | {rate:.0} |",
        bare.as_secs_f64() * 1e6,
        cpu.as_secs_f64() * 1e6,
        overhead * 100.0
    );
}

/// Time per call of `op(i)` for `i` in `0..n`, with the calls split over as
/// many threads as the server gets connections (so both run under the same
/// contention for the cores): each thread is busy for the whole wall time.
fn per_op(n: usize, op: impl Fn(usize) + Sync) -> Duration {
    op(0);
    let threads = connections();
    let chunk = n.div_ceil(threads);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let op = &op;
            scope.spawn(move || (t * chunk..((t + 1) * chunk).min(n)).for_each(op));
        }
    });
    start.elapsed() * threads as u32 / n as u32
}

/// A challenge as a client received it.
struct Issued {
    /// The challenge's bytes (for `persona-sdk`, its JSON).
    challenge: Vec<u8>,
    token_key: Vec<u8>,
    key_id: String,
    kind: Kind,
}

impl Issued {
    fn from_reply(reply: &[u8]) -> Issued {
        let json: Value = serde_json::from_slice(reply).unwrap();
        let token_key = unb64(json["token-key"].as_str().unwrap());
        let challenge = unb64(json["challenge"].as_str().unwrap());
        let kind = if challenge.first() == Some(&b'{') {
            Kind::Sdk
        } else if token_key.len() > 200 {
            Kind::Rsa
        } else {
            Kind::Voprf
        };
        Issued {
            challenge,
            token_key,
            key_id: json["token-key-id"].as_str().unwrap().to_string(),
            kind,
        }
    }

    fn rsa_key(&self) -> PublicKeySha384PSSDeterministic {
        match self.kind {
            // An rsaEncryption SPKI, as Persona's SDK parses it.
            Kind::Sdk => PublicKeySha384PSSDeterministic::new(
                rsa::RsaPublicKey::from_public_key_der(&self.token_key).unwrap(),
            ),
            _ => PublicKeySha384PSSDeterministic::from_spki(&self.token_key).unwrap(),
        }
    }
}

fn challenge(address: SocketAddr) -> Issued {
    let reply = post_once(
        address,
        "/api/privacy/v1/relays/challenge",
        &json!({"claim-type": CLAIM}).to_string(),
    );
    Issued::from_reply(body_of(&reply))
}

/// A client's blinded token input and what it needs to finalize it.
struct Blinded {
    input: Vec<u8>,
    blinded: Vec<u8>,
    /// `persona-sdk`: the hex nonce the token carries.
    nonce: String,
    voprf: Option<VoprfClient<NistP384>>,
    rsa: Option<blind_rsa_signatures::BlindingResult>,
}

/// A finalized token: what the issuer signed or evaluated, its
/// authenticator, and the bytes sent in `PrivateToken token=`.
struct Token {
    input: Vec<u8>,
    authenticator: Vec<u8>,
    wire: Vec<u8>,
}

fn blind(issued: &Issued) -> Blinded {
    let mut nonce = [0u8; 32];
    rand::rng().fill_bytes(&mut nonce);
    let hex_nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
    let input = match issued.kind {
        Kind::Sdk => {
            // The SDK's hashed input: its nonce, MAC and key id, each hashed.
            let parsed: Value = serde_json::from_slice(&issued.challenge).unwrap();
            let mut input = vec![0u8, 2];
            input.extend_from_slice(&Sha256::digest(hex_nonce.as_bytes()));
            input.extend_from_slice(&Sha256::digest(parsed["mac"].as_str().unwrap().as_bytes()));
            input.extend_from_slice(&Sha256::digest(issued.key_id.as_bytes()));
            input
        }
        kind => {
            let mut input = (if kind == Kind::Rsa { 2u16 } else { 1u16 })
                .to_be_bytes()
                .to_vec();
            input.extend_from_slice(&nonce);
            input.extend_from_slice(&Sha256::digest(&issued.challenge));
            input.extend_from_slice(&Sha256::digest(&issued.token_key));
            input
        }
    };
    if issued.kind == Kind::Voprf {
        let result = VoprfClient::<NistP384>::blind(&input, &mut rand::rng()).unwrap();
        Blinded {
            blinded: result.message.serialize().to_vec(),
            input,
            nonce: hex_nonce,
            voprf: Some(result.state),
            rsa: None,
        }
    } else {
        let result = issued.rsa_key().blind(&mut rand::rng(), &input).unwrap();
        Blinded {
            blinded: result.blind_message.0.clone(),
            input,
            nonce: hex_nonce,
            voprf: None,
            rsa: Some(result),
        }
    }
}

/// The issuance request's body, as each kind of client sends it.
fn issue_body(issued: &Issued, client: &Blinded) -> String {
    match issued.kind {
        Kind::Sdk => json!({"blindedToken": b64(&client.blinded), "keyId": issued.key_id}),
        _ => json!({"blinded-token": b64(&client.blinded), "key-id": issued.key_id}),
    }
    .to_string()
}

fn finalize(issued: &Issued, client: &mut Blinded, reply: &[u8]) -> Token {
    let json: Value = serde_json::from_slice(reply).unwrap();
    let sig = unb64(json["blind-sig"].as_str().unwrap());
    let authenticator = if let Some(result) = &client.rsa {
        issued
            .rsa_key()
            .finalize(&BlindSignature(sig), result, &client.input)
            .unwrap()
            .0
    } else {
        let element = EvaluationElement::<NistP384>::deserialize(&sig[..49]).unwrap();
        let proof = Proof::<NistP384>::deserialize(&sig[49..]).unwrap();
        let point = p384::PublicKey::from_sec1_bytes(&issued.token_key[23..]).unwrap();
        let compressed = p384::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&point, true);
        let pk = NistP384::deserialize_elem(compressed.as_bytes()).unwrap();
        client
            .voprf
            .as_ref()
            .unwrap()
            .finalize(&client.input, &element, &proof, pk)
            .unwrap()
            .to_vec()
    };
    let wire = match issued.kind {
        // The SDK's JSON token, the challenge echoed.
        Kind::Sdk => format!(
            r#"{{"token_nonce":"{}","signature":"{}","key_id":"{}","challenge":{}}}"#,
            client.nonce,
            b64(&authenticator),
            issued.key_id,
            String::from_utf8(issued.challenge.clone()).unwrap()
        )
        .into_bytes(),
        _ => [client.input.as_slice(), &authenticator].concat(),
    };
    Token {
        input: client.input.clone(),
        authenticator,
        wire,
    }
}

/// POSTs each body once, split over the connections; requests/s, server
/// CPU per request, and the response bodies in order.
fn through_server(
    server: &Server,
    path: &str,
    headers: &[(&str, &str)],
    bodies: &[String],
    status: u16,
) -> (f64, Duration, Vec<Vec<u8>>) {
    let requests: Vec<Vec<u8>> = bodies
        .iter()
        .map(|body| request(path, headers, body))
        .collect();
    run(server, requests, status)
}

/// generate-claim with each credential once.
fn through_server_each(
    server: &Server,
    path: &str,
    auths: &[String],
    secret: &str,
    status: u16,
) -> (f64, Duration, Vec<Vec<u8>>) {
    let requests: Vec<Vec<u8>> = auths
        .iter()
        .map(|auth| {
            request(
                path,
                &[("Authorization", auth), ("Persona-Relay-Secret", secret)],
                "{}",
            )
        })
        .collect();
    run(server, requests, status)
}

fn run(server: &Server, requests: Vec<Vec<u8>>, status: u16) -> (f64, Duration, Vec<Vec<u8>>) {
    let n = requests.len();
    let chunk = n.div_ceil(connections());
    let chunks: Vec<Vec<(usize, Vec<u8>)>> = requests
        .into_iter()
        .enumerate()
        .collect::<Vec<_>>()
        .chunks(chunk)
        .map(<[_]>::to_vec)
        .collect();
    let pid = server.child.id();
    let address = server.address;
    let cpu_before = cpu_time_precise(pid);
    let start = Instant::now();
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            std::thread::spawn(move || {
                let mut connection = Connection::open(address);
                chunk
                    .into_iter()
                    .map(|(i, bytes)| (i, connection.expect(&bytes, status)))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut bodies: Vec<(usize, Vec<u8>)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let elapsed = start.elapsed();
    let cpu = cpu_time_precise(pid).saturating_sub(cpu_before);
    bodies.sort_by_key(|(i, _)| *i);
    (
        n as f64 / elapsed.as_secs_f64(),
        cpu / n as u32,
        bodies.into_iter().map(|(_, b)| b).collect(),
    )
}

fn body_of(response: &[u8]) -> &[u8] {
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    &response[split + 4..]
}
