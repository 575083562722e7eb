//! The walker on temporary trees: layouts, symlinks, loops, permissions, odd names, caps.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use vigil_inventory::{CollectError, Registry, ScanErrorKind, ScanOptions, ScanReport, scan};

fn write(root: &Path, rel: impl AsRef<Path>, contents: &str) {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(path, contents).expect("write");
}

fn pkg(name: &str, version: &str) -> String {
    format!(r#"{{"name":"{name}","version":"{version}","description":"stand-in"}}"#)
}

fn run(root: &Path, options: &ScanOptions) -> ScanReport {
    scan(&[root.to_path_buf()], &Registry::default(), options).expect("scan starts")
}

/// (name, version, path relative to root) of every package found.
fn found(report: &ScanReport, root: &Path) -> BTreeSet<(String, String, PathBuf)> {
    report
        .packages
        .iter()
        .map(|p| {
            (
                p.component.name.as_str().to_string(),
                p.component.version.to_string(),
                p.path.strip_prefix(root).unwrap_or(&p.path).to_path_buf(),
            )
        })
        .collect()
}

fn set(items: &[(&str, &str, &str)]) -> BTreeSet<(String, String, PathBuf)> {
    items
        .iter()
        .map(|(n, v, p)| (n.to_string(), v.to_string(), PathBuf::from(p)))
        .collect()
}

fn is_root() -> bool {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::metadata(dir.path())
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[test]
fn npm_layouts_nested_scoped_alias_pnpm_and_non_slots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let files: &[(&str, String)] = &[
        ("package.json", pkg("my-app", "1.0.0")), // the project, not an installed package
        ("node_modules/debug/package.json", pkg("debug", "4.4.2")),
        (
            "node_modules/debug/node_modules/ms/package.json",
            pkg("ms", "2.1.3"),
        ),
        (
            "node_modules/@ctrl/tinycolor/package.json",
            pkg("@ctrl/tinycolor", "4.1.1"),
        ),
        (
            "node_modules/string-width-cjs/package.json",
            pkg("string-width", "4.2.3"),
        ),
        (
            "node_modules/.pnpm/chalk@5.6.1/node_modules/chalk/package.json",
            pkg("chalk", "5.6.1"),
        ),
        (
            "node_modules/.pnpm/@scope+x@1.0.0/node_modules/@scope/x/package.json",
            pkg("@scope/x", "1.0.0"),
        ),
        // Not packages: markers, fixtures, templates, stubs.
        (
            "node_modules/debug/dist/esm/package.json",
            r#"{"type":"module"}"#.into(),
        ),
        (
            "node_modules/resolve/test/resolver/baz/package.json",
            pkg("baz", "1.0.0"),
        ),
        (
            "node_modules/@nestjs/schematics/files/package.json",
            pkg("<%= name %>", "0.0.0"),
        ),
        ("node_modules/tmpl/package.json", pkg("{{name}}", "1.0.0")),
        ("node_modules/.bin/package.json", pkg("bin", "1.0.0")),
        ("node_modules/@ctrl/package.json", pkg("ctrl", "1.0.0")),
        (
            "node_modules/nover/package.json",
            r#"{"name":"nover"}"#.into(),
        ),
        (
            "node_modules/weird/package.json",
            r#"{"name":"weird","author":["a",{"b":1}],"version":"0.1.0"}"#.into(),
        ),
    ];
    for (rel, contents) in files {
        write(root, rel, contents);
    }
    let report = run(root, &ScanOptions::default());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(
        found(&report, root),
        set(&[
            ("debug", "4.4.2", "node_modules/debug/package.json"),
            (
                "ms",
                "2.1.3",
                "node_modules/debug/node_modules/ms/package.json"
            ),
            (
                "@ctrl/tinycolor",
                "4.1.1",
                "node_modules/@ctrl/tinycolor/package.json"
            ),
            (
                "string-width",
                "4.2.3",
                "node_modules/string-width-cjs/package.json"
            ),
            (
                "chalk",
                "5.6.1",
                "node_modules/.pnpm/chalk@5.6.1/node_modules/chalk/package.json"
            ),
            (
                "@scope/x",
                "1.0.0",
                "node_modules/.pnpm/@scope+x@1.0.0/node_modules/@scope/x/package.json"
            ),
            ("weird", "0.1.0", "node_modules/weird/package.json"),
        ])
    );
    assert!(
        report
            .packages
            .iter()
            .all(|p| p.evidence == vigil_core::Evidence::Installed)
    );
}

#[test]
fn symlinks_are_not_followed_by_default_and_loops_are_survived() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(
        root,
        "node_modules/.pnpm/a@1.0.0/node_modules/a/package.json",
        &pkg("a", "1.0.0"),
    );
    std::os::unix::fs::symlink(
        root.join("node_modules/.pnpm/a@1.0.0/node_modules/a"),
        root.join("node_modules/a"),
    )
    .expect("symlink");
    // A loop: a directory link back to the root.
    std::os::unix::fs::symlink(root, root.join("node_modules/loop")).expect("symlink");

    let report = run(root, &ScanOptions::default());
    assert_eq!(report.packages.len(), 1, "{:?}", report.packages);
    assert!(report.errors.is_empty(), "{:?}", report.errors);

    let follow = ScanOptions {
        follow_symlinks: true,
        ..ScanOptions::default()
    };
    let report = run(root, &follow);
    let paths: BTreeSet<_> = found(&report, root)
        .into_iter()
        .map(|(_, _, p)| p)
        .collect();
    assert!(
        paths.contains(Path::new("node_modules/a/package.json")),
        "{paths:?}"
    );
    assert!(
        report
            .errors
            .iter()
            .any(|e| matches!(e.kind, ScanErrorKind::Loop(_))),
        "{:?}",
        report.errors
    );
}

#[test]
fn non_utf8_names_are_walked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let odd = std::ffi::OsStr::from_bytes(b"\xff\xfe-odd");
    let pkg_dir = root.join("node_modules").join(odd);
    fs::create_dir_all(&pkg_dir).expect("mkdir");
    fs::write(pkg_dir.join("package.json"), pkg("odd", "1.2.3")).expect("write");
    let other = root.join(odd).join("node_modules/x");
    fs::create_dir_all(&other).expect("mkdir");
    fs::write(other.join("package.json"), pkg("x", "0.0.1")).expect("write");
    let report = run(root, &ScanOptions::default());
    let names: BTreeSet<_> = found(&report, root)
        .into_iter()
        .map(|(n, _, _)| n)
        .collect();
    assert_eq!(names, ["odd", "x"].iter().map(|s| s.to_string()).collect());
}

#[test]
fn permission_denied_directory_is_reported_not_fatal() {
    if is_root() {
        println!("SKIPPED: running as root, which ignores directory permissions");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, "node_modules/a/package.json", &pkg("a", "1.0.0"));
    write(
        root,
        "locked/node_modules/b/package.json",
        &pkg("b", "1.0.0"),
    );
    fs::set_permissions(root.join("locked"), fs::Permissions::from_mode(0o000)).expect("chmod");
    let report = run(root, &ScanOptions::default());
    fs::set_permissions(root.join("locked"), fs::Permissions::from_mode(0o755)).expect("chmod");
    assert_eq!(report.packages.len(), 1);
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.io_kind() == Some(std::io::ErrorKind::PermissionDenied)),
        "{:?}",
        report.errors
    );
}

#[test]
fn missing_root_and_vanished_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gone = dir.path().join("does-not-exist");
    let report = run(&gone, &ScanOptions::default());
    assert!(report.packages.is_empty());
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(
        report.errors[0].io_kind(),
        Some(std::io::ErrorKind::NotFound)
    );

    // A file that vanishes between the listing and the read: the collector sees NotFound.
    let registry = Registry::default();
    let npm = registry.get("npm-installed").expect("registered");
    let out = vigil_inventory::collect_file(npm, &gone.join("node_modules/x/package.json"));
    assert!(out.packages.is_empty());
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].io_kind(), Some(std::io::ErrorKind::NotFound));
}

#[test]
fn oversized_and_invalid_files_are_reported_and_the_scan_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, "node_modules/ok/package.json", &pkg("ok", "1.0.0"));
    write(
        root,
        "node_modules/bad/package.json",
        "{\"name\": \"bad\",\n \"version\": }",
    );
    let mut huge = pkg("huge", "1.0.0");
    huge.push_str(&" ".repeat(17 << 20));
    write(root, "node_modules/huge/package.json", &huge);
    let report = run(root, &ScanOptions::default());
    assert_eq!(report.packages.len(), 1);
    assert_eq!(report.errors.len(), 2, "{:?}", report.errors);
    let mut saw_large = false;
    let mut saw_syntax = false;
    for e in &report.errors {
        match &e.kind {
            ScanErrorKind::Collect(CollectError::TooLarge { .. }) => saw_large = true,
            ScanErrorKind::Collect(CollectError::Syntax { line: Some(2), .. }) => saw_syntax = true,
            other => panic!("unexpected error {other:?}"),
        }
    }
    assert!(saw_large && saw_syntax);
}

#[test]
fn fifo_named_like_a_package_file_is_not_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    fs::create_dir_all(root.join("node_modules/fifo")).expect("mkdir");
    let status = std::process::Command::new("mkfifo")
        .arg(root.join("node_modules/fifo/package.json"))
        .status();
    if !status.is_ok_and(|s| s.success()) {
        println!("SKIPPED: mkfifo not available");
        return;
    }
    let report = run(root, &ScanOptions::default());
    assert!(report.packages.is_empty());
}

#[test]
fn excludes_skip_matching_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, "app/node_modules/a/package.json", &pkg("a", "1.0.0"));
    write(
        root,
        "fixtures/node_modules/b/package.json",
        &pkg("b", "1.0.0"),
    );
    write(
        root,
        "deep/x/fixtures/node_modules/c/package.json",
        &pkg("c", "1.0.0"),
    );
    let options = ScanOptions {
        excludes: vec!["fixtures".into()],
        ..ScanOptions::default()
    };
    let report = run(root, &options);
    let names: BTreeSet<_> = found(&report, root)
        .into_iter()
        .map(|(n, _, _)| n)
        .collect();
    assert_eq!(names, ["a".to_string()].into_iter().collect());

    let bad = ScanOptions {
        excludes: vec!["a{".into()],
        ..ScanOptions::default()
    };
    assert!(scan(&[root.to_path_buf()], &Registry::default(), &bad).is_err());
}

#[test]
fn same_component_at_same_path_appears_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, "node_modules/a/package.json", &pkg("a", "1.0.0"));
    // The same root twice: every instance is found twice, reported once.
    let report = scan(
        &[root.to_path_buf(), root.to_path_buf()],
        &Registry::default(),
        &ScanOptions::default(),
    )
    .expect("scan");
    assert_eq!(report.packages.len(), 1);
}

#[test]
fn lockfiles_inside_package_trees_are_skipped_unless_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let lock = r#"{"lockfileVersion":3,"packages":{"":{},"node_modules/a":{"version":"1.0.0"}}}"#;
    write(root, "package-lock.json", lock);
    write(root, "node_modules/dep/package-lock.json", lock);
    write(root, "node_modules/dep/package.json", &pkg("dep", "2.0.0"));
    let cargo_lock = "[[package]]\nname = \"x\"\nversion = \"1.0.0\"\n";
    write(
        root,
        "home/.cargo/registry/src/index/serde-1.0.0/Cargo.lock",
        cargo_lock,
    );
    write(
        root,
        "go/pkg/mod/github.com/a/b@v1.0.0/go.mod",
        "module github.com/a/b\n\ngo 1.21\n",
    );
    write(
        root,
        "php/vendor/monolog/monolog/composer.lock",
        r#"{"packages":[{"name":"x/y","version":"1.0.0"}]}"#,
    );
    let report = run(root, &ScanOptions::default());
    let paths: BTreeSet<_> = found(&report, root)
        .into_iter()
        .map(|(n, _, p)| (n, p))
        .collect();
    assert_eq!(
        paths,
        [
            ("a".to_string(), PathBuf::from("package-lock.json")),
            (
                "dep".to_string(),
                PathBuf::from("node_modules/dep/package.json")
            ),
        ]
        .into_iter()
        .collect()
    );
    let all = ScanOptions {
        declared_in_package_trees: true,
        ..ScanOptions::default()
    };
    // + the nested package-lock's `a`, the registry crate's lockfile, the cached module's
    // stdlib pseudo-package, the vendored package's lockfile.
    assert_eq!(run(root, &all).packages.len(), 6);
}

#[test]
fn a_symlinked_root_is_entered_and_a_file_root_is_collected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = dir.path().join("real");
    write(&real, "node_modules/a/package.json", &pkg("a", "1.0.0"));
    write(
        &real,
        "package-lock.json",
        r#"{"lockfileVersion":3,"packages":{"node_modules/b":{"version":"2.0.0"}}}"#,
    );
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    assert_eq!(run(&link, &ScanOptions::default()).packages.len(), 2);
    let lock = run(&real.join("package-lock.json"), &ScanOptions::default());
    assert_eq!(
        found(&lock, &real),
        set(&[("b", "2.0.0", "package-lock.json")])
    );
}

#[test]
fn progress_counters_reach_the_totals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    for i in 0..50 {
        write(
            root,
            format!("node_modules/p{i}/package.json"),
            &pkg(&format!("p{i}"), "1.0.0"),
        );
    }
    let progress = std::sync::Arc::new(vigil_inventory::walker::ScanProgress::default());
    let options = ScanOptions {
        progress: Some(progress.clone()),
        ..ScanOptions::default()
    };
    let report = run(root, &options);
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(progress.files.load(Relaxed), report.stats.files);
    assert_eq!(progress.dirs.load(Relaxed), report.stats.dirs);
    assert_eq!(progress.packages.load(Relaxed), 50);
}

#[test]
fn installed_npm_packages_are_flagged_dev_from_the_hidden_lockfile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, "node_modules/a/package.json", &pkg("a", "1.0.0"));
    write(root, "node_modules/b/package.json", &pkg("b", "1.0.0"));
    write(
        root,
        "node_modules/b/node_modules/c/package.json",
        &pkg("c", "1.0.0"),
    );
    write(
        root,
        "node_modules/.package-lock.json",
        r#"{"lockfileVersion":3,"packages":{
            "node_modules/a":{"version":"1.0.0"},
            "node_modules/b":{"version":"1.0.0","dev":true},
            "node_modules/b/node_modules/c":{"version":"1.0.0","dev":true}}}"#,
    );
    // A second project without a hidden lockfile: nothing flagged, no error.
    write(
        root,
        "other/node_modules/d/package.json",
        &pkg("d", "1.0.0"),
    );
    let report = run(root, &ScanOptions::default());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let dev: BTreeSet<(String, bool)> = report
        .packages
        .iter()
        .map(|p| (p.component.name.as_str().to_string(), p.dev))
        .collect();
    let want: BTreeSet<(String, bool)> = [("a", false), ("b", true), ("c", true), ("d", false)]
        .into_iter()
        .map(|(n, d)| (n.to_string(), d))
        .collect();
    assert_eq!(dev, want);
}

#[test]
fn pseudo_filesystems_are_recognized_by_type_not_name() {
    use vigil_inventory::walker::is_pseudo_filesystem;
    if Path::new("/proc/self").exists() {
        assert!(is_pseudo_filesystem(Path::new("/proc")));
    } else {
        println!("SKIPPED (/proc part): no procfs here");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "proc/node_modules/a/package.json",
        &pkg("a", "1.0.0"),
    );
    assert!(!is_pseudo_filesystem(&dir.path().join("proc")));
    assert_eq!(run(dir.path(), &ScanOptions::default()).packages.len(), 1);
}
