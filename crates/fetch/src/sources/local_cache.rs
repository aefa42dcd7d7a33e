//! Models already on this machine: a Hugging Face hub cache or a sentence-transformers cache.

use std::path::{Path, PathBuf};

use super::{bar, copy_into, wanted};
use crate::error::FetchError;
use crate::Fetcher;

/// Directories where `id` may already be, most specific first.
fn candidates(id: &str) -> Vec<PathBuf> {
    let home = dirs::home_dir().unwrap_or_default();
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let hub_cache = env("HF_HUB_CACHE")
        .or_else(|| env("HF_HOME").map(|h| h.join("hub")))
        .unwrap_or_else(|| home.join(".cache/huggingface/hub"));
    let mut out = Vec::new();
    let repo = hub_cache.join(format!("models--{}", id.replace('/', "--")));
    let snapshots = repo.join("snapshots");
    if let Ok(revision) = std::fs::read_to_string(repo.join("refs/main")) {
        out.push(snapshots.join(revision.trim()));
    }
    if let Ok(entries) = std::fs::read_dir(&snapshots) {
        let mut others: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        others.sort();
        out.extend(others);
    }
    let st_cache = env("SENTENCE_TRANSFORMERS_HOME")
        .unwrap_or_else(|| home.join(".cache/torch/sentence_transformers"));
    out.push(st_cache.join(id.replace('/', "_")));
    out
}

/// Copy the first complete cached copy of `id` into `dest`.
pub(super) fn fill(fetcher: &Fetcher, id: &str, dest: &Path) -> Result<(), FetchError> {
    let found = candidates(id)
        .into_iter()
        .find(|dir| crate::install::complete(dir))
        .ok_or_else(|| {
            FetchError::Source("not in the Hugging Face or sentence-transformers cache".to_owned())
        })?;
    tracing::info!(model = id, from = %found.display(), "copying from a local cache");
    let files = files_under(&found)?;
    let total = files
        .iter()
        .filter_map(|(p, _)| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let progress = bar(fetcher, total, &format!("copying {id}"));
    for (path, relative) in files {
        // Hub caches hold symlinks into a blob store; opening follows them.
        let file = std::fs::File::open(&path).map_err(|e| FetchError::io(&path, e))?;
        copy_into(file, &dest.join(&relative), &progress)?;
    }
    progress.finish_and_clear();
    Ok(())
}

/// A PyPI-style checkpoint beside a safetensors file holding the same weights: not copied.
fn superseded(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name == "pytorch_model.bin")
        && path.with_file_name("model.safetensors").is_file()
}

/// The wanted files under `dir`, with their paths relative to it.
fn files_under(dir: &Path) -> Result<Vec<(PathBuf, String)>, FetchError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| FetchError::io(&d, e))? {
            let path = entry.map_err(|e| FetchError::io(&d, e))?.path();
            let relative = path
                .strip_prefix(dir)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            if path.is_dir() {
                if wanted(&format!("{relative}/x.json")) {
                    stack.push(path);
                }
            } else if wanted(&relative) && !superseded(&path) {
                out.push((path, relative));
            }
        }
    }
    Ok(out)
}
