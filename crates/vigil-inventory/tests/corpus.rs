//! On the bench corpus (`shared/bench/make-corpus.sh DEST`, pointed to by `VIGIL_CORPUS_DIR`):
//! vigil must find every npm package at every `node_modules` slot and every Python
//! distribution, exactly as an independent, single-threaded walk written here finds them.
//! Skipped (with a message) when `VIGIL_CORPUS_DIR` is not set: the corpus is 3 GB and is
//! built on bench machines, not in CI.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use vigil_inventory::{Registry, ScanOptions, scan};

type Found = BTreeSet<(PathBuf, String, String)>;

/// Independent walk: no symlinks followed, every directory entered.
fn walk(dir: &Path, npm: &mut Found, python: &mut Found) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if path.extension().is_some_and(|e| e == "dist-info") {
                let metadata = std::fs::read_to_string(path.join("METADATA")).unwrap_or_default();
                let header = |key: &str| {
                    metadata
                        .lines()
                        .take_while(|l| !l.is_empty())
                        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
                };
                if let (Some(name), Some(version)) = (header("Name:"), header("Version:")) {
                    python.insert((path.join("METADATA"), name, version));
                }
            }
            walk(&path, npm, python);
        } else if meta.is_file()
            && path.file_name().is_some_and(|n| n == "package.json")
            && at_slot(&path)
        {
            let json: serde_json::Value = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            if let (Some(name), Some(version)) = (json["name"].as_str(), json["version"].as_str())
                && !name.is_empty()
                && !version.is_empty()
            {
                npm.insert((path, name.to_string(), version.to_string()));
            }
        }
    }
}

fn at_slot(package_json: &Path) -> bool {
    let name = |p: Option<&Path>| {
        p.and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
    };
    let dir = package_json.parent();
    let Some(pkg) = name(dir) else { return false };
    if pkg.starts_with('.') || pkg.starts_with('@') {
        return false;
    }
    let up = dir.and_then(Path::parent);
    match name(up).as_deref() {
        Some("node_modules") => true,
        Some(scope) if scope.starts_with('@') => {
            name(up.and_then(Path::parent)).as_deref() == Some("node_modules")
        }
        _ => false,
    }
}

#[test]
fn corpus_matches_an_independent_walk() {
    let Some(corpus) = std::env::var_os("VIGIL_CORPUS_DIR").map(PathBuf::from) else {
        println!("SKIPPED: set VIGIL_CORPUS_DIR to a corpus built by shared/bench/make-corpus.sh");
        return;
    };
    let registry = Registry::default();
    for tree in ["npm-app", "venv"] {
        let root = corpus.join(tree);
        if !root.is_dir() {
            println!("SKIPPED {tree}: not built");
            continue;
        }
        let (mut npm, mut python) = (Found::new(), Found::new());
        walk(&root, &mut npm, &mut python);
        let report = scan(
            std::slice::from_ref(&root),
            &registry,
            &ScanOptions::default(),
        )
        .expect("scan");
        let select = |collector: &str| -> Found {
            report
                .packages
                .iter()
                .filter(|p| p.collector == collector)
                .map(|p| {
                    (
                        p.path.to_path_buf(),
                        p.component.name.as_str().to_string(),
                        p.component.version.to_string(),
                    )
                })
                .collect()
        };
        let (vigil_npm, vigil_python) = (select("npm-installed"), select("python-installed"));
        println!(
            "{tree}: npm {} (independent {}), python {} (independent {}), errors {}",
            vigil_npm.len(),
            npm.len(),
            vigil_python.len(),
            python.len(),
            report.errors.len()
        );
        assert_eq!(vigil_npm, npm, "{tree}: npm packages differ");
        assert_eq!(vigil_python, python, "{tree}: Python distributions differ");
        assert!(report.errors.is_empty(), "{:?}", report.errors);
    }
}
