//! Helpers for the tests that run the real `vigil serve` binary: start it on a data directory
//! and wait for its banner, call its API, kill it, and a local webhook sink that holds each
//! request (a slow receiver) so a test can kill the server mid-delivery.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn vigil() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("vigil"))
}

/// A running `vigil serve`, killed and reaped when dropped (panics included).
pub struct Serve {
    child: Option<Child>,
    pub base: String,
    /// The admin token, printed on the first start of a data directory only.
    pub token: Option<String>,
}

impl Serve {
    /// Starts `vigil serve` on `data` with `config` and an ephemeral port; returns once the
    /// banner says where the API is.
    pub fn start(data: &Path, config: &Path) -> Serve {
        let mut child = vigil()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .arg("--config")
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let (mut base, mut token) = (None, None);
        // The banner ends with the curl line.
        for line in lines.by_ref() {
            let line = line.unwrap();
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
        Serve {
            child: Some(child),
            base: base.expect("vigil serve printed no api line"),
            token,
        }
    }

    /// SIGKILL: no shutdown path runs.
    pub fn sigkill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            let _ = child.wait();
        }
    }
}

impl Drop for Serve {
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

    pub fn post(&self, path: &str, body: &Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        let status = r.status();
        let v: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
        assert!(status.is_success(), "POST {path}: {status} {v}");
        v
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
