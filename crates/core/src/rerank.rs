//! The rerank request path: a query and documents to one reranker (a cross-encoder), resolved and
//! built as embedding requests are, checked against the same limits.
//!
//! There is no fallback walk yet: a reranker's scores are its own scale, and the one other
//! reranker that could stand in (a remote one) is not a provider yet.

use std::sync::Arc;

use crate::error::EmbedError;
use crate::model::{EmbeddingModel, EncodeOptions, Scores};
use crate::registry::Registry;
use crate::request::{Input, RequestLimits};

/// What one rerank request asks.
#[derive(Debug, Clone)]
pub struct RerankRequest {
    /// The reranker asked for; `None` or an empty name means the default model.
    pub model: Option<String>,
    /// What the documents are scored against.
    pub query: String,
    /// The documents, scored in this order.
    pub documents: Vec<String>,
    /// The dialect's name for the documents (`texts`, `documents`), used in errors.
    pub documents_field: &'static str,
    /// Cut pairs longer than the model reads (longest text first), or refuse them.
    pub truncate: bool,
}

/// A rerank request's answer.
pub struct Reranked {
    /// One raw score (logit) per document, in document order, and the tokens read.
    pub scores: Scores,
    /// The reranker that scored them.
    pub model: Arc<dyn EmbeddingModel>,
}

impl Registry {
    /// Score the request's documents against its query.
    pub async fn rerank(
        &self,
        request: RerankRequest,
        limits: &RequestLimits,
    ) -> Result<Reranked, EmbedError> {
        let handle = match request.model.as_deref().filter(|m| !m.is_empty()) {
            Some(name) => self.handle(name)?,
            None => self.default_handle()?,
        };
        if request.query.is_empty() {
            return Err(EmbedError::invalid(
                "query",
                "`query` is empty; it needs at least one character",
            ));
        }
        let field = request.documents_field;
        let documents = Input::Texts(request.documents);
        documents.check(field, limits.max_inputs)?;
        let Input::Texts(documents) = documents else {
            return Err(EmbedError::Bug("documents stopped being texts".to_owned()));
        };
        let (model, _) = self.build(&handle).await?;
        let options = EncodeOptions {
            truncate: request.truncate,
            max_total_tokens: Some(limits.max_tokens_per_request),
            ..Default::default()
        };
        let scores = model
            .rerank(&request.query, &documents, &options)
            .await
            .map_err(|e| name_documents(e, field))?;
        if scores.scores.len() != documents.len() {
            return Err(EmbedError::Bug(format!(
                "model `{}` gave {} scores for {} documents",
                model.name(),
                scores.scores.len(),
                documents.len()
            )));
        }
        Ok(Reranked { scores, model })
    }
}

/// A model's error about `input[i]` (its own name for the i-th text) said about the request's
/// own field: `documents[i]`.
fn name_documents(error: EmbedError, field: &str) -> EmbedError {
    let rename = |text: &str| text.replacen("input[", &format!("{field}["), 1);
    match error {
        EmbedError::TooLarge {
            limit,
            param,
            message,
        } => EmbedError::TooLarge {
            limit,
            param: param.map(|p| rename(&p)),
            message: rename(&message),
        },
        EmbedError::InvalidInput { param, message } => EmbedError::InvalidInput {
            param: param.map(|p| rename(&p)),
            message: rename(&message),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Limit;

    #[test]
    fn a_models_input_index_is_named_as_the_request_field() {
        let error = EmbedError::TooLarge {
            limit: Limit::InputTokens,
            param: Some("input[3]".to_owned()),
            message: "input[3] has 600 tokens".to_owned(),
        };
        match name_documents(error, "texts") {
            EmbedError::TooLarge { param, message, .. } => {
                assert_eq!(param.as_deref(), Some("texts[3]"));
                assert_eq!(message, "texts[3] has 600 tokens");
            }
            other => panic!("{other:?}"),
        }
    }
}
