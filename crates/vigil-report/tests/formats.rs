//! Snapshot tests: every format rendered from the fixture report (`tests/fixture`), plus the
//! properties every format must keep whatever the input.

mod fixture;

use proptest::prelude::*;
use vigil_core::{Component, Ecosystem, Evidence};
use vigil_report::terminal::is_unsafe;
use vigil_report::{
    AdvisoryKind, AdvisoryRef, ComponentInstance, ComponentRef, Finding, Format, ProcessRef, Risk,
    ScanError, ScanReport, TableOptions, Tool, render,
};

fn rendered(report: &ScanReport, format: Format, color: bool) -> String {
    let mut out = Vec::new();
    render(report, format, &TableOptions { color }, &mut out).expect("rendering to a Vec");
    String::from_utf8(out).expect("renderers write UTF-8")
}

#[test]
fn snapshots_of_every_format() {
    let report = fixture::report();
    for format in Format::ALL {
        let text = rendered(&report, format, false);
        insta::assert_snapshot!(format.as_str(), text);
    }
}

#[test]
fn coloured_table_snapshot() {
    // ESC shown as ␛ so the snapshot file stays readable.
    let text = rendered(&fixture::report(), Format::Table, true).replace('\u{1b}', "␛");
    insta::assert_snapshot!("table-color", text);
}

/// The SGR sequences the table itself emits; anything else that could drive a terminal came
/// from scanned data and must have been escaped.
fn strip_own_sgr(text: &str) -> String {
    ["\u{1b}[1;31m", "\u{1b}[1;33m", "\u{1b}[1m", "\u{1b}[0m"]
        .iter()
        .fold(text.to_owned(), |t, sgr| t.replace(sgr, ""))
}

#[test]
fn hostile_strings_never_reach_the_terminal_raw() {
    let report = fixture::report();
    for format in Format::ALL {
        for color in [false, true] {
            let text = strip_own_sgr(&rendered(&report, format, color));
            let bad: Vec<char> = text
                .chars()
                .filter(|&c| c != '\n' && is_unsafe(c))
                .collect();
            assert!(bad.is_empty(), "{format} (color {color}): {bad:?}");
        }
    }
    let table = rendered(&report, Format::Table, false);
    assert!(table.contains("evil\\u{1b}[31m\"pkg\"\\u{202e}名前@1.0.0\\u{1b}]0;pwned\\u{7}"));
}

#[test]
fn json_reads_back_into_the_same_report() {
    let report = fixture::report();
    let text = rendered(&report, Format::Json, false);
    let back: ScanReport = serde_json::from_str(&text).unwrap();
    assert_eq!(back, report);
}

#[test]
fn every_json_format_is_deterministic_and_parses() {
    let report = fixture::report();
    for format in [Format::Json, Format::Sarif, Format::CycloneDx, Format::Spdx] {
        let first = rendered(&report, format, false);
        assert_eq!(first, rendered(&report, format, false), "{format}");
        serde_json::from_str::<serde_json::Value>(&first).unwrap();
    }
}

#[test]
fn empty_report_renders_everywhere() {
    let mut report = ScanReport::new(
        Tool {
            name: "vigil".to_owned(),
            version: "0.1.0".to_owned(),
        },
        Vec::new(),
        String::new(),
        String::new(),
    );
    report.normalize();
    assert_eq!(
        rendered(&report, Format::Table, false),
        "0 components in 0 locations, 0 malicious, 0 vulnerable, 0 errors\n"
    );
    for format in [Format::Json, Format::Sarif, Format::CycloneDx, Format::Spdx] {
        let text = rendered(&report, format, false);
        serde_json::from_str::<serde_json::Value>(&text).unwrap();
    }
}

#[test]
fn summary_line_uses_singulars() {
    let mut report = fixture::report();
    report.components.truncate(1);
    report.components[0].locations.truncate(1);
    report.findings.clear();
    report.errors.truncate(1);
    report.normalize();
    let table = rendered(&report, Format::Table, false);
    assert!(
        table.ends_with("1 component in 1 location, 0 malicious, 0 vulnerable, 1 error\n"),
        "{table}"
    );
}

#[test]
fn long_error_lists_are_cut_in_the_table() {
    let mut report = fixture::report();
    report.errors = (0..25)
        .map(|i| ScanError {
            path: format!("./dir{i:02}"),
            reason: "permission denied".to_owned(),
            line: None,
            field: None,
        })
        .collect();
    report.normalize();
    let table = rendered(&report, Format::Table, false);
    assert!(table.contains("./dir19: permission denied"));
    assert!(!table.contains("./dir20"));
    assert!(table.contains("… and 5 more"));
}

/// A report built from arbitrary strings: every renderer must succeed, the JSON formats must
/// parse, and nothing unsafe may reach the output raw.
fn arbitrary_report(
    name: String,
    version: String,
    location: String,
    summary: String,
    advisory_id: String,
    started: String,
) -> ScanReport {
    let component = ComponentRef::new(&Component::new(Ecosystem::parse("npm"), &name, &version));
    let mut report = ScanReport::new(
        Tool {
            name: "vigil".to_owned(),
            version: "0.1.0".to_owned(),
        },
        vec![".".to_owned(), location.clone()],
        started.clone(),
        started,
    );
    report.components = vec![ComponentInstance {
        component: component.clone(),
        evidence: Evidence::Loaded,
        locations: vec![location.clone()],
        dev: false,
        processes: vec![ProcessRef {
            pid: 1,
            exe: Some(name.clone()),
            container_id: Some(version.clone()),
        }],
    }];
    report.findings = vec![Finding {
        advisory: AdvisoryRef {
            id: advisory_id,
            aliases: vec![summary.clone()],
            kind: AdvisoryKind::Malicious,
            summary: summary.clone(),
            cwes: vec![summary.clone(), "CWE-506".to_owned()],
            source: Some(summary.clone()),
            url: Some(summary),
        },
        component,
        risk: Risk::from_score(f64::NAN),
        evidence: Evidence::Loaded,
        locations: vec![location.clone()],
        processes: Vec::new(),
        match_reason: name,
    }];
    report.errors = vec![ScanError {
        path: location,
        reason: version,
        line: Some(0),
        field: None,
    }];
    report.normalize();
    report
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn renderers_survive_arbitrary_strings(
        name in any::<String>(),
        version in any::<String>(),
        location in any::<String>(),
        summary in any::<String>(),
        advisory_id in any::<String>(),
        started in any::<String>(),
    ) {
        let report = arbitrary_report(name, version, location, summary, advisory_id, started);
        for format in Format::ALL {
            let text = rendered(&report, format, false);
            prop_assert!(!text.chars().any(|c| c != '\n' && is_unsafe(c)), "{}", format);
            if format != Format::Table {
                prop_assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
            }
            if format == Format::Json {
                let back: ScanReport = serde_json::from_str(&text).expect("reads back");
                prop_assert_eq!(&back, &report);
            }
        }
    }
}

#[test]
fn sboms_list_components_that_only_findings_name() {
    let mut report = fixture::report();
    report.components.retain(|c| c.component.name != "debug");
    report.normalize();
    let bom: serde_json::Value =
        serde_json::from_str(&rendered(&report, Format::CycloneDx, false)).unwrap();
    let refs: Vec<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["bom-ref"].as_str())
        .collect();
    assert!(refs.contains(&"pkg:npm/debug@4.4.2"), "{refs:?}");
    let spdx = rendered(&report, Format::Spdx, false);
    assert!(spdx.contains("\"referenceLocator\": \"pkg:npm/debug@4.4.2\""));
}

fn scan_json_doc() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/scan-json.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// docs/scan-json.md is the contract: its example must read as a report already in canonical
/// form, and every field the json format writes must be documented there.
#[test]
fn scan_json_doc_matches_the_format() {
    let doc = scan_json_doc();
    let example = doc
        .split("```json\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap();
    let report: ScanReport = serde_json::from_str(example).unwrap();
    let mut normalized = report.clone();
    normalized.normalize();
    assert_eq!(
        normalized, report,
        "the example is not in canonical order or counts"
    );

    fn keys(value: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    out.insert(key.clone());
                    keys(value, out);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }
    let written: serde_json::Value =
        serde_json::from_str(&rendered(&fixture::report(), Format::Json, false)).unwrap();
    let mut found = std::collections::BTreeSet::new();
    keys(&written, &mut found);
    let undocumented: Vec<&String> = found
        .iter()
        .filter(|key| !doc.contains(&format!("| `{key}` |")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "undocumented fields: {undocumented:?}"
    );
}
