//! Helpers for the tests that run the real `vigil` binary (`up.rs`, `replicas.rs`,
//! `workflows.rs`): start `vigil up` or `vigil serve` on a data directory and wait for its
//! banner, call its API, kill it, a local webhook sink that holds each request (a slow
//! receiver) so a test can kill the server mid-delivery, and the checks the crash tests make
//! on the store afterwards.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub fn vigil() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("vigil"))
}

/// A running `vigil serve` or `vigil up`, killed and reaped when dropped (panics included).
pub struct Server {
    child: Option<Child>,
    pub base: String,
    /// The admin token, printed on the first start of a data directory only.
    pub token: Option<String>,
    /// When the process was spawned.
    pub spawned: Instant,
    /// How long after spawning the banner's `ready in` line came (zero if none).
    pub ready_line: Duration,
}

impl Server {
    /// `vigil serve` on `data` with `config`.
    pub fn serve(data: &Path, config: &Path) -> Server {
        Server::start(&["serve"], data, config)
    }

    /// `vigil -q up` on `data` with `config`.
    pub fn up(data: &Path, config: &Path) -> Server {
        Server::start(&["-q", "up"], data, config)
    }

    /// Starts `vigil ARGS…` on `data` with `config` and an ephemeral port; returns once the
    /// banner says where the API is.
    fn start(args: &[&str], data: &Path, config: &Path) -> Server {
        let spawned = Instant::now();
        let mut child = vigil()
            .args(args)
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .arg("--config")
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let (mut base, mut token, mut ready_line) = (None, None, Duration::ZERO);
        // The banner ends with the curl line.
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line.contains("ready in") {
                ready_line = spawned.elapsed();
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
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child: Some(child),
            base: base.unwrap_or_else(|| panic!("vigil {args:?} printed no api line")),
            token,
            spawned,
            ready_line,
        }
    }

    /// SIGKILL: no shutdown path runs.
    pub fn sigkill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and how the process exited.
    pub fn sigterm(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server is running");
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.sigkill();
    }
}

/// A blocking API client for tests.
pub struct Api {
    http: reqwest::blocking::Client,
    pub base: String,
    pub token: String,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Api {
        Api {
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            base: base.to_owned(),
            token: token.to_owned(),
        }
    }

    /// The underlying client, for requests outside the API (`/healthz`).
    pub fn http(&self) -> &reqwest::blocking::Client {
        &self.http
    }

    pub fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .unwrap();
        let status = r.status();
        let v: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
        assert!(status.is_success(), "GET {path}: {status} {v}");
        v
    }

    /// POSTs `body` as JSON.
    pub fn post(&self, path: &str, body: &Value) -> Value {
        self.post_raw(path, body.to_string().into_bytes(), "application/json")
    }

    /// POSTs `body` as is, with `content_type`.
    pub fn post_raw(&self, path: &str, body: Vec<u8>, content_type: &str) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .unwrap();
        let status = r.status();
        let v: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
        assert!(status.is_success(), "POST {path}: {status} {v}");
        v
    }

    /// The records of a query.
    pub fn query(&self, q: &str) -> Vec<Value> {
        let v = self.post("/api/v1/query", &json!({ "query": q }));
        v["records"].as_array().unwrap().clone()
    }

    pub fn findings(&self) -> Vec<Value> {
        self.get("/api/v1/findings")["findings"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Polls until `pred` holds on the findings; returns them and how long it took.
    pub fn wait_for(
        &self,
        within: Duration,
        pred: impl Fn(&[Value]) -> bool,
    ) -> (Vec<Value>, Duration) {
        let started = Instant::now();
        loop {
            let f = self.findings();
            if pred(&f) {
                return (f, started.elapsed());
            }
            assert!(
                started.elapsed() < within,
                "not within {within:?}: {}",
                Value::Array(f)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// What a [`Sink`] has seen.
#[derive(Debug, Default)]
pub struct SinkState {
    /// Requests received (re-sends included).
    pub raw: usize,
    /// Requests per idempotency key: the deliveries a sink honouring the key keeps.
    pub keys: BTreeMap<String, usize>,
    /// Requests received and not yet answered.
    pub holding: usize,
    /// Requests whose body's `idempotency_key` differed from the header.
    pub mismatched: usize,
}

/// A local HTTP sink on 127.0.0.1 that answers every POST 200 after holding it for `hold`.
pub struct Sink {
    pub url: String,
    pub state: Arc<Mutex<SinkState>>,
}

impl Sink {
    pub fn start(hold: Duration) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(SinkState::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve_one(stream, &state, hold));
            }
        });
        Sink { url, state }
    }

    /// Waits until `done(state)` holds, or panics naming `what` after `limit`.
    pub fn wait(&self, what: &str, limit: Duration, done: impl Fn(&SinkState) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            if done(&self.state.lock().unwrap()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what} within {limit:?}: {:?}",
                self.state.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// One request per connection (`Connection: close`).
fn serve_one(mut stream: TcpStream, state: &Mutex<SinkState>, hold: Duration) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let (mut length, mut key) = (0usize, String::new());
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "x-vigil-idempotency-key" => key = value.trim().to_owned(),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body_key = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["idempotency_key"].as_str().map(str::to_owned));
    {
        let mut s = state.lock().unwrap();
        s.raw += 1;
        *s.keys.entry(key.clone()).or_default() += 1;
        s.holding += 1;
        if body_key.as_deref() != Some(key.as_str()) {
            s.mismatched += 1;
        }
    }
    std::thread::sleep(hold);
    let _ = stream.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
    );
    state.lock().unwrap().holding -= 1;
}

/// Checks what the simulated agents `agent-0`… left in `store` after `snapshots` full
/// snapshots each (`packages(agent, sequence)`: what the agent reported in that one): no
/// accepted snapshot lost, and each host holds exactly what its agent last said. Returns the
/// (host, package) pairs the bundled baseline flags in any snapshot: each must have a finding.
pub fn check_agents(
    store: &vigil_store::Store,
    agents: usize,
    snapshots: u64,
    packages: impl Fn(usize, u64) -> Vec<(&'static str, &'static str)>,
) -> BTreeSet<(String, String)> {
    let baseline = vigil_intel::baseline::index();
    let npm = vigil_core::Ecosystem::parse("npm");
    let mut expected = BTreeSet::new();
    for agent in 0..agents {
        let host_name = format!("agent-{agent}");
        let host = store.host(&host_name).unwrap().unwrap();
        assert_eq!(
            host.last_sequence,
            Some(snapshots),
            "{host_name}: a snapshot was lost"
        );
        let present: BTreeSet<String> = store
            .instances_on_host(host.id, false)
            .unwrap()
            .into_iter()
            .map(|i| i.component.name.as_str().to_owned())
            .collect();
        let last: BTreeSet<String> = packages(agent, snapshots)
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .collect();
        assert_eq!(
            present, last,
            "{host_name}: the store is not what the agent last said"
        );
        for sequence in 1..=snapshots {
            for (name, version) in packages(agent, sequence) {
                if !baseline.lookup(&npm, name, version).is_empty() {
                    expected.insert((host_name.clone(), name.to_owned()));
                }
            }
        }
    }
    expected
}

/// Every finding in `store`.
pub fn all_findings(store: &vigil_store::Store) -> Vec<vigil_store::FindingRecord> {
    store
        .list_findings(&vigil_store::FindingFilter {
            limit: 10_000,
            ..Default::default()
        })
        .unwrap()
}

/// Asserts that each of `findings` has exactly one creation event; returns every event.
pub fn assert_one_creation_event(
    store: &vigil_store::Store,
    findings: &[vigil_store::FindingRecord],
) -> Vec<vigil_store::StoredEvent> {
    let events = store
        .events_since(vigil_store::EventSeq(0), 100_000)
        .unwrap();
    for f in findings {
        let created = events
            .iter()
            .filter(|e| e.finding_id == Some(f.id) && e.event_type == "VULNERABILITY_FINDING")
            .count();
        assert_eq!(
            created, 1,
            "finding {} has {created} creation events",
            f.id.0
        );
    }
    events
}

/// Simulated agents, each on its own thread, sending `snapshots` full snapshots to
/// `/api/v1/inventory` and re-sending each until a server accepts it, like a spooling agent.
pub struct Agents {
    threads: Vec<std::thread::JoinHandle<()>>,
    retries: Arc<std::sync::atomic::AtomicUsize>,
}

impl Agents {
    /// Starts agents `0..agents`; agent `a`'s snapshot `s` is `body(a, s)`. Each goes
    /// round-robin over `bases` (a test puts a restarted server's new address there), so a
    /// failed send is re-sent to the next server, and pauses `pause` between snapshots.
    pub fn start(
        bases: &Arc<Mutex<Vec<String>>>,
        token: &str,
        agents: usize,
        snapshots: u64,
        pause: Duration,
        body: fn(usize, u64) -> Vec<u8>,
    ) -> Agents {
        let retries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads = (0..agents)
            .map(|agent| {
                let bases = Arc::clone(bases);
                let retries = Arc::clone(&retries);
                let token = token.to_owned();
                std::thread::spawn(move || {
                    let http = reqwest::blocking::Client::builder()
                        .timeout(Duration::from_secs(10))
                        .build()
                        .unwrap();
                    let deadline = Instant::now() + Duration::from_secs(180);
                    let mut target = agent;
                    for sequence in 1..=snapshots {
                        let body = body(agent, sequence);
                        loop {
                            assert!(
                                Instant::now() < deadline,
                                "agent {agent} stuck at {sequence}"
                            );
                            target += 1;
                            let url = {
                                let bases = bases.lock().unwrap();
                                format!("{}/api/v1/inventory", bases[target % bases.len()])
                            };
                            let sent = http.post(url).bearer_auth(&token).body(body.clone()).send();
                            if sent.is_ok_and(|r| r.status().is_success()) {
                                break;
                            }
                            retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        std::thread::sleep(pause);
                    }
                })
            })
            .collect();
        Agents { threads, retries }
    }

    /// Waits for every agent to have sent everything; returns how many re-sends it took.
    pub fn join(self) -> usize {
        for t in self.threads {
            t.join().unwrap();
        }
        self.retries.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Writes `text` as `dir/vigil.toml`; returns its path.
pub fn write_config(dir: &Path, text: impl AsRef<[u8]>) -> PathBuf {
    let config = dir.join("vigil.toml");
    std::fs::write(&config, text).unwrap();
    config
}

/// The packages of `pool` an agent's host has at `sequence`: each is there in two of every
/// three snapshots, in a phase of its own per agent and package, so packages come and go.
pub fn coming_and_going(
    pool: &[(&'static str, &'static str)],
    agent: usize,
    sequence: u64,
) -> Vec<(&'static str, &'static str)> {
    pool.iter()
        .enumerate()
        .filter(|(i, _)| !(sequence as usize + agent + i).is_multiple_of(3))
        .map(|(_, p)| *p)
        .collect()
}
