//! The query-view contract: one view per data object, columns named like the query fields.
//! This table is the contract the query crate compiles against; change both together. On
//! PostgreSQL the column types are checked against the catalogue too, and on both backends
//! queries compiled by vigil-query run on real store data and agree.

mod common;
#[path = "support/run_query.rs"]
mod run_query;

use common::{at, full, instance};
use run_query::run_query;
use serde_json::{Map, json};
use vigil_query::catalog;
use vigil_store::{
    ContainerInfo, Entity, EventInput, FindingInput, FindingStatus, SqlValue, Store,
};

const CONTRACT: &[(&str, &[&str])] = &[
    (
        "q_software_components",
        &[
            "ecosystem",
            "name",
            "version",
            "purl",
            "evidence",
            "host.name",
            "container.id",
            "container.image",
            "k8s.namespace.name",
            "k8s.workload.name",
            "path",
            "process.pids",
            "first_seen",
            "last_seen",
            "dev",
            // The narrowing key (vigil-query's `Narrowing`): no query field names it.
            "$component",
        ],
    ),
    (
        "q_components",
        &["$component", "ecosystem", "name", "version", "purl"],
    ),
    (
        "q_hosts",
        &[
            "host.id",
            "host.name",
            "os.name",
            "os.version",
            "arch",
            "agent.version",
            "first_seen",
            "last_seen",
        ],
    ),
    (
        "q_containers",
        &[
            "container.id",
            "container.name",
            "container.image",
            "container.image.digest",
            "host.name",
            "k8s.namespace.name",
            "k8s.pod.name",
            "k8s.workload.name",
            "k8s.workload.kind",
            "first_seen",
            "last_seen",
        ],
    ),
    (
        "q_processes",
        &[
            "process.pid",
            "process.start_time",
            "process.executable",
            "process.command_line",
            "process.user",
            "host.name",
            "container.id",
            "listening_ports",
            "last_seen",
        ],
    ),
    (
        "q_advisories",
        &[
            "id",
            "aliases",
            "kind",
            "summary",
            "cwes",
            "severity",
            "ecosystem",
            "name",
            "versions",
            "source",
            "published",
            "modified",
            "withdrawn",
        ],
    ),
    (
        "q_findings",
        &[
            "finding.id",
            "finding.status",
            "finding.mute_reason",
            "vulnerability.id",
            "vulnerability.aliases",
            "vulnerability.kind",
            "vulnerability.title",
            "vulnerability.references.cwe",
            "vulnerability.risk.score",
            "vulnerability.risk.level",
            "component.ecosystem",
            "component.name",
            "component.version",
            "component.purl",
            "evidence",
            "affected_entity.id",
            "affected_entity.type",
            "affected_entity.name",
            "host.name",
            "container.id",
            "container.image",
            "k8s.namespace.name",
            "k8s.workload.name",
            "process.pids",
            "locations",
            "owner.team",
            "detected_at",
            "acknowledged_at",
            "resolved_at",
        ],
    ),
    (
        "q_security_events",
        &[
            "timestamp",
            "event.id",
            "event.type",
            "finding.id",
            "finding.status",
            "vulnerability.id",
            "vulnerability.aliases",
            "vulnerability.kind",
            "vulnerability.title",
            "vulnerability.references.cwe",
            "vulnerability.risk.score",
            "vulnerability.risk.level",
            "component.ecosystem",
            "component.name",
            "component.version",
            "component.purl",
            "evidence",
            "affected_entity.id",
            "affected_entity.type",
            "affected_entity.name",
            "host.name",
            "container.id",
            "container.image",
            "k8s.namespace.name",
            "k8s.workload.name",
            "process.pids",
            "locations",
            "owner.team",
        ],
    ),
];

#[test]
fn every_view_has_exactly_the_contract_columns() {
    common::each(|_db, store| {
        for (view, columns) in CONTRACT {
            let rows = store
                .query(&format!("SELECT * FROM \"{view}\" LIMIT 0"), &[], 0)
                .unwrap_or_else(|e| panic!("{view}: {e}"));
            assert_eq!(rows.columns, *columns, "{view}");
        }
    });
}

#[test]
fn postgres_views_have_the_catalogue_types() {
    let Some(db) = common::TestDb::postgres() else {
        return;
    };
    let store = db.open();
    for object in catalog::OBJECTS {
        let rows = store
            .query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod)
                 FROM pg_attribute a
                 WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
                 ORDER BY a.attnum",
                &[SqlValue::Text(object.view.into())],
                1000,
            )
            .unwrap();
        let got: Vec<(String, String)> = rows
            .rows
            .iter()
            .map(|r| match (&r[0], &r[1]) {
                (SqlValue::Text(n), SqlValue::Text(t)) => (n.clone(), t.clone()),
                other => panic!("{other:?}"),
            })
            // Narrowing keys are the store's, not fields.
            .filter(|(n, _)| !n.starts_with('$'))
            .collect();
        let want: Vec<(String, String)> = object
            .fields
            .iter()
            .map(|f| (f.name.to_owned(), f.ty.postgres_type().to_owned()))
            .collect();
        assert_eq!(got, want, "{}", object.view);
    }
}

/// The same small estate on any store.
fn seed(store: &Store) {
    let mut loaded = instance("npm", "debug", "4.4.2", "/app/node_modules/debug");
    loaded.pids = vec![42, 7];
    loaded.container_id = Some("c1".into());
    let mut dev = instance("npm", "chalk", "5.6.1", "/app/node_modules/chalk");
    dev.dev = true;
    let mut snapshot = full(
        "web-1",
        1,
        vec![
            loaded,
            dev,
            instance("PyPI", "Flask", "3.0.0", "/usr/lib/python3/flask"),
        ],
    );
    snapshot.containers = vec![ContainerInfo {
        id: "c1".into(),
        image: Some("api:1".into()),
        k8s_namespace: Some("payments".into()),
        ..ContainerInfo::default()
    }];
    let outcome = store.apply_snapshot(&snapshot, at(0)).expect("seed");
    store
        .apply_snapshot(
            &full(
                "web-2",
                1,
                vec![instance("npm", "debug", "4.3.4", "/srv/debug")],
            ),
            at(5),
        )
        .expect("seed");
    let debug = outcome
        .new
        .iter()
        .find(|i| i.component.name.as_str() == "debug")
        .expect("seed");
    let container = debug.container.as_ref().expect("seed").key;
    let finding = store
        .upsert_finding(
            &FindingInput {
                advisory_id: "MAL-2025-47141".into(),
                aliases: vec!["GHSA-aaaa-bbbb-cccc".into()],
                component_id: debug.component_id,
                entity: Entity::Container(container),
                risk_score: 9.5,
                risk_level: "CRITICAL".into(),
                evidence: debug.evidence,
                locations: vec![debug.path.clone()],
                pids: debug.pids.clone(),
            },
            at(10),
        )
        .expect("seed")
        .finding;
    store
        .set_finding_status(finding.id, FindingStatus::Acknowledged, None, at(20))
        .expect("seed");
    let Ok(serde_json::Value::Object(payload)) = serde_json::to_value(json!({
        "finding.status": "NEW",
        "vulnerability.id": "MAL-2025-47141",
        "vulnerability.references.cwe": ["CWE-506"],
        "vulnerability.risk.score": 9.5,
        "process.pids": [7, 42],
        "host.name": "web-1",
    })) else {
        panic!("object")
    };
    store
        .append_event(&EventInput {
            timestamp: at(10),
            event_type: "VULNERABILITY_FINDING".into(),
            finding_id: Some(finding.id),
            payload,
        })
        .expect("seed");
    store
        .append_event(&EventInput {
            timestamp: at(11),
            event_type: "OTHER".into(),
            finding_id: None,
            payload: Map::new(),
        })
        .expect("seed");
}

const QUERIES: &[&str] = &[
    "fetch software_components | sort name, host.name | fields name, version, host.name, dev, process.pids, container.id, first_seen",
    "fetch software_components | filter dev | fields name",
    "fetch software_components | filter contains(name, \"deb\") and isNotNull(container.id) | fields k8s.namespace.name, container.image, evidence",
    "fetch software_components | summarize n = count(), by: {ecosystem} | sort ecosystem",
    "fetch hosts | sort host.name | fields host.name, os.name, last_seen",
    "fetch containers | fields container.id, container.image, host.name",
    "fetch findings | fields finding.status, vulnerability.id, vulnerability.aliases, vulnerability.risk.score, process.pids, locations, affected_entity.type, affected_entity.id, acknowledged_at, resolved_at",
    "fetch security.events | sort timestamp | fields event.type, vulnerability.references.cwe, vulnerability.risk.score, process.pids, host.name",
    "fetch software_components | filter last_seen >= now() - 1h | fields name",
];

fn run(store: &Store, query: &str) -> serde_json::Value {
    run_query(store, query, at(30).unix_nanos(), 10_000).to_json()
}

#[test]
fn compiled_queries_run_on_the_store_and_agree_across_backends() {
    let results: Vec<(String, Vec<serde_json::Value>)> = common::backends()
        .iter()
        .map(|db| {
            let store = db.open();
            seed(&store);
            (
                db.name().to_owned(),
                QUERIES.iter().map(|q| run(&store, q)).collect(),
            )
        })
        .collect();
    assert_eq!(results.len(), 1 + usize::from(common::pg_available()));
    let (_, sqlite) = &results[0];
    // Spot checks on SQLite (the reference), then every backend agrees with it.
    assert_eq!(sqlite[1]["records"], json!([{"name": "chalk"}]));
    assert_eq!(
        sqlite[6]["records"][0]["process.pids"],
        json!([7, 42]),
        "{}",
        sqlite[6]
    );
    assert_eq!(sqlite[8]["records"].as_array().map(Vec::len), Some(4));
    // Without `sort` the order of records is the database's (each plans its own way).
    let unordered = |query: &str, result: &serde_json::Value| {
        let mut result = result.clone();
        if !query.contains("sort")
            && let Some(records) = result["records"].as_array_mut()
        {
            records.sort_by_key(ToString::to_string);
        }
        result
    };
    for (name, got) in &results[1..] {
        for ((query, want), got) in QUERIES.iter().zip(sqlite).zip(got) {
            assert_eq!(
                unordered(query, got),
                unordered(query, want),
                "{name}: {query}"
            );
        }
    }
}
