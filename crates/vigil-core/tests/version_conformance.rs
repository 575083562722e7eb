//! Version-ordering conformance: every pair in `shared/conformance/versions/*.txt` (osv-scalibr's
//! test vectors), checked in both directions, for every scheme that file applies to.
//!
//! The data is read from the `shared/` folder beside the project checkout (override with
//! `VIGIL_SHARED_DIR`); when it is absent the test says so and passes, so a bare clone still
//! builds green (`VIGIL_REQUIRE_SHARED=1` makes a missing folder a failure).

use std::cmp::Ordering;
use std::path::PathBuf;

use vigil_core::VersionScheme;

fn shared_dir() -> Option<PathBuf> {
    vigil_testkit::shared_path("conformance/versions", "version conformance")
        .map(|_| vigil_testkit::shared_dir())
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

/// Pairs vigil deliberately orders against the data, with the reason. Each must exist in its
/// file; the test counts it as a deviation instead of a failure.
///
/// The Maven pairs come from the POM "Version Order Specification", which is not transitive:
/// by its own rules `2.9.0.RC1 < 2.9 < 2.9-1` and `2.9-1 = 2.9.0-1` (trailing-null trimming), yet
/// the data wants `2.9.0-1 < 2.9.0.RC1`. A comparator that satisfies every line cannot be an
/// `Ord` (sorting with it may panic), so vigil keeps a total order and sides with Maven 3.8.7
/// itself, which orders all three pairs the other way too. The Packagist line contradicts two
/// others in the same file (`1.2.3.# = 1.2.3` and `1.2.3 < 1.2.3.1`).
const DEVIATIONS: &[(&str, &str, &str, &str)] = &[
    (
        "maven-versions-generated.txt",
        "2.9.0-1",
        "2.9.0.RC1",
        "spec cycle: 2.9.0.RC1 < 2.9 < 2.9-1 = 2.9.0-1; Maven 3.8.7 agrees with vigil",
    ),
    (
        "maven-versions-generated.txt",
        "1.1.0-01-glassfish",
        "1.1.0.Beta1",
        "same cycle (1.1-1-glassfish vs 1.1.0.beta-1); Maven 3.8.7 agrees with vigil",
    ),
    (
        "maven-versions-generated.txt",
        "1.0.0-gradle-rework-beta3",
        "1.0.0.RC7-3",
        "same cycle through 1.0; Maven 3.8.7 agrees with vigil",
    ),
    (
        "packagist-versions.txt",
        "1.2.3.#",
        "1.2.3.1",
        "contradicts 1.2.3.# = 1.2.3 and 1.2.3 < 1.2.3.1 in the same file",
    ),
];

fn is_deviation(file: &str, a: &str, b: &str) -> bool {
    DEVIATIONS
        .iter()
        .any(|(f, x, y, _)| *f == file && *x == a && *y == b)
}

fn parse_op(op: &str) -> Option<Ordering> {
    match op {
        "<" => Some(Ordering::Less),
        "=" => Some(Ordering::Equal),
        ">" => Some(Ordering::Greater),
        _ => None,
    }
}

/// Checks one file under one scheme; returns (pairs checked, deviations seen, failures).
fn check_file(text: &str, file: &str, scheme: VersionScheme) -> (usize, usize, Vec<String>) {
    let mut pairs = 0;
    let mut deviations = 0;
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
        if is_deviation(file, a, b) {
            deviations += 1;
            continue;
        }
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
    (pairs, deviations, failures)
}

#[test]
fn every_conformance_pair_holds_in_both_directions() {
    let Some(shared) = shared_dir() else { return };
    let dir = shared.join("conformance/versions");
    let mut all_failures = Vec::new();
    let mut summary = Vec::new();
    let mut deviations_seen = 0;
    for (file, schemes) in FILES {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        for scheme in *schemes {
            let (pairs, deviations, failures) = check_file(&text, file, *scheme);
            deviations_seen += deviations;
            summary.push(format!(
                "{scheme:>10} {file:<36} {pairs:>6} pairs, {} failing, {deviations} deliberate deviations",
                failures.len()
            ));
            all_failures.extend(failures);
        }
    }
    println!("{}", summary.join("\n"));
    for (file, a, b, reason) in DEVIATIONS {
        println!("deviation {file}: {a} vs {b}: {reason}");
    }
    assert_eq!(
        deviations_seen,
        DEVIATIONS.len(),
        "every listed deviation must exist in the data"
    );
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
