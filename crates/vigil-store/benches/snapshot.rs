//! Ingest cost: `apply_snapshot` of a 2,000-instance host on a SQLite file and, in the same run,
//! on PostgreSQL when one answers (`VIGIL_TEST_PG`, default
//! `postgres://postgres@127.0.0.1:5432/test`; a schema of its own, dropped afterwards)
//! (`cargo bench -p vigil-store --bench snapshot`).
//!
//! - `unchanged`: the agent's periodic full snapshot with nothing new — the common case, which
//!   must write only the host and ingest-log rows;
//! - `pids_changed`: every instance's loading processes changed (2,000 row updates);
//! - `upgraded`: every instance at a new version (2,000 new instances and windows, 2,000 gone).
//!
//! Each at `Durability::Full` (fsync per commit, the default) and `Normal` (SQLite:
//! `synchronous = NORMAL`; PostgreSQL: `synchronous_commit = off`). Throughput is in instances
//! per second; one iteration is one snapshot.

mod common;

use std::cell::Cell;

use common::{Bench, Target, targets};
use divan::Bencher;
use divan::counter::ItemsCount;
use vigil_core::{Component, Ecosystem, Evidence};
use vigil_store::{ContainerInfo, HostInfo, InstanceInput, Snapshot, SnapshotKind, Timestamp};

const INSTANCES: usize = 2000;

fn main() {
    divan::main();
}

fn instances(version: &str, pid: u32) -> Vec<InstanceInput> {
    (0..INSTANCES)
        .map(|i| {
            let (eco, name) = if i % 4 == 0 {
                ("PyPI", format!("Py_Package.{i}"))
            } else {
                ("npm", format!("@scope{}/pkg-{i}", i % 17))
            };
            InstanceInput {
                component: Component::new(Ecosystem::parse(eco), &name, version),
                purl: None,
                container_id: (i % 3 == 0).then(|| format!("ctr-{}", i % 5)),
                path: format!("/srv/app{}/node_modules/{name}", i % 7),
                evidence: if i % 10 == 0 {
                    Evidence::Loaded
                } else {
                    Evidence::Installed
                },
                dev: i % 9 == 0,
                pids: if i % 10 == 0 {
                    vec![pid, pid + 1]
                } else {
                    Vec::new()
                },
            }
        })
        .collect()
}

fn snapshot(sequence: u64, instances: Vec<InstanceInput>) -> Snapshot {
    Snapshot {
        host: HostInfo {
            name: "bench-host".into(),
            ..HostInfo::default()
        },
        sequence,
        kind: SnapshotKind::Full,
        containers: (0..5)
            .map(|c| ContainerInfo {
                id: format!("ctr-{c}"),
                image: Some(format!("registry.example/app-{c}:1")),
                ..ContainerInfo::default()
            })
            .collect(),
        processes: Vec::new(),
        instances,
    }
}

fn open(target: Target) -> Bench {
    let bench = common::open(target);
    bench
        .store()
        .apply_snapshot(
            &snapshot(0, instances("1.0.0", 100)),
            Timestamp::from_unix_millis(0),
        )
        .expect("seed");
    bench
}

#[divan::bench(args = targets(), sample_count = 40)]
fn unchanged(bencher: Bencher, target: Target) {
    let bench = open(target);
    let store = bench.store();
    let seq = Cell::new(0u64);
    let same = instances("1.0.0", 100);
    bencher
        .counter(ItemsCount::new(INSTANCES))
        .with_inputs(|| {
            seq.set(seq.get() + 1);
            snapshot(seq.get(), same.clone())
        })
        .bench_local_refs(|snap| {
            let outcome = store
                .apply_snapshot(snap, Timestamp::from_unix_millis(snap.sequence as i64))
                .expect("apply");
            assert_eq!(outcome.unchanged, INSTANCES);
        });
}

#[divan::bench(args = targets(), sample_count = 40)]
fn pids_changed(bencher: Bencher, target: Target) {
    let bench = open(target);
    let store = bench.store();
    let seq = Cell::new(0u64);
    let every_instance_loaded = |pid: u32| {
        let mut list = instances("1.0.0", pid);
        for i in &mut list {
            i.evidence = Evidence::Loaded;
            i.pids = vec![pid];
        }
        list
    };
    bencher
        .counter(ItemsCount::new(INSTANCES))
        .with_inputs(|| {
            seq.set(seq.get() + 1);
            snapshot(seq.get(), every_instance_loaded(1000 + seq.get() as u32))
        })
        .bench_local_refs(|snap| {
            let outcome = store
                .apply_snapshot(snap, Timestamp::from_unix_millis(snap.sequence as i64))
                .expect("apply");
            assert_eq!(outcome.changed.len() + outcome.new.len(), INSTANCES);
        });
}

#[divan::bench(args = targets(), sample_count = 20)]
fn upgraded(bencher: Bencher, target: Target) {
    let bench = open(target);
    let store = bench.store();
    let seq = Cell::new(0u64);
    bencher
        .counter(ItemsCount::new(INSTANCES))
        .with_inputs(|| {
            seq.set(seq.get() + 1);
            snapshot(seq.get(), instances(&format!("2.0.{}", seq.get()), 100))
        })
        .bench_local_refs(|snap| {
            let outcome = store
                .apply_snapshot(snap, Timestamp::from_unix_millis(snap.sequence as i64))
                .expect("apply");
            assert_eq!(outcome.new.len(), INSTANCES);
        });
}
