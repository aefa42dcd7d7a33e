//! `embedd fetch`: put models' files where the registry finds them.

use anyhow::Context;
use embedd_fetch::Fetcher;

use crate::cli::FetchArgs;

/// Fetch each model and print its directory.
pub async fn run(args: FetchArgs) -> anyhow::Result<()> {
    let mut fetcher = Fetcher::from_env();
    if let Some(dir) = args.model_dir {
        fetcher.root = dir;
    }
    for model in args.models {
        let f = fetcher.clone();
        let name = model.clone();
        let dir = tokio::task::spawn_blocking(move || f.fetch(&name))
            .await
            .context("the fetch stopped")?
            .with_context(|| format!("fetching {model}"))?;
        say!("{model}: {}", dir.display());
    }
    Ok(())
}
