//! Findings: uniqueness (also under concurrent writers), lifecycle timestamps, auto-resolve
//! candidates, the findings view.

mod common;

use std::sync::{Arc, Barrier};

use common::{at, full, instance};
use vigil_core::Evidence;
use vigil_store::{
    ContainerInfo, Entity, FindingFilter, FindingInput, FindingStatus, HostId, InstanceRecord,
    SqlValue, Store, StoreError,
};

fn input(advisory: &str, instance: &InstanceRecord, entity: Entity) -> FindingInput {
    FindingInput {
        advisory_id: advisory.to_owned(),
        aliases: vec!["GHSA-xxxx-yyyy-zzzz".into()],
        component_id: instance.component_id,
        entity,
        risk_score: 10.0,
        risk_level: "CRITICAL".into(),
        evidence: instance.evidence,
        locations: vec![instance.path.clone()],
        pids: instance.pids.clone(),
    }
}

fn seed(store: &Store) -> InstanceRecord {
    let outcome = store
        .apply_snapshot(
            &full(
                "web-1",
                1,
                vec![instance("npm", "debug", "4.4.2", "/app/node_modules/debug")],
            ),
            at(0),
        )
        .expect("snapshot");
    outcome.new[0].clone()
}

#[test]
fn a_finding_is_created_once_then_updated() {
    common::each(|_db, store| {
        let inst = seed(&store);
        let entity = Entity::Host(inst.host_id);
        let first = store
            .upsert_finding(&input("MAL-2025-1", &inst, entity), at(10))
            .unwrap();
        assert!(first.created);
        assert_eq!(first.finding.status, FindingStatus::New);
        assert_eq!(first.finding.detected_at, at(10));
        assert_eq!(first.finding.host_name, "web-1");
        assert_eq!(first.finding.component.name.as_str(), "debug");

        let mut changed = input("MAL-2025-1", &inst, entity);
        changed.evidence = Evidence::Loaded;
        changed.pids = vec![9, 3];
        let second = store.upsert_finding(&changed, at(20)).unwrap();
        assert!(!second.created);
        assert_eq!(second.finding.id, first.finding.id);
        assert_eq!(second.finding.evidence, Evidence::Loaded);
        assert_eq!(second.finding.pids, vec![3, 9]);
        assert_eq!(second.finding.detected_at, at(10));
        assert_eq!(second.finding.updated_at, at(20));

        // Same input again: no write, updated_at unchanged.
        let third = store.upsert_finding(&changed, at(30)).unwrap();
        assert_eq!(third.finding.updated_at, at(20));

        // Another advisory on the same component is another finding.
        let other = store
            .upsert_finding(&input("GHSA-1", &inst, entity), at(40))
            .unwrap();
        assert!(other.created);
        assert_eq!(
            store
                .list_findings(&FindingFilter::default())
                .unwrap()
                .len(),
            2
        );
    });
}

#[test]
fn concurrent_upserts_never_duplicate_a_finding() {
    for db in common::backends() {
        let seed = db.open();
        let inst = seed
            .apply_snapshot(
                &full(
                    "web-1",
                    1,
                    vec![instance("npm", "debug", "4.4.2", "/app/node_modules/debug")],
                ),
                at(0),
            )
            .unwrap()
            .new[0]
            .clone();
        drop(seed);

        const ROUNDS: usize = 40;
        let barrier = Arc::new(Barrier::new(2));
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let (kind, location) = (db.kind, db.location.clone());
                let barrier = Arc::clone(&barrier);
                let inst = inst.clone();
                std::thread::spawn(move || {
                    // Each thread has its own Store, hence its own connection.
                    let store = common::open_at(kind, &location).unwrap();
                    barrier.wait();
                    let mut created = 0;
                    for round in 0..ROUNDS {
                        let advisory = format!("MAL-{round}");
                        let mut finding = input(&advisory, &inst, Entity::Host(inst.host_id));
                        finding.risk_score = t as f64;
                        if store
                            .upsert_finding(&finding, at(round as i64))
                            .unwrap()
                            .created
                        {
                            created += 1;
                        }
                    }
                    created
                })
            })
            .collect();
        let created: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(created, ROUNDS, "each finding created exactly once");
        let store = db.open();
        let all = store
            .list_findings(&FindingFilter {
                limit: 10_000,
                ..FindingFilter::default()
            })
            .unwrap();
        assert_eq!(all.len(), ROUNDS);
    }
}

#[test]
fn status_changes_record_their_times() {
    common::each(|_db, store| {
        let inst = seed(&store);
        let id = store
            .upsert_finding(&input("MAL-1", &inst, Entity::Host(inst.host_id)), at(0))
            .unwrap()
            .finding
            .id;

        let ack = store
            .set_finding_status(id, FindingStatus::Acknowledged, None, at(60))
            .unwrap()
            .unwrap();
        assert!(ack.changed());
        assert_eq!(ack.previous, FindingStatus::New);
        assert_eq!(ack.finding.acknowledged_at, Some(at(60)));

        let again = store
            .set_finding_status(id, FindingStatus::Acknowledged, None, at(90))
            .unwrap()
            .unwrap();
        assert!(!again.changed());
        assert_eq!(again.finding.acknowledged_at, Some(at(60)));

        let resolved = store
            .set_finding_status(id, FindingStatus::Resolved, None, at(120))
            .unwrap()
            .unwrap();
        assert_eq!(resolved.finding.resolved_at, Some(at(120)));
        assert_eq!(resolved.finding.acknowledged_at, Some(at(60)));

        let reopened = store
            .set_finding_status(id, FindingStatus::New, None, at(180))
            .unwrap()
            .unwrap();
        assert_eq!(reopened.previous, FindingStatus::Resolved);
        assert_eq!(reopened.finding.resolved_at, None);
        assert_eq!(reopened.finding.acknowledged_at, None);
        assert_eq!(reopened.finding.detected_at, at(0));

        let muted = store
            .set_finding_status(
                id,
                FindingStatus::Muted,
                Some("test fixture, not deployed"),
                at(200),
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            muted.finding.mute_reason.as_deref(),
            Some("test fixture, not deployed")
        );
        let unmuted = store
            .set_finding_status(id, FindingStatus::Acknowledged, None, at(210))
            .unwrap()
            .unwrap();
        assert_eq!(unmuted.finding.mute_reason, None);

        assert!(
            store
                .set_finding_status(
                    vigil_store::FindingId(999),
                    FindingStatus::Resolved,
                    None,
                    at(1)
                )
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .set_finding_owner(id, Some("payments"), at(220))
                .unwrap()
        );
        assert_eq!(
            store.finding(id).unwrap().unwrap().owner_team.as_deref(),
            Some("payments")
        );

        let filtered = store
            .list_findings(&FindingFilter {
                statuses: vec![FindingStatus::Acknowledged],
                host_name: Some("web-1".into()),
                ..FindingFilter::default()
            })
            .unwrap();
        assert_eq!(filtered.len(), 1);
        let none = store
            .list_findings(&FindingFilter {
                statuses: vec![FindingStatus::New, FindingStatus::Muted],
                ..FindingFilter::default()
            })
            .unwrap();
        assert!(none.is_empty());
    });
}

#[test]
fn findings_on_containers_and_auto_resolve_candidates() {
    common::each(|_db, store| {
        let mut in_ct = instance("npm", "debug", "4.4.2", "/app/node_modules/debug");
        in_ct.container_id = Some("c1".into());
        let on_host = instance("npm", "debug", "4.4.2", "/opt/node_modules/debug");
        let mut snap = full("node-1", 1, vec![in_ct.clone(), on_host.clone()]);
        snap.containers = vec![ContainerInfo {
            id: "c1".into(),
            image: Some("api:1".into()),
            ..ContainerInfo::default()
        }];
        let outcome = store.apply_snapshot(&snap, at(0)).unwrap();
        let ct_inst = outcome
            .new
            .iter()
            .find(|i| i.container.is_some())
            .unwrap()
            .clone();
        let host_inst = outcome
            .new
            .iter()
            .find(|i| i.container.is_none())
            .unwrap()
            .clone();
        let ct_key = ct_inst.container.as_ref().unwrap().key;

        let f_ct = store
            .upsert_finding(&input("MAL-1", &ct_inst, Entity::Container(ct_key)), at(1))
            .unwrap()
            .finding;
        let f_host = store
            .upsert_finding(
                &input("MAL-1", &host_inst, Entity::Host(host_inst.host_id)),
                at(1),
            )
            .unwrap()
            .finding;
        assert_ne!(f_ct.id, f_host.id);
        assert_eq!(f_ct.host_id, host_inst.host_id);
        assert_eq!(
            f_ct.container.as_ref().unwrap().image.as_deref(),
            Some("api:1")
        );

        // Nothing gone yet.
        assert!(store.findings_gone_since(at(10_000)).unwrap().is_empty());
        // The container goes away at t=100: its finding becomes a candidate once the grace passed.
        store
            .apply_snapshot(&full("node-1", 2, vec![on_host]), at(100))
            .unwrap();
        assert!(store.findings_gone_since(at(99)).unwrap().is_empty());
        let due = store.findings_gone_since(at(100)).unwrap();
        assert_eq!(due.iter().map(|f| f.id).collect::<Vec<_>>(), vec![f_ct.id]);
        store
            .set_finding_status(f_ct.id, FindingStatus::Resolved, None, at(101))
            .unwrap();
        assert!(store.findings_gone_since(at(10_000)).unwrap().is_empty());

        let rows = store
        .query(
            r#"SELECT "finding.id", "affected_entity.type", "affected_entity.id", "container.image",
                      "finding.status", "resolved_at"
               FROM q_findings ORDER BY "finding.id""#,
            &[],
            10,
        )
        .unwrap();
        assert_eq!(rows.rows[0][0], SqlValue::Text(f_ct.id.0.to_string()));
        assert_eq!(rows.rows[0][1], SqlValue::Text("container".into()));
        assert_eq!(rows.rows[0][2], SqlValue::Text("c1".into()));
        assert_eq!(rows.rows[0][3], SqlValue::Text("api:1".into()));
        assert_eq!(rows.rows[0][4], SqlValue::Text("RESOLVED".into()));
        assert_eq!(rows.rows[0][5], SqlValue::Integer(at(101).unix_nanos()));
        assert_eq!(rows.rows[1][1], SqlValue::Text("host".into()));
        assert_eq!(
            rows.rows[1][2],
            SqlValue::Text(host_inst.host_id.0.to_string())
        );
    });
}

#[test]
fn references_are_enforced() {
    common::each(|_db, store| {
        let inst = seed(&store);
        let err = store
            .upsert_finding(&input("MAL-1", &inst, Entity::Host(HostId(424_242))), at(0))
            .unwrap_err();
        assert!(matches!(err, StoreError::Database { .. }), "{err:?}");
        let err = store
            .upsert_finding(
                &input(
                    "MAL-1",
                    &inst,
                    Entity::Container(vigil_store::ContainerKey(7)),
                ),
                at(0),
            )
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
        let mut bad = input("MAL-1", &inst, Entity::Host(inst.host_id));
        bad.risk_score = f64::NAN;
        assert!(matches!(
            store.upsert_finding(&bad, at(0)),
            Err(StoreError::InvalidInput { .. })
        ));
        assert!(
            store
                .list_findings(&FindingFilter::default())
                .unwrap()
                .is_empty()
        );
    });
}

#[test]
fn a_finding_event_and_task_commit_together_or_not_at_all() {
    common::each(|_db, store| {
        let inst = seed(&store);
        let result: Result<(), StoreError> = store.write(|tx| {
            let f = tx.upsert_finding(&input("MAL-1", &inst, Entity::Host(inst.host_id)), at(0))?;
            tx.append_event(&vigil_store::EventInput {
                timestamp: at(0),
                event_type: "VULNERABILITY_FINDING".into(),
                finding_id: Some(f.finding.id),
                payload: Default::default(),
            })?;
            Err(StoreError::InvalidInput {
                what: "test",
                reason: "abort".into(),
            })
        });
        assert!(result.is_err());
        assert!(
            store
                .list_findings(&FindingFilter::default())
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .events_since(vigil_store::EventSeq(0), 10)
                .unwrap()
                .is_empty()
        );
    });
}

#[test]
fn component_instances_and_timings_of_a_finding() {
    common::each(|_db, store| {
        let mut in_container = instance("npm", "debug", "4.4.2", "/app/node_modules/debug");
        in_container.container_id = Some("c1".into());
        let mut snapshot = full(
            "web-1",
            1,
            vec![
                instance("npm", "debug", "4.4.2", "/srv/a/node_modules/debug"),
                instance("npm", "debug", "4.4.2", "/srv/b/node_modules/debug"),
                instance("npm", "chalk", "5.6.1", "/srv/a/node_modules/chalk"),
                in_container,
            ],
        );
        snapshot.containers = vec![ContainerInfo {
            id: "c1".into(),
            ..ContainerInfo::default()
        }];
        let outcome = store.apply_snapshot(&snapshot, at(0)).unwrap();
        let debug = outcome.new[0].clone();
        let host = Entity::Host(debug.host_id);
        let on_host = store
            .component_instances(debug.component_id, host, false)
            .unwrap();
        assert_eq!(on_host.len(), 2, "the container's copy is another entity");
        let container = outcome.new[3].container.clone().expect("container");
        let in_c = store
            .component_instances(debug.component_id, Entity::Container(container.key), false)
            .unwrap();
        assert_eq!(in_c.len(), 1);

        // One copy goes: present-only sees one, with-gone sees both.
        snapshot.sequence = 2;
        snapshot.instances.remove(1);
        store.apply_snapshot(&snapshot, at(5)).unwrap();
        assert_eq!(
            store
                .component_instances(debug.component_id, host, false)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            store
                .component_instances(debug.component_id, host, true)
                .unwrap()
                .len(),
            2
        );
        let f = store
            .upsert_finding(&input("MAL-2025-1", &debug, host), at(7))
            .unwrap();
        store
            .set_finding_status(f.finding.id, FindingStatus::Acknowledged, None, at(9))
            .unwrap();
        let timings = store.finding_timings().unwrap();
        assert_eq!(timings.len(), 1);
        assert_eq!(timings[0].detected_at, at(7));
        assert_eq!(timings[0].acknowledged_at, Some(at(9)));
        assert_eq!(timings[0].first_seen, Some(at(0)));
        assert_eq!(timings[0].advisory_published, None, "advisory not stored");
    });
}
