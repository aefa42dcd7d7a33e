//! `embedd`: text embeddings from one binary.
//!
//! # Layout
//!
//! - [`cli`]: the command line (clap); every flag also reads an `EMBEDD_*` variable.
//! - [`setup`]: loading the configuration and building the registry, shared by every command.
//! - [`commands`]: one module per subcommand (`serve`, `embed`, `models`, `bench`, `fetch`, `eval`).

mod cli;
mod commands;
mod setup;

use clap::Parser;

use cli::{Cli, Command, LogFormat};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(matches!(cli.command, Command::Serve(_)), cli.log_format);
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
            Command::Eval(cli::EvalCommand::Sts(args)) => commands::eval::sts(args).await,
        }
    })
}

/// Logs go to stderr, so command output on stdout stays machine-readable. `EMBEDD_LOG` (or
/// `RUST_LOG`) sets the filter; the server logs requests by default, other commands only warnings.
fn init_logging(serving: bool, format: LogFormat) {
    let filter = std::env::var("EMBEDD_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| if serving { "info" } else { "warn" }.to_owned());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs.json().init(),
    }
}
