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
//! - a refinement that would leave the entry with no ranges and no versions: not applied.
//!
//! Pure function of the record; no I/O, no clock. Cost: O(o² · (r + v)) for o origins and r
//! ranges / v versions in the entry — records carry a handful of origins.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::record::{OsvRecord, Range, null_as_default};

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
            .map(|o| o.modified_time.as_deref().and_then(Timestamp::parse))
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
                found.iter().any(|e| {
                    e.affected == affected_index
                        && matches!(e.item, SupersededItem::Range { index, .. } if index == i)
                })
            };
            let drop_version = |i: usize| {
                found.iter().any(|e| {
                    e.affected == affected_index
                        && matches!(e.item, SupersededItem::Version { index, .. } if index == i)
                })
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

/// An RFC 3339 instant as (seconds since 1970 in UTC, nanoseconds), for ordering only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Timestamp {
    seconds: i64,
    nanos: u32,
}

impl Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `t`, `z` and a space separator accepted.
    fn parse(text: &str) -> Option<Timestamp> {
        let b = text.as_bytes();
        let num = |from: usize, len: usize| -> Option<i64> {
            let digits = b.get(from..from + len)?;
            digits.iter().try_fold(0i64, |acc, &d| {
                d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
            })
        };
        let sep = |at: usize, ok: &[u8]| b.get(at).is_some_and(|c| ok.contains(c));
        if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
            return None;
        }
        let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
        let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
        if !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let mut at = 19;
        let mut nanos = 0u32;
        if sep(at, b".") {
            at += 1;
            let start = at;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                if at - start < 9 {
                    nanos = nanos * 10 + u32::from(b.get(at).copied().unwrap_or(b'0') - b'0');
                }
                at += 1;
            }
            let len = at - start;
            if len == 0 {
                return None;
            }
            for _ in len..9 {
                nanos *= 10;
            }
        }
        let offset = match b.get(at) {
            Some(b'Z' | b'z') if b.len() == at + 1 => 0,
            Some(sign @ (b'+' | b'-')) if b.len() == at + 6 && sep(at + 3, b":") => {
                let (oh, om) = (num(at + 1, 2)?, num(at + 4, 2)?);
                if oh > 23 || om > 59 {
                    return None;
                }
                let minutes = oh * 60 + om;
                if *sign == b'+' {
                    minutes * 60
                } else {
                    -minutes * 60
                }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        Some(Timestamp {
            seconds: days * 86_400 + hour * 3_600 + minute * 60 + second - offset,
            nanos,
        })
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
            .map(|t| Timestamp::parse(t).unwrap_or_else(|| panic!("{t}")))
            .collect();
        assert!(parsed.windows(2).all(|w| w[0] < w[1]), "{parsed:?}");
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:00Z").map(|t| t.seconds),
            Some(0)
        );
        assert_eq!(
            Timestamp::parse("2025-09-16T00:00:00.5Z"),
            Timestamp::parse("2025-09-16T02:00:00.500+02:00")
        );
        for bad in [
            "",
            "2025-09-16",
            "2025-13-01T00:00:00Z",
            "2025-09-16T00:00:00",
            "2025-09-16T00:00:00.Z",
            "２０２５-09-16T00:00:00Z",
            "2025-09-16T00:00:00Zjunk",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }
}
