//! Two `embedd serve` processes sharing one real `redis-server` (started here on 127.0.0.1, on a
//! free port, stopped at the end): a text embedded through the first is a Redis hit on the second,
//! with the identical vector; with Redis stopped both keep answering; when it is back, they use it
//! again by themselves.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::{free_port, sample, scratch_dir, until, Server};
use serde_json::json;

/// A `redis-server` of its own, killed when dropped.
struct Redis {
    child: Child,
}

impl Redis {
    /// Start one on `port`, returning once it accepts connections.
    fn start(port: u16) -> Self {
        let mut child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("redis-server (scripts/test.sh installs Debian's redis-server)");
        let stdout = child.stdout.take().expect("stdout");
        let ready = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains("Ready to accept connections"));
        assert!(ready, "redis-server did not start");
        Self { child }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many keys the Redis on `port` holds.
fn keys_in(port: u16) -> usize {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "DBSIZE"])
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

fn embed(server: &Server, text: &str) -> serde_json::Value {
    let (status, body) = common::http(
        "POST",
        &format!("{}/v1/embeddings", server.base),
        Some(json!({"input": text})),
    );
    assert_eq!(status, 200, "{body}");
    body["data"][0]["embedding"].clone()
}

#[test]
fn replicas_share_vectors_through_redis_and_live_without_it() {
    common::installed_model("all-MiniLM-L6-v2");
    let port = free_port();
    let mut redis = Redis::start(port);
    let dir = scratch_dir("redis-cache");
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "embeddings:\n  default_model: m\n  models:\n    m: {{provider: native, model_id: all-MiniLM-L6-v2, cache_enabled: true, cache_ttl: 1h}}\n  cache: {{redis_url: 'redis://127.0.0.1:{port}/0', redis_timeout: 200ms}}\n"
        ),
    )
    .unwrap();
    let args = ["--config", config.to_str().unwrap()];
    let (first, second) = (Server::start(&args), Server::start(&args));
    let redis_hits = |s: &Server| sample(s, "embedd_cache_hits_total", &["tier=\"redis\""]);
    let batches = |s: &Server| sample(s, "embedd_batch_texts_count", &[]);

    let computed = embed(&first, "shared between replicas");
    // The first server writes to Redis in the background: wait until the entry is there.
    until(|| (keys_in(port) >= 1).then_some(())).expect("the first server wrote to Redis");
    let shared = embed(&second, "shared between replicas");
    assert_eq!(redis_hits(&second), 1.0, "a Redis hit on the second server");
    assert_eq!(shared, computed, "the identical vector");
    assert_eq!(batches(&second), 0.0, "and no model call there");

    // Redis gone: both keep answering, computing what they do not hold.
    drop(redis);
    let before = batches(&second);
    assert_eq!(
        embed(&first, "while redis is down")
            .as_array()
            .map(Vec::len),
        Some(384)
    );
    assert_eq!(
        embed(&second, "while redis is down"),
        embed(&first, "while redis is down")
    );
    assert!(batches(&second) > before, "computed without the cache");
    assert!(sample(&second, "embedd_cache_errors_total", &["tier=\"redis\""]) >= 1.0);

    // Redis back on the same port, empty: the servers reconnect by themselves.
    redis = Redis::start(port);
    let mut round = 0;
    let text = until(|| {
        round += 1;
        let text = format!("after redis came back {round}");
        embed(&first, &text);
        (keys_in(port) >= 1).then_some(text)
    })
    .expect("the first server wrote to Redis again");
    let hits_before = redis_hits(&second);
    let again = embed(&second, &text);
    assert_eq!(
        redis_hits(&second),
        hits_before + 1.0,
        "read from Redis again"
    );
    assert_eq!(again, embed(&first, &text));
    drop(redis);
}

/// A config file: the hash model with the cache on, Redis at `port`, calls bounded by `timeout`.
fn config_with_redis(dir: &str, port: u16, timeout: &str) -> std::path::PathBuf {
    let dir = scratch_dir(dir);
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "embeddings:\n  default_model: h\n  models:\n    h: {{provider: hash, dimensions: 8, cache_enabled: true}}\n  cache: {{redis_url: 'redis://127.0.0.1:{port}/0', redis_timeout: {timeout}}}\n"
        ),
    )
    .unwrap();
    config
}

/// A server whose Redis does not work answers right by itself: a text computed, then served from
/// memory, another computed; the failure counted.
fn assert_served_around(server: &Server, what: &str) {
    let first = embed(server, "one text");
    assert_eq!(first.as_array().map(Vec::len), Some(8));
    assert_eq!(embed(server, "one text"), first, "then from memory");
    assert_eq!(embed(server, "another").as_array().map(Vec::len), Some(8));
    assert!(
        sample(server, "embedd_cache_errors_total", &["tier=\"redis\""]) >= 1.0,
        "{what} was counted"
    );
    assert_eq!(
        sample(server, "embedd_cache_hits_total", &["tier=\"memory\""]),
        1.0
    );
}

#[test]
fn a_redis_that_accepts_and_never_answers_is_served_around() {
    // A listener that never reads: connections open, and no answer ever comes.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("address").port();
    let config = config_with_redis("redis-silent", port, "50ms");
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    assert_served_around(&server, "the hung Redis");
    drop(silent);
}

/// The Redis keys embedd wrote on `port`.
fn embedd_keys(port: u16) -> Vec<String> {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["--scan", "--pattern", "embedd:*"])
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Store `value` (any bytes) under `key` in the Redis on `port`.
fn overwrite(port: u16, key: &str, value: &[u8]) {
    use std::io::Write;
    let mut child = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-x", "SET", key])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-cli");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(value)
        .expect("write");
    assert!(child.wait().expect("redis-cli").success());
}

#[test]
fn values_in_redis_that_are_not_embedds_are_misses_never_vectors() {
    let port = free_port();
    let redis = Redis::start(port);
    let config = config_with_redis("redis-garbage", port, "1s");
    let config = config.to_str().unwrap();
    let first = Server::start(&["--config", config]);
    let texts = ["a text for redis", "another text for redis"];
    let vectors: Vec<_> = texts.iter().map(|t| embed(&first, t)).collect();
    let keys = until(|| Some(embedd_keys(port)).filter(|k| k.len() == 2)).expect("both written");
    // One value that is not embedd's at all, one that is well-formed but of another width.
    overwrite(port, &keys[0], b"{\"embedding\": [1.0, 2.0]}");
    let mut narrow = b"EMB1".to_vec();
    narrow.extend(1u32.to_le_bytes());
    narrow.extend(3u32.to_le_bytes());
    for x in [0.25f32, 0.5, 0.75] {
        narrow.extend(x.to_le_bytes());
    }
    overwrite(port, &keys[1], &narrow);

    let second = Server::start(&["--config", config]);
    for (text, vector) in texts.iter().zip(&vectors) {
        assert_eq!(&embed(&second, text), vector, "computed again, not read");
    }
    assert_eq!(
        sample(&second, "embedd_cache_hits_total", &["tier=\"redis\""]),
        0.0
    );
    assert!(
        sample(&second, "embedd_cache_errors_total", &["tier=\"redis\""]) >= 1.0,
        "the foreign value was counted"
    );
    drop(redis);
}

/// A server that answers whatever it is sent with bytes that are not Redis' protocol.
fn babbler() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let accepting = listener.try_clone().expect("clone");
    std::thread::spawn(move || {
        for stream in accepting.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut buffer = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0
                        || stream
                            .write_all(b"HTTP/1.1 400 Bad Request\r\n\xff\xfe\r\n")
                            .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (listener, port)
}

#[test]
fn a_redis_answering_garbage_is_served_around() {
    let (_babbler, port) = babbler();
    let config = config_with_redis("redis-babble", port, "100ms");
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    assert_served_around(&server, "the garbage");
}

/// A TCP relay to `upstream` that holds every chunk coming back for the delay `lag` holds (in
/// milliseconds) first: a Redis that answers, but as late as the test says.
fn slow_relay(upstream: u16, lag: Arc<AtomicU64>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                return;
            };
            let (Ok(mut to_server), Ok(mut from_client)) = (server.try_clone(), client.try_clone())
            else {
                return;
            };
            std::thread::spawn(move || std::io::copy(&mut from_client, &mut to_server));
            let (mut from_server, mut to_client, lag) = (server, client, lag.clone());
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut buffer = [0u8; 65536];
                while let Ok(n) = from_server.read(&mut buffer) {
                    let delay = lag.load(Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(delay));
                    if n == 0 || to_client.write_all(&buffer[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn a_slow_redis_costs_a_request_its_timeout_and_never_mixes_answers() {
    let redis_port = free_port();
    let redis = Redis::start(redis_port);
    let lag = Arc::new(AtomicU64::new(0));
    let port = slow_relay(redis_port, lag.clone());
    let config = config_with_redis("redis-slow", port, "100ms");
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    // The same model without any cache: what every answer must be.
    let plain = scratch_dir("redis-slow-reference").join("config.yaml");
    std::fs::write(
        &plain,
        "embeddings:\n  default_model: h\n  models:\n    h: {provider: hash, dimensions: 8}\n",
    )
    .unwrap();
    let reference = Server::start(&["--config", plain.to_str().unwrap()]);
    let check = |text: &str| {
        let started = std::time::Instant::now();
        assert_eq!(embed(&server, text), embed(&reference, text), "{text}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "a request waited on the slow Redis"
        );
    };
    // Connected and written while Redis is quick.
    for i in 0..4 {
        check(&format!("slow redis text {i}"));
    }
    until(|| (keys_in(redis_port) >= 4).then_some(())).expect("written");
    // A fresh server (nothing in memory) connects while Redis is quick...
    let fresh = Server::start(&["--config", config.to_str().unwrap()]);
    embed(&fresh, "a warm-up text");
    until(|| (keys_in(redis_port) >= 5).then_some(())).expect("connected and written");
    // ...then Redis' answers come after the timeout, and arrive while later commands wait: a
    // late answer must never be taken for a later command's.
    lag.store(300, Ordering::SeqCst);
    for i in (0..8).rev() {
        let text = format!("slow redis text {i}");
        assert_eq!(embed(&fresh, &text), embed(&reference, &text), "{text}");
    }
    lag.store(0, Ordering::SeqCst);
    for i in 0..8 {
        let text = format!("slow redis text {}", (i * 3) % 8);
        assert_eq!(embed(&fresh, &text), embed(&reference, &text), "{text}");
    }
    check("slow redis text 9");
    assert!(sample(&fresh, "embedd_cache_errors_total", &["tier=\"redis\""]) >= 1.0);
    drop(redis);
}
