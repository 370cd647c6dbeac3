//! The README's examples stay true.

use persona_mock::Settings;
use std::path::Path;

fn readme() -> String {
    std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The first fenced block of `lang` after `heading`.
fn block_after(text: &str, heading: &str, lang: &str) -> String {
    let section = &text[text.find(heading).unwrap_or_else(|| panic!("no {heading}"))..];
    let start = section.find(&format!("```{lang}\n")).unwrap() + lang.len() + 4;
    let end = section[start..].find("```").unwrap();
    section[start..start + end].to_string()
}

#[test]
fn the_readme_config_file_loads_and_states_the_defaults() {
    let text = block_after(&readme(), "## Config file", "toml");
    let settings =
        Settings::from_toml(&text, Path::new("README.md")).unwrap_or_else(|e| panic!("{e}"));
    let defaults = Settings::default();
    assert_eq!(settings.sandbox, defaults.sandbox);
    assert_eq!(settings.production, defaults.production);
    assert_eq!(settings.wire_format(), defaults.wire_format());
    assert_eq!(settings.rate_limit, defaults.rate_limit);
    assert_eq!(settings.rate_limit_window, defaults.rate_limit_window);
    assert_eq!(settings.max_body_bytes, defaults.max_body_bytes);
    assert_eq!(settings.issuer_name, defaults.issuer_name);
    assert_eq!(settings.origin_info, defaults.origin_info);
    assert_eq!(settings.claim_types.len(), defaults.claim_types.len() + 1);
    assert_eq!(settings.journal, defaults.journal);
    assert_eq!(settings.strict, defaults.strict);
}

#[tokio::test]
async fn the_readme_curl_output_is_what_seed_7_serves() {
    let expected = block_after(&readme(), "## Try it", "json");
    let server =
        crate::support::TestServer::with(persona_mock::MockServer::builder().seed(7)).await;
    let reply = server
        .challenge(r#"{"claim-type": "age_over18_verified"}"#, &[])
        .await;
    assert_eq!(reply.text(), expected.trim_end());
}

#[test]
fn the_readme_lists_every_shipped_scenario() {
    let text = readme();
    let section = &text[text.find("### Shipped scenarios").unwrap()
        ..text.find("### Choosing a scenario").unwrap()];
    let set = persona_mock::testing::ScenarioSet::load(&[], &[]).unwrap();
    let listed = section.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(listed, set.iter().count());
    for scenario in set.iter() {
        assert!(
            section.contains(&format!("| `{}` |", scenario.name)),
            "{} is not in the README",
            scenario.name
        );
    }
}

#[test]
fn the_readme_scenario_example_is_the_shipped_file() {
    let example = block_after(&readme(), "## Scenarios", "toml");
    let shipped = std::fs::read_to_string(format!(
        "{}/scenarios/throttled-then-ok.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    assert_eq!(example, shipped);
}

#[test]
fn the_readme_lists_every_control_endpoint() {
    let text = readme();
    let section =
        &text[text.find("## Control API").unwrap()..text.find("### The journal").unwrap()];
    for endpoint in [
        "/__mock/health",
        "/__mock/requests",
        "/__mock/reset",
        "/__mock/sessions/{id}",
        "/__mock/scenarios",
        "/__mock/scenarios/{name}",
        "/__mock/keys",
        "/__mock/unmatched",
    ] {
        assert!(section.contains(endpoint), "{endpoint} is not documented");
    }
}

#[test]
fn the_readme_limits_are_the_defaults() {
    let limits = persona_mock::Limits::default();
    let text = readme();
    let section = &text[text.find("## Limits").unwrap()..text.find("## Profiles").unwrap()];
    assert!(section.contains(&format!("| {} KiB |", limits.max_header_bytes / 1024)));
    assert!(section.contains(&format!("| {} |", limits.max_headers)));
    assert!(section.contains(&format!("| {} s |", limits.header_read_timeout.as_secs())));
    assert!(section.contains("| 1,024 |") && limits.max_connections == 1024);
}

#[test]
fn the_readme_docker_commands_match_the_dockerfile() {
    let dockerfile =
        std::fs::read_to_string(format!("{}/Dockerfile", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let text = readme();
    let section = &text[text.find("### Docker").unwrap()..];
    assert!(dockerfile.contains("EXPOSE 9577"));
    assert!(section.contains("docker build -t persona-mock ."));
    assert!(section.contains("docker run --rm -p 9577:9577 persona-mock"));
    assert!(dockerfile.contains(r#"CMD ["/usr/local/bin/persona-mock", "health"]"#));
    assert!(dockerfile.contains("USER nonroot"));
    let compose =
        std::fs::read_to_string(format!("{}/docker-compose.yml", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
    assert!(compose.contains(r#"test: ["CMD", "/usr/local/bin/persona-mock", "health"]"#));
}

#[test]
fn the_readme_ci_recipe_runs_as_written() {
    let text = readme();
    let recipe = block_after(&text, "### In GitHub Actions", "yaml");
    let script: String = recipe
        .split_once("run: |\n")
        .unwrap()
        .1
        .lines()
        .map(|l| l.trim_start())
        .collect::<Vec<_>>()
        .join("\n");
    let dir = std::env::temp_dir().join(format!("persona-mock-ci-recipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let github_env = dir.join("github_env");
    std::fs::write(&github_env, "").unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_persona-mock"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let status = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&dir)
        .env("PATH", &path)
        .env("GITHUB_ENV", &github_env)
        .env_remove("PERSONA_MOCK_PORT")
        .status()
        .unwrap();
    let exported = std::fs::read_to_string(&github_env).unwrap();
    let value = |name: &str| {
        exported
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    if !status.success()
        && let Some(pid) = value("PERSONA_MOCK_PID")
    {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
    }
    assert!(status.success(), "the recipe failed: {exported}");
    let url = value("PERSONA_API_URL").expect("the recipe exports the URL");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    // The report step, after a client that repeats a refused request in
    // session `ci`: it writes JUnit XML and fails.
    let address = url.trim_start_matches("http://");
    for _ in 0..2 {
        use std::io::{Read, Write};
        let body = r#"{"claim-type":"no_such_claim"}"#;
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        write!(
            stream,
            "POST /api/privacy/v1/relays/challenge HTTP/1.1\r\nHost: {address}\r\nPersona-Mock-Session: ci\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        stream.read_to_end(&mut Vec::new()).unwrap();
    }
    let step = text
        .split_once("- name: Persona contract report")
        .expect("the README's report step")
        .1;
    let step_script: String = step
        .split_once("run: |\n")
        .unwrap()
        .1
        .split("```")
        .next()
        .unwrap()
        .lines()
        .map(|l| l.trim_start())
        .collect::<Vec<_>>()
        .join("\n");
    let output = std::process::Command::new("bash")
        .args(["-eo", "pipefail", "-c", &step_script])
        .current_dir(&dir)
        .env("PATH", &path)
        .env("PERSONA_API_URL", &url)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains("error   retried-non-retryable"),
        "{printed}"
    );
    let junit = std::fs::read_to_string(dir.join("persona-contract.xml")).unwrap();
    let document = roxmltree::Document::parse(&junit).expect("JUnit XML");
    assert!(document.descendants().any(|n| n.has_tag_name("failure")));
    if let Some(pid) = value("PERSONA_MOCK_PID") {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_readme_relay_example_is_what_seed_7_creates_first() {
    let text = readme();
    let expected = block_after(&text, "## The Relay flow", "json");
    let server =
        crate::support::TestServer::with(persona_mock::MockServer::builder().seed(7)).await;
    let reply = crate::support::send(
        server.addr(),
        "POST",
        "/api/privacy/v1/relays",
        &[("Content-Type", "application/json")],
        br#"{"claim-type": "age_over18_verified", "encryption-key-pem": null}"#,
    )
    .await;
    let json = reply.json();
    let token = json["relay-token"].as_str().unwrap();
    let secret = json["relay-secret"].as_str().unwrap();
    assert!(
        expected.contains(&format!(r#""relay-token":"{token}""#)),
        "{expected}"
    );
    assert!(
        expected.contains(&format!(r#""relay-secret":"{secret}""#)),
        "{expected}"
    );
    assert!(text.contains(&format!("/api/privacy/v1/relays/{token}/generate-claim")));
    let session_token = json["relay-session-access-token"].as_str().unwrap();
    let header = session_token.split('.').next().unwrap();
    assert!(
        expected.contains(&format!(r#""relay-session-access-token":"{header}."#)),
        "the seeded session token's header: {expected}"
    );
}
