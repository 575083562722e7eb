//! Placeholder: orders like the generic scheme until this ecosystem's ordering lands.

use super::generic::GenericVersion;
use super::{VersionError, VersionOrder};

/// Placeholder version type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RpmVersion(GenericVersion);

impl VersionOrder for RpmVersion {
    fn parse(input: &str) -> Result<Self, VersionError> {
        GenericVersion::parse(input).map(Self)
    }
}
