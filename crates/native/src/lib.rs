//! In-process inference for sentence-transformers models, matching sentence-transformers' vectors.
//!
//! # Layout
//!
//! - [`layout`]: reading a sentence-transformers directory (modules, pooling, max length, config).
//! - [`weights`]: `model.safetensors` read once; tensors are views into the file's bytes.
//! - [`checkpoint`]: PyTorch checkpoints (BGE-M3's `.pt` heads, `pytorch_model.bin`) read without
//!   Python, their tensors also views.
//! - [`tokenize`]: the model's `tokenizer.json`, truncating at the model's limit.
//! - [`arch`]: the supported architectures (BERT, RoBERTa, MPNet; Qwen3, Gemma 3) and their
//!   `config.json`.
//! - [`encoder`]: one transformer encoder for all of them, run on real tokens only (no padding).
//! - [`network`]: which engine computes the token states: [`encoder`], or (feature `onnx`) ONNX
//!   Runtime on an exported graph ([`onnx`]), loaded at run time.
//! - [`rotary`]: the rotary-position transformers (Qwen3, Gemma 3), run the same way.
//! - [`engine`]: a loaded model's parts, and the batch computation (texts to ids, ids to vectors).
//! - [`ops`]: matrix products (and the row split that lets one text use every core).
//! - [`matmul`]: embedd's own product kernels for the AVX2 and portable paths.
//! - [`quant`]: int8 linear layers (opt in per model): quantized weights, AVX-512 VNNI kernel.
//! - [`vmath`]: vectorised elementwise math: `exp`, GELU, softmax, layer norm.
//! - [`simd`]: which instruction set the kernels run (`EMBEDD_SIMD`).
//! - [`heads`]: BGE-M3's sparse and multi-vector heads, on the same token states as the dense vector.
//! - [`pooling`]: token states to one vector (mean, CLS, max, last token).
//! - [`dense`]: sentence-transformers' `Dense` modules after pooling (EmbeddingGemma's two).
//! - [`scheduler`]: requests cut into batches that take turns (a small request never waits behind
//!   a large one), batches sized by measured time, a bounded queue in front; tested with a fake
//!   batch function.
//! - [`distill`]: a static model made from a transformer's vocabulary (model2vec's distillation).
//! - [`model`]: [`NativeModel`], the [`embedd_core::EmbeddingModel`] over all of the above.
#![deny(missing_docs)]

/// Define a public function `$name` that runs `$body` compiled with AVX2 + FMA when the active
/// path ([`simd::active`]) has them, and as compiled for the baseline target otherwise, plus
/// `$on`, the same on a path the caller names (what the tests compare). `$body` must be
/// `#[inline(always)]` so each build gets its own copy, vectorised for its instruction set.
macro_rules! dispatch {
    ($(#[$doc:meta])* $name:ident, $on:ident, $fast:ident, $body:ident, ($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            $on(crate::simd::active(), $($arg),*)
        }

        /// The same on the instruction-set path `simd` (capped at what the CPU has).
        // The tests call every `$on`; the path argument adds one to the kernel's own.
        #[allow(dead_code, clippy::too_many_arguments)]
        pub(crate) fn $on(simd: crate::simd::Simd, $($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            if simd.runs_avx2() {
                // SAFETY: `$fast` only needs AVX2 and FMA, and `runs_avx2()` found both.
                return unsafe { $fast($($arg),*) };
            }
            let _ = simd;
            $body($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn $fast($($arg: $ty),*) $(-> $ret)? {
            $body($($arg),*)
        }
    };
}

pub mod arch;
pub mod checkpoint;
pub mod dense;
pub mod distill;
pub mod encoder;
pub mod engine;
pub mod error;
pub mod heads;
pub mod layout;
pub mod matmul;
pub mod model;
pub mod network;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod ops;
pub mod pooling;
pub mod quant;
pub mod rerank;
pub mod rotary;
pub mod scheduler;
pub mod simd;
pub mod static_model;
pub mod tokenize;
pub mod vmath;
pub mod weights;

pub use error::NativeError;
pub use model::{LoadOptions, NativeModel};
pub use network::Backend;
pub use quant::Precision;
pub use scheduler::{BatchFn, BatchLimits, Scheduler};
