//! Loading the transformer a model directory holds, for the backend asked for, and a
//! cross-encoder's classifier head from the same weights.

use crate::arch::rotary::RotaryConfig;
use crate::arch::EncoderConfig;
use crate::dense::Dense;
use crate::encoder::Encoder;
use crate::error::NativeError;
use crate::layout::ModelLayout;
use crate::network::{Backend, Network};
use crate::quant::Precision;
use crate::rerank;
use crate::rotary::RotaryNetwork;
use crate::tokenize::TextTokenizer;
use crate::weights::Weights;

use super::LoadOptions;

/// The transformer `options.backend` runs, loaded from `layout`'s weights.
/// A cross-encoder (`labels` from its config) also gets its classifier head, from the same
/// weights; only BERT-family encoders with one label run as rerankers.
pub(super) fn load_network(
    layout: &ModelLayout,
    tokenizer: &TextTokenizer,
    options: &LoadOptions,
    labels: Option<usize>,
) -> Result<(Network, Option<Vec<Dense>>), NativeError> {
    if labels.is_some() && options.backend != Backend::Native {
        return Err(NativeError::Unsupported(
            "a cross-encoder (reranker) runs on the native backend only".to_owned(),
        ));
    }
    match options.backend {
        Backend::Native => {
            let path = &layout.config_file;
            let text = std::fs::read_to_string(path)
                .map_err(|e| NativeError::file(path, e.to_string()))?;
            let rotary = RotaryConfig::from_json(&text)
                .map_err(|message| NativeError::file(path, message))?;
            let weights = Weights::open(&layout.weights_file)?;
            let network = match rotary {
                Some(_) if labels.is_some() => {
                    return Err(NativeError::Unsupported(
                        "cross-encoders (rerankers) run on BERT-family encoders (bert, roberta, xlm-roberta, mpnet)".to_owned(),
                    ))
                }
                Some(_) if options.precision != Precision::F32 => {
                    return Err(NativeError::Unsupported(
                        "`quantize: int8` covers the BERT-family encoders; this model runs in f32"
                            .to_owned(),
                    ))
                }
                Some(config) => Network::Rotary(Box::new(RotaryNetwork::load(&weights, config)?)),
                None => {
                    let config = EncoderConfig::from_json(&text)
                        .map_err(|message| NativeError::file(path, message))?;
                    Network::Encoder(Box::new(Encoder::load(
                        &weights,
                        config,
                        options.precision,
                    )?))
                }
            };
            let head = match labels {
                None => None,
                Some(1) => Some(rerank::head(&weights, layout.shape.hidden)?),
                Some(n) => {
                    return Err(NativeError::Unsupported(format!(
                    "this classifier has {n} labels; embedd reranks with one-label cross-encoders"
                )))
                }
            };
            Ok((network, head))
        }
        Backend::Onnx if options.precision != Precision::F32 => Err(NativeError::Unsupported(
            "`quantize` applies to native models; an ONNX model runs the graph as exported"
                .to_owned(),
        )),
        #[cfg(feature = "onnx")]
        Backend::Onnx => {
            let pad_id = ["[PAD]", "<pad>"]
                .iter()
                .find_map(|token| tokenizer.id_of(token))
                .unwrap_or(0);
            let network = Network::Onnx(crate::onnx::OnnxNetwork::load(
                &layout.weights_file,
                layout.shape.hidden,
                options.threads,
                pad_id,
            )?);
            Ok((network, None))
        }
        #[cfg(not(feature = "onnx"))]
        Backend::Onnx => {
            let _ = tokenizer;
            Err(NativeError::Unsupported(
                "this build of embedd has no ONNX backend (cargo feature `onnx`)".to_owned(),
            ))
        }
    }
}
