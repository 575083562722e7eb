//! The fanotify watcher against real interpreters (root; skipped with a message otherwise):
//! pure-Python and node packages that are opened, read and closed — invisible to maps/fd —
//! must show up as loaded for the right pid, and process exit must drop their state.

#![allow(clippy::unwrap_used)] // test helpers: a failed setup should fail loudly

use std::process::Command;
use std::sync::mpsc::TryRecvError;
use std::time::{Duration, Instant};

use vigil_runtime::{
    LoadedVia, OwnerResolver, OwnerSource, ProcfsRoot, Watcher, loaded_packages, merge_loaded,
};
use vigil_testkit::standin::{self, Guard, have, write};

fn watcher_or_skip() -> Option<Watcher> {
    match Watcher::new() {
        Ok(w) => Some(w),
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

/// Starts `cmd`, waits for `ready` on stdout, polling the watcher meanwhile so the kernel
/// queue does not fill.
fn start_ready(cmd: Command, watcher: &mut Watcher) -> Guard {
    let (child, lines) = standin::start(cmd);
    let deadline = Instant::now() + Duration::from_secs(20);
    let first = loop {
        match lines.try_recv() {
            Ok(line) => break line,
            Err(TryRecvError::Empty) if Instant::now() < deadline => {
                watcher.poll(Duration::from_millis(50)).unwrap();
            }
            Err(_) => break String::new(),
        }
    };
    assert_eq!(first.trim(), "ready", "child did not start");
    watcher.poll(Duration::from_millis(100)).unwrap();
    child
}

#[test]
fn pure_python_import_is_observed_and_exit_drops_state() {
    if !have("python3") {
        eprintln!("skipped: python3 not installed");
        return;
    }
    let Some(mut watcher) = watcher_or_skip() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let sp = tmp.path().join("venv/lib/python3.11/site-packages");
    write(&sp.join("vigil_pure_standin/__init__.py"), "VALUE = 1\n");
    write(
        &sp.join("vigil_pure_standin/helpers.py"),
        "def f():\n    return 2\n",
    );
    write(
        &sp.join("vigil_pure_standin-6.6.6.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: vigil-pure-standin\nVersion: 6.6.6\n",
    );
    write(
        &sp.join("vigil_pure_standin-6.6.6.dist-info/RECORD"),
        "vigil_pure_standin/__init__.py,,\nvigil_pure_standin/helpers.py,,\n",
    );
    write(
        &sp.join("vigil_clean-1.0.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: vigil-clean\nVersion: 1.0\n",
    );
    write(&sp.join("vigil_clean/__init__.py"), "");
    assert!(watcher.watch_path(&sp).unwrap());
    assert!(
        !watcher.watch_path(tmp.path()).unwrap(),
        "same filesystem: one mark"
    );

    let mut cmd = Command::new("python3");
    cmd.arg("-B").arg("-c").arg(format!(
        "import sys; sys.path.insert(0, {:?}); import vigil_pure_standin.helpers; print('ready', flush=True); sys.stdin.read()",
        sp.to_str().unwrap()
    ));
    let child = start_ready(cmd, &mut watcher);
    let pid = child.0.id();

    // maps/fd alone do not see it: the module files were closed after import.
    let mut resolver = OwnerResolver::default();
    let snapshot = loaded_packages(&ProcfsRoot::system(), pid, None, &mut resolver).unwrap();
    assert!(
        !snapshot
            .iter()
            .any(|p| p.owner.component.name.as_str() == "vigil-pure-standin"),
        "unexpectedly held open"
    );

    let state = watcher
        .process(pid)
        .unwrap_or_else(|| panic!("pid {pid} not observed"));
    let names: Vec<String> = state
        .packages
        .values()
        .map(|(o, _)| o.component.to_string())
        .collect();
    // The interpreter's own startup (site, .pth files) may load system packages too; the
    // stand-in must be there and the clean package beside it, never imported, must not.
    assert!(
        names.contains(&"PyPI:vigil-pure-standin@6.6.6".to_string()),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains("vigil-clean")),
        "{names:?}"
    );
    let (owner, first) = state
        .packages
        .values()
        .find(|(o, _)| o.component.name.as_str() == "vigil-pure-standin")
        .unwrap();
    assert_eq!(owner.source, OwnerSource::DistInfoRecord);
    assert!(first.starts_with(&sp), "{first:?}");

    // Snapshot and observations merge into one view: LOADED via observation.
    let merged = merge_loaded(snapshot, state.loaded());
    let standin = merged
        .iter()
        .find(|p| p.owner.component.name.as_str() == "vigil-pure-standin")
        .unwrap();
    assert_eq!(standin.files[0].via, LoadedVia::Observed);
    let observations = watcher.take_observations();
    assert!(
        observations
            .iter()
            .any(|o| o.pid == pid && o.owner.component.name.as_str() == "vigil-pure-standin")
    );
    assert!(watcher.take_observations().is_empty(), "drained");

    drop(child);
    assert!(watcher.reap() >= 1);
    assert!(watcher.process(pid).is_none());
    eprintln!("stats: {:?}", watcher.stats());
}

#[test]
fn node_require_is_observed_per_pid() {
    if !have("node") {
        eprintln!("skipped: node not installed");
        return;
    }
    let Some(mut watcher) = watcher_or_skip() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    write(
        &app.join("node_modules/vigil-debug-standin/package.json"),
        "{\"name\": \"vigil-debug-standin\", \"version\": \"4.4.2\"}",
    );
    write(
        &app.join("node_modules/vigil-debug-standin/index.js"),
        "module.exports = () => 1;\n",
    );
    write(
        &app.join("node_modules/@vigil-test/clean/package.json"),
        "{\"name\": \"@vigil-test/clean\", \"version\": \"1.0.0\"}",
    );
    write(
        &app.join("node_modules/@vigil-test/clean/index.js"),
        "module.exports = 2;\n",
    );
    write(
        &app.join("node_modules/vigil-on-disk-only/package.json"),
        "{\"name\": \"vigil-on-disk-only\", \"version\": \"0.0.1\"}",
    );
    write(
        &app.join("app.js"),
        "require('vigil-debug-standin');\nrequire('@vigil-test/clean');\nconsole.log('ready');\nprocess.stdin.resume();\nprocess.stdin.on('end', () => process.exit(0));\n",
    );
    watcher.watch_path(&app).unwrap();
    let mut cmd = Command::new("node");
    cmd.arg("app.js").current_dir(&app);
    let child = start_ready(cmd, &mut watcher);
    let pid = child.0.id();
    let state = watcher
        .process(pid)
        .unwrap_or_else(|| panic!("pid {pid} not observed"));
    let mut names: Vec<String> = state
        .packages
        .values()
        .map(|(o, _)| o.component.to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "npm:@vigil-test/clean@1.0.0",
            "npm:vigil-debug-standin@4.4.2"
        ],
        "on-disk-only package must not be loaded"
    );
}

#[test]
fn reading_is_not_loading() {
    if !have("python3") {
        eprintln!("skipped: python3 not installed");
        return;
    }
    let Some(mut watcher) = watcher_or_skip() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    write(
        &app.join("node_modules/vigil-read-only/package.json"),
        "{\"name\": \"vigil-read-only\", \"version\": \"1.0.0\"}",
    );
    write(&app.join("node_modules/vigil-read-only/index.js"), "1;\n");
    let sp = tmp.path().join("venv/lib/python3.11/site-packages");
    write(
        &sp.join("vigil_read_meta-1.0.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: vigil-read-meta\nVersion: 1.0\n",
    );
    write(
        &sp.join("vigil_read_meta-1.0.dist-info/RECORD"),
        "vigil_read_meta/__init__.py,,\n",
    );
    write(&sp.join("vigil_read_meta/__init__.py"), "");
    watcher.watch_path(&app).unwrap();
    // A python process reading a whole package tree like a scanner does: the npm package's
    // code (python cannot run it) and the PyPI package's metadata only (not its code).
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(format!(
        "import os\nfor root, _, files in os.walk({:?}):\n    for f in files:\n        open(os.path.join(root, f), 'rb').read()\nfor f in ['METADATA', 'RECORD']:\n    open(os.path.join({:?}, 'vigil_read_meta-1.0.dist-info', f), 'rb').read()\nprint('ready', flush=True)\nimport sys; sys.stdin.read()",
        app.join("node_modules").to_str().unwrap(),
        sp.to_str().unwrap(),
    ));
    let child = start_ready(cmd, &mut watcher);
    let pid = child.0.id();
    let names: Vec<String> = watcher
        .process(pid)
        .map(|state| {
            state
                .packages
                .values()
                .map(|(o, _)| o.component.to_string())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !names.iter().any(|n| n.contains("vigil-read")),
        "read, not loaded: {names:?}"
    );
    assert!(watcher.stats().not_loads >= 3, "{:?}", watcher.stats());
}
