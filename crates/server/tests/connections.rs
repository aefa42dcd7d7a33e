//! Bounds on connections, the slow-client attacks a public endpoint meets: headers sent slowly
//! (slowloris) and connections kept alive idle are closed after `header_timeout`; a body sent
//! slowly is a 408 after `body_timeout`; headers over `max_header_bytes` are a 431; and a normal
//! request is unaffected.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{start, CONFIG};
use embedd_server::Limits;

fn limits() -> Limits {
    Limits {
        header_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        max_header_bytes: 8 * 1024,
        ..Limits::default()
    }
}

/// Connect to `base`, send `bytes`, and read until the server closes the connection; the test
/// fails if it holds it open past 20 s (the bounds under test are half a second).
fn send_and_read_all(base: &str, bytes: &[u8]) -> String {
    let mut socket = TcpStream::connect(base.trim_start_matches("http://")).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("read timeout");
    socket.write_all(bytes).expect("send");
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match socket.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server held the connection open: {e}"),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_cut_off_and_big_headers_refused() {
    let server = start(CONFIG, limits()).await;
    let base = server.base.clone();
    let answers = tokio::task::spawn_blocking(move || {
        // Slowloris: a request line, then nothing.
        let slow_headers = send_and_read_all(&base, b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\n");
        // One request on a kept-alive connection, then idle.
        let idle = send_and_read_all(&base, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
        // A body promised and not sent.
        let slow_body = send_and_read_all(
            &base,
            b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"input\": ",
        );
        let big = format!(
            "GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
            "a".repeat(16 * 1024)
        );
        let big_headers = send_and_read_all(&base, big.as_bytes());
        (slow_headers, idle, slow_body, big_headers)
    })
    .await
    .expect("the client thread");
    let (slow_headers, idle, slow_body, big_headers) = answers;
    assert!(
        !slow_headers.contains("200"),
        "closed without an answer: {slow_headers}"
    );
    assert!(
        idle.starts_with("HTTP/1.1 200"),
        "answered, then closed when idle: {idle}"
    );
    assert!(slow_body.starts_with("HTTP/1.1 408"), "{slow_body}");
    assert!(
        slow_body.contains("\"body_timeout\""),
        "OpenAI's shape: {slow_body}"
    );
    assert!(big_headers.starts_with("HTTP/1.1 431"), "{big_headers}");

    let response = server
        .client
        .post(format!("{}/v1/embeddings", server.base))
        .json(&serde_json::json!({"input": "a normal request"}))
        .send()
        .await
        .expect("a normal request");
    assert_eq!(response.status(), 200);
}
