//! The query language on the store: DQL compiled by vigil-query for the store's dialect, run
//! through `Store::query` over the `q_*` views, on SQLite and, in the same run, PostgreSQL when
//! one answers (`cargo bench -p vigil-store --bench query`).
//!
//! The estate: 20 hosts × 1,000 component instances (20,000 rows in `q_software_components`),
//! a tenth of them loaded by processes, a ninth dev-only. One iteration is one query, compiled
//! and decoded included (as the server's `POST /api/v1/query` does).

mod common;

use std::sync::OnceLock;

use common::{Bench, Target};
use divan::Bencher;
use vigil_core::{Component, Ecosystem, Evidence};
use vigil_store::{Durability, HostInfo, InstanceInput, Snapshot, SnapshotKind, Store, Timestamp};

const HOSTS: usize = 20;
const PER_HOST: usize = 1000;

/// The seeded stores, kept for the whole run (benchmarks borrow them for `'static`).
static STORES: OnceLock<std::sync::Mutex<Vec<(String, &'static Bench)>>> = OnceLock::new();

fn main() {
    divan::main();
    // The stores outlive the benchmarks; their PostgreSQL schemas do not.
    if let Some(stores) = STORES.get() {
        let stores = stores
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (_, bench) in stores.iter() {
            if let Some(schema) = bench.schema() {
                common::drop_schema(schema);
            }
        }
    }
}

fn targets() -> Vec<Target> {
    common::targets()
        .into_iter()
        .filter(|t| {
            matches!(
                t,
                Target::Sqlite(Durability::Normal) | Target::Postgres(Durability::Normal)
            )
        })
        .collect()
}

fn instances(host: usize) -> Vec<InstanceInput> {
    (0..PER_HOST)
        .map(|i| {
            let (eco, name) = if i % 4 == 0 {
                ("PyPI", format!("py-package-{i}"))
            } else {
                ("npm", format!("pkg-{i}"))
            };
            InstanceInput {
                component: Component::new(
                    Ecosystem::parse(eco),
                    &name,
                    &format!("1.{}.{}", host % 3, i % 7),
                ),
                purl: None,
                container_id: None,
                path: format!("/srv/app/node_modules/{name}"),
                evidence: if i % 10 == 0 {
                    Evidence::Loaded
                } else {
                    Evidence::Installed
                },
                dev: i % 9 == 0,
                pids: if i % 10 == 0 {
                    vec![100 + host as u32]
                } else {
                    Vec::new()
                },
            }
        })
        .collect()
}

/// One seeded store per target, shared by every query benchmark.
fn store(target: Target) -> &'static Store {
    let key = format!("{target:?}");
    let mut stores = STORES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, bench)) = stores.iter().find(|(k, _)| *k == key) {
        return bench.store();
    }
    // Leaked on purpose: kept for the whole run; `main` drops its schema at the end.
    let bench: &'static Bench = Box::leak(Box::new(common::open(target)));
    for host in 0..HOSTS {
        let snapshot = Snapshot {
            host: HostInfo {
                name: format!("host-{host:02}"),
                ..HostInfo::default()
            },
            sequence: 1,
            kind: SnapshotKind::Full,
            containers: Vec::new(),
            processes: Vec::new(),
            instances: instances(host),
        };
        bench
            .store()
            .apply_snapshot(&snapshot, Timestamp::from_unix_millis(1_700_000_000_000))
            .expect("seed");
    }
    stores.push((key, bench));
    bench.store()
}

fn bench(bencher: Bencher, target: Target, query: &str, expect: usize) {
    let store = store(target);
    assert_eq!(common::run(store, query), expect, "{target:?}: {query}");
    bencher.bench(|| common::run(store, query));
}

/// Where is this package: a filter on a name, a few fields.
#[divan::bench(args = targets(), sample_count = 30)]
fn where_is(bencher: Bencher, target: Target) {
    bench(
        bencher,
        target,
        "fetch software_components | filter name == \"pkg-17\" | fields host.name, version, path, evidence",
        HOSTS,
    );
}

/// Counts by ecosystem over every instance.
#[divan::bench(args = targets(), sample_count = 30)]
fn count_by_ecosystem(bencher: Bencher, target: Target) {
    bench(
        bencher,
        target,
        "fetch software_components | summarize n = count(), by: {ecosystem}",
        2,
    );
}

/// A substring search, sorted, limited.
#[divan::bench(args = targets(), sample_count = 30)]
fn search_sort_limit(bencher: Bencher, target: Target) {
    bench(
        bencher,
        target,
        "fetch software_components | filter contains(name, \"kg-99\") | sort name, host.name | limit 100 | fields name, version, host.name",
        100,
    );
}

/// Loaded dev dependencies seen in the last hour, per host.
#[divan::bench(args = targets(), sample_count = 30)]
fn loaded_dev_per_host(bencher: Bencher, target: Target) {
    bench(
        bencher,
        target,
        "fetch software_components | filter last_seen >= now() - 1h and dev and evidence == \"LOADED\" | summarize n = count(), by: {host.name}",
        HOSTS,
    );
}
