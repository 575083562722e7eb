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
                out.instances = report
                    .packages
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
                    .collect();
            }
            Err(e) => out.errors.push(e.to_string()),
        }
        out
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
    settings: AgentSection,
    scanner: Arc<dyn Scanner>,
    detector: Arc<Detector>,
    next_sequence: u64,
    swept: Vec<InstanceInput>,
    last_sweep: Option<Instant>,
}

impl LocalAgent {
    /// An agent reporting as `settings.host_name` (default: this machine's name).
    pub fn new(
        settings: AgentSection,
        scanner: Arc<dyn Scanner>,
        detector: Arc<Detector>,
    ) -> Result<LocalAgent, vigil_store::StoreError> {
        let name = settings.host_name.clone().unwrap_or_else(system_host_name);
        let last = detector
            .store()
            .host(&name)?
            .and_then(|h| h.last_sequence)
            .unwrap_or(0);
        Ok(LocalAgent {
            host: HostInfo {
                name,
                os_name: Some(std::env::consts::OS.to_owned()),
                os_version: None,
                arch: Some(std::env::consts::ARCH.to_owned()),
                agent_version: Some(concat!("vigil-up/", env!("CARGO_PKG_VERSION")).to_owned()),
                labels: Default::default(),
            },
            settings,
            scanner,
            detector,
            next_sequence: last.saturating_add(1),
            swept: Vec::new(),
            last_sweep: None,
        })
    }

    /// The host name reported.
    pub fn host_name(&self) -> &str {
        &self.host.name
    }

    fn sequence(&mut self) -> u64 {
        let clock = u64::try_from(Timestamp::now().unix_millis()).unwrap_or(0);
        let seq = self.next_sequence.max(clock);
        self.next_sequence = seq.saturating_add(1);
        seq
    }

    /// Scans (sweeping too when due) and ingests one full snapshot. Blocking.
    pub fn run_once(&mut self) -> Result<Pass, vigil_store::StoreError> {
        let started = Instant::now();
        let mut errors = Vec::new();
        if let Some(every) = self.settings.sweep_interval
            && self.last_sweep.is_none_or(|t| t.elapsed() >= every)
        {
            let swept = self.scanner.scan(&self.settings.sweep_paths);
            errors.extend(swept.errors);
            self.swept = swept.instances;
            self.last_sweep = Some(Instant::now());
        }
        let scanned = self.scanner.scan(&self.settings.paths);
        errors.extend(scanned.errors);
        let mut seen = HashSet::new();
        let instances: Vec<InstanceInput> = scanned
            .instances
            .into_iter()
            .chain(self.swept.iter().cloned())
            .filter(|i| seen.insert((i.component.clone(), i.container_id.clone(), i.path.clone())))
            .collect();
        let scan_time = started.elapsed();
        let snapshot = Snapshot {
            host: self.host.clone(),
            sequence: self.sequence(),
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
        let interval = self.settings.interval;
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
