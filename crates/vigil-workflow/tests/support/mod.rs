//! Local sinks for the integration tests: an HTTP server on 127.0.0.1 that records every
//! request, and a minimal SMTP server. Nothing here talks to any other address.

#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use vigil_workflow::{
    ActionServices, Dispatcher, MemoryOutbox, Outbox, StandInFilters, SystemClock, WorkflowSet,
};

/// One request as the sink saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at: std::time::Instant,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// What the sink answers: status, body, and a delay before answering.
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn ok() -> Reply {
        Reply {
            status: 200,
            body: "ok".into(),
            delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            body: String::new(),
            delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: body.to_string(),
            delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }
}

type Responder = Box<dyn Fn(&Recorded, usize) -> Reply + Send + Sync>;

struct SinkState {
    requests: Mutex<Vec<Recorded>>,
    responder: Responder,
}

/// An HTTP sink on 127.0.0.1.
pub struct HttpSink {
    pub url: String,
    state: Arc<SinkState>,
}

async fn handle(
    State(state): State<Arc<SinkState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap, String) {
    let recorded = Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: body.to_vec(),
        at: std::time::Instant::now(),
    };
    let index = {
        let mut r = state.requests.lock().unwrap();
        r.push(recorded.clone());
        r.len() - 1
    };
    let reply = (state.responder)(&recorded, index);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut headers = HeaderMap::new();
    for (k, v) in reply.headers {
        headers.insert(k, v.parse().unwrap());
    }
    (
        StatusCode::from_u16(reply.status).unwrap(),
        headers,
        reply.body,
    )
}

impl HttpSink {
    pub async fn start(
        responder: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> HttpSink {
        let state = Arc::new(SinkState {
            requests: Mutex::new(Vec::new()),
            responder: Box::new(responder),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HttpSink {
            url: format!("http://{addr}"),
            state,
        }
    }

    pub async fn ok() -> HttpSink {
        HttpSink::start(|_, _| Reply::ok()).await
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Deliveries as a sink that honours `X-Vigil-Idempotency-Key` counts them.
    pub fn unique_deliveries(&self) -> usize {
        self.requests()
            .iter()
            .filter_map(|r| r.header("x-vigil-idempotency-key").map(str::to_owned))
            .collect::<BTreeSet<_>>()
            .len()
    }
}

/// A received mail.
#[derive(Clone, Debug, Default)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// A minimal SMTP server (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no STARTTLS).
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&mails);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read);
                    let _ = write.write_all(b"220 localhost test ESMTP\r\n").await;
                    let mut mail = Mail::default();
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                            break;
                        }
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") {
                            b"250-localhost\r\n250 8BITMIME\r\n"
                        } else if upper.starts_with("HELO")
                            || upper.starts_with("RSET")
                            || upper.starts_with("NOOP")
                        {
                            b"250 OK\r\n"
                        } else if upper.starts_with("MAIL FROM:") {
                            mail.from = line[10..].trim().to_owned();
                            b"250 OK\r\n"
                        } else if upper.starts_with("RCPT TO:") {
                            mail.to.push(line[8..].trim().to_owned());
                            b"250 OK\r\n"
                        } else if upper.starts_with("DATA") {
                            let _ = write.write_all(b"354 go ahead\r\n").await;
                            let mut data = String::new();
                            loop {
                                line.clear();
                                if lines.read_line(&mut line).await.unwrap_or(0) == 0
                                    || line == ".\r\n"
                                {
                                    break;
                                }
                                data.push_str(&line);
                            }
                            mail.data = data;
                            store.lock().unwrap().push(std::mem::take(&mut mail));
                            b"250 OK queued\r\n"
                        } else if upper.starts_with("QUIT") {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        } else {
                            b"502 not implemented\r\n"
                        };
                        let _ = write.write_all(reply).await;
                    }
                });
            }
        });
        SmtpSink { port, mails }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

/// A finding event with the fields of PRODUCT.md §5.
pub fn finding_event(id: u64, name: &str, status: &str) -> Value {
    json!({
        "timestamp": "2025-09-08T13:16:00Z",
        "event.id": format!("ev-{id}-{status}"),
        "event.type": if status == "NEW" { "VULNERABILITY_FINDING" } else { "VULNERABILITY_STATUS_CHANGE_EVENT" },
        "finding.id": id,
        "finding.status": status,
        "vulnerability.id": "MAL-2025-46974",
        "vulnerability.aliases": ["GHSA-8mgj-vmr8-frr6"],
        "vulnerability.kind": "MALICIOUS",
        "vulnerability.title": "Malicious code in debug (npm)",
        "vulnerability.references.cwe": ["CWE-506"],
        "vulnerability.risk.score": 10.0,
        "vulnerability.risk.level": "CRITICAL",
        "component.ecosystem": "npm",
        "component.name": name,
        "component.version": "4.4.2",
        "component.purl": format!("pkg:npm/{name}@4.4.2"),
        "evidence": "LOADED",
        "affected_entity.id": "host-1",
        "affected_entity.type": "HOST",
        "affected_entity.name": "pay-01",
        "host.name": "pay-01",
        "k8s.namespace.name": "payments",
        "k8s.workload.name": "checkout",
        "k8s.pod.labels": {"app": "checkout", "app.kubernetes.io/team": "payments"},
        "process.pids": [],
        "locations": ["/srv/app/node_modules/debug"],
    })
}

pub fn env(pairs: &[(&str, &str)]) -> Arc<HashMap<String, String>> {
    Arc::new(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

pub fn services(env: Arc<HashMap<String, String>>) -> ActionServices {
    ActionServices::new(env).unwrap()
}

pub fn workflows(text: &str) -> Arc<WorkflowSet> {
    match WorkflowSet::parse("test.toml", text, &StandInFilters) {
        Ok(s) => Arc::new(s),
        Err(e) => panic!("config: {e}"),
    }
}

/// Fast retries for tests.
pub const FAST_DELIVERY: &str = "[delivery]\nbackoff_base = \"20ms\"\nbackoff_cap = \"100ms\"\nlease = \"3s\"\ntask_timeout = \"2s\"\npoll_interval = \"20ms\"\n";

/// Triggers on `events`, then runs a dispatcher until nothing is due or in flight (or 10 s).
pub async fn deliver(
    set: &Arc<WorkflowSet>,
    outbox: &Arc<MemoryOutbox>,
    services: ActionServices,
    events: &[Value],
) -> Arc<Dispatcher> {
    for e in events {
        vigil_workflow::trigger(set, outbox.as_ref(), e, now_ms()).unwrap();
    }
    let dispatcher = Dispatcher::new(
        Arc::clone(set),
        outbox.clone() as Arc<dyn Outbox>,
        services,
        Arc::new(SystemClock),
        "test-worker",
    );
    drain(&dispatcher, outbox).await;
    dispatcher
}

pub async fn drain(dispatcher: &Arc<Dispatcher>, outbox: &Arc<MemoryOutbox>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        dispatcher.run_once().await.unwrap();
        let c = outbox.counts().unwrap();
        if c.pending == 0 && c.in_flight == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "outbox did not drain: {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
