//! The in-process handle Rust tests use: a running server's address, its
//! journal, resets, scenario bindings and uploads, and shutdown.

use super::server::MockServerBuilder;
use crate::api::ApiError;
use crate::journal::JournalEntry;
use crate::state::State;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running mock server; dropping it shuts the server down.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use persona_mock::MockServer;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let server = MockServer::builder().start().await?;
/// let body = r#"{"claim-type":"age_over18_verified"}"#;
/// let mut stream = tokio::net::TcpStream::connect(server.address()).await?;
/// stream.write_all(format!(
///     "POST /api/privacy/v1/relays/challenge HTTP/1.1\r\nHost: mock\r\n\
///      Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
///     body.len()
/// ).as_bytes()).await?;
/// let mut response = String::new();
/// stream.read_to_string(&mut response).await?;
/// assert!(response.starts_with("HTTP/1.1 200 OK"));
/// assert!(response.contains(r#""token-key":"MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE"#));
/// server.shutdown().await;
/// # Ok(())
/// # }
/// ```
pub struct MockServer {
    /// The address actually bound.
    pub(super) address: SocketAddr,
    /// The shared state, for the methods that inspect and reset it.
    pub(super) app: Arc<State>,
    /// Tells the serving task to stop; taken on shutdown or drop.
    pub(super) stop: Option<oneshot::Sender<()>>,
    /// The serving task, awaited by [`MockServer::shutdown`].
    pub(super) task: Option<JoinHandle<()>>,
}

impl MockServer {
    /// A builder with the built-in defaults, binding `127.0.0.1:0`.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    /// The base URL to point clients at, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The bound socket address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The requests the mock received (of one session, or all), oldest
    /// first, with what it answered; empty when the journal is off.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use persona_mock::MockServer;
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let server = MockServer::builder().start().await?;
    /// let body = r#"{"claimType":"age_over21_verified"}"#;
    /// let mut stream = tokio::net::TcpStream::connect(server.address()).await?;
    /// stream.write_all(format!(
    ///     "POST /api/privacy/v1/relays/challenge HTTP/1.1\r\nHost: mock\r\n\
    ///      Persona-Mock-Session: my-test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
    ///     body.len()
    /// ).as_bytes()).await?;
    /// stream.read_to_end(&mut Vec::new()).await?;
    ///
    /// let requests = server.received_requests(Some("my-test"));
    /// assert_eq!(requests.len(), 1);
    /// assert_eq!(requests[0].body, body);
    /// assert_eq!(requests[0].status, 200);
    /// # Ok(())
    /// # }
    /// ```
    pub fn received_requests(&self, session: Option<&str>) -> Vec<JournalEntry> {
        self.app
            .journal()
            .map(|j| j.view(session).requests)
            .unwrap_or_default()
    }

    /// The session's contract report, as `GET /__mock/sessions/{id}/report`
    /// gives it; fails with the journal off or for a session it has no
    /// request of. End a test with [`crate::report::Report::assert_clean`]:
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use persona_mock::MockServer;
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let server = MockServer::builder().start().await?;
    /// let body = r#"{"claim-type":"age_over21_verified"}"#;
    /// let mut stream = tokio::net::TcpStream::connect(server.address()).await?;
    /// stream.write_all(format!(
    ///     "POST /api/privacy/v1/relays/challenge HTTP/1.1\r\nHost: mock\r\n\
    ///      Persona-Mock-Session: my-test\r\nPersona-Version: 2023-01-05\r\n\
    ///      Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
    ///     body.len()
    /// ).as_bytes()).await?;
    /// stream.read_to_end(&mut Vec::new()).await?;
    ///
    /// let report = server.report("my-test")?;
    /// assert_eq!(report.requests, 1);
    /// report.assert_clean();
    /// # Ok(())
    /// # }
    /// ```
    pub fn report(&self, session: &str) -> Result<crate::report::Report, ApiError> {
        self.app.report(session)
    }

    /// Checks expectations against the session's journal, as
    /// `POST /__mock/sessions/{id}/verify` does.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use persona_mock::report::Expectation;
    /// # let server = persona_mock::MockServer::builder().start().await?;
    /// # let body = r#"{"claim-type":"age_over21_verified"}"#;
    /// # use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// # let mut stream = tokio::net::TcpStream::connect(server.address()).await?;
    /// # stream.write_all(format!("POST /api/privacy/v1/relays/challenge HTTP/1.1\r\nHost: mock\r\nPersona-Mock-Session: my-test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).as_bytes()).await?;
    /// # stream.read_to_end(&mut Vec::new()).await?;
    /// let issued = Expectation::endpoint("issue").unwrap().count(0);
    /// let asked = Expectation::endpoint("challenge").unwrap().status(200).count(1);
    /// assert!(server.verify("my-test", &[issued, asked])?.ok);
    /// # Ok(())
    /// # }
    /// ```
    pub fn verify(
        &self,
        session: &str,
        expectations: &[crate::report::Expectation],
    ) -> Result<crate::report::Verification, ApiError> {
        self.app.verify(session, expectations)
    }

    /// Resets one session (or all): scenario progress, rate-limit windows
    /// and journal, as `POST /__mock/reset` does.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = persona_mock::MockServer::builder().start().await?;
    /// server.reset(Some("my-test"));
    /// server.reset(None);
    /// assert!(server.received_requests(None).is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn reset(&self, session: Option<&str>) {
        self.app.reset(session);
    }

    /// Binds a scenario to a session (`None` unbinds), as
    /// `PUT /__mock/sessions/{id}` does; the session starts it from its
    /// first step. Fails for an unknown scenario.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = persona_mock::MockServer::builder().start().await?;
    /// server.bind_scenario("my-test", Some("throttled-then-ok"))?;
    /// assert!(server.bind_scenario("my-test", Some("no-such-scenario")).is_err());
    /// server.bind_scenario("my-test", None)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn bind_scenario(&self, session: &str, scenario: Option<&str>) -> Result<(), ApiError> {
        self.app.bind_scenario(session, scenario)
    }

    /// Adds (or replaces) a scenario from TOML text, validated like a file,
    /// as `PUT /__mock/scenarios/{name}` does.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = persona_mock::MockServer::builder().start().await?;
    /// server.upload_scenario("always-503", "[[step]]\nstatus = 503\ntimes = \"always\"\n")?;
    /// server.bind_scenario("my-test", Some("always-503"))?;
    /// server.delete_scenario("always-503")?;
    /// assert!(server.upload_scenario("bad", "[[step]]\nstatus = 99\n").is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn upload_scenario(&self, name: &str, toml: &str) -> Result<(), ApiError> {
        self.app.upload_scenario(name, toml).map(|_| ())
    }

    /// Deletes an uploaded scenario, as `DELETE /__mock/scenarios/{name}`
    /// does.
    pub fn delete_scenario(&self, name: &str) -> Result<(), ApiError> {
        self.app.delete_scenario(name)
    }

    /// Stops accepting connections and waits for in-flight requests.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
