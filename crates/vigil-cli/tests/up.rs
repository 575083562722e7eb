//! `vigil up` end to end, the real binary (issue 6's acceptance, as far as the agent exists):
//! ready time, a planted compromised package found with evidence and host, new intel matched
//! against what is already installed (through the API and through `vigil intel import` on the
//! data directory), acknowledge with its events, auto-resolve after removal; and crash safety
//! under SIGKILL during continuous ingest from several agents.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Agents, Api, Server, vigil};

fn plant(root: &Path, name: &str, version: &str) -> PathBuf {
    let dir = root.join("node_modules").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("package.json"),
        json!({"name": name, "version": version}).to_string(),
    )
    .unwrap();
    dir
}

fn finding_for<'a>(findings: &'a [Value], name: &str) -> Option<&'a Value> {
    findings.iter().find(|f| f["component.name"] == name)
}

#[test]
fn up_detects_plants_new_intel_acks_and_auto_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    plant(&tree, "left-pad", "1.3.0");
    plant(&tree, "is-even", "1.0.0");
    let config = support::write_config(
        dir.path(),
        format!(
            "[agent]\npaths = [{:?}]\ninterval = \"250ms\"\nhost_name = \"e2e-host\"\n[detection]\ngrace_period = \"1s\"\n",
            tree.display().to_string()
        ),
    );
    let data = dir.path().join("data");
    let up = Server::up(&data, &config);
    let token = up
        .token
        .clone()
        .expect("admin token printed on first start");
    let api = Api::new(&up.base, &token);
    // Ready: the banner, then /healthz.
    let started = Instant::now();
    while api
        .http()
        .get(format!("{}/healthz", up.base))
        .send()
        .map(|r| !r.status().is_success())
        .unwrap_or(true)
    {
        assert!(started.elapsed() < Duration::from_secs(2));
        std::thread::sleep(Duration::from_millis(10));
    }
    let ready = up.spawned.elapsed();
    eprintln!(
        "FIGURE ready: banner {} ms, healthz {} ms after spawn",
        up.ready_line.as_millis(),
        ready.as_millis()
    );
    assert!(ready < Duration::from_secs(2), "ready in {ready:?}");
    // The clean tree is ingested, with no findings.
    api.wait_for(Duration::from_secs(2), |_| {
        !api.query("fetch software_components | filter name == \"left-pad\"")
            .is_empty()
    });
    assert!(api.findings().is_empty());

    // 1. A stand-in compromised package appears.
    let debug_dir = plant(&tree, "debug", "4.4.2");
    let (findings, took) = api.wait_for(Duration::from_secs(2), |f| {
        finding_for(f, "debug").is_some()
    });
    eprintln!(
        "FIGURE detection latency, planted package: {} ms",
        took.as_millis()
    );
    let debug = finding_for(&findings, "debug").unwrap();
    assert_eq!(debug["vulnerability.id"], "MAL-2025-46974");
    assert_eq!(debug["evidence"], "INSTALLED");
    assert_eq!(debug["host.name"], "e2e-host");
    assert_eq!(debug["vulnerability.risk.level"], "CRITICAL");
    assert_eq!(
        debug["locations"],
        json!([debug_dir.join("package.json").display().to_string()])
    );
    let debug_id = debug["finding.id"].as_str().unwrap().to_owned();

    // 2. New intel names an installed, clean package: through the API…
    let started = Instant::now();
    let imported = api.post_raw(
        "/api/v1/intel?name=incident-1",
        b"left-pad@1.3.0\n".to_vec(),
        "text/plain",
    );
    assert_eq!(
        imported["detection"]["findings"]["created"], 1,
        "{imported}"
    );
    api.wait_for(Duration::from_secs(2), |f| {
        finding_for(f, "left-pad").is_some()
    });
    let took = started.elapsed();
    eprintln!(
        "FIGURE detection latency, intel import via API (request to finding listed): {} ms",
        took.as_millis()
    );
    assert!(took < Duration::from_secs(2));
    // …and through `vigil intel import` on the data directory (the server notices).
    let list = dir.path().join("incident-2.txt");
    std::fs::write(&list, "is-even@1.0.0\n").unwrap();
    let started = Instant::now();
    let out = vigil()
        .args(["intel", "import", "--data-dir"])
        .arg(&data)
        .arg(&list)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    api.wait_for(Duration::from_secs(3), |f| {
        finding_for(f, "is-even").is_some()
    });
    eprintln!(
        "FIGURE detection latency, `vigil intel import` on the data dir: {} ms",
        started.elapsed().as_millis()
    );

    // 3. Ack from the CLI, through the server.
    let out = vigil()
        .args([
            "findings", "ack", &debug_id, "--server", &up.base, "--token", &token,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("NEW → ACKNOWLEDGED"));
    let events = api.query(&format!(
        "fetch security.events | filter finding.id == \"{debug_id}\" | sort timestamp | fields timestamp, event.type, finding.status"
    ));
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["event.type"], "VULNERABILITY_FINDING");
    assert_eq!(events[0]["finding.status"], "NEW");
    assert_eq!(events[1]["event.type"], "VULNERABILITY_STATUS_CHANGE_EVENT");
    assert_eq!(events[1]["finding.status"], "ACKNOWLEDGED");
    assert!(
        events
            .iter()
            .all(|e| e["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')))
    );

    // 4. The package is removed: resolved once gone for the grace period.
    std::fs::remove_dir_all(&debug_dir).unwrap();
    let (findings, took) = api.wait_for(Duration::from_secs(5), |f| {
        finding_for(f, "debug").is_some_and(|d| d["finding.status"] == "RESOLVED")
    });
    eprintln!(
        "FIGURE auto-resolve after removal (grace 1 s): {} ms",
        took.as_millis()
    );
    assert_eq!(findings.len(), 3, "no duplicate findings");
    let events = api.query(&format!(
        "fetch security.events | filter finding.id == \"{debug_id}\" | sort timestamp | fields finding.status"
    ));
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["finding.status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["NEW", "ACKNOWLEDGED", "RESOLVED"]);

    // The CLI on the data directory sees the same.
    let out = vigil()
        .args(["findings", "list", "--format", "json", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["findings"].as_array().unwrap().len(), 3);

    assert!(up.sigterm().success());
}

/// One simulated agent's view: which packages its host has at each sequence.
fn agent_packages(agent: usize, sequence: u64) -> Vec<(&'static str, &'static str)> {
    const POOL: [(&str, &str); 8] = [
        ("debug", "4.4.2"),
        ("chalk", "5.6.1"),
        ("express", "4.21.2"),
        ("lodash", "4.17.21"),
        ("ansi-styles", "6.2.2"),
        ("react", "18.3.1"),
        ("nx", "21.5.0"),
        ("left-pad", "1.3.0"),
    ];
    support::coming_and_going(&POOL, agent, sequence)
}

fn agent_snapshot(agent: usize, sequence: u64) -> Vec<u8> {
    json!({
        "host": {"name": format!("agent-{agent}")},
        "sequence": sequence,
        "kind": "full",
        "instances": agent_packages(agent, sequence).iter().map(|(n, v)| json!({
            "ecosystem": "npm", "name": n, "version": v,
            "path": format!("/srv/app/node_modules/{n}"), "evidence": "LOADED", "pids": [1000 + agent]
        })).collect::<Vec<_>>()
    })
    .to_string()
    .into_bytes()
}

#[test]
fn sigkill_during_continuous_ingest_loses_and_duplicates_nothing() {
    const AGENTS: usize = 3;
    const SNAPSHOTS: u64 = 120;
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    plant(&tree, "debug", "4.4.2");
    let config = support::write_config(
        dir.path(),
        format!(
            "[agent]\npaths = [{:?}]\ninterval = \"100ms\"\nhost_name = \"local\"\n",
            tree.display().to_string()
        ),
    );
    let data = dir.path().join("data");
    let up = Server::up(&data, &config);
    let token = up.token.clone().unwrap();
    let base = Arc::new(Mutex::new(vec![up.base.clone()]));
    // Agents: each re-sends a snapshot until the server accepts it (200), like a spooling agent.
    let agents = Agents::start(
        &base,
        &token,
        AGENTS,
        SNAPSHOTS,
        Duration::from_millis(15),
        agent_snapshot,
    );
    // Kill the server repeatedly while they ingest, restarting it on the same data directory.
    let mut up = up;
    for round in 0..4 {
        std::thread::sleep(Duration::from_millis(250 + 90 * round));
        up.sigkill();
        up = Server::up(&data, &config);
        assert!(up.token.is_none(), "the admin token is created once");
        base.lock().unwrap()[0] = up.base.clone();
    }
    let retries = agents.join();
    assert!(retries > 0, "the kills should have interrupted ingest");
    let api = Api::new(&up.base, &token);
    // The local agent's finding is there too.
    api.wait_for(Duration::from_secs(3), |f| {
        f.iter().any(|x| x["host.name"] == "local")
    });
    up.sigkill();

    // Integrity, and the store holds exactly what the agents last said.
    let store = vigil_store::Store::open_sqlite(
        data.join("vigil.db"),
        &vigil_store::OpenOptions::default(),
    )
    .unwrap();
    store.integrity_check().unwrap();
    // Every malicious package an agent ever reported has exactly one finding.
    let expected = support::check_agents(&store, AGENTS, SNAPSHOTS, agent_packages);
    let findings = support::all_findings(&store);
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for f in findings
        .iter()
        .filter(|f| f.host_name.starts_with("agent-"))
    {
        *seen
            .entry((f.host_name.clone(), f.component.name.as_str().to_owned()))
            .or_default() += 1;
    }
    assert!(seen.values().all(|n| *n == 1), "duplicated: {seen:?}");
    let seen: BTreeSet<_> = seen.into_keys().collect();
    assert_eq!(seen, expected, "no finding lost");
    // Each finding has exactly one creation event.
    let events = support::assert_one_creation_event(&store, &findings);
    eprintln!(
        "FIGURE crash test: {} SIGKILLs, {} agents x {} snapshots ({retries} re-sends), {} findings, {} events",
        4,
        AGENTS,
        SNAPSHOTS,
        findings.len(),
        events.len()
    );
}
