//! `embedd embed`: texts in, one JSON object per line out.

use std::io::{BufRead, Write};

use embedd_core::{FallbackPolicy, Inputs};
use serde::Serialize;

use crate::cli::EmbedArgs;
use crate::setup;

#[derive(Serialize)]
struct Line<'a> {
    index: usize,
    model: &'a str,
    embedding: &'a [f32],
}

/// Embed the arguments (or stdin's lines) and print `{"index", "model", "embedding"}` per text.
pub async fn run(args: EmbedArgs) -> anyhow::Result<()> {
    let config = setup::load_config(&args.config)?;
    let registry = setup::registry(&config, None)?;
    let name = setup::model_name(&registry, args.model.as_deref())?;
    let texts = if args.texts.is_empty() {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<Vec<_>, _>>()?
    } else {
        args.texts
    };
    let policy = FallbackPolicy::SAME_SPACE;
    let encoded = registry
        .encode_with_fallback(Some(&name), Inputs::Texts(&texts), policy)
        .await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (index, embedding) in encoded.embeddings.vectors.iter().enumerate() {
        let line = Line {
            index,
            model: encoded.model.name(),
            embedding,
        };
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    registry.close_all().await;
    Ok(())
}
