//! Limits: oversized heads, slow clients, connection caps. Each is answered
//! with a Persona-shaped error where HTTP allows, and the server goes on.

use crate::support::{CHALLENGE, TestServer, parse_response, send, send_raw};
use persona_mock::Limits;
use persona_mock::{MockServer, Settings};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const AGE18: &str = r#"{"claim-type":"age_over18_verified"}"#;

async fn with_limits(edit: impl FnOnce(&mut Limits)) -> TestServer {
    let mut settings = Settings::default();
    edit(&mut settings.limits);
    TestServer::with(MockServer::builder().settings(settings)).await
}

fn request_with_headers(extra: &str) -> String {
    format!(
        "POST {CHALLENGE} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{AGE18}",
        AGE18.len()
    )
}

#[tokio::test]
async fn too_many_headers_get_a_persona_431() {
    let server = with_limits(|l| l.max_headers = 8).await;
    let extra: String = (0..10).map(|i| format!("X-Extra-{i}: {i}\r\n")).collect();
    let reply = send_raw(server.addr(), request_with_headers(&extra).as_bytes())
        .await
        .unwrap();
    assert_eq!(reply.status, 431);
    assert_eq!(
        reply.text(),
        r#"{"errors":[{"title":"Request Header Fields Too Large","details":"The request has 14 header lines; at most 8 are accepted."}]}"#
    );
    assert!(reply.header("request-id").is_some());
    assert_eq!(
        server.challenge(AGE18, &[]).await.status,
        200,
        "the server goes on"
    );
}

#[tokio::test]
async fn oversized_headers_get_a_persona_431() {
    let server = with_limits(|l| l.max_header_bytes = 1024).await;
    let extra = format!("X-Big: {}\r\n", "a".repeat(2000));
    let reply = send_raw(server.addr(), request_with_headers(&extra).as_bytes())
        .await
        .unwrap();
    assert_eq!(reply.status, 431);
    let details = reply.json()["errors"][0]["details"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        details.ends_with("bytes; at most 1024 are accepted."),
        "{details}"
    );
    assert_eq!(reply.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn far_oversized_heads_are_refused_before_parsing_and_the_server_goes_on() {
    let server = with_limits(|l| l.max_header_bytes = 1024).await;
    let extra = format!("X-Huge: {}\r\n", "a".repeat(100_000));
    let reply = send_raw(server.addr(), request_with_headers(&extra).as_bytes()).await;
    // Above the backstop hyper answers 431 itself (no body), or the connection closes.
    if let Some(reply) = reply {
        assert_eq!(reply.status, 431);
    }
    assert_eq!(server.challenge(AGE18, &[]).await.status, 200);
}

#[tokio::test]
async fn a_client_that_stalls_in_its_headers_is_dropped() {
    let server = with_limits(|l| l.header_read_timeout = Duration::from_millis(300)).await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(b"POST /api/privacy/v1/relays/challenge HTTP/1.1\r\nHost: t\r\n")
        .await
        .unwrap();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buffer)).await;
    assert!(read.is_ok(), "the connection was closed, not held open");
    assert_eq!(server.challenge(AGE18, &[]).await.status, 200);
}

#[tokio::test]
async fn the_header_timeout_runs_per_request_on_a_keep_alive_connection() {
    let server = with_limits(|l| l.header_read_timeout = Duration::from_millis(300)).await;
    let keep_alive = format!(
        "POST {CHALLENGE} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{AGE18}",
        AGE18.len()
    );
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    // Requests well within the timeout of each other keep the connection
    // open long past the first request's deadline...
    for _ in 0..8 {
        stream.write_all(keep_alive.as_bytes()).await.unwrap();
        assert!(read_one(&mut stream).await.starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // ...and a head that stalls after them is still cut off.
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: t\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection was closed, not held open");
}

#[tokio::test]
async fn the_header_timeout_leaves_a_body_that_is_still_arriving_alone() {
    let server = with_limits(|l| {
        l.header_read_timeout = Duration::from_millis(200);
        l.body_read_timeout = Duration::from_secs(5);
    })
    .await;
    // The head comes at once; the body takes longer than the header timeout.
    let answer = body_after(&server, Duration::from_millis(600)).await;
    assert!(answer.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn the_header_timeout_starts_again_after_an_answer_a_scenario_delayed() {
    let server = with_limits(|l| l.header_read_timeout = Duration::from_millis(200)).await;
    server
        .server
        .upload_scenario("slow", "[[step]]\nstatus = 200\ndelay-ms = 700\n")
        .unwrap();
    let request = |extra: &str| {
        format!(
            "POST {CHALLENGE} HTTP/1.1\r\nHost: t\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{AGE18}",
            AGE18.len()
        )
    };
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(request("Persona-Mock-Scenario: slow\r\n").as_bytes())
        .await
        .unwrap();
    // Answered after 700 ms, more than three header timeouts...
    assert!(read_one(&mut stream).await.starts_with("HTTP/1.1 200"));
    // ...and the connection takes a next request sent at once.
    stream.write_all(request("").as_bytes()).await.unwrap();
    assert!(read_one(&mut stream).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn an_answer_the_client_does_not_read_is_cut_at_the_header_timeout() {
    let mut settings = Settings::default();
    settings.limits.header_read_timeout = Duration::from_millis(300);
    settings.journal.as_mut().unwrap().body_bytes = 1 << 20;
    let server = TestServer::with(MockServer::builder().settings(settings)).await;
    // A 16 MB journal page: more than the sockets' buffers hold unread.
    let body = format!(r#"{{"claim-type":"{}"}}"#, "x".repeat(1_000_000));
    for _ in 0..16 {
        send(server.addr(), "POST", CHALLENGE, &[], body.as_bytes()).await;
    }
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(server.addr()).await.unwrap();
    let host = server.addr();
    stream
        .write_all(format!("GET /__mock/requests HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // The client stops reading while the answer is being written...
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut chunk = [0u8; 65536];
        // (A reset after the close ends the read too.)
        while let Ok(n @ 1..) = stream.read(&mut chunk).await {
            received.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    assert!(read.is_ok(), "the connection was closed, not held open");
    // ...so the connection was closed before the whole answer went out.
    let text = String::from_utf8_lossy(&received);
    let head_end = text.find("\r\n\r\n").expect("the head went out") + 4;
    let length: usize = text
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .expect("a content length")
        .parse()
        .unwrap();
    assert!(length > 16_000_000, "a large answer ({length} bytes)");
    assert!(
        received.len() - head_end < length,
        "cut short: {} of {length} bytes",
        received.len() - head_end
    );
}

/// Sends a request head whose body stops short of its declared length, and
/// reads the answer (the server must give one within 5 s).
async fn stalled(addr: std::net::SocketAddr, head: String) -> crate::support::Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buffer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buffer))
        .await
        .unwrap()
        .unwrap();
    parse_response(&buffer).expect("a response")
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_gets_a_persona_408() {
    let server = with_limits(|l| l.body_read_timeout = Duration::from_millis(300)).await;
    let head = format!(
        "POST {CHALLENGE} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"claim"
    );
    let reply = stalled(server.addr(), head).await;
    assert_eq!(reply.status, 408);
    assert_eq!(
        reply.text(),
        r#"{"errors":[{"title":"Request Timeout","details":"The request body did not arrive within 300 ms."}]}"#
    );
}

#[tokio::test]
async fn a_body_that_follows_its_head_within_the_timeout_is_read() {
    let server = with_limits(|l| l.body_read_timeout = Duration::from_secs(5)).await;
    // The server has the head and waits for the body.
    let answer = body_after(&server, Duration::from_millis(200)).await;
    assert!(answer.starts_with("HTTP/1.1 200"));
}

/// Sends a challenge's head, then its body after `pause`, and reads the
/// answer.
async fn body_after(server: &TestServer, pause: Duration) -> String {
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "POST {CHALLENGE} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        AGE18.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(pause).await;
    stream.write_all(AGE18.as_bytes()).await.unwrap();
    read_one(&mut stream).await
}

#[tokio::test]
async fn a_body_sent_in_chunks_over_time_is_read_whole() {
    let server = with_limits(|l| l.body_read_timeout = Duration::from_secs(5)).await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(
            format!(
                "POST {CHALLENGE} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // Pauses between the chunks make each a frame of its own.
    for part in [&AGE18[..5], &AGE18[5..20], &AGE18[20..]] {
        tokio::time::sleep(Duration::from_millis(50)).await;
        stream
            .write_all(format!("{:x}\r\n{part}\r\n", part.len()).as_bytes())
            .await
            .unwrap();
    }
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    assert!(read_one(&mut stream).await.starts_with("HTTP/1.1 200"));
    let journal = send(server.addr(), "GET", "/__mock/requests", &[], b"").await;
    assert_eq!(journal.json()["requests"][0]["body"], AGE18);
}

#[tokio::test]
async fn connections_past_the_cap_wait_without_affecting_served_ones() {
    let server = with_limits(|l| l.max_connections = 2).await;
    let keep_alive = format!(
        "POST {CHALLENGE} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{AGE18}",
        AGE18.len()
    );
    let mut first = TcpStream::connect(server.addr()).await.unwrap();
    let mut second = TcpStream::connect(server.addr()).await.unwrap();
    for stream in [&mut first, &mut second] {
        stream.write_all(keep_alive.as_bytes()).await.unwrap();
        assert!(read_one(stream).await.starts_with("HTTP/1.1 200"));
    }
    // A third connection is not served while both slots are taken...
    let mut third = TcpStream::connect(server.addr()).await.unwrap();
    third.write_all(keep_alive.as_bytes()).await.unwrap();
    let mut byte = [0u8; 1];
    let waited = tokio::time::timeout(Duration::from_millis(300), third.read(&mut byte)).await;
    assert!(waited.is_err(), "the third connection waits");
    // ...while the served ones go on.
    first.write_all(keep_alive.as_bytes()).await.unwrap();
    assert!(read_one(&mut first).await.starts_with("HTTP/1.1 200"));
    // When one closes, the waiting one is served.
    drop(second);
    let answer = tokio::time::timeout(Duration::from_secs(5), read_one(&mut third))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Reads one response on a keep-alive connection.
async fn read_one(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&bytes));
        bytes.extend_from_slice(&chunk[..n]);
        if let Some(reply) = parse_response(&bytes)
            && reply
                .header("content-length")
                .and_then(|l| l.parse::<usize>().ok())
                == Some(reply.body.len())
        {
            return String::from_utf8_lossy(&bytes).into_owned();
        }
    }
}

#[tokio::test]
async fn control_requests_are_held_to_the_same_limits() {
    let server = with_limits(|l| l.max_headers = 4).await;
    let headers: Vec<(String, String)> = (0..6)
        .map(|i| (format!("x-{i}"), "1".to_string()))
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let reply = send(server.addr(), "GET", "/__mock/health", &headers, b"").await;
    assert_eq!(reply.status, 431);
}

/// Every endpoint that reads a body, hosted and control ones included.
const BODY_PATHS: [(&str, &str); 5] = [
    ("POST", "/relay/complete"),
    ("POST", "/__mock/relays/relay_x/complete"),
    ("PUT", "/__mock/sessions/s1"),
    ("PUT", "/__mock/scenarios/uploaded"),
    ("POST", "/api/privacy/v1/relays"),
];

#[tokio::test]
async fn every_endpoint_answers_a_body_over_the_limit_with_a_persona_413() {
    let settings = Settings {
        max_body_bytes: 64,
        ..Settings::default()
    };
    let server = TestServer::with(MockServer::builder().settings(settings)).await;
    let body = vec![b' '; 200];
    for (method, path) in BODY_PATHS {
        let reply = send(server.addr(), method, path, &[], &body).await;
        assert_eq!(reply.status, 413, "{method} {path}: {}", reply.text());
        assert_eq!(
            reply.text(),
            r#"{"errors":[{"title":"Payload Too Large","details":"The request body is larger than 64 bytes."}]}"#,
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn every_endpoint_answers_a_stalled_body_with_a_persona_408() {
    let server = with_limits(|l| l.body_read_timeout = Duration::from_millis(200)).await;
    let stalled = BODY_PATHS.map(|(method, path)| {
        let addr = server.addr();
        tokio::spawn(async move {
            let head = format!(
                "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{{\"res"
            );
            (method, path, stalled(addr, head).await)
        })
    });
    for task in stalled {
        let (method, path, reply) = task.await.unwrap();
        assert_eq!(reply.status, 408, "{method} {path}: {}", reply.text());
        assert!(
            reply.text().contains("did not arrive within 200 ms"),
            "{method} {path}: {}",
            reply.text()
        );
    }
}
