//! The scan report: the one value every output format renders.
//!
//! Plain data, filled by the caller (the CLI, from the inventory and the intel matcher) and
//! read by the renderers; it serializes to the `json` format as is, so its field names are the
//! documented, stable schema of `docs/scan-json.md`. Nothing here reads a clock, a file or the
//! environment: timestamps are RFC 3339 strings the caller supplies, which keeps every output
//! byte-for-byte reproducible from the same report.
//!
//! Every string that came from scanned data (names, versions, paths, summaries, reasons) is
//! attacker-controlled; renderers escape it for their medium, this model stores it verbatim.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use vigil_core::{Component, Ecosystem, Evidence, Purl};

/// The version of the JSON schema documented in `docs/scan-json.md`. Bumped only for changes
/// that break readers (a renamed or removed field, a changed type); new optional fields keep it.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything one `vigil scan` found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanReport {
    /// [`SCHEMA_VERSION`] of the JSON form.
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    /// The tool that produced the report.
    pub tool: Tool,
    /// The paths scanned, as given on the command line (`.` by default). Relative paths are
    /// relative to the working directory of the scan; formats that can say where a file is
    /// (SARIF) make locations relative to the target that contains them.
    pub targets: Vec<String>,
    /// Whether running processes were scanned too (`--processes`).
    #[serde(default)]
    pub processes_scanned: bool,
    /// When the scan started, RFC 3339 (UTC, `Z`), supplied by the caller.
    pub started: String,
    /// When the scan finished, RFC 3339 (UTC, `Z`), supplied by the caller.
    pub finished: String,
    /// Totals over `components`, `findings` and `errors` ([`ScanReport::normalize`] computes
    /// them).
    #[serde(default)]
    pub counts: Counts,
    /// One entry per component instance: a component with one kind of evidence and where it
    /// was found.
    pub components: Vec<ComponentInstance>,
    /// Advisory × component matches, each with every place the component was found.
    pub findings: Vec<Finding>,
    /// Inputs that could not be read or parsed; never fatal to the scan.
    pub errors: Vec<ScanError>,
}

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

/// The producing tool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// `vigil`.
    pub name: String,
    /// The tool's version (`0.1.0`).
    pub version: String,
}

/// The (ecosystem, name, version) a component instance or a finding is about, with its purl.
///
/// Reading it back, a purl that does not parse (vigil writes one only for a component whose
/// name is empty, `pkg:npm/`) is rebuilt from ecosystem, name and version, so every report
/// vigil writes reads back.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "ComponentRefWire")]
pub struct ComponentRef {
    /// OSV ecosystem name (`npm`, `PyPI`, `Maven`, `Debian:12`, …).
    pub ecosystem: Ecosystem,
    /// The package name as found (`@ctrl/tinycolor`, `Flask_Login`,
    /// `org.apache.logging.log4j:log4j-core`).
    pub name: String,
    /// The version as found.
    pub version: String,
    /// The package URL (`pkg:npm/%40ctrl/tinycolor@4.1.1`).
    pub purl: Purl,
}

/// [`ComponentRef`] as read, before its purl is checked.
#[derive(Deserialize)]
struct ComponentRefWire {
    ecosystem: Ecosystem,
    name: String,
    version: String,
    purl: String,
}

impl From<ComponentRefWire> for ComponentRef {
    fn from(wire: ComponentRefWire) -> ComponentRef {
        let purl = Purl::parse_lenient(&wire.purl)
            .unwrap_or_else(|_| Purl::for_package(&wire.ecosystem, &wire.name, &wire.version));
        ComponentRef {
            ecosystem: wire.ecosystem,
            name: wire.name,
            version: wire.version,
            purl,
        }
    }
}

impl ComponentRef {
    /// The reference for `component`, with its purl ([`Component::purl`]).
    pub fn new(component: &Component) -> ComponentRef {
        ComponentRef {
            ecosystem: component.ecosystem.clone(),
            name: component.name.as_str().to_owned(),
            version: component.version.to_string(),
            purl: component.purl(),
        }
    }

    /// `name@version`, the short human form.
    pub fn display_name(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

impl From<&Component> for ComponentRef {
    fn from(component: &Component) -> Self {
        ComponentRef::new(component)
    }
}

/// A component found at one or more locations with one kind of evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentInstance {
    /// What was found.
    #[serde(flatten)]
    pub component: ComponentRef,
    /// How it was found: `DECLARED`, `INSTALLED` or `LOADED`.
    pub evidence: Evidence,
    /// The files that evidence it: the package's manifest (`package.json`, `METADATA`,
    /// `pom.properties`, the jar, the binary) or, for declared components, the lockfile.
    pub locations: Vec<String>,
    /// Only a development dependency (flagged, never dropped).
    #[serde(default)]
    pub dev: bool,
    /// The running processes that loaded it (evidence `LOADED`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ProcessRef>,
}

/// A running process that loaded a component.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProcessRef {
    /// Process id (in the host's pid namespace).
    pub pid: u32,
    /// The executable, when readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// The container the process runs in, when it runs in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
}

/// What kind of threat an advisory describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdvisoryKind {
    /// Malicious code (`MAL-` ids, CWE-506, GHSA malware). Sorted first.
    Malicious,
    /// A known vulnerability.
    Vulnerability,
}

impl AdvisoryKind {
    /// `MALICIOUS` or `VULNERABILITY`.
    pub fn as_str(self) -> &'static str {
        match self {
            AdvisoryKind::Malicious => "MALICIOUS",
            AdvisoryKind::Vulnerability => "VULNERABILITY",
        }
    }
}

impl fmt::Display for AdvisoryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The advisory a finding matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisoryRef {
    /// The advisory id (`MAL-2025-46974`, `GHSA-…`, `PYSEC-…`).
    pub id: String,
    /// Other ids of the same advisory (`CVE-…`, `GHSA-…`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `MALICIOUS` or `VULNERABILITY`.
    pub kind: AdvisoryKind,
    /// One-line summary.
    #[serde(default)]
    pub summary: String,
    /// CWE ids (`CWE-506`); a malicious advisory always lists CWE-506.
    #[serde(default)]
    pub cwes: Vec<String>,
    /// The feed the advisory came from (`OSV`, `GitHub`, a custom list's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Where to read the advisory (`https://osv.dev/vulnerability/MAL-2025-46974`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Risk level bands over the 0–10 score (the CVSS v3 qualitative scale).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RiskLevel {
    /// Score 0.
    None,
    /// Score 0.1–3.9.
    Low,
    /// Score 4.0–6.9.
    Medium,
    /// Score 7.0–8.9.
    High,
    /// Score 9.0–10.0.
    Critical,
}

impl RiskLevel {
    /// The band `score` falls in; scores outside 0–10 (and NaN) are clamped first.
    pub fn from_score(score: f64) -> RiskLevel {
        let score = Risk::clamp(score);
        if score >= 9.0 {
            RiskLevel::Critical
        } else if score >= 7.0 {
            RiskLevel::High
        } else if score >= 4.0 {
            RiskLevel::Medium
        } else if score > 0.0 {
            RiskLevel::Low
        } else {
            RiskLevel::None
        }
    }

    /// `CRITICAL`, `HIGH`, `MEDIUM`, `LOW` or `NONE`.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::None => "NONE",
            RiskLevel::Low => "LOW",
            RiskLevel::Medium => "MEDIUM",
            RiskLevel::High => "HIGH",
            RiskLevel::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A finding's risk: a 0–10 score and its level.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    /// 0.0–10.0.
    pub score: f64,
    /// The level the caller assigned (normally [`RiskLevel::from_score`]).
    pub level: RiskLevel,
}

impl Risk {
    /// A risk with the level of `score`'s band.
    pub fn from_score(score: f64) -> Risk {
        let score = Risk::clamp(score);
        Risk {
            score,
            level: RiskLevel::from_score(score),
        }
    }

    /// The score limited to 0–10 with one decimal, NaN as 0: what renderers print, so a bad
    /// input never yields invalid JSON (`NaN`) or an out-of-range SARIF/CycloneDX value.
    pub fn clamped_score(&self) -> f64 {
        Risk::clamp(self.score)
    }

    /// The clamped score in tenths (`9.8` → 98): an exact, totally ordered sort key.
    pub(crate) fn tenths(&self) -> u32 {
        // In 0..=100 after clamping, so the cast is exact.
        (self.clamped_score() * 10.0).round() as u32
    }

    fn clamp(score: f64) -> f64 {
        if score.is_nan() {
            return 0.0;
        }
        (score.clamp(0.0, 10.0) * 10.0).round() / 10.0
    }
}

/// One advisory matched against one component, with every place the component was found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The advisory.
    pub advisory: AdvisoryRef,
    /// The affected component.
    pub component: ComponentRef,
    /// Risk score and level.
    pub risk: Risk,
    /// The strongest evidence among the component's instances.
    pub evidence: Evidence,
    /// Every location of the component's instances.
    pub locations: Vec<String>,
    /// The processes that loaded it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ProcessRef>,
    /// Why the advisory matched (`version 4.4.2 listed`, `in range >=4.1.1, <=4.1.2`).
    #[serde(default)]
    pub match_reason: String,
}

/// An input the scan could not read or parse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanError {
    /// The file or directory.
    pub path: String,
    /// What went wrong.
    pub reason: String,
    /// The 1-based line, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The field or key, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Totals shown in summaries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Distinct components: (ecosystem, name, version) triples, compared by purl.
    pub components: usize,
    /// Entries in `components`.
    pub instances: usize,
    /// Distinct locations over all instances.
    pub locations: usize,
    /// Entries in `findings`.
    pub findings: usize,
    /// Distinct components with at least one `MALICIOUS` finding.
    pub malicious: usize,
    /// Distinct components with at least one `VULNERABILITY` finding.
    pub vulnerable: usize,
    /// Entries in `errors`.
    pub errors: usize,
}

impl Counts {
    /// Counts over the given parts.
    pub fn tally(
        components: &[ComponentInstance],
        findings: &[Finding],
        errors: &[ScanError],
    ) -> Counts {
        let distinct: BTreeSet<&Purl> = components.iter().map(|c| &c.component.purl).collect();
        let locations: BTreeSet<&str> = components
            .iter()
            .flat_map(|c| c.locations.iter().map(String::as_str))
            .collect();
        let with_kind = |kind: AdvisoryKind| {
            findings
                .iter()
                .filter(|f| f.advisory.kind == kind)
                .map(|f| &f.component.purl)
                .collect::<BTreeSet<_>>()
                .len()
        };
        Counts {
            components: distinct.len(),
            instances: components.len(),
            locations: locations.len(),
            findings: findings.len(),
            malicious: with_kind(AdvisoryKind::Malicious),
            vulnerable: with_kind(AdvisoryKind::Vulnerability),
            errors: errors.len(),
        }
    }
}

impl ScanReport {
    /// An empty report of a scan of `targets`; fill `components`, `findings`, `errors` (and
    /// `processes_scanned`), then call [`ScanReport::normalize`] to order them and compute
    /// `counts`.
    pub fn new(tool: Tool, targets: Vec<String>, started: String, finished: String) -> ScanReport {
        ScanReport {
            schema_version: SCHEMA_VERSION,
            tool,
            targets,
            processes_scanned: false,
            started,
            finished,
            counts: Counts::default(),
            components: Vec::new(),
            findings: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Sorts into the canonical order every format relies on for reproducible output, and
    /// recomputes `counts`: components by (ecosystem, name, version, evidence); findings
    /// `MALICIOUS` first, then advisories by highest risk score and id (an advisory's findings
    /// together), then by risk and component; errors by path and line;
    /// locations, processes, aliases and CWEs sorted and deduplicated.
    pub fn normalize(&mut self) {
        for instance in &mut self.components {
            sort_dedup(&mut instance.locations);
            sort_dedup(&mut instance.processes);
        }
        self.components.sort_by(|a, b| {
            (&a.component, a.evidence, &a.locations, a.dev).cmp(&(
                &b.component,
                b.evidence,
                &b.locations,
                b.dev,
            ))
        });
        for finding in &mut self.findings {
            sort_dedup(&mut finding.locations);
            sort_dedup(&mut finding.processes);
            sort_dedup(&mut finding.advisory.aliases);
            sort_dedup(&mut finding.advisory.cwes);
        }
        // Within a kind, the riskiest advisory first; an advisory's findings stay together
        // (ordered by its highest score), the riskiest component first.
        let mut highest: BTreeMap<AdvisoryKind, BTreeMap<String, u32>> = BTreeMap::new();
        for finding in &self.findings {
            let score = finding.risk.tenths();
            let entry = highest
                .entry(finding.advisory.kind)
                .or_default()
                .entry(finding.advisory.id.clone())
                .or_insert(score);
            *entry = (*entry).max(score);
        }
        let top = |finding: &Finding| {
            highest
                .get(&finding.advisory.kind)
                .and_then(|ids| ids.get(finding.advisory.id.as_str()))
                .copied()
                .unwrap_or(0)
        };
        self.findings.sort_by(|a, b| {
            (
                a.advisory.kind,
                Reverse(top(a)),
                &a.advisory.id,
                Reverse(a.risk.tenths()),
                &a.component,
            )
                .cmp(&(
                    b.advisory.kind,
                    Reverse(top(b)),
                    &b.advisory.id,
                    Reverse(b.risk.tenths()),
                    &b.component,
                ))
        });
        self.errors
            .sort_by(|a, b| (&a.path, a.line, &a.reason).cmp(&(&b.path, b.line, &b.reason)));
        self.counts = Counts::tally(&self.components, &self.findings, &self.errors);
    }

    /// SHA-256 of the report's compact JSON: identifies this exact content, so documents
    /// derived from it (the SPDX namespace, the CycloneDX serial number) are unique per scan
    /// yet reproducible from the same report.
    pub fn content_hash(&self) -> [u8; 32] {
        // Serializing plain data to a Vec cannot fail; an empty input still hashes.
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        sha256(&bytes)
    }
}

/// One distinct component (by purl) with what every instance and finding says about it: the
/// unit SBOM formats list. Built by [`ScanReport::packages`].
pub(crate) struct PackageSummary<'a> {
    /// The canonical purl string.
    pub purl: String,
    /// The component (from its first instance).
    pub component: &'a ComponentRef,
    /// Each kind of evidence, strongest first, with the locations showing it.
    pub evidence: BTreeMap<Reverse<Evidence>, BTreeSet<&'a str>>,
    /// Every instance is dev-only.
    pub dev: bool,
    /// Processes that loaded it.
    pub pids: BTreeSet<u32>,
}

impl<'a> PackageSummary<'a> {
    /// The strongest evidence.
    pub fn strongest(&self) -> Evidence {
        self.evidence
            .keys()
            .next()
            .map_or(Evidence::Declared, |Reverse(evidence)| *evidence)
    }

    /// Every location, whatever its evidence.
    pub fn locations(&self) -> BTreeSet<&'a str> {
        self.evidence.values().flatten().copied().collect()
    }
}

impl ScanReport {
    /// The distinct components in purl order ([`Purl`]'s `Ord`), instances merged. A component that only a
    /// finding names (an inconsistent report) is included from the finding, so every SBOM
    /// reference resolves.
    pub(crate) fn packages(&self) -> Vec<PackageSummary<'_>> {
        // Keyed by the parsed purl (cheap to compare); its string is formatted once per package.
        let mut by_purl: BTreeMap<&Purl, PackageSummary<'_>> = BTreeMap::new();
        for instance in &self.components {
            let entry = by_purl
                .entry(&instance.component.purl)
                .or_insert_with(|| PackageSummary {
                    purl: String::new(),
                    component: &instance.component,
                    evidence: BTreeMap::new(),
                    dev: true,
                    pids: BTreeSet::new(),
                });
            entry
                .evidence
                .entry(Reverse(instance.evidence))
                .or_default()
                .extend(instance.locations.iter().map(String::as_str));
            entry.dev &= instance.dev;
            entry.pids.extend(instance.processes.iter().map(|p| p.pid));
        }
        for finding in &self.findings {
            by_purl
                .entry(&finding.component.purl)
                .or_insert_with(|| PackageSummary {
                    purl: String::new(),
                    component: &finding.component,
                    evidence: BTreeMap::from([(
                        Reverse(finding.evidence),
                        finding.locations.iter().map(String::as_str).collect(),
                    )]),
                    dev: false,
                    pids: finding.processes.iter().map(|p| p.pid).collect(),
                });
        }
        by_purl
            .into_iter()
            .map(|(purl, mut package)| {
                package.purl = purl.to_string();
                package
            })
            .collect()
    }
}

/// `text` when it is an RFC 3339 date-time (`2025-09-08T13:14:15Z`, fractional seconds and
/// numeric offsets allowed, calendar-valid), else `None`: formats that type their timestamps
/// (SARIF, CycloneDX) omit a caller's malformed value rather than emit an invalid document.
pub(crate) fn rfc3339(text: &str) -> Option<&str> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter().try_fold(0u32, |n, d| {
            n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(at, c)| b.get(at) != Some(&c))
        || !matches!(b.get(10), Some(b'T' | b't'))
    {
        return None;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = b.get(19..)?;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = fraction.get(n..)?;
    }
    let zone_ok = match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            let hh = [h1, h2].iter().all(|c| c.is_ascii_digit())
                && u32::from(*h1 - b'0') * 10 + u32::from(*h2 - b'0') <= 23;
            let mm = [m1, m2].iter().all(|c| c.is_ascii_digit())
                && u32::from(*m1 - b'0') * 10 + u32::from(*m2 - b'0') <= 59;
            hh && mm
        }
        _ => false,
    };
    zone_ok.then_some(text)
}

/// `url` when it is an absolute `http`/`https` URL in plain RFC 3986 form (a DNS or IPv4
/// host, an optional port, then only characters a URI allows, `%` escapes well-formed) — what
/// SARIF `helpUri` and CycloneDX `source.url` demand — else `None`.
pub(crate) fn web_url(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    // Path and query, then at most one `#` and a fragment, all from the same character set.
    let tail_ok = match tail.split_once('#') {
        Some((path, fragment)) => uri_chars(path) && uri_chars(fragment),
        None => uri_chars(tail),
    };
    (host_ok && port_ok && tail_ok).then_some(url)
}

/// Whether `text` holds only characters a URI path, query or fragment allows: unreserved
/// characters, sub-delimiters, `:`, `@`, `/`, `?`, and well-formed `%XX` escapes.
fn uri_chars(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| match b {
        b'%' => bytes
            .get(i + 1..i + 3)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)),
        b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+'
        | b',' | b';' | b'=' | b':' | b'@' | b'/' | b'?' => true,
        _ => b.is_ascii_alphanumeric(),
    })
}

/// SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

fn sort_dedup<T: Ord>(items: &mut Vec<T>) {
    items.sort();
    items.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_levels_follow_the_cvss_bands() {
        let cases = [
            (f64::NAN, 0.0, RiskLevel::None),
            (-3.0, 0.0, RiskLevel::None),
            (0.0, 0.0, RiskLevel::None),
            (0.1, 0.1, RiskLevel::Low),
            (3.94, 3.9, RiskLevel::Low),
            (4.0, 4.0, RiskLevel::Medium),
            (6.9, 6.9, RiskLevel::Medium),
            (7.0, 7.0, RiskLevel::High),
            (8.96, 9.0, RiskLevel::Critical),
            (10.0, 10.0, RiskLevel::Critical),
            (f64::INFINITY, 10.0, RiskLevel::Critical),
        ];
        for (score, clamped, level) in cases {
            let risk = Risk::from_score(score);
            assert_eq!(risk.score, clamped, "{score}");
            assert_eq!(risk.level, level, "{score}");
        }
    }

    #[test]
    fn recognizes_rfc3339_timestamps() {
        let cases = [
            ("2025-09-08T13:14:15Z", true),
            ("2025-09-08T13:14:15.250Z", true),
            ("2025-09-08t13:14:15z", true),
            ("2025-09-08T15:14:15+02:00", true),
            ("2024-02-29T00:00:00Z", true),
            ("2016-12-31T23:59:60Z", true),
            ("2025-02-29T00:00:00Z", false),
            ("2025-13-01T00:00:00Z", false),
            ("2025-09-08 13:14:15Z", false),
            ("2025-09-08T13:14:15", false),
            ("2025-09-08T13:14:15.Z", false),
            ("2025-09-08T24:00:00Z", false),
            ("2025-09-08T13:14:15+24:00", false),
            ("२०२५-09-08T13:14:15Z", false),
            ("", false),
        ];
        for (input, valid) in cases {
            assert_eq!(rfc3339(input).is_some(), valid, "{input:?}");
        }
    }

    #[test]
    fn accepts_only_plain_web_urls() {
        let cases = [
            ("https://osv.dev/vulnerability/MAL-2025-46974", true),
            ("http://example.com", true),
            ("https://", false),
            ("ftp://example.com/x", false),
            ("https://example.com/a b", false),
            ("https://example.com/\u{1b}[2J", false),
            ("https://exämple.com/", false),
            ("javascript:alert(1)", false),
            ("https://[", false),
            ("https://host:99999999/", false),
            ("https://host:8080/a?b=c#frag", true),
            ("https://host/a#b#c", false),
            ("https://host/%zz", false),
            ("https://host/%2F", true),
        ];
        for (input, valid) in cases {
            assert_eq!(web_url(input).is_some(), valid, "{input:?}");
        }
    }

    #[test]
    fn counts_distinct_components_and_locations() {
        let debug = ComponentRef::new(&Component::new(Ecosystem::parse("npm"), "debug", "4.4.2"));
        let instance = |evidence, path: &str| ComponentInstance {
            component: debug.clone(),
            evidence,
            locations: vec![path.to_owned()],
            dev: false,
            processes: Vec::new(),
        };
        let components = [
            instance(Evidence::Installed, "node_modules/debug/package.json"),
            instance(Evidence::Declared, "package-lock.json"),
            instance(Evidence::Declared, "package-lock.json"),
        ];
        let counts = Counts::tally(&components, &[], &[]);
        assert_eq!(
            (counts.components, counts.instances, counts.locations),
            (1, 3, 2)
        );
    }
}
