//! Reranking on a real `embedd serve`: TEI's `POST /rerank` and the Cohere/Jina `POST /v1/rerank`
//! on tiny cross-encoders made at test time, scores equal to sentence-transformers'
//! `CrossEncoder.predict` (made by the same script), best first; Cohere's real Python SDK (both
//! of its clients); and every malformed request a 4xx in the dialect's shape.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::rerankers::{documents_of, tiny_rerankers};
use common::{http, python_with, Server};
use serde_json::{json, Value};

fn server(dir: &std::path::Path) -> Server {
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "embeddings:\n  default_model: ranker\n  models:\n    ranker: {{provider: native, model_id: '{}'}}\n    xr: {{provider: native, model_id: '{}'}}\n    mini: {{provider: native, model_id: all-MiniLM-L6-v2}}\n",
            dir.join("bert").display(),
            dir.join("xlm-roberta").display()
        ),
    )
    .unwrap();
    Server::start(&["--config", config.to_str().unwrap()])
}

#[test]
fn both_rerank_routes_give_the_reference_scores_best_first() {
    let (dir, reference) = tiny_rerankers("rerank-scores");
    let server = server(&dir);
    for query in ["how do I reset my password?", "what is rust?"] {
        let documents = documents_of(&reference, query);
        let texts: Vec<&str> = documents.iter().map(|(d, _)| d.as_str()).collect();

        // TEI's route on the default model (the BERT cross-encoder), long texts truncated.
        let (status, ranks) = http(
            "POST",
            &format!("{}/rerank", server.base),
            Some(json!({"query": query, "texts": texts, "return_text": true, "truncate": true})),
        );
        assert_eq!(status, 200, "{ranks}");
        let ranks = ranks.as_array().unwrap();
        assert_eq!(ranks.len(), texts.len());
        let want = &reference.models["bert"];
        for pair in ranks.windows(2) {
            assert!(
                pair[0]["score"].as_f64() >= pair[1]["score"].as_f64(),
                "best first"
            );
        }
        for rank in ranks {
            let index = rank["index"].as_u64().unwrap() as usize;
            let expected = want.scores[documents[index].1];
            assert!(
                (rank["score"].as_f64().unwrap() - expected).abs() <= 1e-4,
                "{rank}"
            );
            assert_eq!(rank["text"], texts[index]);
        }
        let (status, raw) = http(
            "POST",
            &format!("{}/rerank", server.base),
            Some(json!({"query": query, "texts": texts, "raw_scores": true, "truncate": true})),
        );
        assert_eq!(status, 200, "{raw}");
        for rank in raw.as_array().unwrap() {
            let index = rank["index"].as_u64().unwrap() as usize;
            let expected = want.raw_scores[documents[index].1];
            assert!(
                (rank["score"].as_f64().unwrap() - expected).abs() <= 1e-4,
                "{rank}"
            );
            assert!(rank.get("text").is_none());
        }

        // Cohere's and Jina's route on the XLM-R cross-encoder: documents as strings or objects.
        let objects: Vec<Value> = texts.iter().map(|t| json!({"text": t})).collect();
        for (documents_sent, top_n) in [(json!(texts), None), (json!(objects), Some(1))] {
            let mut body = json!({"model": "xr", "query": query, "documents": documents_sent, "return_documents": true});
            if let Some(n) = top_n {
                body["top_n"] = json!(n);
            }
            let (status, answer) = http("POST", &format!("{}/v1/rerank", server.base), Some(body));
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["model"], "xr");
            assert!(answer["usage"]["total_tokens"].as_u64().unwrap() > 0);
            let results = answer["results"].as_array().unwrap();
            assert_eq!(results.len(), top_n.unwrap_or(texts.len()));
            let want = &reference.models["xlm-roberta"];
            let best = documents
                .iter()
                .map(|(_, i)| want.scores[*i])
                .fold(f64::MIN, f64::max);
            assert!((results[0]["relevance_score"].as_f64().unwrap() - best).abs() <= 1e-4);
            for result in results {
                let index = result["index"].as_u64().unwrap() as usize;
                let expected = want.scores[documents[index].1];
                assert!((result["relevance_score"].as_f64().unwrap() - expected).abs() <= 1e-4);
                assert_eq!(result["document"]["text"], texts[index]);
            }
        }
    }
}

#[test]
fn cohere_clients_rerank_through_the_server() {
    let python = python_with(&["cohere==7.3.1"]);
    let (dir, reference) = tiny_rerankers("rerank-cohere");
    let server = server(&dir);
    let query = "how do I reset my password?";
    let documents = documents_of(&reference, query);
    let texts: Vec<&str> = documents.iter().map(|(d, _)| d.as_str()).collect();
    let output = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/cohere_client.py"
        ))
        .args([&server.base, "xr", query, &json!(texts).to_string()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: BTreeMap<String, Vec<(usize, f64)>> =
        serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answers.len(), 2);
    let want = &reference.models["xlm-roberta"];
    for (client, results) in answers {
        assert_eq!(results.len(), texts.len(), "{client}");
        for pair in results.windows(2) {
            assert!(pair[0].1 >= pair[1].1, "{client}: best first");
        }
        for (index, score) in results {
            let expected = want.scores[documents[index].1];
            assert!(
                (score - expected).abs() <= 1e-4,
                "{client}: {score} against {expected}"
            );
        }
    }
}

#[test]
fn malformed_rerank_requests_are_clear_errors_in_each_dialect() {
    let (dir, _) = tiny_rerankers("rerank-errors");
    let server = server(&dir);
    let tei = format!("{}/rerank", server.base);
    let v1 = format!("{}/v1/rerank", server.base);
    let long = "word ".repeat(100);
    // TEI: `{"error", "error_type"}`.
    for (body, status, names) in [
        (json!({"texts": ["a"]}), 422, "query"),
        (json!({"query": "q"}), 422, "texts"),
        (json!({"query": "", "texts": ["a"]}), 422, "query"),
        (json!({"query": "q", "texts": []}), 422, "texts"),
        (json!({"query": "q", "texts": ["a", ""]}), 422, "texts[1]"),
        (json!({"query": "q", "texts": ["a", long]}), 413, "texts[1]"),
        (
            json!({"query": "q", "texts": ["a"], "truncation_direction": "Left"}),
            422,
            "truncation_direction",
        ),
        (
            json!({"query": "q", "texts": ["a"], "model": "mini"}),
            422,
            "not a reranker",
        ),
    ] {
        let (got, error) = http("POST", &tei, Some(body.clone()));
        assert_eq!(got, status, "{body} -> {error}");
        assert!(
            error["error"].as_str().unwrap().contains(names),
            "{body} -> {error}"
        );
        assert!(error["error_type"].is_string(), "{error}");
    }
    // Cohere/Jina: OpenAI's error shape, naming the field.
    for (body, status, param) in [
        (
            json!({"query": "q", "documents": ["a"], "model": "nope"}),
            404,
            "model",
        ),
        (
            json!({"query": "q", "documents": ["a"], "model": "mini"}),
            400,
            "model",
        ),
        (
            json!({"query": "q", "documents": ["a", 5]}),
            400,
            "documents[1]",
        ),
        (
            json!({"query": "q", "documents": [{"title": "a"}]}),
            400,
            "documents[0]",
        ),
        (
            json!({"query": "q", "documents": ["a"], "top_n": 0}),
            400,
            "top_n",
        ),
        (json!({"query": "q", "documents": []}), 400, "documents"),
    ] {
        let (got, error) = http("POST", &v1, Some(body.clone()));
        assert_eq!(got, status, "{body} -> {error}");
        assert_eq!(error["error"]["param"], param, "{body} -> {error}");
    }
    // A missing field is named in the message, as on every OpenAI-shaped route.
    let (status, error) = http("POST", &v1, Some(json!({"documents": ["a"]})));
    assert_eq!(status, 400, "{error}");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`query`"));
    // A reranker gives no embeddings, and says where to go.
    let (status, error) = http(
        "POST",
        &format!("{}/v1/embeddings", server.base),
        Some(json!({"input": "a", "model": "ranker"})),
    );
    assert_eq!(status, 400, "{error}");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/rerank"));
}
