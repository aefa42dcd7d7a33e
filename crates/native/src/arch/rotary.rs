//! The rotary-position transformers, read from `config.json`: Qwen3 (Qwen3-Embedding: causal,
//! RMSNorm, SwiGLU, grouped-query attention with per-head q/k norms), Gemma 3's text model
//! (EmbeddingGemma: bidirectional, sliding-window layers with their own RoPE base, Gemma's
//! `1 + w` RMSNorm, norms after attention and feed-forward, scaled embeddings) and ModernBERT
//! (modernbert-embed, gte-modernbert: bidirectional, local and global layers, layer norms without
//! bias, fused projections, GeGLU).

use serde::Deserialize;
use serde_json::Value;

/// Which family, for what differs beyond the numbers below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotaryFamily {
    /// Qwen3: pre-norm layers, SiLU-gated feed-forward.
    Qwen3,
    /// Gemma 3: norms before and after each block, tanh-GELU-gated feed-forward, embeddings
    /// scaled by √hidden, RMSNorm weights stored as `w - 1`.
    Gemma3,
    /// ModernBERT: pre-norm layers with layer norms, fused Q/K/V and gated-GELU projections, a
    /// normalised embedding and no norm before the first layer's attention.
    ModernBert,
}

/// Which tokens a layer's attention sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionSpan {
    /// Every token (or every earlier one, when causal).
    Full,
    /// Tokens fewer than `window` positions away (and, when causal, not later).
    Sliding(usize),
}

/// One layer's attention: its span and its RoPE frequencies' base.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerKind {
    /// The tokens it sees.
    pub span: AttentionSpan,
    /// RoPE's θ for this layer.
    pub rope_theta: f64,
}

/// The shape of a rotary-position transformer.
#[derive(Debug, Clone, PartialEq)]
pub struct RotaryConfig {
    /// The family.
    pub family: RotaryFamily,
    /// Width of every token's hidden state.
    pub hidden: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (fewer than `heads`: grouped-query attention).
    pub kv_heads: usize,
    /// Width of one head (not always `hidden / heads`).
    pub head_dim: usize,
    /// Width of the gated feed-forward layer.
    pub intermediate: usize,
    /// RMSNorm epsilon.
    pub eps: f32,
    /// Rows of the token-embedding table.
    pub vocab: usize,
    /// Whether a token sees only earlier ones (Qwen3) or all (EmbeddingGemma).
    pub causal: bool,
    /// Multiplier of the attention scores.
    pub scale: f32,
    /// Each layer's attention, in order.
    pub layers: Vec<LayerKind>,
}

#[derive(Deserialize)]
struct Raw {
    model_type: String,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    #[serde(default)]
    num_key_value_heads: Option<usize>,
    #[serde(default)]
    head_dim: Option<usize>,
    intermediate_size: usize,
    #[serde(default)]
    rms_norm_eps: Option<f64>,
    vocab_size: usize,
    #[serde(default)]
    hidden_act: Option<String>,
    #[serde(default)]
    hidden_activation: Option<String>,
    #[serde(default)]
    rope_theta: Option<f64>,
    #[serde(default)]
    rope_local_base_freq: Option<f64>,
    #[serde(default)]
    rope_scaling: Option<Value>,
    #[serde(default)]
    rope_parameters: Option<Value>,
    #[serde(default)]
    sliding_window: Option<usize>,
    #[serde(default)]
    use_sliding_window: Option<bool>,
    #[serde(default)]
    layer_types: Option<Vec<String>>,
    #[serde(default)]
    sliding_window_pattern: Option<usize>,
    #[serde(default)]
    query_pre_attn_scalar: Option<f64>,
    #[serde(default)]
    use_bidirectional_attention: Option<bool>,
    #[serde(default)]
    attn_logit_softcapping: Option<f64>,
    #[serde(default)]
    norm_eps: Option<f64>,
    #[serde(default)]
    local_attention: Option<usize>,
    #[serde(default)]
    global_attn_every_n_layers: Option<usize>,
    #[serde(default)]
    global_rope_theta: Option<f64>,
    #[serde(default)]
    local_rope_theta: Option<f64>,
}

/// RoPE's θ for `layer_type` (`full_attention`, `sliding_attention`): transformers 5 writes
/// `rope_parameters`, per layer type where they differ; older configs `rope_theta` (and Gemma's
/// `rope_local_base_freq` for sliding layers). Only the default (unscaled) RoPE is supported.
fn rope_theta(raw: &Raw, layer_type: &str) -> Result<f64, String> {
    if let Some(scaling) = raw.rope_scaling.as_ref().filter(|s| !s.is_null()) {
        return Err(format!("rope_scaling {scaling} is not supported"));
    }
    if let Some(params) = &raw.rope_parameters {
        let params = params.get(layer_type).unwrap_or(params);
        let kind = params["rope_type"].as_str().unwrap_or("default");
        if kind != "default" {
            return Err(format!("rope_type `{kind}` is not supported (default is)"));
        }
        if let Some(theta) = params["rope_theta"].as_f64() {
            return Ok(theta);
        }
    }
    let local = (layer_type == "sliding_attention")
        .then_some(raw.rope_local_base_freq.or(raw.local_rope_theta))
        .flatten();
    let global = (layer_type == "full_attention")
        .then_some(raw.global_rope_theta)
        .flatten();
    local
        .or(global)
        .or(raw.rope_theta)
        .ok_or_else(|| "the config gives no rope_theta".to_owned())
}

impl RotaryConfig {
    /// Parse the text of `config.json`; `Ok(None)` when it is not a rotary-family model.
    pub fn from_json(text: &str) -> Result<Option<Self>, String> {
        let probe: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let family = match probe["model_type"].as_str() {
            Some("qwen3") => RotaryFamily::Qwen3,
            Some("gemma3_text") => RotaryFamily::Gemma3,
            Some("modernbert") => RotaryFamily::ModernBert,
            _ => return Ok(None),
        };
        let raw: Raw =
            serde_json::from_value(probe).map_err(|e| format!("not a model config: {e}"))?;
        let act = raw
            .hidden_activation
            .as_deref()
            .or(raw.hidden_act.as_deref());
        let expected_act = match family {
            RotaryFamily::Qwen3 => "silu",
            RotaryFamily::Gemma3 => "gelu_pytorch_tanh",
            RotaryFamily::ModernBert => "gelu",
        };
        if act.is_some_and(|a| a != expected_act) {
            return Err(format!(
                "{}: activation `{}` is not supported ({expected_act} is)",
                raw.model_type,
                act.unwrap_or_default()
            ));
        }
        if raw.attn_logit_softcapping.is_some() {
            return Err("attn_logit_softcapping is not supported".to_owned());
        }
        let heads = raw.num_attention_heads;
        let kv_heads = raw.num_key_value_heads.unwrap_or(heads);
        if heads == 0 || kv_heads == 0 || !heads.is_multiple_of(kv_heads) {
            return Err(format!(
                "num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}"
            ));
        }
        let head_dim = raw.head_dim.unwrap_or(raw.hidden_size / heads);
        if head_dim == 0 || !head_dim.is_multiple_of(2) {
            return Err(format!("head_dim {head_dim} must be even"));
        }
        let types: Vec<String> = match (&raw.layer_types, family) {
            (Some(types), _) => types.clone(),
            // Older Gemma 3 configs: every `sliding_window_pattern`-th layer is global.
            (None, RotaryFamily::Gemma3) => {
                let pattern = raw.sliding_window_pattern.unwrap_or(6).max(1);
                (0..raw.num_hidden_layers)
                    .map(|i| {
                        if (i + 1) % pattern == 0 {
                            "full_attention"
                        } else {
                            "sliding_attention"
                        }
                        .to_owned()
                    })
                    .collect()
            }
            (None, RotaryFamily::Qwen3) => {
                vec!["full_attention".to_owned(); raw.num_hidden_layers]
            }
            // Older ModernBERT configs: every `global_attn_every_n_layers`-th layer from the
            // first is global.
            (None, RotaryFamily::ModernBert) => {
                let every = raw.global_attn_every_n_layers.unwrap_or(3).max(1);
                (0..raw.num_hidden_layers)
                    .map(|i| {
                        if i % every == 0 {
                            "full_attention"
                        } else {
                            "sliding_attention"
                        }
                        .to_owned()
                    })
                    .collect()
            }
        };
        if types.len() != raw.num_hidden_layers {
            return Err(format!(
                "layer_types lists {} layers, num_hidden_layers is {}",
                types.len(),
                raw.num_hidden_layers
            ));
        }
        let sliding_used = family != RotaryFamily::Qwen3 || raw.use_sliding_window == Some(true);
        let bidirectional = match family {
            RotaryFamily::Qwen3 => false,
            RotaryFamily::Gemma3 => raw.use_bidirectional_attention == Some(true),
            RotaryFamily::ModernBert => true,
        };
        // transformers' Gemma3TextConfig: a bidirectional model's window is read as
        // `sliding_window / 2 + 1` (keys closer than that on either side), and written back as
        // `(window - 1) * 2`; the file holds the written form.
        // ModernBERT: `local_attention` is the whole window, keys at most half of it away.
        let window = match family {
            RotaryFamily::ModernBert => Some(raw.local_attention.unwrap_or(128) / 2 + 1),
            _ => {
                raw.sliding_window
                    .filter(|w| *w > 0)
                    .map(|w| if bidirectional { w / 2 + 1 } else { w })
            }
        };
        let layers = types
            .iter()
            .map(|kind| {
                let span = match kind.as_str() {
                    "full_attention" => AttentionSpan::Full,
                    "sliding_attention" if !sliding_used => AttentionSpan::Full,
                    "sliding_attention" => AttentionSpan::Sliding(
                        window.ok_or("sliding layers need a sliding_window")?,
                    ),
                    other => return Err(format!("layer type `{other}` is not supported")),
                };
                Ok(LayerKind {
                    span,
                    rope_theta: rope_theta(&raw, kind)?,
                })
            })
            .collect::<Result<_, String>>()?;
        let scale = match family {
            RotaryFamily::Gemma3 => raw.query_pre_attn_scalar.unwrap_or(head_dim as f64),
            RotaryFamily::Qwen3 | RotaryFamily::ModernBert => head_dim as f64,
        }
        .powf(-0.5) as f32;
        Ok(Some(Self {
            family,
            hidden: raw.hidden_size,
            heads,
            kv_heads,
            head_dim,
            intermediate: raw.intermediate_size,
            eps: raw.rms_norm_eps.or(raw.norm_eps).unwrap_or(match family {
                RotaryFamily::ModernBert => 1e-5,
                _ => 1e-6,
            }) as f32,
            vocab: raw.vocab_size,
            causal: !bidirectional,
            scale,
            layers,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_qwen3_embedding_and_embeddinggemma() {
        // The shapes of Qwen/Qwen3-Embedding-0.6B and google/embeddinggemma-300m.
        let qwen = RotaryConfig::from_json(r#"{"model_type":"qwen3","hidden_size":1024,"num_hidden_layers":2,"num_attention_heads":16,"num_key_value_heads":8,"head_dim":128,"intermediate_size":3072,"rms_norm_eps":1e-06,"vocab_size":151669,"hidden_act":"silu","rope_theta":1000000,"rope_scaling":null,"sliding_window":null,"use_sliding_window":false,"max_position_embeddings":32768}"#).unwrap().unwrap();
        assert_eq!((qwen.heads / qwen.kv_heads, qwen.head_dim), (2, 128));
        assert!(qwen.causal);
        assert_eq!(qwen.layers[1].span, AttentionSpan::Full);
        assert_eq!(qwen.layers[0].rope_theta, 1e6);
        let gemma = RotaryConfig::from_json(r#"{"model_type":"gemma3_text","hidden_size":768,"num_hidden_layers":3,"num_attention_heads":3,"num_key_value_heads":1,"head_dim":256,"intermediate_size":1152,"vocab_size":262144,"hidden_activation":"gelu_pytorch_tanh","query_pre_attn_scalar":256,"rope_theta":1000000.0,"rope_local_base_freq":10000.0,"sliding_window":512,"layer_types":["sliding_attention","sliding_attention","full_attention"],"use_bidirectional_attention":true}"#).unwrap().unwrap();
        assert!(!gemma.causal);
        assert_eq!(gemma.layers[0].span, AttentionSpan::Sliding(257));
        assert_eq!(
            (gemma.layers[0].rope_theta, gemma.layers[2].rope_theta),
            (1e4, 1e6)
        );
        assert!((gemma.scale - 1.0 / 16.0).abs() < 1e-7);
        assert_eq!(
            RotaryConfig::from_json(r#"{"model_type":"bert"}"#),
            Ok(None)
        );
    }

    #[test]
    fn refuses_what_it_cannot_run() {
        let base = r#""hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":8,"vocab_size":8,"rope_theta":10000"#;
        for (extra, needle) in [
            (r#""hidden_act":"gelu""#, "gelu"),
            (r#""rope_scaling":{"rope_type":"yarn"}"#, "yarn"),
            (r#""num_key_value_heads":3"#, "multiple"),
        ] {
            let err =
                RotaryConfig::from_json(&format!(r#"{{"model_type":"qwen3",{base},{extra}}}"#))
                    .unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }
}
