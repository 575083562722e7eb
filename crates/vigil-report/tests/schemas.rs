//! The SARIF, CycloneDX and SPDX outputs validated against the official JSON schemas kept in
//! `tests/schemas/` (provenance and licences in the README there). Offline: every `$ref` is
//! served from those files, nothing is fetched.

mod fixture;

use std::path::Path;
use std::sync::LazyLock;

use jsonschema::{Registry, Validator};
use proptest::prelude::*;
use serde_json::{Value, json};
use vigil_core::{Component, Ecosystem, Evidence};
use vigil_report::{
    AdvisoryKind, AdvisoryRef, ComponentInstance, ComponentRef, Finding, Format, Risk, ScanReport,
    TableOptions, Tool, render,
};

fn schema_file(relative: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/schemas")
        .join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn validator(schema: &Value, registry: Option<&Registry<'_>>) -> Validator {
    let mut options = jsonschema::options()
        .offline()
        .should_validate_formats(true);
    if let Some(registry) = registry {
        options = options.with_registry(registry);
    }
    options.build(schema).expect("the schema compiles")
}

static SARIF: LazyLock<Validator> =
    LazyLock::new(|| validator(&schema_file("sarif-schema-2.1.0.json"), None));

static SPDX: LazyLock<Validator> =
    LazyLock::new(|| validator(&schema_file("spdx-schema-2.3.json"), None));

static CYCLONEDX: LazyLock<Validator> = LazyLock::new(|| {
    // bom-1.6 refers to its two companions by relative names resolved against its own $id.
    let registry = Registry::new()
        .add(
            "http://cyclonedx.org/schema/spdx.schema.json",
            schema_file("cyclonedx-1.6/spdx.schema.json"),
        )
        .expect("a valid resource URI")
        .add(
            "http://cyclonedx.org/schema/jsf-0.82.schema.json",
            schema_file("cyclonedx-1.6/jsf-0.82.schema.json"),
        )
        .expect("a valid resource URI")
        .prepare()
        .expect("the companion schemas load");
    validator(
        &schema_file("cyclonedx-1.6/bom-1.6.schema.json"),
        Some(&registry),
    )
});

fn document(report: &ScanReport, format: Format) -> Value {
    let mut out = Vec::new();
    render(report, format, &TableOptions::default(), &mut out).expect("rendering to a Vec");
    serde_json::from_slice(&out).expect("the document is JSON")
}

fn errors(validator: &Validator, document: &Value) -> Vec<String> {
    validator
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn validators() -> [(Format, &'static Validator); 3] {
    [
        (Format::Sarif, &SARIF),
        (Format::CycloneDx, &CYCLONEDX),
        (Format::Spdx, &SPDX),
    ]
}

#[test]
fn fixture_documents_are_schema_valid() {
    let report = fixture::report();
    for (format, validator) in validators() {
        let doc = document(&report, format);
        assert_eq!(errors(validator, &doc), Vec::<String>::new(), "{format}");
    }
}

/// The validators must reject broken documents, or the test above proves nothing; the
/// CycloneDX licence case proves the companion `spdx.schema.json` is really in use.
#[test]
fn validators_reject_broken_documents() {
    let report = fixture::report();
    let mut sarif = document(&report, Format::Sarif);
    sarif["version"] = json!("2.0.0");
    assert!(!SARIF.is_valid(&sarif));
    let mut sarif = document(&report, Format::Sarif);
    sarif["runs"][0]["results"][0]["level"] = json!("fatal");
    assert!(!SARIF.is_valid(&sarif));

    let mut bom = document(&report, Format::CycloneDx);
    bom["components"][0]["type"] = json!("banana");
    assert!(!CYCLONEDX.is_valid(&bom));
    let mut bom = document(&report, Format::CycloneDx);
    bom["components"][0]["licenses"] = json!([{ "license": { "id": "MIT" } }]);
    assert!(CYCLONEDX.is_valid(&bom));
    bom["components"][0]["licenses"] = json!([{ "license": { "id": "Not-A-Licence" } }]);
    assert!(!CYCLONEDX.is_valid(&bom));

    let mut spdx = document(&report, Format::Spdx);
    spdx.as_object_mut().unwrap().remove("SPDXID");
    assert!(!SPDX.is_valid(&spdx));
    let mut spdx = document(&report, Format::Spdx);
    spdx["relationships"][0]["relationshipType"] = json!("OWNS");
    assert!(!SPDX.is_valid(&spdx));
}

fn arbitrary_report(name: String, path: String, text: String) -> ScanReport {
    let component = ComponentRef::new(&Component::new(Ecosystem::parse("Maven"), &name, &text));
    let mut report = ScanReport::new(
        Tool {
            name: "vigil".to_owned(),
            version: "0.1.0".to_owned(),
        },
        vec![path.clone(), "/".to_owned()],
        text.clone(),
        "2025-09-08T13:14:17Z".to_owned(),
    );
    report.components = vec![ComponentInstance {
        component: component.clone(),
        evidence: Evidence::Installed,
        locations: vec![path.clone(), format!("/{path}")],
        dev: true,
        processes: Vec::new(),
    }];
    report.findings = vec![Finding {
        advisory: AdvisoryRef {
            id: text.clone(),
            aliases: vec![text.clone(), text.clone()],
            kind: AdvisoryKind::Vulnerability,
            summary: text.clone(),
            cwes: vec![text.clone()],
            source: Some(text.clone()),
            url: Some(format!("https://{text}")),
        },
        component,
        risk: Risk::from_score(-1.0),
        evidence: Evidence::Installed,
        locations: vec![path.clone(), format!("/{path}")],
        processes: Vec::new(),
        match_reason: text,
    }];
    report.normalize();
    report
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Hostile names, paths, ids and timestamps never make a document schema-invalid.
    #[test]
    fn documents_stay_valid_on_arbitrary_strings(
        name in any::<String>(),
        path in any::<String>(),
        text in any::<String>(),
    ) {
        let report = arbitrary_report(name, path, text);
        for (format, validator) in validators() {
            let doc = document(&report, format);
            let found = errors(validator, &doc);
            prop_assert!(found.is_empty(), "{}: {:?}", format, found);
        }
    }
}
