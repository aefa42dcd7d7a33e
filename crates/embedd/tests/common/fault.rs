//! A small TCP proxy for fault injection: each new connection takes the next scripted action
//! (forward, delay then forward, drop, reset, answer an HTTP status, or answer 200 with any body
//! itself); when the script
//! is empty it forwards. Every connection carries one request and is closed after its answer
//! (`Connection: close`), so the script counts requests. Listens on 127.0.0.1 only.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with one connection.
#[derive(Debug, Clone)]
pub enum Action {
    /// Forward both ways.
    Forward,
    /// Wait, then forward.
    Delay(Duration),
    /// Close the connection without a word.
    Drop,
    /// Reset the connection (RST).
    Reset,
    /// Read the request and answer this status with a JSON error (and `Retry-After` if given).
    Status(u16, Option<u32>),
    /// Read the request and answer 200 with this body as JSON, whatever it holds.
    Answer(String),
}

/// A running proxy.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    script: Arc<Mutex<VecDeque<Action>>>,
    connections: Arc<AtomicUsize>,
}

impl FaultProxy {
    /// Start a proxy in front of `upstream` (`host:port`) on the current tokio runtime.
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let script: Arc<Mutex<VecDeque<Action>>> = Arc::default();
        let connections = Arc::new(AtomicUsize::new(0));
        let (upstream, s, c) = (upstream.to_owned(), script.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let action = s
                    .lock()
                    .ok()
                    .and_then(|mut q| q.pop_front())
                    .unwrap_or(Action::Forward);
                tokio::spawn(handle(client, upstream.clone(), action));
            }
        });
        Self {
            base,
            script,
            connections,
        }
    }

    /// Queue actions for the next connections.
    pub fn then(&self, actions: impl IntoIterator<Item = Action>) {
        if let Ok(mut q) = self.script.lock() {
            q.extend(actions);
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn handle(mut client: TcpStream, upstream: String, action: Action) {
    match action {
        Action::Forward => forward(client, &upstream).await,
        Action::Delay(d) => {
            tokio::time::sleep(d).await;
            forward(client, &upstream).await;
        }
        Action::Drop => drop(client),
        Action::Reset => {
            let _ = client.set_zero_linger();
            drop(client);
        }
        Action::Status(code, retry_after) => {
            read_request(&mut client).await;
            let body = format!("{{\"error\": {{\"message\": \"injected {code}\"}}}}");
            let retry = retry_after
                .map(|s| format!("Retry-After: {s}\r\n"))
                .unwrap_or_default();
            let response = format!(
                "HTTP/1.1 {code} Injected\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{retry}Connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = client.write_all(response.as_bytes()).await;
            let _ = client.shutdown().await;
        }
        Action::Answer(body) => {
            read_request(&mut client).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = client.write_all(response.as_bytes()).await;
            let _ = client.shutdown().await;
        }
    }
}

/// Pass one request to the upstream and its answer back, marked `Connection: close`.
async fn forward(mut client: TcpStream, upstream: &str) {
    let Some(request) = read_message(&mut client).await else {
        return;
    };
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    if server.write_all(&request).await.is_err() {
        return;
    }
    let Some(response) = read_message(&mut server).await else {
        return;
    };
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return;
    };
    let head = String::from_utf8_lossy(&response[..end]);
    let kept: Vec<&str> = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let mut out = format!("{}\r\nConnection: close\r\n\r\n", kept.join("\r\n")).into_bytes();
    out.extend_from_slice(&response[end + 4..]);
    let _ = client.write_all(&out).await;
    let _ = client.shutdown().await;
}

async fn read_request(client: &mut TcpStream) {
    let _ = read_message(client).await;
}

/// Read one HTTP/1.1 message: headers, then `Content-Length` bytes of body.
async fn read_message(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let headers = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length: usize = headers
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                return Some(buffer);
            }
        }
    }
}
