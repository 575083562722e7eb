//! OSV ecosystems.
//!
//! An ecosystem is named as OSV names it (`npm`, `PyPI`, `crates.io`, `Red Hat`, …), optionally
//! followed by a release suffix after the first `:` (`Debian:12`, `Alpine:v3.18`,
//! `Ubuntu:22.04:LTS`, `Red Hat:enterprise_linux:9::appstream`). The base name selects the
//! version ordering ([`VersionScheme`]); the suffix narrows which distribution release an
//! advisory or an installed OS package belongs to.
//!
//! Names we do not know are kept verbatim ([`EcosystemKind::Other`]), never rejected: feeds add
//! ecosystems faster than any tool can, and an unknown ecosystem still matches exact versions
//! and orders with the generic comparator.

use std::fmt;
use std::str::FromStr;

use crate::version::VersionScheme;

macro_rules! ecosystems {
    ($( $variant:ident => $osv:literal, $scheme:ident, [$($alias:literal),*] ;)*) => {
        /// The base of an OSV ecosystem name, without its release suffix.
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EcosystemKind {
            $( #[doc = concat!("`", $osv, "`")] $variant, )*
            /// A name vigil does not know, kept exactly as given.
            Other(Box<str>),
        }

        impl EcosystemKind {
            /// Every known ecosystem, in declaration order.
            pub const KNOWN: &'static [EcosystemKind] = &[$(EcosystemKind::$variant,)*];

            /// The OSV spelling of this ecosystem.
            pub fn as_str(&self) -> &str {
                match self {
                    $(EcosystemKind::$variant => $osv,)*
                    EcosystemKind::Other(name) => name,
                }
            }

            /// The version ordering advisories in this ecosystem are written against.
            pub fn version_scheme(&self) -> VersionScheme {
                match self {
                    $(EcosystemKind::$variant => VersionScheme::$scheme,)*
                    EcosystemKind::Other(_) => VersionScheme::Generic,
                }
            }

            /// Recognizes an ecosystem base name: the exact OSV spelling, the same ignoring
            /// ASCII case, or a common alias (`cargo`, `golang`, `gem`, `composer`, `deb`, …).
            /// Anything else becomes [`EcosystemKind::Other`].
            pub fn from_name(name: &str) -> EcosystemKind {
                $(
                    if name == $osv {
                        return EcosystemKind::$variant;
                    }
                )*
                $(
                    if name.eq_ignore_ascii_case($osv) $(|| name.eq_ignore_ascii_case($alias))* {
                        return EcosystemKind::$variant;
                    }
                )*
                EcosystemKind::Other(name.into())
            }
        }
    };
}

ecosystems! {
    Npm => "npm", SemVer, [];
    PyPI => "PyPI", Pep440, ["pip", "python"];
    Maven => "Maven", Maven, [];
    Go => "Go", Go, ["golang"];
    CratesIo => "crates.io", SemVer, ["cargo", "crates", "rust"];
    RubyGems => "RubyGems", RubyGems, ["gem", "gems"];
    NuGet => "NuGet", NuGet, [];
    Packagist => "Packagist", Packagist, ["composer"];
    Pub => "Pub", Pub, ["dart"];
    Hex => "Hex", SemVer, [];
    Cran => "CRAN", Cran, [];
    Hackage => "Hackage", Hackage, [];
    Debian => "Debian", Debian, ["deb", "dpkg"];
    Ubuntu => "Ubuntu", Debian, [];
    Alpine => "Alpine", Alpine, ["apk"];
    Alpaquita => "Alpaquita", Alpine, [];
    BellSoft => "BellSoft Hardened Containers", Alpine, [];
    Chainguard => "Chainguard", Alpine, [];
    MinimOs => "MinimOS", Alpine, [];
    Wolfi => "Wolfi", Alpine, [];
    RedHat => "Red Hat", Rpm, ["rpm", "redhat", "rhel"];
    RockyLinux => "Rocky Linux", Rpm, [];
    AlmaLinux => "AlmaLinux", Rpm, [];
    Mageia => "Mageia", Rpm, [];
    OpenEuler => "openEuler", Rpm, [];
    OpenSuse => "openSUSE", Rpm, [];
    Suse => "SUSE", Rpm, [];
    Bitnami => "Bitnami", SemVer, [];
    Bioconductor => "Bioconductor", SemVer, [];
    ConanCenter => "ConanCenter", SemVer, [];
    DockerHardenedImages => "Docker Hardened Images", SemVer, [];
    Ghc => "GHC", SemVer, [];
    Julia => "Julia", SemVer, [];
    SwiftUrl => "SwiftURL", SemVer, [];
    GitHubActions => "GitHub Actions", Generic, [];
}

/// An OSV ecosystem: a base name and an optional release suffix (`Debian:12`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ecosystem {
    kind: EcosystemKind,
    release: Option<Box<str>>,
}

impl Ecosystem {
    /// Parses an ecosystem name. Never fails: unknown bases are kept as
    /// [`EcosystemKind::Other`]; everything after the first `:` is the release suffix.
    pub fn parse(name: &str) -> Ecosystem {
        let name = name.trim();
        let (base, release) = match name.split_once(':') {
            Some((base, release)) => (base, (!release.is_empty()).then(|| release.into())),
            None => (name, None),
        };
        Ecosystem {
            kind: EcosystemKind::from_name(base),
            release,
        }
    }

    /// An ecosystem with no release suffix.
    pub fn new(kind: EcosystemKind) -> Ecosystem {
        Ecosystem {
            kind,
            release: None,
        }
    }

    /// The base ecosystem.
    pub fn kind(&self) -> &EcosystemKind {
        &self.kind
    }

    /// The release suffix (`12` in `Debian:12`, `22.04:LTS` in `Ubuntu:22.04:LTS`).
    pub fn release(&self) -> Option<&str> {
        self.release.as_deref()
    }

    /// The same ecosystem without its release suffix.
    pub fn base(&self) -> Ecosystem {
        Ecosystem::new(self.kind.clone())
    }

    /// The version ordering of this ecosystem.
    pub fn version_scheme(&self) -> VersionScheme {
        self.kind.version_scheme()
    }
}

impl From<EcosystemKind> for Ecosystem {
    fn from(kind: EcosystemKind) -> Self {
        Ecosystem::new(kind)
    }
}

impl FromStr for Ecosystem {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Ecosystem::parse(s))
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.as_str())?;
        if let Some(release) = &self.release {
            write!(f, ":{release}")?;
        }
        Ok(())
    }
}

impl fmt::Display for EcosystemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Ecosystem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Ecosystem {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Ecosystem::parse(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_suffixes_and_aliases() {
        // (input, base kind, release, display)
        let cases: &[(&str, EcosystemKind, Option<&str>, &str)] = &[
            ("npm", EcosystemKind::Npm, None, "npm"),
            ("PyPI", EcosystemKind::PyPI, None, "PyPI"),
            ("pypi", EcosystemKind::PyPI, None, "PyPI"),
            ("crates.io", EcosystemKind::CratesIo, None, "crates.io"),
            ("cargo", EcosystemKind::CratesIo, None, "crates.io"),
            ("Debian:12", EcosystemKind::Debian, Some("12"), "Debian:12"),
            (
                "Alpine:v3.18",
                EcosystemKind::Alpine,
                Some("v3.18"),
                "Alpine:v3.18",
            ),
            (
                "Ubuntu:22.04:LTS",
                EcosystemKind::Ubuntu,
                Some("22.04:LTS"),
                "Ubuntu:22.04:LTS",
            ),
            (
                "Red Hat:enterprise_linux:9::appstream",
                EcosystemKind::RedHat,
                Some("enterprise_linux:9::appstream"),
                "Red Hat:enterprise_linux:9::appstream",
            ),
            ("Debian:", EcosystemKind::Debian, None, "Debian"),
            (
                "Fancy New Ecosystem",
                EcosystemKind::Other("Fancy New Ecosystem".into()),
                None,
                "Fancy New Ecosystem",
            ),
            (
                "Fancy:1",
                EcosystemKind::Other("Fancy".into()),
                Some("1"),
                "Fancy:1",
            ),
        ];
        for (input, kind, release, display) in cases {
            let eco = Ecosystem::parse(input);
            assert_eq!(eco.kind(), kind, "{input}");
            assert_eq!(eco.release(), *release, "{input}");
            assert_eq!(eco.to_string(), *display, "{input}");
        }
    }

    #[test]
    fn every_known_name_round_trips() {
        for kind in EcosystemKind::KNOWN {
            assert_eq!(&EcosystemKind::from_name(kind.as_str()), kind);
        }
    }

    #[test]
    fn schemes_follow_osv_families() {
        let cases = [
            ("npm", VersionScheme::SemVer),
            ("Hex", VersionScheme::SemVer),
            ("Go", VersionScheme::Go),
            ("Ubuntu:20.04", VersionScheme::Debian),
            ("Wolfi", VersionScheme::Alpine),
            ("Rocky Linux:9", VersionScheme::Rpm),
            ("SomethingElse", VersionScheme::Generic),
        ];
        for (name, scheme) in cases {
            assert_eq!(Ecosystem::parse(name).version_scheme(), scheme, "{name}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_display_round_trips(name in "\\PC{0,24}") {
            let eco = Ecosystem::parse(&name);
            let again = Ecosystem::parse(&eco.to_string());
            proptest::prop_assert_eq!(again.to_string(), eco.to_string());
        }
    }
}
