//! The `rerank` provider against a second real `embedd serve` holding a tiny cross-encoder: over
//! TEI's API and over Cohere's, scores equal to sentence-transformers' for the same model; a
//! caller's error from the remote comes back as the caller's; and when the remote dies, the same
//! cross-encoder in process (the chain's model of the same space) answers, while a reranker of
//! another space and an embedding model are never asked.

mod common;

use common::rerankers::{documents_of, tiny_rerankers};
use common::{http, sample, Server};
use serde_json::{json, Value};

#[test]
fn remote_rerankers_score_as_the_model_and_fall_back_within_their_space() {
    let (dir, reference) = tiny_rerankers("remote-rerank");
    let bert = dir.join("bert");
    let upstream_config = dir.join("upstream.yaml");
    std::fs::write(
        &upstream_config,
        format!(
            "embeddings:\n  default_model: ranker\n  models:\n    ranker: {{provider: native, model_id: '{}'}}\n",
            bert.display()
        ),
    )
    .unwrap();
    let mut upstream = Server::start(&["--config", upstream_config.to_str().unwrap()]);
    let front_config = dir.join("front.yaml");
    std::fs::write(
        &front_config,
        format!(
            "embeddings:
  default_model: tei
  models:
    tei: {{provider: rerank, base_url: '{up}', model_id: tiny-ranker, space: tiny-ranker, timeout: 20s}}
    cohere: {{provider: rerank, api: cohere, base_url: '{up}/v1', model_id: ranker, space: tiny-ranker}}
    local: {{provider: native, model_id: '{bert}', space: tiny-ranker}}
    xr: {{provider: native, model_id: '{xr}'}}
    hash: {{provider: local, dimensions: 8}}
  fallback_chain: [hash, xr, local]
",
            up = upstream.base,
            bert = bert.display(),
            xr = dir.join("xlm-roberta").display()
        ),
    )
    .unwrap();
    let front = Server::start(&["--config", front_config.to_str().unwrap()]);
    let query = "how do I reset my password?";
    let documents = documents_of(&reference, query);
    let texts: Vec<&str> = documents.iter().map(|(d, _)| d.as_str()).collect();
    let want = &reference.models["bert"];
    let check = |results: &[Value], field: &str, expected: &[f64]| {
        assert_eq!(results.len(), texts.len());
        for pair in results.windows(2) {
            assert!(
                pair[0][field].as_f64() >= pair[1][field].as_f64(),
                "best first"
            );
        }
        for result in results {
            let index = result["index"].as_u64().unwrap() as usize;
            let score = result[field].as_f64().unwrap();
            let expected = expected[documents[index].1];
            assert!(
                (score - expected).abs() <= 1e-4,
                "{score} against {expected}"
            );
        }
    };

    // TEI's API: raw scores, and the probabilities embedd makes of them.
    for (raw, expected) in [(true, &want.raw_scores), (false, &want.scores)] {
        let (status, ranks) = http(
            "POST",
            &format!("{}/rerank", front.base),
            Some(json!({"query": query, "texts": texts, "raw_scores": raw, "truncate": true})),
        );
        assert_eq!(status, 200, "{ranks}");
        check(ranks.as_array().unwrap(), "score", expected);
    }
    // Cohere's API, through the front's Cohere route: the remote's probabilities, unchanged.
    for model in ["cohere", "tei"] {
        let (status, answer) = http(
            "POST",
            &format!("{}/v1/rerank", front.base),
            Some(json!({"model": model, "query": query, "documents": texts})),
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["model"], model);
        check(
            answer["results"].as_array().unwrap(),
            "relevance_score",
            &want.scores,
        );
    }
    // The remote refuses an over-long pair it was told not to cut: the caller's error, as TEI's.
    let long = "word ".repeat(200);
    let (status, error) = http(
        "POST",
        &format!("{}/rerank", front.base),
        Some(json!({"query": query, "texts": [long], "truncate": false})),
    );
    assert_eq!(status, 413, "{error}");
    assert!(error["error"].as_str().unwrap().contains("413"), "{error}");
    // An embedding request on a reranker is refused, naming the rerank routes.
    let (status, error) = http(
        "POST",
        &format!("{}/v1/embeddings", front.base),
        Some(json!({"model": "cohere", "input": "hello"})),
    );
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/rerank"),
        "{error}"
    );

    // The remote dies: the same cross-encoder in process answers, with the same scores.
    upstream.child.kill().unwrap();
    upstream.child.wait().unwrap();
    for model in ["tei", "cohere"] {
        let (status, answer) = http(
            "POST",
            &format!("{}/v1/rerank", front.base),
            Some(json!({"model": model, "query": query, "documents": texts})),
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["model"], "local", "{answer}");
        check(
            answer["results"].as_array().unwrap(),
            "relevance_score",
            &want.scores,
        );
    }
    let fell_back = sample(&front, "embedd_fallbacks_total", &["answered=\"local\""]);
    assert_eq!(fell_back, 2.0);
    // Another space's reranker and the embedding model were never asked.
    for other in ["xr", "hash"] {
        let asked = sample(
            &front,
            "embedd_model_requests_total",
            &[&format!("model=\"{other}\"")],
        );
        assert_eq!(asked, 0.0, "{other}");
    }
    let failed = sample(
        &front,
        "embedd_model_requests_total",
        &["model=\"tei\"", "outcome=\"failed\""],
    );
    assert!(failed >= 1.0, "the dead remote's failure is counted");
}

#[test]
fn a_rerank_model_is_checked_at_start_up() {
    for (model, says) in [
        ("{provider: rerank, model_id: m}", "base_url"),
        (
            "{provider: rerank, base_url: 'http://127.0.0.1:9', model_id: m, dimensions: 3}",
            "dimensions",
        ),
        ("{provider: native, model_id: m, api: tei}", "api"),
        (
            "{provider: rerank, base_url: 'http://127.0.0.1:9', model_id: m, api: jina}",
            "jina",
        ),
    ] {
        let dir = common::scratch_dir("rerank-config");
        let config = dir.join("config.yaml");
        std::fs::write(
            &config,
            format!("embeddings:\n  default_model: r\n  models:\n    r: {model}\n"),
        )
        .unwrap();
        let (ok, _, stderr) =
            common::run_with_env(&["models", "--config", config.to_str().unwrap()], &[]);
        assert!(!ok, "{model}");
        assert!(stderr.contains(says), "{model}: {stderr}");
    }
}
