//! `POST /similarity` (text-embeddings-inference's shape) on a real `embedd serve`: scores equal
//! the cosine of sentence-transformers' own vectors, any model can answer, and every malformed
//! request is a 4xx in TEI's error shape.

mod common;

use common::{http, installed_model, Server};
use serde_json::{json, Value};

/// The golden file's texts and sentence-transformers' vectors for them.
fn golden(count: usize) -> Vec<(String, Vec<f64>)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/golden/all-MiniLM-L6-v2.jsonl"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .take(count)
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            let vector = v["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            (v["text"].as_str().unwrap().to_owned(), vector)
        })
        .collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f64>().sqrt()
        * b.iter().map(|x| x * x).sum::<f64>().sqrt())
}

fn scores(body: &Value) -> Vec<f64> {
    body.as_array()
        .unwrap_or_else(|| panic!("an array of scores: {body}"))
        .iter()
        .map(|s| s.as_f64().unwrap())
        .collect()
}

#[test]
fn scores_are_the_cosines_of_the_reference_vectors_on_any_model() {
    installed_model("all-MiniLM-L6-v2");
    let server = Server::start(&[]);
    let url = format!("{}/similarity", server.base);
    let golden = golden(8);
    let (source, source_vector) = &golden[0];
    let sentences: Vec<&str> = golden[1..].iter().map(|(t, _)| t.as_str()).collect();
    let (status, body) = http(
        "POST",
        &url,
        Some(json!({"inputs": {"source_sentence": source, "sentences": sentences}})),
    );
    assert_eq!(status, 200, "{body}");
    let got = scores(&body);
    assert_eq!(got.len(), sentences.len());
    for ((_, vector), got) in golden[1..].iter().zip(&got) {
        let want = cosine(source_vector, vector);
        assert!((got - want).abs() <= 1e-4, "got {got}, want {want}");
    }
    // A sentence compared with itself.
    let (_, body) = http(
        "POST",
        &url,
        Some(json!({"inputs": {"source_sentence": source, "sentences": [source]}})),
    );
    assert!((scores(&body)[0] - 1.0).abs() <= 1e-5, "{body}");

    // Another model of the server's, named as on the other routes: the scores are the cosines
    // of that model's own vectors.
    let texts = ["the hash model", "is its own space", "the hash model too"];
    let (status, body) = http(
        "POST",
        &url,
        Some(json!({
            "inputs": {"source_sentence": texts[0], "sentences": &texts[1..]},
            "model": "local-hash",
        })),
    );
    assert_eq!(status, 200, "{body}");
    let (status, embedded) = http(
        "POST",
        &format!("{}/v1/embeddings", server.base),
        Some(json!({"input": texts, "model": "local-hash"})),
    );
    assert_eq!(status, 200, "{embedded}");
    let vectors: Vec<Vec<f64>> = (0..3)
        .map(|i| {
            embedded["data"][i]["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect();
    for (i, got) in scores(&body).iter().enumerate() {
        let want = cosine(&vectors[0], &vectors[i + 1]);
        assert!(
            (got - want).abs() <= 1e-5,
            "local-hash: got {got}, want {want}"
        );
    }

    // Truncation as on `/embed`: refused unless asked for.
    let long = "word ".repeat(300);
    let request = |parameters: Value| json!({"inputs": {"source_sentence": "short", "sentences": [long]}, "parameters": parameters});
    let (status, body) = http("POST", &url, Some(request(json!({}))));
    assert_eq!(
        (status, body["error_type"].as_str()),
        (413, Some("Validation")),
        "{body}"
    );
    let (status, body) = http("POST", &url, Some(request(json!({"truncate": true}))));
    assert_eq!(status, 200, "{body}");
    assert_eq!(scores(&body).len(), 1);
}

#[test]
fn malformed_requests_get_tei_errors_naming_the_field() {
    installed_model("all-MiniLM-L6-v2");
    let server = Server::start(&[]);
    let url = format!("{}/similarity", server.base);
    let cases = [
        (json!({}), 422, "inputs"),
        (
            json!({"inputs": {"sentences": ["a"]}}),
            422,
            "source_sentence",
        ),
        (
            json!({"inputs": {"source_sentence": "a"}}),
            422,
            "sentences",
        ),
        (
            json!({"inputs": {"source_sentence": "a", "sentences": "b"}}),
            422,
            "sentences",
        ),
        (
            json!({"inputs": {"source_sentence": "", "sentences": ["b"]}}),
            422,
            "inputs.source_sentence",
        ),
        (
            json!({"inputs": {"source_sentence": "a", "sentences": []}}),
            422,
            "inputs.sentences",
        ),
        (
            json!({"inputs": {"source_sentence": "a", "sentences": ["b", ""]}}),
            422,
            "inputs.sentences[1]",
        ),
        (
            json!({"inputs": {"source_sentence": "a", "sentences": ["b"]},
                   "parameters": {"truncation_direction": "Left"}}),
            422,
            "truncation_direction",
        ),
        (
            // TEI's error types have no "not found": a wrong name is a `Validation` error.
            json!({"inputs": {"source_sentence": "a", "sentences": ["b"]}, "model": "no-such-model"}),
            422,
            "no-such-model",
        ),
    ];
    for (body, status, names) in cases {
        let (got, error) = http("POST", &url, Some(body.clone()));
        assert_eq!(got, status, "{body} -> {error}");
        let message = error["error"].as_str().unwrap_or_default();
        assert!(message.contains(names), "{body} -> {error}");
        assert!(error["error_type"].is_string(), "{body} -> {error}");
    }
    // More sentences than one request may hold (the source sentence counts): TEI's 413.
    let many = vec!["x"; 2048];
    let (status, error) = http(
        "POST",
        &url,
        Some(json!({"inputs": {"source_sentence": "a", "sentences": many}})),
    );
    assert_eq!(
        (status, error["error_type"].as_str()),
        (413, Some("Validation")),
        "{error}"
    );
}
