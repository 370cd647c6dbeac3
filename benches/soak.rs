//! The soak test: `cargo bench --bench soak` (not part of `cargo test`).
//!
//! Drives one persona-mock process for `SOAK_SECONDS` (default 60) with many
//! connections at once: valid keep-alive requests, scenario-driven sessions,
//! malformed requests (bad JSON, wrong content type, garbage request lines,
//! oversized headers, unknown paths), clients that disconnect mid-request,
//! and slow clients. Then it checks that the server still answers correctly,
//! that its RSS stayed flat, and that the journal holds what it should; last,
//! it sends SIGTERM under load and expects exit 0 within a bound. Exits 1 if
//! any check fails.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::{Server, content_length, memory, post_once};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PATH: &str = "/api/privacy/v1/relays/challenge";
const BODY: &str = r#"{"claim-type":"age_over18_verified"}"#;
const CANARY_REQUESTS: u64 = 500;

#[derive(Default)]
struct Counts {
    valid: AtomicU64,
    scripted: AtomicU64,
    malformed: AtomicU64,
    disconnects: AtomicU64,
    slow: AtomicU64,
    stalled: AtomicU64,
    failures: std::sync::Mutex<Vec<String>>,
}

impl Counts {
    fn fail(&self, what: String) {
        let mut failures = self.failures.lock().unwrap();
        if failures.len() < 20 {
            failures.push(what);
        }
    }
}

fn request(path: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Sends one request on a keep-alive connection and reads one response:
/// its status, or `None` if the connection closed first.
async fn exchange(stream: &mut TcpStream, request: &[u8], buffer: &mut Vec<u8>) -> Option<u16> {
    stream.write_all(request).await.ok()?;
    buffer.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = std::str::from_utf8(&buffer[..end]).ok()?;
        let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
        let length = content_length(head).unwrap_or(0);
        while buffer.len() < end + 4 + length {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buffer.extend_from_slice(&chunk[..n]);
        }
        return Some(status);
    }
}

/// Sends raw bytes on a fresh connection and returns the status, if any.
async fn one_shot(address: std::net::SocketAddr, raw: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(address).await.ok()?;
    let mut buffer = Vec::new();
    let sent = stream.write_all(raw).await;
    sent.ok()?;
    let mut all = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut all)).await;
    buffer.extend_from_slice(&all);
    let head = std::str::from_utf8(&buffer).ok()?;
    head.split(' ').nth(1)?.parse().ok()
}

async fn drive(address: std::net::SocketAddr, deadline: Instant, counts: Arc<Counts>) {
    let mut tasks = Vec::new();
    // Valid keep-alive clients on a handful of sessions.
    for i in 0..32 {
        let counts = counts.clone();
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(address).await.unwrap();
            let request = request(
                PATH,
                &format!("Persona-Mock-Session: soak-{}\r\n", i % 8),
                BODY,
            );
            let mut buffer = Vec::new();
            while Instant::now() < deadline {
                match exchange(&mut stream, &request, &mut buffer).await {
                    Some(200) => {
                        counts.valid.fetch_add(1, Ordering::Relaxed);
                    }
                    other => {
                        counts.fail(format!("valid request got {other:?}"));
                        stream = TcpStream::connect(address).await.unwrap();
                    }
                }
            }
        }));
    }
    // Scenario-driven sessions: each starts the script over now and then.
    for i in 0..8 {
        let counts = counts.clone();
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(address).await.unwrap();
            let request = request(
                PATH,
                &format!("Persona-Mock-Session: scripted-{i}\r\nPersona-Mock-Scenario: throttled-then-ok\r\n"),
                BODY,
            );
            let mut buffer = Vec::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                match exchange(&mut stream, &request, &mut buffer).await {
                    Some(429) | Some(200) => {
                        counts.scripted.fetch_add(1, Ordering::Relaxed);
                    }
                    other => counts.fail(format!("scripted request got {other:?}")),
                }
                n += 1;
                if n.is_multiple_of(50) {
                    let reset = format!("POST /__mock/reset?session=scripted-{i} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n");
                    if exchange(&mut stream, reset.as_bytes(), &mut buffer).await != Some(200) {
                        counts.fail("reset failed".into());
                    }
                }
            }
        }));
    }
    // Malformed requests, each on a fresh connection.
    for i in 0..8 {
        let counts = counts.clone();
        tasks.push(tokio::spawn(async move {
            let cases: Vec<(Vec<u8>, u16)> = vec![
                (request(PATH, "", "{not json"), 400),
                (format!("POST {PATH} HTTP/1.1\r\nHost: s\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}").into_bytes(), 400),
                (b"\x00\x01GARBAGE \xff\r\n\r\n".to_vec(), 400),
                (request(PATH, &format!("X-Big: {}\r\nConnection: close\r\n", "a".repeat(20_000)), BODY), 431),
                (request("/api/unknown", "Connection: close\r\n", BODY), 404),
                (request(PATH, "Key-Inflection: pascal\r\nConnection: close\r\n", BODY), 400),
            ];
            let mut n = i;
            while Instant::now() < deadline {
                let (raw, expected) = &cases[n % cases.len()];
                n += 1;
                let mut raw = raw.clone();
                if !raw.starts_with(b"\x00") && !String::from_utf8_lossy(&raw).contains("Connection: close") {
                    let text = String::from_utf8(raw).unwrap().replacen("Host: soak\r\n", "Host: soak\r\nConnection: close\r\n", 1);
                    raw = text.into_bytes();
                }
                match one_shot(address, &raw).await {
                    Some(status) if status == *expected => {
                        counts.malformed.fetch_add(1, Ordering::Relaxed);
                    }
                    other => counts.fail(format!("malformed case {} got {other:?}, expected {expected}", n % cases.len())),
                }
            }
        }));
    }
    // Clients that go away mid-request.
    for i in 0..8 {
        let counts = counts.clone();
        tasks.push(tokio::spawn(async move {
            let full = request(PATH, "", BODY);
            let mut n = i;
            while Instant::now() < deadline {
                n += 1;
                if let Ok(mut stream) = TcpStream::connect(address).await {
                    let cut = 1 + n % (full.len() - 1);
                    let _ = stream.write_all(&full[..cut]).await;
                    counts.disconnects.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }));
    }
    // Slow clients: a byte every few milliseconds, and some that stall.
    for i in 0..4 {
        let counts = counts.clone();
        tasks.push(tokio::spawn(async move {
            let full = request(PATH, "Connection: close\r\n", BODY);
            while Instant::now() < deadline {
                let Ok(mut stream) = TcpStream::connect(address).await else {
                    continue;
                };
                if i % 2 == 0 {
                    for byte in &full {
                        let _ = stream.write_all(std::slice::from_ref(byte)).await;
                        tokio::time::sleep(Duration::from_millis(3)).await;
                    }
                    let mut all = Vec::new();
                    let _ = stream.read_to_end(&mut all).await;
                    if all.starts_with(b"HTTP/1.1 200") {
                        counts.slow.fetch_add(1, Ordering::Relaxed);
                    } else {
                        counts.fail(format!(
                            "slow client got {:?}",
                            String::from_utf8_lossy(&all[..all.len().min(40)])
                        ));
                    }
                } else {
                    // Half a request, then silence: the server must drop it.
                    let _ = stream.write_all(&full[..full.len() / 2]).await;
                    let mut all = Vec::new();
                    match tokio::time::timeout(
                        Duration::from_secs(10),
                        stream.read_to_end(&mut all),
                    )
                    .await
                    {
                        Ok(_) => {
                            counts.stalled.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => counts.fail("a stalled client was held open".into()),
                    }
                }
            }
        }));
    }
    // The canary: exactly CANARY_REQUESTS requests, spread over the run.
    {
        let counts = counts.clone();
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(address).await.unwrap();
            let request = request(PATH, "Persona-Mock-Session: canary\r\n", BODY);
            let mut buffer = Vec::new();
            let pause =
                deadline.saturating_duration_since(Instant::now()) / (CANARY_REQUESTS as u32 + 1);
            for _ in 0..CANARY_REQUESTS {
                if exchange(&mut stream, &request, &mut buffer).await != Some(200) {
                    counts.fail("canary request failed".into());
                }
                tokio::time::sleep(pause).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

fn get(address: std::net::SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    )
}

fn main() {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let server = Server::mock(&[
        "--header-read-timeout-ms",
        "2000",
        "--body-read-timeout-ms",
        "2000",
    ]);
    let pid = server.child.id();
    let address = server.address;
    println!("# persona-mock soak test\n\n{seconds} s, one server process (pid {pid}).\n");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let sampler = std::thread::spawn(move || {
        let mut samples = Vec::new();
        while Instant::now() < deadline {
            samples.push((started.elapsed().as_secs(), memory(pid).0));
            std::thread::sleep(Duration::from_secs(2));
        }
        samples
    });
    let counts = Arc::new(Counts::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(drive(address, deadline, counts.clone()));
    let samples = sampler.join().unwrap();

    let mut failures = counts.failures.lock().unwrap().clone();
    println!("| traffic | count |\n|---|---|");
    for (name, value) in [
        ("valid requests answered 200", &counts.valid),
        ("scenario requests (429/200 as scripted)", &counts.scripted),
        ("malformed requests answered as expected", &counts.malformed),
        (
            "connections dropped mid-request by the client",
            &counts.disconnects,
        ),
        ("slow clients answered 200", &counts.slow),
        ("stalled clients dropped by the server", &counts.stalled),
    ] {
        println!("| {name} | {} |", value.load(Ordering::Relaxed));
    }

    // Afterwards: still answering, journal as it should be, memory flat.
    let (status, _) = get(address, "/__mock/health");
    if status != 200 {
        failures.push(format!("health after the soak: {status}"));
    }
    let challenge = String::from_utf8_lossy(&post_once(address, PATH, BODY)).into_owned();
    if !challenge.starts_with("HTTP/1.1 200") || !challenge.contains("\"token-key-id\":\"") {
        failures.push("a challenge after the soak failed".into());
    }
    let (_, canary) = get(address, "/__mock/requests?session=canary");
    let canary: serde_json::Value = serde_json::from_str(&canary).unwrap_or_default();
    if canary["count"] != CANARY_REQUESTS || canary["dropped"] != 0 {
        failures.push(format!(
            "canary journal: count {} dropped {}",
            canary["count"], canary["dropped"]
        ));
    }
    let (_, all) = get(address, "/__mock/requests?session=soak-0");
    let all: serde_json::Value = serde_json::from_str(&all).unwrap_or_default();
    if all["count"] != 1000 {
        failures.push(format!(
            "a busy session's journal holds {} entries, not its limit of 1000",
            all["count"]
        ));
    }
    // The whole journal, page by page.
    let (mut whole, mut after) = (0u64, String::new());
    let dropped = loop {
        let cursor = if after.is_empty() {
            String::new()
        } else {
            format!("&after={after}")
        };
        let (_, page) = get(address, &format!("/__mock/requests?limit=1000{cursor}"));
        let page: serde_json::Value = serde_json::from_str(&page).unwrap_or_default();
        whole += page["count"].as_u64().unwrap_or(0);
        match page["next"].as_str() {
            Some(next) => after = next.to_string(),
            None => break page["dropped"].clone(),
        }
    };
    println!(
        "\nJournal afterwards: canary session {} entries (sent {CANARY_REQUESTS}), a busy session {} (its limit), all sessions {whole} with {dropped} dropped.",
        canary["count"], all["count"]
    );
    if whole == 0 || whole > 10_000 {
        failures.push(format!(
            "the whole journal holds {whole} entries (its total limit is 10,000)"
        ));
    }
    let after_warmup: Vec<u64> = samples
        .iter()
        .filter(|(t, _)| *t >= 6)
        .map(|(_, rss)| *rss)
        .collect();
    let (low, high) = (
        after_warmup.iter().min().copied().unwrap_or(0),
        after_warmup.iter().max().copied().unwrap_or(0),
    );
    println!(
        "\nRSS samples every 2 s (KiB): {}",
        samples
            .iter()
            .map(|(t, rss)| format!("{t}s:{rss}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "After warm-up: min {low} KiB, max {high} KiB, growth {} KiB.",
        high.saturating_sub(low)
    );
    if high > low + 8 * 1024 {
        failures.push(format!("RSS grew by {} KiB after warm-up", high - low));
    }

    // SIGTERM under load: in-flight requests finish, exit 0 in bounded time.
    let mut server = server;
    let flood_until = Instant::now() + Duration::from_secs(3);
    let flood = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let tasks: Vec<_> = (0..16)
                .map(|_| {
                    tokio::spawn(async move {
                        let (mut complete, mut cut) = (0u64, 0u64);
                        let Ok(mut stream) = TcpStream::connect(address).await else {
                            return (0, 0);
                        };
                        let request = request(PATH, "", BODY);
                        let mut buffer = Vec::new();
                        while Instant::now() < flood_until {
                            match exchange(&mut stream, &request, &mut buffer).await {
                                Some(200) => complete += 1,
                                _ => {
                                    cut += 1;
                                    break;
                                }
                            }
                        }
                        (complete, cut)
                    })
                })
                .collect();
            let mut totals = (0, 0);
            for task in tasks {
                let (complete, cut) = task.await.unwrap();
                totals.0 += complete;
                totals.1 += cut;
            }
            totals
        })
    });
    std::thread::sleep(Duration::from_millis(500));
    let signalled = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    let status = server.child.wait().unwrap();
    let took = signalled.elapsed();
    let (complete, closed) = flood.join().unwrap();
    println!(
        "\nSIGTERM under load (16 connections): exit {:?} after {} ms; {complete} requests completed, {closed} connections closed by the shutdown between requests.",
        status.code(),
        took.as_millis()
    );
    if status.code() != Some(0) {
        failures.push(format!("exit status {status:?} after SIGTERM"));
    }
    if took > Duration::from_secs(10) {
        failures.push(format!("shutdown took {} ms", took.as_millis()));
    }

    if failures.is_empty() {
        println!("\nsoak: all checks passed");
    } else {
        println!("\nsoak: FAILED");
        for failure in &failures {
            println!("- {failure}");
        }
        std::process::exit(1);
    }
}
