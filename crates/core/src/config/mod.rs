//! The YAML configuration in the seed's format (section 5), read, interpolated and validated.
//!
//! ```yaml
//! embeddings:
//!   default_model: local-hash
//!   models:
//!     local-hash: { provider: local, dimensions: 384 }
//!   fallback_chain: [local-hash]
//! server: { port: 8080, body_limit: 2MiB, max_inputs: 2048 }
//! ```
//!
//! Loading goes: YAML text → a YAML value → `${VAR}` interpolation of string values
//! ([`interpolate`]) → typed structs (errors name the key path) → [`validate`] (every problem
//! collected, each naming its key and why). API keys never appear here in clear text: a model names
//! the environment variable that holds its key (`api_key_env`).

mod interpolate;
mod types;
pub(crate) mod units;
mod validate;

use std::path::Path;

pub use types::{
    space_of, CacheConfig, Config, EmbeddingsConfig, ModelConfig, Precision, ProviderKind,
    RateLimit, RerankApi, ServerConfig,
};
pub use units::ByteSize;

/// One problem found in a configuration, with the key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Dotted path of the offending key, such as `embeddings.models.bge.dimensions`.
    pub key: String,
    /// What is wrong with it and, where possible, how to fix it.
    pub message: String,
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Why a configuration could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The operating system's reason.
        message: String,
    },
    /// The text is not valid YAML, or a value has the wrong type or an unknown key.
    #[error("config is not in the expected shape: {0}")]
    Parse(String),
    /// The configuration parsed but makes no sense; every problem found is listed.
    #[error("config is invalid:\n{}", issues.iter().map(|i| format!("  - {i}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// Each problem, naming its key.
        issues: Vec<ConfigIssue>,
    },
    /// A model cannot be built from its (valid) configuration in this environment.
    #[error("model `{model}`: {message}")]
    Model {
        /// The model's registry name.
        model: String,
        /// What is missing, such as an unset API key variable.
        message: String,
    },
}

impl Config {
    /// Read, interpolate from the process environment, and validate a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_yaml(&text, &|name| std::env::var(name).ok())
    }

    /// Parse YAML text, resolving `${VAR}` with `env`, and validate the result.
    pub fn from_yaml(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut value: serde_norway::Value =
            serde_norway::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        interpolate::interpolate(&mut value, env)
            .map_err(|issues| ConfigError::Invalid { issues })?;
        let config: Config = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            ConfigError::Parse(format!("{path}: {}", e.into_inner()))
        })?;
        let issues = validate::validate(&config);
        if issues.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid { issues })
        }
    }

    /// The configuration used when none is given: it works offline, with nothing to download.
    ///
    /// It is compiled in and a unit test parses it, so an error here is a build defect.
    pub fn builtin() -> Result<Self, ConfigError> {
        Self::from_yaml(include_str!("builtin.yaml"), &|_| None)
    }
}

#[cfg(test)]
mod tests;
