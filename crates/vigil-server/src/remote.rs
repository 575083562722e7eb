//! `vigil agent`: the agent alone, reporting to a server over HTTP.
//!
//! Each pass collects this host's inventory with the same [`Collector`] the local agent of
//! `vigil up` uses — on the interval, and (with `[agent] processes` and root) as a *watch
//! pass* within a second of a process loading a package not reported yet, paced by
//! [`crate::agent::WatchPacing`] — then:
//!
//! - the first pass (and any pass after a snapshot was refused) is a **full** snapshot;
//!   later passes are **deltas** against the *spooled state*: what the server will hold once
//!   everything already in the spool is delivered (the last acknowledged snapshot when the
//!   spool is empty). Deltas therefore apply in order and interim states are never lost.
//!   A pass that changes nothing sends nothing.
//! - the snapshot gets the next **sequence number**, persisted in `<data-dir>/state.json`
//!   before the snapshot is written, never below the wall clock in milliseconds, so a
//!   restarted agent never re-uses a number;
//! - it is written, gzip-compressed, to the **spool** (`<data-dir>/spool/<sequence>.<kind>.json.gz`,
//!   written to a temporary file and renamed) and only then sent; a spooled snapshot is
//!   deleted once the server answered `200` (applied or `duplicate`: the server applies each
//!   (host, sequence) at most once, so a re-send after a crash or timeout is harmless).
//!
//! Delivery goes oldest first. A transport error, `5xx`, `408`, `429`, `401` or `403` keeps the
//! snapshot and retries with exponential backoff and full jitter (`base · 2^n`, capped); any
//! other refusal (`400`, `413`, `415`) can never succeed, so the snapshot is dropped with a
//! log line and the next pass sends a full snapshot to resynchronize.
//!
//! The spool is **bounded** ([`SpoolLimits`]: snapshots and bytes). When a new delta would
//! overflow it, the agent sends a full snapshot instead, which supersedes everything older:
//! those files are deleted. The spool thus never holds more than its bound, or one full
//! snapshot when a single full is larger than the byte bound.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use vigil_core::Component;
use vigil_store::{
    ContainerInfo, HostInfo, InstanceInput, InstanceKey, ProcessInfo, Removals, Snapshot,
    SnapshotKind,
};

use crate::agent::{Collected, Collector, Scanner, WatchPacing, take_sequence, this_host};
use crate::client::{Client, ClientError};
use crate::config::AgentSection;
use crate::snapshot::AgentSnapshot;

/// Bounds of the on-disk spool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpoolLimits {
    /// Most snapshots held.
    pub max_snapshots: usize,
    /// Most bytes held (compressed).
    pub max_bytes: u64,
}

impl Default for SpoolLimits {
    fn default() -> Self {
        SpoolLimits {
            max_snapshots: 1000,
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Retry timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffSettings {
    /// The first delay.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for BackoffSettings {
    fn default() -> Self {
        BackoffSettings {
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}

/// Everything `vigil agent` needs.
#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// The server's base URL.
    pub server: String,
    /// More servers to fail over to (replicas sharing one store, see `docs/agent-api.md`):
    /// when the current one cannot take a snapshot, the next is tried at once, before backing
    /// off. Sequences are per host, and every replica applies each (host, sequence) once, so a
    /// snapshot re-sent to another replica is never applied twice.
    pub fallback_servers: Vec<String>,
    /// An `ingest` token.
    pub token: String,
    /// Where the spool and the sequence state live.
    pub data_dir: PathBuf,
    /// `[agent]`: paths, interval, sweep, host name.
    pub settings: AgentSection,
    /// Spool bounds.
    pub spool: SpoolLimits,
    /// Retry timing.
    pub backoff: BackoffSettings,
}

/// Why the agent could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The data directory (spool, state) could not be used.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("{0}")]
    Client(String),
    /// The state file is damaged.
    #[error("{}: {reason}", path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AgentError + '_ {
    move |source| AgentError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` durably: a temporary file, fsync, rename, fsync of the directory.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AgentError> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// One spooled snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpoolEntry {
    /// Its sequence number.
    pub sequence: u64,
    /// A full snapshot.
    pub full: bool,
    /// Its file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// The on-disk spool of unsent snapshots, oldest first.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    limits: SpoolLimits,
    entries: Vec<SpoolEntry>,
}

impl Spool {
    /// Opens (creating) the spool in `dir`, dropping temporary files left by a crash.
    pub fn open(dir: &Path, limits: SpoolLimits) -> Result<Spool, AgentError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut entries = Vec::new();
        for item in std::fs::read_dir(dir).map_err(io(dir))? {
            let item = item.map_err(io(dir))?;
            let path = item.path();
            let name = item.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let mut parts = name.splitn(2, '.');
            let (Some(seq), Some(rest)) = (parts.next(), parts.next()) else {
                continue;
            };
            let full = match rest {
                "full.json.gz" => true,
                "delta.json.gz" => false,
                _ => continue,
            };
            let Ok(sequence) = seq.parse::<u64>() else {
                continue;
            };
            let bytes = item.metadata().map(|m| m.len()).unwrap_or(0);
            entries.push(SpoolEntry {
                sequence,
                full,
                path,
                bytes,
            });
        }
        entries.sort_by_key(|e| e.sequence);
        Ok(Spool {
            dir: dir.to_path_buf(),
            limits,
            entries,
        })
    }

    /// The snapshots held, oldest first.
    pub fn entries(&self) -> &[SpoolEntry] {
        &self.entries
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.bytes).sum()
    }

    /// The highest sequence held.
    pub fn last_sequence(&self) -> Option<u64> {
        self.entries.last().map(|e| e.sequence)
    }

    /// Whether one more snapshot of `len` bytes would exceed the bounds.
    pub fn would_overflow(&self, len: u64) -> bool {
        self.entries.len() >= self.limits.max_snapshots
            || self.bytes().saturating_add(len) > self.limits.max_bytes
    }

    /// Adds a snapshot. `supersede` (only for a full snapshot) deletes everything older.
    pub fn push(
        &mut self,
        sequence: u64,
        full: bool,
        body: &[u8],
        supersede: bool,
    ) -> Result<(), AgentError> {
        let kind = if full { "full" } else { "delta" };
        let path = self.dir.join(format!("{sequence:020}.{kind}.json.gz"));
        write_atomic(&path, body)?;
        if supersede && full {
            for old in self.entries.drain(..) {
                let _ = std::fs::remove_file(&old.path);
            }
        }
        self.entries.push(SpoolEntry {
            sequence,
            full,
            path,
            bytes: u64::try_from(body.len()).unwrap_or(u64::MAX),
        });
        self.entries.sort_by_key(|e| e.sequence);
        Ok(())
    }

    /// Deletes the oldest snapshot (delivered or dropped).
    fn pop_front(&mut self) -> Result<(), AgentError> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let e = self.entries.remove(0);
        match std::fs::remove_file(&e.path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(AgentError::Io {
                path: e.path,
                source: err,
            }),
        }
    }
}

#[derive(Serialize, Deserialize, Default)]
struct State {
    next_sequence: u64,
}

/// Exponential backoff with full jitter.
#[derive(Debug)]
struct Backoff {
    settings: BackoffSettings,
    failures: u32,
}

impl Backoff {
    fn reset(&mut self) {
        self.failures = 0;
    }

    /// The delay before the next attempt: uniform in [d/2, d], d = min(max, base · 2^n).
    fn next_delay(&mut self) -> Duration {
        let factor = 1u32.checked_shl(self.failures.min(20)).unwrap_or(u32::MAX);
        self.failures = self.failures.saturating_add(1);
        let d = self
            .settings
            .base
            .saturating_mul(factor)
            .min(self.settings.max);
        let mut b = [0u8; 4];
        let r = if getrandom::fill(&mut b).is_ok() {
            f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
        } else {
            0.5
        };
        d.mul_f64(0.5 + r / 2.0)
    }
}

type Key = (Component, Option<String>, String);

fn key_of(i: &InstanceInput) -> Key {
    (i.component.clone(), i.container_id.clone(), i.path.clone())
}

/// A process's identity: (pid, start time in Unix milliseconds).
type ProcessKey = (u32, i64);

fn process_key(p: &ProcessInfo) -> ProcessKey {
    (p.pid, p.start_time.unix_millis())
}

/// What the server holds (once the spool is delivered).
#[derive(Debug, Default)]
struct Base {
    instances: HashMap<Key, InstanceInput>,
    processes: HashMap<ProcessKey, ProcessInfo>,
    containers: HashMap<String, ContainerInfo>,
}

impl Base {
    fn of(collected: &Collected) -> Base {
        Base {
            instances: collected
                .instances
                .iter()
                .map(|i| (key_of(i), i.clone()))
                .collect(),
            processes: collected
                .processes
                .iter()
                .map(|p| (process_key(p), p.clone()))
                .collect(),
            containers: collected
                .containers
                .iter()
                .map(|c| (c.id.clone(), c.clone()))
                .collect(),
        }
    }

    /// What changed from `self` to `now`: the added or changed items, and the removals.
    fn delta(
        &self,
        now: &Base,
    ) -> (
        Vec<InstanceInput>,
        Vec<ProcessInfo>,
        Vec<ContainerInfo>,
        Removals,
    ) {
        fn changed<K: std::hash::Hash + Eq + Ord + Clone, V: PartialEq + Clone>(
            before: &HashMap<K, V>,
            after: &HashMap<K, V>,
        ) -> (Vec<V>, Vec<K>) {
            let mut added: Vec<(&K, &V)> = after
                .iter()
                .filter(|(k, v)| before.get(*k) != Some(*v))
                .collect();
            added.sort_by(|a, b| a.0.cmp(b.0));
            let mut gone: Vec<K> = before
                .keys()
                .filter(|k| !after.contains_key(*k))
                .cloned()
                .collect();
            gone.sort();
            (added.into_iter().map(|(_, v)| v.clone()).collect(), gone)
        }
        let (instances, gone_instances) = changed(&self.instances, &now.instances);
        let (processes, gone_processes) = changed(&self.processes, &now.processes);
        let (containers, gone_containers) = changed(&self.containers, &now.containers);
        let removals = Removals {
            instances: gone_instances
                .into_iter()
                .map(|(component, container_id, path)| InstanceKey {
                    component,
                    container_id,
                    path,
                })
                .collect(),
            containers: gone_containers,
            processes: gone_processes
                .iter()
                .filter_map(|k| self.processes.get(k))
                .map(|p| (p.pid, p.start_time))
                .collect(),
        };
        (instances, processes, containers, removals)
    }
}

/// What one pass did.
#[derive(Debug, Default)]
pub struct PassReport {
    /// The sequence of the snapshot spooled, if one was (a pass that changes nothing spools
    /// nothing).
    pub sequence: Option<u64>,
    /// It was a full snapshot.
    pub full: bool,
    /// Instances listed (full) or added/changed (delta).
    pub instances: usize,
    /// Instances removed (delta).
    pub removed: usize,
    /// Processes listed (full) or added/changed (delta).
    pub processes: usize,
    /// Older spooled snapshots a full one superseded because the spool was full.
    pub superseded: usize,
    /// Scan problems.
    pub errors: Vec<String>,
}

/// Outcome of a delivery attempt.
#[derive(Debug, Default)]
pub struct Delivery {
    /// Snapshots the server accepted (applied or already applied).
    pub delivered: usize,
    /// Of those, the ones the server had already applied.
    pub duplicates: usize,
    /// Snapshots the server refused for good (dropped), with the server's reason.
    pub dropped: Vec<String>,
    /// Why delivery stopped early (the server is unreachable or busy), if it did.
    pub retry: Option<String>,
}

/// The remote agent.
pub struct RemoteAgent {
    /// One client per server, the primary first; `current` is the one in use.
    clients: Vec<Client>,
    current: usize,
    host: HostInfo,
    interval: Duration,
    collector: Collector,
    spool: Spool,
    state_path: PathBuf,
    next_sequence: u64,
    /// What the server holds once the spool is delivered; `None`: send a full snapshot next.
    base: Option<Base>,
    backoff: Backoff,
    pacing: WatchPacing,
}

impl std::fmt::Debug for RemoteAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteAgent")
            .field("host", &self.host.name)
            .field("spool", &self.spool)
            .finish_non_exhaustive()
    }
}

impl RemoteAgent {
    /// An agent for `options`, scanning with `scanner`. Reads the sequence state and the
    /// spool left by a previous run.
    pub fn new(
        options: RemoteOptions,
        scanner: Arc<dyn Scanner>,
    ) -> Result<RemoteAgent, AgentError> {
        let RemoteOptions {
            server,
            fallback_servers,
            token,
            data_dir,
            settings,
            spool,
            backoff,
        } = options;
        std::fs::create_dir_all(&data_dir).map_err(io(&data_dir))?;
        let spool = Spool::open(&data_dir.join("spool"), spool)?;
        let state_path = data_dir.join("state.json");
        let state: State = match std::fs::read(&state_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| AgentError::State {
                path: state_path.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(io(&state_path)(e)),
        };
        let next_sequence = state
            .next_sequence
            .max(spool.last_sequence().map_or(0, |s| s.saturating_add(1)));
        let clients = std::iter::once(&server)
            .chain(&fallback_servers)
            .map(|url| Client::new(url, Some(token.clone())))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AgentError::Client(e.to_string()))?;
        Ok(RemoteAgent {
            clients,
            current: 0,
            host: this_host(settings.host_name.clone(), "vigil-agent"),
            interval: settings.interval,
            collector: Collector::new(&settings, scanner),
            spool,
            state_path,
            next_sequence,
            base: None,
            backoff: Backoff {
                settings: backoff,
                failures: 0,
            },
            pacing: WatchPacing::default(),
        })
    }

    /// See [`Collector::watching`].
    pub fn watching(&self) -> Option<Result<(), String>> {
        self.collector.watching()
    }

    /// The host name reported.
    pub fn host_name(&self) -> &str {
        &self.host.name
    }

    /// The spool.
    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    fn allocate_sequence(&mut self) -> Result<u64, AgentError> {
        let seq = take_sequence(&mut self.next_sequence);
        let state = State {
            next_sequence: self.next_sequence,
        };
        let bytes = serde_json::to_vec(&state).map_err(|e| AgentError::State {
            path: self.state_path.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(&self.state_path, &bytes)?;
        Ok(seq)
    }

    /// The wire body of `snapshot`, brought within the server's bounds first (what had to be
    /// left out is added to `errors`).
    fn encode(snapshot: &Snapshot, errors: &mut Vec<String>) -> Result<Vec<u8>, AgentError> {
        let mut wire = AgentSnapshot::from_store(snapshot);
        errors.extend(wire.conform());
        let json = serde_json::to_vec(&wire)
            .map_err(|e| AgentError::Client(format!("cannot encode the snapshot: {e}")))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&json)
            .and_then(|()| gz.finish())
            .map_err(|e| AgentError::Client(format!("cannot compress the snapshot: {e}")))
    }

    /// Scans and spools one snapshot (full the first time, else the delta), without sending.
    pub fn snapshot(&mut self) -> Result<PassReport, AgentError> {
        let collected = self.collector.collect();
        self.spool_collected(collected)
    }

    /// A watch pass (see [`Collector::collect_changes`]) spooled as a delta; `None` when the
    /// watcher saw nothing new.
    pub fn snapshot_changes(&mut self) -> Option<Result<PassReport, AgentError>> {
        let collected = self.collector.collect_changes()?;
        Some(self.spool_collected(collected))
    }

    fn spool_collected(&mut self, collected: Collected) -> Result<PassReport, AgentError> {
        let current = Base::of(&collected);
        let Collected {
            instances,
            processes,
            containers,
            errors,
            ..
        } = collected;
        let mut report = PassReport {
            errors,
            ..PassReport::default()
        };
        let delta = self.base.as_ref().map(|base| base.delta(&current));
        if let Some((i, p, c, removals)) = &delta
            && i.is_empty()
            && p.is_empty()
            && c.is_empty()
            && removals.instances.is_empty()
            && removals.processes.is_empty()
            && removals.containers.is_empty()
        {
            return Ok(report);
        }
        let sequence = self.allocate_sequence()?;
        let full_snapshot = || Snapshot {
            host: self.host.clone(),
            sequence,
            kind: SnapshotKind::Full,
            containers: containers.clone(),
            processes: processes.clone(),
            instances: instances.clone(),
        };
        let (snapshot, full) = match delta {
            None => (full_snapshot(), true),
            Some((added, changed_processes, changed_containers, removals)) => {
                report.removed = removals.instances.len();
                let delta = Snapshot {
                    host: self.host.clone(),
                    sequence,
                    kind: SnapshotKind::Delta(removals),
                    containers: changed_containers,
                    processes: changed_processes,
                    instances: added,
                };
                (delta, false)
            }
        };
        let mut body = Self::encode(&snapshot, &mut report.errors)?;
        let mut full = full;
        let len = u64::try_from(body.len()).unwrap_or(u64::MAX);
        let overflow = self.spool.would_overflow(len);
        if overflow && !full {
            // Coalesce: a full snapshot supersedes every older one.
            body = Self::encode(&full_snapshot(), &mut report.errors)?;
            full = true;
            report.removed = 0;
        }
        (report.instances, report.processes) = if full {
            (instances.len(), processes.len())
        } else {
            (snapshot.instances.len(), snapshot.processes.len())
        };
        if overflow {
            report.superseded = self.spool.entries().len();
        }
        self.spool.push(sequence, full, &body, overflow)?;
        self.base = Some(current);
        report.sequence = Some(sequence);
        report.full = full;
        Ok(report)
    }

    /// Sends the spool, oldest first, until it is empty or the server cannot take more now.
    pub fn deliver(&mut self) -> Result<Delivery, AgentError> {
        let mut out = Delivery::default();
        // Servers that failed this snapshot in a row; each is tried once before backing off.
        let mut failed = 0;
        while let Some(entry) = self.spool.entries().first().cloned() {
            let body = match std::fs::read(&entry.path) {
                Ok(b) => b,
                Err(e) => {
                    // Deleted from under us: nothing to send.
                    if e.kind() == std::io::ErrorKind::NotFound {
                        self.spool.pop_front()?;
                        continue;
                    }
                    return Err(io(&entry.path)(e));
                }
            };
            let Some(client) = self.clients.get(self.current) else {
                return Err(AgentError::Client("no server to report to".to_owned()));
            };
            match client.post_inventory(body) {
                Ok(answer) => {
                    failed = 0;
                    out.delivered += 1;
                    if answer.get("duplicate").and_then(serde_json::Value::as_bool) == Some(true) {
                        out.duplicates += 1;
                    }
                    self.spool.pop_front()?;
                }
                Err(ClientError::Api {
                    status, message, ..
                }) if (400..500).contains(&status) && ![401, 403, 408, 429].contains(&status) => {
                    // Refused for good: drop it and resynchronize with a full snapshot.
                    out.dropped
                        .push(format!("snapshot {}: {status} {message}", entry.sequence));
                    self.spool.pop_front()?;
                    self.base = None;
                }
                Err(e) => {
                    failed += 1;
                    // The next replica may be up: go on there (and stay there) at once.
                    self.current = (self.current + 1) % self.clients.len();
                    if failed < self.clients.len() {
                        continue;
                    }
                    out.retry = Some(e.to_string());
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    /// One pass and a delivery attempt, retrying with backoff up to `attempts` times; for
    /// `vigil agent --once`. Returns the last delivery (its `retry` is set when snapshots
    /// stayed in the spool).
    pub fn run_once(&mut self, attempts: u32) -> Result<(PassReport, Delivery), AgentError> {
        let pass = self.snapshot()?;
        let mut total = Delivery::default();
        for attempt in 0..attempts.max(1) {
            if attempt > 0 {
                std::thread::sleep(self.backoff.next_delay());
            }
            let d = self.deliver()?;
            total.delivered += d.delivered;
            total.duplicates += d.duplicates;
            total.dropped.extend(d.dropped);
            total.retry = d.retry;
            if total.retry.is_none() {
                self.backoff.reset();
                break;
            }
        }
        Ok((pass, total))
    }

    /// Runs until `stop` turns true: a pass every interval, a watch pass when the watcher
    /// raised a change (paced), delivery whenever the spool holds something (with backoff
    /// after failures). `log` gets one line per notable thing.
    pub fn run(&mut self, stop: &AtomicBool, log: &(dyn Fn(String) + Send + Sync)) {
        let signal = self.collector.signal();
        match self.collector.watching() {
            Some(Ok(())) => {
                log("agent: watching package loads by running processes (fanotify)".to_owned());
            }
            Some(Err(why)) => log(format!(
                "agent: processes are read every {} s only; new loads are not watched ({why})",
                self.interval.as_secs_f64()
            )),
            None => {}
        }
        let mut next_pass = Instant::now();
        let mut next_send = Instant::now();
        let mut last_watch: Option<Instant> = None;
        let mut errors_reported = false;
        let mut unreachable_reported = false;
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            let watch_due = signal
                .pending()
                .map(|first| self.pacing.due(first, last_watch));
            let pass = if now >= next_pass {
                // An interval pass sweeps everything, the pending change included.
                signal.take();
                next_pass = now + self.interval;
                Some((self.snapshot(), None))
            } else if watch_due.is_some_and(|due| due <= now) {
                let first = signal.take();
                last_watch = Some(now);
                self.snapshot_changes().map(|pass| (pass, first))
            } else {
                None
            };
            match pass {
                None => {}
                Some((Ok(pass), first)) => {
                    if let Some(seq) = pass.sequence {
                        log(format!(
                            "agent: spooled {} snapshot {seq} ({} instance(s), {} process(es){}{}{})",
                            if pass.full { "full" } else { "delta" },
                            pass.instances,
                            pass.processes,
                            if pass.removed > 0 {
                                format!(", {} removed", pass.removed)
                            } else {
                                String::new()
                            },
                            if pass.superseded > 0 {
                                format!(
                                    "; spool full, superseding {} older snapshot(s)",
                                    pass.superseded
                                )
                            } else {
                                String::new()
                            },
                            match first {
                                Some(t) => format!(
                                    "; watch pass, {} ms after the change",
                                    t.elapsed().as_millis()
                                ),
                                None => String::new(),
                            }
                        ));
                    }
                    if !errors_reported && !pass.errors.is_empty() {
                        errors_reported = true;
                        for e in pass.errors.iter().take(10) {
                            log(format!("agent: {e}"));
                        }
                    }
                }
                Some((Err(e), _)) => log(format!("agent: snapshot not spooled: {e}")),
            }
            if Instant::now() >= next_send && !self.spool.entries().is_empty() {
                match self.deliver() {
                    Ok(d) => {
                        for why in &d.dropped {
                            log(format!(
                                "agent: the server refused {why}; dropped, sending a full snapshot next"
                            ));
                        }
                        match d.retry {
                            None => {
                                if unreachable_reported {
                                    log("agent: delivering again".to_owned());
                                }
                                unreachable_reported = false;
                                self.backoff.reset();
                            }
                            Some(why) => {
                                let delay = self.backoff.next_delay();
                                next_send = Instant::now() + delay;
                                if !unreachable_reported {
                                    unreachable_reported = true;
                                    log(format!(
                                        "agent: not delivered ({why}); {} snapshot(s) kept in the spool, retrying with backoff",
                                        self.spool.entries().len()
                                    ));
                                }
                            }
                        }
                    }
                    Err(e) => {
                        next_send = Instant::now() + self.backoff.next_delay();
                        log(format!("agent: spool: {e}"));
                    }
                }
            }
            // Sleep in short slices so `stop` is seen promptly; a raised change wakes us.
            let mut wake = if self.spool.entries().is_empty() {
                next_pass
            } else {
                next_pass.min(next_send)
            };
            let pending = signal.pending();
            if let Some(first) = pending {
                wake = wake.min(self.pacing.due(first, last_watch));
            }
            let now = Instant::now();
            let wake = wake.min(now + Duration::from_millis(100));
            if wake > now {
                match pending {
                    // Pending already: wait out the pacing.
                    Some(_) => std::thread::sleep(wake - now),
                    None => signal.wait_until(wake),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_name_changed_and_gone_instances_processes_and_containers() {
        use vigil_core::{Ecosystem, EcosystemKind, Evidence};
        use vigil_store::Timestamp;
        let instance = |name: &str, pids: &[u32]| InstanceInput {
            component: Component::new(Ecosystem::new(EcosystemKind::Npm), name, "1.0.0"),
            purl: None,
            container_id: None,
            path: format!("/srv/node_modules/{name}/package.json"),
            evidence: Evidence::Loaded,
            dev: false,
            pids: pids.to_vec(),
        };
        let at = |ms: u64| {
            Timestamp::from_system_time(std::time::UNIX_EPOCH + Duration::from_millis(ms))
        };
        let process = |pid: u32, start: u64| ProcessInfo {
            pid,
            start_time: at(start),
            exe: None,
            cmdline: None,
            user: None,
            container_id: None,
            listening: Vec::new(),
        };
        let container = |id: &str| ContainerInfo {
            id: id.to_owned(),
            ..ContainerInfo::default()
        };
        let collected = |i: Vec<InstanceInput>, p: Vec<ProcessInfo>, c: Vec<ContainerInfo>| {
            Base::of(&Collected {
                instances: i,
                processes: p,
                containers: c,
                ..Collected::default()
            })
        };
        let before = collected(
            vec![instance("a", &[1]), instance("b", &[])],
            vec![process(1, 1000), process(2, 2000)],
            vec![container("c1")],
        );
        let after = collected(
            vec![instance("a", &[1, 3]), instance("c", &[3])],
            vec![process(1, 1000), process(3, 3000)],
            vec![container("c2")],
        );
        let (instances, processes, containers, removals) = before.delta(&after);
        let names: Vec<&str> = instances
            .iter()
            .map(|i| i.component.name.as_str())
            .collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(
            removals
                .instances
                .iter()
                .map(|k| k.component.name.as_str())
                .collect::<Vec<_>>(),
            ["b"]
        );
        assert_eq!(processes.iter().map(|p| p.pid).collect::<Vec<_>>(), [3]);
        assert_eq!(removals.processes, [(2, at(2000))]);
        assert_eq!(
            containers.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["c2"]
        );
        assert_eq!(removals.containers, ["c1"]);
        // A re-used pid is another process: the old one is gone, the new one listed.
        let reused = collected(
            vec![instance("a", &[1, 3]), instance("c", &[3])],
            vec![process(1, 5000), process(3, 3000)],
            vec![container("c2")],
        );
        let (_, processes, _, removals) = after.delta(&reused);
        assert_eq!(processes.iter().map(|p| p.pid).collect::<Vec<_>>(), [1]);
        assert_eq!(removals.processes, [(1, at(1000))]);
        // Nothing changed: nothing to send.
        let (i, p, c, r) = after.delta(&after);
        assert!(i.is_empty() && p.is_empty() && c.is_empty());
        assert_eq!(r, Removals::default());
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let mut b = Backoff {
            settings: BackoffSettings {
                base: Duration::from_millis(100),
                max: Duration::from_secs(1),
            },
            failures: 0,
        };
        let delays: Vec<Duration> = (0..40).map(|_| b.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(50) && delays[0] <= Duration::from_millis(100));
        assert!(delays[3] >= Duration::from_millis(400) && delays[3] <= Duration::from_millis(800));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(1)));
        assert!(delays[39] >= Duration::from_millis(500));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn the_spool_reopens_in_order_and_skips_strangers() {
        let dir = tempfile::tempdir().unwrap();
        let limits = SpoolLimits {
            max_snapshots: 3,
            max_bytes: 1000,
        };
        let mut s = Spool::open(dir.path(), limits).unwrap();
        s.push(20, false, b"b", false).unwrap();
        s.push(10, true, b"a", false).unwrap();
        std::fs::write(dir.path().join("junk.txt"), "x").unwrap();
        std::fs::write(dir.path().join("5.full.json.tmp"), "x").unwrap();
        let s = Spool::open(dir.path(), limits).unwrap();
        let seqs: Vec<u64> = s.entries().iter().map(|e| e.sequence).collect();
        assert_eq!(seqs, [10, 20]);
        assert!(s.entries()[0].full && !s.entries()[1].full);
        assert!(!dir.path().join("5.full.json.tmp").exists());
        assert!(!s.would_overflow(10));
        assert!(s.would_overflow(999));
    }
}
