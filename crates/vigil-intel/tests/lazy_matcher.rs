//! The persisted matcher ([`vigil_intel::LazyIndex`]) answers exactly what the full
//! [`vigil_intel::AdvisoryIndex`] answers, over the real 33k advisories of the shared folder:
//! same advisories, slots, affected sets and alias groups, for every (name, version) the
//! advisories list, their range bounds, near misses around them (other versions, other
//! spellings, other ecosystems, release suffixes), and the benchmark corpus's components
//! (the npm lockfile and the pinned Python requirements of `shared/bench/corpus`).
//!
//! SKIPPED without the shared folder (`VIGIL_SHARED_DIR`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Instant;

use vigil_core::Ecosystem;
use vigil_core::osv::Event;
use vigil_intel::store::IntelStore;
use vigil_intel::{AdvisoryIndex, ImportOptions, LazyIndex, Match, Matcher};

type Query = (String, String, String);

/// What one lookup says, in comparable form.
fn answer(index: &dyn Matcher, (eco, name, version): &Query) -> Vec<(u32, u32, u32, String)> {
    let matches: Vec<Match<'_>> = index.lookup(&Ecosystem::parse(eco), name, version);
    let groups: Vec<Vec<String>> = index
        .group_matches(&matches)
        .iter()
        .map(|g| g.ids().into_iter().map(str::to_owned).collect())
        .collect();
    let mut out: Vec<(u32, u32, u32, String)> = matches
        .iter()
        .map(|m| (m.slot, m.affected, m.group, m.advisory.id.clone()))
        .collect();
    // Group ids in order: the finding layer's view.
    for (i, ids) in groups.iter().enumerate() {
        out.push((u32::MAX, i as u32, 0, ids.join(",")));
    }
    out
}

fn bounds(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| e.version().to_owned()).collect()
}

/// Every (ecosystem, name, version) worth asking, from the advisories themselves.
fn queries_from(index: &AdvisoryIndex) -> BTreeSet<Query> {
    let mut out = BTreeSet::new();
    for a in index.advisories() {
        for set in &a.affected {
            let mut versions: Vec<String> = set.versions.clone();
            for r in &set.ranges {
                versions.extend(bounds(&r.events));
            }
            let first = versions.first().cloned().unwrap_or_default();
            versions.extend([
                "0.0.0".to_owned(),
                "999.0.0".to_owned(),
                format!("{first}.1"),
                format!("{first}-rc1"),
            ]);
            let base = Ecosystem::parse(&set.ecosystem).kind().as_str().to_owned();
            for v in &versions {
                out.insert((set.ecosystem.clone(), set.name.clone(), v.clone()));
                if base != set.ecosystem {
                    out.insert((base.clone(), set.name.clone(), v.clone()));
                }
            }
            let other = if base == "npm" { "PyPI" } else { "npm" };
            for name in [
                set.name.to_uppercase(),
                set.name.replace('-', "_"),
                format!("{}x", set.name),
                set.name.chars().skip(1).collect(),
            ] {
                out.insert((set.ecosystem.clone(), name, first.clone()));
            }
            out.insert((other.to_owned(), set.name.clone(), first.clone()));
            out.insert((format!("{base}:1"), set.name.clone(), first));
        }
    }
    out
}

/// The benchmark corpus's components: what a scan of npm-app and venv asks.
fn corpus_queries() -> BTreeSet<Query> {
    let mut out = BTreeSet::new();
    if let Some(lock) =
        vigil_testkit::shared_path("bench/corpus/npm/package-lock.json", "corpus components")
    {
        let text = std::fs::read_to_string(lock).unwrap();
        let lock: serde_json::Value = serde_json::from_str(&text).unwrap();
        for (path, package) in lock["packages"].as_object().unwrap() {
            let Some(name) = path
                .rsplit("node_modules/")
                .next()
                .filter(|n| !n.is_empty())
            else {
                continue;
            };
            if let Some(version) = package["version"].as_str() {
                out.insert(("npm".into(), name.into(), version.into()));
            }
        }
    }
    if let Some(reqs) =
        vigil_testkit::shared_path("bench/corpus/python/requirements.txt", "corpus components")
    {
        for line in std::fs::read_to_string(reqs).unwrap().lines() {
            if let Some((name, version)) = line.split_once("==") {
                out.insert(("PyPI".into(), name.trim().into(), version.trim().into()));
            }
        }
    }
    out
}

#[test]
fn lazy_matcher_equals_the_full_index_on_the_33k_advisories() {
    let Some(zip) = vigil_testkit::shared_path(
        "intel/malicious-packages-osv.zip",
        "lazy matcher equivalence",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = IntelStore::new(dir.path());
    // A custom list too, so that CUSTOM- ids, two sources and the baseline all take part.
    let list = dir.path().join("incidents.txt");
    std::fs::write(&list, "debug@4.4.2\nleft-pad@1.3.0\nrequests@2.31.0\n").unwrap();
    store
        .import(&list, None, &ImportOptions::default())
        .unwrap();
    store.import(&zip, None, &ImportOptions::default()).unwrap();
    assert!(store.matcher_path().is_file(), "import writes the matcher");

    let started = Instant::now();
    let full = store.load().unwrap();
    assert!(full.warnings.is_empty(), "{:?}", full.warnings);
    let full_start = started.elapsed();
    let started = Instant::now();
    let opened = store.open_matcher().unwrap();
    let lazy_start = started.elapsed();
    assert!(opened.warnings.is_empty(), "{:?}", opened.warnings);
    let lazy: &LazyIndex = &opened.index;
    let full = &full.index;
    assert_eq!(lazy.len(), full.len());
    assert_eq!(lazy.packages(), full.counts().packages);

    let mut queries = queries_from(full);
    let from_advisories = queries.len();
    let corpus = corpus_queries();
    let from_corpus = corpus.len();
    queries.extend(corpus);
    let (mut hits, mut matched) = (0usize, 0usize);
    let started = Instant::now();
    for q in &queries {
        let want = answer(full, q);
        let got = answer(lazy, q);
        assert_eq!(got, want, "{q:?}");
        if !want.is_empty() {
            hits += 1;
            // The advisory the report prints is the one the full index holds.
            for m in Matcher::lookup(lazy, &Ecosystem::parse(&q.0), &q.1, &q.2) {
                assert_eq!(Some(m.advisory), full.get(m.slot), "{q:?}");
                matched += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    assert!(!lazy.fell_back(), "{:?}", lazy.take_warnings());
    assert!(hits > 30_000, "{hits}");
    eprintln!(
        "lazy matcher equivalence: {} queries ({from_advisories} from the advisories, \
         {from_corpus} corpus components), {hits} with matches ({matched} matches), \
         identical; compared in {elapsed:?}; start: full {full_start:?}, lazy {lazy_start:?}; \
         matcher {} bytes",
        queries.len(),
        std::fs::metadata(store.matcher_path()).unwrap().len()
    );
}
