//! With the `otel` feature, each request's span reaches an OpenTelemetry collector over
//! OTLP/HTTP: a real HTTP receiver here takes the export `embedd serve` sends when it stops.
#![cfg(feature = "otel")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use common::{http, Server};
use serde_json::json;

/// One OTLP/HTTP export: the request path and its protobuf body.
struct Export {
    path: String,
    body: Vec<u8>,
}

/// Answer every POST on `listener` with 200 and hand its path and body to `exports`.
fn receive(listener: TcpListener, exports: mpsc::Sender<Export>) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { return };
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            continue;
        }
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            continue;
        }
        let _ =
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        if exports.send(Export { path, body }).is_err() {
            return;
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn a_request_span_reaches_the_collector() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let collector = format!("http://{}", listener.local_addr().unwrap());
    let (sender, exports) = mpsc::channel();
    std::thread::spawn(move || receive(listener, sender));

    let server = Server::start_with(
        &["--model", "local-hash"],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)],
        "info",
        std::process::Stdio::inherit(),
    );
    let url = format!("{}/v1/embeddings", server.base);
    let (status, _) = http("POST", &url, Some(json!({"input": "a traced text"})));
    assert_eq!(status, 200);
    // Stopping the server sends the spans still buffered.
    server.signal("TERM");
    let export = exports
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("an export reached the collector");
    assert_eq!(export.path, "/v1/traces");
    assert!(contains(&export.body, "embedd"), "the service name");
    assert!(contains(&export.body, "request"), "the request span");
    assert!(contains(&export.body, "/v1/embeddings"), "its route");
    assert!(!contains(&export.body, "a traced text"), "never the input");
}
