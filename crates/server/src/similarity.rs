//! `POST /similarity`, text-embeddings-inference's sentence-similarity route: one source sentence
//! against a list, answered with the cosine similarity of each pair, `[0.83, 0.12, ...]`.
//!
//! All the texts go to the model in one request, so every score compares two vectors of one
//! model even when the fallback chain answers. Errors are TEI's shape, as on `/embed`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use embedd_core::vector::cosine;
use embedd_core::{EmbedRequest, Input};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::body::JsonBody;
use crate::error::{ApiError, ErrorCode, TeiError};
use crate::openai::with_model_header;
use crate::openapi::TeiErrors;
use crate::state::AppState;
use crate::tei::check_truncation_direction;

/// The texts compared.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SimilarityInputs)]
pub struct Inputs {
    /// The text every other one is compared with.
    pub source_sentence: String,
    /// The texts compared with it; one score each, in order.
    pub sentences: Vec<String>,
}

/// How the texts are read, as on `/embed`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = SimilarityParameters)]
pub struct Parameters {
    /// Truncate texts longer than the model reads (default: no, they are refused).
    #[serde(default)]
    pub truncate: Option<bool>,
    /// `Right` (the only direction embedd truncates in) or `Left`.
    #[serde(default)]
    pub truncation_direction: Option<String>,
    /// A named prompt from the model's sentence-transformers config, applied to every text.
    #[serde(default)]
    pub prompt_name: Option<String>,
}

/// The body of `POST /similarity`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SimilarityRequest)]
pub struct SimilarityBody {
    /// The source sentence and the sentences to score against it.
    pub inputs: Inputs,
    /// How the texts are read.
    #[serde(default)]
    pub parameters: Option<Parameters>,
    /// The model to compare with (embedd's addition; TEI serves one): any embedding model the
    /// server has, the default when left out.
    #[serde(default)]
    pub model: Option<String>,
}

/// `POST /similarity`: the cosine similarity of the source sentence with each sentence.
#[utoipa::path(
    post,
    path = "/similarity",
    operation_id = "teiSimilarity",
    tag = "TEI",
    summary = "Cosine similarity of one sentence with each of a list (text-embeddings-inference's API)",
    request_body = SimilarityBody,
    responses((status = 200, description = "One score per sentence, in order", body = Vec<f32>), TeiErrors)
)]
pub async fn similarity(
    State(state): State<AppState>,
    JsonBody(request, _): JsonBody<SimilarityBody, TeiError>,
) -> Result<Response, TeiError> {
    let parameters = request.parameters.unwrap_or_default();
    check_truncation_direction(
        parameters.truncation_direction.as_deref(),
        "parameters.truncation_direction",
    )?;
    let texts = texts(request.inputs, state.limits.max_inputs)?;
    let mut embed = EmbedRequest::new(Input::Texts(texts), "inputs").with_model(request.model);
    embed.truncate = parameters.truncate.unwrap_or(false);
    embed.prompt_name = parameters.prompt_name;
    let encoded = state.embed(embed).await?;
    let vectors = &encoded.embeddings.vectors;
    let scores: Vec<f32> = match vectors.split_first() {
        Some((source, others)) => others.iter().map(|v| cosine(source, v) as f32).collect(),
        None => Vec::new(),
    };
    Ok(with_model_header(
        Json(scores).into_response(),
        encoded.model.name(),
    ))
}

/// The source sentence followed by the sentences, each checked here so that an error names the
/// field the caller sent (`inputs.sentences[2]`), not its place in the combined list.
fn texts(inputs: Inputs, max_inputs: usize) -> Result<Vec<String>, ApiError> {
    if inputs.source_sentence.is_empty() {
        return Err(ApiError::invalid(
            "inputs.source_sentence",
            "`inputs.source_sentence` is empty; it needs at least one character",
        ));
    }
    if inputs.sentences.is_empty() {
        return Err(ApiError::invalid(
            "inputs.sentences",
            "`inputs.sentences` holds no sentences; send at least one",
        ));
    }
    if let Some(i) = inputs.sentences.iter().position(String::is_empty) {
        return Err(ApiError::invalid(
            format!("inputs.sentences[{i}]"),
            format!(
                "`inputs.sentences[{i}]` is empty; every sentence needs at least one character"
            ),
        ));
    }
    // The source sentence is embedded too, so it counts against the limit.
    if inputs.sentences.len() + 1 > max_inputs {
        let mut error = ApiError::new(
            ErrorCode::TooManyInputs,
            format!(
                "`inputs.sentences` holds {} sentences; with the source sentence at most {max_inputs} texts are allowed in one request",
                inputs.sentences.len()
            ),
        );
        error.param = Some("inputs.sentences".to_owned());
        return Err(error);
    }
    let mut texts = Vec::with_capacity(inputs.sentences.len() + 1);
    texts.push(inputs.source_sentence);
    texts.extend(inputs.sentences);
    Ok(texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(source: &str, sentences: &[&str]) -> Inputs {
        Inputs {
            source_sentence: source.to_owned(),
            sentences: sentences.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn cosine_is_the_angle_whatever_the_lengths() {
        assert!((cosine(&[1.0, 0.0], &[3.0, 0.0]) - 1.0).abs() < 1e-7);
        assert!(cosine(&[1.0, 0.0], &[0.0, 2.0]).abs() < 1e-7);
        assert!((cosine(&[1.0, 1.0], &[-2.0, -2.0]) + 1.0).abs() < 1e-7);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn the_source_sentence_comes_first_and_counts_against_the_limit() {
        let texts = texts(inputs("a", &["b", "c"]), 3).unwrap();
        assert_eq!(texts, ["a", "b", "c"]);
        let error = super::texts(inputs("a", &["b", "c", "d"]), 3).unwrap_err();
        assert_eq!(error.code, ErrorCode::TooManyInputs);
        assert_eq!(error.param.as_deref(), Some("inputs.sentences"));
    }

    #[test]
    fn an_empty_text_is_named_by_the_field_it_came_in() {
        let at = |i: Inputs| super::texts(i, 10).unwrap_err().param;
        assert_eq!(
            at(inputs("", &["b"])).as_deref(),
            Some("inputs.source_sentence")
        );
        assert_eq!(at(inputs("a", &[])).as_deref(), Some("inputs.sentences"));
        assert_eq!(
            at(inputs("a", &["b", ""])).as_deref(),
            Some("inputs.sentences[1]")
        );
    }
}
