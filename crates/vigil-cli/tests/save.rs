//! `vigil scan … --save`: the scan becomes a snapshot of this host in the data directory's
//! store, and its findings are there for `vigil findings list`; saving again is idempotent
//! (one finding), and a package removed from a scanned root is marked gone.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn vigil() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("vigil"))
}

fn plant(tree: &Path, name: &str, version: &str) {
    let dir = tree.join("node_modules").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("package.json"),
        format!(r#"{{"name": "{name}", "version": "{version}"}}"#),
    )
    .unwrap();
}

fn findings(data: &Path) -> Vec<Value> {
    let out = vigil()
        .args(["findings", "list", "--format", "json", "--data-dir"])
        .arg(data)
        .env_remove("VIGIL_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["findings"].as_array().unwrap().clone()
}

fn save(tree: &Path, data: &Path, config: &Path) {
    let out = vigil()
        .args(["scan", "--format", "json", "--save", "--data-dir"])
        .arg(data)
        .arg(tree)
        .env("VIGIL_CONFIG", config)
        .output()
        .unwrap();
    // 1: the scan found something malicious (the default --fail-on).
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn scan_save_records_a_snapshot_with_its_findings() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    plant(&tree, "debug", "4.4.2");
    plant(&tree, "chalk", "5.6.1");
    let data = dir.path().join("data");
    let config = dir.path().join("vigil.toml");
    std::fs::write(&config, "[agent]\nhost_name = \"saved-host\"\n").unwrap();

    save(&tree, &data, &config);
    let f = findings(&data);
    let debug: Vec<&Value> = f
        .iter()
        .filter(|f| f["component.name"] == "debug")
        .collect();
    assert_eq!(debug.len(), 1, "{f:?}");
    assert_eq!(debug[0]["component.version"], "4.4.2");
    assert_eq!(debug[0]["host.name"], "saved-host");
    assert_eq!(debug[0]["finding.status"], "NEW");
    assert_eq!(f.len(), 2);

    // Again, with chalk removed: still one finding each, chalk's instance is gone.
    std::fs::remove_dir_all(tree.join("node_modules/chalk")).unwrap();
    save(&tree, &data, &config);
    let again = findings(&data);
    assert_eq!(again.len(), 2, "{again:?}");
    let store = vigil_store::Store::open_sqlite(
        data.join("vigil.db"),
        &vigil_store::OpenOptions::default(),
    )
    .unwrap();
    let host = store.host("saved-host").unwrap().unwrap();
    let present = store.instances_on_host(host.id, false).unwrap();
    let names: Vec<String> = present.iter().map(|i| i.component.to_string()).collect();
    assert_eq!(names, ["npm:debug@4.4.2"]);
}
