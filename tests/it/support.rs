//! Helpers shared by the integration tests: a server on port 0 per test, a
//! raw HTTP/1.1 client, and an RFC 9577 challenge decoder written apart from
//! the crate's own.

use persona_mock::{MockServer, MockServerBuilder};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const CHALLENGE: &str = "/api/privacy/v1/relays/challenge";

/// A response as a client sees it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The value of a header (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("body is UTF-8")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }
}

/// A mock server for one test.
pub struct TestServer {
    pub server: MockServer,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::with(MockServer::builder()).await
    }

    pub async fn with(builder: MockServerBuilder) -> TestServer {
        TestServer {
            server: builder.start().await.expect("server starts"),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.address()
    }

    /// POSTs a JSON body to the challenge endpoint at another address.
    pub async fn challenge_at(&self, addr: SocketAddr, body: &str) -> Reply {
        send(
            addr,
            "POST",
            CHALLENGE,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .await
    }

    /// POSTs a JSON body to the challenge endpoint with extra headers.
    pub async fn challenge(&self, body: &str, headers: &[(&str, &str)]) -> Reply {
        let mut all = vec![("Content-Type", "application/json")];
        all.extend_from_slice(headers);
        send(self.addr(), "POST", CHALLENGE, &all, body.as_bytes()).await
    }
}

/// Sends one request on a fresh connection and reads the whole response.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    send_raw(addr, &raw).await.expect("a complete response")
}

/// The parameters of a `WWW-Authenticate: PrivateToken` value, read by hand
/// (RFC 9110 auth-params, each a quoted string), by name.
pub fn private_token_params(header: &str) -> std::collections::HashMap<String, String> {
    let params = header
        .strip_prefix("PrivateToken ")
        .unwrap_or_else(|| panic!("not a PrivateToken challenge: {header}"));
    params
        .split(", ")
        .map(|param| {
            let (name, value) = param.split_once('=').unwrap();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or_else(|| panic!("{name} is not a quoted string: {header}"));
            (name.to_string(), value.to_string())
        })
        .collect()
}

/// The hosted page for a session token (`GET /relay?relay-session-access-token=…`).
pub async fn hosted_page(addr: SocketAddr, token: &str) -> Reply {
    let path = format!("/relay?relay-session-access-token={token}");
    send(addr, "GET", &path, &[], b"").await
}

/// The control API's view of one relay (`GET /__mock/relays/{token}`).
pub async fn relay_view(addr: SocketAddr, token: &str) -> serde_json::Value {
    send(addr, "GET", &format!("/__mock/relays/{token}"), &[], b"")
        .await
        .json()
}

/// Writes raw bytes and parses the response; `None` if the server closed
/// the connection without one.
pub async fn send_raw(addr: SocketAddr, raw: &[u8]) -> Option<Reply> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(raw).await.expect("write");
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes).await;
    parse_response(&bytes)
}

pub fn parse_response(bytes: &[u8]) -> Option<Reply> {
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = bytes[split + 4..].to_vec();
    if let Some((_, len)) = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        body.truncate(len.parse().ok()?);
    }
    Some(Reply {
        status,
        headers,
        body,
    })
}

/// The fields of an RFC 9577 TokenChallenge.
#[derive(Debug, PartialEq, Eq)]
pub struct Challenge {
    pub token_type: u16,
    pub issuer_name: String,
    pub redemption_context: Vec<u8>,
    pub origin_info: String,
}

/// Decodes a TokenChallenge by offsets (deliberately not the crate's codec).
pub fn decode_challenge(b: &[u8]) -> Challenge {
    let token_type = u16::from_be_bytes([b[0], b[1]]);
    let issuer_len = u16::from_be_bytes([b[2], b[3]]) as usize;
    let issuer_end = 4 + issuer_len;
    let context_len = b[issuer_end] as usize;
    assert!(
        context_len == 0 || context_len == 32,
        "redemption_context length {context_len}"
    );
    let context_end = issuer_end + 1 + context_len;
    let origin_len = u16::from_be_bytes([b[context_end], b[context_end + 1]]) as usize;
    let origin_start = context_end + 2;
    assert_eq!(b.len(), origin_start + origin_len, "challenge length");
    Challenge {
        token_type,
        issuer_name: String::from_utf8(b[4..issuer_end].to_vec()).unwrap(),
        redemption_context: b[issuer_end + 1..context_end].to_vec(),
        origin_info: String::from_utf8(b[origin_start..].to_vec()).unwrap(),
    }
}

/// base64url decoding with an explicit padding expectation.
pub fn b64url(text: &str, padded: bool) -> Vec<u8> {
    use base64::Engine;
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
    let engine = if padded { &URL_SAFE } else { &URL_SAFE_NO_PAD };
    engine
        .decode(text)
        .unwrap_or_else(|e| panic!("{text:?} is not base64url (padded: {padded}): {e}"))
}

pub fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

pub fn fixture(path: &str) -> String {
    let full = format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}
