//! The matcher: which advisories affect (ecosystem, name, version)?
//!
//! [`AdvisoryIndex`] maps ecosystem kind → normalized package name → the compiled `affected`
//! sets naming that package ([`CompiledAffected`], bounds parsed once). A lookup:
//!
//! 1. finds the ecosystem's name table (a linear scan over the handful of ecosystems present);
//! 2. normalizes the name ([`normalize_name`]: borrowed when the name is already normal, which
//!    is the common case — npm, Go, and lower-case names everywhere);
//! 3. probes the hash table with the borrowed `&str`.
//!
//! A miss — 99 %+ of lookups when a fleet is checked against intel — therefore allocates
//! nothing and costs one hash and one compare: O(|name|). A hit parses the version lazily, at
//! most once per ordering ([`QueryVersion`]), and evaluates each entry in O(log n) per range
//! or listed-version set; the matches are returned in a `Vec`.
//!
//! Withdrawn advisories are counted and kept for `show`, but never enter the name tables, so
//! they never match. Advisories are deduplicated by id when the index is built: the newer
//! `modified` wins, and on a tie the one added later (sources are added baseline first, then
//! in import order).
//!
//! Alias groups: advisories that share an id or alias (MAL-2025-47141 and
//! GHSA-qjqf-7j6f-82c4) form one group; [`AdvisoryIndex::group_matches`] folds the matches of
//! one component by group so the finding layer emits one finding carrying every id. Groups are
//! only ever applied to matches of one component, so a GHSA spanning several packages (nx and
//! its plugins) cannot merge findings about different packages.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use vigil_core::Ecosystem;
use vigil_core::ecosystem::EcosystemKind;
use vigil_core::name::normalize_name;
use vigil_core::osv::{CompiledAffected, QueryVersion, ecosystem_covers};

use crate::advisory::{Advisory, AdvisoryKind, AffectedSet};
use crate::time::Timestamp;

type NameTable = HashMap<Box<str>, Vec<Entry>, foldhash::fast::RandomState>;

/// One compiled `affected` set of one advisory.
#[derive(Debug)]
struct Entry {
    advisory: u32,
    affected: u32,
    /// The advisory's ecosystem (kept for release suffixes: `Debian:12`).
    ecosystem: Ecosystem,
    compiled: CompiledAffected,
}

/// The matcher index. Immutable once built; share it behind an `Arc`.
#[derive(Debug, Default)]
pub struct AdvisoryIndex {
    advisories: Vec<Advisory>,
    /// Alias group of each advisory (the smallest advisory index in the group).
    groups: Vec<u32>,
    /// Slots sorted by id, for [`AdvisoryIndex::by_id`] (binary search; no key copies).
    by_id: Vec<u32>,
    tables: Vec<(EcosystemKind, NameTable)>,
}

/// One advisory affecting a component.
#[derive(Clone, Copy, Debug)]
pub struct Match<'a> {
    /// The advisory.
    pub advisory: &'a Advisory,
    /// Its position in the index ([`AdvisoryIndex::get`]).
    pub slot: u32,
    /// Which of its affected sets matched.
    pub affected: u32,
    /// Its alias group.
    pub group: u32,
}

/// The matches of one component that belong to one alias group: one finding.
#[derive(Clone, Debug)]
pub struct MatchGroup<'a> {
    /// The matching advisories, MALICIOUS first, then by id.
    pub advisories: Vec<&'a Advisory>,
}

impl<'a> MatchGroup<'a> {
    /// The representative advisory (the first: MALICIOUS before VULNERABILITY, then by id).
    pub fn primary(&self) -> Option<&'a Advisory> {
        self.advisories.first().copied()
    }

    /// MALICIOUS when any advisory of the group is.
    pub fn kind(&self) -> AdvisoryKind {
        if self
            .advisories
            .iter()
            .any(|a| a.kind == AdvisoryKind::Malicious)
        {
            AdvisoryKind::Malicious
        } else {
            AdvisoryKind::Vulnerability
        }
    }

    /// Every id and alias of the group, deduplicated, the primary id first.
    pub fn ids(&self) -> Vec<&'a str> {
        let mut out: Vec<&'a str> = Vec::new();
        for a in &self.advisories {
            for id in std::iter::once(a.id.as_str()).chain(a.aliases.iter().map(String::as_str)) {
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
        out
    }

    /// Union of the CWEs of the group.
    pub fn cwes(&self) -> Vec<&'a str> {
        let mut out: Vec<&'a str> = Vec::new();
        for cwe in self.advisories.iter().flat_map(|a| a.cwes.iter()) {
            if !out.contains(&cwe.as_str()) {
                out.push(cwe);
            }
        }
        out
    }
}

/// Counts for `intel status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IndexCounts {
    /// Advisories (after deduplication), withdrawn included.
    pub advisories: usize,
    /// Withdrawn advisories.
    pub withdrawn: usize,
    /// Per ecosystem (base name) and kind: active advisories naming it. An advisory naming
    /// two ecosystems counts in both.
    pub by_ecosystem: BTreeMap<String, KindCounts>,
    /// Per ecosystem: withdrawn advisories naming it.
    pub withdrawn_by_ecosystem: BTreeMap<String, usize>,
    /// Compiled affected entries in the name tables.
    pub entries: usize,
    /// Distinct (ecosystem, name) keys.
    pub packages: usize,
}

/// MALICIOUS and VULNERABILITY counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KindCounts {
    /// MALICIOUS advisories.
    pub malicious: usize,
    /// VULNERABILITY advisories.
    pub vulnerability: usize,
}

/// Collects advisories, then deduplicates them by id and compiles an [`AdvisoryIndex`].
#[derive(Debug, Default)]
pub struct IndexBuilder {
    advisories: Vec<Advisory>,
}

/// An advisory that lost to another with the same id when building an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replaced {
    /// The id.
    pub id: String,
    /// The source whose copy was dropped.
    pub dropped_source: String,
    /// The source whose copy was kept.
    pub kept_source: String,
}

impl IndexBuilder {
    /// An empty builder.
    pub fn new() -> IndexBuilder {
        IndexBuilder::default()
    }

    /// Adds an advisory. Of two with one id the newer `modified` wins, a tie goes to the later
    /// added.
    pub fn add(&mut self, advisory: Advisory) {
        self.advisories.push(advisory);
    }

    /// Adds many.
    pub fn extend(&mut self, advisories: impl IntoIterator<Item = Advisory>) {
        self.advisories.extend(advisories);
    }

    /// Compiles the index: duplicates resolved, every affected set's bounds parsed once, in
    /// parallel.
    pub fn build(self) -> AdvisoryIndex {
        self.finish().0
    }

    /// Like [`IndexBuilder::build`], also saying which duplicate copies were dropped.
    pub fn finish(self) -> (AdvisoryIndex, Vec<Replaced>) {
        let mut advisories = self.advisories;
        let (dropped, replaced) = dedupe(&advisories);
        if !replaced.is_empty() {
            let mut i = 0;
            advisories.retain(|_| {
                let keep = !dropped.get(i).copied().unwrap_or(false);
                i += 1;
                keep
            });
        }
        (AdvisoryIndex::from_advisories(advisories), replaced)
    }
}

/// Which advisories lose to another copy of their id (newer `modified` wins, a tie goes to
/// the later one), and the copies dropped. Shared by [`IndexBuilder::finish`] and the
/// persisted matcher ([`crate::matcher`]) so both keep the same copies.
pub(crate) fn dedupe(advisories: &[Advisory]) -> (Vec<bool>, Vec<Replaced>) {
    let mut replaced = Vec::new();
    let mut winner: HashMap<&str, usize, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(advisories.len(), Default::default());
    let mut dropped = vec![false; advisories.len()];
    let stamp = |a: &Advisory| a.modified.as_deref().and_then(Timestamp::parse_rfc3339);
    for (i, a) in advisories.iter().enumerate() {
        let Some(&kept) = winner.get(a.id.as_str()) else {
            winner.insert(&a.id, i);
            continue;
        };
        let Some(current) = advisories.get(kept) else {
            continue;
        };
        let (loser, won) = if stamp(a) >= stamp(current) {
            winner.insert(&a.id, i);
            (kept, i)
        } else {
            (i, kept)
        };
        if let (Some(l), Some(w)) = (advisories.get(loser), advisories.get(won)) {
            replaced.push(Replaced {
                id: l.id.clone(),
                dropped_source: l.origin.source.clone(),
                kept_source: w.origin.source.clone(),
            });
        }
        if let Some(d) = dropped.get_mut(loser) {
            *d = true;
        }
    }
    (dropped, replaced)
}

/// The name-table key of an affected set: its ecosystem kind and normalized package name.
/// The one rule both the index and the persisted matcher file entries under.
pub(crate) fn entry_key(set: &AffectedSet) -> (Ecosystem, String) {
    let ecosystem = Ecosystem::parse(&set.ecosystem);
    let key = normalize_name(ecosystem.kind(), &set.name).into_owned();
    (ecosystem, key)
}

impl AdvisoryIndex {
    /// Compiles an index from advisories already unique by id.
    fn from_advisories(advisories: Vec<Advisory>) -> AdvisoryIndex {
        let compiled: Vec<Vec<(EcosystemKind, Box<str>, Entry)>> = advisories
            .par_iter()
            .enumerate()
            .map(|(slot, advisory)| {
                if advisory.is_withdrawn() {
                    return Vec::new();
                }
                advisory
                    .affected
                    .iter()
                    .enumerate()
                    .map(|(i, set)| {
                        let (ecosystem, key) = entry_key(set);
                        let kind = ecosystem.kind().clone();
                        let key: Box<str> = key.into();
                        let entry = Entry {
                            advisory: u32::try_from(slot).unwrap_or(u32::MAX),
                            affected: u32::try_from(i).unwrap_or(u32::MAX),
                            compiled: CompiledAffected::new(&set.to_osv()),
                            ecosystem,
                        };
                        (kind, key, entry)
                    })
                    .collect()
            })
            .collect();
        let mut tables: Vec<(EcosystemKind, NameTable)> = Vec::new();
        for (kind, key, entry) in compiled.into_iter().flatten() {
            let table = match tables.iter().position(|(k, _)| *k == kind) {
                Some(i) => match tables.get_mut(i) {
                    Some((_, table)) => table,
                    None => continue,
                },
                None => {
                    tables.push((kind, NameTable::default()));
                    match tables.last_mut() {
                        Some((_, table)) => table,
                        None => continue,
                    }
                }
            };
            table.entry(key).or_default().push(entry);
        }
        // The largest tables first: npm and PyPI lookups find their table at once.
        tables.sort_by_key(|(_, table)| std::cmp::Reverse(table.len()));
        let mut by_id: Vec<u32> = (0..advisories.len())
            .map(|slot| u32::try_from(slot).unwrap_or(u32::MAX))
            .collect();
        by_id.sort_unstable_by(|&a, &b| {
            let id = |slot: u32| advisories.get(slot as usize).map(|a| a.id.as_str());
            id(a).cmp(&id(b))
        });
        let groups = alias_groups(&advisories);
        AdvisoryIndex {
            advisories,
            groups,
            by_id,
            tables,
        }
    }

    /// Every advisory, withdrawn included.
    pub fn advisories(&self) -> &[Advisory] {
        &self.advisories
    }

    /// The advisory in `slot`.
    pub fn get(&self, slot: u32) -> Option<&Advisory> {
        self.advisories.get(slot as usize)
    }

    /// The advisory with this id (exact).
    pub fn by_id(&self, id: &str) -> Option<&Advisory> {
        let i = self
            .by_id
            .binary_search_by(|&slot| {
                self.get(slot)
                    .map(|a| a.id.as_str())
                    .unwrap_or_default()
                    .cmp(id)
            })
            .ok()?;
        self.by_id.get(i).and_then(|&slot| self.get(slot))
    }

    /// Number of advisories, withdrawn included.
    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    /// Whether the index holds no advisory.
    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// The advisories affecting `version` of package `name` in `ecosystem`. Allocation-free
    /// when nothing in the index names the package (see the module documentation).
    pub fn lookup(&self, ecosystem: &Ecosystem, name: &str, version: &str) -> Vec<Match<'_>> {
        let Some(entries) = self.entries_for(ecosystem.kind(), name) else {
            return Vec::new();
        };
        let query = QueryVersion::new(version);
        self.evaluate(entries, ecosystem, &query)
    }

    /// Like [`AdvisoryIndex::lookup`] with a version already wrapped, so a caller checking one
    /// component against several indexes parses it once per ordering.
    pub fn lookup_query(
        &self,
        ecosystem: &Ecosystem,
        name: &str,
        query: &QueryVersion<'_>,
    ) -> Vec<Match<'_>> {
        match self.entries_for(ecosystem.kind(), name) {
            Some(entries) => self.evaluate(entries, ecosystem, query),
            None => Vec::new(),
        }
    }

    /// Whether any advisory names the package at all (any version).
    pub fn names_package(&self, ecosystem: &Ecosystem, name: &str) -> bool {
        self.entries_for(ecosystem.kind(), name).is_some()
    }

    fn entries_for(&self, kind: &EcosystemKind, name: &str) -> Option<&[Entry]> {
        let (_, table) = self.tables.iter().find(|(k, _)| k == kind)?;
        let key: Cow<'_, str> = normalize_name(kind, name);
        table.get(key.as_ref()).map(Vec::as_slice)
    }

    fn evaluate(
        &self,
        entries: &[Entry],
        ecosystem: &Ecosystem,
        query: &QueryVersion<'_>,
    ) -> Vec<Match<'_>> {
        let mut out: Vec<Match<'_>> = Vec::new();
        for entry in entries {
            if out.iter().any(|m| m.slot == entry.advisory) {
                continue;
            }
            if !ecosystem_covers(&entry.ecosystem, ecosystem) || !entry.compiled.is_affected(query)
            {
                continue;
            }
            let Some(advisory) = self.get(entry.advisory) else {
                continue;
            };
            out.push(Match {
                advisory,
                slot: entry.advisory,
                affected: entry.affected,
                group: self
                    .groups
                    .get(entry.advisory as usize)
                    .copied()
                    .unwrap_or(entry.advisory),
            });
        }
        out
    }

    /// Folds one component's matches by alias group: one [`MatchGroup`] per finding.
    pub fn group_matches<'a>(&self, matches: &[Match<'a>]) -> Vec<MatchGroup<'a>> {
        group_matches(matches)
    }

    /// The alias group of the advisory in `slot`: every advisory sharing an id or alias with
    /// it, transitively.
    pub fn alias_group(&self, slot: u32) -> Vec<&Advisory> {
        let Some(&group) = self.groups.get(slot as usize) else {
            return Vec::new();
        };
        self.groups
            .iter()
            .enumerate()
            .filter(|&(_, &g)| g == group)
            .filter_map(|(i, _)| self.advisories.get(i))
            .collect()
    }

    /// Counts for `intel status`.
    pub fn counts(&self) -> IndexCounts {
        let mut counts = IndexCounts {
            advisories: self.advisories.len(),
            ..IndexCounts::default()
        };
        for a in &self.advisories {
            let ecosystems = a.ecosystems();
            if a.is_withdrawn() {
                counts.withdrawn += 1;
                for e in ecosystems {
                    *counts.withdrawn_by_ecosystem.entry(e).or_default() += 1;
                }
                continue;
            }
            for e in ecosystems {
                let row = counts.by_ecosystem.entry(e).or_default();
                match a.kind {
                    AdvisoryKind::Malicious => row.malicious += 1,
                    AdvisoryKind::Vulnerability => row.vulnerability += 1,
                }
            }
        }
        for (_, table) in &self.tables {
            counts.packages += table.len();
            counts.entries += table.values().map(Vec::len).sum::<usize>();
        }
        counts
    }
}

/// Folds one component's matches by alias group: one [`MatchGroup`] per finding, in order of
/// first appearance; within a group MALICIOUS first, then by id.
pub fn group_matches<'a>(matches: &[Match<'a>]) -> Vec<MatchGroup<'a>> {
    let mut groups: Vec<(u32, Vec<&'a Advisory>)> = Vec::new();
    for m in matches {
        match groups.iter_mut().find(|(g, _)| *g == m.group) {
            Some((_, members)) => members.push(m.advisory),
            None => groups.push((m.group, vec![m.advisory])),
        }
    }
    groups
        .into_iter()
        .map(|(_, mut advisories)| {
            advisories.sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.id.cmp(&b.id)));
            MatchGroup { advisories }
        })
        .collect()
}

/// What a scan needs from a matcher: the advisories affecting one component, with their
/// alias groups. Implemented by the full [`AdvisoryIndex`] and by the persisted
/// [`crate::matcher::LazyIndex`], which answer alike (slots, groups and affected sets
/// included).
pub trait Matcher {
    /// The advisories affecting `version` of `name` in `ecosystem`.
    fn lookup(&self, ecosystem: &Ecosystem, name: &str, version: &str) -> Vec<Match<'_>>;

    /// Folds one component's matches by alias group: one [`MatchGroup`] per finding.
    fn group_matches<'a>(&self, matches: &[Match<'a>]) -> Vec<MatchGroup<'a>> {
        group_matches(matches)
    }
}

impl Matcher for AdvisoryIndex {
    fn lookup(&self, ecosystem: &Ecosystem, name: &str, version: &str) -> Vec<Match<'_>> {
        AdvisoryIndex::lookup(self, ecosystem, name, version)
    }
}

/// Union-find over shared ids and aliases; each advisory's group is the smallest slot in it.
pub(crate) fn alias_groups(advisories: &[Advisory]) -> Vec<u32> {
    let mut parent: Vec<usize> = (0..advisories.len()).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while let Some(&p) = parent.get(i) {
            if p == i {
                break;
            }
            let grand = parent.get(p).copied().unwrap_or(p);
            if let Some(slot) = parent.get_mut(i) {
                *slot = grand;
            }
            i = p;
        }
        i
    }
    let mut first_with: HashMap<&str, usize> = HashMap::with_capacity(advisories.len() * 2);
    for (slot, a) in advisories.iter().enumerate() {
        for id in std::iter::once(&a.id).chain(a.aliases.iter()) {
            match first_with.get(id.as_str()).copied() {
                None => {
                    first_with.insert(id, slot);
                }
                Some(other) => {
                    let (ra, rb) = (find(&mut parent, slot), find(&mut parent, other));
                    let (low, high) = (ra.min(rb), ra.max(rb));
                    if let Some(p) = parent.get_mut(high) {
                        *p = low;
                    }
                }
            }
        }
    }
    (0..advisories.len())
        .map(|i| u32::try_from(find(&mut parent, i)).unwrap_or(u32::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisory::RecordOrigin;
    use vigil_core::osv::OsvRecord;

    pub(crate) fn advisory(json: &str, source: &str) -> Advisory {
        let record: OsvRecord = serde_json::from_str(json).expect("test record parses");
        Advisory::from_record(
            &record,
            RecordOrigin {
                source: source.into(),
                location: "test".into(),
                line: None,
            },
        )
    }

    fn index(records: &[&str]) -> AdvisoryIndex {
        let mut b = IndexBuilder::new();
        for r in records {
            b.add(advisory(r, "test"));
        }
        b.build()
    }

    fn ids(matches: &[Match<'_>]) -> Vec<String> {
        let mut v: Vec<String> = matches.iter().map(|m| m.advisory.id.clone()).collect();
        v.sort();
        v
    }

    #[test]
    fn looks_up_by_ecosystem_name_and_version() {
        let idx = index(&[
            r#"{"id":"MAL-1","affected":[{"package":{"ecosystem":"npm","name":"debug"},"versions":["4.4.2"]}]}"#,
            r#"{"id":"MAL-2","affected":[{"package":{"ecosystem":"PyPI","name":"Evil_Pkg"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#,
            r#"{"id":"DSA-1","affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.11-1"}]}]}]}"#,
            r#"{"id":"MAL-3","withdrawn":"2025-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"debug"},"versions":["4.4.1"]}]}"#,
        ]);
        let npm = Ecosystem::parse("npm");
        let cases: &[(&str, &str, &str, &[&str])] = &[
            ("npm", "debug", "4.4.2", &["MAL-1"]),
            ("npm", "debug", "4.4.1", &[]),
            ("npm", "debug", "4.4.3", &[]),
            ("npm", "Debug", "4.4.2", &[]),
            ("PyPI", "evil.pkg", "0.0.1", &["MAL-2"]),
            // PEP 440 falls back to legacy versions: any string is inside `introduced: 0`.
            ("PyPI", "EVIL-PKG", "not a version", &["MAL-2"]),
            ("Debian:12", "openssl", "3.0.10-1", &["DSA-1"]),
            ("Debian", "openssl", "3.0.10-1", &["DSA-1"]),
            ("Debian:11", "openssl", "3.0.10-1", &[]),
            ("Debian:12", "openssl", "3.0.11-1", &[]),
            ("Go", "debug", "4.4.2", &[]),
        ];
        for (eco, name, version, want) in cases {
            let got = ids(&idx.lookup(&Ecosystem::parse(eco), name, version));
            assert_eq!(got, *want, "{eco} {name} {version}");
        }
        assert!(idx.names_package(&npm, "debug"));
        let counts = idx.counts();
        assert_eq!(counts.advisories, 4);
        assert_eq!(counts.withdrawn, 1);
        assert_eq!(counts.by_ecosystem["npm"].malicious, 1);
        assert_eq!(counts.by_ecosystem["Debian"].vulnerability, 1);
        assert_eq!(counts.withdrawn_by_ecosystem["npm"], 1);
    }

    #[test]
    fn newer_modified_wins_and_ties_go_to_the_later_source() {
        let old = r#"{"id":"MAL-1","modified":"2025-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"a"},"versions":["1.0.0"]}]}"#;
        let new = r#"{"id":"MAL-1","modified":"2025-02-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"a"},"versions":["2.0.0"]}]}"#;
        let npm = Ecosystem::parse("npm");
        for order in [[old, new], [new, old]] {
            let mut b = IndexBuilder::new();
            b.add(advisory(order[0], "first"));
            b.add(advisory(order[1], "second"));
            let (idx, replaced) = b.finish();
            assert_eq!(replaced.len(), 1);
            assert_eq!(idx.len(), 1);
            assert!(idx.lookup(&npm, "a", "1.0.0").is_empty());
            assert_eq!(idx.lookup(&npm, "a", "2.0.0").len(), 1);
        }
        let mut b = IndexBuilder::new();
        b.add(advisory(old, "baseline"));
        b.add(advisory(old, "import"));
        let idx = b.build();
        assert_eq!(idx.advisories()[0].origin.source, "import");
        assert_eq!(idx.by_id("MAL-1").map(|a| a.id.as_str()), Some("MAL-1"));
        assert!(idx.by_id("MAL-2").is_none());
    }

    #[test]
    fn alias_groups_fold_one_components_matches() {
        let idx = index(&[
            r#"{"id":"MAL-2025-47141","aliases":["GHSA-qjqf-7j6f-82c4"],"affected":[{"package":{"ecosystem":"npm","name":"@ctrl/tinycolor"},"versions":["4.1.1","4.1.2"]}]}"#,
            r#"{"id":"GHSA-qjqf-7j6f-82c4","database_specific":{"cwe_ids":["CWE-506"]},"affected":[{"package":{"ecosystem":"npm","name":"@ctrl/tinycolor"},"ranges":[{"type":"SEMVER","events":[{"introduced":"4.1.1"},{"last_affected":"4.1.2"}]}]}]}"#,
            r#"{"id":"CVE-2099-1","affected":[{"package":{"ecosystem":"npm","name":"@ctrl/tinycolor"},"versions":["4.1.1"]}]}"#,
        ]);
        let matches = idx.lookup(&Ecosystem::parse("npm"), "@ctrl/tinycolor", "4.1.1");
        assert_eq!(matches.len(), 3);
        let groups = idx.group_matches(&matches);
        assert_eq!(groups.len(), 2);
        let ghsa = groups
            .iter()
            .find(|g| g.advisories.len() == 2)
            .expect("MAL and GHSA grouped");
        assert_eq!(ghsa.ids(), ["GHSA-qjqf-7j6f-82c4", "MAL-2025-47141"]);
        assert_eq!(ghsa.kind(), AdvisoryKind::Malicious);
        assert_eq!(ghsa.cwes(), ["CWE-506"]);
        assert_eq!(idx.alias_group(0).len(), 2);
    }

    proptest::proptest! {
        /// The index answers exactly what evaluating every baseline record would.
        #[test]
        fn agrees_with_record_evaluation(
            pick in 0usize..36,
            (major, minor, patch) in (0u64..25, 0u64..12, 0u64..8),
            other_name in "[a-z@/.-]{0,12}",
        ) {
            let records = &crate::baseline::records().records;
            let mut b = IndexBuilder::new();
            b.extend(crate::baseline::advisories());
            let idx = b.build();
            let npm = Ecosystem::parse("npm");
            let version = format!("{major}.{minor}.{patch}");
            let name = records
                .get(pick)
                .and_then(|r| r.record.affected.first())
                .and_then(|a| a.package.as_ref())
                .map(|p| p.name.clone())
                .unwrap_or_default();
            for name in [name.as_str(), other_name.as_str()] {
                let mut want: Vec<String> = records
                    .iter()
                    .filter(|r| r.record.affects(&npm, name, &version))
                    .map(|r| r.record.id.clone())
                    .collect();
                want.sort();
                proptest::prop_assert_eq!(ids(&idx.lookup(&npm, name, &version)), want);
            }
        }
    }
}
