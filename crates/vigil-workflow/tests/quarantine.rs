//! Quarantine against real processes. Needs root (signalling is allowed for our own children
//! anyway, but the cgroup freezer needs a writable cgroup v2 tree); skipped with a message
//! otherwise.

#![allow(clippy::unwrap_used)] // test helpers: a failed setup should fail loudly

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;
use vigil_workflow::action::quarantine::{start_time, thaw};
use vigil_workflow::{ActionServices, ItemStatus, MemoryOutbox, Outbox};

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// `/proc/PID/stat` state letter.
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{what} within 2 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    started.elapsed()
}

/// A stand-in for a process that loaded the malicious package.
fn victim() -> Child {
    Command::new("sleep").arg("60").spawn().unwrap()
}

fn event_for(pid: u32, start: Option<u64>) -> Value {
    let mut e = finding_event(u64::from(pid), "debug", "NEW");
    e["process.pids"] = json!([{ "pid": pid, "start_time": start }]);
    e
}

async fn quarantine(mode: &str, extra: &str, event: Value) -> (Arc<MemoryOutbox>, Duration) {
    let (outbox, took, _) = quarantine_with_set(mode, extra, event).await;
    (outbox, took)
}

async fn quarantine_with_set(
    mode: &str,
    extra: &str,
    event: Value,
) -> (
    Arc<MemoryOutbox>,
    Duration,
    Arc<vigil_workflow::WorkflowSet>,
) {
    let set = workflows(&format!(
        "{FAST_DELIVERY}[[workflows]]\nname = \"contain\"\ntasks = [{{ action = \"quarantine\", mode = \"{mode}\"{extra} }}]\n"
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    let started = Instant::now();
    deliver(&set, &outbox, services(env(&[])), &[event]).await;
    (outbox, started.elapsed(), set)
}

fn result(outbox: &MemoryOutbox) -> Value {
    let items = outbox.list(Some(ItemStatus::Delivered), 1).unwrap();
    assert_eq!(items.len(), 1, "{:?}", outbox.list(None, 5));
    items[0].result.clone().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeze_by_sigstop_then_thaw() {
    if !is_root() {
        eprintln!("SKIPPED freeze_by_sigstop_then_thaw: needs root");
        return;
    }
    let mut child = victim();
    let pid = child.id();
    let start = start_time(Path::new("/proc"), pid as i32);
    let (outbox, took, set) =
        quarantine_with_set("freeze", ", cgroup = false", event_for(pid, start)).await;
    wait_for("stopped", || state(pid) == Some('T'));
    assert!(took < Duration::from_secs(2), "{took:?}");
    let r = result(&outbox);
    assert_eq!(r["actions"][0]["method"], "sigstop");
    // What `vigil findings resolve ID --thaw` runs.
    let reports = vigil_workflow::thaw_finding(
        &set,
        outbox.as_ref(),
        &pid.to_string(),
        &ActionServices::new(env(&[])).unwrap(),
    )
    .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["thawed"][0]["pid"], pid);
    wait_for("running again", || state(pid) != Some('T'));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_pid_is_never_signalled() {
    let mut child = victim();
    let pid = child.id();
    let start = start_time(Path::new("/proc"), pid as i32).unwrap();
    for (wrong, reason) in [(Some(start + 1), "pid reused"), (None, "no start time")] {
        let (outbox, _) = quarantine("kill", "", event_for(pid, wrong)).await;
        let r = result(&outbox);
        assert!(r["actions"].as_array().unwrap().is_empty());
        assert!(
            r["skipped"][0]["reason"].as_str().unwrap().contains(reason),
            "{r}"
        );
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(child.try_wait().unwrap(), None, "still alive");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_sends_sigkill() {
    let mut child = victim();
    let pid = child.id();
    let start = start_time(Path::new("/proc"), pid as i32);
    let (outbox, _) = quarantine("kill", "", event_for(pid, start)).await;
    assert_eq!(result(&outbox)["actions"][0]["method"], "sigkill");
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
}

/// A cgroup named like a container's, removed on drop.
struct TestCgroup(PathBuf);

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0.join("cgroup.freeze"), "0");
        let _ = std::fs::write(self.0.join("cgroup.kill"), "1");
        std::thread::sleep(Duration::from_millis(100));
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeze_a_container_cgroup_then_thaw() {
    let services = ActionServices::new(env(&[])).unwrap();
    let root = services.cgroup_root.clone();
    if !is_root() || !root.join("cgroup.controllers").is_file() {
        eprintln!(
            "SKIPPED freeze_a_container_cgroup_then_thaw: needs root and cgroup v2 (found {})",
            root.display()
        );
        return;
    }
    let dir = root.join(format!("docker-vigiltest{}.scope", std::process::id()));
    if std::fs::create_dir(&dir).is_err() || !dir.join("cgroup.freeze").is_file() {
        eprintln!(
            "SKIPPED freeze_a_container_cgroup_then_thaw: cannot create a freezable cgroup under {}",
            root.display()
        );
        let _ = std::fs::remove_dir(&dir);
        return;
    }
    let cg = TestCgroup(dir.clone());
    let mut child = victim();
    let pid = child.id();
    std::fs::write(dir.join("cgroup.procs"), pid.to_string()).unwrap();
    let start = start_time(Path::new("/proc"), pid as i32);
    let (outbox, took) = quarantine("freeze", "", event_for(pid, start)).await;
    let frozen = || {
        std::fs::read_to_string(dir.join("cgroup.events"))
            .unwrap()
            .contains("frozen 1")
    };
    wait_for("cgroup frozen", frozen);
    assert!(took < Duration::from_secs(2));
    let r = result(&outbox);
    assert_eq!(r["actions"][0]["method"], "cgroup");
    assert_eq!(
        r["actions"][0]["cgroup"],
        format!("/docker-vigiltest{}.scope", std::process::id())
    );
    thaw(&r, &services).unwrap();
    wait_for("cgroup thawed", || !frozen());
    child.kill().unwrap();
    child.wait().unwrap();
    drop(cg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_mode_emits_a_network_policy() {
    let (outbox, _) = quarantine("network", "", finding_event(12, "debug", "NEW")).await;
    let r = result(&outbox);
    let m = &r["manifest"];
    assert_eq!(m["apiVersion"], "networking.k8s.io/v1");
    assert_eq!(m["metadata"]["namespace"], "payments");
    assert_eq!(
        m["spec"]["podSelector"]["matchLabels"],
        json!({"app": "checkout", "app.kubernetes.io/team": "payments"})
    );
    assert_eq!(m["spec"]["policyTypes"], json!(["Egress"]));
}

/// A process in a cgroup of its own that tries to connect to `port` whenever it reads a line,
/// and answers `ok` or `blocked`.
fn connector(port: u16) -> Child {
    let script = format!(
        "import socket, sys\nfor _ in sys.stdin:\n    s = socket.socket()\n    s.settimeout(0.5)\n    try:\n        s.connect(('127.0.0.1', {port})); print('ok', flush=True)\n    except OSError:\n        print('blocked', flush=True)\n    s.close()\n"
    );
    Command::new("python3")
        .args(["-c", &script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn try_connect(child: &mut Child, out: &mut impl std::io::BufRead) -> String {
    use std::io::Write;
    writeln!(child.stdin.as_mut().unwrap()).unwrap();
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    line.trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_mode_blocks_the_cgroups_traffic_then_thaw_restores_it() {
    let services = ActionServices::new(env(&[])).unwrap();
    let root = services.cgroup_root.clone();
    let nft = Command::new("nft").arg("list").arg("tables").output();
    // nft resolves cgroup paths under /sys/fs/cgroup only: a hybrid host cannot be tested.
    if !is_root()
        || root != Path::new("/sys/fs/cgroup")
        || !root.join("cgroup.controllers").is_file()
        || !nft.is_ok_and(|o| o.status.success())
    {
        eprintln!(
            "SKIPPED network_mode_blocks_the_cgroups_traffic_then_thaw_restores_it: needs root, cgroup v2 mounted at /sys/fs/cgroup (found {}) and a working `nft`",
            root.display()
        );
        return;
    }
    let dir = root.join(format!("vigiltest-net{}.scope", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    let cg = TestCgroup(dir.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut child = connector(port);
    let pid = child.id();
    std::fs::write(dir.join("cgroup.procs"), pid.to_string()).unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    assert_eq!(try_connect(&mut child, &mut out), "ok");

    let start = start_time(Path::new("/proc"), pid as i32);
    let (outbox, _) = quarantine("network", "", event_for(pid, start)).await;
    let r = result(&outbox);
    let table = r["nftables_table"].as_str().unwrap().to_owned();
    assert!(table.starts_with("vigil_q_"), "{r}");
    assert_eq!(try_connect(&mut child, &mut out), "blocked");
    // This test's own process (another cgroup) is not blocked.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());

    let report = thaw(&r, &services).unwrap();
    assert_eq!(report["thawed"][0]["nftables_table"], table.as_str());
    assert_eq!(try_connect(&mut child, &mut out), "ok");
    let listed = Command::new("nft")
        .args(["list", "tables"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(&table));
    child.kill().unwrap();
    child.wait().unwrap();
    drop(cg);
}
