//! The query compiler (`cargo bench -p vigil-query --bench compile`): text → parse → check →
//! parameterized SQL, for each dialect, on the queries people actually send (the seed query of
//! PRODUCT.md §4, an incident triage pipeline, a `lookup` join); and the in-memory evaluation of
//! a workflow trigger filter over one security event (what every new event costs the
//! dispatcher). No database is touched: the store benches time execution.

use divan::Bencher;
use vigil_query::catalog;
use vigil_query::sql::{CompileOptions, Dialect, compile};
use vigil_query::{Predicate, prepare};

fn main() {
    divan::main();
}

const QUERIES: [(&str, &str); 3] = [
    (
        "seed",
        "fetch dt.entity.software_component\n| filter contains(softwareComponentShortName, \"debug\")\n| fieldsAdd softwareComponentType, packageName, softwareComponentVersion",
    ),
    (
        "triage",
        "fetch findings | filter finding.status == \"NEW\" and vulnerability.risk.score >= 7 \
         | summarize n = count(), hosts = countDistinct(host.name), by:{component.name, component.version} \
         | sort n desc | limit 50",
    ),
    (
        "lookup",
        "fetch software_components | filter evidence == \"LOADED\" \
         | lookup [fetch advisories | filter kind == \"MALICIOUS\"], sourceField:name, lookupField:name, prefix:\"adv.\" \
         | filter isNotNull(adv.id) | fields host.name, name, version, adv.id",
    ),
];

fn query(name: &str) -> &'static str {
    QUERIES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, q)| *q)
}

/// Parse and check only.
#[divan::bench(args = ["seed", "triage", "lookup"])]
fn prepare_only(bencher: Bencher, name: &str) {
    let src = query(name);
    if let Err(e) = prepare(src) {
        panic!("{name} must check: {e:?}");
    }
    bencher.bench_local(|| prepare(divan::black_box(src)).map(|p| p.columns.len()));
}

/// Parse, check and compile to SQL, per dialect.
#[divan::bench(args = ["seed", "triage", "lookup"], consts = [0, 1])]
fn prepare_and_compile<const POSTGRES: usize>(bencher: Bencher, name: &str) {
    let src = query(name);
    let options = CompileOptions {
        dialect: if POSTGRES == 1 {
            Dialect::Postgres
        } else {
            Dialect::Sqlite
        },
        now: 1_764_000_000_000_000_000,
        default_limit: 1000,
    };
    bencher.bench_local(|| {
        prepare(divan::black_box(src))
            .and_then(|plan| compile(&plan, &options))
            .map(|c| c.sql.len())
    });
}

/// A workflow trigger filter (PRODUCT.md §7's CWE-506 rule) over one security event.
#[divan::bench]
fn trigger_filter(bencher: Bencher) {
    let Some(events) = catalog::object("security.events") else {
        return;
    };
    let filter = match Predicate::new(
        "event.type == \"VULNERABILITY_FINDING\" and in(\"CWE-506\", vulnerability.references.cwe) and finding.status == \"NEW\"",
        events,
    ) {
        Ok(f) => f,
        Err(e) => panic!("trigger filter must check: {e:?}"),
    };
    let event = serde_json::json!({
        "event.type": "VULNERABILITY_FINDING",
        "finding.status": "NEW",
        "vulnerability.references.cwe": ["CWE-506"],
        "component.name": "debug",
        "component.version": "4.4.2",
    });
    assert_eq!(filter.matches(&event, 0).ok(), Some(true));
    bencher.bench_local(|| filter.matches(divan::black_box(&event), 0));
}
