//! Superseded import origins in ossf/malicious-packages records: a precision refinement.
//!
//! ossf/malicious-packages builds each MAL record by merging reports from several sources
//! ("origins": GHSA malware advisories, OpenSSF package analysis, vendors…). Every import is
//! recorded in `database_specific["malicious-packages-origins"]` with its `source`, the source's
//! `id`, its `modified_time` and the `ranges`/`versions` it contributed. When a source *revises*
//! a report — a new import of the same (source, id) with a later `modified_time` — the merged
//! `affected` entry can keep what only the old import said.
//!
//! The motivating case is the real MAL-2025-47141 (`@ctrl/tinycolor`): the first import of
//! GHSA-qjqf-7j6f-82c4 said `introduced: "0"` (every version, the usual placeholder while an
//! incident is young); a day later GHSA narrowed it to `4.1.1 ..= 4.1.2`. The record still
//! carries both ranges, so strict OSV semantics flag every tinycolor version ever published —
//! including the clean 4.3.0 that half the npm ecosystem depends on. Tools that read the record
//! strictly all share this false positive.
//!
//! [`OsvRecord::without_superseded_origins`] removes a range or a listed version from the
//! affected entry only when **every** origin that contributed it (an equal range, an equal
//! version string) is superseded by a newer origin — same `source`, same `id`, strictly later
//! `modified_time`, carrying ranges or versions of its own — that does not contain it. Anything
//! less certain is kept, because dropping intel on doubt turns a false positive into a missed
//! compromise, which is worse:
//!
//! - no origins, origins that do not parse, or a record with other than one `affected` entry
//!   (origins do not say which entry they fed): the record is returned unchanged;
//! - a range or version no origin contributed (hand-edited): kept;
//! - an origin without `source` or `id`, or a `modified_time` that is not RFC 3339, or two
//!   imports with the same time: not superseded;
//! - a listed version that the remaining ranges still cover: kept (removing it would change
//!   no verdict, and an exact listing does not depend on the version ordering);
//! - a refinement that would leave the entry with no ranges and no versions: not applied.
//!
//! Pure function of the record; no I/O, no clock. Cost: O(o² · (r + v)) for o origins and r
//! ranges / v versions in the entry — records carry a handful of origins.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::affected::QueryVersion;
use super::record::{Affected, OsvRecord, Range, null_as_default};

/// The `database_specific` key ossf/malicious-packages keeps its origins under.
pub const ORIGINS_KEY: &str = "malicious-packages-origins";

/// One import that contributed to a malicious-packages record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    /// The source feed (`ghsa-malware`, `ossf-package-analysis`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The source's own id for the report (absent for some sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Hash of the origin report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// When the report was imported, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_time: Option<String>,
    /// When the source last modified the report, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_time: Option<String>,
    /// Ranges the report gave.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ranges: Vec<Range>,
    /// Versions the report listed.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub versions: Vec<String>,
}

impl Origin {
    fn has_affected_data(&self) -> bool {
        !self.ranges.is_empty() || !self.versions.is_empty()
    }
}

/// A range or version of the affected entry that only superseded origins contributed.
#[derive(Clone, Debug, PartialEq)]
pub enum SupersededItem {
    /// `affected[..].ranges[index]`.
    Range {
        /// Index in the entry's `ranges`.
        index: usize,
        /// The range.
        range: Range,
    },
    /// `affected[..].versions[index]`.
    Version {
        /// Index in the entry's `versions`.
        index: usize,
        /// The version.
        version: String,
    },
}

impl SupersededItem {
    fn is_range(&self, i: usize) -> bool {
        matches!(self, SupersededItem::Range { index, .. } if *index == i)
    }

    fn is_version(&self, i: usize) -> bool {
        matches!(self, SupersededItem::Version { index, .. } if *index == i)
    }
}

/// Why an item is considered superseded: who contributed it, and who replaced each of them.
#[derive(Clone, Debug, PartialEq)]
pub struct SupersededEntry {
    /// Index of the affected entry.
    pub affected: usize,
    /// The item.
    pub item: SupersededItem,
    /// Pairs (contributing origin, a newer origin of the same source and id without the item),
    /// as indices into the origins list.
    pub superseded: Vec<(usize, usize)>,
}

impl OsvRecord {
    /// The malicious-packages import origins: `None` when the record has none (or `null`),
    /// `Some(Err)` when they are present but malformed.
    pub fn origins(&self) -> Option<Result<Vec<Origin>, serde_json::Error>> {
        let value = self.database_specific.as_ref()?.get(ORIGINS_KEY)?;
        if value.is_null() {
            return None;
        }
        Some(
            Vec::<Option<Origin>>::deserialize(value)
                .map(|origins| origins.into_iter().flatten().collect()),
        )
    }

    /// What [`OsvRecord::without_superseded_origins`] would remove, with the evidence.
    pub fn superseded_entries(&self) -> Vec<SupersededEntry> {
        let Some(Ok(origins)) = self.origins() else {
            return Vec::new();
        };
        let [affected] = self.affected.as_slice() else {
            return Vec::new();
        };
        let times: Vec<Option<Timestamp>> = origins
            .iter()
            .map(|o| o.modified_time.as_deref().and_then(parse_time))
            .collect();
        let mut found = Vec::new();
        for (index, range) in affected.ranges.iter().enumerate() {
            if let Some(superseded) = superseded_by(&origins, &times, |o| o.ranges.contains(range))
            {
                found.push(SupersededEntry {
                    affected: 0,
                    item: SupersededItem::Range {
                        index,
                        range: range.clone(),
                    },
                    superseded,
                });
            }
        }
        for (index, version) in affected.versions.iter().enumerate() {
            if let Some(superseded) =
                superseded_by(&origins, &times, |o| o.versions.contains(version))
            {
                found.push(SupersededEntry {
                    affected: 0,
                    item: SupersededItem::Version {
                        index,
                        version: version.clone(),
                    },
                    superseded,
                });
            }
        }
        // A listed version the remaining ranges still cover stays listed: removing it would
        // change no verdict, and an exact listing does not depend on the version ordering.
        let remaining = Affected {
            ranges: (0..affected.ranges.len())
                .filter(|&i| !found.iter().any(|e| e.item.is_range(i)))
                .filter_map(|i| affected.ranges.get(i).cloned())
                .collect(),
            versions: Vec::new(),
            ..affected.clone()
        }
        .compile();
        found.retain(|e| match &e.item {
            SupersededItem::Version { version, .. } => {
                !remaining.is_affected(&QueryVersion::new(version))
            }
            SupersededItem::Range { .. } => true,
        });
        let removes_everything = found.len() == affected.ranges.len() + affected.versions.len();
        if removes_everything {
            return Vec::new();
        }
        found
    }

    /// The record without ranges and versions that only superseded import origins
    /// contributed (see the [module documentation](self) for the rule and why it is safe).
    /// Borrows when nothing is removed, which is almost always.
    pub fn without_superseded_origins(&self) -> Cow<'_, OsvRecord> {
        let found = self.superseded_entries();
        if found.is_empty() {
            return Cow::Borrowed(self);
        }
        let mut refined = self.clone();
        for affected_index in 0..refined.affected.len() {
            let Some(affected) = refined.affected.get_mut(affected_index) else {
                continue;
            };
            let drop_range = |i: usize| {
                found
                    .iter()
                    .any(|e| e.affected == affected_index && e.item.is_range(i))
            };
            let drop_version = |i: usize| {
                found
                    .iter()
                    .any(|e| e.affected == affected_index && e.item.is_version(i))
            };
            affected.ranges = std::mem::take(&mut affected.ranges)
                .into_iter()
                .enumerate()
                .filter_map(|(i, r)| (!drop_range(i)).then_some(r))
                .collect();
            affected.versions = std::mem::take(&mut affected.versions)
                .into_iter()
                .enumerate()
                .filter_map(|(i, v)| (!drop_version(i)).then_some(v))
                .collect();
        }
        Cow::Owned(refined)
    }
}

/// `Some(pairs)` when at least one origin contributed the item and every contributor is
/// superseded by a newer origin of the same (source, id) that lacks it.
fn superseded_by(
    origins: &[Origin],
    times: &[Option<Timestamp>],
    contains: impl Fn(&Origin) -> bool,
) -> Option<Vec<(usize, usize)>> {
    let mut pairs = Vec::new();
    for (i, old) in origins.iter().enumerate() {
        if !contains(old) {
            continue;
        }
        let source = old.source.as_deref().filter(|s| !s.is_empty())?;
        let id = old.id.as_deref().filter(|s| !s.is_empty())?;
        let old_time = times.get(i).copied().flatten()?;
        let newer = origins.iter().enumerate().find(|&(j, new)| {
            new.source.as_deref() == Some(source)
                && new.id.as_deref() == Some(id)
                && times
                    .get(j)
                    .copied()
                    .flatten()
                    .is_some_and(|t| t > old_time)
                && new.has_affected_data()
                && !contains(new)
        })?;
        pairs.push((i, newer.0));
    }
    (!pairs.is_empty()).then_some(pairs)
}

/// An RFC 3339 instant as nanoseconds since 1970 (UTC), for ordering only.
type Timestamp = i64;

fn parse_time(text: &str) -> Option<Timestamp> {
    crate::time::parse_rfc3339(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_order_as_instants() {
        let ordered = [
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00Z",
            "2024-02-29T12:00:00+01:00",
            "2024-02-29T11:30:00Z",
            "2025-09-15T23:42:50Z",
            "2025-09-15T23:42:50.000000001Z",
            "2025-09-16T00:34:25.64566463Z",
            "2025-09-16t01:14:51z",
            "2025-09-16T03:14:52+02:00",
        ];
        let parsed: Vec<Timestamp> = ordered
            .iter()
            .map(|t| parse_time(t).unwrap_or_else(|| panic!("{t}")))
            .collect();
        assert!(parsed.windows(2).all(|w| w[0] < w[1]), "{parsed:?}");
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_time("2025-09-16T00:00:00.5Z"),
            parse_time("2025-09-16T02:00:00.500+02:00")
        );
        for bad in [
            "",
            "2025-13-01T00:00:00Z",
            "2025-09-16T00:00:00",
            "2025-09-16T00:00:00.Z",
            "２０２５-09-16T00:00:00Z",
            "2025-09-16T00:00:00Zjunk",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}
