//! The server under test: a `vigil serve` this tool spawns on a temporary data directory
//! (`--spawn`, the default), or one already running (`--server URL --token T`). Spawned
//! servers are real processes, so their CPU time and RSS are read from `/proc/PID` like any
//! other process's.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use vigil_server::client::Client;

/// A server to drive.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// An admin token.
    pub token: String,
    /// The server's pid, when known (spawned, or `--server-pid`).
    pub pid: Option<u32>,
    /// Spawn to banner, when spawned.
    pub ready: Option<Duration>,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

/// CPU time and memory of the server process.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Usage {
    /// user + system CPU seconds since it started.
    pub cpu_s: f64,
    /// Resident set now, MB.
    pub rss_mb: f64,
    /// Peak resident set, MB.
    pub peak_rss_mb: f64,
}

impl Server {
    /// Starts `vigil serve` on a fresh data directory with `config` (TOML text); imports
    /// `intel` into it first when given (as `vigil intel import` would).
    pub fn spawn(vigil: &Path, config: &str, intel: Option<&Path>) -> Result<Server> {
        let dir = tempfile::Builder::new().prefix("vigil-bench-").tempdir()?;
        let data = dir.path().join("data");
        let config_path = dir.path().join("vigil.toml");
        std::fs::write(&config_path, config)?;
        if let Some(intel) = intel {
            let started = Instant::now();
            let status = Command::new(vigil)
                .args(["intel", "import", "-q", "--data-dir"])
                .arg(&data)
                .arg(intel)
                .stdout(Stdio::null())
                .status()
                .with_context(|| format!("{}: cannot run", vigil.display()))?;
            if !status.success() {
                bail!("`vigil intel import {}` failed: {status}", intel.display());
            }
            eprintln!(
                "vigil-bench: imported {} in {:.2} s",
                intel.display(),
                started.elapsed().as_secs_f64()
            );
        }
        let (child, base, token, ready) = start(vigil, "serve", &data, &config_path)?;
        let token = token.context("the spawned server printed no admin token")?;
        Ok(Server {
            base,
            token,
            pid: Some(child.id()),
            ready: Some(ready),
            child: Some(child),
            _dir: Some(dir),
        })
    }

    /// A server that is already running.
    pub fn connect(base: &str, token: &str, pid: Option<u32>) -> Server {
        Server {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            pid,
            ready: None,
            child: None,
            _dir: None,
        }
    }

    /// An API client with the admin token.
    pub fn client(&self) -> Result<Client> {
        Ok(Client::new(&self.base, Some(self.token.clone()))?)
    }

    /// The server's CPU time and memory now (`None` without a pid or on another host).
    pub fn usage(&self) -> Option<Usage> {
        self.pid.and_then(usage_of)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Spawns `vigil -q SUBCOMMAND --listen 127.0.0.1:0 --data-dir DATA --config CONFIG` and reads
/// its banner: (child, API base, admin token if printed, spawn → "ready in" line).
pub fn start(
    vigil: &Path,
    subcommand: &str,
    data: &Path,
    config: &Path,
) -> Result<(Child, String, Option<String>, Duration)> {
    let spawned = Instant::now();
    let mut child = Command::new(vigil)
        .args(["-q", subcommand, "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .arg("--config")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("{}: cannot run", vigil.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let (mut base, mut token, mut ready) = (None, None, None);
    // The banner ends with the curl line.
    for line in lines.by_ref() {
        let line = line?;
        if line.contains("ready in") {
            ready = Some(spawned.elapsed());
        }
        if let Some(api) = line.trim().strip_prefix("api:") {
            base = Some(api.trim().to_owned());
        }
        if let Some(t) = line.split("stored hashed): ").nth(1) {
            token = Some(t.trim().to_owned());
        }
        if line.contains("curl ") {
            break;
        }
    }
    // Keep reading so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let Some(base) = base else {
        let _ = child.kill();
        let status = child.wait()?;
        bail!("`vigil {subcommand}` exited ({status}) before printing its address");
    };
    Ok((
        child,
        base,
        token,
        ready.unwrap_or_else(|| spawned.elapsed()),
    ))
}

/// CPU seconds and memory of `pid` from `/proc`.
pub fn usage_of(pid: u32) -> Option<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may itself hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    Some(Usage {
        cpu_s: (utime + stime) / clock_ticks(),
        rss_mb: kb("VmRSS:") / 1024.0,
        peak_rss_mb: kb("VmHWM:") / 1024.0,
    })
}

/// `sysconf(_SC_CLK_TCK)` without libc: 100 on every Linux architecture this runs on.
fn clock_ticks() -> f64 {
    100.0
}

/// The `vigil` binary: beside this one (both are built into `target/release`), unless given.
pub fn vigil_binary(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p);
    }
    let me = std::env::current_exe()?;
    let beside = me.with_file_name("vigil");
    if beside.is_file() {
        return Ok(beside);
    }
    bail!(
        "no `vigil` binary beside {} (build it: cargo build --release -p vigil-cli, or pass --vigil)",
        me.display()
    )
}
