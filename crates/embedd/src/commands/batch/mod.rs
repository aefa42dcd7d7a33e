//! `embedd embed --input FILE --output FILE`: a corpus embedded in batches, in this process or
//! on running servers, resumable after an interruption.
//!
//! - [`input`] (and [`parquet_input`]): the records, streamed from the input file.
//! - [`target`]: what embeds a batch (this process's registry, or a server).
//! - [`dispatch`]: batches spread over the targets, retried elsewhere when one fails.
//! - [`spool`]: the finished batches in input order, kept in `OUTPUT.partial/` until the end.
//! - [`output`] (and [`parquet_output`]): the output written from the spool.

mod dispatch;
mod input;
mod output;
mod parquet_input;
mod parquet_output;
mod spool;
mod target;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use embedd_core::Registry;
use tokio::sync::mpsc;

use super::progress::Progress;
use crate::cli::{BatchArgs, ConfigArgs};
use crate::setup;
use dispatch::{Dispatcher, Done};
use input::{InputFormat, Record, Source};
use output::{Finished, OutputFormat};
use spool::{Job, Spool, Written};
use target::{Remote, Target};

/// Batches read ahead of the workers.
const READ_AHEAD: usize = 4;

/// Embed every text of `input` into `output`, picking up where an interrupted run of the same
/// command stopped.
pub async fn run(
    config: &ConfigArgs,
    model: Option<String>,
    args: BatchArgs,
    input: &Path,
    output: &Path,
) -> anyhow::Result<()> {
    if args.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let format = OutputFormat::of(output)?;
    let source = Source {
        format: InputFormat::of(input)?,
        path: std::fs::canonicalize(input)
            .with_context(|| format!("the input {}", input.display()))?,
        field: args.field.clone(),
        id_field: args.id_field.clone(),
    };
    let spool_dir = Spool::dir_for(output);
    if !spool_dir.exists() && !args.overwrite {
        if let Some(existing) = format.files(output).into_iter().find(|f| f.exists()) {
            bail!(
                "{} exists; pass --overwrite to replace it",
                existing.display()
            );
        }
    }
    let counting = source.clone();
    let (total, skipped) = tokio::task::spawn_blocking(move || count(&counting)).await??;
    if total == 0 {
        bail!("{} holds no text to embed", input.display());
    }
    let job = Job {
        source: source.clone(),
        model: model.clone(),
        batch_size: args.batch_size,
        total,
    };
    let mut spool = Spool::open(&spool_dir, job)?;
    if spool.done() > 0 {
        eprintln!(
            "resuming: {} of {total} texts are already embedded in {}",
            spool.done(),
            spool_dir.display()
        );
    }
    if !spool.complete() {
        let (targets, registry) = targets(config, model, &args)?;
        let result = embed_rest(&mut spool, &source, targets, args.batch_size).await;
        if let Some(registry) = registry {
            registry.close_all().await;
        }
        if let Err(error) = result {
            eprintln!(
                "stopped with {} of {total} texts embedded and kept in {}; run the same command \
                 again to go on",
                spool.done(),
                spool_dir.display()
            );
            return Err(error);
        }
    }
    let finished = Finished {
        rows: spool.rows()?,
        count: spool.done(),
        dimensions: spool.dimensions().context("no batch was embedded")?,
        named_ids: source.id_field.is_some(),
    };
    let dimensions = finished.dimensions;
    let destination = output.to_owned();
    tokio::task::spawn_blocking(move || output::write(format, &destination, finished)).await??;
    spool.remove()?;
    eprintln!(
        "wrote {total} vectors of {dimensions} dimensions to {}{}",
        output.display(),
        match skipped {
            0 => String::new(),
            n => format!(" ({n} empty texts skipped)"),
        }
    );
    Ok(())
}

/// The records with a text, and the empty ones passed over; a malformed record stops the job
/// here, before any work is done.
fn count(source: &Source) -> anyhow::Result<(u64, u64)> {
    let mut records = source.records()?;
    let mut total = 0;
    while records.next_record()?.is_some() {
        total += 1;
    }
    Ok((total, records.skipped))
}

/// The servers of `--server`, or this process's registry (returned too, to be closed).
fn targets(
    config: &ConfigArgs,
    model: Option<String>,
    args: &BatchArgs,
) -> anyhow::Result<(Vec<Target>, Option<Arc<Registry>>)> {
    if args.servers.is_empty() {
        let config = setup::load_config(config)?;
        let registry = setup::registry(&config, None)?;
        let model = setup::model_name(&registry, model.as_deref())?;
        let target = Target::Local {
            registry: registry.clone(),
            model,
        };
        return Ok((vec![target], Some(registry)));
    }
    let client = reqwest::Client::builder()
        .build()
        .context("building the HTTP client")?;
    let remotes = args.servers.iter().map(|url| {
        Target::Remote(Remote {
            url: url.clone(),
            client: client.clone(),
            model: model.clone(),
            api_key: args.api_key.clone(),
            timeout: args.timeout,
        })
    });
    Ok((remotes.collect(), None))
}

/// Embed every record the spool does not hold yet, appending batches in input order; Ctrl-C
/// stops between batches, with everything finished kept.
async fn embed_rest(
    spool: &mut Spool,
    source: &Source,
    targets: Vec<Target>,
    batch_size: usize,
) -> anyhow::Result<()> {
    let done = spool.done();
    let first_seq = done / batch_size as u64;
    let (batches_in, batches) = mpsc::channel(READ_AHEAD);
    let reader_source = source.clone();
    let written = spool.written()?;
    let reader = tokio::task::spawn_blocking(move || {
        read_batches(&reader_source, done, written, batch_size, &batches_in)
    });
    let (results_in, mut results) = mpsc::unbounded_channel();
    let dispatcher = Dispatcher::start(targets, batches, first_seq, results_in);
    let mut progress = Progress::new(spool.total(), done, "texts");
    let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
    let mut next = first_seq;
    // One listener for the whole job: a signal that comes while a batch is being written is
    // still seen at the next turn.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let outcome = loop {
        if spool.complete() {
            break Ok(());
        }
        let result = tokio::select! {
            result = results.recv() => result,
            _ = &mut interrupted => break Err(anyhow::anyhow!("interrupted")),
        };
        let finished = match result {
            Some(Ok(finished)) => finished,
            Some(Err(error)) => break Err(error),
            None => break Err(anyhow::anyhow!("every worker stopped")),
        };
        pending.insert(finished.seq, finished);
        if let Err(error) = write_ready(spool, &mut pending, &mut next, &mut progress) {
            break Err(error);
        }
    };
    progress.finish();
    dispatcher.stop();
    reader.abort();
    outcome
}

/// Append the batches that come next in input order, as long as they are there.
fn write_ready(
    spool: &mut Spool,
    pending: &mut BTreeMap<u64, Done>,
    next: &mut u64,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    while let Some(done) = pending.remove(next) {
        let model = done.answer.model;
        let written: Vec<Written> = done
            .records
            .iter()
            .map(|record| Written {
                id: record.id.clone(),
                text_sha256: record.text_sha256(),
                model: model.clone(),
            })
            .collect();
        spool.append(&written, &done.answer.vectors)?;
        progress.advance(written.len() as u64);
        *next += 1;
    }
    Ok(())
}

/// Read the input past what the spool holds, checking that those records are the ones the
/// spool was made from, and send the rest in batches.
fn read_batches(
    source: &Source,
    done: u64,
    written: impl Iterator<Item = anyhow::Result<Written>>,
    batch_size: usize,
    batches: &mpsc::Sender<anyhow::Result<Vec<Record>>>,
) {
    let result = (|| {
        let mut records = source.records()?;
        for (position, written) in written.enumerate().take(done as usize) {
            let written = written?;
            let record = records
                .next_record()?
                .context("the input is shorter than before")?;
            if record.id != written.id || record.text_sha256() != written.text_sha256 {
                bail!(
                    "the input has changed since the interrupted run (its text {} differs); delete \
                     the .partial directory to start over",
                    position + 1
                );
            }
        }
        let mut batch = Vec::with_capacity(batch_size);
        while let Some(record) = records.next_record()? {
            batch.push(record);
            if batch.len() == batch_size {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                if batches.blocking_send(Ok(full)).is_err() {
                    return Ok(());
                }
            }
        }
        if !batch.is_empty() {
            let _ = batches.blocking_send(Ok(batch));
        }
        Ok(())
    })();
    if let Err(error) = result {
        let _ = batches.blocking_send(Err(error));
    }
}
