//! # vigil-scan
//!
//! One-shot scans, the `vigil scan` job: inventory a set of paths (vigil-inventory), match every
//! component against the intel (vigil-intel's [`AdvisoryIndex`]), and assemble the
//! [`vigil_report::ScanReport`] every output format renders.
//!
//! What lives here is the *joining* of those crates, nothing they already own: which packages
//! are matched, how matches become findings (one per alias group × component, with every
//! location of that component), and the `--fail-on` rule. Walking, parsing, matching and
//! rendering stay in their crates.
//!
//! What does **not** live here: argument parsing and printing (vigil-cli), the continuous
//! detection engine with its lifecycle and history (vigil-server).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use vigil_core::{Component, Evidence};
use vigil_intel::{AdvisoryIndex, AdvisoryKind, ImportOptions, IndexBuilder, IntelStore};
use vigil_inventory::{FoundPackage, Registry, ScanOptions};
use vigil_report::{
    AdvisoryRef, ComponentInstance, ComponentRef, Finding, Risk, ScanError as ReportError,
    ScanReport, Tool,
};

/// Why a scan could not run at all (errors met *during* a scan are reported, not raised).
#[derive(Debug, thiserror::Error)]
pub enum ScanFailure {
    /// The intel could not be loaded.
    #[error("intel: {0}")]
    Intel(#[from] vigil_intel::IntelError),
    /// The walk could not start (for example an invalid `--exclude` pattern).
    #[error("{0}")]
    Setup(#[from] vigil_inventory::ScanSetupError),
    /// A path to scan does not exist.
    #[error("{}: no such file or directory", .0.display())]
    MissingPath(PathBuf),
}

/// The intel a scan matches against.
pub struct ScanIntel {
    /// The matcher.
    pub index: AdvisoryIndex,
    /// Where it came from, for the report and the terminal (`baseline`, `data dir …`, files).
    pub sources: Vec<String>,
    /// Problems that did not stop loading (an unreadable source, skipped records).
    pub warnings: Vec<String>,
}

/// Loads the intel for a scan: the intel of `data_dir` when it has any (which includes the
/// bundled baseline), else the baseline alone; plus each of `extra` (`--intel SRC`), imported
/// for this scan only and never written anywhere.
pub fn load_intel(
    data_dir: Option<&Path>,
    extra: &[PathBuf],
    options: &ImportOptions,
) -> Result<ScanIntel, ScanFailure> {
    let mut sources = vec!["baseline (2025 npm incidents)".to_owned()];
    let mut warnings = Vec::new();
    let mut builder = IndexBuilder::new();
    let stored = match data_dir {
        Some(dir) if dir.join("intel").is_dir() => {
            let loaded = IntelStore::new(dir).load()?;
            warnings.extend(loaded.warnings);
            sources.push(format!("data dir {}", dir.display()));
            Some(loaded.index)
        }
        _ => None,
    };
    match &stored {
        Some(index) => builder.extend(index.advisories().iter().cloned()),
        None => builder.extend(vigil_intel::baseline::advisories()),
    }
    for path in extra {
        let kind = vigil_intel::import::detect_kind(path, options.kind)?;
        let imported = vigil_intel::import::read_source(path, kind, options)?;
        for skipped in &imported.skipped {
            warnings.push(format!("{}: skipped: {}", skipped.location, skipped.reason));
        }
        let source = vigil_intel::store::source_name(path);
        builder.extend(imported.records.iter().map(|r| {
            vigil_intel::Advisory::from_record(
                &r.record,
                vigil_intel::advisory::RecordOrigin {
                    source: source.clone(),
                    location: r.location.clone(),
                    line: r.line,
                },
            )
        }));
        sources.push(path.display().to_string());
    }
    Ok(ScanIntel {
        index: builder.build(),
        sources,
        warnings,
    })
}

/// Walks `roots` with every default collector.
pub fn inventory(
    roots: &[PathBuf],
    options: &ScanOptions,
) -> Result<vigil_inventory::ScanReport, ScanFailure> {
    if let Some(missing) = roots.iter().find(|r| std::fs::symlink_metadata(r).is_err()) {
        return Err(ScanFailure::MissingPath(missing.clone()));
    }
    let registry = Registry::with_default_collectors();
    Ok(vigil_inventory::scan(roots, &registry, options)?)
}

/// Whether a package's version is a fact worth matching. A manifest that states only a
/// constraint (`requests>=2.0`) reports the bound it names; matching that bound would accuse
/// a version nobody installed, so only exact versions are matched.
fn is_matchable(package: &FoundPackage) -> bool {
    package.pinned && !package.component.version.is_empty()
}

/// Matches every package against `index`: one finding per (alias group, component), carrying
/// every location of that component and its strongest evidence. O(packages × lookup).
pub fn match_packages(index: &AdvisoryIndex, packages: &[FoundPackage]) -> Vec<Finding> {
    // Group the instances of each component first: the same component at many paths (a
    // monorepo) is matched once.
    let mut by_component: HashMap<&Component, Vec<&FoundPackage>> = HashMap::new();
    for package in packages.iter().filter(|p| is_matchable(p)) {
        by_component
            .entry(&package.component)
            .or_default()
            .push(package);
    }
    let mut findings = Vec::new();
    for (component, instances) in by_component {
        let matches = index.lookup(
            &component.ecosystem,
            component.name.as_str(),
            &component.version,
        );
        if matches.is_empty() {
            continue;
        }
        let evidence = instances
            .iter()
            .map(|p| p.evidence)
            .max()
            .unwrap_or(Evidence::Declared);
        let locations: BTreeSet<String> = instances
            .iter()
            .map(|p| p.path.display().to_string())
            .collect();
        for group in index.group_matches(&matches) {
            let Some(primary) = group.primary() else {
                continue;
            };
            let ids = group.ids();
            let reason = matches
                .iter()
                .find(|m| std::ptr::eq(m.advisory, primary))
                .and_then(|m| primary.affected.get(m.affected as usize))
                .and_then(|set| set.to_osv().evaluate(&component.version).summary())
                .unwrap_or_default();
            findings.push(Finding {
                advisory: AdvisoryRef {
                    id: primary.id.clone(),
                    aliases: ids.iter().skip(1).map(|s| (*s).to_owned()).collect(),
                    kind: match group.kind() {
                        AdvisoryKind::Malicious => vigil_report::AdvisoryKind::Malicious,
                        AdvisoryKind::Vulnerability => vigil_report::AdvisoryKind::Vulnerability,
                    },
                    summary: primary.summary.clone().unwrap_or_default(),
                    cwes: group.cwes().into_iter().map(str::to_owned).collect(),
                    source: Some(primary.origin.source.clone()),
                    url: advisory_url(&primary.id),
                },
                component: ComponentRef::new(component),
                risk: Risk::from_score(
                    group
                        .advisories
                        .iter()
                        .map(|a| a.risk_score())
                        .fold(0.0, f64::max),
                ),
                evidence,
                locations: locations.iter().cloned().collect(),
                processes: Vec::new(),
                match_reason: reason,
            });
        }
    }
    findings
}

/// The public page of an advisory id, for the ids whose home is known.
fn advisory_url(id: &str) -> Option<String> {
    let known = ["MAL-", "GHSA-", "PYSEC-", "GO-", "RUSTSEC-", "OSV-", "CVE-"];
    known
        .iter()
        .any(|prefix| id.starts_with(prefix))
        .then(|| format!("https://osv.dev/vulnerability/{id}"))
}

/// What the caller knows about the run that the scan itself does not.
pub struct RunInfo {
    /// Tool name and version.
    pub tool: Tool,
    /// The paths as the user gave them.
    pub targets: Vec<String>,
    /// RFC 3339 start and end times.
    pub started: String,
    /// RFC 3339 end time.
    pub finished: String,
}

/// Assembles the report of one scan.
pub fn build_report(
    run: RunInfo,
    inventory: &vigil_inventory::ScanReport,
    findings: Vec<Finding>,
) -> ScanReport {
    let mut report = ScanReport::new(run.tool, run.targets, run.started, run.finished);
    report.components = component_instances(&inventory.packages);
    report.findings = findings;
    report.errors = inventory
        .errors
        .iter()
        .map(|e| {
            let (line, field) = error_position(e);
            ReportError {
                path: e.path.display().to_string(),
                reason: match e.collector {
                    Some(collector) => format!("{collector}: {}", e.kind),
                    None => e.kind.to_string(),
                },
                line,
                field,
            }
        })
        .collect();
    report.normalize();
    report
}

fn error_position(error: &vigil_inventory::ScanError) -> (Option<u64>, Option<String>) {
    use vigil_inventory::{CollectError, ScanErrorKind};
    match &error.kind {
        ScanErrorKind::Collect(CollectError::Syntax { line, .. }) => (line.map(|l| l as u64), None),
        ScanErrorKind::Collect(CollectError::Field { field, line, .. }) => {
            (line.map(|l| l as u64), Some(field.clone()))
        }
        _ => (None, None),
    }
}

/// One report entry per (component, evidence, dev), with every path it was found at.
fn component_instances(packages: &[FoundPackage]) -> Vec<ComponentInstance> {
    let mut grouped: HashMap<(&Component, Evidence, bool), BTreeSet<String>> = HashMap::new();
    for package in packages {
        grouped
            .entry((&package.component, package.evidence, package.dev))
            .or_default()
            .insert(package.path.display().to_string());
    }
    grouped
        .into_iter()
        .map(
            |((component, evidence, dev), locations)| ComponentInstance {
                component: ComponentRef::new(component),
                evidence,
                locations: locations.into_iter().collect(),
                dev,
                processes: Vec::new(),
            },
        )
        .collect()
}

/// `--fail-on`: the findings that make a scan exit 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FailOn {
    /// Any malicious package (the default).
    #[default]
    Malicious,
    /// Any malicious or vulnerable package.
    Vulnerable,
    /// Never.
    None,
}

impl FailOn {
    /// Whether `report` fails under this rule.
    pub fn fails(self, report: &ScanReport) -> bool {
        match self {
            FailOn::Malicious => report.counts.malicious > 0,
            FailOn::Vulnerable => report.counts.malicious + report.counts.vulnerable > 0,
            FailOn::None => false,
        }
    }
}

impl std::str::FromStr for FailOn {
    type Err = String;

    fn from_str(s: &str) -> Result<FailOn, String> {
        match s {
            "malicious" => Ok(FailOn::Malicious),
            "vulnerable" => Ok(FailOn::Vulnerable),
            "none" => Ok(FailOn::None),
            other => Err(format!(
                "unknown --fail-on value {other:?} (expected malicious, vulnerable or none)"
            )),
        }
    }
}
