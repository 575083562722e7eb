//! Container and Kubernetes identity against recorded `/proc/PID/cgroup` and `mountinfo`
//! layouts (tests/fixtures/cgroup, tests/fixtures/mountinfo). Every fixture file must appear
//! in a table here, so a new layout cannot be added without saying what it should yield.

#![allow(clippy::unwrap_used)] // test helpers: a failed fixture read should fail loudly

use std::collections::BTreeSet;
use std::path::Path;

use vigil_runtime::{ContainerIdentity, ContainerRuntime as R, IdentitySource, QosClass as Q};

const D: &str = "3f9b1e2c7a4d5f60819a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70";
const C: &str = "9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a49382716051f2e3d4c5b6a798877665544";
const POD: &str = "0b7c4c3e-9a1f-4d8e-b2a7-5c6d7e8f9a0b";

/// (file, runtime, id, pod uid, qos, container name)
type Want = Option<(
    R,
    Option<&'static str>,
    Option<&'static str>,
    Option<Q>,
    Option<&'static str>,
)>;

fn fixtures(dir: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir);
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

fn read(dir: &str, file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
        .join(file);
    std::fs::read_to_string(path).unwrap()
}

fn check(
    dir: &str,
    table: &[(&str, Want)],
    parse: fn(&str) -> Option<ContainerIdentity>,
    source: IdentitySource,
) {
    let listed: BTreeSet<String> = table.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(
        listed,
        fixtures(dir),
        "every fixture in {dir} needs a table row"
    );
    for (file, want) in table {
        let got = parse(&read(dir, file));
        let got_tuple = got.as_ref().map(|c| {
            (
                c.runtime,
                c.id.as_deref(),
                c.pod.as_ref().map(|p| p.uid.as_str()),
                c.pod.as_ref().and_then(|p| p.qos),
                c.pod.as_ref().and_then(|p| p.container_name.as_deref()),
            )
        });
        assert_eq!(got_tuple, *want, "{dir}/{file}");
        if let Some(c) = got {
            assert_eq!(c.source, source, "{dir}/{file}");
        }
    }
}

#[test]
fn cgroup_layouts() {
    let k8s = |r, id, q| Some((r, Some(id), Some(POD), Some(q), None));
    let plain = |r, id| Some((r, Some(id), None, None, None));
    let table: &[(&str, Want)] = &[
        ("docker-cgroupfs-v1.txt", plain(R::Docker, D)),
        ("docker-systemd-v1.txt", plain(R::Docker, D)),
        ("docker-cgroupfs-hybrid.txt", plain(R::Docker, D)),
        ("docker-systemd-v2.txt", plain(R::Docker, D)),
        // The innermost container is the one the process is in.
        ("docker-in-docker-v2.txt", plain(R::Docker, C)),
        (
            "k8s-containerd-guaranteed-systemd-v2.txt",
            k8s(R::Containerd, C, Q::Guaranteed),
        ),
        (
            "k8s-containerd-burstable-systemd-v2.txt",
            k8s(R::Containerd, C, Q::Burstable),
        ),
        (
            "k8s-containerd-besteffort-systemd-v1.txt",
            k8s(R::Containerd, C, Q::BestEffort),
        ),
        // cgroupfs driver: the layout is the same for every CRI runtime.
        (
            "k8s-guaranteed-cgroupfs-v1.txt",
            k8s(R::Unknown, C, Q::Guaranteed),
        ),
        (
            "k8s-burstable-cgroupfs-v1.txt",
            k8s(R::Unknown, C, Q::Burstable),
        ),
        (
            "k8s-besteffort-cgroupfs-v2.txt",
            k8s(R::Unknown, C, Q::BestEffort),
        ),
        (
            "k8s-crio-burstable-systemd-v2.txt",
            k8s(R::CriO, C, Q::Burstable),
        ),
        (
            "k8s-crio-guaranteed-systemd-v1.txt",
            k8s(R::CriO, C, Q::Guaranteed),
        ),
        (
            "k8s-crio-burstable-cgroupfs-v2.txt",
            k8s(R::CriO, C, Q::Burstable),
        ),
        // conmon monitors the container from outside it.
        ("k8s-crio-conmon-v2.txt", None),
        (
            "k8s-dockershim-burstable-systemd-v1.txt",
            k8s(R::Docker, D, Q::Burstable),
        ),
        (
            "kind-besteffort-v2.txt",
            k8s(R::Containerd, C, Q::BestEffort),
        ),
        ("podman-rootful-v2.txt", plain(R::Podman, D)),
        ("podman-rootless-v2.txt", plain(R::Podman, D)),
        ("podman-cgroupfs-v1.txt", plain(R::Podman, D)),
        ("podman-conmon-v2.txt", None),
        ("nerdctl-systemd-v2.txt", plain(R::Containerd, C)),
        ("host-session-v1.txt", None),
        ("host-init-v2.txt", None),
        ("private-cgroupns-v2.txt", None),
        ("sandbox-v1.txt", None),
        ("short-id-v2.txt", None),
    ];
    check(
        "cgroup",
        table,
        ContainerIdentity::from_cgroup,
        IdentitySource::Cgroup,
    );
}

#[test]
fn mountinfo_layouts() {
    let table: &[(&str, Want)] = &[
        ("docker.txt", Some((R::Docker, Some(D), None, None, None))),
        // containerd's mounts name the pod sandbox, not the container: id unknown here.
        (
            "k8s-containerd.txt",
            Some((R::Containerd, None, Some(POD), None, Some("api"))),
        ),
        (
            "k8s-crio.txt",
            Some((R::CriO, Some(C), Some(POD), None, Some("worker"))),
        ),
        ("podman.txt", Some((R::Podman, Some(D), None, None, None))),
        ("host.txt", None),
    ];
    check(
        "mountinfo",
        table,
        ContainerIdentity::from_mountinfo,
        IdentitySource::Mountinfo,
    );
}
