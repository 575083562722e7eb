//! The `sarif` format: SARIF 2.1.0 (OASIS, errata 01), for code-scanning UIs.
//!
//! - One rule per advisory (`ruleId` = advisory id), level `error` for `MALICIOUS` and
//!   `warning` for vulnerabilities, `security-severity` from the highest risk score, CWE tags
//!   in the `external/cwe/cwe-N` convention.
//! - One result per finding × location, pointing at the file that evidences the component (its
//!   `package.json`, `METADATA`, lockfile, jar). A finding without a location (seen only in a
//!   process) gives one result without a location.
//! - Locations under a scan target are relative URIs against a `uriBaseId` naming that target
//!   (`SCANROOT` for the first, `SCANROOT2`, … for the others), declared in
//!   `originalUriBaseIds` with an absolute `file://` URI when the target was given as an
//!   absolute path. Other paths become `file://` URIs (absolute) or plain relative references.
//!   The region is line 1 — the evidence is the whole file, and GitHub code scanning needs a
//!   `startLine` to show a result.
//! - `partialFingerprints["vigil/v1"]` hashes advisory, purl and location, so re-uploads of the
//!   same finding deduplicate without the consumer reading the file.
//! - Result properties carry the purl, ecosystem, name, version, evidence, match reason, risk
//!   and loading processes; scan errors become `toolExecutionNotifications` (warnings, the
//!   run is still successful: errors are not fatal to a scan).
//!
//! Hand-written serde structs for the subset vigil emits, lighter than a full SARIF object
//! model; `tests/schemas.rs` validates the output against the official schema.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component as PathComponent, Path, PathBuf};

use serde::Serialize;

use crate::ReportError;
use crate::model::{AdvisoryKind, Finding, ProcessRef, ScanReport, hex, rfc3339, sha256, web_url};

/// The `$schema` of the emitted log: the OASIS standard's schema (2.1.0 errata 01).
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// Where the project lives; the driver's `informationUri`.
const INFORMATION_URI: &str = env!("CARGO_PKG_REPOSITORY");

/// Writes `report` as a SARIF 2.1.0 log with one run.
pub fn write(report: &ScanReport, out: &mut dyn io::Write) -> Result<(), ReportError> {
    crate::json::write_value(&build(report), out)
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: ToolWrapper<'a>,
    invocations: [Invocation<'a>; 1],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    original_uri_base_ids: BTreeMap<String, ArtifactLocation>,
    results: Vec<SarifResult<'a>>,
    properties: RunProperties<'a>,
}

#[derive(Serialize)]
struct ToolWrapper<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'a str,
    version: &'a str,
    information_uri: &'static str,
    rules: Vec<Rule<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule<'a> {
    id: &'a str,
    short_description: Message,
    #[serde(skip_serializing_if = "Option::is_none")]
    full_description: Option<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<&'a str>,
    default_configuration: Configuration,
    properties: RuleProperties<'a>,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleProperties<'a> {
    tags: Vec<String>,
    #[serde(rename = "security-severity")]
    security_severity: String,
    kind: AdvisoryKind,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    aliases: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    cwes: &'a [String],
}

#[derive(Serialize)]
struct Message {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    level: &'static str,
    message: Message,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    properties: ResultProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultProperties<'a> {
    purl: String,
    ecosystem: String,
    name: &'a str,
    version: &'a str,
    evidence: vigil_core::Evidence,
    #[serde(skip_serializing_if = "str::is_empty")]
    match_reason: &'a str,
    risk_score: f64,
    risk_level: crate::model::RiskLevel,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    processes: &'a [ProcessRef],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    #[serde(skip_serializing_if = "Option::is_none")]
    uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<MessageText>,
}

#[derive(Serialize, Clone, PartialEq, Eq)]
struct MessageText {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation<'a> {
    execution_successful: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time_utc: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time_utc: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Message,
    locations: Vec<Location>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunProperties<'a> {
    targets: &'a [String],
    processes_scanned: bool,
    counts: &'a crate::model::Counts,
}

fn build(report: &ScanReport) -> Log<'_> {
    let roots = ScanRoots::new(&report.targets);
    let mut rules: Vec<Rule<'_>> = Vec::new();
    let mut results = Vec::new();
    for group in report
        .findings
        .chunk_by(|a, b| a.advisory.kind == b.advisory.kind && a.advisory.id == b.advisory.id)
    {
        let Some(first) = group.first() else {
            continue;
        };
        let rule_index = rules.len();
        rules.push(rule(first, group));
        for finding in group {
            results.extend(results_for(finding, rule_index, &roots));
        }
    }
    let notifications = report
        .errors
        .iter()
        .map(|error| {
            let mut text = error.reason.clone();
            if let Some(field) = &error.field {
                text.push_str(&format!(" (field {field})"));
            }
            Notification {
                level: "warning",
                message: Message { text },
                locations: vec![Location {
                    physical_location: PhysicalLocation {
                        artifact_location: roots.locate(&error.path),
                        // SARIF lines start at 1; a 0 from a careless caller means unknown.
                        region: error
                            .line
                            .filter(|&line| line > 0)
                            .map(|start_line| Region { start_line }),
                    },
                }],
            }
        })
        .collect();
    Log {
        schema: SCHEMA_URI,
        version: "2.1.0",
        runs: [Run {
            tool: ToolWrapper {
                driver: Driver {
                    name: &report.tool.name,
                    version: &report.tool.version,
                    information_uri: INFORMATION_URI,
                    rules,
                },
            },
            invocations: [Invocation {
                execution_successful: true,
                start_time_utc: rfc3339(&report.started),
                end_time_utc: rfc3339(&report.finished),
                tool_execution_notifications: notifications,
            }],
            original_uri_base_ids: roots.declarations(),
            results,
            properties: RunProperties {
                targets: &report.targets,
                processes_scanned: report.processes_scanned,
                counts: &report.counts,
            },
        }],
    }
}

fn level(kind: AdvisoryKind) -> &'static str {
    match kind {
        AdvisoryKind::Malicious => "error",
        AdvisoryKind::Vulnerability => "warning",
    }
}

fn rule<'a>(first: &'a Finding, group: &'a [Finding]) -> Rule<'a> {
    let advisory = &first.advisory;
    let score = group
        .iter()
        .map(|f| f.risk.clamped_score())
        .fold(0.0_f64, f64::max);
    let mut tags = vec![
        "security".to_owned(),
        "supply-chain".to_owned(),
        match advisory.kind {
            AdvisoryKind::Malicious => "malicious".to_owned(),
            AdvisoryKind::Vulnerability => "vulnerability".to_owned(),
        },
    ];
    tags.extend(
        advisory
            .cwes
            .iter()
            .filter_map(|cwe| cwe_number(cwe))
            .map(|n| format!("external/cwe/cwe-{n}")),
    );
    let short = if advisory.summary.is_empty() {
        format!("{} advisory {}", kind_word(advisory.kind), advisory.id)
    } else {
        advisory.summary.clone()
    };
    let full = (!advisory.aliases.is_empty()).then(|| Message {
        text: format!("{short} (aliases: {})", advisory.aliases.join(", ")),
    });
    Rule {
        id: &advisory.id,
        short_description: Message { text: short },
        full_description: full,
        help_uri: advisory.url.as_deref().and_then(web_url),
        default_configuration: Configuration {
            level: level(advisory.kind),
        },
        properties: RuleProperties {
            tags,
            security_severity: format!("{score:.1}"),
            kind: advisory.kind,
            aliases: &advisory.aliases,
            cwes: &advisory.cwes,
        },
    }
}

fn kind_word(kind: AdvisoryKind) -> &'static str {
    match kind {
        AdvisoryKind::Malicious => "Malicious package",
        AdvisoryKind::Vulnerability => "Vulnerable package",
    }
}

/// `506` from `CWE-506` (any case); `None` for anything else (CWE ids start at 1).
pub(crate) fn cwe_number(cwe: &str) -> Option<u32> {
    let digits = cwe.get(..4).filter(|p| p.eq_ignore_ascii_case("CWE-"))?;
    let number = &cwe[digits.len()..];
    if number.is_empty() || number.len() > 9 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse().ok().filter(|&n| n > 0)
}

fn results_for<'a>(
    finding: &'a Finding,
    rule_index: usize,
    roots: &ScanRoots,
) -> Vec<SarifResult<'a>> {
    let component = &finding.component;
    let purl = component.purl.to_string();
    let mut text = format!(
        "{} {} ({}, {}) matches {}",
        kind_word(finding.advisory.kind),
        component.display_name(),
        component.ecosystem,
        finding.evidence,
        finding.advisory.id,
    );
    if !finding.advisory.summary.is_empty() {
        text.push_str(": ");
        text.push_str(&finding.advisory.summary);
    }
    if !finding.match_reason.is_empty() {
        text.push_str(&format!(" ({})", finding.match_reason));
    }
    let make = |location: Option<Location>, fingerprint_of: &str| SarifResult {
        rule_id: &finding.advisory.id,
        rule_index,
        level: level(finding.advisory.kind),
        message: Message { text: text.clone() },
        locations: location.into_iter().collect(),
        partial_fingerprints: BTreeMap::from([(
            "vigil/v1",
            fingerprint(&finding.advisory.id, &purl, fingerprint_of),
        )]),
        properties: ResultProperties {
            purl: purl.clone(),
            ecosystem: component.ecosystem.to_string(),
            name: &component.name,
            version: &component.version,
            evidence: finding.evidence,
            match_reason: &finding.match_reason,
            risk_score: finding.risk.clamped_score(),
            risk_level: finding.risk.level,
            processes: &finding.processes,
        },
    };
    if finding.locations.is_empty() {
        return vec![make(None, "")];
    }
    finding
        .locations
        .iter()
        .map(|path| {
            let artifact_location = roots.locate(path);
            let key = format!(
                "{}:{}",
                artifact_location.uri_base_id.as_deref().unwrap_or(""),
                artifact_location.uri.as_deref().unwrap_or("")
            );
            let location = Location {
                physical_location: PhysicalLocation {
                    artifact_location,
                    region: Some(Region { start_line: 1 }),
                },
            };
            make(Some(location), &key)
        })
        .collect()
}

/// First 32 hex digits of SHA-256 over the NUL-joined parts.
fn fingerprint(advisory: &str, purl: &str, location: &str) -> String {
    let digest = sha256(format!("{advisory}\0{purl}\0{location}").as_bytes());
    hex(digest.get(..16).unwrap_or(&digest))
}

/// The scan targets, as bases for relative artifact URIs.
struct ScanRoots {
    roots: Vec<(String, PathBuf, bool)>,
}

impl ScanRoots {
    fn new(targets: &[String]) -> ScanRoots {
        let roots = targets
            .iter()
            .enumerate()
            .map(|(i, target)| {
                let id = if i == 0 {
                    "SCANROOT".to_owned()
                } else {
                    format!("SCANROOT{}", i + 1)
                };
                let path = Path::new(target);
                (id, without_cur_dir(path), path.is_absolute())
            })
            .collect();
        ScanRoots { roots }
    }

    /// `originalUriBaseIds`: an absolute `file://` URI for absolute targets; a description
    /// only for relative ones, whose absolute location the report does not know.
    fn declarations(&self) -> BTreeMap<String, ArtifactLocation> {
        self.roots
            .iter()
            .map(|(id, path, absolute)| {
                let location = if *absolute {
                    let mut uri = format!("file://{}", encode_path(&path.to_string_lossy()));
                    if !uri.ends_with('/') {
                        uri.push('/');
                    }
                    ArtifactLocation {
                        uri: Some(uri),
                        uri_base_id: None,
                        description: None,
                    }
                } else {
                    let shown = if path.as_os_str().is_empty() {
                        ".".into()
                    } else {
                        path.to_string_lossy()
                    };
                    ArtifactLocation {
                        uri: None,
                        uri_base_id: None,
                        description: Some(MessageText {
                            text: format!(
                                "scan target {shown}, relative to the working directory of the scan"
                            ),
                        }),
                    }
                };
                (id.clone(), location)
            })
            .collect()
    }

    /// The artifact location of `path`: relative to the deepest target containing it, else
    /// a `file://` URI (absolute paths) or a plain relative reference.
    fn locate(&self, path: &str) -> ArtifactLocation {
        let raw = Path::new(path);
        let clean = without_cur_dir(raw);
        let mut best: Option<(&str, PathBuf, usize)> = None;
        for (id, root, absolute) in &self.roots {
            if *absolute != raw.is_absolute() {
                continue;
            }
            let Ok(rest) = clean.strip_prefix(root) else {
                continue;
            };
            let escapes = rest
                .components()
                .any(|c| !matches!(c, PathComponent::Normal(_)));
            let depth = root.components().count();
            if rest.as_os_str().is_empty() || escapes {
                continue;
            }
            if best.as_ref().is_none_or(|(_, _, d)| depth > *d) {
                best = Some((id, rest.to_path_buf(), depth));
            }
        }
        match best {
            Some((id, rest, _)) => ArtifactLocation {
                uri: Some(encode_path(&rest.to_string_lossy())),
                uri_base_id: Some(id.to_owned()),
                description: None,
            },
            None if raw.is_absolute() => ArtifactLocation {
                uri: Some(format!("file://{}", encode_path(&clean.to_string_lossy()))),
                uri_base_id: None,
                description: None,
            },
            None => ArtifactLocation {
                uri: Some(encode_path(&clean.to_string_lossy())),
                uri_base_id: None,
                description: None,
            },
        }
    }
}

/// `path` without `.` components (`./a/./b` → `a/b`; `.` → empty).
fn without_cur_dir(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, PathComponent::CurDir))
        .collect()
}

/// Percent-encodes a path for a URI: keeps unreserved characters, `/` and the sub-delimiters
/// and `@` RFC 3986 allows in a path; encodes everything else as UTF-8 bytes, including `:`
/// (which would otherwise read as a scheme in a relative reference) and `%`.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'/'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'@'
            );
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_paths_relative_to_the_deepest_target() {
        let targets = [
            ".".to_owned(),
            "/srv/app".to_owned(),
            "/srv/app/vendor".to_owned(),
        ];
        let roots = ScanRoots::new(&targets);
        // (path, uri, uriBaseId)
        let cases = [
            (
                "./node_modules/debug/package.json",
                "node_modules/debug/package.json",
                Some("SCANROOT"),
            ),
            ("package-lock.json", "package-lock.json", Some("SCANROOT")),
            (
                "/srv/app/node_modules/x/package.json",
                "node_modules/x/package.json",
                Some("SCANROOT2"),
            ),
            (
                "/srv/app/vendor/composer/installed.json",
                "composer/installed.json",
                Some("SCANROOT3"),
            ),
            ("/etc/passwd", "file:///etc/passwd", None),
            ("../outside/package.json", "../outside/package.json", None),
            (
                "dir with space/pkg:1/%x#?.json",
                "dir%20with%20space/pkg%3A1/%25x%23%3F.json",
                Some("SCANROOT"),
            ),
            ("ünï/\u{1b}[2J", "%C3%BCn%C3%AF/%1B%5B2J", Some("SCANROOT")),
        ];
        for (path, uri, base) in cases {
            let location = roots.locate(path);
            assert_eq!(location.uri.as_deref(), Some(uri), "{path:?}");
            assert_eq!(location.uri_base_id.as_deref(), base, "{path:?}");
        }
    }

    #[test]
    fn parses_cwe_numbers() {
        let cases = [
            ("CWE-506", Some(506)),
            ("cwe-79", Some(79)),
            ("CWE-", None),
            ("CWE-0", None),
            ("CWE-12a", None),
            ("CWE-99999999999999", None),
            ("NVD-CWE-noinfo", None),
            ("CWÉ-1", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(cwe_number(input), want, "{input:?}");
        }
    }
}
