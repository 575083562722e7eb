//! The agent snapshot as it travels: the JSON body of `POST /api/v1/inventory`
//! (documented in `docs/agent-api.md`), its content encodings, and its validation into the
//! store's [`Snapshot`].
//!
//! Everything here is hostile input. Bodies are decompressed with a hard bound on the decoded
//! size (a zstd or gzip bomb stops at the bound), parsed with the failing field's path in the
//! error (`instances[12].version: invalid type: integer`), and validated field by field with
//! bounds on every string and list, so a malformed snapshot is refused with a message that
//! says where — and never reaches the store half-applied.

use std::collections::BTreeMap;
use std::io::Read;

use serde::{Deserialize, Serialize};
use vigil_core::{Component, Ecosystem, Evidence};
use vigil_store::{
    ContainerInfo, HostInfo, InstanceInput, InstanceKey, ListeningSocket, ProcessInfo, Removals,
    Snapshot, SnapshotKind, Timestamp,
};

/// The snapshot format this server reads (`"schema"`; absent means 1).
pub const SCHEMA_VERSION: u32 = 1;

/// Longest host name, container id, ecosystem (bytes).
const MAX_SHORT: usize = 255;
/// Longest package name, version, image, label.
const MAX_NAME: usize = 1024;
/// Longest path, purl, command line.
const MAX_LONG: usize = 8192;
/// Most pids on one instance.
const MAX_PIDS: usize = 10_000;
/// Most labels on one host or container.
const MAX_LABELS: usize = 256;
/// Most listening sockets on one process.
const MAX_SOCKETS: usize = 4096;

/// A snapshot as an agent sends it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentSnapshot {
    /// Format version; absent means [`SCHEMA_VERSION`].
    #[serde(default = "schema_default")]
    pub schema: u32,
    /// The reporting host.
    pub host: AgentHost,
    /// Increases with every snapshot of the host; (host, sequence) is applied at most once.
    pub sequence: u64,
    /// `full` (the whole truth: what is not listed is gone) or `delta`.
    pub kind: AgentSnapshotKind,
    /// Containers seen (full) or added/changed (delta).
    #[serde(default)]
    pub containers: Vec<AgentContainer>,
    /// Processes seen (full) or added/changed (delta).
    #[serde(default)]
    pub processes: Vec<AgentProcess>,
    /// Component instances seen (full) or added/changed (delta).
    #[serde(default)]
    pub instances: Vec<AgentInstance>,
    /// What a delta removes (must be empty in a full snapshot).
    #[serde(default)]
    pub removed: AgentRemovals,
}

fn schema_default() -> u32 {
    SCHEMA_VERSION
}

/// Full or delta.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentSnapshotKind {
    /// Everything the agent sees.
    Full,
    /// Changes since the previous snapshot.
    Delta,
}

/// The host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentHost {
    /// Host name: the host's identity in the store.
    pub name: String,
    /// Operating system name.
    #[serde(default)]
    pub os_name: Option<String>,
    /// Operating system version.
    #[serde(default)]
    pub os_version: Option<String>,
    /// CPU architecture.
    #[serde(default)]
    pub arch: Option<String>,
    /// The agent's version.
    #[serde(default)]
    pub agent_version: Option<String>,
    /// Free-form labels (`owner`, `team`, `env`, …).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentContainer {
    /// The runtime's container id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Image reference.
    #[serde(default)]
    pub image: Option<String>,
    /// Image digest.
    #[serde(default)]
    pub image_digest: Option<String>,
    /// Runtime.
    #[serde(default)]
    pub runtime: Option<String>,
    /// Kubernetes namespace.
    #[serde(default)]
    pub k8s_namespace: Option<String>,
    /// Kubernetes pod.
    #[serde(default)]
    pub k8s_pod: Option<String>,
    /// Kubernetes workload.
    #[serde(default)]
    pub k8s_workload: Option<String>,
    /// Kubernetes workload kind.
    #[serde(default)]
    pub k8s_workload_kind: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A process.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentProcess {
    /// Pid.
    pub pid: u32,
    /// Start time, unix milliseconds (with the pid, the process's identity).
    pub start_time_ms: i64,
    /// Executable path.
    #[serde(default)]
    pub exe: Option<String>,
    /// Command line.
    #[serde(default)]
    pub cmdline: Option<String>,
    /// User.
    #[serde(default)]
    pub user: Option<String>,
    /// Its container's runtime id.
    #[serde(default)]
    pub container_id: Option<String>,
    /// Listening sockets.
    #[serde(default)]
    pub listening: Vec<AgentSocket>,
}

/// A listening socket.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentSocket {
    /// `tcp`, `tcp6`, `udp`, `udp6`.
    pub protocol: String,
    /// Bound address.
    pub address: String,
    /// Port.
    pub port: u16,
}

/// A component instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentInstance {
    /// OSV ecosystem (`npm`, `PyPI`, `Debian:12`).
    pub ecosystem: String,
    /// Package name as found.
    pub name: String,
    /// Version as found.
    pub version: String,
    /// Package URL; computed when absent.
    #[serde(default)]
    pub purl: Option<String>,
    /// Where it is (package directory, lockfile, binary).
    pub path: String,
    /// `LOADED`, `INSTALLED` or `DECLARED`.
    pub evidence: Evidence,
    /// A development dependency.
    #[serde(default)]
    pub dev: bool,
    /// Processes that load it.
    #[serde(default)]
    pub pids: Vec<u32>,
    /// Its container's runtime id (absent: on the host itself).
    #[serde(default)]
    pub container_id: Option<String>,
}

/// What a delta removes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentRemovals {
    /// Instances no longer present.
    #[serde(default)]
    pub instances: Vec<AgentInstanceKey>,
    /// Containers no longer running (runtime ids).
    #[serde(default)]
    pub containers: Vec<String>,
    /// Processes that exited.
    #[serde(default)]
    pub processes: Vec<AgentProcessKey>,
}

impl AgentRemovals {
    fn is_empty(&self) -> bool {
        self.instances.is_empty() && self.containers.is_empty() && self.processes.is_empty()
    }
}

/// Names a removed instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentInstanceKey {
    /// Ecosystem.
    pub ecosystem: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Path.
    pub path: String,
    /// Container runtime id.
    #[serde(default)]
    pub container_id: Option<String>,
}

/// Names an exited process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentProcessKey {
    /// Pid.
    pub pid: u32,
    /// Start time, unix milliseconds.
    pub start_time_ms: i64,
}

/// A snapshot body that was refused: where, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The `Content-Encoding` is not one this server reads.
    #[error("unsupported Content-Encoding {0:?}: send identity, gzip or zstd")]
    UnsupportedEncoding(String),
    /// The body (decoded) is larger than the limit.
    #[error("snapshot larger than {limit} bytes once decoded")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The compressed body is damaged.
    #[error("cannot decode the {encoding} body: {reason}")]
    Corrupt {
        /// gzip or zstd.
        encoding: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// Not the JSON this server expects; `path` names the field.
    #[error("{}{reason}", if path.is_empty() || path == "." { String::new() } else { format!("{path}: ") })]
    Invalid {
        /// The field (`instances[3].version`), empty for the document.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl SnapshotError {
    fn invalid(path: impl Into<String>, reason: impl Into<String>) -> SnapshotError {
        SnapshotError::Invalid {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Decodes a body sent with `Content-Encoding: encoding` (`None`/`identity`, `gzip`, `zstd`),
/// refusing anything that decodes to more than `limit` bytes.
pub fn decode_body(
    body: &[u8],
    encoding: Option<&str>,
    limit: usize,
) -> Result<Vec<u8>, SnapshotError> {
    let encoding = encoding.map(|e| e.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("" | "identity") => {
            if body.len() > limit {
                return Err(SnapshotError::TooLarge { limit });
            }
            Ok(body.to_vec())
        }
        Some("gzip" | "x-gzip") => bounded_read(flate2::read::GzDecoder::new(body), limit, "gzip"),
        Some("zstd") => {
            let decoder = ruzstd::decoding::StreamingDecoder::new(body).map_err(|e| {
                SnapshotError::Corrupt {
                    encoding: "zstd",
                    reason: e.to_string(),
                }
            })?;
            bounded_read(decoder, limit, "zstd")
        }
        Some(other) => Err(SnapshotError::UnsupportedEncoding(other.to_owned())),
    }
}

fn bounded_read(
    reader: impl Read,
    limit: usize,
    encoding: &'static str,
) -> Result<Vec<u8>, SnapshotError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| SnapshotError::Corrupt {
            encoding,
            reason: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(SnapshotError::TooLarge { limit });
    }
    Ok(out)
}

/// Parses a decoded body; the error names the failing field.
pub fn parse(json: &[u8]) -> Result<AgentSnapshot, SnapshotError> {
    let de = &mut serde_json::Deserializer::from_slice(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        SnapshotError::invalid(path, e.into_inner().to_string())
    })
}

fn check_text(path: &str, value: &str, max: usize, required: bool) -> Result<(), SnapshotError> {
    if required && value.trim().is_empty() {
        return Err(SnapshotError::invalid(path, "must not be empty"));
    }
    if value.len() > max {
        return Err(SnapshotError::invalid(
            path,
            format!("longer than {max} bytes"),
        ));
    }
    if value.contains('\0') {
        return Err(SnapshotError::invalid(path, "contains a NUL character"));
    }
    Ok(())
}

fn check_opt(path: &str, value: &Option<String>, max: usize) -> Result<(), SnapshotError> {
    match value {
        Some(v) => check_text(path, v, max, false),
        None => Ok(()),
    }
}

fn check_labels(path: &str, labels: &BTreeMap<String, String>) -> Result<(), SnapshotError> {
    if labels.len() > MAX_LABELS {
        return Err(SnapshotError::invalid(
            path,
            format!("more than {MAX_LABELS} labels"),
        ));
    }
    for (k, v) in labels {
        check_text(&format!("{path}.{k}"), k, MAX_NAME, true)?;
        check_text(&format!("{path}.{k}"), v, MAX_NAME, false)?;
    }
    Ok(())
}

fn component(
    path: &str,
    ecosystem: &str,
    name: &str,
    version: &str,
) -> Result<Component, SnapshotError> {
    check_text(&format!("{path}.ecosystem"), ecosystem, MAX_SHORT, true)?;
    check_text(&format!("{path}.name"), name, MAX_NAME, true)?;
    check_text(&format!("{path}.version"), version, MAX_NAME, false)?;
    Ok(Component::new(Ecosystem::parse(ecosystem), name, version))
}

/// A host or a container: an identity field (refused when out of bounds), optional free text
/// (cut to its bound by [`AgentSnapshot::conform`]) and labels.
trait Described {
    /// The identity field's name and bound.
    const IDENTITY: (&'static str, usize);
    /// The optional text fields' names and bounds, in the order of `texts`.
    const TEXT: &'static [(&'static str, usize)];
    fn identity(&self) -> &str;
    fn texts(&self) -> Vec<&Option<String>>;
    fn texts_mut(&mut self) -> Vec<&mut Option<String>>;
    fn labels(&self) -> &BTreeMap<String, String>;
    fn labels_mut(&mut self) -> &mut BTreeMap<String, String>;

    fn check(&self, p: &str) -> Result<(), SnapshotError> {
        let (name, max) = Self::IDENTITY;
        check_text(&format!("{p}.{name}"), self.identity(), max, true)?;
        for ((name, max), value) in Self::TEXT.iter().zip(self.texts()) {
            check_opt(&format!("{p}.{name}"), value, *max)?;
        }
        check_labels(&format!("{p}.labels"), self.labels())
    }

    fn conform(&mut self) {
        for ((_, max), value) in Self::TEXT.iter().zip(self.texts_mut()) {
            clamp_opt(value, *max);
        }
        conform_labels(self.labels_mut());
    }
}

impl Described for AgentHost {
    const IDENTITY: (&'static str, usize) = ("name", MAX_SHORT);
    const TEXT: &'static [(&'static str, usize)] = &[
        ("os_name", MAX_NAME),
        ("os_version", MAX_NAME),
        ("arch", MAX_SHORT),
        ("agent_version", MAX_SHORT),
    ];
    fn identity(&self) -> &str {
        &self.name
    }
    fn texts(&self) -> Vec<&Option<String>> {
        vec![
            &self.os_name,
            &self.os_version,
            &self.arch,
            &self.agent_version,
        ]
    }
    fn texts_mut(&mut self) -> Vec<&mut Option<String>> {
        let h = self;
        vec![
            &mut h.os_name,
            &mut h.os_version,
            &mut h.arch,
            &mut h.agent_version,
        ]
    }
    fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }
    fn labels_mut(&mut self) -> &mut BTreeMap<String, String> {
        &mut self.labels
    }
}

impl Described for AgentContainer {
    const IDENTITY: (&'static str, usize) = ("id", MAX_SHORT);
    const TEXT: &'static [(&'static str, usize)] = &[
        ("name", MAX_NAME),
        ("image", MAX_NAME),
        ("image_digest", MAX_NAME),
        ("runtime", MAX_SHORT),
        ("k8s_namespace", MAX_NAME),
        ("k8s_pod", MAX_NAME),
        ("k8s_workload", MAX_NAME),
        ("k8s_workload_kind", MAX_SHORT),
    ];
    fn identity(&self) -> &str {
        &self.id
    }
    fn texts(&self) -> Vec<&Option<String>> {
        let c = self;
        vec![
            &c.name,
            &c.image,
            &c.image_digest,
            &c.runtime,
            &c.k8s_namespace,
            &c.k8s_pod,
            &c.k8s_workload,
            &c.k8s_workload_kind,
        ]
    }
    fn texts_mut(&mut self) -> Vec<&mut Option<String>> {
        let c = self;
        vec![
            &mut c.name,
            &mut c.image,
            &mut c.image_digest,
            &mut c.runtime,
            &mut c.k8s_namespace,
            &mut c.k8s_pod,
            &mut c.k8s_workload,
            &mut c.k8s_workload_kind,
        ]
    }
    fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }
    fn labels_mut(&mut self) -> &mut BTreeMap<String, String> {
        &mut self.labels
    }
}

impl AgentProcess {
    fn check(&self, p: &str) -> Result<(), SnapshotError> {
        check_opt(&format!("{p}.exe"), &self.exe, MAX_LONG)?;
        check_opt(&format!("{p}.cmdline"), &self.cmdline, MAX_LONG)?;
        check_opt(&format!("{p}.user"), &self.user, MAX_SHORT)?;
        check_opt(&format!("{p}.container_id"), &self.container_id, MAX_SHORT)?;
        if self.listening.len() > MAX_SOCKETS {
            return Err(SnapshotError::invalid(
                format!("{p}.listening"),
                format!("more than {MAX_SOCKETS} sockets"),
            ));
        }
        for (j, s) in self.listening.iter().enumerate() {
            check_text(
                &format!("{p}.listening[{j}].protocol"),
                &s.protocol,
                16,
                true,
            )?;
            check_text(
                &format!("{p}.listening[{j}].address"),
                &s.address,
                MAX_SHORT,
                false,
            )?;
        }
        Ok(())
    }

    fn conform(&mut self) {
        clamp_opt(&mut self.exe, MAX_LONG);
        clamp_opt(&mut self.cmdline, MAX_LONG);
        clamp_opt(&mut self.user, MAX_SHORT);
        self.listening.truncate(MAX_SOCKETS);
    }
}

impl AgentInstance {
    fn check(&self, p: &str) -> Result<Component, SnapshotError> {
        let component = component(p, &self.ecosystem, &self.name, &self.version)?;
        check_text(&format!("{p}.path"), &self.path, MAX_LONG, true)?;
        check_opt(&format!("{p}.purl"), &self.purl, MAX_LONG)?;
        check_opt(&format!("{p}.container_id"), &self.container_id, MAX_SHORT)?;
        if self.pids.len() > MAX_PIDS {
            return Err(SnapshotError::invalid(
                format!("{p}.pids"),
                format!("more than {MAX_PIDS} pids"),
            ));
        }
        Ok(component)
    }

    fn conform(&mut self) {
        // A purl is derived from the rest; one that does not fit is recomputed by the server.
        if self
            .purl
            .as_ref()
            .is_some_and(|u| check_text("", u, MAX_LONG, false).is_err())
        {
            self.purl = None;
        }
        self.pids.truncate(MAX_PIDS);
    }
}

impl AgentInstanceKey {
    fn check(&self, p: &str) -> Result<Component, SnapshotError> {
        let component = component(p, &self.ecosystem, &self.name, &self.version)?;
        check_text(&format!("{p}.path"), &self.path, MAX_LONG, true)?;
        check_opt(&format!("{p}.container_id"), &self.container_id, MAX_SHORT)?;
        Ok(component)
    }
}

/// Cuts free text to at most `max` bytes on a character boundary, marking the cut with `…`,
/// and replaces NUL characters (which no store column takes) with U+FFFD.
fn clamp(text: &mut String, max: usize) {
    if text.contains('\0') {
        *text = text.replace('\0', "\u{FFFD}");
    }
    if text.len() <= max {
        return;
    }
    let marker = '…';
    let mut cut = max.saturating_sub(marker.len_utf8());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push(marker);
}

fn clamp_opt(value: &mut Option<String>, max: usize) {
    if let Some(text) = value {
        clamp(text, max);
    }
}

fn conform_labels(labels: &mut BTreeMap<String, String>) {
    labels.retain(|k, _| check_text("", k, MAX_NAME, true).is_ok());
    while labels.len() > MAX_LABELS {
        labels.pop_last();
    }
    for value in labels.values_mut() {
        clamp(value, MAX_NAME);
    }
}

/// An item [`AgentSnapshot::conform`] left out, for the agent's log: which, and why.
fn dropped(kind: &str, what: &str, error: &SnapshotError) -> String {
    let mut what = what.to_owned();
    clamp(&mut what, 120);
    let reason = match error {
        SnapshotError::Invalid { path, reason } => {
            let field = path.rsplit('.').next().unwrap_or(path);
            format!("{field}: {reason}")
        }
        other => other.to_string(),
    };
    format!("{kind} {what:?} not reported: {reason}")
}

impl AgentSnapshot {
    /// The wire form of a store snapshot (what an agent sends); the inverse of
    /// [`AgentSnapshot::into_store`] for every snapshot that one accepts.
    pub fn from_store(snapshot: &Snapshot) -> AgentSnapshot {
        let h = &snapshot.host;
        let instance_key = |k: &InstanceKey| AgentInstanceKey {
            ecosystem: k.component.ecosystem.to_string(),
            name: k.component.name.as_str().to_owned(),
            version: k.component.version.to_string(),
            path: k.path.clone(),
            container_id: k.container_id.clone(),
        };
        let (kind, removed) = match &snapshot.kind {
            SnapshotKind::Full => (AgentSnapshotKind::Full, AgentRemovals::default()),
            SnapshotKind::Delta(r) => (
                AgentSnapshotKind::Delta,
                AgentRemovals {
                    instances: r.instances.iter().map(instance_key).collect(),
                    containers: r.containers.clone(),
                    processes: r
                        .processes
                        .iter()
                        .map(|(pid, t)| AgentProcessKey {
                            pid: *pid,
                            start_time_ms: t.unix_millis(),
                        })
                        .collect(),
                },
            ),
        };
        AgentSnapshot {
            schema: SCHEMA_VERSION,
            host: AgentHost {
                name: h.name.clone(),
                os_name: h.os_name.clone(),
                os_version: h.os_version.clone(),
                arch: h.arch.clone(),
                agent_version: h.agent_version.clone(),
                labels: h.labels.clone(),
            },
            sequence: snapshot.sequence,
            kind,
            containers: snapshot
                .containers
                .iter()
                .map(|c| AgentContainer {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    image: c.image.clone(),
                    image_digest: c.image_digest.clone(),
                    runtime: c.runtime.clone(),
                    k8s_namespace: c.k8s_namespace.clone(),
                    k8s_pod: c.k8s_pod.clone(),
                    k8s_workload: c.k8s_workload.clone(),
                    k8s_workload_kind: c.k8s_workload_kind.clone(),
                    labels: c.labels.clone(),
                })
                .collect(),
            processes: snapshot
                .processes
                .iter()
                .map(|p| AgentProcess {
                    pid: p.pid,
                    start_time_ms: p.start_time.unix_millis(),
                    exe: p.exe.clone(),
                    cmdline: p.cmdline.clone(),
                    user: p.user.clone(),
                    container_id: p.container_id.clone(),
                    listening: p
                        .listening
                        .iter()
                        .map(|s| AgentSocket {
                            protocol: s.protocol.clone(),
                            address: s.address.clone(),
                            port: s.port,
                        })
                        .collect(),
                })
                .collect(),
            instances: snapshot
                .instances
                .iter()
                .map(|i| AgentInstance {
                    ecosystem: i.component.ecosystem.to_string(),
                    name: i.component.name.as_str().to_owned(),
                    version: i.component.version.to_string(),
                    purl: i.purl.clone(),
                    path: i.path.clone(),
                    evidence: i.evidence,
                    dev: i.dev,
                    pids: i.pids.clone(),
                    container_id: i.container_id.clone(),
                })
                .collect(),
            removed,
        }
    }

    /// Brings a snapshot within the bounds [`AgentSnapshot::into_store`] enforces, so one
    /// odd item cannot get the whole snapshot refused: free text (command lines, image names,
    /// label values) is cut at its bound with a `…` marker, lists at theirs, and an item whose
    /// identity is out of bounds (a planted package whose name is 2 KiB or holds a NUL) is
    /// left out. Returns a line per item left out, for the agent's log.
    ///
    /// Why the agent and not the server: the server refuses out-of-bounds snapshots whole
    /// (they are malformed, and a half-applied snapshot would read as removals), so an agent
    /// that sent a process with a 9 KiB command line as-is would be blinded by it.
    pub fn conform(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        self.host.conform();
        self.containers.retain_mut(|c| {
            c.conform();
            c.check("container")
                .map_err(|e| out.push(dropped("container", &c.id, &e)))
                .is_ok()
        });
        self.processes.retain_mut(|p| {
            p.conform();
            p.check("process")
                .map_err(|e| out.push(dropped("process", &p.pid.to_string(), &e)))
                .is_ok()
        });
        self.instances.retain_mut(|i| {
            i.conform();
            i.check("instance")
                .map_err(|e| out.push(dropped(&format!("{} package", i.ecosystem), &i.name, &e)))
                .is_ok()
        });
        // A removal that cannot name its instance names one the server never got.
        self.removed
            .instances
            .retain(|k| k.check("removed").is_ok());
        self.removed
            .containers
            .retain(|c| check_text("", c, MAX_SHORT, true).is_ok());
        out
    }

    /// Validates the snapshot and converts it to what the store applies.
    pub fn into_store(self) -> Result<Snapshot, SnapshotError> {
        if self.schema != SCHEMA_VERSION {
            return Err(SnapshotError::invalid(
                "schema",
                format!(
                    "snapshot schema {} is not supported (this server reads {SCHEMA_VERSION})",
                    self.schema
                ),
            ));
        }
        self.host.check("host")?;
        if i64::try_from(self.sequence).is_err() {
            return Err(SnapshotError::invalid(
                "sequence",
                "larger than 9223372036854775807",
            ));
        }
        let kind = match self.kind {
            AgentSnapshotKind::Full => {
                if !self.removed.is_empty() {
                    return Err(SnapshotError::invalid(
                        "removed",
                        "a full snapshot removes nothing explicitly (what it does not list is gone)",
                    ));
                }
                SnapshotKind::Full
            }
            AgentSnapshotKind::Delta => {
                let mut removals = Removals::default();
                for (i, k) in self.removed.instances.iter().enumerate() {
                    let component = k.check(&format!("removed.instances[{i}]"))?;
                    removals.instances.push(InstanceKey {
                        component,
                        container_id: k.container_id.clone(),
                        path: k.path.clone(),
                    });
                }
                for (i, c) in self.removed.containers.iter().enumerate() {
                    check_text(&format!("removed.containers[{i}]"), c, MAX_SHORT, true)?;
                }
                removals.containers = self.removed.containers.clone();
                removals.processes = self
                    .removed
                    .processes
                    .iter()
                    .map(|p| (p.pid, Timestamp::from_unix_millis(p.start_time_ms)))
                    .collect();
                SnapshotKind::Delta(removals)
            }
        };
        let mut containers = Vec::with_capacity(self.containers.len());
        for (i, c) in self.containers.into_iter().enumerate() {
            c.check(&format!("containers[{i}]"))?;
            containers.push(ContainerInfo {
                id: c.id,
                name: c.name,
                image: c.image,
                image_digest: c.image_digest,
                runtime: c.runtime,
                k8s_namespace: c.k8s_namespace,
                k8s_pod: c.k8s_pod,
                k8s_workload: c.k8s_workload,
                k8s_workload_kind: c.k8s_workload_kind,
                labels: c.labels,
            });
        }
        let mut processes = Vec::with_capacity(self.processes.len());
        for (i, pr) in self.processes.into_iter().enumerate() {
            pr.check(&format!("processes[{i}]"))?;
            let listening = pr
                .listening
                .into_iter()
                .map(|s| ListeningSocket {
                    protocol: s.protocol,
                    address: s.address,
                    port: s.port,
                })
                .collect();
            processes.push(ProcessInfo {
                pid: pr.pid,
                start_time: Timestamp::from_unix_millis(pr.start_time_ms),
                exe: pr.exe,
                cmdline: pr.cmdline,
                user: pr.user,
                container_id: pr.container_id,
                listening,
            });
        }
        let mut instances = Vec::with_capacity(self.instances.len());
        for (i, inst) in self.instances.into_iter().enumerate() {
            let component = inst.check(&format!("instances[{i}]"))?;
            instances.push(InstanceInput {
                component,
                purl: inst.purl,
                container_id: inst.container_id,
                path: inst.path,
                evidence: inst.evidence,
                dev: inst.dev,
                pids: inst.pids,
            });
        }
        Ok(Snapshot {
            host: HostInfo {
                name: self.host.name,
                os_name: self.host.os_name,
                os_version: self.host.os_version,
                arch: self.host.arch,
                agent_version: self.host.agent_version,
                labels: self.host.labels,
            },
            sequence: self.sequence,
            kind,
            containers,
            processes,
            instances,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn body() -> serde_json::Value {
        serde_json::json!({
            "host": {"name": "web-1", "os_name": "Debian GNU/Linux", "labels": {"team": "payments"}},
            "sequence": 7,
            "kind": "full",
            "containers": [{"id": "c1", "image": "node:20", "k8s_namespace": "payments"}],
            "processes": [{"pid": 42, "start_time_ms": 1700000000000i64, "exe": "/usr/bin/node",
                           "listening": [{"protocol": "tcp", "address": "0.0.0.0", "port": 8080}]}],
            "instances": [
                {"ecosystem": "npm", "name": "debug", "version": "4.4.2",
                 "path": "/srv/app/node_modules/debug", "evidence": "LOADED", "pids": [42]},
                {"ecosystem": "npm", "name": "chalk", "version": "5.6.1",
                 "path": "/app/node_modules/chalk", "evidence": "INSTALLED", "container_id": "c1"}
            ]
        })
    }

    /// Sets the field at a JSON pointer, adding it to its object when absent.
    fn set(doc: &mut serde_json::Value, pointer: &str, value: &serde_json::Value) {
        match doc.pointer_mut(pointer) {
            Some(slot) => *slot = value.clone(),
            None => {
                let (parent, key) = pointer.rsplit_once('/').unwrap();
                doc.pointer_mut(parent)
                    .and_then(|v| v.as_object_mut())
                    .unwrap()
                    .insert(key.to_owned(), value.clone());
            }
        }
    }

    #[test]
    fn a_full_snapshot_converts() {
        let bytes = serde_json::to_vec(&body()).unwrap();
        let snapshot = parse(&bytes).unwrap().into_store().unwrap();
        assert_eq!(snapshot.host.name, "web-1");
        assert_eq!(snapshot.sequence, 7);
        assert_eq!(snapshot.kind, SnapshotKind::Full);
        assert_eq!(snapshot.instances.len(), 2);
        assert_eq!(snapshot.instances[0].evidence, Evidence::Loaded);
        assert_eq!(snapshot.instances[1].container_id.as_deref(), Some("c1"));
        assert_eq!(snapshot.processes[0].listening[0].port, 8080);
    }

    #[test]
    fn the_wire_form_round_trips() {
        let mut bodies = vec![body()];
        let mut delta = body();
        delta["kind"] = serde_json::json!("delta");
        delta["removed"] = serde_json::json!({
            "instances": [{"ecosystem": "npm", "name": "chalk", "version": "5.6.1", "path": "/a"}],
            "containers": ["c9"],
            "processes": [{"pid": 3, "start_time_ms": 5}]
        });
        bodies.push(delta);
        for b in bodies {
            let bytes = serde_json::to_vec(&b).unwrap();
            let store = parse(&bytes).unwrap().into_store().unwrap();
            let again = AgentSnapshot::from_store(&store).into_store().unwrap();
            assert_eq!(store, again);
        }
    }

    #[test]
    fn refusals_name_the_field() {
        let cases: &[(&str, serde_json::Value, &str)] = &[
            (
                "/host/name",
                serde_json::json!(""),
                "host.name: must not be empty",
            ),
            (
                "/sequence",
                serde_json::json!(-1),
                "sequence: invalid value",
            ),
            (
                "/kind",
                serde_json::json!("partial"),
                "kind: unknown variant",
            ),
            (
                "/instances/1/version",
                serde_json::json!(5),
                "instances[1].version: invalid type",
            ),
            (
                "/instances/0/evidence",
                serde_json::json!("SEEN"),
                "instances[0].evidence: unknown variant",
            ),
            (
                "/instances/0/name",
                serde_json::json!(" "),
                "instances[0].name: must not be empty",
            ),
            (
                "/instances/0/path",
                serde_json::json!("a\u{0}b"),
                "instances[0].path: contains a NUL",
            ),
            ("/schema", serde_json::json!(9), "schema: snapshot schema 9"),
            (
                "/removed",
                serde_json::json!({"containers": ["c1"]}),
                "removed: a full snapshot",
            ),
            (
                "/host/name",
                serde_json::json!("x".repeat(300)),
                "host.name: longer than 255",
            ),
        ];
        for (pointer, value, want) in cases {
            let mut doc = body();
            set(&mut doc, pointer, value);
            let bytes = serde_json::to_vec(&doc).unwrap();
            let err = parse(&bytes)
                .and_then(AgentSnapshot::into_store)
                .unwrap_err();
            assert!(err.to_string().starts_with(want), "{pointer}: {err}");
        }
    }

    #[test]
    fn deltas_carry_removals() {
        let mut doc = body();
        doc["kind"] = serde_json::json!("delta");
        doc["removed"] = serde_json::json!({
            "instances": [{"ecosystem": "npm", "name": "x", "version": "1", "path": "/p"}],
            "containers": ["c9"],
            "processes": [{"pid": 1, "start_time_ms": 5}]
        });
        let snapshot = parse(&serde_json::to_vec(&doc).unwrap())
            .unwrap()
            .into_store()
            .unwrap();
        let SnapshotKind::Delta(removals) = snapshot.kind else {
            panic!("not a delta")
        };
        assert_eq!(removals.instances.len(), 1);
        assert_eq!(removals.containers, vec!["c9".to_string()]);
    }

    #[test]
    fn encodings_decode_with_a_bound() {
        let plain = serde_json::to_vec(&body()).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let zst = ruzstd::encoding::compress_to_vec(
            plain.as_slice(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        for (encoding, bytes) in [(None, &plain), (Some("gzip"), &gz), (Some("zstd"), &zst)] {
            assert_eq!(&decode_body(bytes, encoding, 1 << 20).unwrap(), &plain);
            assert!(matches!(
                decode_body(bytes, encoding, 10),
                Err(SnapshotError::TooLarge { .. })
            ));
        }
        // A bomb: 64 MiB of zeros stops at the bound.
        let zeros = vec![0u8; 64 << 20];
        let bomb = ruzstd::encoding::compress_to_vec(
            zeros.as_slice(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert!(bomb.len() < 1 << 20);
        assert!(matches!(
            decode_body(&bomb, Some("zstd"), 1 << 20),
            Err(SnapshotError::TooLarge { .. })
        ));
        assert!(matches!(
            decode_body(b"not gzip", Some("gzip"), 100),
            Err(SnapshotError::Corrupt { .. })
        ));
        assert!(matches!(
            decode_body(b"x", Some("br"), 100),
            Err(SnapshotError::UnsupportedEncoding(_))
        ));
    }

    /// What the agent meets on a real host, one case per row: (JSON pointer, value, what
    /// `conform` must make of it — `Some(check)` kept and checked, `None` the item dropped).
    #[test]
    fn conform_keeps_the_snapshot_acceptable() {
        type Check = fn(&serde_json::Value) -> bool;
        let long_cmdline = format!("java -cp {}", "/opt/lib/x.jar:".repeat(700));
        let cases: &[(&str, serde_json::Value, Option<Check>)] = &[
            // A Java classpath longer than 8 KiB: cut with a marker, the process kept.
            (
                "/processes/0/cmdline",
                serde_json::json!(long_cmdline),
                Some(|v| {
                    let c = v["processes"][0]["cmdline"].as_str().unwrap();
                    c.len() <= MAX_LONG && c.ends_with('…') && c.starts_with("java -cp /opt/lib")
                }),
            ),
            // The cut lands inside a multi-byte character: moved back to its boundary.
            (
                "/processes/0/cmdline",
                serde_json::json!("é".repeat(5000)),
                Some(|v| {
                    let c = v["processes"][0]["cmdline"].as_str().unwrap();
                    c.len() <= MAX_LONG && c.ends_with("é…")
                }),
            ),
            (
                "/processes/0/cmdline",
                serde_json::json!("node\u{0}--evil"),
                Some(|v| {
                    !v["processes"][0]["cmdline"]
                        .as_str()
                        .unwrap()
                        .contains('\0')
                }),
            ),
            (
                "/containers/0/image",
                serde_json::json!("r/".repeat(600)),
                Some(|v| v["containers"][0]["image"].as_str().unwrap().len() <= MAX_NAME),
            ),
            (
                "/host/labels",
                serde_json::json!(
                    (0..300)
                        .map(|i| (format!("k{i:03}"), "v"))
                        .collect::<BTreeMap<_, _>>()
                ),
                Some(|v| v["host"]["labels"].as_object().unwrap().len() == MAX_LABELS),
            ),
            (
                "/instances/0/pids",
                serde_json::json!((0..20_000).collect::<Vec<u32>>()),
                Some(|v| v["instances"][0]["pids"].as_array().unwrap().len() == MAX_PIDS),
            ),
            (
                "/instances/0/purl",
                serde_json::json!("p".repeat(9000)),
                Some(|v| v["instances"][0]["purl"].is_null()),
            ),
            // Identity out of bounds: a planted package with a 2 KiB name, or a NUL in it.
            (
                "/instances/0/name",
                serde_json::json!("n".repeat(2000)),
                None,
            ),
            ("/instances/0/name", serde_json::json!("debug\u{0}"), None),
            (
                "/instances/0/version",
                serde_json::json!("1".repeat(2000)),
                None,
            ),
            ("/containers/0/id", serde_json::json!("c".repeat(300)), None),
        ];
        for (pointer, value, check) in cases {
            let mut doc = body();
            set(&mut doc, pointer, value);
            let mut wire: AgentSnapshot = serde_json::from_value(doc).unwrap();
            assert!(
                wire.clone().into_store().is_err(),
                "{pointer}: refused before"
            );
            let (instances, containers) = (wire.instances.len(), wire.containers.len());
            let dropped = wire.conform();
            let after = serde_json::to_value(&wire).unwrap();
            match check {
                Some(check) => {
                    assert!(dropped.is_empty(), "{pointer}: {dropped:?}");
                    assert!(check(&after), "{pointer}: {after}");
                }
                None => {
                    assert_eq!(dropped.len(), 1, "{pointer}: {dropped:?}");
                    assert!(dropped[0].len() < 300, "{pointer}: the log line is bounded");
                    assert_eq!(
                        wire.instances.len() + wire.containers.len(),
                        instances + containers - 1,
                        "{pointer}"
                    );
                }
            }
            wire.into_store()
                .unwrap_or_else(|e| panic!("{pointer}: refused after conform: {e}"));
        }
    }

    proptest::proptest! {
        /// Whatever free text and lists an agent collects, the conformed snapshot is accepted.
        #[test]
        fn conformed_snapshots_are_accepted(
            cmdline in ".{0,40}",
            repeat in 0usize..400,
            name in "\\PC{0,3}",
            name_repeat in 1usize..600,
            labels in proptest::collection::btree_map(".{0,8}", ".{0,8}", 0..4),
        ) {
            let mut doc = body();
            doc["processes"][0]["cmdline"] = serde_json::json!(cmdline.repeat(repeat));
            doc["instances"][1]["name"] = serde_json::json!(name.repeat(name_repeat));
            doc["containers"][0]["labels"] = serde_json::json!(labels);
            let mut wire: AgentSnapshot = serde_json::from_value(doc).unwrap();
            wire.conform();
            proptest::prop_assert!(wire.into_store().is_ok());
        }

        #[test]
        fn hostile_bodies_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            for encoding in [None, Some("gzip"), Some("zstd")] {
                if let Ok(decoded) = decode_body(&bytes, encoding, 4096) {
                    let _ = parse(&decoded).map(AgentSnapshot::into_store);
                }
            }
        }
    }
}
