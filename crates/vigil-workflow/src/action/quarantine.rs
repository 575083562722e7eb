//! `quarantine`: contain the processes that loaded the package.
//!
//! - `mode = "freeze"`: when the process lives in a container's cgroup (v2), the whole
//!   container is frozen through `cgroup.freeze`; otherwise the process gets `SIGSTOP`.
//! - `mode = "kill"`: `SIGKILL`.
//! - `mode = "network"`: a Kubernetes `NetworkPolicy` manifest denying all egress for the
//!   pod's labels (`manifest`, for `kubectl apply -f` or a controller: vigil holds no cluster
//!   credentials) and, for processes in the host's network namespace, an nftables ruleset
//!   dropping their cgroup's outbound traffic (`nftables`). The ruleset is **applied** with
//!   `nft -f -` (argv only, the ruleset on stdin; `apply = false` only emits it), in a table of
//!   its own per finding (`vigil_q_…`), so `--thaw` deletes exactly that table. vigil's own
//!   cgroup is never blocked.
//!
//! Pids come from the event's `process.pids`: numbers, or `{"pid", "start_time"}` objects
//! (start time in clock ticks since boot, `/proc/PID/stat` field 22, as `vigil-runtime`
//! reports it); `process.start_times` may carry the times as a parallel array, or
//! `process.start_times_ms` as unix milliseconds (what agents report and the server's finding
//! events carry; matched within a second, agents may round to seconds). Before
//! signalling, the live process's start time must equal the event's — a pid reused by an
//! unrelated process since detection is never touched. Without a start time a pid is skipped
//! unless `require_start_time = false`. Pid 1, vigil itself, and vigil's own cgroup are never
//! frozen or killed.
//!
//! Freezing is reversible: [`thaw`] reads the task's result (which cgroups were frozen, which
//! pids stopped) and undoes exactly that — `vigil findings resolve ID --thaw`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{ActionServices, TaskRun};
use crate::config::Builder;
use crate::error::ActionError;
use crate::event::text;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    mode: String,
    #[serde(default = "yes")]
    require_start_time: bool,
    #[serde(default = "yes")]
    cgroup: bool,
    /// `network`: apply the nftables ruleset (default) or only emit it.
    #[serde(default = "yes")]
    apply: bool,
}

fn yes() -> bool {
    true
}

/// What to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Freeze (cgroup freezer or SIGSTOP).
    Freeze,
    /// SIGKILL.
    Kill,
    /// Emit a NetworkPolicy.
    Network,
}

/// A configured quarantine.
#[derive(Debug)]
pub struct Quarantine {
    mode: Mode,
    require_start_time: bool,
    cgroup: bool,
    apply: bool,
}

/// A pid from the event, with the start time it had when detected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetPid {
    /// Pid.
    pub pid: i32,
    /// Start time (clock ticks since boot), when the event has it.
    pub start_time: Option<u64>,
    /// Start time in unix milliseconds, when the event has it that way.
    pub start_time_ms: Option<i64>,
}

/// How far an agent's start time (unix ms) may be from the live one: agents derive it from
/// boot time and clock ticks, some rounded to seconds.
const START_MS_SLACK: i64 = 1000;

/// Boot time in unix seconds (`btime` of `/proc/stat`).
fn boot_time(proc_root: &Path) -> Option<i64> {
    std::fs::read_to_string(proc_root.join("stat"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

/// Is the live process (started `live` clock ticks after boot) the one the event named?
/// `None` when the event says nothing about its start.
fn same_process(target: &TargetPid, live: u64, proc_root: &Path) -> Option<bool> {
    if let Some(want) = target.start_time {
        return Some(want == live);
    }
    let want_ms = target.start_time_ms?;
    // USER_HZ is 100 on every architecture vigil runs on.
    let live_ms = boot_time(proc_root)?
        .saturating_mul(1000)
        .saturating_add(i64::try_from(live).unwrap_or(i64::MAX).saturating_mul(10));
    Some((live_ms - want_ms).abs() <= START_MS_SLACK)
}

/// The event's pids.
pub fn target_pids(event: &Value) -> Vec<TargetPid> {
    let times: Vec<Option<u64>> = event
        .get("process.start_times")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(Value::as_u64).collect())
        .unwrap_or_default();
    let times_ms: Vec<Option<i64>> = event
        .get("process.start_times_ms")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(Value::as_i64).collect())
        .unwrap_or_default();
    let Some(pids) = event.get("process.pids").and_then(Value::as_array) else {
        return Vec::new();
    };
    pids.iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let (pid, start, start_ms) = match p {
                Value::Number(n) => (
                    n.as_i64()?,
                    times.get(i).copied().flatten(),
                    times_ms.get(i).copied().flatten(),
                ),
                Value::Object(o) => (
                    o.get("pid")?.as_i64()?,
                    o.get("start_time").and_then(Value::as_u64),
                    o.get("start_time_ms").and_then(Value::as_i64),
                ),
                _ => return None,
            };
            let pid = i32::try_from(pid).ok().filter(|&p| p > 1)?;
            Some(TargetPid {
                pid,
                start_time: start,
                start_time_ms: start_ms,
            })
        })
        .collect()
}

/// `/proc/PID/stat` field 22 (start time, clock ticks since boot).
pub fn start_time(proc_root: &Path, pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")).ok()?;
    let after = stat.get(stat.rfind(')')? + 1..)?;
    after.split_whitespace().nth(19)?.parse().ok()
}

/// The process's cgroup v2 path (`0::/path`).
fn cgroup_of(proc_root: &Path, pid: &str) -> Option<String> {
    let text = std::fs::read_to_string(proc_root.join(pid).join("cgroup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_owned)
        .filter(|p| p.starts_with('/') && !p.split('/').any(|c| c == ".."))
}

/// Does the cgroup path look like one container's (Docker, containerd, CRI-O, Podman, a
/// Kubernetes pod)? Freezing anything broader (a user session, a system service) would take
/// down more than the workload.
pub fn is_container_cgroup(path: &str, container_id: Option<&str>) -> bool {
    const MARKERS: [&str; 6] = [
        "docker-",
        "/docker/",
        "cri-containerd-",
        "crio-",
        "libpod-",
        "/kubepods",
    ];
    MARKERS.iter().any(|m| path.contains(m))
        || container_id.is_some_and(|id| id.len() >= 12 && path.contains(id))
}

fn freeze_file(cgroup_root: &Path, cgroup: &str) -> PathBuf {
    cgroup_root
        .join(cgroup.trim_start_matches('/'))
        .join("cgroup.freeze")
}

impl Quarantine {
    pub(crate) fn build(b: &mut Builder<'_>, value: toml::Value, path: &str) -> Option<Quarantine> {
        let raw: Raw = b.deserialize(value, path)?;
        let mode = match raw.mode.as_str() {
            "freeze" => Mode::Freeze,
            "kill" => Mode::Kill,
            "network" => Mode::Network,
            other => {
                b.error(
                    format!("{path}.mode"),
                    format!("unknown mode `{other}` (freeze, kill, network)"),
                );
                return None;
            }
        };
        Some(Quarantine {
            mode,
            require_start_time: raw.require_start_time,
            cgroup: raw.cgroup,
            apply: raw.apply,
        })
    }

    pub(crate) fn run(&self, run: &TaskRun<'_>) -> Result<Value, ActionError> {
        match self.mode {
            Mode::Network => self.network(run.event, run.subject, run.services),
            Mode::Freeze | Mode::Kill => self.signal(run.event, run.services),
        }
    }

    fn signal(&self, event: &Value, services: &ActionServices) -> Result<Value, ActionError> {
        let proc_root = &services.proc_root;
        let own_pid = i32::try_from(std::process::id()).unwrap_or(0);
        let own_cgroup = cgroup_of(proc_root, "self");
        let container_id = text(event, "container.id");
        let mut actions = Vec::new();
        let mut skipped = Vec::new();
        let mut frozen_cgroups = BTreeSet::new();
        let mut errors = Vec::new();
        for target in target_pids(event) {
            let skip = |reason: &str| json!({ "pid": target.pid, "reason": reason });
            if target.pid == own_pid {
                skipped.push(skip("is vigil itself"));
                continue;
            }
            let live = start_time(proc_root, target.pid);
            let Some(have) = live else {
                skipped.push(skip("no longer running"));
                continue;
            };
            match same_process(&target, have, proc_root) {
                Some(false) => {
                    skipped.push(skip("pid reused by another process since detection"));
                    continue;
                }
                None if self.require_start_time => {
                    skipped.push(skip("the event has no start time for it"));
                    continue;
                }
                _ => {}
            }
            let start = live;
            if self.mode == Mode::Kill {
                match kill(Pid::from_raw(target.pid), Signal::SIGKILL) {
                    Ok(()) => actions.push(
                        json!({ "pid": target.pid, "start_time": start, "method": "sigkill" }),
                    ),
                    Err(e) => errors.push(format!("kill {}: {e}", target.pid)),
                }
                continue;
            }
            let cgroup = if self.cgroup {
                cgroup_of(proc_root, &target.pid.to_string()).filter(|c| {
                    is_container_cgroup(c, container_id.as_deref())
                        && own_cgroup.as_deref() != Some(c.as_str())
                        && freeze_file(&services.cgroup_root, c).is_file()
                })
            } else {
                None
            };
            if let Some(c) = cgroup {
                if frozen_cgroups.contains(&c) {
                    actions.push(json!({ "pid": target.pid, "start_time": start, "method": "cgroup", "cgroup": c }));
                    continue;
                }
                match std::fs::write(freeze_file(&services.cgroup_root, &c), "1") {
                    Ok(()) => {
                        actions.push(json!({ "pid": target.pid, "start_time": start, "method": "cgroup", "cgroup": c }));
                        frozen_cgroups.insert(c);
                        continue;
                    }
                    Err(e) => {
                        errors.push(format!("freeze cgroup {c}: {e}; falling back to SIGSTOP"))
                    }
                }
            }
            match kill(Pid::from_raw(target.pid), Signal::SIGSTOP) {
                Ok(()) => actions
                    .push(json!({ "pid": target.pid, "start_time": start, "method": "sigstop" })),
                Err(e) => errors.push(format!("stop {}: {e}", target.pid)),
            }
        }
        if actions.is_empty() && !errors.is_empty() {
            // Permission problems do not go away by retrying.
            return Err(ActionError::permanent(format!(
                "quarantine: {}",
                errors.join("; ")
            )));
        }
        Ok(json!({
            "mode": if self.mode == Mode::Kill { "kill" } else { "freeze" },
            "actions": actions,
            "skipped": skipped,
            "errors": errors,
        }))
    }
}

impl Quarantine {
    /// Network isolation: a NetworkPolicy for a pod, and for host processes an nftables
    /// ruleset dropping their cgroup's outbound traffic. Both are emitted, not applied.
    fn network(
        &self,
        event: &Value,
        subject: &str,
        services: &ActionServices,
    ) -> Result<Value, ActionError> {
        let policy = network_policy(event, subject);
        let own_cgroup = cgroup_of(&services.proc_root, "self");
        let mut cgroups = BTreeSet::new();
        for target in target_pids(event) {
            let live = start_time(&services.proc_root, target.pid);
            let verified = live.is_some_and(|have| {
                same_process(&target, have, &services.proc_root).unwrap_or(!self.require_start_time)
            });
            if verified
                && let Some(c) = cgroup_of(&services.proc_root, &target.pid.to_string())
                && own_cgroup.as_ref() != Some(&c)
            {
                cgroups.insert(c);
            }
        }
        let nft = nftables_ruleset(&cgroups, subject);
        let applied = match (&nft, self.apply) {
            (Some(ruleset), true) => Some(apply_nftables(ruleset, &services.cgroup_root)),
            _ => None,
        };
        match (policy, nft) {
            (Err(e), None) => Err(ActionError::permanent(format!(
                "{}; and no running process with a known cgroup for nftables",
                e.message
            ))),
            (policy, nft) => {
                let mut out = json!({ "mode": "network" });
                if let (Some(obj), Ok(p)) = (out.as_object_mut(), policy)
                    && let Some(m) = p.get("manifest")
                {
                    obj.insert("manifest".into(), m.clone());
                }
                if let (Some(obj), Some(n)) = (out.as_object_mut(), nft) {
                    obj.insert("nftables".into(), Value::String(n));
                }
                match applied {
                    Some(Ok(())) => {
                        if let Some(obj) = out.as_object_mut() {
                            obj.insert(
                                "nftables_table".into(),
                                Value::String(nftables_table(subject)),
                            );
                        }
                    }
                    // Blocking was asked for and did not happen: say so (dead-lettered when it
                    // cannot work here, retried when it may: a missing `nft`, netlink).
                    Some(Err(e)) => return Err(e),
                    None => {}
                }
                Ok(out)
            }
        }
    }
}

/// An nftables ruleset (for `nft -f`) dropping outbound packets of sockets in these cgroups
/// (host network namespace: a container with its own namespace is isolated through its
/// pod's NetworkPolicy instead). `None` when there is no cgroup to match.
pub fn nftables_ruleset(cgroups: &BTreeSet<String>, subject: &str) -> Option<String> {
    let usable: Vec<&String> = cgroups
        .iter()
        .filter(|c| {
            c.len() > 1
                && !c
                    .chars()
                    .any(|ch| ch == '"' || ch == '\\' || ch.is_control())
        })
        .collect();
    if usable.is_empty() {
        return None;
    }
    let comment: String = subject
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(64)
        .collect();
    let table = nftables_table(subject);
    let mut rules = String::new();
    for c in usable {
        let path = c.trim_start_matches('/');
        let level = path.split('/').count();
        rules.push_str(&format!(
            "        socket cgroupv2 level {level} \"{path}\" counter drop comment \"vigil finding {comment}\"\n"
        ));
    }
    // Declare, delete, define — one atomic `nft -f` transaction that leaves exactly these
    // rules however often it is loaded (a retried task never stacks a second copy).
    Some(format!(
        "table inet {table}\ndelete table inet {table}\ntable inet {table} {{\n    chain output {{\n        type filter hook output priority filter; policy accept;\n{rules}    }}\n}}\n"
    ))
}

/// The nftables table of one quarantine: `vigil_q_` and the subject's letters, digits and
/// underscores (an nftables identifier), so each finding's block is removed on its own.
pub fn nftables_table(subject: &str) -> String {
    let tail: String = subject
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(48)
        .collect();
    format!("vigil_q_{tail}")
}

/// Is `name` a table this module creates (and may therefore delete)?
fn is_quarantine_table(name: &str) -> bool {
    name.strip_prefix("vigil_q_").is_some_and(|tail| {
        !tail.is_empty()
            && tail.len() <= 48
            && tail.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Runs `nft` with `args` and `stdin` (argv only, never a shell).
fn run_nft(args: &[&str], stdin: &str) -> Result<(), String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("nft")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run nft: {e}"))?;
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.as_bytes())
            .map_err(|e| format!("nft stdin: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("nft: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "nft {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Loads a ruleset from [`nftables_ruleset`] (idempotent: it replaces its own table).
fn apply_nftables(ruleset: &str, cgroup_root: &Path) -> Result<(), ActionError> {
    // nft resolves `socket cgroupv2` paths under /sys/fs/cgroup only; on a hybrid host
    // (cgroup v2 at /sys/fs/cgroup/unified) every path would fail to load.
    if cgroup_root != Path::new("/sys/fs/cgroup") {
        return Err(ActionError::permanent(format!(
            "network quarantine: nft matches cgroup v2 paths under /sys/fs/cgroup, and this host \
             mounts cgroup v2 at {} (a hybrid hierarchy): not applied; use `apply = false` to \
             only emit the ruleset",
            cgroup_root.display()
        )));
    }
    run_nft(&["-f", "-"], ruleset).map_err(ActionError::retryable)
}

/// Undoes a `freeze` result — thaws the cgroups it froze and sends `SIGCONT` to the pids it
/// stopped (after checking each is still the same process) — or a `network` result that was
/// applied: deletes its nftables table.
pub fn thaw(result: &Value, services: &ActionServices) -> Result<Value, ActionError> {
    let mut thawed = Vec::new();
    let mut errors = Vec::new();
    if let Some(table) = result.get("nftables_table").and_then(Value::as_str) {
        if !is_quarantine_table(table) {
            return Err(ActionError::permanent(format!(
                "thaw: {table:?} is not a vigil quarantine table"
            )));
        }
        return match run_nft(&["delete", "table", "inet", table], "") {
            Ok(()) => Ok(json!({ "thawed": [{ "nftables_table": table }], "errors": [] })),
            Err(e) => Err(ActionError::retryable(format!("thaw: {e}"))),
        };
    }
    let mut cgroups = BTreeSet::new();
    let actions = result
        .get("actions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for a in &actions {
        let pid = a
            .get("pid")
            .and_then(Value::as_i64)
            .and_then(|p| i32::try_from(p).ok());
        match a.get("method").and_then(Value::as_str) {
            Some("cgroup") => {
                if let Some(c) = a.get("cgroup").and_then(Value::as_str)
                    && c.starts_with('/')
                    && !c.split('/').any(|p| p == "..")
                    && cgroups.insert(c.to_owned())
                {
                    match std::fs::write(freeze_file(&services.cgroup_root, c), "0") {
                        Ok(()) => thawed.push(json!({ "cgroup": c })),
                        Err(e) => errors.push(format!("thaw cgroup {c}: {e}")),
                    }
                }
            }
            Some("sigstop") => {
                let Some(pid) = pid.filter(|&p| p > 1) else {
                    continue;
                };
                let want = a.get("start_time").and_then(Value::as_u64);
                if want.is_some() && start_time(&services.proc_root, pid) != want {
                    errors.push(format!("pid {pid} is no longer the stopped process"));
                    continue;
                }
                match kill(Pid::from_raw(pid), Signal::SIGCONT) {
                    Ok(()) => thawed.push(json!({ "pid": pid })),
                    Err(e) => errors.push(format!("continue {pid}: {e}")),
                }
            }
            _ => {}
        }
    }
    if thawed.is_empty() && !errors.is_empty() {
        return Err(ActionError::permanent(format!(
            "thaw: {}",
            errors.join("; ")
        )));
    }
    Ok(json!({ "thawed": thawed, "errors": errors }))
}

/// A DNS-1123 label for the policy's name.
fn policy_name(subject: &str) -> String {
    let mut name: String = subject
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(40);
    let name = format!("vigil-quarantine-{}", name.trim_matches('-'));
    name.trim_end_matches('-').to_owned()
}

/// A NetworkPolicy selecting the pod by its labels, with `Egress` in its policy types and no
/// egress rule: every outbound connection of the pod is denied.
pub fn network_policy(event: &Value, subject: &str) -> Result<Value, ActionError> {
    let namespace = text(event, "k8s.namespace.name").ok_or_else(|| {
        ActionError::permanent("network quarantine needs k8s.namespace.name in the event")
    })?;
    let labels: Map<String, Value> = match event.get("k8s.pod.labels") {
        Some(Value::Object(l)) if !l.is_empty() => l
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), Value::String(v.as_str()?.to_owned()))))
            .collect(),
        _ => {
            return Err(ActionError::permanent(
                "network quarantine needs the pod's labels (k8s.pod.labels) to select it",
            ));
        }
    };
    Ok(json!({
        "mode": "network",
        "manifest": {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": policy_name(subject),
                "namespace": namespace,
                "labels": { "app.kubernetes.io/managed-by": "vigil" },
                "annotations": { "vigil.dev/finding": subject },
            },
            "spec": {
                "podSelector": { "matchLabels": labels },
                "policyTypes": ["Egress"],
                "egress": [],
            },
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_from_the_event() {
        let e = json!({"process.pids": [10, {"pid": 11, "start_time": 5}, "x", 1, -3], "process.start_times": [7]});
        assert_eq!(
            target_pids(&e),
            vec![
                TargetPid {
                    pid: 10,
                    start_time: Some(7),
                    start_time_ms: None,
                },
                TargetPid {
                    pid: 11,
                    start_time: Some(5),
                    start_time_ms: None,
                }
            ]
        );
        let e = json!({"process.pids": [10, 12, {"pid": 11, "start_time_ms": 9}], "process.start_times_ms": [1_700_000_000_000i64, null]});
        assert_eq!(
            target_pids(&e)
                .iter()
                .map(|t| t.start_time_ms)
                .collect::<Vec<_>>(),
            vec![Some(1_700_000_000_000), None, Some(9)]
        );
        assert!(target_pids(&json!({})).is_empty());
    }

    #[test]
    fn a_start_time_in_milliseconds_matches_within_a_second() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("stat"), "cpu 1 2 3\nbtime 1700000000\n").unwrap();
        // Live: 12345 ticks after boot = 1_700_000_123_450 ms.
        let live = 12_345;
        let target = |start_time, start_time_ms| TargetPid {
            pid: 42,
            start_time,
            start_time_ms,
        };
        let cases: [(TargetPid, Option<bool>); 6] = [
            (target(Some(12_345), None), Some(true)),
            (target(Some(12_344), None), Some(false)),
            (target(None, Some(1_700_000_123_450)), Some(true)),
            (target(None, Some(1_700_000_123_000)), Some(true)),
            (target(None, Some(1_700_000_125_000)), Some(false)),
            (target(None, None), None),
        ];
        for (t, want) in cases {
            assert_eq!(same_process(&t, live, root.path()), want, "{t:?}");
        }
    }

    #[test]
    fn container_cgroups() {
        let cases: &[(&str, bool)] = &[
            ("/system.slice/docker-0123456789abcdef.scope", true),
            (
                "/kubepods.slice/kubepods-burstable.slice/cri-containerd-ab.scope",
                true,
            ),
            ("/user.slice/user-1000.slice/session-2.scope", false),
            ("/", false),
        ];
        for (path, want) in cases {
            assert_eq!(is_container_cgroup(path, None), *want, "{path}");
        }
        assert!(is_container_cgroup(
            "/custom/0123456789abcdef",
            Some("0123456789abcdef")
        ));
    }

    #[test]
    fn start_time_parses_names_with_parens_and_spaces() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("42")).unwrap();
        let mut fields = vec!["0"; 50];
        fields[19] = "123456";
        std::fs::write(
            dir.path().join("42/stat"),
            format!("42 (evil) (x y) S {}", fields[1..].join(" ")),
        )
        .unwrap();
        assert_eq!(start_time(dir.path(), 42), Some(123456));
        assert_eq!(start_time(dir.path(), 43), None);
    }

    #[test]
    fn nftables_rules_match_the_cgroup() {
        let cgroups: BTreeSet<String> = [
            "/system.slice/evil.service".to_owned(),
            "/bad\"quote".to_owned(),
        ]
        .into();
        let text = nftables_ruleset(&cgroups, "42").unwrap();
        assert!(text.contains("socket cgroupv2 level 2 \"system.slice/evil.service\" counter drop comment \"vigil finding 42\""), "{text}");
        assert!(!text.contains("quote"));
        assert!(
            text.starts_with(
                "table inet vigil_q_42\ndelete table inet vigil_q_42\ntable inet vigil_q_42 {"
            ),
            "{text}"
        );
        assert_eq!(nftables_ruleset(&BTreeSet::new(), "1"), None);
        // Table names: identifiers only, and only ours may be deleted by a thaw.
        assert_eq!(nftables_table("sha256:ab-C; rm"), "vigil_q_sha256_ab_C__rm");
        for (name, ours) in [
            ("vigil_q_42", true),
            ("vigil_q_", false),
            ("filter", false),
            ("vigil_q_a;b", false),
            ("vigil_q_a b", false),
        ] {
            assert_eq!(is_quarantine_table(name), ours, "{name}");
        }
    }

    #[test]
    fn network_policy_shape() {
        let e = json!({"k8s.namespace.name": "payments", "k8s.pod.labels": {"app": "checkout", "team": "pay"}});
        let r = network_policy(&e, "Finding 42").unwrap();
        let m = &r["manifest"];
        assert_eq!(m["kind"], "NetworkPolicy");
        assert_eq!(m["metadata"]["name"], "vigil-quarantine-finding-42");
        assert_eq!(m["metadata"]["namespace"], "payments");
        assert_eq!(m["spec"]["podSelector"]["matchLabels"]["app"], "checkout");
        assert_eq!(m["spec"]["policyTypes"], json!(["Egress"]));
        assert_eq!(m["spec"]["egress"], json!([]));
        assert!(network_policy(&json!({"k8s.namespace.name": "x"}), "1").is_err());
    }
}
