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
//! - [`quant`]: int8 linear layers (opt in per model): quantized weights, AVX-512 VNNI kernel.
//! - [`vmath`]: vectorised elementwise math: `exp`, GELU, softmax, layer norm.
//! - [`heads`]: BGE-M3's sparse and multi-vector heads, on the same token states as the dense vector.
//! - [`pooling`]: token states to one vector (mean, CLS, max, last token).
//! - [`dense`]: sentence-transformers' `Dense` modules after pooling (EmbeddingGemma's two).
//! - [`scheduler`]: requests cut into batches that take turns (a small request never waits behind
//!   a large one), batches sized by measured time, a bounded queue in front; tested with a fake
//!   batch function.
//! - [`model`]: [`NativeModel`], the [`embedd_core::EmbeddingModel`] over all of the above.
#![deny(missing_docs)]

/// Whether this CPU runs the AVX2 + FMA builds of the kernels (std caches the answer).
#[cfg(target_arch = "x86_64")]
fn avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Define a public function `$name` that runs `$body` compiled with AVX2 + FMA when the CPU has
/// them, and as compiled for the baseline target otherwise. `$body` must be `#[inline(always)]`
/// so each build gets its own copy, vectorised for its instruction set.
macro_rules! dispatch {
    ($(#[$doc:meta])* $name:ident, $fast:ident, $body:ident, ($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            if crate::avx2() {
                // SAFETY: `$fast` only needs AVX2 and FMA, and `avx2()` just found both.
                return unsafe { $fast($($arg),*) };
            }
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
pub mod encoder;
pub mod engine;
pub mod error;
pub mod heads;
pub mod layout;
pub mod model;
pub mod network;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod ops;
pub mod pooling;
pub mod quant;
pub mod rotary;
pub mod scheduler;
pub mod tokenize;
pub mod vmath;
pub mod weights;

pub use error::NativeError;
pub use model::{LoadOptions, NativeModel};
pub use network::Backend;
pub use quant::Precision;
pub use scheduler::{BatchFn, BatchLimits, Scheduler};
