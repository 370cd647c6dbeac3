//! Issuance and redemption against the crypto they do: `cargo bench --bench flow`.
//!
//! In one run on one machine it measures:
//! - the bare cryptographic operations, in this process, on as many threads
//!   as the server gets connections, with the keys the server serves: VOPRF blind evaluation with its DLEQ
//!   proof and the VOPRF output a redemption recomputes (token type 1),
//!   Blind RSA signing and RSASSA-PSS verification (token type 2);
//! - the same operations through persona-mock (`POST /api/v1/privacy-passes`
//!   and `POST …/generate-claim`, journal on), over 2 keep-alive connections
//!   (`BENCH_CONNECTIONS`):
//!   requests/s and server CPU per request, from `/proc/PID/task/*/schedstat`
//!   (nanosecond resolution).
//!
//! The overhead of HTTP and bookkeeping is server CPU per request minus the
//! bare operation. Blinding and finalizing are done by this client before
//! each measurement, never while the server is timed. `BENCH_REQUESTS`
//! (default 600) sets the requests per measurement; `PERSONA_MOCK_BIN`
//! measures another build.

use blind_rsa_signatures::{BlindSignature, PublicKeySha384PSSDeterministic};
use p384::NistP384;
use persona_mock::privacypass::{IssuerSecret, RsaSecret};
use rand::Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use voprf::{EvaluationElement, Group, Proof, VoprfClient};

mod support;

use support::{Server, cpu_time_precise, machine, post_once, read_response, request};

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
    let root = env!("CARGO_MANIFEST_DIR");
    println!("# persona-mock issuance and redemption benchmark\n");
    println!(
        "Machine: {}. {n} requests per measurement over {} keep-alive connections; bare operations in the benchmark process on as many threads.\n",
        machine(),
        connections()
    );
    println!("| operation | bare crypto | server CPU per request | overhead | requests/s |");
    println!("|---|---|---|---|---|");
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
        println!(
            "| challenge (no crypto: the HTTP floor) | – | {:.0} µs | – | {rate:.0} |",
            cpu.as_secs_f64() * 1e6
        );
    }
    for token_type in [1u16, 2] {
        let dir = match token_type {
            1 => "fixtures/keys",
            _ => "fixtures/keys-rsa",
        };
        let pem = format!("{dir}/production/{CLAIM}.pem");
        // The pinned keys, and a rate limit the measurement does not reach.
        let config = std::env::temp_dir().join(format!(
            "persona-mock-flow-bench-{}-{token_type}.toml",
            std::process::id()
        ));
        std::fs::write(
            &config,
            format!(
                "token-type = {token_type}\n[keys]\ndir = \"{root}/{dir}\"\n[rate-limit]\nlimit = 100000000\n"
            ),
        )
        .unwrap();
        let pem = std::fs::read_to_string(format!("{root}/{pem}")).unwrap();
        let secret = match token_type {
            1 => IssuerSecret::p384(
                p384::SecretKey::from_sec1_pem(&pem)
                    .or_else(|_| {
                        use p384::pkcs8::DecodePrivateKey;
                        p384::SecretKey::from_pkcs8_pem(&pem)
                    })
                    .unwrap(),
            ),
            _ => IssuerSecret::rsa(RsaSecret::from_pem(&pem).unwrap()).unwrap(),
        };
        let server = Server::mock(&["--config", config.to_str().unwrap()]);
        let issued = challenge(server.address);
        let mut clients: Vec<Blinded> = (0..n).map(|_| blind(&issued)).collect();

        // Issuance: bare, then through the server.
        let bare_issue = per_op(n, |i| {
            secret.issue(&clients[i].blinded).unwrap();
        });
        let bodies: Vec<String> = clients
            .iter()
            .map(|c| json!({"blinded-token": b64(&c.blinded), "key-id": issued.key_id}).to_string())
            .collect();
        let (issue_rate, issue_cpu, replies) = through_server(
            &server,
            "/api/v1/privacy-passes",
            &[("Authorization", "Bearer persona_sandbox_bench")],
            &bodies,
            201,
        );
        row(
            &format!("issue, type {token_type}"),
            bare_issue,
            issue_cpu,
            issue_rate,
        );

        // Redemption: finalize the tokens, then bare verification and the server.
        let tokens: Vec<Vec<u8>> = clients
            .iter_mut()
            .zip(&replies)
            .map(|(client, reply)| finalize(&issued, client, reply))
            .collect();
        let bare_verify = per_op(n, |i| {
            assert!(secret.verify(&tokens[i][..98], &tokens[i][98..]));
        });
        let relay: Value = serde_json::from_slice(body_of(&post_once(
            server.address,
            "/api/privacy/v1/relays",
            &json!({"claim-type": CLAIM, "encryption-key-pem": null}).to_string(),
        )))
        .unwrap();
        let path = format!(
            "/api/privacy/v1/relays/{}/generate-claim",
            relay["relay-token"].as_str().unwrap()
        );
        let secret_header = relay["relay-secret"].as_str().unwrap().to_string();
        let auths: Vec<String> = tokens
            .iter()
            .map(|t| format!("PrivateToken token={}", b64(t)))
            .collect();
        let (redeem_rate, redeem_cpu, _) =
            through_server_each(&server, &path, &auths, &secret_header, 200);
        row(
            &format!("redeem, type {token_type}"),
            bare_verify,
            redeem_cpu,
            redeem_rate,
        );
    }
}

fn row(name: &str, bare: Duration, cpu: Duration, rate: f64) {
    let overhead = cpu.as_secs_f64() / bare.as_secs_f64() - 1.0;
    println!(
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

struct Issued {
    challenge: Vec<u8>,
    token_key: Vec<u8>,
    key_id: String,
    rsa: bool,
}

fn challenge(address: SocketAddr) -> Issued {
    let reply = post_once(
        address,
        "/api/privacy/v1/relays/challenge",
        &json!({"claim-type": CLAIM}).to_string(),
    );
    let json: Value = serde_json::from_slice(body_of(&reply)).unwrap();
    let token_key = unb64(json["token-key"].as_str().unwrap());
    Issued {
        challenge: unb64(json["challenge"].as_str().unwrap()),
        rsa: token_key.len() > 200,
        token_key,
        key_id: json["token-key-id"].as_str().unwrap().to_string(),
    }
}

/// A client's blinded token input and what it needs to finalize it.
struct Blinded {
    input: Vec<u8>,
    blinded: Vec<u8>,
    voprf: Option<VoprfClient<NistP384>>,
    rsa: Option<blind_rsa_signatures::BlindingResult>,
}

fn blind(issued: &Issued) -> Blinded {
    let mut nonce = [0u8; 32];
    rand::rng().fill_bytes(&mut nonce);
    let mut input = (if issued.rsa { 2u16 } else { 1u16 })
        .to_be_bytes()
        .to_vec();
    input.extend_from_slice(&nonce);
    input.extend_from_slice(&Sha256::digest(&issued.challenge));
    input.extend_from_slice(&Sha256::digest(&issued.token_key));
    if issued.rsa {
        let pk = PublicKeySha384PSSDeterministic::from_spki(&issued.token_key).unwrap();
        let result = pk.blind(&mut rand::rng(), &input).unwrap();
        Blinded {
            blinded: result.blind_message.0.clone(),
            input,
            voprf: None,
            rsa: Some(result),
        }
    } else {
        let result = VoprfClient::<NistP384>::blind(&input, &mut rand::rng()).unwrap();
        Blinded {
            blinded: result.message.serialize().to_vec(),
            input,
            voprf: Some(result.state),
            rsa: None,
        }
    }
}

fn finalize(issued: &Issued, client: &mut Blinded, reply: &[u8]) -> Vec<u8> {
    let json: Value = serde_json::from_slice(reply).unwrap();
    let sig = unb64(json["blind-sig"].as_str().unwrap());
    let mut token = client.input.clone();
    if let Some(result) = &client.rsa {
        let pk = PublicKeySha384PSSDeterministic::from_spki(&issued.token_key).unwrap();
        let signature = pk
            .finalize(&BlindSignature(sig), result, &client.input)
            .unwrap();
        token.extend_from_slice(&signature.0);
    } else {
        let element = EvaluationElement::<NistP384>::deserialize(&sig[..49]).unwrap();
        let proof = Proof::<NistP384>::deserialize(&sig[49..]).unwrap();
        let point = p384::PublicKey::from_sec1_bytes(&issued.token_key[23..]).unwrap();
        let compressed = p384::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&point, true);
        let pk = NistP384::deserialize_elem(compressed.as_bytes()).unwrap();
        let output = client
            .voprf
            .as_ref()
            .unwrap()
            .finalize(&client.input, &element, &proof, pk)
            .unwrap();
        token.extend_from_slice(&output);
    }
    token
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
                let stream = TcpStream::connect(address).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                chunk
                    .into_iter()
                    .map(|(i, bytes)| {
                        writer.write_all(&bytes).unwrap();
                        let (got, body) = read_response(&mut reader);
                        assert_eq!(got, status, "{}", String::from_utf8_lossy(&body));
                        (i, body)
                    })
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

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .unwrap()
}
