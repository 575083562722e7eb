//! `vigil scan --processes` on a host with many processes: time and memory of one full sweep.
//!
//! ```text
//! cargo build --release -p vigil-cli
//! cargo run --release -p vigil-scan --example process_scan_bench [-- TOTAL [NODE [PYTHON]]]
//! ```
//!
//! Spawns TOTAL processes (default 500): NODE node workers (default 25) of one application
//! with 300 installed packages, PYTHON python workers (default 25) in one venv with 100
//! distributions, each holding two package files open, and idle `sleep`s for the rest. Then:
//! 1. runs the sweep in this process (discovery, loaded packages, application roots and the
//!    packages installed there, merge, matching against the baseline intel, the JSON report)
//!    three times, reporting each time and this process's peak RSS;
//! 2. runs the release `vigil scan --processes --format json` binary under `/usr/bin/time`
//!    (when both exist) for the figure a user sees.

#![allow(clippy::unwrap_used)] // a benchmark harness: setup failures should stop it loudly

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use vigil_intel::ImportOptions;
use vigil_scan::{ProcessScanOptions, RunInfo};

struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
        }
        for c in &mut self.0 {
            let _ = c.wait();
        }
    }
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let node: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(25);
    let python: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(25);
    let tmp = tempfile::tempdir().unwrap();

    let app = tmp.path().join("node-app");
    for i in 0..300 {
        let dir = app.join(format!("node_modules/pkg{i}"));
        write(
            &dir.join("package.json"),
            &format!(r#"{{"name":"pkg{i}","version":"1.0.{i}"}}"#),
        );
        write(&dir.join("index.js"), "module.exports = 1;\n");
    }
    write(
        &app.join("node_modules/debug/package.json"),
        r#"{"name":"debug","version":"4.4.2"}"#,
    );
    write(&app.join("node_modules/debug/index.js"), "1;\n");
    write(
        &app.join("server.js"),
        "const fs = require('fs');\nfor (let i = 0; i < 20; i++) require('pkg' + i);\nconst held = [fs.openSync(__dirname + '/node_modules/pkg1/index.js', 'r'), fs.openSync(__dirname + '/node_modules/debug/index.js', 'r')];\nsetInterval(() => held, 60000);\n",
    );
    let sp = tmp.path().join("py-app/venv/lib/python3/site-packages");
    for i in 0..100 {
        let module = format!("mod{i}");
        write(&sp.join(&module).join("__init__.py"), "X = 1\n");
        let info = sp.join(format!("{module}-1.{i}.dist-info"));
        write(
            &info.join("METADATA"),
            &format!("Metadata-Version: 2.1\nName: {module}\nVersion: 1.{i}\n"),
        );
        write(&info.join("RECORD"), &format!("{module}/__init__.py,,\n"));
    }
    let py_main = tmp.path().join("py-app/main.py");
    write(
        &py_main,
        &format!(
            "import sys, time\nsys.path.insert(0, {sp:?})\nimport mod1, mod2\nheld = [open(mod1.__file__), open(mod2.__file__)]\ntime.sleep(600)\n",
            sp = sp.to_str().unwrap()
        ),
    );

    let mut children = Children(Vec::new());
    let spawn = |cmd: &mut Command| {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    for _ in 0..node {
        children.0.push(spawn(
            Command::new("node").arg("server.js").current_dir(&app),
        ));
    }
    for _ in 0..python {
        children
            .0
            .push(spawn(Command::new("python3").arg("-B").arg(&py_main)));
    }
    for _ in node + python..total {
        children.0.push(spawn(Command::new("sleep").arg("600")));
    }
    // Let the interpreters start and require their packages.
    std::thread::sleep(std::time::Duration::from_secs(
        3 + (node + python) as u64 / 10,
    ));

    let intel = vigil_scan::load_intel(None, &[], &ImportOptions::default()).unwrap();
    let before = status_kb("VmHWM:");
    for round in 1..=3 {
        let started = Instant::now();
        let scan = vigil_scan::scan_processes(&ProcessScanOptions::default(), &mut |_| {}).unwrap();
        let swept = started.elapsed();
        let processes = scan.processes;
        let sightings = vigil_scan::merge_sightings(Vec::new(), scan.sightings);
        let findings = vigil_scan::match_sightings(&intel.index, &sightings);
        let report = vigil_scan::build_merged_report(
            RunInfo {
                tool: vigil_report::Tool {
                    name: "vigil".into(),
                    version: "bench".into(),
                },
                targets: Vec::new(),
                started: String::new(),
                finished: String::new(),
            },
            &sightings,
            scan.errors,
            findings,
            true,
        );
        let mut out = Vec::new();
        vigil_report::render(
            &report,
            vigil_report::Format::Json,
            &vigil_report::TableOptions::default(),
            &mut out,
        )
        .unwrap();
        println!(
            "round {round}: {processes} processes, sweep {swept:?}, total {:?}; {} instances ({} loaded), {} findings, {} KiB JSON",
            started.elapsed(),
            report.components.len(),
            report
                .components
                .iter()
                .filter(|c| c.evidence == vigil_core::Evidence::Loaded)
                .count(),
            report.findings.len(),
            out.len() / 1024,
        );
    }
    println!(
        "in-process: peak RSS {} KiB (before the sweeps {before} KiB, baseline intel included)",
        status_kb("VmHWM:")
    );

    let vigil = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/vigil");
    if vigil.exists() && Path::new("/usr/bin/time").exists() {
        let out = Command::new("/usr/bin/time")
            .args(["-f", "%e s wall, %U s user, %S s sys, max RSS %M KiB"])
            .arg(&vigil)
            .args(["scan", "--processes", "--format", "json", "-o", "/dev/null"])
            .env("VIGIL_DATA_DIR", "/nonexistent-vigil-data-dir")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!(
            "vigil scan --processes (release binary): {}",
            stderr.lines().last().unwrap_or("")
        );
    }
}
