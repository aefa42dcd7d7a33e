//! `embedd`: text embeddings from one binary.
//!
//! # Layout
//!
//! - [`cli`]: the command line (clap); every flag also reads an `EMBEDD_*` variable.
//! - [`setup`]: loading the configuration and building the registry, shared by every command.
//! - [`commands`]: one module per subcommand (`serve`, `embed`, `models`, `bench`, `fetch`, `distill`,
//!   `eval`, `load`), and `batch`, the corpus jobs of `embed --input`.
//! - [`telemetry`]: logs (text or JSON) and, with the `otel` feature, traces to a collector.

/// `println!` that returns an error instead of panicking when standard output is closed (a
/// pipe into `head`, say); `main` then ends quietly.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

mod cli;
mod commands;
mod setup;
mod telemetry;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> anyhow::Result<()> {
    match run() {
        // The reader went away (`embedd models | head`): nothing is left to say to it.
        Err(error) if closed_stdout(&error) => Ok(()),
        other => other,
    }
}

/// Whether `error` comes from writing to a standard output nobody reads any more.
fn closed_stdout(error: &anyhow::Error) -> bool {
    let broken = Some(std::io::ErrorKind::BrokenPipe);
    error.chain().any(|cause| {
        // serde_json's writer error does not list the I/O error as its source; it tells the kind.
        cause.downcast_ref::<std::io::Error>().map(|e| e.kind()) == broken
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(|e| e.io_error_kind())
                == broken
    })
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Dropped last, after the runtime has finished: it sends the traces still buffered.
    let _telemetry = telemetry::init(matches!(cli.command, Command::Serve(_)), cli.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => commands::serve::run(args).await,
            Command::Embed(args) => commands::embed::run(args).await,
            Command::Models(args) => commands::models::run(args).await,
            Command::Bench(args) => commands::bench::run(args).await,
            Command::Fetch(args) => commands::fetch::run(args).await,
            Command::Distill(args) => commands::distill::run(args).await,
            Command::Eval(cli::EvalCommand::Sts(args)) => commands::eval::sts(args).await,
            Command::Load(args) => commands::load::run(args).await,
        }
    })
}
