//! The Hugging Face hub: `GET {endpoint}/{id}/resolve/main/{file}`, with `HF_TOKEN` if set.

use std::path::Path;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::StatusCode;

use super::{bar, copy_into};
use crate::error::FetchError;
use crate::install::{REQUIRED_FILES, WEIGHT_FILES};
use crate::Fetcher;

/// Files sentence-transformers reads besides the required ones, BGE-M3's two heads
/// (FlagEmbedding's) and the model card (its Matryoshka widths); absent ones are fine.
const OPTIONAL_FILES: [&str; 7] = [
    "README.md",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
    "sparse_linear.pt",
    "colbert_linear.pt",
];

/// Download `id`'s files into `dest`. Fails fast when the hub cannot be reached.
pub(super) fn fill(fetcher: &Fetcher, id: &str, dest: &Path) -> Result<(), FetchError> {
    let client = Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| FetchError::Source(format!("cannot start an HTTP client: {e}")))?;
    let token = std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty());
    let get = |file: &str, required: bool| -> Result<bool, FetchError> {
        let url = format!(
            "{}/{id}/resolve/main/{file}",
            fetcher.hub_endpoint.trim_end_matches('/')
        );
        let mut request = client.get(&url);
        if let Some(token) = &token {
            request = request.bearer_auth(token);
        }
        let response = request.send().map_err(|e| {
            FetchError::Source(format!("cannot reach {}: {e}", fetcher.hub_endpoint))
        })?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND if !required => return Ok(false),
            status => return Err(FetchError::Source(format!("{url} answered {status}"))),
        }
        let progress = bar(fetcher, response.content_length().unwrap_or(0), file);
        copy_into(response, &dest.join(file), &progress)?;
        progress.finish_and_clear();
        Ok(true)
    };
    // modules.json first: it says which module folders (1_Pooling, ...) hold configs too, and
    // which hold weights of their own (Dense layers after pooling).
    let mut extra = Vec::new();
    let mut dense = Vec::new();
    if get("modules.json", false)? {
        let text = std::fs::read_to_string(dest.join("modules.json"))
            .map_err(|e| FetchError::io(&dest.join("modules.json"), e))?;
        let modules: Vec<serde_json::Value> = serde_json::from_str(&text)
            .map_err(|e| FetchError::Source(format!("modules.json: {e}")))?;
        for module in modules {
            match module["path"].as_str() {
                Some(path) if !path.is_empty() && !path.contains("..") => {
                    extra.push(format!("{path}/config.json"));
                    if module["type"]
                        .as_str()
                        .is_some_and(|t| t.ends_with(".Dense"))
                    {
                        dense.push(path.to_owned());
                    }
                }
                _ => {}
            }
        }
    }
    for file in REQUIRED_FILES {
        get(file, true)?;
    }
    // The weights: safetensors where the repository has them, else the PyTorch checkpoint.
    let weights = &WEIGHT_FILES[..2];
    let mut found = false;
    for file in weights {
        if get(file, false)? {
            found = true;
            break;
        }
    }
    if !found {
        return Err(FetchError::Source(format!(
            "{id} has neither {} nor {}",
            weights[0], weights[1]
        )));
    }
    for file in OPTIONAL_FILES.iter().map(|f| f.to_string()).chain(extra) {
        get(&file, false)?;
    }
    for path in dense {
        let mut found = false;
        for file in weights {
            if get(&format!("{path}/{file}"), false)? {
                found = true;
                break;
            }
        }
        if !found {
            return Err(FetchError::Source(format!(
                "{id}: the Dense module {path} has no weights"
            )));
        }
    }
    Ok(())
}
