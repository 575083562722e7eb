//! [`scan_processes`]: the `--processes` half of `vigil scan`.
//!
//! One sweep over `/proc` (vigil-runtime's [`Discovery`]); per process, the packages it has
//! **loaded** (files mapped or open now, resolved to their owning package — a language
//! package, or the OS package owning a mapped executable or shared library) and the packages
//! **installed** where it resolves packages from (its [`AppRoots`], read with the inventory's
//! collectors through `/proc/PID/root`). With a watch duration, a fanotify [`Watcher`] is then
//! armed on every filesystem holding those roots (and the paths of the path scan), catches
//! the packages opened during the window — pure-JS and pure-Python packages are opened, read
//! and closed, invisible to `maps` and `fd` — and a second sweep picks up processes started
//! meanwhile and anything newly mapped.
//!
//! Everything comes out as [`Sighting`]s: a component at a location with evidence and the
//! processes that loaded it, ready to merge with the path scan's.
//!
//! Read-only by construction (vigil-runtime reads `/proc`, never ptraces, signals or
//! writes). A process exiting mid-scan is normal and silent; what could not be seen for lack
//! of privilege is summarized in one warning line.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vigil_core::{Component, Evidence};
use vigil_report::{ProcessRef, ScanError as ReportError};
use vigil_runtime::{
    AppRoots, ContainerIdentity, Discovery, DiscoveryOptions, InstalledResolver, OsPackages,
    OwnerResolver, Pid, Process, ProcfsRoot, RuntimeError, Unreadable, Watcher, WatcherLimits,
    WatcherStats, loaded_snapshot,
};

use crate::live::LiveProcess;
use crate::sighting::{Canonical, Location, Sighting};

/// What [`scan_processes`] looks at.
#[derive(Clone, Debug)]
pub struct ProcessScanOptions {
    /// The `/proc` to read (the live one by default).
    pub procfs: ProcfsRoot,
    /// Watch package opens for this long (needs root); `None` takes a snapshot only.
    pub watch: Option<Duration>,
    /// Further paths whose filesystems the watcher marks (the path scan's targets).
    pub watch_paths: Vec<PathBuf>,
}

impl Default for ProcessScanOptions {
    fn default() -> Self {
        ProcessScanOptions {
            procfs: ProcfsRoot::system(),
            watch: None,
            watch_paths: Vec::new(),
        }
    }
}

/// Progress of a process scan, for the terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessScanEvent {
    /// The first sweep is done.
    Swept {
        /// Processes read.
        processes: usize,
    },
    /// The watcher is armed: package opens from now on are seen.
    Watching {
        /// Filesystems marked.
        filesystems: usize,
        /// For how long.
        duration: Duration,
    },
}

/// What a process scan saw.
#[derive(Debug, Default)]
pub struct ProcessScan {
    /// Components loaded by or installed for the processes, one per (component, location).
    pub sightings: Vec<Sighting>,
    /// Distinct processes read (over both sweeps).
    pub processes: usize,
    /// One line each: limited visibility, a watcher that could not run.
    pub warnings: Vec<String>,
    /// Files in application roots that could not be read or parsed.
    pub errors: Vec<ReportError>,
    /// The watcher's counters, when it ran.
    pub watcher: Option<WatcherStats>,
    /// Wall time, watch window included.
    pub elapsed: Duration,
}

/// Why a process scan could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ProcessScanFailure {
    /// `/proc` itself could not be listed.
    #[error("{0}")]
    Procfs(#[from] RuntimeError),
}

/// Sweeps the processes (and, with [`ProcessScanOptions::watch`], watches them); see the
/// module doc. `on_event` hears about progress (the CLI prints "watching …" from it).
pub fn scan_processes(
    options: &ProcessScanOptions,
    on_event: &mut dyn FnMut(ProcessScanEvent),
) -> Result<ProcessScan, ProcessScanFailure> {
    let started = Instant::now();
    let procfs = &options.procfs;
    let mut discovery = Discovery::with_options(
        procfs.clone(),
        DiscoveryOptions {
            include_kernel_threads: false,
            sockets: false,
        },
    );
    let mut run = Run::new(procfs.clone());
    let first = discovery.sweep()?;
    let degraded = match first.degradation() {
        Some(degradation) => {
            run.warnings.push(degradation.to_string());
            true
        }
        None => false,
    };
    on_event(ProcessScanEvent::Swept {
        processes: first.processes.len(),
    });
    let mut watch_roots: Vec<PathBuf> = options.watch_paths.clone();
    for process in &first.processes {
        run.visit(process, &mut watch_roots);
    }

    let mut stats = None;
    if let Some(duration) = options.watch {
        match Watcher::with(
            procfs.clone(),
            OwnerResolver::default(),
            WatcherLimits::default(),
        ) {
            Err(err) => {
                let note = format!(
                    "--watch skipped ({err}); only packages mapped or open at the sweep are seen"
                );
                // Without privileges the sweep already complained: one line says it all.
                match run.warnings.first_mut() {
                    Some(line) if degraded => {
                        line.push_str("; ");
                        line.push_str(&note);
                    }
                    _ => run.warnings.push(note),
                }
            }
            Ok(mut watcher) => {
                let filesystems = arm(&mut watcher, &watch_roots, &mut run.warnings);
                on_event(ProcessScanEvent::Watching {
                    filesystems,
                    duration,
                });
                if let Err(err) = watcher.run_for(duration) {
                    run.warnings.push(format!("--watch stopped early: {err}"));
                }
                let observations = watcher.take_observations();
                stats = Some(watcher.stats());
                // Processes started during the window, and what was mapped meanwhile.
                match discovery.sweep() {
                    Ok(second) => {
                        let mut ignored = Vec::new();
                        for process in &second.processes {
                            run.visit(process, &mut ignored);
                        }
                    }
                    Err(err) => run.warnings.push(format!("second sweep: {err}")),
                }
                for observation in observations {
                    run.observed(observation.pid, observation.start_time, &observation.owner);
                }
            }
        }
    }
    let processes = run.seen.len();
    let mut scan = run.finish();
    scan.processes = processes;
    scan.watcher = stats;
    scan.elapsed = started.elapsed();
    Ok(scan)
}

/// Marks the filesystems of `paths`; returns how many were marked. Failures become one
/// warning line (the first reason and a count), not one per path.
pub(crate) fn arm(watcher: &mut Watcher, paths: &[PathBuf], warnings: &mut Vec<String>) -> usize {
    let mut marked = 0;
    let mut failed = 0usize;
    let mut first_failure = None;
    for path in paths {
        match watcher.watch_path(path) {
            Ok(true) => marked += 1,
            Ok(false) => {}
            // The process (and its root) exited since the sweep: nothing to watch.
            Err(RuntimeError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                failed += 1;
                first_failure.get_or_insert(err.to_string());
            }
        }
    }
    if let Some(reason) = first_failure {
        warnings.push(format!(
            "--watch: {failed} package root(s) not watched (first: {reason})"
        ));
    }
    marked
}

/// The state of one process scan (and of one sweep of [`crate::live::LiveProcesses`]).
pub(crate) struct Run {
    procfs: ProcfsRoot,
    own_pid: Pid,
    own_mnt: Option<u64>,
    owners: OwnerResolver,
    installed: InstalledResolver,
    os: OsPackages,
    /// pid → (start time, reference, mount namespace when it differs from ours).
    seen: HashMap<Pid, (u64, ProcessRef, Option<Namespace>)>,
    /// What the live agent reports about each process seen (by pid).
    pub(crate) details: HashMap<Pid, LiveProcess>,
    /// The containers' mount namespaces met, by namespace inode.
    pub(crate) containers: HashMap<u64, (Namespace, ContainerIdentity)>,
    pub(crate) sightings: HashMap<(Component, Location), Sighting>,
    canonical: Canonical,
    pub(crate) errors: BTreeSet<(String, String)>,
    pub(crate) warnings: Vec<String>,
}

/// A mount namespace other than vigil's: paths in it are not paths on this host.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace {
    /// The namespace inode.
    pub mnt: u64,
    /// How locations in it are labelled: the short container id (`docker cp` style), else
    /// the pod uid, else the namespace.
    pub label: String,
}

impl Run {
    pub(crate) fn new(procfs: ProcfsRoot) -> Run {
        let own_pid = std::process::id();
        let own_mnt = std::fs::read_link("/proc/self/ns/mnt")
            .ok()
            .and_then(|t| vigil_runtime::process::parse_ns_link(&t));
        Run {
            procfs,
            own_pid,
            own_mnt,
            owners: OwnerResolver::default(),
            installed: InstalledResolver::new(),
            os: OsPackages::new(),
            seen: HashMap::new(),
            details: HashMap::new(),
            containers: HashMap::new(),
            sightings: HashMap::new(),
            canonical: Canonical::default(),
            errors: BTreeSet::new(),
            warnings: Vec::new(),
        }
    }

    /// The namespace of `process` when its paths are not ours to read directly: it runs in a
    /// container (with a mount namespace of its own). Host processes with a private mount
    /// namespace (systemd's sandboxing) see the host's files at the host's paths.
    fn namespace(&self, process: &Process) -> Option<Namespace> {
        let container = process.container.as_ref()?;
        let mnt = process.namespaces.mnt?;
        if Some(mnt) == self.own_mnt {
            return None;
        }
        let label = match (&container.id, &container.pod) {
            (Some(id), _) => id.chars().take(12).collect(),
            (None, Some(pod)) => format!("pod-{}", pod.uid),
            (None, None) => format!("mnt-{mnt}"),
        };
        Some(Namespace { mnt, label })
    }

    pub(crate) fn visit(&mut self, process: &Process, watch_roots: &mut Vec<PathBuf>) {
        if process.pid == self.own_pid {
            return;
        }
        let namespace = self.namespace(process);
        let reference = ProcessRef {
            pid: process.pid,
            exe: process.exe.as_ref().map(|e| e.display().to_string()),
            container_id: process.container.as_ref().and_then(|c| c.id.clone()),
        };
        self.seen.insert(
            process.pid,
            (process.start_time, reference.clone(), namespace.clone()),
        );
        self.details.insert(process.pid, LiveProcess::of(process));
        if let (Some(ns), Some(container)) = (&namespace, &process.container) {
            self.containers
                .entry(ns.mnt)
                .or_insert_with(|| (ns.clone(), container.clone()));
        }
        let mnt = process.namespaces.mnt;
        let fs_root = self.procfs.pid_path(process.pid, "root");
        match loaded_snapshot(&self.procfs, process.pid, mnt, &mut self.owners) {
            Ok((packages, unowned)) => {
                for package in packages {
                    for component in package.owner.components() {
                        self.loaded(
                            component,
                            namespace.as_ref(),
                            &package.owner.manifest,
                            &reference,
                        );
                    }
                    watch_roots.push(under(&fs_root, &package.owner.root));
                }
                // The executable and shared libraries, by the OS package owning them.
                for os in self.os.owners(&self.procfs, process.pid, mnt, &unowned) {
                    self.loaded(&os.component, namespace.as_ref(), &os.database, &reference);
                }
            }
            // Gone: normal. Denied: counted in the sweep's degradation line.
            Err(Unreadable::Vanished | Unreadable::Denied) => {}
            Err(Unreadable::Failed(err)) => {
                self.errors
                    .insert((format!("/proc/{}", process.pid), err.to_string()));
            }
        }
        let roots = AppRoots::of(&self.procfs, process);
        if roots.is_empty() {
            return;
        }
        let (installed, errors) = self
            .installed
            .installed(&self.procfs, process.pid, mnt, &roots);
        for package in installed {
            let location = self.location(namespace.as_ref(), &package.manifest);
            self.add(Sighting {
                component: package.component,
                evidence: Evidence::Installed,
                location,
                dev: false,
                pinned: true,
                processes: BTreeSet::new(),
            });
        }
        for error in errors {
            let location = Location::new(namespace.as_ref(), &error.path);
            self.errors.insert((location.display, error.reason));
        }
        watch_roots.extend(roots.all().map(|r| under(&fs_root, r)));
    }

    /// The reference of a process the watcher saw, from either sweep; a process that started
    /// and exited within the window is known by its pid alone.
    fn process_ref(&self, pid: Pid, start_time: u64) -> (ProcessRef, Option<Namespace>) {
        match self.seen.get(&pid) {
            Some((start, reference, namespace)) if *start == start_time => {
                (reference.clone(), namespace.clone())
            }
            _ => (
                ProcessRef {
                    pid,
                    exe: None,
                    container_id: None,
                },
                None,
            ),
        }
    }

    /// Whether `pid` was seen in this run as the process started at `start_time`.
    pub(crate) fn knows(&self, pid: Pid, start_time: u64) -> bool {
        self.seen
            .get(&pid)
            .is_some_and(|(start, _, _)| *start == start_time)
    }

    /// Records what a process was seen opening (the watcher's `observation`), attributed to
    /// the process as this run saw it.
    pub(crate) fn observed(&mut self, pid: Pid, start_time: u64, owner: &vigil_runtime::Owner) {
        let (process, namespace) = self.process_ref(pid, start_time);
        for component in owner.components() {
            self.loaded(component, namespace.as_ref(), &owner.manifest, &process);
        }
    }

    fn loaded(
        &mut self,
        component: &Component,
        namespace: Option<&Namespace>,
        manifest: &Path,
        process: &ProcessRef,
    ) {
        let location = self.location(namespace, manifest);
        self.add(Sighting {
            component: component.clone(),
            evidence: Evidence::Loaded,
            location,
            dev: false,
            pinned: true,
            processes: BTreeSet::from([process.clone()]),
        });
    }

    /// A location; on this host's view, with the path made canonical so it meets the path
    /// scan's (and the loaded and installed sides meet each other) whatever symlinks led there.
    fn location(&mut self, namespace: Option<&Namespace>, path: &Path) -> Location {
        let mut location = Location::new(namespace, path);
        if namespace.is_none() {
            location.path = self.canonical.get(path);
        }
        location
    }

    fn add(&mut self, sighting: Sighting) {
        if sighting.component.version.is_empty() {
            return;
        }
        match self
            .sightings
            .entry((sighting.component.clone(), sighting.location.clone()))
        {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(sighting);
            }
            std::collections::hash_map::Entry::Occupied(mut o) => o.get_mut().absorb(sighting),
        }
    }

    fn finish(self) -> ProcessScan {
        let mut sightings: Vec<Sighting> = self.sightings.into_values().collect();
        sightings.sort_by(|a, b| (&a.location, &a.component).cmp(&(&b.location, &b.component)));
        ProcessScan {
            sightings,
            warnings: self.warnings,
            errors: self
                .errors
                .into_iter()
                .map(|(path, reason)| ReportError {
                    path,
                    reason,
                    line: None,
                    field: None,
                })
                .collect(),
            ..ProcessScan::default()
        }
    }
}

/// `inner` (absolute, inside a process's mount namespace) under that process's root.
fn under(fs_root: &Path, inner: &Path) -> PathBuf {
    fs_root.join(inner.strip_prefix("/").unwrap_or(inner))
}
