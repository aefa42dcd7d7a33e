//! One module per subcommand.

pub mod bench;
pub mod embed;
pub mod models;
pub mod serve;
