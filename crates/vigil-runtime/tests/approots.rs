//! Application roots and the packages installed in them: against the recorded `/proc` tree
//! (node with `NODE_PATH`, python in a venv found through the process's `PATH`, a system
//! python with Debian's `dist-packages`) and against built trees for the cases the fixture
//! does not hold (java class paths, venvs including system site-packages, flags).

#![allow(clippy::unwrap_used)] // test helpers: a failed fixture read should fail loudly

use std::path::{Path, PathBuf};

use vigil_runtime::{
    AppRoots, CommandLine, Discovery, InstalledResolver, Namespaces, Process, ProcfsRoot,
    RuntimeKind,
};

fn fixture_proc() -> ProcfsRoot {
    ProcfsRoot::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proc"))
}

fn strings(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.display().to_string()).collect()
}

#[test]
fn fixture_roots_and_installed_packages() {
    let procfs = fixture_proc();
    let sweep = Discovery::new(procfs.clone()).sweep().unwrap();
    struct Want {
        pid: u32,
        node_modules: &'static [&'static str],
        python_path: &'static [&'static str],
        installed: &'static [&'static str],
    }
    let table = [
        Want {
            pid: 4242,
            // The script's chain, then NODE_PATH (relative and missing entries dropped).
            node_modules: &["/srv/app/node_modules", "/opt/shared/node_modules"],
            python_path: &[],
            installed: &[
                "npm:shared-lib@3.0.0 /opt/shared/node_modules/shared-lib/package.json",
                "npm:@acme/logger@2.0.0-rc.1 /srv/app/node_modules/@acme/logger/package.json",
                "npm:bcrypt@5.1.1 /srv/app/node_modules/bcrypt/package.json",
                "npm:left-pad@1.3.0 /srv/app/node_modules/left-pad/package.json",
            ],
        },
        Want {
            pid: 5151,
            // `-m`: the working directory first; `python3` found in the venv through PATH.
            node_modules: &[],
            python_path: &["/app", "/app/.venv/lib/python3.11/site-packages"],
            installed: &[
                "PyPI:fast-ext@2.0.1 /app/.venv/lib/python3.11/site-packages/fast_ext-2.0.1.dist-info/METADATA",
                "PyPI:numpy@1.26.4 /app/.venv/lib/python3.11/site-packages/numpy-1.26.4.dist-info/METADATA",
            ],
        },
        Want {
            pid: 5300,
            // The script's directory; the system prefix with Debian's dist-packages.
            node_modules: &[],
            python_path: &["/srv", "/usr/lib/python3/dist-packages"],
            installed: &[
                "PyPI:PyYAML@6.0.1 /usr/lib/python3/dist-packages/PyYAML-6.0.1.dist-info/METADATA",
            ],
        },
        Want {
            pid: 1,
            node_modules: &[],
            python_path: &[],
            installed: &[],
        },
    ];
    let mut resolver = InstalledResolver::new();
    for want in table {
        let process = sweep.process(want.pid).unwrap();
        let roots = AppRoots::of(&procfs, process);
        assert_eq!(
            strings(&roots.node_modules),
            want.node_modules,
            "pid {}",
            want.pid
        );
        assert_eq!(
            strings(&roots.python_path),
            want.python_path,
            "pid {}",
            want.pid
        );
        let (installed, errors) =
            resolver.installed(&procfs, want.pid, process.namespaces.mnt, &roots);
        assert!(errors.is_empty(), "{errors:?}");
        let got: Vec<String> = installed
            .iter()
            .map(|p| format!("{} {}", p.component, p.manifest.display()))
            .collect();
        assert_eq!(got, want.installed, "pid {}", want.pid);
    }
}

/// A procfs with one process `pid` whose root is a directory we fill.
struct Tree {
    dir: tempfile::TempDir,
    pid: u32,
}

impl Tree {
    fn new(environ: &str) -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let pid = 77;
        std::fs::create_dir_all(dir.path().join("77/root")).unwrap();
        std::fs::write(dir.path().join("77/environ"), environ.replace(' ', "\0")).unwrap();
        Tree { dir, pid }
    }

    fn file(&self, inner: &str, text: &str) -> &Tree {
        let path = self
            .dir
            .path()
            .join("77/root")
            .join(inner.trim_start_matches('/'));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    fn roots(&self, kind: RuntimeKind, args: &[&str], cwd: &str, exe: &str) -> AppRoots {
        let process = Process {
            pid: self.pid,
            ppid: 1,
            start_time: 1,
            comm: "x".into(),
            exe: Some(exe.into()),
            exe_deleted: false,
            cmdline: CommandLine {
                args: args.iter().map(|a| a.to_string()).collect(),
                lossy: false,
            },
            cwd: Some(cwd.into()),
            uid: Some(0),
            euid: Some(0),
            user: None,
            kind,
            namespaces: Namespaces::default(),
            container: None,
            sockets: Vec::new(),
            restricted: false,
        };
        AppRoots::of(&ProcfsRoot::new(self.dir.path()), &process)
    }
}

#[test]
fn java_class_paths() {
    let tree = Tree::new("CLASSPATH=/env/a.jar");
    tree.file("/opt/app/app.jar", "")
        .file("/opt/app/lib/b.jar", "")
        .file("/opt/app/lib/c.JAR", "")
        .file("/opt/app/lib/notes.txt", "")
        .file("/opt/app/classes/X.class", "")
        .file("/opt/mods/m.jar", "")
        .file("/env/a.jar", "");
    let cases: &[(&[&str], &[&str])] = &[
        (
            &[
                "java",
                "-Xmx1g",
                "-cp",
                "lib/*:classes:app.jar",
                "com.x.Main",
                "-cp",
                "no.jar",
            ],
            &[
                "/opt/app/lib/b.jar",
                "/opt/app/lib/c.JAR",
                "/opt/app/app.jar",
            ],
        ),
        (
            &[
                "java",
                "--class-path=/opt/app/app.jar",
                "-p",
                "/opt/mods",
                "-m",
                "m/x.Main",
            ],
            &["/opt/app/app.jar", "/opt/mods/m.jar"],
        ),
        // -jar ignores CLASSPATH.
        (
            &["java", "-jar", "app.jar", "-cp", "lib/*"],
            &["/opt/app/app.jar"],
        ),
        // Neither: CLASSPATH.
        (&["java", "com.x.Main"], &["/env/a.jar"]),
        (&["java", "-cp", "/missing.jar:", "Main"], &[]),
    ];
    for (args, want) in cases {
        let roots = tree.roots(RuntimeKind::Java, args, "/opt/app", "/usr/bin/java");
        assert_eq!(strings(&roots.archives), *want, "{args:?}");
    }
}

#[test]
fn node_command_lines() {
    let tree = Tree::new("HOME=/home/u");
    tree.file("/srv/app/node_modules/a/package.json", "{}")
        .file("/srv/node_modules/b/package.json", "{}")
        .file("/proj/node_modules/c/package.json", "{}")
        .file("/home/u/.node_modules/d/package.json", "{}")
        .file("/srv/app/dist/main.js", "");
    let cases: &[(&[&str], &[&str])] = &[
        (
            &[
                "node",
                "--max-old-space-size=512",
                "../srv/app/dist/main.js",
                "-e",
                "x",
            ],
            &[
                "/srv/app/node_modules",
                "/srv/node_modules",
                "/home/u/.node_modules",
            ],
        ),
        // A preload resolves from the working directory too.
        (
            &["node", "-r", "dotenv/config", "/srv/app/dist/main.js"],
            &[
                "/srv/app/node_modules",
                "/srv/node_modules",
                "/proj/node_modules",
                "/home/u/.node_modules",
            ],
        ),
        // Eval: the working directory only.
        (
            &["node", "-e", "require('c')"],
            &["/proj/node_modules", "/home/u/.node_modules"],
        ),
        // bun's subcommand.
        (
            &["bun", "run", "/srv/app/dist/main.js"],
            &[
                "/srv/app/node_modules",
                "/srv/node_modules",
                "/home/u/.node_modules",
            ],
        ),
        // A directory as the script: its own node_modules first.
        (
            &["node", "/srv/app"],
            &[
                "/srv/app/node_modules",
                "/srv/node_modules",
                "/home/u/.node_modules",
            ],
        ),
    ];
    for (args, want) in cases {
        let roots = tree.roots(RuntimeKind::Node, args, "/proj", "/usr/bin/node");
        assert_eq!(strings(&roots.node_modules), *want, "{args:?}");
    }
}

#[test]
fn python_prefixes_venvs_and_flags() {
    let tree = Tree::new("HOME=/home/u PYTHONPATH=/extra:rel");
    tree.file("/usr/lib/python3.12/site-packages/.keep", "")
        .file("/usr/local/lib/python3.12/dist-packages/.keep", "")
        .file("/usr/lib/python3/dist-packages/.keep", "")
        .file("/home/u/.local/lib/python3.12/site-packages/.keep", "")
        .file("/extra/.keep", "")
        .file("/proj/rel/.keep", "")
        .file("/venv/bin/python", "")
        .file(
            "/venv/pyvenv.cfg",
            "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.12.1\n",
        )
        .file("/venv/lib/python3.12/site-packages/.keep", "")
        .file("/sysvenv/bin/python", "")
        .file(
            "/sysvenv/pyvenv.cfg",
            "home = /usr/bin\nInclude-System-Site-Packages = TRUE\n",
        )
        .file("/sysvenv/lib/python3.12/site-packages/.keep", "")
        .file("/proj/app/main.py", "");
    let system = [
        "/usr/lib/python3.12/site-packages",
        "/usr/local/lib/python3.12/dist-packages",
        "/usr/lib/python3/dist-packages",
    ];
    let user = "/home/u/.local/lib/python3.12/site-packages";
    let cases: Vec<(&[&str], Vec<&str>)> = vec![
        (
            &["python3", "app/main.py"],
            [&["/proj/app", "/extra", "/proj/rel"][..], &system, &[user]].concat(),
        ),
        (
            &["/venv/bin/python", "-m", "svc"],
            vec![
                "/proj",
                "/extra",
                "/proj/rel",
                "/venv/lib/python3.12/site-packages",
            ],
        ),
        (
            &["/sysvenv/bin/python", "-c", "x"],
            [
                &[
                    "/proj",
                    "/extra",
                    "/proj/rel",
                    "/sysvenv/lib/python3.12/site-packages",
                ][..],
                &system,
                &[user],
            ]
            .concat(),
        ),
        // -I: no script directory, no PYTHONPATH, no user site.
        (&["python3", "-I", "app/main.py"], system.to_vec()),
        // -S: no site-packages at all.
        (
            &["python3", "-S", "-c", "x"],
            vec!["/proj", "/extra", "/proj/rel"],
        ),
    ];
    for (args, want) in cases {
        let roots = tree.roots(RuntimeKind::Python, args, "/proj", "/usr/bin/python3.12");
        assert_eq!(strings(&roots.python_path), want, "{args:?}");
    }
}
