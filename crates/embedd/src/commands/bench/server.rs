//! Server throughput: an in-process `embedd serve` on 127.0.0.1 and `--clients` concurrent HTTP
//! clients sending batches of `--batch` texts, as a deployment sees traffic.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use embedd_core::{Config, Registry};
use embedd_server::{AppState, Limits};

use super::{timed, Report};
use crate::cli::BenchArgs;

/// Serve the registry, drive it with concurrent clients, report texts per second.
pub async fn run(
    registry: Arc<Registry>,
    config: &Config,
    name: &str,
    texts: &[String],
    args: &BenchArgs,
) -> anyhow::Result<Report> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/v1/embeddings", listener.local_addr()?);
    let state = AppState {
        registry: registry.clone(),
        limits: Limits {
            max_inputs: config.server.max_inputs,
            body_limit: usize::try_from(config.server.body_limit.0).unwrap_or(usize::MAX),
            max_tokens_per_request: config.server.max_tokens_per_request,
            ..Limits::default()
        },
        // The benchmark's own clients carry no key.
        access: None,
        lifecycle: Default::default(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(embedd_server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let batches: Arc<Vec<Vec<String>>> =
        Arc::new(texts.chunks(args.batch).map(<[String]>::to_vec).collect());
    pass(
        &client,
        &base,
        name,
        &Arc::new(batches.iter().take(args.clients).cloned().collect()),
        args.clients,
    )
    .await?;
    let model = registry.get_or_create(name).await?;
    let report = timed("server", model.as_ref(), texts.len(), args, || {
        pass(&client, &base, name, &batches, args.clients)
    })
    .await;
    let _ = stop.send(());
    let _ = server.await;
    report
}

/// Every batch once, `clients` requests in flight at a time; the tokens reported.
async fn pass(
    client: &reqwest::Client,
    url: &str,
    model: &str,
    batches: &Arc<Vec<Vec<String>>>,
    clients: usize,
) -> anyhow::Result<usize> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (client, url, model, batches, next) = (
            client.clone(),
            url.to_owned(),
            model.to_owned(),
            batches.clone(),
            next.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut tokens = 0usize;
            while let Some(batch) = batches.get(next.fetch_add(1, Ordering::Relaxed)) {
                let response = client
                    .post(&url)
                    .json(&serde_json::json!({"input": batch, "model": model}))
                    .send()
                    .await?;
                if !response.status().is_success() {
                    bail!("the server answered {}", response.status());
                }
                let body: serde_json::Value = response.json().await?;
                tokens += body["usage"]["prompt_tokens"].as_u64().unwrap_or(0) as usize;
            }
            Ok(tokens)
        }));
    }
    let mut tokens = 0;
    for worker in workers {
        tokens += worker.await.context("a client stopped")??;
    }
    Ok(tokens)
}
