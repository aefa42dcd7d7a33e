//! The native scheduler seen through HTTP: a one-text request is answered while a large request
//! still computes, and a client that disconnects stops its request's remaining batches. The order
//! of events is read from the server's own log (batches at debug level), not from timings.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Stdio;
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use common::{http, installed_model, Server};
use serde_json::json;

/// Long enough that every line fills MiniLM's 256 tokens; distinct so no two are alike.
fn passages(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            format!(
                "passage {i}: {}",
                "the quick brown fox jumps over the lazy dog ".repeat(40)
            )
        })
        .collect()
}

/// The server's log lines as they come; a guard against a hang, not a synchronisation.
fn next_line_with(log: &Receiver<String>, needle: &str) -> String {
    loop {
        let line = log
            .recv_timeout(Duration::from_secs(300))
            .unwrap_or_else(|_| panic!("the server never logged {needle:?}"));
        if line.contains(needle) {
            return line;
        }
    }
}

/// The value of `key=` in a log line.
fn field(line: &str, key: &str) -> usize {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(&format!("{key}=")))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
}

#[test]
fn a_small_request_passes_a_large_one_and_a_client_that_leaves_stops_its_work() {
    installed_model("all-MiniLM-L6-v2");
    let mut server =
        Server::start_filtered(&[], "warn,embedd_native::scheduler=debug", Stdio::piped());
    let stderr = server.child.stderr.take().expect("the server's log");
    let (lines, log) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    // 400 passages of 256 tokens: many batches, sent over a raw connection we can cut.
    let body = serde_json::to_vec(&json!({ "input": passages(400) })).unwrap();
    let address = server.base.trim_start_matches("http://");
    let mut large = TcpStream::connect(address).expect("connect");
    write!(
        large,
        "POST /v1/embeddings HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    large.write_all(&body).unwrap();
    let first = next_line_with(&log, "batch");
    assert!(
        field(&first, "sequences") < 400,
        "the large one is split: {first}"
    );

    // A one-text request sent now is answered before the large one is done.
    let (status, answer) = http(
        "POST",
        &format!("{}/v1/embeddings", server.base),
        Some(json!({ "input": "a short query" })),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"].as_array().map(Vec::len), Some(1));
    let express = next_line_with(&log, "express=true");
    assert_eq!(field(&express, "sequences"), 1, "it ran alone: {express}");

    // The large request's client goes away: what it has not computed yet is dropped.
    large.shutdown(Shutdown::Both).unwrap();
    drop(large);
    let given_up = next_line_with(&log, "given up");
    let dropped = field(&given_up, "dropped_sequences");
    assert!(
        dropped > 0 && dropped < 400,
        "part of the large request had run, the rest was dropped: {given_up}"
    );

    // The model is free again.
    let (status, answer) = http(
        "POST",
        &format!("{}/v1/embeddings", server.base),
        Some(json!({ "input": ["after", "the large one left"] })),
    );
    assert_eq!(status, 200, "{answer}");
    let after = next_line_with(&log, "batch");
    assert_eq!(
        field(&after, "requests"),
        1,
        "only the new request runs: {after}"
    );
    assert_eq!(field(&after, "sequences"), 2, "{after}");
}
