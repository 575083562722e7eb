//! `vigil scan` as a user runs it, on a real-looking application tree with harmless stand-ins
//! of compromised versions (package.json / METADATA only, no code) beside clean neighbours.

#![allow(clippy::unwrap_used)] // test helpers: a failed fixture write should stop the test

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn vigil() -> Command {
    let mut cmd = Command::cargo_bin("vigil").expect("vigil binary is built for integration tests");
    // Never pick up intel from the developer's own data dir.
    cmd.env("VIGIL_DATA_DIR", "/nonexistent-vigil-data-dir");
    cmd
}

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().expect("fixture paths have parents")).unwrap();
    fs::write(path, text).unwrap();
}

fn npm_package(root: &Path, dir: &str, name: &str, version: &str) {
    write(
        root,
        &format!("{dir}/package.json"),
        &format!(r#"{{"name": "{name}", "version": "{version}", "author": ["arrays are fine"]}}"#),
    );
}

fn dist_info(root: &Path, site: &str, name: &str, version: &str) {
    write(
        root,
        &format!("{site}/{name}-{version}.dist-info/METADATA"),
        &format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody\n"),
    );
}

/// A clean application: the safe neighbours of every compromised version.
fn clean_tree(root: &Path) {
    npm_package(root, "app/node_modules/debug", "debug", "4.4.3");
    npm_package(root, "app/node_modules/chalk", "chalk", "5.6.2");
    npm_package(
        root,
        "app/node_modules/@ctrl/tinycolor",
        "@ctrl/tinycolor",
        "4.3.0",
    );
    npm_package(root, "app/node_modules/express", "express", "5.1.0");
    npm_package(
        root,
        "app/node_modules/express/node_modules/debug",
        "debug",
        "2.6.9",
    );
    dist_info(
        root,
        "venv/lib/python3.11/site-packages",
        "requests",
        "2.32.3",
    );
    write(
        root,
        "app/package-lock.json",
        r#"{"name": "app", "lockfileVersion": 3, "packages": {
            "": {"name": "app"},
            "node_modules/debug": {"version": "4.4.3"},
            "node_modules/chalk": {"version": "5.6.2"}
        }}"#,
    );
}

/// Plants the stand-ins: nested deep, scoped, in a lockfile, in a venv.
fn plant_compromised(root: &Path) {
    npm_package(
        root,
        "app/node_modules/express/node_modules/send/node_modules/debug",
        "debug",
        "4.4.2",
    );
    npm_package(root, "app/node_modules/chalk", "chalk", "5.6.1");
    npm_package(
        root,
        "app/node_modules/@ctrl/tinycolor",
        "@ctrl/tinycolor",
        "4.1.1",
    );
    write(
        root,
        "other/package-lock.json",
        r#"{"name": "other", "lockfileVersion": 3, "packages": {
            "": {"name": "other"},
            "node_modules/nx": {"version": "21.5.0", "dev": true}
        }}"#,
    );
    dist_info(
        root,
        "venv/lib/python3.11/site-packages",
        "evil_helper",
        "1.0.0",
    );
}

fn scan_json(root: &Path, extra: &[&str]) -> (i32, Value) {
    let output = vigil()
        .current_dir(root)
        .args(["scan", "--format", "json", "."])
        .args(extra)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), report)
}

/// (advisory id, name, version, evidence, locations) of every finding.
fn findings(report: &Value) -> BTreeSet<(String, String, String, String, Vec<String>)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["advisory"]["kind"], "MALICIOUS", "{f}");
            (
                f["advisory"]["id"].as_str().unwrap().to_owned(),
                f["component"]["name"].as_str().unwrap().to_owned(),
                f["component"]["version"].as_str().unwrap().to_owned(),
                f["evidence"].as_str().unwrap().to_owned(),
                f["locations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

fn row(
    id: &str,
    name: &str,
    version: &str,
    evidence: &str,
    location: &str,
) -> (String, String, String, String, Vec<String>) {
    (
        id.to_owned(),
        name.to_owned(),
        version.to_owned(),
        evidence.to_owned(),
        vec![location.to_owned()],
    )
}

#[test]
fn reports_exactly_the_planted_packages_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    clean_tree(root);
    plant_compromised(root);
    // A team's own incident list names the PyPI stand-in.
    write(root, "incident.txt", "# our list\nPyPI:evil-helper@1.0.0\n");

    let (code, report) = scan_json(root, &["--intel", "incident.txt"]);
    assert_eq!(code, 1, "{report}");
    let want: BTreeSet<_> = [
        row(
            "MAL-2025-46974",
            "debug",
            "4.4.2",
            "INSTALLED",
            "./app/node_modules/express/node_modules/send/node_modules/debug/package.json",
        ),
        row(
            "MAL-2025-46969",
            "chalk",
            "5.6.1",
            "INSTALLED",
            "./app/node_modules/chalk/package.json",
        ),
        row(
            "MAL-2025-47141",
            "@ctrl/tinycolor",
            "4.1.1",
            "INSTALLED",
            "./app/node_modules/@ctrl/tinycolor/package.json",
        ),
        row(
            "MAL-2025-41443",
            "nx",
            "21.5.0",
            "DECLARED",
            "./other/package-lock.json",
        ),
        row(
            "CUSTOM-incident-1",
            "evil_helper",
            "1.0.0",
            "INSTALLED",
            "./venv/lib/python3.11/site-packages/evil_helper-1.0.0.dist-info/METADATA",
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(findings(&report), want);
    assert_eq!(report["counts"]["malicious"], 5);
    // The safe neighbours are inventoried, not reported.
    let components: BTreeSet<(String, String)> = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for clean in [("debug", "4.4.3"), ("debug", "2.6.9"), ("express", "5.1.0")] {
        assert!(
            components.contains(&(clean.0.to_owned(), clean.1.to_owned())),
            "{clean:?} missing from {components:?}"
        );
    }
}

#[test]
fn clean_tree_exits_0_with_no_findings() {
    let dir = tempfile::tempdir().unwrap();
    clean_tree(dir.path());
    let (code, report) = scan_json(dir.path(), &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["findings"].as_array().unwrap().len(), 0);
    assert_eq!(report["counts"]["instances"], 8, "{}", report["counts"]);
}

#[test]
fn fail_on_none_exits_0_even_with_findings() {
    let dir = tempfile::tempdir().unwrap();
    clean_tree(dir.path());
    plant_compromised(dir.path());
    let (code, report) = scan_json(dir.path(), &["--fail-on", "none"]);
    assert_eq!(code, 0);
    assert_eq!(report["counts"]["malicious"], 4);
}

#[test]
fn real_pypi_advisory_from_the_shared_intel() {
    let Some(zip) = vigil_testkit::shared_path(
        "intel/malicious-packages-osv.zip",
        "scan with the real malicious-packages intel",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    clean_tree(dir.path());
    dist_info(
        dir.path(),
        "venv/lib/python3.11/site-packages",
        "123bla",
        "0.0.1",
    );
    let (code, report) = scan_json(dir.path(), &["--intel", zip.to_str().unwrap()]);
    assert_eq!(code, 1, "{report}");
    let ids: BTreeSet<String> = findings(&report).into_iter().map(|f| f.0).collect();
    assert_eq!(ids, BTreeSet::from(["MAL-2024-10238".to_owned()]));
}

#[test]
fn hostile_names_are_escaped_in_the_table() {
    let dir = tempfile::tempdir().unwrap();
    npm_package(
        dir.path(),
        "node_modules/evil",
        "evil\\u001b[2J\\u001b]0;pwned\\u0007",
        "1.0.0",
    );
    let output = vigil()
        .current_dir(dir.path())
        .args(["scan", "."])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(!output.stdout.contains(&0x1b), "raw escape in table output");
}

#[test]
fn bad_arguments_and_missing_paths_exit_2() {
    let cases: &[&[&str]] = &[
        &["scan", "--format", "yaml", "."],
        &["scan", "--fail-on", "sometimes", "."],
        &["scan", "/definitely/not/here"],
        &["scan", "--intel", "/definitely/not/here.json", "."],
    ];
    for args in cases {
        vigil().args(*args).assert().code(2);
    }
}

#[test]
fn output_file_and_every_format() {
    let dir = tempfile::tempdir().unwrap();
    clean_tree(dir.path());
    plant_compromised(dir.path());
    for format in ["table", "json", "sarif", "cyclonedx", "spdx"] {
        let out = dir.path().join(format!("report.{format}"));
        vigil()
            .current_dir(dir.path())
            .args(["scan", "--format", format, "-o"])
            .arg(&out)
            .arg("app")
            .assert()
            .code(1);
        let text = fs::read_to_string(&out).unwrap();
        assert!(text.contains("4.4.2"), "{format}: {text}");
    }
}
