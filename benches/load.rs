//! The persona-mock benchmark: `cargo bench --bench load`.
//!
//! In one run on one machine it measures, with the load generator and the
//! servers taking turns:
//! - throughput, p50 and p99 latency and server CPU per request of
//!   `POST /api/privacy/v1/relays/challenge` over 1, 16 and 64 keep-alive
//!   connections, for the default configuration, for a `times = "always"`
//!   429 scenario, and for a bare hyper server answering a fixed JSON body
//!   of the same size (the baseline);
//! - startup: process start to the ready line and to the first successful
//!   challenge, for each profile with generated, seeded and pinned keys,
//!   with 100 claim types, and for the bare hyper baseline;
//! - the challenge endpoint under `wrk` (when it is on the PATH), the same
//!   servers taking turns, as a cross-check of the in-repo load generator;
//! - memory: peak RSS idle, and RSS while 1,000,000 requests go through with
//!   the journal on.
//!
//! The load generator is a raw HTTP/1.1 client on one thread; each
//! connection sends its next request when the previous response has been
//! read (keep-alive, no pipelining). Server CPU comes from
//! `/proc/PID/task/*/schedstat` (nanoseconds). Figures are medians of
//! several runs. While load runs, the load generator (ours or `wrk`) is
//! pinned to one CPU and the servers to another (`taskset`), because on a
//! 2-CPU machine where the scheduler puts the threads moves a server's CPU
//! per request by a third; the `wrk` cross-check also runs unpinned, for
//! comparison. `BENCH_SECONDS` (default 2) and `BENCH_RUNS` (default 3)
//! change the measuring time and the number of runs; `BENCH_PIN=0` turns
//! pinning off; `PERSONA_MOCK_BIN` measures another build of the binary (to
//! compare a change with what came before).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod support;

use support::{
    Pins, Server, content_length, cpu_time_precise, machine, memory, mock_binary, post_once, say,
};

const PATH: &str = "/api/privacy/v1/relays/challenge";
const BODY: &str = r#"{"claim-type":"age_over18_verified"}"#;
const CONNECTIONS: [usize; 3] = [1, 16, 64];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-baseline") {
        let size = args[i + 1].parse().expect("body size");
        serve_baseline(size, args.iter().any(|a| a == "--one-write"));
        return;
    }
    let seconds: f64 = env_or("BENCH_SECONDS", 2.0);
    let runs: usize = env_or("BENCH_RUNS", 3.0) as usize;
    let work = std::env::temp_dir().join(format!("persona-mock-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();

    say(format!(
        "# The challenge endpoint: throughput, latency, startup, memory\n\nMachine: {}\n",
        machine()
    ));
    say(format!(
        "Command: `cargo bench --bench load` ({seconds} s per measurement, {runs} runs, medians)\n"
    ));
    let pins = Pins::detect();
    let allowed = Pins::allowed();
    say(match &pins {
        Some(p) => format!(
            "Under load, the load generator runs on CPU {} and the servers on CPU {} (`taskset`).\n",
            p.client, p.server
        ),
        None => "Not pinned (fewer than two CPUs, no `taskset`, or `BENCH_PIN=0`).\n".into(),
    });

    // Throughput and latency.
    std::fs::write(
        work.join("bench-429.toml"),
        "description = \"always 429\"\n[[step]]\nstatus = 429\ntimes = \"always\"\nheaders = { \"RateLimit-Limit\" = 300, \"RateLimit-Remaining\" = 0, \"RateLimit-Reset\" = 30 }\n",
    )
    .unwrap();
    let mock = Server::mock(&[]);
    let scenario_dir = work.display().to_string();
    let scripted = Server::mock(&["--scenarios-dir", &scenario_dir, "--scenario", "bench-429"]);
    let size = first_response(mock.address).len();
    let baseline = Server::baseline(size);
    let one_write = Server::baseline_one_write(size);
    if let Some(p) = &pins {
        Pins::pin(std::process::id(), p.client);
        for server in [&mock, &scripted, &baseline, &one_write] {
            Pins::pin(server.child.id(), p.server);
        }
    }
    let targets = [
        ("persona-mock", &mock, 200u16),
        ("persona-mock, 429 scenario", &scripted, 429),
        ("bare hyper", &baseline, 200),
        ("bare hyper, one write", &one_write, 200),
    ];
    let mut results: Vec<Vec<Vec<Measure>>> =
        vec![vec![Vec::new(); CONNECTIONS.len()]; targets.len()];
    for _ in 0..runs {
        for (c, &connections) in CONNECTIONS.iter().enumerate() {
            for (t, (_, server, status)) in targets.iter().enumerate() {
                let measure = measure(
                    server,
                    connections,
                    Load::For(Duration::from_secs_f64(seconds)),
                    *status,
                );
                results[t][c].push(measure);
            }
        }
    }
    say("## Throughput and latency\n");
    say(format!(
        "Response body: {size} bytes (the baseline sends a fixed body of the same size). The baseline is bare hyper as configured by default, which writes a response's head and body with one vectored write; \"one write\" is the same server with hyper's `writev(false)`, which copies the body after the head and sends one buffer, as persona-mock does.\n"
    ));
    say("| server | connections | requests/s | p50 | p99 | server CPU per request |");
    say("|---|---|---|---|---|---|");
    let mut medians = vec![vec![Measure::default(); CONNECTIONS.len()]; targets.len()];
    for (t, (name, _, _)) in targets.iter().enumerate() {
        for (c, connections) in CONNECTIONS.iter().enumerate() {
            let m = Measure::median(&results[t][c]);
            say(format!(
                "| {name} | {connections} | {:.0} | {} | {} | {:.1} µs |",
                m.throughput,
                micros(m.p50),
                micros(m.p99),
                m.cpu_per_request_us
            ));
            medians[t][c] = m;
        }
    }
    say(
        "\n| connections | mock / baseline throughput | 429 scenario / baseline | baseline / mock CPU per request | one-write baseline / mock CPU per request |",
    );
    say("|---|---|---|---|---|");
    for (c, connections) in CONNECTIONS.iter().enumerate() {
        say(format!(
            "| {connections} | {:.2} | {:.2} | {:.2} | {:.2} |",
            medians[0][c].throughput / medians[2][c].throughput,
            medians[1][c].throughput / medians[2][c].throughput,
            medians[2][c].cpu_per_request_us / medians[0][c].cpu_per_request_us,
            medians[3][c].cpu_per_request_us / medians[0][c].cpu_per_request_us,
        ));
    }
    drop((mock, scripted, baseline, one_write));
    Pins::unpin(std::process::id(), &allowed);

    // Startup.
    say("\n## Startup: process start to the ready line and to the first successful challenge\n");
    let claim_types: Vec<String> = (0..100)
        .map(|i| format!("\"bench_claim_{i:03}\""))
        .collect();
    let config = work.join("hundred.toml");
    std::fs::write(
        &config,
        format!("[claim-types]\nonly = [{}]\n", claim_types.join(", ")),
    )
    .unwrap();
    let fixture = |name: &str| format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let args = |list: &[&str]| list.iter().map(|a| a.to_string()).collect::<Vec<String>>();
    say(
        "| profile | keys | ready line, median | first challenge, median | first challenge, p90 | runs |",
    );
    say("|---|---|---|---|---|---|");
    let baseline_runs: Vec<(Duration, Duration)> =
        (0..21).map(|_| baseline_startup(size)).collect();
    say(startup_row("bare hyper (baseline)", "–", baseline_runs));
    let hundred = config.display().to_string();
    let keys = fixture("keys.toml");
    let keys_rsa = fixture("keys-rsa.toml");
    for (profile, label, args, claim, runs) in [
        (
            "reference",
            "generated P-384",
            args(&[]),
            "age_over18_verified",
            21,
        ),
        (
            "reference",
            "generated P-384, 100 claim types",
            args(&["--config", &hundred]),
            "bench_claim_050",
            21,
        ),
        (
            "reference",
            "seeded P-384 (`--seed 7`)",
            args(&["--seed", "7"]),
            "age_over18_verified",
            21,
        ),
        (
            "reference",
            "pinned P-384 (`fixtures/keys.toml`)",
            args(&["--config", &keys]),
            "age_over18_verified",
            21,
        ),
        (
            "rfc9578",
            "generated P-384",
            args(&["--profile", "rfc9578"]),
            "age_over18_verified",
            21,
        ),
        (
            "persona-sdk",
            "generated RSA 2048",
            args(&["--profile", "persona-sdk"]),
            "age_over18_verified",
            11,
        ),
        (
            "persona-sdk",
            "seeded RSA 2048 (`--seed 7`)",
            args(&["--profile", "persona-sdk", "--seed", "7"]),
            "age_over18_verified",
            11,
        ),
        (
            "persona-sdk",
            "pinned RSA 2048 (`fixtures/keys-rsa.toml`)",
            args(&["--profile", "persona-sdk", "--config", &keys_rsa]),
            "age_over18_verified",
            21,
        ),
    ] {
        let times: Vec<(Duration, Duration)> = (0..runs).map(|_| startup(&args, claim)).collect();
        say(startup_row(profile, label, times));
    }

    // The same servers under an external load generator.
    if let Some(rounds) = wrk_available().then_some(runs) {
        say("\n## Cross-check with wrk\n");
        let mock = Server::mock(&[]);
        let baseline = Server::baseline(size);
        let one_write = Server::baseline_one_write(size);
        let script = work.join("challenge.lua");
        std::fs::write(
            &script,
            format!("wrk.method = \"POST\"\nwrk.body = '{BODY}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"),
        )
        .unwrap();
        say(format!(
            "`wrk -t1 -cN -d{seconds}s` with a Lua script posting the same challenge request, the servers taking turns, {rounds} rounds, medians; pinned as above, then unpinned (the same processes).\n"
        ));
        say(
            "| pinned | connections | persona-mock req/s | bare hyper req/s | throughput ratio | persona-mock CPU per request | bare hyper CPU per request | baseline / mock CPU | one-write baseline / mock CPU |",
        );
        say("|---|---|---|---|---|---|---|---|---|");
        let setups: Vec<Option<&Pins>> = match &pins {
            Some(p) => vec![Some(p), None],
            None => vec![None],
        };
        for setup in setups {
            for server in [&mock, &baseline, &one_write] {
                match setup {
                    Some(p) => Pins::pin(server.child.id(), p.server),
                    None => Pins::unpin(server.child.id(), &allowed),
                }
            }
            for connections in [16usize, 64] {
                let mut m = Vec::new();
                let mut b = Vec::new();
                let mut o = Vec::new();
                for _ in 0..rounds {
                    let client = setup.map(|p| p.client);
                    m.push(wrk(&mock, connections, seconds, &script, client));
                    b.push(wrk(&baseline, connections, seconds, &script, client));
                    o.push(wrk(&one_write, connections, seconds, &script, client));
                }
                let (m_rate, m_cpu) = median_pair(&m);
                let (b_rate, b_cpu) = median_pair(&b);
                let (_, o_cpu) = median_pair(&o);
                say(format!(
                    "| {} | {connections} | {m_rate:.0} | {b_rate:.0} | {:.2} | {m_cpu:.1} µs | {b_cpu:.1} µs | {:.2} | {:.2} |",
                    if setup.is_some() { "yes" } else { "no" },
                    m_rate / b_rate,
                    b_cpu / m_cpu,
                    o_cpu / m_cpu
                ));
            }
        }
    }

    // Memory.
    say("\n## Memory (journal on, default limits)\n");
    let server = Server::mock(&[]);
    std::thread::sleep(Duration::from_millis(300));
    let idle = memory(server.child.id());
    say(format!(
        "Idle after startup: RSS {} KiB, peak {} KiB.\n",
        idle.0, idle.1
    ));
    say("| requests so far | RSS | peak RSS |");
    say("|---|---|---|");
    let mut total = 0u64;
    for _ in 0..4 {
        let m = measure(&server, 16, Load::Count(250_000), 200);
        total += m.requests;
        let (rss, peak) = memory(server.child.id());
        say(format!("| {total} | {rss} KiB | {peak} KiB |"));
    }
    drop(server);

    support::publish("load");
    let _ = std::fs::remove_dir_all(work);
}

fn env_or(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn micros(d: Duration) -> String {
    format!("{} µs", d.as_micros())
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The machine, for the record.
/// One request on a fresh connection; returns the body.
fn first_response(address: SocketAddr) -> Vec<u8> {
    let bytes = post_once(address, PATH, BODY);
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response")
        + 4;
    assert!(
        bytes.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    bytes[split..].to_vec()
}

/// Process start to the ready line, and to the first successful challenge.
fn startup(args: &[String], claim_type: &str) -> (Duration, Duration) {
    let started = Instant::now();
    let mut command = Command::new(mock_binary());
    command.args(["--port", "0"]).args(args);
    let server = Server::spawn(command, "persona-mock listening on http://");
    let ready = started.elapsed();
    let bytes = post_once(
        server.address,
        PATH,
        &format!(r#"{{"claim-type":"{claim_type}"}}"#),
    );
    let elapsed = started.elapsed();
    assert!(
        bytes.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    (ready, elapsed)
}

/// The same for the bare hyper baseline.
fn baseline_startup(size: usize) -> (Duration, Duration) {
    let started = Instant::now();
    let server = Server::baseline(size);
    let ready = started.elapsed();
    let bytes = post_once(server.address, PATH, BODY);
    assert!(bytes.starts_with(b"HTTP/1.1 200"));
    (ready, started.elapsed())
}

fn startup_row(profile: &str, keys: &str, mut times: Vec<(Duration, Duration)>) -> String {
    let runs = times.len();
    times.sort_by_key(|t| t.0);
    let ready = times[runs / 2].0;
    times.sort_by_key(|t| t.1);
    format!(
        "| {profile} | {keys} | {} | {} | {} | {runs} |",
        millis(ready),
        millis(times[runs / 2].1),
        millis(times[runs * 9 / 10].1)
    )
}

fn wrk_available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout).contains("wrk")
                || String::from_utf8_lossy(&o.stderr).contains("wrk")
        })
}

/// One wrk run (on CPU `client`, if given): requests/s and the server's
/// CPU per request (µs).
fn wrk(
    server: &Server,
    connections: usize,
    seconds: f64,
    script: &Path,
    client: Option<usize>,
) -> (f64, f64) {
    let pid = server.child.id();
    let url = format!("http://{}{PATH}", server.address);
    let mut command = match client {
        Some(cpu) => {
            let mut taskset = Command::new("taskset");
            taskset.args(["-c", &cpu.to_string(), "wrk"]);
            taskset
        }
        None => Command::new("wrk"),
    };
    let cpu = cpu_time_precise(pid);
    let out = command
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "-s",
        ])
        .arg(script)
        .arg(&url)
        .output()
        .expect("wrk runs");
    let cpu = cpu_time_precise(pid).saturating_sub(cpu);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("Non-2xx"), "{text}");
    let requests: f64 = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("wrk output: {text}"));
    let rate: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    (rate, cpu.as_secs_f64() * 1e6 / requests)
}

fn median_pair(runs: &[(f64, f64)]) -> (f64, f64) {
    let mut rates: Vec<f64> = runs.iter().map(|r| r.0).collect();
    let mut cpus: Vec<f64> = runs.iter().map(|r| r.1).collect();
    rates.sort_by(f64::total_cmp);
    cpus.sort_by(f64::total_cmp);
    (rates[rates.len() / 2], cpus[cpus.len() / 2])
}

/// How long a measurement runs.
#[derive(Clone, Copy)]
enum Load {
    For(Duration),
    Count(u64),
}

#[derive(Clone, Copy, Default)]
struct Measure {
    requests: u64,
    throughput: f64,
    p50: Duration,
    p99: Duration,
    cpu_per_request_us: f64,
}

impl Measure {
    fn median(runs: &[Measure]) -> Measure {
        let pick = |key: &dyn Fn(&Measure) -> f64| {
            let mut values: Vec<f64> = runs.iter().map(key).collect();
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        Measure {
            requests: pick(&|m| m.requests as f64) as u64,
            throughput: pick(&|m| m.throughput),
            p50: Duration::from_secs_f64(pick(&|m| m.p50.as_secs_f64())),
            p99: Duration::from_secs_f64(pick(&|m| m.p99.as_secs_f64())),
            cpu_per_request_us: pick(&|m| m.cpu_per_request_us),
        }
    }
}

/// Drives `connections` keep-alive connections against `server`.
///
/// The generator is a raw HTTP/1.1 client (a request prepared once, the
/// response read by `Content-Length`) on one thread: it shares the machine
/// with the server, so the less work it does, the more the figures say about
/// the server.
fn measure(server: &Server, connections: usize, load: Load, status: u16) -> Measure {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let address = server.address;
    let warmup = match load {
        Load::For(_) => Duration::from_millis(300),
        Load::Count(_) => Duration::ZERO,
    };
    let request: Arc<[u8]> = format!(
        "POST {PATH} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    )
    .into_bytes()
    .into();
    let expected = format!("HTTP/1.1 {status} ");
    runtime.block_on(async move {
        let budget = Arc::new(AtomicU64::new(match load {
            Load::Count(n) => n,
            Load::For(_) => u64::MAX,
        }));
        let begin = Instant::now();
        let measuring_from = begin + warmup;
        let deadline = match load {
            Load::For(d) => Some(measuring_from + d),
            Load::Count(_) => None,
        };
        let pid = server.child.id();
        let cpu_at_start = Arc::new(std::sync::OnceLock::<(Instant, Duration)>::new());
        let tasks: Vec<_> = (0..connections)
            .map(|_| {
                let budget = budget.clone();
                let request = request.clone();
                let expected = expected.clone();
                let cpu_at_start = cpu_at_start.clone();
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
                    stream.set_nodelay(true).unwrap();
                    let mut buffer = vec![0u8; 8192];
                    let mut latencies = Vec::with_capacity(1 << 16);
                    loop {
                        if deadline.is_some_and(|d| Instant::now() >= d) {
                            break;
                        }
                        if budget
                            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                                b.checked_sub(1)
                            })
                            .is_err()
                        {
                            break;
                        }
                        let sent = Instant::now();
                        stream.write_all(&request).await.unwrap();
                        let mut filled = 0;
                        let total = loop {
                            let n = stream.read(&mut buffer[filled..]).await.unwrap();
                            assert!(n > 0, "the server closed the connection");
                            filled += n;
                            if let Some(end) =
                                buffer[..filled].windows(4).position(|w| w == b"\r\n\r\n")
                            {
                                let head = std::str::from_utf8(&buffer[..end]).unwrap();
                                assert!(head.starts_with(&expected), "{head}");
                                let length = content_length(head).expect("content-length");
                                break end + 4 + length;
                            }
                        };
                        while filled < total {
                            let n = stream.read(&mut buffer[filled..]).await.unwrap();
                            assert!(n > 0, "the server closed the connection");
                            filled += n;
                        }
                        if sent >= measuring_from {
                            cpu_at_start.get_or_init(|| (sent, cpu_time_precise(pid)));
                            latencies.push(sent.elapsed().as_micros() as u32);
                        }
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.unwrap());
        }
        let (start, cpu_before) = cpu_at_start
            .get()
            .copied()
            .unwrap_or((begin, Duration::ZERO));
        let elapsed = start.elapsed();
        let cpu = cpu_time_precise(pid).saturating_sub(cpu_before);
        latencies.sort_unstable();
        let at = |q: f64| {
            Duration::from_micros(latencies[((latencies.len() as f64 - 1.0) * q) as usize] as u64)
        };
        let requests = latencies.len() as u64;
        Measure {
            requests,
            throughput: requests as f64 / elapsed.as_secs_f64(),
            p50: at(0.50),
            p99: at(0.99),
            cpu_per_request_us: cpu.as_secs_f64() * 1e6 / requests as f64,
        }
    })
}

/// The baseline: a bare hyper server answering a fixed JSON body (with
/// `one_write`, each response in one buffer).
fn serve_baseline(size: usize, one_write: bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let body = Bytes::from(format!(
            "{{\"x\":\"{}\"}}",
            "a".repeat(size.saturating_sub(8))
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("baseline listening on {}", listener.local_addr().unwrap());
        std::io::stdout().flush().unwrap();
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let body = body.clone();
                        async move {
                            let _ = request.into_body().collect().await;
                            let mut response = Response::new(Full::new(body));
                            *response.status_mut() = StatusCode::OK;
                            response
                                .headers_mut()
                                .insert("content-type", "application/json".parse().unwrap());
                            Ok::<_, Infallible>(response)
                        }
                    });
                let mut http = hyper::server::conn::http1::Builder::new();
                if one_write {
                    http.writev(false);
                }
                let _ = http.serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
}
