//! One module per subcommand.

pub mod agent;
pub mod findings;
pub mod intel;
pub mod query;
pub mod save;
pub mod scan;
pub mod serve;
pub mod target;
pub mod token;
pub mod version;
pub mod workflows;
