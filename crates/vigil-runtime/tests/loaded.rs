//! Loaded packages: files mapped or open in a process, resolved to the package owning them.
//! Fixture tree first, then real `python3` and `node` processes (skipped with a message when
//! the interpreter is missing).

#![allow(clippy::unwrap_used)] // test helpers: a failed setup should fail loudly

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use vigil_runtime::{
    LoadedVia, OwnerResolver, OwnerSource, ProcfsRoot, loaded_files, loaded_packages,
};
use vigil_testkit::standin::{self, Guard, have, write};

fn fixture_proc() -> ProcfsRoot {
    ProcfsRoot::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proc"))
}

/// `ecosystem:name@version source [file via deleted]…` per package, for compact comparison.
fn describe(packages: &[vigil_runtime::LoadedPackage]) -> Vec<String> {
    packages
        .iter()
        .map(|p| {
            let files: Vec<String> = p
                .files
                .iter()
                .map(|f| {
                    let name = f.path.file_name().unwrap().to_string_lossy().into_owned();
                    format!(
                        "{name}:{:?}{}",
                        f.via,
                        if f.deleted { ":deleted" } else { "" }
                    )
                })
                .collect();
            format!(
                "{} {:?} [{}]",
                p.owner.component,
                p.owner.source,
                files.join(" ")
            )
        })
        .collect()
}

#[test]
fn fixture_loaded_packages() {
    let procfs = fixture_proc();
    let mut resolver = OwnerResolver::default();
    let cases: &[(u32, &[&str])] = &[
        (
            4242,
            &[
                // Scoped package held open (one file deleted since), native addon mapped;
                // left-pad is installed but not loaded, so it is not here.
                "npm:@acme/logger@2.0.0-rc.1 PackageJson [old.js:Open:deleted transport.js:Open]",
                "npm:bcrypt@5.1.1 PackageJson [bcrypt_lib.node:Mapped]",
            ],
        ),
        (
            5151,
            &[
                "PyPI:fast-ext@2.0.1 DistInfoRecord [_speedups.cpython-311-x86_64-linux-gnu.so:Mapped]",
                "PyPI:numpy@1.26.4 DistInfoRecord [libopenblas64_p-r0-15028c96.3.21.so:Mapped]",
                // The jar it holds open is not loaded: a Python process cannot run it.
            ],
        ),
        (1, &[]),
    ];
    for (pid, want) in cases {
        let got = loaded_packages(&procfs, *pid, Some(1), &mut resolver).unwrap();
        assert_eq!(describe(&got), *want, "pid {pid}");
    }
    // The jar resolves to its Maven coordinates (from its pom.properties) all the same.
    let jar = resolver
        .resolve(
            &procfs.pid_path(5151, "root"),
            Some(1),
            Path::new("/app/lib/jackson-databind-2.15.2.jar"),
        )
        .unwrap();
    assert_eq!(
        jar.component.to_string(),
        "Maven:com.fasterxml.jackson.core:jackson-databind@2.15.2"
    );
    assert_eq!(jar.source, OwnerSource::PomProperties);
    // Non-package files are still listed as loaded files, just unowned.
    let files = loaded_files(&procfs, 4242).unwrap();
    assert!(files.iter().any(
        |f| f.path == Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6")
            && f.via == LoadedVia::Mapped
    ));
    assert!(
        files
            .iter()
            .any(|f| f.path == Path::new("/srv/app/server.log"))
    );
    assert!(
        !files
            .iter()
            .any(|f| f.path.to_string_lossy().contains("socket"))
    );
}

#[test]
fn vanished_process_is_unreadable_not_a_panic() {
    let procfs = fixture_proc();
    assert!(loaded_files(&procfs, 7000).is_err());
    assert!(loaded_files(&procfs, 999_999).is_err());
}

/// A child we started, killed and reaped when dropped (even when the test fails).
/// Starts `cmd` and waits for its first stdout line to be `ready`.
fn start_ready(cmd: Command) -> Guard {
    let (child, lines) = standin::start(cmd);
    let first = lines
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_default();
    assert_eq!(first.trim(), "ready", "child did not start");
    child
}

#[test]
fn live_python_package_held_open_is_loaded() {
    if !have("python3") {
        eprintln!("skipped: python3 not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sp = tmp.path().join("venv/lib/python3/site-packages");
    write(
        &sp.join("vigil_standin_pkg/__init__.py"),
        "import os\n_held = open(os.path.join(os.path.dirname(__file__), 'data.txt'), 'rb')\n",
    );
    write(&sp.join("vigil_standin_pkg/data.txt"), "stand-in\n");
    write(
        &sp.join("vigil_standin_pkg-0.0.1.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: vigil-standin-pkg\nVersion: 0.0.1\n",
    );
    write(
        &sp.join("vigil_standin_pkg-0.0.1.dist-info/RECORD"),
        "vigil_standin_pkg/__init__.py,,\nvigil_standin_pkg/data.txt,,\nvigil_standin_pkg-0.0.1.dist-info/METADATA,,\n",
    );
    // A clean distribution beside it that the process never imports.
    write(
        &sp.join("vigil_unused-1.0.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: vigil-unused\nVersion: 1.0\n",
    );
    write(&sp.join("vigil_unused/__init__.py"), "");

    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(format!(
        "import sys; sys.path.insert(0, {:?}); import vigil_standin_pkg; print('ready', flush=True); sys.stdin.read()",
        sp.to_str().unwrap()
    ));
    let child = start_ready(cmd);
    let pid = child.0.id();

    let procfs = ProcfsRoot::system();
    let mut resolver = OwnerResolver::default();
    let packages = loaded_packages(&procfs, pid, None, &mut resolver).unwrap();
    let names: Vec<String> = packages
        .iter()
        .map(|p| p.owner.component.to_string())
        .collect();
    let standin = packages
        .iter()
        .find(|p| p.owner.component.name.key() == "vigil-standin-pkg")
        .unwrap_or_else(|| panic!("stand-in not loaded in pid {pid}: {names:?}"));
    assert_eq!(&*standin.owner.component.version, "0.0.1");
    assert_eq!(standin.owner.source, OwnerSource::DistInfoRecord);
    assert!(
        standin
            .files
            .iter()
            .any(|f| f.path.ends_with("vigil_standin_pkg/data.txt") && f.via == LoadedVia::Open)
    );
    assert!(
        !names.iter().any(|n| n.contains("vigil-unused")),
        "{names:?}"
    );
}

#[test]
fn live_node_package_held_open_is_loaded() {
    if !have("node") {
        eprintln!("skipped: node not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    let holder = "const fs = require('fs');\nmodule.exports.held = fs.openSync(__dirname + '/data.txt', 'r');\n";
    for (dir, name, version) in [
        (
            "node_modules/vigil-standin-npm",
            "vigil-standin-npm",
            "1.2.3",
        ),
        (
            "node_modules/@vigil-test/scoped",
            "@vigil-test/scoped",
            "0.1.0",
        ),
    ] {
        write(
            &app.join(dir).join("package.json"),
            &format!(
                "{{\"name\": \"{name}\", \"version\": \"{version}\", \"main\": \"index.js\"}}"
            ),
        );
        write(&app.join(dir).join("index.js"), holder);
        write(&app.join(dir).join("data.txt"), "stand-in\n");
    }
    write(
        &app.join("node_modules/vigil-unused/package.json"),
        "{\"name\": \"vigil-unused\", \"version\": \"9.9.9\"}",
    );
    write(
        &app.join("app.js"),
        "require('vigil-standin-npm');\nrequire('@vigil-test/scoped');\nconsole.log('ready');\nprocess.stdin.resume();\nprocess.stdin.on('end', () => process.exit(0));\n",
    );
    let mut cmd = Command::new("node");
    cmd.arg("app.js").current_dir(&app);
    let child = start_ready(cmd);
    let pid = child.0.id();

    let procfs = ProcfsRoot::system();
    let mut resolver = OwnerResolver::default();
    let packages = loaded_packages(&procfs, pid, None, &mut resolver).unwrap();
    let mut names: Vec<String> = packages
        .iter()
        .map(|p| p.owner.component.to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "npm:@vigil-test/scoped@0.1.0",
            "npm:vigil-standin-npm@1.2.3"
        ],
        "pid {pid}"
    );
}
