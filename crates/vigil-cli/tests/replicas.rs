//! Stateless server replicas on one PostgreSQL schema (issue 9's acceptance), the real binary:
//! two `vigil serve --store postgres://…` replicas, three agents posting full snapshots
//! round-robin to both (each re-sends a snapshot until a replica accepts it, like a spooling
//! agent failing over), intel uploaded to one replica, and replicas killed with SIGKILL during
//! ingest and restarted. Afterwards: every accepted snapshot is in the store, no finding is
//! duplicated, every finding has one creation event, intel uploaded to one replica is matched
//! by the other, and the webhook sink saw each workflow delivery's idempotency key (it
//! dedupes on it: a delivery cut short by a kill may be repeated, never lost).
//!
//! Needs PostgreSQL (`VIGIL_TEST_PG`, default the local test server); skipped with a message
//! without one, failing instead under `VIGIL_REQUIRE_PG=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../vigil-store/tests/common/mod.rs"]
mod common;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Agents, Api, Server, Sink, vigil};

/// Which packages agent `agent`'s host has at `sequence`: two baseline-malicious packages,
/// `left-pad` (made malicious by the intel uploaded during the run) and clean ones, coming
/// and going.
fn agent_packages(agent: usize, sequence: u64) -> Vec<(&'static str, &'static str)> {
    const POOL: [(&str, &str); 6] = [
        ("debug", "4.4.2"),
        ("chalk", "5.6.1"),
        ("left-pad", "1.3.0"),
        ("express", "4.21.2"),
        ("lodash", "4.17.21"),
        ("react", "18.3.1"),
    ];
    support::coming_and_going(&POOL, agent, sequence)
}

fn snapshot(host: &str, sequence: u64, packages: &[(&str, &str)]) -> Value {
    json!({
        "host": {"name": host},
        "sequence": sequence,
        "kind": "full",
        "instances": packages.iter().map(|(n, v)| json!({
            "ecosystem": "npm", "name": n, "version": v,
            "path": format!("/srv/app/node_modules/{n}"), "evidence": "INSTALLED"
        })).collect::<Vec<_>>()
    })
}

#[test]
fn two_replicas_three_agents_and_kills_lose_and_duplicate_nothing() {
    const AGENTS: usize = 3;
    const SNAPSHOTS: u64 = 60;
    let Some(db) = common::TestDb::postgres() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(Duration::ZERO);
    let config = support::write_config(
        dir.path(),
        format!(
            r#"
[store]
url = {store:?}

[delivery]
lease = "3s"
task_timeout = "2s"
poll_interval = "100ms"
backoff_base = "200ms"

[[workflows]]
name = "notify"
filter = 'event.type == "VULNERABILITY_FINDING"'
tasks = [ {{ action = "webhook", url = "{hook}" }} ]
"#,
            store = db.location,
            hook = sink.url,
        ),
    );
    let data = [dir.path().join("a"), dir.path().join("b")];
    let a = Server::serve(&data[0], &config);
    let token = a
        .token
        .clone()
        .expect("the first replica creates the admin token");
    let b = Server::serve(&data[1], &config);
    assert!(b.token.is_none(), "one admin token per store");
    let bases = Arc::new(Mutex::new(vec![a.base.clone(), b.base.clone()]));
    let mut replicas = [a, b];

    // Round-robin; on failure the other replica gets the re-send.
    let agents = Agents::start(
        &bases,
        &token,
        AGENTS,
        SNAPSHOTS,
        Duration::from_millis(20),
        |agent, sequence| {
            snapshot(
                &format!("agent-{agent}"),
                sequence,
                &agent_packages(agent, sequence),
            )
            .to_string()
            .into_bytes()
        },
    );

    // New intel through replica A while the agents ingest: left-pad 1.3.0 is malicious.
    std::thread::sleep(Duration::from_millis(400));
    let imported = Api::new(&replicas[0].base, &token).post(
        "/api/v1/intel?name=incident-1",
        &json!({
            "id": "MAL-TEST-1",
            "modified": "2025-09-08T00:00:00Z",
            "summary": "left-pad 1.3.0 was compromised (test)",
            "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"}, "versions": ["1.3.0"]}]
        }),
    );
    eprintln!("intel upload to A: {}", imported["detection"]);
    // B never saw the upload; at once (before its once-a-second poll) a new host's snapshot
    // with left-pad, sent to B only, is matched with it: B checks the store's intel generation
    // under the detection lock and catches up before matching.
    let report = Api::new(&replicas[1].base, &token).post(
        "/api/v1/inventory",
        &snapshot("probe-b", 1, &[("left-pad", "1.3.0")]),
    );
    assert_eq!(report["findings"]["created"], 1, "probe-b: {report}");

    // Kill each replica during ingest (the other keeps serving), and restart it.
    for round in 0..4usize {
        std::thread::sleep(Duration::from_millis(500 + 150 * round as u64));
        let victim = round % 2;
        replicas[victim].sigkill();
        std::thread::sleep(Duration::from_millis(200));
        replicas[victim] = Server::serve(&data[victim], &config);
        bases.lock().unwrap()[victim] = replicas[victim].base.clone();
    }
    let retries = agents.join();
    assert!(retries > 0, "the kills should have interrupted ingest");

    // Replica A, restarted after the upload, matches with it too.
    let report = Api::new(&replicas[0].base, &token).post(
        "/api/v1/inventory",
        &snapshot("probe-a", 1, &[("left-pad", "1.3.0")]),
    );
    assert_eq!(report["findings"]["created"], 1, "probe-a: {report}");

    let store = common::open_at(common::Kind::Postgres, &db.location).unwrap();
    let mut expected = support::check_agents(&store, AGENTS, SNAPSHOTS, agent_packages);
    // left-pad is present in two of every three snapshots, long after the upload.
    for agent in 0..AGENTS {
        expected.insert((format!("agent-{agent}"), "left-pad".to_owned()));
    }
    expected.insert(("probe-a".into(), "left-pad".into()));
    expected.insert(("probe-b".into(), "left-pad".into()));

    let findings = support::all_findings(&store);
    let mut seen: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for f in &findings {
        *seen
            .entry((
                f.host_name.clone(),
                f.component.name.as_str().to_owned(),
                f.advisory_id.clone(),
            ))
            .or_default() += 1;
    }
    assert!(seen.values().all(|n| *n == 1), "duplicated: {seen:?}");
    let by_package: BTreeSet<(String, String)> = seen
        .keys()
        .map(|(h, n, _)| (h.clone(), n.clone()))
        .collect();
    assert_eq!(
        by_package.len(),
        seen.len(),
        "one finding per alias group: {seen:?}"
    );
    assert_eq!(by_package, expected, "a finding is missing or unexpected");
    let events = support::assert_one_creation_event(&store, &findings);

    // Each finding's creation reached the sink under its own idempotency key (repeats of a
    // key are the at-least-once retries of a delivery cut short by a kill).
    let wanted: BTreeSet<String> = findings.iter().map(|f| f.id.0.to_string()).collect();
    sink.wait("a delivery per finding", Duration::from_secs(30), |s| {
        s.keys
            .keys()
            .filter_map(|k| k.split('/').next())
            .collect::<BTreeSet<_>>()
            .len()
            >= wanted.len()
    });
    let (distinct, total) = {
        let s = sink.state.lock().unwrap();
        let delivered: BTreeSet<String> = s
            .keys
            .keys()
            .filter_map(|k| k.split('/').next())
            .map(str::to_owned)
            .collect();
        assert_eq!(
            delivered, wanted,
            "workflow deliveries (finding ids) differ"
        );
        assert_eq!(
            s.keys.len(),
            wanted.len(),
            "one key per finding: {:?}",
            s.keys
        );
        assert_eq!(s.mismatched, 0);
        (s.keys.len(), s.raw)
    };
    let outbox = store.outbox_counts().unwrap();
    eprintln!(
        "FIGURE replicas: 4 SIGKILLs, {AGENTS} agents x {SNAPSHOTS} snapshots ({retries} re-sends), {} findings, {} events, {distinct} deliveries ({total} received), outbox {outbox:?}",
        findings.len(),
        events.len()
    );
}

/// `--store` never shows the URL's password, in errors or elsewhere.
#[test]
fn a_store_url_password_is_never_printed() {
    let url = "postgres://alice:s3cret@127.0.0.1:1/vigil";
    for args in [
        vec!["query", "--store", url, "fetch findings"],
        vec!["findings", "list", "--store", url],
    ] {
        let out = vigil().args(&args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        assert!(text.contains("alice@127.0.0.1:1"), "{args:?}: {text}");
        assert!(!text.contains("s3cret"), "{args:?}: {text}");
    }
}
