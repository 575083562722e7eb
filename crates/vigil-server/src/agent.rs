//! The local agent of `vigil up`: scans the configured paths on an interval (and, when
//! configured, sweeps whole filesystems on a slower schedule) and hands each result to the
//! detection engine in-process, as a full snapshot of this host.
//!
//! What is scanned is behind [`Scanner`] so richer sources (running processes through
//! vigil-runtime, containers) plug in without touching the loop; [`InventoryScanner`] is the
//! default, vigil-inventory's walker with every collector. Only packages whose version is a
//! fact are reported: a manifest constraint (`requests>=2`) is not an installed component.
//!
//! Sequence numbers continue from the host's last applied snapshot and never fall below the
//! wall clock in milliseconds, so a restarted `vigil up` (or a wiped agent state) never
//! re-uses a number the store would ignore as a duplicate.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_inventory::{Registry, ScanOptions};
use vigil_store::{HostInfo, InstanceInput, Snapshot, SnapshotKind, Timestamp};

use crate::config::AgentSection;
use crate::engine::{Detector, IngestReport};

/// What a scan found.
#[derive(Debug, Default)]
pub struct ScanOutput {
    /// Component instances.
    pub instances: Vec<InstanceInput>,
    /// Problems met (unreadable files, …), one line each.
    pub errors: Vec<String>,
}

/// Something that inventories a set of roots.
pub trait Scanner: Send + Sync {
    /// Scans `roots`.
    fn scan(&self, roots: &[PathBuf]) -> ScanOutput;
}

/// vigil-inventory's walker with every default collector.
#[derive(Debug)]
pub struct InventoryScanner {
    registry: Registry,
    options: ScanOptions,
}

impl Default for InventoryScanner {
    fn default() -> Self {
        InventoryScanner {
            registry: Registry::with_default_collectors(),
            options: ScanOptions {
                // Leave a core for the server.
                threads: std::thread::available_parallelism()
                    .map_or(1, |n| n.get().saturating_sub(1).max(1)),
                ..ScanOptions::default()
            },
        }
    }
}

impl Scanner for InventoryScanner {
    fn scan(&self, roots: &[PathBuf]) -> ScanOutput {
        let mut out = ScanOutput::default();
        let present: Vec<PathBuf> = roots
            .iter()
            .filter(|r| {
                let ok = std::fs::symlink_metadata(r).is_ok();
                if !ok {
                    out.errors
                        .push(format!("{}: no such file or directory", r.display()));
                }
                ok
            })
            .cloned()
            .collect();
        match vigil_inventory::scan(&present, &self.registry, &self.options) {
            Ok(report) => {
                out.errors
                    .extend(report.errors.iter().map(ToString::to_string));
                out.instances = instances_from_found(report.packages);
            }
            Err(e) => out.errors.push(e.to_string()),
        }
        out
    }
}

/// The instances to report for what an inventory found: only packages whose version is a
/// fact (pinned, non-empty); a manifest constraint is not an installed component. Shared by
/// the agents and `vigil scan --save`.
pub fn instances_from_found(
    packages: impl IntoIterator<Item = vigil_inventory::FoundPackage>,
) -> Vec<InstanceInput> {
    packages
        .into_iter()
        .filter(|p| p.pinned && !p.component.version.is_empty())
        .map(|p| InstanceInput {
            component: p.component,
            purl: None,
            container_id: None,
            path: p.path.display().to_string(),
            evidence: p.evidence,
            dev: p.dev,
            pids: Vec::new(),
        })
        .collect()
}

/// The next sequence number after `next` (the smallest still unused): never below the wall
/// clock in milliseconds, so a wiped agent state never re-uses a number. Advances `next`.
pub fn take_sequence(next: &mut u64) -> u64 {
    let clock = u64::try_from(Timestamp::now().unix_millis()).unwrap_or(0);
    let seq = (*next).max(clock);
    *next = seq.saturating_add(1);
    seq
}

/// This machine's host, as an agent reports it (`host_name` overrides the system's name).
pub fn this_host(host_name: Option<String>, agent: &str) -> HostInfo {
    HostInfo {
        name: host_name.unwrap_or_else(system_host_name),
        os_name: Some(std::env::consts::OS.to_owned()),
        os_version: None,
        arch: Some(std::env::consts::ARCH.to_owned()),
        agent_version: Some(format!("{agent}/{}", env!("CARGO_PKG_VERSION"))),
        labels: Default::default(),
    }
}

/// One collection of this host's inventory.
#[derive(Debug)]
pub struct Collected {
    /// Instances, unique by (component, container, path).
    pub instances: Vec<InstanceInput>,
    /// Scan problems.
    pub errors: Vec<String>,
    /// How long the scan took.
    pub scan_time: Duration,
}

/// What both agents (the local one of `vigil up`, the remote `vigil agent`) run each pass: the
/// configured paths every time, the sweep paths when the sweep is due (its result kept
/// between sweeps), merged without duplicates.
pub struct Collector {
    paths: Vec<PathBuf>,
    sweep_interval: Option<Duration>,
    sweep_paths: Vec<PathBuf>,
    scanner: Arc<dyn Scanner>,
    swept: Vec<InstanceInput>,
    last_sweep: Option<Instant>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("paths", &self.paths)
            .field("sweep_interval", &self.sweep_interval)
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// A collector for the `[agent]` settings.
    /// Relative paths are taken from the current directory, so the store holds absolute
    /// locations.
    pub fn new(settings: &AgentSection, scanner: Arc<dyn Scanner>) -> Collector {
        let absolute = |p: &PathBuf| match std::env::current_dir() {
            Ok(cwd) if p.is_relative() => cwd.join(p),
            _ => p.clone(),
        };
        Collector {
            paths: settings.paths.iter().map(absolute).collect(),
            sweep_interval: settings.sweep_interval,
            sweep_paths: settings.sweep_paths.clone(),
            scanner,
            swept: Vec::new(),
            last_sweep: None,
        }
    }

    /// Scans (sweeping too when due). Blocking.
    pub fn collect(&mut self) -> Collected {
        let started = Instant::now();
        let mut errors = Vec::new();
        if let Some(every) = self.sweep_interval
            && self.last_sweep.is_none_or(|t| t.elapsed() >= every)
        {
            let swept = self.scanner.scan(&self.sweep_paths);
            errors.extend(swept.errors);
            self.swept = swept.instances;
            self.last_sweep = Some(Instant::now());
        }
        let scanned = self.scanner.scan(&self.paths);
        errors.extend(scanned.errors);
        let mut seen = HashSet::new();
        let instances: Vec<InstanceInput> = scanned
            .instances
            .into_iter()
            .chain(self.swept.iter().cloned())
            .filter(|i| seen.insert((i.component.clone(), i.container_id.clone(), i.path.clone())))
            .collect();
        Collected {
            instances,
            errors,
            scan_time: started.elapsed(),
        }
    }
}

/// This machine's host name (`/proc/sys/kernel/hostname`, else `/etc/hostname`, else
/// `localhost`).
pub fn system_host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// One pass's outcome.
#[derive(Debug)]
pub struct Pass {
    /// What the engine did.
    pub report: IngestReport,
    /// Scan problems.
    pub errors: Vec<String>,
    /// How long the scan took.
    pub scan_time: Duration,
}

/// The local agent.
pub struct LocalAgent {
    host: HostInfo,
    interval: Duration,
    collector: Collector,
    detector: Arc<Detector>,
    next_sequence: u64,
}

impl LocalAgent {
    /// An agent reporting as `settings.host_name` (default: this machine's name).
    pub fn new(
        settings: AgentSection,
        scanner: Arc<dyn Scanner>,
        detector: Arc<Detector>,
    ) -> Result<LocalAgent, vigil_store::StoreError> {
        let host = this_host(settings.host_name.clone(), "vigil-up");
        let last = detector
            .store()
            .host(&host.name)?
            .and_then(|h| h.last_sequence)
            .unwrap_or(0);
        Ok(LocalAgent {
            host,
            interval: settings.interval,
            collector: Collector::new(&settings, scanner),
            detector,
            next_sequence: last.saturating_add(1),
        })
    }

    /// The host name reported.
    pub fn host_name(&self) -> &str {
        &self.host.name
    }

    /// Scans (sweeping too when due) and ingests one full snapshot. Blocking.
    pub fn run_once(&mut self) -> Result<Pass, vigil_store::StoreError> {
        let Collected {
            instances,
            errors,
            scan_time,
        } = self.collector.collect();
        let snapshot = Snapshot {
            host: self.host.clone(),
            sequence: take_sequence(&mut self.next_sequence),
            kind: SnapshotKind::Full,
            containers: Vec::new(),
            processes: Vec::new(),
            instances,
        };
        let report = self.detector.ingest(&snapshot, Timestamp::now())?;
        Ok(Pass {
            report,
            errors,
            scan_time,
        })
    }

    /// Runs passes every `interval` until `shutdown` turns true. `log` receives one line per
    /// pass that changed something and per error.
    pub async fn run(
        mut self,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
        log: Arc<dyn Fn(String) + Send + Sync>,
    ) {
        let interval = self.interval;
        let mut errors_reported = false;
        loop {
            let (agent, pass) = match tokio::task::spawn_blocking(move || {
                let pass = self.run_once();
                (self, pass)
            })
            .await
            {
                Ok(done) => done,
                Err(e) => {
                    log(format!("local agent stopped: {e}"));
                    return;
                }
            };
            self = agent;
            match pass {
                Ok(pass) => {
                    let r = &pass.report;
                    if r.new + r.changed + r.gone > 0
                        || r.findings.created + r.findings.reopened > 0
                    {
                        log(format!(
                            "local agent: {} new, {} changed, {} gone; findings: {} new, {} re-opened (scan {} ms)",
                            r.new,
                            r.changed,
                            r.gone,
                            r.findings.created,
                            r.findings.reopened,
                            pass.scan_time.as_millis()
                        ));
                    }
                    // Scan problems are reported once, not every interval.
                    if !errors_reported && !pass.errors.is_empty() {
                        errors_reported = true;
                        for e in pass.errors.iter().take(10) {
                            log(format!("local agent: {e}"));
                        }
                        if pass.errors.len() > 10 {
                            log(format!(
                                "local agent: … and {} more scan problems",
                                pass.errors.len() - 10
                            ));
                        }
                    }
                }
                Err(e) => log(format!("local agent: snapshot not applied: {e}")),
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                () = tokio::time::sleep(interval) => {}
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }
}
