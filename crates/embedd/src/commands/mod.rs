//! One module per subcommand.

pub mod batch;
pub mod bench;
pub mod distill;
pub mod embed;
pub mod eval;
pub mod fetch;
pub mod load;
pub mod models;
pub mod progress;
pub mod serve;
