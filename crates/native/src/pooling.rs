//! From token states to one sentence vector, as sentence-transformers' `Pooling` module does.

use serde::Deserialize;

/// How token states become one vector (`1_Pooling/config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Average of all tokens.
    Mean,
    /// The first token (`[CLS]` / `<s>`).
    Cls,
    /// Elementwise maximum over tokens.
    Max,
    /// The last token (decoder-style embedders).
    LastToken,
    /// Sum of tokens divided by the square root of their count.
    MeanSqrtLen,
}

impl Pooling {
    /// The mode's name as TEI reports it (`mean`, `cls`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::Cls => "cls",
            Self::Max => "max",
            Self::LastToken => "last_token",
            Self::MeanSqrtLen => "mean_sqrt_len",
        }
    }
}

/// The flags of sentence-transformers' pooling config.
#[derive(Debug, Deserialize)]
pub struct PoolingFlags {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
    /// sentence-transformers 6 writes one name instead of the flags.
    #[serde(default)]
    pooling_mode: Option<String>,
    /// Whether the prompt's tokens are pooled with the text's (sentence-transformers' default).
    #[serde(default = "pooled_prompt")]
    include_prompt: bool,
}

fn pooled_prompt() -> bool {
    true
}

impl PoolingFlags {
    /// The one mode set; several at once (concatenated poolings) are not supported.
    pub fn mode(&self) -> Result<Pooling, String> {
        if !self.include_prompt {
            return Err(
                "`include_prompt: false` (pooling without the prompt's tokens) is not supported yet"
                    .to_owned(),
            );
        }
        if let Some(name) = &self.pooling_mode {
            return match name.as_str() {
                "mean" | "mean_tokens" => Ok(Pooling::Mean),
                "cls" | "cls_token" => Ok(Pooling::Cls),
                "max" | "max_tokens" => Ok(Pooling::Max),
                "lasttoken" | "last_token" => Ok(Pooling::LastToken),
                "mean_sqrt_len_tokens" | "mean_sqrt_len" => Ok(Pooling::MeanSqrtLen),
                other => Err(format!("pooling_mode `{other}` is not supported")),
            };
        }
        let set: Vec<Pooling> = [
            (self.pooling_mode_mean_tokens, Pooling::Mean),
            (self.pooling_mode_cls_token, Pooling::Cls),
            (self.pooling_mode_max_tokens, Pooling::Max),
            (self.pooling_mode_lasttoken, Pooling::LastToken),
            (self.pooling_mode_mean_sqrt_len_tokens, Pooling::MeanSqrtLen),
        ]
        .into_iter()
        .filter_map(|(on, mode)| on.then_some(mode))
        .collect();
        match set.as_slice() {
            [one] => Ok(*one),
            [] => Err("no pooling mode is set".to_owned()),
            _ => Err("several pooling modes at once are not supported".to_owned()),
        }
    }
}

impl Pooling {
    /// Pool `len` rows of `dim` values into one vector.
    pub fn apply(self, states: &[f32], len: usize, dim: usize) -> Vec<f32> {
        let rows = states.chunks_exact(dim).take(len);
        match self {
            Self::Cls => states[..dim.min(states.len())].to_vec(),
            Self::LastToken => states[len.saturating_sub(1) * dim..len * dim].to_vec(),
            Self::Max => rows.fold(vec![f32::NEG_INFINITY; dim], |mut acc, row| {
                acc.iter_mut().zip(row).for_each(|(a, v)| *a = a.max(*v));
                acc
            }),
            Self::Mean | Self::MeanSqrtLen => {
                let mut sum = vec![0.0f32; dim];
                for row in rows {
                    sum.iter_mut().zip(row).for_each(|(a, v)| *a += v);
                }
                let divisor = if self == Self::Mean {
                    len as f32
                } else {
                    (len as f32).sqrt()
                };
                sum.iter_mut().for_each(|a| *a /= divisor.max(1.0));
                sum
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_pools_as_sentence_transformers_does() {
        let states = [1.0, 2.0, 3.0, 6.0];
        assert_eq!(Pooling::Mean.apply(&states, 2, 2), vec![2.0, 4.0]);
        assert_eq!(Pooling::Cls.apply(&states, 2, 2), vec![1.0, 2.0]);
        assert_eq!(Pooling::LastToken.apply(&states, 2, 2), vec![3.0, 6.0]);
        assert_eq!(Pooling::Max.apply(&states, 2, 2), vec![3.0, 6.0]);
        let flags: PoolingFlags = serde_json::from_str(
            r#"{"word_embedding_dimension": 384, "pooling_mode_mean_tokens": true}"#,
        )
        .unwrap();
        assert_eq!(flags.mode(), Ok(Pooling::Mean));
        let named: PoolingFlags = serde_json::from_str(
            r#"{"embedding_dimension": 64, "pooling_mode": "lasttoken", "include_prompt": true}"#,
        )
        .unwrap();
        assert_eq!(named.mode(), Ok(Pooling::LastToken));
        let none: PoolingFlags = serde_json::from_str("{}").unwrap();
        assert!(none.mode().is_err());
    }
}
