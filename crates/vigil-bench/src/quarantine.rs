//! `quarantine`: how long from a snapshot reporting a loaded malicious package to the loading
//! process frozen (issue 8's "process frozen after detection ≤ 2 s").
//!
//! A `vigil serve` is spawned with the one workflow PRODUCT.md §7 shows for malicious
//! packages (CWE-506, new findings) and a `quarantine` task in `freeze` mode. Each run starts
//! a victim (`sleep`), posts a full snapshot for a fresh host naming it in `processes[]` (pid
//! and start time, as `vigil agent` reports them) and as the loader of a `LOADED` instance of
//! `debug@4.4.2` (malicious in the bundled baseline), then polls `/proc/PID/stat` until the
//! victim's state is `T` (`SIGSTOP`: host processes are not in a container's cgroup, so the
//! action signals rather than using the cgroup freezer). The victim is killed after each run.
//!
//! The server is this tool's child and the victims are too, so the signal needs no root when
//! both run as one user; a server run by another user would.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use vigil_core::Evidence;
use vigil_runtime::ProcfsRoot;
use vigil_runtime::process::{Stat, parse_status_uids};
use vigil_server::client::Client;
use vigil_server::snapshot::{
    AgentHost, AgentInstance, AgentProcess, AgentRemovals, AgentSnapshot, AgentSnapshotKind,
    SCHEMA_VERSION,
};

use crate::fleet::encode;
use crate::server::{self, Server};
use crate::stats::summarize;

/// The malicious package the victims "load": MAL-2025-46974 of the bundled baseline.
const PACKAGE: (&str, &str, &str) = ("npm", "debug", "4.4.2");

/// How long a run waits for the freeze before counting it missing.
const GIVE_UP: Duration = Duration::from_secs(5);

/// The spawned server's configuration: PRODUCT.md §7's malicious-package filter, one freeze
/// task. Delivery settings are the defaults: the figure is what a user's server does.
pub const CONFIG: &str = r#"[[workflows]]
name = "vigil-bench-quarantine"
filter = 'event.type == "VULNERABILITY_FINDING" and in("CWE-506", vulnerability.references.cwe) and finding.status == "NEW"'
tasks = [ { name = "freeze", action = "quarantine", mode = "freeze" } ]
"#;

/// A victim process, killed and reaped when dropped (`SIGKILL` ends a stopped process too).
struct Victim(Child);

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether this process runs with effective uid 0.
fn is_root(procfs: &ProcfsRoot) -> bool {
    procfs
        .read_global("self/status")
        .ok()
        .and_then(|s| parse_status_uids(&s))
        .is_some_and(|(_, effective)| effective == 0)
}

/// `/proc/PID/stat` of a live process.
fn stat(procfs: &ProcfsRoot, pid: u32) -> Option<Stat> {
    procfs.read(pid, "stat").ok().and_then(|b| Stat::parse(&b))
}

/// The process's start in unix milliseconds, computed as vigil's agent does (boot time plus
/// start ticks at USER_HZ = 100), so the quarantine action's identity check sees what it
/// would see from a real agent.
fn start_time_ms(procfs: &ProcfsRoot, pid: u32) -> Option<i64> {
    let ticks = stat(procfs, pid)?.start_time;
    let boot = procfs.boot_time()?;
    i64::try_from(
        boot.saturating_mul(1000)
            .saturating_add(ticks.saturating_mul(10)),
    )
    .ok()
}

/// The full snapshot of host `host`: one process, `pid`, that loaded [`PACKAGE`].
pub fn snapshot(host: &str, pid: u32, start_time_ms: i64) -> AgentSnapshot {
    let (ecosystem, name, version) = PACKAGE;
    AgentSnapshot {
        schema: SCHEMA_VERSION,
        host: AgentHost {
            name: host.to_owned(),
            agent_version: Some(concat!("vigil-bench/", env!("CARGO_PKG_VERSION")).into()),
            ..AgentHost::default()
        },
        sequence: 1,
        kind: AgentSnapshotKind::Full,
        containers: Vec::new(),
        processes: vec![AgentProcess {
            pid,
            start_time_ms,
            exe: Some("/usr/bin/node".into()),
            cmdline: Some("node server.js".into()),
            ..AgentProcess::default()
        }],
        instances: vec![AgentInstance {
            ecosystem: ecosystem.into(),
            name: name.into(),
            version: version.into(),
            purl: None,
            path: format!("/srv/app/node_modules/{name}/package.json"),
            evidence: Evidence::Loaded,
            dev: false,
            pids: vec![pid],
            container_id: None,
        }],
        removed: AgentRemovals::default(),
    }
}

/// One run's outcome: POST → answer, POST → stopped (`None`: not within [`GIVE_UP`]).
struct Sample {
    answer: Duration,
    stopped: Option<Duration>,
}

fn one_run(procfs: &ProcfsRoot, client: &Client, run: usize) -> Result<Sample> {
    let victim = Victim(
        Command::new("sleep")
            .arg("60")
            .stdin(Stdio::null())
            .spawn()
            .context("cannot start the victim (`sleep 60`)")?,
    );
    let pid = victim.0.id();
    let started = start_time_ms(procfs, pid).context("cannot read the victim's start time")?;
    let body = encode(&snapshot(&format!("quarantine-{run:04}"), pid, started))?;
    let t0 = Instant::now();
    let answer = client.post_inventory(body)?;
    let answered = t0.elapsed();
    if answer["findings"]["created"].as_u64().unwrap_or(0) == 0 {
        bail!("the snapshot created no finding (answer: {answer})");
    }
    let stopped = loop {
        if stat(procfs, pid).is_some_and(|s| s.state == 'T') {
            break Some(t0.elapsed());
        }
        if t0.elapsed() > GIVE_UP {
            break None;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    drop(victim);
    Ok(Sample {
        answer: answered,
        stopped,
    })
}

/// The newest workflow run, for a miss's report (its status and last error say why).
fn newest_run(client: &Client) -> String {
    client
        .get("/api/v1/workflows/runs?limit=1")
        .ok()
        .and_then(|v| v["runs"].get(0).cloned())
        .map(|r| {
            format!(
                "newest run: status {}, last_error {}",
                r["status"], r["last_error"]
            )
        })
        .unwrap_or_else(|| "no workflow run listed".to_owned())
}

/// Runs the measurement `runs` times against one spawned server.
pub fn run(vigil: Option<std::path::PathBuf>, runs: usize) -> Result<Value> {
    let procfs = ProcfsRoot::system();
    let root = is_root(&procfs);
    if !root {
        eprintln!(
            "vigil-bench: not root: the spawned server can stop its sibling victims (same user), \
             but a quarantine of other users' processes needs root"
        );
    }
    let vigil = server::vigil_binary(vigil)?;
    let server = Server::spawn(&vigil, CONFIG, None)?;
    eprintln!(
        "vigil-bench: spawned {} (pid {:?})",
        server.base, server.pid
    );
    let client = server.client()?;
    let (mut answer_ms, mut stopped_ms) = (Vec::new(), Vec::new());
    let mut failures = Vec::new();
    let mut missing = 0usize;
    for run in 0..runs.max(1) {
        match one_run(&procfs, &client, run) {
            Ok(s) => {
                answer_ms.push(s.answer.as_secs_f64() * 1e3);
                match s.stopped {
                    Some(d) => stopped_ms.push(d.as_secs_f64() * 1e3),
                    None => {
                        missing += 1;
                        failures.push(format!(
                            "run {run}: not stopped within {} s ({})",
                            GIVE_UP.as_secs(),
                            newest_run(&client)
                        ));
                    }
                }
            }
            Err(e) => {
                missing += 1;
                failures.push(format!("run {run}: {e:#}"));
            }
        }
    }
    let stopped = summarize(&stopped_ms);
    eprintln!(
        "vigil-bench: quarantine: {} of {} runs stopped, p50 {} ms, max {} ms",
        stopped.count,
        runs.max(1),
        stopped.p50,
        stopped.max
    );
    Ok(json!({
        "command": "quarantine",
        "runs": runs.max(1),
        "root": root,
        // null, not 0, when no run stopped its victim.
        "p50_ms": (stopped.count > 0).then_some(stopped.p50),
        "p99_ms": (stopped.count > 0).then_some(stopped.p99),
        "max_ms": (stopped.count > 0).then_some(stopped.max),
        "missing": missing,
        "post_to_answer_ms": summarize(&answer_ms),
        "post_to_stopped_ms": stopped,
        "server": {
            "ready_ms": server.ready.map(|d| d.as_millis() as u64),
            "usage_at_end": server.usage(),
        },
        "failures": failures,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_snapshot_is_what_the_server_accepts_with_the_loader_named() {
        let body = serde_json::to_vec(&snapshot("q-1", 4242, 1_700_000_000_000)).unwrap();
        let parsed = vigil_server::snapshot::parse(&body).unwrap();
        assert_eq!(parsed.processes.len(), 1);
        assert_eq!(
            (parsed.processes[0].pid, parsed.processes[0].start_time_ms),
            (4242, 1_700_000_000_000)
        );
        let inst = &parsed.instances[0];
        assert_eq!(
            (inst.name.as_str(), inst.version.as_str(), inst.evidence),
            ("debug", "4.4.2", Evidence::Loaded)
        );
        assert_eq!(inst.pids, vec![4242]);
        parsed.into_store().unwrap();
    }

    #[test]
    fn the_package_is_malicious_in_the_bundled_baseline() {
        let (_, name, version) = PACKAGE;
        let malicious = crate::pool::malicious_of(vigil_intel::baseline::advisories());
        assert!(
            malicious
                .iter()
                .any(|p| p.ecosystem == "npm" && p.name == name && p.version == version),
            "{name}@{version} is not a malicious version of the baseline"
        );
    }

    #[test]
    fn a_live_process_has_a_start_time_near_now_and_a_state() {
        let procfs = ProcfsRoot::system();
        let me = std::process::id();
        let ms = start_time_ms(&procfs, me).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        // This test process started within the last hour, not in the future.
        assert!(ms <= now + 1000 && ms > now - 3_600_000, "{ms} vs {now}");
        assert_ne!(stat(&procfs, me).unwrap().state, 'T');
    }
}
