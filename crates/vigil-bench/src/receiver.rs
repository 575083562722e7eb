//! The webhook sink inside vigil-bench: a 127.0.0.1 HTTP server the server's workflow posts to.
//! It stamps each delivery's arrival with this process's monotonic clock, the same clock the
//! requests that caused them were timed with, so "posted → webhook received" is exact.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Result;
use axum::routing::post;
use serde_json::Value;

/// (host, component name, component version): what a finding notification is about.
pub type Key = (String, String, String);

#[derive(Default)]
struct Seen {
    first: HashMap<Key, Instant>,
    total: usize,
}

/// A running sink.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    /// Listens on `listen` (`127.0.0.1:0` for any free port).
    pub fn start(listen: &str) -> Result<Receiver> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let sink = seen.clone();
        let app = axum::Router::new().route(
            "/hook",
            post(move |body: axum::body::Bytes| {
                let at = Instant::now();
                let sink = sink.clone();
                async move {
                    let event = serde_json::from_slice::<Value>(&body)
                        .ok()
                        .and_then(|v| v.get("event").cloned())
                        .unwrap_or(Value::Null);
                    let field = |k: &str| {
                        event
                            .get(k)
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned()
                    };
                    let key = (
                        field("host.name"),
                        field("component.name"),
                        field("component.version"),
                    );
                    let mut seen = sink.lock().unwrap_or_else(PoisonError::into_inner);
                    seen.total += 1;
                    seen.first.entry(key).or_insert(at);
                    "ok"
                }
            }),
        );
        let listener = runtime.block_on(tokio::net::TcpListener::bind(listen))?;
        let addr = listener.local_addr()?;
        runtime.spawn(async move { axum::serve(listener, app).await });
        Ok(Receiver {
            addr,
            seen,
            _runtime: runtime,
        })
    }

    /// Deliveries received so far.
    pub fn total(&self) -> usize {
        self.lock().total
    }

    /// When the first delivery about `key` arrived.
    pub fn arrival(&self, key: &Key) -> Option<Instant> {
        self.lock().first.get(key).copied()
    }

    /// Waits until `keys` have all arrived or `timeout` passes; returns how many are missing.
    pub fn wait_for(&self, keys: &[Key], timeout: Duration) -> usize {
        let started = Instant::now();
        loop {
            let missing = {
                let seen = self.lock();
                keys.iter().filter(|k| !seen.first.contains_key(*k)).count()
            };
            if missing == 0 || started.elapsed() > timeout {
                return missing;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until at least `count` deliveries arrived, or `timeout` passes.
    pub fn wait_total(&self, count: usize, timeout: Duration) -> usize {
        let started = Instant::now();
        while self.total() < count && started.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.total()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
