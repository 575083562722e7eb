//! The OSV record as serde types, tolerant of what real feeds contain.
//!
//! Real feeds are messier than the schema: `null` where an array or object belongs
//! (`"versions": null`, `"malicious-packages-origins": null`), fields added by newer schema
//! versions, range types nobody has defined yet, event objects with keys we do not know. A
//! reader that rejects such a record drops an advisory, which for a detector is the worst
//! outcome, so these types accept all of that:
//!
//! - unknown fields are ignored;
//! - `null` for a list or object reads as empty / absent;
//! - an unknown range `type` is kept as [`RangeType::Other`] (evaluation skips it and says so);
//! - an event object with only unknown keys is skipped; one that (against the spec) carries
//!   several known keys yields one [`Event`] per key, so no bound is silently lost.
//!
//! What still fails the record: a value of the wrong JSON type where we need it (a number as a
//! version string, a string where `affected` expects an array), and a missing `id`. Those are
//! not "messy", they are not OSV, and the feed reader reports them.
//!
//! Timestamps stay strings (RFC 3339): the core has no clock and needs no time arithmetic
//! except ordering origin imports, which [`super::origins`] does on the text.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::ecosystem::Ecosystem;

/// One OSV record (an advisory).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OsvRecord {
    /// Schema version the record claims (`1.5.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
    /// Record id (`MAL-2025-47141`, `GHSA-…`, `CVE-…`).
    pub id: String,
    /// Last modification, RFC 3339 text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// Publication time, RFC 3339 text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// When set, the record was withdrawn and must never match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// Ids of the same vulnerability in other databases.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aliases: Vec<String>,
    /// Ids of records this one was derived from (schema 1.7).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub upstream: Vec<String>,
    /// Ids of related, different vulnerabilities.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub related: Vec<String>,
    /// One-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Long description (Markdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Record-level severities.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub severity: Vec<Severity>,
    /// The affected packages and their versions.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub affected: Vec<Affected>,
    /// Links.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub references: Vec<Reference>,
    /// People and organisations credited.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub credits: Vec<Credit>,
    /// Database-defined data, kept verbatim (ossf/malicious-packages keeps its import
    /// `malicious-packages-origins` and `iocs` here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// A severity score (`CVSS_V3` + vector, `Ubuntu` + `high`, …).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Severity {
    /// Scoring system.
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    /// Score or vector in that system.
    #[serde(default, deserialize_with = "null_as_default")]
    pub score: String,
}

/// A reference link.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// `ADVISORY`, `WEB`, `FIX`, `PACKAGE`, …
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The URL.
    #[serde(default, deserialize_with = "null_as_default")]
    pub url: String,
}

/// A credit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credit {
    /// Who.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// How to reach them.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub contact: Vec<String>,
    /// `FINDER`, `REPORTER`, …
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// One `affected[]` entry: a package and the versions of it the record covers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// The package. Absent in some records that only carry GIT ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    /// Package-level severities.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub severity: Vec<Severity>,
    /// Version ranges.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ranges: Vec<Range>,
    /// Explicitly listed affected versions.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub versions: Vec<String>,
    /// Ecosystem-defined data, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<Value>,
    /// Database-defined data, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// The package an `affected` entry is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// OSV ecosystem, with its release suffix (`Debian:12`).
    pub ecosystem: Ecosystem,
    /// Package name as the advisory spells it.
    pub name: String,
    /// Package URL without version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// One `ranges[]` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// How to order the event versions.
    #[serde(rename = "type", default)]
    pub kind: RangeType,
    /// Repository URL (GIT ranges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The timeline of events, as given (possibly unsorted).
    #[serde(
        default,
        deserialize_with = "lenient_events",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub events: Vec<Event>,
    /// Database-defined data, verbatim; no effect on evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// A range type. Unknown types are kept, not rejected.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RangeType {
    /// `SEMVER`: SemVer 2.0 precedence, whatever the ecosystem.
    Semver,
    /// `ECOSYSTEM`: the package ecosystem's own ordering.
    Ecosystem,
    /// `GIT`: commit hashes; needs the commit graph, never evaluated by version.
    Git,
    /// Any other type, spelled as given (empty when the record has none).
    Other(String),
}

impl RangeType {
    /// The OSV spelling.
    pub fn as_str(&self) -> &str {
        match self {
            RangeType::Semver => "SEMVER",
            RangeType::Ecosystem => "ECOSYSTEM",
            RangeType::Git => "GIT",
            RangeType::Other(other) => other,
        }
    }

    /// Recognizes a type name; ASCII case is ignored because some converters lower-case it.
    pub fn from_name(name: &str) -> RangeType {
        [RangeType::Semver, RangeType::Ecosystem, RangeType::Git]
            .into_iter()
            .find(|known| known.as_str().eq_ignore_ascii_case(name))
            .unwrap_or_else(|| RangeType::Other(name.to_owned()))
    }
}

impl Default for RangeType {
    /// A missing type: unknown, so the range is skipped with a reason.
    fn default() -> Self {
        RangeType::Other(String::new())
    }
}

impl std::fmt::Display for RangeType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RangeType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RangeType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = Option::<std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(name.map_or_else(RangeType::default, |name| RangeType::from_name(&name)))
    }
}

/// One event of a range's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The vulnerability appears at this version (`"0"`: before every version).
    Introduced(String),
    /// The first version without it (exclusive upper bound).
    Fixed(String),
    /// The last version known to have it (inclusive upper bound).
    LastAffected(String),
    /// An upper limit on the range (`"*"`: none).
    Limit(String),
}

impl Event {
    /// The version string of the event.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }

    /// The OSV key of the event (`introduced`, `fixed`, `last_affected`, `limit`).
    pub fn key(&self) -> &'static str {
        match self {
            Event::Introduced(_) => "introduced",
            Event::Fixed(_) => "fixed",
            Event::LastAffected(_) => "last_affected",
            Event::Limit(_) => "limit",
        }
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?}", self.key(), self.version())
    }
}

/// An event object as written; unknown keys are ignored by serde.
#[derive(Deserialize)]
struct RawEvent {
    #[serde(default)]
    introduced: Option<String>,
    #[serde(default)]
    fixed: Option<String>,
    #[serde(default)]
    last_affected: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

/// `null` → empty; each event object → zero or more [`Event`]s (see the module doc).
fn lenient_events<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Event>, D::Error> {
    let raw = Option::<Vec<Option<RawEvent>>>::deserialize(deserializer)?.unwrap_or_default();
    let mut events = Vec::with_capacity(raw.len());
    for event in raw.into_iter().flatten() {
        events.extend(event.introduced.map(Event::Introduced));
        events.extend(event.fixed.map(Event::Fixed));
        events.extend(event.last_affected.map(Event::LastAffected));
        events.extend(event.limit.map(Event::Limit));
    }
    Ok(events)
}

/// Reads `null` as the type's default (empty list, empty string).
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerates_nulls_unknowns_and_odd_events() {
        let json = r#"{
            "id": "X-1", "modified": "2025-01-01T00:00:00Z", "aliases": null,
            "brand_new_field": {"a": 1}, "severity": null, "credits": null,
            "affected": [{
                "package": {"ecosystem": "npm", "name": "left-pad", "extra": true},
                "versions": null, "ecosystem_specific": null,
                "ranges": [
                    {"type": "SEMVER", "events": [{"introduced": "0"}, {"whatever": "1"}, null,
                                                  {"introduced": "2.0.0", "fixed": "2.1.0"}]},
                    {"type": "FANCY", "events": null},
                    {"events": [{"limit": "*"}]},
                    {"type": "git", "repo": "https://example.invalid/r", "events": []}
                ]
            }, {"package": null}],
            "database_specific": {"malicious-packages-origins": null}
        }"#;
        let record: OsvRecord = serde_json::from_str(json).expect("tolerant parse");
        assert!(
            record.aliases.is_empty() && record.severity.is_empty() && record.credits.is_empty()
        );
        let affected = &record.affected[0];
        assert!(affected.versions.is_empty());
        let kinds: Vec<_> = affected.ranges.iter().map(|r| r.kind.clone()).collect();
        assert_eq!(
            kinds,
            [
                RangeType::Semver,
                RangeType::Other("FANCY".into()),
                RangeType::Other(String::new()),
                RangeType::Git
            ]
        );
        assert_eq!(
            affected.ranges[0].events,
            [
                Event::Introduced("0".into()),
                Event::Introduced("2.0.0".into()),
                Event::Fixed("2.1.0".into())
            ]
        );
        assert!(record.affected[1].package.is_none());
    }

    #[test]
    fn rejects_what_is_not_osv() {
        let cases = [
            r#"{"affected": []}"#,
            r#"{"id": "X", "affected": "npm"}"#,
            r#"{"id": "X", "affected": [{"ranges": [{"type": "SEMVER", "events": [{"fixed": 2}]}]}]}"#,
        ];
        for json in cases {
            assert!(serde_json::from_str::<OsvRecord>(json).is_err(), "{json}");
        }
    }

    #[test]
    fn serializes_back_to_osv_shape() {
        let json = r#"{"id":"X","affected":[{"package":{"ecosystem":"Debian:12","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"last_affected":"1.0"}]}]}]}"#;
        let record: OsvRecord = serde_json::from_str(json).expect("parse");
        let back = serde_json::to_string(&record).expect("serialize");
        assert_eq!(back, json);
    }
}
