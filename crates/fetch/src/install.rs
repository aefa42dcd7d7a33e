//! Staging, checking and atomically installing a model directory, and verifying it before load.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::KnownModel;
use crate::error::FetchError;

/// The files a model directory must hold to load, besides its weights.
pub const REQUIRED_FILES: [&str; 2] = ["config.json", "tokenizer.json"];

/// The transformer's weights, in the forms embedd loads; a model directory holds at least one:
/// safetensors, a PyTorch checkpoint (read without Python), or an ONNX export.
pub const WEIGHT_FILES: [&str; 3] = ["model.safetensors", "pytorch_model.bin", "onnx/model.onnx"];

/// Whether `dir` holds every required file and some weights.
pub fn complete(dir: &Path) -> bool {
    REQUIRED_FILES.iter().all(|f| dir.join(f).is_file())
        && WEIGHT_FILES.iter().any(|f| dir.join(f).is_file())
}

/// The manifest written into every installed model directory.
pub const MANIFEST: &str = "embedd-manifest.json";

/// What was installed: every file's size and SHA-256, and where it came from.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// The model's canonical id.
    pub model: String,
    /// The source that provided it.
    pub source: String,
    /// Relative path → file facts.
    pub files: BTreeMap<String, FileFacts>,
}

/// One installed file.
#[derive(Debug, Serialize, Deserialize)]
pub struct FileFacts {
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A directory being filled; removed on drop unless committed.
pub struct Staging {
    path: PathBuf,
    target: PathBuf,
    id: String,
    committed: bool,
}

impl Staging {
    /// A fresh staging directory under `root` for model `id`.
    pub fn new(root: &Path, id: &str) -> Result<Self, FetchError> {
        let name = crate::dir_name(id);
        let path = root.join(format!(
            ".staging-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| FetchError::io(&path, e))?;
        }
        std::fs::create_dir_all(&path).map_err(|e| FetchError::io(&path, e))?;
        Ok(Self {
            target: root.join(name),
            path,
            id: id.to_owned(),
            committed: false,
        })
    }

    /// Where to put the files.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Check the files, write the manifest, and move the directory into place in one rename.
    pub fn commit(
        mut self,
        known: Option<&KnownModel>,
        source: &str,
    ) -> Result<PathBuf, FetchError> {
        for file in REQUIRED_FILES {
            let path = self.path.join(file);
            if !path.is_file() {
                return Err(FetchError::Corrupt {
                    path,
                    message: "is missing from what the source provided".to_owned(),
                });
            }
        }
        if !complete(&self.path) {
            return Err(FetchError::Corrupt {
                path: self.path.join(WEIGHT_FILES[0]),
                message: "is missing from what the source provided (and so is pytorch_model.bin)"
                    .to_owned(),
            });
        }
        let mut files = BTreeMap::new();
        for path in walk(&self.path)? {
            let relative = path
                .strip_prefix(&self.path)
                .map_err(|_| FetchError::Source("a file escaped the staging directory".to_owned()))?
                .to_string_lossy()
                .replace('\\', "/");
            let facts = FileFacts {
                size: std::fs::metadata(&path)
                    .map_err(|e| FetchError::io(&path, e))?
                    .len(),
                sha256: sha256(&path)?,
            };
            files.insert(relative, facts);
        }
        for (file, expected) in known.map_or(&[][..], |k| k.checksums) {
            let actual = files.get(*file).map(|f| f.sha256.as_str());
            if actual != Some(*expected) {
                return Err(FetchError::Corrupt {
                    path: self.path.join(file),
                    message: format!(
                        "SHA-256 is {}, expected {expected}",
                        actual.unwrap_or("missing")
                    ),
                });
            }
        }
        let manifest = Manifest {
            model: self.id.clone(),
            source: source.to_owned(),
            files,
        };
        let text = serde_json::to_string_pretty(&manifest)
            .map_err(|e| FetchError::Source(e.to_string()))?;
        let manifest_path = self.path.join(MANIFEST);
        std::fs::write(&manifest_path, text).map_err(|e| FetchError::io(&manifest_path, e))?;
        match std::fs::rename(&self.path, &self.target) {
            Ok(()) => {
                self.committed = true;
                Ok(self.target.clone())
            }
            // Another process installed the same model meanwhile: theirs is as good as ours.
            Err(_) if self.target.is_dir() => Ok(self.target.clone()),
            Err(e) => Err(FetchError::io(&self.target, e)),
        }
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Check an installed directory against its manifest: every file present, of the right size and
/// checksum. A directory without a manifest (one the user made) is taken as it is.
pub fn verify(dir: &Path) -> Result<(), FetchError> {
    let manifest_path = dir.join(MANIFEST);
    if !manifest_path.exists() {
        return Ok(());
    }
    let text =
        std::fs::read_to_string(&manifest_path).map_err(|e| FetchError::io(&manifest_path, e))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| FetchError::Corrupt {
        path: manifest_path.clone(),
        message: format!("malformed: {e}"),
    })?;
    for (file, facts) in &manifest.files {
        let path = dir.join(file);
        let size = std::fs::metadata(&path)
            .map(|m| m.len())
            .map_err(|_| FetchError::Corrupt {
                path: path.clone(),
                message: "is missing".to_owned(),
            })?;
        if size != facts.size {
            return Err(FetchError::Corrupt {
                path,
                message: format!(
                    "is {size} bytes, expected {} (an interrupted copy?)",
                    facts.size
                ),
            });
        }
        let actual = sha256(&path)?;
        if actual != facts.sha256 {
            return Err(FetchError::Corrupt {
                path,
                message: format!("SHA-256 is {actual}, expected {}", facts.sha256),
            });
        }
    }
    Ok(())
}

/// SHA-256 of a file, lower-case hex.
pub fn sha256(path: &Path) -> Result<String, FetchError> {
    let mut file = File::open(path).map_err(|e| FetchError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(|e| FetchError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// Every regular file under `dir`, recursively.
fn walk(dir: &Path) -> Result<Vec<PathBuf>, FetchError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| FetchError::io(&d, e))? {
            let path = entry.map_err(|e| FetchError::io(&d, e))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}
