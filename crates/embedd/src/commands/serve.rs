//! `embedd serve`: the HTTP API until SIGINT or SIGTERM, then a graceful stop: after SIGTERM it
//! drains for `server.shutdown_drain` (new requests 503), then stops accepting connections and
//! gives requests in flight `server.shutdown_grace` to finish.

use std::io::Write;

use anyhow::Context;
use embedd_core::config::ByteSize;
use embedd_server::lifecycle::Lifecycle;
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
        header_timeout: server.header_timeout,
        body_timeout: server.body_timeout,
        max_header_bytes: usize::try_from(server.max_header_size.0).unwrap_or(usize::MAX),
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

    let lifecycle = std::sync::Arc::new(Lifecycle::default());
    let state = AppState {
        registry: registry.clone(),
        limits,
        access: setup::access(server)?.map(std::sync::Arc::new),
        lifecycle: lifecycle.clone(),
    };
    let stopping = std::sync::Arc::new(tokio::sync::Notify::new());
    let (drain, grace) = (server.shutdown_drain, server.shutdown_grace);
    let stop = {
        let stopping = stopping.clone();
        async move {
            let signal = shutdown_signal().await;
            lifecycle.drain();
            // SIGTERM comes from an orchestrator: keep refusing new requests with 503 while it
            // takes this replica out. Ctrl-C comes from a person, who wants it to stop now.
            if signal == Signal::Terminate && !drain.is_zero() {
                tokio::time::sleep(drain).await;
            }
            tracing::info!("stopped accepting connections; finishing requests in flight");
            stopping.notify_one();
        }
    };
    let served = embedd_server::serve(listener, state, stop);
    tokio::pin!(served);
    let overdue = async {
        stopping.notified().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = &mut served => result?,
        () = overdue => tracing::warn!(
            grace_seconds = grace.as_secs_f64(),
            "requests still in flight after the grace period; exiting without them"
        ),
    }
    tracing::info!("closing models");
    registry.close_all().await;
    Ok(())
}

/// The signal that stopped the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Interrupt,
    Terminate,
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM, saying which.
async fn shutdown_signal() -> Signal {
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
        () = interrupt => {
            tracing::info!("interrupted; finishing requests in flight");
            Signal::Interrupt
        }
        () = terminate => {
            tracing::info!("terminated; draining, then finishing requests in flight");
            Signal::Terminate
        }
    }
}
