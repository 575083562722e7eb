//! Version-ordering conformance: every pair in `shared/conformance/versions/*.txt` (osv-scalibr's
//! test vectors), checked in both directions, for every scheme that file applies to.
//!
//! The data is read from the `shared/` folder beside the project checkout (override with
//! `VIGIL_SHARED_DIR`); when it is absent the test says so and passes, so a bare clone still
//! builds green. In CI (`CI=true`) a missing folder is a failure: CI must test for real.

use std::cmp::Ordering;
use std::path::PathBuf;

use vigil_core::VersionScheme;

fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("VIGIL_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    if dir.join("conformance/versions").is_dir() {
        Some(dir)
    } else {
        let msg = format!("SKIPPED: no conformance data at {}", dir.display());
        assert!(std::env::var_os("CI").is_none(), "{msg} (required in CI)");
        eprintln!("{msg}");
        None
    }
}

/// Which schemes each file is written for (osv-scalibr's `semantic/compare_test.go`).
const FILES: &[(&str, &[VersionScheme])] = &[
    (
        "semver-versions.txt",
        &[VersionScheme::SemVer, VersionScheme::Go],
    ),
    ("rubygems-versions.txt", &[VersionScheme::RubyGems]),
    (
        "rubygems-versions-generated.txt",
        &[VersionScheme::RubyGems],
    ),
    ("nuget-versions.txt", &[VersionScheme::NuGet]),
    ("packagist-versions.txt", &[VersionScheme::Packagist]),
    (
        "packagist-versions-generated.txt",
        &[VersionScheme::Packagist],
    ),
    ("maven-versions.txt", &[VersionScheme::Maven]),
    ("maven-versions-generated.txt", &[VersionScheme::Maven]),
    ("pypi-versions.txt", &[VersionScheme::Pep440]),
    ("pypi-versions-generated.txt", &[VersionScheme::Pep440]),
    ("debian-versions.txt", &[VersionScheme::Debian]),
    ("debian-versions-generated.txt", &[VersionScheme::Debian]),
    ("cran-versions.txt", &[VersionScheme::Cran]),
    ("cran-versions-generated.txt", &[VersionScheme::Cran]),
    ("alpine-versions.txt", &[VersionScheme::Alpine]),
    ("alpine-versions-generated.txt", &[VersionScheme::Alpine]),
    ("redhat-versions.txt", &[VersionScheme::Rpm]),
    ("hackage-versions.txt", &[VersionScheme::Hackage]),
    ("pub-versions.txt", &[VersionScheme::Pub]),
];

fn parse_op(op: &str) -> Option<Ordering> {
    match op {
        "<" => Some(Ordering::Less),
        "=" => Some(Ordering::Equal),
        ">" => Some(Ordering::Greater),
        _ => None,
    }
}

/// Checks one file under one scheme; returns (pairs checked, failure descriptions).
fn check_file(text: &str, file: &str, scheme: VersionScheme) -> (usize, Vec<String>) {
    let mut pairs = 0;
    let mut failures = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with("# ") || line.starts_with("// ") {
            continue;
        }
        let pieces: Vec<&str> = line.split(' ').collect();
        let [a, op, b] = pieces[..] else {
            failures.push(format!("{file}:{}: malformed line {line:?}", index + 1));
            continue;
        };
        let Some(want) = parse_op(op) else {
            failures.push(format!("{file}:{}: unknown operator {op:?}", index + 1));
            continue;
        };
        pairs += 1;
        for (x, y, want) in [(a, b, want), (b, a, want.reverse())] {
            let got = scheme.compare(x, y);
            let parsed = scheme
                .parse(x)
                .and_then(|px| scheme.parse(y).map(|py| px.cmp_same(&py)));
            if got.as_ref().ok() != Some(&want) || parsed.as_ref().ok() != Some(&Some(want)) {
                failures.push(format!(
                    "{file}:{} [{scheme}] {x} vs {y}: want {want:?}, compare gave {got:?}, parse+cmp gave {parsed:?}",
                    index + 1
                ));
            }
        }
    }
    (pairs, failures)
}

#[test]
fn every_conformance_pair_holds_in_both_directions() {
    let Some(shared) = shared_dir() else { return };
    let dir = shared.join("conformance/versions");
    let mut all_failures = Vec::new();
    let mut summary = Vec::new();
    for (file, schemes) in FILES {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        for scheme in *schemes {
            let (pairs, failures) = check_file(&text, file, *scheme);
            summary.push(format!(
                "{scheme:>10} {file:<36} {pairs:>6} pairs, {} failing",
                failures.len()
            ));
            all_failures.extend(failures);
        }
    }
    println!("{}", summary.join("\n"));
    let shown: Vec<&String> = all_failures.iter().take(60).collect();
    assert!(
        all_failures.is_empty(),
        "{} conformance failures (first {}):\n{}",
        all_failures.len(),
        shown.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn debian_rejects_invalid_version() {
    assert!(
        VersionScheme::Debian
            .compare("1.2.3", "1.2.3-not-a-debian:version!@#$")
            .is_err()
    );
}
