//! The Python peer: sentence-transformers on the same weights and texts, run in this benchmark so
//! the ratio compares like with like on the same machine at the same moment.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context};
use embedd_core::{Config, ProviderKind};
use embedd_fetch::Fetcher;

use crate::cli::BenchArgs;

/// The peer's versions, as measured in the table.
const PEER_PACKAGES: [&str; 2] = ["torch==2.15.0", "sentence-transformers==6.2.0"];

/// Run the peer script on the model's directory and the same texts; its JSON report.
pub async fn run(
    config: &Config,
    name: &str,
    args: &BenchArgs,
) -> anyhow::Result<serde_json::Value> {
    let model = config
        .embeddings
        .models
        .iter()
        .find(|m| m.name == name)
        .context("the model is not in the config")?;
    if model.provider != ProviderKind::Native {
        bail!(
            "--peer compares native models with sentence-transformers; `{name}` is {}",
            model.provider
        );
    }
    let id = model.model_id.clone().unwrap_or_else(|| name.to_owned());
    let args = (
        args.peer_script.clone(),
        args.peer_python.clone(),
        args.corpus.clone(),
        args.batch,
        args.runs,
        args.limit,
    );
    tokio::task::spawn_blocking(move || {
        let (script, python, corpus, batch, runs, limit) = args;
        let dir = Fetcher::from_env().fetch(&id)?;
        let python = match python {
            Some(python) => python,
            None => peer_python()?,
        };
        eprintln!(
            "running the peer: {} {}",
            python.display(),
            script.display()
        );
        let output = Command::new(&python)
            .arg(&script)
            .arg(&dir)
            .arg(&corpus)
            .args([
                "--batch",
                &batch.to_string(),
                "--runs",
                &runs.to_string(),
                "--n",
                &limit.to_string(),
            ])
            .output()
            .with_context(|| format!("running {}", python.display()))?;
        if !output.status.success() {
            bail!(
                "the peer failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let last = stdout.lines().last().context("the peer printed nothing")?;
        serde_json::from_str(last).context("the peer's report is not JSON")
    })
    .await?
}

/// A Python with the peer's packages: a virtual environment made once in the user's cache.
fn peer_python() -> anyhow::Result<PathBuf> {
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
    let ready = Command::new(&python)
        .args(["-c", "import torch, sentence_transformers"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ready {
        eprintln!(
            "installing the peer ({}) into {}",
            PEER_PACKAGES.join(", "),
            venv.display()
        );
        let status = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet"])
            .args(PEER_PACKAGES)
            .status()?;
        if !status.success() {
            bail!("pip could not install the peer's packages");
        }
    }
    Ok(python)
}
