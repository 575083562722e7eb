//! Fixtures shared by the store's integration tests.
#![allow(dead_code)]

use vigil_core::{Component, Ecosystem, Evidence};
use vigil_store::{
    HostInfo, InstanceInput, OpenOptions, Removals, Snapshot, SnapshotKind, Store, Timestamp,
};

/// A timestamp `seconds` after an arbitrary fixed origin.
pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_700_000_000_000 + seconds * 1000)
}

pub fn host(name: &str) -> HostInfo {
    HostInfo {
        name: name.to_owned(),
        os_name: Some("Debian GNU/Linux".into()),
        os_version: Some("12".into()),
        arch: Some("x86_64".into()),
        agent_version: Some("0.1.0".into()),
        labels: Default::default(),
    }
}

pub fn instance(ecosystem: &str, name: &str, version: &str, path: &str) -> InstanceInput {
    InstanceInput {
        component: Component::new(Ecosystem::parse(ecosystem), name, version),
        purl: None,
        container_id: None,
        path: path.to_owned(),
        evidence: Evidence::Installed,
        dev: false,
        pids: Vec::new(),
    }
}

pub fn full(host_name: &str, sequence: u64, instances: Vec<InstanceInput>) -> Snapshot {
    Snapshot {
        host: host(host_name),
        sequence,
        kind: SnapshotKind::Full,
        containers: Vec::new(),
        processes: Vec::new(),
        instances,
    }
}

pub fn delta(
    host_name: &str,
    sequence: u64,
    instances: Vec<InstanceInput>,
    removals: Removals,
) -> Snapshot {
    Snapshot {
        kind: SnapshotKind::Delta(removals),
        ..full(host_name, sequence, instances)
    }
}

/// A store in a fresh temporary directory.
pub fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open_sqlite(dir.path().join("vigil.db"), &OpenOptions::default())
        .expect("open store");
    (dir, store)
}

/// `n` npm instances named `pkg-0` … at version `version`.
pub fn many(n: usize, version: &str) -> Vec<InstanceInput> {
    (0..n)
        .map(|i| {
            instance(
                "npm",
                &format!("pkg-{i}"),
                version,
                &format!("/srv/app/node_modules/pkg-{i}"),
            )
        })
        .collect()
}
