//! Placeholder: orders like the generic scheme until this ecosystem's ordering lands.

use super::generic::GenericVersion;
use super::{VersionError, VersionOrder};

/// Placeholder version type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PubVersion(GenericVersion);

impl VersionOrder for PubVersion {
    fn parse(input: &str) -> Result<Self, VersionError> {
        GenericVersion::parse(input).map(Self)
    }
}
