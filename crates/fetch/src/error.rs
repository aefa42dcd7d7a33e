//! Why a model could not be fetched or verified.

use std::path::{Path, PathBuf};

/// A fetch or verification failure, naming the file or source at fault.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Every source failed; each one's reason is listed.
    #[error("model `{model}` could not be fetched from any source:\n  - {}", attempts.join("\n  - "))]
    NoSource {
        /// The model.
        model: String,
        /// One line per source tried.
        attempts: Vec<String>,
    },
    /// A file could not be read or written.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        message: String,
    },
    /// A file's contents are not what they must be.
    #[error("{}: {message}; delete the model directory and run `embedd fetch` again", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong (size or checksum mismatch, missing).
        message: String,
    },
    /// A source answered, but not with the model.
    #[error("{0}")]
    Source(String),
}

impl FetchError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, e: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            message: e.to_string(),
        }
    }
}
