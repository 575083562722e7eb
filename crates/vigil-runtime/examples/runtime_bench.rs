//! Runtime inventory figures on this machine (root needed for the watcher part):
//!
//! ```text
//! cargo run --release -p vigil-runtime --example runtime_bench [-- PROCESSES [OPENS_PER_SEC]]
//! ```
//!
//! 1. Spawns PROCESSES (default 500) idle processes, then times one full sweep (discovery with
//!    sockets) and one loaded-packages pass (maps + fds + owner resolution) over every
//!    process, and reports this process's RSS.
//! 2. Arms the fanotify watcher on a temporary `node_modules` tree and runs a `node` workload
//!    that opens OPENS_PER_SEC (default 10,000) package files per second for 3 s (a loader, so
//!    every event takes the full path: filter, owner resolution, per-process package set);
//!    reports the watcher's CPU time over that window. The mark is on the whole filesystem,
//!    so whatever else runs on the machine is counted too (`events` vs the workload's opens).

#![allow(clippy::unwrap_used)] // a benchmark harness: setup failures should stop it loudly

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vigil_runtime::{Discovery, OwnerResolver, ProcfsRoot, Watcher, loaded_packages};

struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
        }
        for c in &mut self.0 {
            let _ = c.wait();
        }
    }
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of this process, in clock ticks (100 Hz).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let rate: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);

    // 1. Sweep.
    let mut children = Children(Vec::new());
    for _ in 0..n {
        children.0.push(
            Command::new("sleep")
                .arg("600")
                .stdin(Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    let procfs = ProcfsRoot::system();
    let mut discovery = Discovery::new(procfs.clone());
    let cold = discovery.sweep().unwrap();
    let warm = discovery.sweep().unwrap();
    let started = Instant::now();
    let mut resolver = OwnerResolver::default();
    let mut packages = 0;
    for p in &warm.processes {
        if let Ok(found) = loaded_packages(&procfs, p.pid, p.namespaces.mnt, &mut resolver) {
            packages += found.len();
        }
    }
    let loaded_elapsed = started.elapsed();
    println!(
        "sweep: {} processes, cold {:?}, warm {:?} ({:.1} µs/process); loaded-packages pass {:?} ({} packages); RSS {} KiB (peak {} KiB)",
        warm.processes.len(),
        cold.elapsed,
        warm.elapsed,
        warm.elapsed.as_secs_f64() * 1e6 / warm.processes.len().max(1) as f64,
        loaded_elapsed,
        packages,
        status_kb("VmRSS:"),
        status_kb("VmHWM:"),
    );
    drop(children);

    // 2. Watcher CPU under an open-heavy workload.
    let mut watcher = match Watcher::new() {
        Ok(w) => w,
        Err(e) => {
            println!("watcher: skipped ({e})");
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let nm = tmp.path().join("node_modules");
    for p in 0..100 {
        let dir = nm.join(format!("pkg{p}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("package.json"),
            format!("{{\"name\":\"pkg{p}\",\"version\":\"1.0.{p}\"}}"),
        )
        .unwrap();
        for f in 0..10 {
            std::fs::write(dir.join(format!("f{f}.js")), "x").unwrap();
        }
    }
    watcher.watch_path(&nm).unwrap();
    let seconds = 3;
    let script = format!(
        r#"
const fs = require('fs'), path = require('path');
const nm = {nm:?};
const paths = [];
for (let p = 0; p < 100; p++) for (let f = 0; f < 10; f++) paths.push(path.join(nm, 'pkg' + p, 'f' + f + '.js'));
const rate = {rate}, seconds = {seconds};
const start = Date.now(), end = start + seconds * 1000;
let n = 0;
function burst() {{
  while (Date.now() < end) {{
    for (let i = 0; i < 100; i++) fs.closeSync(fs.openSync(paths[(n + i) % 1000], 'r'));
    n += 100;
    const ahead = n / rate * 1000 - (Date.now() - start);
    if (ahead > 0) return setTimeout(burst, ahead);
  }}
  console.log(n);
}}
burst();
"#,
        nm = nm.to_str().unwrap()
    );
    let workload = Command::new("node")
        .arg("-e")
        .arg(&script)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let ticks = cpu_ticks();
    let started = Instant::now();
    watcher
        .run_for(Duration::from_secs(seconds) + Duration::from_millis(300))
        .unwrap();
    let wall = started.elapsed();
    let used = cpu_ticks() - ticks;
    let out = workload.wait_with_output().unwrap();
    let opens: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    let stats = watcher.stats();
    println!(
        "watcher: workload {} opens in {seconds} s ({:.0}/s); watcher CPU {:.0} ms over {:?} = {:.1}% of one core; events {}, candidates {}, observations {}, not loads {}, overflows {}; tracked processes {}; RSS {} KiB",
        opens,
        opens as f64 / seconds as f64,
        used as f64 * 10.0,
        wall,
        used as f64 * 10.0 / wall.as_millis().max(1) as f64 * 100.0,
        stats.events,
        stats.candidates,
        stats.observations,
        stats.not_loads,
        stats.overflows,
        watcher.tracked(),
        status_kb("VmRSS:"),
    );
    std::io::stdout().flush().unwrap();
}
