//! The Python peers, run in this benchmark so each ratio compares like with like on the same
//! machine at the same moment: sentence-transformers on the same weights, and Python ONNX Runtime
//! on the same weights exported to ONNX (what fastembed and many Python services run).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use embedd_core::{Config, ProviderKind};
use embedd_fetch::Fetcher;

use crate::cli::{BenchArgs, Peer};

/// The sentence-transformers peer's versions, as measured in the issues' tables.
const ST_PACKAGES: [&str; 2] = ["torch==2.15.0", "sentence-transformers==6.2.0"];
/// The ONNX Runtime peer's versions; onnx and onnxscript are torch's exporter's.
const ONNX_PACKAGES: [&str; 3] = ["onnxruntime==1.32.0", "onnx==1.23.2", "onnxscript==0.7.2"];

/// Run `peer` on the model's directory and the same texts; its JSON report.
pub async fn run(
    config: &Config,
    name: &str,
    args: &BenchArgs,
    peer: Peer,
) -> anyhow::Result<serde_json::Value> {
    let model = config
        .embeddings
        .models
        .iter()
        .find(|m| m.name == name)
        .context("the model is not in the config")?;
    if model.provider != ProviderKind::Native {
        bail!(
            "--peer compares native models with their Python peers; `{name}` is {}",
            model.provider
        );
    }
    let id = model.model_id.clone().unwrap_or_else(|| name.to_owned());
    let args = (
        args.peer_script.clone(),
        args.onnx_peer_script.clone(),
        args.peer_python.clone(),
        args.corpus.clone(),
        [args.batch, args.runs, args.limit],
    );
    tokio::task::spawn_blocking(move || {
        let (st_script, onnx_script, python, corpus, [batch, runs, limit]) = args;
        let dir = Fetcher::from_env().fetch(&id)?;
        // Packages go only into embedd's own environment; a Python the user names must have them.
        let managed = python.is_none();
        let python = match python {
            Some(python) => python,
            None => peer_venv()?,
        };
        // Both peers need torch: the ONNX one exports the model with it.
        install(
            &python,
            managed,
            "import torch, sentence_transformers",
            &ST_PACKAGES,
        )?;
        let (script, dir) = match peer {
            Peer::SentenceTransformers => (st_script, dir),
            Peer::Onnxruntime => {
                let probe = "import onnxruntime, onnx, onnxscript";
                install(&python, managed, probe, &ONNX_PACKAGES)?;
                let dir = exported(&python, &onnx_script, &dir)?;
                (onnx_script, dir)
            }
        };
        eprintln!(
            "running the {} peer: {} {}",
            peer.name(),
            python.display(),
            script.display()
        );
        let output = Command::new(&python)
            .arg(&script)
            .arg(&dir)
            .arg(&corpus)
            .args(["--batch", &batch.to_string()])
            .args(["--runs", &runs.to_string()])
            .args(["--n", &limit.to_string()])
            .output()
            .with_context(|| format!("running {}", python.display()))?;
        if !output.status.success() {
            bail!(
                "the {} peer failed: {}",
                peer.name(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let last = stdout.lines().last().context("the peer printed nothing")?;
        serde_json::from_str(last).context("the peer's report is not JSON")
    })
    .await?
}

/// The model directory with its ONNX export: `dir` itself where it has `onnx/model.onnx`, else
/// an export made once by `export_onnx.py` (beside the peer script) under the cache directory,
/// named after the model's directory (delete it to export again).
fn exported(python: &Path, peer_script: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let graph = |dir: &Path| dir.join("onnx").join("model.onnx");
    if graph(dir).exists() {
        return Ok(dir.to_owned());
    }
    let name = dir.file_name().context("the model directory has no name")?;
    let dest = embedd_fetch::cache_dir().join("onnx-peer").join(name);
    if graph(&dest).exists() {
        return Ok(dest);
    }
    let script = peer_script.with_file_name("export_onnx.py");
    eprintln!("exporting the model to ONNX once, into {}", dest.display());
    let status = Command::new(python)
        .arg(&script)
        .arg(dir)
        .arg(&dest)
        .status()
        .with_context(|| format!("running {}", script.display()))?;
    if !status.success() || !graph(&dest).exists() {
        bail!("{} could not export {}", script.display(), dir.display());
    }
    Ok(dest)
}

/// The peers' virtual environment, made once in the user's cache.
fn peer_venv() -> anyhow::Result<PathBuf> {
    let venv = embedd_fetch::cache_dir().join("peer-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        let status = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .context("python3 -m venv")?;
        if !status.success() {
            bail!("cannot make {}", venv.display());
        }
    }
    Ok(python)
}

/// Install `packages` into `python`'s environment unless `probe` (Python code) already runs;
/// where the environment is not `managed` by embedd, say what is missing instead.
fn install(python: &Path, managed: bool, probe: &str, packages: &[&str]) -> anyhow::Result<()> {
    let ready = Command::new(python)
        .args(["-c", probe])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ready {
        return Ok(());
    }
    if !managed {
        bail!(
            "{} cannot run `{probe}`: pip install {}",
            python.display(),
            packages.join(" ")
        );
    }
    eprintln!(
        "installing the peer ({}) for {}",
        packages.join(", "),
        python.display()
    );
    let status = Command::new(python)
        .args(["-m", "pip", "install", "--quiet"])
        .args(packages)
        .status()?;
    if !status.success() {
        bail!("pip could not install the peer's packages");
    }
    Ok(())
}
