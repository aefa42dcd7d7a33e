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

    // Before anyone is told where we listen: from here a signal drains, whenever it comes.
    let signals = ShutdownSignals::install();
    tracing::info!(%address, default_model = registry.default_name(), max_inputs = limits.max_inputs, body_limit = limits.body_limit, "listening");
    // One line on stdout for scripts and tests that started us with --port 0.
    say!("embedd listening on http://{address}");
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
            let signal = signals.recv().await;
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

/// SIGINT (Ctrl-C) and SIGTERM, listened for from the moment this is made: a signal that comes
/// before the server first waits for one is kept, instead of the default action killing the
/// process without draining (seen when SIGTERM followed the first answer closely).
struct ShutdownSignals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignals {
    /// Take over both signals now.
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let listen = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(stream) => Some(stream),
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for {name}");
                    None
                }
            };
            Self {
                interrupt: listen(SignalKind::interrupt(), "SIGINT"),
                terminate: listen(SignalKind::terminate(), "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Completes on the first of them, saying which.
    async fn recv(mut self) -> Signal {
        #[cfg(unix)]
        let (interrupt, terminate) = (
            wait_for(self.interrupt.as_mut()),
            wait_for(self.terminate.as_mut()),
        );
        #[cfg(not(unix))]
        let (interrupt, terminate) = (
            async {
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            },
            std::future::pending::<()>(),
        );
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
}

/// The next delivery of `signal`; never, when it could not be listened for.
#[cfg(unix)]
async fn wait_for(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}
