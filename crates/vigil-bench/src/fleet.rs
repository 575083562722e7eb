//! The simulated fleet: hosts with inventories drawn from the package pool, the snapshots
//! their agents send (vigil-server's own wire types, gzip as `vigil agent` sends them), and
//! rounds of posting them concurrently through the API with per-request timing.

use std::collections::HashSet;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;
use vigil_core::Evidence;
use vigil_server::client::{Client, ClientError};
use vigil_server::snapshot::{
    AgentHost, AgentInstance, AgentInstanceKey, AgentRemovals, AgentSnapshot, AgentSnapshotKind,
};

use crate::pool::Package;
use crate::server::{Server, Usage};
use crate::stats::{Rng, Summary, round3, summarize};

/// Every package a host may hold: the clean pool, then the malicious pool.
pub struct Catalog {
    /// Clean and malicious packages; indexes `0..clean` are clean.
    pub packages: Vec<Package>,
    /// How many of `packages` are clean.
    pub clean: usize,
}

impl Catalog {
    /// Joins the pools.
    pub fn new(clean: Vec<Package>, malicious: Vec<Package>) -> Catalog {
        let n = clean.len();
        let mut packages = clean;
        packages.extend(malicious);
        Catalog { packages, clean: n }
    }

    fn malicious(&self) -> usize {
        self.packages.len() - self.clean
    }

    /// A random package: malicious with probability `fraction`.
    fn draw(&self, rng: &mut Rng, fraction: f64) -> u32 {
        if self.malicious() > 0 && rng.unit() < fraction {
            (self.clean + rng.below(self.malicious())) as u32
        } else {
            rng.below(self.clean) as u32
        }
    }

    /// Whether package `pkg` is from the malicious pool.
    pub fn is_malicious(&self, pkg: u32) -> bool {
        pkg as usize >= self.clean
    }

    /// Where an instance lives: one application root per `app`, laid out as installed.
    fn path(&self, inst: Inst) -> String {
        let p = &self.packages[inst.pkg as usize];
        if p.ecosystem == "PyPI" {
            format!(
                "/srv/app-{}/venv/lib/python3.11/site-packages/{}-{}.dist-info/METADATA",
                inst.app, p.name, p.version
            )
        } else {
            format!("/srv/app-{}/node_modules/{}/package.json", inst.app, p.name)
        }
    }

    fn instance(&self, inst: Inst) -> AgentInstance {
        let p = &self.packages[inst.pkg as usize];
        AgentInstance {
            ecosystem: p.ecosystem.clone(),
            name: p.name.clone(),
            version: p.version.clone(),
            purl: None,
            path: self.path(inst),
            evidence: Evidence::Installed,
            dev: false,
            pids: Vec::new(),
            container_id: None,
        }
    }

    fn key(&self, inst: Inst) -> AgentInstanceKey {
        let p = &self.packages[inst.pkg as usize];
        AgentInstanceKey {
            ecosystem: p.ecosystem.clone(),
            name: p.name.clone(),
            version: p.version.clone(),
            path: self.path(inst),
            container_id: None,
        }
    }
}

/// One component instance of a host: a package in one application root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Inst {
    /// Index into [`Catalog::packages`].
    pub pkg: u32,
    /// Application root number.
    pub app: u16,
}

/// A simulated host and what its agent last reported.
pub struct Host {
    /// Host name.
    pub name: String,
    /// Its instances.
    pub insts: Vec<Inst>,
    present: HashSet<Inst>,
    /// Malicious packages ever on this host (a re-appearing one is no new finding).
    malicious_seen: HashSet<u32>,
    /// Last sequence number sent.
    pub sequence: u64,
}

/// What a delta changes.
#[derive(Default)]
pub struct Change {
    /// Added instances.
    pub added: Vec<Inst>,
    /// Removed instances.
    pub removed: Vec<Inst>,
}

impl Host {
    /// `m` instances: application roots of up to 60 % of the clean pool each (so churn finds
    /// packages not yet installed there), a `fraction` of them malicious.
    pub fn generate(
        name: String,
        m: usize,
        catalog: &Catalog,
        fraction: f64,
        rng: &mut Rng,
    ) -> Host {
        let app_size = (catalog.clean * 6 / 10).clamp(1, m.max(1));
        let mut host = Host {
            name,
            insts: Vec::with_capacity(m),
            present: HashSet::with_capacity(m),
            malicious_seen: HashSet::new(),
            sequence: 0,
        };
        let mut order: Vec<u32> = (0..catalog.clean as u32).collect();
        let mut app = 0u16;
        while host.insts.len() < m {
            let count = app_size.min(m - host.insts.len());
            for i in 0..count {
                let j = i + rng.below(order.len() - i);
                order.swap(i, j);
                let mut pkg = order[i];
                if catalog.malicious() > 0 && rng.unit() < fraction {
                    pkg = (catalog.clean + rng.below(catalog.malicious())) as u32;
                }
                host.insert(Inst { pkg, app }, catalog);
            }
            app = app.wrapping_add(1);
        }
        host
    }

    /// Adds an instance (no-op when present); whether it was added.
    pub fn add(&mut self, inst: Inst, catalog: &Catalog) -> bool {
        self.insert(inst, catalog)
    }

    fn insert(&mut self, inst: Inst, catalog: &Catalog) -> bool {
        if !self.present.insert(inst) {
            return false;
        }
        if catalog.is_malicious(inst.pkg) {
            self.malicious_seen.insert(inst.pkg);
        }
        self.insts.push(inst);
        true
    }

    /// Drops every instance of package `pkg`.
    pub fn remove_package(&mut self, pkg: u32) {
        self.insts.retain(|i| i.pkg != pkg);
        self.present.retain(|i| i.pkg != pkg);
    }

    /// Replaces `percent` % of the instances by other packages in the same application root
    /// (an upgrade or a redeploy); new ones are malicious with probability `fraction`.
    pub fn churn(
        &mut self,
        percent: f64,
        catalog: &Catalog,
        fraction: f64,
        rng: &mut Rng,
    ) -> Change {
        let n = ((self.insts.len() as f64) * percent / 100.0).round() as usize;
        let mut change = Change::default();
        for _ in 0..n {
            if self.insts.is_empty() {
                break;
            }
            let at = rng.below(self.insts.len());
            let old = self.insts[at];
            for _ in 0..20 {
                let new = Inst {
                    pkg: catalog.draw(rng, fraction),
                    app: old.app,
                };
                if self.present.contains(&new) {
                    continue;
                }
                self.present.remove(&old);
                self.present.insert(new);
                if catalog.is_malicious(new.pkg) {
                    self.malicious_seen.insert(new.pkg);
                }
                self.insts[at] = new;
                change.removed.push(old);
                change.added.push(new);
                break;
            }
        }
        change
    }

    /// Adds a malicious package never seen on this host (a planted compromise); `None` when
    /// the host has seen every one.
    pub fn plant(&mut self, catalog: &Catalog, rng: &mut Rng) -> Option<Inst> {
        let n = catalog.malicious();
        let start = rng.below(n.max(1));
        let pkg = (0..n)
            .map(|k| (catalog.clean + (start + k) % n) as u32)
            .find(|pkg| !self.malicious_seen.contains(pkg))?;
        let inst = Inst { pkg, app: 0 };
        self.insert(inst, catalog);
        Some(inst)
    }

    /// The host's next snapshot, gzip-compressed: `full`, or a `delta` of `change`.
    pub fn snapshot(&mut self, catalog: &Catalog, delta: Option<&Change>) -> Result<Vec<u8>> {
        self.sequence += 1;
        let (kind, instances, removed) = match delta {
            None => (
                AgentSnapshotKind::Full,
                self.insts.iter().map(|&i| catalog.instance(i)).collect(),
                AgentRemovals::default(),
            ),
            Some(change) => (
                AgentSnapshotKind::Delta,
                change.added.iter().map(|&i| catalog.instance(i)).collect(),
                AgentRemovals {
                    instances: change.removed.iter().map(|&i| catalog.key(i)).collect(),
                    ..AgentRemovals::default()
                },
            ),
        };
        let snapshot = AgentSnapshot {
            schema: vigil_server::snapshot::SCHEMA_VERSION,
            host: AgentHost {
                name: self.name.clone(),
                os_name: Some("Debian GNU/Linux".into()),
                os_version: Some("12".into()),
                arch: Some("x86_64".into()),
                agent_version: Some(concat!("vigil-bench/", env!("CARGO_PKG_VERSION")).into()),
                labels: Default::default(),
            },
            sequence: self.sequence,
            kind,
            containers: Vec::new(),
            processes: Vec::new(),
            instances,
            removed,
        };
        encode(&snapshot)
    }

    /// The key the webhook sink files a notification about `inst` on this host under.
    pub fn key(&self, catalog: &Catalog, inst: Inst) -> crate::receiver::Key {
        let p = &catalog.packages[inst.pkg as usize];
        (self.name.clone(), p.name.clone(), p.version.clone())
    }
}

/// A snapshot as `vigil agent` sends it: JSON, gzip-compressed.
pub fn encode(snapshot: &AgentSnapshot) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(snapshot)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&json)?;
    Ok(gz.finish()?)
}

/// One snapshot to post.
pub struct Post {
    /// Host index.
    pub host: usize,
    /// Gzip body.
    pub body: Vec<u8>,
    /// Instances it carries (added or listed) plus removals.
    pub items: usize,
}

/// How one post went.
#[derive(Clone, Debug)]
pub struct Sent {
    /// Host index.
    pub host: usize,
    /// When the request started.
    pub start: Instant,
    /// How long until the answer (the snapshot and its findings committed).
    pub took: Duration,
    /// The server's answer, or the error.
    pub answer: Result<Value, String>,
    /// Re-sends after 503 or transport errors.
    pub retries: u32,
}

/// The figures of one round.
#[derive(Clone, Debug, Serialize)]
pub struct RoundSummary {
    /// What the round was.
    pub round: String,
    /// Snapshots posted.
    pub snapshots: usize,
    /// Instances (and removals) they carried.
    pub items: usize,
    /// Wall seconds of the round.
    pub wall_s: f64,
    /// Snapshots per second.
    pub snapshots_per_s: f64,
    /// Items per second.
    pub items_per_s: f64,
    /// Per-request time, ms.
    pub post_ms: Summary,
    /// Sums of the server's answers.
    pub server_new: u64,
    /// Changed instances.
    pub server_changed: u64,
    /// Gone instances.
    pub server_gone: u64,
    /// Unchanged instances.
    pub server_unchanged: u64,
    /// Findings created.
    pub findings_created: u64,
    /// Failed posts (after retries).
    pub errors: usize,
    /// First error, if any.
    pub first_error: Option<String>,
    /// Re-sends.
    pub retries: u32,
    /// Server CPU seconds during the round.
    pub server_cpu_s: Option<f64>,
    /// Server CPU in cores (CPU seconds ÷ wall).
    pub server_cores: Option<f64>,
    /// Server RSS at the end of the round, MB.
    pub server_rss_mb: Option<f64>,
}

/// Posts `posts` with `concurrency` agents at once and summarizes the round.
pub fn post_round(
    server: &Server,
    client: &Client,
    round: &str,
    posts: Vec<Post>,
    concurrency: usize,
) -> (RoundSummary, Vec<Sent>) {
    let before: Option<Usage> = server.usage();
    let next = AtomicUsize::new(0);
    let sent = Mutex::new(Vec::with_capacity(posts.len()));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..concurrency.max(1) {
            scope.spawn(|| {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(post) = posts.get(i) else { break };
                    mine.push(send(client, post));
                }
                sent.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .extend(mine);
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    let after = server.usage();
    let sent = sent
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let items: usize = posts.iter().map(|p| p.items).sum();
    let sum = |key: &str| -> u64 {
        sent.iter()
            .filter_map(|s| s.answer.as_ref().ok())
            .map(|a| a.get(key).and_then(Value::as_u64).unwrap_or(0))
            .sum()
    };
    let created: u64 = sent
        .iter()
        .filter_map(|s| s.answer.as_ref().ok())
        .map(|a| a["findings"]["created"].as_u64().unwrap_or(0))
        .sum();
    let errors: Vec<&String> = sent
        .iter()
        .filter_map(|s| s.answer.as_ref().err())
        .collect();
    let cpu = before.zip(after).map(|(b, a)| round3(a.cpu_s - b.cpu_s));
    let summary = RoundSummary {
        round: round.to_owned(),
        snapshots: posts.len(),
        items,
        wall_s: round3(wall),
        snapshots_per_s: round3(posts.len() as f64 / wall),
        items_per_s: round3(items as f64 / wall),
        post_ms: summarize(
            &sent
                .iter()
                .map(|s| s.took.as_secs_f64() * 1e3)
                .collect::<Vec<_>>(),
        ),
        server_new: sum("new"),
        server_changed: sum("changed"),
        server_gone: sum("gone"),
        server_unchanged: sum("unchanged"),
        findings_created: created,
        errors: errors.len(),
        first_error: errors.first().map(|e| (*e).clone()),
        retries: sent.iter().map(|s| s.retries).sum(),
        server_cpu_s: cpu,
        server_cores: cpu.map(|c| round3(c / wall)),
        server_rss_mb: after.map(|u| round3(u.rss_mb)),
    };
    eprintln!(
        "vigil-bench: {round}: {} snapshots, {} items in {:.2} s ({:.1} snapshots/s, {:.0} items/s), {} findings, {} errors",
        summary.snapshots,
        summary.items,
        wall,
        summary.snapshots_per_s,
        summary.items_per_s,
        created,
        summary.errors
    );
    (summary, sent)
}

fn send(client: &Client, post: &Post) -> Sent {
    let start = Instant::now();
    let mut retries = 0;
    loop {
        let answer = client.post_inventory(post.body.clone());
        let retry = match &answer {
            Err(ClientError::Transport(_)) => true,
            Err(ClientError::Api { status, .. }) => *status == 503,
            Ok(_) => false,
        };
        if retry && retries < 5 {
            retries += 1;
            std::thread::sleep(Duration::from_millis(100 << retries));
            continue;
        }
        return Sent {
            host: post.host,
            start,
            took: start.elapsed(),
            answer: answer.map_err(|e| e.to_string()),
            retries,
        };
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Read;

    use super::*;

    fn catalog() -> Catalog {
        let pkg = |name: String, version: String| Package {
            ecosystem: "npm".into(),
            name,
            version,
        };
        Catalog::new(
            (0..100)
                .map(|i| pkg(format!("p{i}"), format!("1.0.{i}")))
                .collect(),
            (0..10)
                .map(|i| pkg(format!("evil{i}"), "6.6.6".into()))
                .collect(),
        )
    }

    #[test]
    fn hosts_have_their_size_and_churn_replaces_the_share_asked() {
        let cat = catalog();
        // (instances, churn %, instances replaced)
        for (m, percent, replaced) in [(50, 10.0, 5), (150, 2.0, 3), (10, 0.0, 0), (1, 100.0, 1)] {
            let mut rng = Rng::new(1);
            let mut h = Host::generate("h".into(), m, &cat, 0.0, &mut rng);
            assert_eq!(h.insts.len(), m);
            assert_eq!(
                h.insts.iter().collect::<HashSet<_>>().len(),
                m,
                "duplicates"
            );
            let change = h.churn(percent, &cat, 0.0, &mut rng);
            assert_eq!(
                (change.added.len(), change.removed.len()),
                (replaced, replaced),
                "{m} {percent}"
            );
            assert_eq!(h.insts.len(), m);
            assert!(h.insts.iter().all(|i| !cat.is_malicious(i.pkg)));
            assert!(change.added.iter().all(|a| !change.removed.contains(a)));
        }
    }

    #[test]
    fn plants_are_malicious_and_never_repeat_on_a_host() {
        let cat = catalog();
        let mut rng = Rng::new(3);
        let mut h = Host::generate("h".into(), 20, &cat, 0.0, &mut rng);
        let mut seen = HashSet::new();
        for _ in 0..10 {
            let inst = h.plant(&cat, &mut rng).unwrap();
            assert!(cat.is_malicious(inst.pkg));
            assert!(seen.insert(inst.pkg));
        }
        assert!(
            h.plant(&cat, &mut rng).is_none(),
            "the pool of 10 is used up"
        );
    }

    #[test]
    fn snapshots_are_what_the_server_accepts() {
        let cat = catalog();
        let mut rng = Rng::new(5);
        let mut h = Host::generate("web-1".into(), 30, &cat, 0.0, &mut rng);
        let full = h.snapshot(&cat, None).unwrap();
        let change = h.churn(10.0, &cat, 0.0, &mut rng);
        let delta = h.snapshot(&cat, Some(&change)).unwrap();
        for (body, kind, instances, removed, sequence) in [
            (full, AgentSnapshotKind::Full, 30, 0, 1),
            (delta, AgentSnapshotKind::Delta, 3, 3, 2),
        ] {
            let mut json = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut json)
                .unwrap();
            let parsed = vigil_server::snapshot::parse(&json).unwrap();
            assert_eq!(parsed.kind, kind);
            assert_eq!(parsed.sequence, sequence);
            assert_eq!(
                (parsed.instances.len(), parsed.removed.instances.len()),
                (instances, removed)
            );
            parsed.into_store().unwrap();
        }
    }
}
