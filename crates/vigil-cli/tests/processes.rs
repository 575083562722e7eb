//! `vigil scan --processes --watch`: the acceptance test of the runtime inventory (issue 5).
//!
//! Real interpreters, harmless stand-ins. A `node` application whose `node_modules` holds a
//! stand-in of the compromised `debug@4.4.2` (a few lines of JavaScript, nothing malicious)
//! beside the clean `ms@2.1.3` it requires and a `left-pad` nobody requires; a `python3`
//! started from a venv whose site-packages holds a stand-in of the PyPI malware `123bla 0.0.1`
//! (MAL-2024-10238; the real OSV record when the shared intel zip is there, else a one-line
//! incident list naming it by purl) beside a clean module it imports and one it never imports.
//!
//! Both processes start *before* vigil, so its first sweep finds them and the application
//! roots they resolve packages from, but they load nothing until vigil says it is watching
//! (they wait for a signal file). Pure JavaScript and pure Python packages are opened, read and
//! closed — invisible to `maps` and `fd` afterwards — so only the fanotify watcher can see them
//! load; that is exactly what this test holds the product to:
//! - each stand-in is a `MALICIOUS` finding with evidence `LOADED` and the right pid;
//! - the clean packages that were loaded are `LOADED`, with no finding;
//! - a package only present on disk is `INSTALLED`, not `LOADED`;
//! - on a Debian-family host, the OS packages owning the interpreter's mapped libraries are
//!   `LOADED` by it too.
//!
//! Needs root (fanotify) and both interpreters; otherwise it prints `SKIPPED:` and passes.
//! Every child is killed and reaped when the test ends, panics included.

#![allow(clippy::unwrap_used)] // test helpers: a failed setup should stop the test loudly

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use serde_json::Value;
use vigil_testkit::standin::{self, Guard, euid, expect_line, have, start, write};

/// The node application: waits for `signal`, then requires the stand-in `debug` (which
/// requires `ms`), and keeps running.
fn node_app(root: &Path, signal: &Path) -> PathBuf {
    let app = root.join("node-app");
    standin::node_modules(&app);
    write(
        &app.join("server.js"),
        &format!(
            "const fs = require('fs');\n\
             console.log('started');\n\
             const wait = () => {{\n\
               if (!fs.existsSync({signal:?})) return setTimeout(wait, 25);\n\
               require('debug')('app')('up');\n\
               console.log('loaded');\n\
               setInterval(() => {{}}, 60000);\n\
             }};\n\
             wait();\n"
        ),
    );
    app
}

/// The python application in a venv: waits for `signal`, then imports the stand-in and a
/// clean module, and keeps running. Returns (app dir, interpreter to start).
fn python_app(root: &Path, signal: &Path, malicious: (&str, &str)) -> (PathBuf, PathBuf) {
    let out = Command::new("python3")
        .args([
            "-c",
            "import os, sys; print(os.path.realpath(sys.executable)); print('%d.%d' % sys.version_info[:2])",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut text = text.lines();
    let real = PathBuf::from(text.next().unwrap());
    let version = text.next().unwrap().to_owned();

    let app = root.join("py-app");
    let venv = app.join("venv");
    write(
        &venv.join("pyvenv.cfg"),
        &format!(
            "home = {}\ninclude-system-site-packages = false\nversion = {version}\n",
            real.parent().unwrap().display()
        ),
    );
    std::fs::create_dir_all(venv.join("bin")).unwrap();
    let python = venv.join("bin/python3");
    std::os::unix::fs::symlink(&real, &python).unwrap();
    let sp = venv.join(format!("lib/python{version}/site-packages"));
    let (name, mal_version) = malicious;
    let dist = |module: &str, project: &str, version: &str, code: &str| {
        write(&sp.join(module).join("__init__.py"), code);
        let info = sp.join(format!("{module}-{version}.dist-info"));
        write(
            &info.join("METADATA"),
            &format!("Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n"),
        );
        write(
            &info.join("RECORD"),
            &format!(
                "{module}/__init__.py,,\n{module}-{version}.dist-info/METADATA,,\n{module}-{version}.dist-info/RECORD,,\n"
            ),
        );
    };
    dist(
        name,
        name,
        mal_version,
        "# Harmless stand-in of a malicious PyPI package.\nVALUE = 1\n",
    );
    dist("vigil_clean_dep", "vigil-clean-dep", "2.0.0", "VALUE = 2\n");
    dist("vigil_idle", "vigil-idle", "3.0.0", "VALUE = 3\n");
    write(
        &app.join("main.py"),
        &format!(
            "import importlib, os, sys, time\n\
             print('started', flush=True)\n\
             while not os.path.exists({signal:?}):\n\
             \x20   time.sleep(0.025)\n\
             importlib.import_module({name:?})\n\
             import vigil_clean_dep\n\
             print('loaded', flush=True)\n\
             sys.stdin.read()\n",
            signal = signal.to_str().unwrap(),
        ),
    );
    (app, python)
}

fn instances<'a>(report: &'a Value, name: &str) -> Vec<&'a Value> {
    report["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == name)
        .collect()
}

fn pids(value: &Value) -> BTreeSet<u64> {
    value["processes"]
        .as_array()
        .map(|ps| ps.iter().filter_map(|p| p["pid"].as_u64()).collect())
        .unwrap_or_default()
}

#[test]
fn loaded_stand_ins_are_malicious_findings_with_their_pids() {
    if euid() != Some(0) {
        eprintln!("SKIPPED: the runtime acceptance test needs root (fanotify)");
        return;
    }
    for program in ["node", "python3"] {
        if !have(program) {
            eprintln!("SKIPPED: the runtime acceptance test needs {program}");
            return;
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let signal = root.join("go");

    // The real OSV record of the PyPI malware when the shared intel is there; otherwise an
    // incident list naming the same package (as a purl: `PyPI:123bla` would read as package
    // `PyPI` at version `123bla`, the list format's rule for `go:1.2.0`).
    let intel = vigil_testkit::shared_path(
        "intel/malicious-packages-osv.zip",
        "real MAL-2024-10238 record (an incident list stands in)",
    )
    .unwrap_or_else(|| {
        let list = root.join("incident.txt");
        write(&list, "pkg:pypi/123bla@0.0.1\n");
        list
    });

    let node_dir = node_app(root, &signal);
    let (py_dir, python) = python_app(root, &signal, ("123bla", "0.0.1"));

    let mut node_cmd = Command::new("node");
    node_cmd.arg("server.js").current_dir(&node_dir);
    let (node, node_out) = start(node_cmd);
    let mut py_cmd = Command::new(&python);
    py_cmd.arg("-B").arg("main.py").current_dir(&py_dir);
    let (py, py_out) = start(py_cmd);
    expect_line(&node_out, "started", "node");
    expect_line(&py_out, "started", "python");
    let (node_pid, py_pid) = (u64::from(node.0.id()), u64::from(py.0.id()));

    let mut vigil = Guard(
        Command::new(assert_cmd::cargo::cargo_bin("vigil"))
            .env("VIGIL_DATA_DIR", "/nonexistent-vigil-data-dir")
            .args(["scan", "--processes", "--watch", "3s", "--format", "json"])
            .arg("--intel")
            .arg(&intel)
            .arg(&node_dir)
            .arg(&py_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = vigil.0.stdout.take().unwrap();
    let json = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    let stderr = lines_any(vigil.0.stderr.take().unwrap());
    // Only once vigil watches may the applications load their packages.
    expect_line(&stderr, "watching package opens", "vigil");
    write(&signal, "go\n");
    expect_line(&node_out, "loaded", "node");
    expect_line(&py_out, "loaded", "python");

    let status = vigil.0.wait().unwrap();
    let text = json.join().unwrap();
    let report: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("vigil wrote no JSON report ({e}): {text}"));
    assert_eq!(status.code(), Some(1), "malicious findings exit 1");
    assert_eq!(report["processes_scanned"], true);

    // Each stand-in: MALICIOUS, LOADED, by the process that loaded it.
    for (name, version, pid) in [("debug", "4.4.2", node_pid), ("123bla", "0.0.1", py_pid)] {
        let findings: Vec<&Value> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["component"]["name"] == name)
            .collect();
        assert!(!findings.is_empty(), "no finding for {name}: {report:#}");
        for finding in findings {
            assert_eq!(finding["advisory"]["kind"], "MALICIOUS", "{finding:#}");
            assert_eq!(finding["component"]["version"], version);
            assert_eq!(finding["evidence"], "LOADED", "{finding:#}");
            assert_eq!(pids(finding), BTreeSet::from([pid]), "{finding:#}");
        }
        let loaded: Vec<&Value> = instances(&report, name)
            .into_iter()
            .filter(|i| i["evidence"] == "LOADED")
            .collect();
        assert_eq!(loaded.len(), 1, "{name}: {report:#}");
        assert_eq!(pids(loaded[0]), BTreeSet::from([pid]));
    }
    let findings_for = |name: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["component"]["name"] == name)
    };
    // Clean packages that were loaded: LOADED by the right pid, no finding.
    for (name, pid) in [("ms", node_pid), ("vigil-clean-dep", py_pid)] {
        let all = instances(&report, name);
        assert!(
            all.iter()
                .any(|i| i["evidence"] == "LOADED" && pids(i) == BTreeSet::from([pid])),
            "{name} not LOADED by {pid}: {all:#?}"
        );
        assert!(!findings_for(name), "{name} has a finding");
    }
    // On disk only: INSTALLED, never LOADED, no processes.
    for name in ["left-pad", "vigil-idle"] {
        let all = instances(&report, name);
        assert!(!all.is_empty(), "{name} missing: {report:#}");
        for instance in all {
            assert_eq!(instance["evidence"], "INSTALLED", "{instance:#}");
            assert!(pids(instance).is_empty(), "{instance:#}");
        }
        assert!(!findings_for(name));
    }
    // The interpreter's own shared libraries, by their OS package (Debian-family hosts).
    if Path::new("/var/lib/dpkg/status").exists() {
        let os_loaded_by_node = report["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["evidence"] == "LOADED" && pids(c).contains(&node_pid))
            .any(|c| {
                c["ecosystem"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("Debian") || e.starts_with("Ubuntu"))
                    && c["locations"][0] == "/var/lib/dpkg/status"
            });
        assert!(
            os_loaded_by_node,
            "no OS package loaded by node: {report:#}"
        );
    }
    drop((node, py));
}

/// Like [`lines`], for stderr.
fn lines_any(stderr: std::process::ChildStderr) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("{line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
