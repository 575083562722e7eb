//! Go module version ordering.
//!
//! Reference: osv-scalibr's `semantic` package, which orders the OSV `Go` ecosystem with its
//! lenient SemVer comparator, so this is [`SemVersion`] unchanged: the `v` prefix is optional
//! (OSV writes Go versions without it, `go.mod` with it), `v1.2` = `v1.2.0`, and
//! `+incompatible` is build metadata, ignored. Pseudo-versions need no special case: they are
//! prereleases built to sort correctly under SemVer precedence —
//! `v0.0.0-20191109021931-daa7c04131f5` sorts below `v0.0.0` and by timestamp among
//! themselves, `v1.2.4-0.20191109021931-daa7c04131f5` sorts above `v1.2.3` and below
//! `v1.2.4-pre` (numeric `0` < any alphanumeric identifier) and `v1.2.4`.
//!
//! Complexity and allocation: as [`SemVersion`]. Deviations from the reference: none.

use std::cmp::Ordering;
use std::fmt;

use super::semver::SemVersion;
use super::{VersionError, VersionOrder};

/// A Go module version (`v1.2.3`, `1.2.3`, a pseudo-version, `v2.0.0+incompatible`, …).
/// Every string is one; see [`SemVersion`].
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoVersion(SemVersion);

impl GoVersion {
    /// Reads `input`; infallible.
    pub fn new(input: &str) -> GoVersion {
        GoVersion(SemVersion::new(input))
    }

    /// The text this version was parsed from.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for GoVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("GoVersion").field(&self.as_str()).finish()
    }
}

impl fmt::Display for GoVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl VersionOrder for GoVersion {
    fn parse(input: &str) -> Result<Self, VersionError> {
        Ok(GoVersion::new(input))
    }

    fn compare_str(a: &str, b: &str) -> Result<Ordering, VersionError> {
        SemVersion::compare_str(a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::semver::tests::{check_total_order, version_strategy};
    use proptest::prelude::*;

    #[test]
    fn orders_module_versions() {
        use Ordering::{Equal as E, Greater as G, Less as L};
        let cases = [
            ("v1.2.3", "1.2.3", E),
            ("v1.2", "v1.2.0", E),
            ("v2.0.0+incompatible", "v2.0.0", E),
            ("v2.0.0+incompatible", "v2.0.1", L),
            ("v0.0.0-20191109021931-daa7c04131f5", "v0.0.0", L),
            (
                "v0.0.0-20191109021931-daa7c04131f5",
                "v0.0.0-20191109021932-000000000000",
                L,
            ),
            ("v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.3", G),
            (
                "v1.2.4-0.20191109021931-daa7c04131f5",
                "v1.2.4-0.20200101000000-aaaaaaaaaaaa",
                L,
            ),
            ("v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.4-pre", L),
            ("v1.2.4-pre.0.20191109021931-daa7c04131f5", "v1.2.4-pre", G),
            (
                "v1.2.4-pre.0.20191109021931-daa7c04131f5",
                "v1.2.4-pre.1",
                L,
            ),
            ("v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.4", L),
            ("v1.10.0", "v1.9.9", G),
        ];
        for (a, b, want) in cases {
            assert_eq!(
                GoVersion::new(a).cmp(&GoVersion::new(b)),
                want,
                "{a} vs {b}"
            );
            assert_eq!(
                GoVersion::compare_str(b, a),
                Ok(want.reverse()),
                "{b} vs {a}"
            );
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>(), t in any::<String>()) {
            let (a, b) = (GoVersion::new(&s), GoVersion::new(&t));
            prop_assert_eq!(GoVersion::compare_str(&s, &t), Ok(a.cmp(&b)));
        }

        #[test]
        fn total_order(items in prop::collection::vec(version_strategy(), 1..10)) {
            let parsed: Vec<GoVersion> = items.iter().map(|s| GoVersion::new(s)).collect();
            check_total_order(&parsed)?;
        }
    }
}
