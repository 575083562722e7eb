//! `vigil intel sync` against a local HTTP server on 127.0.0.1 started by the test: conditional
//! GET, 304, and failures (cut body, corrupt body, HTTP error, unreachable) that must never
//! replace good intel.

use std::io::{BufRead, BufReader, Cursor, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use vigil_core::Ecosystem;
use vigil_intel::store::IntelStore;
use vigil_intel::{Feed, FeedOutcome, SyncOptions, Syncer};
use zip::write::SimpleFileOptions;

/// What the server answers next.
#[derive(Clone)]
enum Reply {
    /// 200 with this body and ETag; 304 when the request carries the same ETag.
    Zip { body: Vec<u8>, etag: String },
    /// 200 announcing `declared` bytes, sending only the body given, then closing.
    Cut { body: Vec<u8>, declared: usize },
    /// A status line with an empty body.
    Status(u16),
}

struct Server {
    url: String,
    reply: Arc<Mutex<Reply>>,
    seen: Arc<Mutex<Vec<String>>>,
}

fn start() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!(
        "http://{}/npm/all.zip",
        listener.local_addr().expect("addr")
    );
    let reply = Arc::new(Mutex::new(Reply::Status(404)));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (r, s) = (reply.clone(), seen.clone());
    thread::spawn(move || {
        // Bounded: the tests make well under this many requests, then the process exits.
        for stream in listener.incoming().take(64) {
            let Ok(stream) = stream else { continue };
            let reply = r.lock().expect("lock").clone();
            serve(stream, reply, &s);
        }
    });
    Server { url, reply, seen }
}

fn serve(mut stream: TcpStream, reply: Reply, seen: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut if_none_match = None;
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("if-none-match:") {
            if_none_match = Some(v.trim().to_owned());
        }
        head.push_str(&line);
    }
    seen.lock().expect("lock").push(head);
    let response: Vec<u8> = match reply {
        Reply::Zip { body, etag } => {
            if if_none_match.as_deref() == Some(etag.to_ascii_lowercase().as_str()) {
                b"HTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec()
            } else {
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: {etag}\r\nLast-Modified: Wed, 26 Nov 2025 10:00:00 GMT\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                r.extend_from_slice(&body);
                r
            }
        }
        Reply::Cut { body, declared } => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
            )
            .into_bytes();
            r.extend_from_slice(&body);
            r
        }
        Reply::Status(code) => {
            format!("HTTP/1.1 {code} Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .into_bytes()
        }
    };
    let _ = stream.write_all(&response);
    let _ = stream.flush();
}

fn feed_zip(name: &str, version: &str) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("MAL-9.json", SimpleFileOptions::default())
        .expect("entry");
    let record = format!(
        r#"{{"id":"MAL-9","modified":"2025-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"npm","name":"{name}"}},"versions":["{version}"]}}]}}"#
    );
    w.write_all(record.as_bytes()).expect("write");
    w.finish().expect("finish").into_inner()
}

fn matches(store: &IntelStore, name: &str, version: &str) -> bool {
    let loaded = store.load().expect("loads");
    !loaded
        .index
        .lookup(&Ecosystem::parse("npm"), name, version)
        .is_empty()
}

#[test]
fn sync_updates_revalidates_and_never_loses_good_intel() {
    let server = start();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = IntelStore::new(dir.path());
    let syncer = Syncer::new(SyncOptions {
        use_env_proxy: false,
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(30),
        ..SyncOptions::default()
    })
    .expect("client");
    let feed = Feed {
        name: "local/npm".into(),
        url: server.url.clone(),
    };
    let set = |reply: Reply| *server.reply.lock().expect("lock") = reply;

    // 1. First sync: downloaded, validated, stored.
    let v1 = feed_zip("evil-one", "1.0.0");
    set(Reply::Zip {
        body: v1.clone(),
        etag: "\"v1\"".into(),
    });
    let outcome = syncer.sync(&store, &feed);
    let FeedOutcome::Updated(state) = outcome else {
        panic!("first sync updates: {outcome:?}");
    };
    assert_eq!(state.advisories, 1);
    assert_eq!(state.etag.as_deref(), Some("\"v1\""));
    assert!(matches(&store, "evil-one", "1.0.0"));

    // 2. Unchanged: the conditional request gets 304.
    let outcome = syncer.sync(&store, &feed);
    assert!(matches!(outcome, FeedOutcome::NotModified), "{outcome:?}");
    let last_request = server
        .seen
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .unwrap_or_default();
    assert!(
        last_request
            .to_ascii_lowercase()
            .contains("if-none-match: \"v1\""),
        "{last_request}"
    );
    assert!(
        last_request
            .to_ascii_lowercase()
            .contains("if-modified-since: wed, 26 nov 2025"),
        "{last_request}"
    );

    // 3. Failures keep v1: a cut body, a corrupt body, an HTTP error, an unreachable host.
    let v2 = feed_zip("evil-two", "2.0.0");
    let failures = [
        (
            Reply::Cut {
                body: v2[..v2.len() / 2].to_vec(),
                declared: v2.len(),
            },
            "download",
        ),
        (
            Reply::Cut {
                body: b"<html>maintenance</html>".to_vec(),
                declared: 24,
            },
            "not a usable feed",
        ),
        (Reply::Status(503), "HTTP 503"),
    ];
    for (reply, reason) in failures {
        set(reply);
        match syncer.sync(&store, &feed) {
            FeedOutcome::Failed(got) => {
                eprintln!("failed as expected: {got}");
                assert!(got.contains(reason), "{got}");
            }
            other => panic!("must fail: {other:?}"),
        }
        assert!(matches(&store, "evil-one", "1.0.0"), "v1 kept");
        assert!(!matches(&store, "evil-two", "2.0.0"));
    }
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}/all.zip", closed.local_addr().expect("addr"));
    drop(closed);
    let dead = Feed {
        name: "local/npm".into(),
        url: dead_url,
    };
    match syncer.sync(&store, &dead) {
        FeedOutcome::Failed(got) => assert!(got.contains("cannot connect"), "{got}"),
        other => panic!("must fail: {other:?}"),
    }
    assert!(matches(&store, "evil-one", "1.0.0"), "v1 kept");
    let status = store.status().expect("status");
    let row = status
        .sources
        .iter()
        .find(|s| s.name == "local/npm")
        .expect("source row");
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("cannot connect"))
    );

    // 4. A new version swaps in atomically.
    set(Reply::Zip {
        body: v2,
        etag: "\"v2\"".into(),
    });
    let outcome = syncer.sync(&store, &feed);
    assert!(matches!(outcome, FeedOutcome::Updated(_)), "{outcome:?}");
    assert!(matches(&store, "evil-two", "2.0.0"));
    assert!(!matches(&store, "evil-one", "1.0.0"), "v1 replaced");
    let leftovers = std::fs::read_dir(store.tmp_dir())
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(leftovers, 0, "no download left behind");
}
