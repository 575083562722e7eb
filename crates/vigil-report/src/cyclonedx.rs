//! The `cyclonedx` format: a CycloneDX 1.6 JSON BOM with vulnerabilities (BOM + VEX in one).
//!
//! - `components`: one per distinct purl (instances of the same package at several places
//!   merge; a component only a finding names is listed too, so every `affects` resolves), `type: library`, `bom-ref` = purl, `group` for namespaced ecosystems (npm scope,
//!   Maven group, Composer vendor), every location as an `evidence.occurrences` entry, and
//!   properties `vigil:ecosystem`, `vigil:evidence` (the strongest), `vigil:dev` (when every
//!   instance is dev-only) and `vigil:pid` per loading process.
//! - `vulnerabilities`: one per advisory, `id`, `source` (feed name and advisory URL),
//!   `references` for aliases, a `ratings` entry with vigil's 0–10 risk score (method
//!   `other`), `cwes` as numbers, `affects` → the components' bom-refs, and properties
//!   `vigil:kind` and `vigil:match` (purl and why it matched).
//! - `serialNumber` is a UUID (version 8, RFC 9562) from the report's content hash, and
//!   `metadata.timestamp` is the caller's `finished` time: the same report gives the same BOM.
//!
//! Hand-written serde structs: the `cyclonedx-bom` crate (0.8) stops at spec 1.5.
//! `tests/schemas.rs` validates the output against the official 1.6 schema.

use std::collections::BTreeSet;
use std::io;

use serde::Serialize;

use crate::ReportError;
use crate::model::{AdvisoryKind, Finding, RiskLevel, ScanReport, rfc3339, web_url};
use crate::sarif::cwe_number;

/// Writes `report` as a CycloneDX 1.6 JSON document.
pub fn write(report: &ScanReport, out: &mut dyn io::Write) -> Result<(), ReportError> {
    crate::json::write_value(&build(report), out)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bom<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: Metadata<'a>,
    components: Vec<Component<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    vulnerabilities: Vec<Vulnerability<'a>>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<&'a str>,
    tools: Tools<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Tools<'a> {
    components: [ToolComponent<'a>; 1],
}

#[derive(Serialize)]
struct ToolComponent<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    name: &'a str,
    version: &'a str,
}

#[derive(Serialize)]
struct Component<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(rename = "bom-ref")]
    bom_ref: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    name: &'a str,
    version: &'a str,
    purl: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<ComponentEvidence<'a>>,
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct ComponentEvidence<'a> {
    occurrences: Vec<Occurrence<'a>>,
}

#[derive(Serialize)]
struct Occurrence<'a> {
    location: &'a str,
}

#[derive(Serialize)]
struct Property {
    name: &'static str,
    value: String,
}

#[derive(Serialize)]
struct Vulnerability<'a> {
    id: &'a str,
    source: Source<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    references: Vec<Reference<'a>>,
    ratings: [Rating; 1],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cwes: Vec<u32>,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    affects: Vec<Affect>,
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Source<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
}

#[derive(Serialize)]
struct Reference<'a> {
    id: &'a str,
    source: Source<'a>,
}

#[derive(Serialize)]
struct Rating {
    source: Source<'static>,
    score: f64,
    severity: &'static str,
    method: &'static str,
}

#[derive(Serialize)]
struct Affect {
    #[serde(rename = "ref")]
    reference: String,
}

/// The `$schema` CycloneDX 1.6 documents name.
const SCHEMA_URI: &str = "http://cyclonedx.org/schema/bom-1.6.schema.json";

fn build(report: &ScanReport) -> Bom<'_> {
    let mut metadata_properties: Vec<Property> = report
        .targets
        .iter()
        .map(|target| Property {
            name: "vigil:target",
            value: target.clone(),
        })
        .collect();
    if report.processes_scanned {
        metadata_properties.push(Property {
            name: "vigil:processes-scanned",
            value: "true".to_owned(),
        });
    }
    Bom {
        schema: SCHEMA_URI,
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: serial_number(&report.content_hash()),
        version: 1,
        metadata: Metadata {
            timestamp: rfc3339(&report.finished),
            tools: Tools {
                components: [ToolComponent {
                    ty: "application",
                    name: &report.tool.name,
                    version: &report.tool.version,
                }],
            },
            properties: metadata_properties,
        },
        components: components(report),
        vulnerabilities: vulnerabilities(report),
    }
}

/// One component per distinct purl, in purl order.
fn components(report: &ScanReport) -> Vec<Component<'_>> {
    report
        .packages()
        .into_iter()
        .map(|package| {
            let reference = package.component;
            let (group, name) = group_and_name(reference);
            let mut properties = vec![
                Property {
                    name: "vigil:ecosystem",
                    value: reference.ecosystem.to_string(),
                },
                Property {
                    name: "vigil:evidence",
                    value: package.strongest().to_string(),
                },
            ];
            if package.dev {
                properties.push(Property {
                    name: "vigil:dev",
                    value: "true".to_owned(),
                });
            }
            properties.extend(package.pids.iter().map(|pid| Property {
                name: "vigil:pid",
                value: pid.to_string(),
            }));
            let locations = package.locations();
            Component {
                ty: "library",
                bom_ref: package.purl.clone(),
                group,
                name,
                version: &reference.version,
                purl: package.purl,
                evidence: (!locations.is_empty()).then(|| ComponentEvidence {
                    occurrences: locations
                        .into_iter()
                        .map(|location| Occurrence { location })
                        .collect(),
                }),
                properties,
            }
        })
        .collect()
}

/// CycloneDX `group` and `name`: the purl namespace splits off for ecosystems whose names
/// carry one (npm scope, Maven group, Composer vendor); other names stay whole, as found.
fn group_and_name(reference: &crate::model::ComponentRef) -> (Option<&str>, &str) {
    let purl = &reference.purl;
    match (purl.ty(), purl.namespace()) {
        ("npm" | "maven" | "composer", Some(_)) => {
            let separator = if purl.ty() == "maven" { ':' } else { '/' };
            match reference.name.split_once(separator) {
                Some((group, name)) if !group.is_empty() && !name.is_empty() => (Some(group), name),
                _ => (None, &reference.name),
            }
        }
        _ => (None, &reference.name),
    }
}

/// One vulnerability per advisory, affecting every matched component.
fn vulnerabilities(report: &ScanReport) -> Vec<Vulnerability<'_>> {
    report
        .findings
        .chunk_by(|a, b| a.advisory.kind == b.advisory.kind && a.advisory.id == b.advisory.id)
        .filter_map(|group| {
            let first = group.first()?;
            Some(vulnerability(first, group))
        })
        .collect()
}

fn vulnerability<'a>(first: &'a Finding, group: &'a [Finding]) -> Vulnerability<'a> {
    let advisory = &first.advisory;
    let score = group
        .iter()
        .map(|f| f.risk.clamped_score())
        .fold(0.0_f64, f64::max);
    let level = group
        .iter()
        .map(|f| f.risk.level)
        .max()
        .unwrap_or(RiskLevel::None);
    let affects: BTreeSet<String> = group.iter().map(|f| f.component.purl.to_string()).collect();
    let mut properties = vec![Property {
        name: "vigil:kind",
        value: advisory.kind.as_str().to_owned(),
    }];
    let matches: BTreeSet<String> = group
        .iter()
        .filter(|f| !f.match_reason.is_empty())
        .map(|f| format!("{}: {}", f.component.purl, f.match_reason))
        .collect();
    properties.extend(matches.into_iter().map(|value| Property {
        name: "vigil:match",
        value,
    }));
    let source_name = advisory.source.as_deref().unwrap_or("OSV");
    Vulnerability {
        id: &advisory.id,
        source: Source {
            name: source_name,
            url: advisory.url.as_deref().and_then(web_url),
        },
        references: advisory
            .aliases
            .iter()
            .map(|alias| Reference {
                id: alias,
                source: Source {
                    name: source_name,
                    url: None,
                },
            })
            .collect(),
        ratings: [Rating {
            source: Source {
                name: "vigil",
                url: None,
            },
            score,
            severity: severity(level),
            method: "other",
        }],
        cwes: {
            let numbers: BTreeSet<u32> =
                advisory.cwes.iter().filter_map(|c| cwe_number(c)).collect();
            let mut numbers: Vec<u32> = numbers.into_iter().collect();
            if advisory.kind == AdvisoryKind::Malicious && !numbers.contains(&506) {
                numbers.push(506);
                numbers.sort_unstable();
            }
            numbers
        },
        description: &advisory.summary,
        affects: affects
            .into_iter()
            .map(|reference| Affect { reference })
            .collect(),
        properties,
    }
}

fn severity(level: RiskLevel) -> &'static str {
    match level {
        RiskLevel::Critical => "critical",
        RiskLevel::High => "high",
        RiskLevel::Medium => "medium",
        RiskLevel::Low => "low",
        RiskLevel::None => "none",
    }
}

/// `urn:uuid:` of a version-8 UUID (RFC 9562, vendor-specific) built from `hash`.
fn serial_number(hash: &[u8; 32]) -> String {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = crate::model::hex(&bytes);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_numbers_are_version_8_uuids() {
        let serial = serial_number(&[0xff; 32]);
        assert_eq!(serial, "urn:uuid:ffffffff-ffff-8fff-bfff-ffffffffffff");
        let serial = serial_number(&[0; 32]);
        assert_eq!(serial, "urn:uuid:00000000-0000-8000-8000-000000000000");
    }
}
