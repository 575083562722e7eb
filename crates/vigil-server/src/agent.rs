//! The local agent of `vigil up`: scans the configured paths on an interval (and, when
//! configured, sweeps whole filesystems on a slower schedule) and hands each result to the
//! detection engine in-process, as a full snapshot of this host.
//!
//! What is scanned on disk is behind [`Scanner`]; [`InventoryScanner`] is the default,
//! vigil-inventory's walker with every collector. Only packages whose version is a fact are
//! reported: a manifest constraint (`requests>=2`) is not an installed component.
//!
//! With `[agent] processes`, the [`Collector`] both agents run also reports the running
//! processes through vigil-scan's [`LiveProcesses`] (vigil-runtime underneath): what each
//! process loaded (`LOADED`, with its pid and container), what is installed where it
//! resolves packages from (`INSTALLED`), and the processes and containers themselves. The
//! process side merges with the path scan by vigil-scan's rule (same component at the same
//! canonical place: one instance, strongest evidence). With root, a fanotify watcher runs
//! between passes; a first open of a package by a process raises the [`ChangeSignal`], and
//! the agent runs a *watch pass* ([`Collector::collect_changes`]: only the new observations,
//! applied to the last sweep, the path results reused) paced by [`WatchPacing`] — debounced
//! so one `require` burst is one pass, and at most a few passes a second however many opens
//! arrive. Interval passes go on as before.
//!
//! Sequence numbers continue from the host's last applied snapshot and never fall below the
//! wall clock in milliseconds, so a restarted `vigil up` (or a wiped agent state) never
//! re-uses a number the store would ignore as a duplicate.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use vigil_inventory::{Registry, ScanOptions};
use vigil_runtime::Protocol;
use vigil_scan::{LiveOptions, LiveProcesses, LiveView, Location, Sighting, merge_sightings};
use vigil_store::{
    ContainerInfo, HostInfo, InstanceInput, ListeningSocket, ProcessInfo, Snapshot, SnapshotKind,
    Timestamp,
};

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
#[derive(Debug, Default)]
pub struct Collected {
    /// Instances, unique by (component, container, path).
    pub instances: Vec<InstanceInput>,
    /// The processes those instances name in `pids`.
    pub processes: Vec<ProcessInfo>,
    /// The containers those instances and processes are in.
    pub containers: Vec<ContainerInfo>,
    /// Scan problems.
    pub errors: Vec<String>,
    /// How long the scan took.
    pub scan_time: Duration,
}

/// Pending watcher changes, raised by the watcher's thread and taken by an agent's loop
/// (async for `vigil up`, a plain thread for `vigil agent`).
#[derive(Debug, Default)]
pub struct ChangeSignal {
    /// When the oldest change not yet taken was raised.
    first: Mutex<Option<Instant>>,
    ready: Condvar,
    notify: tokio::sync::Notify,
}

impl ChangeSignal {
    fn first(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.first.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Something changed (now).
    pub fn raise(&self) {
        {
            let mut first = self.first();
            if first.is_none() {
                *first = Some(Instant::now());
            }
        }
        self.ready.notify_all();
        self.notify.notify_one();
    }

    /// When the oldest pending change was raised, if one is pending.
    pub fn pending(&self) -> Option<Instant> {
        *self.first()
    }

    /// Takes the pending change (a pass is about to run).
    pub fn take(&self) -> Option<Instant> {
        self.first().take()
    }

    /// Blocks until a change is pending or `deadline` passed.
    pub fn wait_until(&self, deadline: Instant) {
        let mut first = self.first();
        while first.is_none() {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            first = match self.ready.wait_timeout(first, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Resolves when a change is raised (or was raised since the last wait).
    pub async fn notified(&self) {
        self.notify.notified().await;
    }
}

/// When a watch pass may run: `debounce` after the first change it covers (so the opens of
/// one `require` burst are one pass), and at least `min_gap` after the previous watch pass
/// (so a storm of opens cannot make the agent spin: at most 1/`min_gap` passes a second).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchPacing {
    /// Wait this long after the first change.
    pub debounce: Duration,
    /// Least time between two watch passes.
    pub min_gap: Duration,
}

impl Default for WatchPacing {
    fn default() -> Self {
        WatchPacing {
            debounce: Duration::from_millis(200),
            min_gap: Duration::from_millis(500),
        }
    }
}

impl WatchPacing {
    /// When the pass covering a change first raised at `first_change` may start.
    pub fn due(&self, first_change: Instant, last_pass: Option<Instant>) -> Instant {
        let debounced = first_change + self.debounce;
        match last_pass {
            Some(last) => debounced.max(last + self.min_gap),
            None => debounced,
        }
    }
}

/// What both agents (the local one of `vigil up`, the remote `vigil agent`) run each pass: the
/// configured paths every time, the sweep paths when the sweep is due (its result kept
/// between sweeps), and the running processes when `[agent] processes` is on, merged
/// without duplicates.
pub struct Collector {
    paths: Vec<PathBuf>,
    sweep_interval: Option<Duration>,
    sweep_paths: Vec<PathBuf>,
    scanner: Arc<dyn Scanner>,
    swept: Vec<InstanceInput>,
    last_sweep: Option<Instant>,
    /// The path side of the last interval pass (scanned and swept), reused by watch passes.
    on_disk: Vec<InstanceInput>,
    processes: Option<LiveProcesses>,
    signal: Arc<ChangeSignal>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("paths", &self.paths)
            .field("sweep_interval", &self.sweep_interval)
            .field("processes", &self.processes)
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// A collector for the `[agent]` settings; with `settings.processes`, the process side
    /// starts (and its watcher, when fanotify is available) right away.
    /// Relative paths are taken from the current directory, so the store holds absolute
    /// locations.
    pub fn new(settings: &AgentSection, scanner: Arc<dyn Scanner>) -> Collector {
        let absolute = |p: &PathBuf| match std::env::current_dir() {
            Ok(cwd) if p.is_relative() => cwd.join(p),
            _ => p.clone(),
        };
        let paths: Vec<PathBuf> = settings.paths.iter().map(absolute).collect();
        let signal = Arc::new(ChangeSignal::default());
        let processes = settings.processes.then(|| {
            let raise = Arc::clone(&signal);
            LiveProcesses::new(
                LiveOptions {
                    watch_paths: paths.clone(),
                    write_paths: paths.clone(),
                    ..LiveOptions::default()
                },
                Arc::new(move || raise.raise()),
            )
        });
        Collector {
            paths,
            sweep_interval: settings.sweep_interval,
            sweep_paths: settings.sweep_paths.clone(),
            scanner,
            swept: Vec::new(),
            last_sweep: None,
            on_disk: Vec::new(),
            processes,
            signal,
        }
    }

    /// Raised by the watcher when a process opened a package not reported yet.
    pub fn signal(&self) -> Arc<ChangeSignal> {
        Arc::clone(&self.signal)
    }

    /// Whether processes are reported, and whether changes are watched (else why not):
    /// `None` when processes are off.
    pub fn watching(&self) -> Option<Result<(), String>> {
        self.processes.as_ref().map(LiveProcesses::watching)
    }

    /// An interval pass: scans (sweeping too when due) and reads every process. Blocking.
    pub fn collect(&mut self) -> Collected {
        self.collect_with(true)
    }

    /// A pass reading every process; the paths are scanned again only with `scan`.
    fn collect_with(&mut self, scan: bool) -> Collected {
        let started = Instant::now();
        let mut errors = Vec::new();
        if scan
            && let Some(every) = self.sweep_interval
            && self.last_sweep.is_none_or(|t| t.elapsed() >= every)
        {
            let swept = self.scanner.scan(&self.sweep_paths);
            errors.extend(swept.errors);
            self.swept = swept.instances;
            self.last_sweep = Some(Instant::now());
        }
        if scan {
            self.scan_paths(&mut errors);
        }
        let view = match self.processes.as_mut().map(LiveProcesses::sweep) {
            Some(Ok(view)) => Some(view),
            Some(Err(e)) => {
                errors.push(format!("processes: {e}"));
                None
            }
            None => None,
        };
        let mut collected = join(&self.on_disk, view.as_ref());
        errors.append(&mut collected.errors);
        collected.errors = errors;
        collected.scan_time = started.elapsed();
        collected
    }

    /// The configured paths, joined with the last sweep's result into `on_disk`.
    fn scan_paths(&mut self, errors: &mut Vec<String>) {
        let scanned = self.scanner.scan(&self.paths);
        errors.extend(scanned.errors);
        let mut seen = HashSet::new();
        self.on_disk = scanned
            .instances
            .into_iter()
            .chain(self.swept.iter().cloned())
            .filter(|i| seen.insert((i.component.clone(), i.container_id.clone(), i.path.clone())))
            .collect();
    }

    /// A watch pass: the watcher's new observations applied to the last interval pass (no
    /// sweep), and the configured paths rescanned when a package file was written under
    /// them; when a process reported as loading a package exited (and nothing else is
    /// pending), every process is read again instead, so it stops being reported `LOADED`
    /// now, not at the next interval.
    /// `None` when there is nothing new. Blocking.
    pub fn collect_changes(&mut self) -> Option<Collected> {
        let started = Instant::now();
        let live = self.processes.as_mut()?;
        let written = live.take_written();
        let updated = live.update();
        if live.take_exited() {
            if !written && updated.is_none() {
                return Some(self.collect_with(false));
            }
            // A sweep takes a tenth of a second or more: the new loads and packages go out
            // first (their 1 s promise), the exit in the next pass.
            live.defer_exited();
        }
        let view = match updated {
            Some(view) => view,
            None if written => live.current()?,
            None => return None,
        };
        let mut errors = Vec::new();
        if written {
            self.scan_paths(&mut errors);
        }
        let mut collected = join(&self.on_disk, Some(&view));
        errors.append(&mut collected.errors);
        collected.errors = errors;
        collected.scan_time = started.elapsed();
        Some(collected)
    }
}

/// The path side's instance as a sighting, to merge with the process side's.
fn sighting_of(instance: &InstanceInput) -> Sighting {
    Sighting {
        component: instance.component.clone(),
        evidence: instance.evidence,
        location: Location::new(None, Path::new(&instance.path)),
        dev: instance.dev,
        pinned: true,
        processes: BTreeSet::new(),
    }
}

/// Joins the path side (`on_disk`) with the process side (`view`) into what a snapshot
/// carries: instances unique by (component, container, path), the processes they name, the
/// containers they are in. Process-side errors and visibility warnings come along.
fn join(on_disk: &[InstanceInput], view: Option<&LiveView>) -> Collected {
    let Some(view) = view else {
        return Collected {
            instances: on_disk.to_vec(),
            ..Collected::default()
        };
    };
    let merged = merge_sightings(
        on_disk.iter().map(sighting_of).collect(),
        view.sightings.clone(),
    );
    let container_of = |mnt: u64| {
        view.namespaces.get(&mnt).map_or_else(
            || format!("mnt-{mnt}"),
            |ns| ns.container.id.clone().unwrap_or_else(|| ns.label.clone()),
        )
    };
    let mut seen = HashSet::new();
    let mut pids = BTreeSet::new();
    let mut container_ids = BTreeSet::new();
    let mut instances = Vec::new();
    for s in merged {
        if !s.pinned || s.component.version.is_empty() {
            continue;
        }
        let container_id = s.location.namespace.map(container_of);
        // In a container, the path is the container's own; on the host, as the path scan
        // wrote it (or the canonical path a process loaded it from).
        let path = match container_id {
            Some(_) => s.location.path.display().to_string(),
            None => s.location.display.clone(),
        };
        if !seen.insert((s.component.clone(), container_id.clone(), path.clone())) {
            continue;
        }
        let instance_pids: Vec<u32> = s.processes.iter().map(|p| p.pid).collect();
        pids.extend(instance_pids.iter().copied());
        container_ids.extend(container_id.clone());
        instances.push(InstanceInput {
            component: s.component,
            purl: None,
            container_id,
            path,
            evidence: s.evidence,
            dev: s.dev,
            pids: instance_pids,
        });
    }
    let boot = view.boot_time.unwrap_or(0);
    let processes: Vec<ProcessInfo> = pids
        .iter()
        .filter_map(|pid| view.processes.get(pid))
        .map(|p| {
            // Clock ticks are 1/100 s on every architecture vigil runs on (USER_HZ).
            let millis = boot
                .saturating_mul(1000)
                .saturating_add(p.start_ticks.saturating_mul(10));
            ProcessInfo {
                pid: p.pid,
                start_time: Timestamp::from_system_time(
                    std::time::UNIX_EPOCH + Duration::from_millis(millis),
                ),
                exe: p.exe.clone(),
                cmdline: (!p.cmdline.is_empty()).then(|| p.cmdline.clone()),
                user: p.user.clone(),
                container_id: p.container_id.clone(),
                listening: p
                    .listening
                    .iter()
                    .map(|s| ListeningSocket {
                        protocol: match s.protocol {
                            Protocol::Tcp => "tcp",
                            Protocol::Tcp6 => "tcp6",
                        }
                        .to_owned(),
                        address: s.local.ip().to_string(),
                        port: s.local.port(),
                    })
                    .collect(),
            }
        })
        .collect();
    container_ids.extend(processes.iter().filter_map(|p| p.container_id.clone()));
    let containers = view
        .namespaces
        .values()
        .filter_map(|ns| {
            let id = ns.container.id.clone().unwrap_or_else(|| ns.label.clone());
            container_ids.contains(&id).then(|| ContainerInfo {
                id,
                name: ns
                    .container
                    .pod
                    .as_ref()
                    .and_then(|p| p.container_name.clone()),
                runtime: Some(ns.container.runtime.as_str().to_owned()),
                labels: ns
                    .container
                    .pod
                    .as_ref()
                    .map(|p| [("k8s.pod.uid".to_owned(), p.uid.clone())].into())
                    .unwrap_or_default(),
                ..ContainerInfo::default()
            })
        })
        .map(|c| (c.id.clone(), c))
        .collect::<std::collections::BTreeMap<String, ContainerInfo>>()
        .into_values()
        .collect();
    Collected {
        instances,
        processes,
        containers,
        errors: view
            .warnings
            .iter()
            .cloned()
            .chain(
                view.errors
                    .iter()
                    .map(|e| format!("{}: {}", e.path, e.reason)),
            )
            .collect(),
        scan_time: Duration::ZERO,
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
    pacing: WatchPacing,
}

/// Which kind of pass to run next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PassKind {
    Interval,
    Watch,
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
            pacing: WatchPacing::default(),
        })
    }

    /// The host name reported.
    pub fn host_name(&self) -> &str {
        &self.host.name
    }

    /// See [`Collector::watching`].
    pub fn watching(&self) -> Option<Result<(), String>> {
        self.collector.watching()
    }

    /// Scans (sweeping too when due) and ingests one full snapshot. Blocking.
    pub fn run_once(&mut self) -> Result<Pass, vigil_store::StoreError> {
        let collected = self.collector.collect();
        self.ingest(collected)
    }

    /// A watch pass (see [`Collector::collect_changes`]): `None` when the watcher saw
    /// nothing new. Blocking.
    pub fn run_changes(&mut self) -> Option<Result<Pass, vigil_store::StoreError>> {
        let collected = self.collector.collect_changes()?;
        Some(self.ingest(collected))
    }

    fn ingest(&mut self, collected: Collected) -> Result<Pass, vigil_store::StoreError> {
        let Collected {
            instances,
            processes,
            containers,
            errors,
            scan_time,
        } = collected;
        // The local agent always sends the whole truth: the engine diffs it in-process.
        let snapshot = Snapshot {
            host: self.host.clone(),
            sequence: take_sequence(&mut self.next_sequence),
            kind: SnapshotKind::Full,
            containers,
            processes,
            instances,
        };
        let report = self.detector.ingest(&snapshot, Timestamp::now())?;
        Ok(Pass {
            report,
            errors,
            scan_time,
        })
    }

    /// Runs an interval pass every `interval`, and a watch pass when the watcher raised a
    /// change (paced by [`WatchPacing`]), until `shutdown` turns true. `log` receives one
    /// line per pass that changed something and per error.
    pub async fn run(
        mut self,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
        log: Arc<dyn Fn(String) + Send + Sync>,
    ) {
        let interval = self.interval;
        let signal = self.collector.signal();
        match self.collector.watching() {
            Some(Ok(())) => log(
                "local agent: watching package loads by running processes (fanotify)".to_owned(),
            ),
            Some(Err(why)) => log(format!(
                "local agent: processes are read every {} s only; new loads are not watched ({why})",
                interval.as_secs_f64()
            )),
            None => {}
        }
        let mut errors_reported = false;
        let mut next_interval = Instant::now();
        let mut last_watch: Option<Instant> = None;
        loop {
            // The next pass: the interval's, or a watch pass when a change is pending and
            // due before it.
            let (due, kind) = match signal.pending() {
                Some(first) if self.pacing.due(first, last_watch) < next_interval => {
                    (self.pacing.due(first, last_watch), PassKind::Watch)
                }
                _ => (next_interval, PassKind::Interval),
            };
            if due > Instant::now() {
                tokio::select! {
                    _ = shutdown.changed() => return,
                    () = tokio::time::sleep_until(due.into()) => {}
                    // A change: re-plan (the pass it needs may come before the interval's).
                    () = signal.notified(), if signal.pending().is_none() => continue,
                }
                if *shutdown.borrow() {
                    return;
                }
            }
            let first_change = signal.take();
            let (agent, pass) = match tokio::task::spawn_blocking(move || {
                let pass = match kind {
                    PassKind::Interval => Some(self.run_once()),
                    PassKind::Watch => self.run_changes(),
                };
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
            match kind {
                PassKind::Interval => next_interval = Instant::now() + interval,
                PassKind::Watch => last_watch = Some(Instant::now()),
            }
            match pass {
                None => {}
                Some(Ok(pass)) => {
                    let r = &pass.report;
                    if r.new + r.changed + r.gone > 0
                        || r.findings.created + r.findings.reopened > 0
                    {
                        let trigger = match (kind, first_change) {
                            (PassKind::Watch, Some(t)) => format!(
                                "; watch pass, {} ms after the change",
                                t.elapsed().as_millis()
                            ),
                            _ => String::new(),
                        };
                        log(format!(
                            "local agent: {} new, {} changed, {} gone; findings: {} new, {} re-opened (scan {} ms{trigger})",
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
                Some(Err(e)) => log(format!("local agent: snapshot not applied: {e}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_core::{Component, Ecosystem, EcosystemKind, Evidence};
    use vigil_scan::{LiveNamespace, LiveProcess};

    fn npm(name: &str, version: &str) -> Component {
        Component::new(Ecosystem::new(EcosystemKind::Npm), name, version)
    }

    #[test]
    fn the_process_side_merges_with_the_path_side() {
        let manifest = "/srv/app/node_modules/debug/package.json";
        let on_disk = vec![InstanceInput {
            component: npm("debug", "4.4.2"),
            purl: None,
            container_id: None,
            path: manifest.to_owned(),
            evidence: Evidence::Installed,
            dev: false,
            pids: Vec::new(),
        }];
        let process = |pid: u32, container: Option<&str>| vigil_report::ProcessRef {
            pid,
            exe: Some("/usr/bin/node".to_owned()),
            container_id: container.map(str::to_owned),
        };
        let container_id = "3f2a9c0b1d2e".repeat(5);
        let ns = vigil_scan::processes::Namespace {
            mnt: 99,
            label: container_id.chars().take(12).collect(),
        };
        let sighting =
            |c: Component, ev: Evidence, loc: Location, pids: &[vigil_report::ProcessRef]| {
                Sighting {
                    component: c,
                    evidence: ev,
                    location: loc,
                    dev: false,
                    pinned: true,
                    processes: pids.iter().cloned().collect(),
                }
            };
        let view = LiveView {
            sightings: vec![
                // The host's node loaded the package the path scan found installed.
                sighting(
                    npm("debug", "4.4.2"),
                    Evidence::Loaded,
                    Location::new(None, Path::new(manifest)),
                    &[process(7, None)],
                ),
                // A container's node loaded its own copy.
                sighting(
                    npm("ms", "2.1.3"),
                    Evidence::Loaded,
                    Location::new(Some(&ns), Path::new("/app/node_modules/ms/package.json")),
                    &[process(8, Some(&container_id))],
                ),
                // No version: never reported.
                sighting(
                    npm("broken", ""),
                    Evidence::Installed,
                    Location::new(None, Path::new("/srv/x/package.json")),
                    &[],
                ),
            ],
            processes: [
                (
                    7,
                    LiveProcess {
                        pid: 7,
                        start_ticks: 100,
                        exe: Some("/usr/bin/node".to_owned()),
                        cmdline: "node server.js".to_owned(),
                        user: Some("app".to_owned()),
                        container_id: None,
                        listening: vec![listener(Protocol::Tcp, "0.0.0.0:8080")],
                    },
                ),
                (
                    8,
                    LiveProcess {
                        pid: 8,
                        start_ticks: 250,
                        exe: Some("/usr/local/bin/node".to_owned()),
                        cmdline: "node index.js".to_owned(),
                        user: Some("1000".to_owned()),
                        container_id: Some(container_id.clone()),
                        listening: vec![listener(Protocol::Tcp6, "[::1]:3000")],
                    },
                ),
                (
                    9,
                    LiveProcess {
                        pid: 9,
                        start_ticks: 300,
                        exe: None,
                        cmdline: String::new(),
                        user: None,
                        container_id: None,
                        listening: Vec::new(),
                    },
                ),
            ]
            .into(),
            namespaces: [(
                99,
                LiveNamespace {
                    label: ns.label.clone(),
                    container: vigil_runtime::ContainerIdentity {
                        runtime: vigil_runtime::ContainerRuntime::Docker,
                        id: Some(container_id.clone()),
                        pod: None,
                        source: vigil_runtime::IdentitySource::Cgroup,
                    },
                },
            )]
            .into(),
            boot_time: Some(1_700_000_000),
            ..LiveView::default()
        };
        let c = join(&on_disk, Some(&view));
        type Row = (String, Option<String>, String, Evidence, Vec<u32>);
        let got: Vec<Row> = c
            .instances
            .iter()
            .map(|i| {
                (
                    i.component.name.as_str().to_owned(),
                    i.container_id.clone(),
                    i.path.clone(),
                    i.evidence,
                    i.pids.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "debug".to_owned(),
                    None,
                    manifest.to_owned(),
                    Evidence::Loaded,
                    vec![7]
                ),
                (
                    "ms".to_owned(),
                    Some(container_id.clone()),
                    "/app/node_modules/ms/package.json".to_owned(),
                    Evidence::Loaded,
                    vec![8]
                ),
            ]
        );
        // Only the processes the instances name; start = boot + ticks / 100 s.
        let pids: Vec<(u32, i64)> = c
            .processes
            .iter()
            .map(|p| (p.pid, p.start_time.unix_millis()))
            .collect();
        assert_eq!(pids, [(7, 1_700_000_001_000), (8, 1_700_000_002_500)]);
        let listening: Vec<(&str, &str, u16)> = c
            .processes
            .iter()
            .flat_map(|p| &p.listening)
            .map(|s| (s.protocol.as_str(), s.address.as_str(), s.port))
            .collect();
        assert_eq!(listening, [("tcp", "0.0.0.0", 8080), ("tcp6", "::1", 3000)]);
        assert_eq!(c.containers.len(), 1);
        assert_eq!(c.containers[0].id, container_id);
        assert_eq!(c.containers[0].runtime.as_deref(), Some("docker"));
        // Without the process side: the path side as it is.
        assert_eq!(join(&on_disk, None).instances, on_disk);
    }

    fn listener(protocol: Protocol, local: &str) -> vigil_runtime::Socket {
        vigil_runtime::Socket {
            protocol,
            local: local.parse().unwrap(),
            remote: "0.0.0.0:0".parse().unwrap(),
            state: vigil_runtime::TcpState::Listen,
            uid: 0,
            inode: 1,
        }
    }

    #[test]
    fn watch_passes_are_debounced_and_rate_limited() {
        let pacing = WatchPacing::default();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // (first change, previous watch pass) → due, relative to t0.
        let cases: &[(u64, Option<u64>, u64)] = &[
            (0, None, 200),        // debounce only
            (1000, Some(0), 1200), // long after the last pass: debounce only
            (100, Some(0), 500),   // right after a pass: the gap decides
            (450, Some(400), 900), // storm: never closer than min_gap
        ];
        for (first, last, want) in cases {
            let due = pacing.due(t0 + ms(*first), last.map(|l| t0 + ms(l)));
            assert_eq!(due, t0 + ms(*want), "first {first} last {last:?}");
        }
        // A storm of changes, each raised just after the previous pass: passes at most
        // 1/min_gap a second.
        let mut last = None;
        let mut passes = 0;
        let mut now = t0;
        while now < t0 + Duration::from_secs(10) {
            let due = pacing.due(now, last);
            last = Some(due);
            now = due + ms(1);
            passes += 1;
        }
        assert!(passes <= 21, "{passes} passes in 10 s");
    }

    #[test]
    fn the_signal_keeps_the_first_change_until_taken() {
        let signal = ChangeSignal::default();
        assert!(signal.pending().is_none());
        signal.raise();
        let first = signal.pending().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        signal.raise();
        assert_eq!(signal.pending(), Some(first));
        // Already pending: returns at once.
        signal.wait_until(Instant::now() + Duration::from_secs(10));
        assert_eq!(signal.take(), Some(first));
        assert!(signal.pending().is_none());
        let started = Instant::now();
        signal.wait_until(started + Duration::from_millis(30));
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
