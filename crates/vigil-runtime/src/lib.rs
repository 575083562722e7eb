//! # vigil-runtime
//!
//! What is *running*: the processes on this host and in its containers, who they are, what
//! they listen on, and which packages they have actually loaded. A package on disk is a risk;
//! a package loaded into a running process is an incident — this crate tells the two apart.
//!
//! What lives here:
//! - [`procfs`]: [`ProcfsRoot`], the one door to `/proc` (live, `/host/proc`, or a fixture);
//! - [`discovery`] and [`process`]: one sweep over every process — pid, start time, exe,
//!   command line, cwd, user, [`RuntimeKind`], namespaces — degrading with a single line when
//!   not root or under `hidepid`;
//! - [`container`]: container and Kubernetes pod identity from `/proc/PID/cgroup`, with
//!   `mountinfo` as the fallback under a private cgroup namespace;
//! - [`sockets`]: listening and connected TCP sockets, joined to processes by socket inode;
//! - [`loaded`]: files a process has mapped (`maps`) or open (`fd`) now;
//! - [`approots`]: where a process resolves packages from (node's `node_modules` chain,
//!   Python's `sys.path`, the Java class path) and what is installed there, read with
//!   `vigil-inventory`'s collectors through `/proc/PID/root`;
//! - [`owner`]: path → owning package (`node_modules`, `site-packages` via `RECORD`, jars),
//!   behind a [`PackageMetadata`] seam; [`metadata`] fills it with `vigil-inventory`'s
//!   parsers, so a package has one identity whether a process or the disk scan finds it;
//! - [`ospackages`]: the OS packages (dpkg, apk) owning the executables and shared libraries
//!   a process has mapped;
//! - [`watcher`]: fanotify `FAN_OPEN` marks catching packages opened and closed between
//!   sweeps (pure-Python imports, `require`), per process, with bounded memory;
//! - [`kind`]: which language runtime a process is;
//! - [`users`]: uid → name from the process's own `/etc/passwd`.
//!
//! What does **not** live here: reading package databases and lockfiles on disk (that is
//! `vigil-inventory`, whose parsers this crate calls rather than copies), matching against advisories (`vigil-intel`), storing or reporting.
//!
//! Safety: everything is read-only. No ptrace, no signals, no writes under `/proc`. Processes
//! vanishing mid-read are normal and never errors.

pub mod approots;
pub mod container;
pub mod discovery;
pub mod error;
pub mod kind;
pub mod loaded;
pub mod metadata;
pub mod ospackages;
pub mod owner;
pub mod process;
pub mod procfs;
pub mod sockets;
pub mod users;
pub mod watcher;

pub use approots::{AppRoots, Environment, InstalledError, InstalledPackage, InstalledResolver};
pub use container::{ContainerIdentity, ContainerRuntime, IdentitySource, PodIdentity, QosClass};
pub use discovery::{Degradation, Discovery, DiscoveryOptions, Sweep};
pub use error::{RuntimeError, Unreadable};
pub use kind::RuntimeKind;
pub use loaded::{
    LoadedFile, LoadedPackage, LoadedVia, Runs, is_package_metadata, loaded_files, loaded_packages,
    loaded_snapshot,
};
pub use metadata::InventoryMetadata;
pub use ospackages::{OsLoaded, OsPackages};
pub use owner::{Owner, OwnerResolver, OwnerSource, PackageMetadata, PackageSlot};
pub use process::{CommandLine, Namespaces, Process, still_running};
pub use procfs::{Pid, ProcfsRoot};
pub use sockets::{Protocol, Socket, SocketTable, TcpState};
pub use users::UserTable;
pub use watcher::{
    Observation, WatchedProcess, Watcher, WatcherLimits, WatcherStats, merge_loaded,
};
