//! Acceptance against the real data in the project's shared folder (`shared/intel/`): the
//! ossf/malicious-packages snapshot and the 2025 incident list.
//!
//! Found through `VIGIL_SHARED_DIR` (default: `shared/` beside the checkout). When it is absent
//! the tests print SKIPPED and pass (`VIGIL_REQUIRE_SHARED=1` makes that a failure).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;
use vigil_core::Ecosystem;
use vigil_intel::store::IntelStore;
use vigil_intel::{AdvisoryIndex, ImportOptions, baseline};

fn shared_intel() -> Option<PathBuf> {
    vigil_testkit::shared_path(
        "intel/malicious-packages-osv.zip",
        "shared intel acceptance",
    )
    .map(|_| vigil_testkit::shared_dir().join("intel"))
}

/// The zip imported once into a temporary data dir, shared by the tests of this file.
struct Imported {
    _dir: tempfile::TempDir,
    store: IntelStore,
    state: vigil_intel::store::SourceState,
    index: AdvisoryIndex,
}

fn imported() -> Option<&'static Imported> {
    static IMPORTED: OnceLock<Option<Imported>> = OnceLock::new();
    IMPORTED
        .get_or_init(|| {
            let intel = shared_intel()?;
            let dir = tempfile::tempdir().expect("tempdir");
            let store = IntelStore::new(dir.path());
            let state = store
                .import(
                    &intel.join("malicious-packages-osv.zip"),
                    None,
                    &ImportOptions::default(),
                )
                .expect("the snapshot zip imports");
            let loaded = store.load().expect("loads");
            assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
            Some(Imported {
                _dir: dir,
                store,
                state,
                index: loaded.index,
            })
        })
        .as_ref()
}

fn incidents() -> Option<Value> {
    let intel = shared_intel()?;
    let text = std::fs::read_to_string(intel.join("incidents-2025.json")).expect("incidents");
    Some(serde_json::from_str(&text).expect("incidents parse"))
}

#[test]
fn zip_import_yields_the_readme_counts() {
    let Some(imported) = imported() else { return };
    let state = &imported.state;
    // shared/intel/README.md, "Counts": osv/malicious plus the 12-file 2025 sample (npm).
    let want: BTreeMap<&str, usize> = [
        ("npm", 22_236 + 12),
        ("PyPI", 9_207),
        ("RubyGems", 815),
        ("NuGet", 746),
        ("Go", 8),
        ("crates.io", 2),
        ("Maven", 1),
    ]
    .into_iter()
    .collect();
    let got: BTreeMap<&str, usize> = state
        .by_ecosystem
        .iter()
        .map(|(eco, counts)| (eco.as_str(), counts.malicious + counts.vulnerability))
        .collect();
    assert_eq!(got, want);
    assert!(
        state.by_ecosystem.values().all(|c| c.vulnerability == 0),
        "every record of the snapshot is MALICIOUS"
    );
    assert_eq!(state.withdrawn, 54, "withdrawn kept apart");
    assert_eq!(state.advisories, 33_015 + 12 + 54);
    assert_eq!(state.skipped_total, 0, "{:?}", state.skipped);
    assert_eq!(state.ignored, 1, "MANIFEST.tsv");

    let counts = imported.index.counts();
    assert_eq!(counts.withdrawn_by_ecosystem.get("npm"), Some(&54));
    // The baseline adds the incident advisories the 12-file sample does not hold.
    assert_eq!(
        counts.by_ecosystem["npm"].malicious,
        22_236 + 12 + (36 - 12),
        "baseline and sample overlap on 12 ids"
    );
}

#[test]
fn withdrawn_advisories_never_match() {
    let Some(imported) = imported() else { return };
    let npm = Ecosystem::parse("npm");
    let mut checked = 0;
    for a in imported
        .index
        .advisories()
        .iter()
        .filter(|a| a.is_withdrawn())
    {
        for set in &a.affected {
            for v in &set.versions {
                let hits = imported.index.lookup(&npm, &set.name, v);
                assert!(hits.iter().all(|m| m.advisory.id != a.id), "{} {v}", a.id);
                checked += 1;
            }
        }
    }
    assert!(checked > 0);
}

/// Every (package, version) the incident list gives with read versions matches its advisory —
/// on the baseline alone and with the full snapshot loaded — and neighbours do not.
#[test]
fn incidents_match_and_neighbours_do_not() {
    let Some(incidents) = incidents() else { return };
    let baseline_only = baseline::index();
    let mut indexes = vec![("baseline", &baseline_only)];
    if let Some(imported) = imported() {
        indexes.push(("baseline + snapshot", &imported.index));
    }
    let npm = Ecosystem::parse("npm");
    let entries = incidents["advisories"].as_array().expect("advisories");
    let mut pairs = 0;
    for (label, index) in &indexes {
        for e in entries.iter().filter(|e| e["retrieval"] == "read") {
            let id = e["id"].as_str().expect("id");
            let package = e["package"].as_str().expect("package");
            let mut versions: Vec<&str> = e["affected_versions"]
                .as_array()
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if versions.is_empty() {
                // Ranges only (tinycolor): the versions the advisory's narrowed range names.
                versions = e["reference_versions"]
                    .as_array()
                    .map(|v| v.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
            }
            assert!(!versions.is_empty(), "{id}");
            for v in versions {
                let hits = index.lookup(&npm, package, v);
                assert!(
                    hits.iter().any(|m| m.advisory.id == id),
                    "{label}: {package}@{v} should match {id}, got {:?}",
                    hits.iter().map(|m| &m.advisory.id).collect::<Vec<_>>()
                );
                pairs += 1;
            }
        }
        let neighbours = [
            ("debug", "4.4.1"),
            ("debug", "4.4.3"),
            ("chalk", "5.6.0"),
            ("chalk", "5.6.2"),
            ("nx", "21.4.1"),
            ("@ctrl/tinycolor", "4.1.0"),
            ("@ctrl/tinycolor", "4.1.3"),
            ("@ctrl/tinycolor", "4.3.0"),
            ("@nx/devkit", "21.4.0"),
            ("chalk-template", "1.1.2"),
            ("ngx-bootstrap", "20.0.2"),
            ("ngx-bootstrap", "19.0.5"),
        ];
        for (package, v) in neighbours {
            let hits = index.lookup(&npm, package, v);
            assert!(
                hits.is_empty(),
                "{label}: {package}@{v} must not match, got {:?}",
                hits.iter().map(|m| &m.advisory.id).collect::<Vec<_>>()
            );
        }
    }
    // 59 (package, version) pairs in the list, checked on each index.
    assert_eq!(pairs, 59 * indexes.len(), "{pairs}");
}

/// MAL-2025-47141 as published says `introduced: 0` *and* 4.1.1..=4.1.2; the superseded
/// catch-all is refined away for matching but the strict record is what `show` returns.
#[test]
fn tinycolor_matches_as_its_advisory_says_and_show_keeps_the_strict_record() {
    let Some(imported) = imported() else { return };
    let advisory = imported
        .index
        .by_id("MAL-2025-47141")
        .expect("tinycolor advisory");
    assert_eq!(advisory.origin.source, "malicious-packages-osv");
    assert!(
        advisory.refined,
        "the sample copy needs the superseded-origins refinement"
    );
    let npm = Ecosystem::parse("npm");
    for (v, hit) in [
        ("4.1.1", true),
        ("4.1.2", true),
        ("4.1.0", false),
        ("4.3.0", false),
        ("3.0.0", false),
    ] {
        let hits = imported.index.lookup(&npm, "@ctrl/tinycolor", v);
        assert_eq!(!hits.is_empty(), hit, "@ctrl/tinycolor@{v}");
    }
    let shown = imported.store.show("MAL-2025-47141").expect("show");
    assert_eq!(shown.len(), 1);
    let record: Value = serde_json::from_str(&shown[0].raw).expect("record JSON");
    let ranges = &record["affected"][0]["ranges"];
    assert_eq!(
        ranges.as_array().map(Vec::len),
        Some(2),
        "strict record kept"
    );
    assert_eq!(ranges[0]["events"][0]["introduced"], "0");
}

#[test]
fn iocs_and_cwes_survive_the_snapshot() {
    let Some(imported) = imported() else { return };
    let with_iocs = imported
        .index
        .advisories()
        .iter()
        .filter(|a| !a.iocs.is_empty())
        .count();
    // README: `iocs` appears in 5,623 files of the bulk part; the 2025 sample adds a few.
    assert!((5_623..=5_635).contains(&with_iocs), "{with_iocs}");
    assert!(
        imported
            .index
            .advisories()
            .iter()
            .all(|a| a.cwes.iter().any(|c| c == "CWE-506")),
        "every MALICIOUS advisory lists CWE-506"
    );
}
