//! Facts about well-known hosted models that config validation, providers and cost reports share.

/// What the seed's table (section 1) says about one OpenAI embedding model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostedModel {
    /// The provider's model id.
    pub model_id: &'static str,
    /// Default (and largest) vector length.
    pub dimensions: usize,
    /// Whether the API takes a `dimensions` parameter to shorten vectors.
    pub shortenable: bool,
    /// The most tokens of one input.
    pub max_tokens: usize,
    /// US dollars per 1,000 input tokens.
    pub usd_per_1k_tokens: f64,
}

/// OpenAI's embedding models, from the seed's section 1.
pub const OPENAI_MODELS: &[HostedModel] = &[
    HostedModel {
        model_id: "text-embedding-ada-002",
        dimensions: 1536,
        shortenable: false,
        max_tokens: 8191,
        usd_per_1k_tokens: 0.0001,
    },
    HostedModel {
        model_id: "text-embedding-3-small",
        dimensions: 1536,
        shortenable: true,
        max_tokens: 8191,
        usd_per_1k_tokens: 0.00002,
    },
    HostedModel {
        model_id: "text-embedding-3-large",
        dimensions: 3072,
        shortenable: true,
        max_tokens: 8191,
        usd_per_1k_tokens: 0.00013,
    },
];

/// Look up an OpenAI model by id.
pub fn openai_model(model_id: &str) -> Option<&'static HostedModel> {
    OPENAI_MODELS.iter().find(|m| m.model_id == model_id)
}

/// The widest vector the `local` hash model makes.
pub const LOCAL_MAX_DIMENSIONS: usize = 8192;

/// The `local` hash model's vector length when the config does not say.
pub const LOCAL_DEFAULT_DIMENSIONS: usize = 384;

/// The widest vector any model may declare; beyond this a config value is surely a typo.
pub const MAX_DIMENSIONS: usize = 65_536;
