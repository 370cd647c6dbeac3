//! The real `persona-mock` binary: ready line, requests, signals, exit codes.

use crate::support::{Reply, b64url, parse_response};
use p384::pkcs8::DecodePrivateKey;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_persona-mock"));
    command.env_remove("RUST_LOG");
    for (name, _) in std::env::vars() {
        if name.starts_with("PERSONA_MOCK_") {
            command.env_remove(name);
        }
    }
    command
}

/// Starts the binary and returns it with the address from its ready line.
fn start(command: &mut Command) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .expect("ready line");
    let address = line
        .trim_end()
        .strip_prefix("persona-mock listening on http://")
        .unwrap_or_else(|| panic!("unexpected ready line {line:?}"))
        .to_string();
    (child, address)
}

fn post_challenge(address: &str, body: &str) -> Reply {
    post(address, "/api/privacy/v1/relays/challenge", &[], body)
}

/// POSTs a JSON body with extra headers on a fresh connection.
fn post(address: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    let extra: String = headers
        .iter()
        .map(|(n, v)| format!("{n}: {v}\r\n"))
        .collect();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    parse_response(&bytes).expect("a response")
}

fn terminate(child: &mut Child) -> i32 {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap().code().expect("exited, not killed")
}

fn run_to_end(command: &mut Command) -> (i32, String, String) {
    let output = command.output().expect("run");
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_binary_announces_its_port_serves_and_exits_0_on_sigterm() {
    let (mut child, address) = start(binary().args(["--port", "0"]));
    assert!(
        address.starts_with("127.0.0.1:") && !address.ends_with(":0"),
        "{address}"
    );
    let reply = post_challenge(&address, r#"{"claim-type":"age_over18_verified"}"#);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(terminate(&mut child), 0);
    let mut rest = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut rest)
        .unwrap();
    assert_eq!(rest, "", "the ready line is the only stdout output");
}

#[test]
fn flags_fall_back_to_environment_variables() {
    let (mut child, address) = start(
        binary()
            .env("PERSONA_MOCK_PORT", "0")
            .env("PERSONA_MOCK_PROFILE", "rfc9578"),
    );
    let reply = post_challenge(&address, r#"{"claim-type":"age_over18_verified"}"#);
    let token_key = reply.json()["token-key"].as_str().unwrap().to_string();
    assert_eq!(
        b64url(&token_key, true).len(),
        49,
        "the rfc9578 profile is in force"
    );
    assert_eq!(terminate(&mut child), 0);
}

#[test]
fn a_wrong_flag_exits_2() {
    let (code, _, stderr) = run_to_end(binary().args(["--profile", "rfc"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("invalid value 'rfc' for '--profile <PROFILE>'"),
        "{stderr}"
    );
    assert!(
        stderr.contains("[possible values: reference, rfc9578, persona-sdk]"),
        "{stderr}"
    );
}

#[test]
fn a_bad_config_exits_2_naming_file_line_and_column_of_every_mistake() {
    let dir = tempdir("bad-config");
    let path = dir.join("mock.toml");
    std::fs::write(&path, "seed = 1\n[rate-limit]\nlimit = 0\nwindow = 5\n").unwrap();
    let (code, stdout, stderr) = run_to_end(binary().args(["--port", "0", "--config"]).arg(&path));
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    let expected = format!(
        "{0}:3:9: rate-limit.limit must be at least 1\n{0}:4:1: unknown field `window`, expected `limit` or `window-s`\npersona-mock: the config file has errors; nothing was started\n",
        path.display()
    );
    assert_eq!(stderr, expected);
}

#[test]
fn a_missing_config_file_exits_2() {
    let (code, _, stderr) = run_to_end(binary().args(["--config", "/nonexistent/mock.toml"]));
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("/nonexistent/mock.toml: cannot read the config file:"),
        "{stderr}"
    );
}

#[test]
fn keygen_writes_keys_that_the_config_loads() {
    let dir = tempdir("keygen");
    let keys = dir.join("keys");
    let (code, stdout, stderr) = run_to_end(binary().args(["keygen", "--out"]).arg(&keys));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, format!("wrote 20 keys to {}\n", keys.display()));
    let (code, _, stderr) = run_to_end(binary().args(["keygen", "--out"]).arg(&keys));
    assert_eq!(code, 1, "existing keys are not replaced without --force");
    assert!(stderr.contains("already exists; pass --force"), "{stderr}");

    let config = dir.join("mock.toml");
    std::fs::write(&config, "profile = \"rfc9578\"\n[keys]\ndir = \"keys\"\n").unwrap();
    let (mut child, address) = start(binary().args(["--port", "0", "--config"]).arg(&config));
    let reply = post_challenge(
        &address,
        r#"{"claim-type":"age_over21_verified","sandbox":true}"#,
    );
    let pem = std::fs::read_to_string(keys.join("sandbox/age_over21_verified.pem")).unwrap();
    let secret = p384::SecretKey::from_pkcs8_pem(&pem).unwrap();
    let served = b64url(reply.json()["token-key"].as_str().unwrap(), true);
    assert_eq!(
        p384::PublicKey::from_sec1_bytes(&served).unwrap(),
        secret.public_key()
    );
    assert_eq!(terminate(&mut child), 0);
}

#[test]
fn keygen_writes_rsa_keys_for_token_type_2_and_a_mismatch_is_refused() {
    let dir = tempdir("keygen-rsa");
    let keys = dir.join("keys");
    let config = dir.join("mock.toml");
    std::fs::write(
        &config,
        "[claim-types]\nonly = [\"age_over18_verified\"]\n[keys]\ndir = \"keys\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(&keys).unwrap();
    let (code, stdout, stderr) = run_to_end(
        binary()
            .args(["keygen", "--token-type", "2", "--seed", "5", "--config"])
            .arg(&config)
            .arg("--out")
            .arg(&keys),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, format!("wrote 2 keys to {}\n", keys.display()));
    let pem = std::fs::read_to_string(keys.join("production/age_over18_verified.pem")).unwrap();
    let rsa = persona_mock::privacypass::RsaSecret::from_pem(&pem).expect("an RSA key");
    assert_eq!(rsa.components().n().len(), 256, "2048 bits");

    let (mut child, address) = start(
        binary()
            .args(["--port", "0", "--token-type", "2", "--config"])
            .arg(&config),
    );
    let reply = post_challenge(&address, r#"{"claim-type":"age_over18_verified"}"#);
    let served = b64url(reply.json()["token-key"].as_str().unwrap(), false);
    assert_eq!(served.len(), 342, "the RSASSA-PSS SPKI of the pinned key");
    assert_eq!(terminate(&mut child), 0);

    // The same RSA keys under token type 1 are refused, naming the file.
    let (code, _, stderr) = run_to_end(binary().args(["--port", "0", "--config"]).arg(&config));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("age_over18_verified.pem: a key of token type 0x0002 but age_over18_verified issues token type 0x0001"),
        "{stderr}"
    );
}

#[test]
fn a_broken_key_file_exits_2_naming_it() {
    let dir = tempdir("broken-key");
    std::fs::create_dir_all(dir.join("keys/production")).unwrap();
    std::fs::write(
        dir.join("keys/production/age_over18_verified.pem"),
        "not a key",
    )
    .unwrap();
    std::fs::write(dir.join("mock.toml"), "[keys]\ndir = \"keys\"\n").unwrap();
    let (code, _, stderr) = run_to_end(
        binary()
            .args(["--port", "0", "--config"])
            .arg(dir.join("mock.toml")),
    );
    assert_eq!(code, 2);
    let file = dir.join("keys/production/age_over18_verified.pem");
    assert!(
        stderr.starts_with(&format!(
            "{}: not a P-384 private key in PKCS#8 PEM",
            file.display()
        )),
        "{stderr}"
    );
}

#[test]
fn the_pinned_fixture_keys_load() {
    let config = format!("{}/fixtures/keys.toml", env!("CARGO_MANIFEST_DIR"));
    let (mut child, address) = start(binary().args(["--port", "0", "--config", &config]));
    let reply = post_challenge(&address, r#"{"claim-type":"live_human_presence"}"#);
    let pem = crate::support::fixture("keys/production/live_human_presence.pem");
    let secret = p384::SecretKey::from_pkcs8_pem(&pem).unwrap();
    let der = b64url(reply.json()["token-key"].as_str().unwrap(), false);
    use p384::pkcs8::DecodePublicKey;
    assert_eq!(
        p384::PublicKey::from_public_key_der(&der).unwrap(),
        secret.public_key()
    );
    assert_eq!(terminate(&mut child), 0);
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("persona-mock-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_taken_port_exits_1_with_a_hint() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, stdout, stderr) = run_to_end(binary().args(["--port", &port]));
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert!(
        stderr.starts_with(&format!(
            "persona-mock: cannot listen on 127.0.0.1:{port}: "
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("pass --port 0 to pick a free port"),
        "{stderr}"
    );
}

#[test]
fn invalid_scenario_files_are_all_reported_and_exit_2() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut command = binary();
    command
        .current_dir(root)
        .args(["--port", "0", "--scenarios-dir", "tests/scenarios-invalid"]);
    let (code, stdout, stderr) = run_to_end(&mut command);
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    let mut expected: Vec<std::path::PathBuf> =
        std::fs::read_dir(format!("{root}/tests/scenarios-invalid"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "expected"))
            .collect();
    expected.sort();
    let mut all: String = expected
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    all.push_str("persona-mock: the scenario files have errors; nothing was started\n");
    assert_eq!(stderr, all);
}

#[test]
fn an_unknown_default_scenario_exits_2_listing_the_scenarios() {
    let (code, _, stderr) = run_to_end(binary().args(["--port", "0", "--scenario", "nope"]));
    assert_eq!(code, 2);
    assert!(stderr.starts_with("persona-mock: unknown scenario \"nope\": give the name of a scenario (conflict, dropped-connection,"), "{stderr}");
}

#[test]
fn the_scenario_flag_sets_the_default_scenario() {
    let (mut child, address) =
        start(binary().args(["--port", "0", "--scenario", "throttled-then-ok"]));
    let body = r#"{"claim-type":"age_over18_verified"}"#;
    assert_eq!(post_challenge(&address, body).status, 429);
    assert_eq!(post_challenge(&address, body).status, 429);
    assert_eq!(post_challenge(&address, body).status, 200);
    assert_eq!(terminate(&mut child), 0);
}

/// A keep-alive connection with a challenge request sent on it.
fn challenge_kept_alive(address: &str) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let body = r#"{"claim-type":"age_over18_verified"}"#;
    write!(
        stream,
        "POST /api/privacy/v1/relays/challenge HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream
}

/// Sends SIGTERM and checks the process exits 0 within `limit` and closes
/// `stream` (without another response).
fn terminate_within(
    child: &mut Child,
    limit: std::time::Duration,
    mut stream: std::net::TcpStream,
) {
    let started = std::time::Instant::now();
    assert_eq!(terminate(child), 0);
    assert!(started.elapsed() < limit, "{:?}", started.elapsed());
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut buffer = [0u8; 64];
    assert_eq!(
        stream.read(&mut buffer).unwrap(),
        0,
        "closed without a response"
    );
}

#[test]
fn sigterm_ends_a_hanging_request_and_exits_0() {
    let (mut child, address) = start(binary().args(["--port", "0", "--scenario", "hang"]));
    let mut stream = challenge_kept_alive(&address);
    stream
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    let mut buffer = [0u8; 64];
    assert!(stream.read(&mut buffer).is_err(), "the request hangs");
    terminate_within(&mut child, std::time::Duration::from_secs(5), stream);
}

#[test]
fn sigterm_closes_idle_keep_alive_connections_at_once() {
    let (mut child, address) = start(binary().args(["--port", "0"]));
    let mut stream = challenge_kept_alive(&address);
    let mut buffer = [0u8; 4096];
    assert!(stream.read(&mut buffer).unwrap() > 0, "answered");
    // The connection stays open, idle, when shutdown starts: it is closed
    // then, not after the grace period.
    terminate_within(&mut child, std::time::Duration::from_secs(3), stream);
}

fn get(address: &str, path: &str) -> Reply {
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    parse_response(&bytes).expect("a response")
}

#[test]
fn control_flags_reach_the_server() {
    let (mut child, address) = start(binary().args(["--port", "0", "--strict", "--no-journal"]));
    assert_eq!(get(&address, "/api/unknown").status, 404);
    let unmatched = get(&address, "/__mock/unmatched").json();
    assert_eq!(unmatched["strict"], true);
    assert_eq!(unmatched["unmatched"][0]["path"], "/api/unknown");
    assert_eq!(
        get(&address, "/__mock/requests").status,
        409,
        "the journal is off"
    );
    assert_eq!(
        get(&address, "/__mock/sessions/s/report").status,
        409,
        "the report judges from the journal"
    );
    assert_eq!(terminate(&mut child), 0);
}

#[test]
fn a_short_control_token_exits_2() {
    let (code, _, stderr) = run_to_end(binary().args(["--control-token", "short"]));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "persona-mock: --control-token must be 8 to 256 visible ASCII characters without spaces\n"
    );
}

#[test]
fn limit_flags_are_checked() {
    let (code, _, stderr) = run_to_end(binary().args(["--max-connections", "0"]));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "persona-mock: --max-connections must be from 1 to 100000 (got 0)\n"
    );
    let (code, _, stderr) = run_to_end(binary().args(["--max-body-bytes", "10"]));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "persona-mock: --max-body-bytes must be at least 64 (got 10)\n"
    );
}

#[test]
fn sigterm_lets_in_flight_requests_finish_and_exits_0() {
    let (mut child, address) = start(binary().args(["--port", "0", "--scenario", "slow"]));
    let client = {
        let address = address.clone();
        std::thread::spawn(move || {
            post_challenge(&address, r#"{"claim-type":"age_over18_verified"}"#)
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    assert_eq!(terminate(&mut child), 0);
    let reply = client.join().unwrap();
    assert_eq!(
        reply.status, 200,
        "the in-flight request was answered in full"
    );
    assert!(reply.json()["challenge"].is_string());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn a_bad_environment_variable_is_named() {
    let (code, _, stderr) = run_to_end(binary().env("PERSONA_MOCK_PORT", "abc"));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("invalid value 'abc' for '--port <PORT>'"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            "persona-mock: that value came from the environment variable PERSONA_MOCK_PORT\n"
        ),
        "{stderr}"
    );
    let (code, _, stderr) = run_to_end(binary().args(["--port", "abc"]));
    assert_eq!(code, 2);
    assert!(!stderr.contains("environment variable"), "{stderr}");
}

fn stderr_after(mut child: Child) -> String {
    assert_eq!(terminate(&mut child), 0);
    let mut text = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[test]
fn debug_logs_one_json_line_per_request_and_info_per_control_action() {
    let (child, address) = start(binary().env("RUST_LOG", "persona_mock=debug").args([
        "--port",
        "0",
        "--log-format",
        "json",
    ]));
    assert_eq!(
        post_challenge(&address, r#"{"claim-type":"age_over18_verified"}"#).status,
        200
    );
    let stderr = stderr_after(child);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let request = lines
        .iter()
        .find(|l| l["fields"]["message"] == "request")
        .unwrap_or_else(|| panic!("no request line in {stderr}"));
    assert_eq!(request["level"], "DEBUG");
    assert_eq!(
        request["fields"]["path"],
        "/api/privacy/v1/relays/challenge"
    );
    assert_eq!(request["fields"]["status"], 200);
    assert_eq!(request["fields"]["session"], "default");
    assert!(request["fields"]["duration_us"].is_u64());
}

#[test]
fn text_logs_to_a_pipe_have_no_colour_codes() {
    let (child, address) = start(
        binary()
            .env("RUST_LOG", "persona_mock=debug")
            .args(["--port", "0"]),
    );
    post_challenge(&address, r#"{"claim-type":"age_over18_verified"}"#);
    let stderr = stderr_after(child);
    assert!(stderr.contains("request"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "escape codes in {stderr:?}");
}

#[test]
fn the_health_subcommand_exits_0_when_serving_and_1_when_not() {
    let (mut child, address) = start(binary().args(["--port", "0"]));
    let (code, stdout, _) =
        run_to_end(binary().args(["health", "--url", &format!("http://{address}")]));
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        format!("persona-mock at http://{address} is serving\n")
    );
    assert_eq!(terminate(&mut child), 0);
    let (code, _, stderr) =
        run_to_end(binary().args(["health", "--url", &format!("http://{address}")]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.starts_with("persona-mock health: "), "{stderr}");
}

#[test]
fn health_and_report_call_a_url_that_is_not_http_a_configuration_mistake() {
    for args in [
        &["health", "--url", "https://mock.example"][..],
        &["report", "--url", "mock.example:9577", "--session", "s"][..],
    ] {
        let (code, _, stderr) = run_to_end(binary().args(args));
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains("--url must start with http://"),
            "{args:?}: {stderr}"
        );
    }
}

/// The `ENV` lines of the Dockerfile.
fn dockerfile_env() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(format!("{}/Dockerfile", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let joined = text.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|l| l.strip_prefix("ENV "))
        .flat_map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

#[test]
fn the_container_defaults_listen_beyond_loopback_and_answer_health_checks() {
    let env = dockerfile_env();
    assert!(
        env.contains(&("PERSONA_MOCK_HOST".into(), "0.0.0.0".into())),
        "{env:?}"
    );
    assert!(
        env.contains(&("PERSONA_MOCK_PORT".into(), "9577".into())),
        "{env:?}"
    );
    let mut command = binary();
    for (name, value) in &env {
        command.env(name, value);
    }
    // Port 0 instead of 9577, so the test never collides with a running mock.
    let (mut child, address) = start(command.env("PERSONA_MOCK_PORT", "0"));
    assert!(address.starts_with("0.0.0.0:"), "{address}");
    let port = address.rsplit(':').next().unwrap();
    // What the HEALTHCHECK runs: `persona-mock health` with the image's env.
    let (code, _, stderr) = run_to_end(binary().env("PERSONA_MOCK_PORT", port).arg("health"));
    assert_eq!(code, 0, "{stderr}");
    let local = format!("127.0.0.1:{port}");
    let mut stream = std::net::TcpStream::connect(&local).unwrap();
    write!(
        stream,
        "GET /__mock/requests HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    assert_eq!(
        parse_response(&bytes).unwrap().status,
        404,
        "the rest of the control API needs a token"
    );
    assert_eq!(terminate(&mut child), 0);
}

#[test]
fn help_lists_the_built_in_scenarios_and_typos_get_a_suggestion() {
    let (code, stdout, _) = run_to_end(binary().arg("--help"));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("Built-in scenarios (for --scenario):"),
        "{stdout}"
    );
    assert!(stdout.contains("  throttled-then-ok "), "{stdout}");
    let (code, _, stderr) =
        run_to_end(binary().args(["--port", "0", "--scenario", "throttled-then-okk"]));
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(r#"persona-mock: unknown scenario "throttled-then-okk" (did you mean "throttled-then-ok"?): give the name"#),
        "{stderr}"
    );
}

/// Starts the binary serving forty claim types of token type 2 (eighty RSA
/// keys to make, 50-150 ms each), so requests that need keys arrive while
/// they are being made.
fn start_with_many_rsa_keys(name: &str) -> (Child, String, std::path::PathBuf) {
    let dir = tempdir(name);
    let config = dir.join("mock.toml");
    let list: Vec<String> = (0..40).map(|i| format!("\"claim_{i}\"")).collect();
    std::fs::write(
        &config,
        format!(
            "token-type = 2\n[claim-types]\nonly = [{}]\n",
            list.join(", ")
        ),
    )
    .unwrap();
    let (child, address) = start(binary().args(["--port", "0", "--config"]).arg(&config));
    (child, address, dir)
}

/// Sends a challenge request for `claim_{i}` on a connection of its own,
/// waits at `sent` once it is written, then reads the answer (`None` if
/// the connection was reset or closed without one).
fn challenge_after(
    address: &str,
    i: usize,
    sent: Option<std::sync::Arc<std::sync::Barrier>>,
    answered: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> std::thread::JoinHandle<Option<Reply>> {
    let address = address.to_string();
    std::thread::spawn(move || {
        let body = format!(r#"{{"claim-type":"claim_{i}"}}"#);
        let mut stream = std::net::TcpStream::connect(&address).expect("connect");
        write!(
            stream,
            "POST /api/privacy/v1/relays/challenge HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        if let Some(sent) = sent {
            sent.wait();
        }
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        parse_response(&bytes)
    })
}

#[test]
fn while_rsa_keys_are_made_health_answers_before_the_requests_that_wait_for_them() {
    let (mut child, address, dir) = start_with_many_rsa_keys("rsa-health");
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|i| challenge_after(&address, i, None, answered.clone()))
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let health = get(&address, "/__mock/health");
    let before = answered.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(health.json()["keys"], "generating", "{}", health.text());
    assert_eq!(
        before, 0,
        "health waited for {before} requests that were making keys"
    );
    for client in clients {
        assert_eq!(client.join().unwrap().expect("answered").status, 200);
    }
    assert_eq!(terminate(&mut child), 0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sigterm_while_rsa_keys_are_made_answers_every_accepted_request() {
    let (mut child, address, dir) = start_with_many_rsa_keys("rsa-sigterm");
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Two requests that make keys first, then forty more behind them.
    let mut clients: Vec<_> = (0..2)
        .map(|i| challenge_after(&address, i, None, answered.clone()))
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let sent = std::sync::Arc::new(std::sync::Barrier::new(41));
    clients.extend(
        (0..40).map(|i| challenge_after(&address, i, Some(sent.clone()), answered.clone())),
    );
    // Every request is written (so the kernel accepted its connection)
    // before SIGTERM.
    sent.wait();
    assert_eq!(terminate(&mut child), 0);
    for client in clients {
        let reply = client
            .join()
            .unwrap()
            .expect("every accepted request is answered");
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert!(reply.json()["token-key"].is_string());
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn post_challenge_in(address: &str, session: &str, body: &str) -> Reply {
    let headers = [
        ("Persona-Mock-Session", session),
        ("Persona-Version", "2023-01-05"),
    ];
    post(address, "/api/privacy/v1/relays/challenge", &headers, body)
}

#[test]
fn report_exits_1_on_an_error_finding_0_without_and_2_when_it_cannot_judge() {
    let (mut child, address) = start(binary().args(["--port", "0"]));
    let url = format!("http://{address}");
    let unknown = r#"{"claim-type":"no_such_claim"}"#;
    for _ in 0..2 {
        assert_eq!(post_challenge_in(&address, "sloppy", unknown).status, 422);
    }
    let fine = r#"{"claim-type":"age_over18_verified"}"#;
    assert_eq!(post_challenge_in(&address, "tidy?ok%", fine).status, 200);
    let report = |session: &str, format: &str| {
        run_to_end(binary().args([
            "report",
            "--url",
            &url,
            "--session",
            session,
            "--format",
            format,
        ]))
    };

    let (code, out, _) = report("sloppy", "text");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error   retried-non-retryable"), "{out}");
    let (code, out, _) = report("sloppy", "junit");
    assert_eq!(code, 1);
    assert!(out.starts_with("<?xml"), "{out}");
    roxmltree::Document::parse(&out).expect("JUnit XML parses");
    let (code, out, _) = report("tidy?ok%", "json");
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["findings"], serde_json::json!([]));
    assert_eq!(
        json["session"], "tidy?ok%",
        "a session name with ? and % is encoded"
    );

    let (code, _, err) = report("nobody", "text");
    assert_eq!(code, 2);
    assert!(
        err.contains("answered 404") && err.contains("\"nobody\""),
        "{err}"
    );
    assert_eq!(terminate(&mut child), 0);
    // The mock is gone: it cannot be reached.
    let (code, _, err) = report("sloppy", "text");
    assert_eq!(code, 2);
    assert!(err.starts_with("persona-mock report: http://"), "{err}");
    let (code, _, _) = run_to_end(binary().args(["report", "--session", "x", "--url", "ftp://x"]));
    assert_eq!(code, 2);
}

/// A relay, then generate-claim without a token: its `WWW-Authenticate`.
fn challenge_header_of(address: &str) -> Option<String> {
    let body = r#"{"claim-type":"age_over18_verified"}"#;
    let relay = post(address, "/api/privacy/v1/relays", &[], body).json();
    let token = relay["relay-token"].as_str().unwrap();
    let path = format!("/api/privacy/v1/relays/{token}/generate-claim");
    let secret = relay["relay-secret"].as_str().unwrap();
    let reply = post(address, &path, &[("Persona-Relay-Secret", secret)], "{}");
    assert_eq!(reply.status, 401);
    reply.header("WWW-Authenticate").map(str::to_string)
}

#[test]
fn challenge_on_401_is_set_by_flag_environment_or_config() {
    let config = tempdir("challenge-on-401").join("mock.toml");
    std::fs::write(&config, "challenge-on-401 = true\n").unwrap();
    let config = config.to_str().unwrap().to_string();
    // Flags, an environment variable, and whether the header comes.
    type Run<'a> = (&'a [&'a str], Option<(&'a str, &'a str)>, bool);
    let runs: [Run; 4] = [
        (&[], None, false),
        (&["--challenge-on-401"], None, true),
        (&[], Some(("PERSONA_MOCK_CHALLENGE_ON_401", "true")), true),
        (&["--config", &config], None, true),
    ];
    for (flags, env, expected) in runs {
        let mut command = binary();
        command.args(["--port", "0", "--seed", "1"]).args(flags);
        if let Some((name, value)) = env {
            command.env(name, value);
        }
        let (mut child, address) = start(&mut command);
        let header = challenge_header_of(&address);
        assert_eq!(header.is_some(), expected, "{flags:?} {env:?}: {header:?}");
        if let Some(header) = header {
            assert!(header.starts_with("PrivateToken challenge=\""), "{header}");
            assert!(header.contains("token-key=\""), "{header}");
        }
        assert_eq!(terminate(&mut child), 0);
    }
}
