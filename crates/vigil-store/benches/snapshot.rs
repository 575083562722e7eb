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

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use divan::Bencher;
use divan::counter::ItemsCount;
use vigil_core::{Component, Ecosystem, Evidence};
use vigil_store::{
    ContainerInfo, Durability, HostInfo, InstanceInput, OpenOptions, Snapshot, SnapshotKind, Store,
    Timestamp,
};

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

/// Where a benchmark's store lives.
#[derive(Clone, Copy, Debug)]
enum Target {
    Sqlite(Durability),
    Postgres(Durability),
}

fn pg_url() -> String {
    std::env::var("VIGIL_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Every target; the PostgreSQL ones only when a server answers.
fn targets() -> Vec<Target> {
    let mut out = vec![
        Target::Sqlite(Durability::Full),
        Target::Sqlite(Durability::Normal),
    ];
    match postgres::Client::connect(&pg_url(), postgres::NoTls) {
        Ok(_) => out.extend([
            Target::Postgres(Durability::Full),
            Target::Postgres(Durability::Normal),
        ]),
        Err(e) => eprintln!(
            "SKIPPED PostgreSQL benchmarks: no PostgreSQL at {}: {e}",
            pg_url()
        ),
    }
    out
}

/// A store and what to clean up after it.
struct Bench {
    store: Option<Store>,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

impl Drop for Bench {
    fn drop(&mut self) {
        drop(self.store.take());
        if let Some(schema) = &self.schema
            && let Ok(mut client) = postgres::Client::connect(&pg_url(), postgres::NoTls)
        {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

impl Bench {
    fn store(&self) -> &Store {
        self.store.as_ref().expect("open store")
    }
}

fn open(target: Target) -> Bench {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let bench = match target {
        Target::Sqlite(durability) => {
            let dir = tempfile::tempdir().expect("temp dir");
            let options = OpenOptions {
                durability,
                ..OpenOptions::default()
            };
            let store = Store::open_sqlite(dir.path().join("bench.db"), &options).expect("open");
            Bench {
                store: Some(store),
                _dir: Some(dir),
                schema: None,
            }
        }
        Target::Postgres(durability) => {
            let schema = format!(
                "vigil_bench_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let mut client =
                postgres::Client::connect(&pg_url(), postgres::NoTls).expect("connect");
            client
                .batch_execute(&format!("CREATE SCHEMA {schema}"))
                .expect("create schema");
            let sep = if pg_url().contains('?') { '&' } else { '?' };
            let url = format!("{}{sep}options=-c%20search_path%3D{schema}", pg_url());
            let mut bench = Bench {
                store: None,
                _dir: None,
                schema: Some(schema),
            };
            let options = OpenOptions {
                durability,
                ..OpenOptions::default()
            };
            bench.store = Some(Store::open_postgres(&url, &options).expect("open"));
            bench
        }
    };
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
