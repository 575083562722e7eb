//! [`ContainerIdentity`]: which container (and Kubernetes pod) a process runs in.
//!
//! The primary source is `/proc/PID/cgroup`. Every container engine puts a container's
//! processes in a cgroup whose path ends in the container id, and the kubelet nests those under
//! a pod cgroup named after the pod uid and its QoS class:
//!
//! | layout | cgroup path (v2 line `0::…`, or any v1 hierarchy line) |
//! |---|---|
//! | docker, cgroupfs driver | `/docker/<id>` |
//! | docker, systemd driver | `/system.slice/docker-<id>.scope` |
//! | Kubernetes, systemd driver | `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope` (guaranteed pods sit directly under `kubepods.slice` as `kubepods-pod<uid>.slice`) |
//! | Kubernetes, cgroupfs driver | `/kubepods/burstable/pod<uid>/<id>` (guaranteed: `/kubepods/pod<uid>/<id>`) |
//! | CRI-O | `…/crio-<id>.scope` (`crio-conmon-<id>.scope` is the monitor, not the container) |
//! | podman | `/machine.slice/libpod-<id>.scope[/container]`, rootless under `user@UID.service`, cgroupfs `/libpod_parent/libpod-<id>` |
//! | kind / nested kubelet | segments prefixed `kubelet-` (`kubelet-kubepods-besteffort-pod<uid>.slice`) |
//!
//! When a process sits in a private cgroup namespace its cgroup reads `0::/` and says nothing;
//! then the bind mounts the engine sets up (`/etc/hostname`, `/etc/hosts`, `resolv.conf`,
//! `/dev/termination-log`) still name the container or pod in the *root* column of
//! `/proc/PID/mountinfo`, which [`ContainerIdentity::from_mountinfo`] reads.
//!
//! The Kubernetes namespace, pod name and workload are not in either file; they come from the
//! CRI or the API server (not yet implemented). Both parsers are pure functions over text:
//! tested against recorded layouts in `tests/fixtures/{cgroup,mountinfo}`.

use std::fmt;

use serde::Serialize;

/// The container engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerRuntime {
    /// Docker (dockerd / moby), also under dockershim in Kubernetes.
    Docker,
    /// containerd (CRI plugin in Kubernetes, or nerdctl).
    Containerd,
    /// CRI-O.
    #[serde(rename = "cri-o")]
    CriO,
    /// Podman.
    Podman,
    /// A container we could place (id and/or pod) but whose engine the layout does not name:
    /// the Kubernetes cgroupfs layout is the same for every CRI runtime.
    Unknown,
}

impl ContainerRuntime {
    /// Lower-case name used in JSON and queries.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerRuntime::Docker => "docker",
            ContainerRuntime::Containerd => "containerd",
            ContainerRuntime::CriO => "cri-o",
            ContainerRuntime::Podman => "podman",
            ContainerRuntime::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ContainerRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kubernetes pod QoS class, from the kubelet's cgroup layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum QosClass {
    /// Requests == limits for every container: cgroup directly under `kubepods`.
    Guaranteed,
    /// `kubepods/burstable`.
    Burstable,
    /// `kubepods/besteffort`.
    BestEffort,
}

/// Where an identity was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentitySource {
    /// `/proc/PID/cgroup`.
    Cgroup,
    /// `/proc/PID/mountinfo` (engine bind mounts).
    Mountinfo,
}

/// The pod a containerized process belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct PodIdentity {
    /// The pod uid, dashed (`0b7c4c3e-9a1f-4d8e-b2a7-5c6d7e8f9a0b`).
    pub uid: String,
    /// QoS class, when the cgroup layout shows it.
    pub qos: Option<QosClass>,
    /// The container's name in the pod spec, when a kubelet mount shows it.
    pub container_name: Option<String>,
}

/// The container a process runs in.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ContainerIdentity {
    /// The engine.
    pub runtime: ContainerRuntime,
    /// The full 64-hex container id; `None` when only the pod is known (containerd seen
    /// through mountinfo shows its sandbox, not the container).
    pub id: Option<String>,
    /// The Kubernetes pod, when the container is part of one.
    pub pod: Option<PodIdentity>,
    /// Which file told us.
    pub source: IdentitySource,
}

impl ContainerIdentity {
    /// Reads `/proc/PID/cgroup` text. Every line (v1 hierarchies and the v2 `0::` line) is
    /// tried; the first that names a container wins — on a container they all agree, and on a
    /// hybrid host the v2 line may be uninformative.
    pub fn from_cgroup(text: &str) -> Option<ContainerIdentity> {
        text.lines().find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, _, path) = (parts.next()?, parts.next()?, parts.next()?);
            from_cgroup_path(path)
        })
    }

    /// Reads `/proc/PID/mountinfo` text for the bind mounts container engines and the
    /// kubelet set up. `None` when nothing in it is an engine's.
    pub fn from_mountinfo(text: &str) -> Option<ContainerIdentity> {
        let mut docker = None;
        let mut storage = None;
        let mut containerd = false;
        let mut pod_uid = None;
        let mut container_name = None;
        for line in text.lines() {
            let Some(root) = line.split(' ').nth(3) else {
                continue;
            };
            let root = unescape_mountinfo(root);
            if let Some(id) = id_after(&root, "/docker/containers/") {
                docker.get_or_insert(id);
            }
            if let Some(id) = id_after(&root, "/containers/storage/overlay-containers/") {
                storage.get_or_insert(id);
            }
            if root.contains("/io.containerd.grpc.v1.cri/sandboxes/") {
                containerd = true;
            }
            if let Some(rest) = after(&root, "/kubelet/pods/") {
                let mut segs = rest.split('/');
                if let Some(uid) = segs.next().filter(|u| is_pod_uid(u)) {
                    pod_uid.get_or_insert_with(|| uid.to_string());
                    if segs.next() == Some("containers")
                        && let Some(name) = segs.next().filter(|n| !n.is_empty())
                    {
                        container_name.get_or_insert_with(|| name.to_string());
                    }
                }
            }
        }
        let pod = pod_uid.map(|uid| PodIdentity {
            uid,
            qos: None,
            container_name,
        });
        let (runtime, id) = match (docker, storage) {
            (Some(id), _) => (ContainerRuntime::Docker, Some(id)),
            // containers/storage is shared by CRI-O and podman; only CRI-O runs kubelet pods.
            (None, Some(id)) if pod.is_some() => (ContainerRuntime::CriO, Some(id)),
            (None, Some(id)) => (ContainerRuntime::Podman, Some(id)),
            (None, None) if containerd => (ContainerRuntime::Containerd, None),
            (None, None) if pod.is_some() => (ContainerRuntime::Unknown, None),
            (None, None) => return None,
        };
        Some(ContainerIdentity {
            runtime,
            id,
            pod,
            source: IdentitySource::Mountinfo,
        })
    }
}

/// One cgroup path, walked segment by segment; the innermost container segment wins (docker
/// in docker nests `/docker/<outer>/docker/<inner>`).
fn from_cgroup_path(path: &str) -> Option<ContainerIdentity> {
    let mut kubepods = false;
    let mut qos = None;
    let mut pod_uid: Option<String> = None;
    let mut container: Option<(ContainerRuntime, String)> = None;
    let mut previous = "";
    for segment in path.split('/') {
        let seg = segment.strip_prefix("kubelet-").unwrap_or(segment);
        if seg == "kubepods" || seg == "kubepods.slice" {
            kubepods = true;
        } else if let Some(rest) = seg.strip_prefix("kubepods-") {
            // systemd driver: `kubepods-burstable.slice`, `kubepods-besteffort-pod<uid>.slice`,
            // `kubepods-pod<uid>.slice`.
            kubepods = true;
            let rest = rest.strip_suffix(".slice").unwrap_or(rest);
            let (class, pod) = split_qos(rest);
            if class.is_some() {
                qos = class;
            }
            if let Some(uid) = pod.and_then(|p| p.strip_prefix("pod")) {
                let uid = uid.replace('_', "-");
                if is_pod_uid(&uid) {
                    pod_uid = Some(uid);
                }
            }
        } else if kubepods && pod_uid.is_none() && (seg == "burstable" || seg == "besteffort") {
            qos = split_qos(seg).0;
        } else if kubepods && let Some(uid) = seg.strip_prefix("pod").filter(|u| is_pod_uid(u)) {
            pod_uid = Some(uid.to_string());
        } else if let Some(found) = container_segment(seg, previous, pod_uid.is_some()) {
            container = Some(found);
        }
        previous = seg;
    }
    let (runtime, id) = container?;
    let pod = pod_uid.map(|uid| PodIdentity {
        uid,
        qos: Some(qos.unwrap_or(QosClass::Guaranteed)),
        container_name: None,
    });
    Some(ContainerIdentity {
        runtime,
        id: Some(id),
        pod,
        source: IdentitySource::Cgroup,
    })
}

/// `burstable-pod<uid>` → (Burstable, `pod<uid>`); `pod<uid>` → (None, `pod<uid>`).
fn split_qos(s: &str) -> (Option<QosClass>, Option<&str>) {
    for (name, class) in [
        ("burstable", QosClass::Burstable),
        ("besteffort", QosClass::BestEffort),
    ] {
        if let Some(rest) = s.strip_prefix(name) {
            return (Some(class), rest.strip_prefix('-'));
        }
    }
    (None, Some(s))
}

/// Recognizes a container segment of a cgroup path.
fn container_segment(
    seg: &str,
    previous: &str,
    under_pod: bool,
) -> Option<(ContainerRuntime, String)> {
    let bare = seg.strip_suffix(".scope").unwrap_or(seg);
    const PREFIXES: [(&str, ContainerRuntime); 5] = [
        ("docker-", ContainerRuntime::Docker),
        ("cri-containerd-", ContainerRuntime::Containerd),
        ("crio-", ContainerRuntime::CriO),
        ("libpod-", ContainerRuntime::Podman),
        ("nerdctl-", ContainerRuntime::Containerd),
    ];
    for (prefix, runtime) in PREFIXES {
        if let Some(id) = bare.strip_prefix(prefix)
            && is_container_id(id)
        {
            return Some((runtime, id.to_string()));
        }
    }
    if is_container_id(seg) {
        if previous == "docker" {
            return Some((ContainerRuntime::Docker, seg.to_string()));
        }
        if under_pod {
            return Some((ContainerRuntime::Unknown, seg.to_string()));
        }
    }
    None
}

/// The 64-hex id every engine here uses.
fn is_container_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A dashed UUID as the kubelet writes pod uids.
fn is_pod_uid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn after<'a>(haystack: &'a str, needle: &str) -> Option<&'a str> {
    haystack
        .find(needle)
        .and_then(|at| haystack.get(at + needle.len()..))
}

fn id_after(haystack: &str, needle: &str) -> Option<String> {
    let rest = after(haystack, needle)?;
    let id = rest.split('/').next()?;
    is_container_id(id).then(|| id.to_string())
}

/// mountinfo escapes space, tab, newline and backslash as `\040`, `\011`, `\012`, `\134`.
fn unescape_mountinfo(field: &str) -> std::borrow::Cow<'_, str> {
    if !field.contains('\\') {
        return field.into();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| b == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .map(|d| d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0')));
        match octal.and_then(|v| u8::try_from(v).ok()) {
            Some(v) => {
                out.push(v);
                i += 4;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_and_ids() {
        assert!(is_pod_uid("0b7c4c3e-9a1f-4d8e-b2a7-5c6d7e8f9a0b"));
        assert!(!is_pod_uid("0b7c4c3e_9a1f_4d8e_b2a7_5c6d7e8f9a0b"));
        assert!(!is_pod_uid("0b7c4c3e-9a1f-4d8e-b2a7-5c6d7e8f9a0"));
        assert!(is_container_id(&"a1".repeat(32)));
        assert!(!is_container_id(&"A1".repeat(32)));
        assert!(!is_container_id("abc"));
        assert_eq!(unescape_mountinfo(r"/a\040b\134c"), "/a b\\c");
        assert_eq!(unescape_mountinfo(r"/a\04"), r"/a\04");
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(text in "\\PC{0,300}") {
            let _ = ContainerIdentity::from_cgroup(&text);
            let _ = ContainerIdentity::from_mountinfo(&text);
        }

        #[test]
        fn structured_paths_never_panic(
            segs in proptest::collection::vec(
                proptest::sample::select(vec![
                    "kubepods", "kubepods.slice", "kubepods-burstable.slice", "burstable",
                    "besteffort", "pod", "kubepods-pod.slice", "docker", "docker-.scope",
                    "crio-conmon-x.scope", "libpod-", "kubelet-", "",
                ]),
                0..8,
            )
        ) {
            let path = segs.join("/");
            let _ = ContainerIdentity::from_cgroup(&format!("0::{path}"));
        }
    }
}
