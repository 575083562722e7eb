//! OSV `affected` evaluation (`cargo bench -p vigil-core --bench osv_eval`): the cost of
//! deciding one (package, version) against a record — the step the matcher runs for every
//! hash hit — on records shaped like the real feeds: a malicious-package record listing
//! versions, a SEMVER range record with several introduced/fixed pairs, and a PyPI
//! ECOSYSTEM range. Records are written inline (no shared data needed).

use divan::Bencher;
use vigil_core::Ecosystem;
use vigil_core::osv::{CompiledAffected, OsvRecord, QueryVersion};

fn main() {
    divan::main();
}

fn record(json: &str) -> OsvRecord {
    serde_json::from_str(json).expect("bench record parses")
}

/// (name, record, ecosystem, package, versions asked: half affected, half not).
fn cases() -> Vec<(
    &'static str,
    OsvRecord,
    &'static str,
    &'static str,
    Vec<&'static str>,
)> {
    vec![
        (
            "listed_versions",
            record(
                r#"{"id":"MAL-BENCH-1","affected":[{"package":{"ecosystem":"npm","name":"debug"},
                "versions":["4.4.2","4.4.2-beta.1"],
                "ranges":[{"type":"SEMVER","events":[{"introduced":"4.4.2"},{"fixed":"4.4.3"}]}]}]}"#,
            ),
            "npm",
            "debug",
            vec!["4.4.2", "4.4.2-beta.1", "4.4.1", "4.3.7", "4.4.3", "2.6.9"],
        ),
        (
            "semver_ranges",
            record(
                r#"{"id":"GHSA-BENCH-2","affected":[{"package":{"ecosystem":"npm","name":"lodash"},
                "ranges":[{"type":"SEMVER","events":[
                  {"introduced":"0"},{"fixed":"1.0.3"},
                  {"introduced":"2.0.0"},{"fixed":"2.4.3"},
                  {"introduced":"3.0.0"},{"fixed":"3.10.2"},
                  {"introduced":"4.0.0"},{"fixed":"4.17.21"}]}]}]}"#,
            ),
            "npm",
            "lodash",
            vec![
                "0.9.0", "2.4.1", "3.10.1", "4.17.20", "4.17.21", "1.0.3", "5.0.0", "2.4.3",
            ],
        ),
        (
            "pypi_ecosystem_range",
            record(
                r#"{"id":"PYSEC-BENCH-3","affected":[{"package":{"ecosystem":"PyPI","name":"requests"},
                "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"2.3.0"},{"fixed":"2.31.0"}]}]}]}"#,
            ),
            "PyPI",
            "requests",
            vec!["2.3.0", "2.28.1", "2.30.0rc1", "2.31.0", "2.32.3", "1.2.3"],
        ),
    ]
}

/// Whole-record evaluation from strings, as `vigil intel show` and one-off checks do.
#[divan::bench(args = ["listed_versions", "semver_ranges", "pypi_ecosystem_range"])]
fn record_affects(bencher: Bencher, case: &str) {
    let all = cases();
    let Some((_, rec, eco, name, versions)) = all.into_iter().find(|c| c.0 == case) else {
        return;
    };
    let eco = Ecosystem::parse(eco);
    bencher
        .counter(divan::counter::ItemsCount::new(versions.len()))
        .bench_local(|| {
            versions
                .iter()
                .filter(|v| rec.affects(&eco, name, divan::black_box(v)))
                .count()
        });
}

/// Compiled `affected` against a version parsed once: the matcher's hot path.
#[divan::bench(args = ["listed_versions", "semver_ranges", "pypi_ecosystem_range"])]
fn compiled_preparsed(bencher: Bencher, case: &str) {
    let all = cases();
    let Some((_, rec, _, _, versions)) = all.into_iter().find(|c| c.0 == case) else {
        return;
    };
    let Some(affected) = rec.affected.first() else {
        return;
    };
    let compiled = CompiledAffected::new(affected);
    let scheme = compiled.scheme();
    let queries: Vec<QueryVersion<'_>> = versions
        .iter()
        .map(|v| QueryVersion::new(v).with_parsed(scheme.parse(v)))
        .collect();
    bencher
        .counter(divan::counter::ItemsCount::new(queries.len()))
        .bench_local(|| {
            queries
                .iter()
                .filter(|q| compiled.is_affected(divan::black_box(q)))
                .count()
        });
}
