//! OSV records and `affected` evaluation: *is version V of package P affected by this
//! advisory, and why?*
//!
//! - [`record`]: serde types for the OSV schema, tolerant of the `null`s, unknown fields and
//!   unknown range types real feeds carry;
//! - [`affected`]: evaluation of one `affected[]` entry per the OSV spec's pseudocode, with a
//!   compiled form ([`CompiledAffected`]) whose bounds are parsed once, and verdicts that say
//!   which listed version or which range/event matched — or why nothing did;
//! - [`origins`]: an optional precision refinement for ossf/malicious-packages records whose
//!   merged ranges still carry what a newer import of the same report withdrew.
//!
//! Record-level matching ([`OsvRecord::affects`], [`OsvRecord::evaluate`]) picks the entries
//! whose package is the component's: the same base ecosystem, compatible releases, and the same
//! normalized name ([`crate::name::normalize_name`]). A withdrawn record never matches.
//!
//! Ecosystem releases: an advisory for `Debian:12` applies to a component known to be on
//! `Debian:12`, not to one on `Debian:11`; when either side has no release suffix (`npm`, or an
//! OS package whose release we could not tell) only the base ecosystem has to agree. Suffixes
//! compare as exact strings (`Alpine:v3.18` ≠ `Alpine:3.18`): normalizing release spellings is
//! the collector's job, which knows where the suffix came from.

use crate::ecosystem::Ecosystem;
use crate::name::normalize_name;

pub mod affected;
pub mod origins;
pub mod record;

pub use affected::{
    AffectedMatch, CompiledAffected, ListedMatch, NotInRange, QueryVersion, RangeEvaluation,
    RangeOutcome, SkipReason,
};
pub use origins::{ORIGINS_KEY, Origin, SupersededEntry, SupersededItem};
pub use record::{
    Affected, Credit, Event, OsvRecord, Package, Range, RangeType, Reference, Severity,
};

/// Whether an advisory's ecosystem covers a component's: same base kind, and equal release
/// suffixes when both have one (see the module documentation).
pub fn ecosystem_covers(advisory: &Ecosystem, component: &Ecosystem) -> bool {
    advisory.kind() == component.kind()
        && match (advisory.release(), component.release()) {
            (Some(a), Some(c)) => a == c,
            _ => true,
        }
}

impl Package {
    /// Whether this is package `name` in `ecosystem` (see the module documentation).
    pub fn matches(&self, ecosystem: &Ecosystem, name: &str) -> bool {
        ecosystem_covers(&self.ecosystem, ecosystem)
            && normalize_name(self.ecosystem.kind(), &self.name)
                == normalize_name(ecosystem.kind(), name)
    }

    /// The normalized name key, for indexing.
    pub fn name_key(&self) -> std::borrow::Cow<'_, str> {
        normalize_name(self.ecosystem.kind(), &self.name)
    }
}

/// A record's verdict for one component, with the reasons per matching entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordMatch {
    /// The record id.
    pub id: String,
    /// Set when the record is withdrawn: it then matches nothing and no entry is evaluated.
    pub withdrawn: Option<String>,
    /// Each `affected` entry naming the component's package: (index in `affected`, verdict).
    pub entries: Vec<(usize, AffectedMatch)>,
}

impl RecordMatch {
    /// Whether the record affects the component.
    pub fn is_affected(&self) -> bool {
        self.withdrawn.is_none() && self.entries.iter().any(|(_, m)| m.is_affected())
    }
}

impl OsvRecord {
    /// Whether the record is withdrawn (the `withdrawn` field is set).
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.is_some()
    }

    /// The `affected` entries about package `name` in `ecosystem`, with their indices.
    pub fn entries_for<'a>(
        &'a self,
        ecosystem: &'a Ecosystem,
        name: &'a str,
    ) -> impl Iterator<Item = (usize, &'a Affected)> + 'a {
        self.affected.iter().enumerate().filter(move |(_, a)| {
            a.package
                .as_ref()
                .is_some_and(|p| p.matches(ecosystem, name))
        })
    }

    /// Whether `version` of package `name` in `ecosystem` is affected (never, if withdrawn).
    pub fn affects(&self, ecosystem: &Ecosystem, name: &str, version: &str) -> bool {
        if self.is_withdrawn() {
            return false;
        }
        let query = QueryVersion::new(version);
        self.entries_for(ecosystem, name)
            .any(|(_, a)| a.compile().is_affected(&query))
    }

    /// The verdict for `version` of package `name` in `ecosystem`, with reasons.
    pub fn evaluate(&self, ecosystem: &Ecosystem, name: &str, version: &str) -> RecordMatch {
        let entries = if self.is_withdrawn() {
            Vec::new()
        } else {
            let query = QueryVersion::new(version);
            self.entries_for(ecosystem, name)
                .map(|(i, a)| (i, a.compile().evaluate(&query)))
                .collect()
        };
        RecordMatch {
            id: self.id.clone(),
            withdrawn: self.withdrawn.clone(),
            entries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecosystem_releases_must_agree_only_when_both_known() {
        let cases = [
            ("Debian:12", "Debian:12", true),
            ("Debian:12", "Debian:11", false),
            ("Debian:12", "Debian", true),
            ("Debian", "Debian:11", true),
            ("Debian:12", "Ubuntu:12", false),
            ("npm", "npm", true),
            ("npm", "PyPI", false),
            ("Alpine:v3.18", "Alpine:3.18", false),
        ];
        for (advisory, component, want) in cases {
            assert_eq!(
                ecosystem_covers(&Ecosystem::parse(advisory), &Ecosystem::parse(component)),
                want,
                "{advisory} vs {component}"
            );
        }
    }

    #[test]
    fn package_names_match_by_key() {
        let pkg = Package {
            ecosystem: Ecosystem::parse("PyPI"),
            name: "Flask_Login".into(),
            purl: None,
        };
        assert!(pkg.matches(&Ecosystem::parse("pypi"), "flask-login"));
        assert!(!pkg.matches(&Ecosystem::parse("npm"), "Flask_Login"));
        let npm = Package {
            ecosystem: Ecosystem::parse("npm"),
            name: "@ctrl/tinycolor".into(),
            purl: None,
        };
        assert!(npm.matches(&Ecosystem::parse("npm"), "@ctrl/tinycolor"));
        assert!(!npm.matches(&Ecosystem::parse("npm"), "@Ctrl/TinyColor"));
    }
}
