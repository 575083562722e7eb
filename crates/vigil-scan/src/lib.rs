//! # vigil-scan
//!
//! One-shot scans, the `vigil scan` job: inventory a set of paths (vigil-inventory) and, with
//! `--processes`, the running processes ([`scan_processes`], on vigil-runtime), merge what both
//! saw ([`merge_sightings`]), match every component against the intel (vigil-intel's
//! [`AdvisoryIndex`], or the data directory's persisted [`LazyIndex`]), and assemble the
//! [`vigil_report::ScanReport`] every output format renders.
//!
//! What lives here is the *joining* of those crates, nothing they already own: which packages
//! are matched, how the two halves of a scan become one inventory (the same component at the
//! same place is one instance with the strongest evidence, see [`sighting`]), how matches
//! become findings (one per alias group × component, with every location of that component
//! and every process that loaded it), and the `--fail-on` rule. Walking, `/proc`, parsing,
//! matching and rendering stay in their crates.
//!
//! What does **not** live here: argument parsing and printing (vigil-cli), the continuous
//! detection engine with its lifecycle and history (vigil-server).

pub mod live;
pub mod processes;
pub mod sighting;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use vigil_core::{Component, Evidence};
use vigil_intel::{
    AdvisoryIndex, AdvisoryKind, ImportOptions, IndexBuilder, IntelStore, LazyIndex, Match,
    MatchGroup, Matcher,
};
use vigil_inventory::{FoundPackage, Registry, ScanOptions};
use vigil_report::{
    AdvisoryRef, ComponentRef, Finding, ProcessRef, Risk, ScanError as ReportError, ScanReport,
    Tool,
};

pub use live::{LiveNamespace, LiveOptions, LiveProcess, LiveProcesses, LiveView};
pub use processes::{
    ProcessScan, ProcessScanEvent, ProcessScanFailure, ProcessScanOptions, scan_processes,
};
pub use sighting::{Location, Sighting, component_instances, merge_sightings, path_sightings};

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
    pub index: ScanIndex,
    /// Where it came from, for the report and the terminal (`baseline`, `data dir …`, files).
    pub sources: Vec<String>,
    /// Problems that did not stop loading (an unreadable source, skipped records).
    pub warnings: Vec<String>,
}

/// The matcher of a scan: the data directory's persisted matcher when the scan uses only
/// that (it decodes only the advisories that match, see `vigil_intel::matcher`), else a full
/// index built for this scan.
#[derive(Debug)]
pub enum ScanIndex {
    /// Built in memory: the baseline alone, or with `--intel` sources.
    Full(AdvisoryIndex),
    /// The data directory's `matcher.bin`.
    Lazy(Box<LazyIndex>),
}

impl ScanIndex {
    /// Warnings raised while matching (the persisted matcher falling back to the full
    /// index), taken once: print them after matching.
    pub fn take_warnings(&self) -> Vec<String> {
        match self {
            ScanIndex::Full(_) => Vec::new(),
            ScanIndex::Lazy(index) => index.take_warnings(),
        }
    }
}

impl Matcher for ScanIndex {
    fn lookup(
        &self,
        ecosystem: &vigil_core::Ecosystem,
        name: &str,
        version: &str,
    ) -> Vec<Match<'_>> {
        match self {
            ScanIndex::Full(index) => index.lookup(ecosystem, name, version),
            ScanIndex::Lazy(index) => Matcher::lookup(index.as_ref(), ecosystem, name, version),
        }
    }

    fn group_matches<'a>(&self, matches: &[Match<'a>]) -> Vec<MatchGroup<'a>> {
        vigil_intel::index::group_matches(matches)
    }
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
    if let Some(dir) = data_dir
        && extra.is_empty()
        && dir.join("intel").is_dir()
    {
        // The common case: no decoding of 33k advisories for a scan that matches a few.
        let opened = IntelStore::new(dir).open_matcher()?;
        warnings.extend(opened.warnings);
        sources.push(format!("data dir {}", dir.display()));
        return Ok(ScanIntel {
            index: ScanIndex::Lazy(Box::new(opened.index)),
            sources,
            warnings,
        });
    }
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
        index: ScanIndex::Full(builder.build()),
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
fn is_matchable(sighting: &Sighting) -> bool {
    sighting.pinned && !sighting.component.version.is_empty()
}

/// Matches every package against `index`: one finding per (alias group, component), carrying
/// every location of that component and its strongest evidence. O(packages × lookup).
pub fn match_packages<M: Matcher + ?Sized>(index: &M, packages: &[FoundPackage]) -> Vec<Finding> {
    match_sightings(index, &path_sightings(packages))
}

/// Matches every sighting against `index`: one finding per (alias group, component), carrying
/// every location of that component, its strongest evidence and every process that loaded
/// it. O(sightings × lookup).
pub fn match_sightings<M: Matcher + ?Sized>(index: &M, sightings: &[Sighting]) -> Vec<Finding> {
    // Group the instances of each component first: the same component at many paths (a
    // monorepo, a hundred workers) is matched once.
    let mut by_component: HashMap<&Component, Vec<&Sighting>> = HashMap::new();
    for sighting in sightings.iter().filter(|s| is_matchable(s)) {
        by_component
            .entry(&sighting.component)
            .or_default()
            .push(sighting);
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
            .map(|s| s.evidence)
            .max()
            .unwrap_or(Evidence::Declared);
        let locations: BTreeSet<&str> = instances
            .iter()
            .map(|s| s.location.display.as_str())
            .collect();
        let processes: BTreeSet<&ProcessRef> =
            instances.iter().flat_map(|s| &s.processes).collect();
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
                locations: locations.iter().map(|l| (*l).to_owned()).collect(),
                processes: processes.iter().map(|p| (*p).clone()).collect(),
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

/// Assembles the report of one path scan.
pub fn build_report(
    run: RunInfo,
    inventory: &vigil_inventory::ScanReport,
    findings: Vec<Finding>,
) -> ScanReport {
    build_merged_report(
        run,
        &path_sightings(&inventory.packages),
        inventory_errors(inventory),
        findings,
        false,
    )
}

/// Assembles the report of a scan from its merged sightings (see [`merge_sightings`]), its
/// errors and findings; `processes_scanned` says whether running processes were part of it.
pub fn build_merged_report(
    run: RunInfo,
    sightings: &[Sighting],
    errors: Vec<ReportError>,
    findings: Vec<Finding>,
    processes_scanned: bool,
) -> ScanReport {
    let mut report = ScanReport::new(run.tool, run.targets, run.started, run.finished);
    report.processes_scanned = processes_scanned;
    report.components = component_instances(sightings);
    report.findings = findings;
    report.errors = errors;
    report.normalize();
    report
}

/// The path scan's errors, as the report lists them.
pub fn inventory_errors(inventory: &vigil_inventory::ScanReport) -> Vec<ReportError> {
    inventory
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
        .collect()
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
