//! The advisory as vigil keeps it: what an OSV record says, classified, in a plain form the
//! matcher compiles and the snapshot stores.
//!
//! [`Advisory`] is derived from an [`OsvRecord`] by [`Advisory::from_record`]: classification
//! (see [`crate::classify`]) plus the `affected` sets the matcher uses, *refined* with
//! [`OsvRecord::without_superseded_origins`]. The record as published stays in the source's
//! record pack for `vigil intel show`; the advisory only carries what matching and findings
//! need.
//!
//! These types are serialized with a non-self-describing format (the snapshot), so they use no
//! `skip_serializing_if` and no free-form JSON values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vigil_core::Ecosystem;
use vigil_core::osv::{Affected, Event, ORIGINS_KEY, OsvRecord, Package, Range, RangeType};

use crate::classify::{Classification, classify};
use crate::cvss::Rating;

/// What an advisory is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdvisoryKind {
    /// A malicious package (MAL- id, CWE-506, or a GHSA malware advisory).
    Malicious,
    /// A vulnerability in a legitimate package.
    Vulnerability,
}

impl AdvisoryKind {
    /// `MALICIOUS` or `VULNERABILITY`.
    pub fn as_str(self) -> &'static str {
        match self {
            AdvisoryKind::Malicious => "MALICIOUS",
            AdvisoryKind::Vulnerability => "VULNERABILITY",
        }
    }
}

/// The severity an advisory states, reduced to one score and rating.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdvisorySeverity {
    /// Qualitative rating; `None` when only a vector nobody could score is known.
    pub rating: Option<Rating>,
    /// Base score 0–10 when it could be computed from a vector.
    pub score: Option<f64>,
    /// The scoring system (`CVSS_V3`, `CVSS_V4`, `CVSS_V2`, or a database's label source).
    pub system: String,
    /// The vector or label as given.
    pub vector: String,
}

/// Where an advisory came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordOrigin {
    /// The intel source name (an import name or a feed name).
    pub source: String,
    /// The file, directory entry or zip entry the record was read from.
    pub location: String,
    /// The line, for custom lists.
    pub line: Option<u32>,
}

/// One package and the versions of it an advisory covers, as the matcher needs them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AffectedSet {
    /// OSV ecosystem name with release suffix (`npm`, `Debian:12`).
    pub ecosystem: String,
    /// Package name as the advisory spells it.
    pub name: String,
    /// Explicitly listed versions.
    pub versions: Vec<String>,
    /// Version ranges.
    pub ranges: Vec<RangeSet>,
}

/// One range of an [`AffectedSet`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeSet {
    /// `SEMVER`, `ECOSYSTEM`, `GIT`, or whatever the record said.
    pub kind: String,
    /// The events as given.
    pub events: Vec<Event>,
}

/// An advisory: identity, classification, and the affected sets used for matching.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// Record id.
    pub id: String,
    /// Ids of the same issue elsewhere (GHSA, CVE, …).
    pub aliases: Vec<String>,
    /// MALICIOUS or VULNERABILITY.
    pub kind: AdvisoryKind,
    /// CWE ids (`CWE-506`), deduplicated, in first-seen order; a MALICIOUS advisory always
    /// has `CWE-506`.
    pub cwes: Vec<String>,
    /// Why the advisory is MALICIOUS (`MAL- id`, `CWE-506`, `GHSA malware`), if it is.
    pub malicious_because: Option<String>,
    /// The stated severity, if any.
    pub severity: Option<AdvisorySeverity>,
    /// One-line summary (attacker-influenced text: escape before printing).
    pub summary: Option<String>,
    /// RFC 3339 publication time.
    pub published: Option<String>,
    /// RFC 3339 last modification.
    pub modified: Option<String>,
    /// Set when withdrawn: kept for `show` and counts, never matched.
    pub withdrawn: Option<String>,
    /// Indicators of compromise from `database_specific.iocs` (`urls`, `domains`, `ips`, …).
    pub iocs: BTreeMap<String, Vec<String>>,
    /// Where the record came from.
    pub origin: RecordOrigin,
    /// The affected sets the matcher uses (superseded import origins removed).
    pub affected: Vec<AffectedSet>,
    /// Whether [`OsvRecord::without_superseded_origins`] removed something: the published
    /// record is broader than what vigil matches.
    pub refined: bool,
}

impl Advisory {
    /// Risk on a 0–10 scale, the figure findings carry (PRODUCT.md §3): a MALICIOUS advisory
    /// is always 10 — the package is the attack, whatever its CVSS says; a vulnerability takes
    /// its CVSS base score, else the midpoint of its qualitative rating, else 5.0 (unknown
    /// severity is neither ignored nor alarmed about).
    pub fn risk_score(&self) -> f64 {
        if self.kind == AdvisoryKind::Malicious {
            return 10.0;
        }
        let Some(severity) = &self.severity else {
            return 5.0;
        };
        if let Some(score) = severity.score {
            return score.clamp(0.0, 10.0);
        }
        match severity.rating {
            Some(crate::cvss::Rating::Critical) => 9.5,
            Some(crate::cvss::Rating::High) => 8.0,
            Some(crate::cvss::Rating::Medium) => 5.5,
            Some(crate::cvss::Rating::Low) => 2.0,
            Some(crate::cvss::Rating::None) => 0.0,
            None => 5.0,
        }
    }

    /// Classifies `record` and extracts its affected sets.
    pub fn from_record(record: &OsvRecord, origin: RecordOrigin) -> Advisory {
        let Classification {
            kind,
            cwes,
            malicious_because,
            severity,
            iocs,
        } = classify(record);
        let refined_record = if may_have_superseded_origins(record) {
            record.without_superseded_origins()
        } else {
            std::borrow::Cow::Borrowed(record)
        };
        let refined = matches!(refined_record, std::borrow::Cow::Owned(_));
        let affected = refined_record
            .affected
            .iter()
            .filter_map(AffectedSet::from_osv)
            .collect();
        Advisory {
            id: record.id.clone(),
            aliases: record.aliases.clone(),
            kind,
            cwes,
            malicious_because: malicious_because.map(str::to_owned),
            severity,
            summary: record.summary.clone(),
            published: record.published.clone(),
            modified: record.modified.clone(),
            withdrawn: record.withdrawn.clone(),
            iocs,
            origin,
            affected,
            refined,
        }
    }

    /// Whether the advisory is withdrawn.
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.is_some()
    }

    /// The ecosystems the advisory names (base names, deduplicated, in order).
    pub fn ecosystems(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for set in &self.affected {
            let base = Ecosystem::parse(&set.ecosystem).kind().as_str().to_owned();
            if !out.contains(&base) {
                out.push(base);
            }
        }
        out
    }
}

/// A cheap pre-check for [`OsvRecord::without_superseded_origins`]: an origin can only be
/// superseded by another of the same (source, id), so without such a pair — three records in
/// four of ossf/malicious-packages — the refinement cannot change anything and the origins
/// need not be decoded.
fn may_have_superseded_origins(record: &OsvRecord) -> bool {
    let Some(origins) = record
        .database_specific
        .as_ref()
        .and_then(|d| d.get(ORIGINS_KEY))
        .and_then(serde_json::Value::as_array)
    else {
        return false;
    };
    fn key(o: &serde_json::Value) -> (Option<&str>, Option<&str>) {
        (
            o.get("source").and_then(serde_json::Value::as_str),
            o.get("id").and_then(serde_json::Value::as_str),
        )
    }
    origins
        .iter()
        .enumerate()
        .any(|(i, a)| origins.iter().skip(i + 1).any(|b| key(a) == key(b)))
}

impl AffectedSet {
    /// The matcher's view of an OSV `affected` entry; `None` when it names no package.
    pub fn from_osv(affected: &Affected) -> Option<AffectedSet> {
        let package = affected.package.as_ref()?;
        if package.name.trim().is_empty() {
            return None;
        }
        Some(AffectedSet {
            ecosystem: package.ecosystem.to_string(),
            name: package.name.clone(),
            versions: affected.versions.clone(),
            ranges: affected
                .ranges
                .iter()
                .map(|r| RangeSet {
                    kind: r.kind.as_str().to_owned(),
                    events: r.events.clone(),
                })
                .collect(),
        })
    }

    /// Back to an OSV `affected` entry, for compilation.
    pub fn to_osv(&self) -> Affected {
        Affected {
            package: Some(Package {
                ecosystem: Ecosystem::parse(&self.ecosystem),
                name: self.name.clone(),
                purl: None,
            }),
            versions: self.versions.clone(),
            ranges: self
                .ranges
                .iter()
                .map(|r| Range {
                    kind: RangeType::from_name(&r.kind),
                    events: r.events.clone(),
                    ..Range::default()
                })
                .collect(),
            ..Affected::default()
        }
    }
}
