//! A scan of a data directory's intel matches with the persisted matcher and reports exactly
//! the findings the full index gives; a damaged matcher costs one warning, not a finding.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;

use vigil_intel::{ImportOptions, IntelStore};
use vigil_inventory::ScanOptions;
use vigil_report::Finding;
use vigil_scan::ScanIndex;

fn package(root: &Path, name: &str, version: &str) {
    let dir = root.join("node_modules").join(name);
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("package.json"),
        format!(r#"{{"name":"{name}","version":"{version}"}}"#),
    )
    .unwrap();
}

fn sorted(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by(|a, b| {
        (&a.advisory.id, &a.component.name).cmp(&(&b.advisory.id, &b.component.name))
    });
    findings
}

#[test]
fn lazy_and_full_intel_give_the_same_findings() {
    let data = tempfile::tempdir().unwrap();
    let tree = tempfile::tempdir().unwrap();
    let list = data.path().join("mine.txt");
    // chalk 5.6.1 is also a baseline incident: one finding per advisory group.
    fs::write(&list, "left-pad@1.3.0\nchalk@5.6.1\n").unwrap();
    let store = IntelStore::new(data.path());
    store
        .import(&list, None, &ImportOptions::default())
        .unwrap();
    for (name, version) in [
        ("left-pad", "1.3.0"),
        ("chalk", "5.6.1"),
        ("debug", "4.4.2"),
        ("debug-not", "4.4.2"),
        ("react", "18.2.0"),
    ] {
        package(tree.path(), name, version);
    }
    let inventory =
        vigil_scan::inventory(&[tree.path().to_path_buf()], &ScanOptions::default()).unwrap();
    let sightings = vigil_scan::path_sightings(&inventory.packages);
    let full = store.load().unwrap().index;
    let want = sorted(vigil_scan::match_sightings(&full, &sightings));
    assert_eq!(want.len(), 4, "{want:#?}");

    let damage: [Option<&[u8]>; 3] = [None, Some(b"junk"), None];
    for (round, damage) in damage.into_iter().enumerate() {
        if let Some(bytes) = damage {
            fs::write(store.matcher_path(), bytes).unwrap();
        }
        let intel =
            vigil_scan::load_intel(Some(data.path()), &[], &ImportOptions::default()).unwrap();
        assert!(matches!(intel.index, ScanIndex::Lazy(_)), "round {round}");
        assert_eq!(
            intel.warnings.len(),
            usize::from(damage.is_some()),
            "round {round}: {:?}",
            intel.warnings
        );
        let got = sorted(vigil_scan::match_sightings(&intel.index, &sightings));
        assert_eq!(got, want, "round {round}");
        assert!(intel.index.take_warnings().is_empty());
    }

    // `--intel` sources are read for the scan only: the full index, as before.
    let extra = tree.path().join("extra.txt");
    fs::write(&extra, "react@18.2.0\n").unwrap();
    let intel =
        vigil_scan::load_intel(Some(data.path()), &[extra], &ImportOptions::default()).unwrap();
    assert!(matches!(intel.index, ScanIndex::Full(_)));
    assert_eq!(
        vigil_scan::match_sightings(&intel.index, &sightings).len(),
        5
    );
}
