//! Process discovery against a recorded `/proc` tree and against the live one.

#![allow(clippy::unwrap_used)] // test helpers: a failed fixture read should fail loudly

use std::path::Path;

use vigil_runtime::{
    ContainerRuntime, Discovery, DiscoveryOptions, IdentitySource, ProcfsRoot, QosClass,
    RuntimeKind,
};

fn fixture_proc() -> ProcfsRoot {
    ProcfsRoot::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proc"))
}

#[test]
fn fixture_sweep_reads_every_process() {
    let mut discovery = Discovery::new(fixture_proc());
    let sweep = discovery.sweep().unwrap();
    assert!(sweep.errors.is_empty(), "{:?}", sweep.errors);
    // pid 2 is a kernel thread (excluded), 7000 vanished before it could be read.
    let pids: Vec<u32> = sweep.processes.iter().map(|p| p.pid).collect();
    assert_eq!(pids, [1, 4242, 5151, 5300, 6000]);
    assert_eq!(sweep.vanished, 1);
    assert!(sweep.degradation().is_none());

    struct Want {
        pid: u32,
        ppid: u32,
        start_time: u64,
        comm: &'static str,
        exe: &'static str,
        exe_deleted: bool,
        args: &'static [&'static str],
        lossy: bool,
        cwd: &'static str,
        uid: u32,
        user: &'static str,
        kind: RuntimeKind,
        mnt: u64,
    }
    let table = [
        Want {
            pid: 1,
            ppid: 0,
            start_time: 2,
            comm: "systemd",
            exe: "/usr/lib/systemd/systemd",
            exe_deleted: false,
            args: &["/sbin/init", "splash"],
            lossy: false,
            cwd: "/",
            uid: 0,
            user: "root",
            kind: RuntimeKind::Native,
            mnt: 4026531841,
        },
        Want {
            pid: 4242,
            ppid: 1,
            start_time: 987654,
            comm: "node",
            exe: "/usr/bin/node",
            exe_deleted: false,
            args: &["node", "/srv/app/server.js", "--port", "3000"],
            lossy: false,
            cwd: "/srv/app",
            uid: 1000,
            user: "node",
            kind: RuntimeKind::Node,
            mnt: 4026531841,
        },
        Want {
            pid: 5151,
            ppid: 5100,
            start_time: 1200000,
            comm: "python3 (x)",
            exe: "/usr/local/bin/python3.11",
            exe_deleted: false,
            args: &["python3", "-m", "gunicorn", "caf\u{fffd}"],
            lossy: true,
            cwd: "/app",
            uid: 1000,
            // Same uid, but the container's own passwd names it differently.
            user: "appuser",
            kind: RuntimeKind::Python,
            mnt: 4026532300,
        },
        Want {
            pid: 6000,
            ppid: 1,
            start_time: 5000,
            comm: "php-fpm8.2",
            exe: "/usr/sbin/php-fpm8.2",
            exe_deleted: true,
            args: &["php-fpm: pool www"],
            lossy: false,
            cwd: "/",
            uid: 33,
            user: "",
            kind: RuntimeKind::Php,
            mnt: 4026531841,
        },
    ];
    for w in &table {
        let p = sweep.process(w.pid).unwrap();
        let ctx = format!("pid {}", w.pid);
        assert_eq!(p.ppid, w.ppid, "{ctx}");
        assert_eq!(p.start_time, w.start_time, "{ctx}");
        assert_eq!(p.comm, w.comm, "{ctx}");
        assert_eq!(p.exe.as_deref(), Some(Path::new(w.exe)), "{ctx}");
        assert_eq!(p.exe_deleted, w.exe_deleted, "{ctx}");
        assert_eq!(p.cmdline.args, w.args, "{ctx}");
        assert_eq!(p.cmdline.lossy, w.lossy, "{ctx}");
        assert_eq!(p.cwd.as_deref(), Some(Path::new(w.cwd)), "{ctx}");
        assert_eq!(p.uid, Some(w.uid), "{ctx}");
        assert_eq!(p.user.as_deref().unwrap_or(""), w.user, "{ctx}");
        assert_eq!(p.kind, w.kind, "{ctx}");
        assert_eq!(p.namespaces.mnt, Some(w.mnt), "{ctx}");
        assert!(!p.restricted, "{ctx}");
    }

    // Container identity: from cgroup for 5151 and 6000, from mountinfo for 5300 (private
    // cgroup namespace), none for host processes.
    type Identity = (ContainerRuntime, IdentitySource, Option<QosClass>);
    let ids: Vec<(u32, Option<Identity>)> = sweep
        .processes
        .iter()
        .map(|p| {
            let c = p
                .container
                .as_ref()
                .map(|c| (c.runtime, c.source, c.pod.as_ref().and_then(|pod| pod.qos)));
            (p.pid, c)
        })
        .collect();
    use vigil_runtime::{ContainerRuntime as R, IdentitySource as S, QosClass as Q};
    assert_eq!(
        sweep.process(4242).unwrap().namespaces.net,
        Some(4026531832)
    );
    assert_eq!(
        sweep.process(5151).unwrap().namespaces.net,
        Some(4026532302)
    );
    assert_eq!(
        ids,
        [
            (1, None),
            (4242, None),
            (5151, Some((R::CriO, S::Cgroup, Some(Q::Burstable)))),
            (5300, Some((R::Docker, S::Mountinfo, None))),
            (6000, Some((R::Docker, S::Cgroup, None))),
        ]
    );
}

#[test]
fn fixture_kernel_threads_on_request() {
    let options = DiscoveryOptions {
        include_kernel_threads: true,
        ..DiscoveryOptions::default()
    };
    let mut discovery = Discovery::with_options(fixture_proc(), options);
    let sweep = discovery.sweep().unwrap();
    let kthread = sweep.process(2).unwrap();
    assert_eq!(kthread.comm, "kthreadd");
    assert_eq!(kthread.exe, None);
    assert_eq!(kthread.kind, RuntimeKind::Native);
}

#[test]
fn missing_proc_root_is_an_error_naming_the_path() {
    let mut discovery = Discovery::new(ProcfsRoot::new("/nonexistent/proc"));
    let err = discovery.sweep().unwrap_err();
    assert!(err.to_string().contains("/nonexistent/proc"), "{err}");
}

#[test]
fn live_sweep_finds_this_process() {
    let mut discovery = Discovery::new(ProcfsRoot::system());
    let sweep = discovery.sweep().unwrap();
    let me = std::process::id();
    let p = sweep
        .process(me)
        .unwrap_or_else(|| panic!("own pid {me} not in sweep"));
    assert_eq!(
        p.exe.as_deref(),
        Some(std::env::current_exe().unwrap().as_path())
    );
    assert_eq!(p.cwd, Some(std::env::current_dir().unwrap()));
    assert!(p.start_time > 0);
    assert!(p.namespaces.mnt.is_some());
    assert_eq!(p.kind, RuntimeKind::Native);
    eprintln!(
        "live sweep: {} processes in {:?} ({} vanished, {} restricted, errors: {:?}){}",
        sweep.processes.len(),
        sweep.elapsed,
        sweep.vanished,
        sweep.restricted,
        sweep.errors,
        sweep
            .degradation()
            .map(|d| format!("; {d}"))
            .unwrap_or_default()
    );
    // A second sweep reuses the Go cache and must agree.
    let again = discovery.sweep().unwrap();
    assert_eq!(again.process(me).map(|p| p.kind), Some(RuntimeKind::Native));
}

/// Run by `live_non_root_degrades_with_one_line` in a child process as `nobody`; ignored
/// otherwise.
#[test]
#[ignore = "helper: runs as nobody inside live_non_root_degrades_with_one_line"]
fn nonroot_probe() {
    let mut discovery = Discovery::new(ProcfsRoot::system());
    let sweep = discovery.sweep().unwrap();
    println!("PROBE processes={}", sweep.processes.len());
    if let Some(d) = sweep.degradation() {
        println!("PROBE {d}");
    }
}

#[test]
fn live_non_root_degrades_with_one_line() {
    use std::os::unix::process::CommandExt;
    if !is_root() {
        eprintln!("skipped: needs root to drop to nobody");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "nonroot_probe", "--ignored", "--nocapture"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // The test binary must be reachable by nobody (a 0700 home directory is not).
        eprintln!(
            "skipped: probe could not run as nobody: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("limited process visibility"))
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(lines[0].contains("run as root"), "{stdout}");
    assert!(lines[0].contains("permission denied"), "{stdout}");
    eprintln!("{}", lines[0]);
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

#[test]
fn fixture_sockets_joined_per_network_namespace() {
    let mut discovery = Discovery::new(fixture_proc());
    let sweep = discovery.sweep().unwrap();
    let sockets = |pid| -> Vec<String> {
        sweep
            .process(pid)
            .unwrap()
            .sockets
            .iter()
            .map(|s| format!("{:?} {} {} {:?}", s.protocol, s.local, s.remote, s.state))
            .collect()
    };
    // 4242: a v4 listener, an established connection, a v6 listener; the unix socket
    // (inode 777) and the listener of another process (inode 5555) are not its.
    assert_eq!(
        sockets(4242),
        [
            "Tcp 0.0.0.0:3000 0.0.0.0:0 Listen",
            "Tcp 10.0.0.5:3000 10.0.0.9:52144 Established",
            "Tcp6 [::]:3000 [::]:0 Listen",
        ]
    );
    // 5151 is in its own network namespace: its table, not 4242's.
    assert_eq!(sockets(5151), ["Tcp 0.0.0.0:8000 0.0.0.0:0 Listen"]);
    assert!(sockets(1).is_empty());
}

#[test]
fn live_listener_finds_itself() {
    use std::net::{TcpListener, TcpStream};
    use vigil_runtime::TcpState;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = TcpStream::connect(addr).unwrap();
    let (_server_side, _) = listener.accept().unwrap();
    let v6 = TcpListener::bind("[::1]:0").ok();

    let mut discovery = Discovery::new(ProcfsRoot::system());
    let me = discovery.process(std::process::id()).unwrap().unwrap();
    let has = |local: std::net::SocketAddr, state: TcpState| {
        me.sockets
            .iter()
            .any(|s| s.local == local && s.state == state)
    };
    assert!(has(addr, TcpState::Listen), "{:#?}", me.sockets);
    assert!(
        has(client.local_addr().unwrap(), TcpState::Established),
        "{:#?}",
        me.sockets
    );
    assert!(
        has(addr, TcpState::Established),
        "accepted side: {:#?}",
        me.sockets
    );
    match v6 {
        Some(v6) => assert!(
            has(v6.local_addr().unwrap(), TcpState::Listen),
            "{:#?}",
            me.sockets
        ),
        None => eprintln!("skipped the IPv6 part: no ::1 on this host"),
    }
    // The full sweep agrees.
    let sweep = discovery.sweep().unwrap();
    let p = sweep.process(std::process::id()).unwrap();
    assert!(
        p.sockets
            .iter()
            .any(|s| s.local == addr && s.state == TcpState::Listen)
    );
}

#[test]
fn hidepid_mount_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("proc");
    std::fs::create_dir_all(root.join("self")).unwrap();
    let cases: &[(&str, Option<&str>)] = &[
        ("rw,hidepid=invisible,gid=4", Some("invisible")),
        ("rw,hidepid=2", Some("2")),
        ("rw,hidepid=0", None),
        ("rw", None),
    ];
    for (opts, want) in cases {
        std::fs::write(
            root.join("self/mountinfo"),
            format!(
                "22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n\
                 23 22 0:21 / {} rw,nosuid,nodev,noexec,relatime shared:12 - proc proc {opts}\n",
                root.display()
            ),
        )
        .unwrap();
        let procfs = ProcfsRoot::new(&root);
        assert_eq!(procfs.hidepid().as_deref(), *want, "{opts}");
        let sweep = Discovery::new(procfs).sweep().unwrap();
        let line = sweep.degradation().map(|d| d.to_string());
        assert_eq!(
            line.as_deref().is_some_and(|l| l.contains("hidepid=")),
            want.is_some(),
            "{opts}: {line:?}"
        );
    }
}
