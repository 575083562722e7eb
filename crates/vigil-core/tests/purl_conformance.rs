//! Package-URL conformance: every test in `shared/conformance/purl/tests/**/*-test.json`
//! (package-url/purl-spec's suite), and the built-in type table checked against
//! `shared/conformance/purl/types/*-definition.json`.
//!
//! How each test type is run:
//! - `parse`: the input string is parsed and the decoded components compared (`null`
//!   qualifiers and `{}` are the same);
//! - `validate`: the input string is parsed and formatted; the result must be the expected
//!   canonical string;
//! - `build`: the components go through [`PurlBuilder`] and the result is formatted.
//!
//! `required` tests use the conformance parser [`Purl::parse`]; `recommended` tests, which the
//! suite defines as showing "how to remediate or normalize" non-conforming data, use
//! [`Purl::parse_lenient`]. An expected failure passes when the parser or builder refuses.
//!
//! Every `required` test must pass except the listed upstream errata, whose documented
//! behaviour is checked instead; `recommended` tests may fail only as listed, with the reason.
//!
//! The data is read from the `shared/` folder beside the project checkout (override with
//! `VIGIL_SHARED_DIR`); when it is absent the test says so and passes, so a bare clone still
//! builds green (`VIGIL_REQUIRE_SHARED=1` makes a missing folder a failure).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use vigil_core::Purl;
use vigil_core::purl::{CaseRule, PurlBuilder, REGISTERED_TYPES, Requirement, type_definition};

fn shared_dir() -> Option<PathBuf> {
    vigil_testkit::shared_path("conformance/purl", "purl conformance")
        .map(|_| vigil_testkit::shared_dir())
}

/// `required` tests that contradict other `required` tests or the standard; for these the
/// documented behaviour is checked instead: [`Purl::parse`] refuses the input and
/// [`Purl::parse_lenient`] gives the expected result. (file, test_type, input, reason)
const REQUIRED_ERRATA: &[(&str, &str, &str, &str)] = &[(
    "maven-test.json",
    "parse",
    "pkg:Maven/org.apache.xmlgraphics/batik-anim@1.9.1?type=pom&repositorY_url=repo.spring.io/release",
    "expects the upper-case qualifier key `repositorY_url` to be accepted, while ECMA-427 5.6.6 \
     says keys shall be lower-case and the required gem and rpm tests expect the same kind of \
     key to be refused (purl-spec #942; #951 fixed only the gem test)",
)];

/// `recommended` tests we knowingly fail. (file, test_type, input, reason)
const RECOMMENDED_FAILURES: &[(&str, &str, &str, &str)] = &[(
    "git-test.json",
    "validate",
    "pkg:git/github/Package-url/purl-Spec@244fd47e07d1004f0aed9c",
    "lower-cases namespace and name, but git-definition.json marks both case_sensitive and \
     repository paths on most hosts are case-sensitive",
)];

fn listed<'a>(
    list: &'a [(&str, &str, &str, &'a str)],
    file: &str,
    test_type: &str,
    input: &Value,
) -> Option<&'a str> {
    list.iter()
        .find(|(f, t, i, _)| *f == file && *t == test_type && input.as_str() == Some(*i))
        .map(|(_, _, _, reason)| *reason)
}

fn opt_str(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The components of a purl as the suite writes them.
fn components(purl: &Purl) -> Value {
    let qualifiers: serde_json::Map<String, Value> = purl
        .qualifiers()
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    serde_json::json!({
        "type": purl.ty(),
        "namespace": purl.namespace(),
        "name": purl.name(),
        "version": purl.version(),
        "qualifiers": if qualifiers.is_empty() { Value::Null } else { Value::Object(qualifiers) },
        "subpath": purl.subpath(),
    })
}

/// The expected components, with `{}` qualifiers written as `null` and absent keys as `null`.
fn expected_components(v: &Value) -> Value {
    let qualifiers = match v.get("qualifiers") {
        Some(Value::Object(map)) if !map.is_empty() => Value::Object(map.clone()),
        _ => Value::Null,
    };
    serde_json::json!({
        "type": opt_str(v, "type"),
        "namespace": opt_str(v, "namespace"),
        "name": opt_str(v, "name"),
        "version": opt_str(v, "version"),
        "qualifiers": qualifiers,
        "subpath": opt_str(v, "subpath"),
    })
}

fn build(input: &Value) -> Result<Purl, String> {
    let mut builder = PurlBuilder::default();
    if let Some(ty) = opt_str(input, "type") {
        builder = builder.ty(ty);
    }
    if let Some(namespace) = opt_str(input, "namespace") {
        builder = builder.namespace(namespace);
    }
    if let Some(name) = opt_str(input, "name") {
        builder = builder.name(name);
    }
    if let Some(version) = opt_str(input, "version") {
        builder = builder.version(version);
    }
    if let Some(Value::Object(qualifiers)) = input.get("qualifiers") {
        for (key, value) in qualifiers {
            if let Some(value) = value.as_str() {
                builder = builder.qualifier(key.clone(), value);
            }
        }
    }
    if let Some(subpath) = opt_str(input, "subpath") {
        builder = builder.subpath(subpath);
    }
    builder.build().map_err(|e| e.to_string())
}

/// Runs one test; `Err` describes the failure.
fn run(test: &Value, lenient: bool) -> Result<(), String> {
    let test_type = test["test_type"].as_str().unwrap_or_default();
    let input = &test["input"];
    let expected = &test["expected_output"];
    let expect_failure = test["expected_failure"].as_bool().unwrap_or(false);
    let parse = |s: &str| {
        if lenient {
            Purl::parse_lenient(s)
        } else {
            Purl::parse(s)
        }
        .map_err(|e| e.to_string())
    };
    let result = match test_type {
        "parse" | "validate" => parse(input.as_str().unwrap_or_default()),
        "build" => build(input),
        other => return Err(format!("unknown test_type {other:?}")),
    };
    match (result, expect_failure) {
        (Err(_), true) => Ok(()),
        (Ok(purl), true) => Err(format!("expected a failure, got {purl}")),
        (Err(e), false) => Err(format!("unexpected error: {e}")),
        (Ok(purl), false) if test_type == "parse" => {
            let (got, want) = (components(&purl), expected_components(expected));
            if got == want {
                Ok(())
            } else {
                Err(format!("components {got} != expected {want}"))
            }
        }
        (Ok(purl), false) => {
            let got = purl.to_string();
            if Some(got.as_str()) == expected.as_str() {
                Ok(())
            } else {
                Err(format!("{got} != expected {expected}"))
            }
        }
    }
}

fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![dir.join("tests/spec/specification-test.json")];
    let mut types: Vec<PathBuf> = std::fs::read_dir(dir.join("tests/types"))
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("-test.json"))
        .collect();
    types.sort();
    files.extend(types);
    files
}

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    errata: usize,
}

#[test]
fn every_purl_spec_test_case() {
    let Some(shared) = shared_dir() else { return };
    let dir = shared.join("conformance/purl");
    let mut by_kind: BTreeMap<(String, String), Tally> = BTreeMap::new();
    let mut by_file: BTreeMap<String, Tally> = BTreeMap::new();
    let mut required_failures = Vec::new();
    let mut recommended_failures = Vec::new();
    let mut unlisted_recommended = Vec::new();
    let mut total = 0;
    for path in test_files(&dir) {
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let json = read_json(&path);
        let tests = json["tests"].as_array().cloned().unwrap_or_default();
        for (index, test) in tests.iter().enumerate() {
            total += 1;
            let test_type = test["test_type"].as_str().unwrap_or_default().to_owned();
            let group = test["test_group"].as_str().unwrap_or_default().to_owned();
            let required = group == "required";
            let label = format!(
                "{file}#{index} [{test_type}/{group}] {}: {}",
                test["description"].as_str().unwrap_or_default(),
                test["input"]
            );
            let tally_kind = by_kind
                .entry((test_type.clone(), group.clone()))
                .or_default();
            let tally_file = by_file.entry(file.clone()).or_default();
            if let Some(reason) = listed(REQUIRED_ERRATA, &file, &test_type, &test["input"]) {
                // Documented behaviour: the strict parser refuses, the lenient one conforms.
                let strict_refuses =
                    Purl::parse(test["input"].as_str().unwrap_or_default()).is_err();
                let lenient = run(test, true);
                if strict_refuses && lenient.is_ok() {
                    tally_kind.errata += 1;
                    tally_file.errata += 1;
                    println!("ERRATUM {label}\n    {reason}");
                } else {
                    tally_kind.failed += 1;
                    tally_file.failed += 1;
                    required_failures.push(format!(
                        "{label}\n    erratum no longer behaves as documented (strict refuses: {strict_refuses}, lenient: {lenient:?})"
                    ));
                }
                continue;
            }
            match run(test, !required) {
                Ok(()) => {
                    tally_kind.passed += 1;
                    tally_file.passed += 1;
                }
                Err(why) => {
                    tally_kind.failed += 1;
                    tally_file.failed += 1;
                    let line = format!("{label}\n    {why}");
                    if required {
                        required_failures.push(line);
                    } else {
                        match listed(RECOMMENDED_FAILURES, &file, &test_type, &test["input"]) {
                            Some(reason) => {
                                recommended_failures.push(format!("{line}\n    known: {reason}"))
                            }
                            None => unlisted_recommended.push(line),
                        }
                    }
                }
            }
        }
    }

    println!("purl conformance: {total} tests");
    println!(
        "{:<10} {:<12} {:>6} {:>6} {:>7}",
        "test_type", "group", "passed", "failed", "errata"
    );
    for ((test_type, group), t) in &by_kind {
        println!(
            "{test_type:<10} {group:<12} {:>6} {:>6} {:>7}",
            t.passed, t.failed, t.errata
        );
    }
    println!(
        "{:<28} {:>6} {:>6} {:>7}",
        "file", "passed", "failed", "errata"
    );
    for (file, t) in &by_file {
        println!("{file:<28} {:>6} {:>6} {:>7}", t.passed, t.failed, t.errata);
    }
    for line in &recommended_failures {
        println!("RECOMMENDED FAILURE {line}");
    }
    for line in &unlisted_recommended {
        println!("UNLISTED RECOMMENDED FAILURE {line}");
    }
    for line in &required_failures {
        println!("REQUIRED FAILURE {line}");
    }
    assert_eq!(total, 586, "the suite should hold 586 tests");
    assert!(
        required_failures.is_empty() && unlisted_recommended.is_empty(),
        "{} required and {} unlisted recommended failures:\n{}",
        required_failures.len(),
        unlisted_recommended.len(),
        required_failures
            .iter()
            .chain(&unlisted_recommended)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        recommended_failures.len(),
        RECOMMENDED_FAILURES.len(),
        "a listed recommended failure now passes: remove it from RECOMMENDED_FAILURES"
    );
}

fn case_rule(definition: &Value) -> CaseRule {
    match definition.get("case_sensitive").and_then(Value::as_bool) {
        Some(false) => CaseRule::Lower,
        _ => CaseRule::Sensitive,
    }
}

#[test]
fn type_table_matches_the_definitions() {
    let Some(shared) = shared_dir() else { return };
    let dir = shared.join("conformance/purl/types");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("-definition.json"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        REGISTERED_TYPES.len(),
        "one definition per registered type"
    );
    for path in files {
        let json = read_json(&path);
        let ty = json["type"].as_str().unwrap_or_default();
        let Some(ours) = type_definition(ty) else {
            panic!(
                "type {ty} ({}) is missing from REGISTERED_TYPES",
                path.display()
            )
        };
        let namespace = &json["namespace_definition"];
        let requirement = match namespace["requirement"].as_str() {
            Some("required") => Requirement::Required,
            Some("prohibited") => Requirement::Prohibited,
            _ => Requirement::Optional,
        };
        assert_eq!(ours.namespace, requirement, "{ty} namespace requirement");
        // cpan: "shall be uppercase" (the definition's note; no case_sensitive field).
        let namespace_case = if ty == "cpan" {
            CaseRule::Upper
        } else {
            case_rule(namespace)
        };
        assert_eq!(ours.namespace_case, namespace_case, "{ty} namespace case");
        assert_eq!(
            ours.name_case,
            case_rule(&json["name_definition"]),
            "{ty} name case"
        );
        assert_eq!(
            ours.version_case,
            case_rule(&json["version_definition"]),
            "{ty} version case"
        );
        let required: Vec<&str> = json["qualifiers_definition"]
            .as_array()
            .map(|qs| {
                qs.iter()
                    .filter(|q| q["requirement"].as_str() == Some("required"))
                    .filter_map(|q| q["key"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            ours.required_qualifiers,
            required.as_slice(),
            "{ty} required qualifiers"
        );
    }
}

#[test]
fn type_examples_parse_canonically() {
    let Some(shared) = shared_dir() else { return };
    let dir = shared.join("conformance/purl/types");
    let mut failures = Vec::new();
    let mut checked = 0;
    for def in REGISTERED_TYPES {
        let json = read_json(&dir.join(format!("{}-definition.json", def.ty)));
        for example in json["examples"].as_array().cloned().unwrap_or_default() {
            let Some(example) = example.as_str() else {
                continue;
            };
            checked += 1;
            match Purl::parse(example) {
                Ok(purl) => {
                    let again = Purl::parse(&purl.to_string());
                    if again.as_ref() != Ok(&purl) {
                        failures.push(format!("{example}: reformatted {purl} parses as {again:?}"));
                    }
                }
                Err(e) => failures.push(format!("{example}: {e}")),
            }
        }
    }
    println!("{checked} type-definition examples parsed");
    assert!(
        failures.is_empty(),
        "examples that fail:\n{}",
        failures.join("\n")
    );
}
