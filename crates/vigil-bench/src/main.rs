//! # vigil-bench
//!
//! The fleet simulator of the benchmark suite (issue 10): it drives a real vigil server —
//! one it spawns (`vigil serve` on a temporary data directory) or one already running —
//! as N agents through the real HTTP API and wire format (vigil-server's snapshot types and
//! client), and prints a JSON summary. `bench/run.sh` (through `bench/bench.py`) runs it and
//! turns the summaries into rows of `bench/RESULTS.md`.
//!
//! - `fleet`: full snapshots of N hosts, an unchanged round, a changed round, then delta
//!   rounds with churn and planted malicious packages → ingest throughput, and detection
//!   latency from the delta's POST to its finding committed (API answer) and to the webhook
//!   received by a 127.0.0.1 sink inside this process.
//! - `detect-latency`: a store seeded with `--instances` through the API, then advisories
//!   imported one at a time (`POST /api/v1/intel`, custom list) naming installed packages →
//!   import → finding listed by the API, and import → webhook received.
//! - `up`: `vigil up` on a fresh data dir → ready, a planted package → finding, a custom
//!   list import → finding (issue 6's acceptance figures).
//! - `quarantine`: a snapshot naming a live process as the loader of a malicious package →
//!   that process stopped by a `quarantine` workflow (issue 8; see [`quarantine`]).
//!
//! Packages are real: the corpus's npm lockfile and venv, and malicious versions from the
//! intel (see [`pool`]). Nothing here is part of vigil itself; it only uses public APIs.

mod fleet;
mod pool;
mod quarantine;
mod receiver;
mod server;
mod stats;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use fleet::{Catalog, Host, Inst, Post, post_round};
use receiver::Receiver;
use server::Server;
use stats::{Rng, summarize};

#[derive(Parser)]
#[command(
    name = "vigil-bench",
    about = "Drive a vigil server as a fleet of agents and measure it."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// N agents: full snapshots, then deltas with churn and planted malicious packages.
    Fleet(FleetArgs),
    /// Intel import → finding latency on a store seeded with many instances.
    DetectLatency(DetectArgs),
    /// `vigil up` on a fresh data dir: ready, planted package → finding, list import → finding.
    Up(UpArgs),
    /// A snapshot naming a process that loaded a malicious package → that process frozen.
    Quarantine(QuarantineArgs),
}

#[derive(Args)]
struct Common {
    /// A running server's base URL (default: spawn one, as --spawn).
    #[arg(long, requires = "token")]
    server: Option<String>,
    /// Admin token of --server.
    #[arg(long)]
    token: Option<String>,
    /// The pid of --server, to report its CPU and RSS.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Start `vigil serve` on a temporary data directory (the default without --server).
    #[arg(long, conflicts_with = "server")]
    spawn: bool,
    /// The `vigil` binary to spawn (default: beside this one).
    #[arg(long)]
    vigil: Option<PathBuf>,
    /// The shared folder (intel).
    #[arg(long, env = "VIGIL_SHARED_DIR", default_value = "../shared")]
    shared: PathBuf,
    /// The benchmark corpus (default: `corpus` beside the shared folder).
    #[arg(long, env = "VIGIL_CORPUS_DIR")]
    corpus: Option<PathBuf>,
    /// OSV intel to draw malicious versions from and to import into a spawned server
    /// (default: SHARED/intel/malicious-packages-osv.zip).
    #[arg(long)]
    intel: Option<PathBuf>,
    /// Do not import the intel into the spawned server (the bundled baseline only; malicious
    /// versions are then drawn from it too).
    #[arg(long)]
    no_bulk_intel: bool,
    /// Where the webhook sink listens (a --server's workflow must post to
    /// http://ADDR/hook).
    #[arg(long, default_value = "127.0.0.1:0")]
    webhook_listen: String,
    /// Agents posting at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Random seed (the same seed makes the same fleet).
    #[arg(long, default_value_t = 10)]
    seed: u64,
}

#[derive(Args)]
struct FleetArgs {
    #[command(flatten)]
    common: Common,
    /// Hosts (agents).
    #[arg(long, default_value_t = 100)]
    hosts: usize,
    /// Component instances per host.
    #[arg(long, default_value_t = 2000)]
    components_per_host: usize,
    /// Per delta round, the percentage of each host's instances replaced.
    #[arg(long, default_value_t = 1.0)]
    churn: f64,
    /// Delta rounds.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Seconds from the start of one delta round to the next (agents report on an interval).
    #[arg(long, default_value_t = 1.0)]
    round_interval: f64,
    /// Fraction of generated instances that are a malicious version.
    #[arg(long, default_value_t = 0.001)]
    malicious_fraction: f64,
    /// Per delta round, hosts whose delta carries one newly planted malicious package (the
    /// detection latency samples).
    #[arg(long, default_value_t = 10)]
    plants_per_round: usize,
}

#[derive(Args)]
struct DetectArgs {
    #[command(flatten)]
    common: Common,
    /// Instances to seed the store with (through the API, as full snapshots).
    #[arg(long, default_value_t = 1_000_000)]
    instances: usize,
    /// Instances per host.
    #[arg(long, default_value_t = 2000)]
    components_per_host: usize,
    /// Advisories (= findings) in all, each naming a package installed on one host.
    #[arg(long, default_value_t = 100)]
    advisories: usize,
    /// Advisories per import (one custom list per `POST /api/v1/intel`), imported one list
    /// at a time; latencies are per finding, from the start of its list's import.
    #[arg(long, default_value_t = 1)]
    per_import: usize,
}

#[derive(Args)]
struct UpArgs {
    /// The `vigil` binary (default: beside this one).
    #[arg(long)]
    vigil: Option<PathBuf>,
    /// Fresh starts.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The local agent's `[agent] interval`.
    #[arg(long, default_value = "1s")]
    interval: String,
}

#[derive(Args)]
struct QuarantineArgs {
    /// The `vigil` binary (default: beside this one).
    #[arg(long)]
    vigil: Option<PathBuf>,
    /// Victims (one snapshot, one finding, one freeze each).
    #[arg(long, default_value_t = 20)]
    runs: usize,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fleet(a) => run_fleet(&a),
        Command::DetectLatency(a) => run_detect(&a),
        Command::Up(a) => run_up(&a),
        Command::Quarantine(a) => quarantine::run(a.vigil, a.runs),
    };
    match result {
        Ok(summary) => println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        ),
        Err(e) => {
            eprintln!("vigil-bench: {e:#}");
            std::process::exit(1);
        }
    }
}

/// The workflow every spawned server gets: each new finding → a webhook to the sink. The
/// rate limit is lifted (the default 20/s is a courtesy to real endpoints; this measures
/// detection, not politeness).
fn bench_config(sink: &Receiver) -> String {
    format!(
        r#"[[workflows]]
name = "vigil-bench"
filter = 'event.type == "VULNERABILITY_FINDING" and finding.status == "NEW"'
tasks = [ {{ action = "webhook", url = "http://{}/hook", rate_limit = "100000/s" }} ]
"#,
        sink.addr
    )
}

fn intel_path(c: &Common) -> PathBuf {
    c.intel
        .clone()
        .unwrap_or_else(|| c.shared.join("intel").join("malicious-packages-osv.zip"))
}

fn corpus_path(c: &Common) -> PathBuf {
    c.corpus.clone().unwrap_or_else(|| {
        c.shared
            .parent()
            .map(|p| p.join("corpus"))
            .unwrap_or_else(|| PathBuf::from("corpus"))
    })
}

/// The package pools: clean from the corpus; malicious from the intel, or from the bundled
/// baseline when the server gets no bulk intel.
fn catalog(c: &Common) -> Result<Catalog> {
    let started = Instant::now();
    let clean = pool::corpus_packages(&corpus_path(c))?;
    let malicious = if c.no_bulk_intel {
        pool::malicious_of(vigil_intel::baseline::advisories())
    } else {
        pool::malicious_packages(&intel_path(c))?
    };
    eprintln!(
        "vigil-bench: {} clean and {} malicious packages in {:.2} s",
        clean.len(),
        malicious.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(Catalog::new(clean, malicious))
}

fn server(c: &Common, sink: &Receiver) -> Result<Server> {
    match (&c.server, &c.token) {
        (Some(url), Some(token)) => Ok(Server::connect(url, token, c.server_pid)),
        (Some(_), None) => bail!("--server needs --token"),
        _ => {
            let vigil = server::vigil_binary(c.vigil.clone())?;
            let intel = intel_path(c);
            let bulk = (!c.no_bulk_intel).then_some(intel.as_path());
            let s = Server::spawn(&vigil, &bench_config(sink), bulk)?;
            eprintln!("vigil-bench: spawned {} (pid {:?})", s.base, s.pid);
            Ok(s)
        }
    }
}

fn server_json(s: &Server, c: &Common) -> Value {
    json!({
        "spawned": c.server.is_none(),
        "bulk_intel": c.server.is_none() && !c.no_bulk_intel,
        "ready_ms": s.ready.map(|d| d.as_millis() as u64),
        "usage_at_end": s.usage(),
    })
}

fn host_name(i: usize) -> String {
    format!("fleet-{i:05}")
}

fn full_posts(hosts: &mut [Host], catalog: &Catalog) -> Result<Vec<Post>> {
    hosts
        .iter_mut()
        .enumerate()
        .map(|(i, h)| {
            Ok(Post {
                host: i,
                items: h.insts.len(),
                body: h.snapshot(catalog, None)?,
            })
        })
        .collect()
}

/// Waits until the sink has every notification the server said it enqueued.
fn drain(sink: &Receiver, expected: usize) -> Value {
    let started = Instant::now();
    let got = sink.wait_total(expected, Duration::from_secs(60));
    json!({"expected": expected, "received": got, "waited_s": stats::round3(started.elapsed().as_secs_f64())})
}

fn run_fleet(a: &FleetArgs) -> Result<Value> {
    let c = &a.common;
    let sink = Receiver::start(&c.webhook_listen)?;
    let catalog = catalog(c)?;
    let server = server(c, &sink)?;
    let client = server.client()?;
    let mut rng = Rng::new(c.seed);
    let generated = Instant::now();
    let mut hosts: Vec<Host> = (0..a.hosts)
        .map(|i| {
            Host::generate(
                host_name(i),
                a.components_per_host,
                &catalog,
                a.malicious_fraction,
                &mut rng,
            )
        })
        .collect();
    eprintln!(
        "vigil-bench: generated {} hosts × {} instances in {:.2} s",
        a.hosts,
        a.components_per_host,
        generated.elapsed().as_secs_f64()
    );
    let mut expected_hooks = 0usize;

    let posts = full_posts(&mut hosts, &catalog)?;
    let (new, _) = post_round(&server, &client, "full, all new", posts, c.concurrency);
    expected_hooks += new.findings_created as usize;
    let drain_new = drain(&sink, expected_hooks);

    let posts = full_posts(&mut hosts, &catalog)?;
    let (unchanged, _) = post_round(&server, &client, "full, unchanged", posts, c.concurrency);
    expected_hooks += unchanged.findings_created as usize;

    for h in hosts.iter_mut() {
        h.churn(a.churn, &catalog, a.malicious_fraction, &mut rng);
    }
    let posts = full_posts(&mut hosts, &catalog)?;
    let (changed, _) = post_round(
        &server,
        &client,
        &format!("full, {} % changed", a.churn),
        posts,
        c.concurrency,
    );
    expected_hooks += changed.findings_created as usize;
    let drain_changed = drain(&sink, expected_hooks);

    // Delta rounds: churn everywhere, plants on some hosts; each plant's latency is measured
    // from the start of its host's POST.
    let mut deltas = Vec::new();
    let mut plants: Vec<(receiver::Key, Instant, Duration, bool)> = Vec::new();
    for round in 0..a.rounds {
        let round_started = Instant::now();
        let mut planted: Vec<(usize, Inst)> = Vec::new();
        let mut chosen = std::collections::BTreeSet::new();
        while chosen.len() < a.plants_per_round.min(a.hosts) {
            chosen.insert(rng.below(a.hosts));
        }
        let mut posts = Vec::with_capacity(hosts.len());
        for (i, h) in hosts.iter_mut().enumerate() {
            let mut change = h.churn(a.churn, &catalog, a.malicious_fraction, &mut rng);
            if chosen.contains(&i)
                && let Some(inst) = h.plant(&catalog, &mut rng)
            {
                change.added.push(inst);
                planted.push((i, inst));
            }
            posts.push(Post {
                host: i,
                items: change.added.len() + change.removed.len(),
                body: h.snapshot(&catalog, Some(&change))?,
            });
        }
        let (summary, sent) = post_round(
            &server,
            &client,
            &format!("delta {}", round + 1),
            posts,
            c.concurrency,
        );
        expected_hooks += summary.findings_created as usize;
        for (host, inst) in planted {
            if let Some(s) = sent.iter().find(|s| s.host == host) {
                let created = s
                    .answer
                    .as_ref()
                    .is_ok_and(|v| v["findings"]["created"].as_u64().unwrap_or(0) > 0);
                plants.push((hosts[host].key(&catalog, inst), s.start, s.took, created));
            }
        }
        deltas.push(summary);
        let pause =
            Duration::from_secs_f64(a.round_interval).saturating_sub(round_started.elapsed());
        std::thread::sleep(pause);
    }
    let keys: Vec<receiver::Key> = plants.iter().map(|p| p.0.clone()).collect();
    let missing = sink.wait_for(&keys, Duration::from_secs(30));
    let drain_end = drain(&sink, expected_hooks);
    let api_ms: Vec<f64> = plants
        .iter()
        .filter(|p| p.3)
        .map(|p| p.2.as_secs_f64() * 1e3)
        .collect();
    let hook_ms: Vec<f64> = plants
        .iter()
        .filter_map(|p| {
            sink.arrival(&p.0)
                .map(|at| at.duration_since(p.1).as_secs_f64() * 1e3)
        })
        .collect();
    Ok(json!({
        "command": "fleet",
        "hosts": a.hosts,
        "components_per_host": a.components_per_host,
        "churn_percent": a.churn,
        "rounds": a.rounds,
        "round_interval_s": a.round_interval,
        "malicious_fraction": a.malicious_fraction,
        "plants_per_round": a.plants_per_round,
        "concurrency": c.concurrency,
        "packages": {"clean": catalog.clean, "malicious": catalog.packages.len() - catalog.clean},
        "server": server_json(&server, c),
        "ingest": {"new": new, "unchanged": unchanged, "changed_full": changed, "deltas": deltas},
        "detection": {
            "planted": plants.len(),
            "findings_created_in_answer": api_ms.len(),
            "post_to_finding_committed_ms": summarize(&api_ms),
            "post_to_webhook_ms": summarize(&hook_ms),
            "missing_webhooks": missing,
        },
        "webhooks": {"after_new": drain_new, "after_changed": drain_changed, "at_end": drain_end},
    }))
}

fn run_detect(a: &DetectArgs) -> Result<Value> {
    let c = &a.common;
    let sink = Receiver::start(&c.webhook_listen)?;
    let catalog = catalog(c)?;
    if a.advisories > catalog.clean {
        bail!(
            "--advisories {} exceeds the {} clean packages",
            a.advisories,
            catalog.clean
        );
    }
    let server = server(c, &sink)?;
    let client = server.client()?;
    let mut rng = Rng::new(c.seed);
    let m = a.components_per_host.max(1);
    let n_hosts = a.instances.div_ceil(m).max(1);
    let mut hosts: Vec<Host> = (0..n_hosts)
        .map(|i| Host::generate(host_name(i), m, &catalog, 0.0, &mut rng))
        .collect();
    // Each advisory names a package that exactly one host has: one finding, one webhook.
    let mut targets = Vec::new();
    while targets.len() < a.advisories {
        let pkg = rng.below(catalog.clean) as u32;
        if !targets.iter().any(|&(p, _)| p == pkg) {
            targets.push((pkg, targets.len() * n_hosts / a.advisories.max(1)));
        }
    }
    for h in hosts.iter_mut() {
        for &(pkg, _) in &targets {
            h.remove_package(pkg);
        }
    }
    // Top the hosts up to their size again with other packages, in a further application root.
    for h in hosts.iter_mut() {
        let app = h
            .insts
            .iter()
            .map(|i| i.app)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        let mut tries = 0;
        while h.insts.len() < m && tries < 20 * m {
            tries += 1;
            let pkg = rng.below(catalog.clean) as u32;
            if !targets.iter().any(|&(p, _)| p == pkg) {
                h.add(Inst { pkg, app }, &catalog);
            }
        }
    }
    for &(pkg, host) in &targets {
        hosts[host].add(Inst { pkg, app: 0 }, &catalog);
    }
    let total: usize = hosts.iter().map(|h| h.insts.len()).sum();
    eprintln!("vigil-bench: seeding {total} instances on {n_hosts} hosts");
    let posts = full_posts(&mut hosts, &catalog)?;
    let (seed, _) = post_round(
        &server,
        &client,
        "seed (full, all new)",
        posts,
        c.concurrency,
    );
    if seed.errors > 0 {
        bail!(
            "seeding failed: {} errors, first: {:?}",
            seed.errors,
            seed.first_error
        );
    }
    drain(&sink, seed.findings_created as usize);

    let (mut import_ms, mut api_ms, mut hook_ms) = (Vec::new(), Vec::new(), Vec::new());
    let mut failures = Vec::new();
    for (k, chunk) in targets.chunks(a.per_import.max(1)).enumerate() {
        let keys: Vec<receiver::Key> = chunk
            .iter()
            .map(|&(pkg, host)| hosts[host].key(&catalog, Inst { pkg, app: 0 }))
            .collect();
        let body: String = chunk
            .iter()
            .map(|&(pkg, _)| {
                let p = &catalog.packages[pkg as usize];
                format!("{}:{}@{}\n", p.ecosystem, p.name, p.version)
            })
            .collect();
        let t0 = Instant::now();
        let answer = client.import_intel(
            body.into_bytes(),
            Some(&format!("bench-{k:03}")),
            Some("list"),
        );
        let took = t0.elapsed();
        if let Err(e) = answer {
            failures.push(format!("import {k}: {e}"));
            continue;
        }
        import_ms.push(took.as_secs_f64() * 1e3);
        // One listing of every NEW finding per poll: each target's first sighting.
        let mut listed: Vec<Option<Duration>> = vec![None; keys.len()];
        while listed.iter().any(Option::is_none) && t0.elapsed() < Duration::from_secs(30) {
            let findings = client
                .findings(&[("status", "NEW".to_owned()), ("limit", "10000".to_owned())])
                .ok()
                .and_then(|v| v.get("findings").and_then(Value::as_array).cloned())
                .unwrap_or_default();
            let now = t0.elapsed();
            for (slot, key) in listed.iter_mut().zip(&keys) {
                if slot.is_none()
                    && findings.iter().any(|x| {
                        x["host.name"].as_str() == Some(key.0.as_str())
                            && x["component.name"].as_str() == Some(key.1.as_str())
                            && x["component.version"].as_str() == Some(key.2.as_str())
                    })
                {
                    *slot = Some(now);
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        sink.wait_for(&keys, Duration::from_secs(30));
        for (key, seen) in keys.iter().zip(listed) {
            match seen {
                Some(d) => api_ms.push(d.as_secs_f64() * 1e3),
                None => failures.push(format!("{key:?}: no finding listed within 30 s")),
            }
            match sink.arrival(key) {
                Some(at) => hook_ms.push(at.duration_since(t0).as_secs_f64() * 1e3),
                None => failures.push(format!("{key:?}: no webhook within 30 s")),
            }
        }
    }
    Ok(json!({
        "command": "detect-latency",
        "instances": total,
        "hosts": n_hosts,
        "components_per_host": m,
        "advisories": a.advisories,
        "per_import": a.per_import.max(1),
        "imports": a.advisories.div_ceil(a.per_import.max(1)),
        "concurrency": c.concurrency,
        "server": server_json(&server, c),
        "seed": seed,
        "import_answer_ms": summarize(&import_ms),
        "import_to_finding_listed_ms": summarize(&api_ms),
        "import_to_webhook_ms": summarize(&hook_ms),
        "failures": failures,
    }))
}

/// Writes `node_modules/NAME/package.json` under `tree`, as npm installs it.
fn plant(tree: &Path, name: &str, version: &str) -> Result<PathBuf> {
    let dir = tree.join("node_modules").join(name);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("package.json"),
        json!({"name": name, "version": version}).to_string(),
    )?;
    Ok(dir)
}

/// Polls the findings until one is about `name`; the time since `t0`.
fn wait_finding(
    client: &vigil_server::client::Client,
    name: &str,
    t0: Instant,
) -> Option<Duration> {
    loop {
        let found = client
            .findings(&[])
            .ok()
            .and_then(|v| v.get("findings").and_then(Value::as_array).cloned())
            .is_some_and(|f| f.iter().any(|x| x["component.name"].as_str() == Some(name)));
        if found {
            return Some(t0.elapsed());
        }
        if t0.elapsed() > Duration::from_secs(15) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn run_up(a: &UpArgs) -> Result<Value> {
    let vigil = server::vigil_binary(a.vigil.clone())?;
    let (mut banner, mut healthz, mut planted, mut listed) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut failures = Vec::new();
    for run in 0..a.runs.max(1) {
        let dir = tempfile::Builder::new()
            .prefix("vigil-bench-up-")
            .tempdir()?;
        let tree = dir.path().join("tree");
        plant(&tree, "left-pad", "1.3.0")?;
        plant(&tree, "is-even", "1.0.0")?;
        let config = dir.path().join("vigil.toml");
        std::fs::write(
            &config,
            format!(
                "[agent]\npaths = [{:?}]\ninterval = {:?}\nhost_name = \"bench-up\"\n",
                tree.display().to_string(),
                a.interval
            ),
        )?;
        let spawned = Instant::now();
        let (mut child, base, token, ready) =
            server::start(&vigil, "up", &dir.path().join("data"), &config)?;
        let result = (|| -> Result<()> {
            let token = token.context("no admin token printed on a fresh data dir")?;
            let client = vigil_server::client::Client::new(&base, Some(token))?;
            while client.get("/healthz").is_err() {
                if spawned.elapsed() > Duration::from_secs(15) {
                    bail!("/healthz did not answer within 15 s");
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            healthz.push(spawned.elapsed().as_secs_f64() * 1e3);
            banner.push(ready.as_secs_f64() * 1e3);
            // The clean tree first: the plant must be a change the agent sees.
            let t0 = Instant::now();
            loop {
                let seen = client
                    .query("fetch software_components | filter name == \"left-pad\"")
                    .ok()
                    .and_then(|v| {
                        v.get("records")
                            .and_then(Value::as_array)
                            .map(|r| !r.is_empty())
                    })
                    .unwrap_or(false);
                if seen {
                    break;
                }
                if t0.elapsed() > Duration::from_secs(15) {
                    bail!("the local agent never reported the clean tree");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let t0 = Instant::now();
            plant(&tree, "debug", "4.4.2")?;
            planted.push(
                wait_finding(&client, "debug", t0)
                    .context("planted debug@4.4.2: no finding within 15 s")?
                    .as_secs_f64()
                    * 1e3,
            );
            let t0 = Instant::now();
            client.import_intel(
                b"left-pad@1.3.0\n".to_vec(),
                Some("bench-incident"),
                Some("list"),
            )?;
            listed.push(
                wait_finding(&client, "left-pad", t0)
                    .context("custom list: no finding within 15 s")?
                    .as_secs_f64()
                    * 1e3,
            );
            Ok(())
        })();
        let _ = child.kill();
        let _ = child.wait();
        if let Err(e) = result {
            failures.push(format!("run {run}: {e:#}"));
        }
    }
    Ok(json!({
        "command": "up",
        "runs": a.runs,
        "agent_interval": a.interval,
        "ready_banner_ms": summarize(&banner),
        "ready_healthz_ms": summarize(&healthz),
        "planted_to_finding_ms": summarize(&planted),
        "custom_list_to_finding_ms": summarize(&listed),
        "failures": failures,
    }))
}
