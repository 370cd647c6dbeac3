#![forbid(unsafe_code)]
//! The `persona-mock` binary: flags, logging, the ready line, signals.
//! Everything else lives in the library.

use clap::{Parser, Subcommand};
use persona_mock::{
    EXIT_CONFIG, EXIT_RUNTIME, KeySource, Limit, MockServer, Profile, SettingError, Settings,
    StartError, TokenType, write_key_set,
};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// A mock of Persona's Relay / Privacy Pass API for tests.
#[derive(Parser, Debug)]
#[command(name = "persona-mock", version, about)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "PERSONA_MOCK_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free port (the ready line names it).
    #[arg(long, env = "PERSONA_MOCK_PORT", default_value_t = 9577)]
    port: u16,
    /// TOML config file (see the README for every setting).
    #[arg(long, env = "PERSONA_MOCK_CONFIG", value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Wire profile; overrides the config file's `profile`.
    #[arg(long, env = "PERSONA_MOCK_PROFILE", value_enum, global = true)]
    profile: Option<Profile>,
    /// Makes keys, redemption contexts and request ids deterministic.
    #[arg(long, env = "PERSONA_MOCK_SEED", value_name = "N", global = true)]
    seed: Option<u64>,
    /// Token type of every claim type: 1 (VOPRF P-384) or 2 (Blind RSA
    /// 2048); overrides the profile's and the config file's `token-type`.
    #[arg(long, env = "PERSONA_MOCK_TOKEN_TYPE", value_name = "1|2", global = true,
          value_parser = clap::value_parser!(u8).range(1..=2))]
    token_type: Option<u8>,
    /// Scenario for requests that name none: a scenario name or a .toml file.
    #[arg(long, env = "PERSONA_MOCK_SCENARIO", value_name = "NAME|FILE")]
    scenario: Option<String>,
    /// A folder of scenario files, besides the built-in ones (repeatable;
    /// the environment variable takes a ':'-separated list).
    #[arg(
        long = "scenarios-dir",
        env = "PERSONA_MOCK_SCENARIOS_DIR",
        value_name = "DIR",
        value_delimiter = ':'
    )]
    scenarios_dirs: Vec<PathBuf>,
    /// Collect requests to paths the mock does not implement, for
    /// `GET /__mock/unmatched`.
    #[arg(long, env = "PERSONA_MOCK_STRICT")]
    strict: bool,
    /// Generate-claim without a token answers 401 with a real challenge for
    /// the relay in `WWW-Authenticate: PrivateToken challenge=…, token-key=…`
    /// (Persona's older guides) instead of the current bare 401.
    #[arg(long, env = "PERSONA_MOCK_CHALLENGE_ON_401")]
    challenge_on_401: bool,
    /// Turn the request journal off.
    #[arg(long, env = "PERSONA_MOCK_NO_JOURNAL")]
    no_journal: bool,
    /// Serve the control API on any address, to requests that send
    /// `Persona-Mock-Token: TOKEN`.
    #[arg(long, env = "PERSONA_MOCK_CONTROL_TOKEN", value_name = "TOKEN")]
    control_token: Option<String>,
    /// A host name (besides loopback names) under which the control API and
    /// the hosted page are served on a loopback address (repeatable; the
    /// environment variable takes a ','-separated list).
    #[arg(
        long = "allowed-host",
        env = "PERSONA_MOCK_ALLOWED_HOSTS",
        value_name = "NAME",
        value_delimiter = ','
    )]
    allowed_hosts: Vec<String>,
    /// Keep API keys whole in the request journal (for local debugging;
    /// masked to their environment prefix by default).
    #[arg(long, env = "PERSONA_MOCK_JOURNAL_API_KEYS")]
    journal_api_keys: bool,
    /// Largest request body, bytes (larger gets 413).
    #[arg(long, env = "PERSONA_MOCK_MAX_BODY_BYTES", value_name = "N")]
    max_body_bytes: Option<u64>,
    /// Largest request line and headers, bytes (larger gets 431).
    #[arg(long, env = "PERSONA_MOCK_MAX_HEADER_BYTES", value_name = "N")]
    max_header_bytes: Option<u64>,
    /// Most header lines in a request (more gets 431).
    #[arg(long, env = "PERSONA_MOCK_MAX_HEADERS", value_name = "N")]
    max_headers: Option<u64>,
    /// Time a client has to send a request's headers before it is dropped, ms.
    #[arg(long, env = "PERSONA_MOCK_HEADER_READ_TIMEOUT_MS", value_name = "MS")]
    header_read_timeout_ms: Option<u64>,
    /// Time a client has to send a request's body (slower gets 408), ms.
    #[arg(long, env = "PERSONA_MOCK_BODY_READ_TIMEOUT_MS", value_name = "MS")]
    body_read_timeout_ms: Option<u64>,
    /// Connections served at once; more wait until one closes.
    #[arg(long, env = "PERSONA_MOCK_MAX_CONNECTIONS", value_name = "N")]
    max_connections: Option<u64>,
    /// The longest a scripted hang or delay holds a request, seconds.
    #[arg(long, env = "PERSONA_MOCK_MAX_FAULT_S", value_name = "S")]
    max_fault_s: Option<u64>,
    /// Log format on stderr: `text` or `json` (one object per line).
    #[arg(
        long,
        env = "PERSONA_MOCK_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Writes a key set (PKCS#8 PEM, one per claim type and namespace) that
    /// the config file's `[keys] dir` can load.
    Keygen {
        /// Folder to write `production/<claim type>.pem` and
        /// `sandbox/<claim type>.pem` into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Replace existing key files.
        #[arg(long)]
        force: bool,
    },
    /// Asks a running mock whether it is serving (`GET /__mock/health`);
    /// exits 0 if it is, 1 if not. For container health checks, where
    /// minimal images have no curl.
    Health {
        /// The mock's base URL (default: loopback on `PERSONA_MOCK_PORT`,
        /// else 9577).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// Prints a session's contract report from a running mock (what the
    /// client did against Persona's contract) and exits 1 if it has an
    /// error finding, 0 if not, and 2 if the mock cannot be reached or has
    /// no request of the session. For a CI step after the client's tests.
    Report {
        /// The mock's base URL (default: loopback on `PERSONA_MOCK_PORT`,
        /// else 9577).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// The session to judge (its Persona-Mock-Session, or its API key).
        #[arg(long, value_name = "ID")]
        session: String,
        /// How to print it.
        #[arg(long, value_enum, default_value = "text")]
        format: ReportFormat,
        /// The mock's control token, when it listens beyond loopback.
        #[arg(long, env = "PERSONA_MOCK_CONTROL_TOKEN", value_name = "TOKEN")]
        control_token: Option<String>,
    },
}

/// How `persona-mock report` prints the report.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ReportFormat {
    /// A short summary.
    Text,
    /// The JSON of `GET /__mock/sessions/{id}/report`.
    Json,
    /// JUnit XML, for CI systems' test views.
    Junit,
}

fn main() -> ExitCode {
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(error) => {
            let source = environment_source(&error);
            let _ = error.print();
            if let Some(variable) = source {
                eprintln!("persona-mock: that value came from the environment variable {variable}");
            }
            return ExitCode::from(if error.use_stderr() { EXIT_CONFIG } else { 0 });
        }
    };
    init_logs(cli.log_format);
    if let Some(Command::Health { url }) = &cli.command {
        let url = url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", cli.port));
        return health(&url);
    }
    if let Some(Command::Report {
        url,
        session,
        format,
        control_token,
    }) = &cli.command
    {
        let url = url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", cli.port));
        return print_report(&url, session, *format, control_token.as_deref());
    }
    let mut settings = match &cli.config {
        Some(path) => match Settings::from_file(path) {
            Ok(settings) => settings,
            Err(errors) => {
                eprintln!("{errors}");
                eprintln!("persona-mock: the config file has errors; nothing was started");
                return ExitCode::from(EXIT_CONFIG);
            }
        },
        None => Settings::default(),
    };
    if let Some(profile) = cli.profile {
        settings.profile = profile;
    }
    if let Some(seed) = cli.seed {
        settings.seed = Some(seed);
    }
    if let Some(code) = cli.token_type {
        settings.token_type = TokenType::from_code(u16::from(code));
        settings.token_types.clear();
    }
    if let Some(scenario) = cli.scenario {
        settings.scenario = Some(scenario);
    }
    settings.scenarios_dirs.extend(cli.scenarios_dirs);
    if cli.strict {
        settings.strict = true;
    }
    if cli.challenge_on_401 {
        settings.challenge_on_401 = true;
    }
    if cli.no_journal {
        settings.journal = None;
    }
    if let Some(bytes) = cli.max_body_bytes {
        settings.max_body_bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
    }
    for (limit, value) in Limit::ALL.into_iter().zip([
        cli.max_header_bytes,
        cli.max_headers,
        cli.header_read_timeout_ms,
        cli.body_read_timeout_ms,
        cli.max_connections,
        cli.max_fault_s,
    ]) {
        if let Some(value) = value {
            settings.limits.set(limit, value);
        }
    }
    settings.allowed_hosts.extend(cli.allowed_hosts);
    if cli.journal_api_keys {
        settings.mask_api_keys = false;
    }
    if let Some(token) = cli.control_token {
        settings.control_token = Some(token);
    }
    // The config file was checked on its own; what is wrong now came from
    // a flag (or its environment variable).
    if let Err(errors) = settings.validate() {
        for error in &errors.0 {
            eprintln!("persona-mock: {}", as_flag(error));
        }
        return ExitCode::from(EXIT_CONFIG);
    }
    match cli.command {
        Some(Command::Keygen { out, force }) => keygen(&settings, &out, force),
        Some(Command::Health { .. } | Command::Report { .. }) => {
            unreachable!("answered before the settings")
        }
        None => serve(settings, cli.host, cli.port),
    }
}

fn keygen(settings: &Settings, out: &std::path::Path, force: bool) -> ExitCode {
    let source = settings.seed.map_or(KeySource::Random, KeySource::Seeded);
    match write_key_set(out, &settings.claim_token_types(), source, force) {
        Ok(written) => {
            println!("wrote {} keys to {}", written.len(), out.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("persona-mock: {error}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

fn serve(settings: Settings, host: String, port: u16) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("persona-mock: cannot start the runtime: {error}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    runtime.block_on(async move {
        let stop = shutdown_signal();
        let bound = match MockServer::builder()
            .settings(settings)
            .host(host)
            .port(port)
            .bind()
            .await
        {
            Ok(bound) => bound,
            Err(error) => {
                report(&error);
                return ExitCode::from(error.exit_code());
            }
        };
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "persona-mock listening on {}", bound.url());
        let _ = stdout.flush();
        drop(stdout);
        bound.serve(stop).await;
        ExitCode::SUCCESS
    })
}

/// Parses the command line; `--help` also lists the built-in scenarios
/// (they are loaded only then, so startup does not pay for it).
fn parse_cli() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let mut command = Cli::command();
    if std::env::args().any(|a| a == "--help" || a == "-h" || a == "help") {
        let list: Vec<String> = persona_mock::built_in_scenarios()
            .into_iter()
            .map(|(name, description)| format!("  {name:<24} {description}"))
            .collect();
        command = command.after_help(format!(
            "Built-in scenarios (for --scenario):\n{}",
            list.join("\n")
        ));
    }
    command
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches))
}

/// The environment variable a refused value came from, when the flag was
/// not on the command line but its variable is set.
fn environment_source(error: &clap::Error) -> Option<String> {
    use clap::CommandFactory;
    use clap::error::{ContextKind, ContextValue};
    let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = arg.split_whitespace().next()?.trim_start_matches("--");
    let command = Cli::command();
    let flag = command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))?;
    let variable = flag.get_env()?.to_str()?.to_string();
    let on_command_line =
        std::env::args().any(|a| a == format!("--{long}") || a.starts_with(&format!("--{long}=")));
    (!on_command_line && std::env::var_os(&variable).is_some()).then_some(variable)
}

/// `GET {url}/__mock/health` over plain HTTP/1.1, within 5 s.
fn health(url: &str) -> ExitCode {
    let mock = match Running::at(url) {
        Ok(mock) => mock,
        Err(error) => {
            eprintln!("persona-mock health: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match mock.get("/__mock/health", None) {
        Ok((200, _)) => {
            println!("persona-mock at {url} is serving");
            ExitCode::SUCCESS
        }
        Ok((status, _)) => {
            eprintln!("persona-mock health: {url} answered {status}");
            ExitCode::from(EXIT_RUNTIME)
        }
        Err(error) => {
            eprintln!("persona-mock health: {error}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// `persona-mock report`: exit 1 with an error finding, 0 without, 2 when
/// the report cannot be had.
fn print_report(url: &str, session: &str, format: ReportFormat, token: Option<&str>) -> ExitCode {
    let mock = match Running::at(url) {
        Ok(mock) => mock,
        Err(error) => {
            eprintln!("persona-mock report: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let path = |format: &str| {
        let id = percent_encoding::utf8_percent_encode(session, percent_encoding::NON_ALPHANUMERIC);
        format!("/__mock/sessions/{id}/report?format={format}")
    };
    let fetch = |format: &str| match mock.get(&path(format), token) {
        Ok((200, body)) => Ok(body),
        Ok((status, body)) => {
            let details = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["errors"][0]["details"].as_str().map(str::to_string))
                .unwrap_or(body);
            Err(format!("{url} answered {status}: {details}"))
        }
        Err(error) => Err(error),
    };
    let result = fetch("json").and_then(|json| {
        let report: serde_json::Value = serde_json::from_str(&json)
            .map_err(|e| format!("{url} answered a report that is not JSON: {e}"))?;
        let errors = report["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["severity"] == "error"));
        let printed = match format {
            ReportFormat::Json => json,
            ReportFormat::Text => fetch("text")?,
            ReportFormat::Junit => fetch("junit")?,
        };
        Ok((errors, printed))
    });
    match result {
        Ok((errors, printed)) => {
            print!("{printed}");
            if !printed.ends_with('\n') {
                println!();
            }
            ExitCode::from(u8::from(errors))
        }
        Err(error) => {
            eprintln!("persona-mock report: {error}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// A running mock, by the `--url` of `health` and `report`.
struct Running<'a> {
    url: &'a str,
    /// `host:port` of the URL.
    authority: &'a str,
}

impl<'a> Running<'a> {
    /// The mock at `url`; an URL that is not `http://…` is a configuration
    /// mistake.
    fn at(url: &'a str) -> Result<Running<'a>, String> {
        let Some(authority) = url.strip_prefix("http://").map(|a| a.trim_end_matches('/')) else {
            return Err(format!("--url must start with http:// (got {url:?})"));
        };
        Ok(Running { url, authority })
    }

    /// `GET` of a control path over HTTP/1.1: its status and body, or why
    /// there is none (within 5 s per step).
    fn get(&self, path: &str, token: Option<&str>) -> Result<(u16, String), String> {
        use std::io::Read;
        use std::net::ToSocketAddrs;
        let Running { url, authority } = *self;
        let timeout = std::time::Duration::from_secs(5);
        let response = (|| -> std::io::Result<Vec<u8>> {
            let address = authority
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| std::io::Error::other("no address"))?;
            let mut stream = std::net::TcpStream::connect_timeout(&address, timeout)?;
            stream.set_read_timeout(Some(timeout))?;
            let token = token
                .map(|t| format!("Persona-Mock-Token: {t}\r\n"))
                .unwrap_or_default();
            write!(
                stream,
                "GET {path} HTTP/1.1\r\nHost: {authority}\r\n{token}Connection: close\r\n\r\n"
            )?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response)?;
            Ok(response)
        })()
        .map_err(|error| format!("{url}: {error}"))?;
        let text = String::from_utf8_lossy(&response);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("{url} did not answer HTTP/1.1"))?;
        Ok((status, body.to_string()))
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    /// One line of text per event.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Logs to stderr, filtered by `RUST_LOG` (warnings by default); colour
/// only on a terminal without `NO_COLOR`.
fn init_logs(format: LogFormat) {
    use std::io::IsTerminal;
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_ansi(colour);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}

/// Prints why the mock could not start.
fn report(error: &StartError) {
    match error {
        StartError::KeyFiles(_) => {
            eprintln!("{error}");
            eprintln!("persona-mock: the key files have errors; nothing was started");
        }
        StartError::Scenarios(_) => {
            eprintln!("{error}");
            eprintln!("persona-mock: the scenario files have errors; nothing was started");
        }
        _ => eprintln!("persona-mock: {error}"),
    }
}

/// A setting's error as the flag that set it would say it.
fn as_flag(error: &SettingError) -> String {
    let flag = Limit::ALL
        .into_iter()
        .find(|l| l.key() == error.key)
        .map(Limit::name)
        .or(match error.key {
            "max-body-bytes" | "control-token" | "scenario" => Some(error.key),
            _ => None,
        });
    match flag {
        Some(flag) => format!("--{flag} {}", error.problem),
        None => error.to_string(),
    }
}

/// Listens for SIGINT and SIGTERM from now on; the future completes on
/// either. Listening starts before the socket is bound, so a signal sent
/// right after the ready line is never missed.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                _ => {
                    tracing::warn!("cannot listen for SIGTERM; only Ctrl-C stops the server");
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
