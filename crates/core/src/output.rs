//! The kinds of output a model can give for one text, beside the one dense vector every model
//! gives: a sparse vector of token weights and one vector per token (multi-vector, ColBERT style).
//! BGE-M3 gives all three from one forward pass.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::EmbedError;

/// One kind of output (the API's names: `dense`, `sparse`, `multi_vector`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    /// One vector for the whole text: what every model gives.
    Dense,
    /// A weight per vocabulary token that matters (lexical matching, as BM25 does).
    Sparse,
    /// One vector per token, for late interaction (ColBERT).
    MultiVector,
}

impl Output {
    /// Every kind, in the order the API lists them.
    pub const ALL: [Output; 3] = [Output::Dense, Output::Sparse, Output::MultiVector];

    /// The API's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dense => "dense",
            Self::Sparse => "sparse",
            Self::MultiVector => "multi_vector",
        }
    }
}

/// A set of outputs: what a request wants, or what a model can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outputs {
    /// The dense vector.
    pub dense: bool,
    /// The sparse token weights.
    pub sparse: bool,
    /// The per-token vectors.
    pub multi_vector: bool,
}

impl Default for Outputs {
    /// The dense vector only: what every model gives and every dialect asks for.
    fn default() -> Self {
        Self::DENSE
    }
}

impl Outputs {
    /// The dense vector only.
    pub const DENSE: Self = Self {
        dense: true,
        sparse: false,
        multi_vector: false,
    };

    /// The set holding exactly `outputs`.
    pub fn of(outputs: &[Output]) -> Self {
        let mut set = Self {
            dense: false,
            sparse: false,
            multi_vector: false,
        };
        for output in outputs {
            match output {
                Output::Dense => set.dense = true,
                Output::Sparse => set.sparse = true,
                Output::MultiVector => set.multi_vector = true,
            }
        }
        set
    }

    /// Whether `output` is in the set.
    pub fn has(self, output: Output) -> bool {
        match output {
            Output::Dense => self.dense,
            Output::Sparse => self.sparse,
            Output::MultiVector => self.multi_vector,
        }
    }

    /// The kinds in the set, in the API's order.
    pub fn list(self) -> Vec<Output> {
        Output::ALL.into_iter().filter(|o| self.has(*o)).collect()
    }

    /// Whether every output of `self` is in `offered`.
    pub fn within(self, offered: Outputs) -> bool {
        Output::ALL
            .into_iter()
            .all(|o| !self.has(o) || offered.has(o))
    }

    /// Refuse a request for outputs `model` (which offers `offered`) cannot give, naming what it
    /// can: the caller's error, as the same request fails on every model of that kind.
    pub fn check(self, model: &str, offered: Outputs) -> Result<(), EmbedError> {
        if self.within(offered) {
            return Ok(());
        }
        Err(EmbedError::Unsupported {
            model: model.to_owned(),
            param: "outputs",
            what: format!("gives {offered}; {self} was asked for"),
        })
    }
}

impl fmt::Display for Outputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.list().into_iter().map(Output::name).collect();
        match names.as_slice() {
            [] => f.write_str("nothing"),
            names => write!(f, "{}", names.join(", ")),
        }
    }
}

/// A sparse vector: token ids of the model's vocabulary and their weights, ids ascending.
#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct SparseVector {
    /// Token ids, ascending, each once.
    pub indices: Vec<u32>,
    /// The weight of each id, all positive.
    pub values: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_check_against_what_a_model_offers() {
        let asked = Outputs::of(&[Output::Dense, Output::Sparse]);
        assert!(asked.within(Outputs::of(&Output::ALL)));
        assert!(!asked.within(Outputs::DENSE));
        let refused = asked.check("minilm", Outputs::DENSE).unwrap_err();
        assert_eq!(refused.fault(), crate::Fault::User);
        assert!(
            refused
                .to_string()
                .contains("gives dense; dense, sparse was asked"),
            "{refused}"
        );
        assert_eq!(Outputs::default(), Outputs::DENSE);
        assert_eq!(
            Outputs::of(&[Output::MultiVector]).list(),
            vec![Output::MultiVector]
        );
    }

    #[test]
    fn names_are_the_apis() {
        let parsed: Vec<Output> =
            serde_json::from_str(r#"["dense","sparse","multi_vector"]"#).unwrap();
        assert_eq!(parsed, Output::ALL);
        assert!(serde_json::from_str::<Output>(r#""colbert""#).is_err());
    }
}
