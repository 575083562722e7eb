//! Pub (Dart) version ordering.
//!
//! Reference: osv-scalibr's `semantic` package, whose Pub comparator is its SemVer comparator
//! (lenient parsing, see [`SemVersion`]) plus one more rule: versions equal under SemVer
//! precedence are then ordered by their build metadata, compared bytewise as strings
//! (`1.2.3 < 1.2.3+1 < 1.2.3+2 < 1.2.3+a < 1.2.3+a1`; `1.0.0-pre < 1.0.0-pre+build < 1.0.0`).
//! pub_semver itself also ranks build metadata above its absence; comparing it bytewise rather
//! than identifier by identifier is the reference's choice (`+9a > +1z`, `+10 < +9`), kept so
//! results agree with OSV tooling.
//!
//! The build metadata is the tail after its first `+`, followed by any numeric components past
//! the third (`1.2.3.4+b` has build `b.4`), exactly as the reference assembles it.
//!
//! Complexity: as [`SemVersion`]; comparing is O(len(a) + len(b)) and allocation-free.
//! Deviations from the reference: none.

use std::cmp::Ordering;
use std::fmt;

use super::semver::{BuildMetadata, SemVersion};
use super::{VersionError, VersionOrder};

/// A Pub package version. Every string is one; see [`SemVersion`].
#[derive(Clone)]
pub struct PubVersion(SemVersion);

impl PubVersion {
    /// Reads `input`; infallible.
    pub fn new(input: &str) -> PubVersion {
        PubVersion(SemVersion::new(input))
    }

    /// The text this version was parsed from.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for PubVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PubVersion").field(&self.as_str()).finish()
    }
}

impl fmt::Display for PubVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Ord for PubVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.compare_with(&other.0, BuildMetadata::Bytewise)
    }
}

impl PartialOrd for PubVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PubVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for PubVersion {}

impl VersionOrder for PubVersion {
    fn parse(input: &str) -> Result<Self, VersionError> {
        Ok(PubVersion::new(input))
    }

    fn compare_str(a: &str, b: &str) -> Result<Ordering, VersionError> {
        Ok(SemVersion::compare_str_with(a, b, BuildMetadata::Bytewise))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::semver::tests::{check_total_order, version_strategy};
    use proptest::prelude::*;

    #[test]
    fn orders_build_metadata() {
        use Ordering::{Equal as E, Greater as G, Less as L};
        let cases = [
            ("1.2.3", "1.2.3+build", L),
            ("1.2.3+build", "1.2.3+otherbuild", L),
            ("v1.2.3+build", "1.2.3+build", E),
            ("1.2.3+1", "1.2.3+2", L),
            ("1.2.3+10", "1.2.3+9", L),
            ("1.2.3+9a", "1.2.3+1z", G),
            ("1.2.3+a", "1.2.3+a1", L),
            ("1.0.0-pre", "1.0.0-pre+build", L),
            ("1.0.0-pre+build", "1.0.0", L),
            ("1.0.0+zzz", "1.0.1", L),
            ("1.2.3.4+b", "1.2.3+b.4", E),
            ("1.2.3.0+b", "1.2.3+b.00", L),
            ("1.2.3.0+b", "1.2.3+b.0", E),
            ("1.2.3.4", "1.2.3", L),
            ("1.2.3+", "1.2.3", E),
            ("01.2.3", "1.2.3", E),
        ];
        for (a, b, want) in cases {
            assert_eq!(
                PubVersion::new(a).cmp(&PubVersion::new(b)),
                want,
                "{a} vs {b}"
            );
            assert_eq!(
                PubVersion::compare_str(b, a),
                Ok(want.reverse()),
                "{b} vs {a}"
            );
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>(), t in any::<String>()) {
            let (a, b) = (PubVersion::new(&s), PubVersion::new(&t));
            prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
            prop_assert_eq!(PubVersion::compare_str(&s, &t), Ok(a.cmp(&b)));
        }

        #[test]
        fn total_order(items in prop::collection::vec(version_strategy(), 1..10)) {
            let parsed: Vec<PubVersion> = items.iter().map(|s| PubVersion::new(s)).collect();
            check_total_order(&parsed)?;
        }
    }
}
