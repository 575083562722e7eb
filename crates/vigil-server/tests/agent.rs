//! `vigil agent` (the remote agent) against a real server on 127.0.0.1: a planted stand-in
//! package becomes a finding; snapshots taken while the server is down are spooled and
//! delivered once it is up, with nothing lost and nothing duplicated (also across a re-send
//! after a crash between the server's commit and the spool's delete); a restarted agent
//! resumes its sequence; the spool bound holds, coalescing into a full snapshot.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use vigil_server::agent::InventoryScanner;
use vigil_server::config::{AgentSection, Config};
use vigil_server::remote::{BackoffSettings, RemoteAgent, RemoteOptions, SpoolLimits};
use vigil_server::service::{self, Options, Service};
use vigil_store::{FindingFilter, FindingRecord, Timestamp};

const HOST: &str = "agent-test-host";

fn plant(tree: &Path, name: &str, version: &str) {
    let dir = tree.join("node_modules").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("package.json"),
        format!(r#"{{"name": "{name}", "version": "{version}"}}"#),
    )
    .unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    rt: tokio::runtime::Runtime,
    data: PathBuf,
    port: u16,
    service: Option<Service>,
    ingest: Option<String>,
}

impl Server {
    fn new(data: PathBuf, port: u16) -> Server {
        Server {
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
            data,
            port,
            service: None,
            ingest: None,
        }
    }

    /// Starts (or restarts) the server on its data dir and port; returns an ingest token
    /// (created on the first start).
    fn start(&mut self) -> String {
        let config = Config::parse("test.toml", "").unwrap();
        let service = self
            .rt
            .block_on(service::start(Options {
                data_dir: self.data.clone(),
                config,
                listen: Some(format!("127.0.0.1:{}", self.port)),
                local_agent: None,
                log: Arc::new(|_| {}),
            }))
            .unwrap();
        if self.ingest.is_none() {
            self.ingest = Some(
                service
                    .detector
                    .store()
                    .create_token("agent", &["ingest".to_owned()], Timestamp::now())
                    .unwrap()
                    .secret,
            );
        }
        self.service = Some(service);
        self.ingest.clone().unwrap()
    }

    fn stop(&mut self) {
        if let Some(s) = self.service.take() {
            s.shutdown();
            self.rt.block_on(s.wait());
        }
    }

    fn findings(&self) -> Vec<FindingRecord> {
        self.service
            .as_ref()
            .unwrap()
            .detector
            .store()
            .list_findings(&FindingFilter {
                statuses: Vec::new(),
                host_name: None,
                advisory_id: None,
                after: None,
                limit: 10_000,
            })
            .unwrap()
    }

    fn last_sequence(&self) -> Option<u64> {
        self.service
            .as_ref()
            .unwrap()
            .detector
            .store()
            .host(HOST)
            .unwrap()
            .and_then(|h| h.last_sequence)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A temp dir with `packages` planted under `tree/` and a started server on a free port;
/// returns (dir, tree, server, admin token).
fn started(packages: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf, Server, String) {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    for (name, version) in packages {
        plant(&tree, name, version);
    }
    let mut server = Server::new(dir.path().join("data"), free_port());
    let token = server.start();
    (dir, tree, server, token)
}

fn agent(port: u16, token: &str, data_dir: &Path, tree: &Path, spool: SpoolLimits) -> RemoteAgent {
    agent_to(&[port], token, data_dir, tree, spool)
}

/// An agent reporting to the servers on `ports`, the first being its primary.
fn agent_to(
    ports: &[u16],
    token: &str,
    data_dir: &Path,
    tree: &Path,
    spool: SpoolLimits,
) -> RemoteAgent {
    let mut urls = ports.iter().map(|p| format!("http://127.0.0.1:{p}"));
    RemoteAgent::new(
        RemoteOptions {
            server: urls.next().unwrap(),
            fallback_servers: urls.collect(),
            token: token.to_owned(),
            data_dir: data_dir.to_path_buf(),
            settings: AgentSection {
                paths: vec![tree.to_path_buf()],
                interval: Duration::from_millis(100),
                host_name: Some(HOST.to_owned()),
                ..AgentSection::default()
            },
            spool,
            backoff: BackoffSettings {
                base: Duration::from_millis(10),
                max: Duration::from_millis(50),
            },
        },
        Arc::new(InventoryScanner::default()),
    )
    .unwrap()
}

/// (component name, status) of every finding, sorted; asserts one finding per component.
fn by_component(findings: &[FindingRecord]) -> Vec<String> {
    let mut names: Vec<String> = findings
        .iter()
        .map(|f| {
            assert_eq!(f.host_name, HOST);
            f.component.to_string()
        })
        .collect();
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "duplicate findings: {findings:?}");
    names
}

#[test]
fn a_planted_package_becomes_a_finding() {
    let (dir, tree, server, token) = started(&[("debug", "4.4.2"), ("left-pad", "1.3.0")]);
    let mut a = agent(
        server.port,
        &token,
        &dir.path().join("agent"),
        &tree,
        SpoolLimits::default(),
    );
    let (pass, delivery) = a.run_once(3).unwrap();
    assert!(pass.full);
    assert_eq!(pass.instances, 2);
    assert_eq!(delivery.delivered, 1);
    assert!(delivery.retry.is_none());
    assert!(a.spool().entries().is_empty());
    let findings = server.findings();
    assert_eq!(by_component(&findings), ["npm:debug@4.4.2"]);
    assert!(findings[0].locations.iter().any(|l| l.contains("debug")));

    // Nothing changed: nothing is sent. A removal travels as a delta.
    let pass = a.snapshot().unwrap();
    assert!(pass.sequence.is_none());
    std::fs::remove_dir_all(tree.join("node_modules/left-pad")).unwrap();
    let pass = a.snapshot().unwrap();
    assert!(!pass.full);
    assert_eq!((pass.instances, pass.removed), (0, 1));
    assert_eq!(a.deliver().unwrap().delivered, 1);
    let gone = server
        .service
        .as_ref()
        .unwrap()
        .detector
        .store()
        .host(HOST)
        .unwrap()
        .unwrap();
    let present = server
        .service
        .as_ref()
        .unwrap()
        .detector
        .store()
        .instances_on_host(gone.id, false)
        .unwrap();
    assert_eq!(present.len(), 1);
}

#[test]
fn an_agent_fails_over_to_the_next_server_at_once() {
    let (dir, tree, mut server, token) = started(&[("debug", "4.4.2")]);
    // The primary is a port nothing listens on (a replica that is down).
    let down = free_port();
    let mut a = agent_to(
        &[down, server.port],
        &token,
        &dir.path().join("agent"),
        &tree,
        SpoolLimits::default(),
    );
    // One attempt, no backoff: the snapshot goes to the second server in the same delivery.
    let (_, delivery) = a.run_once(1).unwrap();
    assert_eq!(delivery.delivered, 1, "{delivery:?}");
    assert!(delivery.retry.is_none());
    assert!(a.spool().entries().is_empty());
    assert_eq!(by_component(&server.findings()), ["npm:debug@4.4.2"]);
    // Every server down: the snapshot stays spooled for a later attempt.
    server.stop();
    plant(&tree, "left-pad", "1.3.0");
    a.snapshot().unwrap();
    let delivery = a.deliver().unwrap();
    assert_eq!(delivery.delivered, 0);
    assert!(delivery.retry.is_some());
    assert_eq!(a.spool().entries().len(), 1);
}

#[test]
fn snapshots_spooled_while_the_server_is_down_arrive_once() {
    let (dir, tree, mut server, token) = started(&[("debug", "4.4.2")]);
    let port = server.port;
    // The token must exist before the agent starts: make it, then stop the server.
    server.stop();

    let agent_dir = dir.path().join("agent");
    let mut a = agent(port, &token, &agent_dir, &tree, SpoolLimits::default());
    let (pass, delivery) = a.run_once(2).unwrap();
    assert!(pass.full);
    assert!(delivery.retry.is_some(), "the server is down");
    plant(&tree, "chalk", "5.6.1");
    let pass = a.snapshot().unwrap();
    assert!(!pass.full);
    assert_eq!(pass.instances, 1);
    assert!(a.deliver().unwrap().retry.is_some());
    assert_eq!(a.spool().entries().len(), 2);

    // The agent is restarted while the server is still down: the spool survives, the
    // sequence goes on, and its first snapshot is full again.
    let spooled: Vec<u64> = a.spool().entries().iter().map(|e| e.sequence).collect();
    drop(a);
    let mut a = agent(port, &token, &agent_dir, &tree, SpoolLimits::default());
    assert_eq!(a.spool().entries().len(), 2);
    let pass = a.snapshot().unwrap();
    assert!(pass.full);
    assert!(pass.sequence.unwrap() > spooled[1]);

    // The server comes up: everything is delivered, in order.
    server.start();
    let keep = a.spool().entries()[2].clone();
    let kept = std::fs::read(&keep.path).unwrap();
    let delivery = a.deliver().unwrap();
    assert_eq!(delivery.delivered, 3);
    assert_eq!(delivery.duplicates, 0);
    assert!(a.spool().entries().is_empty());
    assert_eq!(server.last_sequence(), Some(keep.sequence));
    let names = by_component(&server.findings());
    assert_eq!(names, ["npm:chalk@5.6.1", "npm:debug@4.4.2"]);

    // A crash between the server's commit and the spool's delete: the re-send is a
    // duplicate and changes nothing.
    std::fs::write(&keep.path, kept).unwrap();
    drop(a);
    let mut a = agent(port, &token, &agent_dir, &tree, SpoolLimits::default());
    let delivery = a.deliver().unwrap();
    assert_eq!((delivery.delivered, delivery.duplicates), (1, 1));
    assert_eq!(by_component(&server.findings()), names);

    // The server restarts too; the restarted agent's full snapshot is applied (not a
    // duplicate) and creates nothing new.
    server.stop();
    server.start();
    let (pass, delivery) = a.run_once(3).unwrap();
    assert!(pass.full);
    assert_eq!((delivery.delivered, delivery.duplicates), (1, 0));
    assert!(pass.sequence.unwrap() > keep.sequence);
    assert_eq!(server.last_sequence(), pass.sequence);
    assert_eq!(by_component(&server.findings()), names);
}

#[test]
fn the_spool_bound_holds_by_coalescing_into_a_full_snapshot() {
    let (dir, tree, mut server, token) = started(&[("left-pad", "1.3.0")]);
    let port = server.port;
    server.stop();

    let limits = SpoolLimits {
        max_snapshots: 3,
        max_bytes: 1 << 20,
    };
    let mut a = agent(port, &token, &dir.path().join("agent"), &tree, limits);
    let mut coalesced = 0;
    for i in 0..10 {
        plant(&tree, &format!("pkg-{i}"), "1.0.0");
        if i == 7 {
            plant(&tree, "debug", "4.4.2");
        }
        let pass = a.snapshot().unwrap();
        assert!(pass.sequence.is_some());
        assert!(a.spool().entries().len() <= 3, "{:?}", a.spool());
        if pass.superseded > 0 {
            coalesced += 1;
            assert!(pass.full);
            assert_eq!(a.spool().entries().len(), 1);
        }
        let files = std::fs::read_dir(dir.path().join("agent/spool"))
            .unwrap()
            .count();
        assert_eq!(files, a.spool().entries().len());
    }
    assert!(coalesced >= 2);

    // What is left describes the latest state completely.
    server.start();
    let delivery = a.deliver().unwrap();
    assert!(delivery.retry.is_none());
    assert_eq!(by_component(&server.findings()), ["npm:debug@4.4.2"]);
    let store = Arc::clone(server.service.as_ref().unwrap().detector.store());
    let host = store.host(HOST).unwrap().unwrap();
    assert_eq!(store.instances_on_host(host.id, false).unwrap().len(), 12);
}

#[test]
fn the_agent_loop_delivers_changes_until_stopped() {
    let (dir, tree, server, token) = started(&[("left-pad", "1.3.0")]);
    let mut a = agent(
        server.port,
        &token,
        &dir.path().join("agent"),
        &tree,
        SpoolLimits::default(),
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let lines = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let worker = {
        let (stop, lines) = (Arc::clone(&stop), Arc::clone(&lines));
        std::thread::spawn(move || {
            a.run(&stop, &move |l| lines.lock().unwrap().push(l));
            a
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    plant(&tree, "debug", "4.4.2");
    let started = std::time::Instant::now();
    while server.findings().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(5), "no finding");
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let a = worker.join().unwrap();
    assert!(a.spool().entries().is_empty());
    assert_eq!(by_component(&server.findings()), ["npm:debug@4.4.2"]);
    let lines = lines.lock().unwrap();
    assert!(
        lines.iter().any(|l| l.contains("full snapshot")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("delta snapshot")),
        "{lines:?}"
    );
}
