//! Intel benchmarks (`cargo bench -p vigil-intel --bench intel`), on the real snapshot of
//! ossf/malicious-packages in the project's shared folder (`VIGIL_SHARED_DIR`, default
//! `shared/` beside the checkout; the benches print SKIPPED without it):
//!
//! - `import_zip_read`: reading and parsing the 33k-advisory zip (target: the whole import
//!   ≤ 2 s);
//! - `import_zip_store`: the whole `vigil intel import` — read, classify, write the snapshot and
//!   record pack;
//! - `start_from_snapshot`: loading the persisted intel into a ready matcher (target ≤ 200 ms);
//! - `start_from_matcher`, `lookup_lazy`: the same through the persisted matcher `vigil scan`
//!   uses (`vigil_intel::matcher`);
//! - `lookup`: random (ecosystem, name, version) queries with a 1 % hit rate, one thread
//!   (target ≥ 5 M/s). Misses are names no advisory names (the common case when a fleet's
//!   inventory is checked); hits are listed versions of real advisories;
//! - `lookup_misses`: the miss path alone; the allocation profiler must report no allocation.

use std::path::PathBuf;
use std::sync::OnceLock;

use divan::counter::ItemsCount;
use vigil_core::Ecosystem;
use vigil_intel::import::{self, SourceKind};
use vigil_intel::store::IntelStore;
use vigil_intel::{AdvisoryIndex, ImportOptions};

/// Counts allocations per iteration: the miss path must show none.
#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    divan::main();
}

fn zip_path() -> Option<PathBuf> {
    let path = std::env::var_os("VIGIL_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
        .join("intel/malicious-packages-osv.zip");
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: {} not found (set VIGIL_SHARED_DIR)",
            path.display()
        );
        None
    }
}

/// A data dir with the zip imported, made once per bench process.
fn imported_store() -> Option<&'static (tempfile::TempDir, IntelStore)> {
    static STORE: OnceLock<Option<(tempfile::TempDir, IntelStore)>> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let zip = zip_path()?;
            let dir = tempfile::tempdir().ok()?;
            let store = IntelStore::new(dir.path());
            store
                .import(&zip, None, &ImportOptions::default())
                .expect("zip imports");
            Some((dir, store))
        })
        .as_ref()
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn import_zip_read(bencher: divan::Bencher) {
    let Some(zip) = zip_path() else { return };
    bencher.bench(|| {
        import::read_source(&zip, SourceKind::OsvZip, &ImportOptions::default())
            .expect("reads")
            .records
            .len()
    });
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn import_zip_store(bencher: divan::Bencher) {
    let Some(zip) = zip_path() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = IntelStore::new(dir.path());
    bencher.bench(|| {
        store
            .import(&zip, None, &ImportOptions::default())
            .expect("imports")
            .advisories
    });
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn start_from_snapshot(bencher: divan::Bencher) {
    let Some((_, store)) = imported_store() else {
        return;
    };
    bencher.bench(|| store.load().expect("loads").index.len());
}

/// What `vigil scan` does instead: open the persisted matcher (one read, no decoding).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn start_from_matcher(bencher: divan::Bencher) {
    let Some((_, store)) = imported_store() else {
        return;
    };
    bencher.bench(|| store.open_matcher().expect("opens").index.len());
}

/// The `lookup` workload through the persisted matcher (hits decode their advisory once).
#[divan::bench]
fn lookup_lazy(bencher: divan::Bencher) {
    let Some(w) = workload() else { return };
    let Some((_, store)) = imported_store() else {
        return;
    };
    let lazy = store.open_matcher().expect("opens").index;
    lookups(bencher, w, &lazy);
}

/// xorshift: benches must not depend on a RNG crate's stream.
struct Gen(u64);

impl Gen {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}

const QUERIES: usize = 1 << 16;

struct Workload {
    index: AdvisoryIndex,
    queries: Vec<(Ecosystem, String, String)>,
}

fn workload() -> Option<&'static Workload> {
    static WORKLOAD: OnceLock<Option<Workload>> = OnceLock::new();
    WORKLOAD
        .get_or_init(|| {
            let (_, store) = imported_store()?;
            let index = store.load().expect("loads").index;
            let hits: Vec<(Ecosystem, String, String)> = index
                .advisories()
                .iter()
                .filter(|a| !a.is_withdrawn())
                .filter_map(|a| {
                    let set = a.affected.first()?;
                    let version = set.versions.first()?.clone();
                    Some((Ecosystem::parse(&set.ecosystem), set.name.clone(), version))
                })
                .collect();
            let ecosystems = [
                "npm",
                "npm",
                "npm",
                "PyPI",
                "PyPI",
                "Go",
                "Maven",
                "crates.io",
            ]
            .map(Ecosystem::parse);
            let words = [
                "react", "lodash", "core", "utils", "parser", "plugin", "client", "sdk", "http",
                "json", "babel", "types", "eslint", "config", "loader", "webpack",
            ];
            let mut g = Gen(0x9e37_79b9_7f4a_7c15);
            let mut queries = Vec::with_capacity(QUERIES);
            for i in 0..QUERIES {
                if i % 100 == 0 && !hits.is_empty() {
                    let pick = g.next(hits.len() as u64) as usize;
                    queries.push(hits[pick].clone());
                    continue;
                }
                let eco = ecosystems[g.next(ecosystems.len() as u64) as usize].clone();
                let a = words[g.next(words.len() as u64) as usize];
                let b = words[g.next(words.len() as u64) as usize];
                let name = format!("{a}-{b}-{}", g.next(1_000_000));
                let version = format!("{}.{}.{}", g.next(20), g.next(30), g.next(50));
                queries.push((eco, name, version));
            }
            let found = queries
                .iter()
                .filter(|(e, n, v)| !index.lookup(e, n, v).is_empty())
                .count();
            eprintln!(
                "lookup workload: {} queries, {found} hits ({:.2} %)",
                queries.len(),
                found as f64 * 100.0 / queries.len() as f64
            );
            Some(Workload { index, queries })
        })
        .as_ref()
}

/// Runs the workload's queries through `matcher`, a batch per iteration.
fn lookups(bencher: divan::Bencher, w: &Workload, matcher: &impl vigil_intel::Matcher) {
    let mut at = 0usize;
    const BATCH: usize = 4096;
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        let mut hits = 0usize;
        for _ in 0..BATCH {
            let (eco, name, version) = &w.queries[at];
            at = (at + 1) % w.queries.len();
            hits += matcher.lookup(eco, name, version).len();
        }
        hits
    });
}

#[divan::bench]
fn lookup(bencher: divan::Bencher) {
    let Some(w) = workload() else { return };
    lookups(bencher, w, &w.index);
}

#[divan::bench]
fn lookup_misses(bencher: divan::Bencher) {
    let Some(w) = workload() else { return };
    let misses: Vec<&(Ecosystem, String, String)> = w
        .queries
        .iter()
        .filter(|(e, n, _)| !w.index.names_package(e, n))
        .take(4096)
        .collect();
    bencher
        .counter(ItemsCount::new(misses.len()))
        .bench_local(|| {
            let mut hits = 0usize;
            for (eco, name, version) in &misses {
                hits += w.index.lookup(eco, name, version).len();
            }
            hits
        });
}
