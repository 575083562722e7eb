//! One module per subcommand.

pub mod intel;
pub mod version;
