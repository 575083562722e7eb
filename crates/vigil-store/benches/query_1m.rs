//! The query language at issue #7's scale: 1M component instances (500 hosts × 2,000), on
//! SQLite and, in the same run, PostgreSQL when one answers
//! (`cargo bench -p vigil-store --bench query_1m`). Targets: the seed query's p50 ≤ 100 ms,
//! `summarize count(), by:{name, version}` ≤ 1 s, a `lookup` join ≤ 1 s.
//!
//! The estate is made of the benchmark corpus's real packages (`bench/corpus` in the shared
//! data: the npm lockfile's entries at their lockfile paths and the Python pins): each host holds
//! 2,000 of them, rotated per host, a tenth at host-specific versions (about 7,600 distinct
//! components), a third inside one of four containers on every second host. About 0.6 % of the
//! instances have "debug" in their name, as in the corpus. Intel: 2,000 synthetic MALICIOUS
//! advisories for names nobody has, plus the September 2025 npm compromise (debug 4.4.2,
//! chalk 5.6.1, …), whose versions one host in 25 carries.
//!
//! Seeding goes through `Store::apply_snapshot`, one full snapshot per host as agents send them,
//! at `Durability::Normal`, and prints its time. The SQLite file is cached under
//! `target/vigil-bench/`, keyed by [`ESTATE_VERSION`] and the instance count, so re-runs skip
//! seeding; PostgreSQL is seeded (four hosts at a time) into a schema of its own every run,
//! vacuumed and analyzed as autovacuum would, and dropped afterwards.
//! `VIGIL_BENCH_INSTANCES=N` scales the estate down (hosts of 2,000 instances);
//! `VIGIL_BENCH_KEEP_PG=1` keeps the PostgreSQL schema (named on stderr) for `EXPLAIN`.
//!
//! One iteration is one query, compiled and decoded included (as `POST /api/v1/query`). Skipped
//! with one `SKIPPED:` line when the corpus is absent. The queries run as written, so DQL's
//! default limit applies: `summarize_name_version` returns 1,000 of the ~7,600 groups, and both
//! databases read the groups in `(name, version)` index order and stop there; the aggregation of
//! every group costs more (measured by hand at 1M: SQLite ~0.27 s, PostgreSQL ~0.38 s).

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

use common::{Bench, Target};
use divan::Bencher;
use vigil_core::osv::OsvRecord;
use vigil_core::{Component, Ecosystem, Evidence};
use vigil_store::{
    AdvisoryInput, AdvisoryKind, ContainerInfo, Durability, HostInfo, InstanceInput, Snapshot,
    SnapshotKind, Store, Timestamp,
};

/// Bump when the estate below changes: the cached SQLite file is keyed by it.
const ESTATE_VERSION: u32 = 1;
const INSTANCES: usize = 1_000_000;
const PER_HOST: usize = 2_000;
const DEFAULT_LIMIT: usize = 1_000;
/// When the estate was reported.
const SEEN_AT: i64 = 1_700_000_000_000;

/// The September 2025 npm compromise: (name, malicious version).
const COMPROMISED: &[(&str, &str)] = &[
    ("debug", "4.4.2"),
    ("chalk", "5.6.1"),
    ("ansi-styles", "6.2.2"),
    ("supports-color", "10.2.1"),
    ("strip-ansi", "7.1.1"),
    ("ansi-regex", "6.2.1"),
    ("wrap-ansi", "9.0.1"),
    ("color-convert", "3.1.1"),
    ("color-name", "2.0.1"),
    ("is-arrayish", "0.3.3"),
    ("slice-ansi", "7.1.1"),
    ("error-ex", "1.3.3"),
    ("simple-swizzle", "0.2.3"),
    ("has-ansi", "6.0.1"),
];
const SYNTHETIC_ADVISORIES: usize = 2_000;

const SEED_QUERY: &str = "fetch dt.entity.software_component | filter contains(softwareComponentShortName, \"debug\") | fieldsAdd softwareComponentType, packageName, softwareComponentVersion";
/// An incident question mixing component and instance fields in one `and`: where is a
/// package (a substring: no index helps) loaded — few rows, so no early stop at the limit.
const LOADED_QUERY: &str = "fetch software_components | filter contains(name, \"swizzle\") and evidence == \"LOADED\" | fields host.name, name, version, process.pids";
const SUMMARIZE_QUERY: &str = "fetch software_components | summarize count(), by:{name, version}";
const LOOKUP_QUERY: &str = "fetch software_components \
    | lookup [fetch advisories | filter kind == \"MALICIOUS\"], sourceField: name, lookupField: name, fields: {id, versions} \
    | filter isNotNull(lookup.id) and in(version, lookup.versions) \
    | fields name, version, host.name, lookup.id";

fn main() {
    divan::main();
    // The stores outlive the benchmarks; their PostgreSQL schemas do not, unless kept for
    // looking at plans (`VIGIL_BENCH_KEEP_PG=1`; drop the printed schema afterwards).
    if std::env::var_os("VIGIL_BENCH_KEEP_PG").is_some() {
        return;
    }
    if let Some(stores) = STORES.get() {
        let stores = stores.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, bench) in stores.iter() {
            if let Some(schema) = bench.schema() {
                common::drop_schema(schema);
            }
        }
    }
}

/// A backend, named `sqlite` / `postgres` in divan's output.
#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// SQLite and, when one answers, PostgreSQL; nothing without the corpus.
fn targets() -> Vec<Backend> {
    if estate().is_none() {
        return Vec::new();
    }
    common::targets()
        .into_iter()
        .filter_map(|t| match t {
            Target::Sqlite(Durability::Normal) => Some(Backend::Sqlite),
            Target::Postgres(Durability::Normal) => Some(Backend::Postgres),
            _ => None,
        })
        .collect()
}

/// One package of the corpus where an installation puts it.
struct Entry {
    ecosystem: &'static str,
    name: String,
    version: String,
    path: String,
}

/// The estate's shape and what the queries must answer on it.
struct Estate {
    corpus: Vec<Entry>,
    hosts: usize,
    per_host: usize,
    seed_rows: usize,
    loaded_rows: usize,
    summarize_rows: usize,
    lookup_rows: usize,
}

fn estate() -> Option<&'static Estate> {
    static ESTATE: OnceLock<Option<Estate>> = OnceLock::new();
    ESTATE.get_or_init(load_estate).as_ref()
}

fn load_estate() -> Option<Estate> {
    let lock = vigil_testkit::shared_path(
        "bench/corpus/npm/package-lock.json",
        "1M-instance query benchmark",
    )?;
    let pins = vigil_testkit::shared_path(
        "bench/corpus/python/requirements.txt",
        "1M-instance query benchmark",
    )?;
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lock).expect("read lockfile")).expect("lockfile");
    let mut corpus = Vec::new();
    for (key, entry) in lock["packages"].as_object().expect("packages") {
        let (Some(name), Some(version)) = (
            key.rsplit("node_modules/").next(),
            entry["version"].as_str(),
        ) else {
            continue;
        };
        if key.is_empty() || name.is_empty() {
            continue;
        }
        corpus.push(Entry {
            ecosystem: "npm",
            name: name.to_string(),
            version: version.to_string(),
            path: format!("/srv/app/{key}"),
        });
    }
    for line in std::fs::read_to_string(pins).expect("read pins").lines() {
        if let Some((name, version)) = line.trim().split_once("==") {
            corpus.push(Entry {
                ecosystem: "PyPI",
                name: name.to_string(),
                version: version.to_string(),
                path: format!(
                    "/srv/app/venv/lib/python3.11/site-packages/{name}-{version}.dist-info"
                ),
            });
        }
    }
    let instances = std::env::var("VIGIL_BENCH_INSTANCES")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(INSTANCES)
        .max(1);
    let per_host = instances.min(PER_HOST).min(corpus.len());
    let mut estate = Estate {
        hosts: (instances / per_host).max(1),
        per_host,
        corpus,
        seed_rows: 0,
        loaded_rows: 0,
        summarize_rows: 0,
        lookup_rows: 0,
    };
    // What the queries must return, from the estate itself.
    let (mut debug, mut loaded, mut hits) = (0, 0, 0);
    let mut groups = HashSet::new();
    for host in 0..estate.hosts {
        for i in estate.instances(host) {
            let (name, version) = (i.component.name.as_str(), &*i.component.version);
            debug += usize::from(name.contains("debug"));
            loaded += usize::from(name.contains("swizzle") && i.evidence == Evidence::Loaded);
            hits += usize::from(COMPROMISED.contains(&(name, version)));
            groups.insert((name.to_string(), version.to_string()));
        }
    }
    estate.seed_rows = debug.min(DEFAULT_LIMIT);
    estate.loaded_rows = loaded.min(DEFAULT_LIMIT);
    estate.summarize_rows = groups.len().min(DEFAULT_LIMIT);
    estate.lookup_rows = hits.min(DEFAULT_LIMIT);
    Some(estate)
}

/// `1.2.3` + `by` on its last number (a host-specific patch level).
fn bump(version: &str, by: u64) -> String {
    let digits = version.len() - version.bytes().rev().take_while(u8::is_ascii_digit).count();
    match version[digits..].parse::<u64>() {
        Ok(n) => format!("{}{}", &version[..digits], n + by),
        Err(_) => format!("{version}.{by}"),
    }
}

impl Estate {
    fn instance_count(&self) -> usize {
        self.hosts * self.per_host
    }

    fn containers(&self, host: usize) -> Vec<ContainerInfo> {
        if !host.is_multiple_of(2) {
            return Vec::new();
        }
        (0..4)
            .map(|k| ContainerInfo {
                id: format!("{host:08x}{k:056x}"),
                name: Some(format!("app-{k}")),
                image: Some(format!("registry.example/app-{k}:1.{}", host % 5)),
                k8s_namespace: Some(format!("team-{}", host % 12)),
                k8s_workload: Some(format!("app-{k}")),
                ..ContainerInfo::default()
            })
            .collect()
    }

    fn instances(&self, host: usize) -> Vec<InstanceInput> {
        let len = self.corpus.len();
        let start = host * 37 % len;
        let compromised = host % 25 == 1;
        (0..self.per_host)
            .map(|i| {
                let e = (start + i) % len;
                let entry = &self.corpus[e];
                let version = match COMPROMISED.iter().find(|(n, _)| *n == entry.name) {
                    Some((_, bad)) if compromised && entry.ecosystem == "npm" => bad.to_string(),
                    _ if (e * 7 + host).is_multiple_of(10) => {
                        bump(&entry.version, host as u64 % 3 + 1)
                    }
                    _ => entry.version.clone(),
                };
                let loaded = i % 10 == 0;
                InstanceInput {
                    component: Component::new(
                        Ecosystem::parse(entry.ecosystem),
                        &entry.name,
                        &version,
                    ),
                    purl: None,
                    container_id: (host.is_multiple_of(2) && i % 3 == 0)
                        .then(|| format!("{host:08x}{:056x}", i % 4)),
                    path: entry.path.clone(),
                    evidence: if loaded {
                        Evidence::Loaded
                    } else {
                        Evidence::Installed
                    },
                    dev: i % 9 == 0,
                    pids: if loaded {
                        vec![1000 + (i % 50) as u32]
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect()
    }

    /// Every host's full snapshot and the intel, as the server would have stored them.
    /// `writers` snapshots at once (PostgreSQL ingests hosts concurrently, as replicas do).
    fn seed(&self, store: &Store, writers: usize) {
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..writers {
                s.spawn(|| {
                    loop {
                        let host = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if host >= self.hosts {
                            break;
                        }
                        self.seed_host(store, host);
                    }
                });
            }
        });
        self.seed_intel(store);
    }

    fn seed_host(&self, store: &Store, host: usize) {
        let at = Timestamp::from_unix_millis(SEEN_AT);
        {
            let snapshot = Snapshot {
                host: HostInfo {
                    name: format!("host-{host:04}.prod.example"),
                    os_name: Some("Ubuntu".into()),
                    os_version: Some("24.04".into()),
                    ..HostInfo::default()
                },
                sequence: 1,
                kind: SnapshotKind::Full,
                containers: self.containers(host),
                processes: Vec::new(),
                instances: self.instances(host),
            };
            store.apply_snapshot(&snapshot, at).expect("seed snapshot");
        }
    }

    fn seed_intel(&self, store: &Store) {
        let at = Timestamp::from_unix_millis(SEEN_AT);
        let records: Vec<OsvRecord> = COMPROMISED
            .iter()
            .map(|(name, version)| (name.to_string(), version.to_string()))
            .chain((0..SYNTHETIC_ADVISORIES).map(|n| (format!("mal-pkg-{n}"), "1.0.0".into())))
            .enumerate()
            .map(|(n, (name, version))| {
                serde_json::from_value(serde_json::json!({
                    "id": format!("MAL-2025-{n}"),
                    "modified": "2025-09-09T00:00:00Z",
                    "published": "2025-09-08T00:00:00Z",
                    "summary": format!("Malicious code in {name} (npm)"),
                    "affected": [{"package": {"ecosystem": "npm", "name": name}, "versions": [version]}],
                }))
                .expect("OSV record")
            })
            .collect();
        for chunk in records.chunks(500) {
            let inputs: Vec<AdvisoryInput<'_>> = chunk
                .iter()
                .map(|record| AdvisoryInput {
                    record,
                    kind: AdvisoryKind::Malicious,
                    cwes: vec!["CWE-506".into()],
                    severity: Some("10.0 CRITICAL".into()),
                    source: "ossf-malicious".into(),
                })
                .collect();
            store.put_advisories(&inputs, at).expect("seed advisories");
        }
    }
}

/// The seeded stores, kept for the whole run (benchmarks borrow them for `'static`).
static STORES: OnceLock<Mutex<Vec<(String, &'static Bench)>>> = OnceLock::new();

/// Where the seeded SQLite file is cached: `target/vigil-bench/` beside the bench binary
/// (`target/<profile>/deps/query_1m-…`).
fn cache_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(std::env::temp_dir)
        .join("vigil-bench")
}

fn open_sqlite(estate: &Estate) -> Bench {
    let dir = cache_dir();
    std::fs::create_dir_all(&dir).expect("cache dir");
    let file = dir.join(format!(
        "query_1m-v{ESTATE_VERSION}-{}.db",
        estate.instance_count()
    ));
    if file.exists() {
        let options = vigil_store::OpenOptions {
            durability: Durability::Normal,
            ..vigil_store::OpenOptions::default()
        };
        // A file another checkout migrated further is refused: seed a new one.
        match Store::open_sqlite(&file, &options) {
            Ok(store) => {
                drop(store);
                eprintln!("sqlite: cached estate {}", file.display());
                return common::open_sqlite_at(&file, Durability::Normal);
            }
            Err(e) => {
                eprintln!("sqlite: not using cached {}: {e}", file.display());
                let _ = std::fs::remove_file(&file);
            }
        }
    }
    // Seed under another name, renamed when complete: an interrupted run is never reused.
    let partial = file.with_extension("partial");
    for suffix in ["", "-wal", "-shm"] {
        let mut p = partial.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    let bench = common::open_sqlite_at(&partial, Durability::Normal);
    let started = Instant::now();
    estate.seed(bench.store(), 1);
    report_seeding("sqlite", estate, started);
    drop(bench);
    std::fs::rename(&partial, &file).expect("cache seeded estate");
    common::open_sqlite_at(&file, Durability::Normal)
}

fn report_seeding(backend: &str, estate: &Estate, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{backend}: seeded {} instances on {} hosts in {secs:.1} s ({:.0} instances/s)",
        estate.instance_count(),
        estate.hosts,
        estate.instance_count() as f64 / secs
    );
}

/// One seeded store per target, shared by every benchmark.
fn store(backend: Backend) -> &'static Store {
    let key = backend.to_string();
    let mut stores = STORES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some((_, bench)) = stores.iter().find(|(k, _)| *k == key) {
        return bench.store();
    }
    let estate = estate().expect("targets() checked the corpus");
    let bench = match backend {
        Backend::Sqlite => open_sqlite(estate),
        Backend::Postgres => {
            let bench = common::open(Target::Postgres(Durability::Normal));
            let started = Instant::now();
            estate.seed(bench.store(), 4);
            report_seeding("postgres", estate, started);
            if let Some(schema) = bench.schema() {
                eprintln!("postgres: schema {schema}");
            }
            // What autovacuum does within a minute of such an ingest (inserts trigger a vacuum
            // since PostgreSQL 13): statistics for the planner, a visibility map for
            // index-only scans.
            if let Some(schema) = bench.schema() {
                let mut client =
                    postgres::Client::connect(&common::pg_url(), postgres::NoTls).expect("connect");
                client
                    .batch_execute(&format!(
                        "VACUUM ANALYZE {schema}.components, {schema}.component_instances, {schema}.hosts, \
                         {schema}.containers, {schema}.advisories, {schema}.advisory_packages"
                    ))
                    .expect("analyze");
            }
            bench
        }
    };
    // Leaked on purpose: kept for the whole run; `main` drops its schema at the end.
    let bench: &'static Bench = Box::leak(Box::new(bench));
    stores.push((key, bench));
    bench.store()
}

fn bench(bencher: Bencher, backend: Backend, query: &str, expect: fn(&Estate) -> usize) {
    let store = store(backend);
    let expect = estate().map_or(0, expect);
    assert_eq!(common::run(store, query), expect, "{backend}: {query}");
    bencher.bench(|| common::run(store, query));
}

/// PRODUCT.md §4's seed query, verbatim: every instance whose name contains "debug".
#[divan::bench(args = targets(), sample_count = 20, sample_size = 1)]
fn seed_query(bencher: Bencher, backend: Backend) {
    bench(bencher, backend, SEED_QUERY, |e| e.seed_rows);
}

/// Where `*swizzle*` is loaded: a mixed `and`.
#[divan::bench(args = targets(), sample_count = 20, sample_size = 1)]
fn loaded_mixed_and(bencher: Bencher, backend: Backend) {
    bench(bencher, backend, LOADED_QUERY, |e| e.loaded_rows);
}

/// Instances per (name, version) over the whole estate.
#[divan::bench(args = targets(), sample_count = 10, sample_size = 1)]
fn summarize_name_version(bencher: Bencher, backend: Backend) {
    bench(bencher, backend, SUMMARIZE_QUERY, |e| e.summarize_rows);
}

/// The incident question: which instances are at a version a malicious advisory names.
#[divan::bench(args = targets(), sample_count = 10, sample_size = 1)]
fn lookup_join(bencher: Bencher, backend: Backend) {
    bench(bencher, backend, LOOKUP_QUERY, |e| e.lookup_rows);
}
