//! [`Discovery`]: one sweep over every process in `/proc`.
//!
//! A sweep lists `/proc`, reads each process (see [`Process`]) and reports what it could not
//! see as a single [`Degradation`] line instead of one complaint per process. Processes that
//! exit mid-read are counted and dropped; they are the normal case on a busy host, not errors.
//!
//! Cost: per process, ~12 small reads and readlinks (stat, status, cmdline, exe, cwd, 7
//! namespaces); `passwd` is read once per mount namespace per sweep, and native executables are
//! checked for Go once per (device, inode) across sweeps.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::container::ContainerIdentity;
use crate::error::{RuntimeError, Unreadable};
use crate::kind::{RuntimeKind, has_go_buildinfo};
use crate::process::{CommandLine, Namespaces, Process, Stat, parse_ns_link, parse_status_uids};
use crate::procfs::{Pid, ProcfsRoot, strip_deleted};
use crate::sockets::{SocketTable, socket_inodes};
use crate::users::UserTable;

/// What a sweep includes.
#[derive(Clone, Debug)]
pub struct DiscoveryOptions {
    /// Also list kernel threads (no executable, no packages; off by default).
    pub include_kernel_threads: bool,
    /// Join TCP sockets to processes (one readlink per open fd; on by default).
    pub sockets: bool,
}

impl Default for DiscoveryOptions {
    fn default() -> Self {
        DiscoveryOptions {
            include_kernel_threads: false,
            sockets: true,
        }
    }
}

/// Reads processes from a [`ProcfsRoot`], keeping small caches across sweeps.
#[derive(Debug)]
pub struct Discovery {
    procfs: ProcfsRoot,
    options: DiscoveryOptions,
    /// (device, inode) of a native executable → is it a Go binary. Rebuilt each sweep from
    /// the entries still in use, so it never outgrows the set of running binaries.
    go_binaries: HashMap<(u64, u64), bool>,
}

/// The result of one sweep.
#[derive(Debug, Default)]
pub struct Sweep {
    /// Every process read, ascending pid.
    pub processes: Vec<Process>,
    /// Processes listed but gone before they could be read.
    pub vanished: usize,
    /// Processes read only partly (permission denied on some files).
    pub restricted: usize,
    /// Processes listed but not readable at all (permission denied on `stat`).
    pub hidden: usize,
    /// `hidepid=` of the procfs mount, when it hides other users' processes.
    pub hidepid: Option<String>,
    /// Unexpected failures (not "vanished", not "denied"), each naming its file.
    pub errors: Vec<RuntimeError>,
    /// Wall time of the sweep.
    pub elapsed: Duration,
    /// The sweeping process's effective uid (from `self/status` of the procfs).
    pub euid: Option<u32>,
}

impl Sweep {
    /// One line explaining what this sweep could not see, if anything.
    pub fn degradation(&self) -> Option<Degradation> {
        let restricted = self.restricted + self.hidden;
        (restricted > 0 || self.hidepid.is_some()).then(|| Degradation {
            restricted,
            total: self.processes.len() + self.hidden,
            hidepid: self.hidepid.clone(),
            euid: self.euid,
        })
    }

    /// The process with this pid.
    pub fn process(&self, pid: Pid) -> Option<&Process> {
        self.processes
            .binary_search_by_key(&pid, |p| p.pid)
            .ok()
            .and_then(|i| self.processes.get(i))
    }
}

/// Why a sweep saw less than everything, as one line for the operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Degradation {
    /// Processes with unreadable details.
    pub restricted: usize,
    /// Processes seen in total.
    pub total: usize,
    /// `hidepid=` value, when set.
    pub hidepid: Option<String>,
    /// The sweeping process's effective uid, when known.
    pub euid: Option<u32>,
}

impl fmt::Display for Degradation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(h) = &self.hidepid {
            parts.push(format!(
                "/proc is mounted with hidepid={h} (other users' processes hidden)"
            ));
        }
        if self.restricted > 0 {
            parts.push(format!(
                "{} of {} processes only partly readable (permission denied)",
                self.restricted, self.total
            ));
        }
        if self.euid == Some(0) {
            // Root and still refused: ptrace access-mode checks (a target holding capabilities
            // we lack) or an LSM policy. Changing user would not help.
            parts.push("even as root: ptrace access checks or an LSM policy refuse them".into());
        } else {
            parts.push(
                "run as root (or with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH) for a full view"
                    .into(),
            );
        }
        write!(f, "limited process visibility: {}", parts.join("; "))
    }
}

/// Outcome of reading one process.
enum Read {
    Found(Box<Process>),
    Vanished,
    KernelThread,
    Hidden,
}

impl Discovery {
    /// Discovery over `procfs` with default options.
    pub fn new(procfs: ProcfsRoot) -> Discovery {
        Discovery::with_options(procfs, DiscoveryOptions::default())
    }

    /// Discovery with explicit options.
    pub fn with_options(procfs: ProcfsRoot, options: DiscoveryOptions) -> Discovery {
        Discovery {
            procfs,
            options,
            go_binaries: HashMap::new(),
        }
    }

    /// The procfs this discovery reads.
    pub fn procfs(&self) -> &ProcfsRoot {
        &self.procfs
    }

    /// Reads every process. Fails only when `/proc` itself cannot be listed.
    pub fn sweep(&mut self) -> Result<Sweep, RuntimeError> {
        let started = Instant::now();
        let pids = self.procfs.pids()?;
        let mut sweep = Sweep {
            hidepid: self.procfs.hidepid(),
            euid: self
                .procfs
                .read_global("self/status")
                .ok()
                .and_then(|s| parse_status_uids(&s))
                .map(|(_, euid)| euid),
            ..Sweep::default()
        };
        let mut ns = NamespaceCaches {
            host_mnt: self.host_mount_namespace(),
            ..NamespaceCaches::default()
        };
        let previous_go = std::mem::take(&mut self.go_binaries);
        for pid in pids {
            match self.read_process(pid, &mut ns, &previous_go) {
                Ok(Read::Found(p)) => {
                    if p.restricted {
                        sweep.restricted += 1;
                    }
                    sweep.processes.push(*p);
                }
                Ok(Read::Vanished) => sweep.vanished += 1,
                Ok(Read::KernelThread) => {}
                Ok(Read::Hidden) => sweep.hidden += 1,
                Err(e) => sweep.errors.push(e),
            }
        }
        if self.options.sockets {
            self.join_sockets(&mut sweep.processes);
        }
        sweep.elapsed = started.elapsed();
        Ok(sweep)
    }

    /// Reads one process; `None` when it does not exist (or is a kernel thread and those are
    /// excluded).
    pub fn process(&mut self, pid: Pid) -> Result<Option<Process>, RuntimeError> {
        let previous_go = std::mem::take(&mut self.go_binaries);
        let mut ns = NamespaceCaches {
            host_mnt: self.host_mount_namespace(),
            ..NamespaceCaches::default()
        };
        let read = self.read_process(pid, &mut ns, &previous_go);
        // A single read must not drop the whole cache: merge back what it did not replace.
        for (k, v) in previous_go {
            self.go_binaries.entry(k).or_insert(v);
        }
        match read? {
            Read::Found(p) => {
                let mut one = [*p];
                if self.options.sockets {
                    self.join_sockets(&mut one);
                }
                let [p] = one;
                Ok(Some(p))
            }
            Read::Vanished | Read::KernelThread | Read::Hidden => Ok(None),
        }
    }

    fn read_process(
        &mut self,
        pid: Pid,
        ns: &mut NamespaceCaches,
        previous_go: &HashMap<(u64, u64), bool>,
    ) -> Result<Read, RuntimeError> {
        let procfs = &self.procfs;
        let stat_bytes = match procfs.read(pid, "stat") {
            Ok(b) => b,
            Err(Unreadable::Vanished) => return Ok(Read::Vanished),
            Err(Unreadable::Denied) => return Ok(Read::Hidden),
            Err(Unreadable::Failed(e)) => return Err(e),
        };
        let Some(stat) = Stat::parse(&stat_bytes) else {
            return Err(RuntimeError::Parse {
                path: procfs.pid_path(pid, "stat"),
                line: 1,
                reason: "not a stat line".into(),
            });
        };
        if stat.is_kernel_thread() && !self.options.include_kernel_threads {
            return Ok(Read::KernelThread);
        }
        let mut field = FieldReads::default();
        let uids = field
            .take(procfs.read(pid, "status"))
            .and_then(|s| parse_status_uids(&s));
        let exe = field.take(procfs.readlink(pid, "exe"));
        let cmdline = field
            .take(procfs.read(pid, "cmdline"))
            .map(|b| CommandLine::parse(&b))
            .unwrap_or_default();
        let cwd = field
            .take(procfs.readlink(pid, "cwd"))
            .map(|p| strip_deleted(p).0);
        let mut namespaces = Namespaces::default();
        for link in Namespaces::LINKS {
            let rel = format!("ns/{link}");
            if let Some(inode) = field
                .take(procfs.readlink(pid, &rel))
                .and_then(|t| parse_ns_link(&t))
            {
                namespaces.set(link, inode);
            }
        }

        if field.vanished && exe.is_none() && cmdline.args.is_empty() && !stat.is_kernel_thread() {
            // Either a zombie or the process exited while we read it; a zombie still has its
            // stat, a gone process does not.
            match procfs.read(pid, "stat").ok().and_then(|b| Stat::parse(&b)) {
                Some(again) if again.start_time == stat.start_time => {}
                _ => return Ok(Read::Vanished),
            }
        }

        let (exe, exe_deleted) = match exe {
            Some(p) => {
                let (p, deleted) = strip_deleted(p);
                (Some(p), deleted)
            }
            None => (None, false),
        };
        let kind = self.classify(pid, exe.as_deref(), &cmdline, &stat.comm, previous_go);

        let user = uids.and_then(|(_, euid)| {
            let table = ns.users.entry(namespaces.mnt).or_insert_with(|| {
                self.procfs
                    .read(pid, "root/etc/passwd")
                    .ok()
                    .map(|b| Arc::new(UserTable::parse(&b)))
            });
            table.as_ref()?.name(euid).map(str::to_string)
        });

        let container = self.container_identity(pid, namespaces.mnt, ns);

        Ok(Read::Found(Box::new(Process {
            pid,
            ppid: stat.ppid,
            start_time: stat.start_time,
            comm: stat.comm,
            exe,
            exe_deleted,
            cmdline,
            cwd,
            uid: uids.map(|(r, _)| r),
            euid: uids.map(|(_, e)| e),
            user,
            kind,
            namespaces,
            container,
            sockets: Vec::new(),
            restricted: field.restricted,
        })))
    }

    /// Fills [`Process::sockets`]: each process's socket inodes looked up in the TCP tables
    /// of its network namespace, read once per namespace. Public so a caller that swept with
    /// [`DiscoveryOptions::sockets`] off can join the few processes it reports (one readlink
    /// per open fd is the cost).
    pub fn join_sockets<'a>(&self, processes: impl IntoIterator<Item = &'a mut Process>) {
        let mut tables: HashMap<u64, Option<SocketTable>> = HashMap::new();
        for p in processes {
            let Ok(inodes) = socket_inodes(&self.procfs, p.pid) else {
                continue;
            };
            if inodes.is_empty() {
                continue;
            }
            let own;
            let table = match p.namespaces.net {
                Some(net) => tables
                    .entry(net)
                    .or_insert_with(|| SocketTable::read(&self.procfs, p.pid).ok())
                    .as_ref(),
                None => {
                    own = SocketTable::read(&self.procfs, p.pid).ok();
                    own.as_ref()
                }
            };
            let Some(table) = table else { continue };
            p.sockets = inodes
                .iter()
                .filter_map(|inode| table.get(*inode).cloned())
                .collect();
        }
    }

    /// The mount namespace of pid 1 (the host's, when the procfs is the host's), or ours.
    fn host_mount_namespace(&self) -> Option<u64> {
        [1, std::process::id()].into_iter().find_map(|pid| {
            self.procfs
                .readlink(pid, "ns/mnt")
                .ok()
                .and_then(|t| parse_ns_link(&t))
        })
    }

    /// Container identity from the cgroup file, falling back to mountinfo (once per mount
    /// namespace) for processes outside the host's mount namespace whose cgroup is opaque.
    fn container_identity(
        &self,
        pid: Pid,
        mnt: Option<u64>,
        ns: &mut NamespaceCaches,
    ) -> Option<ContainerIdentity> {
        let from_cgroup = self
            .procfs
            .read(pid, "cgroup")
            .ok()
            .and_then(|b| ContainerIdentity::from_cgroup(&String::from_utf8_lossy(&b)));
        if from_cgroup.is_some() {
            return from_cgroup;
        }
        let mnt = mnt?;
        if ns.host_mnt == Some(mnt) {
            return None;
        }
        ns.mountinfo
            .entry(mnt)
            .or_insert_with(|| {
                self.procfs
                    .read(pid, "mountinfo")
                    .ok()
                    .and_then(|b| ContainerIdentity::from_mountinfo(&String::from_utf8_lossy(&b)))
            })
            .clone()
    }

    fn classify(
        &mut self,
        pid: Pid,
        exe: Option<&std::path::Path>,
        cmdline: &CommandLine,
        comm: &str,
        previous_go: &HashMap<(u64, u64), bool>,
    ) -> RuntimeKind {
        let base = |s: &str| s.rsplit('/').next().unwrap_or(s).to_string();
        let name = exe
            .and_then(|e| e.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .or_else(|| cmdline.argv0().map(base))
            .unwrap_or_else(|| comm.to_string());
        if let Some(kind) = RuntimeKind::from_exe_name(&name) {
            return kind;
        }
        if exe.is_none() {
            return RuntimeKind::Native;
        }
        // Go check through the kernel's link, which works even when the file was replaced
        // or lives in another mount namespace.
        let link = self.procfs.pid_path(pid, "exe");
        let Ok(meta) = fs::metadata(&link) else {
            return RuntimeKind::Native;
        };
        let key = (meta.dev(), meta.ino());
        let is_go = match self.go_binaries.get(&key).or_else(|| previous_go.get(&key)) {
            Some(&known) => known,
            None => fs::File::open(&link)
                .map(|mut f| has_go_buildinfo(&mut f))
                .unwrap_or(false),
        };
        self.go_binaries.insert(key, is_go);
        if is_go {
            RuntimeKind::Go
        } else {
            RuntimeKind::Native
        }
    }
}

/// Per-sweep caches keyed by mount namespace: what is read once per container, not once per
/// process.
#[derive(Default)]
struct NamespaceCaches {
    host_mnt: Option<u64>,
    users: HashMap<Option<u64>, Option<Arc<UserTable>>>,
    mountinfo: HashMap<u64, Option<ContainerIdentity>>,
}

/// Turns per-field reads into `Option`s, remembering denials and disappearances; an
/// unexpected error on one field degrades that field only.
#[derive(Default)]
struct FieldReads {
    restricted: bool,
    vanished: bool,
}

impl FieldReads {
    fn take<T>(&mut self, read: Result<T, Unreadable>) -> Option<T> {
        match read {
            Ok(v) => Some(v),
            Err(Unreadable::Denied) => {
                self.restricted = true;
                None
            }
            Err(Unreadable::Vanished) => {
                self.vanished = true;
                None
            }
            Err(Unreadable::Failed(_)) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degradation_is_one_line() {
        let cases = [
            (
                Degradation {
                    restricted: 3,
                    total: 10,
                    hidepid: None,
                    euid: Some(1000),
                },
                "limited process visibility: 3 of 10 processes only partly readable (permission denied); run as root (or with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH) for a full view",
            ),
            (
                Degradation {
                    restricted: 0,
                    total: 4,
                    hidepid: Some("invisible".into()),
                    euid: Some(1000),
                },
                "limited process visibility: /proc is mounted with hidepid=invisible (other users' processes hidden); run as root (or with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH) for a full view",
            ),
            (
                Degradation {
                    restricted: 1,
                    total: 70,
                    hidepid: None,
                    euid: Some(0),
                },
                "limited process visibility: 1 of 70 processes only partly readable (permission denied); even as root: ptrace access checks or an LSM policy refuse them",
            ),
        ];
        for (d, want) in cases {
            assert_eq!(d.to_string(), want);
            assert!(!d.to_string().contains('\n'));
        }
    }
}
