//! The library API from a user's crate: what it exports at the root, and
//! settings built in code checked like a config file.

use crate::support::{CHALLENGE, send};
use persona_mock::{ManualClock, MockServer, Settings, StartError};

#[tokio::test]
async fn the_builder_refuses_settings_the_config_file_would_refuse() {
    let settings = Settings {
        issuer_name: String::new(),
        ..Settings::default()
    };
    let error = MockServer::builder()
        .settings(settings)
        .start()
        .await
        .err()
        .expect("an empty issuer name is refused");
    assert!(matches!(error, StartError::Settings(_)), "{error:?}");
    assert_eq!(error.exit_code(), 2);
    assert!(
        error
            .to_string()
            .starts_with("issuer-name \"\" is not a host name"),
        "{error}"
    );
}

#[tokio::test]
async fn a_malformed_environment_id_is_an_error_not_a_panic() {
    let mut settings = Settings::default();
    settings.production.environment_id = "env_\u{7f}".into();
    let result = MockServer::builder().settings(settings).start().await;
    let error = result.err().expect("refused");
    assert!(error.to_string().contains("environment id"), "{error}");
}

#[tokio::test]
async fn root_exports_cover_the_public_signatures() {
    // `MockServerBuilder::clock` takes a `Clock`; the manual one is at the root.
    let clock = ManualClock::new();
    let server = MockServer::builder()
        .clock(clock.clone())
        .start()
        .await
        .expect("starts");
    let body = br#"{"claim-type":"age_over18_verified"}"#;
    assert_eq!(
        send(server.address(), "POST", CHALLENGE, &[], body)
            .await
            .status,
        200
    );
    let entries: Vec<persona_mock::JournalEntry> = server.received_requests(None);
    assert_eq!(entries.len(), 1);
    let _: Result<(), persona_mock::ApiError> = server.bind_scenario("s", None);
}
