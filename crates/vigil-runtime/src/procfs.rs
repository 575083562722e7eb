//! [`ProcfsRoot`]: where `/proc` is.
//!
//! Everything in this crate reads `/proc` through a `ProcfsRoot` so tests can point it at a
//! recorded fixture tree (plain files and symlinks) instead of the live kernel view, and so an
//! agent in a container can read the host's `/proc` mounted elsewhere (`/host/proc`).
//!
//! Reads are read-only, never follow anything but the kernel's own magic links, and classify
//! failures as [`Unreadable`] so callers can tell "the process exited" from "we may not look".

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use crate::error::{RuntimeError, Unreadable};

/// A process id as `/proc` names it.
pub type Pid = u32;

/// Largest file we read from `/proc` in one go. `maps` of a huge JVM can reach a few MB; more
/// than this is hostile or broken and is cut rather than exhausting memory.
pub(crate) const MAX_PROC_FILE: u64 = 64 << 20;

/// A `/proc` tree: the live one (`/proc`) or a recorded fixture.
#[derive(Clone, Debug)]
pub struct ProcfsRoot {
    root: PathBuf,
}

impl Default for ProcfsRoot {
    fn default() -> Self {
        ProcfsRoot::system()
    }
}

impl ProcfsRoot {
    /// The live `/proc`.
    pub fn system() -> ProcfsRoot {
        ProcfsRoot::new("/proc")
    }

    /// A `/proc` tree at `root` (e.g. `/host/proc`, or a test fixture).
    pub fn new(root: impl Into<PathBuf>) -> ProcfsRoot {
        ProcfsRoot { root: root.into() }
    }

    /// The root directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `/proc/PID`.
    pub fn pid_dir(&self, pid: Pid) -> PathBuf {
        self.root.join(pid.to_string())
    }

    /// `/proc/PID/<rel>`.
    pub fn pid_path(&self, pid: Pid, rel: impl AsRef<Path>) -> PathBuf {
        let mut p = self.pid_dir(pid);
        p.push(rel);
        p
    }

    /// Every process id currently listed, ascending. Only numeric entries count (`self`,
    /// `net`, `sys`, … are skipped); threads are not listed at the top level of `/proc`.
    pub fn pids(&self) -> Result<Vec<Pid>, RuntimeError> {
        let entries = fs::read_dir(&self.root).map_err(|source| RuntimeError::Io {
            path: self.root.clone(),
            source,
        })?;
        let mut pids: Vec<Pid> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<Pid>().ok()))
            .collect();
        pids.sort_unstable();
        Ok(pids)
    }

    /// Reads `/proc/PID/<rel>` whole (bounded by [`MAX_PROC_FILE`]).
    pub fn read(&self, pid: Pid, rel: &str) -> Result<Vec<u8>, Unreadable> {
        read_bounded(&self.pid_path(pid, rel))
    }

    /// Reads a file directly under the root (`net/tcp`, `stat`, `self/mountinfo`).
    pub fn read_global(&self, rel: &str) -> Result<Vec<u8>, Unreadable> {
        read_bounded(&self.root.join(rel))
    }

    /// Reads the link `/proc/PID/<rel>` (`exe`, `cwd`, `ns/mnt`, `fd/3`).
    pub fn readlink(&self, pid: Pid, rel: &str) -> Result<PathBuf, Unreadable> {
        let path = self.pid_path(pid, rel);
        fs::read_link(&path).map_err(|e| Unreadable::from_io(&path, e))
    }

    /// The names in the directory `/proc/PID/<rel>` (`fd`, `ns`).
    pub fn list(&self, pid: Pid, rel: &str) -> Result<Vec<OsString>, Unreadable> {
        let path = self.pid_path(pid, rel);
        let entries = fs::read_dir(&path).map_err(|e| Unreadable::from_io(&path, e))?;
        Ok(entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect())
    }

    /// Boot time in seconds since the Unix epoch (`btime` in `/proc/stat`); combine with a
    /// process's start time in clock ticks to get its wall-clock start.
    pub fn boot_time(&self) -> Option<u64> {
        let stat = self.read_global("stat").ok()?;
        stat.split(|&b| b == b'\n').find_map(|line| {
            let rest = line.strip_prefix(b"btime ")?;
            std::str::from_utf8(rest).ok()?.trim().parse().ok()
        })
    }

    /// The `hidepid=` option of this procfs mount, when it hides other users' processes
    /// (`1`, `2`, `invisible`, `noaccess`). Read from `self/mountinfo`; `None` for fixture
    /// trees and unrestricted mounts.
    pub fn hidepid(&self) -> Option<String> {
        let mountinfo = self.read_global("self/mountinfo").ok()?;
        let text = String::from_utf8_lossy(&mountinfo);
        let root = self.root.to_str()?;
        text.lines().find_map(|line| {
            let mut fields = line.split(' ');
            let mount_point = fields.nth(4)?;
            if mount_point != root {
                return None;
            }
            let (_, after) = line.split_once(" - ")?;
            let mut after = after.split(' ');
            if after.next()? != "proc" {
                return None;
            }
            let super_opts = after.nth(1)?;
            super_opts.split(',').find_map(|opt| {
                let v = opt.strip_prefix("hidepid=")?;
                (!matches!(v, "0" | "off")).then(|| v.to_string())
            })
        })
    }
}

/// Reads at most [`MAX_PROC_FILE`] bytes of `path`.
pub(crate) fn read_bounded(path: &Path) -> Result<Vec<u8>, Unreadable> {
    use std::io::Read;
    let file = fs::File::open(path).map_err(|e| Unreadable::from_io(path, e))?;
    let mut buf = Vec::new();
    file.take(MAX_PROC_FILE)
        .read_to_end(&mut buf)
        .map_err(|e| Unreadable::from_io(path, e))?;
    Ok(buf)
}

/// A link target as bytes-preserving path; `/proc` link targets are arbitrary bytes.
pub(crate) fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(OsString::from_vec(bytes))
}

/// Splits the kernel's ` (deleted)` suffix off a link target or maps path.
pub(crate) fn strip_deleted(path: PathBuf) -> (PathBuf, bool) {
    use std::os::unix::ffi::OsStrExt;
    const SUFFIX: &[u8] = b" (deleted)";
    let bytes = path.as_os_str().as_bytes();
    match bytes.strip_suffix(SUFFIX) {
        Some(stripped) => (path_from_bytes(stripped.to_vec()), true),
        None => (path, false),
    }
}
