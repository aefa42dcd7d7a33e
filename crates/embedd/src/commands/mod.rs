//! One module per subcommand.

pub mod batch;
pub mod bench;
pub mod embed;
pub mod eval;
pub mod fetch;
pub mod load;
pub mod models;
pub mod serve;
