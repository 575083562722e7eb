//! Version orderings, one per ecosystem family.
//!
//! Each submodule owns one scheme and exposes one type implementing [`VersionOrder`]: `parse`
//! turns a string into a value whose `Ord` is the ecosystem's reference ordering (npm's
//! node-semver, pip's `packaging`, Maven's `ComparableVersion`, dpkg, apk-tools, rpmvercmp, …).
//! Equality is *ordering* equality (`1.0.0+build == 1.0.0` under SemVer), not string equality.
//!
//! [`VersionScheme`] picks the scheme at run time (from an [`Ecosystem`](crate::Ecosystem)) and
//! [`Version`] holds a parsed value of any scheme, so callers that compare one version against
//! many range bounds — the matcher — parse once and compare many times.
//!
//! Hot path: comparisons run once per (component, advisory bound). Parsers avoid allocation
//! where they can; `compare` is O(len(a) + len(b)).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

pub mod alpine;
pub mod cran;
pub mod debian;
pub mod generic;
pub mod go;
pub mod hackage;
pub mod maven;
pub mod nuget;
pub mod packagist;
pub mod pep440;
pub mod pubdev;
pub mod rpm;
pub mod rubygems;
pub mod semver;

/// A version type with its ecosystem's total order.
pub trait VersionOrder: Ord + Clone + fmt::Debug + Sized {
    /// Parses `input`; an error says why the string is not a version of this scheme.
    fn parse(input: &str) -> Result<Self, VersionError>;

    /// Compares two version strings. Schemes may override this with an allocation-free path.
    fn compare_str(a: &str, b: &str) -> Result<Ordering, VersionError> {
        Ok(Self::parse(a)?.cmp(&Self::parse(b)?))
    }
}

/// Why a string is not a valid version of a scheme.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {scheme} version {input:?}: {reason}")]
pub struct VersionError {
    /// The scheme that rejected the input.
    pub scheme: VersionScheme,
    /// The rejected input (shown escaped: it is attacker-controlled).
    pub input: Box<str>,
    /// What is wrong with it.
    pub reason: Cow<'static, str>,
}

impl VersionError {
    /// A parse error of `scheme` for `input`.
    pub fn new(
        scheme: VersionScheme,
        input: &str,
        reason: impl Into<Cow<'static, str>>,
    ) -> VersionError {
        VersionError {
            scheme,
            input: input.into(),
            reason: reason.into(),
        }
    }
}

macro_rules! schemes {
    ($( $variant:ident => $module:ident :: $ty:ident, $label:literal ;)*) => {
        /// A version ordering. Several ecosystems share one (npm, crates.io and Hex all use
        /// SemVer; Ubuntu uses Debian's), see [`EcosystemKind::version_scheme`](crate::EcosystemKind::version_scheme).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum VersionScheme {
            $( #[doc = $label] $variant, )*
        }

        /// A parsed version of any scheme. Versions of different schemes do not compare.
        #[derive(Clone, Debug)]
        pub enum Version {
            $( #[doc = $label] $variant($module::$ty), )*
        }

        impl VersionScheme {
            /// Every scheme.
            pub const ALL: &'static [VersionScheme] = &[$(VersionScheme::$variant,)*];

            /// A short human name of the scheme.
            pub fn label(self) -> &'static str {
                match self {
                    $(VersionScheme::$variant => $label,)*
                }
            }

            /// Parses `input` under this scheme.
            pub fn parse(self, input: &str) -> Result<Version, VersionError> {
                match self {
                    $(VersionScheme::$variant => {
                        <$module::$ty as VersionOrder>::parse(input).map(Version::$variant)
                    })*
                }
            }

            /// Compares two version strings under this scheme.
            pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
                match self {
                    $(VersionScheme::$variant => <$module::$ty as VersionOrder>::compare_str(a, b),)*
                }
            }
        }

        impl Version {
            /// The scheme this version was parsed with.
            pub fn scheme(&self) -> VersionScheme {
                match self {
                    $(Version::$variant(_) => VersionScheme::$variant,)*
                }
            }

            /// Orders two versions of the same scheme; `None` when the schemes differ.
            pub fn cmp_same(&self, other: &Version) -> Option<Ordering> {
                match (self, other) {
                    $((Version::$variant(a), Version::$variant(b)) => Some(a.cmp(b)),)*
                    _ => None,
                }
            }
        }
    };
}

schemes! {
    SemVer => semver::SemVersion, "SemVer";
    Go => go::GoVersion, "Go";
    Pep440 => pep440::Pep440Version, "PEP 440";
    Maven => maven::MavenVersion, "Maven";
    RubyGems => rubygems::GemVersion, "RubyGems";
    NuGet => nuget::NuGetVersion, "NuGet";
    Packagist => packagist::PackagistVersion, "Packagist";
    Debian => debian::DebianVersion, "Debian";
    Alpine => alpine::AlpineVersion, "Alpine";
    Rpm => rpm::RpmVersion, "RPM";
    Pub => pubdev::PubVersion, "Pub";
    Cran => cran::CranVersion, "CRAN";
    Hackage => hackage::HackageVersion, "Hackage";
    Generic => generic::GenericVersion, "generic";
}

impl fmt::Display for VersionScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp_same(other) == Some(Ordering::Equal)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        self.cmp_same(other)
    }
}
