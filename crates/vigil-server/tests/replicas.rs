//! Detectors of several server replicas on one PostgreSQL store: intel imported through one is
//! published for all, matched again by exactly one, and in use on the others at their next
//! detection (or start). Needs PostgreSQL (skipped with a message without one, failing under
//! `VIGIL_REQUIRE_PG=1`); the SQLite path is the engine suite's.
#![allow(clippy::unwrap_used)]

#[path = "../../vigil-store/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::sync::Arc;

use common::{at, full, instance};
use vigil_server::intel::{GENERATION_BLOB, IntelState, read_generation};
use vigil_server::metrics::Metrics;
use vigil_server::{DetectionSettings, Detector, QueryFilters};
use vigil_store::{EventSeq, FindingFilter, Store};
use vigil_workflow::WorkflowSet;

/// A replica: its own store connection and data directory, the same database.
fn replica(db: &common::TestDb, data: &Path) -> Detector {
    let store = Arc::new(db.open());
    let (intel, warnings) = IntelState::open(data).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let detector = Detector::new(
        store,
        Arc::new(intel),
        Arc::new(WorkflowSet::parse("test.toml", "", &QueryFilters).unwrap()),
        DetectionSettings::default(),
        Arc::new(Metrics::default()),
    );
    detector.sync_intel(at(0)).unwrap();
    detector
}

fn created_events(store: &Store) -> usize {
    store
        .events_since(EventSeq(0), 10_000)
        .unwrap()
        .iter()
        .filter(|e| e.event_type == "VULNERABILITY_FINDING")
        .count()
}

fn import(detector: &Detector, name: &str, body: &str) -> vigil_server::IntelReport {
    detector
        .intel()
        .import_bytes(
            body.as_bytes(),
            Some(vigil_server::intel::UploadKind::List),
            name,
            &vigil_intel::ImportOptions::default(),
        )
        .unwrap();
    detector.reload_intel(at(10)).unwrap().0
}

#[test]
fn intel_imported_on_one_replica_is_used_by_all_and_matched_once() {
    let Some(db) = common::TestDb::postgres() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = replica(&db, &dir.path().join("a"));
    let b = replica(&db, &dir.path().join("b"));
    let store = db.open();
    let left_pad = || {
        vec![instance(
            "npm",
            "left-pad",
            "1.3.0",
            "/app/node_modules/left-pad",
        )]
    };
    a.ingest(&full("h1", 1, left_pad()), at(1)).unwrap();
    assert_eq!(created_events(&store), 0);

    // Imported through A: published, matched by A, in one transaction.
    let report = import(&a, "incident-1", "left-pad@1.3.0\n");
    assert_eq!(report.findings.created, 1, "{report:?}");
    let generation = read_generation(store.get_blob(GENERATION_BLOB).unwrap());
    assert_eq!(a.intel().generation(), generation);
    assert!(generation > 0);

    // B's next detection catches up first: a new host with left-pad is a finding at once.
    assert_ne!(b.intel().generation(), generation);
    let ingested = b.ingest(&full("h2", 1, left_pad()), at(11)).unwrap();
    assert_eq!(ingested.findings.created, 1, "{ingested:?}");
    assert_eq!(b.intel().generation(), generation);
    // Catching up rematched nothing: one creation event per finding.
    assert!(!b.catch_up(at(12)).unwrap(), "already caught up");
    assert_eq!(created_events(&store), 2);

    // A third replica started on an empty data directory uses the shared intel and matches
    // nothing again; a restart of A (its data directory holds the same import) publishes
    // nothing new.
    let c = replica(&db, &dir.path().join("c"));
    assert_eq!(c.intel().generation(), generation);
    assert_eq!(c.intel().index().len(), a.intel().index().len());
    assert_eq!(
        c.intel().current().fingerprint(),
        a.intel().current().fingerprint()
    );
    let a2 = replica(&db, &dir.path().join("a"));
    assert_eq!(a2.intel().generation(), generation);
    assert_eq!(created_events(&store), 2);

    // A newer import of the same source through C replaces it everywhere: left-pad is no
    // longer named, express is; the open left-pad findings resolve, once.
    let report = import(&c, "incident-1", "express@4.21.2\n");
    assert_eq!(report.findings.resolved, 2, "{report:?}");
    assert!(b.catch_up(at(20)).unwrap());
    assert_eq!(b.intel().generation(), generation + 1);
    let ingested = b
        .ingest(
            &full(
                "h3",
                1,
                vec![instance(
                    "npm",
                    "express",
                    "4.21.2",
                    "/app/node_modules/express",
                )],
            ),
            at(21),
        )
        .unwrap();
    assert_eq!(ingested.findings.created, 1, "{ingested:?}");
    let findings = store
        .list_findings(&FindingFilter {
            limit: 100,
            ..FindingFilter::default()
        })
        .unwrap();
    assert_eq!(findings.len(), 3, "{findings:?}");
}
