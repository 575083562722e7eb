//! The `spdx` format: an SPDX 2.3 JSON document.
//!
//! - One package per distinct purl (instances at several places merge; a component only a
//!   finding names is listed too): `name` and
//!   `versionInfo` as found, `downloadLocation: NOASSERTION` and `filesAnalyzed: false` (vigil
//!   reads package metadata, not package contents), an `externalRefs` entry
//!   `PACKAGE-MANAGER`/`purl`, a `SECURITY`/`advisory` entry per matched advisory that has a
//!   URL, `primaryPackagePurpose: LIBRARY`, and `sourceInfo` saying how and where vigil found
//!   it (`INSTALLED at node_modules/debug/package.json`), and a `comment` for dev-only ones.
//! - The document `DESCRIBES` every package.
//! - `SPDXID`s are `SPDXRef-Package-<ecosystem>-<name>-<version>-<hash>`, with every
//!   character SPDX ids do not allow replaced by `-` and a short purl hash keeping them unique.
//! - `documentNamespace` is derived from the report's content hash, and `created` is the
//!   caller's `finished` time (fractional seconds dropped: SPDX wants `YYYY-MM-DDThh:mm:ssZ`):
//!   the same report gives the same document, a different scan a different namespace.
//!
//! `tests/schemas.rs` validates the output against the official SPDX 2.3 JSON schema.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::io;

use serde::Serialize;

use crate::ReportError;
use crate::model::{PackageSummary, ScanReport, hex, sha256, web_url};

/// Writes `report` as an SPDX 2.3 JSON document.
pub fn write(report: &ScanReport, out: &mut dyn io::Write) -> Result<(), ReportError> {
    crate::json::write_value(&build(report), out)
}

/// Prefix of every document namespace; the document's content hash follows. `spdx.org/spdxdocs`
/// is the SPDX convention for tools without a site of their own to host documents.
const NAMESPACE_PREFIX: &str = "https://spdx.org/spdxdocs/vigil-scan-";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo,
    packages: Vec<Package<'a>>,
    relationships: Vec<Relationship>,
}

#[derive(Serialize)]
struct CreationInfo {
    created: String,
    creators: [String; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Package<'a> {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: &'a str,
    version_info: &'a str,
    download_location: &'static str,
    files_analyzed: bool,
    primary_package_purpose: &'static str,
    source_info: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'static str>,
    external_refs: Vec<ExternalRef>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: &'static str,
    relationship_type: &'static str,
    related_spdx_element: String,
}

fn build(report: &ScanReport) -> Document<'_> {
    let mut advisories: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for finding in &report.findings {
        if let Some(url) = finding.advisory.url.as_deref().and_then(web_url) {
            advisories
                .entry(finding.component.purl.to_string())
                .or_default()
                .insert(url);
        }
    }
    let packages: Vec<Package<'_>> =
        report
            .packages()
            .into_iter()
            .map(|package| {
                let reference = package.component;
                let mut external_refs = vec![ExternalRef {
                    reference_category: "PACKAGE-MANAGER",
                    reference_type: "purl",
                    reference_locator: package.purl.clone(),
                }];
                external_refs.extend(advisories.get(&package.purl).into_iter().flatten().map(
                    |url| ExternalRef {
                        reference_category: "SECURITY",
                        reference_type: "advisory",
                        reference_locator: (*url).to_owned(),
                    },
                ));
                Package {
                    spdx_id: package_id(
                        &reference.ecosystem.to_string(),
                        &reference.name,
                        &reference.version,
                        &package.purl,
                    ),
                    name: &reference.name,
                    version_info: &reference.version,
                    download_location: "NOASSERTION",
                    files_analyzed: false,
                    primary_package_purpose: "LIBRARY",
                    source_info: source_info(&package),
                    comment: package.dev.then_some("development dependency only"),
                    external_refs,
                }
            })
            .collect();
    let relationships = packages
        .iter()
        .map(|package| Relationship {
            spdx_element_id: "SPDXRef-DOCUMENT",
            relationship_type: "DESCRIBES",
            related_spdx_element: package.spdx_id.clone(),
        })
        .collect();
    let name = if report.targets.is_empty() {
        "vigil scan".to_owned()
    } else {
        format!("vigil scan {}", report.targets.join(" "))
    };
    Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name,
        document_namespace: format!(
            "{NAMESPACE_PREFIX}{}",
            hex(report.content_hash().get(..16).unwrap_or_default())
        ),
        creation_info: CreationInfo {
            created: spdx_timestamp(&report.finished),
            creators: [format!(
                "Tool: {}-{}",
                report.tool.name, report.tool.version
            )],
        },
        packages,
        relationships,
    }
}

/// `INSTALLED at a, b; DECLARED at c`: the evidence kinds, strongest first, with their places.
fn source_info(package: &PackageSummary<'_>) -> String {
    package
        .evidence
        .iter()
        .map(|(Reverse(evidence), places)| {
            if places.is_empty() {
                evidence.to_string()
            } else {
                let places: Vec<&str> = places.iter().copied().collect();
                format!("{evidence} at {}", places.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `SPDXRef-Package-npm-debug-4.4.2-1a2b3c4d`: readable, limited to the characters SPDX ids
/// allow (letters, digits, `.`, `-`), unique through a hash of the purl.
fn package_id(ecosystem: &str, name: &str, version: &str, purl: &str) -> String {
    let mut id = String::from("SPDXRef-Package");
    for part in [ecosystem, name, version] {
        id.push('-');
        let mut last_dash = true;
        for c in part.chars().take(64) {
            if c.is_ascii_alphanumeric() || c == '.' {
                id.push(c);
                last_dash = false;
            } else if !last_dash {
                id.push('-');
                last_dash = true;
            }
        }
        while id.ends_with('-') {
            id.pop();
        }
    }
    id.push('-');
    id.push_str(&hex(sha256(purl.as_bytes()).get(..4).unwrap_or_default()));
    id
}

/// `2025-09-08T13:14:15Z` from an RFC 3339 UTC timestamp (fractional seconds dropped); other
/// shapes are kept as given.
fn spdx_timestamp(rfc3339: &str) -> String {
    let trimmed = rfc3339.trim();
    let Some(body) = trimmed
        .strip_suffix('Z')
        .or_else(|| trimmed.strip_suffix('z'))
    else {
        return trimmed.to_owned();
    };
    let whole = body.split_once('.').map_or(body, |(whole, _)| whole);
    format!("{whole}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_ids_use_only_allowed_characters() {
        let cases = [
            ("npm", "debug", "4.4.2"),
            ("npm", "@ctrl/tinycolor", "4.1.1"),
            ("Maven", "org.apache.logging.log4j:log4j-core", "2.14.1"),
            ("npm", "evil\u{1b}[31m\"quote\"ünï", "1.0.0"),
            ("Debian:12", "libc6", "2.36-9+deb12u4"),
            ("", "", ""),
        ];
        for (ecosystem, name, version) in cases {
            let id = package_id(ecosystem, name, version, "pkg:x");
            let idstring = id.strip_prefix("SPDXRef-").unwrap();
            assert!(
                idstring
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
                "{id}"
            );
            assert!(!id.contains("--"), "{id}");
        }
        assert_eq!(
            package_id("npm", "@ctrl/tinycolor", "4.1.1", "pkg:x")
                .rsplit_once('-')
                .unwrap()
                .0,
            "SPDXRef-Package-npm-ctrl-tinycolor-4.1.1"
        );
    }

    #[test]
    fn timestamps_drop_fractions() {
        let cases = [
            ("2025-09-08T13:14:15Z", "2025-09-08T13:14:15Z"),
            ("2025-09-08T13:14:15.123456Z", "2025-09-08T13:14:15Z"),
            ("2025-09-08T15:14:15+02:00", "2025-09-08T15:14:15+02:00"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(spdx_timestamp(input), want, "{input:?}");
        }
    }
}
