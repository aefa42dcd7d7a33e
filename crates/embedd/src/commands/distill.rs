//! `embedd distill`: a static model made from a native transformer, saved where the registry
//! finds it by name.

use std::path::PathBuf;

use anyhow::{bail, Context};
use embedd_fetch::Fetcher;
use embedd_native::distill::{distill, DistillOptions};

use super::progress::Progress;
use crate::cli::DistillArgs;

/// Fetch the transformer if need be, distill it, and say how to use the result.
pub async fn run(args: DistillArgs) -> anyhow::Result<()> {
    let options = DistillOptions {
        pca_dims: (!args.no_pca).then_some(args.pca_dims),
        sif_coefficient: (!args.no_weighting).then_some(args.sif_coefficient),
        remove_pattern: Some(args.remove_tokens.clone()).filter(|p| !p.is_empty()),
        threads: args
            .threads
            .unwrap_or(DistillOptions::default().threads)
            .max(1),
    };
    options.check()?;
    // A path is never looked up on the hub: a mistyped one is said at once.
    let as_path = std::path::Path::new(&args.model);
    if (as_path.is_absolute() || args.model.starts_with('.')) && !as_path.is_dir() {
        bail!("{}: no such model directory", args.model);
    }
    let mut fetcher = Fetcher::from_env();
    if let Some(dir) = &args.model_dir {
        fetcher.root = dir.clone();
    }
    let source_id = embedd_fetch::canonical_id(&args.model);
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| default_name(&source_id));
    let out = match &args.output {
        Some(dir) => dir.clone(),
        None => fetcher.root.join(embedd_fetch::dir_name(&name)),
    };
    if out.exists() {
        if !args.overwrite {
            bail!(
                "{} already exists; pass --overwrite to replace it, or --name / --output for another",
                out.display()
            );
        }
        if !out.join("config.json").is_file() {
            bail!(
                "{} is not a model directory; refusing to replace it",
                out.display()
            );
        }
    }
    let model = args.model.clone();
    let source = tokio::task::spawn_blocking(move || fetcher.fetch(&model))
        .await
        .context("the fetch stopped")?
        .with_context(|| format!("fetching {}", args.model))?;
    let target = out.clone();
    let made = tokio::task::spawn_blocking(move || {
        // A fresh directory is written beside the old one first; the old one goes only then.
        let fresh = target.with_file_name(format!(
            ".{}.new-{}",
            target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&fresh);
        let (mut progress, mut shown): (Option<Progress>, usize) = (None, 0);
        let made = distill(&source, &source_id, &fresh, &options, &mut |done, total| {
            let bar = progress.get_or_insert_with(|| Progress::new(total as u64, 0, "tokens"));
            bar.advance(done.saturating_sub(shown) as u64);
            shown = done;
        });
        if let Some(bar) = &progress {
            bar.finish();
        }
        let made = made?;
        replace(&fresh, &target)?;
        anyhow::Ok(made)
    })
    .await
    .context("distillation stopped")??;
    say!(
        "{name}: {} tokens x {} dimensions ({:.1}% of the variance kept) in {}",
        made.tokens,
        made.dimensions,
        made.explained_variance * 100.0,
        out.display()
    );
    let model_id = if args.output.is_some() {
        out.display().to_string()
    } else {
        name.clone()
    };
    say!("use it in a config: {{provider: native, model_id: {model_id}}}");
    Ok(())
}

/// `all-MiniLM-L6-v2-static` for `sentence-transformers/all-MiniLM-L6-v2` or a directory of it.
fn default_name(source_id: &str) -> String {
    let base = source_id
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|b| !b.is_empty() && *b != "." && *b != "..")
        .unwrap_or("distilled");
    format!("{base}-static")
}

/// Put `fresh` where `target` is, replacing it.
fn replace(fresh: &std::path::Path, target: &std::path::Path) -> anyhow::Result<()> {
    let old: PathBuf = fresh.with_extension("old");
    if target.exists() {
        std::fs::rename(target, &old).with_context(|| format!("moving {}", target.display()))?;
    }
    std::fs::rename(fresh, target).with_context(|| format!("writing {}", target.display()))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_name_is_the_models_own_with_static() {
        assert_eq!(
            default_name("sentence-transformers/all-MiniLM-L6-v2"),
            "all-MiniLM-L6-v2-static"
        );
        assert_eq!(default_name("/models/minilm/"), "minilm-static");
        assert_eq!(default_name("./"), "distilled-static");
    }
}
