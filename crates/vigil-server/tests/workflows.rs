//! The running dispatcher delivers what detection enqueues: a snapshot with a malicious package
//! → finding → event → outbox → webhook, with the ownership task's result folded into the
//! event the webhook sees, once per finding.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use vigil_server::config::Config;
use vigil_server::service::{self, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finding_reaches_the_webhook_about_a_second_or_less_after_its_snapshot() {
    // The sink.
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Value)>();
    let sink = axum::Router::new().route(
        "/hook",
        post(move |body: axum::body::Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((Instant::now(), serde_json::from_slice(&body).unwrap()));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, sink).await });

    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse(
        "test.toml",
        &format!(
            r#"
[[workflows]]
name = "malicious-package"
filter = 'event.type == "VULNERABILITY_FINDING" and in("CWE-506", vulnerability.references.cwe) and finding.status == "NEW"'
tasks = [
  {{ action = "ownership" }},
  {{ action = "webhook", url = "http://{sink_addr}/hook" }},
]
[[owners]]
team = "payments"
match = 'startsWith(host.name, "pay-")'
"#
        ),
    )
    .unwrap();
    let service = service::start(Options {
        data_dir: dir.path().join("data"),
        config,
        listen: Some("127.0.0.1:0".into()),
        local_agent: None,
        log: Arc::new(|_| {}),
    })
    .await
    .unwrap();
    let token = service.admin_token.clone().unwrap();
    let http = reqwest::Client::new();
    let snapshot = |sequence: u64| {
        json!({
            "host": {"name": "pay-api-1"}, "sequence": sequence, "kind": "full",
            "instances": [{"ecosystem": "npm", "name": "chalk", "version": "5.6.1",
                           "path": "/srv/node_modules/chalk", "evidence": "LOADED", "pids": [4242]}]
        })
        .to_string()
    };
    let sent = Instant::now();
    let r = http
        .post(format!("http://{}/api/v1/inventory", service.listen))
        .bearer_auth(&token)
        .body(snapshot(1))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let (at, body) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("webhook not delivered within 5 s")
        .unwrap();
    let latency = at.duration_since(sent);
    eprintln!(
        "FIGURE snapshot sent → webhook delivered: {} ms",
        latency.as_millis()
    );
    assert!(latency < Duration::from_millis(1500), "{latency:?}");
    assert_eq!(body["event"]["component.name"], "chalk");
    assert_eq!(body["event"]["owner.team"], "payments");
    assert_eq!(body["event"]["process.pids"], json!([4242]));
    assert_eq!(body["workflow"], "malicious-package");

    // The same finding seen again notifies nobody twice.
    for sequence in 2..4 {
        http.post(format!("http://{}/api/v1/inventory", service.listen))
            .bearer_auth(&token)
            .body(snapshot(sequence))
            .send()
            .await
            .unwrap();
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(800), rx.recv())
            .await
            .is_err(),
        "delivered twice"
    );
    let counts = service.detector.store().outbox_counts().unwrap();
    assert_eq!((counts.delivered, counts.pending, counts.dead), (2, 0, 0));
    service.shutdown();
    service.wait().await;
}
