//! What the agents report: hosts, containers, processes and component instances, as snapshots;
//! and what the store answers about them (the instances of a package, exposure history).
//!
//! A snapshot is applied in one transaction and is idempotent per (host, sequence). A full
//! snapshot is the whole truth about a host: instances, containers and processes it does not
//! list are marked gone. A delta adds or updates what it lists and removes what it names.
//! Each instance's presence is kept as exposure windows — `(from, to)` rows never deleted — so
//! "were we exposed to X, when, and where" is answerable long after X is gone.

use std::collections::BTreeMap;

use vigil_core::{Component, Ecosystem, Evidence, PackageName};

use crate::time::Timestamp;

/// A host's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostId(pub i64);

/// A container's row id (not its runtime id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerKey(pub i64);

/// A component's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId(pub i64);

/// A component instance's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub i64);

/// A host as its agent describes it. Hosts are identified by `name`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostInfo {
    /// The host name (identity).
    pub name: String,
    /// Operating system name (`Debian GNU/Linux`).
    pub os_name: Option<String>,
    /// Operating system version (`12`).
    pub os_version: Option<String>,
    /// CPU architecture (`x86_64`).
    pub arch: Option<String>,
    /// The reporting agent's version.
    pub agent_version: Option<String>,
    /// Free-form labels.
    pub labels: BTreeMap<String, String>,
}

/// A host as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRecord {
    /// Row id.
    pub id: HostId,
    /// What the agent said last.
    pub info: HostInfo,
    /// First report.
    pub first_seen: Timestamp,
    /// Latest report.
    pub last_seen: Timestamp,
    /// The sequence number of the latest snapshot applied.
    pub last_sequence: Option<u64>,
}

/// A container as the agent sees it. Identified per host by its runtime `id`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    /// The runtime's container id.
    pub id: String,
    /// Container name.
    pub name: Option<String>,
    /// Image reference.
    pub image: Option<String>,
    /// Image digest.
    pub image_digest: Option<String>,
    /// Runtime (`containerd`, `docker`, `cri-o`, …).
    pub runtime: Option<String>,
    /// Kubernetes namespace.
    pub k8s_namespace: Option<String>,
    /// Kubernetes pod name.
    pub k8s_pod: Option<String>,
    /// Kubernetes workload name (Deployment, DaemonSet, …).
    pub k8s_workload: Option<String>,
    /// Kubernetes workload kind.
    pub k8s_workload_kind: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// A listening socket of a process.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListeningSocket {
    /// `tcp`, `tcp6`, `udp`, `udp6`.
    pub protocol: String,
    /// Bound address.
    pub address: String,
    /// Port.
    pub port: u16,
}

/// A process as the agent sees it. Identified per host by (pid, start time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u32,
    /// When it started (converted from boot-relative ticks by the agent).
    pub start_time: Timestamp,
    /// Executable path.
    pub exe: Option<String>,
    /// Command line, arguments joined by spaces.
    pub cmdline: Option<String>,
    /// User name or uid.
    pub user: Option<String>,
    /// The runtime id of its container, if any.
    pub container_id: Option<String>,
    /// Listening sockets.
    pub listening: Vec<ListeningSocket>,
}

/// One component instance in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceInput {
    /// The component.
    pub component: Component,
    /// Its purl; computed from the component when absent.
    pub purl: Option<String>,
    /// The runtime id of the container it is in, if any.
    pub container_id: Option<String>,
    /// Where it is (package directory, lockfile, binary).
    pub path: String,
    /// How it is known.
    pub evidence: Evidence,
    /// A development dependency.
    pub dev: bool,
    /// Processes that load it.
    pub pids: Vec<u32>,
}

/// Names an instance in a delta's removals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceKey {
    /// The component.
    pub component: Component,
    /// The runtime id of its container, if any.
    pub container_id: Option<String>,
    /// Its path.
    pub path: String,
}

/// What a delta snapshot removes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Removals {
    /// Instances no longer present.
    pub instances: Vec<InstanceKey>,
    /// Containers (runtime ids) no longer running.
    pub containers: Vec<String>,
    /// Processes (pid, start time) that exited.
    pub processes: Vec<(u32, Timestamp)>,
}

/// Full or delta.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotKind {
    /// The whole truth: what is not listed is gone.
    Full,
    /// Changes since the previous snapshot: listed items are added or updated, removals gone.
    Delta(Removals),
}

/// One report from an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The reporting host.
    pub host: HostInfo,
    /// The agent's sequence number; (host, sequence) is applied at most once.
    pub sequence: u64,
    /// Full or delta.
    pub kind: SnapshotKind,
    /// Containers.
    pub containers: Vec<ContainerInfo>,
    /// Processes.
    pub processes: Vec<ProcessInfo>,
    /// Component instances.
    pub instances: Vec<InstanceInput>,
}

/// Identity details of the container an instance or finding sits in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerSummary {
    /// Row id.
    pub key: ContainerKey,
    /// Runtime id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Image.
    pub image: Option<String>,
    /// Kubernetes namespace.
    pub k8s_namespace: Option<String>,
    /// Kubernetes workload.
    pub k8s_workload: Option<String>,
}

/// A component instance as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceRecord {
    /// Row id.
    pub id: InstanceId,
    /// The component's row id.
    pub component_id: ComponentId,
    /// The component.
    pub component: Component,
    /// Its purl.
    pub purl: String,
    /// The host's row id.
    pub host_id: HostId,
    /// The host's name.
    pub host_name: String,
    /// Its container, if any.
    pub container: Option<ContainerSummary>,
    /// Where it is.
    pub path: String,
    /// How it is known.
    pub evidence: Evidence,
    /// A development dependency.
    pub dev: bool,
    /// Processes that load it (sorted, unique).
    pub pids: Vec<u32>,
    /// First seen.
    pub first_seen: Timestamp,
    /// Last seen: its host's latest report while present; the last report listing it once
    /// gone.
    pub last_seen: Timestamp,
    /// When it was found gone; `None` while present.
    pub gone_at: Option<Timestamp>,
}

/// What applying a snapshot changed — exactly what the detection engine needs to look at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotOutcome {
    /// The host's row id.
    pub host_id: Option<HostId>,
    /// The snapshot's (host, sequence) was applied before; nothing was changed.
    pub duplicate: bool,
    /// Instances that appeared, including ones that came back after being gone.
    pub new: Vec<InstanceRecord>,
    /// Present instances whose evidence, dev flag or loading processes changed.
    pub changed: Vec<InstanceRecord>,
    /// Instances found gone by this snapshot.
    pub gone: Vec<InstanceRecord>,
    /// Instances listed and unchanged (nothing written for them).
    pub unchanged: usize,
}

/// An (ecosystem, normalized name) pair: what advisories and the matcher index key on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageKey {
    /// The ecosystem as the advisory names it (`Debian` covers `Debian:12`).
    pub ecosystem: Ecosystem,
    /// The normalized name ([`PackageName::key`]).
    pub name_key: String,
}

impl PackageKey {
    /// The key of `name` in `ecosystem` (normalized per the ecosystem).
    pub fn new(ecosystem: Ecosystem, name: &str) -> PackageKey {
        let name_key = PackageName::new(ecosystem.kind(), name).key().to_owned();
        PackageKey {
            ecosystem,
            name_key,
        }
    }

    /// The key of a component.
    pub fn of(component: &Component) -> PackageKey {
        PackageKey {
            ecosystem: component.ecosystem.clone(),
            name_key: component.name.key().to_owned(),
        }
    }
}

/// One continuous presence of an instance: `[from, to)`; `to` is `None` while present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExposureWindow {
    /// When it was first seen in this window.
    pub from: Timestamp,
    /// When it was found gone (the window's upper bound; it was last seen at or before).
    pub to: Option<Timestamp>,
}

/// An instance and all its windows of presence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exposure {
    /// The instance (present or gone).
    pub instance: InstanceRecord,
    /// Its windows, oldest first.
    pub windows: Vec<ExposureWindow>,
}
