//! [`Watcher`]: packages seen being *opened*, via fanotify `FAN_OPEN`.
//!
//! `/proc/PID/maps` and `fd` only show what a process holds now. Interpreters read most of a
//! package and close it again: CPython opens `__init__.py` (or its `.pyc`), reads, closes;
//! node's `require` does the same. The watcher catches those opens as they happen.
//!
//! How it works: one fanotify group in notification mode (never blocks the opener; no
//! permission events). Marks are per *filesystem* (`FAN_MARK_FILESYSTEM`, every mount of it,
//! bind mounts and container volumes included), added for the filesystems holding package
//! roots ([`Watcher::watch_path`], deduplicated by device), falling back to a mount mark where
//! the kernel refuses filesystem marks. Each event carries an open fd of the file and the
//! opener's pid; the path comes from that fd's `/proc/self/fd` link.
//!
//! Cost per event: one `readlink` and a byte scan of the path. Only paths that can be in a
//! package (`node_modules`, `site-packages`/`dist-packages`, `.jar`) go further: a hash
//! lookup of the (pid, package root) pair, and on the first open of a package by a process a
//! resolution through [`OwnerResolver`] (cached per slot). Everything else is dropped after the
//! scan.
//!
//! An open is a *load* only as [`crate::loaded`] defines it: package metadata
//! (`package.json`, `*.dist-info/…`) is skipped, and so are opens by processes that cannot run
//! the package's code ([`Runs`], from the opener's `maps`, read once when the process is first
//! seen and again at most once a second while it keeps being refused — a process may `exec`
//! an interpreter after it was first seen). Scanners and backup tools reading a whole
//! `node_modules` tree are thereby not reported as having loaded it.
//!
//! Memory is bounded ([`WatcherLimits`]): at most `max_processes` tracked processes, at most
//! `max_packages_per_process` packages each, at most `max_pending` undrained observations.
//! [`Watcher::reap`] drops the state of processes that exited (or whose pid was reused).
//!
//! Writes, optionally ([`Watcher::watch_writes`]): `FAN_CLOSE_WRITE` on the filesystems of
//! a few roots (an agent's configured paths); a file closed after writing under one of those
//! roots is queued ([`Watcher::take_writes`], at most [`MAX_WRITES`] distinct paths) so the
//! agent can rescan them — a package installed there shows within a second. Cost per event:
//! the same `readlink` and a prefix comparison.
//!
//! Needs `CAP_SYS_ADMIN` (root). Read-only: no permission events, no writes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::fanotify::{EventFFlags, Fanotify, InitFlags, MarkFlags, MaskFlags};

use crate::error::RuntimeError;
use crate::loaded::{LoadedFile, LoadedPackage, LoadedVia, Runs, is_package_metadata};
use crate::metadata::InventoryMetadata;
use crate::owner::{Owner, OwnerResolver, PackageMetadata};
use crate::process::{Stat, parse_ns_link, still_running};
use crate::procfs::{Pid, ProcfsRoot};

/// Memory bounds of a [`Watcher`].
#[derive(Clone, Copy, Debug)]
pub struct WatcherLimits {
    /// Processes tracked at once; opens by further processes are counted, not kept.
    pub max_processes: usize,
    /// Packages kept per process.
    pub max_packages_per_process: usize,
    /// Observations kept until [`Watcher::take_observations`]; the oldest are dropped first.
    pub max_pending: usize,
}

impl Default for WatcherLimits {
    fn default() -> Self {
        WatcherLimits {
            max_processes: 65_536,
            max_packages_per_process: 10_000,
            max_pending: 100_000,
        }
    }
}

/// What the watcher knows about one process.
#[derive(Clone, Debug)]
pub struct WatchedProcess {
    /// Start time (clock ticks since boot): tells a reused pid from the original.
    pub start_time: u64,
    /// Mount namespace.
    pub mnt: Option<u64>,
    /// Packages seen opened, by package root, with the first file seen opened.
    pub packages: HashMap<PathBuf, (Arc<Owner>, PathBuf)>,
    /// Which ecosystems' code the process can run, and when that was read.
    pub runs: (Runs, Instant),
}

impl WatchedProcess {
    /// The packages as [`LoadedPackage`]s with evidence [`LoadedVia::Observed`], ready to
    /// merge with a maps/fd snapshot ([`merge_loaded`]).
    pub fn loaded(&self) -> Vec<LoadedPackage> {
        let mut out: Vec<LoadedPackage> = self
            .packages
            .values()
            .map(|(owner, path)| LoadedPackage {
                owner: owner.clone(),
                files: vec![LoadedFile {
                    path: path.clone(),
                    via: LoadedVia::Observed,
                    deleted: false,
                }],
            })
            .collect();
        out.sort_by(|a, b| a.owner.root.cmp(&b.owner.root));
        out
    }
}

/// Merges two sets of loaded packages of one process (a maps/fd snapshot and the watcher's
/// observations) by package root; files of the same path keep the strongest evidence
/// (mapped, then open, then observed).
pub fn merge_loaded(a: Vec<LoadedPackage>, b: Vec<LoadedPackage>) -> Vec<LoadedPackage> {
    let mut by_root: std::collections::BTreeMap<PathBuf, LoadedPackage> =
        std::collections::BTreeMap::new();
    for package in a.into_iter().chain(b) {
        match by_root.entry(package.owner.root.clone()) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(package);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                let files = &mut o.get_mut().files;
                for file in package.files {
                    match files.iter_mut().find(|f| f.path == file.path) {
                        Some(existing) if file.via < existing.via => *existing = file,
                        Some(_) => {}
                        None => files.push(file),
                    }
                }
            }
        }
    }
    by_root.into_values().collect()
}

/// A process opened a file of a package for the first time (as far as the watcher knows).
#[derive(Clone, Debug)]
pub struct Observation {
    /// The opener.
    pub pid: Pid,
    /// Its start time.
    pub start_time: u64,
    /// The package.
    pub owner: Arc<Owner>,
    /// The file opened.
    pub path: PathBuf,
}

/// Counters, for metrics and benchmarks.
#[derive(Clone, Copy, Debug, Default)]
pub struct WatcherStats {
    /// Events read.
    pub events: u64,
    /// Events whose path could be in a package.
    pub candidates: u64,
    /// First opens of a package by a process.
    pub observations: u64,
    /// Kernel queue overflows (events lost).
    pub overflows: u64,
    /// Opens dropped because a bound was reached.
    pub dropped: u64,
    /// Openers gone before their package could be resolved.
    pub vanished: u64,
    /// Opens of package metadata, or by processes that cannot run the package (scanners).
    pub not_loads: u64,
    /// Files closed after writing under a root of [`Watcher::watch_writes`].
    pub writes: u64,
}

/// Most distinct written paths kept until [`Watcher::take_writes`]; beyond, further writes
/// are counted but not kept (a rescan covers them anyway).
pub const MAX_WRITES: usize = 1024;

/// A fanotify watcher mapping opened files to packages, per process.
#[derive(Debug)]
pub struct Watcher<M: PackageMetadata = InventoryMetadata> {
    fan: Fanotify,
    procfs: ProcfsRoot,
    resolver: OwnerResolver<M>,
    limits: WatcherLimits,
    marked: HashSet<u64>,
    processes: HashMap<Pid, WatchedProcess>,
    pending: VecDeque<Observation>,
    own_pid: Pid,
    stats: WatcherStats,
    /// Roots whose written files are queued, and the filesystems marked for writes.
    write_roots: Vec<PathBuf>,
    write_marked: HashSet<u64>,
    writes: HashSet<PathBuf>,
}

impl Watcher<InventoryMetadata> {
    /// A watcher over the live `/proc` with the inventory's metadata readers and default limits.
    pub fn new() -> Result<Watcher<InventoryMetadata>, RuntimeError> {
        Watcher::with(
            ProcfsRoot::system(),
            OwnerResolver::default(),
            WatcherLimits::default(),
        )
    }
}

impl<M: PackageMetadata> Watcher<M> {
    /// A watcher with explicit parts. `procfs` must be the live procfs of this pid namespace:
    /// event pids are in it.
    pub fn with(
        procfs: ProcfsRoot,
        resolver: OwnerResolver<M>,
        limits: WatcherLimits,
    ) -> Result<Watcher<M>, RuntimeError> {
        let fan = Fanotify::init(
            InitFlags::FAN_CLASS_NOTIF | InitFlags::FAN_CLOEXEC | InitFlags::FAN_NONBLOCK,
            EventFFlags::O_RDONLY | EventFFlags::O_LARGEFILE | EventFFlags::O_CLOEXEC,
        )
        .map_err(|e| {
            RuntimeError::Watcher(format!(
                "fanotify_init: {e} (needs root / CAP_SYS_ADMIN and CONFIG_FANOTIFY)"
            ))
        })?;
        Ok(Watcher {
            fan,
            procfs,
            resolver,
            limits,
            marked: HashSet::new(),
            processes: HashMap::new(),
            pending: VecDeque::new(),
            own_pid: std::process::id(),
            stats: WatcherStats::default(),
            write_roots: Vec::new(),
            write_marked: HashSet::new(),
            writes: HashSet::new(),
        })
    }

    /// Watches opens on the filesystem holding `path` (once per filesystem). Returns whether
    /// a new mark was added.
    pub fn watch_path(&mut self, path: &Path) -> Result<bool, RuntimeError> {
        let dev = std::fs::metadata(path)
            .map_err(|source| RuntimeError::Io {
                path: path.to_path_buf(),
                source,
            })?
            .dev();
        if self.marked.contains(&dev) {
            return Ok(false);
        }
        let mark = |flags: MarkFlags| {
            self.fan.mark(
                MarkFlags::FAN_MARK_ADD | flags,
                MaskFlags::FAN_OPEN,
                nix::fcntl::AT_FDCWD,
                Some(path),
            )
        };
        mark(MarkFlags::FAN_MARK_FILESYSTEM)
            .or_else(|_| mark(MarkFlags::FAN_MARK_MOUNT))
            .map_err(|e| RuntimeError::Watcher(format!("fanotify_mark {path:?}: {e}")))?;
        self.marked.insert(dev);
        Ok(true)
    }

    /// Also queues files closed after writing under `root` (see the module doc). Returns
    /// whether a new filesystem mark was added.
    pub fn watch_writes(&mut self, root: &Path) -> Result<bool, RuntimeError> {
        let io = |source| RuntimeError::Io {
            path: root.to_path_buf(),
            source,
        };
        // Event paths come from `/proc/self/fd` links: canonical.
        let canonical = std::fs::canonicalize(root).map_err(io)?;
        let dev = std::fs::metadata(&canonical).map_err(io)?.dev();
        if !self.write_roots.contains(&canonical) {
            self.write_roots.push(canonical);
        }
        if self.write_marked.contains(&dev) {
            return Ok(false);
        }
        let mark = |flags: MarkFlags| {
            self.fan.mark(
                MarkFlags::FAN_MARK_ADD | flags,
                MaskFlags::FAN_CLOSE_WRITE,
                nix::fcntl::AT_FDCWD,
                Some(root),
            )
        };
        mark(MarkFlags::FAN_MARK_FILESYSTEM)
            .or_else(|_| mark(MarkFlags::FAN_MARK_MOUNT))
            .map_err(|e| RuntimeError::Watcher(format!("fanotify_mark {root:?}: {e}")))?;
        self.write_marked.insert(dev);
        Ok(true)
    }

    /// Files closed after writing under the roots of [`Watcher::watch_writes`] since the last
    /// call (distinct, unordered).
    pub fn take_writes(&mut self) -> Vec<PathBuf> {
        self.writes.drain().collect()
    }

    /// Waits up to `timeout` for events and handles every event queued. Returns the number
    /// of events handled.
    pub fn poll(&mut self, timeout: Duration) -> Result<usize, RuntimeError> {
        let ready = {
            let mut fds = [PollFd::new(self.fan.as_fd(), PollFlags::POLLIN)];
            let timeout = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, timeout) {
                Ok(n) => n > 0,
                Err(Errno::EINTR) => false,
                Err(e) => return Err(RuntimeError::Watcher(format!("poll: {e}"))),
            }
        };
        if !ready {
            return Ok(0);
        }
        let mut handled = 0;
        loop {
            let events = match self.fan.read_events() {
                Ok(events) => events,
                Err(Errno::EAGAIN | Errno::EINTR) => break,
                Err(e) => return Err(RuntimeError::Watcher(format!("read: {e}"))),
            };
            if events.is_empty() {
                break;
            }
            for event in events {
                handled += 1;
                self.stats.events += 1;
                let Some(fd) = event.fd() else {
                    // FAN_Q_OVERFLOW: the kernel dropped events; the next sweep of maps/fds
                    // still sees what is held open.
                    self.stats.overflows += 1;
                    continue;
                };
                let pid = event.pid();
                let Ok(pid) = Pid::try_from(pid) else {
                    continue;
                };
                if pid == self.own_pid {
                    continue;
                }
                let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
                if let Ok(path) = std::fs::read_link(&link) {
                    let mask = event.mask();
                    if mask.contains(MaskFlags::FAN_CLOSE_WRITE) {
                        self.handle_write(&path);
                    }
                    if mask.contains(MaskFlags::FAN_OPEN) {
                        self.handle_open(pid, path);
                    }
                }
                // The event (and its fd) is dropped, closing the fd, here.
            }
        }
        Ok(handled)
    }

    /// Polls until `duration` has passed, reaping exited processes about once a second.
    pub fn run_for(&mut self, duration: Duration) -> Result<(), RuntimeError> {
        // A duration past what `Instant` can hold means "practically forever".
        let far = Duration::from_secs(100 * 365 * 24 * 3600);
        let start = Instant::now();
        let end = start.checked_add(duration.min(far)).unwrap_or(start);
        let mut last_reap = Instant::now();
        loop {
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            self.poll((end - now).min(Duration::from_millis(200)))?;
            if last_reap.elapsed() >= Duration::from_secs(1) {
                self.reap();
                last_reap = Instant::now();
            }
        }
    }

    fn handle_write(&mut self, path: &Path) {
        if !self.write_roots.iter().any(|root| path.starts_with(root)) {
            return;
        }
        self.stats.writes += 1;
        if self.writes.len() < MAX_WRITES {
            self.writes.insert(path.to_path_buf());
        }
    }

    fn handle_open(&mut self, pid: Pid, path: PathBuf) {
        if !may_be_in_package(path.as_os_str().as_encoded_bytes()) {
            return;
        }
        self.stats.candidates += 1;
        if is_package_metadata(&path) {
            self.stats.not_loads += 1;
            return;
        }
        if !self.processes.contains_key(&pid) {
            if self.processes.len() >= self.limits.max_processes {
                self.stats.dropped += 1;
                return;
            }
            let Some(stat) = self
                .procfs
                .read(pid, "stat")
                .ok()
                .and_then(|b| Stat::parse(&b))
            else {
                self.stats.vanished += 1;
                return;
            };
            let mnt = self
                .procfs
                .readlink(pid, "ns/mnt")
                .ok()
                .and_then(|t| parse_ns_link(&t));
            let runs = Runs::of(&self.procfs, pid);
            self.processes.insert(
                pid,
                WatchedProcess {
                    start_time: stat.start_time,
                    mnt,
                    packages: HashMap::new(),
                    runs: (runs, Instant::now()),
                },
            );
        }
        let Some(state) = self.processes.get(&pid) else {
            return;
        };
        let fs_root = self.procfs.pid_path(pid, "root");
        let Some(owner) = self.resolver.resolve(&fs_root, state.mnt, &path) else {
            return;
        };
        let Some(state) = self.processes.get_mut(&pid) else {
            return;
        };
        if state.packages.contains_key(&owner.root) {
            return;
        }
        let ecosystem = &owner.component.ecosystem;
        if !state.runs.0.runs(ecosystem) {
            if state.runs.1.elapsed() >= Duration::from_secs(1) {
                state.runs = (Runs::of(&self.procfs, pid), Instant::now());
            }
            if !state.runs.0.runs(ecosystem) {
                self.stats.not_loads += 1;
                return;
            }
        }
        if state.packages.len() >= self.limits.max_packages_per_process {
            self.stats.dropped += 1;
            return;
        }
        state
            .packages
            .insert(owner.root.clone(), (owner.clone(), path.clone()));
        self.stats.observations += 1;
        if self.pending.len() >= self.limits.max_pending {
            self.pending.pop_front();
            self.stats.dropped += 1;
        }
        self.pending.push_back(Observation {
            pid,
            start_time: state.start_time,
            owner,
            path,
        });
    }

    /// Drops the state of processes that exited or whose pid now names another process.
    /// Returns how many were dropped.
    pub fn reap(&mut self) -> usize {
        let before = self.processes.len();
        let procfs = &self.procfs;
        self.processes
            .retain(|pid, state| still_running(procfs, *pid, state.start_time));
        before - self.processes.len()
    }

    /// What the watcher knows about `pid`.
    pub fn process(&self, pid: Pid) -> Option<&WatchedProcess> {
        self.processes.get(&pid)
    }

    /// Number of processes tracked.
    pub fn tracked(&self) -> usize {
        self.processes.len()
    }

    /// First opens of packages since the last call, oldest first: the incremental feed the
    /// agent forwards.
    pub fn take_observations(&mut self) -> Vec<Observation> {
        self.pending.drain(..).collect()
    }

    /// Forgets the package metadata read so far (see [`OwnerResolver::clear`]); what each
    /// process loaded is kept.
    pub fn forget_owners(&mut self) {
        self.resolver.clear();
    }

    /// Counters.
    pub fn stats(&self) -> WatcherStats {
        self.stats
    }
}

/// Whether a path can be inside a package slot: the cheap filter every event passes through.
fn may_be_in_package(path: &[u8]) -> bool {
    const NEEDLES: [&[u8]; 2] = [b"/node_modules/", b"-packages/"];
    let archive = path.len() >= 4
        && path.get(path.len() - 4..).is_some_and(|ext| {
            [b".jar", b".war", b".ear"]
                .iter()
                .any(|a| ext.eq_ignore_ascii_case(*a))
        });
    archive
        || NEEDLES
            .iter()
            .any(|n| path.windows(n.len()).any(|w| w == *n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_core::{Component, Ecosystem, EcosystemKind};

    #[test]
    fn merge_keeps_strongest_evidence_per_file() {
        let owner = |root: &str| {
            Arc::new(Owner {
                component: Component::new(Ecosystem::new(EcosystemKind::Npm), root, "1.0.0"),
                root: PathBuf::from(root),
                manifest: PathBuf::from(root).join("package.json"),
                source: crate::owner::OwnerSource::PackageJson,
                bundled: Vec::new(),
            })
        };
        let pkg = |root: &str, files: &[(&str, LoadedVia)]| LoadedPackage {
            owner: owner(root),
            files: files
                .iter()
                .map(|(p, via)| LoadedFile {
                    path: PathBuf::from(p),
                    via: *via,
                    deleted: false,
                })
                .collect(),
        };
        let snapshot = vec![pkg("/nm/a", &[("/nm/a/x.node", LoadedVia::Mapped)])];
        let observed = vec![
            pkg(
                "/nm/a",
                &[
                    ("/nm/a/x.node", LoadedVia::Observed),
                    ("/nm/a/i.js", LoadedVia::Observed),
                ],
            ),
            pkg("/nm/b", &[("/nm/b/i.js", LoadedVia::Observed)]),
        ];
        let merged = merge_loaded(snapshot, observed);
        let got: Vec<(String, Vec<(String, LoadedVia)>)> = merged
            .iter()
            .map(|p| {
                (
                    p.owner.root.display().to_string(),
                    p.files
                        .iter()
                        .map(|f| (f.path.display().to_string(), f.via))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "/nm/a".to_string(),
                    vec![
                        ("/nm/a/x.node".to_string(), LoadedVia::Mapped),
                        ("/nm/a/i.js".to_string(), LoadedVia::Observed)
                    ]
                ),
                (
                    "/nm/b".to_string(),
                    vec![("/nm/b/i.js".to_string(), LoadedVia::Observed)]
                ),
            ]
        );
    }

    #[test]
    fn candidate_filter() {
        let cases: &[(&str, bool)] = &[
            ("/app/node_modules/debug/src/index.js", true),
            ("/venv/lib/python3.11/site-packages/x/__init__.py", true),
            ("/usr/lib/python3/dist-packages/yaml/__init__.py", true),
            ("/opt/lib/app-1.0.jar", true),
            ("/opt/lib/APP.WAR", true),
            ("/etc/passwd", false),
            ("/usr/lib/x86_64-linux-gnu/libc.so.6", false),
            ("/node_modules", false),
            ("", false),
        ];
        for (path, want) in cases {
            assert_eq!(may_be_in_package(path.as_bytes()), *want, "{path}");
        }
    }
}
