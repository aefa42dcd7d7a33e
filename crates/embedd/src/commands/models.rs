//! `embedd models`: what the registry holds, and optionally whether each model works.

use embedd_core::registry::ModelHealth;

use crate::cli::ModelsArgs;
use crate::setup;

/// Print one line per model: name, provider, model id, dimensions, token limit, space, role;
/// with `--health`, each model is built: a healthy one shows the dimensions and token limit it
/// reports, its outputs, its prompts and the widths it was trained to be cut to.
pub async fn run(args: ModelsArgs) -> anyhow::Result<()> {
    let config = setup::load_config(&args.config)?;
    let registry = setup::registry(&config, None)?;
    let health = if args.health {
        Some(registry.health(true).await)
    } else {
        None
    };
    let show = |n: Option<usize>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    say!(
        "{:<24} {:<22} {:<32} {:>6} {:>10}  {:<28} ROLE{}",
        "NAME",
        "PROVIDER",
        "MODEL_ID",
        "DIMS",
        "MAX_TOKENS",
        "SPACE",
        if health.is_some() { "  HEALTH" } else { "" }
    );
    for model in registry.list() {
        let mut role = Vec::new();
        if model.name == registry.default_name() {
            role.push("default".to_owned());
        }
        if let Some(i) = registry
            .fallback_chain()
            .iter()
            .position(|n| *n == model.name)
        {
            role.push(format!("fallback#{}", i + 1));
        }
        let built = registry
            .get(&model.name)
            .ok()
            .filter(|_| health.is_some())
            .map(|m| m.info().clone());
        let dimensions = built.as_ref().map(|i| i.dimensions).or(model.dimensions);
        let max_tokens = built.as_ref().map(|i| i.max_tokens).or(model.max_tokens);
        let status = match health
            .as_ref()
            .and_then(|h| h.iter().find(|(n, _)| *n == model.name))
        {
            Some((_, ModelHealth::Healthy)) => {
                format!("  healthy{}", abilities(&registry, &model.name))
            }
            Some((_, ModelHealth::Unhealthy(reason))) => format!("  unhealthy: {reason}"),
            Some((_, ModelHealth::NotLoaded)) => "  not loaded".to_owned(),
            None => String::new(),
        };
        let role = if role.is_empty() {
            "-".to_owned()
        } else {
            role.join(",")
        };
        say!(
            "{:<24} {:<22} {:<32} {:>6} {:>10}  {:<28} {role}{status}",
            model.name,
            model.provider.as_str(),
            model.model_id,
            show(dimensions),
            show(max_tokens),
            model.space,
        );
    }
    if let Some(note) = int8_note(&config) {
        say!("\nnote: {note}");
    }
    registry.close_all().await;
    Ok(())
}

/// A warning for the int8 models this CPU runs slower than their `f32` twins, if any.
fn int8_note(config: &embedd_core::config::Config) -> Option<String> {
    let why = embedd_native::quant::Kernel::detect().slower_than_f32()?;
    let int8: Vec<&str> = config
        .embeddings
        .models
        .iter()
        .filter(|m| m.quantize == Some(embedd_core::config::Precision::Int8))
        .map(|m| m.name.as_str())
        .collect();
    (!int8.is_empty()).then(|| format!("{why} ({})", int8.join(", ")))
}

/// What a built model can give beyond its vector: its outputs, and its prompts where it has any.
fn abilities(registry: &embedd_core::Registry, name: &str) -> String {
    let Ok(model) = registry.get(name) else {
        return String::new();
    };
    let info = model.info();
    let mut out = format!("  outputs: {}", info.outputs);
    if !info.prompts.is_empty() {
        out.push_str(&format!("  prompts: {}", info.prompts.join(", ")));
    }
    if !info.trained_dimensions.is_empty() {
        let widths: Vec<String> = info
            .trained_dimensions
            .iter()
            .map(usize::to_string)
            .collect();
        out.push_str(&format!("  trained dimensions: {}", widths.join(", ")));
    }
    out
}
