//! OSV `affected` evaluation: a case table of inline records, the osv-schema conformance
//! records, the real malicious-packages intel (read from the zip in `shared/intel/`), and
//! property tests.
//!
//! Data outside the crate is read from `VIGIL_SHARED_DIR` (default: the `shared/` folder beside
//! the checkout); when it is absent the tests print `SKIPPED: …` and pass, (`VIGIL_REQUIRE_SHARED=1` makes
//! missing data a failure).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use proptest::prelude::*;
use vigil_core::Ecosystem;
use vigil_core::osv::{
    Affected, Event, NotInRange, OsvRecord, QueryVersion, RangeOutcome, RangeType, SkipReason,
    SupersededItem,
};
use vigil_core::version::VersionScheme;

// ---------------------------------------------------------------------------------------------
// helpers

fn shared_dir(needed: &str) -> Option<PathBuf> {
    vigil_testkit::shared_path(needed, "OSV evaluation").map(|_| vigil_testkit::shared_dir())
}

fn parse(json: &str) -> OsvRecord {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("record does not parse: {e}\n{json}"))
}

/// The record's verdict as text: the reasons the assertions look for.
fn explain(record: &OsvRecord, ecosystem: &str, name: &str, version: &str) -> (bool, String) {
    let verdict = record.evaluate(&Ecosystem::parse(ecosystem), name, version);
    let mut text = String::new();
    if let Some(when) = &verdict.withdrawn {
        text.push_str(&format!("withdrawn {when}"));
    }
    if verdict.entries.is_empty() && verdict.withdrawn.is_none() {
        text.push_str("no affected entry for this package");
    }
    for (index, entry) in &verdict.entries {
        text.push_str(&format!("\naffected[{index}] {entry}"));
    }
    let fast = record.affects(&Ecosystem::parse(ecosystem), name, version);
    assert_eq!(
        fast,
        verdict.is_affected(),
        "fast path disagrees with the explained verdict for {ecosystem}/{name}@{version}:\n{text}"
    );
    (verdict.is_affected(), text)
}

/// One row: (ecosystem, package, version, affected?, a phrase the explanation must contain).
type Row = (&'static str, &'static str, &'static str, bool, &'static str);

fn check_rows(label: &str, record: &OsvRecord, rows: &[Row]) -> usize {
    for &(ecosystem, name, version, want, reason) in rows {
        let (got, text) = explain(record, ecosystem, name, version);
        assert_eq!(got, want, "{label}: {ecosystem}/{name}@{version}\n{text}");
        assert!(
            text.contains(reason),
            "{label}: {ecosystem}/{name}@{version}: explanation lacks {reason:?}:\n{text}"
        );
    }
    rows.len()
}

// ---------------------------------------------------------------------------------------------
// the case table

struct Case {
    label: &'static str,
    json: &'static str,
    rows: &'static [Row],
}

const CASES: &[Case] = &[
    Case {
        label: "introduced only: affected from there on",
        json: r#"{"id":"T-1","affected":[{"package":{"ecosystem":"npm","name":"a"},
                  "ranges":[{"type":"SEMVER","events":[{"introduced":"1.2.0"}]}]}]}"#,
        rows: &[
            (
                "npm",
                "a",
                "1.1.9",
                false,
                "outside: before introduced \"1.2.0\"",
            ),
            (
                "npm",
                "a",
                "1.2.0",
                true,
                "inside: introduced \"1.2.0\", no fix",
            ),
            ("npm", "a", "9.0.0", true, "inside: introduced \"1.2.0\""),
            (
                "npm",
                "b",
                "1.2.0",
                false,
                "no affected entry for this package",
            ),
            (
                "PyPI",
                "a",
                "1.2.0",
                false,
                "no affected entry for this package",
            ),
        ],
    },
    Case {
        label: "introduced 0 and fixed: fixed is exclusive",
        json: r#"{"id":"T-2","affected":[{"package":{"ecosystem":"npm","name":"a"},
                  "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.2"}]}]}]}"#,
        rows: &[
            (
                "npm",
                "a",
                "0.0.1",
                true,
                "inside: introduced \"0\", until fixed \"1.0.2\"",
            ),
            ("npm", "a", "1.0.1", true, "until fixed \"1.0.2\""),
            ("npm", "a", "1.0.2", false, "outside: fixed in \"1.0.2\""),
            ("npm", "a", "2.0.0", false, "outside: fixed in \"1.0.2\""),
        ],
    },
    Case {
        label: "last_affected is inclusive",
        json: r#"{"id":"T-3","affected":[{"package":{"ecosystem":"npm","name":"a"},
                  "ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"last_affected":"1.0.2"}]}]}]}"#,
        rows: &[
            ("npm", "a", "0.9.0", false, "before introduced \"1.0.0\""),
            ("npm", "a", "1.0.2", true, "until last_affected \"1.0.2\""),
            (
                "npm",
                "a",
                "1.0.3",
                false,
                "outside: after last_affected \"1.0.2\"",
            ),
        ],
    },
    Case {
        label: "limit caps the range, * lifts the cap",
        json: r#"{"id":"T-4","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[
                  {"type":"SEMVER","events":[{"introduced":"0"},{"limit":"2.0.0"},{"limit":"1.5.0"}]}]},
                  {"package":{"ecosystem":"npm","name":"b"},"ranges":[
                  {"type":"SEMVER","events":[{"introduced":"0"},{"limit":"2.0.0"},{"limit":"*"}]}]}]}"#,
        rows: &[
            (
                "npm",
                "a",
                "1.9.9",
                true,
                "inside: introduced \"0\", no fix",
            ),
            (
                "npm",
                "a",
                "2.0.0",
                false,
                "outside: at or above limit \"2.0.0\"",
            ),
            ("npm", "b", "9.9.9", true, "inside: introduced \"0\""),
        ],
    },
    Case {
        label: "unsorted events, several pairs in one range (GHSA converter shape)",
        json: r#"{"id":"T-5","affected":[{"package":{"ecosystem":"npm","name":"a"},
                  "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"introduced":"2.0.0"},
                                                      {"fixed":"2.0.1"},{"fixed":"1.3.2"}]}]}]}"#,
        rows: &[
            (
                "npm",
                "a",
                "1.3.1",
                true,
                "inside: introduced \"0\", until fixed \"1.3.2\"",
            ),
            ("npm", "a", "1.3.2", false, "outside: fixed in \"1.3.2\""),
            ("npm", "a", "1.9.9", false, "outside: fixed in \"1.3.2\""),
            (
                "npm",
                "a",
                "2.0.0",
                true,
                "inside: introduced \"2.0.0\", until fixed \"2.0.1\"",
            ),
            ("npm", "a", "2.0.1", false, "outside: fixed in \"2.0.1\""),
        ],
    },
    Case {
        label: "versions only",
        json: r#"{"id":"T-6","affected":[{"package":{"ecosystem":"npm","name":"a"},
                  "versions":["1.0.0","1.0.1"]}]}"#,
        rows: &[
            ("npm", "a", "1.0.0", true, "listed in versions as \"1.0.0\""),
            ("npm", "a", "1.0.1", true, "listed in versions as \"1.0.1\""),
            ("npm", "a", "1.0.2", false, "not listed in versions"),
        ],
    },
    Case {
        label: "listed versions also match by ecosystem equality",
        json: r#"{"id":"T-7","affected":[{"package":{"ecosystem":"PyPI","name":"Flask_Login"},
                  "versions":["1.0"]}]}"#,
        rows: &[
            (
                "PyPI",
                "flask-login",
                "1.0",
                true,
                "listed in versions as \"1.0\"",
            ),
            (
                "PyPI",
                "flask-login",
                "1.0.0",
                true,
                "equals listed version \"1.0\" under PEP 440",
            ),
            (
                "PyPI",
                "flask-login",
                "1.0.1",
                false,
                "not listed in versions",
            ),
        ],
    },
    Case {
        label: "versions and ranges: either matches",
        json: r#"{"id":"T-8","affected":[{"package":{"ecosystem":"npm","name":"a"},"versions":["0.5.0"],
                  "ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"fixed":"2.0.0"}]}]}]}"#,
        rows: &[
            ("npm", "a", "0.5.0", true, "listed in versions as \"0.5.0\""),
            (
                "npm",
                "a",
                "1.5.0",
                true,
                "inside: introduced \"1.0.0\", until fixed \"2.0.0\"",
            ),
            ("npm", "a", "0.6.0", false, "before introduced \"1.0.0\""),
            ("npm", "a", "2.0.0", false, "fixed in \"2.0.0\""),
        ],
    },
    Case {
        label: "GIT ranges are skipped with a reason, listed tags still match",
        json: r#"{"id":"T-9","affected":[{"package":{"ecosystem":"PyPI","name":"a"},"versions":["v1.0"],
                  "ranges":[{"type":"GIT","repo":"https://example.invalid/a",
                             "events":[{"introduced":"0"},{"fixed":"74ea7cf7a6a27a4eeb2ae24e162bcc942a6706d5"}]}]}]}"#,
        rows: &[
            // (not 1.0.0: PEP 440 reads `v1.0` as 1.0, equal to 1.0.0)
            ("PyPI", "a", "3.0.0", false, "GIT range skipped"),
            ("PyPI", "a", "v1.0", true, "listed in versions as \"v1.0\""),
        ],
    },
    Case {
        label: "withdrawn never matches",
        json: r#"{"id":"T-10","withdrawn":"2025-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"a"},
                  "versions":["1.0.0"],"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}"#,
        rows: &[
            ("npm", "a", "1.0.0", false, "withdrawn 2025-01-01T00:00:00Z"),
            ("npm", "a", "3.0.0", false, "withdrawn"),
        ],
    },
    Case {
        label: "nulls where lists and objects belong",
        json: r#"{"id":"T-11","aliases":null,"related":null,"severity":null,"references":null,"credits":null,
                  "affected":[{"package":{"ecosystem":"npm","name":"a","purl":null},"versions":null,"severity":null,
                               "ecosystem_specific":null,"database_specific":null,
                               "ranges":[{"type":"SEMVER","events":null},
                                         {"type":"SEMVER","events":[{"introduced":"1.0.0"}],"database_specific":null}]},
                              {"package":null,"ranges":null}],
                  "database_specific":{"malicious-packages-origins":null}}"#,
        rows: &[
            ("npm", "a", "1.0.0", true, "range #1 (SEMVER): inside"),
            (
                "npm",
                "a",
                "0.1.0",
                false,
                "range #0 (SEMVER): outside: the range has no introduced event",
            ),
        ],
    },
    Case {
        label: "unknown range type kept and skipped; unknown event keys skipped",
        json: r#"{"id":"T-12","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[
                  {"type":"FANCY","events":[{"introduced":"0"}]},
                  {"type":"SEMVER","events":[{"introduced":"2.0.0"},{"patched":"2.1.0"}]}]}]}"#,
        rows: &[
            (
                "npm",
                "a",
                "1.0.0",
                false,
                "range type \"FANCY\" is unknown; skipped",
            ),
            (
                "npm",
                "a",
                "5.0.0",
                true,
                "inside: introduced \"2.0.0\", no fix",
            ),
        ],
    },
    Case {
        label: "ECOSYSTEM ranges use the ecosystem ordering; releases must agree when both known",
        json: r#"{"id":"T-13","affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},
                  "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.11-1~deb12u2"}]}]}]}"#,
        rows: &[
            (
                "Debian:12",
                "openssl",
                "3.0.11-1~deb12u1",
                true,
                "until fixed \"3.0.11-1~deb12u2\"",
            ),
            ("Debian", "openssl", "3.0.9-1", true, "inside"),
            (
                "Debian:12",
                "openssl",
                "3.0.11-1~deb12u2",
                false,
                "fixed in",
            ),
            (
                "Debian:11",
                "openssl",
                "1.1.1n-0",
                false,
                "no affected entry for this package",
            ),
            (
                "Ubuntu:22.04",
                "openssl",
                "1.0.0",
                false,
                "no affected entry for this package",
            ),
        ],
    },
    Case {
        label: "last_affected in an ECOSYSTEM ordering with equal spellings",
        json: r#"{"id":"T-14","affected":[{"package":{"ecosystem":"Maven","name":"g:a"},
                  "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"last_affected":"1.5"}]}]}]}"#,
        rows: &[
            ("Maven", "g/a", "1.5", true, "until last_affected \"1.5\""),
            ("Maven", "g:a", "1.5.0", true, "inside"),
            (
                "Maven",
                "g:a",
                "1.5.1",
                false,
                "after last_affected \"1.5\"",
            ),
        ],
    },
];

#[test]
fn case_table() {
    let mut rows = 0;
    for case in CASES {
        rows += check_rows(case.label, &parse(case.json), case.rows);
    }
    eprintln!("case table: {} records, {rows} rows", CASES.len());
}

/// A version the ordering rejects falls back to exact strings and never matches a range. The
/// check runs for each (ecosystem, input) whose scheme rejects the input; while a scheme is
/// still lenient the row says so and is skipped.
#[test]
fn unparseable_versions_fall_back_to_exact_strings() {
    let candidates = [
        ("npm", "%%% not a version"),
        ("npm", "1.2"),
        ("Debian", "1.2.3-not-a-debian:version!@#$"),
        ("PyPI", "4.36.-1"),
        ("Maven", ""),
    ];
    let mut checked = 0;
    for (ecosystem, bad) in candidates {
        let scheme = Ecosystem::parse(ecosystem).version_scheme();
        let range_type = if scheme == VersionScheme::SemVer {
            "SEMVER"
        } else {
            "ECOSYSTEM"
        };
        let Err(error) = scheme.parse(bad) else {
            eprintln!("SKIPPED: {scheme} accepts {bad:?}; fallback not exercised for it");
            continue;
        };
        checked += 1;
        let json = serde_json::json!({
            "id": "T-U",
            "affected": [{
                "package": {"ecosystem": ecosystem, "name": "a"},
                "versions": [bad],
                "ranges": [{"type": range_type, "events": [{"introduced": "0"}]}],
            }]
        });
        let record: OsvRecord = serde_json::from_value(json).expect("record");
        let affected = &record.affected[0];
        let listed = affected.evaluate(bad);
        assert!(
            listed.is_affected(),
            "exact string must still match: {listed}"
        );
        assert_eq!(listed.version_error.as_ref(), Some(&error), "{listed}");
        assert_eq!(
            listed.ranges[0].outcome,
            RangeOutcome::Skipped(SkipReason::UnparseableVersion(error.clone()))
        );
        let other = format!("{bad}x");
        if scheme.parse(&other).is_err() {
            let verdict = affected.evaluate(&other);
            assert!(
                !verdict.is_affected(),
                "an unparseable version must not match a range: {verdict}"
            );
            assert!(!affected.is_affected(&other));
        }
        // The same string as a bound makes the range unevaluable rather than guessed at.
        let bound: Affected = serde_json::from_value(serde_json::json!({
            "package": {"ecosystem": ecosystem, "name": "a"},
            "ranges": [{"type": range_type, "events": [{"introduced": "0"}, {"fixed": bad}]}],
        }))
        .expect("affected");
        let verdict = bound.evaluate("1.0.0");
        assert!(
            matches!(&verdict.ranges[0].outcome, RangeOutcome::Skipped(SkipReason::UnparseableBound { event: Event::Fixed(f), .. }) if f == bad),
            "{verdict}"
        );
    }
    eprintln!(
        "unparseable-version fallback checked for {checked} of {} inputs",
        candidates.len()
    );
}

/// The same fallback, forced: the query carries a parse error (as when the matcher's parse of
/// a component version failed), whatever the current orderings accept.
#[test]
fn a_version_that_failed_to_parse_matches_only_listed_strings() {
    let record = parse(
        r#"{"id":"T-V","affected":[{"package":{"ecosystem":"npm","name":"a"},"versions":["1.0.0-weird"],
            "ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]},
                      {"type":"GIT","repo":"https://example.invalid/a","events":[{"introduced":"0"}]}]}]}"#,
    );
    let compiled = record.affected[0].compile();
    for (version, listed) in [("1.0.0-weird", true), ("2.0.0-weird", false)] {
        let error = vigil_core::VersionError::new(VersionScheme::SemVer, version, "forced");
        let query = QueryVersion::new(version).with_parsed(Err(error.clone()));
        let verdict = compiled.evaluate(&query);
        assert_eq!(verdict.is_affected(), listed, "{verdict}");
        assert_eq!(compiled.is_affected(&query), listed, "{verdict}");
        assert_eq!(verdict.version_error.as_ref(), Some(&error));
        assert_eq!(
            verdict
                .ranges
                .iter()
                .map(|r| r.outcome.clone())
                .collect::<Vec<_>>(),
            [
                RangeOutcome::Skipped(SkipReason::UnparseableVersion(error.clone())),
                RangeOutcome::Skipped(SkipReason::Git),
            ]
        );
        let text = verdict.to_string();
        assert!(text.contains("version does not parse"), "{text}");
        assert!(
            text.contains("skipped: the version does not parse"),
            "{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// superseded origins, synthetic

/// Ranges as (introduced, last_affected or "" for none).
type Pairs = &'static [(&'static str, &'static str)];

/// One import origin: (source, id, modified_time, ranges, versions); `None` omits a field.
type OriginRow = (
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    Pairs,
    &'static [&'static str],
);

struct OriginCase {
    label: &'static str,
    origins: &'static [OriginRow],
    /// The affected entry.
    ranges: Pairs,
    versions: &'static [&'static str],
    /// What survives.
    want_ranges: Pairs,
    want_versions: &'static [&'static str],
}

const GHSA: Option<&str> = Some("ghsa-malware");
const ID: Option<&str> = Some("GHSA-x");
const T1: &str = "2025-09-15T23:42:50Z";
const T2: &str = "2025-09-16T01:14:51Z";
const T3: &str = "2025-09-17T00:00:00Z";

const ORIGIN_CASES: &[OriginCase] = &[
    OriginCase {
        label: "narrowed by a newer import of the same report: old range dropped",
        origins: &[
            (GHSA, ID, T1, &[("0", "")], &[]),
            (GHSA, ID, T2, &[("4.1.1", "4.1.2")], &[]),
        ],
        ranges: &[("0", ""), ("4.1.1", "4.1.2")],
        versions: &[],
        want_ranges: &[("4.1.1", "4.1.2")],
        want_versions: &[],
    },
    OriginCase {
        label: "same modified_time: not newer, kept",
        origins: &[
            (GHSA, ID, T1, &[("0", "")], &[]),
            (GHSA, ID, T1, &[("4.1.1", "4.1.2")], &[]),
        ],
        ranges: &[("0", ""), ("4.1.1", "4.1.2")],
        versions: &[],
        want_ranges: &[("0", ""), ("4.1.1", "4.1.2")],
        want_versions: &[],
    },
    OriginCase {
        label: "different report id: not a revision, kept",
        origins: &[
            (GHSA, ID, T1, &[("0", "")], &[]),
            (GHSA, Some("GHSA-y"), T2, &[("4.1.1", "4.1.2")], &[]),
        ],
        ranges: &[("0", ""), ("4.1.1", "4.1.2")],
        versions: &[],
        want_ranges: &[("0", ""), ("4.1.1", "4.1.2")],
        want_versions: &[],
    },
    OriginCase {
        label: "origins without id cannot be superseded",
        origins: &[
            (GHSA, None, T1, &[("0", "")], &[]),
            (GHSA, None, T2, &[("4.1.1", "4.1.2")], &[]),
        ],
        ranges: &[("0", ""), ("4.1.1", "4.1.2")],
        versions: &[],
        want_ranges: &[("0", ""), ("4.1.1", "4.1.2")],
        want_versions: &[],
    },
    OriginCase {
        label: "also contributed by another, current source: kept",
        origins: &[
            (GHSA, ID, T1, &[("0", "")], &[]),
            (
                Some("ossf-package-analysis"),
                Some("pa-1"),
                T1,
                &[("0", "")],
                &[],
            ),
            (GHSA, ID, T2, &[("4.1.1", "4.1.2")], &[]),
        ],
        ranges: &[("0", ""), ("4.1.1", "4.1.2")],
        versions: &[],
        want_ranges: &[("0", ""), ("4.1.1", "4.1.2")],
        want_versions: &[],
    },
    OriginCase {
        label: "newer import without any ranges or versions does not supersede",
        origins: &[
            (GHSA, ID, T1, &[("0", "")], &["1.0.0"]),
            (GHSA, ID, T2, &[], &[]),
        ],
        ranges: &[("0", "")],
        versions: &["1.0.0"],
        want_ranges: &[("0", "")],
        want_versions: &["1.0.0"],
    },
    OriginCase {
        label: "refinement that would empty the entry is not applied",
        origins: &[
            (GHSA, ID, T1, &[("0", "")], &[]),
            (GHSA, ID, T2, &[("4.1.1", "4.1.2")], &[]),
        ],
        ranges: &[("0", "")],
        versions: &[],
        want_ranges: &[("0", "")],
        want_versions: &[],
    },
    OriginCase {
        label: "versions dropped one by one",
        origins: &[
            (GHSA, ID, T1, &[], &["1.0.0", "1.0.1"]),
            (GHSA, ID, T2, &[], &["1.0.1"]),
        ],
        ranges: &[],
        versions: &["1.0.0", "1.0.1"],
        want_ranges: &[],
        want_versions: &["1.0.1"],
    },
    OriginCase {
        label: "a version nobody contributed is kept",
        origins: &[
            (GHSA, ID, T1, &[], &["1.0.0"]),
            (GHSA, ID, T2, &[], &["1.0.1"]),
        ],
        ranges: &[],
        versions: &["1.0.0", "1.0.1", "9.9.9"],
        want_ranges: &[],
        want_versions: &["1.0.1", "9.9.9"],
    },
    OriginCase {
        label: "versions replaced by a range that covers them: kept listed",
        origins: &[
            (GHSA, ID, T1, &[], &["1.1.1"]),
            (GHSA, ID, T2, &[("1.1.1", "1.1.1")], &[]),
        ],
        ranges: &[("1.1.1", "1.1.1")],
        versions: &["1.1.1", "1.0.0"],
        want_ranges: &[("1.1.1", "1.1.1")],
        want_versions: &["1.1.1", "1.0.0"],
    },
    OriginCase {
        label: "the newest import decides: re-added range kept, the one it dropped goes",
        origins: &[
            (GHSA, ID, T1, &[("0", "")], &[]),
            (GHSA, ID, T2, &[("4.1.1", "4.1.2")], &[]),
            (GHSA, ID, T3, &[("0", "")], &[]),
        ],
        ranges: &[("0", ""), ("4.1.1", "4.1.2")],
        versions: &[],
        want_ranges: &[("0", "")],
        want_versions: &[],
    },
    OriginCase {
        label: "unreadable modified_time: kept",
        origins: &[
            (GHSA, ID, "yesterday", &[("0", "")], &[]),
            (GHSA, ID, T2, &[("4.1.1", "4.1.2")], &[]),
        ],
        ranges: &[("0", ""), ("4.1.1", "4.1.2")],
        versions: &[],
        want_ranges: &[("0", ""), ("4.1.1", "4.1.2")],
        want_versions: &[],
    },
];

fn range_json(pairs: &[(&str, &str)]) -> serde_json::Value {
    pairs
        .iter()
        .map(|(introduced, last)| {
            let mut events = vec![serde_json::json!({ "introduced": introduced })];
            if !last.is_empty() {
                events.push(serde_json::json!({ "last_affected": last }));
            }
            serde_json::json!({ "type": "SEMVER", "events": events })
        })
        .collect()
}

#[test]
fn superseded_origins_table() {
    for case in ORIGIN_CASES {
        let origins: Vec<serde_json::Value> = case
            .origins
            .iter()
            .map(|(source, id, time, ranges, versions)| {
                serde_json::json!({
                    "source": source, "id": id, "modified_time": time,
                    "ranges": range_json(ranges), "versions": versions,
                })
            })
            .collect();
        let record: OsvRecord = serde_json::from_value(serde_json::json!({
            "id": "MAL-T",
            "affected": [{
                "package": {"ecosystem": "npm", "name": "a"},
                "ranges": range_json(case.ranges),
                "versions": case.versions,
            }],
            "database_specific": {"malicious-packages-origins": origins},
        }))
        .expect("record");
        let refined = record.without_superseded_origins();
        let want: OsvRecord = serde_json::from_value(serde_json::json!({
            "id": "MAL-T",
            "affected": [{
                "package": {"ecosystem": "npm", "name": "a"},
                "ranges": range_json(case.want_ranges),
                "versions": case.want_versions,
            }],
        }))
        .expect("expected record");
        assert_eq!(refined.affected, want.affected, "{}", case.label);
        let unchanged = case.ranges == case.want_ranges && case.versions == case.want_versions;
        assert_eq!(
            matches!(refined, std::borrow::Cow::Borrowed(_)),
            unchanged,
            "{}: borrows exactly when nothing is removed",
            case.label
        );
    }
}

#[test]
fn superseded_origins_keep_ambiguous_records() {
    let cases = [
        ("no origins", serde_json::json!(null)),
        (
            "origins null",
            serde_json::json!({"malicious-packages-origins": null}),
        ),
        (
            "origins malformed",
            serde_json::json!({"malicious-packages-origins": "oops"}),
        ),
    ];
    for (label, database_specific) in cases {
        let record: OsvRecord = serde_json::from_value(serde_json::json!({
            "id": "MAL-T",
            "affected": [{"package": {"ecosystem": "npm", "name": "a"}, "ranges": range_json(&[("0", "")])}],
            "database_specific": database_specific,
        }))
        .expect("record");
        assert!(
            matches!(
                record.without_superseded_origins(),
                std::borrow::Cow::Borrowed(_)
            ),
            "{label}"
        );
    }
    // Two affected entries: origins do not say which entry they fed.
    let origins = serde_json::json!([
        {"source": "ghsa-malware", "id": "G", "modified_time": T1, "ranges": range_json(&[("0", "")])},
        {"source": "ghsa-malware", "id": "G", "modified_time": T2, "ranges": range_json(&[("1.0.0", "1.0.1")])},
    ]);
    let two: OsvRecord = serde_json::from_value(serde_json::json!({
        "id": "MAL-T",
        "affected": [
            {"package": {"ecosystem": "npm", "name": "a"}, "ranges": range_json(&[("0", ""), ("1.0.0", "1.0.1")])},
            {"package": {"ecosystem": "npm", "name": "b"}, "ranges": range_json(&[("0", "")])},
        ],
        "database_specific": {"malicious-packages-origins": origins},
    }))
    .expect("record");
    assert!(matches!(
        two.without_superseded_origins(),
        std::borrow::Cow::Borrowed(_)
    ));
    assert!(matches!(two.origins(), Some(Ok(o)) if o.len() == 2));
}

// ---------------------------------------------------------------------------------------------
// osv-schema conformance records

#[test]
fn osv_schema_records_parse_and_evaluate() {
    let Some(shared) = shared_dir("conformance/osv") else {
        return;
    };
    let mut parsed = BTreeMap::new();
    for folder in ["linter-testdata", "ghsa-converted"] {
        let dir = shared.join("conformance/osv").join(folder);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        entries.sort();
        for path in entries {
            let text = std::fs::read_to_string(&path).expect("read");
            let record: OsvRecord = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
            // Every entry compiles and evaluates without panicking, whatever it holds.
            for affected in &record.affected {
                for version in affected
                    .versions
                    .iter()
                    .map(String::as_str)
                    .chain(["0", "1.0.0", ""])
                {
                    let _ = affected.evaluate(version);
                }
            }
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            parsed.insert(format!("{folder}/{name}"), record);
        }
    }
    assert_eq!(parsed.len(), 23, "12 linter records + 11 converter outputs");
    let get = |key: &str| parsed.get(key).unwrap_or_else(|| panic!("missing {key}"));
    let tables: &[(&str, &[Row])] = &[
        (
            "ghsa-converted/multiple_ranges_in_package.osv.json",
            &[
                (
                    "RubyGems",
                    "passenger",
                    "3.0.20",
                    true,
                    "until fixed \"3.0.21\"",
                ),
                (
                    "RubyGems",
                    "passenger",
                    "3.0.21",
                    false,
                    "fixed in \"3.0.21\"",
                ),
                (
                    "RubyGems",
                    "passenger",
                    "4.0.0",
                    false,
                    "fixed in \"3.0.21\"",
                ),
                (
                    "RubyGems",
                    "passenger",
                    "4.0.1",
                    true,
                    "inside: introduced \"4.0.1\"",
                ),
                (
                    "RubyGems",
                    "passenger",
                    "4.0.5",
                    false,
                    "fixed in \"4.0.5\"",
                ),
            ],
        ),
        (
            "ghsa-converted/maven_greater_than.osv.json",
            &[
                (
                    "Maven",
                    "org.xwiki.commons:xwiki-commons-core",
                    "11.6.0",
                    false,
                    "before introduced",
                ),
                (
                    "Maven",
                    "org.xwiki.commons:xwiki-commons-core",
                    "11.6.1",
                    true,
                    "until fixed \"11.10.13\"",
                ),
                (
                    "Maven",
                    "org.xwiki.commons:xwiki-commons-core",
                    "11.10.13",
                    false,
                    "fixed in \"11.10.13\"",
                ),
                (
                    "Maven",
                    "org.xwiki.commons:xwiki-commons-core",
                    "12.0",
                    true,
                    "until fixed \"12.6.7\"",
                ),
                (
                    "Maven",
                    "org.xwiki.commons:xwiki-commons-core",
                    "12.8",
                    false,
                    "fixed in \"12.6.7\"",
                ),
                (
                    "Maven",
                    "org.xwiki.commons:xwiki-commons-core",
                    "12.10.1",
                    true,
                    "until fixed \"12.10.2\"",
                ),
                (
                    "Maven",
                    "org.xwiki.commons:xwiki-commons-core",
                    "12.10.2",
                    false,
                    "fixed in \"12.10.2\"",
                ),
            ],
        ),
        (
            "ghsa-converted/npm_greater_than.osv.json",
            &[
                (
                    "npm",
                    "jquery",
                    "2.1.0",
                    false,
                    "before introduced \"2.1.1-0\"",
                ),
                ("npm", "jquery", "2.2.4", true, "until fixed \"3.0.0\""),
                ("npm", "jquery", "3.0.0", false, "fixed in \"3.0.0\""),
            ],
        ),
        (
            "ghsa-converted/pypi_normalize.osv.json",
            &[
                (
                    "PyPI",
                    "Products.PluggableAuthService",
                    "2.6.0",
                    true,
                    "until fixed \"2.6.1\"",
                ),
                (
                    "PyPI",
                    "products-pluggableauthservice",
                    "2.6.1",
                    false,
                    "fixed in \"2.6.1\"",
                ),
            ],
        ),
        (
            "ghsa-converted/equals_no_patch.osv.json",
            &[
                (
                    "RubyGems",
                    "paranoid2",
                    "1.1.6",
                    true,
                    "listed in versions as \"1.1.6\"",
                ),
                ("RubyGems", "paranoid2", "1.1.7", false, "not listed"),
            ],
        ),
        (
            "ghsa-converted/withdrawn.osv.json",
            &[(
                "RubyGems",
                "activesupport",
                "3.2.5",
                false,
                "withdrawn 2018-10-11T17:29:49Z",
            )],
        ),
        (
            "linter-testdata/GO-2020-0001.json",
            &[
                (
                    "Go",
                    "github.com/gin-gonic/gin",
                    "1.5.0",
                    true,
                    "until fixed \"1.6.0\"",
                ),
                (
                    "Go",
                    "github.com/gin-gonic/gin",
                    "1.6.0",
                    false,
                    "fixed in \"1.6.0\"",
                ),
            ],
        ),
        (
            "linter-testdata/GO-2024-2963.json",
            &[
                ("Go", "stdlib", "1.21.11", true, "until fixed \"1.21.12\""),
                ("Go", "stdlib", "1.21.12", false, "fixed in \"1.21.12\""),
                ("Go", "stdlib", "1.22.4", true, "until fixed \"1.22.5\""),
                ("Go", "stdlib", "1.22.5", false, "fixed in \"1.22.5\""),
            ],
        ),
        (
            "linter-testdata/PYSEC-2023-74.json",
            &[
                (
                    "PyPI",
                    "requests",
                    "2.30.0",
                    true,
                    "range #1 (ECOSYSTEM): inside",
                ),
                ("PyPI", "requests", "2.31.0", false, "GIT range skipped"),
                (
                    "PyPI",
                    "requests",
                    "2.2.1",
                    false,
                    "before introduced \"2.3.0\"",
                ),
            ],
        ),
        (
            "linter-testdata/CVE-2018-5407.json",
            &[
                (
                    "Alpine:v3.3",
                    "openssl",
                    "1.0.2p-r0",
                    true,
                    "until fixed \"1.0.2q-r0\"",
                ),
                (
                    "Alpine:v3.3",
                    "openssl",
                    "1.0.2q-r0",
                    false,
                    "fixed in \"1.0.2q-r0\"",
                ),
                (
                    "Alpine:v3.99",
                    "openssl",
                    "1.0.2p-r0",
                    false,
                    "no affected entry for this package",
                ),
            ],
        ),
        (
            "linter-testdata/GHSA-9v2f-6vcg-3hgv.json",
            &[
                (
                    "PyPI",
                    "gradio",
                    "4.36.1",
                    true,
                    "listed in versions as \"4.36.1\"",
                ),
                (
                    "PyPI",
                    "gradio",
                    "4.36.-1",
                    true,
                    "listed in versions as \"4.36.-1\"",
                ),
                ("PyPI", "gradio", "4.37.0", false, "not listed"),
            ],
        ),
        (
            "linter-testdata/RHSA-2022_0216.json",
            &[(
                "Red Hat",
                "kernel",
                "1.0",
                false,
                "no affected entry for this package",
            )],
        ),
    ];
    let mut rows = 0;
    for (key, table) in tables {
        rows += check_rows(key, get(key), table);
    }
    // Records whose only ranges are GIT, without a package: never a version match, with reason.
    let graylog = get("linter-testdata/nointroduced-CVE-2023-41045.json");
    let verdict = graylog.affected[0].evaluate("5.0.0");
    assert!(!verdict.is_affected());
    assert_eq!(
        verdict
            .skipped()
            .map(|(_, r)| r.clone())
            .collect::<Vec<_>>(),
        [SkipReason::Git]
    );
    assert!(graylog.affected[0].package.is_none());
    eprintln!(
        "osv-schema records: {} parsed, {rows} evaluation rows",
        parsed.len()
    );
}

// ---------------------------------------------------------------------------------------------
// real malicious-packages intel

const TINYCOLOR: &str =
    "upstream-2025-sample/osv/malicious/npm/@ctrl/tinycolor/MAL-2025-47141.json";
const NGX_BOOTSTRAP: &str =
    "upstream-2025-sample/osv/malicious/npm/ngx-bootstrap/MAL-2025-47197.json";

fn intel_zip() -> Option<zip::ZipArchive<std::fs::File>> {
    let shared = shared_dir("intel/malicious-packages-osv.zip")?;
    let file =
        std::fs::File::open(shared.join("intel/malicious-packages-osv.zip")).expect("open zip");
    Some(zip::ZipArchive::new(file).expect("read zip"))
}

fn zip_text(zip: &mut zip::ZipArchive<std::fs::File>, path: &str) -> String {
    let mut text = String::new();
    zip.by_name(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    text
}

#[test]
fn tinycolor_strict_flags_everything_refined_only_the_compromised_releases() {
    let Some(mut zip) = intel_zip() else {
        return;
    };
    let strict = parse(&zip_text(&mut zip, TINYCOLOR));
    assert_eq!(strict.id, "MAL-2025-47141");
    let rows_strict: &[Row] = &[
        (
            "npm",
            "@ctrl/tinycolor",
            "4.1.1",
            true,
            "range #1 (SEMVER): inside: introduced \"4.1.1\", until last_affected \"4.1.2\"",
        ),
        (
            "npm",
            "@ctrl/tinycolor",
            "4.1.2",
            true,
            "until last_affected \"4.1.2\"",
        ),
        // The false positive strict OSV semantics produce: the catch-all range of the
        // superseded first import still matches the clean release.
        (
            "npm",
            "@ctrl/tinycolor",
            "4.3.0",
            true,
            "range #0 (SEMVER): inside: introduced \"0\", no fix",
        ),
        ("npm", "@ctrl/tinycolor", "3.6.0", true, "introduced \"0\""),
    ];
    check_rows("MAL-2025-47141 strict", &strict, rows_strict);

    let superseded = strict.superseded_entries();
    assert_eq!(superseded.len(), 1, "{superseded:?}");
    assert!(
        matches!(&superseded[0].item, SupersededItem::Range { index: 0, range } if range.events == [Event::Introduced("0".into())])
    );
    assert_eq!(
        superseded[0].superseded,
        [(0, 1)],
        "origin 0 replaced by origin 1"
    );

    let refined = strict.without_superseded_origins();
    assert!(matches!(refined, std::borrow::Cow::Owned(_)));
    let rows_refined: &[Row] = &[
        (
            "npm",
            "@ctrl/tinycolor",
            "4.1.1",
            true,
            "inside: introduced \"4.1.1\", until last_affected \"4.1.2\"",
        ),
        (
            "npm",
            "@ctrl/tinycolor",
            "4.1.2",
            true,
            "until last_affected \"4.1.2\"",
        ),
        (
            "npm",
            "@ctrl/tinycolor",
            "4.3.0",
            false,
            "after last_affected \"4.1.2\"",
        ),
        (
            "npm",
            "@ctrl/tinycolor",
            "4.1.3",
            false,
            "after last_affected \"4.1.2\"",
        ),
        (
            "npm",
            "@ctrl/tinycolor",
            "4.1.0",
            false,
            "before introduced \"4.1.1\"",
        ),
    ];
    check_rows("MAL-2025-47141 refined", &refined, rows_refined);
}

#[test]
fn ngx_bootstrap_unsorted_pairs_and_listed_versions() {
    let Some(mut zip) = intel_zip() else {
        return;
    };
    let record = parse(&zip_text(&mut zip, NGX_BOOTSTRAP));
    assert_eq!(record.id, "MAL-2025-47197");
    let rows: &[Row] = &[
        (
            "npm",
            "ngx-bootstrap",
            "18.1.4",
            true,
            "listed in versions as \"18.1.4\"",
        ),
        (
            "npm",
            "ngx-bootstrap",
            "19.0.3",
            true,
            "inside: introduced \"19.0.3\", until last_affected \"19.0.4\"",
        ),
        (
            "npm",
            "ngx-bootstrap",
            "19.0.4",
            true,
            "until last_affected \"19.0.4\"",
        ),
        (
            "npm",
            "ngx-bootstrap",
            "20.0.3",
            true,
            "inside: introduced \"20.0.3\", until last_affected \"20.0.6\"",
        ),
        (
            "npm",
            "ngx-bootstrap",
            "20.0.4",
            true,
            "until last_affected \"20.0.6\"",
        ),
        (
            "npm",
            "ngx-bootstrap",
            "20.0.5",
            true,
            "until last_affected \"20.0.6\"",
        ),
        (
            "npm",
            "ngx-bootstrap",
            "20.0.6",
            true,
            "until last_affected \"20.0.6\"",
        ),
        (
            "npm",
            "ngx-bootstrap",
            "19.0.5",
            false,
            "after last_affected \"19.0.4\"",
        ),
        (
            "npm",
            "ngx-bootstrap",
            "20.0.7",
            false,
            "after last_affected \"20.0.6\"",
        ),
        (
            "npm",
            "ngx-bootstrap",
            "18.1.3",
            false,
            "before introduced \"19.0.3\"",
        ),
        (
            "npm",
            "ngx-bootstrap",
            "21.0.0",
            false,
            "after last_affected \"20.0.6\"",
        ),
    ];
    check_rows("MAL-2025-47197 strict", &record, rows);
    // Nothing in it is superseded: the catch-all first import was already dropped upstream,
    // and the google-open-source-security origin (no id) can never be superseded.
    let refined = record.without_superseded_origins();
    assert!(matches!(refined, std::borrow::Cow::Borrowed(_)));
    check_rows("MAL-2025-47197 refined", &refined, rows);
}

/// Every record in the intel zip deserializes; figures are printed (run with --nocapture).
#[test]
fn every_intel_record_parses() {
    let Some(mut zip) = intel_zip() else {
        return;
    };
    let started = std::time::Instant::now();
    let mut records = 0usize;
    let mut failures: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut withdrawn = 0usize;
    let mut range_types: BTreeMap<String, usize> = BTreeMap::new();
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut origins_null_or_absent = 0usize;
    let mut refined = Vec::new();
    let mut text = String::new();
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).expect("zip entry");
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        if !name.ends_with(".json") || entry.is_dir() {
            continue;
        }
        text.clear();
        entry.read_to_string(&mut text).expect("read entry");
        records += 1;
        let record: OsvRecord = match serde_json::from_str(&text) {
            Ok(record) => record,
            Err(error) => {
                let reason = error.to_string();
                let reason = reason
                    .split(" at line")
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                failures.entry(reason).or_default().push(name);
                continue;
            }
        };
        withdrawn += usize::from(record.is_withdrawn());
        if record.origins().is_none() {
            origins_null_or_absent += 1;
        }
        for affected in &record.affected {
            for range in &affected.ranges {
                *range_types.entry(range.kind.to_string()).or_default() += 1;
            }
            // Every listed version is affected by its own entry; every range compiles.
            let compiled = affected.compile();
            for version in &affected.versions {
                assert!(
                    compiled.is_affected(&QueryVersion::new(version)),
                    "{name}: {version}"
                );
            }
            for (_, reason) in compiled.evaluate(&QueryVersion::new("0.0.0")).skipped() {
                let key = match reason {
                    SkipReason::UnparseableBound { error, .. } => {
                        format!("unparseable bound ({})", error.scheme)
                    }
                    other => format!("{other}"),
                };
                *skipped.entry(key).or_default() += 1;
            }
        }
        let superseded = record.superseded_entries();
        if !superseded.is_empty() {
            refined.push((record.id.clone(), superseded.len()));
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "intel zip: {records} records in {elapsed:.1?}, {withdrawn} withdrawn, {origins_null_or_absent} without origins"
    );
    eprintln!("range types: {range_types:?}");
    eprintln!("ranges not evaluable for 0.0.0: {skipped:?}");
    eprintln!(
        "records the superseded-origins refinement changes: {} {refined:?}",
        refined.len()
    );
    for (reason, names) in &failures {
        eprintln!(
            "parse failure x{}: {reason}: {:?}",
            names.len(),
            names.iter().take(5).collect::<Vec<_>>()
        );
    }
    assert_eq!(
        records, 33_081,
        "33,015 malicious + 54 withdrawn + 12 sample"
    );
    assert!(
        failures.is_empty(),
        "{} records failed to parse",
        failures.values().map(Vec::len).sum::<usize>()
    );
    assert_eq!(withdrawn, 54);
    // Only the tinycolor record changes: elsewhere superseded imports left nothing behind that
    // alters a verdict (e.g. MAL-2025-46970 lists 1.1.1, which its current range covers).
    assert_eq!(refined, [("MAL-2025-47141".to_owned(), 1)]);
}

// ---------------------------------------------------------------------------------------------
// properties

const ECOSYSTEMS: &[&str] = &[
    "npm",
    "PyPI",
    "Maven",
    "Go",
    "RubyGems",
    "NuGet",
    "Debian:12",
    "Alpine:v3.20",
    "Red Hat",
    "Packagist",
    "Pub",
    "CRAN",
    "Hackage",
    "Unknown",
];

fn event_strategy(version: BoxedStrategy<String>) -> impl Strategy<Value = Event> {
    (0..4u8, version).prop_map(|(kind, v)| match kind {
        0 => Event::Introduced(v),
        1 => Event::Fixed(v),
        2 => Event::LastAffected(v),
        _ => Event::Limit(v),
    })
}

/// Versions most schemes accept and order alike: dotted numbers, an optional pre-release.
fn plain_version() -> BoxedStrategy<String> {
    (
        prop::collection::vec(0..12u32, 3),
        prop::option::of(prop::sample::select(vec!["alpha", "beta.1", "rc.2"])),
    )
        .prop_map(|(parts, pre)| {
            let core = parts
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(".");
            match pre {
                Some(pre) => format!("{core}-{pre}"),
                None => core,
            }
        })
        .boxed()
}

fn affected(
    ecosystem: &str,
    kind: RangeType,
    events: Vec<Event>,
    versions: Vec<String>,
) -> Affected {
    serde_json::from_value(serde_json::json!({
        "package": {"ecosystem": ecosystem, "name": "p"},
        "ranges": [{"type": kind.as_str(), "events": events}],
        "versions": versions,
    }))
    .expect("affected")
}

/// The spec's pseudocode over strings, with `VersionScheme::compare`.
fn pseudocode(events: &[Event], v: &str, scheme: VersionScheme) -> Option<bool> {
    let cmp = |a: &str, b: &str| scheme.compare(a, b).ok();
    let limits: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::Limit(_)))
        .collect();
    if !limits.is_empty() {
        let mut before = false;
        for limit in limits {
            before |= limit.version().contains('*') || cmp(v, limit.version())?.is_lt();
        }
        if !before {
            return Some(false);
        }
    }
    let mut sorted: Vec<&Event> = events
        .iter()
        .filter(|e| !matches!(e, Event::Limit(_)))
        .collect();
    let zero = |e: &Event| matches!(e, Event::Introduced(x) if x == "0");
    let mut failed = false;
    sorted.sort_by(|a, b| match (zero(a), zero(b)) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => cmp(a.version(), b.version()).unwrap_or_else(|| {
            failed = true;
            Ordering::Equal
        }),
    });
    if failed {
        return None;
    }
    let mut vulnerable = false;
    for e in sorted {
        match e {
            Event::Introduced(_) if zero(e) => vulnerable = true,
            Event::Introduced(x) if cmp(v, x)?.is_ge() => vulnerable = true,
            Event::Fixed(x) if cmp(v, x)?.is_ge() => vulnerable = false,
            Event::LastAffected(x) if cmp(v, x)?.is_gt() => vulnerable = false,
            _ => {}
        }
    }
    Some(vulnerable)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Arbitrary strings everywhere: never a panic, and both paths agree.
    #[test]
    fn evaluation_never_panics(
        ecosystem in prop::sample::select(ECOSYSTEMS),
        kind in prop::sample::select(vec![RangeType::Semver, RangeType::Ecosystem, RangeType::Git, RangeType::Other("X".into())]),
        events in prop::collection::vec(event_strategy(prop_oneof![Just("0".to_owned()), Just("*".to_owned()), any::<String>()].boxed()), 0..8),
        versions in prop::collection::vec(any::<String>(), 0..4),
        version in any::<String>(),
    ) {
        let entry = affected(ecosystem, kind, events, versions);
        let verdict = entry.evaluate(&version);
        prop_assert_eq!(verdict.is_affected(), entry.is_affected(&version));
        let _ = verdict.to_string();
    }

    /// Compiled evaluation (sorted bounds, binary search) equals the spec's pseudocode.
    #[test]
    fn compiled_ranges_follow_the_pseudocode(
        ecosystem in prop::sample::select(ECOSYSTEMS),
        events in prop::collection::vec(event_strategy(prop_oneof![1 => Just("0".to_owned()), 8 => plain_version()].boxed()), 0..8),
        version in plain_version(),
    ) {
        let scheme = Ecosystem::parse(ecosystem).version_scheme();
        let entry = affected(ecosystem, RangeType::Ecosystem, events.clone(), Vec::new());
        let want = pseudocode(&events, &version, scheme);
        let parses = scheme.parse(&version).is_ok()
            && events.iter().all(|e| {
                matches!(e, Event::Introduced(x) if x == "0")
                    || (matches!(e, Event::Limit(x) if x.contains('*')))
                    || scheme.parse(e.version()).is_ok()
            });
        if parses {
            prop_assert_eq!(Some(entry.is_affected(&version)), want);
        } else {
            // A version or bound the ordering rejects never yields a range match.
            prop_assert!(!entry.is_affected(&version));
        }
    }

    /// One introduced/fixed pair (introduced <= fixed, events in either order when they
    /// differ): affected exactly when introduced <= v < fixed, by the range's ordering.
    #[test]
    fn single_pair_is_half_open_interval(
        ecosystem in prop::sample::select(ECOSYSTEMS),
        introduced in plain_version(),
        fixed in plain_version(),
        version in plain_version(),
        reverse in any::<bool>(),
    ) {
        let ecosystem_scheme = Ecosystem::parse(ecosystem).version_scheme();
        for (kind, scheme) in [(RangeType::Ecosystem, ecosystem_scheme), (RangeType::Semver, VersionScheme::SemVer)] {
            let (Ok(lo), Ok(hi), Ok(pair)) = (
                scheme.compare(&introduced, &version),
                scheme.compare(&version, &fixed),
                scheme.compare(&introduced, &fixed),
            ) else {
                continue;
            };
            if pair.is_gt() {
                continue;
            }
            let mut events = vec![Event::Introduced(introduced.clone()), Event::Fixed(fixed.clone())];
            if reverse && pair.is_lt() {
                events.reverse();
            }
            let entry = affected(ecosystem, kind.clone(), events, Vec::new());
            prop_assert_eq!(
                entry.is_affected(&version),
                lo.is_le() && hi.is_lt(),
                "{} {} in [{}, {})", kind, version, introduced, fixed
            );
        }
    }
}

/// The outcome enum is public API the matcher reports from; make sure the variants read well.
#[test]
fn outcome_variants_render() {
    let record = parse(CASES[2].json);
    let verdict = record.affected[0].evaluate("1.0.3");
    assert_eq!(
        verdict.ranges[0].outcome,
        RangeOutcome::Outside(NotInRange::AfterLastAffected("1.0.2".into()))
    );
    let text = verdict.to_string();
    assert!(text.starts_with("\"1.0.3\": not affected"), "{text}");
}
