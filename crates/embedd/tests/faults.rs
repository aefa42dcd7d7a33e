//! Faults a serving replica meets: a client that hangs up mid-request, a model directory deleted
//! under it or its weight file truncated in place, and the same text sent alone and inside batches of every shape (ollama #6262: a
//! text's vector must not depend on its neighbours).

mod common;

use std::io::Write;

use common::{copy_tree, http, installed_model, request, sample, scratch_dir, until, Server};
use serde_json::{json, Value};

fn native_server(name: &str, model_dir: Option<&std::path::Path>) -> Server {
    let model = match model_dir {
        Some(dir) => dir.display().to_string(),
        None => "all-MiniLM-L6-v2".to_owned(),
    };
    let config = scratch_dir(name).join("config.yaml");
    std::fs::write(
        &config,
        format!("embeddings:\n  default_model: m\n  models:\n    m: {{provider: native, model_id: '{model}'}}\n"),
    )
    .unwrap();
    Server::start(&["--config", config.to_str().unwrap()])
}

fn vectors(server: &Server, inputs: &[String]) -> Vec<Vec<f32>> {
    let (status, body) = http(
        "POST",
        &format!("{}/v1/embeddings", server.base),
        Some(json!({"input": inputs})),
    );
    assert_eq!(status, 200, "{body}");
    body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|d| {
            d["embedding"]
                .as_array()
                .expect("embedding")
                .iter()
                .map(|x| x.as_f64().expect("number") as f32)
                .collect()
        })
        .collect()
}

#[test]
fn a_client_that_hangs_up_mid_request_costs_the_server_nothing() {
    installed_model("all-MiniLM-L6-v2");
    let server = native_server("faults-hangup", None);
    let long = "the quick brown fox jumps over the lazy dog ".repeat(40);
    let inputs: Vec<String> = (0..96).map(|i| format!("{i} {long}")).collect();
    let body = json!({ "input": inputs }).to_string();
    let address = server.base.trim_start_matches("http://");
    let mut socket = std::net::TcpStream::connect(address).expect("connect");
    write!(
        socket,
        "POST /v1/embeddings HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    until(|| (sample(&server, "embedd_queue_depth", &[]) >= 1.0).then_some(()))
        .expect("the request was admitted");
    drop(socket);
    // The server answers others meanwhile, and its queue empties: nothing is left waiting.
    assert_eq!(vectors(&server, &["still here".to_owned()]).len(), 1);
    until(|| (sample(&server, "embedd_queue_depth", &[]) == 0.0).then_some(()))
        .expect("the abandoned request left the queue");
    let (status, _) = http("GET", &format!("{}/ready", server.base), None);
    assert_eq!(status, 200);
}

#[test]
fn a_text_gets_the_same_vector_alone_and_in_any_batch() {
    installed_model("all-MiniLM-L6-v2");
    let server = native_server("faults-batch", None);
    let text = "A man is playing a guitar on the street.".to_owned();
    let alone = vectors(&server, std::slice::from_ref(&text)).remove(0);
    let long = "an unrelated passage that is much longer than the text ".repeat(30);
    let companions = |n: usize| -> Vec<String> {
        (0..n)
            .map(|i| match i % 3 {
                0 => format!("short {i}"),
                1 => format!("{i} {long}"),
                _ => format!("a sentence of middling length, number {i}, about nothing"),
            })
            .collect()
    };
    for (size, at) in [(2, 0), (2, 1), (8, 5), (32, 0), (32, 31), (64, 17)] {
        let mut batch = companions(size - 1);
        batch.insert(at, text.clone());
        let got = vectors(&server, &batch).remove(at);
        let diff = alone
            .iter()
            .zip(&got)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            diff <= 1e-6,
            "batch of {size}, position {at}: differs by {diff}"
        );
    }
}

#[test]
fn deleting_the_model_directory_while_serving_keeps_serving() {
    keeps_serving_after("faults-deleted", |copy| {
        std::fs::remove_dir_all(copy).expect("delete the model directory");
    });
}

#[test]
fn a_weight_file_truncated_in_place_while_serving_keeps_serving() {
    keeps_serving_after("faults-truncated", |copy| {
        let mut truncated = 0;
        for entry in walk(copy) {
            if entry.extension().is_some_and(|e| e == "safetensors") {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&entry)
                    .and_then(|file| file.set_len(0))
                    .expect("truncate the weight file in place");
                truncated += 1;
            }
        }
        assert!(truncated >= 1, "the copy holds a weight file");
    });
}

/// Serve a copy of MiniLM, do `damage` to the copy's directory, and check that the server still
/// answers, with the same vector as before for a text it saw and with vectors for texts it never
/// saw (whose embedding rows no earlier request touched: with the weights memory-mapped, a
/// truncated file's pages are gone and the process died with SIGBUS there), and stays ready.
fn keeps_serving_after(name: &str, damage: impl FnOnce(&std::path::Path)) {
    let installed = installed_model("all-MiniLM-L6-v2");
    let copy = scratch_dir(name).join("model");
    copy_tree(&installed, &copy);
    let server = native_server(&format!("{name}-config"), Some(&copy));
    let texts = ["before and after".to_owned()];
    let before = vectors(&server, &texts);
    damage(&copy);
    let fresh: Vec<String> = (0..32)
        .map(|i| format!("zygote quokka xylophone {i} fjord kumquat"))
        .collect();
    assert_eq!(vectors(&server, &fresh).len(), 32);
    assert_eq!(
        vectors(&server, &texts),
        before,
        "the loaded weights serve on"
    );
    let (status, body): (u16, Value) = http("GET", &format!("{}/ready", server.base), None);
    assert_eq!(status, 200, "{body}");
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)
        .expect("read the model copy")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// One request the client gives up on after two minutes, so a hang fails the test instead of
/// stalling it: the status and the JSON answer (null when not JSON).
fn bounded(method: &str, url: &str, body: Value) -> (u16, Value) {
    let answer = request(
        method,
        url,
        Some(body),
        Some(std::time::Duration::from_secs(120)),
    );
    (answer.status, answer.body.unwrap_or_default())
}

#[test]
fn the_failures_the_peers_are_known_for_do_not_happen_here() {
    installed_model("all-MiniLM-L6-v2");
    let server = native_server("faults-peers", None);
    let url = |route: &str| format!("{}{route}", server.base);
    // TEI #235: /tokenize of a request's worth of text made an answer many times its size.
    let words = "word ".repeat(360_000);
    let (status, body) = bounded("POST", &url("/tokenize"), json!({"inputs": words}));
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error_type"], "Validation");
    // TEI #694 / #723: inputs that hung the tokenizer. One word of a million letters, and a
    // letter under a hundred thousand combining marks, answered like any other text.
    let one_word = "a".repeat(1_000_000);
    let marks = format!("e{}", "\u{301}".repeat(100_000));
    for text in [&one_word, &marks] {
        let (status, body) = bounded("POST", &url("/tokenize"), json!({"inputs": text}));
        assert!(status == 200 || status == 413, "{status}: {body}");
        let (status, body) = bounded(
            "POST",
            &url("/embed"),
            json!({"inputs": text, "truncate": true}),
        );
        assert_eq!(status, 200, "{body}");
    }
    // Ollama #7288: an over-long input crashed the runner. Ollama's own default truncates; with
    // truncation off it is a 400 naming the limit; the server is well either way.
    let long = "a long input ".repeat(50_000);
    let (status, body) = bounded("POST", &url("/api/embed"), json!({"input": long}));
    assert_eq!(status, 200, "{body}");
    let (status, body) = bounded(
        "POST",
        &url("/api/embed"),
        json!({"input": long, "truncate": false}),
    );
    assert_eq!(status, 400, "{body}");
    // Ollama #13572: a NaN in a vector failed the answer's serialisation. Vectors are checked
    // finite before they are answered (a provider's are refused: tests/provider_faults.rs).
    let (status, body) = bounded(
        "POST",
        &url("/v1/embeddings"),
        json!({"input": ["", " ", "\u{0}"]}),
    );
    assert_eq!(
        status, 400,
        "an empty input is refused, not embedded as NaN: {body}"
    );
    let (status, _) = bounded("GET", &url("/ready"), Value::Null);
    assert_eq!(status, 200, "and the server is well");
}
