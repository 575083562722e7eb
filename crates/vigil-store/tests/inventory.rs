//! Snapshots: idempotency, gone-marking, exposure windows, deltas, containers and processes.

mod common;

use common::{at, delta, full, instance, many};
use vigil_core::{Component, Ecosystem, Evidence};
use vigil_store::{
    ContainerInfo, ExposureWindow, InstanceKey, ListeningSocket, PackageKey, ProcessInfo, Removals,
    SqlValue,
};

fn key(ecosystem: &str, name: &str) -> PackageKey {
    PackageKey::new(Ecosystem::parse(ecosystem), name)
}

#[test]
fn a_snapshot_is_applied_once_per_host_and_sequence() {
    common::each(|_db, store| {
        let snap = full("web-1", 7, many(20, "1.0.0"));
        let first = store.apply_snapshot(&snap, at(0)).unwrap();
        assert!(!first.duplicate);
        assert_eq!(first.new.len(), 20);

        // The same (host, sequence) again, even with different content: nothing happens.
        let mut again = snap.clone();
        again.instances.clear();
        let second = store.apply_snapshot(&again, at(10)).unwrap();
        assert!(second.duplicate);
        assert!(second.new.is_empty() && second.gone.is_empty() && second.changed.is_empty());
        assert_eq!(
            store
                .instances_on_host(first.host_id.unwrap(), false)
                .unwrap()
                .len(),
            20
        );
        let host = store.host("web-1").unwrap().unwrap();
        assert_eq!(host.last_seen, at(0));
        assert_eq!(host.last_sequence, Some(7));

        // The same sequence from another host is a different snapshot.
        let other = store
            .apply_snapshot(&full("web-2", 7, many(3, "1.0.0")), at(5))
            .unwrap();
        assert!(!other.duplicate);
        assert_eq!(other.new.len(), 3);
    });
}

#[test]
fn unchanged_snapshots_write_nothing_per_instance() {
    common::each(|_db, store| {
        store
            .apply_snapshot(&full("web-1", 1, many(50, "1.0.0")), at(0))
            .unwrap();
        let outcome = store
            .apply_snapshot(&full("web-1", 2, many(50, "1.0.0")), at(60))
            .unwrap();
        assert_eq!(outcome.unchanged, 50);
        assert!(outcome.new.is_empty() && outcome.changed.is_empty() && outcome.gone.is_empty());
        // Present instances were last seen at the host's latest report.
        let instances = store
            .instances_on_host(outcome.host_id.unwrap(), false)
            .unwrap();
        assert!(
            instances
                .iter()
                .all(|i| i.last_seen == at(60) && i.first_seen == at(0))
        );
    });
}

#[test]
fn full_snapshots_mark_missing_instances_gone_and_close_their_windows() {
    common::each(|_db, store| {
        let a = instance("npm", "left-pad", "1.3.0", "/app/node_modules/left-pad");
        let b = instance("npm", "debug", "4.3.4", "/app/node_modules/debug");
        store
            .apply_snapshot(&full("web-1", 1, vec![a.clone(), b.clone()]), at(0))
            .unwrap();
        store
            .apply_snapshot(&full("web-1", 2, vec![a.clone(), b.clone()]), at(60))
            .unwrap();

        // b disappears.
        let outcome = store
            .apply_snapshot(&full("web-1", 3, vec![a.clone()]), at(120))
            .unwrap();
        assert_eq!(outcome.gone.len(), 1);
        let gone = &outcome.gone[0];
        assert_eq!(gone.component.name.as_str(), "debug");
        assert_eq!(gone.gone_at, Some(at(120)));
        assert_eq!(
            gone.last_seen,
            at(60),
            "last seen at the last report that listed it"
        );
        assert!(
            store
                .instances_for_keys(&[key("npm", "debug")])
                .unwrap()
                .is_empty()
        );

        // b comes back: a new window, same instance, reported as new.
        let back = store
            .apply_snapshot(&full("web-1", 4, vec![a.clone(), b.clone()]), at(300))
            .unwrap();
        assert_eq!(back.new.len(), 1);
        assert_eq!(back.new[0].id, gone.id);
        assert_eq!(back.new[0].first_seen, at(0));
        assert_eq!(back.unchanged, 1);

        // Gone for good.
        store
            .apply_snapshot(&full("web-1", 5, vec![a]), at(400))
            .unwrap();

        let exposures = store.exposures(&key("npm", "debug"), None).unwrap();
        assert_eq!(exposures.len(), 1);
        assert_eq!(
            exposures[0].windows,
            vec![
                ExposureWindow {
                    from: at(0),
                    to: Some(at(120))
                },
                ExposureWindow {
                    from: at(300),
                    to: Some(at(400))
                },
            ]
        );
        assert_eq!(exposures[0].instance.host_name, "web-1");
        assert_eq!(exposures[0].instance.path, "/app/node_modules/debug");
        assert_eq!(exposures[0].instance.gone_at, Some(at(400)));
        // One window for left-pad, two for debug.
        assert_eq!(
            store
                .query("SELECT count(*) FROM exposure_windows", &[], 1)
                .unwrap()
                .rows[0][0],
            SqlValue::Integer(3)
        );
    });
}

#[test]
fn changed_instances_are_reported_and_updated() {
    common::each(|_db, store| {
        let mut a = instance(
            "PyPI",
            "Flask_Login",
            "0.6.3",
            "/usr/lib/python3/dist-packages/flask_login",
        );
        store
            .apply_snapshot(&full("web-1", 1, vec![a.clone()]), at(0))
            .unwrap();
        a.evidence = Evidence::Loaded;
        a.pids = vec![42, 7, 42];
        let outcome = store
            .apply_snapshot(&full("web-1", 2, vec![a.clone()]), at(60))
            .unwrap();
        assert_eq!(outcome.changed.len(), 1);
        assert_eq!(outcome.changed[0].evidence, Evidence::Loaded);
        assert_eq!(outcome.changed[0].pids, vec![7, 42]);
        // Keys are normalized: another spelling finds it.
        let found = store
            .instances_for_keys(&[key("PyPI", "flask-login")])
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].component.name.as_str(), "Flask_Login");
        assert_eq!(found[0].pids, vec![7, 42]);
        assert!(found[0].purl.starts_with("pkg:pypi/"), "{}", found[0].purl);
        // A new version is a new component: old instance gone, new one new.
        a.component = Component::new(Ecosystem::parse("PyPI"), "Flask_Login", "0.6.4");
        let upgraded = store
            .apply_snapshot(&full("web-1", 3, vec![a]), at(120))
            .unwrap();
        assert_eq!((upgraded.new.len(), upgraded.gone.len()), (1, 1));
    });
}

#[test]
fn duplicate_instances_in_one_snapshot_merge() {
    common::each(|_db, store| {
        let mut a = instance("npm", "debug", "4.3.4", "/app/node_modules/debug");
        let mut b = a.clone();
        a.pids = vec![1];
        b.pids = vec![2];
        b.evidence = Evidence::Loaded;
        b.dev = true;
        let outcome = store
            .apply_snapshot(&full("web-1", 1, vec![a, b]), at(0))
            .unwrap();
        assert_eq!(outcome.new.len(), 1);
        assert_eq!(outcome.new[0].evidence, Evidence::Loaded);
        assert_eq!(outcome.new[0].pids, vec![1, 2]);
        assert!(!outcome.new[0].dev);
    });
}

#[test]
fn deltas_add_update_and_remove() {
    common::each(|_db, store| {
        let a = instance("npm", "a", "1.0.0", "/app/node_modules/a");
        let b = instance("npm", "b", "1.0.0", "/app/node_modules/b");
        let c = instance("npm", "c", "1.0.0", "/app/node_modules/c");
        store
            .apply_snapshot(&full("web-1", 1, vec![a.clone(), b.clone()]), at(0))
            .unwrap();
        let removals = Removals {
            instances: vec![InstanceKey {
                component: a.component.clone(),
                container_id: None,
                path: a.path.clone(),
            }],
            ..Removals::default()
        };
        let outcome = store
            .apply_snapshot(&delta("web-1", 2, vec![c], removals), at(60))
            .unwrap();
        assert_eq!(outcome.new.len(), 1);
        assert_eq!(outcome.gone.len(), 1);
        assert_eq!(outcome.gone[0].component.name.as_str(), "a");
        // b was not mentioned: still present, seen at the latest report.
        let present = store
            .instances_on_host(outcome.host_id.unwrap(), false)
            .unwrap();
        let names: Vec<_> = present.iter().map(|i| i.component.name.as_str()).collect();
        assert_eq!(names, ["b", "c"]);
        assert!(present.iter().all(|i| i.last_seen == at(60)));
        let all = store
            .instances_on_host(outcome.host_id.unwrap(), true)
            .unwrap();
        assert_eq!(all.len(), 3);
    });
}

#[test]
fn containers_and_processes_are_tracked() {
    common::each(|_db, store| {
        let container = ContainerInfo {
            id: "c0ffee".into(),
            name: Some("api".into()),
            image: Some("registry.example/api:1.2".into()),
            k8s_namespace: Some("payments".into()),
            k8s_pod: Some("api-7d9f".into()),
            k8s_workload: Some("api".into()),
            k8s_workload_kind: Some("Deployment".into()),
            ..ContainerInfo::default()
        };
        let mut inside = instance("npm", "debug", "4.3.4", "/app/node_modules/debug");
        inside.container_id = Some("c0ffee".into());
        inside.pids = vec![4242];
        let on_host = instance("npm", "debug", "4.3.4", "/opt/tool/node_modules/debug");
        let process = ProcessInfo {
            pid: 4242,
            start_time: at(-100),
            exe: Some("/usr/bin/node".into()),
            cmdline: Some("node server.js".into()),
            user: Some("app".into()),
            container_id: Some("c0ffee".into()),
            listening: vec![ListeningSocket {
                protocol: "tcp".into(),
                address: "0.0.0.0".into(),
                port: 8080,
            }],
        };
        let mut snap = full("node-1", 1, vec![inside.clone(), on_host.clone()]);
        snap.containers = vec![container.clone()];
        snap.processes = vec![process.clone()];
        let outcome = store.apply_snapshot(&snap, at(0)).unwrap();
        assert_eq!(outcome.new.len(), 2);
        let in_container = outcome.new.iter().find(|i| i.container.is_some()).unwrap();
        let summary = in_container.container.as_ref().unwrap();
        assert_eq!(summary.id, "c0ffee");
        assert_eq!(summary.k8s_namespace.as_deref(), Some("payments"));

        let rows = store
        .query(
            r#"SELECT "process.pid", "process.executable", "container.id", "listening_ports" FROM q_processes"#,
            &[],
            10,
        )
        .unwrap();
        assert_eq!(
            rows.rows,
            vec![vec![
                SqlValue::Integer(4242),
                SqlValue::Text("/usr/bin/node".into()),
                SqlValue::Text("c0ffee".into()),
                SqlValue::Text("[8080]".into()),
            ]]
        );

        // The container stops: its instance is gone, the host's is not; the process is gone.
        let mut next = full("node-1", 2, vec![on_host]);
        next.processes.clear();
        let outcome = store.apply_snapshot(&next, at(60)).unwrap();
        assert_eq!(outcome.gone.len(), 1);
        assert!(outcome.gone[0].container.is_some());
        let rows = store
            .query(
                r#"SELECT "container.id", "last_seen" FROM q_containers"#,
                &[],
                10,
            )
            .unwrap();
        assert_eq!(rows.rows[0][1], SqlValue::Integer(at(0).unix_nanos()));
        let rows = store
            .query(r#"SELECT "last_seen" FROM q_processes"#, &[], 10)
            .unwrap();
        assert_eq!(rows.rows[0][0], SqlValue::Integer(at(0).unix_nanos()));
    });
}

#[test]
fn release_less_keys_cover_every_release() {
    common::each(|_db, store| {
        let deb12 = instance(
            "Debian:12",
            "openssl",
            "3.0.11-1~deb12u2",
            "/var/lib/dpkg/status",
        );
        let deb11 = instance(
            "Debian:11",
            "openssl",
            "1.1.1w-0+deb11u1",
            "/var/lib/dpkg/status",
        );
        store
            .apply_snapshot(&full("a", 1, vec![deb12]), at(0))
            .unwrap();
        store
            .apply_snapshot(&full("b", 1, vec![deb11]), at(0))
            .unwrap();
        assert_eq!(
            store
                .instances_for_keys(&[key("Debian", "openssl")])
                .unwrap()
                .len(),
            2
        );
        let only12 = store
            .instances_for_keys(&[key("Debian:12", "openssl")])
            .unwrap();
        assert_eq!(only12.len(), 1);
        assert_eq!(only12[0].host_name, "a");
        assert!(
            store
                .instances_for_keys(&[key("Alpine", "openssl")])
                .unwrap()
                .is_empty()
        );
    });
}

#[test]
fn software_components_view_answers_the_seed_query_shape() {
    common::each(|_db, store| {
        let mut a = instance("npm", "debug", "4.3.4", "/app/node_modules/debug");
        a.pids = vec![3, 1];
        a.dev = true;
        store
            .apply_snapshot(&full("web-1", 1, vec![a]), at(0))
            .unwrap();
        let rows = store
        .query(
            r#"SELECT "ecosystem", "name", "version", "purl", "evidence", "host.name", "container.id",
                      "path", "process.pids", "first_seen", "last_seen", "dev"
               FROM q_software_components WHERE "name" = $1"#,
            &[SqlValue::Text("debug".into())],
            10,
        )
        .unwrap();
        assert_eq!(
            rows.rows,
            vec![vec![
                SqlValue::Text("npm".into()),
                SqlValue::Text("debug".into()),
                SqlValue::Text("4.3.4".into()),
                SqlValue::Text("pkg:npm/debug@4.3.4".into()),
                SqlValue::Text("INSTALLED".into()),
                SqlValue::Text("web-1".into()),
                SqlValue::Null,
                SqlValue::Text("/app/node_modules/debug".into()),
                SqlValue::Text("[1,3]".into()),
                SqlValue::Integer(at(0).unix_nanos()),
                SqlValue::Integer(at(0).unix_nanos()),
                SqlValue::Integer(1),
            ]]
        );
    });
}

#[test]
fn sequences_beyond_the_storable_range_are_refused() {
    common::each(|_db, store| {
        let err = store
            .apply_snapshot(&full("web-1", u64::MAX, vec![]), at(0))
            .unwrap_err();
        assert!(err.to_string().contains("sequence"), "{err}");
        assert!(store.hosts().unwrap().is_empty(), "nothing was written");
    });
}

#[test]
fn the_ingest_log_can_be_pruned_keeping_the_latest() {
    common::each(|_db, store| {
        for seq in 1..=5 {
            store
                .apply_snapshot(&full("web-1", seq, many(2, "1.0.0")), at(seq as i64))
                .unwrap();
        }
        assert_eq!(store.prune_ingest_log(at(100)).unwrap(), 4);
        // The latest is still deduplicated.
        assert!(
            store
                .apply_snapshot(&full("web-1", 5, vec![]), at(200))
                .unwrap()
                .duplicate
        );
    });
}
