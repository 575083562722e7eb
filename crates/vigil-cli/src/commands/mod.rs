//! One module per subcommand.

pub mod findings;
pub mod intel;
pub mod query;
pub mod scan;
pub mod serve;
pub mod target;
pub mod token;
pub mod version;
