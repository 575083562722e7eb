//! [`LiveProcesses`]: the process half of a *continuously running* agent (`vigil up`,
//! `vigil agent`), on the same parts as the one-shot [`crate::scan_processes`].
//!
//! The one-shot scan sweeps, watches for a window and stops. An agent sweeps on its interval
//! and keeps a fanotify [`Watcher`] armed between sweeps, on a thread of its own:
//!
//! - [`LiveProcesses::sweep`] reads every process as the one-shot scan does (fresh metadata
//!   caches each time, so packages installed or upgraded since show), then re-applies what
//!   the watcher saw the *live* processes open since they started — pure-JS and pure-Python
//!   packages are opened and closed, invisible to the sweep, and must not fall back from
//!   `LOADED` to `INSTALLED` at the next interval. It hands the filesystems of every package
//!   root found to the watcher and waits (briefly) until they are marked, so nothing opened
//!   after a sweep returns is missed.
//! - [`LiveProcesses::update`] applies only the watcher's *new* observations (first opens of
//!   a package by a process) to the last sweep — reading just the processes the sweep did not
//!   know — so an agent can report a load within a second without sweeping the host again.
//!
//! With [`LiveOptions::write_paths`] the watcher also sees files closed after writing under
//! those paths (`FAN_CLOSE_WRITE`); when one is a file the inventory reads (a collector of
//! vigil-inventory's registry claims it), [`LiveProcesses::take_written`] turns true so the
//! agent rescans its paths — at most once per [`WRITE_GAP`], so an `npm install` of a
//! thousand packages is a few rescans, not a thousand.
//!
//! The watcher thread also checks, about once a second, that the processes the last view
//! reported as loading a package still run; when one exited, [`LiveProcesses::take_exited`]
//! turns true so the agent sweeps again at once instead of reporting a dead process as
//! `LOADED` until its next interval — at most once per [`EXIT_GAP`], so a host running many
//! short-lived node processes costs a sweep every few seconds, not one per exit.
//!
//! The watcher thread calls the agent's `on_change` whenever it queued observations; the
//! agent decides when to call [`LiveProcesses::update`] (debounced, rate-limited). Without
//! root (fanotify refused) there is no thread: sweeps only, and [`LiveProcesses::watching`]
//! says why.
//!
//! Memory: the observations kept per process are the watcher's, within its
//! [`vigil_runtime::WatcherLimits`]; those of exited processes are dropped about once a second.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use vigil_report::ScanError as ReportError;
use vigil_runtime::{
    ContainerIdentity, Discovery, DiscoveryOptions, Observation, OwnerResolver, Pid, Process,
    ProcfsRoot, Socket, TcpState, Watcher, WatcherLimits, WatcherStats, still_running,
};

use crate::processes::{Namespace, ProcessScanFailure, Run, arm};
use crate::sighting::Sighting;

/// A process as the agent reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveProcess {
    /// Process id.
    pub pid: Pid,
    /// Start time in clock ticks since boot (with the pid, its identity).
    pub start_ticks: u64,
    /// Executable.
    pub exe: Option<String>,
    /// Command line, arguments joined by spaces.
    pub cmdline: String,
    /// User name, else uid.
    pub user: Option<String>,
    /// The runtime id of its container.
    pub container_id: Option<String>,
    /// Its listening TCP sockets (filled by a sweep for the processes that load a package:
    /// what makes a loaded malicious package reachable from the network).
    pub listening: Vec<Socket>,
}

impl LiveProcess {
    pub(crate) fn of(process: &Process) -> LiveProcess {
        LiveProcess {
            pid: process.pid,
            start_ticks: process.start_time,
            exe: process.exe.as_ref().map(|e| e.display().to_string()),
            cmdline: process.cmdline.args.join(" "),
            user: process
                .user
                .clone()
                .or_else(|| process.uid.map(|u| u.to_string())),
            container_id: process.container.as_ref().and_then(|c| c.id.clone()),
            listening: listeners(process),
        }
    }
}

/// The processes a run saw loading a package (with repeats): the ones an agent reports.
fn loading_pids(run: &Run) -> impl Iterator<Item = Pid> + '_ {
    run.sightings
        .values()
        .flat_map(|s| s.processes.iter().map(|p| p.pid))
}

fn listeners(process: &Process) -> Vec<Socket> {
    process
        .sockets
        .iter()
        .filter(|s| s.state == TcpState::Listen)
        .cloned()
        .collect()
}

/// A container's mount namespace, as met in a sweep.
#[derive(Clone, Debug)]
pub struct LiveNamespace {
    /// How its locations are labelled (the short container id, …).
    pub label: String,
    /// Who the container is.
    pub container: ContainerIdentity,
}

/// What the processes look like now.
#[derive(Debug, Default)]
pub struct LiveView {
    /// Components loaded by or installed for the processes, one per (component, location).
    pub sightings: Vec<Sighting>,
    /// The processes read, by pid.
    pub processes: HashMap<Pid, LiveProcess>,
    /// Containers met, by mount-namespace inode (the `namespace` of a [`crate::Location`]).
    pub namespaces: HashMap<u64, LiveNamespace>,
    /// Files in application roots that could not be read or parsed.
    pub errors: Vec<ReportError>,
    /// Limited visibility (one line).
    pub warnings: Vec<String>,
    /// Boot time (seconds since the epoch), to turn start ticks into wall-clock times.
    pub boot_time: Option<u64>,
}

/// What [`LiveProcesses`] looks at.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// The `/proc` to read (the live one by default).
    pub procfs: ProcfsRoot,
    /// Arm a fanotify watcher (needs root).
    pub watch: bool,
    /// Further paths whose filesystems the watcher marks (the agent's configured paths).
    pub watch_paths: Vec<PathBuf>,
    /// Paths under which a package file written is a change ([`LiveProcesses::take_written`]).
    pub write_paths: Vec<PathBuf>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            procfs: ProcfsRoot::system(),
            watch: true,
            watch_paths: Vec::new(),
            write_paths: Vec::new(),
        }
    }
}

/// The running processes of this host, swept on demand and watched in between. See the
/// module doc.
pub struct LiveProcesses {
    procfs: ProcfsRoot,
    discovery: Discovery,
    run: Option<Run>,
    watch: Result<WatchThread, String>,
    watch_paths: Vec<PathBuf>,
    boot_time: Option<u64>,
    on_change: Arc<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for LiveProcesses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveProcesses")
            .field("procfs", &self.procfs)
            .field("watching", &self.watch.is_ok())
            .finish_non_exhaustive()
    }
}

impl LiveProcesses {
    /// Starts watching (when `options.watch` and fanotify is available); `on_change` is
    /// called from the watcher's thread whenever new observations are queued.
    pub fn new(options: LiveOptions, on_change: Arc<dyn Fn() + Send + Sync>) -> LiveProcesses {
        let discovery = Discovery::with_options(
            options.procfs.clone(),
            DiscoveryOptions {
                include_kernel_threads: false,
                sockets: false,
            },
        );
        let watch = if options.watch {
            Watcher::with(
                options.procfs.clone(),
                OwnerResolver::default(),
                WatcherLimits::default(),
            )
            .map(|mut w| {
                // Before the thread starts: a write right after `new` returns is seen.
                let write_warning = watch_writes(&mut w, &options.write_paths);
                let thread = WatchThread::start(w, options.procfs.clone(), Arc::clone(&on_change));
                thread.shared().write_warning = write_warning;
                thread
            })
            .map_err(|e| e.to_string())
        } else {
            Err("watching is off".to_owned())
        };
        LiveProcesses {
            boot_time: options.procfs.boot_time(),
            procfs: options.procfs,
            discovery,
            run: None,
            watch,
            watch_paths: options.watch_paths,
            on_change,
        }
    }

    /// `Ok` while the watcher runs; else why there is none (or why it stopped).
    pub fn watching(&self) -> Result<(), String> {
        match &self.watch {
            Ok(thread) => match thread.shared().failed.clone() {
                Some(why) => Err(why),
                None => Ok(()),
            },
            Err(why) => Err(why.clone()),
        }
    }

    /// Whether a package file was written under the write paths since the last call.
    pub fn take_written(&self) -> bool {
        self.watch
            .as_ref()
            .is_ok_and(|t| std::mem::take(&mut t.shared().written))
    }

    /// Whether a process the last view reported loading a package has exited since the last
    /// call (see [`EXIT_GAP`]).
    pub fn take_exited(&self) -> bool {
        self.watch
            .as_ref()
            .is_ok_and(|t| std::mem::take(&mut t.shared().exited))
    }

    /// Raises the "exited" change again (and calls the agent back), for an agent that took it
    /// while quicker work was pending: the load or write is reported first, the sweep in the
    /// next pass.
    pub fn defer_exited(&self) {
        if let Ok(thread) = &self.watch {
            thread.shared().exited = true;
            (self.on_change)();
        }
    }

    /// The processes as the last sweep (and updates) left them, without reading anything.
    pub fn current(&self) -> Option<LiveView> {
        self.run.as_ref().map(|run| self.view(run))
    }

    /// The watcher's counters.
    pub fn watcher_stats(&self) -> Option<WatcherStats> {
        self.watch.as_ref().ok().map(|t| t.shared().stats)
    }

    /// Reads every process afresh (see the module doc).
    pub fn sweep(&mut self) -> Result<LiveView, ProcessScanFailure> {
        let mut run = Run::new(self.procfs.clone());
        let mut sweep = self.discovery.sweep()?;
        if let Some(degradation) = sweep.degradation() {
            run.warnings.push(degradation.to_string());
        }
        let mut roots = self.watch_paths.clone();
        for process in &sweep.processes {
            run.visit(process, &mut roots);
        }
        if let Ok(thread) = &self.watch {
            // Everything the live processes were seen opening; what is queued is covered.
            let known: Vec<Observation> = {
                let mut shared = thread.shared();
                shared.pending.clear();
                shared
                    .loaded
                    .values()
                    .flat_map(|(_, o)| o.clone())
                    .collect()
            };
            for observation in &known {
                apply(&mut self.discovery, &mut run, observation, &mut roots);
            }
            thread.forget_owners();
            if let Some(warning) = thread.watch(roots, Some(Duration::from_secs(2))) {
                run.warnings.push(warning);
            }
            if let Some(warning) = thread.shared().write_warning.take() {
                run.warnings.push(warning);
            }
        }
        // Sockets only for the processes reported (those that load a package): the sweep
        // itself leaves them out, as a readlink per open fd of every process would double its
        // cost for sockets nobody asks about.
        let reported: HashSet<Pid> = loading_pids(&run).collect();
        let joined: Vec<&mut Process> = sweep
            .processes
            .iter_mut()
            .filter(|p| reported.contains(&p.pid))
            .collect();
        self.discovery.join_sockets(joined);
        for process in sweep.processes.iter().filter(|p| !p.sockets.is_empty()) {
            if let Some(details) = run.details.get_mut(&process.pid) {
                details.listening = listeners(process);
            }
        }
        let view = self.view(&run);
        self.run = Some(run);
        Ok(view)
    }

    /// Applies the watcher's new observations to the last sweep; `None` when there are none
    /// (or no sweep ran yet: the first sweep will include them).
    pub fn update(&mut self) -> Option<LiveView> {
        let thread = self.watch.as_ref().ok()?;
        let run = self.run.as_mut()?;
        let observations: Vec<Observation> = thread.shared().pending.drain(..).collect();
        if observations.is_empty() {
            return None;
        }
        let mut roots = Vec::new();
        for observation in &observations {
            apply(&mut self.discovery, run, observation, &mut roots);
        }
        if !roots.is_empty() {
            // New processes' roots: marked in the background.
            let _ = thread.watch(roots, None);
        }
        let run = self.run.as_ref()?;
        Some(self.view(run))
    }

    fn view(&self, run: &Run) -> LiveView {
        if let Ok(thread) = &self.watch {
            thread.shared().reported = loading_pids(run)
                .filter_map(|pid| run.details.get(&pid))
                .map(|d| (d.pid, d.start_ticks))
                .collect();
        }
        let mut sightings: Vec<Sighting> = run.sightings.values().cloned().collect();
        sightings.sort_by(|a, b| (&a.location, &a.component).cmp(&(&b.location, &b.component)));
        LiveView {
            sightings,
            processes: run.details.clone(),
            namespaces: run
                .containers
                .iter()
                .map(
                    |(mnt, (ns, container)): (&u64, &(Namespace, ContainerIdentity))| {
                        (
                            *mnt,
                            LiveNamespace {
                                label: ns.label.clone(),
                                container: container.clone(),
                            },
                        )
                    },
                )
                .collect(),
            errors: run
                .errors
                .iter()
                .map(|(path, reason)| ReportError {
                    path: path.clone(),
                    reason: reason.clone(),
                    line: None,
                    field: None,
                })
                .collect(),
            warnings: run.warnings.clone(),
            boot_time: self.boot_time,
        }
    }
}

/// Applies one observation to `run`: a process the run did not see (started since the sweep)
/// is read first — and skipped when it is already gone, so nothing is attributed to a dead
/// or re-used pid.
fn apply(
    discovery: &mut Discovery,
    run: &mut Run,
    observation: &Observation,
    roots: &mut Vec<PathBuf>,
) {
    if !run.knows(observation.pid, observation.start_time) {
        match discovery.process(observation.pid) {
            Ok(Some(process)) if process.start_time == observation.start_time => {
                run.visit(&process, roots);
            }
            _ => return,
        }
    }
    run.observed(observation.pid, observation.start_time, &observation.owner);
}

/// What the watcher thread shares with the agent.
#[derive(Default)]
struct Shared {
    /// New observations since the last [`LiveProcesses::update`] or sweep.
    pending: Vec<Observation>,
    /// Every observation of each live process (pid → (start time, observations)).
    loaded: HashMap<Pid, (u64, Vec<Observation>)>,
    stats: WatcherStats,
    /// Why the watcher stopped, if it did.
    failed: Option<String>,
    /// A package file was written under the write paths (see [`WRITE_GAP`]).
    written: bool,
    /// Why some write paths are not watched (reported once, with the first sweep).
    write_warning: Option<String>,
    /// The processes the last view reported loading a package (pid → start time).
    reported: HashMap<Pid, u64>,
    /// One of them exited (see [`EXIT_GAP`]).
    exited: bool,
}

/// Least time between two "package files written" changes: each makes the agent rescan its
/// paths, which may take a while.
pub const WRITE_GAP: Duration = Duration::from_secs(2);

/// Least time between two "a reported process exited" changes: each makes the agent sweep
/// every process again (a tenth of a second or so of CPU on a busy host).
pub const EXIT_GAP: Duration = Duration::from_secs(5);

/// Marks `paths` for writes; a warning line when some could not be.
fn watch_writes(watcher: &mut Watcher, paths: &[PathBuf]) -> Option<String> {
    let failures: Vec<String> = paths
        .iter()
        .filter_map(|p| watcher.watch_writes(p).err().map(|e| e.to_string()))
        .collect();
    let first = failures.first()?;
    Some(format!(
        "{} path(s) not watched for new packages (first: {first}); they are rescanned on the interval",
        failures.len()
    ))
}

/// Whether the inventory reads `path` (some collector claims it).
fn inventoried(registry: &vigil_inventory::Registry, path: &std::path::Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.as_encoded_bytes())
        .unwrap_or_default();
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.as_encoded_bytes())
        .unwrap_or_default();
    let mut claimed = false;
    registry.for_each_claimant(path, name, parent, |_| claimed = true);
    claimed
}

enum Request {
    /// Mark the filesystems of these paths; answer with a warning line, if any.
    Watch(Vec<PathBuf>, Option<mpsc::Sender<Option<String>>>),
    /// Drop the metadata cache.
    ForgetOwners,
}

/// The watcher, polled on a thread of its own.
struct WatchThread {
    shared: Arc<Mutex<Shared>>,
    requests: mpsc::Sender<Request>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
    /// Paths already handed to the watcher (marks are per filesystem; this saves the stats).
    sent: Mutex<HashSet<PathBuf>>,
}

/// Most observations queued for [`LiveProcesses::update`]; beyond, the oldest are dropped
/// (the next sweep re-applies them from the per-process record).
const MAX_PENDING: usize = 100_000;

impl WatchThread {
    fn start(
        mut watcher: Watcher,
        procfs: ProcfsRoot,
        on_change: Arc<dyn Fn() + Send + Sync>,
    ) -> WatchThread {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (requests, inbox) = mpsc::channel::<Request>();
        let handle = {
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("vigil-watcher".to_owned())
                .spawn(move || {
                    let lock = || shared.lock().unwrap_or_else(PoisonError::into_inner);
                    let mut last_reap = Instant::now();
                    let registry = vigil_inventory::Registry::with_default_collectors();
                    let mut written = false;
                    let mut last_written: Option<Instant> = None;
                    let mut exited = false;
                    let mut last_exited: Option<Instant> = None;
                    while !stop.load(Ordering::Relaxed) {
                        while let Ok(request) = inbox.try_recv() {
                            match request {
                                Request::Watch(paths, reply) => {
                                    let mut warnings = Vec::new();
                                    arm(&mut watcher, &paths, &mut warnings);
                                    if let Some(reply) = reply {
                                        let _ = reply.send(warnings.into_iter().next());
                                    }
                                }
                                Request::ForgetOwners => watcher.forget_owners(),
                            }
                        }
                        if let Err(e) = watcher.poll(Duration::from_millis(50)) {
                            lock().failed = Some(e.to_string());
                            return;
                        }
                        let writes = watcher.take_writes();
                        written |= writes.iter().any(|p| inventoried(&registry, p));
                        if written && last_written.is_none_or(|t| t.elapsed() >= WRITE_GAP) {
                            written = false;
                            last_written = Some(Instant::now());
                            lock().written = true;
                            on_change();
                        }
                        let observations = watcher.take_observations();
                        if !observations.is_empty() {
                            {
                                let mut shared = lock();
                                for o in &observations {
                                    let entry = shared
                                        .loaded
                                        .entry(o.pid)
                                        .or_insert_with(|| (o.start_time, Vec::new()));
                                    if entry.0 != o.start_time {
                                        *entry = (o.start_time, Vec::new());
                                    }
                                    entry.1.push(o.clone());
                                }
                                shared.pending.extend(observations);
                                let excess = shared.pending.len().saturating_sub(MAX_PENDING);
                                shared.pending.drain(..excess);
                                shared.stats = watcher.stats();
                            }
                            on_change();
                        }
                        if last_reap.elapsed() >= Duration::from_secs(1) {
                            last_reap = Instant::now();
                            watcher.reap();
                            let mut shared = lock();
                            shared.loaded.retain(|pid, (start, _)| {
                                watcher
                                    .process(*pid)
                                    .is_some_and(|p| p.start_time == *start)
                            });
                            let before = shared.reported.len();
                            shared
                                .reported
                                .retain(|pid, start| still_running(&procfs, *pid, *start));
                            exited |= shared.reported.len() < before;
                            shared.stats = watcher.stats();
                        }
                        if exited && last_exited.is_none_or(|t| t.elapsed() >= EXIT_GAP) {
                            exited = false;
                            last_exited = Some(Instant::now());
                            lock().exited = true;
                            on_change();
                        }
                    }
                })
        };
        let (handle, failed) = match handle {
            Ok(h) => (Some(h), None),
            Err(e) => (None, Some(format!("cannot start the watcher thread: {e}"))),
        };
        if let Some(why) = failed {
            shared.lock().unwrap_or_else(PoisonError::into_inner).failed = Some(why);
        }
        WatchThread {
            shared,
            requests,
            stop,
            handle,
            sent: Mutex::new(HashSet::new()),
        }
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn forget_owners(&self) {
        let _ = self.requests.send(Request::ForgetOwners);
    }

    /// Hands `paths` not handed before to the watcher; with `wait`, waits (that long at
    /// most) until they are marked and returns the warning line, if any.
    fn watch(&self, paths: Vec<PathBuf>, wait: Option<Duration>) -> Option<String> {
        let fresh: Vec<PathBuf> = {
            let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
            // Per-process paths (`/proc/PID/root/…`) come and go: bound the memory.
            if sent.len() > 100_000 {
                sent.clear();
            }
            let unique: BTreeSet<PathBuf> = paths.into_iter().collect();
            unique
                .into_iter()
                .filter(|p| sent.insert(p.clone()))
                .collect()
        };
        if fresh.is_empty() {
            return None;
        }
        match wait {
            None => {
                let _ = self.requests.send(Request::Watch(fresh, None));
                None
            }
            Some(wait) => {
                let (tx, rx) = mpsc::channel();
                if self.requests.send(Request::Watch(fresh, Some(tx))).is_err() {
                    return None;
                }
                rx.recv_timeout(wait).ok().flatten()
            }
        }
    }
}

impl Drop for WatchThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
