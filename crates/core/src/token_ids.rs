//! Whose vocabulary a request's token ids are in.
//!
//! OpenAI's clients may send token arrays instead of text: LangChain's `OpenAIEmbeddings`
//! tokenizes with tiktoken's `cl100k_base` by default (TEI #273). Those ids mean nothing to
//! another model's vocabulary: read as the model's own, they are refused (an id past its
//! vocabulary) or, worse, embedded as other words. A model configured with `token_ids:
//! cl100k_base`, or a request sent with that header, has them decoded back to text here, and the
//! text goes through the model's own tokenizer like any other.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::EmbedError;

/// The vocabulary token-id inputs are read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenIds {
    /// The model's own vocabulary (the default): the ids go to the model as they are.
    Model,
    /// OpenAI's `cl100k_base` (tiktoken's default for its embedding models): decoded to text,
    /// then tokenized by the model.
    Cl100kBase,
}

impl TokenIds {
    /// The name used in the config and the `x-embedd-token-ids` header.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Cl100kBase => "cl100k_base",
        }
    }
}

impl FromStr for TokenIds {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "model" => Ok(Self::Model),
            "cl100k_base" => Ok(Self::Cl100kBase),
            other => Err(format!(
                "`{other}` is not a token vocabulary embedd reads; use `model` or `cl100k_base`"
            )),
        }
    }
}

/// The texts `ids` encode in `vocabulary`; `ids` unchanged as texts' ids where `vocabulary` is
/// the model's own. `field` names the request field in errors (`input[2]`).
///
/// A byte sequence cut inside a character (a client that splits a long text's ids into chunks
/// may cut there) decodes with U+FFFD in its place, as tiktoken's own `decode` does.
pub fn decode(
    vocabulary: TokenIds,
    ids: &[Vec<u32>],
    field: &str,
) -> Result<Vec<String>, EmbedError> {
    let bpe = match vocabulary {
        TokenIds::Model => {
            return Err(EmbedError::Bug(
                "token ids in the model's own vocabulary are not decoded".to_owned(),
            ))
        }
        TokenIds::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
    };
    ids.iter()
        .enumerate()
        .map(|(i, ids)| {
            let bytes = bpe.decode_bytes(ids).map_err(|e| {
                EmbedError::invalid(
                    format!("{field}[{i}]"),
                    format!(
                        "`{field}[{i}]` holds {}, which is not a cl100k_base token id",
                        e.token
                    ),
                )
            })?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cl100k_ids_decode_to_the_text_tiktoken_encoded() {
        // tiktoken's cl100k_base encoding of "hello world" and of "Hello, world!".
        let ids = vec![vec![15339, 1917], vec![9906, 11, 1917, 0]];
        let texts = decode(TokenIds::Cl100kBase, &ids, "input").unwrap();
        assert_eq!(texts, ["hello world", "Hello, world!"]);
        // The model's own ids never come here.
        assert!(decode(TokenIds::Model, &ids, "input").is_err());
    }

    #[test]
    fn an_id_outside_the_vocabulary_is_named() {
        let err = decode(TokenIds::Cl100kBase, &[vec![1], vec![1, 999_999]], "input").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("input[1]") && text.contains("999999"),
            "{text}"
        );
    }

    #[test]
    fn a_character_cut_in_two_decodes_without_failing() {
        let text = "naïve café 東京";
        let ids = tiktoken_rs::cl100k_base_singleton().encode_ordinary(text);
        let mut replaced = 0;
        for cut in 1..ids.len() {
            let parts = vec![ids[..cut].to_vec(), ids[cut..].to_vec()];
            let joined = decode(TokenIds::Cl100kBase, &parts, "input")
                .unwrap()
                .concat();
            if joined.contains('\u{FFFD}') {
                replaced += 1;
            } else {
                assert_eq!(joined, text);
            }
        }
        // Some cuts fall inside a character (東 and 京 take several ids each).
        assert!(replaced > 0);
    }

    #[test]
    fn names_parse_as_the_config_writes_them() {
        assert_eq!("cl100k_base".parse(), Ok(TokenIds::Cl100kBase));
        assert_eq!(" Model ".parse(), Ok(TokenIds::Model));
        assert!("o200k_base".parse::<TokenIds>().is_err());
    }
}
