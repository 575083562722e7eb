//! [`Process`]: one running process as `/proc` describes it, and the parsers for the files
//! that describe it (`stat`, `status`, `cmdline`, `ns/*`).
//!
//! The parsers take bytes and never fail loudly: `/proc` content is kernel-formatted but
//! fields like `comm` and `cmdline` are chosen by the process, i.e. by a possible attacker.

use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};

use crate::container::ContainerIdentity;
use crate::kind::RuntimeKind;
use crate::procfs::{Pid, ProcfsRoot};
use crate::sockets::Socket;

/// A running process.
#[derive(Clone, Debug, Serialize)]
pub struct Process {
    /// Process id (in the pid namespace of the procfs mount).
    pub pid: Pid,
    /// Parent process id.
    pub ppid: Pid,
    /// Start time in clock ticks since boot (`stat` field 22). `(pid, start_time)` names a
    /// process instance uniquely across pid reuse.
    pub start_time: u64,
    /// The kernel's short command name (`comm`, at most 15 bytes, process-chosen).
    pub comm: String,
    /// The executable, if readable.
    #[serde(serialize_with = "serialize_opt_path")]
    pub exe: Option<PathBuf>,
    /// The executable was deleted or replaced on disk since the process started.
    pub exe_deleted: bool,
    /// The command line.
    pub cmdline: CommandLine,
    /// Working directory, if readable.
    #[serde(serialize_with = "serialize_opt_path")]
    pub cwd: Option<PathBuf>,
    /// Real uid.
    pub uid: Option<u32>,
    /// Effective uid.
    pub euid: Option<u32>,
    /// Name of the effective uid, from the process's own `/etc/passwd`.
    pub user: Option<String>,
    /// The language runtime.
    pub kind: RuntimeKind,
    /// Namespace inode numbers.
    pub namespaces: Namespaces,
    /// The container the process runs in, when it runs in one.
    pub container: Option<ContainerIdentity>,
    /// TCP sockets the process holds (listening and connected); filled when the sweep has
    /// [`DiscoveryOptions::sockets`](crate::DiscoveryOptions::sockets) on.
    pub sockets: Vec<Socket>,
    /// Some fields could not be read (permission denied); they are `None`/empty.
    pub restricted: bool,
}

impl Process {
    /// The start time as seconds since the Unix epoch, given the boot time (`btime`) and
    /// assuming the Linux user-space clock tick of 100 Hz (`USER_HZ`, fixed by the ABI on
    /// every architecture vigil runs on).
    pub fn start_unix_secs(&self, boot_time: u64) -> u64 {
        boot_time.saturating_add(self.start_time / 100)
    }
}

/// A command line split at NUL bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CommandLine {
    /// The arguments; invalid UTF-8 is replaced with U+FFFD.
    pub args: Vec<String>,
    /// Some argument was not valid UTF-8 (the replacement lost bytes).
    pub lossy: bool,
}

impl CommandLine {
    /// Parses `/proc/PID/cmdline`: NUL-terminated arguments. A process that rewrote its
    /// argument area (setproctitle) may use spaces instead of NULs; that shows as one argument.
    pub fn parse(bytes: &[u8]) -> CommandLine {
        let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
        if bytes.is_empty() {
            return CommandLine::default();
        }
        let mut lossy = false;
        let args = bytes
            .split(|&b| b == 0)
            .map(|arg| match std::str::from_utf8(arg) {
                Ok(s) => s.to_string(),
                Err(_) => {
                    lossy = true;
                    String::from_utf8_lossy(arg).into_owned()
                }
            })
            .collect();
        CommandLine { args, lossy }
    }

    /// `argv[0]`.
    pub fn argv0(&self) -> Option<&str> {
        self.args.first().map(String::as_str)
    }
}

/// Namespace inode numbers (`/proc/PID/ns/*`). Two processes share a namespace when the
/// numbers are equal; a container is a set of processes sharing `mnt` (and usually `pid`,
/// `net`) distinct from the host's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Namespaces {
    /// Mount namespace.
    pub mnt: Option<u64>,
    /// Pid namespace.
    pub pid: Option<u64>,
    /// Network namespace.
    pub net: Option<u64>,
    /// User namespace.
    pub user: Option<u64>,
    /// UTS (hostname) namespace.
    pub uts: Option<u64>,
    /// IPC namespace.
    pub ipc: Option<u64>,
    /// Cgroup namespace.
    pub cgroup: Option<u64>,
}

impl Namespaces {
    /// The link names under `/proc/PID/ns/` read for each field, in field order.
    pub(crate) const LINKS: [&'static str; 7] =
        ["mnt", "pid", "net", "user", "uts", "ipc", "cgroup"];

    pub(crate) fn set(&mut self, link: &str, inode: u64) {
        let slot = match link {
            "mnt" => &mut self.mnt,
            "pid" => &mut self.pid,
            "net" => &mut self.net,
            "user" => &mut self.user,
            "uts" => &mut self.uts,
            "ipc" => &mut self.ipc,
            "cgroup" => &mut self.cgroup,
            _ => return,
        };
        *slot = Some(inode);
    }
}

/// Parses a namespace link target: `mnt:[4026531841]` → 4026531841.
pub fn parse_ns_link(target: &Path) -> Option<u64> {
    let s = target.to_str()?;
    let (_, rest) = s.split_once(":[")?;
    rest.strip_suffix(']')?.parse().ok()
}

/// The fields of `/proc/PID/stat` vigil uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// `comm` (field 2, between the first `(` and the last `)`).
    pub comm: String,
    /// Field 3.
    pub state: char,
    /// Field 4.
    pub ppid: Pid,
    /// Field 9.
    pub flags: u64,
    /// Field 22, clock ticks since boot.
    pub start_time: u64,
}

impl Stat {
    /// `PF_KTHREAD`: the process is a kernel thread (no user-space memory, no executable).
    const PF_KTHREAD: u64 = 0x0020_0000;

    /// Parses `/proc/PID/stat`. `comm` may itself contain spaces and parentheses, so the
    /// remaining fields are counted from the *last* `)`.
    pub fn parse(bytes: &[u8]) -> Option<Stat> {
        let open = bytes.iter().position(|&b| b == b'(')?;
        let close = bytes.iter().rposition(|&b| b == b')')?;
        let comm = bytes.get(open + 1..close)?;
        let rest = std::str::from_utf8(bytes.get(close + 1..)?).ok()?;
        let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
        // fields[0] is field 3 (state): field N is fields[N - 3].
        let state = fields.first()?.chars().next()?;
        Some(Stat {
            comm: String::from_utf8_lossy(comm).into_owned(),
            state,
            ppid: fields.get(1)?.parse().ok()?,
            flags: fields.get(6)?.parse().ok()?,
            start_time: fields.get(19)?.parse().ok()?,
        })
    }

    /// Whether this is a kernel thread.
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & Self::PF_KTHREAD != 0
    }
}

/// Whether `pid` is still the process that started at `start_time` (clock ticks since boot)
/// and has not exited: a zombie (`Z`, `X`) runs no code any more, it only waits for its
/// parent to collect it, so it no longer loads anything.
pub fn still_running(procfs: &ProcfsRoot, pid: Pid, start_time: u64) -> bool {
    procfs
        .read(pid, "stat")
        .ok()
        .and_then(|b| Stat::parse(b.as_slice()))
        .is_some_and(|s| s.start_time == start_time && !matches!(s.state, 'Z' | 'X' | 'x'))
}

/// The real and effective uid from `/proc/PID/status` (`Uid:\treal\teffective\tsaved\tfs`).
pub fn parse_status_uids(bytes: &[u8]) -> Option<(u32, u32)> {
    bytes.split(|&b| b == b'\n').find_map(|line| {
        let rest = std::str::from_utf8(line.strip_prefix(b"Uid:")?).ok()?;
        let mut ids = rest.split_ascii_whitespace();
        let real = ids.next()?.parse().ok()?;
        let effective = ids.next()?.parse().ok()?;
        Some((real, effective))
    })
}

/// Serializes a path as a string, replacing invalid UTF-8 (JSON has no other choice).
pub(crate) fn serialize_opt_path<S: Serializer>(
    path: &Option<PathBuf>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match path {
        Some(p) => s.serialize_str(&p.to_string_lossy()),
        None => s.serialize_none(),
    }
}

/// Serializes a path as a string, replacing invalid UTF-8.
pub(crate) fn serialize_path<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines() {
        let tail = "S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 123456 1000 10";
        let kthread = "I 2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 0 -20 1 0 7 0 0";
        type Want<'a> = Option<(&'a str, Pid, u64, bool)>;
        let cases: Vec<(String, Want)> = vec![
            (
                format!("4242 (node) {tail}"),
                Some(("node", 1, 123456, false)),
            ),
            (
                format!("4242 (a) b) (c) {tail}"),
                Some(("a) b) (c", 1, 123456, false)),
            ),
            (
                format!("7 (kworker/0:1) {kthread}"),
                Some(("kworker/0:1", 2, 7, true)),
            ),
            ("4242 (node) S 1".to_string(), None),
            ("garbage".to_string(), None),
            (String::new(), None),
        ];
        for (line, want) in cases {
            let got = Stat::parse(line.as_bytes());
            let got = got
                .as_ref()
                .map(|s| (s.comm.as_str(), s.ppid, s.start_time, s.is_kernel_thread()));
            assert_eq!(got, want, "{line:?}");
        }
    }

    #[test]
    fn cmdline_splits() {
        let cases: &[(&[u8], &[&str], bool)] = &[
            (b"node\0app.js\0", &["node", "app.js"], false),
            (b"node\0\0x\0", &["node", "", "x"], false),
            (b"nginx: worker process", &["nginx: worker process"], false),
            (b"", &[], false),
            (b"bad\xff\0ok\0", &["bad\u{fffd}", "ok"], true),
        ];
        for (bytes, args, lossy) in cases {
            let c = CommandLine::parse(bytes);
            assert_eq!(c.args, *args, "{bytes:?}");
            assert_eq!(c.lossy, *lossy, "{bytes:?}");
        }
    }

    #[test]
    fn ns_links_and_uids() {
        assert_eq!(
            parse_ns_link(Path::new("mnt:[4026531841]")),
            Some(4026531841)
        );
        assert_eq!(parse_ns_link(Path::new("mnt:4026531841")), None);
        assert_eq!(parse_ns_link(Path::new("pid_for_children:[]")), None);
        let status = b"Name:\tnode\nUmask:\t0022\nUid:\t1000\t1001\t1000\t1000\nGid:\t0\t0\t0\t0\n";
        assert_eq!(parse_status_uids(status), Some((1000, 1001)));
        assert_eq!(parse_status_uids(b"Uid:\tx\n"), None);
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = Stat::parse(&bytes);
            let _ = CommandLine::parse(&bytes);
            let _ = parse_status_uids(&bytes);
        }
    }
}
