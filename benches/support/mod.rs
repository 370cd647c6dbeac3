//! What the benchmarks share: server processes, their memory and CPU.

// Each benchmark uses a part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The binary under test: this build's, or `PERSONA_MOCK_BIN`.
pub fn mock_binary() -> String {
    std::env::var("PERSONA_MOCK_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_persona-mock").to_string())
}

/// A server process under test.
pub struct Server {
    pub child: Child,
    pub address: SocketAddr,
}

impl Server {
    pub fn mock(args: &[&str]) -> Server {
        let mut command = Command::new(mock_binary());
        command.args(["--port", "0"]).args(args);
        Server::spawn(command, "persona-mock listening on http://")
    }

    pub fn baseline(size: usize) -> Server {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.args(["--serve-baseline", &size.to_string()]);
        Server::spawn(command, "baseline listening on ")
    }

    /// The baseline writing each response in one buffer, as persona-mock
    /// does (hyper's `writev(false)`).
    pub fn baseline_one_write(size: usize) -> Server {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.args(["--serve-baseline", &size.to_string(), "--one-write"]);
        Server::spawn(command, "baseline listening on ")
    }

    pub fn spawn(mut command: Command, prefix: &str) -> Server {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("ready line {line:?}"))
            .parse()
            .unwrap();
        Server { child, address }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One CPU for the load generator and another for the server under test,
/// so that a server's CPU per request does not depend on where the
/// scheduler happens to put its threads beside the load generator's (on a
/// 2-CPU machine that placement alone moved one binary's figure by a third).
/// `None` with fewer than two CPUs, without `taskset`, or with `BENCH_PIN=0`.
pub struct Pins {
    /// The load generator's CPU.
    pub client: usize,
    /// The server's CPU.
    pub server: usize,
}

impl Pins {
    pub fn detect() -> Option<Pins> {
        if std::env::var("BENCH_PIN").is_ok_and(|v| v == "0") {
            return None;
        }
        let cpus = cpu_list(&Pins::allowed());
        let taskset = Command::new("taskset").arg("-V").output();
        match (cpus.as_slice(), taskset) {
            ([client, server, ..], Ok(out)) if out.status.success() => Some(Pins {
                client: *client,
                server: *server,
            }),
            _ => None,
        }
    }

    /// Moves every thread of `pid` (and the threads it starts later) to `cpu`.
    pub fn pin(pid: u32, cpu: usize) {
        // A thread that ends while taskset walks the process's threads (the
        // mock's key warm-up, just after startup) makes it fail: try again.
        for attempt in 1.. {
            let status = Command::new("taskset")
                .args(["-a", "-p", "-c", &cpu.to_string(), &pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("taskset runs");
            if status.success() {
                return;
            }
            assert!(attempt < 5, "taskset -a -p -c {cpu} {pid}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Lets every thread of `pid` run on any CPU of `cpus` again.
    pub fn unpin(pid: u32, cpus: &str) {
        let _ = Command::new("taskset")
            .args(["-a", "-p", "-c", cpus, &pid.to_string()])
            .stdout(Stdio::null())
            .status();
    }

    /// This process's allowed CPUs, as `taskset` writes them.
    pub fn allowed() -> String {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| "0".into())
    }
}

/// The CPUs of a list such as `0-3,8`.
fn cpu_list(list: &str) -> Vec<usize> {
    list.split(',')
        .flat_map(|part| {
            let (from, to) = part.split_once('-').unwrap_or((part, part));
            match (from.trim().parse::<usize>(), to.trim().parse::<usize>()) {
                (Ok(from), Ok(to)) => (from..=to).collect(),
                _ => Vec::new(),
            }
        })
        .collect()
}

/// RSS and peak RSS of a process, KiB.
pub fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time a process's threads have used, with nanosecond resolution
/// (the sum of `/proc/PID/task/*/schedstat`; threads that ended are not
/// counted, so measure a server whose threads live on).
pub fn cpu_time_precise(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let nanos: u64 = tasks
        .filter_map(|task| task.ok())
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// The `Content-Length` of a response head.
pub fn content_length(head: &str) -> Option<usize> {
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })
}

/// POSTs `body` to `path` on a fresh connection and returns the whole
/// response, head and body.
pub fn post_once(address: SocketAddr, path: &str, body: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    bytes
}

/// A keep-alive POST request with a JSON body and extra headers.
pub fn request(path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.push_str(body);
    head.into_bytes()
}

/// Reads one response: its status and body.
pub fn read_response(reader: &mut BufReader<std::net::TcpStream>) -> (u16, Vec<u8>) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; content_length(&head).unwrap_or(0)];
    reader.read_exact(&mut body).unwrap();
    (status, body)
}

/// The machine, as the reports name it: CPU model, cores, memory, OS.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown".to_string(), |m| m.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0);
    format!(
        "{model}, {cores} cores, {} GiB memory, {}",
        memory / 1024 / 1024,
        std::env::consts::OS
    )
}

/// The report being written: every line [`say`] printed.
static REPORT: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

/// Prints a line of the report and keeps it for [`publish`].
pub fn say(line: impl Into<String>) {
    let line = line.into();
    println!("{line}");
    let mut report = REPORT.lock().unwrap_or_else(|e| e.into_inner());
    report.push_str(&line);
    report.push('\n');
}

/// Writes the report to `target/benchmarks/NAME.md`, and with
/// `BENCH_UPDATE=1` into BENCHMARKS.md between its
/// `<!-- begin NAME -->` and `<!-- end NAME -->` markers (headings one
/// level down, the date and the settings that shaped the run noted).
pub fn publish(name: &str) {
    let report = REPORT.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("target/benchmarks");
    std::fs::create_dir_all(&out).unwrap();
    let file = out.join(format!("{name}.md"));
    std::fs::write(&file, &report).unwrap();
    println!("(written to {})", file.display());
    if std::env::var("BENCH_UPDATE").as_deref() != Ok("1") {
        return;
    }
    let date = Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let settings: Vec<String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("BENCH_") && k != "BENCH_UPDATE")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let generated = format!(
        "_Generated on {date} by `{}cargo bench --bench {name}`._\n",
        settings.iter().map(|s| format!("{s} ")).collect::<String>()
    );
    let mut section = format!("<!-- begin {name} -->\n");
    for (i, line) in report.lines().enumerate() {
        if line.starts_with('#') {
            section.push('#');
        }
        section.push_str(line);
        section.push('\n');
        // Under the report's title.
        if i == 0 {
            section.push('\n');
            section.push_str(&generated);
        }
    }
    section.push_str(&format!("<!-- end {name} -->"));
    let path = root.join("BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let begin = format!("<!-- begin {name} -->");
    let end = format!("<!-- end {name} -->");
    match (text.find(&begin), text.find(&end)) {
        (Some(a), Some(b)) if a < b => {
            let updated = format!("{}{section}{}", &text[..a], &text[b + end.len()..]);
            std::fs::write(&path, updated).unwrap();
            println!("(BENCHMARKS.md updated between its {name} markers)");
        }
        _ => eprintln!("BENCHMARKS.md has no `{begin}` … `{end}` section; not updated"),
    }
}

/// base64url without padding, as the benchmarks' clients send it.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// base64url, padded or not, as the mock answers.
pub fn unb64(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .unwrap()
}

/// A keep-alive HTTP/1.1 connection that sends prepared requests one at a
/// time (no pipelining).
pub struct Connection {
    reader: BufReader<std::net::TcpStream>,
    writer: std::net::TcpStream,
}

impl Connection {
    /// Connects, with Nagle's algorithm off.
    pub fn open(address: SocketAddr) -> Connection {
        let stream = std::net::TcpStream::connect(address).unwrap();
        stream.set_nodelay(true).unwrap();
        Connection {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    /// Sends one request and reads its response: the status and the body.
    pub fn exchange(&mut self, request: &[u8]) -> (u16, Vec<u8>) {
        use std::io::Write;
        self.writer.write_all(request).unwrap();
        read_response(&mut self.reader)
    }

    /// Sends one request whose response must have `status`; its body.
    pub fn expect(&mut self, request: &[u8], status: u16) -> Vec<u8> {
        let (got, body) = self.exchange(request);
        assert_eq!(got, status, "{}", String::from_utf8_lossy(&body));
        body
    }
}

/// The `percent`th percentile of durations sorted in ascending order.
pub fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    sorted[(sorted.len() * percent / 100).min(sorted.len() - 1)]
}
