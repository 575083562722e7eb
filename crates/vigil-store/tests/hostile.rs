//! Hostile strings (quotes, `;`, NUL, control characters, unicode, SQL fragments) round-trip
//! unchanged through every kind of column: all SQL is parameterized.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::at;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{Map, Value};
use vigil_core::{Component, Ecosystem};
use vigil_store::{
    ContainerInfo, Entity, EventInput, EventSeq, FindingInput, FindingStatus, HostInfo,
    InstanceInput, OutboxInput, PackageKey, ProcessInfo, Snapshot, SnapshotKind, SqlValue, Store,
    StoreError,
};

const HOSTILE: &[&str] = &[
    "plain",
    "it's",
    "\"double\"",
    "semi;colon",
    "'); DROP TABLE hosts; --",
    "\" OR 1=1 --",
    "nul\0inside",
    "tab\tnew\nline\r",
    "back\\slash",
    "percent%_under",
    "ünïcødé ✓ 漢字 🦀",
    "\u{202e}rtl-override",
    "$.\"host.name\"",
    "?1 ?2 :name @x",
    "\u{7f}\u{1b}[31mred",
];

fn long() -> String {
    "x'\";".repeat(4096)
}

/// PostgreSQL text cannot hold NUL: there such a string must be refused cleanly (an
/// `InvalidInput` error, nothing written) wherever it enters.
fn refused_on_postgres(store: &Store, s: &str, snapshot: &Snapshot) {
    let refused = |what: &str, result: Result<(), StoreError>| {
        let err = result.expect_err(what);
        assert!(
            matches!(err, StoreError::InvalidInput { .. }),
            "{what}: {err:?}"
        );
    };
    let hosts = store.hosts().expect("store answers").len();
    refused("snapshot", store.apply_snapshot(snapshot, at(0)).map(drop));
    assert_eq!(
        store.hosts().expect("store answers").len(),
        hosts,
        "nothing written"
    );
    let mut payload = Map::new();
    payload.insert("host.name".into(), Value::String(s.to_owned()));
    refused(
        "event",
        store
            .append_event(&EventInput {
                timestamp: at(4),
                event_type: "X".into(),
                finding_id: None,
                payload,
            })
            .map(drop),
    );
    refused("blob", store.put_blob(s, b"x", at(1)));
    refused(
        "token",
        store
            .create_token(s, std::slice::from_ref(&s.to_owned()), at(1))
            .map(drop),
    );
    assert!(
        store
            .verify_token(s, at(9))
            .expect("store answers")
            .is_none()
    );
}

#[test]
fn hostile_strings_round_trip_everywhere() {
    common::each(|db, store| {
        let mut strings: Vec<String> = HOSTILE.iter().map(|s| (*s).to_owned()).collect();
        strings.push(long());
        let mut refused = 0;

        for (i, s) in strings.iter().enumerate() {
            let host_name = format!("{s}#{i}");
            let labels: BTreeMap<String, String> = [(s.clone(), s.clone())].into_iter().collect();
            let container = ContainerInfo {
                id: s.clone(),
                name: Some(s.clone()),
                image: Some(s.clone()),
                k8s_namespace: Some(s.clone()),
                labels: labels.clone(),
                ..ContainerInfo::default()
            };
            let component = Component::new(
                Ecosystem::parse("npm"),
                &format!("n{s}"),
                &format!("1.0.0-{s}"),
            );
            let instance = InstanceInput {
                component: component.clone(),
                purl: Some(format!("pkg:npm/{s}")),
                container_id: Some(s.clone()),
                path: s.clone(),
                evidence: vigil_core::Evidence::Loaded,
                dev: false,
                pids: vec![1],
            };
            let process = ProcessInfo {
                pid: 1,
                start_time: at(0),
                exe: Some(s.clone()),
                cmdline: Some(s.clone()),
                user: Some(s.clone()),
                container_id: Some(s.clone()),
                listening: vec![],
            };
            let snapshot = Snapshot {
                host: HostInfo {
                    name: host_name.clone(),
                    os_name: Some(s.clone()),
                    labels: labels.clone(),
                    ..HostInfo::default()
                },
                sequence: 1,
                kind: SnapshotKind::Full,
                containers: vec![container],
                processes: vec![process],
                instances: vec![instance],
            };
            if db.kind == common::Kind::Postgres && s.contains('\0') {
                refused_on_postgres(&store, s, &snapshot);
                refused += 1;
                continue;
            }
            let outcome = store.apply_snapshot(&snapshot, at(0)).unwrap();
            let host = store.host(&host_name).unwrap().unwrap();
            assert_eq!(host.info, snapshot.host);

            let inst = &store.instances_on_host(host.id, false).unwrap()[0];
            assert_eq!(inst.component, component);
            assert_eq!(inst.path, *s);
            assert_eq!(inst.purl, format!("pkg:npm/{s}"));
            assert_eq!(inst.container.as_ref().unwrap().id, *s);
            assert_eq!(
                inst.container.as_ref().unwrap().image.as_deref(),
                Some(s.as_str())
            );
            assert_eq!(outcome.new[0], *inst);
            let found = store
                .instances_for_keys(&[PackageKey::of(&component)])
                .unwrap();
            assert!(found.iter().any(|f| f.id == inst.id));

            // Through the views, with the string as a bound parameter.
            let rows = store
            .query(
                r#"SELECT "path", "container.image", "host.name" FROM q_software_components WHERE "path" = $1"#,
                &[SqlValue::Text(s.clone())],
                10,
            )
            .unwrap();
            assert_eq!(
                rows.rows,
                vec![vec![
                    SqlValue::Text(s.clone()),
                    SqlValue::Text(s.clone()),
                    SqlValue::Text(host_name.clone())
                ]]
            );
            let rows = store
                .query(
                    r#"SELECT "process.command_line" FROM q_processes WHERE "host.name" = $1"#,
                    &[SqlValue::Text(host_name.clone())],
                    10,
                )
                .unwrap();
            assert_eq!(rows.rows, vec![vec![SqlValue::Text(s.clone())]]);

            // Findings.
            let f = store
                .upsert_finding(
                    &FindingInput {
                        advisory_id: s.clone(),
                        aliases: vec![s.clone()],
                        component_id: inst.component_id,
                        entity: Entity::Host(host.id),
                        risk_score: 5.5,
                        risk_level: s.clone(),
                        evidence: inst.evidence,
                        locations: vec![s.clone()],
                        pids: vec![],
                    },
                    at(1),
                )
                .unwrap()
                .finding;
            assert_eq!(
                (
                    &f.advisory_id,
                    &f.aliases[0],
                    &f.risk_level,
                    &f.locations[0]
                ),
                (s, s, s, s)
            );
            let muted = store
                .set_finding_status(f.id, FindingStatus::Muted, Some(s), at(2))
                .unwrap()
                .unwrap();
            assert_eq!(muted.finding.mute_reason.as_deref(), Some(s.as_str()));
            store.set_finding_owner(f.id, Some(s), at(3)).unwrap();
            assert_eq!(
                store.finding(f.id).unwrap().unwrap().owner_team.as_deref(),
                Some(s.as_str())
            );

            // Events.
            let mut payload = Map::new();
            payload.insert(s.clone(), Value::String(s.clone()));
            payload.insert("host.name".into(), Value::String(s.clone()));
            let appended = store
                .append_event(&EventInput {
                    timestamp: at(4),
                    event_type: s.clone(),
                    finding_id: Some(f.id),
                    payload: payload.clone(),
                })
                .unwrap();
            let event = store
                .events_since(EventSeq(appended.seq.0 - 1), 1)
                .unwrap()
                .remove(0);
            assert_eq!((&event.event_type, &event.payload), (s, &payload));
            // The view reads the payload with JSON functions; NUL survives them too.
            let rows = store
                .query(
                    r#"SELECT "host.name" FROM q_security_events WHERE "event.id" = $1"#,
                    &[SqlValue::Text(appended.event_id.clone())],
                    1,
                )
                .unwrap();
            assert_eq!(rows.rows, vec![vec![SqlValue::Text(s.clone())]]);

            // Outbox.
            let queued = store
                .enqueue(
                    &OutboxInput {
                        finding_id: Some(f.id),
                        event_seq: Some(appended.seq),
                        workflow: s.clone(),
                        task: s.clone(),
                        idempotency_key: s.clone(),
                        subject: Some(s.clone()),
                        after: vec![s.clone()],
                        payload: Value::String(s.clone()),
                        not_before: at(0),
                    },
                    at(5),
                )
                .unwrap();
            let leased = store
                .lease_due(s, 100, Duration::from_secs(1), at(6))
                .unwrap();
            let item = leased.iter().find(|l| l.id == queued.id).unwrap();
            assert_eq!(
                (&item.workflow, &item.task, &item.idempotency_key),
                (s, s, s)
            );
            assert_eq!(item.payload, Value::String(s.clone()));
            assert!(
                store
                    .fail(queued.id, s, s, vigil_store::Retry::Never, at(7))
                    .unwrap()
            );
            assert_eq!(
                store
                    .outbox_item(queued.id)
                    .unwrap()
                    .unwrap()
                    .last_error
                    .as_deref(),
                Some(s.as_str())
            );

            // Tokens and blobs.
            let token = store
                .create_token(s, std::slice::from_ref(s), at(8))
                .unwrap();
            let info = store.verify_token(&token.secret, at(9)).unwrap().unwrap();
            assert_eq!((&info.name, &info.scopes[0]), (s, s));
            assert!(store.verify_token(s, at(9)).unwrap().is_none());
            store.put_blob(s, s.as_bytes(), at(10)).unwrap();
            assert_eq!(store.get_blob(s).unwrap().unwrap().bytes, s.as_bytes());
        }
        // Nothing was dropped or injected.
        assert_eq!(store.hosts().unwrap().len(), strings.len() - refused);
        store.integrity_check().unwrap();
    });
}

#[test]
fn arbitrary_names_and_paths_round_trip() {
    for db in common::backends() {
        let store = db.open();
        let sequence = std::cell::Cell::new(0u64);
        let mut runner = TestRunner::new(ProptestConfig::with_cases(48));
        let strategy = (
            "\\PC{1,30}",
            "[^\\s]\\PC{0,20}[^\\s]",
            "\\PC{0,40}",
            "\\PC{0,10}",
        );
        runner
            .run(&strategy, |(host, name, path, label)| {
                // One store for all cases: a repeated host name just reports again.
                sequence.set(sequence.get() + 1);
                let component = Component::new(Ecosystem::parse("npm"), &name, "1.0.0");
                let snapshot = Snapshot {
                    host: HostInfo {
                        name: host.clone(),
                        labels: [(label.clone(), label.clone())].into_iter().collect(),
                        ..HostInfo::default()
                    },
                    sequence: sequence.get(),
                    kind: SnapshotKind::Full,
                    containers: vec![],
                    processes: vec![],
                    instances: vec![InstanceInput {
                        component: component.clone(),
                        purl: None,
                        container_id: None,
                        path: path.clone(),
                        evidence: vigil_core::Evidence::Declared,
                        dev: true,
                        pids: vec![],
                    }],
                };
                let applied = store.apply_snapshot(&snapshot, at(0));
                let nul = [&host, &name, &path, &label]
                    .iter()
                    .any(|s| s.contains('\0'));
                if nul && db.kind == common::Kind::Postgres {
                    // PostgreSQL text cannot hold NUL: refused, not mangled.
                    prop_assert!(
                        matches!(applied, Err(StoreError::InvalidInput { .. })),
                        "{applied:?}"
                    );
                    return Ok(());
                }
                applied.unwrap();
                let stored = store.host(&host).unwrap().unwrap();
                prop_assert_eq!(&stored.info, &snapshot.host);
                let instances = store.instances_on_host(stored.id, false).unwrap();
                prop_assert_eq!(instances.len(), 1);
                prop_assert_eq!(&instances[0].component, &component);
                prop_assert_eq!(&instances[0].path, &path);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{}: {e}", db.name()));
    }
}
