//! `embedd serve`: the HTTP API until SIGINT or SIGTERM, then a graceful stop.

use std::io::Write;

use anyhow::Context;
use embedd_core::config::ByteSize;
use embedd_server::{AppState, Limits};

use crate::cli::ServeArgs;
use crate::setup;

/// Run the server.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = setup::load_config(&args.config)?;
    let registry = setup::registry(&config, args.model.as_deref()).context("--model")?;

    let server = &config.server;
    let body_limit = match &args.body_limit {
        Some(text) => ByteSize::parse(text)
            .map_err(anyhow::Error::msg)
            .context("--body-limit")?,
        None => server.body_limit,
    };
    let limits = Limits {
        max_inputs: args.max_inputs.unwrap_or(server.max_inputs).max(1),
        body_limit: usize::try_from(body_limit.0).unwrap_or(usize::MAX),
        max_tokens_per_request: server.max_tokens_per_request,
    };
    let host = args.host.clone().unwrap_or_else(|| server.host.clone());
    let port = args.port.unwrap_or(server.port);
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .with_context(|| format!("cannot listen on {host}:{port}"))?;
    let address = listener.local_addr()?;

    // Build the default model now, so the first request does not wait and /ready turns green.
    let warm = registry.clone();
    tokio::spawn(async move {
        if let Err(e) = warm.get_default().await {
            tracing::error!(error = %e, "the default model failed to load; /ready will say so");
        }
    });

    tracing::info!(%address, default_model = registry.default_name(), max_inputs = limits.max_inputs, body_limit = limits.body_limit, "listening");
    // One line on stdout for scripts and tests that started us with --port 0.
    println!("embedd listening on http://{address}");
    std::io::stdout().flush()?;

    let state = AppState {
        registry: registry.clone(),
        limits,
        access: setup::access(server)?.map(std::sync::Arc::new),
    };
    embedd_server::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped accepting requests; closing models");
    registry.close_all().await;
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("interrupted; finishing requests in flight"),
        () = terminate => tracing::info!("terminated; finishing requests in flight"),
    }
}
