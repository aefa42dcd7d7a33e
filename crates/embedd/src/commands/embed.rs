//! `embedd embed`: texts in, one JSON object per line out; with `--input`, a corpus in batches
//! (see [`super::batch`]).

use std::io::{BufRead, Write};

use embedd_core::{EmbedRequest, Input, RequestLimits};
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
    if let (Some(input), Some(output)) = (&args.input, &args.output) {
        return super::batch::run(&args.config, args.model, args.batch, input, output).await;
    }
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
    let request = EmbedRequest::new(Input::Texts(texts), "TEXT").with_model(Some(name));
    let limits = RequestLimits {
        max_inputs: usize::MAX,
        max_tokens_per_request: usize::MAX,
    };
    let encoded = registry.embed(request, &limits).await?;
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
