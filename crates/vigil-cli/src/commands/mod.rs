//! One module per subcommand.

pub mod intel;
pub mod scan;
pub mod version;
