//! `embedd models`: what the registry holds, and optionally whether each model works.

use embedd_core::registry::ModelHealth;

use crate::cli::ModelsArgs;
use crate::setup;

/// Print one line per model: name, provider, model id, dimensions, token limit, space, role;
/// with `--health`, each model is built, and a healthy one also shows its outputs and prompts.
pub async fn run(args: ModelsArgs) -> anyhow::Result<()> {
    let config = setup::load_config(&args.config)?;
    let registry = setup::registry(&config, None)?;
    let health = if args.health {
        Some(registry.health(true).await)
    } else {
        None
    };
    let show = |n: Option<usize>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    println!(
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
        println!(
            "{:<24} {:<22} {:<32} {:>6} {:>10}  {:<28} {role}{status}",
            model.name,
            model.provider.as_str(),
            model.model_id,
            show(model.dimensions),
            show(model.max_tokens),
            model.space,
        );
    }
    registry.close_all().await;
    Ok(())
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
    out
}
