//! The detection engine on an in-memory store: findings from snapshots and from intel changes,
//! alias groups, the lifecycle with its events and workflow tasks, auto-resolve and re-open.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use vigil_core::osv::OsvRecord;
use vigil_core::{Component, Ecosystem, Evidence};
use vigil_intel::advisory::RecordOrigin;
use vigil_intel::{Advisory, AdvisoryIndex, IndexBuilder};
use vigil_server::intel::IntelState;
use vigil_server::metrics::Metrics;
use vigil_server::{DetectionSettings, Detector, Lifecycle, QueryFilters, StatusAction};
use vigil_store::{
    ContainerInfo, EventSeq, FindingFilter, FindingStatus, HostInfo, InstanceInput, Snapshot,
    SnapshotKind, Store, Timestamp,
};
use vigil_workflow::WorkflowSet;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_760_000_000_000 + seconds * 1000)
}

fn instance(name: &str, version: &str, path: &str) -> InstanceInput {
    InstanceInput {
        component: Component::new(Ecosystem::parse("npm"), name, version),
        purl: None,
        container_id: None,
        path: path.into(),
        evidence: Evidence::Installed,
        dev: false,
        pids: Vec::new(),
    }
}

fn snapshot(sequence: u64, instances: Vec<InstanceInput>) -> Snapshot {
    Snapshot {
        host: HostInfo {
            name: "pay-web-1".into(),
            ..HostInfo::default()
        },
        sequence,
        kind: SnapshotKind::Full,
        containers: vec![ContainerInfo {
            id: "c0ffee".into(),
            name: Some("checkout".into()),
            image: Some("node:20".into()),
            k8s_namespace: Some("payments".into()),
            ..ContainerInfo::default()
        }],
        processes: Vec::new(),
        instances,
    }
}

fn advisory(record: Value) -> Advisory {
    let record: OsvRecord = serde_json::from_value(record).expect("record");
    Advisory::from_record(
        &record,
        RecordOrigin {
            source: "test".into(),
            location: "test".into(),
            line: None,
        },
    )
}

fn index_with(extra: Vec<Advisory>) -> AdvisoryIndex {
    let mut b = IndexBuilder::new();
    b.extend(vigil_intel::baseline::advisories());
    b.extend(extra);
    b.build()
}

const WORKFLOWS: &str = r#"
[[workflows]]
name = "malicious-package"
filter = 'event.type == "VULNERABILITY_FINDING" and in("CWE-506", vulnerability.references.cwe) and finding.status == "NEW"'
tasks = [
  { action = "ownership" },
  { action = "webhook", url = "http://127.0.0.1:9/hook" },
]

[[workflows]]
name = "every-change"
filter = 'event.type == "VULNERABILITY_STATUS_CHANGE_EVENT"'
tasks = [{ action = "webhook", url = "http://127.0.0.1:9/changes" }]

[[owners]]
team = "payments"
match = 'k8s.namespace.name == "payments" or startsWith(host.name, "pay-")'
"#;

struct Fixture {
    store: Arc<Store>,
    detector: Detector,
    lifecycle: Lifecycle,
}

fn fixture(index: AdvisoryIndex) -> Fixture {
    let store = Arc::new(Store::open_in_memory().expect("store"));
    let workflows =
        Arc::new(WorkflowSet::parse("test.toml", WORKFLOWS, &QueryFilters).expect("workflows"));
    let detector = Detector::new(
        Arc::clone(&store),
        Arc::new(IntelState::with_index(index)),
        Arc::clone(&workflows),
        DetectionSettings {
            grace_period: Duration::from_secs(60),
        },
        Arc::new(Metrics::default()),
    );
    detector.sync_intel(at(0)).expect("mirror");
    let lifecycle = Lifecycle::new(Arc::clone(&store), workflows);
    Fixture {
        store,
        detector,
        lifecycle,
    }
}

fn events(store: &Store) -> Vec<(String, Value)> {
    store
        .events_since(EventSeq(0), 1000)
        .unwrap()
        .into_iter()
        .map(|e| (e.event_type, Value::Object(e.payload)))
        .collect()
}

#[test]
fn a_malicious_package_becomes_one_finding_with_its_event_and_tasks() {
    let f = fixture(index_with(Vec::new()));
    let mut loaded = instance("debug", "4.4.2", "/srv/b/node_modules/debug");
    loaded.evidence = Evidence::Loaded;
    loaded.pids = vec![42, 7];
    let mut in_container = instance("debug", "4.4.2", "/app/node_modules/debug");
    in_container.container_id = Some("c0ffee".into());
    let report = f
        .detector
        .ingest(
            &snapshot(
                1,
                vec![
                    instance("debug", "4.4.2", "/srv/a/node_modules/debug"),
                    loaded,
                    in_container,
                    instance("debug", "4.4.1", "/srv/c/node_modules/debug"),
                    instance("express", "4.21.2", "/srv/a/node_modules/express"),
                ],
            ),
            at(10),
        )
        .unwrap();
    assert_eq!(report.new, 5);
    assert_eq!(
        report.findings.created, 2,
        "one on the host, one in the container"
    );
    let findings = f.store.list_findings(&FindingFilter::default()).unwrap();
    assert_eq!(findings.len(), 2);
    let host = &findings[0];
    assert_eq!(host.advisory_id, "MAL-2025-46974");
    assert_eq!(
        host.aliases,
        vec!["GHSA-8mgj-vmr8-frr6", "GHSA-4x49-vf9v-38px"]
    );
    assert_eq!(
        (host.risk_score, host.risk_level.as_str()),
        (10.0, "CRITICAL")
    );
    assert_eq!(host.evidence, Evidence::Loaded, "the strongest instance");
    assert_eq!(
        host.locations,
        vec!["/srv/a/node_modules/debug", "/srv/b/node_modules/debug"]
    );
    assert_eq!(host.pids, vec![7, 42]);
    assert_eq!(host.owner_team.as_deref(), Some("payments"));
    assert!(findings[1].container.is_some());

    let events = events(&f.store);
    assert_eq!(events.len(), 2);
    let (kind, e) = &events[0];
    assert_eq!(kind, "VULNERABILITY_FINDING");
    for (field, want) in [
        ("finding.status", json!("NEW")),
        ("vulnerability.id", json!("MAL-2025-46974")),
        ("vulnerability.kind", json!("MALICIOUS")),
        ("vulnerability.references.cwe", json!(["CWE-506"])),
        ("vulnerability.risk.score", json!(10.0)),
        ("vulnerability.risk.level", json!("CRITICAL")),
        ("component.ecosystem", json!("npm")),
        ("component.name", json!("debug")),
        ("component.version", json!("4.4.2")),
        ("component.purl", json!("pkg:npm/debug@4.4.2")),
        ("evidence", json!("LOADED")),
        ("affected_entity.type", json!("host")),
        ("affected_entity.name", json!("pay-web-1")),
        ("host.name", json!("pay-web-1")),
        ("container.id", Value::Null),
        ("process.pids", json!([7, 42])),
        ("owner.team", json!("payments")),
    ] {
        assert_eq!(e.get(field), Some(&want), "{field}");
    }
    for field in [
        "vulnerability.aliases",
        "vulnerability.title",
        "affected_entity.id",
        "container.image",
        "k8s.namespace.name",
        "k8s.workload.name",
        "locations",
    ] {
        assert!(e.get(field).is_some(), "{field} missing");
    }
    let (_, in_c) = &events[1];
    assert_eq!(in_c["affected_entity.type"], json!("container"));
    assert_eq!(in_c["affected_entity.id"], json!("c0ffee"));
    assert_eq!(in_c["container.image"], json!("node:20"));
    assert_eq!(in_c["k8s.namespace.name"], json!("payments"));
    // ownership + webhook for each finding, in the same transaction.
    assert_eq!(f.store.outbox_counts().unwrap().pending, 4);

    // The same snapshot again (new sequence): nothing new, no event.
    let again = f
        .detector
        .ingest(
            &snapshot(
                2,
                vec![instance("debug", "4.4.2", "/srv/a/node_modules/debug")],
            ),
            at(20),
        )
        .unwrap();
    assert_eq!(again.findings.created, 0);
    assert_eq!(again.gone, 4);
    assert_eq!(again.findings.updated, 1, "locations shrank");
    assert_eq!(f.store.events_since(EventSeq(0), 100).unwrap().len(), 2);
    // A repeated sequence is a duplicate.
    let dup = f.detector.ingest(&snapshot(2, Vec::new()), at(21)).unwrap();
    assert!(dup.duplicate);
}

#[test]
fn new_intel_matches_what_is_already_installed() {
    let f = fixture(index_with(Vec::new()));
    f.detector
        .ingest(
            &snapshot(
                1,
                vec![instance("left-pad", "1.3.0", "/srv/node_modules/left-pad")],
            ),
            at(1),
        )
        .unwrap();
    assert!(
        f.store
            .list_findings(&FindingFilter::default())
            .unwrap()
            .is_empty()
    );

    let mal = advisory(json!({
        "id": "MAL-2099-1", "aliases": ["GHSA-aaaa-bbbb-cccc"], "summary": "Malicious code in left-pad",
        "published": "2025-10-01T00:00:00Z", "modified": "2025-10-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"}, "versions": ["1.3.0"]}]
    }));
    let report = f
        .detector
        .use_index(index_with(vec![mal.clone()]), at(5))
        .unwrap();
    assert_eq!(report.changed_advisories, 1);
    assert_eq!(report.findings.created, 1);
    let findings = f.store.list_findings(&FindingFilter::default()).unwrap();
    assert_eq!(findings[0].advisory_id, "MAL-2099-1");
    assert_eq!(findings[0].detected_at, at(5));
    // The mirror has it (the findings view joins it).
    assert!(f.store.advisory("MAL-2099-1").unwrap().is_some());

    // A GHSA for the same package and version, aliasing the MAL: the same finding, both ids.
    let ghsa = advisory(json!({
        "id": "GHSA-aaaa-bbbb-cccc", "aliases": ["MAL-2099-1"],
        "database_specific": {"cwe_ids": ["CWE-506"]},
        "modified": "2025-10-02T00:00:00Z",
        "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"}, "versions": ["1.3.0"]}]
    }));
    let report = f
        .detector
        .use_index(index_with(vec![mal, ghsa]), at(6))
        .unwrap();
    assert_eq!(report.findings.created, 0);
    let findings = f.store.list_findings(&FindingFilter::default()).unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].aliases, vec!["GHSA-aaaa-bbbb-cccc"]);

    // Unchanged intel: nothing to do.
    let idle = f
        .detector
        .use_index(f.detector.intel().load().unwrap().0, at(7));
    assert!(idle.is_ok());
}

#[test]
fn vulnerabilities_are_scored_from_cvss() {
    let vuln = advisory(json!({
        "id": "GHSA-vuln-0000-0001", "modified": "2025-10-01T00:00:00Z",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"}],
        "affected": [{"package": {"ecosystem": "npm", "name": "lodash"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}]}]
    }));
    let f = fixture(index_with(vec![vuln]));
    f.detector
        .ingest(
            &snapshot(
                1,
                vec![instance("lodash", "4.17.20", "/srv/node_modules/lodash")],
            ),
            at(1),
        )
        .unwrap();
    let findings = f.store.list_findings(&FindingFilter::default()).unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].risk_score, 9.1);
    assert_eq!(findings[0].risk_level, "CRITICAL");
    let events = events(&f.store);
    assert_eq!(events[0].1["vulnerability.kind"], json!("VULNERABILITY"));
    // Not CWE-506: the malicious-package workflow does not fire.
    assert_eq!(f.store.outbox_counts().unwrap().pending, 0);
}

#[test]
fn lifecycle_auto_resolve_and_reopen_keep_one_finding() {
    let f = fixture(index_with(Vec::new()));
    let debug = || instance("debug", "4.4.2", "/srv/node_modules/debug");
    f.detector
        .ingest(&snapshot(1, vec![debug()]), at(0))
        .unwrap();
    let id = f.store.list_findings(&FindingFilter::default()).unwrap()[0].id;

    // People: ack, then mute needs a reason.
    let ack = f
        .lifecycle
        .change(id, &StatusAction::Acknowledge, Some("alice"), at(30))
        .unwrap();
    assert!(ack.changed);
    assert_eq!(ack.finding.status, FindingStatus::Acknowledged);
    assert_eq!(ack.finding.acknowledged_at, Some(at(30)));
    let again = f
        .lifecycle
        .change(id, &StatusAction::Acknowledge, None, at(31))
        .unwrap();
    assert!(!again.changed, "same status: no event");
    assert!(StatusAction::parse("mute", Some("  ".into())).is_err());
    assert!(StatusAction::parse("delete", None).is_err());

    // Gone, but within the grace period: still open.
    f.detector.ingest(&snapshot(2, Vec::new()), at(40)).unwrap();
    assert_eq!(f.detector.auto_resolve(at(90)).unwrap().resolved, 0);
    // Past it: resolved, with an event.
    assert_eq!(f.detector.auto_resolve(at(101)).unwrap().resolved, 1);
    let resolved = f.store.finding(id).unwrap().unwrap();
    assert_eq!(resolved.status, FindingStatus::Resolved);
    assert_eq!(resolved.resolved_at, Some(at(101)));
    assert_eq!(f.detector.auto_resolve(at(200)).unwrap().resolved, 0);
    // Acknowledging a resolved finding is refused.
    assert!(
        f.lifecycle
            .change(id, &StatusAction::Acknowledge, None, at(102))
            .is_err()
    );

    // The component comes back: the same finding re-opens, with a new event.
    let back = f
        .detector
        .ingest(&snapshot(3, vec![debug()]), at(300))
        .unwrap();
    assert_eq!((back.findings.created, back.findings.reopened), (0, 1));
    let findings = f.store.list_findings(&FindingFilter::default()).unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].id, id);
    assert_eq!(findings[0].status, FindingStatus::New);

    // Muted findings are not auto-resolved.
    f.lifecycle
        .change(
            id,
            &StatusAction::Mute {
                reason: "test fixture".into(),
            },
            None,
            at(310),
        )
        .unwrap();
    f.detector
        .ingest(&snapshot(4, Vec::new()), at(320))
        .unwrap();
    assert_eq!(f.detector.auto_resolve(at(1000)).unwrap().resolved, 0);

    let statuses: Vec<(String, Value, Value)> = events(&f.store)
        .into_iter()
        .map(|(t, e)| {
            (
                t,
                e["finding.status"].clone(),
                e.get("finding.previous_status")
                    .cloned()
                    .unwrap_or(Value::Null),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("VULNERABILITY_FINDING".into(), json!("NEW"), Value::Null),
            (
                "VULNERABILITY_STATUS_CHANGE_EVENT".into(),
                json!("ACKNOWLEDGED"),
                json!("NEW")
            ),
            (
                "VULNERABILITY_STATUS_CHANGE_EVENT".into(),
                json!("RESOLVED"),
                json!("ACKNOWLEDGED")
            ),
            (
                "VULNERABILITY_STATUS_CHANGE_EVENT".into(),
                json!("NEW"),
                json!("RESOLVED")
            ),
            (
                "VULNERABILITY_STATUS_CHANGE_EVENT".into(),
                json!("MUTED"),
                json!("NEW")
            ),
        ]
    );
    // Status changes trigger the every-change workflow, but delivery is idempotent per
    // (finding, workflow, task): its task is enqueued once, beside the creation's two.
    let counts = f.store.outbox_counts().unwrap();
    assert_eq!(counts.pending, 3);
    let timings = f.store.finding_timings().unwrap();
    let m = vigil_server::mttx::compute(&timings, 10);
    assert_eq!(m.findings, 1);
}

#[test]
fn intel_mirror_sync_is_idempotent_and_catches_offline_changes() {
    let f = fixture(index_with(Vec::new()));
    assert_eq!(f.detector.sync_intel(at(1)).unwrap().changed_advisories, 0);
    f.detector
        .ingest(
            &snapshot(1, vec![instance("evil", "1.0.0", "/srv/node_modules/evil")]),
            at(2),
        )
        .unwrap();
    // Intel changed "while down": a new detector over the same store with a bigger index.
    let bigger = index_with(vec![advisory(json!({
        "id": "MAL-2099-9", "modified": "2025-10-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "npm", "name": "evil"}, "versions": ["1.0.0"]}]
    }))]);
    let restarted = Detector::new(
        Arc::clone(&f.store),
        Arc::new(IntelState::with_index(bigger)),
        Arc::new(WorkflowSet::parse("x", "", &QueryFilters).unwrap()),
        DetectionSettings::default(),
        Arc::new(Metrics::default()),
    );
    let report = restarted.sync_intel(at(3)).unwrap();
    assert_eq!(report.changed_advisories, 1);
    assert_eq!(report.findings.created, 1);
}

#[test]
fn withdrawn_or_narrowed_advisories_resolve_their_findings() {
    let record = |withdrawn: Option<&str>, versions: &[&str]| {
        let mut r = json!({
            "id": "MAL-2099-7", "modified": "2025-10-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "npm", "name": "evil"}, "versions": versions}]
        });
        if let Some(w) = withdrawn {
            r["withdrawn"] = json!(w);
            r["modified"] = json!("2025-10-02T00:00:00Z");
        }
        advisory(r)
    };
    let f = fixture(index_with(vec![record(None, &["1.0.0", "1.0.1"])]));
    f.detector
        .ingest(
            &snapshot(1, vec![instance("evil", "1.0.0", "/srv/node_modules/evil")]),
            at(1),
        )
        .unwrap();
    assert_eq!(
        f.store
            .list_findings(&FindingFilter::default())
            .unwrap()
            .len(),
        1
    );
    // Narrowed: 1.0.0 is no longer affected.
    let report = f
        .detector
        .use_index(index_with(vec![record(None, &["1.0.1"])]), at(2))
        .unwrap();
    assert_eq!(report.findings.resolved, 1);
    let finding = &f.store.list_findings(&FindingFilter::default()).unwrap()[0];
    assert_eq!(finding.status, FindingStatus::Resolved);
    let last = events(&f.store).pop().unwrap().1;
    assert_eq!(
        last["finding.status_reason"],
        json!("the advisory was withdrawn or no longer covers this version")
    );
    // Back to affected: re-opened? No — the instance did not come back; a new finding is not
    // filed either (one finding per advisory × component × entity): it stays resolved until
    // the component reappears. Withdrawal of an applying advisory resolves too.
    let g = fixture(index_with(vec![record(None, &["1.0.0"])]));
    g.detector
        .ingest(
            &snapshot(1, vec![instance("evil", "1.0.0", "/srv/node_modules/evil")]),
            at(1),
        )
        .unwrap();
    let report = g
        .detector
        .use_index(
            index_with(vec![record(Some("2025-10-02T00:00:00Z"), &["1.0.0"])]),
            at(3),
        )
        .unwrap();
    assert_eq!(report.findings.resolved, 1);
}

/// An advisory that vanishes from the intel (a list re-imported without it) resolves its
/// findings and leaves `fetch advisories`, while the finding can still name it — whether it
/// vanished while the server ran (a diff) or while it was down (a full compare at start).
#[test]
fn vanished_advisories_leave_the_mirror_and_resolve_their_findings() {
    let evil = || {
        advisory(json!({
            "id": "CUSTOM-list-1", "modified": "2025-10-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "npm", "name": "evil"}, "versions": ["1.0.0"]}]
        }))
    };
    let listed = |store: &Store| {
        store
            .query(
                r#"SELECT "id" FROM q_advisories WHERE "id" = 'CUSTOM-list-1'"#,
                &[],
                10,
            )
            .unwrap()
            .rows
            .len()
    };
    // While running: the diff names it.
    let f = fixture(index_with(vec![evil()]));
    f.detector
        .ingest(
            &snapshot(1, vec![instance("evil", "1.0.0", "/srv/node_modules/evil")]),
            at(1),
        )
        .unwrap();
    assert_eq!(listed(&f.store), 1);
    let report = f.detector.use_index(index_with(Vec::new()), at(2)).unwrap();
    assert_eq!(report.findings.resolved, 1);
    assert_eq!(listed(&f.store), 0);
    let kept = f.store.advisory("CUSTOM-list-1").unwrap().unwrap();
    assert_eq!(kept.removed_at, Some(at(2)));
    let finding = &f.store.list_findings(&FindingFilter::default()).unwrap()[0];
    assert_eq!(finding.status, FindingStatus::Resolved);
    assert_eq!(finding.advisory_id, "CUSTOM-list-1");

    // While down: a restarted detector without it compares the whole mirror.
    let g = fixture(index_with(vec![evil()]));
    g.detector
        .ingest(
            &snapshot(1, vec![instance("evil", "1.0.0", "/srv/node_modules/evil")]),
            at(1),
        )
        .unwrap();
    let restarted = Detector::new(
        Arc::clone(&g.store),
        Arc::new(IntelState::with_index(index_with(Vec::new()))),
        Arc::new(WorkflowSet::parse("x", "", &QueryFilters).unwrap()),
        DetectionSettings::default(),
        Arc::new(Metrics::default()),
    );
    let report = restarted.sync_intel(at(3)).unwrap();
    assert_eq!(report.changed_advisories, 1);
    assert_eq!(report.findings.resolved, 1);
    assert_eq!(listed(&g.store), 0);
}
