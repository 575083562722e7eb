//! Conformance against osv-scalibr's lockfile fixtures (`shared/conformance/lockfiles`, see its
//! README): every fixture with an `expected.json` entry must yield exactly that set of
//! (name, version); every other fixture must either parse or fail for the reason documented in
//! `UNLISTED` below. Prints a per-fixture table (`-- --nocapture`).
//!
//! The shared directory comes from `VIGIL_SHARED_DIR` (default `../../../shared` from this
//! crate). When it is absent the test prints `SKIPPED` and passes (`VIGIL_REQUIRE_SHARED=1` makes that a failure).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use vigil_inventory::{Registry, collect_file};

/// Fixture folder → collector name.
const FOLDERS: &[(&str, &str)] = &[
    ("npm-package-lock", "package-lock"),
    ("yarn-lock", "yarn-lock"),
    ("pnpm-lock", "pnpm-lock"),
    ("bun-lock", "bun-lock"),
    ("poetry-lock", "poetry-lock"),
    ("pipfile-lock", "pipfile-lock"),
    ("requirements-txt", "requirements-txt"),
    ("uv-lock", "uv-lock"),
    ("pdm-lock", "pdm-lock"),
    ("go-mod", "go-mod"),
    ("cargo-lock", "cargo-lock"),
    ("maven-pom", "maven-pom"),
    ("gemfile-lock", "gemfile-lock"),
    ("composer-lock", "composer-lock"),
    ("nuget-packages-lock", "nuget-lock"),
    ("npm-package-json", "npm-installed"),
    ("python-wheel-egg", "python-installed"),
    ("dpkg-status", "dpkg-installed"),
    ("apk-installed", "apk-installed"),
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outcome {
    /// The file is rejected with an error.
    Error,
    /// The file parses; packages and per-entry errors are printed, not checked.
    Parses,
}

/// Fixtures without an expected.json entry: what we do with them, and why.
const UNLISTED: &[(&str, &str, Outcome, &str)] = &[
    (
        "npm-package-lock",
        "not-json.txt",
        Outcome::Error,
        "not JSON",
    ),
    (
        "npm-package-lock",
        "null.v2.jsontest",
        Outcome::Error,
        "the document is `null`, not an object",
    ),
    (
        "npm-package-lock",
        "both/package-lock.json",
        Outcome::Parses,
        "osv-scalibr prefers the sibling npm-shrinkwrap.json; vigil reports both files, each at its own path",
    ),
    (
        "yarn-lock",
        "metadata-only.v2.lock",
        Outcome::Parses,
        "only __metadata: no packages",
    ),
    (
        "pnpm-lock",
        "not-yaml.txt",
        Outcome::Error,
        "no lockfileVersion",
    ),
    (
        "pnpm-lock",
        "invalid-path.yaml",
        Outcome::Parses,
        "the valid entry is kept; the bad key is reported as a per-entry error",
    ),
    (
        "pnpm-lock",
        "invalid-paths.yaml",
        Outcome::Parses,
        "the valid entry is kept; each bad key is reported as a per-entry error",
    ),
    (
        "pnpm-lock",
        "mixed-groups.v53.yaml",
        Outcome::Parses,
        "no upstream expectation",
    ),
    (
        "pnpm-lock",
        "mixed-groups.v54.yaml",
        Outcome::Parses,
        "no upstream expectation",
    ),
    (
        "pnpm-lock",
        "mixed-groups.v6.yaml",
        Outcome::Parses,
        "no upstream expectation",
    ),
    ("bun-lock", "not-json.txt", Outcome::Error, "not JSON"),
    (
        "bun-lock",
        "bad-tuple.json5",
        Outcome::Parses,
        "the valid entry is kept; the two malformed tuples are per-entry errors",
    ),
    ("poetry-lock", "not-toml.txt", Outcome::Error, "not TOML"),
    ("pipfile-lock", "not-json.txt", Outcome::Error, "not JSON"),
    ("uv-lock", "not-toml.txt", Outcome::Error, "not TOML"),
    (
        "uv-lock",
        "no-dependencies.lock",
        Outcome::Parses,
        "no upstream expectation",
    ),
    (
        "uv-lock",
        "no-packages.lock",
        Outcome::Parses,
        "no upstream expectation",
    ),
    ("pdm-lock", "not-toml.txt", Outcome::Error, "not TOML"),
    (
        "requirements-txt",
        "other-requirements.txt",
        Outcome::Parses,
        "included by example.txt",
    ),
    (
        "requirements-txt",
        "other-loop.txt",
        Outcome::Parses,
        "include loop with loop.txt ends",
    ),
    (
        "go-mod",
        "not-go-mod.mod",
        Outcome::Error,
        "unknown directive",
    ),
    (
        "go-mod",
        "indirect-1.16.sum",
        Outcome::Error,
        "a go.sum, not a go.mod (read through indirect-1.16.mod)",
    ),
    (
        "go-mod",
        "indirect-1.23.sum",
        Outcome::Error,
        "a go.sum, not a go.mod",
    ),
    ("cargo-lock", "not-toml.txt", Outcome::Error, "not TOML"),
    (
        "maven-pom",
        "not-pom.txt",
        Outcome::Error,
        "no <project> element",
    ),
    (
        "maven-pom",
        "invalid-syntax.xml",
        Outcome::Error,
        "malformed XML",
    ),
    (
        "maven-pom",
        "parent/pom.xml",
        Outcome::Parses,
        "the parent of with-parent.xml; its own parent is remote",
    ),
    ("composer-lock", "not-json.txt", Outcome::Error, "not JSON"),
    (
        "composer-lock",
        "null.jsontest",
        Outcome::Error,
        "the document is `null`",
    ),
    (
        "nuget-packages-lock",
        "invalid/invalid",
        Outcome::Error,
        "not JSON",
    ),
    ("npm-package-json", "invalid", Outcome::Error, "not JSON"),
    (
        "npm-package-json",
        "package-with-deps.json",
        Outcome::Parses,
        "upstream tests it only with dependencies enabled",
    ),
    (
        "npm-package-json",
        "duplicate-keys.json",
        Outcome::Parses,
        "upstream tests it only with dependencies enabled; the last duplicate key wins",
    ),
    (
        "python-wheel-egg",
        "empty",
        Outcome::Error,
        "no Name/Version headers",
    ),
    (
        "dpkg-status",
        "dpkg/invalid",
        Outcome::Error,
        "not a control file",
    ),
    (
        "dpkg-status",
        "opkg/invalid",
        Outcome::Error,
        "not a control file",
    ),
    (
        "apk-installed",
        "invalid",
        Outcome::Error,
        "not an apk database",
    ),
];

fn shared_dir() -> Option<PathBuf> {
    vigil_testkit::shared_path("conformance/lockfiles", "lockfile conformance")
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

type Pairs = BTreeSet<(String, String)>;

#[test]
fn lockfile_fixtures_match_expected() {
    let Some(root) = shared_dir() else { return };
    let registry = Registry::default();
    let mut failures = Vec::new();
    let mut checked = 0;
    println!(
        "{:<22} {:<48} {:>6} {:>6}  result",
        "folder", "fixture", "pkgs", "errors"
    );
    for (folder, collector_name) in FOLDERS {
        let dir = root.join(folder);
        let expected: BTreeMap<String, Vec<(String, String)>> =
            std::fs::read(dir.join("expected.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
        let Some(collector) = registry.get(collector_name) else {
            println!(
                "{folder:<22} (no collector `{collector_name}` yet: {} fixtures not run)",
                expected.len()
            );
            failures.push(format!("{folder}: no collector {collector_name}"));
            continue;
        };
        let mut files = Vec::new();
        files_under(&dir, &mut files);
        files.sort();
        for path in files {
            let rel = path
                .strip_prefix(&dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            if rel == "expected.json" {
                continue;
            }
            let out = collect_file(collector, &path);
            let got: Pairs = out
                .packages
                .iter()
                .map(|p| {
                    (
                        p.component.name.as_str().to_string(),
                        p.component.version.to_string(),
                    )
                })
                .collect();
            let result = if let Some(want) = expected.get(&rel) {
                checked += 1;
                let want: Pairs = want.iter().cloned().collect();
                if got == want {
                    "ok".to_string()
                } else {
                    let missing: Vec<_> = want.difference(&got).collect();
                    let extra: Vec<_> = got.difference(&want).collect();
                    let msg = format!(
                        "MISMATCH missing {missing:?} extra {extra:?} errors {:?}",
                        out.errors
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                    );
                    failures.push(format!("{folder}/{rel}: {msg}"));
                    msg
                }
            } else if let Some((_, _, outcome, reason)) = UNLISTED
                .iter()
                .find(|(f, r, _, _)| f == folder && *r == rel)
            {
                let failed = got.is_empty() && !out.errors.is_empty();
                let actual = if failed {
                    Outcome::Error
                } else {
                    Outcome::Parses
                };
                if actual == *outcome {
                    format!("{outcome:?} as documented: {reason}")
                } else {
                    let msg = format!(
                        "UNEXPECTED {actual:?} (documented {outcome:?}: {reason}); errors {:?}",
                        out.errors
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                    );
                    failures.push(format!("{folder}/{rel}: {msg}"));
                    msg
                }
            } else {
                let msg = "UNDOCUMENTED fixture: add it to UNLISTED".to_string();
                failures.push(format!("{folder}/{rel}: {msg}"));
                msg
            };
            println!(
                "{folder:<22} {rel:<48} {:>6} {:>6}  {result}",
                got.len(),
                out.errors.len()
            );
        }
    }
    println!(
        "checked {checked} fixtures with expectations; {} failures",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} conformance failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
